/*
 * parquet_write.c — changelake's Parquet writer: the cl_writer format
 * plug-in (see format_impl.h), row groups, pages and the file layout.
 *
 * File layout:  "PAR1" | row group 0 | row group 1 | ... | FileMetaData |
 *               footer length (4 bytes LE) | "PAR1"
 * Row group:    for each column in schema order: [dictionary page] then
 *               its data pages.
 *
 * State machine of one writer:
 *   open      "PAR1" written, every column chunk empty
 *   write     rows are appended slice by slice to every column chunk
 *             (append_slice); a page is closed (flush_page) at the page
 *             size; the row group is closed (flush_row_group) at the row or
 *             byte limit, and only then reaches the file
 *   finish    the last row group and the footer are written
 *   failed    an error in the middle of a batch leaves the chunks
 *             inconsistent: every later write/finish fails, and io.c removes
 *             the partial file when the writer is freed
 *
 * Dictionary encoding: each chunk starts dictionary encoded (when the type
 * allows it); when the dictionary's PLAIN size passes
 * opts.dictionary_page_bytes the open page is closed and the rest of the
 * chunk is PLAIN (what parquet-mr and Arrow do). Before that, a chunk whose
 * first 16,384 non-null values are more than half distinct goes PLAIN at
 * once (the dictionary probe, see PQW_DICT_PROBE). A chunk whose dictionary
 * overflowed or failed the probe makes the next row group's chunk of that
 * column start PLAIN, so high-cardinality columns do not pay for hashing in
 * every row group.
 * Threads: with opts.threads = N (0: CL_THREADS=N from the environment,
 * else 1), each slice of rows
 * is encoded and compressed by up to N threads, one column at a time per
 * thread (encode_slice); the file's bytes do not depend on N.
 *
 * Data pages use RLE_DICTIONARY, the dictionary page PLAIN (Arrow's choice
 * for v1 and v2 pages); the column's encoding_stats say exactly which pages
 * are dictionary encoded, for readers that filter on dictionaries.
 */
#include "parquet_write_impl.h"
#include "parquet_codec.h"
#include "thrift_write.h"
#include "core/threads.h"

#include <errno.h>
#include <pthread.h>
#include <snappy-c.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>

/* At most this many values (nulls included) per data page. */
#define PQW_PAGE_MAX_VALUES (1 << 20)
/* Most threads one writer uses to encode columns. */
#define PQW_MAX_THREADS 16

int cl__pqw_col_error(pqw_writer *p, int col, cl_error *err, int code,
		      const char *fmt, ...)
{
	char msg[640];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return cl_error_set(err, code, "%s: column '%s': %s", p->w->path,
			    p->w->schema->fields[col].name, msg);
}

int cl__pqw_oom(pqw_writer *p, cl_error *err)
{
	return cl_error_set(err, CL_ENOMEM, "%s: out of memory", p->w->path);
}

static int out_write(pqw_writer *p, const void *data, size_t n, cl_error *err)
{
	if (n && fwrite(data, 1, n, p->w->out) != n)
		return cl_error_set(err, CL_EIO, "%s: write failed: %s", p->w->path,
				    strerror(errno));
	p->pos += (int64_t)n;
	return 0;
}

/* Grow *arr (capacity *cap elements of elem bytes) to hold need; large
 * arrays move into a pooled buffer (see cl__pqw_pool_take), which
 * free_array gives back. */
int cl__pqw_grow_array(void **arr, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return 0;
	size_t n = *cap ? *cap : 1024;
	while (n < need)
		n *= 2;
	size_t bytes;
	void *q = cl__pqw_pool_take(n * elem, &bytes);
	if (q) {
		if (*cap)
			memcpy(q, *arr, *cap * elem);
		cl__pqw_pool_give(*arr, *cap * elem);
		*arr = q;
		*cap = bytes / elem;
		return 0;
	}
	q = cl_realloc(*arr, n * elem);
	if (!q)
		return CL_ENOMEM;
	*arr = q;
	*cap = n;
	return 0;
}

static void free_array(void *arr, size_t cap, size_t elem)
{
	cl__pqw_pool_give(arr, cap * elem);
}

/* Give a buffer's memory to the pool; b is left empty. */
void cl__pqw_buf_give(cl_buf *b)
{
	cl__pqw_pool_give(b->data, b->cap);
	memset(b, 0, sizeof *b);
}

/* Compress with the file's codec, appending to out. */
int cl__pqw_compress(pqw_writer *p, const pqw_chunk *ch, const uint8_t *src, size_t n,
		    cl_buf *out, cl_error *err)
{
	cl_error e = {0};
	const cl_write_options *o = &p->w->opts;
	int rc = cl__codec_compress(o->compression, o->compression_level, src, n, out, &e);
	if (rc)
		return cl__pqw_col_error(p, ch->col, err, rc, "%s", e.message);
	return 0;
}

