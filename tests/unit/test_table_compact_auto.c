/* test_table_compact_auto.c — auto-compaction: which scopes qualify (small
 * files per partition folder and bucket, deletion vectors over 10%), the
 * table property and overrides, and that only qualifying scopes are
 * rewritten without changing the rows. */
#include "test.h"

#include "changelake/table.h"

#include <string.h>

/* Upsert ('I') or delete ('D') ids first..first+n-1 (step `step`), all in
 * partition p (NULL: id parity picks "a"/"b"). */
static int change(cl_table *t, char action, int first, int n, int step, const char *p,
		  cl_error *err)
{
	cl_schema *sc = NULL;
	cl_batch *b = NULL;
	int rc = cl_schema_parse(&sc, "action int8\nid int64\np string\nv int64", err);
	rc = rc ? rc : cl_batch_create(&b, sc, n, err);
	for (int k = 0; !rc && k < n; k++) {
		int i = first + k * step;
		const char *pv = p ? p : i % 2 ? "a" : "b";
		cl_column_append_i64(&b->cols[0], action, err);
		cl_column_append_i64(&b->cols[1], i, err);
		cl_column_append_bytes(&b->cols[2], pv, strlen(pv), err);
		cl_column_append_i64(&b->cols[3], i * 3, err);
		b->nrows++;
	}
	const cl_batch *bs[1] = {b};
	rc = rc ? rc : cl_table_apply_changes(t, sc, bs, 1, "WRITE", NULL, 0, NULL, NULL, err);
	cl_batch_free(b);
	cl_schema_free(sc);
	return rc;
}

/* Rows and a checksum over (id, v) of the latest version. */
static int64_t checksum(cl_table *t, int64_t *rows, cl_error *err)
{
	cl_snapshot *s;
	*rows = 0;
	if (cl_table_snapshot(&s, t, NULL, err))
		return -1;
	cl_table_scan *sc;
	int64_t sum = 0;
	if (cl_table_scan_open(&sc, t, s, NULL, err) == 0) {
		cl_batch *b;
		while (cl_table_scan_next(sc, &b, err) == 0 && b)
			for (int64_t r = 0; r < b->nrows; r++, (*rows)++)
				sum += cl_column_get_i64(&b->cols[0], r) * 7919 +
				       cl_column_get_i64(&b->cols[2], r);
		cl_table_scan_free(sc);
	}
	cl_snapshot_free(s);
	return sum;
}

static cl_table *make_table(bool dv, int buckets, bool partitioned, cl_error *err)
{
	char root[600];
	snprintf(root, sizeof root, "%s/t", cl_test_tmpdir());
	cl_table *t = NULL;
	cl_schema *s = NULL;
	if (cl_table_open(&t, root, err) ||
	    cl_schema_parse(&s, "id int64 not null\np string\nv int64", err)) {
		cl_table_free(t);
		return NULL;
	}
	cl_table_create_options o;
	cl_table_create_options_init(&o);
	const char *part[] = {"p"}, *key = "id";
	o.partition_by = partitioned ? part : NULL;
	o.npartition_by = partitioned ? 1 : 0;
	o.keys = &key;
	o.nkeys = 1;
	o.buckets = buckets;
	o.deletion_vectors = dv;
	int rc = cl_table_create(t, s, &o, err);
	cl_schema_free(s);
	if (rc) {
		cl_table_free(t);
		return NULL;
	}
	return t;
}

static size_t qualifying(cl_table *t, int min_small, char ***scopes, cl_error *err)
{
	cl_snapshot *s = NULL;
	size_t n = 0;
	*scopes = NULL;
	cl_compact_options o = {0};
	o.min_small_files = min_small;
	if (cl_table_snapshot(&s, t, NULL, err) == 0)
		cl_table_compact_scopes(s, &o, scopes, &n, err);
	cl_snapshot_free(s);
	return n;
}

