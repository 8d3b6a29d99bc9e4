/*
 * diff_compare.c — value equality, key order, widening casts and bulk
 * column copies for the diff engine.
 *
 * Equality is Spark's null-safe `<=>` with Spark's floating-point rules
 * (-0.0 equals 0.0, NaN equals NaN), so keys that hash alike (see
 * core/hash.c, which normalises the same way) compare alike. The order used
 * to sort the output is total: NULL first, numbers ascending with NaN last,
 * strings and binary bytewise. Comparators (epsilon, whitespace, duration)
 * first accept values that are equal by default, then apply their bound.
 */
#include "diff_impl.h"
#include "core/value_text.h"

#include <math.h>
#include <string.h>

/* ---- widening ----------------------------------------------------------- */

static bool is_sint(cl_type_id t)
{
	return t >= CL_INT8 && t <= CL_INT64;
}
static bool is_uint(cl_type_id t)
{
	return t >= CL_UINT8 && t <= CL_UINT64;
}
static bool is_float(cl_type_id t)
{
	return t == CL_FLOAT32 || t == CL_FLOAT64;
}
static int int_bits(cl_type_id t)
{
	return 8 * cl_type_width(cl_type_make(t));
}
/* Decimal digits an integer type needs. */
static int int_digits(cl_type_id t)
{
	switch (t) {
	case CL_INT8: case CL_UINT8: return 3;
	case CL_INT16: case CL_UINT16: return 5;
	case CL_INT32: case CL_UINT32: return 10;
	case CL_INT64: return 19;
	case CL_UINT64: return 20;
	default: return 0;
	}
}

/* a widens into b (one direction). */
static bool widens_to(cl_type a, cl_type b)
{
	if (cl_type_equal(a, b) || a.id == CL_NULLTYPE)
		return true;
	if (is_sint(a.id) && is_sint(b.id))
		return int_bits(a.id) <= int_bits(b.id);
	if (is_uint(a.id) && is_uint(b.id))
		return int_bits(a.id) <= int_bits(b.id);
	if (is_uint(a.id) && is_sint(b.id))
		return int_bits(a.id) < int_bits(b.id);
	if (a.id == CL_FLOAT32 && b.id == CL_FLOAT64)
		return true;
	/* Exact up to 2^53 for 64-bit integers: accepted because type
	 * inference of text files (CSV, JSON) reads "1" and "1.5" columns as
	 * int64 and float64, and comparing those as numbers is what users mean. */
	if ((is_sint(a.id) || is_uint(a.id)) && is_float(b.id))
		return b.id == CL_FLOAT64 || int_bits(a.id) <= 16;
	if (a.id == CL_DECIMAL && b.id == CL_DECIMAL)
		return b.scale >= a.scale &&
		       b.precision - b.scale >= a.precision - a.scale;
	if ((is_sint(a.id) || is_uint(a.id)) && b.id == CL_DECIMAL)
		return b.precision - b.scale >= int_digits(a.id);
	if (a.id == CL_TIMESTAMP && b.id == CL_TIMESTAMP)
		return a.utc == b.utc && a.unit <= b.unit;
	if (a.id == CL_TIME && b.id == CL_TIME)
		return a.unit <= b.unit;
	return false;
}

bool cl__diff_widen(cl_type a, cl_type b, cl_type *out)
{
	if (widens_to(a, b)) {
		*out = b;
		return true;
	}
	if (widens_to(b, a)) {
		*out = a;
		return true;
	}
	/* Two decimals or an int and a decimal may both widen into a third. */
	if ((a.id == CL_DECIMAL || b.id == CL_DECIMAL) &&
	    (a.id == CL_DECIMAL || is_sint(a.id) || is_uint(a.id)) &&
	    (b.id == CL_DECIMAL || is_sint(b.id) || is_uint(b.id))) {
		int ia = a.id == CL_DECIMAL ? a.precision - a.scale : int_digits(a.id);
		int ib = b.id == CL_DECIMAL ? b.precision - b.scale : int_digits(b.id);
		int sa = a.id == CL_DECIMAL ? a.scale : 0;
		int sb = b.id == CL_DECIMAL ? b.scale : 0;
		int ip = ia > ib ? ia : ib, sc = sa > sb ? sa : sb;
		if (ip + sc > 38)
			return false;
		*out = cl_type_decimal(ip + sc, sc);
		return true;
	}
	return false;
}

