/*
 * pg_export.c — a consistent snapshot of a PostgreSQL table as a file (see
 * changelake/pg_export.h); the COPY text decoder under it is pg_copy.c
 * (pg_export_impl.h).
 *
 * The export, in order:
 *   1. connect; session settings that fix the text the server sends
 *      (client_encoding UTF8, DateStyle ISO, TimeZone UTC, bytea_output
 *      hex, IntervalStyle postgres, extra_float_digits 3 = exact floats);
 *   2. BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY: everything after
 *      reads one snapshot;
 *   3. the columns (base type of a domain, typmod, NOT NULL) and primary
 *      key from the catalog, looked up by the table's OID ($1::regclass of
 *      the quoted name, passed as a parameter);
 *   4. COPY (SELECT "c1", ... FROM "s"."t") TO STDOUT — started before
 *      the output file is created, so a permission error leaves nothing;
 *   5. each row from PQgetCopyData is decoded into the current batch; a
 *      full batch (rows or bytes) goes to cl_writer_write and is emptied;
 *   6. cl_writer_close publishes the file (temporary file + rename), then
 *      COMMIT. Any error before 6 frees the writer, which removes its
 *      temporary file: OUT appears complete or not at all.
 * Only identifiers (quoted with PQescapeIdentifier) are spliced into SQL;
 * the table name reaches the catalog query as a parameter.
 */
#include "changelake/pg_export.h"
#include "sink/pg_common.h"
#include "sink/pg_export_impl.h"

#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define BATCH_ROWS 65536
#define BATCH_BYTES (64 << 20)

/* ---- the export ------------------------------------------------------ */

void cl_pg_export_options_init(cl_pg_export_options *o)
{
	memset(o, 0, sizeof *o);
	o->batch_rows = BATCH_ROWS;
}

void cl_pg_export_stats_release(cl_pg_export_stats *s)
{
	if (!s)
		return;
	cl_schema_free(s->schema);
	cl__pg_names_free(s->pkey, s->npkey);
	s->schema = NULL;
	s->pkey = NULL;
	s->npkey = 0;
}

static int exec_cmd(PGconn *c, const char *table, const char *sql, const char *what,
		    cl_error *err)
{
	PGresult *r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		return cl__pg_res_error(err, table, r, what);
	PQclear(r);
	return 0;
}

/*
 * One part of "[SCHEMA.]TABLE" at *p: "quoted" (with "" for a quote) or
 * verbatim up to the first '.'. Owned copy in *out.
 */
static int name_part(const char **p, char **out, const char *table, cl_error *err)
{
	const char *s = *p;
	cl_buf b = {0};
	int rc = 0;
	if (*s == '"') {
		for (s++;; s++) {
			if (!*s) {
				cl_buf_release(&b);
				return cl_error_set(err, CL_EINVAL, "table name %s: unterminated quote",
						    table);
			}
			if (*s == '"') {
				if (s[1] != '"')
					break;
				s++;
			}
			rc |= cl_buf_putc(&b, *s);
		}
		s++;
		if (*s && *s != '.') {
			cl_buf_release(&b);
			return cl_error_set(err, CL_EINVAL,
					    "table name %s: '.' or the end expected after a quoted "
					    "name", table);
		}
	} else {
		const char *e = strchr(s, '.');
		size_t n = e ? (size_t)(e - s) : strlen(s);
		rc = cl_buf_append(&b, s, n);
		s += n;
	}
	if (rc) {
		cl_buf_release(&b);
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	}
	if (!b.len) {
		cl_buf_release(&b);
		return cl_error_set(err, CL_EINVAL, "table name '%s': an empty name", table);
	}
	*out = (char *)b.data;
	*p = s;
	return 0;
}

/* Append id quoted with PQescapeIdentifier. */
static int put_ident(cl_buf *b, PGconn *c, const char *id, cl_error *err)
{
	char *q = PQescapeIdentifier(c, id, strlen(id));
	if (!q)
		return cl__pg_error(err, NULL, "quoting an identifier", PQerrorMessage(c));
	int rc = cl_buf_puts(b, q);
	PQfreemem(q);
	return rc ? cl_error_set(err, CL_ENOMEM, "out of memory") : 0;
}

/* The table as quoted SQL: "schema"."name" or "name". */
static int quote_table(cl_buf *q, PGconn *c, const char *table, cl_error *err)
{
	const char *p = table;
	char *a = NULL, *b = NULL;
	int rc = name_part(&p, &a, table, err);
	if (!rc && *p == '.') {
		p++;
		rc = name_part(&p, &b, table, err);
		if (!rc && *p)
			rc = cl_error_set(err, CL_EINVAL,
					  "table name %s: more than SCHEMA.TABLE (quote a name "
					  "holding a dot: \"a.b\")", table);
	}
	if (!rc)
		rc = put_ident(q, c, a, err);
	if (!rc && b) {
		if (cl_buf_putc(q, '.'))
			rc = cl_error_set(err, CL_ENOMEM, "out of memory");
		else
			rc = put_ident(q, c, b, err);
	}
	cl_free(a);
	cl_free(b);
	return rc;
}

