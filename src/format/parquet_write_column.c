/*
 * parquet_write_column.c — from cl_column values to Parquet physical
 * values, and the statistics over them (internal to the Parquet writer;
 * see parquet_write_impl.h).
 *
 * Physical storage per core type:
 *   bool                 BOOLEAN (PLAIN: bit-packed, LSB first)
 *   int8/16/32, date     INT32 (sign-extended)
 *   uint8/16/32          INT32 (zero-extended; uint32 keeps its bit pattern)
 *   int64, uint64        INT64
 *   time(ms)             INT32 milliseconds; time(us|ns) INT64
 *   timestamp            INT64 in its unit, or INT96 (nanoseconds of the
 *                        day, then the Julian day, little-endian) on request
 *   float32/64           FLOAT / DOUBLE
 *   decimal(p,s)         INT32 p <= 9, INT64 p <= 18, else
 *                        FIXED_LEN_BYTE_ARRAY of the fewest bytes that hold
 *                        p digits, big-endian two's complement
 *   string, binary       BYTE_ARRAY
 *   null type            INT32, every value null
 *
 * Statistics are kept on the logical value (int64 for every signed integer
 * and temporal type, uint64 for unsigned, double for floats, int128 for
 * decimals, bytes for strings), which orders exactly as Parquet's
 * type-defined order for the physical encoding chosen above.
 */
#include "parquet_write_impl.h"

#include <math.h>

/* Fewest bytes of two's complement that hold every `precision`-digit value. */
static int decimal_bytes(int precision)
{
	unsigned __int128 need = (unsigned __int128)cl__i128_pow10(precision) - 1;
	for (int n = 1; n < 16; n++)
		if (need <= ((unsigned __int128)1 << (8 * n - 1)) - 1)
			return n;
	return 16;
}

int cl__pqw_describe(pqw_desc *d, const cl_field *f, const cl_write_options *o,
		     cl_error *err)
{
	cl_type t = f->type;
	memset(d, 0, sizeof *d);
	d->optional = f->nullable;
	d->stats_ok = true;
	switch (t.id) {
	case CL_NULLTYPE:
		d->phys = PQ_INT32, d->width = 4, d->kind = PQW_NONE;
		d->optional = true;
		d->stats_ok = false;
		break;
	case CL_BOOL:
		d->phys = PQ_BOOLEAN, d->width = 0, d->kind = PQW_BOOL;
		break;
	case CL_INT8: case CL_INT16: case CL_INT32: case CL_DATE:
		d->phys = PQ_INT32, d->width = 4, d->kind = PQW_INT;
		break;
	case CL_UINT8: case CL_UINT16: case CL_UINT32:
		d->phys = PQ_INT32, d->width = 4, d->kind = PQW_UINT;
		break;
	case CL_INT64:
		d->phys = PQ_INT64, d->width = 8, d->kind = PQW_INT;
		break;
	case CL_UINT64:
		d->phys = PQ_INT64, d->width = 8, d->kind = PQW_UINT;
		break;
	case CL_TIME:
		if (t.unit > CL_UNIT_NS)
			goto bad;
		d->kind = PQW_INT;
		if (t.unit == CL_UNIT_MS)
			d->phys = PQ_INT32, d->width = 4;
		else
			d->phys = PQ_INT64, d->width = 8;
		break;
	case CL_TIMESTAMP:
		if (t.unit > CL_UNIT_NS)
			goto bad;
		d->kind = PQW_INT;
		if (o->int96_timestamps) {
			/* INT96 has no defined sort order: no min/max in the file. */
			d->phys = PQ_INT96, d->width = 12, d->stats_ok = false;
		} else {
			d->phys = PQ_INT64, d->width = 8;
		}
		break;
	case CL_FLOAT32:
		d->phys = PQ_FLOAT, d->width = 4, d->kind = PQW_FLOAT;
		break;
	case CL_FLOAT64:
		d->phys = PQ_DOUBLE, d->width = 8, d->kind = PQW_FLOAT;
		break;
	case CL_DECIMAL:
		if (t.precision < 1 || t.precision > 38 || t.scale > t.precision)
			goto bad;
		d->kind = PQW_DEC;
		if (t.precision <= 9)
			d->phys = PQ_INT32, d->width = 4;
		else if (t.precision <= 18)
			d->phys = PQ_INT64, d->width = 8;
		else
			d->phys = PQ_FIXED_LEN_BYTE_ARRAY, d->width = decimal_bytes(t.precision);
		break;
	case CL_STRING: case CL_BINARY:
		d->phys = PQ_BYTE_ARRAY, d->width = 0, d->kind = PQW_BYTES;
		break;
	default:
		goto bad;
	}
	d->dict_ok = o->dictionary && d->phys != PQ_BOOLEAN && d->kind != PQW_NONE;
	return 0;
bad:;
	char tb[64];
	return cl_error_set(err, CL_EINVAL, "column '%s': cannot write type %s to Parquet",
			    f->name, cl_type_format(tb, sizeof tb, t));
}

