/* test_table_cow.c — copy-on-write upserts and deletes by key: the right
 * rows change, only files holding changed keys are rewritten. */
#include "test.h"

#include "changelake/hash.h"
#include "changelake/table.h"

static cl_table *cow_table(int n)
{
	static char root[600];
	snprintf(root, sizeof root, "%s/t", cl_test_tmpdir());
	cl_error err = {0};
	cl_table *t;
	cl_schema *s;
	if (cl_table_open(&t, root, &err) ||
	    cl_schema_parse(&s, "id int64 not null\nregion string\nv int32", &err))
		return NULL;
	cl_table_create_options o;
	cl_table_create_options_init(&o);
	const char *part[] = {"region"};
	const char *key = "id";
	o.partition_by = part;
	o.npartition_by = 1;
	o.keys = &key;
	o.nkeys = 1;
	o.buckets = 8;
	int rc = cl_table_create(t, s, &o, &err);
	cl_snapshot *snap = NULL;
	cl_table_txn *x = NULL;
	cl_table_writer *w = NULL;
	cl_batch *b = NULL;
	rc = rc ? rc : cl_table_snapshot(&snap, t, NULL, &err);
	rc = rc ? rc : cl_table_txn_begin(&x, t, snap, "WRITE", &err);
	rc = rc ? rc : cl_table_writer_open(&w, x, s, &err);
	rc = rc ? rc : cl_batch_create(&b, s, n, &err);
	for (int i = 0; !rc && i < n; i++) {
		cl_column_append_i64(&b->cols[0], i, &err);
		cl_column_append_bytes(&b->cols[1], i % 2 ? "odd" : "even", i % 2 ? 3 : 4, &err);
		cl_column_append_i64(&b->cols[2], i, &err);
	}
	if (b)
		b->nrows = n;
	rc = rc ? rc : cl_table_writer_write(w, b, &err);
	rc = rc ? rc : cl_table_writer_finish(w, &err);
	rc = rc ? rc : cl_table_txn_commit(x, NULL, &err);
	if (rc)
		printf("    %s\n", err.message);
	cl_batch_free(b);
	cl_table_writer_free(w);
	cl_table_txn_free(x);
	cl_snapshot_free(snap);
	cl_schema_free(s);
	if (rc) {
		cl_table_free(t);
		return NULL;
	}
	return t;
}

/* id -> (region, v) of the live table; v = -1 when absent. */
static int read_all(cl_table *t, int64_t n, char regions[][8], int *vals, int64_t *rows,
		    cl_error *err)
{
	cl_snapshot *s;
	int rc = cl_table_snapshot(&s, t, NULL, err);
	if (rc)
		return rc;
	for (int64_t i = 0; i < n; i++)
		vals[i] = -1;
	*rows = 0;
	cl_table_scan *sc;
	rc = cl_table_scan_open(&sc, t, s, NULL, err);
	cl_batch *b;
	while (!rc && !(rc = cl_table_scan_next(sc, &b, err)) && b)
		for (int64_t r = 0; r < b->nrows; r++) {
			int64_t id = cl_column_get_i64(&b->cols[0], r);
			(*rows)++;
			if (id < 0 || id >= n)
				continue;
			if (vals[id] != -1)
				vals[id] = -2; /* duplicate */
			else
				vals[id] = (int)cl_column_get_i64(&b->cols[2], r);
			size_t len;
			const uint8_t *p = cl_column_get_bytes(&b->cols[1], r, &len);
			snprintf(regions[id], 8, "%.*s", (int)len, (const char *)p);
		}
	cl_table_scan_free(sc);
	cl_snapshot_free(s);
	return rc;
}

