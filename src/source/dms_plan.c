/*
 * dms_plan.c — the consumed-file set of a table (its manifest text) and the
 * plan of one run: which files to read, and whether the run rebuilds the
 * table from a new full load. See changelake/dms.h for the rules.
 *
 * Invariants: a cl_dms_consumed is sorted by path with no duplicates; the
 * plan's files are in the listing's total order; plan->next holds every
 * path of the consumed set it started from except, on rebuild, the
 * full-load entries (which the new full load replaces).
 */
#include "changelake/dms.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/value_text.h"

#define MAGIC "changelake-dms-consumed 1"

int cl_dms_consumed_create(cl_dms_consumed **out, cl_error *err)
{
	*out = cl_calloc(1, sizeof **out);
	return *out ? 0 : cl_error_set(err, CL_ENOMEM, "out of memory");
}

void cl_dms_consumed_free(cl_dms_consumed *c)
{
	if (!c)
		return;
	for (int i = 0; i < c->n; i++)
		cl_free(c->files[i].path);
	cl_free(c->files);
	cl_dms_consumed_clear_parts(c);
	cl_free(c->parts);
	cl_free(c);
}

int cl_dms_consumed_add_part(cl_dms_consumed *c, const char *key, cl_error *err)
{
	if (c->nparts == c->parts_cap) {
		int cap = c->parts_cap ? c->parts_cap * 2 : 8;
		char **v = cl_realloc(c->parts, sizeof *v * (size_t)cap);
		if (!v)
			return cl_error_set(err, CL_ENOMEM, "out of memory");
		c->parts = v;
		c->parts_cap = cap;
	}
	if (!(c->parts[c->nparts] = cl_strdup(key)))
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	c->nparts++;
	return 0;
}

void cl_dms_consumed_clear_parts(cl_dms_consumed *c)
{
	for (int i = 0; i < c->nparts; i++)
		cl_free(c->parts[i]);
	c->nparts = 0;
}

/* Append path with '%', tab, CR and LF escaped. */
static int put_path(cl_buf *b, const char *path)
{
	int rc = 0;
	for (const char *p = path; *p && !rc; p++) {
		if (*p == '%' || *p == '\t' || *p == '\n' || *p == '\r')
			rc = cl_buf_printf(b, "%%%02X", (unsigned char)*p);
		else
			rc = cl_buf_putc(b, *p);
	}
	return rc ? rc : cl_buf_putc(b, '\n');
}

