/* batch.c — Arrow-like columns and batches, and their builders. */
#include "changelake/batch.h"
#include "core/column.h"
#include "core/buf.h"

#include <string.h>

static int oom(cl_error *err)
{
	return cl_error_set(err, CL_ENOMEM, "out of memory");
}

int cl_column_init(cl_column *c, cl_type t, int64_t cap_hint, cl_error *err)
{
	memset(c, 0, sizeof *c);
	c->type = t;
	if (cl_type_is_var(t)) {
		c->offsets = cl_calloc(1, sizeof(int64_t));
		if (!c->offsets)
			return oom(err);
	}
	if (cap_hint > 0)
		return cl_column_reserve(c, cap_hint, err);
	return 0;
}

void cl_column_release(cl_column *c)
{
	if (!c)
		return;
	cl_free(c->validity);
	cl_free(c->values);
	cl_free(c->offsets);
	cl_free(c->data);
	memset(c, 0, sizeof *c);
}

void cl_column_clear(cl_column *c)
{
	c->length = 0;
	c->null_count = 0;
	if (c->offsets)
		c->offsets[0] = 0;
	/* The validity bitmap is kept but marks "no nulls" again. */
	if (c->validity) {
		cl_free(c->validity);
		c->validity = NULL;
		c->validity_cap = 0;
	}
}

int cl_column_move(cl_column *dst, cl_column *src, cl_error *err)
{
	cl_column fresh;
	int rc = cl_column_init(&fresh, src->type, 0, err);
	if (rc)
		return rc;
	if (dst != src) {
		cl_column_release(dst);
		*dst = *src;
		*src = fresh;
	} else {
		cl_column_release(&fresh);
	}
	return 0;
}

static int64_t grow(int64_t cap, int64_t need)
{
	int64_t n = cap ? cap : 16;
	while (n < need)
		n *= 2;
	return n;
}

/* cl_column_reserve; with zero false the new values of a fixed-width
 * (not boolean) column are left as they are (for a caller that writes
 * every row it appends: cl__column_reserve_nozero). */
static int reserve(cl_column *c, int64_t n, bool zero, cl_error *err)
{
	int64_t need = c->length + n;
	if (need <= c->cap)
		return 0;
	if (need > ((int64_t)1 << 40))
		return cl_error_set(err, CL_ENOMEM, "column too large");
	int64_t cap = grow(c->cap, need);
	int w = cl_type_width(c->type);
	size_t vbytes = c->type.id == CL_BOOL ? (size_t)(cap + 7) / 8
			: cl_type_is_var(c->type) ? 0 : (size_t)cap * (size_t)w;
	if (vbytes) {
		uint8_t *v = cl_realloc(c->values, vbytes);
		if (!v)
			return oom(err);
		size_t old = c->type.id == CL_BOOL ? (size_t)(c->cap + 7) / 8
						   : (size_t)c->cap * (size_t)w;
		if (zero || c->type.id == CL_BOOL)
			memset(v + old, 0, vbytes - old);
		c->values = v;
	}
	if (cl_type_is_var(c->type)) {
		int64_t *o = cl_realloc(c->offsets, (size_t)(cap + 1) * sizeof *o);
		if (!o)
			return oom(err);
		c->offsets = o;
	}
	if (c->validity) {
		size_t nb = (size_t)(cap + 7) / 8;
		if ((int64_t)nb > c->validity_cap) {
			uint8_t *v = cl_realloc(c->validity, nb);
			if (!v)
				return oom(err);
			memset(v + c->validity_cap, 0xff, nb - (size_t)c->validity_cap);
			c->validity = v;
			c->validity_cap = (int64_t)nb;
		}
	}
	c->cap = cap;
	return 0;
}

int cl_column_reserve(cl_column *c, int64_t n, cl_error *err)
{
	return reserve(c, n, true, err);
}

