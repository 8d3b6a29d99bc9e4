/*
 * parquet_write_nested.c — the Parquet writer's schema tree and nested
 * values (internal; see parquet_write_impl.h and cl_write_options in io.h).
 *
 * Tree: built from the schema's fields in order. With nest_dotted a field
 * "a.b.c" lands in struct group "a", inside it group "b", as leaf "c"; a
 * group is created by the first field under it and shared by the others.
 * A JSON column with a nested type gets the subtree of that type:
 *
 *   list<T>    <rep> group NAME (LIST) { repeated group list { optional T element; } }
 *   map<K,V>   <rep> group NAME (MAP) { repeated group key_value {
 *                                         required K key; optional V value; } }
 *   struct<..> optional group NAME { optional ... }
 *
 * Levels: a node's definition level counts the non-required nodes from the
 * root down to it, its repetition level the repeated ones (record
 * shredding, Dremel). Struct groups from dotted names are optional unless
 * a column under them is NOT NULL; an optional one is present in a row
 * exactly when some column under it is not NULL there (cl__pqw_presence),
 * which is what makes the reader's flattening give every column back.
 *
 * Shredding a JSON value (cl__pqw_shred): the value is walked against the
 * type; every leaf gets one entry per "slot" — a present primitive gets its
 * value at the leaf's max definition level, a NULL or empty node gives every
 * leaf below it one entry at the level reached, and each list element or
 * map entry after the first starts at the repeated node's repetition level.
 * Invariant: after a row, every leaf of the field has at least one entry
 * for it, the first with repetition level 0 — the reader's assembly checks
 * exactly this.
 */
#include "parquet_write_impl.h"
#include "core/json.h"

#include <ctype.h>
#include <stdarg.h>
#include <strings.h>

#define MAX_TYPE_DEPTH 32
#define MAX_NAME_DEPTH 64

/* ---------- the tree while it is built ---------- */

typedef struct bnode {
	char *name;
	int kind, repetition;
	int field;           /* schema field, -1 for dotted groups and the root */
	bool dotted;         /* a struct group made from dotted names */
	cl_type type;
	struct bnode **kids;
	int nkids, capkids;
} bnode;

static void bnode_free(bnode *b)
{
	if (!b)
		return;
	for (int i = 0; i < b->nkids; i++)
		bnode_free(b->kids[i]);
	cl_free(b->kids);
	cl_free(b->name);
	cl_free(b);
}

static bnode *bnode_new(const char *name, size_t n, int kind, int repetition, int field)
{
	bnode *b = cl_calloc(1, sizeof *b);
	if (!b)
		return NULL;
	b->name = cl_strndup(name, n);
	if (!b->name) {
		cl_free(b);
		return NULL;
	}
	b->kind = kind;
	b->repetition = repetition;
	b->field = field;
	return b;
}

static int bnode_add(bnode *parent, bnode *kid)
{
	if (parent->nkids == parent->capkids) {
		int cap = parent->capkids ? parent->capkids * 2 : 4;
		bnode **k = cl_realloc(parent->kids, (size_t)cap * sizeof *k);
		if (!k)
			return CL_ENOMEM;
		parent->kids = k;
		parent->capkids = cap;
	}
	parent->kids[parent->nkids++] = kid;
	return 0;
}

static bnode *bnode_find(const bnode *b, const char *name, size_t n)
{
	for (int i = 0; i < b->nkids; i++)
		if (strlen(b->kids[i]->name) == n && !memcmp(b->kids[i]->name, name, n))
			return b->kids[i];
	return NULL;
}

/* ---------- nested type text ---------- */

typedef struct tparse {
	const char *s;
	size_t pos, n;
	int field;
	const char *column;
	cl_error *err;
} tparse;

static void skip_ws(tparse *t)
{
	while (t->pos < t->n && isspace((unsigned char)t->s[t->pos]))
		t->pos++;
}

static int bad_type(tparse *t, const char *what)
{
	return cl_error_set(t->err, CL_EINVAL,
			    "column '%s': nested type '%.*s': %s at character %zu", t->column,
			    (int)t->n, t->s, what, t->pos + 1);
}

static bool expect(tparse *t, char c)
{
	skip_ws(t);
	if (t->pos < t->n && t->s[t->pos] == c) {
		t->pos++;
		return true;
	}
	return false;
}