/* ---------- appending rows ---------- */

/*
 * Dictionary probe: when a chunk's first PQW_DICT_PROBE non-null values
 * are more than half distinct (ids, timestamps, free text), the dictionary
 * would mostly cost hashing and then overflow anyway: the open page is
 * turned into PLAIN values (dict_to_plain) and the rest of the chunk, and
 * the next row groups' chunks of the column, are PLAIN. A 5,000-value
 * column shows at most ~30% distinct values in 16,384 and stays dictionary
 * encoded. The decision depends only on the column's values, so the file
 * is the same whatever the thread count.
 */
#define PQW_DICT_PROBE 16384

/* The open page's dictionary indices as PLAIN values; the chunk goes on
 * PLAIN. Its dictionary stays when earlier pages use it. */
static int dict_to_plain(const pqw_writer *p, pqw_chunk *ch)
{
	const cl__dict *d = &ch->dict;
	const uint8_t *dv = d->values.data;
	size_t bytes = 0;
	if (d->width) {
		bytes = ch->nidx * (size_t)d->width;
	} else {
		for (size_t i = 0; i < ch->nidx; i++) {
			uint32_t n;
			memcpy(&n, dv + d->voff[ch->idx[i]], 4);
			bytes += 4 + (size_t)n;
		}
	}
	if (cl__pqw_plain_reserve(p, ch, bytes))
		return CL_ENOMEM;
	uint8_t *q = ch->plain.data + ch->plain.len;
	if (d->width == 8) {
		for (size_t i = 0; i < ch->nidx; i++)
			memcpy(q + 8 * i, dv + 8 * (size_t)ch->idx[i], 8);
	} else if (d->width == 4) {
		for (size_t i = 0; i < ch->nidx; i++)
			memcpy(q + 4 * i, dv + 4 * (size_t)ch->idx[i], 4);
	} else if (d->width) {
		size_t w = (size_t)d->width;
		for (size_t i = 0; i < ch->nidx; i++)
			memcpy(q + w * i, dv + w * (size_t)ch->idx[i], w);
	} else {
		for (size_t i = 0; i < ch->nidx; i++) {
			const uint8_t *e = dv + d->voff[ch->idx[i]];
			uint32_t n;
			memcpy(&n, e, 4);
			memcpy(q, e, 4 + (size_t)n);
			q += 4 + (size_t)n;
		}
	}
	ch->plain.len += bytes;
	ch->plain.data[ch->plain.len] = 0;
	ch->nidx = 0;
	ch->use_dict = false;
	ch->fell_back = true;
	/* Unused by any page: its memory (hash table, values) goes back now,
	 * for the other open files' dictionaries to grow into, instead of
	 * staying dirty until the chunk's row group is written. */
	if (ch->n_dict_pages == 0)
		cl__dict_release(&ch->dict);
	return 0;
}

/*
 * Append m (<= PQW_MINI) entries to the open page: values col[off, off + m)
 * (NULL where an entry is below the max definition level), their definition
 * levels def[0..m) (NULL: 0/1 from col's validity) and repetition levels
 * rep[0..m) (NULL: every entry starts a row). row0 names the first row in
 * messages.
 */
