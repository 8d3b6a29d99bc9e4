/* test_table_data.c — rows into and out of lake tables: layout (partition
 * folders, transforms, buckets), statistics, pruning, type conversion. */
#include "test.h"

#include "changelake/hash.h"
#include "changelake/table.h"

static cl_table *make_table(const char *schema_text, const char *const *part, int npart,
			    const char *key, int buckets)
{
	static char root[600];
	snprintf(root, sizeof root, "%s/t", cl_test_tmpdir());
	cl_error err = {0};
	cl_table *t;
	if (cl_table_open(&t, root, &err))
		return NULL;
	cl_schema *s;
	if (cl_schema_parse(&s, schema_text, &err))
		return NULL;
	cl_table_create_options o;
	cl_table_create_options_init(&o);
	o.partition_by = part;
	o.npartition_by = npart;
	o.keys = key ? &key : NULL;
	o.nkeys = key ? 1 : 0;
	o.buckets = buckets;
	int rc = cl_table_create(t, s, &o, &err);
	cl_schema_free(s);
	if (rc) {
		printf("    %s\n", err.message);
		cl_table_free(t);
		return NULL;
	}
	return t;
}

/* rows: id = i, region = "r" + i%3 (NULL when i%7==0... no: i%10==9), v = i*1.5,
 * ts = 2024-01-01 + i hours (ms, utc) */
static cl_batch *make_rows(cl_schema **schema, int n, int first)
{
	cl_error err = {0};
	cl_schema_parse(schema, "id uint32\nregion string\nv float64\nts timestamp(ms,utc)", &err);
	cl_batch *b;
	cl_batch_create(&b, *schema, n, &err);
	for (int i = first; i < first + n; i++) {
		cl_column_append_i64(&b->cols[0], i, &err);
		char r[8];
		snprintf(r, sizeof r, "r%d", i % 3);
		if (i % 10 == 9)
			cl_column_append_null(&b->cols[1], &err);
		else
			cl_column_append_bytes(&b->cols[1], r, strlen(r), &err);
		cl_column_append_f64(&b->cols[2], i * 1.5, &err);
		cl_column_append_i64(&b->cols[3], 1704067200000LL + (int64_t)i * 3600000, &err);
	}
	b->nrows = n;
	return b;
}

static int write_rows(cl_table *t, const char *op, int n, int first, int64_t *version,
		      cl_error *err)
{
	cl_snapshot *s;
	int rc = cl_table_snapshot(&s, t, NULL, err);
	if (rc)
		return rc;
	cl_table_txn *x = NULL;
	cl_table_writer *w = NULL;
	cl_schema *sc = NULL;
	cl_batch *b = make_rows(&sc, n, first);
	rc = cl_table_txn_begin(&x, t, s, op, err);
	rc = rc ? rc : cl_table_writer_open(&w, x, sc, err);
	rc = rc ? rc : cl_table_writer_write(w, b, err);
	rc = rc ? rc : cl_table_writer_finish(w, err);
	rc = rc ? rc : cl_table_txn_commit(x, version, err);
	cl_table_writer_free(w);
	cl_table_txn_free(x);
	cl_batch_free(b);
	cl_schema_free(sc);
	cl_snapshot_free(s);
	return rc;
}

/* Sum of id and count over a scan. */
static int scan_sum(cl_table *t, const cl_table_at *at, const cl_table_scan_options *o,
		    int64_t *rows, int64_t *sum, int64_t *skipped, cl_error *err)
{
	cl_snapshot *s;
	int rc = cl_table_snapshot(&s, t, at, err);
	if (rc)
		return rc;
	cl_table_scan *sc;
	rc = cl_table_scan_open(&sc, t, s, o, err);
	*rows = *sum = 0;
	cl_batch *b;
	while (!rc && !(rc = cl_table_scan_next(sc, &b, err)) && b) {
		*rows += b->nrows;
		for (int64_t r = 0; r < b->nrows; r++)
			*sum += cl_column_get_i64(&b->cols[0], r);
	}
	int64_t read = 0;
	if (!rc)
		cl_table_scan_counts(sc, &read, skipped);
	cl_table_scan_free(sc);
	cl_snapshot_free(s);
	return rc;
}

