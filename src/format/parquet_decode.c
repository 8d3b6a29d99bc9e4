/*
 * parquet_decode.c — Parquet's value encodings (see parquet_decode.h).
 *
 * Invariants: every decoder reads only inside [p, end) of its input; counts
 * and lengths from the file are checked before use (a value count is never
 * trusted to size an allocation here: callers ask for at most a batch of
 * values at a time, and each value consumes input or is bounded by a
 * header the caller checked). Bit-unpacking reads 8 bytes at a time while
 * that stays inside the input and falls back to byte loads at the tail.
 */
#include "parquet_decode.h"

#include <string.h>

static int fmt_err(cl_error *err, const char *what)
{
	return cl_error_set(err, CL_EFORMAT, "%s", what);
}

static int get_uvarint(const uint8_t **pp, const uint8_t *end, uint64_t *out)
{
	const uint8_t *p = *pp;
	uint64_t v = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		if (p >= end)
			return -1;
		uint8_t b = *p++;
		if (shift == 63 && (b & 0x7e))
			return -1;
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*pp = p;
			*out = v;
			return 0;
		}
	}
	return -1;
}

static uint64_t load_tail(const uint8_t *p, size_t avail, size_t byte)
{
	uint64_t v = 0;
	for (int k = 0; k < 8 && byte + k < avail; k++)
		v |= (uint64_t)p[byte + k] << (8 * k);
	return v;
}

/*
 * Groups of 8 values of a width known at compile time (8 values of width W
 * take exactly W bytes): constant shifts and masks, one unaligned 8-byte
 * load per value. Needs W + 8 readable bytes per group (checked by the
 * caller).
 */
#define UNPACK8(W)                                                              \
	static void unpack8_##W(const uint8_t *p, uint32_t *out, int64_t groups)  \
	{                                                                       \
		const uint64_t mask = ((uint64_t)1 << W) - 1;                  \
		for (int64_t g = 0; g < groups; g++, p += W, out += 8) {        \
			for (int i = 0; i < 8; i++) {                           \
				uint64_t v;                                     \
				memcpy(&v, p + (i * W) / 8, 8);                 \
				out[i] = (uint32_t)((v >> ((i * W) % 8)) & mask); \
			}                                                       \
		}                                                               \
	}
UNPACK8(1) UNPACK8(2) UNPACK8(3) UNPACK8(4) UNPACK8(5) UNPACK8(6) UNPACK8(7) UNPACK8(8)
UNPACK8(9) UNPACK8(10) UNPACK8(11) UNPACK8(12) UNPACK8(13) UNPACK8(14) UNPACK8(15)
UNPACK8(16) UNPACK8(17) UNPACK8(18) UNPACK8(19) UNPACK8(20) UNPACK8(21) UNPACK8(22)
UNPACK8(23) UNPACK8(24) UNPACK8(25) UNPACK8(26) UNPACK8(27) UNPACK8(28) UNPACK8(29)
UNPACK8(30) UNPACK8(31) UNPACK8(32)
#undef UNPACK8

static void (*const unpack8[33])(const uint8_t *, uint32_t *, int64_t) = {
	NULL, unpack8_1, unpack8_2, unpack8_3, unpack8_4, unpack8_5, unpack8_6,
	unpack8_7, unpack8_8, unpack8_9, unpack8_10, unpack8_11, unpack8_12,
	unpack8_13, unpack8_14, unpack8_15, unpack8_16, unpack8_17, unpack8_18,
	unpack8_19, unpack8_20, unpack8_21, unpack8_22, unpack8_23, unpack8_24,
	unpack8_25, unpack8_26, unpack8_27, unpack8_28, unpack8_29, unpack8_30,
	unpack8_31, unpack8_32,
};

