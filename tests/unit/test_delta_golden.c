/* test_delta_golden.c — reading the logs of the Delta golden tables written
 * by Spark (../shared/testdata/delta-golden): live files, versions, record
 * counts and partition values, and the refusal of unsupported features.
 * The expected counts were checked against an independent replay of the
 * JSON commits (add minus remove by decoded path). */
#include "test.h"

#include <stdlib.h>
#include <sys/stat.h>

#include "changelake/table.h"

static int open_golden(cl_table **t, const char *name)
{
	char path[700];
	snprintf(path, sizeof path, "%s/delta-golden/%s", cl_test_data_root(), name);
	cl_error err = {0};
	return cl_table_open(t, path, &err);
}

static bool have_golden(void)
{
	char path[600];
	struct stat st;
	snprintf(path, sizeof path, "%s/delta-golden", cl_test_data_root());
	if (stat(path, &st) == 0)
		return true;
	printf("    skipped: no %s\n", path);
	return false;
}

static const struct golden_ok {
	const char *name;
	int64_t version, nfiles, records;
	const char *partition_columns;
	bool fake_files; /* a log-only test table: its files do not exist */
} readable[] = {
	{"basic-decimal-table", 0, 4, 4, "part", false},
	{"basic-with-inserts-deletes-checkpoint", 13, 7, 41, "", false},
	{"basic-with-vacuum-protocol-check-feature", 1, 2, 100, "", false},
	{"checkpoint", 14, 1, -1, "", true},
	{"corrupted-last-checkpoint-kernel", 11, 2, 100, "", false},
	{"data-reader-escaped-chars", 2, 3, -1, "_2", false},
	{"data-reader-partition-values", 0, 3, -1,
	 "as_int,as_long,as_byte,as_short,as_boolean,as_float,as_double,as_string,"
	 "as_string_lit_null,as_date,as_timestamp,as_big_decimal", false},
	{"data-reader-timestamp_ntz", 1, 4, 9, "tsNtzPartition", false},
	{"delete-re-add-same-file-different-transactions", 3, 2, -1, "", true},
	{"kernel-timestamp-partition-col-ISO8601", 0, 2, 2, "ts", false},
	{"log-replay-latest-metadata-protocol", 2, 4, 40, "", false},
	{"log-replay-special-characters-b", 0, 1, -1, "", true},
	{"multi-part-checkpoint", 1, 10, 31, "", false},
	{"only-checkpoint-files", 2, 7, 25, "", false},
	{"snapshot-data2-deleted", 4, 3, -1, "", false},
	{"snapshot-repartitioned", 5, 2, -1, "", false},
	{"time-travel-partition-changes-b", 1, 4, -1, "part2", false},
	{"time-travel-start-start20-start40", 2, 6, -1, "", false},
	{"125-iterator-bug", 11, 12, -1, "", false},
};

TEST(delta_golden_readable_logs)
{
	if (!have_golden())
		return;
	for (size_t i = 0; i < sizeof readable / sizeof readable[0]; i++) {
		const struct golden_ok *g = &readable[i];
		cl_error err = {0};
		cl_table *t;
		CHECK_OK(open_golden(&t, g->name), &err);
		cl_snapshot *s;
		int rc = cl_table_snapshot(&s, t, NULL, &err);
		if (rc) {
			cl_test_fail(__FILE__, __LINE__, "%s: %s", g->name, err.message);
			cl_table_free(t);
			return;
		}
		CHECK_EQ_INT(cl_snapshot_version(s), g->version);
		CHECK_EQ_INT(cl_snapshot_nfiles(s), g->nfiles);
		CHECK_EQ_INT(cl_snapshot_num_records(s), g->records);
		char cols[400] = "";
		for (int c = 0; c < cl_snapshot_npartition_columns(s); c++) {
			if (c)
				strcat(cols, ",");
			strcat(cols, cl_snapshot_partition_column(s, c));
		}
		CHECK_STR(cols, g->partition_columns);
		/* every live file exists in the table */
		for (size_t f = 0; !g->fake_files && f < cl_snapshot_nfiles(s); f++) {
			cl_store_object o;
			const cl_table_file *tf = cl_snapshot_file(s, f);
			if (cl_store_head(cl_table_store(t), tf->path, &o, &err) != 0) {
				cl_test_fail(__FILE__, __LINE__, "%s: %s", g->name, err.message);
				break;
			}
			CHECK_EQ_INT(o.size, tf->size);
		}
		cl_snapshot_free(s);
		cl_table_free(t);
	}
}