static void free_scopes(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		cl_free(v[i]);
	cl_free(v);
}

/* Live files whose path starts with prefix. */
static int count_files(cl_table *t, const char *prefix, cl_error *err)
{
	cl_snapshot *s;
	if (cl_table_snapshot(&s, t, NULL, err))
		return -1;
	int n = 0;
	for (size_t i = 0; i < cl_snapshot_nfiles(s); i++)
		n += !strncmp(cl_snapshot_file(s, i)->path, prefix, strlen(prefix));
	cl_snapshot_free(s);
	return n;
}

TEST(table_autocompact_scopes_small_file_threshold)
{
	cl_error err = {0};
	cl_table *t = make_table(false, 2, true, &err);
	CHECK_OK(t ? 0 : -1, &err);
	/* 7 appends of both partitions: 7 small files in each of 4 scopes */
	for (int k = 0; k < 7; k++)
		CHECK_OK(change(t, 'I', k * 40, 40, 1, NULL, &err), &err);
	char **sc;
	size_t n = qualifying(t, CL_AUTOCOMPACT_MIN_SMALL_FILES, &sc, &err);
	CHECK_EQ_INT(n, 0);
	free_scopes(sc, n);
	/* compact's own threshold (2) takes all four */
	n = qualifying(t, 0, &sc, &err);
	CHECK_EQ_INT(n, 4);
	free_scopes(sc, n);
	/* an 8th file in partition a only: its two buckets qualify */
	CHECK_OK(change(t, 'I', 1000, 20, 1, "a", &err), &err);
	n = qualifying(t, CL_AUTOCOMPACT_MIN_SMALL_FILES, &sc, &err);
	CHECK_EQ_INT(n, 2);
	for (size_t i = 0; i < n; i++)
		CHECK(!strncmp(sc[i], "p=a/#", 5));
	free_scopes(sc, n);
	/* a copy-on-write table is off by default */
	cl_autocompact_result r;
	CHECK_OK(cl_table_autocompact(t, 0, &r, &err), &err);
	CHECK(!r.enabled);
	CHECK_EQ_INT(r.version, -1);
	CHECK_STR(r.skipped, "off for this table");
	/* forced on: only partition a is rewritten */
	int64_t rows0, sum0 = checksum(t, &rows0, &err);
	CHECK_EQ_INT(rows0, 300);
	CHECK_EQ_INT(count_files(t, "p=a/", &err), 16);
	CHECK_EQ_INT(count_files(t, "p=b/", &err), 14);
	CHECK_OK(cl_table_autocompact(t, 1, &r, &err), &err);
	CHECK(r.enabled);
	CHECK(r.skipped == NULL);
	CHECK_EQ_INT(r.version, 9);
	CHECK_EQ_INT(r.compact.groups, 2);
	CHECK_EQ_INT(r.compact.files_removed, 16);
	CHECK_EQ_INT(r.compact.files_added, 2);
	CHECK_EQ_INT(count_files(t, "p=a/", &err), 2);
	CHECK_EQ_INT(count_files(t, "p=b/", &err), 14);
	int64_t rows1, sum1 = checksum(t, &rows1, &err);
	CHECK_EQ_INT(rows1, rows0);
	CHECK_EQ_INT(sum1, sum0);
	/* the commit is marked as an automatic, data-neutral OPTIMIZE */
	uint8_t *text;
	size_t len;
	CHECK_OK(cl_store_get(cl_table_store(t), "_delta_log/00000000000000000009.json", &text,
			      &len, &err), &err);
	CHECK(strstr((char *)text, "\"operation\":\"OPTIMIZE\""));
	CHECK(strstr((char *)text, "\"auto\":\"true\""));
	CHECK(!strstr((char *)text, "\"dataChange\":true"));
	cl_free(text);
	/* again: nothing qualifies */
	CHECK_OK(cl_table_autocompact(t, 1, &r, &err), &err);
	CHECK_EQ_INT(r.version, -1);
	CHECK_STR(r.skipped, "nothing to compact");
	cl_table_free(t);
}

