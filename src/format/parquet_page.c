/*
 * parquet_page.c — reading one column chunk: pages, levels, values, and the
 * conversion of physical values to the column's changelake type.
 *
 * State machine of a cl__pq_col (one per projected column per row group):
 *   begin   the chunk's byte range is known (checked against the file by
 *           the caller); nothing is read yet. Its bytes are read with pread
 *           through a window (win) of about CL__PQ_WINDOW bytes, moved
 *           forward as pages are needed (grown to hold a larger page), so
 *           memory per column is one window and one decompressed page,
 *           not the chunk, and the bytes a page decompresses from are
 *           still in the cache
 *   page    next_page() decoded a page header, checked its CRC, loaded a
 *           dictionary page (kept for the chunk) or decompressed a data page
 *           and set up the level decoder and the value decoder; page_left
 *           counts its rows not yet handed out
 *   read    cl__pq_col_read() takes up to page_left rows at a time, loading
 *           pages as needed, decoding levels then only the non-null values,
 *           straight into the column when no conversion or spreading is
 *           needed, else through scratch buffers of batch_rows entries
 *   finish  the row group's rows are all read: a page with rows left over is
 *           an error (columns of one row group must agree on the row count)
 * Values are decoded and converted into columns by parquet_values.c
 * (cl__pq_put_values).
 *
 * Flat columns (max repetition level 0; any max definition level, a leaf
 * inside structs being NULL below it) are read row by row into a
 * cl_column. Columns inside lists and maps are read as level streams
 * (cl__pq_col_read_levels): levels are decoded LA entries at a time into a
 * lookahead, handed out up to the first entry of the row after the last
 * one asked for, and the values of the handed-out entries are decoded
 * before the next page is loaded (the value decoder is per page).
 */
#include "core/alloc.h"
#include "core/column.h"
#include "parquet_decode.h"
#include "parquet_codec.h"
#include "parquet_format.h"
#include "parquet_meta.h"
#include "parquet_nested.h"
#include "core/value_text.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#define MAX_PAGE_BYTES ((int64_t)1 << 30)
#define LA 4096                              /* level lookahead entries */
#define MAX_BATCH_ENTRIES ((int64_t)1 << 28) /* level entries per batch */

int cl__pq_phys_width(int ptype, int32_t type_length)
{
	switch (ptype) {
	case PQ_BOOLEAN: return 1; /* one byte per value in scratch */
	case PQ_INT32: case PQ_FLOAT: return 4;
	case PQ_INT64: case PQ_DOUBLE: return 8;
	case PQ_INT96: return 12;
	case PQ_FIXED_LEN_BYTE_ARRAY: return type_length;
	default: return 0;
	}
}

/* Prefix err with the file, row group, column (and page offset). */
int cl__pq_col_fail(cl__pq_col *c, cl_error *err, int rc, bool with_page)
{
	if (err && !err->message[0])
		cl_error_set(err, rc, "error");
	if (with_page)
		cl_error_prefix(err, "%s: row group %d, column '%s': page at offset %lld: ",
				c->file, c->rg, c->name, (long long)c->page_offset);
	else
		cl_error_prefix(err, "%s: row group %d, column '%s': ", c->file, c->rg,
				c->name);
	if (err)
		err->code = rc;
	return rc;
}

int cl__pq_col_errf(cl__pq_col *c, cl_error *err, int rc, const char *fmt, ...)
{
	char msg[CL_ERROR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return cl_error_set(err, rc, "%s: row group %d, column '%s': page at offset %lld: %s",
			    c->file, c->rg, c->name, (long long)c->page_offset, msg);
}

static int oom(cl_error *err)
{
	return cl_error_set(err, CL_ENOMEM, "out of memory");
}

/*
 * Decompressed page buffers (and compressed staging buffers) of 1 MiB and
 * more outlive their reader in a process-wide pool while it is held
 * (cl__pq_page_pool(true), counted), but are taken from it and given back
 * to it only by threads that turned it on (cl__pq_page_cache): a consumer that opens
 * one reader per row group on several threads and in several phases (the
 * diff's workers, OLD then NEW) then decompresses into warm memory instead
 * of fresh pages that must be faulted in and zeroed again. DuckDB writes
 * one page per column chunk (8-30 MB), so every reader needs such buffers.
 * When the last hold is released the pool is freed; other threads free
 * their page buffers with their reader as before.
 *
 * Pool entries record their usable size: the allocation is CL__PQ_PAD
 * bytes larger (page buffers are padded for the decoders).
 */
#define CACHE_N 32
#define CACHE_MIN ((size_t)1 << 20)
#define CACHE_BYTES ((size_t)320 << 20)

static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
	int users;
	int n;
	size_t bytes;
	struct {
		uint8_t *p;
		size_t cap;
	} e[CACHE_N];
} cache;
static _Thread_local bool cache_thread_on;

