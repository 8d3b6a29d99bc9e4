/*
 * parquet_write_page.c — the Parquet writer's data pages (parquet_write.c
 * has the writer, row groups and the file): a column chunk's open page
 * (its levels, PLAIN values or dictionary indices) closed into a page
 * header and its compressed body, appended to the chunk's pages. SNAPPY
 * v1 pages are compressed where their parts lie (snappy_page).
 */
#include "parquet_write_impl.h"
#include "parquet_codec.h"
#include "thrift_write.h"

#include <snappy-c.h>
#include <stdlib.h>
#include <string.h>

static void reset_page(pqw_chunk *ch)
{
	ch->page_values = 0;
	ch->page_nulls = 0;
	ch->page_rows = 0;
	ch->nidx = 0;
	ch->plain_bits = 0;
	cl_buf_clear(&ch->plain);
	cl__pqw_stats_reset(&ch->page_stats);
}

/*
 * Room for n more bytes in the open page's PLAIN values. A page buffer
 * keeps its capacity from page to page and row group to row group. Once
 * past PQW_PLAIN_SMALL (or a quarter of the target, when less) it grows
 * straight to about a page (opts.page_bytes + 1/4, at most
 * PQW_PLAIN_FIRST_MAX) instead of doubling on, which copied the buffer into
 * fresh memory ~5 more times per column of each open file. Below that it
 * doubles as before, so a writer of a few rows (many open partition files)
 * does not take a page of memory per column.
 */
#define PQW_PLAIN_SMALL ((size_t)64 << 10)
#define PQW_PLAIN_FIRST_MAX ((size_t)8 << 20)
int cl__pqw_plain_reserve(const pqw_writer *p, pqw_chunk *ch, size_t n)
{
	cl_buf *b = &ch->plain;
	if (n < b->cap && b->len + 1 <= b->cap - n)
		return 0;
	size_t want = (size_t)p->w->opts.page_bytes;
	want += want / 4;
	if (want > PQW_PLAIN_FIRST_MAX)
		want = PQW_PLAIN_FIRST_MAX;
	size_t small = want / 4 < PQW_PLAIN_SMALL ? want / 4 : PQW_PLAIN_SMALL;
	if (b->cap < want && n < want && b->len < want - n && b->len + n >= small) {
		size_t cap;
		uint8_t *q = cl__pqw_pool_alloc(want, &cap);
		if (!q)
			return CL_ENOMEM;
		if (b->data)
			memcpy(q, b->data, b->len);
		q[b->len] = 0;
		cl__pqw_pool_give(b->data, b->cap);
		b->data = q;
		b->cap = cap;
		return 0;
	}
	return cl_buf_reserve(b, n);
}

/*
 * Make an emptied scratch buffer hold at least n bytes in one step: a
 * buffer too small is dropped before growing (nothing in it to keep), so
 * growing does not copy it.
 */
static int scratch_reserve(cl_buf *b, size_t n)
{
	if (b->len == 0 && b->cap < n + 1) {
		cl__pqw_buf_give(b);
		size_t cap;
		b->data = cl__pqw_pool_take(n + 1, &cap);
		if (b->data) {
			b->cap = cap;
			b->data[0] = 0;
		}
	}
	return cl_buf_reserve(b, n);
}

/* Append n levels at bit width bw; when every one equals `all` (>= 0),
 * one RLE run without looking at v. */
static int encode_levels(cl_buf *out, const uint8_t *v, int64_t n, int bw, int all)
{
	if (all >= 0 && n >= 8) {
		uint8_t hdr[11];
		size_t k = 0;
		uint64_t h = (uint64_t)n << 1;
		while (h >= 0x80) {
			hdr[k++] = (uint8_t)(h | 0x80);
			h >>= 7;
		}
		hdr[k++] = (uint8_t)h;
		hdr[k++] = (uint8_t)all; /* bw <= 8: one byte */
		return cl_buf_append(out, hdr, k);
	}
	return cl__rle_encode_u8(out, v, (size_t)n, bw);
}

/* The open page's repetition and definition levels, each prefixed by its
 * 4-byte length when `prefix` (data page v1). *rlen / *dlen: their sizes
 * without the prefixes. */