static int append_entries(pqw_writer *p, pqw_scratch *sc, pqw_chunk *ch, const cl_column *col,
			  int64_t off, int64_t m, const uint8_t *def, const uint8_t *rep,
			  int64_t row0, cl_error *err)
{
	const uint8_t *valid = col->null_count > 0 ? col->validity : NULL;
	const bool nulltype = col->type.id == CL_NULLTYPE;
	int64_t nulls = 0, rows = m;
	int rc = 0;
	if (ch->max_def > 0) {
		if (cl__pqw_grow_array((void **)&ch->levels, &ch->levels_cap,
			       (size_t)(ch->page_values + m), 1))
			return cl__pqw_oom(p, err);
		uint8_t *lv = ch->levels + ch->page_values;
		if (def) {
			memcpy(lv, def, (size_t)m);
			for (int64_t i = 0; i < m; i++)
				nulls += lv[i] < ch->max_def;
		} else if (nulltype) {
			memset(lv, 0, (size_t)m);
			nulls = m;
		} else if (!valid) {
			memset(lv, 1, (size_t)m);
		} else {
			for (int64_t i = 0; i < m; i++) {
				uint8_t b = cl_bit_get(valid, off + i);
				lv[i] = b;
				nulls += !b;
			}
		}
	} else if (valid) {
		for (int64_t i = 0; i < m; i++)
			if (!cl_bit_get(valid, off + i))
				return cl__pqw_col_error(p, ch->col, err, CL_ETYPE,
							 "row %lld: null in a column declared not null",
							 (long long)(row0 + i));
	}
	if (ch->max_rep > 0) {
		if (cl__pqw_grow_array((void **)&ch->rlevels, &ch->rlevels_cap,
			       (size_t)(ch->page_values + m), 1))
			return cl__pqw_oom(p, err);
		uint8_t *rl = ch->rlevels + ch->page_values;
		if (rep) {
			memcpy(rl, rep, (size_t)m);
			rows = 0;
			for (int64_t i = 0; i < m; i++)
				rows += rl[i] == 0;
		} else {
			memset(rl, 0, (size_t)m);
		}
	}
	size_t k = 0;
	/* fixed-width PLAIN values are gathered straight into the page */
	const bool direct = !ch->use_dict && ch->d.width > 0 && ch->d.phys != PQ_BOOLEAN;
	uint8_t *gather = sc->gather;
	if (direct) {
		if (cl__pqw_plain_reserve(p, ch, (size_t)m * (size_t)ch->d.width))
			return cl__pqw_oom(p, err);
		sc->gather = ch->plain.data + ch->plain.len;
	}
	if (!nulltype)
		rc = cl__pqw_gather(p, sc, ch, col, off, m, row0, &k, err);
	sc->gather = gather;
	if (rc)
		return rc;
	if (direct) {
		ch->plain.len += k * (size_t)ch->d.width;
		ch->plain.data[ch->plain.len] = 0;
	} else if (k && ch->use_dict) {
		if (cl__pqw_grow_array((void **)&ch->idx, &ch->idx_cap, ch->nidx + k, sizeof *ch->idx))
			return cl__pqw_oom(p, err);
		if (ch->d.kind == PQW_BYTES)
			rc = cl__dict_put_bytes(&ch->dict, sc->refs, k, ch->idx + ch->nidx);
		else
			rc = cl__dict_put_fixed(&ch->dict, sc->gather, k, ch->idx + ch->nidx);
		if (rc)
			return cl__pqw_oom(p, err);
		ch->nidx += k;
		/* non-null values dictionary encoded in this chunk so far */
		int64_t seen = ch->num_values - ch->chunk_stats.nulls + (int64_t)ch->nidx;
		if (seen - (int64_t)k < PQW_DICT_PROBE && seen >= PQW_DICT_PROBE &&
		    (int64_t)ch->dict.n * 2 > seen && (rc = dict_to_plain(p, ch)))
			return cl__pqw_oom(p, err);
	} else if (k && ch->d.kind == PQW_BYTES) {
		size_t bytes = 4 * k;
		for (size_t i = 0; i < k; i++)
			bytes += sc->refs[i].n;
		if (cl__pqw_plain_reserve(p, ch, bytes))
			return cl__pqw_oom(p, err);
		uint8_t *q = ch->plain.data + ch->plain.len;
		for (size_t i = 0; i < k; i++) {
			uint32_t len = sc->refs[i].n;
			memcpy(q, &len, 4);
			cl__copy_short(q + 4, sc->refs[i].p, len);
			q += 4 + (size_t)len;
		}
		ch->plain.len += bytes;
		ch->plain.data[ch->plain.len] = 0;
	}
	ch->page_values += m;
	ch->page_nulls += nulls;
	ch->page_stats.nulls += nulls;
	ch->page_rows += rows;
	return 0;
}

/* Close the open page when it is full (only called at row boundaries). */
static int check_page(pqw_writer *p, pqw_scratch *sc, pqw_chunk *ch, cl_error *err)
{
	const cl_write_options *o = &p->w->opts;
	int rc;
	if (ch->use_dict && (int64_t)cl__dict_bytes(&ch->dict) > o->dictionary_page_bytes) {
		if ((rc = cl__pqw_flush_page(p, sc, ch, err)))
			return rc;
		ch->use_dict = false;
		ch->fell_back = true;
	} else if (cl__pqw_page_estimate(ch) >= o->page_bytes ||
		   ch->page_values >= PQW_PAGE_MAX_VALUES) {
		if ((rc = cl__pqw_flush_page(p, sc, ch, err)))
			return rc;
	}
	return 0;
}

/* Append rows [off, off + n) of typed column col (field f, file rows
 * row0...) to its chunk. */
