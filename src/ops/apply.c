/*
 * apply.c — change sets onto targets: the mapping of change-set columns to
 * a target's (cl_changes) and the application to a snapshot (cl_apply).
 * See changelake/apply.h for the contract.
 *
 * Mapping. Each target column gets one source column: a key its own name,
 * a value column "RIGHT_X" (column-by-column) or "X" (right-side). The mode
 * is detected from which of those exist for every value column; when both
 * could (a target with columns x and right_x, say), the presence of
 * "LEFT_X" columns decides. Every change-set column must be accounted for
 * (diff, change column, keys, new values, and in column-by-column mode the
 * LEFT_X old values), so a change set made for another table is refused
 * before anything changes. A source column converts to the target type by
 * copy (same type), by widening (diff_compare.c), or through its text.
 *
 * Snapshot application. All normalised changes are held in one batch with
 * a hash table on the key (duplicates refused); each target batch is
 * rewritten row by row (kept, replaced, or dropped), marking the change
 * rows used; the unused I/C rows are the inserts, emitted last in
 * change-set order. The result is deterministic for given inputs.
 */
#include "changelake/apply.h"
#include "diff_impl.h"
#include "core/value_text.h"

#include <stdlib.h>
#include <string.h>

void cl_apply_options_init(cl_apply_options *o)
{
	memset(o, 0, sizeof *o);
	o->mode = -1;
	o->diff_column = "diff";
	o->left_prefix = "left";
	o->right_prefix = "right";
	o->insert_value = "I";
	o->change_value = "C";
	o->delete_value = "D";
	o->nochange_value = "N";
	o->changes_name = "CHANGES";
	o->target_name = "TARGET";
}

static int oom(cl_error *err)
{
	return cl_error_set(err, CL_ENOMEM, "out of memory");
}

enum { CONV_COPY = 0, CONV_CAST, CONV_TEXT };

struct cl_changes {
	cl_schema *nschema;
	int ntarget;
	int diff_idx;
	int *src;      /* per target column: change-set column */
	int *conv;     /* per target column: CONV_* */
	char *vals[4]; /* I C D N */
	bool prefixed;
	char *changes_name;
	cl_batch *out;
	cl_column scratch;
	int64_t *keep;
	int64_t keep_cap;
	int64_t *rows;     /* 1-based input row of each normalised row */
	cl_buf text;
	int *lsrc;         /* per target column: its LEFT_X column, or -1 */
	bool allow_sparse;
	/* sparse detection: a C row with a value NULL on both sides (sparse
	 * or a NULL that did not change), a C/N row with an equal non-NULL
	 * value on both sides (never in a sparse change set) */
	bool sparse_seen, dense_seen;
	char sparse_where[512];
};

static int find_prefixed(const cl_schema *s, const char *prefix, const char *name)
{
	char buf[1024];
	snprintf(buf, sizeof buf, "%s_%s", prefix, name);
	return cl_schema_find(s, buf);
}

static bool is_key(const cl_apply_options *o, const char *name)
{
	for (int k = 0; k < o->nkeys; k++)
		if (!strcmp(o->keys[k], name))
			return true;
	return false;
}

