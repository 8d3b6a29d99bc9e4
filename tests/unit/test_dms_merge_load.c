/*
 * test_dms_merge_load.c — a full load larger than one write slice of the
 * merge (dms_merge.c hands a new table's rows to the writer 131,072 at a
 * time and releases each written slice's pages): every value of every row
 * must arrive — strings (offsets rebased per slice), NULLs (validity per
 * slice), booleans (bit-packed) and decimals — with a duplicate key whose
 * last row wins and a key deleted by a CDC file in the same run.
 */
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "changelake.h"
#include "changelake/dms_merge.h"

#define NROWS 300001

TEST(dms_merge_load_larger_than_a_write_slice)
{
	cl_error err = {0};
	char src[4096], lake[4200], parent[4096], path[4200];
	snprintf(src, sizeof src, "%s/bigload/src/s/t", cl_test_tmpdir());
	snprintf(parent, sizeof parent, "%s/bigload/lake", cl_test_tmpdir());
	snprintf(lake, sizeof lake, "%s/t", parent);
	cl_test_mkdirs(src);
	cl_test_mkdirs(parent);
	snprintf(path, sizeof path, "%s/LOAD00000001.csv", src);
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	if (!f)
		return;
	fputs("id,s,b,d\n", f);
	/* row i: id i; s "s<i>" (NULL when i % 5 == 0); b i % 3 == 0; d i / 2
	 * (NULL when i % 7 == 0); key 1000 appears again last with other values */
	for (int64_t i = 0; i < NROWS; i++) {
		char s[32] = "", d[32] = "";
		if (i % 5)
			snprintf(s, sizeof s, "s%lld", (long long)i);
		if (i % 7)
			snprintf(d, sizeof d, "%.1f", (double)i / 2);
		fprintf(f, "%lld,%s,%s,%s\n", (long long)i, s, i % 3 ? "false" : "true", d);
	}
	fputs("1000,again,false,1.5\n", f);
	fclose(f);
	snprintf(path, sizeof path, "%s/20240101-100000000.csv", src);
	f = fopen(path, "w");
	fputs("Op,id,s,b,d\nD,2,,,\n", f);
	fclose(f);
	cl_dms_merge_options o;
	cl_dms_merge_options_init(&o);
	const char *keys[] = {"id"};
	o.keys = keys;
	o.nkeys = 1;
	o.buckets = 3;
	cl_dms_merge_result res;
	CHECK_OK(cl_dms_merge_run(&res, src, lake, &o, &err), &err);
	CHECK_EQ_INT(res.rows_written, NROWS - 1);

	cl_table *t = NULL;
	cl_snapshot *snap = NULL;
	cl_table_scan *sc = NULL;
	CHECK_OK(cl_table_open(&t, lake, &err), &err);
	CHECK_OK(cl_table_snapshot(&snap, t, NULL, &err), &err);
	CHECK_OK(cl_table_scan_open(&sc, t, snap, NULL, &err), &err);
	const cl_schema *ts = cl_snapshot_schema(snap);
	int ci = cl_schema_find(ts, "id"), cs = cl_schema_find(ts, "s"),
	    cb = cl_schema_find(ts, "b"), cd = cl_schema_find(ts, "d");
	CHECK(ci >= 0 && cs >= 0 && cb >= 0 && cd >= 0);
	CHECK(ts->fields[cb].type.id == CL_BOOL);
	uint8_t *seen = calloc(NROWS, 1);
	int64_t rows = 0, bad = 0;
	cl_batch *b;
	while (!bad && cl_table_scan_next(sc, &b, &err) == 0 && b) {
		for (int64_t r = 0; r < b->nrows; r++, rows++) {
			int64_t id = cl_column_get_i64(&b->cols[ci], r);
			if (id < 0 || id >= NROWS || seen[id]++ || id == 2) {
				bad++;
				continue;
			}
			size_t n;
			const uint8_t *sv = cl_column_get_bytes(&b->cols[cs], r, &n);
			char want[32];
			snprintf(want, sizeof want, "s%lld", (long long)id);
			bool snull = cl_column_is_null(&b->cols[cs], r);
			bool dnull = cl_column_is_null(&b->cols[cd], r);
			bool bv = cl_column_get_bool(&b->cols[cb], r);
			/* d is inferred as a decimal: compared as text */
			char *dv = NULL, wantd[32];
			size_t dn;
			cl_value_text(&b->cols[cd], r, &dv, &dn, NULL);
			snprintf(wantd, sizeof wantd, "%.1f", id == 1000 ? 1.5 : (double)id / 2);
			if (id == 1000) {
				bad += snull || n != 5 || memcmp(sv, "again", 5) || bv || dnull ||
				       !dv || strcmp(dv, wantd);
				cl_free(dv);
				continue;
			}
			int64_t b0 = bad;
			bad += snull != (id % 5 == 0);
			bad += !snull && (n != strlen(want) || memcmp(sv, want, n));
			bad += bv != (id % 3 == 0);
			bad += dnull != (id % 7 == 0);
			bad += !dnull && (!dv || strcmp(dv, wantd));
			if (bad != b0 && bad < 8)
				printf("    row id %lld: s %s '%.*s' b %d d %s\n", (long long)id,
				       snull ? "NULL" : "", (int)n, (const char *)sv, bv,
				       dv ? dv : "NULL");
			cl_free(dv);
		}
	}
	CHECK_EQ_INT(bad, 0);
	CHECK_EQ_INT(rows, NROWS - 1);
	free(seen);
	cl_table_scan_free(sc);
	cl_snapshot_free(snap);
	cl_table_free(t);
}
