/*
 * parquet_write_meta.c — the Parquet writer's metadata: schema elements
 * with logical and converted types, statistics, RowGroup and FileMetaData
 * (internal; see parquet_write_impl.h).
 *
 * Annotations written per core type (LogicalType / ConvertedType), as
 * parquet-format's LogicalTypes.md prescribes for writers:
 *   int8, int16            INTEGER(8|16, signed) / INT_8, INT_16
 *   int32, int64           none (the physical type says it all)
 *   uint8..uint64          INTEGER(n, unsigned) / UINT_n
 *   decimal(p,s)           DECIMAL(s, p) / DECIMAL, plus scale and precision
 *   date                   DATE / DATE
 *   time(u)                TIME(false, u) / TIME_MILLIS|TIME_MICROS; ns: none
 *   timestamp(u[,utc])     TIMESTAMP(utc, u) / TIMESTAMP_MILLIS|MICROS (local
 *                          timestamps too: the spec requires it); ns: none;
 *                          as INT96: no annotation (none exists)
 *   string                 STRING / UTF8
 *   binary, bool, floats   none
 *   null type              UNKNOWN / none
 *
 * Statistics use the new min_value/max_value fields, with the type-defined
 * order that every FileMetaData.column_orders entry declares. The legacy
 * min/max fields are also written where their (signed) order agrees: signed
 * integers, dates, times, timestamps, decimals on INT32/INT64, floats and
 * bools. Byte-array bounds longer than PQW_STATS_MAX_BYTES are left out of
 * the file (exact bounds stay available through cl_writer_file_stats).
 */
#include "parquet_write_impl.h"
#include "thrift_write.h"

#include <math.h>

#define PQW_STATS_MAX_BYTES 4096

#ifndef CL_BUILD_ID
#define CL_BUILD_ID "unknown"
#endif

/* Bytes of a statistics value in the column's PLAIN form (no length prefix). */
static size_t stat_bytes(const pqw_chunk *ch, const pqw_stats *s, bool is_max,
			 uint8_t *buf, const uint8_t **out)
{
	const pqw_val *v = is_max ? &s->max : &s->min;
	*out = buf;
	switch (ch->d.kind) {
	case PQW_BYTES: {
		const cl_buf *b = is_max ? &s->bmax : &s->bmin;
		*out = b->data ? b->data : (const uint8_t *)"";
		return b->len;
	}
	case PQW_BOOL:
		buf[0] = v->i != 0;
		return 1;
	case PQW_FLOAT: {
		double d = v->f;
		/* Zero bounds: -0.0 as minimum, +0.0 as maximum (parquet.thrift). */
		if (d == 0)
			d = is_max ? 0.0 : -0.0;
		if (ch->d.phys == PQ_FLOAT) {
			float f = (float)d;
			memcpy(buf, &f, 4);
			return 4;
		}
		memcpy(buf, &d, 8);
		return 8;
	}
	case PQW_DEC:
		if (ch->d.phys == PQ_FIXED_LEN_BYTE_ARRAY) {
			unsigned __int128 u = (unsigned __int128)v->d;
			for (int j = ch->d.width - 1; j >= 0; j--, u >>= 8)
				buf[j] = (uint8_t)u;
			return (size_t)ch->d.width;
		}
		/* fall through: INT32 / INT64 hold the unscaled value */
		{
			int64_t x = (int64_t)v->d;
			if (ch->d.phys == PQ_INT32) {
				int32_t y = (int32_t)x;
				memcpy(buf, &y, 4);
				return 4;
			}
			memcpy(buf, &x, 8);
			return 8;
		}
	case PQW_INT: case PQW_UINT:
		if (ch->d.phys == PQ_INT32) {
			uint32_t y = (uint32_t)v->u;
			memcpy(buf, &y, 4);
			return 4;
		}
		memcpy(buf, &v->u, 8);
		return 8;
	case PQW_NONE:
		break;
	}
	return 0;
}

