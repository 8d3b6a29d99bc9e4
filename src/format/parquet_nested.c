/*
 * parquet_nested.c — plan a Parquet schema tree into flat output columns,
 * and assemble the JSON text of list/map columns from their leaves' level
 * streams. The design and the rules are in parquet_nested.h.
 *
 * Invariants of the assembly (checked, not assumed: the levels come from
 * the file): while a node of row r is rendered, the cursor (pos) of every
 * leaf below it points at that node's first entry in the leaf, and no
 * cursor passes its row end; a node consumes exactly its entries in every
 * leaf below it. Recursion depth is bounded by the schema depth, which the
 * footer decoder limits to 100.
 */
#include "parquet_nested.h"
#include "parquet_format.h"
#include "parquet_meta.h"
#include "core/json.h"
#include "core/value_text.h"

#include <math.h>
#include <string.h>

/* ---- planning ---- */

static bool is_list_group(const cl__pq_schema_elem *e)
{
	return e->type < 0 && (e->logical.kind == PQ_LT_LIST || e->converted == PQ_CT_LIST);
}

static bool is_map_group(const cl__pq_schema_elem *e)
{
	return e->type < 0 && (e->logical.kind == PQ_LT_MAP || e->converted == PQ_CT_MAP ||
			       e->converted == PQ_CT_MAP_KEY_VALUE);
}

typedef struct plan_walk {
	const cl__pq_meta *m;
	cl__pq_plan *p;
	int leaf;
	int next;
	cl_error *err;
	int rc;
} plan_walk;

/* Fill nodes[] for element w->next and its subtree (the tree's shape was
 * validated by the footer decoder). */
static void walk_nodes(plan_walk *w, int def, int rep)
{
	int i = w->next++;
	const cl__pq_schema_elem *e = &w->m->schema[i];
	cl__pq_node *n = &w->p->nodes[i];
	if (i > 0) {
		if (e->repetition == PQ_OPTIONAL)
			def++;
		else if (e->repetition == PQ_REPEATED) {
			def++;
			rep++;
		}
	}
	n->def = def;
	n->rep = rep;
	n->first_leaf = w->leaf;
	n->repeated = n->elem = -1;
	if (e->num_children == 0) {
		n->kind = e->type >= 0 ? CL__PQ_PRIM : CL__PQ_STRUCT;
		if (e->type >= 0)
			w->leaf++;
	} else {
		n->kind = CL__PQ_STRUCT;
		for (int c = 0; c < e->num_children; c++)
			walk_nodes(w, def, rep);
	}
	n->nleaves = w->leaf - n->first_leaf;
	n->end = w->next;
	if (e->num_children != 1 || i == 0)
		return;
	/* LIST / MAP shapes (LogicalTypes.md, backward-compatibility rules) */
	int r = i + 1;
	const cl__pq_schema_elem *re = &w->m->schema[r];
	if (re->repetition != PQ_REPEATED)
		return;
	if (is_list_group(e)) {
		n->kind = CL__PQ_LIST;
		n->repeated = r;
		n->elem = r;
		if (re->type < 0 && re->num_children == 1) {
			size_t nl = strlen(e->name);
			bool legacy = !strcmp(re->name, "array") ||
				      (!strncmp(re->name, e->name, nl) &&
				       !strcmp(re->name + nl, "_tuple"));
			if (!legacy)
				n->elem = r + 1;
		}
	} else if (is_map_group(e) && re->type < 0 &&
		   (re->num_children == 1 || re->num_children == 2)) {
		n->kind = CL__PQ_MAP;
		n->repeated = r;
	}
}

static int add_col(plan_walk *w, int node, bool json, const char *name, int parent_def)
{
	cl__pq_plan *p = w->p;
	cl__pq_outcol *c = &p->cols[p->ncols];
	c->name = cl_strdup(name);
	if (!c->name)
		return cl_error_set(w->err, CL_ENOMEM, "out of memory");
	p->ncols++;
	c->json = json;
	c->node = node;
	c->first_leaf = p->nodes[node].first_leaf;
	c->nleaves = p->nodes[node].nleaves;
	c->parent_def = parent_def;
	return 0;
}

