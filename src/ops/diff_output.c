/*
 * diff_output.c — the rows a diff emits: built from the two sides' views,
 * accumulated per worker in chunks of the output schema and sorted into
 * runs (spilled to temporary files past the worker's memory budget); the
 * runs of all workers are merged into the final key order by diff_merge.c.
 *
 * Row order. Every output row carries two provenances: lprov and rprov,
 * the input positions (source << 40 | row) of its left and right rows, -1
 * for a missing side. Rows sort by the key columns (cl__diff_order), then
 * rprov, then lprov. Keys are unique unless duplicates are allowed, and
 * equal keys always come from the same inputs rows whatever the thread
 * count or memory limit, so the order — and the output bytes — never
 * depend on how the work was split or spilled.
 *
 * Runs. A run is a sorted sequence of rows: the rows still in memory at the
 * end (order[] over the chunks), or a temporary file of records of at most
 * RUN_REC_ROWS rows (diff_spill.c format: the output columns, then lprov
 * and rprov) written when the accumulator passed its budget. The merge of
 * all runs is in diff_merge.c.
 *
 * Rows are appended one at a time (cl__diff_out_row, when a row needs its
 * own changed flags) or in bulk (cl__diff_out_rows): a typed gather per
 * output column (cl__diff_gather, also the merge's).
 *
 * Invariants: chunks[i] holds rows [i * CHUNK_ROWS, (i + 1) * CHUNK_ROWS)
 * of the rows in memory; prov[i] holds their lprov, rprov pairs.
 */
#include "diff_impl.h"

#include <stdlib.h>
#include <string.h>

#define RUN_REC_ROWS CL__RUN_REC_ROWS
#define CHECK_EVERY 1024 /* rows between two budget checks */
#define GATHER_AHEAD 16  /* rows a gather asks for ahead (prefetch) */

static int oom(cl_error *err)
{
	return cl_error_set(err, CL_ENOMEM, "out of memory");
}

int cl__diff_out_init(cl__diff_out *o, const cl__diff_plan *p, int64_t batch_rows,
		      int64_t budget, const char *tmp_dir, cl_error *err)
{
	memset(o, 0, sizeof *o);
	o->plan = p;
	o->batch_rows = batch_rows > 0 ? batch_rows : 65536;
	o->budget = budget;
	o->tmp_dir = tmp_dir;
	o->vidx = cl_malloc((size_t)(p->nu + 1) * sizeof *o->vidx);
	if (!o->vidx)
		return oom(err);
	for (int u = 0; u < p->nu; u++)
		o->vidx[u] = -1;
	for (int v = 0; v < p->nvalues; v++)
		o->vidx[p->values[v]] = v;
	return 0;
}

static void drop_rows(cl__diff_out *o)
{
	for (int i = 0; i < o->nchunks; i++) {
		cl_batch_free(o->chunks[i]);
		cl_free(o->prov[i]);
	}
	o->nchunks = 0;
	o->nrows = 0;
	o->bytes = 0;
	cl_free(o->order);
	o->order = NULL;
}

void cl__diff_out_release(cl__diff_out *o)
{
	drop_rows(o);
	cl_free(o->chunks);
	cl_free(o->prov);
	for (int i = 0; i < o->nruns; i++)
		fclose(o->runs[i]);
	cl_free(o->runs);
	cl_free(o->vidx);
	cl_free(o->r_lcols);
	cl_free(o->r_lrow);
	cl_free(o->r_lprov);
	cl_free(o->r_rrow);
	cl_free(o->r_rprov);
	cl_free(o->g_src);
	memset(o, 0, sizeof *o);
}

/* Whether a value of side `mine` is shown in sparse mode. */
static bool sparse_shows(const cl__diff_out *o, int u, const cl_column *const *mine,
			 int64_t mrow, const cl_column *const *other, int64_t orow,
			 const uint8_t *changed)
{
	if (!mine)
		return false;
	if (!other)
		return true; /* differs from the missing side's NULL (or is NULL) */
	if (o->plan->u[u].role == ROLE_IGNORED)
		return !cl__diff_equal_any(mine[u], mrow, other[u], orow);
	int v = o->vidx[u];
	return v >= 0 && changed && changed[v];
}

