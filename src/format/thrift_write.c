/*
 * thrift_write.c — Thrift compact protocol encoder; see thrift_write.h.
 *
 * Wire format (Thrift's compact protocol specification):
 *   field header  (delta << 4) | type when 0 < delta <= 15, else the type
 *                 byte followed by the field id as a zigzag varint
 *   bool field    the value is the header's type: 1 true, 2 false
 *   i8            one byte
 *   i16/i32/i64   zigzag varint
 *   binary        varint length, then the bytes
 *   list          (size << 4) | elem_type when size < 15, else
 *                 0xF0 | elem_type followed by the size as a varint
 *   struct        its fields, then a STOP byte (0)
 */
#include "thrift_write.h"

#include "parquet_format.h"

static void put(cl__tw *t, const void *p, size_t n)
{
	if (t->rc)
		return;
	if (cl_buf_append(t->out, p, n))
		t->rc = CL_ENOMEM;
}

static void put_byte(cl__tw *t, uint8_t b)
{
	if (t->rc)
		return;
	cl_buf *o = t->out;
	if (o->len + 2 > o->cap && cl_buf_reserve(o, 1)) {
		t->rc = CL_ENOMEM;
		return;
	}
	o->data[o->len++] = b;
	o->data[o->len] = 0;
}

void cl__tw_varint(cl__tw *t, uint64_t v)
{
	uint8_t tmp[10];
	size_t n = 0;
	while (v >= 0x80) {
		tmp[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	tmp[n++] = (uint8_t)v;
	put(t, tmp, n);
}

static void field(cl__tw *t, int type, int16_t id)
{
	if (t->rc)
		return;
	if (t->depth < 1) {
		t->rc = CL_EINTERNAL;
		return;
	}
	int16_t *last = &t->last[t->depth - 1];
	int delta = id - *last;
	if (delta > 0 && delta <= 15) {
		put_byte(t, (uint8_t)(delta << 4 | type));
	} else {
		put_byte(t, (uint8_t)type);
		cl__tw_varint(t, cl__zigzag64(id));
	}
	*last = id;
}

static void push(cl__tw *t)
{
	if (t->rc)
		return;
	if (t->depth >= CL__TW_MAX_DEPTH) {
		t->rc = CL_EINTERNAL;
		return;
	}
	t->last[t->depth++] = 0;
}

void cl__tw_init(cl__tw *t, cl_buf *out)
{
	t->out = out;
	t->rc = 0;
	t->depth = 0;
	push(t);
}

int cl__tw_finish(cl__tw *t)
{
	if (!t->rc && t->depth != 1)
		t->rc = CL_EINTERNAL;
	cl__tw_struct_end(t);
	return t->rc;
}

void cl__tw_i8(cl__tw *t, int16_t id, int8_t v)
{
	field(t, TC_BYTE, id);
	put_byte(t, (uint8_t)v);
}

void cl__tw_i16(cl__tw *t, int16_t id, int16_t v)
{
	field(t, TC_I16, id);
	cl__tw_varint(t, cl__zigzag64(v));
}

void cl__tw_i32(cl__tw *t, int16_t id, int32_t v)
{
	field(t, TC_I32, id);
	cl__tw_varint(t, cl__zigzag64(v));
}

void cl__tw_i64(cl__tw *t, int16_t id, int64_t v)
{
	field(t, TC_I64, id);
	cl__tw_varint(t, cl__zigzag64(v));
}

void cl__tw_bool(cl__tw *t, int16_t id, bool v)
{
	field(t, v ? TC_TRUE : TC_FALSE, id);
}

void cl__tw_binary(cl__tw *t, int16_t id, const void *p, size_t n)
{
	field(t, TC_BINARY, id);
	cl__tw_elem_binary(t, p, n);
}

void cl__tw_string(cl__tw *t, int16_t id, const char *s)
{
	cl__tw_binary(t, id, s, strlen(s));
}

void cl__tw_struct_begin(cl__tw *t, int16_t id)
{
	field(t, TC_STRUCT, id);
	push(t);
}

void cl__tw_struct_end(cl__tw *t)
{
	if (t->rc)
		return;
	if (t->depth < 1) {
		t->rc = CL_EINTERNAL;
		return;
	}
	put_byte(t, TC_STOP);
	t->depth--;
}

void cl__tw_empty_struct(cl__tw *t, int16_t id)
{
	cl__tw_struct_begin(t, id);
	cl__tw_struct_end(t);
}

void cl__tw_list_begin(cl__tw *t, int16_t id, int elem_type, int64_t n)
{
	field(t, TC_LIST, id);
	if (n < 15) {
		put_byte(t, (uint8_t)(n << 4 | elem_type));
	} else {
		put_byte(t, (uint8_t)(0xF0 | elem_type));
		cl__tw_varint(t, (uint64_t)n);
	}
}

void cl__tw_elem_i32(cl__tw *t, int32_t v)
{
	cl__tw_varint(t, cl__zigzag64(v));
}

void cl__tw_elem_binary(cl__tw *t, const void *p, size_t n)
{
	cl__tw_varint(t, n);
	put(t, p, n);
}

void cl__tw_elem_string(cl__tw *t, const char *s)
{
	cl__tw_elem_binary(t, s, strlen(s));
}

void cl__tw_elem_struct_begin(cl__tw *t)
{
	push(t);
}

void cl__tw_raw(cl__tw *t, const void *p, size_t n)
{
	put(t, p, n);
}
