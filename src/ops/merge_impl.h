/*
 * merge_impl.h — shared internals of the merge (src/ops/merge*.c).
 *
 * The pieces:
 *   merge.c         ADDING: create/free, accessors, cl_merge_add, the
 *                   change store, its hash table and compaction,
 *                   cl__merge_reserve
 *   merge_result.c  FINISHED/RESOLVING: cl_merge_finish, cl_merge_resolve,
 *                   cl_merge_result, cl__merge_take_result
 *
 * Invariants of struct cl_merge:
 *   - winner[r] is set for exactly the rows the hash table points at (the
 *     table is rebuilt from them when it grows or the store is compacted);
 *   - with ignore_null_updates (and only then: prev and base are NULL
 *     otherwise), prev[r] links an update to the change it
 *     replaced (an insert or update of the same key), so a NULL in the
 *     update can take the value of the nearest earlier change; base[r] says
 *     the chain starts with an update, so its NULLs may also come from the
 *     table's row (cl_merge_resolve);
 *   - without ignore_null_updates, rows that lost are garbage and the store
 *     is compacted when they outnumber the winners.
 *
 * State machine: ADDING (cl_merge_add) -> FINISHED (cl_merge_finish builds
 * `res`, the winners gathered into result columns — moved, not copied, when
 * every stored row won — and frees the store and its hash table) ->
 * RESOLVING (cl_merge_resolve builds a hash table over the result at its
 * first call, marks stale rows and collects patch values) ->
 * cl_merge_result builds the output batches.
 *
 * The key and hash-table helpers both sides use are static inline here, so
 * the store's per-row probe loop still inlines them.
 */
#ifndef CL_OPS_MERGE_IMPL_H
#define CL_OPS_MERGE_IMPL_H

#include "changelake/hash.h"
#include "changelake/merge.h"
#include "merge_internal.h"
#include "core/value_text.h"

#include <string.h>

/* A hash-table slot: the high 32 bits of the key's hash (the low bits
 * pick the slot) and the row plus one, CL__MERGE_SLOT_EMPTY (0) for none:
 * an empty table is zeroed memory (cl_calloc; large ones come from the
 * kernel already zero, no 0xff fill). 8 bytes: the table is at most 70% full, so
 * a 10M-key load needs 16M slots, 128 MB. */
struct cl__merge_slot {
	uint32_t tag;
	uint32_t row1;
};
#define CL__MERGE_SLOT_EMPTY 0u

struct cl_merge {
	char **keys;
	int nkeys;
	char *seq_by;
	bool ignore_null;
	int threads;        /* cl_merge_options.threads */
	cl_schema *schema;  /* data columns */
	cl_schema *full;    /* data + hidden (built by finish) */
	int *key_idx;       /* into schema */
	int seq_idx;        /* into schema, or -1 */
	bool finished;

	/* ADDING: the store */
	cl_column *cols;    /* schema->nfields columns */
	int cols_cap;
	int64_t nrows, rows_cap;
	char *ops;
	int64_t *seq_file, *seq_row;
	int64_t *prev;
	uint8_t *base, *winner;
	int64_t nwinners;
	/* hash table over the winning rows (or, once FINISHED, the result
	   rows, built by resolve); one cache line per probe */
	struct cl__merge_slot *tab;
	int64_t nslots, nused;
	int64_t reserve_end; /* stats.rows once the records cl__merge_reserve
				announced are in */
	int64_t hint;       /* rows expected (cl__merge_reserve) before the
			       schema was known: the columns' first capacity */
	uint64_t *hbuf;     /* per-batch key hashes */
	int64_t hbuf_cap;
	const char *last_file;
	int64_t last_file_key;

	/* FINISHED: winners gathered */
	cl_column *res;     /* full->nfields columns */
	char *res_ops;
	uint8_t *res_base, *res_stale;
	int64_t nres;
	int64_t *patch_row; /* per result row: row of patch, or -1; only with
			       ignore_null (NULL otherwise: nothing patched) */
	cl_column *patch;   /* schema->nfields columns */
	int64_t npatch;

	int *res_key_idx;   /* = key_idx (data columns come first) */
	cl_merge_stats stats;
};

static inline int cl__merge_oom(cl_error *err)
{
	return cl_error_set(err, CL_ENOMEM, "out of memory");
}

