/*
 * diff_merge.c — the merge of the diff's sorted runs (diff_output.c) into
 * the final key order: every worker's rows still in memory (its order[]
 * over its chunks) and its spilled run files.
 *
 * A binary heap picks the smallest current row of the runs; the file runs
 * keep one record (CL__RUN_REC_ROWS rows) each in memory, and are merged
 * FANIN at a time into new files first when there are more. A batch's rows
 * are picked first (their columns and row) and then copied column by
 * column (cl__diff_gather); a file run's record is replaced when the run
 * moves past its end, so the rows picked so far are copied before that.
 *
 * Duplicate check. Without --allow-duplicate-keys, two adjacent merged
 * rows with equal keys are a duplicate that no earlier check caught (two
 * inserts of one key in NEW); the merge reports both input rows.
 *
 * Pipelining (cl__diff_merge_pipeline): while the caller holds one batch,
 * a thread merges the next into a second one; cl__diff_merge_next joins
 * it, so the merge state is only ever touched by one thread at a time.
 *
 * Parallel (cl__diff_merge_threads): with every run in memory, several
 * threads merge whole batches side by side, each found on its own in the
 * runs (see "the parallel merge" below); the caller gets the same batches
 * in the same order.
 */
#include "diff_impl.h"

#include <stdlib.h>
#include <string.h>

#define FANIN 16 /* file runs merged at once */
#define MERGE_AHEAD 8 /* a memory run's rows asked for ahead (prefetch) */

static int oom(cl_error *err)
{
	return cl_error_set(err, CL_ENOMEM, "out of memory");
}

typedef struct run {
	/* a file run: its record in cols; a memory run: out's chunks + order */
	FILE *f;
	cl_column *cols;
	int64_t nrec, pos; /* rows in the record, current row */
	const cl__diff_out *mem;
	int64_t mpos;
	/* the current row */
	const cl_column *cur;  /* first column of the current row's columns */
	int64_t row;
	int64_t lprov, rprov;
	bool done;
} run;

struct cl__diff_merge {
	const cl__diff_plan *plan;
	int nruns;
	run *runs;
	int *heap;
	int nheap;
	int ncols, first_key;
	int key_w;          /* bytes of a value of the first key (0: not fixed) */
	int64_t batch_rows;
	cl_batch *emit;
	int64_t *emit_prov; /* lprov, rprov of each emitted row */
	const cl_column **pick_cols; /* per emitted row: its run's columns */
	int64_t *pick_row;           /* and its row in them */
	const cl_column **pick_src;  /* gather scratch: one column per row */
	bool check_dups;
	cl__dup_fn dup;
	void *dup_arg;
	/* the previous emitted row's keys and provenances */
	cl_column *last;
	bool has_last;
	int64_t last_lprov, last_rprov;
	FILE **files;       /* owned: the file runs */
	int nfiles;
	/* pipelined (cl__diff_merge_pipeline): a thread merges the next batch
	 * into emit_alt while the caller holds emit */
	bool pipe, running, started;
	cl_batch *emit_alt;
	pthread_t tid;
	int prc;            /* the thread's result: rc, error, batch */
	cl_error perr;
	cl_batch *pout;
	/* parallel (cl__diff_merge_threads, memory runs only): batch g (rows
	 * [g * batch_rows, ...) of the merged order) is merged by worker
	 * g % npw, into its buffer (g / npw) % 2 */
	int npw;
	struct pworker *pw;
	pthread_mutex_t pmu;
	pthread_cond_t pcv;
	int64_t nbatches;
	int64_t held;        /* batch the caller holds, -1 none */
	bool pstop;
};

typedef struct pworker {
	cl__diff_merge *m;  /* the parent */
	cl__diff_merge *mw; /* this worker's cursor over the same runs */
	int id;
	bool started;
	pthread_t tid;
	cl_batch *buf[2];
	int brc[2];
	cl_error berr[2];
	int64_t produced, released; /* of this worker's batches */
	int64_t *pos;               /* start of a batch in each run */
} pworker;

