/*
 * infer.c — type inference for text formats; the rules are in infer.h.
 *
 * Each value is classified once into one kind (bool, int, decimal, float,
 * date, timestamp, string) plus the few numbers the final choice needs
 * (digits, scale, offsets, fraction digits). A column's kinds are a bit
 * set; once it holds `string` nothing else matters and values are no longer
 * looked at. cl__infer_type turns the set into a type.
 */
#include "infer.h"

#include "core/value_text.h"

#include <string.h>

enum {
	K_BOOL = 1 << 0,
	K_INT = 1 << 1,
	K_DEC = 1 << 2,
	K_FLOAT = 1 << 3,
	K_DATE = 1 << 4,
	K_TS = 1 << 5,
	K_STRING = 1 << 6,
};

typedef struct col_stats {
	unsigned kinds;
	int64_t count;
	int int_digits; /* most integer digits of an int or decimal value */
	int scale;      /* most fraction digits of a decimal value */
	int sig;        /* most significant digits of an int or decimal value */
	bool big_int;   /* an integer beyond int64 */
	bool ts_off, ts_nooff; /* timestamp values with / without offset */
	bool ts_ns;     /* a timestamp with more than 6 fraction digits */
	bool ts_ns_bad; /* a date/timestamp outside the int64 ns range */
} col_stats;

struct cl__infer {
	int ncols;
	col_stats *cols;
};

int cl__infer_create(cl__infer **out, int ncols, cl_error *err)
{
	cl__infer *inf = cl_calloc(1, sizeof *inf);
	if (!inf)
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	int rc = cl__infer_resize(inf, ncols, err);
	if (rc) {
		cl__infer_free(inf);
		return rc;
	}
	*out = inf;
	return 0;
}

void cl__infer_free(cl__infer *inf)
{
	if (!inf)
		return;
	cl_free(inf->cols);
	cl_free(inf);
}

int cl__infer_resize(cl__infer *inf, int ncols, cl_error *err)
{
	if (ncols <= inf->ncols)
		return 0;
	col_stats *c = cl_realloc(inf->cols, (size_t)ncols * sizeof *c);
	if (!c)
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	memset(c + inf->ncols, 0, (size_t)(ncols - inf->ncols) * sizeof *c);
	inf->cols = c;
	inf->ncols = ncols;
	return 0;
}

static inline bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool ieq(const char *s, size_t n, const char *w)
{
	if (strlen(w) != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != w[i])
			return false;
	}
	return true;
}

/*
 * Numbers: [-]digits[.digits] as int or decimal, [-]digits[.digits]e[+-]d
 * or inf/nan as float. Returns the kind, or 0 when not a number.
 */
static unsigned classify_number(col_stats *c, const char *s, size_t n)
{
	size_t i = 0;
	if (i < n && s[i] == '-')
		i++;
	const char *p = s + i;
	size_t m = n - i;
	if (ieq(p, m, "inf") || ieq(p, m, "infinity") || ieq(p, m, "nan"))
		return K_FLOAT;
	size_t istart = i;
	while (i < n && is_digit(s[i]))
		i++;
	size_t idigits = i - istart;
	if (idigits == 0)
		return 0;
	if (idigits > 1 && s[istart] == '0')
		return 0; /* leading zero: keep the text */
	size_t fstart = i, fdigits = 0;
	bool dot = false;
	if (i < n && s[i] == '.') {
		dot = true;
		i++;
		fstart = i;
		while (i < n && is_digit(s[i]))
			i++;
		fdigits = i - fstart;
		if (fdigits == 0)
			return 0;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		size_t e = i;
		while (i < n && is_digit(s[i]))
			i++;
		if (i == e || i != n)
			return 0;
		return K_FLOAT;
	}
	if (i != n)
		return 0;
	/* Significant digits: from the first to the last non-zero digit. */
	int first = -1, last = -1, pos = 0;
	for (size_t k = istart; k < n; k++) {
		if (s[k] == '.')
			continue;
		if (s[k] != '0') {
			if (first < 0)
				first = pos;
			last = pos;
		}
		pos++;
	}
	int sig = first < 0 ? 1 : last - first + 1;
	int intd = (idigits == 1 && s[istart] == '0') ? 0 : (int)idigits;
	if (sig > c->sig)
		c->sig = sig;
	if (intd > c->int_digits)
		c->int_digits = intd;
	if (!dot) {
		int64_t v;
		if (cl__parse_int64(s, n, &v) != 0)
			c->big_int = true;
		return K_INT;
	}
	if ((int)fdigits > c->scale)
		c->scale = fdigits > 1000 ? 1000 : (int)fdigits;
	return K_DEC;
}

