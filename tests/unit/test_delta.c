/* test_delta.c — the Delta log: create, commit, replay, time travel,
 * conflicts, watermarks, paths and schema mapping. */
#include "test.h"

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "changelake/table.h"
#include "core/json.h"
#include "table/delta.h"

static cl_schema *schema_of(const char *text)
{
	cl_schema *s = NULL;
	cl_error err = {0};
	cl_schema_parse(&s, text, &err);
	return s;
}

static cl_table *new_table(const char *text, const char *part, const char *keys,
			   int buckets)
{
	static char root[600];
	snprintf(root, sizeof root, "%s/tbl", cl_test_tmpdir());
	cl_table *t = NULL;
	cl_error err = {0};
	if (cl_table_open(&t, root, &err))
		return NULL;
	cl_schema *s = schema_of(text);
	cl_table_create_options o;
	cl_table_create_options_init(&o);
	const char *p[1] = {part};
	const char *k[1] = {keys};
	if (part) {
		o.partition_by = p;
		o.npartition_by = 1;
	}
	if (keys) {
		o.keys = k;
		o.nkeys = 1;
	}
	o.buckets = buckets;
	int rc = cl_table_create(t, s, &o, &err);
	cl_schema_free(s);
	if (rc) {
		printf("    create: %s\n", err.message);
		cl_table_free(t);
		return NULL;
	}
	return t;
}

/* Commit one add of `path` (and remove of `rm` when given). */
static int commit_files(cl_table *t, const char *add, const char *rm, int64_t *v,
			cl_error *err)
{
	cl_snapshot *s;
	int rc = cl_table_snapshot(&s, t, NULL, err);
	if (rc)
		return rc;
	cl_table_txn *x;
	rc = cl_table_txn_begin(&x, t, s, "WRITE", err);
	if (!rc && add) {
		cl_table_add a = {0};
		a.path = add;
		a.size = 100;
		a.mtime_ms = 1700000000000;
		a.stats_json = "{\"numRecords\":5}";
		a.data_change = true;
		rc = cl_table_txn_add(x, &a, err);
	}
	if (!rc && rm) {
		rc = CL_ENOTFOUND;
		for (size_t i = 0; i < cl_snapshot_nfiles(s); i++)
			if (!strcmp(cl_snapshot_file(s, i)->path, rm))
				rc = cl_table_txn_remove(x, cl_snapshot_file(s, i), true, err);
	}
	if (!rc)
		rc = cl_table_txn_commit(x, v, err);
	cl_table_txn_free(x);
	cl_snapshot_free(s);
	return rc;
}

TEST(delta_create_and_replay)
{
	cl_error err = {0};
	cl_table *t = new_table("id int64 not null\nname string\nprice decimal(10,2)\n"
				"day date\nsmall uint8\nbig uint64\nts timestamp(ms,utc)",
				NULL, "id", 0);
	CHECK(t);
	cl_snapshot *s;
	CHECK_OK(cl_table_snapshot(&s, t, NULL, &err), &err);
	CHECK_EQ_INT(cl_snapshot_version(s), 0);
	CHECK_EQ_INT(cl_snapshot_nfiles(s), 0);
	const cl_schema *sc = cl_snapshot_schema(s);
	CHECK(sc);
	CHECK_EQ_INT(sc->nfields, 7);
	CHECK(!sc->fields[0].nullable);
	CHECK(sc->fields[2].type.id == CL_DECIMAL && sc->fields[2].type.precision == 10);
	CHECK(sc->fields[4].type.id == CL_INT16);                         /* uint8 widened */
	CHECK(sc->fields[5].type.id == CL_DECIMAL && sc->fields[5].type.precision == 20);
	CHECK(sc->fields[6].type.id == CL_TIMESTAMP && sc->fields[6].type.utc &&
	      sc->fields[6].type.unit == CL_UNIT_US);
	int r, w;
	cl_snapshot_protocol(s, &r, &w);
	CHECK_EQ_INT(r, 1);
	CHECK_EQ_INT(w, 2);
	CHECK_STR(cl_snapshot_config(s, CL_TABLE_CONF_KEYS), "id");
	CHECK(cl_snapshot_table_id(s) && strlen(cl_snapshot_table_id(s)) == 36);
	cl_snapshot_free(s);
	/* creating again loses */
	cl_schema *sch = schema_of("x int32");
	CHECK_EQ_INT(cl_table_create(t, sch, NULL, &err), CL_ECONFLICT);
	CHECK(strstr(err.message, "already exists"));
	cl_schema_free(sch);
	cl_table_free(t);
}

