/*
 * table_data.h — rows in and out of a lake table's data files (internal).
 *
 *   table_data_layout.c  a snapshot's layout (cl__table_layout) and the
 *                  conversion of values to the table's types
 *   table_data_file.c  one data file: named, staged, written, closed with
 *                  its Delta statistics, published durably and added to a
 *                  transaction (cl__data_file_*)
 *   table_write.c  cl__table_writer: routes rows to partition folders and
 *                  key-hash buckets, each group's rows to its data files
 *   table_read.c   cl__table_scan: reads the rows of chosen live files with
 *                  the table schema, partition columns filled in from the
 *                  log, missing columns as NULL
 *   table_cow.c    the copy-on-write upsert/delete primitive (table.h);
 *                  its key set, candidate files and bucket jobs in
 *                  table_cow_keys.c, table_cow_file.c, table_cow_jobs.c
 *                  (table_cow_impl.h)
 *   table_cow_write.c  its writer of one bucket's files (no partitions)
 *   table_changes.c    change sets (action column) applied through it
 *   dv_write.c     its merge-on-read variant: deletion vectors for the
 *                  changed rows of tables with delta.enableDeletionVectors
 *
 * Data files hold the table's data columns only (partition columns live in
 * the folder names and the log), as Spark writes them.
 */
#ifndef CL_TABLE_DATA_H
#define CL_TABLE_DATA_H

#include "changelake/io.h"
#include "changelake/table.h"
#include "core/buf.h"
#include "layout.h"

/* table_data_layout.c: how a snapshot lays out rows. Owned strings;
 * release with cl__table_layout_release. */
typedef struct cl__table_layout {
	const cl_schema *schema;   /* table schema (borrowed from the snapshot) */
	int npart;
	int *part_index;           /* partition column -> table schema index */
	int *part_source;          /* column its value comes from (transform source) */
	cl__transform *part_xf;
	int nkeys;
	int *key_index;            /* key columns -> table schema index */
	int buckets;               /* 0: none */
	int64_t target_bytes;
	cl_schema *file_schema;    /* data columns only (owned) */
	int *file_to_table;        /* file column i -> table schema index */
} cl__table_layout;

int cl__table_layout_init(cl__table_layout *l, const cl_snapshot *s, cl_error *err);
void cl__table_layout_release(cl__table_layout *l);

/* Append value `row` of src to dst, converting to dst's type (widening
 * unsigned integers, timestamp units, integer widths). CL_ETYPE when the
 * value does not fit. */
int cl__append_converted(cl_column *dst, const cl_column *src, int64_t row,
			 cl_error *err);
/* Append rows [0, n) of src to dst: in bulk when the types are equal, else
 * value by value through cl__append_converted. */
int cl__append_converted_all(cl_column *dst, const cl_column *src, int64_t n, cl_error *err);

/* A timestamp value of unit (CL_UNIT_*) in microseconds, nanoseconds
 * rounded toward negative infinity. */
static inline int64_t cl__ts_to_us(int64_t v, int unit)
{
	switch (unit) {
	case CL_UNIT_MS: return v * 1000;
	case CL_UNIT_NS: return v >= 0 ? v / 1000 : -((-v + 999) / 1000);
	default: return v;
	}
}

typedef struct cl__table_writer cl__table_writer;

/*
 * A writer of new data files for transaction x on snapshot s. Batches must
 * have `input` as schema: every table data column by name (a missing
 * nullable column is written as NULL), values convertible to the table's
 * types; the partition columns (or the sources of transformed ones) must
 * be there. Nothing is visible until the transaction commits.
 */
int cl__table_writer_open(cl__table_writer **out, cl_table *t, const cl_snapshot *s,
			  cl_table_txn *x, const cl_schema *input, cl_error *err);
int cl__table_writer_write(cl__table_writer *w, const cl_batch *b, cl_error *err);
/* The files only rearrange existing rows (compaction): dataChange false. */
void cl__table_writer_rearrange(cl__table_writer *w);
/* Finish every open file and add them all to the transaction. */
int cl__table_writer_finish(cl__table_writer *w, cl_error *err);
/* Files and rows written so far. */
void cl__table_writer_counts(const cl__table_writer *w, int64_t *files, int64_t *rows,
			     int64_t *bytes);
void cl__table_writer_free(cl__table_writer *w);

/* Finish the open file of a bucket (tables without partition columns). */
int cl__table_writer_finish_bucket(cl__table_writer *w, int bucket, cl_error *err);

/* dv_write.c: merge-on-read (tables with deletion vectors). */
/* Is the table written merge-on-read (delta.enableDeletionVectors and the
 * writer feature)? */
bool cl__dv_table_enabled(const cl_snapshot *s);
/* Called per batch of a file's key columns: live[i] 0 for rows the file's
 * current vector already deletes; first_pos is the physical position of
 * row 0. */
typedef int (*cl__dv_keys_fn)(void *ctx, cl_column *const *keys, int64_t n, const uint8_t *live,
			      int64_t first_pos, cl_error *err);
/* Read file f's key columns (physical rows), handing batches to fn; *nrows
 * the file's physical rows, *deleted its current vector's rows (owned). */
int cl__dv_read_keys(cl_table *t, const cl__table_layout *l, const cl_table_file *f,
		     cl__dv_keys_fn fn, void *ctx, int64_t *nrows, uint64_t **deleted,
		     size_t *ndeleted, cl_error *err);
