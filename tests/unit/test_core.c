/* test_core.c — errors, allocation, schema, batches, value text, hashing. */
#include "test.h"

#include "changelake.h"
#include "core/buf.h"
#include "core/value_text.h"

#include <sys/stat.h>

TEST(core_error_set_and_prefix)
{
	cl_error e = {0};
	CHECK_EQ_INT(cl_error_set(&e, CL_EFORMAT, "row %d", 7), CL_EFORMAT);
	cl_error_prefix(&e, "%s: ", "a.csv");
	CHECK_STR(e.message, "a.csv: row 7");
	CHECK_EQ_INT(e.code, CL_EFORMAT);
	CHECK_EQ_INT(cl_error_set(NULL, CL_EIO, "x"), CL_EIO);
}

TEST(core_alloc_fail_after)
{
	cl_alloc_fail_after(1);
	void *a = cl_malloc(10);
	void *b = cl_malloc(10);
	cl_alloc_fail_after(-1);
	CHECK(a != NULL);
	CHECK(b == NULL);
	cl_free(a);
	cl_free(NULL);
}

TEST(core_type_parse_format)
{
	static const char *cases[][2] = {
		{"int64", "int64"}, {"BIGINT", "int64"}, {"decimal(12, 2)", "decimal(12,2)"},
		{"timestamp(ms,utc)", "timestamp(ms,utc)"}, {"timestamptz", "timestamp(us,utc)"},
		{"time(ns)", "time(ns)"}, {"varchar", "string"}, {"bool", "bool"},
		{"date", "date"}, {"uint16", "uint16"}, {"float", "float32"}, {"blob", "binary"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		cl_type t;
		cl_error e = {0};
		CHECK_OK(cl_type_parse(&t, cases[i][0], strlen(cases[i][0]), &e), &e);
		char buf[64];
		CHECK_STR(cl_type_format(buf, sizeof buf, t), cases[i][1]);
	}
	cl_type t;
	cl_error e = {0};
	CHECK(cl_type_parse(&t, "decimal(40,2)", 13, &e) == CL_EINVAL);
	CHECK(cl_type_parse(&t, "strin", 5, &e) == CL_EINVAL);
	CHECK(strstr(e.message, "strin") != NULL);
}

TEST(core_schema_parse)
{
	cl_schema *s;
	cl_error e = {0};
	CHECK_OK(cl_schema_parse(&s, "# comment\nid int64 not null\n\"my col\" decimal(10,2), ts timestamp(us,utc)\n", &e), &e);
	CHECK_EQ_INT(s->nfields, 3);
	CHECK_STR(s->fields[1].name, "my col");
	CHECK(!s->fields[0].nullable);
	CHECK(s->fields[1].nullable);
	CHECK_EQ_INT(s->fields[1].type.scale, 2);
	CHECK(s->fields[2].type.utc);
	cl_schema *c;
	CHECK_OK(cl_schema_copy(&c, s, &e), &e);
	CHECK(cl_schema_equal(s, c));
	CHECK(cl_schema_add(c, "id", cl_type_make(CL_INT8), true, &e) == CL_ESCHEMA);
	cl_schema_free(c);
	cl_schema_free(s);
	CHECK(cl_schema_parse(&s, "a int64\na string\n", &e) == CL_ESCHEMA);
	CHECK(cl_schema_parse(&s, "a\n", &e) == CL_EINVAL);
}

TEST(core_column_builders)
{
	cl_error e = {0};
	cl_column c;
	CHECK_OK(cl_column_init(&c, cl_type_make(CL_STRING), 0, &e), &e);
	for (int i = 0; i < 1000; i++) {
		if (i % 7 == 0)
			CHECK_OK(cl_column_append_null(&c, &e), &e);
		else
			CHECK_OK(cl_column_append_bytes(&c, "hello", (size_t)(i % 6), &e), &e);
	}
	CHECK_EQ_INT(c.length, 1000);
	CHECK_EQ_INT(c.null_count, 143);
	CHECK(cl_column_is_null(&c, 0));
	CHECK(!cl_column_is_null(&c, 1));
	size_t n;
	const uint8_t *p = cl_column_get_bytes(&c, 5, &n);
	CHECK_EQ_INT(n, 5);
	CHECK(memcmp(p, "hello", 5) == 0);
	cl_batch b = {1000, 1, &c};
	CHECK_OK(cl_batch_validate(&b, &e), &e);
	cl_column_release(&c);

	CHECK_OK(cl_column_init(&c, cl_type_make(CL_BOOL), 3, &e), &e);
	for (int i = 0; i < 100; i++)
		CHECK_OK(cl_column_append_bool(&c, i % 3 == 0, &e), &e);
	CHECK(cl_column_get_bool(&c, 99));
	CHECK(!cl_column_get_bool(&c, 98));
	cl_column_release(&c);
}

/* cl_column_append_take gathers the same values cl_column_append_from
 * appends one by one, for every kind of column, with and without NULLs on
 * either side, and strings of every short length. */
TEST(core_column_append_take)
{
	cl_error e = {0};
	const cl_type_id ids[] = {CL_INT32, CL_INT64, CL_FLOAT64, CL_STRING, CL_BOOL, CL_NULLTYPE};
	const char *text = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ";
	int64_t idx[300];
	for (int i = 0; i < 300; i++)
		idx[i] = (i * 37 + 11) % 200;
	for (size_t t = 0; t < sizeof ids / sizeof ids[0]; t++)
		for (int src_nulls = 0; src_nulls < 2; src_nulls++)
			for (int dst_nulls = 0; dst_nulls < 2; dst_nulls++) {
				cl_type ty = cl_type_make(ids[t]);
				cl_column src, a, b;
				CHECK_OK(cl_column_init(&src, ty, 0, &e), &e);
				CHECK_OK(cl_column_init(&a, ty, 0, &e), &e);
				CHECK_OK(cl_column_init(&b, ty, 0, &e), &e);
				for (int i = 0; i < 200; i++) {
					if (ids[t] == CL_NULLTYPE || (src_nulls && i % 5 == 0))
						CHECK_OK(cl_column_append_null(&src, &e), &e);
					else if (ids[t] == CL_STRING)
						CHECK_OK(cl_column_append_bytes(&src, text + i % 7, (size_t)(i % 40), &e), &e);
					else if (ids[t] == CL_BOOL)
						CHECK_OK(cl_column_append_bool(&src, i % 3 == 1, &e), &e);
					else if (ids[t] == CL_FLOAT64)
						CHECK_OK(cl_column_append_f64(&src, i * 0.25, &e), &e);
					else
						CHECK_OK(cl_column_append_i64(&src, i * 1000003LL - 7, &e), &e);
				}
				/* a prefix already in both, NULL or not */
				for (int k = 0; k < 3; k++) {
					int64_t r = dst_nulls && k == 1 ? 0 : 1;
					if (ids[t] != CL_NULLTYPE && dst_nulls && k == 1) {
						CHECK_OK(cl_column_append_null(&a, &e), &e);
						CHECK_OK(cl_column_append_null(&b, &e), &e);
					} else {
						CHECK_OK(cl_column_append_from(&a, &src, r, &e), &e);
						CHECK_OK(cl_column_append_from(&b, &src, r, &e), &e);
					}
				}
				for (int i = 0; i < 300; i++)
					CHECK_OK(cl_column_append_from(&a, &src, idx[i], &e), &e);
				CHECK_OK(cl_column_append_take(&b, &src, idx, 150, &e), &e);
				CHECK_OK(cl_column_append_take(&b, &src, idx + 150, 0, &e), &e);
				CHECK_OK(cl_column_append_take(&b, &src, idx + 150, 150, &e), &e);
				CHECK_EQ_INT(b.length, a.length);
				CHECK_EQ_INT(b.null_count, a.null_count);
				for (int64_t r = 0; r < a.length; r++) {
					CHECK_EQ_INT(cl_column_is_null(&b, r), cl_column_is_null(&a, r));
					if (cl_column_is_null(&a, r))
						continue;
					if (ids[t] == CL_BOOL) {
						CHECK_EQ_INT(cl_column_get_bool(&b, r), cl_column_get_bool(&a, r));
					} else if (ids[t] == CL_STRING) {
						size_t na, nb;
						const uint8_t *pa = cl_column_get_bytes(&a, r, &na);
						const uint8_t *pb = cl_column_get_bytes(&b, r, &nb);
						CHECK_EQ_INT(nb, na);
						CHECK(na == 0 || memcmp(pa, pb, na) == 0);
					} else if (ids[t] == CL_FLOAT64) {
						CHECK(cl_column_get_f64(&b, r) == cl_column_get_f64(&a, r));
					} else if (ids[t] != CL_NULLTYPE) {
						CHECK_EQ_INT(cl_column_get_i64(&b, r), cl_column_get_i64(&a, r));
					}
				}
				cl_batch bb = {b.length, 1, &b};
				CHECK_OK(cl_batch_validate(&bb, &e), &e);
				cl_column_release(&src);
				cl_column_release(&a);
				cl_column_release(&b);
			}
}

TEST(core_column_alloc_failures)
{
	/* Fail each allocation in turn: every failure is reported, none leaks. */
	for (long k = 0; k < 40; k++) {
		cl_error e = {0};
		cl_column c;
		cl_alloc_fail_after(k);
		int rc = cl_column_init(&c, cl_type_make(CL_STRING), 0, &e);
		for (int i = 0; rc == 0 && i < 500; i++)
			rc = (i % 5) ? cl_column_append_bytes(&c, "abcdefgh", 8, &e)
				     : cl_column_append_null(&c, &e);
		cl_alloc_fail_after(-1);
		if (rc)
			CHECK_EQ_INT(rc, CL_ENOMEM);
		cl_column_release(&c);
	}
}

TEST(core_parse_numbers)
{
	int64_t v;
	CHECK(cl__parse_int64("-9223372036854775808", 20, &v) == 0 && v == INT64_MIN);
	CHECK(cl__parse_int64("9223372036854775808", 19, &v) == -2);
	CHECK(cl__parse_int64("12a", 3, &v) == -1);
	CHECK(cl__parse_int64("", 0, &v) == -1);
	CHECK(cl__parse_int64("-", 1, &v) == -1);
	double d;
	CHECK(cl__parse_double("1e-3", 4, &d) == 0 && d == 1e-3);
	CHECK(cl__parse_double("-inf", 4, &d) == 0 && d < 0 && d * 0 != 0);
	CHECK(cl__parse_double("0x10", 4, &d) == -1);
	CHECK(cl__parse_double(" 1", 2, &d) == -1);
	cl_i128 x;
	CHECK(cl__parse_decimal("-12.5", 5, 10, 2, &x) == 0 && x == -1250);
	CHECK(cl__parse_decimal("1.234", 5, 10, 2, &x) == -2);
	CHECK(cl__parse_decimal("1.230", 5, 10, 2, &x) == 0 && x == 123);
	CHECK(cl__parse_decimal("123456789", 9, 10, 2, &x) == -2);
	char buf[64];
	cl__i128_format(buf, sizeof buf, -5, 3);
	CHECK_STR(buf, "-0.005");
	cl__i128_format(buf, sizeof buf, 12345, 0);
	CHECK_STR(buf, "12345");
}

TEST(core_parse_dates)
{
	int32_t d;
	CHECK(cl__parse_date("1970-01-01", 10, &d) == 0 && d == 0);
	CHECK(cl__parse_date("2000-02-29", 10, &d) == 0 && d == 11016);
	CHECK(cl__parse_date("1900-02-29", 10, &d) == -2);
	CHECK(cl__parse_date("2020-13-01", 10, &d) == -2);
	CHECK(cl__parse_date("2020-1-01", 9, &d) == -1);
	int64_t t;
	bool off;
	CHECK(cl__parse_timestamp("2020-11-13 12:34:56.789012", 26, CL_UNIT_US, &t, &off) == 0);
	CHECK(t == 1605270896789012LL && !off);
	CHECK(cl__parse_timestamp("2020-11-13T12:34:56Z", 20, CL_UNIT_MS, &t, &off) == 0);
	CHECK(t == 1605270896000LL && off);
	CHECK(cl__parse_timestamp("2020-11-13T14:34:56+02:00", 25, CL_UNIT_MS, &t, &off) == 0);
	CHECK(t == 1605270896000LL);
	CHECK(cl__parse_timestamp("1969-12-31 23:59:59.5", 21, CL_UNIT_MS, &t, &off) == 0 && t == -500);
	CHECK(cl__parse_timestamp("2020-11-13 12:34:56.1234567", 27, CL_UNIT_US, &t, &off) == -2);
	CHECK(cl__parse_time("23:59:59.25", 11, CL_UNIT_MS, &t) == 0 && t == 86399250);
}

TEST(core_value_format_roundtrip)
{
	cl_error e = {0};
	static const struct { const char *type, *in, *out; } cases[] = {
		{"int32", "-42", "-42"}, {"float64", "0.1", "0.1"}, {"float32", "0.1", "0.1"},
		{"float64", "1e300", "1e+300"}, {"float64", "NaN", "nan"},
		{"decimal(5,2)", "3.1", "3.10"}, {"decimal(38,0)", "-99999999999999999999999999999999999999", "-99999999999999999999999999999999999999"},
		{"date", "1969-07-20", "1969-07-20"},
		{"timestamp(ms)", "1969-12-31 23:59:59.5", "1969-12-31 23:59:59.5"},
		{"timestamp(us,utc)", "2020-01-01T10:00:00+01:00", "2020-01-01 09:00:00+00"},
		{"time(us)", "01:02:03.000400", "01:02:03.0004"},
		{"bool", "T", "true"}, {"binary", "\\x00ff", "\\x00ff"}, {"uint64", "18446744073709551615", "18446744073709551615"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		cl_type t;
		CHECK_OK(cl_type_parse(&t, cases[i].type, strlen(cases[i].type), &e), &e);
		cl_column c;
		CHECK_OK(cl_column_init(&c, t, 0, &e), &e);
		CHECK_OK(cl__column_append_text(&c, cases[i].in, strlen(cases[i].in), &e), &e);
		cl_buf b = {0};
		CHECK(cl__value_format(&b, &c, 0) == 0);
		CHECK_STR((const char *)b.data, cases[i].out);
		cl_buf_release(&b);
		cl_column_release(&c);
	}
	cl_column c;
	CHECK_OK(cl_column_init(&c, cl_type_make(CL_INT8), 0, &e), &e);
	CHECK(cl__column_append_text(&c, "200", 3, &e) == CL_ETYPE);
	CHECK(strstr(e.message, "out of range for int8") != NULL);
	cl_column_release(&c);
	CHECK_OK(cl_column_init(&c, cl_type_make(CL_STRING), 0, &e), &e);
	CHECK(cl__column_append_text(&c, "a\xff", 2, &e) == CL_ETYPE);
	cl_column_release(&c);
}

TEST(core_utf8)
{
	CHECK(cl__utf8_valid((const uint8_t *)"h\xc3\xa9llo \xf0\x9f\x98\x80", 11));
	CHECK(!cl__utf8_valid((const uint8_t *)"\xc0\x80", 2));       /* overlong */
	CHECK(!cl__utf8_valid((const uint8_t *)"\xed\xa0\x80", 3));   /* surrogate */
	CHECK(!cl__utf8_valid((const uint8_t *)"abc\xe2\x82", 5));    /* truncated */
	CHECK_EQ_INT(cl__utf8_check((const uint8_t *)"abcdefghij\xff", 11), 10);
}

TEST(core_hash_null_safe_and_width_independent)
{
	cl_error e = {0};
	cl_column a, b;
	CHECK_OK(cl_column_init(&a, cl_type_make(CL_INT32), 0, &e), &e);
	CHECK_OK(cl_column_init(&b, cl_type_make(CL_INT64), 0, &e), &e);
	CHECK_OK(cl_column_append_i64(&a, 42, &e), &e);
	CHECK_OK(cl_column_append_i64(&b, 42, &e), &e);
	CHECK_OK(cl_column_append_null(&a, &e), &e);
	CHECK_OK(cl_column_append_null(&b, &e), &e);
	uint64_t ha[2] = {0, 0}, hb[2] = {0, 0};
	cl_hash_column(&a, ha, 2);
	cl_hash_column(&b, hb, 2);
	CHECK(ha[0] == hb[0]);
	CHECK(ha[1] == hb[1]);
	CHECK(ha[0] != ha[1]);
	/* stable across versions: the table layout depends on it */
	CHECK(cl_hash_bytes("abc", 3, 0) == 0x78af5f94892f3950ull);
	cl_column_release(&a);
	cl_column_release(&b);
}

/* The INT64 fast path (no NULLs: no bitmap, or a bitmap with every bit set)
 * gives the same hashes as hashing value by value. */
TEST(core_hash_int64_paths_agree)
{
	cl_error e = {0};
	cl_column plain, bitmap;
	CHECK_OK(cl_column_init(&plain, cl_type_make(CL_INT64), 0, &e), &e);
	CHECK_OK(cl_column_init(&bitmap, cl_type_make(CL_INT64), 0, &e), &e);
	for (int64_t i = 0; i < 100; i++) {
		int64_t v = (i * 0x9e3779b97f4a7c15ll) ^ (i << 7);
		CHECK_OK(cl_column_append_i64(&plain, v, &e), &e);
		CHECK_OK(cl_column_append_i64(&bitmap, v, &e), &e);
	}
	CHECK_OK(cl_column_ensure_validity(&bitmap, &e), &e);
	CHECK(bitmap.validity != NULL && bitmap.null_count == 0);
	uint64_t h1[100], h2[100];
	for (int i = 0; i < 100; i++)
		h1[i] = h2[i] = (uint64_t)i * 31;
	cl_hash_column(&plain, h1, 100);
	cl_hash_column(&bitmap, h2, 100);
	for (int i = 0; i < 100; i++) {
		CHECK(h1[i] == h2[i]);
		CHECK(h1[i] == cl_hash_value(&plain, i, (uint64_t)i * 31));
	}
	/* a NULL among them: hashed as NULL, the others unchanged */
	CHECK_OK(cl_column_append_null(&bitmap, &e), &e);
	uint64_t h3[101] = {0};
	cl_hash_column(&bitmap, h3, 101);
	CHECK(h3[0] == cl_hash_value(&plain, 0, 0));
	CHECK(h3[100] == cl_hash_value(&bitmap, 100, 0));
	cl_column_release(&plain);
	cl_column_release(&bitmap);
}

/* One %XX decoder for Hive folder names, DMS manifests, Delta paths and
 * sequence-index values: strict or lenient about a bare '%', NUL bytes
 * (raw or %00) kept only when asked. */
TEST(core_pct_decode)
{
	cl_buf b = {0};
	CHECK_EQ_INT(cl__pct_decode(&b, "a%3Ab%2fc", 9, 0), 0);
	CHECK_STR((char *)b.data, "a:b/c");
	CHECK_EQ_INT(b.len, 5);
	CHECK_EQ_INT(cl__pct_decode(&b, "", 0, 0), 0);
	CHECK_EQ_INT(b.len, 0);
	CHECK_STR((char *)b.data, "");
	CHECK_EQ_INT(cl__pct_decode(&b, "50%", 3, 0), CL_PCT_EBAD);
	CHECK_EQ_INT(cl__pct_decode(&b, "5%4", 3, 0), CL_PCT_EBAD);
	CHECK_EQ_INT(cl__pct_decode(&b, "5%zz", 4, 0), CL_PCT_EBAD);
	CHECK_EQ_INT(cl__pct_decode(&b, "50%_%4", 6, CL_PCT_LENIENT), 0);
	CHECK_STR((char *)b.data, "50%_%4");
	CHECK_EQ_INT(cl__pct_decode(&b, "a%00b", 5, 0), CL_PCT_ENUL);
	CHECK_EQ_INT(cl__pct_decode(&b, "a%00b", 5, CL_PCT_LENIENT), CL_PCT_ENUL);
	CHECK_EQ_INT(cl__pct_decode(&b, "a%00b", 5, CL_PCT_NUL), 0);
	CHECK_EQ_INT(b.len, 3);
	CHECK(b.data[1] == 0 && b.data[2] == 'b');
	CHECK_EQ_INT(cl__pct_decode(&b, "a\0b", 3, CL_PCT_LENIENT), CL_PCT_ENUL);
	CHECK_EQ_INT(cl__pct_decode(&b, "a\0b", 3, CL_PCT_NUL), 0);
	CHECK_EQ_INT(b.len, 3);
	cl_buf_release(&b);
}

/* A dataset folder whose partition value holds an escaped NUL is refused,
 * naming the file (it was cut at the NUL, silently). */
TEST(dataset_partition_value_nul_refused)
{
	char dir[600], sub[700], file[800];
	snprintf(dir, sizeof dir, "%s/ds_nul", cl_test_tmpdir());
	snprintf(sub, sizeof sub, "%s/p=a%%00b", dir);
	CHECK(mkdir(dir, 0755) == 0 && mkdir(sub, 0755) == 0);
	snprintf(file, sizeof file, "%s/f.csv", sub);
	FILE *f = fopen(file, "w");
	CHECK(f != NULL);
	fputs("x\n1\n", f);
	fclose(f);
	cl_error err = {0};
	cl_dataset *ds = NULL;
	CHECK_EQ_INT(cl_dataset_open(&ds, dir, NULL, &err), CL_EFORMAT);
	CHECK(strstr(err.message, "f.csv") && strstr(err.message, "NUL"));
	cl_dataset_free(ds);
}