TEST(table_autocompact_property_and_overrides)
{
	cl_error err = {0};
	cl_table *t = make_table(false, 0, false, &err);
	CHECK_OK(t ? 0 : -1, &err);
	for (int k = 0; k < 8; k++)
		CHECK_OK(change(t, 'I', k * 10, 10, 1, NULL, &err), &err);
	cl_snapshot *s;
	CHECK_OK(cl_table_snapshot(&s, t, NULL, &err), &err);
	CHECK(!cl_table_autocompact_enabled(s));
	cl_snapshot_free(s);
	int64_t v;
	CHECK_OK(cl_table_set_property(t, CL_TABLE_CONF_AUTO_COMPACT, "true", &v, &err), &err);
	CHECK_EQ_INT(v, 9);
	/* the same value again commits nothing */
	CHECK_OK(cl_table_set_property(t, CL_TABLE_CONF_AUTO_COMPACT, "true", &v, &err), &err);
	CHECK_EQ_INT(v, -1);
	CHECK_OK(cl_table_snapshot(&s, t, NULL, &err), &err);
	CHECK(cl_table_autocompact_enabled(s));
	CHECK_STR(cl_snapshot_config(s, CL_TABLE_CONF_AUTO_COMPACT), "true");
	/* the rest of the configuration is kept */
	CHECK_STR(cl_snapshot_config(s, CL_TABLE_CONF_KEYS), "id");
	cl_snapshot_free(s);
	cl_autocompact_result r;
	/* a per-run "off" wins over the property */
	CHECK_OK(cl_table_autocompact(t, -1, &r, &err), &err);
	CHECK_EQ_INT(r.version, -1);
	CHECK_STR(r.skipped, "turned off for this run");
	CHECK_OK(cl_table_autocompact(t, 0, &r, &err), &err);
	CHECK_EQ_INT(r.version, 10);
	CHECK_EQ_INT(r.compact.files_removed, 8);
	CHECK_EQ_INT(r.compact.files_added, 1);
	int64_t rows;
	checksum(t, &rows, &err);
	CHECK_EQ_INT(rows, 80);
	/* layout and protocol properties are not plain properties */
	CHECK_EQ_INT(cl_table_set_property(t, CL_TABLE_CONF_BUCKETS, "4", &v, &err),
		     CL_EUNSUPPORTED);
	CHECK_EQ_INT(cl_table_set_property(t, "delta.enableDeletionVectors", "true", &v, &err),
		     CL_EUNSUPPORTED);
	/* removing the property: back to the default (off without DVs) */
	CHECK_OK(cl_table_set_property(t, CL_TABLE_CONF_AUTO_COMPACT, NULL, &v, &err), &err);
	CHECK_EQ_INT(v, 11);
	CHECK_OK(cl_table_snapshot(&s, t, NULL, &err), &err);
	CHECK(cl_snapshot_config(s, CL_TABLE_CONF_AUTO_COMPACT) == NULL);
	CHECK(!cl_table_autocompact_enabled(s));
	cl_snapshot_free(s);
	cl_table_free(t);
}

