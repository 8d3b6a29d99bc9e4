/*
 * table_cow_jobs.c — the buckets of a copy-on-write on threads (a
 * bucketed table without partition columns: a bucket's rows form one
 * group of the writer, so the buckets can be done one after another, each
 * through a writer of its own that is finished and freed when the bucket
 * is done).
 *
 * Invariants: the commit does not depend on the thread count: each job
 * records its file actions in a fork of the transaction and the forks are
 * joined in bucket order; the first failed job (in job order) is the
 * error, and no job starts after one failed. Memory is one bucket's file
 * and buffers per thread.
 */
#include "delta.h"
#include "table_cow_impl.h"

#include <pthread.h>
#include <string.h>

static int oom(cl_error *err)
{
	return cl_error_set(err, CL_ENOMEM, "out of memory");
}

/* What a worker counted (the candidates' and rewrites' counters). */
static void stats_add(cl_table_cow_stats *to, const cl_table_cow_stats *from)
{
	to->files_candidates += from->files_candidates;
	to->files_rewritten += from->files_rewritten;
	to->rows_copied += from->rows_copied;
	to->rows_deleted += from->rows_deleted;
	to->bytes_removed += from->bytes_removed;
}

/*
 * The buckets on threads. A job is one bucket: its candidate files, then
 * its upserts, through a bucket writer of its own, with every file action
 * (read scopes, removes, adds) recorded in a fork of the transaction made
 * for that job (cl__table_txn_fork). Up to nthreads workers take the next
 * job in order until none is left or one failed (a failing job stops the
 * taking of new ones; the jobs running finish), the largest first. The
 * forks are then joined into the transaction in job order (bucket order),
 * so the commit is the same whatever the thread count. Per worker: the
 * scratch of the scanned batches, the merge-on-read hits, the scope buffer,
 * the counters (summed after) and the PLAIN carry from one of its files to
 * the next (so which columns start PLAIN in a file may differ with the
 * thread count; the rows never do). Shared and only read: the layout, the
 * upserts, the key set (but K_FOUND, see cl__kslot_flags). Memory: one
 * bucket's file and buffers per worker.
 */
typedef struct cow_job {
	int bucket;
	int64_t bytes;    /* its candidate files' size */
	cl_table_txn *fork;
	int rc;
	cl_error err;
	int64_t added[3]; /* files, rows, bytes written */
} cow_job;

typedef struct cow_par {
	cl_table *t;
	const cl_snapshot *s;
	const cl__table_layout *l;
	cl__keyset *ks;
	cl__dv_marks *marks; /* merge-on-read (one worker only), else NULL */
	const cl__cow_upserts *u;
	const int *file_bucket; /* per snapshot file: its bucket if a candidate, else -1 */
	size_t nfiles;
	cow_job *jobs;
	int njobs;
	pthread_mutex_t mu;
	int *order;  /* jobs by size, largest first: the last jobs taken are
			the short ones, so the threads finish close together */
	int next;    /* next in order to take (under mu) */
	bool failed; /* a job failed: take no more (under mu) */
} cow_par;

typedef struct cow_worker {
	cow_par *p;
	cl__cow_scratch z;
	cl__cow_dv_hits dh;
	cl_buf scope;
	bool *plain; /* per data column: fell back to PLAIN in its last file */
	cl_table_cow_stats st;
	pthread_t th;
} cow_worker;

static int cow_job_run(cow_worker *wk, cow_job *j)
{
	cow_par *p = wk->p;
	cl_error *err = &j->err;
	cl__cow_ctx cc = {p->t, p->s, j->fork, p->l, p->ks, &wk->scope, p->marks, &wk->dh, &wk->z};
	cl__cow_sink one = {NULL, NULL};
	int rc = cl__bucket_writer_open(&one.bw, p->t, j->fork, p->l, j->bucket, err);
	if (!rc)
		cl__bucket_writer_share_plain(one.bw, wk->plain);
	for (size_t f = 0; !rc && f < p->nfiles; f++)
		if (p->file_bucket[f] == j->bucket)
			rc = cl__cow_cand_file(&cc, &one, cl_snapshot_file(p->s, f), &wk->st, err);
	rc = rc ? rc : cl__cow_write_upserts(&one, p->l->schema, p->u, p->ks->nb, j->bucket, NULL,
					     err);
	rc = rc ? rc : cl__bucket_writer_finish(one.bw, err);
	if (!rc)
		cl__bucket_writer_counts(one.bw, &j->added[0], &j->added[1], &j->added[2]);
	cl__bucket_writer_free(one.bw); /* removes a file still staged */
	return rc;
}

static void *cow_work(void *arg)
{
	cow_worker *wk = arg;
	cow_par *p = wk->p;
	for (;;) {
		pthread_mutex_lock(&p->mu);
		int i = p->failed || p->next >= p->njobs ? -1 : p->order[p->next++];
		pthread_mutex_unlock(&p->mu);
		if (i < 0)
			break;
		cow_job *j = &p->jobs[i];
		j->rc = cow_job_run(wk, j);
		if (j->rc) {
			pthread_mutex_lock(&p->mu);
			p->failed = true;
			pthread_mutex_unlock(&p->mu);
			break;
		}
	}
	return NULL;
}

