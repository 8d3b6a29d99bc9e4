/*
 * table_cow_file.c — one candidate file of a copy-on-write: read batch by
 * batch, its rows' keys probed in the key set (table_cow_keys.h).
 *
 * Copy-on-write (cow_file): a file that holds a changed key is removed
 * and its other rows go to the sink as they are read (they land in the
 * same partition and bucket); rows before its first changed key are held
 * until that is found; a bucket writer takes a batch's surviving rows as
 * runs of the scanned batch, with no copy, when they come in long runs. A
 * file that holds none is left alone. Merge-on-read (dv_hits_fn): the file
 * is read for its key columns only and the positions of its live rows
 * holding a changed key are marked deleted in the commit's vector
 * (dv_write.c), without rewriting the file.
 *
 * Invariants: the surviving rows keep their order; keep is empty on entry
 * and on return; memory is one batch plus the rows before the first
 * changed key, not the file; each key found gets K_FOUND in its slot (the
 * only write to the shared key set).
 */
#include "delta.h"
#include "table_cow_impl.h"

#include <string.h>

static int oom(cl_error *err)
{
	return cl_error_set(err, CL_ENOMEM, "out of memory");
}

static int scratch_reserve(cl__cow_scratch *z, int64_t n, cl_error *err)
{
	if (n <= z->cap)
		return 0;
	cl_free(z->h);
	cl_free(z->hit);
	cl_free(z->idx);
	cl_free(z->runs);
	z->h = cl_malloc((size_t)n * sizeof *z->h);
	z->hit = cl_malloc((size_t)n * sizeof *z->hit);
	z->idx = cl_malloc((size_t)n * sizeof *z->idx);
	z->runs = cl_malloc(2 * ((size_t)n + 1) * sizeof *z->runs);
	z->cap = z->h && z->hit && z->idx && z->runs ? n : 0;
	return z->cap ? 0 : oom(err);
}

void cl__cow_scratch_release(cl__cow_scratch *z)
{
	cl_free(z->h);
	cl_free(z->hit);
	cl_free(z->idx);
	cl_free(z->runs);
	cl_batch_free(z->keep);
	memset(z, 0, sizeof *z);
}

/*
 * A batch whose surviving rows come in runs of this many rows or more on
 * average goes to a bucket writer as runs of the scanned batch itself
 * (cl__bucket_writer_write_runs): no copy of the rows into keep. Shorter
 * runs are gathered into keep first: the writer's work per run (every
 * column's page and statistics bookkeeping) would cost more than the copy.
 */
enum { DIRECT_RUN_ROWS = 32 };

/* The runs of b's rows other than hit[0..nhit) (ascending) as (start,
 * count) pairs in runs; returns their number. */
static int64_t survivor_runs(int64_t *runs, int64_t n, const int64_t *hit, int64_t nhit)
{
	int64_t k = 0, from = 0;
	for (int64_t i = 0; i <= nhit; i++) {
		int64_t to = i < nhit ? hit[i] : n;
		if (to > from) {
			runs[2 * k] = from;
			runs[2 * k + 1] = to - from;
			k++;
		}
		from = to + 1;
	}
	return k;
}

/*
 * Append the rows of b other than hit[0..nhit) (ascending) to keep: in
 * runs (one copy per run and column) when the runs are long, else through
 * the list of surviving rows (one gather per column). Column by column, so
 * one column's source and destination stay in the caches.
 */
static int keep_survivors(cl_batch *keep, const cl_batch *b, const int64_t *hit, int64_t nhit,
			  int64_t *idx, cl_error *err)
{
	int64_t n = b->nrows, nkeep = n - nhit;
	int rc = 0;
	if (nkeep <= 0)
		return 0;
	if (nhit * 8 <= n) {
		for (int c = 0; !rc && c < keep->ncols; c++) {
			int64_t from = 0;
			for (int64_t i = 0; !rc && i <= nhit; i++) {
				int64_t to = i < nhit ? hit[i] : n;
				if (to > from)
					rc = cl_column_append_range(&keep->cols[c], &b->cols[c], from,
								    to - from, err);
				from = to + 1;
			}
		}
	} else {
		int64_t k = 0, j = 0;
		for (int64_t r = 0; r < n; r++) {
			if (j < nhit && hit[j] == r) {
				j++;
				continue;
			}
			idx[k++] = r;
		}
		for (int c = 0; !rc && c < keep->ncols; c++)
			rc = cl_column_append_take(&keep->cols[c], &b->cols[c], idx, nkeep, err);
	}
	if (!rc)
		keep->nrows += nkeep;
	return rc;
}

/*
 * Copy-on-write of one candidate file, streamed batch by batch: the rows
 * whose keys did not change are gathered into z->keep and handed to the
 * writer. Until the file's first changed key is found its rows are held in
 * keep, since a file holding none is left alone; from then on keep is
 * written after every batch, so memory is one batch (plus the rows before
 * the first changed key), not the file. keep is empty on entry and on
 * return.
 */
