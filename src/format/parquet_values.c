/*
 * parquet_values.c — the values of a data page into a column: decoding
 * (PLAIN, dictionary, RLE booleans, DELTA_*, BYTE_STREAM_SPLIT), conversion
 * of physical values to the column's changelake type, and spreading them
 * over the rows their definition levels say are present.
 *
 * cl__pq_put_values is called by the page reader (parquet_page.c) with the
 * decoders of the current page set up (setup_values there). Fixed-width
 * values of the column's own width are decoded straight into the column;
 * strings go from the page (PLAIN) or the dictionary straight into the
 * column's data; everything else goes through the cl__pq_col's scratch
 * buffers (batch_rows entries). Every read is bounds-checked against the
 * page; a value that does not convert is CL_EFORMAT naming the page.
 */
#include "parquet_decode.h"
#include "parquet_format.h"
#include "core/value_text.h"

#include <string.h>

#define MAX_BATCH_DATA ((int64_t)1 << 31)
/* Most data bytes reserved up front for a batch's strings (an estimate;
 * more are reserved as values need them) */
#define MAX_DATA_ESTIMATE ((int64_t)64 << 20)

/* ---- value decoding ---- */

/* The next nn PLAIN fixed-width values (w bytes each) of the page: *src
 * points at them in the page, which is bounds-checked; 0 or CL_EFORMAT. */
static int plain_fixed(cl__pq_col *c, int64_t nn, int w, const uint8_t **src,
		       cl_error *err)
{
	if ((uint64_t)nn * (uint64_t)w > (uint64_t)(c->vend - c->vp))
		return cl__pq_col_errf(c, err, CL_EFORMAT,
				"PLAIN values end before the page's values (%lld of %d bytes "
				"wanted, %zu left)",
				(long long)nn, w, (size_t)(c->vend - c->vp));
	*src = c->vp;
	c->vp += (size_t)nn * (size_t)w;
	return 0;
}

/* Decode nn values: fixed-width ones to dst (nn * width bytes), byte arrays
 * to views. */