/* Output columns of the children of struct `g` (not repeated). */
static int plan_struct(plan_walk *w, int g, const char *prefix, cl_buf *name)
{
	const cl__pq_meta *m = w->m;
	const cl__pq_node *gn = &w->p->nodes[g];
	for (int c = g + 1; c < gn->end; c = w->p->nodes[c].end) {
		const cl__pq_schema_elem *e = &m->schema[c];
		const cl__pq_node *n = &w->p->nodes[c];
		cl_buf_clear(name);
		if ((*prefix && cl_buf_printf(name, "%s.", prefix)) || cl_buf_puts(name, e->name) ||
		    cl_buf_putc(name, '\0'))
			return cl_error_set(w->err, CL_ENOMEM, "out of memory");
		if (n->nleaves == 0)
			continue; /* an empty group: nothing to read */
		int rc;
		if (e->repetition != PQ_REPEATED && n->kind == CL__PQ_PRIM)
			rc = add_col(w, c, false, (const char *)name->data, gn->def);
		else if (e->repetition != PQ_REPEATED && n->kind == CL__PQ_STRUCT) {
			char *sub = cl_strdup((const char *)name->data);
			if (!sub)
				return cl_error_set(w->err, CL_ENOMEM, "out of memory");
			rc = plan_struct(w, c, sub, name);
			cl_free(sub);
		} else
			rc = add_col(w, c, true, (const char *)name->data, gn->def);
		if (rc)
			return rc;
	}
	return 0;
}

int cl__pq_plan_build(cl__pq_plan *p, const cl__pq_meta *m, cl_error *err)
{
	memset(p, 0, sizeof *p);
	p->nodes = cl_calloc((size_t)m->nschema, sizeof *p->nodes);
	p->cols = cl_calloc((size_t)(m->nleaves ? m->nleaves : 1), sizeof *p->cols);
	if (!p->nodes || !p->cols) {
		cl__pq_plan_release(p);
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	}
	plan_walk w = {m, p, 0, 0, err, 0};
	walk_nodes(&w, 0, 0);
	for (int i = 0; i < m->nschema; i++) {
		/* levels are kept in bytes; the footer decoder limits the depth
		 * to 100, so this holds for any file it accepted */
		if (p->nodes[i].def > 200 || p->nodes[i].rep > 200) {
			cl__pq_plan_release(p);
			return cl_error_set(err, CL_EFORMAT, "schema nested too deeply");
		}
	}
	cl_buf name = {0};
	int rc = plan_struct(&w, 0, "", &name);
	cl_buf_release(&name);
	if (rc)
		cl__pq_plan_release(p);
	return rc;
}

void cl__pq_plan_release(cl__pq_plan *p)
{
	for (int i = 0; p->cols && i < p->ncols; i++)
		cl_free(p->cols[i].name);
	cl_free(p->cols);
	cl_free(p->nodes);
	memset(p, 0, sizeof *p);
}

void cl__pq_levels_release(cl__pq_levels *l)
{
	cl_free(l->rep);
	cl_free(l->def);
	cl_free(l->row_start);
	cl_column_release(&l->vals);
	memset(l, 0, sizeof *l);
}

/* ---- assembly ---- */

typedef struct asm_ctx {
	const cl__pq_meta *m;
	const cl__pq_node *nodes;
	cl__pq_levels *lv;     /* lv[k] = leaf base + k */
	int base;
	cl_buf *out;
	cl_buf tmp;
	int64_t row;
	cl_error *err;
} asm_ctx;

static int oom(asm_ctx *a)
{
	return cl_error_set(a->err, CL_ENOMEM, "out of memory");
}

static const char *leaf_name(asm_ctx *a, int k)
{
	return a->m->leaves[a->base + k].path;
}

static int disagree(asm_ctx *a, int k, const char *what)
{
	return cl_error_set(a->err, CL_EFORMAT, "row %lld: leaf column '%s': %s",
			    (long long)a->row, leaf_name(a, k), what);
}

/* The witness leaf of node i: its first leaf (index into lv). */
static cl__pq_levels *witness(asm_ctx *a, int i, int *k)
{
	*k = a->nodes[i].first_leaf - a->base;
	return &a->lv[*k];
}

/* Every leaf below node i has one entry with definition level `def` (a
 * NULL or empty node): consume it. */
static int skip_node(asm_ctx *a, int i, int def)
{
	const cl__pq_node *n = &a->nodes[i];
	for (int k = n->first_leaf - a->base, e = k + n->nleaves; k < e; k++) {
		cl__pq_levels *l = &a->lv[k];
		if (l->pos >= l->end)
			return disagree(a, k, "fewer entries than its sibling columns");
		if (l->def[l->pos] != def)
			return disagree(a, k, "definition levels disagree with its sibling columns");
		l->pos++;
	}
	return 0;
}

