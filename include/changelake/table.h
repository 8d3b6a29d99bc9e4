/*
 * changelake/table.h — lake tables: Parquet data files under a Delta Lake
 * transaction log (delta-io/delta PROTOCOL.md), on a cl_store.
 *
 * A table is a location (directory or object-store prefix) holding data
 * files and `_delta_log/NNNNNNNNNNNNNNNNNNNN.json` commits. Every commit is
 * published with put-if-absent, so of two writers racing for the same
 * version exactly one wins; the loser re-reads what won, and retries on top
 * of it when the two do not touch the same files, or fails with CL_ECONFLICT.
 * A reader always sees one complete version.
 *
 * Objects:
 *   cl_table      an open location (the store under it); cheap
 *   cl_snapshot   the immutable state of one version: protocol, metadata
 *                 (schema, partition columns, configuration), live files
 *                 with partition values and statistics, application
 *                 transaction watermarks (txn), and tombstones
 *   cl_table_txn  an optimistic write transaction on top of a snapshot
 *
 * What changelake reads: reader versions 1 and 2 (2 only without column
 * mapping), and 3 with the reader features timestampNtz,
 * vacuumProtocolCheck, deletionVectors (the rows a file's deletion vector
 * marks are dropped wherever data files are read: scans, lookups,
 * copy-on-write rewrites, record counts) and columnMapping (mode none).
 * Anything else — column mapping, v2 checkpoints, type widening, variant,
 * catalog-managed tables — is refused with CL_EUNSUPPORTED naming the
 * feature, never read wrong. It writes tables with reader 1 / writer 2, or
 * reader 3 / writer 7 with the timestampNtz feature when a column is a
 * timestamp without time zone and the deletionVectors feature for
 * merge-on-read tables (cl_table_create_options.deletion_vectors,
 * cl_table_enable_deletion_vectors).
 *
 * Type mapping changelake -> Delta: int8 byte, int16 short, int32 integer,
 * int64 long, bool boolean, float32 float, float64 double, decimal(p,s),
 * date, timestamp utc -> timestamp, local timestamp -> timestamp_ntz (both
 * microseconds), string, binary. Unsigned integers have no Delta type and
 * widen: uint8 -> short, uint16 -> integer, uint32 -> long, uint64 ->
 * decimal(20,0). time has no Delta type and is refused.
 */
#ifndef CHANGELAKE_TABLE_H
#define CHANGELAKE_TABLE_H

#include "batch.h"
#include "io.h"
#include "parquet.h"
#include "storage.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cl_table cl_table;
typedef struct cl_snapshot cl_snapshot;
typedef struct cl_table_txn cl_table_txn;

/* A key and a value (value NULL = SQL null). */
typedef struct cl_table_kv {
	const char *key;
	const char *value;
} cl_table_kv;

/*
 * A deletion vector descriptor (PROTOCOL.md "Deletion Vectors"): the rows
 * of a data file that are deleted, stored
 *   'u'  in a file beside the data: path_or_inline is an optional random
 *        prefix followed by the 20-character Z85 encoding of a UUID; the
 *        file is <prefix>/deletion_vector_<uuid>.bin under the table root,
 *        the vector at `offset` in it;
 *   'p'  in a file named by an absolute path URI (path_or_inline), at
 *        `offset`;
 *   'i'  inline: path_or_inline is the Z85 text of the serialized bitmap.
 * size_in_bytes is the serialized bitmap's size, cardinality the number of
 * deleted rows. Strings borrowed (from the snapshot, or the caller's).
 */
typedef struct cl_table_dv {
	char storage_type;          /* 'u', 'p' or 'i' */
	const char *path_or_inline;
	int64_t offset;             /* -1 when absent ('i') */
	int32_t size_in_bytes;
	int64_t cardinality;
} cl_table_dv;

/* One live data file of a snapshot; everything borrowed from the snapshot. */
typedef struct cl_table_file {
	const char *path;       /* object key relative to the table root (decoded) */
	int64_t size;           /* bytes */
	int64_t mtime_ms;       /* modificationTime */
	int npartition;         /* partition values, in partition-column order */
	const cl_table_kv *partition;
	const char *stats_json; /* Delta statistics JSON text, or NULL */
	int64_t num_records;    /* stats numRecords, or -1 when unknown */
	bool has_dv;            /* carries a deletion vector (dv != NULL) */
	const cl_table_dv *dv;  /* its deletion vector, or NULL; num_records
				   counts the rows physically in the file,
				   dv->cardinality of them are deleted */
} cl_table_file;

