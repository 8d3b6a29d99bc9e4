/*
 * diff_aligned.c — the streaming diff of two snapshots in (nearly) the
 * same row order (the readers and the duplicate check: diff_aligned_read.c).
 *
 * Snapshots of one table written by the same export job come out in the
 * same row order (heap order, token order, a job's partition order), even
 * when not sorted by key: inserts appear somewhere, deletes leave gaps, a
 * few rows move. Such a pair is diffed without holding OLD:
 *
 *   Readers  OLD and NEW are read in order (unit after unit), each on a
 *            thread of its own with two or more threads (a small queue of
 *            chunks between it and the walker), in the walker's thread
 *            otherwise. A chunk is a batch in the unified columns with its
 *            key hashes and input positions (cl__dchunk). Every key hash
 *            is also kept (8 bytes a row, in 256 buckets by its top bits)
 *            for the duplicate check at the end.
 *   Walker   Two cursors. Equal keys at the cursors: a pair, compared in
 *            bulk per column when the chunks advance (cl__diff_cmp_pairs).
 *            Different keys: the row is looked up in the other side's map
 *            of parked rows (a hit is a pair), else one row ahead on the
 *            other side is tried (a single insert or delete), else both
 *            rows are parked: copied into their side's park store and
 *            entered in its map. When one side ends, the other's rows
 *            are pairs with parked rows or inserts / deletes at once. At
 *            the end the parked OLD rows are deletes, the parked NEW rows
 *            inserts.
 *   Output   Rows go to the workers' outputs (round robin by flush); the
 *            engine sorts and merges them exactly as on the hash path, so
 *            the bytes are the same.
 *
 * When it gives up (returns 0, nothing kept; the caller runs the hash
 * path from the start, which then also reports duplicates as always):
 *   - more parked rows than 8192 + 1/8 of the rows walked (the inputs are
 *     not aligned), or parked rows and key hashes past the store budget
 *     (3/4 of --memory-limit); decided by the rows walked only, never by
 *     timing or threads;
 *   - a key parked twice on one side, or two equal key hashes on one side
 *     at the end (a duplicate key, or a hash collision: not sure);
 *   - inputs too large for the hashes (16 bytes a row) in the budget.
 * CL_DIFF_PATH=aligned skips the first rule (tests), =hash never tries.
 *
 * Invariants: a parked row's slot holds its park reference + 1 until it
 * is matched (then a tombstone); a row is in at most one pair; direct
 * pairs, inserts and deletes of the current chunks are emitted before
 * either chunk is freed.
 */
#include "diff_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOMB 0xffffffffu
#define MIN_PARKED 8192

typedef cl__aside side;

typedef struct walk {
	cl_diff *d;
	const cl__diff_plan *p;
	side s[2]; /* OLD, NEW */
	bool force;
	int giveup; /* 1: not aligned / not sure */
	/* pairs and single rows of the current chunks */
	uint32_t *pl, *pr, *dl, *il, *tmpref;
	int64_t np, nd, ni;
	uint8_t *chg, *rowchg, *anyrow;
	int64_t nflush;
	int64_t inserted, changed, deleted, unchanged;
	int64_t *value_changes;
} walk;

static int oom(cl_error *err)
{
	return cl_error_set(err, CL_ENOMEM, "out of memory");
}

/* CL_DIFF_TRACE=1: which path ran and why (tests check it). */
static void note(const char *what, const walk *w)
{
	if (!getenv("CL_DIFF_TRACE"))
		return;
	if (w)
		fprintf(stderr,
		        "diff: aligned path: %s (%lld + %lld rows walked, %lld + %lld "
		        "parked)\n",
		        what, (long long)w->s[0].rows, (long long)w->s[1].rows,
		        (long long)w->s[0].live, (long long)w->s[1].live);
	else
		fprintf(stderr, "diff: aligned path: %s\n", what);
}

/* ---- parked rows ---------------------------------------------------------- */