static int64_t unit_scale(int from, int to)
{
	int64_t m = 1;
	for (int u = from; u < to; u++)
		m *= 1000;
	return m;
}

static cl_i128 get_i128(const cl_column *c, int64_t i)
{
	cl_i128 v;
	memcpy(&v, c->values + (size_t)i * 16, 16);
	return v;
}

int cl__diff_cast(cl_column *dst, const cl_column *src, cl_error *err)
{
	cl_type to = dst->type, from = src->type;
	int64_t n = src->length;
	int rc = cl_column_reserve(dst, n, err);
	if (rc)
		return rc;
	if (cl_type_equal(to, from))
		return cl_column_append_range(dst, src, 0, n, err);
	for (int64_t i = 0; i < n && !rc; i++) {
		if (from.id == CL_NULLTYPE || cl_column_is_null(src, i)) {
			rc = cl_column_append_null(dst, err);
			continue;
		}
		switch (to.id) {
		case CL_INT8: case CL_INT16: case CL_INT32: case CL_INT64:
		case CL_UINT16: case CL_UINT32: case CL_UINT64:
		case CL_UINT8:
			rc = cl_column_append_i64(dst, cl_column_get_i64(src, i), err);
			break;
		case CL_FLOAT32: case CL_FLOAT64:
			rc = cl_column_append_f64(
				dst, is_float(from.id) ? cl_column_get_f64(src, i)
						       : (double)cl_column_get_i64(src, i),
				err);
			break;
		case CL_DECIMAL: {
			cl_i128 v;
			int scale = 0;
			if (from.id == CL_DECIMAL) {
				v = get_i128(src, i);
				scale = from.scale;
			} else if (from.id == CL_UINT64) {
				v = (cl_i128)(uint64_t)cl_column_get_i64(src, i);
			} else {
				v = cl_column_get_i64(src, i);
			}
			v *= cl__i128_pow10(to.scale - scale);
			rc = cl_column_append_fixed(dst, &v, err);
			break;
		}
		case CL_TIME: case CL_TIMESTAMP:
			rc = cl_column_append_i64(dst,
						  cl_column_get_i64(src, i) *
							  unit_scale(from.unit, to.unit),
						  err);
			break;
		default:
			return cl_error_set(err, CL_EINTERNAL, "diff: no cast to this type");
		}
	}
	return rc;
}

int cl__column_append_nulls(cl_column *dst, int64_t n, cl_error *err)
{
	int rc = cl_column_reserve(dst, n, err);
	for (int64_t i = 0; i < n && !rc; i++)
		rc = cl_column_append_null(dst, err);
	return rc;
}

/* ---- equality and order ------------------------------------------------- */

static bool f64_eq(double a, double b)
{
	return a == b || (a != a && b != b);
}

/* Both non-NULL, same type. */
static bool value_eq(const cl_column *a, int64_t ia, const cl_column *b, int64_t ib)
{
	switch (a->type.id) {
	case CL_BOOL:
		return cl_column_get_bool(a, ia) == cl_column_get_bool(b, ib);
	case CL_FLOAT32: case CL_FLOAT64:
		return f64_eq(cl_column_get_f64(a, ia), cl_column_get_f64(b, ib));
	case CL_STRING: case CL_BINARY: {
		size_t na, nb;
		const uint8_t *pa = cl_column_get_bytes(a, ia, &na);
		const uint8_t *pb = cl_column_get_bytes(b, ib, &nb);
		return na == nb && (na == 0 || memcmp(pa, pb, na) == 0);
	}
	case CL_NULLTYPE:
		return true;
	default: {
		size_t w = (size_t)cl_type_width(a->type);
		return memcmp(a->values + (size_t)ia * w, b->values + (size_t)ib * w, w) == 0;
	}
	}
}

bool cl__diff_equal(const cl_column *a, int64_t ia, const cl_column *b, int64_t ib)
{
	bool na = a->type.id == CL_NULLTYPE || cl_column_is_null(a, ia);
	bool nb = b->type.id == CL_NULLTYPE || cl_column_is_null(b, ib);
	if (na || nb)
		return na == nb;
	return value_eq(a, ia, b, ib);
}

