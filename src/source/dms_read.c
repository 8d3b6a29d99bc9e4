/*
 * dms_read.c — one DMS file as batches of changes.
 *
 * A file is read through the generic cl_reader. What this module adds is the
 * DMS row layout: it finds the Op column (by name in Parquet and in CSV with
 * a header; by field count in header-less CSV), turns it into one op byte per
 * row, and exposes the other columns as a view batch (cl_column structs
 * copied shallowly from the reader's batch: they alias its buffers and are
 * never freed here).
 *
 * Header-less CSV (DMS's default): the fields are [Op] [timestamp] then the
 * table's columns, in the table's order. With N table columns and F fields
 * in the file:
 *   F == N      no Op, no timestamp column
 *   F == N + 2  Op and the timestamp column (which must be configured)
 *   F == N + 1  CDC file: Op; full-load file: the timestamp column when one
 *               is configured, else Op (includeOpForFullLoad)
 * anything else is an error asking for the column names. The field count is
 * found by a first open with every column a string; the file is then opened
 * again with the declared types, so a value that does not fit is reported by
 * the CSV reader with file, line and column.
 *
 * CSV with a header and a known schema is read as strings: the merge casts
 * values to the table's types and reports file, row and column itself, and
 * a column that is new to the table keeps its text (string type).
 */
#include "changelake/dms.h"
#include "dms_impl.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"

struct cl_dms_reader {
	cl_reader *r;
	char *path;
	bool load;          /* a full-load file */
	int op_col;         /* index of Op in the reader's schema, or -1 */
	int *map;           /* data column i = reader column map[i] */
	cl_schema *schema;  /* data columns; owned */
	cl_batch view;      /* cols owned (the array), buffers aliased */
	char *ops;
	int64_t ops_cap;
	int64_t rows;       /* rows returned so far */
	cl_batch *cur;      /* the reader's last batch (borrowed) */
};

void cl_dms_read_options_init(cl_dms_read_options *o)
{
	memset(o, 0, sizeof *o);
	o->header = -1;
	o->batch_rows = 65536;
}

const cl_schema *cl_dms_reader_schema(const cl_dms_reader *r)
{
	return r->schema;
}

bool cl_dms_reader_has_op(const cl_dms_reader *r)
{
	return r->op_col >= 0;
}

void cl_dms_reader_free(cl_dms_reader *r)
{
	if (!r)
		return;
	cl_reader_free(r->r);
	cl_schema_free(r->schema);
	cl_free(r->map);
	cl_free(r->view.cols);
	cl_free(r->ops);
	cl_free(r->path);
	cl_free(r);
}

static bool is_op_name(const char *name)
{
	return strcmp(name, "Op") == 0;
}

/* Known names: from the schema, else from the columns option. */
static int known_count(const cl_dms_read_options *o)
{
	return o->schema ? o->schema->nfields : o->ncolumns;
}

static const char *known_name(const cl_dms_read_options *o, int i)
{
	return o->schema ? o->schema->fields[i].name : o->columns[i];
}

static void base_read_options(cl_read_options *ro, const cl_dms_read_options *o)
{
	cl_read_options_init(ro);
	ro->format = CL_FORMAT_CSV;
	if (o->delimiter)
		ro->delimiter = o->delimiter;
	ro->null_marker = o->null_marker;
	if (o->batch_rows > 0)
		ro->batch_rows = o->batch_rows;
}

/*
 * Look at the first record of a CSV file with every field a string: its
 * field count, and whether it reads as a header (at least half its fields
 * are "Op", the timestamp column or known column names, one of them a
 * known column name).
 */
