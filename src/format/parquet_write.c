/* parquet_write.c — not written yet. */
#include "format_impl.h"

int cl__parquet_writer_open(struct cl_writer *w, cl_error *err)
{
	return cl_error_set(err, CL_EUNSUPPORTED, "parquet_write: not implemented yet");
}
