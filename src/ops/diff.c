/*
 * diff.c — the diff engine: a hash join of NEW (right) against OLD (left),
 * on several threads, in bounded memory (the join itself: diff_join.c).
 *
 * Phases (d->state): LEFT -> RIGHT -> EMIT.
 *
 *   LEFT   Left batches are normalised to the unified columns (views,
 *          diff_impl.h), their keys hashed in bulk, and copied with their
 *          hashes and provenances into the loading worker's own store.
 *          With a dataset (cl_diff_add_left_dataset) every worker reads
 *          units of it (Parquet row groups or files) at once; the batch
 *          API feeds worker 0. When the stores together pass
 *          store_budget, the engine turns to spilling: each worker
 *          scatters its store and every later row of both sides by key
 *          hash into NPART partition files (diff_join.c).
 *   RIGHT  In memory, the workers' stores become one join (their chunks
 *          concatenated) and the workers build its table at once, one
 *          set of sub-tables each. Right batches are then probed by the
 *          workers in parallel (the table is read-only; each worker sets
 *          matched bits of its own, folded into the join's after NEW, where
 *          a bit set twice is a duplicate right key); each worker appends
 *          I/C/N rows to its own output.
 *          When spilling, right rows are scattered like the left ones.
 *   EMIT   In memory, the workers emit the unmatched left rows (D) of
 *          their share of chunks; when spilling, they take partitions
 *          one by one and diff each (recursively split when too big).
 *          Each worker's rows are sorted into runs (spilled past its
 *          output budget) and all runs are merged in key order
 *          (diff_output.c).
 *
 * Determinism. Every row carries its input position (source index << 40 |
 * row). Sources are numbered in input order (a dataset's files are
 * registered in its order before reading). Output rows sort by key, then
 * by right then left position, so the bytes written never depend on the
 * thread count, the memory limit or the order in which workers finished.
 * When several duplicate keys exist, the one reported is the earliest the
 * workers found before stopping (in memory: the earliest of all).
 *
 * Memory: store_budget = 3/4 of memory_limit for left rows in memory;
 * each worker's output accumulator and partition store get their share of
 * the rest (worker_budget); staging buffers for partition files are sized
 * from the limit too. Readers' own buffers are outside the limit.
 */
#include "diff_impl.h"
#include "changelake/dataset.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PART_SHIFT (64 - CL__PART_BITS)
#define MAX_THREADS 64

enum { ST_LEFT = 0, ST_RIGHT, ST_EMIT };

/* ---- small helpers ------------------------------------------------------ */

/* CL_DIFF_TRACE=1: phase times on standard error (for profiling). */
void cl__diff_trace(const char *what)
{
	static int on = -1;
	static struct timespec t0;
	if (on < 0) {
		on = getenv("CL_DIFF_TRACE") != NULL;
		clock_gettime(CLOCK_MONOTONIC, &t0);
	}
	if (!on)
		return;
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	fprintf(stderr, "diff: %8.3f s %s\n",
		(double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9, what);
}

static int oom(cl_error *err)
{
	return cl_error_set(err, CL_ENOMEM, "out of memory");
}

static int64_t default_memory_limit(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
	if (pages <= 0 || psz <= 0)
		return (int64_t)1 << 30;
	return (int64_t)pages * psz / 4;
}

static int default_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > MAX_THREADS ? MAX_THREADS : (int)n;
}

int cl__diff_source_id(cl_diff *d, const char *name, cl_error *err)
{
	if (!name)
		name = "?";
	if (d->nsources && !strcmp(d->sources[d->nsources - 1], name))
		return d->nsources - 1;
	for (int i = 0; i < d->nsources; i++)
		if (!strcmp(d->sources[i], name))
			return i;
	if (d->nsources >= (1 << 22))
		return cl_error_set(err, CL_EUNSUPPORTED, "diff: too many input files");
	char **s = cl_realloc(d->sources, (size_t)(d->nsources + 1) * sizeof *s);
	if (!s)
		return oom(err);
	d->sources = s;
	if (!(s[d->nsources] = cl_strdup(name)))
		return oom(err);
	return d->nsources++;
}

static int source_id(cl_diff *d, const char *name, cl_error *err)
{
	return cl__diff_source_id(d, name, err);
}

int cl__diff_path_forced(void)
{
	const char *e = getenv("CL_DIFF_PATH");
	if (!e)
		return 0;
	return !strcmp(e, "hash") ? 1 : !strcmp(e, "aligned") ? 2 : 0;
}

/* "file row N" of a provenance value. */
static void prov_text(const cl_diff *d, int64_t prov, char *buf, size_t n)
{
	int src = (int)(prov >> CL__PROV_SHIFT);
	int64_t row = prov & (((int64_t)1 << CL__PROV_SHIFT) - 1);
	snprintf(buf, n, "%s row %lld", src < d->nsources ? d->sources[src] : "?",
		 (long long)row);
}

static int dup_message(const cl_diff *d, const cl__dupc *c, cl_error *err)
{
	char a[512], b[512];
	if (c->pa >= 0)
		prov_text(d, c->pa, a, sizeof a);
	prov_text(d, c->pb, b, sizeof b);
	return cl_error_set(err, CL_EDUPKEY,
			    "duplicate key (%s) in %s: %s%s%s; use --allow-duplicate-keys "
			    "to diff anyway",
			    c->key, c->left ? d->plan.left_name : d->plan.right_name,
			    c->pa >= 0 ? a : b, c->pa >= 0 ? " and " : " (seen before)",
			    c->pa >= 0 ? b : "");
}

