/*
 * table_cow.c — the copy-on-write primitive: upserts and deletes by key,
 * rewriting only the data files that hold a changed key.
 *
 * Steps:
 *   1. every changed key is converted to the table's key types, hashed to
 *      its bucket (the same hash the writer routes rows by) and put in a
 *      typed hash set (hash, batch, row -> upsert/delete; see table_cow_keys.h);
 *   2. candidates: live files in a changed key's bucket whose key
 *      statistics range (single-column keys) may contain one of the keys
 *      of that bucket. All partitions are searched, because an upsert may
 *      move a key to another partition and a delete names no partition;
 *   3. each candidate is read batch by batch; one that holds a changed key
 *      is removed and its other rows go to the writer as they are read
 *      (they land in the same partition and bucket; rows before its first
 *      changed key are held until that is found; a bucket's own writer
 *      takes a batch's surviving rows as runs of the scanned batch, with
 *      no copy, when they come in long runs); one that holds none is
 *      left alone;
 *      On a table with deletion vectors (merge-on-read, dv_write.c) a
 *      candidate is read for its key columns only and the positions of
 *      its live rows holding a changed key are marked deleted in a new
 *      vector (one vector file per commit), without rewriting the file;
 *   4. the upserted rows go to the writer; the writer's files are added.
 *      On a bucketed table without partition columns each bucket is a
 *      job done through a writer of its own: its candidate files, then
 *      its upserts, then its new file finished and the writer freed. The
 *      jobs run on cl_table_txn_threads(x) threads (cl__cow_buckets), each taking
 *      the next bucket: memory is one bucket's file and buffers per
 *      thread. Each job records its file actions in a fork of the
 *      transaction; the forks are joined in bucket order, so the
 *      commit's actions do not depend on the thread count. A column that fell back from
 *      dictionary to PLAIN encoding in one bucket's file starts PLAIN in
 *      the next file of the same thread, as from one row group to the next
 *      of a file (the files are alike: rows spread by hash); which files
 *      start PLAIN may thus differ with the thread count, their rows not.
 *      Merge-on-read (its marks are one list) and tables with partition
 *      columns (the shared general writer) stay on one thread.
 * The scopes (folder + bucket) of the candidates and of the upserts are
 * recorded as read, so a concurrent commit adding rows there conflicts.
 * The change-set API on top of it (cl_table_changes_*) is table_changes.c;
 * a bucket's files are written by table_cow_write.c. The parts (see
 * table_cow_impl.h): step 1 and the candidate test of step 2 are
 * table_cow_keys.c, step 3 for one file table_cow_file.c, the buckets as
 * jobs on threads table_cow_jobs.c; this file holds the flow and the
 * upserts (step 4).
 */
#include "delta.h"
#include "table_cow_impl.h"

#include <string.h>

static int oom(cl_error *err)
{
	return cl_error_set(err, CL_ENOMEM, "out of memory");
}

int cl__cow_write_upserts(const cl__cow_sink *o, const cl_schema *sc,
			  const cl__cow_upserts *u, int nb, int bk, const bool *done,
			  cl_error *err)
{
	int rc = 0;
	for (int i = 0; !rc && i < u->n; i++) {
		if (!u->ord) {
			rc = cl__cow_sink_write(o, u->tbs[i], err);
			continue;
		}
		const int64_t *first = u->first[i];
		int64_t n = 0;
		for (int b = 0; b < nb; b++)
			if (bk >= 0 ? b == bk : !done[b])
				n += first[b + 1] - first[b];
		if (n == 0)
			continue;
		cl_batch *sel = NULL;
		rc = cl_batch_create(&sel, sc, n, err);
		for (int b = 0; !rc && b < nb; b++) {
			if (bk >= 0 ? b != bk : done[b])
				continue;
			const int64_t *idx = u->ord[i] + first[b];
			int64_t m = first[b + 1] - first[b];
			for (int c = 0; !rc && c < sc->nfields; c++)
				rc = cl_column_append_take(&sel->cols[c], &u->tbs[i]->cols[c], idx, m, err);
			sel->nrows += m;
		}
		rc = rc ? rc : cl__cow_sink_write(o, sel, err);
		cl_batch_free(sel);
	}
	return rc;
}

static void upserts_release(cl__cow_upserts *u)
{
	for (int i = 0; u->tbs && i < u->n; i++) {
		cl_batch *b = u->tbs[i];
		for (int c = 0; b && c < b->ncols; c++)
			if (u->own && u->own[i][c])
				cl_column_release(&b->cols[c]);
		if (b)
			cl_free(b->cols);
		cl_free(b);
		if (u->own)
			cl_free(u->own[i]);
		if (u->ord)
			cl_free(u->ord[i]);
		if (u->first)
			cl_free(u->first[i]);
	}
	cl_free(u->tbs);
	cl_free(u->own);
	cl_free(u->ord);
	cl_free(u->first);
	memset(u, 0, sizeof *u);
}

