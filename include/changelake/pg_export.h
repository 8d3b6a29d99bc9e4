/*
 * changelake/pg_export.h — a consistent snapshot of a live PostgreSQL table
 * written as a Parquet, CSV or JSON Lines file (libpq).
 *
 * cl_pg_export opens one REPEATABLE READ READ ONLY transaction, reads the
 * table's columns, types and primary key from the catalog (the table is
 * looked up by OID from its quoted, schema-qualified name; no SQL is ever
 * built from data values), then streams COPY (SELECT cols FROM t) TO
 * STDOUT in PostgreSQL's text format into column batches of the mapped
 * types, written batch by batch with cl_writer: memory stays bounded by a
 * batch (and the Parquet writer's row group), whatever the table's size.
 *
 * Type mapping (PostgreSQL -> changelake):
 *   smallint, integer, bigint      int16, int32, int64
 *   real, double precision         float32, float64 (NaN, Infinity and
 *                                  -Infinity are kept as the IEEE values)
 *   numeric(p,s), p <= 38, 0<=s<=p decimal(p,s)
 *   numeric (no typmod), p > 38,
 *   or a negative / too large scale string (PostgreSQL's text)
 *   boolean                        bool
 *   date                           date
 *   time [without time zone]       time(us)
 *   timestamp                      timestamp(us)
 *   timestamptz                    timestamp(us, utc) (session TimeZone UTC)
 *   bytea                          binary
 *   everything else (text, varchar, char, name, uuid, json, jsonb, enums,
 *   arrays, interval, timetz, inet, ...)  string: PostgreSQL's text output
 * A domain maps as its base type. Values that have no place in the mapped
 * type — numeric NaN/Infinity, ±infinity dates and timestamps, time
 * 24:00:00, a timestamp outside int64 microseconds — are an error naming
 * the table, the row and the column; never a silently changed value.
 * (Export such a column with --columns left out, or cast it in a view.)
 */
#ifndef CHANGELAKE_PG_EXPORT_H
#define CHANGELAKE_PG_EXPORT_H

#include "io.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cl_pg_export_options {
	/* Columns to export, in this order (borrowed); NULL: every column. */
	const char *const *columns;
	int ncolumns;
	/* Rows per batch handed to the writer; 0: 65536. A batch is also cut
	 * once its values pass 64 MiB. */
	int64_t batch_rows;
	/* Called after every batch written (may be NULL); for progress. */
	void (*progress)(void *ctx, int64_t rows);
	void *progress_ctx;
} cl_pg_export_options;

void cl_pg_export_options_init(cl_pg_export_options *o);

typedef struct cl_pg_export_stats {
	int64_t rows;      /* rows written */
	int64_t bytes;     /* size of the published file (0 for "-") */
	cl_schema *schema; /* the exported schema; owned */
	char **pkey;       /* primary key column names; owned, NULL-terminated */
	int npkey;         /* 0: the table has no primary key */
} cl_pg_export_stats;

/* Free what stats owns (schema, pkey); the struct itself is the caller's. */
void cl_pg_export_stats_release(cl_pg_export_stats *s);

/*
 * Export `table` ("name", "schema.name"; either part may be double-quoted
 * as in SQL, "My.Schema"."Tab""le", else it is taken verbatim, case kept)
 * of the database at `conninfo` (a postgresql:// URL or libpq keywords) to
 * `out` with writer options `wo` (its format must be set or follow from
 * out's name). On success *stats is filled (release it with
 * cl_pg_export_stats_release). On any error — connection, missing table,
 * no permission, a value that does not convert, a lost connection — out
 * is not created (an existing file of that name is left as it was) and
 * err names the table (and the row and column for a value).
 */
int cl_pg_export(const char *conninfo, const char *table, const char *out,
		 const cl_write_options *wo, const cl_pg_export_options *o,
		 cl_pg_export_stats *stats, cl_error *err);

#ifdef __cplusplus
}
#endif
#endif
