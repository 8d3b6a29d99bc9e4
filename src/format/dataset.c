/*
 * dataset.c — reading a file or a folder of files as one table (see
 * changelake/dataset.h).
 *
 * Batches are zero-copy where possible: the batch handed out borrows the
 * reader's column buffers (shallow struct copies in our own column array)
 * and owns only the columns it adds — Hive partition values and NULL
 * columns for what a file lacks. Only one file is open at a time.
 *
 * A directory with _delta_log/ (a lake table), one that holds such a
 * directory, or one inside it is refused: a table's folder also holds the
 * files its commits removed (read tables with cl_table_reader_open).
 *
 * Invariants: files[] is sorted; part_vals[f][k] is the text of partition
 * column k for file f (NULL = SQL NULL); out.cols[i] for i < nfile_cols
 * are borrowed unless owned[i].
 */
#include "changelake/dataset.h"
#include "changelake/parquet.h"
#include "core/value_text.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct cl_dataset {
	char *root;
	int nfiles, capfiles;
	char **files;
	char ***part_vals;  /* [file][partition column] */
	int nparts;
	char **part_names;
	cl_schema *schema;  /* file columns then partition columns */
	int nfile_cols;
	cl_read_options opts;
	cl_schema *decl;    /* declared/first-file schema for later text files */
	cl_format format;
	int cur;            /* index of the open file */
	cl_reader *r;
	int *map;           /* dataset file column -> reader column, or -1 */
	cl_batch out;
	bool *owned;
	int64_t first_row, file_rows, rows, total_rows;
	/* units (cl_dataset_split): file, row group (-1: whole file), rows,
	 * 1-based first row in the file */
	int nunits;
	struct unit { int file, rg; int64_t rows, first_row; } *units;
};

struct cl_dataset_cursor {
	const cl_dataset *ds;
	int file;
	cl_reader *r;
	int *map;
	cl_batch out;
	bool *owned;
	int64_t next_row, first_row;
	cl_batch *rb;       /* the reader's current batch (columns lent to out) */
};

static int oom(cl_error *err)
{
	return cl_error_set(err, CL_ENOMEM, "out of memory");
}

static int add_file(cl_dataset *ds, const char *path, cl_error *err)
{
	if (ds->nfiles == ds->capfiles) {
		int cap = ds->capfiles ? 2 * ds->capfiles : 16;
		char **f = cl_realloc(ds->files, (size_t)cap * sizeof *f);
		if (!f)
			return oom(err);
		ds->files = f;
		ds->capfiles = cap;
	}
	if (!(ds->files[ds->nfiles] = cl_strdup(path)))
		return oom(err);
	ds->nfiles++;
	return 0;
}

static bool is_data_file(const char *name, const cl_read_options *o)
{
	size_t n = strlen(name);
	if (n > 4 && !strcmp(name + n - 4, ".crc"))
		return false;
	return o->format != CL_FORMAT_AUTO || cl_format_from_extension(name) != CL_FORMAT_AUTO;
}

/*
 * A lake table's folder holds the files its commits removed as well as the
 * live ones: read as a folder of files it would give rows the table no
 * longer has. Only the table reader (changelake/table.h) reads it right.
 */
static int refuse_table(const char *table, const char *root, cl_error *err)
{
	if (!strcmp(table, root))
		return cl_error_set(err, CL_EINVAL,
				    "%s is a lake table (it has _delta_log/): its folder also holds "
				    "files the table removed, so it is not read as a folder of files; "
				    "read it as a table: %s or %s@VERSION",
				    table, table, table);
	return cl_error_set(err, CL_EINVAL,
			    "%s: holds the lake table %s (it has _delta_log/), whose folder also "
			    "holds files the table removed; read the table itself: %s or %s@VERSION",
			    root, table, table, table);
}

/* Is `dir` inside a lake table (an ancestor has _delta_log/)? Sets *table. */
static bool inside_table(const char *dir, char **table)
{
	char *p = realpath(dir, NULL);
	if (!p)
		return false;
	size_t n = strlen(p);
	char *probe = malloc(n + 16);
	bool found = false;
	while (probe && !found) {
		char *slash = strrchr(p, '/');
		if (!slash)
			break;
		*slash = 0; /* the parent */
		snprintf(probe, n + 16, "%s/_delta_log", *p ? p : "");
		struct stat st;
		if (stat(probe, &st) == 0 && S_ISDIR(st.st_mode)) {
			found = true;
			*table = cl_strdup(*p ? p : "/");
		}
		if (!*p)
			break;
	}
	free(probe);
	free(p);
	return found && *table;
}

