/*
 * merge.c — the last change per key, from change records in sequence order
 * (see changelake/merge.h for the contract).
 *
 * Design. Change records are appended to a column store (the table's data
 * columns, converted to the table's types, plus per-row arrays: op, file
 * key, row position), a batch at a time: columns whose type matches are
 * copied as ranges, the keys hashed for the whole batch, then the rows
 * probed in order against a hash table (8-byte slots: a 32-bit hash tag and
 * the row, at most 70% full, the next slots prefetched) that maps each key
 * to the store row of its winning change so far. Records arrive in (file,
 * row) order, so a new record for a key wins unless --sequence-by says it
 * is older; a record that does not win stays in the store as garbage.
 * cl__merge_reserve sizes the store and the table once when the caller
 * knows how many records come (the rows of Parquet files).
 *
 * Invariants:
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
 */
#include "changelake/merge.h"
#include "changelake/hash.h"
#include "core/value_text.h"

#include <string.h>
#include <sys/mman.h>

/* XXH3 inlined for the single-INT64-key loop (hash_rows): the same
 * function core/hash.c calls, so the same hashes as cl_hash_value. */
#define XXH_INLINE_ALL
#include <xxhash.h>

/* A hash-table slot: the high 32 bits of the key's hash (the low bits
 * pick the slot) and the row plus one, SLOT_EMPTY (0) for none: an empty
 * table is zeroed memory (cl_calloc; large ones come from the kernel
 * already zero, no 0xff fill). 8 bytes: the table is at most 70% full, so
 * a 10M-key load needs 16M slots, 128 MB. */
struct slot {
	uint32_t tag;
	uint32_t row1;
};
#define SLOT_EMPTY 0u
#define MAX_ROWS ((int64_t)UINT32_MAX - 1) /* row + 1 fits a slot */

