/* value_text.c — parse and format values as text; see value_text.h. */
#include "value_text.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool ieq(const char *s, size_t n, const char *w)
{
	size_t m = strlen(w);
	if (n != m)
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

int cl__parse_bool(const char *s, size_t n, bool *out)
{
	if (ieq(s, n, "true") || ieq(s, n, "t") || ieq(s, n, "yes") ||
	    ieq(s, n, "y") || (n == 1 && s[0] == '1')) {
		*out = true;
		return 0;
	}
	if (ieq(s, n, "false") || ieq(s, n, "f") || ieq(s, n, "no") ||
	    ieq(s, n, "n") || (n == 1 && s[0] == '0')) {
		*out = false;
		return 0;
	}
	return -1;
}

int cl__parse_uint64(const char *s, size_t n, uint64_t *out)
{
	size_t i = 0;
	if (i < n && s[i] == '+')
		i++;
	if (i == n)
		return -1;
	uint64_t v = 0;
	bool over = false;
	for (; i < n; i++) {
		if (!is_digit(s[i]))
			return -1;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			over = true;
		else
			v = v * 10 + d;
	}
	if (over)
		return -2;
	*out = v;
	return 0;
}

int cl__parse_int64(const char *s, size_t n, int64_t *out)
{
	bool neg = false;
	size_t i = 0;
	if (i < n && (s[i] == '-' || s[i] == '+')) {
		neg = s[i] == '-';
		i++;
	}
	if (i == n)
		return -1;
	uint64_t v = 0;
	bool over = false;
	for (; i < n; i++) {
		if (!is_digit(s[i]))
			return -1;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			over = true;
		else
			v = v * 10 + d;
	}
	if (over || v > (uint64_t)INT64_MAX + (neg ? 1u : 0u))
		return -2;
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return 0;
}

int cl__parse_double(const char *s, size_t n, double *out)
{
	if (n == 0 || n > 400)
		return -1;
	const char *p = s;
	size_t m = n;
	bool neg = false;
	if (*p == '-' || *p == '+') {
		neg = *p == '-';
		p++;
		m--;
	}
	if (ieq(p, m, "inf") || ieq(p, m, "infinity")) {
		*out = neg ? -INFINITY : INFINITY;
		return 0;
	}
	if (ieq(p, m, "nan")) {
		*out = NAN;
		return 0;
	}
	/* Validate the shape ourselves: strtod accepts hex, leading space... */
	size_t i = 0, digits = 0;
	while (i < m && is_digit(p[i]))
		i++, digits++;
	if (i < m && p[i] == '.') {
		i++;
		while (i < m && is_digit(p[i]))
			i++, digits++;
	}
	if (digits == 0)
		return -1;
	if (i < m && (p[i] == 'e' || p[i] == 'E')) {
		i++;
		if (i < m && (p[i] == '+' || p[i] == '-'))
			i++;
		size_t e = i;
		while (i < m && is_digit(p[i]))
			i++;
		if (i == e)
			return -1;
	}
	if (i != m)
		return -1;
	char tmp[402];
	memcpy(tmp, s, n);
	tmp[n] = 0;
	errno = 0;
	*out = strtod(tmp, NULL);
	return 0;
}

cl_i128 cl__i128_pow10(int k)
{
	cl_i128 v = 1;
	while (k-- > 0)
		v *= 10;
	return v;
}

int cl__parse_decimal(const char *s, size_t n, int precision, int scale,
		      cl_i128 *out)
{
	size_t i = 0;
	bool neg = false;
	if (i < n && (s[i] == '-' || s[i] == '+')) {
		neg = s[i] == '-';
		i++;
	}
	cl_i128 v = 0;
	int intdigits = 0, frac = 0;
	bool any = false, lost = false, over = false;
	/* Digits stop accumulating once the integer part has more than
	 * precision - scale digits (out of range): v then never exceeds
	 * `precision` <= 38 digits, so it cannot overflow. */
	while (i < n && is_digit(s[i])) {
		any = true;
		if (v != 0 || s[i] != '0')
			intdigits++;
		if (intdigits > precision - scale)
			over = true;
		else
			v = v * 10 + (s[i] - '0');
		i++;
	}
	if (i < n && s[i] == '.') {
		i++;
		while (i < n && is_digit(s[i])) {
			any = true;
			if (frac < scale) {
				if (!over)
					v = v * 10 + (s[i] - '0');
				frac++;
			} else if (s[i] != '0') {
				lost = true;
			}
			i++;
		}
	}
	if (!any || i != n)
		return -1;
	if (lost || over)
		return -2;
	v *= cl__i128_pow10(scale - frac);
	*out = neg ? -v : v;
	return 0;
}

int64_t cl__days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	const int64_t era = (y >= 0 ? y : y - 399) / 400;
	const unsigned yoe = (unsigned)(y - era * 400);
	const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

void cl__civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	const unsigned doe = (unsigned)(z - era * 146097);
	const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	const int64_t yy = (int64_t)yoe + era * 400;
	const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	const unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = yy + (*m <= 2);
}