TEST(table_data_write_read_partitioned_bucketed)
{
	cl_error err = {0};
	const char *part[] = {"region", "ts:day"};
	cl_table *t = make_table("id uint32 not null\nregion string\nv float64\nts timestamp(ms,utc)",
				 part, 2, "id", 4);
	CHECK(t);
	int64_t v;
	CHECK_OK(write_rows(t, "WRITE", 100, 0, &v, &err), &err);
	CHECK_EQ_INT(v, 1);
	cl_snapshot *s;
	CHECK_OK(cl_table_snapshot(&s, t, NULL, &err), &err);
	const cl_schema *sc = cl_snapshot_schema(s);
	CHECK_EQ_INT(sc->nfields, 5);
	CHECK_STR(sc->fields[4].name, "ts_day");
	CHECK(sc->fields[0].type.id == CL_INT64); /* uint32 widened */
	CHECK_EQ_INT(cl_snapshot_num_records(s), 100);
	/* 100 hours = 5 days (Jan 1..5), 4 regions (r0..r2, null), <= 4 buckets */
	size_t nf = cl_snapshot_nfiles(s);
	CHECK(nf > 20 && nf <= 5 * 4 * 4);
	for (size_t i = 0; i < nf; i++) {
		const cl_table_file *f = cl_snapshot_file(s, i);
		CHECK_EQ_INT(f->npartition, 2);
		char dir[200];
		snprintf(dir, sizeof dir, "region=%s/ts_day=%s/",
			 f->partition[0].value ? f->partition[0].value : "__HIVE_DEFAULT_PARTITION__",
			 f->partition[1].value);
		CHECK(strncmp(f->path, dir, strlen(dir)) == 0);
		CHECK(strstr(f->path, ".c000.snappy.parquet"));
		CHECK(f->stats_json && strstr(f->stats_json, "\"minValues\":{\"id\":"));
		CHECK(f->num_records > 0);
		cl_store_object o;
		CHECK_OK(cl_store_head(cl_table_store(t), f->path, &o, &err), &err);
		CHECK_EQ_INT(f->size, o.size);
		CHECK(o.size > 100);
	}
	cl_snapshot_free(s);
	int64_t rows, sum, skipped;
	CHECK_OK(scan_sum(t, NULL, NULL, &rows, &sum, &skipped, &err), &err);
	CHECK_EQ_INT(rows, 100);
	CHECK_EQ_INT(sum, 99 * 100 / 2);
	/* every row is in the bucket its key hashes to, and partition columns
	 * are filled in */
	CHECK_OK(cl_table_snapshot(&s, t, NULL, &err), &err);
	cl_table_scan *scan;
	CHECK_OK(cl_table_scan_open(&scan, t, s, NULL, &err), &err);
	cl_batch *b;
	int64_t seen = 0;
	while (cl_table_scan_next(scan, &b, &err) == 0 && b) {
		for (int64_t r = 0; r < b->nrows; r++) {
			int64_t id = cl_column_get_i64(&b->cols[0], r);
			CHECK_EQ_INT(cl_column_is_null(&b->cols[1], r), id % 10 == 9);
			char *txt;
			size_t n;
			CHECK_OK(cl_value_text(&b->cols[4], r, &txt, &n, &err), &err);
			char want[16];
			snprintf(want, sizeof want, "2024-01-%02d", (int)(1 + id / 24));
			CHECK_STR(txt, want);
			cl_free(txt);
			seen++;
		}
	}
	CHECK_EQ_INT(seen, 100);
	cl_table_scan_free(scan);
	for (size_t i = 0; i < cl_snapshot_nfiles(s); i++) {
		const char *path = cl_snapshot_file(s, i)->path;
		const char *only[1] = {path};
		cl_table_scan_options o = {0};
		o.only_files = only;
		o.nonly_files = 1;
		CHECK_OK(cl_table_scan_open(&scan, t, s, &o, &err), &err);
		int bucket = -1;
		sscanf(strrchr(path, '_'), "_%d.c000", &bucket);
		while (cl_table_scan_next(scan, &b, &err) == 0 && b)
			for (int64_t r = 0; r < b->nrows; r++)
				CHECK_EQ_INT(cl_hash_value(&b->cols[0], r, 0) % 4, bucket);
		cl_table_scan_free(scan);
	}
	cl_snapshot_free(s);
	/* pruning: by partition value and by statistics */
	cl_parquet_predicate p1[] = {{"region", CL_PQ_EQ, "r1"}};
	cl_table_scan_options o = {.filters = p1, .nfilters = 1};
	CHECK_OK(scan_sum(t, NULL, &o, &rows, &sum, &skipped, &err), &err);
	CHECK(skipped > 0);
	CHECK(rows >= 30 && rows < 100);
	cl_parquet_predicate p2[] = {{"id", CL_PQ_GE, "1000"}};
	o.filters = p2;
	CHECK_OK(scan_sum(t, NULL, &o, &rows, &sum, &skipped, &err), &err);
	CHECK_EQ_INT(rows, 0);
	cl_parquet_predicate p3[] = {{"ts", CL_PQ_LT, "2024-01-02 00:00:00+00"}};
	o.filters = p3;
	CHECK_OK(scan_sum(t, NULL, &o, &rows, &sum, &skipped, &err), &err);
	CHECK_EQ_INT(rows, 24); /* only the first day's files are read */
	cl_table_free(t);
}

