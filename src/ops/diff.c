/*
 * diff.c — the diff engine: a hash join of NEW (right) against OLD (left).
 *
 * Design. Left batches are normalised to the unified columns (diff_impl.h)
 * and copied into a store of fixed chunks of CHUNK_ROWS rows; their key
 * hashes (cl_hash_column over the key columns, in bulk) go to a parallel
 * array. When the first right batch arrives (or the output is asked for),
 * an open-addressing table of left row numbers is built, which finds
 * duplicate left keys. Each right batch is then probed row by row against
 * the table; matched pairs are compared column by column with
 * type-specialised loops (cl__diff_cmp_pairs), and output rows are
 * appended to the accumulator (diff_output.c). Unmatched right rows are
 * inserts; they go to a small "seen" set that finds duplicate right keys
 * among them (a duplicate among matched keys shows as a left row matched
 * twice). After the right side, unmatched left rows are deletes. The
 * accumulated rows are finally sorted by key, so the output does not depend
 * on how the work was split.
 *
 * States: LOADING_LEFT -> PROBING -> EMITTING. In LOADING_LEFT, once the
 * store passes the memory limit, the engine switches to spilling: the store
 * and every later batch of both sides are scattered by the top bits of the
 * key hash into NPART temporary files per side (diff_spill.c), with an
 * extra provenance column (source << 40 | row) for error messages. Before
 * EMITTING, each partition is diffed as above, one after the other, into
 * the same accumulator. A key's rows all land in one partition, in their
 * input order, so the sorted output is byte-identical to the in-memory one.
 *
 * Invariants: left row numbers fit in uint32 (a store holds < 2^32 rows);
 * slots[] holds row + 1 (0 = empty); with duplicates allowed, next[] chains
 * rows of an equal key in ascending row order; matched[] has one bit per
 * left row.
 */
#include "diff_impl.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NPART 64
#define PART_SHIFT 58 /* top 6 bits of the hash pick the partition */
#define STAGE_ROWS 4096
#define PROV_SHIFT 40

enum { ST_LEFT = 0, ST_PROBE, ST_EMIT };

typedef struct prov_seg {
	int64_t start;     /* first store row of the segment */
	int src;           /* index into sources */
	int64_t first_row; /* 1-based row of that store row in the source */
} prov_seg;

typedef struct store {
	int nchunks, capchunks;
	cl_column **chunks;        /* chunks[c][u] */
	const cl_column ***ptrs;   /* ptrs[c][u] = &chunks[c][u] */
	const cl_column ***bycol;  /* bycol[u][c] = &chunks[c][u] */
	int bycol_chunks;          /* chunks bycol was built for */
	int64_t nrows;
	uint64_t *hashes;
	int64_t hcap;
	int64_t bytes;
	prov_seg *segs;            /* in-memory provenance */
	int nsegs, capsegs;
	int64_t *prov;             /* per-row provenance (partitions) */
	/* the table: (hash >> 32) << 32 | (row + 1); 0 = empty */
	uint64_t *slots;
	uint64_t mask;
	uint32_t *next;
	uint8_t *matched;
	/* seen inserts: output row + 1 by hash */
	uint64_t *seen_hash;
	uint64_t *seen_row;
	uint64_t seen_mask, seen_n;
} store;

typedef struct view {
	const cl_column **cols; /* nu */
	cl_column *scratch;     /* nu, typed as the side's view types */
	const cl_type *types;
} view;

typedef struct part_files {
	FILE *f[NPART];
	cl_column *stage[NPART]; /* nu + 1 columns each */
	int64_t staged[NPART];
} part_files;

struct cl_diff {
	cl__diff_plan plan;
	cl__diff_out out;
	cl_diff_stats stats;
	int state;
	int64_t memory_limit;
	char *tmp_dir;
	store st;
	view lv, rv;
	uint64_t *rhash;
	int64_t rhash_cap;
	/* per right batch scratch */
	uint32_t *pl, *pr; /* pair left refs, right rows */
	uint8_t *chg, *rowchg;
	int64_t pcap;
	char **sources;
	int nsources;
	/* spilling */
	bool spilling;
	part_files lparts, rparts;
	int64_t spill_bytes;
	cl_column *reload; /* nu + 1 columns for reading partitions */
	cl_type *reload_types;
	int64_t *value_changes;
	const char **value_names;
};

/* ---- small helpers ------------------------------------------------------ */

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