static int list_dir(cl_dataset *ds, const char *dir, int depth, cl_error *err)
{
	if (depth > 64)
		return cl_error_set(err, CL_EINVAL, "%s: folders nested too deeply", dir);
	DIR *d = opendir(dir);
	if (!d)
		return cl_error_set(err, errno == ENOENT ? CL_ENOTFOUND : CL_EIO, "%s: %s",
				    dir, strerror(errno));
	int rc = 0;
	struct dirent *e;
	while (!rc && (e = readdir(d))) {
		if (!strcmp(e->d_name, "_delta_log")) {
			rc = refuse_table(dir, ds->root, err);
			break;
		}
		if (e->d_name[0] == '.' || e->d_name[0] == '_')
			continue;
		size_t n = strlen(dir) + strlen(e->d_name) + 2;
		char *p = cl_malloc(n);
		if (!p) {
			rc = oom(err);
			break;
		}
		snprintf(p, n, "%s/%s", dir, e->d_name);
		struct stat st;
		if (stat(p, &st))
			rc = cl_error_set(err, CL_EIO, "%s: %s", p, strerror(errno));
		else if (S_ISDIR(st.st_mode))
			rc = list_dir(ds, p, depth + 1, err);
		else if (S_ISREG(st.st_mode) && is_data_file(e->d_name, &ds->opts))
			rc = add_file(ds, p, err);
		cl_free(p);
	}
	closedir(d);
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}


/* A partition folder's name or value s[0..n) with its %XX escapes decoded
 * (a '%' without two hex digits stays as it is, as Hive writes it); an
 * escaped NUL is an error naming the file: it would cut the text. */
static int unescape(char **out, const char *s, size_t n, const char *file, cl_error *err)
{
	cl_buf b = {0};
	int rc = cl__pct_decode(&b, s, n, CL_PCT_LENIENT);
	if (rc) {
		cl_buf_release(&b);
		if (rc == CL_ENOMEM)
			return oom(err);
		return cl_error_set(err, CL_EFORMAT, "%s: partition folder '%.*s' holds a NUL (%%00)",
				    file, (int)n, s);
	}
	*out = (char *)cl_buf_detach(&b, NULL);
	return *out ? 0 : oom(err);
}

/* Partition columns from the folders of every file below the root. */
static int find_partitions(cl_dataset *ds, cl_error *err)
{
	size_t rl = strlen(ds->root);
	if (!(ds->part_vals = cl_calloc((size_t)ds->nfiles + 1, sizeof *ds->part_vals)))
		return oom(err);
	for (int f = 0; f < ds->nfiles; f++) {
		const char *rel = ds->files[f] + rl;
		int k = 0;
		while (*rel) {
			while (*rel == '/')
				rel++;
			const char *slash = strchr(rel, '/');
			if (!slash)
				break; /* the file name itself */
			const char *eq = memchr(rel, '=', (size_t)(slash - rel));
			if (eq && eq > rel) {
				char *name = NULL;
				int urc = unescape(&name, rel, (size_t)(eq - rel), ds->files[f], err);
				if (urc)
					return urc;
				if (f == 0) {
					char **pn = cl_realloc(ds->part_names,
							       (size_t)(ds->nparts + 1) * sizeof *pn);
					if (!pn) {
						cl_free(name);
						return oom(err);
					}
					ds->part_names = pn;
					pn[ds->nparts++] = name;
				} else if (k >= ds->nparts || strcmp(ds->part_names[k], name)) {
					int rc = cl_error_set(err, CL_ESCHEMA,
							      "%s: partition folder '%s' does not match "
							      "the first file's partition columns",
							      ds->files[f], name);
					cl_free(name);
					return rc;
				} else {
					cl_free(name);
				}
				if (!ds->part_vals[f] &&
				    !(ds->part_vals[f] = cl_calloc(64, sizeof(char *))))
					return oom(err);
				if (k >= 64)
					return cl_error_set(err, CL_EUNSUPPORTED,
							    "%s: too many partition folders",
							    ds->files[f]);
				size_t vn = (size_t)(slash - eq - 1);
				if (!(vn == 26 && !memcmp(eq + 1, "__HIVE_DEFAULT_PARTITION__", 26))) {
					int urc = unescape(&ds->part_vals[f][k], eq + 1, vn,
							   ds->files[f], err);
					if (urc)
						return urc;
				}
				k++;
			}
			rel = slash + 1;
		}
		if (k != ds->nparts)
			return cl_error_set(err, CL_ESCHEMA,
					    "%s: has %d partition folders, the first file %d",
					    ds->files[f], k, ds->nparts);
	}
	return 0;
}

