/*
 * test_dms_seq.c — the sequence index parts of merged DMS tables
 * (dms_merge_seq.c): Parquet parts written and read back (whole and batch
 * by batch), text parts of tables written before still read — also inside
 * a merge, where a late change older than a text part's tombstone stays
 * stale and compaction folds text and Parquet parts into one — and
 * missing or malformed parts refused with their name.
 */
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "changelake.h"
#include "changelake/dms_merge.h"

/* Rows of b as "v|v|...\n" in order, NULL as \N (owned, free()). */
static char *rows_text(const cl_batch *b)
{
	size_t cap = 4096, len = 0;
	char *out = malloc(cap);
	out[0] = 0;
	for (int64_t r = 0; r < b->nrows; r++)
		for (int c = 0; c < b->ncols; c++) {
			char *v = NULL;
			size_t n = 0;
			cl_value_text(&b->cols[c], r, &v, &n, NULL);
			while (len + n + 8 > cap)
				out = realloc(out, cap *= 2);
			len += (size_t)sprintf(out + len, "%s%s%s", c ? "|" : "", v ? v : "\\N",
					       c == b->ncols - 1 ? "\n" : "");
			cl_free(v);
		}
	return out;
}

typedef struct scan_count {
	int batches;
	int64_t rows;
	int64_t id_sum;
} scan_count;

static int count_batch(void *ctx, const cl_schema *schema, const cl_batch *b, cl_error *err)
{
	scan_count *sc = ctx;
	int id = cl_schema_find(schema, "id");
	sc->batches++;
	sc->rows += b->nrows;
	for (int64_t r = 0; r < b->nrows; r++)
		sc->id_sum += cl_column_get_i64(&b->cols[id], r);
	return 0;
}

/* A table schema (id INT64, k STRING, ts TIMESTAMP) and its index schema
 * keyed by (id, k) with sequence column ts. */
static cl_schema *table_schema(void)
{
	cl_schema *s;
	cl_type ts;
	cl_type_parse(&ts, "timestamp", 9, NULL);
	cl_schema_create(&s, NULL);
	cl_schema_add(s, "id", cl_type_make(CL_INT64), true, NULL);
	cl_schema_add(s, "k", cl_type_make(CL_STRING), true, NULL);
	cl_schema_add(s, "v", cl_type_make(CL_STRING), true, NULL);
	cl_schema_add(s, "ts", ts, true, NULL);
	return s;
}

