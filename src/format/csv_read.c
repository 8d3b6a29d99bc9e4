/*
 * csv_read.c — the CSV reader: RFC 4180 text in, column batches out.
 *
 * Input: any one-byte delimiter (default ',', '\t' for *.tsv names), the
 * quote character doubled inside quoted fields, quoted fields spanning lines,
 * LF, CRLF or lone CR line ends, an optional UTF-8 BOM, gzip transparently
 * (textin.c). A quote inside an unquoted field is an ordinary character
 * (5'10" stays as it is); after a closing quote only a delimiter or a line
 * end may follow.
 *
 * Columns: with a header, names come from it (a blank name becomes
 * columnN, N the 0-based position; duplicates are an error). Without one,
 * names come from the declared schema, else they are column0..columnN-1.
 * With a declared schema and a header, header names are matched to the
 * schema by exact name (the batches follow the schema's order) and every
 * missing or extra name is reported. Types come from the schema, else from
 * inference over the first sample_rows records (infer.h), else all strings.
 *
 * NULL: an unquoted empty field (or, with null_marker set, an unquoted
 * field equal to the marker) is NULL; a quoted field never is, so "" is the
 * empty string. An unquoted empty field in a column that is not a string is
 * NULL whatever the marker. A blank line is skipped when records have more
 * than one field (with one field it is a NULL row).
 *
 * Parsing: a record is first scanned into field spans over the input buffer
 * (no copies, no per-field allocation) with table-driven loops (no per-byte
 * calls); only when the whole record is in the buffer are its fields
 * converted, and only then are escaped quotes collapsed in place. If the
 * buffer ends inside a record, it is refilled (growing geometrically) and
 * the record is scanned again from its start, so the scan never mutates
 * anything. buf[len] is always 0 (textin's sentinel), which is in every
 * stop table, so scans need no bounds check per byte; a real NUL byte is
 * told from the sentinel by its position and reported as "not a text file".
 *
 * Inference sampling: the sampled records are parsed once for inference
 * and once more for the data. With sample_rows > 0 (or standard input) the
 * sampled bytes stay in the buffer (`keep`), up to SAMPLE_KEEP_MAX; with
 * sample_rows == 0 on a file, or a sample bigger than that, the file is
 * read again from the start. Standard input cannot be, so there the
 * sample ends at SAMPLE_KEEP_MAX bytes.
 *
 * Line numbers are physical lines (newlines inside quoted fields count);
 * errors name the file, the line where the offending field starts and the
 * column's name.
 */
#include "format_impl.h"
#include "infer.h"
#include "textin.h"

#include "core/value_text.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Most bytes of sampled input kept in memory for the second pass. */
#define SAMPLE_KEEP_MAX ((size_t)64 << 20)
#define CSV_MAX_COLUMNS 20000

typedef struct csv_field {
	size_t off, len; /* content in t.buf, without the quotes */
	uint32_t nl;     /* line ends in the record before this field */
	bool quoted, escaped;
} csv_field;

typedef struct csv_reader {
	cl__textin t;
	const char *path; /* borrowed from the cl_reader */
	uint8_t delim, quote;
	bool has_quote;
	bool header;
	char *null_marker; /* owned copy, or NULL */
	size_t null_len;
	int64_t batch_rows;
	size_t max_line;
	int ncols;     /* fields per record */
	int *map;      /* field i -> batch column */
	const cl_schema *names; /* the reader's schema once open, for messages */
	cl_batch *batch;
	csv_field *f;
	int nf, fcap;
	size_t cur;        /* start of the next record in t.buf */
	int64_t line;      /* physical line of the record at cur (1-based) */
	size_t data_pos;   /* first data record (kept while sampling) */
	int64_t data_line;
	bool keep;         /* sampling: keep bytes from data_pos on */
	/* the record just scanned */
	size_t rec_next;
	uint32_t rec_nl;
	int64_t open_quote_line; /* when the buffer ended inside a quoted field */
	int64_t sampled;   /* records the types were inferred from; -1: not inferred */
	const char *width_from; /* what fixes the number of fields, for messages */
	int64_t rows;      /* data records converted so far */
	bool done, failed;
	uint64_t dmask, qmask; /* delimiter / quote in every byte, for skip_plain */
	uint8_t spec[256];  /* stops an unquoted field */
	uint8_t specq[256]; /* stops a quoted field */
} csv_reader;

static int oom(cl_error *err)
{
	return cl_error_set(err, CL_ENOMEM, "out of memory");
}