static int decode_values(cl__pq_col *c, int64_t nn, uint8_t *dst, cl__pq_view *views,
			 cl_error *err)
{
	int w = cl__pq_phys_width(c->ptype, c->type_length);
	int rc = 0;
	if (nn == 0)
		return 0;
	switch (c->enc) {
	case PQ_ENC_PLAIN:
		if (c->ptype == PQ_BYTE_ARRAY) {
			rc = cl__plain_ba_get(&c->vp, c->vend, views, nn, err);
			break;
		}
		if (c->ptype == PQ_BOOLEAN) {
			uint64_t bits = (uint64_t)c->bitpos + (uint64_t)nn;
			if ((bits + 7) / 8 > (uint64_t)(c->vend - c->vp))
				return cl__pq_col_errf(c, err, CL_EFORMAT,
						"PLAIN booleans end before the page's values");
			for (int64_t i = 0; i < nn; i++) {
				uint64_t b = (uint64_t)c->bitpos + (uint64_t)i;
				dst[i] = (c->vp[b >> 3] >> (b & 7)) & 1;
			}
			c->vp += bits / 8;
			c->bitpos = (int)(bits % 8);
			return 0;
		}
		const uint8_t *src = NULL;
		if ((rc = plain_fixed(c, nn, w, &src, err)))
			return rc;
		memcpy(dst, src, (size_t)nn * (size_t)w);
		return 0;
	case PQ_ENC_PLAIN_DICTIONARY:
	case PQ_ENC_RLE_DICTIONARY: {
		rc = cl__rle_get_u32(&c->vrle, c->idx, nn, err);
		if (rc)
			break;
		const uint32_t *ix = c->idx;
		uint64_t dn = (uint64_t)c->dict_n;
		for (int64_t i = 0; i < nn; i++)
			if (ix[i] >= dn)
				return cl__pq_col_errf(c, err, CL_EFORMAT,
						"dictionary index %u out of range (%lld entries)",
						ix[i], (long long)c->dict_n);
		if (c->ptype == PQ_BYTE_ARRAY) {
			const cl__pq_view *dv = c->dict_views;
			for (int64_t i = 0; i < nn; i++)
				views[i] = dv[ix[i]];
		} else if (w == 4) {
			const uint32_t *d = (const uint32_t *)c->dict_page;
			uint32_t *o = (uint32_t *)dst;
			for (int64_t i = 0; i < nn; i++)
				o[i] = d[ix[i]];
		} else if (w == 8) {
			const uint64_t *d = (const uint64_t *)c->dict_page;
			uint64_t *o = (uint64_t *)dst;
			for (int64_t i = 0; i < nn; i++)
				o[i] = d[ix[i]];
		} else {
			for (int64_t i = 0; i < nn; i++)
				memcpy(dst + (size_t)i * (size_t)w,
				       c->dict_page + (size_t)ix[i] * (size_t)w, (size_t)w);
		}
		return 0;
	}
	case PQ_ENC_RLE:
		rc = cl__rle_get_u32(&c->vrle, c->idx, nn, err);
		if (rc)
			break;
		for (int64_t i = 0; i < nn; i++)
			dst[i] = (uint8_t)c->idx[i];
		return 0;
	case PQ_ENC_DELTA_BINARY_PACKED:
		if (c->ptype == PQ_INT64)
			rc = cl__delta_get(&c->vdelta, (int64_t *)dst, nn, err);
		else {
			int64_t tmp[256];
			for (int64_t i = 0; i < nn && !rc; i += 256) {
				int64_t k = nn - i < 256 ? nn - i : 256;
				rc = cl__delta_get(&c->vdelta, tmp, k, err);
				for (int64_t j = 0; j < k && !rc; j++)
					((int32_t *)dst)[i + j] = (int32_t)(uint32_t)(uint64_t)tmp[j];
			}
		}
		break;
	case PQ_ENC_DELTA_LENGTH_BYTE_ARRAY:
		rc = cl__dlba_get(c->vdlba, views, nn, err);
		break;
	case PQ_ENC_DELTA_BYTE_ARRAY:
		rc = cl__dba_get(c->vdba, views, nn, err);
		if (rc || c->ptype == PQ_BYTE_ARRAY)
			break;
		for (int64_t i = 0; i < nn; i++) {
			if (views[i].n != (size_t)w)
				return cl__pq_col_errf(c, err, CL_EFORMAT,
						"DELTA_BYTE_ARRAY value of %zu bytes in a "
						"FIXED_LEN_BYTE_ARRAY(%d) column",
						views[i].n, w);
			memcpy(dst + (size_t)i * (size_t)w, views[i].p, (size_t)w);
		}
		return 0;
	case PQ_ENC_BYTE_STREAM_SPLIT:
		if (c->vpos + nn > c->vcount)
			return cl__pq_col_errf(c, err, CL_EFORMAT,
					"BYTE_STREAM_SPLIT data has fewer values than the page");
		cl__bss_get(c->vp, c->vcount, w, c->vpos, dst, nn);
		c->vpos += nn;
		return 0;
	default:
		return cl__pq_col_errf(c, err, CL_EINTERNAL, "no decoder for encoding %d", c->enc);
	}
	return rc ? cl__pq_col_fail(c, err, rc, true) : 0;
}

/* ---- conversion of decoded values into the column ---- */

float cl__pq_half_to_float(uint16_t h)
{
	uint32_t sign = (uint32_t)(h >> 15) << 31;
	uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
	uint32_t f;
	if (exp == 0x1f)
		f = sign | 0x7f800000u | (mant << 13);
	else if (exp == 0) {
		if (mant == 0)
			f = sign;
		else {
			/* subnormal: normalise */
			int e = -1;
			do {
				e++;
				mant <<= 1;
			} while (!(mant & 0x400));
			f = sign | (uint32_t)(127 - 15 - e) << 23 | ((mant & 0x3ff) << 13);
		}
	} else
		f = sign | ((exp + 127 - 15) << 23) | (mant << 13);
	float r;
	memcpy(&r, &f, 4);
	return r;
}

