/*
 * parquet_encode.c — RLE / bit-packed hybrid encoder and the dictionary
 * hash table; see parquet_encode.h.
 *
 * Hybrid encoder: the input is walked in steps that keep pending literal
 * values a multiple of 8 (the bit-packed group size). At each step the run
 * of equal values starting there is measured: 8 or more become an RLE run
 * (after flushing the pending literals), fewer are taken as the next group
 * of 8 literals. Literal runs are flushed at 63 groups so their header is
 * one byte, as other writers do.
 *
 * Dictionary: open addressing with linear probing over 64-bit slots
 * holding a 32-bit hash tag and index + 1. The table is kept at most half
 * full; growing recomputes hashes from the stored values.
 *
 * Buffer pool: at most POOL_SLOTS buffers of POOL_MIN bytes or more and
 * POOL_MAX_BYTES together, behind one mutex (a take or give per page or
 * per buffer growth, not per value). A take is best fit among buffers no
 * larger than twice the need (plus POOL_MIN), so a small need does not
 * hold a large buffer.
 */
#include "parquet_encode.h"

#include <pthread.h>

#define XXH_INLINE_ALL /* short keys: the hash inlined, no call per value */
#include <xxhash.h>

/* ---------- RLE / bit-packed hybrid ---------- */

static int put_varint(cl_buf *out, uint64_t v)
{
	if (cl_buf_reserve(out, 10))
		return CL_ENOMEM;
	while (v >= 0x80) {
		out->data[out->len++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	out->data[out->len++] = (uint8_t)v;
	out->data[out->len] = 0;
	return 0;
}

static int put_rle_run(cl_buf *out, uint32_t value, size_t count, int bw)
{
	if (put_varint(out, (uint64_t)count << 1))
		return CL_ENOMEM;
	int nbytes = (bw + 7) / 8;
	if (cl_buf_reserve(out, 4))
		return CL_ENOMEM;
	for (int i = 0; i < nbytes; i++)
		out->data[out->len++] = (uint8_t)(value >> (8 * i));
	out->data[out->len] = 0;
	return 0;
}

#define DEFINE_RLE_ENCODER(NAME, T)                                                 \
	static int NAME##_literals(cl_buf *out, const T *v, size_t n, int bw)       \
	{                                                                           \
		if (n == 0)                                                         \
			return 0;                                                   \
		size_t groups = (n + 7) / 8;                                        \
		if (put_varint(out, (uint64_t)groups << 1 | 1))                     \
			return CL_ENOMEM;                                           \
		size_t nbytes = groups * (size_t)bw;                                \
		if (cl_buf_reserve(out, nbytes + 8))                                \
			return CL_ENOMEM;                                           \
		uint8_t *p = out->data + out->len;                                  \
		uint64_t acc = 0;                                                   \
		int bits = 0;                                                       \
		for (size_t i = 0; i < groups * 8; i++) {                           \
			uint64_t x = i < n ? (uint64_t)v[i] : 0;                    \
			acc |= x << bits;                                           \
			bits += bw;                                                 \
			while (bits >= 8) {                                         \
				*p++ = (uint8_t)acc;                                \
				acc >>= 8;                                          \
				bits -= 8;                                          \
			}                                                           \
		}                                                                   \
		out->len += nbytes;                                                 \
		out->data[out->len] = 0;                                            \
		return 0;                                                           \
	}                                                                           \
	int cl__rle_encode_##NAME(cl_buf *out, const T *v, size_t n, int bw)        \
	{                                                                           \
		size_t i = 0, lit = 0;                                              \
		while (i < n) {                                                     \
			T x = v[i];                                                 \
			size_t r = 1;                                               \
			while (i + r < n && v[i + r] == x)                          \
				r++;                                                \
			if (r >= 8) {                                               \
				if (NAME##_literals(out, v + lit, i - lit, bw) ||   \
				    put_rle_run(out, (uint32_t)x, r, bw))           \
					return CL_ENOMEM;                           \
				i += r;                                             \
				lit = i;                                            \
				continue;                                           \
			}                                                           \
			i = i + 8 < n ? i + 8 : n;                                  \
			if (i - lit >= 63 * 8) {                                    \
				if (NAME##_literals(out, v + lit, i - lit, bw))     \
					return CL_ENOMEM;                           \
				lit = i;                                            \
			}                                                           \
		}                                                                   \
		return NAME##_literals(out, v + lit, n - lit, bw);                  \
	}

DEFINE_RLE_ENCODER(u32, uint32_t)
DEFINE_RLE_ENCODER(u8, uint8_t)

/* ---------- buffer pool ---------- */

#define POOL_SLOTS 128
#define POOL_MIN ((size_t)64 << 10)
#define POOL_MAX_BYTES ((size_t)256 << 20)

static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
	void *p;
	size_t cap;
} pool[POOL_SLOTS];
static int pool_n;
static size_t pool_bytes;

void *cl__pqw_pool_take(size_t need, size_t *cap)
{
	if (need < POOL_MIN / 2)
		return NULL;
	void *p = NULL;
	pthread_mutex_lock(&pool_mu);
	int best = -1;
	for (int i = 0; i < pool_n; i++)
		if (pool[i].cap >= need && pool[i].cap - need <= need + POOL_MIN &&
		    (best < 0 || pool[i].cap < pool[best].cap))
			best = i;
	if (best >= 0) {
		p = pool[best].p;
		*cap = pool[best].cap;
		pool_bytes -= pool[best].cap;
		pool[best] = pool[--pool_n];
	}
	pthread_mutex_unlock(&pool_mu);
	return p;
}

void cl__pqw_pool_give(void *p, size_t cap)
{
	if (!p)
		return;
	if (cap >= POOL_MIN) {
		pthread_mutex_lock(&pool_mu);
		bool kept = pool_n < POOL_SLOTS && pool_bytes + cap <= POOL_MAX_BYTES;
		if (kept) {
			pool[pool_n].p = p;
			pool[pool_n++].cap = cap;
			pool_bytes += cap;
		}
		pthread_mutex_unlock(&pool_mu);
		if (kept)
			return;
	}
	cl_free(p);
}

void *cl__pqw_pool_alloc(size_t need, size_t *cap)
{
	void *p = cl__pqw_pool_take(need, cap);
	if (p)
		return p;
	*cap = need;
	return cl_malloc(need);
}

/* ---------- dictionary ---------- */

#define DICT_MIN_SLOTS 1024u

static inline uint64_t mix64(uint64_t x)
{
	x *= 0x9E3779B97F4A7C15ull;
	return x ^ (x >> 29);
}

static uint64_t hash_fixed(const uint8_t *p, int width)
{
	uint64_t x;
	switch (width) {
	case 4: {
		uint32_t y;
		memcpy(&y, p, 4);
		return mix64(y);
	}
	case 8:
		memcpy(&x, p, 8);
		return mix64(x);
	default:
		return XXH3_64bits(p, (size_t)width);
	}
}

void cl__dict_init(cl__dict *d, int width)
{
	memset(d, 0, sizeof *d);
	d->width = width;
}

void cl__dict_release(cl__dict *d)
{
	if (d->slots)
		cl__pqw_pool_give(d->slots, ((size_t)d->mask + 1) * sizeof *d->slots);
	cl_free(d->voff);
	cl_buf_release(&d->values);
	int w = d->width;
	cl__dict_init(d, w);
}

void cl__dict_reset(cl__dict *d)
{
	if (d->slots)
		memset(d->slots, 0, ((size_t)d->mask + 1) * sizeof *d->slots);
	cl_buf_clear(&d->values);
	d->n = 0;
}

static uint64_t entry_hash(const cl__dict *d, uint32_t i)
{
	if (d->width)
		return hash_fixed(d->values.data + (size_t)i * (size_t)d->width, d->width);
	const uint8_t *e = d->values.data + d->voff[i];
	uint32_t n;
	memcpy(&n, e, 4);
	return XXH3_64bits(e + 4, n);
}

/* Make room for one more entry: keep the table at most half full. */
static int ensure_room(cl__dict *d)
{
	size_t slots = d->slots ? (size_t)d->mask + 1 : 0;
	if (d->slots && ((size_t)d->n + 1) * 2 <= slots)
		return 0;
	if (d->n >= UINT32_MAX / 4)
		return CL_ENOMEM;
	size_t ns = slots ? slots * 2 : DICT_MIN_SLOTS;
	size_t tcap;
	uint64_t *t = cl__pqw_pool_alloc(ns * sizeof *t, &tcap);
	if (!t)
		return CL_ENOMEM;
	memset(t, 0, ns * sizeof *t);
	uint32_t mask = (uint32_t)(ns - 1);
	for (uint32_t i = 0; i < d->n; i++) {
		uint64_t h = entry_hash(d, i);
		size_t s = h & mask;
		while (t[s])
			s = (s + 1) & mask;
		t[s] = (h >> 32) << 32 | ((uint64_t)i + 1);
	}
	if (d->slots)
		cl__pqw_pool_give(d->slots, slots * sizeof *d->slots);
	d->slots = t;
	d->mask = mask;
	return 0;
}

/* ensure_room's test inlined: most calls find room */
static inline int room(cl__dict *d)
{
	if (d->slots && ((size_t)d->n + 1) * 2 <= (size_t)d->mask + 1)
		return 0;
	return ensure_room(d);
}

/* a[0..n) == b[0..n), short values without a call */
static inline bool same_bytes(const uint8_t *a, const uint8_t *b, size_t n)
{
	uint64_t x, y, u, v;
	if (n >= 8 && n <= 16) {
		memcpy(&x, a, 8);
		memcpy(&y, b, 8);
		memcpy(&u, a + n - 8, 8);
		memcpy(&v, b + n - 8, 8);
		return ((x ^ y) | (u ^ v)) == 0;
	}
	if (n >= 4 && n < 8) {
		uint32_t p, q, r, t;
		memcpy(&p, a, 4);
		memcpy(&q, b, 4);
		memcpy(&r, a + n - 4, 4);
		memcpy(&t, b + n - 4, 4);
		return ((p ^ q) | (r ^ t)) == 0;
	}
	return !memcmp(a, b, n);
}

int cl__dict_put_fixed(cl__dict *d, const void *vals, size_t n, uint32_t *idx)
{
	const int w = d->width;
	const uint8_t *v = vals;
	for (size_t k = 0; k < n; k++, v += w) {
		if (room(d))
			return CL_ENOMEM;
		uint64_t h = hash_fixed(v, w);
		uint64_t tag = h >> 32;
		size_t s = h & d->mask;
		for (;;) {
			uint64_t e = d->slots[s];
			if (!e)
				break;
			if ((e >> 32) == tag) {
				uint32_t i = (uint32_t)e - 1;
				if (!memcmp(d->values.data + (size_t)i * (size_t)w, v, (size_t)w)) {
					idx[k] = i;
					goto next;
				}
			}
			s = (s + 1) & d->mask;
		}
		if (cl_buf_append(&d->values, v, (size_t)w))
			return CL_ENOMEM;
		d->slots[s] = tag << 32 | ((uint64_t)d->n + 1);
		idx[k] = d->n++;
next:;
	}
	return 0;
}

int cl__dict_put_bytes(cl__dict *d, const cl__bytes_ref *vals, size_t n,
		       uint32_t *idx)
{
	for (size_t k = 0; k < n; k++) {
		const uint8_t *p = vals[k].p;
		uint32_t len = vals[k].n;
		if (room(d))
			return CL_ENOMEM;
		uint64_t h = XXH3_64bits(p, len);
		uint64_t tag = h >> 32;
		size_t s = h & d->mask;
		for (;;) {
			uint64_t e = d->slots[s];
			if (!e)
				break;
			if ((e >> 32) == tag) {
				uint32_t i = (uint32_t)e - 1;
				const uint8_t *q = d->values.data + d->voff[i];
				uint32_t qn;
				memcpy(&qn, q, 4);
				if (qn == len && same_bytes(q + 4, p, len)) {
					idx[k] = i;
					goto next;
				}
			}
			s = (s + 1) & d->mask;
		}
		if (d->n >= d->voff_cap) {
			uint32_t cap = d->voff_cap ? d->voff_cap * 2 : 1024;
			uint64_t *o = cl_realloc(d->voff, (size_t)cap * sizeof *o);
			if (!o)
				return CL_ENOMEM;
			d->voff = o;
			d->voff_cap = cap;
		}
		if (cl_buf_reserve(&d->values, 4 + (size_t)len))
			return CL_ENOMEM;
		d->voff[d->n] = d->values.len;
		uint8_t le[4] = {(uint8_t)len, (uint8_t)(len >> 8), (uint8_t)(len >> 16),
				 (uint8_t)(len >> 24)};
		memcpy(d->values.data + d->values.len, le, 4);
		if (len)
			memcpy(d->values.data + d->values.len + 4, p, len);
		d->values.len += 4 + (size_t)len;
		d->values.data[d->values.len] = 0;
		d->slots[s] = tag << 32 | ((uint64_t)d->n + 1);
		idx[k] = d->n++;
next:;
	}
	return 0;
}
