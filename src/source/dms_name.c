/*
 * dms_name.c — what a DMS file name says, and the total order of files.
 *
 * The parser takes hostile input (any bytes): it accepts exactly
 *
 *   path      = *(folder "/") base
 *   folder    = 1*char, not starting with '.' or '_'
 *   base      = load / cdc, followed by ".parquet" / ".csv" / ".csv.gz"
 *               (extension compared without case)
 *   load      = ["SEGMENT" 1*18DIGIT "_"] "LOAD" 1*16HEXDIG
 *   cdc       = YYYYMMDD "-" HHMMSS *12DIGIT   (a real calendar date,
 *               years 1970..9999, HH < 24, MM < 60, SS < 60)
 *
 * and classifies everything else as CL_DMS_OTHER. No allocation; the only
 * state is the output struct.
 */
#include "changelake/dms.h"
#include "core/value_text.h"

#include <string.h>
#include <strings.h>

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}


/* n digits at s as a number; -1 when one is not a digit. n <= 18. */
static int64_t digits(const char *s, size_t n)
{
	int64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

static bool ends_with_ci(const char *s, size_t n, const char *suffix, size_t m)
{
	return n >= m && strncasecmp(s + n - m, suffix, m) == 0;
}

static bool parse_load(cl_dms_name *out, const char *s, size_t n)
{
	uint64_t segment = 0;
	if (n >= 7 && memcmp(s, "SEGMENT", 7) == 0) {
		size_t i = 7, start = 7;
		while (i < n && is_digit(s[i]) && i - start < 18)
			i++;
		if (i == start || i >= n || s[i] != '_')
			return false;
		segment = (uint64_t)digits(s + start, i - start);
		s += i + 1;
		n -= i + 1;
	}
	if (n < 5 || memcmp(s, "LOAD", 4) != 0 || n - 4 > 16)
		return false;
	uint64_t counter = 0;
	for (size_t i = 4; i < n; i++) {
		int h = cl__hex_digit(s[i]);
		if (h < 0)
			return false;
		counter = counter << 4 | (uint64_t)h;
	}
	out->kind = CL_DMS_LOAD;
	out->segment = segment;
	out->counter = counter;
	return true;
}

static bool parse_cdc(cl_dms_name *out, const char *s, size_t n)
{
	if (n < 15 || n > 15 + 12 || s[8] != '-')
		return false;
	int64_t ymd = digits(s, 8), hms = digits(s + 9, 6);
	if (ymd < 0 || hms < 0)
		return false;
	int64_t y = ymd / 10000, mo = ymd / 100 % 100, d = ymd % 100;
	int64_t hh = hms / 10000, mi = hms / 100 % 100, ss = hms % 100;
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1])
		return false;
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (mo == 2 && d == 29 && !leap)
		return false;
	if (hh > 23 || mi > 59 || ss > 59)
		return false;
	/* The fraction: up to 12 digits, read as a decimal fraction of a
	   second, so "12" means .12 s, not 12 ms. */
	char frac[12];
	size_t nf = n - 15;
	memset(frac, '0', sizeof frac);
	memcpy(frac, s + 15, nf);
	int64_t us = digits(frac, 6), sub = digits(frac + 6, 6);
	if (us < 0 || sub < 0)
		return false;
	int64_t days = cl__days_from_civil(y, (unsigned)mo, (unsigned)d);
	out->kind = CL_DMS_CDC;
	out->time_us = (days * 86400 + hh * 3600 + mi * 60 + ss) * 1000000 + us;
	out->time_sub = (int32_t)sub;
	return true;
}

void cl_dms_name_parse(cl_dms_name *out, const char *relpath)
{
	memset(out, 0, sizeof *out);
	out->kind = CL_DMS_OTHER;
	if (!relpath || !*relpath)
		return;
	/* Every component must be non-empty and not hidden. */
	const char *base = relpath;
	for (const char *p = relpath;; p++) {
		if (*p == '/' || *p == 0) {
			if (p == base || *base == '.' || *base == '_')
				return;
			if (*p == 0)
				break;
			base = p + 1;
		}
	}
	size_t dir_len = base > relpath ? (size_t)(base - relpath - 1) : 0;
	size_t n = strlen(base);
	cl_format format;
	bool gzip = false;
	if (ends_with_ci(base, n, ".csv.gz", 7)) {
		format = CL_FORMAT_CSV;
		gzip = true;
		n -= 7;
	} else if (ends_with_ci(base, n, ".csv", 4)) {
		format = CL_FORMAT_CSV;
		n -= 4;
	} else if (ends_with_ci(base, n, ".parquet", 8)) {
		format = CL_FORMAT_PARQUET;
		n -= 8;
	} else {
		return;
	}
	cl_dms_name name;
	memset(&name, 0, sizeof name);
	if (!parse_load(&name, base, n) && !parse_cdc(&name, base, n))
		return;
	name.format = format;
	name.gzip = gzip;
	name.dir_len = dir_len;
	*out = name;
}

static int cmp_u64(uint64_t a, uint64_t b)
{
	return a < b ? -1 : a > b;
}

static int cmp_i64(int64_t a, int64_t b)
{
	return a < b ? -1 : a > b;
}

int cl_dms_file_compare(const cl_dms_file *a, const cl_dms_file *b)
{
	const cl_dms_name *x = &a->name, *y = &b->name;
	int c;
	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	if (x->kind == CL_DMS_LOAD) {
		size_t n = x->dir_len < y->dir_len ? x->dir_len : y->dir_len;
		c = memcmp(a->path, b->path, n);
		if (!c)
			c = cmp_u64(x->dir_len, y->dir_len);
		if (!c)
			c = cmp_u64(x->segment, y->segment);
		if (!c)
			c = cmp_u64(x->counter, y->counter);
	} else {
		c = cmp_i64(x->time_us, y->time_us);
		if (!c)
			c = cmp_i64(x->time_sub, y->time_sub);
	}
	if (!c)
		c = strcmp(a->path, b->path);
	return c;
}
