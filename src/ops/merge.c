/*
 * merge.c — the change store of a merge: its ADDING state (see
 * changelake/merge.h for the contract, merge_impl.h for struct cl_merge,
 * its invariants and the state machine, merge_result.c for the FINISHED
 * and RESOLVING states).
 *
 * Holds: creating and freeing a merge, the public accessors, binding the
 * schema, cl_merge_add, cl__merge_reserve, and the store's hash table
 * (allocation, rebuild, probe) and compaction.
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
 */
#include "ops/merge_impl.h"
#include "core/value_text.h"

#include <string.h>
#include <sys/mman.h>

/* XXH3 inlined for the single-INT64-key loop (hash_rows): the same
 * function core/hash.c calls, so the same hashes as cl_hash_value. */
#define XXH_INLINE_ALL
#include <xxhash.h>

#define MAX_ROWS ((int64_t)UINT32_MAX - 1) /* row + 1 fits a slot */

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

void cl__merge_free_store(cl_merge *m)
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
	cl__merge_free_store(m);
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
			return cl__merge_oom(err);
		c->offsets = o;
		prefault(o + c->cap, (size_t)(need - c->cap) * sizeof *o);
	} else {
		size_t old = bit ? (size_t)(c->cap + 7) / 8 : (size_t)c->cap * (size_t)w;
		size_t nb = bit ? (size_t)(need + 7) / 8 : (size_t)need * (size_t)w;
		uint8_t *v = cl_realloc(c->values, nb);
		if (!v)
			return cl__merge_oom(err);
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
			return cl__merge_oom(err);
		memset(v + c->validity_cap, 0xff, nb - (size_t)c->validity_cap);
		c->validity = v;
		c->validity_cap = (int64_t)nb;
	}
	c->cap = need;
	return 0;
}

/* Resolve key and sequence columns against the (now known) schema. */
int cl__merge_bind_schema(cl_merge *m, cl_error *err)
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
		return cl__merge_oom(err);
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
		return cl__merge_oom(err);
	m->seq_idx = -1;
	m->ignore_null = o && o->ignore_null_updates;
	m->threads = o ? o->threads : 1;
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
		if ((rc = cl_schema_copy(&m->schema, schema, err)) ||
		    (rc = cl__merge_bind_schema(m, err))) {
			cl_merge_free(m);
			return rc;
		}
	}
	*out = m;
	return 0;
nomem:
	cl_merge_free(m);
	return cl__merge_oom(err);
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

/* ---- the store and its hash table ------------------------------------- */

/* Probes prefetch the slot of the row this many ahead. */
#ifndef PREFETCH_AHEAD
#define PREFETCH_AHEAD 32
#endif

/* hs[i] = cl__merge_key_hash(cols, idx, n, r0 + i) for i < cnt. A single INT64 key
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
		hs[i] = cl__merge_key_hash(cols, idx, n, r0 + i);
}

/* A new empty table of n slots (the old one freed). */
int cl__merge_table_alloc(cl_merge *m, int64_t n, cl_error *err)
{
	cl_free(m->tab);
	m->nslots = 0;
	if (!(m->tab = cl_calloc((size_t)n, sizeof *m->tab)))
		return cl__merge_oom(err);
	prefault(m->tab, (size_t)n * sizeof *m->tab);
	m->nslots = n;
	return 0;
}

/* The table rebuilt for `keys` keys from the store's winners (the slots
 * keep no full hashes: they are recomputed, in store order). */
static int table_rebuild(cl_merge *m, int64_t keys, cl_error *err)
{
	int rc = cl__merge_table_alloc(m, cl__merge_slots_for(keys), err);
	for (int64_t r = 0; !rc && r < m->nrows; r++)
		if (m->winner[r]) {
			uint64_t h = cl__merge_key_hash(m->cols, m->key_idx, m->nkeys, r);
			cl__merge_table_put(m, h, r);
		}
	return rc;
}

/* Slot of the key of store row `row` (its hash h): the slot holding an
 * equal key, or the empty slot where it would go. */
static int64_t table_find(const cl_merge *m, uint64_t h, int64_t row)
{
	int64_t s = (int64_t)(h & (uint64_t)(m->nslots - 1));
	uint32_t tag = cl__merge_tag_of(h);
	while (m->tab[s].row1 != CL__MERGE_SLOT_EMPTY) {
		if (m->tab[s].tag == tag &&
		    cl__merge_keys_equal(m->cols, m->key_idx, m->tab[s].row1 - 1, m->cols,
					 m->key_idx, row, m->nkeys))
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
		return cl__merge_oom(err);
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
		return cl__merge_oom(err);
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
		return cl__merge_oom(err);
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
			return cl__merge_oom(err);
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
		return cl__merge_value_cmp(&m->cols[m->seq_idx], b, &m->cols[m->seq_idx],
					   a) >= 0;
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
		if ((rc = cl__merge_bind_schema(m, err)))
			return cl_error_prefix(err, "%s: ", file);
	}
	/* Map the batch's columns onto the table's, adding new ones. */
	int ncols = fs->nfields;
	int *src = cl_malloc(sizeof *src * (size_t)(m->schema->nfields + ncols + 1));
	if (!src)
		return cl__merge_oom(err);
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
	if (cl__merge_slots_for(m->nused + nkeep) > m->nslots &&
	    (rc = table_rebuild(m, m->nused + nkeep, err)))
		goto done;
	if (nkeep > m->hbuf_cap) {
		cl_free(m->hbuf);
		m->hbuf_cap = 0;
		if (!(m->hbuf = cl_malloc((size_t)nkeep * sizeof *m->hbuf))) {
			rc = cl__merge_oom(err);
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
		m->tab[s].tag = cl__merge_tag_of(h);
		m->winner[r] = 1;
	}
	if (!m->ignore_null && m->nrows > 65536 && m->nrows > 2 * m->nwinners)
		rc = compact(m, err);
done:
	cl_free(src);
	return rc;
}

/* Room for `rows` more change records (merge_internal.h). */
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
	if (!rc && m->nkeys && cl__merge_slots_for(m->nused + rows) > m->nslots)
		rc = table_rebuild(m, m->nused + rows, err);
	return rc;
}
