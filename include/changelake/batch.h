/*
 * changelake/batch.h — column batches laid out like Apache Arrow.
 *
 * A cl_column holds `length` values of one type:
 *   validity  bitmap, bit i set = value i is present; NULL means "no nulls"
 *             (only when null_count == 0)
 *   values    fixed-width values (see schema.h), or the bool bitmap
 *   offsets   CL_STRING / CL_BINARY: length + 1 int64 offsets into `data`
 *   data      CL_STRING / CL_BINARY bytes
 * Buffers are owned by the column and grown by the builder functions below.
 * A cl_batch is `ncols` columns of `nrows` rows each; it owns its columns.
 * Column names live in the cl_schema that comes with the batch's source.
 *
 * Invariants: offsets[0] == 0, offsets non-decreasing, offsets[length] is
 * the used size of data; null_count == number of cleared validity bits;
 * a null slot of a fixed-width column holds zero bytes, of a string column
 * an empty range.
 */
#ifndef CHANGELAKE_BATCH_H
#define CHANGELAKE_BATCH_H

#include "schema.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cl_column {
	cl_type type;
	int64_t length;
	int64_t null_count;
	uint8_t *validity;
	uint8_t *values;
	int64_t *offsets;
	uint8_t *data;
	/* builder state: capacities in values and in data bytes */
	int64_t cap;
	int64_t validity_cap; /* bytes allocated for validity */
	int64_t data_cap;
} cl_column;

typedef struct cl_batch {
	int64_t nrows;
	int ncols;
	cl_column *cols;
} cl_batch;

static inline bool cl_bit_get(const uint8_t *bits, int64_t i)
{
	return (bits[i >> 3] >> (i & 7)) & 1;
}
static inline void cl_bit_set(uint8_t *bits, int64_t i, bool v)
{
	if (v)
		bits[i >> 3] |= (uint8_t)(1u << (i & 7));
	else
		bits[i >> 3] &= (uint8_t)~(1u << (i & 7));
}

static inline bool cl_column_is_null(const cl_column *c, int64_t i)
{
	return c->validity != NULL && !cl_bit_get(c->validity, i);
}
static inline bool cl_column_get_bool(const cl_column *c, int64_t i)
{
	return cl_bit_get(c->values, i);
}
/* Borrowed view of string/binary value i (valid until the column changes;
 * an empty value of a column without a data buffer yet is "", never
 * NULL + 0). */
static inline const uint8_t *cl_column_get_bytes(const cl_column *c, int64_t i,
						 size_t *len)
{
	*len = (size_t)(c->offsets[i + 1] - c->offsets[i]);
	return c->data ? c->data + c->offsets[i] : (const uint8_t *)"";
}

/* Initialise an empty column of type t with room for cap_hint values. */
int cl_column_init(cl_column *c, cl_type t, int64_t cap_hint, cl_error *err);
/* Free the column's buffers; the struct itself is the caller's. */
void cl_column_release(cl_column *c);
/*
 * Move src's buffers into dst (nanoarrow-style move): dst's own buffers are
 * released first, then dst holds src's values and buffers, and src becomes
 * an empty column of the same type, ready to be filled again. Nothing is
 * copied. Fails (CL_ENOMEM, both columns unchanged) only when the empty
 * column cannot be set up.
 */
int cl_column_move(cl_column *dst, cl_column *src, cl_error *err);
/* Drop all values but keep the buffers (for reuse across batches). */
void cl_column_clear(cl_column *c);
/* Make room for n more values (and, for var types, nbytes more data). */
int cl_column_reserve(cl_column *c, int64_t n, cl_error *err);
int cl_column_reserve_data(cl_column *c, int64_t nbytes, cl_error *err);
/* Allocate the validity bitmap (all valid so far); no-op if present. */
int cl_column_ensure_validity(cl_column *c, cl_error *err);

/*
 * Builders. Each appends one value, growing buffers as needed. The typed
 * appenders must match the column's type width: append_fixed copies
 * cl_type_width(type) bytes from `v`.
 */
int cl_column_append_null(cl_column *c, cl_error *err);
int cl_column_append_bool(cl_column *c, bool v, cl_error *err);
int cl_column_append_fixed(cl_column *c, const void *v, cl_error *err);
int cl_column_append_i64(cl_column *c, int64_t v, cl_error *err); /* any int/date/time/timestamp type, narrowing */
int cl_column_append_f64(cl_column *c, double v, cl_error *err);  /* float32/float64 */
int cl_column_append_bytes(cl_column *c, const void *p, size_t n,
			   cl_error *err);
/* Append value `row` of src (same type) to dst. */
int cl_column_append_from(cl_column *dst, const cl_column *src, int64_t row,
			  cl_error *err);
/*
 * Append values [from, from + n) of src (same type) to dst in bulk: the
 * values, validity and string bytes are copied as ranges. The caller
 * checks from + n <= src->length.
 */
int cl_column_append_range(cl_column *dst, const cl_column *src, int64_t from,
			   int64_t n, cl_error *err);
/* Append values idx[0..n) of src (same type) to dst, in that order; the
 * caller checks every idx[i] < src->length. */
int cl_column_append_take(cl_column *dst, const cl_column *src, const int64_t *idx, int64_t n,
			  cl_error *err);
/* Signed integer value of an int/date/time/timestamp column as int64. */
int64_t cl_column_get_i64(const cl_column *c, int64_t i);
/* Value of a float32/float64 column as double. */
double cl_column_get_f64(const cl_column *c, int64_t i);

/*
 * Text of value `row` of c, spelled as the CSV writer spells it (see
 * src/core/value_text.h): *text is owned by the caller (cl_free) and
 * NUL-terminated, *len its length. A NULL value gives *text = NULL.
 */
int cl_value_text(const cl_column *c, int64_t row, char **text, size_t *len,
		  cl_error *err);

/*
 * Order of value ia of a and value ib of b (same type id): negative, 0 or
 * positive. NULL sorts first, NaN last among floats; strings and binary
 * compare byte-wise (unsigned), uint64 unsigned, decimals by unscaled value
 * (both sides must have the same scale).
 */
int cl_value_compare(const cl_column *a, int64_t ia, const cl_column *b,
		     int64_t ib);

/* New batch of empty columns typed after schema; owned, cl_batch_free. */
int cl_batch_create(cl_batch **out, const cl_schema *schema, int64_t cap_hint,
		    cl_error *err);
void cl_batch_free(cl_batch *b);
/* Empty every column (keeping buffers). */
void cl_batch_clear(cl_batch *b);
/* Check the invariants above; CL_EINTERNAL with a message on violation. */
int cl_batch_validate(const cl_batch *b, cl_error *err);

#ifdef __cplusplus
}
#endif
#endif
