/*
 * fuzz_dms_consumed.c — libFuzzer target for the consumed-file manifest of
 * a lake table (_changelake/dms/consumed-<V>.tsv, read by
 * cl_dms_consumed_load through cl_dms_consumed_parse). A table's own files
 * can be corrupted: any text must give the set or a CL_EFORMAT error naming
 * the manifest, never a crash.
 *
 * The input (at most 64 KiB) is parsed as manifest text. Checks beyond
 * "no crash":
 *   - the set is well formed: paths sorted by strcmp and unique, non-empty,
 *     kinds L or C; sequence-index parts non-empty;
 *   - round trip: the set formatted (cl_dms_consumed_format) parses again
 *     to the same set (paths, kinds, sizes, mtimes, file keys, parts in
 *     order), and formatting that gives the same text (a fixed point);
 *   - cl_dms_consumed_find finds every path of the set.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "changelake/dms.h"

static void check_set(const cl_dms_consumed *c)
{
	for (int i = 0; i < c->n; i++) {
		const cl_dms_consumed_file *f = &c->files[i];
		if (!f->path || !f->path[0] || (f->kind != CL_DMS_LOAD && f->kind != CL_DMS_CDC))
			abort();
		if (i > 0 && strcmp(c->files[i - 1].path, f->path) >= 0)
			abort();
		if (cl_dms_consumed_find(c, f->path) != f)
			abort();
	}
	for (int i = 0; i < c->nparts; i++)
		if (!c->parts[i] || !c->parts[i][0])
			abort();
}

static bool same_set(const cl_dms_consumed *a, const cl_dms_consumed *b)
{
	if (a->n != b->n || a->nparts != b->nparts)
		return false;
	for (int i = 0; i < a->n; i++) {
		const cl_dms_consumed_file *x = &a->files[i], *y = &b->files[i];
		if (strcmp(x->path, y->path) || x->kind != y->kind || x->size != y->size ||
		    x->mtime_ns != y->mtime_ns || x->file_key != y->file_key)
			return false;
	}
	for (int i = 0; i < a->nparts; i++)
		if (strcmp(a->parts[i], b->parts[i]))
			return false;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536)
		return 0;
	cl_error err = {0};
	cl_dms_consumed *c = NULL, *again = NULL;
	int rc = cl_dms_consumed_parse(&c, (const char *)data, size, "fuzz", &err);
	if (rc) {
		if (c || rc != CL_EFORMAT || strncmp(err.message, "fuzz: ", 6)) {
			fprintf(stderr, "rc %d: %s\n", rc, err.message);
			abort();
		}
		return 0;
	}
	check_set(c);
	char *t1 = NULL, *t2 = NULL;
	size_t n1 = 0, n2 = 0;
	if (cl_dms_consumed_format(c, &t1, &n1, &err))
		abort();
	if (cl_dms_consumed_parse(&again, t1, n1, "again", &err)) {
		fprintf(stderr, "formatted manifest does not parse: %s\n%.*s\n", err.message,
			(int)n1, t1);
		abort();
	}
	if (!same_set(c, again))
		abort();
	if (cl_dms_consumed_format(again, &t2, &n2, &err) || n1 != n2 || memcmp(t1, t2, n1))
		abort();
	cl_free(t1);
	cl_free(t2);
	cl_dms_consumed_free(again);
	cl_dms_consumed_free(c);
	return 0;
}
