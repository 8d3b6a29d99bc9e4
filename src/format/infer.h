/*
 * infer.h — type inference for text formats (internal).
 *
 * A cl__infer accumulates, per column, which types every non-null sample
 * value fits, and then picks the narrowest type that holds all of them
 * without losing anything:
 *   bool (true/false) < int64 < decimal(p,s) < string;  float64 only for
 *   values written with an exponent or inf/nan; date < timestamp (us, or ns
 *   when a value has more than 6 fraction digits; utc when values carry an
 *   offset); integers with leading zeros ("007") stay strings; integers
 *   beyond int64 become decimal(38,0) up to 38 digits, else strings;
 *   decimals needing more than 38 digits are strings; a column with only
 *   NULLs is a string.
 */
#ifndef CL_FORMAT_INFER_H
#define CL_FORMAT_INFER_H

#include "changelake/schema.h"

typedef struct cl__infer cl__infer;

int cl__infer_create(cl__infer **out, int ncols, cl_error *err);
void cl__infer_free(cl__infer *inf);
/* Grow to ncols columns (for sources whose columns appear as they go). */
int cl__infer_resize(cl__infer *inf, int ncols, cl_error *err);
/* Note one non-null text value of column col. `quoted` marks a value that
 * was a JSON string (JSON strings never become numbers or booleans). */
void cl__infer_add(cl__infer *inf, int col, const char *s, size_t n,
		   bool quoted);
/* Note a JSON literal: true/false, or a JSON number. */
void cl__infer_add_json_bool(cl__infer *inf, int col);
/* The chosen type for col. */
cl_type cl__infer_type(const cl__infer *inf, int col);

#endif
