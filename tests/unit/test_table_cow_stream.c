/* test_table_cow_stream.c — copy-on-write on bucketed tables without
 * partition columns (each bucket rewritten through its own writer, files
 * streamed batch by batch): rounds of upserts and deletes against an
 * in-memory model, files larger than a scan batch, many files per bucket,
 * converted and borrowed change columns, a column added later (old files
 * read without the column), untouched candidates, NOT NULL. */
#include "test.h"

#include "changelake/hash.h"
#include "changelake/storage.h"
#include "changelake/table.h"
#include "table/layout.h"

#include <dirent.h>
#include <stdlib.h>

enum { NONE = -1000000 }; /* model: NULL v */

typedef struct model {
	int64_t n;        /* ids 0..n-1 */
	bool *live;
	int *v;           /* NONE: NULL */
	int *ver;         /* name is "n<id>-<ver>" */
	char **extra;     /* NULL: NULL (the added column) */
} model;

static void model_free(model *m)
{
	for (int64_t i = 0; m->extra && i < m->n; i++)
		free(m->extra[i]);
	free(m->live);
	free(m->v);
	free(m->ver);
	free(m->extra);
}

static bool model_init(model *m, int64_t cap)
{
	memset(m, 0, sizeof *m);
	m->n = cap;
	m->live = calloc((size_t)cap, sizeof *m->live);
	m->v = calloc((size_t)cap, sizeof *m->v);
	m->ver = calloc((size_t)cap, sizeof *m->ver);
	m->extra = calloc((size_t)cap, sizeof *m->extra);
	return m->live && m->v && m->ver && m->extra;
}

/* A table of schema_text ("id int64 not null, name string, v int32 ...")
 * with keys id, the given buckets and target file size, holding ids
 * 0..rows-1 written in `commits` commits (a file per bucket each). */
static cl_table *make_table(const char *name, int64_t rows, int buckets, int64_t target,
			    int commits, const char *schema_text, model *m)
{
	static char root[700];
	snprintf(root, sizeof root, "%s/%s", cl_test_tmpdir(), name);
	cl_error err = {0};
	cl_table *t = NULL;
	cl_schema *s = NULL;
	cl_table_create_options o;
	cl_table_create_options_init(&o);
	const char *key = "id";
	o.keys = &key;
	o.nkeys = 1;
	o.buckets = buckets;
	o.target_file_bytes = target;
	cl_snapshot *snap = NULL;
	cl_table_txn *x = NULL;
	cl_table_writer *w = NULL;
	cl_batch *b = NULL;
	int rc = cl_table_open(&t, root, &err);
	rc = rc ? rc : cl_schema_parse(&s, schema_text, &err);
	rc = rc ? rc : cl_table_create(t, s, &o, &err);
	for (int k = 0; !rc && k < commits; k++) {
		int64_t lo = rows * k / commits, hi = rows * (k + 1) / commits;
		rc = cl_table_snapshot(&snap, t, NULL, &err);
		rc = rc ? rc : cl_table_txn_begin(&x, t, snap, "WRITE", &err);
		rc = rc ? rc : cl_table_writer_open(&w, x, s, &err);
		rc = rc ? rc : cl_batch_create(&b, s, hi - lo, &err);
		for (int64_t i = lo; !rc && i < hi; i++) {
			char nm[32];
			int len = snprintf(nm, sizeof nm, "n%lld-0", (long long)i);
			rc = cl_column_append_i64(&b->cols[0], i, &err);
			rc = rc ? rc : cl_column_append_bytes(&b->cols[1], nm, (size_t)len, &err);
			bool null = m && i % 7 == 3;
			rc = rc ? rc : null ? cl_column_append_null(&b->cols[2], &err)
					    : cl_column_append_i64(&b->cols[2], i % 1000, &err);
			if (m && i < m->n) {
				m->live[i] = true;
				m->v[i] = null ? NONE : (int)(i % 1000);
			}
		}
		if (b)
			b->nrows = hi - lo;
		rc = rc ? rc : cl_table_writer_write(w, b, &err);
		rc = rc ? rc : cl_table_writer_finish(w, &err);
		rc = rc ? rc : cl_table_txn_commit(x, NULL, &err);
		cl_batch_free(b);
		cl_table_writer_free(w);
		cl_table_txn_free(x);
		cl_snapshot_free(snap);
		b = NULL;
		w = NULL;
		x = NULL;
		snap = NULL;
	}
	if (rc)
		printf("    %s\n", err.message);
	cl_schema_free(s);
	if (rc) {
		cl_table_free(t);
		return NULL;
	}
	return t;
}