/* Duplicates found by the output merge (two inserts of one key). */
static int merge_dup(void *arg, bool left, const cl_column *const *keys, int64_t row,
		     int64_t pa, int64_t pb, cl_error *err)
{
	cl_diff *d = arg;
	cl__dupc c = {0};
	cl__dupc_offer(&c, &d->plan, left, keys, row, pa, pb);
	return dup_message(d, &c, err);
}

/* ---- views: a side's batch seen through the unified columns ------------- */

int cl__dview_init(cl__dview *v, const cl__diff_plan *p, const cl_type *types,
		     cl_error *err)
{
	v->types = types;
	v->cols = cl_calloc((size_t)p->nu + 1, sizeof *v->cols);
	v->scratch = cl_calloc((size_t)p->nu + 1, sizeof *v->scratch);
	if (!v->cols || !v->scratch)
		return oom(err);
	for (int j = 0; j < p->nu; j++) {
		int rc = cl_column_init(&v->scratch[j], types[j], 0, err);
		if (rc)
			return rc;
	}
	return 0;
}

void cl__dview_release(cl__dview *v, int nu)
{
	if (v->scratch)
		for (int j = 0; j < nu; j++)
			cl_column_release(&v->scratch[j]);
	cl_free(v->scratch);
	cl_free(v->cols);
}

int cl__dview_set(cl__dview *v, const cl__diff_plan *p, const cl_batch *b, bool left,
		    cl_error *err)
{
	for (int j = 0; j < p->nu; j++) {
		const cl__dcol *u = &p->u[j];
		int idx = left ? u->lidx : u->ridx;
		cl_column *s = &v->scratch[j];
		if (idx >= 0 && idx < b->ncols &&
		    cl_type_equal(b->cols[idx].type, v->types[j])) {
			v->cols[j] = &b->cols[idx];
			continue;
		}
		cl_column_clear(s);
		int rc = idx >= 0 && idx < b->ncols ? cl__diff_cast(s, &b->cols[idx], err)
						    : cl__column_append_nulls(s, b->nrows, err);
		if (rc)
			return rc;
		v->cols[j] = s;
	}
	return 0;
}

/* ---- workers ------------------------------------------------------------ */

static int worker_init(cl_diff *d, cl__dworker *w, int id, cl_error *err)
{
	const cl__diff_plan *p = &d->plan;
	w->d = d;
	w->id = id;
	int rc = cl__dview_init(&w->lv, p, p->ltypes, err);
	if (!rc)
		rc = cl__dview_init(&w->rv, p, p->rtypes, err);
	if (!rc)
		rc = cl__diff_out_init(&w->out, p, 0, d->worker_budget, d->tmp_dir, err);
	if (!rc && (!(w->value_changes = cl_calloc((size_t)p->nvalues + 1,
						   sizeof *w->value_changes)) ||
		    !(w->rowchg = cl_calloc((size_t)p->nvalues + 1, 1)) ||
		    !(w->reload = cl_calloc((size_t)p->nu + 1, sizeof *w->reload))))
		rc = oom(err);
	return rc;
}

static void worker_release(cl__dworker *w, int nu)
{
	cl__dview_release(&w->lv, nu);
	cl__dview_release(&w->rv, nu);
	cl_free(w->h);
	cl_free(w->pv);
	cl_free(w->pl);
	cl_free(w->pr);
	cl_free(w->ins);
	cl_free(w->chg);
	cl_free(w->rowchg);
	cl_free(w->srt);
	cl_free(w->pm);
	cl__dstore_release(&w->st, nu);
	cl__djoin_release(&w->pj, nu);
	cl__dstage_release(&w->stage[0], nu);
	cl__dstage_release(&w->stage[1], nu);
	if (w->reload)
		for (int j = 0; j <= nu; j++)
			cl_column_release(&w->reload[j]);
	cl_free(w->reload);
	cl__diff_out_release(&w->out);
	cl_free(w->value_changes);
}

/* Hashes and provenances of a view's n rows into w->h / w->pv. */
static int hash_rows(cl__dworker *w, const cl_column *const *cols, int64_t n, int src,
		     int64_t first_row, cl_error *err)
{
	if (n > w->hcap) {
		int64_t c = w->hcap ? w->hcap : 1024;
		while (c < n)
			c *= 2;
		uint64_t *h = cl_realloc(w->h, (size_t)c * sizeof *h);
		if (!h)
			return oom(err);
		w->h = h;
		w->hcap = c;
	}
	if (n > w->pvcap) {
		int64_t *pv = cl_realloc(w->pv, (size_t)w->hcap * sizeof *pv);
		if (!pv)
			return oom(err);
		w->pv = pv;
		w->pvcap = w->hcap;
	}
	cl__key_hash(&w->d->plan, cols, n, w->h);
	int64_t base = ((int64_t)src << CL__PROV_SHIFT) + first_row;
	for (int64_t i = 0; i < n; i++)
		w->pv[i] = base + i;
	return 0;
}

static int ensure_stage(cl_diff *d, cl__dworker *w, int side, cl_error *err)
{
	if (w->stage[side].cols[0])
		return 0;
	return cl__dstage_init(&w->stage[side], &d->plan,
			       side ? d->plan.rtypes : d->plan.ltypes, err);
}