/* Which version to open. */
typedef enum cl_table_at_kind {
	CL_AT_LATEST = 0,
	CL_AT_VERSION,
	CL_AT_TIMESTAMP
} cl_table_at_kind;

typedef struct cl_table_at {
	cl_table_at_kind kind;
	int64_t version;      /* CL_AT_VERSION */
	int64_t timestamp_ms; /* CL_AT_TIMESTAMP: the latest version committed
				 at or before this instant */
} cl_table_at;

/*
 * Split "LOCATION[@VERSION|@TIMESTAMP]" into *location (owned, cl_free) and
 * *at. A suffix of digits is a version; otherwise a timestamp
 * "YYYY-MM-DD[ HH:MM:SS[.fff]][Z|+HH:MM]" (UTC unless an offset is given).
 * A trailing '@' part that is neither stays part of the location.
 */
int cl_table_ref_parse(char **location, cl_table_at *at, const char *ref,
		       cl_error *err);

/* Open the table at `location` (see cl_store_open). The table need not exist
 * yet. Owned by the caller, freed with cl_table_free. */
int cl_table_open(cl_table **out, const char *location, cl_error *err);
/* Same over an existing store; the table takes ownership of `store`. */
int cl_table_open_store(cl_table **out, cl_store *store, cl_error *err);
void cl_table_free(cl_table *t);
/* The store under the table (borrowed). */
cl_store *cl_table_store(cl_table *t);

/* Latest committed version, or -1 when the table has no log yet. */
int cl_table_latest_version(cl_table *t, int64_t *version, cl_error *err);

/*
 * The snapshot at `at` (NULL: latest). CL_ENOTFOUND when the table or the
 * version does not exist, CL_EUNSUPPORTED for features changelake cannot
 * read (the message names the feature), CL_EFORMAT for a corrupt log (the
 * message names the log file and line). Owned by the caller.
 */
int cl_table_snapshot(cl_snapshot **out, cl_table *t, const cl_table_at *at,
		      cl_error *err);
void cl_snapshot_free(cl_snapshot *s);

int64_t cl_snapshot_version(const cl_snapshot *s);
/* Commit time of the version (milliseconds since the epoch). */
int64_t cl_snapshot_timestamp(const cl_snapshot *s);
/* The table schema (borrowed). */
const cl_schema *cl_snapshot_schema(const cl_snapshot *s);
/* The Delta schemaString as stored in the log (borrowed). */
const char *cl_snapshot_schema_string(const cl_snapshot *s);
const char *cl_snapshot_table_id(const cl_snapshot *s);
int cl_snapshot_npartition_columns(const cl_snapshot *s);
const char *cl_snapshot_partition_column(const cl_snapshot *s, int i);
/* Table configuration value for key, or NULL. */
const char *cl_snapshot_config(const cl_snapshot *s, const char *key);
int cl_snapshot_nconfig(const cl_snapshot *s);
cl_table_kv cl_snapshot_config_at(const cl_snapshot *s, int i);
void cl_snapshot_protocol(const cl_snapshot *s, int *min_reader, int *min_writer);
/* Live files, sorted by path. */
size_t cl_snapshot_nfiles(const cl_snapshot *s);
const cl_table_file *cl_snapshot_file(const cl_snapshot *s, size_t i);
/* Latest txn version recorded for appId, or -1 when none. */
int64_t cl_snapshot_txn_version(const cl_snapshot *s, const char *app_id);
/* Total rows over the live files, minus the rows their deletion vectors
 * delete (-1 when a file has no numRecords). */
int64_t cl_snapshot_num_records(const cl_snapshot *s);

/*
 * Write a classic Parquet checkpoint of snapshot s (borrowed, a snapshot of
 * t): _delta_log/<version>.checkpoint.parquet with the protocol, metaData,
 * txn, live files and unexpired remove tombstones (PROTOCOL.md V1 spec),
 * then _delta_log/_last_checkpoint. The file appears at once, complete
 * (staged, then published). Snapshots start from the latest checkpoint.
 * Commits write one by themselves every delta.checkpointInterval versions
 * (default 10; the interval of the snapshot the commit was built on).
 */