/* ---------- statistics ---------- */

void cl__pqw_stats_release(pqw_stats *s)
{
	cl_buf_release(&s->bmin);
	cl_buf_release(&s->bmax);
	memset(s, 0, sizeof *s);
}

void cl__pqw_stats_reset(pqw_stats *s)
{
	s->nulls = 0;
	s->nans = 0;
	s->has = false;
	cl_buf_clear(&s->bmin);
	cl_buf_clear(&s->bmax);
}

static inline int cmp_bytes(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
	/* most comparisons end within the first 8 bytes: no call for those
	 * (as big-endian words: byte order, on the little-endian hosts the
	 * writer assumes throughout) */
	if (an >= 8 && bn >= 8) {
		uint64_t x, y;
		memcpy(&x, a, 8);
		memcpy(&y, b, 8);
		if (x != y)
			return __builtin_bswap64(x) < __builtin_bswap64(y) ? -1 : 1;
	} else if (an && bn && a[0] != b[0]) {
		return a[0] < b[0] ? -1 : 1;
	}
	size_t n = an < bn ? an : bn;
	int c = n ? memcmp(a, b, n) : 0;
	if (c)
		return c;
	return an < bn ? -1 : an > bn;
}

static int set_buf(cl_buf *b, const uint8_t *p, size_t n)
{
	cl_buf_clear(b);
	return cl_buf_append(b, p, n);
}

/* Offer byte-array candidates for min and max to s. 0 or CL_ENOMEM. */
static int offer_bytes(pqw_stats *s, const uint8_t *mn, size_t mnn, const uint8_t *mx,
		       size_t mxn)
{
	if (!s->has) {
		if (set_buf(&s->bmin, mn, mnn) || set_buf(&s->bmax, mx, mxn))
			return CL_ENOMEM;
		s->has = true;
		return 0;
	}
	if (cmp_bytes(mn, mnn, s->bmin.data, s->bmin.len) < 0 && set_buf(&s->bmin, mn, mnn))
		return CL_ENOMEM;
	if (cmp_bytes(mx, mxn, s->bmax.data, s->bmax.len) > 0 && set_buf(&s->bmax, mx, mxn))
		return CL_ENOMEM;
	return 0;
}

static void offer_i(pqw_stats *s, int64_t mn, int64_t mx)
{
	if (!s->has) {
		s->min.i = mn, s->max.i = mx, s->has = true;
		return;
	}
	if (mn < s->min.i)
		s->min.i = mn;
	if (mx > s->max.i)
		s->max.i = mx;
}

static void offer_u(pqw_stats *s, uint64_t mn, uint64_t mx)
{
	if (!s->has) {
		s->min.u = mn, s->max.u = mx, s->has = true;
		return;
	}
	if (mn < s->min.u)
		s->min.u = mn;
	if (mx > s->max.u)
		s->max.u = mx;
}

static void offer_f(pqw_stats *s, double mn, double mx)
{
	if (!s->has) {
		s->min.f = mn, s->max.f = mx, s->has = true;
		return;
	}
	/* -0.0 and +0.0 compare equal; the writers of the bytes fix the sign. */
	if (mn < s->min.f)
		s->min.f = mn;
	if (mx > s->max.f)
		s->max.f = mx;
}

static void offer_d(pqw_stats *s, cl_i128 mn, cl_i128 mx)
{
	if (!s->has) {
		s->min.d = mn, s->max.d = mx, s->has = true;
		return;
	}
	if (mn < s->min.d)
		s->min.d = mn;
	if (mx > s->max.d)
		s->max.d = mx;
}

