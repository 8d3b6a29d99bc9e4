/* test_pg_export.c — the pure parts of the PostgreSQL export: type mapping,
 * COPY text escapes, value conversion and the row decoder. */
#include "test.h"

#include "core/value_text.h"
#include "sink/pg_export_impl.h"

#include <math.h>

/* typmod of numeric(p,s) as PostgreSQL stores it (s may be negative). */
static int32_t numeric_typmod(int p, int s)
{
	return ((p << 16) | (s & 0x7ff)) + 4;
}

TEST(pg_export_type_mapping)
{
	cl_type t;
	cl__pg_kind k;
	char buf[48];
	static const struct {
		uint32_t oid;
		int32_t typmod;
		const char *type;
		cl__pg_kind kind;
	} cases[] = {
		{21, -1, "int16", CL__PG_INT16},
		{23, -1, "int32", CL__PG_INT32},
		{20, -1, "int64", CL__PG_INT64},
		{700, -1, "float32", CL__PG_FLOAT32},
		{701, -1, "float64", CL__PG_FLOAT64},
		{16, -1, "bool", CL__PG_BOOL},
		{17, -1, "binary", CL__PG_BYTEA},
		{1082, -1, "date", CL__PG_DATE},
		{1083, -1, "time(us)", CL__PG_TIME},
		{1114, 3, "timestamp(us)", CL__PG_TIMESTAMP},
		{1184, -1, "timestamp(us,utc)", CL__PG_TIMESTAMPTZ},
		{25, -1, "string", CL__PG_TEXT},    /* text */
		{1043, 24, "string", CL__PG_TEXT},  /* varchar(20) */
		{2950, -1, "string", CL__PG_TEXT},  /* uuid */
		{3802, -1, "string", CL__PG_TEXT},  /* jsonb */
		{1007, -1, "string", CL__PG_TEXT},  /* int4[] */
		{1186, -1, "string", CL__PG_TEXT},  /* interval */
		{1266, -1, "string", CL__PG_TEXT},  /* timetz */
		{99999, -1, "string", CL__PG_TEXT}, /* an enum or any other type */
		{1700, -1, "string", CL__PG_TEXT},  /* numeric without typmod */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		cl__pg_map_type(cases[i].oid, cases[i].typmod, &t, &k);
		CHECK_STR(cl_type_format(buf, sizeof buf, t), cases[i].type);
		CHECK_EQ_INT(k, cases[i].kind);
	}
	cl__pg_map_type(1700, numeric_typmod(12, 3), &t, &k);
	CHECK_STR(cl_type_format(buf, sizeof buf, t), "decimal(12,3)");
	CHECK_EQ_INT(k, CL__PG_DECIMAL);
	cl__pg_map_type(1700, numeric_typmod(38, 0), &t, &k);
	CHECK_STR(cl_type_format(buf, sizeof buf, t), "decimal(38,0)");
	/* too wide, negative scale, scale above precision (PostgreSQL 15) */
	cl__pg_map_type(1700, numeric_typmod(39, 2), &t, &k);
	CHECK_EQ_INT(k, CL__PG_TEXT);
	cl__pg_map_type(1700, numeric_typmod(5, -2), &t, &k);
	CHECK_EQ_INT(k, CL__PG_TEXT);
	cl__pg_map_type(1700, numeric_typmod(3, 5), &t, &k);
	CHECK_EQ_INT(k, CL__PG_TEXT);
}

static const char *unesc(cl_buf *b, const char *s)
{
	cl_buf_clear(b);
	if (cl__pg_copy_unescape(b, s, strlen(s)))
		return NULL;
	return (const char *)b->data;
}

TEST(pg_export_copy_unescape)
{
	cl_buf b = {0};
	CHECK_STR(unesc(&b, "plain"), "plain");
	CHECK_STR(unesc(&b, "a\\tb\\nc\\rd\\\\e"), "a\tb\nc\rd\\e");
	CHECK_STR(unesc(&b, "\\b\\f\\v"), "\b\f\v");
	CHECK_STR(unesc(&b, "\\101\\60\\7x"), "A0\007x");     /* octal, 1-3 digits */
	CHECK_STR(unesc(&b, "\\1018"), "A8");                 /* at most 3 digits */
	CHECK_STR(unesc(&b, "\\x41\\x4g\\xz"), "A\004gxz");   /* hex, 1-2 digits */
	CHECK_STR(unesc(&b, "\\N"), "N");        /* only a whole field \N is NULL */
	CHECK_STR(unesc(&b, "\\q\\."), "q.");    /* other characters stand for themselves */
	CHECK_STR(unesc(&b, "end\\"), "end\\");  /* a lone final backslash */
	/* octal above 255 keeps the low 8 bits, and NUL bytes survive */
	cl_buf_clear(&b);
	CHECK(cl__pg_copy_unescape(&b, "\\777\\0z", 7) == 0);
	CHECK_EQ_INT(b.len, 3);
	CHECK_EQ_INT(b.data[0], 0xff);
	CHECK_EQ_INT(b.data[1], 0);
	CHECK_EQ_INT(b.data[2], 'z');
	cl_buf_release(&b);
}