/* Big-endian two's complement bytes to int128; false when it does not fit. */
bool cl__pq_be_to_i128(const uint8_t *p, size_t n, void *out16)
{
	cl_i128 *out = out16;
	if (n == 0) {
		*out = 0;
		return true;
	}
	uint8_t fill = (p[0] & 0x80) ? 0xff : 0;
	while (n > 16) {
		if (p[0] != fill)
			return false;
		p++;
		n--;
	}
	if (n == 16 && ((p[0] ^ fill) & 0x80))
		return false;
	unsigned __int128 v = fill ? ~(unsigned __int128)0 : 0;
	for (size_t i = 0; i < n; i++)
		v = (v << 8) | p[i];
	*out = (cl_i128)v;
	return true;
}

static const char hexd[] = "0123456789abcdef";

/*
 * Convert value j of the decoded values (phys or views) to dst row `row`.
 * Fixed-width targets write values; var targets return the bytes to append
 * via *vp (or write into `tmp` for UUID text).
 */
static int convert_fixed(cl__pq_col *c, cl_column *dst, int64_t row, const uint8_t *src,
			 const cl__pq_view *v, cl_error *err)
{
	uint8_t *out = dst->values;
	switch (c->conv) {
	case CV_I32_I8: {
		int32_t x;
		memcpy(&x, src, 4);
		((int8_t *)out)[row] = (int8_t)x;
		return 0;
	}
	case CV_I32_I16: {
		int32_t x;
		memcpy(&x, src, 4);
		((int16_t *)out)[row] = (int16_t)x;
		return 0;
	}
	case CV_I32_I64: {
		int32_t x;
		memcpy(&x, src, 4);
		((int64_t *)out)[row] = x;
		return 0;
	}
	case CV_I32_DEC: {
		int32_t x;
		memcpy(&x, src, 4);
		cl_i128 d = x;
		memcpy(out + (size_t)row * 16, &d, 16);
		return 0;
	}
	case CV_I64_DEC: {
		int64_t x;
		memcpy(&x, src, 8);
		cl_i128 d = x;
		memcpy(out + (size_t)row * 16, &d, 16);
		return 0;
	}
	case CV_INT96_TS: {
		int64_t nanos;
		int32_t jd;
		memcpy(&nanos, src, 8);
		memcpy(&jd, src + 8, 4);
		/* in 128 bits: days * 86400e6 may leave int64 before the nanoseconds
		 * (negative in some writers) bring it back */
		cl_i128 us = (cl_i128)((int64_t)jd - 2440588) * 86400000000 + nanos / 1000;
		if (us < INT64_MIN || us > INT64_MAX)
			return cl__pq_col_errf(c, err, CL_EFORMAT, "INT96 timestamp out of range");
		((int64_t *)out)[row] = (int64_t)us;
		return 0;
	}
	case CV_FIX_DEC:
	case CV_BA_DEC: {
		cl_i128 d;
		const uint8_t *p = c->conv == CV_FIX_DEC ? src : v->p;
		size_t n = c->conv == CV_FIX_DEC ? (size_t)c->type_length : v->n;
		if (!cl__pq_be_to_i128(p, n, &d))
			return cl__pq_col_errf(c, err, CL_EFORMAT,
					"decimal value of %zu bytes does not fit 128 bits", n);
		memcpy(out + (size_t)row * 16, &d, 16);
		return 0;
	}
	case CV_FIX_F16: {
		uint16_t h;
		memcpy(&h, src, 2);
		((float *)out)[row] = cl__pq_half_to_float(h);
		return 0;
	}
	default:
		return cl__pq_col_errf(c, err, CL_EINTERNAL, "bad fixed conversion %d", c->conv);
	}
}

static bool ascii_only(const uint8_t *p, int64_t n)
{
	uint64_t acc = 0;
	int64_t i = 0;
	for (; i + 32 <= n; i += 32) {
		uint64_t a, b, c, d;
		memcpy(&a, p + i, 8);
		memcpy(&b, p + i + 8, 8);
		memcpy(&c, p + i + 16, 8);
		memcpy(&d, p + i + 24, 8);
		acc |= a | b | c | d;
	}
	for (; i < n; i++)
		acc |= p[i];
	return !(acc & 0x8080808080808080ull);
}

