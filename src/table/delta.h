/*
 * delta.h — the Delta Lake log inside the table layer (internal).
 *
 * Pieces:
 *   delta_log.c     the JSON of actions: writing commits, path URI
 *                   encoding, Delta schema JSON <-> cl_schema
 *   delta_replay.c  listing _delta_log, choosing what to replay for a
 *                   version, replaying commits into a snapshot, the protocol
 *                   checks, commit timestamps for time travel
 *   delta_checkpoint.c        Parquet checkpoints back into actions
 *   delta_checkpoint_write.c  writing checkpoints and _last_checkpoint,
 *                   every delta.checkpointInterval commits
 *   table.c         the public cl_table / cl_snapshot API
 *   table_txn.c     write transactions, optimistic commit and conflicts
 *
 * The snapshot owns all its strings in one arena (freed at once).
 */
#ifndef CL_TABLE_DELTA_H
#define CL_TABLE_DELTA_H

#include "changelake/table.h"
#include "core/buf.h"
#include "core/json.h"

#define CL_DELTA_LOG_DIR "_delta_log/"

/* A chunked string arena: allocations live until cl__arena_release. */
typedef struct cl__arena {
	struct cl__arena_chunk *head;
} cl__arena;
void *cl__arena_alloc(cl__arena *a, size_t n);
char *cl__arena_strndup(cl__arena *a, const char *s, size_t n);
char *cl__arena_strdup(cl__arena *a, const char *s);
void cl__arena_release(cl__arena *a);

/* Open-addressing map from string to index (borrowed keys). */
typedef struct cl__strmap {
	const char **keys;
	int64_t *vals;
	size_t cap, n;
} cl__strmap;
/* Index stored for key, or -1. */
int64_t cl__strmap_get(const cl__strmap *m, const char *key);
/* Insert or replace; CL_ENOMEM. */
int cl__strmap_put(cl__strmap *m, const char *key, int64_t val);
/* Remove key if present. */
void cl__strmap_del(cl__strmap *m, const char *key);
void cl__strmap_release(cl__strmap *m);

typedef struct cl__tombstone {
	const char *path;
	int64_t deletion_ts;
	const cl_table_dv *dv; /* the deletion vector the removed file had, or NULL */
} cl__tombstone;

typedef struct cl__app_txn {
	const char *app_id;
	int64_t version;
	int64_t last_updated;
} cl__app_txn;

struct cl_snapshot {
	cl__arena arena;
	int64_t version;
	int64_t timestamp_ms;
	/* protocol */
	int min_reader, min_writer;
	const char **reader_features, **writer_features;
	int nreader_features, nwriter_features;
	/* metadata */
	const char *id, *name, *description, *schema_string, *provider;
	int64_t created_time;
	const char **partition_cols;
	int npartition_cols;
	cl_table_kv *config;
	int nconfig;
	cl_schema *schema; /* owned; NULL when schema_error says why */
	const char *schema_error;
	/* live files, sorted by path after replay */
	cl_table_file *files;
	size_t nfiles, files_cap;
	cl__strmap file_index; /* logical file identity (path, or path "\n" DV
				  uniqueId) -> index in files (during replay) */
	cl__tombstone *tombstones;
	size_t ntombstones, tombstones_cap;
	cl__app_txn *txns;
	size_t ntxns, txns_cap;
	bool have_protocol, have_metadata;
	cl__json_parser *stats_parser; /* during replay: numRecords of adds */
	/* a pending snapshot (cl__snapshot_pending): files, tombstones and
	 * txns are the base's, borrowed, never freed here */
	bool borrowed;
};

/*
 * A pending snapshot: what base (NULL: a table not created yet, version
 * -1) becomes with the protocol/metaData lines `meta` (nothing else) of a
 * transaction not yet committed. Its files are base's (borrowed: base
 * must outlive it); its schema, partitioning and configuration are the
 * new metadata's. Writers lay out rows by it before the commit exists.
 */
int cl__snapshot_pending(cl_snapshot **out, const cl_snapshot *base, const char *meta,
			 size_t n, cl_error *err);

/* Log file naming. */
void cl__delta_commit_key(char *buf, size_t n, int64_t version);

