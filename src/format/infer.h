/*
 * infer.h — type inference for text formats (internal).
 *
 * A cl__infer accumulates, per column, which kinds of value every non-null
 * sample value is, and then picks the narrowest type that holds all of them
 * without losing anything (what a schema crawler does, minus its habit of
 * rounding):
 *
 *   bool       every value is true or false (any case; also JSON literals).
 *              Mixed with anything else: string (1/0/yes/no are not bools).
 *   int64      optional '-', digits, no leading zeros ("0" and "-0" are
 *              fine; "007" keeps the column a string, like zip codes; a
 *              leading '+' too, it would be lost).
 *   decimal    integers and fixed-point values ("12.50", ".5" is not one):
 *              scale = most fraction digits seen, precision = most
 *              integer digits + scale; the precision is then widened to 18
 *              (or 38 when more is needed) to leave room for the rows after
 *              the sample. More than 38 digits: string. Integers beyond
 *              int64 make the column decimal(38,0) (up to 38 digits).
 *   float64    only when some value is written with an exponent ("1e5") or
 *              is inf/infinity/nan; the other values of the column must then
 *              have at most 15 significant digits (so they read back
 *              exactly), else the column is a string.
 *   date       YYYY-MM-DD (4-digit year, real calendar day).
 *   timestamp  YYYY-MM-DD[T| ]HH:MM[:SS[.fraction]] with an optional offset
 *              (Z, +HH[:MM], -HH[:MM], UTC). Dates mixed with timestamps
 *              make a timestamp. Unit us, or ns when some value has more
 *              than 6 fraction digits (and all fit the ns range); utc when
 *              the values carry an offset. Values with and without an
 *              offset mixed (a date counts as without): string.
 *   string     everything else; also a column whose values mix kinds
 *              (numbers and dates, bools and numbers), and a column with
 *              only NULLs.
 * JSON strings (quoted = true) never become numbers or bools, only dates,
 * timestamps or strings; JSON numbers are added unquoted.
 */
#ifndef CL_FORMAT_INFER_H
#define CL_FORMAT_INFER_H

#include "changelake/schema.h"

typedef struct cl__infer cl__infer;

/* A new inference over ncols columns; owned, freed with cl__infer_free. */
int cl__infer_create(cl__infer **out, int ncols, cl_error *err);
void cl__infer_free(cl__infer *inf);
/* Grow to ncols columns (for sources whose columns appear as they go). */
int cl__infer_resize(cl__infer *inf, int ncols, cl_error *err);
/* Note one non-null text value of column col. `quoted` marks a value that
 * was a JSON string (JSON strings never become numbers or booleans). */
void cl__infer_add(cl__infer *inf, int col, const char *s, size_t n,
		   bool quoted);
/* Note a JSON literal true or false. */
void cl__infer_add_json_bool(cl__infer *inf, int col);
/* Note a value that can only be a string (a nested JSON object or array). */
void cl__infer_add_string(cl__infer *inf, int col);
/* Number of non-null values noted for col. */
int64_t cl__infer_count(const cl__infer *inf, int col);
/* The chosen type for col. */
cl_type cl__infer_type(const cl__infer *inf, int col);

#endif
