/* test_table_create_atomic.c — a table's creation and added columns are
 * part of the data commit: a failed or killed run leaves the table as it
 * was, including "did not exist"; two runs creating one table, one wins. */
#include "test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "changelake.h"
#include "changelake/dms_merge.h"
#include "changelake/table.h"

static bool has_log(const char *loc)
{
	char p[4500];
	struct stat st;
	snprintf(p, sizeof p, "%s/_delta_log", loc);
	return stat(p, &st) == 0;
}

/* Rows id = first.., n = id * mul (a value that does not fit int32 when
 * mul is large), as a batch of schema "id int64, n int64". */
static cl_batch *rows(cl_schema **sc, int first, int count, int64_t mul)
{
	cl_error err = {0};
	cl_batch *b = NULL;
	if (cl_schema_parse(sc, "id int64, n int64", &err) ||
	    cl_batch_create(&b, *sc, count, &err))
		return NULL;
	for (int i = first; i < first + count; i++) {
		cl_column_append_i64(&b->cols[0], i, &err);
		cl_column_append_i64(&b->cols[1], (int64_t)i * mul, &err);
	}
	b->nrows = count;
	return b;
}

/* Rows of the latest snapshot (-1 when there is no table). */
static int64_t count_rows(cl_table *t)
{
	cl_error err = {0};
	cl_snapshot *s = NULL;
	if (cl_table_snapshot(&s, t, NULL, &err))
		return -1;
	cl_table_scan *sc = NULL;
	cl_batch *b;
	int64_t n = 0;
	int rc = cl_table_scan_open(&sc, t, s, NULL, &err);
	while (!rc && !(rc = cl_table_scan_next(sc, &b, &err)) && b)
		n += b->nrows;
	cl_table_scan_free(sc);
	cl_snapshot_free(s);
	return rc ? -2 : n;
}

static int begin_new(cl_table_txn **x, cl_table *t, cl_error *err)
{
	cl_schema *s = NULL;
	const char *key = "id";
	cl_table_create_options o;
	cl_table_create_options_init(&o);
	o.keys = &key;
	o.nkeys = 1;
	o.buckets = 2;
	int rc = cl_schema_parse(&s, "id int64, n int32", err);
	rc = rc ? rc : cl_table_txn_begin_create(x, t, s, &o, "WRITE", err);
	cl_schema_free(s);
	return rc;
}

/* Write `count` rows from `first` through transaction x. */
static int write_some(cl_table_txn *x, int first, int count, int64_t mul, cl_error *err)
{
	cl_schema *sc = NULL;
	cl_batch *b = rows(&sc, first, count, mul);
	cl_table_writer *w = NULL;
	int rc = b ? 0 : cl_error_set(err, CL_ENOMEM, "rows");
	rc = rc ? rc : cl_table_writer_open(&w, x, sc, err);
	rc = rc ? rc : cl_table_writer_write(w, b, err);
	rc = rc ? rc : cl_table_writer_finish(w, err);
	cl_table_writer_free(w);
	cl_batch_free(b);
	cl_schema_free(sc);
	return rc;
}

/* Version 0 of a new table holds protocol, metaData and the first adds;
 * before the commit there is no table, and the writers lay out rows by
 * the pending metadata. */
TEST(table_create_txn_is_one_commit_with_data)
{
	char loc[600];
	snprintf(loc, sizeof loc, "%s/one", cl_test_tmpdir());
	cl_error err = {0};
	cl_table *t;
	CHECK_OK(cl_table_open(&t, loc, &err), &err);
	cl_table_txn *x = NULL;
	CHECK_OK(begin_new(&x, t, &err), &err);
	const cl_snapshot *view = cl_table_txn_snapshot(x);
	CHECK(view != NULL);
	CHECK_EQ_INT(cl_snapshot_version(view), -1);
	CHECK_EQ_INT(cl_snapshot_schema(view)->nfields, 2);
	CHECK_STR(cl_snapshot_config(view, CL_TABLE_CONF_BUCKETS), "2");
	CHECK_OK(write_some(x, 0, 100, 1, &err), &err);
	CHECK(!has_log(loc));
	CHECK_EQ_INT(count_rows(t), -1);
	int64_t v = -1;
	CHECK_OK(cl_table_txn_commit(x, &v, &err), &err);
	cl_table_txn_free(x);
	CHECK_EQ_INT(v, 0);
	CHECK_EQ_INT(count_rows(t), 100);
	cl_table_commit *h = NULL;
	size_t nh = 0;
	CHECK_OK(cl_table_history(&h, &nh, t, &err), &err);
	CHECK_EQ_INT(nh, 1);
	cl_table_history_free(h, nh);
	/* the commit text: protocol, metaData and adds (bucketed: 2 files) */
	uint8_t *text;
	size_t n;
	CHECK_OK(cl_store_get(cl_table_store(t), "_delta_log/00000000000000000000.json", &text,
			      &n, &err), &err);
	int adds = 0;
	for (const char *p = (const char *)text; (p = strstr(p, "{\"add\":")); p++)
		adds++;
	bool proto = strstr((char *)text, "{\"protocol\":") != NULL;
	bool meta = strstr((char *)text, "{\"metaData\":") != NULL;
	cl_free(text);
	CHECK(proto && meta);
	CHECK_EQ_INT(adds, 2);
	/* the schema cannot be changed in a creating transaction */
	CHECK_OK(begin_new(&x, t, &err), &err);
	cl_schema *grown = NULL;
	CHECK_OK(cl_schema_parse(&grown, "id int64, n int32, e string", &err), &err);
	CHECK_EQ_INT(cl_table_txn_set_schema(x, grown, &err), CL_EINVAL);
	cl_schema_free(grown);
	cl_table_txn_free(x);
	cl_table_free(t);
}

