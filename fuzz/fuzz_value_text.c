/*
 * fuzz_value_text.c — libFuzzer target for text-to-value conversion
 * (core/value_text.h): the parsers every text input goes through (CSV,
 * JSON Lines strings, DMS CSV, Hive partition values, sequence-index parts).
 *
 * The first input byte picks a type (every type, decimals of several
 * precisions and scales, times and timestamps in each unit, local and UTC);
 * the rest (at most 512 bytes) is the text. Checks beyond "no crash":
 *   - a text that parses formats (cl__value_format) to a text that parses
 *     again to the very same value (byte for byte), and formatting that
 *     value gives the same text again (format is a fixed point);
 *   - the typed parsers agree with the column parser: cl__parse_date /
 *     _time / _timestamp / _int64 / _uint64 / _decimal accept exactly
 *     what the column accepts, with the same value;
 *   - a failure is an error return with a message, never a half-appended
 *     value (the column length stays 0);
 *   - value first (second byte 0xff): the rest is one value as a file
 *     holds it (any timestamp or date, any float bits, ...), which formats
 *     to a text that parses back to the same value.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/value_text.h"

static cl_type pick(uint8_t b)
{
	static const cl_type_id simple[] = {
		CL_BOOL, CL_INT8, CL_INT16, CL_INT32, CL_INT64, CL_UINT8, CL_UINT16,
		CL_UINT32, CL_UINT64, CL_FLOAT32, CL_FLOAT64, CL_DATE, CL_STRING, CL_BINARY};
	static const int dec[][2] = {{38, 0}, {38, 10}, {38, 38}, {18, 2}, {10, 2}, {5, 5},
				     {1, 0}, {9, 3}, {30, 29}, {20, 0}};
	unsigned k = b % 32;
	if (k < 14)
		return cl_type_make(simple[k]);
	if (k < 24)
		return cl_type_decimal(dec[k - 14][0], dec[k - 14][1]);
	if (k < 27)
		return cl_type_time((cl_time_unit)(k - 24));
	/* 27..31 and the high bit: timestamps in every unit, local and utc */
	return cl_type_timestamp((cl_time_unit)((k + (b >> 5)) % 3), (b >> 7) & 1);
}

static void fail(const char *what, const cl_type t, const char *a, size_t an,
		 const char *b, size_t bn)
{
	char tn[64];
	cl_type_format(tn, sizeof tn, t);
	fprintf(stderr, "%s (%s): '%.*s' -> '%.*s'\n", what, tn, (int)an, a, (int)bn, b);
	abort();
}

/* The value of row 0 as bytes, for comparison. */
static size_t value_bytes(const cl_column *c, const uint8_t **p)
{
	size_t n;
	if (cl_type_is_var(c->type)) {
		*p = cl_column_get_bytes(c, 0, &n);
		return n;
	}
	if (c->type.id == CL_BOOL) {
		*p = cl_column_get_bool(c, 0) ? (const uint8_t *)"\1" : (const uint8_t *)"\0";
		return 1;
	}
	*p = c->values;
	return (size_t)cl_type_width(c->type);
}

/* The typed parser must agree with what the column took. */
static void check_typed(const cl_column *c, const char *s, size_t n, bool ok)
{
	int rc;
	int64_t v = 0;
	switch (c->type.id) {
	case CL_INT64:
		rc = cl__parse_int64(s, n, &v);
		break;
	case CL_UINT64: {
		uint64_t u = 0;
		rc = cl__parse_uint64(s, n, &u);
		v = (int64_t)u;
		break;
	}
	case CL_DATE: {
		int32_t d = 0;
		rc = cl__parse_date(s, n, &d);
		v = d;
		break;
	}
	case CL_TIME:
		rc = cl__parse_time(s, n, c->type.unit, &v);
		break;
	case CL_TIMESTAMP: {
		bool off = false;
		rc = cl__parse_timestamp(s, n, c->type.unit, &v, &off);
		break;
	}
	case CL_DECIMAL: {
		cl_i128 d = 0;
		rc = cl__parse_decimal(s, n, c->type.precision, c->type.scale, &d);
		if (rc != 0 && rc != -1 && rc != -2)
			abort();
		if ((rc == 0) != ok || (ok && memcmp(&d, c->values, 16)))
			fail("decimal parser disagrees with the column", c->type, s, n, "", 0);
		return;
	}
	default:
		return;
	}
	if (rc != 0 && rc != -1 && rc != -2)
		abort();
	if ((rc == 0) != ok || (ok && v != cl_column_get_i64(c, 0)))
		fail("typed parser disagrees with the column", c->type, s, n, "", 0);
}