static int csv_probe(const char *path, const cl_dms_read_options *o, int *nfields,
		     bool *looks_like_header, cl_error *err)
{
	cl_read_options ro;
	base_read_options(&ro, o);
	ro.header = 0;
	ro.all_strings = true;
	ro.sample_rows = 1;
	ro.batch_rows = 1;
	cl_reader *r;
	int rc = cl_reader_open(&r, path, &ro, err);
	if (rc)
		return rc;
	*nfields = cl_reader_schema(r)->nfields;
	*looks_like_header = false;
	cl_batch *b;
	if ((rc = cl_reader_next(r, &b, err)))
		goto done;
	if (b && b->nrows > 0) {
		int matched = 0, known = 0;
		for (int c = 0; c < b->ncols; c++) {
			if (cl_column_is_null(&b->cols[c], 0))
				continue;
			size_t n;
			const uint8_t *s = cl_column_get_bytes(&b->cols[c], 0, &n);
			bool ok = (n == 2 && memcmp(s, "Op", 2) == 0) ||
				  (o->timestamp_column && strlen(o->timestamp_column) == n &&
				   memcmp(s, o->timestamp_column, n) == 0);
			for (int k = 0; !ok && k < known_count(o); k++) {
				const char *name = known_name(o, k);
				if (strlen(name) == n && memcmp(s, name, n) == 0) {
					ok = true;
					known++;
				}
			}
			matched += ok;
		}
		/* Data rows do not spell column names: a first line where at
		   least half the fields are known names is a header (columns
		   new to the table are the other half). */
		*looks_like_header = known > 0 && 2 * matched >= b->ncols;
	}
done:
	cl_reader_free(r);
	return rc;
}

/* Build the data schema and column map from the reader's schema. */
static int map_columns(cl_dms_reader *d, const char *const *names, cl_error *err)
{
	const cl_schema *rs = cl_reader_schema(d->r);
	int rc;
	if ((rc = cl_schema_create(&d->schema, err)))
		return rc;
	d->map = cl_calloc((size_t)rs->nfields + 1, sizeof *d->map);
	d->view.cols = cl_calloc((size_t)rs->nfields + 1, sizeof *d->view.cols);
	if (!d->map || !d->view.cols)
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	for (int i = 0; i < rs->nfields; i++) {
		if (i == d->op_col)
			continue;
		const cl_field *f = &rs->fields[i];
		const char *name = names ? names[i] : f->name;
		if ((rc = cl_schema_add(d->schema, name, f->type, f->nullable, err)))
			return cl_error_prefix(err, "%s: ", d->path);
		d->map[d->schema->nfields - 1] = i;
	}
	d->view.ncols = d->schema->nfields;
	return 0;
}

static int open_parquet_or_header_csv(cl_dms_reader *d, const cl_dms_read_options *o,
				      bool csv, cl_error *err)
{
	cl_read_options ro;
	int rc;
	if (csv) {
		base_read_options(&ro, o);
		ro.header = 1;
		ro.all_strings = o->schema != NULL;
	} else {
		cl_read_options_init(&ro);
		ro.format = CL_FORMAT_PARQUET;
		if (o->batch_rows > 0)
			ro.batch_rows = o->batch_rows;
		if (o->threads > 0)
			ro.threads = o->threads;
	}
	if ((rc = cl_reader_open(&d->r, d->path, &ro, err)))
		return rc;
	const cl_schema *rs = cl_reader_schema(d->r);
	d->op_col = -1;
	for (int i = 0; i < rs->nfields; i++)
		if (is_op_name(rs->fields[i].name)) {
			if (!cl_type_is_var(rs->fields[i].type))
				return cl_error_set(err, CL_EFORMAT,
						    "%s: column 'Op' is not a string", d->path);
			d->op_col = i;
			break;
		}
	return map_columns(d, NULL, err);
}

static int open_headerless_csv(cl_dms_reader *d, const cl_dms_read_options *o,
			       int nfields, cl_error *err)
{
	int n = known_count(o), rc;
	if (n == 0)
		return cl_error_set(err, CL_EINVAL,
				    "%s: CSV without a header and no column names known: "
				    "give the table's schema or --columns", d->path);
	bool ts = o->timestamp_column != NULL, has_op, has_ts;
	if (nfields == n) {
		has_op = has_ts = false;
	} else if (nfields == n + 2 && ts) {
		has_op = has_ts = true;
	} else if (nfields == n + 1) {
		has_op = !(d->load && ts);
		has_ts = !has_op;
	} else {
		return cl_error_set(err, CL_ESCHEMA,
				    "%s: %d fields per line, but the table has %d columns "
				    "(plus Op%s): a column added to the source? Give the "
				    "column names with --columns",
				    d->path, nfields, n, ts ? " and the timestamp column" : "");
	}
	/* Names of the reader's columns, in file order. */
	const char **names = cl_calloc((size_t)nfields, sizeof *names);
	cl_schema *decl = NULL;
	if (!names)
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	int k = 0;
	if (has_op)
		names[k++] = "Op";
	if (has_ts)
		names[k++] = o->timestamp_column;
	for (int i = 0; i < n; i++)
		names[k++] = known_name(o, i);
	cl_read_options ro;
	base_read_options(&ro, o);
	ro.header = 0;
	if (o->schema) {
		if ((rc = cl_schema_create(&decl, err)))
			goto done;
		for (int i = 0; i < nfields; i++) {
			bool data = i >= nfields - n;
			cl_type t = data ? o->schema->fields[i - (nfields - n)].type
					 : cl_type_make(CL_STRING);
			if ((rc = cl_schema_add(decl, names[i], t, true, err))) {
				cl_error_prefix(err, "%s: ", d->path);
				goto done;
			}
		}
		ro.schema = decl;
	}
	if ((rc = cl_reader_open(&d->r, d->path, &ro, err)))
		goto done;
	if (cl_reader_schema(d->r)->nfields != nfields) {
		rc = cl_error_set(err, CL_EFORMAT, "%s: field count changed between reads",
				  d->path);
		goto done;
	}
	d->op_col = has_op ? 0 : -1;
	if (has_op && !cl_type_is_var(cl_reader_schema(d->r)->fields[0].type)) {
		/* An inferred type: Op values must be strings, so the column is
		   not an Op column after all. */
		rc = cl_error_set(err, CL_EFORMAT, "%s: the first field is not an Op column "
				  "(I, U, D)", d->path);
		goto done;
	}
	rc = map_columns(d, names, err);
done:
	cl_free(names);
	cl_schema_free(decl);
	return rc;
}

