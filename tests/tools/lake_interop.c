/*
 * lake_interop.c — builds lake tables for the DuckDB interop test
 * (tests/interop/test_delta_duckdb.mjs) and prints what changelake reads.
 *
 *   lake_interop make DIR       a table of many types, partitioned by a
 *                               string and the day of a timestamp, 4 key
 *                               buckets, built in 4 commits: create, append
 *                               300 rows, copy-on-write upsert/delete, append
 *   lake_interop rows DIR[@V]   the rows changelake reads, one JSON array per
 *                               line, values normalised: integers and
 *                               doubles as JSON numbers (int64 as strings),
 *                               decimal and date as text, timestamp as epoch
 *                               microseconds (string), null as null
 *   lake_interop dump DIR[@V]   any table's rows, normalised by type: integers
 *                               and timestamps (epoch microseconds) as
 *                               strings, floats as numbers (NaN/Infinity as
 *                               strings), decimal and date as text, binary as
 *                               lower-case hex, bool as true/false
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "changelake/table.h"

static const char *const SCHEMA =
	"id int64 not null\nsmall int16\nn int32\nx float64\namount decimal(12,2)\n"
	"d date\nts timestamp(us,utc)\nname string\nflag bool\nregion string";

static int fail(const cl_error *err)
{
	fprintf(stderr, "lake_interop: %s\n", err->message);
	return 1;
}

/* Append row i (version tag `gen`) to the normalised change batch. */
static int add_row(cl_batch *b, int action, int64_t i, int gen, cl_error *err)
{
	int rc = cl_column_append_i64(&b->cols[0], action, err);
	rc = rc ? rc : cl_column_append_i64(&b->cols[1], i, err);
	rc = rc ? rc : (i % 11 == 0 ? cl_column_append_null(&b->cols[2], err)
				    : cl_column_append_i64(&b->cols[2], (i * 7) % 30000 - 15000, err));
	rc = rc ? rc : cl_column_append_i64(&b->cols[3], (int64_t)(i * 2654435761u % 2000000) - 1000000 + gen, err);
	rc = rc ? rc : (i % 13 == 0 ? cl_column_append_null(&b->cols[4], err)
				    : cl_column_append_f64(&b->cols[4], (double)i / 7.0 - 20, err));
	__int128 dec = (__int128)(i * 12345 % 10000000) - 5000000 + gen;
	rc = rc ? rc : cl_column_append_fixed(&b->cols[5], &dec, err);
	rc = rc ? rc : cl_column_append_i64(&b->cols[6], 19000 + i % 500, err);
	rc = rc ? rc : cl_column_append_i64(&b->cols[7], 1700000000000000LL + i * 3600000000LL + 123, err);
	char name[64];
	int n = snprintf(name, sizeof name, "%s-%lld-g%d", i % 5 == 0 ? "ünïcödé" : "name",
			 (long long)i, gen);
	rc = rc ? rc : (i % 17 == 0 ? cl_column_append_null(&b->cols[8], err)
				    : cl_column_append_bytes(&b->cols[8], name, (size_t)n, err));
	rc = rc ? rc : cl_column_append_bool(&b->cols[9], i % 3 == 0, err);
	static const char *const reg[] = {"north", "south", "a/b", "../x", "x y%z"};
	const char *r = reg[i % 5];
	rc = rc ? rc : (i % 19 == 0 ? cl_column_append_null(&b->cols[10], err)
				    : cl_column_append_bytes(&b->cols[10], r, strlen(r), err));
	if (!rc)
		b->nrows++;
	return rc;
}

static int commit_changes(cl_table *t, int64_t from, int64_t to, int action, int gen,
			  int64_t step, cl_error *err)
{
	cl_schema *sc;
	char text[512];
	snprintf(text, sizeof text, "action int8\n%s", SCHEMA);
	int rc = cl_schema_parse(&sc, text, err);
	cl_batch *b = NULL;
	rc = rc ? rc : cl_batch_create(&b, sc, 512, err);
	for (int64_t i = from; !rc && i < to; i += step)
		rc = add_row(b, action, i, gen, err);
	const cl_batch *bs[1] = {b};
	cl_table_cow_stats st;
	rc = rc ? rc : cl_table_apply_changes(t, sc, bs, 1, "MERGE", NULL, 0, &st, NULL, err);
	cl_batch_free(b);
	cl_schema_free(sc);
	return rc;
}

static int make(cl_table *t, cl_error *err)
{
	cl_schema *s;
	int rc = cl_schema_parse(&s, SCHEMA, err);
	if (rc)
		return rc;
	cl_table_create_options o;
	cl_table_create_options_init(&o);
	const char *part[] = {"region", "ts:day"}, *key = "id";
	o.partition_by = part;
	o.npartition_by = 2;
	o.keys = &key;
	o.nkeys = 1;
	o.buckets = 4;
	rc = cl_table_create(t, s, &o, err);
	cl_schema_free(s);
	rc = rc ? rc : commit_changes(t, 0, 300, 'I', 0, 1, err);   /* v1 */
	rc = rc ? rc : commit_changes(t, 0, 300, 'C', 1, 29, err);  /* v2: update some */
	rc = rc ? rc : commit_changes(t, 5, 300, 'D', 0, 31, err);  /* v3: delete some */
	rc = rc ? rc : commit_changes(t, 300, 340, 'I', 2, 1, err); /* v4: append */
	return rc;
}

