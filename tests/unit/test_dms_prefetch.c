/*
 * test_dms_prefetch.c — a merge run's files read ahead on worker threads
 * (src/source/dms_prefetch.c, used by dms_merge.c's read_files with 2 or
 * more threads). The reference is the same run on one thread (no worker):
 * tables, statistics and errors must be the same at 1, 2 and 4 threads.
 * The sources have many small Parquet files (some of several row groups),
 * CSV files among them (read by the calling thread), read in batches of a
 * few rows; errors sit in an early and in a late file. The module itself
 * is driven directly with a read-ahead bound of one byte (every worker
 * waits after each batch) and left in the middle.
 */
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "changelake.h"
#include "changelake/dms_merge.h"
#include "core/buf.h"
#include "source/dms_prefetch.h"

#define SCHEMA_OP "Op string, id int64, v string, x int64"
#define SCHEMA_LOAD "id int64, v string, x int64"

/* rows ('|'-separated, '\n' between rows) as the Parquet file DIR/NAME in
 * row groups of rg rows (0: one). */
static int put_pq(const char *dir, const char *name, const char *schema, const char *rows,
		  int64_t rg, cl_error *err)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	cl_schema *s = NULL;
	cl_batch *b = NULL;
	if (cl_test_batch_parse(&s, &b, schema, rows))
		return cl_error_set(err, CL_EINVAL, "bad test rows for %s", name);
	int rc = cl_test_write_parquet(path, s, b, rg, err);
	cl_batch_free(b);
	cl_schema_free(s);
	return rc;
}

/* CDC file k's rows: 5..24 changes on keys that repeat across files. */
static void cdc_rows(cl_buf *t, int k)
{
	int n = 5 + k % 20;
	for (int i = 0; i < n; i++) {
		int id = (k * 7 + i * 13) % 260;
		const char *op = (k + i) % 9 == 0 ? "D" : (k + i) % 4 == 0 ? "I" : "U";
		if ((k + i) % 11 == 0)
			cl_buf_printf(t, "%s|%d|~|~\n", op, id);
		else
			cl_buf_printf(t, "%s|%d|f%d r%d|%d\n", op, id, k, i, k * 1000 + i);
	}
}

/* The full load (200 keys, one key twice) and CDC files [from, to); every
 * fifth CDC file of the second batch is CSV, every third Parquet file has
 * row groups of 3 rows. */
static int make_files(const char *src, int from, int to, bool load, cl_error *err)
{
	cl_buf t = {0};
	int rc = 0;
	if (load) {
		for (int i = 0; i < 200; i++)
			cl_buf_printf(&t, "%d|load %d|%d\n", i, i, i);
		cl_buf_printf(&t, "7|load again|~\n");
		cl_buf_putc(&t, 0);
		rc = put_pq(src, "LOAD00000001.parquet", SCHEMA_LOAD, (char *)t.data, 64, err);
	}
	for (int k = from; !rc && k < to; k++) {
		char name[64];
		cl_buf_clear(&t);
		cdc_rows(&t, k);
		cl_buf_putc(&t, 0);
		bool csv = k >= 40 && k % 5 == 0;
		snprintf(name, sizeof name, "20240101-10%02d%02d000.%s", k / 60, k % 60,
			 csv ? "csv" : "parquet");
		if (!csv) {
			rc = put_pq(src, name, SCHEMA_OP, (char *)t.data, k % 3 ? 0 : 3, err);
			continue;
		}
		/* the same rows as CSV text (NULL as an empty field) */
		cl_buf c = {0};
		cl_buf_printf(&c, "Op,id,v,x\n");
		for (char *p = (char *)t.data; *p; p++)
			if (*p == '|')
				cl_buf_putc(&c, ',');
			else if (*p != '~')
				cl_buf_putc(&c, *p);
		cl_buf_putc(&c, 0);
		cl_test_put(src, name, (char *)c.data);
		cl_buf_release(&c);
	}
	cl_buf_release(&t);
	return rc;
}

