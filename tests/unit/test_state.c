/* test_state.c — the SQLite state database: configuration and run history. */
#include "test.h"

#include <sqlite3.h>
#include <stdio.h>

#include "changelake.h"
#include "changelake/state.h"

TEST(state_tables_register_set_list)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/lake/_changelake/state.db", cl_test_tmpdir());
	cl_state *s;
	cl_error e = {0};
	CHECK_OK(cl_state_open(&s, path, &e), &e);
	CHECK_EQ_INT(cl_state_version(s), CL_STATE_VERSION);
	bool created;
	CHECK_OK(cl_state_table_register(s, "public/orders", &created, &e), &e);
	CHECK(created);
	CHECK_OK(cl_state_table_register(s, "public/orders", &created, &e), &e);
	CHECK(!created);
	CHECK_OK(cl_state_table_register(s, "public/items", NULL, &e), &e);
	cl_state_table t;
	CHECK_OK(cl_state_table_get(s, "public/orders", &t, &e), &e);
	CHECK(!t.active);
	CHECK(t.keys == NULL);
	cl_state_table_release(&t);

	cl_state_table_set set = {0};
	set.keys = "id,region";
	set.partition_by = "created:day";
	set.active_set = true;
	set.active = true;
	CHECK_OK(cl_state_table_update(s, "public/orders", &set, &e), &e);
	cl_state_table_set set2 = {0};
	set2.sequence_by = "ts";
	set2.partition_by = ""; /* clears */
	set2.schema = "id int64\nregion string\n";
	CHECK_OK(cl_state_table_update(s, "public/orders", &set2, &e), &e);
	CHECK(cl_state_table_update(s, "nope/nope", &set2, &e) == CL_ENOTFOUND);
	cl_state_close(s);

	/* Reopen: everything persisted, version unchanged. */
	CHECK_OK(cl_state_open(&s, path, &e), &e);
	cl_state_table *v;
	int n;
	CHECK_OK(cl_state_table_list(s, &v, &n, &e), &e);
	CHECK_EQ_INT(n, 2);
	CHECK_STR(v[0].name, "public/items");
	CHECK_STR(v[1].name, "public/orders");
	CHECK_STR(v[1].keys, "id,region");
	CHECK(v[1].partition_by == NULL);
	CHECK_STR(v[1].sequence_by, "ts");
	CHECK_STR(v[1].schema, "id int64\nregion string\n");
	CHECK(v[1].active);
	CHECK(!v[0].active);
	for (int i = 0; i < n; i++)
		cl_state_table_release(&v[i]);
	cl_free(v);
	CHECK(cl_state_table_get(s, "x/y", &t, &e) == CL_ENOTFOUND);
	cl_state_close(s);
}

TEST(state_runs_history)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/state.db", cl_test_tmpdir());
	cl_state *s;
	cl_error e = {0};
	CHECK_OK(cl_state_open(&s, path, &e), &e);
	cl_state_run r = {0};
	r.table = "s/t";
	r.duration_ms = 12;
	r.files = 3;
	r.rows = 10;
	r.inserts = 5;
	r.updates = 3;
	r.deletes = 2;
	r.lake_version = 4;
	CHECK_OK(cl_state_run_add(s, &r, &e), &e);
	/* an auto-compaction after the data commit, then one that conflicted */
	r.lake_version = 5;
	r.compacted = true;
	r.compact_version = 6;
	r.compact_removed = 9;
	r.compact_added = 2;
	CHECK_OK(cl_state_run_add(s, &r, &e), &e);
	r.lake_version = 7;
	r.compacted = false;
	r.compact_note = "conflict: version 8 was written by another writer";
	CHECK_OK(cl_state_run_add(s, &r, &e), &e);
	r.compact_note = NULL;
	r.error = "s/t/x.csv: row 2, column 'a': value 'x' is not a valid int64";
	r.lake_version = -1;
	CHECK_OK(cl_state_run_add(s, &r, &e), &e);
	cl_state_run *v;
	int n;
	CHECK_OK(cl_state_runs(s, "s/t", 10, &v, &n, &e), &e);
	CHECK_EQ_INT(n, 4);
	CHECK_STR(v[0].status, "error");
	CHECK(v[0].error && strstr(v[0].error, "row 2") != NULL);
	CHECK_EQ_INT(v[0].lake_version, -1);
	CHECK(!v[0].compacted && !v[0].compact_note);
	CHECK(!v[1].compacted);
	CHECK(v[1].compact_note && !strncmp(v[1].compact_note, "conflict: ", 10));
	CHECK(v[2].compacted && !v[2].compact_note);
	CHECK_EQ_INT(v[2].lake_version, 5);
	CHECK_EQ_INT(v[2].compact_version, 6);
	CHECK_EQ_INT(v[2].compact_removed, 9);
	CHECK_EQ_INT(v[2].compact_added, 2);
	CHECK_STR(v[3].status, "ok");
	CHECK_EQ_INT(v[3].lake_version, 4);
	CHECK_EQ_INT(v[3].deletes, 2);
	CHECK(!v[3].compacted && !v[3].compact_note);
	for (int i = 0; i < n; i++)
		cl_state_run_release(&v[i]);
	cl_free(v);
	cl_state_table t;
	CHECK_OK(cl_state_table_get(s, "s/t", &t, &e), &e);
	CHECK(t.last_error && strstr(t.last_error, "not a valid int64") != NULL);
	CHECK(t.last_run_at != NULL);
	cl_state_table_release(&t);
	cl_state_close(s);
}

