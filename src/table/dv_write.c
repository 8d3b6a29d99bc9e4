/*
 * dv_write.c — the merge-on-read side of copy-on-write (table_cow.c) on a
 * table with deletion vectors (delta.enableDeletionVectors=true and the
 * writer feature deletionVectors):
 *
 *   cl__dv_read_keys   reads a data file's KEY COLUMNS only (a Parquet
 *                      projection, no row-group pruning, so row positions
 *                      are physical: counted from 0 across row groups), in
 *                      the table's key types (a key that is a partition
 *                      column comes from the file's partition value), and
 *                      hands each batch to a callback with the physical
 *                      position of its first row and which rows the file's
 *                      current deletion vector already deletes;
 *   cl__dv_marks       collects, per file, the positions of the changed
 *                      keys; the union with the file's current vector is
 *                      either the whole file (the file is simply removed)
 *                      or a new vector appended to the commit's ONE vector
 *                      file. cl__dv_marks_finish publishes that file (put
 *                      if absent, durable) before the caller commits, then
 *                      puts "remove (path, old vector)" + "add (same path,
 *                      size, partition values, new vector, statistics with
 *                      tightBounds false)" into the transaction.
 *
 * Invariants: a file's new vector is a superset of its old one; the rows a
 * scan sees of a file after the commit are exactly its old live rows minus
 * the changed keys; a vector file that is published but never committed is
 * an orphan that vacuum deletes. Removing the (path, old vector) makes a
 * concurrent commit that changed the same file's vector a conflict.
 */
#include "delta.h"
#include "dv.h"
#include "table_data.h"
#include "core/value_text.h"
#include "storage/crash_point.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int oom(cl_error *err)
{
	return cl_error_set(err, CL_ENOMEM, "out of memory");
}

bool cl__dv_table_enabled(const cl_snapshot *s)
{
	const char *c = cl_snapshot_config(s, "delta.enableDeletionVectors");
	if (!c || strcmp(c, "true") || s->min_writer < 7)
		return false;
	for (int i = 0; i < s->nwriter_features; i++)
		if (!strcmp(s->writer_features[i], "deletionVectors"))
			return true;
	return false;
}

