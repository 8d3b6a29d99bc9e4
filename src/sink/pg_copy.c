/*
 * pg_copy.c — the pure parts of the PostgreSQL export (pg_export_impl.h):
 * catalog types mapped onto changelake types, COPY text escapes undone,
 * PostgreSQL's text spelling of each mapped type parsed into a column, and
 * the row decoder that splits a COPY text row into fields and appends them
 * to the current batch. No libpq here: the unit tests and the fuzz target
 * (fuzz_pg_copy) drive it with any bytes; malformed input is an error
 * naming the table, row and column, never a crash.
 */
#include "core/value_text.h"
#include "sink/pg_export_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- type mapping --------------------------------------------------- */

void cl__pg_map_type(uint32_t oid, int32_t typmod, cl_type *type, cl__pg_kind *kind)
{
	*type = cl_type_make(CL_STRING);
	*kind = CL__PG_TEXT;
	switch (oid) {
	case CL__PG_OID_BOOL: *type = cl_type_make(CL_BOOL); *kind = CL__PG_BOOL; break;
	case CL__PG_OID_INT2: *type = cl_type_make(CL_INT16); *kind = CL__PG_INT16; break;
	case CL__PG_OID_INT4: *type = cl_type_make(CL_INT32); *kind = CL__PG_INT32; break;
	case CL__PG_OID_INT8: *type = cl_type_make(CL_INT64); *kind = CL__PG_INT64; break;
	case CL__PG_OID_FLOAT4: *type = cl_type_make(CL_FLOAT32); *kind = CL__PG_FLOAT32; break;
	case CL__PG_OID_FLOAT8: *type = cl_type_make(CL_FLOAT64); *kind = CL__PG_FLOAT64; break;
	case CL__PG_OID_DATE: *type = cl_type_make(CL_DATE); *kind = CL__PG_DATE; break;
	case CL__PG_OID_TIME:
		*type = cl_type_time(CL_UNIT_US);
		*kind = CL__PG_TIME;
		break;
	case CL__PG_OID_TIMESTAMP:
		*type = cl_type_timestamp(CL_UNIT_US, false);
		*kind = CL__PG_TIMESTAMP;
		break;
	case CL__PG_OID_TIMESTAMPTZ:
		*type = cl_type_timestamp(CL_UNIT_US, true);
		*kind = CL__PG_TIMESTAMPTZ;
		break;
	case CL__PG_OID_BYTEA: *type = cl_type_make(CL_BINARY); *kind = CL__PG_BYTEA; break;
	case CL__PG_OID_NUMERIC: {
		/* typmod = ((precision << 16) | (scale & 0x7ff)) + 4; the scale
		 * is an 11-bit signed field since PostgreSQL 15 */
		if (typmod < 4)
			break; /* no precision: any number, kept as text */
		int32_t t = typmod - 4;
		int p = (t >> 16) & 0xffff;
		int s = ((t & 0x7ff) ^ 1024) - 1024;
		if (p >= 1 && p <= 38 && s >= 0 && s <= p) {
			*type = cl_type_decimal(p, s);
			*kind = CL__PG_DECIMAL;
		}
		break;
	}
	default: break;
	}
}

/* ---- COPY text escapes ---------------------------------------------- */


int cl__pg_copy_unescape(cl_buf *out, const char *s, size_t n)
{
	if (cl_buf_reserve(out, n))
		return CL_ENOMEM;
	/* the unescaped text is never longer than the escaped one */
	uint8_t *d = out->data + out->len;
	size_t i = 0;
	while (i < n) {
		char c = s[i++];
		if (c != '\\' || i == n) {
			*d++ = (uint8_t)c; /* a lone final backslash stays itself */
			continue;
		}
		c = s[i++];
		switch (c) {
		case 'b': *d++ = '\b'; break;
		case 'f': *d++ = '\f'; break;
		case 'n': *d++ = '\n'; break;
		case 'r': *d++ = '\r'; break;
		case 't': *d++ = '\t'; break;
		case 'v': *d++ = '\v'; break;
		case 'x': {
			int h = i < n ? cl__hex_digit((unsigned char)s[i]) : -1;
			if (h < 0) {
				*d++ = 'x'; /* as PostgreSQL: \x without a digit is 'x' */
				break;
			}
			i++;
			int h2 = i < n ? cl__hex_digit((unsigned char)s[i]) : -1;
			if (h2 >= 0) {
				h = h * 16 + h2;
				i++;
			}
			*d++ = (uint8_t)h;
			break;
		}
		default:
			if (c >= '0' && c <= '7') {
				int v = c - '0';
				for (int k = 0; k < 2 && i < n && s[i] >= '0' && s[i] <= '7'; k++)
					v = v * 8 + (s[i++] - '0');
				*d++ = (uint8_t)(v & 0xff);
			} else {
				*d++ = (uint8_t)c;
			}
		}
	}
	out->len = (size_t)(d - out->data);
	out->data[out->len] = 0;
	return 0;
}

