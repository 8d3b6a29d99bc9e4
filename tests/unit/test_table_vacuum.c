/* test_table_vacuum.c — vacuum deletes exactly the files no version within
 * the retention needs, and orphans of crashed writers. */
#include "test.h"

#include <sys/time.h>
#include <unistd.h>

#include "changelake/table.h"

static void put(cl_store *st, const char *key)
{
	cl_error err = {0};
	cl_store_put(st, key, "data", 4, &err);
}

/* Make an object look `age_s` seconds old. */
static void age(cl_store *st, const char *key, int age_s)
{
	char *path;
	bool tmp;
	cl_error err = {0};
	if (cl_store_fetch(st, key, &path, &tmp, &err))
		return;
	struct timeval tv[2];
	gettimeofday(&tv[0], NULL);
	tv[0].tv_sec -= age_s;
	tv[1] = tv[0];
	utimes(path, tv);
	cl_free(path);
}

static bool exists(cl_store *st, const char *key)
{
	cl_store_object o;
	cl_error err = {0};
	return cl_store_head(st, key, &o, &err) == 0;
}

static int commit(cl_table *t, const char *add, const char *rm, cl_error *err)
{
	cl_snapshot *s;
	int rc = cl_table_snapshot(&s, t, NULL, err);
	if (rc)
		return rc;
	cl_table_txn *x;
	rc = cl_table_txn_begin(&x, t, s, "WRITE", err);
	if (!rc && add)
		rc = cl_table_txn_add(x, &(cl_table_add){add, 4, 1, NULL, 0, NULL, true, NULL}, err);
	for (size_t i = 0; !rc && rm && i < cl_snapshot_nfiles(s); i++)
		if (!strcmp(cl_snapshot_file(s, i)->path, rm))
			rc = cl_table_txn_remove(x, cl_snapshot_file(s, i), true, err);
	rc = rc ? rc : cl_table_txn_commit(x, NULL, err);
	cl_table_txn_free(x);
	cl_snapshot_free(s);
	return rc;
}

TEST(table_vacuum_retention_and_orphans)
{
	cl_error err = {0};
	char root[600];
	snprintf(root, sizeof root, "%s/t", cl_test_tmpdir());
	cl_table *t;
	CHECK_OK(cl_table_open(&t, root, &err), &err);
	cl_schema *sc;
	CHECK_OK(cl_schema_parse(&sc, "id int64", &err), &err);
	CHECK_OK(cl_table_create(t, sc, NULL, &err), &err);
	cl_schema_free(sc);
	cl_store *st = cl_table_store(t);
	put(st, "a.parquet");
	put(st, "b.parquet");
	put(st, "p=1/c.parquet");
	CHECK_OK(commit(t, "a.parquet", NULL, &err), &err);
	CHECK_OK(commit(t, "b.parquet", NULL, &err), &err);
	CHECK_OK(commit(t, "p=1/c.parquet", "a.parquet", &err), &err); /* a removed now */
	put(st, "orphan.parquet");                 /* written, never committed */
	put(st, "p=1/" CL_STORE_STAGE_PREFIX "1-2-3-x.parquet"); /* crashed staging */
	put(st, "_changelake/state.db");           /* hidden folder: never touched */
	put(st, ".b.parquet.crc");                 /* hidden file: never touched */
	const char *all[] = {"a.parquet", "b.parquet", "p=1/c.parquet", "orphan.parquet",
			     "p=1/" CL_STORE_STAGE_PREFIX "1-2-3-x.parquet",
			     "_changelake/state.db", ".b.parquet.crc"};
	/* everything young: nothing goes */
	cl_vacuum_result r;
	CHECK_OK(cl_table_vacuum(t, 3600 * 1000, false, &r, NULL, &err), &err);
	CHECK_EQ_INT(r.files_deleted, 0);
	CHECK_EQ_INT(r.files_kept, 2); /* orphan, staging (a: its remove is recent) */
	/* objects old, but a's remove is recent: a stays for time travel */
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		age(st, all[i], 7200);
	cl_store_list del = {0};
	CHECK_OK(cl_table_vacuum(t, 3600 * 1000, true, &r, &del, &err), &err); /* dry run */
	CHECK_EQ_INT(r.files_deleted, 2);
	CHECK_EQ_INT(del.n, 2);
	CHECK_STR(del.items[0].key, "orphan.parquet");
	CHECK_STR(del.items[1].key, "p=1/" CL_STORE_STAGE_PREFIX "1-2-3-x.parquet");
	cl_store_list_release(&del);
	CHECK(exists(st, "orphan.parquet"));
	CHECK_OK(cl_table_vacuum(t, 3600 * 1000, false, &r, NULL, &err), &err);
	CHECK_EQ_INT(r.files_deleted, 2);
	CHECK(!exists(st, "orphan.parquet"));
	CHECK(exists(st, "a.parquet"));
	cl_table_at at = {CL_AT_VERSION, 2, 0};
	cl_snapshot *s;
	CHECK_OK(cl_table_snapshot(&s, t, &at, &err), &err);
	for (size_t i = 0; i < cl_snapshot_nfiles(s); i++)
		CHECK(exists(st, cl_snapshot_file(s, i)->path));
	cl_snapshot_free(s);
	/* retention 0: the removed file goes too, nothing live or hidden does */
	usleep(5000);
	CHECK_OK(cl_table_vacuum(t, 0, false, &r, NULL, &err), &err);
	CHECK_EQ_INT(r.files_deleted, 1);
	CHECK(!exists(st, "a.parquet"));
	CHECK(exists(st, "b.parquet"));
	CHECK(exists(st, "p=1/c.parquet"));
	CHECK(exists(st, "_changelake/state.db"));
	CHECK(exists(st, ".b.parquet.crc"));
	CHECK(exists(st, "_delta_log/00000000000000000003.json"));
	CHECK_OK(cl_table_snapshot(&s, t, NULL, &err), &err);
	CHECK_EQ_INT(cl_snapshot_nfiles(s), 2);
	cl_snapshot_free(s);
	cl_table_free(t);
}

TEST(table_vacuum_refuses_unknown_writer_features)
{
	cl_error err = {0};
	char root[600];
	snprintf(root, sizeof root, "%s/t", cl_test_tmpdir());
	cl_table *t;
	CHECK_OK(cl_table_open(&t, root, &err), &err);
	const char *log = "{\"protocol\":{\"minReaderVersion\":1,\"minWriterVersion\":7,"
			  "\"writerFeatures\":[\"rowTracking\"]}}\n"
			  "{\"metaData\":{\"id\":\"x\",\"format\":{\"provider\":\"parquet\"},"
			  "\"schemaString\":\"{\\\"type\\\":\\\"struct\\\",\\\"fields\\\":[]}\","
			  "\"partitionColumns\":[],\"configuration\":{}}}\n";
	CHECK_OK(cl_store_put(cl_table_store(t), "_delta_log/00000000000000000000.json", log,
			      strlen(log), &err), &err);
	cl_vacuum_result r;
	CHECK_EQ_INT(cl_table_vacuum(t, 0, false, &r, NULL, &err), CL_EUNSUPPORTED);
	CHECK(strstr(err.message, "rowTracking"));
	cl_table_free(t);
}
