/* buf.c — growable byte buffer. */
#include "buf.h"

#include <stdarg.h>
#include <stdio.h>

int cl_buf_reserve(cl_buf *b, size_t n)
{
	if (n > SIZE_MAX / 2 - b->len)
		return CL_ENOMEM;
	size_t need = b->len + n + 1;
	if (need <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap *= 2;
	uint8_t *p = cl_realloc(b->data, cap);
	if (!p)
		return CL_ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

int cl_buf_append(cl_buf *b, const void *p, size_t n)
{
	if (cl_buf_reserve(b, n))
		return CL_ENOMEM;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = 0;
	return 0;
}

int cl_buf_printf(cl_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char small[256];
	int n = vsnprintf(small, sizeof small, fmt, ap);
	va_end(ap);
	if (n < 0)
		return CL_EINVAL;
	if ((size_t)n < sizeof small)
		return cl_buf_append(b, small, (size_t)n);
	if (cl_buf_reserve(b, (size_t)n))
		return CL_ENOMEM;
	va_start(ap, fmt);
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

void cl_buf_release(cl_buf *b)
{
	cl_free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

uint8_t *cl_buf_detach(cl_buf *b, size_t *len)
{
	uint8_t *p = b->data;
	if (len)
		*len = b->len;
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}
