/*
 * test_diff_merge.c — the order of the diff's output: the merge of the
 * workers' sorted runs on several threads (each batch found on its own in
 * the runs, diff_merge.c) and the radix sort of a single integer key
 * (diff_output.c). Every thread count, batch size and memory limit must
 * give the same bytes and the same duplicate-key error as one thread.
 */
#include "test.h"

#include <stdlib.h>
#include <string.h>

#include "changelake/diff.h"
#include "core/buf.h"
#include "core/value_text.h"

/* The output as text ("header\nrow\n..."), or NULL with err set. */
static char *run(const char *schema, const char *l, const char *r, const char *const *keys,
		 int nkeys, int threads, int64_t batch_rows, int64_t memory_limit,
		 bool allow_dups, cl_error *err)
{
	cl_schema *ls = NULL, *rs = NULL;
	cl_batch *lb = NULL, *rb = NULL;
	cl_diff *d = NULL;
	cl_buf out = {0};
	char *res = NULL;
	cl_diff_options o;
	cl_diff_options_init(&o);
	o.keys = keys;
	o.nkeys = nkeys;
	o.keep_unchanged = true;
	o.threads = threads;
	o.batch_rows = batch_rows;
	o.memory_limit = memory_limit;
	o.allow_duplicate_keys = allow_dups;
	if (cl_test_batch_parse(&ls, &lb, schema, l) ||
	    cl_test_batch_parse(&rs, &rb, schema, r) ||
	    cl_diff_create(&d, ls, rs, &o, err) ||
	    cl_diff_add_left(d, lb, "left.csv", 1, err) ||
	    cl_diff_add_right(d, rb, "right.csv", 1, err))
		goto done;
	for (;;) {
		cl_batch *b;
		if (cl_diff_next(d, &b, err))
			goto done;
		if (!b)
			break;
		if (batch_rows > 0 && b->nrows > batch_rows) {
			cl_error_set(err, CL_EINTERNAL, "a batch of %lld rows", (long long)b->nrows);
			goto done;
		}
		cl_test_batch_text(&out, b);
	}
	res = cl_strdup(out.data ? (char *)out.data : "");
done:
	cl_buf_release(&out);
	cl_diff_free(d);
	cl_batch_free(lb);
	cl_batch_free(rb);
	cl_schema_free(ls);
	cl_schema_free(rs);
	return res;
}

static const char *k_id[] = {"id"};
static const char *k_two[] = {"id", "k2"};

/* OLD and NEW of n keys in a scrambled order: every 11th deleted, every
 * 7th changed, n / 6 inserted; key text by `flavor` (0 integer, 1 string,
 * 2 integer and a second key column). */
static void make_sides(cl_buf *l, cl_buf *r, int n, int flavor)
{
	for (int i = 0; i < n + n / 6; i++) {
		int k = (int)(((int64_t)i * 7919) % (n + n / 6));
		char key[64];
		if (flavor == 1)
			snprintf(key, sizeof key, "k%05d", k);
		else if (flavor == 2)
			snprintf(key, sizeof key, "%d|s%d", k % 97 - 40, k / 97);
		else
			snprintf(key, sizeof key, "%lld", (long long)(k % 2 ? -1 : 1) * k * 1000003LL);
		if (k < n)
			cl_buf_printf(l, "%s|v%d\n", key, k % 5);
		if (k >= n || k % 11)
			cl_buf_printf(r, "%s|v%d\n", key, k % 5 + (k % 7 == 0));
	}
}