int64_t cl__unit_per_second(int unit)
{
	return unit == CL_UNIT_MS ? 1000 : unit == CL_UNIT_NS ? 1000000000 : 1000000;
}

static int digits_n(const char *s, size_t n, size_t *i, int count, int *v)
{
	int r = 0;
	for (int k = 0; k < count; k++) {
		if (*i >= n || !is_digit(s[*i]))
			return -1;
		r = r * 10 + (s[(*i)++] - '0');
	}
	*v = r;
	return 0;
}

static bool leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* YYYY-MM-DD (4+ digit year, optional leading '-'); sets *i past it. */
static int parse_date_at(const char *s, size_t n, size_t *i, int64_t *days)
{
	bool neg = false;
	if (*i < n && s[*i] == '-') {
		neg = true;
		(*i)++;
	}
	int64_t y = 0;
	int yd = 0;
	while (*i < n && is_digit(s[*i]) && yd < 9) {
		y = y * 10 + (s[(*i)++] - '0');
		yd++;
	}
	if (yd < 4)
		return -1;
	if (neg)
		y = -y;
	int mo, d;
	if (*i >= n || s[(*i)++] != '-' || digits_n(s, n, i, 2, &mo) ||
	    *i >= n || s[(*i)++] != '-' || digits_n(s, n, i, 2, &d))
		return -1;
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (mo < 1 || mo > 12 || d < 1)
		return -2;
	int maxd = mdays[mo - 1] + (mo == 2 && leap(y));
	if (d > maxd)
		return -2;
	*days = cl__days_from_civil(y, (unsigned)mo, (unsigned)d);
	return 0;
}

int cl__parse_date(const char *s, size_t n, int32_t *out)
{
	size_t i = 0;
	int64_t days;
	int rc = parse_date_at(s, n, &i, &days);
	if (rc)
		return rc;
	if (i != n)
		return -1;
	if (days < INT32_MIN || days > INT32_MAX)
		return -2;
	*out = (int32_t)days;
	return 0;
}

/* HH:MM[:SS[.f+]] → value in unit; sets *i past it. */
static int parse_time_at(const char *s, size_t n, size_t *i, int unit,
			 int64_t *out)
{
	int h, mi, se = 0;
	if (digits_n(s, n, i, 2, &h) || *i >= n || s[(*i)++] != ':' ||
	    digits_n(s, n, i, 2, &mi))
		return -1;
	int64_t frac = 0;
	if (*i < n && s[*i] == ':') {
		(*i)++;
		if (digits_n(s, n, i, 2, &se))
			return -1;
		if (*i < n && s[*i] == '.') {
			(*i)++;
			int64_t per = cl__unit_per_second(unit);
			int64_t scale = per / 10;
			size_t start = *i;
			while (*i < n && is_digit(s[*i])) {
				int dd = s[*i] - '0';
				if (scale > 0)
					frac += dd * scale;
				else if (dd != 0)
					return -2; /* precision would be lost */
				scale /= 10;
				(*i)++;
			}
			if (*i == start)
				return -1;
		}
	}
	if (h > 24 || mi > 59 || se > 60 || (h == 24 && (mi || se || frac)))
		return -2;
	if (se == 60) /* leap second: clamp like most engines */
		se = 59;
	int64_t per = cl__unit_per_second(unit);
	*out = ((int64_t)h * 3600 + mi * 60 + se) * per + frac;
	return 0;
}

int cl__parse_time(const char *s, size_t n, cl_time_unit unit, int64_t *out)
{
	size_t i = 0;
	int rc = parse_time_at(s, n, &i, unit, out);
	if (rc)
		return rc;
	return i == n ? 0 : -1;
}