static int append_slice(pqw_writer *p, pqw_scratch *sc, int f, const cl_column *col,
			int64_t off, int64_t n, int64_t row0, cl_error *err)
{
	const pqw_field *fd = &p->fields[f];
	pqw_chunk *ch = &p->chunks[fd->first_chunk];
	const uint8_t *valid = col->null_count > 0 ? col->validity : NULL;
	const bool nulltype = col->type.id == CL_NULLTYPE;
	const int64_t mini = ch->mini;
	int rc;
	while (n > 0) {
		int64_t m = n < mini ? n : mini;
		const uint8_t *def = NULL;
		if (fd->nanc) {
			/* inside optional structs: a NULL is defined as far as
			 * the structs around it are present */
			for (int64_t i = 0; i < m; i++)
				sc->lv[i] = !nulltype && (!valid || cl_bit_get(valid, off + i))
						    ? (uint8_t)ch->max_def
						    : cl__pqw_parent_def(p, fd, off + i - p->slice_off);
			def = sc->lv;
		}
		if ((rc = append_entries(p, sc, ch, col, off, m, def, NULL, row0, err)) ||
		    (rc = check_page(p, sc, ch, err)))
			return rc;
		off += m;
		n -= m;
		row0 += m;
	}
	return 0;
}

/* pqw_append_fn for shredded JSON columns: n entries of one leaf. */
static int append_nested(pqw_writer *p, pqw_scratch *sc, pqw_chunk *ch, const cl_column *vals,
			 int64_t n, const uint8_t *def, const uint8_t *rep, int64_t row0,
			 cl_error *err)
{
	for (int64_t o = 0; o < n; o += PQW_MINI) {
		int64_t m = n - o < PQW_MINI ? n - o : PQW_MINI;
		int rc = append_entries(p, sc, ch, vals, o, m, def + o, rep + o, row0, err);
		if (rc)
			return rc;
	}
	return check_page(p, sc, ch, err);
}

/* Rows [off, off + n) of field f's column. */
static int append_field(pqw_writer *p, pqw_scratch *sc, int f, const cl_column *col,
			int64_t off, int64_t n, int64_t row0, cl_error *err)
{
	if (p->fields[f].json)
		return cl__pqw_shred(p, sc, f, col, off, n, row0, append_nested, err);
	return append_slice(p, sc, f, col, off, n, row0, err);
}

/* Uncompressed bytes of the open row group (the row_group_bytes measure). */
static int64_t row_group_bytes(const pqw_writer *p)
{
	int64_t n = 0;
	for (int c = 0; c < p->ncols; c++) {
		const pqw_chunk *ch = &p->chunks[c];
		n += ch->uncompressed + cl__pqw_page_estimate(ch);
		if (ch->n_dict_pages || ch->use_dict)
			n += (int64_t)cl__dict_bytes(&ch->dict);
	}
	return n;
}

/* ---------- row groups ---------- */

static int write_dict_page(pqw_writer *p, pqw_chunk *ch, cl_error *err)
{
	const cl_write_options *o = &p->w->opts;
	pqw_scratch *sc = &p->scratch[0];
	const cl_buf *vals = &ch->dict.values;
	const uint8_t *body = vals->data;
	size_t blen = vals->len;
	int rc;
	if (o->compression != CL_CODEC_UNCOMPRESSED) {
		cl_buf_clear(&sc->comp);
		if ((rc = cl__pqw_compress(p, ch, vals->data, vals->len, &sc->comp, err)))
			return rc;
		body = sc->comp.data;
		blen = sc->comp.len;
	}
	if (vals->len > INT32_MAX || blen > INT32_MAX)
		return cl__pqw_col_error(p, ch->col, err, CL_EINVAL,
					 "dictionary page too large");
	cl__tw t;
	cl_buf_clear(&sc->head);
	cl__tw_init(&t, &sc->head);
	cl__tw_i32(&t, 1, PQ_PAGE_DICTIONARY);
	cl__tw_i32(&t, 2, (int32_t)vals->len);
	cl__tw_i32(&t, 3, (int32_t)blen);
	cl__tw_struct_begin(&t, 7);
	cl__tw_i32(&t, 1, (int32_t)ch->dict.n);
	cl__tw_i32(&t, 2, PQ_ENC_PLAIN);
	cl__tw_bool(&t, 3, false);
	cl__tw_struct_end(&t);
	if ((rc = cl__tw_finish(&t)))
		return rc == CL_ENOMEM ? cl__pqw_oom(p, err) : cl_error_set(err, rc, "thrift");
	if ((rc = out_write(p, sc->head.data, sc->head.len, err)) ||
	    (rc = out_write(p, body, blen, err)))
		return rc;
	ch->uncompressed += (int64_t)(sc->head.len + vals->len);
	ch->compressed += (int64_t)(sc->head.len + blen);
	return 0;
}