TEST(delta_commits_time_travel_history)
{
	cl_error err = {0};
	cl_table *t = new_table("id int64\nv string", NULL, NULL, 0);
	CHECK(t);
	int64_t v;
	CHECK_OK(commit_files(t, "a.parquet", NULL, &v, &err), &err);
	CHECK_EQ_INT(v, 1);
	CHECK_OK(commit_files(t, "b c%d.parquet", NULL, &v, &err), &err);
	CHECK_EQ_INT(v, 2);
	CHECK_OK(commit_files(t, "c.parquet", "a.parquet", &v, &err), &err);
	CHECK_EQ_INT(v, 3);
	cl_snapshot *s;
	CHECK_OK(cl_table_snapshot(&s, t, NULL, &err), &err);
	CHECK_EQ_INT(cl_snapshot_nfiles(s), 2);
	CHECK_STR(cl_snapshot_file(s, 0)->path, "b c%d.parquet"); /* decoded */
	CHECK_STR(cl_snapshot_file(s, 1)->path, "c.parquet");
	CHECK_EQ_INT(cl_snapshot_file(s, 1)->num_records, 5);
	CHECK_EQ_INT(cl_snapshot_num_records(s), 10);
	cl_snapshot_free(s);
	cl_table_at at = {CL_AT_VERSION, 1, 0};
	CHECK_OK(cl_table_snapshot(&s, t, &at, &err), &err);
	CHECK_EQ_INT(cl_snapshot_nfiles(s), 1);
	CHECK_STR(cl_snapshot_file(s, 0)->path, "a.parquet");
	int64_t ts1 = cl_snapshot_timestamp(s);
	cl_snapshot_free(s);
	at.version = 9;
	CHECK_EQ_INT(cl_table_snapshot(&s, t, &at, &err), CL_ENOTFOUND);
	CHECK(strstr(err.message, "version 9 does not exist"));
	/* by timestamp: the commit times of versions are strictly increasing */
	at = (cl_table_at){CL_AT_TIMESTAMP, 0, ts1};
	CHECK_OK(cl_table_snapshot(&s, t, &at, &err), &err);
	CHECK(cl_snapshot_version(s) >= 1);
	int64_t got = cl_snapshot_version(s);
	cl_snapshot_free(s);
	at.timestamp_ms = ts1 - 1;
	CHECK_OK(cl_table_snapshot(&s, t, &at, &err), &err);
	CHECK(cl_snapshot_version(s) < got || got == 0);
	cl_snapshot_free(s);
	at.timestamp_ms = 0;
	CHECK_EQ_INT(cl_table_snapshot(&s, t, &at, &err), CL_ENOTFOUND);
	CHECK(strstr(err.message, "before the first available version"));
	/* history */
	cl_table_commit *h;
	size_t n;
	CHECK_OK(cl_table_history(&h, &n, t, &err), &err);
	CHECK_EQ_INT(n, 4);
	CHECK_STR(h[0].operation, "CREATE TABLE");
	CHECK_STR(h[3].operation, "WRITE");
	CHECK_EQ_INT(h[3].nadd, 1);
	CHECK_EQ_INT(h[3].nremove, 1);
	CHECK(strstr(h[3].commit_info_json, "\"numRemovedFiles\":\"1\""));
	CHECK(strstr(h[3].commit_info_json, "\"readVersion\":2"));
	cl_table_history_free(h, n);
	cl_table_free(t);
}

