/* test_threads_env.c — CL_THREADS is the library's default thread count
 * only where a caller gives none: an explicit count (reader and writer
 * options, a table transaction's) wins over the environment. */
#include "test.h"

#include "changelake/io.h"
#include "changelake/table.h"

#include <stdlib.h>
#include <string.h>

/* The process's threads (/proc/self/status), -1 if unknown. */
static int thread_count(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	if (!f)
		return -1;
	char line[256];
	int n = -1;
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, "Threads:", 8))
			n = atoi(line + 8);
	fclose(f);
	return n;
}

TEST(threads_env_txn_default_only)
{
	cl_error err = {0};
	char root[600];
	snprintf(root, sizeof root, "%s/t", cl_test_tmpdir());
	cl_table *t = NULL;
	cl_schema *s = NULL;
	CHECK_OK(cl_table_open(&t, root, &err), &err);
	CHECK_OK(cl_schema_parse(&s, "id int64 not null", &err), &err);
	cl_table_create_options o;
	cl_table_create_options_init(&o);
	CHECK_OK(cl_table_create(t, s, &o, &err), &err);
	cl_snapshot *snap = NULL;
	CHECK_OK(cl_table_snapshot(&snap, t, NULL, &err), &err);
	cl_table_txn *x = NULL;
	CHECK_OK(cl_table_txn_begin(&x, t, snap, "WRITE", &err), &err);
	unsetenv("CL_THREADS");
	CHECK_EQ_INT(cl_table_txn_threads(x), 1);
	setenv("CL_THREADS", "3", 1);
	CHECK_EQ_INT(cl_table_txn_threads(x), 3); /* no count given: the default */
	cl_table_txn_set_threads(x, 2);
	CHECK_EQ_INT(cl_table_txn_threads(x), 2); /* given: it wins */
	cl_table_txn_set_threads(x, 1);
	CHECK_EQ_INT(cl_table_txn_threads(x), 1);
	cl_table_txn_set_threads(x, 0);
	CHECK_EQ_INT(cl_table_txn_threads(x), 3);
	unsetenv("CL_THREADS");
	cl_table_txn_free(x);
	cl_snapshot_free(snap);
	cl_schema_free(s);
	cl_table_free(t);
}

/* A Parquet file of several row groups read with threads = 1 while
 * CL_THREADS=3 starts no thread; with threads = 0 the environment's 3
 * decode it on threads of their own. */
TEST(threads_env_reader_explicit_wins)
{
	cl_error err = {0};
	char path[600];
	snprintf(path, sizeof path, "%s/rg.parquet", cl_test_tmpdir());
	cl_schema *s = NULL;
	cl_batch *b = NULL;
	CHECK(cl_schema_parse(&s, "id int64 not null, v string", &err) == 0);
	CHECK_OK(cl_batch_create(&b, s, 0, &err), &err);
	for (int i = 0; i < 40000; i++) {
		char v[32];
		snprintf(v, sizeof v, "v%d", i * 7);
		CHECK_OK(cl_column_append_i64(&b->cols[0], i, &err), &err);
		CHECK_OK(cl_column_append_bytes(&b->cols[1], v, strlen(v), &err), &err);
		b->nrows++;
	}
	unsetenv("CL_THREADS");
	CHECK_OK(cl_test_write_parquet(path, s, b, 4000, &err), &err);
	int base = thread_count();
	CHECK(base >= 1);
	setenv("CL_THREADS", "3", 1);
	for (int pass = 0; pass < 2; pass++) {
		cl_read_options ro;
		cl_read_options_init(&ro);
		ro.threads = pass == 0 ? 1 : 0;
		cl_reader *r = NULL;
		CHECK_OK(cl_reader_open(&r, path, &ro, &err), &err);
		cl_batch *got = NULL;
		int64_t rows = 0;
		int most = base;
		while (r && cl_reader_next(r, &got, &err) == 0 && got) {
			rows += got->nrows;
			int n = thread_count();
			most = n > most ? n : most;
		}
		CHECK_EQ_INT(rows, 40000);
		if (pass == 0)
			CHECK_EQ_INT(most, base);
		else
			CHECK(most > base);
		cl_reader_free(r);
	}
	unsetenv("CL_THREADS");
	cl_batch_free(b);
	cl_schema_free(s);
}
