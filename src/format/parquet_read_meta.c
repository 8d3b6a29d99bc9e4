/*
 * parquet_read_meta.c — the metadata side of changelake/parquet.h: footer
 * accessors, column chunk statistics as typed text, and row-group pruning
 * with simple predicates.
 *
 * Statistics are decoded from their PLAIN bytes into a one-value cl_column
 * of the column's changelake type, so they print and compare exactly like
 * data values. Which statistics are trusted: min_value/max_value (written in
 * the type's order); the legacy min/max only for BOOLEAN, INT32, INT64,
 * FLOAT and DOUBLE columns with a signed logical type, where legacy signed
 * order is the type order. Float statistics with a NaN are not used.
 */
#include "parquet_format.h"
#include "parquet_meta.h"
#include "core/value_text.h"

#include <math.h>
#include <string.h>

int64_t cl_parquet_file_size(const cl_parquet_file *f)
{
	return f->size;
}

int64_t cl_parquet_file_num_rows(const cl_parquet_file *f)
{
	return f->meta->num_rows;
}

int cl_parquet_file_num_row_groups(const cl_parquet_file *f)
{
	return f->meta->nrow_groups;
}

int cl_parquet_file_version(const cl_parquet_file *f)
{
	return f->meta->version;
}

const char *cl_parquet_file_created_by(const cl_parquet_file *f)
{
	return f->meta->created_by;
}

int cl_parquet_file_num_kv(const cl_parquet_file *f)
{
	return f->meta->nkv;
}

void cl_parquet_file_kv(const cl_parquet_file *f, int i, const char **key,
			const char **value)
{
	*key = f->meta->kv[i].key;
	*value = f->meta->kv[i].value;
}

int cl_parquet_file_num_columns(const cl_parquet_file *f)
{
	return f->meta->nleaves;
}

void cl_parquet_file_column(const cl_parquet_file *f, int i, cl_parquet_column *out)
{
	const cl__pq_leaf *l = &f->meta->leaves[i];
	const cl__pq_schema_elem *e = &f->meta->schema[l->elem];
	const cl__pq_leafmap *m = &f->map[i];
	memset(out, 0, sizeof *out);
	out->path = l->path;
	out->physical_type = cl__pq_type_name(e->type);
	out->type_length = e->type == PQ_FIXED_LEN_BYTE_ARRAY ? e->type_length : 0;
	out->annotation = m->annotation;
	out->max_def = l->max_def;
	out->max_rep = l->max_rep;
	out->nested = l->nested;
	out->supported = m->supported;
	out->type = m->type;
	out->unsupported = m->supported ? NULL : m->why;
}

int cl_parquet_file_find_column(const cl_parquet_file *f, const char *path)
{
	for (int i = 0; i < f->meta->nleaves; i++)
		if (strcmp(f->meta->leaves[i].path, path) == 0)
			return i;
	return -1;
}

void cl_parquet_file_row_group(const cl_parquet_file *f, int rg, cl_parquet_row_group *out)
{
	const cl__pq_row_group *g = &f->meta->row_groups[rg];
	out->num_rows = g->num_rows;
	out->total_byte_size = g->total_byte_size;
	int64_t sum = 0;
	for (int i = 0; i < g->ncolumns; i++)
		sum += g->columns[i].meta.total_compressed_size;
	out->compressed_size = sum;
}

const char *cl_parquet_encoding_name(int encoding)
{
	return cl__pq_encoding_name(encoding);
}

/* ---- statistics ---- */

