/* test_cow_keys.c — the copy-on-write key set: compound keys with NULLs
 * match null-safely, upserts in several batches (converted to the table's
 * key types) and thousands of keys (the hash table grows) find their rows;
 * surviving rows are copied in runs (cl_column_append_range). */
#include "test.h"

#include "changelake/hash.h"
#include "changelake/table.h"

#include <stdlib.h>

enum { KN = 3000, KNEW = 2000 };

/* Keys of row i of the initial table: k2 = i except every 7th (NULL, then
 * k1 = "n<i>"), k1 NULL for every 5th otherwise, both NULL for i = 1. */
static void row_keys(int i, char *k1, size_t n, bool *k1null, bool *k2null)
{
	*k1null = false;
	*k2null = i % 7 == 0;
	if (*k2null)
		snprintf(k1, n, "n%d", i);
	else if (i % 5 == 0)
		*k1null = true;
	else
		snprintf(k1, n, "s%d", i % 50);
	if (i == 1)
		*k1null = *k2null = true;
}

static int add_row(cl_batch *b, int i, int64_t v, cl_error *err)
{
	char k1[32];
	bool n1, n2;
	row_keys(i, k1, sizeof k1, &n1, &n2);
	int rc = n1 ? cl_column_append_null(&b->cols[0], err)
		    : cl_column_append_bytes(&b->cols[0], k1, strlen(k1), err);
	rc = rc ? rc : n2 ? cl_column_append_null(&b->cols[1], err)
			  : cl_column_append_i64(&b->cols[1], i, err);
	rc = rc ? rc : cl_column_append_i64(&b->cols[2], v, err);
	if (!rc)
		b->nrows++;
	return rc;
}

/* Row number i of a row read back (from its keys), -1 if unknown. */
static int row_of(const cl_batch *b, int64_t r)
{
	bool n1 = cl_column_is_null(&b->cols[0], r), n2 = cl_column_is_null(&b->cols[1], r);
	if (n1 && n2)
		return 1;
	if (!n2)
		return (int)cl_column_get_i64(&b->cols[1], r);
	size_t len;
	const uint8_t *p = cl_column_get_bytes(&b->cols[0], r, &len);
	if (len < 2 || p[0] != 'n')
		return -1;
	char t[24];
	snprintf(t, sizeof t, "%.*s", (int)(len - 1 < 20 ? len - 1 : 20), (const char *)p + 1);
	return atoi(t);
}