void cl__unpack32(const uint8_t *p, size_t avail, int w, int64_t first, uint32_t *out,
		  int64_t n)
{
	/* whole groups of 8 from a group boundary, while W + 8 bytes remain */
	if (w > 0 && (first & 7) == 0 && n >= 8) {
		size_t byte = (size_t)(first / 8) * (size_t)w;
		int64_t groups = n / 8;
		if (byte < avail) {
			int64_t fit = (int64_t)((avail - byte) / (size_t)w);
			/* the last group reads up to W + 8 bytes past its start */
			while (fit > 0 && byte + (size_t)fit * (size_t)w + 8 > avail + (size_t)w)
				fit--;
			if (groups > fit)
				groups = fit;
			if (groups > 0) {
				unpack8[w](p + byte, out, groups);
				first += groups * 8;
				out += groups * 8;
				n -= groups * 8;
			}
		}
		if (n == 0)
			return;
	}
	if (w == 0) {
		memset(out, 0, (size_t)n * sizeof *out);
		return;
	}
	const uint64_t mask = w == 32 ? 0xffffffffu : ((uint64_t)1 << w) - 1;
	uint64_t bit = (uint64_t)first * (uint64_t)w;
	int64_t i = 0;
	if (w == 1) {
		/* booleans and flat definition levels */
		for (; i < n && ((bit + (uint64_t)i) >> 3) < avail; i++) {
			uint64_t b = bit + (uint64_t)i;
			out[i] = (p[b >> 3] >> (b & 7)) & 1;
		}
		for (; i < n; i++)
			out[i] = 0;
		return;
	}
	for (; i < n; i++, bit += (uint64_t)w) {
		size_t byte = (size_t)(bit >> 3);
		if (byte + 8 > avail)
			break;
		uint64_t v;
		memcpy(&v, p + byte, 8);
		out[i] = (uint32_t)((v >> (bit & 7)) & mask);
	}
	for (; i < n; i++, bit += (uint64_t)w) {
		uint64_t v = load_tail(p, avail, (size_t)(bit >> 3));
		out[i] = (uint32_t)((v >> (bit & 7)) & mask);
	}
}

static inline uint64_t get_bits64(const uint8_t *p, size_t avail, uint64_t bit, int w)
{
	size_t byte = (size_t)(bit >> 3);
	int s = (int)(bit & 7);
	uint64_t lo;
	if (byte + 8 <= avail)
		memcpy(&lo, p + byte, 8);
	else
		lo = load_tail(p, avail, byte);
	uint64_t v = lo >> s;
	if (s && s + w > 64) {
		uint8_t hi = byte + 8 < avail ? p[byte + 8] : 0;
		v |= (uint64_t)hi << (64 - s);
	}
	if (w < 64)
		v &= ((uint64_t)1 << w) - 1;
	return v;
}

/* ---- RLE / bit-packed hybrid ---- */

void cl__rle_init(cl__rle *r, const uint8_t *p, size_t n, int bit_width)
{
	memset(r, 0, sizeof *r);
	r->p = p;
	r->end = p + n;
	r->bit_width = bit_width;
}

static int rle_next_run(cl__rle *r, cl_error *err)
{
	for (;;) {
		uint64_t h;
		if (r->p >= r->end)
			return fmt_err(err, "RLE/bit-packed data ends before all values are read");
		if (get_uvarint(&r->p, r->end, &h))
			return fmt_err(err, "RLE/bit-packed run header is corrupt");
		int w = r->bit_width;
		if (h & 1) {
			uint64_t groups = h >> 1;
			if (groups == 0)
				continue;
			if (groups > ((uint64_t)1 << 40))
				return fmt_err(err, "RLE/bit-packed run is impossibly long");
			uint64_t bytes = groups * (uint64_t)w;
			size_t avail = (size_t)(r->end - r->p);
			if (bytes < avail)
				avail = (size_t)bytes;
			/* the last run may be cut short: use the complete values */
			uint64_t vals = w ? (uint64_t)avail * 8 / (uint64_t)w : groups * 8;
			if (vals > groups * 8)
				vals = groups * 8;
			if (vals == 0)
				return fmt_err(err, "RLE/bit-packed data ends inside a bit-packed run");
			r->bp = r->p;
			r->bp_bytes = avail;
			r->bp_pos = 0;
			r->bp_left = (int64_t)vals;
			r->p += avail;
			return 0;
		}
		uint64_t count = h >> 1;
		int nb = (w + 7) / 8;
		if ((size_t)(r->end - r->p) < (size_t)nb)
			return fmt_err(err, "RLE run value is truncated");
		uint32_t v = 0;
		for (int k = 0; k < nb; k++)
			v |= (uint32_t)r->p[k] << (8 * k);
		r->p += nb;
		if (w < 32 && (v >> w))
			return fmt_err(err, "RLE run value is wider than the bit width");
		if (count == 0)
			continue;
		if (count > ((uint64_t)1 << 40))
			return fmt_err(err, "RLE run is impossibly long");
		r->value = v;
		r->rle_left = (int64_t)count;
		return 0;
	}
}