/* Run p's jobs on up to nthreads workers (the calling thread one of
 * them); stats summed into st. 0, or the error of the first failed job
 * in job order. */
static int cow_run_jobs(cow_par *p, int nthreads, cl_table_cow_stats *st, cl_error *err)
{
	if (nthreads > p->njobs)
		nthreads = p->njobs;
	if (nthreads < 1)
		return 0;
	int rc = 0, started = 0;
	cow_worker *wk = cl_calloc((size_t)nthreads, sizeof *wk);
	if (!wk)
		return oom(err);
	for (int i = 0; !rc && i < nthreads; i++) {
		wk[i].p = p;
		wk[i].dh.ks = p->ks;
		wk[i].dh.nkeys = p->l->nkeys;
		wk[i].plain = cl_calloc((size_t)p->l->file_schema->nfields + 1, sizeof *wk[i].plain);
		if (!wk[i].plain)
			rc = oom(err);
		rc = rc ? rc : cl_batch_create(&wk[i].z.keep, p->l->schema, 1024, err);
	}
	if (!rc && pthread_mutex_init(&p->mu, NULL) != 0)
		rc = cl_error_set(err, CL_EIO, "cannot create a mutex");
	if (!rc) {
		/* workers 1.. on threads of their own (fewer if a thread cannot
		 * be started: the jobs are shared out all the same) */
		for (started = 1; started < nthreads; started++)
			if (pthread_create(&wk[started].th, NULL, cow_work, &wk[started]) != 0)
				break;
		cow_work(&wk[0]);
		for (int i = 1; i < started; i++)
			pthread_join(wk[i].th, NULL);
		pthread_mutex_destroy(&p->mu);
		for (int i = 0; i < p->njobs; i++)
			if (p->jobs[i].rc) {
				rc = p->jobs[i].rc;
				*err = p->jobs[i].err;
				break;
			}
	}
	for (int i = 0; i < nthreads; i++) {
		stats_add(st, &wk[i].st);
		cl__cow_scratch_release(&wk[i].z);
		cl_free(wk[i].dh.h);
		cl_free(wk[i].dh.pos);
		cl_buf_release(&wk[i].scope);
		cl_free(wk[i].plain);
	}
	cl_free(wk);
	return rc;
}

int cl__cow_buckets(const cl__cow_ctx *c, const cl__cow_upserts *u, const bool *is_cand,
		    bool *done, int64_t added[3], cl_table_cow_stats *st, cl_error *err)
{
	const cl_snapshot *s = c->s;
	cl_table_txn *x = c->x;
	size_t nfiles = cl_snapshot_nfiles(s);
	int *file_bucket = NULL;
	int rc = 0;
	cow_par par = {0};
	par.t = c->t;
	par.s = s;
	par.l = c->l;
	par.ks = c->ks;
	par.marks = c->marks;
	par.u = u;
	par.nfiles = nfiles;
	par.file_bucket = file_bucket = cl_malloc((nfiles + 1) * sizeof *file_bucket);
	par.jobs = cl_calloc((size_t)c->ks->nb, sizeof *par.jobs);
	if (!file_bucket || !par.jobs)
		rc = oom(err);
	for (size_t fi = 0; !rc && fi < nfiles; fi++) {
		int bk = file_bucket[fi] = is_cand[fi]
			? cl__layout_bucket_of_key(cl_snapshot_file(s, fi)->path) : -1;
		if (bk >= 0)
			done[bk] = true;
	}
	/* in bucket order: the commit's order does not depend on the
	 * files' (random) names either */
	for (int bk = 0; !rc && bk < c->ks->nb; bk++) {
		if (!done[bk])
			continue;
		cow_job *j = &par.jobs[par.njobs++];
		j->bucket = bk;
		for (size_t fi = 0; fi < nfiles; fi++)
			if (file_bucket[fi] == bk)
				j->bytes += cl_snapshot_file(s, fi)->size;
		rc = cl__table_txn_fork(&j->fork, x, err);
	}
	par.order = rc ? NULL : cl_malloc(((size_t)par.njobs + 1) * sizeof *par.order);
	if (!rc && !par.order)
		rc = oom(err);
	for (int i = 0; !rc && i < par.njobs; i++) {
		/* insertion sort by size, largest first (ties: bucket order) */
		int k = i;
		while (k > 0 && par.jobs[par.order[k - 1]].bytes < par.jobs[i].bytes) {
			par.order[k] = par.order[k - 1];
			k--;
		}
		par.order[k] = i;
	}
	/* merge-on-read collects every file's marks in one list: one
	 * thread */
	int nth = c->marks ? 1 : cl_table_txn_threads(x);
	rc = rc ? rc : cow_run_jobs(&par, nth, st, err);
	for (int i = 0; !rc && i < par.njobs; i++) {
		rc = cl__table_txn_join(x, par.jobs[i].fork, err);
		for (int k = 0; k < 3; k++)
			added[k] += par.jobs[i].added[k];
	}
	for (int i = 0; i < par.njobs; i++)
		cl_table_txn_free(par.jobs[i].fork);
	cl_free(par.jobs);
	cl_free(par.order);
	cl_free(file_bucket);
	return rc;
}
