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
 *            key hashes and input positions (cl__dchunk).
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
 *   Duplicates  One key hash is kept per pair (OLD's row's), per delete
 *            and per insert (8 bytes each, in 256 buckets by their top
 *            bits, OLD's side's store), and checked for two equal ones at
 *            the end. Every OLD row ends in exactly one pair or delete,
 *            every NEW row in one pair or insert, and a pair's rows have
 *            equal keys: OLD's keys are the pairs' and the deletes', NEW's
 *            the pairs' and the inserts'. A key twice on a side is two
 *            equal hashes among them; two equal hashes otherwise (a delete
 *            and an insert, which the walk never leaves with one key, or
 *            a collision) only make the path give up. One hash per pair
 *            instead of one per row of each side: half the hashes to keep
 *            and check, kept by the walker, not the readers.
 *
 * When it gives up (returns 0, nothing kept; the caller runs the hash
 * path from the start, which then also reports duplicates as always):
 *   - more parked rows than 8192 + 1/8 of the rows walked (the inputs are
 *     not aligned), or parked rows and key hashes past the store budget
 *     (3/4 of --memory-limit); decided by the rows walked only, never by
 *     timing or threads;
 *   - a key parked twice on one side, or two equal kept key hashes
 *     at the end (a duplicate key, or a hash collision: not sure);
 *   - inputs too large for the kept hashes in the budget (12 bytes a row
 *     of the larger side: 8 a hash, and headroom).
 * CL_DIFF_PATH=aligned skips the first rule (tests), =hash never tries.
 * The first two rules are tried first on the keys alone of each side's
 * first rows (pre_giveup), so a shuffled pair never reads whole row groups
 * only to throw them away.
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
#define PARKED_COST 20

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
	        8 * w->s[0].kept >
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
	side *keep = &w->s[0];
	int r = 0;
	if (w->np && !(r = cl__aside_keep(keep, lc->hash, w->pl, w->np, err)))
		r = emit_pairs(w, lc->ptrs, lc->prov, rc->ptrs, rc->prov, w->pl, w->pr,
		               w->np, err);
	if (!r && w->nd && !(r = cl__aside_keep(keep, lc->hash, w->dl, w->nd, err)))
		r = emit_deletes(w, lc, w->dl, w->nd, err);
	if (!r && w->ni && !(r = cl__aside_keep(keep, rc->hash, w->il, w->ni, err)))
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
	int rc = cl__aside_keep(&w->s[0], c->hash, &crow, 1, err);
	if (rc)
		return rc;
	if (ps == 0)
		return emit_pairs(w, pc->ptrs, pc->prov, c->ptrs, c->prov, &prow, &crow,
		                  1, err);
	return emit_pairs(w, c->ptrs, c->prov, pc->ptrs, pc->prov, &crow, &prow, 1, err);
}

/* The parked rows left at the end: deletes (OLD) or inserts (NEW), in
 * park order (chunk by chunk). */
static int emit_parked(walk *w, int side_i, cl_error *err)
{
	side *s = &w->s[side_i];
	if (!s->live)
		return 0;
	/* which park references are still waiting: a byte each */
	uint8_t *live = cl_calloc((size_t)s->park.nchunks << CL__CHUNK_BITS, 1);
	if (!live)
		return oom(err);
	for (int64_t i = 0; i < s->scap; i++)
		if (s->slots[i] && s->slots[i] != TOMB)
			live[s->slots[i] - 1] = 1;
	int rc = 0;
	for (int c = 0; c < s->park.nchunks && !rc; c++) {
		const uint8_t *lv = live + ((size_t)c << CL__CHUNK_BITS);
		int64_t m = 0;
		for (int64_t r = 0; r < s->park.chunks[c]->n; r++)
			if (lv[r])
				w->tmpref[m++] = (uint32_t)r;
		rc = side_i == 0 ? emit_deletes(w, s->park.chunks[c], w->tmpref, m, err)
		                 : emit_inserts(w, s->park.chunks[c], w->tmpref, m, err);
	}
	cl_free(live);
	return rc;
}

/* ---- the cheap give-up test ------------------------------------------------ */