/* A file's statistics with "tightBounds":false (appended to out). */
int cl__dv_loose_stats(cl_buf *out, const char *stats);
/* The deletions of one commit: per file, old vector + new positions. */
typedef struct cl__dv_marks cl__dv_marks;
int cl__dv_marks_open(cl__dv_marks **out, cl_error *err);
void cl__dv_marks_free(cl__dv_marks *m);
int cl__dv_marks_add(cl__dv_marks *m, cl_table_txn *x, const cl_table_file *f,
		     const uint64_t *old, size_t nold, const uint64_t *pos, size_t npos,
		     int64_t nrows, cl_error *err);
/* Publish the commit's vector file and add the removes/adds to x. */
int cl__dv_marks_finish(cl__dv_marks *m, cl_table *t, cl_table_txn *x, cl_table_cow_stats *st,
			cl_error *err);
void cl__dv_marks_counts(const cl__dv_marks *m, int64_t *added, int64_t *updated,
			 int64_t *removed, int64_t *files_removed, int64_t *bytes_removed);

/*
 * table_cow_write.c: the new data files of one bucket of a table without
 * partition columns (layout l, borrowed), for copy-on-write. Batches have
 * the table's schema and types (every row of that bucket); files are
 * staged, published and added to x as cl__table_writer does.
 */
typedef struct cl__bucket_writer cl__bucket_writer;
int cl__bucket_writer_open(cl__bucket_writer **out, cl_table *t, cl_table_txn *x,
			   const cl__table_layout *l, int bucket, cl_error *err);
int cl__bucket_writer_write(cl__bucket_writer *w, const cl_batch *b, cl_error *err);
/* Rows of b in runs ((start, count) pairs, ascending) to a bucket's file,
 * without a copy. */
int cl__bucket_writer_write_runs(cl__bucket_writer *w, const cl_batch *b, const int64_t *runs,
				 int64_t nruns, cl_error *err);
/* plain (one flag per data column, owned by the caller, outliving w)
 * carries which columns fell back to PLAIN from each file w writes to the
 * next, and from bucket writer to bucket writer. */
void cl__bucket_writer_share_plain(cl__bucket_writer *w, bool *plain);
/* Finish the open file (publish it, add it to the transaction). */
int cl__bucket_writer_finish(cl__bucket_writer *w, cl_error *err);
void cl__bucket_writer_counts(const cl__bucket_writer *w, int64_t *files, int64_t *rows,
			      int64_t *bytes);
void cl__bucket_writer_free(cl__bucket_writer *w);

/* table_read.c: from now on the scan's batches may lend the file
 * reader's columns (no copy) when no conversion is needed: the caller
 * only reads them, until its next cl_table_scan_next, and never changes or
 * takes (cl_column_move) them. */
void cl__table_scan_lend(cl_table_scan *sc);

/*
 * table_data_file.c: one data file of a table, shared by the table writer and
 * the bucket writer. _open names it (folder dir: partition path or "",
 * file number seq, bucket or -1), stages it and opens its Parquet writer
 * with the table's file options (snappy, row groups within the table's
 * target size and, for a bucketed table, a share of the memory budget of
 * its open files), its row groups encoded on `threads` threads. _add closes *pw, publishes *stage as *file_key and adds
 * it to x (partition values part, dataChange), *size its stored size;
 * *pw and *file_key are freed and NULLed in every case, *stage once
 * published (left for the caller to remove on failure). No-op when *pw
 * is NULL.
 */
int cl__data_file_open(cl_table *t, const cl__table_layout *l, const char *dir, int seq,
		       int bucket, int threads, char **file_key, char **stage, cl_writer **pw,
		       cl_error *err);
int cl__data_file_add(cl_table *t, cl_table_txn *x, const cl_schema *file_schema, cl_writer **pw,
		      char **stage, char **file_key, const cl_table_kv *part, int npart,
		      bool data_change, int64_t *size, cl_error *err);

/* cl__data_file_add's two halves, for a writer that closes files on
 * threads and publishes them in order afterwards. _close closes pw (not
 * freed) and appends its statistics to stats; _register publishes the
 * closed file *stage as file_key and adds it to x (*stage freed once
 * published; file_key left to the caller). */
int cl__data_file_close(cl_writer *pw, const cl_schema *file_schema, cl_buf *stats,
			cl_error *err);
int cl__data_file_register(cl_table *t, cl_table_txn *x, char **stage, const char *file_key,
			   const cl_buf *stats, const cl_table_kv *part, int npart,
			   bool data_change, int64_t *size, cl_error *err);

/*
 * Transaction internals (table_txn.c) the writers use: the snapshot rows
 * are laid out by (the pending one when the transaction sets metadata,
 * else its base; NULL: none), its table, the metadata lines it commits,
 * and forks — a fork records file actions on one thread of a parallel
 * write and is joined into x afterwards, in an order the caller chooses,
 * so the commit does not depend on the threads (see table_txn.c).
 */
const cl_snapshot *cl__table_txn_base(const cl_table_txn *x);
cl_table *cl__table_txn_table(const cl_table_txn *x);
int cl__table_txn_set_meta(cl_table_txn *x, const char *meta_lines, cl_error *err);
int cl__table_txn_fork(cl_table_txn **out, cl_table_txn *x, cl_error *err);
int cl__table_txn_join(cl_table_txn *x, const cl_table_txn *f, cl_error *err);

/* Delta statistics JSON of a finished Parquet writer's file
 * (table_data_file.c). */
int cl__table_stats_json(cl_buf *out, const cl_writer *w, const cl_schema *file_schema,
			 cl_error *err);

#endif
