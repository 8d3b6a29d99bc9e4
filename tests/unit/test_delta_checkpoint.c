/*
 * test_delta_checkpoint.c — Parquet checkpoints written by changelake:
 * every delta.checkpointInterval commits, _last_checkpoint, a snapshot
 * from a checkpoint equal to a full replay, time travel before a
 * checkpoint, crashes while checkpointing, and a checkpoint failure that
 * leaves the commit standing.
 */
#include "test.h"

#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "changelake/table.h"
#include "core/json.h"
#include "table/delta.h"

static cl_table *make_table(const char *root, const char *interval, bool ntz)
{
	cl_table *t = NULL;
	cl_error err = {0};
	if (cl_table_open(&t, root, &err))
		return NULL;
	cl_schema *s = NULL;
	cl_schema_parse(&s, ntz ? "id int64, region string, ts timestamp(us)"
				: "id int64, region string", &err);
	cl_table_create_options o;
	cl_table_create_options_init(&o);
	const char *part[1] = {"region"};
	o.partition_by = part;
	o.npartition_by = 1;
	cl_table_kv conf[2] = {{"delta.checkpointInterval", interval},
			       {"delta.deletedFileRetentionDuration", "interval 3650 days"}};
	o.config = interval ? conf : conf + 1;
	o.nconfig = interval ? 2 : 1;
	int rc = cl_table_create(t, s, &o, &err);
	cl_schema_free(s);
	if (rc) {
		printf("    create: %s\n", err.message);
		cl_table_free(t);
		return NULL;
	}
	return t;
}

/* Commit n: add a file in a region (some with odd characters, one NULL),
 * remove an earlier file every third commit, record txn "app" = n. */
static int commit_n(cl_table *t, int n, int64_t *v, cl_error *err)
{
	static const char *const regions[] = {"north", "south east", "a%b/c", NULL};
	cl_snapshot *s;
	int rc = cl_table_snapshot(&s, t, NULL, err);
	if (rc)
		return rc;
	cl_table_txn *x;
	rc = cl_table_txn_begin(&x, t, s, "WRITE", err);
	const char *reg = regions[n % 4];
	char path[128], stats[128];
	snprintf(path, sizeof path, "region=%s/part-%03d é.parquet", reg ? reg : "__NULL__", n);
	snprintf(stats, sizeof stats, "{\"numRecords\":%d,\"minValues\":{\"id\":%d}}", n + 1, n);
	cl_table_kv pv = {"region", reg};
	cl_table_add a = {path, 1000 + n, 1700000000000LL + n, &pv, 1, stats, true, NULL};
	rc = rc ? rc : cl_table_txn_add(x, &a, err);
	if (!rc && n % 3 == 0 && cl_snapshot_nfiles(s) > 2)
		rc = cl_table_txn_remove(x, cl_snapshot_file(s, (size_t)n % cl_snapshot_nfiles(s)),
					 true, err);
	rc = rc ? rc : cl_table_txn_set_app_version(x, n % 2 ? "app-odd" : "app-even", n, err);
	rc = rc ? rc : cl_table_txn_commit(x, v, err);
	cl_table_txn_free(x);
	cl_snapshot_free(s);
	return rc;
}

static bool exists(const char *root, const char *key)
{
	char p[1024];
	struct stat st;
	snprintf(p, sizeof p, "%s/%s", root, key);
	return stat(p, &st) == 0;
}

static bool checkpoint_at(const char *root, int64_t v)
{
	char key[96];
	snprintf(key, sizeof key, "_delta_log/%020lld.checkpoint.parquet", (long long)v);
	return exists(root, key);
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	return system(cmd);
}

static bool same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

