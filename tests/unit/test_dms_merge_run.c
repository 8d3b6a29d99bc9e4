/*
 * test_dms_merge_run.c — DMS folders merged into lake tables
 * (cl_dms_merge_run): one scenario per known bug of the reference jobs
 * (DESIGN.md), plus tombstones, partition moves, rebuilds, new columns and
 * --ignore-null-updates. Each checks the whole table after the runs.
 *
 * The reference-job bug "`right_` stripped from the middle of column
 * names" belongs to apply: see apply_right_side_and_exact_names in
 * test_apply.c.
 */
#include "test.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "changelake.h"
#include "changelake/dms_merge.h"

static int cmp_line(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The table's rows ("v|v|..." per row, NULL as \N, columns in table order,
 * lines sorted), or NULL on error (in err). Owned, free(). */
static char *table_text(const char *loc, cl_error *err)
{
	cl_table *t = NULL;
	cl_snapshot *s = NULL;
	cl_table_scan *sc = NULL;
	char **lines = NULL;
	size_t n = 0, cap = 0;
	char *out = NULL;
	int rc = cl_table_open(&t, loc, err);
	rc = rc ? rc : cl_table_snapshot(&s, t, NULL, err);
	rc = rc ? rc : cl_table_scan_open(&sc, t, s, NULL, err);
	cl_batch *b;
	while (!rc && !(rc = cl_table_scan_next(sc, &b, err)) && b) {
		for (int64_t r = 0; r < b->nrows; r++) {
			char line[2048];
			size_t len = 0;
			line[0] = 0;
			for (int c = 0; c < b->ncols; c++) {
				char *v;
				size_t vl;
				cl_value_text(&b->cols[c], r, &v, &vl, err);
				len += (size_t)snprintf(line + len, sizeof line - len, "%s%s",
							c ? "|" : "", v ? v : "\\N");
				cl_free(v);
			}
			if (n == cap) {
				cap = cap ? cap * 2 : 64;
				lines = realloc(lines, cap * sizeof *lines);
			}
			lines[n++] = strdup(line);
		}
	}
	if (!rc) {
		qsort(lines, n, sizeof *lines, cmp_line);
		size_t total = 1;
		for (size_t i = 0; i < n; i++)
			total += strlen(lines[i]) + 1;
		out = malloc(total);
		out[0] = 0;
		for (size_t i = 0; i < n; i++) {
			strcat(out, lines[i]);
			strcat(out, "\n");
		}
	}
	for (size_t i = 0; i < n; i++)
		free(lines[i]);
	free(lines);
	cl_table_scan_free(sc);
	cl_snapshot_free(s);
	cl_table_free(t);
	return out;
}

typedef struct env {
	char src[4096], lake[4096];
	const char *keys[2];
	cl_dms_merge_options o;
	cl_dms_merge_result res;
	cl_error err;
} env;

static void env_init(env *e, const char *name)
{
	memset(e, 0, sizeof *e);
	const char *tmp = cl_test_tmpdir();
	snprintf(e->src, sizeof e->src, "%s/%s/src/s/t", tmp, name);
	snprintf(e->lake, sizeof e->lake, "%s/%s/lake/t", tmp, name);
	cl_test_mkdirs(e->src);
	char parent[4096];
	snprintf(parent, sizeof parent, "%s/%s/lake", tmp, name);
	cl_test_mkdirs(parent);
	cl_dms_merge_options_init(&e->o);
	e->keys[0] = "id";
	e->o.keys = e->keys;
	e->o.nkeys = 1;
}

static int run(env *e)
{
	return cl_dms_merge_run(&e->res, e->src, e->lake, &e->o, &e->err);
}

/* Run and compare the table with `want`; 1 when equal (prints otherwise). */
static int run_expect(env *e, const char *want)
{
	if (run(e)) {
		printf("    merge failed: %s\n", e->err.message);
		return 0;
	}
	char *got = table_text(e->lake, &e->err);
	int ok = got && !strcmp(got, want);
	if (!ok)
		printf("    table:\n%s    expected:\n%s", got ? got : e->err.message, want);
	free(got);
	return ok;
}