static int encode_page_levels(const pqw_chunk *ch, cl_buf *out, bool prefix, size_t *rlen,
			      size_t *dlen)
{
	*rlen = *dlen = 0;
	for (int pass = 0; pass < 2; pass++) {
		int maxl = pass == 0 ? ch->max_rep : ch->max_def;
		if (maxl == 0)
			continue;
		size_t at = out->len;
		if (prefix && cl_buf_append(out, "\0\0\0\0", 4))
			return CL_ENOMEM;
		size_t start = out->len;
		int all = -1;
		if (pass == 1 && ch->page_nulls == 0)
			all = ch->max_def;
		else if (pass == 1 && ch->max_def == 1 && ch->page_nulls == ch->page_values)
			all = 0;
		int rc = encode_levels(out, pass == 0 ? ch->rlevels : ch->levels, ch->page_values,
				       cl__bit_width((uint64_t)maxl), all);
		if (rc)
			return rc;
		size_t len = out->len - start;
		if (prefix) {
			uint32_t l = (uint32_t)len;
			memcpy(out->data + at, &l, 4);
		}
		*(pass == 0 ? rlen : dlen) = len;
	}
	return 0;
}

static int page_header(pqw_writer *p, pqw_scratch *sc, pqw_chunk *ch, int enc,
		       size_t usize, size_t csize, size_t rlen, size_t dlen, bool is_compressed)
{
	cl__tw t;
	cl_buf_clear(&sc->head);
	cl__tw_init(&t, &sc->head);
	bool v2 = p->w->opts.page_version == 2;
	cl__tw_i32(&t, 1, v2 ? PQ_PAGE_DATA_V2 : PQ_PAGE_DATA);
	cl__tw_i32(&t, 2, (int32_t)usize);
	cl__tw_i32(&t, 3, (int32_t)csize);
	if (!v2) {
		cl__tw_struct_begin(&t, 5);
		cl__tw_i32(&t, 1, (int32_t)ch->page_values);
		cl__tw_i32(&t, 2, enc);
		cl__tw_i32(&t, 3, PQ_ENC_RLE);
		cl__tw_i32(&t, 4, PQ_ENC_RLE);
		cl__pqw_write_stats(&t, 5, ch, &ch->page_stats, false);
		cl__tw_struct_end(&t);
	} else {
		cl__tw_struct_begin(&t, 8);
		cl__tw_i32(&t, 1, (int32_t)ch->page_values);
		cl__tw_i32(&t, 2, (int32_t)ch->page_nulls);
		cl__tw_i32(&t, 3, (int32_t)ch->page_rows);
		cl__tw_i32(&t, 4, enc);
		cl__tw_i32(&t, 5, (int32_t)dlen);
		cl__tw_i32(&t, 6, (int32_t)rlen);
		cl__tw_bool(&t, 7, is_compressed);
		cl__pqw_write_stats(&t, 8, ch, &ch->page_stats, false);
		cl__tw_struct_end(&t);
	}
	return cl__tw_finish(&t);
}

/* Encoded size of the open page so far (before compression), roughly. */
int64_t cl__pqw_page_estimate(const pqw_chunk *ch)
{
	int64_t n = (int64_t)ch->plain.len;
	if (ch->use_dict)
		n += ((int64_t)ch->nidx * cl__bit_width(ch->dict.n) + 7) / 8;
	if (ch->max_def > 0)
		n += ch->page_values / 8;
	if (ch->max_rep > 0)
		n += ch->page_values / 8;
	return n;
}

/* Bytes of v as a varint. */
static size_t varint_len(uint64_t v)
{
	size_t n = 1;
	while (v >= 0x80)
		v >>= 7, n++;
	return n;
}

/*
 * SNAPPY page bodies are built here from their two parts, levels and
 * values, each compressed where it lies (no copy of the values into one
 * buffer first) under one length header: a snappy stream is a length and
 * then elements, and snappy compresses each 64 KiB fragment of its input
 * on its own, so parts compressed one after another are a stream too.
 * The values' first fragment is compressed first; when it shrinks by less
 * than a tenth (random ids, most integers), the rest of the values go in
 * as literal elements (the same bytes, no search for matches, which is
 * slow on such data and finds next to nothing), else the rest is
 * compressed as well. Any snappy reader reads both.
 */
#define PQW_SNAPPY_PROBE ((size_t)64 << 10)

/* n bytes of p as snappy literal elements at o; returns their length
 * (at most n + 3 per 64 KiB). */
