/*
 * diff_plan.c — what a diff compares and what it outputs: options and
 * comparator rules, reconciliation of the two schemas into unified columns
 * (diff_impl.h), and the output schema of each mode (diff.h).
 *
 * Invariants of a built plan: u[0..nkeys) are the keys, present on both
 * sides in one unified type; every ROLE_VALUE column has a unified type
 * both sides widen into (a side lacking it reads as all NULL); output
 * column names are unique; each value column has its comparator resolved.
 */
#include "diff_impl.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void cl_diff_options_init(cl_diff_options *o)
{
	memset(o, 0, sizeof *o);
	o->diff_column = "diff";
	o->left_prefix = "left";
	o->right_prefix = "right";
	o->insert_value = "I";
	o->change_value = "C";
	o->delete_value = "D";
	o->nochange_value = "N";
	o->batch_rows = 65536;
	o->left_name = "OLD";
	o->right_name = "NEW";
}

static const char *mode_names[] = {"column-by-column", "side-by-side", "left-side",
				   "right-side"};

const char *cl_diff_mode_name(cl_diff_mode m)
{
	return (unsigned)m < 4 ? mode_names[m] : "?";
}

int cl_diff_mode_parse(cl_diff_mode *out, const char *name, cl_error *err)
{
	for (int i = 0; i < 4; i++)
		if (!strcmp(name, mode_names[i])) {
			*out = (cl_diff_mode)i;
			return 0;
		}
	/* spark-extension's spellings */
	static const char *alt[] = {"columnbycolumn", "sidebyside", "leftside", "rightside"};
	char low[32];
	size_t k = 0;
	for (const char *p = name; *p && k + 1 < sizeof low; p++)
		if (*p != '-' && *p != '_')
			low[k++] = (char)tolower((unsigned char)*p);
	low[k] = 0;
	for (int i = 0; i < 4; i++)
		if (!strcmp(low, alt[i])) {
			*out = (cl_diff_mode)i;
			return 0;
		}
	return cl_error_set(err, CL_EINVAL,
			    "unknown diff mode '%s' (column-by-column, side-by-side, "
			    "left-side, right-side)",
			    name);
}

static int parse_duration(const char *s, int64_t *ns)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || !(v >= 0) || isinf(v))
		return -1;
	double mul;
	if (!*end || !strcmp(end, "s"))
		mul = 1e9;
	else if (!strcmp(end, "ms"))
		mul = 1e6;
	else if (!strcmp(end, "us"))
		mul = 1e3;
	else if (!strcmp(end, "ns"))
		mul = 1;
	else if (!strcmp(end, "m") || !strcmp(end, "min"))
		mul = 60e9;
	else if (!strcmp(end, "h"))
		mul = 3600e9;
	else if (!strcmp(end, "d"))
		mul = 86400e9;
	else
		return -1;
	double r = v * mul;
	if (r > 9.2e18)
		return -1;
	*ns = (int64_t)llround(r);
	return 0;
}

int cl_diff_rule_parse(cl_diff_rule *out, cl_diff_cmp_kind kind, const char *text,
		       cl_error *err)
{
	memset(out, 0, sizeof *out);
	out->kind = kind;
	out->relative = true;
	out->inclusive = true;
	const char *eq = kind == CL_CMP_WHITESPACE ? NULL : strrchr(text, '=');
	size_t tn = eq ? (size_t)(eq - text) : strlen(text);
	if (kind != CL_CMP_WHITESPACE && !eq)
		return cl_error_set(err, CL_EINVAL, "'%s': expected COLUMN=%s", text,
				    kind == CL_CMP_EPSILON ? "EPSILON" : "DURATION");
	if (tn == 0 || tn >= sizeof out->target)
		return cl_error_set(err, CL_EINVAL, "'%s': bad column or type name", text);
	memcpy(out->target, text, tn);
	out->target[tn] = 0;
	if (!eq)
		return 0;
	char buf[128];
	const char *p = eq + 1;
	bool first = true;
	while (first || *p) {
		const char *q = strchr(p, ',');
		size_t n = q ? (size_t)(q - p) : strlen(p);
		if (n >= sizeof buf)
			return cl_error_set(err, CL_EINVAL, "'%s': bad value", text);
		memcpy(buf, p, n);
		buf[n] = 0;
		if (first) {
			if (kind == CL_CMP_EPSILON) {
				char *end;
				errno = 0;
				out->epsilon = strtod(buf, &end);
				if (errno || end == buf || *end || !(out->epsilon >= 0) ||
				    isinf(out->epsilon))
					return cl_error_set(err, CL_EINVAL,
							    "'%s': epsilon must be a number >= 0",
							    text);
			} else if (parse_duration(buf, &out->duration_ns)) {
				return cl_error_set(err, CL_EINVAL,
						    "'%s': duration must be like 500ms, 2s, 1m, 1h, 1d",
						    text);
			}
			first = false;
		} else if (!strcmp(buf, "abs") || !strcmp(buf, "absolute")) {
			if (kind != CL_CMP_EPSILON)
				goto badflag;
			out->relative = false;
		} else if (!strcmp(buf, "rel") || !strcmp(buf, "relative")) {
			if (kind != CL_CMP_EPSILON)
				goto badflag;
			out->relative = true;
		} else if (!strcmp(buf, "inclusive")) {
			out->inclusive = true;
		} else if (!strcmp(buf, "exclusive")) {
			out->inclusive = false;
		} else {
			goto badflag;
		}
		p += n;
		if (*p == ',')
			p++;
	}
	return 0;
badflag:
	return cl_error_set(err, CL_EINVAL, "'%s': unknown flag '%s'", text, buf);
}