/* Move a worker's in-memory left rows to the partition files. */
static int spill_store(cl_diff *d, cl__dworker *w, cl_error *err)
{
	int rc = ensure_stage(d, w, 0, err);
	for (int c = 0; !rc && c < w->st.nchunks; c++) {
		const cl__dchunk *ch = w->st.chunks[c];
		rc = cl__dparts_add(d, &d->parts[0], &w->stage[0], ch->ptrs, ch->n, ch->hash,
				    ch->prov, err);
	}
	__atomic_fetch_sub(&d->store_mem, cl__dstore_memory(&w->st), __ATOMIC_RELAXED);
	cl__dstore_release(&w->st, d->plan.nu);
	return rc;
}

/* Taking a left batch's columns over (cl__dstore_adopt) from a cursor. */
typedef struct take_ctx {
	const cl__diff_plan *p;
	cl__dview *v;
	cl_dataset_cursor *cur;
} take_ctx;

static int take_col(void *arg, int j, cl_column *dst, cl_error *err)
{
	take_ctx *t = arg;
	cl__dview *v = t->v;
	int rc;
	if (v->cols[j] == &v->scratch[j])
		return (rc = cl_column_move(dst, &v->scratch[j], err)) ? rc : 1;
	int idx = t->p->u[j].lidx;
	/* a batch column seen through two unified columns stays put */
	for (int k = 0; k < t->p->nu; k++)
		if (k != j && v->cols[k] == v->cols[j])
			return 0;
	return cl__dataset_cursor_take(t->cur, idx, dst, err);
}

/*
 * A left batch from a dataset cursor (cur; NULL for the batch API, whose
 * batches are const) of at least half a chunk becomes a chunk of its own:
 * its columns are taken over instead of copied.
 */
static int worker_left(cl__dworker *w, const cl_batch *b, cl_dataset_cursor *cur, int src,
		       int64_t first_row, cl_error *err)
{
	cl_diff *d = w->d;
	int rc = cl__dview_set(&w->lv, &d->plan, b, true, err);
	if (!rc)
		rc = hash_rows(w, w->lv.cols, b->nrows, src, first_row, err);
	if (rc)
		return rc;
	w->left_rows += b->nrows;
	if (__atomic_load_n(&d->spilling, __ATOMIC_ACQUIRE)) {
		if (w->st.nrows && (rc = spill_store(d, w, err)))
			return rc;
		if ((rc = ensure_stage(d, w, 0, err)))
			return rc;
		return cl__dparts_add(d, &d->parts[0], &w->stage[0], w->lv.cols, b->nrows, w->h,
				      w->pv, err);
	}
	int64_t before = cl__dstore_memory(&w->st);
	if (cur && b->nrows >= CL__CHUNK_ROWS / 2 && b->nrows <= CL__CHUNK_ROWS) {
		take_ctx t = {&d->plan, &w->lv, cur};
		rc = cl__dstore_adopt(&w->st, &d->plan, w->lv.cols, b->nrows, w->h, w->pv,
				      take_col, &t, err);
	} else {
		rc = cl__dstore_append(&w->st, &d->plan, w->lv.cols, b->nrows, w->h, w->pv, err);
	}
	if (rc)
		return rc;
	int64_t total = __atomic_add_fetch(&d->store_mem, cl__dstore_memory(&w->st) - before,
					   __ATOMIC_RELAXED);
	if (total > d->store_budget) {
		pthread_mutex_lock(&d->mu);
		if (!d->parts[0].open)
			d->spill_rc = cl__dparts_open(&d->parts[0], d, PART_SHIFT, err);
		else if (d->spill_rc)
			cl_error_set(err, d->spill_rc, "diff: cannot create spill files");
		rc = d->spill_rc;
		pthread_mutex_unlock(&d->mu);
		if (rc)
			return rc;
		__atomic_store_n(&d->spilling, 1, __ATOMIC_RELEASE);
		return spill_store(d, w, err);
	}
	return 0;
}

static int worker_right(cl__dworker *w, const cl_batch *b, int src, int64_t first_row,
			cl_error *err)
{
	cl_diff *d = w->d;
	int rc = cl__dview_set(&w->rv, &d->plan, b, false, err);
	if (!rc)
		rc = hash_rows(w, w->rv.cols, b->nrows, src, first_row, err);
	if (rc)
		return rc;
	w->right_rows += b->nrows;
	if (d->spilling) {
		if ((rc = ensure_stage(d, w, 1, err)))
			return rc;
		return cl__dparts_add(d, &d->parts[1], &w->stage[1], w->rv.cols, b->nrows, w->h,
				      w->pv, err);
	}
	return cl__djoin_probe(w, &d->join, w->rv.cols, b->nrows, w->h, w->pv, err);
}

/* ---- running workers in parallel ---------------------------------------- */

/* The earliest duplicate any worker found, or NULL. */
static cl__dupc *best_dup(cl_diff *d)
{
	cl__dupc *best = NULL;
	for (int i = 0; i < d->nthreads; i++) {
		cl__dupc *c = &d->w[i].dup;
		if (!c->set)
			continue;
		if (!best || (c->left && !best->left) ||
		    (c->left == best->left && (c->pb < best->pb ||
					       (c->pb == best->pb && c->pa < best->pa))))
			best = c;
	}
	return best;
}

