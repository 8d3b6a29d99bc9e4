/* schema.c — logical types, their text form, and schemas. */
#include "changelake/schema.h"
#include "core/value_text.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cl_type_width(cl_type t)
{
	switch (t.id) {
	case CL_INT8: case CL_UINT8: return 1;
	case CL_INT16: case CL_UINT16: return 2;
	case CL_INT32: case CL_UINT32: case CL_FLOAT32: case CL_DATE: return 4;
	case CL_INT64: case CL_UINT64: case CL_FLOAT64: case CL_TIME:
	case CL_TIMESTAMP: return 8;
	case CL_DECIMAL: return 16;
	default: return 0;
	}
}

bool cl_type_equal(cl_type a, cl_type b)
{
	if (a.id != b.id)
		return false;
	switch (a.id) {
	case CL_DECIMAL: return a.precision == b.precision && a.scale == b.scale;
	case CL_TIME: return a.unit == b.unit;
	case CL_TIMESTAMP: return a.unit == b.unit && a.utc == b.utc;
	default: return true;
	}
}

static const char *unit_name(int u)
{
	return u == CL_UNIT_MS ? "ms" : u == CL_UNIT_NS ? "ns" : "us";
}

const char *cl_type_format(char *buf, size_t n, cl_type t)
{
	static const char *names[CL_TYPE_COUNT] = {
		"null", "bool", "int8", "int16", "int32", "int64", "uint8",
		"uint16", "uint32", "uint64", "float32", "float64", "decimal",
		"date", "time", "timestamp", "string", "binary"};
	if (t.id == CL_DECIMAL)
		snprintf(buf, n, "decimal(%d,%d)", t.precision, t.scale);
	else if (t.id == CL_TIME)
		snprintf(buf, n, "time(%s)", unit_name(t.unit));
	else if (t.id == CL_TIMESTAMP)
		snprintf(buf, n, "timestamp(%s%s)", unit_name(t.unit),
			 t.utc ? ",utc" : "");
	else if (t.id >= 0 && t.id < CL_TYPE_COUNT)
		snprintf(buf, n, "%s", names[t.id]);
	else
		snprintf(buf, n, "?");
	return buf;
}

static bool word_eq(const char *s, size_t n, const char *w)
{
	size_t m = strlen(w);
	if (n != m)
		return false;
	for (size_t i = 0; i < n; i++)
		if (tolower((unsigned char)s[i]) != w[i])
			return false;
	return true;
}

/* Split "a, b" arguments of a type; returns count or -1. */
static int split_args(const char *s, size_t n, const char *arg[3],
		      size_t argn[3])
{
	int k = 0;
	size_t i = 0;
	while (i <= n) {
		size_t j = i;
		while (j < n && s[j] != ',')
			j++;
		size_t a = i, b = j;
		while (a < b && isspace((unsigned char)s[a]))
			a++;
		while (b > a && isspace((unsigned char)s[b - 1]))
			b--;
		if (k == 3)
			return -1;
		arg[k] = s + a;
		argn[k] = b - a;
		k++;
		i = j + 1;
	}
	return k;
}

static int parse_unit(const char *s, size_t n, uint8_t *unit)
{
	if (word_eq(s, n, "ms") || word_eq(s, n, "millis"))
		*unit = CL_UNIT_MS;
	else if (word_eq(s, n, "us") || word_eq(s, n, "micros"))
		*unit = CL_UNIT_US;
	else if (word_eq(s, n, "ns") || word_eq(s, n, "nanos"))
		*unit = CL_UNIT_NS;
	else
		return -1;
	return 0;
}