TEST(dms_seq_parquet_part_round_trip)
{
	cl_error err = {0};
	char root[4096];
	snprintf(root, sizeof root, "%s/seqpq", cl_test_tmpdir());
	cl_test_mkdirs(root);
	cl_store *st;
	CHECK_OK(cl_store_open_local(&st, root, &err), &err);
	cl_schema *ts = table_schema(), *is;
	const char *keys[] = {"id", "k"};
	CHECK_OK(cl_dms_seq_schema(&is, ts, keys, 2, "ts", &err), &err);
	CHECK_EQ_INT(is->nfields, 6);
	/* 70,000 entries: more than one reader batch */
	cl_batch *b;
	CHECK_OK(cl_batch_create(&b, is, 0, &err), &err);
	int64_t n = 70000, sum = 0;
	for (int64_t r = 0; r < n; r++) {
		char k[32];
		int kl = snprintf(k, sizeof k, "k\t%lld", (long long)(r % 7));
		cl_column_append_i64(&b->cols[0], r * 3, &err);
		if (r == 5)
			cl_column_append_null(&b->cols[1], &err);
		else
			cl_column_append_bytes(&b->cols[1], k, (size_t)kl, &err);
		cl_column_append_i64(&b->cols[2], 1700000000000000LL + r, &err);
		cl_column_append_i64(&b->cols[3], r % 3 - 1, &err);
		cl_column_append_i64(&b->cols[4], r, &err);
		cl_column_append_bytes(&b->cols[5], r % 4 ? "U" : "D", 1, &err);
		b->nrows++;
		sum += r * 3;
	}
	char *key = NULL;
	CHECK_OK(cl_dms_seq_write(st, &key, is, b, &err), &err);
	CHECK(strncmp(key, "_changelake/dms/seq-", 20) == 0);
	CHECK(strstr(key, ".parquet") != NULL);
	cl_schema *rs;
	cl_batch *rb;
	CHECK_OK(cl_dms_seq_read(st, key, ts, &rs, &rb, &err), &err);
	CHECK_EQ_INT(rs->nfields, is->nfields);
	for (int i = 0; i < is->nfields && i < rs->nfields; i++) {
		CHECK_STR(rs->fields[i].name, is->fields[i].name);
		CHECK(cl_type_equal(rs->fields[i].type, is->fields[i].type));
	}
	CHECK_EQ_INT(rb->nrows, n);
	char *want = rows_text(b), *got = rows_text(rb);
	CHECK(strcmp(want, got) == 0);
	free(want);
	free(got);
	cl_batch_free(rb);
	cl_schema_free(rs);
	scan_count sc = {0};
	CHECK_OK(cl_dms_seq_scan(st, key, ts, count_batch, &sc, &err), &err);
	CHECK(sc.batches >= 2);
	CHECK_EQ_INT(sc.rows, n);
	CHECK(sc.id_sum == sum);
	/* a part whose columns are not the table's is refused */
	cl_schema *other;
	cl_schema_create(&other, NULL);
	cl_schema_add(other, "x", cl_type_make(CL_INT64), true, NULL);
	CHECK(cl_dms_seq_read(st, key, other, &rs, &rb, &err) == CL_EFORMAT);
	CHECK(strstr(err.message, key) != NULL);
	cl_schema_free(other);
	/* missing and corrupt parts: CL_EFORMAT naming the part */
	CHECK(cl_dms_seq_read(st, "_changelake/dms/seq-gone.parquet", ts, &rs, &rb, &err) ==
	      CL_EFORMAT);
	CHECK(strstr(err.message, "seq-gone.parquet") != NULL);
	CHECK_OK(cl_store_put(st, "_changelake/dms/seq-bad.parquet", "PAR1junk", 8, &err), &err);
	CHECK(cl_dms_seq_scan(st, "_changelake/dms/seq-bad.parquet", ts, count_batch, &sc, &err)
	      != 0);
	/* named once (the reader's message names the file already) */
	const char *at = strstr(err.message, "seq-bad.parquet");
	CHECK(at != NULL && strstr(at + 1, "seq-bad.parquet") == NULL);
	cl_free(key);
	cl_batch_free(b);
	cl_schema_free(is);
	cl_schema_free(ts);
	cl_store_free(st);
}

TEST(dms_seq_text_part_read)
{
	cl_error err = {0};
	char root[4096];
	snprintf(root, sizeof root, "%s/seqtxt", cl_test_tmpdir());
	cl_test_mkdirs(root);
	cl_store *st;
	CHECK_OK(cl_store_open_local(&st, root, &err), &err);
	cl_schema *ts = table_schema();
	const char *text = "changelake-dms-seq 1\n"
			   "id\tk\tts\t_cl_seq_file\t_cl_seq_row\t_cl_dms_op\n"
			   "1\ta%09b\t2024-01-02 03:04:05\t7\t0\tU\n"
			   "2\t\\N\t2024-01-02 03:04:06\t7\t1\tD\n";
	CHECK_OK(cl_store_put(st, "_changelake/dms/seq-1.tsv", text, strlen(text), &err), &err);
	cl_schema *rs;
	cl_batch *rb;
	CHECK_OK(cl_dms_seq_read(st, "_changelake/dms/seq-1.tsv", ts, &rs, &rb, &err), &err);
	char *got = rows_text(rb);
	CHECK_STR(got, "1|a\tb|2024-01-02 03:04:05|7|0|U\n2|\\N|2024-01-02 03:04:06|7|1|D\n");
	free(got);
	cl_batch_free(rb);
	cl_schema_free(rs);
	scan_count sc = {0};
	CHECK_OK(cl_dms_seq_scan(st, "_changelake/dms/seq-1.tsv", ts, count_batch, &sc, &err),
		 &err);
	CHECK_EQ_INT(sc.batches, 1);
	CHECK_EQ_INT(sc.rows, 2);
	const char *bad = "changelake-dms-seq 1\nid\t_cl_seq_file\t_cl_seq_row\t_cl_dms_op\n1\t2\n";
	CHECK_OK(cl_store_put(st, "_changelake/dms/seq-2.tsv", bad, strlen(bad), &err), &err);
	CHECK(cl_dms_seq_read(st, "_changelake/dms/seq-2.tsv", ts, &rs, &rb, &err) == CL_EFORMAT);
	CHECK(strstr(err.message, "seq-2.tsv") != NULL);
	/* a value's NUL byte (escaped or not) is kept, a column name's is not */
	const char *nul = "changelake-dms-seq 1\n"
			  "id\tk\tts\t_cl_seq_file\t_cl_seq_row\t_cl_dms_op\n"
			  "1\ta%00b\t2024-01-02 03:04:05\t7\t0\tU\n";
	CHECK_OK(cl_store_put(st, "_changelake/dms/seq-3.tsv", nul, strlen(nul), &err), &err);
	CHECK_OK(cl_dms_seq_read(st, "_changelake/dms/seq-3.tsv", ts, &rs, &rb, &err), &err);
	size_t kl = 0;
	const uint8_t *kv = cl_column_get_bytes(&rb->cols[1], 0, &kl);
	CHECK(kl == 3 && kv[0] == 'a' && kv[1] == 0 && kv[2] == 'b');
	cl_batch_free(rb);
	cl_schema_free(rs);
	const char *badname = "changelake-dms-seq 1\nid\tk%00\n";
	CHECK_OK(cl_store_put(st, "_changelake/dms/seq-4.tsv", badname, strlen(badname), &err),
		 &err);
	CHECK(cl_dms_seq_read(st, "_changelake/dms/seq-4.tsv", ts, &rs, &rb, &err) == CL_EFORMAT);
	CHECK(strstr(err.message, "NUL in a column name") != NULL);
	cl_schema_free(ts);
	cl_store_free(st);
}

