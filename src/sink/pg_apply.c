/*
 * pg_apply.c — one change set into one PostgreSQL table, in one
 * transaction (see changelake/pg.h).
 *
 * The table's columns and primary key come from the catalog (queried with
 * the table name as a parameter, never spliced into SQL). The change set is
 * mapped onto the table's column names with every column read as text
 * (cl_changes), so values reach PostgreSQL as their changelake text and
 * PostgreSQL's own input functions parse them into the column types.
 * COPY uses CSV with every non-NULL value quoted, so the empty string and
 * NULL stay apart.
 */
#include "changelake/pg.h"
#include "changelake/dataset.h"
#include "core/buf.h"
#include "sink/pg_common.h"

#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

#define TMP_TABLE "changelake_apply_changes"
#define ACTION_COL "__changelake_action"

bool cl_pg_is_target(const char *t)
{
	return !strncmp(t, "postgresql://", 13) || !strncmp(t, "postgres://", 11) ||
	       strstr(t, "dbname=") || strstr(t, "host=") || strstr(t, "service=");
}

static int pg_error(cl_error *err, PGconn *c, const char *what)
{
	return cl__pg_error(err, NULL, what, PQerrorMessage(c));
}

static int res_error(cl_error *err, PGresult *r, const char *what)
{
	return cl__pg_res_error(err, NULL, r, what);
}

/* Append identifier id, quoted, to b. */
static int put_ident(cl_buf *b, PGconn *c, const char *id, cl_error *err)
{
	char *q = PQescapeIdentifier(c, id, strlen(id));
	if (!q)
		return pg_error(err, c, "quoting an identifier");
	int rc = cl_buf_puts(b, q);
	PQfreemem(q);
	return rc ? cl_error_set(err, CL_ENOMEM, "out of memory") : 0;
}

/* "schema.table" or "table", each part quoted. */
static int put_table(cl_buf *b, PGconn *c, const char *table, cl_error *err)
{
	const char *dot = strchr(table, '.');
	if (!dot)
		return put_ident(b, c, table, err);
	char *schema = cl_strndup(table, (size_t)(dot - table));
	if (!schema)
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	int rc = put_ident(b, c, schema, err);
	cl_free(schema);
	if (!rc && cl_buf_putc(b, '.'))
		rc = cl_error_set(err, CL_ENOMEM, "out of memory");
	return rc ? rc : put_ident(b, c, dot + 1, err);
}

static int exec_ok(PGconn *c, const char *sql, const char *what, int64_t *rows,
		   cl_error *err)
{
	PGresult *r = PQexec(c, sql);
	ExecStatusType s = PQresultStatus(r);
	if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK)
		return res_error(err, r, what);
	if (rows)
		*rows = atoll(PQcmdTuples(r));
	PQclear(r);
	return 0;
}

