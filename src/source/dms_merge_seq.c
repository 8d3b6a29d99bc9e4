/*
 * dms_merge_seq.c — the sequence index of a merged table: for every key a
 * change ever touched, the sequence of its last change and whether that
 * change deleted the row (a tombstone). See changelake/dms_merge.h for the
 * design; this file reads and writes the index parts.
 *
 * A part is a Parquet file "_changelake/dms/seq-<sec>-<nsec>-<pid>.parquet"
 * (SNAPPY) with the columns of cl_dms_seq_schema: the key columns in the
 * table's types, the sequence column, _cl_seq_file and _cl_seq_row (INT64)
 * and _cl_dms_op (STRING "U" or "D"). Written with our own cl_writer into a
 * staged file and published under its fresh name.
 *
 * Parts written before (".tsv") are text and are still read:
 *   line 1   "changelake-dms-seq 1"
 *   line 2   the column names, tab separated (see cl_dms_seq_schema)
 *   then     one line per entry, values tab separated, spelled as the CSV
 *            writer spells them (cl_value_text), with '%', tab, LF, CR and
 *            '\' written %25, %09, %0A, %0D, %5C; NULL is "\N".
 * Parts are immutable once written and only a commit that names them in
 * its consumed-file manifest makes them part of the table, so a crashed
 * run's part is garbage, never read.
 *
 * Reading: cl_dms_seq_scan hands a part over batch by batch (a Parquet
 * part never whole in memory: the merge probes each batch's keys against
 * its changed keys and keeps nothing else); cl_dms_seq_read gathers a whole
 * part (compaction).
 *
 * Invariant: the entries of one part have distinct keys; across parts a
 * key may appear several times and the greatest sequence counts.
 */
#include "changelake/dms_merge.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "changelake/io.h"

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

int cl_dms_seq_write(cl_store *st, char **key_out, const cl_schema *schema,
		     const cl_batch *b, cl_error *err)
{
	*key_out = NULL;
	char key[160];
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(key, sizeof key, "_changelake/dms/seq-%020lld-%09ld-%ld.parquet",
		 (long long)ts.tv_sec, (long)ts.tv_nsec, (long)getpid());
	char *stage = NULL;
	cl_writer *w = NULL;
	cl_write_options wo;
	cl_write_options_init(&wo);
	wo.format = CL_FORMAT_PARQUET;
	wo.compression = CL_CODEC_SNAPPY;
	int rc = cl_store_stage(st, key, &stage, err);
	rc = rc ? rc : cl_writer_open(&w, stage, schema, &wo, err);
	rc = rc ? rc : cl_writer_write(w, b, err);
	rc = rc ? rc : cl_writer_close(w, err);
	cl_writer_free(w);
	rc = rc ? rc : cl_store_publish(st, stage, key, err);
	if (rc && stage)
		cl_store_unstage(st, stage);
	cl_free(stage);
	if (rc) {
		cl_error_prefix(err, "sequence index part %s: ", key);
		return rc;
	}
	if (!(*key_out = cl_strdup(key)))
		return oom(err);
	return 0;
}