/* Bug: an update to NULL lost by coalesce(new, old). */
TEST(dms_merge_update_to_null_is_null)
{
	env e;
	env_init(&e, "null");
	cl_test_put(e.src, "LOAD00000001.csv", "id,name,amount\n1,a,10\n2,b,20\n");
	cl_test_put(e.src, "20201113-120000000.csv", "Op,id,name,amount\nU,1,,10\nU,2,b,\n");
	CHECK(run_expect(&e, "1|\\N|10\n2|b|\\N\n"));
	/* with --ignore-null-updates the NULL keeps the table's value, also
	   across runs (the old value comes from the table's row) */
	env f;
	env_init(&f, "null2");
	f.o.ignore_null_updates = true;
	cl_test_put(f.src, "LOAD00000001.csv", "id,name,amount\n1,a,10\n2,b,20\n");
	CHECK(run_expect(&f, "1|a|10\n2|b|20\n"));
	cl_test_put(f.src, "20201113-120000000.csv", "Op,id,name,amount\nU,1,,11\nU,2,c,\n");
	CHECK(run_expect(&f, "1|a|11\n2|c|20\n"));
}

/* Bug: full-load rows stamped after later CDC changes resurrect deleted
 * rows (ordering by the timestamp column alone). */
TEST(dms_merge_full_load_before_cdc_whatever_timestamps)
{
	env e;
	env_init(&e, "stamp");
	e.o.sequence_by = "ts";
	/* DMS stamps full-load rows with the time they were read, which can be
	   after the commit time of CDC changes captured meanwhile */
	cl_test_put(e.src, "LOAD00000001.csv", "id,ts,v\n1,2020-11-13 12:30:00,a\n2,2020-11-13 12:30:00,b\n");
	cl_test_put(e.src, "20201113-120000000.csv", "Op,id,ts,v\nD,1,2020-11-13 12:00:00,\n"
					     "U,2,2020-11-13 12:00:00,b2\n");
	CHECK(run_expect(&e, "2|2020-11-13 12:00:00|b2\n"));
	/* the same, with the full load consumed in an earlier run */
	env f;
	env_init(&f, "stamp2");
	f.o.sequence_by = "ts";
	cl_test_put(f.src, "LOAD00000001.csv", "id,ts,v\n1,2020-11-13 12:30:00,a\n2,2020-11-13 12:30:00,b\n");
	CHECK(run_expect(&f, "1|2020-11-13 12:30:00|a\n2|2020-11-13 12:30:00|b\n"));
	cl_test_put(f.src, "20201113-120000000.csv", "Op,id,ts,v\nD,1,2020-11-13 12:00:00,\n"
					     "U,2,2020-11-13 12:00:00,b2\n");
	CHECK(run_expect(&f, "2|2020-11-13 12:00:00|b2\n"));
}

/* Bug: changes to older partitions dropped (only today's partition
 * rewritten). Also: a key whose partition value changes moves. */
TEST(dms_merge_old_partitions_and_moves)
{
	env e;
	env_init(&e, "part");
	const char *pb[] = {"day:month"};
	e.o.partition_by = pb;
	e.o.npartition_by = 1;
	cl_test_put(e.src, "LOAD00000001.csv", "id,day,v\n1,2019-01-05,a\n2,2020-06-01,b\n3,2020-11-13,c\n");
	CHECK(run_expect(&e, "1|2019-01-05|a|2019-01\n2|2020-06-01|b|2020-06\n"
			     "3|2020-11-13|c|2020-11\n"));
	cl_test_put(e.src, "2020/11/14/20201114-090000000.csv",
	    "Op,id,day,v\nU,1,2019-01-05,a2\nU,2,2020-11-14,moved\nD,3,2020-11-13,\n");
	CHECK(run_expect(&e, "1|2019-01-05|a2|2019-01\n2|2020-11-14|moved|2020-11\n"));
	/* the partition folders hold exactly the live rows */
	cl_table *t;
	cl_snapshot *s;
	CHECK_OK(cl_table_open(&t, e.lake, &e.err), &e.err);
	CHECK_OK(cl_table_snapshot(&s, t, NULL, &e.err), &e.err);
	int in_2020_06 = 0;
	for (size_t i = 0; i < cl_snapshot_nfiles(s); i++)
		in_2020_06 += strstr(cl_snapshot_file(s, i)->path, "day_month=2020-06") != NULL;
	CHECK_EQ_INT(in_2020_06, 0);
	cl_snapshot_free(s);
	cl_table_free(t);
}

