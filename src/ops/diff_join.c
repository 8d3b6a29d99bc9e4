/*
 * diff_join.c — the hash join at the heart of the diff: left rows held in
 * memory (a store of chunks), an open-addressing table over their key
 * hashes, the probe of right rows against it, the deletes, and the
 * partition files used when the left side does not fit in memory.
 *
 * Store. Chunks of at most CHUNK_ROWS rows, each with the rows' key hashes
 * and input positions (provenance: source << 40 | 1-based row). A row is
 * referred to as chunk << CHUNK_BITS | row; chunks need not be full (each
 * worker fills its own, and the in-memory join takes every worker's
 * chunks), so per-row arrays indexed by reference (matched bits, the next
 * links) have holes — at most one partial chunk per worker.
 *
 * Table. nsub sub-tables chosen by the top bits of the hash, so several
 * threads build it at once (thread t inserts only into sub-tables s with
 * s % nt == t); each is an open-addressing array of 4-byte slots holding
 * reference + 1 in the low ref_bits (as many as the store's references
 * need) and, above them, up to 24 hash bits (from bit 32 on, clear of the
 * slot and sub-table bits) as a tag that rules out most other keys without
 * reading the store. Half the size of 8-byte slots: the table's memory is
 * a fresh allocation whose page faults cost as much as its use. A duplicate left key is
 * either chained (next[], when allowed) or offered as a duplicate error.
 * Probing only reads the table. A probe batch's pairs are sorted by OLD
 * reference before their matched bits are set and their values compared
 * (forwards through the store instead of at random). Matched bits are
 * plain stores: while the workers probe at once each sets its own bits
 * (cl__djoin_maps_open), folded into the join's afterwards; a bit already
 * set in the worker's bits is a duplicate right key, a bit set in two
 * workers' bits one found by the fold.
 *
 * Partitions. A side is scattered by key hash bits into NPART files shared
 * by the workers (a record is written under the partition's lock); every
 * record carries the rows' provenance as an extra column. A partition
 * whose left file is larger than a worker's budget is scattered again by
 * the next hash bits, up to MAX_DEPTH levels; then it is diffed like the
 * in-memory case by one worker.
 */
#include "core/alloc.h"
#include "diff_impl.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 4
#define PART_SHIFT (64 - CL__PART_BITS)

static int oom(cl_error *err)
{
	return cl_error_set(err, CL_ENOMEM, "out of memory");
}

/* splitmix64's finaliser: every input bit reaches every output bit */
static inline uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/*
 * Key hashes: a single integer-like key (integers, dates, times,
 * timestamps; 4 or 8 bytes) is mixed inline, NULL as a constant; other
 * keys go through cl_hash_column (XXH3, a call per value). The hash only
 * has to agree between OLD and NEW within one diff (both sides' keys have
 * the unified type), so the choice never shows in the output.
 */
void cl__key_hash(const cl__diff_plan *p, const cl_column *const *cols, int64_t n,
		  uint64_t *h)
{
	if (p->nkeys == 1 && cols[0]->type.id != CL_FLOAT32 &&
	    cols[0]->type.id != CL_FLOAT64 && cols[0]->type.id != CL_DECIMAL &&
	    (cl_type_width(cols[0]->type) == 8 || cl_type_width(cols[0]->type) == 4)) {
		const cl_column *c = cols[0];
		const uint64_t null_hash = 0x6a09e667f3bcc909ull;
		if (cl_type_width(c->type) == 8) {
			const uint64_t *v = (const uint64_t *)c->values;
			for (int64_t i = 0; i < n; i++)
				h[i] = mix64(v[i] ^ 0x9e3779b97f4a7c15ull);
		} else {
			const uint32_t *v = (const uint32_t *)c->values;
			for (int64_t i = 0; i < n; i++)
				h[i] = mix64((uint64_t)v[i] ^ 0x9e3779b97f4a7c15ull);
		}
		if (c->validity)
			for (int64_t i = 0; i < n; i++)
				if (!cl_bit_get(c->validity, i))
					h[i] = null_hash;
		return;
	}
	memset(h, 0, (size_t)n * sizeof *h);
	for (int k = 0; k < p->nkeys; k++)
		cl_hash_column(cols[k], h, n);
}

bool cl__dupc_offer(cl__dupc *c, const cl__diff_plan *p, bool left,
		    const cl_column *const *cols, int64_t row, int64_t pa, int64_t pb)
{
	if (pa > pb) {
		int64_t t = pa;
		pa = pb;
		pb = t;
	}
	if (c->set) {
		/* keep the earliest: left before right, then by positions */
		if (c->left != left) {
			if (c->left)
				return false;
		} else if (c->pb < pb || (c->pb == pb && c->pa <= pa)) {
			return false;
		}
	}
	cl_buf key = {0};
	cl__diff_key_text(&key, p, cols, row);
	snprintf(c->key, sizeof c->key, "%s", key.data ? (char *)key.data : "?");
	cl_buf_release(&key);
	c->set = true;
	c->left = left;
	c->pa = pa;
	c->pb = pb;
	return true;
}

/* ---- the store ---------------------------------------------------------- */

static void chunk_free(cl__dchunk *c, int nu)
{
	if (!c)
		return;
	if (c->cols)
		for (int j = 0; j < nu; j++)
			cl_column_release(&c->cols[j]);
	cl_free(c->cols);
	cl_free(c->ptrs);
	cl_free(c->hash);
	cl_free(c->prov);
	cl_free(c);
}

void cl__dchunk_free(cl__dchunk *c, int nu)
{
	chunk_free(c, nu);
}

void cl__dstore_release(cl__dstore *s, int nu)
{
	const cl_type *types = s->types;
	for (int c = 0; c < s->nchunks; c++)
		chunk_free(s->chunks[c], nu);
	cl_free(s->chunks);
	memset(s, 0, sizeof *s);
	s->types = types;
}

