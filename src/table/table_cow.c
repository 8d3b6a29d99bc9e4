/*
 * table_cow.c — the copy-on-write primitive: upserts and deletes by key,
 * rewriting only the data files that hold a changed key.
 *
 * Steps:
 *   1. every changed key is converted to the table's key types, hashed to
 *      its bucket (the same hash the writer routes rows by) and put in a
 *      typed hash set (hash, batch, row -> upsert/delete; see keyset);
 *   2. candidates: live files in a changed key's bucket whose key
 *      statistics range (single-column keys) may contain one of the keys
 *      of that bucket. All partitions are searched, because an upsert may
 *      move a key to another partition and a delete names no partition;
 *   3. each candidate is read batch by batch; one that holds a changed key
 *      is removed and its other rows go to the writer as they are read
 *      (they land in the same partition and bucket; rows before its first
 *      changed key are held until that is found; a bucket's own writer
 *      takes a batch's surviving rows as runs of the scanned batch, with
 *      no copy, when they come in long runs); one that holds none is
 *      left alone;
 *      On a table with deletion vectors (merge-on-read, dv_write.c) a
 *      candidate is read for its key columns only and the positions of
 *      its live rows holding a changed key are marked deleted in a new
 *      vector (one vector file per commit), without rewriting the file;
 *   4. the upserted rows go to the writer; the writer's files are added.
 *      On a bucketed table without partition columns each bucket is a
 *      job done through a writer of its own: its candidate files, then
 *      its upserts, then its new file finished and the writer freed. The
 *      jobs run on cl_table_txn_threads(x) threads (cow_par), each taking
 *      the next bucket: memory is one bucket's file and buffers per
 *      thread. Each job records its file actions in a fork of the
 *      transaction; the forks are joined in bucket order, so the
 *      commit's actions do not depend on the thread count. A column that fell back from
 *      dictionary to PLAIN encoding in one bucket's file starts PLAIN in
 *      the next file of the same thread, as from one row group to the next
 *      of a file (the files are alike: rows spread by hash); which files
 *      start PLAIN may thus differ with the thread count, their rows not.
 *      Merge-on-read (its marks are one list) and tables with partition
 *      columns (the shared general writer) stay on one thread.
 * The scopes (folder + bucket) of the candidates and of the upserts are
 * recorded as read, so a concurrent commit adding rows there conflicts.
 * The change-set API on top of it (cl_table_changes_*) is table_changes.c;
 * a bucket's files are written by table_cow_write.c.
 */
#include "delta.h"
#include "table_data.h"
#include "changelake/hash.h"
#include "core/value_text.h"

#include <pthread.h>
#include <string.h>
#define XXH_INLINE_ALL /* XXH3 inlined into hash_keys (the same hashes) */
#include <xxhash.h>

static int oom(cl_error *err)
{
	return cl_error_set(err, CL_ENOMEM, "out of memory");
}

enum { K_UPSERT = 1, K_DELETE = 2, K_FOUND = 4 };

/*
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
 */
typedef struct kslot {
	uint64_t h;
	uint32_t row;
	uint16_t batch;
	uint16_t flags; /* 0: empty slot */
} kslot;

typedef struct keyset {
	kslot *slots;
	size_t cap, n;         /* cap a power of two (or 0) */
	cl_column *conv;       /* nbat * nkeys converted key columns */
	int nbat, nkeys;
	bool *bucket_used;     /* per bucket (or [0] without buckets) */
	cl_column *kmin, *kmax; /* per bucket: range of the first key column */
	int nb;
	bool i64;              /* slots hold the INT64 key value as h */
	kslot none;            /* always empty: found for a NULL key (i64) */
	uint64_t *filter;      /* bit (h >> 40) & fmask set for each key's
				  hash h (keyset_filter), or NULL */
	uint64_t fmask;
} keyset;

static void keyset_release(keyset *ks)
{
	if (ks->kmin)
		for (int b = 0; b < ks->nb; b++) {
			cl_column_release(&ks->kmin[b]);
			cl_column_release(&ks->kmax[b]);
		}
	for (int i = 0; ks->conv && i < ks->nbat * ks->nkeys; i++)
		cl_column_release(&ks->conv[i]);
	cl_free(ks->conv);
	cl_free(ks->kmin);
	cl_free(ks->kmax);
	cl_free(ks->bucket_used);
	cl_free(ks->slots);
	cl_free(ks->filter);
	memset(ks, 0, sizeof *ks);
}

/* Per-bucket state of an empty key set for layout l (ks zeroed before). */
static int keyset_begin(keyset *ks, const cl__table_layout *l, cl_error *err)
{
	ks->nb = l->buckets ? l->buckets : 1;
	ks->bucket_used = cl_calloc((size_t)ks->nb, sizeof *ks->bucket_used);
	ks->kmin = cl_calloc((size_t)ks->nb, sizeof *ks->kmin);
	ks->kmax = cl_calloc((size_t)ks->nb, sizeof *ks->kmax);
	if (!ks->bucket_used || !ks->kmin || !ks->kmax)
		return oom(err);
	cl_type kt = l->schema->fields[l->key_index[0]].type;
	int rc = 0;
	for (int b = 0; !rc && b < ks->nb; b++) {
		rc = cl_column_init(&ks->kmin[b], kt, 1, err);
		rc = rc ? rc : cl_column_init(&ks->kmax[b], kt, 1, err);
	}
	return rc;
}

/*
 * A slot's flags. Scans of buckets on several threads (cl_table_cow) set
 * K_FOUND on the slots of the keys they find while others probe: flags are
 * read and K_FOUND set with relaxed atomics (plain loads on x86). Nothing
 * else in a slot, and no other flag, changes once every key is in.
 */
static inline uint16_t slot_flags(const kslot *e)
{
	return __atomic_load_n(&e->flags, __ATOMIC_RELAXED);
}

static inline void slot_set_found(kslot *e)
{
	if (!(slot_flags(e) & K_FOUND))
		__atomic_fetch_or(&e->flags, (uint16_t)K_FOUND, __ATOMIC_RELAXED);
}

/* The key hash of a filled slot (an i64 slot holds the key value: its
 * hash is cl_hash_value of the key). */
static inline uint64_t slot_hash(const keyset *ks, const kslot *e)
{
	uint64_t h = e->h;
	return ks->i64 ? XXH3_64bits_withSeed(&h, 8, 0) : h;
}

/* Room for n more keys (rehashing into a larger table when needed). */
static int keyset_reserve(keyset *ks, size_t more)
{
	size_t need = ks->n + more;
	if (need * 8 <= ks->cap * 5)
		return 0;
	size_t cap = ks->cap ? ks->cap : 64;
	while (need * 8 > cap * 5)
		cap *= 2;
	kslot *ns = cl_calloc(cap, sizeof *ns);
	if (!ns)
		return CL_ENOMEM;
	for (size_t i = 0; i < ks->cap; i++) {
		if (!ks->slots[i].flags)
			continue;
		uint64_t h = slot_hash(ks, &ks->slots[i]);
		size_t j = (size_t)h & (cap - 1);
		while (ns[j].flags)
			j = (j + 1) & (cap - 1);
		ns[j] = ks->slots[i];
	}
	cl_free(ks->slots);
	ks->slots = ns;
	ks->cap = cap;
	return 0;
}