bool cl__diff_equal_any(const cl_column *a, int64_t ia, const cl_column *b,
			int64_t ib)
{
	bool na = a->type.id == CL_NULLTYPE || cl_column_is_null(a, ia);
	bool nb = b->type.id == CL_NULLTYPE || cl_column_is_null(b, ib);
	if (na || nb)
		return na == nb;
	if (!cl_type_equal(a->type, b->type))
		return false;
	return value_eq(a, ia, b, ib);
}

static double num_value(const cl_column *c, int64_t i)
{
	switch (c->type.id) {
	case CL_FLOAT32: case CL_FLOAT64: return cl_column_get_f64(c, i);
	case CL_UINT64: return (double)(uint64_t)cl_column_get_i64(c, i);
	case CL_DECIMAL:
		return (double)get_i128(c, i) / (double)cl__i128_pow10(c->type.scale);
	default: return (double)cl_column_get_i64(c, i);
	}
}

/* Nanoseconds of a date, time or timestamp value. */
static cl_i128 ns_value(const cl_column *c, int64_t i)
{
	cl_i128 v = cl_column_get_i64(c, i);
	if (c->type.id == CL_DATE)
		return v * 86400 * (cl_i128)1000000000;
	return v * unit_scale(c->type.unit, CL_UNIT_NS);
}

