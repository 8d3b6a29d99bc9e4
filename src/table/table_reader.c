/*
 * table_reader.c — a lake table (at its latest version, a version or a
 * timestamp) read as a cl_reader, so every consumer of readers (cat,
 * convert, diff, apply, ...) takes a table as it takes a file.
 *
 * The reader owns the table, the snapshot and a cl_table_scan over it; the
 * batches are the scan's (the table schema, or its projection by
 * o->columns). Only the live files of the snapshot are read — never the
 * files a later or earlier commit removed, which a listing of the folder
 * would also find. The format-specific read options (CSV, declared
 * schema) do not apply to a table and are ignored.
 *
 * The table layer sits above the format layer, so building a cl_reader
 * here (format_impl.h) keeps the layers pointing one way.
 */
#include "changelake/table.h"
#include "format/format_impl.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

typedef struct table_reader {
	cl_table *t;
	cl_snapshot *s;
	cl_table_scan *sc;
	char *location;
	char *source; /* "location/file" of the last batch */
	size_t source_cap;
} table_reader;

static int tr_next(struct cl_reader *r, cl_batch **out, cl_error *err)
{
	table_reader *tr = r->impl;
	int rc = cl_table_scan_next(tr->sc, out, err);
	if (rc)
		cl_error_prefix(err, "%s: ", r->path);
	return rc;
}

static void tr_free(struct cl_reader *r)
{
	table_reader *tr = r->impl;
	if (!tr)
		return;
	cl_table_scan_free(tr->sc);
	cl_snapshot_free(tr->s);
	cl_table_free(tr->t);
	cl_free(tr->location);
	cl_free(tr->source);
	cl_free(tr);
	r->impl = NULL;
}

static const cl__reader_ops table_ops = {tr_next, tr_free};

bool cl_table_is_table(const char *ref)
{
	char *loc = NULL;
	cl_table_at at;
	if (cl_table_ref_parse(&loc, &at, ref, NULL))
		return false;
	size_t n = strlen(loc);
	char *log = cl_malloc(n + 16);
	bool yes = false;
	if (log) {
		snprintf(log, n + 16, "%s/_delta_log", loc);
		struct stat st;
		yes = stat(log, &st) == 0 && S_ISDIR(st.st_mode);
	}
	cl_free(log);
	cl_free(loc);
	return yes;
}

int cl_table_reader_open(cl_reader **out, const char *ref, const cl_read_options *o,
			 cl_error *err)
{
	*out = NULL;
	cl_reader *r = cl_calloc(1, sizeof *r);
	table_reader *tr = cl_calloc(1, sizeof *tr);
	if (!r || !tr) {
		cl_free(r);
		cl_free(tr);
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	}
	r->impl = tr;
	r->ops = &table_ops;
	r->format = CL_FORMAT_PARQUET;
	r->total_rows = -1;
	int rc = 0;
	cl_table_at at;
	if (!(r->path = cl_strdup(ref))) {
		rc = cl_error_set(err, CL_ENOMEM, "out of memory");
		goto fail;
	}
	if ((rc = cl_table_ref_parse(&tr->location, &at, ref, err)) ||
	    (rc = cl_table_open(&tr->t, tr->location, err)))
		goto fail;
	if ((rc = cl_table_snapshot(&tr->s, tr->t, &at, err))) {
		/* the snapshot's messages name the location already */
		if (rc == CL_ENOTFOUND && at.kind == CL_AT_LATEST)
			cl_error_set(err, rc, "%s: not a lake table (no commits in %s/_delta_log)",
				     ref, tr->location);
		goto fail;
	}
	cl_table_scan_options so = {0};
	if (o) {
		so.batch_rows = o->batch_rows;
		so.columns = o->columns;
		so.ncolumns = o->ncolumns;
	}
	if ((rc = cl_table_scan_open(&tr->sc, tr->t, tr->s, &so, err))) {
		cl_error_prefix(err, "%s: ", ref);
		goto fail;
	}
	if ((rc = cl_schema_copy(&r->schema, cl_table_scan_schema(tr->sc), err)))
		goto fail;
	r->total_rows = cl_snapshot_num_records(tr->s);
	*out = r;
	return 0;
fail:
	cl_reader_free(r);
	return rc;
}

static table_reader *as_table(const cl_reader *r)
{
	return r && r->ops == &table_ops ? r->impl : NULL;
}

const cl_snapshot *cl_table_reader_snapshot(const cl_reader *r)
{
	table_reader *tr = as_table(r);
	return tr ? tr->s : NULL;
}

const char *cl_table_reader_source(const cl_reader *r, int64_t *first_row)
{
	table_reader *tr = as_table(r);
	if (first_row)
		*first_row = 0;
	if (!tr)
		return NULL;
	int64_t first = 0;
	const cl_table_file *f = cl_table_scan_file(tr->sc, &first);
	if (first_row)
		*first_row = first;
	if (!f)
		return r->path;
	size_t need = strlen(tr->location) + strlen(f->path) + 2;
	if (need > tr->source_cap) {
		char *p = cl_realloc(tr->source, need);
		if (!p)
			return r->path;
		tr->source = p;
		tr->source_cap = need;
	}
	snprintf(tr->source, need, "%s/%s", tr->location, f->path);
	return tr->source;
}
