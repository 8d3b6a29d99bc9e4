/* test_table_dv.c — merge-on-read writes: tables created or upgraded with
 * deletion vectors, upserts and deletes that mark rows deleted instead of
 * rewriting files (same result as copy-on-write, row for row), conflicts,
 * crash safety, and compaction purging the vectors. */
#include "test.h"

#include "changelake/table.h"
#include "core/buf.h"
#include "core/value_text.h"
#include "table/delta.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

int cl__dv_loose_stats(cl_buf *out, const char *stats);

static uint64_t rng_state = 88172645463325252ULL;
static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* A table at a fresh folder: schema text, partition columns, keys. */
static cl_table *new_table(const char *schema_text, const char *const *part, int npart,
			   const char *const *keys, int nkeys, int buckets, bool dv, char *root,
			   size_t rootn)
{
	snprintf(root, rootn, "%s/t", cl_test_tmpdir());
	cl_error err = {0};
	cl_table *t = NULL;
	cl_schema *s = NULL;
	cl_table_create_options o;
	cl_table_create_options_init(&o);
	o.partition_by = part;
	o.npartition_by = npart;
	o.keys = keys;
	o.nkeys = nkeys;
	o.buckets = buckets;
	o.deletion_vectors = dv;
	int rc = cl_table_open(&t, root, &err);
	rc = rc ? rc : cl_schema_parse(&s, schema_text, &err);
	rc = rc ? rc : cl_table_create(t, s, &o, &err);
	cl_schema_free(s);
	if (rc) {
		printf("    %s\n", err.message);
		cl_table_free(t);
		return NULL;
	}
	return t;
}

/* Apply changes (schema: action int8 then the table's columns). */
static cl_schema *change_schema; /* of the last changes_new */

static int apply(cl_table *t, const cl_batch *b, cl_table_cow_stats *st, int64_t *version,
		 cl_error *err)
{
	const cl_batch *bs[1] = {b};
	return cl_table_apply_changes(t, change_schema, bs, 1, "MERGE", NULL, 0, st, version, err);
}

/* Every row of the latest version as text, sorted. */
typedef struct lines {
	char **v;
	size_t n;
} lines;

static void lines_free(lines *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof *l);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int scan_lines(cl_table *t, lines *out, cl_error *err)
{
	memset(out, 0, sizeof *out);
	cl_snapshot *s = NULL;
	cl_table_scan *sc = NULL;
	int rc = cl_table_snapshot(&s, t, NULL, err);
	rc = rc ? rc : cl_table_scan_open(&sc, t, s, NULL, err);
	cl_batch *b;
	size_t cap = 0;
	while (!rc && !(rc = cl_table_scan_next(sc, &b, err)) && b)
		for (int64_t r = 0; r < b->nrows; r++) {
			cl_buf line = {0};
			for (int c = 0; c < b->ncols; c++) {
				if (c)
					cl_buf_putc(&line, '|');
				if (cl_column_is_null(&b->cols[c], r))
					cl_buf_puts(&line, "NULL");
				else
					cl__value_format(&line, &b->cols[c], r);
			}
			cl_buf_putc(&line, 0);
			if (out->n == cap) {
				cap = cap ? cap * 2 : 256;
				out->v = realloc(out->v, cap * sizeof *out->v);
			}
			out->v[out->n++] = strdup((const char *)line.data);
			cl_buf_release(&line);
		}
	cl_table_scan_free(sc);
	cl_snapshot_free(s);
	if (out->n)
		qsort(out->v, out->n, sizeof *out->v, cmp_str);
	return rc;
}

static bool lines_equal(const lines *a, const lines *b)
{
	if (a->n != b->n) {
		printf("    %zu rows vs %zu rows\n", a->n, b->n);
		return false;
	}
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i], b->v[i])) {
			printf("    row %zu: '%s' vs '%s'\n", i, a->v[i], b->v[i]);
			return false;
		}
	return true;
}

/* A change batch for "id int64, region string, v int32" tables. */
static cl_batch *changes_new(cl_schema **sch)
{
	cl_batch *b = NULL;
	if (cl_schema_parse(sch, "action int8\nid int64\nregion string\nv int32", NULL) ||
	    cl_batch_create(&b, *sch, 64, NULL))
		return NULL;
	change_schema = *sch;
	return b;
}