int cl_dataset_open(cl_dataset **out, const char *path, const cl_read_options *o,
		    cl_error *err)
{
	*out = NULL;
	cl_dataset *ds = cl_calloc(1, sizeof *ds);
	if (!ds)
		return oom(err);
	ds->cur = -1;
	ds->total_rows = 0;
	if (o)
		ds->opts = *o;
	else
		cl_read_options_init(&ds->opts);
	int rc = 0;
	if (o && o->schema && (rc = cl_schema_copy(&ds->decl, o->schema, err)))
		goto fail;
	ds->opts.schema = ds->decl;
	size_t pl = strlen(path);
	while (pl > 1 && path[pl - 1] == '/')
		pl--;
	if (!(ds->root = cl_strndup(path, pl))) {
		rc = oom(err);
		goto fail;
	}
	struct stat st;
	if (strcmp(path, "-") && stat(ds->root, &st) == 0 && S_ISDIR(st.st_mode)) {
		char *table = NULL;
		if (inside_table(ds->root, &table)) {
			rc = cl_error_set(err, CL_EINVAL,
					  "%s is a folder inside the lake table %s, which also holds "
					  "files the table removed; read the table itself: %s or "
					  "%s@VERSION",
					  path, table, table, table);
			cl_free(table);
			goto fail;
		}
		if ((rc = list_dir(ds, ds->root, 0, err)))
			goto fail;
		if (ds->nfiles == 0) {
			rc = cl_error_set(err, CL_ENOTFOUND,
					  "%s: no data files in this folder (.parquet, .csv, "
					  ".jsonl, ...)",
					  path);
			goto fail;
		}
		qsort(ds->files, (size_t)ds->nfiles, sizeof *ds->files, cmp_str);
		if ((rc = find_partitions(ds, err)))
			goto fail;
	} else if ((rc = add_file(ds, ds->root, err))) {
		goto fail;
	}
	/* The first file gives the schema. */
	if ((rc = cl_reader_open(&ds->r, ds->files[0], &ds->opts, err)))
		goto fail;
	ds->cur = 0;
	ds->format = cl_reader_format(ds->r);
	const cl_schema *fs = cl_reader_schema(ds->r);
	if (!ds->decl && ds->format != CL_FORMAT_PARQUET &&
	    (rc = cl_schema_copy(&ds->decl, fs, err)))
		goto fail;
	ds->opts.schema = ds->decl;
	if ((rc = cl_schema_copy(&ds->schema, fs, err)))
		goto fail;
	ds->nfile_cols = fs->nfields;
	for (int k = 0; k < ds->nparts; k++) {
		if (cl_schema_find(ds->schema, ds->part_names[k]) >= 0) {
			rc = cl_error_set(err, CL_ESCHEMA,
					  "%s: column '%s' is both in the files and a "
					  "partition folder",
					  path, ds->part_names[k]);
			goto fail;
		}
		bool ints = true;
		for (int f = 0; f < ds->nfiles && ints; f++) {
			const char *v = ds->part_vals[f][k];
			int64_t x;
			if (v && cl__parse_int64(v, strlen(v), &x))
				ints = false;
		}
		if ((rc = cl_schema_add(ds->schema, ds->part_names[k],
					cl_type_make(ints ? CL_INT64 : CL_STRING), true, err)))
			goto fail;
	}
	ds->out.ncols = ds->schema->nfields;
	ds->out.cols = cl_calloc((size_t)ds->out.ncols + 1, sizeof *ds->out.cols);
	ds->owned = cl_calloc((size_t)ds->out.ncols + 1, sizeof *ds->owned);
	ds->map = cl_calloc((size_t)ds->out.ncols + 1, sizeof *ds->map);
	if (!ds->out.cols || !ds->owned || !ds->map) {
		rc = oom(err);
		goto fail;
	}
	for (int i = 0; i < ds->nfile_cols; i++)
		ds->map[i] = i;
	ds->first_row = 1;
	/* total rows when every file knows it (Parquet) */
	ds->total_rows = cl_reader_total_rows(ds->r);
	if (ds->nfiles > 1)
		ds->total_rows = -1;
	*out = ds;
	return 0;
fail:
	cl_dataset_free(ds);
	return rc;
}

