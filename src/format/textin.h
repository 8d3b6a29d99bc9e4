/*
 * textin.h — buffered input for the text formats (internal).
 *
 * Reads a file or standard input, transparently gunzipping (gzip magic,
 * also concatenated members), in large chunks. Line-oriented parsers keep a
 * window [pos, len) over `buf` and call cl__textin_fill to slide and refill
 * it, which keeps unconsumed bytes and appends more. After every fill
 * buf[len] is 0, so parsers may scan for a terminator without a bounds
 * check on every byte.
 */
#ifndef CL_FORMAT_TEXTIN_H
#define CL_FORMAT_TEXTIN_H

#include "changelake/common.h"

typedef struct cl__textin {
	void *gz;          /* gzFile */
	const char *path;  /* borrowed, for messages */
	uint8_t *buf;
	size_t pos, len, cap;
	bool eof;
	int64_t consumed;  /* bytes dropped from the front of buf so far */
} cl__textin;

/* Open path ("-" = stdin). On error fills err naming the file. */
int cl__textin_open(cl__textin *t, const char *path, cl_error *err);
/*
 * Move unconsumed bytes [pos, len) to the front and read more, growing the
 * buffer so at least `want` unconsumed bytes fit (up to max_bytes; past it
 * CL_EFORMAT "record longer than N bytes"). Sets eof at the end of input.
 * Returns 0 (possibly with no new bytes at eof) or an error.
 */
int cl__textin_fill(cl__textin *t, size_t want, size_t max_bytes, cl_error *err);
void cl__textin_close(cl__textin *t);
/* Peek at the first bytes of a file (not decompressed): for detection. */
int cl__file_peek(const char *path, uint8_t *buf, size_t n, size_t *got);

#endif