/*
 * A filter in front of the table for the scans: one bit per hash, about
 * 16 bits per key (a few KiB to a few hundred, in the caches where the
 * table is not), from bits of the hash the slot index does not use. A row
 * whose bit is clear holds no changed key; most rows of a scan hold none,
 * and the filter answers for them without a probe of the table (a miss
 * there walks several slots). Built once every key is in (the table only
 * grows while keys are added).
 */
static int keyset_filter(keyset *ks)
{
	size_t bits = 64;
	while (bits < 16 * ks->n && bits < ((size_t)1 << 40))
		bits *= 2;
	cl_free(ks->filter);
	ks->filter = cl_calloc(bits / 64, sizeof *ks->filter);
	if (!ks->filter)
		return CL_ENOMEM;
	ks->fmask = bits - 1;
	for (size_t i = 0; i < ks->cap; i++) {
		if (!ks->slots[i].flags)
			continue;
		uint64_t h = slot_hash(ks, &ks->slots[i]);
		uint64_t b = (h >> 40) & ks->fmask;
		ks->filter[b >> 6] |= (uint64_t)1 << (b & 63);
	}
	return 0;
}

/* May a row of hash h hold a changed key (its filter bit is set)? */
static inline bool keyset_maybe(const keyset *ks, uint64_t h)
{
	uint64_t b = (h >> 40) & ks->fmask;
	return ks->filter[b >> 6] >> (b & 63) & 1;
}

/* Probes of a scanned batch prefetch the slot of the row this many ahead
 * (a large change set's table is far bigger than the caches). */
enum { PREFETCH_AHEAD = 16 };

static inline void keyset_prefetch(const keyset *ks, uint64_t h)
{
	__builtin_prefetch(&ks->slots[(size_t)h & (ks->cap - 1)]);
}

/* The slot holding the key of row r of cols (hash h), or the empty slot
 * where it would go. */
