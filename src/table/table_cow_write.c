/*
 * table_cow_write.c — the data files of one bucket of a table without
 * partition columns, written straight to Parquet (copy-on-write's
 * rewrite, table_cow.c).
 *
 * Copy-on-write on such a table rewrites one bucket at a time: every row
 * it writes belongs to that bucket and is already in the table's types (the
 * surviving rows of the bucket's files and the bucket's upserts). The
 * general writer (table_write.c) would hash every row's key again to route
 * it and copy it into a pending batch first; this writer hands the batches
 * to the Parquet writer as they come, or (write_runs) runs of a scanned
 * batch's rows, so the surviving rows of a file need no copy. Everything else is the general
 * writer's: the same file keys (part-SEQ-UUID_BUCKET.c000.snappy.parquet),
 * Parquet options (SNAPPY, row groups of the bucketed writer's share of its
 * budget), NOT NULL check, statistics, staging and durable publication
 * before the transaction can commit, crash points, and a new file once one
 * reaches the table's target size.
 *
 * Writeback is started as a file grows (cl__writer_kick, io.c),
 * so publishing it waits for little.
 *
 * Invariants: w->pw is open exactly while w->stage names its staged file;
 * a writer freed before its file is published removes the staged file.
 */
#include "delta.h"
#include "table_data.h"
#include "storage/crash_point.h"
#include "format/format_impl.h"

#include <string.h>

/* A bucket's file gets its share of the row-group budget of all the files
 * a bucketed writer keeps open together (cl__data_file_open). */

struct cl__bucket_writer {
	cl_table *t;
	cl_table_txn *x;
	const cl__table_layout *l;
	int bucket;
	int seq;          /* file counter for names */
	cl_writer *pw;    /* the open file, or NULL */
	char *stage;      /* its staging path */
	char *file_key;   /* its final key */
	cl_batch view;    /* a batch's data columns (borrowed) */
	int64_t files, rows, bytes;
	bool *plain;      /* per data column: start PLAIN (see
			     cl__bucket_writer_share_plain), or NULL */
};

static int oom(cl_error *err)
{
	return cl_error_set(err, CL_ENOMEM, "out of memory");
}

int cl__bucket_writer_open(cl__bucket_writer **out, cl_table *t, cl_table_txn *x,
			   const cl__table_layout *l, int bucket, cl_error *err)
{
	*out = NULL;
	if (l->npart)
		return cl_error_set(err, CL_EINTERNAL, "a bucket writer on a partitioned table");
	cl__bucket_writer *w = cl_calloc(1, sizeof *w);
	if (!w)
		return oom(err);
	w->view.cols = cl_calloc((size_t)l->file_schema->nfields + 1, sizeof *w->view.cols);
	if (!w->view.cols) {
		cl_free(w);
		return oom(err);
	}
	w->t = t;
	w->x = x;
	w->l = l;
	w->bucket = bucket;
	*out = w;
	return 0;
}

void cl__bucket_writer_free(cl__bucket_writer *w)
{
	if (!w)
		return;
	cl_writer_free(w->pw);
	if (w->stage)
		cl_store_unstage(cl_table_store(w->t), w->stage);
	cl_free(w->stage);
	cl_free(w->file_key);
	cl_free(w->view.cols);
	cl_free(w);
}

void cl__bucket_writer_counts(const cl__bucket_writer *w, int64_t *files, int64_t *rows,
			      int64_t *bytes)
{
	*files = w->files;
	*rows = w->rows;
	*bytes = w->bytes;
}

void cl__bucket_writer_share_plain(cl__bucket_writer *w, bool *plain)
{
	w->plain = plain;
}

/* A new staged file for the bucket; its columns that fell back to PLAIN
 * in the file written before start PLAIN. */
