/*
 * column.h — column helpers for the library's own readers (internal; the
 * public column API is changelake/batch.h).
 */
#ifndef CL_CORE_COLUMN_H
#define CL_CORE_COLUMN_H

#include "changelake/batch.h"

/*
 * cl_column_reserve without zeroing the new fixed-width values (booleans
 * and validity are still zeroed): for a reader that writes every row it
 * appends, nulls included (the Parquet page reader). Rows past the length
 * hold whatever the memory held.
 */
int cl__column_reserve_nozero(cl_column *c, int64_t n, cl_error *err);

/* Bytes held by a column's buffers (allocated, not only used). */
int64_t cl__column_bytes(const cl_column *c);

#endif