/* Move run r to its next row; r->done at the end. */
static int run_advance(cl__diff_merge *m, run *r, cl_error *err)
{
	int nf = m->ncols;
	if (r->mem) {
		const cl__diff_out *o = r->mem;
		if (r->mpos >= o->nrows) {
			r->done = true;
			return 0;
		}
		if (r->mpos + MERGE_AHEAD < o->nrows) {
			/* the row after next few: its keys and positions (the rows
			 * are spread over the chunks) */
			uint64_t a = o->order[r->mpos + MERGE_AHEAD];
			const cl_column *k = &o->chunks[a >> CL__CHUNK_BITS]->cols[m->first_key];
			int64_t ar = (int64_t)(a & CL__CHUNK_MASK);
			__builtin_prefetch(o->prov[a >> CL__CHUNK_BITS] + 2 * ar);
			if (m->key_w > 0)
				__builtin_prefetch(k->values + ar * m->key_w);
		}
		uint64_t g = o->order[r->mpos++];
		r->row = (int64_t)(g & CL__CHUNK_MASK);
		r->cur = o->chunks[g >> CL__CHUNK_BITS]->cols;
		const int64_t *pv = o->prov[g >> CL__CHUNK_BITS] + 2 * r->row;
		r->lprov = pv[0];
		r->rprov = pv[1];
		return 0;
	}
	if (r->pos + 1 >= r->nrec) {
		int64_t n;
		int rc = cl__spill_read(r->f, r->cols, nf + 2, &n, err);
		if (rc)
			return rc;
		if (!n) {
			r->done = true;
			return 0;
		}
		r->nrec = n;
		r->pos = -1;
	}
	r->pos++;
	r->row = r->pos;
	r->cur = r->cols;
	r->lprov = ((const int64_t *)r->cols[nf].values)[r->pos];
	r->rprov = ((const int64_t *)r->cols[nf + 1].values)[r->pos];
	return 0;
}

static int run_cmp(const cl__diff_merge *m, const run *a, const run *b)
{
	for (int k = 0; k < m->plan->nkeys; k++) {
		int c = cl__diff_order(&a->cur[m->first_key + k], a->row,
				       &b->cur[m->first_key + k], b->row);
		if (c)
			return c;
	}
	return cl__diff_cmp_prov(a->lprov, a->rprov, b->lprov, b->rprov);
}

static void heap_down(cl__diff_merge *m, int i)
{
	for (;;) {
		int l = 2 * i + 1, r = l + 1, s = i;
		if (l < m->nheap && run_cmp(m, &m->runs[m->heap[l]], &m->runs[m->heap[s]]) < 0)
			s = l;
		if (r < m->nheap && run_cmp(m, &m->runs[m->heap[r]], &m->runs[m->heap[s]]) < 0)
			s = r;
		if (s == i)
			return;
		int t = m->heap[i];
		m->heap[i] = m->heap[s];
		m->heap[s] = t;
		i = s;
	}
}

static void par_stop(cl__diff_merge *m);

void cl__diff_merge_free(cl__diff_merge *m)
{
	if (!m)
		return;
	par_stop(m);
	for (int i = 0; i < m->nruns; i++) {
		if (m->runs[i].cols)
			for (int c = 0; c < m->ncols + 2; c++)
				cl_column_release(&m->runs[i].cols[c]);
		cl_free(m->runs[i].cols);
	}
	cl_free(m->runs);
	cl_free(m->heap);
	if (m->running)
		pthread_join(m->tid, NULL);
	cl_batch_free(m->emit);
	cl_batch_free(m->emit_alt);
	cl_free(m->emit_prov);
	cl_free(m->pick_cols);
	cl_free(m->pick_row);
	cl_free(m->pick_src);
	if (m->last)
		for (int k = 0; k < m->plan->nkeys; k++)
			cl_column_release(&m->last[k]);
	cl_free(m->last);
	for (int i = 0; i < m->nfiles; i++)
		if (m->files[i])
			fclose(m->files[i]);
	cl_free(m->files);
	cl_free(m);
}

