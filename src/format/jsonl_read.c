/*
 * jsonl_read.c — the JSON Lines reader: one JSON object per line in,
 * column batches out.
 *
 * Lines: LF or CRLF; blank lines (only whitespace) are skipped; an optional
 * UTF-8 BOM; gzip transparently (textin.c). Each other line must be one
 * JSON object (json.h parses it: strict grammar and UTF-8).
 *
 * Columns: with a declared schema, keys map to its columns by exact name
 * and a key the schema does not have is an error. Without one, the columns
 * are the union of the keys over the inference sample (the first
 * sample_rows lines; 0 = all), in order of first appearance, and a key
 * first seen after the sample is an error that says so. A key missing from
 * a line is NULL; a key twice in one object is an error.
 *
 * Values: null is NULL; true/false are bools; numbers keep their text and
 * are parsed into the column's type (inference: int64, decimal or float64
 * per infer.h); strings are strings, or dates/timestamps when every
 * sampled value of the column parses as one. A nested object or array is
 * kept as its JSON text (verbatim from the line) in a string column. With a
 * declared schema, a JSON string goes into any type it parses as ("12" into
 * an int64 column: exports often quote numbers), a number into a string
 * column keeps its text, true/false into a string column become
 * "true"/"false".
 *
 * Errors name the file, the line, and the key. The sampled lines are parsed
 * twice (for inference, then for the data); they stay in the input buffer
 * (up to SAMPLE_KEEP_MAX bytes), except with sample_rows == 0 on a file or
 * a bigger sample, when the file is read again from the start instead
 * (standard input: the sample ends at SAMPLE_KEEP_MAX bytes).
 */
#include "format_impl.h"
#include "infer.h"
#include "textin.h"

#include "changelake/hash.h"
#include "core/json.h"
#include "core/value_text.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Most bytes of sampled input kept in memory for the second pass. */
#define SAMPLE_KEEP_MAX ((size_t)64 << 20)
#define JSONL_MAX_COLUMNS 20000

typedef struct slot {
	uint64_t hash;
	int col; /* -1: empty */
} slot;

typedef struct jsonl_reader {
	cl__textin t;
	const char *path; /* borrowed from the cl_reader */
	cl__json_parser *jp;
	int64_t batch_rows;
	size_t max_line;
	cl_batch *batch;
	size_t cur;        /* start of the next line in t.buf */
	int64_t line;      /* its line number */
	size_t data_pos;   /* after the BOM (kept while sampling) */
	bool keep;
	size_t line_end, next; /* the line found by next_line: [cur, line_end) */
	/* columns */
	cl_schema *names;  /* while sampling; then r->schema */
	const cl_schema *cols; /* the schema keys are looked up in */
	size_t *name_len;
	slot *slots;
	size_t nslots;     /* power of two, > 2 * columns */
	int64_t *seen;     /* per column: stamp of the last line that set it */
	int *pred;         /* per member position: the column it had last line */
	int seen_cap;
	int64_t stamp;
	int64_t sampled;   /* lines the columns and types came from; -1: declared */
	bool declared;
	int64_t rows;
	bool done, failed;
} jsonl_reader;

static int oom(cl_error *err)
{
	return cl_error_set(err, CL_ENOMEM, "out of memory");
}

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

/* ---- key -> column map (open addressing over the hash of the key) ---- */

static int map_lookup(const jsonl_reader *j, const char *key, size_t n)
{
	if (!j->nslots)
		return -1;
	uint64_t h = cl_hash_bytes(key, n, 0);
	size_t mask = j->nslots - 1;
	for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
		const slot *s = &j->slots[i];
		if (s->col < 0)
			return -1;
		if (s->hash == h && j->name_len[s->col] == n &&
		    memcmp(j->cols->fields[s->col].name, key, n) == 0)
			return s->col;
	}
}

static void map_put(jsonl_reader *j, int col)
{
	const char *name = j->cols->fields[col].name;
	uint64_t h = cl_hash_bytes(name, j->name_len[col], 0);
	size_t mask = j->nslots - 1;
	size_t i = (size_t)h & mask;
	while (j->slots[i].col >= 0)
		i = (i + 1) & mask;
	j->slots[i].hash = h;
	j->slots[i].col = col;
}

