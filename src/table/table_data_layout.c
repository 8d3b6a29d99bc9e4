/*
 * table_data_layout.c — what a lake table's rows look like to its writers:
 * the layout of a snapshot (partition columns and their transforms, key
 * columns, buckets, target file size, the data columns a file holds) and
 * the conversion of values to the table's types.
 *
 * Invariants: a layout's indexes point into the snapshot's schema, which
 * it borrows (the snapshot outlives it); file_schema holds the table's
 * columns other than the partition columns, in table order, every one
 * nullable, and file_to_table maps them back. A conversion either appends
 * exactly one value to dst or fails with CL_ETYPE (out of range) or the
 * text parser's error, never truncating a value silently.
 */
#include "delta.h"
#include "table_data.h"
#include "core/value_text.h"

#include <stdlib.h>
#include <string.h>

static int oom(cl_error *err)
{
	return cl_error_set(err, CL_ENOMEM, "out of memory");
}

/* ---- layout of a snapshot ---- */

void cl__table_layout_release(cl__table_layout *l)
{
	cl_free(l->part_index);
	cl_free(l->part_source);
	cl_free(l->part_xf);
	cl_free(l->key_index);
	cl_free(l->file_to_table);
	cl_schema_free(l->file_schema);
	memset(l, 0, sizeof *l);
}

int cl__table_layout_init(cl__table_layout *l, const cl_snapshot *s, cl_error *err)
{
	memset(l, 0, sizeof *l);
	l->schema = cl_snapshot_schema(s);
	if (!l->schema)
		return cl_error_set(err, CL_EUNSUPPORTED, "%s", s->schema_error ? s->schema_error
										  : "no schema");
	const cl_schema *sc = l->schema;
	l->npart = s->npartition_cols;
	l->part_index = cl_calloc((size_t)l->npart + 1, sizeof *l->part_index);
	l->part_source = cl_calloc((size_t)l->npart + 1, sizeof *l->part_source);
	l->part_xf = cl_calloc((size_t)l->npart + 1, sizeof *l->part_xf);
	l->file_to_table = cl_calloc((size_t)sc->nfields + 1, sizeof *l->file_to_table);
	int rc = l->part_index && l->part_source && l->part_xf && l->file_to_table
			 ? cl_schema_create(&l->file_schema, err) : oom(err);
	const char *xfs = cl_snapshot_config(s, CL_TABLE_CONF_TRANSFORMS);
	for (int i = 0; !rc && i < l->npart; i++) {
		const char *name = s->partition_cols[i];
		l->part_index[i] = l->part_source[i] = cl_schema_find(sc, name);
		if (l->part_index[i] < 0) {
			rc = cl_error_set(err, CL_EFORMAT, "partition column '%s' is not in the schema",
					  name);
			break;
		}
		/* "name=xf(src)" entries of changelake.partitionTransforms */
		size_t nl = strlen(name);
		for (const char *p = xfs; p && *p;) {
			const char *end = strchr(p, ',');
			size_t n = end ? (size_t)(end - p) : strlen(p);
			if (n > nl + 1 && !strncmp(p, name, nl) && p[nl] == '=') {
				const char *open = memchr(p, '(', n);
				if (open && p[n - 1] == ')') {
					char xf[16] = "", src[256] = "";
					size_t xn = (size_t)(open - (p + nl + 1));
					size_t sn = (size_t)(p + n - 1 - (open + 1));
					if (xn < sizeof xf && sn < sizeof src) {
						memcpy(xf, p + nl + 1, xn);
						memcpy(src, open + 1, sn);
						l->part_xf[i] = cl__transform_from_name(xf);
						l->part_source[i] = cl_schema_find(sc, src);
					}
				}
				if (l->part_xf[i] == CL__XF_IDENTITY || l->part_source[i] < 0) {
					rc = cl_error_set(err, CL_EFORMAT, "bad partition transform for '%s'",
							  name);
				}
			}
			p = end ? end + 1 : NULL;
		}
	}
	const char *keys = cl_snapshot_config(s, CL_TABLE_CONF_KEYS);
	if (!rc && keys && *keys) {
		l->key_index = cl_calloc(strlen(keys) + 1, sizeof *l->key_index);
		if (!l->key_index)
			rc = oom(err);
		for (const char *p = keys; !rc && p;) {
			const char *end = strchr(p, ',');
			size_t n = end ? (size_t)(end - p) : strlen(p);
			char name[256];
			if (n >= sizeof name) {
				rc = cl_error_set(err, CL_EFORMAT, "key column name too long");
				break;
			}
			memcpy(name, p, n);
			name[n] = 0;
			int k = cl_schema_find(sc, name);
			if (k < 0)
				rc = cl_error_set(err, CL_EFORMAT, "key column '%s' is not in the schema",
						  name);
			else
				l->key_index[l->nkeys++] = k;
			p = end ? end + 1 : NULL;
		}
	}
	const char *b = cl_snapshot_config(s, CL_TABLE_CONF_BUCKETS);
	l->buckets = b ? atoi(b) : 0;
	if (l->buckets < 2 || l->nkeys == 0)
		l->buckets = 0;
	const char *ts = cl_snapshot_config(s, CL_TABLE_CONF_TARGET_SIZE);
	l->target_bytes = ts ? atoll(ts) : 0;
	if (l->target_bytes <= 0)
		l->target_bytes = 128LL << 20;
	for (int i = 0; !rc && i < sc->nfields; i++) {
		bool is_part = false;
		for (int p = 0; p < l->npart; p++)
			if (l->part_index[p] == i)
				is_part = true;
		if (is_part)
			continue;
		l->file_to_table[l->file_schema->nfields] = i;
		rc = cl_schema_add(l->file_schema, sc->fields[i].name, sc->fields[i].type, true, err);
	}
	if (rc)
		cl__table_layout_release(l);
	return rc;
}

