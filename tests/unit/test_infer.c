/* test_infer.c — type inference rules (format/infer.h), one test per rule. */
#include "test.h"

#include "changelake.h"
#include "format/infer.h"

/* Infer one column from NULL-terminated values; "~x" marks a JSON string x,
 * "#t"/"#f" JSON literals; returns the type's text. */
static const char *infer(char *buf, size_t n, const char *const *vals)
{
	cl__infer *inf;
	cl_error e = {0};
	if (cl__infer_create(&inf, 1, &e))
		return "create failed";
	for (size_t i = 0; vals[i]; i++) {
		const char *v = vals[i];
		if (v[0] == '~')
			cl__infer_add(inf, 0, v + 1, strlen(v + 1), true);
		else if (!strcmp(v, "#t") || !strcmp(v, "#f"))
			cl__infer_add_json_bool(inf, 0);
		else
			cl__infer_add(inf, 0, v, strlen(v), false);
	}
	cl_type t = cl__infer_type(inf, 0);
	cl__infer_free(inf);
	return cl_type_format(buf, n, t);
}

#define INFER(want, ...)                                                  \
	do {                                                              \
		const char *vals_[] = {__VA_ARGS__, NULL};                \
		char b_[64];                                              \
		CHECK_STR(infer(b_, sizeof b_, vals_), want);             \
	} while (0)

TEST(infer_bool)
{
	INFER("bool", "true", "false", "TRUE", "False");
	INFER("bool", "#t", "#f");
	INFER("string", "true", "1");     /* 1/0 are numbers, not bools */
	INFER("string", "yes", "no");
	INFER("string", "true", "maybe");
	INFER("string", "~true");         /* a JSON string "true" */
}

TEST(infer_int64)
{
	INFER("int64", "1", "-2", "0", "-0", "9223372036854775807", "-9223372036854775808");
	INFER("string", "007", "1");      /* leading zeros keep the text */
	INFER("string", "+5");            /* the '+' would be lost */
	INFER("string", "1 ");            /* no trimming */
	INFER("string", "~12");           /* JSON strings never become numbers */
}

TEST(infer_big_integers)
{
	INFER("decimal(38,0)", "9223372036854775808");
	INFER("decimal(38,0)", "-9223372036854775809", "5");
	INFER("decimal(38,0)", "99999999999999999999999999999999999999");
	INFER("string", "999999999999999999999999999999999999999"); /* 39 digits */
}

TEST(infer_decimal)
{
	INFER("decimal(18,2)", "1.50", "-2.25", "3");
	INFER("decimal(18,3)", "0.001", "12.5");
	INFER("decimal(38,2)", "1234567890123456789.25"); /* 21 digits */
	INFER("decimal(38,20)", "0.12345678901234567890");
	INFER("string", "1.234567890123456789012345678901234567891"); /* 40 digits */
	INFER("string", ".5");
	INFER("string", "5.");
	INFER("string", "00.5");
	INFER("decimal(38,1)", "123456789012345678901234567890.5", "1"); /* 31 digits */
}

TEST(infer_float64)
{
	INFER("float64", "1e5", "2.5", "-3");
	INFER("float64", "1.5E-3");
	INFER("float64", "inf", "-inf", "nan", "Infinity", "1");
	/* 16 significant digits would not survive a double: keep the text */
	INFER("string", "1e5", "1234567890123456");
	INFER("float64", "1e5", "123456789012345");
	INFER("float64", "1e5", "1000000000000000000000"); /* 1 significant digit */
	INFER("string", "1e");
}

TEST(infer_date)
{
	INFER("date", "2020-01-01", "1999-12-31", "2020-02-29");
	INFER("string", "2021-02-29");    /* not a calendar day */
	INFER("string", "2020-1-01");
	INFER("date", "~2020-01-01");     /* JSON strings may be dates */
	INFER("string", "2020-01-01", "5");
}

TEST(infer_timestamp)
{
	INFER("timestamp(us)", "2020-01-01 10:00:00", "2020-01-01T10:00:00.123456");
	INFER("timestamp(us)", "2020-01-01 10:00");
	INFER("timestamp(us)", "2020-01-01", "2020-01-02 00:00:01"); /* date + ts */
	INFER("timestamp(ns)", "2020-01-01 10:00:00.123456789");
	INFER("string", "2020-01-01 10:00:00.1234567891"); /* 10 digits */
	INFER("timestamp(us,utc)", "2020-01-01T10:00:00Z", "2020-01-01 10:00:00+02:00",
	      "2020-01-01 10:00:00-0530");
	INFER("string", "2020-01-01T10:00:00Z", "2020-01-01 10:00:00"); /* mixed offsets */
	INFER("string", "2020-01-01", "2020-01-01T10:00:00Z");
	INFER("string", "2020-01-01 25:00:00");
	INFER("timestamp(us)", "~2020-01-01 10:00:00");
	/* ns needs every value to fit int64 nanoseconds (1677..2262) */
	INFER("string", "2020-01-01 10:00:00.123456789", "2500-01-01 00:00:00");
	INFER("timestamp(us)", "2500-01-01 00:00:00");
}

TEST(infer_strings_and_nulls)
{
	cl__infer *inf;
	cl_error e = {0};
	CHECK_OK(cl__infer_create(&inf, 3, &e), &e);
	char b[64];
	CHECK_STR(cl_type_format(b, sizeof b, cl__infer_type(inf, 0)), "string"); /* all NULL */
	cl__infer_add(inf, 1, "5", 1, false);
	cl__infer_add_string(inf, 1);
	CHECK_STR(cl_type_format(b, sizeof b, cl__infer_type(inf, 1)), "string");
	CHECK_EQ_INT(cl__infer_count(inf, 1), 2);
	CHECK_OK(cl__infer_resize(inf, 10, &e), &e);
	cl__infer_add(inf, 9, "7", 1, false);
	CHECK_STR(cl_type_format(b, sizeof b, cl__infer_type(inf, 9)), "int64");
	CHECK_STR(cl_type_format(b, sizeof b, cl__infer_type(inf, 1)), "string");
	/* out of range columns are ignored, not a crash */
	cl__infer_add(inf, 10, "7", 1, false);
	cl__infer_add(inf, -1, "7", 1, false);
	CHECK_STR(cl_type_format(b, sizeof b, cl__infer_type(inf, 42)), "string");
	cl__infer_free(inf);
	INFER("string", "");               /* an empty (quoted) string */
	INFER("string", "12:00:00");       /* times of day stay strings */
	INFER("string", "1", "2020-01-01");
	INFER("string", "1", "true");
}