static bool word_is(const char *w, size_t n, const char *lit)
{
	return strlen(lit) == n && !strncasecmp(w, lit, n);
}

/* A primitive type name: a word, optionally followed by "(...)". */
static int parse_prim(tparse *t, cl_type *out)
{
	size_t start = t->pos;
	while (t->pos < t->n && (isalnum((unsigned char)t->s[t->pos]) || t->s[t->pos] == '_'))
		t->pos++;
	size_t wend = t->pos;
	if (wend == start)
		return bad_type(t, "a type name expected");
	skip_ws(t);
	if (t->pos < t->n && t->s[t->pos] == '(') {
		while (t->pos < t->n && t->s[t->pos] != ')')
			t->pos++;
		if (t->pos == t->n)
			return bad_type(t, "')' expected");
		t->pos++;
		wend = t->pos;
	}
	const char *w = t->s + start;
	size_t wn = wend - start;
	/* Delta's names for integers */
	if (word_is(w, wn, "long"))
		*out = cl_type_make(CL_INT64);
	else if (word_is(w, wn, "short"))
		*out = cl_type_make(CL_INT16);
	else if (word_is(w, wn, "byte"))
		*out = cl_type_make(CL_INT8);
	else if (word_is(w, wn, "integer"))
		*out = cl_type_make(CL_INT32);
	else {
		cl_error e = {0};
		if (cl_type_parse(out, w, wn, &e) != 0) {
			t->pos = start;
			return bad_type(t, "unknown type");
		}
	}
	if (out->id == CL_NULLTYPE) {
		t->pos = start;
		return bad_type(t, "the null type has no values to write");
	}
	return 0;
}

static int parse_type(tparse *t, bnode **out, const char *name, size_t nlen, int repetition,
		      int depth);

/* Give kid (parsed with result rc, possibly half built) to parent. */
static int adopt(tparse *t, bnode *parent, bnode *kid, int rc)
{
	if (kid && bnode_add(parent, kid)) {
		bnode_free(kid);
		return rc ? rc : cl_error_set(t->err, CL_ENOMEM, "out of memory");
	}
	return rc;
}

/* list<T>: the LIST group around a repeated "list" group and its element. */
static int parse_list(tparse *t, bnode *g, int depth)
{
	bnode *rep = bnode_new("list", 4, PQW_N_STRUCT, PQ_REPEATED, t->field), *elem = NULL;
	if (!rep || bnode_add(g, rep)) {
		bnode_free(rep);
		return cl_error_set(t->err, CL_ENOMEM, "out of memory");
	}
	if (!expect(t, '<'))
		return bad_type(t, "'<' expected");
	int rc = parse_type(t, &elem, "element", 7, PQ_OPTIONAL, depth + 1);
	rc = adopt(t, rep, elem, rc);
	if (rc)
		return rc;
	return expect(t, '>') ? 0 : bad_type(t, "'>' expected");
}

static int parse_map(tparse *t, bnode *g, int depth)
{
	bnode *kv = bnode_new("key_value", 9, PQW_N_STRUCT, PQ_REPEATED, t->field);
	bnode *key = NULL, *val = NULL;
	if (!kv || bnode_add(g, kv)) {
		bnode_free(kv);
		return cl_error_set(t->err, CL_ENOMEM, "out of memory");
	}
	if (!expect(t, '<'))
		return bad_type(t, "'<' expected");
	size_t kpos = t->pos;
	int rc = parse_type(t, &key, "key", 3, PQ_REQUIRED, depth + 1);
	bool prim = key && key->kind == PQW_N_PRIM;
	if ((rc = adopt(t, kv, key, rc)))
		return rc;
	if (!prim != PQW_N_PRIM) {
		t->pos = kpos;
		return bad_type(t, "a map key must be a primitive type");
	}
	if (!expect(t, ','))
		return bad_type(t, "',' expected");
	rc = parse_type(t, &val, "value", 5, PQ_OPTIONAL, depth + 1);
	if ((rc = adopt(t, kv, val, rc)))
		return rc;
	return expect(t, '>') ? 0 : bad_type(t, "'>' expected");
}

