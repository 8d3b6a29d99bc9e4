/* test_table_reader.c — a lake table as a cl_reader: live rows only (not
 * the files a commit removed), time travel, projection, where a batch came
 * from; and the dataset layer refusing a table's folder. */
#include "test.h"

#include "changelake/dataset.h"
#include "changelake/table.h"

#include <stdlib.h>
#include <sys/stat.h>

/* A table partitioned by region, keyed by id, 4 buckets: version 1 holds
 * ids 0..n-1 with v = id; version 2 sets v = 1000 + id for ids < 10 and
 * deletes ids 10..14. */
static int make_table(const char *root, int n, cl_error *err)
{
	cl_table *t = NULL;
	cl_schema *s = NULL, *cs = NULL;
	cl_table_create_options o;
	cl_table_create_options_init(&o);
	const char *part[] = {"region"};
	const char *key = "id";
	o.partition_by = part;
	o.npartition_by = 1;
	o.keys = &key;
	o.nkeys = 1;
	o.buckets = 4;
	int rc = cl_table_open(&t, root, err);
	rc = rc ? rc : cl_schema_parse(&s, "id int64 not null\nname string\nv int32\nregion string", err);
	rc = rc ? rc : cl_table_create(t, s, &o, err);
	rc = rc ? rc : cl_schema_parse(&cs, "action int8\nid int64\nname string\nv int32\nregion string", err);
	for (int version = 1; !rc && version <= 2; version++) {
		cl_batch *b = NULL;
		rc = cl_batch_create(&b, cs, n, err);
		for (int i = 0; !rc && i < n; i++) {
			if (version == 2 && i >= 15)
				break;
			char name[32];
			int k = snprintf(name, sizeof name, "name-%d", i);
			bool del = version == 2 && i >= 10;
			cl_column_append_i64(&b->cols[0], del ? 'D' : 'I', err);
			cl_column_append_i64(&b->cols[1], i, err);
			cl_column_append_bytes(&b->cols[2], name, (size_t)k, err);
			cl_column_append_i64(&b->cols[3], version == 2 ? 1000 + i : i, err);
			cl_column_append_bytes(&b->cols[4], i % 3 ? "north" : "south", 5, err);
			b->nrows++;
		}
		const cl_batch *bs[1] = {b};
		rc = rc ? rc : cl_table_apply_changes(t, cs, bs, 1, "WRITE", NULL, 0, NULL, NULL, err);
		cl_batch_free(b);
	}
	cl_schema_free(s);
	cl_schema_free(cs);
	cl_table_free(t);
	return rc;
}

/* Read every batch: rows, the sum of column `vcol` and the last source. */
static int read_all(cl_reader *r, int vcol, int64_t *rows, int64_t *sum, char *source,
		    size_t n, cl_error *err)
{
	*rows = *sum = 0;
	cl_batch *b;
	int rc;
	while (!(rc = cl_reader_next(r, &b, err)) && b) {
		for (int64_t i = 0; i < b->nrows; i++)
			*sum += cl_column_get_i64(&b->cols[vcol], i);
		*rows += b->nrows;
		int64_t first = -1;
		const char *src = cl_table_reader_source(r, &first);
		if (!src || first < 1)
			return cl_error_set(err, CL_EINTERNAL, "no source for a batch");
		snprintf(source, n, "%s", src);
	}
	return rc;
}

TEST(table_reader_reads_live_rows_at_each_version)
{
	cl_error err = {0};
	char root[600], ref[700], src[1024];
	snprintf(root, sizeof root, "%s/t", cl_test_tmpdir());
	const int n = 200;
	CHECK_OK(make_table(root, n, &err), &err);
	CHECK(cl_table_is_table(root));
	snprintf(ref, sizeof ref, "%s@1", root);
	CHECK(cl_table_is_table(ref));
	CHECK(!cl_table_is_table(cl_test_tmpdir()));

	cl_reader *r = NULL;
	int64_t rows, sum;
	/* latest: ids 10..14 deleted, ids < 10 changed */
	CHECK_OK(cl_table_reader_open(&r, root, NULL, &err), &err);
	const cl_schema *s = cl_reader_schema(r);
	CHECK_EQ_INT(s->nfields, 4);
	CHECK_STR(s->fields[3].name, "region");
	CHECK_EQ_INT(cl_reader_total_rows(r), n - 5);
	CHECK_OK(read_all(r, 2, &rows, &sum, src, sizeof src, &err), &err);
	CHECK_EQ_INT(rows, n - 5);
	int64_t want = 0;
	for (int i = 0; i < n; i++)
		want += i < 10 ? 1000 + i : i < 15 ? 0 : i;
	CHECK_EQ_INT(sum, want);
	CHECK(strncmp(src, root, strlen(root)) == 0 && strstr(src, ".parquet"));
	cl_reader_free(r);

	/* version 1: everything as first written (a folder listing would also
	 * see the files version 2 removed, and read some rows twice) */
	CHECK_OK(cl_table_reader_open(&r, ref, NULL, &err), &err);
	CHECK_OK(read_all(r, 2, &rows, &sum, src, sizeof src, &err), &err);
	CHECK_EQ_INT(rows, n);
	CHECK_EQ_INT(sum, (int64_t)n * (n - 1) / 2);
	CHECK_EQ_INT(cl_snapshot_version(cl_table_reader_snapshot(r)), 1);
	cl_reader_free(r);

	/* version 0: the schema, no rows */
	snprintf(ref, sizeof ref, "%s@0", root);
	CHECK_OK(cl_table_reader_open(&r, ref, NULL, &err), &err);
	CHECK_OK(read_all(r, 2, &rows, &sum, src, sizeof src, &err), &err);
	CHECK_EQ_INT(rows, 0);
	cl_reader_free(r);

	/* a version that does not exist */
	snprintf(ref, sizeof ref, "%s@7", root);
	CHECK(cl_table_reader_open(&r, ref, NULL, &err) == CL_ENOTFOUND);
	CHECK(r == NULL && strstr(err.message, "version 7"));
}

