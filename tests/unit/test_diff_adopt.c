/*
 * test_diff_adopt.c — moving columns instead of copying them: cl_column_move,
 * and the diff taking OLD's Parquet batches over (cl__dstore_adopt through
 * cl__dataset_cursor_take), which must give exactly the output of the
 * copying path (the batch API).
 */
#include "test.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "changelake/dataset.h"
#include "changelake/diff.h"
#include "changelake/io.h"
#include "core/buf.h"
#include "core/value_text.h"

TEST(column_move_takes_buffers)
{
	cl_error err = {0};
	cl_column a, b;
	CHECK_OK(cl_column_init(&a, cl_type_make(CL_STRING), 0, &err), &err);
	CHECK_OK(cl_column_init(&b, cl_type_make(CL_STRING), 0, &err), &err);
	CHECK_OK(cl_column_append_bytes(&b, "old", 3, &err), &err);
	CHECK_OK(cl_column_append_bytes(&a, "x", 1, &err), &err);
	CHECK_OK(cl_column_append_null(&a, &err), &err);
	CHECK_OK(cl_column_append_bytes(&a, "yz", 2, &err), &err);
	const uint8_t *data = a.data;
	/* b's own buffers are released (the leak checker sees it otherwise) */
	CHECK_OK(cl_column_move(&b, &a, &err), &err);
	CHECK(b.data == data);
	CHECK_EQ_INT(b.length, 3);
	CHECK_EQ_INT(b.null_count, 1);
	CHECK(cl_column_is_null(&b, 1));
	size_t n;
	const uint8_t *p = cl_column_get_bytes(&b, 2, &n);
	CHECK(n == 2 && !memcmp(p, "yz", 2));
	/* the source is an empty column of the same type, usable again */
	CHECK_EQ_INT(a.length, 0);
	CHECK_EQ_INT(a.null_count, 0);
	CHECK(a.type.id == CL_STRING && a.validity == NULL && a.data == NULL);
	CHECK(a.offsets && a.offsets[0] == 0);
	CHECK_OK(cl_column_append_bytes(&a, "again", 5, &err), &err);
	p = cl_column_get_bytes(&a, 0, &n);
	CHECK(n == 5 && !memcmp(p, "again", 5));
	CHECK_OK(cl_batch_validate(&(cl_batch){1, 1, &a}, &err), &err);
	CHECK_OK(cl_batch_validate(&(cl_batch){3, 1, &b}, &err), &err);
	cl_column_release(&a);
	cl_column_release(&b);

	cl_column x, y;
	CHECK_OK(cl_column_init(&x, cl_type_make(CL_INT64), 0, &err), &err);
	CHECK_OK(cl_column_init(&y, cl_type_make(CL_INT64), 0, &err), &err);
	for (int64_t i = 0; i < 1000; i++)
		CHECK_OK(cl_column_append_i64(&x, i * 7, &err), &err);
	CHECK_OK(cl_column_move(&y, &x, &err), &err);
	CHECK_EQ_INT(y.length, 1000);
	CHECK_EQ_INT(cl_column_get_i64(&y, 999), 999 * 7);
	CHECK_EQ_INT(x.length, 0);
	CHECK(x.values == NULL && x.cap == 0);
	CHECK_OK(cl_column_append_i64(&x, 5, &err), &err);
	CHECK_EQ_INT(cl_column_get_i64(&x, 0), 5);
	cl_column_release(&x);
	cl_column_release(&y);
}

#define NROWS 100000 /* two reader batches: 65536 and 34464 rows */

static int write_side(const char *path, bool right, cl_error *err)
{
	cl_schema *s = NULL;
	cl_batch *b = NULL;
	int rc = cl_schema_parse(&s, right ? "id int64, v int64, s string"
					   : "id int64, v int32, s string", err);
	if (!rc)
		rc = cl_batch_create(&b, s, 0, err);
	for (int64_t i = 0; !rc && i < NROWS; i++) {
		if (right && i % 50 == 0)
			continue; /* deleted */
		int64_t v = i % 1000 + (right && i % 33 == 0);
		char t[32];
		int tn = snprintf(t, sizeof t, "s%lld", (long long)(i % 777));
		rc = cl_column_append_i64(&b->cols[0], i * 3, err);
		if (!rc)
			rc = cl_column_append_i64(&b->cols[1], v, err);
		if (!rc)
			rc = i % 97 == 0 ? cl_column_append_null(&b->cols[2], err)
					 : cl_column_append_bytes(&b->cols[2], t, (size_t)tn, err);
		b->nrows++;
		if (!rc && right && i % 40 == 0) { /* inserted */
			rc = cl_column_append_i64(&b->cols[0], i * 3 + 1, err);
			if (!rc)
				rc = cl_column_append_i64(&b->cols[1], v, err);
			if (!rc)
				rc = cl_column_append_bytes(&b->cols[2], "new", 3, err);
			b->nrows++;
		}
	}
	if (!rc)
		rc = cl_test_write_parquet(path, s, b, 0, err);
	cl_batch_free(b);
	cl_schema_free(s);
	return rc;
}