/*
 * Before the readers start, the walk is replayed on the keys alone of the
 * first PRE_ROWS rows of each side (OLD's first file and NEW's first file,
 * read with a projection on the key columns: one column chunk's first page
 * instead of every column's). The replay follows walk_rows' rules exactly —
 * aligned runs, the look-ups among parked keys, the one-row look-ahead, the
 * parked-row limit counted against the rows walked so far, a key parked
 * twice — and stops, undecided, where the look-ahead would pass the rows it
 * has. When it gives up before that, the walk would give up at the same row
 * (its first chunks hold these rows), so the hash path runs at once instead
 * of after both sides' first row groups were decompressed and decoded in
 * full and thrown away (about 15% of the 2M-row shuffled run). Otherwise
 * the walk runs and decides as before. Like the walk's, the decision
 * depends on the data only. Anything unexpected (NEW not Parquet, a key
 * missing from a file, a type that does not cast, an error) leaves the
 * replay undecided: the walk decides.
 */
#define PRE_ROWS 8192

typedef struct pre_side {
	cl_reader *r;
	cl_column scratch[8]; /* keys cast to the view types */
	const cl_column *cols[8];
	uint64_t *h;
	int64_t n;
	/* parked keys: row + 1, 0 empty, TOMB taken */
	uint32_t *slots;
	int64_t scap, live, rows;
} pre_side;

/* The keys of the first batch (up to PRE_ROWS rows, and no more than the
 * `unit` rows of the side's first unit, which ends the walk's first chunk;
 * < 0 unknown) of file `path`, in the side's view types: 1 read, 0 not
 * possible. */
static int pre_read(pre_side *s, const cl__diff_plan *p, const char *path,
                    const cl_schema *sch, bool left, int64_t unit)
{
	const char *names[8];
	for (int k = 0; k < p->nkeys; k++) {
		int idx = left ? p->u[k].lidx : p->u[k].ridx;
		if (idx < 0 || idx >= sch->nfields)
			return 0;
		names[k] = sch->fields[idx].name;
	}
	cl_read_options o;
	cl_read_options_init(&o);
	o.format = CL_FORMAT_PARQUET;
	o.columns = names;
	o.ncolumns = p->nkeys;
	o.batch_rows = PRE_ROWS;
	if (cl_reader_open(&s->r, path, &o, NULL))
		return 0;
	cl_batch *b = NULL;
	if (cl_reader_next(s->r, &b, NULL) || !b || b->nrows <= 0 ||
	    b->nrows > CL__CHUNK_ROWS)
		return 0;
	const cl_schema *rs = cl_reader_schema(s->r);
	const cl_type *types = left ? p->ltypes : p->rtypes;
	for (int k = 0; k < p->nkeys; k++) {
		int c = cl_schema_find(rs, names[k]);
		if (c < 0 || c >= b->ncols)
			return 0;
		if (cl_type_equal(b->cols[c].type, types[k])) {
			s->cols[k] = &b->cols[c];
			continue;
		}
		if (cl_column_init(&s->scratch[k], types[k], 0, NULL) ||
		    cl__diff_cast(&s->scratch[k], &b->cols[c], NULL))
			return 0;
		s->cols[k] = &s->scratch[k];
	}
	s->n = unit >= 0 && unit < b->nrows ? unit : b->nrows;
	if (!(s->h = cl_malloc((size_t)s->n * sizeof *s->h)))
		return 0;
	cl__key_hash(p, s->cols, s->n, s->h);
	s->scap = 16;
	while (s->scap < s->n * 2)
		s->scap *= 2;
	return (s->slots = cl_calloc((size_t)s->scap, sizeof *s->slots)) != NULL;
}

static void pre_release(pre_side *s, int nkeys)
{
	for (int k = 0; k < nkeys; k++)
		cl_column_release(&s->scratch[k]);
	cl_reader_free(s->r);
	cl_free(s->h);
	cl_free(s->slots);
}

/* The slot of a parked key of side s equal to row `row` of side o, or -1. */
static int64_t pre_find(const pre_side *s, const cl__diff_plan *p, const pre_side *o,
                        int64_t row)
{
	if (!s->live)
		return -1;
	uint64_t mask = (uint64_t)s->scap - 1, h = o->h[row];
	for (uint64_t i = h & mask;; i = (i + 1) & mask) {
		uint32_t e = s->slots[i];
		if (!e)
			return -1;
		if (e != TOMB && s->h[e - 1] == h && keys_eq(p, s->cols, e - 1, o->cols, row))
			return (int64_t)i;
	}
}