static int source_id(cl_diff *d, const char *name, cl_error *err)
{
	if (!name)
		name = "?";
	if (d->nsources && !strcmp(d->sources[d->nsources - 1], name))
		return d->nsources - 1;
	for (int i = 0; i < d->nsources; i++)
		if (!strcmp(d->sources[i], name))
			return i;
	char **s = cl_realloc(d->sources, (size_t)(d->nsources + 1) * sizeof *s);
	if (!s)
		return oom(err);
	d->sources = s;
	if (!(s[d->nsources] = cl_strdup(name)))
		return oom(err);
	return d->nsources++;
}

/* "file row N" of a provenance value. */
static void prov_text(const cl_diff *d, int64_t prov, char *buf, size_t n)
{
	int src = (int)(prov >> PROV_SHIFT);
	int64_t row = prov & (((int64_t)1 << PROV_SHIFT) - 1);
	snprintf(buf, n, "%s row %lld", src < d->nsources ? d->sources[src] : "?",
		 (long long)row);
}

static int64_t store_prov(const cl_diff *d, int64_t g)
{
	const store *s = &d->st;
	if (s->prov)
		return s->prov[g];
	int lo = 0, hi = s->nsegs - 1;
	while (lo < hi) {
		int mid = (lo + hi + 1) / 2;
		if (s->segs[mid].start <= g)
			lo = mid;
		else
			hi = mid - 1;
	}
	if (s->nsegs == 0)
		return 0;
	const prov_seg *sg = &s->segs[lo];
	return ((int64_t)sg->src << PROV_SHIFT) | (sg->first_row + g - sg->start);
}

/* ---- views: a side's batch seen through the unified columns ------------- */

