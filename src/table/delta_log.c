/*
 * delta_log.c — the text forms of the Delta log: log file names, data file
 * paths as RFC 2396 URIs, and the table schema as Delta's JSON schema string.
 *
 * Paths: a log path is a URI; relative ones are keys under the table root
 * with reserved characters percent-encoded. changelake writes every byte
 * outside [A-Za-z0-9-_.~/=] as %XX, so a partition folder "p=a%3Ab" (Hive
 * escaping of "a:b") is logged as "p=a%253Ab". Decoding accepts any valid
 * percent-encoding and absolute file: URIs that point under the table root.
 */
#include "delta.h"
#include "core/value_text.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cl__delta_commit_key(char *buf, size_t n, int64_t version)
{
	snprintf(buf, n, CL_DELTA_LOG_DIR "%020lld.json", (long long)version);
}

static bool all_digits(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static int64_t parse_digits(const char *s, size_t n)
{
	int64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (v > (INT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

cl__log_kind cl__delta_log_classify(const char *key, int64_t *version, int *part,
				    int *nparts)
{
	size_t dl = strlen(CL_DELTA_LOG_DIR);
	if (strncmp(key, CL_DELTA_LOG_DIR, dl) != 0)
		return CL__LOG_OTHER;
	const char *name = key + dl;
	if (strchr(name, '/'))
		return CL__LOG_OTHER; /* _delta_log/_commits/... and the like */
	if (strlen(name) < 21 || !all_digits(name, 20) || name[20] != '.')
		return CL__LOG_OTHER;
	*version = parse_digits(name, 20);
	if (*version < 0)
		return CL__LOG_OTHER;
	const char *rest = name + 21;
	if (!strcmp(rest, "json"))
		return CL__LOG_COMMIT;
	if (!strcmp(rest, "checkpoint.parquet"))
		return CL__LOG_CHECKPOINT;
	if (!strncmp(rest, "checkpoint.", 11)) {
		const char *r = rest + 11;
		/* checkpoint.PPPPPPPPPP.NNNNNNNNNN.parquet */
		if (strlen(r) == 10 + 1 + 10 + 8 && all_digits(r, 10) && r[10] == '.' &&
		    all_digits(r + 11, 10) && !strcmp(r + 21, ".parquet")) {
			/* ten digits can exceed an int: such a name is no part
			 * of ours (and no writer makes 2^31 parts) */
			int64_t pa = parse_digits(r, 10), np = parse_digits(r + 11, 10);
			if (pa >= 1 && np >= 1 && pa <= np && np <= INT_MAX) {
				*part = (int)pa;
				*nparts = (int)np;
				return CL__LOG_CHECKPOINT_PART;
			}
			return CL__LOG_OTHER;
		}
		/* checkpoint.UUID.json|parquet (v2) */
		size_t m = strlen(r);
		if ((m > 5 && !strcmp(r + m - 5, ".json")) ||
		    (m > 8 && !strcmp(r + m - 8, ".parquet")))
			return CL__LOG_CHECKPOINT_V2;
	}
	return CL__LOG_OTHER;
}

static bool keep_raw(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.' || c == '~' || c == '/' || c == '=';
}

int cl__delta_path_encode(cl_buf *out, const char *key)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
		int rc;
		if (keep_raw(*p)) {
			rc = cl_buf_putc(out, (char)*p);
		} else {
			char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
			rc = cl_buf_append(out, e, 3);
		}
		if (rc)
			return rc;
	}
	return 0;
}


/* Does the URI reference path[0..n) start with a scheme (RFC 3986:
 * ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":")? */
static bool has_scheme(const char *path, size_t n)
{
	if (n == 0 || !((path[0] >= 'A' && path[0] <= 'Z') || (path[0] >= 'a' && path[0] <= 'z')))
		return false;
	for (size_t i = 1; i < n; i++) {
		char c = path[i];
		if (c == ':')
			return true;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '+' || c == '-' || c == '.'))
			return false;
	}
	return false;
}