int cl__rle_get_u32(cl__rle *r, uint32_t *out, int64_t n, cl_error *err)
{
	while (n > 0) {
		if (r->rle_left > 0) {
			int64_t k = n < r->rle_left ? n : r->rle_left;
			uint32_t v = r->value;
			for (int64_t i = 0; i < k; i++)
				out[i] = v;
			out += k;
			n -= k;
			r->rle_left -= k;
		} else if (r->bp_left > 0) {
			int64_t k = n < r->bp_left ? n : r->bp_left;
			cl__unpack32(r->bp, r->bp_bytes, r->bit_width, r->bp_pos, out, k);
			r->bp_pos += k;
			r->bp_left -= k;
			out += k;
			n -= k;
		} else {
			int rc = rle_next_run(r, err);
			if (rc)
				return rc;
		}
	}
	return 0;
}

int cl__rle_get_u8(cl__rle *r, uint8_t *out, int64_t n, cl_error *err)
{
	uint32_t tmp[256];
	while (n > 0) {
		if (r->rle_left > 0) {
			int64_t k = n < r->rle_left ? n : r->rle_left;
			memset(out, (int)(uint8_t)r->value, (size_t)k);
			if (r->value > 255)
				return fmt_err(err, "level value out of range");
			out += k;
			n -= k;
			r->rle_left -= k;
		} else if (r->bp_left > 0) {
			int64_t k = n < r->bp_left ? n : r->bp_left;
			if (k > 256)
				k = 256;
			cl__unpack32(r->bp, r->bp_bytes, r->bit_width, r->bp_pos, tmp, k);
			for (int64_t i = 0; i < k; i++) {
				if (tmp[i] > 255)
					return fmt_err(err, "level value out of range");
				out[i] = (uint8_t)tmp[i];
			}
			r->bp_pos += k;
			r->bp_left -= k;
			out += k;
			n -= k;
		} else {
			int rc = rle_next_run(r, err);
			if (rc)
				return rc;
		}
	}
	return 0;
}

/* ---- DELTA_BINARY_PACKED ---- */

int cl__delta_init(cl__delta *d, const uint8_t *p, size_t n, cl_error *err)
{
	memset(d, 0, sizeof *d);
	d->p = p;
	d->end = p + n;
	uint64_t first;
	if (get_uvarint(&d->p, d->end, &d->block_size) ||
	    get_uvarint(&d->p, d->end, &d->nmini) || get_uvarint(&d->p, d->end, &d->total) ||
	    get_uvarint(&d->p, d->end, &first))
		return fmt_err(err, "DELTA_BINARY_PACKED header is truncated or corrupt");
	if (d->block_size == 0 || d->block_size % 128 || d->block_size > (1u << 20) ||
	    d->nmini == 0 || d->nmini > CL__DELTA_MAX_MINI || d->block_size % d->nmini ||
	    (d->block_size / d->nmini) % 32)
		return cl_error_set(err, CL_EFORMAT,
				    "DELTA_BINARY_PACKED header is invalid (block size %llu, "
				    "%llu miniblocks)",
				    (unsigned long long)d->block_size,
				    (unsigned long long)d->nmini);
	if (d->total > ((uint64_t)1 << 40))
		return fmt_err(err, "DELTA_BINARY_PACKED value count is impossibly large");
	d->per_mini = d->block_size / d->nmini;
	d->last = (first >> 1) ^ -(first & 1);
	return 0;
}