/* ---- the plan ----------------------------------------------------------- */

static bool in_list(const char *const *list, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(list[i], name))
			return true;
	return false;
}

static int push_name(char ***list, int *n, const char *name, cl_error *err)
{
	char **l = cl_realloc(*list, (size_t)(*n + 1) * sizeof *l);
	if (!l)
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	*list = l;
	if (!(l[*n] = cl_strdup(name)))
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	(*n)++;
	return 0;
}

void cl__diff_plan_release(cl__diff_plan *p)
{
	for (int i = 0; i < p->nu; i++)
		cl_free(p->u[i].name);
	cl_free(p->u);
	cl_free(p->values);
	cl_free(p->out);
	cl_schema_free(p->out_schema);
	cl_free(p->ltypes);
	cl_free(p->rtypes);
	for (int i = 0; i < 4; i++)
		cl_free(p->val[i]);
	for (int i = 0; i < p->nleft_only; i++)
		cl_free(p->left_only[i]);
	for (int i = 0; i < p->nright_only; i++)
		cl_free(p->right_only[i]);
	for (int i = 0; i < p->nwidened; i++)
		cl_free(p->widened[i]);
	cl_free(p->left_only);
	cl_free(p->right_only);
	cl_free(p->widened);
	memset(p, 0, sizeof *p);
}

static int add_u(cl__diff_plan *p, const char *name, int role, int lidx, int ridx,
		 cl_error *err)
{
	cl__dcol *u = &p->u[p->nu];
	memset(u, 0, sizeof *u);
	if (!(u->name = cl_strdup(name)))
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	u->role = role;
	u->lidx = lidx;
	u->ridx = ridx;
	p->nu++;
	return 0;
}

/* Resolve types of unified column u; error when they do not widen. */
static int resolve_type(cl__diff_plan *p, cl__dcol *u, const cl_schema *l,
			const cl_schema *r, cl_error *err)
{
	char a[64], b[64];
	if (u->lidx >= 0)
		u->ltype = l->fields[u->lidx].type;
	if (u->ridx >= 0)
		u->rtype = r->fields[u->ridx].type;
	if (u->lidx < 0)
		u->ltype = u->rtype;
	if (u->ridx < 0)
		u->rtype = u->ltype;
	if (u->role == ROLE_IGNORED) {
		/* an all-NULL column of unknown type is carried as strings */
		if (u->ltype.id == CL_NULLTYPE)
			u->ltype = cl_type_make(CL_STRING);
		if (u->rtype.id == CL_NULLTYPE)
			u->rtype = cl_type_make(CL_STRING);
		u->type = u->lidx >= 0 ? u->ltype : u->rtype;
		return 0;
	}
	if (!cl__diff_widen(u->ltype, u->rtype, &u->type))
		return cl_error_set(err, CL_ESCHEMA,
				    "column '%s' is %s in %s but %s in %s, which does not "
				    "widen safely; convert one side or --ignore it",
				    u->name, cl_type_format(a, sizeof a, u->ltype),
				    p->left_name, cl_type_format(b, sizeof b, u->rtype),
				    p->right_name);
	if (u->type.id == CL_NULLTYPE)
		u->type = cl_type_make(CL_STRING);
	u->lcast = u->lidx >= 0 && !cl_type_equal(u->ltype, u->type);
	u->rcast = u->ridx >= 0 && !cl_type_equal(u->rtype, u->type);
	if (u->lidx >= 0 && u->ridx >= 0 && (u->lcast || u->rcast))
		return push_name(&p->widened, &p->nwidened, u->name, err);
	return 0;
}