static int rows(cl_table *t, const cl_table_at *at, cl_error *err)
{
	cl_snapshot *s;
	int rc = cl_table_snapshot(&s, t, at, err);
	if (rc)
		return rc;
	cl_table_scan *sc;
	rc = cl_table_scan_open(&sc, t, s, NULL, err);
	const cl_schema *schema = cl_snapshot_schema(s);
	cl_batch *b;
	while (!rc && !(rc = cl_table_scan_next(sc, &b, err)) && b) {
		for (int64_t r = 0; r < b->nrows; r++) {
			putchar('[');
			for (int c = 0; c < schema->nfields; c++) {
				const cl_column *col = &b->cols[c];
				if (c)
					putchar(',');
				if (cl_column_is_null(col, r)) {
					fputs("null", stdout);
					continue;
				}
				char *txt = NULL;
				size_t n;
				switch (col->type.id) {
				case CL_INT16:
				case CL_INT32:
					printf("%" PRId64, cl_column_get_i64(col, r));
					break;
				case CL_INT64:
				case CL_TIMESTAMP:
					printf("\"%" PRId64 "\"", cl_column_get_i64(col, r));
					break;
				case CL_FLOAT64:
					printf("%.17g", cl_column_get_f64(col, r));
					break;
				case CL_BOOL:
					fputs(cl_column_get_bool(col, r) ? "true" : "false", stdout);
					break;
				default:
					/* decimal, date, string: their text, JSON-escaped */
					cl_value_text(col, r, &txt, &n, err);
					putchar('"');
					for (size_t i = 0; txt && i < n; i++) {
						unsigned char ch = (unsigned char)txt[i];
						if (ch == '"' || ch == '\\')
							printf("\\%c", ch);
						else if (ch < 0x20)
							printf("\\u%04x", ch);
						else
							putchar(ch);
					}
					putchar('"');
					cl_free(txt);
				}
			}
			fputs("]\n", stdout);
		}
	}
	cl_table_scan_free(sc);
	cl_snapshot_free(s);
	return rc;
}

static void json_text(const char *p, size_t n)
{
	putchar('"');
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)p[i];
		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}

static int dump(cl_table *t, const cl_table_at *at, cl_error *err)
{
	cl_snapshot *s;
	int rc = cl_table_snapshot(&s, t, at, err);
	if (rc)
		return rc;
	if (!cl_snapshot_schema(s)) {
		rc = cl_error_set(err, CL_EUNSUPPORTED, "no flat schema");
		cl_snapshot_free(s);
		return rc;
	}
	cl_table_scan *sc;
	rc = cl_table_scan_open(&sc, t, s, NULL, err);
	cl_batch *b;
	while (!rc && !(rc = cl_table_scan_next(sc, &b, err)) && b) {
		for (int64_t r = 0; r < b->nrows; r++) {
			putchar('[');
			for (int c = 0; c < b->ncols; c++) {
				const cl_column *col = &b->cols[c];
				if (c)
					putchar(',');
				if (cl_column_is_null(col, r)) {
					fputs("null", stdout);
					continue;
				}
				switch (col->type.id) {
				case CL_INT8: case CL_INT16: case CL_INT32: case CL_INT64:
					printf("\"%" PRId64 "\"", cl_column_get_i64(col, r));
					break;
				case CL_TIMESTAMP: {
					int64_t v = cl_column_get_i64(col, r);
					if (col->type.unit == CL_UNIT_MS)
						v *= 1000;
					else if (col->type.unit == CL_UNIT_NS)
						v /= 1000;
					printf("\"%" PRId64 "\"", v);
					break;
				}
				case CL_FLOAT32: case CL_FLOAT64: {
					double d = cl_column_get_f64(col, r);
					if (isnan(d))
						fputs("\"NaN\"", stdout);
					else if (isinf(d))
						fputs(d > 0 ? "\"Infinity\"" : "\"-Infinity\"", stdout);
					else if (col->type.id == CL_FLOAT32)
						printf("%.9g", d);
					else
						printf("%.17g", d);
					break;
				}
				case CL_BOOL:
					fputs(cl_column_get_bool(col, r) ? "true" : "false", stdout);
					break;
				case CL_BINARY: {
					size_t n;
					const uint8_t *p = cl_column_get_bytes(col, r, &n);
					putchar('"');
					for (size_t i = 0; i < n; i++)
						printf("%02x", p[i]);
					putchar('"');
					break;
				}
				case CL_STRING: {
					size_t n;
					const uint8_t *p = cl_column_get_bytes(col, r, &n);
					json_text((const char *)p, n);
					break;
				}
				default: {
					char *txt = NULL;
					size_t n = 0;
					cl_value_text(col, r, &txt, &n, err);
					json_text(txt ? txt : "", n);
					cl_free(txt);
				}
				}
			}
			fputs("]\n", stdout);
		}
	}
	cl_table_scan_free(sc);
	cl_snapshot_free(s);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: lake_interop make|rows DIR[@V]\n");
		return 2;
	}
	cl_error err = {0};
	char *loc;
	cl_table_at at;
	if (cl_table_ref_parse(&loc, &at, argv[2], &err))
		return fail(&err);
	cl_table *t;
	if (cl_table_open(&t, loc, &err)) {
		cl_free(loc);
		return fail(&err);
	}
	cl_free(loc);
	int rc = !strcmp(argv[1], "make")   ? make(t, &err)
		 : !strcmp(argv[1], "dump") ? dump(t, &at, &err)
					    : rows(t, &at, &err);
	cl_table_free(t);
	return rc ? fail(&err) : 0;
}