/* Two snapshots hold the same state (files, metadata, protocol, txns). */
static bool same_state(const cl_snapshot *a, const cl_snapshot *b)
{
	bool ok = a->version == b->version && a->min_reader == b->min_reader &&
		  a->min_writer == b->min_writer && same_str(a->id, b->id) &&
		  same_str(a->schema_string, b->schema_string) &&
		  a->npartition_cols == b->npartition_cols && a->nconfig == b->nconfig &&
		  a->nfiles == b->nfiles && a->ntxns == b->ntxns &&
		  a->created_time == b->created_time &&
		  a->nreader_features == b->nreader_features &&
		  a->nwriter_features == b->nwriter_features;
	for (int i = 0; ok && i < a->nreader_features; i++)
		ok = same_str(a->reader_features[i], b->reader_features[i]);
	for (int i = 0; ok && i < a->nwriter_features; i++)
		ok = same_str(a->writer_features[i], b->writer_features[i]);
	for (int i = 0; ok && i < a->nconfig; i++)
		ok = same_str(a->config[i].key, b->config[i].key) &&
		     same_str(a->config[i].value, b->config[i].value);
	for (size_t i = 0; ok && i < a->nfiles; i++) {
		const cl_table_file *x = &a->files[i], *y = &b->files[i];
		ok = same_str(x->path, y->path) && x->size == y->size && x->mtime_ms == y->mtime_ms &&
		     same_str(x->stats_json, y->stats_json) && x->num_records == y->num_records &&
		     x->npartition == y->npartition;
		for (int k = 0; ok && k < x->npartition; k++)
			ok = same_str(x->partition[k].value, y->partition[k].value);
		if (!ok)
			printf("    file %zu: %s / %s\n", i, x->path, y->path);
	}
	for (size_t i = 0; ok && i < a->ntxns; i++) {
		bool found = false;
		for (size_t j = 0; j < b->ntxns; j++)
			if (!strcmp(a->txns[i].app_id, b->txns[j].app_id))
				found = a->txns[i].version == b->txns[j].version &&
					a->txns[i].last_updated == b->txns[j].last_updated;
		ok = found;
	}
	return ok;
}

static cl_snapshot *snap_at(cl_table *t, int64_t v)
{
	cl_snapshot *s = NULL;
	cl_error err = {0};
	cl_table_at at = {v < 0 ? CL_AT_LATEST : CL_AT_VERSION, v, 0};
	if (cl_table_snapshot(&s, t, &at, &err))
		printf("    snapshot @%lld: %s\n", (long long)v, err.message);
	return s;
}

TEST(delta_checkpoint_every_10_commits)
{
	cl_error err = {0};
	char root[600], full[600], cp[600];
	snprintf(root, sizeof root, "%s/t", cl_test_tmpdir());
	snprintf(full, sizeof full, "%s/full", cl_test_tmpdir());
	snprintf(cp, sizeof cp, "%s/cp", cl_test_tmpdir());
	cl_table *t = make_table(root, NULL, false);
	CHECK(t);
	for (int n = 1; n <= 25; n++) {
		int64_t v;
		CHECK_OK(commit_n(t, n, &v, &err), &err);
		CHECK_EQ_INT(v, n);
		int64_t cv;
		CHECK_OK(cl_table_checkpoint_status(t, &cv, &err), &err);
		CHECK_EQ_INT(cv, n % 10 == 0 ? n : -1);
	}
	for (int v = 0; v <= 25; v++)
		CHECK(checkpoint_at(root, v) == (v == 10 || v == 20));

	/* _last_checkpoint: version, actions, bytes, adds */
	uint8_t *text;
	size_t n;
	CHECK_OK(cl_store_get(cl_table_store(t), "_delta_log/_last_checkpoint", &text, &n, &err),
		 &err);
	cl__json_parser *jp;
	const cl_json *lc;
	CHECK_OK(cl__json_parser_create(&jp, NULL, &err), &err);
	CHECK_OK(cl__json_parse(jp, (const char *)text, n, &lc, &err), &err);
	cl_snapshot *s20 = snap_at(t, 20);
	CHECK(s20);
	int64_t version, size, bytes, adds;
	CHECK(cl__json_int64(cl__json_get_s(lc, "version"), &version) && version == 20);
	CHECK(cl__json_int64(cl__json_get_s(lc, "numOfAddFiles"), &adds));
	CHECK_EQ_INT(adds, (int64_t)cl_snapshot_nfiles(s20));
	CHECK(cl__json_int64(cl__json_get_s(lc, "size"), &size));
	/* protocol + metaData + two txns + adds (no removes: nothing expired
	 * and removed files are tombstones) */
	CHECK(size >= 4 + adds);
	CHECK_EQ_INT(size, 4 + adds + (int64_t)s20->ntombstones);
	cl_store_object o;
	CHECK_OK(cl_store_head(cl_table_store(t), "_delta_log/00000000000000000020.checkpoint.parquet",
			       &o, &err), &err);
	CHECK(cl__json_int64(cl__json_get_s(lc, "sizeInBytes"), &bytes) && bytes == o.size);
	cl__json_parser_free(jp);
	cl_free(text);

	/* full: only the commits (a true full replay); cp: the checkpoint
	 * of 20 and the commits after it */
	CHECK(sh("mkdir -p %s/_delta_log %s/_delta_log", full, cp) == 0);
	CHECK(sh("cp %s/_delta_log/*.json %s/_delta_log/", root, full) == 0);
	CHECK(sh("cp -r %s/_delta_log/. %s/_delta_log/", root, cp) == 0);
	for (int v = 0; v < 20; v++) {
		char key[700];
		snprintf(key, sizeof key, "%s/_delta_log/%020d.json", cp, v);
		CHECK(unlink(key) == 0);
	}
	cl_table *tf, *tc;
	CHECK_OK(cl_table_open(&tf, full, &err), &err);
	CHECK_OK(cl_table_open(&tc, cp, &err), &err);
	int64_t versions[] = {20, 23, -1};
	for (int i = 0; i < 3; i++) {
		cl_snapshot *a = snap_at(tf, versions[i]), *b = snap_at(tc, versions[i]),
			    *c = snap_at(t, versions[i]);
		CHECK(a && b && c);
		CHECK(same_state(a, b));
		CHECK(same_state(a, c));
		CHECK(a->nfiles > 10);
		cl_snapshot_free(a);
		cl_snapshot_free(b);
		cl_snapshot_free(c);
	}
	/* before the cleaned-up commits: not there any more */
	cl_snapshot *gone = NULL;
	cl_table_at at5 = {CL_AT_VERSION, 5, 0};
	CHECK(cl_table_snapshot(&gone, tc, &at5, &err) != 0);
	/* time travel before a checkpoint while the commits exist */
	for (int64_t v = 1; v <= 12; v += 4) {
		cl_snapshot *a = snap_at(tf, v), *c = snap_at(t, v);
		CHECK(a && c);
		CHECK(same_state(a, c));
		cl_snapshot_free(a);
		cl_snapshot_free(c);
	}
	cl_snapshot_free(s20);
	cl_table_free(tf);
	cl_table_free(tc);
	cl_table_free(t);
}

