/*
 * fuzz_checkpoint.c — libFuzzer target for the Delta checkpoint reader
 * (src/table/delta_checkpoint.c: a Parquet checkpoint taken apart into
 * actions and replayed), reached the way a reader reaches it: a table in a
 * temporary directory (removed at exit) whose log is the input as
 * _delta_log/00000000000000000001.checkpoint.parquet plus a commit 1
 * holding only commitInfo, opened with cl_table_snapshot. fuzz_parquet
 * covers the Parquet decoding itself; this covers the nested projection,
 * the rows turned into JSON actions and the snapshot checks after them.
 *
 * Inputs are capped at 256 KiB. Checks beyond "no crash":
 *   - an error has a message (CL_EFORMAT / CL_EUNSUPPORTED / CL_ETYPE ...);
 *   - a snapshot that loads is well formed: version 1, live files sorted
 *     by path with no path twice, each with its partition values, a
 *     protocol, metadata;
 *   - round trip: the snapshot written as a checkpoint by changelake
 *     (cl_table_checkpoint) loads again to the same protocol, metadata,
 *     schema string, partition columns, configuration and live files
 *     (path, size, modification time, partition values, stats, deletion
 *     vector).
 */
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "changelake/table.h"

#define CP_KEY "/_delta_log/00000000000000000001.checkpoint.parquet"

static void put(const char *rel, const void *data, size_t n)
{
	char p[160];
	snprintf(p, sizeof p, "%s%s", fuzz_root, rel);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || (n && write(fd, data, n) != (ssize_t)n))
		abort();
	close(fd);
}

static void setup(void)
{
	fuzz_tmpdir("cp");
	char p[128];
	snprintf(p, sizeof p, "%s/_delta_log", fuzz_root);
	if (mkdir(p, 0755))
		abort();
	static const char commit[] = "{\"commitInfo\":{\"operation\":\"WRITE\"}}\n";
	put("/_delta_log/00000000000000000001.json", commit, sizeof commit - 1);
}

static bool str_eq(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

static void check(const cl_snapshot *s)
{
	if (cl_snapshot_version(s) != 1)
		abort();
	int np = cl_snapshot_npartition_columns(s);
	for (size_t i = 0; i < cl_snapshot_nfiles(s); i++) {
		const cl_table_file *f = cl_snapshot_file(s, i);
		if (!f->path || f->npartition != np || (f->has_dv != (f->dv != NULL)))
			abort();
		if (i && strcmp(cl_snapshot_file(s, i - 1)->path, f->path) >= 0)
			abort();
	}
}

static bool same(const cl_snapshot *a, const cl_snapshot *b)
{
	int ra, wa, rb, wb;
	cl_snapshot_protocol(a, &ra, &wa);
	cl_snapshot_protocol(b, &rb, &wb);
	if (ra != rb || wa != wb || !str_eq(cl_snapshot_table_id(a), cl_snapshot_table_id(b)) ||
	    !str_eq(cl_snapshot_schema_string(a), cl_snapshot_schema_string(b)) ||
	    cl_snapshot_npartition_columns(a) != cl_snapshot_npartition_columns(b) ||
	    cl_snapshot_nconfig(a) != cl_snapshot_nconfig(b) ||
	    cl_snapshot_nfiles(a) != cl_snapshot_nfiles(b))
		return false;
	for (int i = 0; i < cl_snapshot_npartition_columns(a); i++)
		if (!str_eq(cl_snapshot_partition_column(a, i), cl_snapshot_partition_column(b, i)))
			return false;
	for (int i = 0; i < cl_snapshot_nconfig(a); i++) {
		cl_table_kv x = cl_snapshot_config_at(a, i);
		if (!str_eq(cl_snapshot_config(b, x.key), x.value))
			return false;
	}
	for (size_t i = 0; i < cl_snapshot_nfiles(a); i++) {
		const cl_table_file *x = cl_snapshot_file(a, i), *y = cl_snapshot_file(b, i);
		if (strcmp(x->path, y->path) || x->size != y->size || x->mtime_ms != y->mtime_ms ||
		    !str_eq(x->stats_json, y->stats_json) || x->has_dv != y->has_dv ||
		    x->npartition != y->npartition)
			return false;
		for (int k = 0; k < x->npartition; k++)
			if (!str_eq(x->partition[k].key, y->partition[k].key) ||
			    !str_eq(x->partition[k].value, y->partition[k].value))
				return false;
		if (x->dv && (x->dv->cardinality != y->dv->cardinality ||
			      x->dv->storage_type != y->dv->storage_type ||
			      !str_eq(x->dv->path_or_inline, y->dv->path_or_inline) ||
			      x->dv->offset != y->dv->offset ||
			      x->dv->size_in_bytes != y->dv->size_in_bytes))
			return false;
	}
	return true;
}

static int load(cl_table **t, cl_snapshot **s, cl_error *err)
{
	*s = NULL;
	int rc = cl_table_open(t, fuzz_root, err);
	return rc ? rc : cl_table_snapshot(s, *t, NULL, err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > (256u << 10))
		return 0;
	if (!fuzz_root[0])
		setup();
	put(CP_KEY, data, size);
	char lc[160];
	snprintf(lc, sizeof lc, "%s/_delta_log/_last_checkpoint", fuzz_root);
	remove(lc);

	cl_error err = {0};
	cl_table *t = NULL;
	cl_snapshot *s = NULL;
	int rc = load(&t, &s, &err);
	if (rc && !err.message[0])
		abort();
	if (getenv("FUZZ_VERBOSE")) /* what the seeds reach */
		fprintf(stderr, "snapshot: %s\n", rc ? err.message : "ok");
	if (!rc) {
		check(s);
		if (cl_table_checkpoint(t, s, &err)) {
			fprintf(stderr, "a snapshot that loaded does not checkpoint: %s\n",
				err.message);
			abort();
		}
		cl_table *t2 = NULL;
		cl_snapshot *s2 = NULL;
		if (load(&t2, &s2, &err)) {
			fprintf(stderr, "changelake's own checkpoint does not load: %s\n",
				err.message);
			abort();
		}
		check(s2);
		if (!same(s, s2)) {
			fprintf(stderr, "the snapshot changed through a checkpoint\n");
			abort();
		}
		cl_snapshot_free(s2);
		cl_table_free(t2);
		remove(lc);
	}
	cl_snapshot_free(s);
	cl_table_free(t);
	return 0;
}
