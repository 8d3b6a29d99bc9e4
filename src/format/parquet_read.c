/*
 * parquet_read.c — open a Parquet file (footer, schema mapping) and stream
 * its rows as column batches (cl_reader for Parquet).
 *
 * Opening reads the 8-byte tail and the footer with pread, never trusting a
 * length before checking it against the file size, and decodes it
 * (parquet_meta.c). Each leaf column is then mapped onto a changelake type
 * (map_leaf) the way DuckDB reads it.
 *
 * The schema tree is planned into flat output columns (parquet_nested.h):
 * primitives outside lists and maps become typed columns named by their
 * dotted path ("add.path"), each list/map/repeated field one string column
 * of JSON text. A projection names output columns, or a struct to take all
 * the output columns under it ("add" = "add.path", "add.size", ...).
 *
 * Reading: the reader walks the selected row groups in order. At the start
 * of a row group it hands the byte range of each leaf column chunk it needs
 * to a cl__pq_col (parquet_page.c), which preads those bytes (and nothing
 * else) through a window as its pages are decoded;
 * each batch then takes up to batch_rows rows from every output column: a
 * typed column straight from its leaf, a JSON column from its leaves' level
 * streams (cl__pq_col_read_levels, cl__pq_json_assemble). A batch never
 * spans two row groups. Memory: a read window (about 1 MiB, or one page)
 * and one decompressed page per leaf, scratch for one batch, and the batch.
 *
 * Threads (cl_read_options.threads, or CL_THREADS in the environment): with
 * more than one and several row groups selected, row groups are decoded in
 * parallel by parquet_read_mt.c and handed out in file order; the decoding
 * itself (cl__pq_dec_*) is the same code for both.
 */
#include "parquet_format.h"
#include "parquet_reader.h"
#include "core/threads.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* parquet_page.c (belongs in parquet_decode.h): a decoding context's
 * staging buffer into the page-buffer pool when this thread uses it. */
void cl__pq_stage_release(cl_buf *b);

static int oom(cl_error *err)
{
	return cl_error_set(err, CL_ENOMEM, "out of memory");
}

int cl__pq_pread(const cl_parquet_file *f, void *buf, size_t n, int64_t offset,
		 cl_error *err)
{
	size_t done = 0;
	while (done < n) {
		ssize_t r = pread(f->fd, (char *)buf + done, n - done, (off_t)offset + (off_t)done);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return cl_error_set(err, CL_EIO, "%s: read error at offset %lld: %s",
					    f->path, (long long)(offset + (int64_t)done),
					    strerror(errno));
		}
		if (r == 0)
			return cl_error_set(err, CL_EFORMAT,
					    "%s: file ends at offset %lld, %zu bytes short",
					    f->path, (long long)(offset + (int64_t)done), n - done);
		done += (size_t)r;
	}
	return 0;
}

/* ---- mapping leaves to changelake types ---- */

static const char *unit_name(int u)
{
	return u == CL_UNIT_MS ? "MILLIS" : u == CL_UNIT_US ? "MICROS" : "NANOS";
}

