/*
 * diff_output.c — the rows a diff emits: built from the two sides' views,
 * accumulated in chunks of the output schema, then handed out sorted by key.
 *
 * Invariants: chunks[i] holds rows [i * CHUNK_ROWS, (i + 1) * CHUNK_ROWS)
 * of the accumulation, in append order; the sort orders by the key columns
 * (cl__diff_order) and breaks ties by append order, which keeps rows of one
 * key (possible only with duplicate keys) in the order the engine produced
 * them — the same in memory and when spilled, since a key's rows always
 * share a partition and keep their relative input order.
 */
#include "diff_impl.h"

#include <stdlib.h>
#include <string.h>

int cl__diff_out_init(cl__diff_out *o, const cl__diff_plan *p, int64_t batch_rows,
		      cl_error *err)
{
	memset(o, 0, sizeof *o);
	o->plan = p;
	o->batch_rows = batch_rows > 0 ? batch_rows : 65536;
	o->vidx = cl_malloc((size_t)(p->nu + 1) * sizeof *o->vidx);
	if (!o->vidx)
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	for (int u = 0; u < p->nu; u++)
		o->vidx[u] = -1;
	for (int v = 0; v < p->nvalues; v++)
		o->vidx[p->values[v]] = v;
	return 0;
}

void cl__diff_out_release(cl__diff_out *o)
{
	for (int i = 0; i < o->nchunks; i++)
		cl_batch_free(o->chunks[i]);
	cl_free(o->chunks);
	cl_free(o->order);
	cl_free(o->vidx);
	cl_batch_free(o->emit);
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

int cl__diff_out_row(cl__diff_out *o, int act, const cl_column *const *l, int64_t lrow,
		     const cl_column *const *r, int64_t rrow, const uint8_t *changed,
		     cl_error *err)
{
	const cl__diff_plan *p = o->plan;
	int rc;
	if (o->nrows == (int64_t)o->nchunks * CL__CHUNK_ROWS) {
		if (o->nchunks == o->capchunks) {
			int cap = o->capchunks ? 2 * o->capchunks : 16;
			cl_batch **c = cl_realloc(o->chunks, (size_t)cap * sizeof *c);
			if (!c)
				return cl_error_set(err, CL_ENOMEM, "out of memory");
			o->chunks = c;
			o->capchunks = cap;
		}
		if (o->nchunks) {
			cl_batch *prev = o->chunks[o->nchunks - 1];
			for (int c = 0; c < prev->ncols; c++)
				o->bytes += cl__column_bytes(&prev->cols[c]);
		}
		if ((rc = cl_batch_create(&o->chunks[o->nchunks], p->out_schema, 1024, err)))
			return rc;
		o->nchunks++;
	}
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
	b->nrows++;
	o->nrows++;
	return 0;
}

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
	return (x > y) - (x < y);
}

int cl__diff_out_sort(cl__diff_out *o, cl_error *err)
{
	cl_free(o->order);
	o->order = cl_malloc((size_t)(o->nrows ? o->nrows : 1) * sizeof *o->order);
	if (!o->order)
		return cl_error_set(err, CL_ENOMEM, "out of memory sorting %lld diff rows",
				    (long long)o->nrows);
	for (int64_t i = 0; i < o->nrows; i++)
		o->order[i] = (uint64_t)i;
	sort_ctx s = {o, o->plan->has_change ? 2 : 1, o->plan->nkeys};
	qsort_r(o->order, (size_t)o->nrows, sizeof *o->order, cmp_rows, &s);
	o->pos = 0;
	return 0;
}

int cl__diff_out_next(cl__diff_out *o, cl_batch **out, cl_error *err)
{
	*out = NULL;
	if (o->pos >= o->nrows)
		return 0;
	int rc;
	if (!o->emit && (rc = cl_batch_create(&o->emit, o->plan->out_schema,
					      o->batch_rows, err)))
		return rc;
	cl_batch_clear(o->emit);
	int64_t n = o->nrows - o->pos;
	if (n > o->batch_rows)
		n = o->batch_rows;
	const uint64_t *ord = o->order + o->pos;
	for (int c = 0; c < o->emit->ncols; c++) {
		cl_column *dst = &o->emit->cols[c];
		for (int64_t i = 0; i < n; i++) {
			uint64_t g = ord[i];
			rc = cl_column_append_from(dst, &o->chunks[g >> CL__CHUNK_BITS]->cols[c],
						   (int64_t)(g & CL__CHUNK_MASK), err);
			if (rc)
				return rc;
		}
	}
	o->emit->nrows = n;
	o->pos += n;
	*out = o->emit;
	return 0;
}