TEST(table_data_append_time_travel_and_errors)
{
	cl_error err = {0};
	cl_table *t = make_table("id int64 not null\nregion string\nv float64\nts timestamp(us,utc)",
				 NULL, 0, NULL, 0);
	CHECK(t);
	CHECK_OK(write_rows(t, "WRITE", 10, 0, NULL, &err), &err);
	CHECK_OK(write_rows(t, "WRITE", 10, 10, NULL, &err), &err);
	int64_t rows, sum, skipped;
	cl_table_at at = {CL_AT_VERSION, 1, 0};
	CHECK_OK(scan_sum(t, &at, NULL, &rows, &sum, &skipped, &err), &err);
	CHECK_EQ_INT(rows, 10);
	CHECK_OK(scan_sum(t, NULL, NULL, &rows, &sum, &skipped, &err), &err);
	CHECK_EQ_INT(rows, 20);
	CHECK_EQ_INT(sum, 190);
	/* a column the table does not have */
	cl_snapshot *s;
	CHECK_OK(cl_table_snapshot(&s, t, NULL, &err), &err);
	cl_table_txn *x;
	CHECK_OK(cl_table_txn_begin(&x, t, s, "WRITE", &err), &err);
	cl_schema *in;
	CHECK_OK(cl_schema_parse(&in, "id int64\nextra string", &err), &err);
	cl_table_writer *w;
	CHECK_EQ_INT(cl_table_writer_open(&w, x, in, &err), CL_ESCHEMA);
	CHECK(strstr(err.message, "'extra'"));
	cl_schema_free(in);
	/* a NULL into a not-null column, named by row and column */
	CHECK_OK(cl_schema_parse(&in, "id int64\nv float64", &err), &err);
	CHECK_OK(cl_table_writer_open(&w, x, in, &err), &err);
	cl_batch *b;
	CHECK_OK(cl_batch_create(&b, in, 2, &err), &err);
	cl_column_append_i64(&b->cols[0], 1, &err);
	cl_column_append_null(&b->cols[0], &err);
	cl_column_append_f64(&b->cols[1], 1, &err);
	cl_column_append_f64(&b->cols[1], 2, &err);
	b->nrows = 2;
	CHECK_EQ_INT(cl_table_writer_write(w, b, &err), CL_ETYPE);
	CHECK(strstr(err.message, "row 2, column 'id'"));
	cl_batch_free(b);
	cl_table_writer_free(w);
	cl_schema_free(in);
	cl_table_txn_free(x);
	cl_snapshot_free(s);
	/* nothing was committed, and the abandoned writer left no stage files */
	CHECK_OK(scan_sum(t, NULL, NULL, &rows, &sum, &skipped, &err), &err);
	CHECK_EQ_INT(rows, 20);
	cl_store_list l = {0};
	CHECK_OK(cl_store_list_prefix(cl_table_store(t), "", NULL, &l, &err), &err);
	for (size_t i = 0; i < l.n; i++)
		CHECK(!strstr(l.items[i].key, CL_STORE_STAGE_PREFIX));
	cl_store_list_release(&l);
	cl_table_free(t);
}

