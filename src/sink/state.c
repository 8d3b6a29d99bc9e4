/*
 * state.c — the SQLite state database of sync (see changelake/state.h).
 *
 * Schema, version 3 (PRAGMA user_version):
 *   tables(name PK, keys, partition_by, sequence_by, schema, columns,
 *          timestamp_column, ignore_null_updates, active, created_at,
 *          updated_at, last_run_at, last_error, deletion_vectors)
 *   runs(id PK, table_name, started_at, duration_ms, status, files, rows,
 *        inserts, updates, deletes, ignored, stale, lake_version, error,
 *        compact_version, compact_removed, compact_added, compact_note)
 * Migrations are an array of SQL scripts, migrations[i] taking version i to
 * i + 1; each runs in its own transaction together with the version bump,
 * so a crash leaves the database at one version or the next.
 *
 * Every statement binds its values (no SQL text is built from data).
 *
 * The public cl_state_* functions at the end dispatch through the backend
 * ops (state_impl.h): a postgresql:// URL opens state_pg.c instead.
 */
#include "sink/state_impl.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

typedef struct sqlite_state {
	cl_state base; /* first: a cl_state * is a sqlite_state * */
	sqlite3 *db;
	char *path;
} sqlite_state;

static const cl__state_ops sqlite_ops;

static const char *const migrations[] = {
	/* 0 -> 1 */
	"CREATE TABLE tables ("
	" name TEXT PRIMARY KEY NOT NULL,"
	" keys TEXT, partition_by TEXT, sequence_by TEXT, schema TEXT,"
	" columns TEXT, timestamp_column TEXT,"
	" ignore_null_updates INTEGER NOT NULL DEFAULT 0,"
	" active INTEGER NOT NULL DEFAULT 0,"
	" created_at TEXT NOT NULL, updated_at TEXT NOT NULL,"
	" last_run_at TEXT, last_error TEXT);"
	"CREATE TABLE runs ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" table_name TEXT NOT NULL, started_at TEXT NOT NULL,"
	" duration_ms INTEGER NOT NULL, status TEXT NOT NULL,"
	" files INTEGER NOT NULL, rows INTEGER NOT NULL,"
	" inserts INTEGER NOT NULL, updates INTEGER NOT NULL,"
	" deletes INTEGER NOT NULL, ignored INTEGER NOT NULL,"
	" stale INTEGER NOT NULL, lake_version INTEGER, error TEXT);"
	"CREATE INDEX runs_by_table ON runs(table_name, id);",
	/* 1 -> 2: new lake tables with deletion vectors (merge-on-read) */
	"ALTER TABLE tables ADD COLUMN deletion_vectors INTEGER NOT NULL DEFAULT 0;",
	/* 2 -> 3: the auto-compaction that followed a run */
	"ALTER TABLE runs ADD COLUMN compact_version INTEGER;"
	"ALTER TABLE runs ADD COLUMN compact_removed INTEGER;"
	"ALTER TABLE runs ADD COLUMN compact_added INTEGER;"
	"ALTER TABLE runs ADD COLUMN compact_note TEXT;",
};
#define NMIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))

static int db_error(sqlite_state *s, cl_error *err, const char *what)
{
	int code = sqlite3_errcode(s->db);
	return cl_error_set(err, code == SQLITE_BUSY || code == SQLITE_LOCKED ? CL_ECONFLICT
				 : code == SQLITE_NOMEM ? CL_ENOMEM
				 : code == SQLITE_CORRUPT || code == SQLITE_NOTADB ? CL_EFORMAT
										   : CL_EIO,
			    "%s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
}

static int exec(sqlite_state *s, const char *sql, cl_error *err)
{
	char *msg = NULL;
	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		int rc = cl_error_set(err, CL_EIO, "%s: %s", s->path, msg ? msg : "error");
		sqlite3_free(msg);
		return rc;
	}
	return 0;
}

static int user_version(sqlite_state *s, int *v, cl_error *err)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return db_error(s, err, "reading the version");
	int rc = sqlite3_step(st);
	*v = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : db_error(s, err, "reading the version");
}

static int sqlite_version(cl_state *base)
{
	sqlite_state *s = (sqlite_state *)base;
	int v = -1;
	user_version(s, &v, NULL);
	return v;
}

