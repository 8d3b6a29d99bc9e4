/*
 * parquet_meta.c — decode Parquet's FileMetaData and PageHeader from Thrift
 * compact bytes into the structs of parquet_meta.h.
 *
 * Unknown fields are skipped (the format grows). Lists are checked against
 * the bytes left before their arrays are allocated (thrift_read.c), so a
 * hostile count cannot make us allocate more than a small multiple of the
 * footer's size. After decoding, the schema tree is walked once to find the
 * leaves with their definition/repetition levels, and every row group must
 * have exactly one column chunk per leaf.
 */
#include "parquet_meta.h"
#include "parquet_format.h"
#include "thrift_read.h"

#include <stdio.h>
#include <string.h>

/* ---- arena ---- */

struct cl__pq_arena_block {
	cl__pq_arena_block *next;
	size_t used, cap;
	max_align_t data[];
};

static void *arena_alloc(cl__pq_meta *m, size_t n)
{
	n = (n + 15) & ~(size_t)15;
	cl__pq_arena_block *b = m->arena;
	if (!b || b->cap - b->used < n) {
		size_t cap = n > 16384 ? n : 16384;
		b = cl_malloc(sizeof *b + cap);
		if (!b)
			return NULL;
		b->next = m->arena;
		b->used = 0;
		b->cap = cap;
		m->arena = b;
	}
	void *p = (char *)b->data + b->used;
	b->used += n;
	memset(p, 0, n);
	return p;
}

void cl__pq_meta_free(cl__pq_meta *m)
{
	if (!m)
		return;
	cl__pq_arena_block *b = m->arena;
	while (b) {
		cl__pq_arena_block *n = b->next;
		cl_free(b);
		b = n;
	}
	cl_free(m->footer);
	cl_free(m);
}

/* ---- decoding helpers ---- */

typedef struct dec {
	cl__thrift_in t;
	cl__pq_meta *m;
} dec;

static int oom(dec *d)
{
	if (!d->t.err) {
		d->t.err = CL_ENOMEM;
		cl_error_set(d->t.error, CL_ENOMEM, "out of memory");
	}
	d->t.p = d->t.end;
	return CL_ENOMEM;
}

static char *read_string(dec *d)
{
	size_t n;
	const uint8_t *p = cl__thrift_binary(&d->t, &n);
	if (d->t.err)
		return NULL;
	char *s = arena_alloc(d->m, n + 1);
	if (!s) {
		oom(d);
		return NULL;
	}
	memcpy(s, p, n);
	s[n] = 0;
	return s;
}

static cl__pq_bytes read_bytes(dec *d)
{
	cl__pq_bytes b;
	b.p = cl__thrift_binary(&d->t, &b.n);
	return b;
}

/* Expect `type` for a field or fail naming it. Returns true when it fits. */
static bool want(dec *d, int type, int want_type, const char *what)
{
	if (type == want_type || (want_type == TC_TRUE && type == TC_FALSE))
		return true;
	cl__thrift_skip(&d->t, type);
	cl__thrift_fail(&d->t, "%s has thrift type %d, expected %d", what, type,
			want_type);
	return false;
}

static int64_t read_int(dec *d, int type, const char *what)
{
	return cl__thrift_int_field(&d->t, type, what);
}

/* An empty-struct or union member we only note as present. */
static void skip_struct(dec *d, int type)
{
	cl__thrift_skip(&d->t, type);
}

/* ---- LogicalType ---- */

static int time_unit(dec *d)
{
	int type, unit = 1;
	int16_t fid;
	if (cl__thrift_struct_begin(&d->t))
		return 1;
	while (cl__thrift_field(&d->t, &type, &fid)) {
		if (fid == 1)
			unit = 0; /* MILLIS */
		else if (fid == 2)
			unit = 1; /* MICROS */
		else if (fid == 3)
			unit = 2; /* NANOS */
		skip_struct(d, type);
	}
	cl__thrift_struct_end(&d->t);
	return unit;
}

