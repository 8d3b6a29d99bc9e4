/*
 * pg_common.c — libpq errors and catalog look-ups shared by the
 * PostgreSQL apply and export (pg_common.h).
 */
#include "sink/pg_common.h"

#include <string.h>

int cl__pg_error(cl_error *err, const char *table, const char *what, const char *m)
{
	size_t n = m ? strlen(m) : 0;
	while (n && (m[n - 1] == '\n' || m[n - 1] == ' '))
		n--;
	if (table)
		return cl_error_set(err, CL_EIO, "table %s: PostgreSQL: %s: %.*s", table, what,
				    (int)n, m ? m : "");
	return cl_error_set(err, CL_EIO, "PostgreSQL: %s: %.*s", what, (int)n, m ? m : "");
}

int cl__pg_res_error(cl_error *err, const char *table, PGresult *r, const char *what)
{
	int rc = cl__pg_error(err, table, what, PQresultErrorMessage(r));
	PQclear(r);
	return rc;
}

void cl__pg_names_free(char **names, int n)
{
	for (int i = 0; names && i < n; i++)
		cl_free(names[i]);
	cl_free(names);
}

int cl__pg_primary_key(PGconn *c, const char *qualified, const char *table, char ***pk,
		       int *npk, cl_error *err)
{
	const char *params[1] = {qualified};
	*pk = NULL;
	*npk = 0;
	PGresult *r = PQexecParams(c,
				   "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON "
				   "a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
				   "WHERE i.indrelid = $1::regclass AND i.indisprimary "
				   "ORDER BY array_position(i.indkey::int2[], a.attnum)",
				   1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		return cl__pg_res_error(err, table, r, "reading the table's primary key");
	int n = PQntuples(r);
	char **names = cl_calloc((size_t)n + 1, sizeof *names);
	for (int i = 0; names && i < n; i++)
		if (!(names[i] = cl_strdup(PQgetvalue(r, i, 0)))) {
			cl__pg_names_free(names, i);
			names = NULL;
		}
	PQclear(r);
	if (!names)
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	*pk = names;
	*npk = n;
	return 0;
}