static int store_reserve(cl__dstore *s, int n, cl_error *err)
{
	if (n <= s->capchunks)
		return 0;
	int cap = s->capchunks ? s->capchunks : 16;
	while (cap < n)
		cap *= 2;
	cl__dchunk **c = cl_realloc(s->chunks, (size_t)cap * sizeof *c);
	if (!c)
		return oom(err);
	s->chunks = c;
	s->capchunks = cap;
	return 0;
}

static int store_new_chunk(cl__dstore *s, const cl__diff_plan *p, cl_error *err)
{
	int rc = store_reserve(s, s->nchunks + 1, err);
	if (rc)
		return rc;
	cl__dchunk *c = cl_calloc(1, sizeof *c);
	if (!c)
		return oom(err);
	c->cols = cl_calloc((size_t)p->nu + 1, sizeof *c->cols);
	c->ptrs = cl_calloc((size_t)p->nu + 1, sizeof *c->ptrs);
	c->hash = cl_malloc(CL__CHUNK_ROWS * sizeof *c->hash);
	c->prov = cl_malloc(CL__CHUNK_ROWS * sizeof *c->prov);
	if (!c->cols || !c->ptrs || !c->hash || !c->prov) {
		chunk_free(c, 0);
		return oom(err);
	}
	for (int j = 0; j < p->nu; j++) {
		if ((rc = cl_column_init(&c->cols[j], s->types ? s->types[j] : p->ltypes[j], 0,
					 err))) {
			chunk_free(c, p->nu);
			return rc;
		}
		c->ptrs[j] = &c->cols[j];
	}
	s->chunks[s->nchunks++] = c;
	s->bytes += CL__CHUNK_ROWS * 16;
	return 0;
}

int cl__dstore_append(cl__dstore *s, const cl__diff_plan *p, const cl_column *const *cols,
		      int64_t n, const uint64_t *h, const int64_t *prov, cl_error *err)
{
	return cl__dstore_append_at(s, p, cols, 0, n, h, prov, err);
}

int cl__dstore_append_at(cl__dstore *s, const cl__diff_plan *p, const cl_column *const *cols,
			 int64_t first, int64_t n, const uint64_t *h, const int64_t *prov,
			 cl_error *err)
{
	int rc;
	int64_t done = 0;
	while (done < n) {
		cl__dchunk *c = s->nchunks ? s->chunks[s->nchunks - 1] : NULL;
		if (!c || c->n == CL__CHUNK_ROWS) {
			if (s->nchunks >= (1 << (32 - CL__CHUNK_BITS)) - 1)
				return cl_error_set(err, CL_EUNSUPPORTED,
						    "diff: too many rows in memory; lower "
						    "--memory-limit to partition");
			if ((rc = store_new_chunk(s, p, err)))
				return rc;
			c = s->chunks[s->nchunks - 1];
		}
		int64_t take = CL__CHUNK_ROWS - c->n;
		if (take > n - done)
			take = n - done;
		for (int j = 0; j < p->nu; j++) {
			int64_t before = cl__column_bytes(&c->cols[j]);
			if ((rc = cl_column_append_range(&c->cols[j], cols[j], first + done, take,
							 err)))
				return rc;
			s->bytes += cl__column_bytes(&c->cols[j]) - before;
		}
		memcpy(c->hash + c->n, h + done, (size_t)take * sizeof *h);
		memcpy(c->prov + c->n, prov + done, (size_t)take * sizeof *prov);
		c->n += take;
		done += take;
		s->nrows += take;
	}
	return 0;
}

int cl__dstore_adopt(cl__dstore *s, const cl__diff_plan *p, const cl_column *const *cols,
		     int64_t n, const uint64_t *h, const int64_t *prov, cl__take_fn take,
		     void *arg, cl_error *err)
{
	if (n <= 0 || n > CL__CHUNK_ROWS)
		return cl_error_set(err, CL_EINTERNAL, "diff: cannot adopt %lld rows",
				    (long long)n);
	if (s->nchunks >= (1 << (32 - CL__CHUNK_BITS)) - 1)
		return cl_error_set(err, CL_EUNSUPPORTED,
				    "diff: too many rows in memory; lower "
				    "--memory-limit to partition");
	int rc = store_new_chunk(s, p, err);
	if (rc)
		return rc;
	cl__dchunk *c = s->chunks[s->nchunks - 1];
	for (int j = 0; j < p->nu; j++) {
		rc = take(arg, j, &c->cols[j], err);
		if (rc == 0)
			rc = cl_column_append_range(&c->cols[j], cols[j], 0, n, err);
		else if (rc > 0 && c->cols[j].length != n)
			rc = cl_error_set(err, CL_EINTERNAL, "diff: taken column has %lld rows, "
					  "expected %lld", (long long)c->cols[j].length,
					  (long long)n);
		else if (rc > 0)
			rc = 0;
		if (rc)
			return rc;
		s->bytes += cl__column_bytes(&c->cols[j]);
	}
	memcpy(c->hash, h, (size_t)n * sizeof *h);
	memcpy(c->prov, prov, (size_t)n * sizeof *prov);
	c->n = n;
	s->nrows += n;
	return 0;
}

int cl__dstore_move(cl__dstore *dst, cl__dstore *src, cl_error *err)
{
	if (dst->nchunks + src->nchunks >= (1 << (32 - CL__CHUNK_BITS)) - 1)
		return cl_error_set(err, CL_EUNSUPPORTED,
				    "diff: too many rows in memory; lower --memory-limit "
				    "to partition");
	int rc = store_reserve(dst, dst->nchunks + src->nchunks, err);
	if (rc)
		return rc;
	if (src->nchunks)
		memcpy(dst->chunks + dst->nchunks, src->chunks,
		       (size_t)src->nchunks * sizeof *src->chunks);
	dst->nchunks += src->nchunks;
	dst->nrows += src->nrows;
	dst->bytes += src->bytes;
	cl_free(src->chunks);
	memset(src, 0, sizeof *src);
	return 0;
}