static bool type_matches(const char *spec, cl_type t)
{
	cl_type want;
	if (cl_type_parse(&want, spec, strlen(spec), NULL))
		return false;
	if (want.id == CL_DECIMAL || want.id == CL_TIMESTAMP || want.id == CL_TIME)
		return want.id == t.id && (strchr(spec, '(') == NULL ||
					   cl_type_equal(want, t));
	return want.id == t.id;
}

static int resolve_rules(cl__diff_plan *p, const cl_diff_options *o, cl_error *err)
{
	char tb[64];
	for (int i = 0; i < o->nrules; i++) {
		const cl_diff_rule *r = &o->rules[i];
		if (!strcmp(r->target, "*"))
			continue;
		if (!strncmp(r->target, "type:", 5)) {
			cl_type t;
			if (cl_type_parse(&t, r->target + 5, strlen(r->target + 5), err))
				return cl_error_prefix(err, "comparator '%s': ", r->target);
			if (!cl__diff_rule_applies(r->kind, t))
				return cl_error_set(err, CL_EINVAL,
						    "comparator for '%s' does not apply to that type",
						    r->target);
			continue;
		}
		int j;
		for (j = 0; j < p->nu; j++)
			if (!strcmp(p->u[j].name, r->target))
				break;
		if (j == p->nu)
			return cl_error_set(err, CL_ENOTFOUND,
					    "comparator for column '%s': no such column",
					    r->target);
		if (p->u[j].role != ROLE_VALUE)
			return cl_error_set(err, CL_EINVAL,
					    "comparator for column '%s': it is a %s column, "
					    "not compared by a comparator",
					    r->target,
					    p->u[j].role == ROLE_KEY ? "key" : "ignored");
		if (!cl__diff_rule_applies(r->kind, p->u[j].type))
			return cl_error_set(err, CL_EINVAL,
					    "comparator for column '%s' does not apply to its "
					    "type %s",
					    r->target, cl_type_format(tb, sizeof tb, p->u[j].type));
	}
	for (int v = 0; v < p->nvalues; v++) {
		cl__dcol *u = &p->u[p->values[v]];
		const cl_diff_rule *byname = NULL, *bytype = NULL, *any = NULL;
		for (int i = 0; i < o->nrules; i++) {
			const cl_diff_rule *r = &o->rules[i];
			if (!strcmp(r->target, u->name))
				byname = r;
			else if (!strncmp(r->target, "type:", 5) &&
				 type_matches(r->target + 5, u->type))
				bytype = r;
			else if (!strcmp(r->target, "*") &&
				 cl__diff_rule_applies(r->kind, u->type))
				any = r;
		}
		const cl_diff_rule *r = byname ? byname : bytype ? bytype : any;
		if (r)
			u->cmp = *r;
		else
			u->cmp.kind = CL_CMP_DEFAULT;
	}
	return 0;
}

static int out_add(cl__diff_plan *p, int kind, int u, const char *prefix,
		   const char *name, cl_type t, cl_error *err)
{
	char buf[1024];
	if (prefix)
		snprintf(buf, sizeof buf, "%s_%s", prefix, name);
	else
		snprintf(buf, sizeof buf, "%s", name);
	if (cl_schema_find(p->out_schema, buf) >= 0)
		return cl_error_set(err, CL_ESCHEMA,
				    "output column '%s' would appear twice; choose another "
				    "--diff-column, --change-column or prefix",
				    buf);
	int rc = cl_schema_add(p->out_schema, buf, t, true, err);
	if (rc)
		return rc;
	p->out[p->nout].kind = kind;
	p->out[p->nout].u = u;
	p->nout++;
	return 0;
}

/* Output columns of one side in side-by-side mode: that side's own column
 * order, then value columns it lacks (unified order). */
static int side_block(cl__diff_plan *p, const cl_schema *s, bool left,
		      const char *prefix, cl_error *err)
{
	int kind = left ? OUT_LEFT : OUT_RIGHT;
	for (int i = 0; i < s->nfields; i++)
		for (int j = p->nkeys; j < p->nu; j++) {
			cl__dcol *u = &p->u[j];
			if ((left ? u->lidx : u->ridx) != i)
				continue;
			cl_type t = u->role == ROLE_IGNORED ? (left ? u->ltype : u->rtype)
							    : u->type;
			int rc = out_add(p, kind, j, prefix, u->name, t, err);
			if (rc)
				return rc;
		}
	for (int v = 0; v < p->nvalues; v++) {
		cl__dcol *u = &p->u[p->values[v]];
		if ((left ? u->lidx : u->ridx) >= 0)
			continue;
		int rc = out_add(p, kind, p->values[v], prefix, u->name, u->type, err);
		if (rc)
			return rc;
	}
	return 0;
}

