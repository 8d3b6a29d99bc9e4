/*
 * buf.h — a growable byte buffer (internal).
 *
 * data is always NUL-terminated when non-NULL, so text can be used as a C
 * string; len excludes that NUL. A zeroed cl_buf is a valid empty buffer.
 */
#ifndef CL_CORE_BUF_H
#define CL_CORE_BUF_H

#include "changelake/common.h"

#include <string.h>

typedef struct cl_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
} cl_buf;

/* Make room for n more bytes (plus the NUL). 0 or CL_ENOMEM. */
int cl_buf_reserve(cl_buf *b, size_t n);
int cl_buf_append(cl_buf *b, const void *p, size_t n);
int cl_buf_printf(cl_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void cl_buf_release(cl_buf *b);
/* Take ownership of the bytes (free with cl_free); leaves b empty. */
uint8_t *cl_buf_detach(cl_buf *b, size_t *len);

static inline int cl_buf_putc(cl_buf *b, char c)
{
	if (b->len + 2 > b->cap && cl_buf_reserve(b, 1))
		return CL_ENOMEM;
	b->data[b->len++] = (uint8_t)c;
	b->data[b->len] = 0;
	return 0;
}
static inline int cl_buf_puts(cl_buf *b, const char *s)
{
	return cl_buf_append(b, s, strlen(s));
}
static inline void cl_buf_clear(cl_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = 0;
}

/* Copy n bytes, short values without a call: two overlapping fixed-size
 * moves cover any n in [4, 32] exactly (nothing read or written outside
 * [d, d + n)). For per-value copies on hot paths. */
static inline void cl__copy_short(uint8_t *d, const uint8_t *s, size_t n)
{
	if (n > 32) {
		memcpy(d, s, n);
	} else if (n >= 16) {
		memcpy(d, s, 16);
		memcpy(d + n - 16, s + n - 16, 16);
	} else if (n >= 8) {
		memcpy(d, s, 8);
		memcpy(d + n - 8, s + n - 8, 8);
	} else if (n >= 4) {
		memcpy(d, s, 4);
		memcpy(d + n - 4, s + n - 4, 4);
	} else {
		for (size_t i = 0; i < n; i++)
			d[i] = s[i];
	}
}

#endif