static void read_logical(dec *d, cl__pq_logical *lt)
{
	int type, ft;
	int16_t fid, ffid;
	if (cl__thrift_struct_begin(&d->t))
		return;
	while (cl__thrift_field(&d->t, &type, &fid)) {
		if (type != TC_STRUCT) {
			cl__thrift_skip(&d->t, type);
			continue;
		}
		lt->kind = fid;
		if (fid != PQ_LT_DECIMAL && fid != PQ_LT_TIME && fid != PQ_LT_TIMESTAMP &&
		    fid != PQ_LT_INTEGER) {
			cl__thrift_skip(&d->t, type);
			continue;
		}
		if (cl__thrift_struct_begin(&d->t))
			return;
		while (cl__thrift_field(&d->t, &ft, &ffid)) {
			if (fid == PQ_LT_DECIMAL && ffid == 1)
				lt->scale = (int32_t)read_int(d, ft, "DecimalType.scale");
			else if (fid == PQ_LT_DECIMAL && ffid == 2)
				lt->precision = (int32_t)read_int(d, ft, "DecimalType.precision");
			else if ((fid == PQ_LT_TIME || fid == PQ_LT_TIMESTAMP) && ffid == 1 &&
				 (ft == TC_TRUE || ft == TC_FALSE))
				lt->utc = cl__thrift_bool(&d->t, ft);
			else if ((fid == PQ_LT_TIME || fid == PQ_LT_TIMESTAMP) && ffid == 2 &&
				 ft == TC_STRUCT)
				lt->unit = time_unit(d);
			else if (fid == PQ_LT_INTEGER && ffid == 1)
				lt->bit_width = (int)read_int(d, ft, "IntType.bitWidth");
			else if (fid == PQ_LT_INTEGER && ffid == 2 &&
				 (ft == TC_TRUE || ft == TC_FALSE))
				lt->is_signed = cl__thrift_bool(&d->t, ft);
			else
				cl__thrift_skip(&d->t, ft);
		}
		cl__thrift_struct_end(&d->t);
	}
	cl__thrift_struct_end(&d->t);
}

/* ---- SchemaElement ---- */

static void read_schema_elem(dec *d, cl__pq_schema_elem *e)
{
	int type;
	int16_t fid;
	e->type = -1;
	e->repetition = -1;
	e->converted = -1;
	e->scale = e->precision = -1;
	if (cl__thrift_struct_begin(&d->t))
		return;
	while (cl__thrift_field(&d->t, &type, &fid)) {
		switch (fid) {
		case 1: e->type = (int)read_int(d, type, "SchemaElement.type"); break;
		case 2: e->type_length = (int32_t)read_int(d, type, "type_length"); break;
		case 3: e->repetition = (int)read_int(d, type, "repetition_type"); break;
		case 4:
			if (want(d, type, TC_BINARY, "SchemaElement.name"))
				e->name = read_string(d);
			break;
		case 5: e->num_children = (int32_t)read_int(d, type, "num_children"); break;
		case 6: e->converted = (int)read_int(d, type, "converted_type"); break;
		case 7: e->scale = (int32_t)read_int(d, type, "scale"); break;
		case 8: e->precision = (int32_t)read_int(d, type, "precision"); break;
		case 10:
			if (want(d, type, TC_STRUCT, "logicalType"))
				read_logical(d, &e->logical);
			break;
		default: cl__thrift_skip(&d->t, type);
		}
	}
	cl__thrift_struct_end(&d->t);
	if (d->t.err)
		return;
	if (!e->name)
		cl__thrift_fail(&d->t, "schema element without a name");
	else if (e->type < -1 || e->type > PQ_FIXED_LEN_BYTE_ARRAY)
		cl__thrift_fail(&d->t, "column '%s' has unknown physical type %d", e->name,
				e->type);
	else if (e->repetition < -1 || e->repetition > PQ_REPEATED)
		cl__thrift_fail(&d->t, "column '%s' has unknown repetition %d", e->name,
				e->repetition);
	else if (e->num_children < 0)
		cl__thrift_fail(&d->t, "column '%s' has %d children", e->name,
				e->num_children);
}

/* ---- Statistics ---- */