static void change(cl_batch *b, char action, int64_t id, const char *region, int v)
{
	cl_column_append_i64(&b->cols[0], action, NULL);
	cl_column_append_i64(&b->cols[1], id, NULL);
	if (region)
		cl_column_append_bytes(&b->cols[2], region, strlen(region), NULL);
	else
		cl_column_append_null(&b->cols[2], NULL);
	if (action == 'D')
		cl_column_append_null(&b->cols[3], NULL);
	else
		cl_column_append_i64(&b->cols[3], v, NULL);
	b->nrows++;
}

static const char *const REGIONS[] = {"eu", "us", "ap"};

static int64_t count_dv_files(cl_table *t, int64_t *max_card, cl_error *err)
{
	cl_snapshot *s;
	if (cl_table_snapshot(&s, t, NULL, err))
		return -1;
	int64_t n = 0;
	*max_card = 0;
	for (size_t i = 0; i < cl_snapshot_nfiles(s); i++) {
		const cl_table_file *f = cl_snapshot_file(s, i);
		if (f->dv) {
			n++;
			if (f->dv->cardinality > *max_card)
				*max_card = f->dv->cardinality;
		}
	}
	cl_snapshot_free(s);
	return n;
}

TEST(table_dv_create_protocol)
{
	char root[600];
	const char *key = "id";
	cl_table *t = new_table("id int64 not null\nv int32", NULL, 0, &key, 1, 0, true, root,
				sizeof root);
	CHECK(t);
	cl_error err = {0};
	cl_snapshot *s;
	CHECK_OK(cl_table_snapshot(&s, t, NULL, &err), &err);
	int r, w;
	cl_snapshot_protocol(s, &r, &w);
	CHECK_EQ_INT(r, 3);
	CHECK_EQ_INT(w, 7);
	CHECK_EQ_INT(s->nreader_features, 1);
	CHECK_STR(s->reader_features[0], "deletionVectors");
	CHECK_EQ_INT(s->nwriter_features, 1);
	CHECK_STR(s->writer_features[0], "deletionVectors");
	CHECK_STR(cl_snapshot_config(s, "delta.enableDeletionVectors"), "true");
	cl_snapshot_free(s);
	cl_table_free(t);

	/* the property as configuration, with a timestamp_ntz column */
	cl_table_kv kv = {"delta.enableDeletionVectors", "true"};
	snprintf(root, sizeof root, "%s/t", cl_test_tmpdir());
	cl_schema *sc;
	cl_table_create_options o;
	cl_table_create_options_init(&o);
	o.config = &kv;
	o.nconfig = 1;
	CHECK_OK(cl_table_open(&t, root, &err), &err);
	CHECK_OK(cl_schema_parse(&sc, "id int64\nts timestamp(us)", &err), &err);
	CHECK_OK(cl_table_create(t, sc, &o, &err), &err);
	cl_schema_free(sc);
	CHECK_OK(cl_table_snapshot(&s, t, NULL, &err), &err);
	CHECK_EQ_INT(s->nreader_features, 2);
	CHECK_EQ_INT(s->nwriter_features, 2);
	CHECK_STR(s->writer_features[0], "deletionVectors");
	CHECK_STR(s->writer_features[1], "timestampNtz");
	CHECK_EQ_INT(cl_snapshot_nconfig(s), 2); /* target size + the property once */
	CHECK_STR(cl_snapshot_config(s, "delta.enableDeletionVectors"), "true");
	cl_snapshot_free(s);
	cl_table_free(t);
}