int cl__delta_path_decode(char **key, cl_store *s, const char *path, size_t n,
			  cl_error *err)
{
	*key = NULL;
	cl_buf b = {0};
	int rc = cl__pct_decode(&b, path, n, 0);
	char *d = rc ? NULL : (char *)cl_buf_detach(&b, NULL);
	cl_buf_release(&b);
	if (rc == CL_PCT_EBAD)
		return cl_error_set(err, CL_EFORMAT, "path '%.*s': invalid %%-escape", (int)n, path);
	if (rc == CL_PCT_ENUL)
		return cl_error_set(err, CL_EFORMAT, "path with a NUL byte");
	if (!d)
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	/* relative unless the URI has a scheme or is an absolute path: told
	 * by the path as written (an escaped ':', %3A, is a key's own) */
	if (cl_store_key_valid(d) && !has_scheme(path, n) && !(n > 0 && path[0] == '/')) {
		*key = d;
		return 0;
	}
	/* Absolute: a URI with a scheme, or a bare absolute path. */
	char *rel = NULL;
	rc = cl_store_key_from_uri(s, d, &rel, err);
	cl_free(d);
	if (rc)
		return rc;
	*key = rel;
	return 0;
}

/* ---- schema ---- */

int cl__delta_table_type(cl_type *out, cl_type t, const char *column, cl_error *err)
{
	switch (t.id) {
	case CL_UINT8: *out = cl_type_make(CL_INT16); return 0;
	case CL_UINT16: *out = cl_type_make(CL_INT32); return 0;
	case CL_UINT32: *out = cl_type_make(CL_INT64); return 0;
	case CL_UINT64: *out = cl_type_decimal(20, 0); return 0;
	case CL_TIMESTAMP: *out = cl_type_timestamp(CL_UNIT_US, t.utc); return 0;
	case CL_TIME:
		return cl_error_set(err, CL_EUNSUPPORTED,
				    "column '%s': type time has no Delta Lake type "
				    "(cast it to string or int64)", column);
	case CL_NULLTYPE:
		return cl_error_set(err, CL_ESCHEMA,
				    "column '%s': type unknown (no value seen)", column);
	default: *out = t; return 0;
	}
}

static const char *delta_type_name(char *buf, size_t n, cl_type t)
{
	switch (t.id) {
	case CL_BOOL: return "boolean";
	case CL_INT8: return "byte";
	case CL_INT16: return "short";
	case CL_INT32: return "integer";
	case CL_INT64: return "long";
	case CL_FLOAT32: return "float";
	case CL_FLOAT64: return "double";
	case CL_DECIMAL: snprintf(buf, n, "decimal(%d,%d)", t.precision, t.scale); return buf;
	case CL_DATE: return "date";
	case CL_TIMESTAMP: return t.utc ? "timestamp" : "timestamp_ntz";
	case CL_STRING: return "string";
	case CL_BINARY: return "binary";
	default: return NULL;
	}
}

int cl__delta_schema_to_json(cl_buf *out, const cl_schema *schema, bool *needs_ntz,
			     cl_error *err)
{
	*needs_ntz = false;
	int rc = cl_buf_puts(out, "{\"type\":\"struct\",\"fields\":[");
	for (int i = 0; i < schema->nfields && !rc; i++) {
		const cl_field *f = &schema->fields[i];
		cl_type t;
		if ((rc = cl__delta_table_type(&t, f->type, f->name, err)) != 0)
			return rc;
		char tb[32];
		const char *tn = delta_type_name(tb, sizeof tb, t);
		if (!tn)
			return cl_error_set(err, CL_EUNSUPPORTED, "column '%s': no Delta type",
					    f->name);
		if (t.id == CL_TIMESTAMP && !t.utc)
			*needs_ntz = true;
		rc = cl_buf_puts(out, i ? ",{\"name\":" : "{\"name\":");
		if (!rc) {
			rc = cl__json_escape(out, f->name, strlen(f->name));
			if (rc == CL_EINVAL)
				return cl_error_set(err, CL_EINVAL,
						    "column name is not valid UTF-8");
		}
		rc = rc ? rc : cl_buf_printf(out, ",\"type\":\"%s\",\"nullable\":%s,\"metadata\":{}}",
					     tn, f->nullable ? "true" : "false");
	}
	rc = rc ? rc : cl_buf_puts(out, "]}");
	return rc ? cl_error_set(err, CL_ENOMEM, "out of memory") : 0;
}

