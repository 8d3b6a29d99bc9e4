/*
 * dms_prefetch.c — worker threads open and decode a run's DMS files ahead
 * of the thread that folds them (see dms_prefetch.h for the contract).
 *
 * State (one mutex, two condition variables):
 *   slots[i]   per planned file: covered (workers read it), opened (a
 *              worker tried to open it: rd, or the error), a FIFO of owned
 *              batches, ended (no more batches: the end, or an error in
 *              rc/err after the batches before it), held (the batch last
 *              handed to the caller, freed at its next call).
 *   next       the next file a worker claims: files are claimed strictly
 *              in order, so every covered file before `next` is claimed.
 *   cur        the file the caller is at (it only moves forward).
 *   queued     decoded bytes waiting in all FIFOs.
 *   fail_at    the first file (by index) a worker found an error in:
 *              nothing after it is claimed (the caller stops there).
 * A worker claims file j when j == cur, or when what is read ahead leaves
 * room (queued < max_bytes, by default CL__DMS_PREFETCH_BYTES, and
 * j - cur <= CL__DMS_PREFETCH_FILES).
 * While decoding file j it waits before the next batch when j > cur and
 * queued is at the bound, or when j == cur and j's own FIFO is. No
 * deadlock: the file `cur` is claimed whenever any worker holds a later
 * one, and its worker waits only while its FIFO is full, which the caller
 * drains. `ready` wakes the caller (a file opened, a batch queued, a file
 * ended); `space` wakes workers (cur moved, a batch taken, stop).
 * A worker owns its file's reader until it marks the file ended; after
 * that only the caller touches it (close), and cl__dms_prefetch_free joins
 * every worker before freeing what is left.
 */
#include "dms_prefetch.h"
#include "dms_impl.h"
#include "core/column.h"

#include <pthread.h>
#include <string.h>


#define MAX_WORKERS 8

typedef struct item {
	struct item *next;
	cl_batch *b;
	char *ops;
	int64_t first_row;
	int64_t bytes;
} item;

typedef struct slot {
	bool covered, opened, ended;
	bool left;         /* closed by the caller before its end */
	cl_dms_reader *rd;
	item *head, *tail;
	item *held;
	int64_t bytes;
	int rc;
	cl_error *err;     /* owned; NULL if it could not be allocated */
} slot;

struct cl__dms_prefetch {
	pthread_mutex_t mu;
	pthread_cond_t ready, space;
	slot *slots;
	int nfiles;
	int next, cur, fail_at;
	int64_t queued;
	int64_t max_bytes;  /* CL__DMS_PREFETCH_BYTES unless a test says */
	bool stop;
	cl__dms_open_fn open;
	void *ctx;
	pthread_t th[MAX_WORKERS];
	int nth;
};

static void item_free(item *it)
{
	if (!it)
		return;
	cl_batch_free(it->b);
	cl_free(it->ops);
	cl_free(it);
}

/* Decoded bytes of a batch and its ops (what it holds allocated). */
static int64_t batch_bytes(const cl_batch *b)
{
	int64_t n = b->nrows;
	for (int c = 0; c < b->ncols; c++)
		n += cl__column_bytes(&b->cols[c]);
	return n;
}

/* Record file j's error (mutex held). */
static void fail(cl__dms_prefetch *p, slot *s, int j, int rc, const cl_error *e)
{
	s->rc = rc;
	if ((s->err = cl_malloc(sizeof *s->err)))
		*s->err = *e;
	s->opened = s->ended = true;
	if (j < p->fail_at)
		p->fail_at = j;
}

/* Whether file j's worker waits before decoding its next batch. */
static bool full(const cl__dms_prefetch *p, const slot *s, int j)
{
	return j > p->cur ? p->queued >= p->max_bytes : s->bytes >= p->max_bytes;
}

/* Read file j to its end or first error, or until stopped (mutex held on
 * entry and return). */
