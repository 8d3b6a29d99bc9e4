/*
 * value_text.h — values to and from text (internal).
 *
 * The one place that knows how a value of each type is spelled in text, so
 * CSV, JSON Lines, the CLI's tables and error messages agree:
 *   bool       true / false (parsing also takes t/f, yes/no, y/n, 1/0)
 *   integers   decimal digits with an optional sign
 *   floats     shortest text that reads back to the same value; inf, -inf, nan
 *   decimal    digits with exactly `scale` fraction digits (123.40)
 *   date       YYYY-MM-DD
 *   time       HH:MM:SS[.fraction]
 *   timestamp  YYYY-MM-DD HH:MM:SS[.fraction], "+00" suffix when utc;
 *              parsing takes 'T' or ' ', and Z / +HH[:MM] / -HH[:MM] offsets
 *   binary     \x followed by hex digits (as PostgreSQL's bytea)
 * Parsers are strict: the whole text must be one value; no whitespace
 * trimming (callers trim where the format allows it).
 */
#ifndef CL_CORE_VALUE_TEXT_H
#define CL_CORE_VALUE_TEXT_H

#include "changelake/batch.h"
#include "buf.h"

typedef __int128 cl_i128;

/* The value of a hexadecimal digit (either case), or -1. */
static inline int cl__hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Each parser returns 0 on success, -1 when the text is not such a value,
 * -2 when it is one but out of range for the target. */
int cl__parse_bool(const char *s, size_t n, bool *out);
int cl__parse_int64(const char *s, size_t n, int64_t *out);
int cl__parse_uint64(const char *s, size_t n, uint64_t *out);
int cl__parse_double(const char *s, size_t n, double *out);
/* Into an unscaled value at `scale`; -2 when more fraction digits than
 * scale would be lost or the value needs more than `precision` digits. */
int cl__parse_decimal(const char *s, size_t n, int precision, int scale,
		      cl_i128 *out);
int cl__parse_date(const char *s, size_t n, int32_t *days);
int cl__parse_time(const char *s, size_t n, cl_time_unit unit, int64_t *out);
/* *had_offset (may be NULL) tells whether the text carried a UTC offset;
 * the result is then converted to UTC. */
int cl__parse_timestamp(const char *s, size_t n, cl_time_unit unit,
			int64_t *out, bool *had_offset);

/*
 * Append the value spelled by s[0..n) to column c, converting to c's type.
 * On failure returns CL_ETYPE with a message "value 'x' is not a valid T"
 * (the caller prefixes file, line and column). Does not handle NULL markers.
 */
int cl__column_append_text(cl_column *c, const char *s, size_t n,
			   cl_error *err);

/* Append the text of value `row` of c to out (NULL is not handled here). */
int cl__value_format(cl_buf *out, const cl_column *c, int64_t row);

/* Calendar helpers. */
int64_t cl__days_from_civil(int64_t y, unsigned m, unsigned d);
void cl__civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);
/* Units per second for a cl_time_unit. */
int64_t cl__unit_per_second(int unit);

/* int128 helpers for decimals. */
int cl__i128_format(char *buf, size_t n, cl_i128 v, int scale);
cl_i128 cl__i128_pow10(int k);

/* True when s[0..n) is valid UTF-8 (no overlongs, no surrogates). */
bool cl__utf8_valid(const uint8_t *s, size_t n);
/* Offset of the first invalid byte, or n when valid. */
size_t cl__utf8_check(const uint8_t *s, size_t n);

/*
 * The %XX escapes of s[0..n) decoded into out (cleared first; a NUL after
 * the text, out->len without it). Flags: CL_PCT_LENIENT — a '%' without
 * two hex digits after it is kept as it is (Hive folder names), else it
 * is CL_PCT_EBAD; CL_PCT_NUL — NUL bytes, raw or escaped as %00, are
 * kept (length-counted values), else either is CL_PCT_ENUL. Returns 0,
 * CL_PCT_EBAD, CL_PCT_ENUL or CL_ENOMEM.
 */
enum { CL_PCT_LENIENT = 1, CL_PCT_NUL = 2 };
enum { CL_PCT_EBAD = -101, CL_PCT_ENUL = -102 }; /* apart from CL_E* */
int cl__pct_decode(cl_buf *out, const char *s, size_t n, unsigned flags);

#endif