static int parse_type_name(cl_type *out, const char *s, size_t n, const char *col,
			   cl_error *err)
{
	static const struct { const char *n; cl_type_id id; } prim[] = {
		{"boolean", CL_BOOL}, {"byte", CL_INT8},     {"short", CL_INT16},
		{"integer", CL_INT32}, {"long", CL_INT64},   {"float", CL_FLOAT32},
		{"double", CL_FLOAT64}, {"date", CL_DATE},   {"string", CL_STRING},
		{"binary", CL_BINARY},
	};
	for (size_t i = 0; i < sizeof prim / sizeof prim[0]; i++)
		if (strlen(prim[i].n) == n && !memcmp(prim[i].n, s, n)) {
			*out = cl_type_make(prim[i].id);
			return 0;
		}
	if (n == 9 && !memcmp(s, "timestamp", 9)) {
		*out = cl_type_timestamp(CL_UNIT_US, true);
		return 0;
	}
	if (n == 13 && !memcmp(s, "timestamp_ntz", 13)) {
		*out = cl_type_timestamp(CL_UNIT_US, false);
		return 0;
	}
	int p, sc, used = 0;
	char buf[40];
	if (n < sizeof buf) {
		memcpy(buf, s, n);
		buf[n] = 0;
		if (sscanf(buf, "decimal(%d,%d)%n", &p, &sc, &used) == 2 && used == (int)n) {
			if (p < 1 || p > 38 || sc < 0 || sc > p)
				return cl_error_set(err, CL_EFORMAT,
						    "column '%s': invalid %s", col, buf);
			*out = cl_type_decimal(p, sc);
			return 0;
		}
		if (!strcmp(buf, "decimal")) { /* Spark's default */
			*out = cl_type_decimal(10, 0);
			return 0;
		}
	}
	return cl_error_set(err, CL_EUNSUPPORTED, "column '%s': Delta type '%.*s' is not supported",
			    col, (int)(n > 60 ? 60 : n), s);
}

int cl__delta_schema_from_json(cl_schema **out, const char *text, size_t n,
			       cl_error *err)
{
	*out = NULL;
	cl__json_parser *p = NULL;
	cl_schema *s = NULL;
	const cl_json *root;
	int rc = cl__json_parser_create(&p, NULL, err);
	if (rc)
		return rc;
	if ((rc = cl__json_parse(p, text, n, &root, err)) != 0) {
		cl_error_prefix(err, "schemaString: ");
		goto out;
	}
	const cl_json *type = cl__json_get_s(root, "type");
	const cl_json *fields = cl__json_get_s(root, "fields");
	if (!type || type->kind != CL_JSON_STRING || strcmp(type->u.str, "struct") ||
	    !fields || fields->kind != CL_JSON_ARRAY) {
		rc = cl_error_set(err, CL_EFORMAT, "schemaString: not a struct with fields");
		goto out;
	}
	if ((rc = cl_schema_create(&s, err)) != 0)
		goto out;
	for (size_t i = 0; i < fields->n; i++) {
		const cl_json *f = cl__json_at(fields, i);
		const cl_json *name = cl__json_get_s(f, "name");
		const cl_json *ft = cl__json_get_s(f, "type");
		const cl_json *nullable = cl__json_get_s(f, "nullable");
		if (!name || name->kind != CL_JSON_STRING || !ft) {
			rc = cl_error_set(err, CL_EFORMAT,
					  "schemaString: field %zu lacks a name or type", i + 1);
			goto out;
		}
		if (strlen(name->u.str) != name->n) {
			rc = cl_error_set(err, CL_EFORMAT, "schemaString: column name with NUL");
			goto out;
		}
		cl_type t;
		if (ft->kind == CL_JSON_OBJECT) {
			const cl_json *k = cl__json_get_s(ft, "type");
			rc = cl_error_set(err, CL_EUNSUPPORTED,
					  "column '%s' has nested type %s; nested columns are "
					  "not supported yet", name->u.str,
					  k && k->kind == CL_JSON_STRING ? k->u.str : "?");
			goto out;
		}
		if (ft->kind != CL_JSON_STRING) {
			rc = cl_error_set(err, CL_EFORMAT, "schemaString: column '%s': bad type",
					  name->u.str);
			goto out;
		}
		if (!strcmp(ft->u.str, "void"))
			continue; /* the protocol recommends dropping void columns */
		if ((rc = parse_type_name(&t, ft->u.str, ft->n, name->u.str, err)) != 0)
			goto out;
		bool nl = !nullable || nullable->kind != CL_JSON_FALSE;
		if ((rc = cl_schema_add(s, name->u.str, t, nl, err)) != 0)
			goto out;
	}
	*out = s;
	s = NULL;
out:
	cl_schema_free(s);
	cl__json_parser_free(p);
	return rc;
}