/* A merge of file runs files[0..nf) (taken over) and sorted memory runs. */
static int merge_create(cl__diff_merge **out, const cl__diff_plan *p, int64_t batch_rows,
			FILE **files, int nf, cl__diff_out *mems, int nmems, cl_error *err)
{
	*out = NULL;
	cl__diff_merge *m = cl_calloc(1, sizeof *m);
	if (!m) {
		for (int i = 0; i < nf; i++)
			fclose(files[i]);
		cl_free(files);
		return oom(err);
	}
	m->files = files;
	m->nfiles = nf;
	m->plan = p;
	m->ncols = p->out_schema->nfields;
	m->first_key = p->has_change ? 2 : 1;
	m->key_w = cl_type_width(p->out_schema->fields[m->first_key].type);
	m->batch_rows = batch_rows;
	int n = nf + nmems, rc = 0;
	m->runs = cl_calloc((size_t)n + 1, sizeof *m->runs);
	m->heap = cl_calloc((size_t)n + 1, sizeof *m->heap);
	m->last = cl_calloc((size_t)p->nkeys + 1, sizeof *m->last);
	m->emit_prov = cl_malloc((size_t)batch_rows * 2 * sizeof *m->emit_prov);
	m->pick_cols = cl_malloc((size_t)batch_rows * sizeof *m->pick_cols);
	m->pick_row = cl_malloc((size_t)batch_rows * sizeof *m->pick_row);
	m->pick_src = cl_malloc((size_t)batch_rows * sizeof *m->pick_src);
	if (!m->runs || !m->heap || !m->last || !m->emit_prov || !m->pick_cols ||
	    !m->pick_row || !m->pick_src) {
		rc = oom(err);
		goto fail;
	}
	for (int k = 0; k < p->nkeys && !rc; k++)
		rc = cl_column_init(&m->last[k], p->out_schema->fields[m->first_key + k].type,
				    1, err);
	for (int i = 0; i < nf && !rc; i++) {
		run *r = &m->runs[m->nruns++];
		r->f = files[i];
		rewind(r->f);
		if (!(r->cols = cl_calloc((size_t)m->ncols + 2, sizeof *r->cols))) {
			rc = oom(err);
			break;
		}
		for (int c = 0; c < m->ncols + 2 && !rc; c++)
			rc = cl_column_init(&r->cols[c],
					    c < m->ncols ? p->out_schema->fields[c].type
							 : cl_type_make(CL_INT64),
					    0, err);
	}
	for (int i = 0; i < nmems && !rc; i++) {
		if (!mems[i].order && (rc = cl__diff_out_sort(&mems[i], err)))
			break;
		m->runs[m->nruns++].mem = &mems[i];
	}
	for (int i = 0; i < m->nruns && !rc; i++) {
		run *r = &m->runs[i];
		if ((rc = run_advance(m, r, err)))
			break;
		if (!r->done)
			m->heap[m->nheap++] = i;
	}
	if (rc)
		goto fail;
	for (int i = m->nheap / 2 - 1; i >= 0; i--)
		heap_down(m, i);
	/* the batches merged into are made when first used (their memory is
	 * cleared when made: on the thread that fills them) */
	*out = m;
	return 0;
fail:
	cl__diff_merge_free(m);
	return rc;
}

static int merge_batch(cl__diff_merge *m, cl_batch **out, cl_error *err);