static int open_file(cl__bucket_writer *w, cl_error *err)
{
	/* one thread: copy-on-write runs buckets in parallel instead */
	int rc = cl__data_file_open(w->t, w->l, "", w->seq++, w->bucket, 1, &w->file_key,
				    &w->stage, &w->pw, err);
	if (!rc && w->plain)
		cl__parquet_writer_start_plain(w->pw, w->plain, w->l->file_schema->nfields);
	return rc;
}

/* Close, publish and add the open file to the transaction. */
static int finish_file(cl__bucket_writer *w, cl_error *err)
{
	int64_t size = 0;
	bool open = w->pw != NULL;
	if (open && w->plain)
		cl__parquet_writer_fell_back(w->pw, w->plain, w->l->file_schema->nfields);
	int rc = cl__data_file_add(w->t, w->x, w->l->file_schema, &w->pw, &w->stage,
				   &w->file_key, NULL, 0, true, &size, err);
	if (!rc && open) {
		w->files++;
		w->bytes += size;
	}
	return rc;
}

/*
 * The rows of b in runs (start, count pairs, ascending; NULL: all rows):
 * checked against the table's types and NOT NULL columns (only the rows
 * written), then handed to the Parquet writer without a copy.
 */
static int write_rows(cl__bucket_writer *w, const cl_batch *b, const int64_t *runs,
		      int64_t nruns, cl_error *err)
{
	const cl__table_layout *l = w->l;
	const cl_schema *sc = l->schema;
	int64_t total = runs ? 0 : b->nrows;
	for (int64_t i = 0; runs && i < nruns; i++)
		total += runs[2 * i + 1];
	if (total == 0)
		return 0;
	if (b->ncols != sc->nfields)
		return cl_error_set(err, CL_EINTERNAL, "bucket writer: %d columns, the table has %d",
				    b->ncols, sc->nfields);
	for (int i = 0; i < sc->nfields; i++) {
		const cl_column *c = &b->cols[i];
		if (!cl_type_equal(c->type, sc->fields[i].type))
			return cl_error_set(err, CL_EINTERNAL, "bucket writer: column '%s' is not "
					    "in the table's type", sc->fields[i].name);
		if (sc->fields[i].nullable || !c->validity || c->null_count == 0)
			continue;
		/* the first NULL among the rows written, counted as written */
		int64_t before = 0;
		for (int64_t k = 0; k < (runs ? nruns : 1); k++) {
			int64_t a = runs ? runs[2 * k] : 0, n = runs ? runs[2 * k + 1] : b->nrows;
			for (int64_t r = 0; r < n; r++)
				if (cl_column_is_null(c, a + r))
					return cl_error_set(err, CL_ETYPE, "row %lld, column '%s': "
							    "NULL in a not-null column",
							    (long long)(w->rows + before + r + 1),
							    sc->fields[i].name);
			before += n;
		}
	}
	/* the data columns (all of them: no partition columns) */
	for (int i = 0; i < l->file_schema->nfields; i++)
		w->view.cols[i] = b->cols[l->file_to_table[i]];
	w->view.ncols = l->file_schema->nfields;
	w->view.nrows = b->nrows;
	int rc = w->pw ? 0 : open_file(w, err);
	if (!rc)
		rc = runs ? cl__parquet_writer_write_runs(w->pw, &w->view, runs, nruns, err)
			  : cl_writer_write(w->pw, &w->view, err);
	cl__crash_point("data-file-writing");
	if (!rc)
		w->rows += total;
	if (!rc && cl_writer_bytes(w->pw) >= l->target_bytes)
		rc = finish_file(w, err);
	return rc;
}

int cl__bucket_writer_write(cl__bucket_writer *w, const cl_batch *b, cl_error *err)
{
	return write_rows(w, b, NULL, 0, err);
}

int cl__bucket_writer_write_runs(cl__bucket_writer *w, const cl_batch *b, const int64_t *runs,
				 int64_t nruns, cl_error *err)
{
	return write_rows(w, b, runs, nruns, err);
}

int cl__bucket_writer_finish(cl__bucket_writer *w, cl_error *err)
{
	return finish_file(w, err);
}