static inline bool keys_eq(const cl__diff_plan *p, const cl_column *const *a, int64_t ia,
                           const cl_column *const *b, int64_t ib)
{
	if (p->nkeys == 1 && !a[0]->null_count && !b[0]->null_count) {
		switch (a[0]->type.id) {
		case CL_INT64:
		case CL_UINT64:
		case CL_TIMESTAMP:
			return ((const int64_t *)a[0]->values)[ia] ==
			       ((const int64_t *)b[0]->values)[ib];
		case CL_INT32:
		case CL_UINT32:
		case CL_DATE:
			return ((const int32_t *)a[0]->values)[ia] ==
			       ((const int32_t *)b[0]->values)[ib];
		default: break;
		}
	}
	for (int k = 0; k < p->nkeys; k++)
		if (!cl__diff_equal(a[k], ia, b[k], ib))
			return false;
	return true;
}

static inline const cl__dchunk *park_chunk(const side *s, uint32_t ref)
{
	return s->park.chunks[ref >> CL__CHUNK_BITS];
}

/* The slot of a parked row with this key, or -1. */
static int64_t park_find(const side *s, const cl__diff_plan *p, uint64_t h,
                         const cl_column *const *cols, int64_t row)
{
	if (!s->live)
		return -1;
	uint64_t mask = (uint64_t)s->scap - 1;
	for (uint64_t i = h & mask;; i = (i + 1) & mask) {
		uint32_t e = s->slots[i];
		if (!e)
			return -1;
		if (e == TOMB)
			continue;
		const cl__dchunk *c = park_chunk(s, e - 1);
		int64_t r = (e - 1) & CL__CHUNK_MASK;
		if (c->hash[r] == h && keys_eq(p, c->ptrs, r, cols, row))
			return (int64_t)i;
	}
}

static void slot_put(uint32_t *slots, int64_t cap, uint64_t h, uint32_t ent)
{
	uint64_t mask = (uint64_t)cap - 1;
	uint64_t i = h & mask;
	while (slots[i] && slots[i] != TOMB)
		i = (i + 1) & mask;
	slots[i] = ent;
}

static int park_grow(side *s, cl_error *err)
{
	int64_t cap = 1024;
	while (cap < s->live * 4 + 16)
		cap *= 2;
	uint32_t *n = cl_calloc((size_t)cap, sizeof *n);
	if (!n)
		return oom(err);
	for (int64_t i = 0; i < s->scap; i++) {
		uint32_t e = s->slots[i];
		if (e && e != TOMB)
			slot_put(n, cap,
			         park_chunk(s, e - 1)->hash[(e - 1) & CL__CHUNK_MASK], e);
	}
	cl_free(s->slots);
	s->slots = n;
	s->scap = cap;
	s->sused = s->live;
	return 0;
}

/* Park row r of chunk c (its key is not parked on this side yet). */
static int park_row(walk *w, side *s, const cl__dchunk *c, int64_t r, cl_error *err)
{
	const cl__diff_plan *p = w->p;
	int rc;
	if (park_find(s, p, c->hash[r], c->ptrs, r) >= 0) {
		w->giveup = 3; /* a duplicate key: the hash path reports it */
		return 0;
	}
	if ((s->sused + 1) * 2 > s->scap && (rc = park_grow(s, err)))
		return rc;
	if ((rc = cl__dstore_append_at(&s->park, p, c->ptrs, r, 1, c->hash + r,
	                               c->prov + r, err)))
		return rc;
	uint32_t ref = (uint32_t)(((int64_t)(s->park.nchunks - 1) << CL__CHUNK_BITS) |
	                          (s->park.chunks[s->park.nchunks - 1]->n - 1));
	slot_put(s->slots, s->scap, c->hash[r], ref + 1);
	s->sused++;
	s->live++;
	/* not aligned: too many rows wait for their other half */
	if (!w->force &&
	    w->s[0].live + w->s[1].live > MIN_PARKED + (w->s[0].rows + w->s[1].rows) / 8)
		w->giveup = 1;
	if (cl__dstore_memory(&w->s[0].park) + cl__dstore_memory(&w->s[1].park) +
	        8 * (w->s[0].rows + w->s[1].rows) >
	    w->d->store_budget)
		w->giveup = 1;
	return 0;
}