void cl__pq_page_pool(bool hold)
{
	uint8_t *drop[CACHE_N];
	int ndrop = 0;
	pthread_mutex_lock(&cache_mu);
	if (hold) {
		cache.users++;
	} else if (cache.users > 0 && --cache.users == 0) {
		for (int i = 0; i < cache.n; i++)
			drop[ndrop++] = cache.e[i].p;
		cache.n = 0;
		cache.bytes = 0;
	}
	pthread_mutex_unlock(&cache_mu);
	for (int i = 0; i < ndrop; i++)
		cl_free(drop[i]);
}

void cl__pq_page_cache(bool on)
{
	cache_thread_on = on;
}

/*
 * A pooled buffer of at least need usable bytes (the smallest, and not
 * over four times need), or NULL.
 */
static uint8_t *cache_take(size_t need, size_t *cap)
{
	if (need < CACHE_MIN || !cache_thread_on)
		return NULL;
	pthread_mutex_lock(&cache_mu);
	int best = -1;
	for (int i = 0; i < cache.n; i++)
		if (cache.e[i].cap >= need && cache.e[i].cap / 4 <= need &&
		    (best < 0 || cache.e[i].cap < cache.e[best].cap))
			best = i;
	uint8_t *p = NULL;
	if (best >= 0) {
		p = cache.e[best].p;
		*cap = cache.e[best].cap;
		cache.bytes -= *cap;
		cache.e[best] = cache.e[--cache.n];
	}
	pthread_mutex_unlock(&cache_mu);
	return p;
}

/* Keep a buffer (cap usable bytes) for the next reader, or free it. */
static void cache_give(uint8_t *p, size_t cap)
{
	if (!p)
		return;
	bool kept = false;
	if (cap >= CACHE_MIN && cache_thread_on) {
		pthread_mutex_lock(&cache_mu);
		if (cache.users > 0 && cache.n < CACHE_N && cache.bytes + cap <= CACHE_BYTES) {
			cache.e[cache.n].p = p;
			cache.e[cache.n].cap = cap;
			cache.n++;
			cache.bytes += cap;
			kept = true;
		}
		pthread_mutex_unlock(&cache_mu);
	}
	if (!kept)
		cl_free(p);
}

/*
 * The staging buffer of a decoding context (cl__pq_col.stage) released:
 * into the pool when it is on for this thread (parquet_read.c).
 */
void cl__pq_stage_release(cl_buf *b)
{
	if (b->data && b->cap > CL__PQ_PAD)
		cache_give(b->data, b->cap - CL__PQ_PAD);
	else
		cl_free(b->data);
	memset(b, 0, sizeof *b);
}

/* Make the staging buffer hold at least n bytes, from the pool if it can. */
static int stage_reserve(cl_buf *b, size_t n, cl_error *err)
{
	b->len = 0;
	if (n + 1 <= b->cap)
		return 0;
	size_t cap;
	uint8_t *p = cache_take(n, &cap);
	if (p) {
		cl__pq_stage_release(b);
		b->data = p;
		b->cap = cap + CL__PQ_PAD;
		return 0;
	}
	uint8_t *was = b->data;
	if (cl_buf_reserve(b, n))
		return oom(err);
	if (b->data != was)
		cl__huge_hint(b->data, b->cap);
	return 0;
}

int cl__pq_col_begin(cl__pq_col *c, const struct cl_parquet_file *pf, int64_t offset,
		     size_t len, cl_error *err)
{
	c->pf = pf;
	c->win_pos = c->win_len = 0;
	c->chunk_len = len;
	c->chunk_pos = 0;
	c->chunk_offset = offset;
	c->page_left = 0;
	c->page_offset = offset;
	c->has_dict = false;
	c->rows_done = 0;
	c->la_pos = c->la_n = 0;
	c->chunk_done = false;
	cl_free(c->dict_page);
	c->dict_page = NULL;
	cl_free(c->dict_views);
	c->dict_views = NULL;
	c->dict_n = 0;
	c->dict_mean = 0;
	int64_t want = c->batch_rows;
	if (c->max_rep > 0 && want < LA)
		want = LA;
	if (c->max_rep > 0 && !c->la_rep) {
		c->la_rep = cl_malloc(LA);
		c->la_def = cl_malloc(LA);
		if (!c->la_rep || !c->la_def)
			return oom(err);
	}
	if (c->scratch_n < want) {
		int64_t n = want;
		int w = cl__pq_phys_width(c->ptype, c->type_length);
		size_t pw = (size_t)(w > 16 ? w : 16);
		cl_free(c->levels);
		cl_free(c->idx);
		cl_free(c->phys);
		cl_free(c->views);
		c->levels = cl_malloc((size_t)n);
		c->idx = cl_malloc((size_t)n * sizeof *c->idx);
		c->phys = cl_malloc((size_t)n * pw);
		c->views = cl_malloc((size_t)n * sizeof *c->views);
		c->scratch_n = 0;
		if (!c->levels || !c->idx || !c->phys || !c->views)
			return oom(err);
		c->scratch_n = n;
	}
	return 0;
}

