/*
 * lake_crash.c — a writer for crash-safety and concurrency tests of lake
 * tables (tests/interop/test_delta_crash.sh runs it).
 *
 *   lake_crash init DIR            table (id key, region partition, 4 buckets)
 *                                  with 200 rows: version 0 and 1
 *   lake_crash step DIR N          change set N (upserts and deletes derived
 *                                  from N), committed with txn appId "crash"
 *                                  version N: a rerun of a step already in the
 *                                  table does nothing
 *   lake_crash writer DIR W R      writer W applies R rounds: round r upserts
 *                                  key 1000000*(W+1)+r and bumps the shared
 *                                  key 0 (conflicts, retried); appId "wW"
 *   lake_crash dump DIR            "version N" then the rows, sorted by id
 *   lake_crash check DIR           every object outside _delta_log is a live
 *                                  file of the latest version (no orphans),
 *                                  and every live file exists
 *   lake_crash vacuum DIR          vacuum with retention 0
 * Crash points are armed with CL_CRASH_AT=point:n (src/storage/crash_point.h).
 * Exit 0 ok, 1 on any error (message on stderr).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "changelake/table.h"

static int fail(const cl_error *err)
{
	fprintf(stderr, "lake_crash: %s\n", err->message);
	return 1;
}

static const char *const SCHEMA = "id int64 not null\nregion string\nv int64";

/* Normalised changes: action int8 + table columns. */
static int changes(cl_schema **sc, cl_batch **b, cl_error *err)
{
	int rc = cl_schema_parse(sc, "action int8\nid int64\nregion string\nv int64", err);
	return rc ? rc : cl_batch_create(b, *sc, 64, err);
}

static int add(cl_batch *b, char action, int64_t id, const char *region, int64_t v,
	       cl_error *err)
{
	int rc = cl_column_append_i64(&b->cols[0], action, err);
	rc = rc ? rc : cl_column_append_i64(&b->cols[1], id, err);
	rc = rc ? rc : cl_column_append_bytes(&b->cols[2], region, strlen(region), err);
	rc = rc ? rc : cl_column_append_i64(&b->cols[3], v, err);
	if (!rc)
		b->nrows++;
	return rc;
}

static const char *region_of(int64_t id)
{
	static const char *const r[] = {"north", "south", "east"};
	return r[id % 3];
}

static int apply(cl_table *t, cl_schema *sc, cl_batch *b, const char *app, int64_t ver,
		 cl_error *err)
{
	const cl_batch *bs[1] = {b};
	cl_table_cow_stats st;
	int64_t v;
	return cl_table_apply_changes(t, sc, bs, 1, "MERGE", app, ver, &st, &v, err);
}

static int cmd_init(cl_table *t, cl_error *err)
{
	cl_schema *s;
	int rc = cl_schema_parse(&s, SCHEMA, err);
	if (rc)
		return rc;
	cl_table_create_options o;
	cl_table_create_options_init(&o);
	const char *part[] = {"region"}, *key = "id";
	o.partition_by = part;
	o.npartition_by = 1;
	o.keys = &key;
	o.nkeys = 1;
	o.buckets = 4;
	rc = cl_table_create(t, s, &o, err);
	cl_schema_free(s);
	cl_schema *sc = NULL;
	cl_batch *b = NULL;
	rc = rc ? rc : changes(&sc, &b, err);
	for (int64_t i = 0; !rc && i < 200; i++)
		rc = add(b, 'I', i, region_of(i), i, err);
	rc = rc ? rc : apply(t, sc, b, "crash", 0, err);
	cl_batch_free(b);
	cl_schema_free(sc);
	return rc;
}

static int cmd_step(cl_table *t, int64_t n, cl_error *err)
{
	cl_schema *sc = NULL;
	cl_batch *b = NULL;
	int rc = changes(&sc, &b, err);
	/* update 10 keys (one moves region), insert 5, delete 5 */
	for (int64_t i = 0; !rc && i < 10; i++) {
		int64_t id = (n * 37 + i * 11) % 200;
		rc = add(b, 'C', id, i == 0 ? "moved" : region_of(id), id * 1000 + n, err);
	}
	for (int64_t i = 0; !rc && i < 5; i++)
		rc = add(b, 'I', 1000 + n * 10 + i, region_of(i), n, err);
	for (int64_t i = 0; !rc && i < 5; i++) {
		int64_t id = (n * 53 + i * 7 + 5) % 200;
		bool dup = false;
		for (int64_t k = 0; k < 10; k++)
			dup |= id == (n * 37 + k * 11) % 200;
		if (!dup)
			rc = add(b, 'D', id, "", 0, err);
	}
	rc = rc ? rc : apply(t, sc, b, "crash", n, err);
	cl_batch_free(b);
	cl_schema_free(sc);
	return rc;
}