/*
 * Value first: the bytes after "T \xff" are one value of type T as a file
 * would hold it (any int64 timestamp, any int32 date, any float bits, a
 * decimal within its precision, a time of day up to 24:00:00); it formats
 * to a text that parses back to the same value.
 */
static void value_first(cl_type t, const uint8_t *p, size_t n)
{
	int w = cl_type_width(t);
	if (w == 0 || (size_t)w > n)
		return;
	uint8_t v[16] = {0};
	memcpy(v, p, (size_t)w);
	if (t.id == CL_DECIMAL) {
		cl_i128 d;
		memcpy(&d, v, 16);
		cl_i128 lim = cl__i128_pow10(t.precision);
		if (d <= -lim || d >= lim)
			return;
	} else if (t.id == CL_TIME) {
		uint64_t x;
		memcpy(&x, v, 8);
		int64_t day = 86400 * cl__unit_per_second(t.unit);
		int64_t tod = (int64_t)(x % (uint64_t)(day + 1));
		memcpy(v, &tod, 8);
	}
	cl_error err = {0};
	cl_column a, b;
	cl_buf t1 = {0}, t2 = {0};
	if (cl_column_init(&a, t, 1, &err) || cl_column_init(&b, t, 1, &err) ||
	    cl_column_append_fixed(&a, v, &err) || cl__value_format(&t1, &a, 0))
		abort();
	if (cl__column_append_text(&b, (const char *)t1.data, t1.len, &err)) {
		fprintf(stderr, "%s\n", err.message);
		fail("a value's text does not parse", t, "", 0, (const char *)t1.data, t1.len);
	}
	bool same = !memcmp(a.values, b.values, (size_t)w);
	if (t.id == CL_FLOAT32)
		same = same || (isnan(((const float *)a.values)[0]) &&
				isnan(((const float *)b.values)[0]));
	if (t.id == CL_FLOAT64)
		same = same || (isnan(((const double *)a.values)[0]) &&
				isnan(((const double *)b.values)[0]));
	if (!same)
		fail("a value changed through its text", t, "", 0, (const char *)t1.data, t1.len);
	if (cl__value_format(&t2, &b, 0) || t1.len != t2.len || memcmp(t1.data, t2.data, t1.len))
		fail("format is not a fixed point", t, (const char *)t1.data, t1.len,
		     (const char *)t2.data, t2.len);
	cl_buf_release(&t1);
	cl_buf_release(&t2);
	cl_column_release(&a);
	cl_column_release(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 513)
		return 0;
	cl_type t = pick(data[0]);
	if (size >= 2 && data[1] == 0xff) {
		value_first(t, data + 2, size - 2);
		return 0;
	}
	const char *s = (const char *)data + 1;
	size_t n = size - 1;
	cl_error err = {0};
	cl_column a, b;
	if (cl_column_init(&a, t, 1, &err) || cl_column_init(&b, t, 1, &err))
		abort();
	cl_buf t1 = {0}, t2 = {0};
	int rc = cl__column_append_text(&a, s, n, &err);
	if (rc) {
		if (a.length != 0 || !err.message[0])
			fail("failed parse left a value or no message", t, s, n, "", 0);
	} else if (a.length != 1) {
		fail("parse appended no value", t, s, n, "", 0);
	}
	check_typed(&a, s, n, rc == 0);
	if (rc == 0) {
		if (cl__value_format(&t1, &a, 0))
			abort();
		if (cl__column_append_text(&b, (const char *)t1.data, t1.len, &err))
			fail("formatted value does not parse", t, s, n, (const char *)t1.data,
			     t1.len);
		const uint8_t *pa, *pb;
		size_t na = value_bytes(&a, &pa), nb = value_bytes(&b, &pb);
		if (na != nb || (na && memcmp(pa, pb, na)))
			fail("value changed through its text", t, s, n, (const char *)t1.data,
			     t1.len);
		if (cl__value_format(&t2, &b, 0))
			abort();
		if (t1.len != t2.len || (t1.len && memcmp(t1.data, t2.data, t1.len)))
			fail("format is not a fixed point", t, (const char *)t1.data, t1.len,
			     (const char *)t2.data, t2.len);
	}
	cl_buf_release(&t1);
	cl_buf_release(&t2);
	cl_column_release(&a);
	cl_column_release(&b);
	return 0;
}
