/*
 * pg_common.h — what the PostgreSQL apply (pg_apply.c) and export
 * (pg_export.c) share (internal to the sink layer): libpq errors as
 * cl_error messages, and the catalog's primary key of a table.
 */
#ifndef CL_SINK_PG_COMMON_H
#define CL_SINK_PG_COMMON_H

#include "changelake/common.h"

#include <libpq-fe.h>

/*
 * "[table T: ]PostgreSQL: WHAT: MESSAGE" (CL_EIO), the server's message
 * without its final newline; table may be NULL.
 */
int cl__pg_error(cl_error *err, const char *table, const char *what, const char *msg);
/* The same for a failed result, which is cleared. */
int cl__pg_res_error(cl_error *err, const char *table, PGresult *r, const char *what);
/*
 * The primary key's column names of the table whose regclass text is
 * `qualified` (a query parameter, never spliced into SQL), in key order:
 * *pk (NULL-terminated, *npk names; none when the table has no primary
 * key), freed with cl__pg_names_free. table names it in errors.
 */
int cl__pg_primary_key(PGconn *c, const char *qualified, const char *table, char ***pk,
		       int *npk, cl_error *err);
void cl__pg_names_free(char **names, int n);

#endif