/* Copy v (n bytes) to d; short values with fixed-size moves (every buffer
 * values are read from has CL__PQ_PAD readable bytes past its end, and d
 * has them reserved). */
static inline void copy_value(uint8_t *d, const uint8_t *v, size_t n)
{
	if (n <= 16)
		memcpy(d, v, 16);
	else if (n <= 32) {
		/* two fixed moves that overlap */
		memcpy(d, v, 16);
		memcpy(d + n - 16, v + n - 16, 16);
	} else if (n <= 64) {
		memcpy(d, v, 32);
		memcpy(d + n - 32, v + n - 32, 32);
	} else
		memcpy(d, v, n);
}

/* UTF-8 of the strings of rows [base, base+k): one pass over the bytes when
 * they are all ASCII, value by value otherwise. */
static int check_utf8(cl__pq_col *c, const cl_column *dst, int64_t base, int64_t k,
		      cl_error *err)
{
	const int64_t *off = dst->offsets;
	if (ascii_only(dst->data + off[base], off[base + k] - off[base]))
		return 0;
	for (int64_t i = 0; i < k; i++) {
		size_t n = (size_t)(off[base + i + 1] - off[base + i]);
		size_t bad = cl__utf8_check(dst->data + off[base + i], n);
		if (bad != n)
			return cl__pq_col_errf(c, err, CL_EFORMAT,
					"row %lld: string is not valid UTF-8 (byte %zu)",
					(long long)(c->rg_first_row + c->rows_done + i), bad);
	}
	return 0;
}

/* Room for `need` more data bytes at data position pos of dst (the batch
 * limit checked), growing the buffer to at least double; 0 or an error. */
static int grow_data(cl__pq_col *c, cl_column *dst, int64_t base, int64_t pos, int64_t need,
		     cl_error *err)
{
	if (pos + need > MAX_BATCH_DATA + CL__PQ_PAD)
		return cl__pq_col_errf(c, err, CL_EUNSUPPORTED,
				"a batch of this column exceeds 2 GiB of data; read smaller "
				"batches");
	int64_t want = pos - dst->offsets[base] + need;
	int64_t dbl = dst->data_cap - dst->offsets[base];
	if (dbl > 0 && want < 2 * dbl)
		want = 2 * dbl;
	/* cl_column_reserve_data counts from offsets[length]; length is base */
	return cl_column_reserve_data(dst, want, err);
}

/*
 * PLAIN byte arrays straight from the page into rows [base, base+k) (nn
 * of them present), in one pass: the lengths form a chain of dependent
 * loads through a page that is mostly out of the cache, so they are read
 * once, each bounds-checked, and the bytes copied right behind them. The
 * data buffer is reserved for this batch's share of the page's bytes (all
 * of them for the page's last batch) and grown if a value passes it.
 */