static int parse_struct(tparse *t, bnode *g, int depth)
{
	if (!expect(t, '<'))
		return bad_type(t, "'<' expected");
	for (;;) {
		skip_ws(t);
		size_t ns = t->pos;
		while (t->pos < t->n && !strchr(":,<>", t->s[t->pos]))
			t->pos++;
		size_t ne = t->pos;
		while (ne > ns && isspace((unsigned char)t->s[ne - 1]))
			ne--;
		if (ne == ns)
			return bad_type(t, "a field name expected");
		if (bnode_find(g, t->s + ns, ne - ns))
			return bad_type(t, "duplicate field name");
		if (!expect(t, ':'))
			return bad_type(t, "':' expected");
		bnode *f = NULL;
		int rc = parse_type(t, &f, t->s + ns, ne - ns, PQ_OPTIONAL, depth + 1);
		if ((rc = adopt(t, g, f, rc)))
			return rc;
		if (expect(t, '>'))
			return 0;
		if (!expect(t, ','))
			return bad_type(t, "',' or '>' expected");
	}
}

/* One type at t->pos into *out, a node named name[0..nlen). */
static int parse_type(tparse *t, bnode **out, const char *name, size_t nlen, int repetition,
		      int depth)
{
	*out = NULL;
	if (depth > MAX_TYPE_DEPTH)
		return bad_type(t, "nested too deeply");
	skip_ws(t);
	size_t start = t->pos, e = t->pos;
	while (e < t->n && isalpha((unsigned char)t->s[e]))
		e++;
	const char *w = t->s + start;
	size_t wn = e - start;
	int kind = word_is(w, wn, "list") || word_is(w, wn, "array") ? PQW_N_LIST
		   : word_is(w, wn, "map")                           ? PQW_N_MAP
		   : word_is(w, wn, "struct")                        ? PQW_N_STRUCT
								     : PQW_N_PRIM;
	bnode *b = bnode_new(name, nlen, kind, repetition, t->field);
	if (!b)
		return cl_error_set(t->err, CL_ENOMEM, "out of memory");
	*out = b; /* the caller frees it on error too */
	if (kind == PQW_N_PRIM)
		return parse_prim(t, &b->type);
	t->pos = e;
	if (kind == PQW_N_LIST)
		return parse_list(t, b, depth);
	if (kind == PQW_N_MAP)
		return parse_map(t, b, depth);
	return parse_struct(t, b, depth);
}

/* The subtree of field f's nested type text. */
static int parse_nested(bnode **out, const char *text, const cl_field *fld, int f,
			const char *name, size_t nlen, cl_error *err)
{
	tparse t = {text, 0, strlen(text), f, fld->name, err};
	int rc = parse_type(&t, out, name, nlen, fld->nullable ? PQ_OPTIONAL : PQ_REQUIRED, 0);
	if (!rc) {
		skip_ws(&t);
		if (t.pos != t.n)
			rc = bad_type(&t, "text after the type");
		else if ((*out)->kind != PQW_N_LIST && (*out)->kind != PQW_N_MAP)
			rc = cl_error_set(err, CL_EINVAL,
					  "column '%s': nested type '%s' must be a list or a map "
					  "(a struct column is written from dotted columns)",
					  fld->name, text);
	}
	if (rc) {
		bnode_free(*out);
		*out = NULL;
	}
	return rc;
}

/* ---------- building ---------- */

/* Whether a dotted group must be required: a NOT NULL column under it. */
static bool has_required(const bnode *b)
{
	for (int i = 0; i < b->nkids; i++) {
		const bnode *k = b->kids[i];
		if (k->dotted ? has_required(k) : k->repetition == PQ_REQUIRED)
			return true;
	}
	return false;
}

static void mark_groups(bnode *b)
{
	for (int i = 0; i < b->nkids; i++)
		if (b->kids[i]->dotted) {
			mark_groups(b->kids[i]);
			b->kids[i]->repetition = has_required(b->kids[i]) ? PQ_REQUIRED : PQ_OPTIONAL;
		}
}

static int count_nodes(const bnode *b)
{
	int n = 1;
	for (int i = 0; i < b->nkids; i++)
		n += count_nodes(b->kids[i]);
	return n;
}

typedef struct flat {
	pqw_writer *p;
	int next, leaf;
	int *group_of;  /* node -> index in p->groups, or -1 */
} flat;