int cl__dv_read_keys(cl_table *t, const cl__table_layout *l, const cl_table_file *f,
		     cl__dv_keys_fn fn, void *ctx, int64_t *nrows, uint64_t **deleted,
		     size_t *ndeleted, cl_error *err)
{
	cl_store *st = cl_table_store(t);
	char *local = NULL;
	bool tmp = false;
	cl_reader *r = NULL;
	uint64_t *old = NULL;
	size_t nold = 0, oi = 0;
	uint8_t *live = NULL;
	int64_t live_cap = 0, pos = 0;
	int nk = l->nkeys;
	int fcol[64];           /* key -> reader column, -1: partition value or missing */
	int pidx[64];           /* key -> partition column index, or -1 */
	cl_column conv[64];     /* converted keys (types differ / partition / missing) */
	bool use_conv[64];
	cl_column *cols[64];
	const char *proj[65];
	int nproj = 0;
	*nrows = 0;
	*deleted = NULL;
	*ndeleted = 0;
	if (nk > 64)
		return cl_error_set(err, CL_EUNSUPPORTED, "more than 64 key columns");
	memset(conv, 0, sizeof conv);
	int rc = 0;
	if (f->dv)
		rc = cl__dv_load(&old, &nold, st, f->dv, f->path, err);
	rc = rc ? rc : cl_store_fetch(st, f->path, &local, &tmp, err);
	if (rc) {
		cl_free(old);
		return cl_error_prefix(err, "table data file %s: ", f->path);
	}
	cl_parquet_file *pf = NULL;
	rc = cl_parquet_file_open(&pf, local, err);
	for (int k = 0; !rc && k < nk; k++) {
		int ti = l->key_index[k];
		pidx[k] = -1;
		fcol[k] = -1;
		for (int p = 0; p < l->npart; p++)
			if (l->part_index[p] == ti)
				pidx[k] = p;
		if (pidx[k] < 0 && cl_parquet_file_find_column(pf, l->schema->fields[ti].name) >= 0)
			proj[nproj++] = l->schema->fields[ti].name;
	}
	/* no key column in the file: any one column still gives the row count */
	for (int i = 0; !rc && nproj == 0 && i < l->file_schema->nfields; i++)
		if (cl_parquet_file_find_column(pf, l->file_schema->fields[i].name) >= 0)
			proj[nproj++] = l->file_schema->fields[i].name;
	cl_parquet_file_free(pf);
	if (!rc && nproj == 0)
		rc = cl_error_set(err, CL_EFORMAT, "%s: no column of the table", f->path);
	cl_read_options ro;
	cl_read_options_init(&ro);
	ro.format = CL_FORMAT_PARQUET;
	ro.columns = proj;
	ro.ncolumns = nproj;
	rc = rc ? rc : cl_reader_open(&r, local, &ro, err);
	if (rc)
		goto out;
	const cl_schema *rs = cl_reader_schema(r);
	for (int k = 0; k < nk; k++) {
		const cl_field *kf = &l->schema->fields[l->key_index[k]];
		if (pidx[k] < 0)
			fcol[k] = cl_schema_find(rs, kf->name);
		use_conv[k] = fcol[k] < 0 || !cl_type_equal(rs->fields[fcol[k]].type, kf->type);
		if ((rc = cl_column_init(&conv[k], kf->type, 1024, err)) != 0)
			goto out;
	}
	cl_batch *b;
	while (!(rc = cl_reader_next(r, &b, err)) && b) {
		for (int k = 0; !rc && k < nk; k++) {
			if (!use_conv[k]) {
				cols[k] = &b->cols[fcol[k]];
				continue;
			}
			cols[k] = &conv[k];
			cl_column_clear(&conv[k]);
			const char *pv = pidx[k] >= 0 ? f->partition[pidx[k]].value : NULL;
			for (int64_t i = 0; !rc && i < b->nrows; i++) {
				if (fcol[k] >= 0)
					rc = cl__append_converted(&conv[k], &b->cols[fcol[k]], i, err);
				else if (pv)
					rc = cl__column_append_text(&conv[k], pv, strlen(pv), err);
				else
					rc = cl_column_append_null(&conv[k], err);
			}
			if (rc)
				cl_error_prefix(err, "%s: key column '%s': ", f->path,
						l->schema->fields[l->key_index[k]].name);
		}
		if (rc)
			break;
		if (b->nrows > live_cap) {
			cl_free(live);
			live_cap = b->nrows;
			if (!(live = cl_malloc((size_t)live_cap))) {
				live_cap = 0;
				rc = oom(err);
				break;
			}
		}
		for (int64_t i = 0; i < b->nrows; i++) {
			uint64_t p = (uint64_t)(pos + i);
			while (oi < nold && old[oi] < p)
				oi++;
			live[i] = !(oi < nold && old[oi] == p);
		}
		rc = fn(ctx, cols, b->nrows, live, pos, err);
		pos += b->nrows;
		if (rc)
			break;
	}
	if (rc)
		cl_error_prefix(err, "table data file %s: ", f->path);
	if (!rc && nold && old[nold - 1] >= (uint64_t)pos)
		rc = cl_error_set(err, CL_EFORMAT, "%s: its deletion vector deletes row %llu of a "
				  "file of %lld rows", f->path, (unsigned long long)old[nold - 1],
				  (long long)pos);
	*nrows = pos;
out:
	for (int k = 0; k < nk; k++)
		cl_column_release(&conv[k]);
	cl_reader_free(r);
	if (local && tmp)
		remove(local);
	cl_free(local);
	cl_free(live);
	if (rc) {
		cl_free(old);
	} else {
		*deleted = old;
		*ndeleted = nold;
	}
	return rc;
}

/* ---- statistics with tightBounds false ---- */

int cl__dv_loose_stats(cl_buf *out, const char *stats)
{
	size_t n = strlen(stats);
	/* find a top-level "tightBounds" member */
	int depth = 0;
	bool in_str = false, esc = false;
	for (size_t i = 0; i < n; i++) {
		char c = stats[i];
		if (in_str) {
			if (esc)
				esc = false;
			else if (c == '\\')
				esc = true;
			else if (c == '"')
				in_str = false;
			continue;
		}
		if (c == '"') {
			in_str = true;
			if (depth == 1 && !strncmp(stats + i, "\"tightBounds\"", 13)) {
				size_t j = i + 13;
				while (j < n && (stats[j] == ' ' || stats[j] == '\t'))
					j++;
				if (j < n && stats[j] == ':') {
					j++;
					while (j < n && (stats[j] == ' ' || stats[j] == '\t'))
						j++;
					size_t vlen = !strncmp(stats + j, "true", 4) ? 4
						    : !strncmp(stats + j, "false", 5) ? 5 : 0;
					if (vlen) {
						int rc = cl_buf_append(out, stats, j);
						rc = rc ? rc : cl_buf_puts(out, "false");
						rc = rc ? rc : cl_buf_append(out, stats + j + vlen,
									     n - j - vlen);
						return rc ? rc : cl_buf_putc(out, 0);
					}
				}
			}
			continue;
		}
		if (c == '{' || c == '[')
			depth++;
		else if (c == '}' || c == ']')
			depth--;
	}
	/* none: add it as the first member */
	const char *brace = strchr(stats, '{');
	if (!brace)
		return cl_buf_puts(out, "{\"tightBounds\":false}") || cl_buf_putc(out, 0)
			       ? CL_ENOMEM : 0;
	size_t at = (size_t)(brace - stats) + 1;
	const char *rest = stats + at;
	while (*rest == ' ' || *rest == '\t' || *rest == '\n' || *rest == '\r')
		rest++;
	int rc = cl_buf_append(out, stats, at);
	rc = rc ? rc : cl_buf_puts(out, *rest == '}' ? "\"tightBounds\":false"
						      : "\"tightBounds\":false,");
	rc = rc ? rc : cl_buf_append(out, stats + at, n - at);
	return rc ? rc : cl_buf_putc(out, 0);
}