static int fill_plain_ba(cl__pq_col *c, cl_column *dst, int64_t base, int64_t k,
			 int64_t nn, const uint8_t *lv, cl_error *err)
{
	const uint8_t *q = c->vp, *end = c->vend;
	int64_t left = end - q;
	int64_t est = left;
	if (c->page_left > k)
		est = (int64_t)((double)left * (double)k / (double)c->page_left * 1.125) + 256;
	if (est > left)
		est = left;
	if (est > MAX_DATA_ESTIMATE)
		est = MAX_DATA_ESTIMATE;
	if (dst->offsets[base] + est > MAX_BATCH_DATA)
		est = MAX_BATCH_DATA - dst->offsets[base] > 0 ? MAX_BATCH_DATA - dst->offsets[base]
							     : 0;
	int rc = cl_column_reserve_data(dst, est + CL__PQ_PAD, err);
	if (rc)
		return rc;
	int64_t *off = dst->offsets;
	uint8_t *data = dst->data;
	int64_t cap = dst->data_cap;
	int64_t pos = off[base];
	for (int64_t i = 0; i < k; i++) {
		if (!lv || lv[i]) {
			uint32_t len;
			/* each length depends on the one before: ask for the
			 * bytes ahead */
			__builtin_prefetch(q + 512);
			if (end - q < 4)
				return cl__pq_col_errf(c, err, CL_EFORMAT,
						"PLAIN byte array length is truncated");
			memcpy(&len, q, 4);
			q += 4;
			if (len > (size_t)(end - q))
				return cl__pq_col_errf(c, err, CL_EFORMAT,
						"PLAIN byte array of %u bytes exceeds the %zu bytes "
						"left",
						len, (size_t)(end - q));
			if ((int64_t)len + CL__PQ_PAD > cap - pos) {
				if ((rc = grow_data(c, dst, base, pos, (int64_t)len + CL__PQ_PAD,
						    err)))
					return rc;
				data = dst->data;
				cap = dst->data_cap;
			}
			copy_value(data + pos, q, len);
			q += len;
			pos += len;
		}
		off[base + i + 1] = pos;
	}
	if (pos > MAX_BATCH_DATA)
		return cl__pq_col_errf(c, err, CL_EUNSUPPORTED,
				"a batch of this column exceeds 2 GiB of data; read smaller "
				"batches");
	c->vp = q;
	(void)nn;
	return c->conv == CV_BA_STR ? check_utf8(c, dst, base, k, err) : 0;
}

/*
 * Dictionary-encoded strings straight from the dictionary into rows [base,
 * base+k) (nn of them present), without views in between, in one pass
 * that checks each index; the data buffer is reserved for nn values of the
 * dictionary's mean length and grown if a value passes it. The
 * dictionary's strings were checked (UTF-8) when it was loaded.
 */
static int fill_dict_ba(cl__pq_col *c, cl_column *dst, int64_t base, int64_t k,
			int64_t nn, const uint8_t *lv, cl_error *err)
{
	int rc = cl__rle_get_u32(&c->vrle, c->idx, nn, err);
	if (rc)
		return cl__pq_col_fail(c, err, rc, true);
	const uint32_t *ix = c->idx;
	const cl__pq_view *dv = c->dict_views;
	uint32_t dn = (uint32_t)c->dict_n;
	if (dn && !c->dict_mean) {
		int64_t sum = 0;
		for (uint32_t d = 0; d < dn; d++)
			sum += (int64_t)dv[d].n;
		c->dict_mean = sum / dn + 1;
	}
	/* one long entry must not make the estimate huge */
	int64_t mean = c->dict_mean < MAX_DATA_ESTIMATE ? c->dict_mean : MAX_DATA_ESTIMATE;
	int64_t est = nn * (mean + mean / 8) + 256;
	if (est > MAX_DATA_ESTIMATE)
		est = MAX_DATA_ESTIMATE;
	if (dst->offsets[base] + est > MAX_BATCH_DATA)
		est = MAX_BATCH_DATA - dst->offsets[base] > 0 ? MAX_BATCH_DATA - dst->offsets[base]
							     : 0;
	if ((rc = cl_column_reserve_data(dst, est + CL__PQ_PAD, err)))
		return rc;
	int64_t *off = dst->offsets;
	uint8_t *data = dst->data;
	int64_t cap = dst->data_cap;
	int64_t pos = off[base];
	for (int64_t i = 0, j = 0; i < k; i++) {
		if (!lv || lv[i]) {
			uint32_t x = ix[j++];
			if (x >= dn)
				return cl__pq_col_errf(c, err, CL_EFORMAT,
						"dictionary index %u out of range (%lld entries)", x,
						(long long)c->dict_n);
			const cl__pq_view *v = &dv[x];
			if ((int64_t)v->n + CL__PQ_PAD > cap - pos) {
				if ((rc = grow_data(c, dst, base, pos,
						    (int64_t)v->n + CL__PQ_PAD, err)))
					return rc;
				data = dst->data;
				cap = dst->data_cap;
			}
			copy_value(data + pos, v->p, v->n);
			pos += (int64_t)v->n;
		}
		off[base + i + 1] = pos;
	}
	if (pos > MAX_BATCH_DATA)
		return cl__pq_col_errf(c, err, CL_EUNSUPPORTED,
				"a batch of this column exceeds 2 GiB of data; read smaller "
				"batches");
	return 0;
}

