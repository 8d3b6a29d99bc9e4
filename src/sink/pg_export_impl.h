/*
 * pg_export_impl.h — the pure parts of the PostgreSQL export (internal to
 * the sink layer; defined in pg_copy.c, used by pg_export.c, the unit tests
 * and the fuzz target):
 * mapping catalog types onto changelake types, and decoding rows of COPY
 * ... TO STDOUT text format into a column batch.
 *
 * COPY text format (what the decoder accepts): one row per line ending in
 * '\n', fields separated by '\t', a field that is exactly \N is NULL, and
 * backslash escapes \b \f \n \r \t \v \\, \ooo (1-3 octal digits, low 8
 * bits kept) and \xhh (1-2 hex digits); a backslash before any other
 * character stands for that character. Values are in PostgreSQL's output
 * spelling under DateStyle ISO, TimeZone UTC, bytea_output hex (the
 * session settings pg_export.c makes). Everything is bounds-checked: any
 * byte sequence is either decoded or refused with an error naming the
 * table, the row and the column.
 */
#ifndef CL_SINK_PG_EXPORT_IMPL_H
#define CL_SINK_PG_EXPORT_IMPL_H

#include "changelake/batch.h"
#include "core/buf.h"

/* How a column's text is converted (one per exported column). */
typedef enum cl__pg_kind {
	CL__PG_TEXT = 0, /* any type, PostgreSQL's text output, as a string */
	CL__PG_BOOL,
	CL__PG_INT16,
	CL__PG_INT32,
	CL__PG_INT64,
	CL__PG_FLOAT32,
	CL__PG_FLOAT64,
	CL__PG_DECIMAL,
	CL__PG_DATE,
	CL__PG_TIME,
	CL__PG_TIMESTAMP,
	CL__PG_TIMESTAMPTZ,
	CL__PG_BYTEA
} cl__pg_kind;

/* Built-in type OIDs (fixed in PostgreSQL's catalog since 7.x). */
enum {
	CL__PG_OID_BOOL = 16, CL__PG_OID_BYTEA = 17, CL__PG_OID_INT8 = 20,
	CL__PG_OID_INT2 = 21, CL__PG_OID_INT4 = 23, CL__PG_OID_FLOAT4 = 700,
	CL__PG_OID_FLOAT8 = 701, CL__PG_OID_DATE = 1082, CL__PG_OID_TIME = 1083,
	CL__PG_OID_TIMESTAMP = 1114, CL__PG_OID_TIMESTAMPTZ = 1184,
	CL__PG_OID_NUMERIC = 1700
};

/*
 * The changelake type and conversion of a column whose (base) type has OID
 * `oid` and type modifier `typmod` (-1: none). Unknown types are strings.
 */
void cl__pg_map_type(uint32_t oid, int32_t typmod, cl_type *type, cl__pg_kind *kind);

/* Undo COPY text escapes of field s[0..n), appending the bytes to out.
 * 0 or CL_ENOMEM. */
int cl__pg_copy_unescape(cl_buf *out, const char *s, size_t n);

/*
 * Append the value PostgreSQL spelled as s[0..n) (already unescaped) to c
 * (of the type cl__pg_map_type gave for kind). CL_ETYPE with a message
 * "value '...' is not a valid T" (or why it has no equivalent) that the
 * caller prefixes with table, row and column.
 */
int cl__pg_value_append(cl_column *c, cl__pg_kind kind, const char *s, size_t n,
			cl_error *err);

#define CL__PG_MAX_KEYS 8

/* Decodes COPY text rows into a batch of `schema` (borrowed, as are
 * `kinds` and `table`, the name used in messages). keys[0..nkeys) are
 * the fields of the primary key, set by the caller after init (0: none):
 * a value error then also names the row by its key, "(id=42)". */
typedef struct cl__pg_copy_decoder {
	const char *table;
	const cl_schema *schema;
	const cl__pg_kind *kinds;
	cl_batch *batch;  /* owned: the rows decoded since the last clear */
	cl_buf field;     /* scratch: one unescaped field */
	int64_t rows;     /* rows decoded in all (row numbers in messages) */
	int64_t bytes;    /* bytes of row text in the current batch */
	int keys[CL__PG_MAX_KEYS];
	int nkeys;
} cl__pg_copy_decoder;

int cl__pg_copy_decoder_init(cl__pg_copy_decoder *d, const char *table,
			     const cl_schema *schema, const cl__pg_kind *kinds, cl_error *err);
/*
 * Decode one row (with or without its final '\n') and append it to
 * d->batch. A wrong number of fields is CL_EFORMAT, a value that does not
 * convert CL_ETYPE, both naming table, row (1-based) and column. After an
 * error the batch may hold part of the row: clear or release it.
 */
int cl__pg_copy_row(cl__pg_copy_decoder *d, const char *row, size_t n, cl_error *err);
/* Empty the batch (keeping its buffers) for the next rows. */
void cl__pg_copy_decoder_clear(cl__pg_copy_decoder *d);
void cl__pg_copy_decoder_release(cl__pg_copy_decoder *d);

#endif
