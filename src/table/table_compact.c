/*
 * table_compact.c — bin-packing small files: within each partition folder
 * and bucket (a scope), files smaller than a threshold are read and
 * rewritten together, so readers open fewer files. The rows, and so the
 * table's content, do not change: removes and adds carry dataChange false.
 * Rows stay in their scope (same partition values, same key bucket).
 * Purge: a file with a deletion vector (every one, or those deleting more
 * than a fraction of their rows) is rewritten too, even alone in its
 * group; the scan drops the deleted rows, so the new files carry none and
 * have no vector.
 */
#include "delta.h"
#include "table_data.h"

#include <stdlib.h>
#include <string.h>

typedef struct scoped {
	const cl_table_file *f;
	char *scope;
	bool purge; /* rewritten for its deletion vector */
} scoped;

static int cmp_scoped(const void *a, const void *b)
{
	const scoped *x = a, *y = b;
	int c = strcmp(x->scope, y->scope);
	return c ? c : strcmp(x->f->path, y->f->path);
}

/* Is f's deletion vector to be purged? */
static bool needs_purge(const cl_table_file *f, const cl_compact_options *o)
{
	if (!f->dv)
		return false;
	if (o->purge || f->num_records <= 0)
		return true;
	double frac = o->purge_fraction > 0 ? o->purge_fraction : 0.1;
	return (double)f->dv->cardinality > frac * (double)f->num_records;
}

int cl_table_compact(cl_table *t, int64_t small_bytes, cl_compact_result *res,
		     int64_t *version, cl_error *err)
{
	cl_compact_options o = {0};
	o.small_bytes = small_bytes;
	return cl_table_compact_opts(t, &o, res, version, err);
}

int cl_table_compact_opts(cl_table *t, const cl_compact_options *opts, cl_compact_result *res,
			  int64_t *version, cl_error *err)
{
	int64_t small_bytes = opts->small_bytes;
	memset(res, 0, sizeof *res);
	if (version)
		*version = -1;
	cl_snapshot *s = NULL;
	cl_table_txn *x = NULL;
	cl__table_writer *w = NULL;
	cl__table_layout l = {0};
	scoped *fs = NULL;
	size_t nfs = 0;
	const char **group = NULL;
	int rc = cl_table_snapshot(&s, t, NULL, err);
	rc = rc ? rc : cl__table_layout_init(&l, s, err);
	if (rc)
		goto out;
	if (small_bytes <= 0)
		small_bytes = l.target_bytes / 4;
	size_t n = cl_snapshot_nfiles(s);
	fs = cl_calloc(n + 1, sizeof *fs);
	group = cl_calloc(n + 1, sizeof *group);
	if (!fs || !group) {
		rc = cl_error_set(err, CL_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const cl_table_file *f = cl_snapshot_file(s, i);
		bool purge = needs_purge(f, opts);
		if (f->size >= small_bytes && !purge)
			continue;
		cl_buf b = {0};
		if (cl__layout_scope_of_key(&b, f->path)) {
			cl_buf_release(&b);
			rc = cl_error_set(err, CL_ENOMEM, "out of memory");
			goto out;
		}
		fs[nfs].f = f;
		fs[nfs].purge = purge;
		fs[nfs++].scope = (char *)cl_buf_detach(&b, NULL);
	}
	if (nfs > 1)
		qsort(fs, nfs, sizeof *fs, cmp_scoped);
	rc = cl_table_txn_begin(&x, t, s, "OPTIMIZE", err);
	rc = rc ? rc : cl__table_writer_open(&w, t, s, x, l.schema, err);
	if (rc)
		goto out;
	cl__table_writer_rearrange(w);
	for (size_t i = 0; !rc && i < nfs;) {
		size_t j = i;
		bool purge = false;
		while (j < nfs && !strcmp(fs[j].scope, fs[i].scope))
			purge |= fs[j++].purge;
		if (j - i >= 2 || purge) {
			size_t ng = 0;
			for (size_t k = i; k < j; k++)
				group[ng++] = fs[k].f->path;
			cl_table_scan_options o = {0};
			o.only_files = group;
			o.nonly_files = ng;
			cl_table_scan *sc = NULL;
			rc = cl_table_scan_open(&sc, t, s, &o, err);
			cl_batch *b;
			while (!rc && !(rc = cl_table_scan_next(sc, &b, err)) && b)
				rc = cl__table_writer_write(w, b, err);
			cl_table_scan_free(sc);
			for (size_t k = i; !rc && k < j; k++) {
				rc = cl_table_txn_remove(x, fs[k].f, false, err);
				res->files_removed++;
				res->bytes_removed += fs[k].f->size;
				if (fs[k].f->dv) {
					res->files_purged++;
					res->rows_purged += fs[k].f->dv->cardinality;
				}
			}
			res->groups++;
		}
		i = j;
	}
	rc = rc ? rc : cl__table_writer_finish(w, err);
	if (!rc && res->groups) {
		int64_t files, rows, bytes;
		cl__table_writer_counts(w, &files, &rows, &bytes);
		res->files_added = files;
		res->bytes_added = bytes;
		rc = cl_table_txn_commit(x, version, err);
	}
out:
	cl__table_writer_free(w);
	cl_table_txn_free(x);
	for (size_t i = 0; i < nfs; i++)
		cl_free(fs[i].scope);
	cl_free(fs);
	cl_free(group);
	cl__table_layout_release(&l);
	cl_snapshot_free(s);
	return rc;
}