/* The upserted rows in the table's schema (derived partition columns are
 * computed by the writer): a column already in the table's type is
 * borrowed, others converted, missing ones NULL. With bucket order, each
 * batch's rows ordered by bucket (a counting sort of the key hashes). */
static int upserts_init(cl__cow_upserts *u, const cl__table_layout *l,
			const cl__keyset *ks, const cl_schema *in, const cl_batch *const *bs,
			int n, bool bucket_order, cl_error *err)
{
	const cl_schema *sc = l->schema;
	int nf = sc->nfields, rc = 0;
	memset(u, 0, sizeof *u);
	u->tbs = cl_calloc((size_t)n + 1, sizeof *u->tbs);
	u->own = cl_calloc((size_t)n + 1, sizeof *u->own);
	if (!u->tbs || !u->own)
		return oom(err);
	u->n = n;
	for (int i = 0; !rc && i < n; i++) {
		const cl_batch *ib = bs[i];
		cl_batch *b = cl_calloc(1, sizeof *b);
		u->tbs[i] = b;
		if (b)
			b->cols = cl_calloc((size_t)nf + 1, sizeof *b->cols);
		u->own[i] = cl_calloc((size_t)nf + 1, sizeof *u->own[i]);
		if (!b || !b->cols || !u->own[i]) {
			rc = oom(err);
			break;
		}
		b->ncols = nf;
		b->nrows = ib->nrows;
		for (int c = 0; !rc && c < nf; c++) {
			int src = cl_schema_find(in, sc->fields[c].name);
			if (src >= 0 && cl_type_equal(ib->cols[src].type, sc->fields[c].type)) {
				b->cols[c] = ib->cols[src]; /* borrowed: only read */
				continue;
			}
			u->own[i][c] = true;
			rc = cl_column_init(&b->cols[c], sc->fields[c].type, ib->nrows, err);
			if (!rc && src >= 0)
				rc = cl__append_converted_all(&b->cols[c], &ib->cols[src], ib->nrows, err);
			for (int64_t r = 0; !rc && src < 0 && r < ib->nrows; r++)
				rc = cl_column_append_null(&b->cols[c], err);
			if (rc)
				cl_error_prefix(err, "upsert column '%s': ", sc->fields[c].name);
		}
	}
	if (rc || !bucket_order)
		return rc;
	u->ord = cl_calloc((size_t)n + 1, sizeof *u->ord);
	u->first = cl_calloc((size_t)n + 1, sizeof *u->first);
	if (!u->ord || !u->first)
		return oom(err);
	cl_column *kcols[64];
	for (int i = 0; i < n; i++) {
		int64_t rows = u->tbs[i]->nrows;
		uint64_t *h = cl_malloc((size_t)(rows ? rows : 1) * sizeof *h);
		u->ord[i] = cl_malloc((size_t)(rows ? rows : 1) * sizeof *u->ord[i]);
		u->first[i] = cl_calloc((size_t)ks->nb + 2, sizeof *u->first[i]);
		if (!h || !u->ord[i] || !u->first[i]) {
			cl_free(h);
			return oom(err);
		}
		for (int k = 0; k < l->nkeys; k++)
			kcols[k] = &u->tbs[i]->cols[l->key_index[k]];
		cl__keys_hash(h, kcols, l->nkeys, rows);
		int64_t *first = u->first[i];
		for (int64_t r = 0; r < rows; r++) {
			h[r] = (uint64_t)cl__key_bucket(l, h[r]);
			first[h[r] + 1]++;
		}
		for (int b = 0; b < ks->nb; b++)
			first[b + 1] += first[b];
		/* first[b] is bucket b's start; cur the next free place */
		int64_t *cur = cl_malloc((size_t)ks->nb * sizeof *cur);
		if (!cur) {
			cl_free(h);
			return oom(err);
		}
		memcpy(cur, first, (size_t)ks->nb * sizeof *cur);
		for (int64_t r = 0; r < rows; r++)
			u->ord[i][cur[h[r]]++] = r;
		cl_free(cur);
		cl_free(h);
	}
	return 0;
}