TEST(table_dv_enable_existing_table)
{
	char root[600];
	const char *key = "id";
	cl_table *t = new_table("id int64 not null\nregion string\nv int32", NULL, 0, &key, 1, 2,
				false, root, sizeof root);
	CHECK(t);
	cl_error err = {0};
	cl_schema *cs;
	cl_batch *b = changes_new(&cs);
	CHECK(b);
	for (int i = 0; i < 20; i++)
		change(b, 'I', i, REGIONS[i % 3], i);
	cl_table_cow_stats st;
	int64_t v;
	CHECK_OK(apply(t, b, &st, &v, &err), &err);
	CHECK_EQ_INT(v, 1);
	CHECK_OK(cl_table_enable_deletion_vectors(t, &v, &err), &err);
	CHECK_EQ_INT(v, 2);
	cl_snapshot *s;
	CHECK_OK(cl_table_snapshot(&s, t, NULL, &err), &err);
	int r, w;
	cl_snapshot_protocol(s, &r, &w);
	CHECK_EQ_INT(r, 3);
	CHECK_EQ_INT(w, 7);
	CHECK_EQ_INT(s->nreader_features, 1);
	CHECK_STR(s->reader_features[0], "deletionVectors");
	/* writer 2 implied appendOnly and invariants: listed explicitly */
	CHECK_EQ_INT(s->nwriter_features, 3);
	CHECK_STR(s->writer_features[0], "appendOnly");
	CHECK_STR(s->writer_features[1], "invariants");
	CHECK_STR(s->writer_features[2], "deletionVectors");
	CHECK_STR(cl_snapshot_config(s, "delta.enableDeletionVectors"), "true");
	CHECK_STR(cl_snapshot_config(s, CL_TABLE_CONF_KEYS), "id");
	CHECK_STR(cl_snapshot_config(s, CL_TABLE_CONF_BUCKETS), "2");
	CHECK_EQ_INT(cl_snapshot_nfiles(s), 2);
	cl_snapshot_free(s);
	/* again: nothing to do */
	CHECK_OK(cl_table_enable_deletion_vectors(t, &v, &err), &err);
	CHECK_EQ_INT(v, -1);
	/* a change now marks rows instead of rewriting */
	cl_batch_clear(b);
	change(b, 'C', 3, "eu", 33);
	change(b, 'D', 4, NULL, 0);
	CHECK_OK(apply(t, b, &st, &v, &err), &err);
	CHECK_EQ_INT(st.files_rewritten, 0);
	CHECK(st.files_dv >= 1);
	CHECK_EQ_INT(st.rows_deleted, 1);
	lines got;
	CHECK_OK(scan_lines(t, &got, &err), &err);
	CHECK_EQ_INT(got.n, 19);
	bool seen = false;
	for (size_t i = 0; i < got.n; i++) {
		CHECK(strncmp(got.v[i], "4|", 2));
		if (!strcmp(got.v[i], "3|eu|33"))
			seen = true;
		CHECK(strncmp(got.v[i], "3|", 2) || !strcmp(got.v[i], "3|eu|33"));
	}
	CHECK(seen);
	lines_free(&got);
	cl_batch_free(b);
	cl_schema_free(cs);
	cl_table_free(t);
}

/* Random change sets applied to a copy-on-write table and a merge-on-read
 * table with the same layout give the same rows after every commit, and
 * the model's rows. */