/* Map file f's columns (schema fs) onto the dataset's: map[j] = reader column. */
static int map_columns(const cl_dataset *ds, int f, const cl_schema *fs, int *map,
		       cl_error *err)
{
	char a[64], b[64];
	for (int i = 0; i < fs->nfields; i++) {
		int j = cl_schema_find(ds->schema, fs->fields[i].name);
		if (j < 0 || j >= ds->nfile_cols)
			return cl_error_set(err, CL_ESCHEMA,
					    "%s: column '%s' is not in %s, the dataset's first file",
					    ds->files[f], fs->fields[i].name, ds->files[0]);
	}
	for (int j = 0; j < ds->nfile_cols; j++) {
		int i = cl_schema_find(fs, ds->schema->fields[j].name);
		map[j] = i;
		if (i >= 0 && !cl_type_equal(fs->fields[i].type, ds->schema->fields[j].type))
			return cl_error_set(err, CL_ESCHEMA,
					    "%s: column '%s' is %s, but %s in %s",
					    ds->files[f], fs->fields[i].name,
					    cl_type_format(a, sizeof a, fs->fields[i].type),
					    cl_type_format(b, sizeof b, ds->schema->fields[j].type),
					    ds->files[0]);
	}
	return 0;
}

/* Open file f and map its columns onto the dataset's. */
static int open_file(cl_dataset *ds, int f, cl_error *err)
{
	cl_reader_free(ds->r);
	ds->r = NULL;
	int rc = cl_reader_open(&ds->r, ds->files[f], &ds->opts, err);
	if (rc)
		return rc;
	ds->cur = f;
	ds->file_rows = 0;
	return map_columns(ds, f, cl_reader_schema(ds->r), ds->map, err);
}

/*
 * The dataset's batch `out` for reader batch b of file f: borrowed file
 * columns, owned partition-value and NULL columns (owned[j] set).
 */
static int build_batch(const cl_dataset *ds, int f, const int *map, const cl_batch *b,
		       cl_batch *out, bool *owned, cl_error *err)
{
	int rc;
	out->nrows = b->nrows;
	for (int j = 0; j < out->ncols; j++) {
		cl_column *c = &out->cols[j];
		int i = j < ds->nfile_cols ? map[j] : -1;
		if (i >= 0) {
			*c = b->cols[i]; /* borrowed */
			continue;
		}
		if ((rc = cl_column_init(c, ds->schema->fields[j].type, b->nrows, err)))
			return rc;
		owned[j] = true;
		const char *v = j >= ds->nfile_cols ? ds->part_vals[f][j - ds->nfile_cols]
						    : NULL;
		for (int64_t r = 0; r < b->nrows && !rc; r++)
			rc = v ? cl__column_append_text(c, v, strlen(v), err)
			       : cl_column_append_null(c, err);
		if (rc)
			return rc;
	}
	return 0;
}

static void release_owned(cl_dataset *ds)
{
	for (int i = 0; i < ds->out.ncols; i++) {
		if (ds->owned && ds->owned[i])
			cl_column_release(&ds->out.cols[i]);
		if (ds->owned)
			ds->owned[i] = false;
	}
}

int cl_dataset_next(cl_dataset *ds, cl_batch **out, cl_error *err)
{
	*out = NULL;
	release_owned(ds);
	for (;;) {
		if (!ds->r)
			return 0;
		cl_batch *b;
		int rc = cl_reader_next(ds->r, &b, err);
		if (rc)
			return rc;
		if (b && b->nrows == 0)
			continue;
		if (!b) {
			if (ds->cur + 1 >= ds->nfiles) {
				cl_reader_free(ds->r);
				ds->r = NULL;
				return 0;
			}
			if ((rc = open_file(ds, ds->cur + 1, err)))
				return rc;
			continue;
		}
		ds->first_row = ds->file_rows + 1;
		ds->file_rows += b->nrows;
		ds->rows += b->nrows;
		if ((rc = build_batch(ds, ds->cur, ds->map, b, &ds->out, ds->owned, err)))
			return rc;
		*out = &ds->out;
		return 0;
	}
}