int cl_table_checkpoint(cl_table *t, const cl_snapshot *s, cl_error *err);

/*
 * The checkpoint attempted after the latest commit made through t:
 * *version is its version, or -1 when none was due. Returns 0, or the code
 * of the failed checkpoint write with its message in *err — the commit
 * itself stands either way (readers replay the commits instead).
 */
int cl_table_checkpoint_status(const cl_table *t, int64_t *version, cl_error *err);

/*
 * The same question asked of the log, for a commit made through another
 * cl_table (a library call that opens its own, such as cl_dms_merge_run):
 * 0 when no checkpoint was due at `version` (a positive multiple of
 * delta.checkpointInterval) or it is there; CL_ENOTFOUND naming the
 * version when it is missing.
 */
int cl_table_checkpoint_check(cl_table *t, int64_t version, cl_error *err);

/* One entry of the table history. */
typedef struct cl_table_commit {
	int64_t version;
	int64_t timestamp_ms;     /* commit time used for time travel */
	char *operation;          /* commitInfo.operation, or NULL */
	char *commit_info_json;   /* the whole commitInfo object, or NULL */
	int64_t nadd, nremove;    /* file actions in the commit */
} cl_table_commit;

/*
 * Every commit still in the log, oldest first (*out owned: release with
 * cl_table_history_free).
 */
int cl_table_history(cl_table_commit **out, size_t *n, cl_table *t, cl_error *err);
void cl_table_history_free(cl_table_commit *h, size_t n);

/* ------------------------------------------------------------------ */
/* Creating a table. */

typedef struct cl_table_create_options {
	/* Partition columns: "col" or "col:year|month|day|hour" (a transform
	 * of a date/timestamp column, stored as an extra column named
	 * col_year, col_month, col_day or col_hour). Borrowed. */
	const char *const *partition_by;
	int npartition_by;
	/* Key columns, used for bucketing and copy-on-write. Borrowed. */
	const char *const *keys;
	int nkeys;
	int buckets;                /* key-hash buckets per partition; 0 or 1: none */
	int64_t target_file_bytes;  /* default 128 MiB */
	const char *name;           /* optional */
	const char *description;    /* optional */
	const cl_table_kv *config;  /* extra configuration, borrowed */
	int nconfig;
	/* Merge-on-read: the table gets the Delta feature deletionVectors
	 * (reader 3 / writer 7, delta.enableDeletionVectors=true), and
	 * upserts and deletes mark the old rows deleted in a deletion vector
	 * instead of rewriting their files. */
	bool deletion_vectors;
} cl_table_create_options;

void cl_table_create_options_init(cl_table_create_options *o);

/*
 * Commit version 0 with the protocol and metadata for `schema` (the data
 * columns; transformed partition columns are appended). CL_ECONFLICT when
 * the table already exists. *version may be NULL.
 */
int cl_table_create(cl_table *t, const cl_schema *schema,
		    const cl_table_create_options *opts, cl_error *err);

/*
 * Begin a transaction that creates the table: its commit is version 0 and
 * carries the protocol and metadata (as cl_table_create writes them)
 * together with whatever the transaction adds (as Spark's CREATE TABLE AS
 * SELECT), so a run that fails before the commit leaves no table at all
 * (the files it staged are unreferenced, for vacuum). Writers
 * (cl_table_writer_open, cl_table_cow) lay out rows by the pending
 * metadata (cl_table_txn_snapshot). The commit fails with CL_ECONFLICT,
 * keeping nothing, when the table exists by then (another run created it
 * first: put-if-absent of version 0 lets exactly one win). operation
 * names the commit in the history (NULL: "CREATE TABLE").
 */
int cl_table_txn_begin_create(cl_table_txn **out, cl_table *t, const cl_schema *schema,
			      const cl_table_create_options *opts, const char *operation,
			      cl_error *err);

