/* test_dms.c — DMS file names, listing order, discovery. */
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "changelake.h"
#include "changelake/dms.h"

static cl_dms_kind kind_of(const char *p)
{
	cl_dms_name n;
	cl_dms_name_parse(&n, p);
	return n.kind;
}

TEST(dms_name_load)
{
	cl_dms_name n;
	cl_dms_name_parse(&n, "LOAD00000001.parquet");
	CHECK_EQ_INT(n.kind, CL_DMS_LOAD);
	CHECK_EQ_INT(n.format, CL_FORMAT_PARQUET);
	CHECK_EQ_INT(n.counter, 1);
	CHECK_EQ_INT(n.segment, 0);
	cl_dms_name_parse(&n, "LOAD0000000A.csv");
	CHECK_EQ_INT(n.kind, CL_DMS_LOAD);
	CHECK_EQ_INT(n.counter, 10);
	CHECK_EQ_INT(n.format, CL_FORMAT_CSV);
	CHECK(!n.gzip);
	cl_dms_name_parse(&n, "LOAD000000ff.CSV.GZ");
	CHECK_EQ_INT(n.counter, 255);
	CHECK(n.gzip);
	cl_dms_name_parse(&n, "SEGMENT12_LOAD00000003.csv");
	CHECK_EQ_INT(n.kind, CL_DMS_LOAD);
	CHECK_EQ_INT(n.segment, 12);
	CHECK_EQ_INT(n.counter, 3);
	cl_dms_name_parse(&n, "part=2/LOAD00000002.csv");
	CHECK_EQ_INT(n.kind, CL_DMS_LOAD);
	CHECK_EQ_INT(n.dir_len, 6);
}

TEST(dms_name_cdc)
{
	cl_dms_name a, b, c;
	cl_dms_name_parse(&a, "20201113-123456789.parquet");
	CHECK_EQ_INT(a.kind, CL_DMS_CDC);
	/* 2020-11-13 12:34:56.789 UTC */
	CHECK_EQ_INT(a.time_us, 1605270896789000LL);
	cl_dms_name_parse(&b, "20201113-1234567.csv");
	CHECK_EQ_INT(b.time_us, 1605270896700000LL);
	cl_dms_name_parse(&c, "2020/11/13/20201113-123456.csv.gz");
	CHECK_EQ_INT(c.kind, CL_DMS_CDC);
	CHECK_EQ_INT(c.time_us, 1605270896000000LL);
	CHECK(c.gzip);
	cl_dms_name_parse(&c, "20201113-123456789012345.csv");
	CHECK_EQ_INT(c.time_us, 1605270896789012LL);
	CHECK_EQ_INT(c.time_sub, 345000);
	cl_dms_name_parse(&c, "20240229-000000.csv");
	CHECK_EQ_INT(c.kind, CL_DMS_CDC);
}

TEST(dms_name_hostile)
{
	static const char *bad[] = {
		"", "/", "LOAD.csv", "LOAD00000001", "LOAD00000001.txt",
		"LOAD0000000G.csv", "LOAD00000000000000001.csv", "load00000001.csv",
		"SEGMENT_LOAD00000001.csv", "SEGMENT1LOAD00000001.csv",
		"SEGMENT1234567890123456789_LOAD1.csv", "xLOAD00000001.csv",
		".LOAD00000001.csv", "_LOAD00000001.csv", "a/.tmp/LOAD00000001.csv",
		"a//LOAD00000001.csv", "/LOAD00000001.csv", "LOAD00000001.csv/",
		"../LOAD00000001.csv", "20201313-123456.csv", "20201100-123456.csv",
		"20230229-123456.csv", "20201113-243456.csv", "20201113-126056.csv",
		"20201113-123460.csv", "20201113-12345.csv", "20201113_123456.csv",
		"19691231-235959.csv", "20201113-1234561234567890123.csv",
		"2020111-1234567.csv", "20201113-12345a.csv", "20201113-123456.csv.gz.tmp",
		"20201113-123456.parquet.crc", "20201113-123456.", "20201113-+23456.csv",
		"LOAD00000001.csv\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (kind_of(bad[i]) != CL_DMS_OTHER) {
			cl_test_fail(__FILE__, __LINE__, "'%s' classified as a DMS file", bad[i]);
			return;
		}
	}
	CHECK_EQ_INT(kind_of(NULL), CL_DMS_OTHER);
	/* Long garbage must not overflow anything. */
	char big[5000];
	memset(big, '1', sizeof big - 1);
	big[sizeof big - 1] = 0;
	CHECK_EQ_INT(kind_of(big), CL_DMS_OTHER);
	memcpy(big, "LOAD", 4);
	CHECK_EQ_INT(kind_of(big), CL_DMS_OTHER);
}