static int append_value(cl_column *dst, const cl_column *src, int64_t row,
			cl_error *err)
{
	if (src->type.id == CL_NULLTYPE)
		return cl_column_append_null(dst, err);
	return cl_column_append_from(dst, src, row, err);
}

static int64_t chunk_bytes(const cl_batch *b)
{
	int64_t n = (b->nrows + 1024) * 16; /* provenances, as grown */
	for (int c = 0; c < b->ncols; c++)
		n += cl__column_bytes(&b->cols[c]);
	return n;
}

static int new_chunk(cl__diff_out *o, cl_error *err)
{
	if (o->nchunks == o->capchunks) {
		int cap = o->capchunks ? 2 * o->capchunks : 16;
		cl_batch **c = cl_realloc(o->chunks, (size_t)cap * sizeof *c);
		if (!c)
			return oom(err);
		o->chunks = c;
		int64_t **pv = cl_realloc(o->prov, (size_t)cap * sizeof *pv);
		if (!pv)
			return oom(err);
		o->prov = pv;
		o->capchunks = cap;
	}
	if (o->nchunks)
		o->bytes += chunk_bytes(o->chunks[o->nchunks - 1]);
	/* the first chunk grows from 1024 rows; past it (many output rows),
	 * with room in the budget, chunks are made whole: growing them again
	 * copied every row once more into fresh memory */
	int64_t rows = 1024;
	if (o->nchunks && (o->budget <= 0 || o->budget >= ((int64_t)1 << 28)))
		rows = CL__CHUNK_ROWS;
	o->prov[o->nchunks] = cl_malloc((size_t)rows * 2 * sizeof(int64_t));
	if (!o->prov[o->nchunks])
		return oom(err);
	o->provcap = rows;
	int rc = cl_batch_create(&o->chunks[o->nchunks], o->plan->out_schema, rows, err);
	if (rc) {
		cl_free(o->prov[o->nchunks]);
		return rc;
	}
	o->nchunks++;
	return 0;
}

int64_t cl__diff_out_memory(const cl__diff_out *o)
{
	int64_t n = o->bytes;
	if (o->nchunks)
		n += chunk_bytes(o->chunks[o->nchunks - 1]);
	return n;
}

/* Room for n provenance pairs in the last chunk (growing by doubling). */
static int prov_room(cl__diff_out *o, int64_t n, cl_error *err)
{
	if (n <= o->provcap)
		return 0;
	int64_t cap = o->provcap;
	while (cap < n)
		cap *= 2;
	int64_t *x = cl_realloc(o->prov[o->nchunks - 1], (size_t)cap * 2 * sizeof *x);
	if (!x)
		return oom(err);
	o->prov[o->nchunks - 1] = x;
	o->provcap = cap;
	return 0;
}