TEST(table_autocompact_deletion_vector_fraction)
{
	cl_error err = {0};
	cl_table *t = make_table(true, 0, false, &err);
	CHECK_OK(t ? 0 : -1, &err);
	cl_snapshot *s;
	CHECK_OK(cl_table_snapshot(&s, t, NULL, &err), &err);
	CHECK(cl_table_autocompact_enabled(s)); /* on by default with DVs */
	cl_snapshot_free(s);
	CHECK_OK(change(t, 'I', 0, 100, 1, NULL, &err), &err);
	/* 10 of 100 rows deleted: not more than 10% */
	CHECK_OK(change(t, 'D', 0, 10, 1, NULL, &err), &err);
	char **sc;
	size_t n = qualifying(t, CL_AUTOCOMPACT_MIN_SMALL_FILES, &sc, &err);
	CHECK_EQ_INT(n, 0);
	free_scopes(sc, n);
	cl_autocompact_result r;
	CHECK_OK(cl_table_autocompact(t, 0, &r, &err), &err);
	CHECK(r.enabled);
	CHECK_STR(r.skipped, "nothing to compact");
	/* an 11th: the file qualifies alone and is purged */
	CHECK_OK(change(t, 'D', 10, 1, 1, NULL, &err), &err);
	n = qualifying(t, CL_AUTOCOMPACT_MIN_SMALL_FILES, &sc, &err);
	CHECK_EQ_INT(n, 1);
	free_scopes(sc, n);
	int64_t rows0, sum0 = checksum(t, &rows0, &err);
	CHECK_EQ_INT(rows0, 89);
	CHECK_OK(cl_table_autocompact(t, 0, &r, &err), &err);
	CHECK(r.skipped == NULL);
	CHECK_EQ_INT(r.compact.files_purged, 1);
	CHECK_EQ_INT(r.compact.rows_purged, 11);
	int64_t rows1, sum1 = checksum(t, &rows1, &err);
	CHECK_EQ_INT(rows1, rows0);
	CHECK_EQ_INT(sum1, sum0);
	CHECK_OK(cl_table_snapshot(&s, t, NULL, &err), &err);
	CHECK_EQ_INT(cl_snapshot_nfiles(s), 1);
	CHECK(cl_snapshot_file(s, 0)->dv == NULL);
	cl_snapshot_free(s);
	/* the property turns it off for a merge-on-read table */
	int64_t v;
	CHECK_OK(cl_table_set_property(t, CL_TABLE_CONF_AUTO_COMPACT, "FALSE", &v, &err), &err);
	CHECK_OK(cl_table_snapshot(&s, t, NULL, &err), &err);
	CHECK(!cl_table_autocompact_enabled(s));
	cl_snapshot_free(s);
	cl_table_free(t);
}

int cl__table_autocompact_at(cl_table *t, const cl_snapshot *s, int mode,
			     cl_autocompact_result *res, cl_error *err);

TEST(table_autocompact_conflict_is_quiet)
{
	/* compaction planned on version 8 while another writer rewrote one of
	 * its files (version 9): it gives up with "conflict", returns 0, and
	 * the writer's commit stands */
	cl_error err = {0};
	cl_table *t = make_table(false, 0, false, &err);
	CHECK_OK(t ? 0 : -1, &err);
	for (int k = 0; k < 8; k++)
		CHECK_OK(change(t, 'I', k * 10, 10, 1, NULL, &err), &err);
	cl_snapshot *s;
	CHECK_OK(cl_table_snapshot(&s, t, NULL, &err), &err);
	CHECK_OK(change(t, 'D', 0, 1, 1, NULL, &err), &err);
	cl_autocompact_result r;
	CHECK_OK(cl__table_autocompact_at(t, s, 1, &r, &err), &err);
	cl_snapshot_free(s);
	CHECK_STR(r.skipped, "conflict");
	CHECK_EQ_INT(r.version, -1);
	CHECK(strstr(r.message, "concurrent commit"));
	cl_snapshot *now;
	CHECK_OK(cl_table_snapshot(&now, t, NULL, &err), &err);
	CHECK_EQ_INT(cl_snapshot_version(now), 9);
	cl_snapshot_free(now);
	int64_t rows;
	checksum(t, &rows, &err);
	CHECK_EQ_INT(rows, 79);
	/* on the latest version it goes through */
	CHECK_OK(cl_table_autocompact(t, 1, &r, &err), &err);
	CHECK_EQ_INT(r.version, 10);
	checksum(t, &rows, &err);
	CHECK_EQ_INT(rows, 79);
	cl_table_free(t);
}