/* Append more text to the message already in err. */
static void error_suffix(cl_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void error_suffix(cl_error *err, const char *fmt, ...)
{
	if (!err)
		return;
	size_t n = strlen(err->message);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->message + n, sizeof err->message - n, fmt, ap);
	va_end(ap);
}

static int nul_error(csv_reader *c, size_t at, int64_t line, cl_error *err)
{
	return cl_error_set(err, CL_EFORMAT,
			    "%s: line %lld: NUL byte at byte offset %lld: this is not a text file (a binary file with a .csv name?)",
			    c->path, (long long)line,
			    (long long)(c->t.consumed + (int64_t)at));
}

static int push_field(csv_reader *c, const csv_field *fld, cl_error *err)
{
	if (c->nf >= CSV_MAX_COLUMNS)
		return cl_error_set(err, CL_EFORMAT,
				    "%s: line %lld: more than %d fields in a record",
				    c->path, (long long)c->line, CSV_MAX_COLUMNS);
	if (c->nf == c->fcap) {
		int cap = c->fcap ? c->fcap * 2 : 64;
		csv_field *n = cl_realloc(c->f, (size_t)cap * sizeof *n);
		if (!n)
			return oom(err);
		c->f = n;
		c->fcap = cap;
	}
	c->f[c->nf++] = *fld;
	return 0;
}

/*
 * Skip 8 bytes at a time (SWAR) while none of them is the byte in every
 * lane of `mask` or below 0x0e (which covers NUL, LF and CR, and stops
 * early on tabs — harmless: the byte loop after this finds the real stop).
 */
static inline size_t skip_plain(const uint8_t *b, size_t p, size_t end,
				uint64_t mask)
{
	const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
	while (p + 8 <= end) {
		uint64_t w;
		memcpy(&w, b + p, 8);
		uint64_t x = w ^ mask;
		if ((((x - ones) & ~x) | ((w - ones * 0x0e) & ~w)) & high)
			break;
		p += 8;
	}
	return p;
}

/*
 * Scan the record starting at cur into c->f. Returns 1 when the record is
 * complete (rec_next / rec_nl set), 0 when the buffer ends inside it and
 * more input may follow, or an error.
 */
static int scan_record(csv_reader *c, cl_error *err)
{
	const uint8_t *b = c->t.buf;
	const size_t end = c->t.len;
	const bool eof = c->t.eof;
	const uint8_t delim = c->delim, quote = c->quote;
	size_t p = c->cur;
	uint32_t nl = 0;
	int rc;
	c->nf = 0;
	c->open_quote_line = -1;
	for (;;) {
		csv_field fld = {.nl = nl};
		if (c->has_quote && p < end && b[p] == quote) {
			size_t q = p + 1;
			for (;;) {
				q = skip_plain(b, q, end, c->qmask);
				while (!c->specq[b[q]])
					q++;
				if (q >= end) {
					if (!eof) {
						c->open_quote_line = c->line + fld.nl;
						return 0;
					}
					return cl_error_set(err, CL_EFORMAT,
							    "%s: line %lld: unterminated quoted field (the quote opened here is never closed)",
							    c->path, (long long)(c->line + fld.nl));
				}
				uint8_t ch = b[q];
				if (ch == quote) {
					if (q + 1 < end && b[q + 1] == quote) {
						fld.escaped = true;
						q += 2;
						continue;
					}
					if (q + 1 >= end && !eof) {
						c->open_quote_line = c->line + fld.nl;
						return 0;
					}
					break;
				}
				if (ch == '\n') {
					nl++;
					q++;
					continue;
				}
				if (ch == '\r') {
					if (q + 1 >= end && !eof) {
						c->open_quote_line = c->line + fld.nl;
						return 0;
					}
					if (q + 1 >= end || b[q + 1] != '\n')
						nl++;
					q++;
					continue;
				}
				return nul_error(c, q, c->line + nl, err);
			}
			fld.off = p + 1;
			fld.len = q - p - 1;
			fld.quoted = true;
			p = q + 1;
			if (p < end && b[p] != delim && b[p] != '\n' && b[p] != '\r') {
				if (b[p] == 0)
					return nul_error(c, p, c->line + nl, err);
				char shown[8];
				if (b[p] >= 0x20 && b[p] < 0x7f)
					snprintf(shown, sizeof shown, "'%c'", b[p]);
				else
					snprintf(shown, sizeof shown, "0x%02x", b[p]);
				char where[300];
				if (c->names && c->nf < c->ncols)
					snprintf(where, sizeof where, "column '%.200s'",
						 c->names->fields[c->map[c->nf]].name);
				else
					snprintf(where, sizeof where, "field %d", c->nf + 1);
				return cl_error_set(err, CL_EFORMAT,
						    "%s: line %lld, %s: unexpected %s after the closing quote (a quote inside a quoted field must be doubled)",
						    c->path, (long long)(c->line + nl), where, shown);
			}
		} else {
			size_t s = p;
			p = skip_plain(b, p, end, c->dmask);
			while (!c->spec[b[p]])
				p++;
			if (p < end && b[p] == 0)
				return nul_error(c, p, c->line + nl, err);
			fld.off = s;
			fld.len = p - s;
		}
		if ((rc = push_field(c, &fld, err)))
			return rc;
		if (p >= end) {
			if (!eof)
				return 0;
			c->rec_next = p;
			break;
		}
		uint8_t ch = b[p];
		if (ch == delim) {
			p++;
			continue;
		}
		if (ch == '\n') {
			c->rec_next = p + 1;
			nl++;
			break;
		}
		/* '\r', alone or before '\n' */
		if (p + 1 >= end && !eof)
			return 0;
		c->rec_next = p + 1 + (p + 1 < end && b[p + 1] == '\n');
		nl++;
		break;
	}
	c->rec_nl = nl;
	return 1;
}