int cl__diff_out_row(cl__diff_out *o, int act, const cl_column *const *l, int64_t lrow,
		     int64_t lprov, const cl_column *const *r, int64_t rrow, int64_t rprov,
		     const uint8_t *changed, cl_error *err)
{
	const cl__diff_plan *p = o->plan;
	int rc;
	if (o->nrows == (int64_t)o->nchunks * CL__CHUNK_ROWS && (rc = new_chunk(o, err)))
		return rc;
	cl_batch *b = o->chunks[o->nchunks - 1];
	for (int c = 0; c < p->nout; c++) {
		const cl__ocol *oc = &p->out[c];
		cl_column *dst = &b->cols[c];
		switch (oc->kind) {
		case OUT_DIFF:
			rc = cl_column_append_bytes(dst, p->val[act], p->val_len[act], err);
			break;
		case OUT_CHANGE:
			if (act == ACT_I || act == ACT_D) {
				rc = cl_column_append_null(dst, err);
				break;
			}
			{
				/* names joined by ',' straight into the column */
				int64_t n = 0;
				for (int v = 0; v < p->nvalues; v++)
					if (changed && changed[v])
						n += (int64_t)strlen(p->u[p->values[v]].name) + 1;
				if ((rc = cl_column_reserve(dst, 1, err)) ||
				    (rc = cl_column_reserve_data(dst, n, err)))
					break;
				int64_t at = dst->offsets[dst->length], start = at;
				for (int v = 0; v < p->nvalues; v++) {
					if (!changed || !changed[v])
						continue;
					const char *nm = p->u[p->values[v]].name;
					size_t ln = strlen(nm);
					if (at > start)
						dst->data[at++] = ',';
					memcpy(dst->data + at, nm, ln);
					at += (int64_t)ln;
				}
				dst->offsets[dst->length + 1] = at;
				dst->length++;
			}
			break;
		case OUT_KEY:
			rc = l ? append_value(dst, l[oc->u], lrow, err)
			       : append_value(dst, r[oc->u], rrow, err);
			break;
		case OUT_LEFT: case OUT_RIGHT: {
			bool left = oc->kind == OUT_LEFT;
			const cl_column *const *mine = left ? l : r;
			const cl_column *const *other = left ? r : l;
			int64_t mrow = left ? lrow : rrow, orow = left ? rrow : lrow;
			if (!mine || (p->sparse && !sparse_shows(o, oc->u, mine, mrow, other,
								 orow, changed)))
				rc = cl_column_append_null(dst, err);
			else
				rc = append_value(dst, mine[oc->u], mrow, err);
			break;
		}
		default:
			rc = cl_error_set(err, CL_EINTERNAL, "diff: bad output column");
		}
		if (rc)
			return rc;
	}
	int64_t nr = b->nrows;
	if ((rc = prov_room(o, nr + 1, err)))
		return rc;
	int64_t *pv = o->prov[o->nchunks - 1] + 2 * nr;
	pv[0] = lprov;
	pv[1] = rprov;
	b->nrows++;
	o->nrows++;
	o->total_rows++;
	if (o->budget > 0 && o->nrows % CHECK_EVERY == 0 &&
	    cl__diff_out_memory(o) > o->budget)
		return cl__diff_out_spill(o, err);
	return 0;
}

/*
 * Append row rows[i] of column src[i] to dst for i in [0, n): the typed
 * bulk form of append_value (one pass per column instead of a call per
 * value). Types other than fixed-width, boolean and variable-length ones,
 * or a source whose type differs from dst's, take the per-value path.
 */
