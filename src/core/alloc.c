/*
 * alloc.c — the one allocation wrapper.
 *
 * Every allocation in the library goes through here so that tests can make
 * the N-th allocation fail (fault injection) and check that each error path
 * frees what it took and reports CL_ENOMEM.
 */
#include "changelake/common.h"

#include "alloc.h"

#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>
#include <stdlib.h>
#include <string.h>

static atomic_long fail_after = -1; /* <0: never fail */
static atomic_long alloc_count;

static bool should_fail(void)
{
	atomic_fetch_add_explicit(&alloc_count, 1, memory_order_relaxed);
	long n = atomic_load_explicit(&fail_after, memory_order_relaxed);
	if (n < 0)
		return false;
	if (n == 0)
		return true;
	atomic_fetch_sub_explicit(&fail_after, 1, memory_order_relaxed);
	return false;
}

void cl_alloc_fail_after(long n)
{
	atomic_store(&fail_after, n);
}

long cl_alloc_count(void)
{
	return atomic_load(&alloc_count);
}

void *cl_malloc(size_t n)
{
	if (should_fail())
		return NULL;
	return malloc(n ? n : 1);
}

void *cl_calloc(size_t count, size_t size)
{
	if (should_fail())
		return NULL;
	return calloc(count ? count : 1, size ? size : 1);
}

void *cl_realloc(void *p, size_t n)
{
	if (should_fail())
		return NULL;
	return realloc(p, n ? n : 1);
}

void cl_free(void *p)
{
	free(p);
}

char *cl_strndup(const char *s, size_t n)
{
	char *d = cl_malloc(n + 1);
	if (!d)
		return NULL;
	memcpy(d, s, n);
	d[n] = 0;
	return d;
}

char *cl_strdup(const char *s)
{
	return cl_strndup(s, strlen(s));
}

void cl__huge_hint(void *p, size_t n)
{
#ifdef MADV_HUGEPAGE
	const uintptr_t hp = (uintptr_t)2 << 20;
	if (n < 2 * hp)
		return;
	uintptr_t a = ((uintptr_t)p + hp - 1) & ~(hp - 1);
	uintptr_t e = ((uintptr_t)p + n) & ~(hp - 1);
	if (e > a)
		(void)madvise((void *)a, e - a, MADV_HUGEPAGE);
#else
	(void)p;
	(void)n;
#endif
}