/* Merge file runs files[0..nf) (closed) into one new run file *out. */
static int merge_to_file(const cl__diff_plan *p, const char *tmp_dir, FILE **files, int nf,
			 FILE **out, int64_t *spilled, cl_error *err)
{
	*out = NULL;
	FILE **own = cl_malloc((size_t)nf * sizeof *own);
	if (!own) {
		for (int i = 0; i < nf; i++)
			fclose(files[i]);
		return oom(err);
	}
	memcpy(own, files, (size_t)nf * sizeof *own);
	cl__diff_merge *m = NULL;
	int rc = merge_create(&m, p, CL__RUN_REC_ROWS, own, nf, NULL, 0, err);
	if (rc)
		return rc;
	FILE *f = cl__spill_tmpfile(tmp_dir, err);
	if (!f) {
		cl__diff_merge_free(m);
		return err ? err->code : CL_EIO;
	}
	int nc = m->ncols + 2;
	cl_column pv[2];
	cl_column **ptrs = cl_calloc((size_t)nc, sizeof *ptrs);
	memset(pv, 0, sizeof pv);
	if (!ptrs)
		rc = oom(err);
	for (int i = 0; i < 2 && !rc; i++)
		rc = cl_column_init(&pv[i], cl_type_make(CL_INT64), CL__RUN_REC_ROWS, err);
	long before = ftell(f);
	while (!rc) {
		cl_batch *b;
		if ((rc = merge_batch(m, &b, err)) || !b)
			break;
		for (int i = 0; i < 2 && !rc; i++) {
			cl_column_clear(&pv[i]);
			for (int64_t r = 0; r < b->nrows && !rc; r++)
				rc = cl_column_append_i64(&pv[i], m->emit_prov[2 * r + i], err);
		}
		for (int c = 0; c < m->ncols; c++)
			ptrs[c] = &b->cols[c];
		ptrs[m->ncols] = &pv[0];
		ptrs[m->ncols + 1] = &pv[1];
		if (!rc)
			rc = cl__spill_write(f, ptrs, nc, b->nrows, err);
	}
	*spilled += ftell(f) - before;
	cl_column_release(&pv[0]);
	cl_column_release(&pv[1]);
	cl_free(ptrs);
	cl__diff_merge_free(m);
	if (rc) {
		fclose(f);
		return rc;
	}
	*out = f;
	return 0;
}

int cl__diff_merge_open(cl__diff_merge **out, cl__diff_out *outs, int nouts,
			bool check_dups, cl__dup_fn dup, void *dup_arg, cl_error *err)
{
	*out = NULL;
	const cl__diff_plan *p = outs[0].plan;
	int nf = 0, rc = 0;
	for (int i = 0; i < nouts; i++)
		nf += outs[i].nruns;
	FILE **files = cl_calloc((size_t)nf + 1, sizeof *files);
	if (!files)
		return oom(err);
	nf = 0;
	/* the merge owns the run files from here */
	for (int i = 0; i < nouts; i++) {
		for (int j = 0; j < outs[i].nruns; j++)
			files[nf++] = outs[i].runs[j];
		outs[i].nruns = 0;
	}
	/* merge FANIN runs at a time until few are left, so the final merge
	 * holds at most FANIN records in memory */
	int64_t spilled = 0;
	while (nf > FANIN && !rc) {
		FILE *merged;
		rc = merge_to_file(p, outs[0].tmp_dir, files, FANIN, &merged, &spilled, err);
		memmove(files, files + FANIN, (size_t)(nf - FANIN) * sizeof *files);
		nf -= FANIN;
		if (!rc)
			files[nf++] = merged;
	}
	outs[0].spill_bytes += spilled;
	if (rc) {
		for (int i = 0; i < nf; i++)
			fclose(files[i]);
		cl_free(files);
		return rc;
	}
	cl__diff_merge *m;
	if ((rc = merge_create(&m, p, outs[0].batch_rows, files, nf, outs, nouts, err)))
		return rc;
	m->check_dups = check_dups;
	m->dup = dup;
	m->dup_arg = dup_arg;
	*out = m;
	return 0;
}