int cl_snapshot_write_schema(cl_schema **out, const cl_snapshot *s, cl_error *err)
{
	*out = NULL;
	cl__table_layout l;
	int rc = cl__table_layout_init(&l, s, err);
	if (rc)
		return rc;
	rc = cl_schema_create(out, err);
	for (int i = 0; !rc && i < l.schema->nfields; i++) {
		bool derived = false;
		for (int p = 0; p < l.npart; p++)
			derived |= l.part_index[p] == i && l.part_xf[p] != CL__XF_IDENTITY;
		if (!derived)
			rc = cl_schema_add(*out, l.schema->fields[i].name, l.schema->fields[i].type,
					   l.schema->fields[i].nullable, err);
	}
	if (rc) {
		cl_schema_free(*out);
		*out = NULL;
	}
	cl__table_layout_release(&l);
	return rc;
}

/* ---- value conversion ---- */

static bool is_int(cl_type_id id)
{
	return id >= CL_INT8 && id <= CL_UINT64;
}

/* Microseconds us in timestamp unit `unit` (*v); false when it does not
 * fit (nanoseconds past about 292 years from 1970). */
static bool us_to_unit(int64_t us, int unit, int64_t *v)
{
	switch (unit) {
	case CL_UNIT_MS: *v = us >= 0 ? us / 1000 : -((-us + 999) / 1000); return true;
	case CL_UNIT_NS: return !__builtin_mul_overflow(us, (int64_t)1000, v);
	default: *v = us; return true;
	}
}

int cl__append_converted(cl_column *dst, const cl_column *src, int64_t row, cl_error *err)
{
	if (cl_column_is_null(src, row))
		return cl_column_append_null(dst, err);
	cl_type st = src->type, dt = dst->type;
	if (cl_type_equal(st, dt))
		return cl_column_append_from(dst, src, row, err);
	if (st.id == CL_TIMESTAMP && dt.id == CL_TIMESTAMP) {
		int64_t v;
		if (!us_to_unit(cl__ts_to_us(cl_column_get_i64(src, row), st.unit), dt.unit, &v))
			goto range;
		return cl_column_append_i64(dst, v, err);
	}
	if (is_int(st.id) && (is_int(dt.id) || dt.id == CL_DECIMAL)) {
		cl_i128 v;
		if (st.id == CL_UINT64)
			v = (cl_i128)((const uint64_t *)src->values)[row];
		else if (st.id == CL_UINT32)
			v = ((const uint32_t *)src->values)[row];
		else if (st.id == CL_UINT16)
			v = ((const uint16_t *)src->values)[row];
		else if (st.id == CL_UINT8)
			v = ((const uint8_t *)src->values)[row];
		else
			v = cl_column_get_i64(src, row);
		if (dt.id == CL_DECIMAL) {
			if (v < 0 ? -v >= cl__i128_pow10(dt.precision - dt.scale)
				  : v >= cl__i128_pow10(dt.precision - dt.scale))
				goto range;
			v *= cl__i128_pow10(dt.scale);
			return cl_column_append_fixed(dst, &v, err);
		}
		int w = cl_type_width(dt) * 8;
		cl_i128 lo = -((cl_i128)1 << (w - 1)), hi = ((cl_i128)1 << (w - 1)) - 1;
		if (dt.id >= CL_UINT8) {
			lo = 0;
			hi = ((cl_i128)1 << w) - 1;
		}
		if (v < lo || v > hi)
			goto range;
		if (dt.id == CL_UINT64) {
			uint64_t u = (uint64_t)v;
			return cl_column_append_fixed(dst, &u, err);
		}
		return cl_column_append_i64(dst, (int64_t)v, err);
	}
	if ((st.id == CL_FLOAT32 || st.id == CL_FLOAT64) &&
	    (dt.id == CL_FLOAT32 || dt.id == CL_FLOAT64))
		return cl_column_append_f64(dst, cl_column_get_f64(src, row), err);
	if (st.id == CL_DATE && dt.id == CL_TIMESTAMP) {
		int64_t us, v;
		if (__builtin_mul_overflow(cl_column_get_i64(src, row), 86400000000LL, &us) ||
		    !us_to_unit(us, dt.unit, &v))
			goto range;
		return cl_column_append_i64(dst, v, err);
	}
	if (st.id == CL_DECIMAL && dt.id == CL_DECIMAL && dt.scale >= st.scale) {
		cl_i128 v;
		memcpy(&v, src->values + 16 * row, 16);
		v *= cl__i128_pow10(dt.scale - st.scale);
		if ((v < 0 ? -v : v) >= cl__i128_pow10(dt.precision))
			goto range;
		return cl_column_append_fixed(dst, &v, err);
	}
	{
		/* anything else through text, strictly */
		cl_buf b = {0};
		if (cl__value_format(&b, src, row)) {
			cl_buf_release(&b);
			return oom(err);
		}
		int rc = cl__column_append_text(dst, b.data ? (const char *)b.data : "", b.len, err);
		cl_buf_release(&b);
		return rc;
	}
range: {
	char a[48], bt[48];
	cl_type_format(a, sizeof a, st);
	cl_type_format(bt, sizeof bt, dt);
	return cl_error_set(err, CL_ETYPE, "a %s value does not fit the table type %s", a, bt);
}
}

int cl__append_converted_all(cl_column *dst, const cl_column *src, int64_t n, cl_error *err)
{
	if (cl_type_equal(src->type, dst->type))
		return cl_column_append_range(dst, src, 0, n, err);
	int rc = 0;
	for (int64_t r = 0; !rc && r < n; r++)
		rc = cl__append_converted(dst, src, r, err);
	return rc;
}
