/*
 * thrift_read.c — Thrift compact protocol decoder (see thrift_read.h).
 *
 * Compact protocol, as parquet-format uses it: field headers are one byte
 * (id delta << 4 | type) or a zero delta followed by a zigzag i16 id;
 * integers are zigzag varints; binary is a varint length then bytes; list
 * headers are (size << 4 | elem type) with size 15 meaning "varint size
 * follows"; bool fields carry their value in the header's type nibble.
 */
#include "thrift_read.h"
#include "parquet_format.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void cl__thrift_init(cl__thrift_in *t, const uint8_t *p, size_t n, cl_error *err)
{
	memset(t, 0, sizeof *t);
	t->p = t->start = p;
	t->end = p + n;
	t->error = err;
}

int cl__thrift_fail(cl__thrift_in *t, const char *fmt, ...)
{
	if (t->err)
		return t->err;
	t->err = CL_EFORMAT;
	char msg[CL_ERROR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	cl_error_set(t->error, CL_EFORMAT, "%s (thrift byte %zu)", msg,
		     cl__thrift_pos(t));
	t->p = t->end;
	return CL_EFORMAT;
}

static inline int need(cl__thrift_in *t, size_t n)
{
	if (t->err)
		return -1;
	if ((size_t)(t->end - t->p) < n) {
		cl__thrift_fail(t, "truncated metadata: %zu bytes needed, %zu left", n,
				(size_t)(t->end - t->p));
		return -1;
	}
	return 0;
}

uint64_t cl__thrift_varint(cl__thrift_in *t)
{
	uint64_t v = 0;
	for (int shift = 0; shift < 70; shift += 7) {
		if (need(t, 1))
			return 0;
		uint8_t b = *t->p++;
		if (shift == 63 && (b & 0x7e)) {
			cl__thrift_fail(t, "varint overflows 64 bits");
			return 0;
		}
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return v;
	}
	cl__thrift_fail(t, "varint longer than 10 bytes");
	return 0;
}

int64_t cl__thrift_i64(cl__thrift_in *t)
{
	uint64_t u = cl__thrift_varint(t);
	return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

int32_t cl__thrift_i32(cl__thrift_in *t)
{
	int64_t v = cl__thrift_i64(t);
	if (v < INT32_MIN || v > INT32_MAX) {
		cl__thrift_fail(t, "i32 value %lld out of range", (long long)v);
		return 0;
	}
	return (int32_t)v;
}

double cl__thrift_double(cl__thrift_in *t)
{
	double d = 0;
	if (need(t, 8))
		return 0;
	memcpy(&d, t->p, 8); /* little-endian hosts only (x86-64, arm64) */
	t->p += 8;
	return d;
}

bool cl__thrift_bool(cl__thrift_in *t, int type)
{
	if (type == TC_TRUE || type == TC_FALSE) {
		if (t->pending_bool) {
			bool v = t->pending_bool == 1;
			t->pending_bool = 0;
			return v;
		}
	}
	/* a list element: one byte, 1 = true */
	if (need(t, 1))
		return false;
	return *t->p++ == 1;
}

const uint8_t *cl__thrift_binary(cl__thrift_in *t, size_t *n)
{
	*n = 0;
	uint64_t len = cl__thrift_varint(t);
	if (t->err)
		return NULL;
	if (len > (uint64_t)(t->end - t->p)) {
		cl__thrift_fail(t, "binary length %llu exceeds the %zu bytes left",
				(unsigned long long)len, (size_t)(t->end - t->p));
		return NULL;
	}
	const uint8_t *p = t->p;
	t->p += len;
	*n = (size_t)len;
	return p;
}

int64_t cl__thrift_list(cl__thrift_in *t, int *elem_type)
{
	*elem_type = 0;
	if (need(t, 1))
		return -1;
	uint8_t h = *t->p++;
	uint64_t n = h >> 4;
	*elem_type = h & 0x0f;
	if (n == 15)
		n = cl__thrift_varint(t);
	if (t->err)
		return -1;
	if (*elem_type < TC_TRUE || *elem_type > TC_STRUCT) {
		if (n == 0)
			return 0;
		cl__thrift_fail(t, "list element type %d is not valid", *elem_type);
		return -1;
	}
	/* every element takes at least one byte */
	if (n > (uint64_t)(t->end - t->p)) {
		cl__thrift_fail(t, "list of %llu elements in %zu bytes",
				(unsigned long long)n, (size_t)(t->end - t->p));
		return -1;
	}
	return (int64_t)n;
}

int cl__thrift_struct_begin(cl__thrift_in *t)
{
	if (t->err)
		return t->err;
	if (t->depth >= CL__THRIFT_MAX_DEPTH)
		return cl__thrift_fail(t, "metadata nested deeper than %d levels",
				       CL__THRIFT_MAX_DEPTH);
	t->fid_stack[t->depth++] = t->last_fid;
	t->last_fid = 0;
	return 0;
}

void cl__thrift_struct_end(cl__thrift_in *t)
{
	if (t->depth > 0)
		t->last_fid = t->fid_stack[--t->depth];
}

bool cl__thrift_field(cl__thrift_in *t, int *type, int16_t *fid)
{
	*type = TC_STOP;
	*fid = 0;
	if (need(t, 1))
		return false;
	uint8_t h = *t->p++;
	if (h == 0)
		return false;
	int ty = h & 0x0f;
	int delta = h >> 4;
	int32_t id;
	if (delta)
		id = t->last_fid + delta;
	else
		id = cl__thrift_i32(t);
	if (t->err)
		return false;
	if (id < INT16_MIN || id > INT16_MAX) {
		cl__thrift_fail(t, "field id %d out of range", (int)id);
		return false;
	}
	if (ty < TC_TRUE || ty > TC_STRUCT) {
		cl__thrift_fail(t, "field %d has invalid type %d", (int)id, ty);
		return false;
	}
	t->last_fid = (int16_t)id;
	t->pending_bool = ty == TC_TRUE ? 1 : ty == TC_FALSE ? 2 : 0;
	*type = ty;
	*fid = (int16_t)id;
	return true;
}

void cl__thrift_skip(cl__thrift_in *t, int type)
{
	size_t n;
	int et, ft;
	int16_t fid;
	if (t->err)
		return;
	switch (type) {
	case TC_TRUE:
	case TC_FALSE:
		if (t->pending_bool)
			t->pending_bool = 0;
		else
			(void)cl__thrift_bool(t, type);
		break;
	case TC_BYTE:
		if (!need(t, 1))
			t->p++;
		break;
	case TC_I16:
	case TC_I32:
	case TC_I64:
		(void)cl__thrift_varint(t);
		break;
	case TC_DOUBLE:
		(void)cl__thrift_double(t);
		break;
	case TC_BINARY:
		(void)cl__thrift_binary(t, &n);
		break;
	case TC_LIST:
	case TC_SET: {
		int64_t cnt = cl__thrift_list(t, &et);
		if (cl__thrift_struct_begin(t))
			return;
		for (int64_t i = 0; i < cnt && !t->err; i++)
			cl__thrift_skip(t, et == TC_FALSE ? TC_TRUE : et);
		cl__thrift_struct_end(t);
		break;
	}
	case TC_MAP: {
		uint64_t cnt = cl__thrift_varint(t);
		if (t->err || cnt == 0)
			break;
		if (need(t, 1))
			break;
		uint8_t kv = *t->p++;
		if (cnt > (uint64_t)(t->end - t->p)) {
			cl__thrift_fail(t, "map of %llu entries in %zu bytes",
					(unsigned long long)cnt, (size_t)(t->end - t->p));
			break;
		}
		int kt = kv >> 4, vt = kv & 0x0f;
		if (kt < TC_TRUE || kt > TC_STRUCT || vt < TC_TRUE || vt > TC_STRUCT) {
			cl__thrift_fail(t, "map has invalid key/value types");
			break;
		}
		if (cl__thrift_struct_begin(t))
			return;
		for (uint64_t i = 0; i < cnt && !t->err; i++) {
			cl__thrift_skip(t, kt);
			cl__thrift_skip(t, vt);
		}
		cl__thrift_struct_end(t);
		break;
	}
	case TC_STRUCT:
		if (cl__thrift_struct_begin(t))
			return;
		while (cl__thrift_field(t, &ft, &fid))
			cl__thrift_skip(t, ft);
		cl__thrift_struct_end(t);
		break;
	default:
		cl__thrift_fail(t, "cannot skip a value of type %d", type);
	}
}

int64_t cl__thrift_int_field(cl__thrift_in *t, int type, const char *what)
{
	switch (type) {
	case TC_BYTE:
		if (need(t, 1))
			return 0;
		return (int8_t)*t->p++;
	case TC_I16:
	case TC_I32:
		return cl__thrift_i32(t);
	case TC_I64:
		return cl__thrift_i64(t);
	default:
		cl__thrift_skip(t, type);
		cl__thrift_fail(t, "%s has type %d, not an integer", what, type);
		return 0;
	}
}
