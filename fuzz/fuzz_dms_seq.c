/*
 * fuzz_dms_seq.c — libFuzzer target for the parts of a merged table's
 * sequence index (src/source/dms_merge_seq.c): a table's own files can be
 * corrupted, and a corrupt part must give a clear error (CL_EFORMAT or a
 * type error naming the part), never a crash.
 *
 * The input (at most 64 KiB) is stored in a local store over a temporary
 * directory (removed at exit) twice: as a legacy text part
 * "_changelake/dms/seq-f.tsv" (magic line, column names, escaped values)
 * and as a Parquet part "_changelake/dms/seq-f.parquet". Both are read
 * with cl_dms_seq_read against a table schema of every kind of key type,
 * and the Parquet one also batch by batch with cl_dms_seq_scan and with no
 * table schema. Checks beyond "no crash":
 *   - an error names the part (its store key is in the message);
 *   - a part that reads is well formed: batches valid (cl_batch_validate),
 *     one column per schema field, the three sequence columns present and
 *     typed INT64, INT64, STRING, every other column one of the table's;
 *     scan sees as many rows as read;
 *   - round trip: a text part that reads, written as a Parquet part with
 *     cl_dms_seq_write (what compaction does), reads back to the same
 *     schema and the same values, NULLs included.
 */
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "changelake/dms_merge.h"
#include "changelake/storage.h"

static cl_store *st;
static cl_schema *types;

static void cleanup(void)
{
	cl_store_free(st);
	cl_schema_free(types);
}

static void setup(void)
{
	cl_error err = {0};
	fuzz_tmpdir("seq");
	if (cl_store_open_local(&st, fuzz_root, &err) ||
	    cl_schema_parse(&types, "id int64, k string, ts timestamp(us), d decimal(10,2), "
				    "b binary, f float64, dt date, flag bool, u uint32, "
				    "tz timestamp(ns,utc)",
			    &err)) {
		fprintf(stderr, "setup: %s\n", err.message);
		abort();
	}
	atexit(cleanup);
}

static void check_part(const cl_schema *s, const cl_batch *b, const cl_schema *tab)
{
	cl_error err = {0};
	if (b->ncols != s->nfields || cl_batch_validate(b, &err)) {
		fprintf(stderr, "bad batch: %s\n", err.message);
		abort();
	}
	int sf = cl_schema_find(s, CL_MERGE_SEQ_FILE), sr = cl_schema_find(s, CL_MERGE_SEQ_ROW);
	int op = cl_schema_find(s, CL_DMS_SEQ_OP);
	if (sf < 0 || sr < 0 || op < 0 || s->fields[sf].type.id != CL_INT64 ||
	    s->fields[sr].type.id != CL_INT64 || s->fields[op].type.id != CL_STRING)
		abort();
	for (int i = 0; tab && i < s->nfields; i++)
		if (i != sf && i != sr && i != op && cl_schema_find(tab, s->fields[i].name) < 0)
			abort();
}

typedef struct scan_state {
	const cl_schema *tab;
	int64_t rows;
} scan_state;

static int on_batch(void *ctx, const cl_schema *s, const cl_batch *b, cl_error *err)
{
	scan_state *ss = ctx;
	check_part(s, b, ss->tab);
	ss->rows += b->nrows;
	return 0;
}

static void check_error(int rc, const cl_error *err, const char *key)
{
	if (rc == CL_ENOMEM)
		return;
	if (!strstr(err->message, key)) {
		fprintf(stderr, "error does not name the part: %s\n", err->message);
		abort();
	}
}

static bool same_rows(const cl_batch *a, const cl_batch *b)
{
	if (a->nrows != b->nrows || a->ncols != b->ncols)
		return false;
	for (int c = 0; c < a->ncols; c++)
		for (int64_t r = 0; r < a->nrows; r++) {
			bool na = cl_column_is_null(&a->cols[c], r), nb = cl_column_is_null(&b->cols[c], r);
			if (na != nb || (!na && cl_value_compare(&a->cols[c], r, &b->cols[c], r)))
				return false;
		}
	return true;
}

/* A text part that read: write it as a Parquet part, read that back. */
static void round_trip(const cl_schema *s, const cl_batch *b)
{
	cl_error err = {0};
	char *key = NULL;
	cl_schema *s2 = NULL;
	cl_batch *b2 = NULL;
	if (cl_dms_seq_write(st, &key, s, b, &err)) {
		fprintf(stderr, "writing a part that read: %s\n", err.message);
		abort();
	}
	if (cl_dms_seq_read(st, key, types, &s2, &b2, &err)) {
		fprintf(stderr, "reading back a written part: %s\n", err.message);
		abort();
	}
	if (!cl_schema_equal(s, s2) || !same_rows(b, b2)) {
		fprintf(stderr, "a part changed through Parquet\n");
		abort();
	}
	cl_store_delete(st, key, &err);
	cl_free(key);
	cl_batch_free(b2);
	cl_schema_free(s2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536)
		return 0;
	if (!st)
		setup();
	cl_error err = {0};
	static const char tsv[] = "_changelake/dms/seq-f.tsv";
	static const char pq[] = "_changelake/dms/seq-f.parquet";
	if (cl_store_put(st, tsv, data, size, &err) || cl_store_put(st, pq, data, size, &err))
		abort();

	cl_schema *s = NULL;
	cl_batch *b = NULL;
	int rc = cl_dms_seq_read(st, tsv, types, &s, &b, &err);
	if (getenv("FUZZ_VERBOSE")) /* what the seeds reach */
		fprintf(stderr, "text part: %s\n", rc ? err.message : "ok");
	if (rc) {
		check_error(rc, &err, tsv);
	} else {
		check_part(s, b, types);
		scan_state ss = {types, 0};
		if (cl_dms_seq_scan(st, tsv, types, on_batch, &ss, &err) || ss.rows != b->nrows)
			abort();
		round_trip(s, b);
	}
	cl_batch_free(b);
	cl_schema_free(s);

	for (int pass = 0; pass < 2; pass++) {
		const cl_schema *tab = pass ? NULL : types;
		s = NULL;
		b = NULL;
		rc = cl_dms_seq_read(st, pq, tab, &s, &b, &err);
		if (getenv("FUZZ_VERBOSE"))
			fprintf(stderr, "parquet part: %s\n", rc ? err.message : "ok");
		scan_state ss = {tab, 0};
		int src = cl_dms_seq_scan(st, pq, tab, on_batch, &ss, &err);
		if (rc) {
			check_error(rc, &err, pq);
		} else {
			check_part(s, b, tab);
			if (src || ss.rows != b->nrows)
				abort();
		}
		cl_batch_free(b);
		cl_schema_free(s);
	}
	return 0;
}