int cl__parse_timestamp(const char *s, size_t n, cl_time_unit unit,
			int64_t *out, bool *had_offset)
{
	size_t i = 0;
	int64_t days, tod = 0;
	int rc = parse_date_at(s, n, &i, &days);
	if (rc)
		return rc;
	if (i < n && (s[i] == 'T' || s[i] == ' ')) {
		i++;
		rc = parse_time_at(s, n, &i, unit, &tod);
		if (rc)
			return rc;
	}
	int64_t offset_s = 0;
	bool off = false;
	if (i < n && s[i] == ' ')
		i++; /* "2020-01-01 10:00:00 +02:00" and "... UTC" */
	if (i < n && (s[i] == 'Z' || s[i] == 'z') && i + 1 == n) {
		off = true;
		i++;
	} else if (n - i == 3 && ieq(s + i, 3, "utc")) {
		off = true;
		i += 3;
	} else if (i < n && (s[i] == '+' || s[i] == '-')) {
		int sign = s[i] == '-' ? -1 : 1;
		i++;
		int oh, om = 0;
		if (digits_n(s, n, &i, 2, &oh))
			return -1;
		if (i < n && s[i] == ':')
			i++;
		if (i < n && digits_n(s, n, &i, 2, &om))
			return -1;
		if (oh > 18 || om > 59)
			return -2;
		offset_s = sign * (oh * 3600 + om * 60);
		off = true;
	}
	if (i != n)
		return -1;
	int64_t per = cl__unit_per_second(unit);
	/* Exactly the instants an int64 holds (days * 86400 fits: at most 9
	 * year digits), so every value formats to a text that reads back —
	 * the first and last day of the range included. */
	cl_i128 v = (cl_i128)(days * 86400 - offset_s) * per + tod;
	if (v < INT64_MIN || v > INT64_MAX)
		return -2;
	*out = (int64_t)v;
	if (had_offset)
		*had_offset = off;
	return 0;
}

static int type_error(cl_error *err, const cl_column *c, const char *s,
		      size_t n, bool range)
{
	char tn[64];
	cl_type_format(tn, sizeof tn, c->type);
	int show = n > 60 ? 60 : (int)n;
	return cl_error_set(err, CL_ETYPE, "value '%.*s%s' %s %s", show, s,
			    n > 60 ? "..." : "",
			    range ? "is out of range for" : "is not a valid", tn);
}


int cl__column_append_text(cl_column *c, const char *s, size_t n,
			   cl_error *err)
{
	int rc;
	switch (c->type.id) {
	case CL_BOOL: {
		bool b;
		if (cl__parse_bool(s, n, &b))
			return type_error(err, c, s, n, false);
		return cl_column_append_bool(c, b, err);
	}
	case CL_INT8: case CL_INT16: case CL_INT32: case CL_INT64: {
		int64_t v;
		rc = cl__parse_int64(s, n, &v);
		if (rc == 0) {
			int w = cl_type_width(c->type);
			int64_t lo = w == 8 ? INT64_MIN : -((int64_t)1 << (8 * w - 1));
			int64_t hi = w == 8 ? INT64_MAX : ((int64_t)1 << (8 * w - 1)) - 1;
			if (v < lo || v > hi)
				rc = -2;
		}
		if (rc)
			return type_error(err, c, s, n, rc == -2);
		return cl_column_append_i64(c, v, err);
	}
	case CL_UINT8: case CL_UINT16: case CL_UINT32: case CL_UINT64: {
		uint64_t v;
		rc = cl__parse_uint64(s, n, &v);
		int w = cl_type_width(c->type);
		if (rc == 0 && w < 8 && v >= ((uint64_t)1 << (8 * w)))
			rc = -2;
		if (rc)
			return type_error(err, c, s, n, rc == -2);
		return cl_column_append_i64(c, (int64_t)v, err);
	}
	case CL_FLOAT32: case CL_FLOAT64: {
		double d;
		if (cl__parse_double(s, n, &d))
			return type_error(err, c, s, n, false);
		return cl_column_append_f64(c, d, err);
	}
	case CL_DECIMAL: {
		cl_i128 v;
		rc = cl__parse_decimal(s, n, c->type.precision, c->type.scale, &v);
		if (rc)
			return type_error(err, c, s, n, rc == -2);
		return cl_column_append_fixed(c, &v, err);
	}
	case CL_DATE: {
		int32_t d;
		rc = cl__parse_date(s, n, &d);
		if (rc)
			return type_error(err, c, s, n, rc == -2);
		return cl_column_append_i64(c, d, err);
	}
	case CL_TIME: {
		int64_t t;
		rc = cl__parse_time(s, n, c->type.unit, &t);
		if (rc)
			return type_error(err, c, s, n, rc == -2);
		return cl_column_append_i64(c, t, err);
	}
	case CL_TIMESTAMP: {
		int64_t t;
		rc = cl__parse_timestamp(s, n, c->type.unit, &t, NULL);
		if (rc)
			return type_error(err, c, s, n, rc == -2);
		return cl_column_append_i64(c, t, err);
	}
	case CL_STRING: {
		size_t bad = cl__utf8_check((const uint8_t *)s, n);
		if (bad != n)
			return cl_error_set(err, CL_ETYPE,
					    "invalid UTF-8 at byte %zu of the value", bad);
		return cl_column_append_bytes(c, s, n, err);
	}
	case CL_BINARY: {
		if (n >= 2 && s[0] == '\\' && (s[1] == 'x' || s[1] == 'X')) {
			if (n % 2)
				return type_error(err, c, s, n, false);
			size_t m = (n - 2) / 2;
			rc = cl_column_reserve(c, 1, err);
			if (!rc)
				rc = cl_column_reserve_data(c, (int64_t)m, err);
			if (rc)
				return rc;
			uint8_t *dst = m ? c->data + c->offsets[c->length] : NULL;
			for (size_t k = 0; k < m; k++) {
				int hi = cl__hex_digit(s[2 + 2 * k]), lo = cl__hex_digit(s[3 + 2 * k]);
				if (hi < 0 || lo < 0)
					return type_error(err, c, s, n, false);
				dst[k] = (uint8_t)(hi << 4 | lo);
			}
			c->offsets[c->length + 1] = c->offsets[c->length] + (int64_t)m;
			c->length++;
			return 0;
		}
		return cl_column_append_bytes(c, s, n, err);
	}
	default:
		return cl_error_set(err, CL_EINTERNAL, "cannot parse text into type %d",
				    c->type.id);
	}
}