/* Decode one PLAIN statistics value of leaf `col` into c (1 value). */
static int stat_value(const cl_parquet_file *f, int col, cl__pq_bytes b, cl_column *c,
		      cl_error *err)
{
	const cl__pq_leafmap *m = &f->map[col];
	const cl__pq_schema_elem *e = &f->meta->schema[f->meta->leaves[col].elem];
	int w = cl__pq_phys_width(e->type, e->type_length);
	if (e->type != PQ_BYTE_ARRAY && b.n != (size_t)w)
		return cl_error_set(err, CL_EFORMAT, "statistics value of %zu bytes, expected %d",
				    b.n, w);
	int32_t i32;
	int64_t i64;
	cl_i128 d;
	switch (m->conv) {
	case CV_BOOL:
		return cl_column_append_bool(c, b.p[0] != 0, err);
	case CV_COPY4:
	case CV_COPY8:
		return cl_column_append_fixed(c, b.p, err);
	case CV_I32_I8:
	case CV_I32_I16:
	case CV_I32_I64:
		memcpy(&i32, b.p, 4);
		return cl_column_append_i64(c, i32, err);
	case CV_I32_DEC:
		memcpy(&i32, b.p, 4);
		d = i32;
		return cl_column_append_fixed(c, &d, err);
	case CV_I64_DEC:
		memcpy(&i64, b.p, 8);
		d = i64;
		return cl_column_append_fixed(c, &d, err);
	case CV_INT96_TS: {
		int32_t jd;
		memcpy(&i64, b.p, 8);
		memcpy(&jd, b.p + 8, 4);
		cl_i128 us = (cl_i128)((int64_t)jd - 2440588) * 86400000000 + i64 / 1000;
		if (us < INT64_MIN || us > INT64_MAX)
			return cl_error_set(err, CL_EFORMAT, "INT96 statistics out of range");
		return cl_column_append_i64(c, (int64_t)us, err);
	}
	case CV_FIX_DEC:
	case CV_BA_DEC:
		if (!cl__pq_be_to_i128(b.p, b.n, &d))
			return cl_error_set(err, CL_EFORMAT, "decimal statistics too wide");
		return cl_column_append_fixed(c, &d, err);
	case CV_FIX_F16: {
		uint16_t h;
		memcpy(&h, b.p, 2);
		return cl_column_append_f64(c, cl__pq_half_to_float(h), err);
	}
	case CV_FIX_UUID: {
		static const char hx[] = "0123456789abcdef";
		char t[36];
		for (int k = 0, q = 0; k < 16; k++) {
			if (k == 4 || k == 6 || k == 8 || k == 10)
				t[q++] = '-';
			t[q++] = hx[b.p[k] >> 4];
			t[q++] = hx[b.p[k] & 15];
		}
		return cl_column_append_bytes(c, t, 36, err);
	}
	case CV_FIX_BIN:
	case CV_BA_BIN:
	case CV_BA_STR:
		return cl_column_append_bytes(c, b.p, b.n, err);
	}
	return cl_error_set(err, CL_EINTERNAL, "no statistics decoder");
}

/* Pick the trusted min/max bytes of a chunk; false when there are none. */
static bool pick_min_max(const cl_parquet_file *f, int col, const cl__pq_stats *s,
			 cl__pq_bytes *mn, cl__pq_bytes *mx)
{
	if (s->has_min_value && s->has_max_value) {
		*mn = s->min_value;
		*mx = s->max_value;
		return true;
	}
	if (!s->has_min || !s->has_max)
		return false;
	const cl__pq_leafmap *m = &f->map[col];
	const cl__pq_schema_elem *e = &f->meta->schema[f->meta->leaves[col].elem];
	bool signed_ok = (e->type == PQ_BOOLEAN || e->type == PQ_INT32 || e->type == PQ_INT64 ||
			  e->type == PQ_FLOAT || e->type == PQ_DOUBLE) &&
			 m->type.id != CL_UINT8 && m->type.id != CL_UINT16 &&
			 m->type.id != CL_UINT32 && m->type.id != CL_UINT64;
	if (!signed_ok)
		return false;
	*mn = s->min;
	*mx = s->max;
	return true;
}

static bool is_nan_value(const cl_column *c)
{
	if (c->type.id == CL_FLOAT32)
		return isnan(((const float *)c->values)[0]);
	if (c->type.id == CL_FLOAT64)
		return isnan(((const double *)c->values)[0]);
	return false;
}

/* Decode the trusted min and max of chunk (rg, col) into two columns;
 * *have = false when there are none (or they are unusable). */
static int chunk_min_max(const cl_parquet_file *f, int rg, int col, cl_column *mn,
			 cl_column *mx, bool *have, cl_error *err)
{
	const cl__pq_column_meta *cm = &f->meta->row_groups[rg].columns[col].meta;
	cl__pq_bytes a, b;
	*have = false;
	if (!f->map[col].supported || !cm->has_stats ||
	    !pick_min_max(f, col, &cm->stats, &a, &b))
		return 0;
	if (f->map[col].conv == CV_INT96_TS)
		return 0; /* INT96 has no defined order */
	cl_error e2 = {0};
	int rc = stat_value(f, col, a, mn, &e2);
	if (!rc)
		rc = stat_value(f, col, b, mx, &e2);
	if (rc == CL_ENOMEM)
		return cl_error_set(err, rc, "out of memory");
	if (rc || is_nan_value(mn) || is_nan_value(mx))
		return 0; /* unusable statistics are ignored, not an error */
	*have = true;
	return 0;
}