TEST(delta_commit_json_shape)
{
	cl_error err = {0};
	cl_table *t = new_table("id int64\np string", "p", NULL, 0);
	CHECK(t);
	cl_snapshot *s;
	CHECK_OK(cl_table_snapshot(&s, t, NULL, &err), &err);
	cl_table_txn *x;
	CHECK_OK(cl_table_txn_begin(&x, t, s, "MERGE", &err), &err);
	cl_table_kv pv[1] = {{"p", "a:b"}};
	cl_table_add a = {"p=a%3Ab/part-00000-x.c000.snappy.parquet", 10, 5, pv, 1,
			  "{\"numRecords\":1,\"minValues\":{\"id\":3}}", true, NULL};
	CHECK_OK(cl_table_txn_add(x, &a, &err), &err);
	cl_table_kv pn[1] = {{"p", NULL}};
	cl_table_add b = {"p=__HIVE_DEFAULT_PARTITION__/f.parquet", 10, 5, pn, 1, NULL, true, NULL};
	CHECK_OK(cl_table_txn_add(x, &b, &err), &err);
	CHECK_OK(cl_table_txn_set_app_version(x, "dms:orders", 42, &err), &err);
	CHECK_OK(cl_table_txn_set_commit_info(x, "changelake", "{\"consumed\":[\"f1\",\"f2\"]}",
					      &err), &err);
	CHECK_EQ_INT(cl_table_txn_set_commit_info(x, "operation", "1", &err), CL_EINVAL);
	CHECK_EQ_INT(cl_table_txn_set_commit_info(x, "bad", "{", &err), CL_EFORMAT);
	CHECK_OK(cl_table_txn_set_metric(x, "numSourceRows", 7, &err), &err);
	CHECK_OK(cl_table_txn_set_param(x, "predicate", "id = 1", &err), &err);
	cl_table_kv wrong[1] = {{"q", "1"}};
	cl_table_add c = {"q=1/f.parquet", 1, 1, wrong, 1, NULL, true, NULL};
	CHECK_EQ_INT(cl_table_txn_add(x, &c, &err), CL_EINVAL);
	cl_table_add d = {"../f.parquet", 1, 1, pv, 1, NULL, true, NULL};
	CHECK_EQ_INT(cl_table_txn_add(x, &d, &err), CL_EINVAL);
	int64_t v;
	CHECK_OK(cl_table_txn_commit(x, &v, &err), &err);
	cl_table_txn_free(x);
	cl_snapshot_free(s);
	uint8_t *text;
	size_t n;
	CHECK_OK(cl_store_get(cl_table_store(t), "_delta_log/00000000000000000001.json", &text,
			      &n, &err), &err);
	const char *j = (const char *)text;
	CHECK(strstr(j, "\"path\":\"p=a%253Ab/part-00000-x.c000.snappy.parquet\""));
	CHECK(strstr(j, "\"partitionValues\":{\"p\":\"a:b\"}"));
	CHECK(strstr(j, "\"partitionValues\":{\"p\":null}"));
	CHECK(strstr(j, "\"stats\":\"{\\\"numRecords\\\":1,\\\"minValues\\\":{\\\"id\\\":3}}\""));
	CHECK(strstr(j, "{\"txn\":{\"appId\":\"dms:orders\",\"version\":42,"));
	CHECK(strstr(j, "\"changelake\":{\"consumed\":[\"f1\",\"f2\"]}"));
	CHECK(strstr(j, "\"numSourceRows\":\"7\""));
	CHECK(strstr(j, "\"operationParameters\":{\"predicate\":\"id = 1\"}"));
	CHECK(strstr(j, "\"operation\":\"MERGE\""));
	/* every line is one JSON object */
	cl__json_parser *p;
	CHECK_OK(cl__json_parser_create(&p, NULL, &err), &err);
	int lines = 0;
	for (char *line = strtok((char *)text, "\n"); line; line = strtok(NULL, "\n")) {
		const cl_json *root;
		CHECK_OK(cl__json_parse(p, line, strlen(line), &root, &err), &err);
		CHECK(root->kind == CL_JSON_OBJECT && root->n == 1);
		lines++;
	}
	CHECK_EQ_INT(lines, 4);
	cl__json_parser_free(p);
	cl_free(text);
	CHECK_OK(cl_table_snapshot(&s, t, NULL, &err), &err);
	CHECK_EQ_INT(cl_snapshot_txn_version(s, "dms:orders"), 42);
	CHECK_EQ_INT(cl_snapshot_txn_version(s, "other"), -1);
	CHECK_EQ_INT(cl_snapshot_nfiles(s), 2);
	const cl_table_file *f = cl_snapshot_file(s, 0);
	CHECK_STR(f->path, "p=__HIVE_DEFAULT_PARTITION__/f.parquet");
	CHECK(f->npartition == 1 && f->partition[0].value == NULL);
	f = cl_snapshot_file(s, 1);
	CHECK_STR(f->path, "p=a%3Ab/part-00000-x.c000.snappy.parquet");
	CHECK_STR(f->partition[0].value, "a:b");
	cl_snapshot_free(s);
	cl_table_free(t);
}

