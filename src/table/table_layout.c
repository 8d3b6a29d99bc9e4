/*
 * table_layout.c — partition folders, transforms, buckets and file names;
 * see layout.h for the rules and why they are safe.
 */
#include "layout.h"
#include "table_data.h"
#include "core/value_text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const xf_names[] = {"identity", "year", "month", "day", "hour"};

const char *cl__transform_name(cl__transform xf)
{
	return xf_names[xf];
}

cl__transform cl__transform_from_name(const char *name)
{
	for (int i = 1; i < 5; i++)
		if (!strcmp(name, xf_names[i]))
			return (cl__transform)i;
	return CL__XF_IDENTITY;
}

int cl__layout_parse_partition(const char *spec, char **source, cl__transform *xf,
			       cl_error *err)
{
	*source = NULL;
	*xf = CL__XF_IDENTITY;
	const char *colon = strrchr(spec, ':');
	size_t n = strlen(spec);
	if (colon) {
		cl__transform t = cl__transform_from_name(colon + 1);
		if (t == CL__XF_IDENTITY)
			return cl_error_set(err, CL_EINVAL,
					    "partition '%s': unknown transform '%s' "
					    "(year, month, day, hour)", spec, colon + 1);
		*xf = t;
		n = (size_t)(colon - spec);
	}
	if (n == 0)
		return cl_error_set(err, CL_EINVAL, "partition '%s': empty column name", spec);
	*source = cl_strndup(spec, n);
	return *source ? 0 : cl_error_set(err, CL_ENOMEM, "out of memory");
}

cl_type cl__transform_type(cl__transform xf)
{
	switch (xf) {
	case CL__XF_YEAR: return cl_type_make(CL_INT32);
	case CL__XF_DAY: return cl_type_make(CL_DATE);
	default: return cl_type_make(CL_STRING);
	}
}

bool cl__transform_applies(cl__transform xf, cl_type t)
{
	if (xf == CL__XF_IDENTITY)
		return true;
	if (t.id == CL_TIMESTAMP)
		return true;
	return t.id == CL_DATE && xf != CL__XF_HOUR;
}

static bool hive_unsafe(unsigned char c)
{
	return c < 0x20 || c == 0x7f || strchr("\"#%'*/:=?\\{[]^ <>|", c) != NULL;
}

int cl__layout_escape(cl_buf *out, const char *value)
{
	static const char hex[] = "0123456789ABCDEF";
	if (!value || !*value)
		return cl_buf_puts(out, CL__HIVE_NULL);
	for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
		int rc;
		/* A leading '.' or '_' would make a hidden folder or file. */
		if (hive_unsafe(*p) || (p == (const unsigned char *)value && (*p == '.' || *p == '_'))) {
			char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
			rc = cl_buf_append(out, e, 3);
		} else {
			rc = cl_buf_putc(out, (char)*p);
		}
		if (rc)
			return rc;
	}
	return 0;
}

int cl__layout_partition_dir(cl_buf *out, const cl_table_kv *kv, int n)
{
	for (int i = 0; i < n; i++) {
		int rc = cl__layout_escape(out, kv[i].key);
		rc = rc ? rc : cl_buf_putc(out, '=');
		/* The value part may start with '.' (the folder name does not). */
		if (!rc && kv[i].value && (kv[i].value[0] == '.' || kv[i].value[0] == '_')) {
			rc = cl_buf_putc(out, kv[i].value[0]);
			rc = rc ? rc : (kv[i].value[1] ? cl__layout_escape(out, kv[i].value + 1) : 0);
		} else if (!rc) {
			rc = cl__layout_escape(out, kv[i].value);
		}
		rc = rc ? rc : cl_buf_putc(out, '/');
		if (rc)
			return rc;
	}
	return 0;
}

/* Civil fields of a timestamp value in microseconds. */
static void ts_fields(int64_t us, int64_t *y, unsigned *mo, unsigned *d, int *h,
		      int *mi, int *s, int *frac)
{
	int64_t days = us >= 0 ? us / 86400000000LL : -((-us + 86399999999LL) / 86400000000LL);
	int64_t rem = us - days * 86400000000LL;
	cl__civil_from_days(days, y, mo, d);
	*h = (int)(rem / 3600000000LL);
	*mi = (int)(rem / 60000000 % 60);
	*s = (int)(rem / 1000000 % 60);
	*frac = (int)(rem % 1000000);
}