TEST(dms_listing_order)
{
	cl_dms_listing *l;
	cl_error e = {0};
	CHECK_OK(cl_dms_listing_create(&l, "t", &e), &e);
	static const char *paths[] = {
		"20201113-123456789.csv", "LOAD0000000A.csv", "2020/11/13/20201113-1234567.csv",
		"LOAD00000009.csv", "20201113-12345680.csv", "README.txt", "_SUCCESS",
		"20201112-235959999999.csv", "LOAD00000009.csv", "SEGMENT2_LOAD00000001.csv",
		"20201113-123456789.csv",
	};
	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
		CHECK_OK(cl_dms_listing_add(l, paths[i], 1, 0, &e), &e);
	cl_dms_listing_finish(l);
	static const char *want[] = {
		"LOAD00000009.csv", "LOAD0000000A.csv", "SEGMENT2_LOAD00000001.csv",
		"20201112-235959999999.csv", "2020/11/13/20201113-1234567.csv",
		"20201113-123456789.csv", "20201113-12345680.csv",
	};
	CHECK_EQ_INT(l->nfiles, 7);
	CHECK_EQ_INT(l->nload, 3);
	for (int i = 0; i < 7; i++)
		CHECK_STR(l->files[i].path, want[i]);
	CHECK_EQ_INT(l->nskipped, 1);
	CHECK_STR(l->skipped[0], "README.txt");
	for (int i = 0; i < 3; i++)
		CHECK(l->files[i].file_key < 0);
	for (int i = 1; i < 7; i++)
		CHECK(l->files[i - 1].file_key <= l->files[i].file_key);
	cl_dms_listing_free(l);
}

static void touch(const char *path)
{
	FILE *f = fopen(path, "w");
	if (f) {
		fputs("x\n", f);
		fclose(f);
	}
}