static int flush_row_group(pqw_writer *p, cl_error *err)
{
	int rc;
	if (p->rg_rows == 0)
		return 0;
	for (int c = 0; c < p->ncols; c++)
		if ((rc = cl__pqw_flush_page(p, &p->scratch[0], &p->chunks[c], err)))
			return rc;
	int64_t rg_start = p->pos;
	int64_t *dict_off = p->chunk_offsets;
	int64_t *data_off = p->chunk_offsets + p->ncols;
	for (int c = 0; c < p->ncols; c++) {
		pqw_chunk *ch = &p->chunks[c];
		dict_off[c] = -1;
		if (ch->n_dict_pages > 0) {
			dict_off[c] = p->pos;
			if ((rc = write_dict_page(p, ch, err)))
				return rc;
		}
		data_off[c] = p->pos;
		for (size_t i = 0; i < ch->npages; i++) {
			if ((rc = out_write(p, ch->pages[i].data + ch->pages[i].off,
					    ch->pages[i].len, err)))
				return rc;
			/* Give the memory back as soon as the page is in the file. */
			cl__pqw_pool_give(ch->pages[i].data, ch->pages[i].cap);
			ch->pages[i].data = NULL;
		}
		ch->npages = 0;
	}
	if ((rc = cl__pqw_rowgroup_meta(p, dict_off, data_off, rg_start, err)))
		return rc;
	for (int c = 0; c < p->ncols; c++) {
		pqw_chunk *ch = &p->chunks[c];
		if (cl__pqw_stats_merge(&ch->file_stats, &ch->chunk_stats, ch->d.kind))
			return cl__pqw_oom(p, err);
		cl__pqw_stats_reset(&ch->chunk_stats);
		ch->num_values = ch->uncompressed = ch->compressed = 0;
		ch->n_dict_pages = ch->n_plain_pages = 0;
		ch->prev_fell_back = ch->fell_back;
		ch->fell_back = false;
		cl__dict_reset(&ch->dict);
		ch->use_dict = ch->d.dict_ok && !ch->prev_fell_back;
	}
	p->rg_rows = 0;
	p->nrow_groups++;
	return 0;
}

/* ---------- cl_writer operations ---------- */

/*
 * Encoding one slice of rows on several threads: the columns are handed out
 * one at a time (an atomic counter), each thread with its own scratch. A
 * column is only ever touched by one thread, and each column's pages come
 * out exactly as they would on one thread, so the file is the same bytes
 * whatever the thread count.
 */
typedef struct slice_job {
	pqw_writer *p;
	const cl_batch *b;
	int64_t off, take, row0;
	atomic_int next;
	atomic_bool stop;
} slice_job;

typedef struct slice_worker {
	slice_job *job;
	int tid;
	int rc;
	int col;      /* column of the error */
	cl_error err;
	pthread_t th;
} slice_worker;

static void *slice_work(void *arg)
{
	slice_worker *sw = arg;
	slice_job *j = sw->job;
	pqw_writer *p = j->p;
	while (!atomic_load(&j->stop)) {
		int c = atomic_fetch_add(&j->next, 1);
		if (c >= p->nfields)
			break;
		int rc = append_field(p, &p->scratch[sw->tid], c, &j->b->cols[c], j->off, j->take,
				      j->row0, &sw->err);
		if (rc) {
			sw->rc = rc;
			sw->col = c;
			atomic_store(&j->stop, true);
		}
	}
	return NULL;
}

/* Give rows [off, off + take) of b to every column chunk. */
static int encode_slice(pqw_writer *p, const cl_batch *b, int64_t off, int64_t take,
			cl_error *err)
{
	int nt = p->nthreads < p->nfields ? p->nthreads : p->nfields;
	if (take < PQW_MINI)
		nt = 1; /* not worth a thread */
	cl__pqw_presence(p, b, off, take);
	if (nt <= 1) {
		for (int c = 0; c < p->nfields; c++) {
			int rc = append_field(p, &p->scratch[0], c, &b->cols[c], off, take, p->rows,
					      err);
			if (rc)
				return rc;
		}
		return 0;
	}
	slice_job j = {.p = p, .b = b, .off = off, .take = take, .row0 = p->rows};
	atomic_init(&j.next, 0);
	atomic_init(&j.stop, false);
	slice_worker sw[PQW_MAX_THREADS];
	memset(sw, 0, sizeof sw);
	int started = 1;
	for (int t = 0; t < nt; t++) {
		sw[t].job = &j;
		sw[t].tid = t;
	}
	for (int t = 1; t < nt; t++, started++)
		if (pthread_create(&sw[t].th, NULL, slice_work, &sw[t]) != 0)
			break; /* fewer threads: the others take more columns */
	slice_work(&sw[0]);
	for (int t = 1; t < started; t++)
		pthread_join(sw[t].th, NULL);
	int best = -1;
	for (int t = 0; t < started; t++)
		if (sw[t].rc && (best < 0 || sw[t].col < sw[best].col))
			best = t;
	if (best < 0)
		return 0;
	if (err)
		*err = sw[best].err;
	return sw[best].rc;
}

