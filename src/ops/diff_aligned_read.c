/*
 * diff_aligned_read.c — the readers of the aligned diff path (diff_aligned.c):
 * one side (OLD or NEW) read in order, unit after unit (a Parquet row group,
 * a file), into chunks in the unified columns with key hashes and input
 * positions (cl__dchunk), handed to the walker through a small queue when
 * the side reads on a thread of its own; and the duplicate check over
 * every key hash a side read.
 *
 * Invariants: a chunk is owned by exactly one of the reader's last batch
 * (tmp, from tnext on), the queue or the walker (s->c); only the side's
 * reader touches its cursor, view, hashes and buckets while it runs; the
 * walker reads the buckets only after cl__aside_stop.
 */
#include "diff_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Seconds on the monotonic clock (the queue's wait times, for
 * CL_DIFF_TRACE). */
static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int oom(cl_error *err)
{
	return cl_error_set(err, CL_ENOMEM, "out of memory");
}

/* ---- reading ------------------------------------------------------------ */

typedef struct take_ctx {
	const cl__diff_plan *p;
	cl__aside *s;
} take_ctx;

/* Take view column j of the cursor's batch over (see take_col, diff.c). */
static int take_col(void *arg, int j, cl_column *dst, cl_error *err)
{
	take_ctx *t = arg;
	cl__dview *v = &t->s->v;
	int rc;
	if (v->cols[j] == &v->scratch[j])
		return (rc = cl_column_move(dst, &v->scratch[j], err)) ? rc : 1;
	int idx = t->s->left ? t->p->u[j].lidx : t->p->u[j].ridx;
	for (int k = 0; k < t->p->nu; k++)
		if (k != j && v->cols[k] == v->cols[j])
			return 0;
	return cl__dataset_cursor_take(t->s->cur, idx, dst, err);
}

static int grow_rows(cl__aside *s, int64_t n, cl_error *err)
{
	if (n <= s->hcap)
		return 0;
	int64_t c = s->hcap ? s->hcap : 1024;
	while (c < n)
		c *= 2;
	uint64_t *h = cl_realloc(s->h, (size_t)c * sizeof *h);
	if (!h)
		return oom(err);
	s->h = h;
	int64_t *pv = cl_realloc(s->pv, (size_t)c * sizeof *pv);
	if (!pv)
		return oom(err);
	s->pv = pv;
	s->hcap = c;
	return 0;
}

static bool in_block(const cl__aside *s, int b)
{
	return s->hblock && s->bk[b] == s->hblock + (size_t)b * (size_t)s->hregion;
}

/*
 * The regions of the key hashes: when the files say how many rows they
 * hold, one block with a region per bucket of the expected share and a
 * margin (a bucket gets n/256 +- a few sqrt(n/256) hashes), allocated
 * once: growing 256 arrays by doubling copied every hash about once more
 * and faulted in fresh pages each time (half of the aligned diff's page
 * faults). No huge-page hint: the regions are written and read in order,
 * and a madvised huge page may cost a direct compaction (more system time
 * than the faults it saves, measured). A bucket that outgrows its region
 * moves to an array of its own.
 */
static int hash_block(cl__aside *s, cl_error *err)
{
	if (s->hblock || s->expect <= 0 || s->bn[0] || s->bcap[0])
		return 0;
	int64_t per = s->expect / CL__ASIDE_NBUCKET;
	int64_t margin = 64;
	while (margin * margin < 16 * per)
		margin *= 2;
	int64_t region = per + margin;
	size_t bytes = (size_t)region * CL__ASIDE_NBUCKET * sizeof(uint64_t);
	if (!(s->hblock = cl_malloc(bytes)))
		return oom(err);
	s->hregion = region;
	for (int b = 0; b < CL__ASIDE_NBUCKET; b++) {
		s->bk[b] = s->hblock + (size_t)b * (size_t)region;
		s->bcap[b] = region;
	}
	return 0;
}