void cl__pq_col_release(cl__pq_col *c)
{
	cl_free(c->win);
	cache_give(c->page, c->page_cap);
	cl_free(c->dict_page);
	cl_free(c->dict_views);
	cl_free(c->levels);
	cl_free(c->idx);
	cl_free(c->phys);
	cl_free(c->views);
	cl_free(c->la_rep);
	cl_free(c->la_def);
	c->la_rep = c->la_def = NULL;
	if (c->skipped_init)
		cl_column_release(&c->skipped);
	c->skipped_init = false;
	if (c->vdba) {
		cl__dba_release(c->vdba);
		cl_free(c->vdba);
	}
	cl_free(c->vdlba);
	c->win = c->page = c->dict_page = c->levels = c->phys = NULL;
	c->win_cap = c->win_len = 0;
	c->dict_views = c->views = NULL;
	c->idx = NULL;
	c->vdba = NULL;
	c->vdlba = NULL;
	c->scratch_n = 0;
	c->page_cap = 0;
}

/* Decompress (or point at) a page body; *out is valid until the next page. */
static int page_body(cl__pq_col *c, const uint8_t *src, size_t n, size_t raw_len,
		     bool compressed, const uint8_t **out, cl_error *err)
{
	if (!compressed || c->codec == CL_CODEC_UNCOMPRESSED || (raw_len == 0 && n == 0)) {
		if (n != raw_len)
			return cl__pq_col_errf(c, err, CL_EFORMAT,
					"uncompressed page is %zu bytes, its header says %zu", n,
					raw_len);
		*out = src;
		return 0;
	}
	if (raw_len > c->page_cap || !c->page) {
		/* with slack: the next chunk's page is often a little larger, and
		 * a fresh large buffer costs its page faults again */
		size_t cap = raw_len + raw_len / 8;
		cache_give(c->page, c->page_cap);
		c->page_cap = 0;
		if ((c->page = cache_take(raw_len, &cap))) {
			c->page_cap = cap;
		} else {
			cap = raw_len + raw_len / 8;
			if (!(c->page = cl_malloc(cap + CL__PQ_PAD)))
				return oom(err);
			cl__huge_hint(c->page, cap + CL__PQ_PAD);
			c->page_cap = cap;
		}
	}
	memset(c->page + raw_len, 0, CL__PQ_PAD);
	int rc = cl__codec_decompress((cl_codec)c->codec, src, n, c->page, raw_len, err);
	if (rc) {
		return cl__pq_col_fail(c, err, rc, true);
	}
	*out = c->page;
	return 0;
}