int64_t cl__dstore_memory(const cl__dstore *s)
{
	/* columns, hashes, provenances + table slots at load <= 1/2 + bits */
	return s->bytes + s->nrows * 17;
}

/* ---- the table ---------------------------------------------------------- */

void cl__djoin_release(cl__djoin *j, int nu)
{
	cl__dstore_release(&j->st, nu);
	cl_free(j->slots);
	cl_free(j->next);
	cl_free(j->matched);
	if (j->bycol)
		for (int u = 0; u < nu; u++)
			cl_free(j->bycol[u]);
	cl_free(j->bycol);
	memset(j, 0, sizeof *j);
}

static inline int sub_of(const cl__djoin *j, uint64_t h)
{
	return j->nsub > 1 ? (int)(h >> j->sub_shift) : 0;
}

/* A hash's tag, in place above the reference bits of a slot. */
static inline uint32_t slot_tag(const cl__djoin *j, uint64_t h)
{
	uint32_t t = (uint32_t)(h >> 32) & (uint32_t)(((uint64_t)1 << j->tag_bits) - 1);
	return (uint32_t)((uint64_t)t << j->ref_bits);
}

int cl__djoin_prepare(cl__djoin *j, const cl__diff_plan *p, int nsub, cl_error *err)
{
	int bits = 0;
	while ((1 << bits) < nsub)
		bits++;
	j->nsub = 1 << bits;
	j->sub_shift = 64 - bits;
	/* sub-tables hold about nrows / nsub rows each: size for the fullest */
	int64_t *count = cl_calloc((size_t)j->nsub, sizeof *count);
	if (!count)
		return oom(err);
	for (int c = 0; c < j->st.nchunks; c++) {
		const cl__dchunk *ch = j->st.chunks[c];
		for (int64_t r = 0; j->nsub > 1 && r < ch->n; r++)
			count[sub_of(j, ch->hash[r])]++;
	}
	if (j->nsub == 1)
		count[0] = j->st.nrows;
	int64_t most = 0;
	for (int s = 0; s < j->nsub; s++)
		if (count[s] > most)
			most = count[s];
	cl_free(count);
	/* load at most 3/4: linear probing with 32-bit tags stays short */
	int64_t cap = 16;
	while (cap < most + most / 3)
		cap *= 2;
	j->subcap = cap;
	int64_t nrefs = (int64_t)j->st.nchunks << CL__CHUNK_BITS;
	j->ref_bits = 1;
	while (j->ref_bits < 32 && ((int64_t)1 << j->ref_bits) <= nrefs)
		j->ref_bits++;
	j->tag_bits = 32 - j->ref_bits > 24 ? 24 : 32 - j->ref_bits;
	j->slots = cl_calloc((size_t)(cap * j->nsub), sizeof *j->slots);
	j->matched = cl_calloc((size_t)(nrefs + 8) / 8, 1);
	if (!j->slots || !j->matched)
		return oom(err);
	cl__huge_hint(j->slots, (size_t)(cap * j->nsub) * sizeof *j->slots);
	if (p->allow_dups && !(j->next = cl_calloc((size_t)nrefs + 1, sizeof *j->next)))
		return oom(err);
	if (!(j->bycol = cl_calloc((size_t)p->nu + 1, sizeof *j->bycol)))
		return oom(err);
	for (int u = 0; u < p->nu; u++) {
		if (!(j->bycol[u] = cl_calloc((size_t)j->st.nchunks + 1, sizeof **j->bycol)))
			return oom(err);
		for (int c = 0; c < j->st.nchunks; c++)
			j->bycol[u][c] = &j->st.chunks[c]->cols[u];
	}
	return 0;
}