void cl__pqw_write_stats(struct cl__tw *t, int16_t id, const pqw_chunk *ch,
			 const pqw_stats *s, bool legacy)
{
	uint8_t bmin[PQW_MAX_WIDTH], bmax[PQW_MAX_WIDTH];
	const uint8_t *pmin = NULL, *pmax = NULL;
	size_t nmin = 0, nmax = 0;
	bool bounds = s->has && ch->d.stats_ok;
	if (bounds) {
		nmin = stat_bytes(ch, s, false, bmin, &pmin);
		nmax = stat_bytes(ch, s, true, bmax, &pmax);
		if (nmin > PQW_STATS_MAX_BYTES || nmax > PQW_STATS_MAX_BYTES)
			bounds = false;
	}
	bool signed_order = ch->d.kind == PQW_INT || ch->d.kind == PQW_FLOAT ||
			    ch->d.kind == PQW_BOOL ||
			    (ch->d.kind == PQW_DEC && ch->d.phys != PQ_FIXED_LEN_BYTE_ARRAY);
	cl__tw_struct_begin(t, id);
	if (bounds && legacy && signed_order) {
		cl__tw_binary(t, 1, pmax, nmax);
		cl__tw_binary(t, 2, pmin, nmin);
	}
	cl__tw_i64(t, 3, s->nulls);
	if (bounds) {
		cl__tw_binary(t, 5, pmax, nmax);
		cl__tw_binary(t, 6, pmin, nmin);
		cl__tw_bool(t, 7, true);
		cl__tw_bool(t, 8, true);
	}
	cl__tw_struct_end(t);
}

static void write_encodings(cl__tw *t, const pqw_chunk *ch, bool v2)
{
	int enc[3], n = 0;
	if (ch->n_dict_pages || ch->n_plain_pages)
		enc[n++] = PQ_ENC_PLAIN;
	enc[n++] = PQ_ENC_RLE;
	if (ch->n_dict_pages)
		enc[n++] = PQ_ENC_RLE_DICTIONARY;
	cl__tw_list_begin(t, 2, TC_I32, n);
	for (int i = 0; i < n; i++)
		cl__tw_elem_i32(t, enc[i]);
	(void)v2;
}

static void write_encoding_stats(cl__tw *t, const pqw_chunk *ch, bool v2)
{
	int n = (ch->n_dict_pages ? 2 : 0) + (ch->n_plain_pages ? 1 : 0);
	int data = v2 ? PQ_PAGE_DATA_V2 : PQ_PAGE_DATA;
	cl__tw_list_begin(t, 13, TC_STRUCT, n);
	if (ch->n_dict_pages) {
		cl__tw_elem_struct_begin(t);
		cl__tw_i32(t, 1, PQ_PAGE_DICTIONARY);
		cl__tw_i32(t, 2, PQ_ENC_PLAIN);
		cl__tw_i32(t, 3, 1);
		cl__tw_struct_end(t);
		cl__tw_elem_struct_begin(t);
		cl__tw_i32(t, 1, data);
		cl__tw_i32(t, 2, PQ_ENC_RLE_DICTIONARY);
		cl__tw_i32(t, 3, ch->n_dict_pages);
		cl__tw_struct_end(t);
	}
	if (ch->n_plain_pages) {
		cl__tw_elem_struct_begin(t);
		cl__tw_i32(t, 1, data);
		cl__tw_i32(t, 2, PQ_ENC_PLAIN);
		cl__tw_i32(t, 3, ch->n_plain_pages);
		cl__tw_struct_end(t);
	}
}

/* path_in_schema of leaf node i: the names from below the root down to it. */
static void write_path(cl__tw *t, const pqw_writer *p, int i)
{
	int depth = 0;
	for (int a = i; a > 0; a = p->nodes[a].parent)
		depth++;
	cl__tw_list_begin(t, 3, TC_BINARY, depth);
	/* root-first order: walk down by finding the ancestor at each depth */
	for (int d = depth; d > 0; d--) {
		int a = i;
		for (int k = 1; k < d; k++)
			a = p->nodes[a].parent;
		cl__tw_elem_string(t, p->nodes[a].name);
	}
}