/* Row i of the scatter test, column c: expected text (NULL: null). */
static const char *scatter_value(int64_t i, int c, char *buf, size_t cap)
{
	switch (c) {
	case 0:
		snprintf(buf, cap, "%lld", (long long)i);
		return buf;
	case 1: {
		if (i % 13 == 0)
			return NULL;
		int n = (int)(i % 41);
		for (int k = 0; k < n; k++)
			buf[k] = (char)('a' + (i + k) % 26);
		buf[n] = 0;
		return buf;
	}
	case 2:
		return i % 5 == 0 ? NULL : i % 2 ? "true" : "false";
	case 3:
		snprintf(buf, cap, "%lld", (long long)(i * 7 - 1000));
		return buf;
	default:
		if (i % 17 == 3)
			return NULL;
		snprintf(buf, cap, "%lld.%04d", (long long)i * 1234567, (int)(i % 10000));
		return buf;
	}
}

static cl_batch *scatter_rows(const cl_schema *s, int64_t first, int64_t n)
{
	cl_error err = {0};
	cl_batch *b;
	if (cl_batch_create(&b, s, n, &err))
		return NULL;
	char buf[80];
	for (int64_t i = first; i < first + n; i++) {
		cl_column_append_i64(&b->cols[0], i, &err);
		const char *v = scatter_value(i, 1, buf, sizeof buf);
		if (v)
			cl_column_append_bytes(&b->cols[1], v, strlen(v), &err);
		else
			cl_column_append_null(&b->cols[1], &err);
		if (i % 5 == 0)
			cl_column_append_null(&b->cols[2], &err);
		else
			cl_column_append_bool(&b->cols[2], i % 2, &err);
		cl_column_append_i64(&b->cols[3], i * 7 - 1000, &err);
		if (i % 17 == 3) {
			cl_column_append_null(&b->cols[4], &err);
		} else {
			__int128 d = (__int128)i * 1234567 * 10000 + i % 10000;
			cl_column_append_fixed(&b->cols[4], &d, &err);
		}
	}
	b->nrows = n;
	return b;
}

/*
 * Rows routed to the buckets of a table without partition columns, in
 * batches larger and smaller than the routing slice (65536) and with
 * nulls, empty and long strings, bools, int32 and 16-byte decimals: each
 * file holds exactly its bucket's rows in input order, every value intact.
 */
TEST(table_data_bucketed_scatter_keeps_rows)
{
	cl_error err = {0};
	const char *text = "id int64 not null\ns string\nflag bool\nq int32\nd decimal(30,4)";
	cl_table *t = make_table(text, NULL, 0, "id", 8);
	CHECK(t);
	cl_schema *in;
	CHECK_OK(cl_schema_parse(&in, text, &err), &err);
	const int64_t sizes[] = {150001, 777, 70000};
	cl_snapshot *s;
	CHECK_OK(cl_table_snapshot(&s, t, NULL, &err), &err);
	cl_table_txn *x;
	CHECK_OK(cl_table_txn_begin(&x, t, s, "WRITE", &err), &err);
	cl_table_writer *w;
	CHECK_OK(cl_table_writer_open(&w, x, in, &err), &err);
	int64_t total = 0;
	for (int k = 0; k < 3; k++) {
		cl_batch *b = scatter_rows(in, total, sizes[k]);
		CHECK(b);
		CHECK_OK(cl_table_writer_write(w, b, &err), &err);
		cl_batch_free(b);
		total += sizes[k];
	}
	CHECK_OK(cl_table_writer_finish(w, &err), &err);
	CHECK_OK(cl_table_txn_commit(x, NULL, &err), &err);
	cl_table_writer_free(w);
	cl_table_txn_free(x);
	cl_snapshot_free(s);

	CHECK_OK(cl_table_snapshot(&s, t, NULL, &err), &err);
	CHECK_EQ_INT(cl_snapshot_num_records(s), total);
	CHECK_EQ_INT(cl_snapshot_nfiles(s), 8);
	int64_t seen = 0, bad = 0;
	for (size_t f = 0; f < cl_snapshot_nfiles(s); f++) {
		const char *path = cl_snapshot_file(s, f)->path;
		const char *only[1] = {path};
		cl_table_scan_options o = {0};
		o.only_files = only;
		o.nonly_files = 1;
		cl_table_scan *scan;
		CHECK_OK(cl_table_scan_open(&scan, t, s, &o, &err), &err);
		int bucket = -1;
		sscanf(strrchr(path, '_'), "_%d.c000", &bucket);
		int64_t prev = -1;
		cl_batch *b;
		while (cl_table_scan_next(scan, &b, &err) == 0 && b) {
			for (int64_t r = 0; r < b->nrows; r++, seen++) {
				int64_t id = cl_column_get_i64(&b->cols[0], r);
				bad += id <= prev;
				prev = id;
				bad += (int)(cl_hash_value(&b->cols[0], r, 0) % 8) != bucket;
				for (int c = 1; c < 5; c++) {
					char want[80], *got = NULL;
					size_t n;
					const char *wv = scatter_value(id, c, want, sizeof want);
					CHECK_OK(cl_value_text(&b->cols[c], r, &got, &n, &err), &err);
					bad += (!wv) != (!got) || (wv && strcmp(wv, got));
					cl_free(got);
				}
			}
		}
		cl_table_scan_free(scan);
	}
	CHECK_EQ_INT(bad, 0);
	CHECK_EQ_INT(seen, total);
	cl_snapshot_free(s);
	cl_schema_free(in);
	cl_table_free(t);
}