static int load_dictionary(cl__pq_col *c, const cl__pq_page_header *h,
			   const uint8_t *src, cl_error *err)
{
	if (c->has_dict)
		return cl__pq_col_errf(c, err, CL_EFORMAT, "second dictionary page in a column chunk");
	if (c->rows_done > 0)
		return cl__pq_col_errf(c, err, CL_EFORMAT, "dictionary page after data pages");
	if (h->encoding != PQ_ENC_PLAIN && h->encoding != PQ_ENC_PLAIN_DICTIONARY)
		return cl__pq_col_errf(c, err, CL_EUNSUPPORTED, "dictionary page encoding %s not supported",
				cl__pq_encoding_name(h->encoding));
	if (c->ptype == PQ_BOOLEAN)
		return cl__pq_col_errf(c, err, CL_EFORMAT, "dictionary page for a BOOLEAN column");
	size_t raw = (size_t)h->uncompressed_size;
	uint8_t *buf = cl_malloc(raw + CL__PQ_PAD);
	if (!buf)
		return oom(err);
	memset(buf + raw, 0, CL__PQ_PAD);
	const uint8_t *body;
	if (c->codec == CL_CODEC_UNCOMPRESSED) {
		if ((size_t)h->compressed_size != raw) {
			cl_free(buf);
			return cl__pq_col_errf(c, err, CL_EFORMAT, "dictionary page sizes differ");
		}
		memcpy(buf, src, raw);
	} else {
		int rc = cl__codec_decompress((cl_codec)c->codec, src, (size_t)h->compressed_size,
					      buf, raw, err);
		if (rc) {
			cl_free(buf);
			return cl__pq_col_fail(c, err, rc, true);
		}
	}
	body = buf;
	c->dict_page = buf;
	int64_t n = h->num_values;
	int w = cl__pq_phys_width(c->ptype, c->type_length);
	if (c->ptype == PQ_BYTE_ARRAY) {
		if ((uint64_t)n > raw / 4)
			return cl__pq_col_errf(c, err, CL_EFORMAT,
					"dictionary of %lld values cannot fit in %zu bytes",
					(long long)n, raw);
		c->dict_views = cl_malloc((size_t)(n ? n : 1) * sizeof *c->dict_views);
		if (!c->dict_views)
			return oom(err);
		const uint8_t *p = body;
		int rc = cl__plain_ba_get(&p, body + raw, c->dict_views, n, err);
		if (rc)
			return cl__pq_col_fail(c, err, rc, true);
		if (c->conv == CV_BA_STR) {
			for (int64_t i = 0; i < n; i++) {
				size_t bad = cl__utf8_check(c->dict_views[i].p, c->dict_views[i].n);
				if (bad != c->dict_views[i].n)
					return cl__pq_col_errf(c, err, CL_EFORMAT,
							"dictionary value %lld is not valid UTF-8",
							(long long)i);
			}
		}
	} else {
		if (w <= 0 || (uint64_t)n > raw / (size_t)w)
			return cl__pq_col_errf(c, err, CL_EFORMAT,
					"dictionary of %lld values cannot fit in %zu bytes",
					(long long)n, raw);
	}
	c->dict_n = n;
	c->dict_mean = 0;
	c->has_dict = true;
	return 0;
}

static int bit_width_of(int v)
{
	int w = 0;
	while (v) {
		w++;
		v >>= 1;
	}
	return w;
}

/* Set up the value decoder for a data page's value bytes. */
static int setup_values(cl__pq_col *c, int enc, const uint8_t *p, const uint8_t *end,
			cl_error *err)
{
	int rc;
	int w = cl__pq_phys_width(c->ptype, c->type_length);
	c->enc = enc;
	c->vp = p;
	c->vend = end;
	c->bitpos = 0;
	c->vpos = 0;
	switch (enc) {
	case PQ_ENC_PLAIN:
		return 0;
	case PQ_ENC_PLAIN_DICTIONARY:
	case PQ_ENC_RLE_DICTIONARY:
		if (!c->has_dict)
			return cl__pq_col_errf(c, err, CL_EFORMAT,
					"dictionary-encoded page but the chunk has no dictionary");
		if (p >= end) {
			/* only valid when the page holds nulls alone */
			cl__rle_init(&c->vrle, p, 0, 0);
			return 0;
		}
		if (*p > 32)
			return cl__pq_col_errf(c, err, CL_EFORMAT, "dictionary index bit width %d", *p);
		cl__rle_init(&c->vrle, p + 1, (size_t)(end - p - 1), *p);
		return 0;
	case PQ_ENC_RLE:
		if (c->ptype != PQ_BOOLEAN)
			break;
		if (end - p < 4)
			return cl__pq_col_errf(c, err, CL_EFORMAT, "RLE boolean length is truncated");
		uint32_t len;
		memcpy(&len, p, 4);
		if (len > (size_t)(end - p - 4))
			return cl__pq_col_errf(c, err, CL_EFORMAT, "RLE boolean length %u exceeds the page",
					len);
		cl__rle_init(&c->vrle, p + 4, len, 1);
		return 0;
	case PQ_ENC_DELTA_BINARY_PACKED:
		if (c->ptype != PQ_INT32 && c->ptype != PQ_INT64)
			break;
		rc = cl__delta_init(&c->vdelta, p, (size_t)(end - p), err);
		return rc ? cl__pq_col_fail(c, err, rc, true) : 0;
	case PQ_ENC_DELTA_LENGTH_BYTE_ARRAY:
		if (c->ptype != PQ_BYTE_ARRAY)
			break;
		if (!c->vdlba && !(c->vdlba = cl_calloc(1, sizeof *c->vdlba)))
			return oom(err);
		rc = cl__dlba_init(c->vdlba, p, (size_t)(end - p), err);
		return rc ? cl__pq_col_fail(c, err, rc, true) : 0;
	case PQ_ENC_DELTA_BYTE_ARRAY:
		if (c->ptype != PQ_BYTE_ARRAY && c->ptype != PQ_FIXED_LEN_BYTE_ARRAY)
			break;
		if (!c->vdba && !(c->vdba = cl_calloc(1, sizeof *c->vdba)))
			return oom(err);
		rc = cl__dba_init(c->vdba, p, (size_t)(end - p), err);
		return rc ? cl__pq_col_fail(c, err, rc, true) : 0;
	case PQ_ENC_BYTE_STREAM_SPLIT:
		if (w <= 0 || c->ptype == PQ_BOOLEAN || c->ptype == PQ_INT96)
			break;
		if ((end - p) % w)
			return cl__pq_col_errf(c, err, CL_EFORMAT,
					"BYTE_STREAM_SPLIT data of %zu bytes is not a multiple of %d",
					(size_t)(end - p), w);
		c->vcount = (end - p) / w;
		return 0;
	default:
		return cl__pq_col_errf(c, err, CL_EUNSUPPORTED, "encoding %s (%d) not supported",
				cl__pq_encoding_name(enc), enc);
	}
	return cl__pq_col_errf(c, err, CL_EFORMAT, "encoding %s is not valid for %s columns",
			cl__pq_encoding_name(enc), cl__pq_type_name(c->ptype));
}