static int put_prim(asm_ctx *a, const cl_column *c, int64_t j)
{
	cl_buf *o = a->out;
	cl_type_id id = c->type.id;
	if (id == CL_BOOL)
		return cl_buf_puts(o, cl_column_get_bool(c, j) ? "true" : "false") ? oom(a) : 0;
	if (id == CL_STRING) {
		size_t n;
		const uint8_t *p = cl_column_get_bytes(c, j, &n);
		int rc = cl__json_escape(o, (const char *)p, n);
		if (rc == CL_ENOMEM)
			return oom(a);
		return rc ? cl_error_set(a->err, CL_EFORMAT, "row %lld: invalid UTF-8", (long long)a->row) : 0;
	}
	bool bare = (id >= CL_INT8 && id <= CL_UINT64) || id == CL_DECIMAL;
	if (id == CL_FLOAT32 || id == CL_FLOAT64)
		bare = isfinite(cl_column_get_f64(c, j));
	if (bare)
		return cl__value_format(o, c, j) ? oom(a) : 0;
	cl_buf_clear(&a->tmp);
	if (cl__value_format(&a->tmp, c, j))
		return oom(a);
	int rc = cl__json_escape(o, (const char *)a->tmp.data, a->tmp.len);
	return rc ? (rc == CL_ENOMEM ? oom(a) : cl_error_set(a->err, CL_EINTERNAL, "bad text")) : 0;
}

static int render_value(asm_ctx *a, int i);
static int render_present(asm_ctx *a, int i);

/* Whether the list of repeated node r goes on: the witness's next entry
 * repeats at r's level. Every leaf below r must say the same. */
static int list_goes_on(asm_ctx *a, int r, bool *more)
{
	const cl__pq_node *n = &a->nodes[r];
	int k;
	cl__pq_levels *w = witness(a, r, &k);
	*more = w->pos < w->end && w->rep[w->pos] == n->rep;
	for (k = n->first_leaf - a->base; k < n->first_leaf - a->base + n->nleaves; k++) {
		cl__pq_levels *l = &a->lv[k];
		bool m = l->pos < l->end && l->rep[l->pos] >= n->rep;
		if (m != *more || (m && l->rep[l->pos] != n->rep))
			return disagree(a, k, "repetition levels disagree with its sibling columns");
	}
	return 0;
}

/* The entries of repeated node r (a list, or a map's key_value) for one
 * present parent: "[]"/"{}" when empty, else each element via `elem`. */
static int render_repeated(asm_ctx *a, int r, int elem, bool map)
{
	int k, rc;
	cl__pq_levels *w = witness(a, r, &k);
	const cl__pq_node *n = &a->nodes[r];
	if (w->pos >= w->end)
		return disagree(a, k, "fewer entries than its sibling columns");
	if (w->def[w->pos] < n->def) {
		if ((rc = skip_node(a, r, n->def - 1)))
			return rc;
		return cl_buf_puts(a->out, map ? "{}" : "[]") ? oom(a) : 0;
	}
	if (cl_buf_putc(a->out, map ? '{' : '['))
		return oom(a);
	const cl__pq_schema_elem *re = &a->m->schema[r];
	for (bool more = true, first = true; more; first = false) {
		if (!first && cl_buf_putc(a->out, ','))
			return oom(a);
		if (map) {
			int key = r + 1;
			size_t at = a->out->len;
			if ((rc = render_value(a, key)))
				return rc;
			if (a->out->len - at == 4 && !memcmp(a->out->data + at, "null", 4))
				return cl_error_set(a->err, CL_EFORMAT, "row %lld: map '%s' has a null key",
						    (long long)a->row, re->name);
			if (a->out->data[at] != '"') {
				/* a non-string key: its text as the key */
				cl_buf_clear(&a->tmp);
				if (cl_buf_append(&a->tmp, a->out->data + at, a->out->len - at))
					return oom(a);
				a->out->len = at;
				rc = cl__json_escape(a->out, (const char *)a->tmp.data, a->tmp.len);
				if (rc)
					return rc == CL_ENOMEM ? oom(a) : cl_error_set(a->err, CL_EINTERNAL, "bad key");
			}
			if (cl_buf_putc(a->out, ':'))
				return oom(a);
			if (re->num_children == 2)
				rc = render_value(a, a->nodes[key].end);
			else
				rc = cl_buf_puts(a->out, "null") ? oom(a) : 0;
		} else if (elem == r)
			rc = render_present(a, r);
		else
			rc = render_value(a, elem);
		if (rc)
			return rc;
		if ((rc = list_goes_on(a, r, &more)))
			return rc;
	}
	return cl_buf_putc(a->out, map ? '}' : ']') ? oom(a) : 0;
}

