/*
 * changelake/merge.h — folding ordered change records into the last change
 * per key (the core of `changelake merge` and `sync`).
 *
 * Input: batches of change records, each row an op ('I' insert, 'U' update,
 * 'D' delete) and an after image (for 'D', at least the key). Batches come
 * in the source's total order (for DMS: full-load files, then CDC files by
 * commit time; rows in file order), each tagged with its file's label (for
 * messages) and its stable file key (dms.h).
 *
 * The sequence of a change, compared in this order:
 *   1. class: full load (file_key < 0) before change data (file_key >= 0),
 *      whatever any timestamp says;
 *   2. the --sequence-by column's value when one is configured (NULL is an
 *      error naming file and row);
 *   3. file key, then row position in the file.
 * Equal sequences never resolve arbitrarily: (2) ties fall through to (3),
 * which is unique within a run.
 *
 * Per-key sequence tracking: the result rows carry two extra columns,
 *   _cl_seq_file  int64  the file key of the change
 *   _cl_seq_row   int64  its row position in that file (0-based)
 * (with --sequence-by, the sequence column is an ordinary table column and
 * compares first). cl_merge_resolve compares each folded change with what
 * the table holds for its key: a change whose sequence is not greater is
 * stale and ignored, so a replayed or late file cannot overwrite newer
 * data. Rows passed to resolve without these columns (or with NULL in
 * them) count as older than every change. For DMS tables the sequences
 * are NOT stored in the table's rows (readers would see them): they live in
 * the table's sequence index beside the data, which also keeps tombstones
 * for deleted keys (dms_merge.h), and are fed to cl_merge_resolve from
 * there; the table rows (no sequence columns) are fed only to fill NULLs
 * under ignore_null_updates — before the index rows, because the first row
 * seen for a key supplies the fill values.
 *
 * Result per key: the last change wins. 'I' and 'U' set the row to the
 * after image (NULL means NULL); with ignore_null_updates a NULL in a 'U'
 * keeps the value the key had before (from earlier changes of this run, or
 * from the table's row: cl_merge_resolve). 'D' removes the row.
 * Without keys (nkeys == 0) the table is append-only: every 'I' row is a new
 * row, and 'U'/'D' rows are counted in the stats and dropped.
 *
 * Schema: the table's schema (declared, or learned from the first batch) is
 * enforced: a value that does not convert is CL_ETYPE naming file, row and
 * column. A column that first appears in a later batch is added at the end
 * (rows before it read NULL); a column missing from a batch reads NULL.
 *
 * Memory: every change record of the run is held until cl_merge_finish (the
 * stale ones are dropped there); bounded-memory spilling is future work.
 */
#ifndef CHANGELAKE_MERGE_H
#define CHANGELAKE_MERGE_H

#include "batch.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CL_MERGE_SEQ_FILE "_cl_seq_file"
#define CL_MERGE_SEQ_ROW "_cl_seq_row"

typedef struct cl_merge_options {
	const char *const *keys;  /* key column names; borrowed; none: append-only */
	int nkeys;
	const char *sequence_by;  /* column ordering changes first; NULL: none */
	bool ignore_null_updates;
	int threads;              /* cl_merge_finish gathers the result's columns
				     on this many threads (<= 1: the caller's
				     only); the result does not depend on it */
} cl_merge_options;

void cl_merge_options_init(cl_merge_options *o);

/* One batch of change records (everything borrowed for the call). */
typedef struct cl_change_batch {
	const cl_schema *schema; /* the batch's columns (no op column) */
	const cl_batch *batch;
	const char *ops;         /* batch->nrows of 'I', 'U', 'D' */
	int64_t first_row;       /* row position in its file of row 0 */
	const char *file;        /* label for messages */
	int64_t file_key;        /* stable file key: < 0 full load */
} cl_change_batch;

typedef struct cl_merge_stats {
	int64_t files;        /* distinct files fed */
	int64_t rows;         /* change records read */
	int64_t inserts, updates, deletes; /* records by op */
	int64_t ignored;      /* append-only: updates and deletes dropped */
	int64_t keys;         /* distinct keys changed (after folding) */
	int64_t stale;        /* changes not newer than the table's row */
	int64_t upserts_out;  /* rows to write */
	int64_t deletes_out;  /* rows to delete */
} cl_merge_stats;

typedef struct cl_merge cl_merge;

/*
 * A new merge. `schema` is the table's data schema (no hidden columns),
 * copied; NULL: learned from the first batch. Key and sequence columns
 * must exist once the schema is known. Owned, cl_merge_free.
 */
int cl_merge_create(cl_merge **out, const cl_schema *schema,
		    const cl_merge_options *o, cl_error *err);
void cl_merge_free(cl_merge *m);

/* Feed a batch (after every earlier batch in the total order). */
int cl_merge_add(cl_merge *m, const cl_change_batch *cb, cl_error *err);

/* The table's data schema so far (grows as columns appear); borrowed. NULL
   while nothing was fed and no schema was given. */
const cl_schema *cl_merge_schema(const cl_merge *m);

/* Fold: pick the last change per key. No more cl_merge_add afterwards. */
int cl_merge_finish(cl_merge *m, cl_error *err);

/*
 * Compare the folded changes with the table's current rows (`rows` with
 * `schema`, which has the key columns and normally the hidden sequence
 * columns). A change not newer than its key's row becomes stale; for a
 * 'U' under ignore_null_updates, its remaining NULLs take the row's values.
 * Call once per batch of table rows (any order); only rows whose keys were
 * changed matter. After cl_merge_finish.
 */
int cl_merge_resolve(cl_merge *m, const cl_schema *schema, const cl_batch *rows,
		     cl_error *err);

/*
 * The outcome, after cl_merge_finish (and any cl_merge_resolve):
 *   *schema   data columns then _cl_seq_file, _cl_seq_row (borrowed)
 *   *upserts  rows to write (whole rows); owned by the caller, cl_batch_free
 *   *deletes  rows whose keys to delete (same schema); owned likewise
 * Rows come in sequence order of their changes (deterministic).
 */
int cl_merge_result(cl_merge *m, const cl_schema **schema, cl_batch **upserts,
		    cl_batch **deletes, cl_error *err);

/* Key column indexes in the result schema (borrowed; nkeys of them). */
const int *cl_merge_key_columns(const cl_merge *m, int *nkeys);

const cl_merge_stats *cl_merge_get_stats(const cl_merge *m);

#ifdef __cplusplus
}
#endif
#endif
