/*
 * changelake/dms_merge.h — DMS change data into a lake table: the parts
 * that tie the source (dms.h) to the table (table.h).
 *
 * The consumed-file set lives in the table (see the manifest in dms.h):
 * cl_dms_consumed_load reads the set a snapshot points at, and
 * cl_dms_consumed_record writes the next set and puts its version into a
 * write transaction, so the commit that writes merged data also moves the
 * watermark — a crash before the commit leaves both as they were, a crash
 * after leaves both done.
 */
#ifndef CHANGELAKE_DMS_MERGE_H
#define CHANGELAKE_DMS_MERGE_H

#include "dms.h"
#include "merge.h"
#include "table.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Store key of the manifest of txn version v: "_changelake/dms/consumed-<v>.tsv"
 * (written into buf of n bytes; returns buf). */
const char *cl_dms_manifest_key(char *buf, size_t n, int64_t v);

/*
 * The consumed set of snapshot `s` for `app_id` (NULL: CL_DMS_APP_ID):
 * *out owned (cl_dms_consumed_free), empty when the table records none;
 * *version (may be NULL) the txn version, -1 when none. A txn version whose
 * manifest is missing or malformed is CL_EFORMAT (never "nothing consumed",
 * which would load every file again).
 */
int cl_dms_consumed_load(cl_dms_consumed **out, int64_t *version, cl_table *t,
			 const cl_snapshot *s, const char *app_id, cl_error *err);

/*
 * Write `c` as a new manifest (put-if-absent under a fresh version greater
 * than base's) and record that version in transaction x, plus a commitInfo
 * entry "changelake" with the source, manifest key and file count.
 * *version (may be NULL) gets the version used.
 */
int cl_dms_consumed_record(cl_table *t, cl_table_txn *x, const cl_snapshot *base,
			   const cl_dms_consumed *c, const char *app_id,
			   const char *source, int64_t *version, cl_error *err);

/* ---- the sequence index: per-key sequences and tombstones ------------
 *
 * A change older than what the table holds for its key must be ignored
 * (merge.h), also when the key was deleted: a delete removes the row, so
 * the row cannot carry the delete's sequence, and a late or replayed file
 * older than the delete would otherwise bring the key back. The table's
 * rows stay exactly the source's columns (no hidden columns, no deleted
 * flag: Spark, DuckDB and every other reader see only live rows). The
 * sequences live beside the data, in the table's store:
 *
 *   _changelake/dms/seq-<time>-<pid>.parquet   index parts (cl_dms_seq_write;
 *                                  tables written before have text parts
 *                                  "seq-<time>-<n>.tsv", still read)
 *
 * one part per merge run, holding for each key the run changed (after
 * folding, stale changes dropped) the key columns, the --sequence-by value
 * (when configured), _cl_seq_file and _cl_seq_row of the change, and
 * _cl_dms_op: 'U' (the row exists with this sequence) or 'D' (a tombstone).
 * Full-load inserts get no entry: a row without one counts as older than
 * every change, and full load sorts before change data anyway, so only
 * change data (file key >= 0) and deletes are recorded. The parts in force
 * are named by the consumed-file manifest (dms.h, "S" lines) — the same
 * object the commit's txn version points at — so data, consumed files and
 * sequences always move together in one commit. A key's sequence is the
 * greatest over all parts; a run checks its folded changes against every
 * part (cl_merge_resolve, batch by batch: only the entries of keys the run
 * changed matter, so memory follows the run's changes, not the index) before
 * writing. When a table has more than
 * CL_DMS_SEQ_MAX_PARTS parts, the run folds them into one (greatest entry
 * per key) in the same commit. A new full load (rebuild) starts an empty
 * index: the new load is the truth, and change data after it is newer.
 */
#define CL_DMS_SEQ_OP "_cl_dms_op"
#define CL_DMS_SEQ_MAX_PARTS 16

/* The columns of an index part for a table schema: the key columns, the
 * sequence column (when not NULL), _cl_seq_file, _cl_seq_row, _cl_dms_op.
 * Owned, cl_schema_free. */
int cl_dms_seq_schema(cl_schema **out, const cl_schema *table, const char *const *keys,
		      int nkeys, const char *sequence_by, cl_error *err);
/* Write batch b (schema as above) as a new Parquet part; *key owned
 * (cl_free). */
int cl_dms_seq_write(cl_store *st, char **key, const cl_schema *schema, const cl_batch *b,
		     cl_error *err);
/* Read part `key` whole (Parquet, or a text part ".tsv"): a text part's
 * columns typed after `types` (by name; the sequence columns are fixed), a
 * Parquet part's as written (its columns must be the table's or the
 * sequence columns; `types` NULL: not checked). Both outputs owned.
 * CL_EFORMAT for a missing or
 * malformed part, naming it. */
int cl_dms_seq_read(cl_store *st, const char *key, const cl_schema *types,
		    cl_schema **schema, cl_batch **out, cl_error *err);
/* Called with each batch of a part (borrowed for the call); non-zero stops
 * the scan with that code. */
typedef int (*cl_dms_seq_fn)(void *ctx, const cl_schema *schema, const cl_batch *b,
			     cl_error *err);
/* Hand part `key` to fn batch by batch (a text part in one batch); errors
 * as cl_dms_seq_read. */
int cl_dms_seq_scan(cl_store *st, const char *key, const cl_schema *types, cl_dms_seq_fn fn,
		    void *ctx, cl_error *err);

/* ---- one merge run ------------------------------------------------------ */

