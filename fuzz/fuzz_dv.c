/*
 * fuzz_dv.c — libFuzzer target for the deletion vector codec: the input
 * is decoded as a portable RoaringBitmapArray and as Z85 text. Any input
 * must give 0 or an error code, never a crash, a leak or undefined
 * behaviour; a bitmap that decodes re-encodes to one that decodes to the
 * same rows (sorted and distinct).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "table/dv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cl_error err = {0};
	uint64_t *rows = NULL;
	size_t n = 0;
	if (cl__dv_decode(&rows, &n, data, size, &err) == 0) {
		for (size_t i = 1; i < n; i++)
			if (rows[i] <= rows[i - 1])
				abort();
		cl_buf b = {0};
		uint64_t *again = NULL;
		size_t n2 = 0;
		if (cl__dv_encode(&b, rows, n, &err) ||
		    cl__dv_decode(&again, &n2, b.data, b.len, &err) || n2 != n ||
		    (n && memcmp(again, rows, n * sizeof *rows)))
			abort();
		cl_free(again);
		cl_buf_release(&b);
	}
	cl_free(rows);
	cl_buf z = {0};
	if (cl__z85_decode(&z, (const char *)data, size, &err) == 0) {
		cl_buf t = {0};
		if (cl__z85_encode(&t, z.data, z.len, &err) || t.len != size ||
		    (size && memcmp(t.data, data, size)))
			abort();
		cl_buf_release(&t);
	}
	cl_buf_release(&z);
	return 0;
}