/* Bug: ties within one file broken arbitrarily. Equal --sequence-by values
 * fall back to the row position: the later row wins, every time. */
TEST(dms_merge_ties_in_one_file_by_row)
{
	env e;
	env_init(&e, "ties");
	e.o.sequence_by = "ts";
	cl_test_put(e.src, "20201113-120000000.csv",
	    "Op,id,ts,v\nI,1,2020-11-13 12:00:00,first\nU,1,2020-11-13 12:00:00,second\n"
	    "U,1,2020-11-13 12:00:00,third\nI,2,2020-11-13 12:00:01,x\nD,2,2020-11-13 12:00:01,\n"
	    "I,2,2020-11-13 12:00:01,back\n");
	CHECK(run_expect(&e, "1|2020-11-13 12:00:00|third\n2|2020-11-13 12:00:01|back\n"));
}

/* Bug: S3 listings cut at 1,000 objects. 1,100 CDC files in one run (and
 * 150 more later) are all consumed. */
TEST(dms_merge_more_than_1000_files)
{
	env e;
	env_init(&e, "many");
	char name[64], text[128];
	for (int i = 0; i < 1250; i++) {
		snprintf(name, sizeof name, "2020/11/13/20201113-12%02d%02d%03d.csv", i / 600,
			 i / 10 % 60, i % 10 * 100);
		snprintf(text, sizeof text, "Op,id,v\nI,%d,%d\nU,%d,%d\n", i, i, i % 7, i);
		cl_test_put(e.src, name, text);
		if (i == 1099)
			CHECK_OK(run(&e), &e.err);
	}
	CHECK_EQ_INT(e.res.merge.files, 1100);
	CHECK_OK(run(&e), &e.err);
	CHECK_EQ_INT(e.res.merge.files, 150);
	char *got = table_text(e.lake, &e.err);
	CHECK(got != NULL);
	int lines = 0;
	for (char *p = got; *p; p++)
		lines += *p == '\n';
	/* keys 0..1249; keys 0..6 last updated by file 1249 - (1249-k)%7 */
	bool ok = lines == 1250 && strstr(got, "\n1000|1000\n") && !strncmp(got, "0|1246\n", 7);
	if (!ok)
		printf("    %d lines, starts %.40s\n", lines, got);
	free(got);
	CHECK(ok);
}

/* Bug: a key listed twice processed twice (a replayed file, or a listing
 * that returns a name twice). */
TEST(dms_merge_file_listed_twice_once)
{
	cl_dms_listing *l;
	cl_error err = {0};
	CHECK_OK(cl_dms_listing_create(&l, "/x", &err), &err);
	CHECK_OK(cl_dms_listing_add(l, "20201113-120000000.csv", 10, 1, &err), &err);
	CHECK_OK(cl_dms_listing_add(l, "20201113-120000000.csv", 10, 1, &err), &err);
	cl_dms_listing_finish(l);
	CHECK_EQ_INT(l->nfiles, 1);
	cl_dms_listing_free(l);
	/* without keys (append-only), a rerun must not append again */
	env e;
	env_init(&e, "twice");
	e.o.nkeys = 0;
	cl_test_put(e.src, "LOAD00000001.csv", "id,v\n1,a\n");
	cl_test_put(e.src, "20201113-120000000.csv", "Op,id,v\nI,2,b\nI,2,b\n");
	CHECK(run_expect(&e, "1|a\n2|b\n2|b\n"));
	CHECK(run_expect(&e, "1|a\n2|b\n2|b\n"));
	CHECK_EQ_INT(e.res.version, -1);
	/* a rerun of a keyed table changes nothing either */
	env f;
	env_init(&f, "twice2");
	cl_test_put(f.src, "20201113-120000000.csv", "Op,id,v\nI,1,a\nU,1,b\n");
	CHECK(run_expect(&f, "1|b\n"));
	CHECK(run_expect(&f, "1|b\n"));
	CHECK_EQ_INT(f.res.version, -1);
}

/* Bug: readers seeing old and new files together during a rewrite. The
 * rewrite is one commit: every version a reader can open holds either the
 * old or the new rows, never both or neither. */