TEST(delta_conflicts)
{
	cl_error err = {0};
	cl_table *t = new_table("id int64", NULL, NULL, 0);
	CHECK(t);
	int64_t v;
	CHECK_OK(commit_files(t, "a.parquet", NULL, &v, &err), &err);
	CHECK_OK(commit_files(t, "b.parquet", NULL, &v, &err), &err);
	cl_snapshot *base;
	CHECK_OK(cl_table_snapshot(&base, t, NULL, &err), &err);
	/* x1: remove a (rewrite); x2: remove a too; x3: blind append; x4: remove b */
	cl_table_txn *x1, *x2, *x3, *x4, *x5;
	CHECK_OK(cl_table_txn_begin(&x1, t, base, "DELETE", &err), &err);
	CHECK_OK(cl_table_txn_begin(&x2, t, base, "DELETE", &err), &err);
	CHECK_OK(cl_table_txn_begin(&x3, t, base, "WRITE", &err), &err);
	CHECK_OK(cl_table_txn_begin(&x4, t, base, "DELETE", &err), &err);
	CHECK_OK(cl_table_txn_begin(&x5, t, base, "WRITE", &err), &err);
	const cl_table_file *fa = cl_snapshot_file(base, 0), *fb = cl_snapshot_file(base, 1);
	CHECK_OK(cl_table_txn_remove(x1, fa, true, &err), &err);
	CHECK_OK(cl_table_txn_remove(x2, fa, true, &err), &err);
	cl_table_add add = {"c.parquet", 1, 1, NULL, 0, NULL, true, NULL};
	CHECK_OK(cl_table_txn_add(x3, &add, &err), &err);
	CHECK_OK(cl_table_txn_remove(x4, fb, true, &err), &err);
	cl_table_txn_read_all(x5);
	CHECK_OK(cl_table_txn_add(x5, &(cl_table_add){"d.parquet", 1, 1, NULL, 0, NULL, true, NULL}, &err),
		 &err);
	CHECK_OK(cl_table_txn_commit(x1, &v, &err), &err);
	CHECK_EQ_INT(v, 3);
	CHECK_EQ_INT(cl_table_txn_commit(x2, &v, &err), CL_ECONFLICT);
	CHECK(strstr(err.message, "version 3 also removed a.parquet"));
	CHECK_OK(cl_table_txn_commit(x3, &v, &err), &err); /* blind append retries */
	CHECK_EQ_INT(v, 4);
	CHECK_OK(cl_table_txn_commit(x4, &v, &err), &err); /* disjoint files */
	CHECK_EQ_INT(v, 5);
	CHECK_EQ_INT(cl_table_txn_commit(x5, &v, &err), CL_ECONFLICT); /* read everything */
	CHECK(strstr(err.message, "added c.parquet"));
	cl_table_txn_free(x1);
	cl_table_txn_free(x2);
	cl_table_txn_free(x3);
	cl_table_txn_free(x4);
	cl_table_txn_free(x5);
	cl_snapshot_free(base);
	cl_snapshot *s;
	CHECK_OK(cl_table_snapshot(&s, t, NULL, &err), &err);
	CHECK_EQ_INT(cl_snapshot_nfiles(s), 1);
	CHECK_STR(cl_snapshot_file(s, 0)->path, "c.parquet");
	cl_snapshot_free(s);
	cl_table_free(t);
}

/*
 * A commit that adds a column retries past a concurrent data commit (its
 * rows read the new column as NULL), and still conflicts with a concurrent
 * metadata change or a remove of the same file.
 */
TEST(delta_metadata_commit_retries)
{
	cl_error err = {0};
	cl_table *t = new_table("id int64", NULL, NULL, 0);
	CHECK(t);
	int64_t v;
	CHECK_OK(commit_files(t, "a.parquet", NULL, &v, &err), &err);
	cl_snapshot *base;
	CHECK_OK(cl_table_snapshot(&base, t, NULL, &err), &err);
	cl_schema *wide = schema_of("id int64\nnote string");
	cl_table_txn *x1, *x2, *x3;
	CHECK_OK(cl_table_txn_begin(&x1, t, base, "MERGE", &err), &err);
	CHECK_OK(cl_table_txn_set_schema(x1, wide, &err), &err);
	CHECK_OK(cl_table_txn_add(x1, &(cl_table_add){"w.parquet", 1, 1, NULL, 0, NULL, true, NULL},
				  &err), &err);
	CHECK_OK(cl_table_txn_begin(&x2, t, base, "MERGE", &err), &err);
	CHECK_OK(cl_table_txn_set_schema(x2, wide, &err), &err);
	CHECK_OK(cl_table_txn_begin(&x3, t, base, "DELETE", &err), &err);
	CHECK_OK(cl_table_txn_set_schema(x3, wide, &err), &err);
	CHECK_OK(cl_table_txn_remove(x3, cl_snapshot_file(base, 0), true, &err), &err);
	/* a blind append lands first */
	CHECK_OK(commit_files(t, "b.parquet", NULL, &v, &err), &err);
	CHECK_EQ_INT(v, 2);
	CHECK_OK(cl_table_txn_commit(x1, &v, &err), &err);
	CHECK_EQ_INT(v, 3);
	/* x2 changes metadata too, and version 3 did */
	CHECK_EQ_INT(cl_table_txn_commit(x2, &v, &err), CL_ECONFLICT);
	CHECK(strstr(err.message, "version 3 changed the table metadata"));
	cl_snapshot *s;
	CHECK_OK(cl_table_snapshot(&s, t, NULL, &err), &err);
	CHECK_EQ_INT(cl_snapshot_nfiles(s), 3);
	CHECK_EQ_INT(cl_snapshot_schema(s)->nfields, 2);
	cl_snapshot_free(s);
	/* x3 removes a.parquet, which a later commit removed first */
	CHECK_OK(commit_files(t, NULL, "a.parquet", &v, &err), &err);
	CHECK_EQ_INT(cl_table_txn_commit(x3, &v, &err), CL_ECONFLICT);
	cl_table_txn_free(x1);
	cl_table_txn_free(x2);
	cl_table_txn_free(x3);
	cl_schema_free(wide);
	cl_snapshot_free(base);
	cl_table_free(t);
}