/* mkdir -p of the folder holding path. */
static int make_parent(const char *path, cl_error *err)
{
	char *p = cl_strdup(path);
	if (!p)
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	char *slash = strrchr(p, '/');
	if (slash && slash != p) {
		*slash = 0;
		for (char *q = p + 1; *q; q++) {
			if (*q != '/')
				continue;
			*q = 0;
			if (mkdir(p, 0777) && errno != EEXIST) {
				int rc = cl_error_set(err, CL_EIO, "%s: %s", p, strerror(errno));
				cl_free(p);
				return rc;
			}
			*q = '/';
		}
		if (mkdir(p, 0777) && errno != EEXIST) {
			int rc = cl_error_set(err, CL_EIO, "%s: %s", p, strerror(errno));
			cl_free(p);
			return rc;
		}
	}
	cl_free(p);
	return 0;
}

static void sqlite_close(cl_state *base);

static int sqlite_open(cl_state **out, const char *path, cl_error *err)
{
	*out = NULL;
	int rc = make_parent(path, err);
	if (rc)
		return rc;
	sqlite_state *s = cl_calloc(1, sizeof *s);
	if (!s || !(s->path = cl_strdup(path))) {
		cl_free(s);
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	}
	s->base.ops = &sqlite_ops;
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		rc = s->db ? db_error(s, err, "cannot open")
			   : cl_error_set(err, CL_ENOMEM, "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(s->db, 10000);
	if ((rc = exec(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
			  " PRAGMA foreign_keys=ON;", err)))
		goto fail;
	int v;
	if ((rc = user_version(s, &v, err)))
		goto fail;
	if (v > NMIGRATIONS) {
		rc = cl_error_set(err, CL_EUNSUPPORTED,
				  "%s: state database version %d is newer than this "
				  "changelake understands (%d)", path, v, NMIGRATIONS);
		goto fail;
	}
	for (; v < NMIGRATIONS; v++) {
		char bump[64];
		snprintf(bump, sizeof bump, "PRAGMA user_version=%d;", v + 1);
		if ((rc = exec(s, "BEGIN IMMEDIATE", err)))
			goto fail;
		/* Another process may have migrated while we waited. */
		int now;
		if ((rc = user_version(s, &now, err))) {
			exec(s, "ROLLBACK", NULL);
			goto fail;
		}
		if (now > v) {
			exec(s, "ROLLBACK", NULL);
			v = now - 1;
			continue;
		}
		if ((rc = exec(s, migrations[v], err)) || (rc = exec(s, bump, err))) {
			exec(s, "ROLLBACK", NULL);
			goto fail;
		}
		if ((rc = exec(s, "COMMIT", err)))
			goto fail;
	}
	*out = &s->base;
	return 0;
fail:
	sqlite_close(&s->base);
	return rc;
}

static void sqlite_close(cl_state *base)
{
	sqlite_state *s = (sqlite_state *)base;
	if (!s)
		return;
	sqlite3_close(s->db);
	cl_free(s->path);
	cl_free(s);
}

static char *col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return t ? cl_strdup((const char *)t) : NULL;
}

void cl_state_table_release(cl_state_table *t)
{
	if (!t)
		return;
	char **f[] = {&t->name, &t->keys, &t->partition_by, &t->sequence_by, &t->schema,
		      &t->columns, &t->timestamp_column, &t->created_at, &t->updated_at,
		      &t->last_run_at, &t->last_error};
	for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
		cl_free(*f[i]);
		*f[i] = NULL;
	}
}

void cl_state_run_release(cl_state_run *r)
{
	if (!r)
		return;
	cl_free(r->table);
	cl_free(r->started_at);
	cl_free(r->status);
	cl_free(r->error);
	cl_free(r->compact_note);
	r->table = r->started_at = r->status = r->error = r->compact_note = NULL;
}

#define TABLE_COLS                                                                  \
	"name, keys, partition_by, sequence_by, schema, columns, timestamp_column, " \
	"ignore_null_updates, active, created_at, updated_at, last_run_at, last_error, " \
	"deletion_vectors"