typedef int (*work_fn)(cl__dworker *w, void *arg);

typedef struct job {
	cl__dworker *w;
	work_fn fn;
	void *arg;
} job;

static void *job_main(void *p)
{
	job *j = p;
	cl__dworker *w = j->w;
	cl_diff *d = w->d;
	w->rc = j->fn(w, j->arg);
	if (w->rc)
		__atomic_store_n(&d->abort, 1, __ATOMIC_RELAXED);
	pthread_mutex_lock(&d->mu);
	d->done++;
	pthread_cond_signal(&d->cv);
	pthread_mutex_unlock(&d->mu);
	return NULL;
}

/*
 * Run fn on every worker at once; the calling thread reports progress
 * every 100 ms while they run. The error returned: a duplicate key (the
 * earliest found) before any other error, else the first worker's.
 */
static int run_workers(cl_diff *d, work_fn fn, void *arg, cl_diff_progress_fn progress,
		       void *parg, cl_error *err)
{
	int n = d->nthreads;
	job jobs[MAX_THREADS];
	pthread_t tid[MAX_THREADS];
	bool started[MAX_THREADS] = {0};
	for (int i = 0; i < n; i++) {
		d->w[i].rc = 0;
		jobs[i] = (job){&d->w[i], fn, arg};
	}
	int rc = 0;
	d->done = 0;
	if (n == 1 && !progress) {
		job_main(&jobs[0]);
	} else {
		for (int i = 0; i < n; i++) {
			if (pthread_create(&tid[i], NULL, job_main, &jobs[i])) {
				/* run it here instead */
				job_main(&jobs[i]);
				continue;
			}
			started[i] = true;
		}
		/* wake every 100 ms for progress (the workers count rows
		 * atomically), at once when the last worker is done */
		pthread_mutex_lock(&d->mu);
		while (d->done < n) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 100 * 1000 * 1000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&d->cv, &d->mu, &ts);
			if (progress && d->done < n) {
				pthread_mutex_unlock(&d->mu);
				progress(parg, __atomic_load_n(&d->progress, __ATOMIC_RELAXED));
				pthread_mutex_lock(&d->mu);
			}
		}
		pthread_mutex_unlock(&d->mu);
		if (progress)
			progress(parg, __atomic_load_n(&d->progress, __ATOMIC_RELAXED));
		for (int i = 0; i < n; i++)
			if (started[i])
				pthread_join(tid[i], NULL);
	}
	const cl__dupc *best = best_dup(d);
	if (best)
		return dup_message(d, best, err);
	for (int i = 0; i < n && !rc; i++)
		if (d->w[i].rc && d->w[i].rc != CL_EINTERNAL) {
			rc = d->w[i].rc;
			if (err)
				*err = d->w[i].err;
		}
	for (int i = 0; i < n && !rc; i++)
		if (d->w[i].rc) {
			rc = d->w[i].rc;
			if (err)
				*err = d->w[i].err;
		}
	return rc;
}

/* ---- phases ------------------------------------------------------------- */

static int build_fn(cl__dworker *w, void *arg)
{
	cl_diff *d = w->d;
	return cl__djoin_build(w, &d->join, w->id, d->nthreads, &w->err);
}

static int build_shared_fn(cl__dworker *w, void *arg)
{
	cl_diff *d = w->d;
	bool found = false;
	int rc = cl__djoin_build_shared(w, &d->join, w->id, d->nthreads, &found, &w->err);
	if (found)
		__atomic_store_n((int *)arg, 1, __ATOMIC_RELAXED);
	return rc;
}

/* LEFT -> RIGHT: one join of every store, or partition files for NEW. */
static int start_right(cl_diff *d, cl_error *err)
{
	int rc = 0;
	d->state = ST_RIGHT;
	if (d->spilling) {
		/* stores left by workers that finished before the switch */
		for (int i = 0; i < d->nthreads && !rc; i++)
			if (d->w[i].st.nrows)
				rc = spill_store(d, &d->w[i], err);
		/* the left side is complete: its staging buffers go */
		for (int i = 0; i < d->nthreads && !rc; i++) {
			cl__dworker *w = &d->w[i];
			if (w->stage[0].cols[0])
				rc = cl__dparts_flush(d, &d->parts[0], &w->stage[0], err);
			cl__dstage_release(&w->stage[0], d->plan.nu);
		}
		if (!rc)
			rc = cl__dparts_open(&d->parts[1], d, PART_SHIFT, err);
		return rc;
	}
	cl__diff_trace("left read");
	for (int i = 0; i < d->nthreads && !rc; i++)
		rc = cl__dstore_move(&d->join.st, &d->w[i].st, err);
	if (!rc)
		rc = cl__djoin_prepare(&d->join, &d->plan, d->nthreads, err);
	if (!rc && !d->plan.allow_dups && d->nthreads > 1) {
		/* every thread inserts its share of the rows; a duplicate key
		 * is reported by the build by sub-table below, whose choice of
		 * the pair does not depend on the threads' timing */
		int dup = 0;
		rc = run_workers(d, build_shared_fn, &dup, NULL, NULL, err);
		if (!rc && !dup) {
			cl__diff_trace("table built");
			return 0;
		}
		if (!rc)
			memset(d->join.slots, 0,
			       (size_t)(d->join.subcap * d->join.nsub) * sizeof *d->join.slots);
	}
	if (!rc)
		rc = run_workers(d, build_fn, NULL, NULL, NULL, err);
	cl__diff_trace("table built");
	return rc;
}

