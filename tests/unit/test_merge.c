/* test_merge.c — folding change records into the last change per key. */
#include "test.h"

#include "changelake.h"
#include "changelake/merge.h"
#include "core/buf.h"
#include "core/value_text.h"

/* A batch of changes written as text: schema "id int64, v string"; rows
 * separated by '|', fields by ',', the first field the op; an empty field
 * is NULL. */
typedef struct tbatch {
	cl_schema *schema;
	cl_batch *batch;
	char ops[256];
} tbatch;

static int tb_make(tbatch *t, const char *schema, const char *rows)
{
	cl_error e = {0};
	memset(t, 0, sizeof *t);
	if (cl_schema_parse(&t->schema, schema, &e) ||
	    cl_batch_create(&t->batch, t->schema, 0, &e))
		return -1;
	const char *p = rows;
	while (*p) {
		const char *end = strchr(p, '|');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		t->ops[t->batch->nrows] = p[0];
		const char *f = p + 2;
		for (int c = 0; c < t->schema->nfields; c++) {
			const char *q = f;
			while (q < p + n && *q != ',')
				q++;
			int rc = q == f ? cl_column_append_null(&t->batch->cols[c], &e)
					: cl__column_append_text(&t->batch->cols[c], f, (size_t)(q - f), &e);
			if (rc)
				return -1;
			f = q + 1;
		}
		t->batch->nrows++;
		p += n;
		if (*p == '|')
			p++;
	}
	return 0;
}

static void tb_free(tbatch *t)
{
	cl_schema_free(t->schema);
	cl_batch_free(t->batch);
}

static int feed(cl_merge *m, const char *schema, const char *rows, const char *file,
		int64_t key, cl_error *e)
{
	tbatch t;
	if (tb_make(&t, schema, rows)) {
		tb_free(&t);
		return cl_error_set(e, CL_EINVAL, "bad test batch");
	}
	cl_change_batch cb = {t.schema, t.batch, t.ops, 0, file, key};
	int rc = cl_merge_add(m, &cb, e);
	tb_free(&t);
	return rc;
}

/* Rows of a batch as "a,b,c" lines joined by '|', NULL as "-". */
static char *render(const cl_batch *b, int ncols)
{
	cl_buf out = {0};
	for (int64_t r = 0; r < b->nrows; r++) {
		if (r)
			cl_buf_putc(&out, '|');
		for (int c = 0; c < ncols; c++) {
			if (c)
				cl_buf_putc(&out, ',');
			if (cl_column_is_null(&b->cols[c], r))
				cl_buf_putc(&out, '-');
			else
				cl__value_format(&out, &b->cols[c], r);
		}
	}
	if (!out.data)
		cl_buf_puts(&out, "");
	return (char *)out.data;
}

#define S2 "id int64, v string"

static cl_merge *new_merge(const char *seq, bool ignore_null, int nkeys)
{
	static const char *keys[] = {"id"};
	cl_merge_options o;
	cl_merge_options_init(&o);
	o.keys = keys;
	o.nkeys = nkeys;
	o.sequence_by = seq;
	o.ignore_null_updates = ignore_null;
	cl_merge *m = NULL;
	cl_error e = {0};
	cl_merge_create(&m, NULL, &o, &e);
	return m;
}

/* Result of m as "upserts / deletes" with data columns only. */
static int outcome(cl_merge *m, char **up, char **del, int with_seq)
{
	const cl_schema *s;
	cl_batch *u, *d;
	cl_error e = {0};
	if (cl_merge_result(m, &s, &u, &d, &e))
		return -1;
	int n = s->nfields - (with_seq ? 0 : 2);
	*up = render(u, n);
	*del = render(d, n);
	cl_batch_free(u);
	cl_batch_free(d);
	return 0;
}

