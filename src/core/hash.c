/* hash.c — stable value hashing with XXH3; see changelake/hash.h. */
#include "changelake/hash.h"

#include <string.h>
#define XXH_INLINE_ALL /* XXH3 inlined into the loops below */
#include <xxhash.h>

#define NULL_HASH 0x9e3779b97f4a7c15ull

uint64_t cl_hash_bytes(const void *p, size_t n, uint64_t seed)
{
	return XXH3_64bits_withSeed(p, n, seed);
}

uint64_t cl_hash_value(const cl_column *c, int64_t row, uint64_t seed)
{
	if (cl_column_is_null(c, row))
		return XXH3_64bits_withSeed(&(uint64_t){NULL_HASH}, 8, seed);
	switch (c->type.id) {
	case CL_BOOL: {
		int64_t v = cl_column_get_bool(c, row);
		return XXH3_64bits_withSeed(&v, 8, seed);
	}
	case CL_FLOAT32: case CL_FLOAT64: {
		double d = cl_column_get_f64(c, row);
		if (d == 0)
			d = 0; /* -0.0 and 0.0 are one key */
		if (d != d)
			d = __builtin_nan(""); /* one NaN */
		return XXH3_64bits_withSeed(&d, 8, seed);
	}
	case CL_DECIMAL:
		return XXH3_64bits_withSeed(c->values + (size_t)row * 16, 16, seed);
	case CL_UINT64:
		return XXH3_64bits_withSeed(c->values + (size_t)row * 8, 8, seed);
	case CL_STRING: case CL_BINARY: {
		size_t n;
		const uint8_t *p = cl_column_get_bytes(c, row, &n);
		return XXH3_64bits_withSeed(p, n, seed);
	}
	default: {
		int64_t v = cl_column_get_i64(c, row);
		return XXH3_64bits_withSeed(&v, 8, seed);
	}
	}
}

void cl_hash_column(const cl_column *c, uint64_t *hashes, int64_t n)
{
	/* the common key: INT64 without NULLs, XXH3 inlined into one loop
	 * (the same hashes as cl_hash_value's) */
	if ((!c->validity || c->null_count == 0) && c->type.id == CL_INT64) {
		const int64_t *v = (const int64_t *)c->values;
		for (int64_t i = 0; i < n; i++)
			hashes[i] = XXH3_64bits_withSeed(&v[i], 8, hashes[i]);
		return;
	}
	for (int64_t i = 0; i < n; i++)
		hashes[i] = cl_hash_value(c, i, hashes[i]);
}