static void read_stats(dec *d, cl__pq_stats *s)
{
	int type;
	int16_t fid;
	if (cl__thrift_struct_begin(&d->t))
		return;
	while (cl__thrift_field(&d->t, &type, &fid)) {
		switch (fid) {
		case 1:
			if (want(d, type, TC_BINARY, "Statistics.max")) {
				s->max = read_bytes(d);
				s->has_max = true;
			}
			break;
		case 2:
			if (want(d, type, TC_BINARY, "Statistics.min")) {
				s->min = read_bytes(d);
				s->has_min = true;
			}
			break;
		case 3:
			s->null_count = read_int(d, type, "null_count");
			s->has_null_count = true;
			break;
		case 4:
			s->distinct_count = read_int(d, type, "distinct_count");
			s->has_distinct = true;
			break;
		case 5:
			if (want(d, type, TC_BINARY, "Statistics.max_value")) {
				s->max_value = read_bytes(d);
				s->has_max_value = true;
			}
			break;
		case 6:
			if (want(d, type, TC_BINARY, "Statistics.min_value")) {
				s->min_value = read_bytes(d);
				s->has_min_value = true;
			}
			break;
		default: cl__thrift_skip(&d->t, type);
		}
	}
	cl__thrift_struct_end(&d->t);
}

/* ---- ColumnMetaData / ColumnChunk / RowGroup ---- */

static void read_column_meta(dec *d, cl__pq_column_meta *c)
{
	int type, et;
	int16_t fid;
	c->type = -1;
	c->dictionary_page_offset = -1;
	c->index_page_offset = -1;
	c->data_page_offset = -1;
	if (cl__thrift_struct_begin(&d->t))
		return;
	while (cl__thrift_field(&d->t, &type, &fid)) {
		switch (fid) {
		case 1: c->type = (int)read_int(d, type, "ColumnMetaData.type"); break;
		case 2: {
			if (!want(d, type, TC_LIST, "encodings"))
				break;
			int64_t n = cl__thrift_list(&d->t, &et);
			for (int64_t i = 0; i < n && !d->t.err; i++) {
				int64_t e = read_int(d, et, "encoding");
				if (e >= 0 && e < 32)
					c->encodings |= 1u << e;
			}
			break;
		}
		case 3: {
			if (!want(d, type, TC_LIST, "path_in_schema"))
				break;
			int64_t n = cl__thrift_list(&d->t, &et);
			if (n < 0)
				break;
			if (et != TC_BINARY && n > 0) {
				cl__thrift_fail(&d->t, "path_in_schema is not a list of strings");
				break;
			}
			c->path = arena_alloc(d->m, (size_t)(n ? n : 1) * sizeof(char *));
			if (!c->path) {
				oom(d);
				break;
			}
			for (int64_t i = 0; i < n && !d->t.err; i++)
				c->path[i] = read_string(d);
			c->npath = (int)n;
			break;
		}
		case 4: c->codec = (int)read_int(d, type, "codec"); break;
		case 5: c->num_values = read_int(d, type, "num_values"); break;
		case 6:
			c->total_uncompressed_size = read_int(d, type, "total_uncompressed_size");
			break;
		case 7:
			c->total_compressed_size = read_int(d, type, "total_compressed_size");
			break;
		case 9: c->data_page_offset = read_int(d, type, "data_page_offset"); break;
		case 10: c->index_page_offset = read_int(d, type, "index_page_offset"); break;
		case 11:
			c->dictionary_page_offset = read_int(d, type, "dictionary_page_offset");
			break;
		case 12:
			if (want(d, type, TC_STRUCT, "statistics")) {
				read_stats(d, &c->stats);
				c->has_stats = true;
			}
			break;
		default: cl__thrift_skip(&d->t, type);
		}
	}
	cl__thrift_struct_end(&d->t);
}