int cl_changes_create(cl_changes **out, const cl_schema *cs, const cl_schema *ts,
		      const cl_apply_options *o, cl_error *err)
{
	cl_apply_options def;
	if (!o) {
		cl_apply_options_init(&def);
		o = &def;
	}
	const char *cn = o->changes_name ? o->changes_name : "CHANGES";
	const char *tn = o->target_name ? o->target_name : "TARGET";
	const char *lp = o->left_prefix ? o->left_prefix : "left";
	const char *rp = o->right_prefix ? o->right_prefix : "right";
	const char *dc = o->diff_column ? o->diff_column : "diff";
	cl_changes *c = cl_calloc(1, sizeof *c);
	if (!c)
		return oom(err);
	int rc = 0;
	char ta[64], tb[64];
	const char *vals[4] = {o->insert_value, o->change_value, o->delete_value,
			       o->nochange_value};
	const char *defs[4] = {"I", "C", "D", "N"};
	for (int i = 0; i < 4; i++)
		if (!(c->vals[i] = cl_strdup(vals[i] ? vals[i] : defs[i]))) {
			rc = oom(err);
			goto fail;
		}
	if (!(c->changes_name = cl_strdup(cn))) {
		rc = oom(err);
		goto fail;
	}
	c->ntarget = ts->nfields;
	c->src = cl_calloc((size_t)ts->nfields + 1, sizeof *c->src);
	c->conv = cl_calloc((size_t)ts->nfields + 1, sizeof *c->conv);
	c->lsrc = cl_calloc((size_t)ts->nfields + 1, sizeof *c->lsrc);
	c->allow_sparse = o->allow_sparse;
	bool *used = cl_calloc((size_t)cs->nfields + 1, sizeof *used);
	if (!c->src || !c->conv || !c->lsrc || !used) {
		cl_free(used);
		rc = oom(err);
		goto fail;
	}
	c->diff_idx = cl_schema_find(cs, dc);
	if (c->diff_idx < 0) {
		rc = cl_error_set(err, CL_ENOTFOUND,
				  "%s has no diff column '%s'; is it a change set? (--diff-column)",
				  cn, dc);
		goto fail_used;
	}
	if (cs->fields[c->diff_idx].type.id != CL_STRING) {
		rc = cl_error_set(err, CL_ESCHEMA, "%s: the diff column '%s' is not text", cn,
				  dc);
		goto fail_used;
	}
	used[c->diff_idx] = true;
	if (o->change_column) {
		int i = cl_schema_find(cs, o->change_column);
		if (i >= 0)
			used[i] = true;
	}
	if (o->nkeys < 1) {
		rc = cl_error_set(err, CL_EINVAL, "apply: the key columns are needed (--key)");
		goto fail_used;
	}
	for (int k = 0; k < o->nkeys; k++) {
		if (cl_schema_find(ts, o->keys[k]) < 0) {
			rc = cl_error_set(err, CL_ENOTFOUND, "key column '%s' is not in %s",
					  o->keys[k], tn);
			goto fail_used;
		}
		if (cl_schema_find(cs, o->keys[k]) < 0) {
			rc = cl_error_set(err, CL_ENOTFOUND, "key column '%s' is not in %s",
					  o->keys[k], cn);
			goto fail_used;
		}
	}
	/* detect the mode */
	bool cbc_ok = true, rs_ok = true, any_left = false;
	const char *miss_cbc = NULL, *miss_rs = NULL;
	for (int j = 0; j < ts->nfields; j++) {
		const char *n = ts->fields[j].name;
		if (is_key(o, n))
			continue;
		if (find_prefixed(cs, rp, n) < 0) {
			cbc_ok = false;
			if (!miss_cbc)
				miss_cbc = n;
		}
		if (cl_schema_find(cs, n) < 0) {
			rs_ok = false;
			if (!miss_rs)
				miss_rs = n;
		}
		if (find_prefixed(cs, lp, n) >= 0)
			any_left = true;
	}
	bool prefixed;
	if (o->mode >= 0)
		prefixed = o->mode == CL_DIFF_COLUMN_BY_COLUMN || o->mode == CL_DIFF_SIDE_BY_SIDE;
	else if (cbc_ok && rs_ok)
		prefixed = any_left;
	else if (cbc_ok || rs_ok)
		prefixed = cbc_ok;
	else {
		/* name the column missing in the more plausible reading */
		bool looks_prefixed = false;
		size_t pl = strlen(rp);
		for (int i = 0; i < cs->nfields; i++)
			if (!strncmp(cs->fields[i].name, rp, pl) && cs->fields[i].name[pl] == '_')
				looks_prefixed = true;
		if (looks_prefixed)
			rc = cl_error_set(err, CL_ESCHEMA,
					  "%s has no column '%s_%s' for %s's column '%s'", cn,
					  rp, miss_cbc, tn, miss_cbc);
		else
			rc = cl_error_set(err, CL_ESCHEMA,
					  "%s has no column '%s' for %s's column of that name",
					  cn, miss_rs, tn);
		goto fail_used;
	}
	c->prefixed = prefixed;
	if ((rc = cl_schema_create(&c->nschema, err)) ||
	    (rc = cl_schema_add(c->nschema, "action", cl_type_make(CL_INT8), false, err)))
		goto fail_used;
	for (int j = 0; j < ts->nfields; j++) {
		const cl_field *f = &ts->fields[j];
		int s;
		if (is_key(o, f->name))
			s = cl_schema_find(cs, f->name);
		else if (prefixed)
			s = find_prefixed(cs, rp, f->name);
		else
			s = cl_schema_find(cs, f->name);
		if (s < 0) {
			rc = cl_error_set(err, CL_ESCHEMA, "%s has no column for %s's column '%s'",
					  cn, tn, f->name);
			goto fail_used;
		}
		used[s] = true;
		c->lsrc[j] = -1;
		if (prefixed && !is_key(o, f->name)) {
			int l = find_prefixed(cs, lp, f->name);
			if (l >= 0)
				used[l] = true;
			c->lsrc[j] = l;
		}
		cl_type st = cs->fields[s].type, tt = f->type, w;
		if (cl_type_equal(st, tt))
			c->conv[j] = CONV_COPY;
		else if (cl__diff_widen(st, tt, &w) && cl_type_equal(w, tt))
			c->conv[j] = CONV_CAST;
		else if ((st.id == CL_BINARY) != (tt.id == CL_BINARY) &&
			 st.id != CL_STRING && tt.id != CL_STRING && st.id != CL_NULLTYPE) {
			rc = cl_error_set(err, CL_ESCHEMA,
					  "column '%s' is %s in %s but %s in %s", f->name,
					  cl_type_format(ta, sizeof ta, st), cn,
					  cl_type_format(tb, sizeof tb, tt), tn);
			goto fail_used;
		} else {
			/* through the value's text, checked value by value: change
			 * sets read from CSV or JSON have inferred types (a decimal
			 * for a double column, int64 for int32) */
			c->conv[j] = CONV_TEXT;
		}
		c->src[j] = s;
		if ((rc = cl_schema_add(c->nschema, f->name, tt, true, err)))
			goto fail_used;
	}
	for (int d = 0; d < o->nderived; d++) {
		int i = cl_schema_find(cs, o->derived[d]);
		if (i >= 0)
			used[i] = true;
		if ((i = find_prefixed(cs, lp, o->derived[d])) >= 0)
			used[i] = true;
		if ((i = find_prefixed(cs, rp, o->derived[d])) >= 0)
			used[i] = true;
	}
	for (int i = 0; i < cs->nfields; i++)
		if (!used[i]) {
			rc = cl_error_set(err, CL_ESCHEMA,
					  "column '%s' of %s has no place in %s%s", cs->fields[i].name,
					  cn, tn,
					  o->change_column ? ""
							   : " (a change column? name it with --change-column)");
			goto fail_used;
		}
	cl_free(used);
	if ((rc = cl_batch_create(&c->out, c->nschema, 0, err)))
		goto fail;
	*out = c;
	return 0;
fail_used:
	cl_free(used);
fail:
	cl_changes_free(c);
	return rc;
}