static int delta_next_mini(cl__delta *d, cl_error *err)
{
	if (!d->in_block || d->mini + 1 >= d->nmini) {
		uint64_t md;
		if (get_uvarint(&d->p, d->end, &md))
			return fmt_err(err, "DELTA_BINARY_PACKED block header is truncated");
		d->min_delta = (md >> 1) ^ -(md & 1);
		if ((size_t)(d->end - d->p) < d->nmini)
			return fmt_err(err, "DELTA_BINARY_PACKED bit widths are truncated");
		memcpy(d->widths, d->p, d->nmini);
		d->p += d->nmini;
		d->in_block = true;
		d->mini = 0;
	} else {
		d->mini++;
	}
	int w = d->widths[d->mini];
	if (w > 64)
		return cl_error_set(err, CL_EFORMAT,
				    "DELTA_BINARY_PACKED miniblock bit width %d is over 64", w);
	size_t bytes = (size_t)(d->per_mini * (uint64_t)w / 8);
	size_t avail = (size_t)(d->end - d->p);
	d->mini_data = d->p;
	d->p += bytes < avail ? bytes : avail;
	d->mini_left = d->per_mini;
	d->mini_pos = 0;
	return 0;
}

int cl__delta_get(cl__delta *d, int64_t *out, int64_t n, cl_error *err)
{
	if (n < 0 || (uint64_t)n > d->total - d->done)
		return fmt_err(err, "DELTA_BINARY_PACKED stream has fewer values than the page");
	int64_t i = 0;
	if (n > 0 && d->done == 0) {
		out[i++] = (int64_t)d->last;
		d->done = 1;
	}
	while (i < n) {
		if (d->mini_left == 0) {
			int rc = delta_next_mini(d, err);
			if (rc)
				return rc;
		}
		int w = d->widths[d->mini];
		uint64_t k = (uint64_t)(n - i);
		if (k > d->mini_left)
			k = d->mini_left;
		size_t avail = (size_t)(d->p - d->mini_data);
		if ((d->mini_pos + k) * (uint64_t)w > (uint64_t)avail * 8)
			return fmt_err(err, "DELTA_BINARY_PACKED miniblock is truncated");
		uint64_t last = d->last, md = d->min_delta;
		uint64_t bit = d->mini_pos * (uint64_t)w;
		for (uint64_t j = 0; j < k; j++, bit += (uint64_t)w) {
			last += md + get_bits64(d->mini_data, avail, bit, w);
			out[i + (int64_t)j] = (int64_t)last;
		}
		d->last = last;
		d->mini_pos += k;
		d->mini_left -= k;
		d->done += k;
		i += (int64_t)k;
	}
	return 0;
}

int cl__delta_end(const cl__delta *d0, const uint8_t **end, cl_error *err)
{
	/* only valid on a freshly initialised decoder */
	const uint8_t *p = d0->p;
	uint64_t left = d0->total ? d0->total - 1 : 0;
	while (left > 0) {
		uint64_t md;
		if (get_uvarint(&p, d0->end, &md))
			return fmt_err(err, "DELTA_BINARY_PACKED block header is truncated");
		if ((size_t)(d0->end - p) < d0->nmini)
			return fmt_err(err, "DELTA_BINARY_PACKED bit widths are truncated");
		const uint8_t *widths = p;
		p += d0->nmini;
		for (uint64_t m = 0; m < d0->nmini && left > 0; m++) {
			if (widths[m] > 64)
				return fmt_err(err, "DELTA_BINARY_PACKED bit width is over 64");
			size_t bytes = (size_t)(d0->per_mini * widths[m] / 8);
			if ((size_t)(d0->end - p) < bytes)
				return fmt_err(err, "DELTA_BINARY_PACKED miniblock is truncated");
			p += bytes;
			left -= left < d0->per_mini ? left : d0->per_mini;
		}
	}
	*end = p;
	return 0;
}

/* ---- DELTA_LENGTH_BYTE_ARRAY ---- */

int cl__dlba_init(cl__dlba *d, const uint8_t *p, size_t n, cl_error *err)
{
	int rc = cl__delta_init(&d->lens, p, n, err);
	if (!rc)
		rc = cl__delta_end(&d->lens, &d->data, err);
	d->end = p + n;
	return rc;
}

int cl__dlba_get(cl__dlba *d, cl__pq_view *out, int64_t n, cl_error *err)
{
	while (n > 0) {
		int64_t k = n < 256 ? n : 256;
		int rc = cl__delta_get(&d->lens, d->tmp, k, err);
		if (rc)
			return rc;
		for (int64_t i = 0; i < k; i++) {
			int64_t len = d->tmp[i];
			if (len < 0 || (uint64_t)len > (uint64_t)(d->end - d->data))
				return cl_error_set(err, CL_EFORMAT,
						    "DELTA_LENGTH_BYTE_ARRAY length %lld exceeds "
						    "the %zu bytes left",
						    (long long)len, (size_t)(d->end - d->data));
			out[i].p = d->data;
			out[i].n = (size_t)len;
			d->data += len;
		}
		out += k;
		n -= k;
	}
	return 0;
}