int cl_parquet_file_chunk(cl_parquet_file *f, int rg, int col, cl_parquet_chunk *out,
			  cl_error *err)
{
	memset(out, 0, sizeof *out);
	if (rg < 0 || rg >= f->meta->nrow_groups || col < 0 || col >= f->meta->nleaves)
		return cl_error_set(err, CL_EINVAL, "%s: no column chunk (%d, %d)", f->path, rg,
				    col);
	const cl__pq_column_chunk *cc = &f->meta->row_groups[rg].columns[col];
	const cl__pq_column_meta *cm = &cc->meta;
	out->num_values = cm->num_values;
	out->codec = (cl_codec)cm->codec;
	out->encodings = cm->encodings;
	out->compressed_size = cm->total_compressed_size;
	out->uncompressed_size = cm->total_uncompressed_size;
	out->data_page_offset = cm->data_page_offset;
	out->dictionary_page_offset = cm->dictionary_page_offset;
	if (cm->has_stats) {
		out->has_null_count = cm->stats.has_null_count;
		out->null_count = cm->stats.null_count;
		out->has_distinct_count = cm->stats.has_distinct;
		out->distinct_count = cm->stats.distinct_count;
	}
	if (!f->map[col].supported)
		return 0;
	cl_column mn, mx;
	int rc = cl_column_init(&mn, f->map[col].type, 1, err);
	if (!rc)
		rc = cl_column_init(&mx, f->map[col].type, 1, err);
	else
		memset(&mx, 0, sizeof mx);
	bool have = false;
	if (!rc)
		rc = chunk_min_max(f, rg, col, &mn, &mx, &have, err);
	if (!rc && have) {
		cl_buf_clear(&f->min_text);
		cl_buf_clear(&f->max_text);
		if (cl__value_format(&f->min_text, &mn, 0) ||
		    cl__value_format(&f->max_text, &mx, 0) || cl_buf_putc(&f->min_text, 0) ||
		    cl_buf_putc(&f->max_text, 0))
			rc = cl_error_set(err, CL_ENOMEM, "out of memory");
		else {
			out->has_min_max = true;
			out->min = (const char *)f->min_text.data;
			out->max = (const char *)f->max_text.data;
		}
	}
	cl_column_release(&mn);
	cl_column_release(&mx);
	return rc;
}

/* ---- predicates ---- */

static int cmp_values(const cl_column *a, const cl_column *b)
{
	const void *x = a->values, *y = b->values;
	switch (a->type.id) {
	case CL_BOOL: return (int)cl_bit_get(a->values, 0) - (int)cl_bit_get(b->values, 0);
#define CMP(T)                                                 \
	{                                                      \
		T u, v;                                        \
		memcpy(&u, x, sizeof u);                       \
		memcpy(&v, y, sizeof v);                       \
		return u < v ? -1 : u > v;                     \
	}
	case CL_INT8: CMP(int8_t)
	case CL_INT16: CMP(int16_t)
	case CL_INT32: case CL_DATE: CMP(int32_t)
	case CL_INT64: case CL_TIME: case CL_TIMESTAMP: CMP(int64_t)
	case CL_UINT8: CMP(uint8_t)
	case CL_UINT16: CMP(uint16_t)
	case CL_UINT32: CMP(uint32_t)
	case CL_UINT64: CMP(uint64_t)
	case CL_FLOAT32: CMP(float)
	case CL_FLOAT64: CMP(double)
	case CL_DECIMAL: CMP(cl_i128)
#undef CMP
	case CL_STRING:
	case CL_BINARY: {
		size_t na, nb;
		const uint8_t *pa = cl_column_get_bytes(a, 0, &na);
		const uint8_t *pb = cl_column_get_bytes(b, 0, &nb);
		size_t n = na < nb ? na : nb;
		int r = n ? memcmp(pa, pb, n) : 0;
		if (r)
			return r < 0 ? -1 : 1;
		return na < nb ? -1 : na > nb;
	}
	default: return 0;
	}
}

