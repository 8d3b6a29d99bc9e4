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
 *
 * A scope qualifies when it holds at least min_small_files small files
 * (2 for `compact`, CL_AUTOCOMPACT_MIN_SMALL_FILES for auto-compaction)
 * or a file to purge; only qualifying scopes are read and rewritten, so
 * one plan (plan_build) serves both cl_table_compact_opts and
 * cl_table_compact_scopes.
 *
 * Auto-compaction (cl_table_autocompact) runs that machinery with the
 * auto thresholds after a writer's data commit, as its own commit on top
 * of the latest version: a conflict with a concurrent writer is not an
 * error (the result says "conflict"); nothing is lost because the data
 * commit stands either way.
 */
#include "delta.h"
#include "table_data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct scoped {
	const cl_table_file *f;
	char *scope;
	bool purge; /* rewritten for its deletion vector */
	bool small;
} scoped;

/* The candidate files of a snapshot (small or to purge), sorted by scope. */
typedef struct plan {
	scoped *fs;
	size_t n;
	int min_small;
} plan;

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

static void plan_release(plan *p)
{
	for (size_t i = 0; i < p->n; i++)
		cl_free(p->fs[i].scope);
	cl_free(p->fs);
	memset(p, 0, sizeof *p);
}

static int plan_build(plan *p, const cl_snapshot *s, const cl__table_layout *l,
		      const cl_compact_options *o, cl_error *err)
{
	memset(p, 0, sizeof *p);
	int64_t small_bytes = o->small_bytes > 0 ? o->small_bytes : l->target_bytes / 4;
	p->min_small = o->min_small_files > 0 ? o->min_small_files : 2;
	size_t n = cl_snapshot_nfiles(s);
	p->fs = cl_calloc(n + 1, sizeof *p->fs);
	if (!p->fs)
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		const cl_table_file *f = cl_snapshot_file(s, i);
		bool purge = needs_purge(f, o), small = f->size < small_bytes;
		if (!small && !purge)
			continue;
		cl_buf b = {0};
		if (cl__layout_scope_of_key(&b, f->path)) {
			cl_buf_release(&b);
			return cl_error_set(err, CL_ENOMEM, "out of memory");
		}
		p->fs[p->n].f = f;
		p->fs[p->n].purge = purge;
		p->fs[p->n].small = small;
		p->fs[p->n++].scope = (char *)cl_buf_detach(&b, NULL);
	}
	if (p->n > 1)
		qsort(p->fs, p->n, sizeof *p->fs, cmp_scoped);
	return 0;
}

/* The end of the scope starting at i; *qualifies: it is to be rewritten. */
static size_t scope_end(const plan *p, size_t i, bool *qualifies)
{
	size_t j = i;
	int nsmall = 0;
	bool purge = false;
	while (j < p->n && !strcmp(p->fs[j].scope, p->fs[i].scope)) {
		purge |= p->fs[j].purge;
		nsmall += p->fs[j++].small;
	}
	*qualifies = purge || nsmall >= p->min_small;
	return j;
}

int cl_table_compact_scopes(const cl_snapshot *s, const cl_compact_options *o, char ***out,
			    size_t *nout, cl_error *err)
{
	*out = NULL;
	*nout = 0;
	cl__table_layout l = {0};
	plan p = {0};
	int rc = cl__table_layout_init(&l, s, err);
	rc = rc ? rc : plan_build(&p, s, &l, o, err);
	char **v = rc ? NULL : cl_calloc(p.n + 1, sizeof *v);
	if (!rc && !v)
		rc = cl_error_set(err, CL_ENOMEM, "out of memory");
	size_t nv = 0;
	for (size_t i = 0; !rc && i < p.n;) {
		bool q;
		size_t j = scope_end(&p, i, &q);
		if (q) {
			v[nv] = p.fs[i].scope;
			p.fs[i].scope = NULL;
			nv++;
		}
		i = j;
	}
	plan_release(&p);
	cl__table_layout_release(&l);
	if (rc) {
		cl_free(v);
		return rc;
	}
	*out = v;
	*nout = nv;
	return 0;
}

int cl_table_compact(cl_table *t, int64_t small_bytes, cl_compact_result *res,
		     int64_t *version, cl_error *err)
{
	cl_compact_options o = {0};
	o.small_bytes = small_bytes;
	return cl_table_compact_opts(t, &o, res, version, err);
}