/* One parsed entry of a _delta_log listing. */
typedef enum { CL__LOG_COMMIT, CL__LOG_CHECKPOINT, CL__LOG_CHECKPOINT_PART,
	       CL__LOG_CHECKPOINT_V2, CL__LOG_OTHER } cl__log_kind;
/* Classify a key under _delta_log/: version, and for multi-part
 * checkpoints the part and number of parts. */
cl__log_kind cl__delta_log_classify(const char *key, int64_t *version, int *part,
				    int *nparts);

/* The commits of a log listing: versions with their files' mtimes. */
typedef struct cl__log_listing {
	cl_store_list objects;   /* owned */
	int64_t *versions;       /* commit versions, ascending */
	int64_t *mtimes;         /* commit timestamps (monotonic-adjusted) */
	size_t ncommits;
	int64_t *checkpoints;    /* versions with a complete classic/multi-part checkpoint */
	int *checkpoint_parts;   /* their number of parts (0: classic), same order */
	size_t ncheckpoints;
	bool has_v2_checkpoint;
} cl__log_listing;
int cl__delta_list_log(cl__log_listing *out, cl_store *s, cl_error *err);
/* The same for the keys of _delta_log after `start_after` (NULL: all). */
int cl__delta_list_log_after(cl__log_listing *out, cl_store *s, const char *start_after,
			     cl_error *err);
void cl__delta_listing_release(cl__log_listing *l);

/* Replay commits [from, to] (all present) into a fresh snapshot. */
int cl__delta_replay(cl_snapshot **out, cl_store *s, const cl__log_listing *l,
		     int64_t version, cl_error *err);
/* Apply the actions of one commit's text to snapshot s (replay step). */
int cl__delta_apply_commit(cl_snapshot *s, cl_store *st, cl__json_parser *p,
			   const char *key, const char *text, size_t n, cl_error *err);
/* Replay the classic (nparts 0) or multi-part checkpoint of `version`. */
int cl__delta_read_checkpoint(cl_snapshot *s, cl_store *st, int64_t version, int nparts,
			      cl_error *err);
/* Version in _delta_log/_last_checkpoint, or -1 when absent or unreadable. */
int cl__delta_last_checkpoint(cl_store *st, int64_t *version);
/* After committing `version` (base: the snapshot it was built on, may be
 * NULL): write the checkpoint when one is due; the outcome goes to the
 * table's checkpoint status, never to the commit. */
void cl__delta_checkpoint_after_commit(cl_table *t, const cl_snapshot *base, int64_t version);
/* Record the outcome of the checkpoint after a commit (table.c); version -1:
 * none was due. */
void cl__table_set_checkpoint_status(cl_table *t, int64_t version, int rc, const cl_error *e);
/* Reader-side protocol checks (features) on a finished snapshot. */
int cl__delta_check_readable(const cl_snapshot *s, cl_error *err);
/* Writer-side checks: can changelake write this table? */
int cl__delta_check_writable(const cl_snapshot *s, cl_error *err);

/* Path <-> URI (RFC 2396 percent-encoding of a relative key). */
int cl__delta_path_encode(cl_buf *out, const char *key);
/* Decode a log path into a store key (percent-decoding; file: URIs under
 * the store root become relative). *key owned (cl_free). */
int cl__delta_path_decode(char **key, cl_store *s, const char *path, size_t n,
			  cl_error *err);

/* Delta schema JSON. needs_ntz: set when a timestamp_ntz column is used. */
int cl__delta_schema_to_json(cl_buf *out, const cl_schema *schema, bool *needs_ntz,
			     cl_error *err);
int cl__delta_schema_from_json(cl_schema **out, const char *text, size_t n,
			       cl_error *err);
/* The Delta type a changelake type is stored as (widening unsigned). */
int cl__delta_table_type(cl_type *out, cl_type t, const char *column, cl_error *err);

/* JSON number text -> int64 (integral, in range). */
bool cl__json_int64(const cl_json *v, int64_t *out);

/* A random version-4 UUID, 36 characters plus NUL. */
void cl__uuid4(char out[37]);

/* Milliseconds since the epoch, now. */
int64_t cl__now_ms(void);

#endif
