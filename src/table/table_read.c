/*
 * table_read.c — reading a snapshot's rows: file pruning by partition
 * values and Delta statistics, row-group pruning by Parquet statistics,
 * conversion to the table schema, partition columns from the log.
 *
 * Pruning is conservative: a file is skipped only when its partition
 * values or its statistics prove that no row satisfies the filters. Missing
 * or unparsable statistics never skip. Timestamp maxima are widened by one
 * millisecond (Delta writers truncate them to milliseconds).
 *
 * Deletion vectors: the rows a file's vector names (physical positions in
 * the file, from 0, counted across all its row groups) are dropped. The
 * scan chooses the row groups itself (statistics against the filters) so
 * it knows the physical first row of each one it reads; every returned
 * batch is a run of physically consecutive rows of one file, so
 * cl_table_scan_file's first row names every row of the batch exactly
 * (a batch read from the file is split where deleted rows or pruned row
 * groups interrupt it).
 *
 * Output columns are converted (copied) into the scan's own batch, or,
 * for a consumer that asked (cl__table_scan_lend), lent: a whole reader
 * batch of file columns already in the table's types is handed out as a
 * view of the reader's columns, valid until the next call, not to be
 * changed or taken.
 */
#include "delta.h"
#include "dv.h"
#include "table_data.h"
#include "core/value_text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int oom(cl_error *err)
{
	return cl_error_set(err, CL_ENOMEM, "out of memory");
}

struct cl_table_scan {
	cl_table *t;
	const cl_snapshot *s;
	cl__table_layout l;
	cl_table_scan_options o;
	cl_parquet_predicate *file_preds; /* filters on data columns */
	int nfile_preds;
	size_t next_file;
	cl_reader *r;
	char *local;       /* fetched path of the current file */
	bool local_tmp;
	const cl_table_file *cur;
	int *file_col_of;  /* table column -> reader column, or -1 */
	int nout;          /* output columns (the projection, else every column) */
	int *out_col;      /* output column -> table column */
	cl_schema *out_schema; /* the projection's schema (NULL: the table's) */
	int64_t first_row; /* 1-based physical row of the last batch's first row */
	/* the row groups read from cur: physical first row and row count */
	int64_t *rg_first, *rg_rows;
	int *rg_index;
	int nrg;
	int seg;             /* row group of the row at read index seg_start.. */
	int64_t seg_start;   /* read index of row group `seg`'s first row */
	uint64_t *del;       /* cur's deleted rows (sorted), NULL: none */
	size_t ndel, del_pos;
	cl_batch *pend;      /* the reader's batch being cut into runs (borrowed) */
	int64_t pend_pos;    /* next row of pend */
	int64_t pend_base;   /* read index of pend's row 0 */
	cl_batch *out;
	bool lend;           /* cl__table_scan_lend: batches may lend columns */
	cl_batch view;       /* a lent batch: its cols are the reader's (not owned) */
	cl__json_parser *jp;
	int64_t files_read, files_skipped;
};

/* Parse text as one value of type t into c (re-initialised). false when it
 * does not parse. */
static bool parse1(cl_column *c, cl_type t, const char *text, size_t n)
{
	cl_column_release(c);
	if (cl_column_init(c, t, 1, NULL))
		return false;
	return cl__column_append_text(c, text, n, NULL) == 0;
}

/* Does a value compare as the operator wants? */
static bool op_holds(cl_parquet_op op, int c)
{
	switch (op) {
	case CL_PQ_EQ: return c == 0;
	case CL_PQ_LT: return c < 0;
	case CL_PQ_LE: return c <= 0;
	case CL_PQ_GT: return c > 0;
	case CL_PQ_GE: return c >= 0;
	default: return true;
	}
}