TEST(merge_last_change_wins)
{
	cl_merge *m = new_merge(NULL, false, 1);
	cl_error e = {0};
	CHECK(m);
	CHECK_OK(feed(m, S2, "I,1,a|I,2,b|I,3,c", "LOAD1", -1000, &e), &e);
	CHECK_OK(feed(m, S2, "U,1,a1|D,2,b|U,1,a2|I,4,d", "cdc1", 100, &e), &e);
	CHECK_OK(feed(m, S2, "D,4,d|I,2,b2|U,3,", "cdc2", 200, &e), &e);
	char *up, *del;
	CHECK(outcome(m, &up, &del, 1) == 0);
	/* 1: last update (cdc1 row 2); 2: re-inserted; 3: updated to NULL
	   (not coalesced with the old value); 4: deleted. */
	CHECK_STR(up, "1,a2,100,2|2,b2,200,1|3,-,200,2");
	CHECK_STR(del, "4,d,200,0");
	const cl_merge_stats *st = cl_merge_get_stats(m);
	CHECK_EQ_INT(st->files, 3);
	CHECK_EQ_INT(st->rows, 10);
	CHECK_EQ_INT(st->inserts, 5);
	CHECK_EQ_INT(st->updates, 3);
	CHECK_EQ_INT(st->deletes, 2);
	CHECK_EQ_INT(st->keys, 4);
	cl_free(up);
	cl_free(del);
	cl_merge_free(m);
}

TEST(merge_ignore_null_updates)
{
	cl_merge *m = new_merge(NULL, true, 1);
	cl_error e = {0};
	const char *S3 = "id int64, a string, b int32";
	CHECK_OK(feed(m, S3, "U,1,x,|U,1,,5|I,2,p,|U,2,,7|U,3,,9|D,4,,|U,4,,1", "cdc1", 1, &e), &e);
	CHECK_OK(feed(m, S3, "U,3,,", "cdc2", 2, &e), &e);
	CHECK_OK(cl_merge_finish(m, &e), &e);
	/* The table's current rows: key 3 has a=t3,b=30 (older); key 1 too. */
	tbatch t;
	CHECK(tb_make(&t, "id int64, a string, b int32, _cl_seq_file int64, _cl_seq_row int64",
		      "I,1,t1,10,0,0|I,3,t3,30,0,1|I,9,t9,90,0,2") == 0);
	CHECK_OK(cl_merge_resolve(m, t.schema, t.batch, &e), &e);
	tb_free(&t);
	char *up, *del;
	CHECK(outcome(m, &up, &del, 0) == 0);
	/* 1: a from the first update, b from the second; 2: a from the insert,
	   b from the update; 3: b from the earlier update of this run, a from
	   the table's row; 4: deleted then updated: no base, NULLs stay. */
	CHECK_STR(up, "1,x,5|2,p,7|4,-,1|3,t3,9");
	CHECK_STR(del, "");
	cl_free(up);
	cl_free(del);
	cl_merge_free(m);
}

TEST(merge_stale_changes_ignored)
{
	cl_merge *m = new_merge(NULL, false, 1);
	cl_error e = {0};
	CHECK_OK(feed(m, S2, "U,1,late|D,2,|U,3,new|I,5,x", "cdc-late", 100, &e), &e);
	CHECK_OK(cl_merge_finish(m, &e), &e);
	tbatch t;
	/* 1 was written by a newer file, 2 by the same file and row (a replay),
	   3 by an older one; 5 by another writer (no sequence). */
	CHECK(tb_make(&t, "id int64, v string, _cl_seq_file int64, _cl_seq_row int64",
		      "I,1,cur,200,0|I,2,cur,100,1|I,3,cur,99,7|I,5,other,,") == 0);
	CHECK_OK(cl_merge_resolve(m, t.schema, t.batch, &e), &e);
	tb_free(&t);
	char *up, *del;
	CHECK(outcome(m, &up, &del, 0) == 0);
	CHECK_STR(up, "3,new|5,x");
	CHECK_STR(del, "");
	CHECK_EQ_INT(cl_merge_get_stats(m)->stale, 2);
	cl_free(up);
	cl_free(del);
	cl_merge_free(m);
}

TEST(merge_full_load_before_cdc_whatever_timestamps)
{
	/* The reference job's bug: full-load rows stamped after later CDC
	   changes resurrect deleted rows. */
	cl_merge *m = new_merge("ts", false, 1);
	cl_error e = {0};
	const char *S = "id int64, ts timestamp, v string";
	CHECK_OK(feed(m, S, "I,1,2024-01-02 00:00:00,load|I,2,2024-01-02 00:00:00,load", "LOAD1",
		      -1000, &e), &e);
	CHECK_OK(feed(m, S, "D,1,2024-01-01 00:00:00,|U,2,2024-01-01 00:00:00,cdc", "cdc1", 5,
		      &e), &e);
	char *up, *del;
	CHECK(outcome(m, &up, &del, 0) == 0);
	CHECK_STR(up, "2,2024-01-01 00:00:00,cdc");
	CHECK_STR(del, "1,2024-01-01 00:00:00,-");
	cl_free(up);
	cl_free(del);
	cl_merge_free(m);
	/* And against the table: a full-load row never replaces a CDC row. */
	m = new_merge(NULL, false, 1);
	CHECK_OK(feed(m, S2, "I,1,reload", "LOAD1", -1000, &e), &e);
	CHECK_OK(cl_merge_finish(m, &e), &e);
	tbatch t;
	CHECK(tb_make(&t, "id int64, v string, _cl_seq_file int64, _cl_seq_row int64",
		      "I,1,cdc,1,0") == 0);
	CHECK_OK(cl_merge_resolve(m, t.schema, t.batch, &e), &e);
	tb_free(&t);
	CHECK(outcome(m, &up, &del, 0) == 0);
	CHECK_STR(up, "");
	cl_free(up);
	cl_free(del);
	cl_merge_free(m);
}