static void read_column_chunk(dec *d, cl__pq_column_chunk *c)
{
	int type;
	int16_t fid;
	if (cl__thrift_struct_begin(&d->t))
		return;
	while (cl__thrift_field(&d->t, &type, &fid)) {
		switch (fid) {
		case 1:
			if (want(d, type, TC_BINARY, "file_path"))
				c->file_path = read_string(d);
			break;
		case 2: c->file_offset = read_int(d, type, "file_offset"); break;
		case 3:
			if (want(d, type, TC_STRUCT, "meta_data")) {
				read_column_meta(d, &c->meta);
				c->has_meta = true;
			}
			break;
		case 4:
			c->offset_index_offset = read_int(d, type, "offset_index_offset");
			break;
		case 5:
			c->offset_index_length = (int32_t)read_int(d, type, "offset_index_length");
			break;
		case 6:
			c->column_index_offset = read_int(d, type, "column_index_offset");
			break;
		case 7:
			c->column_index_length = (int32_t)read_int(d, type, "column_index_length");
			break;
		case 8:
		case 9:
			c->encrypted = true;
			cl__thrift_skip(&d->t, type);
			break;
		default: cl__thrift_skip(&d->t, type);
		}
	}
	cl__thrift_struct_end(&d->t);
}

static void read_row_group(dec *d, cl__pq_row_group *g)
{
	int type, et;
	int16_t fid;
	g->file_offset = -1;
	g->total_compressed_size = -1;
	g->num_rows = -1;
	if (cl__thrift_struct_begin(&d->t))
		return;
	while (cl__thrift_field(&d->t, &type, &fid)) {
		switch (fid) {
		case 1: {
			if (!want(d, type, TC_LIST, "RowGroup.columns"))
				break;
			int64_t n = cl__thrift_list(&d->t, &et);
			if (n < 0)
				break;
			if (et != TC_STRUCT && n > 0) {
				cl__thrift_fail(&d->t, "RowGroup.columns is not a list of structs");
				break;
			}
			g->columns = arena_alloc(d->m, (size_t)(n ? n : 1) * sizeof *g->columns);
			if (!g->columns) {
				oom(d);
				break;
			}
			for (int64_t i = 0; i < n && !d->t.err; i++)
				read_column_chunk(d, &g->columns[i]);
			g->ncolumns = (int)n;
			break;
		}
		case 2: g->total_byte_size = read_int(d, type, "total_byte_size"); break;
		case 3: g->num_rows = read_int(d, type, "RowGroup.num_rows"); break;
		case 5: g->file_offset = read_int(d, type, "RowGroup.file_offset"); break;
		case 6:
			g->total_compressed_size = read_int(d, type, "total_compressed_size");
			break;
		default: cl__thrift_skip(&d->t, type);
		}
	}
	cl__thrift_struct_end(&d->t);
}

static void read_kv(dec *d, cl__pq_kv *kv)
{
	int type;
	int16_t fid;
	if (cl__thrift_struct_begin(&d->t))
		return;
	while (cl__thrift_field(&d->t, &type, &fid)) {
		if (fid == 1 && type == TC_BINARY)
			kv->key = read_string(d);
		else if (fid == 2 && type == TC_BINARY)
			kv->value = read_string(d);
		else
			cl__thrift_skip(&d->t, type);
	}
	cl__thrift_struct_end(&d->t);
	if (!d->t.err && !kv->key)
		cl__thrift_fail(&d->t, "key-value metadata entry without a key");
}

/* Read a list<struct> header and allocate n elements of size sz. */
static void *read_struct_list(dec *d, int type, const char *what, size_t sz, int *count)
{
	int et;
	*count = 0;
	if (!want(d, type, TC_LIST, what))
		return NULL;
	int64_t n = cl__thrift_list(&d->t, &et);
	if (n < 0)
		return NULL;
	if (n > 0 && et != TC_STRUCT) {
		cl__thrift_fail(&d->t, "%s is not a list of structs", what);
		return NULL;
	}
	void *p = arena_alloc(d->m, (size_t)(n ? n : 1) * sz);
	if (!p) {
		oom(d);
		return NULL;
	}
	*count = (int)n;
	return p;
}

/* ---- schema tree ---- */

typedef struct walk {
	dec *d;
	int next;     /* next schema element to visit */
	int nleaves;
} walk;