static void random_equal(const char *const *part, int npart, int buckets, uint64_t seed)
{
	enum { KEYS = 300, ROUNDS = 12 };
	rng_state = seed;
	char r1[600], r2[600];
	const char *key = "id";
	const char *schema = "id int64 not null\nregion string\nv int32";
	cl_table *cow = new_table(schema, part, npart, &key, 1, buckets, false, r1, sizeof r1);
	cl_table *mor = new_table(schema, part, npart, &key, 1, buckets, true, r2, sizeof r2);
	CHECK(cow && mor);
	cl_error err = {0};
	cl_schema *cs;
	cl_batch *b = changes_new(&cs);
	CHECK(b);
	int model[KEYS], mregion[KEYS];
	for (int i = 0; i < KEYS; i++) {
		model[i] = -1;
		mregion[i] = 0;
	}
	for (int i = 0; i < 200; i++) {
		int id = (int)(rnd() % KEYS);
		if (model[id] >= 0)
			continue;
		model[id] = (int)(rnd() % 1000);
		mregion[id] = (int)(rnd() % 3);
		change(b, 'I', id, REGIONS[mregion[id]], model[id]);
	}
	int64_t dv_total = 0, rewritten = 0, max_card = 0;
	for (int round = 0; round <= ROUNDS; round++) {
		cl_table_cow_stats s1, s2;
		int64_t v1, v2;
		CHECK_OK(apply(cow, b, &s1, &v1, &err), &err);
		CHECK_OK(apply(mor, b, &s2, &v2, &err), &err);
		CHECK_EQ_INT(v1, v2);
		CHECK_EQ_INT(s1.rows_deleted, s2.rows_deleted);
		CHECK_EQ_INT(s1.rows_upserted, s2.rows_upserted);
		CHECK_EQ_INT(s1.deletes_missing, s2.deletes_missing);
		CHECK_EQ_INT(s2.rows_copied, 0);
		dv_total += s2.files_dv;
		rewritten += s2.files_rewritten;
		lines a, c;
		CHECK_OK(scan_lines(cow, &a, &err), &err);
		CHECK_OK(scan_lines(mor, &c, &err), &err);
		bool same = lines_equal(&a, &c);
		/* the model */
		size_t live = 0;
		for (int i = 0; i < KEYS; i++)
			live += model[i] >= 0;
		bool model_ok = a.n == live;
		for (size_t i = 0; model_ok && i < a.n; i++) {
			long id;
			char reg[8];
			int vv;
			if (sscanf(a.v[i], "%ld|%7[^|]|%d", &id, reg, &vv) != 3 || id < 0 || id >= KEYS ||
			    model[id] != vv || strcmp(reg, REGIONS[mregion[id]]))
				model_ok = false;
		}
		lines_free(&a);
		lines_free(&c);
		if (!same)
			printf("    round %d\n", round);
		CHECK(same);
		CHECK(model_ok);
		/* next change set: upserts (some move partition), deletes (some
		 * of absent keys), distinct keys */
		cl_batch_clear(b);
		bool used[KEYS] = {0};
		for (int k = 0; k < 25; k++) {
			int id = (int)(rnd() % KEYS);
			if (used[id])
				continue;
			used[id] = true;
			if (rnd() % 3 == 0) {
				change(b, 'D', id, NULL, 0);
				model[id] = -1;
			} else {
				if (rnd() % 4 == 0 || model[id] < 0)
					mregion[id] = (int)(rnd() % 3); /* new, or a partition move */
				model[id] = (int)(rnd() % 1000);
				change(b, 'C', id, REGIONS[mregion[id]], model[id]);
			}
		}
	}
	CHECK(dv_total > 0);
	CHECK(count_dv_files(mor, &max_card, &err) > 0);
	CHECK(max_card >= 2); /* vectors stacked over commits */
	(void)rewritten;
	/* purge: no vector left, same rows */
	lines before, after;
	CHECK_OK(scan_lines(mor, &before, &err), &err);
	cl_compact_options co = {0};
	co.purge = true;
	cl_compact_result cr;
	int64_t v;
	CHECK_OK(cl_table_compact_opts(mor, &co, &cr, &v, &err), &err);
	CHECK(v > 0);
	CHECK(cr.files_purged > 0);
	CHECK_EQ_INT(count_dv_files(mor, &max_card, &err), 0);
	CHECK_OK(scan_lines(mor, &after, &err), &err);
	CHECK(lines_equal(&before, &after));
	lines_free(&before);
	lines_free(&after);
	cl_batch_free(b);
	cl_schema_free(cs);
	cl_table_free(cow);
	cl_table_free(mor);
}

TEST(table_dv_random_equals_cow_bucketed)
{
	random_equal(NULL, 0, 4, 1234567);
}

TEST(table_dv_random_equals_cow_partitioned_bucketed)
{
	const char *part[] = {"region"};
	random_equal(part, 1, 3, 987654321);
}

TEST(table_dv_random_equals_cow_plain)
{
	random_equal(NULL, 0, 0, 42);
}

/* Two key columns, the first one a partition column. */
TEST(table_dv_multi_key_with_partition_key)
{
	char r1[600], r2[600];
	const char *keys[] = {"region", "id"};
	const char *part[] = {"region"};
	const char *schema = "id int64 not null\nregion string\nv int32";
	cl_table *cow = new_table(schema, part, 1, keys, 2, 2, false, r1, sizeof r1);
	cl_table *mor = new_table(schema, part, 1, keys, 2, 2, true, r2, sizeof r2);
	CHECK(cow && mor);
	cl_error err = {0};
	cl_schema *cs;
	cl_batch *b = changes_new(&cs);
	for (int i = 0; i < 60; i++)
		change(b, 'I', i % 20, REGIONS[i / 20], i);
	cl_table_cow_stats st;
	int64_t v;
	CHECK_OK(apply(cow, b, &st, &v, &err), &err);
	CHECK_OK(apply(mor, b, &st, &v, &err), &err);
	cl_batch_clear(b);
	change(b, 'C', 5, "eu", 500);   /* (eu,5) changed, (us,5) stays */
	change(b, 'D', 6, "us", 0);     /* (us,6) deleted */
	change(b, 'D', 7, "xx", 0);     /* absent */
	change(b, 'I', 99, "ap", 9);
	CHECK_OK(apply(cow, b, &st, &v, &err), &err);
	CHECK_OK(apply(mor, b, &st, &v, &err), &err);
	CHECK_EQ_INT(st.rows_deleted, 1);
	CHECK_EQ_INT(st.deletes_missing, 1);
	CHECK_EQ_INT(st.files_rewritten, 0);
	CHECK_EQ_INT(st.files_dv, 2);
	lines a, c;
	CHECK_OK(scan_lines(cow, &a, &err), &err);
	CHECK_OK(scan_lines(mor, &c, &err), &err);
	CHECK(lines_equal(&a, &c));
	CHECK_EQ_INT(c.n, 60);
	lines_free(&a);
	lines_free(&c);
	cl_batch_free(b);
	cl_schema_free(cs);
	cl_table_free(cow);
	cl_table_free(mor);
}