/* Can file f hold a row satisfying every filter? */
static bool file_may_match(cl_table_scan *sc, const cl_table_file *f)
{
	const cl_schema *schema = sc->l.schema;
	cl_column v = {0}, x = {0};
	bool may = true;
	const cl_json *stats = NULL;
	bool stats_parsed = false;
	for (int i = 0; may && i < sc->o.nfilters; i++) {
		const cl_parquet_predicate *p = &sc->o.filters[i];
		int col = cl_schema_find(schema, p->column);
		if (col < 0)
			continue;
		cl_type t = schema->fields[col].type;
		bool have_v = p->op == CL_PQ_IS_NULL || p->op == CL_PQ_NOT_NULL ||
			      (p->value && parse1(&v, t, p->value, strlen(p->value)));
		if (!have_v)
			continue;
		/* a partition column: exact */
		int pi = -1;
		for (int k = 0; k < sc->l.npart; k++)
			if (sc->l.part_index[k] == col)
				pi = k;
		if (pi >= 0) {
			const char *pv = f->partition[pi].value;
			if (p->op == CL_PQ_IS_NULL)
				may = pv == NULL;
			else if (p->op == CL_PQ_NOT_NULL)
				may = pv != NULL;
			else if (!pv)
				may = false;
			else if (parse1(&x, t, pv, strlen(pv)))
				may = op_holds(p->op, cl_value_compare(&x, 0, &v, 0));
			continue;
		}
		/* a data column: the file's statistics */
		if (!stats_parsed) {
			stats_parsed = true;
			if (f->stats_json &&
			    cl__json_parse(sc->jp, f->stats_json, strlen(f->stats_json), &stats, NULL))
				stats = NULL;
		}
		if (!stats)
			continue;
		const cl_json *nc = cl__json_get_s(cl__json_get_s(stats, "nullCount"), p->column);
		int64_t nulls = -1, nrec = -1;
		cl__json_int64(nc, &nulls);
		cl__json_int64(cl__json_get_s(stats, "numRecords"), &nrec);
		if (p->op == CL_PQ_IS_NULL) {
			may = nulls != 0;
			continue;
		}
		if (p->op == CL_PQ_NOT_NULL) {
			may = !(nulls >= 0 && nrec >= 0 && nulls == nrec);
			continue;
		}
		if (nulls >= 0 && nrec >= 0 && nulls == nrec && nrec > 0) {
			may = false; /* only nulls: no comparison holds */
			continue;
		}
		const cl_json *mn = cl__json_get_s(cl__json_get_s(stats, "minValues"), p->column);
		const cl_json *mx = cl__json_get_s(cl__json_get_s(stats, "maxValues"), p->column);
		bool lo_ok = false, hi_ok = false;
		if (mn && (mn->kind == CL_JSON_NUMBER || mn->kind == CL_JSON_STRING) &&
		    t.id != CL_STRING && t.id != CL_BINARY)
			lo_ok = parse1(&x, t, mn->u.str, mn->n);
		else if (mn && mn->kind == CL_JSON_STRING && t.id == CL_STRING)
			lo_ok = parse1(&x, t, mn->u.str, mn->n); /* a prefix is still a lower bound */
		if (lo_ok && (p->op == CL_PQ_EQ || p->op == CL_PQ_LT || p->op == CL_PQ_LE)) {
			int c = cl_value_compare(&x, 0, &v, 0); /* min vs value */
			if ((p->op == CL_PQ_EQ || p->op == CL_PQ_LE) && c > 0)
				may = false;
			if (p->op == CL_PQ_LT && c >= 0)
				may = false;
		}
		if (!may)
			continue;
		/* string maxima may be prefixes written by other engines: skip them */
		if (mx && (mx->kind == CL_JSON_NUMBER || mx->kind == CL_JSON_STRING) &&
		    t.id != CL_STRING && t.id != CL_BINARY)
			hi_ok = parse1(&x, t, mx->u.str, mx->n);
		if (hi_ok && t.id == CL_TIMESTAMP) {
			/* a maximum at the end of time bounds nothing */
			int64_t *xv = (int64_t *)x.values;
			int64_t inc = t.unit == CL_UNIT_MS ? 1 : t.unit == CL_UNIT_NS ? 1000000 : 1000;
			if (__builtin_add_overflow(xv[0], inc, &xv[0]))
				hi_ok = false;
		}
		if (hi_ok && (p->op == CL_PQ_EQ || p->op == CL_PQ_GT || p->op == CL_PQ_GE)) {
			int c = cl_value_compare(&x, 0, &v, 0); /* max vs value */
			if ((p->op == CL_PQ_EQ || p->op == CL_PQ_GE) && c < 0)
				may = false;
			if (p->op == CL_PQ_GT && c <= 0)
				may = false;
		}
	}
	cl_column_release(&v);
	cl_column_release(&x);
	return may;
}