static int deletes_fn(cl__dworker *w, void *arg)
{
	cl_diff *d = w->d;
	return cl__djoin_deletes(w, &d->join, w->id, d->nthreads, &w->err);
}

static int parts_fn(cl__dworker *w, void *arg)
{
	cl_diff *d = w->d;
	for (;;) {
		int64_t i = __atomic_fetch_add(&d->next_item, 1, __ATOMIC_RELAXED);
		if (i >= CL__NPART || __atomic_load_n(&d->abort, __ATOMIC_RELAXED))
			return 0;
		int rc = cl__dpart_diff(w, d->parts[0].f[i], d->parts[0].bytes[i],
					d->parts[1].f[i], 0, &w->err);
		if (rc)
			return rc;
	}
}

static int flush_fn(cl__dworker *w, void *arg)
{
	cl_diff *d = w->d;
	int rc = 0;
	for (int side = 0; side < 2 && !rc; side++)
		if (w->stage[side].cols[0])
			rc = cl__dparts_flush(d, &d->parts[side], &w->stage[side], &w->err);
	return rc;
}

static int sort_fn(cl__dworker *w, void *arg)
{
	return cl__diff_out_sort(&w->out, &w->err);
}

static int materialize_left(cl_diff *d, cl_error *err);

static int finish(cl_diff *d, cl_error *err)
{
	int rc = materialize_left(d, err);
	if (rc)
		return rc;
	if (d->state == ST_LEFT && (rc = start_right(d, err)))
		return rc;
	d->state = ST_EMIT;
	cl__diff_trace("right read");
	if (d->spilling) {
		d->next_item = 0;
		if (!(rc = run_workers(d, flush_fn, NULL, NULL, NULL, err)))
			rc = run_workers(d, parts_fn, NULL, NULL, NULL, err);
	} else {
		rc = run_workers(d, deletes_fn, NULL, NULL, NULL, err);
	}
	cl__diff_trace("deletes / partitions");
	if (!rc)
		rc = run_workers(d, sort_fn, NULL, NULL, NULL, err);
	cl__diff_trace("sorted");
	if (rc)
		return rc;
	/* the left rows are no longer needed: free them before merging */
	cl__djoin_release(&d->join, d->plan.nu);
	if (d->page_pool) {
		cl__pq_page_pool(false);
		d->page_pool = false;
	}
	cl__diff_trace("left rows freed");
	cl__dparts_close(&d->parts[0]);
	cl__dparts_close(&d->parts[1]);
	cl__diff_out *outs = cl_calloc((size_t)d->nthreads, sizeof *outs);
	if (!outs)
		return oom(err);
	/* the merge borrows the outputs: move them into one array */
	for (int i = 0; i < d->nthreads; i++) {
		outs[i] = d->w[i].out;
		memset(&d->w[i].out, 0, sizeof d->w[i].out);
	}
	d->outs = outs;
	cl_diff_stats *s = &d->stats;
	int64_t spill_out = 0;
	for (int i = 0; i < d->nthreads; i++) {
		const cl__dworker *w = &d->w[i];
		s->left_rows += w->left_rows;
		s->right_rows += w->right_rows;
		s->inserted += w->inserted;
		s->changed += w->changed;
		s->deleted += w->deleted;
		s->unchanged += w->unchanged;
		s->partitions += w->partitions;
		for (int v = 0; v < d->plan.nvalues; v++)
			d->value_changes[v] += w->value_changes[v];
		spill_out += outs[i].spill_bytes;
	}
	const cl__diff_plan *p = &d->plan;
	s->nvalues = p->nvalues;
	s->value_changes = d->value_changes;
	s->value_names = d->value_names;
	s->nleft_only = p->nleft_only;
	s->left_only = (const char *const *)p->left_only;
	s->nright_only = p->nright_only;
	s->right_only = (const char *const *)p->right_only;
	s->nwidened = p->nwidened;
	s->widened = (const char *const *)p->widened;
	s->spill_bytes = d->spill_bytes + spill_out;
	s->threads = d->nthreads;
	int rc2 = cl__diff_merge_open(&d->merge, outs, d->nthreads, !p->allow_dups, merge_dup,
				      d, err);
	/* with more than one thread, the merge of the next batch overlaps the
	 * caller's use of this one (writing it) */
	if (!rc2 && d->nthreads > 1)
		cl__diff_merge_threads(d->merge, d->nthreads);
	return rc2;
}

/* ---- public API --------------------------------------------------------- */