static int cmp_line(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The table's rows, sorted, then "files=N bytes=B version=V": owned text
 * (free), or NULL with err set. */
static char *table_text(const char *loc, cl_error *err)
{
	cl_table *t = NULL;
	cl_snapshot *s = NULL;
	cl_table_scan *sc = NULL;
	char **lines = NULL;
	size_t n = 0, cap = 0;
	cl_buf out = {0};
	int rc = cl_table_open(&t, loc, err);
	rc = rc ? rc : cl_table_snapshot(&s, t, NULL, err);
	rc = rc ? rc : cl_table_scan_open(&sc, t, s, NULL, err);
	cl_batch *b;
	while (!rc && !(rc = cl_table_scan_next(sc, &b, err)) && b) {
		for (int64_t r = 0; r < b->nrows; r++) {
			cl_buf line = {0};
			for (int c = 0; c < b->ncols; c++) {
				char *v = NULL;
				size_t vl;
				cl_value_text(&b->cols[c], r, &v, &vl, err);
				cl_buf_printf(&line, "%s%s", c ? "|" : "", v ? v : "~");
				cl_free(v);
			}
			cl_buf_putc(&line, 0);
			if (n == cap) {
				cap = cap ? cap * 2 : 64;
				lines = realloc(lines, cap * sizeof *lines);
			}
			lines[n++] = strdup((char *)line.data);
			cl_buf_release(&line);
		}
	}
	char *text = NULL;
	if (!rc) {
		qsort(lines, n, sizeof *lines, cmp_line);
		for (size_t i = 0; i < n; i++)
			cl_buf_printf(&out, "%s\n", lines[i]);
		int64_t bytes = 0;
		for (size_t i = 0; i < cl_snapshot_nfiles(s); i++)
			bytes += cl_snapshot_file(s, i)->size;
		cl_buf_printf(&out, "files=%zu bytes=%lld version=%lld\n", cl_snapshot_nfiles(s),
			      (long long)bytes, (long long)cl_snapshot_version(s));
		cl_buf_putc(&out, 0);
		text = strdup((char *)out.data);
	}
	for (size_t i = 0; i < n; i++)
		free(lines[i]);
	free(lines);
	cl_buf_release(&out);
	cl_table_scan_free(sc);
	cl_snapshot_free(s);
	cl_table_free(t);
	return text;
}

/* What a run did, as text (statistics and counts). */
static void result_text(char *out, size_t n, const cl_dms_merge_result *r)
{
	const cl_merge_stats *m = &r->merge;
	snprintf(out, n,
		 "files=%lld rows=%lld i=%lld u=%lld d=%lld keys=%lld stale=%lld up=%lld "
		 "del=%lld written=%lld added=%lld bytes=%lld version=%lld created=%d",
		 (long long)m->files, (long long)m->rows, (long long)m->inserts,
		 (long long)m->updates, (long long)m->deletes, (long long)m->keys,
		 (long long)m->stale, (long long)m->upserts_out, (long long)m->deletes_out,
		 (long long)r->rows_written, (long long)r->files_added,
		 (long long)r->bytes_written, (long long)r->version, r->created);
}

static const int thread_counts[] = {1, 2, 4};

typedef struct trun {
	int rc;
	char result[512];
	char message[CL_ERROR_MSG_MAX];
	char *table; /* owned */
} trun;

static void trun_free(trun *t)
{
	free(t->table);
	t->table = NULL;
}

/* One merge of src into lake at `threads`, batches of batch_rows rows. */
static void merge_at(trun *t, const char *src, const char *lake, int threads, int batch_rows)
{
	cl_dms_merge_options o;
	cl_dms_merge_options_init(&o);
	const char *keys[] = {"id"};
	o.keys = keys;
	o.nkeys = 1;
	o.buckets = 4;
	o.threads = threads;
	o.read.batch_rows = batch_rows;
	cl_dms_merge_result res;
	cl_error err = {0};
	t->rc = cl_dms_merge_run(&res, src, lake, &o, &err);
	result_text(t->result, sizeof t->result, &res);
	/* without the "merge into LAKE: " prefix (lakes differ by thread count) */
	const char *m = t->rc ? err.message : "";
	char prefix[4300];
	snprintf(prefix, sizeof prefix, "merge into %s: ", lake);
	if (!strncmp(m, prefix, strlen(prefix)))
		m += strlen(prefix);
	snprintf(t->message, sizeof t->message, "%s", m);
	cl_error e2 = {0};
	t->table = table_text(lake, &e2);
}

/* Every thread count's run equals the first's (table, result, error). */
static bool same_runs(trun *t, int n)
{
	bool ok = true;
	for (int k = 1; k < n; k++) {
		if (t[k].rc != t[0].rc || strcmp(t[k].result, t[0].result) ||
		    strcmp(t[k].message, t[0].message) ||
		    (t[k].table == NULL) != (t[0].table == NULL) ||
		    (t[0].table && strcmp(t[k].table, t[0].table))) {
			printf("    %d threads: rc %d %s\n      %s\n    1 thread: rc %d %s\n"
			       "      %s\n",
			       thread_counts[k], t[k].rc, t[k].result, t[k].message, t[0].rc,
			       t[0].result, t[0].message);
			ok = false;
		}
	}
	return ok;
}

/* A new table from a full load and 40 Parquet CDC files (the lean initial
 * load), then 60 more files with CSV among them into the table: the same
 * tables and statistics at 1, 2 and 4 threads, batches of 3 rows or 64k. */
TEST(dms_prefetch_merge_same_at_1_2_4_threads)
{
	const char *tmp = cl_test_tmpdir();
	for (int batch = 0; batch < 2; batch++) {
		int rows = batch ? 65536 : 3;
		char src[4096], lake[4200];
		snprintf(src, sizeof src, "%s/pf_same/src%d", tmp, rows);
		cl_test_mkdirs(src);
		cl_error err = {0};
		CHECK_OK(make_files(src, 0, 40, true, &err), &err);
		trun t[3] = {0}, u[3] = {0};
		for (int k = 0; k < 3; k++) {
			snprintf(lake, sizeof lake, "%s/pf_same/lake%d_%d", tmp, rows, k);
			merge_at(&t[k], src, lake, thread_counts[k], rows);
			CHECK_EQ_INT(t[k].rc, 0);
		}
		CHECK(same_runs(t, 3));
		CHECK(strstr(t[0].result, "files=41 ") != NULL);
		CHECK_OK(make_files(src, 40, 100, false, &err), &err);
		for (int k = 0; k < 3; k++) {
			snprintf(lake, sizeof lake, "%s/pf_same/lake%d_%d", tmp, rows, k);
			merge_at(&u[k], src, lake, thread_counts[k], rows);
			CHECK_EQ_INT(u[k].rc, 0);
		}
		CHECK(same_runs(u, 3));
		CHECK(strstr(u[0].result, "files=60 ") != NULL);
		CHECK(t[0].table && u[0].table && strcmp(t[0].table, u[0].table));
		for (int k = 0; k < 3; k++) {
			trun_free(&t[k]);
			trun_free(&u[k]);
		}
	}
}

#define NO_KEY "(no key column)"

/* Source folder `name` with a full load and 30 Parquet CDC files, file
 * `bad` replaced by `text` (written as is), or, when text is NULL, by a
 * Parquet file whose Op of its third row is 'X', or, when it is NO_KEY,
 * by a Parquet file without the key column. */
static void make_bad(char *src, size_t n, const char *tmp, const char *name, int bad,
		     const char *bad_name, const char *text, cl_error *err)
{
	snprintf(src, n, "%s/%s/src", tmp, name);
	cl_test_mkdirs(src);
	make_files(src, 0, 30, true, err);
	char victim[4300];
	snprintf(victim, sizeof victim, "%s/20240101-10%02d%02d000.parquet", src, bad / 60,
		 bad % 60);
	remove(victim);
	if (text && !strcmp(text, NO_KEY)) {
		/* 40 rows without the key column: the fold fails at its first
		 * batch while the rest may still be read ahead */
		cl_buf t = {0};
		for (int i = 0; i < 40; i++)
			cl_buf_printf(&t, "%sU|%d|v|%d", i ? "\n" : "", i, i);
		cl_buf_putc(&t, 0);
		put_pq(src, bad_name, "Op string, idx int64, v string, x int64", (char *)t.data, 0,
		       err);
		cl_buf_release(&t);
	} else if (text) {
		cl_test_put(src, bad_name, text);
	} else {
		put_pq(src, bad_name, SCHEMA_OP, "I|1|a|1\nU|2|b|2\nX|3|c|3\nI|4|d|4", 0, err);
	}
}

/* An error in file `bad` of a run over an existing table: the same message
 * at 1, 2 and 4 threads, naming the file, and the table unchanged. */
static bool bad_file_case(const char *name, int bad, const char *bad_name, const char *text,
			  const char *want, int also)
{
	char src[4096], lake[4200], empty[4200];
	cl_error err = {0};
	const char *tmp = cl_test_tmpdir(); /* a new folder each call */
	make_bad(src, sizeof src, tmp, name, bad, bad_name, text, &err);
	if (also >= 0) {
		/* a later file is corrupt too: read ahead (and failing) first,
		 * but the earlier file's error is the one reported */
		char later[64];
		snprintf(later, sizeof later, "20240101-10%02d%02d000.parquet", also / 60,
			 also % 60);
		cl_test_put(src, later, "PAR1 corrupt too PAR1");
	}
	/* the table holds the full load only (a folder with just that) */
	snprintf(empty, sizeof empty, "%s/%s/load", tmp, name);
	cl_test_mkdirs(empty);
	char from[4300], to[4300];
	snprintf(from, sizeof from, "%s/LOAD00000001.parquet", src);
	snprintf(to, sizeof to, "%s/LOAD00000001.parquet", empty);
	link(from, to);
	trun t[3] = {0};
	bool ok = true;
	for (int k = 0; k < 3; k++) {
		snprintf(lake, sizeof lake, "%s/%s/lake%d", tmp, name, k);
		trun before = {0};
		merge_at(&before, empty, lake, 1, 65536);
		merge_at(&t[k], src, lake, thread_counts[k], k == 2 ? 2 : 65536);
		bool same = before.rc == 0 && t[k].rc != 0 && before.table && t[k].table &&
			    !strcmp(before.table, t[k].table);
		if (!same)
			printf("    %d threads: load rc %d (%s), run rc %d (%s), table %s\n",
			       thread_counts[k], before.rc, before.message, t[k].rc, t[k].message,
			       before.table && t[k].table && !strcmp(before.table, t[k].table)
				       ? "unchanged"
				       : "changed");
		ok &= same;
		trun_free(&before);
	}
	/* batch sizes differ for 4 threads: the message does not depend on it */
	ok &= same_runs(t, 3);
	if (!strstr(t[0].message, bad_name) || !strstr(t[0].message, want)) {
		printf("    message: %s\n", t[0].message);
		ok = false;
	}
	for (int k = 0; k < 3; k++)
		trun_free(&t[k]);
	return ok;
}

TEST(dms_prefetch_corrupt_parquet_early_and_late)
{
	CHECK(bad_file_case("pf_corrupt_early", 1, "20240101-100001000.parquet",
			    "PAR1 this is not a parquet file at all PAR1", "", -1));
	CHECK(bad_file_case("pf_corrupt_late", 28, "20240101-100028000.parquet",
			    "PAR1 this is not a parquet file at all PAR1", "", -1));
}

TEST(dms_prefetch_bad_op_early_and_late)
{
	CHECK(bad_file_case("pf_op_early", 2, "20240101-100002000.parquet", NULL,
			    "row 3, column 'Op'", -1));
	CHECK(bad_file_case("pf_op_late", 29, "20240101-100029000.parquet", NULL,
			    "row 3, column 'Op'", -1));
}

TEST(dms_prefetch_first_error_wins)
{
	/* the first bad file is read by this thread (CSV), the next one ahead */
	CHECK(bad_file_case("pf_first_csv", 3, "20240101-100003000.csv",
			    "Op,id,v,x\nI,5,a,1\nU,6,b,notanumber\n", "column 'x'", 6));
	/* both read ahead: the earlier one's error */
	CHECK(bad_file_case("pf_first_op", 4, "20240101-100004000.parquet", NULL,
			    "row 3, column 'Op'", 5));
}

/* The fold fails (not the reader) in a file read ahead, batches of it
 * still queued or being decoded (2-row batches at 4 threads). */
TEST(dms_prefetch_fold_error_early_and_late)
{
	CHECK(bad_file_case("pf_nokey_early", 1, "20240101-100001000.parquet", NO_KEY,
			    "key column 'id' is missing", -1));
	CHECK(bad_file_case("pf_nokey_late", 28, "20240101-100028000.parquet", NO_KEY,
			    "key column 'id' is missing", -1));
}

TEST(dms_prefetch_bad_csv_value_early_and_late)
{
	CHECK(bad_file_case("pf_csv_early", 3, "20240101-100003000.csv",
			    "Op,id,v,x\nI,5,a,1\nU,6,b,notanumber\n", "column 'x'", -1));
	CHECK(bad_file_case("pf_csv_late", 27, "20240101-100027000.csv",
			    "Op,id,v,x\nI,5,a,1\nU,6,b,notanumber\n", "column 'x'", -1));
}

/* ---- the module alone ---------------------------------------------------- */

static int open_file(void *ctx, int i, cl_dms_reader **out, cl_error *err)
{
	const cl_dms_listing *l = ctx;
	cl_dms_read_options ro;
	cl_dms_read_options_init(&ro);
	ro.batch_rows = 2;
	return cl_dms_reader_open(out, l->dir, &l->files[i], &ro, err);
}

/* Every file's batches as text: through the prefetch (workers, bound) or
 * read here (p NULL). */
static int read_all(cl_buf *out, const cl_dms_listing *l, cl__dms_prefetch *p, cl_error *err)
{
	int rc = 0;
	for (int i = 0; !rc && i < l->nfiles; i++) {
		bool ahead = cl__dms_prefetch_covers(p, i);
		cl_dms_reader *rd = NULL;
		const cl_dms_reader *rs = NULL;
		rc = ahead ? cl__dms_prefetch_open(p, i, &rs, err) : open_file((void *)l, i, &rd, err);
		if (rd)
			rs = rd;
		if (!rc)
			cl_buf_printf(out, "%s: %d columns\n", l->files[i].path,
				      cl_dms_reader_schema(rs)->nfields);
		while (!rc) {
			cl_dms_changes ch;
			rc = ahead ? cl__dms_prefetch_next(p, i, &ch, err)
				   : cl_dms_reader_next(rd, &ch, err);
			if (rc || ch.nrows == 0)
				break;
			cl_buf_printf(out, "@%lld %.*s\n", (long long)ch.first_row, (int)ch.nrows,
				      ch.ops);
			cl_test_batch_text(out, ch.batch);
		}
		if (ahead)
			cl__dms_prefetch_close(p, i);
		cl_dms_reader_free(rd);
	}
	return rc;
}

/* A bound of one byte (each worker waits after every batch), 1 to 4
 * workers: the batches are the ones read on this thread, in order. */
TEST(dms_prefetch_tiny_bound_same_batches)
{
	char src[4096];
	snprintf(src, sizeof src, "%s/pf_tiny/src", cl_test_tmpdir());
	cl_test_mkdirs(src);
	cl_error err = {0};
	CHECK_OK(make_files(src, 0, 60, true, &err), &err);
	cl_dms_listing *l = NULL;
	CHECK_OK(cl_dms_list(&l, src, &err), &err);
	cl_dms_file **files = calloc((size_t)l->nfiles, sizeof *files);
	for (int i = 0; i < l->nfiles; i++)
		files[i] = &l->files[i];
	cl_buf want = {0};
	CHECK_OK(read_all(&want, l, NULL, &err), &err);
	for (int w = 1; w <= 4; w++) {
		cl__dms_prefetch *p = NULL;
		cl_buf got = {0};
		CHECK_OK(cl__dms_prefetch_start(&p, (const cl_dms_file *const *)files, l->nfiles, w,
						1, open_file, l, &err),
			 &err);
		CHECK(p != NULL);
		CHECK(cl__dms_prefetch_covers(p, 0) && cl__dms_prefetch_covers(p, 5));
		CHECK_OK(read_all(&got, l, p, &err), &err);
		CHECK(got.len == want.len && !memcmp(got.data, want.data, want.len));
		cl__dms_prefetch_free(p);
		/* left in the middle of a file, workers ahead */
		CHECK_OK(cl__dms_prefetch_start(&p, (const cl_dms_file *const *)files, l->nfiles, w,
						w * 100, open_file, l, &err),
			 &err);
		const cl_dms_reader *rs;
		cl_dms_changes ch;
		CHECK_OK(cl__dms_prefetch_open(p, 0, &rs, &err), &err);
		CHECK_OK(cl__dms_prefetch_next(p, 0, &ch, &err), &err);
		CHECK_EQ_INT(ch.nrows, 2);
		cl__dms_prefetch_free(p);
		cl_buf_release(&got);
	}
	/* nothing to read ahead: no prefetch */
	cl__dms_prefetch *p = (cl__dms_prefetch *)1;
	CHECK_OK(cl__dms_prefetch_start(&p, (const cl_dms_file *const *)files, l->nfiles, 0, 0,
					open_file, l, &err),
		 &err);
	CHECK(p == NULL);
	CHECK(!cl__dms_prefetch_covers(NULL, 0));
	cl_buf_release(&want);
	free(files);
	cl_dms_listing_free(l);
}
