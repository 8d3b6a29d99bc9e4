/*
 * test_diff_probe.c — the hash join's probe with per-worker matched bits
 * (diff_join.c): a NEW key matched twice is reported with both of its NEW
 * rows whether the two rows were probed by one worker (found at once) or
 * by two (found when the workers' bits are folded), at 1 to 4 threads and
 * spilled; with --allow-duplicate-keys the output is the same at any
 * thread count. NEW is a Parquet file of many small row groups, so the
 * workers share its rows.
 */
#include "test.h"

#include <stdlib.h>
#include <unistd.h>

#include "changelake/dataset.h"
#include "changelake/diff.h"
#include "changelake/io.h"
#include "core/buf.h"
#include "core/value_text.h"

#define N 40000

/* Keys 0..N-1 in a shuffled order; NEW (dup_at >= 0) repeats the key of
 * row 5 at row dup_at. */
static int write_side(const char *path, bool right, int64_t dup_at, cl_error *err)
{
	cl_schema *s = NULL;
	cl_batch *b = NULL;
	int rc = cl_schema_parse(&s, "id int64, v int64", err);
	if (!rc)
		rc = cl_batch_create(&b, s, 0, err);
	for (int64_t k = 0; !rc && k < N; k++) {
		int64_t i = right ? k * 7919 % N : k;
		if (right && k == dup_at)
			i = 5 * 7919 % N;
		rc = cl_column_append_i64(&b->cols[0], i, err);
		if (!rc)
			rc = cl_column_append_i64(&b->cols[1], i + (right && i % 7 == 0), err);
		b->nrows++;
	}
	if (!rc)
		rc = cl_test_write_parquet(path, s, b, 2000, err);
	cl_batch_free(b);
	cl_schema_free(s);
	return rc;
}

/* The output as text, or "error: " and the message. */
static char *run(const char *lp, const char *rp, int threads, bool dups, int64_t limit)
{
	static const char *const keys[] = {"id"};
	cl_error err = {0};
	cl_dataset *l = NULL, *r = NULL;
	cl_diff *d = NULL;
	cl_buf out = {0};
	setenv("CL_DIFF_PATH", "hash", 1);
	cl_diff_options o;
	cl_diff_options_init(&o);
	o.keys = keys;
	o.nkeys = 1;
	o.threads = threads;
	o.allow_duplicate_keys = dups;
	o.keep_unchanged = true;
	o.memory_limit = limit;
	o.tmp_dir = cl_test_tmpdir();
	int rc = cl_dataset_open(&l, lp, NULL, &err);
	rc = rc ? rc : cl_dataset_open(&r, rp, NULL, &err);
	rc = rc ? rc : cl_diff_create(&d, cl_dataset_schema(l), cl_dataset_schema(r), &o, &err);
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
	cl_diff_free(d);
	cl_dataset_free(l);
	cl_dataset_free(r);
	unsetenv("CL_DIFF_PATH");
	char *res = cl_strdup(out.data ? (char *)out.data : "");
	cl_buf_release(&out);
	return res;
}

TEST(diff_probe_duplicate_right_key_any_worker)
{
	const char *dir = cl_test_tmpdir();
	char lp[512], rp[512];
	snprintf(lp, sizeof lp, "%s/old.parquet", dir);
	snprintf(rp, sizeof rp, "%s/new.parquet", dir);
	cl_error err = {0};
	CHECK_OK(write_side(lp, false, -1, &err), &err);
	/* the second row of the key in the same row group as the first, in the
	 * next one and 15 row groups later (the workers take row groups as
	 * they come: on another worker, mostly) */
	int64_t at[] = {900, 2500, 31000};
	for (int a = 0; a < 3; a++) {
		CHECK_OK(write_side(rp, true, at[a], &err), &err);
		char want[256], rows[1200];
		snprintf(want, sizeof want, "duplicate key (id=%d) in ", 5 * 7919 % N);
		snprintf(rows, sizeof rows, ": %s row 6 and %s row %lld", rp, rp,
			 (long long)at[a] + 1);
		int64_t limits[] = {0, 200000};
		for (int t = 1; t <= 4; t++) {
			for (int m = 0; m < 2; m++) {
				char *got = run(lp, rp, t, false, limits[m]);
				bool ok = got && strstr(got, want) && strstr(got, rows);
				if (!ok)
					fprintf(stderr, "threads %d limit %lld: %.300s\nwant %s...%s\n",
						t, (long long)limits[m], got ? got : "", want, rows);
				cl_free(got);
				CHECK(ok);
			}
		}
		/* allowed: the same rows at any thread count, in memory or spilled */
		char *ref = run(lp, rp, 1, true, 0);
		CHECK(ref != NULL && strncmp(ref, "error: ", 7) && strlen(ref) > 100000);
		for (int t = 2; t <= 4; t++) {
			for (int m = 0; m < 2; m++) {
				char *got = run(lp, rp, t, true, limits[m]);
				bool same = got && !strcmp(got, ref);
				cl_free(got);
				if (!same)
					cl_free(ref);
				CHECK(same);
			}
		}
		cl_free(ref);
	}
}
