/*
 * table_cow_keys.h — the changed keys of a copy-on-write or a lookup
 * (internal; table_cow_keys.c, used by table_cow*.c).
 *
 * The changed keys: an open-addressing table (linear probing, power-of-two
 * capacity, at most 5/8 full) of (hash, batch, row, flags). The key values
 * themselves stay in the key columns converted to the table's key types
 * (conv[batch * nkeys + k]); a slot matches a row when the hashes are equal
 * and every key column compares equal with cl_value_compare (NULL equals
 * NULL: keys match null-safely, like the hash). The hash is the bucket hash
 * (cl_hash_value folded over the key columns from seed 0).
 * A single INT64 key without NULL in the change set (i64) keeps the key
 * value itself in the slot instead of its hash: a probe compares values
 * without reaching into the key columns (a miss in the caches per changed
 * row of a large change set), and a row with a NULL key matches nothing.
 *
 * Invariants: keys are only added before the scans start (add, then
 * filter); from then on the set is read-only but for K_FOUND (see
 * cl__kslot_flags), so threads scanning different buckets share it. The
 * probe functions are static inline here: they run per scanned row.
 */
#ifndef CL_TABLE_COW_KEYS_H
#define CL_TABLE_COW_KEYS_H

#include "table_data.h"
#include "core/json.h"

enum { K_UPSERT = 1, K_DELETE = 2, K_FOUND = 4 };

typedef struct cl__kslot {
	uint64_t h;
	uint32_t row;
	uint16_t batch;
	uint16_t flags; /* 0: empty slot */
} cl__kslot;

typedef struct cl__keyset {
	cl__kslot *slots;
	size_t cap, n;         /* cap a power of two (or 0) */
	cl_column *conv;       /* nbat * nkeys converted key columns */
	int nbat, nkeys;
	bool *bucket_used;     /* per bucket (or [0] without buckets) */
	cl_column *kmin, *kmax; /* per bucket: range of the first key column */
	int nb;
	bool i64;              /* slots hold the INT64 key value as h */
	cl__kslot none;        /* always empty: found for a NULL key (i64) */
	uint64_t *filter;      /* bit (h >> 24) & fmask set for each key's
				  hash h (cl__keyset_filter), or NULL */
	uint64_t fmask;
} cl__keyset;

/* Per-bucket state of an empty key set for layout l (ks zeroed before). */
int cl__keyset_begin(cl__keyset *ks, const cl__table_layout *l, cl_error *err);
void cl__keyset_release(cl__keyset *ks);
/* Can the keys of batches bs (schema in) go into an i64 key set of layout
 * l: a single INT64 key column, no NULL among them? */
bool cl__keys_i64(const cl__table_layout *l, const cl_schema *in,
		  const cl_batch *const *bs, int nb);
/* Add the keys of batches (schema in) to ks with flag (K_UPSERT or
 * K_DELETE; upserted rows counted in st); converted through the table's
 * key types (the converted columns are kept in ks). CL_EDUPKEY when a key
 * is there already. */
int cl__keyset_add(cl__keyset *ks, const cl__table_layout *l, const cl_schema *in,
		   const cl_batch *const *bs, int nb, int flag, cl_table_cow_stats *st,
		   cl_error *err);
/* Build the filter cl__keyset_maybe reads, once every key is in.
 * CL_ENOMEM (no message) when out of memory. */
int cl__keyset_filter(cl__keyset *ks);
/* May file f hold a changed key (its bucket and key statistics)? jp: a
 * parser for the statistics. */
bool cl__keyset_candidate(const cl__keyset *ks, const cl__table_layout *l,
			  const cl_table_file *f, cl__json_parser *jp);

/* Hashes of the key columns cols over rows [0, n) into h (n entries):
 * cl_hash_column's, with an INT64 column without NULLs hashed in an
 * inlined loop even when it has a validity bitmap (a Parquet reader's
 * nullable column). */
void cl__keys_hash(uint64_t *h, cl_column *const *cols, int nkeys, int64_t n);

/* The bucket of key hash h (0 without buckets). */
static inline int cl__key_bucket(const cl__table_layout *l, uint64_t h)
{
	return l->buckets ? (int)(h % (uint64_t)l->buckets) : 0;
}

/*
 * A slot's flags. Scans of buckets on several threads (cl_table_cow) set
 * K_FOUND on the slots of the keys they find while others probe: flags are
 * read and K_FOUND set with relaxed atomics (plain loads on x86). Nothing
 * else in a slot, and no other flag, changes once every key is in.
 */
static inline uint16_t cl__kslot_flags(const cl__kslot *e)
{
	return __atomic_load_n(&e->flags, __ATOMIC_RELAXED);
}

static inline void cl__kslot_set_found(cl__kslot *e)
{
	if (!(cl__kslot_flags(e) & K_FOUND))
		__atomic_fetch_or(&e->flags, (uint16_t)K_FOUND, __ATOMIC_RELAXED);
}

/* May a row of hash h hold a changed key (its filter bit is set)? */
static inline bool cl__keyset_maybe(const cl__keyset *ks, uint64_t h)
{
	uint64_t b = (h >> 24) & ks->fmask;
	return ks->filter[b >> 6] >> (b & 63) & 1;
}

/* Probes of a scanned batch prefetch the slot of the row this many ahead
 * (a large change set's table is far bigger than the caches). */
enum { PREFETCH_AHEAD = 16 };

static inline void cl__keyset_prefetch(const cl__keyset *ks, uint64_t h)
{
	__builtin_prefetch(&ks->slots[(size_t)h & (ks->cap - 1)]);
}

/* The slot holding the key of row r of cols (hash h), or the empty slot
 * where it would go. ks->cap must not be 0. */
static inline cl__kslot *cl__keyset_find(const cl__keyset *ks, cl_column *const *cols,
					 int64_t r, uint64_t h)
{
	size_t m = ks->cap - 1, i = (size_t)h & m;
	if (ks->i64) {
		if (cl_column_is_null(cols[0], r))
			return (cl__kslot *)&ks->none;
		const cl_column *c = cols[0];
		uint64_t v = c->type.id == CL_INT64 ? (uint64_t)((const int64_t *)c->values)[r]
						    : (uint64_t)cl_column_get_i64(c, r);
		for (;; i = (i + 1) & m) {
			cl__kslot *e = &ks->slots[i];
			if (!cl__kslot_flags(e) || e->h == v)
				return e;
		}
	}
	for (;; i = (i + 1) & m) {
		cl__kslot *e = &ks->slots[i];
		if (!cl__kslot_flags(e))
			return e;
		if (e->h != h)
			continue;
		const cl_column *kc = &ks->conv[(size_t)e->batch * (size_t)ks->nkeys];
		int k = 0;
		while (k < ks->nkeys && cl_value_compare(&kc[k], e->row, cols[k], r) == 0)
			k++;
		if (k == ks->nkeys)
			return e;
	}
}

#endif