/* A table column from the catalog. */
typedef struct pg_col {
	char *name;
	uint32_t oid;
	int32_t typmod;
	bool notnull;
} pg_col;

static void cols_free(pg_col *cols, int n)
{
	for (int i = 0; cols && i < n; i++)
		cl_free(cols[i].name);
	cl_free(cols);
}

/* Columns (a domain's base type and typmod) and the primary key. */
static int describe(PGconn *c, const char *table, const char *qualified, pg_col **cols,
		    int *ncols, cl_pg_export_stats *st, cl_error *err)
{
	const char *params[1] = {qualified};
	PGresult *r = PQexecParams(
		c,
		"SELECT a.attname, CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE a.atttypid "
		"END::oid::int8, CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END, "
		"a.attnotnull FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
		"WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped "
		"ORDER BY a.attnum",
		1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		return cl__pg_res_error(err, table, r, "looking up the table");
	int n = PQntuples(r);
	*cols = cl_calloc((size_t)n + 1, sizeof **cols);
	if (!*cols) {
		PQclear(r);
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	}
	*ncols = n;
	for (int i = 0; i < n; i++) {
		pg_col *pc = &(*cols)[i];
		pc->name = cl_strdup(PQgetvalue(r, i, 0));
		pc->oid = (uint32_t)strtoull(PQgetvalue(r, i, 1), NULL, 10);
		pc->typmod = (int32_t)strtol(PQgetvalue(r, i, 2), NULL, 10);
		pc->notnull = PQgetvalue(r, i, 3)[0] == 't';
		if (!pc->name) {
			PQclear(r);
			return cl_error_set(err, CL_ENOMEM, "out of memory");
		}
	}
	PQclear(r);
	return cl__pg_primary_key(c, params[0], table, &st->pkey, &st->npkey, err);
}

/* The exported columns (all, or o->columns in that order) as a schema,
 * their conversions, and the SELECT list. */
static int choose(PGconn *c, const char *table, const pg_col *cols, int ncols,
		  const cl_pg_export_options *o, cl_schema **schema, cl__pg_kind **kinds,
		  cl_buf *select, cl_error *err)
{
	int n = o->columns ? o->ncolumns : ncols;
	if (n == 0)
		return cl_error_set(err, CL_EINVAL, "table %s has no columns to export", table);
	int rc = cl_schema_create(schema, err);
	if (rc)
		return rc;
	*kinds = cl_calloc((size_t)n, sizeof **kinds);
	if (!*kinds)
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	for (int i = 0; i < n; i++) {
		const pg_col *pc = NULL;
		if (!o->columns) {
			pc = &cols[i];
		} else {
			for (int j = 0; j < ncols && !pc; j++)
				if (!strcmp(cols[j].name, o->columns[i]))
					pc = &cols[j];
			if (!pc)
				return cl_error_set(err, CL_ENOTFOUND,
						    "table %s has no column '%s'", table,
						    o->columns[i]);
		}
		cl_type t;
		cl__pg_map_type(pc->oid, pc->typmod, &t, &(*kinds)[i]);
		if ((rc = cl_schema_add(*schema, pc->name, t, !pc->notnull, err))) {
			cl_error_prefix(err, "table %s: --columns: ", table);
			return rc;
		}
		if (i && cl_buf_putc(select, ','))
			return cl_error_set(err, CL_ENOMEM, "out of memory");
		if ((rc = put_ident(select, c, pc->name, err)))
			return rc;
	}
	return 0;
}

/* Stream the COPY already started into w, batch by batch. */
static int stream_rows(PGconn *c, const char *table, cl_writer *w,
		       cl__pg_copy_decoder *dec, const cl_pg_export_options *o,
		       cl_pg_export_stats *st, cl_error *err)
{
	int64_t batch_rows = o->batch_rows > 0 ? o->batch_rows : BATCH_ROWS;
	int rc = 0;
	for (;;) {
		char *row = NULL;
		int n = PQgetCopyData(c, &row, 0);
		if (n == -1)
			break;
		if (n < 0)
			return cl__pg_error(err, table, "COPY", PQerrorMessage(c));
		rc = cl__pg_copy_row(dec, row, (size_t)n, err);
		PQfreemem(row);
		if (rc)
			return rc;
		if (dec->batch->nrows >= batch_rows || dec->bytes >= BATCH_BYTES) {
			if ((rc = cl_writer_write(w, dec->batch, err)))
				return rc;
			st->rows += dec->batch->nrows;
			cl__pg_copy_decoder_clear(dec);
			if (o->progress)
				o->progress(o->progress_ctx, st->rows);
		}
	}
	PGresult *r;
	while ((r = PQgetResult(c))) {
		if (!rc && PQresultStatus(r) != PGRES_COMMAND_OK) {
			rc = cl__pg_res_error(err, table, r, "COPY");
			continue;
		}
		PQclear(r);
	}
	if (rc)
		return rc;
	if (dec->batch->nrows) {
		if ((rc = cl_writer_write(w, dec->batch, err)))
			return rc;
		st->rows += dec->batch->nrows;
		cl__pg_copy_decoder_clear(dec);
		if (o->progress)
			o->progress(o->progress_ctx, st->rows);
	}
	return 0;
}

int cl_pg_export(const char *conninfo, const char *table, const char *out,
		 const cl_write_options *wo, const cl_pg_export_options *opts,
		 cl_pg_export_stats *st, cl_error *err)
{
	cl_pg_export_options defaults;
	const cl_pg_export_options *o = opts;
	if (!o) {
		cl_pg_export_options_init(&defaults);
		o = &defaults;
	}
	memset(st, 0, sizeof *st);
	int rc = 0;
	pg_col *cols = NULL;
	int ncols = 0;
	cl__pg_kind *kinds = NULL;
	cl_buf tq = {0}, sel = {0}, q = {0};
	cl_writer *w = NULL;
	cl__pg_copy_decoder dec = {0};
	PGconn *c = PQconnectdb(conninfo);
	if (!c) {
		rc = cl_error_set(err, CL_ENOMEM, "PostgreSQL: connecting: out of memory");
		goto done;
	}
	if (PQstatus(c) != CONNECTION_OK) {
		rc = cl__pg_error(err, NULL, "connecting", PQerrorMessage(c));
		goto done;
	}
	/* The text the server sends depends on these; fix them for the
	 * decoder (and UTC for timestamptz). */
	if ((rc = exec_cmd(c, NULL,
			   "SET client_encoding = 'UTF8'; SET DateStyle = 'ISO, YMD'; "
			   "SET TimeZone = 'UTC'; SET IntervalStyle = 'postgres'; "
			   "SET bytea_output = 'hex'; SET extra_float_digits = 3",
			   "session settings", err)) ||
	    (rc = exec_cmd(c, NULL, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", "BEGIN",
			   err)) ||
	    (rc = quote_table(&tq, c, table, err)) ||
	    (rc = describe(c, table, (const char *)tq.data, &cols, &ncols, st, err)) ||
	    (rc = choose(c, table, cols, ncols, o, &st->schema, &kinds, &sel, err)))
		goto done;
	if (cl_buf_printf(&q, "COPY (SELECT %s FROM %s) TO STDOUT", (const char *)sel.data,
			  (const char *)tq.data)) {
		rc = cl_error_set(err, CL_ENOMEM, "out of memory");
		goto done;
	}
	PGresult *r = PQexec(c, (const char *)q.data);
	if (PQresultStatus(r) != PGRES_COPY_OUT) {
		rc = cl__pg_res_error(err, table, r, "COPY");
		goto done;
	}
	PQclear(r);
	if ((rc = cl__pg_copy_decoder_init(&dec, table, st->schema, kinds, err)))
		goto done;
	/* the primary key's exported columns name a failing row */
	for (int i = 0; i < st->npkey && dec.nkeys < CL__PG_MAX_KEYS; i++) {
		int f = cl_schema_find(st->schema, st->pkey[i]);
		if (f < 0) {
			dec.nkeys = 0;
			break;
		}
		dec.keys[dec.nkeys++] = f;
	}
	if (dec.nkeys < st->npkey)
		dec.nkeys = 0;
	if ((rc = cl_writer_open(&w, out, st->schema, wo, err)) ||
	    (rc = stream_rows(c, table, w, &dec, o, st, err)) ||
	    (rc = cl_writer_close(w, err)))
		goto done;
	if ((rc = exec_cmd(c, table, "COMMIT", "COMMIT", err)))
		goto done;
	struct stat sb;
	if (strcmp(out, "-") && stat(out, &sb) == 0 && S_ISREG(sb.st_mode))
		st->bytes = (int64_t)sb.st_size;
done:
	/* an unclosed writer removes its temporary file: no partial OUT */
	cl_writer_free(w);
	if (c)
		PQfinish(c);
	cl__pg_copy_decoder_release(&dec);
	cols_free(cols, ncols);
	cl_free(kinds);
	cl_buf_release(&tq);
	cl_buf_release(&sel);
	cl_buf_release(&q);
	if (rc)
		cl_pg_export_stats_release(st);
	return rc;
}
