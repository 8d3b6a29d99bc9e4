/*
 * thrift_read.h — Thrift compact protocol decoder (internal).
 *
 * A cursor over a byte range that treats every byte as hostile: each read
 * checks the bytes left, varints are at most 10 bytes, lengths and counts
 * are checked against the bytes left before anything is allocated, nesting
 * is limited to CL__THRIFT_MAX_DEPTH. The first error sticks: it is
 * recorded in the cursor (code + message, without the file name, which the
 * caller prefixes) and every later read returns 0 values, so decoders can
 * read a whole struct and check `t->err` once per field loop.
 */
#ifndef CL_FORMAT_THRIFT_READ_H
#define CL_FORMAT_THRIFT_READ_H

#include "changelake/common.h"

#define CL__THRIFT_MAX_DEPTH 64

typedef struct cl__thrift_in {
	const uint8_t *p;   /* next byte */
	const uint8_t *end; /* one past the last byte */
	const uint8_t *start;
	int depth;
	int err;            /* 0 or the first CL_E* code */
	cl_error *error;    /* where the first message goes (may be NULL) */
	/* field-header state of the innermost struct */
	int16_t last_fid;
	int16_t fid_stack[CL__THRIFT_MAX_DEPTH];
	uint8_t pending_bool; /* 1 true, 2 false: a bool field's value */
} cl__thrift_in;

void cl__thrift_init(cl__thrift_in *t, const uint8_t *p, size_t n, cl_error *err);
/* Record a format error (first one wins); returns CL_EFORMAT. */
int cl__thrift_fail(cl__thrift_in *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Offset of the cursor from the start. */
static inline size_t cl__thrift_pos(const cl__thrift_in *t)
{
	return (size_t)(t->p - t->start);
}

/* Enter / leave a struct (saves the last field id; checks depth). */
int cl__thrift_struct_begin(cl__thrift_in *t);
void cl__thrift_struct_end(cl__thrift_in *t);
/*
 * Next field header of the current struct: *type = TC_* (TC_STOP at the
 * end), *fid = field id. Returns false at STOP or on error.
 */
bool cl__thrift_field(cl__thrift_in *t, int *type, int16_t *fid);

uint64_t cl__thrift_varint(cl__thrift_in *t);
int64_t cl__thrift_i64(cl__thrift_in *t);
int32_t cl__thrift_i32(cl__thrift_in *t); /* also i16 and byte-as-i32 */
double cl__thrift_double(cl__thrift_in *t);
/* A bool value: of a bool field (type TC_TRUE/TC_FALSE), or a list element. */
bool cl__thrift_bool(cl__thrift_in *t, int type);
/* Binary/string: a view into the input; *n its length. */
const uint8_t *cl__thrift_binary(cl__thrift_in *t, size_t *n);
/*
 * List/set header: element type and count. The count is checked against the
 * bytes left (each element takes at least one byte, except bools packed as
 * list elements also take one); returns -1 on error.
 */
int64_t cl__thrift_list(cl__thrift_in *t, int *elem_type);
/* Skip one value of `type` (recursing into structs, lists, maps). */
void cl__thrift_skip(cl__thrift_in *t, int type);

/* Read a field value as an integer when its type is an integer type, or
 * fail naming `what`. */
int64_t cl__thrift_int_field(cl__thrift_in *t, int type, const char *what);

#endif