/* Check the row at the top against the previous one; remember its keys. */
static int check_dup(cl__diff_merge *m, const run *r, cl_error *err)
{
	int nk = m->plan->nkeys, rc;
	if (m->has_last) {
		bool eq = true;
		for (int k = 0; k < nk && eq; k++)
			eq = cl__diff_order(&m->last[k], 0, &r->cur[m->first_key + k], r->row) == 0;
		if (eq) {
			const cl_column *kc[64];
			for (int k = 0; k < nk && k < 64; k++)
				kc[k] = &r->cur[m->first_key + k];
			bool left = r->rprov < 0;
			return m->dup(m->dup_arg, left, kc, r->row,
				      left ? m->last_lprov : m->last_rprov,
				      left ? r->lprov : r->rprov, err);
		}
	}
	for (int k = 0; k < nk; k++) {
		cl_column_clear(&m->last[k]);
		if ((rc = cl_column_append_from(&m->last[k], &r->cur[m->first_key + k], r->row,
						err)))
			return rc;
	}
	m->has_last = true;
	m->last_lprov = r->lprov;
	m->last_rprov = r->rprov;
	return 0;
}

static int merge_into(cl__diff_merge *m, cl_batch *b, cl_batch **out, cl_error *err);

static int merge_batch(cl__diff_merge *m, cl_batch **out, cl_error *err)
{
	int rc;
	if (!m->emit &&
	    (rc = cl_batch_create(&m->emit, m->plan->out_schema, m->batch_rows, err)))
		return rc;
	return merge_into(m, m->emit, out, err);
}

static void *pipe_main(void *arg)
{
	cl__diff_merge *m = arg;
	memset(&m->perr, 0, sizeof m->perr);
	m->prc = merge_into(m, m->emit_alt, &m->pout, &m->perr);
	return NULL;
}

/* Merge the next batch into emit_alt: on the thread, or here if none
 * can be started. */
static void pipe_start(cl__diff_merge *m)
{
	if (pthread_create(&m->tid, NULL, pipe_main, m) == 0)
		m->running = true;
	else
		pipe_main(m);
}

void cl__diff_merge_pipeline(cl__diff_merge *m, bool on)
{
	m->pipe = on;
}

static int par_next(cl__diff_merge *m, cl_batch **out, cl_error *err);

int cl__diff_merge_next(cl__diff_merge *m, cl_batch **out, cl_error *err)
{
	*out = NULL;
	if (m->npw)
		return par_next(m, out, err);
	/* pipelined: the second batch, made before the first (else not
	 * pipelined) */
	if (m->pipe && !m->emit_alt && !m->started &&
	    cl_batch_create(&m->emit_alt, m->plan->out_schema, m->batch_rows, NULL))
		m->pipe = false;
	if (!m->pipe || !m->emit_alt)
		return merge_batch(m, out, err);
	int rc;
	if (!m->started) {
		/* the first batch here, the next one already on the thread */
		m->started = true;
		if ((rc = merge_batch(m, out, err)) || !*out)
			return rc;
		pipe_start(m);
		return 0;
	}
	if (m->running) {
		pthread_join(m->tid, NULL);
		m->running = false;
	}
	if (m->prc) {
		if (err)
			*err = m->perr;
		return m->prc;
	}
	if (!m->pout)
		return 0;
	/* the caller is done with emit: it becomes the batch being filled */
	cl_batch *t = m->emit;
	m->emit = m->emit_alt;
	m->emit_alt = t;
	*out = m->emit;
	m->pout = NULL;
	pipe_start(m);
	return 0;
}

/* Copy the picked rows [from, to) of the batch being merged into it. */
static int flush_picks(cl__diff_merge *m, cl_batch *b, int64_t from, int64_t to,
		       cl_error *err)
{
	for (int c = 0; c < m->ncols; c++) {
		for (int64_t i = from; i < to; i++)
			m->pick_src[i] = &m->pick_cols[i][c];
		int rc = cl__diff_gather(&b->cols[c], m->pick_src + from, m->pick_row + from, to - from,
				err);
		if (rc)
			return rc;
	}
	return 0;
}

