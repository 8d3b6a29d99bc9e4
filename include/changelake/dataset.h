/*
 * changelake/dataset.h — a table stored as one file or a folder of files.
 *
 * A dataset is a path: a single file, or a directory whose data files
 * (found recursively, in byte order of their paths; names starting with
 * '.' or '_' are skipped, so _SUCCESS and .crc files are not read)
 * together hold the rows. A lake table's folder is never read as a
 * dataset: a directory with _delta_log/, one that holds such a directory
 * or one inside it is refused (CL_EINVAL naming the table), because the
 * folder also holds the files the table's commits removed; the table
 * reader (changelake/table.h, cl_table_reader_open) reads its live rows. Folders named COLUMN=VALUE between the
 * dataset root and a file (Hive-style partitioning) become columns after
 * the file's own: int64 when every value of that column is an integer,
 * else string; __HIVE_DEFAULT_PARTITION__ is NULL; %XX escapes are decoded.
 *
 * Every file has the schema of the first one: columns match by name, a
 * column missing from a file reads as NULL, an extra column or a different
 * type is a CL_ESCHEMA error naming the file. Text files after the first
 * are read with the first file's schema (unless a schema was declared), so
 * type inference happens once.
 */
#ifndef CHANGELAKE_DATASET_H
#define CHANGELAKE_DATASET_H

#include "io.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cl_dataset cl_dataset;

/*
 * Open the dataset at `path` (a file, a directory, or "-" for standard
 * input) with the read options `o` (borrowed for the call; its schema, if
 * any, is copied). Owned by the caller; cl_dataset_free.
 */
int cl_dataset_open(cl_dataset **out, const char *path, const cl_read_options *o,
		    cl_error *err);
/* The schema of every batch; borrowed, valid until cl_dataset_free. */
const cl_schema *cl_dataset_schema(const cl_dataset *ds);
/*
 * Next batch (borrowed: valid until the next call or cl_dataset_free) or
 * *out = NULL after the last file.
 */
int cl_dataset_next(cl_dataset *ds, cl_batch **out, cl_error *err);
/* File the last batch came from (borrowed) and the 1-based row number, in
 * that file, of its first row. */
const char *cl_dataset_file(const cl_dataset *ds);
int64_t cl_dataset_first_row(const cl_dataset *ds);
/* Rows returned so far; total rows if every file knows it up front, else -1. */
int64_t cl_dataset_rows(const cl_dataset *ds);
int64_t cl_dataset_total_rows(const cl_dataset *ds);
/* Number of data files; their paths (borrowed). */
int cl_dataset_nfiles(const cl_dataset *ds);
const char *cl_dataset_path(const cl_dataset *ds, int i);
/* Format of the first file. */
cl_format cl_dataset_format(const cl_dataset *ds);
void cl_dataset_free(cl_dataset *ds);

/*
 * Parallel reading. A dataset of files (not standard input) splits into
 * units that read independently: one per row group of a Parquet file with
 * several, else one per file; units are numbered in input order (files in
 * order, row groups in file order). Each unit is read through its own
 * cursor, which shares nothing mutable with the dataset or other cursors,
 * so different threads may read different units at the same time (the
 * dataset itself must not be read or freed meanwhile).
 *
 * cl_dataset_split computes the units (opening the footer of every
 * Parquet file) and returns their number in *nunits: 0 when the dataset
 * cannot be split (standard input), so the caller reads it with
 * cl_dataset_next instead. Call it once, before any cursor is opened.
 */
typedef struct cl_dataset_cursor cl_dataset_cursor;

int cl_dataset_split(cl_dataset *ds, int *nunits, cl_error *err);
/* Rows of unit u when known up front (Parquet), else -1. */
int64_t cl_dataset_unit_rows(const cl_dataset *ds, int u);
/* A cursor over unit u; owned by the caller, cl_dataset_cursor_free. */
int cl_dataset_cursor_open(cl_dataset_cursor **out, const cl_dataset *ds, int u,
			   cl_error *err);
/* Next batch of the unit (borrowed, valid until the next call) or NULL. */
int cl_dataset_cursor_next(cl_dataset_cursor *c, cl_batch **out, cl_error *err);
/* Index of the unit's file (cl_dataset_path) and the 1-based row, in that
 * file, of the last batch's first row. */
int cl_dataset_cursor_file(const cl_dataset_cursor *c);
int64_t cl_dataset_cursor_first_row(const cl_dataset_cursor *c);
void cl_dataset_cursor_free(cl_dataset_cursor *c);

#ifdef __cplusplus
}
#endif
#endif