/* The length-prefixed RLE levels of a v1 data page at *p (advanced). */
static int v1_levels(cl__pq_col *c, const uint8_t **p, const uint8_t *end, int enc,
		     const char *what, const uint8_t **lv, size_t *lv_len, cl_error *err)
{
	if (enc != PQ_ENC_RLE)
		return cl__pq_col_errf(c, err, CL_EUNSUPPORTED, "%s level encoding %s not supported", what,
				cl__pq_encoding_name(enc));
	if (end - *p < 4)
		return cl__pq_col_errf(c, err, CL_EFORMAT, "%s levels are truncated", what);
	uint32_t len;
	memcpy(&len, *p, 4);
	if (len > (size_t)(end - *p - 4))
		return cl__pq_col_errf(c, err, CL_EFORMAT, "%s levels of %u bytes exceed the page", what,
				len);
	*lv = *p + 4;
	*lv_len = len;
	*p += 4 + len;
	return 0;
}

/*
 * Make chunk bytes [pos, pos + n) readable in the window (n <= chunk_len -
 * pos): keep it when it holds them, else read from pos on, at least `least`
 * bytes (up to the chunk's end). Pointers into the window are invalidated.
 */
/* Least bytes read for a page header (the window's reads for page bodies
 * are at least CL__PQ_WINDOW). */
#define HEADER_READ ((size_t)64 << 10)

static int window(cl__pq_col *c, size_t pos, size_t n, size_t least, cl_error *err)
{
	if (pos >= c->win_pos && pos + n <= c->win_pos + c->win_len)
		return 0;
	size_t len = n > least ? n : least;
	if (len > c->chunk_len - pos)
		len = c->chunk_len - pos;
	if (len > c->win_cap) {
		cl_free(c->win);
		c->win_cap = 0;
		c->win_len = 0;
		if (!(c->win = cl_malloc(len + CL__PQ_PAD)))
			return oom(err);
		c->win_cap = len;
	}
	c->win_pos = pos;
	c->win_len = 0;
	int rc = cl__pq_pread(c->pf, c->win, len, c->chunk_offset + (int64_t)pos, err);
	if (rc)
		return rc;
	memset(c->win + len, 0, CL__PQ_PAD);
	c->win_len = len;
	return 0;
}

/* Decode the page header at chunk_pos. Headers are small but may hold
 * statistics of any size: try a small window first, then larger ones. */
static int page_header(cl__pq_col *c, cl__pq_page_header *h, size_t *hlen, cl_error *err)
{
	size_t left = c->chunk_len - c->chunk_pos;
	size_t want = left < 4096 ? left : 4096;
	for (;;) {
		/* a header is read with the bytes after it, but not a whole
		 * window's: a large page's body is read on its own (staged),
		 * and DuckDB puts each chunk in one such page */
		int rc = window(c, c->chunk_pos, want, HEADER_READ, err);
		if (rc)
			return rc;
		size_t avail = c->win_pos + c->win_len - c->chunk_pos;
		rc = cl__pq_page_header_decode(h, c->win + (c->chunk_pos - c->win_pos), avail,
					       hlen, err);
		if (!rc || avail >= left)
			return rc ? cl__pq_col_fail(c, err, rc, true) : 0;
		if (rc == CL_ENOMEM)
			return rc;
		/* perhaps cut short by the window: retry with more bytes */
		want = avail * 4 < left ? avail * 4 : left;
		if (err)
			err->message[0] = '\0';
	}
}

/*
 * Load the next data page (dictionary and index pages are handled on the
 * way). At the end of the chunk: an error, or 1 when allow_end (then
 * chunk_done is set).
 */