TEST(table_cow_compound_null_keys_many_batches)
{
	cl_error err = {0};
	char root[600];
	snprintf(root, sizeof root, "%s/t", cl_test_tmpdir());
	cl_table *t = NULL;
	cl_schema *s = NULL, *us = NULL, *ds = NULL;
	CHECK_OK(cl_table_open(&t, root, &err), &err);
	CHECK_OK(cl_schema_parse(&s, "k1 string\nk2 int64\nv int64", &err), &err);
	CHECK_OK(cl_schema_parse(&us, "v int64\nk2 int32\nk1 string", &err), &err);
	CHECK_OK(cl_schema_parse(&ds, "k1 string\nk2 int64\nv int64", &err), &err);
	cl_table_create_options o;
	cl_table_create_options_init(&o);
	const char *keys[] = {"k1", "k2"};
	o.keys = keys;
	o.nkeys = 2;
	o.buckets = 4;
	CHECK_OK(cl_table_create(t, s, &o, &err), &err);
	/* the initial rows */
	cl_snapshot *snap = NULL;
	cl_table_txn *x = NULL;
	cl_table_writer *w = NULL;
	cl_batch *b = NULL;
	CHECK_OK(cl_table_snapshot(&snap, t, NULL, &err), &err);
	CHECK_OK(cl_table_txn_begin(&x, t, snap, "WRITE", &err), &err);
	CHECK_OK(cl_table_writer_open(&w, x, s, &err), &err);
	CHECK_OK(cl_batch_create(&b, s, KN, &err), &err);
	for (int i = 0; i < KN; i++)
		CHECK_OK(add_row(b, i, i, &err), &err);
	CHECK_OK(cl_table_writer_write(w, b, &err), &err);
	CHECK_OK(cl_table_writer_finish(w, &err), &err);
	CHECK_OK(cl_table_txn_commit(x, NULL, &err), &err);
	cl_table_writer_free(w);
	cl_table_txn_free(x);
	cl_snapshot_free(snap);
	cl_batch_free(b);
	/* upserts in two batches (columns reordered, k2 as int32): every 3rd
	 * row and the all-NULL key, then KNEW new keys; deletes of every 11th
	 * other row and of a key that is not there */
	cl_batch *ua = NULL, *ub = NULL, *db = NULL, *tmp = NULL;
	CHECK_OK(cl_batch_create(&ua, us, 16, &err), &err);
	CHECK_OK(cl_batch_create(&ub, us, 16, &err), &err);
	CHECK_OK(cl_batch_create(&db, ds, 16, &err), &err);
	CHECK_OK(cl_batch_create(&tmp, s, 16, &err), &err);
	int nup = 0, ndel = 0;
	for (int i = 0; i < KN + KNEW; i++) {
		bool up = i >= KN || i % 3 == 0 || i == 1;
		bool del = !up && i % 11 == 0;
		if (!up && !del)
			continue;
		cl_batch_clear(tmp);
		tmp->nrows = 0;
		CHECK_OK(add_row(tmp, i, -i, &err), &err);
		cl_batch *dst = del ? db : i >= KN ? ub : ua;
		if (del) {
			for (int c = 0; c < 3; c++)
				CHECK_OK(cl_column_append_from(&db->cols[c], &tmp->cols[c], 0, &err),
					 &err);
			db->nrows++;
			ndel++;
			continue;
		}
		CHECK_OK(cl_column_append_from(&dst->cols[0], &tmp->cols[2], 0, &err), &err);
		CHECK_OK(cl_column_append_from(&dst->cols[2], &tmp->cols[0], 0, &err), &err);
		CHECK_OK(cl_column_is_null(&tmp->cols[1], 0)
				 ? cl_column_append_null(&dst->cols[1], &err)
				 : cl_column_append_i64(&dst->cols[1], i, &err),
			 &err);
		dst->nrows++;
		nup++;
	}
	CHECK_OK(cl_column_append_bytes(&db->cols[0], "zz", 2, &err), &err);
	CHECK_OK(cl_column_append_i64(&db->cols[1], -5, &err), &err);
	CHECK_OK(cl_column_append_null(&db->cols[2], &err), &err);
	db->nrows++;
	cl_table_cow_stats st;
	const cl_batch *ups[2] = {ua, ub}, *dels[1] = {db};
	CHECK_OK(cl_table_snapshot(&snap, t, NULL, &err), &err);
	CHECK_OK(cl_table_txn_begin(&x, t, snap, "MERGE", &err), &err);
	CHECK_OK(cl_table_cow(x, us, ups, 2, ds, dels, 1, &st, &err), &err);
	CHECK_OK(cl_table_txn_commit(x, NULL, &err), &err);
	cl_table_txn_free(x);
	cl_snapshot_free(snap);
	CHECK_EQ_INT(st.rows_upserted, nup);
	CHECK_EQ_INT(st.rows_deleted, ndel);
	CHECK_EQ_INT(st.deletes_missing, 1);
	/* read back: every expected row once with its value */
	static int seen[KN + KNEW];
	memset(seen, 0, sizeof seen);
	int64_t rows = 0;
	int bad = 0;
	cl_table_scan *sc;
	CHECK_OK(cl_table_snapshot(&snap, t, NULL, &err), &err);
	CHECK_OK(cl_table_scan_open(&sc, t, snap, NULL, &err), &err);
	cl_batch *rb;
	while (!cl_table_scan_next(sc, &rb, &err) && rb)
		for (int64_t r = 0; r < rb->nrows; r++) {
			rows++;
			int i = row_of(rb, r);
			if (i < 0 || i >= KN + KNEW) {
				size_t len = 0;
				const uint8_t *p = cl_column_is_null(&rb->cols[0], r)
							   ? (const uint8_t *)"NULL"
							   : cl_column_get_bytes(&rb->cols[0], r, &len);
				printf("    row with unknown keys (k1 %.*s, k2 %s)\n", (int)len, p,
				       cl_column_is_null(&rb->cols[1], r) ? "NULL" : "set");
				bad++;
				continue;
			}
			seen[i]++;
			int64_t want = i >= KN || i % 3 == 0 || i == 1 ? -i : i;
			if (cl_column_get_i64(&rb->cols[2], r) != want) {
				printf("    row %d: v %lld, expected %lld\n", i,
				       (long long)cl_column_get_i64(&rb->cols[2], r), (long long)want);
				bad++;
			}
		}
	cl_table_scan_free(sc);
	cl_snapshot_free(snap);
	CHECK_EQ_INT(bad, 0);
	CHECK_EQ_INT(rows, KN + KNEW - ndel);
	int wrong = 0;
	for (int i = 0; i < KN + KNEW; i++) {
		bool gone = i < KN && !(i % 3 == 0 || i == 1) && i % 11 == 0;
		wrong += seen[i] != (gone ? 0 : 1);
	}
	CHECK_EQ_INT(wrong, 0);
	/* the same key twice across the two batches is refused (the all-NULL
	 * key is in the first) */
	CHECK_OK(cl_column_append_i64(&ub->cols[0], 7, &err), &err);
	CHECK_OK(cl_column_append_null(&ub->cols[1], &err), &err);
	CHECK_OK(cl_column_append_null(&ub->cols[2], &err), &err);
	ub->nrows++;
	CHECK_OK(cl_table_snapshot(&snap, t, NULL, &err), &err);
	CHECK_OK(cl_table_txn_begin(&x, t, snap, "MERGE", &err), &err);
	CHECK_EQ_INT(cl_table_cow(x, us, ups, 2, ds, dels, 0, &st, &err), CL_EDUPKEY);
	CHECK(strstr(err.message, "k1=NULL, k2=NULL"));
	cl_table_txn_free(x);
	cl_snapshot_free(snap);
	cl_batch_free(ua);
	cl_batch_free(ub);
	cl_batch_free(db);
	cl_batch_free(tmp);
	cl_schema_free(s);
	cl_schema_free(us);
	cl_schema_free(ds);
	cl_table_free(t);
}