static int read_table(sqlite3_stmt *st, cl_state_table *t, cl_error *err)
{
	memset(t, 0, sizeof *t);
	char **f[] = {&t->name, &t->keys, &t->partition_by, &t->sequence_by, &t->schema,
		      &t->columns, &t->timestamp_column};
	for (int i = 0; i < 7; i++)
		*f[i] = col_text(st, i);
	t->ignore_null_updates = sqlite3_column_int(st, 7) != 0;
	t->active = sqlite3_column_int(st, 8) != 0;
	t->created_at = col_text(st, 9);
	t->updated_at = col_text(st, 10);
	t->last_run_at = col_text(st, 11);
	t->last_error = col_text(st, 12);
	t->deletion_vectors = sqlite3_column_int(st, 13) != 0;
	if (!t->name || !t->created_at || !t->updated_at) {
		cl_state_table_release(t);
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	}
	return 0;
}

static int sqlite_table_register(cl_state *base, const char *name, bool *created,
				 cl_error *err)
{
	sqlite_state *s = (sqlite_state *)base;
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db,
			       "INSERT INTO tables(name, created_at, updated_at) VALUES "
			       "(?1, datetime('now'), datetime('now')) ON CONFLICT(name) DO NOTHING",
			       -1, &st, NULL) != SQLITE_OK)
		return db_error(s, err, "registering a table");
	sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return db_error(s, err, "registering a table");
	if (created)
		*created = sqlite3_changes(s->db) > 0;
	return 0;
}

static int sqlite_table_get(cl_state *base, const char *name, cl_state_table *out,
			    cl_error *err)
{
	sqlite_state *s = (sqlite_state *)base;
	memset(out, 0, sizeof *out);
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db, "SELECT " TABLE_COLS " FROM tables WHERE name = ?1", -1,
			       &st, NULL) != SQLITE_OK)
		return db_error(s, err, "reading a table");
	sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		rc = read_table(st, out, err);
	else if (rc == SQLITE_DONE)
		rc = cl_error_set(err, CL_ENOTFOUND, "no table '%s' in %s", name, s->path);
	else
		rc = db_error(s, err, "reading a table");
	sqlite3_finalize(st);
	return rc;
}

static int sqlite_table_list(cl_state *base, cl_state_table **out, int *n,
			     cl_error *err)
{
	sqlite_state *s = (sqlite_state *)base;
	*out = NULL;
	*n = 0;
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db, "SELECT " TABLE_COLS " FROM tables ORDER BY name", -1,
			       &st, NULL) != SQLITE_OK)
		return db_error(s, err, "listing tables");
	cl_state_table *v = NULL;
	int nv = 0, rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		cl_state_table *nvp = cl_realloc(v, sizeof *v * (size_t)(nv + 1));
		if (!nvp) {
			rc = cl_error_set(err, CL_ENOMEM, "out of memory");
			goto fail;
		}
		v = nvp;
		if ((rc = read_table(st, &v[nv], err)))
			goto fail;
		nv++;
	}
	if (rc != SQLITE_DONE) {
		rc = db_error(s, err, "listing tables");
		goto fail;
	}
	sqlite3_finalize(st);
	*out = v;
	*n = nv;
	return 0;
fail:
	sqlite3_finalize(st);
	for (int i = 0; i < nv; i++)
		cl_state_table_release(&v[i]);
	cl_free(v);
	return rc;
}