int cl__diff_gather(cl_column *dst, const cl_column *const *src, const int64_t *rows,
		    int64_t n, cl_error *err)
{
	int rc;
	if (n <= 0)
		return 0;
	int w = cl_type_width(dst->type);
	bool var = cl_type_is_var(dst->type), isbool = dst->type.id == CL_BOOL;
	bool slow = !w && !var && !isbool;
	for (int64_t i = 0; i < n && !slow; i++)
		slow = src[i]->type.id != dst->type.id;
	if (slow) {
		for (int64_t i = 0; i < n; i++)
			if ((rc = append_value(dst, src[i], rows[i], err)))
				return rc;
		return 0;
	}
	if ((rc = cl_column_reserve(dst, n, err)))
		return rc;
	int64_t base = dst->length, nnull = 0;
	/* the rows are spread over the sources (the merge's picks): each pass
	 * asks for row i + GATHER_AHEAD's bytes ahead of their use */
	for (int64_t i = 0; i < n; i++) {
		if (i + GATHER_AHEAD < n && src[i + GATHER_AHEAD]->validity)
			__builtin_prefetch(src[i + GATHER_AHEAD]->validity +
					   (rows[i + GATHER_AHEAD] >> 3));
		if (!cl_column_is_null(src[i], rows[i]))
			continue;
		if (!dst->validity && (rc = cl_column_ensure_validity(dst, err)))
			return rc;
		nnull++;
	}
	if (dst->validity)
		for (int64_t i = 0; i < n; i++)
			cl_bit_set(dst->validity, base + i,
				   !cl_column_is_null(src[i], rows[i]));
	if (var) {
		int64_t total = 0;
		for (int64_t i = 0; i < n; i++) {
			const cl_column *s = src[i];
			if (i + GATHER_AHEAD < n)
				__builtin_prefetch(src[i + GATHER_AHEAD]->offsets +
						   rows[i + GATHER_AHEAD]);
			if (!cl_column_is_null(s, rows[i]))
				total += s->offsets[rows[i] + 1] - s->offsets[rows[i]];
		}
		if ((rc = cl_column_reserve_data(dst, total, err)))
			return rc;
		int64_t at = dst->offsets[base];
		for (int64_t i = 0; i < n; i++) {
			const cl_column *s = src[i];
			if (i + GATHER_AHEAD < n) {
				const cl_column *a = src[i + GATHER_AHEAD];
				__builtin_prefetch(a->data + a->offsets[rows[i + GATHER_AHEAD]]);
			}
			if (!cl_column_is_null(s, rows[i])) {
				int64_t o = s->offsets[rows[i]];
				int64_t len = s->offsets[rows[i] + 1] - o;
				if (len)
					memcpy(dst->data + at, s->data + o, (size_t)len);
				at += len;
			}
			dst->offsets[base + i + 1] = at;
		}
	} else if (isbool) {
		for (int64_t i = 0; i < n; i++) {
			const cl_column *s = src[i];
			cl_bit_set(dst->values, base + i,
				   !cl_column_is_null(s, rows[i]) && cl_bit_get(s->values, rows[i]));
		}
	} else {
#define GATHER_W(W)                                                                    \
	for (int64_t i = 0; i < n; i++) {                                              \
		const cl_column *s = src[i];                                           \
		uint8_t *d = dst->values + (size_t)(base + i) * (W);                   \
		if (i + GATHER_AHEAD < n)                                              \
			__builtin_prefetch(src[i + GATHER_AHEAD]->values +             \
					   (size_t)rows[i + GATHER_AHEAD] * (W));      \
		if (cl_column_is_null(s, rows[i]))                                     \
			memset(d, 0, (W));                                             \
		else                                                                   \
			memcpy(d, s->values + (size_t)rows[i] * (W), (W));             \
	}
		switch (w) {
		case 1: GATHER_W(1) break;
		case 2: GATHER_W(2) break;
		case 4: GATHER_W(4) break;
		case 8: GATHER_W(8) break;
		case 16: GATHER_W(16) break;
		default: GATHER_W((size_t)w) break;
		}
#undef GATHER_W
	}
	dst->length += n;
	dst->null_count += nnull;
	return 0;
}


int cl__diff_out_reserve(cl__diff_out *o, int64_t n, cl_error *err)
{
	if (n <= o->rcap)
		return 0;
	int64_t c = o->rcap ? o->rcap : 1024;
	while (c < n)
		c *= 2;
#define GROW(f)                                                              \
	do {                                                                 \
		void *x_ = cl_realloc((void *)o->f, (size_t)c * sizeof *o->f); \
		if (!x_)                                                     \
			return oom(err);                                     \
		o->f = x_;                                                   \
	} while (0)
	GROW(r_lcols);
	GROW(r_lrow);
	GROW(r_lprov);
	GROW(r_rrow);
	GROW(r_rprov);
	GROW(g_src);
#undef GROW
	o->rcap = c;
	return 0;
}