/* A legacy text part, whole. */
static int text_read(cl_store *st, const char *key, const cl_schema *types,
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
			/* values are length-counted (a NUL byte is a value's own);
			 * column names are not */
			if ((rc = cl__pct_decode(&v, p, (size_t)(t - p), line == 2 ? 0 : CL_PCT_NUL))) {
				rc = rc == CL_ENOMEM ? oom(err)
						     : cl_error_set(err, CL_EFORMAT, "line %d: %s", line,
								    rc == CL_PCT_ENUL ? "NUL in a column name"
										      : "bad escape");
				goto fail;
			}
			const char *val = (const char *)v.data;
			if (line == 2) {
				int i = types ? cl_schema_find(types, val) : -1;
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
				rc = cl__column_append_text(&b->cols[col], val, v.len, err);
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

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && !strcmp(s + n - m, suffix);
}

/* A Parquet part's columns: the sequence columns with their types, every
 * other one a column of the table. */
static int check_schema(const cl_schema *ps, const cl_schema *types, cl_error *err)
{
	int sf = cl_schema_find(ps, CL_MERGE_SEQ_FILE), sr = cl_schema_find(ps, CL_MERGE_SEQ_ROW);
	int op = cl_schema_find(ps, CL_DMS_SEQ_OP);
	if (sf < 0 || sr < 0 || op < 0 || ps->fields[sf].type.id != CL_INT64 ||
	    ps->fields[sr].type.id != CL_INT64 || ps->fields[op].type.id != CL_STRING)
		return cl_error_set(err, CL_EFORMAT, "not a changelake sequence index: the "
				    "sequence columns are missing or mistyped");
	for (int i = 0; i < ps->nfields; i++)
		if (i != sf && i != sr && i != op && types &&
		    cl_schema_find(types, ps->fields[i].name) < 0)
			return cl_error_set(err, CL_EFORMAT, "column '%s' is not in the table",
					    ps->fields[i].name);
	return 0;
}

int cl_dms_seq_scan(cl_store *st, const char *key, const cl_schema *types, cl_dms_seq_fn fn,
		    void *ctx, cl_error *err)
{
	if (ends_with(key, ".tsv")) {
		cl_schema *schema = NULL;
		cl_batch *b = NULL;
		int rc = text_read(st, key, types, &schema, &b, err);
		rc = rc ? rc : fn(ctx, schema, b, err);
		cl_batch_free(b);
		cl_schema_free(schema);
		return rc;
	}
	char *local = NULL;
	bool tmp = false;
	cl_reader *r = NULL;
	int rc = cl_store_fetch(st, key, &local, &tmp, err);
	if (rc == CL_ENOTFOUND)
		return cl_error_set(err, CL_EFORMAT, "%s/%s: a sequence-index part the table's "
				    "manifest names is missing", cl_store_location(st), key);
	cl_read_options ro;
	cl_read_options_init(&ro);
	ro.format = CL_FORMAT_PARQUET;
	rc = rc ? rc : cl_reader_open(&r, local, &ro, err);
	rc = rc ? rc : check_schema(cl_reader_schema(r), types, err);
	while (!rc) {
		cl_batch *b = NULL;
		if ((rc = cl_reader_next(r, &b, err)) || !b)
			break;
		rc = fn(ctx, cl_reader_schema(r), b, err);
	}
	/* the reader's messages name the file it read: the part itself unless
	 * the store fetched a temporary copy */
	if (rc && (!local || tmp || strncmp(err->message, local, strlen(local))))
		cl_error_prefix(err, "%s/%s: ", cl_store_location(st), key);
	cl_reader_free(r);
	if (local && tmp)
		remove(local);
	cl_free(local);
	return rc;
}

typedef struct gather {
	cl_schema *schema;
	cl_batch *b;
} gather;

static int gather_batch(void *ctx, const cl_schema *schema, const cl_batch *b, cl_error *err)
{
	gather *g = ctx;
	int rc = 0;
	if (!g->schema) {
		rc = cl_schema_copy(&g->schema, schema, err);
		rc = rc ? rc : cl_batch_create(&g->b, schema, b->nrows, err);
	}
	for (int c = 0; !rc && c < b->ncols; c++)
		rc = cl_column_append_range(&g->b->cols[c], &b->cols[c], 0, b->nrows, err);
	if (!rc)
		g->b->nrows += b->nrows;
	return rc;
}

int cl_dms_seq_read(cl_store *st, const char *key, const cl_schema *types,
		    cl_schema **schema_out, cl_batch **out, cl_error *err)
{
	*schema_out = NULL;
	*out = NULL;
	if (ends_with(key, ".tsv"))
		return text_read(st, key, types, schema_out, out, err);
	gather g = {0};
	int rc = cl_dms_seq_scan(st, key, types, gather_batch, &g, err);
	if (!rc && !g.schema) {
		/* a part without rows: its columns still */
		char *local = NULL;
		bool tmp = false;
		cl_reader *r = NULL;
		cl_read_options ro;
		cl_read_options_init(&ro);
		ro.format = CL_FORMAT_PARQUET;
		rc = cl_store_fetch(st, key, &local, &tmp, err);
		rc = rc ? rc : cl_reader_open(&r, local, &ro, err);
		rc = rc ? rc : cl_schema_copy(&g.schema, cl_reader_schema(r), err);
		rc = rc ? rc : cl_batch_create(&g.b, g.schema, 0, err);
		cl_reader_free(r);
		if (local && tmp)
			remove(local);
		cl_free(local);
	}
	if (rc) {
		cl_batch_free(g.b);
		cl_schema_free(g.schema);
		return rc;
	}
	*schema_out = g.schema;
	*out = g.b;
	return 0;
}
