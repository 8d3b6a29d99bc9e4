/*
 * changelake/diff.h — the difference between two snapshots of a table.
 *
 * cl_diff compares an OLD (left) and a NEW (right) snapshot by key and
 * produces a change set in the shape of G-Research spark-extension's diff,
 * so existing consumers of those change sets keep working:
 *
 *   diff        I (insert), C (change), D (delete), N (no change)
 *   [changes]   with change_column: comma-separated names of the changed
 *               value columns for C and N rows, NULL for I and D
 *   keys...     the key columns (the left value, else the right one)
 *   values...   per mode (below); prefixed columns are PREFIX "_" NAME
 *
 * Modes (spark-extension's DiffMode):
 *   COLUMN_BY_COLUMN  left_v1, right_v1, left_v2, right_v2, ... then the
 *                     ignored columns (left_x if on the left, right_x if on
 *                     the right), in --ignore order
 *   SIDE_BY_SIDE      left values and ignored columns in the left's column
 *                     order, then right values and ignored columns in the
 *                     right's column order
 *   LEFT_SIDE         value columns unprefixed with the left values, then
 *                     the left's ignored columns
 *   RIGHT_SIDE        the same with the right values (a "patch": applied to
 *                     OLD it gives NEW)
 * Sparse mode: a value is NULL unless it differs from the other side's
 * (by the column's comparator; ignored columns by exact equality); on I and
 * D rows every non-NULL value differs from the missing side's NULL.
 *
 * Keys match null-safely (NULL equals NULL); floating-point keys and values
 * treat -0.0 as 0.0 and every NaN as one value, as Spark does.
 *
 * Schemas may differ. A value column on one side only is compared as if it
 * were all NULL on the other side, and reported in the stats. A column whose
 * type differs is compared in the wider type when one side widens safely
 * into the other (intN -> intM, uintN -> uintM or intM with M > N, float32
 * -> float64, int8/16 -> float32, any int -> float64 (exact to 2^53: text
 * files infer "1" and "1.5" columns as int64 and float64), decimal
 * precision/scale up, int -> decimal, time/timestamp to a finer unit, an
 * all-NULL column of unknown type to anything); any other type change is a
 * CL_ESCHEMA error.
 *
 * Output order (deterministic whatever the memory limit or thread count):
 * rows sorted by key, key columns compared in --key order, NULL first, then
 * ascending (numbers by value, NaN last; strings and binary bytewise;
 * booleans false < true). With --allow-duplicate-keys, rows of one key
 * are ordered by the right row's input position, then the left row's
 * (input position: file in dataset order, then row).
 *
 * Memory: the left side is held in memory (3/4 of memory_limit) and the
 * right side streams past it; when the left side grows past that, both
 * sides are partitioned by key hash into temporary files and diffed
 * partition by partition (a partition still too big for one worker's
 * share is partitioned again by other hash bits). Output rows are sorted
 * in runs spilled to temporary files when a worker's share of the last
 * quarter is full, and merged. The output is the same either way.
 *
 * Threads: the workers read a dataset's row groups or files at once,
 * build the hash table together and probe right rows in parallel; spilled
 * partitions are diffed in parallel.
 */
#ifndef CHANGELAKE_DIFF_H
#define CHANGELAKE_DIFF_H

#include "batch.h"
#include "dataset.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cl_diff_mode {
	CL_DIFF_COLUMN_BY_COLUMN = 0,
	CL_DIFF_SIDE_BY_SIDE,
	CL_DIFF_LEFT_SIDE,
	CL_DIFF_RIGHT_SIDE
} cl_diff_mode;

/* "column-by-column", "side-by-side", "left-side", "right-side". */
const char *cl_diff_mode_name(cl_diff_mode m);
int cl_diff_mode_parse(cl_diff_mode *out, const char *name, cl_error *err);

typedef enum cl_diff_cmp_kind {
	CL_CMP_DEFAULT = 0, /* null-safe equality */
	CL_CMP_EPSILON,     /* numbers at most epsilon apart */
	CL_CMP_WHITESPACE,  /* strings equal after trimming and collapsing
			       runs of whitespace to one space */
	CL_CMP_DURATION     /* dates, times, timestamps at most a duration apart */
} cl_diff_cmp_kind;

/*
 * A value comparator and the columns it applies to. target is a column
 * name, "type:T" (every column of type T, as cl_type_parse spells it;
 * decimal and timestamp match any precision or unit), or "*" (every
 * column it applies to). A column takes the rule naming it, else the last
 * rule for its type, else the last "*" rule, else the default.
 */
typedef struct cl_diff_rule {
	char target[128];
	cl_diff_cmp_kind kind;
	double epsilon;      /* EPSILON */
	bool relative;       /* EPSILON: |x-y| vs epsilon * max(|x|,|y|) (default) */
	bool inclusive;      /* EPSILON, DURATION: the bound itself is equal (default) */
	int64_t duration_ns; /* DURATION */
} cl_diff_rule;