static const struct golden_bad {
	const char *name;
	int code;
	const char *message;
} refused[] = {
	{"dv-with-columnmapping", CL_EUNSUPPORTED, "'columnMapping'"},
	{"table-with-columnmapping-mode-id", CL_EUNSUPPORTED, "'columnMapping' (mode id)"},
	{"table-with-columnmapping-mode-name", CL_EUNSUPPORTED, "'columnMapping' (mode name)"},
	{"data-reader-timestamp_ntz-id-mode", CL_EUNSUPPORTED, "'columnMapping'"},
	{"data-skipping-basic-stats-all-types-columnmapping-name", CL_EUNSUPPORTED,
	 "'columnMapping'"},
	{"table-with-icebegCompatV2Enabled", CL_EUNSUPPORTED, "'columnMapping'"},
	{"v2-checkpoint-json", CL_EUNSUPPORTED, "'v2Checkpoint'"},
	{"v2-checkpoint-parquet", CL_EUNSUPPORTED, "'v2Checkpoint'"},
	{"type-widening", CL_EUNSUPPORTED, "'typeWidening"},
	{"spark-variant-checkpoint", CL_EUNSUPPORTED, "'variantType"},
	{"deltalog-invalid-protocol-version", CL_EUNSUPPORTED, "reader version 99"},
	{"deltalog-state-reconstruction-without-metadata", CL_EFORMAT, "no metaData"},
	{"deltalog-state-reconstruction-without-protocol", CL_EFORMAT, "no protocol"},
	{"versions-not-contiguous", CL_EFORMAT, "missing commit 1"},
	{"no-delta-log-folder", CL_ENOTFOUND, "not a lake table"},
	{"canonicalized-paths-normal-a", CL_EUNSUPPORTED, "outside the table"},
	{"data-reader-absolute-paths-escaped-chars", CL_EUNSUPPORTED, "outside the table"},
};

TEST(delta_golden_refused_features)
{
	if (!have_golden())
		return;
	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
		const struct golden_bad *g = &refused[i];
		cl_error err = {0};
		cl_table *t;
		CHECK_OK(open_golden(&t, g->name), &err);
		cl_snapshot *s = NULL;
		int rc = cl_table_snapshot(&s, t, NULL, &err);
		cl_snapshot_free(s);
		cl_table_free(t);
		if (rc != g->code || !strstr(err.message, g->message)) {
			cl_test_fail(__FILE__, __LINE__, "%s: got %d '%s', expected %d '%s'", g->name,
				     rc, err.message, g->code, g->message);
			return;
		}
	}
}

TEST(delta_golden_time_travel)
{
	if (!have_golden())
		return;
	cl_error err = {0};
	cl_table *t;
	CHECK_OK(open_golden(&t, "time-travel-start-start20-start40"), &err);
	int64_t want[] = {2, 4, 6};
	int64_t ts[3];
	for (int v = 0; v < 3; v++) {
		cl_table_at at = {CL_AT_VERSION, v, 0};
		cl_snapshot *s;
		CHECK_OK(cl_table_snapshot(&s, t, &at, &err), &err);
		CHECK_EQ_INT(cl_snapshot_nfiles(s), want[v]);
		ts[v] = cl_snapshot_timestamp(s);
		cl_snapshot_free(s);
	}
	CHECK(ts[0] < ts[1] && ts[1] < ts[2]);
	for (int v = 0; v < 3; v++) {
		cl_table_at at = {CL_AT_TIMESTAMP, 0, ts[v]};
		cl_snapshot *s;
		CHECK_OK(cl_table_snapshot(&s, t, &at, &err), &err);
		CHECK_EQ_INT(cl_snapshot_version(s), v);
		cl_snapshot_free(s);
	}
	cl_table_free(t);
	/* partition values: a string "null" stays a string, a null stays null */
	CHECK_OK(open_golden(&t, "data-reader-partition-values"), &err);
	cl_snapshot *s;
	CHECK_OK(cl_table_snapshot(&s, t, NULL, &err), &err);
	const cl_table_file *f = cl_snapshot_file(s, 0);
	CHECK_STR(f->partition[8].key, "as_string_lit_null");
	CHECK_STR(f->partition[8].value, "null");
	CHECK_STR(f->partition[10].value, "2021-09-08 11:11:11");
	f = cl_snapshot_file(s, 2);
	CHECK(f->partition[0].value == NULL && f->partition[8].value == NULL);
	CHECK(cl_snapshot_schema(s) == NULL); /* it has array and struct columns */
	cl_snapshot_free(s);
	cl_table_free(t);
	/* a nested schema lists files but has no flat schema */
	CHECK_OK(open_golden(&t, "data-reader-nested-struct"), &err);
	CHECK_OK(cl_table_snapshot(&s, t, NULL, &err), &err);
	CHECK(cl_snapshot_schema(s) == NULL);
	CHECK_EQ_INT(cl_snapshot_nfiles(s), 2);
	cl_snapshot_free(s);
	cl_table_free(t);
}