/* Visit element w->next and its subtree; parent levels given. */
static void walk_elem(walk *w, int depth, int top, int def, int rep, bool nested,
		      const char *prefix)
{
	dec *d = w->d;
	cl__pq_meta *m = d->m;
	if (d->t.err)
		return;
	if (depth > 100) {
		cl__thrift_fail(&d->t, "schema nested deeper than 100 levels");
		return;
	}
	if (w->next >= m->nschema) {
		cl__thrift_fail(&d->t, "schema tree needs more elements than the %d given",
				m->nschema);
		return;
	}
	int i = w->next++;
	cl__pq_schema_elem *e = &m->schema[i];
	if (depth == 1)
		top = i;
	if (e->repetition == PQ_OPTIONAL)
		def++;
	else if (e->repetition == PQ_REPEATED) {
		def++;
		rep++;
		nested = true;
	}
	if (depth > 1)
		nested = true;
	size_t plen = strlen(prefix) + strlen(e->name) + 2;
	char *path = arena_alloc(m, plen);
	if (!path) {
		oom(d);
		return;
	}
	snprintf(path, plen, "%s%s%s", prefix, *prefix ? "." : "", e->name);
	if (e->num_children == 0) {
		if (e->type < 0) {
			/* An empty group: no leaves; nothing to read. */
			return;
		}
		if (w->nleaves >= m->nschema) {
			cl__thrift_fail(&d->t, "schema has too many leaves");
			return;
		}
		cl__pq_leaf *l = &m->leaves[w->nleaves++];
		l->elem = i;
		l->top = top;
		l->max_def = def;
		l->max_rep = rep;
		l->nested = nested;
		l->path = path;
		return;
	}
	if (e->type >= 0) {
		cl__thrift_fail(&d->t, "column '%s' has a physical type and children", e->name);
		return;
	}
	if (e->num_children > m->nschema - w->next) {
		cl__thrift_fail(&d->t, "group '%s' claims %d children, only %d elements follow",
				e->name, e->num_children, m->nschema - w->next);
		return;
	}
	for (int c = 0; c < e->num_children && !d->t.err; c++)
		walk_elem(w, depth + 1, top, def, rep, nested, path);
}

static void build_leaves(dec *d)
{
	cl__pq_meta *m = d->m;
	if (m->nschema < 1) {
		cl__thrift_fail(&d->t, "the schema is empty");
		return;
	}
	m->leaves = arena_alloc(m, (size_t)m->nschema * sizeof *m->leaves);
	if (!m->leaves) {
		oom(d);
		return;
	}
	cl__pq_schema_elem *root = &m->schema[0];
	if (root->num_children > m->nschema - 1) {
		cl__thrift_fail(&d->t, "schema root claims %d children, only %d elements follow",
				root->num_children, m->nschema - 1);
		return;
	}
	walk w = {d, 1, 0};
	for (int c = 0; c < root->num_children && !d->t.err; c++)
		walk_elem(&w, 1, 0, 0, 0, false, "");
	if (d->t.err)
		return;
	if (w.next != m->nschema) {
		cl__thrift_fail(&d->t, "schema has %d elements but its tree uses %d",
				m->nschema, w.next);
		return;
	}
	m->nleaves = w.nleaves;
	int64_t first = 0;
	for (int g = 0; g < m->nrow_groups; g++) {
		cl__pq_row_group *rg = &m->row_groups[g];
		if (rg->ncolumns != m->nleaves) {
			cl__thrift_fail(&d->t, "row group %d has %d column chunks, the schema %d columns",
					g, rg->ncolumns, m->nleaves);
			return;
		}
		if (rg->num_rows < 0) {
			cl__thrift_fail(&d->t, "row group %d has no valid num_rows", g);
			return;
		}
		rg->first_row = first;
		first = rg->num_rows > INT64_MAX - first ? INT64_MAX : first + rg->num_rows;
	}
}