TEST(table_dv_all_rows_of_a_file_deleted)
{
	char root[600];
	const char *key = "id";
	cl_table *t = new_table("id int64 not null\nregion string\nv int32", NULL, 0, &key, 1, 2,
				true, root, sizeof root);
	CHECK(t);
	cl_error err = {0};
	cl_schema *cs;
	cl_batch *b = changes_new(&cs);
	for (int i = 0; i < 10; i++)
		change(b, 'I', i, "eu", i);
	cl_table_cow_stats st;
	int64_t v;
	CHECK_OK(apply(t, b, &st, &v, &err), &err);
	cl_snapshot *s;
	CHECK_OK(cl_table_snapshot(&s, t, NULL, &err), &err);
	CHECK_EQ_INT(cl_snapshot_nfiles(s), 2);
	cl_snapshot_free(s);
	/* first delete some, then the rest of every file: stacked, then gone */
	cl_batch_clear(b);
	for (int i = 0; i < 10; i += 2)
		change(b, 'D', i, NULL, 0);
	CHECK_OK(apply(t, b, &st, &v, &err), &err);
	CHECK_EQ_INT(st.files_dv, 2);
	CHECK_EQ_INT(st.files_rewritten, 0);
	CHECK_EQ_INT(st.bytes_removed, 0);
	cl_batch_clear(b);
	for (int i = 1; i < 10; i += 2)
		change(b, 'D', i, NULL, 0);
	CHECK_OK(apply(t, b, &st, &v, &err), &err);
	CHECK_EQ_INT(st.files_dv, 0);
	CHECK_EQ_INT(st.files_rewritten, 2);
	CHECK_EQ_INT(st.rows_deleted, 5);
	CHECK_EQ_INT(st.dv_bytes, 0);
	CHECK_OK(cl_table_snapshot(&s, t, NULL, &err), &err);
	CHECK_EQ_INT(cl_snapshot_nfiles(s), 0);
	CHECK_EQ_INT(cl_snapshot_num_records(s), 0);
	cl_snapshot_free(s);
	/* the commit's metrics name what happened */
	cl_table_commit *h;
	size_t nh;
	CHECK_OK(cl_table_history(&h, &nh, t, &err), &err);
	CHECK(nh == 4 && h[3].commit_info_json);
	CHECK(strstr(h[3].commit_info_json, "\"numRemovedFiles\":\"2\""));
	CHECK(strstr(h[3].commit_info_json, "\"numDeletionVectorsRemoved\":\"2\""));
	CHECK(strstr(h[2].commit_info_json, "\"numDeletionVectorsAdded\":\"2\""));
	CHECK(strstr(h[2].commit_info_json, "\"numRemovedBytes\":\"0\""));
	CHECK(strstr(h[2].commit_info_json, "\"numRemovedFiles\":\"0\""));
	cl_table_history_free(h, nh);
	cl_batch_free(b);
	cl_schema_free(cs);
	cl_table_free(t);
}

/* Two transactions on the same version giving the same file a vector: the
 * second commit conflicts. */