int cl_diff_create(cl_diff **out, const cl_schema *left, const cl_schema *right,
		   const cl_diff_options *o, cl_error *err)
{
	cl_diff_options def;
	if (!o) {
		cl_diff_options_init(&def);
		o = &def;
	}
	cl_diff *d = cl_calloc(1, sizeof *d);
	if (!d)
		return oom(err);
	cl__diff_trace("start");
	d->memory_limit = o->memory_limit > 0 ? o->memory_limit : default_memory_limit();
	d->nthreads = o->threads > 0 ? (o->threads > MAX_THREADS ? MAX_THREADS : o->threads)
				     : default_threads();
	d->store_budget = d->memory_limit / 4 * 3;
	d->worker_budget = d->memory_limit / 4 / d->nthreads;
	if (d->worker_budget < 16384)
		d->worker_budget = 16384;
	d->part_budget = d->store_budget / d->nthreads;
	pthread_mutex_init(&d->mu, NULL);
	pthread_cond_init(&d->cv, NULL);
	cl__pq_page_pool(true);
	d->page_pool = true;
	/* staging for partition files: about 1/16 of the limit in all */
	d->stage_rows = d->memory_limit / 16 / (2 * CL__NPART * d->nthreads) / 64;
	if (d->stage_rows < 64)
		d->stage_rows = 64;
	if (d->stage_rows > 4096)
		d->stage_rows = 4096;
	int rc = cl__diff_plan_build(&d->plan, left, right, o, err);
	if (!rc && o->tmp_dir && !(d->tmp_dir = cl_strdup(o->tmp_dir)))
		rc = oom(err);
	if (!rc && !(d->w = cl_calloc((size_t)d->nthreads, sizeof *d->w)))
		rc = oom(err);
	for (int i = 0; !rc && i < d->nthreads; i++) {
		rc = worker_init(d, &d->w[i], i, err);
		d->w[i].out.batch_rows = o->batch_rows > 0 ? o->batch_rows : 65536;
	}
	if (!rc && !(d->value_changes = cl_calloc((size_t)d->plan.nvalues + 1,
						  sizeof *d->value_changes)))
		rc = oom(err);
	if (!rc && !(d->value_names = cl_calloc((size_t)d->plan.nvalues + 1,
						sizeof *d->value_names)))
		rc = oom(err);
	for (int v = 0; !rc && v < d->plan.nvalues; v++)
		d->value_names[v] = d->plan.u[d->plan.values[v]].name;
	if (rc) {
		cl_diff_free(d);
		return rc;
	}
	*out = d;
	return 0;
}

const cl_schema *cl_diff_schema(const cl_diff *d)
{
	return d->plan.out_schema;
}

int cl_diff_threads(const cl_diff *d)
{
	return d->nthreads;
}

static int add_dataset(cl_diff *d, cl_dataset *ds, bool left, cl_diff_progress_fn progress,
		       void *parg, cl_error *err);

/* The deferred OLD (d->lds), read now by the hash path. */
static int materialize_left(cl_diff *d, cl_error *err)
{
	cl_dataset **l = d->lds;
	int n = d->nlds, rc = 0;
	d->lds = NULL;
	d->nlds = 0;
	for (int i = 0; i < n; i++) {
		if (!rc)
			rc = add_dataset(d, l[i], true, NULL, NULL, err);
		cl_dataset_free(l[i]);
	}
	cl_free(l);
	return rc;
}

static int aligned_done(cl_diff *d, cl_error *err)
{
	return cl_error_set(err, CL_EUNSUPPORTED,
			    "diff: NEW was already diffed as a whole; add it in one call");
}

/*
 * Keep OLD for later instead of reading it now: only a Parquet dataset
 * whose every file, opened alone with default options, has the dataset's
 * schema and path (no partition columns, no declared schema, no
 * projection), so reading it again later gives the same rows. 1 when
 * deferred, 0 when it is read now.
 */
static int defer_left(cl_diff *d, cl_dataset *ds)
{
	if (d->plan.allow_dups || cl__diff_path_forced() == 1 || d->nlds ||
	    d->w[0].left_rows || d->join.st.nrows || d->spilling ||
	    cl_dataset_format(ds) != CL_FORMAT_PARQUET)
		return 0;
	int nf = cl_dataset_nfiles(ds);
	int64_t total = 0;
	if (nf < 1 || nf > 4096)
		return 0;
	cl_dataset **l = cl_calloc((size_t)nf, sizeof *l);
	if (!l)
		return 0;
	cl_read_options o;
	cl_read_options_init(&o);
	o.format = CL_FORMAT_PARQUET;
	bool ok = true;
	for (int f = 0; f < nf && ok; f++) {
		const char *path = cl_dataset_path(ds, f);
		ok = path && !cl_dataset_open(&l[f], path, &o, NULL) &&
		     cl_dataset_nfiles(l[f]) == 1 && !strcmp(cl_dataset_path(l[f], 0), path) &&
		     cl_schema_equal(cl_dataset_schema(l[f]), cl_dataset_schema(ds)) &&
		     cl_dataset_total_rows(l[f]) >= 0;
		if (ok)
			total += cl_dataset_total_rows(l[f]);
	}
	/* the sources are numbered now, as reading OLD now would */
	for (int f = 0; f < nf && ok; f++)
		ok = cl__diff_source_id(d, cl_dataset_path(ds, f), NULL) >= 0;
	if (!ok) {
		for (int f = 0; f < nf; f++)
			cl_dataset_free(l[f]);
		cl_free(l);
		return 0;
	}
	d->lds = l;
	d->nlds = nf;
	d->lds_rows = total;
	return 1;
}

int cl_diff_add_left(cl_diff *d, const cl_batch *b, const char *source,
		     int64_t first_row, cl_error *err)
{
	if (d->state != ST_LEFT)
		return cl_error_set(err, CL_EINVAL,
				    "diff: left batches must come before right ones");
	int rc0 = materialize_left(d, err);
	if (rc0)
		return rc0;
	if (!b->nrows)
		return 0;
	int src = source_id(d, source, err);
	if (src < 0)
		return src;
	return worker_left(&d->w[0], b, NULL, src, first_row, err);
}

