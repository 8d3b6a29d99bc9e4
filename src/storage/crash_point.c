/* crash_point.c — CL_CRASH_AT test hook; see crash_point.h. */
#include "crash_point.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void cl__crash_point(const char *name)
{
	static long hits;
	const char *spec = getenv("CL_CRASH_AT");
	if (!spec || !*spec)
		return;
	const char *colon = strrchr(spec, ':');
	size_t n = colon ? (size_t)(colon - spec) : strlen(spec);
	if (strlen(name) != n || memcmp(spec, name, n) != 0)
		return;
	long want = colon ? strtol(colon + 1, NULL, 10) : 1;
	/* atomic: crash points are passed on several threads (copy-on-write's
	 * buckets) */
	if (__atomic_add_fetch(&hits, 1, __ATOMIC_RELAXED) >= want)
		kill(getpid(), SIGKILL);
}