/* Compact snapshot s (the txn's base) of t by o. */
static int compact_snapshot(cl_table *t, const cl_snapshot *s, const cl_compact_options *opts,
			    cl_compact_result *res, int64_t *version, cl_error *err)
{
	cl_table_txn *x = NULL;
	cl__table_writer *w = NULL;
	cl__table_layout l = {0};
	plan p = {0};
	const char **group = NULL;
	int rc = cl__table_layout_init(&l, s, err);
	rc = rc ? rc : plan_build(&p, s, &l, opts, err);
	if (rc)
		goto out;
	bool any = false;
	for (size_t i = 0; !any && i < p.n;)
		i = scope_end(&p, i, &any);
	if (!any)
		goto out; /* nothing qualifies: no transaction, no commit */
	group = cl_calloc(p.n + 1, sizeof *group);
	if (!group) {
		rc = cl_error_set(err, CL_ENOMEM, "out of memory");
		goto out;
	}
	rc = cl_table_txn_begin(&x, t, s, "OPTIMIZE", err);
	rc = rc ? rc : cl__table_writer_open(&w, t, s, x, l.schema, err);
	if (rc)
		goto out;
	cl__table_writer_rearrange(w);
	for (size_t i = 0; !rc && i < p.n;) {
		bool q;
		size_t j = scope_end(&p, i, &q);
		if (q) {
			size_t ng = 0;
			for (size_t k = i; k < j; k++)
				group[ng++] = p.fs[k].f->path;
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
				const cl_table_file *f = p.fs[k].f;
				rc = cl_table_txn_remove(x, f, false, err);
				res->files_removed++;
				res->bytes_removed += f->size;
				if (f->dv) {
					res->files_purged++;
					res->rows_purged += f->dv->cardinality;
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
		if (opts->auto_compaction) /* as Databricks marks auto compaction */
			rc = cl_table_txn_set_param(x, "auto", "true", err);
		rc = rc ? rc : cl_table_txn_commit(x, version, err);
	}
out:
	cl__table_writer_free(w);
	cl_table_txn_free(x);
	plan_release(&p);
	cl_free(group);
	cl__table_layout_release(&l);
	return rc;
}

int cl_table_compact_opts(cl_table *t, const cl_compact_options *opts, cl_compact_result *res,
			  int64_t *version, cl_error *err)
{
	memset(res, 0, sizeof *res);
	if (version)
		*version = -1;
	cl_snapshot *s = NULL;
	int rc = cl_table_snapshot(&s, t, NULL, err);
	rc = rc ? rc : compact_snapshot(t, s, opts, res, version, err);
	cl_snapshot_free(s);
	return rc;
}

bool cl_table_autocompact_enabled(const cl_snapshot *s)
{
	const char *v = cl_snapshot_config(s, CL_TABLE_CONF_AUTO_COMPACT);
	if (v && !strcasecmp(v, "true"))
		return true;
	if (v && !strcasecmp(v, "false"))
		return false;
	return cl__dv_table_enabled(s);
}

/* Auto-compaction of t planned on snapshot s (the latest, or an older one
 * to make a conflict in tests). */
int cl__table_autocompact_at(cl_table *t, const cl_snapshot *s, int mode,
			     cl_autocompact_result *res, cl_error *err);

int cl__table_autocompact_at(cl_table *t, const cl_snapshot *s, int mode,
			     cl_autocompact_result *res, cl_error *err)
{
	memset(res, 0, sizeof *res);
	res->version = -1;
	res->enabled = mode > 0 || (mode == 0 && cl_table_autocompact_enabled(s));
	if (!res->enabled) {
		res->skipped = mode < 0 ? "turned off for this run" : "off for this table";
		return 0;
	}
	cl_compact_options o = {0};
	o.min_small_files = CL_AUTOCOMPACT_MIN_SMALL_FILES;
	o.purge_fraction = CL_AUTOCOMPACT_DV_FRACTION;
	o.auto_compaction = true;
	cl_error e = {0};
	int rc = compact_snapshot(t, s, &o, &res->compact, &res->version, &e);
	if (rc == CL_ECONFLICT) {
		/* an optimisation: a concurrent writer touched the same files */
		res->skipped = "conflict";
		res->version = -1;
		snprintf(res->message, sizeof res->message, "%s", e.message);
		return 0;
	}
	if (rc) {
		res->skipped = "error";
		res->version = -1;
		snprintf(res->message, sizeof res->message, "%s", e.message);
		if (err)
			*err = e;
		return rc;
	}
	if (res->version < 0)
		res->skipped = "nothing to compact";
	return 0;
}

int cl_table_autocompact(cl_table *t, int mode, cl_autocompact_result *res, cl_error *err)
{
	cl_snapshot *s = NULL;
	cl_error e = {0};
	int rc = cl_table_snapshot(&s, t, NULL, &e);
	if (rc) {
		memset(res, 0, sizeof *res);
		res->version = -1;
		res->enabled = mode > 0;
		res->skipped = "error";
		snprintf(res->message, sizeof res->message, "%s", e.message);
		if (err)
			*err = e;
		return rc;
	}
	rc = cl__table_autocompact_at(t, s, mode, res, err);
	cl_snapshot_free(s);
	return rc;
}