/* Move b's subtree into p->nodes at fl->next (names change owner). */
static void flatten(flat *fl, bnode *b, int parent)
{
	pqw_writer *p = fl->p;
	int i = fl->next++;
	pqw_node *n = &p->nodes[i];
	n->name = b->name;
	b->name = NULL;
	n->kind = b->kind;
	n->repetition = b->repetition;
	n->nchildren = b->nkids;
	n->parent = parent;
	n->field = b->field;
	n->type = b->type;
	n->leaf = -1;
	n->def = n->rep = 0;
	if (parent >= 0) {
		n->def = p->nodes[parent].def + (b->repetition != PQ_REQUIRED);
		n->rep = p->nodes[parent].rep + (b->repetition == PQ_REPEATED);
	}
	fl->group_of[i] = -1;
	if (b->dotted && b->repetition == PQ_OPTIONAL) {
		fl->group_of[i] = p->ngroups;
		p->groups[p->ngroups++] = i;
	}
	int first_leaf = fl->leaf;
	if (b->kind == PQW_N_PRIM)
		n->leaf = fl->leaf++;
	for (int k = 0; k < b->nkids; k++)
		flatten(fl, b->kids[k], i);
	n->end = fl->next;
	/* the field's own node: a primitive column or the top of a JSON subtree */
	if (b->field >= 0 && (parent < 0 || p->nodes[parent].field != b->field)) {
		pqw_field *f = &p->fields[b->field];
		f->node = i;
		f->first_chunk = first_leaf;
		f->nchunks = fl->leaf - first_leaf;
	}
}

/* The optional dotted groups above each field. */
static int field_ancestors(pqw_writer *p, const int *group_of, cl_error *err)
{
	for (int f = 0; f < p->nfields; f++) {
		pqw_field *fd = &p->fields[f];
		int n = 0;
		for (int a = p->nodes[fd->node].parent; a > 0; a = p->nodes[a].parent)
			n += group_of[a] >= 0;
		if (!n)
			continue;
		fd->anc = cl_malloc((size_t)n * sizeof *fd->anc);
		if (!fd->anc)
			return cl_error_set(err, CL_ENOMEM, "out of memory");
		fd->nanc = n;
		for (int a = p->nodes[fd->node].parent; a > 0; a = p->nodes[a].parent)
			if (group_of[a] >= 0)
				fd->anc[--n] = group_of[a];
	}
	return 0;
}

/* Place field f (named by segments of its name) under the root. */
static int place_field(pqw_writer *p, bnode *root, int f, cl_error *err)
{
	const cl_write_options *o = &p->w->opts;
	const cl_field *fld = &p->w->schema->fields[f];
	const char *name = fld->name;
	size_t len = strlen(name);
	bnode *cur = root;
	size_t seg = 0;
	int depth = 0;
	if (o->nest_dotted) {
		for (size_t i = 0; i <= len; i++) {
			if (i < len && name[i] != '.')
				continue;
			if (i == seg)
				return cl_error_set(err, CL_EINVAL,
						    "column '%s': empty name segment (nest_dotted)", name);
			if (i == len)
				break;
			if (++depth > MAX_NAME_DEPTH)
				return cl_error_set(err, CL_EINVAL, "column '%s': nested too deeply",
						    name);
			bnode *g = bnode_find(cur, name + seg, i - seg);
			if (g && !g->dotted)
				return cl_error_set(err, CL_EINVAL,
						    "column '%s': '%.*s' is also a column", name,
						    (int)i, name);
			if (!g) {
				g = bnode_new(name + seg, i - seg, PQW_N_STRUCT, PQ_OPTIONAL, -1);
				if (!g || bnode_add(cur, g)) {
					bnode_free(g);
					return cl_error_set(err, CL_ENOMEM, "out of memory");
				}
				g->dotted = true;
			}
			cur = g;
			seg = i + 1;
		}
	}
	if (bnode_find(cur, name + seg, len - seg))
		return cl_error_set(err, CL_EINVAL,
				    "column '%s': the name is taken by another column or struct", name);
	const char *ntype = NULL;
	for (int j = 0; j < o->nnested; j++)
		if (o->nested_columns[j] && !strcmp(o->nested_columns[j], name)) {
			if (ntype)
				return cl_error_set(err, CL_EINVAL,
						    "column '%s': nested type given twice", name);
			ntype = o->nested_types ? o->nested_types[j] : NULL;
			if (!ntype)
				return cl_error_set(err, CL_EINVAL, "column '%s': no nested type",
						    name);
		}
	bnode *b = NULL;
	if (ntype) {
		if (fld->type.id != CL_STRING)
			return cl_error_set(err, CL_EINVAL,
					    "column '%s': a nested column must be a string column "
					    "of JSON text", name);
		int rc = parse_nested(&b, ntype, fld, f, name + seg, len - seg, err);
		if (rc)
			return rc;
		p->fields[f].json = true;
	} else {
		bool opt = fld->nullable || fld->type.id == CL_NULLTYPE;
		b = bnode_new(name + seg, len - seg, PQW_N_PRIM, opt ? PQ_OPTIONAL : PQ_REQUIRED, f);
		if (!b)
			return cl_error_set(err, CL_ENOMEM, "out of memory");
		b->type = fld->type;
	}
	if (bnode_add(cur, b)) {
		bnode_free(b);
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	}
	return 0;
}