/* (Re)build the map for all columns of j->cols, with room for `room` more. */
static int map_build(jsonl_reader *j, int room, cl_error *err)
{
	int n = j->cols->nfields;
	size_t want = 16;
	while (want < 2 * (size_t)(n + room) + 2)
		want *= 2;
	if (want != j->nslots) {
		slot *s = cl_realloc(j->slots, want * sizeof *s);
		if (!s)
			return oom(err);
		j->slots = s;
		j->nslots = want;
	}
	for (size_t i = 0; i < j->nslots; i++)
		j->slots[i].col = -1;
	if (n + room > j->seen_cap) {
		int cap = n + room;
		size_t *nl = cl_realloc(j->name_len, (size_t)cap * sizeof *nl);
		if (!nl)
			return oom(err);
		j->name_len = nl;
		int64_t *sn = cl_realloc(j->seen, (size_t)cap * sizeof *sn);
		if (!sn)
			return oom(err);
		memset(sn + j->seen_cap, 0, (size_t)(cap - j->seen_cap) * sizeof *sn);
		j->seen = sn;
		j->seen_cap = cap;
	}
	for (int c = 0; c < n; c++) {
		j->name_len[c] = strlen(j->cols->fields[c].name);
		map_put(j, c);
	}
	return 0;
}

/* Add a column named key (sampling); returns its index or an error. */
static int add_column(jsonl_reader *j, const char *key, size_t n, cl_error *err)
{
	int col = j->names->nfields;
	if (col >= JSONL_MAX_COLUMNS)
		return cl_error_set(err, CL_EFORMAT, "%s: line %lld: more than %d keys",
				    j->path, (long long)j->line, JSONL_MAX_COLUMNS);
	int rc = cl_schema_add(j->names, key, cl_type_make(CL_STRING), true, err);
	if (rc)
		return rc;
	if (col + 1 > j->seen_cap || 2 * (size_t)(col + 1) + 2 > j->nslots) {
		int room = col < 16 ? 16 : col;
		if ((rc = map_build(j, room, err)))
			return rc;
	} else {
		j->name_len[col] = n;
		j->seen[col] = 0;
		map_put(j, col);
	}
	return col;
}

/* ---- lines ---- */

static int refill(jsonl_reader *j, cl_error *err)
{
	if (!j->keep)
		j->t.pos = j->cur;
	size_t shift = j->t.pos;
	size_t unread = j->t.len - j->t.pos;
	int rc = cl__textin_fill(&j->t, unread * 2, SIZE_MAX / 4, err);
	if (rc)
		return rc;
	j->cur -= shift;
	j->data_pos -= j->data_pos >= shift ? shift : j->data_pos;
	return 0;
}

/* Find the next line at cur: 1 found ([cur, line_end), next), 0 at the end. */
static int next_line(jsonl_reader *j, cl_error *err)
{
	for (;;) {
		if (j->cur >= j->t.len && j->t.eof)
			return 0;
		size_t avail = j->t.len - j->cur;
		const uint8_t *nl = memchr(j->t.buf + j->cur, '\n', avail);
		size_t span = nl ? (size_t)(nl - (j->t.buf + j->cur)) : avail;
		if (span > j->max_line)
			return cl_error_set(err, CL_EFORMAT,
					    "%s: line %lld: longer than %zu bytes", j->path,
					    (long long)j->line, j->max_line);
		if (nl || j->t.eof) {
			j->line_end = j->cur + span;
			j->next = nl ? j->line_end + 1 : j->line_end;
			if (j->line_end > j->cur && j->t.buf[j->line_end - 1] == '\r')
				j->line_end--;
			return 1;
		}
		int rc = refill(j, err);
		if (rc)
			return rc;
	}
}

static void consume_line(jsonl_reader *j)
{
	j->cur = j->next;
	j->line++;
}

static bool blank_line(const jsonl_reader *j)
{
	for (size_t i = j->cur; i < j->line_end; i++) {
		uint8_t c = j->t.buf[i];
		if (c != ' ' && c != '\t' && c != '\r')
			return false;
	}
	return true;
}

