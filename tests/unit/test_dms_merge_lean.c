/*
 * test_dms_merge_lean.c — a new table's first merge from Parquet files
 * takes two passes (dms_merge.c: the keys folded first, the winning rows
 * read again and written). The reference is the one-pass merge of the
 * same files, which a declared schema (the files' own columns) selects:
 * the two tables must hold the same rows and the same data files byte for
 * byte (file names aside), which also pins the row order. The files have
 * keys repeated inside a file, across full-load files and in change data,
 * deletes, NULLs of every type and more rows than one read batch.
 */
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "changelake.h"
#include "changelake/dms_merge.h"

/* CSV text -> DIR/NAME.parquet (types inferred by the CSV reader). */
static int put_parquet(const char *dir, const char *name, const char *csv, cl_error *err)
{
	char cpath[4200], ppath[4200];
	snprintf(cpath, sizeof cpath, "%s/%s.csv.tmp", dir, name);
	snprintf(ppath, sizeof ppath, "%s/%s.parquet", dir, name);
	FILE *f = fopen(cpath, "wb");
	if (!f)
		return cl_error_set(err, CL_EIO, "cannot write %s", cpath);
	fputs(csv, f);
	fclose(f);
	cl_read_options ro;
	cl_read_options_init(&ro);
	ro.format = CL_FORMAT_CSV;
	ro.batch_rows = 50000;
	cl_write_options wo;
	cl_write_options_init(&wo);
	wo.format = CL_FORMAT_PARQUET;
	wo.compression = CL_CODEC_SNAPPY;
	cl_reader *r = NULL;
	cl_writer *w = NULL;
	int rc = cl_reader_open(&r, cpath, &ro, err);
	rc = rc ? rc : cl_writer_open(&w, ppath, cl_reader_schema(r), &wo, err);
	cl_batch *b;
	while (!rc && !(rc = cl_reader_next(r, &b, err)) && b && b->nrows)
		rc = cl_writer_write(w, b, err);
	rc = rc ? rc : cl_writer_close(w, err);
	cl_writer_free(w);
	cl_reader_free(r);
	remove(cpath);
	return rc;
}

static char *append(char *s, size_t *len, size_t *cap, const char *t)
{
	size_t n = strlen(t);
	if (*len + n + 1 > *cap) {
		*cap = (*len + n + 1) * 2;
		s = realloc(s, *cap);
	}
	memcpy(s + *len, t, n + 1);
	*len += n;
	return s;
}

#define NLOAD 150000

/* The source folder: two full-load files and two CDC files. */
static int make_source(const char *src, cl_error *err)
{
	size_t len = 0, cap = 0;
	char *t = append(NULL, &len, &cap, "id,s,x,b\n");
	char line[128];
	/* row i: id i; s "s<i>" (NULL when i % 7 == 0); x i * 3 (NULL when
	 * i % 11 == 0); b i % 3 == 0. Keys 10, 70000 and 149999 come again
	 * later in the file (the later row wins). */
	for (int i = 0; i < NLOAD; i++) {
		char s[32] = "", x[32] = "";
		if (i % 7)
			snprintf(s, sizeof s, "s%d", i);
		if (i % 11)
			snprintf(x, sizeof x, "%d", i * 3);
		snprintf(line, sizeof line, "%d,%s,%s,%s\n", i, s, x, i % 3 ? "false" : "true");
		t = append(t, &len, &cap, line);
		if (i == 100000)
			t = append(t, &len, &cap, "10,ten again,125,true\n");
	}
	t = append(t, &len, &cap, "70000,,,false\n149999,last,5,true\n");
	int rc = put_parquet(src, "LOAD00000001", t, err);
	/* a second full-load file: new keys and keys of the first */
	len = 0;
	t = append(t, &len, &cap, "id,s,x,b\n");
	for (int i = NLOAD; i < NLOAD + 1000; i++) {
		snprintf(line, sizeof line, "%d,second %d,%d,false\n", i, i, i);
		t = append(t, &len, &cap, line);
	}
	t = append(t, &len, &cap, "20,from second,25,true\n21,,,\n");
	rc = rc ? rc : put_parquet(src, "LOAD00000002", t, err);
	/* change data: updates, deletes, inserts, a key changed twice */
	len = 0;
	t = append(t, &len, &cap, "Op,id,s,x,b\n");
	t = append(t, &len, &cap, "U,5,five,55,true\nD,2,,,\nI,900000,new,925,false\n"
				  "U,7,seven,,false\nD,150010,,,\nU,7,seven twice,775,true\n");
	rc = rc ? rc : put_parquet(src, "20240101-100000000", t, err);
	len = 0;
	t = append(t, &len, &cap, "Op,id,s,x,b\n");
	for (int i = 0; i < 3000; i++) {
		snprintf(line, sizeof line, "%s,%d,cdc %d,%d,%s\n", i % 4 ? "U" : "D", i * 37,
			 i, i, i % 2 ? "true" : "false");
		t = append(t, &len, &cap, line);
	}
	rc = rc ? rc : put_parquet(src, "20240101-110000000", t, err);
	free(t);
	return rc;
}