/* Copy a golden table and delete its commits before the checkpoint, as
 * Delta's metadata cleanup does: the snapshot must come out the same from
 * the Parquet checkpoint as from the full JSON log. */
TEST(delta_golden_checkpoints_after_cleanup)
{
	if (!have_golden())
		return;
	static const struct { const char *name; int64_t checkpoint; } cases[] = {
		{"checkpoint", 10},
		{"basic-with-inserts-deletes-checkpoint", 10},
		{"corrupted-last-checkpoint-kernel", 10},
		{"only-checkpoint-files", 2},
		{"multi-part-checkpoint", 1},
		{"dv-partitioned-with-checkpoint", 10},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		cl_error err = {0};
		const char *dir = cl_test_tmpdir();
		char cmd[1400];
		snprintf(cmd, sizeof cmd, "cp -rp '%s/delta-golden/%s' '%s/t' && chmod -R u+w '%s/t'",
			 cl_test_data_root(), cases[i].name, dir, dir);
		CHECK(system(cmd) == 0);
		snprintf(cmd, sizeof cmd, "%s/t", dir);
		cl_table *t;
		CHECK_OK(cl_table_open(&t, cmd, &err), &err);
		cl_snapshot *full = NULL, *cp = NULL;
		int rc_full = cl_table_snapshot(&full, t, NULL, &err);
		for (int64_t v = 0; v < cases[i].checkpoint; v++) {
			char key[64];
			snprintf(key, sizeof key, "_delta_log/%020lld.json", (long long)v);
			cl_store_delete(cl_table_store(t), key, &err);
		}
		cl_error err2 = {0};
		int rc = cl_table_snapshot(&cp, t, NULL, &err2);
		if (rc == CL_EUNSUPPORTED && strstr(err2.message, "reading this Parquet checkpoint")) {
			printf("    note: %s: the Parquet reader cannot read checkpoints here\n",
			       cases[i].name);
		} else if (rc_full) {
			/* refused from the JSON log: refused from the checkpoint too */
			CHECK_EQ_INT(rc, rc_full);
		} else {
			CHECK_OK(rc, &err2);
			CHECK_EQ_INT(cl_snapshot_version(cp), cl_snapshot_version(full));
			CHECK_EQ_INT(cl_snapshot_nfiles(cp), cl_snapshot_nfiles(full));
			CHECK_EQ_INT(cl_snapshot_num_records(cp), cl_snapshot_num_records(full));
			CHECK_STR(cl_snapshot_schema_string(cp), cl_snapshot_schema_string(full));
			for (size_t f = 0; f < cl_snapshot_nfiles(cp); f++) {
				const cl_table_file *a = cl_snapshot_file(cp, f), *b = cl_snapshot_file(full, f);
				CHECK_STR(a->path, b->path);
				CHECK_EQ_INT(a->size, b->size);
				CHECK_EQ_INT(a->npartition, b->npartition);
				for (int k = 0; k < a->npartition; k++)
					CHECK((a->partition[k].value == NULL) == (b->partition[k].value == NULL) &&
					      (!a->partition[k].value ||
					       !strcmp(a->partition[k].value, b->partition[k].value)));
			}
		}
		cl_snapshot_free(cp);
		cl_snapshot_free(full);
		cl_table_free(t);
	}
}

/* Every row of a snapshot as "v1|v2|..." lines (value text, NULL as \N);
 * *rows counts them. */
static int scan_rows(cl_table *t, const cl_snapshot *s, const cl_table_scan_options *o,
		     char ***out, size_t *rows, cl_error *err)
{
	cl_table_scan *sc = NULL;
	int rc = cl_table_scan_open(&sc, t, s, o, err);
	size_t n = 0, cap = 0;
	char **v = NULL;
	cl_batch *b;
	while (!rc && !(rc = cl_table_scan_next(sc, &b, err)) && b) {
		for (int64_t r = 0; !rc && r < b->nrows; r++) {
			char line[512];
			size_t len = 0;
			line[0] = 0;
			for (int c = 0; c < b->ncols; c++) {
				char *txt = NULL;
				size_t tl;
				if (cl_column_is_null(&b->cols[c], r))
					txt = cl_strdup("\\N");
				else
					cl_value_text(&b->cols[c], r, &txt, &tl, err);
				len += (size_t)snprintf(line + len, sizeof line - len, "%s%s",
							c ? "|" : "", txt ? txt : "?");
				cl_free(txt);
				if (len >= sizeof line)
					len = sizeof line - 1;
			}
			if (n == cap) {
				cap = cap ? cap * 2 : 64;
				char **nv = cl_realloc(v, cap * sizeof *nv);
				if (!nv) {
					rc = CL_ENOMEM;
					break;
				}
				v = nv;
			}
			v[n++] = cl_strdup(line);
		}
	}
	cl_table_scan_free(sc);
	*out = v;
	*rows = n;
	return rc;
}