/*
 * Room for n more rows, the new values of a fixed-width column not zeroed
 * (a boolean column's bits still are): for a caller that writes every row
 * it appends, nulls included — the Parquet page reader, whose batches are
 * often fresh. Rows past the length then hold whatever the memory held,
 * as they do in a cleared and reused column. Declared in
 * core/column.h (its user: the Parquet page reader).
 */
int64_t cl__column_bytes(const cl_column *c)
{
	int w = cl_type_width(c->type);
	int64_t b = c->validity_cap + c->data_cap;
	if (c->type.id == CL_BOOL)
		b += (c->cap + 7) / 8;
	else if (cl_type_is_var(c->type))
		b += (c->cap + 1) * 8;
	else
		b += c->cap * w;
	return b;
}

int cl__column_reserve_nozero(cl_column *c, int64_t n, cl_error *err)
{
	return reserve(c, n, false, err);
}

int cl_column_reserve_data(cl_column *c, int64_t nbytes, cl_error *err)
{
	int64_t used = c->offsets ? c->offsets[c->length] : 0;
	int64_t need = used + nbytes;
	if (need <= c->data_cap)
		return 0;
	if (need > ((int64_t)1 << 40))
		return cl_error_set(err, CL_ENOMEM, "column data too large");
	int64_t cap = grow(c->data_cap < 64 ? 64 : c->data_cap, need);
	uint8_t *d = cl_realloc(c->data, (size_t)cap);
	if (!d)
		return oom(err);
	c->data = d;
	c->data_cap = cap;
	return 0;
}

int cl_column_ensure_validity(cl_column *c, cl_error *err)
{
	if (c->validity)
		return 0;
	int64_t cap = c->cap > c->length ? c->cap : c->length + 1;
	size_t nb = (size_t)(cap + 7) / 8;
	c->validity = cl_malloc(nb);
	if (!c->validity)
		return oom(err);
	memset(c->validity, 0xff, nb);
	c->validity_cap = (int64_t)nb;
	return 0;
}

int cl_column_append_null(cl_column *c, cl_error *err)
{
	int rc = cl_column_reserve(c, 1, err);
	if (!rc)
		rc = cl_column_ensure_validity(c, err);
	if (rc)
		return rc;
	int64_t i = c->length;
	cl_bit_set(c->validity, i, false);
	int w = cl_type_width(c->type);
	if (w)
		memset(c->values + (size_t)i * (size_t)w, 0, (size_t)w);
	else if (c->type.id == CL_BOOL)
		cl_bit_set(c->values, i, false);
	else if (cl_type_is_var(c->type))
		c->offsets[i + 1] = c->offsets[i];
	/* CL_NULLTYPE: validity only */
	c->null_count++;
	c->length++;
	return 0;
}

int cl_column_append_bool(cl_column *c, bool v, cl_error *err)
{
	int rc = cl_column_reserve(c, 1, err);
	if (rc)
		return rc;
	cl_bit_set(c->values, c->length, v);
	c->length++;
	return 0;
}

int cl_column_append_fixed(cl_column *c, const void *v, cl_error *err)
{
	int rc = cl_column_reserve(c, 1, err);
	if (rc)
		return rc;
	int w = cl_type_width(c->type);
	memcpy(c->values + (size_t)c->length * (size_t)w, v, (size_t)w);
	c->length++;
	return 0;
}

int cl_column_append_i64(cl_column *c, int64_t v, cl_error *err)
{
	int rc = cl_column_reserve(c, 1, err);
	if (rc)
		return rc;
	int64_t i = c->length;
	switch (cl_type_width(c->type)) {
	case 1: ((int8_t *)c->values)[i] = (int8_t)v; break;
	case 2: ((int16_t *)c->values)[i] = (int16_t)v; break;
	case 4: ((int32_t *)c->values)[i] = (int32_t)v; break;
	case 8: ((int64_t *)c->values)[i] = v; break;
	default:
		return cl_error_set(err, CL_EINTERNAL,
				    "append_i64 on a non-integer column");
	}
	c->length++;
	return 0;
}