static int next_page_skip(cl__pq_col *c, bool allow_end, int64_t skip, int64_t *skipped,
			  cl_error *err)
{
	*skipped = 0;
	for (;;) {
		c->page_offset = c->chunk_offset + (int64_t)c->chunk_pos;
		if (c->chunk_pos >= c->chunk_len && allow_end) {
			c->chunk_done = true;
			return 1;
		}
		if (c->chunk_pos >= c->chunk_len)
			return cl_error_set(err, CL_EFORMAT,
					    "%s: row group %d, column '%s': the column chunk ends "
					    "after %lld rows, fewer than the row group has",
					    c->file, c->rg, c->name, (long long)c->rows_done);
		cl__pq_page_header h;
		size_t hlen;
		int rc = page_header(c, &h, &hlen, err);
		if (rc)
			return rc;
		size_t left = c->chunk_len - c->chunk_pos - hlen;
		if ((size_t)h.compressed_size > left)
			return cl__pq_col_errf(c, err, CL_EFORMAT,
					"page of %d bytes runs past the column chunk (%zu bytes left)",
					h.compressed_size, left);
		if (h.uncompressed_size > MAX_PAGE_BYTES)
			return cl__pq_col_errf(c, err, CL_EUNSUPPORTED,
					"page of %d bytes is larger than the 1 GiB limit",
					h.uncompressed_size);
		if (skip > 0 && c->max_rep == 0 &&
		    (h.type == PQ_PAGE_DATA || h.type == PQ_PAGE_DATA_V2) && h.num_values > 0 &&
		    h.num_values <= skip) {
			/* a flat column's page of rows that are all skipped: its
			 * body is not even read */
			c->chunk_pos += hlen + (size_t)h.compressed_size;
			*skipped = h.num_values;
			return 0;
		}
		/* A large compressed page that is decompressed whole before use
		 * (v1 data, dictionary) is read into the context's staging
		 * buffer, shared by its columns: writers like DuckDB put a whole
		 * chunk in one page, and a page-sized window per column would
		 * hold every column's compressed chunk at once. */
		const uint8_t *src;
		size_t body_pos = c->chunk_pos + hlen;
		if (c->stage && (size_t)h.compressed_size > CL__PQ_WINDOW &&
		    c->codec != CL_CODEC_UNCOMPRESSED &&
		    (h.type == PQ_PAGE_DATA || h.type == PQ_PAGE_DICTIONARY)) {
			if ((rc = stage_reserve(c->stage, (size_t)h.compressed_size + CL__PQ_PAD,
						err)))
				return rc;
			rc = cl__pq_pread(c->pf, c->stage->data, (size_t)h.compressed_size,
					  c->chunk_offset + (int64_t)body_pos, err);
			if (rc)
				return rc;
			src = c->stage->data;
		} else {
			if ((rc = window(c, body_pos, (size_t)h.compressed_size, CL__PQ_WINDOW,
					  err)))
				return rc;
			src = c->win + (body_pos - c->win_pos);
		}
		c->chunk_pos += hlen + (size_t)h.compressed_size;
		if (h.has_crc && (h.type == PQ_PAGE_DATA || h.type == PQ_PAGE_DATA_V2 ||
				  h.type == PQ_PAGE_DICTIONARY)) {
			uint32_t crc = (uint32_t)crc32(0, src, (uInt)h.compressed_size);
			if (crc != h.crc)
				return cl__pq_col_errf(c, err, CL_EFORMAT,
						"CRC mismatch (page says %08x, data has %08x)", h.crc,
						crc);
		}
		if (h.type == PQ_PAGE_DICTIONARY) {
			rc = load_dictionary(c, &h, src, err);
			if (rc)
				return rc;
			continue;
		}
		if (h.type != PQ_PAGE_DATA && h.type != PQ_PAGE_DATA_V2)
			continue; /* index pages and future page types */
		if (h.num_values == 0)
			continue; /* empty page */
		const uint8_t *body, *p, *end;
		const uint8_t *def = NULL, *rep = NULL;
		size_t def_len = 0, rep_len = 0;
		if (h.type == PQ_PAGE_DATA) {
			rc = page_body(c, src, (size_t)h.compressed_size, (size_t)h.uncompressed_size,
				       true, &body, err);
			if (rc)
				return rc;
			p = body;
			end = body + h.uncompressed_size;
			if (c->max_rep > 0 &&
			    (rc = v1_levels(c, &p, end, h.rep_encoding, "repetition", &rep,
					    &rep_len, err)))
				return rc;
			if (c->max_def > 0 &&
			    (rc = v1_levels(c, &p, end, h.def_encoding, "definition", &def,
					    &def_len, err)))
				return rc;
			c->page_vals = -1;
		} else {
			size_t lv = (size_t)h.rep_len + (size_t)h.def_len;
			if (lv > (size_t)h.uncompressed_size || lv > (size_t)h.compressed_size)
				return cl__pq_col_errf(c, err, CL_EFORMAT,
						"level bytes exceed the page's size");
			/* a flat column has no repetition levels; some writers still
			 * store an (empty) RLE run for them: skip it */
			rep = src;
			rep_len = (size_t)h.rep_len;
			def = src + h.rep_len;
			def_len = (size_t)h.def_len;
			rc = page_body(c, src + lv, (size_t)h.compressed_size - lv,
				       (size_t)h.uncompressed_size - lv, h.is_compressed, &body, err);
			if (rc)
				return rc;
			p = body;
			end = body + (h.uncompressed_size - lv);
			c->page_vals = h.num_values - h.num_nulls;
			if (c->max_def == 0 && h.num_nulls)
				return cl__pq_col_errf(c, err, CL_EFORMAT,
						"%d nulls in a required column", h.num_nulls);
		}
		if (c->max_def > 0)
			cl__rle_init(&c->def, def, def_len, bit_width_of(c->max_def));
		if (c->max_rep > 0)
			cl__rle_init(&c->rep, rep, rep_len, bit_width_of(c->max_rep));
		rc = setup_values(c, h.encoding, p, end, err);
		if (rc)
			return rc;
		c->page_left = h.num_values;
		return 0;
	}
}