TEST(dms_list_many_files_and_discover)
{
	const char *tmp = cl_test_tmpdir();
	char p[4096];
	snprintf(p, sizeof p, "%s/root", tmp);
	mkdir(p, 0777);
	snprintf(p, sizeof p, "%s/root/public", tmp);
	mkdir(p, 0777);
	snprintf(p, sizeof p, "%s/root/public/orders", tmp);
	mkdir(p, 0777);
	snprintf(p, sizeof p, "%s/root/public/items", tmp);
	mkdir(p, 0777);
	snprintf(p, sizeof p, "%s/root/_meta", tmp);
	mkdir(p, 0777);
	snprintf(p, sizeof p, "%s/root/public/orders/2020", tmp);
	mkdir(p, 0777);
	snprintf(p, sizeof p, "%s/root/public/orders/2020/11", tmp);
	mkdir(p, 0777);
	/* More than one S3 listing page (1000): none may be lost. */
	for (int i = 0; i < 1500; i++) {
		snprintf(p, sizeof p, "%s/root/public/orders/%s2020%02d%02d-%02d%02d%02d%03d.csv",
			 tmp, i % 2 ? "2020/11/" : "", 1 + i % 12, 1 + i % 28, i % 24,
			 i % 60, (i / 60) % 60, i % 1000);
		touch(p);
	}
	snprintf(p, sizeof p, "%s/root/public/orders/LOAD00000001.csv", tmp);
	touch(p);
	snprintf(p, sizeof p, "%s/root/public/orders/.tmp-upload", tmp);
	touch(p);
	cl_dms_listing *l;
	cl_error e = {0};
	snprintf(p, sizeof p, "%s/root/public/orders", tmp);
	CHECK_OK(cl_dms_list(&l, p, &e), &e);
	CHECK_EQ_INT(l->nfiles, 1501);
	CHECK_EQ_INT(l->nload, 1);
	CHECK_EQ_INT(l->nskipped, 0);
	for (int i = 1; i < l->nfiles; i++)
		CHECK(cl_dms_file_compare(&l->files[i - 1], &l->files[i]) < 0);
	cl_dms_listing_free(l);

	char **tables;
	int n;
	snprintf(p, sizeof p, "%s/root", tmp);
	CHECK_OK(cl_dms_discover(&tables, &n, p, &e), &e);
	CHECK_EQ_INT(n, 2);
	CHECK_STR(tables[0], "public/items");
	CHECK_STR(tables[1], "public/orders");
	cl_dms_tables_free(tables, n);

	snprintf(p, sizeof p, "%s/nope", tmp);
	CHECK(cl_dms_list(&l, p, &e) == CL_ENOTFOUND);
	CHECK(strstr(e.message, "nope") != NULL);
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char p[4096];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

/* Read every change of file `name` in dir into "op:v1,v2|..." text. */
static int read_all(const char *dir, const char *name, const cl_dms_read_options *o,
		    char *out, size_t n, cl_error *e)
{
	cl_dms_listing *l;
	int rc = cl_dms_listing_create(&l, dir, e);
	if (rc)
		return rc;
	cl_dms_listing_add(l, name, 0, 0, e);
	cl_dms_listing_finish(l);
	cl_dms_reader *r;
	if ((rc = cl_dms_reader_open(&r, dir, &l->files[0], o, e))) {
		cl_dms_listing_free(l);
		return rc;
	}
	size_t k = 0;
	const cl_schema *s = cl_dms_reader_schema(r);
	k += (size_t)snprintf(out + k, n - k, "[");
	for (int c = 0; c < s->nfields; c++)
		k += (size_t)snprintf(out + k, n - k, "%s%s", c ? "," : "", s->fields[c].name);
	k += (size_t)snprintf(out + k, n - k, "]");
	for (;;) {
		cl_dms_changes ch;
		if ((rc = cl_dms_reader_next(r, &ch, e)))
			break;
		if (ch.nrows == 0)
			break;
		for (int64_t i = 0; i < ch.nrows; i++) {
			k += (size_t)snprintf(out + k, n - k, "%c:", ch.ops[i]);
			for (int c = 0; c < ch.batch->ncols; c++) {
				char *t = NULL;
				size_t len;
				cl_value_text(&ch.batch->cols[c], i, &t, &len, e);
				k += (size_t)snprintf(out + k, n - k, "%s%s", c ? "," : "",
						      t ? t : "-");
				cl_free(t);
			}
			k += (size_t)snprintf(out + k, n - k, "|");
		}
	}
	cl_dms_reader_free(r);
	cl_dms_listing_free(l);
	return rc;
}

TEST(dms_read_csv_layouts)
{
	const char *d = cl_test_tmpdir();
	char out[4096];
	cl_error e = {0};
	cl_schema *s;
	CHECK_OK(cl_schema_parse(&s, "id int64, name string", &e), &e);
	cl_dms_read_options o;
	cl_dms_read_options_init(&o);
	o.schema = s;
	/* Full load, header-less, no Op. */
	write_file(d, "LOAD00000001.csv", "1,a\n2,\n");
	CHECK_OK(read_all(d, "LOAD00000001.csv", &o, out, sizeof out, &e), &e);
	CHECK_STR(out, "[id,name]I:1,a|I:2,-|");
	/* CDC, header-less: Op first. */
	write_file(d, "20240101-000000001.csv", "I,3,c\nU,1,a2\nD,2,\n");
	CHECK_OK(read_all(d, "20240101-000000001.csv", &o, out, sizeof out, &e), &e);
	CHECK_STR(out, "[id,name]I:3,c|U:1,a2|D:2,-|");
	/* Full load with Op column (includeOpForFullLoad), empty Op = insert. */
	write_file(d, "LOAD00000002.csv", "I,5,e\n,6,f\n");
	CHECK_OK(read_all(d, "LOAD00000002.csv", &o, out, sizeof out, &e), &e);
	CHECK_STR(out, "[id,name]I:5,e|I:6,f|");
	/* Timestamp column after Op. */
	o.timestamp_column = "ts";
	write_file(d, "20240101-000000002.csv", "U,2024-01-01 00:00:00.000001,1,x\n");
	CHECK_OK(read_all(d, "20240101-000000002.csv", &o, out, sizeof out, &e), &e);
	CHECK_STR(out, "[ts,id,name]U:2024-01-01 00:00:00.000001,1,x|");
	/* Full load with the timestamp column and no Op. */
	write_file(d, "LOAD00000003.csv", "2024-01-01 00:00:00.000001,7,g\n");
	CHECK_OK(read_all(d, "LOAD00000003.csv", &o, out, sizeof out, &e), &e);
	CHECK_STR(out, "[ts,id,name]I:2024-01-01 00:00:00.000001,7,g|");
	o.timestamp_column = NULL;
	/* A header line (addColumnName) is recognised; a new column kept. */
	write_file(d, "20240101-000000003.csv", "Op,id,name,extra\nI,8,h,z\n");
	CHECK_OK(read_all(d, "20240101-000000003.csv", &o, out, sizeof out, &e), &e);
	CHECK_STR(out, "[id,name,extra]I:8,h,z|");
	/* gzip. */
	char p[4096];
	snprintf(p, sizeof p, "printf 'U,9,i\\n' | gzip -c > %s/20240101-000000004.csv.gz", d);
	CHECK(system(p) == 0);
	CHECK_OK(read_all(d, "20240101-000000004.csv.gz", &o, out, sizeof out, &e), &e);
	CHECK_STR(out, "[id,name]U:9,i|");
	/* Errors: a bad Op names file, row and value; a value that does not fit
	   the declared type names file, line and column; a field count that
	   fits no layout asks for the column names. */
	write_file(d, "20240101-000000005.csv", "I,1,a\nX,2,b\n");
	CHECK(read_all(d, "20240101-000000005.csv", &o, out, sizeof out, &e) == CL_EFORMAT);
	CHECK(strstr(e.message, "20240101-000000005.csv: row 2, column 'Op': 'X'") != NULL);
	write_file(d, "20240101-000000006.csv", "I,1,a\nU,two,b\n");
	CHECK(read_all(d, "20240101-000000006.csv", &o, out, sizeof out, &e) != 0);
	CHECK(strstr(e.message, "20240101-000000006.csv") != NULL);
	CHECK(strstr(e.message, "two") != NULL);
	write_file(d, "20240101-000000007.csv", "I,1,a,b,c\n");
	CHECK(read_all(d, "20240101-000000007.csv", &o, out, sizeof out, &e) == CL_ESCHEMA);
	CHECK(strstr(e.message, "--columns") != NULL);
	/* No names known at all. */
	cl_dms_read_options none;
	cl_dms_read_options_init(&none);
	none.header = 0;
	CHECK(read_all(d, "LOAD00000001.csv", &none, out, sizeof out, &e) == CL_EINVAL);
	/* Names from --columns, types inferred. */
	static const char *cols[] = {"id", "name"};
	none.columns = cols;
	none.ncolumns = 2;
	none.header = -1;
	CHECK_OK(read_all(d, "20240101-000000001.csv", &none, out, sizeof out, &e), &e);
	CHECK_STR(out, "[id,name]I:3,c|U:1,a2|D:2,-|");
	cl_schema_free(s);
}

TEST(dms_read_real_full_load)
{
	/* The real DMS file, read in place through a link named as DMS names
	   full-load files. */
	const char *d = cl_test_tmpdir();
	char src[4096], dst[4096];
	char rel[4096];
	snprintf(rel, sizeof rel, "%s/dms/dms_test_table_LOAD00000001.parquet",
		 cl_test_data_root());
	CHECK(realpath(rel, src) != NULL);
	snprintf(dst, sizeof dst, "%s/real", d);
	mkdir(dst, 0777);
	snprintf(dst, sizeof dst, "%s/real/LOAD00000001.parquet", d);
	CHECK(symlink(src, dst) == 0);
	snprintf(dst, sizeof dst, "%s/real", d);
	cl_dms_listing *l;
	cl_error e = {0};
	CHECK_OK(cl_dms_list(&l, dst, &e), &e);
	CHECK_EQ_INT(l->nfiles, 1);
	CHECK_EQ_INT(l->nload, 1);
	cl_dms_reader *r;
	CHECK_OK(cl_dms_reader_open(&r, dst, &l->files[0], NULL, &e), &e);
	CHECK(!cl_dms_reader_has_op(r));
	const cl_schema *s = cl_dms_reader_schema(r);
	CHECK_STR(s->fields[0].name, "DMS_TIMESTAMP");
	CHECK(cl_schema_find(s, "id") == 1);
	int64_t rows = 0;
	for (;;) {
		cl_dms_changes ch;
		CHECK_OK(cl_dms_reader_next(r, &ch, &e), &e);
		if (!ch.nrows)
			break;
		CHECK_EQ_INT(ch.first_row, rows);
		for (int64_t i = 0; i < ch.nrows; i++)
			CHECK(ch.ops[i] == 'I');
		rows += ch.nrows;
	}
	CHECK(rows > 0);
	cl_dms_reader_free(r);
	cl_dms_listing_free(l);
}

/* Files of a plan as "path path ..." */
static void plan_text(const cl_dms_plan *p, char *out, size_t n)
{
	size_t k = 0;
	out[0] = 0;
	for (int i = 0; i < p->nfiles; i++)
		k += (size_t)snprintf(out + k, n - k, "%s%s", i ? " " : "", p->files[i]->path);
}

static cl_dms_listing *listing_of(const char *const *paths, int n, int64_t load_size)
{
	cl_dms_listing *l;
	cl_error e = {0};
	if (cl_dms_listing_create(&l, "t", &e))
		return NULL;
	for (int i = 0; i < n; i++)
		cl_dms_listing_add(l, paths[i], strstr(paths[i], "LOAD") ? load_size : 10, 5, &e);
	cl_dms_listing_finish(l);
	return l;
}

TEST(dms_plan_runs)
{
	cl_error e = {0};
	char out[1024];
	static const char *run1[] = {"LOAD00000002.csv", "LOAD00000001.csv",
				     "20240101-000000.csv"};
	cl_dms_listing *l = listing_of(run1, 3, 100);
	cl_dms_plan *p;
	CHECK_OK(cl_dms_plan_make(&p, l, NULL, &e), &e);
	CHECK(!p->rebuild);
	plan_text(p, out, sizeof out);
	CHECK_STR(out, "LOAD00000001.csv LOAD00000002.csv 20240101-000000.csv");
	/* The manifest round-trips. */
	char *text;
	size_t n;
	CHECK_OK(cl_dms_consumed_format(p->next, &text, &n, &e), &e);
	cl_dms_consumed *c;
	CHECK_OK(cl_dms_consumed_parse(&c, text, n, "m", &e), &e);
	cl_free(text);
	CHECK_EQ_INT(c->n, 3);
	cl_dms_plan_free(p);
	cl_dms_listing_free(l);

	/* Run 2: two new CDC files (one late, earlier than the consumed one),
	   nothing else read again. */
	static const char *run2[] = {"LOAD00000002.csv", "LOAD00000001.csv",
				     "20240101-000000.csv", "20231231-235959.csv",
				     "2024/01/02/20240102-000000.csv"};
	l = listing_of(run2, 5, 100);
	CHECK_OK(cl_dms_plan_make(&p, l, c, &e), &e);
	CHECK(!p->rebuild);
	plan_text(p, out, sizeof out);
	CHECK_STR(out, "20231231-235959.csv 2024/01/02/20240102-000000.csv");
	CHECK_EQ_INT(p->next->n, 5);
	cl_dms_plan_free(p);
	cl_dms_listing_free(l);

	/* A restarted task: a new full-load file after CDC: rebuild from every
	   full-load file plus the unconsumed CDC; consumed CDC stays consumed. */
	static const char *run3[] = {"LOAD00000002.csv", "LOAD00000001.csv", "LOAD00000003.csv",
				     "20240101-000000.csv", "20240103-000000.csv"};
	l = listing_of(run3, 5, 100);
	CHECK_OK(cl_dms_plan_make(&p, l, c, &e), &e);
	CHECK(p->rebuild);
	plan_text(p, out, sizeof out);
	CHECK_STR(out, "LOAD00000001.csv LOAD00000002.csv LOAD00000003.csv 20240103-000000.csv");
	cl_dms_plan_free(p);
	cl_dms_listing_free(l);

	/* A full-load file rewritten in place (other size): rebuild; expired
	   full-load files: nothing. */
	l = listing_of(run1, 3, 200);
	CHECK_OK(cl_dms_plan_make(&p, l, c, &e), &e);
	CHECK(p->rebuild);
	cl_dms_plan_free(p);
	cl_dms_listing_free(l);
	static const char *run4[] = {"20240101-000000.csv"};
	l = listing_of(run4, 1, 100);
	CHECK_OK(cl_dms_plan_make(&p, l, c, &e), &e);
	CHECK(!p->rebuild);
	CHECK_EQ_INT(p->nfiles, 0);
	CHECK_EQ_INT(p->next->n, 3);
	cl_dms_plan_free(p);
	cl_dms_listing_free(l);
	cl_dms_consumed_free(c);
}

TEST(dms_consumed_manifest_hostile)
{
	cl_dms_consumed *c;
	cl_error e = {0};
	CHECK_OK(cl_dms_consumed_create(&c, &e), &e);
	cl_dms_consumed_file f = {"odd\tname%\n/20240101-000000.csv", CL_DMS_CDC, 1, 2, 3};
	CHECK_OK(cl_dms_consumed_put(c, &f, &e), &e);
	char *text;
	size_t n;
	CHECK_OK(cl_dms_consumed_format(c, &text, &n, &e), &e);
	cl_dms_consumed *d;
	CHECK_OK(cl_dms_consumed_parse(&d, text, n, "m", &e), &e);
	CHECK_EQ_INT(d->n, 1);
	CHECK_STR(d->files[0].path, f.path);
	CHECK_EQ_INT(d->files[0].file_key, 3);
	cl_free(text);
	cl_dms_consumed_free(c);
	cl_dms_consumed_free(d);
	static const char *bad[] = {
		"", "nope\n", "changelake-dms-consumed 1\nX\t1\t2\t3\tp\n",
		"changelake-dms-consumed 1\nC\t1\t2\t3\n", "changelake-dms-consumed 1\nC\t1\t2\t3\tp",
		"changelake-dms-consumed 1\nC\tx\t2\t3\tp\n", "changelake-dms-consumed 1\nC\t1\t2\t3\t%0\n",
		"changelake-dms-consumed 1\nC\t1\t2\t3\t%00\n", "changelake-dms-consumed 1\nC\t1\t2\t3\t\n",
		"changelake-dms-consumed 1\nC\t99999999999999999999999\t2\t3\tp\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (cl_dms_consumed_parse(&d, bad[i], strlen(bad[i]), "m.tsv", &e) != CL_EFORMAT) {
			cl_test_fail(__FILE__, __LINE__, "manifest %zu accepted", i);
			return;
		}
		CHECK(strstr(e.message, "m.tsv") != NULL);
	}
}
