/*
 * threads.h — the thread count a piece of the library runs with: the one
 * its caller gave (an option, a transaction's setting) when above 0, else
 * CL_THREADS from the environment (how the test suites run every path
 * threaded), else 1; always within 1..64.
 */
#ifndef CL_CORE_THREADS_H
#define CL_CORE_THREADS_H

#include <stdlib.h>

static inline int cl__threads_resolve(int given)
{
	const char *env = getenv("CL_THREADS");
	int n = given > 0 ? given : env && *env ? atoi(env) : 1;
	return n < 1 ? 1 : n > 64 ? 64 : n;
}

#endif