/* Read more input, keeping the current record (and the sample if keep). */
static int refill(csv_reader *c, cl_error *err)
{
	if (!c->keep)
		c->t.pos = c->cur;
	size_t shift = c->t.pos;
	size_t unread = c->t.len - c->t.pos;
	/* Ask for twice what is unread, so a long record costs O(n) rescans. */
	int rc = cl__textin_fill(&c->t, unread * 2, SIZE_MAX / 4, err);
	if (rc)
		return rc;
	c->cur -= shift;
	c->data_pos -= c->data_pos >= shift ? shift : c->data_pos;
	return 0;
}

/* Scan the next record into c->f: 1 found, 0 end of input, or an error. */
static int next_record(csv_reader *c, cl_error *err)
{
	for (;;) {
		if (c->cur >= c->t.len && c->t.eof)
			return 0;
		if (c->cur < c->t.len) {
			int rc = scan_record(c, err);
			if (rc < 0)
				return rc;
			size_t span = (rc == 1 ? c->rec_next : c->t.len) - c->cur;
			if (span > c->max_line) {
				cl_error_set(err, CL_EFORMAT,
					     "%s: line %lld: record longer than %zu bytes",
					     c->path, (long long)c->line, c->max_line);
				if (c->open_quote_line > 0)
					error_suffix(err,
						     " (inside a quoted field opened on line %lld: a missing closing quote?)",
						     (long long)c->open_quote_line);
				return CL_EFORMAT;
			}
			if (rc == 1)
				return 1;
		}
		int rc = refill(c, err);
		if (rc)
			return rc;
	}
}

static void consume_record(csv_reader *c)
{
	c->cur = c->rec_next;
	c->line += c->rec_nl;
}

/* A blank line in a file whose records have several fields. */
static bool blank_record(const csv_reader *c)
{
	return c->ncols != 1 && c->nf == 1 && c->f[0].len == 0 && !c->f[0].quoted;
}

/* Collapse doubled quotes of field content in place; returns the new length. */
static size_t unescape(uint8_t *s, size_t n, uint8_t quote)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		s[o++] = s[i];
		if (s[i] == quote && i + 1 < n && s[i + 1] == quote)
			i++;
	}
	return o;
}

static bool field_is_null(const csv_reader *c, const csv_field *fld,
			  const uint8_t *s)
{
	if (fld->quoted)
		return false;
	if (c->null_marker)
		return fld->len == c->null_len && memcmp(s, c->null_marker, c->null_len) == 0;
	return fld->len == 0;
}

static int ragged(csv_reader *c, cl_error *err)
{
	return cl_error_set(err, CL_EFORMAT,
			    "%s: line %lld: %d field%s, expected %d (%s)", c->path,
			    (long long)c->line, c->nf, c->nf == 1 ? "" : "s", c->ncols,
			    c->width_from);
}