TEST(delta_scope_conflicts_and_app_ids)
{
	cl_error err = {0};
	cl_table *t = new_table("id int64\np string", "p", "id", 4);
	CHECK(t);
	cl_snapshot *base;
	CHECK_OK(cl_table_snapshot(&base, t, NULL, &err), &err);
	cl_table_txn *x1, *x2, *x3;
	CHECK_OK(cl_table_txn_begin(&x1, t, base, "MERGE", &err), &err);
	CHECK_OK(cl_table_txn_begin(&x2, t, base, "MERGE", &err), &err);
	CHECK_OK(cl_table_txn_begin(&x3, t, base, "MERGE", &err), &err);
	cl_table_kv pv[1] = {{"p", "x"}};
	cl_table_add a1 = {"p=x/part-00000-u1_00002.c000.snappy.parquet", 1, 1, pv, 1, NULL, true, NULL};
	cl_table_add a2 = {"p=x/part-00000-u2_00002.c000.snappy.parquet", 1, 1, pv, 1, NULL, true, NULL};
	cl_table_add a3 = {"p=x/part-00000-u3_00001.c000.snappy.parquet", 1, 1, pv, 1, NULL, true, NULL};
	CHECK_OK(cl_table_txn_read_scope(x1, "p=x/#2", &err), &err);
	CHECK_OK(cl_table_txn_add(x1, &a1, &err), &err);
	CHECK_OK(cl_table_txn_read_scope(x2, "p=x/#2", &err), &err);
	CHECK_OK(cl_table_txn_add(x2, &a2, &err), &err);
	CHECK_OK(cl_table_txn_read_scope(x3, "p=x/#1", &err), &err);
	CHECK_OK(cl_table_txn_add(x3, &a3, &err), &err);
	CHECK_OK(cl_table_txn_set_app_version(x1, "app", 1, &err), &err);
	CHECK_OK(cl_table_txn_commit(x1, NULL, &err), &err);
	CHECK_EQ_INT(cl_table_txn_commit(x2, NULL, &err), CL_ECONFLICT);
	CHECK(strstr(err.message, "this commit rewrote"));
	CHECK_OK(cl_table_txn_commit(x3, NULL, &err), &err); /* another bucket */
	cl_table_txn_free(x1);
	cl_table_txn_free(x2);
	cl_table_txn_free(x3);
	/* the same application id recorded concurrently conflicts */
	CHECK_OK(cl_table_txn_begin(&x1, t, base, "MERGE", &err), &err);
	CHECK_OK(cl_table_txn_set_app_version(x1, "app", 2, &err), &err);
	CHECK_EQ_INT(cl_table_txn_commit(x1, NULL, &err), CL_ECONFLICT);
	CHECK(strstr(err.message, "application 'app'"));
	cl_table_txn_free(x1);
	cl_snapshot_free(base);
	cl_table_free(t);
}