int cl_column_append_f64(cl_column *c, double v, cl_error *err)
{
	int rc = cl_column_reserve(c, 1, err);
	if (rc)
		return rc;
	if (c->type.id == CL_FLOAT32)
		((float *)c->values)[c->length] = (float)v;
	else if (c->type.id == CL_FLOAT64)
		((double *)c->values)[c->length] = v;
	else
		return cl_error_set(err, CL_EINTERNAL,
				    "append_f64 on a non-float column");
	c->length++;
	return 0;
}

int cl_column_append_bytes(cl_column *c, const void *p, size_t n,
			   cl_error *err)
{
	int rc = cl_column_reserve(c, 1, err);
	if (!rc)
		rc = cl_column_reserve_data(c, (int64_t)n, err);
	if (rc)
		return rc;
	int64_t off = c->offsets[c->length];
	if (n)
		memcpy(c->data + off, p, n);
	c->offsets[c->length + 1] = off + (int64_t)n;
	c->length++;
	return 0;
}

int cl_column_append_from(cl_column *dst, const cl_column *src, int64_t row,
			  cl_error *err)
{
	if (cl_column_is_null(src, row))
		return cl_column_append_null(dst, err);
	if (src->type.id == CL_BOOL)
		return cl_column_append_bool(dst, cl_column_get_bool(src, row), err);
	if (cl_type_is_var(src->type)) {
		size_t n;
		const uint8_t *p = cl_column_get_bytes(src, row, &n);
		return cl_column_append_bytes(dst, p, n, err);
	}
	int w = cl_type_width(src->type);
	return cl_column_append_fixed(dst, src->values + (size_t)row * (size_t)w,
				      err);
}

/*
 * What cl_column_append_range and cl_column_append_take share: room for n
 * more rows, a NULL-type source (n NULLs appended here), and the validity
 * of the n rows — rows [from, from + n) of src, or idx[0..n) when idx is
 * given. Returns 0 to go on with the values, 1 when nothing is left to
 * append (n <= 0 or a NULL-type source), or a negative error.
 */
static int append_begin(cl_column *dst, const cl_column *src, int64_t from,
			const int64_t *idx, int64_t n, cl_error *err)
{
	if (n <= 0)
		return 1;
	int rc = cl_column_reserve(dst, n, err);
	if (rc)
		return rc;
	if (src->type.id == CL_NULLTYPE) {
		for (int64_t i = 0; !rc && i < n; i++)
			rc = cl_column_append_null(dst, err);
		return rc ? rc : 1;
	}
	int64_t at = dst->length;
	bool src_nulls = src->validity && src->null_count > 0;
	if (!src_nulls && !dst->validity)
		return 0;
	if ((rc = cl_column_ensure_validity(dst, err)))
		return rc;
	int64_t nulls = 0;
	for (int64_t i = 0; i < n; i++) {
		bool v = !src_nulls || cl_bit_get(src->validity, idx ? idx[i] : from + i);
		cl_bit_set(dst->validity, at + i, v);
		nulls += !v;
	}
	dst->null_count += nulls;
	return 0;
}

int cl_column_append_range(cl_column *dst, const cl_column *src, int64_t from,
			   int64_t n, cl_error *err)
{
	int rc = append_begin(dst, src, from, NULL, n, err);
	if (rc)
		return rc < 0 ? rc : 0;
	int64_t at = dst->length;
	if (src->type.id == CL_BOOL) {
		for (int64_t i = 0; i < n; i++)
			cl_bit_set(dst->values, at + i, cl_bit_get(src->values, from + i));
	} else if (cl_type_is_var(src->type)) {
		int64_t b0 = src->offsets[from], b1 = src->offsets[from + n];
		if ((rc = cl_column_reserve_data(dst, b1 - b0, err)))
			return rc;
		int64_t base = dst->offsets[at];
		if (b1 > b0)
			memcpy(dst->data + base, src->data + b0, (size_t)(b1 - b0));
		for (int64_t i = 1; i <= n; i++)
			dst->offsets[at + i] = base + src->offsets[from + i] - b0;
	} else {
		size_t w = (size_t)cl_type_width(src->type);
		memcpy(dst->values + (size_t)at * w, src->values + (size_t)from * w,
		       (size_t)n * w);
	}
	dst->length += n;
	return 0;
}

