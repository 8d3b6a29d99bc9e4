/*
 * dms_list.c — listing a DMS table folder and discovering tables.
 *
 * A listing is built by adding relative paths (from a recursive walk of a
 * local folder, or later from an object store's paged listing), then
 * finished: sorted into the total order of cl_dms_file_compare, duplicates
 * (a path listed twice) dropped, and file keys assigned. Invariants after
 * cl_dms_listing_finish: files[] strictly increasing in that order, full-load
 * files first (nload of them), every file_key of a full-load file negative
 * and every CDC file_key >= 0. There is no limit on the number of files.
 *
 * The walk does not follow symbolic links to folders (no cycles) and stops
 * descending at depth 16; unreadable subfolders are an error, not a silent
 * gap (a gap would skip changes).
 */
#include "changelake/dms.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/buf.h"

#define MAX_DEPTH 16

int cl_dms_listing_create(cl_dms_listing **out, const char *dir, cl_error *err)
{
	*out = NULL;
	cl_dms_listing *l = cl_calloc(1, sizeof *l);
	if (!l || !(l->dir = cl_strdup(dir))) {
		cl_free(l);
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	}
	*out = l;
	return 0;
}

void cl_dms_listing_free(cl_dms_listing *l)
{
	if (!l)
		return;
	for (int i = 0; i < l->nfiles; i++)
		cl_free(l->files[i].path);
	for (int i = 0; i < l->nskipped; i++)
		cl_free(l->skipped[i]);
	cl_free(l->files);
	cl_free(l->skipped);
	cl_free(l->dir);
	cl_free(l);
}

static bool hidden(const char *name)
{
	return name[0] == '.' || name[0] == '_';
}

int cl_dms_listing_add(cl_dms_listing *l, const char *relpath, int64_t size,
		       int64_t mtime_ns, cl_error *err)
{
	cl_dms_name name;
	cl_dms_name_parse(&name, relpath);
	if (name.kind == CL_DMS_OTHER) {
		const char *base = strrchr(relpath, '/');
		base = base ? base + 1 : relpath;
		if (hidden(base))
			return 0;
		char **s = cl_realloc(l->skipped, sizeof *s * (size_t)(l->nskipped + 1));
		if (!s)
			return cl_error_set(err, CL_ENOMEM, "out of memory");
		l->skipped = s;
		if (!(s[l->nskipped] = cl_strdup(relpath)))
			return cl_error_set(err, CL_ENOMEM, "out of memory");
		l->nskipped++;
		return 0;
	}
	if (l->nfiles == l->cap) {
		if (l->cap > (1 << 28))
			return cl_error_set(err, CL_ENOMEM, "%s: too many files", l->dir);
		int cap = l->cap ? l->cap * 2 : 64;
		cl_dms_file *f = cl_realloc(l->files, sizeof *f * (size_t)cap);
		if (!f)
			return cl_error_set(err, CL_ENOMEM, "out of memory");
		l->files = f;
		l->cap = cap;
	}
	cl_dms_file *f = &l->files[l->nfiles];
	memset(f, 0, sizeof *f);
	if (!(f->path = cl_strdup(relpath)))
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	f->name = name;
	f->size = size;
	f->mtime_ns = mtime_ns;
	l->nfiles++;
	return 0;
}