TEST(delta_concurrent_writers_processes)
{
	/* Several processes append through their own snapshot many times: every
	 * commit lands exactly once, versions are contiguous, nothing is torn. */
	cl_error err = {0};
	cl_table *t = new_table("id int64", NULL, NULL, 0);
	CHECK(t);
	char root[600];
	snprintf(root, sizeof root, "%s", cl_store_location(cl_table_store(t)));
	enum { P = 4, R = 15 };
	pid_t pids[P];
	for (int p = 0; p < P; p++) {
		pids[p] = fork();
		if (pids[p] == 0) {
			cl_table *tt;
			cl_error e = {0};
			if (cl_table_open(&tt, root, &e))
				_exit(3);
			for (int r = 0; r < R; r++) {
				char path[64];
				snprintf(path, sizeof path, "w%d-r%02d.parquet", p, r);
				if (commit_files(tt, path, NULL, NULL, &e)) {
					fprintf(stderr, "writer %d: %s\n", p, e.message);
					_exit(1);
				}
			}
			cl_table_free(tt);
			_exit(0);
		}
	}
	for (int p = 0; p < P; p++) {
		int st;
		waitpid(pids[p], &st, 0);
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	cl_snapshot *s;
	CHECK_OK(cl_table_snapshot(&s, t, NULL, &err), &err);
	CHECK_EQ_INT(cl_snapshot_version(s), P * R);
	CHECK_EQ_INT(cl_snapshot_nfiles(s), P * R);
	cl_snapshot_free(s);
	cl_table_free(t);
}

TEST(delta_paths_and_names)
{
	cl_error err = {0};
	cl_buf b = {0};
	CHECK_OK(cl__delta_path_encode(&b, "p=a%3Ab/x y#.parquet"), &err);
	CHECK_STR((char *)b.data, "p=a%253Ab/x%20y%23.parquet");
	cl_buf_release(&b);
	cl_store *st;
	const char *dir = cl_test_tmpdir();
	CHECK_OK(cl_store_open(&st, dir, &err), &err);
	char *k;
	CHECK_OK(cl__delta_path_decode(&k, st, "p=a%253Ab/x%20y.parquet", 23, &err), &err);
	CHECK_STR(k, "p=a%3Ab/x y.parquet");
	cl_free(k);
	CHECK_EQ_INT(cl__delta_path_decode(&k, st, "a%2", 3, &err), CL_EFORMAT);
	CHECK_EQ_INT(cl__delta_path_decode(&k, st, "a%zz", 4, &err), CL_EFORMAT);
	CHECK_EQ_INT(cl__delta_path_decode(&k, st, "%2E%2E/x", 8, &err), CL_EUNSUPPORTED);
	CHECK_EQ_INT(cl__delta_path_decode(&k, st, "s3://b/x", 8, &err), CL_EUNSUPPORTED);
	char abs[700];
	snprintf(abs, sizeof abs, "file:%s/sub/f%%20g.parquet", dir);
	CHECK_OK(cl__delta_path_decode(&k, st, abs, strlen(abs), &err), &err);
	CHECK_STR(k, "sub/f g.parquet");
	cl_free(k);
	snprintf(abs, sizeof abs, "file:%s/../escape.parquet", dir);
	CHECK_EQ_INT(cl__delta_path_decode(&k, st, abs, strlen(abs), &err), CL_EUNSUPPORTED);
	/* a key with ':' (a partition value) round-trips: the escaped %3A is
	 * the key's own, only a scheme as written makes a path absolute */
	CHECK_OK(cl__delta_path_encode(&b, "t=10:30/x.parquet"), &err);
	CHECK_STR((char *)b.data, "t=10%3A30/x.parquet");
	CHECK_OK(cl__delta_path_decode(&k, st, (char *)b.data, b.len, &err), &err);
	CHECK_STR(k, "t=10:30/x.parquet");
	cl_free(k);
	cl_buf_release(&b);
	CHECK_EQ_INT(cl__delta_path_decode(&k, st, "s3:x", 4, &err), CL_EUNSUPPORTED);
	cl_store_free(st);
	int64_t v;
	int part, nparts;
	CHECK(cl__delta_log_classify("_delta_log/00000000000000000012.json", &v, &part,
				     &nparts) == CL__LOG_COMMIT && v == 12);
	CHECK(cl__delta_log_classify("_delta_log/00000000000000000010.checkpoint.parquet", &v,
				     &part, &nparts) == CL__LOG_CHECKPOINT && v == 10);
	CHECK(cl__delta_log_classify(
		      "_delta_log/00000000000000000001.checkpoint.0000000002.0000000003.parquet", &v,
		      &part, &nparts) == CL__LOG_CHECKPOINT_PART &&
	      part == 2 && nparts == 3);
	CHECK(cl__delta_log_classify("_delta_log/00000000000000000001.checkpoint.80a083e8-7026-"
				     "4e79-81be-64bd76c43a11.json", &v, &part, &nparts) ==
	      CL__LOG_CHECKPOINT_V2);
	CHECK(cl__delta_log_classify("_delta_log/.00000000000000000001.json.crc", &v, &part,
				     &nparts) == CL__LOG_OTHER);
	/* part numbers past an int are no parts (were wrapped to negatives) */
	CHECK(cl__delta_log_classify(
		      "_delta_log/00000000000000000001.checkpoint.0000000001.4294967297.parquet", &v,
		      &part, &nparts) == CL__LOG_OTHER);
	CHECK(cl__delta_log_classify(
		      "_delta_log/00000000000000000001.checkpoint.3000000000.3000000001.parquet", &v,
		      &part, &nparts) == CL__LOG_OTHER);
	CHECK(cl__delta_log_classify("_delta_log/_last_checkpoint", &v, &part, &nparts) ==
	      CL__LOG_OTHER);
	CHECK(cl__delta_log_classify("_delta_log/00000000000000000001.crc", &v, &part,
				     &nparts) == CL__LOG_OTHER);
}

TEST(delta_schema_mapping)
{
	cl_error err = {0};
	cl_schema *s = schema_of("a int8\nb uint16\nc uint32\nd time(us)");
	cl_buf b = {0};
	bool ntz;
	CHECK_EQ_INT(cl__delta_schema_to_json(&b, s, &ntz, &err), CL_EUNSUPPORTED);
	CHECK(strstr(err.message, "'d'"));
	cl_schema_free(s);
	cl_buf_clear(&b);
	s = schema_of("a int8\nb uint16 not null\nc uint32\nt timestamp(ns)");
	CHECK_OK(cl__delta_schema_to_json(&b, s, &ntz, &err), &err);
	CHECK(ntz);
	CHECK_STR((char *)b.data,
		  "{\"type\":\"struct\",\"fields\":[{\"name\":\"a\",\"type\":\"byte\",\"nullable\":"
		  "true,\"metadata\":{}},{\"name\":\"b\",\"type\":\"integer\",\"nullable\":false,"
		  "\"metadata\":{}},{\"name\":\"c\",\"type\":\"long\",\"nullable\":true,"
		  "\"metadata\":{}},{\"name\":\"t\",\"type\":\"timestamp_ntz\",\"nullable\":true,"
		  "\"metadata\":{}}]}");
	cl_schema *back;
	CHECK_OK(cl__delta_schema_from_json(&back, (char *)b.data, b.len, &err), &err);
	CHECK_EQ_INT(back->nfields, 4);
	CHECK(back->fields[1].type.id == CL_INT32 && !back->fields[1].nullable);
	CHECK(back->fields[3].type.id == CL_TIMESTAMP && !back->fields[3].type.utc);
	cl_schema_free(back);
	cl_schema_free(s);
	cl_buf_release(&b);
	const char *nested = "{\"type\":\"struct\",\"fields\":[{\"name\":\"s\",\"type\":{\"type\":"
			     "\"struct\",\"fields\":[]},\"nullable\":true,\"metadata\":{}}]}";
	CHECK_EQ_INT(cl__delta_schema_from_json(&back, nested, strlen(nested), &err),
		     CL_EUNSUPPORTED);
	CHECK(strstr(err.message, "nested"));
}

TEST(delta_ntz_table_protocol)
{
	cl_error err = {0};
	cl_table *t = new_table("id int64\nt timestamp(us)", NULL, NULL, 0);
	CHECK(t);
	cl_snapshot *s;
	CHECK_OK(cl_table_snapshot(&s, t, NULL, &err), &err);
	int r, w;
	cl_snapshot_protocol(s, &r, &w);
	CHECK_EQ_INT(r, 3);
	CHECK_EQ_INT(w, 7);
	cl_table_txn *x;
	CHECK_OK(cl_table_txn_begin(&x, t, s, "WRITE", &err), &err); /* writable */
	cl_table_txn_free(x);
	cl_snapshot_free(s);
	cl_table_free(t);
}

TEST(delta_ref_parse)
{
	cl_error err = {0};
	char *loc;
	cl_table_at at;
	CHECK_OK(cl_table_ref_parse(&loc, &at, "/x/t@12", &err), &err);
	CHECK_STR(loc, "/x/t");
	CHECK(at.kind == CL_AT_VERSION && at.version == 12);
	cl_free(loc);
	CHECK_OK(cl_table_ref_parse(&loc, &at, "t@2024-01-02 03:04:05", &err), &err);
	CHECK(at.kind == CL_AT_TIMESTAMP && at.timestamp_ms == 1704164645000LL);
	cl_free(loc);
	CHECK_OK(cl_table_ref_parse(&loc, &at, "t@2024-01-02", &err), &err);
	CHECK(at.kind == CL_AT_TIMESTAMP && at.timestamp_ms == 1704153600000LL);
	cl_free(loc);
	CHECK_OK(cl_table_ref_parse(&loc, &at, "a@b/t", &err), &err);
	CHECK_STR(loc, "a@b/t");
	CHECK(at.kind == CL_AT_LATEST);
	cl_free(loc);
	CHECK_EQ_INT(cl_table_ref_parse(&loc, &at, "@3", &err), CL_EINVAL);
}

TEST(delta_corrupt_logs_are_errors)
{
	cl_error err = {0};
	cl_table *t = new_table("id int64", NULL, NULL, 0);
	CHECK(t);
	cl_store *st = cl_table_store(t);
	const char *bad[] = {
		"{\"add\":{\"path\":\"x\"}}\n",                       /* no size */
		"{\"add\":[1]}\n",                                     /* not an object */
		"not json\n",
		"{\"add\":{\"path\":\"x\",\"size\":1,\"partitionValues\":{\"p\":1}}}\n",
		"{\"protocol\":{\"minReaderVersion\":\"1\"}}\n",
		"{\"txn\":{\"appId\":1}}\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		CHECK_OK(cl_store_put(st, "_delta_log/00000000000000000001.json", bad[i],
				      strlen(bad[i]), &err), &err);
		cl_snapshot *s;
		int rc = cl_table_snapshot(&s, t, NULL, &err);
		CHECK_EQ_INT(rc, CL_EFORMAT);
		CHECK(strstr(err.message, "00000000000000000001.json line 1"));
	}
	/* a gap in the log */
	CHECK_OK(cl_store_delete(st, "_delta_log/00000000000000000001.json", &err), &err);
	CHECK_OK(cl_store_put(st, "_delta_log/00000000000000000002.json", "\n", 1, &err), &err);
	cl_snapshot *s;
	CHECK_EQ_INT(cl_table_snapshot(&s, t, NULL, &err), CL_EFORMAT);
	CHECK(strstr(err.message, "missing commit 1"));
	cl_table_free(t);
}

