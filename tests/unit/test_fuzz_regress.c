/*
 * test_fuzz_regress.c — inputs the fuzz targets (fuzz/fuzz_*.c) found
 * crashing or misbehaving, kept as unit tests so the fixes stay fixed.
 * Each test names the target that found it and what went wrong.
 */
#include "test.h"

#include "changelake/batch.h"
#include "core/buf.h"
#include "core/value_text.h"
#include "sink/pg_export_impl.h"
#include "changelake/parquet.h"
#include "changelake/table.h"

#include <string.h>
#include <sys/stat.h>

/* fuzz_value_text: a decimal(38,10) text with 38 integer digits and 10
 * fraction digits overflowed __int128 while accumulating (UB) before the
 * precision check rejected it. Out of range is -2, and nothing overflows
 * (the SAN build traps signed overflow). */
TEST(fuzz_regress_decimal_overflow)
{
	cl_i128 v = 0;
	const char *s = "99999999999999999999999999999999999999.9999999999";
	CHECK_EQ_INT(cl__parse_decimal(s, strlen(s), 38, 10, &v), -2);
	s = "-99999999999999999999999999999999999999999999999.99999999999999999999";
	CHECK_EQ_INT(cl__parse_decimal(s, strlen(s), 38, 20, &v), -2);
	/* not a number at all stays -1, even after too many digits */
	s = "999999999999999999999999999999999999999999x";
	CHECK_EQ_INT(cl__parse_decimal(s, strlen(s), 38, 0, &v), -1);
	/* the largest values still parse */
	s = "9999999999999999999999999999.9999999999";
	CHECK_EQ_INT(cl__parse_decimal(s, strlen(s), 38, 10, &v), 0);
	CHECK(v == cl__i128_pow10(38) - 1);
	s = "-0.99999999999999999999999999999999999999";
	CHECK_EQ_INT(cl__parse_decimal(s, strlen(s), 38, 38, &v), 0);
	CHECK(v == -(cl__i128_pow10(38) - 1));
	s = "00000000000000000000000000000000000000000000000001.5";
	CHECK_EQ_INT(cl__parse_decimal(s, strlen(s), 2, 1, &v), 0);
	CHECK(v == 15);
}

/* fuzz_value_text: an empty "\x" binary value formed NULL + 0 on a column
 * without a data buffer (UB); it is an empty value. */
TEST(fuzz_regress_binary_empty_hex)
{
	cl_error err = {0};
	cl_column c;
	CHECK_OK(cl_column_init(&c, cl_type_make(CL_BINARY), 0, &err), &err);
	CHECK_OK(cl__column_append_text(&c, "\\x", 2, &err), &err);
	CHECK_EQ_INT(c.length, 1);
	CHECK_EQ_INT(c.offsets[1], 0);
	CHECK_OK(cl__column_append_text(&c, "\\x00ff", 6, &err), &err);
	CHECK_EQ_INT(c.offsets[2], 2);
	CHECK_EQ_INT(c.data[1], 0xff);
	cl_column_release(&c);
}

/* fuzz_value_text (value first): the first and last day of the int64
 * range formatted but did not parse back ("out of range"), so a Parquet
 * timestamp there could be written as CSV but not read again. Every unit,
 * both ends, local and UTC, read back exactly; one past is out of range. */
TEST(fuzz_regress_timestamp_extremes_round_trip)
{
	cl_error err = {0};
	const int64_t ends[] = {INT64_MIN, INT64_MIN + 1, INT64_MAX, INT64_MAX - 1};
	for (int unit = CL_UNIT_MS; unit <= CL_UNIT_NS; unit++)
		for (int utc = 0; utc < 2; utc++)
			for (int k = 0; k < 4; k++) {
				cl_column a, b;
				cl_buf t = {0};
				cl_type ty = cl_type_timestamp((cl_time_unit)unit, utc);
				CHECK_OK(cl_column_init(&a, ty, 1, &err), &err);
				CHECK_OK(cl_column_init(&b, ty, 1, &err), &err);
				CHECK_OK(cl_column_append_i64(&a, ends[k], &err), &err);
				CHECK_EQ_INT(cl__value_format(&t, &a, 0), 0);
				CHECK_OK(cl__column_append_text(&b, (const char *)t.data, t.len, &err),
					 &err);
				CHECK(cl_column_get_i64(&b, 0) == ends[k]);
				cl_buf_release(&t);
				cl_column_release(&a);
				cl_column_release(&b);
			}
	int64_t v;
	CHECK_EQ_INT(cl__parse_timestamp("294247-01-10 04:00:54.775807", 28, CL_UNIT_US, &v, NULL), 0);
	CHECK(v == INT64_MAX);
	CHECK_EQ_INT(cl__parse_timestamp("294247-01-10 04:00:54.775808", 28, CL_UNIT_US, &v, NULL), -2);
	CHECK_EQ_INT(cl__parse_timestamp("-290308-12-21 19:59:05.224192", 29, CL_UNIT_US, &v, NULL), 0);
	CHECK(v == INT64_MIN);
	CHECK_EQ_INT(cl__parse_timestamp("-290308-12-21 19:59:05.224191", 29, CL_UNIT_US, &v, NULL), -2);
	CHECK_EQ_INT(cl__parse_timestamp("999999999-12-31 23:59:59", 24, CL_UNIT_MS, &v, NULL), -2);
}