/* One change: upsert (del false) of id with v (NONE: NULL) and a new name
 * version, or delete. */
typedef struct change {
	int64_t id;
	bool del;
	int v;
	const char *extra;
} change;

/* The transaction's threads for apply() (cl_table_txn_set_threads; 0:
 * the default). */
static int apply_threads;

/*
 * Apply the changes in one commit through cl_table_cow, the upsert columns
 * as "id <id_type>, name string, v <v_type>[, extra string]", and to the
 * model.
 */
static int apply(cl_table *t, model *m, const change *ch, int n, const char *id_type,
		 const char *v_type, bool with_extra, cl_table_cow_stats *st, cl_error *err)
{
	char text[200];
	snprintf(text, sizeof text, "id %s\nname string\nv %s%s", id_type, v_type,
		 with_extra ? "\nextra string" : "");
	cl_schema *us = NULL, *ds = NULL;
	cl_batch *ub = NULL, *db = NULL;
	cl_snapshot *s = NULL;
	cl_table_txn *x = NULL;
	int rc = cl_schema_parse(&us, text, err);
	rc = rc ? rc : cl_schema_parse(&ds, "id int64", err);
	rc = rc ? rc : cl_batch_create(&ub, us, n, err);
	rc = rc ? rc : cl_batch_create(&db, ds, n, err);
	for (int i = 0; !rc && i < n; i++) {
		const change *c = &ch[i];
		if (c->del) {
			rc = cl_column_append_i64(&db->cols[0], c->id, err);
			db->nrows++;
			if (c->id < m->n)
				m->live[c->id] = false;
			continue;
		}
		int ver = c->id < m->n ? m->ver[c->id] + 1 : 1;
		char nm[32];
		int len = snprintf(nm, sizeof nm, "n%lld-%d", (long long)c->id, ver);
		rc = cl_column_append_i64(&ub->cols[0], c->id, err);
		rc = rc ? rc : cl_column_append_bytes(&ub->cols[1], nm, (size_t)len, err);
		rc = rc ? rc : c->v == NONE ? cl_column_append_null(&ub->cols[2], err)
					    : cl_column_append_i64(&ub->cols[2], c->v, err);
		if (!rc && with_extra)
			rc = c->extra ? cl_column_append_bytes(&ub->cols[3], c->extra,
							       strlen(c->extra), err)
				      : cl_column_append_null(&ub->cols[3], err);
		ub->nrows++;
		if (c->id < m->n) {
			m->live[c->id] = true;
			m->v[c->id] = c->v;
			m->ver[c->id] = ver;
			free(m->extra[c->id]);
			m->extra[c->id] = c->extra ? strdup(c->extra) : NULL;
		}
	}
	rc = rc ? rc : cl_table_snapshot(&s, t, NULL, err);
	rc = rc ? rc : cl_table_txn_begin(&x, t, s, "MERGE", err);
	if (!rc)
		cl_table_txn_set_threads(x, apply_threads);
	const cl_batch *u[1] = {ub}, *d[1] = {db};
	rc = rc ? rc : cl_table_cow(x, us, u, ub->nrows ? 1 : 0, ds, d, db->nrows ? 1 : 0, st, err);
	rc = rc ? rc : cl_table_txn_commit(x, NULL, err);
	cl_table_txn_free(x);
	cl_snapshot_free(s);
	cl_batch_free(ub);
	cl_batch_free(db);
	cl_schema_free(us);
	cl_schema_free(ds);
	return rc;
}

/*
 * The table holds exactly the model's live ids with their values, each
 * row in a file of its key's bucket; *files set to the live files.
 */