/* Convert `text` as kind into a fresh column of the mapped type. */
static int conv(cl_column *c, uint32_t oid, int32_t typmod, const char *text, cl_error *err)
{
	cl_type t;
	cl__pg_kind k;
	cl__pg_map_type(oid, typmod, &t, &k);
	cl_column_release(c);
	if (cl_column_init(c, t, 4, err))
		return -100;
	return cl__pg_value_append(c, k, text, strlen(text), err);
}

TEST(pg_export_values)
{
	cl_column c = {0};
	cl_error err = {0};
	char *txt = NULL;
	size_t n;
#define AS_TEXT(expect)                                                   \
	do {                                                              \
		CHECK(cl_value_text(&c, 0, &txt, &n, &err) == 0);         \
		CHECK_STR(txt, expect);                                   \
		cl_free(txt);                                             \
		txt = NULL;                                               \
	} while (0)
	CHECK_OK(conv(&c, 21, -1, "-32768", &err), &err);
	CHECK_EQ_INT(cl_column_get_i64(&c, 0), -32768);
	CHECK(conv(&c, 21, -1, "32768", &err) == CL_ETYPE);
	CHECK(strstr(err.message, "out of range for int16"));
	CHECK(conv(&c, 23, -1, "12a", &err) == CL_ETYPE);
	CHECK(strstr(err.message, "'12a' is not a valid int32"));
	CHECK_OK(conv(&c, 20, -1, "-9223372036854775808", &err), &err);
	CHECK(cl_column_get_i64(&c, 0) == INT64_MIN);
	CHECK_OK(conv(&c, 16, -1, "t", &err), &err);
	CHECK(cl_column_get_bool(&c, 0));
	CHECK(conv(&c, 16, -1, "true", &err) == CL_ETYPE);
	/* floats: exact, and NaN / Infinity as the IEEE values */
	CHECK_OK(conv(&c, 700, -1, "3.14", &err), &err);
	CHECK(((float *)c.values)[0] == 3.14f);
	CHECK_OK(conv(&c, 701, -1, "2.718281828459045", &err), &err);
	CHECK(cl_column_get_f64(&c, 0) == 2.718281828459045);
	CHECK_OK(conv(&c, 701, -1, "NaN", &err), &err);
	CHECK(isnan(cl_column_get_f64(&c, 0)));
	CHECK_OK(conv(&c, 700, -1, "-Infinity", &err), &err);
	CHECK(isinf(cl_column_get_f64(&c, 0)) && cl_column_get_f64(&c, 0) < 0);
	CHECK(conv(&c, 701, -1, "0x10", &err) == CL_ETYPE);
	CHECK(conv(&c, 701, -1, " 1", &err) == CL_ETYPE);
	/* numeric(12,3) */
	CHECK_OK(conv(&c, 1700, numeric_typmod(12, 3), "-12345.678", &err), &err);
	AS_TEXT("-12345.678");
	CHECK(conv(&c, 1700, numeric_typmod(12, 3), "NaN", &err) == CL_ETYPE);
	CHECK(strstr(err.message, "no decimal(12,3) equivalent"));
	CHECK(conv(&c, 1700, numeric_typmod(4, 1), "12345.6", &err) == CL_ETYPE);
	/* dates, with BC and the proleptic calendar; infinity refused */
	CHECK_OK(conv(&c, 1082, -1, "2024-02-29", &err), &err);
	AS_TEXT("2024-02-29");
	CHECK_OK(conv(&c, 1082, -1, "1970-01-01", &err), &err);
	CHECK_EQ_INT(cl_column_get_i64(&c, 0), 0);
	CHECK_OK(conv(&c, 1082, -1, "0001-01-01 BC", &err), &err);
	CHECK_EQ_INT(cl_column_get_i64(&c, 0), cl__days_from_civil(0, 1, 1));
	CHECK_OK(conv(&c, 1082, -1, "12345-06-07", &err), &err);
	CHECK_EQ_INT(cl_column_get_i64(&c, 0), cl__days_from_civil(12345, 6, 7));
	CHECK(conv(&c, 1082, -1, "2023-02-29", &err) == CL_ETYPE);
	CHECK(conv(&c, 1082, -1, "infinity", &err) == CL_ETYPE);
	CHECK(strstr(err.message, "'infinity' has no date equivalent"));
	CHECK(conv(&c, 1082, -1, "-infinity", &err) == CL_ETYPE);
	/* time; 24:00:00 has no equivalent */
	CHECK_OK(conv(&c, 1083, -1, "23:59:59.999999", &err), &err);
	CHECK_EQ_INT(cl_column_get_i64(&c, 0), 86399999999LL);
	CHECK_OK(conv(&c, 1083, -1, "01:02:03.5", &err), &err);
	CHECK_EQ_INT(cl_column_get_i64(&c, 0), 3723500000LL);
	CHECK(conv(&c, 1083, -1, "24:00:00", &err) == CL_ETYPE);
	CHECK(strstr(err.message, "no time(us) equivalent"));
	CHECK(conv(&c, 1083, -1, "01:02:03.1234567", &err) == CL_ETYPE);
	/* timestamps, with and without the UTC offset */
	CHECK_OK(conv(&c, 1114, -1, "2024-01-01 10:00:00.123456", &err), &err);
	AS_TEXT("2024-01-01 10:00:00.123456");
	CHECK(conv(&c, 1114, -1, "2024-01-01 10:00:00+00", &err) == CL_ETYPE);
	CHECK_OK(conv(&c, 1184, -1, "1969-12-31 23:59:59.5+00", &err), &err);
	CHECK_EQ_INT(cl_column_get_i64(&c, 0), -500000);
	CHECK_OK(conv(&c, 1184, -1, "2024-06-01 12:00:00+02", &err), &err);
	AS_TEXT("2024-06-01 10:00:00+00");
	CHECK_OK(conv(&c, 1184, -1, "1900-01-01 00:00:00+00:09:21", &err), &err);
	CHECK_EQ_INT(cl_column_get_i64(&c, 0),
		     cl__days_from_civil(1900, 1, 1) * 86400000000LL - 561000000LL);
	CHECK_OK(conv(&c, 1184, -1, "0044-03-15 12:00:00+00 BC", &err), &err);
	CHECK_EQ_INT(cl_column_get_i64(&c, 0),
		     cl__days_from_civil(-43, 3, 15) * 86400000000LL + 43200000000LL);
	CHECK(conv(&c, 1184, -1, "2024-01-01 10:00:00", &err) == CL_ETYPE);
	CHECK(conv(&c, 1114, -1, "infinity", &err) == CL_ETYPE);
	CHECK(strstr(err.message, "no timestamp(us) equivalent"));
	CHECK(conv(&c, 1114, -1, "300000-01-01 00:00:00", &err) == CL_ETYPE);
	CHECK(strstr(err.message, "out of range"));
	/* bytea hex format */
	CHECK_OK(conv(&c, 17, -1, "\\x00fF10", &err), &err);
	const uint8_t *p = cl_column_get_bytes(&c, 0, &n);
	CHECK_EQ_INT(n, 3);
	CHECK(p[0] == 0 && p[1] == 0xff && p[2] == 0x10);
	CHECK_OK(conv(&c, 17, -1, "\\x", &err), &err);
	cl_column_get_bytes(&c, 0, &n);
	CHECK_EQ_INT(n, 0);
	CHECK(conv(&c, 17, -1, "\\x0", &err) == CL_ETYPE);
	CHECK(conv(&c, 17, -1, "\\x0g", &err) == CL_ETYPE);
	CHECK(conv(&c, 17, -1, "\\001", &err) == CL_ETYPE); /* escape format */
	/* text must be UTF-8 */
	CHECK_OK(conv(&c, 25, -1, "é ζ 😀", &err), &err);
	AS_TEXT("é ζ 😀");
	CHECK(conv(&c, 25, -1, "\xc3", &err) == CL_ETYPE);
	cl_column_release(&c);
#undef AS_TEXT
}

