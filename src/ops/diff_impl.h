/*
 * diff_impl.h — shared internals of the diff engine (src/ops/diff*.c).
 *
 * The pieces:
 *   diff_plan.c     options, schema reconciliation, output schema (the plan)
 *   diff_compare.c  typed value equality, key order, widening casts, bulk
 *                   column copies
 *   diff_output.c   accumulation of output rows and their sorting by key
 *   diff_spill.c    a tiny binary format for spilled batches
 *   diff.c          the engine: left store, hash table, probe, partitions
 *
 * Unified columns: both sides are seen through one list of columns `u`
 * (keys in --key order, then the left's other columns in its order, then
 * the right-only ones in the right's order). Each side's batch becomes a
 * "view": for every unified column a borrowed or scratch column in the
 * unified type — widened when the side's type is narrower, all NULL when
 * the side lacks the column. Ignored columns keep each side's own type.
 */
#ifndef CL_OPS_DIFF_IMPL_H
#define CL_OPS_DIFF_IMPL_H

#include "changelake/diff.h"
#include "changelake/hash.h"
#include "core/buf.h"

#include <stdio.h>

enum { ROLE_KEY = 0, ROLE_VALUE, ROLE_IGNORED };

typedef struct cl__dcol {
	char *name;
	int role;
	cl_type type;  /* unified type (keys and values) */
	cl_type ltype, rtype; /* each side's own type (ignored columns) */
	int lidx, ridx;       /* index in the side's schema, -1 when absent */
	bool lcast, rcast;    /* side must be widened to `type` */
	cl_diff_rule cmp;     /* resolved comparator (values) */
} cl__dcol;

enum { OUT_DIFF = 0, OUT_CHANGE, OUT_KEY, OUT_LEFT, OUT_RIGHT };

typedef struct cl__ocol {
	int kind;
	int u; /* unified column (OUT_KEY, OUT_LEFT, OUT_RIGHT) */
} cl__ocol;

typedef struct cl__diff_plan {
	int nu;
	cl__dcol *u;
	int nkeys;        /* u[0..nkeys) are the keys */
	int nvalues;
	int *values;      /* unified indices of the compared value columns */
	int nout;
	cl__ocol *out;
	cl_schema *out_schema;
	cl_type *ltypes, *rtypes; /* per unified column: the view's type per side */
	/* options, strings copied */
	cl_diff_mode mode;
	bool sparse, keep_unchanged, allow_dups;
	char *val[4];     /* diff values by action: I, C, D, N */
	size_t val_len[4];
	bool has_change;
	/* schema drift report */
	int nleft_only, nright_only, nwidened;
	char **left_only, **right_only, **widened;
	const char *left_name, *right_name;
} cl__diff_plan;

enum { ACT_I = 0, ACT_C, ACT_D, ACT_N };

int cl__diff_plan_build(cl__diff_plan *p, const cl_schema *left,
			const cl_schema *right, const cl_diff_options *o,
			cl_error *err);
void cl__diff_plan_release(cl__diff_plan *p);

/* --- diff_compare.c ------------------------------------------------------ */

/* The common type two column types widen to; false when none safely. */
bool cl__diff_widen(cl_type a, cl_type b, cl_type *out);
/* Append src rows [0, n) to dst (type `dst->type`) widened. */
int cl__diff_cast(cl_column *dst, const cl_column *src, cl_error *err);
/* Append src rows [from, from + n) to dst of the same type, in bulk. */
int cl__column_append_range(cl_column *dst, const cl_column *src, int64_t from,
			    int64_t n, cl_error *err);
/* Append n NULLs. */
int cl__column_append_nulls(cl_column *dst, int64_t n, cl_error *err);
/* Bytes held by a column's buffers. */
int64_t cl__column_bytes(const cl_column *c);