TEST(table_dv_concurrent_vectors_conflict)
{
	char root[600];
	const char *key = "id";
	cl_table *t = new_table("id int64 not null\nregion string\nv int32", NULL, 0, &key, 1, 0,
				true, root, sizeof root);
	CHECK(t);
	cl_error err = {0};
	cl_schema *cs;
	cl_batch *b = changes_new(&cs);
	for (int i = 0; i < 10; i++)
		change(b, 'I', i, "eu", i);
	cl_table_cow_stats st;
	int64_t v;
	CHECK_OK(apply(t, b, &st, &v, &err), &err);
	cl_schema *ds;
	cl_batch *d1 = NULL, *d2 = NULL;
	CHECK_OK(cl_schema_parse(&ds, "id int64", &err), &err);
	CHECK_OK(cl_batch_create(&d1, ds, 4, &err), &err);
	CHECK_OK(cl_batch_create(&d2, ds, 4, &err), &err);
	cl_column_append_i64(&d1->cols[0], 2, &err);
	d1->nrows = 1;
	cl_column_append_i64(&d2->cols[0], 7, &err);
	d2->nrows = 1;
	cl_snapshot *s;
	cl_table_txn *x1, *x2;
	CHECK_OK(cl_table_snapshot(&s, t, NULL, &err), &err);
	CHECK_OK(cl_table_txn_begin(&x1, t, s, "DELETE", &err), &err);
	CHECK_OK(cl_table_txn_begin(&x2, t, s, "DELETE", &err), &err);
	const cl_batch *a1[1] = {d1}, *a2[1] = {d2};
	CHECK_OK(cl_table_cow(x1, NULL, NULL, 0, ds, a1, 1, &st, &err), &err);
	CHECK_EQ_INT(st.files_dv, 1);
	CHECK_OK(cl_table_cow(x2, NULL, NULL, 0, ds, a2, 1, &st, &err), &err);
	CHECK_EQ_INT(st.files_dv, 1);
	CHECK_OK(cl_table_txn_commit(x1, &v, &err), &err);
	CHECK_EQ_INT(cl_table_txn_commit(x2, &v, &err), CL_ECONFLICT);
	cl_table_txn_free(x1);
	cl_table_txn_free(x2);
	cl_snapshot_free(s);
	/* the retry through apply stacks the second vector on the first */
	cl_batch_clear(b);
	change(b, 'D', 7, NULL, 0);
	CHECK_OK(apply(t, b, &st, &v, &err), &err);
	int64_t card;
	CHECK_EQ_INT(count_dv_files(t, &card, &err), 1);
	CHECK_EQ_INT(card, 2);
	lines got;
	CHECK_OK(scan_lines(t, &got, &err), &err);
	CHECK_EQ_INT(got.n, 8);
	lines_free(&got);
	cl_batch_free(b);
	cl_batch_free(d1);
	cl_batch_free(d2);
	cl_schema_free(ds);
	cl_schema_free(cs);
	cl_table_free(t);
}

static int count_dv_objects(const char *root)
{
	char cmd[800];
	snprintf(cmd, sizeof cmd, "ls '%s' | grep -c '^deletion_vector_.*\\.bin$'", root);
	FILE *p = popen(cmd, "r");
	int n = -1;
	if (p) {
		if (fscanf(p, "%d", &n) != 1)
			n = -1;
		pclose(p);
	}
	return n;
}

/* A vector file published for a commit that never happens leaves the table
 * as it was; vacuum deletes it once it is older than the retention. */