/* Rows [at, at + m) of the r_* arrays into the last chunk. */
static int out_rows_chunk(cl__diff_out *o, int act, int64_t at, int64_t m, bool has_left,
			  const cl_column *const *rcols, cl_error *err)
{
	const cl__diff_plan *p = o->plan;
	cl_batch *b = o->chunks[o->nchunks - 1];
	int rc;
	for (int c = 0; c < p->nout; c++) {
		const cl__ocol *oc = &p->out[c];
		cl_column *dst = &b->cols[c];
		bool left = oc->kind == OUT_LEFT || (oc->kind == OUT_KEY && has_left);
		if (oc->kind == OUT_DIFF) {
			size_t len = p->val_len[act];
			if ((rc = cl_column_reserve(dst, m, err)) ||
			    (rc = cl_column_reserve_data(dst, (int64_t)len * m, err)))
				return rc;
			int64_t pos = dst->offsets[dst->length];
			for (int64_t i = 0; i < m; i++) {
				if (len)
					memcpy(dst->data + pos, p->val[act], len);
				pos += (int64_t)len;
				dst->offsets[dst->length + i + 1] = pos;
			}
			if (dst->validity)
				for (int64_t i = 0; i < m; i++)
					cl_bit_set(dst->validity, dst->length + i, true);
			dst->length += m;
			continue;
		}
		if (oc->kind != OUT_KEY && oc->kind != OUT_LEFT && oc->kind != OUT_RIGHT &&
		    oc->kind != OUT_CHANGE)
			return cl_error_set(err, CL_EINTERNAL, "diff: bad output column");
		/* the change column is NULL on I and D rows, the only ones here
		 * when the plan has one */
		if (oc->kind == OUT_CHANGE || (left && !has_left) || (!left && !rcols)) {
			for (int64_t i = 0; i < m; i++)
				if ((rc = cl_column_append_null(dst, err)))
					return rc;
			continue;
		}
		int u = oc->u;
		if (left) {
			for (int64_t i = 0; i < m; i++)
				o->g_src[i] = o->r_lcols[at + i][u];
		} else {
			for (int64_t i = 0; i < m; i++)
				o->g_src[i] = rcols[u];
		}
		if ((rc = cl__diff_gather(dst, o->g_src, (left ? o->r_lrow : o->r_rrow) + at, m, err)))
			return rc;
	}
	int64_t nr = b->nrows;
	if ((rc = prov_room(o, nr + m, err)))
		return rc;
	int64_t *pv = o->prov[o->nchunks - 1] + 2 * nr;
	for (int64_t i = 0; i < m; i++) {
		pv[2 * i] = has_left ? o->r_lprov[at + i] : -1;
		pv[2 * i + 1] = rcols ? o->r_rprov[at + i] : -1;
	}
	b->nrows += m;
	o->nrows += m;
	o->total_rows += m;
	return 0;
}

int cl__diff_out_rows(cl__diff_out *o, int act, int64_t n, bool has_left,
		      const cl_column *const *rcols, cl_error *err)
{
	const cl__diff_plan *p = o->plan;
	int rc;
	if ((act == ACT_C || act == ACT_N) && (p->sparse || p->has_change))
		return cl_error_set(err, CL_EINTERNAL, "diff: bulk C/N rows need changed flags");
	for (int64_t at = 0; at < n;) {
		if (o->nrows == (int64_t)o->nchunks * CL__CHUNK_ROWS && (rc = new_chunk(o, err)))
			return rc;
		/* to the chunk's end, and to the next budget check (every
		 * CHECK_EVERY rows, as in cl__diff_out_row) */
		int64_t m = (int64_t)o->nchunks * CL__CHUNK_ROWS - o->nrows;
		int64_t to_check = CHECK_EVERY - o->nrows % CHECK_EVERY;
		if (m > to_check)
			m = to_check;
		if (m > n - at)
			m = n - at;
		if ((rc = out_rows_chunk(o, act, at, m, has_left, rcols, err)))
			return rc;
		at += m;
		if (o->budget > 0 && o->nrows % CHECK_EVERY == 0 &&
		    cl__diff_out_memory(o) > o->budget && (rc = cl__diff_out_spill(o, err)))
			return rc;
	}
	return 0;
}

/* ---- sorting ------------------------------------------------------------ */

typedef struct sort_ctx {
	const cl__diff_out *o;
	int first_key; /* output column of the first key */
	int nkeys;
} sort_ctx;