/* The table's rows sorted, "id|v\n" (owned, free()). */
static char *table_rows(const char *loc, cl_error *err)
{
	cl_table *t = NULL;
	cl_snapshot *s = NULL;
	cl_table_scan *sc = NULL;
	char lines[64][64];
	int n = 0;
	int rc = cl_table_open(&t, loc, err);
	rc = rc ? rc : cl_table_snapshot(&s, t, NULL, err);
	rc = rc ? rc : cl_table_scan_open(&sc, t, s, NULL, err);
	cl_batch *b;
	while (!rc && !(rc = cl_table_scan_next(sc, &b, err)) && b)
		for (int64_t r = 0; r < b->nrows && n < 64; r++) {
			size_t l;
			const uint8_t *v = cl_column_get_bytes(&b->cols[1], r, &l);
			snprintf(lines[n++], 64, "%lld|%.*s", (long long)cl_column_get_i64(&b->cols[0], r),
				 (int)l, (const char *)v);
		}
	cl_table_scan_free(sc);
	cl_snapshot_free(s);
	cl_table_free(t);
	if (rc)
		return NULL;
	qsort(lines, (size_t)n, sizeof lines[0], (int (*)(const void *, const void *))strcmp);
	char *out = calloc(1, 64 * 66);
	for (int i = 0; i < n; i++) {
		strcat(out, lines[i]);
		strcat(out, "\n");
	}
	return out;
}

/* The latest manifest of the table: its file path and parts. */
static cl_dms_consumed *manifest(const char *lake, char *path, size_t pn, cl_error *err)
{
	cl_table *t;
	cl_snapshot *s;
	cl_dms_consumed *c = NULL;
	int64_t v = -1;
	if (cl_table_open(&t, lake, err))
		return NULL;
	if (!cl_table_snapshot(&s, t, NULL, err)) {
		cl_dms_consumed_load(&c, &v, t, s, NULL, err);
		cl_snapshot_free(s);
	}
	cl_table_free(t);
	char key[256];
	snprintf(path, pn, "%s/%s", lake, cl_dms_manifest_key(key, sizeof key, v));
	return c;
}

/* A table merged by an older changelake (text index part) keeps working:
 * its tombstone stops a late change, and compaction folds the text part
 * with new Parquet ones. */