int cl__pqw_stats_merge(pqw_stats *dst, const pqw_stats *src, pqw_kind k)
{
	dst->nulls += src->nulls;
	dst->nans += src->nans;
	if (!src->has)
		return 0;
	switch (k) {
	case PQW_BOOL: case PQW_INT: offer_i(dst, src->min.i, src->max.i); break;
	case PQW_UINT: offer_u(dst, src->min.u, src->max.u); break;
	case PQW_FLOAT: offer_f(dst, src->min.f, src->max.f); break;
	case PQW_DEC: offer_d(dst, src->min.d, src->max.d); break;
	case PQW_BYTES:
		return offer_bytes(dst, src->bmin.data, src->bmin.len, src->bmax.data,
				   src->bmax.len);
	case PQW_NONE: break;
	}
	return 0;
}

/* ---------- gathering ---------- */

/*
 * The loop shared by the fixed-width types: copy the present values of rows
 * [off, off + m) converted to DST_T, tracking min/max as ST_T. CHECK(x) may
 * `goto range` for a value that does not fit.
 */
#define GATHER(SRC_T, DST_T, ST_T, MN0, MX0, CHECK, OFFER)                         \
	do {                                                                       \
		const SRC_T *s_ = (const SRC_T *)col->values + off;                \
		DST_T *d_ = (DST_T *)(void *)sc->gather;                            \
		ST_T mn_ = (MN0), mx_ = (MX0);                                     \
		size_t k_ = 0;                                                     \
		for (int64_t i_ = 0; i_ < m; i_++) {                               \
			if (valid && !cl_bit_get(valid, off + i_))                 \
				continue;                                          \
			SRC_T x = s_[i_];                                          \
			CHECK;                                                     \
			d_[k_++] = (DST_T)x;                                       \
			if ((ST_T)x < mn_)                                         \
				mn_ = (ST_T)x;                                     \
			if ((ST_T)x > mx_)                                         \
				mx_ = (ST_T)x;                                     \
		}                                                                  \
		if (k_)                                                            \
			OFFER(&ch->page_stats, mn_, mx_);                          \
		*nvals = k_;                                                       \
	} while (0)

#define NOCHECK (void)0

static int gather_float(pqw_scratch *sc, pqw_chunk *ch, const cl_column *col,
			const uint8_t *valid, int64_t off, int64_t m, size_t *nvals)
{
	size_t k = 0;
	int64_t nans = 0;
	double mn = INFINITY, mx = -INFINITY;
	if (col->type.id == CL_FLOAT32) {
		const float *s = (const float *)col->values + off;
		float *d = (float *)(void *)sc->gather;
		for (int64_t i = 0; i < m; i++) {
			if (valid && !cl_bit_get(valid, off + i))
				continue;
			float x = s[i];
			d[k++] = x;
			if (x != x) {
				nans++;
				continue;
			}
			mn = x < mn ? x : mn;
			mx = x > mx ? x : mx;
		}
	} else {
		const double *s = (const double *)col->values + off;
		double *d = (double *)(void *)sc->gather;
		for (int64_t i = 0; i < m; i++) {
			if (valid && !cl_bit_get(valid, off + i))
				continue;
			double x = s[i];
			d[k++] = x;
			if (x != x) {
				nans++;
				continue;
			}
			mn = x < mn ? x : mn;
			mx = x > mx ? x : mx;
		}
	}
	ch->page_stats.nans += nans;
	if ((int64_t)k > nans)
		offer_f(&ch->page_stats, mn, mx);
	*nvals = k;
	return 0;
}

static int gather_bool(pqw_chunk *ch, const cl_column *col, const uint8_t *valid,
		       int64_t off, int64_t m, size_t *nvals)
{
	/* Room for m more bits in the PLAIN bit buffer. */
	int64_t need = (ch->plain_bits + m + 7) / 8;
	if ((size_t)need > ch->plain.len) {
		if (cl_buf_reserve(&ch->plain, (size_t)need - ch->plain.len))
			return CL_ENOMEM;
		memset(ch->plain.data + ch->plain.len, 0, (size_t)need - ch->plain.len);
		ch->plain.len = (size_t)need;
		ch->plain.data[ch->plain.len] = 0;
	}
	size_t k = 0;
	bool seen[2] = {false, false};
	for (int64_t i = 0; i < m; i++) {
		if (valid && !cl_bit_get(valid, off + i))
			continue;
		bool v = cl_bit_get(col->values, off + i);
		if (v)
			cl_bit_set(ch->plain.data, ch->plain_bits, true);
		ch->plain_bits++;
		seen[v] = true;
		k++;
	}
	if (k)
		offer_i(&ch->page_stats, seen[0] ? 0 : 1, seen[1] ? 1 : 0);
	*nvals = k;
	return 0;
}