static int build_output(cl__diff_plan *p, const cl_schema *l, const cl_schema *r,
			const cl_diff_options *o, cl_error *err)
{
	int rc;
	cl_type str = cl_type_make(CL_STRING);
	if ((rc = cl_schema_create(&p->out_schema, err)))
		return rc;
	if (!(p->out = cl_calloc((size_t)(2 * p->nu + 2), sizeof *p->out)))
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	if ((rc = out_add(p, OUT_DIFF, -1, NULL, o->diff_column, str, err)))
		return rc;
	if (o->change_column &&
	    (rc = out_add(p, OUT_CHANGE, -1, NULL, o->change_column, str, err)))
		return rc;
	for (int k = 0; k < p->nkeys; k++)
		if ((rc = out_add(p, OUT_KEY, k, NULL, p->u[k].name, p->u[k].type, err)))
			return rc;
	const char *lp = o->left_prefix, *rp = o->right_prefix;
	switch (p->mode) {
	case CL_DIFF_COLUMN_BY_COLUMN:
		for (int v = 0; v < p->nvalues && !rc; v++) {
			int j = p->values[v];
			rc = out_add(p, OUT_LEFT, j, lp, p->u[j].name, p->u[j].type, err);
			if (!rc)
				rc = out_add(p, OUT_RIGHT, j, rp, p->u[j].name, p->u[j].type,
					     err);
		}
		for (int i = 0; i < o->nignore && !rc; i++) {
			int j;
			for (j = p->nkeys; j < p->nu; j++)
				if (p->u[j].role == ROLE_IGNORED &&
				    !strcmp(p->u[j].name, o->ignore[i]))
					break;
			if (j == p->nu)
				continue;
			if (p->u[j].lidx >= 0)
				rc = out_add(p, OUT_LEFT, j, lp, p->u[j].name, p->u[j].ltype,
					     err);
			if (!rc && p->u[j].ridx >= 0)
				rc = out_add(p, OUT_RIGHT, j, rp, p->u[j].name, p->u[j].rtype,
					     err);
		}
		break;
	case CL_DIFF_SIDE_BY_SIDE:
		rc = side_block(p, l, true, lp, err);
		if (!rc)
			rc = side_block(p, r, false, rp, err);
		break;
	case CL_DIFF_LEFT_SIDE: case CL_DIFF_RIGHT_SIDE: {
		bool left = p->mode == CL_DIFF_LEFT_SIDE;
		const cl_schema *s = left ? l : r;
		for (int v = 0; v < p->nvalues && !rc; v++) {
			int j = p->values[v];
			rc = out_add(p, left ? OUT_LEFT : OUT_RIGHT, j, NULL, p->u[j].name,
				     p->u[j].type, err);
		}
		for (int i = 0; i < s->nfields && !rc; i++)
			for (int j = p->nkeys; j < p->nu && !rc; j++)
				if (p->u[j].role == ROLE_IGNORED &&
				    (left ? p->u[j].lidx : p->u[j].ridx) == i)
					rc = out_add(p, left ? OUT_LEFT : OUT_RIGHT, j, NULL,
						     p->u[j].name,
						     left ? p->u[j].ltype : p->u[j].rtype, err);
		break;
	}
	}
	return rc;
}