TEST(dms_merge_rewrite_is_one_version)
{
	env e;
	env_init(&e, "atomic");
	cl_test_put(e.src, "LOAD00000001.csv", "id,v\n1,a\n2,b\n3,c\n");
	CHECK(run_expect(&e, "1|a\n2|b\n3|c\n"));
	int64_t v1 = e.res.version;
	cl_test_put(e.src, "20201113-120000000.csv", "Op,id,v\nU,2,B\nD,3,\n");
	CHECK(run_expect(&e, "1|a\n2|B\n"));
	CHECK_EQ_INT(e.res.version, v1 + 1);
	CHECK_EQ_INT(e.res.cow.files_rewritten, 1);
	cl_table *t;
	CHECK_OK(cl_table_open(&t, e.lake, &e.err), &e.err);
	cl_table_commit *h;
	size_t n;
	CHECK_OK(cl_table_history(&h, &n, t, &e.err), &e.err);
	CHECK_EQ_INT(h[n - 1].nremove, 1);
	CHECK_EQ_INT(h[n - 1].nadd, 1);
	cl_table_history_free(h, n);
	cl_table_free(t);
	/* the old version is still whole */
	char old[4200];
	snprintf(old, sizeof old, "%s@%lld", e.lake, (long long)v1);
	cl_table *t2;
	cl_snapshot *s;
	cl_table_at at = {CL_AT_VERSION, v1, 0};
	CHECK_OK(cl_table_open(&t2, e.lake, &e.err), &e.err);
	CHECK_OK(cl_table_snapshot(&s, t2, &at, &e.err), &e.err);
	CHECK_EQ_INT(cl_snapshot_num_records(s), 3);
	cl_snapshot_free(s);
	cl_table_free(t2);
}

/* Tombstones: a late CDC file (named before a delete that was already
 * merged) cannot bring the deleted key back; a later re-insert can. */
TEST(dms_merge_tombstones_stop_late_files)
{
	env e;
	env_init(&e, "tomb");
	cl_test_put(e.src, "LOAD00000001.csv", "id,v\n1,a\n2,b\n");
	cl_test_put(e.src, "20201113-120000000.csv", "Op,id,v\nD,1,\n");
	CHECK(run_expect(&e, "2|b\n"));
	/* arrives late: committed at 11:00, before the delete */
	cl_test_put(e.src, "20201113-110000000.csv", "Op,id,v\nU,1,late\nU,2,late\n");
	CHECK(run_expect(&e, "2|late\n"));
	CHECK_EQ_INT(e.res.merge.stale, 1);
	/* a late file older than an update is ignored for that key too */
	cl_test_put(e.src, "20201113-130000000.csv", "Op,id,v\nU,2,new\n");
	CHECK(run_expect(&e, "2|new\n"));
	cl_test_put(e.src, "20201113-125900000.csv", "Op,id,v\nU,2,older\nI,3,c\n");
	CHECK(run_expect(&e, "2|new\n3|c\n"));
	/* a re-insert after the delete brings the key back */
	cl_test_put(e.src, "20201113-140000000.csv", "Op,id,v\nI,1,again\n");
	CHECK(run_expect(&e, "1|again\n2|new\n3|c\n"));
	/* and many runs fold the index parts without losing a tombstone */
	char name[64];
	for (int i = 0; i < CL_DMS_SEQ_MAX_PARTS + 2; i++) {
		snprintf(name, sizeof name, "20201114-10%02d00000.csv", i);
		cl_test_put(e.src, name, i == 0 ? "Op,id,v\nD,3,\n" : "Op,id,v\nU,2,x\n");
		CHECK_OK(run(&e), &e.err);
	}
	cl_test_put(e.src, "20201114-050000000.csv", "Op,id,v\nU,3,zombie\n");
	CHECK(run_expect(&e, "1|again\n2|x\n"));
	cl_table *t;
	cl_snapshot *s;
	cl_dms_consumed *c;
	CHECK_OK(cl_table_open(&t, e.lake, &e.err), &e.err);
	CHECK_OK(cl_table_snapshot(&s, t, NULL, &e.err), &e.err);
	CHECK_OK(cl_dms_consumed_load(&c, NULL, t, s, NULL, &e.err), &e.err);
	CHECK(c->nparts <= CL_DMS_SEQ_MAX_PARTS);
	cl_dms_consumed_free(c);
	cl_snapshot_free(s);
	cl_table_free(t);
}