/* The gather of cl_column_append_range: values by row index (strings
 * through cl__copy_short, fixed widths 4 and 8 by typed loads). */
int cl_column_append_take(cl_column *dst, const cl_column *src, const int64_t *idx, int64_t n,
			  cl_error *err)
{
	int rc = append_begin(dst, src, 0, idx, n, err);
	if (rc)
		return rc < 0 ? rc : 0;
	int64_t at = dst->length;
	if (src->type.id == CL_BOOL) {
		for (int64_t i = 0; i < n; i++)
			cl_bit_set(dst->values, at + i, cl_bit_get(src->values, idx[i]));
	} else if (cl_type_is_var(src->type)) {
		int64_t bytes = 0;
		for (int64_t i = 0; i < n; i++)
			bytes += src->offsets[idx[i] + 1] - src->offsets[idx[i]];
		if ((rc = cl_column_reserve_data(dst, bytes, err)) != 0)
			return rc;
		int64_t o = dst->offsets[at];
		for (int64_t i = 0; i < n; i++) {
			int64_t b0 = src->offsets[idx[i]], len = src->offsets[idx[i] + 1] - b0;
			cl__copy_short(dst->data + o, src->data + b0, (size_t)len);
			o += len;
			dst->offsets[at + i + 1] = o;
		}
	} else {
		size_t wd = (size_t)cl_type_width(src->type);
		uint8_t *d = dst->values + (size_t)at * wd;
		const uint8_t *sv = src->values;
		switch (wd) {
		case 4:
			for (int64_t i = 0; i < n; i++)
				memcpy(d + 4 * i, sv + 4 * (size_t)idx[i], 4);
			break;
		case 8:
			for (int64_t i = 0; i < n; i++)
				memcpy(d + 8 * i, sv + 8 * (size_t)idx[i], 8);
			break;
		default:
			for (int64_t i = 0; i < n; i++)
				memcpy(d + wd * (size_t)i, sv + wd * (size_t)idx[i], wd);
		}
	}
	dst->length += n;
	return 0;
}

int64_t cl_column_get_i64(const cl_column *c, int64_t i)
{
	switch (c->type.id) {
	case CL_INT8: return ((const int8_t *)c->values)[i];
	case CL_INT16: return ((const int16_t *)c->values)[i];
	case CL_INT32: case CL_DATE: return ((const int32_t *)c->values)[i];
	case CL_UINT8: return ((const uint8_t *)c->values)[i];
	case CL_UINT16: return ((const uint16_t *)c->values)[i];
	case CL_UINT32: return ((const uint32_t *)c->values)[i];
	case CL_INT64: case CL_UINT64: case CL_TIME: case CL_TIMESTAMP:
		return ((const int64_t *)c->values)[i];
	default: return 0;
	}
}

double cl_column_get_f64(const cl_column *c, int64_t i)
{
	if (c->type.id == CL_FLOAT32)
		return ((const float *)c->values)[i];
	return ((const double *)c->values)[i];
}

int cl_batch_create(cl_batch **out, const cl_schema *schema, int64_t cap_hint,
		    cl_error *err)
{
	cl_batch *b = cl_calloc(1, sizeof *b);
	if (!b)
		return oom(err);
	b->cols = cl_calloc((size_t)(schema->nfields ? schema->nfields : 1),
			    sizeof *b->cols);
	if (!b->cols) {
		cl_free(b);
		return oom(err);
	}
	for (int i = 0; i < schema->nfields; i++) {
		b->ncols = i + 1;
		int rc = cl_column_init(&b->cols[i], schema->fields[i].type,
					cap_hint, err);
		if (rc) {
			cl_batch_free(b);
			return rc;
		}
	}
	b->ncols = schema->nfields;
	*out = b;
	return 0;
}