TEST(diff_merge_threads_same_batches)
{
	const char *schemas[] = {"id int64, v string", "id string, v string",
				 "id int32, k2 string, v string"};
	const char *const *keys[] = {k_id, k_id, k_two};
	int nkeys[] = {1, 1, 2};
	int64_t batches[] = {1, 7, 64, 1000};
	for (int f = 0; f < 3; f++) {
		cl_buf l = {0}, r = {0};
		make_sides(&l, &r, f == 0 ? 3000 : 1500, f);
		cl_error err = {0};
		char *one = run(schemas[f], (char *)l.data, (char *)r.data, keys[f], nkeys[f], 1,
				0, 0, false, &err);
		if (!one)
			cl_test_fail(__FILE__, __LINE__, "flavor %d: %s", f, err.message);
		CHECK(one != NULL);
		CHECK(one && strstr(one, "\nI|") && strstr(one, "\nD|") && strstr(one, "\nC|") &&
		      strstr(one, "\nN|"));
		for (int t = 1; one && t <= 4; t++) {
			for (int bi = 0; bi < 4; bi++) {
				for (int spill = 0; spill < 2; spill++) {
					if (f && (bi == 0 || spill))
						continue; /* short enough */
					char *got = run(schemas[f], (char *)l.data, (char *)r.data,
							keys[f], nkeys[f], t, batches[bi],
							spill ? 16384 : 0, false, &err);
					if (!got || strcmp(got, one))
						cl_test_fail(__FILE__, __LINE__,
							     "flavor %d, %d threads, batches of %lld, "
							     "spill %d: %s",
							     f, t, (long long)batches[bi], spill,
							     got ? "other rows" : err.message);
					cl_free(got);
				}
			}
		}
		/* the integer keys come out ascending (negative ones first) */
		if (one && f == 0) {
			long long prev = 0;
			bool first = true, asc = true;
			for (const char *p = strchr(one, '\n'); p && p[1]; p = strchr(p + 1, '\n')) {
				long long k = strtoll(strchr(p + 1, '|') + 1, NULL, 10);
				asc &= first || k > prev;
				prev = k;
				first = false;
			}
			CHECK(asc);
		}
		cl_free(one);
		cl_buf_release(&l);
		cl_buf_release(&r);
	}
}

/*
 * Two inserts of one key are found by the merge: across a batch boundary
 * (the rows before and after it are merged by different threads), inside a
 * batch, and the first of two duplicates when a later batch (another
 * thread, maybe sooner) has one too: the same error at any thread count.
 */
TEST(diff_merge_threads_duplicate_across_batches)
{
	cl_buf r = {0};
	for (int k = 1; k <= 400; k++) {
		cl_buf_printf(&r, "%d|n%d\n", k, k);
		if (k == 100 || k == 300)
			cl_buf_printf(&r, "%d|again\n", k);
	}
	const char *want = "id=100";
	int64_t batches[] = {100, 64, 33, 1};
	for (int bi = 0; bi < 4; bi++) {
		char first[CL_ERROR_MSG_MAX] = "";
		for (int t = 1; t <= 4; t++) {
			cl_error err = {0};
			char *got = run("id int64, v string", "1000|x", (char *)r.data, k_id, 1, t,
					batches[bi], 0, false, &err);
			CHECK(got == NULL);
			cl_free(got);
			CHECK_EQ_INT(err.code, CL_EDUPKEY);
			if (!strstr(err.message, want))
				cl_test_fail(__FILE__, __LINE__, "batches of %lld, %d threads: %s",
					     (long long)batches[bi], t, err.message);
			if (t == 1)
				snprintf(first, sizeof first, "%s", err.message);
			else if (strcmp(first, err.message))
				cl_test_fail(__FILE__, __LINE__, "%d threads: '%s', 1 thread: '%s'",
					     t, err.message, first);
		}
	}
	cl_buf_release(&r);
}

/*
 * The radix sort of one integer key against the comparison sort of the
 * same numbers as DECIMAL(18,0) keys (not radix-sorted): the same rows in
 * the same order, duplicate keys (allowed) ordered by their positions,
 * negative keys first.
 */
TEST(diff_merge_radix_order_matches_compare_sort)
{
	cl_buf l = {0}, r = {0};
	for (int i = 0; i < 500; i++) {
		long long k = (long long)((i * 37) % 211 - 105) * 4294967311LL;
		cl_buf_printf(&l, "%lld|a%d\n", k, i % 3);
		if (i % 4)
			cl_buf_printf(&r, "%lld|a%d\n", k + (i % 9 == 0), i % 5);
	}
	for (int t = 1; t <= 2; t++) {
		cl_error err = {0};
		char *a = run("id int64, v string", (char *)l.data, (char *)r.data, k_id, 1, t,
			      0, 0, true, &err);
		char *b = run("id decimal(18,0), v string", (char *)l.data, (char *)r.data, k_id,
			      1, t, 0, 0, true, &err);
		CHECK(a != NULL && b != NULL);
		if (a && b && strcmp(a, b))
			cl_test_fail(__FILE__, __LINE__, "int64:\n%.400s\ndecimal:\n%.400s", a, b);
		cl_free(a);
		cl_free(b);
	}
	cl_buf_release(&l);
	cl_buf_release(&r);
}