/* Checks of a batch before its rows are written. */
static int check_batch(pqw_writer *p, const cl_batch *b, cl_error *err)
{
	if (p->failed)
		return cl_error_set(err, CL_EINVAL, "%s: writer failed earlier", p->w->path);
	for (int c = 0; c < p->nfields; c++)
		if (b->cols[c].length < b->nrows)
			return cl__pqw_col_error(p, c, err, CL_EINVAL,
						 "batch column has %lld values for %lld rows",
						 (long long)b->cols[c].length, (long long)b->nrows);
	return 0;
}

/* Append rows [off, end) of b (checked) to the open row group(s). */
static int write_rows(pqw_writer *p, const cl_batch *b, int64_t off, int64_t end,
		      cl_error *err)
{
	const cl_write_options *o = &p->w->opts;
	int rc;
	while (off < end) {
		int64_t take = end - off;
		if (take > o->row_group_rows - p->rg_rows)
			take = o->row_group_rows - p->rg_rows;
		if (take > PQW_SLICE_ROWS)
			take = PQW_SLICE_ROWS;
		if ((rc = encode_slice(p, b, off, take, err)))
			goto fail;
		p->rows += take;
		p->rg_rows += take;
		off += take;
		if (p->rg_rows >= o->row_group_rows || row_group_bytes(p) >= o->row_group_bytes)
			if ((rc = flush_row_group(p, err)))
				goto fail;
	}
	return 0;
fail:
	p->failed = true;
	return rc;
}

static int pq_write(struct cl_writer *w, const cl_batch *b, cl_error *err)
{
	pqw_writer *p = w->impl;
	int rc = check_batch(p, b, err);
	return rc ? rc : write_rows(p, b, 0, b->nrows, err);
}

static const cl__writer_ops pq_ops;

/* The chunk of a typed (not JSON) field f of a Parquet writer, or NULL. */
static pqw_chunk *field_chunk(const struct cl_writer *w, int f)
{
	if (w->ops != &pq_ops || !w->impl)
		return NULL;
	const pqw_writer *p = w->impl;
	if (f < 0 || f >= p->nfields || p->fields[f].json)
		return NULL;
	return &p->chunks[p->fields[f].first_chunk];
}

void cl__parquet_writer_fell_back(const struct cl_writer *w, bool *plain, int n)
{
	for (int f = 0; f < n; f++) {
		const pqw_chunk *ch = field_chunk(w, f);
		plain[f] = ch && (ch->fell_back || ch->prev_fell_back);
	}
}

void cl__parquet_writer_start_plain(struct cl_writer *w, const bool *plain, int n)
{
	const pqw_writer *p = w->ops == &pq_ops ? w->impl : NULL;
	if (!p || p->rows > 0)
		return;
	for (int f = 0; f < n; f++) {
		pqw_chunk *ch = field_chunk(w, f);
		if (!ch)
			continue;
		ch->prev_fell_back = plain[f];
		ch->use_dict = ch->d.dict_ok && !plain[f];
	}
}

int cl__parquet_writer_write_runs(struct cl_writer *w, const cl_batch *b, const int64_t *runs,
				  int64_t nruns, cl_error *err)
{
	if (w->ops != &pq_ops)
		return cl_error_set(err, CL_EINTERNAL, "%s: not a Parquet writer", w->path);
	if (w->closed)
		return cl_error_set(err, CL_EINVAL, "%s: writer already closed", w->path);
	if (b->ncols != w->schema->nfields)
		return cl_error_set(err, CL_ESCHEMA, "%s: batch has %d columns, schema has %d",
				    w->path, b->ncols, w->schema->nfields);
	for (int i = 0; i < b->ncols; i++)
		if (!cl_type_equal(b->cols[i].type, w->schema->fields[i].type))
			return cl_error_set(err, CL_ESCHEMA,
					    "%s: column '%s' of the batch has another type than the "
					    "schema", w->path, w->schema->fields[i].name);
	int64_t prev = 0;
	for (int64_t i = 0; i < nruns; i++) {
		int64_t a = runs[2 * i], n = runs[2 * i + 1];
		if (a < prev || n < 0 || n > b->nrows - a)
			return cl_error_set(err, CL_EINTERNAL, "%s: run %lld (rows %lld + %lld) "
					    "out of order or outside the batch of %lld rows",
					    w->path, (long long)i, (long long)a, (long long)n,
					    (long long)b->nrows);
		prev = a + n;
	}
	pqw_writer *p = w->impl;
	int rc = check_batch(p, b, err);
	for (int64_t i = 0; !rc && i < nruns; i++)
		rc = write_rows(p, b, runs[2 * i], runs[2 * i] + runs[2 * i + 1], err);
	if (!rc)
		cl__writer_kick(w);
	return rc;
}

