/*
 * parquet_encode.h — value encodings for the Parquet writer (internal).
 *
 *  - The RLE / bit-packed hybrid (definition levels, dictionary indices):
 *    runs of 8 or more equal values become RLE runs, everything else
 *    bit-packed groups of 8 (LSB first). Only the last group of a stream
 *    is padded, with zeros; the reader knows the value count.
 *  - A dictionary: a hash table from value to index that keeps the values
 *    in their PLAIN encoding, so the dictionary page is the values buffer
 *    as it stands. Fixed-width values (4, 8, 12 or N bytes) and byte arrays
 *    (kept as 4-byte little-endian length + bytes). No allocation per
 *    value: the table and the values buffer grow geometrically.
 *  - A pool of large buffers (pages, page buffers, dictionary tables)
 *    handed from a finished writer to the next one: copy-on-write opens
 *    a writer per rewritten file, and fresh memory for each cost a page
 *    fault per 4 KiB (about a tenth of a rewrite's CPU).
 */
#ifndef CL_FORMAT_PARQUET_ENCODE_H
#define CL_FORMAT_PARQUET_ENCODE_H

#include "core/buf.h"

/* Bits needed for values 0..max (0 for max == 0). */
static inline int cl__bit_width(uint64_t max)
{
	return max ? 64 - __builtin_clzll(max) : 0;
}

/*
 * Append the hybrid encoding of v[0..n) at bit width bw (0..32; every
 * value must fit) to out. No length prefix, no bit-width byte. 0 or
 * CL_ENOMEM.
 */
int cl__rle_encode_u32(cl_buf *out, const uint32_t *v, size_t n, int bw);
int cl__rle_encode_u8(cl_buf *out, const uint8_t *v, size_t n, int bw);

/* A view of one byte-array value. */
typedef struct cl__bytes_ref {
	const uint8_t *p;
	uint32_t n;
} cl__bytes_ref;

typedef struct cl__dict {
	int width;         /* bytes per fixed-width value; 0: byte arrays */
	uint32_t n;        /* entries */
	uint32_t mask;     /* table slots - 1 (slots are a power of two) */
	uint64_t *slots;   /* (hash tag << 32) | (index + 1); 0 = empty */
	cl_buf values;     /* the entries, PLAIN encoded (the dictionary page) */
	uint64_t *voff;    /* byte arrays: offset of entry i in values */
	uint32_t voff_cap;
} cl__dict;

/* An empty dictionary for values of `width` bytes (0: byte arrays). */
void cl__dict_init(cl__dict *d, int width);
void cl__dict_release(cl__dict *d);
/* Forget every entry, keeping the memory. */
void cl__dict_reset(cl__dict *d);

/*
 * Look up or insert each of n values, writing their indices to idx[0..n).
 * put_fixed takes n values of d->width bytes packed back to back;
 * put_bytes takes n views. 0 or CL_ENOMEM (then some of the values may have
 * been inserted; the dictionary stays consistent).
 */
int cl__dict_put_fixed(cl__dict *d, const void *vals, size_t n, uint32_t *idx);
int cl__dict_put_bytes(cl__dict *d, const cl__bytes_ref *vals, size_t n,
		       uint32_t *idx);

/*
 * The buffer pool (thread-safe; buffers from cl_malloc, freed with
 * cl_free or given back). take: a pooled buffer of at least `need` bytes
 * (and not much more), its capacity in *cap, else NULL (the caller
 * allocates). give: keep p (capacity cap) for a later take, or free it
 * when it is small or the pool is full. Contents are not preserved.
 */
void *cl__pqw_pool_take(size_t need, size_t *cap);
void cl__pqw_pool_give(void *p, size_t cap);
/* take, else cl_malloc(need) (*cap = need); NULL when out of memory. */
void *cl__pqw_pool_alloc(size_t need, size_t *cap);

/* PLAIN size of the entries (the dictionary page before compression). */
static inline size_t cl__dict_bytes(const cl__dict *d)
{
	return d->values.len;
}

#endif