/* ---- output --------------------------------------------------------------- */

static cl__diff_out *next_out(walk *w)
{
	return &w->d->w[w->nflush++ % w->d->nthreads].out;
}

/*
 * Default-rule comparison of pairs that go in step (li[k + 1] = li[k] + 1,
 * the same for ri), BLOCK rows at a time: equal bytes are equal values
 * (integers, decimals, temporal types; floats too, where -0.0 = 0.0 and
 * NaN = NaN only add equal values that differ in bytes); a block whose
 * bytes differ is compared row by row. False when the column does not
 * qualify (another rule, NULLs, bool) and nothing was compared.
 */
#define BLOCK 16
static bool cmp_blocks(const cl_diff_rule *r, const cl_column *lc, const cl_column *rc,
                       const uint32_t *li, const uint32_t *ri, int64_t np,
                       uint8_t *changed)
{
	if (r->kind != CL_CMP_DEFAULT || lc->null_count || rc->null_count ||
	    !cl_type_equal(lc->type, rc->type))
		return false;
	bool var = cl_type_is_var(lc->type);
	int64_t w = var ? 0 : cl_type_width(lc->type);
	if (!var && w <= 0)
		return false;
	for (int64_t k = 0; k < np;) {
		int64_t m = 1;
		int64_t a = li[k], b = ri[k];
		while (m < BLOCK && k + m < np && li[k + m] == a + m &&
		       ri[k + m] == b + m)
			m++;
		bool same;
		if (var) {
			const int64_t *lo = lc->offsets + a, *ro = rc->offsets + b;
			int64_t lb = lo[0], rb = ro[0];
			int diff = 0;
			for (int64_t t = 1; t <= m; t++)
				diff |= (lo[t] - lb) != (ro[t] - rb);
			same = !diff && !memcmp(lc->data + lb, rc->data + rb,
			                        (size_t)(lo[m] - lb));
		} else {
			same = !memcmp(lc->values + a * w, rc->values + b * w,
			               (size_t)(m * w));
		}
		if (same)
			memset(changed + k, 0, (size_t)m);
		else
			cl__diff_cmp_pairs(r, &lc, li + k, rc, ri + k, m, changed + k);
		k += m;
	}
	return true;
}

/*
 * Emit pairs k in [0, np): left row li[k] of lcols (positions lprov),
 * right row ri[k] of rcols; every row index below CL__CHUNK_ROWS.
 */