/* Default equality (null-safe; -0.0 == 0.0, NaN == NaN). Same types. */
bool cl__diff_equal(const cl_column *a, int64_t ia, const cl_column *b, int64_t ib);
/* Equality under a comparator (same types). */
bool cl__diff_equal_cmp(const cl_diff_rule *r, const cl_column *a, int64_t ia,
			const cl_column *b, int64_t ib);
/* Equality of two values whose types may differ (ignored columns). */
bool cl__diff_equal_any(const cl_column *a, int64_t ia, const cl_column *b,
			int64_t ib);
/* Total order: NULL first, then ascending; -1, 0, 1. Same types. */
int cl__diff_order(const cl_column *a, int64_t ia, const cl_column *b, int64_t ib);
/* Whether a comparator kind applies to a type. */
bool cl__diff_rule_applies(cl_diff_cmp_kind k, cl_type t);
/*
 * Mark in changed[i] (0/1) whether left value lref[i] of the store differs
 * from right value rrow[i] of rc, for i in [0, n), under rule r. The left
 * value is row lref[i] & CHUNK_MASK of lchunk[lref[i] >> CHUNK_BITS].
 */
#define CL__CHUNK_BITS 16
#define CL__CHUNK_ROWS ((int64_t)1 << CL__CHUNK_BITS)
#define CL__CHUNK_MASK (CL__CHUNK_ROWS - 1)
void cl__diff_cmp_pairs(const cl_diff_rule *r, const cl_column *const *lchunk,
			const uint32_t *lref, const cl_column *rc,
			const uint32_t *rrow, int64_t n, uint8_t *changed);

/* Text for messages: "id=5, name='x'" of the key columns of a view. */
int cl__diff_key_text(cl_buf *out, const cl__diff_plan *p,
		      const cl_column *const *cols, int64_t row);

/* --- diff_output.c ------------------------------------------------------- */

/* Output rows accumulated unsorted, then handed out sorted by key. */
typedef struct cl__diff_out {
	const cl__diff_plan *plan;
	int64_t batch_rows;
	int nchunks, capchunks;
	cl_batch **chunks;   /* each up to CL__CHUNK_ROWS rows */
	int64_t nrows;
	int64_t bytes;
	uint64_t *order;     /* sorted row numbers, after cl__diff_out_sort */
	int64_t pos;
	cl_batch *emit;      /* the batch handed out */
	int *vidx;           /* unified column -> value index, or -1 */
} cl__diff_out;

int cl__diff_out_init(cl__diff_out *o, const cl__diff_plan *p, int64_t batch_rows,
		      cl_error *err);
void cl__diff_out_release(cl__diff_out *o);
/*
 * Append one output row. l / r: the two sides' views (array of nu columns)
 * and rows, or NULL when the side is missing; changed[j]: whether value
 * column j (plan->values order) changed (NULL for I/D rows).
 */
int cl__diff_out_row(cl__diff_out *o, int act, const cl_column *const *l, int64_t lrow,
		     const cl_column *const *r, int64_t rrow, const uint8_t *changed,
		     cl_error *err);
int cl__diff_out_sort(cl__diff_out *o, cl_error *err);
/* Next sorted batch (borrowed) or NULL. */
int cl__diff_out_next(cl__diff_out *o, cl_batch **out, cl_error *err);

/* --- diff_spill.c -------------------------------------------------------- */

/* Columns of the given types written to / read from a stream of batches. */
int cl__spill_write(FILE *f, cl_column *const *cols, int ncols, int64_t nrows,
		    cl_error *err);
/*
 * Read the next batch into cols[0..ncols) (initialised with the same types,
 * cleared and refilled); *nrows = 0 at the end.
 */
int cl__spill_read(FILE *f, cl_column *cols, int ncols, int64_t *nrows,
		   cl_error *err);
/* An anonymous temporary file in dir (NULL: $TMPDIR or /tmp). */
FILE *cl__spill_tmpfile(const char *dir, cl_error *err);

#endif