int cl__pqw_rowgroup_meta(pqw_writer *p, const int64_t *dict_off,
			  const int64_t *data_off, int64_t rg_start, cl_error *err)
{
	const cl_write_options *o = &p->w->opts;
	const bool v2 = o->page_version == 2;
	int64_t total_u = 0, total_c = 0;
	cl__tw t;
	cl__tw_init(&t, &p->rg_meta);
	cl__tw_list_begin(&t, 1, TC_STRUCT, p->ncols);
	for (int c = 0; c < p->ncols; c++) {
		const pqw_chunk *ch = &p->chunks[c];
		int64_t start = dict_off[c] >= 0 ? dict_off[c] : data_off[c];
		total_u += ch->uncompressed;
		total_c += ch->compressed;
		cl__tw_elem_struct_begin(&t);            /* ColumnChunk */
		cl__tw_i64(&t, 2, start);
		cl__tw_struct_begin(&t, 3);              /* ColumnMetaData */
		cl__tw_i32(&t, 1, ch->d.phys);
		write_encodings(&t, ch, v2);
		write_path(&t, p, ch->node);
		cl__tw_i32(&t, 4, (int32_t)o->compression);
		cl__tw_i64(&t, 5, ch->num_values);
		cl__tw_i64(&t, 6, ch->uncompressed);
		cl__tw_i64(&t, 7, ch->compressed);
		cl__tw_i64(&t, 9, data_off[c]);
		if (dict_off[c] >= 0)
			cl__tw_i64(&t, 11, dict_off[c]);
		cl__pqw_write_stats(&t, 12, ch, &ch->chunk_stats, true);
		write_encoding_stats(&t, ch, v2);
		cl__tw_struct_end(&t);                   /* ColumnMetaData */
		cl__tw_struct_end(&t);                   /* ColumnChunk */
	}
	cl__tw_i64(&t, 2, total_u);
	cl__tw_i64(&t, 3, p->rg_rows);
	cl__tw_i64(&t, 5, rg_start);
	cl__tw_i64(&t, 6, total_c);
	if (p->nrow_groups <= INT16_MAX) /* the ordinal is an i16; optional */
		cl__tw_i16(&t, 7, (int16_t)p->nrow_groups);
	int rc = cl__tw_finish(&t);
	if (rc)
		return cl_error_set(err, rc, "%s: %s", p->w->path,
				    rc == CL_ENOMEM ? "out of memory" : "metadata encoding failed");
	return 0;
}

static void write_time_unit(cl__tw *t, int16_t id, int unit)
{
	cl__tw_struct_begin(t, id);
	cl__tw_empty_struct(t, unit == CL_UNIT_MS ? 1 : unit == CL_UNIT_US ? 2 : 3);
	cl__tw_struct_end(t);
}

/* The SchemaElement of a group node (the root has no repetition). */
static void write_group_element(cl__tw *t, const pqw_node *n, bool root)
{
	cl__tw_elem_struct_begin(t);
	if (!root)
		cl__tw_i32(t, 3, n->repetition);
	cl__tw_string(t, 4, n->name);
	cl__tw_i32(t, 5, n->nchildren);
	if (n->kind == PQW_N_LIST || n->kind == PQW_N_MAP) {
		cl__tw_i32(t, 6, n->kind == PQW_N_LIST ? PQ_CT_LIST : PQ_CT_MAP);
		cl__tw_struct_begin(t, 10);
		cl__tw_empty_struct(t, n->kind == PQW_N_LIST ? PQ_LT_LIST : PQ_LT_MAP);
		cl__tw_struct_end(t);
	}
	cl__tw_struct_end(t);
}

