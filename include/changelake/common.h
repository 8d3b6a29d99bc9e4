/*
 * changelake/common.h — errors and memory, shared by every part of the library.
 *
 * Conventions used across the public API:
 *  - Functions return 0 on success or a negative CL_E* code, and fill a
 *    caller-owned cl_error (which may be NULL when the caller does not care).
 *  - Output parameters come first.
 *  - Every function says who owns what it returns. Objects created by
 *    cl_<noun>_create/open are freed by cl_<noun>_free, and free(NULL) is a
 *    no-op.
 *  - No function prints: the message lands in cl_error and the caller (the
 *    CLI) decides what the user sees.
 */
#ifndef CHANGELAKE_COMMON_H
#define CHANGELAKE_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CL_VERSION_MAJOR 0
#define CL_VERSION_MINOR 1
#define CL_VERSION_PATCH 0
#define CL_VERSION_STRING "0.1.0"

/* Error codes. Negative values are errors; 0 is success. */
enum {
	CL_OK = 0,
	CL_EINVAL = -1,       /* bad argument or usage */
	CL_ENOMEM = -2,       /* allocation failed */
	CL_EIO = -3,          /* operating system I/O error */
	CL_EFORMAT = -4,      /* malformed or corrupt input data */
	CL_ETYPE = -5,        /* a value does not fit its declared type */
	CL_EUNSUPPORTED = -6, /* valid input using a feature not supported yet */
	CL_ENOTFOUND = -7,    /* file, column or object does not exist */
	CL_ECONFLICT = -8,    /* concurrent writer won, or a put-if-absent lost */
	CL_EDUPKEY = -9,      /* duplicate key */
	CL_ESCHEMA = -10,     /* schemas do not fit each other */
	CL_EINTERNAL = -11    /* a bug: an internal invariant did not hold */
};

#define CL_ERROR_MSG_MAX 1024

/*
 * A caller-owned error: the code and a human-readable message that names the
 * file, row/line and column where that applies. Zero-initialise it; the
 * library overwrites it on the first error of a call.
 */
typedef struct cl_error {
	int code;
	char message[CL_ERROR_MSG_MAX];
} cl_error;

/* Fill err (if not NULL) with code and a printf-style message; returns code. */
int cl_error_set(cl_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Prefix the message already in err with more context ("file.csv: ...").
 * Returns err->code (or CL_EINTERNAL when err is NULL or empty).
 */
int cl_error_prefix(cl_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Reset err to "no error". */
void cl_error_clear(cl_error *err);

/* A short name for a code: "invalid argument", "format error", ... */
const char *cl_error_name(int code);

/*
 * Allocation. Every allocation in the library goes through these so tests
 * can make the N-th one fail (cl_alloc_fail_after) and check for leaks and
 * corruption. They behave like their libc namesakes; cl_free(NULL) is a no-op.
 */
void *cl_malloc(size_t n);
void *cl_calloc(size_t count, size_t size);
void *cl_realloc(void *p, size_t n);
void cl_free(void *p);
char *cl_strdup(const char *s);
char *cl_strndup(const char *s, size_t n);

/*
 * Test hook: after n more successful allocations, every further allocation
 * fails until reset with n < 0. Thread-safe (atomic counter).
 */
void cl_alloc_fail_after(long n);
/* Number of allocations made so far (for fault-injection loops). */
long cl_alloc_count(void);

#ifdef __cplusplus
}
#endif
#endif
