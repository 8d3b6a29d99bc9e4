/* parquet_read.c — not written yet. */
#include "format_impl.h"

int cl__parquet_reader_open(struct cl_reader *r, const cl_read_options *o, cl_error *err)
{
	return cl_error_set(err, CL_EUNSUPPORTED, "parquet_read: not implemented yet");
}