static int parse_small_int(const char *s, size_t n, int *out)
{
	if (n == 0 || n > 3)
		return -1;
	int v = 0;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

int cl_type_parse(cl_type *out, const char *text, size_t len, cl_error *err)
{
	static const struct { const char *name; cl_type_id id; } simple[] = {
		{"bool", CL_BOOL}, {"boolean", CL_BOOL},
		{"int8", CL_INT8}, {"tinyint", CL_INT8},
		{"int16", CL_INT16}, {"smallint", CL_INT16},
		{"int32", CL_INT32}, {"int", CL_INT32}, {"integer", CL_INT32},
		{"int64", CL_INT64}, {"bigint", CL_INT64}, {"long", CL_INT64},
		{"uint8", CL_UINT8}, {"utinyint", CL_UINT8},
		{"uint16", CL_UINT16}, {"usmallint", CL_UINT16},
		{"uint32", CL_UINT32}, {"uinteger", CL_UINT32},
		{"uint64", CL_UINT64}, {"ubigint", CL_UINT64},
		{"float32", CL_FLOAT32}, {"float", CL_FLOAT32}, {"real", CL_FLOAT32},
		{"float64", CL_FLOAT64}, {"double", CL_FLOAT64},
		{"date", CL_DATE},
		{"string", CL_STRING}, {"varchar", CL_STRING}, {"text", CL_STRING},
		{"utf8", CL_STRING},
		{"binary", CL_BINARY}, {"bytes", CL_BINARY}, {"blob", CL_BINARY},
		{"bytea", CL_BINARY},
	};
	const char *s = text;
	size_t n = len;
	while (n && isspace((unsigned char)*s))
		s++, n--;
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	size_t base = 0;
	while (base < n && s[base] != '(')
		base++;
	const char *args = NULL;
	size_t argslen = 0;
	if (base < n) {
		if (s[n - 1] != ')')
			goto bad;
		args = s + base + 1;
		argslen = n - base - 2;
	}
	size_t bl = base;
	while (bl && isspace((unsigned char)s[bl - 1]))
		bl--;
	if (!args) {
		for (size_t i = 0; i < sizeof simple / sizeof simple[0]; i++)
			if (word_eq(s, bl, simple[i].name)) {
				*out = cl_type_make(simple[i].id);
				return 0;
			}
		if (word_eq(s, bl, "timestamp") || word_eq(s, bl, "datetime")) {
			*out = cl_type_timestamp(CL_UNIT_US, false);
			return 0;
		}
		if (word_eq(s, bl, "timestamptz")) {
			*out = cl_type_timestamp(CL_UNIT_US, true);
			return 0;
		}
		if (word_eq(s, bl, "time")) {
			*out = cl_type_time(CL_UNIT_US);
			return 0;
		}
		if (word_eq(s, bl, "decimal") || word_eq(s, bl, "numeric")) {
			*out = cl_type_decimal(38, 0);
			return 0;
		}
		goto bad;
	}
	const char *a[3];
	size_t an[3];
	int k = split_args(args, argslen, a, an);
	if (word_eq(s, bl, "decimal") || word_eq(s, bl, "numeric")) {
		int p, sc = 0;
		if (k < 1 || k > 2 || parse_small_int(a[0], an[0], &p) ||
		    (k == 2 && parse_small_int(a[1], an[1], &sc)))
			goto bad;
		if (p < 1 || p > 38 || sc > p)
			return cl_error_set(err, CL_EINVAL,
					    "decimal precision must be 1..38 and scale 0..precision: '%.*s'",
					    (int)len, text);
		*out = cl_type_decimal(p, sc);
		return 0;
	}
	if (word_eq(s, bl, "timestamp") || word_eq(s, bl, "time")) {
		bool ts = word_eq(s, bl, "timestamp");
		cl_type t = ts ? cl_type_timestamp(CL_UNIT_US, false)
			       : cl_type_time(CL_UNIT_US);
		if (k < 1 || k > 2 || parse_unit(a[0], an[0], &t.unit))
			goto bad;
		if (k == 2) {
			if (!ts || !word_eq(a[1], an[1], "utc"))
				goto bad;
			t.utc = true;
		}
		*out = t;
		return 0;
	}
bad:
	return cl_error_set(err, CL_EINVAL, "unknown type '%.*s'", (int)len,
			    text);
}

int cl_schema_create(cl_schema **out, cl_error *err)
{
	*out = cl_calloc(1, sizeof **out);
	if (!*out)
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	return 0;
}

void cl_schema_free(cl_schema *s)
{
	if (!s)
		return;
	for (int i = 0; i < s->nfields; i++)
		cl_free(s->fields[i].name);
	cl_free(s->fields);
	cl_free(s);
}

int cl_schema_add(cl_schema *s, const char *name, cl_type type, bool nullable,
		  cl_error *err)
{
	if (cl_schema_find(s, name) >= 0)
		return cl_error_set(err, CL_ESCHEMA, "duplicate column name '%s'",
				    name);
	if (s->nfields == s->cap) {
		int cap = s->cap ? s->cap * 2 : 8;
		cl_field *f = cl_realloc(s->fields, (size_t)cap * sizeof *f);
		if (!f)
			return cl_error_set(err, CL_ENOMEM, "out of memory");
		s->fields = f;
		s->cap = cap;
	}
	char *copy = cl_strdup(name);
	if (!copy)
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	s->fields[s->nfields++] = (cl_field){copy, type, nullable};
	return 0;
}

int cl_schema_copy(cl_schema **out, const cl_schema *s, cl_error *err)
{
	cl_schema *c;
	int rc = cl_schema_create(&c, err);
	if (rc)
		return rc;
	for (int i = 0; i < s->nfields; i++) {
		rc = cl_schema_add(c, s->fields[i].name, s->fields[i].type,
				   s->fields[i].nullable, err);
		if (rc) {
			cl_schema_free(c);
			return rc;
		}
	}
	*out = c;
	return 0;
}

int cl_schema_find(const cl_schema *s, const char *name)
{
	for (int i = 0; i < s->nfields; i++)
		if (strcmp(s->fields[i].name, name) == 0)
			return i;
	return -1;
}

bool cl_schema_equal(const cl_schema *a, const cl_schema *b)
{
	if (a->nfields != b->nfields)
		return false;
	for (int i = 0; i < a->nfields; i++)
		if (strcmp(a->fields[i].name, b->fields[i].name) ||
		    !cl_type_equal(a->fields[i].type, b->fields[i].type) ||
		    a->fields[i].nullable != b->fields[i].nullable)
			return false;
	return true;
}

/* Parse one "NAME TYPE [not null]" entry. */
static int parse_entry(cl_schema *s, const char *p, size_t n, int lineno,
		       cl_error *err)
{
	char name[1024];
	size_t i = 0, k = 0;
	while (i < n && isspace((unsigned char)p[i]))
		i++;
	if (i == n)
		return 0;
	if (p[i] == '"') {
		i++;
		for (;;) {
			if (i >= n)
				return cl_error_set(err, CL_EINVAL,
						    "schema line %d: unterminated quoted name",
						    lineno);
			if (p[i] == '"') {
				if (i + 1 < n && p[i + 1] == '"') {
					i++;
				} else {
					i++;
					break;
				}
			}
			if (k + 1 >= sizeof name)
				return cl_error_set(err, CL_EINVAL,
						    "schema line %d: name too long",
						    lineno);
			name[k++] = p[i++];
		}
	} else {
		while (i < n && !isspace((unsigned char)p[i])) {
			if (k + 1 >= sizeof name)
				return cl_error_set(err, CL_EINVAL,
						    "schema line %d: name too long",
						    lineno);
			name[k++] = p[i++];
		}
	}
	name[k] = 0;
	if (k == 0)
		return cl_error_set(err, CL_EINVAL, "schema line %d: empty column name",
				    lineno);
	if (!cl__utf8_valid((const uint8_t *)name, k))
		return cl_error_set(err, CL_EINVAL,
				    "schema line %d: column name is not valid UTF-8", lineno);
	const char *t = p + i;
	size_t tn = n - i;
	bool nullable = true;
	/* strip a trailing "not null" */
	size_t e = tn;
	while (e && isspace((unsigned char)t[e - 1]))
		e--;
	if (e >= 8 && word_eq(t + e - 4, 4, "null")) {
		size_t m = e - 4;
		while (m && isspace((unsigned char)t[m - 1]))
			m--;
		if (m >= 3 && word_eq(t + m - 3, 3, "not")) {
			nullable = false;
			e = m - 3;
		}
	}
	cl_type type;
	int rc = cl_type_parse(&type, t, e, err);
	if (rc)
		return cl_error_prefix(err, "schema line %d, column '%s': ",
				       lineno, name);
	return cl_schema_add(s, name, type, nullable, err);
}

int cl_schema_parse(cl_schema **out, const char *text, cl_error *err)
{
	cl_schema *s;
	int rc = cl_schema_create(&s, err);
	if (rc)
		return rc;
	const char *p = text;
	int lineno = 1;
	while (*p) {
		/* An entry ends at a newline or at a comma outside parentheses
		 * and quotes. */
		const char *q = p;
		int depth = 0;
		bool quoted = false;
		while (*q && *q != '\n') {
			if (*q == '"')
				quoted = !quoted;
			else if (!quoted && *q == '(')
				depth++;
			else if (!quoted && *q == ')')
				depth--;
			else if (!quoted && depth == 0 && *q == ',')
				break;
			q++;
		}
		const char *r = p;
		while (r < q && isspace((unsigned char)*r))
			r++;
		if (r < q && *r != '#') {
			rc = parse_entry(s, p, (size_t)(q - p), lineno, err);
			if (rc) {
				cl_schema_free(s);
				return rc;
			}
		}
		if (*q == '\n')
			lineno++;
		p = *q ? q + 1 : q;
	}
	if (s->nfields == 0) {
		cl_schema_free(s);
		return cl_error_set(err, CL_EINVAL, "schema has no columns");
	}
	*out = s;
	return 0;
}

int cl_schema_load(cl_schema **out, const char *path, cl_error *err)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return cl_error_set(err, CL_EIO, "%s: cannot open schema: %s", path,
				    strerror(errno));
	char *text = NULL;
	size_t len = 0, cap = 0;
	int rc = 0;
	for (;;) {
		if (len + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			if (cap > (16u << 20)) {
				rc = cl_error_set(err, CL_EINVAL,
						  "%s: schema file too large", path);
				goto done;
			}
			char *t = cl_realloc(text, cap);
			if (!t) {
				rc = cl_error_set(err, CL_ENOMEM, "out of memory");
				goto done;
			}
			text = t;
		}
		size_t got = fread(text + len, 1, 4096, f);
		len += got;
		if (got < 4096)
			break;
	}
	if (ferror(f)) {
		rc = cl_error_set(err, CL_EIO, "%s: read error", path);
		goto done;
	}
	text[len] = 0;
	if (strlen(text) != len) {
		rc = cl_error_set(err, CL_EINVAL, "%s: schema file contains a NUL byte",
				  path);
		goto done;
	}
	rc = cl_schema_parse(out, text, err);
	if (rc)
		cl_error_prefix(err, "%s: ", path);
done:
	cl_free(text);
	fclose(f);
	return rc;
}