static kslot *keyset_find(const keyset *ks, cl_column *const *cols, int64_t r, uint64_t h)
{
	size_t m = ks->cap - 1, i = (size_t)h & m;
	if (ks->i64) {
		if (cl_column_is_null(cols[0], r))
			return (kslot *)&ks->none;
		const cl_column *c = cols[0];
		uint64_t v = c->type.id == CL_INT64 ? (uint64_t)((const int64_t *)c->values)[r]
						    : (uint64_t)cl_column_get_i64(c, r);
		for (;; i = (i + 1) & m) {
			kslot *e = &ks->slots[i];
			if (!slot_flags(e) || e->h == v)
				return e;
		}
	}
	for (;; i = (i + 1) & m) {
		kslot *e = &ks->slots[i];
		if (!slot_flags(e))
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

/* Append all of src to dst (table type): in bulk when the types are
 * equal, else value by value through the table's conversions. */
static int append_converted_all(cl_column *dst, const cl_column *src, int64_t n,
				cl_error *err)
{
	if (cl_type_equal(src->type, dst->type))
		return cl_column_append_range(dst, src, 0, n, err);
	int rc = 0;
	for (int64_t r = 0; !rc && r < n; r++)
		rc = cl__append_converted(dst, src, r, err);
	return rc;
}

/* Hashes of the key columns cols over rows [0, n) into h (n entries):
 * cl_hash_column's, with an INT64 column without NULLs hashed in an
 * inlined loop even when it has a validity bitmap (a Parquet reader's
 * nullable column). */
static void hash_keys(uint64_t *h, cl_column *const *cols, int nkeys, int64_t n)
{
	memset(h, 0, (size_t)n * sizeof *h);
	for (int k = 0; k < nkeys; k++) {
		const cl_column *c = cols[k];
		if (c->type.id != CL_INT64 || (c->validity && c->null_count != 0)) {
			cl_hash_column(c, h, n);
			continue;
		}
		const int64_t *v = (const int64_t *)c->values;
		for (int64_t i = 0; i < n; i++)
			h[i] = XXH3_64bits_withSeed(&v[i], 8, h[i]);
	}
}

static int bucket_of(const cl__table_layout *l, uint64_t h)
{
	return l->buckets ? (int)(h % (uint64_t)l->buckets) : 0;
}

static void range_add(cl_column *lo, cl_column *hi, const cl_column *c, int64_t r)
{
	if (cl_column_is_null(c, r))
		return;
	if (lo->length == 0 || cl_value_compare(c, r, lo, 0) < 0) {
		cl_column_clear(lo);
		cl_column_append_from(lo, c, r, NULL);
	}
	if (hi->length == 0 || cl_value_compare(c, r, hi, 0) > 0) {
		cl_column_clear(hi);
		cl_column_append_from(hi, c, r, NULL);
	}
}

/* Can the keys of batches bs (schema in) go into an i64 key set of layout
 * l: a single INT64 key column, no NULL among them? */
static bool keys_i64(const cl__table_layout *l, const cl_schema *in, const cl_batch *const *bs,
		     int nb)
{
	if (l->nkeys != 1 || l->schema->fields[l->key_index[0]].type.id != CL_INT64)
		return false;
	if (nb == 0 || !in)
		return true; /* nothing to add */
	int c = cl_schema_find(in, l->schema->fields[l->key_index[0]].name);
	for (int i = 0; c >= 0 && i < nb; i++)
		if (c >= bs[i]->ncols ||
		    (bs[i]->cols[c].validity && bs[i]->cols[c].null_count != 0))
			return false;
	return true;
}

/* Add the keys of batches (schema in) to ks with flag; converted through
 * the table's key types (the converted columns are kept in ks). */
static int add_keys(keyset *ks, const cl__table_layout *l, const cl_schema *in,
		    const cl_batch *const *bs, int nb, int flag, cl_table_cow_stats *st,
		    cl_error *err)
{
	const cl_schema *sc = l->schema;
	int src[64];
	cl_column *cols[64];
	int rc = 0;
	if (l->nkeys > 64)
		return cl_error_set(err, CL_EUNSUPPORTED, "more than 64 key columns");
	for (int k = 0; k < l->nkeys; k++) {
		const char *name = sc->fields[l->key_index[k]].name;
		src[k] = cl_schema_find(in, name);
		if (src[k] < 0)
			return cl_error_set(err, CL_ESCHEMA, "%s rows lack the key column '%s'",
					    flag == K_UPSERT ? "upsert" : "delete", name);
	}
	if (ks->nbat + nb > UINT16_MAX + 1)
		return cl_error_set(err, CL_EUNSUPPORTED, "more than 65536 change batches");
	cl_column *conv = cl_realloc(ks->conv, (size_t)(ks->nbat + nb) * (size_t)l->nkeys *
					       sizeof *conv);
	if (!conv)
		return oom(err);
	ks->conv = conv;
	ks->nkeys = l->nkeys;
	uint64_t *h = NULL;
	/* i64: per bucket the rows of the smallest and largest key (-1: none) */
	int64_t *rlo = cl_malloc(2 * (size_t)ks->nb * sizeof *rlo), *rhi = rlo + ks->nb;
	if (!rlo)
		return oom(err);
	for (int bk = 0; bk < 2 * ks->nb; bk++)
		rlo[bk] = -1;
	for (int bi = 0; !rc && bi < nb; bi++) {
		const cl_batch *b = bs[bi];
		int slot_b = ks->nbat;
		cl_column *kc = &ks->conv[(size_t)slot_b * (size_t)l->nkeys];
		memset(kc, 0, (size_t)l->nkeys * sizeof *kc);
		ks->nbat++;
		if (b->nrows > (int64_t)UINT32_MAX) {
			rc = cl_error_set(err, CL_EUNSUPPORTED, "a change batch of more than "
					  "%u rows", UINT32_MAX);
			break;
		}
		for (int k = 0; !rc && k < l->nkeys; k++) {
			const cl_column *in_c = &b->cols[src[k]];
			cl_type tt = sc->fields[l->key_index[k]].type;
			cols[k] = &kc[k];
			rc = cl_column_init(&kc[k], tt, b->nrows, err);
			rc = rc ? rc : append_converted_all(&kc[k], in_c, b->nrows, err);
		}
		cl_free(h);
		h = b->nrows ? cl_malloc((size_t)b->nrows * sizeof *h) : NULL;
		if (!rc && b->nrows && (!h || keyset_reserve(ks, (size_t)b->nrows)))
			rc = oom(err);
		if (rc)
			break;
		hash_keys(h, cols, l->nkeys, b->nrows);
		for (int64_t r = 0; !rc && r < b->nrows; r++) {
			if (r + PREFETCH_AHEAD < b->nrows)
				keyset_prefetch(ks, h[r + PREFETCH_AHEAD]);
			kslot *e = keyset_find(ks, cols, r, h[r]);
			if (e->flags) {
				cl_buf shown = {0};
				for (int k = 0; k < l->nkeys; k++) {
					if (k)
						cl_buf_puts(&shown, ", ");
					cl_buf_puts(&shown, sc->fields[l->key_index[k]].name);
					cl_buf_putc(&shown, '=');
					if (cl_column_is_null(cols[k], r))
						cl_buf_puts(&shown, "NULL");
					else
						cl__value_format(&shown, cols[k], r);
				}
				cl_buf_putc(&shown, 0);
				rc = cl_error_set(err, CL_EDUPKEY, "key (%.200s) is changed twice in one "
						  "change set", shown.data ? (const char *)shown.data : "?");
				cl_buf_release(&shown);
				break;
			}
			e->h = ks->i64 ? (uint64_t)((const int64_t *)cols[0]->values)[r] : h[r];
			e->row = (uint32_t)r;
			e->batch = (uint16_t)slot_b;
			e->flags = (uint16_t)flag;
			ks->n++;
			int bk = bucket_of(l, h[r]);
			ks->bucket_used[bk] = true;
			if (!ks->i64) {
				range_add(&ks->kmin[bk], &ks->kmax[bk], &kc[0], r);
				continue;
			}
			/* rows of the bucket's smallest and largest key in this
			 * batch, added to the range after it */
			const int64_t *v = (const int64_t *)kc[0].values;
			if (rlo[bk] < 0 || v[r] < v[rlo[bk]])
				rlo[bk] = r;
			if (rhi[bk] < 0 || v[r] > v[rhi[bk]])
				rhi[bk] = r;
		}
		for (int bk = 0; !rc && ks->i64 && bk < ks->nb; bk++) {
			if (rlo[bk] < 0)
				continue;
			range_add(&ks->kmin[bk], &ks->kmax[bk], &kc[0], rlo[bk]);
			range_add(&ks->kmin[bk], &ks->kmax[bk], &kc[0], rhi[bk]);
			rlo[bk] = rhi[bk] = -1;
		}
		if (!rc && flag == K_UPSERT)
			st->rows_upserted += b->nrows;
	}
	cl_free(h);
	cl_free(rlo);
	return rc;
}

/* Where rewritten rows go: one bucket's writer (bw), else the general
 * writer (tw). */
typedef struct sink {
	cl__table_writer *tw;
	cl__bucket_writer *bw;
} sink;

static int sink_write(const sink *o, const cl_batch *b, cl_error *err)
{
	return o->bw ? cl__bucket_writer_write(o->bw, b, err) : cl__table_writer_write(o->tw, b, err);
}

/* The upserts (table types, each batch's rows ordered by bucket): rows
 * ord[i][first[i][b] .. first[i][b + 1]) of batch i are bucket b's, in
 * input order. */
typedef struct upserts {
	int n;
	cl_batch **tbs;
	bool **own;      /* per batch and column: converted here (else borrowed) */
	int64_t **ord;
	int64_t **first; /* nb + 1 entries per batch */
} upserts;

/* Write the upserts of bucket bk, or with bk < 0 of every bucket not
 * done; without bucket order (ord NULL) all of them as they are. */
static int write_upserts(const sink *o, const cl_schema *sc, const upserts *u, int nb, int bk,
			 const bool *done, cl_error *err)
{
	int rc = 0;
	for (int i = 0; !rc && i < u->n; i++) {
		if (!u->ord) {
			rc = sink_write(o, u->tbs[i], err);
			continue;
		}
		const int64_t *first = u->first[i];
		int64_t n = 0;
		for (int b = 0; b < nb; b++)
			if (bk >= 0 ? b == bk : !done[b])
				n += first[b + 1] - first[b];
		if (n == 0)
			continue;
		cl_batch *sel = NULL;
		rc = cl_batch_create(&sel, sc, n, err);
		for (int b = 0; !rc && b < nb; b++) {
			if (bk >= 0 ? b != bk : done[b])
				continue;
			const int64_t *idx = u->ord[i] + first[b];
			int64_t m = first[b + 1] - first[b];
			for (int c = 0; !rc && c < sc->nfields; c++)
				rc = cl_column_append_take(&sel->cols[c], &u->tbs[i]->cols[c], idx, m, err);
			sel->nrows += m;
		}
		rc = rc ? rc : sink_write(o, sel, err);
		cl_batch_free(sel);
	}
	return rc;
}

/* May file f hold a changed key (bucket and key statistics)? */
static bool candidate(const keyset *ks, const cl__table_layout *l, const cl_table_file *f,
		      cl__json_parser *jp)
{
	int bk = 0;
	if (l->buckets) {
		bk = cl__layout_bucket_of_key(f->path);
		if (bk < 0 || bk >= l->buckets)
			return true; /* not laid out by changelake: search it */
	}
	if (!ks->bucket_used[bk])
		return false;
	const cl_column *lo = &ks->kmin[bk], *hi = &ks->kmax[bk];
	if (l->nkeys != 1 || lo->length == 0 || !f->stats_json)
		return true;
	const cl_json *root;
	if (cl__json_parse(jp, f->stats_json, strlen(f->stats_json), &root, NULL))
		return true;
	const char *name = l->schema->fields[l->key_index[0]].name;
	const cl_json *mn = cl__json_get_s(cl__json_get_s(root, "minValues"), name);
	const cl_json *mx = cl__json_get_s(cl__json_get_s(root, "maxValues"), name);
	cl_type t = lo->type;
	if (t.id == CL_TIMESTAMP || t.id == CL_FLOAT32 || t.id == CL_FLOAT64 ||
	    t.id == CL_BINARY || t.id == CL_BOOL)
		return true; /* truncated or inexact statistics: do not trust them */
	bool may = true;
	cl_column v = {0};
	if (mx && (mx->kind == CL_JSON_NUMBER || (mx->kind == CL_JSON_STRING && t.id != CL_STRING)) &&
	    cl_column_init(&v, t, 1, NULL) == 0 &&
	    cl__column_append_text(&v, mx->u.str, mx->n, NULL) == 0 && cl_value_compare(lo, 0, &v, 0) > 0)
		may = false; /* smallest changed key above the file's max */
	cl_column_release(&v);
	memset(&v, 0, sizeof v);
	if (may && mn && (mn->kind == CL_JSON_NUMBER || mn->kind == CL_JSON_STRING) &&
	    cl_column_init(&v, t, 1, NULL) == 0 &&
	    cl__column_append_text(&v, mn->u.str, mn->n, NULL) == 0 && cl_value_compare(hi, 0, &v, 0) < 0)
		may = false; /* largest changed key below the file's min */
	cl_column_release(&v);
	return may;
}

/* Scratch of the scanned batches, reused from file to file. */
typedef struct scratch {
	uint64_t *h;     /* key hashes */
	int64_t *hit;    /* rows holding a changed key */
	int64_t *idx;    /* surviving rows (short runs) */
	int64_t *runs;   /* runs of surviving rows: (start, count) pairs */
	int64_t cap;     /* rows each holds (runs: cap + 1 pairs) */
	cl_batch *keep;  /* the surviving rows */
} scratch;

static int scratch_reserve(scratch *z, int64_t n, cl_error *err)
{
	if (n <= z->cap)
		return 0;
	cl_free(z->h);
	cl_free(z->hit);
	cl_free(z->idx);
	cl_free(z->runs);
	z->h = cl_malloc((size_t)n * sizeof *z->h);
	z->hit = cl_malloc((size_t)n * sizeof *z->hit);
	z->idx = cl_malloc((size_t)n * sizeof *z->idx);
	z->runs = cl_malloc(2 * ((size_t)n + 1) * sizeof *z->runs);
	z->cap = z->h && z->hit && z->idx && z->runs ? n : 0;
	return z->cap ? 0 : oom(err);
}

/*
 * A batch whose surviving rows come in runs of this many rows or more on
 * average goes to a bucket writer as runs of the scanned batch itself
 * (cl__bucket_writer_write_runs): no copy of the rows into keep. Shorter
 * runs are gathered into keep first: the writer's work per run (every
 * column's page and statistics bookkeeping) would cost more than the copy.
 */
enum { DIRECT_RUN_ROWS = 32 };

/* The runs of b's rows other than hit[0..nhit) (ascending) as (start,
 * count) pairs in runs; returns their number. */
static int64_t survivor_runs(int64_t *runs, int64_t n, const int64_t *hit, int64_t nhit)
{
	int64_t k = 0, from = 0;
	for (int64_t i = 0; i <= nhit; i++) {
		int64_t to = i < nhit ? hit[i] : n;
		if (to > from) {
			runs[2 * k] = from;
			runs[2 * k + 1] = to - from;
			k++;
		}
		from = to + 1;
	}
	return k;
}

/*
 * Append the rows of b other than hit[0..nhit) (ascending) to keep: in
 * runs (one copy per run and column) when the runs are long, else through
 * the list of surviving rows (one gather per column). Column by column, so
 * one column's source and destination stay in the caches.
 */
static int keep_survivors(cl_batch *keep, const cl_batch *b, const int64_t *hit, int64_t nhit,
			  int64_t *idx, cl_error *err)
{
	int64_t n = b->nrows, nkeep = n - nhit;
	int rc = 0;
	if (nkeep <= 0)
		return 0;
	if (nhit * 8 <= n) {
		for (int c = 0; !rc && c < keep->ncols; c++) {
			int64_t from = 0;
			for (int64_t i = 0; !rc && i <= nhit; i++) {
				int64_t to = i < nhit ? hit[i] : n;
				if (to > from)
					rc = cl_column_append_range(&keep->cols[c], &b->cols[c], from,
								    to - from, err);
				from = to + 1;
			}
		}
	} else {
		int64_t k = 0, j = 0;
		for (int64_t r = 0; r < n; r++) {
			if (j < nhit && hit[j] == r) {
				j++;
				continue;
			}
			idx[k++] = r;
		}
		for (int c = 0; !rc && c < keep->ncols; c++)
			rc = cl_column_append_take(&keep->cols[c], &b->cols[c], idx, nkeep, err);
	}
	if (!rc)
		keep->nrows += nkeep;
	return rc;
}

/*
 * Copy-on-write of one candidate file, streamed batch by batch: the rows
 * whose keys did not change are gathered into z->keep and handed to the
 * writer. Until the file's first changed key is found its rows are held in
 * keep, since a file holding none is left alone; from then on keep is
 * written after every batch, so memory is one batch (plus the rows before
 * the first changed key), not the file. keep is empty on entry and on
 * return.
 */
static int cow_file(cl_table *t, const cl_snapshot *s, const cl__table_layout *l, keyset *ks,
		    const sink *w, cl_table_txn *x, const cl_table_file *f, scratch *z,
		    cl_table_cow_stats *st, cl_error *err)
{
	cl_column *kcols[64];
	cl_batch *keep = z->keep;
	int rc;
	const char *only[1] = {f->path};
	cl_table_scan_options so = {0};
	so.only_files = only;
	so.nonly_files = 1;
	cl_table_scan *sc = NULL;
	rc = cl_table_scan_open(&sc, t, s, &so, err);
	if (!rc)
		cl__table_scan_lend(sc); /* its batches are only read */
	bool touched = false;
	int64_t hits_deleted = 0, copied = 0;
	cl_batch *b;
	while (!rc && !(rc = cl_table_scan_next(sc, &b, err)) && b) {
		int64_t n = b->nrows, nhit = 0;
		if ((rc = scratch_reserve(z, n, err)))
			break;
		for (int k = 0; k < l->nkeys; k++)
			kcols[k] = &b->cols[l->key_index[k]];
		hash_keys(z->h, kcols, l->nkeys, n);
		for (int64_t r = 0; ks->cap && r < n; r++) {
			if (r + PREFETCH_AHEAD < n && keyset_maybe(ks, z->h[r + PREFETCH_AHEAD]))
				keyset_prefetch(ks, z->h[r + PREFETCH_AHEAD]);
			if (!keyset_maybe(ks, z->h[r]))
				continue;
			kslot *e = keyset_find(ks, kcols, r, z->h[r]);
			uint16_t fl = slot_flags(e);
			if (!fl)
				continue;
			if (fl & K_DELETE)
				hits_deleted++;
			slot_set_found(e);
			z->hit[nhit++] = r;
		}
		touched |= nhit > 0;
		if (touched && w->bw && (nhit + 1) * DIRECT_RUN_ROWS <= n) {
			/* the rows held so far, then this batch's survivors
			 * straight from it (the same rows in the same order) */
			if (keep->nrows) {
				copied += keep->nrows;
				rc = sink_write(w, keep, err);
				cl_batch_clear(keep);
			}
			int64_t nr = survivor_runs(z->runs, n, z->hit, nhit);
			copied += n - nhit;
			rc = rc ? rc : cl__bucket_writer_write_runs(w->bw, b, z->runs, nr, err);
			continue;
		}
		rc = keep_survivors(keep, b, z->hit, nhit, z->idx, err);
		if (!rc && touched && keep->nrows) {
			copied += keep->nrows;
			rc = sink_write(w, keep, err);
			cl_batch_clear(keep);
		}
	}
	cl_table_scan_free(sc);
	/* a file left alone: its rows are not written, and the room they took
	 * (past a few batches) is given back */
	for (int c = 0; !touched && keep->nrows > 4 * 65536 && c < keep->ncols; c++) {
		cl_type ty = keep->cols[c].type;
		cl_column_release(&keep->cols[c]);
		rc = rc ? rc : cl_column_init(&keep->cols[c], ty, 1024, err);
	}
	cl_batch_clear(keep);
	if (!rc && touched) {
		st->files_rewritten++;
		st->bytes_removed += f->size;
		st->rows_deleted += hits_deleted;
		st->rows_copied += copied;
		rc = cl_table_txn_remove(x, f, true, err);
	}
	return rc;
}

/* Merge-on-read: the positions of a file's live rows holding a changed key. */
typedef struct dv_hits {
	keyset *ks;
	int nkeys;
	uint64_t *h;
	int64_t hcap;
	uint64_t *pos;
	size_t npos, pcap;
	int64_t deleted; /* hits of delete keys */
} dv_hits;

static int dv_hits_fn(void *ctx, cl_column *const *keys, int64_t n, const uint8_t *live,
		      int64_t first_pos, cl_error *err)
{
	dv_hits *d = ctx;
	if (n == 0 || !d->ks->cap)
		return 0;
	if (n > d->hcap) {
		cl_free(d->h);
		d->hcap = n;
		if (!(d->h = cl_malloc((size_t)n * sizeof *d->h))) {
			d->hcap = 0;
			return oom(err);
		}
	}
	hash_keys(d->h, keys, d->nkeys, n);
	for (int64_t r = 0; r < n; r++) {
		if (r + PREFETCH_AHEAD < n)
			keyset_prefetch(d->ks, d->h[r + PREFETCH_AHEAD]);
		if (!live[r])
			continue;
		kslot *e = keyset_find(d->ks, keys, r, d->h[r]);
		uint16_t fl = slot_flags(e);
		if (!fl)
			continue;
		if (fl & K_DELETE)
			d->deleted++;
		slot_set_found(e);
		if (d->npos == d->pcap) {
			size_t cap = d->pcap ? d->pcap * 2 : 64;
			uint64_t *np = cl_realloc(d->pos, cap * sizeof *np);
			if (!np)
				return oom(err);
			d->pos = np;
			d->pcap = cap;
		}
		d->pos[d->npos++] = (uint64_t)(first_pos + r);
	}
	return 0;
}

/* What every candidate file's step needs (cl_table_cow's state). */
typedef struct cow_ctx {
	cl_table *t;
	const cl_snapshot *s;
	cl_table_txn *x;
	const cl__table_layout *l;
	keyset *ks;
	cl_buf *scope;
	cl__dv_marks *marks; /* merge-on-read, else NULL */
	dv_hits *dh;
	scratch *z;
} cow_ctx;

/* Candidate file f: its scope recorded as read; merge-on-read marks its
 * changed rows deleted, copy-on-write rewrites it through w. */
static int cand_file(cow_ctx *c, const sink *w, const cl_table_file *f,
		     cl_table_cow_stats *st, cl_error *err)
{
	st->files_candidates++;
	cl_buf_clear(c->scope);
	if (cl__layout_scope_of_key(c->scope, f->path))
		return oom(err);
	int rc = cl_table_txn_read_scope(c->x, (const char *)c->scope->data, err);
	if (rc)
		return rc;
	if (!c->marks)
		return cow_file(c->t, c->s, c->l, c->ks, w, c->x, f, c->z, st, err);
	/* merge-on-read: key columns only, changed rows marked deleted */
	int64_t nrows = 0;
	uint64_t *old = NULL; /* rows its current vector deletes */
	size_t nold = 0;
	c->dh->npos = 0;
	c->dh->deleted = 0;
	rc = cl__dv_read_keys(c->t, c->l, f, dv_hits_fn, c->dh, &nrows, &old, &nold, err);
	st->rows_deleted += c->dh->deleted;
	rc = rc ? rc : cl__dv_marks_add(c->marks, c->x, f, old, nold, c->dh->pos, c->dh->npos,
					nrows, err);
	cl_free(old);
	return rc;
}

static void upserts_release(upserts *u)
{
	for (int i = 0; u->tbs && i < u->n; i++) {
		cl_batch *b = u->tbs[i];
		for (int c = 0; b && c < b->ncols; c++)
			if (u->own && u->own[i][c])
				cl_column_release(&b->cols[c]);
		if (b)
			cl_free(b->cols);
		cl_free(b);
		if (u->own)
			cl_free(u->own[i]);
		if (u->ord)
			cl_free(u->ord[i]);
		if (u->first)
			cl_free(u->first[i]);
	}
	cl_free(u->tbs);
	cl_free(u->own);
	cl_free(u->ord);
	cl_free(u->first);
	memset(u, 0, sizeof *u);
}

/* The upserted rows in the table's schema (derived partition columns are
 * computed by the writer): a column already in the table's type is
 * borrowed, others converted, missing ones NULL. With bucket order, each
 * batch's rows ordered by bucket (a counting sort of the key hashes). */
static int upserts_init(upserts *u, const cl__table_layout *l, const keyset *ks,
			const cl_schema *in, const cl_batch *const *bs, int n, bool bucket_order,
			cl_error *err)
{
	const cl_schema *sc = l->schema;
	int nf = sc->nfields, rc = 0;
	memset(u, 0, sizeof *u);
	u->tbs = cl_calloc((size_t)n + 1, sizeof *u->tbs);
	u->own = cl_calloc((size_t)n + 1, sizeof *u->own);
	if (!u->tbs || !u->own)
		return oom(err);
	u->n = n;
	for (int i = 0; !rc && i < n; i++) {
		const cl_batch *ib = bs[i];
		cl_batch *b = cl_calloc(1, sizeof *b);
		u->tbs[i] = b;
		if (b)
			b->cols = cl_calloc((size_t)nf + 1, sizeof *b->cols);
		u->own[i] = cl_calloc((size_t)nf + 1, sizeof *u->own[i]);
		if (!b || !b->cols || !u->own[i]) {
			rc = oom(err);
			break;
		}
		b->ncols = nf;
		b->nrows = ib->nrows;
		for (int c = 0; !rc && c < nf; c++) {
			int src = cl_schema_find(in, sc->fields[c].name);
			if (src >= 0 && cl_type_equal(ib->cols[src].type, sc->fields[c].type)) {
				b->cols[c] = ib->cols[src]; /* borrowed: only read */
				continue;
			}
			u->own[i][c] = true;
			rc = cl_column_init(&b->cols[c], sc->fields[c].type, ib->nrows, err);
			if (!rc && src >= 0)
				rc = append_converted_all(&b->cols[c], &ib->cols[src], ib->nrows, err);
			for (int64_t r = 0; !rc && src < 0 && r < ib->nrows; r++)
				rc = cl_column_append_null(&b->cols[c], err);
			if (rc)
				cl_error_prefix(err, "upsert column '%s': ", sc->fields[c].name);
		}
	}
	if (rc || !bucket_order)
		return rc;
	u->ord = cl_calloc((size_t)n + 1, sizeof *u->ord);
	u->first = cl_calloc((size_t)n + 1, sizeof *u->first);
	if (!u->ord || !u->first)
		return oom(err);
	cl_column *kcols[64];
	for (int i = 0; i < n; i++) {
		int64_t rows = u->tbs[i]->nrows;
		uint64_t *h = cl_malloc((size_t)(rows ? rows : 1) * sizeof *h);
		u->ord[i] = cl_malloc((size_t)(rows ? rows : 1) * sizeof *u->ord[i]);
		u->first[i] = cl_calloc((size_t)ks->nb + 2, sizeof *u->first[i]);
		if (!h || !u->ord[i] || !u->first[i]) {
			cl_free(h);
			return oom(err);
		}
		for (int k = 0; k < l->nkeys; k++)
			kcols[k] = &u->tbs[i]->cols[l->key_index[k]];
		hash_keys(h, kcols, l->nkeys, rows);
		int64_t *first = u->first[i];
		for (int64_t r = 0; r < rows; r++) {
			h[r] = (uint64_t)bucket_of(l, h[r]);
			first[h[r] + 1]++;
		}
		for (int b = 0; b < ks->nb; b++)
			first[b + 1] += first[b];
		/* first[b] is bucket b's start; cur the next free place */
		int64_t *cur = cl_malloc((size_t)ks->nb * sizeof *cur);
		if (!cur) {
			cl_free(h);
			return oom(err);
		}
		memcpy(cur, first, (size_t)ks->nb * sizeof *cur);
		for (int64_t r = 0; r < rows; r++)
			u->ord[i][cur[h[r]]++] = r;
		cl_free(cur);
		cl_free(h);
	}
	return 0;
}

static void scratch_release(scratch *z)
{
	cl_free(z->h);
	cl_free(z->hit);
	cl_free(z->idx);
	cl_free(z->runs);
	cl_batch_free(z->keep);
	memset(z, 0, sizeof *z);
}

/* What a worker counted (the candidates' and rewrites' counters). */
static void stats_add(cl_table_cow_stats *to, const cl_table_cow_stats *from)
{
	to->files_candidates += from->files_candidates;
	to->files_rewritten += from->files_rewritten;
	to->rows_copied += from->rows_copied;
	to->rows_deleted += from->rows_deleted;
	to->bytes_removed += from->bytes_removed;
}

/*
 * The buckets of the early path on threads. A job is one bucket: its
 * candidate files, then its upserts, through a bucket writer of its own,
 * with every file action (read scopes, removes, adds) recorded in a fork
 * of the transaction made for that job (cl__table_txn_fork). Up to
 * nthreads workers take the next job in order until none is left or one
 * failed (a failing job stops the taking of new ones; the jobs running
 * finish), the largest first. The forks are then joined into the transaction in job order
 * (bucket order), so the commit is the same whatever the thread count. Per worker: the
 * scratch of the scanned batches, the merge-on-read hits, the scope buffer,
 * the counters (summed after) and the PLAIN carry from one of its files to
 * the next (so which columns start PLAIN in a file may differ with the
 * thread count; the rows never do). Shared and only read: the layout, the
 * upserts, the key set (but K_FOUND, see slot_flags). Memory: one bucket's
 * file and buffers per worker.
 */
typedef struct cow_job {
	int bucket;
	int64_t bytes;    /* its candidate files' size */
	cl_table_txn *fork;
	int rc;
	cl_error err;
	int64_t added[3]; /* files, rows, bytes written */
} cow_job;

typedef struct cow_par {
	cl_table *t;
	const cl_snapshot *s;
	const cl__table_layout *l;
	keyset *ks;
	cl__dv_marks *marks; /* merge-on-read (one worker only), else NULL */
	const upserts *u;
	const int *file_bucket; /* per snapshot file: its bucket if a candidate, else -1 */
	size_t nfiles;
	cow_job *jobs;
	int njobs;
	pthread_mutex_t mu;
	int *order;  /* jobs by size, largest first: the last jobs taken are
			the short ones, so the threads finish close together */
	int next;    /* next in order to take (under mu) */
	bool failed; /* a job failed: take no more (under mu) */
} cow_par;

typedef struct cow_worker {
	cow_par *p;
	scratch z;
	dv_hits dh;
	cl_buf scope;
	bool *plain; /* per data column: fell back to PLAIN in its last file */
	cl_table_cow_stats st;
	pthread_t th;
} cow_worker;

static int cow_job_run(cow_worker *wk, cow_job *j)
{
	cow_par *p = wk->p;
	cl_error *err = &j->err;
	cow_ctx cc = {p->t, p->s, j->fork, p->l, p->ks, &wk->scope, p->marks, &wk->dh, &wk->z};
	sink one = {NULL, NULL};
	int rc = cl__bucket_writer_open(&one.bw, p->t, j->fork, p->l, j->bucket, err);
	if (!rc)
		cl__bucket_writer_share_plain(one.bw, wk->plain);
	for (size_t f = 0; !rc && f < p->nfiles; f++)
		if (p->file_bucket[f] == j->bucket)
			rc = cand_file(&cc, &one, cl_snapshot_file(p->s, f), &wk->st, err);
	rc = rc ? rc : write_upserts(&one, p->l->schema, p->u, p->ks->nb, j->bucket, NULL, err);
	rc = rc ? rc : cl__bucket_writer_finish(one.bw, err);
	if (!rc)
		cl__bucket_writer_counts(one.bw, &j->added[0], &j->added[1], &j->added[2]);
	cl__bucket_writer_free(one.bw); /* removes a file still staged */
	return rc;
}

static void *cow_work(void *arg)
{
	cow_worker *wk = arg;
	cow_par *p = wk->p;
	for (;;) {
		pthread_mutex_lock(&p->mu);
		int i = p->failed || p->next >= p->njobs ? -1 : p->order[p->next++];
		pthread_mutex_unlock(&p->mu);
		if (i < 0)
			break;
		cow_job *j = &p->jobs[i];
		j->rc = cow_job_run(wk, j);
		if (j->rc) {
			pthread_mutex_lock(&p->mu);
			p->failed = true;
			pthread_mutex_unlock(&p->mu);
			break;
		}
	}
	return NULL;
}

/* Run p's jobs on up to nthreads workers (the calling thread one of
 * them); stats summed into st. 0, or the error of the first failed job
 * in job order. */
static int cow_run_jobs(cow_par *p, int nthreads, cl_table_cow_stats *st, cl_error *err)
{
	if (nthreads > p->njobs)
		nthreads = p->njobs;
	if (nthreads < 1)
		return 0;
	int rc = 0, started = 0;
	cow_worker *wk = cl_calloc((size_t)nthreads, sizeof *wk);
	if (!wk)
		return oom(err);
	for (int i = 0; !rc && i < nthreads; i++) {
		wk[i].p = p;
		wk[i].dh.ks = p->ks;
		wk[i].dh.nkeys = p->l->nkeys;
		wk[i].plain = cl_calloc((size_t)p->l->file_schema->nfields + 1, sizeof *wk[i].plain);
		if (!wk[i].plain)
			rc = oom(err);
		rc = rc ? rc : cl_batch_create(&wk[i].z.keep, p->l->schema, 1024, err);
	}
	if (!rc && pthread_mutex_init(&p->mu, NULL) != 0)
		rc = cl_error_set(err, CL_EIO, "cannot create a mutex");
	if (!rc) {
		/* workers 1.. on threads of their own (fewer if a thread cannot
		 * be started: the jobs are shared out all the same) */
		for (started = 1; started < nthreads; started++)
			if (pthread_create(&wk[started].th, NULL, cow_work, &wk[started]) != 0)
				break;
		cow_work(&wk[0]);
		for (int i = 1; i < started; i++)
			pthread_join(wk[i].th, NULL);
		pthread_mutex_destroy(&p->mu);
		for (int i = 0; i < p->njobs; i++)
			if (p->jobs[i].rc) {
				rc = p->jobs[i].rc;
				*err = p->jobs[i].err;
				break;
			}
	}
	for (int i = 0; i < nthreads; i++) {
		stats_add(st, &wk[i].st);
		scratch_release(&wk[i].z);
		cl_free(wk[i].dh.h);
		cl_free(wk[i].dh.pos);
		cl_buf_release(&wk[i].scope);
		cl_free(wk[i].plain);
	}
	cl_free(wk);
	return rc;
}

int cl_table_cow(cl_table_txn *x, const cl_schema *upsert_schema,
		 const cl_batch *const *ups, int nupserts, const cl_schema *delete_schema,
		 const cl_batch *const *deletes, int ndeletes, cl_table_cow_stats *st,
		 cl_error *err)
{
	memset(st, 0, sizeof *st);
	const cl_snapshot *s = cl__table_txn_base(x);
	cl_table *t = cl__table_txn_table(x);
	if (!s)
		return cl_error_set(err, CL_EINVAL, "the transaction has no base snapshot");
	cl__table_layout l;
	int rc = cl__table_layout_init(&l, s, err);
	if (rc)
		return rc;
	keyset ks = {0};
	cl__table_writer *w = NULL;
	cl__json_parser *jp = NULL;
	cl_buf scope = {0};
	upserts u = {0};
	bool *done = NULL;      /* bucket's upserts written (early) */
	bool *is_cand = NULL, early = false;
	cow_par par = {0};      /* the buckets' jobs (early) */
	int *file_bucket = NULL;
	size_t nfiles = 0;
	scratch z = {0};     /* of the scanned batches */
	cl__dv_marks *marks = NULL; /* merge-on-read: the commit's deletions */
	dv_hits dh = {0};
	int64_t added[3] = {0, 0, 0}; /* files, rows, bytes written */
	int64_t f3[3];
	if (l.nkeys == 0) {
		rc = cl_error_set(err, CL_EINVAL, "the table has no key columns (%s)",
				  CL_TABLE_CONF_KEYS);
		goto out;
	}
	rc = keyset_begin(&ks, &l, err);
	ks.i64 = keys_i64(&l, upsert_schema, ups, nupserts) &&
		 keys_i64(&l, delete_schema, deletes, ndeletes);
	for (int c = 0; !rc && nupserts && c < upsert_schema->nfields; c++)
		if (cl_schema_find(l.schema, upsert_schema->fields[c].name) < 0)
			rc = cl_error_set(err, CL_ESCHEMA, "upsert column '%s' is not in the table",
					  upsert_schema->fields[c].name);
	if (!rc && nupserts)
		rc = add_keys(&ks, &l, upsert_schema, ups, nupserts, K_UPSERT, st, err);
	if (!rc && ndeletes)
		rc = add_keys(&ks, &l, delete_schema, deletes, ndeletes, K_DELETE, st, err);
	if (!rc && keyset_filter(&ks))
		rc = oom(err);
	rc = rc ? rc : cl__json_parser_create(&jp, NULL, err);
	rc = rc ? rc : cl__table_writer_open(&w, t, s, x, l.schema, err);
	rc = rc ? rc : cl_batch_create(&z.keep, l.schema, 1024, err);
	if (!rc && cl__dv_table_enabled(s))
		rc = cl__dv_marks_open(&marks, err);
	if (rc)
		goto out;
	dh.ks = &ks;
	dh.nkeys = l.nkeys;
	cow_ctx cc = {t, s, x, &l, &ks, &scope, marks, &dh, &z};
	nfiles = cl_snapshot_nfiles(s);
	done = cl_calloc((size_t)ks.nb, sizeof *done);
	is_cand = cl_calloc(nfiles + 1, sizeof *is_cand);
	if (!done || !is_cand) {
		rc = oom(err);
		goto out;
	}
	/* Without partition columns a bucket's rows form one group of the
	 * writer, so the buckets can be written one after another (early). */
	early = l.buckets && l.npart == 0;
	for (size_t fi = 0; fi < nfiles; fi++) {
		const cl_table_file *f = cl_snapshot_file(s, fi);
		if (!(is_cand[fi] = candidate(&ks, &l, f, jp)))
			continue;
		int bk = l.buckets ? cl__layout_bucket_of_key(f->path) : 0;
		if (bk < 0 || bk >= ks.nb)
			early = false; /* not laid out by changelake: rows of any bucket */
	}
	rc = upserts_init(&u, &l, &ks, upsert_schema, ups, nupserts, early, err);
	/* 2-3: candidates, read, rewritten when they hold a changed key. With
	 * one group per bucket (early) a bucket is done at once: its candidate
	 * files, then its upserts, through a writer of its own (straight to
	 * Parquet: every row is of that bucket and in the table's types) that
	 * is finished and freed when the bucket is done, so one bucket's
	 * buffers exist at a time per thread (same rows in the same order as
	 * writing every upsert at the end); the buckets go to the threads as
	 * jobs (cow_par) in bucket order. */
	sink all = {w, NULL};
	for (size_t fi = 0; !rc && !early && fi < nfiles; fi++)
		if (is_cand[fi])
			rc = cand_file(&cc, &all, cl_snapshot_file(s, fi), st, err);
	if (!rc && early) {
		par.t = t;
		par.s = s;
		par.l = &l;
		par.ks = &ks;
		par.marks = marks;
		par.u = &u;
		par.nfiles = nfiles;
		par.file_bucket = file_bucket = cl_malloc((nfiles + 1) * sizeof *file_bucket);
		par.jobs = cl_calloc((size_t)ks.nb, sizeof *par.jobs);
		if (!file_bucket || !par.jobs)
			rc = oom(err);
		for (size_t fi = 0; !rc && fi < nfiles; fi++) {
			int bk = file_bucket[fi] = is_cand[fi]
				? cl__layout_bucket_of_key(cl_snapshot_file(s, fi)->path) : -1;
			if (bk >= 0)
				done[bk] = true;
		}
		/* in bucket order: the commit's order does not depend on the
		 * files' (random) names either */
		for (int bk = 0; !rc && bk < ks.nb; bk++) {
			if (!done[bk])
				continue;
			cow_job *j = &par.jobs[par.njobs++];
			j->bucket = bk;
			for (size_t fi = 0; fi < nfiles; fi++)
				if (file_bucket[fi] == bk)
					j->bytes += cl_snapshot_file(s, fi)->size;
			rc = cl__table_txn_fork(&j->fork, x, err);
		}
		par.order = rc ? NULL : cl_malloc(((size_t)par.njobs + 1) * sizeof *par.order);
		if (!rc && !par.order)
			rc = oom(err);
		for (int i = 0; !rc && i < par.njobs; i++) {
			/* insertion sort by size, largest first (ties: bucket order) */
			int k = i;
			while (k > 0 && par.jobs[par.order[k - 1]].bytes < par.jobs[i].bytes) {
				par.order[k] = par.order[k - 1];
				k--;
			}
			par.order[k] = i;
		}
		/* merge-on-read collects every file's marks in one list: one
		 * thread */
		int nth = marks ? 1 : cl_table_txn_threads(x);
		rc = rc ? rc : cow_run_jobs(&par, nth, st, err);
		for (int i = 0; !rc && i < par.njobs; i++) {
			rc = cl__table_txn_join(x, par.jobs[i].fork, err);
			for (int k = 0; k < 3; k++)
				added[k] += par.jobs[i].added[k];
		}
	}
	/* 4: the upserts of buckets not written yet */
	rc = rc ? rc : write_upserts(&all, l.schema, &u, ks.nb, -1, done, err);
	rc = rc ? rc : cl__table_writer_finish(w, err);
	if (!rc) {
		cl__table_writer_counts(w, &f3[0], &f3[1], &f3[2]);
		for (int i = 0; i < 3; i++)
			added[i] += f3[i];
	}
	/* merge-on-read: the vector file is published, then the files named */
	if (!rc && marks)
		rc = cl__dv_marks_finish(marks, t, x, st, err);
	if (!rc && marks) {
		/* the default metrics would count the files only given a vector */
		int64_t va, vu, vr, fr, br;
		cl__dv_marks_counts(marks, &va, &vu, &vr, &fr, &br);
		struct { const char *k; int64_t v; } m[] = {
			{"numAddedFiles", added[0]}, {"numAddedBytes", added[2]},
			{"numOutputRows", added[1]},
			{"numRemovedFiles", fr}, {"numRemovedBytes", br},
			{"numDeletionVectorsAdded", va}, {"numDeletionVectorsUpdated", vu},
			{"numDeletionVectorsRemoved", vr},
			{"numDeletionVectorBytes", st->dv_bytes}};
		for (size_t i = 0; !rc && i < sizeof m / sizeof m[0]; i++)
			rc = cl_table_txn_set_metric(x, m[i].k, m[i].v, err);
	}
	if (!rc) {
		st->files_added = added[0];
		for (size_t i = 0; i < ks.cap; i++)
			if ((ks.slots[i].flags & K_DELETE) && !(ks.slots[i].flags & K_FOUND))
				st->deletes_missing++;
	}
	if (!rc) {
		rc = cl_table_txn_set_metric(x, "numTargetRowsUpserted", st->rows_upserted, err);
		rc = rc ? rc : cl_table_txn_set_metric(x, "numTargetRowsDeleted", st->rows_deleted, err);
		rc = rc ? rc : cl_table_txn_set_metric(x, "numTargetRowsCopied", st->rows_copied, err);
		rc = rc ? rc : cl_table_txn_set_metric(x, "numTargetFilesRewritten",
						       st->files_rewritten, err);
	}
out:
	cl__table_writer_free(w);
	cl__json_parser_free(jp);
	cl__dv_marks_free(marks);
	cl_free(dh.h);
	cl_free(dh.pos);
	keyset_release(&ks);
	upserts_release(&u);
	cl_free(done);
	cl_free(is_cand);
	for (int i = 0; i < par.njobs; i++)
		cl_table_txn_free(par.jobs[i].fork);
	cl_free(par.jobs);
	cl_free(par.order);
	cl_free(file_bucket);
	scratch_release(&z);
	cl_buf_release(&scope);
	cl__table_layout_release(&l);
	return rc;
}

int cl_table_lookup(cl_table *t, const cl_snapshot *s, const cl_schema *key_schema,
		    const cl_batch *const *keys, int nkeys, cl_table_rows_fn fn, void *ctx,
		    cl_error *err)
{
	cl__table_layout l;
	int rc = cl__table_layout_init(&l, s, err);
	if (rc)
		return rc;
	keyset ks = {0};
	cl__json_parser *jp = NULL;
	cl_table_cow_stats st = {0};
	if (l.nkeys == 0) {
		rc = cl_error_set(err, CL_EINVAL, "the table has no key columns (%s)",
				  CL_TABLE_CONF_KEYS);
		goto out;
	}
	rc = keyset_begin(&ks, &l, err);
	rc = rc ? rc : add_keys(&ks, &l, key_schema, keys, nkeys, K_DELETE, &st, err);
	rc = rc ? rc : cl__json_parser_create(&jp, NULL, err);
	for (size_t fi = 0; !rc && fi < cl_snapshot_nfiles(s); fi++) {
		const cl_table_file *f = cl_snapshot_file(s, fi);
		if (!candidate(&ks, &l, f, jp))
			continue;
		const char *only[1] = {f->path};
		cl_table_scan_options so = {0};
		so.only_files = only;
		so.nonly_files = 1;
		cl_table_scan *sc = NULL;
		cl_batch *b;
		rc = cl_table_scan_open(&sc, t, s, &so, err);
		while (!rc && !(rc = cl_table_scan_next(sc, &b, err)) && b)
			rc = fn(ctx, l.schema, b, err);
		cl_table_scan_free(sc);
	}
out:
	cl__json_parser_free(jp);
	keyset_release(&ks);
	cl__table_layout_release(&l);
	return rc;
}