TEST(dms_seq_text_parts_of_older_tables)
{
	cl_error err = {0};
	char src[4096], lake[4200], parent[4096];
	snprintf(src, sizeof src, "%s/seqold/src/s/t", cl_test_tmpdir());
	snprintf(parent, sizeof parent, "%s/seqold/lake", cl_test_tmpdir());
	snprintf(lake, sizeof lake, "%s/t", parent);
	cl_test_mkdirs(src);
	cl_test_mkdirs(parent);
	cl_dms_merge_options o;
	cl_dms_merge_options_init(&o);
	const char *keys[] = {"id"};
	o.keys = keys;
	o.nkeys = 1;
	cl_dms_merge_result res;
	cl_test_put(src, "LOAD00000001.csv", "id,v\n1,a\n2,b\n3,c\n");
	cl_test_put(src, "20201113-120000000.csv", "Op,id,v\nD,1,\nU,2,b2\n");
	CHECK_OK(cl_dms_merge_run(&res, src, lake, &o, &err), &err);
	/* turn the run's Parquet part into the text part an older version
	 * wrote, and point the manifest at it */
	char mpath[4096];
	cl_dms_consumed *c = manifest(lake, mpath, sizeof mpath, &err);
	CHECK(c != NULL);
	if (!c)
		return;
	CHECK_EQ_INT(c->nparts, 1);
	cl_store *st;
	CHECK_OK(cl_store_open_local(&st, lake, &err), &err);
	cl_schema *rs;
	cl_batch *rb;
	CHECK_OK(cl_dms_seq_read(st, c->parts[0], NULL, &rs, &rb, &err), &err);
	char *rows = rows_text(rb);
	CHECK(rb->nrows == 2);
	char text[4096] = "changelake-dms-seq 1\nid\t_cl_seq_file\t_cl_seq_row\t_cl_dms_op\n";
	for (char *p = rows; *p; p++)
		strncat(text, *p == '|' ? "\t" : (char[2]){*p, 0}, 1);
	free(rows);
	CHECK_OK(cl_store_put(st, "_changelake/dms/seq-00000000000000000001-000000000-0.tsv",
			      text, strlen(text), &err), &err);
	FILE *f = fopen(mpath, "rb");
	char m[8192] = {0}, m2[8192] = {0};
	size_t ml = f ? fread(m, 1, sizeof m - 1, f) : 0;
	if (f)
		fclose(f);
	CHECK(ml > 0);
	char *at = strstr(m, c->parts[0]);
	CHECK(at != NULL);
	if (at) {
		snprintf(m2, sizeof m2, "%.*s%s%s", (int)(at - m),
			 m, "_changelake/dms/seq-00000000000000000001-000000000-0.tsv",
			 at + strlen(c->parts[0]));
		f = fopen(mpath, "wb");
		fputs(m2, f);
		fclose(f);
	}
	cl_batch_free(rb);
	cl_schema_free(rs);
	cl_dms_consumed_free(c);
	/* late: before the delete of 1 and the update of 2 */
	cl_test_put(src, "20201113-110000000.csv", "Op,id,v\nU,1,zombie\nU,2,old\nU,3,c2\n");
	CHECK_OK(cl_dms_merge_run(&res, src, lake, &o, &err), &err);
	CHECK_EQ_INT(res.merge.stale, 2);
	char *got = table_rows(lake, &err);
	CHECK_STR(got ? got : err.message, "2|b2\n3|c2\n");
	free(got);
	/* many more runs: the parts are compacted, text and Parquet together */
	for (int i = 0; i < CL_DMS_SEQ_MAX_PARTS + 1; i++) {
		char name[64];
		snprintf(name, sizeof name, "20201114-10%02d00000.csv", i);
		cl_test_put(src, name, "Op,id,v\nU,3,x\n");
		CHECK_OK(cl_dms_merge_run(&res, src, lake, &o, &err), &err);
	}
	c = manifest(lake, mpath, sizeof mpath, &err);
	CHECK(c != NULL && c->nparts <= CL_DMS_SEQ_MAX_PARTS);
	for (int i = 0; c && i < c->nparts; i++)
		CHECK(strstr(c->parts[i], ".parquet") != NULL);
	cl_dms_consumed_free(c);
	cl_test_put(src, "20201113-115000000.csv", "Op,id,v\nI,1,zombie2\nU,3,old\n");
	CHECK_OK(cl_dms_merge_run(&res, src, lake, &o, &err), &err);
	CHECK_EQ_INT(res.merge.stale, 2);
	got = table_rows(lake, &err);
	CHECK_STR(got ? got : err.message, "2|b2\n3|x\n");
	free(got);
	cl_store_free(st);
}