/* One SchemaElement for leaf node n stored as d. */
static void write_schema_element(cl__tw *t, const pqw_node *n, const pqw_desc *d)
{
	cl_type ty = n->type;
	int ct = -1;
	cl__tw_elem_struct_begin(t);
	cl__tw_i32(t, 1, d->phys);
	if (d->phys == PQ_FIXED_LEN_BYTE_ARRAY)
		cl__tw_i32(t, 2, d->width);
	cl__tw_i32(t, 3, n->repetition);
	cl__tw_string(t, 4, n->name);
	switch (ty.id) {
	case CL_INT8: ct = PQ_CT_INT_8; break;
	case CL_INT16: ct = PQ_CT_INT_16; break;
	case CL_UINT8: ct = PQ_CT_UINT_8; break;
	case CL_UINT16: ct = PQ_CT_UINT_16; break;
	case CL_UINT32: ct = PQ_CT_UINT_32; break;
	case CL_UINT64: ct = PQ_CT_UINT_64; break;
	case CL_DECIMAL: ct = PQ_CT_DECIMAL; break;
	case CL_DATE: ct = PQ_CT_DATE; break;
	case CL_STRING: ct = PQ_CT_UTF8; break;
	case CL_TIME:
		ct = ty.unit == CL_UNIT_MS ? PQ_CT_TIME_MILLIS
		     : ty.unit == CL_UNIT_US ? PQ_CT_TIME_MICROS : -1;
		break;
	case CL_TIMESTAMP:
		if (d->phys == PQ_INT64)
			ct = ty.unit == CL_UNIT_MS ? PQ_CT_TIMESTAMP_MILLIS
			     : ty.unit == CL_UNIT_US ? PQ_CT_TIMESTAMP_MICROS : -1;
		break;
	default: break;
	}
	if (ct >= 0)
		cl__tw_i32(t, 6, ct);
	if (ty.id == CL_DECIMAL) {
		cl__tw_i32(t, 7, ty.scale);
		cl__tw_i32(t, 8, ty.precision);
	}
	switch (ty.id) {
	case CL_NULLTYPE:
		cl__tw_struct_begin(t, 10);
		cl__tw_empty_struct(t, PQ_LT_UNKNOWN);
		cl__tw_struct_end(t);
		break;
	case CL_INT8: case CL_INT16: case CL_UINT8: case CL_UINT16: case CL_UINT32:
	case CL_UINT64: {
		int bits = cl_type_width(ty) * 8;
		bool is_signed = ty.id == CL_INT8 || ty.id == CL_INT16;
		cl__tw_struct_begin(t, 10);
		cl__tw_struct_begin(t, PQ_LT_INTEGER);
		cl__tw_i8(t, 1, (int8_t)bits);
		cl__tw_bool(t, 2, is_signed);
		cl__tw_struct_end(t);
		cl__tw_struct_end(t);
		break;
	}
	case CL_DECIMAL:
		cl__tw_struct_begin(t, 10);
		cl__tw_struct_begin(t, PQ_LT_DECIMAL);
		cl__tw_i32(t, 1, ty.scale);
		cl__tw_i32(t, 2, ty.precision);
		cl__tw_struct_end(t);
		cl__tw_struct_end(t);
		break;
	case CL_DATE:
		cl__tw_struct_begin(t, 10);
		cl__tw_empty_struct(t, PQ_LT_DATE);
		cl__tw_struct_end(t);
		break;
	case CL_TIME:
		cl__tw_struct_begin(t, 10);
		cl__tw_struct_begin(t, PQ_LT_TIME);
		cl__tw_bool(t, 1, false);
		write_time_unit(t, 2, ty.unit);
		cl__tw_struct_end(t);
		cl__tw_struct_end(t);
		break;
	case CL_TIMESTAMP:
		if (d->phys != PQ_INT64)
			break;
		cl__tw_struct_begin(t, 10);
		cl__tw_struct_begin(t, PQ_LT_TIMESTAMP);
		cl__tw_bool(t, 1, ty.utc);
		write_time_unit(t, 2, ty.unit);
		cl__tw_struct_end(t);
		cl__tw_struct_end(t);
		break;
	case CL_STRING:
		cl__tw_struct_begin(t, 10);
		cl__tw_empty_struct(t, PQ_LT_STRING);
		cl__tw_struct_end(t);
		break;
	default: break;
	}
	cl__tw_struct_end(t);
}