const cl_schema *cl_changes_schema(const cl_changes *c)
{
	return c->nschema;
}

bool cl_changes_prefixed(const cl_changes *c)
{
	return c->prefixed;
}

void cl_changes_free(cl_changes *c)
{
	if (!c)
		return;
	cl_schema_free(c->nschema);
	cl_free(c->src);
	cl_free(c->conv);
	cl_free(c->lsrc);
	cl_free(c->rows);
	for (int i = 0; i < 4; i++)
		cl_free(c->vals[i]);
	cl_free(c->changes_name);
	cl_batch_free(c->out);
	cl_column_release(&c->scratch);
	cl_free(c->keep);
	cl_buf_release(&c->text);
	cl_free(c);
}

/* Evidence for or against a sparse change set in C/N row r. */
static void sparse_check(cl_changes *c, const cl_batch *in, int64_t r, bool change,
			 const char *source, int64_t first_row)
{
	if (c->dense_seen)
		return;
	for (int j = 0; j < c->ntarget; j++) {
		if (c->lsrc[j] < 0)
			continue;
		const cl_column *l = &in->cols[c->lsrc[j]], *v = &in->cols[c->src[j]];
		bool ln = l->type.id == CL_NULLTYPE || cl_column_is_null(l, r);
		bool vn = v->type.id == CL_NULLTYPE || cl_column_is_null(v, r);
		if (!ln && !vn && cl__diff_equal_any(l, r, v, r)) {
			c->dense_seen = true;
			return;
		}
		if (ln && vn && change && !c->sparse_seen) {
			c->sparse_seen = true;
			snprintf(c->sparse_where, sizeof c->sparse_where,
				 "%s row %lld, column '%s'", source, (long long)(first_row + r),
				 c->nschema->fields[j + 1].name);
		}
	}
}