static int cmp_rows(const void *a, const void *b, void *arg)
{
	const sort_ctx *s = arg;
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	const cl_batch *bx = s->o->chunks[x >> CL__CHUNK_BITS];
	const cl_batch *by = s->o->chunks[y >> CL__CHUNK_BITS];
	int64_t rx = (int64_t)(x & CL__CHUNK_MASK), ry = (int64_t)(y & CL__CHUNK_MASK);
	for (int k = 0; k < s->nkeys; k++) {
		int c = cl__diff_order(&bx->cols[s->first_key + k], rx,
				       &by->cols[s->first_key + k], ry);
		if (c)
			return c;
	}
	const int64_t *px = s->o->prov[x >> CL__CHUNK_BITS] + 2 * rx;
	const int64_t *py = s->o->prov[y >> CL__CHUNK_BITS] + 2 * ry;
	return cl__diff_cmp_prov(px[0], px[1], py[0], py[1]);
}

/*
 * One integer key without NULLs (the common case): each row's key mapped
 * to an unsigned number in the same order, radix-sorted (LSD, 8 bits a
 * pass, passes whose byte is the same for every row skipped) with the row
 * numbers; rows with equal keys then ordered by cmp_rows, as qsort_r
 * would. The order is the same as cmp_rows' (a total order). false when
 * the key does not qualify (nothing done).
 */
static bool radix_order(cl__diff_out *o, const sort_ctx *s, bool *oom)
{
	*oom = false;
	if (s->nkeys != 1 || o->nrows < 64)
		return false;
	cl_type_id t = o->plan->out_schema->fields[s->first_key].type.id;
	bool sign;
	switch (t) {
	case CL_INT8: case CL_INT16: case CL_INT32: case CL_INT64: case CL_DATE:
	case CL_TIME: case CL_TIMESTAMP:
		sign = true;
		break;
	case CL_UINT8: case CL_UINT16: case CL_UINT32: case CL_UINT64:
		sign = false;
		break;
	default:
		return false;
	}
	for (int c = 0; c < o->nchunks; c++) {
		const cl_column *k = &o->chunks[c]->cols[s->first_key];
		if (k->type.id != t || k->null_count)
			return false;
	}
	size_t n = (size_t)o->nrows;
	uint64_t *key = cl_malloc(2 * n * sizeof *key);
	uint64_t *tmp = cl_malloc(2 * n * sizeof *tmp);
	if (!key || !tmp) {
		cl_free(key);
		cl_free(tmp);
		*oom = true;
		return false;
	}
	uint64_t flip = sign ? (uint64_t)1 << 63 : 0, all_or = 0, all_and = ~(uint64_t)0;
	for (size_t i = 0; i < n; i++) {
		const cl_column *k = &o->chunks[i >> CL__CHUNK_BITS]->cols[s->first_key];
		uint64_t v = (uint64_t)cl_column_get_i64(k, (int64_t)(i & CL__CHUNK_MASK)) ^ flip;
		key[2 * i] = v;
		key[2 * i + 1] = i;
		all_or |= v;
		all_and &= v;
	}
	/* the bytes that differ between rows */
	uint64_t differ = all_or ^ all_and;
	size_t cnt[256];
	for (int shift = 0; shift < 64; shift += 8) {
		if (!((differ >> shift) & 0xff))
			continue;
		memset(cnt, 0, sizeof cnt);
		for (size_t i = 0; i < n; i++)
			cnt[(key[2 * i] >> shift) & 0xff]++;
		size_t at = 0;
		for (int b = 0; b < 256; b++) {
			size_t c = cnt[b];
			cnt[b] = at;
			at += c;
		}
		for (size_t i = 0; i < n; i++) {
			size_t d = cnt[(key[2 * i] >> shift) & 0xff]++;
			tmp[2 * d] = key[2 * i];
			tmp[2 * d + 1] = key[2 * i + 1];
		}
		uint64_t *x = key;
		key = tmp;
		tmp = x;
	}
	for (size_t i = 0; i < n; i++)
		o->order[i] = key[2 * i + 1];
	/* equal keys: by provenance */
	for (size_t i = 0; i < n;) {
		size_t j = i + 1;
		while (j < n && key[2 * j] == key[2 * i])
			j++;
		if (j - i > 1)
			qsort_r(o->order + i, j - i, sizeof *o->order, cmp_rows, (void *)s);
		i = j;
	}
	cl_free(key);
	cl_free(tmp);
	return true;
}

