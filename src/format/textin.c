/* textin.c — chunked, gzip-transparent text input; see textin.h. */
#include "textin.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define CHUNK (1u << 20)

int cl__textin_open(cl__textin *t, const char *path, cl_error *err)
{
	memset(t, 0, sizeof *t);
	t->path = path;
	int fd = strcmp(path, "-") == 0 ? dup(0) : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cl_error_set(err, errno == ENOENT ? CL_ENOTFOUND : CL_EIO,
				    "%s: cannot open: %s", path, strerror(errno));
	/* gzdopen reads plain files as they are and gunzips gzip ones,
	 * including several concatenated members. */
	gzFile gz = gzdopen(fd, "rb");
	if (!gz) {
		close(fd);
		return cl_error_set(err, CL_ENOMEM, "%s: out of memory", path);
	}
	gzbuffer(gz, 256 * 1024);
	t->gz = gz;
	return 0;
}

int cl__textin_fill(cl__textin *t, size_t want, size_t max_bytes, cl_error *err)
{
	size_t keep = t->len - t->pos;
	if (t->pos) {
		memmove(t->buf, t->buf + t->pos, keep);
		t->consumed += (int64_t)t->pos;
		t->pos = 0;
		t->len = keep;
	}
	if (t->buf)
		t->buf[t->len] = 0;
	if (t->eof)
		return 0;
	size_t need = (want > keep ? want : keep) + CHUNK;
	if (keep >= max_bytes)
		return cl_error_set(err, CL_EFORMAT,
				    "%s: a record is longer than %zu bytes (a missing quote or newline?)",
				    t->path, max_bytes);
	if (need + 1 > t->cap) {
		size_t cap = t->cap ? t->cap : CHUNK + 1;
		while (cap < need + 1)
			cap *= 2;
		uint8_t *b = cl_realloc(t->buf, cap);
		if (!b)
			return cl_error_set(err, CL_ENOMEM, "%s: out of memory", t->path);
		t->buf = b;
		t->cap = cap;
	}
	size_t room = t->cap - 1 - t->len;
	if (room > (size_t)INT32_MAX)
		room = (size_t)INT32_MAX;
	int got = gzread((gzFile)t->gz, t->buf + t->len, (unsigned)room);
	if (got < 0) {
		int zerr;
		const char *m = gzerror((gzFile)t->gz, &zerr);
		return cl_error_set(err, CL_EFORMAT, "%s: cannot read%s: %s", t->path,
				    zerr == Z_DATA_ERROR ? " gzip data" : "",
				    zerr == Z_ERRNO ? strerror(errno) : m);
	}
	if (got == 0) {
		int zerr;
		gzerror((gzFile)t->gz, &zerr);
		if (zerr == Z_BUF_ERROR)
			return cl_error_set(err, CL_EFORMAT,
					    "%s: gzip data is truncated", t->path);
		t->eof = true;
	}
	t->len += (size_t)got;
	t->buf[t->len] = 0;
	return 0;
}

void cl__textin_close(cl__textin *t)
{
	if (t->gz)
		gzclose((gzFile)t->gz);
	cl_free(t->buf);
	memset(t, 0, sizeof *t);
}

int cl__file_peek(const char *path, uint8_t *buf, size_t n, size_t *got)
{
	*got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t r = read(fd, buf, n);
	close(fd);
	if (r < 0)
		return -1;
	*got = (size_t)r;
	return 0;
}