static bool is_space(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Next byte of s after trimming and collapsing whitespace; -1 at the end. */
static bool ws_equal(const uint8_t *a, size_t na, const uint8_t *b, size_t nb)
{
	while (na && is_space(*a))
		a++, na--;
	while (na && is_space(a[na - 1]))
		na--;
	while (nb && is_space(*b))
		b++, nb--;
	while (nb && is_space(b[nb - 1]))
		nb--;
	size_t i = 0, j = 0;
	while (i < na && j < nb) {
		if (is_space(a[i]) && is_space(b[j])) {
			while (i < na && is_space(a[i]))
				i++;
			while (j < nb && is_space(b[j]))
				j++;
			continue;
		}
		if (a[i] != b[j])
			return false;
		i++, j++;
	}
	return i == na && j == nb;
}

bool cl__diff_rule_applies(cl_diff_cmp_kind k, cl_type t)
{
	switch (k) {
	case CL_CMP_EPSILON:
		return is_sint(t.id) || is_uint(t.id) || is_float(t.id) ||
		       t.id == CL_DECIMAL;
	case CL_CMP_WHITESPACE: return t.id == CL_STRING;
	case CL_CMP_DURATION:
		return t.id == CL_DATE || t.id == CL_TIME || t.id == CL_TIMESTAMP;
	default: return true;
	}
}

bool cl__diff_equal_cmp(const cl_diff_rule *r, const cl_column *a, int64_t ia,
			const cl_column *b, int64_t ib)
{
	bool na = a->type.id == CL_NULLTYPE || cl_column_is_null(a, ia);
	bool nb = b->type.id == CL_NULLTYPE || cl_column_is_null(b, ib);
	if (na || nb)
		return na == nb;
	if (value_eq(a, ia, b, ib))
		return true;
	switch (r->kind) {
	case CL_CMP_EPSILON: {
		if (a->type.id == CL_DECIMAL) {
			/* in units of the scale, so 2.02 - 2.00 is exactly 2 units */
			cl_i128 x = get_i128(a, ia), y = get_i128(b, ib);
			cl_i128 dd = x > y ? x - y : y - x;
			double m = x < 0 ? -(double)x : (double)x;
			double my = y < 0 ? -(double)y : (double)y;
			double t = r->relative ? fmax(m, my) * r->epsilon
					       : r->epsilon * (double)cl__i128_pow10(a->type.scale);
			return r->inclusive ? (double)dd <= t : (double)dd < t;
		}
		double x = num_value(a, ia), y = num_value(b, ib);
		double d = fabs(x - y);
		double t = r->relative ? fmax(fabs(x), fabs(y)) * r->epsilon : r->epsilon;
		return r->inclusive ? d <= t : d < t;
	}
	case CL_CMP_WHITESPACE: {
		size_t la, lb;
		const uint8_t *pa = cl_column_get_bytes(a, ia, &la);
		const uint8_t *pb = cl_column_get_bytes(b, ib, &lb);
		return ws_equal(pa, la, pb, lb);
	}
	case CL_CMP_DURATION: {
		cl_i128 d = ns_value(a, ia) - ns_value(b, ib);
		if (d < 0)
			d = -d;
		return r->inclusive ? d <= r->duration_ns : d < r->duration_ns;
	}
	default:
		return false;
	}
}

static int cmp_f64(double a, double b)
{
	bool an = a != a, bn = b != b;
	if (an || bn)
		return an - bn; /* NaN last */
	return (a > b) - (a < b);
}

int cl__diff_order(const cl_column *a, int64_t ia, const cl_column *b, int64_t ib)
{
	bool na = a->type.id == CL_NULLTYPE || cl_column_is_null(a, ia);
	bool nb = b->type.id == CL_NULLTYPE || cl_column_is_null(b, ib);
	if (na || nb)
		return nb - na; /* NULL first */
	switch (a->type.id) {
	case CL_BOOL:
		return (int)cl_column_get_bool(a, ia) - (int)cl_column_get_bool(b, ib);
	case CL_FLOAT32: case CL_FLOAT64:
		return cmp_f64(cl_column_get_f64(a, ia), cl_column_get_f64(b, ib));
	case CL_UINT64: {
		uint64_t x = (uint64_t)cl_column_get_i64(a, ia);
		uint64_t y = (uint64_t)cl_column_get_i64(b, ib);
		return (x > y) - (x < y);
	}
	case CL_DECIMAL: {
		cl_i128 x = get_i128(a, ia), y = get_i128(b, ib);
		return (x > y) - (x < y);
	}
	case CL_STRING: case CL_BINARY: {
		size_t la, lb;
		const uint8_t *pa = cl_column_get_bytes(a, ia, &la);
		const uint8_t *pb = cl_column_get_bytes(b, ib, &lb);
		size_t m = la < lb ? la : lb;
		int c = m ? memcmp(pa, pb, m) : 0;
		if (c)
			return c < 0 ? -1 : 1;
		return (la > lb) - (la < lb);
	}
	default: {
		int64_t x = cl_column_get_i64(a, ia), y = cl_column_get_i64(b, ib);
		return (x > y) - (x < y);
	}
	}
}

/* ---- comparing pairs, type-specialised ---------------------------------- */

#define LCOL(k) (lchunk[lref[k] >> CL__CHUNK_BITS])
#define LROW(k) ((int64_t)(lref[k] & CL__CHUNK_MASK))

/* The left value of pair k + AHEAD (random in the store) is asked for
 * ahead of its use: the pairs' loops are otherwise bound by cache misses. */
#define PAIRS_AHEAD 16
#define PREFETCH_LEFT(k, W)                                                     \
	do {                                                                    \
		if ((k) + PAIRS_AHEAD < n)                                      \
			__builtin_prefetch(LCOL((k) + PAIRS_AHEAD)->values +    \
					   (size_t)LROW((k) + PAIRS_AHEAD) * (W)); \
	} while (0)

/* Fixed-width default equality over pairs: null flags, then raw values. */
#define PAIRS_FIXED(T)                                                          \
	for (int64_t k = 0; k < n; k++) {                                       \
		PREFETCH_LEFT(k, sizeof(T));                                    \
		const cl_column *lc = LCOL(k);                                  \
		int64_t li = LROW(k), ri = rrow[k];                             \
		bool ln = cl_column_is_null(lc, li), rn = cl_column_is_null(rc, ri); \
		changed[k] = ln != rn ||                                        \
			     (!ln && ((const T *)lc->values)[li] !=             \
					     ((const T *)rc->values)[ri]);      \
	}

/* Floating point: -0.0 equals 0.0 and NaN equals NaN (f64_eq). */
#define PAIRS_FLOAT(T)                                                          \
	for (int64_t k = 0; k < n; k++) {                                       \
		PREFETCH_LEFT(k, sizeof(T));                                    \
		const cl_column *lc = LCOL(k);                                  \
		int64_t li = LROW(k), ri = rrow[k];                             \
		bool ln = cl_column_is_null(lc, li), rn = cl_column_is_null(rc, ri); \
		T x = ((const T *)lc->values)[li], y = ((const T *)rc->values)[ri]; \
		changed[k] = ln != rn || (!ln && !(x == y || (x != x && y != y))); \
	}

void cl__diff_cmp_pairs(const cl_diff_rule *r, const cl_column *const *lchunk,
			const uint32_t *lref, const cl_column *rc,
			const uint32_t *rrow, int64_t n, uint8_t *changed)
{
	if (r->kind == CL_CMP_DEFAULT) {
		switch (rc->type.id) {
		case CL_INT8: case CL_UINT8: PAIRS_FIXED(uint8_t); return;
		case CL_INT16: case CL_UINT16: PAIRS_FIXED(uint16_t); return;
		case CL_INT32: case CL_UINT32: case CL_DATE: PAIRS_FIXED(uint32_t); return;
		case CL_INT64: case CL_UINT64: case CL_TIME: case CL_TIMESTAMP:
			PAIRS_FIXED(uint64_t);
			return;
		case CL_FLOAT64: PAIRS_FLOAT(double); return;
		case CL_FLOAT32: PAIRS_FLOAT(float); return;
		case CL_DECIMAL:
			/* equal decimals of one type have equal bytes */
			for (int64_t k = 0; k < n; k++) {
				PREFETCH_LEFT(k, 16);
				const cl_column *lc = LCOL(k);
				int64_t li = LROW(k), ri = rrow[k];
				bool ln = cl_column_is_null(lc, li), rn = cl_column_is_null(rc, ri);
				uint64_t a[2], b[2];
				memcpy(a, lc->values + (size_t)li * 16, 16);
				memcpy(b, rc->values + (size_t)ri * 16, 16);
				changed[k] = ln != rn || (!ln && (a[0] != b[0] || a[1] != b[1]));
			}
			return;
		case CL_BOOL:
			for (int64_t k = 0; k < n; k++) {
				const cl_column *lc = LCOL(k);
				int64_t li = LROW(k), ri = rrow[k];
				bool ln = cl_column_is_null(lc, li), rn = cl_column_is_null(rc, ri);
				changed[k] = ln != rn ||
					     (!ln && cl_bit_get(lc->values, li) !=
							     cl_bit_get(rc->values, ri));
			}
			return;
		case CL_STRING: case CL_BINARY:
			for (int64_t k = 0; k < n; k++) {
				if (k + PAIRS_AHEAD < n)
					__builtin_prefetch(LCOL(k + PAIRS_AHEAD)->offsets +
							   LROW(k + PAIRS_AHEAD));
				const cl_column *lc = LCOL(k);
				int64_t li = LROW(k), ri = rrow[k];
				bool ln = cl_column_is_null(lc, li);
				bool rn = cl_column_is_null(rc, ri);
				if (ln || rn) {
					changed[k] = ln != rn;
					continue;
				}
				int64_t la = lc->offsets[li + 1] - lc->offsets[li];
				int64_t lb = rc->offsets[ri + 1] - rc->offsets[ri];
				changed[k] = la != lb ||
					     (la && memcmp(lc->data + lc->offsets[li],
							   rc->data + rc->offsets[ri],
							   (size_t)la) != 0);
			}
			return;
		default:
			break;
		}
		for (int64_t k = 0; k < n; k++)
			changed[k] = !cl__diff_equal(LCOL(k), LROW(k), rc, rrow[k]);
		return;
	}
	for (int64_t k = 0; k < n; k++)
		changed[k] = !cl__diff_equal_cmp(r, LCOL(k), LROW(k), rc, rrow[k]);
}

int cl__diff_key_text(cl_buf *out, const cl__diff_plan *p,
		      const cl_column *const *cols, int64_t row)
{
	int rc = 0;
	for (int k = 0; k < p->nkeys && !rc; k++) {
		const cl_column *c = cols[k];
		rc = cl_buf_printf(out, "%s%s=", k ? ", " : "", p->u[k].name);
		if (rc)
			break;
		if (c->type.id == CL_NULLTYPE || cl_column_is_null(c, row)) {
			rc = cl_buf_puts(out, "NULL");
		} else if (c->type.id == CL_STRING) {
			size_t len;
			const uint8_t *s = cl_column_get_bytes(c, row, &len);
			rc = cl_buf_printf(out, "'%.*s'", len > 200 ? 200 : (int)len,
					   (const char *)s);
		} else {
			rc = cl__value_format(out, c, row);
		}
	}
	return rc ? CL_ENOMEM : 0;
}