/* Node i is present (its parent is, and it is not NULL): render it. */
static int render_present(asm_ctx *a, int i)
{
	const cl__pq_node *n = &a->nodes[i];
	int rc;
	switch (n->kind) {
	case CL__PQ_PRIM: {
		int k = n->first_leaf - a->base;
		cl__pq_levels *l = &a->lv[k];
		if (l->pos >= l->end)
			return disagree(a, k, "fewer entries than its sibling columns");
		if (l->def[l->pos] != l->max_def)
			return disagree(a, k, "definition levels disagree with its sibling columns");
		if (l->vpos >= l->vals.length)
			return disagree(a, k, "fewer values than its definition levels say");
		l->pos++;
		return put_prim(a, &l->vals, l->vpos++);
	}
	case CL__PQ_LIST:
		return render_repeated(a, n->repeated, n->elem, false);
	case CL__PQ_MAP:
		return render_repeated(a, n->repeated, -1, true);
	default:
		break;
	}
	if (cl_buf_putc(a->out, '{'))
		return oom(a);
	bool first = true;
	for (int c = i + 1; c < n->end; c = a->nodes[c].end) {
		if (a->nodes[c].nleaves == 0)
			continue;
		if (!first && cl_buf_putc(a->out, ','))
			return oom(a);
		first = false;
		const char *name = a->m->schema[c].name;
		rc = cl__json_escape(a->out, name, strlen(name));
		if (rc == CL_EINVAL)
			rc = cl_error_set(a->err, CL_EFORMAT, "field name is not valid UTF-8");
		if (rc || cl_buf_putc(a->out, ':'))
			return rc == CL_ENOMEM || !rc ? oom(a) : rc;
		if ((rc = render_value(a, c)))
			return rc;
	}
	return cl_buf_putc(a->out, '}') ? oom(a) : 0;
}

/* Render node i of a present parent: null, a list (repeated field), or
 * its value. */
static int render_value(asm_ctx *a, int i)
{
	const cl__pq_node *n = &a->nodes[i];
	int rep = a->m->schema[i].repetition;
	if (n->nleaves == 0)
		return cl_buf_puts(a->out, "null") ? oom(a) : 0;
	if (rep == PQ_REPEATED)
		return render_repeated(a, i, i, false);
	if (rep == PQ_OPTIONAL) {
		int k;
		cl__pq_levels *w = witness(a, i, &k);
		if (w->pos >= w->end)
			return disagree(a, k, "fewer entries than its sibling columns");
		if (w->def[w->pos] < n->def) {
			int rc = skip_node(a, i, n->def - 1);
			if (rc)
				return rc;
			return cl_buf_puts(a->out, "null") ? oom(a) : 0;
		}
	}
	return render_present(a, i);
}

int cl__pq_json_assemble(const cl__pq_meta *m, const cl__pq_plan *plan,
			 const cl__pq_outcol *oc, cl__pq_levels *lv, int64_t nrows,
			 cl_column *dst, cl_buf *scratch, cl_error *err)
{
	asm_ctx a = {m, plan->nodes, lv, oc->first_leaf, scratch, {0}, 0, err};
	int rc = 0;
	const cl__pq_node *root = &plan->nodes[oc->node];
	int rep = m->schema[oc->node].repetition;
	for (int k = 0; k < oc->nleaves; k++)
		lv[k].vpos = 0;
	for (int64_t r = 0; r < nrows && !rc; r++) {
		a.row = r;
		for (int k = 0; k < oc->nleaves; k++) {
			lv[k].pos = lv[k].row_start[r];
			lv[k].end = lv[k].row_start[r + 1];
		}
		int k;
		cl__pq_levels *w = witness(&a, oc->node, &k);
		if (w->pos >= w->end) {
			rc = disagree(&a, k, "a row without entries");
			break;
		}
		int d = w->def[w->pos];
		bool null = d < oc->parent_def || (rep == PQ_OPTIONAL && d < root->def);
		cl_buf_clear(scratch);
		if (null)
			rc = skip_node(&a, oc->node, d);
		else
			rc = render_value(&a, oc->node);
		for (k = 0; k < oc->nleaves && !rc; k++)
			if (lv[k].pos != lv[k].end)
				rc = disagree(&a, k, "more entries in the row than its sibling columns");
		if (rc)
			break;
		if (null)
			rc = cl_column_append_null(dst, err);
		else
			rc = cl_column_append_bytes(dst, scratch->data, scratch->len, err);
	}
	for (int k = 0; k < oc->nleaves && !rc; k++)
		if (lv[k].vpos != lv[k].vals.length)
			rc = disagree(&a, k, "more values than its definition levels say");
	cl_buf_release(&a.tmp);
	return rc;
}