static int pq_finish(struct cl_writer *w, cl_error *err)
{
	pqw_writer *p = w->impl;
	int rc;
	if (p->failed)
		return cl_error_set(err, CL_EINVAL, "%s: writer failed earlier", w->path);
	if ((rc = flush_row_group(p, err)))
		goto fail;
	cl_buf_clear(&p->tmp);
	if ((rc = cl__pqw_footer(p, &p->tmp, err)))
		goto fail;
	if (p->tmp.len > UINT32_MAX) {
		rc = cl_error_set(err, CL_EINVAL, "%s: footer too large", w->path);
		goto fail;
	}
	uint32_t flen = (uint32_t)p->tmp.len;
	if ((rc = out_write(p, p->tmp.data, p->tmp.len, err)) ||
	    (rc = out_write(p, &flen, 4, err)) || (rc = out_write(p, "PAR1", 4, err)))
		goto fail;
	p->file_bytes = p->pos;
	if ((rc = cl__pqw_build_file_stats(p, err)))
		goto fail;
	return 0;
fail:
	p->failed = true;
	return rc;
}

static void pq_free(struct cl_writer *w)
{
	pqw_writer *p = w->impl;
	if (!p)
		return;
	for (int c = 0; p->chunks && c < p->ncols; c++) {
		pqw_chunk *ch = &p->chunks[c];
		free_array(ch->levels, ch->levels_cap, 1);
		free_array(ch->rlevels, ch->rlevels_cap, 1);
		free_array(ch->idx, ch->idx_cap, sizeof *ch->idx);
		cl__pqw_buf_give(&ch->plain);
		for (size_t i = 0; i < ch->npages; i++)
			cl__pqw_pool_give(ch->pages[i].data, ch->pages[i].cap);
		cl_free(ch->pages);
		cl__dict_release(&ch->dict);
		cl__pqw_stats_release(&ch->page_stats);
		cl__pqw_stats_release(&ch->chunk_stats);
		cl__pqw_stats_release(&ch->file_stats);
	}
	cl_free(p->chunks);
	cl_free(p->chunk_offsets);
	cl__pqw_tree_release(p);
	for (int t = 0; p->scratch && t < p->nthreads; t++) {
		pqw_scratch *sc = &p->scratch[t];
		cl_free(sc->gather);
		cl_free(sc->lv);
		cl_free(sc->refs);
		cl__pqw_buf_give(&sc->raw);
		cl__pqw_buf_give(&sc->comp);
		cl_buf_release(&sc->head);
	}
	cl_free(p->scratch);
	cl_buf_release(&p->rg_meta);
	cl_buf_release(&p->tmp);
	cl_free(p->cstats);
	cl_batch_free(p->smin);
	cl_batch_free(p->smax);
	cl_free(p);
	w->impl = NULL;
}

static const cl__writer_ops pq_ops = {pq_write, pq_finish, pq_free};

/* Fill unset (zero or negative) size options with the defaults of io.c. */
static int check_options(struct cl_writer *w, cl_error *err)
{
	cl_write_options *o = &w->opts;
	cl_write_options def;
	cl_write_options_init(&def);
	if (o->row_group_rows <= 0)
		o->row_group_rows = def.row_group_rows;
	if (o->row_group_bytes <= 0)
		o->row_group_bytes = def.row_group_bytes;
	if (o->page_bytes <= 0)
		o->page_bytes = def.page_bytes;
	if (o->dictionary_page_bytes <= 0)
		o->dictionary_page_bytes = def.dictionary_page_bytes;
	if (o->page_version == 0)
		o->page_version = 1;
	if (o->page_version != 1 && o->page_version != 2)
		return cl_error_set(err, CL_EINVAL, "%s: page_version must be 1 or 2, not %d",
				    w->path, o->page_version);
	switch (o->compression) {
	case CL_CODEC_UNCOMPRESSED: case CL_CODEC_SNAPPY: case CL_CODEC_GZIP:
	case CL_CODEC_ZSTD: case CL_CODEC_LZ4_RAW: case CL_CODEC_BROTLI:
		break;
	default:
		return cl_error_set(err, CL_EUNSUPPORTED,
				    "%s: compression '%s' is not supported for writing",
				    w->path, cl_codec_name(o->compression));
	}
	for (int i = 0; i < o->nkv; i++)
		if (!o->kv_keys || !o->kv_keys[i])
			return cl_error_set(err, CL_EINVAL,
					    "%s: key-value metadata %d has no key", w->path, i);
	if (w->schema->nfields == 0)
		return cl_error_set(err, CL_EINVAL, "%s: a Parquet file needs a column",
				    w->path);
	return 0;
}