TEST(column_append_range_copies_values_nulls_and_bytes)
{
	cl_error err = {0};
	cl_schema *s = NULL;
	cl_batch *a = NULL, *b = NULL;
	CHECK_OK(cl_schema_parse(&s, "x int32\ny string\nz bool", &err), &err);
	CHECK_OK(cl_batch_create(&a, s, 4, &err), &err);
	CHECK_OK(cl_batch_create(&b, s, 4, &err), &err);
	for (int i = 0; i < 100; i++) {
		char t[16];
		snprintf(t, sizeof t, "v%d", i);
		CHECK_OK(i % 9 == 4 ? cl_column_append_null(&a->cols[0], &err)
				    : cl_column_append_i64(&a->cols[0], i, &err), &err);
		CHECK_OK(i % 13 == 2 ? cl_column_append_null(&a->cols[1], &err)
				     : cl_column_append_bytes(&a->cols[1], t, strlen(t), &err), &err);
		CHECK_OK(cl_column_append_bool(&a->cols[2], i % 3 == 0, &err), &err);
	}
	/* ranges [3, 40), [41, 41), [60, 100) after one value appended singly */
	for (int c = 0; c < 3; c++) {
		CHECK_OK(cl_column_append_from(&b->cols[c], &a->cols[c], 99, &err), &err);
		CHECK_OK(cl_column_append_range(&b->cols[c], &a->cols[c], 3, 37, &err), &err);
		CHECK_OK(cl_column_append_range(&b->cols[c], &a->cols[c], 41, 0, &err), &err);
		CHECK_OK(cl_column_append_range(&b->cols[c], &a->cols[c], 60, 40, &err), &err);
	}
	b->nrows = 78;
	CHECK_OK(cl_batch_validate(b, &err), &err);
	int bad = 0;
	for (int64_t r = 0; r < 78; r++) {
		int64_t i = r == 0 ? 99 : r <= 37 ? r + 2 : r - 38 + 60;
		for (int c = 0; c < 3; c++)
			bad += cl_value_compare(&b->cols[c], r, &a->cols[c], i) != 0 ||
			       cl_column_is_null(&b->cols[c], r) != cl_column_is_null(&a->cols[c], i);
	}
	CHECK_EQ_INT(bad, 0);
	int64_t nulls = 0;
	for (int64_t r = 0; r < 78; r++)
		nulls += cl_column_is_null(&b->cols[0], r);
	CHECK_EQ_INT(b->cols[0].null_count, nulls);
	cl_batch_free(a);
	cl_batch_free(b);
	cl_schema_free(s);
}