int cl__aside_keep(cl__aside *s, const uint64_t *h, const uint32_t *rows, int64_t n,
                   cl_error *err)
{
	int rc = hash_block(s, err);
	if (rc)
		return rc;
	for (int64_t i = 0; i < n; i++) {
		uint64_t x = h[rows ? rows[i] : i];
		int b = (int)(x >> 56);
		if (s->bn[b] == s->bcap[b]) {
			int64_t c = s->bcap[b] ? s->bcap[b] * 2 : 1024;
			uint64_t *y;
			if (in_block(s, b)) {
				if ((y = cl_malloc((size_t)c * sizeof *y)))
					memcpy(y, s->bk[b], (size_t)s->bn[b] * sizeof *y);
			} else {
				y = cl_realloc(s->bk[b], (size_t)c * sizeof *y);
			}
			if (!y)
				return oom(err);
			s->bk[b] = y;
			s->bcap[b] = c;
		}
		s->bk[b][s->bn[b]++] = x;
	}
	s->kept += n;
	return 0;
}

/* The next batch into s->tmp (as one or more chunks); tmp stays empty at
 * the end. */
static int read_batch(cl__aside *s, cl_error *err)
{
	const cl__diff_plan *p = &s->d->plan;
	int rc;
	for (;;) {
		if (__atomic_load_n(&s->stop, __ATOMIC_RELAXED))
			return 0;
		if (!s->cur) {
			while (s->di < s->nds && s->u >= s->nunits) {
				if (++s->di < s->nds &&
				    (rc =
				         cl_dataset_split(s->ds[s->di], &s->nunits, err)))
					return rc;
				s->u = 0;
			}
			if (s->di >= s->nds)
				return 0;
			if ((rc = cl_dataset_cursor_open(&s->cur, s->ds[s->di], s->u++,
			                                 err)))
				return rc;
		}
		cl_batch *b;
		if ((rc = cl_dataset_cursor_next(s->cur, &b, err)))
			return rc;
		if (!b) {
			cl_dataset_cursor_free(s->cur);
			s->cur = NULL;
			continue;
		}
		int64_t n = b->nrows;
		if (!n)
			continue;
		if ((rc = cl__dview_set(&s->v, p, b, s->left, err)) ||
		    (rc = grow_rows(s, n, err)))
			return rc;
		cl__key_hash(p, s->v.cols, n, s->h);
		int64_t base = ((int64_t)s->src[s->di][cl_dataset_cursor_file(s->cur)]
		                << CL__PROV_SHIFT) +
		               cl_dataset_cursor_first_row(s->cur);
		for (int64_t i = 0; i < n; i++)
			s->pv[i] = base + i;
		if (n >= CL__CHUNK_ROWS / 2 && n <= CL__CHUNK_ROWS) {
			take_ctx t = {p, s};
			return cl__dstore_adopt(&s->tmp, p, s->v.cols, n, s->h, s->pv,
			                        take_col, &t, err);
		}
		return cl__dstore_append(&s->tmp, p, s->v.cols, n, s->h, s->pv, err);
	}
}

/* The next chunk read here (NULL at the end). */
static int read_chunk(cl__aside *s, cl__dchunk **out, cl_error *err)
{
	*out = NULL;
	if (s->tnext == s->tmp.nchunks) {
		s->tmp.nchunks = 0;
		s->tmp.nrows = 0;
		s->tmp.bytes = 0;
		s->tnext = 0;
		int rc = read_batch(s, err);
		if (rc)
			return rc;
		if (!s->tmp.nchunks)
			return 0;
	}
	*out = s->tmp.chunks[s->tnext];
	s->tmp.chunks[s->tnext++] = NULL;
	return 0;
}

/* Bytes of a chunk's buffers. */
static int64_t chunk_bytes(const cl__dchunk *c, int nu)
{
	int64_t b = c->n * (int64_t)(sizeof *c->hash + sizeof *c->prov);
	for (int u = 0; u < nu; u++)
		b += cl__column_bytes(&c->cols[u]);
	return b;
}

