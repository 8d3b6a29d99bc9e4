/*
 * crash_point.h — named crash points for crash-safety tests (internal).
 *
 * cl__crash_point("name") does nothing unless the environment variable
 * CL_CRASH_AT is "name:N": then the N-th time (1-based) the point is reached
 * in this process, the process kills itself with SIGKILL — no cleanup, no
 * buffered output flushed, as if the machine lost power at that moment
 * (except that data already handed to the kernel survives).
 * The test driver (tests/tools/lake_crash.c) runs a writer under every
 * point and count and checks the table afterwards.
 */
#ifndef CL_STORAGE_CRASH_POINT_H
#define CL_STORAGE_CRASH_POINT_H

void cl__crash_point(const char *name);

#endif