/* The table's columns (as a schema of strings) and primary key. */
static int describe(PGconn *c, const char *qualified, cl_schema **cols, char ***pk,
		    int *npk, cl_error *err)
{
	const char *params[1] = {qualified};
	PGresult *r = PQexecParams(
		c,
		"SELECT a.attname FROM pg_attribute a WHERE a.attrelid = $1::regclass "
		"AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
		1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		return res_error(err, r, "reading the table's columns");
	int rc = cl_schema_create(cols, err);
	for (int i = 0; !rc && i < PQntuples(r); i++)
		rc = cl_schema_add(*cols, PQgetvalue(r, i, 0), cl_type_make(CL_STRING), true,
				   err);
	PQclear(r);
	if (rc)
		return rc;
	return cl__pg_primary_key(c, qualified, NULL, pk, npk, err);
}

/* Check --key against the primary key (same set of columns). */
static int check_keys(const char *table, const cl_apply_options *o, char **pk, int npk,
		      cl_error *err)
{
	cl_buf want = {0}, have = {0};
	for (int i = 0; i < npk; i++)
		cl_buf_printf(&have, "%s%s", i ? ", " : "", pk[i]);
	for (int i = 0; i < o->nkeys; i++)
		cl_buf_printf(&want, "%s%s", i ? ", " : "", o->keys[i]);
	bool same = npk == o->nkeys;
	for (int i = 0; same && i < o->nkeys; i++) {
		bool found = false;
		for (int j = 0; j < npk; j++)
			found |= !strcmp(pk[j], o->keys[i]);
		same = found;
	}
	int rc = 0;
	if (npk == 0)
		rc = cl_error_set(err, CL_ESCHEMA,
				  "table %s has no primary key; apply needs one to match rows "
				  "(ALTER TABLE ... ADD PRIMARY KEY (%s))",
				  table, want.data ? (char *)want.data : "...");
	else if (!same)
		rc = cl_error_set(err, CL_ESCHEMA,
				  "table %s's primary key is (%s), but --key is (%s)", table,
				  (char *)have.data, (char *)want.data);
	cl_buf_release(&want);
	cl_buf_release(&have);
	return rc;
}

/* One normalised batch as COPY CSV lines. */
static int copy_batch(PGconn *c, const cl_batch *b, cl_buf *line, cl_error *err)
{
	for (int64_t r = 0; r < b->nrows; r++) {
		cl_buf_putc(line, (char)((const int8_t *)b->cols[0].values)[r]);
		for (int j = 1; j < b->ncols; j++) {
			const cl_column *col = &b->cols[j];
			cl_buf_putc(line, ',');
			if (cl_column_is_null(col, r))
				continue;
			size_t n;
			const uint8_t *p = cl_column_get_bytes(col, r, &n);
			cl_buf_putc(line, '"');
			for (size_t i = 0; i < n; i++) {
				if (p[i] == '"')
					cl_buf_putc(line, '"');
				cl_buf_putc(line, (char)p[i]);
			}
			cl_buf_putc(line, '"');
		}
		if (cl_buf_putc(line, '\n'))
			return cl_error_set(err, CL_ENOMEM, "out of memory");
		if (line->len > (1u << 20)) {
			if (PQputCopyData(c, (const char *)line->data, (int)line->len) != 1)
				return pg_error(err, c, "COPY");
			cl_buf_clear(line);
		}
	}
	return 0;
}

int cl_pg_apply(const char *conninfo, const char *table, const char *changes,
		const cl_read_options *ro, const cl_apply_options *o,
		cl_pg_apply_stats *stats, cl_error *err)
{
	int rc = 0;
	cl_schema *cols = NULL;
	char **pk = NULL;
	int npk = 0;
	cl_dataset *ds = NULL;
	cl_changes *ch = NULL;
	cl_buf q = {0}, tq = {0}, line = {0};
	bool in_tx = false;
	cl_apply_options opts = *o;
	memset(stats, 0, sizeof *stats);
	PGconn *c = PQconnectdb(conninfo);
	if (!c || PQstatus(c) != CONNECTION_OK) {
		rc = pg_error(err, c, "connecting");
		goto done;
	}
	if ((rc = put_table(&tq, c, table, err)) ||
	    (rc = describe(c, (char *)tq.data, &cols, &pk, &npk, err)))
		goto done;
	if (!opts.nkeys) {
		opts.keys = (const char *const *)pk;
		opts.nkeys = npk;
	}
	if ((rc = check_keys(table, &opts, pk, npk, err)))
		goto done;
	opts.target_name = table;
	if ((rc = cl_dataset_open(&ds, changes, ro, err)) ||
	    (rc = cl_changes_create(&ch, cl_dataset_schema(ds), cols, &opts, err)))
		goto done;
	/* Everything fits: one transaction from here. */
	if ((rc = exec_ok(c, "BEGIN", "BEGIN", NULL, err)))
		goto done;
	in_tx = true;
	cl_buf_printf(&q, "CREATE TEMP TABLE %s ON COMMIT DROP AS SELECT ''::text AS %s, t.* "
		      "FROM %s t WITH NO DATA",
		      TMP_TABLE, ACTION_COL, (char *)tq.data);
	if ((rc = exec_ok(c, (char *)q.data, "creating the temporary table", NULL, err)))
		goto done;
	cl_buf_clear(&q);
	cl_buf_printf(&q, "COPY %s FROM STDIN WITH (FORMAT csv)", TMP_TABLE);
	PGresult *r = PQexec(c, (char *)q.data);
	if (PQresultStatus(r) != PGRES_COPY_IN) {
		rc = res_error(err, r, "COPY");
		goto done;
	}
	PQclear(r);
	for (;;) {
		cl_batch *b, *nb;
		if ((rc = cl_dataset_next(ds, &b, err)) || !b)
			break;
		if ((rc = cl_changes_map(ch, b, cl_dataset_file(ds), cl_dataset_first_row(ds),
					 &nb, err)) ||
		    (rc = copy_batch(c, nb, &line, err)))
			break;
		stats->change_rows += nb->nrows;
	}
	if (!rc && line.len &&
	    PQputCopyData(c, (const char *)line.data, (int)line.len) != 1)
		rc = pg_error(err, c, "COPY");
	/* a sparse change set is refused before anything is applied */
	if (!rc)
		rc = cl_changes_check(ch, err);
	if (PQputCopyEnd(c, rc ? "changelake: aborted" : NULL) != 1 && !rc)
		rc = pg_error(err, c, "COPY");
	while ((r = PQgetResult(c))) {
		if (!rc && PQresultStatus(r) != PGRES_COMMAND_OK) {
			rc = res_error(err, r, "COPY");
			continue;
		}
		PQclear(r);
	}
	if (rc)
		goto done;
	/* DELETE ... USING */
	cl_buf_clear(&q);
	cl_buf_printf(&q, "DELETE FROM %s t USING %s c WHERE c.%s = 'D'", (char *)tq.data,
		      TMP_TABLE, ACTION_COL);
	for (int k = 0; k < opts.nkeys && !rc; k++) {
		cl_buf_puts(&q, " AND t.");
		rc = put_ident(&q, c, opts.keys[k], err);
		cl_buf_puts(&q, " = c.");
		if (!rc)
			rc = put_ident(&q, c, opts.keys[k], err);
	}
	if (rc || (rc = exec_ok(c, (char *)q.data, "DELETE", &stats->deleted, err)))
		goto done;
	/* INSERT ... ON CONFLICT DO UPDATE */
	cl_buf_clear(&q);
	cl_buf_printf(&q, "INSERT INTO %s (", (char *)tq.data);
	for (int j = 0; j < cols->nfields && !rc; j++) {
		if (j)
			cl_buf_putc(&q, ',');
		rc = put_ident(&q, c, cols->fields[j].name, err);
	}
	cl_buf_puts(&q, ") SELECT ");
	for (int j = 0; j < cols->nfields && !rc; j++) {
		if (j)
			cl_buf_putc(&q, ',');
		rc = put_ident(&q, c, cols->fields[j].name, err);
	}
	cl_buf_printf(&q, " FROM %s WHERE %s <> 'D' ON CONFLICT (", TMP_TABLE, ACTION_COL);
	for (int k = 0; k < opts.nkeys && !rc; k++) {
		if (k)
			cl_buf_putc(&q, ',');
		rc = put_ident(&q, c, opts.keys[k], err);
	}
	cl_buf_puts(&q, ") DO ");
	int nset = 0;
	for (int j = 0; j < cols->nfields && !rc; j++) {
		bool key = false;
		for (int k = 0; k < opts.nkeys; k++)
			key |= !strcmp(opts.keys[k], cols->fields[j].name);
		if (key)
			continue;
		cl_buf_puts(&q, nset++ ? ", " : "UPDATE SET ");
		rc = put_ident(&q, c, cols->fields[j].name, err);
		cl_buf_puts(&q, " = EXCLUDED.");
		if (!rc)
			rc = put_ident(&q, c, cols->fields[j].name, err);
	}
	if (!nset)
		cl_buf_puts(&q, "NOTHING");
	if (rc || (rc = exec_ok(c, (char *)q.data, "INSERT ... ON CONFLICT",
				&stats->upserted, err)))
		goto done;
	rc = exec_ok(c, "COMMIT", "COMMIT", NULL, err);
	in_tx = false;
done:
	if (in_tx && c && PQstatus(c) == CONNECTION_OK) {
		PGresult *rb = PQexec(c, "ROLLBACK");
		PQclear(rb);
	}
	if (c)
		PQfinish(c);
	cl_changes_free(ch);
	cl_dataset_free(ds);
	cl_schema_free(cols);
	for (int i = 0; i < npk; i++)
		cl_free(pk ? pk[i] : NULL);
	cl_free(pk);
	cl_buf_release(&q);
	cl_buf_release(&tq);
	cl_buf_release(&line);
	return rc;
}