/*
 * Turn merge-on-read on for an existing table: one commit (operation
 * "SET TBLPROPERTIES") upgrading the protocol to reader 3 / writer 7 with
 * the feature deletionVectors (features the table had are kept) and
 * setting delta.enableDeletionVectors=true. A table that already has both
 * commits nothing (*version = -1; may be NULL).
 */
int cl_table_enable_deletion_vectors(cl_table *t, int64_t *version, cl_error *err);

/* Configuration keys changelake keeps in the table's metaData. */
#define CL_TABLE_CONF_KEYS "changelake.keys"
#define CL_TABLE_CONF_BUCKETS "changelake.buckets"
#define CL_TABLE_CONF_TARGET_SIZE "changelake.targetFileSize"
#define CL_TABLE_CONF_TRANSFORMS "changelake.partitionTransforms"

/* ------------------------------------------------------------------ */
/* Write transactions. */

/*
 * Begin a transaction on top of `base` (borrowed; must outlive the txn).
 * `operation` names it in commitInfo ("WRITE", "MERGE", "DELETE",
 * "OPTIMIZE", ...). Owned, cl_table_txn_free.
 */
int cl_table_txn_begin(cl_table_txn **out, cl_table *t, const cl_snapshot *base,
		       const char *operation, cl_error *err);
void cl_table_txn_free(cl_table_txn *x);

/*
 * Threads the transaction's writes may use (copy-on-write rewrites buckets
 * on up to n threads, cl_table_cow). n <= 0: the default, CL_THREADS=N
 * from the environment if set (tests), else 1. The commit is the same
 * whatever the count.
 */
void cl_table_txn_set_threads(cl_table_txn *x, int n);
/* The thread count in effect: the one set, else CL_THREADS, else 1. */
int cl_table_txn_threads(const cl_table_txn *x);

/* A file to add: everything copied. */
typedef struct cl_table_add {
	const char *path;        /* object key relative to the table root */
	int64_t size;
	int64_t mtime_ms;
	const cl_table_kv *partition; /* one per partition column */
	int npartition;
	const char *stats_json;  /* may be NULL */
	bool data_change;        /* false for compaction */
	const cl_table_dv *dv;   /* deletion vector of the file, or NULL (copied) */
} cl_table_add;

int cl_table_txn_add(cl_table_txn *x, const cl_table_add *f, cl_error *err);
/* Remove a live file of the base snapshot (copied). */
int cl_table_txn_remove(cl_table_txn *x, const cl_table_file *f, bool data_change,
			cl_error *err);
/*
 * Declare that the transaction's result depends on the files in `scope`
 * (a partition directory plus bucket, see cl__layout_scope): a concurrent
 * commit that adds a file in that scope is a conflict.
 */
int cl_table_txn_read_scope(cl_table_txn *x, const char *scope, cl_error *err);
/* Declare that the whole table was read (any concurrent add conflicts). */
void cl_table_txn_read_all(cl_table_txn *x);
/* Record an application watermark (txn action: appId -> version). */
int cl_table_txn_set_app_version(cl_table_txn *x, const char *app_id,
				 int64_t version, cl_error *err);
/* Put `raw_json` (a JSON value, validated) into commitInfo under key. */
int cl_table_txn_set_commit_info(cl_table_txn *x, const char *key,
				 const char *raw_json, cl_error *err);
/* An operationMetrics entry (written as a string, as Spark does). */
int cl_table_txn_set_metric(cl_table_txn *x, const char *key, int64_t value,
			    cl_error *err);
/* An operationParameters entry. */
int cl_table_txn_set_param(cl_table_txn *x, const char *key, const char *value,
			   cl_error *err);

/*
 * Commit: publish version base+1 with put-if-absent; on losing the race,
 * read the winning commits and retry on top of them unless they conflict
 * (metadata or protocol changed, a file this txn removes was removed, a
 * file was added in a scope this txn read, or the same application id was
 * recorded), which is CL_ECONFLICT naming the winning version and the
 * reason. *version gets the committed version (may be NULL).
 */
int cl_table_txn_commit(cl_table_txn *x, int64_t *version, cl_error *err);

/* ------------------------------------------------------------------ */
/* Rows. */

typedef struct cl_table_writer cl_table_writer;

