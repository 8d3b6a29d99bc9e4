/*
 * changelake/schema.h — logical types and table schemas.
 *
 * The type system is what a lake table needs, and maps one-to-one onto
 * Parquet logical types, Delta Lake primitive types and Apache Arrow types.
 * In memory (see batch.h) each type has one fixed representation:
 *
 *   CL_BOOL        bit-packed, LSB first (like Arrow)
 *   CL_INT8..64    int8_t .. int64_t
 *   CL_UINT8..64   uint8_t .. uint64_t
 *   CL_FLOAT32/64  float / double
 *   CL_DECIMAL     16-byte little-endian two's complement (Arrow decimal128),
 *                  value = unscaled * 10^-scale, precision 1..38
 *   CL_DATE        int32_t days since 1970-01-01
 *   CL_TIME        int64_t since midnight, in `unit`
 *   CL_TIMESTAMP   int64_t since 1970-01-01T00:00:00, in `unit`; `utc` says
 *                  whether it is an instant (adjusted to UTC) or a local
 *                  date-time
 *   CL_STRING      int64_t offsets + UTF-8 bytes
 *   CL_BINARY      int64_t offsets + bytes
 */
#ifndef CHANGELAKE_SCHEMA_H
#define CHANGELAKE_SCHEMA_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cl_type_id {
	CL_NULLTYPE = 0, /* unknown / no value seen (type inference only) */
	CL_BOOL,
	CL_INT8,
	CL_INT16,
	CL_INT32,
	CL_INT64,
	CL_UINT8,
	CL_UINT16,
	CL_UINT32,
	CL_UINT64,
	CL_FLOAT32,
	CL_FLOAT64,
	CL_DECIMAL,
	CL_DATE,
	CL_TIME,
	CL_TIMESTAMP,
	CL_STRING,
	CL_BINARY,
	CL_TYPE_COUNT
} cl_type_id;

typedef enum cl_time_unit {
	CL_UNIT_MS = 0,
	CL_UNIT_US = 1,
	CL_UNIT_NS = 2
} cl_time_unit;

typedef struct cl_type {
	cl_type_id id;
	uint8_t precision; /* CL_DECIMAL: 1..38 */
	uint8_t scale;     /* CL_DECIMAL: 0..precision */
	uint8_t unit;      /* CL_TIME, CL_TIMESTAMP: cl_time_unit */
	bool utc;          /* CL_TIMESTAMP: adjusted to UTC (an instant) */
} cl_type;

/* Convenience constructors. */
static inline cl_type cl_type_make(cl_type_id id)
{
	cl_type t = {id, 0, 0, CL_UNIT_US, false};
	return t;
}
static inline cl_type cl_type_decimal(int precision, int scale)
{
	cl_type t = {CL_DECIMAL, (uint8_t)precision, (uint8_t)scale, 0, false};
	return t;
}
static inline cl_type cl_type_timestamp(cl_time_unit unit, bool utc)
{
	cl_type t = {CL_TIMESTAMP, 0, 0, (uint8_t)unit, utc};
	return t;
}
static inline cl_type cl_type_time(cl_time_unit unit)
{
	cl_type t = {CL_TIME, 0, 0, (uint8_t)unit, false};
	return t;
}

/* Bytes per value of a fixed-width type; 0 for bool, string and binary. */
int cl_type_width(cl_type t);
/* True for CL_STRING and CL_BINARY (offsets + bytes layout). */
static inline bool cl_type_is_var(cl_type t)
{
	return t.id == CL_STRING || t.id == CL_BINARY;
}
bool cl_type_equal(cl_type a, cl_type b);

/*
 * Text form of a type, as printed by `changelake schema` and accepted by
 * --schema: bool, int8, int16, int32, int64, uint8..uint64, float32,
 * float64, decimal(P,S), date, time(ms|us|ns), timestamp(ms|us|ns[,utc]),
 * string, binary. Aliases accepted when parsing: boolean, tinyint,
 * smallint, int, integer, bigint, float, real, double, varchar, text,
 * bytes, blob, timestamptz (= timestamp(us,utc)).
 * cl_type_format writes at most n bytes including the NUL; returns buf.
 */
int cl_type_parse(cl_type *out, const char *text, size_t len, cl_error *err);
const char *cl_type_format(char *buf, size_t n, cl_type t);

/* One column of a schema. */
typedef struct cl_field {
	char *name; /* owned by the schema, UTF-8 */
	cl_type type;
	bool nullable;
} cl_field;

/* An ordered list of uniquely named fields. */
typedef struct cl_schema {
	int nfields;
	int cap;
	cl_field *fields;
} cl_schema;

/* New empty schema; owned by the caller, freed with cl_schema_free. */
int cl_schema_create(cl_schema **out, cl_error *err);
void cl_schema_free(cl_schema *s);
/* Deep copy; owned by the caller. */
int cl_schema_copy(cl_schema **out, const cl_schema *s, cl_error *err);
/* Append a field (name copied). Fails with CL_ESCHEMA on a duplicate name. */
int cl_schema_add(cl_schema *s, const char *name, cl_type type, bool nullable,
		  cl_error *err);
/* Index of the field named `name`, or -1. Exact, case-sensitive match. */
int cl_schema_find(const cl_schema *s, const char *name);
bool cl_schema_equal(const cl_schema *a, const cl_schema *b);

/*
 * Parse a schema from text: fields separated by newlines or commas, each
 * "NAME TYPE [not null]"; '#' starts a comment line. Names may be
 * double-quoted ("my col" string). Owned by the caller.
 */
int cl_schema_parse(cl_schema **out, const char *text, cl_error *err);
/* Read cl_schema_parse text from a file. */
int cl_schema_load(cl_schema **out, const char *path, cl_error *err);

#ifdef __cplusplus
}
#endif
#endif