static bool table_matches(cl_table *t, const model *m, int buckets, size_t *files)
{
	cl_error err = {0};
	cl_snapshot *s = NULL;
	cl_table_scan *sc = NULL;
	bool ok = true;
	char *seen = calloc((size_t)m->n, 1);
	if (!seen || cl_table_snapshot(&s, t, NULL, &err) ||
	    cl_table_scan_open(&sc, t, s, NULL, &err)) {
		printf("    %s\n", err.message);
		ok = false;
	}
	*files = s ? cl_snapshot_nfiles(s) : 0;
	int extra_col = s ? cl_schema_find(cl_snapshot_schema(s), "extra") : -1;
	cl_batch *b;
	int64_t rows = 0;
	while (ok && !cl_table_scan_next(sc, &b, &err) && b) {
		int64_t first;
		const cl_table_file *f = cl_table_scan_file(sc, &first);
		int fb = cl__layout_bucket_of_key(f->path);
		for (int64_t r = 0; ok && r < b->nrows; r++) {
			int64_t id = cl_column_get_i64(&b->cols[0], r);
			rows++;
			if (id < 0 || id >= m->n || !m->live[id] || seen[id]) {
				printf("    id %lld unexpected or twice\n", (long long)id);
				ok = false;
				break;
			}
			seen[id] = 1;
			int v = cl_column_is_null(&b->cols[2], r) ? NONE
								  : (int)cl_column_get_i64(&b->cols[2], r);
			char nm[32];
			snprintf(nm, sizeof nm, "n%lld-%d", (long long)id, m->ver[id]);
			size_t len;
			const uint8_t *p = cl_column_get_bytes(&b->cols[1], r, &len);
			if (v != m->v[id] || len != strlen(nm) || memcmp(p, nm, len)) {
				printf("    id %lld: v %d name %.*s, expected %d %s\n", (long long)id, v,
				       (int)len, (const char *)p, m->v[id], nm);
				ok = false;
			}
			if (ok && extra_col >= 0) {
				const char *want = m->extra[id];
				bool null = cl_column_is_null(&b->cols[extra_col], r);
				p = null ? NULL : cl_column_get_bytes(&b->cols[extra_col], r, &len);
				if (null != !want || (want && (len != strlen(want) || memcmp(p, want, len)))) {
					printf("    id %lld: extra differs\n", (long long)id);
					ok = false;
				}
			}
			uint64_t h = cl_hash_value(&b->cols[0], r, 0);
			if (ok && fb != (int)(h % (uint64_t)buckets)) {
				printf("    id %lld in %s, bucket %d\n", (long long)id, f->path,
				       (int)(h % (uint64_t)buckets));
				ok = false;
			}
		}
	}
	int64_t live = 0;
	for (int64_t i = 0; i < m->n; i++)
		live += m->live[i];
	if (ok && rows != live) {
		printf("    %lld rows, expected %lld\n", (long long)rows, (long long)live);
		ok = false;
	}
	if (ok && cl_snapshot_num_records(s) != live) {
		printf("    numRecords %lld, expected %lld\n", (long long)cl_snapshot_num_records(s),
		       (long long)live);
		ok = false;
	}
	cl_table_scan_free(sc);
	cl_snapshot_free(s);
	free(seen);
	return ok;
}

/* Files of a bucket: more rows than one scan batch (65536), changes only
 * late in them (their rows are held until the first changed key), then
 * random rounds with converted and borrowed columns, then a column added:
 * the old files lack it and are read converted, not lent. */
