/*
 * test_diff_aligned.c — the diff's aligned (streaming) path against its
 * hash join: Parquet snapshots in nearly the same row order (deletes,
 * inserts, rows moved far ahead and back across chunks and row groups, a
 * widened column, a column on one side only, an ignored column whose type
 * differs between the sides) must give byte-identical output on both
 * paths (CL_DIFF_PATH) at 1 and 2 threads; duplicate keys the same error
 * (on one side, or the same duplicate on both sides in step).
 */
#include "test.h"

#include <stdlib.h>
#include <unistd.h>

#include "changelake/dataset.h"
#include "changelake/diff.h"
#include "changelake/io.h"
#include "core/buf.h"
#include "core/value_text.h"

#define NROWS 150000

/* OLD (right = false) or NEW; dup: a key written twice on that side. */
static int write_side(const char *path, bool right, bool dup, cl_error *err)
{
	cl_schema *s = NULL;
	cl_batch *b = NULL;
	int rc =
	    cl_schema_parse(&s,
	                    right ? "id int64, v int64, s string, ign string, extra int32"
	                          : "id int64, v int32, s string, ign int64",
	                    err);
	if (!rc)
		rc = cl_batch_create(&b, s, 0, err);
	/* NEW's order: i, except rows i % 1009 == 3 written 70000 rows later
	 * and rows i % 1013 == 5 written 50000 rows earlier */
	for (int64_t k = 0; !rc && k < NROWS + 70000; k++) {
		for (int pass = 0; pass < 3 && !rc; pass++) {
			int64_t i = pass == 0 ? k : pass == 1 ? k - 70000 : k + 50000;
			if (i < 0 || i >= NROWS)
				continue;
			bool late = right && i % 1009 == 3,
			     early = right && i % 1013 == 5;
			if ((pass == 0 && (late || early)) || (pass == 1 && !late) ||
			    (pass == 2 && !early))
				continue;
			if (right && i % 50 == 0)
				continue; /* deleted */
			int64_t v = i % 1000 + (right && i % 33 == 0);
			char t[32];
			int tn = snprintf(t, sizeof t, "s%lld", (long long)(i % 777));
			int reps = dup && i == 120001 ? 2 : 1;
			for (int r = 0; r < reps && !rc; r++) {
				rc = cl_column_append_i64(&b->cols[0], i * 3, err);
				if (!rc)
					rc = cl_column_append_i64(&b->cols[1], v, err);
				if (!rc)
					rc = i % 97 == 0
					         ? cl_column_append_null(&b->cols[2], err)
					         : cl_column_append_bytes(
					               &b->cols[2], t, (size_t)tn, err);
				if (!rc)
					rc = right ? cl_column_append_bytes(&b->cols[3],
					                                    "x", 1, err)
					           : cl_column_append_i64(&b->cols[3], i,
					                                  err);
				if (!rc && right)
					rc =
					    cl_column_append_i64(&b->cols[4], i % 5, err);
				b->nrows++;
			}
			if (!rc && right && pass == 0 && i % 40 == 0) { /* inserted */
				rc = cl_column_append_i64(&b->cols[0], i * 3 + 1, err);
				if (!rc)
					rc = cl_column_append_i64(&b->cols[1], v, err);
				if (!rc)
					rc = cl_column_append_bytes(&b->cols[2], "new", 3,
					                            err);
				if (!rc)
					rc = cl_column_append_bytes(&b->cols[3], "y", 1,
					                            err);
				if (!rc)
					rc = cl_column_append_i64(&b->cols[4], 9, err);
				b->nrows++;
			}
		}
	}
	if (!rc)
		rc = cl_test_write_parquet(path, s, b, right ? 40000 : 60000, err);
	cl_batch_free(b);
	cl_schema_free(s);
	return rc;
}