/* Index of path, or -(insertion point) - 1. */
static int search(const cl_dms_consumed *c, const char *path)
{
	int lo = 0, hi = c->n;
	while (lo < hi) {
		int mid = lo + (hi - lo) / 2, k = strcmp(c->files[mid].path, path);
		if (k == 0)
			return mid;
		if (k < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -lo - 1;
}

const cl_dms_consumed_file *cl_dms_consumed_find(const cl_dms_consumed *c, const char *path)
{
	int i = c ? search(c, path) : -1;
	return i >= 0 ? &c->files[i] : NULL;
}

int cl_dms_consumed_put(cl_dms_consumed *c, const cl_dms_consumed_file *f, cl_error *err)
{
	int i = search(c, f->path);
	if (i >= 0) {
		char *path = c->files[i].path;
		c->files[i] = *f;
		c->files[i].path = path;
		return 0;
	}
	i = -i - 1;
	if (c->n == c->cap) {
		int cap = c->cap ? c->cap * 2 : 64;
		cl_dms_consumed_file *v = cl_realloc(c->files, sizeof *v * (size_t)cap);
		if (!v)
			return cl_error_set(err, CL_ENOMEM, "out of memory");
		c->files = v;
		c->cap = cap;
	}
	char *path = cl_strdup(f->path);
	if (!path)
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	memmove(&c->files[i + 1], &c->files[i], sizeof *c->files * (size_t)(c->n - i));
	c->files[i] = *f;
	c->files[i].path = path;
	c->n++;
	return 0;
}

int cl_dms_consumed_format(const cl_dms_consumed *c, char **text, size_t *n, cl_error *err)
{
	cl_buf b = {0};
	int rc = cl_buf_puts(&b, MAGIC "\n");
	for (int i = 0; i < c->n && !rc; i++) {
		const cl_dms_consumed_file *f = &c->files[i];
		rc = cl_buf_printf(&b, "%c\t%lld\t%lld\t%lld\t", f->kind == CL_DMS_LOAD ? 'L' : 'C',
				   (long long)f->size, (long long)f->mtime_ns,
				   (long long)f->file_key);
		rc = rc ? rc : put_path(&b, f->path);
	}
	for (int i = 0; i < c->nparts && !rc; i++)
		rc = cl_buf_puts(&b, "S\t0\t0\t0\t") || put_path(&b, c->parts[i]);
	if (rc) {
		cl_buf_release(&b);
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	}
	*text = (char *)cl_buf_detach(&b, n);
	return 0;
}

static int parse_i64(const char *s, size_t n, int64_t *out)
{
	if (n == 0 || n > 20)
		return -1;
	char tmp[24];
	memcpy(tmp, s, n);
	tmp[n] = 0;
	char *end;
	errno = 0;
	long long v = strtoll(tmp, &end, 10);
	if (errno || *end)
		return -1;
	*out = v;
	return 0;
}


int cl_dms_consumed_parse(cl_dms_consumed **out, const char *text, size_t n,
			  const char *label, cl_error *err)
{
	*out = NULL;
	size_t ml = strlen(MAGIC);
	if (n < ml + 1 || memcmp(text, MAGIC, ml) || text[ml] != '\n')
		return cl_error_set(err, CL_EFORMAT, "%s: not a changelake consumed-file "
				    "manifest (version 1)", label);
	cl_dms_consumed *c;
	int rc = cl_dms_consumed_create(&c, err);
	if (rc)
		return rc;
	cl_buf path = {0};
	size_t pos = ml + 1;
	int line = 1;
	while (pos < n) {
		line++;
		const char *s = text + pos;
		const char *nl = memchr(s, '\n', n - pos);
		if (!nl) {
			rc = cl_error_set(err, CL_EFORMAT, "%s: line %d: truncated", label, line);
			goto fail;
		}
		size_t len = (size_t)(nl - s);
		pos += len + 1;
		/* Five tab-separated fields. */
		const char *f[5];
		size_t fl[5];
		int nf = 0;
		const char *p = s, *end = s + len;
		while (nf < 5) {
			const char *t = nf < 4 ? memchr(p, '\t', (size_t)(end - p)) : end;
			if (!t)
				break;
			f[nf] = p;
			fl[nf] = (size_t)(t - p);
			nf++;
			p = t + 1;
		}
		cl_dms_consumed_file e = {0};
		if (nf != 5 || fl[0] != 1 ||
		    (f[0][0] != 'L' && f[0][0] != 'C' && f[0][0] != 'S') ||
		    parse_i64(f[1], fl[1], &e.size) || parse_i64(f[2], fl[2], &e.mtime_ns) ||
		    parse_i64(f[3], fl[3], &e.file_key) || fl[4] == 0) {
			rc = cl_error_set(err, CL_EFORMAT, "%s: line %d: malformed entry", label,
					  line);
			goto fail;
		}
		e.kind = f[0][0] == 'L' ? CL_DMS_LOAD : CL_DMS_CDC;
		rc = cl__pct_decode(&path, f[4], fl[4], 0);
		if (rc) {
			rc = rc == CL_ENOMEM ? cl_error_set(err, CL_ENOMEM, "out of memory")
					     : cl_error_set(err, CL_EFORMAT, "%s: line %d: %s", label,
							    line, rc == CL_PCT_ENUL ? "NUL in path"
										    : "bad escape");
			goto fail;
		}
		e.path = (char *)path.data;
		if (f[0][0] == 'S')
			rc = cl_dms_consumed_add_part(c, e.path, err);
		else
			rc = cl_dms_consumed_put(c, &e, err);
		if (rc)
			goto fail;
	}
	cl_buf_release(&path);
	*out = c;
	return 0;
fail:
	cl_buf_release(&path);
	cl_dms_consumed_free(c);
	return rc;
}

void cl_dms_plan_free(cl_dms_plan *p)
{
	if (!p)
		return;
	cl_free(p->files);
	cl_free(p->changed);
	cl_dms_consumed_free(p->next);
	cl_free(p);
}

static bool load_changed(const cl_dms_consumed_file *c, const cl_dms_file *f)
{
	return c->size != f->size || c->mtime_ns != f->mtime_ns;
}

int cl_dms_plan_make(cl_dms_plan **out, const cl_dms_listing *l,
		     const cl_dms_consumed *consumed, cl_error *err)
{
	*out = NULL;
	cl_dms_plan *p = cl_calloc(1, sizeof *p);
	if (!p)
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	int rc;
	p->files = cl_calloc((size_t)l->nfiles + 1, sizeof *p->files);
	p->changed = cl_calloc((size_t)l->nfiles + 1, sizeof *p->changed);
	if (!p->files || !p->changed) {
		rc = cl_error_set(err, CL_ENOMEM, "out of memory");
		goto fail;
	}
	if ((rc = cl_dms_consumed_create(&p->next, err)))
		goto fail;
	/* Is there a new full load? */
	bool any_cdc_consumed = false, load_changed_ = false, new_load = false;
	for (int i = 0; consumed && i < consumed->n; i++) {
		const cl_dms_consumed_file *c = &consumed->files[i];
		if (c->kind == CL_DMS_CDC) {
			any_cdc_consumed = true;
			continue;
		}
		/* A consumed full-load file that is gone (expired by a
		   lifecycle rule) says nothing; one rewritten in place does. */
		for (int j = 0; j < l->nload; j++)
			if (!strcmp(l->files[j].path, c->path)) {
				if (load_changed(c, &l->files[j]))
					load_changed_ = true;
				break;
			}
	}
	for (int j = 0; j < l->nload; j++)
		if (!cl_dms_consumed_find(consumed, l->files[j].path))
			new_load = true;
	p->rebuild = load_changed_ || (new_load && any_cdc_consumed);
	/* The next consumed set starts from the old one. */
	for (int i = 0; consumed && i < consumed->n; i++) {
		if (p->rebuild && consumed->files[i].kind == CL_DMS_LOAD)
			continue;
		if ((rc = cl_dms_consumed_put(p->next, &consumed->files[i], err)))
			goto fail;
	}
	for (int i = 0; consumed && !p->rebuild && i < consumed->nparts; i++)
		if ((rc = cl_dms_consumed_add_part(p->next, consumed->parts[i], err)))
			goto fail;
	for (int j = 0; j < l->nfiles; j++) {
		const cl_dms_file *f = &l->files[j];
		const cl_dms_consumed_file *c = cl_dms_consumed_find(consumed, f->path);
		bool read;
		if (f->name.kind == CL_DMS_LOAD) {
			read = p->rebuild || !c;
		} else {
			read = !c;
			if (c && c->size != f->size)
				p->changed[p->nchanged++] = f->path;
		}
		if (!read)
			continue;
		p->files[p->nfiles++] = f;
		cl_dms_consumed_file e = {f->path, f->name.kind, f->size, f->mtime_ns,
					  f->file_key};
		if ((rc = cl_dms_consumed_put(p->next, &e, err)))
			goto fail;
	}
	*out = p;
	return 0;
fail:
	cl_dms_plan_free(p);
	return rc;
}