static int view_init(view *v, const cl__diff_plan *p, const cl_type *types,
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

static void view_release(view *v, int nu)
{
	if (v->scratch)
		for (int j = 0; j < nu; j++)
			cl_column_release(&v->scratch[j]);
	cl_free(v->scratch);
	cl_free(v->cols);
}

static int view_set(view *v, const cl__diff_plan *p, const cl_batch *b, bool left,
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

static int hash_keys(const cl__diff_plan *p, const cl_column *const *cols, int64_t n,
		     uint64_t *h)
{
	memset(h, 0, (size_t)n * sizeof *h);
	for (int k = 0; k < p->nkeys; k++)
		cl_hash_column(cols[k], h, n);
	return 0;
}

static int grow_u64(uint64_t **a, int64_t *cap, int64_t need, cl_error *err)
{
	if (need <= *cap)
		return 0;
	int64_t c = *cap ? *cap : 1024;
	while (c < need)
		c *= 2;
	uint64_t *x = cl_realloc(*a, (size_t)c * sizeof *x);
	if (!x)
		return oom(err);
	*a = x;
	*cap = c;
	return 0;
}

/* ---- the store ---------------------------------------------------------- */

static void store_release(store *s, int nu)
{
	for (int c = 0; c < s->nchunks; c++) {
		for (int j = 0; j < nu; j++)
			cl_column_release(&s->chunks[c][j]);
		cl_free(s->chunks[c]);
		cl_free(s->ptrs[c]);
	}
	cl_free(s->chunks);
	cl_free(s->ptrs);
	if (s->bycol)
		for (int j = 0; j < nu; j++)
			cl_free(s->bycol[j]);
	cl_free(s->bycol);
	cl_free(s->hashes);
	cl_free(s->segs);
	cl_free(s->prov);
	cl_free(s->slots);
	cl_free(s->next);
	cl_free(s->matched);
	cl_free(s->seen_hash);
	cl_free(s->seen_row);
	memset(s, 0, sizeof *s);
}

static int store_new_chunk(cl_diff *d, cl_error *err)
{
	store *s = &d->st;
	const cl__diff_plan *p = &d->plan;
	if (s->nchunks == s->capchunks) {
		int cap = s->capchunks ? 2 * s->capchunks : 16;
		cl_column **c = cl_realloc(s->chunks, (size_t)cap * sizeof *c);
		if (!c)
			return oom(err);
		s->chunks = c;
		const cl_column ***q = cl_realloc(s->ptrs, (size_t)cap * sizeof *q);
		if (!q)
			return oom(err);
		s->ptrs = q;
		s->capchunks = cap;
	}
	cl_column *cols = cl_calloc((size_t)p->nu + 1, sizeof *cols);
	const cl_column **ptrs = cl_calloc((size_t)p->nu + 1, sizeof *ptrs);
	if (!cols || !ptrs) {
		cl_free(cols);
		cl_free(ptrs);
		return oom(err);
	}
	s->chunks[s->nchunks] = cols;
	s->ptrs[s->nchunks] = ptrs;
	s->nchunks++;
	for (int j = 0; j < p->nu; j++) {
		int rc = cl_column_init(&cols[j], d->plan.ltypes[j], 0, err);
		if (rc)
			return rc;
		ptrs[j] = &cols[j];
	}
	return 0;
}

/* Append rows [0, n) of left view columns to the store with their hashes. */
static int store_append(cl_diff *d, const cl_column *const *cols, int64_t n,
			const uint64_t *h, const int64_t *prov, int src,
			int64_t first_row, cl_error *err)
{
	store *s = &d->st;
	const cl__diff_plan *p = &d->plan;
	int rc;
	if (s->nrows + n >= ((int64_t)1 << 32) - 1)
		return cl_error_set(err, CL_EUNSUPPORTED,
				    "diff: more than 4 billion rows in memory; lower "
				    "--memory-limit to partition");
	if ((rc = grow_u64(&s->hashes, &s->hcap, s->nrows + n, err)))
		return rc;
	memcpy(s->hashes + s->nrows, h, (size_t)n * sizeof *h);
	if (prov) {
		int64_t cap = s->hcap;
		int64_t *x = cl_realloc(s->prov, (size_t)cap * sizeof *x);
		if (!x)
			return oom(err);
		s->prov = x;
		memcpy(s->prov + s->nrows, prov, (size_t)n * sizeof *prov);
	} else {
		if (s->nsegs == s->capsegs) {
			int cap = s->capsegs ? 2 * s->capsegs : 16;
			prov_seg *x = cl_realloc(s->segs, (size_t)cap * sizeof *x);
			if (!x)
				return oom(err);
			s->segs = x;
			s->capsegs = cap;
		}
		s->segs[s->nsegs++] = (prov_seg){s->nrows, src, first_row};
	}
	int64_t done = 0;
	while (done < n) {
		int64_t used = s->nrows % CL__CHUNK_ROWS;
		if (used == 0 && s->nrows / CL__CHUNK_ROWS == s->nchunks &&
		    (rc = store_new_chunk(d, err)))
			return rc;
		cl_column *chunk = s->chunks[s->nchunks - 1];
		int64_t take = CL__CHUNK_ROWS - used;
		if (take > n - done)
			take = n - done;
		for (int j = 0; j < p->nu; j++) {
			int64_t before = cl__column_bytes(&chunk[j]);
			if ((rc = cl__column_append_range(&chunk[j], cols[j], done, take, err)))
				return rc;
			s->bytes += cl__column_bytes(&chunk[j]) - before;
		}
		done += take;
		s->nrows += take;
	}
	return 0;
}

static int64_t store_memory(const store *s)
{
	/* columns + hashes + 8-byte table slots at load <= 1/2 + matched bits */
	return s->bytes + s->nrows * (8 + 16 + 1);
}

static bool keys_equal_store(const cl_diff *d, uint32_t g, const cl_column *const *cols,
			     int64_t row)
{
	const cl_column *const *lc = d->st.ptrs[g >> CL__CHUNK_BITS];
	int64_t lr = g & CL__CHUNK_MASK;
	if (d->plan.nkeys == 1 && lc[0]->null_count == 0 && cols[0]->null_count == 0) {
		/* the common case: one non-NULL integer key */
		switch (cols[0]->type.id) {
		case CL_INT64: case CL_UINT64:
			return ((const int64_t *)lc[0]->values)[lr] ==
			       ((const int64_t *)cols[0]->values)[row];
		case CL_INT32: case CL_UINT32:
			return ((const int32_t *)lc[0]->values)[lr] ==
			       ((const int32_t *)cols[0]->values)[row];
		default:
			break;
		}
	}
	for (int k = 0; k < d->plan.nkeys; k++)
		if (!cl__diff_equal(lc[k], lr, cols[k], row))
			return false;
	return true;
}

static int dup_error(cl_diff *d, bool left, const cl_column *const *cols, int64_t row,
		     int64_t prov_a, int64_t prov_b, cl_error *err)
{
	cl_buf key = {0};
	char a[512], b[512];
	cl__diff_key_text(&key, &d->plan, cols, row);
	if (prov_b > prov_a) { /* name the earlier row first */
		int64_t t = prov_a;
		prov_a = prov_b;
		prov_b = t;
	}
	prov_text(d, prov_a, a, sizeof a);
	if (prov_b >= 0)
		prov_text(d, prov_b, b, sizeof b);
	int rc = cl_error_set(err, CL_EDUPKEY,
			      "duplicate key (%s) in %s: %s%s%s; use --allow-duplicate-keys "
			      "to diff anyway",
			      key.data ? (char *)key.data : "?",
			      left ? d->plan.left_name : d->plan.right_name,
			      prov_b >= 0 ? b : a, prov_b >= 0 ? " and " : " (seen before)",
			      prov_b >= 0 ? a : "");
	cl_buf_release(&key);
	return rc;
}

/* Build the table over the store; finds duplicate left keys. */
static int store_build(cl_diff *d, cl_error *err)
{
	store *s = &d->st;
	uint64_t cap = 16;
	while (cap < (uint64_t)s->nrows * 2)
		cap *= 2;
	s->mask = cap - 1;
	s->slots = cl_calloc(cap, sizeof *s->slots);
	s->matched = cl_calloc((size_t)(s->nrows + 8) / 8, 1);
	if (!s->slots || !s->matched)
		return oom(err);
	if (d->plan.allow_dups && !(s->next = cl_calloc((size_t)s->nrows + 1, sizeof *s->next)))
		return oom(err);
	/* in reverse, so duplicate chains come out in ascending row order */
	for (int64_t g = s->nrows - 1; g >= 0; g--) {
		uint64_t h = s->hashes[g];
		uint64_t i = h & s->mask;
		uint64_t tag = h & 0xffffffff00000000ull;
		const cl_column *const *cols = s->ptrs[g >> CL__CHUNK_BITS];
		int64_t row = g & CL__CHUNK_MASK;
		for (;;) {
			uint64_t e = s->slots[i];
			if (!e) {
				s->slots[i] = tag | ((uint64_t)g + 1);
				break;
			}
			uint32_t o = (uint32_t)e - 1;
			if ((e & 0xffffffff00000000ull) == tag && s->hashes[o] == h &&
			    keys_equal_store(d, o, cols, row)) {
				if (!d->plan.allow_dups)
					return dup_error(d, true, cols, row, store_prov(d, g),
							 store_prov(d, o), err);
				s->next[g] = (uint32_t)e;
				s->slots[i] = tag | ((uint64_t)g + 1);
				break;
			}
			i = (i + 1) & s->mask;
		}
	}
	return 0;
}

/* ---- seen inserts (duplicate right keys among unmatched rows) ----------- */

static int seen_check(cl_diff *d, uint64_t h, const cl_column *const *cols, int64_t row,
		      int64_t prov, bool *dup, cl_error *err)
{
	store *s = &d->st;
	*dup = false;
	if ((s->seen_n + 1) * 2 > s->seen_mask + 1 || !s->seen_hash) {
		uint64_t cap = s->seen_hash ? 2 * (s->seen_mask + 1) : 1024;
		uint64_t *nh = cl_calloc(cap, sizeof *nh), *nr = cl_calloc(cap, sizeof *nr);
		if (!nh || !nr) {
			cl_free(nh);
			cl_free(nr);
			return oom(err);
		}
		if (s->seen_hash)
			for (uint64_t i = 0; i <= s->seen_mask; i++) {
				if (!s->seen_row[i])
					continue;
				uint64_t j = s->seen_hash[i] & (cap - 1);
				while (nr[j])
					j = (j + 1) & (cap - 1);
				nh[j] = s->seen_hash[i];
				nr[j] = s->seen_row[i];
			}
		cl_free(s->seen_hash);
		cl_free(s->seen_row);
		s->seen_hash = nh;
		s->seen_row = nr;
		s->seen_mask = cap - 1;
	}
	/* keys of an output row sit in the output's key columns */
	const cl__diff_out *o = &d->out;
	int kc = d->plan.has_change ? 2 : 1;
	uint64_t i = h & s->seen_mask;
	while (s->seen_row[i]) {
		if (s->seen_hash[i] == h) {
			uint64_t r = s->seen_row[i] - 1;
			const cl_batch *b = o->chunks[r >> CL__CHUNK_BITS];
			bool eq = true;
			for (int k = 0; k < d->plan.nkeys && eq; k++)
				eq = cl__diff_equal(&b->cols[kc + k], (int64_t)(r & CL__CHUNK_MASK),
						    cols[k], row);
			if (eq) {
				*dup = true;
				return 0;
			}
		}
		i = (i + 1) & s->seen_mask;
	}
	s->seen_hash[i] = h;
	s->seen_row[i] = (uint64_t)o->nrows + 1; /* the row about to be added */
	s->seen_n++;
	return 0;
}

/* ---- probing ------------------------------------------------------------ */

static int grow_pairs(cl_diff *d, int64_t need, cl_error *err)
{
	if (need <= d->pcap)
		return 0;
	int64_t c = d->pcap ? d->pcap : 1024;
	while (c < need)
		c *= 2;
	uint32_t *a = cl_realloc(d->pl, (size_t)c * sizeof *a);
	if (!a)
		return oom(err);
	d->pl = a;
	uint32_t *b = cl_realloc(d->pr, (size_t)c * sizeof *b);
	if (!b)
		return oom(err);
	d->pr = b;
	uint8_t *x = cl_realloc(d->chg, (size_t)c * (size_t)(d->plan.nvalues + 1));
	if (!x)
		return oom(err);
	d->chg = x;
	d->pcap = c;
	return 0;
}

static int emit_pairs(cl_diff *d, const cl_column *const *rc, int64_t np, cl_error *err)
{
	const cl__diff_plan *p = &d->plan;
	store *s = &d->st;
	int nv = p->nvalues;
	for (int v = 0; v < nv; v++) {
		int u = p->values[v];
		if (s->bycol_chunks != s->nchunks)
			return cl_error_set(err, CL_EINTERNAL, "diff: stale column index");
		cl__diff_cmp_pairs(&p->u[u].cmp, s->bycol[u], d->pl, rc[u], d->pr, np,
				   d->chg + (size_t)v * (size_t)np);
	}
	for (int64_t k = 0; k < np; k++) {
		bool any = false;
		for (int v = 0; v < nv; v++) {
			d->rowchg[v] = d->chg[(size_t)v * (size_t)np + (size_t)k];
			any |= d->rowchg[v];
		}
		int act = any ? ACT_C : ACT_N;
		if (any) {
			d->stats.changed++;
			for (int v = 0; v < nv; v++)
				d->value_changes[v] += d->rowchg[v];
		} else {
			d->stats.unchanged++;
			if (!p->keep_unchanged)
				continue;
		}
		uint32_t g = d->pl[k];
		int r = cl__diff_out_row(&d->out, act, s->ptrs[g >> CL__CHUNK_BITS],
					 g & CL__CHUNK_MASK, rc, d->pr[k], d->rowchg, err);
		if (r)
			return r;
	}
	return 0;
}

static int build_bycol(cl_diff *d, cl_error *err)
{
	store *s = &d->st;
	const cl__diff_plan *p = &d->plan;
	if (!s->bycol && !(s->bycol = cl_calloc((size_t)p->nu + 1, sizeof *s->bycol)))
		return oom(err);
	for (int j = 0; j < p->nu; j++) {
		cl_free(s->bycol[j]);
		s->bycol[j] = cl_calloc((size_t)s->nchunks + 1, sizeof **s->bycol);
		if (!s->bycol[j])
			return oom(err);
		for (int c = 0; c < s->nchunks; c++)
			s->bycol[j][c] = &s->chunks[c][j];
	}
	s->bycol_chunks = s->nchunks;
	return 0;
}

/* Probe right rows [0, n) of view columns rc (hashes h) against the store. */
static int probe(cl_diff *d, const cl_column *const *rc, int64_t n, const uint64_t *h,
		 const int64_t *prov, int src, int64_t first_row, cl_error *err)
{
	store *s = &d->st;
	int r;
	if ((r = grow_pairs(d, n, err)))
		return r;
	int64_t np = 0;
	enum { AHEAD = 16 };
	for (int64_t i = 0; i < n && i < AHEAD; i++)
		__builtin_prefetch(&s->slots[h[i] & s->mask]);
	for (int64_t i = 0; i < n; i++) {
		if (i + AHEAD < n)
			__builtin_prefetch(&s->slots[h[i + AHEAD] & s->mask]);
		uint64_t hi = h[i];
		uint64_t slot = hi & s->mask;
		uint64_t tag = hi & 0xffffffff00000000ull;
		uint32_t found = 0;
		for (;;) {
			uint64_t e = s->slots[slot];
			if (!e)
				break;
			uint32_t g1 = (uint32_t)e;
			if ((e & 0xffffffff00000000ull) == tag && keys_equal_store(d, g1 - 1, rc, i)) {
				found = g1;
				break;
			}
			slot = (slot + 1) & s->mask;
		}
		int64_t pv = prov ? prov[i]
				  : ((int64_t)src << PROV_SHIFT) | (first_row + i);
		if (!found) {
			if (!d->plan.allow_dups) {
				bool dup;
				if ((r = seen_check(d, hi, rc, i, pv, &dup, err)))
					return r;
				if (dup)
					return dup_error(d, false, rc, i, pv, -1, err);
			}
			d->stats.inserted++;
			if ((r = cl__diff_out_row(&d->out, ACT_I, NULL, 0, rc, i, NULL, err)))
				return r;
			continue;
		}
		for (uint32_t e = found; e; e = s->next ? s->next[e - 1] : 0) {
			uint32_t g = e - 1;
			if (cl_bit_get(s->matched, g) && !d->plan.allow_dups)
				return dup_error(d, false, rc, i, pv, -1, err);
			cl_bit_set(s->matched, g, true);
			if (np == d->pcap && (r = grow_pairs(d, np + 1, err)))
				return r;
			d->pl[np] = g;
			d->pr[np] = (uint32_t)i;
			np++;
		}
	}
	return emit_pairs(d, rc, np, err);
}

static int emit_deletes(cl_diff *d, cl_error *err)
{
	store *s = &d->st;
	for (int64_t g = 0; g < s->nrows; g++) {
		if (cl_bit_get(s->matched, g))
			continue;
		d->stats.deleted++;
		int rc = cl__diff_out_row(&d->out, ACT_D, s->ptrs[g >> CL__CHUNK_BITS],
					  g & CL__CHUNK_MASK, NULL, 0, NULL, err);
		if (rc)
			return rc;
	}
	return 0;
}

/* Build the table once the left side is complete. */
static int start_probe(cl_diff *d, cl_error *err)
{
	int rc = store_build(d, err);
	if (!rc)
		rc = build_bycol(d, err);
	d->state = ST_PROBE;
	return rc;
}

/* ---- partitions --------------------------------------------------------- */

static void parts_release(part_files *pf, int ncols)
{
	for (int i = 0; i < NPART; i++) {
		if (pf->f[i])
			fclose(pf->f[i]);
		if (pf->stage[i]) {
			for (int j = 0; j < ncols; j++)
				cl_column_release(&pf->stage[i][j]);
			cl_free(pf->stage[i]);
		}
	}
	memset(pf, 0, sizeof *pf);
}

static int parts_flush(cl_diff *d, part_files *pf, int i, cl_error *err)
{
	int nc = d->plan.nu + 1;
	if (!pf->staged[i])
		return 0;
	cl_column **cols = cl_malloc((size_t)nc * sizeof *cols);
	if (!cols)
		return oom(err);
	for (int j = 0; j < nc; j++)
		cols[j] = &pf->stage[i][j];
	long before = ftell(pf->f[i]);
	int rc = cl__spill_write(pf->f[i], cols, nc, pf->staged[i], err);
	cl_free(cols);
	if (rc)
		return rc;
	d->spill_bytes += ftell(pf->f[i]) - before;
	for (int j = 0; j < nc; j++)
		cl_column_clear(&pf->stage[i][j]);
	pf->staged[i] = 0;
	return 0;
}

static int parts_open(cl_diff *d, part_files *pf, const cl_type *types, cl_error *err)
{
	int nu = d->plan.nu;
	for (int i = 0; i < NPART; i++) {
		if (!(pf->f[i] = cl__spill_tmpfile(d->tmp_dir, err)))
			return err ? err->code : CL_EIO;
		if (!(pf->stage[i] = cl_calloc((size_t)nu + 1, sizeof *pf->stage[i])))
			return oom(err);
		for (int j = 0; j <= nu; j++) {
			int rc = cl_column_init(&pf->stage[i][j],
						j < nu ? types[j] : cl_type_make(CL_INT64), 0, err);
			if (rc)
				return rc;
		}
	}
	return 0;
}

/* Scatter rows [0, n) of view columns into partitions by hash. */
static int parts_add(cl_diff *d, part_files *pf, const cl_column *const *cols, int64_t n,
		     const uint64_t *h, const int64_t *prov, int src, int64_t first_row,
		     cl_error *err)
{
	int nu = d->plan.nu;
	int rc;
	for (int64_t i = 0; i < n; i++) {
		int pi = (int)(h[i] >> PART_SHIFT);
		cl_column *st = pf->stage[pi];
		for (int j = 0; j < nu; j++)
			if ((rc = cl_column_append_from(&st[j], cols[j], i, err)))
				return rc;
		int64_t pv = prov ? prov[i] : ((int64_t)src << PROV_SHIFT) | (first_row + i);
		if ((rc = cl_column_append_i64(&st[nu], pv, err)))
			return rc;
		if (++pf->staged[pi] >= STAGE_ROWS && (rc = parts_flush(d, pf, pi, err)))
			return rc;
	}
	return 0;
}

/* Move the in-memory store into left partitions and switch to spilling. */
static int start_spilling(cl_diff *d, cl_error *err)
{
	int rc = parts_open(d, &d->lparts, d->plan.ltypes, err);
	if (rc)
		return rc;
	store *s = &d->st;
	int64_t *prov = cl_malloc(CL__CHUNK_ROWS * sizeof *prov);
	if (!prov)
		return oom(err);
	for (int c = 0; c < s->nchunks && !rc; c++) {
		int64_t base = (int64_t)c * CL__CHUNK_ROWS;
		int64_t n = s->chunks[c][0].length;
		for (int64_t i = 0; i < n; i++)
			prov[i] = store_prov(d, base + i);
		rc = parts_add(d, &d->lparts, s->ptrs[c], n, s->hashes + base, prov, 0, 0,
			       err);
	}
	cl_free(prov);
	if (rc)
		return rc;
	store_release(s, d->plan.nu);
	d->spilling = true;
	return 0;
}

static int diff_partition(cl_diff *d, int pi, cl_error *err)
{
	const cl__diff_plan *p = &d->plan;
	int nu = p->nu, rc;
	int64_t n;
	uint64_t *h = NULL;
	int64_t hcap = 0;
	const cl_column **ptrs = cl_calloc((size_t)nu + 1, sizeof *ptrs);
	if (!ptrs)
		return oom(err);
	store_release(&d->st, nu);
	/* left */
	for (int j = 0; j <= nu; j++) {
		cl_column_release(&d->reload[j]);
		if ((rc = cl_column_init(&d->reload[j],
					 j < nu ? p->ltypes[j] : cl_type_make(CL_INT64), 0,
					 err)))
			goto done;
	}
	FILE *f = d->lparts.f[pi];
	rewind(f);
	for (;;) {
		if ((rc = cl__spill_read(f, d->reload, nu + 1, &n, err)) || !n)
			break;
		for (int j = 0; j < nu; j++)
			ptrs[j] = &d->reload[j];
		if ((rc = grow_u64(&h, &hcap, n, err)))
			break;
		hash_keys(p, ptrs, n, h);
		if ((rc = store_append(d, ptrs, n, h, (const int64_t *)d->reload[nu].values, 0,
				       0, err)))
			break;
	}
	if (rc || (rc = start_probe(d, err)))
		goto done;
	/* right */
	for (int j = 0; j <= nu; j++) {
		cl_column_release(&d->reload[j]);
		if ((rc = cl_column_init(&d->reload[j],
					 j < nu ? p->rtypes[j] : cl_type_make(CL_INT64), 0,
					 err)))
			goto done;
	}
	f = d->rparts.f[pi];
	rewind(f);
	for (;;) {
		if ((rc = cl__spill_read(f, d->reload, nu + 1, &n, err)) || !n)
			break;
		for (int j = 0; j < nu; j++)
			ptrs[j] = &d->reload[j];
		if ((rc = grow_u64(&h, &hcap, n, err)))
			break;
		hash_keys(p, ptrs, n, h);
		if ((rc = probe(d, ptrs, n, h, (const int64_t *)d->reload[nu].values, 0, 0,
				err)))
			break;
	}
	if (!rc)
		rc = emit_deletes(d, err);
done:
	cl_free(h);
	cl_free(ptrs);
	return rc;
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
	int rc = cl__diff_plan_build(&d->plan, left, right, o, err);
	if (!rc)
		rc = cl__diff_out_init(&d->out, &d->plan, o->batch_rows, err);
	if (!rc)
		rc = view_init(&d->lv, &d->plan, d->plan.ltypes, err);
	if (!rc)
		rc = view_init(&d->rv, &d->plan, d->plan.rtypes, err);
	if (!rc && !(d->value_changes = cl_calloc((size_t)d->plan.nvalues + 1,
						  sizeof *d->value_changes)))
		rc = oom(err);
	if (!rc && !(d->rowchg = cl_calloc((size_t)d->plan.nvalues + 1, 1)))
		rc = oom(err);
	if (!rc && !(d->value_names = cl_calloc((size_t)d->plan.nvalues + 1,
						sizeof *d->value_names)))
		rc = oom(err);
	for (int v = 0; !rc && v < d->plan.nvalues; v++)
		d->value_names[v] = d->plan.u[d->plan.values[v]].name;
	if (!rc && !(d->reload = cl_calloc((size_t)d->plan.nu + 1, sizeof *d->reload)))
		rc = oom(err);
	if (!rc && o->tmp_dir && !(d->tmp_dir = cl_strdup(o->tmp_dir)))
		rc = oom(err);
	if (rc) {
		cl_diff_free(d);
		return rc;
	}
	d->memory_limit = o->memory_limit > 0 ? o->memory_limit : default_memory_limit();
	*out = d;
	return 0;
}

const cl_schema *cl_diff_schema(const cl_diff *d)
{
	return d->plan.out_schema;
}

int cl_diff_add_left(cl_diff *d, const cl_batch *b, const char *source,
		     int64_t first_row, cl_error *err)
{
	if (d->state != ST_LEFT)
		return cl_error_set(err, CL_EINVAL,
				    "diff: left batches must come before right ones");
	if (!b->nrows)
		return 0;
	int src = source_id(d, source, err);
	if (src < 0)
		return src;
	int rc = view_set(&d->lv, &d->plan, b, true, err);
	if (!rc)
		rc = grow_u64(&d->rhash, &d->rhash_cap, b->nrows, err);
	if (rc)
		return rc;
	hash_keys(&d->plan, d->lv.cols, b->nrows, d->rhash);
	d->stats.left_rows += b->nrows;
	if (d->spilling)
		return parts_add(d, &d->lparts, d->lv.cols, b->nrows, d->rhash, NULL, src,
				 first_row, err);
	rc = store_append(d, d->lv.cols, b->nrows, d->rhash, NULL, src, first_row, err);
	if (!rc && store_memory(&d->st) > d->memory_limit)
		rc = start_spilling(d, err);
	return rc;
}

int cl_diff_add_right(cl_diff *d, const cl_batch *b, const char *source,
		      int64_t first_row, cl_error *err)
{
	int rc;
	if (d->state == ST_EMIT)
		return cl_error_set(err, CL_EINVAL, "diff: output already started");
	if (d->state == ST_LEFT) {
		if (d->spilling) {
			if ((rc = parts_open(d, &d->rparts, d->plan.rtypes, err)))
				return rc;
			d->state = ST_PROBE;
		} else if ((rc = start_probe(d, err))) {
			return rc;
		}
	}
	if (!b->nrows)
		return 0;
	int src = source_id(d, source, err);
	if (src < 0)
		return src;
	if ((rc = view_set(&d->rv, &d->plan, b, false, err)) ||
	    (rc = grow_u64(&d->rhash, &d->rhash_cap, b->nrows, err)))
		return rc;
	hash_keys(&d->plan, d->rv.cols, b->nrows, d->rhash);
	d->stats.right_rows += b->nrows;
	if (d->spilling)
		return parts_add(d, &d->rparts, d->rv.cols, b->nrows, d->rhash, NULL, src,
				 first_row, err);
	return probe(d, d->rv.cols, b->nrows, d->rhash, NULL, src, first_row, err);
}

static int finish(cl_diff *d, cl_error *err)
{
	int rc = 0;
	if (d->state == ST_LEFT) {
		cl_batch empty = {0};
		if ((rc = cl_diff_add_right(d, &empty, NULL, 0, err)))
			return rc;
	}
	if (d->spilling) {
		for (int i = 0; i < NPART && !rc; i++)
			rc = parts_flush(d, &d->lparts, i, err);
		for (int i = 0; i < NPART && !rc; i++)
			rc = parts_flush(d, &d->rparts, i, err);
		for (int i = 0; i < NPART && !rc; i++)
			rc = diff_partition(d, i, err);
		d->stats.partitions = NPART;
	} else {
		rc = emit_deletes(d, err);
	}
	if (!rc)
		rc = cl__diff_out_sort(&d->out, err);
	d->state = ST_EMIT;
	const cl__diff_plan *p = &d->plan;
	d->stats.nvalues = p->nvalues;
	d->stats.value_changes = d->value_changes;
	d->stats.value_names = d->value_names;
	d->stats.nleft_only = p->nleft_only;
	d->stats.left_only = (const char *const *)p->left_only;
	d->stats.nright_only = p->nright_only;
	d->stats.right_only = (const char *const *)p->right_only;
	d->stats.nwidened = p->nwidened;
	d->stats.widened = (const char *const *)p->widened;
	d->stats.spill_bytes = d->spill_bytes;
	return rc;
}

int cl_diff_next(cl_diff *d, cl_batch **out, cl_error *err)
{
	*out = NULL;
	if (d->state != ST_EMIT) {
		int rc = finish(d, err);
		if (rc)
			return rc;
	}
	return cl__diff_out_next(&d->out, out, err);
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
	store_release(&d->st, nu);
	parts_release(&d->lparts, nu + 1);
	parts_release(&d->rparts, nu + 1);
	if (d->reload)
		for (int j = 0; j <= nu; j++)
			cl_column_release(&d->reload[j]);
	cl_free(d->reload);
	view_release(&d->lv, nu);
	view_release(&d->rv, nu);
	cl__diff_out_release(&d->out);
	for (int i = 0; i < d->nsources; i++)
		cl_free(d->sources[i]);
	cl_free(d->sources);
	cl_free(d->rhash);
	cl_free(d->pl);
	cl_free(d->pr);
	cl_free(d->chg);
	cl_free(d->rowchg);
	cl_free(d->value_changes);
	cl_free(d->value_names);
	cl_free(d->tmp_dir);
	cl__diff_plan_release(&d->plan);
	cl_free(d);
}