static int gather_bytes(pqw_writer *p, pqw_scratch *sc, pqw_chunk *ch, const cl_column *col,
			const uint8_t *valid, int64_t off, int64_t m, int64_t row0,
			size_t *nvals, cl_error *err)
{
	size_t k = 0;
	const uint8_t *mn = NULL, *mx = NULL;
	size_t mnn = 0, mxn = 0;
	for (int64_t i = 0; i < m; i++) {
		if (valid && !cl_bit_get(valid, off + i))
			continue;
		int64_t a = col->offsets[off + i], b = col->offsets[off + i + 1];
		if (b - a > INT32_MAX)
			return cl__pqw_col_error(p, ch->col, err, CL_ETYPE,
						 "row %lld: value of %lld bytes is too long for Parquet",
						 (long long)(row0 + i), (long long)(b - a));
		const uint8_t *q = col->data + a;
		size_t n = (size_t)(b - a);
		sc->refs[k].p = q;
		sc->refs[k].n = (uint32_t)n;
		if (!k) {
			mn = mx = q;
			mnn = mxn = n;
		} else if (cmp_bytes(q, n, mn, mnn) < 0) {
			mn = q, mnn = n;
		} else if (cmp_bytes(q, n, mx, mxn) > 0) {
			mx = q, mxn = n;
		}
		k++;
	}
	*nvals = k;
	if (k && offer_bytes(&ch->page_stats, mn, mnn, mx, mxn))
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	return 0;
}

static int gather_decimal(pqw_writer *p, pqw_scratch *sc, pqw_chunk *ch, const cl_column *col,
			  const uint8_t *valid, int64_t off, int64_t m, int64_t row0,
			  size_t *nvals, cl_error *err)
{
	const int w = ch->d.width;
	const cl_i128 bound = cl__i128_pow10(col->type.precision);
	cl_i128 mn = 0, mx = 0;
	size_t k = 0;
	uint8_t *d = sc->gather;
	for (int64_t i = 0; i < m; i++) {
		if (valid && !cl_bit_get(valid, off + i))
			continue;
		cl_i128 x;
		memcpy(&x, col->values + (size_t)(off + i) * 16, 16);
		if (x >= bound || x <= -bound) {
			char tb[64];
			return cl__pqw_col_error(p, ch->col, err, CL_ETYPE,
						 "row %lld: value has more digits than %s",
						 (long long)(row0 + i),
						 cl_type_format(tb, sizeof tb, col->type));
		}
		if (!k || x < mn)
			mn = x;
		if (!k || x > mx)
			mx = x;
		if (w == 4) {
			int32_t y = (int32_t)x;
			memcpy(d + k * 4, &y, 4);
		} else if (w == 8) {
			int64_t y = (int64_t)x;
			memcpy(d + k * 8, &y, 8);
		} else {
			uint8_t *o = d + k * (size_t)w;
			unsigned __int128 u = (unsigned __int128)x;
			for (int j = w - 1; j >= 0; j--, u >>= 8)
				o[j] = (uint8_t)u;
		}
		k++;
	}
	if (k)
		offer_d(&ch->page_stats, mn, mx);
	*nvals = k;
	return 0;
}

#define JULIAN_EPOCH_DAY 2440588 /* Julian day number of 1970-01-01 */