/* Append the scanned record to the batch. */
static int convert_record(csv_reader *c, struct cl_reader *r, cl_error *err)
{
	if (c->nf != c->ncols)
		return ragged(c, err);
	uint8_t *b = c->t.buf;
	for (int i = 0; i < c->ncols; i++) {
		csv_field *fld = &c->f[i];
		int col = c->map[i];
		cl_column *cc = &c->batch->cols[col];
		const cl_field *sf = &r->schema->fields[col];
		uint8_t *s = b + fld->off;
		size_t n = fld->len;
		int rc;
		bool null = field_is_null(c, fld, s) ||
			    (n == 0 && !fld->quoted && !cl_type_is_var(cc->type));
		if (null) {
			if (!sf->nullable)
				return cl_error_set(err, CL_ETYPE,
						    "%s: line %lld, column '%s': NULL in a NOT NULL column",
						    c->path, (long long)(c->line + fld->nl),
						    sf->name);
			rc = cl_column_append_null(cc, err);
		} else {
			if (fld->escaped)
				n = unescape(s, n, c->quote);
			rc = cl__column_append_text(cc, (const char *)s, n, err);
		}
		if (rc == CL_ENOMEM)
			return rc;
		if (rc) {
			cl_error_prefix(err, "%s: line %lld, column '%s': ", c->path,
					(long long)(c->line + fld->nl), sf->name);
			if (c->sampled >= 0 && c->rows >= c->sampled)
				error_suffix(err,
					     " (the column's type was inferred from the first %lld rows; declare it with --schema, or infer from the whole file with --sample-rows 0)",
					     (long long)c->sampled);
			return rc;
		}
	}
	c->batch->nrows++;
	c->rows++;
	return 0;
}

static int csv_next(struct cl_reader *r, cl_batch **out, cl_error *err)
{
	csv_reader *c = r->impl;
	*out = NULL;
	if (c->failed)
		return cl_error_set(err, CL_EINVAL, "%s: reader failed earlier",
				    c->path);
	if (c->done)
		return 0;
	cl_batch_clear(c->batch);
	int rc = 0;
	while (c->batch->nrows < c->batch_rows) {
		rc = next_record(c, err);
		if (rc < 0)
			goto fail;
		if (rc == 0) {
			c->done = true;
			break;
		}
		if (!blank_record(c) && (rc = convert_record(c, r, err)))
			goto fail;
		consume_record(c);
	}
	if (c->batch->nrows > 0)
		*out = c->batch;
	return 0;
fail:
	c->failed = true;
	return rc;
}

static void csv_free(struct cl_reader *r)
{
	csv_reader *c = r->impl;
	if (!c)
		return;
	cl__textin_close(&c->t);
	cl_batch_free(c->batch);
	cl_free(c->map);
	cl_free(c->f);
	cl_free(c->null_marker);
	cl_free(c);
	r->impl = NULL;
}

static const cl__reader_ops csv_ops = {csv_next, csv_free};

/* Open (or reopen) the input, skip a BOM and the header record. */
static int start_input(csv_reader *c, bool skip_header, cl_error *err)
{
	int rc = cl__textin_open(&c->t, c->path, err);
	if (rc)
		return rc;
	c->cur = 0;
	c->line = 1;
	while (!c->t.eof && c->t.len < 3)
		if ((rc = refill(c, err)))
			return rc;
	if (c->t.len >= 3 && memcmp(c->t.buf, "\xef\xbb\xbf", 3) == 0)
		c->cur = 3;
	if (skip_header) {
		rc = next_record(c, err);
		if (rc < 0)
			return rc;
		if (rc == 1)
			consume_record(c);
	}
	c->data_pos = c->cur;
	c->data_line = c->line;
	return 0;
}

static bool ends_with_tsv(const char *p)
{
	size_t n = strlen(p);
	if (n > 3 && strcmp(p + n - 3, ".gz") == 0)
		n -= 3;
	return n > 4 && strncmp(p + n - 4, ".tsv", 4) == 0;
}