TEST(table_cow_bucket_files_streamed_rounds_match_model)
{
	enum { N = 140000, CAP = N + 2000, B = 2 };
	cl_error err = {0};
	model m;
	CHECK(model_init(&m, CAP));
	cl_table *t = make_table("big", N, B, 128LL << 20, 1,
				 "id int64 not null\nname string\nv int32", &m);
	CHECK(t);
	size_t files;
	CHECK(table_matches(t, &m, B, &files));
	CHECK_EQ_INT(files, B);
	/* round 1: changes only in each file's second scan batch */
	change ch[600];
	int n = 0;
	for (int64_t id = N - 300; id < N; id += 3)
		ch[n++] = (change){id, id % 2 == 0, (int)(id % 50), NULL};
	cl_table_cow_stats st;
	CHECK_OK(apply(t, &m, ch, n, "int64", "int32", false, &st, &err), &err);
	CHECK_EQ_INT(st.files_rewritten, B);
	CHECK_EQ_INT(st.files_added, B);
	CHECK(table_matches(t, &m, B, &files));
	CHECK_EQ_INT(files, B);
	/* rounds 2-3: random, columns converted (int32 id, int64 v) or not */
	srand(7);
	for (int round = 0; round < 2; round++) {
		n = 0;
		for (int i = 0; i < 500; i++) {
			int64_t id = rand() % CAP; /* some new, some deleted before */
			bool dup = false;
			for (int j = 0; j < n; j++)
				dup |= ch[j].id == id;
			if (dup)
				continue;
			ch[n++] = (change){id, rand() % 4 == 0, rand() % 9 == 0 ? NONE : rand() % 1000,
					   NULL};
		}
		CHECK_OK(apply(t, &m, ch, n, round ? "int64" : "int32", round ? "int32" : "int64",
			       false, &st, &err), &err);
		CHECK(table_matches(t, &m, B, &files));
		CHECK_EQ_INT(files, B);
	}
	/* a column added: old files lack it (read as NULL) */
	cl_snapshot *s;
	cl_table_txn *x;
	cl_schema *grown;
	CHECK_OK(cl_table_snapshot(&s, t, NULL, &err), &err);
	CHECK_OK(cl_schema_copy(&grown, cl_snapshot_schema(s), &err), &err);
	CHECK_OK(cl_schema_add(grown, "extra", cl_type_make(CL_STRING), true, &err), &err);
	CHECK_OK(cl_table_txn_begin(&x, t, s, "ADD COLUMNS", &err), &err);
	CHECK_OK(cl_table_txn_set_schema(x, grown, &err), &err);
	CHECK_OK(cl_table_txn_commit(x, NULL, &err), &err);
	cl_table_txn_free(x);
	cl_schema_free(grown);
	cl_snapshot_free(s);
	n = 0;
	for (int64_t id = 5; id < N; id += 997)
		ch[n++] = (change){id, false, 1, id % 2 ? "x" : NULL};
	CHECK_OK(apply(t, &m, ch, n, "int64", "int32", true, &st, &err), &err);
	CHECK_EQ_INT(st.files_rewritten, B);
	CHECK(table_matches(t, &m, B, &files));
	model_free(&m);
	cl_table_free(t);
}

/* A small target size: several files per bucket, each rewritten one into
 * possibly several; new keys beyond every file's key range. */
TEST(table_cow_bucket_many_files_per_bucket)
{
	enum { N = 30000, CAP = N + 100, B = 4 };
	cl_error err = {0};
	model m;
	CHECK(model_init(&m, CAP));
	/* a nullable key column: read with a validity bitmap, no NULL */
	cl_table *t = make_table("many", N, B, 64 << 10, 5, "id int64\nname string\nv int32",
				 &m);
	CHECK(t);
	size_t files0, files;
	CHECK(table_matches(t, &m, B, &files0));
	CHECK_EQ_INT(files0, 5 * B);
	change ch[200];
	int n = 0, nup = 0;
	for (int64_t id = 0; id < N; id += 211) {
		ch[n++] = (change){id, id % 3 == 0, (int)(id % 100), NULL};
		nup += id % 3 != 0;
	}
	for (int64_t id = N; id < N + 40; id++, nup++)
		ch[n++] = (change){id, false, 9, NULL};
	cl_table_cow_stats st;
	CHECK_OK(apply(t, &m, ch, n, "int64", "int32", false, &st, &err), &err);
	CHECK(st.files_rewritten > B);
	CHECK(st.files_added >= B);
	CHECK_EQ_INT(st.rows_upserted, nup);
	CHECK(table_matches(t, &m, B, &files));
	model_free(&m);
	cl_table_free(t);
}

/* A candidate (its key range holds the change) without the key is left
 * alone: nothing removed, the upsert lands in a new file of its bucket. */