int cl__parquet_writer_open(struct cl_writer *w, cl_error *err)
{
	int rc;
	if ((rc = check_options(w, err)))
		return rc;
	pqw_writer *p = cl_calloc(1, sizeof *p);
	if (!p)
		return cl_error_set(err, CL_ENOMEM, "%s: out of memory", w->path);
	p->w = w;
	w->impl = p;
	w->ops = &pq_ops;
	if ((rc = cl__pqw_tree_build(p, err)))
		return cl_error_prefix(err, "%s: ", w->path);
	p->chunks = cl_calloc((size_t)p->ncols, sizeof *p->chunks);
	p->chunk_offsets = cl_calloc((size_t)p->ncols * 2, sizeof *p->chunk_offsets);
	/* opts.threads; when 0, CL_THREADS from the environment (tests) */
	p->nthreads = cl__threads_resolve(w->opts.threads);
	if (p->nthreads > PQW_MAX_THREADS)
		p->nthreads = PQW_MAX_THREADS;
	p->scratch = cl_calloc((size_t)p->nthreads, sizeof *p->scratch);
	if (!p->chunks || !p->chunk_offsets || !p->scratch)
		return cl__pqw_oom(p, err);
	for (int t = 0; t < p->nthreads; t++) {
		p->scratch[t].gather = cl_malloc((size_t)PQW_MINI * PQW_MAX_WIDTH);
		p->scratch[t].refs = cl_malloc((size_t)PQW_MINI * sizeof *p->scratch[t].refs);
		p->scratch[t].lv = cl_malloc(PQW_MINI);
		if (!p->scratch[t].gather || !p->scratch[t].refs || !p->scratch[t].lv)
			return cl__pqw_oom(p, err);
	}
	for (int i = 0; i < p->nnodes; i++) {
		const pqw_node *n = &p->nodes[i];
		if (n->leaf < 0)
			continue;
		pqw_chunk *ch = &p->chunks[n->leaf];
		ch->col = n->field;
		ch->node = i;
		ch->max_def = n->def;
		ch->max_rep = n->rep;
		/* a leaf of a JSON column is described by its own type */
		cl_field lf = w->schema->fields[n->field];
		lf.type = n->type;
		lf.nullable = n->repetition == PQ_OPTIONAL;
		if ((rc = cl__pqw_describe(&ch->d, &lf, &w->opts, err)))
			return cl_error_prefix(err, "%s: ", w->path);
		cl__dict_init(&ch->dict, ch->d.phys == PQ_BYTE_ARRAY ? 0 : ch->d.width);
		ch->use_dict = ch->d.dict_ok;
		/* Check the page size often enough for small pages: about 8 checks
		 * per page, at a guessed 16 bytes per string. */
		int64_t per = ch->d.width ? ch->d.width : 16;
		ch->mini = ch->d.kind == PQW_BYTES ? 1024 : PQW_MINI;
		if (w->opts.page_bytes / per / 8 < ch->mini)
			ch->mini = w->opts.page_bytes / per / 8 > 8 ? w->opts.page_bytes / per / 8 : 8;
	}
	if ((rc = cl__pqw_shredders(p, err)))
		return cl_error_prefix(err, "%s: ", w->path);
	p->pos = 0;
	return out_write(p, "PAR1", 4, err);
}

int cl_writer_file_stats(const cl_writer *w, cl_file_stats *out, cl_error *err)
{
	if (!w || w->format != CL_FORMAT_PARQUET || !w->impl)
		return cl_error_set(err, CL_EINVAL, "file statistics: not a Parquet writer");
	const pqw_writer *p = w->impl;
	if (!w->closed || !p->stats_ready)
		return cl_error_set(err, CL_EINVAL,
				    "%s: file statistics exist once the writer is closed",
				    w->path);
	out->num_rows = p->rows;
	out->file_bytes = p->file_bytes;
	out->num_row_groups = p->nrow_groups;
	out->ncols = p->nfields;
	out->cols = p->cstats;
	out->min = p->smin;
	out->max = p->smax;
	return 0;
}