/*
 * Write rows as new data files of transaction x: rows go to their
 * partition folders (transforms applied) and key-hash buckets, files roll
 * at the table's target size, each file gets Delta statistics. Batches have
 * schema `input` (borrowed): the table's columns by name, a missing
 * nullable column written as NULL, values converted to the table's types
 * (an out-of-range value is CL_ETYPE naming row and column).
 * cl_table_writer_finish completes the files and adds them to x; nothing
 * is visible before x commits. Owned, cl_table_writer_free.
 */
int cl_table_writer_open(cl_table_writer **out, cl_table_txn *x, const cl_schema *input,
			 cl_error *err);
int cl_table_writer_write(cl_table_writer *w, const cl_batch *b, cl_error *err);
int cl_table_writer_finish(cl_table_writer *w, cl_error *err);
void cl_table_writer_free(cl_table_writer *w);

typedef struct cl_table_scan cl_table_scan;

typedef struct cl_table_scan_options {
	/* A conjunction of predicates (values typed text, as --schema spells
	 * them). Files whose partition values or statistics prove no row
	 * matches are skipped, and row groups inside files likewise; rows of
	 * files that are read are NOT filtered (the caller filters). */
	const cl_parquet_predicate *filters;
	int nfilters;
	/* Read only these files (paths of live files); NULL: all. */
	const char *const *only_files;
	size_t nonly_files;
	int64_t batch_rows; /* default 65536 */
	/* Projection: only these table columns (data or partition), in this
	 * order, are read and returned; NULL: every column. An unknown name
	 * is CL_ENOTFOUND. Borrowed for cl_table_scan_open. */
	const char *const *columns;
	int ncolumns;
} cl_table_scan_options;

/*
 * Read the rows of snapshot s (borrowed; outlives the scan) with the table
 * schema: data columns converted to the table's types (columns a file lacks
 * read as NULL), partition columns filled in from the log. Owned,
 * cl_table_scan_free.
 */
int cl_table_scan_open(cl_table_scan **out, cl_table *t, const cl_snapshot *s,
		       const cl_table_scan_options *o, cl_error *err);
/* Next batch (borrowed until the next call) or *out = NULL at the end. */
int cl_table_scan_next(cl_table_scan *sc, cl_batch **out, cl_error *err);
/* The schema of the batches: the table schema, or its projection
 * (borrowed, valid until cl_table_scan_free). */
const cl_schema *cl_table_scan_schema(const cl_table_scan *sc);
/* The live file the last batch came from (borrowed from the snapshot;
 * NULL before the first batch) and the 1-based row, in that file, of the
 * batch's first row. A batch is always physically consecutive rows of one
 * file (the scan cuts batches where rows deleted by a deletion vector, or
 * skipped row groups, interrupt them), so row r of the batch is row
 * first_row + r of the file. */
const cl_table_file *cl_table_scan_file(const cl_table_scan *sc, int64_t *first_row);
/* Files read and skipped so far. */
void cl_table_scan_counts(const cl_table_scan *sc, int64_t *files_read,
			  int64_t *files_skipped);
void cl_table_scan_free(cl_table_scan *sc);

/*
 * A lake table read as a cl_reader (io.h): `ref` is "LOCATION",
 * "LOCATION@VERSION" or "LOCATION@TIMESTAMP" (cl_table_ref_parse). The
 * rows are those of the snapshot's live files only (cl_table_scan), with
 * the table schema, or only the columns o->columns names, in that order
 * (an unknown name is CL_ENOTFOUND). o->batch_rows applies; the other
 * read options (CSV, declared schema) are for files and are ignored.
 * cl_reader_total_rows is the snapshot's row count when every file
 * records it. Owned by the caller, cl_reader_free.
 */
int cl_table_reader_open(cl_reader **out, const char *ref, const cl_read_options *o,
			 cl_error *err);
/* The snapshot of a table reader (borrowed, valid until cl_reader_free);
 * NULL when r is not a table reader. */
const cl_snapshot *cl_table_reader_snapshot(const cl_reader *r);
/* Where the last batch of a table reader came from: "LOCATION/FILE"
 * (borrowed until the next call) and the 1-based row of its first row in
 * that file; NULL when r is not a table reader. */
const char *cl_table_reader_source(const cl_reader *r, int64_t *first_row);
/* Whether `ref` (a local path, optionally @VERSION or @TIMESTAMP) names a
 * lake table: a directory with a _delta_log folder. */