/* A new full load (a restarted DMS task) rebuilds the table in one commit. */
TEST(dms_merge_new_full_load_rebuilds)
{
	env e;
	env_init(&e, "rebuild");
	cl_test_put(e.src, "LOAD00000001.csv", "id,v\n1,a\n2,b\n");
	cl_test_put(e.src, "20201113-120000000.csv", "Op,id,v\nD,1,\nI,3,c\n");
	CHECK(run_expect(&e, "2|b\n3|c\n"));
	cl_test_put(e.src, "LOAD00000002.csv", "id,v\n1,again\n5,e\n");
	cl_test_put(e.src, "20201114-120000000.csv", "Op,id,v\nU,5,E\n");
	/* the full load is the whole truth: LOAD1 + LOAD2 + new CDC; the old
	   CDC file is not applied again */
	CHECK(run_expect(&e, "1|again\n2|b\n5|E\n"));
	CHECK(e.res.rebuilt);
}

/* A column that appears later is added; earlier rows read NULL. A value
 * that does not convert fails the run naming file, row and column, and
 * leaves the table as it was. */
TEST(dms_merge_new_column_and_bad_value)
{
	env e;
	env_init(&e, "evolve");
	cl_test_put(e.src, "LOAD00000001.csv", "id,v\n1,a\n");
	CHECK(run_expect(&e, "1|a\n"));
	cl_test_put(e.src, "20201113-120000000.csv", "Op,id,v,extra\nI,2,b,x\n");
	CHECK(run_expect(&e, "1|a|\\N\n2|b|x\n"));
	CHECK_EQ_INT(e.res.columns_added, 1);
	cl_test_put(e.src, "20201113-130000000.csv", "Op,id,v,extra\nI,notanumber,c,y\n");
	CHECK(run(&e) != 0);
	CHECK(strstr(e.err.message, "20201113-130000000.csv") != NULL);
	CHECK(strstr(e.err.message, "row 1") != NULL);
	CHECK(strstr(e.err.message, "'id'") != NULL);
	char *got = table_text(e.lake, &e.err);
	CHECK(got && !strcmp(got, "1|a|\\N\n2|b|x\n"));
	free(got);
}

/* The real DMS full-load file loads as a full load. */
TEST(dms_merge_real_full_load)
{
	char src[4096], lake[4096], from[4096], to[4200];
	char rel[4096];
	snprintf(rel, sizeof rel, "%s/dms/dms_test_table_LOAD00000001.parquet",
		 cl_test_data_root());
	if (!realpath(rel, from))
		snprintf(from, sizeof from, "%s", rel);
	FILE *f = fopen(from, "rb");
	if (!f) {
		printf("    (no test data at %s; skipped)\n", from);
		return;
	}
	fclose(f);
	const char *tmp = cl_test_tmpdir();
	snprintf(src, sizeof src, "%s/real/src/dbo/t", tmp);
	snprintf(lake, sizeof lake, "%s/real/lake", tmp);
	cl_test_mkdirs(src);
	cl_test_mkdirs(lake);
	snprintf(to, sizeof to, "%s/LOAD00000001.parquet", src);
	CHECK(symlink(from, to) == 0);
	strcat(lake, "/t");
	cl_dms_merge_options o;
	cl_dms_merge_options_init(&o);
	cl_dms_merge_result res;
	cl_error err = {0};
	CHECK_OK(cl_dms_merge_run(&res, src, lake, &o, &err), &err);
	CHECK_EQ_INT(res.merge.files, 1);
	CHECK_EQ_INT(res.merge.rows, 10);
	CHECK_EQ_INT(res.merge.inserts, res.merge.rows);
	CHECK_EQ_INT(res.rows_written, res.merge.rows);
	cl_table *t;
	cl_snapshot *s;
	CHECK_OK(cl_table_open(&t, lake, &err), &err);
	CHECK_OK(cl_table_snapshot(&s, t, NULL, &err), &err);
	CHECK_EQ_INT(cl_snapshot_num_records(s), res.merge.rows);
	cl_snapshot_free(s);
	cl_table_free(t);
}
