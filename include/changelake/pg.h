/*
 * changelake/pg.h — PostgreSQL as a target of change sets (libpq).
 *
 * cl_pg_apply applies one change set to one table in one transaction:
 *   BEGIN; a temporary table shaped like the target (plus an action
 *   column) is filled by COPY; DELETE ... USING it for D rows; INSERT ...
 *   ON CONFLICT (primary key) DO UPDATE for I and C rows; COMMIT.
 * Identifiers are quoted with PQescapeIdentifier; data values travel only
 * through COPY (PostgreSQL parses them into the column types), never in
 * SQL text. Anything failing — a value that does not parse, a key changed
 * twice, a lost connection — rolls the transaction back, so the table is
 * either fully updated or untouched. Before anything changes, the change
 * set's columns are checked against the table's (cl_changes_create) and
 * --key against the table's primary key.
 */
#ifndef CHANGELAKE_PG_H
#define CHANGELAKE_PG_H

#include "apply.h"
#include "io.h"

#ifdef __cplusplus
extern "C" {
#endif

/* True when `target` names a PostgreSQL database: a postgres:// or
 * postgresql:// URL, or libpq keywords (host=, dbname=, ...). */
bool cl_pg_is_target(const char *target);

typedef struct cl_pg_apply_stats {
	int64_t change_rows; /* I, C and D rows sent */
	int64_t upserted;    /* rows inserted or updated */
	int64_t deleted;     /* rows deleted */
} cl_pg_apply_stats;

/*
 * Apply the change set at `changes` (a file or folder, read with `ro`) to
 * `table` ("name" or "schema.name") of the database at `conninfo`. With
 * o->nkeys == 0 the keys are the table's primary key; otherwise they must
 * be exactly its columns. Errors carry PostgreSQL's message.
 */
int cl_pg_apply(const char *conninfo, const char *table, const char *changes,
		const cl_read_options *ro, const cl_apply_options *o,
		cl_pg_apply_stats *stats, cl_error *err);

#ifdef __cplusplus
}
#endif
#endif