int cl_changes_check(const cl_changes *c, cl_error *err)
{
	if (!c->sparse_seen || c->dense_seen || c->allow_sparse)
		return 0;
	return cl_error_set(err, CL_EFORMAT,
			    "%s looks like a sparse change set (spark-extension's sparse mode: "
			    "values that did not change are NULL on both sides, as at %s, and "
			    "no changed row shows an unchanged non-NULL value); applying it "
			    "would set those values to NULL. Diff again without --sparse, or "
			    "pass --not-sparse if every such NULL really is NULL",
			    c->changes_name, c->sparse_where);
}

const int64_t *cl_changes_rows(const cl_changes *c)
{
	return c->rows;
}

int cl_changes_map(cl_changes *c, const cl_batch *in, const char *source,
		   int64_t first_row, cl_batch **out, cl_error *err)
{
	int rc;
	if (!source)
		source = c->changes_name;
	cl_batch_clear(c->out);
	*out = c->out;
	if (in->nrows > c->keep_cap) {
		int64_t *k = cl_realloc(c->keep, (size_t)in->nrows * sizeof *k);
		if (!k)
			return oom(err);
		c->keep = k;
		int64_t *rw = cl_realloc(c->rows, (size_t)in->nrows * sizeof *rw);
		if (!rw)
			return oom(err);
		c->rows = rw;
		c->keep_cap = in->nrows;
	}
	static const int8_t codes[4] = {'I', 'C', 'D', 'N'};
	const cl_column *dcol = &in->cols[c->diff_idx];
	cl_column *act = &c->out->cols[0];
	int64_t nk = 0;
	for (int64_t r = 0; r < in->nrows; r++) {
		if (cl_column_is_null(dcol, r))
			return cl_error_set(err, CL_EFORMAT, "%s row %lld: the diff column is NULL",
					    source, (long long)(first_row + r));
		size_t n;
		const uint8_t *p = cl_column_get_bytes(dcol, r, &n);
		int a = -1;
		for (int i = 0; i < 4; i++)
			if (strlen(c->vals[i]) == n && !memcmp(c->vals[i], p, n))
				a = i;
		if (a < 0)
			return cl_error_set(err, CL_EFORMAT,
					    "%s row %lld: diff value '%.*s' is none of %s, %s, %s, %s",
					    source, (long long)(first_row + r), n > 40 ? 40 : (int)n,
					    (const char *)p, c->vals[0], c->vals[1], c->vals[2],
					    c->vals[3]);
		if (a == 1 || a == 3)
			sparse_check(c, in, r, a == 1, source, first_row);
		if (a == 3)
			continue;
		c->rows[nk] = first_row + r;
		c->keep[nk++] = r;
		if ((rc = cl_column_append_i64(act, codes[a], err)))
			return rc;
	}
	for (int j = 0; j < c->ntarget; j++) {
		cl_column *dst = &c->out->cols[j + 1];
		const cl_column *src = &in->cols[c->src[j]];
		if (c->conv[j] == CONV_CAST) {
			cl_column_release(&c->scratch);
			if ((rc = cl_column_init(&c->scratch, dst->type, in->nrows, err)) ||
			    (rc = cl__diff_cast(&c->scratch, src, err)))
				return rc;
			src = &c->scratch;
		}
		if (c->conv[j] != CONV_TEXT && nk == in->nrows) {
			if ((rc = cl_column_append_range(dst, src, 0, nk, err)))
				return rc;
			continue;
		}
		for (int64_t i = 0; i < nk; i++) {
			int64_t r = c->keep[i];
			if (c->conv[j] != CONV_TEXT || src->type.id == CL_NULLTYPE ||
			    cl_column_is_null(src, r)) {
				rc = src->type.id == CL_NULLTYPE || cl_column_is_null(src, r)
					     ? cl_column_append_null(dst, err)
					     : cl_column_append_from(dst, src, r, err);
				if (rc)
					return rc;
				continue;
			}
			cl_buf_clear(&c->text);
			if (cl__value_format(&c->text, src, r))
				return oom(err);
			rc = cl__column_append_text(dst, (const char *)c->text.data, c->text.len,
						    err);
			if (rc)
				return cl_error_prefix(err, "%s row %lld, column '%s': ", source,
						       (long long)(first_row + r),
						       c->nschema->fields[j + 1].name);
		}
	}
	c->out->nrows = nk;
	return 0;
}

