/*
 * dms_merge_seq.c — the sequence index of a merged table: for every key a
 * change ever touched, the sequence of its last change and whether that
 * change deleted the row (a tombstone). See changelake/dms_merge.h for the
 * design; this file reads and writes the index parts.
 *
 * A part is a text object:
 *   line 1   "changelake-dms-seq 1"
 *   line 2   the column names, tab separated (see cl_dms_seq_schema)
 *   then     one line per entry, values tab separated, spelled as the CSV
 *            writer spells them (cl_value_text), with '%', tab, LF, CR and
 *            '\' written %25, %09, %0A, %0D, %5C; NULL is "\N".
 * Parts are immutable once written (put-if-absent under a fresh name) and
 * only a commit that names them in its consumed-file manifest makes them
 * part of the table, so a crashed run's part is garbage, never read.
 *
 * Invariant: the entries of one part have distinct keys; across parts a
 * key may appear several times and the greatest sequence counts.
 */
#include "changelake/dms_merge.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/value_text.h"

#define SEQ_MAGIC "changelake-dms-seq 1"

static int oom(cl_error *err)
{
	return cl_error_set(err, CL_ENOMEM, "out of memory");
}

int cl_dms_seq_schema(cl_schema **out, const cl_schema *table, const char *const *keys,
		      int nkeys, const char *sequence_by, cl_error *err)
{
	*out = NULL;
	cl_schema *s;
	int rc = cl_schema_create(&s, err);
	for (int k = 0; !rc && k <= nkeys; k++) {
		const char *name = k < nkeys ? keys[k] : sequence_by;
		if (!name)
			continue;
		int i = cl_schema_find(table, name);
		if (i < 0)
			rc = cl_error_set(err, CL_ESCHEMA, "column '%s' is not in the table", name);
		else
			rc = cl_schema_add(s, name, table->fields[i].type, true, err);
	}
	rc = rc ? rc : cl_schema_add(s, CL_MERGE_SEQ_FILE, cl_type_make(CL_INT64), true, err);
	rc = rc ? rc : cl_schema_add(s, CL_MERGE_SEQ_ROW, cl_type_make(CL_INT64), true, err);
	rc = rc ? rc : cl_schema_add(s, CL_DMS_SEQ_OP, cl_type_make(CL_STRING), true, err);
	if (rc) {
		cl_schema_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

static int put_escaped(cl_buf *b, const char *s, size_t n)
{
	int rc = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '%' || c == '\t' || c == '\n' || c == '\r' || c == '\\')
			rc = cl_buf_printf(b, "%%%02X", c);
		else
			rc = cl_buf_putc(b, (char)c);
	}
	return rc;
}

int cl_dms_seq_write(cl_store *st, char **key_out, const cl_schema *schema,
		     const cl_batch *b, cl_error *err)
{
	*key_out = NULL;
	cl_buf text = {0};
	int rc = cl_buf_puts(&text, SEQ_MAGIC "\n") ? oom(err) : 0;
	for (int c = 0; !rc && c < schema->nfields; c++)
		if ((c && cl_buf_putc(&text, '\t')) ||
		    put_escaped(&text, schema->fields[c].name, strlen(schema->fields[c].name)))
			rc = oom(err);
	if (!rc && cl_buf_putc(&text, '\n'))
		rc = oom(err);
	for (int64_t r = 0; !rc && r < b->nrows; r++) {
		for (int c = 0; !rc && c < schema->nfields; c++) {
			char *v = NULL;
			size_t n = 0;
			if (c && cl_buf_putc(&text, '\t')) {
				rc = oom(err);
				break;
			}
			if ((rc = cl_value_text(&b->cols[c], r, &v, &n, err)))
				break;
			if (!v ? cl_buf_puts(&text, "\\N") : put_escaped(&text, v, n))
				rc = oom(err);
			cl_free(v);
		}
		if (!rc && cl_buf_putc(&text, '\n'))
			rc = oom(err);
	}
	char key[128];
	for (int attempt = 0; !rc; attempt++) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		snprintf(key, sizeof key, "_changelake/dms/seq-%020lld-%09ld-%d.tsv",
			 (long long)ts.tv_sec, (long)ts.tv_nsec, attempt);
		rc = cl_store_put_if_absent(st, key, text.data, text.len, err);
		if (rc == CL_ECONFLICT && attempt < 16) {
			rc = 0;
			continue;
		}
		break;
	}
	cl_buf_release(&text);
	if (!rc && !(*key_out = cl_strdup(key)))
		rc = oom(err);
	return rc;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10
		: c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Unescape s[0..n) into out (cleared first); -1 on a bad escape. */