static int run_cow(cl_table *t, const int64_t *up_ids, const char *const *up_regions,
		   const int *up_v, int nup, const int64_t *del_ids, int ndel,
		   cl_table_cow_stats *st, cl_error *err)
{
	cl_schema *us = NULL, *ds = NULL;
	cl_batch *ub = NULL, *db = NULL;
	cl_snapshot *s = NULL;
	cl_table_txn *x = NULL;
	int rc = cl_schema_parse(&us, "id int32\nregion string\nv int64", err);
	rc = rc ? rc : cl_schema_parse(&ds, "id int64", err);
	rc = rc ? rc : cl_batch_create(&ub, us, nup, err);
	rc = rc ? rc : cl_batch_create(&db, ds, ndel, err);
	for (int i = 0; !rc && i < nup; i++) {
		cl_column_append_i64(&ub->cols[0], up_ids[i], err);
		cl_column_append_bytes(&ub->cols[1], up_regions[i], strlen(up_regions[i]), err);
		cl_column_append_i64(&ub->cols[2], up_v[i], err);
	}
	for (int i = 0; !rc && i < ndel; i++)
		cl_column_append_i64(&db->cols[0], del_ids[i], err);
	if (!rc) {
		ub->nrows = nup;
		db->nrows = ndel;
	}
	rc = rc ? rc : cl_table_snapshot(&s, t, NULL, err);
	rc = rc ? rc : cl_table_txn_begin(&x, t, s, "MERGE", err);
	const cl_batch *ups[1] = {ub}, *dels[1] = {db};
	rc = rc ? rc : cl_table_cow(x, us, ups, nup ? 1 : 0, ds, dels, ndel ? 1 : 0, st, err);
	rc = rc ? rc : cl_table_txn_commit(x, NULL, err);
	cl_table_txn_free(x);
	cl_snapshot_free(s);
	cl_batch_free(ub);
	cl_batch_free(db);
	cl_schema_free(us);
	cl_schema_free(ds);
	return rc;
}

TEST(table_cow_upsert_delete_rewrites_only_touched_files)
{
	enum { N = 400 };
	cl_error err = {0};
	cl_table *t = cow_table(N);
	CHECK(t);
	cl_snapshot *before;
	CHECK_OK(cl_table_snapshot(&before, t, NULL, &err), &err);
	size_t nbefore = cl_snapshot_nfiles(before);
	CHECK_EQ_INT(nbefore, 16); /* 2 regions x 8 buckets */
	int64_t up[] = {5, 1000, 10};
	const char *reg[] = {"odd", "new", "odd"}; /* 10 moves from even to odd */
	int vals[] = {555, 1, 1010};
	int64_t del[] = {7, 5000};
	cl_table_cow_stats st;
	CHECK_OK(run_cow(t, up, reg, vals, 3, del, 2, &st, &err), &err);
	CHECK_EQ_INT(st.rows_upserted, 3);
	CHECK_EQ_INT(st.rows_deleted, 1);
	CHECK_EQ_INT(st.deletes_missing, 1);
	/* keys 5, 7, 10 live in files of their buckets only */
	cl_snapshot *after;
	CHECK_OK(cl_table_snapshot(&after, t, NULL, &err), &err);
	CHECK(st.files_rewritten >= 2 && st.files_rewritten <= 3);
	int kept = 0;
	for (size_t i = 0; i < nbefore; i++) {
		const cl_table_file *f = cl_snapshot_file(before, i);
		bool live = false;
		for (size_t j = 0; j < cl_snapshot_nfiles(after); j++)
			if (!strcmp(cl_snapshot_file(after, j)->path, f->path))
				live = true;
		kept += live;
	}
	CHECK_EQ_INT(kept, (int)nbefore - st.files_rewritten);
	CHECK_EQ_INT(cl_snapshot_num_records(after), N - 1 + 1);
	cl_snapshot_free(after);
	cl_snapshot_free(before);
	static char regions[N][8];
	static int v[N];
	int64_t rows;
	CHECK_OK(read_all(t, N, regions, v, &rows, &err), &err);
	CHECK_EQ_INT(rows, N);
	CHECK_EQ_INT(v[5], 555);
	CHECK_EQ_INT(v[7], -1);
	CHECK_EQ_INT(v[10], 1010);
	CHECK_STR(regions[10], "odd");
	for (int i = 0; i < N; i++)
		if (i != 5 && i != 7 && i != 10)
			CHECK_EQ_INT(v[i], i);
	/* history records the metrics */
	cl_table_commit *h;
	size_t n;
	CHECK_OK(cl_table_history(&h, &n, t, &err), &err);
	CHECK(strstr(h[n - 1].commit_info_json, "\"numTargetRowsDeleted\":\"1\""));
	cl_table_history_free(h, n);
	cl_table_free(t);
}