/* ---- snapshot application ------------------------------------------------ */

struct cl_apply {
	cl_schema *nschema;
	int nkeys;
	int *keyidx;       /* key columns in the normalised schema */
	cl_batch *ch;      /* all changes */
	uint64_t *hashes;
	int64_t hcap;
	uint32_t *slots;
	uint64_t mask;
	uint8_t *used;
	bool built;
	cl_batch *out;
	int64_t rest_pos;
	uint64_t *th;
	int64_t thcap;
	int64_t *pick;     /* per output row: target row (>= 0) or -(change row) - 1 */
	int64_t pickcap;
	char *changes_name;
	int64_t *prov;     /* per change row: source << 40 | input row, or -1 */
	int64_t provcap;
	char **sources;
	int nsources;
	cl_apply_stats stats;
};

int cl_apply_create(cl_apply **out, const cl_schema *ns, const cl_apply_options *o,
		    cl_error *err)
{
	cl_apply *a = cl_calloc(1, sizeof *a);
	if (!a)
		return oom(err);
	int rc = cl_schema_copy(&a->nschema, ns, err);
	if (!rc && !(a->keyidx = cl_calloc((size_t)o->nkeys + 1, sizeof *a->keyidx)))
		rc = oom(err);
	if (!rc && !(a->changes_name = cl_strdup(o->changes_name ? o->changes_name
								  : "CHANGES")))
		rc = oom(err);
	for (int k = 0; !rc && k < o->nkeys; k++) {
		a->keyidx[k] = cl_schema_find(ns, o->keys[k]);
		if (a->keyidx[k] < 1)
			rc = cl_error_set(err, CL_ENOTFOUND, "key column '%s' is not in the changes",
					  o->keys[k]);
	}
	a->nkeys = o->nkeys;
	if (!rc)
		rc = cl_batch_create(&a->ch, ns, 0, err);
	if (!rc) {
		/* the output has the target's columns: the normalised ones but action */
		cl_schema ts = {ns->nfields - 1, ns->nfields - 1, ns->fields + 1};
		rc = cl_batch_create(&a->out, &ts, 0, err);
	}
	if (rc) {
		cl_apply_free(a);
		return rc;
	}
	*out = a;
	return 0;
}

void cl_apply_free(cl_apply *a)
{
	if (!a)
		return;
	cl_schema_free(a->nschema);
	cl_free(a->keyidx);
	cl_batch_free(a->ch);
	cl_batch_free(a->out);
	cl_free(a->hashes);
	cl_free(a->slots);
	cl_free(a->used);
	cl_free(a->th);
	cl_free(a->pick);
	cl_free(a->changes_name);
	cl_free(a->prov);
	for (int i = 0; i < a->nsources; i++)
		cl_free(a->sources[i]);
	cl_free(a->sources);
	cl_free(a);
}

const cl_apply_stats *cl_apply_get_stats(const cl_apply *a)
{
	return &a->stats;
}

static int grow(void **p, int64_t *cap, int64_t need, size_t size, cl_error *err);