int cl_table_cow(cl_table_txn *x, const cl_schema *upsert_schema,
		 const cl_batch *const *ups, int nupserts, const cl_schema *delete_schema,
		 const cl_batch *const *deletes, int ndeletes, cl_table_cow_stats *st,
		 cl_error *err)
{
	memset(st, 0, sizeof *st);
	const cl_snapshot *s = cl__table_txn_base(x);
	cl_table *t = cl__table_txn_table(x);
	if (!s)
		return cl_error_set(err, CL_EINVAL, "the transaction has no base snapshot");
	cl__table_layout l;
	int rc = cl__table_layout_init(&l, s, err);
	if (rc)
		return rc;
	cl__keyset ks = {0};
	cl__table_writer *w = NULL;
	cl__json_parser *jp = NULL;
	cl_buf scope = {0};
	cl__cow_upserts u = {0};
	bool *done = NULL;      /* bucket's upserts written (early) */
	bool *is_cand = NULL, early = false;
	size_t nfiles = 0;
	cl__cow_scratch z = {0}; /* of the scanned batches */
	cl__dv_marks *marks = NULL; /* merge-on-read: the commit's deletions */
	cl__cow_dv_hits dh = {0};
	int64_t added[3] = {0, 0, 0}; /* files, rows, bytes written */
	int64_t f3[3];
	if (l.nkeys == 0) {
		rc = cl_error_set(err, CL_EINVAL, "the table has no key columns (%s)",
				  CL_TABLE_CONF_KEYS);
		goto out;
	}
	rc = cl__keyset_begin(&ks, &l, err);
	ks.i64 = cl__keys_i64(&l, upsert_schema, ups, nupserts) &&
		 cl__keys_i64(&l, delete_schema, deletes, ndeletes);
	for (int c = 0; !rc && nupserts && c < upsert_schema->nfields; c++)
		if (cl_schema_find(l.schema, upsert_schema->fields[c].name) < 0)
			rc = cl_error_set(err, CL_ESCHEMA, "upsert column '%s' is not in the table",
					  upsert_schema->fields[c].name);
	if (!rc && nupserts)
		rc = cl__keyset_add(&ks, &l, upsert_schema, ups, nupserts, K_UPSERT, st, err);
	if (!rc && ndeletes)
		rc = cl__keyset_add(&ks, &l, delete_schema, deletes, ndeletes, K_DELETE, st, err);
	if (!rc && cl__keyset_filter(&ks))
		rc = oom(err);
	rc = rc ? rc : cl__json_parser_create(&jp, NULL, err);
	rc = rc ? rc : cl__table_writer_open(&w, t, s, x, l.schema, err);
	rc = rc ? rc : cl_batch_create(&z.keep, l.schema, 1024, err);
	if (!rc && cl__dv_table_enabled(s))
		rc = cl__dv_marks_open(&marks, err);
	if (rc)
		goto out;
	dh.ks = &ks;
	dh.nkeys = l.nkeys;
	cl__cow_ctx cc = {t, s, x, &l, &ks, &scope, marks, &dh, &z};
	nfiles = cl_snapshot_nfiles(s);
	done = cl_calloc((size_t)ks.nb, sizeof *done);
	is_cand = cl_calloc(nfiles + 1, sizeof *is_cand);
	if (!done || !is_cand) {
		rc = oom(err);
		goto out;
	}
	/* Without partition columns a bucket's rows form one group of the
	 * writer, so the buckets can be written one after another (early). */
	early = l.buckets && l.npart == 0;
	for (size_t fi = 0; fi < nfiles; fi++) {
		const cl_table_file *f = cl_snapshot_file(s, fi);
		if (!(is_cand[fi] = cl__keyset_candidate(&ks, &l, f, jp)))
			continue;
		int bk = l.buckets ? cl__layout_bucket_of_key(f->path) : 0;
		if (bk < 0 || bk >= ks.nb)
			early = false; /* not laid out by changelake: rows of any bucket */
	}
	rc = upserts_init(&u, &l, &ks, upsert_schema, ups, nupserts, early, err);
	/* 2-3: candidates, read, rewritten when they hold a changed key. With
	 * one group per bucket (early) a bucket is done at once: its candidate
	 * files, then its upserts, through a writer of its own (straight to
	 * Parquet: every row is of that bucket and in the table's types) that
	 * is finished and freed when the bucket is done, so one bucket's
	 * buffers exist at a time per thread (same rows in the same order as
	 * writing every upsert at the end); the buckets go to the threads as
	 * jobs (cl__cow_buckets) in bucket order. */
	cl__cow_sink all = {w, NULL};
	for (size_t fi = 0; !rc && !early && fi < nfiles; fi++)
		if (is_cand[fi])
			rc = cl__cow_cand_file(&cc, &all, cl_snapshot_file(s, fi), st, err);
	if (!rc && early)
		rc = cl__cow_buckets(&cc, &u, is_cand, done, added, st, err);
	/* 4: the upserts of buckets not written yet */
	rc = rc ? rc : cl__cow_write_upserts(&all, l.schema, &u, ks.nb, -1, done, err);
	rc = rc ? rc : cl__table_writer_finish(w, err);
	if (!rc) {
		cl__table_writer_counts(w, &f3[0], &f3[1], &f3[2]);
		for (int i = 0; i < 3; i++)
			added[i] += f3[i];
	}
	/* merge-on-read: the vector file is published, then the files named */
	if (!rc && marks)
		rc = cl__dv_marks_finish(marks, t, x, st, err);
	if (!rc && marks) {
		/* the default metrics would count the files only given a vector */
		int64_t va, vu, vr, fr, br;
		cl__dv_marks_counts(marks, &va, &vu, &vr, &fr, &br);
		struct { const char *k; int64_t v; } m[] = {
			{"numAddedFiles", added[0]}, {"numAddedBytes", added[2]},
			{"numOutputRows", added[1]},
			{"numRemovedFiles", fr}, {"numRemovedBytes", br},
			{"numDeletionVectorsAdded", va}, {"numDeletionVectorsUpdated", vu},
			{"numDeletionVectorsRemoved", vr},
			{"numDeletionVectorBytes", st->dv_bytes}};
		for (size_t i = 0; !rc && i < sizeof m / sizeof m[0]; i++)
			rc = cl_table_txn_set_metric(x, m[i].k, m[i].v, err);
	}
	if (!rc) {
		st->files_added = added[0];
		for (size_t i = 0; i < ks.cap; i++)
			if ((ks.slots[i].flags & K_DELETE) && !(ks.slots[i].flags & K_FOUND))
				st->deletes_missing++;
	}
	if (!rc) {
		rc = cl_table_txn_set_metric(x, "numTargetRowsUpserted", st->rows_upserted, err);
		rc = rc ? rc : cl_table_txn_set_metric(x, "numTargetRowsDeleted", st->rows_deleted, err);
		rc = rc ? rc : cl_table_txn_set_metric(x, "numTargetRowsCopied", st->rows_copied, err);
		rc = rc ? rc : cl_table_txn_set_metric(x, "numTargetFilesRewritten",
						       st->files_rewritten, err);
	}
out:
	cl__table_writer_free(w);
	cl__json_parser_free(jp);
	cl__dv_marks_free(marks);
	cl_free(dh.h);
	cl_free(dh.pos);
	cl__keyset_release(&ks);
	upserts_release(&u);
	cl_free(done);
	cl_free(is_cand);
	cl__cow_scratch_release(&z);
	cl_buf_release(&scope);
	cl__table_layout_release(&l);
	return rc;
}