/* The data files of table `lake` by bucket (the name's "_000BB" part). */
static int bucket_files(const char *lake, char files[][4200], int n, cl_error *err)
{
	cl_table *t = NULL;
	cl_snapshot *s = NULL;
	int rc = cl_table_open(&t, lake, err);
	rc = rc ? rc : cl_table_snapshot(&s, t, NULL, err);
	for (size_t i = 0; !rc && i < cl_snapshot_nfiles(s); i++) {
		const char *p = cl_snapshot_file(s, i)->path;
		const char *u = strrchr(p, '_');
		int b = u ? atoi(u + 1) : -1;
		if (b < 0 || b >= n || files[b][0])
			rc = cl_error_set(err, CL_EFORMAT, "unexpected data file %s", p);
		else
			snprintf(files[b], sizeof files[b], "%s/%s", lake, p);
	}
	cl_snapshot_free(s);
	cl_table_free(t);
	return rc;
}

static char *slurp(const char *path, long *n)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	*n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *d = malloc((size_t)*n + 1);
	if (d && fread(d, 1, (size_t)*n, f) != (size_t)*n) {
		free(d);
		d = NULL;
	}
	fclose(f);
	return d;
}

#define BUCKETS 4

TEST(dms_merge_lean_load_equals_one_pass)
{
	cl_error err = {0};
	char src[4096], parent[4096], lean[4200], one[4200];
	const char *tmp = cl_test_tmpdir();
	snprintf(src, sizeof src, "%s/leanload/src/s/t", tmp);
	snprintf(parent, sizeof parent, "%s/leanload/lake", tmp);
	snprintf(lean, sizeof lean, "%s/lean", parent);
	snprintf(one, sizeof one, "%s/one", parent);
	cl_test_mkdirs(src);
	cl_test_mkdirs(parent);
	CHECK_OK(make_source(src, &err), &err);

	cl_dms_merge_options o;
	cl_dms_merge_options_init(&o);
	const char *keys[] = {"id"};
	o.keys = keys;
	o.nkeys = 1;
	o.buckets = BUCKETS;
	cl_dms_merge_result rl, ro;
	CHECK_OK(cl_dms_merge_run(&rl, src, lean, &o, &err), &err);

	/* the one-pass merge: the files' columns declared */
	char path[4200];
	snprintf(path, sizeof path, "%s/LOAD00000001.parquet", src);
	cl_reader *r = NULL;
	cl_read_options rdo;
	cl_read_options_init(&rdo);
	cl_schema *decl = NULL;
	CHECK_OK(cl_reader_open(&r, path, &rdo, &err), &err);
	CHECK_OK(cl_schema_create(&decl, &err), &err);
	const cl_schema *fs = cl_reader_schema(r);
	for (int i = 0; i < fs->nfields; i++)
		CHECK_OK(cl_schema_add(decl, fs->fields[i].name, fs->fields[i].type, true, &err),
			 &err);
	cl_reader_free(r);
	/* every file has these columns (after Op): the run above was lean */
	const char *names[] = {"LOAD00000002", "20240101-100000000", "20240101-110000000"};
	for (int k = 0; k < 3; k++) {
		snprintf(path, sizeof path, "%s/%s.parquet", src, names[k]);
		CHECK_OK(cl_reader_open(&r, path, &rdo, &err), &err);
		const cl_schema *ks = cl_reader_schema(r);
		int off = k ? 1 : 0; /* Op first in change data */
		CHECK_EQ_INT(ks->nfields - off, decl->nfields);
		for (int i = 0; i < decl->nfields && i + off < ks->nfields; i++) {
			CHECK_STR(ks->fields[i + off].name, decl->fields[i].name);
			CHECK(cl_type_equal(ks->fields[i + off].type, decl->fields[i].type));
		}
		cl_reader_free(r);
	}
	o.schema = decl;
	CHECK_OK(cl_dms_merge_run(&ro, src, one, &o, &err), &err);
	cl_schema_free(decl);

	CHECK_EQ_INT(rl.merge.files, 4);
	CHECK_EQ_INT(rl.merge.rows, ro.merge.rows);
	CHECK_EQ_INT(rl.merge.inserts, ro.merge.inserts);
	CHECK_EQ_INT(rl.merge.updates, ro.merge.updates);
	CHECK_EQ_INT(rl.merge.deletes, ro.merge.deletes);
	CHECK_EQ_INT(rl.merge.keys, ro.merge.keys);
	CHECK_EQ_INT(rl.merge.upserts_out, ro.merge.upserts_out);
	CHECK_EQ_INT(rl.merge.deletes_out, ro.merge.deletes_out);
	CHECK_EQ_INT(rl.rows_written, ro.rows_written);
	CHECK_EQ_INT(rl.files_added, ro.files_added);
	/* 150,003 + 1,002 + 6 + 3,000 records */
	CHECK_EQ_INT(rl.merge.rows, 154011);
	/* the live keys, replayed */
	uint8_t *live = calloc(1000000, 1);
	int64_t nlive = 0;
	for (int i = 0; i < NLOAD + 1000; i++)
		live[i] = 1;
	live[2] = live[150010] = 0;
	live[900000] = 1;
	for (int i = 0; i < 3000; i++)
		live[i * 37] = i % 4 != 0;
	for (int i = 0; i < 1000000; i++)
		nlive += live[i];
	free(live);
	CHECK_EQ_INT(rl.rows_written, nlive);

	char fl[BUCKETS][4200], fo[BUCKETS][4200];
	memset(fl, 0, sizeof fl);
	memset(fo, 0, sizeof fo);
	CHECK_OK(bucket_files(lean, fl, BUCKETS, &err), &err);
	CHECK_OK(bucket_files(one, fo, BUCKETS, &err), &err);
	for (int b = 0; b < BUCKETS; b++) {
		long nl = 0, no = 0;
		char *dl = fl[b][0] ? slurp(fl[b], &nl) : NULL;
		char *dn = fo[b][0] ? slurp(fo[b], &no) : NULL;
		CHECK(dl != NULL && dn != NULL);
		CHECK(dl && dn && nl == no && !memcmp(dl, dn, (size_t)nl));
		free(dl);
		free(dn);
	}
}