const cl_schema *cl_dataset_schema(const cl_dataset *ds)
{
	return ds->schema;
}

const char *cl_dataset_file(const cl_dataset *ds)
{
	return ds->cur >= 0 ? ds->files[ds->cur] : ds->root;
}

int64_t cl_dataset_first_row(const cl_dataset *ds)
{
	return ds->first_row;
}

int64_t cl_dataset_rows(const cl_dataset *ds)
{
	return ds->rows;
}

int64_t cl_dataset_total_rows(const cl_dataset *ds)
{
	return ds->total_rows;
}

int cl_dataset_nfiles(const cl_dataset *ds)
{
	return ds->nfiles;
}

const char *cl_dataset_path(const cl_dataset *ds, int i)
{
	return i >= 0 && i < ds->nfiles ? ds->files[i] : NULL;
}

cl_format cl_dataset_format(const cl_dataset *ds)
{
	return ds->format;
}

void cl_dataset_free(cl_dataset *ds)
{
	if (!ds)
		return;
	release_owned(ds);
	cl_reader_free(ds->r);
	for (int f = 0; f < ds->nfiles; f++) {
		if (ds->part_vals && ds->part_vals[f]) {
			for (int k = 0; k < ds->nparts; k++)
				cl_free(ds->part_vals[f][k]);
			cl_free(ds->part_vals[f]);
		}
		cl_free(ds->files[f]);
	}
	cl_free(ds->part_vals);
	for (int k = 0; k < ds->nparts; k++)
		cl_free(ds->part_names[k]);
	cl_free(ds->part_names);
	cl_free(ds->files);
	cl_free(ds->root);
	cl_schema_free(ds->schema);
	cl_schema_free(ds->decl);
	cl_free(ds->out.cols);
	cl_free(ds->owned);
	cl_free(ds->map);
	cl_free(ds->units);
	cl_free(ds);
}

/* ---- units and cursors -------------------------------------------------- */

static int add_unit(cl_dataset *ds, int *cap, int file, int rg, int64_t rows,
		    int64_t first_row, cl_error *err)
{
	if (ds->nunits == *cap) {
		int c = *cap ? 2 * *cap : 16;
		struct unit *u = cl_realloc(ds->units, (size_t)c * sizeof *u);
		if (!u)
			return oom(err);
		ds->units = u;
		*cap = c;
	}
	ds->units[ds->nunits++] = (struct unit){file, rg, rows, first_row};
	return 0;
}

int cl_dataset_split(cl_dataset *ds, int *nunits, cl_error *err)
{
	*nunits = 0;
	if (!strcmp(ds->root, "-"))
		return 0;
	if (ds->units) {
		*nunits = ds->nunits;
		return 0;
	}
	int cap = 0, rc = 0;
	for (int f = 0; f < ds->nfiles && !rc; f++) {
		cl_format fmt = ds->opts.format ? ds->opts.format
						: cl_format_from_extension(ds->files[f]);
		cl_parquet_file *pf = NULL;
		if (fmt == CL_FORMAT_PARQUET || (fmt == CL_FORMAT_AUTO &&
						 ds->format == CL_FORMAT_PARQUET)) {
			cl_error e2 = {0};
			if (cl_parquet_file_open(&pf, ds->files[f], &e2))
				pf = NULL; /* reading the file reports it */
		}
		int nrg = pf ? cl_parquet_file_num_row_groups(pf) : 0;
		if (nrg > 1) {
			int64_t first = 1;
			for (int g = 0; g < nrg && !rc; g++) {
				cl_parquet_row_group rg;
				cl_parquet_file_row_group(pf, g, &rg);
				rc = add_unit(ds, &cap, f, g, rg.num_rows, first, err);
				first += rg.num_rows;
			}
		} else {
			rc = add_unit(ds, &cap, f, -1,
				      pf ? cl_parquet_file_num_rows(pf) : -1, 1, err);
		}
		cl_parquet_file_free(pf);
	}
	if (rc) {
		cl_free(ds->units);
		ds->units = NULL;
		ds->nunits = 0;
		return rc;
	}
	*nunits = ds->nunits;
	return 0;
}

int64_t cl_dataset_unit_rows(const cl_dataset *ds, int u)
{
	return u >= 0 && u < ds->nunits ? ds->units[u].rows : -1;
}