int cl__pq_meta_decode(cl__pq_meta **out, uint8_t *footer, size_t n, cl_error *err)
{
	*out = NULL;
	cl__pq_meta *m = cl_calloc(1, sizeof *m);
	if (!m) {
		cl_free(footer);
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	}
	m->footer = footer;
	m->footer_len = n;
	m->num_rows = -1;
	dec d;
	cl__thrift_init(&d.t, footer, n, err);
	d.m = m;
	int type;
	int16_t fid;
	bool have_schema = false;
	if (cl__thrift_struct_begin(&d.t))
		goto done;
	while (cl__thrift_field(&d.t, &type, &fid)) {
		switch (fid) {
		case 1: m->version = (int32_t)read_int(&d, type, "version"); break;
		case 2:
			m->schema = read_struct_list(&d, type, "schema", sizeof *m->schema,
						     &m->nschema);
			for (int i = 0; i < m->nschema && !d.t.err; i++)
				read_schema_elem(&d, &m->schema[i]);
			have_schema = true;
			break;
		case 3: m->num_rows = read_int(&d, type, "num_rows"); break;
		case 4:
			m->row_groups = read_struct_list(&d, type, "row_groups",
							 sizeof *m->row_groups, &m->nrow_groups);
			for (int i = 0; i < m->nrow_groups && !d.t.err; i++)
				read_row_group(&d, &m->row_groups[i]);
			break;
		case 5:
			m->kv = read_struct_list(&d, type, "key_value_metadata", sizeof *m->kv,
						 &m->nkv);
			for (int i = 0; i < m->nkv && !d.t.err; i++)
				read_kv(&d, &m->kv[i]);
			break;
		case 6:
			if (want(&d, type, TC_BINARY, "created_by"))
				m->created_by = read_string(&d);
			break;
		case 7: {
			int et;
			if (!want(&d, type, TC_LIST, "column_orders"))
				break;
			int64_t cnt = cl__thrift_list(&d.t, &et);
			for (int64_t i = 0; i < cnt && !d.t.err; i++)
				cl__thrift_skip(&d.t, et);
			m->type_defined_order = cnt > 0;
			break;
		}
		case 8:
			m->encrypted = true;
			cl__thrift_skip(&d.t, type);
			break;
		default: cl__thrift_skip(&d.t, type);
		}
	}
	cl__thrift_struct_end(&d.t);
	if (d.t.err)
		goto done;
	if (m->encrypted) {
		d.t.err = cl_error_set(err, CL_EUNSUPPORTED, "encrypted Parquet not supported");
		goto done;
	}
	if (!have_schema) {
		cl__thrift_fail(&d.t, "file metadata has no schema");
		goto done;
	}
	if (m->num_rows < 0) {
		cl__thrift_fail(&d.t, "file metadata has no valid num_rows");
		goto done;
	}
	build_leaves(&d);
done:
	if (d.t.err) {
		int rc = d.t.err;
		cl__pq_meta_free(m);
		return rc;
	}
	*out = m;
	return 0;
}

/* ---- page header ---- */