/* Names from the header record just scanned, into *names (schema of strings). */
static int header_names(csv_reader *c, cl_schema *names, cl_error *err)
{
	for (int i = 0; i < c->nf; i++) {
		csv_field *fld = &c->f[i];
		uint8_t *s = c->t.buf + fld->off;
		size_t n = fld->escaped ? unescape(s, fld->len, c->quote) : fld->len;
		char gen[32];
		char *name;
		if (n == 0) {
			snprintf(gen, sizeof gen, "column%d", i);
			name = gen;
		} else {
			size_t bad = cl__utf8_check(s, n);
			if (bad != n)
				return cl_error_set(err, CL_EFORMAT,
						    "%s: line %lld, field %d: header name is not valid UTF-8 (byte %zu; not a text file?)",
						    c->path, (long long)(c->line + fld->nl),
						    i + 1, bad + 1);
			name = cl_strndup((const char *)s, n);
			if (!name)
				return oom(err);
		}
		int rc = 0;
		int dup = cl_schema_find(names, name);
		if (dup >= 0)
			rc = cl_error_set(err, CL_ESCHEMA,
					  "%s: line %lld: duplicate column name '%s' (fields %d and %d of the header)",
					  c->path, (long long)c->line, name, dup + 1, i + 1);
		else
			rc = cl_schema_add(names, name, cl_type_make(CL_STRING), true, err);
		if (name != gen)
			cl_free(name);
		if (rc)
			return rc;
	}
	return 0;
}

/* Map header names onto the declared schema; report all mismatches. */
static int map_to_schema(csv_reader *c, const cl_schema *names,
			 const cl_schema *decl, cl_error *err)
{
	bool *used = cl_calloc((size_t)decl->nfields + 1, sizeof *used);
	if (!used)
		return oom(err);
	char missing[400] = "", extra[400] = "";
	size_t nm = 0, ne = 0;
	for (int i = 0; i < names->nfields; i++) {
		int j = cl_schema_find(decl, names->fields[i].name);
		if (j < 0) {
			ne += (size_t)snprintf(extra + ne, ne < sizeof extra ? sizeof extra - ne : 0,
					       "%s'%s'", ne ? ", " : "",
					       names->fields[i].name);
			if (ne > sizeof extra)
				ne = sizeof extra;
			continue;
		}
		used[j] = true;
		c->map[i] = j;
	}
	for (int j = 0; j < decl->nfields; j++) {
		if (used[j])
			continue;
		nm += (size_t)snprintf(missing + nm, nm < sizeof missing ? sizeof missing - nm : 0,
				       "%s'%s'", nm ? ", " : "", decl->fields[j].name);
		if (nm > sizeof missing)
			nm = sizeof missing;
	}
	cl_free(used);
	if (!nm && !ne)
		return 0;
	cl_error_set(err, CL_ESCHEMA, "%s: the header does not match the schema:",
		     c->path);
	if (nm)
		error_suffix(err, " missing column%s %s%s", strchr(missing, ',') ? "s" : "",
			     missing, ne ? ";" : "");
	if (ne)
		error_suffix(err, " column%s not in the schema %s",
			     strchr(extra, ',') ? "s" : "", extra);
	return CL_ESCHEMA;
}

/* Infer the types of `names` from the records after the header. */
static int sample_types(csv_reader *c, cl_schema *names,
			int64_t sample_rows, cl_error *err)
{
	cl__infer *inf = NULL;
	int rc = cl__infer_create(&inf, c->ncols, err);
	if (rc)
		return rc;
	bool can_reopen = strcmp(c->path, "-") != 0;
	bool reopen = sample_rows == 0 && can_reopen;
	c->keep = !reopen;
	c->t.pos = c->data_pos;
	int64_t n = 0;
	while (sample_rows == 0 || n < sample_rows) {
		/* Bound the bytes kept for the second pass: past the limit a
		 * file is read again instead, standard input ends the sample. */
		if (c->keep && c->cur - c->data_pos > SAMPLE_KEEP_MAX) {
			if (!can_reopen)
				break;
			c->keep = false;
			reopen = true;
		}
		rc = next_record(c, err);
		if (rc < 0)
			goto done;
		if (rc == 0)
			break;
		if (!blank_record(c)) {
			if (c->nf != c->ncols) {
				rc = ragged(c, err);
				goto done;
			}
			for (int i = 0; i < c->ncols; i++) {
				const csv_field *fld = &c->f[i];
				const uint8_t *s = c->t.buf + fld->off;
				/* An unquoted empty field is NULL unless the
				 * column becomes a string: not evidence. */
				if (!field_is_null(c, fld, s) && (fld->len || fld->quoted))
					cl__infer_add(inf, i, (const char *)s, fld->len, false);
			}
			n++;
		}
		consume_record(c);
	}
	for (int i = 0; i < c->ncols; i++)
		names->fields[i].type = cl__infer_type(inf, i);
	c->sampled = n;
	rc = 0;
	if (reopen) {
		cl__textin_close(&c->t);
		rc = start_input(c, c->header, err);
	} else {
		c->cur = c->data_pos;
		c->line = c->data_line;
	}
	c->keep = false;
done:
	cl__infer_free(inf);
	return rc;
}