void cl_table_scan_free(cl_table_scan *sc)
{
	if (!sc)
		return;
	cl_reader_free(sc->r);
	if (sc->local && sc->local_tmp)
		remove(sc->local);
	cl_free(sc->local);
	cl_free(sc->rg_first);
	cl_free(sc->rg_rows);
	cl_free(sc->rg_index);
	cl_free(sc->del);
	cl_free(sc->file_col_of);
	cl_free(sc->out_col);
	cl_schema_free(sc->out_schema);
	cl_free(sc->file_preds);
	cl_batch_free(sc->out);
	cl_free(sc->view.cols); /* the columns themselves are the reader's */
	cl__json_parser_free(sc->jp);
	cl__table_layout_release(&sc->l);
	cl_free(sc);
}

/* The output columns: the projection (names checked), else every column. */
static int project(cl_table_scan *sc, cl_error *err)
{
	const cl_schema *ts = sc->l.schema;
	sc->nout = sc->o.columns ? sc->o.ncolumns : ts->nfields;
	sc->out_col = cl_calloc((size_t)sc->nout + 1, sizeof *sc->out_col);
	if (!sc->out_col)
		return oom(err);
	if (!sc->o.columns) {
		for (int i = 0; i < sc->nout; i++)
			sc->out_col[i] = i;
		return 0;
	}
	int rc = cl_schema_create(&sc->out_schema, err);
	for (int i = 0; !rc && i < sc->nout; i++) {
		const char *name = sc->o.columns[i];
		int c = name ? cl_schema_find(ts, name) : -1;
		if (c < 0)
			return cl_error_set(err, CL_ENOTFOUND, "the table has no column '%s'",
					    name ? name : "(null)");
		sc->out_col[i] = c;
		rc = cl_schema_add(sc->out_schema, name, ts->fields[c].type,
				   ts->fields[c].nullable, err);
	}
	sc->o.columns = NULL; /* borrowed for the open only */
	return rc;
}

const cl_schema *cl_table_scan_schema(const cl_table_scan *sc)
{
	return sc->out_schema ? sc->out_schema : sc->l.schema;
}

const cl_table_file *cl_table_scan_file(const cl_table_scan *sc, int64_t *first_row)
{
	if (first_row)
		*first_row = sc->first_row;
	return sc->cur;
}

/* Is table column c one of the output columns? */
static bool is_output(const cl_table_scan *sc, int c)
{
	for (int i = 0; i < sc->nout; i++)
		if (sc->out_col[i] == c)
			return true;
	return false;
}

int cl_table_scan_open(cl_table_scan **out, cl_table *t, const cl_snapshot *s,
		       const cl_table_scan_options *o, cl_error *err)
{
	*out = NULL;
	cl_table_scan *sc = cl_calloc(1, sizeof *sc);
	if (!sc)
		return oom(err);
	sc->t = t;
	sc->s = s;
	if (o)
		sc->o = *o;
	if (sc->o.batch_rows <= 0)
		sc->o.batch_rows = 65536;
	int rc = cl__table_layout_init(&sc->l, s, err);
	if (rc) {
		cl_free(sc);
		return cl_error_prefix(err, "%s: ", cl_store_location(cl_table_store(t)));
	}
	rc = cl__json_parser_create(&sc->jp, NULL, err);
	rc = rc ? rc : project(sc, err);
	rc = rc ? rc : cl_batch_create(&sc->out, cl_table_scan_schema(sc), 1024, err);
	sc->file_col_of = cl_calloc((size_t)sc->l.schema->nfields + 1, sizeof *sc->file_col_of);
	sc->file_preds = cl_calloc((size_t)sc->o.nfilters + 1, sizeof *sc->file_preds);
	if (!rc && (!sc->file_col_of || !sc->file_preds))
		rc = oom(err);
	for (int i = 0; !rc && i < sc->o.nfilters; i++) {
		const cl_parquet_predicate *p = &sc->o.filters[i];
		int col = cl_schema_find(sc->l.schema, p->column);
		if (col < 0) {
			rc = cl_error_set(err, CL_ENOTFOUND, "filter column '%s' is not in the table",
					  p->column);
			break;
		}
		bool part = false;
		for (int k = 0; k < sc->l.npart; k++)
			if (sc->l.part_index[k] == col)
				part = true;
		if (!part)
			sc->file_preds[sc->nfile_preds++] = *p;
	}
	if (rc) {
		cl_table_scan_free(sc);
		return rc;
	}
	*out = sc;
	return 0;
}

