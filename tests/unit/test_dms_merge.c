/* test_dms_merge.c — the consumed-file set kept in a lake table. */
#include "test.h"

#include <stdio.h>
#include <sys/stat.h>

#include "changelake.h"
#include "changelake/dms_merge.h"

TEST(dms_consumed_in_table_log)
{
	char loc[4096];
	const char *tmp = cl_test_tmpdir();
	snprintf(loc, sizeof loc, "%s/lake", tmp);
	mkdir(loc, 0777);
	snprintf(loc, sizeof loc, "%s/lake/orders", tmp);
	cl_error e = {0};
	cl_table *t;
	CHECK_OK(cl_table_open(&t, loc, &e), &e);
	cl_schema *s;
	CHECK_OK(cl_schema_parse(&s, "id int64, v string", &e), &e);
	CHECK_OK(cl_table_create(t, s, NULL, &e), &e);
	cl_schema_free(s);
	cl_snapshot *snap;
	CHECK_OK(cl_table_snapshot(&snap, t, NULL, &e), &e);
	cl_dms_consumed *c;
	int64_t v;
	CHECK_OK(cl_dms_consumed_load(&c, &v, t, snap, NULL, &e), &e);
	CHECK_EQ_INT(c->n, 0);
	CHECK_EQ_INT(v, -1);
	cl_dms_consumed_file f = {"LOAD00000001.csv", CL_DMS_LOAD, 10, 20, CL_DMS_LOAD_KEY_BASE};
	CHECK_OK(cl_dms_consumed_put(c, &f, &e), &e);

	/* A writer that records the set but never commits (a crash) leaves
	   the table's set unchanged. */
	cl_table_txn *x;
	CHECK_OK(cl_table_txn_begin(&x, t, snap, "MERGE", &e), &e);
	CHECK_OK(cl_dms_consumed_record(t, x, snap, c, NULL, "dms:/src", &v, &e), &e);
	cl_table_txn_free(x);
	cl_snapshot *s2;
	CHECK_OK(cl_table_snapshot(&s2, t, NULL, &e), &e);
	cl_dms_consumed *c2;
	CHECK_OK(cl_dms_consumed_load(&c2, &v, t, s2, NULL, &e), &e);
	CHECK_EQ_INT(c2->n, 0);
	cl_dms_consumed_free(c2);
	cl_snapshot_free(s2);

	/* Recorded and committed: read back from the new snapshot. */
	CHECK_OK(cl_table_txn_begin(&x, t, snap, "MERGE", &e), &e);
	int64_t rv;
	CHECK_OK(cl_dms_consumed_record(t, x, snap, c, NULL, "dms:/src", &rv, &e), &e);
	CHECK_OK(cl_table_txn_commit(x, NULL, &e), &e);
	cl_table_txn_free(x);
	CHECK_OK(cl_table_snapshot(&s2, t, NULL, &e), &e);
	CHECK_OK(cl_dms_consumed_load(&c2, &v, t, s2, NULL, &e), &e);
	CHECK_EQ_INT(v, rv);
	CHECK_EQ_INT(c2->n, 1);
	CHECK_STR(c2->files[0].path, "LOAD00000001.csv");
	CHECK_EQ_INT(c2->files[0].size, 10);
	cl_dms_consumed_free(c2);

	/* A second writer from the old snapshot conflicts: one winner. */
	CHECK_OK(cl_table_txn_begin(&x, t, snap, "MERGE", &e), &e);
	CHECK_OK(cl_dms_consumed_record(t, x, snap, c, NULL, "dms:/src", NULL, &e), &e);
	CHECK(cl_table_txn_commit(x, NULL, &e) == CL_ECONFLICT);
	cl_table_txn_free(x);

	/* The manifest the log points at is gone: an error, never "nothing
	   consumed" (which would load everything again). */
	char key[96];
	CHECK_OK(cl_store_delete(cl_table_store(t), cl_dms_manifest_key(key, sizeof key, rv), &e),
		 &e);
	CHECK(cl_dms_consumed_load(&c2, &v, t, s2, NULL, &e) == CL_EFORMAT);
	CHECK(strstr(e.message, "missing") != NULL);
	cl_snapshot_free(s2);
	cl_dms_consumed_free(c);
	cl_snapshot_free(snap);
	cl_table_free(t);
}