/* Park row i of s (as park_row): the walk's give-up code here (1 not
 * aligned, 3 a key parked twice) or 0. */
static int pre_park(pre_side *s, const cl__diff_plan *p, int64_t i, const pre_side *x,
                    const pre_side *y)
{
	if (pre_find(s, p, s, i) >= 0)
		return 3;
	slot_put(s->slots, s->scap, s->h[i], (uint32_t)i + 1);
	s->live++;
	return x->live + y->live > MIN_PARKED + (x->rows + y->rows) / 8;
}

/* The walk's give-up code within the first batches (1, 3) or 0: undecided. */
static int pre_replay(const cl__diff_plan *p, pre_side *L, pre_side *R)
{
	int64_t i = 0, j = 0, nl = L->n, nr = R->n;
	for (;;) {
		while (i < nl && j < nr && L->h[i] == R->h[j] &&
		       keys_eq(p, L->cols, i, R->cols, j)) {
			i++;
			j++;
		}
		L->rows = i;
		R->rows = j;
		if (i == nl || j == nr)
			return 0;
		int64_t sl = pre_find(L, p, R, j);
		if (sl >= 0) {
			L->slots[sl] = TOMB;
			L->live--;
			R->rows = ++j;
			continue;
		}
		if ((sl = pre_find(R, p, L, i)) >= 0) {
			R->slots[sl] = TOMB;
			R->live--;
			L->rows = ++i;
			continue;
		}
		/* the walk's look-ahead may reach past these rows: stop */
		if (i + 1 == nl || j + 1 == nr)
			return 0;
		bool lpark = true, rpark = true;
		if (i + 1 < nl && L->h[i + 1] == R->h[j] &&
		    keys_eq(p, L->cols, i + 1, R->cols, j))
			rpark = false;
		else if (j + 1 < nr && R->h[j + 1] == L->h[i] &&
		         keys_eq(p, L->cols, i, R->cols, j + 1))
			lpark = false;
		int g;
		if (lpark) {
			if ((g = pre_park(L, p, i, L, R)))
				return g;
			L->rows = ++i;
		}
		if (rpark) {
			if ((g = pre_park(R, p, j, L, R)))
				return g;
			R->rows = ++j;
		}
	}
}

/* One side's pre_read on a thread of its own. */
typedef struct pre_job {
	pre_side *s;
	const cl__diff_plan *p;
	const char *path;
	const cl_schema *sch;
	bool left;
	int64_t unit;
	int ok;
} pre_job;

static void *pre_main(void *arg)
{
	pre_job *j = arg;
	/* (on for this thread; the caller's is on already) */
	cl__pq_page_cache(true);
	j->ok = pre_read(j->s, j->p, j->path, j->sch, j->left, j->unit);
	return NULL;
}

/* Whether the walk would give up on the first batches of d->lds and rds
 * (see above). */