static int emit_pairs(walk *w, const cl_column *const *lcols, const int64_t *lprov,
                      const cl_column *const *rcols, const int64_t *rprov,
                      const uint32_t *li, const uint32_t *ri, int64_t np, cl_error *err)
{
	const cl__diff_plan *p = w->p;
	int nv = p->nvalues, r;
	if (!np)
		return 0;
	for (int v = 0; v < nv; v++) {
		int u = p->values[v];
		uint8_t *chg = w->chg + (size_t)v * (size_t)np;
		if (np < BLOCK ||
		    !cmp_blocks(&p->u[u].cmp, lcols[u], rcols[u], li, ri, np, chg))
			cl__diff_cmp_pairs(&p->u[u].cmp, &lcols[u], li, rcols[u], ri, np,
			                   chg);
	}
	bool bulk = !p->sparse && !p->has_change;
	cl__diff_out *o = next_out(w);
	if (bulk && (r = cl__diff_out_reserve(o, np, err)))
		return r;
	/* whether any value of a row changed, a column at a time (most rows
	 * are unchanged and skipped without looking at their columns) */
	uint8_t *anyrow = w->anyrow;
	memset(anyrow, 0, (size_t)np);
	for (int v = 0; v < nv; v++) {
		const uint8_t *cv = w->chg + (size_t)v * (size_t)np;
		for (int64_t k = 0; k < np; k++)
			anyrow[k] |= cv[k];
	}
	int64_t nc = 0, nn = 0, nchanged = 0;
	for (int64_t k = 0; k < np; k++)
		nchanged += anyrow[k] != 0;
	w->changed += nchanged;
	w->unchanged += np - nchanged;
	for (int64_t k = 0; k < np; k++) {
		bool any = anyrow[k] != 0;
		if (!any && !p->keep_unchanged)
			continue;
		for (int v = 0; v < nv; v++)
			w->rowchg[v] = w->chg[(size_t)v * (size_t)np + (size_t)k];
		if (any)
			for (int v = 0; v < nv; v++)
				w->value_changes[v] += w->rowchg[v];
		if (!bulk) {
			r = cl__diff_out_row(o, any ? ACT_C : ACT_N, lcols, li[k],
			                     lprov[li[k]], rcols, ri[k], rprov[ri[k]],
			                     w->rowchg, err);
			if (r)
				return r;
			continue;
		}
		int64_t at = any ? nc++ : np - ++nn;
		o->r_lcols[at] = lcols;
		o->r_lrow[at] = li[k];
		o->r_lprov[at] = lprov[li[k]];
		o->r_rrow[at] = ri[k];
		o->r_rprov[at] = rprov[ri[k]];
	}
	if (!bulk)
		return 0;
	if (nc && (r = cl__diff_out_rows(o, ACT_C, nc, true, rcols, err)))
		return r;
	if (nn) {
		memmove(o->r_lcols, o->r_lcols + np - nn,
		        (size_t)nn * sizeof *o->r_lcols);
		memmove(o->r_lrow, o->r_lrow + np - nn, (size_t)nn * sizeof *o->r_lrow);
		memmove(o->r_lprov, o->r_lprov + np - nn,
		        (size_t)nn * sizeof *o->r_lprov);
		memmove(o->r_rrow, o->r_rrow + np - nn, (size_t)nn * sizeof *o->r_rrow);
		memmove(o->r_rprov, o->r_rprov + np - nn,
		        (size_t)nn * sizeof *o->r_rprov);
		if ((r = cl__diff_out_rows(o, ACT_N, nn, true, rcols, err)))
			return r;
	}
	return 0;
}

/* Deletes: rows rows[0, n) of chunk c. */
static int emit_deletes(walk *w, const cl__dchunk *c, const uint32_t *rows, int64_t n,
                        cl_error *err)
{
	if (!n)
		return 0;
	cl__diff_out *o = next_out(w);
	int rc = cl__diff_out_reserve(o, n, err);
	if (rc)
		return rc;
	for (int64_t k = 0; k < n; k++) {
		o->r_lcols[k] = c->ptrs;
		o->r_lrow[k] = rows[k];
		o->r_lprov[k] = c->prov[rows[k]];
	}
	w->deleted += n;
	return cl__diff_out_rows(o, ACT_D, n, true, NULL, err);
}

static int emit_inserts(walk *w, const cl__dchunk *c, const uint32_t *rows, int64_t n,
                        cl_error *err)
{
	if (!n)
		return 0;
	cl__diff_out *o = next_out(w);
	int rc = cl__diff_out_reserve(o, n, err);
	if (rc)
		return rc;
	for (int64_t k = 0; k < n; k++) {
		o->r_rrow[k] = rows[k];
		o->r_rprov[k] = c->prov[rows[k]];
	}
	w->inserted += n;
	return cl__diff_out_rows(o, ACT_I, n, false, c->ptrs, err);
}

/* The pairs, deletes and inserts of the current chunks. */
static int flush(walk *w, cl_error *err)
{
	const cl__dchunk *lc = w->s[0].c, *rc = w->s[1].c;
	int r = 0;
	if (w->np)
		r = emit_pairs(w, lc->ptrs, lc->prov, rc->ptrs, rc->prov, w->pl, w->pr,
		               w->np, err);
	if (!r && w->nd)
		r = emit_deletes(w, lc, w->dl, w->nd, err);
	if (!r && w->ni)
		r = emit_inserts(w, rc, w->il, w->ni, err);
	w->np = w->nd = w->ni = 0;
	return r;
}