/* Parse the current line as an object. */
static int parse_line(jsonl_reader *j, const cl_json **obj, cl_error *err)
{
	const char *s = (const char *)j->t.buf + j->cur;
	size_t n = j->line_end - j->cur;
	int rc = cl__json_parse(j->jp, s, n, obj, err);
	if (rc) {
		if (rc != CL_ENOMEM) {
			cl_error_prefix(err, "%s: line %lld, ", j->path, (long long)j->line);
			if (cl__json_error_offset(j->jp) >= n)
				error_suffix(err, " (JSON Lines needs each object on one line)");
		}
		return rc;
	}
	if ((*obj)->kind != CL_JSON_OBJECT) {
		cl_json_kind k = (*obj)->kind;
		return cl_error_set(err, CL_EFORMAT,
				    "%s: line %lld: expected a JSON object, found %s%s",
				    j->path, (long long)j->line,
				    k == CL_JSON_ARRAY ? "an array" : k == CL_JSON_STRING ? "a string"
				    : k == CL_JSON_NUMBER ? "a number" : cl__json_kind_name(k),
				    k == CL_JSON_ARRAY
					    ? " (a JSON array file is not JSON Lines, which has one object per line)"
					    : "");
	}
	return 0;
}

static int key_check(jsonl_reader *j, const cl_json_member *m, cl_error *err)
{
	if (memchr(m->key, 0, m->key_len))
		return cl_error_set(err, CL_EFORMAT,
				    "%s: line %lld: a key contains a NUL character",
				    j->path, (long long)j->line);
	return 0;
}

static int dup_key(jsonl_reader *j, const cl_json_member *m, cl_error *err)
{
	return cl_error_set(err, CL_EFORMAT, "%s: line %lld: key '%.200s' appears twice",
			    j->path, (long long)j->line, m->key);
}

/* ---- values ---- */

static int append_value(jsonl_reader *j, cl_column *c, const cl_field *f,
			const cl_json *v, cl_error *err)
{
	const char *s = NULL;
	size_t n = 0;
	switch (v->kind) {
	case CL_JSON_NULL:
		if (!f->nullable)
			return cl_error_set(err, CL_ETYPE, "null in a NOT NULL column");
		return cl_column_append_null(c, err);
	case CL_JSON_TRUE:
	case CL_JSON_FALSE:
		if (c->type.id == CL_BOOL)
			return cl_column_append_bool(c, v->kind == CL_JSON_TRUE, err);
		if (c->type.id == CL_STRING) {
			s = v->kind == CL_JSON_TRUE ? "true" : "false";
			return cl_column_append_bytes(c, s, strlen(s), err);
		}
		{
			char tn[64];
			cl_type_format(tn, sizeof tn, c->type);
			return cl_error_set(err, CL_ETYPE, "%s is not a valid %s",
					    v->kind == CL_JSON_TRUE ? "true" : "false", tn);
		}
	case CL_JSON_NUMBER:
	case CL_JSON_STRING:
		s = v->u.str;
		n = v->n;
		break;
	case CL_JSON_ARRAY:
	case CL_JSON_OBJECT:
		if (c->type.id == CL_STRING) {
			s = (const char *)j->t.buf + j->cur + v->start;
			return cl_column_append_bytes(c, s, v->end - v->start, err);
		}
		{
			char tn[64];
			cl_type_format(tn, sizeof tn, c->type);
			return cl_error_set(err, CL_ETYPE, "a JSON %s is not a valid %s",
					    cl__json_kind_name(v->kind), tn);
		}
	}
	return cl__column_append_text(c, s, n, err);
}

