/*
 * parquet_nested.h — nested Parquet schemas onto changelake's flat batches
 * (internal to the Parquet reader).
 *
 * changelake's batches are flat (batch.h), so a Parquet schema tree is
 * planned into flat output columns (cl__pq_plan_build):
 *
 *   - a primitive field that is not repeated, at the top level or inside
 *     structs (groups without a LIST/MAP annotation) that are not repeated,
 *     is one typed column named by its dotted path ("add.path"). It is NULL
 *     when the field or any struct around it is NULL (its definition level
 *     is below the maximum) — a NULL struct and a struct of NULLs read the
 *     same;
 *   - a LIST or MAP annotated group, or a repeated field (the legacy
 *     unannotated list), together with everything below it, is one string
 *     column holding the value as JSON text (the "JSON column"), named by
 *     its dotted path ("add.partitionValues"). NULL when the value or a
 *     struct around it is NULL; "[]" / "{}" when empty.
 *
 * JSON text of a value (cl__pq_json_assemble): lists are arrays, maps are
 * objects (keys as strings: a string key as it is, any other key as its
 * text; entries in file order, duplicates kept), structs inside lists and
 * maps are objects with their fields in schema order, NULL is null. A
 * primitive is spelled as the JSON Lines writer spells a value: integers,
 * decimals and finite floats as numbers, booleans as true/false, strings
 * as strings, every other type (dates, times, timestamps, binary, nan/inf)
 * as a string of its changelake text (value_text.h).
 *
 * Lists follow the backward-compatibility rules of parquet-format's
 * LogicalTypes.md: in a LIST group with one repeated child R, the element
 * is R itself when R is primitive, has several fields, or is a one-field
 * group named "array" or "<list name>_tuple"; otherwise R's only field.
 * MAP and MAP_KEY_VALUE groups with one repeated child of one (key only)
 * or two fields (key, value) are maps. A LIST/MAP group of any other shape
 * is read as a struct (its repeated child then reads as a list).
 *
 * Assembly (record shredding reversed): every leaf of a JSON column is read
 * as level streams (repetition and definition level per entry) plus the
 * dense values of its entries at the maximum definition level
 * (cl__pq_levels). Rows are cut at repetition level 0, per leaf, so each
 * leaf gives each row its own entry range. A value is then rendered
 * top-down: a node's first leaf is the witness that says whether the node
 * is NULL/empty (definition level) and whether a list goes on (repetition
 * level); every leaf below a NULL or empty node must agree (exactly one
 * entry at the expected level), and every leaf must end the row exactly at
 * its row end — a file whose leaves disagree is CL_EFORMAT, never a guess.
 */
#ifndef CL_FORMAT_PARQUET_NESTED_H
#define CL_FORMAT_PARQUET_NESTED_H

#include "changelake/batch.h"
#include "core/buf.h"

struct cl__pq_meta;

/* Node kinds of the schema tree. */
enum { CL__PQ_PRIM, CL__PQ_STRUCT, CL__PQ_LIST, CL__PQ_MAP };

/* Per schema element (same index as cl__pq_meta.schema). */
typedef struct cl__pq_node {
	int def, rep;          /* levels at this node, inclusive */
	int first_leaf, nleaves;
	int end;               /* index past this node's subtree */
	int kind;              /* CL__PQ_* */
	int repeated;          /* LIST/MAP: the repeated child */
	int elem;              /* LIST: the element node (may be `repeated`) */
} cl__pq_node;

/* One output column. */
typedef struct cl__pq_outcol {
	char *name;            /* dotted path; owned by the plan */
	bool json;             /* a JSON column (else one primitive leaf) */
	int node;              /* schema element of the field */
	int first_leaf, nleaves; /* leaves read (1 for a primitive) */
	int parent_def;        /* definition level at which the enclosing
				  structs are all present */
} cl__pq_outcol;

typedef struct cl__pq_plan {
	cl__pq_node *nodes;    /* nschema entries */
	cl__pq_outcol *cols;
	int ncols;
} cl__pq_plan;

/* Plan the output columns of a decoded footer. *plan is filled (owned;
 * cl__pq_plan_release). CL_EFORMAT for a schema whose levels overflow. */
int cl__pq_plan_build(cl__pq_plan *plan, const struct cl__pq_meta *m, cl_error *err);
void cl__pq_plan_release(cl__pq_plan *plan);

/* Level streams and dense values of one leaf for one batch of rows. */
typedef struct cl__pq_levels {
	uint8_t *rep, *def;    /* per entry */
	int64_t n, cap;        /* entries */
	int64_t *row_start;    /* nrows + 1 entry offsets */
	int64_t row_cap;
	cl_column vals;        /* values of entries at the max definition level */
	int max_def;
	/* assembly cursors */
	int64_t pos, vpos, end;
} cl__pq_levels;

void cl__pq_levels_release(cl__pq_levels *l);

/*
 * Append the JSON text of rows [0, nrows) of output column `oc` to dst (a
 * CL_STRING column), from the level streams lv[0..oc->nleaves) of its
 * leaves (lv[k] is leaf oc->first_leaf + k). scratch is the caller's
 * reusable buffer. Errors are CL_EFORMAT for levels that contradict each other (the caller
 * prefixes file, row group and column) and CL_ENOMEM.
 */
int cl__pq_json_assemble(const struct cl__pq_meta *m, const cl__pq_plan *plan,
			 const cl__pq_outcol *oc, cl__pq_levels *lv, int64_t nrows,
			 cl_column *dst, cl_buf *scratch, cl_error *err);

#endif