/* The table writer routes rows to (partition, bucket) files in bulk: every
 * row lands once, in the file of its own partition and bucket, also past
 * the 65536-row hand-over to the file writer and over several batches. */
TEST(table_writer_routes_rows_to_partition_and_bucket_files)
{
	enum { RN = 70000 };
	cl_error err = {0};
	char root[600];
	snprintf(root, sizeof root, "%s/t", cl_test_tmpdir());
	cl_table *t = NULL;
	cl_schema *s = NULL;
	CHECK_OK(cl_table_open(&t, root, &err), &err);
	CHECK_OK(cl_schema_parse(&s, "id int64 not null\np string\nnote string", &err), &err);
	cl_table_create_options o;
	cl_table_create_options_init(&o);
	const char *key = "id", *part[] = {"p"};
	o.keys = &key;
	o.nkeys = 1;
	o.partition_by = part;
	o.npartition_by = 1;
	o.buckets = 3;
	CHECK_OK(cl_table_create(t, s, &o, &err), &err);
	cl_snapshot *snap = NULL;
	cl_table_txn *x = NULL;
	cl_table_writer *w = NULL;
	cl_batch *b = NULL;
	CHECK_OK(cl_table_snapshot(&snap, t, NULL, &err), &err);
	CHECK_OK(cl_table_txn_begin(&x, t, snap, "WRITE", &err), &err);
	CHECK_OK(cl_table_writer_open(&w, x, s, &err), &err);
	CHECK_OK(cl_batch_create(&b, s, RN, &err), &err);
	for (int part_i = 0; part_i < 2; part_i++) {
		cl_batch_clear(b);
		b->nrows = 0;
		for (int i = part_i; i < RN; i += 2) {
			char note[32];
			snprintf(note, sizeof note, "note %d", i);
			CHECK_OK(cl_column_append_i64(&b->cols[0], i, &err), &err);
			CHECK_OK(i % 4 == 0 ? cl_column_append_bytes(&b->cols[1], "a", 1, &err)
					    : cl_column_append_bytes(&b->cols[1], "b", 1, &err), &err);
			CHECK_OK(i % 10 == 3 ? cl_column_append_null(&b->cols[2], &err)
					     : cl_column_append_bytes(&b->cols[2], note, strlen(note),
								      &err), &err);
			b->nrows++;
		}
		CHECK_OK(cl_table_writer_write(w, b, &err), &err);
	}
	CHECK_OK(cl_table_writer_finish(w, &err), &err);
	CHECK_OK(cl_table_txn_commit(x, NULL, &err), &err);
	cl_table_writer_free(w);
	cl_table_txn_free(x);
	cl_snapshot_free(snap);
	cl_batch_free(b);
	/* each file on its own: rows of its partition and bucket only */
	CHECK_OK(cl_table_snapshot(&snap, t, NULL, &err), &err);
	static unsigned char seen[RN];
	memset(seen, 0, sizeof seen);
	int bad = 0;
	int64_t rows = 0;
	for (size_t fi = 0; fi < cl_snapshot_nfiles(snap); fi++) {
		const cl_table_file *f = cl_snapshot_file(snap, fi);
		const char *only[1] = {f->path};
		cl_table_scan_options so = {0};
		so.only_files = only;
		so.nonly_files = 1;
		cl_table_scan *sc = NULL;
		cl_batch *rb;
		CHECK_OK(cl_table_scan_open(&sc, t, snap, &so, &err), &err);
		int fb = -1;
		char fp = 0;
		while (!cl_table_scan_next(sc, &rb, &err) && rb)
			for (int64_t r = 0; r < rb->nrows; r++) {
				int64_t id = cl_column_get_i64(&rb->cols[0], r);
				rows++;
				if (id < 0 || id >= RN || seen[id]++) {
					bad++;
					continue;
				}
				int bk = (int)(cl_hash_value(&rb->cols[0], r, 0) % 3);
				size_t len;
				const uint8_t *pv = cl_column_get_bytes(&rb->cols[1], r, &len);
				char want = id % 4 == 0 ? 'a' : 'b';
				if (len != 1 || pv[0] != want)
					bad++;
				if (fb < 0) {
					fb = bk;
					fp = want;
				}
				if (bk != fb || want != fp)
					bad++;
				bool null = cl_column_is_null(&rb->cols[2], r);
				if (null != (id % 10 == 3))
					bad++;
				char note[32];
				snprintf(note, sizeof note, "note %d", (int)id);
				if (!null) {
					pv = cl_column_get_bytes(&rb->cols[2], r, &len);
					if (len != strlen(note) || memcmp(pv, note, len))
						bad++;
				}
			}
		cl_table_scan_free(sc);
	}
	CHECK_EQ_INT(rows, RN);
	CHECK_EQ_INT(bad, 0);
	CHECK_EQ_INT(cl_snapshot_nfiles(snap), 6);
	cl_snapshot_free(snap);
	cl_schema_free(s);
	cl_table_free(t);
}