static int file_cmp(const void *a, const void *b)
{
	return cl_dms_file_compare(a, b);
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void cl_dms_listing_finish(cl_dms_listing *l)
{
	if (l->nfiles > 1)
		qsort(l->files, (size_t)l->nfiles, sizeof *l->files, file_cmp);
	/* A path listed twice is one file: keep the first copy. */
	int n = 0;
	for (int i = 0; i < l->nfiles; i++) {
		if (n > 0 && strcmp(l->files[n - 1].path, l->files[i].path) == 0) {
			cl_free(l->files[i].path);
			continue;
		}
		l->files[n++] = l->files[i];
	}
	l->nfiles = n;
	l->nload = 0;
	for (int i = 0; i < n; i++) {
		cl_dms_file *f = &l->files[i];
		if (f->name.kind == CL_DMS_LOAD)
			f->file_key = CL_DMS_LOAD_KEY_BASE + l->nload++;
		else
			f->file_key = f->name.time_us;
	}
	if (l->nskipped > 1)
		qsort(l->skipped, (size_t)l->nskipped, sizeof *l->skipped, str_cmp);
	n = 0;
	for (int i = 0; i < l->nskipped; i++) {
		if (n > 0 && strcmp(l->skipped[n - 1], l->skipped[i]) == 0) {
			cl_free(l->skipped[i]);
			continue;
		}
		l->skipped[n++] = l->skipped[i];
	}
	l->nskipped = n;
}

/* Walk dir/rel recursively, adding files. rel is "" or "a/b" (no slash at
   the end). */
static int walk(cl_dms_listing *l, cl_buf *full, const char *rel, int depth,
		cl_error *err)
{
	DIR *d = opendir((const char *)full->data);
	if (!d)
		return cl_error_set(err, errno == ENOENT ? CL_ENOTFOUND : CL_EIO,
				    "%s: cannot list folder: %s", (const char *)full->data,
				    strerror(errno));
	int rc = 0;
	size_t base_len = full->len;
	cl_buf relb = {0};
	struct dirent *e;
	for (;;) {
		errno = 0;
		if (!(e = readdir(d))) {
			if (errno)
				rc = cl_error_set(err, CL_EIO, "%s: cannot list folder: %s",
						  (const char *)full->data, strerror(errno));
			break;
		}
		if (hidden(e->d_name))
			continue;
		full->len = base_len;
		if ((rc = cl_buf_printf(full, "/%s", e->d_name)))
			break;
		cl_buf_clear(&relb);
		if ((rc = cl_buf_printf(&relb, "%s%s%s", rel, *rel ? "/" : "", e->d_name)))
			break;
		struct stat st;
		if (lstat((const char *)full->data, &st)) {
			if (errno == ENOENT) /* removed while we looked */
				continue;
			rc = cl_error_set(err, CL_EIO, "%s: %s", (const char *)full->data,
					  strerror(errno));
			break;
		}
		if (S_ISLNK(st.st_mode)) {
			/* A link to a file is read as the file; links to folders
			   are not followed. */
			if (stat((const char *)full->data, &st) || !S_ISREG(st.st_mode))
				continue;
		}
		if (S_ISDIR(st.st_mode)) {
			if (depth + 1 >= MAX_DEPTH)
				continue;
			if ((rc = walk(l, full, (const char *)relb.data, depth + 1, err)))
				break;
		} else if (S_ISREG(st.st_mode)) {
			int64_t mt = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
			if ((rc = cl_dms_listing_add(l, (const char *)relb.data, (int64_t)st.st_size,
						     mt, err)))
				break;
		}
	}
	if (rc == CL_ENOMEM && err && !err->message[0])
		cl_error_set(err, CL_ENOMEM, "out of memory");
	full->len = base_len;
	full->data[base_len] = 0;
	cl_buf_release(&relb);
	closedir(d);
	return rc;
}

int cl_dms_list(cl_dms_listing **out, const char *dir, cl_error *err)
{
	cl_dms_listing *l;
	int rc = cl_dms_listing_create(&l, dir, err);
	if (rc)
		return rc;
	cl_buf full = {0};
	if (cl_buf_puts(&full, dir)) {
		rc = cl_error_set(err, CL_ENOMEM, "out of memory");
		goto fail;
	}
	while (full.len > 1 && full.data[full.len - 1] == '/')
		full.data[--full.len] = 0;
	if ((rc = walk(l, &full, "", 0, err)))
		goto fail;
	cl_buf_release(&full);
	cl_dms_listing_finish(l);
	*out = l;
	return 0;
fail:
	cl_buf_release(&full);
	cl_dms_listing_free(l);
	*out = NULL;
	return rc;
}

void cl_dms_tables_free(char **tables, int n)
{
	for (int i = 0; i < n; i++)
		cl_free(tables[i]);
	cl_free(tables);
}

/* Visible subfolders of path, sorted; owned array of owned names. */
static int subdirs(char ***out, int *n, const char *path, cl_error *err)
{
	*out = NULL;
	*n = 0;
	DIR *d = opendir(path);
	if (!d)
		return cl_error_set(err, errno == ENOENT ? CL_ENOTFOUND : CL_EIO,
				    "%s: cannot list folder: %s", path, strerror(errno));
	char **v = NULL;
	int nv = 0, rc = 0;
	cl_buf p = {0};
	struct dirent *e;
	while ((e = readdir(d))) {
		if (hidden(e->d_name))
			continue;
		cl_buf_clear(&p);
		if (cl_buf_printf(&p, "%s/%s", path, e->d_name)) {
			rc = CL_ENOMEM;
			break;
		}
		struct stat st;
		if (stat((const char *)p.data, &st) || !S_ISDIR(st.st_mode))
			continue;
		char **nvp = cl_realloc(v, sizeof *v * (size_t)(nv + 1));
		if (!nvp) {
			rc = CL_ENOMEM;
			break;
		}
		v = nvp;
		if (!(v[nv] = cl_strdup(e->d_name))) {
			rc = CL_ENOMEM;
			break;
		}
		nv++;
	}
	closedir(d);
	cl_buf_release(&p);
	if (rc) {
		cl_dms_tables_free(v, nv);
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	}
	if (nv > 1)
		qsort(v, (size_t)nv, sizeof *v, str_cmp);
	*out = v;
	*n = nv;
	return 0;
}

int cl_dms_discover(char ***out, int *n, const char *root, cl_error *err)
{
	*out = NULL;
	*n = 0;
	char **schemas, **tables = NULL, **res = NULL;
	int nschemas, ntables = 0, nres = 0, rc;
	if ((rc = subdirs(&schemas, &nschemas, root, err)))
		return rc;
	cl_buf p = {0};
	for (int i = 0; i < nschemas; i++) {
		cl_buf_clear(&p);
		if (cl_buf_printf(&p, "%s/%s", root, schemas[i]))
			goto nomem;
		if ((rc = subdirs(&tables, &ntables, (const char *)p.data, err)))
			goto fail;
		for (int j = 0; j < ntables; j++) {
			char **r = cl_realloc(res, sizeof *r * (size_t)(nres + 1));
			if (!r)
				goto nomem;
			res = r;
			size_t len = strlen(schemas[i]) + strlen(tables[j]) + 2;
			if (!(res[nres] = cl_malloc(len)))
				goto nomem;
			snprintf(res[nres], len, "%s/%s", schemas[i], tables[j]);
			nres++;
		}
		cl_dms_tables_free(tables, ntables);
		tables = NULL;
		ntables = 0;
	}
	cl_buf_release(&p);
	cl_dms_tables_free(schemas, nschemas);
	*out = res;
	*n = nres;
	return 0;
nomem:
	rc = cl_error_set(err, CL_ENOMEM, "out of memory");
fail:
	cl_buf_release(&p);
	cl_dms_tables_free(schemas, nschemas);
	cl_dms_tables_free(tables, ntables);
	cl_dms_tables_free(res, nres);
	return rc;
}