/* Deletes in change data: their keys' full-load rows are not written, a
 * delete of an unknown key writes nothing. */
TEST(dms_merge_lean_deletes_only_change)
{
	cl_error err = {0};
	char src[4096], parent[4096], lake[4200];
	const char *tmp = cl_test_tmpdir();
	snprintf(src, sizeof src, "%s/leandel/src/s/t", tmp);
	snprintf(parent, sizeof parent, "%s/leandel/lake", tmp);
	snprintf(lake, sizeof lake, "%s/t", parent);
	cl_test_mkdirs(src);
	cl_test_mkdirs(parent);
	CHECK_OK(put_parquet(src, "LOAD00000001", "id,v\n1,a\n2,b\n3,c\n", &err), &err);
	CHECK_OK(put_parquet(src, "20240101-100000000", "Op,id,v\nD,1,\nD,3,\nD,9,\n", &err),
		 &err);
	cl_dms_merge_options o;
	cl_dms_merge_options_init(&o);
	const char *keys[] = {"id"};
	o.keys = keys;
	o.nkeys = 1;
	o.buckets = 2;
	cl_dms_merge_result res;
	CHECK_OK(cl_dms_merge_run(&res, src, lake, &o, &err), &err);
	CHECK_EQ_INT(res.rows_written, 1);
	CHECK_EQ_INT(res.merge.deletes, 3);
	cl_table *t = NULL;
	cl_snapshot *s = NULL;
	cl_table_scan *sc = NULL;
	CHECK_OK(cl_table_open(&t, lake, &err), &err);
	CHECK_OK(cl_table_snapshot(&s, t, NULL, &err), &err);
	CHECK_OK(cl_table_scan_open(&sc, t, s, NULL, &err), &err);
	cl_batch *b;
	int64_t rows = 0, id = -1;
	while (cl_table_scan_next(sc, &b, &err) == 0 && b && b->nrows) {
		rows += b->nrows;
		id = cl_column_get_i64(&b->cols[cl_schema_find(cl_snapshot_schema(s), "id")], 0);
	}
	CHECK_EQ_INT(rows, 1);
	CHECK_EQ_INT(id, 2);
	cl_table_scan_free(sc);
	cl_snapshot_free(s);
	cl_table_free(t);
}
