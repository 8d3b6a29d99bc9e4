/*
 * jsonl_write.c — JSON Lines writer: one object per row, keys in schema
 * order, every key present (NULL as null).
 *
 * Value spelling: integers and decimals as JSON numbers with their exact
 * digits (a decimal keeps its scale: 1.50), floats as shortest round-trip
 * numbers but NaN and infinities as the strings "nan", "inf", "-inf" (JSON
 * has no such numbers), booleans as true/false, dates, times and timestamps
 * as strings in the text form of value_text.h, strings escaped, binary as
 * the string "\\x<hex>".
 */
#include "format_impl.h"
#include "core/buf.h"
#include "core/value_text.h"

#include <errno.h>
#include <math.h>
#include <string.h>

typedef struct jw {
	cl_buf line;
	cl_buf val;
	char **keys; /* pre-escaped "\"name\":" per column */
} jw;

static int escape(cl_buf *out, const uint8_t *s, size_t n)
{
	static const char hx[] = "0123456789abcdef";
	if (cl_buf_reserve(out, n + 2))
		return CL_ENOMEM;
	out->data[out->len++] = '"';
	size_t run = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = s[i];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		if (cl_buf_append(out, s + run, i - run))
			return CL_ENOMEM;
		run = i + 1;
		char esc[8];
		size_t k = 2;
		esc[0] = '\\';
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		default:
			memcpy(esc, "\\u00", 4);
			esc[4] = hx[c >> 4];
			esc[5] = hx[c & 15];
			k = 6;
		}
		if (cl_buf_append(out, esc, k))
			return CL_ENOMEM;
	}
	if (cl_buf_append(out, s + run, n - run))
		return CL_ENOMEM;
	return cl_buf_putc(out, '"');
}

static bool is_number_type(cl_type_id id)
{
	return (id >= CL_INT8 && id <= CL_UINT64) || id == CL_DECIMAL;
}

static int jw_write(struct cl_writer *w, const cl_batch *b, cl_error *err)
{
	jw *j = w->impl;
	for (int64_t r = 0; r < b->nrows; r++) {
		cl_buf_clear(&j->line);
		if (cl_buf_putc(&j->line, '{'))
			goto oom;
		for (int c = 0; c < b->ncols; c++) {
			const cl_column *col = &b->cols[c];
			if (c && cl_buf_putc(&j->line, ','))
				goto oom;
			if (cl_buf_puts(&j->line, j->keys[c]))
				goto oom;
			if (cl_column_is_null(col, r)) {
				if (cl_buf_puts(&j->line, "null"))
					goto oom;
				continue;
			}
			cl_type_id id = col->type.id;
			if (id == CL_BOOL) {
				if (cl_buf_puts(&j->line,
						cl_column_get_bool(col, r) ? "true" : "false"))
					goto oom;
				continue;
			}
			if (id == CL_STRING) {
				size_t n;
				const uint8_t *p = cl_column_get_bytes(col, r, &n);
				if (escape(&j->line, p, n))
					goto oom;
				continue;
			}
			cl_buf_clear(&j->val);
			if (cl__value_format(&j->val, col, r))
				goto oom;
			bool bare = is_number_type(id);
			if (id == CL_FLOAT32 || id == CL_FLOAT64)
				bare = isfinite(cl_column_get_f64(col, r));
			int rc = bare ? cl_buf_append(&j->line, j->val.data, j->val.len)
				      : escape(&j->line, j->val.data, j->val.len);
			if (rc)
				goto oom;
		}
		if (cl_buf_putc(&j->line, '}') || cl_buf_putc(&j->line, '\n'))
			goto oom;
		if (fwrite(j->line.data, 1, j->line.len, w->out) != j->line.len)
			return cl_error_set(err, CL_EIO, "%s: write failed: %s", w->path,
					    strerror(errno));
	}
	return 0;
oom:
	return cl_error_set(err, CL_ENOMEM, "out of memory");
}

static int jw_finish(struct cl_writer *w, cl_error *err)
{
	return 0;
}

static void jw_free(struct cl_writer *w)
{
	jw *j = w->impl;
	if (!j)
		return;
	if (j->keys)
		for (int i = 0; i < w->schema->nfields; i++)
			cl_free(j->keys[i]);
	cl_free(j->keys);
	cl_buf_release(&j->line);
	cl_buf_release(&j->val);
	cl_free(j);
	w->impl = NULL;
}

static const cl__writer_ops jw_ops = {jw_write, jw_finish, jw_free};

int cl__jsonl_writer_open(struct cl_writer *w, cl_error *err)
{
	jw *j = cl_calloc(1, sizeof *j);
	if (!j)
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	w->impl = j;
	w->ops = &jw_ops;
	j->keys = cl_calloc((size_t)w->schema->nfields + 1, sizeof *j->keys);
	if (!j->keys)
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	for (int i = 0; i < w->schema->nfields; i++) {
		cl_buf k = {0};
		const char *name = w->schema->fields[i].name;
		if (escape(&k, (const uint8_t *)name, strlen(name)) || cl_buf_putc(&k, ':')) {
			cl_buf_release(&k);
			return cl_error_set(err, CL_ENOMEM, "out of memory");
		}
		j->keys[i] = (char *)cl_buf_detach(&k, NULL);
	}
	return 0;
}