TEST(merge_sequence_by_ties_and_order)
{
	cl_merge *m = new_merge("seq", false, 1);
	cl_error e = {0};
	const char *S = "id int64, seq int64, v string";
	/* Within one file: equal sequence values, the later row wins; an older
	   sequence value in a later file loses. */
	CHECK_OK(feed(m, S, "U,1,5,first|U,1,5,second|U,2,9,b9", "cdc1", 10, &e), &e);
	CHECK_OK(feed(m, S, "U,2,3,b3|U,1,5,third", "cdc2", 20, &e), &e);
	char *up, *del;
	CHECK(outcome(m, &up, &del, 1) == 0);
	CHECK_STR(up, "2,9,b9,10,2|1,5,third,20,1");
	cl_free(up);
	cl_free(del);
	cl_merge_free(m);

	m = new_merge("seq", false, 1);
	CHECK(feed(m, S, "U,1,5,a|U,2,,b", "cdc9.csv", 10, &e) == CL_EFORMAT);
	CHECK(strstr(e.message, "cdc9.csv: row 2") != NULL);
	CHECK(strstr(e.message, "'seq' is NULL") != NULL);
	cl_merge_free(m);
}

TEST(merge_append_only_without_keys)
{
	cl_merge *m = new_merge(NULL, false, 0);
	cl_error e = {0};
	CHECK_OK(feed(m, S2, "I,1,a|U,1,b|I,1,c|D,1,", "cdc1", 1, &e), &e);
	char *up, *del;
	CHECK(outcome(m, &up, &del, 0) == 0);
	CHECK_STR(up, "1,a|1,c");
	CHECK_STR(del, "");
	CHECK_EQ_INT(cl_merge_get_stats(m)->ignored, 2);
	cl_free(up);
	cl_free(del);
	cl_merge_free(m);
}

TEST(merge_schema_evolution_and_errors)
{
	cl_merge *m = new_merge(NULL, false, 1);
	cl_error e = {0};
	CHECK_OK(feed(m, "id int64, a int32", "I,1,10|I,2,20", "LOAD1", -1000, &e), &e);
	/* b appears; a disappears; values given as text convert to the
	   learned types. */
	CHECK_OK(feed(m, "id string, b string", "U,1,new|I,3,x", "cdc1", 1, &e), &e);
	char *up, *del;
	CHECK(outcome(m, &up, &del, 0) == 0);
	CHECK_STR(up, "2,20,-|1,-,new|3,-,x");
	cl_free(up);
	cl_free(del);
	cl_merge_free(m);

	m = new_merge(NULL, false, 1);
	CHECK_OK(feed(m, "id int64, a int32", "I,1,10", "LOAD1", -1000, &e), &e);
	CHECK(feed(m, "id int64, a string", "U,1,10|U,1,ten", "cdc7.csv", 1, &e) == CL_ETYPE);
	CHECK(strstr(e.message, "cdc7.csv: row 2, column 'a': ") != NULL);
	CHECK(strstr(e.message, "ten") != NULL);
	CHECK(feed(m, "a int32", "U,1", "cdc8.csv", 2, &e) == CL_ESCHEMA);
	CHECK(strstr(e.message, "key column 'id' is missing") != NULL);
	CHECK(feed(m, "id int64, _cl_seq_row int64", "U,1,1", "cdc9.csv", 3, &e) == CL_ESCHEMA);
	cl_merge_free(m);

	cl_merge *k = new_merge(NULL, false, 1);
	CHECK(feed(k, "x int64", "I,1", "LOAD1", -1000, &e) == CL_ESCHEMA);
	CHECK(strstr(e.message, "key column 'id'") != NULL);
	cl_merge_free(k);
}