/* A write that fails (a value that does not convert, after some files
 * were staged) leaves no _delta_log at all. */
TEST(table_create_txn_failing_write_leaves_no_log)
{
	char loc[600];
	snprintf(loc, sizeof loc, "%s/fail", cl_test_tmpdir());
	cl_error err = {0};
	cl_table *t;
	CHECK_OK(cl_table_open(&t, loc, &err), &err);
	cl_table_txn *x = NULL;
	CHECK_OK(begin_new(&x, t, &err), &err);
	CHECK_OK(write_some(x, 0, 50, 1, &err), &err);
	/* n = id << 32 does not fit int32 */
	CHECK(write_some(x, 50, 50, 1LL << 32, &err) != 0);
	CHECK(strstr(err.message, "'n'") != NULL);
	cl_table_txn_free(x);
	CHECK(!has_log(loc));
	CHECK_EQ_INT(count_rows(t), -1);
	/* a later run creates it cleanly */
	CHECK_OK(begin_new(&x, t, &err), &err);
	CHECK_OK(write_some(x, 0, 10, 1, &err), &err);
	int64_t v = -1;
	CHECK_OK(cl_table_txn_commit(x, &v, &err), &err);
	cl_table_txn_free(x);
	CHECK_EQ_INT(v, 0);
	CHECK_EQ_INT(count_rows(t), 10);
	/* the failed run's files are not referenced: vacuum removes them */
	usleep(20000);
	cl_vacuum_result vr = {0};
	CHECK_OK(cl_table_vacuum(t, 0, false, &vr, NULL, &err), &err);
	CHECK(vr.files_deleted >= 1);
	CHECK_EQ_INT(count_rows(t), 10);
	cl_table_free(t);
}

/* Two runs create the same table at once: exactly one wins; the loser
 * fails with a conflict and none of its rows are visible. */
TEST(table_create_txn_race_one_winner)
{
	char loc[600];
	snprintf(loc, sizeof loc, "%s/race", cl_test_tmpdir());
	cl_error err = {0};
	cl_table *a, *b;
	CHECK_OK(cl_table_open(&a, loc, &err), &err);
	CHECK_OK(cl_table_open(&b, loc, &err), &err);
	cl_table_txn *xa = NULL, *xb = NULL;
	CHECK_OK(begin_new(&xa, a, &err), &err);
	CHECK_OK(begin_new(&xb, b, &err), &err);
	CHECK_OK(write_some(xa, 0, 30, 1, &err), &err);
	CHECK_OK(write_some(xb, 1000, 70, 1, &err), &err);
	int64_t v = -1;
	CHECK_OK(cl_table_txn_commit(xa, &v, &err), &err);
	CHECK_EQ_INT(v, 0);
	CHECK_EQ_INT(cl_table_txn_commit(xb, &v, &err), CL_ECONFLICT);
	CHECK(strstr(err.message, "already exists") != NULL);
	cl_table_txn_free(xa);
	cl_table_txn_free(xb);
	CHECK_EQ_INT(count_rows(b), 30);
	cl_table_commit *h = NULL;
	size_t nh = 0;
	CHECK_OK(cl_table_history(&h, &nh, b, &err), &err);
	CHECK_EQ_INT(nh, 1);
	cl_table_history_free(h, nh);
	cl_table_free(a);
	cl_table_free(b);
}

/* Columns added in a data transaction: the writers see them before the
 * commit; a failing write leaves the schema as it was; a committed one is
 * one version with the metaData and the data. */