/* ---- values ----------------------------------------------------------- */

/* Why a text is not a value (positive, apart from the CL_E* codes). */
enum { BAD = 1, RANGE = 2, NOEQUIV = 3 };

static bool is_inf_word(const char *s, size_t n)
{
	return (n == 8 && !memcmp(s, "infinity", 8)) || (n == 9 && !memcmp(s, "-infinity", 9)) ||
	       (n == 8 && !memcmp(s, "Infinity", 8)) || (n == 9 && !memcmp(s, "-Infinity", 9)) ||
	       (n == 3 && !memcmp(s, "NaN", 3));
}

/* Exactly `w` digits at s[*i]. */
static int digits(const char *s, size_t n, size_t *i, int w, int *out)
{
	int v = 0;
	for (int k = 0; k < w; k++) {
		if (*i >= n || s[*i] < '0' || s[*i] > '9')
			return BAD;
		v = v * 10 + (s[(*i)++] - '0');
	}
	*out = v;
	return 0;
}

static bool leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* YYYY[Y...]-MM-DD at s[*i] (year without era); days since 1970 of the
 * proleptic Gregorian date, with the era applied later by the caller. */
static int date_at(const char *s, size_t n, size_t *i, int64_t *year, int *mon, int *day)
{
	int64_t y = 0;
	size_t start = *i;
	while (*i < n && s[*i] >= '0' && s[*i] <= '9') {
		if (*i - start >= 9)
			return RANGE;
		y = y * 10 + (s[(*i)++] - '0');
	}
	if (*i - start < 4 || *i >= n || s[(*i)++] != '-' || digits(s, n, i, 2, mon) ||
	    *i >= n || s[(*i)++] != '-' || digits(s, n, i, 2, day))
		return BAD;
	*year = y;
	return 0;
}

static int date_days(int64_t y, int m, int d, bool bc, int64_t *days)
{
	static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (bc)
		y = 1 - y; /* 1 BC is year 0 */
	if (y == 0 && !bc)
		return BAD;
	if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1] + (m == 2 && leap(y)))
		return BAD;
	*days = cl__days_from_civil(y, (unsigned)m, (unsigned)d);
	return 0;
}

static bool ends_bc(const char *s, size_t *n)
{
	if (*n >= 3 && !memcmp(s + *n - 3, " BC", 3)) {
		*n -= 3;
		return true;
	}
	return false;
}

static int parse_date(const char *s, size_t n, int32_t *out)
{
	if (is_inf_word(s, n))
		return NOEQUIV;
	bool bc = ends_bc(s, &n);
	size_t i = 0;
	int64_t y, days;
	int m, d, rc;
	if ((rc = date_at(s, n, &i, &y, &m, &d)) || i != n ||
	    (rc = date_days(y, m, d, bc, &days)))
		return rc ? rc : BAD;
	if (days < INT32_MIN || days > INT32_MAX)
		return RANGE;
	*out = (int32_t)days;
	return 0;
}