/* A pair of a parked row (slot `slot` of side ps) and row r of chunk c of
 * the other side. */
static int match_parked(walk *w, int ps, int64_t slot, const cl__dchunk *c, int64_t r,
                        cl_error *err)
{
	side *s = &w->s[ps];
	uint32_t ref = s->slots[slot] - 1;
	const cl__dchunk *pc = park_chunk(s, ref);
	uint32_t prow = ref & CL__CHUNK_MASK, crow = (uint32_t)r;
	s->slots[slot] = TOMB;
	s->live--;
	if (ps == 0)
		return emit_pairs(w, pc->ptrs, pc->prov, c->ptrs, c->prov, &prow, &crow,
		                  1, err);
	return emit_pairs(w, c->ptrs, c->prov, pc->ptrs, pc->prov, &crow, &prow, 1, err);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

/* The parked rows left at the end: deletes (OLD) or inserts (NEW). */
static int emit_parked(walk *w, int side_i, cl_error *err)
{
	side *s = &w->s[side_i];
	if (!s->live)
		return 0;
	uint32_t *refs = cl_malloc((size_t)s->live * sizeof *refs);
	if (!refs)
		return oom(err);
	int64_t n = 0;
	for (int64_t i = 0; i < s->scap; i++)
		if (s->slots[i] && s->slots[i] != TOMB)
			refs[n++] = s->slots[i] - 1;
	qsort(refs, (size_t)n, sizeof *refs, cmp_u32);
	int rc = 0;
	/* chunk by chunk */
	for (int64_t k = 0; k < n && !rc;) {
		uint32_t c = refs[k] >> CL__CHUNK_BITS;
		int64_t m = 0;
		for (; k < n && refs[k] >> CL__CHUNK_BITS == c; k++)
			w->tmpref[m++] = refs[k] & CL__CHUNK_MASK;
		rc = side_i == 0 ? emit_deletes(w, s->park.chunks[c], w->tmpref, m, err)
		                 : emit_inserts(w, s->park.chunks[c], w->tmpref, m, err);
	}
	cl_free(refs);
	return rc;
}

/* ---- the walk ------------------------------------------------------------- */

/* Advance a side whose cursor passed its chunk: flush, free, next. */
static int advance(walk *w, int si, cl_error *err)
{
	side *s = &w->s[si];
	int rc = flush(w, err);
	if (rc)
		return rc;
	cl__dchunk_free(s->c, w->p->nu);
	s->c = NULL;
	s->i = 0;
	if ((rc = cl__aside_next(s, &s->c, err)))
		return rc;
	if (!s->c)
		s->done = true;
	return 0;
}

static int walk_rows(walk *w, cl_diff_progress_fn progress, void *parg, cl_error *err)
{
	const cl__diff_plan *p = w->p;
	side *L = &w->s[0], *R = &w->s[1];
	int rc;
	if ((rc = advance(w, 0, err)) || (rc = advance(w, 1, err)))
		return rc;
	while (!w->giveup) {
		if (!L->done && L->i == L->c->n) {
			if ((rc = advance(w, 0, err)))
				return rc;
			continue;
		}
		if (!R->done && R->i == R->c->n) {
			if ((rc = advance(w, 1, err)))
				return rc;
			if (progress)
				progress(parg, R->rows);
			continue;
		}
		if (L->done && R->done)
			break;
		const cl__dchunk *lc = L->c, *rch = R->c;
		if (R->done) {
			/* no more NEW rows: an OLD row pairs a parked one or is a delete
			 */
			int64_t sl = park_find(R, p, lc->hash[L->i], lc->ptrs, L->i);
			if (sl >= 0)
				rc = match_parked(w, 1, sl, lc, L->i, err);
			else
				w->dl[w->nd++] = (uint32_t)L->i;
			L->i++;
			L->rows++;
			if (rc)
				return rc;
			continue;
		}
		if (L->done) {
			int64_t sl = park_find(L, p, rch->hash[R->i], rch->ptrs, R->i);
			if (sl >= 0)
				rc = match_parked(w, 0, sl, rch, R->i, err);
			else
				w->il[w->ni++] = (uint32_t)R->i;
			R->i++;
			R->rows++;
			if (rc)
				return rc;
			continue;
		}
		/* aligned run: equal keys at both cursors */
		int64_t i = L->i, j = R->i;
		int64_t ln = lc->n, rn = rch->n;
		const uint64_t *lh = lc->hash, *rh = rch->hash;
		int64_t np = w->np;
		while (i < ln && j < rn && lh[i] == rh[j] &&
		       keys_eq(p, lc->ptrs, i, rch->ptrs, j)) {
			w->pl[np] = (uint32_t)i++;
			w->pr[np++] = (uint32_t)j++;
		}
		L->rows += i - L->i;
		R->rows += j - R->i;
		L->i = i;
		R->i = j;
		w->np = np;
		if (i == ln || j == rn)
			continue;
		/* different keys: the NEW row may pair a parked OLD row */
		int64_t sl = park_find(L, p, rh[j], rch->ptrs, j);
		if (sl >= 0) {
			if ((rc = match_parked(w, 0, sl, rch, j, err)))
				return rc;
			R->i++;
			R->rows++;
			continue;
		}
		if ((sl = park_find(R, p, lh[i], lc->ptrs, i)) >= 0) {
			if ((rc = match_parked(w, 1, sl, lc, i, err)))
				return rc;
			L->i++;
			L->rows++;
			continue;
		}
		/* one row deleted or inserted: the next row on the other side */
		bool lpark = true, rpark = true;
		if (i + 1 < ln && lh[i + 1] == rh[j] &&
		    keys_eq(p, lc->ptrs, i + 1, rch->ptrs, j))
			rpark = false;
		else if (j + 1 < rn && rh[j + 1] == lh[i] &&
		         keys_eq(p, lc->ptrs, i, rch->ptrs, j + 1))
			lpark = false;
		if (lpark) {
			if ((rc = park_row(w, L, lc, i, err)))
				return rc;
			L->i++;
			L->rows++;
		}
		if (rpark && !w->giveup) {
			if ((rc = park_row(w, R, rch, j, err)))
				return rc;
			R->i++;
			R->rows++;
		}
	}
	if (w->giveup)
		return 0;
	if ((rc = flush(w, err)))
		return rc;
	if (progress)
		progress(parg, R->rows);
	return 0;
}

/* The workers' outputs emptied (rows and spilled runs dropped). */
static int reset_outputs(cl_diff *d, cl_error *err)
{
	int rc = 0;
	for (int t = 0; t < d->nthreads; t++) {
		cl__diff_out *o = &d->w[t].out;
		int64_t batch = o->batch_rows;
		cl__diff_out_release(o);
		int r = cl__diff_out_init(o, &d->plan, batch, d->worker_budget,
		                          d->tmp_dir, err);
		if (!rc)
			rc = r;
	}
	return rc;
}

int cl__diff_aligned(cl_diff *d, cl_dataset *rds, cl_diff_progress_fn progress,
                     void *parg, cl_error *err)
{
	const cl__diff_plan *p = &d->plan;
	int forced = cl__diff_path_forced();
	if (forced == 1 || p->allow_dups || !d->nlds || d->w[0].out.total_rows)
		return 0;
	int nunits = 0;
	int rc = cl_dataset_split(rds, &nunits, err);
	if (rc)
		return rc;
	if (nunits <= 0) {
		note("not tried: NEW is not split into units", NULL);
		return 0;
	}
	int64_t rrows = cl_dataset_total_rows(rds);
	if (rrows < 0)
		rrows = d->lds_rows;
	/* the key hashes of both sides must fit well within the budget */
	if (forced != 2 && 16 * (d->lds_rows + rrows) > d->store_budget) {
		note("not tried: the key hashes would not fit the memory budget", NULL);
		return 0;
	}
	walk *w = cl_calloc(1, sizeof *w);
	if (!w)
		return oom(err);
	w->d = d;
	w->p = p;
	w->force = forced == 2;
	size_t nv = (size_t)p->nvalues + 1;
	if (!(w->pl = cl_malloc(CL__CHUNK_ROWS * sizeof *w->pl)) ||
	    !(w->pr = cl_malloc(CL__CHUNK_ROWS * sizeof *w->pr)) ||
	    !(w->dl = cl_malloc(CL__CHUNK_ROWS * sizeof *w->dl)) ||
	    !(w->il = cl_malloc(CL__CHUNK_ROWS * sizeof *w->il)) ||
	    !(w->tmpref = cl_malloc(CL__CHUNK_ROWS * sizeof *w->tmpref)) ||
	    !(w->chg = cl_malloc(CL__CHUNK_ROWS * nv)) ||
	    !(w->rowchg = cl_calloc(nv, 1)) || !(w->anyrow = cl_malloc(CL__CHUNK_ROWS)) ||
	    !(w->value_changes = cl_calloc(nv, sizeof *w->value_changes)))
		rc = oom(err);
	if (!rc)
		rc = cl__aside_init(&w->s[0], d, true, d->lds, d->nlds, err);
	if (!rc)
		rc = cl__aside_init(&w->s[1], d, false, &rds, 1, err);
	for (int k = 0; k < 2 && !rc && d->nthreads > 1; k++)
		cl__aside_start(&w->s[k]);
	if (!rc) {
		/* reading here: page buffers reused from unit to unit */
		if (d->nthreads == 1)
			cl__pq_page_cache(true);
		rc = walk_rows(w, progress, parg, err);
		if (d->nthreads == 1)
			cl__pq_page_cache(false);
	}
	cl__aside_stop(&w->s[0]);
	cl__aside_stop(&w->s[1]);
	/* duplicate keys: two equal hashes on a side (both sides at once) */
	if (!rc && !w->giveup) {
		cl__adup j[2] = {{&w->s[0], false, false}, {&w->s[1], false, false}};
		pthread_t t;
		bool th = d->nthreads > 1 &&
		          !pthread_create(&t, NULL, cl__aside_dup_check, &j[0]);
		if (!th)
			cl__aside_dup_check(&j[0]);
		cl__aside_dup_check(&j[1]);
		if (th)
			pthread_join(t, NULL);
		if (j[0].oom || j[1].oom)
			rc = oom(err);
		else if (j[0].found || j[1].found)
			w->giveup = 2;
	}
	if (!rc && !w->giveup)
		rc = emit_parked(w, 0, err);
	if (!rc && !w->giveup)
		rc = emit_parked(w, 1, err);
	int result = rc ? rc : w->giveup ? 0 : 1;
	if (result >= 0)
		note(result           ? "used"
		     : w->giveup == 2 ? "gave up: equal key hashes on one side"
		     : w->giveup == 3 ? "gave up: a key parked twice on one side"
		                      : "gave up: not aligned or past the memory budget",
		     w);
	if (result == 1) {
		cl__dworker *w0 = &d->w[0];
		w0->left_rows = w->s[0].rows;
		w0->right_rows = w->s[1].rows;
		w0->inserted = w->inserted;
		w0->changed = w->changed;
		w0->deleted = w->deleted;
		w0->unchanged = w->unchanged;
		for (int v = 0; v < p->nvalues; v++)
			w0->value_changes[v] = w->value_changes[v];
	} else {
		int r = reset_outputs(d, result < 0 ? NULL : err);
		if (r && result >= 0)
			result = r;
	}
	cl__aside_release(&w->s[0], p->nu);
	cl__aside_release(&w->s[1], p->nu);
	cl_free(w->pl);
	cl_free(w->pr);
	cl_free(w->dl);
	cl_free(w->il);
	cl_free(w->tmpref);
	cl_free(w->chg);
	cl_free(w->rowchg);
	cl_free(w->anyrow);
	cl_free(w->value_changes);
	cl_free(w);
	return result;
}