static void cursor_release_owned(cl_dataset_cursor *c)
{
	for (int i = 0; i < c->out.ncols; i++) {
		if (c->owned[i])
			cl_column_release(&c->out.cols[i]);
		c->owned[i] = false;
	}
}

void cl_dataset_cursor_free(cl_dataset_cursor *c)
{
	if (!c)
		return;
	if (c->owned)
		cursor_release_owned(c);
	cl_reader_free(c->r);
	cl_free(c->map);
	cl_free(c->out.cols);
	cl_free(c->owned);
	cl_free(c);
}

int cl_dataset_cursor_open(cl_dataset_cursor **out, const cl_dataset *ds, int u,
			   cl_error *err)
{
	*out = NULL;
	if (u < 0 || u >= ds->nunits)
		return cl_error_set(err, CL_EINVAL, "dataset: no unit %d", u);
	cl_dataset_cursor *c = cl_calloc(1, sizeof *c);
	if (!c)
		return oom(err);
	const struct unit *un = &ds->units[u];
	c->ds = ds;
	c->file = un->file;
	c->next_row = un->first_row;
	c->first_row = un->first_row;
	c->out.ncols = ds->schema->nfields;
	c->out.cols = cl_calloc((size_t)c->out.ncols + 1, sizeof *c->out.cols);
	c->owned = cl_calloc((size_t)c->out.ncols + 1, sizeof *c->owned);
	c->map = cl_calloc((size_t)c->out.ncols + 1, sizeof *c->map);
	int rc = 0;
	if (!c->out.cols || !c->owned || !c->map)
		rc = oom(err);
	else if (un->rg >= 0) {
		cl_parquet_read_options po = {0};
		po.row_groups = &un->rg;
		po.nrow_groups = 1;
		rc = cl_parquet_reader_open(&c->r, ds->files[un->file], &ds->opts, &po, err);
	} else {
		rc = cl_reader_open(&c->r, ds->files[un->file], &ds->opts, err);
	}
	if (!rc)
		rc = map_columns(ds, un->file, cl_reader_schema(c->r), c->map, err);
	if (rc) {
		cl_dataset_cursor_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

int cl_dataset_cursor_next(cl_dataset_cursor *c, cl_batch **out, cl_error *err)
{
	*out = NULL;
	cursor_release_owned(c);
	for (;;) {
		cl_batch *b;
		int rc = cl_reader_next(c->r, &b, err);
		if (rc || !b)
			return rc;
		if (b->nrows == 0)
			continue;
		c->first_row = c->next_row;
		c->next_row += b->nrows;
		c->rb = b;
		if ((rc = build_batch(c->ds, c->file, c->map, b, &c->out, c->owned, err)))
			return rc;
		*out = &c->out;
		return 0;
	}
}

/*
 * Take column i of the cursor's current batch into dst without copying
 * (cl_column_move); declared in src/ops/diff_impl.h (the diff keeps OLD's
 * batches). A column the cursor made (partition values, NULLs) is moved out
 * of the batch; one lent by the reader is moved out of the reader's batch,
 * which only the Parquet reader allows (io.h), and only when no other
 * column of the batch shares it. Afterwards out.cols[i] is an empty column
 * and must not be read. Returns 1 when taken, 0 when the column cannot be
 * taken (nothing changed), or a negative error.
 */
int cl__dataset_cursor_take(cl_dataset_cursor *c, int i, cl_column *dst, cl_error *err)
{
	if (i < 0 || i >= c->out.ncols || !c->rb)
		return 0;
	cl_column *oc = &c->out.cols[i];
	int rc;
	if (c->owned[i]) {
		if ((rc = cl_column_move(dst, oc, err)))
			return rc;
		return 1;
	}
	int ri = i < c->ds->nfile_cols ? c->map[i] : -1;
	if (ri < 0 || ri >= c->rb->ncols || cl_reader_format(c->r) != CL_FORMAT_PARQUET)
		return 0;
	for (int j = 0; j < c->ds->nfile_cols; j++)
		if (j != i && c->map[j] == ri)
			return 0;
	if ((rc = cl_column_move(dst, &c->rb->cols[ri], err)))
		return rc;
	/* out.cols[i] lent the moved buffers: it now lends the empty column */
	*oc = c->rb->cols[ri];
	return 1;
}

int cl_dataset_cursor_file(const cl_dataset_cursor *c)
{
	return c->file;
}

int64_t cl_dataset_cursor_first_row(const cl_dataset_cursor *c)
{
	return c->first_row;
}