static bool keys_equal(const cl__diff_plan *p, const cl__djoin *j, uint32_t ref,
		       const cl_column *const *cols, int64_t row)
{
	const cl_column *const *lc = j->st.chunks[ref >> CL__CHUNK_BITS]->ptrs;
	int64_t lr = ref & CL__CHUNK_MASK;
	if (p->nkeys == 1 && lc[0]->null_count == 0 && cols[0]->null_count == 0) {
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
	for (int k = 0; k < p->nkeys; k++)
		if (!cl__diff_equal(lc[k], lr, cols[k], row))
			return false;
	return true;
}

int cl__djoin_build(cl__dworker *w, cl__djoin *j, int t, int nt, cl_error *err)
{
	const cl__diff_plan *p = &w->d->plan;
	uint64_t mask = (uint64_t)j->subcap - 1;
	uint32_t rmask = (uint32_t)(((uint64_t)1 << j->ref_bits) - 1);
	/* whether this thread inserts sub-table s: mine[s], not s % nt per row
	 * (a division for each of every thread's rows) */
	bool mine[64];
	for (int s = 0; s < 64; s++)
		mine[s] = s < j->nsub && s % nt == t;
	if (j->nsub > 64)
		return cl_error_set(err, CL_EINTERNAL, "diff: %d sub-tables", j->nsub);
	/* in reverse, so duplicate chains come out in ascending reference order */
	for (int c = j->st.nchunks - 1; c >= 0; c--) {
		const cl__dchunk *ch = j->st.chunks[c];
		for (int64_t r = ch->n - 1; r >= 0; r--) {
			uint64_t h = ch->hash[r];
			if (r >= 16) {
				/* the slot a row 16 ahead will touch, when this
				 * thread inserts it: random access */
				uint64_t ha = ch->hash[r - 16];
				int sa = sub_of(j, ha);
				if (mine[sa])
					__builtin_prefetch(j->slots + (int64_t)sa * j->subcap +
							   (ha & mask), 1);
			}
			int s = sub_of(j, h);
			if (!mine[s])
				continue;
			uint32_t *slots = j->slots + (int64_t)s * j->subcap;
			uint64_t i = h & mask;
			uint32_t tag = slot_tag(j, h);
			uint32_t ref = (uint32_t)((int64_t)c << CL__CHUNK_BITS | r);
			uint32_t ent = tag | (ref + 1);
			for (;;) {
				uint32_t e = slots[i];
				if (!e) {
					slots[i] = ent;
					break;
				}
				uint32_t o = (e & rmask) - 1;
				const cl__dchunk *oc = j->st.chunks[o >> CL__CHUNK_BITS];
				if ((e & ~rmask) == tag &&
				    oc->hash[o & CL__CHUNK_MASK] == h &&
				    keys_equal(p, j, o, ch->ptrs, r)) {
					if (!p->allow_dups) {
						cl__dupc_offer(&w->dup, p, true, ch->ptrs, r,
							       ch->prov[r],
							       oc->prov[o & CL__CHUNK_MASK]);
						break;
					}
					j->next[ref] = e & rmask;
					slots[i] = ent;
					break;
				}
				i = (i + 1) & mask;
			}
		}
	}
	if (w->dup.set)
		return cl_error_set(err, CL_EDUPKEY, "duplicate key");
	return 0;
}

/*
 * The table built by nt threads at once, thread t taking chunks [c0, c1)
 * of an even split and inserting their rows into any sub-table with a
 * compare-and-swap: every thread reads only its own rows (the build by
 * sub-table reads every row in every thread). Without --allow-duplicate-
 * keys only: which pair of a key seen three times is found first depends
 * on the threads' timing, so a duplicate only sets *dup_found; the caller
 * then clears the table and builds it again with cl__djoin_build, whose
 * report does not depend on the timing.
 */
int cl__djoin_build_shared(cl__dworker *w, cl__djoin *j, int t, int nt, bool *dup_found,
			   cl_error *err)
{
	const cl__diff_plan *p = &w->d->plan;
	uint64_t mask = (uint64_t)j->subcap - 1;
	uint32_t rmask = (uint32_t)(((uint64_t)1 << j->ref_bits) - 1);
	if (p->allow_dups)
		return cl_error_set(err, CL_EINTERNAL, "diff: shared build with duplicates");
	int c0 = (int)((int64_t)j->st.nchunks * t / nt);
	int c1 = (int)((int64_t)j->st.nchunks * (t + 1) / nt);
	for (int c = c0; c < c1; c++) {
		const cl__dchunk *ch = j->st.chunks[c];
		for (int64_t r = 0; r < ch->n; r++) {
			if (r + 16 < ch->n) {
				uint64_t ha = ch->hash[r + 16];
				__builtin_prefetch(j->slots + (int64_t)sub_of(j, ha) * j->subcap +
						   (ha & mask), 1);
			}
			uint64_t h = ch->hash[r];
			uint32_t *slots = j->slots + (int64_t)sub_of(j, h) * j->subcap;
			uint64_t i = h & mask;
			uint32_t tag = slot_tag(j, h);
			uint32_t ref = (uint32_t)((int64_t)c << CL__CHUNK_BITS | r);
			uint32_t ent = tag | (ref + 1);
			for (;;) {
				uint32_t e = __atomic_load_n(&slots[i], __ATOMIC_RELAXED);
				if (!e) {
					if (__atomic_compare_exchange_n(&slots[i], &e, ent, false,
									__ATOMIC_RELAXED,
									__ATOMIC_RELAXED))
						break;
					/* another thread took the slot: look at its entry */
				}
				uint32_t o = (e & rmask) - 1;
				const cl__dchunk *oc = j->st.chunks[o >> CL__CHUNK_BITS];
				if ((e & ~rmask) == tag && oc->hash[o & CL__CHUNK_MASK] == h &&
				    keys_equal(p, j, o, ch->ptrs, r)) {
					*dup_found = true;
					return 0;
				}
				i = (i + 1) & mask;
			}
		}
		if (__atomic_load_n(&w->d->abort, __ATOMIC_RELAXED))
			return CL_EINTERNAL;
	}
	return 0;
}

/* ---- probing ------------------------------------------------------------ */

static int grow_pairs(cl__dworker *w, int64_t need, cl_error *err)
{
	if (need <= w->pcap)
		return 0;
	int64_t c = w->pcap ? w->pcap : 1024;
	while (c < need)
		c *= 2;
	uint32_t *a = cl_realloc(w->pl, (size_t)c * sizeof *a);
	if (!a)
		return oom(err);
	w->pl = a;
	uint32_t *b = cl_realloc(w->pr, (size_t)c * sizeof *b);
	if (!b)
		return oom(err);
	w->pr = b;
	uint8_t *x = cl_realloc(w->chg, (size_t)c * (size_t)(w->d->plan.nvalues + 1));
	if (!x)
		return oom(err);
	w->chg = x;
	uint32_t *ins = cl_realloc(w->ins, (size_t)c * sizeof *ins);
	if (!ins)
		return oom(err);
	w->ins = ins;
	w->pcap = c;
	return 0;
}

/*
 * Pairs [0, np) in ascending OLD reference order, NEW rows ascending within
 * one reference (the probe makes them in NEW row order; the sort is a
 * stable LSD radix sort, 11 bits a pass). The probe leaves pairs in NEW's
 * order, which for shuffled inputs visits the store at random, a cache and
 * TLB miss per pair and column; in reference order the matched bits and
 * the value compares run forwards through each chunk. Where a pair sits in
 * a worker's output does not matter: the output is sorted by key and
 * positions later. Few pairs are left as they are.
 */
static int sort_pairs(cl__dworker *w, int64_t np, cl_error *err)
{
	enum { RBITS = 11, RSIZE = 1 << RBITS };
	if (np < 1024 || np >= ((int64_t)1 << 32))
		return 0;
	if (2 * np > w->srtcap) {
		uint64_t *s = cl_realloc(w->srt, (size_t)(2 * np) * sizeof *s);
		if (!s)
			return oom(err);
		w->srt = s;
		w->srtcap = 2 * np;
	}
	uint64_t *a = w->srt, *b = w->srt + np;
	int64_t cnt[RSIZE];
	uint32_t all = 0;
	for (int64_t k = 0; k < np; k++) {
		a[k] = (uint64_t)w->pl[k] << 32 | w->pr[k];
		all |= w->pl[k];
	}
	for (int shift = 32; shift < 64 && (all >> (shift - 32)); shift += RBITS) {
		memset(cnt, 0, sizeof cnt);
		for (int64_t k = 0; k < np; k++)
			cnt[(a[k] >> shift) & (RSIZE - 1)]++;
		int64_t sum = 0;
		for (int d = 0; d < RSIZE; d++) {
			int64_t c = cnt[d];
			cnt[d] = sum;
			sum += c;
		}
		for (int64_t k = 0; k < np; k++)
			b[cnt[(a[k] >> shift) & (RSIZE - 1)]++] = a[k];
		uint64_t *t = a;
		a = b;
		b = t;
	}
	for (int64_t k = 0; k < np; k++) {
		w->pl[k] = (uint32_t)(a[k] >> 32);
		w->pr[k] = (uint32_t)a[k];
	}
	return 0;
}

/*
 * Set the matched bit of every pair's OLD row in bm (the worker's own bits
 * while the workers probe at once, else the join's: plain stores, no
 * atomics). A bit already set is a NEW key matched twice (without
 * --allow-duplicate-keys); the earliest such NEW row is reported, as a
 * probe in NEW row order would find it first.
 */
static int mark_matched(cl__dworker *w, uint8_t *bm, const cl_column *const *rc,
			const int64_t *pv, const uint64_t *h, int64_t np, cl_error *err)
{
	const cl__diff_plan *p = &w->d->plan;
	int64_t dup = -1;
	for (int64_t k = 0; k < np; k++) {
		uint32_t g = w->pl[k];
		uint8_t bit = (uint8_t)(1u << (g & 7));
		if ((bm[g >> 3] & bit) && !p->allow_dups && (dup < 0 || w->pr[k] < dup))
			dup = w->pr[k];
		bm[g >> 3] |= bit;
	}
	if (dup < 0)
		return 0;
	if (cl__dupc_offer(&w->dup, p, false, rc, dup, -1, pv[dup]))
		w->dup.hash = h[dup];
	return cl_error_set(err, CL_EDUPKEY, "duplicate key");
}

static int emit_pairs(cl__dworker *w, cl__djoin *j, const cl_column *const *rc,
		      const int64_t *pv, const uint64_t *h, int64_t np, cl_error *err)
{
	const cl__diff_plan *p = &w->d->plan;
	int nv = p->nvalues, r;
	if (!np)
		return 0;
	if ((r = sort_pairs(w, np, err)) ||
	    (r = mark_matched(w, w->pm ? w->pm : j->matched, rc, pv, h, np, err)))
		return r;
	for (int v = 0; v < nv; v++) {
		int u = p->values[v];
		cl__diff_cmp_pairs(&p->u[u].cmp, j->bycol[u], w->pl, rc[u], w->pr, np,
				   w->chg + (size_t)v * (size_t)np);
	}
	/* whether any value of a pair changed, a column at a time (chg has
	 * room for nv + 1 rows of flags) */
	uint8_t *any = w->chg + (size_t)nv * (size_t)np;
	memset(any, 0, (size_t)np);
	for (int v = 0; v < nv; v++) {
		const uint8_t *cv = w->chg + (size_t)v * (size_t)np;
		int64_t s = 0;
		for (int64_t k = 0; k < np; k++) {
			any[k] |= cv[k];
			s += cv[k];
		}
		w->value_changes[v] += s;
	}
	int64_t nchanged = 0;
	for (int64_t k = 0; k < np; k++)
		nchanged += any[k] != 0;
	w->changed += nchanged;
	w->unchanged += np - nchanged;
	/* without per-row changed flags in the output (sparse values, the
	 * change column), C and N rows are appended in bulk */
	bool bulk = !p->sparse && !p->has_change;
	cl__diff_out *o = &w->out;
	if (bulk && (r = cl__diff_out_reserve(o, np, err)))
		return r;
	int64_t nc = 0, nn = 0;
	for (int64_t k = 0; k < np; k++) {
		if (!any[k] && !p->keep_unchanged)
			continue;
		uint32_t g = w->pl[k];
		const cl__dchunk *ch = j->st.chunks[g >> CL__CHUNK_BITS];
		int64_t lr = g & CL__CHUNK_MASK;
		if (!bulk) {
			for (int v = 0; v < nv; v++)
				w->rowchg[v] = w->chg[(size_t)v * (size_t)np + (size_t)k];
			r = cl__diff_out_row(o, any[k] ? ACT_C : ACT_N, ch->ptrs, lr, ch->prov[lr],
					     rc, w->pr[k], pv[w->pr[k]], w->rowchg, err);
			if (r)
				return r;
			continue;
		}
		/* C rows from the front of the arrays, N rows from the back */
		int64_t at = any[k] ? nc++ : np - ++nn;
		o->r_lcols[at] = ch->ptrs;
		o->r_lrow[at] = lr;
		o->r_lprov[at] = ch->prov[lr];
		o->r_rrow[at] = w->pr[k];
		o->r_rprov[at] = pv[w->pr[k]];
	}
	if (!bulk)
		return 0;
	if (nc && (r = cl__diff_out_rows(o, ACT_C, nc, true, rc, err)))
		return r;
	if (nn) {
		/* the N rows, moved to the front */
		memmove(o->r_lcols, o->r_lcols + np - nn, (size_t)nn * sizeof *o->r_lcols);
		memmove(o->r_lrow, o->r_lrow + np - nn, (size_t)nn * sizeof *o->r_lrow);
		memmove(o->r_lprov, o->r_lprov + np - nn, (size_t)nn * sizeof *o->r_lprov);
		memmove(o->r_rrow, o->r_rrow + np - nn, (size_t)nn * sizeof *o->r_rrow);
		memmove(o->r_rprov, o->r_rprov + np - nn, (size_t)nn * sizeof *o->r_rprov);
		if ((r = cl__diff_out_rows(o, ACT_N, nn, true, rc, err)))
			return r;
	}
	return 0;
}

int cl__djoin_probe(cl__dworker *w, cl__djoin *j, const cl_column *const *rc, int64_t n,
		    const uint64_t *h, const int64_t *pv, cl_error *err)
{
	const cl__diff_plan *p = &w->d->plan;
	int r;
	if ((r = grow_pairs(w, n, err)))
		return r;
	int64_t np = 0, nins = 0;
	uint64_t mask = (uint64_t)j->subcap - 1;
	uint32_t rmask = (uint32_t)(((uint64_t)1 << j->ref_bits) - 1);
	/*
	 * Two-stage prefetch: the home slot AHEAD probes ahead, then, AHEAD2
	 * probes ahead (the slot is in cache by then), the OLD key its entry
	 * points to when the tag agrees — a store row is a miss of its own.
	 */
	enum { AHEAD = 16, AHEAD2 = 8 };
	int kw = 0;
	if (p->nkeys == 1 && !rc[0]->offsets)
		kw = cl_type_width(rc[0]->type);
	if (kw < 0 || kw > 16)
		kw = 0;
#define SLOTP(hh) (j->slots + (int64_t)sub_of(j, hh) * j->subcap + ((hh) & mask))
	for (int64_t i = 0; i < n && i < AHEAD; i++)
		__builtin_prefetch(SLOTP(h[i]));
	for (int64_t i = 0; i < n; i++) {
		if (i + AHEAD < n)
			__builtin_prefetch(SLOTP(h[i + AHEAD]));
		if (kw && i + AHEAD2 < n) {
			uint64_t hb = h[i + AHEAD2];
			uint32_t e = *SLOTP(hb);
			if (e && (e & ~rmask) == slot_tag(j, hb)) {
				uint32_t g = (e & rmask) - 1;
				const cl_column *lk =
					j->st.chunks[g >> CL__CHUNK_BITS]->ptrs[0];
				if (lk->values)
					__builtin_prefetch(lk->values +
							   (size_t)(g & CL__CHUNK_MASK) *
								   (size_t)kw);
			}
		}
		uint64_t hi = h[i];
		uint32_t *slots = j->slots + (int64_t)sub_of(j, hi) * j->subcap;
		uint64_t slot = hi & mask;
		uint32_t tag = slot_tag(j, hi);
		uint32_t found = 0;
		for (;;) {
			uint32_t e = slots[slot];
			if (!e)
				break;
			uint32_t g1 = e & rmask;
			if ((e & ~rmask) == tag && keys_equal(p, j, g1 - 1, rc, i)) {
				found = g1;
				break;
			}
			slot = (slot + 1) & mask;
		}
		if (!found) {
			/* inserts: appended in bulk after the loop */
			w->inserted++;
			w->ins[nins++] = (uint32_t)i;
			continue;
		}
		/* matched bits and duplicates: after the loop (emit_pairs) */
		for (uint32_t e = found; e; e = j->next ? j->next[e - 1] : 0) {
			uint32_t g = e - 1;
			if (np == w->pcap && (r = grow_pairs(w, np + 1, err)))
				return r;
			w->pl[np] = g;
			w->pr[np] = (uint32_t)i;
			np++;
		}
	}
#undef SLOTP
	if (nins) {
		cl__diff_out *o = &w->out;
		if ((r = cl__diff_out_reserve(o, nins, err)))
			return r;
		for (int64_t k = 0; k < nins; k++) {
			o->r_rrow[k] = w->ins[k];
			o->r_rprov[k] = pv[w->ins[k]];
		}
		if ((r = cl__diff_out_rows(o, ACT_I, nins, false, rc, err)))
			return r;
	}
	return emit_pairs(w, j, rc, pv, h, np, err);
}

/* Bytes of a join's matched bits (one per reference, holes included). */
static size_t matched_bytes(const cl__djoin *j)
{
	return (size_t)((((int64_t)j->st.nchunks << CL__CHUNK_BITS) + 8) / 8);
}

int cl__djoin_maps_open(struct cl_diff *d, cl_error *err)
{
	size_t n = matched_bytes(&d->join);
	for (int t = 0; t < d->nthreads; t++)
		if (!d->w[t].pm && !(d->w[t].pm = cl_calloc(n, 1)))
			return oom(err);
	return 0;
}

int64_t cl__djoin_maps_close(struct cl_diff *d)
{
	cl__djoin *j = &d->join;
	size_t n = matched_bytes(j);
	int64_t dup = -1;
	for (int t = 0; t < d->nthreads; t++) {
		uint8_t *m = d->w[t].pm;
		if (!m)
			continue;
		for (size_t b = 0; b < n; b++) {
			uint8_t both = j->matched[b] & m[b];
			if (both && dup < 0 && !d->plan.allow_dups)
				dup = (int64_t)b * 8 + __builtin_ctz(both);
			j->matched[b] |= m[b];
		}
		cl_free(m);
		d->w[t].pm = NULL;
	}
	return dup;
}

int cl__djoin_deletes(cl__dworker *w, cl__djoin *j, int t, int nt, cl_error *err)
{
	cl__diff_out *o = &w->out;
	int rc = cl__diff_out_reserve(o, CL__CHUNK_ROWS, err);
	if (rc)
		return rc;
	for (int c = t; c < j->st.nchunks; c += nt) {
		const cl__dchunk *ch = j->st.chunks[c];
		int64_t base = (int64_t)c << CL__CHUNK_BITS, nd = 0;
		for (int64_t r = 0; r < ch->n; r++) {
			if (cl_bit_get(j->matched, base + r))
				continue;
			o->r_lcols[nd] = ch->ptrs;
			o->r_lrow[nd] = r;
			o->r_lprov[nd] = ch->prov[r];
			nd++;
		}
		w->deleted += nd;
		if (nd && (rc = cl__diff_out_rows(o, ACT_D, nd, true, NULL, err)))
			return rc;
		if (__atomic_load_n(&w->d->abort, __ATOMIC_RELAXED))
			return CL_EINTERNAL;
	}
	return 0;
}

/* ---- partitions --------------------------------------------------------- */

int cl__dparts_open(cl__dparts *pp, struct cl_diff *d, int shift, cl_error *err)
{
	memset(pp, 0, sizeof *pp);
	pp->shift = shift;
	for (int i = 0; i < CL__NPART; i++)
		pthread_mutex_init(&pp->mu[i], NULL);
	pp->open = true;
	for (int i = 0; i < CL__NPART; i++)
		if (!(pp->f[i] = cl__spill_tmpfile(d->tmp_dir, err)))
			return err ? err->code : CL_EIO;
	return 0;
}

void cl__dparts_close(cl__dparts *pp)
{
	if (!pp->open)
		return;
	for (int i = 0; i < CL__NPART; i++) {
		if (pp->f[i])
			fclose(pp->f[i]);
		pthread_mutex_destroy(&pp->mu[i]);
	}
	memset(pp, 0, sizeof *pp);
}

int cl__dstage_init(cl__dstage *s, const cl__diff_plan *p, const cl_type *types,
		    cl_error *err)
{
	memset(s, 0, sizeof *s);
	for (int i = 0; i < CL__NPART; i++) {
		if (!(s->cols[i] = cl_calloc((size_t)p->nu + 1, sizeof *s->cols[i])))
			return oom(err);
		for (int j = 0; j <= p->nu; j++) {
			int rc = cl_column_init(&s->cols[i][j],
						j < p->nu ? types[j] : cl_type_make(CL_INT64), 0,
						err);
			if (rc)
				return rc;
		}
	}
	return 0;
}

void cl__dstage_release(cl__dstage *s, int nu)
{
	for (int i = 0; i < CL__NPART; i++) {
		if (!s->cols[i])
			continue;
		for (int j = 0; j <= nu; j++)
			cl_column_release(&s->cols[i][j]);
		cl_free(s->cols[i]);
	}
	memset(s, 0, sizeof *s);
}

static int flush_one(struct cl_diff *d, cl__dparts *pp, cl__dstage *s, int i,
		     cl_error *err)
{
	int nc = d->plan.nu + 1;
	if (!s->n[i])
		return 0;
	cl_column **ptrs = cl_malloc((size_t)nc * sizeof *ptrs);
	if (!ptrs)
		return oom(err);
	for (int j = 0; j < nc; j++)
		ptrs[j] = &s->cols[i][j];
	pthread_mutex_lock(&pp->mu[i]);
	long before = ftell(pp->f[i]);
	int rc = cl__spill_write(pp->f[i], ptrs, nc, s->n[i], err);
	int64_t wrote = ftell(pp->f[i]) - before;
	pp->bytes[i] += wrote;
	pthread_mutex_unlock(&pp->mu[i]);
	cl_free(ptrs);
	__atomic_fetch_add(&d->spill_bytes, wrote, __ATOMIC_RELAXED);
	if (rc)
		return rc;
	for (int j = 0; j < nc; j++)
		cl_column_clear(&s->cols[i][j]);
	s->n[i] = 0;
	return 0;
}

int cl__dparts_flush(struct cl_diff *d, cl__dparts *pp, cl__dstage *s, cl_error *err)
{
	for (int i = 0; i < CL__NPART; i++) {
		int rc = flush_one(d, pp, s, i, err);
		if (rc)
			return rc;
	}
	return 0;
}

int cl__dparts_add(struct cl_diff *d, cl__dparts *pp, cl__dstage *s,
		   const cl_column *const *cols, int64_t n, const uint64_t *h,
		   const int64_t *pv, cl_error *err)
{
	int nu = d->plan.nu, rc;
	for (int64_t i = 0; i < n; i++) {
		int pi = (int)((h[i] >> pp->shift) & (CL__NPART - 1));
		cl_column *st = s->cols[pi];
		for (int j = 0; j < nu; j++)
			if ((rc = cl_column_append_from(&st[j], cols[j], i, err)))
				return rc;
		if ((rc = cl_column_append_i64(&st[nu], pv[i], err)))
			return rc;
		if (++s->n[pi] >= d->stage_rows && (rc = flush_one(d, pp, s, pi, err)))
			return rc;
	}
	return 0;
}

static int grow_h(cl__dworker *w, int64_t n, cl_error *err)
{
	if (n <= w->hcap)
		return 0;
	int64_t c = w->hcap ? w->hcap : 1024;
	while (c < n)
		c *= 2;
	uint64_t *h = cl_realloc(w->h, (size_t)c * sizeof *h);
	if (!h)
		return oom(err);
	w->h = h;
	w->hcap = c;
	return 0;
}

/* Read every record of f into w->reload (side types), calling fn per record. */
typedef int (*record_fn)(cl__dworker *w, void *arg, const cl_column *const *cols,
			 int64_t n, const uint64_t *h, const int64_t *pv, cl_error *err);

static int each_record(cl__dworker *w, FILE *f, const cl_type *types, record_fn fn,
		       void *arg, cl_error *err)
{
	const cl__diff_plan *p = &w->d->plan;
	int nu = p->nu, rc = 0;
	const cl_column **ptrs = cl_calloc((size_t)nu + 1, sizeof *ptrs);
	if (!ptrs)
		return oom(err);
	for (int j = 0; j <= nu && !rc; j++) {
		cl_column_release(&w->reload[j]);
		rc = cl_column_init(&w->reload[j], j < nu ? types[j] : cl_type_make(CL_INT64), 0,
				    err);
	}
	rewind(f);
	while (!rc) {
		int64_t n;
		if ((rc = cl__spill_read(f, w->reload, nu + 1, &n, err)) || !n)
			break;
		for (int j = 0; j < nu; j++)
			ptrs[j] = &w->reload[j];
		if ((rc = grow_h(w, n, err)))
			break;
		cl__key_hash(p, ptrs, n, w->h);
		rc = fn(w, arg, ptrs, n, w->h, (const int64_t *)w->reload[nu].values, err);
		if (!rc && __atomic_load_n(&w->d->abort, __ATOMIC_RELAXED))
			rc = CL_EINTERNAL;
	}
	cl_free(ptrs);
	return rc;
}

static int rec_store(cl__dworker *w, void *arg, const cl_column *const *cols, int64_t n,
		     const uint64_t *h, const int64_t *pv, cl_error *err)
{
	return cl__dstore_append(&w->pj.st, &w->d->plan, cols, n, h, pv, err);
}

static int rec_probe(cl__dworker *w, void *arg, const cl_column *const *cols, int64_t n,
		     const uint64_t *h, const int64_t *pv, cl_error *err)
{
	return cl__djoin_probe(w, &w->pj, cols, n, h, pv, err);
}

/* The first right row of the duplicate key w->dup (see diff.c). */
static int rec_find(cl__dworker *w, void *arg, const cl_column *const *cols, int64_t n,
		    const uint64_t *h, const int64_t *pv, cl_error *err)
{
	cl_buf *key = arg;
	for (int64_t i = 0; i < n && w->dup.pa < 0; i++) {
		if (h[i] != w->dup.hash || pv[i] == w->dup.pb)
			continue;
		cl_buf_clear(key);
		cl__diff_key_text(key, &w->d->plan, cols, i);
		if (key->data && !strcmp((char *)key->data, w->dup.key))
			w->dup.pa = pv[i];
	}
	return 0;
}

typedef struct scatter_arg {
	cl__dparts *pp;
	cl__dstage *stage;
} scatter_arg;

static int rec_scatter(cl__dworker *w, void *arg, const cl_column *const *cols, int64_t n,
		       const uint64_t *h, const int64_t *pv, cl_error *err)
{
	scatter_arg *a = arg;
	return cl__dparts_add(w->d, a->pp, a->stage, cols, n, h, pv, err);
}

/* Scatter partition lf / rf into 64 sub-partitions and diff each. */
static int split_partition(cl__dworker *w, FILE *lf, FILE *rf, int depth, cl_error *err)
{
	struct cl_diff *d = w->d;
	const cl__diff_plan *p = &d->plan;
	cl__dparts sub[2];
	cl__dstage st[2];
	memset(sub, 0, sizeof sub);
	memset(st, 0, sizeof st);
	int shift = PART_SHIFT - CL__PART_BITS * (depth + 1);
	int rc = cl__dparts_open(&sub[0], d, shift, err);
	if (!rc)
		rc = cl__dparts_open(&sub[1], d, shift, err);
	if (!rc)
		rc = cl__dstage_init(&st[0], p, p->ltypes, err);
	if (!rc)
		rc = cl__dstage_init(&st[1], p, p->rtypes, err);
	scatter_arg a0 = {&sub[0], &st[0]}, a1 = {&sub[1], &st[1]};
	if (!rc)
		rc = each_record(w, lf, p->ltypes, rec_scatter, &a0, err);
	if (!rc)
		rc = cl__dparts_flush(d, &sub[0], &st[0], err);
	if (!rc)
		rc = each_record(w, rf, p->rtypes, rec_scatter, &a1, err);
	if (!rc)
		rc = cl__dparts_flush(d, &sub[1], &st[1], err);
	cl__dstage_release(&st[0], p->nu);
	cl__dstage_release(&st[1], p->nu);
	for (int i = 0; i < CL__NPART && !rc; i++)
		rc = cl__dpart_diff(w, sub[0].f[i], sub[0].bytes[i], sub[1].f[i], depth + 1, err);
	cl__dparts_close(&sub[0]);
	cl__dparts_close(&sub[1]);
	return rc;
}

int cl__dpart_diff(cl__dworker *w, FILE *lf, int64_t lbytes, FILE *rf, int depth,
		   cl_error *err)
{
	struct cl_diff *d = w->d;
	const cl__diff_plan *p = &d->plan;
	if (lbytes > d->part_budget && depth < MAX_DEPTH)
		return split_partition(w, lf, rf, depth, err);
	cl__djoin_release(&w->pj, p->nu);
	int rc = each_record(w, lf, p->ltypes, rec_store, NULL, err);
	if (!rc)
		rc = cl__djoin_prepare(&w->pj, p, 1, err);
	if (!rc)
		rc = cl__djoin_build(w, &w->pj, 0, 1, err);
	if (!rc)
		rc = each_record(w, rf, p->rtypes, rec_probe, NULL, err);
	if (rc == CL_EDUPKEY && w->dup.set && !w->dup.left && w->dup.pa < 0) {
		/* the key's first row in NEW is earlier in the same file */
		cl_buf key = {0};
		cl__djoin_release(&w->pj, p->nu);
		if (!each_record(w, rf, p->rtypes, rec_find, &key, NULL) && w->dup.pa > w->dup.pb) {
			int64_t t = w->dup.pa;
			w->dup.pa = w->dup.pb;
			w->dup.pb = t;
		}
		cl_buf_release(&key);
	}
	if (!rc)
		rc = cl__djoin_deletes(w, &w->pj, 0, 1, err);
	cl__djoin_release(&w->pj, p->nu);
	w->partitions++;
	return rc;
}
