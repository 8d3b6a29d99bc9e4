/* fuzz_dms_name.c — DMS file-name classification and ordering on any bytes.
 *
 * The input is split at the first NUL into two paths; each is classified,
 * and when both are DMS files their order must be antisymmetric and agree
 * with a listing built from them. */
#include <stdint.h>
#include <string.h>

#include "changelake/dms.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096)
		return 0;
	char a[4097], b[4097];
	const uint8_t *nul = memchr(data, 0, size);
	size_t na = nul ? (size_t)(nul - data) : size;
	memcpy(a, data, na);
	a[na] = 0;
	size_t nb = nul ? size - na - 1 : 0;
	memcpy(b, nul ? nul + 1 : data, nb);
	b[nb] = 0;
	cl_dms_file fa = {0}, fb = {0};
	fa.path = a;
	fb.path = b;
	cl_dms_name_parse(&fa.name, a);
	cl_dms_name_parse(&fb.name, b);
	if (fa.name.kind == CL_DMS_CDC && fa.name.time_us < 0)
		__builtin_trap();
	if (fa.name.kind != CL_DMS_OTHER && fb.name.kind != CL_DMS_OTHER) {
		int x = cl_dms_file_compare(&fa, &fb), y = cl_dms_file_compare(&fb, &fa);
		if ((x < 0) != (y > 0) || (x == 0) != (strcmp(a, b) == 0))
			__builtin_trap();
	}
	cl_dms_listing *l;
	cl_error err = {0};
	if (cl_dms_listing_create(&l, "t", &err))
		return 0;
	cl_dms_listing_add(l, a, 1, 0, &err);
	cl_dms_listing_add(l, b, 1, 0, &err);
	cl_dms_listing_add(l, a, 1, 0, &err);
	cl_dms_listing_finish(l);
	for (int i = 1; i < l->nfiles; i++)
		if (cl_dms_file_compare(&l->files[i - 1], &l->files[i]) >= 0)
			__builtin_trap();
	cl_dms_listing_free(l);
	return 0;
}