static int sqlite_table_update(cl_state *base, const char *name,
			       const cl_state_table_set *set, cl_error *err)
{
	sqlite_state *s = (sqlite_state *)base;
	/* Fixed statement: each field is replaced when its parameter is not
	   NULL (?N IS NULL keeps it); "" clears it to NULL. */
	static const char *sql =
		"UPDATE tables SET"
		" keys = CASE WHEN ?2 IS NULL THEN keys ELSE NULLIF(?2, '') END,"
		" partition_by = CASE WHEN ?3 IS NULL THEN partition_by ELSE NULLIF(?3, '') END,"
		" sequence_by = CASE WHEN ?4 IS NULL THEN sequence_by ELSE NULLIF(?4, '') END,"
		" schema = CASE WHEN ?5 IS NULL THEN schema ELSE NULLIF(?5, '') END,"
		" columns = CASE WHEN ?6 IS NULL THEN columns ELSE NULLIF(?6, '') END,"
		" timestamp_column = CASE WHEN ?7 IS NULL THEN timestamp_column"
		"   ELSE NULLIF(?7, '') END,"
		" active = COALESCE(?8, active),"
		" ignore_null_updates = COALESCE(?9, ignore_null_updates),"
		" deletion_vectors = COALESCE(?10, deletion_vectors),"
		" updated_at = datetime('now')"
		" WHERE name = ?1";
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return db_error(s, err, "updating a table");
	const char *v[] = {name, set->keys, set->partition_by, set->sequence_by, set->schema,
			   set->columns, set->timestamp_column};
	for (int i = 0; i < 7; i++)
		if (v[i])
			sqlite3_bind_text(st, i + 1, v[i], -1, SQLITE_TRANSIENT);
	if (set->active_set)
		sqlite3_bind_int(st, 8, set->active);
	if (set->ignore_null_set)
		sqlite3_bind_int(st, 9, set->ignore_null_updates);
	if (set->deletion_vectors_set)
		sqlite3_bind_int(st, 10, set->deletion_vectors);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return db_error(s, err, "updating a table");
	if (sqlite3_changes(s->db) == 0)
		return cl_error_set(err, CL_ENOTFOUND, "no table '%s' in %s", name, s->path);
	return 0;
}

static int sqlite_run_add(cl_state *base, const cl_state_run *r, cl_error *err)
{
	sqlite_state *s = (sqlite_state *)base;
	int rc;
	if ((rc = exec(s, "BEGIN IMMEDIATE", err)))
		return rc;
	if ((rc = sqlite_table_register(base, r->table, NULL, err)))
		goto fail;
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db,
			       "INSERT INTO runs(table_name, started_at, duration_ms, status,"
			       " files, rows, inserts, updates, deletes, ignored, stale,"
			       " lake_version, error, compact_version, compact_removed,"
			       " compact_added, compact_note) VALUES (?1,"
			       " COALESCE(?2, datetime('now')), ?3, ?4, ?5, ?6, ?7, ?8, ?9,"
			       " ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
			       -1, &st, NULL) != SQLITE_OK) {
		rc = db_error(s, err, "recording a run");
		goto fail;
	}
	sqlite3_bind_text(st, 1, r->table, -1, SQLITE_TRANSIENT);
	if (r->started_at)
		sqlite3_bind_text(st, 2, r->started_at, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 3, r->duration_ms);
	sqlite3_bind_text(st, 4, r->status ? r->status : (r->error ? "error" : "ok"), -1,
			  SQLITE_TRANSIENT);
	int64_t nums[] = {r->files, r->rows, r->inserts, r->updates, r->deletes, r->ignored,
			  r->stale};
	for (int i = 0; i < 7; i++)
		sqlite3_bind_int64(st, 5 + i, nums[i]);
	if (r->lake_version >= 0)
		sqlite3_bind_int64(st, 12, r->lake_version);
	if (r->error)
		sqlite3_bind_text(st, 13, r->error, -1, SQLITE_TRANSIENT);
	if (r->compacted) {
		sqlite3_bind_int64(st, 14, r->compact_version);
		sqlite3_bind_int64(st, 15, r->compact_removed);
		sqlite3_bind_int64(st, 16, r->compact_added);
	}
	if (r->compact_note)
		sqlite3_bind_text(st, 17, r->compact_note, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		rc = db_error(s, err, "recording a run");
		goto fail;
	}
	if (sqlite3_prepare_v2(s->db,
			       "UPDATE tables SET last_run_at = datetime('now'), last_error = ?2"
			       " WHERE name = ?1", -1, &st, NULL) != SQLITE_OK) {
		rc = db_error(s, err, "recording a run");
		goto fail;
	}
	sqlite3_bind_text(st, 1, r->table, -1, SQLITE_TRANSIENT);
	if (r->error)
		sqlite3_bind_text(st, 2, r->error, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		rc = db_error(s, err, "recording a run");
		goto fail;
	}
	return exec(s, "COMMIT", err);
fail:
	exec(s, "ROLLBACK", NULL);
	return rc;
}