static void free_rows(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		cl_free(v[i]);
	cl_free(v);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The deletion vector golden tables read as the delta-io tests state:
 * dv-partitioned-with-checkpoint holds (x % 10, x, "foo" x % 5) for x in
 * 0..49 minus the rows with an even col1 below 30 (DeletionVectorSuite,
 * "reading partitioned dv table with checkpoint": 35 rows);
 * log-replay-dv-key-cases holds ids 0..49 minus 0, 7 and 14 (three DELETE
 * commits; kernel LogReplaySuite: one file, DV cardinality 3). */
TEST(delta_golden_dv_tables_read)
{
	if (!have_golden())
		return;
	cl_error err = {0};
	cl_table *t;
	cl_snapshot *s = NULL;
	CHECK_OK(open_golden(&t, "dv-partitioned-with-checkpoint"), &err);
	int rc = cl_table_snapshot(&s, t, NULL, &err);
	char **got = NULL;
	size_t n = 0;
	if (!rc)
		rc = scan_rows(t, s, NULL, &got, &n, &err);
	int64_t nrec = s ? cl_snapshot_num_records(s) : -2;
	cl_snapshot_free(s);
	cl_table_free(t);
	CHECK_OK(rc, &err);
	char *want[50];
	size_t nw = 0;
	for (int x = 0; x < 50; x++) {
		if (x % 2 == 0 && x < 30)
			continue;
		char line[64];
		snprintf(line, sizeof line, "%d|%d|foo%d", x % 10, x, x % 5);
		want[nw++] = cl_strdup(line);
	}
	qsort(want, nw, sizeof *want, cmp_str);
	if (got)
		qsort(got, n, sizeof *got, cmp_str);
	bool same = n == nw;
	for (size_t i = 0; same && i < n; i++)
		if (strcmp(got[i], want[i])) {
			printf("    row %zu: got %s, want %s\n", i, got[i], want[i]);
			same = false;
		}
	if (n != nw)
		printf("    %zu rows, want %zu (first: %s)\n", n, nw, n ? got[0] : "");
	free_rows(got, n);
	for (size_t i = 0; i < nw; i++)
		cl_free(want[i]);
	CHECK(same);
	CHECK_EQ_INT(nrec, 35);

	CHECK_OK(open_golden(&t, "log-replay-dv-key-cases"), &err);
	s = NULL;
	rc = cl_table_snapshot(&s, t, NULL, &err);
	bool one_file = !rc && cl_snapshot_nfiles(s) == 1 && cl_snapshot_file(s, 0)->dv &&
			cl_snapshot_file(s, 0)->dv->cardinality == 3 &&
			cl_snapshot_file(s, 0)->has_dv;
	/* physical positions: id i is row i of the file, so every batch's
	 * first row + offset must equal the id */
	cl_table_scan *sc = NULL;
	int ids[64], nid = 0;
	bool pos_ok = true;
	if (!rc)
		rc = cl_table_scan_open(&sc, t, s, &(cl_table_scan_options){.batch_rows = 4}, &err);
	cl_batch *b;
	while (!rc && !(rc = cl_table_scan_next(sc, &b, &err)) && b) {
		int64_t first = 0;
		cl_table_scan_file(sc, &first);
		for (int64_t r = 0; r < b->nrows && nid < 64; r++) {
			int64_t id = cl_column_get_i64(&b->cols[0], r);
			ids[nid++] = (int)id;
			pos_ok = pos_ok && id == first - 1 + r;
		}
	}
	cl_table_scan_free(sc);
	nrec = s ? cl_snapshot_num_records(s) : -2;
	cl_snapshot_free(s);
	cl_table_free(t);
	CHECK_OK(rc, &err);
	CHECK(one_file);
	CHECK(pos_ok);
	CHECK_EQ_INT(nrec, 47);
	CHECK_EQ_INT(nid, 47);
	for (int i = 0, id = 0; i < nid; i++, id++) {
		while (id == 0 || id == 7 || id == 14)
			id++;
		CHECK_EQ_INT(ids[i], id);
	}
}