TEST(table_add_columns_in_the_data_commit)
{
	char loc[600];
	snprintf(loc, sizeof loc, "%s/grow", cl_test_tmpdir());
	cl_error err = {0};
	cl_table *t;
	CHECK_OK(cl_table_open(&t, loc, &err), &err);
	cl_table_txn *x = NULL;
	CHECK_OK(begin_new(&x, t, &err), &err);
	CHECK_OK(write_some(x, 0, 20, 1, &err), &err);
	CHECK_OK(cl_table_txn_commit(x, NULL, &err), &err);
	cl_table_txn_free(x);
	cl_schema *grown = NULL, *in = NULL;
	CHECK_OK(cl_schema_parse(&grown, "id int64, n int32, e string", &err), &err);
	CHECK_OK(cl_schema_parse(&in, "id int64, n int64, e string", &err), &err);
	for (int pass = 0; pass < 2; pass++) {
		cl_snapshot *s = NULL;
		CHECK_OK(cl_table_snapshot(&s, t, NULL, &err), &err);
		CHECK_OK(cl_table_txn_begin(&x, t, s, "MERGE", &err), &err);
		CHECK_OK(cl_table_txn_set_schema(x, grown, &err), &err);
		const cl_snapshot *view = cl_table_txn_snapshot(x);
		CHECK_EQ_INT(cl_snapshot_schema(view)->nfields, 3);
		CHECK_EQ_INT(cl_snapshot_version(view), 0);
		CHECK_EQ_INT(cl_snapshot_nfiles(view), cl_snapshot_nfiles(s));
		CHECK_STR(cl_snapshot_table_id(view), cl_snapshot_table_id(s));
		cl_batch *b = NULL;
		CHECK_OK(cl_batch_create(&b, in, 4, &err), &err);
		for (int i = 100; i < 104; i++) {
			cl_column_append_i64(&b->cols[0], i, &err);
			/* the first pass: the last row's n does not convert */
			cl_column_append_i64(&b->cols[1], pass == 0 && i == 103 ? 1LL << 40 : i, &err);
			cl_column_append_bytes(&b->cols[2], "x", 1, &err);
		}
		b->nrows = 4;
		cl_table_writer *w = NULL;
		CHECK_OK(cl_table_writer_open(&w, x, in, &err), &err);
		int rc = cl_table_writer_write(w, b, &err);
		rc = rc ? rc : cl_table_writer_finish(w, &err);
		int64_t v = -1;
		rc = rc ? rc : cl_table_txn_commit(x, &v, &err);
		cl_table_writer_free(w);
		cl_table_txn_free(x);
		cl_batch_free(b);
		cl_snapshot_free(s);
		CHECK_OK(cl_table_snapshot(&s, t, NULL, &err), &err);
		int nf = cl_snapshot_schema(s)->nfields;
		int64_t sv = cl_snapshot_version(s);
		cl_snapshot_free(s);
		if (pass == 0) {
			CHECK(rc != 0);
			CHECK_EQ_INT(nf, 2);
			CHECK_EQ_INT(sv, 0);
			CHECK_EQ_INT(count_rows(t), 20);
		} else {
			CHECK_OK(rc, &err);
			CHECK_EQ_INT(v, 1);
			CHECK_EQ_INT(nf, 3);
			CHECK_EQ_INT(sv, 1);
			CHECK_EQ_INT(count_rows(t), 24);
		}
	}
	cl_schema_free(grown);
	cl_schema_free(in);
	cl_table_free(t);
}

/* Run one merge in a child with CL_CRASH_AT=spec; true when killed. */
static bool merge_killed(const char *src, const char *lake, const char *spec)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		setenv("CL_CRASH_AT", spec, 1);
		cl_dms_merge_options o;
		cl_dms_merge_options_init(&o);
		const char *key = "id";
		o.keys = &key;
		o.nkeys = 1;
		cl_dms_merge_result res;
		cl_error err = {0};
		_exit(cl_dms_merge_run(&res, src, lake, &o, &err) ? 3 : 0);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	return WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL;
}

static int merge(const char *src, const char *lake, cl_dms_merge_result *res, cl_error *err)
{
	cl_dms_merge_options o;
	cl_dms_merge_options_init(&o);
	const char *key = "id";
	o.keys = &key;
	o.nkeys = 1;
	return cl_dms_merge_run(res, src, lake, &o, err);
}

/* SIGKILL of a first merge after its data files were written, or just
 * before its commit: no table at all; the rerun creates it in version 0. */
TEST(dms_merge_killed_first_run_leaves_no_table)
{
	static const char *const points[] = {"data-file-published:1", "commit-before-publish:1"};
	for (int k = 0; k < 2; k++) {
		char src[600], lake[600];
		snprintf(src, sizeof src, "%s/kill%d/src/s/t", cl_test_tmpdir(), k);
		snprintf(lake, sizeof lake, "%s/kill%d/lake", cl_test_tmpdir(), k);
		cl_test_mkdirs(src);
		cl_test_put(src, "LOAD00000001.csv", "id,v\n1,a\n2,b\n3,c\n");
		cl_test_mkdirs(lake);
		CHECK(merge_killed(src, lake, points[k]));
		CHECK(!has_log(lake));
		cl_dms_merge_result res;
		cl_error err = {0};
		CHECK_OK(merge(src, lake, &res, &err), &err);
		CHECK(res.created);
		CHECK_EQ_INT(res.version, 0);
		cl_table *t;
		CHECK_OK(cl_table_open(&t, lake, &err), &err);
		CHECK_EQ_INT(count_rows(t), 3);
		cl_table_free(t);
	}
}