static int sqlite_runs(cl_state *base, const char *table, int limit, cl_state_run **out,
		       int *n, cl_error *err)
{
	sqlite_state *s = (sqlite_state *)base;
	*out = NULL;
	*n = 0;
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db,
			       "SELECT id, table_name, started_at, duration_ms, status, files,"
			       " rows, inserts, updates, deletes, ignored, stale, lake_version,"
			       " error, compact_version, compact_removed, compact_added,"
			       " compact_note FROM runs WHERE table_name = ?1"
			       " ORDER BY id DESC LIMIT ?2",
			       -1, &st, NULL) != SQLITE_OK)
		return db_error(s, err, "reading runs");
	sqlite3_bind_text(st, 1, table, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 2, limit > 0 ? limit : -1);
	cl_state_run *v = NULL;
	int nv = 0, rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		cl_state_run *p = cl_realloc(v, sizeof *v * (size_t)(nv + 1));
		if (!p) {
			rc = cl_error_set(err, CL_ENOMEM, "out of memory");
			goto fail;
		}
		v = p;
		cl_state_run *r = &v[nv++];
		memset(r, 0, sizeof *r);
		r->id = sqlite3_column_int64(st, 0);
		r->table = col_text(st, 1);
		r->started_at = col_text(st, 2);
		r->duration_ms = sqlite3_column_int64(st, 3);
		r->status = col_text(st, 4);
		int64_t *nums[] = {&r->files, &r->rows, &r->inserts, &r->updates, &r->deletes,
				   &r->ignored, &r->stale};
		for (int i = 0; i < 7; i++)
			*nums[i] = sqlite3_column_int64(st, 5 + i);
		r->lake_version = sqlite3_column_type(st, 12) == SQLITE_NULL
					  ? -1 : sqlite3_column_int64(st, 12);
		r->error = col_text(st, 13);
		r->compacted = sqlite3_column_type(st, 14) != SQLITE_NULL;
		if (r->compacted) {
			r->compact_version = sqlite3_column_int64(st, 14);
			r->compact_removed = sqlite3_column_int64(st, 15);
			r->compact_added = sqlite3_column_int64(st, 16);
		}
		r->compact_note = col_text(st, 17);
		if (!r->table || !r->started_at || !r->status) {
			rc = cl_error_set(err, CL_ENOMEM, "out of memory");
			goto fail;
		}
	}
	if (rc != SQLITE_DONE) {
		rc = db_error(s, err, "reading runs");
		goto fail;
	}
	sqlite3_finalize(st);
	*out = v;
	*n = nv;
	return 0;
fail:
	sqlite3_finalize(st);
	for (int i = 0; i < nv; i++)
		cl_state_run_release(&v[i]);
	cl_free(v);
	return rc;
}

static const cl__state_ops sqlite_ops = {
	sqlite_close, sqlite_version, sqlite_table_register, sqlite_table_get,
	sqlite_table_list, sqlite_table_update, sqlite_run_add, sqlite_runs,
};

/* The public API: pick the backend on open, then dispatch. */

int cl_state_open(cl_state **out, const char *path, cl_error *err)
{
	*out = NULL;
	if (!path || !*path)
		return cl_error_set(err, CL_EINVAL, "no state database given");
	if (cl__state_is_pg_url(path))
		return cl__state_pg_open(out, path, err);
	return sqlite_open(out, path, err);
}

void cl_state_close(cl_state *s)
{
	if (s)
		s->ops->close(s);
}

int cl_state_version(cl_state *s)
{
	return s->ops->version(s);
}

int cl_state_table_register(cl_state *s, const char *name, bool *created, cl_error *err)
{
	return s->ops->table_register(s, name, created, err);
}

int cl_state_table_get(cl_state *s, const char *name, cl_state_table *out, cl_error *err)
{
	return s->ops->table_get(s, name, out, err);
}

int cl_state_table_list(cl_state *s, cl_state_table **out, int *n, cl_error *err)
{
	return s->ops->table_list(s, out, n, err);
}

int cl_state_table_update(cl_state *s, const char *name, const cl_state_table_set *set,
			  cl_error *err)
{
	return s->ops->table_update(s, name, set, err);
}

int cl_state_run_add(cl_state *s, const cl_state_run *r, cl_error *err)
{
	return s->ops->run_add(s, r, err);
}

int cl_state_runs(cl_state *s, const char *table, int limit, cl_state_run **out, int *n,
		  cl_error *err)
{
	return s->ops->runs(s, table, limit, out, n, err);
}