static int cmd_writer(cl_table *t, int w, int rounds, cl_error *err)
{
	char app[16];
	snprintf(app, sizeof app, "w%d", w);
	int rc = 0;
	for (int r = 1; !rc && r <= rounds; r++) {
		cl_schema *sc = NULL;
		cl_batch *b = NULL;
		rc = changes(&sc, &b, err);
		rc = rc ? rc : add(b, 'I', 1000000LL * (w + 1) + r, "north", r, err);
		rc = rc ? rc : add(b, 'C', 0, "north", 1000LL * w + r, err);
		/* a lost race is retried inside; a persistent one surfaces here */
		for (int tries = 0; !rc || rc == CL_ECONFLICT; tries++) {
			rc = apply(t, sc, b, app, r, err);
			if (rc != CL_ECONFLICT || tries > 50)
				break;
		}
		cl_batch_free(b);
		cl_schema_free(sc);
	}
	return rc;
}

typedef struct row {
	int64_t id, v;
	char region[16];
} row;

static int cmp_row(const void *a, const void *b)
{
	int64_t x = ((const row *)a)->id, y = ((const row *)b)->id;
	return x < y ? -1 : x > y;
}

static int cmd_dump(cl_table *t, cl_error *err)
{
	cl_snapshot *s;
	int rc = cl_table_snapshot(&s, t, NULL, err);
	if (rc)
		return rc;
	cl_table_scan *sc;
	rc = cl_table_scan_open(&sc, t, s, NULL, err);
	row *rows = NULL;
	size_t n = 0, cap = 0;
	cl_batch *b;
	while (!rc && !(rc = cl_table_scan_next(sc, &b, err)) && b)
		for (int64_t r = 0; r < b->nrows; r++) {
			if (n == cap) {
				cap = cap ? cap * 2 : 256;
				rows = realloc(rows, cap * sizeof *rows);
			}
			rows[n].id = cl_column_get_i64(&b->cols[0], r);
			rows[n].v = cl_column_get_i64(&b->cols[2], r);
			size_t len;
			const uint8_t *p = cl_column_get_bytes(&b->cols[1], r, &len);
			snprintf(rows[n].region, sizeof rows[n].region, "%.*s", (int)len, (const char *)p);
			n++;
		}
	cl_table_scan_free(sc);
	if (!rc) {
		qsort(rows, n, sizeof *rows, cmp_row);
		printf("version %lld\n", (long long)cl_snapshot_version(s));
		for (size_t i = 0; i < n; i++)
			printf("%lld,%s,%lld\n", (long long)rows[i].id, rows[i].region,
			       (long long)rows[i].v);
		for (int w = 0; w < 8; w++) {
			char app[16];
			snprintf(app, sizeof app, "w%d", w);
			if (cl_snapshot_txn_version(s, app) >= 0)
				printf("txn %s %lld\n", app, (long long)cl_snapshot_txn_version(s, app));
		}
	}
	free(rows);
	cl_snapshot_free(s);
	return rc;
}

static int cmd_check(cl_table *t, cl_error *err)
{
	cl_snapshot *s;
	int rc = cl_table_snapshot(&s, t, NULL, err);
	if (rc)
		return rc;
	cl_store_list l = {0};
	rc = cl_store_list_prefix(cl_table_store(t), "", NULL, &l, err);
	int bad = 0;
	for (size_t i = 0; !rc && i < l.n; i++) {
		if (!strncmp(l.items[i].key, "_delta_log/", 11))
			continue;
		bool live = false;
		for (size_t f = 0; f < cl_snapshot_nfiles(s); f++)
			live |= !strcmp(cl_snapshot_file(s, f)->path, l.items[i].key);
		if (!live) {
			fprintf(stderr, "orphan: %s\n", l.items[i].key);
			bad++;
		}
	}
	for (size_t f = 0; !rc && f < cl_snapshot_nfiles(s); f++) {
		cl_store_object o;
		if (cl_store_head(cl_table_store(t), cl_snapshot_file(s, f)->path, &o, err)) {
			fprintf(stderr, "missing: %s\n", cl_snapshot_file(s, f)->path);
			bad++;
		}
	}
	cl_store_list_release(&l);
	cl_snapshot_free(s);
	if (!rc && bad)
		rc = cl_error_set(err, CL_EFORMAT, "%d orphaned or missing files", bad);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: lake_crash init|step|writer|dump|check|vacuum DIR ...\n");
		return 2;
	}
	cl_error err = {0};
	cl_table *t;
	if (cl_table_open(&t, argv[2], &err))
		return fail(&err);
	int rc;
	const char *cmd = argv[1];
	if (!strcmp(cmd, "init"))
		rc = cmd_init(t, &err);
	else if (!strcmp(cmd, "step") && argc > 3)
		rc = cmd_step(t, atoll(argv[3]), &err);
	else if (!strcmp(cmd, "writer") && argc > 4)
		rc = cmd_writer(t, atoi(argv[3]), atoi(argv[4]), &err);
	else if (!strcmp(cmd, "dump"))
		rc = cmd_dump(t, &err);
	else if (!strcmp(cmd, "check"))
		rc = cmd_check(t, &err);
	else if (!strcmp(cmd, "vacuum")) {
		cl_vacuum_result r;
		rc = cl_table_vacuum(t, 0, false, &r, NULL, &err);
		if (!rc)
			printf("deleted %lld\n", (long long)r.files_deleted);
	} else {
		rc = cl_error_set(&err, CL_EINVAL, "unknown command %s", cmd);
	}
	cl_table_free(t);
	return rc ? fail(&err) : 0;
}
