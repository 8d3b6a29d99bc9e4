/*
 * table_util.c — small containers of the table layer: a string arena (a
 * snapshot's strings are freed at once) and a string -> index hash map
 * (live files by path during log replay).
 */
#include "delta.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

struct cl__arena_chunk {
	struct cl__arena_chunk *next;
	size_t used, cap;
	max_align_t data[];
};

void *cl__arena_alloc(cl__arena *a, size_t n)
{
	n = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
	struct cl__arena_chunk *c = a->head;
	if (!c || c->cap - c->used < n) {
		size_t cap = n > 60000 ? n : 64000;
		c = cl_malloc(sizeof *c + cap);
		if (!c)
			return NULL;
		c->cap = cap;
		c->used = 0;
		c->next = a->head;
		a->head = c;
	}
	void *p = (char *)c->data + c->used;
	c->used += n;
	return p;
}

char *cl__arena_strndup(cl__arena *a, const char *s, size_t n)
{
	char *p = cl__arena_alloc(a, n + 1);
	if (!p)
		return NULL;
	memcpy(p, s, n);
	p[n] = 0;
	return p;
}

char *cl__arena_strdup(cl__arena *a, const char *s)
{
	return cl__arena_strndup(a, s, strlen(s));
}

void cl__arena_release(cl__arena *a)
{
	struct cl__arena_chunk *c = a->head;
	while (c) {
		struct cl__arena_chunk *next = c->next;
		cl_free(c);
		c = next;
	}
	a->head = NULL;
}

static uint64_t str_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ULL;
	return h;
}

/* Tombstone: a slot whose key was deleted (keeps probe chains intact). */
static const char tomb[] = "";

int64_t cl__strmap_get(const cl__strmap *m, const char *key)
{
	if (!m->cap)
		return -1;
	size_t mask = m->cap - 1;
	for (size_t i = str_hash(key) & mask;; i = (i + 1) & mask) {
		if (!m->keys[i])
			return -1;
		if (m->keys[i] != tomb && !strcmp(m->keys[i], key))
			return m->vals[i];
	}
}

static int grow(cl__strmap *m)
{
	size_t cap = m->cap ? m->cap * 2 : 64;
	const char **keys = cl_calloc(cap, sizeof *keys);
	int64_t *vals = cl_calloc(cap, sizeof *vals);
	if (!keys || !vals) {
		cl_free(keys);
		cl_free(vals);
		return CL_ENOMEM;
	}
	size_t n = 0;
	for (size_t i = 0; i < m->cap; i++) {
		if (!m->keys[i] || m->keys[i] == tomb)
			continue;
		size_t j = str_hash(m->keys[i]) & (cap - 1);
		while (keys[j])
			j = (j + 1) & (cap - 1);
		keys[j] = m->keys[i];
		vals[j] = m->vals[i];
		n++;
	}
	cl_free(m->keys);
	cl_free(m->vals);
	m->keys = keys;
	m->vals = vals;
	m->cap = cap;
	m->n = n;
	return 0;
}

int cl__strmap_put(cl__strmap *m, const char *key, int64_t val)
{
	if ((m->n + 1) * 2 > m->cap && grow(m))
		return CL_ENOMEM;
	size_t mask = m->cap - 1;
	size_t free_slot = SIZE_MAX;
	for (size_t i = str_hash(key) & mask;; i = (i + 1) & mask) {
		if (!m->keys[i]) {
			if (free_slot == SIZE_MAX) {
				free_slot = i;
				m->n++; /* tombstones already count in n */
			}
			break;
		}
		if (m->keys[i] == tomb) {
			if (free_slot == SIZE_MAX)
				free_slot = i;
			continue;
		}
		if (!strcmp(m->keys[i], key)) {
			m->vals[i] = val;
			return 0;
		}
	}
	m->keys[free_slot] = key;
	m->vals[free_slot] = val;
	return 0;
}

void cl__strmap_del(cl__strmap *m, const char *key)
{
	if (!m->cap)
		return;
	size_t mask = m->cap - 1;
	for (size_t i = str_hash(key) & mask;; i = (i + 1) & mask) {
		if (!m->keys[i])
			return;
		if (m->keys[i] != tomb && !strcmp(m->keys[i], key)) {
			m->keys[i] = tomb;
			return;
		}
	}
}

void cl__strmap_release(cl__strmap *m)
{
	cl_free(m->keys);
	cl_free(m->vals);
	memset(m, 0, sizeof *m);
}

bool cl__json_int64(const cl_json *v, int64_t *out)
{
	if (!v || v->kind != CL_JSON_NUMBER || v->n == 0 || v->n > 20)
		return false;
	char buf[24];
	memcpy(buf, v->u.str, v->n);
	buf[v->n] = 0;
	char *end;
	errno = 0;
	long long x = strtoll(buf, &end, 10);
	if (errno || *end)
		return false;
	*out = x;
	return true;
}

int64_t cl__now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void cl__uuid4(char out[37])
{
	uint8_t b[16];
	size_t got = 0;
	FILE *f = fopen("/dev/urandom", "rb");
	if (f) {
		got = fread(b, 1, sizeof b, f);
		fclose(f);
	}
	if (got != sizeof b) {
		/* no /dev/urandom: time and address entropy, still unique enough
		 * for file names together with the pid */
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^
			     (uint64_t)(uintptr_t)&ts ^ ((uint64_t)getpid() << 48);
		for (int i = 0; i < 16; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			b[i] = (uint8_t)x;
		}
	}
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
	static const char hex[] = "0123456789abcdef";
	int o = 0;
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[b[i] >> 4];
		out[o++] = hex[b[i] & 15];
	}
	out[o] = 0;
}