int cl_diff_add_right(cl_diff *d, const cl_batch *b, const char *source,
		      int64_t first_row, cl_error *err)
{
	int rc;
	if (d->state == ST_EMIT)
		return cl_error_set(err, CL_EINVAL, "diff: output already started");
	if (d->aligned)
		return aligned_done(d, err);
	if ((rc = materialize_left(d, err)))
		return rc;
	if (d->state == ST_LEFT && (rc = start_right(d, err)))
		return rc;
	if (!b->nrows)
		return 0;
	int src = source_id(d, source, err);
	if (src < 0)
		return src;
	rc = worker_right(&d->w[0], b, src, first_row, err);
	if (rc == CL_EDUPKEY && d->w[0].dup.set)
		rc = dup_message(d, &d->w[0].dup, err);
	return rc;
}

typedef struct read_job {
	cl_dataset *ds;
	bool left;
	int *src; /* per dataset file */
	int nunits;
} read_job;

static int read_units(cl__dworker *w, read_job *r)
{
	cl_diff *d = w->d;
	for (;;) {
		int64_t u = __atomic_fetch_add(&d->next_item, 1, __ATOMIC_RELAXED);
		if (u >= r->nunits || __atomic_load_n(&d->abort, __ATOMIC_RELAXED))
			return 0;
		cl_dataset_cursor *c = NULL;
		int rc = cl_dataset_cursor_open(&c, r->ds, (int)u, &w->err);
		while (!rc) {
			cl_batch *b;
			if ((rc = cl_dataset_cursor_next(c, &b, &w->err)) || !b)
				break;
			int src = r->src[cl_dataset_cursor_file(c)];
			int64_t first = cl_dataset_cursor_first_row(c);
			rc = r->left ? worker_left(w, b, c, src, first, &w->err)
				     : worker_right(w, b, src, first, &w->err);
			__atomic_fetch_add(&d->progress, b->nrows, __ATOMIC_RELAXED);
			if (!rc && __atomic_load_n(&d->abort, __ATOMIC_RELAXED))
				rc = CL_EINTERNAL;
		}
		cl_dataset_cursor_free(c);
		if (rc)
			return rc;
	}
}

/* A worker reads one unit (row group) after the other, each with a reader
 * of its own: their page buffers are reused from one to the next, and
 * from OLD to NEW (the pool is held until the reading is done). */
static int read_fn(cl__dworker *w, void *arg)
{
	cl__pq_page_cache(true);
	int rc = read_units(w, arg);
	cl__pq_page_cache(false);
	return rc;
}

/*
 * A key seen twice in NEW among matched rows is found at its second row;
 * read NEW again, in order, for its first (only on this error path).
 */
static int find_first_right(cl_diff *d, cl_dataset *ds, int nunits, const int *src,
			    cl__dupc *dup, cl_error *err)
{
	cl__dworker *w = &d->w[0];
	cl_buf key = {0};
	int rc = 0;
	for (int u = 0; u < nunits && !rc && dup->pa < 0; u++) {
		cl_dataset_cursor *c = NULL;
		rc = cl_dataset_cursor_open(&c, ds, u, err);
		while (!rc && dup->pa < 0) {
			cl_batch *b;
			if ((rc = cl_dataset_cursor_next(c, &b, err)) || !b)
				break;
			if ((rc = cl__dview_set(&w->rv, &d->plan, b, false, err)) ||
			    (rc = hash_rows(w, w->rv.cols, b->nrows, src[cl_dataset_cursor_file(c)],
					    cl_dataset_cursor_first_row(c), err)))
				break;
			for (int64_t i = 0; i < b->nrows; i++) {
				if (w->h[i] != dup->hash || w->pv[i] == dup->pb)
					continue;
				cl_buf_clear(&key);
				cl__diff_key_text(&key, &d->plan, w->rv.cols, i);
				if (key.data && !strcmp((char *)key.data, dup->key)) {
					dup->pa = w->pv[i];
					break;
				}
			}
		}
		cl_dataset_cursor_free(c);
	}
	cl_buf_release(&key);
	if (dup->pa > dup->pb) {
		int64_t t = dup->pa;
		dup->pa = dup->pb;
		dup->pb = t;
	}
	return rc;
}

/*
 * OLD row `ref` of the join was matched by NEW rows on two workers: the
 * duplicate, both of its NEW rows still unknown (find_first_right finds
 * them, one pass each).
 */
static int matched_twice(cl_diff *d, int64_t ref, cl_error *err)
{
	const cl__dchunk *ch = d->join.st.chunks[ref >> CL__CHUNK_BITS];
	int64_t row = ref & CL__CHUNK_MASK;
	cl__dupc *c = &d->w[0].dup;
	memset(c, 0, sizeof *c);
	cl__dupc_offer(c, &d->plan, false, ch->ptrs, row, -1, -1);
	c->hash = ch->hash[row];
	return cl_error_set(err, CL_EDUPKEY, "duplicate key (%s) in %s", c->key,
			    d->plan.right_name);
}