/* SIGKILL of a merge that adds a column, after its data files were
 * written: the schema and the rows are as they were; the rerun adds the
 * column and the rows in one version. */
TEST(dms_merge_killed_run_adding_a_column_keeps_the_schema)
{
	char src[600], lake[600];
	snprintf(src, sizeof src, "%s/grow/src/s/t", cl_test_tmpdir());
	snprintf(lake, sizeof lake, "%s/grow/lake", cl_test_tmpdir());
	cl_test_mkdirs(src);
	cl_test_mkdirs(lake);
	cl_test_put(src, "LOAD00000001.csv", "id,v\n1,a\n2,b\n");
	cl_dms_merge_result res;
	cl_error err = {0};
	CHECK_OK(merge(src, lake, &res, &err), &err);
	CHECK_EQ_INT(res.version, 0);
	cl_test_put(src, "20201113-120000000.csv", "Op,id,v,extra\nI,3,c,x\nU,1,A,y\n");
	CHECK(merge_killed(src, lake, "data-file-published:1"));
	cl_table *t;
	CHECK_OK(cl_table_open(&t, lake, &err), &err);
	cl_snapshot *s = NULL;
	CHECK_OK(cl_table_snapshot(&s, t, NULL, &err), &err);
	CHECK_EQ_INT(cl_snapshot_version(s), 0);
	CHECK_EQ_INT(cl_snapshot_schema(s)->nfields, 2);
	cl_snapshot_free(s);
	CHECK_EQ_INT(count_rows(t), 2);
	CHECK_OK(merge(src, lake, &res, &err), &err);
	CHECK_EQ_INT(res.version, 1);
	CHECK_EQ_INT(res.columns_added, 1);
	CHECK_OK(cl_table_snapshot(&s, t, NULL, &err), &err);
	CHECK_EQ_INT(cl_snapshot_schema(s)->nfields, 3);
	cl_snapshot_free(s);
	CHECK_EQ_INT(count_rows(t), 3);
	cl_table_free(t);
}

/* A first run whose only full-load file is an empty Parquet file creates
 * an empty table with the file's columns and types, on the two-pass
 * (lean) path and on the one-pass path alike. */
TEST(dms_merge_empty_parquet_load_creates_an_empty_table)
{
	for (int lean = 0; lean < 2; lean++) {
		char src[600], lake[600], file[700];
		snprintf(src, sizeof src, "%s/empty%d/src/s/t", cl_test_tmpdir(), lean);
		snprintf(lake, sizeof lake, "%s/empty%d/lake", cl_test_tmpdir(), lean);
		snprintf(file, sizeof file, "%s/LOAD00000001.parquet", src);
		cl_test_mkdirs(src);
		cl_test_mkdirs(lake);
		cl_error err = {0};
		cl_schema *fs = NULL;
		CHECK_OK(cl_schema_parse(&fs, "id int64, name string", &err), &err);
		cl_write_options wo;
		cl_write_options_init(&wo);
		wo.format = CL_FORMAT_PARQUET;
		cl_writer *w = NULL;
		CHECK_OK(cl_writer_open(&w, file, fs, &wo, &err), &err);
		CHECK_OK(cl_writer_close(w, &err), &err);
		cl_writer_free(w);
		cl_schema_free(fs);
		cl_dms_merge_options o;
		cl_dms_merge_options_init(&o);
		const char *key = "id";
		o.keys = &key;
		o.nkeys = 1;
		o.ignore_null_updates = !lean; /* the one-pass path */
		cl_dms_merge_result res;
		CHECK_OK(cl_dms_merge_run(&res, src, lake, &o, &err), &err);
		CHECK(res.created);
		CHECK_EQ_INT(res.version, 0);
		cl_table *t;
		CHECK_OK(cl_table_open(&t, lake, &err), &err);
		cl_snapshot *s = NULL;
		CHECK_OK(cl_table_snapshot(&s, t, NULL, &err), &err);
		const cl_schema *sc = cl_snapshot_schema(s);
		CHECK_EQ_INT(sc->nfields, 2);
		CHECK_STR(sc->fields[0].name, "id");
		CHECK(sc->fields[0].type.id == CL_INT64);
		cl_snapshot_free(s);
		CHECK_EQ_INT(count_rows(t), 0);
		cl_table_free(t);
	}
}