static int convert_line(jsonl_reader *j, struct cl_reader *r, const cl_json *obj,
			cl_error *err)
{
	const cl_schema *sc = r->schema;
	int64_t stamp = ++j->stamp;
	for (size_t i = 0; i < obj->n; i++) {
		const cl_json_member *m = &obj->u.members[i];
		/* Lines usually repeat their keys in the same order: try the
		 * column this position had last time before hashing. */
		int col = i < (size_t)sc->nfields ? j->pred[i] : -1;
		if (col < 0 || j->name_len[col] != m->key_len ||
		    memcmp(sc->fields[col].name, m->key, m->key_len) != 0) {
			col = map_lookup(j, m->key, m->key_len);
			if (i < (size_t)sc->nfields)
				j->pred[i] = col;
		}
		if (col < 0) {
			cl_error_set(err, CL_ESCHEMA, "%s: line %lld: key '%.200s' is not a column",
				     j->path, (long long)j->line, m->key);
			if (j->declared)
				error_suffix(err, " of the schema");
			else
				error_suffix(err,
					     " (the columns were taken from the first %lld lines; declare them with --schema, or read the whole file first with --sample-rows 0)",
					     (long long)j->sampled);
			return CL_ESCHEMA;
		}
		if (j->seen[col] == stamp)
			return dup_key(j, m, err);
		j->seen[col] = stamp;
		int rc = append_value(j, &j->batch->cols[col], &sc->fields[col], &m->value,
				      err);
		if (rc == CL_ENOMEM)
			return rc;
		if (rc) {
			cl_error_prefix(err, "%s: line %lld, key '%.200s': ", j->path,
					(long long)j->line, m->key);
			if (j->sampled >= 0 && j->rows >= j->sampled)
				error_suffix(err,
					     " (the column's type was inferred from the first %lld lines; declare it with --schema, or infer from the whole file with --sample-rows 0)",
					     (long long)j->sampled);
			return rc;
		}
	}
	for (int col = 0; col < sc->nfields; col++) {
		if (j->seen[col] == stamp)
			continue;
		if (!sc->fields[col].nullable)
			return cl_error_set(err, CL_ETYPE,
					    "%s: line %lld, key '%s': missing, but the column is NOT NULL",
					    j->path, (long long)j->line, sc->fields[col].name);
		int rc = cl_column_append_null(&j->batch->cols[col], err);
		if (rc)
			return rc;
	}
	j->batch->nrows++;
	j->rows++;
	return 0;
}

static int jsonl_next(struct cl_reader *r, cl_batch **out, cl_error *err)
{
	jsonl_reader *j = r->impl;
	*out = NULL;
	if (j->failed)
		return cl_error_set(err, CL_EINVAL, "%s: reader failed earlier", j->path);
	if (j->done)
		return 0;
	cl_batch_clear(j->batch);
	int rc = 0;
	while (j->batch->nrows < j->batch_rows) {
		rc = next_line(j, err);
		if (rc < 0)
			goto fail;
		if (rc == 0) {
			j->done = true;
			break;
		}
		if (!blank_line(j)) {
			const cl_json *obj;
			if ((rc = parse_line(j, &obj, err)) ||
			    (rc = convert_line(j, r, obj, err)))
				goto fail;
		}
		consume_line(j);
	}
	if (j->batch->nrows > 0)
		*out = j->batch;
	return 0;
fail:
	j->failed = true;
	return rc;
}

static void jsonl_free(struct cl_reader *r)
{
	jsonl_reader *j = r->impl;
	if (!j)
		return;
	cl__textin_close(&j->t);
	cl__json_parser_free(j->jp);
	cl_batch_free(j->batch);
	cl_schema_free(j->names);
	cl_free(j->name_len);
	cl_free(j->slots);
	cl_free(j->seen);
	cl_free(j->pred);
	cl_free(j);
	r->impl = NULL;
}

static const cl__reader_ops jsonl_ops = {jsonl_next, jsonl_free};

static int start_input(jsonl_reader *j, cl_error *err)
{
	int rc = cl__textin_open(&j->t, j->path, err);
	if (rc)
		return rc;
	j->cur = 0;
	j->line = 1;
	while (!j->t.eof && j->t.len < 3)
		if ((rc = refill(j, err)))
			return rc;
	if (j->t.len >= 3 && memcmp(j->t.buf, "\xef\xbb\xbf", 3) == 0)
		j->cur = 3;
	j->data_pos = j->cur;
	return 0;
}

