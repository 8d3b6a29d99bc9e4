/*
 * table_changes.c — change sets applied to a lake table in one commit
 * (cl_table_changes_*, cl_table_apply_changes; table.h): rows with an
 * action column are sorted into upserts ('I', 'C') and deletes ('D') as
 * they are added, then handed to copy-on-write (cl_table_cow, table_cow.c)
 * in one transaction, redone on top of a concurrent conflicting commit.
 *
 * Invariant: ub and db hold the added rows of each kind in the order they
 * were added, in the change columns' own types (us: the columns after the
 * action).
 */
#include "changelake/table.h"

#include <string.h>

static int oom(cl_error *err)
{
	return cl_error_set(err, CL_ENOMEM, "out of memory");
}

struct cl_table_changes {
	cl_table *t;
	cl_schema *us;   /* the table columns of the changes */
	cl_batch *ub, *db; /* upsert rows, delete rows (same schema) */
	int threads;       /* cl_table_changes_set_threads */
};

void cl_table_changes_set_threads(cl_table_changes *c, int n)
{
	c->threads = n > 0 ? n : 0;
}

void cl_table_changes_free(cl_table_changes *c)
{
	if (!c)
		return;
	cl_batch_free(c->ub);
	cl_batch_free(c->db);
	cl_schema_free(c->us);
	cl_free(c);
}

int cl_table_changes_open(cl_table_changes **out, cl_table *t, const cl_schema *schema,
			  cl_error *err)
{
	*out = NULL;
	if (schema->nfields < 2 || schema->fields[0].type.id != CL_INT8)
		return cl_error_set(err, CL_ESCHEMA, "changes need an int8 action column first");
	cl_table_changes *c = cl_calloc(1, sizeof *c);
	if (!c)
		return oom(err);
	c->t = t;
	int rc = cl_schema_create(&c->us, err);
	for (int i = 1; !rc && i < schema->nfields; i++)
		rc = cl_schema_add(c->us, schema->fields[i].name, schema->fields[i].type, true, err);
	rc = rc ? rc : cl_batch_create(&c->ub, c->us, 1024, err);
	rc = rc ? rc : cl_batch_create(&c->db, c->us, 64, err);
	if (rc) {
		cl_table_changes_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

int cl_table_changes_add(cl_table_changes *c, const cl_batch *b, cl_error *err)
{
	int rc = 0;
	if (b->ncols != c->us->nfields + 1)
		return cl_error_set(err, CL_ESCHEMA, "change batch has %d columns, expected %d",
				    b->ncols, c->us->nfields + 1);
	/* runs of rows with the same destination are copied in bulk */
	cl_batch *run_dst = NULL;
	int64_t run = 0;
	int bad = 0; /* a bad action: the rows before it are added, as one by one */
	for (int64_t r = 0; !rc && !bad && r <= b->nrows; r++) {
		cl_batch *dst = NULL;
		if (r < b->nrows) {
			int8_t a = 0;
			if (cl_column_is_null(&b->cols[0], r))
				bad = cl_error_set(err, CL_EFORMAT, "change row with a NULL action");
			else
				a = (int8_t)cl_column_get_i64(&b->cols[0], r);
			dst = a == 'D' ? c->db : (a == 'I' || a == 'C') ? c->ub : NULL;
			if (!dst && !bad)
				bad = cl_error_set(err, CL_EFORMAT, "unknown change action %d", a);
			if (dst == run_dst && !bad)
				continue;
		}
		for (int col = 1; !rc && run_dst && col < b->ncols; col++)
			rc = cl_column_append_range(&run_dst->cols[col - 1], &b->cols[col], run, r - run,
						    err);
		if (!rc && run_dst)
			run_dst->nrows += r - run;
		run_dst = dst;
		run = r;
	}
	return rc ? rc : bad;
}

int cl_table_changes_commit(cl_table_changes *c, const char *operation, const char *app_id,
			    int64_t app_version, cl_table_cow_stats *stats, int64_t *version,
			    cl_error *err)
{
	cl_table_cow_stats local;
	if (!stats)
		stats = &local;
	memset(stats, 0, sizeof *stats);
	if (version)
		*version = -1;
	int rc = 0;
	for (int attempt = 0; !rc; attempt++) {
		cl_snapshot *s = NULL;
		cl_table_txn *x = NULL;
		rc = cl_table_snapshot(&s, c->t, NULL, err);
		if (!rc && app_id && cl_snapshot_txn_version(s, app_id) >= app_version) {
			cl_snapshot_free(s);
			break; /* already applied */
		}
		const cl_batch *u[1] = {c->ub}, *d[1] = {c->db};
		rc = rc ? rc : cl_table_txn_begin(&x, c->t, s, operation ? operation : "MERGE", err);
		if (!rc)
			cl_table_txn_set_threads(x, c->threads);
		rc = rc ? rc : cl_table_cow(x, c->us, u, c->ub->nrows ? 1 : 0, c->us, d,
					    c->db->nrows ? 1 : 0, stats, err);
		if (!rc && app_id)
			rc = cl_table_txn_set_app_version(x, app_id, app_version, err);
		rc = rc ? rc : cl_table_txn_commit(x, version, err);
		cl_table_txn_free(x);
		cl_snapshot_free(s);
		if (rc == CL_ECONFLICT && attempt < 5) {
			/* files this change rewrote were changed: redo it on top */
			rc = 0;
			continue;
		}
		break;
	}
	return rc;
}

int cl_table_apply_changes(cl_table *t, const cl_schema *schema,
			   const cl_batch *const *batches, int nbatches, const char *operation,
			   const char *app_id, int64_t app_version, cl_table_cow_stats *stats,
			   int64_t *version, cl_error *err)
{
	cl_table_changes *c;
	if (version)
		*version = -1;
	int rc = cl_table_changes_open(&c, t, schema, err);
	for (int i = 0; !rc && i < nbatches; i++)
		rc = cl_table_changes_add(c, batches[i], err);
	rc = rc ? rc : cl_table_changes_commit(c, operation, app_id, app_version, stats, version,
					       err);
	cl_table_changes_free(c);
	return rc;
}