void cl_table_scan_counts(const cl_table_scan *sc, int64_t *files_read, int64_t *files_skipped)
{
	*files_read = sc->files_read;
	*files_skipped = sc->files_skipped;
}

static bool wanted(const cl_table_scan *sc, const cl_table_file *f)
{
	if (!sc->o.only_files)
		return true;
	for (size_t i = 0; i < sc->o.nonly_files; i++)
		if (!strcmp(sc->o.only_files[i], f->path))
			return true;
	return false;
}

/* The row groups of pf to read (statistics against the predicates), with
 * their physical first rows; checks the deletion vector against the
 * file's row count. */
static int choose_row_groups(cl_table_scan *sc, cl_parquet_file *pf,
			     const cl_parquet_predicate *preds, int np, cl_error *err)
{
	int n = cl_parquet_file_num_row_groups(pf);
	cl_free(sc->rg_first);
	cl_free(sc->rg_rows);
	cl_free(sc->rg_index);
	sc->rg_first = cl_calloc((size_t)n + 1, sizeof *sc->rg_first);
	sc->rg_rows = cl_calloc((size_t)n + 1, sizeof *sc->rg_rows);
	sc->rg_index = cl_calloc((size_t)n + 1, sizeof *sc->rg_index);
	sc->nrg = 0;
	if (!sc->rg_first || !sc->rg_rows || !sc->rg_index)
		return oom(err);
	int64_t phys = 0;
	for (int rg = 0; rg < n; rg++) {
		cl_parquet_row_group g;
		cl_parquet_file_row_group(pf, rg, &g);
		bool may = true;
		if (np > 0) {
			int rc = cl_parquet_file_row_group_may_match(pf, rg, preds, np, &may, err);
			if (rc)
				return rc;
		}
		if (may) {
			sc->rg_index[sc->nrg] = rg;
			sc->rg_first[sc->nrg] = phys;
			sc->rg_rows[sc->nrg++] = g.num_rows;
		}
		phys += g.num_rows;
	}
	if (sc->ndel && sc->del[sc->ndel - 1] >= (uint64_t)phys)
		return cl_error_set(err, CL_EFORMAT,
				    "table data file %s: its deletion vector names row %llu, "
				    "the file has %lld rows", sc->cur->path,
				    (unsigned long long)sc->del[sc->ndel - 1], (long long)phys);
	return 0;
}

