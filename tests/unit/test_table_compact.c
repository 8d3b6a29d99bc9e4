/* test_table_compact.c — compaction rewrites small files per partition and
 * bucket without changing the rows. */
#include "test.h"

#include "changelake/table.h"

static int append(cl_table *t, int first, int n, cl_error *err)
{
	cl_schema *sc = NULL;
	cl_batch *b = NULL;
	int rc = cl_schema_parse(&sc, "action int8\nid int64\np string\nv int64", err);
	rc = rc ? rc : cl_batch_create(&b, sc, n, err);
	for (int i = first; !rc && i < first + n; i++) {
		cl_column_append_i64(&b->cols[0], 'I', err);
		cl_column_append_i64(&b->cols[1], i, err);
		cl_column_append_bytes(&b->cols[2], i % 2 ? "a" : "b", 1, err);
		cl_column_append_i64(&b->cols[3], i * 3, err);
		b->nrows++;
	}
	const cl_batch *bs[1] = {b};
	rc = rc ? rc : cl_table_apply_changes(t, sc, bs, 1, "WRITE", NULL, 0, NULL, NULL, err);
	cl_batch_free(b);
	cl_schema_free(sc);
	return rc;
}

static int64_t sum_v(cl_table *t, int64_t *rows, cl_error *err)
{
	cl_snapshot *s;
	if (cl_table_snapshot(&s, t, NULL, err))
		return -1;
	cl_table_scan *sc;
	int64_t sum = 0;
	*rows = 0;
	if (cl_table_scan_open(&sc, t, s, NULL, err) == 0) {
		cl_batch *b;
		while (cl_table_scan_next(sc, &b, err) == 0 && b)
			for (int64_t r = 0; r < b->nrows; r++, (*rows)++)
				sum += cl_column_get_i64(&b->cols[0], r) * 1000 + cl_column_get_i64(&b->cols[2], r);
		cl_table_scan_free(sc);
	}
	cl_snapshot_free(s);
	return sum;
}

TEST(table_compact_small_files)
{
	cl_error err = {0};
	char root[600];
	snprintf(root, sizeof root, "%s/t", cl_test_tmpdir());
	cl_table *t;
	CHECK_OK(cl_table_open(&t, root, &err), &err);
	cl_schema *s;
	CHECK_OK(cl_schema_parse(&s, "id int64 not null\np string\nv int64", &err), &err);
	cl_table_create_options o;
	cl_table_create_options_init(&o);
	const char *part[] = {"p"}, *key = "id";
	o.partition_by = part;
	o.npartition_by = 1;
	o.keys = &key;
	o.nkeys = 1;
	o.buckets = 2;
	CHECK_OK(cl_table_create(t, s, &o, &err), &err);
	cl_schema_free(s);
	for (int k = 0; k < 5; k++)
		CHECK_OK(append(t, k * 20, 20, &err), &err);
	int64_t rows0, sum0 = sum_v(t, &rows0, &err);
	CHECK_EQ_INT(rows0, 100);
	cl_snapshot *before;
	CHECK_OK(cl_table_snapshot(&before, t, NULL, &err), &err);
	CHECK_EQ_INT(cl_snapshot_nfiles(before), 5 * 4); /* 2 partitions x 2 buckets per append */
	cl_snapshot_free(before);
	cl_compact_result r;
	int64_t v;
	CHECK_OK(cl_table_compact(t, 0, &r, &v, &err), &err);
	CHECK_EQ_INT(v, 6);
	CHECK_EQ_INT(r.groups, 4);
	CHECK_EQ_INT(r.files_removed, 20);
	CHECK_EQ_INT(r.files_added, 4);
	int64_t rows1, sum1 = sum_v(t, &rows1, &err);
	CHECK_EQ_INT(rows1, rows0);
	CHECK_EQ_INT(sum1, sum0);
	uint8_t *text;
	size_t n;
	CHECK_OK(cl_store_get(cl_table_store(t), "_delta_log/00000000000000000006.json", &text, &n,
			      &err), &err);
	CHECK(strstr((char *)text, "\"operation\":\"OPTIMIZE\""));
	CHECK(strstr((char *)text, "\"dataChange\":false"));
	CHECK(!strstr((char *)text, "\"dataChange\":true"));
	cl_free(text);
	/* each file holds one partition and one bucket */
	cl_snapshot *after;
	CHECK_OK(cl_table_snapshot(&after, t, NULL, &err), &err);
	CHECK_EQ_INT(cl_snapshot_nfiles(after), 4);
	CHECK_EQ_INT(cl_snapshot_num_records(after), 100);
	cl_snapshot_free(after);
	/* nothing left to do */
	CHECK_OK(cl_table_compact(t, 0, &r, &v, &err), &err);
	CHECK_EQ_INT(v, -1);
	CHECK_EQ_INT(r.groups, 0);
	/* time travel still reads the old files */
	cl_table_at at = {CL_AT_VERSION, 5, 0};
	cl_snapshot *old;
	CHECK_OK(cl_table_snapshot(&old, t, &at, &err), &err);
	CHECK_EQ_INT(cl_snapshot_nfiles(old), 20);
	cl_snapshot_free(old);
	cl_table_free(t);
}
