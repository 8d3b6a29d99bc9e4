/*
 * csv_write.c — the CSV writer: column batches out as RFC 4180 text.
 *
 * Values are spelled by cl__value_format (value_text.h), so every reader of
 * changelake's text agrees on them. A field is quoted (quotes doubled) when
 * it contains the delimiter, a quote, CR or LF, when it is a string that is
 * empty or starts or ends with a space or tab, when it equals the NULL
 * marker, or when it is "\." (PostgreSQL's end-of-data line). NULL is
 * written as an empty unquoted field, or as the NULL marker. So the empty
 * string ("") and NULL stay apart, and DuckDB's read_csv, PostgreSQL's COPY
 * ... CSV and changelake's own reader read back exactly what was written.
 * Lines end with LF. The header line is written when the writer opens, so a
 * table without rows still gets its header.
 *
 * Output is assembled in a buffer and handed to w->out in chunks of about
 * 1 MiB.
 */
#include "format_impl.h"

#include "core/value_text.h"

#include <errno.h>
#include <string.h>

#define FLUSH_AT (1u << 20)

typedef struct csv_writer {
	cl_buf out;   /* pending output */
	cl_buf val;   /* one value's text */
	uint8_t delim;
	char *null_marker; /* owned copy, or NULL */
	size_t null_len;
	uint8_t special[256]; /* bytes that force quoting */
} csv_writer;

static int oom(cl_error *err)
{
	return cl_error_set(err, CL_ENOMEM, "out of memory");
}

static int flush_out(struct cl_writer *w, csv_writer *c, cl_error *err)
{
	if (c->out.len && fwrite(c->out.data, 1, c->out.len, w->out) != c->out.len)
		return cl_error_set(err, CL_EIO, "%s: write failed: %s", w->path,
				    strerror(errno));
	cl_buf_clear(&c->out);
	return 0;
}

/* Append s[0..n) as one field, quoted when needed. */
static int put_field(csv_writer *c, const uint8_t *s, size_t n, bool is_string)
{
	bool quote = false;
	for (size_t i = 0; i < n && !quote; i++)
		quote = c->special[s[i]];
	if (!quote && is_string)
		quote = n == 0 || s[0] == ' ' || s[0] == '\t' || s[n - 1] == ' ' ||
			s[n - 1] == '\t';
	if (!quote && c->null_marker)
		quote = n == c->null_len && memcmp(s, c->null_marker, n) == 0;
	if (!quote)
		quote = n == 2 && s[0] == '\\' && s[1] == '.';
	if (!quote)
		return cl_buf_append(&c->out, s, n);
	if (cl_buf_reserve(&c->out, 2 * n + 2))
		return CL_ENOMEM;
	uint8_t *d = c->out.data + c->out.len;
	*d++ = '"';
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"')
			*d++ = '"';
		*d++ = s[i];
	}
	*d++ = '"';
	c->out.len = (size_t)(d - c->out.data);
	c->out.data[c->out.len] = 0;
	return 0;
}

static int csv_write(struct cl_writer *w, const cl_batch *b, cl_error *err)
{
	csv_writer *c = w->impl;
	for (int64_t row = 0; row < b->nrows; row++) {
		for (int col = 0; col < b->ncols; col++) {
			const cl_column *cc = &b->cols[col];
			if (col && cl_buf_putc(&c->out, (char)c->delim))
				return oom(err);
			if (cl_column_is_null(cc, row)) {
				if (c->null_marker &&
				    cl_buf_append(&c->out, c->null_marker, c->null_len))
					return oom(err);
				continue;
			}
			cl_buf_clear(&c->val);
			int rc = cl__value_format(&c->val, cc, row);
			if (!rc)
				rc = put_field(c, c->val.data ? c->val.data : (const uint8_t *)"",
					       c->val.len, cc->type.id == CL_STRING);
			if (rc)
				return oom(err);
		}
		if (cl_buf_putc(&c->out, '\n'))
			return oom(err);
		if (c->out.len >= FLUSH_AT) {
			int rc = flush_out(w, c, err);
			if (rc)
				return rc;
		}
	}
	return 0;
}

static int csv_finish(struct cl_writer *w, cl_error *err)
{
	return flush_out(w, w->impl, err);
}

static void csv_free(struct cl_writer *w)
{
	csv_writer *c = w->impl;
	if (!c)
		return;
	cl_buf_release(&c->out);
	cl_buf_release(&c->val);
	cl_free(c->null_marker);
	cl_free(c);
	w->impl = NULL;
}

static const cl__writer_ops csv_writer_ops = {csv_write, csv_finish, csv_free};

int cl__csv_writer_open(struct cl_writer *w, cl_error *err)
{
	char d = w->opts.delimiter ? w->opts.delimiter : ',';
	if (d == '"' || d == '\n' || d == '\r')
		return cl_error_set(err, CL_EINVAL,
				    "%s: the delimiter cannot be a quote or a line end",
				    w->path);
	csv_writer *c = cl_calloc(1, sizeof *c);
	if (!c)
		return oom(err);
	w->impl = c;
	w->ops = &csv_writer_ops;
	c->delim = (uint8_t)d;
	if (w->opts.null_marker && w->opts.null_marker[0]) {
		c->null_marker = cl_strdup(w->opts.null_marker);
		if (!c->null_marker)
			return oom(err);
		c->null_len = strlen(c->null_marker);
	}
	c->special[c->delim] = c->special['"'] = c->special['\r'] =
		c->special['\n'] = 1;
	if (!w->opts.header)
		return 0;
	for (int i = 0; i < w->schema->nfields; i++) {
		const char *name = w->schema->fields[i].name;
		if ((i && cl_buf_putc(&c->out, (char)c->delim)) ||
		    put_field(c, (const uint8_t *)name, strlen(name), true))
			return oom(err);
	}
	if (cl_buf_putc(&c->out, '\n'))
		return oom(err);
	return 0;
}