static void set_why(cl__pq_leafmap *m, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set_why(cl__pq_leafmap *m, int code, const char *fmt, ...)
{
	va_list ap;
	m->supported = false;
	m->code = code;
	va_start(ap, fmt);
	vsnprintf(m->why, sizeof m->why, fmt, ap);
	va_end(ap);
}

static void map_decimal(cl__pq_leafmap *m, const char *path, int ptype, int32_t tl, int p,
			int s)
{
	snprintf(m->annotation, sizeof m->annotation, "DECIMAL(%d,%d)", p, s);
	if (p > 38) {
		set_why(m, CL_EUNSUPPORTED, "column '%s': %s: decimal precision over 38 not supported", path, m->annotation);
		return;
	}
	if (p < 1 || s < 0 || s > p) {
		set_why(m, CL_EFORMAT, "column '%s': invalid %s", path, m->annotation);
		return;
	}
	m->type = cl_type_decimal(p, s);
	switch (ptype) {
	case PQ_INT32: m->conv = CV_I32_DEC; break;
	case PQ_INT64: m->conv = CV_I64_DEC; break;
	case PQ_FIXED_LEN_BYTE_ARRAY:
		if (tl < 1 || tl > 64) {
			set_why(m, CL_EFORMAT, "column '%s': invalid FIXED_LEN_BYTE_ARRAY(%d) decimal", path, (int)tl);
			return;
		}
		m->conv = CV_FIX_DEC;
		break;
	case PQ_BYTE_ARRAY: m->conv = CV_BA_DEC; break;
	default:
		set_why(m, CL_EFORMAT, "column '%s': DECIMAL on %s is not valid", path,
			cl__pq_type_name(ptype));
		return;
	}
	m->supported = true;
}

static void map_leaf(const cl__pq_schema_elem *e, const cl__pq_leaf *l, cl__pq_leafmap *m)
{
	memset(m, 0, sizeof *m);
	m->supported = true;
	int pt = e->type;
	const cl__pq_logical *lt = &e->logical;
	int ct = e->converted;
	int kind = lt->kind;
	/* Logical types we do not know (newer writers): fall back to the rest. */
	if (kind == PQ_LT_UNKNOWN || kind > PQ_LT_FLOAT16 || kind == 9)
		kind = 0;
	if (kind == PQ_LT_DECIMAL || (!kind && ct == PQ_CT_DECIMAL)) {
		int p = kind ? lt->precision : e->precision;
		int s = kind ? lt->scale : (e->scale < 0 ? 0 : e->scale);
		map_decimal(m, l->path, pt, e->type_length, p, s);
		return;
	}
	switch (pt) {
	case PQ_BOOLEAN:
		m->type = cl_type_make(CL_BOOL);
		m->conv = CV_BOOL;
		return;
	case PQ_INT32: {
		int bw = 32;
		bool sign = true;
		if (kind == PQ_LT_INTEGER) {
			bw = lt->bit_width;
			sign = lt->is_signed;
		} else if (!kind && ct >= PQ_CT_UINT_8 && ct <= PQ_CT_INT_64) {
			static const int w[] = {8, 16, 32, 64, 8, 16, 32, 64};
			bw = w[ct - PQ_CT_UINT_8];
			sign = ct >= PQ_CT_INT_8;
		} else if (kind == PQ_LT_DATE || (!kind && ct == PQ_CT_DATE)) {
			m->type = cl_type_make(CL_DATE);
			m->conv = CV_COPY4;
			strcpy(m->annotation, "DATE");
			return;
		} else if (kind == PQ_LT_TIME || (!kind && ct == PQ_CT_TIME_MILLIS)) {
			int unit = kind ? lt->unit : CL_UNIT_MS;
			if (unit != CL_UNIT_MS) {
				set_why(m, CL_EFORMAT, "column '%s': TIME(%s) on INT32 is not valid", l->path, unit_name(unit));
				return;
			}
			m->type = cl_type_time(CL_UNIT_MS);
			m->conv = CV_I32_I64;
			strcpy(m->annotation, "TIME(MILLIS)");
			return;
		}
		if (kind == PQ_LT_INTEGER || ct >= PQ_CT_UINT_8)
			snprintf(m->annotation, sizeof m->annotation, "INT(%d,%s)", bw,
				 sign ? "signed" : "unsigned");
		switch (bw) {
		case 8:
			m->type = cl_type_make(sign ? CL_INT8 : CL_UINT8);
			m->conv = CV_I32_I8;
			return;
		case 16:
			m->type = cl_type_make(sign ? CL_INT16 : CL_UINT16);
			m->conv = CV_I32_I16;
			return;
		case 32:
			m->type = cl_type_make(sign ? CL_INT32 : CL_UINT32);
			m->conv = CV_COPY4;
			return;
		}
		set_why(m, CL_EFORMAT, "column '%s': %s on INT32 is not valid", l->path, m->annotation);
		return;
	}
	case PQ_INT64:
		if (kind == PQ_LT_TIMESTAMP ||
		    (!kind && (ct == PQ_CT_TIMESTAMP_MILLIS || ct == PQ_CT_TIMESTAMP_MICROS))) {
			int unit = kind ? lt->unit : ct == PQ_CT_TIMESTAMP_MILLIS ? CL_UNIT_MS
										  : CL_UNIT_US;
			bool utc = kind ? lt->utc : true;
			m->type = cl_type_timestamp((cl_time_unit)unit, utc);
			m->conv = CV_COPY8;
			snprintf(m->annotation, sizeof m->annotation, "TIMESTAMP(%s%s)",
				 unit_name(unit), utc ? ",utc" : "");
			return;
		}
		if (kind == PQ_LT_TIME || (!kind && ct == PQ_CT_TIME_MICROS)) {
			int unit = kind ? lt->unit : CL_UNIT_US;
			if (unit == CL_UNIT_MS) {
				set_why(m, CL_EFORMAT, "column '%s': TIME(MILLIS) on INT64 is not valid", l->path);
				return;
			}
			m->type = cl_type_time((cl_time_unit)unit);
			m->conv = CV_COPY8;
			snprintf(m->annotation, sizeof m->annotation, "TIME(%s)", unit_name(unit));
			return;
		}
		if (kind == PQ_LT_INTEGER || (!kind && ct >= PQ_CT_UINT_8 && ct <= PQ_CT_INT_64)) {
			bool sign = kind ? lt->is_signed : ct >= PQ_CT_INT_8;
			int bw = kind ? lt->bit_width : 64;
			if (!kind && ct != PQ_CT_UINT_64 && ct != PQ_CT_INT_64)
				bw = 0;
			snprintf(m->annotation, sizeof m->annotation, "INT(%d,%s)", bw,
				 sign ? "signed" : "unsigned");
			if (bw != 64) {
				set_why(m, CL_EFORMAT, "column '%s': %s on INT64 is not valid", l->path, m->annotation);
				return;
			}
			m->type = cl_type_make(sign ? CL_INT64 : CL_UINT64);
			m->conv = CV_COPY8;
			return;
		}
		m->type = cl_type_make(CL_INT64);
		m->conv = CV_COPY8;
		return;
	case PQ_INT96:
		m->type = cl_type_timestamp(CL_UNIT_US, false);
		m->conv = CV_INT96_TS;
		return;
	case PQ_FLOAT:
		m->type = cl_type_make(CL_FLOAT32);
		m->conv = CV_COPY4;
		return;
	case PQ_DOUBLE:
		m->type = cl_type_make(CL_FLOAT64);
		m->conv = CV_COPY8;
		return;
	case PQ_BYTE_ARRAY:
		if (kind == PQ_LT_STRING || kind == PQ_LT_ENUM || kind == PQ_LT_JSON ||
		    (!kind && (ct == PQ_CT_UTF8 || ct == PQ_CT_ENUM || ct == PQ_CT_JSON))) {
			m->type = cl_type_make(CL_STRING);
			m->conv = CV_BA_STR;
			strcpy(m->annotation, kind == PQ_LT_ENUM || ct == PQ_CT_ENUM ? "ENUM"
					      : kind == PQ_LT_JSON || ct == PQ_CT_JSON ? "JSON"
										 : "STRING");
			return;
		}
		m->type = cl_type_make(CL_BINARY);
		m->conv = CV_BA_BIN;
		return;
	case PQ_FIXED_LEN_BYTE_ARRAY:
		if (e->type_length < 0) {
			set_why(m, CL_EFORMAT, "column '%s' has a negative FIXED_LEN_BYTE_ARRAY width", l->path);
			return;
		}
		if (e->type_length > (1 << 20)) {
			set_why(m, CL_EFORMAT, "column '%s' has an absurd FIXED_LEN_BYTE_ARRAY width", l->path);
			return;
		}
		if (kind == PQ_LT_UUID) {
			if (e->type_length != 16) {
				set_why(m, CL_EFORMAT, "UUID column '%s' is not 16 bytes wide", l->path);
				return;
			}
			m->type = cl_type_make(CL_STRING);
			m->conv = CV_FIX_UUID;
			strcpy(m->annotation, "UUID");
			return;
		}
		if (kind == PQ_LT_FLOAT16) {
			if (e->type_length != 2) {
				set_why(m, CL_EFORMAT, "FLOAT16 column '%s' is not 2 bytes wide", l->path);
				return;
			}
			m->type = cl_type_make(CL_FLOAT32);
			m->conv = CV_FIX_F16;
			strcpy(m->annotation, "FLOAT16");
			return;
		}
		if (!kind && ct == PQ_CT_INTERVAL) {
			set_why(m, CL_EUNSUPPORTED, "INTERVAL column '%s' not supported yet", l->path);
			return;
		}
		if (e->type_length == 0) {
			set_why(m, CL_EFORMAT, "column '%s' has a zero FIXED_LEN_BYTE_ARRAY width", l->path);
			return;
		}
		m->type = cl_type_make(CL_BINARY);
		m->conv = CV_FIX_BIN;
		return;
	}
	set_why(m, CL_EFORMAT, "column '%s' has no physical type", l->path);
}

/* ---- the file ---- */

int cl_parquet_file_open(cl_parquet_file **out, const char *path, cl_error *err)
{
	*out = NULL;
	int rc = 0;
	cl_parquet_file *f = cl_calloc(1, sizeof *f);
	if (!f)
		return oom(err);
	f->fd = -1;
	f->path = cl_strdup(path);
	if (!f->path) {
		rc = oom(err);
		goto fail;
	}
	f->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (f->fd < 0) {
		rc = cl_error_set(err, errno == ENOENT ? CL_ENOTFOUND : CL_EIO, "%s: %s", path,
				  strerror(errno));
		goto fail;
	}
	struct stat st;
	if (fstat(f->fd, &st) != 0) {
		rc = cl_error_set(err, CL_EIO, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (S_ISDIR(st.st_mode)) {
		rc = cl_error_set(err, CL_EINVAL, "%s: is a directory", path);
		goto fail;
	}
	f->size = st.st_size;
	uint8_t head[4], tail[8];
	if (f->size < 12) {
		rc = cl_error_set(err, CL_EFORMAT,
				  "%s: not a Parquet file (%lld bytes, too short)", path,
				  (long long)f->size);
		goto fail;
	}
	if ((rc = cl__pq_pread(f, head, 4, 0, err)) || (rc = cl__pq_pread(f, tail, 8, f->size - 8, err)))
		goto fail;
	if (!memcmp(head, "PARE", 4) || !memcmp(tail + 4, "PARE", 4)) {
		rc = cl_error_set(err, CL_EUNSUPPORTED, "%s: encrypted Parquet not supported",
				  path);
		goto fail;
	}
	if (memcmp(head, "PAR1", 4) || memcmp(tail + 4, "PAR1", 4)) {
		rc = cl_error_set(err, CL_EFORMAT, "%s: not a Parquet file (no PAR1 magic %s)",
				  path, memcmp(head, "PAR1", 4) ? "at the start" : "at the end");
		goto fail;
	}
	uint32_t flen = (uint32_t)tail[0] | (uint32_t)tail[1] << 8 |
			(uint32_t)tail[2] << 16 | (uint32_t)tail[3] << 24;
	if ((int64_t)flen > f->size - 12) {
		rc = cl_error_set(err, CL_EFORMAT,
				  "%s: footer length %u does not fit in a %lld-byte file", path,
				  flen, (long long)f->size);
		goto fail;
	}
	if (flen == 0) {
		rc = cl_error_set(err, CL_EFORMAT, "%s: empty footer", path);
		goto fail;
	}
	f->footer_start = f->size - 8 - flen;
	uint8_t *footer = cl_malloc(flen);
	if (!footer) {
		rc = oom(err);
		goto fail;
	}
	if ((rc = cl__pq_pread(f, footer, flen, f->footer_start, err))) {
		cl_free(footer);
		goto fail;
	}
	rc = cl__pq_meta_decode(&f->meta, footer, flen, err);
	if (rc) {
		if (rc == CL_ENOMEM)
			goto fail;
		cl_error_prefix(err, "%s: %s", path,
				rc == CL_EUNSUPPORTED ? "" : "corrupt footer: ");
		goto fail;
	}
	cl__pq_meta *m = f->meta;
	f->map = cl_calloc((size_t)(m->nleaves ? m->nleaves : 1), sizeof *f->map);
	if (!f->map) {
		rc = oom(err);
		goto fail;
	}
	for (int i = 0; i < m->nleaves; i++)
		map_leaf(&m->schema[m->leaves[i].elem], &m->leaves[i], &f->map[i]);
	if ((rc = cl__pq_plan_build(&f->plan, m, err))) {
		if (rc != CL_ENOMEM)
			cl_error_prefix(err, "%s: ", path);
		goto fail;
	}
	int64_t total = 0;
	for (int g = 0; g < m->nrow_groups; g++) {
		if (__builtin_add_overflow(total, m->row_groups[g].num_rows, &total)) {
			rc = cl_error_set(err, CL_EFORMAT, "%s: row counts overflow", path);
			goto fail;
		}
	}
	/* Some writers get FileMetaData.num_rows wrong; the row groups count. */
	m->num_rows = total;
	*out = f;
	return 0;
fail:
	cl_parquet_file_free(f);
	return rc;
}

void cl_parquet_file_free(cl_parquet_file *f)
{
	if (!f)
		return;
	if (f->fd >= 0)
		close(f->fd);
	cl__pq_meta_free(f->meta);
	cl__pq_plan_release(&f->plan);
	cl_free(f->map);
	cl_buf_release(&f->min_text);
	cl_buf_release(&f->max_text);
	cl_free(f->path);
	cl_free(f);
}

int cl__pq_chunk_range(const cl_parquet_file *f, int rg, int col, int64_t *start,
		       int64_t *len, cl_error *err)
{
	const cl__pq_meta *m = f->meta;
	const cl__pq_column_chunk *cc = &m->row_groups[rg].columns[col];
	const char *name = m->leaves[col].path;
	const cl__pq_column_meta *cm = &cc->meta;
	if (cc->encrypted)
		return cl_error_set(err, CL_EUNSUPPORTED,
				    "%s: row group %d, column '%s': encrypted Parquet not supported",
				    f->path, rg, name);
	if (cc->file_path)
		return cl_error_set(err, CL_EUNSUPPORTED,
				    "%s: row group %d, column '%s': data in another file ('%s') "
				    "not supported",
				    f->path, rg, name, cc->file_path);
	if (!cc->has_meta)
		return cl_error_set(err, CL_EFORMAT,
				    "%s: row group %d, column '%s': no column metadata", f->path,
				    rg, name);
	if (cm->type != m->schema[m->leaves[col].elem].type)
		return cl_error_set(err, CL_EFORMAT,
				    "%s: row group %d, column '%s': chunk type %s differs from "
				    "the schema's %s",
				    f->path, rg, name, cl__pq_type_name(cm->type),
				    cl__pq_type_name(m->schema[m->leaves[col].elem].type));
	/* The chunk starts at its dictionary page when there is one. Some
	 * writers put 0 in data_page_offset and the real start in
	 * dictionary_page_offset, others 0 in dictionary_page_offset. */
	int64_t s = cm->data_page_offset;
	if (cm->dictionary_page_offset >= 4 && (cm->dictionary_page_offset < s || s < 4))
		s = cm->dictionary_page_offset;
	int64_t n = cm->total_compressed_size;
	if (s < 4 || n < 0 || s > f->footer_start || n > f->footer_start - s)
		return cl_error_set(err, CL_EFORMAT,
				    "%s: row group %d, column '%s': column chunk at offset %lld "
				    "of %lld bytes lies outside the data (which ends at %lld)",
				    f->path, rg, name, (long long)s, (long long)n,
				    (long long)f->footer_start);
	*start = s;
	*len = n;
	return 0;
}

/* ---- the reader ---- */

int cl__pq_dec_init(const cl__pq_reader *p, cl__pq_dec *d, cl_error *err)
{
	const cl__pq_meta *m = p->f->meta;
	memset(d, 0, sizeof *d);
	d->rg = -1;
	int n = p->npcols ? p->npcols : 1;
	d->pcols = cl_calloc((size_t)n, sizeof *d->pcols);
	d->lv = cl_calloc((size_t)n, sizeof *d->lv);
	if (!d->pcols || !d->lv)
		return oom(err);
	for (int i = 0; i < p->ncols; i++) {
		const cl__pq_outcol *oc = p->out[i].oc;
		for (int k = 0; k < oc->nleaves; k++) {
			int pc = p->out[i].pcol + k;
			cl__pq_col *c = &d->pcols[pc];
			const cl__pq_leaf *l = &m->leaves[p->leaf[pc]];
			const cl__pq_schema_elem *e = &m->schema[l->elem];
			c->file = p->f->path;
			c->name = l->path;
			c->ptype = e->type;
			c->type_length = e->type_length;
			c->max_def = l->max_def;
			c->max_rep = l->max_rep;
			c->conv = p->f->map[p->leaf[pc]].conv;
			c->type = p->f->map[p->leaf[pc]].type;
			c->batch_rows = p->batch_rows;
			c->stage = &d->stage;
			if (oc->json) {
				int rc = cl_column_init(&d->lv[pc].vals, p->f->map[p->leaf[pc]].type,
							0, err);
				if (rc)
					return rc;
			}
		}
	}
	return 0;
}

void cl__pq_dec_release(const cl__pq_reader *p, cl__pq_dec *d)
{
	for (int i = 0; d->pcols && i < p->npcols; i++)
		cl__pq_col_release(&d->pcols[i]);
	for (int i = 0; d->lv && i < p->npcols; i++)
		cl__pq_levels_release(&d->lv[i]);
	cl_free(d->pcols);
	cl_free(d->lv);
	cl_buf_release(&d->json);
	cl__pq_stage_release(&d->stage);
	memset(d, 0, sizeof *d);
}

int cl__pq_dec_start(const cl__pq_reader *p, cl__pq_dec *d, int pos, cl_error *err)
{
	int rg = p->rgs[pos];
	d->rg = rg;
	d->cur = 0;
	d->ri = 0;
	d->done = false;
	d->rg_rows = p->f->meta->row_groups[rg].num_rows;
	d->whole = (cl__pq_range){0, d->rg_rows};
	if (p->ranges && p->ranges[pos]) {
		d->ranges = p->ranges[pos];
		d->nranges = p->nranges[pos];
	} else {
		d->ranges = &d->whole;
		d->nranges = 1;
	}
	for (int i = 0; i < p->npcols; i++) {
		int64_t s, n;
		int rc = cl__pq_chunk_range(p->f, rg, p->leaf[i], &s, &n, err);
		if (rc)
			return rc;
		cl__pq_col *c = &d->pcols[i];
		c->rg = rg;
		c->rg_first_row = p->f->meta->row_groups[rg].first_row;
		c->codec = p->f->meta->row_groups[rg].columns[p->leaf[i]].meta.codec;
		if ((rc = cl__pq_col_begin(c, p->f, s, (size_t)n, err)))
			return rc;
	}
	return 0;
}

static int dec_finish(const cl__pq_reader *p, cl__pq_dec *d, cl_error *err)
{
	for (int i = 0; i < p->npcols; i++) {
		int rc = cl__pq_col_finish(&d->pcols[i], err);
		if (rc)
			return rc;
	}
	return 0;
}

static int read_json(const cl__pq_reader *p, cl__pq_dec *d, const cl__pq_out *o,
		     cl_column *dst, int64_t n, cl_error *err)
{
	int rc;
	for (int k = 0; k < o->oc->nleaves; k++)
		if ((rc = cl__pq_col_read_levels(&d->pcols[o->pcol + k], &d->lv[o->pcol + k], n,
						 err)))
			return rc;
	rc = cl__pq_json_assemble(p->f->meta, &p->f->plan, o->oc, &d->lv[o->pcol], n, dst,
				  &d->json, err);
	if (rc && rc != CL_ENOMEM)
		cl_error_prefix(err, "%s: row group %d, column '%s': ", p->f->path, d->rg,
				o->oc->name);
	return rc;
}

static int dec_read(const cl__pq_reader *p, cl__pq_dec *d, cl_batch *b, int64_t n,
		    cl_error *err)
{
	cl_batch_clear(b);
	for (int i = 0; i < p->ncols; i++) {
		const cl__pq_out *o = &p->out[i];
		int rc;
		if (o->oc->json)
			rc = read_json(p, d, o, &b->cols[i], n, err);
		else
			rc = cl__pq_col_read(&d->pcols[o->pcol], &b->cols[i], n, err);
		if (rc)
			return rc;
	}
	b->nrows = n;
	return 0;
}

int cl__pq_dec_next(const cl__pq_reader *p, cl__pq_dec *d, cl_batch *b, int64_t *n,
		    cl_error *err)
{
	int rc;
	*n = 0;
	if (d->done)
		return 0;
	while (d->ri < d->nranges && d->cur >= d->ranges[d->ri].end)
		d->ri++;
	/* rows before the next range (or after the last) are skipped; only
	 * page-index ranges leave any, and they come with flat columns only */
	int64_t to = d->ri < d->nranges ? d->ranges[d->ri].start : d->rg_rows;
	if (d->cur < to) {
		for (int i = 0; i < p->npcols; i++)
			if ((rc = cl__pq_col_skip(&d->pcols[i], to - d->cur, err)))
				return rc;
		d->cur = to;
	}
	if (d->ri == d->nranges) {
		d->done = true;
		return dec_finish(p, d, err);
	}
	int64_t k = d->ranges[d->ri].end - d->cur;
	if (k > p->batch_rows)
		k = p->batch_rows;
	if ((rc = dec_read(p, d, b, k, err)))
		return rc;
	d->cur += k;
	*n = k;
	return 0;
}

static int pq_next(cl_reader *r, cl_batch **out, cl_error *err)
{
	cl__pq_reader *p = r->impl;
	int rc;
	*out = NULL;
	if (p->nthreads > 1)
		return cl__pq_mt_next(p, out, err);
	for (;;) {
		if (p->rg_pos >= 0) {
			int64_t n;
			if ((rc = cl__pq_dec_next(p, &p->dec, p->batch, &n, err)))
				return rc;
			if (n > 0) {
				*out = p->batch;
				return 0;
			}
		}
		if (p->rg_pos + 1 >= p->nrgs)
			return 0;
		p->rg_pos++;
		if ((rc = cl__pq_dec_start(p, &p->dec, p->rg_pos, err)))
			return rc;
	}
}

static void pq_free(cl_reader *r)
{
	cl__pq_reader *p = r->impl;
	if (!p)
		return;
	cl__pq_mt_free(p);
	cl__pq_dec_release(p, &p->dec);
	cl_free(p->out);
	cl_free(p->leaf);
	for (int i = 0; p->ranges && i < p->nrgs; i++)
		cl_free(p->ranges[i]);
	cl_free(p->ranges);
	cl_free(p->nranges);
	cl_free(p->rgs);
	cl_batch_free(p->batch);
	if (p->own_file)
		cl_parquet_file_free(p->f);
	cl_free(p);
	r->impl = NULL;
}

static const cl__reader_ops pq_ops = {pq_next, pq_free};

/* Whether output column `name` is selected by projection entry `want`:
 * the same name, or a struct above it. */
static bool selects(const char *want, const char *name)
{
	size_t n = strlen(want);
	return !strncmp(want, name, n) && (name[n] == '\0' || name[n] == '.');
}

/* Add output column j to the reader (duplicate names are refused by the
 * schema). */
static int add_out(cl__pq_reader *p, cl_reader *r, int j, cl_error *err)
{
	cl_parquet_file *f = p->f;
	const cl__pq_outcol *oc = &f->plan.cols[j];
	const cl__pq_meta *m = f->meta;
	for (int k = 0; k < oc->nleaves; k++) {
		const cl__pq_leafmap *mp = &f->map[oc->first_leaf + k];
		if (!mp->supported) {
			if (oc->json)
				return cl_error_set(err, mp->code, "%s: column '%s': %s", f->path,
						    oc->name, mp->why);
			return cl_error_set(err, mp->code, "%s: %s", f->path, mp->why);
		}
	}
	cl_type t = oc->json ? cl_type_make(CL_STRING) : f->map[oc->first_leaf].type;
	const cl__pq_leaf *l = &m->leaves[oc->first_leaf];
	bool nullable = oc->json ? oc->parent_def > 0 ||
					   m->schema[oc->node].repetition == PQ_OPTIONAL
				 : l->max_def > 0;
	int rc = cl_schema_add(r->schema, oc->name, t, nullable, err);
	if (rc)
		return rc == CL_ENOMEM ? rc : cl_error_prefix(err, "%s: ", f->path);
	cl__pq_out *o = &p->out[p->ncols++];
	o->oc = oc;
	o->pcol = p->npcols;
	for (int k = 0; k < oc->nleaves; k++)
		p->leaf[p->npcols++] = oc->first_leaf + k;
	return 0;
}

/* Threads: opts.threads; when 0 (the default), CL_THREADS from the
 * environment (as for the writer: lets tests run reads on the pipeline). */
static int thread_count(const cl_read_options *o)
{
	return cl__threads_resolve(o ? o->threads : 0);
}

/* With popts->page_index: the rows of each selected row group that may
 * match (parquet_page_index.c); row groups left without rows are dropped. */
static int page_ranges(cl__pq_reader *p, const cl_parquet_read_options *po, cl_error *err)
{
	if (!po || !po->page_index || po->npredicates <= 0 || p->nrgs == 0)
		return 0;
	for (int i = 0; i < p->ncols; i++)
		if (p->out[i].oc->json)
			return 0; /* list/map columns are read whole (see parquet.h) */
	p->ranges = cl_calloc((size_t)p->nrgs, sizeof *p->ranges);
	p->nranges = cl_calloc((size_t)p->nrgs, sizeof *p->nranges);
	if (!p->ranges || !p->nranges)
		return oom(err);
	int keep = 0;
	for (int i = 0; i < p->nrgs; i++) {
		cl__pq_range *r;
		int n;
		int rc = cl__pq_row_ranges(p->f, p->rgs[i], po->predicates, po->npredicates, &r,
					   &n, err);
		if (rc)
			return rc;
		if (n == 0) {
			cl_free(r);
			continue;
		}
		p->rgs[keep] = p->rgs[i];
		p->ranges[keep] = r;
		p->nranges[keep] = n;
		keep++;
	}
	p->nrgs = keep;
	return 0;
}

static int open_impl(cl_reader *r, cl_parquet_file *f, bool own, const cl_read_options *o,
		     const cl_parquet_read_options *po, cl_error *err)
{
	cl__pq_meta *m = f->meta;
	const cl__pq_plan *plan = &f->plan;
	cl__pq_reader *p = cl_calloc(1, sizeof *p);
	if (!p) {
		if (own)
			cl_parquet_file_free(f);
		return oom(err);
	}
	r->impl = p;
	r->ops = &pq_ops;
	p->f = f;
	p->own_file = own;
	p->rg_pos = -1;
	p->dec.rg = -1;
	p->batch_rows = o && o->batch_rows > 0 ? o->batch_rows : 65536;
	if (p->batch_rows > (1 << 24))
		p->batch_rows = 1 << 24;
	p->nthreads = thread_count(o);
	int rc = cl_schema_create(&r->schema, err);
	if (rc)
		return rc;
	p->schema = r->schema;
	/* a projection entry may select several output columns */
	int nsel = 0;
	if (o && o->columns) {
		for (int i = 0; i < o->ncolumns; i++) {
			int hits = 0;
			for (int j = 0; j < plan->ncols; j++)
				hits += selects(o->columns[i], plan->cols[j].name);
			if (!hits)
				return cl_error_set(err, CL_ENOTFOUND, "%s: no column '%s'", f->path,
						    o->columns[i]);
			nsel += hits;
		}
	} else
		nsel = plan->ncols;
	p->out = cl_calloc((size_t)(nsel ? nsel : 1), sizeof *p->out);
	p->leaf = cl_calloc((size_t)(m->nleaves ? m->nleaves : 1) * (size_t)(nsel ? nsel : 1),
			    sizeof *p->leaf);
	if (!p->out || !p->leaf)
		return oom(err);
	if (o && o->columns) {
		for (int i = 0; i < o->ncolumns; i++)
			for (int j = 0; j < plan->ncols; j++)
				if (selects(o->columns[i], plan->cols[j].name) &&
				    (rc = add_out(p, r, j, err)))
					return rc;
	} else {
		for (int j = 0; j < plan->ncols; j++)
			if ((rc = add_out(p, r, j, err)))
				return rc;
	}
	if ((rc = cl__pq_dec_init(p, &p->dec, err)))
		return rc;
	/* row group selection */
	int nrg = po && po->row_groups ? po->nrow_groups : m->nrow_groups;
	p->rgs = cl_calloc((size_t)(nrg > 0 ? nrg : 1), sizeof *p->rgs);
	if (!p->rgs)
		return oom(err);
	for (int i = 0; i < nrg; i++) {
		int rg = po && po->row_groups ? po->row_groups[i] : i;
		if (rg < 0 || rg >= m->nrow_groups)
			return cl_error_set(err, CL_EINVAL, "%s: no row group %d (the file has %d)",
					    f->path, rg, m->nrow_groups);
		if (po && po->npredicates > 0) {
			bool may;
			rc = cl_parquet_file_row_group_may_match(f, rg, po->predicates,
								 po->npredicates, &may, err);
			if (rc)
				return rc;
			if (!may)
				continue;
		}
		p->rgs[p->nrgs++] = rg;
	}
	if ((rc = page_ranges(p, po, err)))
		return rc;
	int64_t total = 0;
	for (int i = 0; i < p->nrgs; i++) {
		if (!p->ranges || !p->ranges[i])
			total += m->row_groups[p->rgs[i]].num_rows;
		else
			for (int k = 0; k < p->nranges[i]; k++)
				total += p->ranges[i][k].end - p->ranges[i][k].start;
	}
	r->total_rows = total;
	/* one row group: nothing to share between threads */
	if (p->nrgs < 2)
		p->nthreads = 1;
	if (p->nthreads > p->nrgs)
		p->nthreads = p->nrgs;
	return cl_batch_create(&p->batch, r->schema, 0, err);
}

int cl__parquet_reader_open(struct cl_reader *r, const cl_read_options *o, cl_error *err)
{
	cl_parquet_file *f;
	int rc = cl_parquet_file_open(&f, r->path, err);
	if (rc)
		return rc;
	return open_impl(r, f, true, o, NULL, err);
}

int cl_parquet_reader_open(cl_reader **out, const char *path, const cl_read_options *opts,
			   const cl_parquet_read_options *popts, cl_error *err)
{
	*out = NULL;
	cl_reader *r = cl_calloc(1, sizeof *r);
	if (!r)
		return oom(err);
	r->format = CL_FORMAT_PARQUET;
	r->total_rows = -1;
	r->path = cl_strdup(path);
	if (!r->path) {
		cl_free(r);
		return oom(err);
	}
	cl_parquet_file *f;
	int rc = cl_parquet_file_open(&f, path, err);
	if (!rc)
		rc = open_impl(r, f, true, opts, popts, err);
	if (rc) {
		cl_reader_free(r);
		return rc;
	}
	*out = r;
	return 0;
}