int cl__i128_format(char *buf, size_t n, cl_i128 v, int scale)
{
	char tmp[64];
	int k = 0;
	bool neg = v < 0;
	unsigned __int128 u = neg ? (unsigned __int128)0 - (unsigned __int128)v
				  : (unsigned __int128)v;
	do {
		tmp[k++] = (char)('0' + (int)(u % 10));
		u /= 10;
	} while (u);
	while (k <= scale)
		tmp[k++] = '0';
	size_t o = 0;
	if (neg && o + 1 < n)
		buf[o++] = '-';
	for (int i = k - 1; i >= 0; i--) {
		if (i == scale - 1 && scale > 0 && o + 1 < n)
			buf[o++] = '.';
		if (o + 1 < n)
			buf[o++] = tmp[i];
	}
	buf[o] = 0;
	return (int)o;
}

static int format_double(char *buf, size_t n, double d, bool single)
{
	if (isnan(d))
		return snprintf(buf, n, "nan");
	if (isinf(d))
		return snprintf(buf, n, d < 0 ? "-inf" : "inf");
	for (int prec = single ? 6 : 15; prec <= 17; prec++) {
		int len = snprintf(buf, n, "%.*g", prec, d);
		if (single) {
			if ((float)strtod(buf, NULL) == (float)d)
				return len;
		} else if (strtod(buf, NULL) == d) {
			return len;
		}
	}
	return snprintf(buf, n, "%.17g", d);
}

static int format_tod(char *buf, size_t n, int64_t v, int unit)
{
	int64_t per = cl__unit_per_second(unit);
	int64_t secs = v / per, frac = v % per;
	int len = snprintf(buf, n, "%02d:%02d:%02d", (int)(secs / 3600),
			   (int)(secs / 60 % 60), (int)(secs % 60));
	if (frac) {
		int digits = unit == CL_UNIT_MS ? 3 : unit == CL_UNIT_NS ? 9 : 6;
		char f[24];
		snprintf(f, sizeof f, "%0*lld", digits, (long long)frac);
		int e = digits;
		while (e > 0 && f[e - 1] == '0')
			e--;
		len += snprintf(buf + len, n - (size_t)len, ".%.*s", e, f);
	}
	return len;
}

static int format_date(char *buf, size_t n, int64_t days)
{
	int64_t y;
	unsigned m, d;
	cl__civil_from_days(days, &y, &m, &d);
	if (y < 0)
		return snprintf(buf, n, "-%04lld-%02u-%02u", (long long)-y, m, d);
	return snprintf(buf, n, "%04lld-%02u-%02u", (long long)y, m, d);
}