/* ---- the deletions of one commit ---- */

typedef struct marked {
	const cl_table_file *f;
	cl_table_dv dv;     /* the new vector (path borrowed from the dv file) */
} marked;

struct cl__dv_marks {
	cl__dv_file *file;
	marked *m;
	size_t n, cap;
	int64_t added, updated, removed; /* vectors: new, grown, dropped with the file */
	int64_t files_removed, bytes_removed, rows_marked;
};

int cl__dv_marks_open(cl__dv_marks **out, cl_error *err)
{
	*out = cl_calloc(1, sizeof **out);
	if (!*out)
		return oom(err);
	int rc = cl__dv_file_open(&(*out)->file, err);
	if (rc) {
		cl_free(*out);
		*out = NULL;
	}
	return rc;
}

void cl__dv_marks_free(cl__dv_marks *m)
{
	if (!m)
		return;
	cl__dv_file_free(m->file);
	cl_free(m->m);
	cl_free(m);
}

int cl__dv_marks_add(cl__dv_marks *m, cl_table_txn *x, const cl_table_file *f,
		     const uint64_t *old, size_t nold, const uint64_t *pos, size_t npos,
		     int64_t nrows, cl_error *err)
{
	if (npos == 0)
		return 0;
	uint64_t *all = NULL;
	size_t nall = 0;
	int rc = cl__dv_union(&all, &nall, old, nold, pos, npos, err);
	if (rc)
		return rc;
	m->rows_marked += (int64_t)(nall - nold);
	if ((int64_t)nall >= nrows) {
		/* every row deleted: the file goes */
		rc = cl_table_txn_remove(x, f, true, err);
		m->files_removed++;
		m->bytes_removed += f->size;
		if (f->dv)
			m->removed++;
		cl_free(all);
		return rc;
	}
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 16;
		marked *nm = cl_realloc(m->m, cap * sizeof *nm);
		if (!nm) {
			cl_free(all);
			return oom(err);
		}
		m->m = nm;
		m->cap = cap;
	}
	marked *e = &m->m[m->n];
	memset(e, 0, sizeof *e);
	e->f = f;
	rc = cl__dv_file_append(m->file, all, nall, &e->dv, err);
	cl_free(all);
	if (rc)
		return cl_error_prefix(err, "%s: deletion vector: ", f->path);
	m->n++;
	if (f->dv)
		m->updated++;
	else
		m->added++;
	return 0;
}

int cl__dv_marks_finish(cl__dv_marks *m, cl_table *t, cl_table_txn *x, cl_table_cow_stats *st,
			cl_error *err)
{
	const char *key = NULL;
	int64_t bytes = 0;
	int rc = 0;
	if (m->n) {
		rc = cl__dv_file_publish(m->file, cl_table_store(t), &key, &bytes, err);
		if (!rc)
			cl__crash_point("dv-file-published");
	}
	cl_buf stats = {0};
	for (size_t i = 0; !rc && i < m->n; i++) {
		const cl_table_file *f = m->m[i].f;
		cl_buf_clear(&stats);
		if (f->stats_json && cl__dv_loose_stats(&stats, f->stats_json)) {
			rc = oom(err);
			break;
		}
		cl_table_add a = {0};
		a.path = f->path;
		a.size = f->size;
		a.mtime_ms = f->mtime_ms;
		a.partition = f->partition;
		a.npartition = f->npartition;
		a.stats_json = f->stats_json ? (const char *)stats.data : NULL;
		a.data_change = true;
		a.dv = &m->m[i].dv;
		rc = cl_table_txn_remove(x, f, true, err);
		rc = rc ? rc : cl_table_txn_add(x, &a, err);
	}
	cl_buf_release(&stats);
	if (rc)
		return rc;
	st->files_dv += (int64_t)m->n;
	st->dv_bytes += bytes;
	st->files_rewritten += m->files_removed;
	st->bytes_removed += m->bytes_removed;
	return 0;
}

void cl__dv_marks_counts(const cl__dv_marks *m, int64_t *added, int64_t *updated,
			 int64_t *removed, int64_t *files_removed, int64_t *bytes_removed)
{
	*added = m->added;
	*updated = m->updated;
	*removed = m->removed;
	*files_removed = m->files_removed;
	*bytes_removed = m->bytes_removed;
}