TEST(table_cow_bucket_candidate_without_key_left_alone)
{
	enum { N = 2000, B = 2 };
	cl_error err = {0};
	model m;
	CHECK(model_init(&m, N));
	cl_table *t = make_table("alone", N, B, 128LL << 20, 1,
				 "id int64 not null\nname string\nv int32", &m);
	CHECK(t);
	/* delete the odd ids first (rewrites both files) */
	change ch[N];
	int n = 0;
	for (int64_t id = 1; id < N; id += 2)
		ch[n++] = (change){id, true, 0, NULL};
	cl_table_cow_stats st;
	CHECK_OK(apply(t, &m, ch, n, "int64", "int32", false, &st, &err), &err);
	CHECK_EQ_INT(st.rows_deleted, N / 2);
	size_t files;
	CHECK(table_matches(t, &m, B, &files));
	/* an odd id again: inside every file's key range, in none of them */
	ch[0] = (change){777, false, 5, NULL};
	ch[1] = (change){779, true, 0, NULL};
	CHECK_OK(apply(t, &m, ch, 2, "int64", "int32", false, &st, &err), &err);
	CHECK(st.files_candidates >= 1);
	CHECK_EQ_INT(st.files_rewritten, 0);
	CHECK_EQ_INT(st.rows_copied, 0);
	CHECK_EQ_INT(st.files_added, 1);
	CHECK_EQ_INT(st.deletes_missing, 1);
	size_t files2;
	CHECK(table_matches(t, &m, B, &files2));
	CHECK_EQ_INT(files2, files + 1);
	model_free(&m);
	cl_table_free(t);
}

/* A NULL upserted into a NOT NULL column is refused, whether the column
 * is borrowed (same type) or converted; nothing is committed. */
TEST(table_cow_bucket_not_null_refused)
{
	enum { N = 500, B = 2 };
	cl_error err = {0};
	model m;
	CHECK(model_init(&m, N));
	cl_table *t = make_table("notnull", N, B, 128LL << 20, 1,
				 "id int64 not null\nname string\nv int32 not null", NULL);
	CHECK(t);
	for (int conv = 0; conv < 2; conv++) {
		change ch[2] = {{10, false, 1, NULL}, {11, false, NONE, NULL}};
		cl_table_cow_stats st;
		int rc = apply(t, &m, ch, 2, "int64", conv ? "int64" : "int32", false, &st, &err);
		CHECK_EQ_INT(rc, CL_ETYPE);
		CHECK(strstr(err.message, "not-null"));
		CHECK(strstr(err.message, "'v'"));
	}
	int64_t v;
	CHECK_OK(cl_table_latest_version(t, &v, &err), &err);
	CHECK_EQ_INT(v, 1);
	model_free(&m);
	cl_table_free(t);
}

/* Rows with a NULL key (a nullable key column): a change set without NULL
 * keys (values compared directly) leaves them as they are; one with a NULL
 * key changes them (keys match null-safely). */
