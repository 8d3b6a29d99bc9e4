/*
 * parquet_read_mt.c — the Parquet reader's multi-threaded pipeline: row
 * groups decoded in parallel, batches handed out in file order.
 *
 * Worker k of N owns a decoding context (cl__pq_dec) and a ring of RING
 * batches, and decodes row groups k, k+N, k+2N, ... of the selection one
 * after the other. Each ring entry is a batch, the end of a row group, or
 * an error (with its message). The consumer (cl__pq_mt_next) walks the row
 * groups in order, taking entries from the ring of the worker that owns
 * the current one; so the batches, their order and the first error in file
 * order are exactly those of the single-threaded reader, whatever the
 * thread count or timing.
 *
 * Ring invariants (under mt->mu): 0 <= tail - head <= RING; the worker
 * fills entry tail % RING only while tail - head < RING, so it never
 * touches an entry the consumer may read ([head, tail)); the consumer
 * holds at most one entry (the batch it returned last), given back
 * (head++) at its next call. A worker stops after an error entry or when
 * mt->stop is set (cl__pq_mt_free), which also wakes every waiter.
 *
 * Memory: per worker, a read window and one page per leaf, and RING
 * batches — about N + 1 times the single-threaded reader's.
 */
#include "parquet_reader.h"

#include <pthread.h>
#include <string.h>

#define RING 2

enum { ITEM_BATCH, ITEM_END, ITEM_ERROR };

typedef struct mt_item {
	int kind;
	cl_batch *b;
	int rc;
	cl_error err;
} mt_item;

typedef struct mt_worker {
	cl__pq_mt *mt;
	int id;
	bool started;
	pthread_t th;
	cl__pq_dec dec;
	mt_item q[RING];
	int64_t head, tail;
} mt_worker;

struct cl__pq_mt {
	cl__pq_reader *p;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	int nw;
	mt_worker *w;
	int pos;              /* consumer: index into p->rgs */
	mt_worker *held;      /* whose head entry the consumer holds */
	int rc;               /* sticky error once reported */
	cl_error err;
};

/* Wait for a free ring entry; NULL when stopping. */
static mt_item *slot(mt_worker *w)
{
	cl__pq_mt *mt = w->mt;
	pthread_mutex_lock(&mt->mu);
	while (!mt->stop && w->tail - w->head >= RING)
		pthread_cond_wait(&mt->cv, &mt->mu);
	mt_item *it = mt->stop ? NULL : &w->q[w->tail % RING];
	pthread_mutex_unlock(&mt->mu);
	return it;
}

static void publish(mt_worker *w)
{
	pthread_mutex_lock(&w->mt->mu);
	w->tail++;
	pthread_cond_broadcast(&w->mt->cv);
	pthread_mutex_unlock(&w->mt->mu);
}

static void *work(void *arg)
{
	mt_worker *w = arg;
	cl__pq_mt *mt = w->mt;
	const cl__pq_reader *p = mt->p;
	for (int pos = w->id; pos < p->nrgs; pos += mt->nw) {
		cl_error err = {0};
		int rc = cl__pq_dec_start(p, &w->dec, pos, &err);
		for (;;) {
			mt_item *it = slot(w);
			if (!it)
				return NULL;
			int64_t n = 0;
			if (!rc)
				rc = cl__pq_dec_next(p, &w->dec, it->b, &n, &err);
			if (!rc && n > 0) {
				it->kind = ITEM_BATCH;
				publish(w);
				continue;
			}
			/* the row group's end, or an error: the worker stops there */
			it->kind = rc ? ITEM_ERROR : ITEM_END;
			it->rc = rc;
			if (rc)
				it->err = err;
			publish(w);
			if (rc)
				return NULL;
			break;
		}
	}
	return NULL;
}

static int start(cl__pq_reader *p, cl_error *err)
{
	cl__pq_mt *mt = cl_calloc(1, sizeof *mt);
	if (!mt)
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	p->mt = mt;
	mt->p = p;
	mt->nw = p->nthreads;
	pthread_mutex_init(&mt->mu, NULL);
	pthread_cond_init(&mt->cv, NULL);
	mt->w = cl_calloc((size_t)mt->nw, sizeof *mt->w);
	if (!mt->w)
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	for (int k = 0; k < mt->nw; k++) {
		mt_worker *w = &mt->w[k];
		w->mt = mt;
		w->id = k;
		int rc = cl__pq_dec_init(p, &w->dec, err);
		for (int i = 0; !rc && i < RING; i++)
			rc = cl_batch_create(&w->q[i].b, p->schema, 0, err);
		if (rc)
			return rc;
	}
	for (int k = 0; k < mt->nw; k++) {
		if (pthread_create(&mt->w[k].th, NULL, work, &mt->w[k]) != 0)
			return cl_error_set(err, CL_EIO, "%s: cannot start a reading thread",
					    p->f->path);
		mt->w[k].started = true;
	}
	return 0;
}

int cl__pq_mt_next(cl__pq_reader *p, cl_batch **out, cl_error *err)
{
	*out = NULL;
	int rc;
	if (!p->mt && (rc = start(p, err))) {
		cl__pq_mt_free(p);
		return rc;
	}
	cl__pq_mt *mt = p->mt;
	if (mt->rc) {
		*err = mt->err;
		return mt->rc;
	}
	pthread_mutex_lock(&mt->mu);
	if (mt->held) {
		mt->held->head++;
		mt->held = NULL;
		pthread_cond_broadcast(&mt->cv);
	}
	for (;;) {
		if (mt->pos >= p->nrgs) {
			pthread_mutex_unlock(&mt->mu);
			return 0;
		}
		mt_worker *w = &mt->w[mt->pos % mt->nw];
		while (w->tail == w->head)
			pthread_cond_wait(&mt->cv, &mt->mu);
		mt_item *it = &w->q[w->head % RING];
		if (it->kind == ITEM_END) {
			w->head++;
			mt->pos++;
			pthread_cond_broadcast(&mt->cv);
			continue;
		}
		pthread_mutex_unlock(&mt->mu);
		if (it->kind == ITEM_ERROR) {
			mt->rc = it->rc;
			mt->err = it->err;
			*err = it->err;
			return it->rc;
		}
		mt->held = w;
		*out = it->b;
		return 0;
	}
}

void cl__pq_mt_free(cl__pq_reader *p)
{
	cl__pq_mt *mt = p->mt;
	if (!mt)
		return;
	pthread_mutex_lock(&mt->mu);
	mt->stop = true;
	pthread_cond_broadcast(&mt->cv);
	pthread_mutex_unlock(&mt->mu);
	for (int k = 0; mt->w && k < mt->nw; k++) {
		mt_worker *w = &mt->w[k];
		if (w->started)
			pthread_join(w->th, NULL);
		cl__pq_dec_release(p, &w->dec);
		for (int i = 0; i < RING; i++)
			cl_batch_free(w->q[i].b);
	}
	cl_free(mt->w);
	pthread_mutex_destroy(&mt->mu);
	pthread_cond_destroy(&mt->cv);
	cl_free(mt);
	p->mt = NULL;
}