/* Open the next file worth reading; sc->r = NULL at the end. */
static int open_next(cl_table_scan *sc, cl_error *err)
{
	cl_reader_free(sc->r);
	sc->r = NULL;
	sc->pend = NULL;
	if (sc->local && sc->local_tmp)
		remove(sc->local);
	cl_free(sc->local);
	sc->local = NULL;
	cl_free(sc->del);
	sc->del = NULL;
	sc->ndel = sc->del_pos = 0;
	cl_store *st = cl_table_store(sc->t);
	while (sc->next_file < cl_snapshot_nfiles(sc->s)) {
		const cl_table_file *f = cl_snapshot_file(sc->s, sc->next_file++);
		if (!wanted(sc, f))
			continue;
		if (!file_may_match(sc, f)) {
			sc->files_skipped++;
			continue;
		}
		sc->cur = f;
		int rc;
		if (f->dv) {
			/* even a vector that deletes numRecords rows is applied,
			 * not trusted to empty the file: statistics may be wrong */
			if ((rc = cl__dv_load(&sc->del, &sc->ndel, st, f->dv, f->path, err)))
				return cl_error_prefix(err, "%s: ",
						       cl_store_location(st));
		}
		rc = cl_store_fetch(st, f->path, &sc->local, &sc->local_tmp, err);
		if (rc)
			return cl_error_prefix(err, "table data file %s: ", f->path);
		/* project the data columns the file has */
		cl_parquet_file *pf;
		if ((rc = cl_parquet_file_open(&pf, sc->local, err)) != 0)
			return rc;
		const char *cols[1024];
		int ncols = 0;
		const cl_schema *fs = sc->l.file_schema;
		for (int i = 0; i < fs->nfields && ncols < 1024; i++)
			if (is_output(sc, sc->l.file_to_table[i]) &&
			    cl_parquet_file_find_column(pf, fs->fields[i].name) >= 0)
				cols[ncols++] = fs->fields[i].name;
		/* a projection of partition columns only: one column still gives
		 * the row count */
		for (int i = 0; ncols == 0 && i < fs->nfields; i++)
			if (cl_parquet_file_find_column(pf, fs->fields[i].name) >= 0)
				cols[ncols++] = fs->fields[i].name;
		/* predicates only on columns the file has */
		cl_parquet_predicate preds[64];
		int np = 0;
		for (int i = 0; i < sc->nfile_preds && np < 64; i++)
			if (cl_parquet_file_find_column(pf, sc->file_preds[i].column) >= 0)
				preds[np++] = sc->file_preds[i];
		rc = choose_row_groups(sc, pf, preds, np, err);
		cl_parquet_file_free(pf);
		if (rc)
			return rc;
		cl_read_options ro;
		cl_read_options_init(&ro);
		ro.format = CL_FORMAT_PARQUET;
		ro.columns = cols;
		ro.ncolumns = ncols;
		ro.batch_rows = sc->o.batch_rows;
		cl_parquet_read_options po = {0};
		po.row_groups = sc->rg_index;
		po.nrow_groups = sc->nrg;
		if ((rc = cl_parquet_reader_open(&sc->r, sc->local, &ro, &po, err)) != 0)
			return rc;
		const cl_schema *rs = cl_reader_schema(sc->r);
		for (int i = 0; i < sc->l.schema->nfields; i++)
			sc->file_col_of[i] = cl_schema_find(rs, sc->l.schema->fields[i].name);
		sc->seg = 0;
		sc->seg_start = 0;
		sc->pend_base = 0;
		sc->files_read++;
		return 0;
	}
	return 0;
}

/* Physical row (from 0) of the row at read index k; k never decreases
 * between calls for one file. -1 when past the selected row groups. */
static int64_t physical(cl_table_scan *sc, int64_t k)
{
	while (sc->seg < sc->nrg && k >= sc->seg_start + sc->rg_rows[sc->seg]) {
		sc->seg_start += sc->rg_rows[sc->seg];
		sc->seg++;
	}
	if (sc->seg >= sc->nrg)
		return -1;
	return sc->rg_first[sc->seg] + (k - sc->seg_start);
}

/* Is physical row p deleted? p never decreases between calls. */
static bool deleted(cl_table_scan *sc, int64_t p)
{
	while (sc->del_pos < sc->ndel && sc->del[sc->del_pos] < (uint64_t)p)
		sc->del_pos++;
	return sc->del_pos < sc->ndel && sc->del[sc->del_pos] == (uint64_t)p;
}

void cl__table_scan_lend(cl_table_scan *sc)
{
	sc->lend = true;
}

/* Lend the reader's batch b as the output (*out = &sc->view) when it is
 * one whole run and every output column is a file column of the table's
 * type; false otherwise. */
static bool lend_whole(cl_table_scan *sc, const cl_batch *b, int64_t from, int64_t to,
		       cl_batch **out)
{
	if (!sc->lend || from != 0 || to != b->nrows)
		return false;
	for (int o = 0; o < sc->nout; o++) {
		int i = sc->out_col[o];
		int fc = sc->file_col_of[i];
		for (int k = 0; k < sc->l.npart; k++)
			if (sc->l.part_index[k] == i)
				return false;
		if (fc < 0 || fc >= b->ncols ||
		    !cl_type_equal(b->cols[fc].type, cl_table_scan_schema(sc)->fields[o].type))
			return false;
	}
	if (!sc->view.cols &&
	    !(sc->view.cols = cl_calloc((size_t)sc->nout + 1, sizeof *sc->view.cols)))
		return false; /* copied instead */
	for (int o = 0; o < sc->nout; o++)
		sc->view.cols[o] = b->cols[sc->file_col_of[sc->out_col[o]]];
	sc->view.ncols = sc->nout;
	sc->view.nrows = b->nrows;
	*out = &sc->view;
	return true;
}