TEST(merge_many_changes_compact)
{
	/* More changes than the compaction threshold, few keys: the result is
	   the last change per key. */
	cl_merge *m = new_merge(NULL, false, 1);
	cl_error e = {0};
	cl_schema *s;
	CHECK_OK(cl_schema_parse(&s, S2, &e), &e);
	for (int f = 0; f < 4; f++) {
		cl_batch *b;
		CHECK_OK(cl_batch_create(&b, s, 0, &e), &e);
		static char ops[50000];
		for (int i = 0; i < 50000; i++) {
			char v[32];
			int n = snprintf(v, sizeof v, "f%d-%d", f, i);
			cl_column_append_i64(&b->cols[0], i % 100, &e);
			cl_column_append_bytes(&b->cols[1], v, (size_t)n, &e);
			ops[i] = i % 7 == 3 ? 'D' : 'U';
		}
		b->nrows = 50000;
		cl_change_batch cb = {s, b, ops, 0, "cdc", f};
		CHECK_OK(cl_merge_add(m, &cb, &e), &e);
		cl_batch_free(b);
	}
	const cl_schema *rs;
	cl_batch *u, *d;
	CHECK_OK(cl_merge_result(m, &rs, &u, &d, &e), &e);
	CHECK_EQ_INT(u->nrows + d->nrows, 100);
	/* Key k's last change is row 49900 + k of file 3. */
	for (int64_t r = 0; r < u->nrows; r++) {
		int64_t id = cl_column_get_i64(&u->cols[0], r);
		size_t n;
		const uint8_t *p = cl_column_get_bytes(&u->cols[1], r, &n);
		char want[32];
		snprintf(want, sizeof want, "f3-%lld", (long long)(49900 + id));
		CHECK(n == strlen(want) && memcmp(p, want, n) == 0);
		CHECK((49900 + id) % 7 != 3);
	}
	CHECK_EQ_INT(d->nrows, 14);
	cl_batch_free(u);
	cl_batch_free(d);
	cl_schema_free(s);
	cl_merge_free(m);
}

/* The commit's taking of the result (cl__merge_take_result: the result's
 * columns moved, deletes and stale rows squeezed out in place) gives the
 * same upserts and deletes, in the same order, as cl_merge_result — over
 * strings, NULLs, booleans and runs of every kind. */
int cl__merge_take_result(cl_merge *m, const cl_schema **schema, cl_batch **upserts,
			  cl_batch **deletes, cl_error *err);

static cl_merge *mixed_merge_threads(cl_error *e, int threads)
{
	static const char *keys[] = {"id"};
	cl_merge_options o;
	cl_merge_options_init(&o);
	o.keys = keys;
	o.nkeys = 1;
	o.threads = threads;
	cl_merge *m = NULL;
	if (cl_merge_create(&m, NULL, &o, e))
		return NULL;
	const char *S = "id int64, s string, b bool, n int32";
	/* 3000 changes of 1000 keys in 15 files of 200: ops cycle through I,
	   U, D with a period prime to the key's, so the last change per key is
	   any of them */
	int rc = 0;
	for (int f = 0; !rc && f < 15; f++) {
		cl_buf rows = {0};
		for (int i = f * 200; i < f * 200 + 200; i++) {
			int k = (i * 7) % 1000;
			char op = "IUUDIUD"[i % 7];
			if (rows.len)
				cl_buf_putc(&rows, '|');
			if (i % 11 == 0)
				cl_buf_printf(&rows, "%c,%d,,%s,", op, k, i % 2 ? "true" : "false");
			else
				cl_buf_printf(&rows, "%c,%d,str%d-%d,%s,%d", op, k, k, i,
					      i % 3 ? "true" : "false", i);
		}
		cl_buf_putc(&rows, 0);
		char name[16];
		snprintf(name, sizeof name, "cdc%d", f);
		rc = feed(m, S, (const char *)rows.data, name, f + 1, e);
		cl_buf_release(&rows);
	}
	rc = rc ? rc : cl_merge_finish(m, e);
	/* the index says keys 0..99 and 600..649 have newer changes: stale */
	tbatch t = {0};
	cl_buf idx = {0};
	for (int k = 0; k < 1000; k++) {
		if (k >= 100 && (k < 600 || k >= 650))
			continue;
		if (idx.len)
			cl_buf_putc(&idx, '|');
		cl_buf_printf(&idx, "U,%d,100,0", k);
	}
	cl_buf_putc(&idx, 0);
	if (!rc && tb_make(&t, "id int64, _cl_seq_file int64, _cl_seq_row int64",
			   (const char *)idx.data) == 0)
		rc = cl_merge_resolve(m, t.schema, t.batch, e);
	tb_free(&t);
	cl_buf_release(&idx);
	if (rc) {
		cl_merge_free(m);
		return NULL;
	}
	return m;
}