TEST(table_cow_bucket_null_key_rows)
{
	enum { N = 3000, B = 2 };
	cl_error err = {0};
	cl_table *t = make_table("nullkey", N, B, 128LL << 20, 1, "id int64\nname string\nv int32",
				 NULL);
	CHECK(t);
	cl_snapshot *s;
	cl_table_txn *x;
	cl_table_writer *w;
	cl_schema *sc;
	cl_batch *b;
	CHECK_OK(cl_schema_parse(&sc, "id int64\nname string\nv int32", &err), &err);
	CHECK_OK(cl_batch_create(&b, sc, 2, &err), &err);
	CHECK_OK(cl_column_append_null(&b->cols[0], &err), &err);
	CHECK_OK(cl_column_append_bytes(&b->cols[1], "nul", 3, &err), &err);
	CHECK_OK(cl_column_append_i64(&b->cols[2], 42, &err), &err);
	b->nrows = 1;
	CHECK_OK(cl_table_snapshot(&s, t, NULL, &err), &err);
	CHECK_OK(cl_table_txn_begin(&x, t, s, "WRITE", &err), &err);
	CHECK_OK(cl_table_writer_open(&w, x, sc, &err), &err);
	CHECK_OK(cl_table_writer_write(w, b, &err), &err);
	CHECK_OK(cl_table_writer_finish(w, &err), &err);
	CHECK_OK(cl_table_txn_commit(x, NULL, &err), &err);
	cl_table_writer_free(w);
	cl_table_txn_free(x);
	cl_snapshot_free(s);
	/* every id's bucket and the NULL key's: all files are candidates */
	model m;
	CHECK(model_init(&m, N));
	change ch[64];
	int n = 0;
	for (int64_t id = 0; id < 60; id++)
		ch[n++] = (change){id, id % 2 == 1, 7, NULL};
	cl_table_cow_stats st;
	CHECK_OK(apply(t, &m, ch, n, "int64", "int32", false, &st, &err), &err);
	CHECK_EQ_INT(st.rows_deleted, 30);
	/* the NULL-key row is still there, once */
	int64_t nulls = 0, rows = 0;
	CHECK_OK(cl_table_snapshot(&s, t, NULL, &err), &err);
	cl_table_scan *scan;
	CHECK_OK(cl_table_scan_open(&scan, t, s, NULL, &err), &err);
	cl_batch *rb;
	while (!cl_table_scan_next(scan, &rb, &err) && rb)
		for (int64_t r = 0; r < rb->nrows; r++, rows++)
			if (cl_column_is_null(&rb->cols[0], r)) {
				nulls++;
				CHECK_EQ_INT(cl_column_get_i64(&rb->cols[2], r), 42);
			}
	cl_table_scan_free(scan);
	cl_snapshot_free(s);
	CHECK_EQ_INT(nulls, 1);
	CHECK_EQ_INT(rows, N + 1 - 30);
	/* a NULL key deleted by key */
	cl_schema *ds;
	cl_batch *db;
	CHECK_OK(cl_schema_parse(&ds, "id int64", &err), &err);
	CHECK_OK(cl_batch_create(&db, ds, 1, &err), &err);
	CHECK_OK(cl_column_append_null(&db->cols[0], &err), &err);
	db->nrows = 1;
	CHECK_OK(cl_table_snapshot(&s, t, NULL, &err), &err);
	CHECK_OK(cl_table_txn_begin(&x, t, s, "MERGE", &err), &err);
	const cl_batch *d[1] = {db};
	CHECK_OK(cl_table_cow(x, NULL, NULL, 0, ds, d, 1, &st, &err), &err);
	CHECK_OK(cl_table_txn_commit(x, NULL, &err), &err);
	CHECK_EQ_INT(st.rows_deleted, 1);
	CHECK_EQ_INT(st.deletes_missing, 0);
	cl_table_txn_free(x);
	cl_snapshot_free(s);
	CHECK_OK(cl_table_snapshot(&s, t, NULL, &err), &err);
	CHECK_EQ_INT(cl_snapshot_num_records(s), N - 30);
	cl_snapshot_free(s);
	cl_batch_free(db);
	cl_schema_free(ds);
	cl_batch_free(b);
	cl_schema_free(sc);
	model_free(&m);
	cl_table_free(t);
}

/* Files in the table's folder whose names start with the store's staging
 * prefix (a bucketed table without partitions: one folder). */
static int staged_files(cl_table *t)
{
	DIR *d = opendir(cl_store_location(cl_table_store(t)));
	int n = 0;
	struct dirent *e;
	while (d && (e = readdir(d)))
		n += !strncmp(e->d_name, CL_STORE_STAGE_PREFIX, strlen(CL_STORE_STAGE_PREFIX));
	if (d)
		closedir(d);
	return d ? n : -1;
}

/* The buckets rewritten on 1 and on 3 threads (two equal tables, the same
 * rounds of changes): both tables hold the model's rows, each in its
 * bucket, with the same counters (summed over the threads) and the same
 * number of files. */