int cl_dms_reader_open(cl_dms_reader **out, const char *dir, const cl_dms_file *f,
		       const cl_dms_read_options *o, cl_error *err)
{
	*out = NULL;
	cl_dms_read_options defaults;
	if (!o) {
		cl_dms_read_options_init(&defaults);
		o = &defaults;
	}
	if (f->name.kind == CL_DMS_OTHER)
		return cl_error_set(err, CL_EINVAL, "%s: not a DMS data file", f->path);
	cl_dms_reader *d = cl_calloc(1, sizeof *d);
	cl_buf p = {0};
	if (!d || cl_buf_printf(&p, "%s/%s", dir, f->path)) {
		cl_free(d);
		cl_buf_release(&p);
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	}
	d->path = (char *)cl_buf_detach(&p, NULL);
	d->load = f->name.kind == CL_DMS_LOAD;
	d->op_col = -1;
	int rc;
	if (f->name.format == CL_FORMAT_PARQUET) {
		rc = open_parquet_or_header_csv(d, o, false, err);
	} else {
		int nfields = 0;
		bool looks = false;
		int header = o->header;
		if (header != 0 || known_count(o) > 0) {
			if ((rc = csv_probe(d->path, o, &nfields, &looks, err)))
				goto fail;
		}
		if (header < 0)
			header = known_count(o) == 0 ? 1 : looks;
		if (header)
			rc = open_parquet_or_header_csv(d, o, true, err);
		else
			rc = open_headerless_csv(d, o, nfields, err);
	}
	if (rc)
		goto fail;
	*out = d;
	return 0;
fail:
	cl_dms_reader_free(d);
	return rc;
}

/*
 * Internal (dms_merge.c's key pass): open Parquet file `f` reading only the
 * columns `names` (which must exist; "Op" among them when the file has it,
 * so the ops are still read). The data schema and batches hold just those
 * columns, in file order.
 */
int cl__dms_reader_open_columns(cl_dms_reader **out, const char *dir, const cl_dms_file *f,
				const char *const *names, int n, int threads, cl_error *err)
{
	*out = NULL;
	if (f->name.format != CL_FORMAT_PARQUET || f->name.kind == CL_DMS_OTHER || n <= 0)
		return cl_error_set(err, CL_EINVAL, "%s: no Parquet DMS data file", f->path);
	cl_dms_reader *d = cl_calloc(1, sizeof *d);
	cl_buf p = {0};
	if (!d || cl_buf_printf(&p, "%s/%s", dir, f->path)) {
		cl_free(d);
		cl_buf_release(&p);
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	}
	d->path = (char *)cl_buf_detach(&p, NULL);
	d->load = f->name.kind == CL_DMS_LOAD;
	d->op_col = -1;
	cl_read_options ro;
	cl_read_options_init(&ro);
	ro.format = CL_FORMAT_PARQUET;
	ro.columns = names;
	ro.ncolumns = n;
	if (threads > 0)
		ro.threads = threads;
	int rc = cl_reader_open(&d->r, d->path, &ro, err);
	const cl_schema *rs = rc ? NULL : cl_reader_schema(d->r);
	for (int i = 0; rs && i < rs->nfields; i++)
		if (is_op_name(rs->fields[i].name)) {
			if (!cl_type_is_var(rs->fields[i].type))
				rc = cl_error_set(err, CL_EFORMAT, "%s: column 'Op' is not a string",
						  d->path);
			d->op_col = i;
			break;
		}
	rc = rc ? rc : map_columns(d, NULL, err);
	if (rc) {
		cl_dms_reader_free(d);
		return rc;
	}
	*out = d;
	return 0;
}

