/*
 * changelake/apply.h — applying a change set (the output of cl_diff, or of
 * spark-extension's diff) to a target table.
 *
 * A change set has a diff column (I, C, D, N; the values configurable),
 * the key columns under their own names, and the new values either as
 * RIGHT_X columns (column-by-column and side-by-side modes; LEFT_X columns
 * are read past) or as X columns (right-side mode, the "patch"). Names are
 * mapped exactly: a target column X takes "right_X" or "X", never a column
 * that merely contains X, and a key column named left_id is just that.
 * I and C rows upsert the new values — a NULL sets the column to NULL — and
 * D rows delete by key; N rows are skipped.
 *
 * Sparse change sets (spark-extension's sparse mode: values that did not
 * change are NULL on both sides) cannot be applied: their NULLs mean
 * "unchanged", not "set to NULL". In column-by-column form they are
 * detected: a C row with a value NULL on both sides while no C or N row
 * shows an equal non-NULL value on both sides (which a sparse change set
 * never has) is refused by cl_changes_check, unless allow_sparse says the
 * NULLs are real. A sparse right-side change set carries no left values
 * and cannot be told apart: do not pass one.
 *
 * Memory: a snapshot target streams past the changes, which are held in
 * memory (normalised: about the size of the change set's new values).
 *
 * cl_changes maps change-set batches onto a target's columns ("normalised
 * changes": an int8 action column 'I', 'C' or 'D', then the target's
 * columns in the target's types). It refuses, when created, a change set
 * whose keys or columns do not fit the target, so nothing is changed.
 * cl_apply applies normalised changes to a snapshot streamed past it.
 */
#ifndef CHANGELAKE_APPLY_H
#define CHANGELAKE_APPLY_H

#include "batch.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cl_apply_options {
	const char *const *keys; /* key columns, borrowed; required */
	int nkeys;
	int mode;                 /* -1 detect (default), else cl_diff_mode */
	const char *diff_column;  /* default "diff" */
	const char *change_column; /* a column to skip (e.g. "changes"), or NULL */
	const char *left_prefix;  /* default "left" */
	const char *right_prefix; /* default "right" */
	const char *insert_value, *change_value, *delete_value, *nochange_value;
	const char *changes_name; /* "CHANGES" in messages */
	const char *target_name;  /* "TARGET" */
	bool allow_sparse;        /* skip the sparse check (--not-sparse) */
	/* Columns the target computes from others (a lake table's partition
	 * transforms, e.g. ts_day from ts): not in the target schema given to
	 * cl_changes_create, and their change-set columns (X, LEFT_X, RIGHT_X)
	 * are read past. Borrowed. */
	const char *const *derived;
	int nderived;
} cl_apply_options;

void cl_apply_options_init(cl_apply_options *o);

typedef struct cl_changes cl_changes;

/*
 * Map change sets of schema `changes` onto `target` (both borrowed for the
 * call). Fails with CL_ESCHEMA/CL_ENOTFOUND naming the misfit column.
 * Owned by the caller; cl_changes_free.
 */
int cl_changes_create(cl_changes **out, const cl_schema *changes,
		      const cl_schema *target, const cl_apply_options *o,
		      cl_error *err);
/* Schema of the normalised batches: "action" int8 then the target's columns. */
const cl_schema *cl_changes_schema(const cl_changes *c);
/* Whether the change set was read as column-by-column (true) or right-side. */
bool cl_changes_prefixed(const cl_changes *c);
/*
 * Normalise one change-set batch (N rows dropped); *out is borrowed until
 * the next call. Values that do not convert to the target's type are a
 * CL_ETYPE error naming `source`, the row and the column.
 */
int cl_changes_map(cl_changes *c, const cl_batch *in, const char *source,
		   int64_t first_row, cl_batch **out, cl_error *err);
/*
 * After the last batch was mapped: CL_EFORMAT when the change set looks
 * sparse (see above), naming a row and column that shows it.
 */
int cl_changes_check(const cl_changes *c, cl_error *err);
/* The 1-based input row of each row of the last normalised batch. */
const int64_t *cl_changes_rows(const cl_changes *c);
void cl_changes_free(cl_changes *c);

typedef struct cl_apply_stats {
	int64_t target_rows;   /* rows read from the target */
	int64_t updated;       /* target rows replaced by an I or C row */
	int64_t inserted;      /* I or C rows for keys the target lacked */
	int64_t deleted;       /* target rows removed by a D row */
	int64_t missing_deletes; /* D rows for keys the target lacked */
	int64_t rows_out;
} cl_apply_stats;

typedef struct cl_apply cl_apply;

/*
 * Apply normalised changes (schema nschema, from cl_changes_schema) to a
 * snapshot of schema `target`. Feed all changes first (they are held in
 * memory), then rewrite every target batch, then take the remaining
 * inserts. A key changed twice in the change set is a CL_EDUPKEY error.
 */
int cl_apply_create(cl_apply **out, const cl_schema *nschema, const cl_apply_options *o,
		    cl_error *err);
int cl_apply_add(cl_apply *a, const cl_batch *normalised, cl_error *err);
/* The same, with where each row came from (source borrowed for the call;
 * rows from cl_changes_rows) for messages about duplicate keys. */
int cl_apply_add_from(cl_apply *a, const cl_batch *normalised, const char *source,
		      const int64_t *rows, cl_error *err);
/* The target batch with changes applied (borrowed until the next call). */
int cl_apply_rewrite(cl_apply *a, const cl_batch *target, cl_batch **out,
		     cl_error *err);
/* Rows of keys the target lacked, in change-set order; NULL at the end. */
int cl_apply_rest(cl_apply *a, cl_batch **out, cl_error *err);
const cl_apply_stats *cl_apply_get_stats(const cl_apply *a);
void cl_apply_free(cl_apply *a);

#ifdef __cplusplus
}
#endif
#endif
