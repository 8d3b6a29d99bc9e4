/* csv_read.c — not written yet. */
#include "format_impl.h"

int cl__csv_reader_open(struct cl_reader *r, const cl_read_options *o, cl_error *err)
{
	return cl_error_set(err, CL_EUNSUPPORTED, "csv_read: not implemented yet");
}