/*
 * The next batch: the rows are picked in key order first (their columns
 * and row), then copied column by column. A file run's record is replaced
 * when the run moves past its end, so the rows picked so far are copied
 * before that.
 */
static int merge_into(cl__diff_merge *m, cl_batch *b, cl_batch **out, cl_error *err)
{
	*out = NULL;
	if (!m->nheap)
		return 0;
	cl_batch_clear(b);
	int rc;
	int64_t n = 0, flushed = 0;
	while (n < m->batch_rows && m->nheap) {
		run *r = &m->runs[m->heap[0]];
		if (m->check_dups && (rc = check_dup(m, r, err)))
			return rc;
		m->pick_cols[n] = r->cur;
		m->pick_row[n] = r->row;
		m->emit_prov[2 * n] = r->lprov;
		m->emit_prov[2 * n + 1] = r->rprov;
		n++;
		if (r->f && r->pos + 1 >= r->nrec) {
			if ((rc = flush_picks(m, b, flushed, n, err)))
				return rc;
			flushed = n;
		}
		if ((rc = run_advance(m, r, err)))
			return rc;
		if (r->done)
			m->heap[0] = m->heap[--m->nheap];
		if (m->nheap)
			heap_down(m, 0);
	}
	if ((rc = flush_picks(m, b, flushed, n, err)))
		return rc;
	b->nrows = n;
	*out = b;
	return 0;
}

/* ---- the parallel merge ----------------------------------------------------
 *
 * With memory runs only, any batch of the merged order can be merged on
 * its own: the rows before batch g are the g * batch_rows smallest, and
 * where they end in each run is found by binary searches (par_select).
 * Worker w merges batches w, w + npw, ... into two buffers of its own, one
 * batch ahead of the caller at most; the caller takes them in order. Every
 * batch holds the rows, in the order, that the one-thread merge gives it
 * (the runs and the order are the same), and the duplicate check of a
 * batch starts from the row before it, so a duplicate across two batches
 * is found too; the caller gets the first failing batch's error, as from
 * the one-thread merge.
 */

/* Element i of memory run j: its columns, row and provenances. */
static void par_elem(const cl__diff_merge *m, int j, int64_t i, const cl_column **cols,
		     int64_t *row, const int64_t **prov)
{
	const cl__diff_out *o = m->runs[j].mem;
	uint64_t g = o->order[i];
	*row = (int64_t)(g & CL__CHUNK_MASK);
	*cols = o->chunks[g >> CL__CHUNK_BITS]->cols;
	*prov = o->prov[g >> CL__CHUNK_BITS] + 2 * *row;
}

/* Order of element ia of run ja and element ib of run jb (run_cmp's). */
static int par_cmp(const cl__diff_merge *m, int ja, int64_t ia, int jb, int64_t ib)
{
	const cl_column *ca, *cb;
	int64_t ra, rb;
	const int64_t *pa, *pb;
	par_elem(m, ja, ia, &ca, &ra, &pa);
	par_elem(m, jb, ib, &cb, &rb, &pb);
	for (int k = 0; k < m->plan->nkeys; k++) {
		int c = cl__diff_order(&ca[m->first_key + k], ra, &cb[m->first_key + k], rb);
		if (c)
			return c;
	}
	return cl__diff_cmp_prov(pa[0], pa[1], pb[0], pb[1]);
}