static int add_dataset(cl_diff *d, cl_dataset *ds, bool left, cl_diff_progress_fn progress,
		       void *parg, cl_error *err)
{
	int nunits = 0, rc;
	if ((rc = cl_dataset_split(ds, &nunits, err)))
		return rc;
	if (!left && d->state == ST_LEFT && (rc = start_right(d, err)))
		return rc;
	if (nunits == 0) {
		/* standard input: one batch after the other */
		for (;;) {
			cl_batch *b;
			if ((rc = cl_dataset_next(ds, &b, err)) || !b)
				return rc;
			rc = left ? cl_diff_add_left(d, b, cl_dataset_file(ds),
						     cl_dataset_first_row(ds), err)
				  : cl_diff_add_right(d, b, cl_dataset_file(ds),
						      cl_dataset_first_row(ds), err);
			if (rc)
				return rc;
			if (progress)
				progress(parg, cl_dataset_rows(ds));
		}
	}
	int nf = cl_dataset_nfiles(ds);
	int *src = cl_calloc((size_t)nf + 1, sizeof *src);
	if (!src)
		return oom(err);
	for (int f = 0; f < nf && !rc; f++) {
		src[f] = source_id(d, cl_dataset_path(ds, f), err);
		if (src[f] < 0)
			rc = src[f];
	}
	read_job r = {ds, left, src, nunits};
	d->next_item = 0;
	d->progress = 0;
	/* probing in memory on several workers: each its own matched bits */
	bool maps = !left && !d->spilling && d->nthreads > 1;
	if (!rc && maps)
		rc = cl__djoin_maps_open(d, err);
	if (!rc)
		rc = run_workers(d, read_fn, &r, progress, parg, err);
	if (maps) {
		int64_t ref = cl__djoin_maps_close(d);
		if (!rc && ref >= 0)
			rc = matched_twice(d, ref, err);
	}
	cl__dupc *dup = rc == CL_EDUPKEY ? best_dup(d) : NULL;
	if (dup && !dup->left && dup->pa < 0) {
		/* a key matched on two workers: neither NEW row is known */
		int passes = dup->pb < 0 ? 2 : 1, fr = 0;
		for (int k = 0; k < passes && !fr && dup->pa < 0; k++)
			fr = find_first_right(d, ds, nunits, src, dup, NULL);
		if (!fr && dup->pb >= 0)
			rc = dup_message(d, dup, err);
	}
	cl_free(src);
	return rc;
}

int cl_diff_add_left_dataset(cl_diff *d, cl_dataset *ds, cl_diff_progress_fn progress,
			     void *arg, cl_error *err)
{
	if (d->state != ST_LEFT)
		return cl_error_set(err, CL_EINVAL,
				    "diff: left batches must come before right ones");
	int rc = materialize_left(d, err);
	if (rc)
		return rc;
	if (defer_left(d, ds)) {
		cl__diff_trace("aligned path: OLD deferred");
		return 0;
	}
	return add_dataset(d, ds, true, progress, arg, err);
}

int cl_diff_add_right_dataset(cl_diff *d, cl_dataset *ds, cl_diff_progress_fn progress,
			      void *arg, cl_error *err)
{
	if (d->state == ST_EMIT)
		return cl_error_set(err, CL_EINVAL, "diff: output already started");
	if (d->aligned)
		return aligned_done(d, err);
	if (d->nlds) {
		int rc = cl__diff_aligned(d, ds, progress, arg, err);
		if (rc < 0)
			return rc;
		if (rc > 0) {
			d->aligned = 1;
			d->state = ST_RIGHT;
			cl_dataset **l = d->lds;
			for (int i = 0; i < d->nlds; i++)
				cl_dataset_free(l[i]);
			cl_free(l);
			d->lds = NULL;
			d->nlds = 0;
			return 0;
		}
		if ((rc = materialize_left(d, err)))
			return rc;
	}
	return add_dataset(d, ds, false, progress, arg, err);
}

int cl_diff_next(cl_diff *d, cl_batch **out, cl_error *err)
{
	*out = NULL;
	if (d->state != ST_EMIT) {
		int rc = finish(d, err);
		if (rc)
			return rc;
	}
	if (!d->merge)
		return cl_error_set(err, CL_EINVAL, "diff: failed earlier");
	int rc = cl__diff_merge_next(d->merge, out, err);
	if (!rc && !*out)
		cl__diff_trace("merged");
	return rc;
}

const cl_diff_stats *cl_diff_get_stats(const cl_diff *d)
{
	return &d->stats;
}

void cl_diff_free(cl_diff *d)
{
	if (!d)
		return;
	int nu = d->plan.nu;
	cl__diff_merge_free(d->merge);
	if (d->outs)
		for (int i = 0; i < d->nthreads; i++)
			cl__diff_out_release(&d->outs[i]);
	cl_free(d->outs);
	for (int i = 0; d->w && i < d->nthreads; i++)
		worker_release(&d->w[i], nu);
	cl_free(d->w);
	cl__djoin_release(&d->join, nu);
	cl__dparts_close(&d->parts[0]);
	cl__dparts_close(&d->parts[1]);
	for (int i = 0; i < d->nlds; i++)
		cl_dataset_free(d->lds[i]);
	cl_free(d->lds);
	for (int i = 0; i < d->nsources; i++)
		cl_free(d->sources[i]);
	cl_free(d->sources);
	cl_free(d->value_changes);
	cl_free(d->value_names);
	cl_free(d->tmp_dir);
	if (d->page_pool)
		cl__pq_page_pool(false);
	cl__diff_plan_release(&d->plan);
	cl__diff_trace("freed");
	pthread_mutex_destroy(&d->mu);
	pthread_cond_destroy(&d->cv);
	cl_free(d);
}
