/*
 * dms_impl.h — entry points of the DMS reader (dms_read.c) that only the
 * merge's own files use (dms_merge.c, dms_prefetch.c); not public API.
 */
#ifndef CL_DMS_IMPL_H
#define CL_DMS_IMPL_H

#include "changelake/dms.h"

/*
 * Open Parquet file `f` reading only the columns `names` (which must
 * exist; "Op" among them when the file has it, so the ops are still read),
 * decoded on `threads`. The data schema and batches hold just those
 * columns, in file order (dms_merge.c's key pass).
 */
int cl__dms_reader_open_columns(cl_dms_reader **out, const char *dir, const cl_dms_file *f,
				const char *const *names, int n, int threads, cl_error *err);

/*
 * The next batch, owned by the caller: *batch (cl_batch_free; schema
 * cl_dms_reader_schema) and *ops (cl_free, one op a row), or *batch NULL
 * at the end of the file. A Parquet reader's columns are taken over
 * (cl_column_move: the reader refills them from empty), other formats'
 * copied. The reader's borrowed view is invalid after this call.
 */
int cl__dms_reader_next_owned(cl_dms_reader *d, cl_batch **batch, char **ops,
			      int64_t *first_row, cl_error *err);

#endif