/* ---- values ----------------------------------------------------------- */

/* Order of two non-NULL or NULL values of the same type (NULL first). */
static inline int cl__merge_value_cmp(const cl_column *a, int64_t i, const cl_column *b,
				      int64_t j)
{
	bool na = cl_column_is_null(a, i), nb = cl_column_is_null(b, j);
	if (na || nb)
		return na == nb ? 0 : na ? -1 : 1;
	switch (a->type.id) {
	case CL_BOOL: {
		int x = cl_column_get_bool(a, i), y = cl_column_get_bool(b, j);
		return x - y;
	}
	case CL_UINT8: case CL_UINT16: case CL_UINT32: case CL_UINT64: {
		int w = cl_type_width(a->type);
		uint64_t x = 0, y = 0;
		memcpy(&x, a->values + (size_t)i * (size_t)w, (size_t)w);
		memcpy(&y, b->values + (size_t)j * (size_t)w, (size_t)w);
		return x < y ? -1 : x > y;
	}
	case CL_FLOAT32: case CL_FLOAT64: {
		double x = cl_column_get_f64(a, i), y = cl_column_get_f64(b, j);
		bool xn = x != x, yn = y != y;
		if (xn || yn)
			return xn == yn ? 0 : xn ? 1 : -1;
		return x < y ? -1 : x > y;
	}
	case CL_DECIMAL: {
		cl_i128 x, y;
		memcpy(&x, a->values + (size_t)i * 16, 16);
		memcpy(&y, b->values + (size_t)j * 16, 16);
		return x < y ? -1 : x > y;
	}
	case CL_STRING: case CL_BINARY: {
		size_t nx, ny;
		const uint8_t *x = cl_column_get_bytes(a, i, &nx);
		const uint8_t *y = cl_column_get_bytes(b, j, &ny);
		int c = memcmp(x, y, nx < ny ? nx : ny);
		return c ? (c < 0 ? -1 : 1) : nx < ny ? -1 : nx > ny;
	}
	default: {
		int64_t x = cl_column_get_i64(a, i), y = cl_column_get_i64(b, j);
		return x < y ? -1 : x > y;
	}
	}
}

/* ---- keys and the hash table ----------------------------------------- */

static inline uint64_t cl__merge_key_hash(const cl_column *cols, const int *idx, int n,
					  int64_t row)
{
	uint64_t h = 0;
	for (int k = 0; k < n; k++)
		h = cl_hash_value(&cols[idx[k]], row, h);
	return h;
}

static inline bool cl__merge_keys_equal(const cl_column *a, const int *ai, int64_t i,
					const cl_column *b, const int *bi, int64_t j, int n)
{
	for (int k = 0; k < n; k++)
		if (cl__merge_value_cmp(&a[ai[k]], i, &b[bi[k]], j) != 0)
			return false;
	return true;
}

static inline uint32_t cl__merge_tag_of(uint64_t h)
{
	return (uint32_t)(h >> 32);
}

/* Slots for `keys` keys: a power of two, at most 70% full. */
static inline int64_t cl__merge_slots_for(int64_t keys)
{
	int64_t n = 1024;
	while (n * 7 < keys * 10)
		n *= 2;
	return n;
}

/* Put row r (key hash h), whose key is not in the table yet. */
static inline void cl__merge_table_put(cl_merge *m, uint64_t h, int64_t r)
{
	int64_t s = (int64_t)(h & (uint64_t)(m->nslots - 1));
	while (m->tab[s].row1 != CL__MERGE_SLOT_EMPTY)
		s = (s + 1) & (m->nslots - 1);
	m->tab[s].tag = cl__merge_tag_of(h);
	m->tab[s].row1 = (uint32_t)r + 1;
}

/* merge.c: the store freed (its columns and per-row arrays). */
void cl__merge_free_store(cl_merge *m);
/* merge.c: key and sequence columns resolved against m->schema, the
 * store's columns created. */
int cl__merge_bind_schema(cl_merge *m, cl_error *err);
/* merge.c: a new empty table of n slots (the old one freed). */
int cl__merge_table_alloc(cl_merge *m, int64_t n, cl_error *err);

#endif /* CL_OPS_MERGE_IMPL_H */