/* HH:MM:SS[.f{1,6}] at s[*i], in microseconds; 24:00:00 is NOEQUIV. */
static int time_at(const char *s, size_t n, size_t *i, int64_t *us)
{
	int h, m, sec;
	if (digits(s, n, i, 2, &h) || *i >= n || s[(*i)++] != ':' || digits(s, n, i, 2, &m) ||
	    *i >= n || s[(*i)++] != ':' || digits(s, n, i, 2, &sec))
		return BAD;
	int64_t frac = 0, scale = 100000;
	if (*i < n && s[*i] == '.') {
		(*i)++;
		size_t start = *i;
		while (*i < n && s[*i] >= '0' && s[*i] <= '9') {
			if (*i - start >= 6)
				return BAD;
			frac += (s[(*i)++] - '0') * scale;
			scale /= 10;
		}
		if (*i == start)
			return BAD;
	}
	if (m > 59 || sec > 59 || h > 24)
		return BAD;
	if (h == 24)
		return m == 0 && sec == 0 && frac == 0 ? NOEQUIV : BAD;
	*us = ((int64_t)h * 3600 + m * 60 + sec) * 1000000 + frac;
	return 0;
}

static int parse_time(const char *s, size_t n, int64_t *us)
{
	size_t i = 0;
	int rc = time_at(s, n, &i, us);
	return rc ? rc : i == n ? 0 : BAD;
}

/* "YYYY-MM-DD HH:MM:SS[.f][+HH[:MM[:SS]]][ BC]" in microseconds (UTC when
 * an offset is there; tz says whether one must be). */
static int parse_timestamp(const char *s, size_t n, bool tz, int64_t *out)
{
	if (is_inf_word(s, n))
		return NOEQUIV;
	bool bc = ends_bc(s, &n);
	size_t i = 0;
	int64_t y, days, tod;
	int m, d, rc;
	if ((rc = date_at(s, n, &i, &y, &m, &d)))
		return rc;
	if (i >= n || s[i++] != ' ' || (rc = time_at(s, n, &i, &tod)))
		return rc == NOEQUIV ? BAD : rc ? rc : BAD;
	int64_t off = 0;
	if (tz) {
		if (i >= n || (s[i] != '+' && s[i] != '-'))
			return BAD;
		int sign = s[i++] == '-' ? -1 : 1, oh, om = 0, os = 0;
		if (digits(s, n, &i, 2, &oh))
			return BAD;
		if (i < n && s[i] == ':' && (i++, digits(s, n, &i, 2, &om)))
			return BAD;
		if (i < n && s[i] == ':' && (i++, digits(s, n, &i, 2, &os)))
			return BAD;
		if (om > 59 || os > 59)
			return BAD;
		off = sign * ((int64_t)oh * 3600 + om * 60 + os) * 1000000;
	}
	if (i != n || (rc = date_days(y, m, d, bc, &days)))
		return rc ? rc : BAD;
	int64_t v;
	if (__builtin_mul_overflow(days, (int64_t)86400000000, &v) ||
	    __builtin_add_overflow(v, tod, &v) || __builtin_sub_overflow(v, off, &v))
		return RANGE;
	*out = v;
	return 0;
}

/* A float as PostgreSQL prints it: digits, '.', exponent, or one of
 * NaN, Infinity, -Infinity (kept as the IEEE values). */
static int parse_float(const char *s, size_t n, bool single, double *out)
{
	if (n == 3 && !memcmp(s, "NaN", 3)) {
		*out = NAN;
		return 0;
	}
	if (n == 8 && !memcmp(s, "Infinity", 8)) {
		*out = INFINITY;
		return 0;
	}
	if (n == 9 && !memcmp(s, "-Infinity", 9)) {
		*out = -INFINITY;
		return 0;
	}
	char tmp[64];
	if (n == 0 || n >= sizeof tmp)
		return BAD;
	bool digit = false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		digit |= c >= '0' && c <= '9';
		if (!(c >= '0' && c <= '9') && c != '.' && c != 'e' && c != 'E' && c != '+' &&
		    c != '-')
			return BAD;
	}
	if (!digit)
		return BAD;
	memcpy(tmp, s, n);
	tmp[n] = 0;
	char *end;
	/* strtof for float4: rounding through double could differ */
	*out = single ? (double)strtof(tmp, &end) : strtod(tmp, &end);
	if (end != tmp + n)
		return BAD;
	return isinf(*out) ? RANGE : 0;
}