static int next_page(cl__pq_col *c, bool allow_end, cl_error *err)
{
	int64_t skipped;
	return next_page_skip(c, allow_end, 0, &skipped, err);
}

int cl__pq_col_skip(cl__pq_col *c, int64_t n, cl_error *err)
{
	int rc;
	while (n > 0) {
		if (c->page_left == 0) {
			int64_t skipped;
			if ((rc = next_page_skip(c, false, n, &skipped, err)))
				return rc;
			n -= skipped;
			c->rows_done += skipped;
			continue;
		}
		if (!c->skipped_init) {
			if ((rc = cl_column_init(&c->skipped, c->type, 0, err)))
				return rc;
			c->skipped_init = true;
		}
		int64_t k = n < c->page_left ? n : c->page_left;
		if (k > c->batch_rows)
			k = c->batch_rows;
		cl_column_clear(&c->skipped);
		if ((rc = cl__pq_col_read(c, &c->skipped, k, err)))
			return rc;
		n -= k;
	}
	return 0;
}

int cl__pq_col_read(cl__pq_col *c, cl_column *dst, int64_t n, cl_error *err)
{
	/* every row read is written, nulls included: no zeroing first */
	int rc = cl__column_reserve_nozero(dst, n, err);
	if (rc)
		return rc;
	while (n > 0) {
		if (c->page_left == 0) {
			rc = next_page(c, false, err);
			if (rc)
				return rc;
		}
		int64_t k = n < c->page_left ? n : c->page_left;
		int64_t nn = k;
		const uint8_t *lv = NULL;
		if (c->max_def > 0 && c->def.rle_left >= k && c->def.value == (uint32_t)c->max_def) {
			/* inside a run of present values (a column without NULLs
			 * is one run per page): no levels to spell out */
			c->def.rle_left -= k;
		} else if (c->max_def > 0) {
			rc = cl__rle_get_u8(&c->def, c->levels, k, err);
			if (rc)
				return cl__pq_col_fail(c, err, rc, true);
			nn = 0;
			uint8_t *l = c->levels;
			uint8_t md = (uint8_t)c->max_def, bad = 0;
			/* branch-free so it vectorises; levels become 0/1 */
			for (int64_t i = 0; i < k; i++) {
				bad |= l[i] > md;
				l[i] = l[i] == md;
				nn += l[i];
			}
			if (bad)
				return cl__pq_col_errf(c, err, CL_EFORMAT,
						"definition level above the maximum %d", md);
			if (nn < k)
				lv = l;
		}
		if ((rc = cl__pq_put_values(c, dst, k, nn, lv, err)))
			return rc;
		c->page_left -= k;
		c->rows_done += k;
		n -= k;
	}
	return 0;
}

/* Decode the next up to LA levels of the page into the lookahead; 1 at the
 * end of the chunk. */
