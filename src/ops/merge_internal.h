/*
 * merge_internal.h — entry points of the merge (src/ops/merge*.c) for the
 * library's own callers (the DMS merge run, src/source/dms_merge.c); not
 * public API. merge_impl.h (the merge's own internals) includes it.
 */
#ifndef CL_MERGE_INTERNAL_H
#define CL_MERGE_INTERNAL_H

#include "changelake/merge.h"

/*
 * Room for `rows` more change records: the caller reserves the rows of the
 * Parquet files it is about to read, so the store, its row arrays and the
 * hash table are allocated once at their final size instead of doubling
 * (at 10M rows doubling leaves 6.7M values of every fixed-width column
 * allocated and zeroed for nothing). merge.c.
 */
int cl__merge_reserve(cl_merge *m, int64_t rows, cl_error *err);

/*
 * cl_merge_result for the merge's last use (the DMS merge's commit): when
 * no result row has patched values, the result's columns are handed over
 * (cl_column_move) as the upserts instead of copied — deletes and stale
 * rows squeezed out in place, the deletes copied — and the merge keeps no
 * result rows (a later cl_merge_result or cl_merge_resolve sees none);
 * otherwise the same as cl_merge_result. Same rows in the same order as
 * cl_merge_result. merge_result.c.
 */
int cl__merge_take_result(cl_merge *m, const cl_schema **schema, cl_batch **upserts,
			  cl_batch **deletes, cl_error *err);

#endif