/* "\\x" and pairs of hex digits, decoded straight into c's data. */
static int append_bytea(cl_column *c, const char *s, size_t n, cl_error *err)
{
	if (n < 2 || s[0] != '\\' || s[1] != 'x' || (n - 2) % 2)
		return BAD;
	for (size_t i = 2; i < n; i++)
		if (cl__hex_digit((unsigned char)s[i]) < 0)
			return BAD;
	size_t m = (n - 2) / 2;
	int rc = cl_column_reserve(c, 1, err);
	if (!rc)
		rc = cl_column_reserve_data(c, (int64_t)m, err);
	if (rc)
		return rc;
	int64_t off = c->offsets[c->length];
	uint8_t *d = m ? c->data + off : NULL; /* no data buffer yet for "\\x" */
	for (size_t i = 0; i < m; i++)
		d[i] = (uint8_t)(cl__hex_digit((unsigned char)s[2 + 2 * i]) * 16 +
				 cl__hex_digit((unsigned char)s[3 + 2 * i]));
	c->offsets[c->length + 1] = off + (int64_t)m;
	c->length++;
	return 0;
}

int cl__pg_value_append(cl_column *c, cl__pg_kind kind, const char *s, size_t n,
			cl_error *err)
{
	int rc = 0;
	int64_t i64 = 0;
	double f = 0;
	switch (kind) {
	case CL__PG_TEXT:
		if (!cl__utf8_valid((const uint8_t *)s, n))
			return cl_error_set(err, CL_ETYPE, "value is not valid UTF-8");
		return cl_column_append_bytes(c, s, n, err);
	case CL__PG_BOOL:
		if (n == 1 && (s[0] == 't' || s[0] == 'f'))
			return cl_column_append_bool(c, s[0] == 't', err);
		rc = BAD;
		break;
	case CL__PG_INT16:
	case CL__PG_INT32:
	case CL__PG_INT64: {
		int64_t lo = kind == CL__PG_INT16 ? INT16_MIN : kind == CL__PG_INT32 ? INT32_MIN : INT64_MIN;
		int64_t hi = kind == CL__PG_INT16 ? INT16_MAX : kind == CL__PG_INT32 ? INT32_MAX : INT64_MAX;
		rc = n && s[0] == '+' ? BAD : -cl__parse_int64(s, n, &i64);
		if (!rc && (i64 < lo || i64 > hi))
			rc = RANGE;
		if (!rc)
			return cl_column_append_i64(c, i64, err);
		break;
	}
	case CL__PG_FLOAT32:
	case CL__PG_FLOAT64:
		if (!(rc = parse_float(s, n, kind == CL__PG_FLOAT32, &f)))
			return cl_column_append_f64(c, f, err);
		break;
	case CL__PG_DECIMAL: {
		cl_i128 v;
		if (is_inf_word(s, n))
			rc = NOEQUIV;
		else if (n && s[0] == '+')
			rc = BAD;
		else
			rc = -cl__parse_decimal(s, n, c->type.precision, c->type.scale, &v);
		if (!rc)
			return cl_column_append_fixed(c, &v, err);
		break;
	}
	case CL__PG_DATE: {
		int32_t d;
		if (!(rc = parse_date(s, n, &d)))
			return cl_column_append_i64(c, d, err);
		break;
	}
	case CL__PG_TIME:
		if (!(rc = parse_time(s, n, &i64)))
			return cl_column_append_i64(c, i64, err);
		break;
	case CL__PG_TIMESTAMP:
	case CL__PG_TIMESTAMPTZ:
		if (!(rc = parse_timestamp(s, n, kind == CL__PG_TIMESTAMPTZ, &i64)))
			return cl_column_append_i64(c, i64, err);
		break;
	case CL__PG_BYTEA:
		if ((rc = append_bytea(c, s, n, err)) <= 0)
			return rc;
		break;
	}
	char tn[48];
	cl_type_format(tn, sizeof tn, c->type);
	int shown = n > 60 ? 60 : (int)n;
	const char *more = n > 60 ? "..." : "";
	if (rc == NOEQUIV)
		return cl_error_set(err, CL_ETYPE,
				    "value '%.*s' has no %s equivalent (leave the column out with "
				    "--columns, or export a view that casts it)",
				    shown, s, tn);
	if (rc == RANGE)
		return cl_error_set(err, CL_ETYPE, "value '%.*s%s' is out of range for %s", shown,
				    s, more, tn);
	return cl_error_set(err, CL_ETYPE, "value '%.*s%s' is not a valid %s", shown, s, more, tn);
}