static void read_file(cl__dms_prefetch *p, int j)
{
	slot *s = &p->slots[j];
	cl_error e = {0};
	cl_dms_reader *rd = NULL;
	pthread_mutex_unlock(&p->mu);
	int rc = p->open(p->ctx, j, &rd, &e);
	pthread_mutex_lock(&p->mu);
	s->rd = rd;
	if (rc) {
		fail(p, s, j, rc, &e);
		pthread_cond_broadcast(&p->ready);
		return;
	}
	s->opened = true;
	pthread_cond_broadcast(&p->ready);
	for (;;) {
		while (!p->stop && !s->left && j <= p->fail_at && full(p, s, j))
			pthread_cond_wait(&p->space, &p->mu);
		if (p->stop || s->left || j > p->fail_at) {
			/* the caller stopped, left the file, or stops at an
			 * earlier file: the rest is never read (not an error
			 * of the files: later files are still read) */
			int at = p->fail_at;
			fail(p, s, j, cl_error_set(&e, CL_EINTERNAL, "read ahead: stopped"), &e);
			p->fail_at = at;
			break;
		}
		pthread_mutex_unlock(&p->mu);
		cl_batch *b = NULL;
		char *ops = NULL;
		int64_t first = 0;
		item *it = NULL;
		rc = cl__dms_reader_next_owned(rd, &b, &ops, &first, &e);
		if (!rc && b && !(it = cl_calloc(1, sizeof *it))) {
			cl_batch_free(b);
			cl_free(ops);
			rc = cl_error_set(&e, CL_ENOMEM, "out of memory");
		}
		if (it) {
			it->b = b;
			it->ops = ops;
			it->first_row = first;
			it->bytes = batch_bytes(b);
		}
		pthread_mutex_lock(&p->mu);
		if (rc) {
			fail(p, s, j, rc, &e);
			break;
		}
		if (!it) {
			s->ended = true;
			break;
		}
		if (s->tail)
			s->tail->next = it;
		else
			s->head = it;
		s->tail = it;
		s->bytes += it->bytes;
		p->queued += it->bytes;
		pthread_cond_broadcast(&p->ready);
	}
	pthread_cond_broadcast(&p->ready);
}

static void *worker(void *arg)
{
	cl__dms_prefetch *p = arg;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (p->next < p->nfiles && !p->slots[p->next].covered)
			p->next++;
		int j = p->next;
		if (p->stop || j >= p->nfiles || j > p->fail_at)
			break;
		if (j > p->cur && (p->queued >= p->max_bytes ||
				   j - p->cur > CL__DMS_PREFETCH_FILES)) {
			pthread_cond_wait(&p->space, &p->mu);
			continue;
		}
		p->next++;
		read_file(p, j);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

bool cl__dms_prefetch_covers(const cl__dms_prefetch *p, int i)
{
	return p && i >= 0 && i < p->nfiles && p->slots[i].covered;
}

int cl__dms_prefetch_start(cl__dms_prefetch **out, const cl_dms_file *const *files,
			   int nfiles, int workers, int64_t max_bytes, cl__dms_open_fn open,
			   void *ctx, cl_error *err)
{
	*out = NULL;
	int ncov = 0;
	for (int i = 0; i < nfiles; i++)
		ncov += files[i]->name.format == CL_FORMAT_PARQUET &&
			files[i]->size < CL__DMS_PREFETCH_LARGE;
	if (workers > ncov)
		workers = ncov;
	if (workers > MAX_WORKERS)
		workers = MAX_WORKERS;
	if (workers < 1)
		return 0;
	cl__dms_prefetch *p = cl_calloc(1, sizeof *p);
	if (!p || !(p->slots = cl_calloc((size_t)nfiles, sizeof *p->slots))) {
		cl_free(p);
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	}
	for (int i = 0; i < nfiles; i++)
		p->slots[i].covered = files[i]->name.format == CL_FORMAT_PARQUET &&
				      files[i]->size < CL__DMS_PREFETCH_LARGE;
	p->nfiles = nfiles;
	p->fail_at = nfiles;
	p->max_bytes = max_bytes > 0 ? max_bytes : CL__DMS_PREFETCH_BYTES;
	p->open = open;
	p->ctx = ctx;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->ready, NULL);
	pthread_cond_init(&p->space, NULL);
	for (int k = 0; k < workers; k++)
		if (!pthread_create(&p->th[p->nth], NULL, worker, p))
			p->nth++;
	if (p->nth == 0) {
		/* no thread: the caller reads every file itself */
		cl__dms_prefetch_free(p);
		return 0;
	}
	*out = p;
	return 0;
}