struct pqw_shred {
	cl__json_parser *jp;
	int nleaves;
	struct leafbuf {
		uint8_t *def, *rep;
		int64_t n, cap;
		cl_column vals;
	} *lb;
	char *type_text;   /* for messages */
};

void cl__pqw_shred_free(struct pqw_shred *sh)
{
	if (!sh)
		return;
	for (int k = 0; sh->lb && k < sh->nleaves; k++) {
		cl_free(sh->lb[k].def);
		cl_free(sh->lb[k].rep);
		cl_column_release(&sh->lb[k].vals);
	}
	cl_free(sh->lb);
	cl__json_parser_free(sh->jp);
	cl_free(sh->type_text);
	cl_free(sh);
}

static int shred_new(pqw_writer *p, int f, cl_error *err)
{
	pqw_field *fd = &p->fields[f];
	const cl_write_options *o = &p->w->opts;
	struct pqw_shred *sh = cl_calloc(1, sizeof *sh);
	if (!sh)
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	fd->sh = sh;
	sh->nleaves = fd->nchunks;
	sh->lb = cl_calloc((size_t)fd->nchunks, sizeof *sh->lb);
	if (!sh->lb)
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	for (int j = 0; j < o->nnested; j++)
		if (o->nested_columns[j] && !strcmp(o->nested_columns[j], p->w->schema->fields[f].name))
			sh->type_text = cl_strdup(o->nested_types[j]);
	if (!sh->type_text)
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	int rc = cl__json_parser_create(&sh->jp, NULL, err);
	for (int k = 0; !rc && k < fd->nchunks; k++) {
		const pqw_node *n = &p->nodes[p->chunks[fd->first_chunk + k].node];
		rc = cl_column_init(&sh->lb[k].vals, n->type, 256, err);
	}
	return rc;
}

int cl__pqw_tree_build(pqw_writer *p, cl_error *err)
{
	const cl_schema *s = p->w->schema;
	const cl_write_options *o = &p->w->opts;
	int rc = 0;
	p->nfields = s->nfields;
	p->fields = cl_calloc((size_t)s->nfields, sizeof *p->fields);
	bnode *root = bnode_new("schema", 6, PQW_N_STRUCT, PQ_REQUIRED, -1);
	int *group_of = NULL;
	if (!p->fields || !root) {
		rc = cl_error_set(err, CL_ENOMEM, "out of memory");
		goto out;
	}
	for (int f = 0; !rc && f < s->nfields; f++)
		rc = place_field(p, root, f, err);
	for (int j = 0; !rc && j < o->nnested; j++)
		if (!o->nested_columns || !o->nested_columns[j] ||
		    cl_schema_find(s, o->nested_columns[j]) < 0)
			rc = cl_error_set(err, CL_ENOTFOUND, "nested type for a column '%s' that "
					  "the schema does not have",
					  o->nested_columns && o->nested_columns[j]
						  ? o->nested_columns[j] : "(null)");
	if (rc)
		goto out;
	mark_groups(root);
	p->nnodes = count_nodes(root);
	p->nodes = cl_calloc((size_t)p->nnodes, sizeof *p->nodes);
	p->groups = cl_calloc((size_t)p->nnodes, sizeof *p->groups);
	group_of = cl_calloc((size_t)p->nnodes, sizeof *group_of);
	if (!p->nodes || !p->groups || !group_of) {
		rc = cl_error_set(err, CL_ENOMEM, "out of memory");
		goto out;
	}
	flat fl = {p, 0, 0, group_of};
	flatten(&fl, root, -1);
	p->ncols = fl.leaf;
	for (int i = 0; i < p->nnodes; i++)
		if (p->nodes[i].def > 250 || p->nodes[i].rep > 250) {
			rc = cl_error_set(err, CL_EINVAL, "the schema is nested too deeply");
			goto out;
		}
	if ((rc = field_ancestors(p, group_of, err)))
		goto out;
	if (p->ngroups) {
		p->present = cl_calloc((size_t)p->ngroups * PQW_SLICE_ROWS, 1);
		if (!p->present)
			rc = cl_error_set(err, CL_ENOMEM, "out of memory");
	}
out:
	bnode_free(root);
	cl_free(group_of);
	return rc;
}