static cl_merge *mixed_merge(cl_error *e)
{
	return mixed_merge_threads(e, 1);
}

/* cl_merge_finish gathers the winners' columns on several threads: the
 * same result (values, sequence columns, NULLs, stats) as on one, with
 * fewer, as many and more threads than columns. */
TEST(merge_finish_threads_same_result)
{
	cl_error e = {0};
	cl_merge *a = mixed_merge_threads(&e, 1);
	CHECK(a != NULL);
	if (!a)
		return;
	const cl_schema *sa;
	cl_batch *ua, *da;
	CHECK_OK(cl_merge_result(a, &sa, &ua, &da, &e), &e);
	char *x = render(ua, sa->nfields), *xd = render(da, sa->nfields);
	CHECK(ua->nrows > 100 && da->nrows > 50);
	static const int threads[] = {2, 3, 7, 8, 20};
	for (size_t k = 0; k < sizeof threads / sizeof *threads; k++) {
		cl_merge *b = mixed_merge_threads(&e, threads[k]);
		CHECK(b != NULL);
		if (!b)
			break;
		const cl_schema *sb;
		cl_batch *ub, *db;
		CHECK_OK(cl__merge_take_result(b, &sb, &ub, &db, &e), &e);
		char *y = render(ub, sb->nfields), *yd = render(db, sb->nfields);
		CHECK(strcmp(x, y) == 0);
		CHECK(strcmp(xd, yd) == 0);
		CHECK_EQ_INT(cl_merge_get_stats(b)->keys, cl_merge_get_stats(a)->keys);
		CHECK_EQ_INT(cl_merge_get_stats(b)->stale, cl_merge_get_stats(a)->stale);
		CHECK_OK(cl_batch_validate(ub, &e), &e);
		for (int c = 0; c < ub->ncols; c++)
			CHECK_EQ_INT(ub->cols[c].null_count, ua->cols[c].null_count);
		cl_free(y);
		cl_free(yd);
		cl_batch_free(ub);
		cl_batch_free(db);
		cl_merge_free(b);
	}
	cl_free(x);
	cl_free(xd);
	cl_batch_free(ua);
	cl_batch_free(da);
	cl_merge_free(a);
}

TEST(merge_take_result_same_as_result)
{
	cl_error e = {0};
	cl_merge *a = mixed_merge(&e), *b = mixed_merge(&e);
	CHECK(a && b);
	if (!a || !b) {
		cl_merge_free(a);
		cl_merge_free(b);
		return;
	}
	const cl_schema *sa, *sb;
	cl_batch *ua, *da, *ub, *db;
	CHECK_OK(cl_merge_result(a, &sa, &ua, &da, &e), &e);
	CHECK_OK(cl__merge_take_result(b, &sb, &ub, &db, &e), &e);
	CHECK(ua->nrows > 100 && da->nrows > 50);
	CHECK_EQ_INT(cl_merge_get_stats(a)->stale, 150);
	CHECK_EQ_INT(ub->nrows, ua->nrows);
	CHECK_EQ_INT(db->nrows, da->nrows);
	CHECK_EQ_INT(cl_merge_get_stats(b)->upserts_out, cl_merge_get_stats(a)->upserts_out);
	CHECK_EQ_INT(cl_merge_get_stats(b)->deletes_out, cl_merge_get_stats(a)->deletes_out);
	char *x = render(ua, sa->nfields), *y = render(ub, sb->nfields);
	CHECK(strcmp(x, y) == 0);
	cl_free(x);
	cl_free(y);
	x = render(da, sa->nfields);
	y = render(db, sb->nfields);
	CHECK(strcmp(x, y) == 0);
	cl_free(x);
	cl_free(y);
	/* the taken columns are sound: validity, null counts, offsets */
	CHECK_OK(cl_batch_validate(ub, &e), &e);
	for (int c = 0; c < ub->ncols; c++)
		CHECK_EQ_INT(ub->cols[c].null_count, ua->cols[c].null_count);
	cl_batch_free(ua);
	cl_batch_free(da);
	cl_batch_free(ub);
	cl_batch_free(db);
	cl_merge_free(a);
	cl_merge_free(b);
}

