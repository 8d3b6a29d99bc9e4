/*
 * changelake/state.h — per-table configuration and run history of `sync`,
 * in an embedded SQLite database (LAKE/_changelake/state.db by default), or
 * in PostgreSQL when several machines share it (a postgresql:// URL or
 * libpq keywords).
 *
 * What lives where. The state database holds what people configure (keys,
 * partitioning, sequence column, declared schema, active flag) and what
 * happened (one row per run: files, rows, I/U/D counts, duration, error).
 * It is NOT the record of which source files a table has consumed: that is
 * kept in the lake table's own log, in the same commit as the data (see
 * dms_merge.h), so data and watermark can never disagree. Losing or
 * restoring an old state.db therefore never loads a file twice or skips
 * one; it only loses configuration and history.
 *
 * The database has a schema version (PRAGMA user_version) and migrations
 * run on open; it uses WAL mode and a busy timeout so a `tables show`
 * never fails because a `sync` is writing.
 *
 * PostgreSQL (src/sink/state_pg.c): the same API, semantics and schema
 * version, in tables changelake_tables, changelake_runs and changelake_meta
 * (the version) of the connection's current schema; migrations are
 * serialized across machines by an advisory lock. Timestamps are the same
 * "YYYY-MM-DD HH:MM:SS" UTC text. Errors name the URL, password masked.
 */
#ifndef CHANGELAKE_STATE_H
#define CHANGELAKE_STATE_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CL_STATE_VERSION 3

typedef struct cl_state cl_state;

/* One table's configuration. Strings owned (cl_state_table_release);
 * NULL when unset. */
typedef struct cl_state_table {
	char *name;             /* "schema/table" */
	char *keys;             /* "id" or "k1,k2"; NULL: append-only */
	char *partition_by;     /* "col" or "col:day", comma separated */
	char *sequence_by;
	char *schema;           /* declared schema text (schema.h syntax) */
	char *columns;          /* header-less CSV column names, comma separated */
	char *timestamp_column; /* DMS TimestampColumnName */
	bool ignore_null_updates;
	bool deletion_vectors;  /* sync creates the lake table with deletion
				   vectors (merge-on-read) */
	bool active;
	char *created_at, *updated_at; /* UTC, "YYYY-MM-DD HH:MM:SS" */
	char *last_run_at;
	char *last_error;       /* error of the last run, NULL when it succeeded */
} cl_state_table;

void cl_state_table_release(cl_state_table *t);

/* One run of merge/sync on a table. Strings owned when read back. */
typedef struct cl_state_run {
	int64_t id;
	char *table;
	char *started_at;
	int64_t duration_ms;
	char *status;           /* "ok", "error", "nothing" (no new files) */
	int64_t files, rows, inserts, updates, deletes, ignored, stale;
	int64_t lake_version;   /* committed version, -1 when none */
	char *error;
	/* auto-compaction after the run's data commit (state version 3;
	 * older runs read back as not compacted, no note) */
	bool compacted;         /* a compaction commit followed */
	int64_t compact_version; /* its version (when compacted) */
	int64_t compact_removed, compact_added; /* files it removed and added */
	char *compact_note;     /* an enabled compaction that did not commit:
				   "conflict: ..." or "error: ..."; else NULL */
} cl_state_run;

void cl_state_run_release(cl_state_run *r);

/*
 * Open (creating when missing, with its folder) the database at `path`
 * and bring its schema up to CL_STATE_VERSION. A database written by a
 * newer changelake is refused (CL_EUNSUPPORTED). A `path` starting with
 * "postgresql://" or "postgres://" is a libpq URL, and one holding host=,
 * dbname= or service= libpq keywords (cl_pg_is_target): the state lives in that
 * database's current schema (its tables created when missing); a server
 * that cannot be reached is CL_EIO. Owned; cl_state_close.
 */
int cl_state_open(cl_state **out, const char *path, cl_error *err);
void cl_state_close(cl_state *s);
/* The schema version of the open database. */
int cl_state_version(cl_state *s);

/* Register `name` as a new inactive table unless it exists; *created (may be
 * NULL) says which. */
int cl_state_table_register(cl_state *s, const char *name, bool *created,
			    cl_error *err);
/* The configuration of `name`; CL_ENOTFOUND when unknown. */
int cl_state_table_get(cl_state *s, const char *name, cl_state_table *out,
		       cl_error *err);
/* Every table, sorted by name; *out owned (release each, then cl_free). */
int cl_state_table_list(cl_state *s, cl_state_table **out, int *n, cl_error *err);

/*
 * Change some settings of an existing table (CL_ENOTFOUND otherwise):
 * string fields of `set` that are non-NULL replace the stored value (an
 * empty string clears it); active / ignore_null_updates / deletion_vectors
 * change when the matching *_set flag is true.
 */
typedef struct cl_state_table_set {
	const char *keys, *partition_by, *sequence_by, *schema, *columns,
		*timestamp_column;
	bool active_set, active;
	bool ignore_null_set, ignore_null_updates;
	bool deletion_vectors_set, deletion_vectors;
} cl_state_table_set;
int cl_state_table_update(cl_state *s, const char *name, const cl_state_table_set *set,
			  cl_error *err);

/* Append a run to the history and set the table's last_run_at/last_error.
 * r->id is ignored; the table is registered if unknown. */
int cl_state_run_add(cl_state *s, const cl_state_run *r, cl_error *err);
/* The latest `limit` runs of a table (newest first); *out owned. */
int cl_state_runs(cl_state *s, const char *table, int limit, cl_state_run **out,
		  int *n, cl_error *err);

#ifdef __cplusplus
}
#endif
#endif