static int refill_levels(cl__pq_col *c, cl_error *err)
{
	int rc;
	if (c->page_left == 0) {
		if (c->chunk_done)
			return 1;
		if ((rc = next_page(c, true, err)))
			return rc;
	}
	int64_t k = c->page_left < LA ? c->page_left : LA;
	if (c->max_rep > 0) {
		if ((rc = cl__rle_get_u8(&c->rep, c->la_rep, k, err)))
			return cl__pq_col_fail(c, err, rc, true);
	} else
		memset(c->la_rep, 0, (size_t)k);
	if (c->max_def > 0) {
		if ((rc = cl__rle_get_u8(&c->def, c->la_def, k, err)))
			return cl__pq_col_fail(c, err, rc, true);
	} else
		memset(c->la_def, 0, (size_t)k);
	uint8_t bad = 0, mr = (uint8_t)c->max_rep, md = (uint8_t)c->max_def;
	for (int64_t i = 0; i < k; i++)
		bad |= (c->la_rep[i] > mr) | (c->la_def[i] > md);
	if (bad)
		return cl__pq_col_errf(c, err, CL_EFORMAT, "level above the maximum (%d / %d)", mr, md);
	c->page_left -= k;
	c->la_pos = 0;
	c->la_n = k;
	return 0;
}

static int grow_levels(cl__pq_levels *lv, int64_t need, cl_error *err)
{
	if (need <= lv->cap)
		return 0;
	if (need > MAX_BATCH_ENTRIES)
		return cl_error_set(err, CL_EUNSUPPORTED,
				    "more than %lld list entries in one batch; read smaller batches",
				    (long long)MAX_BATCH_ENTRIES);
	int64_t cap = lv->cap ? lv->cap : 1024;
	while (cap < need)
		cap *= 2;
	uint8_t *r = cl_realloc(lv->rep, (size_t)cap);
	if (!r)
		return oom(err);
	lv->rep = r;
	uint8_t *d = cl_realloc(lv->def, (size_t)cap);
	if (!d)
		return oom(err);
	lv->def = d;
	lv->cap = cap;
	return 0;
}

int cl__pq_col_read_levels(cl__pq_col *c, cl__pq_levels *lv, int64_t n, cl_error *err)
{
	int rc;
	if (lv->row_cap < n + 1) {
		int64_t *rs = cl_realloc(lv->row_start, (size_t)(n + 1) * sizeof *rs);
		if (!rs)
			return oom(err);
		lv->row_start = rs;
		lv->row_cap = n + 1;
	}
	lv->n = 0;
	lv->max_def = c->max_def;
	cl_column_clear(&lv->vals);
	int64_t rows = 0;
	for (bool done = false; !done;) {
		if (c->la_pos == c->la_n) {
			rc = refill_levels(c, err);
			if (rc == 1)
				break;
			if (rc)
				return rc;
		}
		const uint8_t *r = c->la_rep, *d = c->la_def;
		int64_t i = c->la_pos, e = c->la_n;
		for (; i < e; i++) {
			if (r[i] == 0) {
				if (rows == n) {
					done = true;
					break;
				}
				lv->row_start[rows++] = lv->n + (i - c->la_pos);
			} else if (rows == 0) {
				return cl__pq_col_errf(c, err, CL_EFORMAT,
						"row %lld starts with repetition level %d",
						(long long)(c->rg_first_row + c->rows_done), r[i]);
			}
		}
		int64_t k = i - c->la_pos;
		if ((rc = grow_levels(lv, lv->n + k, err)))
			return rc;
		memcpy(lv->rep + lv->n, r + c->la_pos, (size_t)k);
		memcpy(lv->def + lv->n, d + c->la_pos, (size_t)k);
		int64_t nn = 0;
		uint8_t md = (uint8_t)c->max_def;
		for (int64_t j = c->la_pos; j < i; j++)
			nn += d[j] == md;
		lv->n += k;
		c->la_pos = i;
		if (nn) {
			if ((rc = cl_column_reserve(&lv->vals, nn, err)) ||
			    (rc = cl__pq_put_values(c, &lv->vals, nn, nn, NULL, err)))
				return rc;
		}
	}
	if (rows < n)
		return cl_error_set(err, CL_EFORMAT,
				    "%s: row group %d, column '%s': the column chunk ends after "
				    "%lld rows, fewer than the row group has",
				    c->file, c->rg, c->name, (long long)(c->rows_done + rows));
	lv->row_start[n] = lv->n;
	c->rows_done += n;
	return 0;
}

int cl__pq_col_finish(cl__pq_col *c, cl_error *err)
{
	if (c->page_left > 0 || c->la_pos < c->la_n)
		return cl_error_set(err, CL_EFORMAT,
				    "%s: row group %d, column '%s': the column chunk has %lld more "
				    "values than the row group's rows",
				    c->file, c->rg, c->name,
				    (long long)(c->page_left + c->la_n - c->la_pos));
	return 0;
}
