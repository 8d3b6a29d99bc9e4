/* test_table_layout.c — partition folder escaping, transforms, buckets and
 * file names. */
#include "test.h"

#include "changelake/storage.h"
#include "table/layout.h"

static const char *dir_of(const char *col, const char *value)
{
	static char out[256];
	cl_buf b = {0};
	cl_table_kv kv = {col, value};
	cl__layout_partition_dir(&b, &kv, 1);
	snprintf(out, sizeof out, "%s", b.data ? (char *)b.data : "");
	cl_buf_release(&b);
	return out;
}

TEST(table_layout_escaping_never_leaves_the_folder)
{
	CHECK_STR(dir_of("p", "a/b"), "p=a%2Fb/");
	CHECK_STR(dir_of("p", "../x"), "p=.%2E%2Fx/");
	CHECK_STR(dir_of("p", ".."), "p=.%2E/");
	CHECK_STR(dir_of("p", "x y%z:1=2"), "p=x%20y%25z%3A1%3D2/");
	CHECK_STR(dir_of("p", NULL), "p=__HIVE_DEFAULT_PARTITION__/");
	CHECK_STR(dir_of("p", ""), "p=__HIVE_DEFAULT_PARTITION__/");
	CHECK_STR(dir_of("_hidden", "v"), "%5Fhidden=v/");
	CHECK_STR(dir_of("p", "\xc3\xbc\n"), "p=\xc3\xbc%0A/");
	/* whatever the value, the folder is one valid key segment */
	const char *nasty[] = {"/", "//", "../../etc", ".", "a/../b", "\\..\\", "%2F", "=", "#?*"};
	for (size_t i = 0; i < sizeof nasty / sizeof nasty[0]; i++) {
		const char *d = dir_of("p", nasty[i]);
		CHECK(strchr(d, '/') == d + strlen(d) - 1);
		char key[300];
		snprintf(key, sizeof key, "%sf.parquet", d);
		CHECK(cl_store_key_valid(key));
	}
}

TEST(table_layout_transforms)
{
	cl_error err = {0};
	cl_column c;
	CHECK_OK(cl_column_init(&c, cl_type_timestamp(CL_UNIT_MS, true), 4, &err), &err);
	cl_column_append_i64(&c, 1709260496789LL, &err); /* 2024-03-01 02:34:56.789 */
	cl_column_append_i64(&c, -1, &err);              /* 1969-12-31 23:59:59.999 */
	cl_column_append_null(&c, &err);
	struct { cl__transform xf; int64_t row; const char *want; } cases[] = {
		{CL__XF_YEAR, 0, "2024"},       {CL__XF_MONTH, 0, "2024-03"},
		{CL__XF_DAY, 0, "2024-03-01"},  {CL__XF_HOUR, 0, "2024-03-01-02"},
		{CL__XF_IDENTITY, 0, "2024-03-01T02:34:56.789000Z"},
		{CL__XF_DAY, 1, "1969-12-31"},  {CL__XF_HOUR, 1, "1969-12-31-23"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		cl_buf b = {0};
		bool null;
		CHECK_OK(cl__layout_partition_text(&b, &null, &c, cases[i].row, cases[i].xf, &err), &err);
		CHECK(!null);
		CHECK_STR((char *)b.data, cases[i].want);
		cl_buf_release(&b);
	}
	cl_buf b = {0};
	bool null;
	CHECK_OK(cl__layout_partition_text(&b, &null, &c, 2, CL__XF_DAY, &err), &err);
	CHECK(null);
	cl_buf_release(&b);
	cl_column_release(&c);
	char *src;
	cl__transform xf;
	CHECK_OK(cl__layout_parse_partition("ts:hour", &src, &xf, &err), &err);
	CHECK_STR(src, "ts");
	CHECK(xf == CL__XF_HOUR);
	cl_free(src);
	CHECK_EQ_INT(cl__layout_parse_partition("ts:week", &src, &xf, &err), CL_EINVAL);
	CHECK(!cl__transform_applies(CL__XF_HOUR, cl_type_make(CL_DATE)));
	CHECK(cl__transform_applies(CL__XF_MONTH, cl_type_make(CL_DATE)));
	CHECK(!cl__transform_applies(CL__XF_DAY, cl_type_make(CL_STRING)));
}

TEST(table_layout_file_names_buckets_scopes)
{
	cl_buf b = {0};
	CHECK_OK(cl__layout_file_key(&b, "p=1/", 7, "u-u-i-d", 3, "snappy"), &(cl_error){0});
	CHECK_STR((char *)b.data, "p=1/part-00007-u-u-i-d_00003.c000.snappy.parquet");
	CHECK_EQ_INT(cl__layout_bucket_of_key((char *)b.data), 3);
	cl_buf s = {0};
	cl__layout_scope_of_key(&s, (char *)b.data);
	CHECK_STR((char *)s.data, "p=1/#3");
	cl_buf_clear(&s);
	cl__layout_scope(&s, "p=1/", 3);
	CHECK_STR((char *)s.data, "p=1/#3");
	cl_buf_clear(&b);
	cl_buf_clear(&s);
	CHECK_OK(cl__layout_file_key(&b, "", 0, "abc", -1, "snappy"), &(cl_error){0});
	CHECK_STR((char *)b.data, "part-00000-abc.c000.snappy.parquet");
	CHECK_EQ_INT(cl__layout_bucket_of_key((char *)b.data), -1);
	cl__layout_scope_of_key(&s, (char *)b.data);
	CHECK_STR((char *)s.data, "#");
	/* Spark's names without buckets */
	CHECK_EQ_INT(cl__layout_bucket_of_key("part-00001-9bf4b8f8-1b95-411b-bf10-28dc03aa9d2f-c000.snappy.parquet"), -1);
	cl_buf_release(&b);
	cl_buf_release(&s);
}