static size_t snappy_literals(uint8_t *o, const uint8_t *p, size_t n)
{
	size_t k = 0;
	while (n) {
		size_t m = n < 65536 ? n : 65536;
		if (m <= 60) {
			o[k++] = (uint8_t)((m - 1) << 2);
		} else {
			o[k++] = 61 << 2; /* length - 1 in the next two bytes */
			o[k++] = (uint8_t)(m - 1);
			o[k++] = (uint8_t)((m - 1) >> 8);
		}
		memcpy(o + k, p, m);
		k += m;
		p += m;
		n -= m;
	}
	return k;
}

/* The elements of p[0..n) compressed at o + *pos (snappy's length varint
 * lands on the bytes before, which are put back); *pos moves past them. */
static int snappy_elements(uint8_t *o, size_t *pos, const uint8_t *p, size_t n)
{
	size_t v = varint_len(n), len = snappy_max_compressed_length(n);
	uint8_t save[10];
	memcpy(save, o + *pos - v, v);
	if (snappy_compress((const char *)p, n, (char *)o + *pos - v, &len) != SNAPPY_OK)
		return CL_EINTERNAL;
	memcpy(o + *pos - v, save, v);
	*pos += len - v;
	return 0;
}

/* The snappy stream of a[0..an) then b[0..bn) appended to out (see
 * above). 0, CL_ENOMEM or CL_EINTERNAL. */
static int snappy_page(cl_buf *out, const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
	size_t f = bn < PQW_SNAPPY_PROBE ? bn : PQW_SNAPPY_PROBE;
	size_t need = 10 + snappy_max_compressed_length(an) + snappy_max_compressed_length(f) +
		      snappy_max_compressed_length(bn - f);
	if (cl_buf_reserve(out, need))
		return CL_ENOMEM;
	uint8_t *o = out->data + out->len;
	size_t pos = 0;
	uint64_t t = (uint64_t)an + bn;
	while (t >= 0x80) {
		o[pos++] = (uint8_t)(t | 0x80);
		t >>= 7;
	}
	o[pos++] = (uint8_t)t;
	int rc = an ? snappy_elements(o, &pos, a, an) : 0;
	size_t at = pos;
	if (!rc && f)
		rc = snappy_elements(o, &pos, b, f);
	if (!rc && bn > f) {
		if ((pos - at) * 10 > f * 9)
			pos += snappy_literals(o + pos, b + f, bn - f);
		else
			rc = snappy_elements(o, &pos, b + f, bn - f);
	}
	if (rc)
		return rc;
	out->len += pos;
	out->data[out->len] = 0;
	return 0;
}