/* The caller is at file i: workers may read further ahead. */
static void move_to(cl__dms_prefetch *p, int i)
{
	if (i > p->cur) {
		p->cur = i;
		pthread_cond_broadcast(&p->space);
	}
}

static int copy_error(const slot *s, cl_error *err)
{
	if (err && s->err)
		*err = *s->err;
	else if (!s->err)
		cl_error_set(err, CL_ENOMEM, "out of memory");
	return s->err ? s->rc : CL_ENOMEM;
}

int cl__dms_prefetch_open(cl__dms_prefetch *p, int i, const cl_dms_reader **rd,
			  cl_error *err)
{
	slot *s = &p->slots[i];
	int rc = 0;
	*rd = NULL;
	pthread_mutex_lock(&p->mu);
	move_to(p, i);
	while (!s->opened)
		pthread_cond_wait(&p->ready, &p->mu);
	if (s->rd)
		*rd = s->rd;
	else
		rc = copy_error(s, err);
	pthread_mutex_unlock(&p->mu);
	return rc;
}

int cl__dms_prefetch_next(cl__dms_prefetch *p, int i, cl_dms_changes *out, cl_error *err)
{
	slot *s = &p->slots[i];
	memset(out, 0, sizeof *out);
	item_free(s->held);
	s->held = NULL;
	int rc = 0;
	pthread_mutex_lock(&p->mu);
	while (!s->head && !s->ended)
		pthread_cond_wait(&p->ready, &p->mu);
	item *it = s->head;
	if (it) {
		if (!(s->head = it->next))
			s->tail = NULL;
		s->bytes -= it->bytes;
		p->queued -= it->bytes;
		pthread_cond_broadcast(&p->space);
	} else if (s->rc) {
		rc = copy_error(s, err);
	}
	pthread_mutex_unlock(&p->mu);
	if (it) {
		s->held = it;
		out->batch = it->b;
		out->ops = it->ops;
		out->nrows = it->b->nrows;
		out->first_row = it->first_row;
	}
	return rc;
}

/* Free what file i holds (its worker is done with it). */
static void slot_clear(cl__dms_prefetch *p, slot *s)
{
	for (item *it = s->head, *nx; it; it = nx) {
		nx = it->next;
		p->queued -= it->bytes;
		item_free(it);
	}
	s->head = s->tail = NULL;
	s->bytes = 0;
	item_free(s->held);
	s->held = NULL;
	cl_dms_reader_free(s->rd);
	s->rd = NULL;
	cl_free(s->err);
	s->err = NULL;
}

void cl__dms_prefetch_close(cl__dms_prefetch *p, int i)
{
	slot *s = &p->slots[i];
	pthread_mutex_lock(&p->mu);
	/* a file left before its end (the caller failed) is freed at
	 * cl__dms_prefetch_free, once its worker has stopped; the worker
	 * stops at its next batch */
	if (s->ended)
		slot_clear(p, s);
	else
		s->left = true;
	move_to(p, i + 1);
	pthread_cond_broadcast(&p->space);
	pthread_mutex_unlock(&p->mu);
}

void cl__dms_prefetch_free(cl__dms_prefetch *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = true;
	pthread_cond_broadcast(&p->space);
	pthread_mutex_unlock(&p->mu);
	for (int k = 0; k < p->nth; k++)
		pthread_join(p->th[k], NULL);
	for (int i = 0; i < p->nfiles; i++)
		slot_clear(p, &p->slots[i]);
	pthread_cond_destroy(&p->ready);
	pthread_cond_destroy(&p->space);
	pthread_mutex_destroy(&p->mu);
	cl_free(p->slots);
	cl_free(p);
}