TEST(pg_export_copy_rows)
{
	cl_error err = {0};
	cl_schema *s = NULL;
	CHECK_OK(cl_schema_create(&s, &err), &err);
	static const uint32_t oids[] = {23, 25, 17, 1184};
	static const char *names[] = {"id", "note", "raw", "at"};
	cl__pg_kind kinds[4];
	for (int i = 0; i < 4; i++) {
		cl_type t;
		cl__pg_map_type(oids[i], -1, &t, &kinds[i]);
		CHECK_OK(cl_schema_add(s, names[i], t, true, &err), &err);
	}
	cl__pg_copy_decoder d;
	CHECK_OK(cl__pg_copy_decoder_init(&d, "public.t", s, kinds, &err), &err);
	static const char r1[] = "1\ttab\\there\\nnew \\\\ \"q\"\t\\\\x41ff\t2024-01-01 00:00:00+00\n";
	static const char r2[] = "2\t\\N\t\\N\t\\N\n";
	static const char r3[] = "3\t\t\\\\x\t1970-01-01 00:00:01+00"; /* no final newline */
	CHECK_OK(cl__pg_copy_row(&d, r1, sizeof r1 - 1, &err), &err);
	CHECK_OK(cl__pg_copy_row(&d, r2, sizeof r2 - 1, &err), &err);
	CHECK_OK(cl__pg_copy_row(&d, r3, sizeof r3 - 1, &err), &err);
	cl_batch *b = d.batch;
	CHECK_EQ_INT(b->nrows, 3);
	CHECK_OK(cl_batch_validate(b, &err), &err);
	size_t n;
	const uint8_t *p = cl_column_get_bytes(&b->cols[1], 0, &n);
	CHECK(n == strlen("tab\there\nnew \\ \"q\"") && !memcmp(p, "tab\there\nnew \\ \"q\"", n));
	p = cl_column_get_bytes(&b->cols[2], 0, &n);
	CHECK(n == 2 && p[0] == 0x41 && p[1] == 0xff);
	for (int c = 1; c < 4; c++)
		CHECK(cl_column_is_null(&b->cols[c], 1));
	/* row 3: the empty string is not NULL, nor is the empty bytea */
	CHECK(!cl_column_is_null(&b->cols[1], 2));
	cl_column_get_bytes(&b->cols[1], 2, &n);
	CHECK_EQ_INT(n, 0);
	CHECK(!cl_column_is_null(&b->cols[2], 2));
	CHECK_EQ_INT(cl_column_get_i64(&b->cols[3], 2), 1000000);
	/* errors name table, row and column */
	cl__pg_copy_decoder_clear(&d);
	CHECK(cl__pg_copy_row(&d, "x\ta\t\\N\t\\N\n", 10, &err) == CL_ETYPE);
	CHECK(strstr(err.message, "table public.t, row 4, column 'id': value 'x' is not a valid int32"));
	cl__pg_copy_decoder_clear(&d);
	CHECK(cl__pg_copy_row(&d, "5\ta\n", 4, &err) == CL_EFORMAT);
	CHECK(strstr(err.message, "row 5") && strstr(err.message, "fewer fields"));
	cl__pg_copy_decoder_clear(&d);
	CHECK(cl__pg_copy_row(&d, "6\ta\t\\N\t\\N\textra\n", 16, &err) == CL_EFORMAT);
	CHECK(strstr(err.message, "more fields"));
	cl__pg_copy_decoder_clear(&d);
	CHECK(cl__pg_copy_row(&d, "7\ta\t\\N\tinfinity\n", 16, &err) == CL_ETYPE);
	CHECK(strstr(err.message, "row 7, column 'at': value 'infinity' has no"));
	/* with a key, the row is also named by its key values */
	d.keys[0] = 1;
	d.keys[1] = 0;
	d.nkeys = 2;
	cl__pg_copy_decoder_clear(&d);
	static const char r8[] = "8\tk\\tey\t\\N\tnever\n";
	CHECK(cl__pg_copy_row(&d, r8, sizeof r8 - 1, &err) == CL_ETYPE);
	CHECK(strstr(err.message, "table public.t, row 8 (note=k\\tey, id=8), column 'at': "
			       "value 'never"));
	cl__pg_copy_decoder_release(&d);
	cl_schema_free(s);
}