/* Encode, compress and append the open page to the chunk; reset the page. */
int cl__pqw_flush_page(pqw_writer *p, pqw_scratch *sc, pqw_chunk *ch, cl_error *err)
{
	if (ch->page_values == 0)
		return 0;
	const cl_write_options *o = &p->w->opts;
	const bool v2 = o->page_version == 2;
	cl_buf *raw = &sc->raw;
	int rc;
	cl_buf_clear(raw);
	bool is_compressed = o->compression != CL_CODEC_UNCOMPRESSED;
	const bool plain = !(ch->use_dict && ch->nidx > 0);
	/* v1 SNAPPY page: levels and values compressed each where they are
	 * (snappy_page); for a PLAIN page raw holds the levels only */
	const bool snap = !v2 && o->compression == CL_CODEC_SNAPPY;
	const bool pair = snap && plain;
	/* the page's encoded size, roughly: one growth of the scratch */
	size_t want = (size_t)cl__pqw_page_estimate(ch) + (size_t)ch->page_values / 4 + 64;
	if (scratch_reserve(raw, pair ? want - ch->plain.len : want))
		return cl__pqw_oom(p, err);
	size_t rlen, dlen;
	if (encode_page_levels(ch, raw, !v2, &rlen, &dlen))
		return cl__pqw_oom(p, err);
	size_t lev_len = rlen + dlen; /* v2: the uncompressed head of the page */
	size_t vstart = raw->len;
	int enc;
	if (!plain) {
		int bw = cl__bit_width(ch->dict.n - 1);
		if (bw < 1)
			bw = 1;
		if (cl_buf_putc(raw, (char)bw) ||
		    cl__rle_encode_u32(raw, ch->idx, ch->nidx, bw))
			return cl__pqw_oom(p, err);
		enc = PQ_ENC_RLE_DICTIONARY;
		ch->n_dict_pages++;
	} else {
		if (!pair && cl_buf_append(raw, ch->plain.data, ch->plain.len))
			return cl__pqw_oom(p, err);
		enc = PQ_ENC_PLAIN;
		ch->n_plain_pages++;
	}
	size_t usize = raw->len + (pair ? ch->plain.len : 0);
	size_t vlen = usize - vstart;
	if (usize > INT32_MAX)
		return cl__pqw_col_error(p, ch->col, err, CL_EINVAL,
					 "a page of %zu bytes is larger than Parquet allows", usize);
	if (ch->page_values > INT32_MAX)
		return cl__pqw_col_error(p, ch->col, err, CL_EINVAL,
					 "a page of %lld values is more than Parquet allows",
					 (long long)ch->page_values);
	const uint8_t *body = raw->data;
	size_t blen = raw->len;
	/* v1 compressed: the body is compressed straight into the page's own
	 * buffer after `room` bytes, the most its header can take (the header
	 * with the largest sizes), and the header written just before it */
	uint8_t *pg = NULL;
	size_t pgcap = 0, room = 0, boff = 0;
	if (v2) {
		/* v2: levels stay uncompressed; values compressed unless empty. */
		if (vlen == 0)
			is_compressed = false;
		if (is_compressed) {
			cl_buf_clear(&sc->comp);
			if (cl_buf_append(&sc->comp, raw->data, lev_len))
				return cl__pqw_oom(p, err);
			if ((rc = cl__pqw_compress(p, ch, raw->data + vstart, vlen, &sc->comp, err)))
				return rc;
			body = sc->comp.data;
			blen = sc->comp.len;
		}
	} else if (is_compressed) {
		if ((rc = page_header(p, sc, ch, enc, INT32_MAX, INT32_MAX, rlen, dlen, true)))
			return rc == CL_ENOMEM ? cl__pqw_oom(p, err)
					       : cl_error_set(err, rc, "page header encoding failed");
		room = sc->head.len;
		/* snappy_page needs the most: three bounds and a varint */
		pg = cl__pqw_pool_alloc(room + usize + usize / 6 + 128, &pgcap);
		if (!pg)
			return cl__pqw_oom(p, err);
		cl_buf view = {pg, room, pgcap};
		if (snap) {
			rc = snappy_page(&view, raw->data, vstart, pair ? ch->plain.data : raw->data + vstart,
					 vlen);
			if (rc == CL_ENOMEM)
				rc = cl__pqw_oom(p, err);
			else if (rc)
				rc = cl__pqw_col_error(p, ch->col, err, rc, "snappy: compression failed");
		} else {
			rc = cl__pqw_compress(p, ch, raw->data, raw->len, &view, err);
		}
		pg = view.data;
		pgcap = view.cap;
		if (rc) {
			cl__pqw_pool_give(pg, pgcap);
			return rc;
		}
		boff = room;
		body = pg + boff;
		blen = view.len - boff;
	}
	if (blen > INT32_MAX) {
		cl__pqw_pool_give(pg, pgcap);
		return cl__pqw_col_error(p, ch->col, err, CL_EINVAL,
					 "a page of %zu bytes is larger than Parquet allows", usize);
	}
	if ((rc = page_header(p, sc, ch, enc, usize, blen, rlen, dlen, is_compressed)) ||
	    cl__pqw_grow_array((void **)&ch->pages, &ch->pages_cap, ch->npages + 1, sizeof *ch->pages)) {
		cl__pqw_pool_give(pg, pgcap);
		return rc == 0 || rc == CL_ENOMEM ? cl__pqw_oom(p, err)
						  : cl_error_set(err, rc, "page header encoding failed");
	}
	size_t off = 0;
	if (pg) {
		/* the header ends where the body begins (room is enough) */
		off = boff - sc->head.len;
		memcpy(pg + off, sc->head.data, sc->head.len);
	} else {
		pg = cl__pqw_pool_alloc(sc->head.len + blen, &pgcap);
		if (!pg)
			return cl__pqw_oom(p, err);
		memcpy(pg, sc->head.data, sc->head.len);
		memcpy(pg + sc->head.len, body, blen);
	}
	ch->pages[ch->npages].data = pg;
	ch->pages[ch->npages].off = off;
	ch->pages[ch->npages].cap = pgcap;
	ch->pages[ch->npages++].len = sc->head.len + blen;
	ch->uncompressed += (int64_t)(sc->head.len + usize);
	ch->compressed += (int64_t)(sc->head.len + blen);
	ch->num_values += ch->page_values;
	if (cl__pqw_stats_merge(&ch->chunk_stats, &ch->page_stats, ch->d.kind))
		return cl__pqw_oom(p, err);
	reset_page(ch);
	return 0;
}