bool cl_table_is_table(const char *ref);

/* ------------------------------------------------------------------ */
/* Copy-on-write changes by key. */

typedef struct cl_table_cow_stats {
	int64_t files_candidates; /* live files whose bucket and key range may hold a changed key */
	int64_t files_rewritten;  /* held a changed key: removed, survivors rewritten */
	int64_t files_added;
	int64_t rows_copied;      /* unchanged rows carried into new files */
	int64_t rows_upserted;
	int64_t rows_deleted;     /* existing rows removed by a delete */
	int64_t deletes_missing;  /* deletes whose key was not in the table */
	int64_t bytes_removed;    /* size of the rewritten files */
	/* merge-on-read (delta.enableDeletionVectors=true): files that keep
	 * their rows but got a new or larger deletion vector instead of a
	 * rewrite (not counted in files_rewritten / bytes_removed), and the
	 * size of the one deletion vector file the commit wrote */
	int64_t files_dv;
	int64_t dv_bytes;
} cl_table_cow_stats;

/*
 * Apply upserts (rows: every key column plus any table columns, values
 * converted to the table's types) and deletes (rows: the key columns) to
 * transaction x's base, by the table's key columns (changelake.keys; keys
 * match null-safely). The live files that may hold a changed key — same
 * key-hash bucket, key statistics range containing the key — are read;
 * those that do hold one are removed and their other rows rewritten, with
 * the upserted rows, into new files; every other file stays untouched. The
 * scopes read are recorded for conflict detection. A key given twice
 * (upserts and deletes together) is CL_EDUPKEY. The caller commits x.
 *
 * Merge-on-read: on a table with delta.enableDeletionVectors=true (and the
 * writer feature deletionVectors) a candidate is read for its key columns
 * only, and a file holding changed keys is not rewritten: it is removed
 * with its old deletion vector and added again (same path, size and
 * partition values, statistics with tightBounds false) with a vector that
 * also deletes the changed rows; a file whose rows would all be deleted is
 * removed. The new vectors of one call go into one deletion vector file,
 * published (durably) before this returns; if x is never committed the
 * file is an orphan that vacuum deletes. Only the upserted rows are
 * written. The result, row for row, is that of copy-on-write.
 */
int cl_table_cow(cl_table_txn *x, const cl_schema *upsert_schema,
		 const cl_batch *const *upserts, int nupserts,
		 const cl_schema *delete_schema, const cl_batch *const *deletes,
		 int ndeletes, cl_table_cow_stats *stats, cl_error *err);

/*
 * Read the rows that may hold one of the keys in `keys` (batches with
 * schema key_schema, which has every key column of the table): the live
 * files of snapshot s whose key-hash bucket and key statistics may hold
 * one are read whole, and each batch of their rows (table schema, not
 * filtered by key) goes to fn. A file that holds none of the keys may be
 * passed too; a file that holds one always is. fn returns 0 or an error
 * code, which stops the lookup. For a merge that must see each changed
 * key's current row before deciding (merge.h).
 */
typedef int (*cl_table_rows_fn)(void *ctx, const cl_schema *schema, const cl_batch *rows,
				cl_error *err);
int cl_table_lookup(cl_table *t, const cl_snapshot *s, const cl_schema *key_schema,
		    const cl_batch *const *keys, int nkeys, cl_table_rows_fn fn, void *ctx,
		    cl_error *err);

/*
 * Add columns to the table in transaction x: `schema` is the base
 * snapshot's schema with nullable columns appended (rows written before
 * read them as NULL). Writes a metaData action (same id, partitioning and
 * configuration). Only before any row of x is written. Concurrent
 * commits conflict with it as with any commit (table_txn.c), and also
 * when one of them changed the table's metadata or protocol.
 */
int cl_table_txn_set_schema(cl_table_txn *x, const cl_schema *schema, cl_error *err);

/*
 * The snapshot transaction x writes by: its base, or, once x sets
 * metadata (a new table, added columns), the pending snapshot of the base
 * with that metadata (the base's files; the new schema, partitioning and
 * configuration; version -1 for a table x creates). Owned by x, valid
 * until x sets metadata again or is freed; NULL for a transaction with
 * neither.
 */