TEST(merge_int64_key_hash_paths_agree)
{
	/* File 1: 3000 distinct INT64 keys without NULLs (hashed by the
	   inlined XXH3 loop). File 2: the first 2000 keys again plus a NULL
	   key, so the store's key column has NULLs and file 2's rows hash
	   through cl_hash_value (the table does not grow, so file 1's slots
	   keep their hashes). Every key of file 2 must find its file-1 row:
	   3001 keys, file 2's values for the first 2000. */
	cl_merge *m = new_merge(NULL, false, 1);
	cl_error e = {0};
	cl_schema *s;
	CHECK_OK(cl_schema_parse(&s, S2, &e), &e);
	static char ops[3001];
	for (int f = 1; f <= 2; f++) {
		cl_batch *b;
		CHECK_OK(cl_batch_create(&b, s, 0, &e), &e);
		int rows = f == 1 ? 3000 : 2000;
		for (int i = 0; i < rows; i++) {
			char v[32];
			int n = snprintf(v, sizeof v, "f%d-%d", f, i);
			CHECK_OK(cl_column_append_i64(&b->cols[0], (int64_t)i * 7919 - 5000000, &e),
				 &e);
			CHECK_OK(cl_column_append_bytes(&b->cols[1], v, (size_t)n, &e), &e);
			ops[i] = f == 1 ? 'I' : 'U';
		}
		b->nrows = rows;
		if (f == 2) {
			CHECK_OK(cl_column_append_null(&b->cols[0], &e), &e);
			CHECK_OK(cl_column_append_bytes(&b->cols[1], "null", 4, &e), &e);
			ops[rows] = 'I';
			b->nrows = rows + 1;
		}
		cl_change_batch cb = {s, b, ops, 0, f == 1 ? "load" : "cdc", f};
		CHECK_OK(cl_merge_add(m, &cb, &e), &e);
		cl_batch_free(b);
	}
	const cl_schema *rs;
	cl_batch *u, *d;
	CHECK_OK(cl_merge_result(m, &rs, &u, &d, &e), &e);
	CHECK_EQ_INT(u->nrows, 3001);
	CHECK_EQ_INT(d->nrows, 0);
	CHECK_EQ_INT(cl_merge_get_stats(m)->keys, 3001);
	CHECK_EQ_INT(cl_merge_get_stats(m)->inserts, 3001);
	CHECK_EQ_INT(cl_merge_get_stats(m)->updates, 2000);
	int nulls = 0;
	for (int64_t r = 0; r < u->nrows; r++) {
		size_t n;
		const uint8_t *p = cl_column_get_bytes(&u->cols[1], r, &n);
		char want[32];
		if (cl_column_is_null(&u->cols[0], r)) {
			nulls++;
			snprintf(want, sizeof want, "null");
		} else {
			int64_t i = (cl_column_get_i64(&u->cols[0], r) + 5000000) / 7919;
			snprintf(want, sizeof want, "f%d-%lld", i < 2000 ? 2 : 1, (long long)i);
		}
		CHECK(n == strlen(want) && memcmp(p, want, n) == 0);
	}
	CHECK_EQ_INT(nulls, 1);
	cl_batch_free(u);
	cl_batch_free(d);
	cl_schema_free(s);
	cl_merge_free(m);
}

TEST(merge_bad_op_named_with_row)
{
	/* A bad op fails the batch and names its row and the op; stats count
	   only batches that were stored. */
	cl_merge *m = new_merge(NULL, false, 1);
	cl_error e = {0};
	CHECK_OK(feed(m, S2, "I,1,a|U,2,b|D,3,", "f1", 1, &e), &e);
	CHECK(feed(m, S2, "I,4,a|U,5,b|X,6,c|I,7,d", "f2", 2, &e) == CL_EINVAL);
	CHECK(strstr(e.message, "f2: row 3: op 'X' is not I, U or D") != NULL);
	const cl_merge_stats *st = cl_merge_get_stats(m);
	CHECK_EQ_INT(st->rows, 3);
	CHECK_EQ_INT(st->inserts, 1);
	CHECK_EQ_INT(st->updates, 1);
	CHECK_EQ_INT(st->deletes, 1);
	cl_merge_free(m);
}
