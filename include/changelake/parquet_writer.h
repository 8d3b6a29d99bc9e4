/*
 * changelake/parquet_writer.h — what a Parquet cl_writer (io.h) tells about
 * the file it wrote: row count, size and per-column statistics, as a lake
 * table's log needs them (Delta Lake's numRecords, minValues, maxValues,
 * nullCount).
 *
 * The statistics are exact: minimum and maximum are over every non-null
 * value of the file, in the column's own type (not truncated, whatever the
 * file's footer holds). Floating-point NaN is never a minimum or maximum;
 * a zero minimum is -0.0 and a zero maximum +0.0, as Parquet prescribes
 * (so min <= x <= max holds for every non-NaN x whatever the sign of zero).
 */
#ifndef CHANGELAKE_PARQUET_WRITER_H
#define CHANGELAKE_PARQUET_WRITER_H

#include "io.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cl_column_stats {
	int64_t null_count;
	int64_t nan_count;  /* float columns: NaN values (counted as values) */
	bool has_min_max;   /* false: every value is null or NaN */
} cl_column_stats;

typedef struct cl_file_stats {
	int64_t num_rows;
	int64_t file_bytes;     /* size of the finished file */
	int num_row_groups;
	int ncols;              /* = the schema's field count */
	const cl_column_stats *cols;
	/*
	 * One-row batches in the schema's types: row 0 of column i of `min` is
	 * the smallest value of column i, of `max` the largest; NULL when
	 * cols[i].has_min_max is false.
	 */
	const cl_batch *min;
	const cl_batch *max;
} cl_file_stats;

/*
 * Statistics of the file written by w, a Parquet writer that was closed
 * successfully (cl_writer_close); CL_EINVAL otherwise. Everything *out
 * points to is borrowed from w and valid until cl_writer_free.
 */
int cl_writer_file_stats(const cl_writer *w, cl_file_stats *out, cl_error *err);

#ifdef __cplusplus
}
#endif
#endif