TEST(table_dv_uncommitted_vector_file)
{
	char root[600];
	const char *key = "id";
	cl_table *t = new_table("id int64 not null\nregion string\nv int32", NULL, 0, &key, 1, 0,
				true, root, sizeof root);
	CHECK(t);
	cl_error err = {0};
	cl_schema *cs;
	cl_batch *b = changes_new(&cs);
	for (int i = 0; i < 10; i++)
		change(b, 'I', i, "eu", i);
	cl_table_cow_stats st;
	int64_t v;
	CHECK_OK(apply(t, b, &st, &v, &err), &err);
	lines before, after;
	CHECK_OK(scan_lines(t, &before, &err), &err);
	cl_schema *ds;
	cl_batch *d = NULL;
	CHECK_OK(cl_schema_parse(&ds, "id int64", &err), &err);
	CHECK_OK(cl_batch_create(&d, ds, 4, &err), &err);
	cl_column_append_i64(&d->cols[0], 3, &err);
	d->nrows = 1;
	cl_snapshot *s;
	cl_table_txn *x;
	CHECK_OK(cl_table_snapshot(&s, t, NULL, &err), &err);
	CHECK_OK(cl_table_txn_begin(&x, t, s, "DELETE", &err), &err);
	const cl_batch *a[1] = {d};
	CHECK_OK(cl_table_cow(x, NULL, NULL, 0, ds, a, 1, &st, &err), &err);
	CHECK(st.dv_bytes > 0);
	cl_table_txn_free(x); /* the "crash": no commit */
	cl_snapshot_free(s);
	CHECK_EQ_INT(count_dv_objects(root), 1);
	CHECK_OK(scan_lines(t, &after, &err), &err);
	CHECK(lines_equal(&before, &after));
	int64_t card;
	CHECK_EQ_INT(count_dv_files(t, &card, &err), 0);
	/* a committed vector survives vacuum, the orphan goes */
	cl_batch_clear(b);
	change(b, 'D', 4, NULL, 0);
	CHECK_OK(apply(t, b, &st, &v, &err), &err);
	CHECK_EQ_INT(count_dv_objects(root), 2);
	cl_vacuum_result vr;
	usleep(20000); /* the orphan older than "now" with retention 0 */
	CHECK_OK(cl_table_vacuum(t, 0, false, &vr, NULL, &err), &err);
	CHECK_EQ_INT(count_dv_objects(root), 1);
	lines_free(&after);
	CHECK_OK(scan_lines(t, &after, &err), &err);
	CHECK_EQ_INT(after.n, 9);
	lines_free(&before);
	lines_free(&after);
	cl_batch_free(b);
	cl_batch_free(d);
	cl_schema_free(ds);
	cl_schema_free(cs);
	cl_table_free(t);
}

/* Default compaction purges files whose vector deletes over 10% of rows. */
TEST(table_dv_compact_purges_large_fractions)
{
	char root[600];
	const char *key = "id";
	cl_table *t = new_table("id int64 not null\nregion string\nv int32", NULL, 0, &key, 1, 2,
				true, root, sizeof root);
	CHECK(t);
	cl_error err = {0};
	cl_schema *cs;
	cl_batch *b = changes_new(&cs);
	for (int i = 0; i < 200; i++)
		change(b, 'I', i, "eu", i);
	cl_table_cow_stats st;
	int64_t v;
	CHECK_OK(apply(t, b, &st, &v, &err), &err);
	/* bucket files hold ~100 rows each; delete 1 key then 30 keys */
	cl_batch_clear(b);
	change(b, 'D', 0, NULL, 0);
	CHECK_OK(apply(t, b, &st, &v, &err), &err);
	CHECK_EQ_INT(st.files_dv, 1);
	cl_compact_result cr;
	cl_compact_options co = {0};
	co.small_bytes = 1; /* no file is small: only purges */
	CHECK_OK(cl_table_compact_opts(t, &co, &cr, &v, &err), &err);
	CHECK_EQ_INT(v, -1); /* 1% deleted: left alone */
	cl_batch_clear(b);
	for (int i = 1; i < 60; i++)
		change(b, 'D', i, NULL, 0);
	CHECK_OK(apply(t, b, &st, &v, &err), &err);
	CHECK_EQ_INT(st.files_dv, 2);
	lines before, after;
	CHECK_OK(scan_lines(t, &before, &err), &err);
	CHECK_EQ_INT(before.n, 140);
	CHECK_OK(cl_table_compact_opts(t, &co, &cr, &v, &err), &err);
	CHECK(v > 0);
	CHECK_EQ_INT(cr.files_purged, 2);
	CHECK_EQ_INT(cr.rows_purged, 60);
	int64_t card;
	CHECK_EQ_INT(count_dv_files(t, &card, &err), 0);
	CHECK_OK(scan_lines(t, &after, &err), &err);
	CHECK(lines_equal(&before, &after));
	lines_free(&before);
	lines_free(&after);
	cl_batch_free(b);
	cl_schema_free(cs);
	cl_table_free(t);
}