int cl_apply_add_from(cl_apply *a, const cl_batch *b, const char *source,
		      const int64_t *rows, cl_error *err)
{
	int64_t base = a->ch->nrows;
	int rc = cl_apply_add(a, b, err);
	if (rc || !rows || !source)
		return rc;
	int64_t cap = a->provcap;
	if ((rc = grow((void **)&a->prov, &cap, a->ch->nrows, sizeof *a->prov, err)))
		return rc;
	for (int64_t i = a->provcap; i < cap; i++)
		a->prov[i] = -1;
	a->provcap = cap;
	int src = a->nsources - 1;
	if (src < 0 || strcmp(a->sources[src], source)) {
		char **s = cl_realloc(a->sources, (size_t)(a->nsources + 1) * sizeof *s);
		if (!s)
			return oom(err);
		a->sources = s;
		if (!(s[a->nsources] = cl_strdup(source)))
			return oom(err);
		src = a->nsources++;
	}
	for (int64_t i = 0; i < b->nrows; i++)
		a->prov[base + i] = ((int64_t)src << 40) | rows[i];
	return 0;
}

/* "file row N" of change row r, or "change row N". */
static void change_where(const cl_apply *a, int64_t r, char *buf, size_t n)
{
	if (a->prov && r < a->provcap && a->prov[r] >= 0) {
		int src = (int)(a->prov[r] >> 40);
		snprintf(buf, n, "%s row %lld", a->sources[src],
			 (long long)(a->prov[r] & (((int64_t)1 << 40) - 1)));
	} else {
		snprintf(buf, n, "change row %lld", (long long)r + 1);
	}
}

int cl_apply_add(cl_apply *a, const cl_batch *b, cl_error *err)
{
	if (a->built)
		return cl_error_set(err, CL_EINVAL, "apply: changes after the target");
	for (int j = 0; j < a->ch->ncols; j++) {
		int rc = cl_column_append_range(&a->ch->cols[j], &b->cols[j], 0, b->nrows, err);
		if (rc)
			return rc;
	}
	a->ch->nrows += b->nrows;
	return 0;
}

static int grow(void **p, int64_t *cap, int64_t need, size_t size, cl_error *err)
{
	if (need <= *cap)
		return 0;
	int64_t c = *cap ? *cap : 1024;
	while (c < need)
		c *= 2;
	void *x = cl_realloc(*p, (size_t)c * size);
	if (!x)
		return oom(err);
	*p = x;
	*cap = c;
	return 0;
}

static bool keys_eq(const cl_apply *a, int64_t crow, const cl_batch *t, int64_t trow,
		    int toff)
{
	for (int k = 0; k < a->nkeys; k++) {
		int j = a->keyidx[k];
		if (!cl__diff_equal(&a->ch->cols[j], crow, &t->cols[j - toff], trow))
			return false;
	}
	return true;
}

static int key_text(const cl_apply *a, int64_t row, char *buf, size_t n)
{
	cl_buf b = {0};
	for (int k = 0; k < a->nkeys; k++) {
		const cl_column *c = &a->ch->cols[a->keyidx[k]];
		cl_buf_printf(&b, "%s%s=", k ? ", " : "", a->nschema->fields[a->keyidx[k]].name);
		if (cl_column_is_null(c, row))
			cl_buf_puts(&b, "NULL");
		else
			cl__value_format(&b, c, row);
	}
	snprintf(buf, n, "%s", b.data ? (char *)b.data : "");
	cl_buf_release(&b);
	return 0;
}

static int build(cl_apply *a, cl_error *err)
{
	int64_t n = a->ch->nrows;
	if (n >= ((int64_t)1 << 32) - 1)
		return cl_error_set(err, CL_EUNSUPPORTED, "apply: too many changes");
	int64_t hc = 0;
	if (grow((void **)&a->hashes, &hc, n + 1, sizeof *a->hashes, err))
		return CL_ENOMEM;
	memset(a->hashes, 0, (size_t)(n + 1) * sizeof *a->hashes);
	for (int k = 0; k < a->nkeys; k++)
		cl_hash_column(&a->ch->cols[a->keyidx[k]], a->hashes, n);
	uint64_t cap = 16;
	while (cap < (uint64_t)n * 2)
		cap *= 2;
	a->mask = cap - 1;
	a->slots = cl_calloc(cap, sizeof *a->slots);
	a->used = cl_calloc((size_t)(n + 8) / 8, 1);
	if (!a->slots || !a->used)
		return oom(err);
	for (int64_t r = 0; r < n; r++) {
		uint64_t i = a->hashes[r] & a->mask;
		for (;;) {
			uint32_t e = a->slots[i];
			if (!e) {
				a->slots[i] = (uint32_t)r + 1;
				break;
			}
			if (a->hashes[e - 1] == a->hashes[r] && keys_eq(a, e - 1, a->ch, r, 0)) {
				char kb[512], wa[512], wb[512];
				key_text(a, r, kb, sizeof kb);
				change_where(a, e - 1, wa, sizeof wa);
				change_where(a, r, wb, sizeof wb);
				return cl_error_set(err, CL_EDUPKEY,
						    "%s changes key (%s) twice: %s and %s",
						    a->changes_name, kb, wa, wb);
			}
			i = (i + 1) & a->mask;
		}
	}
	a->built = true;
	return 0;
}