static int unescape(cl_buf *out, const char *s, size_t n)
{
	cl_buf_clear(out);
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (ch == '%') {
			int hi = i + 2 < n ? hexval(s[i + 1]) : -1;
			int lo = hi >= 0 ? hexval(s[i + 2]) : -1;
			if (lo < 0)
				return -1;
			ch = (char)(hi << 4 | lo);
			i += 2;
		}
		if (cl_buf_putc(out, ch))
			return CL_ENOMEM;
	}
	return cl_buf_putc(out, 0) ? CL_ENOMEM : 0;
}

int cl_dms_seq_read(cl_store *st, const char *key, const cl_schema *types,
		    cl_schema **schema_out, cl_batch **out, cl_error *err)
{
	*schema_out = NULL;
	*out = NULL;
	uint8_t *data;
	size_t n;
	int rc = cl_store_get(st, key, &data, &n, err);
	if (rc == CL_ENOTFOUND)
		return cl_error_set(err, CL_EFORMAT, "%s/%s: a sequence-index part the table's "
				    "manifest names is missing", cl_store_location(st), key);
	if (rc)
		return rc;
	const char *text = (const char *)data;
	cl_schema *schema = NULL;
	cl_batch *b = NULL;
	cl_buf v = {0};
	size_t ml = strlen(SEQ_MAGIC), pos = ml + 1;
	int line = 1;
	if (n < ml + 1 || memcmp(text, SEQ_MAGIC, ml) || text[ml] != '\n') {
		rc = cl_error_set(err, CL_EFORMAT, "not a changelake sequence index (version 1)");
		goto fail;
	}
	if ((rc = cl_schema_create(&schema, err)))
		goto fail;
	while (pos < n) {
		line++;
		const char *s = text + pos;
		const char *nl = memchr(s, '\n', n - pos);
		if (!nl) {
			rc = cl_error_set(err, CL_EFORMAT, "line %d: truncated", line);
			goto fail;
		}
		size_t len = (size_t)(nl - s);
		pos += len + 1;
		int col = 0;
		const char *p = s, *end = s + len;
		for (;;) {
			const char *t = memchr(p, '\t', (size_t)(end - p));
			if (!t)
				t = end;
			if ((rc = unescape(&v, p, (size_t)(t - p)))) {
				rc = rc == CL_ENOMEM ? oom(err)
						     : cl_error_set(err, CL_EFORMAT, "line %d: bad escape",
								    line);
				goto fail;
			}
			const char *val = (const char *)v.data;
			if (line == 2) {
				int i = cl_schema_find(types, val);
				cl_type ty = i >= 0 ? types->fields[i].type : cl_type_make(CL_STRING);
				if (!strcmp(val, CL_MERGE_SEQ_FILE) || !strcmp(val, CL_MERGE_SEQ_ROW))
					ty = cl_type_make(CL_INT64);
				else if (strcmp(val, CL_DMS_SEQ_OP) && i < 0) {
					rc = cl_error_set(err, CL_EFORMAT, "column '%s' is not in the "
							  "table", val);
					goto fail;
				}
				if ((rc = cl_schema_add(schema, val, ty, true, err)))
					goto fail;
			} else if (col >= schema->nfields) {
				rc = cl_error_set(err, CL_EFORMAT, "line %d: more than %d fields", line,
						  schema->nfields);
				goto fail;
			} else if (!strcmp(val, "\\N") && t - p == 2) {
				rc = cl_column_append_null(&b->cols[col], err);
			} else {
				rc = cl__column_append_text(&b->cols[col], val, v.len - 1, err);
				if (rc) {
					cl_error_prefix(err, "line %d, column '%s': ", line,
							schema->fields[col].name);
					goto fail;
				}
			}
			if (rc)
				goto fail;
			col++;
			if (t == end)
				break;
			p = t + 1;
		}
		if (line == 2) {
			if (cl_schema_find(schema, CL_MERGE_SEQ_FILE) < 0 ||
			    cl_schema_find(schema, CL_MERGE_SEQ_ROW) < 0 ||
			    cl_schema_find(schema, CL_DMS_SEQ_OP) < 0) {
				rc = cl_error_set(err, CL_EFORMAT, "the sequence columns are missing");
				goto fail;
			}
			if ((rc = cl_batch_create(&b, schema, 1024, err)))
				goto fail;
		} else if (col != schema->nfields) {
			rc = cl_error_set(err, CL_EFORMAT, "line %d: %d fields, expected %d", line,
					  col, schema->nfields);
			goto fail;
		} else {
			b->nrows++;
		}
	}
	if (!b) {
		rc = cl_error_set(err, CL_EFORMAT, "no column names");
		goto fail;
	}
	cl_free(data);
	cl_buf_release(&v);
	*schema_out = schema;
	*out = b;
	return 0;
fail:
	cl_error_prefix(err, "%s/%s: ", cl_store_location(st), key);
	cl_free(data);
	cl_buf_release(&v);
	cl_batch_free(b);
	cl_schema_free(schema);
	return rc;
}