/* The diff of two datasets: through the dataset API (OLD's batches taken
 * over) or batch by batch through cl_diff_add_left/right (copied). */
static char *run(const char *ld, const char *rd, bool batches, int threads,
		 int64_t memory_limit, cl_error *err)
{
	static const char *const keys[] = {"id"};
	cl_dataset *l = NULL, *r = NULL;
	cl_diff *d = NULL;
	cl_buf out = {0};
	char *res = NULL;
	cl_diff_options o;
	cl_diff_options_init(&o);
	o.keys = keys;
	o.nkeys = 1;
	o.keep_unchanged = true;
	o.threads = threads;
	o.memory_limit = memory_limit;
	if (cl_dataset_open(&l, ld, NULL, err) || cl_dataset_open(&r, rd, NULL, err) ||
	    cl_diff_create(&d, cl_dataset_schema(l), cl_dataset_schema(r), &o, err))
		goto done;
	if (batches) {
		for (int side = 0; side < 2; side++) {
			cl_dataset *ds = side ? r : l;
			for (;;) {
				cl_batch *b;
				if (cl_dataset_next(ds, &b, err))
					goto done;
				if (!b)
					break;
				if ((side ? cl_diff_add_right : cl_diff_add_left)(
					    d, b, cl_dataset_file(ds), cl_dataset_first_row(ds), err))
					goto done;
			}
		}
	} else if (cl_diff_add_left_dataset(d, l, NULL, NULL, err) ||
		   cl_diff_add_right_dataset(d, r, NULL, NULL, err)) {
		goto done;
	}
	for (;;) {
		cl_batch *b;
		if (cl_diff_next(d, &b, err))
			goto done;
		if (!b)
			break;
		cl_test_batch_text(&out, b);
	}
	res = cl_strdup(out.data ? (char *)out.data : "");
done:
	cl_buf_release(&out);
	cl_diff_free(d);
	cl_dataset_free(l);
	cl_dataset_free(r);
	return res;
}

static int64_t count_prefix(const char *text, const char *prefix)
{
	int64_t n = 0;
	size_t pl = strlen(prefix);
	for (const char *p = text; p && *p;) {
		n += !strncmp(p, prefix, pl);
		const char *e = strchr(p, '\n');
		p = e ? e + 1 : NULL;
	}
	return n;
}

TEST(diff_adopt_parquet_same_as_copy)
{
	char dir[] = "/tmp/cl-diff-adopt-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char ld[64], rd[64], lp[128], rp[128], lf[256], rf[256];
	/* Hive folders: the partition column is made by the cursor (owned) */
	snprintf(ld, sizeof ld, "%s/l", dir);
	snprintf(rd, sizeof rd, "%s/r", dir);
	snprintf(lp, sizeof lp, "%s/p=a", ld);
	snprintf(rp, sizeof rp, "%s/p=a", rd);
	mkdir(ld, 0700);
	mkdir(rd, 0700);
	mkdir(lp, 0700);
	mkdir(rp, 0700);
	snprintf(lf, sizeof lf, "%s/part.parquet", lp);
	snprintf(rf, sizeof rf, "%s/part.parquet", rp);
	cl_error err = {0};
	int wl = write_side(lf, false, &err);
	int wr = wl ? wl : write_side(rf, true, &err);
	char *copied = wl || wr ? NULL : run(ld, rd, true, 1, 0, &err);
	if (!copied)
		cl_test_fail(__FILE__, __LINE__, "diff failed: %s", err.message);
	bool same = true;
	for (int t = 1; copied && t <= 2; t++) {
		char *taken = run(ld, rd, false, t, 0, &err);
		if (!taken)
			cl_test_fail(__FILE__, __LINE__, "diff failed: %s", err.message);
		same &= taken && !strcmp(taken, copied);
		cl_free(taken);
	}
	/* partitioned to disk half way through OLD: taken rows spill too */
	char *spilled = copied ? run(ld, rd, false, 2, 3 << 20, &err) : NULL;
	same &= spilled && !strcmp(spilled, copied);
	cl_free(spilled);
	int64_t del = 0, ins = 0, chg = 0;
	for (int64_t i = 0; i < NROWS; i++) {
		del += i % 50 == 0;
		ins += i % 40 == 0 && i % 50 != 0;
		chg += i % 50 != 0 && i % 33 == 0;
	}
	int64_t nd = count_prefix(copied, "D|"), ni = count_prefix(copied, "I|");
	int64_t nc = count_prefix(copied, "C|"), nn = count_prefix(copied, "N|");
	unlink(lf);
	unlink(rf);
	rmdir(lp);
	rmdir(rp);
	rmdir(ld);
	rmdir(rd);
	rmdir(dir);
	cl_free(copied);
	CHECK(same);
	CHECK_EQ_INT(nd, del);
	CHECK_EQ_INT(ni, ins);
	CHECK_EQ_INT(nc, chg);
	CHECK_EQ_INT(nn, NROWS - del - chg);
}