/* Called once the chunks exist (they give the leaves' nodes). */
int cl__pqw_shredders(pqw_writer *p, cl_error *err)
{
	for (int f = 0; f < p->nfields; f++)
		if (p->fields[f].json) {
			int rc = shred_new(p, f, err);
			if (rc)
				return rc;
		}
	return 0;
}

void cl__pqw_tree_release(pqw_writer *p)
{
	for (int i = 0; p->nodes && i < p->nnodes; i++)
		cl_free(p->nodes[i].name);
	cl_free(p->nodes);
	for (int f = 0; p->fields && f < p->nfields; f++) {
		cl_free(p->fields[f].anc);
		cl__pqw_shred_free(p->fields[f].sh);
	}
	cl_free(p->fields);
	cl_free(p->groups);
	cl_free(p->present);
}

/* ---------- struct presence ---------- */

void cl__pqw_presence(pqw_writer *p, const cl_batch *b, int64_t off, int64_t n)
{
	p->slice_off = off;
	if (!p->ngroups)
		return;
	for (int g = 0; g < p->ngroups; g++)
		memset(p->present + (size_t)g * PQW_SLICE_ROWS, 0, (size_t)n);
	for (int f = 0; f < p->nfields; f++) {
		const pqw_field *fd = &p->fields[f];
		const cl_column *c = &b->cols[f];
		if (!fd->nanc || c->type.id == CL_NULLTYPE)
			continue;
		const uint8_t *valid = c->null_count > 0 ? c->validity : NULL;
		for (int k = 0; k < fd->nanc; k++) {
			uint8_t *pr = p->present + (size_t)fd->anc[k] * PQW_SLICE_ROWS;
			if (!valid) {
				memset(pr, 1, (size_t)n);
				continue;
			}
			for (int64_t i = 0; i < n; i++)
				pr[i] |= cl_bit_get(valid, off + i);
		}
	}
}

/* ---------- shredding JSON values ---------- */

typedef struct shred_ctx {
	pqw_writer *p;
	pqw_field *fd;
	struct pqw_shred *sh;
	int64_t row;
	cl_error *err;
} shred_ctx;

static int push_level(shred_ctx *c, int k, int r, int d)
{
	struct leafbuf *l = &c->sh->lb[k];
	if (l->n == l->cap) {
		int64_t cap = l->cap ? l->cap * 2 : 1024;
		uint8_t *nd = cl_realloc(l->def, (size_t)cap);
		if (!nd)
			return cl_error_set(c->err, CL_ENOMEM, "out of memory");
		l->def = nd;
		uint8_t *nr = cl_realloc(l->rep, (size_t)cap);
		if (!nr)
			return cl_error_set(c->err, CL_ENOMEM, "out of memory");
		l->rep = nr;
		l->cap = cap;
	}
	l->def[l->n] = (uint8_t)d;
	l->rep[l->n++] = (uint8_t)r;
	return 0;
}

/* Every leaf below node i gets a NULL entry at levels (r, d). */
static int emit_empty(shred_ctx *c, int i, int r, int d)
{
	const pqw_node *n = &c->p->nodes[i];
	for (int j = i; j < n->end; j++) {
		const pqw_node *m = &c->p->nodes[j];
		if (m->leaf < 0)
			continue;
		int k = m->leaf - c->fd->first_chunk;
		int rc = push_level(c, k, r, d);
		if (rc)
			return rc;
		if (cl_column_append_null(&c->sh->lb[k].vals, NULL))
			return cl_error_set(c->err, CL_ENOMEM, "out of memory");
	}
	return 0;
}