int cl__pq_page_header_decode(cl__pq_page_header *h, const uint8_t *p, size_t n,
			      size_t *used, cl_error *err)
{
	memset(h, 0, sizeof *h);
	h->type = -1;
	h->uncompressed_size = h->compressed_size = -1;
	h->is_compressed = true;
	h->def_encoding = h->rep_encoding = PQ_ENC_RLE;
	dec d;
	cl__thrift_init(&d.t, p, n, err);
	d.m = NULL;
	int type, ft;
	int16_t fid, ffid;
	bool have_num = false;
	if (cl__thrift_struct_begin(&d.t))
		goto done;
	while (cl__thrift_field(&d.t, &type, &fid)) {
		switch (fid) {
		case 1: h->type = (int)read_int(&d, type, "PageHeader.type"); break;
		case 2:
			h->uncompressed_size = (int32_t)read_int(&d, type, "uncompressed_page_size");
			break;
		case 3:
			h->compressed_size = (int32_t)read_int(&d, type, "compressed_page_size");
			break;
		case 4:
			h->crc = (uint32_t)read_int(&d, type, "crc");
			h->has_crc = true;
			break;
		case 5:
		case 7:
		case 8:
			if (!want(&d, type, TC_STRUCT, "page sub-header"))
				break;
			if (fid == 5)
				h->has_data = true;
			else if (fid == 7)
				h->has_dict = true;
			else
				h->has_v2 = true;
			if (cl__thrift_struct_begin(&d.t))
				goto done;
			while (cl__thrift_field(&d.t, &ft, &ffid)) {
				if (ffid == 1) {
					h->num_values = (int32_t)read_int(&d, ft, "num_values");
					have_num = true;
				} else if ((fid != 8 && ffid == 2) || (fid == 8 && ffid == 4))
					h->encoding = (int)read_int(&d, ft, "encoding");
				else if (fid == 5 && ffid == 3)
					h->def_encoding = (int)read_int(&d, ft, "def_encoding");
				else if (fid == 5 && ffid == 4)
					h->rep_encoding = (int)read_int(&d, ft, "rep_encoding");
				else if (fid == 8 && ffid == 2)
					h->num_nulls = (int32_t)read_int(&d, ft, "num_nulls");
				else if (fid == 8 && ffid == 3)
					h->num_rows = (int32_t)read_int(&d, ft, "num_rows");
				else if (fid == 8 && ffid == 5)
					h->def_len = (int32_t)read_int(&d, ft, "def_levels_byte_length");
				else if (fid == 8 && ffid == 6)
					h->rep_len = (int32_t)read_int(&d, ft, "rep_levels_byte_length");
				else if (fid == 8 && ffid == 7 && (ft == TC_TRUE || ft == TC_FALSE))
					h->is_compressed = cl__thrift_bool(&d.t, ft);
				else
					cl__thrift_skip(&d.t, ft);
			}
			cl__thrift_struct_end(&d.t);
			break;
		default: cl__thrift_skip(&d.t, type);
		}
	}
	cl__thrift_struct_end(&d.t);
	if (d.t.err)
		goto done;
	if (h->type < 0 || h->uncompressed_size < 0 || h->compressed_size < 0) {
		cl__thrift_fail(&d.t, "page header without type or sizes (or negative sizes)");
		goto done;
	}
	if ((h->type == PQ_PAGE_DATA && !h->has_data) ||
	    (h->type == PQ_PAGE_DICTIONARY && !h->has_dict) ||
	    (h->type == PQ_PAGE_DATA_V2 && !h->has_v2)) {
		cl__thrift_fail(&d.t, "page of type %d lacks its header", h->type);
		goto done;
	}
	if ((h->has_data || h->has_dict || h->has_v2) && (!have_num || h->num_values < 0)) {
		cl__thrift_fail(&d.t, "page header has a negative or missing value count %d",
				h->num_values);
		goto done;
	}
	if (h->has_v2 && (h->num_nulls < 0 || h->num_rows < 0 || h->def_len < 0 ||
			  h->rep_len < 0 || h->num_nulls > h->num_values ||
			  (int64_t)h->def_len + h->rep_len > h->compressed_size)) {
		cl__thrift_fail(&d.t, "data page v2 header sizes do not add up");
		goto done;
	}
done:
	if (d.t.err)
		return d.t.err;
	*used = cl__thrift_pos(&d.t);
	return 0;
}

const char *cl__pq_type_name(int type)
{
	static const char *names[] = {"BOOLEAN", "INT32", "INT64", "INT96",
				      "FLOAT", "DOUBLE", "BYTE_ARRAY", "FIXED_LEN_BYTE_ARRAY"};
	return type >= 0 && type < 8 ? names[type] : "?";
}

const char *cl__pq_encoding_name(int enc)
{
	switch (enc) {
	case PQ_ENC_PLAIN: return "PLAIN";
	case PQ_ENC_PLAIN_DICTIONARY: return "PLAIN_DICTIONARY";
	case PQ_ENC_RLE: return "RLE";
	case PQ_ENC_BIT_PACKED: return "BIT_PACKED";
	case PQ_ENC_DELTA_BINARY_PACKED: return "DELTA_BINARY_PACKED";
	case PQ_ENC_DELTA_LENGTH_BYTE_ARRAY: return "DELTA_LENGTH_BYTE_ARRAY";
	case PQ_ENC_DELTA_BYTE_ARRAY: return "DELTA_BYTE_ARRAY";
	case PQ_ENC_RLE_DICTIONARY: return "RLE_DICTIONARY";
	case PQ_ENC_BYTE_STREAM_SPLIT: return "BYTE_STREAM_SPLIT";
	}
	return "?";
}