/* May row group rg have a row where predicate p holds? */
static int pred_may_match(cl_parquet_file *f, int rg, const cl_parquet_predicate *p,
			  bool *may, cl_error *err)
{
	*may = true;
	int col = cl_parquet_file_find_column(f, p->column);
	if (col < 0)
		return cl_error_set(err, CL_ENOTFOUND, "%s: no column '%s'", f->path, p->column);
	if (!f->map[col].supported)
		return 0;
	const cl__pq_row_group *g = &f->meta->row_groups[rg];
	const cl__pq_column_meta *cm = &g->columns[col].meta;
	bool nc = cm->has_stats && cm->stats.has_null_count;
	int64_t nulls = nc ? cm->stats.null_count : -1;
	if (p->op == CL_PQ_IS_NULL) {
		*may = !(nc && nulls == 0);
		return 0;
	}
	if (nc && nulls >= g->num_rows && g->num_rows > 0) {
		/* all null: only IS NULL can match */
		*may = false;
		return 0;
	}
	if (p->op == CL_PQ_NOT_NULL)
		return 0;
	cl_column v, mn, mx;
	memset(&mn, 0, sizeof mn);
	memset(&mx, 0, sizeof mx);
	int rc = cl_column_init(&v, f->map[col].type, 1, err);
	if (rc)
		return rc;
	if (!p->value) {
		rc = cl_error_set(err, CL_EINVAL, "predicate on '%s' has no value", p->column);
		goto out;
	}
	rc = cl__column_append_text(&v, p->value, strlen(p->value), err);
	if (rc) {
		cl_error_prefix(err, "predicate on '%s': ", p->column);
		goto out;
	}
	if ((rc = cl_column_init(&mn, f->map[col].type, 1, err)) ||
	    (rc = cl_column_init(&mx, f->map[col].type, 1, err)))
		goto out;
	bool have;
	rc = chunk_min_max(f, rg, col, &mn, &mx, &have, err);
	if (rc || !have || is_nan_value(&v))
		goto out;
	int lo = cmp_values(&v, &mn), hi = cmp_values(&v, &mx);
	switch (p->op) {
	case CL_PQ_EQ: *may = lo >= 0 && hi <= 0; break;
	case CL_PQ_LT: *may = lo > 0; break;  /* some x < v needs min < v */
	case CL_PQ_LE: *may = lo >= 0; break;
	case CL_PQ_GT: *may = hi < 0; break;  /* max > v */
	case CL_PQ_GE: *may = hi <= 0; break;
	default: break;
	}
out:
	cl_column_release(&v);
	cl_column_release(&mn);
	cl_column_release(&mx);
	return rc;
}

int cl_parquet_file_row_group_may_match(cl_parquet_file *f, int rg,
					const cl_parquet_predicate *preds, int n,
					bool *may_match, cl_error *err)
{
	*may_match = true;
	if (rg < 0 || rg >= f->meta->nrow_groups)
		return cl_error_set(err, CL_EINVAL, "%s: no row group %d", f->path, rg);
	for (int i = 0; i < n; i++) {
		bool may;
		int rc = pred_may_match(f, rg, &preds[i], &may, err);
		if (rc)
			return rc;
		if (!may) {
			*may_match = false;
			return 0;
		}
	}
	return 0;
}

/* ---- page statistics (page_index.c) ---- */

int cl__pq_page_may_match(const cl_parquet_file *f, int col, cl_parquet_op op,
			  const cl_column *v, cl__pq_bytes mn, cl__pq_bytes mx, bool have_mm,
			  bool all_null, int64_t null_count, bool *may, cl_error *err)
{
	*may = true;
	if (op == CL_PQ_IS_NULL) {
		*may = all_null || null_count != 0; /* -1: unknown */
		return 0;
	}
	if (all_null) {
		*may = false;
		return 0;
	}
	if (op == CL_PQ_NOT_NULL || !have_mm || !v || f->map[col].conv == CV_INT96_TS ||
	    is_nan_value(v))
		return 0;
	cl_column a, b;
	memset(&b, 0, sizeof b);
	int rc = cl_column_init(&a, f->map[col].type, 1, err);
	if (!rc)
		rc = cl_column_init(&b, f->map[col].type, 1, err);
	if (rc)
		goto out;
	cl_error e2 = {0};
	rc = stat_value(f, col, mn, &a, &e2);
	if (!rc)
		rc = stat_value(f, col, mx, &b, &e2);
	if (rc == CL_ENOMEM) {
		rc = cl_error_set(err, rc, "out of memory");
		goto out;
	}
	if (rc || is_nan_value(&a) || is_nan_value(&b)) {
		rc = 0; /* unusable statistics: the page may match */
		goto out;
	}
	int lo = cmp_values(v, &a), hi = cmp_values(v, &b);
	switch (op) {
	case CL_PQ_EQ: *may = lo >= 0 && hi <= 0; break;
	case CL_PQ_LT: *may = lo > 0; break;
	case CL_PQ_LE: *may = lo >= 0; break;
	case CL_PQ_GT: *may = hi < 0; break;
	case CL_PQ_GE: *may = hi <= 0; break;
	default: break;
	}
out:
	cl_column_release(&a);
	cl_column_release(&b);
	return rc;
}