/* Find the columns and their types in the first sample_rows lines. */
static int sample(jsonl_reader *j, int64_t sample_rows, bool all_strings,
		  cl_error *err)
{
	cl__infer *inf = NULL;
	int rc = cl__infer_create(&inf, 16, err);
	if (rc)
		return rc;
	if ((rc = cl_schema_create(&j->names, err)))
		goto done;
	j->cols = j->names;
	if ((rc = map_build(j, 16, err)))
		goto done;
	bool can_reopen = strcmp(j->path, "-") != 0;
	bool reopen = sample_rows == 0 && can_reopen;
	j->keep = !reopen;
	j->t.pos = j->data_pos;
	int64_t n = 0;
	while (sample_rows == 0 || n < sample_rows) {
		/* Bound the bytes kept for the second pass: past the limit a
		 * file is read again instead, standard input ends the sample. */
		if (j->keep && j->cur - j->data_pos > SAMPLE_KEEP_MAX) {
			if (!can_reopen)
				break;
			j->keep = false;
			reopen = true;
		}
		rc = next_line(j, err);
		if (rc < 0)
			goto done;
		if (rc == 0)
			break;
		if (!blank_line(j)) {
			const cl_json *obj;
			if ((rc = parse_line(j, &obj, err)))
				goto done;
			int64_t stamp = ++j->stamp;
			for (size_t i = 0; i < obj->n; i++) {
				const cl_json_member *m = &obj->u.members[i];
				if ((rc = key_check(j, m, err)))
					goto done;
				int col = map_lookup(j, m->key, m->key_len);
				if (col < 0) {
					col = add_column(j, m->key, m->key_len, err);
					if (col < 0) {
						rc = col;
						goto done;
					}
					if ((rc = cl__infer_resize(inf, col + 1, err)))
						goto done;
				}
				if (j->seen[col] == stamp) {
					rc = dup_key(j, m, err);
					goto done;
				}
				j->seen[col] = stamp;
				const cl_json *v = &m->value;
				switch (v->kind) {
				case CL_JSON_NULL: break;
				case CL_JSON_TRUE:
				case CL_JSON_FALSE: cl__infer_add_json_bool(inf, col); break;
				case CL_JSON_NUMBER:
					cl__infer_add(inf, col, v->u.str, v->n, false);
					break;
				case CL_JSON_STRING:
					cl__infer_add(inf, col, v->u.str, v->n, true);
					break;
				default: cl__infer_add_string(inf, col);
				}
			}
			n++;
		}
		consume_line(j);
	}
	if (n == 0) {
		rc = cl_error_set(err, CL_EFORMAT,
				  "%s: empty file, no JSON objects to take the columns from",
				  j->path);
		goto done;
	}
	if (j->names->nfields == 0) {
		rc = cl_error_set(err, CL_EFORMAT,
				  "%s: no keys in the first %lld objects, so no columns",
				  j->path, (long long)n);
		goto done;
	}
	if (!all_strings)
		for (int c = 0; c < j->names->nfields; c++)
			j->names->fields[c].type = cl__infer_type(inf, c);
	j->sampled = n;
	if (reopen) {
		cl__textin_close(&j->t);
		rc = start_input(j, err);
	} else {
		j->cur = j->data_pos;
		j->line = 1;
	}
	j->keep = false;
done:
	cl__infer_free(inf);
	return rc;
}

int cl__jsonl_reader_open(struct cl_reader *r, const cl_read_options *o, cl_error *err)
{
	jsonl_reader *j = cl_calloc(1, sizeof *j);
	if (!j)
		return oom(err);
	r->impl = j;
	r->ops = &jsonl_ops;
	j->path = r->path;
	j->sampled = -1;
	j->batch_rows = o->batch_rows > 0 ? o->batch_rows : 65536;
	j->max_line = o->max_line_bytes > 0 ? (size_t)o->max_line_bytes : (size_t)64 << 20;
	cl_json_limits lim = {0, j->max_line};
	int rc = cl__json_parser_create(&j->jp, &lim, err);
	if (rc)
		return rc;
	if ((rc = start_input(j, err)))
		return rc;
	if (o->schema) {
		j->declared = true;
		if ((rc = cl_schema_copy(&r->schema, o->schema, err)))
			return rc;
	} else {
		if ((rc = sample(j, o->sample_rows < 0 ? 0 : o->sample_rows, o->all_strings,
				 err)))
			return rc;
		r->schema = j->names;
		j->names = NULL;
	}
	j->cols = r->schema;
	if ((rc = map_build(j, 0, err)))
		return rc;
	j->pred = cl_malloc(((size_t)r->schema->nfields + 1) * sizeof *j->pred);
	if (!j->pred)
		return oom(err);
	for (int c = 0; c <= r->schema->nfields; c++)
		j->pred[c] = -1;
	int64_t hint = j->batch_rows < 4096 ? j->batch_rows : 4096;
	return cl_batch_create(&j->batch, r->schema, hint, err);
}
