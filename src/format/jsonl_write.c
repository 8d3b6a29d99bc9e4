/* jsonl_write.c — not written yet. */
#include "format_impl.h"

int cl__jsonl_writer_open(struct cl_writer *w, cl_error *err)
{
	return cl_error_set(err, CL_EUNSUPPORTED, "jsonl_write: not implemented yet");
}