/* Rows [from, to) of the reader's batch b as the output *out: lent
 * (lend_whole), else converted into sc->out. */
static int emit(cl_table_scan *sc, const cl_batch *b, int64_t from, int64_t to,
		cl_batch **out, cl_error *err)
{
	int rc = 0;
	if (lend_whole(sc, b, from, to, out))
		return 0;
	*out = sc->out;
	cl_batch_clear(sc->out);
	const cl_schema *schema = sc->l.schema;
	for (int o = 0; !rc && o < sc->nout; o++) {
		int i = sc->out_col[o];
		cl_column *dst = &sc->out->cols[o];
		int pi = -1;
		for (int k = 0; k < sc->l.npart; k++)
			if (sc->l.part_index[k] == i)
				pi = k;
		if (pi >= 0) {
			const char *pv = sc->cur->partition[pi].value;
			for (int64_t r = from; !rc && r < to; r++)
				rc = pv ? cl__column_append_text(dst, pv, strlen(pv), err)
					: cl_column_append_null(dst, err);
			if (rc)
				cl_error_prefix(err, "%s: partition value of '%s': ", sc->cur->path,
						schema->fields[i].name);
			continue;
		}
		int fc = sc->file_col_of[i];
		if (fc >= 0 && cl_type_equal(b->cols[fc].type, dst->type)) {
			/* the table's own type: copied in bulk */
			rc = cl_column_append_range(dst, &b->cols[fc], from, to - from, err);
			if (rc)
				cl_error_prefix(err, "%s: column '%s': ", sc->cur->path,
						schema->fields[i].name);
			continue;
		}
		for (int64_t r = from; !rc && r < to; r++)
			rc = fc < 0 ? cl_column_append_null(dst, err)
				    : cl__append_converted(dst, &b->cols[fc], r, err);
		if (rc)
			cl_error_prefix(err, "%s: column '%s': ", sc->cur->path,
					schema->fields[i].name);
	}
	if (rc)
		return rc;
	sc->out->nrows = to - from;
	return 0;
}

int cl_table_scan_next(cl_table_scan *sc, cl_batch **out, cl_error *err)
{
	*out = NULL;
	for (;;) {
		if (!sc->r) {
			int rc = open_next(sc, err);
			if (rc || !sc->r)
				return rc;
		}
		if (!sc->pend || sc->pend_pos >= sc->pend->nrows) {
			if (sc->pend)
				sc->pend_base += sc->pend->nrows;
			sc->pend = NULL;
			cl_batch *b;
			int rc = cl_reader_next(sc->r, &b, err);
			if (rc)
				return cl_error_prefix(err, "table data file %s: ", sc->cur->path);
			if (!b) {
				cl_reader_free(sc->r);
				sc->r = NULL;
				continue;
			}
			sc->pend = b;
			sc->pend_pos = 0;
		}
		/* the next run of surviving, physically consecutive rows */
		const cl_batch *b = sc->pend;
		int64_t n = b->nrows, i = sc->pend_pos, p = -1;
		for (; i < n; i++) {
			p = physical(sc, sc->pend_base + i);
			if (p < 0)
				return cl_error_set(err, CL_EINTERNAL,
						    "table data file %s: more rows than its row groups",
						    sc->cur->path);
			if (!deleted(sc, p))
				break;
		}
		if (i == n) {
			sc->pend_pos = n;
			continue;
		}
		int64_t start = i, first = p, prev = p;
		for (i = start + 1; i < n; i++) {
			int64_t q = physical(sc, sc->pend_base + i);
			if (q != prev + 1 || deleted(sc, q))
				break;
			prev = q;
		}
		sc->pend_pos = i;
		cl_batch *ob = NULL;
		int rc = emit(sc, b, start, i, &ob, err);
		if (rc)
			return rc;
		sc->first_row = first + 1;
		*out = ob;
		return 0;
	}
}