TEST(delta_checkpoint_interval_property_and_features)
{
	cl_error err = {0};
	char root[600];
	snprintf(root, sizeof root, "%s/t", cl_test_tmpdir());
	/* timestamp_ntz: reader 3 / writer 7 with features in the checkpoint */
	cl_table *t = make_table(root, "3", true);
	CHECK(t);
	for (int n = 1; n <= 7; n++) {
		int64_t v;
		CHECK_OK(commit_n(t, n, &v, &err), &err);
	}
	for (int v = 0; v <= 7; v++)
		CHECK(checkpoint_at(root, v) == (v == 3 || v == 6));
	/* a checkpoint-only view of version 6 */
	char cp[600];
	snprintf(cp, sizeof cp, "%s/cp", cl_test_tmpdir());
	CHECK(sh("mkdir -p %s/_delta_log", cp) == 0);
	CHECK(sh("cp %s/_delta_log/00000000000000000006.checkpoint.parquet %s/_delta_log/", root,
		 cp) == 0);
	CHECK(sh("cp %s/_delta_log/00000000000000000007.json %s/_delta_log/", root, cp) == 0);
	cl_table *tc;
	CHECK_OK(cl_table_open(&tc, cp, &err), &err);
	cl_snapshot *a = snap_at(t, 7), *b = snap_at(tc, 7);
	CHECK(a && b);
	CHECK_EQ_INT(b->min_reader, 3);
	CHECK_EQ_INT(b->min_writer, 7);
	CHECK(b->nreader_features >= 1 && b->nwriter_features >= 1);
	CHECK_STR(cl_snapshot_config(b, "delta.checkpointInterval"), "3");
	CHECK(same_state(a, b));
	CHECK(cl_snapshot_schema(b) != NULL);
	cl_snapshot_free(a);
	cl_snapshot_free(b);
	cl_table_free(tc);
	cl_table_free(t);
}

/* Run commits 1..upto in a child process with CL_CRASH_AT=spec; returns
 * whether the child was killed. */
static bool crash_child(const char *root, int from, int upto, const char *spec)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		setenv("CL_CRASH_AT", spec, 1);
		cl_table *t;
		cl_error err = {0};
		if (cl_table_open(&t, root, &err))
			_exit(3);
		for (int n = from; n <= upto; n++) {
			int64_t v;
			if (commit_n(t, n, &v, &err))
				_exit(4);
		}
		_exit(0);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	return WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL;
}