struct cl_merge {
	char **keys;
	int nkeys;
	char *seq_by;
	bool ignore_null;
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
	struct slot *tab;
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

static int oom(cl_error *err)
{
	return cl_error_set(err, CL_ENOMEM, "out of memory");
}

void cl_merge_options_init(cl_merge_options *o)
{
	memset(o, 0, sizeof *o);
}

static void free_columns(cl_column *c, int n)
{
	if (!c)
		return;
	for (int i = 0; i < n; i++)
		cl_column_release(&c[i]);
	cl_free(c);
}

static void free_store(cl_merge *m)
{
	free_columns(m->cols, m->schema ? m->schema->nfields : 0);
	m->cols = NULL;
	m->cols_cap = 0;
	cl_free(m->ops);
	cl_free(m->seq_file);
	cl_free(m->seq_row);
	cl_free(m->prev);
	cl_free(m->base);
	cl_free(m->winner);
	m->ops = NULL;
	m->seq_file = m->seq_row = m->prev = NULL;
	m->base = m->winner = NULL;
	m->nrows = m->rows_cap = 0;
}

void cl_merge_free(cl_merge *m)
{
	if (!m)
		return;
	free_store(m);
	for (int i = 0; i < m->nkeys; i++)
		cl_free(m->keys[i]);
	cl_free(m->keys);
	cl_free(m->seq_by);
	cl_free(m->key_idx);
	cl_free(m->tab);
	cl_free(m->hbuf);
	free_columns(m->res, m->full ? m->full->nfields : 0);
	free_columns(m->patch, m->schema ? m->schema->nfields : 0);
	cl_free(m->res_ops);
	cl_free(m->res_base);
	cl_free(m->res_stale);
	cl_free(m->patch_row);
	cl_schema_free(m->schema);
	cl_schema_free(m->full);
	cl_free(m);
}

static bool is_hidden(const char *name)
{
	return strcmp(name, CL_MERGE_SEQ_FILE) == 0 || strcmp(name, CL_MERGE_SEQ_ROW) == 0;
}

/*
 * Fault in the pages of [p, p + n) now, in one call: a store or table
 * reserved at its final size is written in full anyway, and a page fault
 * per 4 KiB page as the appends reach it cost about 15% of a 10M-row
 * initial load's CPU. Only a hint: skipped below 1 MiB, where the kernel
 * lacks MADV_POPULATE_WRITE (Linux 5.14) or when it fails.
 */
static void prefault(void *p, size_t n)
{
#ifdef MADV_POPULATE_WRITE
	const uintptr_t pg = 4096;
	uintptr_t a = ((uintptr_t)p + pg - 1) & ~(pg - 1);
	uintptr_t e = ((uintptr_t)p + n) & ~(pg - 1);
	if (e > a && e - a >= ((uintptr_t)1 << 20))
		(void)madvise((void *)a, e - a, MADV_POPULATE_WRITE);
#else
	(void)p;
	(void)n;
#endif
}

/*
 * Room for exactly n more values (cl_column_reserve rounds the capacity up
 * to a power of two: for a store reserved at its final size that leaves up
 * to half of every fixed-width column allocated and zeroed for nothing).
 * New validity bits are set, as cl_column_reserve does; new values are
 * zeroed only for BOOL (appends set single bits there): every append of a
 * fixed-width value, NULL included, writes its whole width, so a store
 * reserved at its final size is not written twice.
 */
static int column_reserve_exact(cl_column *c, int64_t n, cl_error *err)
{
	int64_t need = c->length + n;
	if (n <= 0 || need <= c->cap)
		return 0;
	int w = cl_type_width(c->type);
	bool var = cl_type_is_var(c->type), bit = c->type.id == CL_BOOL;
	if (!var && !bit && w <= 0)
		return cl_column_reserve(c, n, err);
	if (var) {
		int64_t *o = cl_realloc(c->offsets, (size_t)(need + 1) * sizeof *o);
		if (!o)
			return oom(err);
		c->offsets = o;
		prefault(o + c->cap, (size_t)(need - c->cap) * sizeof *o);
	} else {
		size_t old = bit ? (size_t)(c->cap + 7) / 8 : (size_t)c->cap * (size_t)w;
		size_t nb = bit ? (size_t)(need + 7) / 8 : (size_t)need * (size_t)w;
		uint8_t *v = cl_realloc(c->values, nb);
		if (!v)
			return oom(err);
		if (bit)
			memset(v + old, 0, nb - old);
		else
			prefault(v + old, nb - old);
		c->values = v;
	}
	if (c->validity && (need + 7) / 8 > c->validity_cap) {
		size_t nb = (size_t)(need + 7) / 8;
		uint8_t *v = cl_realloc(c->validity, nb);
		if (!v)
			return oom(err);
		memset(v + c->validity_cap, 0xff, nb - (size_t)c->validity_cap);
		c->validity = v;
		c->validity_cap = (int64_t)nb;
	}
	c->cap = need;
	return 0;
}

/* Resolve key and sequence columns against the (now known) schema. */
static int bind_schema(cl_merge *m, cl_error *err)
{
	for (int i = 0; i < m->schema->nfields; i++)
		if (is_hidden(m->schema->fields[i].name))
			return cl_error_set(err, CL_ESCHEMA,
					    "column '%s' is reserved for changelake's "
					    "sequence tracking", m->schema->fields[i].name);
	for (int k = 0; k < m->nkeys; k++) {
		m->key_idx[k] = cl_schema_find(m->schema, m->keys[k]);
		if (m->key_idx[k] < 0)
			return cl_error_set(err, CL_ESCHEMA, "key column '%s' is not a "
					    "column of the table", m->keys[k]);
	}
	m->seq_idx = -1;
	if (m->seq_by && (m->seq_idx = cl_schema_find(m->schema, m->seq_by)) < 0)
		return cl_error_set(err, CL_ESCHEMA, "sequence column '%s' is not a "
				    "column of the table", m->seq_by);
	int n = m->schema->nfields;
	m->cols = cl_calloc((size_t)(n ? n : 1), sizeof *m->cols);
	if (!m->cols)
		return oom(err);
	m->cols_cap = n ? n : 1;
	for (int i = 0; i < n; i++) {
		int rc = cl_column_init(&m->cols[i], m->schema->fields[i].type, 0, err);
		rc = rc ? rc : column_reserve_exact(&m->cols[i], m->hint, err);
		if (rc)
			return rc;
	}
	return 0;
}

int cl_merge_create(cl_merge **out, const cl_schema *schema, const cl_merge_options *o,
		    cl_error *err)
{
	*out = NULL;
	cl_merge *m = cl_calloc(1, sizeof *m);
	if (!m)
		return oom(err);
	m->seq_idx = -1;
	m->ignore_null = o && o->ignore_null_updates;
	int rc;
	if (o && o->nkeys > 0) {
		m->keys = cl_calloc((size_t)o->nkeys, sizeof *m->keys);
		m->key_idx = cl_calloc((size_t)o->nkeys, sizeof *m->key_idx);
		if (!m->keys || !m->key_idx)
			goto nomem;
		for (int i = 0; i < o->nkeys; i++) {
			if (!(m->keys[i] = cl_strdup(o->keys[i])))
				goto nomem;
			m->nkeys++;
		}
	}
	if (o && o->sequence_by && !(m->seq_by = cl_strdup(o->sequence_by)))
		goto nomem;
	if (schema) {
		if ((rc = cl_schema_copy(&m->schema, schema, err)) || (rc = bind_schema(m, err))) {
			cl_merge_free(m);
			return rc;
		}
	}
	*out = m;
	return 0;
nomem:
	cl_merge_free(m);
	return oom(err);
}

const cl_schema *cl_merge_schema(const cl_merge *m)
{
	return m->schema;
}

const cl_merge_stats *cl_merge_get_stats(const cl_merge *m)
{
	return &m->stats;
}

const int *cl_merge_key_columns(const cl_merge *m, int *nkeys)
{
	*nkeys = m->nkeys;
	return m->key_idx;
}

/* ---- values ----------------------------------------------------------- */

/* Order of two non-NULL or NULL values of the same type (NULL first). */
static int value_cmp(const cl_column *a, int64_t i, const cl_column *b, int64_t j)
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

/* Append value `row` of src to dst, converting through text when the types
 * differ. */
static int append_cast(cl_column *dst, const cl_column *src, int64_t row, cl_error *err)
{
	if (cl_column_is_null(src, row))
		return cl_column_append_null(dst, err);
	if (cl_type_equal(dst->type, src->type))
		return cl_column_append_from(dst, src, row, err);
	char *text;
	size_t len;
	int rc = cl_value_text(src, row, &text, &len, err);
	if (rc)
		return rc;
	rc = cl__column_append_text(dst, text, len, err);
	cl_free(text);
	return rc;
}

/* Append n int64 values (no NULLs) to an INT64 column in one copy. */
static int append_i64s(cl_column *c, const int64_t *v, int64_t n, cl_error *err)
{
	if (n <= 0)
		return 0;
	int rc = cl_column_reserve(c, n, err);
	if (rc)
		return rc;
	memcpy(c->values + (size_t)c->length * 8, v, (size_t)n * 8);
	c->length += n;
	return 0;
}

/* The empty INT64 column c takes over the array *arr (n values, cap
 * allocated, from cl_malloc/cl_realloc: what a column's values buffer is)
 * instead of a copy; *arr becomes NULL. */
static void adopt_i64(cl_column *c, int64_t **arr, int64_t n, int64_t cap)
{
	if (!*arr)
		return;
	cl_free(c->values);
	c->values = (uint8_t *)*arr;
	c->cap = cap;
	c->length = n;
	*arr = NULL;
}

/* ---- the store and its hash table ------------------------------------- */

/* Probes prefetch the slot of the row this many ahead. */
#ifndef PREFETCH_AHEAD
#define PREFETCH_AHEAD 32
#endif

static uint64_t key_hash(const cl_column *cols, const int *idx, int n, int64_t row)
{
	uint64_t h = 0;
	for (int k = 0; k < n; k++)
		h = cl_hash_value(&cols[idx[k]], row, h);
	return h;
}

/* hs[i] = key_hash(cols, idx, n, r0 + i) for i < cnt. A single INT64 key
 * column without NULLs (an initial load's usual key) is hashed in one
 * inlined loop: cl_hash_value hashes an INT64 as XXH3 of its 8 bytes with
 * the seed (0 for the first key column), so the hashes are the same. */
static void hash_rows(const cl_column *cols, const int *idx, int n, int64_t r0, int64_t cnt,
		      uint64_t *hs)
{
	const cl_column *c = n == 1 ? &cols[idx[0]] : NULL;
	if (c && c->type.id == CL_INT64 && (!c->validity || c->null_count == 0)) {
		const int64_t *v = (const int64_t *)c->values + r0;
		for (int64_t i = 0; i < cnt; i++)
			hs[i] = XXH3_64bits_withSeed(&v[i], 8, 0);
		return;
	}
	for (int64_t i = 0; i < cnt; i++)
		hs[i] = key_hash(cols, idx, n, r0 + i);
}

static bool keys_equal(const cl_column *a, const int *ai, int64_t i, const cl_column *b,
		       const int *bi, int64_t j, int n)
{
	for (int k = 0; k < n; k++)
		if (value_cmp(&a[ai[k]], i, &b[bi[k]], j) != 0)
			return false;
	return true;
}

static inline uint32_t tag_of(uint64_t h)
{
	return (uint32_t)(h >> 32);
}

/* Slots for `keys` keys: a power of two, at most 70% full. */
static int64_t slots_for(int64_t keys)
{
	int64_t n = 1024;
	while (n * 7 < keys * 10)
		n *= 2;
	return n;
}

/* A new empty table of n slots (the old one freed). */
static int table_alloc(cl_merge *m, int64_t n, cl_error *err)
{
	cl_free(m->tab);
	m->nslots = 0;
	if (!(m->tab = cl_calloc((size_t)n, sizeof *m->tab)))
		return oom(err);
	prefault(m->tab, (size_t)n * sizeof *m->tab);
	m->nslots = n;
	return 0;
}

/* Put row r (key hash h), whose key is not in the table yet. */
static void table_put(cl_merge *m, uint64_t h, int64_t r)
{
	int64_t s = (int64_t)(h & (uint64_t)(m->nslots - 1));
	while (m->tab[s].row1 != SLOT_EMPTY)
		s = (s + 1) & (m->nslots - 1);
	m->tab[s].tag = tag_of(h);
	m->tab[s].row1 = (uint32_t)r + 1;
}

/* The table rebuilt for `keys` keys from the store's winners (the slots
 * keep no full hashes: they are recomputed, in store order). */
static int table_rebuild(cl_merge *m, int64_t keys, cl_error *err)
{
	int rc = table_alloc(m, slots_for(keys), err);
	for (int64_t r = 0; !rc && r < m->nrows; r++)
		if (m->winner[r])
			table_put(m, key_hash(m->cols, m->key_idx, m->nkeys, r), r);
	return rc;
}

/* Slot of the key of store row `row` (its hash h): the slot holding an
 * equal key, or the empty slot where it would go. */
static int64_t table_find(const cl_merge *m, uint64_t h, int64_t row)
{
	int64_t s = (int64_t)(h & (uint64_t)(m->nslots - 1));
	uint32_t tag = tag_of(h);
	while (m->tab[s].row1 != SLOT_EMPTY) {
		if (m->tab[s].tag == tag &&
		    keys_equal(m->cols, m->key_idx, m->tab[s].row1 - 1, m->cols, m->key_idx, row,
			       m->nkeys))
			return s;
		s = (s + 1) & (m->nslots - 1);
	}
	return s;
}

/* Room for n more store rows; exact: just that, else doubling. */
static int reserve_rows(cl_merge *m, int64_t n, bool exact, cl_error *err)
{
	if (m->nkeys && m->nrows + n > MAX_ROWS)
		return cl_error_set(err, CL_EUNSUPPORTED, "merge: more than %lld change "
				    "records held at once", (long long)MAX_ROWS);
	if (m->nrows + n <= m->rows_cap)
		return 0;
	int64_t cap = m->rows_cap ? m->rows_cap : 1024;
	if (exact)
		cap = m->nrows + n;
	while (cap < m->nrows + n)
		cap *= 2;
	char *ops = cl_realloc(m->ops, (size_t)cap);
	if (ops)
		m->ops = ops;
	int64_t *sf = cl_realloc(m->seq_file, (size_t)cap * 8);
	if (sf)
		m->seq_file = sf;
	int64_t *sr = cl_realloc(m->seq_row, (size_t)cap * 8);
	if (sr)
		m->seq_row = sr;
	/* update chains only with ignore_null */
	int64_t *pv = m->ignore_null ? cl_realloc(m->prev, (size_t)cap * 8) : NULL;
	if (pv)
		m->prev = pv;
	uint8_t *b = m->ignore_null ? cl_realloc(m->base, (size_t)cap) : NULL;
	if (b)
		m->base = b;
	uint8_t *w = cl_realloc(m->winner, (size_t)cap);
	if (w)
		m->winner = w;
	if (!ops || !sf || !sr || (m->ignore_null && (!pv || !b)) || !w)
		return oom(err);
	if (exact) {
		size_t old = (size_t)m->rows_cap, k = (size_t)(cap - m->rows_cap);
		prefault(m->ops + old, k);
		prefault(m->seq_file + old, k * 8);
		prefault(m->seq_row + old, k * 8);
		prefault(m->winner + old, k);
	}
	m->rows_cap = cap;
	return 0;
}

/* Keep only the winning rows (only without ignore_null: chains need the
 * losers). Rebuilds the hash table. */
static int compact(cl_merge *m, cl_error *err)
{
	int n = m->schema->nfields, rc = 0;
	cl_column *nc = cl_calloc((size_t)(n ? n : 1), sizeof *nc);
	if (!nc)
		return oom(err);
	for (int c = 0; c < n && !rc; c++) {
		if ((rc = cl_column_init(&nc[c], m->cols[c].type, m->nwinners, err)))
			break;
		for (int64_t r = 0; r < m->nrows && !rc; r++) {
			if (!m->winner[r])
				continue;
			int64_t e = r + 1;
			while (e < m->nrows && m->winner[e])
				e++;
			rc = cl_column_append_range(&nc[c], &m->cols[c], r, e - r, err);
			r = e;
		}
	}
	if (rc) {
		free_columns(nc, n);
		return rc;
	}
	int64_t k = 0;
	for (int64_t r = 0; r < m->nrows; r++) {
		if (!m->winner[r])
			continue;
		m->ops[k] = m->ops[r];
		m->seq_file[k] = m->seq_file[r];
		m->seq_row[k] = m->seq_row[r];
		m->winner[k] = 1;
		k++;
	}
	free_columns(m->cols, n);
	m->cols = nc;
	m->cols_cap = n ? n : 1;
	m->nrows = k;
	return table_rebuild(m, k, err);
}

/*
 * Room in var-width store column dst for the bytes of src's n rows. While
 * records that cl__merge_reserve announced are still to come (an initial
 * load), the data buffer is sized for them too, at the store's bytes per
 * row so far plus 1/16, and its new pages faulted in at once (prefault),
 * instead of doubling as the appends go and faulting a page at a time.
 */
static int reserve_var_data(cl_merge *m, cl_column *dst, const cl_column *src, int64_t n,
			    cl_error *err)
{
	int64_t used = dst->offsets ? dst->offsets[dst->length] : 0;
	int64_t add = n > 0 ? src->offsets[n] - src->offsets[0] : 0;
	int64_t need = used + add, rows = dst->length + n;
	if (need <= dst->data_cap)
		return 0;
	int64_t to_come = m->reserve_end - m->stats.rows; /* after this batch */
	if (to_come <= 0 || rows <= 0 || need > ((int64_t)1 << 36))
		return cl_column_reserve_data(dst, add, err);
	int64_t cap = need + (int64_t)((double)need / (double)rows * (double)to_come * 1.0625);
	if (cap < need + need / 16)
		cap = need + need / 16;
	uint8_t *d = cl_realloc(dst->data, (size_t)cap);
	if (!d)
		return oom(err);
	prefault(d + dst->data_cap, (size_t)(cap - dst->data_cap));
	dst->data = d;
	dst->data_cap = cap;
	return 0;
}

/* Add a column that appeared in a batch; earlier rows read NULL. */
static int add_column(cl_merge *m, const cl_field *f, cl_error *err)
{
	int rc = cl_schema_add(m->schema, f->name, f->type, true, err);
	if (rc)
		return rc;
	int n = m->schema->nfields;
	if (n > m->cols_cap) {
		int cap = m->cols_cap * 2 > n ? m->cols_cap * 2 : n;
		cl_column *c = cl_realloc(m->cols, sizeof *c * (size_t)cap);
		if (!c)
			return oom(err);
		m->cols = c;
		m->cols_cap = cap;
	}
	cl_column *c = &m->cols[n - 1];
	if ((rc = cl_column_init(c, f->type, m->nrows, err)))
		return rc;
	for (int64_t r = 0; r < m->nrows; r++)
		if ((rc = cl_column_append_null(c, err)))
			return rc;
	return 0;
}

/* Does the change at store row `b` supersede the winner at row `a`? Rows
 * arrive in (file, row) order, so only the class and the sequence column
 * can make the later one older. */
static bool supersedes(const cl_merge *m, int64_t a, int64_t b)
{
	bool ca = m->seq_file[a] >= 0, cb = m->seq_file[b] >= 0;
	if (ca != cb)
		return cb;
	if (m->seq_idx >= 0)
		return value_cmp(&m->cols[m->seq_idx], b, &m->cols[m->seq_idx], a) >= 0;
	return true;
}

int cl_merge_add(cl_merge *m, const cl_change_batch *cb, cl_error *err)
{
	int rc;
	if (m->finished)
		return cl_error_set(err, CL_EINVAL, "merge: add after finish");
	const cl_schema *fs = cb->schema;
	const cl_batch *b = cb->batch;
	const char *file = cb->file ? cb->file : "(changes)";
	if (fs->nfields != b->ncols)
		return cl_error_set(err, CL_EINTERNAL, "merge: batch and schema differ");
	if (!m->schema) {
		if ((rc = cl_schema_create(&m->schema, err)))
			return rc;
		for (int i = 0; i < fs->nfields; i++)
			if ((rc = cl_schema_add(m->schema, fs->fields[i].name, fs->fields[i].type,
						true, err)))
				return cl_error_prefix(err, "%s: ", file);
		if ((rc = bind_schema(m, err)))
			return cl_error_prefix(err, "%s: ", file);
	}
	/* Map the batch's columns onto the table's, adding new ones. */
	int ncols = fs->nfields;
	int *src = cl_malloc(sizeof *src * (size_t)(m->schema->nfields + ncols + 1));
	if (!src)
		return oom(err);
	for (int i = 0; i < ncols; i++) {
		const cl_field *f = &fs->fields[i];
		if (is_hidden(f->name)) {
			rc = cl_error_set(err, CL_ESCHEMA, "%s: column '%s' is reserved for "
					  "changelake's sequence tracking", file, f->name);
			goto done;
		}
		if (cl_schema_find(m->schema, f->name) < 0 && (rc = add_column(m, f, err))) {
			cl_error_prefix(err, "%s: ", file);
			goto done;
		}
	}
	for (int c = 0; c < m->schema->nfields; c++)
		src[c] = cl_schema_find(fs, m->schema->fields[c].name);
	for (int k = 0; k < m->nkeys; k++)
		if (src[m->key_idx[k]] < 0) {
			rc = cl_error_set(err, CL_ESCHEMA, "%s: key column '%s' is missing", file,
					  m->keys[k]);
			goto done;
		}
	if (m->seq_idx >= 0 && src[m->seq_idx] < 0) {
		rc = cl_error_set(err, CL_ESCHEMA, "%s: sequence column '%s' is missing", file,
				  m->seq_by);
		goto done;
	}
	if (!m->last_file || m->last_file_key != cb->file_key || strcmp(m->last_file, file)) {
		m->stats.files++;
		m->last_file = file;
		m->last_file_key = cb->file_key;
	}
	/* ops first: stats, and a bad op fails before anything is stored
	 * (counted in locals without branches: the loop vectorises) */
	int64_t ni = 0, nu = 0, nd = 0, nkeep;
	for (int64_t i = 0; i < b->nrows; i++) {
		char op = cb->ops[i];
		ni += op == 'I';
		nu += op == 'U';
		nd += op == 'D';
	}
	if (ni + nu + nd != b->nrows) {
		int64_t i = 0;
		while (cb->ops[i] == 'I' || cb->ops[i] == 'U' || cb->ops[i] == 'D')
			i++;
		rc = cl_error_set(err, CL_EINVAL, "%s: row %lld: op '%c' is not I, U or D",
				  file, (long long)(cb->first_row + i) + 1, cb->ops[i]);
		goto done;
	}
	m->stats.inserts += ni;
	m->stats.updates += nu;
	m->stats.deletes += nd;
	m->stats.rows += b->nrows;
	if (m->nkeys == 0) {
		m->stats.ignored += nu + nd;
		nkeep = ni;
	} else {
		nkeep = b->nrows;
	}
	if ((rc = reserve_rows(m, nkeep, false, err)))
		goto done;
	/* the batch's kept rows appended column by column: runs of rows in
	 * bulk when the types match (append-only tables skip 'U'/'D' rows) */
	int64_t r0 = m->nrows;
	for (int c = 0; c < m->schema->nfields; c++) {
		cl_column *dst = &m->cols[c];
		const cl_column *sc = src[c] >= 0 ? &b->cols[src[c]] : NULL;
		bool bulk = sc && cl_type_equal(dst->type, sc->type);
		if ((rc = cl_column_reserve(dst, nkeep, err)))
			goto done;
		if (bulk && m->nkeys && cl_type_is_var(dst->type) &&
		    (rc = reserve_var_data(m, dst, sc, b->nrows, err)))
			goto done;
		for (int64_t i = 0; i < b->nrows;) {
			if (m->nkeys == 0 && cb->ops[i] != 'I') {
				i++;
				continue;
			}
			int64_t e = i + 1;
			if (m->nkeys == 0)
				while (e < b->nrows && cb->ops[e] == 'I')
					e++;
			else
				e = b->nrows;
			if (bulk) {
				rc = cl_column_append_range(dst, sc, i, e - i, err);
			} else {
				for (; !rc && i < e; i++)
					rc = sc ? append_cast(dst, sc, i, err)
						: cl_column_append_null(dst, err);
				if (rc)
					i--;
			}
			if (rc) {
				cl_error_prefix(err, "%s: row %lld, column '%s': ", file,
						(long long)(cb->first_row + i) + 1,
						m->schema->fields[c].name);
				goto done;
			}
			i = e;
		}
	}
	if (m->nkeys && b->nrows > 0) {
		/* every row kept: the per-row arrays filled array by array */
		int64_t n = b->nrows;
		memcpy(m->ops + r0, cb->ops, (size_t)n);
		memset(m->winner + r0, 0, (size_t)n); /* set below when a row wins */
		for (int64_t i = 0; i < n; i++) {
			m->seq_file[r0 + i] = cb->file_key;
			m->seq_row[r0 + i] = cb->first_row + i;
		}
		if (m->ignore_null) {
			memset(m->base + r0, 0, (size_t)n);
			for (int64_t i = 0; i < n; i++)
				m->prev[r0 + i] = -1;
		}
		const cl_column *sq = m->seq_idx >= 0 ? &m->cols[m->seq_idx] : NULL;
		for (int64_t i = 0; sq && sq->validity && i < n; i++)
			if (cl_column_is_null(sq, r0 + i)) {
				rc = cl_error_set(err, CL_EFORMAT, "%s: row %lld: sequence "
						  "column '%s' is NULL", file,
						  (long long)(cb->first_row + i) + 1, m->seq_by);
				goto done;
			}
	}
	for (int64_t i = 0, r = r0; m->nkeys == 0 && i < b->nrows; i++) {
		if (cb->ops[i] != 'I')
			continue;
		m->ops[r] = cb->ops[i];
		m->seq_file[r] = cb->file_key;
		m->seq_row[r] = cb->first_row + i;
		if (m->ignore_null) {
			m->prev[r] = -1;
			m->base[r] = 0;
		}
		m->winner[r] = m->nkeys == 0; /* set below when the row wins */
		if (m->seq_idx >= 0 && cl_column_is_null(&m->cols[m->seq_idx], r)) {
			rc = cl_error_set(err, CL_EFORMAT, "%s: row %lld: sequence column '%s' "
					  "is NULL", file, (long long)(cb->first_row + i) + 1,
					  m->seq_by);
			goto done;
		}
		r++;
	}
	m->nrows += nkeep;
	if (m->nkeys == 0) {
		m->nwinners += nkeep;
		goto done;
	}
	if (slots_for(m->nused + nkeep) > m->nslots &&
	    (rc = table_rebuild(m, m->nused + nkeep, err)))
		goto done;
	if (nkeep > m->hbuf_cap) {
		cl_free(m->hbuf);
		m->hbuf_cap = 0;
		if (!(m->hbuf = cl_malloc((size_t)nkeep * sizeof *m->hbuf))) {
			rc = oom(err);
			goto done;
		}
		m->hbuf_cap = nkeep;
	}
	uint64_t *hs = m->hbuf;
	hash_rows(m->cols, m->key_idx, m->nkeys, r0, nkeep, hs);
	/* probe in row order (a later change supersedes an earlier one of the
	 * batch), the slot of a row a few ahead prefetched */
	const uint64_t mask = (uint64_t)(m->nslots - 1);
	for (int64_t i = 0; i < nkeep; i++) {
		if (i + PREFETCH_AHEAD < nkeep)
			__builtin_prefetch(&m->tab[hs[i + PREFETCH_AHEAD] & mask]);
		int64_t r = r0 + i;
		uint64_t h = hs[i];
		int64_t s = table_find(m, h, r);
		int64_t old = (int64_t)m->tab[s].row1 - 1; /* -1: a new key */
		if (old >= 0 && !supersedes(m, old, r))
			continue; /* an older change by the sequence column: garbage */
		char op = m->ops[r];
		if (old >= 0) {
			m->winner[old] = 0;
			if (m->ignore_null && op == 'U' && m->ops[old] != 'D') {
				m->prev[r] = old;
				m->base[r] = m->base[old];
			}
		} else {
			m->nused++;
			m->nwinners++;
			if (m->ignore_null)
				m->base[r] = op == 'U';
		}
		m->tab[s].row1 = (uint32_t)r + 1;
		m->tab[s].tag = tag_of(h);
		m->winner[r] = 1;
	}
	if (!m->ignore_null && m->nrows > 65536 && m->nrows > 2 * m->nwinners)
		rc = compact(m, err);
done:
	cl_free(src);
	return rc;
}

/* ---- finish, resolve, result ------------------------------------------ */

/* Result row j's value of data column c came from store row: the winner,
 * or for a NULL in an update chain, the nearest earlier non-NULL. */
static int64_t chain_source(const cl_merge *m, int64_t r, int c)
{
	if (!m->ignore_null || m->ops[r] != 'U')
		return r;
	for (int64_t p = r; p >= 0; p = m->prev[p]) {
		if (!cl_column_is_null(&m->cols[c], p))
			return p;
		if (m->ops[p] != 'U')
			break;
	}
	return r;
}

int cl_merge_finish(cl_merge *m, cl_error *err)
{
	int rc;
	if (m->finished)
		return 0;
	m->finished = true;
	if (!m->schema) {
		/* Nothing was read and no schema is known: an empty result. */
		if ((rc = cl_schema_create(&m->schema, err)) || (rc = bind_schema(m, err)))
			return rc;
	}
	if ((rc = cl_schema_copy(&m->full, m->schema, err)) ||
	    (rc = cl_schema_add(m->full, CL_MERGE_SEQ_FILE, cl_type_make(CL_INT64), true, err)) ||
	    (rc = cl_schema_add(m->full, CL_MERGE_SEQ_ROW, cl_type_make(CL_INT64), true, err)))
		return rc;
	int nd = m->schema->nfields, nf = m->full->nfields;
	int64_t nw = m->nwinners;
	/* the key hash table is rebuilt over the result rows only when
	 * resolve needs it (an initial load never does) */
	cl_free(m->tab);
	cl_free(m->hbuf);
	m->tab = NULL;
	m->hbuf = NULL;
	m->hbuf_cap = m->nslots = m->nused = 0;
	/* every stored row a winner without chains (an initial load): the
	 * store's columns become the result as they are */
	bool all = !m->ignore_null && nw == m->nrows;
	m->res = cl_calloc((size_t)nf, sizeof *m->res);
	m->res_ops = cl_malloc((size_t)(nw ? nw : 1));
	m->res_base = cl_calloc((size_t)(nw ? nw : 1), 1);
	m->res_stale = cl_calloc((size_t)(nw ? nw : 1), 1);
	if (m->ignore_null)
		m->patch_row = cl_malloc((size_t)(nw ? nw : 1) * sizeof *m->patch_row);
	m->patch = cl_calloc((size_t)(nd ? nd : 1), sizeof *m->patch);
	if (!m->res || !m->res_ops || !m->res_base || !m->res_stale ||
	    (m->ignore_null && !m->patch_row) ||
	    !m->patch)
		return oom(err);
	for (int c = 0; c < nf; c++)
		if ((rc = cl_column_init(&m->res[c], m->full->fields[c].type, all ? 0 : nw,
					 err)))
			return rc;
	for (int c = 0; c < nd; c++)
		if ((rc = cl_column_init(&m->patch[c], m->schema->fields[c].type, 0, err)))
			return rc;
	for (int64_t j = 0; m->patch_row && j < nw; j++)
		m->patch_row[j] = -1;
	int64_t j = 0;
	if (all) {
		for (int c = 0; c < nd; c++)
			if ((rc = cl_column_move(&m->res[c], &m->cols[c], err)))
				return rc;
		adopt_i64(&m->res[nd], &m->seq_file, nw, m->rows_cap);
		adopt_i64(&m->res[nd + 1], &m->seq_row, nw, m->rows_cap);
		if (nw > 0)
			memcpy(m->res_ops, m->ops, (size_t)nw);
		j = nw;
	}
	for (int64_t r = 0; !all && r < m->nrows; r++) {
		if (!m->winner[r])
			continue;
		if (!m->ignore_null) {
			/* a run of winners: their values in bulk (no update chains) */
			int64_t e = r + 1;
			while (e < m->nrows && m->winner[e])
				e++;
			for (int c = 0; c < nd; c++)
				if ((rc = cl_column_append_range(&m->res[c], &m->cols[c], r, e - r,
								 err)))
					return rc;
			if ((rc = append_i64s(&m->res[nd], m->seq_file + r, e - r, err)) ||
			    (rc = append_i64s(&m->res[nd + 1], m->seq_row + r, e - r, err)))
				return rc;
			memcpy(m->res_ops + j, m->ops + r, (size_t)(e - r));
			j += e - r;
			r = e - 1;
			continue;
		}
		for (int c = 0; c < nd; c++)
			if ((rc = cl_column_append_from(&m->res[c], &m->cols[c],
							chain_source(m, r, c), err)))
				return rc;
		if ((rc = cl_column_append_i64(&m->res[nd], m->seq_file[r], err)) ||
		    (rc = cl_column_append_i64(&m->res[nd + 1], m->seq_row[r], err)))
			return rc;
		m->res_ops[j] = m->ops[r];
		m->res_base[j] = m->ops[r] == 'U' && m->base[r];
		j++;
	}
	m->nres = j;
	m->stats.keys = m->nkeys ? j : 0;
	free_store(m);
	return 0;
}

/* The hash table over the result rows, for resolve (built at its first
 * call). */
static int build_result_table(cl_merge *m, cl_error *err)
{
	int rc = table_alloc(m, slots_for(m->nres), err);
	for (int64_t r = 0; !rc && r < m->nres; r++)
		table_put(m, key_hash(m->res, m->key_idx, m->nkeys, r), r);
	m->nused = m->nres;
	return rc;
}

int cl_merge_resolve(cl_merge *m, const cl_schema *schema, const cl_batch *rows,
		     cl_error *err)
{
	if (!m->finished)
		return cl_error_set(err, CL_EINVAL, "merge: resolve before finish");
	if (m->nkeys == 0 || m->nres == 0 || rows->nrows == 0)
		return 0;
	int nd = m->schema->nfields, rc;
	if (!m->tab && (rc = build_result_table(m, err)))
		return rc;
	int kidx[64];
	if (m->nkeys > 64)
		return cl_error_set(err, CL_EUNSUPPORTED, "more than 64 key columns");
	for (int k = 0; k < m->nkeys; k++) {
		kidx[k] = cl_schema_find(schema, m->keys[k]);
		if (kidx[k] < 0)
			return cl_error_set(err, CL_ESCHEMA, "the table has no key column '%s'",
					    m->keys[k]);
		if (!cl_type_equal(schema->fields[kidx[k]].type, m->res[m->key_idx[k]].type))
			return cl_error_set(err, CL_ESCHEMA, "key column '%s' has another type "
					    "in the table", m->keys[k]);
	}
	int sf = cl_schema_find(schema, CL_MERGE_SEQ_FILE);
	int sr = cl_schema_find(schema, CL_MERGE_SEQ_ROW);
	if (sf >= 0 && (schema->fields[sf].type.id != CL_INT64 || sr < 0 ||
			schema->fields[sr].type.id != CL_INT64))
		sf = -1;
	int sq = m->seq_idx >= 0 ? cl_schema_find(schema, m->seq_by) : -1;
	if (sq >= 0 && !cl_type_equal(schema->fields[sq].type, m->res[m->seq_idx].type))
		return cl_error_set(err, CL_ESCHEMA, "sequence column '%s' has another type "
				    "in the table", m->seq_by);
	int *map = NULL;
	if (m->ignore_null) {
		map = cl_malloc(sizeof *map * (size_t)(nd ? nd : 1));
		if (!map)
			return oom(err);
		for (int c = 0; c < nd; c++) {
			map[c] = cl_schema_find(schema, m->schema->fields[c].name);
			if (map[c] >= 0 && !cl_type_equal(schema->fields[map[c]].type,
							  m->schema->fields[c].type))
				map[c] = -1;
		}
	}
	for (int64_t e = 0; e < rows->nrows; e++) {
		uint64_t h = key_hash(rows->cols, kidx, m->nkeys, e);
		int64_t s = (int64_t)(h & (uint64_t)(m->nslots - 1)), j = -1;
		uint32_t tag = tag_of(h);
		for (; m->tab[s].row1 != SLOT_EMPTY; s = (s + 1) & (m->nslots - 1))
			if (m->tab[s].tag == tag &&
			    keys_equal(m->res, m->key_idx, m->tab[s].row1 - 1, rows->cols, kidx,
				       e, m->nkeys)) {
				j = (int64_t)m->tab[s].row1 - 1;
				break;
			}
		if (j < 0 || m->res_stale[j])
			continue;
		/* Sequence of the table's row against the change's. */
		int cmp;
		bool known = sf >= 0 && !cl_column_is_null(&rows->cols[sf], e) &&
			     !cl_column_is_null(&rows->cols[sr], e);
		if (!known) {
			cmp = -1;
		} else {
			int64_t ef = cl_column_get_i64(&rows->cols[sf], e);
			int64_t er = cl_column_get_i64(&rows->cols[sr], e);
			int64_t cf = cl_column_get_i64(&m->res[nd], j);
			int64_t cr = cl_column_get_i64(&m->res[nd + 1], j);
			bool ec = ef >= 0, cc = cf >= 0;
			if (ec != cc)
				cmp = ec ? 1 : -1;
			else if (sq >= 0 &&
				 (cmp = value_cmp(&rows->cols[sq], e, &m->res[m->seq_idx], j)) != 0)
				;
			else
				cmp = ef < cf ? -1 : ef > cf ? 1 : er < cr ? -1 : er > cr;
		}
		if (cmp >= 0) {
			m->res_stale[j] = 1;
			m->stats.stale++;
			continue;
		}
		if (!m->res_base[j] || m->patch_row[j] >= 0)
			continue;
		/* Keep the row's values where the update has NULLs. */
		for (int c = 0; c < nd; c++) {
			if (map[c] >= 0)
				rc = cl_column_append_from(&m->patch[c], &rows->cols[map[c]], e, err);
			else
				rc = cl_column_append_null(&m->patch[c], err);
			if (rc) {
				cl_free(map);
				return rc;
			}
		}
		m->patch_row[j] = m->npatch++;
	}
	cl_free(map);
	return 0;
}

/* Does result row j take values from the table's row (a patch)? */
static inline bool patched(const cl_merge *m, int64_t j)
{
	return m->patch_row && m->patch_row[j] >= 0;
}

int cl_merge_result(cl_merge *m, const cl_schema **schema, cl_batch **upserts,
		    cl_batch **deletes, cl_error *err)
{
	*upserts = *deletes = NULL;
	int rc;
	if ((rc = cl_merge_finish(m, err)))
		return rc;
	*schema = m->full;
	cl_batch *u = NULL, *d = NULL;
	if ((rc = cl_batch_create(&u, m->full, 0, err)) ||
	    (rc = cl_batch_create(&d, m->full, 0, err)))
		goto fail;
	int nd = m->schema->nfields, nf = m->full->nfields;
	m->stats.upserts_out = m->stats.deletes_out = 0;
	for (int64_t j = 0; j < m->nres; j++) {
		if (m->res_stale[j])
			continue;
		cl_batch *t = m->res_ops[j] == 'D' ? d : u;
		if (!patched(m, j)) {
			/* a run of rows to the same batch without patched values */
			int64_t e = j + 1;
			while (e < m->nres && !m->res_stale[e] && !patched(m, e) &&
			       (m->res_ops[e] == 'D') == (t == d))
				e++;
			for (int c = 0; c < nf; c++)
				if ((rc = cl_column_append_range(&t->cols[c], &m->res[c], j, e - j,
								 err)))
					goto fail;
			t->nrows += e - j;
			if (t == d)
				m->stats.deletes_out += e - j;
			else
				m->stats.upserts_out += e - j;
			j = e - 1;
			continue;
		}
		for (int c = 0; c < nf; c++) {
			const cl_column *from = &m->res[c];
			int64_t row = j;
			if (c < nd && patched(m, j) && cl_column_is_null(from, j)) {
				from = &m->patch[c];
				row = m->patch_row[j];
			}
			if ((rc = cl_column_append_from(&t->cols[c], from, row, err)))
				goto fail;
		}
		t->nrows++;
		if (t == d)
			m->stats.deletes_out++;
		else
			m->stats.upserts_out++;
	}
	*upserts = u;
	*deletes = d;
	return 0;
fail:
	cl_batch_free(u);
	cl_batch_free(d);
	return rc;
}

/*
 * Room for `rows` more change records (internal: dms_merge.c reserves the
 * rows of the Parquet files it is about to read, so the store, its row
 * arrays and the hash table are allocated once at their final size instead
 * of doubling — at 10M rows doubling leaves 6.7M values of every fixed-width
 * column allocated and zeroed for nothing).
 */
int cl__merge_reserve(cl_merge *m, int64_t rows, cl_error *err);
int cl__merge_reserve(cl_merge *m, int64_t rows, cl_error *err)
{
	if (m->finished || rows <= 0)
		return 0;
	int rc = reserve_rows(m, rows, true, err);
	m->reserve_end = m->stats.rows + rows;
	if (!m->cols)
		m->hint = rows;
	for (int c = 0; !rc && m->cols && c < m->schema->nfields; c++)
		rc = column_reserve_exact(&m->cols[c], rows, err);
	if (!rc && m->nkeys && slots_for(m->nused + rows) > m->nslots)
		rc = table_rebuild(m, m->nused + rows, err);
	return rc;
}

/*
 * cl_merge_result for the merge's last use (internal: dms_merge.c's
 * commit): when no result row has patched values, the result's columns
 * are handed over (cl_column_move) as the upserts instead of copied —
 * deletes and stale rows squeezed out in place, the deletes copied — and
 * the merge keeps no result rows (a later cl_merge_result or
 * cl_merge_resolve sees none); otherwise the same as cl_merge_result. Same
 * rows in the same order as cl_merge_result.
 */
int cl__merge_take_result(cl_merge *m, const cl_schema **schema, cl_batch **upserts,
			  cl_batch **deletes, cl_error *err);
/*
 * Keep the rows r < n of c with keep[r] set, in order, in place (runs
 * moved with memmove). What lies past the new length reads as a fresh
 * reserve leaves it: values zero, validity bits set.
 */
static void column_keep(cl_column *c, const uint8_t *keep, int64_t n)
{
	int w = cl_type_width(c->type);
	bool var = cl_type_is_var(c->type), bit = c->type.id == CL_BOOL;
	int64_t k = 0, nulls = 0, dpos = 0;
	for (int64_t r = 0; r < n;) {
		if (!keep[r]) {
			r++;
			continue;
		}
		int64_t e = r + 1;
		while (e < n && keep[e])
			e++;
		if (var) {
			int64_t b0 = c->offsets[r], b1 = c->offsets[e];
			if (b1 > b0)
				memmove(c->data + dpos, c->data + b0, (size_t)(b1 - b0));
			/* k <= r: each offset is read before its cell is written */
			for (int64_t i = 0; i < e - r; i++)
				c->offsets[k + i] = dpos + (c->offsets[r + i] - b0);
			dpos += b1 - b0;
		} else if (bit) {
			for (int64_t i = 0; i < e - r; i++)
				cl_bit_set(c->values, k + i, cl_bit_get(c->values, r + i));
		} else if (c->values && w > 0 && k < r) {
			memmove(c->values + (size_t)k * (size_t)w, c->values + (size_t)r * (size_t)w,
				(size_t)(e - r) * (size_t)w);
		}
		for (int64_t i = 0; c->validity && i < e - r; i++) {
			bool v = cl_bit_get(c->validity, r + i);
			cl_bit_set(c->validity, k + i, v);
			nulls += !v;
		}
		k += e - r;
		r = e;
	}
	if (var)
		c->offsets[k] = dpos;
	else if (bit)
		for (int64_t i = k; i < n; i++)
			cl_bit_set(c->values, i, false);
	else if (c->values && w > 0 && n > k)
		memset(c->values + (size_t)k * (size_t)w, 0, (size_t)(n - k) * (size_t)w);
	for (int64_t i = k; c->validity && i < n; i++)
		cl_bit_set(c->validity, i, true);
	c->length = k;
	c->null_count = c->validity ? nulls : 0;
}

int cl__merge_take_result(cl_merge *m, const cl_schema **schema, cl_batch **upserts,
			  cl_batch **deletes, cl_error *err)
{
	*upserts = *deletes = NULL;
	int rc;
	if ((rc = cl_merge_finish(m, err)))
		return rc;
	int64_t ndel = 0, ndrop = 0;
	for (int64_t j = 0; j < m->nres; j++) {
		if (patched(m, j))
			return cl_merge_result(m, schema, upserts, deletes, err);
		ndel += !m->res_stale[j] && m->res_ops[j] == 'D';
		ndrop += m->res_stale[j] || m->res_ops[j] == 'D';
	}
	*schema = m->full;
	int nf = m->full->nfields;
	cl_batch *u = NULL, *d = NULL;
	uint8_t *keep = NULL;
	if ((rc = cl_batch_create(&u, m->full, 0, err)) ||
	    (rc = cl_batch_create(&d, m->full, ndel, err)))
		goto fail;
	/* the deletes (few) are copied out first, in runs */
	for (int64_t j = 0; ndel && j < m->nres; j++) {
		if (m->res_stale[j] || m->res_ops[j] != 'D')
			continue;
		int64_t e = j + 1;
		while (e < m->nres && !m->res_stale[e] && m->res_ops[e] == 'D')
			e++;
		for (int c = 0; c < nf; c++)
			if ((rc = cl_column_append_range(&d->cols[c], &m->res[c], j, e - j, err)))
				goto fail;
		d->nrows += e - j;
		j = e - 1;
	}
	if (ndrop && !(keep = cl_malloc((size_t)m->nres))) {
		rc = oom(err);
		goto fail;
	}
	for (int64_t j = 0; keep && j < m->nres; j++)
		keep[j] = !m->res_stale[j] && m->res_ops[j] != 'D';
	/* the upserts: the result's columns themselves, stale rows and deletes
	 * squeezed out in place */
	for (int c = 0; c < nf; c++) {
		if ((rc = cl_column_move(&u->cols[c], &m->res[c], err))) {
			m->nres = 0; /* columns moved already: the result is gone */
			goto fail;
		}
		if (keep)
			column_keep(&u->cols[c], keep, m->nres);
	}
	u->nrows = m->nres - ndrop;
	cl_free(keep);
	keep = NULL;
	m->stats.upserts_out = u->nrows;
	m->stats.deletes_out = ndel;
	m->nres = 0;
	/* the per-row result arrays describe no rows any more */
	cl_free(m->res_ops);
	cl_free(m->res_base);
	cl_free(m->res_stale);
	cl_free(m->patch_row);
	m->res_ops = NULL;
	m->res_base = m->res_stale = NULL;
	m->patch_row = NULL;
	*upserts = u;
	*deletes = d;
	return 0;
fail:
	cl_free(keep);
	cl_batch_free(u);
	cl_batch_free(d);
	return rc;
}