static int cow_file(cl_table *t, const cl_snapshot *s, const cl__table_layout *l,
		    cl__keyset *ks, const cl__cow_sink *w, cl_table_txn *x,
		    const cl_table_file *f, cl__cow_scratch *z, cl_table_cow_stats *st,
		    cl_error *err)
{
	cl_column *kcols[64];
	cl_batch *keep = z->keep;
	int rc;
	const char *only[1] = {f->path};
	cl_table_scan_options so = {0};
	so.only_files = only;
	so.nonly_files = 1;
	cl_table_scan *sc = NULL;
	rc = cl_table_scan_open(&sc, t, s, &so, err);
	if (!rc)
		cl__table_scan_lend(sc); /* its batches are only read */
	bool touched = false;
	int64_t hits_deleted = 0, copied = 0;
	cl_batch *b;
	while (!rc && !(rc = cl_table_scan_next(sc, &b, err)) && b) {
		int64_t n = b->nrows, nhit = 0;
		if ((rc = scratch_reserve(z, n, err)))
			break;
		for (int k = 0; k < l->nkeys; k++)
			kcols[k] = &b->cols[l->key_index[k]];
		cl__keys_hash(z->h, kcols, l->nkeys, n);
		for (int64_t r = 0; ks->cap && r < n; r++) {
			if (r + PREFETCH_AHEAD < n && cl__keyset_maybe(ks, z->h[r + PREFETCH_AHEAD]))
				cl__keyset_prefetch(ks, z->h[r + PREFETCH_AHEAD]);
			if (!cl__keyset_maybe(ks, z->h[r]))
				continue;
			cl__kslot *e = cl__keyset_find(ks, kcols, r, z->h[r]);
			uint16_t fl = cl__kslot_flags(e);
			if (!fl)
				continue;
			if (fl & K_DELETE)
				hits_deleted++;
			cl__kslot_set_found(e);
			z->hit[nhit++] = r;
		}
		touched |= nhit > 0;
		if (touched && w->bw && (nhit + 1) * DIRECT_RUN_ROWS <= n) {
			/* the rows held so far, then this batch's survivors
			 * straight from it (the same rows in the same order) */
			if (keep->nrows) {
				copied += keep->nrows;
				rc = cl__cow_sink_write(w, keep, err);
				cl_batch_clear(keep);
			}
			int64_t nr = survivor_runs(z->runs, n, z->hit, nhit);
			copied += n - nhit;
			rc = rc ? rc : cl__bucket_writer_write_runs(w->bw, b, z->runs, nr, err);
			continue;
		}
		rc = keep_survivors(keep, b, z->hit, nhit, z->idx, err);
		if (!rc && touched && keep->nrows) {
			copied += keep->nrows;
			rc = cl__cow_sink_write(w, keep, err);
			cl_batch_clear(keep);
		}
	}
	cl_table_scan_free(sc);
	/* a file left alone: its rows are not written, and the room they took
	 * (past a few batches) is given back */
	for (int c = 0; !touched && keep->nrows > 4 * 65536 && c < keep->ncols; c++) {
		cl_type ty = keep->cols[c].type;
		cl_column_release(&keep->cols[c]);
		rc = rc ? rc : cl_column_init(&keep->cols[c], ty, 1024, err);
	}
	cl_batch_clear(keep);
	if (!rc && touched) {
		st->files_rewritten++;
		st->bytes_removed += f->size;
		st->rows_deleted += hits_deleted;
		st->rows_copied += copied;
		rc = cl_table_txn_remove(x, f, true, err);
	}
	return rc;
}

static int dv_hits_fn(void *ctx, cl_column *const *keys, int64_t n, const uint8_t *live,
		      int64_t first_pos, cl_error *err)
{
	cl__cow_dv_hits *d = ctx;
	if (n == 0 || !d->ks->cap)
		return 0;
	if (n > d->hcap) {
		cl_free(d->h);
		d->hcap = n;
		if (!(d->h = cl_malloc((size_t)n * sizeof *d->h))) {
			d->hcap = 0;
			return oom(err);
		}
	}
	cl__keys_hash(d->h, keys, d->nkeys, n);
	for (int64_t r = 0; r < n; r++) {
		if (r + PREFETCH_AHEAD < n)
			cl__keyset_prefetch(d->ks, d->h[r + PREFETCH_AHEAD]);
		if (!live[r])
			continue;
		cl__kslot *e = cl__keyset_find(d->ks, keys, r, d->h[r]);
		uint16_t fl = cl__kslot_flags(e);
		if (!fl)
			continue;
		if (fl & K_DELETE)
			d->deleted++;
		cl__kslot_set_found(e);
		if (d->npos == d->pcap) {
			size_t cap = d->pcap ? d->pcap * 2 : 64;
			uint64_t *np = cl_realloc(d->pos, cap * sizeof *np);
			if (!np)
				return oom(err);
			d->pos = np;
			d->pcap = cap;
		}
		d->pos[d->npos++] = (uint64_t)(first_pos + r);
	}
	return 0;
}

int cl__cow_cand_file(cl__cow_ctx *c, const cl__cow_sink *w, const cl_table_file *f,
		      cl_table_cow_stats *st, cl_error *err)
{
	st->files_candidates++;
	cl_buf_clear(c->scope);
	if (cl__layout_scope_of_key(c->scope, f->path))
		return oom(err);
	int rc = cl_table_txn_read_scope(c->x, (const char *)c->scope->data, err);
	if (rc)
		return rc;
	if (!c->marks)
		return cow_file(c->t, c->s, c->l, c->ks, w, c->x, f, c->z, st, err);
	/* merge-on-read: key columns only, changed rows marked deleted */
	int64_t nrows = 0;
	uint64_t *old = NULL; /* rows its current vector deletes */
	size_t nold = 0;
	c->dh->npos = 0;
	c->dh->deleted = 0;
	rc = cl__dv_read_keys(c->t, c->l, f, dv_hits_fn, c->dh, &nrows, &old, &nold, err);
	st->rows_deleted += c->dh->deleted;
	rc = rc ? rc : cl__dv_marks_add(c->marks, c->x, f, old, nold, c->dh->pos, c->dh->npos,
					nrows, err);
	cl_free(old);
	return rc;
}