/* fuzz_pg_copy: an empty bytea ("\\x" in COPY text) formed NULL + 0 on a
 * column without a data buffer (UB, trapped by the sanitizer build); it is
 * an empty value. */
TEST(fuzz_regress_pg_copy_empty_bytea)
{
	cl_error err = {0};
	cl_column c;
	CHECK_OK(cl_column_init(&c, cl_type_make(CL_BINARY), 0, &err), &err);
	CHECK_OK(cl__pg_value_append(&c, CL__PG_BYTEA, "\\x", 2, &err), &err);
	CHECK_EQ_INT(c.length, 1);
	CHECK_EQ_INT(c.offsets[1], 0);
	CHECK_OK(cl__pg_value_append(&c, CL__PG_BYTEA, "\\x0aFF", 6, &err), &err);
	CHECK_EQ_INT(c.offsets[2], 2);
	CHECK_EQ_INT(c.data[1], 0xff);
	cl_column_release(&c);
}

/* fuzz_schema: a schema file's column name was taken as any bytes, so a
 * name that is not UTF-8 reached Parquet and Delta schemas (which require
 * UTF-8). It is an error naming the line. */
TEST(fuzz_regress_schema_name_utf8)
{
	cl_error err = {0};
	cl_schema *s = NULL;
	CHECK(cl_schema_parse(&s, "id int64\nna\xffme string\n", &err) == CL_EINVAL);
	CHECK(strstr(err.message, "line 2") != NULL);
	CHECK(strstr(err.message, "UTF-8") != NULL);
	CHECK(cl_schema_parse(&s, "\"\xc3\xa9t\xc3\xa9\" date", &err) == 0);
	CHECK_STR(s->fields[0].name, "\xc3\xa9t\xc3\xa9");
	cl_schema_free(s);
}

/* A data file whose statistics give a timestamp maximum at the very end
 * of int64 (found by fuzz_table_stats): the scan's "maximum plus one unit"
 * overflowed (UB); now such a maximum bounds nothing, the file is not
 * skipped (the scan then fails on the missing file, naming it). */
TEST(fuzz_regress_stats_timestamp_max_at_end_of_time)
{
	char root[600], path[700];
	snprintf(root, sizeof root, "%s/ts_max", cl_test_tmpdir());
	snprintf(path, sizeof path, "%s/_delta_log", root);
	CHECK(mkdir(root, 0755) == 0 && mkdir(path, 0755) == 0);
	snprintf(path, sizeof path, "%s/_delta_log/00000000000000000000.json", root);
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	fputs("{\"protocol\":{\"minReaderVersion\":1,\"minWriterVersion\":2}}\n"
	      "{\"metaData\":{\"id\":\"x\",\"format\":{\"provider\":\"parquet\",\"options\":{}},"
	      "\"schemaString\":\"{\\\"type\\\":\\\"struct\\\",\\\"fields\\\":["
	      "{\\\"name\\\":\\\"ts\\\",\\\"type\\\":\\\"timestamp\\\",\\\"nullable\\\":true,"
	      "\\\"metadata\\\":{}}]}\",\"partitionColumns\":[],\"configuration\":{}}}\n"
	      "{\"add\":{\"path\":\"f.parquet\",\"partitionValues\":{},\"size\":100,"
	      "\"modificationTime\":0,\"dataChange\":true,\"stats\":\"{\\\"numRecords\\\":1,"
	      "\\\"minValues\\\":{\\\"ts\\\":\\\"2020-01-01T00:00:00Z\\\"},"
	      "\\\"maxValues\\\":{\\\"ts\\\":\\\"294247-01-10T04:00:54.775807Z\\\"},"
	      "\\\"nullCount\\\":{\\\"ts\\\":0}}\"}}\n",
	      f);
	fclose(f);
	cl_error err = {0};
	cl_table *t = NULL;
	cl_snapshot *s = NULL;
	CHECK_OK(cl_table_open(&t, root, &err), &err);
	CHECK_OK(cl_table_snapshot(&s, t, NULL, &err), &err);
	static const cl_parquet_predicate gt = {"ts", CL_PQ_GT, "2021-06-01 00:00:00+00"};
	cl_table_scan_options o = {0};
	o.filters = &gt;
	o.nfilters = 1;
	cl_table_scan *sc = NULL;
	CHECK_OK(cl_table_scan_open(&sc, t, s, &o, &err), &err);
	cl_batch *b = NULL;
	int rc = cl_table_scan_next(sc, &b, &err);
	int64_t nread = 0, nskipped = 0;
	cl_table_scan_counts(sc, &nread, &nskipped);
	CHECK(rc != 0 && strstr(err.message, "f.parquet") != NULL);
	CHECK_EQ_INT(nskipped, 0);
	cl_table_scan_free(sc);
	cl_snapshot_free(s);
	cl_table_free(t);
}