int cl__value_format(cl_buf *out, const cl_column *c, int64_t row)
{
	char tmp[128];
	int len = 0;
	switch (c->type.id) {
	case CL_BOOL:
		return cl_buf_puts(out, cl_column_get_bool(c, row) ? "true" : "false");
	case CL_INT8: case CL_INT16: case CL_INT32: case CL_INT64:
	case CL_UINT8: case CL_UINT16: case CL_UINT32:
		len = snprintf(tmp, sizeof tmp, "%lld",
			       (long long)cl_column_get_i64(c, row));
		break;
	case CL_UINT64:
		len = snprintf(tmp, sizeof tmp, "%llu",
			       (unsigned long long)((const uint64_t *)c->values)[row]);
		break;
	case CL_FLOAT32:
		len = format_double(tmp, sizeof tmp, ((const float *)c->values)[row], true);
		break;
	case CL_FLOAT64:
		len = format_double(tmp, sizeof tmp, ((const double *)c->values)[row], false);
		break;
	case CL_DECIMAL: {
		cl_i128 v;
		memcpy(&v, c->values + (size_t)row * 16, 16);
		len = cl__i128_format(tmp, sizeof tmp, v, c->type.scale);
		break;
	}
	case CL_DATE:
		len = format_date(tmp, sizeof tmp, ((const int32_t *)c->values)[row]);
		break;
	case CL_TIME:
		len = format_tod(tmp, sizeof tmp, ((const int64_t *)c->values)[row],
				 c->type.unit);
		break;
	case CL_TIMESTAMP: {
		int64_t v = ((const int64_t *)c->values)[row];
		int64_t per = cl__unit_per_second(c->type.unit) * 86400;
		int64_t days = v / per, tod = v % per;
		if (tod < 0) {
			tod += per;
			days--;
		}
		len = format_date(tmp, sizeof tmp, days);
		tmp[len++] = ' ';
		len += format_tod(tmp + len, sizeof tmp - (size_t)len, tod, c->type.unit);
		if (c->type.utc)
			len += snprintf(tmp + len, sizeof tmp - (size_t)len, "+00");
		break;
	}
	case CL_STRING: {
		size_t n;
		const uint8_t *p = cl_column_get_bytes(c, row, &n);
		return cl_buf_append(out, p, n);
	}
	case CL_BINARY: {
		size_t n;
		const uint8_t *p = cl_column_get_bytes(c, row, &n);
		static const char hx[] = "0123456789abcdef";
		if (cl_buf_reserve(out, 2 + 2 * n))
			return CL_ENOMEM;
		out->data[out->len++] = '\\';
		out->data[out->len++] = 'x';
		for (size_t i = 0; i < n; i++) {
			out->data[out->len++] = (uint8_t)hx[p[i] >> 4];
			out->data[out->len++] = (uint8_t)hx[p[i] & 15];
		}
		out->data[out->len] = 0;
		return 0;
	}
	default:
		return cl_buf_puts(out, "?");
	}
	return cl_buf_append(out, tmp, (size_t)len);
}

size_t cl__utf8_check(const uint8_t *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		/* fast path: 8 ASCII bytes at a time */
		if (i + 8 <= n) {
			uint64_t w;
			memcpy(&w, s + i, 8);
			if (!(w & 0x8080808080808080ull)) {
				i += 8;
				continue;
			}
		}
		uint8_t c = s[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t len;
		uint32_t cp;
		if (c >= 0xc2 && c <= 0xdf) {
			len = 2;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			len = 3;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			len = 4;
			cp = c & 0x07;
		} else {
			return i;
		}
		if (i + len > n)
			return i;
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return i;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
			return i;
		i += len;
	}
	return n;
}

bool cl__utf8_valid(const uint8_t *s, size_t n)
{
	return cl__utf8_check(s, n) == n;
}

int cl_value_text(const cl_column *c, int64_t row, char **text, size_t *len,
		  cl_error *err)
{
	*text = NULL;
	if (len)
		*len = 0;
	if (cl_column_is_null(c, row))
		return 0;
	cl_buf b = {0};
	if (cl_buf_reserve(&b, 16) || cl__value_format(&b, c, row)) {
		cl_buf_release(&b);
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	}
	*text = (char *)cl_buf_detach(&b, len);
	return 0;
}

int cl__pct_decode(cl_buf *out, const char *s, size_t n, unsigned flags)
{
	cl_buf_clear(out);
	if (cl_buf_reserve(out, n + 1))
		return CL_ENOMEM;
	char *o = (char *)out->data;
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (ch == 0 && !(flags & CL_PCT_NUL))
			return CL_PCT_ENUL;
		if (ch == '%') {
			int hi = i + 2 < n ? cl__hex_digit(s[i + 1]) : -1;
			int lo = hi >= 0 ? cl__hex_digit(s[i + 2]) : -1;
			if (lo < 0) {
				if (!(flags & CL_PCT_LENIENT))
					return CL_PCT_EBAD;
			} else {
				ch = (char)(hi << 4 | lo);
				if (ch == 0 && !(flags & CL_PCT_NUL))
					return CL_PCT_ENUL;
				i += 2;
			}
		}
		o[k++] = ch;
	}
	o[k] = 0;
	out->len = k;
	return 0;
}