/* The diff's output as text, or the error message (prefixed "error: "). */
static char *run(const char *lp, const char *rp, const char *path, int threads, bool keep)
{
	static const char *const keys[] = {"id"}, *const ignore[] = {"ign"};
	cl_error err = {0};
	cl_dataset *l = NULL, *r = NULL;
	cl_diff *d = NULL;
	cl_buf out = {0};
	setenv("CL_DIFF_PATH", path, 1);
	cl_diff_options o;
	cl_diff_options_init(&o);
	o.keys = keys;
	o.nkeys = 1;
	o.ignore = ignore;
	o.nignore = 1;
	o.keep_unchanged = keep;
	o.threads = threads;
	int rc = cl_dataset_open(&l, lp, NULL, &err);
	rc = rc ? rc : cl_dataset_open(&r, rp, NULL, &err);
	rc =
	    rc ? rc
	       : cl_diff_create(&d, cl_dataset_schema(l), cl_dataset_schema(r), &o, &err);
	rc = rc ? rc : cl_diff_add_left_dataset(d, l, NULL, NULL, &err);
	rc = rc ? rc : cl_diff_add_right_dataset(d, r, NULL, NULL, &err);
	while (!rc) {
		cl_batch *b;
		if ((rc = cl_diff_next(d, &b, &err)) || !b)
			break;
		cl_test_batch_text(&out, b);
	}
	if (rc) {
		cl_buf_clear(&out);
		cl_buf_printf(&out, "error: %s", err.message);
	}
	char *res = cl_strdup(out.data ? (char *)out.data : "");
	cl_buf_release(&out);
	cl_diff_free(d);
	cl_dataset_free(l);
	cl_dataset_free(r);
	unsetenv("CL_DIFF_PATH");
	return res;
}

static void paths_agree(const char *lp, const char *rp, bool keep, bool want_error)
{
	char *ref = run(lp, rp, "hash", 1, keep);
	CHECK(ref != NULL);
	if (!ref)
		return;
	CHECK(want_error == !strncmp(ref, "error: ", 7));
	if (want_error)
		CHECK(strstr(ref, "duplicate key (id=360003)") != NULL);
	else
		CHECK(strlen(ref) > 1000);
	static const char *const paths[] = {"aligned", "", "hash"};
	for (int p = 0; p < 3; p++) {
		for (int t = 1; t <= 2; t++) {
			char *got = run(lp, rp, paths[p], t, keep);
			CHECK(got != NULL && !strcmp(got, ref));
			if (got && strcmp(got, ref))
				fprintf(
				    stderr,
				    "path '%s' threads %d differs:\n%.300s\nvs\n%.300s\n",
				    paths[p], t, got, ref);
			cl_free(got);
		}
	}
	cl_free(ref);
}

TEST(diff_aligned_same_as_hash)
{
	char dir[] = "/tmp/cl-diff-aligned-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char lp[128], rp[128], dp[128];
	snprintf(lp, sizeof lp, "%s/old.parquet", dir);
	snprintf(rp, sizeof rp, "%s/new.parquet", dir);
	snprintf(dp, sizeof dp, "%s/dup.parquet", dir);
	cl_error err = {0};
	CHECK_OK(write_side(lp, false, false, &err), &err);
	CHECK_OK(write_side(rp, true, false, &err), &err);
	paths_agree(lp, rp, false, false);
	paths_agree(lp, rp, true, false);
	/* a duplicate key in OLD, then in NEW */
	CHECK_OK(write_side(dp, false, true, &err), &err);
	paths_agree(dp, rp, false, true);
	CHECK_OK(write_side(dp, true, true, &err), &err);
	paths_agree(lp, dp, false, true);
	/* the same duplicate on both sides, in step: the two copies pair at
	 * the cursors (no delete, no insert), still a duplicate */
	char dp2[128];
	snprintf(dp2, sizeof dp2, "%s/dup2.parquet", dir);
	CHECK_OK(write_side(dp2, false, true, &err), &err);
	paths_agree(dp2, dp, false, true);
	unlink(lp);
	unlink(rp);
	unlink(dp);
	unlink(dp2);
	rmdir(dir);
}