TEST(delta_alloc_failures_are_clean)
{
	/* Fail the k-th allocation of snapshot + commit for every k: an error
	 * (never a crash; ASan reports any leak) and no commit made; then the
	 * same for history. */
	cl_error err = {0};
	cl_table *t = new_table("id int64\np string", NULL, "id", 0);
	CHECK(t);
	CHECK_OK(commit_files(t, "x.parquet", NULL, NULL, &err), &err);
	int failures = 0;
	for (long k = 0; k < 400; k++) {
		cl_snapshot *s = NULL;
		cl_table_txn *x = NULL;
		cl_table_add a = {"b/f.parquet", 1, 1, NULL, 0, "{\"numRecords\":1}", true, NULL};
		cl_alloc_fail_after(k);
		int rc = cl_table_snapshot(&s, t, NULL, &err);
		rc = rc ? rc : cl_table_txn_begin(&x, t, s, "WRITE", &err);
		rc = rc ? rc : cl_table_txn_add(x, &a, &err);
		rc = rc ? rc : cl_table_txn_remove(x, cl_snapshot_file(s, 0), true, &err);
		rc = rc ? rc : cl_table_txn_commit(x, NULL, &err);
		cl_alloc_fail_after(-1);
		cl_table_txn_free(x);
		cl_snapshot_free(s);
		int64_t v;
		CHECK_OK(cl_table_latest_version(t, &v, &err), &err);
		if (rc == 0) {
			CHECK_EQ_INT(v, 2);
			break;
		}
		CHECK_EQ_INT(rc, CL_ENOMEM);
		CHECK_EQ_INT(v, 1); /* a failed commit published nothing */
		failures++;
	}
	CHECK(failures > 20);
	for (long k = 0; k < 400; k++) {
		cl_table_commit *h = NULL;
		size_t n = 0;
		cl_alloc_fail_after(k);
		int rc = cl_table_history(&h, &n, t, &err);
		cl_alloc_fail_after(-1);
		cl_table_history_free(h, n);
		if (rc == 0) {
			CHECK_EQ_INT(n, 3);
			break;
		}
		CHECK_EQ_INT(rc, CL_ENOMEM);
	}
	cl_snapshot *s;
	CHECK_OK(cl_table_snapshot(&s, t, NULL, &err), &err);
	CHECK_EQ_INT(cl_snapshot_nfiles(s), 1);
	CHECK_STR(cl_snapshot_file(s, 0)->path, "b/f.parquet");
	cl_snapshot_free(s);
	cl_table_free(t);
}