int cl__pqw_footer(pqw_writer *p, cl_buf *out, cl_error *err)
{
	const cl_write_options *o = &p->w->opts;
	cl__tw t;
	cl__tw_init(&t, out);
	cl__tw_i32(&t, 1, o->page_version == 2 ? 2 : 1);
	cl__tw_list_begin(&t, 2, TC_STRUCT, p->nnodes);
	for (int i = 0; i < p->nnodes; i++) {
		const pqw_node *n = &p->nodes[i];
		if (n->leaf >= 0)
			write_schema_element(&t, n, &p->chunks[n->leaf].d);
		else
			write_group_element(&t, n, i == 0);
	}
	cl__tw_i64(&t, 3, p->rows);
	cl__tw_list_begin(&t, 4, TC_STRUCT, p->nrow_groups);
	cl__tw_raw(&t, p->rg_meta.data, p->rg_meta.len);
	if (o->nkv > 0) {
		cl__tw_list_begin(&t, 5, TC_STRUCT, o->nkv);
		for (int i = 0; i < o->nkv; i++) {
			cl__tw_elem_struct_begin(&t);
			cl__tw_string(&t, 1, o->kv_keys[i]);
			if (o->kv_values && o->kv_values[i])
				cl__tw_string(&t, 2, o->kv_values[i]);
			cl__tw_struct_end(&t);
		}
	}
	cl__tw_string(&t, 6, "changelake version " CL_VERSION_STRING " (build " CL_BUILD_ID ")");
	cl__tw_list_begin(&t, 7, TC_STRUCT, p->ncols);
	for (int c = 0; c < p->ncols; c++) {
		cl__tw_elem_struct_begin(&t);
		cl__tw_empty_struct(&t, 1); /* TYPE_ORDER: TypeDefinedOrder */
		cl__tw_struct_end(&t);
	}
	int rc = cl__tw_finish(&t);
	if (rc)
		return cl_error_set(err, rc, "%s: %s", p->w->path,
				    rc == CL_ENOMEM ? "out of memory" : "metadata encoding failed");
	return 0;
}

/* Append the bound of s (kind k) to c, or NULL when there is none. */
static int append_bound(cl_column *c, const pqw_stats *s, pqw_kind k, bool is_max,
			cl_error *err)
{
	if (!s->has || k == PQW_NONE)
		return cl_column_append_null(c, err);
	const pqw_val *v = is_max ? &s->max : &s->min;
	switch (k) {
	case PQW_BOOL: return cl_column_append_bool(c, v->i != 0, err);
	case PQW_INT: return cl_column_append_i64(c, v->i, err);
	case PQW_UINT: return cl_column_append_i64(c, (int64_t)v->u, err);
	case PQW_FLOAT: {
		double d = v->f;
		if (d == 0)
			d = is_max ? 0.0 : -0.0;
		return cl_column_append_f64(c, d, err);
	}
	case PQW_DEC: return cl_column_append_fixed(c, &v->d, err);
	case PQW_BYTES: {
		const cl_buf *b = is_max ? &s->bmax : &s->bmin;
		return cl_column_append_bytes(c, b->data ? b->data : (const uint8_t *)"",
					      b->len, err);
	}
	case PQW_NONE: break;
	}
	return cl_column_append_null(c, err);
}

int cl__pqw_build_file_stats(pqw_writer *p, cl_error *err)
{
	const cl_schema *s = p->w->schema;
	int rc;
	p->cstats = cl_calloc((size_t)p->nfields, sizeof *p->cstats);
	if (!p->cstats)
		return cl_error_set(err, CL_ENOMEM, "%s: out of memory", p->w->path);
	if ((rc = cl_batch_create(&p->smin, s, 1, err)) ||
	    (rc = cl_batch_create(&p->smax, s, 1, err)))
		return rc;
	for (int c = 0; c < p->nfields; c++) {
		const pqw_field *fd = &p->fields[c];
		if (fd->json) {
			/* a JSON column: NULL rows only, no bounds */
			p->cstats[c].null_count = fd->nulls;
			if ((rc = cl_column_append_null(&p->smin->cols[c], err)) ||
			    (rc = cl_column_append_null(&p->smax->cols[c], err)))
				return rc;
			continue;
		}
		const pqw_chunk *ch = &p->chunks[fd->first_chunk];
		const pqw_stats *fs = &ch->file_stats;
		p->cstats[c].null_count = fs->nulls;
		p->cstats[c].nan_count = fs->nans;
		p->cstats[c].has_min_max = fs->has && ch->d.kind != PQW_NONE;
		if ((rc = append_bound(&p->smin->cols[c], fs, ch->d.kind, false, err)) ||
		    (rc = append_bound(&p->smax->cols[c], fs, ch->d.kind, true, err)))
			return rc;
	}
	p->smin->nrows = p->smax->nrows = 1;
	p->stats_ready = true;
	return 0;
}