int cl__layout_partition_text(cl_buf *out, bool *is_null, const cl_column *c,
			      int64_t row, cl__transform xf, cl_error *err)
{
	*is_null = cl_column_is_null(c, row);
	if (*is_null)
		return 0;
	int rc = 0;
	if (xf != CL__XF_IDENTITY || c->type.id == CL_TIMESTAMP) {
		int64_t us;
		if (c->type.id == CL_DATE)
			us = (int64_t)cl_column_get_i64(c, row) * 86400000000LL;
		else if (c->type.id == CL_TIMESTAMP)
			us = cl__ts_to_us(cl_column_get_i64(c, row), c->type.unit);
		else
			return cl_error_set(err, CL_ETYPE, "transform %s needs a date or timestamp",
					    cl__transform_name(xf));
		int64_t y;
		unsigned mo, d;
		int h, mi, s, frac;
		ts_fields(us, &y, &mo, &d, &h, &mi, &s, &frac);
		switch (xf) {
		case CL__XF_YEAR: rc = cl_buf_printf(out, "%lld", (long long)y); break;
		case CL__XF_MONTH: rc = cl_buf_printf(out, "%04lld-%02u", (long long)y, mo); break;
		case CL__XF_DAY: rc = cl_buf_printf(out, "%04lld-%02u-%02u", (long long)y, mo, d); break;
		case CL__XF_HOUR:
			rc = cl_buf_printf(out, "%04lld-%02u-%02u-%02d", (long long)y, mo, d, h);
			break;
		default:
			if (c->type.utc) /* ISO 8601 in UTC, as the protocol recommends */
				rc = cl_buf_printf(out, "%04lld-%02u-%02uT%02d:%02d:%02d.%06dZ",
						   (long long)y, mo, d, h, mi, s, frac);
			else {
				rc = cl_buf_printf(out, "%04lld-%02u-%02u %02d:%02d:%02d",
						   (long long)y, mo, d, h, mi, s);
				if (!rc && frac)
					rc = cl_buf_printf(out, ".%06d", frac);
			}
			break;
		}
	} else {
		switch (c->type.id) {
		case CL_BINARY:
			return cl_error_set(err, CL_EUNSUPPORTED,
					    "binary partition columns are not supported");
		case CL_FLOAT32:
		case CL_FLOAT64:
		case CL_BOOL:
		default:
			rc = cl__value_format(out, c, row);
			break;
		}
	}
	return rc ? cl_error_set(err, CL_ENOMEM, "out of memory") : 0;
}

int cl__layout_file_key(cl_buf *out, const char *dir, int seq, const char *uuid,
			int bucket, const char *codec_ext)
{
	int rc = cl_buf_puts(out, dir);
	rc = rc ? rc : cl_buf_printf(out, "part-%05d-%s", seq, uuid);
	if (!rc && bucket >= 0)
		rc = cl_buf_printf(out, "_%05d", bucket);
	rc = rc ? rc : cl_buf_printf(out, ".c000%s%s.parquet", codec_ext && *codec_ext ? "." : "",
				     codec_ext ? codec_ext : "");
	return rc;
}

int cl__layout_bucket_of_key(const char *key)
{
	const char *name = strrchr(key, '/');
	name = name ? name + 1 : key;
	const char *c = strstr(name, ".c000");
	if (!c || c - name < 6 || c[-6] != '_')
		return -1;
	int b = 0;
	for (const char *p = c - 5; p < c; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		b = b * 10 + (*p - '0');
	}
	return b;
}

int cl__layout_scope(cl_buf *out, const char *dir, int bucket)
{
	int rc = cl_buf_puts(out, dir);
	rc = rc ? rc : cl_buf_putc(out, '#');
	if (!rc && bucket >= 0)
		rc = cl_buf_printf(out, "%d", bucket);
	return rc;
}

int cl__layout_scope_of_key(cl_buf *out, const char *key)
{
	const char *slash = strrchr(key, '/');
	int rc = slash ? cl_buf_append(out, key, (size_t)(slash - key) + 1) : 0;
	rc = rc ? rc : cl_buf_putc(out, '#');
	int b = cl__layout_bucket_of_key(key);
	if (!rc && b >= 0)
		rc = cl_buf_printf(out, "%d", b);
	return rc;
}