/*
 * Parse a rule from command-line text:
 *   EPSILON     "TARGET=EPS[,abs|,rel][,inclusive|,exclusive]"
 *   DURATION    "TARGET=D[,inclusive|,exclusive]", D like 500ms, 2s, 1.5m,
 *               3h, 1d, 10us, 100ns (a bare number is seconds)
 *   WHITESPACE  "TARGET"
 */
int cl_diff_rule_parse(cl_diff_rule *out, cl_diff_cmp_kind kind, const char *text,
		       cl_error *err);

typedef struct cl_diff_options {
	const char *const *keys; /* key column names, borrowed; at least one */
	int nkeys;
	const char *const *ignore; /* carried to the output, not compared */
	int nignore;
	cl_diff_mode mode;
	bool sparse;
	bool keep_unchanged;       /* emit N rows */
	bool allow_duplicate_keys; /* else a duplicate key is CL_EDUPKEY */
	const char *diff_column;   /* default "diff" */
	const char *change_column; /* NULL: no change column */
	const char *left_prefix;   /* default "left" */
	const char *right_prefix;  /* default "right" */
	const char *insert_value;  /* default "I" */
	const char *change_value;  /* default "C" */
	const char *delete_value;  /* default "D" */
	const char *nochange_value; /* default "N" */
	const cl_diff_rule *rules; /* borrowed */
	int nrules;
	int64_t memory_limit; /* bytes for the in-memory side; 0: 1/4 of RAM */
	int threads;          /* workers; 0: the number of online cores */
	const char *tmp_dir;  /* spill directory; NULL: $TMPDIR or /tmp */
	int64_t batch_rows;   /* rows per output batch; default 65536 */
	const char *left_name;  /* "OLD" in messages (default) */
	const char *right_name; /* "NEW" */
} cl_diff_options;

void cl_diff_options_init(cl_diff_options *o);

/* Counts after the diff (valid once cl_diff_next returned the end). */
typedef struct cl_diff_stats {
	int64_t left_rows, right_rows;
	int64_t inserted, changed, deleted, unchanged;
	int nvalues;                      /* compared value columns */
	const char *const *value_names;   /* their names */
	const int64_t *value_changes;     /* C rows in which each changed */
	int nleft_only, nright_only, nwidened;
	const char *const *left_only;     /* value columns only in OLD */
	const char *const *right_only;    /* value columns only in NEW */
	const char *const *widened;       /* columns compared in a wider type */
	int64_t partitions;               /* 0: in memory; else the partitions
					     diffed (64, more when split again) */
	int64_t spill_bytes;              /* partitions and output runs */
	int threads;
} cl_diff_stats;

typedef struct cl_diff cl_diff;

/*
 * Plan a diff of batches of `left` against batches of `right` (schemas
 * borrowed for the call only). Checks keys, ignored columns, types and
 * output names. Owned by the caller, freed with cl_diff_free.
 */
int cl_diff_create(cl_diff **out, const cl_schema *left, const cl_schema *right,
		   const cl_diff_options *o, cl_error *err);
/* The output schema; borrowed, valid until cl_diff_free. */
const cl_schema *cl_diff_schema(const cl_diff *d);
/* The worker threads the diff runs (options.threads, or the online cores);
 * a writer of its output can encode on as many. */
int cl_diff_threads(const cl_diff *d);

/*
 * Feed every left batch, then every right batch (b borrowed for the call).
 * `source` names where the batch came from (a file, for messages; borrowed
 * for the call) and `first_row` is the 1-based row number of the batch's
 * first row in it.
 */
int cl_diff_add_left(cl_diff *d, const cl_batch *b, const char *source,
		     int64_t first_row, cl_error *err);
int cl_diff_add_right(cl_diff *d, const cl_batch *b, const char *source,
		      int64_t first_row, cl_error *err);

/*
 * Feed a whole side from a dataset, read by every worker thread at once
 * (one Parquet row group or file each; standard input is read in order).
 * The output is the same as feeding the batches in order. progress, when
 * not NULL, is called on the calling thread about every 100 ms with the
 * rows read so far from this dataset. ds is borrowed for the call.
 */
typedef void (*cl_diff_progress_fn)(void *arg, int64_t rows);
int cl_diff_add_left_dataset(cl_diff *d, cl_dataset *ds, cl_diff_progress_fn progress,
			     void *arg, cl_error *err);
int cl_diff_add_right_dataset(cl_diff *d, cl_dataset *ds, cl_diff_progress_fn progress,
			      void *arg, cl_error *err);

/*
 * Next output batch (borrowed, valid until the next call) or *out = NULL at
 * the end. The first call finishes the comparison.
 */
int cl_diff_next(cl_diff *d, cl_batch **out, cl_error *err);

/* Counts; borrowed, valid until cl_diff_free. */
const cl_diff_stats *cl_diff_get_stats(const cl_diff *d);
void cl_diff_free(cl_diff *d);

#ifdef __cplusplus
}
#endif
#endif