void cl_batch_free(cl_batch *b)
{
	if (!b)
		return;
	for (int i = 0; i < b->ncols; i++)
		cl_column_release(&b->cols[i]);
	cl_free(b->cols);
	cl_free(b);
}

void cl_batch_clear(cl_batch *b)
{
	for (int i = 0; i < b->ncols; i++)
		cl_column_clear(&b->cols[i]);
	b->nrows = 0;
}

int cl_batch_validate(const cl_batch *b, cl_error *err)
{
	for (int i = 0; i < b->ncols; i++) {
		const cl_column *c = &b->cols[i];
		if (c->length != b->nrows)
			return cl_error_set(err, CL_EINTERNAL,
					    "column %d has %lld values, batch has %lld rows",
					    i, (long long)c->length,
					    (long long)b->nrows);
		int64_t nulls = 0;
		if (c->validity)
			for (int64_t r = 0; r < c->length; r++)
				nulls += !cl_bit_get(c->validity, r);
		if (nulls != c->null_count)
			return cl_error_set(err, CL_EINTERNAL,
					    "column %d: null_count %lld but %lld nulls",
					    i, (long long)c->null_count,
					    (long long)nulls);
		if (cl_type_is_var(c->type)) {
			if (c->offsets[0] != 0)
				return cl_error_set(err, CL_EINTERNAL,
						    "column %d: offsets[0] != 0", i);
			for (int64_t r = 0; r < c->length; r++)
				if (c->offsets[r + 1] < c->offsets[r])
					return cl_error_set(err, CL_EINTERNAL,
							    "column %d: offsets decrease at %lld",
							    i, (long long)r);
			if (c->offsets[c->length] > c->data_cap &&
			    c->offsets[c->length] > 0)
				return cl_error_set(err, CL_EINTERNAL,
						    "column %d: offsets past data", i);
		}
	}
	return 0;
}

static int cmp_f64(double a, double b)
{
	bool an = a != a, bn = b != b;
	if (an || bn)
		return an - bn; /* NaN last */
	return (a > b) - (a < b);
}

int cl_value_compare(const cl_column *a, int64_t ia, const cl_column *b,
		     int64_t ib)
{
	bool na = cl_column_is_null(a, ia), nb = cl_column_is_null(b, ib);
	if (na || nb)
		return nb - na; /* NULL first */
	switch (a->type.id) {
	case CL_BOOL:
		return (int)cl_column_get_bool(a, ia) - (int)cl_column_get_bool(b, ib);
	case CL_FLOAT32: case CL_FLOAT64:
		return cmp_f64(cl_column_get_f64(a, ia), cl_column_get_f64(b, ib));
	case CL_UINT64: {
		uint64_t x = ((const uint64_t *)a->values)[ia];
		uint64_t y = ((const uint64_t *)b->values)[ib];
		return (x > y) - (x < y);
	}
	case CL_DECIMAL: {
		__int128 x, y;
		memcpy(&x, a->values + (size_t)ia * 16, 16);
		memcpy(&y, b->values + (size_t)ib * 16, 16);
		return (x > y) - (x < y);
	}
	case CL_STRING: case CL_BINARY: {
		size_t la, lb;
		const uint8_t *pa = cl_column_get_bytes(a, ia, &la);
		const uint8_t *pb = cl_column_get_bytes(b, ib, &lb);
		size_t m = la < lb ? la : lb;
		int c = m ? memcmp(pa, pb, m) : 0;
		if (c)
			return c < 0 ? -1 : 1;
		return (la > lb) - (la < lb);
	}
	default: {
		int64_t x = cl_column_get_i64(a, ia), y = cl_column_get_i64(b, ib);
		return (x > y) - (x < y);
	}
	}
}