/* Elements of run j smaller than element i of run x. */
static int64_t par_below(const cl__diff_merge *m, int j, int x, int64_t i)
{
	int64_t lo = 0, hi = m->runs[j].mem->nrows;
	while (lo < hi) {
		int64_t mid = lo + (hi - lo) / 2;
		if (par_cmp(m, j, mid, x, i) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* pos[j]: where the `rank` smallest elements end in each run. */
static void par_select(const cl__diff_merge *m, int64_t rank, int64_t *pos)
{
	int64_t total = 0;
	for (int j = 0; j < m->nruns; j++)
		total += pos[j] = m->runs[j].mem->nrows;
	if (rank >= total)
		return;
	/* the element of this rank (the elements are distinct: a total
	 * order) is in exactly one run */
	for (int x = 0; x < m->nruns; x++) {
		int64_t lo = 0, hi = m->runs[x].mem->nrows;
		while (lo < hi) {
			int64_t i = lo + (hi - lo) / 2, r = i;
			for (int j = 0; j < m->nruns; j++)
				if (j != x)
					r += par_below(m, j, x, i);
			if (r < rank) {
				lo = i + 1;
			} else if (r > rank) {
				hi = i;
			} else {
				for (int j = 0; j < m->nruns; j++)
					pos[j] = j == x ? i : par_below(m, j, x, i);
				return;
			}
		}
	}
}

/* Merge batch g with worker cursor mw into b. */
static int par_batch(pworker *pw, int64_t g, cl_batch *b, cl_error *err)
{
	cl__diff_merge *mw = pw->mw;
	int64_t *pos = pw->pos;
	int rc;
	par_select(mw, g * mw->batch_rows, pos);
	mw->nheap = 0;
	int prev = -1;
	for (int j = 0; j < mw->nruns; j++) {
		run *r = &mw->runs[j];
		if (pos[j] > 0 && (prev < 0 || par_cmp(mw, j, pos[j] - 1, prev,
						       pos[prev] - 1) > 0))
			prev = j;
		r->mpos = pos[j];
		r->done = false;
		if ((rc = run_advance(mw, r, err)))
			return rc;
		if (!r->done)
			mw->heap[mw->nheap++] = j;
	}
	for (int i = mw->nheap / 2 - 1; i >= 0; i--)
		heap_down(mw, i);
	/* the duplicate check goes on from the row before the batch */
	mw->has_last = false;
	if (mw->check_dups && prev >= 0) {
		const cl_column *cols;
		int64_t row;
		const int64_t *pv;
		par_elem(mw, prev, pos[prev] - 1, &cols, &row, &pv);
		for (int k = 0; k < mw->plan->nkeys; k++) {
			cl_column_clear(&mw->last[k]);
			if ((rc = cl_column_append_from(&mw->last[k], &cols[mw->first_key + k],
							row, err)))
				return rc;
		}
		mw->has_last = true;
		mw->last_lprov = pv[0];
		mw->last_rprov = pv[1];
	}
	cl_batch *out;
	return merge_into(mw, b, &out, err);
}

static void *par_main(void *arg)
{
	pworker *pw = arg;
	cl__diff_merge *m = pw->m;
	for (int64_t k = 0;; k++) {
		int64_t g = pw->id + k * m->npw;
		if (g >= m->nbatches)
			break;
		pthread_mutex_lock(&m->pmu);
		/* buffer k % 2 held batch k - 2: free once the caller moved on */
		while (!m->pstop && pw->released < k - 1)
			pthread_cond_wait(&m->pcv, &m->pmu);
		bool stop = m->pstop;
		pthread_mutex_unlock(&m->pmu);
		if (stop)
			break;
		memset(&pw->berr[k % 2], 0, sizeof pw->berr[k % 2]);
		int rc = 0;
		if (!pw->buf[k % 2])
			rc = cl_batch_create(&pw->buf[k % 2], m->plan->out_schema, m->batch_rows,
					     &pw->berr[k % 2]);
		if (!rc)
			rc = par_batch(pw, g, pw->buf[k % 2], &pw->berr[k % 2]);
		pthread_mutex_lock(&m->pmu);
		pw->brc[k % 2] = rc;
		pw->produced = k + 1;
		pthread_cond_broadcast(&m->pcv);
		pthread_mutex_unlock(&m->pmu);
		if (rc)
			break;
	}
	return NULL;
}

static void par_stop(cl__diff_merge *m)
{
	if (!m->npw)
		return;
	pthread_mutex_lock(&m->pmu);
	m->pstop = true;
	pthread_cond_broadcast(&m->pcv);
	pthread_mutex_unlock(&m->pmu);
	for (int w = 0; w < m->npw; w++) {
		pworker *pw = &m->pw[w];
		if (pw->started)
			pthread_join(pw->tid, NULL);
		cl__diff_merge_free(pw->mw);
		cl_batch_free(pw->buf[0]);
		cl_batch_free(pw->buf[1]);
		cl_free(pw->pos);
	}
	cl_free(m->pw);
	m->pw = NULL;
	m->npw = 0;
	pthread_mutex_destroy(&m->pmu);
	pthread_cond_destroy(&m->pcv);
}

void cl__diff_merge_threads(cl__diff_merge *m, int n)
{
	m->pipe = n > 1;
	if (n < 2 || m->nfiles || !m->nruns || m->started || m->npw)
		return;
	for (int j = 0; j < m->nruns; j++)
		if (!m->runs[j].mem)
			return;
	int64_t total = 0;
	for (int j = 0; j < m->nruns; j++)
		total += m->runs[j].mem->nrows;
	int64_t nb = (total + m->batch_rows - 1) / m->batch_rows;
	if (nb < 2)
		return; /* one batch: nothing to run side by side */
	if (n > nb)
		n = (int)nb;
	pworker *pw = cl_calloc((size_t)n, sizeof *pw);
	if (!pw)
		return;
	const cl__diff_plan *p = m->plan;
	bool ok = true;
	cl__diff_out *mems = (cl__diff_out *)m->runs[0].mem;
	for (int w = 0; w < n && ok; w++) {
		pw[w].m = m;
		pw[w].id = w;
		/* the runs are one array of outputs (cl__diff_merge_open's) */
		ok = !merge_create(&pw[w].mw, p, m->batch_rows, NULL, 0, mems, m->nruns, NULL) &&
		     (pw[w].pos = cl_calloc((size_t)m->nruns, sizeof *pw[w].pos)) != NULL;
		if (ok) {
			pw[w].mw->check_dups = m->check_dups;
			pw[w].mw->dup = m->dup;
			pw[w].mw->dup_arg = m->dup_arg;
		}
	}
	pthread_mutex_init(&m->pmu, NULL);
	pthread_cond_init(&m->pcv, NULL);
	m->pw = pw;
	m->npw = n;
	m->nbatches = nb;
	m->held = -1;
	m->pstop = false;
	for (int w = 0; w < n && ok; w++) {
		ok = !pthread_create(&pw[w].tid, NULL, par_main, &pw[w]);
		pw[w].started = ok;
	}
	if (!ok)
		par_stop(m); /* not possible: the merge goes on as before */
}

static int par_next(cl__diff_merge *m, cl_batch **out, cl_error *err)
{
	pthread_mutex_lock(&m->pmu);
	if (m->held >= 0) {
		m->pw[m->held % m->npw].released++;
		pthread_cond_broadcast(&m->pcv);
	}
	int64_t g = m->held + 1;
	int rc = 0;
	if (g < m->nbatches) {
		pworker *pw = &m->pw[g % m->npw];
		int64_t k = g / m->npw;
		while (pw->produced <= k && !(pw->produced > 0 && pw->brc[(pw->produced - 1) % 2]))
			pthread_cond_wait(&m->pcv, &m->pmu);
		if (pw->produced <= k) {
			/* the worker stopped at an earlier batch's error */
			rc = pw->brc[(pw->produced - 1) % 2];
			if (err)
				*err = pw->berr[(pw->produced - 1) % 2];
		} else if ((rc = pw->brc[k % 2])) {
			if (err)
				*err = pw->berr[k % 2];
		} else {
			*out = pw->buf[k % 2];
			m->held = g;
		}
		if (rc)
			m->held = m->nbatches; /* failed: no more batches */
	} else {
		m->held = m->nbatches;
	}
	pthread_mutex_unlock(&m->pmu);
	return rc;
}