/* Allocation failures anywhere in decoding are errors, never crashes. */
TEST(pg_export_copy_rows_alloc_failures)
{
	cl_error err = {0};
	cl_schema *s = NULL;
	CHECK_OK(cl_schema_create(&s, &err), &err);
	cl__pg_kind kinds[2];
	cl_type t;
	cl__pg_map_type(25, -1, &t, &kinds[0]);
	CHECK_OK(cl_schema_add(s, "a", t, true, &err), &err);
	cl__pg_map_type(17, -1, &t, &kinds[1]);
	CHECK_OK(cl_schema_add(s, "b", t, true, &err), &err);
	bool ok = false;
	for (long k = 0; k < 200 && !ok; k++) {
		cl__pg_copy_decoder d;
		cl_alloc_fail_after(k);
		int rc = cl__pg_copy_decoder_init(&d, "t", s, kinds, &err);
		for (int r = 0; !rc && r < 50; r++)
			rc = cl__pg_copy_row(&d, "some text\\n\t\\\\x0102\n", 20, &err);
		cl_alloc_fail_after(-1);
		if (rc)
			CHECK_EQ_INT(rc, CL_ENOMEM);
		else
			ok = d.batch->nrows == 50;
		cl__pg_copy_decoder_release(&d);
	}
	CHECK(ok);
	cl_schema_free(s);
}