/* Whether the queue has room for one more chunk (under s->mu). */
static bool q_room(const cl__aside *s)
{
	return s->qn < CL__ASIDE_QMIN ||
	       (s->qn < CL__ASIDE_QCAP && s->qbytes < s->qmax);
}

static void *reader_main(void *arg)
{
	cl__aside *s = arg;
	int nu = s->d->plan.nu;
	cl__pq_page_cache(true);
	for (;;) {
		cl__dchunk *c = NULL;
		int rc = read_chunk(s, &c, &s->err);
		int64_t cb = c ? chunk_bytes(c, nu) : 0;
		pthread_mutex_lock(&s->mu);
		if (!q_room(s) && !s->stop) {
			double t0 = now_s();
			while (!q_room(s) && !s->stop)
				pthread_cond_wait(&s->cv, &s->mu);
			s->wait_full += now_s() - t0;
			s->n_full++;
		}
		if (s->stop) {
			pthread_mutex_unlock(&s->mu);
			cl__dchunk_free(c, s->d->plan.nu);
			break;
		}
		if (rc || !c) {
			s->rc = rc;
			s->eof = true;
			pthread_cond_broadcast(&s->cv);
			pthread_mutex_unlock(&s->mu);
			break;
		}
		int at = (s->qhead + s->qn++) % CL__ASIDE_QCAP;
		s->q[at] = c;
		s->qb[at] = cb;
		s->qbytes += cb;
		/* the walker waits only for the first chunk */
		if (s->qn == 1)
			pthread_cond_broadcast(&s->cv);
		pthread_mutex_unlock(&s->mu);
	}
	cl__pq_page_cache(false);
	return NULL;
}

