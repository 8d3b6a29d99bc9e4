/*
 * test_diff_giveup.c — the aligned path's cheap give-up test (pre_giveup in
 * diff_aligned.c): the walk replayed on the keys of each side's first rows
 * decides a shuffled pair for the hash path before any row group is read
 * in full, leaves every other pair to the walk (nearly aligned, disorder
 * only past its first rows, NEW not Parquet, NEW's first row group shorter
 * than the rows replayed), and never changes the output
 * (byte-identical to the hash path at 1 and 2 threads). Which path ran is
 * read from the CL_DIFF_TRACE lines on standard error.
 */
#include "test.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "changelake/dataset.h"
#include "changelake/diff.h"
#include "changelake/io.h"
#include "core/buf.h"
#include "core/value_text.h"

#define N 60000

/* NEW's order of OLD's rows */
enum { ORD_SHUFFLED, ORD_HEAD_SHUFFLED, ORD_TAIL_SHUFFLED };

/* Row k of NEW (k in [0, N)) is OLD's row order(k). */
static int64_t order(int ord, int64_t k)
{
	switch (ord) {
	case ORD_SHUFFLED:
		return k * 7919 % N;
	case ORD_HEAD_SHUFFLED: /* the first 2000 rows permuted among themselves */
		return k < 2000 ? k * 7 % 2000 : k;
	default: /* the first 20000 rows in order, the rest permuted */
		return k < 20000 ? k : 20000 + (k - 20000) * 7919 % (N - 20000);
	}
}

/* OLD (ord < 0) or NEW in order `ord`: id = 3 * i, v changed in every
 * 10th row, every 50th row deleted from NEW and an insert per 40 rows. */
static int write_side(const char *path, int ord, int64_t rg, cl_error *err)
{
	cl_schema *s = NULL;
	cl_batch *b = NULL;
	int rc = cl_schema_parse(&s, "id int64, v int64, s string", err);
	if (!rc)
		rc = cl_batch_create(&b, s, 0, err);
	for (int64_t k = 0; !rc && k < N; k++) {
		int64_t i = ord < 0 ? k : order(ord, k);
		if (ord >= 0 && i % 50 == 7)
			continue;
		char t[32];
		int tn = snprintf(t, sizeof t, "s%lld", (long long)(i % 777));
		rc = cl_column_append_i64(&b->cols[0], i * 3, err);
		if (!rc)
			rc = cl_column_append_i64(&b->cols[1], i + (ord >= 0 && i % 10 == 0), err);
		if (!rc)
			rc = cl_column_append_bytes(&b->cols[2], t, (size_t)tn, err);
		b->nrows++;
		if (!rc && ord >= 0 && k % 40 == 0) {
			rc = cl_column_append_i64(&b->cols[0], i * 3 + 1, err);
			if (!rc)
				rc = cl_column_append_i64(&b->cols[1], -1, err);
			if (!rc)
				rc = cl_column_append_bytes(&b->cols[2], "new", 3, err);
			b->nrows++;
		}
	}
	if (!rc)
		rc = cl_test_write_parquet(path, s, b, rg, err);
	cl_batch_free(b);
	cl_schema_free(s);
	return rc;
}

/*
 * The diff's output as text (or "error: ..."), and in *trace what
 * CL_DIFF_TRACE wrote about the aligned path (the caller frees both).
 */