int cl_dms_reader_next(cl_dms_reader *d, cl_dms_changes *out, cl_error *err)
{
	memset(out, 0, sizeof *out);
	cl_batch *b;
	int rc = cl_reader_next(d->r, &b, err);
	if (rc)
		return rc;
	d->cur = b;
	if (!b || b->nrows == 0) {
		out->first_row = d->rows;
		out->batch = &d->view;
		d->view.nrows = 0;
		return 0;
	}
	if (b->nrows > d->ops_cap) {
		char *ops = cl_realloc(d->ops, (size_t)b->nrows);
		if (!ops)
			return cl_error_set(err, CL_ENOMEM, "out of memory");
		d->ops = ops;
		d->ops_cap = b->nrows;
	}
	if (d->op_col < 0) {
		memset(d->ops, 'I', (size_t)b->nrows);
	} else {
		const cl_column *c = &b->cols[d->op_col];
		for (int64_t i = 0; i < b->nrows; i++) {
			size_t n = 0;
			const uint8_t *s = NULL;
			if (!cl_column_is_null(c, i))
				s = cl_column_get_bytes(c, i, &n);
			if (n == 1 && (s[0] == 'I' || s[0] == 'U' || s[0] == 'D')) {
				d->ops[i] = (char)s[0];
			} else if (n == 0 && d->load) {
				d->ops[i] = 'I';
			} else {
				char shown[16];
				size_t k = n < 8 ? n : 8;
				for (size_t j = 0; j < k; j++)
					shown[j] = s[j] >= 0x20 && s[j] < 0x7f ? (char)s[j] : '?';
				shown[k] = 0;
				return cl_error_set(err, CL_EFORMAT,
						    "%s: row %lld, column 'Op': '%s%s' is not "
						    "I, U or D",
						    d->path, (long long)(d->rows + i + 1), shown,
						    n > k ? "..." : "");
			}
		}
	}
	d->view.nrows = b->nrows;
	for (int i = 0; i < d->view.ncols; i++)
		d->view.cols[i] = b->cols[d->map[i]];
	out->batch = &d->view;
	out->ops = d->ops;
	out->nrows = b->nrows;
	out->first_row = d->rows;
	d->rows += b->nrows;
	return 0;
}

/*
 * Internal (dms_prefetch.c): the next batch of changes, owned by the caller:
 * *batch (cl_batch_free; schema cl_dms_reader_schema) and *ops (cl_free, one
 * op a row), or *batch NULL at the end of the file. A Parquet reader's
 * columns are taken over (cl_column_move: the reader refills them from
 * empty), other formats' copied. The reader's borrowed view is invalid
 * after this call.
 */
int cl__dms_reader_next_owned(cl_dms_reader *d, cl_batch **batch, char **ops,
			      int64_t *first_row, cl_error *err)
{
	*batch = NULL;
	*ops = NULL;
	cl_dms_changes ch;
	int rc = cl_dms_reader_next(d, &ch, err);
	if (rc || ch.nrows == 0)
		return rc;
	cl_batch *b = NULL;
	if ((rc = cl_batch_create(&b, d->schema, 0, err)))
		return rc;
	bool take = cl_reader_format(d->r) == CL_FORMAT_PARQUET;
	for (int i = 0; !rc && i < d->view.ncols; i++)
		rc = take ? cl_column_move(&b->cols[i], &d->cur->cols[d->map[i]], err)
			  : cl_column_append_range(&b->cols[i], &d->view.cols[i], 0, ch.nrows,
						   err);
	d->view.nrows = 0;
	if (rc) {
		cl_batch_free(b);
		return rc;
	}
	b->nrows = ch.nrows;
	/* the op bytes go with the batch; the next call allocates anew */
	*ops = d->ops;
	d->ops = NULL;
	d->ops_cap = 0;
	*batch = b;
	*first_row = ch.first_row;
	return 0;
}