TEST(delta_checkpoint_crashes_leave_a_readable_table)
{
	static const char *const points[] = {"checkpoint-writing:1", "checkpoint-before-publish:1",
					     "checkpoint-after-publish:1"};
	for (int k = 0; k < 3; k++) {
		cl_error err = {0};
		char root[600];
		snprintf(root, sizeof root, "%s/t%d", cl_test_tmpdir(), k);
		cl_table *t = make_table(root, NULL, false);
		CHECK(t);
		for (int n = 1; n <= 9; n++) {
			int64_t v;
			CHECK_OK(commit_n(t, n, &v, &err), &err);
		}
		/* commit 10 lands, its checkpoint dies half-way */
		CHECK(crash_child(root, 10, 10, points[k]));
		CHECK(checkpoint_at(root, 10) == (k == 2));
		CHECK(!exists(root, "_delta_log/_last_checkpoint"));
		cl_snapshot *s = snap_at(t, -1);
		CHECK(s);
		CHECK_EQ_INT(cl_snapshot_version(s), 10);
		CHECK_EQ_INT(cl_snapshot_txn_version(s, "app-even"), 10);
		cl_snapshot_free(s);
		/* and the table goes on: the next checkpoint is written */
		for (int n = 11; n <= 20; n++) {
			int64_t v;
			CHECK_OK(commit_n(t, n, &v, &err), &err);
		}
		CHECK(checkpoint_at(root, 20));
		s = snap_at(t, -1);
		CHECK(s && cl_snapshot_version(s) == 20);
		cl_snapshot_free(s);
		cl_table_free(t);
	}
}

TEST(delta_checkpoint_failure_keeps_the_commit)
{
	cl_error err = {0};
	char root[600], dir[700];
	snprintf(root, sizeof root, "%s/t", cl_test_tmpdir());
	cl_table *t = make_table(root, "2", false);
	CHECK(t);
	int64_t v;
	CHECK_OK(commit_n(t, 1, &v, &err), &err);
	/* a directory where the checkpoint of version 2 would go */
	snprintf(dir, sizeof dir, "%s/_delta_log/00000000000000000002.checkpoint.parquet/x", root);
	CHECK(sh("mkdir -p %s", dir) == 0);
	CHECK_OK(commit_n(t, 2, &v, &err), &err);
	CHECK_EQ_INT(v, 2);
	int64_t cv;
	cl_error cerr = {0};
	CHECK(cl_table_checkpoint_status(t, &cv, &cerr) != 0);
	CHECK_EQ_INT(cv, 2);
	CHECK(strstr(cerr.message, "checkpoint of version 2") != NULL);
	/* the commit is there and readable (replayed from the commits) */
	cl_snapshot *s = snap_at(t, -1);
	CHECK(s && cl_snapshot_version(s) == 2);
	cl_snapshot_free(s);
	CHECK_OK(commit_n(t, 3, &v, &err), &err);
	CHECK_OK(cl_table_checkpoint_status(t, &cv, &err), &err);
	CHECK_EQ_INT(cv, -1);
	cl_table_free(t);
}

TEST(delta_checkpoint_unreadable_is_passed_over)
{
	cl_error err = {0};
	char root[600];
	snprintf(root, sizeof root, "%s/t", cl_test_tmpdir());
	cl_table *t = make_table(root, NULL, false);
	CHECK(t);
	for (int n = 1; n <= 12; n++) {
		int64_t v;
		CHECK_OK(commit_n(t, n, &v, &err), &err);
	}
	cl_snapshot *good = snap_at(t, -1);
	CHECK(good);
	/* a damaged checkpoint, named by _last_checkpoint: the commits from 0
	 * are all there, so the snapshot is replayed from them */
	CHECK(sh("truncate -s 100 %s/_delta_log/00000000000000000010.checkpoint.parquet", root) == 0);
	for (int64_t v = -1; v <= 12; v += 11) {
		cl_snapshot *s = snap_at(t, v);
		CHECK(s);
		if (v < 0)
			CHECK(same_state(s, good));
		cl_snapshot_free(s);
	}
	/* without the early commits the damage is an error, not a guess */
	CHECK(sh("rm %s/_delta_log/00000000000000000001.json", root) == 0);
	cl_snapshot *s = NULL;
	CHECK(cl_table_snapshot(&s, t, NULL, &err) != 0);
	CHECK(strstr(err.message, "checkpoint") != NULL);
	cl_snapshot_free(good);
	cl_table_free(t);
}