/* Values converted to a table column's type (cl__append_converted): dates
 * and timestamps reach every timestamp unit exactly (a DATE into
 * nanoseconds was 1000 times too small), before-1970 values round down,
 * and a value past nanoseconds' range is an error, not a wrapped value. */
#include "table/table_data.h"
TEST(table_append_converted_time_units)
{
	cl_error err = {0};
	cl_schema *s = NULL;
	cl_batch *src = NULL, *dst = NULL;
	CHECK_OK(cl_schema_parse(&s, "d date, us timestamp(us), ns timestamp(ns), ms timestamp(ms)",
				 &err), &err);
	CHECK_OK(cl_batch_create(&src, s, 0, &err), &err);
	CHECK_OK(cl_batch_create(&dst, s, 0, &err), &err);
	/* 2024-01-02 (19724 days), -1 day, and a day far past 2262 */
	int64_t days[3] = {19724, -1, 200000};
	int64_t us[3] = {1704153600123456LL, -1500, INT64_MAX / 100};
	for (int i = 0; i < 3; i++) {
		CHECK_OK(cl_column_append_i64(&src->cols[0], days[i], &err), &err);
		CHECK_OK(cl_column_append_i64(&src->cols[1], us[i], &err), &err);
	}
	/* DATE -> ns, ms, us */
	CHECK_OK(cl__append_converted(&dst->cols[2], &src->cols[0], 0, &err), &err);
	CHECK(cl_column_get_i64(&dst->cols[2], 0) == 19724LL * 86400000000000LL);
	CHECK_OK(cl__append_converted(&dst->cols[3], &src->cols[0], 1, &err), &err);
	CHECK(cl_column_get_i64(&dst->cols[3], 0) == -86400000LL);
	CHECK_OK(cl__append_converted(&dst->cols[1], &src->cols[0], 2, &err), &err);
	CHECK(cl_column_get_i64(&dst->cols[1], 0) == 200000LL * 86400000000LL);
	CHECK_EQ_INT(cl__append_converted(&dst->cols[2], &src->cols[0], 2, &err), CL_ETYPE);
	CHECK(strstr(err.message, "does not fit") != NULL);
	/* us -> ns, ms (rounding down before 1970) */
	CHECK_OK(cl__append_converted(&dst->cols[2], &src->cols[1], 0, &err), &err);
	CHECK(cl_column_get_i64(&dst->cols[2], 1) == 1704153600123456000LL);
	CHECK_OK(cl__append_converted(&dst->cols[3], &src->cols[1], 1, &err), &err);
	CHECK(cl_column_get_i64(&dst->cols[3], 1) == -2);
	CHECK_EQ_INT(cl__append_converted(&dst->cols[2], &src->cols[1], 2, &err), CL_ETYPE);
	cl_batch_free(src);
	cl_batch_free(dst);
	cl_schema_free(s);
}
