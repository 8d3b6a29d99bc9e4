/*
 * thrift_write.h — Thrift compact protocol encoder (internal, writer side).
 *
 * Just enough of the compact protocol to write Parquet's footer and page
 * headers: structs, lists, i8/i16/i32/i64 (zigzag varints), bools and
 * binary. Output is appended to a cl_buf.
 *
 * Field headers carry the delta from the previous field id of the same
 * struct when it is 1..15, so the encoder keeps a stack of "last field id"
 * per open struct. Structs must be written with increasing field ids (as
 * every Thrift encoder does); the encoder does not reorder.
 *
 * Errors are sticky: the first failure (out of memory, nesting deeper than
 * CL__TW_MAX_DEPTH, a struct closed that was never opened) is kept in
 * t->rc and every later call is a no-op, so a caller writes a whole message
 * and checks t->rc once at the end.
 */
#ifndef CL_FORMAT_THRIFT_WRITE_H
#define CL_FORMAT_THRIFT_WRITE_H

#include "core/buf.h"

#define CL__TW_MAX_DEPTH 16

typedef struct cl__tw {
	cl_buf *out;
	int rc;                           /* 0, CL_ENOMEM or CL_EINTERNAL */
	int depth;                        /* open structs (the outermost is 1) */
	int16_t last[CL__TW_MAX_DEPTH];   /* last field id per open struct */
} cl__tw;

/* Start a message in `out` (appended to); opens the outermost struct. */
void cl__tw_init(cl__tw *t, cl_buf *out);
/* Close the outermost struct (writes its STOP); returns t->rc. */
int cl__tw_finish(cl__tw *t);

/* Fields of the current struct. */
void cl__tw_i8(cl__tw *t, int16_t id, int8_t v);
void cl__tw_i16(cl__tw *t, int16_t id, int16_t v);
void cl__tw_i32(cl__tw *t, int16_t id, int32_t v);
void cl__tw_i64(cl__tw *t, int16_t id, int64_t v);
void cl__tw_bool(cl__tw *t, int16_t id, bool v);
void cl__tw_binary(cl__tw *t, int16_t id, const void *p, size_t n);
void cl__tw_string(cl__tw *t, int16_t id, const char *s);
/* A struct-valued field: fields follow, then cl__tw_struct_end. */
void cl__tw_struct_begin(cl__tw *t, int16_t id);
void cl__tw_struct_end(cl__tw *t);
/* An empty struct (a union member without fields, e.g. StringType). */
void cl__tw_empty_struct(cl__tw *t, int16_t id);
/*
 * A list-valued field of n elements of compact type elem_type (TC_I32,
 * TC_BINARY, TC_STRUCT, ...); then write exactly n elements below.
 */
void cl__tw_list_begin(cl__tw *t, int16_t id, int elem_type, int64_t n);

/* List elements. */
void cl__tw_elem_i32(cl__tw *t, int32_t v);
void cl__tw_elem_binary(cl__tw *t, const void *p, size_t n);
void cl__tw_elem_string(cl__tw *t, const char *s);
/* A struct element: fields follow, then cl__tw_struct_end. */
void cl__tw_elem_struct_begin(cl__tw *t);
/* Raw bytes (e.g. list elements encoded earlier by another cl__tw). */
void cl__tw_raw(cl__tw *t, const void *p, size_t n);

/* Low-level varint helpers, also used by tests. */
void cl__tw_varint(cl__tw *t, uint64_t v);
static inline uint64_t cl__zigzag64(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

#endif