/* Append the k rows [base, base+k) of a var-width column from nn values. */
static int fill_var(cl__pq_col *c, cl_column *dst, int64_t base, int64_t k, int64_t nn,
		    const uint8_t *lv, cl_error *err)
{
	const cl__pq_view *views = c->views;
	int w = cl__pq_phys_width(c->ptype, c->type_length);
	int64_t total = 0;
	if (c->conv == CV_FIX_UUID)
		total = nn * 36;
	else if (c->conv == CV_FIX_BIN)
		total = nn * w;
	else
		for (int64_t j = 0; j < nn; j++)
			total += (int64_t)views[j].n;
	if (dst->offsets[base] + total > MAX_BATCH_DATA)
		return cl__pq_col_errf(c, err, CL_EUNSUPPORTED,
				"a batch of this column exceeds 2 GiB of data; read smaller "
				"batches");
	/* CL__PQ_PAD bytes of slack: short values are copied 16 bytes at a time */
	int rc = cl_column_reserve_data(dst, total + CL__PQ_PAD, err);
	if (rc)
		return rc;
	int64_t *off = dst->offsets;
	uint8_t *data = dst->data;
	int64_t pos = off[base];
	int64_t j = 0;
	if (c->conv != CV_FIX_UUID && c->conv != CV_FIX_BIN) {
		for (int64_t i = 0; i < k; i++) {
			if (!lv || lv[i]) {
				copy_value(data + pos, views[j].p, views[j].n);
				pos += (int64_t)views[j].n;
				j++;
			}
			off[base + i + 1] = pos;
		}
		/* a dictionary's strings were checked when it was loaded */
		bool dict = c->enc == PQ_ENC_PLAIN_DICTIONARY || c->enc == PQ_ENC_RLE_DICTIONARY;
		return c->conv == CV_BA_STR && !dict ? check_utf8(c, dst, base, k, err) : 0;
	}
	for (int64_t i = 0; i < k; i++) {
		if (lv && !lv[i]) {
			off[base + i + 1] = pos;
			continue;
		}
		if (c->conv == CV_FIX_UUID) {
			const uint8_t *u = c->phys + (size_t)j * 16;
			char *o = (char *)data + pos;
			for (int b = 0, q = 0; b < 16; b++) {
				if (b == 4 || b == 6 || b == 8 || b == 10)
					o[q++] = '-';
				o[q++] = hexd[u[b] >> 4];
				o[q++] = hexd[u[b] & 15];
			}
			pos += 36;
		} else if (c->conv == CV_FIX_BIN) {
			memcpy(data + pos, c->phys + (size_t)j * (size_t)w, (size_t)w);
			pos += w;
		}
		off[base + i + 1] = pos;
		j++;
	}
	return 0;
}

/* Bits [base, base+k) of bm from 0/1 bytes v (NULL: all ones), 8 at a time
 * once byte-aligned. */
static void set_bits(uint8_t *bm, int64_t base, const uint8_t *v, int64_t k)
{
	int64_t i = 0;
	for (; i < k && ((base + i) & 7); i++)
		cl_bit_set(bm, base + i, v ? v[i] : 1);
	for (; i + 8 <= k; i += 8) {
		uint8_t b = 0xff;
		if (v)
			b = (uint8_t)(v[i] | v[i + 1] << 1 | v[i + 2] << 2 | v[i + 3] << 3 |
				      v[i + 4] << 4 | v[i + 5] << 5 | v[i + 6] << 6 |
				      v[i + 7] << 7);
		bm[(base + i) >> 3] = b;
	}
	for (; i < k; i++)
		cl_bit_set(bm, base + i, v ? v[i] : 1);
}