/* cl_table_changes_add splits interleaved actions (runs copied in bulk):
 * every upsert and delete row reaches the commit, a bad action is refused. */
TEST(table_changes_interleaved_actions)
{
	cl_error err = {0};
	char root[600];
	snprintf(root, sizeof root, "%s/t", cl_test_tmpdir());
	cl_table *t = NULL;
	cl_schema *s = NULL, *cs = NULL;
	CHECK_OK(cl_table_open(&t, root, &err), &err);
	CHECK_OK(cl_schema_parse(&s, "id int64 not null\nv string", &err), &err);
	CHECK_OK(cl_schema_parse(&cs, "op int8\nid int64\nv string", &err), &err);
	cl_table_create_options o;
	cl_table_create_options_init(&o);
	const char *key = "id";
	o.keys = &key;
	o.nkeys = 1;
	o.buckets = 2;
	CHECK_OK(cl_table_create(t, s, &o, &err), &err);
	const char ops[] = "IIDICDDIIC";
	cl_batch *b = NULL;
	CHECK_OK(cl_batch_create(&b, cs, 16, &err), &err);
	for (int i = 0; ops[i]; i++) {
		char v[16];
		snprintf(v, sizeof v, "v%d", i);
		CHECK_OK(cl_column_append_i64(&b->cols[0], ops[i], &err), &err);
		CHECK_OK(cl_column_append_i64(&b->cols[1], i, &err), &err);
		CHECK_OK(i == 3 ? cl_column_append_null(&b->cols[2], &err)
				: cl_column_append_bytes(&b->cols[2], v, strlen(v), &err), &err);
		b->nrows++;
	}
	cl_table_changes *c = NULL;
	CHECK_OK(cl_table_changes_open(&c, t, cs, &err), &err);
	CHECK_OK(cl_table_changes_add(c, b, &err), &err);
	cl_table_cow_stats st;
	CHECK_OK(cl_table_changes_commit(c, "MERGE", NULL, 0, &st, NULL, &err), &err);
	CHECK_EQ_INT(st.rows_upserted, 7);
	CHECK_EQ_INT(st.deletes_missing, 3);
	cl_table_changes_free(c);
	/* the table: ids of the I and C rows with their values */
	cl_snapshot *snap = NULL;
	cl_table_scan *sc = NULL;
	cl_batch *rb;
	int seen[16] = {0}, bad = 0, rows = 0;
	CHECK_OK(cl_table_snapshot(&snap, t, NULL, &err), &err);
	CHECK_OK(cl_table_scan_open(&sc, t, snap, NULL, &err), &err);
	while (!cl_table_scan_next(sc, &rb, &err) && rb)
		for (int64_t r = 0; r < rb->nrows; r++, rows++) {
			int64_t id = cl_column_get_i64(&rb->cols[0], r);
			if (id < 0 || id >= 10 || ops[id] == 'D') {
				bad++;
				continue;
			}
			seen[id]++;
			char v[16];
			snprintf(v, sizeof v, "v%d", (int)id);
			size_t len = 0;
			bool null = cl_column_is_null(&rb->cols[1], r);
			const uint8_t *p = null ? NULL : cl_column_get_bytes(&rb->cols[1], r, &len);
			if (null != (id == 3) || (!null && (len != strlen(v) || memcmp(p, v, len))))
				bad++;
		}
	cl_table_scan_free(sc);
	cl_snapshot_free(snap);
	CHECK_EQ_INT(bad, 0);
	CHECK_EQ_INT(rows, 7);
	/* an unknown action */
	cl_column_clear(&b->cols[0]);
	for (int i = 0; ops[i]; i++)
		CHECK_OK(cl_column_append_i64(&b->cols[0], i == 6 ? 'X' : 'I', &err), &err);
	CHECK_OK(cl_table_changes_open(&c, t, cs, &err), &err);
	CHECK_EQ_INT(cl_table_changes_add(c, b, &err), CL_EFORMAT);
	CHECK(strstr(err.message, "unknown change action"));
	cl_table_changes_free(c);
	cl_batch_free(b);
	cl_schema_free(s);
	cl_schema_free(cs);
	cl_table_free(t);
}