/* The walker's next chunk of a side (NULL at the end). */
int cl__aside_next(cl__aside *s, cl__dchunk **out, cl_error *err)
{
	if (!s->threaded)
		return read_chunk(s, out, err);
	*out = NULL;
	pthread_mutex_lock(&s->mu);
	if (!s->qn && !s->eof) {
		double t0 = now_s();
		while (!s->qn && !s->eof)
			pthread_cond_wait(&s->cv, &s->mu);
		s->wait_empty += now_s() - t0;
		s->n_empty++;
	}
	int rc = 0;
	if (s->qn) {
		bool full = !q_room(s);
		*out = s->q[s->qhead];
		s->qbytes -= s->qb[s->qhead];
		s->qhead = (s->qhead + 1) % CL__ASIDE_QCAP;
		s->qn--;
		/* the reader waits only on a full queue */
		if (full && q_room(s))
			pthread_cond_broadcast(&s->cv);
	} else if (s->rc) {
		rc = s->rc;
		if (err)
			*err = s->err;
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

int cl__aside_init(cl__aside *s, cl_diff *d, bool left, cl_dataset **ds, int nds,
                   cl_error *err)
{
	const cl__diff_plan *p = &d->plan;
	s->d = d;
	s->left = left;
	s->ds = ds;
	s->nds = nds;
	s->tmp.types = s->park.types = left ? p->ltypes : p->rtypes;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	int rc = cl__dview_init(&s->v, p, left ? p->ltypes : p->rtypes, err);
	if (rc)
		return rc;
	if (!(s->src = cl_calloc((size_t)nds, sizeof *s->src)))
		return oom(err);
	/* sources numbered here, in order (OLD's when it was deferred) */
	for (int i = 0; i < nds; i++) {
		int nf = cl_dataset_nfiles(ds[i]);
		if (!(s->src[i] = cl_calloc((size_t)nf + 1, sizeof **s->src)))
			return oom(err);
		for (int f = 0; f < nf; f++)
			if ((s->src[i][f] = cl__diff_source_id(
			         d, cl_dataset_path(ds[i], f), err)) < 0)
				return s->src[i][f];
	}
	s->expect = 0;
	for (int i = 0; i < nds && s->expect >= 0; i++) {
		int64_t n = cl_dataset_total_rows(ds[i]);
		s->expect = n < 0 ? -1 : s->expect + n;
	}
	s->di = 0;
	s->u = 0;
	s->qmax = d->memory_limit / 32 < CL__ASIDE_QBYTES ? d->memory_limit / 32
	                                                   : CL__ASIDE_QBYTES;
	return cl_dataset_split(ds[0], &s->nunits, err);
}

void cl__aside_start(cl__aside *s)
{
	s->threaded = true;
	if (pthread_create(&s->tid, NULL, reader_main, s))
		s->threaded = false;
	else
		s->started = true;
}

void cl__aside_stop(cl__aside *s)
{
	if (!s->started)
		return;
	pthread_mutex_lock(&s->mu);
	s->stop = 1;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->tid, NULL);
	s->started = false;
	if (getenv("CL_DIFF_TRACE"))
		fprintf(stderr,
		        "diff: aligned path: %s reader waited for room %lld times (%.3f s), "
		        "the walker for its chunks %lld times (%.3f s)\n",
		        s->left ? "OLD" : "NEW", (long long)s->n_full, s->wait_full,
		        (long long)s->n_empty, s->wait_empty);
}

void cl__aside_release(cl__aside *s, int nu)
{
	cl__aside_stop(s);
	for (int k = 0; k < s->qn; k++)
		cl__dchunk_free(s->q[(s->qhead + k) % CL__ASIDE_QCAP], nu);
	s->qn = 0;
	cl__dchunk_free(s->c, nu);
	for (int k = s->tnext; k < s->tmp.nchunks; k++)
		cl__dchunk_free(s->tmp.chunks[k], nu);
	s->tmp.nchunks = 0;
	cl__dstore_release(&s->tmp, nu);
	cl__dstore_release(&s->park, nu);
	cl_dataset_cursor_free(s->cur);
	cl__dview_release(&s->v, nu);
	cl_free(s->h);
	cl_free(s->pv);
	for (int b = 0; b < CL__ASIDE_NBUCKET; b++)
		if (!in_block(s, b))
			cl_free(s->bk[b]);
	cl_free(s->hblock);
	cl_free(s->slots);
	for (int i = 0; s->src && i < s->nds; i++)
		cl_free(s->src[i]);
	cl_free(s->src);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
}

/* ---- the duplicate check ------------------------------------------------ */

/* Whether two kept key hashes of buckets [j->b0, j->b1) are equal (an
 * exact set per bucket: small enough for the cache). */
void *cl__aside_dup_check(void *arg)
{
	cl__adup *j = arg;
	cl__aside *s = j->s;
	int64_t most = 0;
	for (int b = j->b0; b < j->b1; b++)
		if (s->bn[b] > most)
			most = s->bn[b];
	int64_t cap = 16;
	while (cap < most * 2)
		cap *= 2;
	uint64_t *t = cl_malloc((size_t)cap * sizeof *t);
	if (!t) {
		j->oom = true;
		return NULL;
	}
	for (int b = j->b0; b < j->b1 && !j->found; b++) {
		int64_t c = 16;
		while (c < s->bn[b] * 2)
			c *= 2;
		uint64_t mask = (uint64_t)c - 1;
		memset(t, 0, (size_t)c * sizeof *t);
		bool zero = false;
		for (int64_t k = 0; k < s->bn[b] && !j->found; k++) {
			uint64_t x = s->bk[b][k];
			if (!x) {
				j->found = zero;
				zero = true;
				continue;
			}
			uint64_t i = x & mask;
			while (t[i] && t[i] != x)
				i = (i + 1) & mask;
			if (t[i] == x)
				j->found = true;
			t[i] = x;
		}
	}
	cl_free(t);
	return NULL;
}