int cl__diff_plan_build(cl__diff_plan *p, const cl_schema *l, const cl_schema *r,
			const cl_diff_options *o, cl_error *err)
{
	int rc;
	memset(p, 0, sizeof *p);
	p->left_name = o->left_name ? o->left_name : "OLD";
	p->right_name = o->right_name ? o->right_name : "NEW";
	p->mode = o->mode;
	p->sparse = o->sparse;
	p->keep_unchanged = o->keep_unchanged;
	p->allow_dups = o->allow_duplicate_keys;
	p->has_change = o->change_column != NULL;
	if ((unsigned)o->mode > CL_DIFF_RIGHT_SIDE)
		return cl_error_set(err, CL_EINVAL, "diff: bad mode");
	if (o->nkeys < 1)
		return cl_error_set(err, CL_EINVAL, "diff: at least one key column is needed (--key)");
	const char *vals[4] = {o->insert_value, o->change_value, o->delete_value,
			       o->nochange_value};
	const char *defs[4] = {"I", "C", "D", "N"};
	for (int i = 0; i < 4; i++) {
		if (!(p->val[i] = cl_strdup(vals[i] ? vals[i] : defs[i])))
			return cl_error_set(err, CL_ENOMEM, "out of memory");
		p->val_len[i] = strlen(p->val[i]);
	}
	for (int i = 0; i < 4; i++)
		for (int j = i + 1; j < 4; j++)
			if (!strcmp(p->val[i], p->val[j]))
				return cl_error_set(err, CL_EINVAL,
						    "diff values must differ: '%s' is used twice",
						    p->val[i]);
	for (int i = 0; i < o->nkeys; i++)
		for (int j = i + 1; j < o->nkeys; j++)
			if (!strcmp(o->keys[i], o->keys[j]))
				return cl_error_set(err, CL_EINVAL, "key column '%s' given twice",
						    o->keys[i]);
	for (int i = 0; i < o->nignore; i++) {
		if (in_list(o->keys, o->nkeys, o->ignore[i]))
			return cl_error_set(err, CL_EINVAL,
					    "column '%s' cannot be both a key and ignored",
					    o->ignore[i]);
		if (cl_schema_find(l, o->ignore[i]) < 0 && cl_schema_find(r, o->ignore[i]) < 0)
			return cl_error_set(err, CL_ENOTFOUND,
					    "ignored column '%s' is in neither %s nor %s",
					    o->ignore[i], p->left_name, p->right_name);
	}
	if (!(p->u = cl_calloc((size_t)(l->nfields + r->nfields + 1), sizeof *p->u)))
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	for (int k = 0; k < o->nkeys; k++) {
		int li = cl_schema_find(l, o->keys[k]), ri = cl_schema_find(r, o->keys[k]);
		if (li < 0 || ri < 0)
			return cl_error_set(err, CL_ENOTFOUND,
					    "key column '%s' is not in %s",
					    o->keys[k], li < 0 ? p->left_name : p->right_name);
		if ((rc = add_u(p, o->keys[k], ROLE_KEY, li, ri, err)))
			return rc;
	}
	p->nkeys = o->nkeys;
	for (int i = 0; i < l->nfields; i++) {
		const char *n = l->fields[i].name;
		if (in_list(o->keys, o->nkeys, n))
			continue;
		int role = in_list(o->ignore, o->nignore, n) ? ROLE_IGNORED : ROLE_VALUE;
		if ((rc = add_u(p, n, role, i, cl_schema_find(r, n), err)))
			return rc;
	}
	for (int i = 0; i < r->nfields; i++) {
		const char *n = r->fields[i].name;
		if (in_list(o->keys, o->nkeys, n) || cl_schema_find(l, n) >= 0)
			continue;
		int role = in_list(o->ignore, o->nignore, n) ? ROLE_IGNORED : ROLE_VALUE;
		if ((rc = add_u(p, n, role, -1, i, err)))
			return rc;
	}
	if (!(p->values = cl_calloc((size_t)p->nu + 1, sizeof *p->values)) ||
	    !(p->ltypes = cl_calloc((size_t)p->nu + 1, sizeof *p->ltypes)) ||
	    !(p->rtypes = cl_calloc((size_t)p->nu + 1, sizeof *p->rtypes)))
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	for (int j = 0; j < p->nu; j++) {
		cl__dcol *u = &p->u[j];
		if ((rc = resolve_type(p, u, l, r, err)))
			return rc;
		if (u->role == ROLE_KEY && (u->type.id == CL_NULLTYPE))
			return cl_error_set(err, CL_ESCHEMA, "key column '%s' has no type",
					    u->name);
		if (u->role == ROLE_VALUE) {
			p->values[p->nvalues++] = j;
			if (u->lidx < 0 &&
			    (rc = push_name(&p->right_only, &p->nright_only, u->name, err)))
				return rc;
			if (u->ridx < 0 &&
			    (rc = push_name(&p->left_only, &p->nleft_only, u->name, err)))
				return rc;
		}
		p->ltypes[j] = u->role == ROLE_IGNORED ? u->ltype : u->type;
		p->rtypes[j] = u->role == ROLE_IGNORED ? u->rtype : u->type;
	}
	if ((rc = resolve_rules(p, o, err)))
		return rc;
	return build_output(p, l, r, o, err);
}