int cl_table_lookup(cl_table *t, const cl_snapshot *s, const cl_schema *key_schema,
		    const cl_batch *const *keys, int nkeys, cl_table_rows_fn fn, void *ctx,
		    cl_error *err)
{
	cl__table_layout l;
	int rc = cl__table_layout_init(&l, s, err);
	if (rc)
		return rc;
	cl__keyset ks = {0};
	cl__json_parser *jp = NULL;
	cl_table_cow_stats st = {0};
	if (l.nkeys == 0) {
		rc = cl_error_set(err, CL_EINVAL, "the table has no key columns (%s)",
				  CL_TABLE_CONF_KEYS);
		goto out;
	}
	rc = cl__keyset_begin(&ks, &l, err);
	rc = rc ? rc : cl__keyset_add(&ks, &l, key_schema, keys, nkeys, K_DELETE, &st, err);
	rc = rc ? rc : cl__json_parser_create(&jp, NULL, err);
	for (size_t fi = 0; !rc && fi < cl_snapshot_nfiles(s); fi++) {
		const cl_table_file *f = cl_snapshot_file(s, fi);
		if (!cl__keyset_candidate(&ks, &l, f, jp))
			continue;
		const char *only[1] = {f->path};
		cl_table_scan_options so = {0};
		so.only_files = only;
		so.nonly_files = 1;
		cl_table_scan *sc = NULL;
		cl_batch *b;
		rc = cl_table_scan_open(&sc, t, s, &so, err);
		while (!rc && !(rc = cl_table_scan_next(sc, &b, err)) && b)
			rc = fn(ctx, l.schema, b, err);
		cl_table_scan_free(sc);
	}
out:
	cl__json_parser_free(jp);
	cl__keyset_release(&ks);
	cl__table_layout_release(&l);
	return rc;
}