/* ---- the row decoder ------------------------------------------------ */

int cl__pg_copy_decoder_init(cl__pg_copy_decoder *d, const char *table,
			     const cl_schema *schema, const cl__pg_kind *kinds, cl_error *err)
{
	memset(d, 0, sizeof *d);
	d->table = table;
	d->schema = schema;
	d->kinds = kinds;
	return cl_batch_create(&d->batch, schema, 1024, err);
}

/* " (k1=v1, k2=v2)": the row's key values as COPY sent them, for an
 * error message (rows have no stable position in a table); "" when the
 * key is unknown. Long values are cut. */
static void key_text(const cl__pg_copy_decoder *d, const char *row, size_t n, char *out,
		     size_t cap)
{
	out[0] = 0;
	if (!d->nkeys)
		return;
	size_t k = (size_t)snprintf(out, cap, " (");
	for (int i = 0; i < d->nkeys && k < cap; i++) {
		size_t a = 0, b;
		for (int f = 0; f < d->keys[i]; f++) {
			while (a < n && row[a] != '\t')
				a++;
			a += a < n;
		}
		for (b = a; b < n && row[b] != '\t'; b++)
			;
		int len = b - a > 40 ? 40 : (int)(b - a);
		k += (size_t)snprintf(out + k, cap - k, "%s%s=%.*s%s", i ? ", " : "",
				      d->schema->fields[d->keys[i]].name, len, row + a,
				      b - a > 40 ? "..." : "");
	}
	if (k + 2 <= cap)
		snprintf(out + k, cap - k, ")");
	else
		out[0] = 0; /* cut mid-way: say nothing rather than half */
}

int cl__pg_copy_row(cl__pg_copy_decoder *d, const char *row, size_t n, cl_error *err)
{
	if (n && row[n - 1] == '\n')
		n--;
	d->rows++;
	size_t i = 0;
	int nf = d->schema->nfields;
	for (int f = 0; f < nf; f++) {
		size_t j = i;
		while (j < n && row[j] != '\t')
			j++;
		if ((j == n) != (f == nf - 1))
			return cl_error_set(err, CL_EFORMAT,
					    "table %s, row %lld: COPY sent %s fields than the %d "
					    "columns",
					    d->table, (long long)d->rows, j == n ? "fewer" : "more", nf);
		cl_column *c = &d->batch->cols[f];
		int rc;
		if (j - i == 2 && row[i] == '\\' && row[i + 1] == 'N') {
			rc = cl_column_append_null(c, err);
		} else {
			cl_buf_clear(&d->field);
			if (cl__pg_copy_unescape(&d->field, row + i, j - i))
				return cl_error_set(err, CL_ENOMEM, "out of memory");
			rc = cl__pg_value_append(c, d->kinds[f], (const char *)d->field.data,
						 d->field.len, err);
		}
		if (rc) {
			if (rc == CL_ETYPE) {
				char key[256];
				key_text(d, row, n, key, sizeof key);
				cl_error_prefix(err, "table %s, row %lld%s, column '%s': ", d->table,
						(long long)d->rows, key, d->schema->fields[f].name);
			}
			return rc;
		}
		i = j + 1;
	}
	if (nf == 0 && n)
		return cl_error_set(err, CL_EFORMAT, "table %s, row %lld: fields in a table "
				    "without columns", d->table, (long long)d->rows);
	d->batch->nrows++;
	d->bytes += (int64_t)n;
	return 0;
}

void cl__pg_copy_decoder_clear(cl__pg_copy_decoder *d)
{
	cl_batch_clear(d->batch);
	d->bytes = 0;
}

void cl__pg_copy_decoder_release(cl__pg_copy_decoder *d)
{
	cl_batch_free(d->batch);
	cl_buf_release(&d->field);
	memset(d, 0, sizeof *d);
}