static int mismatch(shred_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int mismatch(shred_ctx *c, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return cl__pqw_col_error(c->p, (int)(c->fd - c->p->fields), c->err, CL_ETYPE,
				 "row %lld: JSON value does not match %s: %s", (long long)c->row,
				 c->sh->type_text, msg);
}

static const char *type_name(char *buf, size_t n, cl_type t)
{
	return cl_type_format(buf, n, t);
}

/* A present primitive value v into leaf node i at levels (r, d). */
static int put_prim(shred_ctx *c, int i, const cl_json *v, int r, int d)
{
	const pqw_node *n = &c->p->nodes[i];
	int k = n->leaf - c->fd->first_chunk;
	cl_column *col = &c->sh->lb[k].vals;
	cl_error e = {0};
	char tb[64];
	int rc;
	bool ok;
	switch (n->type.id) {
	case CL_BOOL:
		ok = v->kind == CL_JSON_TRUE || v->kind == CL_JSON_FALSE;
		break;
	case CL_FLOAT32: case CL_FLOAT64:
		ok = v->kind == CL_JSON_NUMBER || v->kind == CL_JSON_STRING;
		break;
	case CL_INT8: case CL_INT16: case CL_INT32: case CL_INT64: case CL_UINT8:
	case CL_UINT16: case CL_UINT32: case CL_UINT64: case CL_DECIMAL:
		ok = v->kind == CL_JSON_NUMBER;
		break;
	default:
		ok = v->kind == CL_JSON_STRING;
		break;
	}
	if (!ok)
		return mismatch(c, "%s for %s", cl__json_kind_name(v->kind),
				type_name(tb, sizeof tb, n->type));
	if (n->type.id == CL_BOOL)
		rc = cl_column_append_bool(col, v->kind == CL_JSON_TRUE, &e);
	else if (n->type.id == CL_STRING)
		rc = cl_column_append_bytes(col, v->u.str, v->n, &e);
	else
		rc = cl__column_append_text(col, v->u.str, v->n, &e);
	if (rc == CL_ENOMEM)
		return cl_error_set(c->err, CL_ENOMEM, "out of memory");
	if (rc)
		return mismatch(c, "%s", e.message);
	return push_level(c, k, r, d);
}

/* A map key (JSON object keys are text) into leaf node i. */
static int put_key(shred_ctx *c, int i, const cl_json_member *m, int r, int d)
{
	const pqw_node *n = &c->p->nodes[i];
	int k = n->leaf - c->fd->first_chunk;
	cl_column *col = &c->sh->lb[k].vals;
	cl_error e = {0};
	int rc;
	if (n->type.id == CL_STRING)
		rc = cl_column_append_bytes(col, m->key, m->key_len, &e);
	else
		rc = cl__column_append_text(col, m->key, m->key_len, &e);
	if (rc == CL_ENOMEM)
		return cl_error_set(c->err, CL_ENOMEM, "out of memory");
	if (rc)
		return mismatch(c, "map key: %s", e.message);
	return push_level(c, k, r, d);
}

/* Value v (NULL: absent) of node i; its parent is defined at level d, and
 * its first entry repeats at level r. */
static int shred_value(shred_ctx *c, int i, const cl_json *v, int r, int d)
{
	const pqw_node *n = &c->p->nodes[i];
	int rc;
	if (!v || v->kind == CL_JSON_NULL) {
		if (n->repetition == PQ_REQUIRED)
			return mismatch(c, "null for '%s', which is not nullable", n->name);
		return emit_empty(c, i, r, d);
	}
	int dd = d + (n->repetition != PQ_REQUIRED);
	switch (n->kind) {
	case PQW_N_PRIM:
		return put_prim(c, i, v, r, dd);
	case PQW_N_STRUCT: {
		if (v->kind != CL_JSON_OBJECT)
			return mismatch(c, "%s for struct '%s'", cl__json_kind_name(v->kind), n->name);
		for (size_t m = 0; m < v->n; m++) {
			const cl_json_member *mb = &v->u.members[m];
			bool known = false;
			for (int ch = i + 1; ch < n->end && !known; ch = c->p->nodes[ch].end)
				known = strlen(c->p->nodes[ch].name) == mb->key_len &&
					!memcmp(c->p->nodes[ch].name, mb->key, mb->key_len);
			if (!known)
				return mismatch(c, "struct '%s' has no field '%s'", n->name, mb->key);
		}
		for (int ch = i + 1; ch < n->end; ch = c->p->nodes[ch].end)
			if ((rc = shred_value(c, ch, cl__json_get_s(v, c->p->nodes[ch].name), r, dd)))
				return rc;
		return 0;
	}
	case PQW_N_LIST: {
		if (v->kind != CL_JSON_ARRAY)
			return mismatch(c, "%s for a list", cl__json_kind_name(v->kind));
		if (v->n == 0)
			return emit_empty(c, i, r, dd);
		const pqw_node *rn = &c->p->nodes[i + 1];
		for (size_t k = 0; k < v->n; k++)
			if ((rc = shred_value(c, i + 2, &v->u.items[k], k ? rn->rep : r, dd + 1)))
				return rc;
		return 0;
	}
	case PQW_N_MAP: {
		if (v->kind != CL_JSON_OBJECT)
			return mismatch(c, "%s for a map", cl__json_kind_name(v->kind));
		if (v->n == 0)
			return emit_empty(c, i, r, dd);
		const pqw_node *rn = &c->p->nodes[i + 1];
		int key = i + 2, val = c->p->nodes[key].end;
		for (size_t k = 0; k < v->n; k++) {
			int rr = k ? rn->rep : r;
			const cl_json_member *mb = &v->u.members[k];
			if ((rc = put_key(c, key, mb, rr, dd + 1)) ||
			    (rc = shred_value(c, val, &mb->value, rr, dd + 1)))
				return rc;
		}
		return 0;
	}
	}
	return cl_error_set(c->err, CL_EINTERNAL, "bad node kind");
}

int cl__pqw_shred(pqw_writer *p, pqw_scratch *sc, int f, const cl_column *col, int64_t off,
		  int64_t n, int64_t row0, pqw_append_fn append, cl_error *err)
{
	pqw_field *fd = &p->fields[f];
	struct pqw_shred *sh = fd->sh;
	const pqw_node *top = &p->nodes[fd->node];
	shred_ctx c = {p, fd, sh, 0, err};
	int rc;
	int64_t i = 0;
	while (i < n) {
		for (int k = 0; k < sh->nleaves; k++) {
			sh->lb[k].n = 0;
			cl_column_clear(&sh->lb[k].vals);
		}
		int64_t start = i, most = 0;
		/* a few thousand rows or entries at a time; a page only ends
		 * between such groups, so always at a row boundary */
		while (i < n && i - start < PQW_MINI && most < PQW_MINI) {
			c.row = row0 + i;
			int d0 = fd->nanc ? cl__pqw_parent_def(p, fd, off + i - p->slice_off) : 0;
			if (cl_column_is_null(col, off + i)) {
				if (top->repetition == PQ_REQUIRED)
					return cl__pqw_col_error(p, f, err, CL_ETYPE,
								 "row %lld: null in a column declared not null",
								 (long long)c.row);
				fd->nulls++;
				rc = emit_empty(&c, fd->node, 0, d0);
			} else {
				size_t len;
				const uint8_t *text = cl_column_get_bytes(col, off + i, &len);
				const cl_json *root;
				cl_error e = {0};
				rc = cl__json_parse(sh->jp, (const char *)text, len, &root, &e);
				if (rc == CL_ENOMEM)
					return cl_error_set(err, CL_ENOMEM, "out of memory");
				if (rc)
					return cl__pqw_col_error(p, f, err, CL_ETYPE,
								 "row %lld: not JSON text (%s)",
								 (long long)c.row, e.message);
				if (root->kind == CL_JSON_NULL && top->repetition == PQ_OPTIONAL)
					fd->nulls++;
				rc = shred_value(&c, fd->node, root, 0, d0);
			}
			if (rc)
				return rc;
			for (int k = 0; k < sh->nleaves; k++)
				if (sh->lb[k].n > most)
					most = sh->lb[k].n;
			i++;
		}
		for (int k = 0; k < sh->nleaves; k++) {
			struct leafbuf *l = &sh->lb[k];
			if ((rc = append(p, sc, &p->chunks[fd->first_chunk + k], &l->vals, l->n, l->def,
					 l->rep, row0 + start, err)))
				return rc;
		}
	}
	return 0;
}