/* Booleans: bits [base, base+k) of bm from the nn decoded 0/1 bytes v
 * spread over the rows lv says are present (NULL: all), a byte at a time
 * once byte-aligned; a null row holds false. */
static void put_bools(uint8_t *bm, int64_t base, const uint8_t *v, const uint8_t *lv,
		      int64_t k)
{
	int64_t i = 0, j = 0;
	for (; i < k && ((base + i) & 7); i++) {
		bool b = (!lv || lv[i]) ? v[j++] != 0 : false;
		cl_bit_set(bm, base + i, b);
	}
	for (; i + 8 <= k; i += 8) {
		unsigned b = 0;
		for (int t = 0; t < 8; t++) {
			unsigned l = lv ? lv[i + t] : 1;
			b |= (unsigned)(l && v[j] != 0) << t;
			j += l;
		}
		bm[(base + i) >> 3] = (uint8_t)b;
	}
	for (; i < k; i++) {
		bool b = (!lv || lv[i]) ? v[j++] != 0 : false;
		cl_bit_set(bm, base + i, b);
	}
}

/* PLAIN booleans of a column without NULLs: the next k bits of the page
 * copied to bits [base, base+k) of bm, a byte at a time once bm is
 * byte-aligned (bounds-checked like decode_values). */
static int plain_bools(cl__pq_col *c, uint8_t *bm, int64_t base, int64_t k, cl_error *err)
{
	uint64_t sbit = (uint64_t)c->bitpos, bits = sbit + (uint64_t)k;
	if ((bits + 7) / 8 > (uint64_t)(c->vend - c->vp))
		return cl__pq_col_errf(c, err, CL_EFORMAT,
				"PLAIN booleans end before the page's values");
	const uint8_t *src = c->vp;
	int64_t i = 0;
	for (; i < k && ((base + i) & 7); i++) {
		uint64_t b = sbit + (uint64_t)i;
		cl_bit_set(bm, base + i, (src[b >> 3] >> (b & 7)) & 1);
	}
	for (; i + 8 <= k; i += 8) {
		uint64_t b = sbit + (uint64_t)i;
		unsigned sh = (unsigned)(b & 7);
		unsigned v = src[b >> 3] >> sh;
		if (sh) /* bit b + 7 is in the next byte, inside the k bits */
			v |= (unsigned)src[(b >> 3) + 1] << (8 - sh);
		bm[(base + i) >> 3] = (uint8_t)v;
	}
	for (; i < k; i++) {
		uint64_t b = sbit + (uint64_t)i;
		cl_bit_set(bm, base + i, (src[b >> 3] >> (b & 7)) & 1);
	}
	c->vp += bits / 8;
	c->bitpos = (int)(bits % 8);
	return 0;
}

/* INT32 / INT64 decimals widened to 128 bits into rows [base, base+k);
 * a null row holds zero. */
static void put_int_dec(uint8_t *out, const uint8_t *phys, int w, const uint8_t *lv,
			int64_t k)
{
	for (int64_t i = 0, j = 0; i < k; i++) {
		int64_t x = 0;
		if (!lv || lv[i]) {
			if (w == 8) {
				memcpy(&x, phys + (size_t)j * 8, 8);
			} else {
				int32_t y;
				memcpy(&y, phys + (size_t)j * 4, 4);
				x = y;
			}
			j++;
		}
		cl_i128 d = x;
		memcpy(out + (size_t)i * 16, &d, 16);
	}
}