typedef struct cl_dms_merge_progress {
	const char *file;      /* file being read (relative path) */
	int64_t files_done, nfiles;
	int64_t rows;          /* change records read so far */
	int64_t bytes_done;    /* bytes of the files finished */
	const char *phase;     /* "read", "write", "commit" */
} cl_dms_merge_progress;

typedef struct cl_dms_merge_options {
	const char *const *keys;     /* key columns; none: append-only */
	int nkeys;
	const char *sequence_by;     /* NULL: file order */
	const char *const *partition_by; /* new tables: "col" or "col:day" ... */
	int npartition_by;
	bool ignore_null_updates;
	const cl_schema *schema;     /* declared data schema for a new table; NULL:
					learned from the files (an existing table
					keeps its own) */
	cl_dms_read_options read;    /* .schema is set by the run */
	int buckets;                 /* new tables: key-hash buckets (0: none) */
	int64_t target_file_bytes;   /* new tables: 0 = default */
	bool deletion_vectors;       /* new tables: deletion vectors (merge-on-read:
					changed rows marked deleted instead of
					their files rewritten) */
	const char *app_id;          /* NULL: CL_DMS_APP_ID */
	const char *source_label;    /* recorded in commitInfo; NULL: the folder */
	int threads;                 /* threads of the run: from 2 on, as many
					workers read the small Parquet files
					ahead while the changes are folded
					(src/source/dms_prefetch.h) and the
					result is gathered on them; and the
					table transaction's
					(cl_table_txn_set_threads: copy-on-write
					rewrites buckets on them); <= 0:
					CL_THREADS from the environment if
					set, else 1. The result does not
					depend on it. */
	void (*progress)(void *ctx, const cl_dms_merge_progress *p);
	void *progress_ctx;
} cl_dms_merge_options;

void cl_dms_merge_options_init(cl_dms_merge_options *o);

typedef struct cl_dms_merge_result {
	cl_merge_stats merge;      /* files, rows, I/U/D, stale, keys, ... */
	cl_table_cow_stats cow;    /* files rewritten, rows copied, bytes removed */
	int64_t rows_written;      /* rows in new data files */
	int64_t files_added;
	int64_t bytes_written;
	int64_t version;           /* committed version; -1: nothing to do */
	bool created;              /* the run created the table */
	bool rebuilt;              /* a new full load replaced the contents */
	int columns_added;         /* columns new to the table */
	int nskipped;              /* names in the folder that are not DMS files */
	int nchanged;              /* consumed CDC files whose size changed (not
				      read again) */
	double seconds;
} cl_dms_merge_result;

/*
 * Merge the DMS table folder `source_dir` into the lake table at
 * `location` (created on the first run): list, plan (dms.h), read every
 * unconsumed file, fold (merge.h), drop changes not newer than the
 * table's sequence index, then ONE commit with the copy-on-write changes
 * (or, on a new full load, every old file removed and the new contents
 * written), the next consumed-file manifest and index part. Creating the
 * table (version 0) and adding columns new to it are part of that same
 * commit, so a failed run leaves the table as it was, or absent. On
 * CL_ECONFLICT (a concurrent merge of the same table, or another writer
 * creating it first) nothing of this run is visible. Errors name
 * file, row and column; *res is filled as far as the run got.
 */
int cl_dms_merge_run(cl_dms_merge_result *res, const char *source_dir, const char *location,
		     const cl_dms_merge_options *o, cl_error *err);

/* ---- sync: every table of a DMS root ----------------------------------- */

typedef struct cl_dms_sync_table {
	const char *name;                 /* "schema/table" */
	int rc;                           /* 0 ok, else the error code */
	const cl_error *err;              /* when rc != 0 */
	const cl_dms_merge_result *res;
	/* auto-compaction after the table's data commit (table.h); NULL when
	   the run committed nothing (or failed) */
	const cl_autocompact_result *auto_compaction;
} cl_dms_sync_table;

typedef struct cl_dms_sync_options {
	const char *state_path;  /* NULL: LAKE/_changelake/state.db */
	int threads;             /* threads in all; <= 0: 2. Up to that many
				    tables are merged at once, and the threads
				    are shared out among the tables merged at
				    once (threads / tables at once each, at least
				    1: a table merged alone gets them all) */
	/* Called once per processed table as it finishes (serialised; from a
	   worker thread). */
	void (*on_table)(void *ctx, const cl_dms_sync_table *t);
	void *ctx;
	/* auto-compaction after each table's data commit: 0 the table's
	   setting (cl_table_autocompact_enabled), > 0 on, < 0 off */
	int auto_compact;
} cl_dms_sync_options;

typedef struct cl_dms_sync_result {
	int tables;      /* folders found under ROOT */
	int registered;  /* new ones, registered inactive */
	int active;      /* processed */
	int ok, failed, nothing; /* outcomes of the processed ones */
} cl_dms_sync_result;

/*
 * One sync pass: discover ROOT/<schema>/<table>/, register new tables
 * (inactive) in the state database, and merge every active table into
 * LAKE/<schema>/<table> with its configuration (keys, partitioning,
 * sequence column, schema, CSV columns, timestamp column, ignore-null),
 * several at once. A table's failure is recorded in its run history and
 * does not stop the others; the function fails only when the pass itself
 * cannot run (state database, listing the root).
 */
int cl_dms_sync_run(cl_dms_sync_result *out, const char *root, const char *lake,
		    const cl_dms_sync_options *o, cl_error *err);

#ifdef __cplusplus
}
#endif
#endif
