/*
 * changelake/hash.h — key hashing (XXH3 from libxxhash).
 *
 * Hashes are stable across runs, machines and versions of changelake: the
 * lake table layout assigns rows to buckets by them, so changing how a value
 * hashes is a breaking change to the table format. Values hash by their
 * logical content: NULL hashes to a fixed value (keys match null-safely),
 * integers of every width hash as int64, strings as their bytes.
 */
#ifndef CHANGELAKE_HASH_H
#define CHANGELAKE_HASH_H

#include "batch.h"

#ifdef __cplusplus
extern "C" {
#endif

uint64_t cl_hash_bytes(const void *p, size_t n, uint64_t seed);

/*
 * Fold column c (rows [0, n)) into hashes[0..n): hashes[i] becomes
 * hash(value i, seed = hashes[i]). Start with hashes zeroed and fold each
 * key column in order to hash a compound key.
 */
void cl_hash_column(const cl_column *c, uint64_t *hashes, int64_t n);

/* Hash of value `row` of c folded into `seed` (same as cl_hash_column). */
uint64_t cl_hash_value(const cl_column *c, int64_t row, uint64_t seed);

#ifdef __cplusplus
}
#endif
#endif