int cl__csv_reader_open(struct cl_reader *r, const cl_read_options *o, cl_error *err)
{
	csv_reader *c = cl_calloc(1, sizeof *c);
	if (!c)
		return oom(err);
	r->impl = c;
	r->ops = &csv_ops;
	c->path = r->path;
	c->sampled = -1;
	c->delim = (uint8_t)(o->delimiter ? o->delimiter : ends_with_tsv(r->path) ? '\t' : ',');
	c->quote = (uint8_t)o->quote;
	c->has_quote = o->quote != 0;
	c->header = o->header != 0;
	c->batch_rows = o->batch_rows > 0 ? o->batch_rows : 65536;
	c->max_line = o->max_line_bytes > 0 ? (size_t)o->max_line_bytes : (size_t)64 << 20;
	if (c->delim == '\n' || c->delim == '\r' || c->delim == 0 ||
	    (c->has_quote && c->delim == c->quote) || c->quote == '\n' ||
	    c->quote == '\r')
		return cl_error_set(err, CL_EINVAL,
				    "%s: the delimiter and quote must be different characters, neither a line end",
				    r->path);
	if (o->null_marker) {
		c->null_marker = cl_strdup(o->null_marker);
		if (!c->null_marker)
			return oom(err);
		c->null_len = strlen(c->null_marker);
	}
	c->spec[c->delim] = c->spec['\n'] = c->spec['\r'] = c->spec[0] = 1;
	if (c->has_quote)
		c->specq[c->quote] = 1;
	c->specq['\n'] = c->specq['\r'] = c->specq[0] = 1;
	c->dmask = 0x0101010101010101ull * c->delim;
	/* Without quoting, quoted scans never run; any mask will do. */
	c->qmask = 0x0101010101010101ull * (c->has_quote ? c->quote : c->delim);

	int rc = start_input(c, false, err);
	if (rc)
		return rc;
	cl_schema *names = NULL;
	if ((rc = cl_schema_create(&names, err)))
		return rc;
	if (c->header) {
		rc = next_record(c, err);
		if (rc < 0)
			goto out;
		if (rc == 0) {
			rc = cl_error_set(err, CL_EFORMAT, "%s: empty file, no header",
					  r->path);
			goto out;
		}
		if ((rc = header_names(c, names, err)))
			goto out;
		c->ncols = c->nf;
		c->width_from = "as many as the header has";
		consume_record(c);
		c->data_pos = c->cur;
		c->data_line = c->line;
	} else if (o->schema) {
		c->ncols = o->schema->nfields;
		c->width_from = "as many as the schema has";
	} else {
		rc = next_record(c, err); /* peek: its width fixes the columns */
		if (rc < 0)
			goto out;
		if (rc == 0) {
			rc = cl_error_set(err, CL_EFORMAT,
					  "%s: empty file, no columns (and no schema to take them from)",
					  r->path);
			goto out;
		}
		c->ncols = c->nf;
		c->width_from = "as many as the first record has";
		rc = 0;
		for (int i = 0; i < c->nf && !rc; i++) {
			char name[32];
			snprintf(name, sizeof name, "column%d", i);
			rc = cl_schema_add(names, name, cl_type_make(CL_STRING), true, err);
		}
		if (rc)
			goto out;
	}
	if (c->ncols > CSV_MAX_COLUMNS) {
		rc = cl_error_set(err, CL_EFORMAT, "%s: more than %d columns", r->path,
				  CSV_MAX_COLUMNS);
		goto out;
	}
	c->map = cl_calloc((size_t)c->ncols + 1, sizeof *c->map);
	if (!c->map) {
		rc = oom(err);
		goto out;
	}
	for (int i = 0; i < c->ncols; i++)
		c->map[i] = i;
	if (o->schema) {
		if (c->header && (rc = map_to_schema(c, names, o->schema, err)))
			goto out;
		rc = cl_schema_copy(&r->schema, o->schema, err);
	} else {
		c->names = names;
		if (!o->all_strings &&
		    (rc = sample_types(c, names, o->sample_rows < 0 ? 0 : o->sample_rows,
				       err)))
			goto out;
		r->schema = names;
		names = NULL;
	}
	if (rc)
		goto out;
	c->names = r->schema;
	int64_t hint = c->batch_rows < 4096 ? c->batch_rows : 4096;
	rc = cl_batch_create(&c->batch, r->schema, hint, err);
out:
	cl_schema_free(names);
	return rc;
}