TEST(table_reader_projects_columns)
{
	cl_error err = {0};
	char root[600], src[1024];
	snprintf(root, sizeof root, "%s/t", cl_test_tmpdir());
	CHECK_OK(make_table(root, 60, &err), &err);
	cl_read_options o;
	cl_read_options_init(&o);
	const char *cols[] = {"region", "v"};
	o.columns = cols;
	o.ncolumns = 2;
	o.batch_rows = 7;
	cl_reader *r = NULL;
	CHECK_OK(cl_table_reader_open(&r, root, &o, &err), &err);
	const cl_schema *s = cl_reader_schema(r);
	CHECK_EQ_INT(s->nfields, 2);
	CHECK_STR(s->fields[0].name, "region");
	CHECK_STR(s->fields[1].name, "v");
	int64_t rows, sum;
	CHECK_OK(read_all(r, 1, &rows, &sum, src, sizeof src, &err), &err);
	CHECK_EQ_INT(rows, 55);
	cl_reader_free(r);

	/* partition columns only: the rows are still counted */
	const char *only[] = {"region"};
	o.columns = only;
	o.ncolumns = 1;
	CHECK_OK(cl_table_reader_open(&r, root, &o, &err), &err);
	cl_batch *b;
	int64_t north = 0, total = 0;
	while (cl_reader_next(r, &b, &err) == 0 && b) {
		CHECK_EQ_INT(b->ncols, 1);
		for (int64_t i = 0; i < b->nrows; i++) {
			size_t len;
			const uint8_t *p = cl_column_get_bytes(&b->cols[0], i, &len);
			north += len == 5 && !memcmp(p, "north", 5);
		}
		total += b->nrows;
	}
	CHECK_EQ_INT(total, 55);
	int64_t want = 0;
	for (int i = 0; i < 60; i++)
		want += (i < 10 || i >= 15) && i % 3;
	CHECK_EQ_INT(north, want);
	cl_reader_free(r);

	const char *bad[] = {"v", "nope"};
	o.columns = bad;
	o.ncolumns = 2;
	CHECK(cl_table_reader_open(&r, root, &o, &err) == CL_ENOTFOUND);
	CHECK(strstr(err.message, "'nope'") != NULL);
}

TEST(dataset_refuses_lake_table_folders)
{
	cl_error err = {0};
	char root[700], part[800], parent[600];
	snprintf(parent, sizeof parent, "%s/lake", cl_test_tmpdir());
	snprintf(root, sizeof root, "%s/t", parent);
	CHECK(mkdir(parent, 0755) == 0);
	CHECK_OK(make_table(root, 30, &err), &err);
	snprintf(part, sizeof part, "%s/region=north", root);
	const char *paths[] = {root, parent, part};
	for (int i = 0; i < 3; i++) {
		cl_dataset *ds = NULL;
		cl_error e = {0};
		CHECK(cl_dataset_open(&ds, paths[i], NULL, &e) == CL_EINVAL);
		CHECK(ds == NULL);
		CHECK(strstr(e.message, "lake table") != NULL);
		CHECK(strstr(e.message, root) != NULL);
	}
	/* one data file of the table is still a file */
	cl_reader *r = NULL;
	CHECK_OK(cl_table_reader_open(&r, root, NULL, &err), &err);
	cl_batch *b;
	CHECK_OK(cl_reader_next(r, &b, &err), &err);
	CHECK(b != NULL);
	const char *file = cl_table_reader_source(r, NULL);
	cl_dataset *ds = NULL;
	CHECK_OK(cl_dataset_open(&ds, file, NULL, &err), &err);
	cl_dataset_free(ds);
	cl_reader_free(r);
}