static char *run(const char *lp, const char *rp, const char *path, int threads,
		 char **trace)
{
	static const char *const keys[] = {"id"};
	cl_error err = {0};
	cl_dataset *l = NULL, *r = NULL;
	cl_diff *d = NULL;
	cl_buf out = {0};
	char tp[512];
	snprintf(tp, sizeof tp, "%s/trace.txt", cl_test_tmpdir());
	fflush(stderr);
	int saved = dup(2), fd = open(tp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd >= 0) {
		dup2(fd, 2);
		close(fd);
	}
	setenv("CL_DIFF_PATH", path, 1);
	setenv("CL_DIFF_TRACE", "1", 1);
	cl_diff_options o;
	cl_diff_options_init(&o);
	o.keys = keys;
	o.nkeys = 1;
	o.threads = threads;
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
	unsetenv("CL_DIFF_TRACE");
	fflush(stderr);
	if (saved >= 0) {
		dup2(saved, 2);
		close(saved);
	}
	/* the trace's aligned-path line */
	cl_buf t = {0};
	FILE *f = fopen(tp, "r");
	char line[1024];
	while (f && fgets(line, sizeof line, f))
		if (strstr(line, "aligned path: ") && !strstr(line, "OLD deferred"))
			cl_buf_printf(&t, "%s", line);
	if (f)
		fclose(f);
	*trace = cl_strdup(t.data ? (char *)t.data : "");
	cl_buf_release(&t);
	char *res = cl_strdup(out.data ? (char *)out.data : "");
	cl_buf_release(&out);
	return res;
}

/*
 * The auto path's trace must match want (and contain early, or not: the
 * give-up decided on the first rows' keys), its output equal the hash
 * path's at 1 and 2 threads.
 */
static void check_pair(const char *lp, const char *rp, const char *want, bool early)
{
	char *tr = NULL;
	char *ref = run(lp, rp, "hash", 1, &tr);
	CHECK(ref != NULL && strlen(ref) > 10000 && strncmp(ref, "error: ", 7));
	cl_free(tr);
	for (int t = 1; t <= 2; t++) {
		char *got = run(lp, rp, "", t, &tr);
		bool same = got && !strcmp(got, ref);
		bool path_ok = tr && strstr(tr, want) &&
			       (strstr(tr, "on the first batches' keys") != NULL) == early;
		if (!same || !path_ok)
			fprintf(stderr, "threads %d: trace '%s', output %s\n", t, tr ? tr : "",
				same ? "same" : "differs");
		cl_free(got);
		cl_free(tr);
		CHECK(same);
		CHECK(path_ok);
	}
	cl_free(ref);
}

TEST(diff_giveup_early_on_shuffled_keys)
{
	const char *dir = cl_test_tmpdir();
	char lp[512], rp[512], cp[512];
	snprintf(lp, sizeof lp, "%s/old.parquet", dir);
	snprintf(rp, sizeof rp, "%s/new.parquet", dir);
	snprintf(cp, sizeof cp, "%s/new.csv", dir);
	cl_error err = {0};
	CHECK_OK(write_side(lp, -1, 40000, &err), &err);
	/* shuffled: decided on the first rows' keys */
	CHECK_OK(write_side(rp, ORD_SHUFFLED, 40000, &err), &err);
	check_pair(lp, rp, "gave up: not aligned", true);
	/* NEW as CSV: no replay, the walk gives up as before */
	{
		cl_dataset *r = NULL;
		cl_writer *w = NULL;
		cl_batch *b = NULL;
		int rc = cl_dataset_open(&r, rp, NULL, &err);
		if (!rc)
			rc = cl_writer_open(&w, cp, cl_dataset_schema(r), NULL, &err);
		while (!rc && !(rc = cl_dataset_next(r, &b, &err)) && b)
			rc = cl_writer_write(w, b, &err);
		if (!rc)
			rc = cl_writer_close(w, &err);
		cl_writer_free(w);
		cl_dataset_free(r);
		CHECK_OK(rc, &err);
	}
	check_pair(lp, cp, "gave up: not aligned", false);
	/* disorder only among the first rows: the walk runs and is used */
	CHECK_OK(write_side(rp, ORD_HEAD_SHUFFLED, 40000, &err), &err);
	check_pair(lp, rp, "aligned path: used", false);
	/* disorder only past the replayed rows: the walk gives up later */
	CHECK_OK(write_side(rp, ORD_TAIL_SHUFFLED, 40000, &err), &err);
	check_pair(lp, rp, "gave up: not aligned", false);
	/* NEW's first row group smaller than the replayed rows: the walk's
	 * first chunk ends there, so does the replay (undecided: too few rows
	 * to give up), and the walk gives up later */
	CHECK_OK(write_side(rp, ORD_SHUFFLED, 3000, &err), &err);
	check_pair(lp, rp, "gave up: not aligned", false);
}