TEST(state_refuses_newer_and_garbage)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/new.db", cl_test_tmpdir());
	sqlite3 *db;
	CHECK(sqlite3_open(path, &db) == SQLITE_OK);
	CHECK(sqlite3_exec(db, "PRAGMA user_version=99", NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
	cl_state *s;
	cl_error e = {0};
	CHECK(cl_state_open(&s, path, &e) == CL_EUNSUPPORTED);
	CHECK(strstr(e.message, "99") != NULL);

	snprintf(path, sizeof path, "%s/garbage.db", cl_test_tmpdir());
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	for (int i = 0; i < 200; i++)
		fputs("this is not a database\n", f);
	fclose(f);
	CHECK(cl_state_open(&s, path, &e) != 0);
	CHECK(strstr(e.message, "garbage.db") != NULL);
}

/* A version-1 database (before deletion_vectors) is migrated in place: its
 * tables keep their settings and read deletion_vectors false until set. */
TEST(state_migrates_v1_deletion_vectors)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/v1.db", cl_test_tmpdir());
	sqlite3 *db;
	CHECK(sqlite3_open(path, &db) == SQLITE_OK);
	const char *v1 =
		"CREATE TABLE tables (name TEXT PRIMARY KEY NOT NULL, keys TEXT,"
		" partition_by TEXT, sequence_by TEXT, schema TEXT, columns TEXT,"
		" timestamp_column TEXT, ignore_null_updates INTEGER NOT NULL DEFAULT 0,"
		" active INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL,"
		" updated_at TEXT NOT NULL, last_run_at TEXT, last_error TEXT);"
		"CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT,"
		" table_name TEXT NOT NULL, started_at TEXT NOT NULL,"
		" duration_ms INTEGER NOT NULL, status TEXT NOT NULL, files INTEGER NOT NULL,"
		" rows INTEGER NOT NULL, inserts INTEGER NOT NULL, updates INTEGER NOT NULL,"
		" deletes INTEGER NOT NULL, ignored INTEGER NOT NULL, stale INTEGER NOT NULL,"
		" lake_version INTEGER, error TEXT);"
		"CREATE INDEX runs_by_table ON runs(table_name, id);"
		"INSERT INTO tables(name, keys, active, created_at, updated_at)"
		" VALUES ('s/t', 'id', 1, '2026-01-01 00:00:00', '2026-01-01 00:00:00');"
		"INSERT INTO runs(table_name, started_at, duration_ms, status, files, rows,"
		" inserts, updates, deletes, ignored, stale, lake_version)"
		" VALUES ('s/t', '2026-01-01 00:00:00', 5, 'ok', 1, 2, 2, 0, 0, 0, 0, 0);"
		"PRAGMA user_version=1;";
	CHECK(sqlite3_exec(db, v1, NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
	cl_state *s;
	cl_error e = {0};
	CHECK_OK(cl_state_open(&s, path, &e), &e);
	CHECK_EQ_INT(cl_state_version(s), CL_STATE_VERSION);
	/* a run recorded before version 3 reads back as not compacted */
	cl_state_run *old;
	int nold;
	CHECK_OK(cl_state_runs(s, "s/t", 10, &old, &nold, &e), &e);
	CHECK_EQ_INT(nold, 1);
	if (nold == 1) {
		CHECK(!old[0].compacted);
		CHECK(old[0].compact_note == NULL);
		CHECK_EQ_INT(old[0].lake_version, 0);
		cl_state_run_release(&old[0]);
	}
	cl_free(old);
	cl_state_table t;
	CHECK_OK(cl_state_table_get(s, "s/t", &t, &e), &e);
	CHECK_STR(t.keys, "id");
	CHECK(t.active);
	CHECK(!t.deletion_vectors);
	cl_state_table_release(&t);
	cl_state_table_set set = {0};
	set.deletion_vectors_set = true;
	set.deletion_vectors = true;
	CHECK_OK(cl_state_table_update(s, "s/t", &set, &e), &e);
	/* other settings leave it alone */
	cl_state_table_set other = {0};
	other.sequence_by = "ts";
	CHECK_OK(cl_state_table_update(s, "s/t", &other, &e), &e);
	cl_state_close(s);
	CHECK_OK(cl_state_open(&s, path, &e), &e);
	CHECK_OK(cl_state_table_get(s, "s/t", &t, &e), &e);
	CHECK(t.deletion_vectors);
	CHECK_STR(t.sequence_by, "ts");
	cl_state_table_release(&t);
	set.deletion_vectors = false;
	CHECK_OK(cl_state_table_update(s, "s/t", &set, &e), &e);
	CHECK_OK(cl_state_table_get(s, "s/t", &t, &e), &e);
	CHECK(!t.deletion_vectors);
	cl_state_table_release(&t);
	cl_state_close(s);
}