TEST(table_cow_bucket_threads_match_one_thread)
{
	enum { N = 20000, CAP = N + 500, B = 8 };
	cl_error err = {0};
	model m1, m3;
	CHECK(model_init(&m1, CAP));
	CHECK(model_init(&m3, CAP));
	/* small files: several per bucket, each rewritten into several */
	cl_table *t1 = make_table("thr1", N, B, 48 << 10, 2, "id int64 not null\nname string\nv int32",
				  &m1);
	cl_table *t3 = make_table("thr3", N, B, 48 << 10, 2, "id int64 not null\nname string\nv int32",
				  &m3);
	CHECK(t1 && t3);
	srand(11);
	change ch[900];
	for (int round = 0; round < 3; round++) {
		int n = 0;
		for (int i = 0; i < 900; i++) {
			int64_t id = rand() % CAP;
			bool dup = false;
			for (int j = 0; j < n; j++)
				dup |= ch[j].id == id;
			if (!dup)
				ch[n++] = (change){id, rand() % 4 == 0, rand() % 9 == 0 ? NONE : rand() % 1000,
						   NULL};
		}
		if (round == 2)
			n = 1; /* one bucket only: fewer jobs than threads */
		cl_table_cow_stats s1, s3;
		apply_threads = 1;
		CHECK_OK(apply(t1, &m1, ch, n, "int64", "int32", false, &s1, &err), &err);
		apply_threads = 3;
		CHECK_OK(apply(t3, &m3, ch, n, "int32", "int64", false, &s3, &err), &err);
		apply_threads = 0;
		CHECK_EQ_INT(s3.files_candidates, s1.files_candidates);
		CHECK_EQ_INT(s3.files_rewritten, s1.files_rewritten);
		CHECK_EQ_INT(s3.files_added, s1.files_added);
		CHECK_EQ_INT(s3.rows_copied, s1.rows_copied);
		CHECK_EQ_INT(s3.rows_upserted, s1.rows_upserted);
		CHECK_EQ_INT(s3.rows_deleted, s1.rows_deleted);
		CHECK_EQ_INT(s3.deletes_missing, s1.deletes_missing);
		if (round == 0)
			CHECK(s1.files_rewritten > B); /* two files per bucket */
		size_t f1, f3;
		CHECK(table_matches(t1, &m1, B, &f1));
		CHECK(table_matches(t3, &m3, B, &f3));
		CHECK_EQ_INT(f3, f1);
	}
	model_free(&m1);
	model_free(&m3);
	cl_table_free(t1);
	cl_table_free(t3);
}

/* One bucket's upsert fails (NULL into a NOT NULL column) while the other
 * buckets are rewritten on other threads: the error is that bucket's,
 * nothing is committed, the table's rows are as they were and no staged
 * file is left (the files other buckets published are in no commit). */
TEST(table_cow_bucket_threads_error_leaves_table)
{
	enum { N = 6000, B = 8 };
	cl_error err = {0};
	model m, scratch;
	CHECK(model_init(&m, N));
	CHECK(model_init(&scratch, N));
	cl_table *t = make_table("threrr", N, B, 128LL << 20, 1,
				 "id int64 not null\nname string\nv int32 not null", NULL);
	CHECK(t);
	for (int64_t i = 0; i < N; i++) {
		m.live[i] = true;
		m.v[i] = (int)(i % 1000);
	}
	size_t files0, files;
	CHECK(table_matches(t, &m, B, &files0));
	for (int th = 1; th <= 4; th *= 2) {
		/* a change in every bucket; one NULL in the middle of the ids */
		change ch[200];
		int n = 0;
		for (int64_t id = 0; id < N; id += 30)
			ch[n++] = (change){id, false, id == 2970 ? NONE : 5, NULL};
		cl_table_cow_stats st;
		apply_threads = th;
		int rc = apply(t, &scratch, ch, n, "int64", "int32", false, &st, &err);
		apply_threads = 0;
		CHECK_EQ_INT(rc, CL_ETYPE);
		CHECK(strstr(err.message, "not-null"));
		CHECK(strstr(err.message, "'v'"));
		int64_t v;
		CHECK_OK(cl_table_latest_version(t, &v, &err), &err);
		CHECK_EQ_INT(v, 1);
		CHECK_EQ_INT(staged_files(t), 0);
		CHECK(table_matches(t, &m, B, &files));
		CHECK_EQ_INT(files, files0);
	}
	model_free(&m);
	model_free(&scratch);
	cl_table_free(t);
}