TEST(table_cow_duplicate_key_and_missing_key_column)
{
	cl_error err = {0};
	cl_table *t = cow_table(20);
	CHECK(t);
	int64_t up[] = {3, 3};
	const char *reg[] = {"odd", "odd"};
	int vals[] = {1, 2};
	cl_table_cow_stats st;
	CHECK_EQ_INT(run_cow(t, up, reg, vals, 2, NULL, 0, &st, &err), CL_EDUPKEY);
	int64_t del[] = {3};
	CHECK_EQ_INT(run_cow(t, up, reg, vals, 1, del, 1, &st, &err), CL_EDUPKEY);
	int64_t v;
	CHECK_OK(cl_table_latest_version(t, &v, &err), &err);
	CHECK_EQ_INT(v, 1); /* nothing committed */
	/* a change that touches nothing existing rewrites nothing */
	int64_t up2[] = {100};
	CHECK_OK(run_cow(t, up2, reg, vals, 1, NULL, 0, &st, &err), &err);
	CHECK_EQ_INT(st.files_rewritten, 0);
	CHECK_EQ_INT(st.files_added, 1);
	cl_table_free(t);
}

TEST(table_cow_streamed_changes_exactly_once)
{
	cl_error err = {0};
	cl_table *t = cow_table(50);
	CHECK(t);
	cl_schema *sc;
	CHECK_OK(cl_schema_parse(&sc, "action int8\nid int64\nregion string\nv int32", &err), &err);
	cl_table_changes *c;
	CHECK_OK(cl_table_changes_open(&c, t, sc, &err), &err);
	for (int k = 0; k < 2; k++) {
		cl_batch *b;
		CHECK_OK(cl_batch_create(&b, sc, 4, &err), &err);
		cl_column_append_i64(&b->cols[0], k ? 'D' : 'C', &err);
		cl_column_append_i64(&b->cols[1], 10 + k, &err);
		cl_column_append_bytes(&b->cols[2], "even", 4, &err);
		cl_column_append_i64(&b->cols[3], -1, &err);
		b->nrows = 1;
		CHECK_OK(cl_table_changes_add(c, b, &err), &err);
		cl_batch_free(b); /* the changes keep their own copy */
	}
	cl_table_cow_stats st;
	int64_t v;
	CHECK_OK(cl_table_changes_commit(c, "APPLY", "job", 7, &st, &v, &err), &err);
	CHECK_EQ_INT(v, 2);
	CHECK_EQ_INT(st.rows_upserted, 1);
	CHECK_EQ_INT(st.rows_deleted, 1);
	/* the same change set again: the watermark says it is in */
	CHECK_OK(cl_table_changes_commit(c, "APPLY", "job", 7, &st, &v, &err), &err);
	CHECK_EQ_INT(v, -1);
	cl_table_changes_free(c);
	cl_schema_free(sc);
	cl_snapshot *s;
	CHECK_OK(cl_table_snapshot(&s, t, NULL, &err), &err);
	CHECK_EQ_INT(cl_snapshot_txn_version(s, "job"), 7);
	CHECK_EQ_INT(cl_snapshot_num_records(s), 49);
	cl_schema *ws;
	CHECK_OK(cl_snapshot_write_schema(&ws, s, &err), &err);
	CHECK_EQ_INT(ws->nfields, 3);
	cl_schema_free(ws);
	cl_snapshot_free(s);
	cl_table_free(t);
}