static int gather_int96(pqw_writer *p, pqw_scratch *sc, pqw_chunk *ch, const cl_column *col,
			const uint8_t *valid, int64_t off, int64_t m, int64_t row0,
			size_t *nvals, cl_error *err)
{
	const int64_t per_s = cl__unit_per_second(col->type.unit);
	const int64_t per_day = per_s * 86400;
	const int64_t ns_mul = 1000000000 / per_s;
	const int64_t *s = (const int64_t *)col->values + off;
	int64_t mn = INT64_MAX, mx = INT64_MIN;
	size_t k = 0;
	for (int64_t i = 0; i < m; i++) {
		if (valid && !cl_bit_get(valid, off + i))
			continue;
		int64_t v = s[i];
		int64_t days = v / per_day, tod = v % per_day;
		if (tod < 0)
			tod += per_day, days--;
		int64_t jd = days + JULIAN_EPOCH_DAY;
		if (jd < 0 || jd > INT32_MAX)
			return cl__pqw_col_error(p, ch->col, err, CL_ETYPE,
						 "row %lld: timestamp out of the INT96 range",
						 (long long)(row0 + i));
		int64_t nanos = tod * ns_mul;
		int32_t j32 = (int32_t)jd;
		memcpy(sc->gather + k * 12, &nanos, 8);
		memcpy(sc->gather + k * 12 + 8, &j32, 4);
		mn = v < mn ? v : mn;
		mx = v > mx ? v : mx;
		k++;
	}
	if (k)
		offer_i(&ch->page_stats, mn, mx);
	*nvals = k;
	return 0;
}

int cl__pqw_gather(pqw_writer *p, pqw_scratch *sc, pqw_chunk *ch, const cl_column *col,
		   int64_t off, int64_t m, int64_t row0, size_t *nvals, cl_error *err)
{
	const uint8_t *valid = col->null_count > 0 ? col->validity : NULL;
	int64_t bad_row = row0;
	*nvals = 0;
	switch (col->type.id) {
	case CL_NULLTYPE:
		return 0;
	case CL_BOOL:
		if (gather_bool(ch, col, valid, off, m, nvals))
			return cl_error_set(err, CL_ENOMEM, "out of memory");
		return 0;
	case CL_INT8:
		GATHER(int8_t, int32_t, int64_t, INT64_MAX, INT64_MIN, NOCHECK, offer_i);
		return 0;
	case CL_INT16:
		GATHER(int16_t, int32_t, int64_t, INT64_MAX, INT64_MIN, NOCHECK, offer_i);
		return 0;
	case CL_INT32: case CL_DATE:
		GATHER(int32_t, int32_t, int64_t, INT64_MAX, INT64_MIN, NOCHECK, offer_i);
		return 0;
	case CL_INT64:
		GATHER(int64_t, int64_t, int64_t, INT64_MAX, INT64_MIN, NOCHECK, offer_i);
		return 0;
	case CL_UINT8:
		GATHER(uint8_t, int32_t, uint64_t, UINT64_MAX, 0, NOCHECK, offer_u);
		return 0;
	case CL_UINT16:
		GATHER(uint16_t, int32_t, uint64_t, UINT64_MAX, 0, NOCHECK, offer_u);
		return 0;
	case CL_UINT32:
		GATHER(uint32_t, uint32_t, uint64_t, UINT64_MAX, 0, NOCHECK, offer_u);
		return 0;
	case CL_UINT64:
		GATHER(uint64_t, uint64_t, uint64_t, UINT64_MAX, 0, NOCHECK, offer_u);
		return 0;
	case CL_TIME:
		if (ch->d.phys == PQ_INT32) {
			GATHER(int64_t, int32_t, int64_t, INT64_MAX, INT64_MIN,
			       if (x < INT32_MIN || x > INT32_MAX) {
				       bad_row = row0 + i_;
				       goto range;
			       },
			       offer_i);
		} else {
			GATHER(int64_t, int64_t, int64_t, INT64_MAX, INT64_MIN, NOCHECK,
			       offer_i);
		}
		return 0;
	case CL_TIMESTAMP:
		if (ch->d.phys == PQ_INT96)
			return gather_int96(p, sc, ch, col, valid, off, m, row0, nvals, err);
		GATHER(int64_t, int64_t, int64_t, INT64_MAX, INT64_MIN, NOCHECK, offer_i);
		return 0;
	case CL_FLOAT32: case CL_FLOAT64:
		return gather_float(sc, ch, col, valid, off, m, nvals);
	case CL_DECIMAL:
		return gather_decimal(p, sc, ch, col, valid, off, m, row0, nvals, err);
	case CL_STRING: case CL_BINARY:
		return gather_bytes(p, sc, ch, col, valid, off, m, row0, nvals, err);
	default:
		return cl__pqw_col_error(p, ch->col, err, CL_EINTERNAL, "unexpected type");
	}
range:
	return cl__pqw_col_error(p, ch->col, err, CL_ETYPE,
				 "row %lld: time(ms) value out of range", (long long)bad_row);
}