/* YYYY-MM-DD, or that followed by a time (and offset): K_DATE / K_TS / 0. */
static unsigned classify_temporal(col_stats *c, const char *s, size_t n)
{
	if (n < 10 || !is_digit(s[0]) || !is_digit(s[1]) || !is_digit(s[2]) ||
	    !is_digit(s[3]) || s[4] != '-' || !is_digit(s[5]) || !is_digit(s[6]) ||
	    s[7] != '-' || !is_digit(s[8]) || !is_digit(s[9]))
		return 0;
	int64_t v;
	if (n == 10) {
		int32_t d;
		if (cl__parse_date(s, n, &d) != 0)
			return 0;
		if (cl__parse_timestamp(s, n, CL_UNIT_NS, &v, NULL) != 0)
			c->ts_ns_bad = true;
		return K_DATE;
	}
	if (s[10] != 'T' && s[10] != ' ')
		return 0;
	bool off = false;
	if (cl__parse_timestamp(s, n, CL_UNIT_US, &v, &off) != 0) {
		/* More than 6 fraction digits fail at us: try ns. */
		if (cl__parse_timestamp(s, n, CL_UNIT_NS, &v, &off) != 0)
			return 0;
	}
	const char *dot = memchr(s + 10, '.', n - 10);
	if (dot) {
		size_t k = (size_t)(dot - s) + 1, f = 0;
		while (k < n && is_digit(s[k]))
			k++, f++;
		if (f > 6)
			c->ts_ns = true;
	}
	if (cl__parse_timestamp(s, n, CL_UNIT_NS, &v, NULL) != 0)
		c->ts_ns_bad = true;
	if (off)
		c->ts_off = true;
	else
		c->ts_nooff = true;
	return K_TS;
}

void cl__infer_add(cl__infer *inf, int col, const char *s, size_t n,
		   bool quoted)
{
	if (col < 0 || col >= inf->ncols)
		return;
	col_stats *c = &inf->cols[col];
	c->count++;
	if (c->kinds & K_STRING)
		return;
	unsigned k = 0;
	if (n > 0 && n < 128) {
		char ch = s[0];
		if (!quoted && (is_digit(ch) || ch == '-' || ch == 'i' || ch == 'I' ||
				ch == 'n' || ch == 'N'))
			k = classify_number(c, s, n);
		if (!k && is_digit(ch))
			k = classify_temporal(c, s, n);
		if (!k && !quoted && (ieq(s, n, "true") || ieq(s, n, "false")))
			k = K_BOOL;
	}
	c->kinds |= k ? k : K_STRING;
}

void cl__infer_add_json_bool(cl__infer *inf, int col)
{
	if (col < 0 || col >= inf->ncols)
		return;
	inf->cols[col].count++;
	inf->cols[col].kinds |= K_BOOL;
}

void cl__infer_add_string(cl__infer *inf, int col)
{
	if (col < 0 || col >= inf->ncols)
		return;
	inf->cols[col].count++;
	inf->cols[col].kinds |= K_STRING;
}

int64_t cl__infer_count(const cl__infer *inf, int col)
{
	if (col < 0 || col >= inf->ncols)
		return 0;
	return inf->cols[col].count;
}

cl_type cl__infer_type(const cl__infer *inf, int col)
{
	cl_type str = cl_type_make(CL_STRING);
	if (col < 0 || col >= inf->ncols)
		return str;
	const col_stats *c = &inf->cols[col];
	unsigned k = c->kinds;
	if (k == 0 || (k & K_STRING))
		return str;
	if (k == K_BOOL)
		return cl_type_make(CL_BOOL);
	if ((k & ~(unsigned)(K_INT | K_DEC | K_FLOAT)) == 0) {
		if (k & K_FLOAT)
			return c->sig <= 15 ? cl_type_make(CL_FLOAT64) : str;
		if (k & K_DEC) {
			int p = c->int_digits + c->scale;
			if (p > 38)
				return str;
			return cl_type_decimal(p <= 18 ? 18 : 38, c->scale);
		}
		if (!c->big_int)
			return cl_type_make(CL_INT64);
		return c->int_digits <= 38 ? cl_type_decimal(38, 0) : str;
	}
	if ((k & ~(unsigned)(K_DATE | K_TS)) == 0) {
		if (k == K_DATE)
			return cl_type_make(CL_DATE);
		bool nooff = c->ts_nooff || (k & K_DATE);
		if (c->ts_off && nooff)
			return str;
		if (c->ts_ns && c->ts_ns_bad)
			return str;
		return cl_type_timestamp(c->ts_ns ? CL_UNIT_NS : CL_UNIT_US, c->ts_off);
	}
	return str;
}