const cl_snapshot *cl_table_txn_snapshot(const cl_table_txn *x);

/*
 * Apply normalised changes — batches whose first column is an int8 action
 * ('I' or 'C': upsert the row, 'D': delete by key) followed by the table's
 * columns, as cl_changes_map (apply.h) produces them — to table t in one
 * commit (operation names it in the history). On a concurrent conflicting
 * commit the whole change is redone on the new version, up to 5 times.
 * When app_id is not NULL the commit records app_version for it (txn
 * action), and a table that already holds app_version or later for app_id
 * is left alone (*version = -1): the way to make a rerun exactly-once.
 */
int cl_table_apply_changes(cl_table *t, const cl_schema *schema,
			   const cl_batch *const *batches, int nbatches, const char *operation,
			   const char *app_id, int64_t app_version, cl_table_cow_stats *stats,
			   int64_t *version, cl_error *err);

/*
 * The same, streamed: batches are copied as they come (a change set larger
 * than one batch, such as cl_changes_map's borrowed output), then committed
 * at once. Owned, cl_table_changes_free (which commits nothing).
 */
typedef struct cl_table_changes cl_table_changes;
int cl_table_changes_open(cl_table_changes **out, cl_table *t, const cl_schema *schema,
			  cl_error *err);
int cl_table_changes_add(cl_table_changes *c, const cl_batch *b, cl_error *err);
/* Threads the commit's rewrite may use (cl_table_txn_set_threads: buckets
 * rewritten n at a time); n <= 0: the transaction's default. The table is the same whatever n. */
void cl_table_changes_set_threads(cl_table_changes *c, int n);
int cl_table_changes_commit(cl_table_changes *c, const char *operation, const char *app_id,
			    int64_t app_version, cl_table_cow_stats *stats, int64_t *version,
			    cl_error *err);
void cl_table_changes_free(cl_table_changes *c);

/*
 * The columns a writer provides for snapshot s: the table schema without
 * the columns derived by partition transforms (those are computed from
 * their source column). Owned by the caller, cl_schema_free.
 */
int cl_snapshot_write_schema(cl_schema **out, const cl_snapshot *s, cl_error *err);

/* ------------------------------------------------------------------ */
/* Maintenance. */

typedef struct cl_vacuum_result {
	int64_t files_deleted;
	int64_t bytes_deleted;
	int64_t files_kept;  /* unreferenced but younger than the retention */
} cl_vacuum_result;

/*
 * Delete data files no version within `retain_ms` refers to: a file is
 * deleted only when it is not live in the latest version, no remove of it
 * is younger than the retention, and the object itself is older than the
 * retention (so a writer's in-flight files are never taken). Staging
 * leftovers of crashed writers count as such files. The log itself
 * (_delta_log) is never touched. dry_run lists without deleting; `deleted`
 * (may be NULL) receives the deleted keys.
 */
int cl_table_vacuum(cl_table *t, int64_t retain_ms, bool dry_run,
		    cl_vacuum_result *res, cl_store_list *deleted, cl_error *err);

typedef struct cl_compact_result {
	int64_t groups;         /* partition folder + bucket groups compacted */
	int64_t files_removed;
	int64_t files_added;
	int64_t bytes_removed;
	int64_t bytes_added;
	int64_t files_purged;   /* files rewritten without their deleted rows */
	int64_t rows_purged;    /* deleted rows (deletion vectors) dropped */
} cl_compact_result;

typedef struct cl_compact_options {
	int64_t small_bytes;    /* 0: a quarter of the target file size */
	/* Files with a deletion vector are rewritten without the deleted
	 * rows: all of them with purge, else those whose deleted fraction is
	 * above purge_fraction (0: 0.1). */
	bool purge;
	double purge_fraction;
	/* A partition folder + bucket scope is rewritten when it holds at
	 * least min_small_files small files (0: 2) or a file to purge. */
	int min_small_files;
	/* The commit is an automatic compaction: operationParameters carry
	 * "auto": "true" (as Databricks' auto compaction does). */
	bool auto_compaction;
} cl_compact_options;