int cl__pq_put_values(cl__pq_col *c, cl_column *dst, int64_t k, int64_t nn,
		      const uint8_t *lv, cl_error *err)
{
	int rc;
	int w = cl__pq_phys_width(c->ptype, c->type_length);
	bool var = cl_type_is_var(dst->type);
	bool is_bool = dst->type.id == CL_BOOL;
	int tw = cl_type_width(dst->type);
	int64_t base = dst->length;
	bool direct = !lv && ((c->conv == CV_COPY4 && tw == 4) ||
			      (c->conv == CV_COPY8 && tw == 8));
	uint8_t *dec = direct ? dst->values + (size_t)base * (size_t)tw : c->phys;
	const uint8_t *phys = dec;
	/* strings go from the page or the dictionary to the column in
	 * fill_plain_ba / fill_dict_ba */
	bool ba = var && c->ptype == PQ_BYTE_ARRAY && (c->conv == CV_BA_STR || c->conv == CV_BA_BIN);
	bool plain_ba = ba && c->enc == PQ_ENC_PLAIN;
	bool dict_ba = ba && (c->enc == PQ_ENC_PLAIN_DICTIONARY || c->enc == PQ_ENC_RLE_DICTIONARY);
	/* PLAIN fixed-width values that are spread or converted are read
	 * where they are in the page, not copied to the scratch first */
	bool in_page = !direct && !var && !is_bool && c->enc == PQ_ENC_PLAIN &&
		       c->ptype != PQ_BYTE_ARRAY && c->ptype != PQ_BOOLEAN;
	/* PLAIN booleans without NULLs: bits from the page to the column */
	bool bool_bits = is_bool && !lv && c->enc == PQ_ENC_PLAIN && c->ptype == PQ_BOOLEAN;
	if (bool_bits) {
		if ((rc = plain_bools(c, dst->values, base, k, err)))
			return rc;
	} else if (in_page) {
		if (nn && (rc = plain_fixed(c, nn, w, &phys, err)))
			return rc;
	} else if (!plain_ba && !dict_ba && (rc = decode_values(c, nn, dec, c->views, err))) {
		return rc;
	}
	if (lv) {
		rc = cl_column_ensure_validity(dst, err);
		if (rc)
			return rc;
		set_bits(dst->validity, base, lv, k);
		dst->null_count += k - nn;
	} else if (dst->validity) {
		set_bits(dst->validity, base, NULL, k);
	}
	if (plain_ba || dict_ba) {
		rc = plain_ba ? fill_plain_ba(c, dst, base, k, nn, lv, err)
			      : fill_dict_ba(c, dst, base, k, nn, lv, err);
		if (rc)
			return rc;
	} else if (var) {
		rc = fill_var(c, dst, base, k, nn, lv, err);
		if (rc)
			return rc;
	} else if (bool_bits) {
		/* bits already in place */
	} else if (is_bool) {
		put_bools(dst->values, base, phys, lv, k);
	} else if (direct) {
		/* values already in place */
	} else if ((c->conv == CV_I64_DEC && w == 8) || (c->conv == CV_I32_DEC && w == 4)) {
		put_int_dec(dst->values + (size_t)base * 16, phys, w, lv, k);
	} else if ((c->conv == CV_COPY4 || c->conv == CV_COPY8) && tw == 8) {
		/* spread the values over the rows; a null row holds zero */
		uint64_t *o = (uint64_t *)(dst->values + (size_t)base * 8);
		for (int64_t i = 0, j = 0; i < k; i++) {
			uint64_t x = 0;
			/* in the page values may be unaligned */
			if (lv[i])
				memcpy(&x, phys + (size_t)j++ * 8, 8);
			o[i] = x;
		}
	} else if ((c->conv == CV_COPY4 || c->conv == CV_COPY8) && tw == 4) {
		uint32_t *o = (uint32_t *)(dst->values + (size_t)base * 4);
		for (int64_t i = 0, j = 0; i < k; i++) {
			uint32_t x = 0;
			/* in the page values may be unaligned */
			if (lv[i])
				memcpy(&x, phys + (size_t)j++ * 4, 4);
			o[i] = x;
		}
	} else {
		int64_t j = 0;
		for (int64_t i = 0; i < k; i++) {
			if (lv && !lv[i]) {
				memset(dst->values + (size_t)(base + i) * (size_t)tw, 0,
				       (size_t)tw);
				continue;
			}
			rc = convert_fixed(c, dst, base + i, phys + (size_t)j * (size_t)w,
					   &c->views[j], err);
			if (rc)
				return rc;
			j++;
		}
	}
	dst->length += k;
	return 0;
}