/* The scans' filter in front of the changed-key set: every key's bit is
 * set (no false negatives), and past 2^24 filter bits (over ~1M keys) the
 * whole filter is used, so absent hashes pass it at about the designed
 * rate (16 bits a key: ~1 in 20), not twice that. */
#include "table/table_cow_keys.h"
TEST(table_cow_keyset_filter_uses_all_bits)
{
	enum { N = 1500000, PROBES = 1000000 };
	cl__keyset ks;
	memset(&ks, 0, sizeof ks);
	ks.cap = (size_t)1 << 22;
	ks.slots = cl_calloc(ks.cap, sizeof *ks.slots);
	CHECK(ks.slots != NULL);
	uint64_t x = 88172645463325252ull;
	for (size_t i = 0; i < N; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		size_t j = (size_t)x & (ks.cap - 1);
		while (ks.slots[j].flags)
			j = (j + 1) & (ks.cap - 1);
		ks.slots[j].h = x;
		ks.slots[j].flags = K_UPSERT;
		ks.n++;
	}
	CHECK_EQ_INT(cl__keyset_filter(&ks), 0);
	CHECK(ks.fmask + 1 > ((uint64_t)1 << 24));
	size_t missing = 0, pass = 0;
	for (size_t i = 0; i < ks.cap; i++)
		if (ks.slots[i].flags && !cl__keyset_maybe(&ks, ks.slots[i].h))
			missing++;
	for (size_t i = 0; i < PROBES; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		pass += cl__keyset_maybe(&ks, x);
	}
	CHECK_EQ_INT(missing, 0);
	if (pass * 100 > (size_t)PROBES * 65 / 10)
		printf("    %zu of %d absent hashes pass the filter\n", pass, PROBES);
	CHECK(pass * 100 <= (size_t)PROBES * 65 / 10);
	cl_free(ks.filter);
	cl_free(ks.slots);
}