/* Fill a->out from the pick list. */
static int emit(cl_apply *a, const cl_batch *t, int64_t n, cl_error *err)
{
	cl_batch_clear(a->out);
	for (int j = 0; j < a->out->ncols; j++) {
		cl_column *dst = &a->out->cols[j];
		for (int64_t i = 0; i < n; i++) {
			int64_t p = a->pick[i];
			int rc = p >= 0 ? cl_column_append_from(dst, &t->cols[j], p, err)
					: cl_column_append_from(dst, &a->ch->cols[j + 1], -p - 1, err);
			if (rc)
				return rc;
		}
	}
	a->out->nrows = n;
	a->stats.rows_out += n;
	return 0;
}

int cl_apply_rewrite(cl_apply *a, const cl_batch *t, cl_batch **out, cl_error *err)
{
	int rc;
	*out = NULL;
	if (!a->built && (rc = build(a, err)))
		return rc;
	if (t->ncols != a->out->ncols)
		return cl_error_set(err, CL_ESCHEMA, "apply: target batch has %d columns, not %d",
				    t->ncols, a->out->ncols);
	int64_t n = t->nrows;
	if ((rc = grow((void **)&a->th, &a->thcap, n + 1, sizeof *a->th, err)) ||
	    (rc = grow((void **)&a->pick, &a->pickcap, n + 1, sizeof *a->pick, err)))
		return rc;
	memset(a->th, 0, (size_t)n * sizeof *a->th);
	for (int k = 0; k < a->nkeys; k++)
		cl_hash_column(&t->cols[a->keyidx[k] - 1], a->th, n);
	const int8_t *act = (const int8_t *)a->ch->cols[0].values;
	int64_t np = 0;
	for (int64_t r = 0; r < n; r++) {
		uint64_t i = a->th[r] & a->mask;
		uint32_t found = 0;
		for (;;) {
			uint32_t e = a->slots[i];
			if (!e)
				break;
			if (a->hashes[e - 1] == a->th[r] && keys_eq(a, e - 1, t, r, 1)) {
				found = e;
				break;
			}
			i = (i + 1) & a->mask;
		}
		if (!found) {
			a->pick[np++] = r;
			continue;
		}
		int64_t c = found - 1;
		cl_bit_set(a->used, c, true);
		if (act[c] == 'D') {
			a->stats.deleted++;
			continue;
		}
		a->stats.updated++;
		a->pick[np++] = -c - 1;
	}
	a->stats.target_rows += n;
	if ((rc = emit(a, t, np, err)))
		return rc;
	*out = a->out;
	return 0;
}

int cl_apply_rest(cl_apply *a, cl_batch **out, cl_error *err)
{
	int rc;
	*out = NULL;
	if (!a->built && (rc = build(a, err)))
		return rc;
	const int8_t *act = (const int8_t *)a->ch->cols[0].values;
	int64_t np = 0;
	if ((rc = grow((void **)&a->pick, &a->pickcap, 65536, sizeof *a->pick, err)))
		return rc;
	while (a->rest_pos < a->ch->nrows && np < 65536) {
		int64_t c = a->rest_pos++;
		if (cl_bit_get(a->used, c))
			continue;
		if (act[c] == 'D') {
			a->stats.missing_deletes++;
			continue;
		}
		a->stats.inserted++;
		a->pick[np++] = -c - 1;
	}
	if (!np)
		return 0;
	if ((rc = emit(a, NULL, np, err)))
		return rc;
	*out = a->out;
	return 0;
}