static bool pre_giveup(cl_diff *d, cl_dataset *rds)
{
	const cl__diff_plan *p = &d->plan;
	if (p->nkeys > 8 || cl_dataset_format(rds) != CL_FORMAT_PARQUET ||
	    cl_dataset_nfiles(rds) < 1 || cl_dataset_nfiles(d->lds[0]) != 1)
		return false;
	pre_side s[2];
	memset(s, 0, sizeof s);
	int g = 0;
	/* the readers' page buffers go to the pool, for the walk's readers or
	 * the hash path's, instead of back to malloc */
	cl__pq_page_cache(true);
	int nl = 0, nr = 0;
	if (!cl_dataset_split(d->lds[0], &nl, NULL) && nl > 0 &&
	    !cl_dataset_split(rds, &nr, NULL) && nr > 0) {
		/* OLD's keys on another thread with two or more (a key page
		 * is a whole column chunk's: decompressing it is most of the
		 * time before the readers start) */
		pre_job j = {&s[0], p, cl_dataset_path(d->lds[0], 0),
		             cl_dataset_schema(d->lds[0]), true,
		             cl_dataset_unit_rows(d->lds[0], 0), 0};
		pthread_t t;
		bool th = d->nthreads > 1 && !pthread_create(&t, NULL, pre_main, &j);
		if (!th)
			pre_main(&j);
		int ok = pre_read(&s[1], p, cl_dataset_path(rds, 0), cl_dataset_schema(rds),
		                  false, cl_dataset_unit_rows(rds, 0));
		if (th)
			pthread_join(t, NULL);
		if (ok && j.ok)
			g = pre_replay(p, &s[0], &s[1]);
	}
	pre_release(&s[0], p->nkeys);
	pre_release(&s[1], p->nkeys);
	cl__pq_page_cache(false);
	if (g && getenv("CL_DIFF_TRACE"))
		fprintf(stderr,
		        "diff: aligned path: gave up: %s (on the first batches' keys: %lld + "
		        "%lld rows walked, %lld + %lld parked)\n",
		        g == 3 ? "a key parked twice on one side"
		               : "not aligned or past the memory budget",
		        (long long)s[0].rows, (long long)s[1].rows, (long long)s[0].live,
		        (long long)s[1].live);
	return g != 0;
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
	/* the kept key hashes (8 bytes a pair, delete or insert: about the
	 * larger side's rows) must fit well within the budget */
	int64_t most = d->lds_rows > rrows ? d->lds_rows : rrows;
	if (forced != 2 && 12 * most > d->store_budget) {
		note("not tried: the key hashes would not fit the memory budget", NULL);
		return 0;
	}
	/* the walk would give up within the first rows: not worth reading
	 * both sides' first row groups in full */
	if (forced != 2 && pre_giveup(d, rds))
		return 0;
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
	if (!rc && w->s[0].expect >= 0) {
		/* the kept hashes: OLD's rows and NEW's inserts (a guess: what NEW
		 * has more, and a margin; a bucket past its region grows apart) */
		int64_t more = w->s[1].expect - w->s[0].expect;
		w->s[0].expect += (more > 0 ? more : 0) + w->s[0].expect / 64;
	}
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
	cl__diff_trace("aligned path: walked");
	cl__aside_stop(&w->s[0]);
	cl__aside_stop(&w->s[1]);
	/* duplicate keys: two equal kept hashes (the parked rows, deletes and
	 * inserts to come, kept first); half the buckets on another thread */
	for (int k = 0; k < 2 && !rc && !w->giveup; k++) {
		side *s = &w->s[k];
		for (int64_t i = 0; i < s->scap && !rc; i++) {
			uint32_t e = s->slots[i];
			if (e && e != TOMB)
				rc = cl__aside_keep(&w->s[0],
				                    park_chunk(s, e - 1)->hash + ((e - 1) & CL__CHUNK_MASK),
				                    NULL, 1, err);
		}
	}
	/* the parked rows become deletes and inserts while another thread
	 * checks the first buckets (the outputs are thrown away if the check
	 * finds equal hashes); the rest of the buckets after them, here */
	if (!rc && !w->giveup) {
		/* a parked row costs this thread about as much as PARKED_COST
		 * kept hashes checked: the other thread takes more buckets */
		int64_t live = w->s[0].live + w->s[1].live;
		int64_t kept = w->s[0].kept > 0 ? w->s[0].kept : 1;
		int64_t b = (int64_t)CL__ASIDE_NBUCKET * (kept + PARKED_COST * live) / (2 * kept);
		int split = b > CL__ASIDE_NBUCKET - 8 ? CL__ASIDE_NBUCKET - 8 : (int)b;
		cl__adup j[2] = {{&w->s[0], 0, split, false, false},
		                 {&w->s[0], split, CL__ASIDE_NBUCKET, false, false}};
		pthread_t t;
		bool th = d->nthreads > 1 &&
		          !pthread_create(&t, NULL, cl__aside_dup_check, &j[0]);
		if (!th)
			cl__aside_dup_check(&j[0]);
		bool skip = !th && (j[0].found || j[0].oom);
		if (!skip)
			rc = emit_parked(w, 0, err);
		if (!rc && !skip)
			rc = emit_parked(w, 1, err);
		cl__diff_trace("aligned path: parked rows emitted");
		if (!rc && !skip)
			cl__aside_dup_check(&j[1]);
		if (th)
			pthread_join(t, NULL);
		if (!rc && (j[0].oom || j[1].oom))
			rc = oom(err);
		else if (!rc && (j[0].found || j[1].found))
			w->giveup = 2;
	}
	cl__diff_trace("aligned path: duplicate check");
	int result = rc ? rc : w->giveup ? 0 : 1;
	if (result >= 0)
		note(result           ? "used"
		     : w->giveup == 2 ? "gave up: equal key hashes (a duplicate key?)"
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