TEST(table_dv_loose_stats)
{
	cl_buf o = {0};
	CHECK(cl__dv_loose_stats(&o, "{\"numRecords\":3,\"minValues\":{\"a\":1}}") == 0);
	CHECK_STR((const char *)o.data, "{\"tightBounds\":false,\"numRecords\":3,\"minValues\":{\"a\":1}}");
	cl_buf_clear(&o);
	CHECK(cl__dv_loose_stats(&o, "{\"numRecords\":3,\"tightBounds\":true}") == 0);
	CHECK_STR((const char *)o.data, "{\"numRecords\":3,\"tightBounds\":false}");
	cl_buf_clear(&o);
	/* a column named tightBounds is not the member */
	CHECK(cl__dv_loose_stats(&o, "{\"minValues\":{\"tightBounds\":true}}") == 0);
	CHECK_STR((const char *)o.data, "{\"tightBounds\":false,\"minValues\":{\"tightBounds\":true}}");
	cl_buf_clear(&o);
	CHECK(cl__dv_loose_stats(&o, "{}") == 0);
	CHECK_STR((const char *)o.data, "{\"tightBounds\":false}");
	cl_buf_release(&o);
}

/* Enabling keeps the features a table has; a contradicting configuration
 * at creation is refused. */
TEST(table_dv_enable_keeps_features)
{
	char root[600];
	snprintf(root, sizeof root, "%s/t", cl_test_tmpdir());
	cl_error err = {0};
	cl_table *t;
	cl_schema *sc;
	CHECK_OK(cl_table_open(&t, root, &err), &err);
	CHECK_OK(cl_schema_parse(&sc, "id int64\nts timestamp(us)", &err), &err);
	cl_table_create_options o;
	cl_table_create_options_init(&o);
	cl_table_kv kv = {"delta.enableDeletionVectors", "false"};
	o.config = &kv;
	o.nconfig = 1;
	o.deletion_vectors = true;
	CHECK_EQ_INT(cl_table_create(t, sc, &o, &err), CL_EINVAL);
	o.deletion_vectors = false;
	CHECK_OK(cl_table_create(t, sc, &o, &err), &err);
	cl_schema_free(sc);
	int64_t v;
	CHECK_OK(cl_table_enable_deletion_vectors(t, &v, &err), &err);
	CHECK_EQ_INT(v, 1);
	cl_snapshot *s;
	CHECK_OK(cl_table_snapshot(&s, t, NULL, &err), &err);
	CHECK_EQ_INT(s->nreader_features, 2);
	CHECK_STR(s->reader_features[0], "timestampNtz");
	CHECK_STR(s->reader_features[1], "deletionVectors");
	CHECK_EQ_INT(s->nwriter_features, 2);
	CHECK_STR(s->writer_features[1], "deletionVectors");
	/* the property replaced, not given twice */
	CHECK_STR(cl_snapshot_config(s, "delta.enableDeletionVectors"), "true");
	int n = 0;
	for (int i = 0; i < cl_snapshot_nconfig(s); i++)
		n += !strcmp(cl_snapshot_config_at(s, i).key, "delta.enableDeletionVectors");
	CHECK_EQ_INT(n, 1);
	cl_snapshot_free(s);
	cl_table_free(t);
}

/* A live file whose vector file is gone: the scan fails, naming the data
 * file and the vector, with the cause separated from the place. */
TEST(table_dv_missing_vector_file_error)
{
	char root[600];
	const char *key = "id";
	cl_table *t = new_table("id int64 not null\nregion string\nv int32", NULL, 0, &key, 1, 0,
				true, root, sizeof root);
	CHECK(t);
	cl_error err = {0};
	cl_schema *cs;
	cl_batch *b = changes_new(&cs);
	for (int i = 0; i < 10; i++)
		change(b, 'I', i, "eu", i);
	cl_table_cow_stats st;
	int64_t v;
	CHECK_OK(apply(t, b, &st, &v, &err), &err);
	cl_batch_clear(b);
	change(b, 'D', 3, NULL, 0);
	CHECK_OK(apply(t, b, &st, &v, &err), &err);
	CHECK_EQ_INT(count_dv_objects(root), 1);
	char cmd[800];
	snprintf(cmd, sizeof cmd, "rm -f '%s'/deletion_vector_*.bin", root);
	CHECK(system(cmd) == 0);
	lines got;
	cl_error_clear(&err);
	CHECK(scan_lines(t, &got, &err) != 0);
	CHECK(strstr(err.message, ".parquet: deletion vector: ") != NULL);
	CHECK(strstr(err.message, "vectorcannot") == NULL);
	lines_free(&got);
	cl_batch_free(b);
	cl_schema_free(cs);
	cl_table_free(t);
}