/* ---- DELTA_BYTE_ARRAY ---- */

#define DBA_MAX_BYTES ((size_t)1 << 30)

int cl__dba_init(cl__dba *d, const uint8_t *p, size_t n, cl_error *err)
{
	const uint8_t *q;
	int rc = cl__delta_init(&d->prefix, p, n, err);
	if (!rc)
		rc = cl__delta_end(&d->prefix, &q, err);
	if (!rc)
		rc = cl__dlba_init(&d->suffix, q, (size_t)(p + n - q), err);
	if (!rc && d->prefix.total != d->suffix.lens.total)
		rc = fmt_err(err, "DELTA_BYTE_ARRAY prefix and suffix counts differ");
	cl_buf_clear(&d->last);
	return rc;
}

int cl__dba_get(cl__dba *d, cl__pq_view *out, int64_t n, cl_error *err)
{
	cl_buf_clear(&d->out);
	int64_t done = 0;
	while (done < n) {
		int64_t k = n - done < 256 ? n - done : 256;
		int rc = cl__delta_get(&d->prefix, d->tmp, k, err);
		if (!rc)
			rc = cl__dlba_get(&d->suffix, out + done, k, err);
		if (rc)
			return rc;
		for (int64_t i = 0; i < k; i++) {
			int64_t plen = d->tmp[i];
			cl__pq_view s = out[done + i];
			if (plen < 0 || (uint64_t)plen > d->last.len)
				return cl_error_set(err, CL_EFORMAT,
						    "DELTA_BYTE_ARRAY prefix length %lld exceeds the "
						    "previous value's %zu bytes",
						    (long long)plen, d->last.len);
			if (d->out.len + (size_t)plen + s.n > DBA_MAX_BYTES)
				return cl_error_set(err, CL_EUNSUPPORTED,
						    "DELTA_BYTE_ARRAY values of one batch exceed 1 GiB");
			d->last.len = (size_t)plen;
			if (cl_buf_append(&d->last, s.p, s.n) ||
			    cl_buf_append(&d->out, d->last.data, d->last.len))
				return cl_error_set(err, CL_ENOMEM, "out of memory");
			out[done + i].p = NULL;
			out[done + i].n = d->last.len;
		}
		done += k;
	}
	if (cl_buf_reserve(&d->out, CL__PQ_PAD))
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	size_t off = 0;
	for (int64_t i = 0; i < n; i++) {
		out[i].p = d->out.data + off;
		off += out[i].n;
	}
	return 0;
}

void cl__dba_release(cl__dba *d)
{
	cl_buf_release(&d->last);
	cl_buf_release(&d->out);
}

/* ---- PLAIN byte arrays and BYTE_STREAM_SPLIT ---- */

int cl__plain_ba_get(const uint8_t **pp, const uint8_t *end, cl__pq_view *out, int64_t n,
		     cl_error *err)
{
	const uint8_t *p = *pp;
	for (int64_t i = 0; i < n; i++) {
		if (end - p < 4)
			return fmt_err(err, "PLAIN byte array length is truncated");
		uint32_t len;
		memcpy(&len, p, 4);
		p += 4;
		if (len > (size_t)(end - p))
			return cl_error_set(err, CL_EFORMAT,
					    "PLAIN byte array of %u bytes exceeds the %zu bytes left",
					    len, (size_t)(end - p));
		out[i].p = p;
		out[i].n = len;
		p += len;
	}
	*pp = p;
	return 0;
}

void cl__bss_get(const uint8_t *base, int64_t nvals, int w, int64_t pos, uint8_t *dst,
		 int64_t n)
{
	for (int b = 0; b < w; b++) {
		const uint8_t *src = base + (size_t)b * (size_t)nvals + (size_t)pos;
		uint8_t *o = dst + b;
		for (int64_t j = 0; j < n; j++)
			o[(size_t)j * (size_t)w] = src[j];
	}
}