/*
 * Rewrite the small files of each partition folder and bucket (files under
 * `small_bytes`; 0: a quarter of the table's target file size) into as few
 * files as the target size allows, in one commit (operation OPTIMIZE,
 * dataChange false: readers of the change feed see no change). A group
 * with fewer than two small files is left alone. A file with a deletion
 * vector deleting more than 10% of its rows is rewritten without them
 * (purged), even alone in its group. Nothing to do commits nothing
 * (*version = -1). Concurrent commits that rewrite the same files
 * conflict; concurrent appends do not.
 */
int cl_table_compact(cl_table *t, int64_t small_bytes, cl_compact_result *res,
		     int64_t *version, cl_error *err);
/*
 * The same with options: files whose deletion vector deletes more than
 * purge_fraction of their rows (every file with one, with purge) are
 * rewritten too, alone or with their group's small files, so that after
 * `purge` no live file has a deletion vector.
 */
int cl_table_compact_opts(cl_table *t, const cl_compact_options *o, cl_compact_result *res,
			  int64_t *version, cl_error *err);

/*
 * The scopes ("DIR/#BUCKET", as cl__layout_scope names them) that
 * cl_table_compact_opts with o would rewrite in snapshot s, sorted: those
 * with at least o->min_small_files small files or a file to purge. *out
 * owned: cl_free each string and the array.
 */
int cl_table_compact_scopes(const cl_snapshot *s, const cl_compact_options *o, char ***out,
			    size_t *nout, cl_error *err);

/* ------------------------------------------------------------------ */
/* Auto-compaction (Databricks' delta.autoOptimize.autoCompact). */

/* Table property: "true" or "false" (any case); absent or another value:
 * on for merge-on-read tables (deletion vectors), off otherwise. */
#define CL_TABLE_CONF_AUTO_COMPACT "delta.autoOptimize.autoCompact"
/* A scope is compacted once it holds this many small files (under a
 * quarter of the target file size) ... */
#define CL_AUTOCOMPACT_MIN_SMALL_FILES 8
/* ... or a file whose deletion vector deletes more than this fraction of
 * its rows (that file is purged). */
#define CL_AUTOCOMPACT_DV_FRACTION 0.1

typedef struct cl_autocompact_result {
	bool enabled;               /* the table's setting or the override said on */
	int64_t version;            /* the compaction commit, -1 when none */
	const char *skipped;        /* NULL when compacted, else why not (static):
				       "off for this table", "turned off for this
				       run", "nothing to compact", "conflict",
				       "error" */
	char message[CL_ERROR_MSG_MAX]; /* conflict or error text */
	cl_compact_result compact;  /* what was rewritten */
} cl_autocompact_result;

/* Whether auto-compaction is on for snapshot s by its properties. */
bool cl_table_autocompact_enabled(const cl_snapshot *s);

/*
 * Auto-compaction after a data commit: on the latest version of t, when
 * mode > 0, or mode == 0 and the table's setting is on
 * (cl_table_autocompact_enabled; mode < 0: never), compact the scopes
 * holding CL_AUTOCOMPACT_MIN_SMALL_FILES small files or a file whose
 * deletion vector deletes more than CL_AUTOCOMPACT_DV_FRACTION of its rows
 * (purged), in one commit of its own (OPTIMIZE, dataChange false,
 * operationParameters auto=true). A concurrent commit that conflicts is
 * no failure: returns 0 with skipped "conflict" (the table is as the data
 * commit left it). Other failures return the error code, also in err (may
 * be NULL) and res->message, with skipped "error"; the caller's data
 * commit stands either way.
 */
int cl_table_autocompact(cl_table *t, int mode, cl_autocompact_result *res, cl_error *err);

/*
 * Set (value not NULL) or remove (NULL) one table property in one commit
 * (operation "SET TBLPROPERTIES" / "UNSET TBLPROPERTIES"; the
 * configuration otherwise kept). A table where it already is so commits
 * nothing (*version = -1; may be NULL). Properties that need a protocol
 * change or define the layout (changelake.*, delta.feature.*,
 * delta.enableDeletionVectors, delta.columnMapping.mode,
 * delta.min*Version) are CL_EUNSUPPORTED.
 */
int cl_table_set_property(cl_table *t, const char *key, const char *value, int64_t *version,
			  cl_error *err);

#ifdef __cplusplus
}
#endif
#endif