int cl__diff_out_sort(cl__diff_out *o, cl_error *err)
{
	cl_free(o->order);
	o->order = cl_malloc((size_t)(o->nrows ? o->nrows : 1) * sizeof *o->order);
	if (!o->order)
		return cl_error_set(err, CL_ENOMEM, "out of memory sorting %lld diff rows",
				    (long long)o->nrows);
	sort_ctx s = {o, o->plan->has_change ? 2 : 1, o->plan->nkeys};
	bool no_mem;
	if (radix_order(o, &s, &no_mem))
		return 0;
	for (int64_t i = 0; i < o->nrows; i++)
		o->order[i] = (uint64_t)i;
	qsort_r(o->order, (size_t)o->nrows, sizeof *o->order, cmp_rows, &s);
	return 0;
}

/* Sort the rows in memory and write them to a new run file. */
int cl__diff_out_spill(cl__diff_out *o, cl_error *err)
{
	if (!o->nrows)
		return 0;
	int rc = cl__diff_out_sort(o, err);
	if (rc)
		return rc;
	if (o->nruns == o->capruns) {
		int cap = o->capruns ? 2 * o->capruns : 8;
		FILE **r = cl_realloc(o->runs, (size_t)cap * sizeof *r);
		if (!r)
			return oom(err);
		o->runs = r;
		o->capruns = cap;
	}
	FILE *f = cl__spill_tmpfile(o->tmp_dir, err);
	if (!f)
		return err ? err->code : CL_EIO;
	o->runs[o->nruns++] = f;
	const cl_schema *s = o->plan->out_schema;
	int nc = s->nfields + 2;
	cl_column *cols = cl_calloc((size_t)nc, sizeof *cols);
	cl_column **ptrs = cl_calloc((size_t)nc, sizeof *ptrs);
	if (!cols || !ptrs) {
		cl_free(cols);
		cl_free(ptrs);
		return oom(err);
	}
	for (int c = 0; c < nc && !rc; c++) {
		rc = cl_column_init(&cols[c], c < s->nfields ? s->fields[c].type
							     : cl_type_make(CL_INT64),
				    RUN_REC_ROWS, err);
		ptrs[c] = &cols[c];
	}
	long before = ftell(f);
	for (int64_t at = 0; !rc && at < o->nrows; at += RUN_REC_ROWS) {
		int64_t n = o->nrows - at < RUN_REC_ROWS ? o->nrows - at : RUN_REC_ROWS;
		for (int c = 0; c < nc && !rc; c++) {
			cl_column_clear(&cols[c]);
			for (int64_t i = 0; i < n && !rc; i++) {
				uint64_t g = o->order[at + i];
				int64_t row = (int64_t)(g & CL__CHUNK_MASK);
				if (c < s->nfields)
					rc = cl_column_append_from(
						&cols[c], &o->chunks[g >> CL__CHUNK_BITS]->cols[c],
						row, err);
				else
					rc = cl_column_append_i64(
						&cols[c],
						o->prov[g >> CL__CHUNK_BITS][2 * row + (c - s->nfields)],
						err);
			}
		}
		if (!rc)
			rc = cl__spill_write(f, ptrs, nc, n, err);
	}
	if (!rc)
		o->spill_bytes += ftell(f) - before;
	for (int c = 0; c < nc; c++)
		cl_column_release(&cols[c]);
	cl_free(cols);
	cl_free(ptrs);
	if (!rc)
		drop_rows(o);
	return rc;
}
