/*
 * test_csv.c — the CSV reader and writer (format/csv_read.c, csv_write.c):
 * quoting, NULLs, delimiters, headers, inference, batches across buffer
 * refills, gzip, every bad-input case, allocation failures, round trips.
 *
 * Also defines the helpers tt_file / tt_read used by test_jsonl.c.
 */
#include "test.h"

#include "changelake.h"
#include "core/buf.h"
#include "core/value_text.h"

#include <stdlib.h>
#include <zlib.h>

/* Write content to a new file NAME in a fresh temporary directory; returns
 * its path (valid until the 8th next call). A name ending in .gz is
 * gzip-compressed. */
const char *tt_file(const char *name, const char *content, size_t len)
{
	static char paths[8][600];
	static int k;
	char *p = paths[k++ % 8];
	snprintf(p, 600, "%s/%s", cl_test_tmpdir(), name);
	size_t n = strlen(name);
	if (n > 3 && !strcmp(name + n - 3, ".gz")) {
		gzFile g = gzopen(p, "wb");
		if (!g || (len && gzwrite(g, content, (unsigned)len) != (int)len))
			abort();
		gzclose(g);
	} else {
		FILE *f = fopen(p, "wb");
		if (!f || (len && fwrite(content, 1, len, f) != len))
			abort();
		fclose(f);
	}
	return p;
}

/* Append the schema line and every row ('|' between values, \N for NULL). */
static int dump_batch(cl_buf *out, const cl_batch *b)
{
	for (int64_t r = 0; r < b->nrows; r++) {
		for (int c = 0; c < b->ncols; c++) {
			if (c && cl_buf_putc(out, '|'))
				return CL_ENOMEM;
			int rc = cl_column_is_null(&b->cols[c], r)
					 ? cl_buf_puts(out, "\\N")
					 : cl__value_format(out, &b->cols[c], r);
			if (rc)
				return rc;
		}
		if (cl_buf_putc(out, '\n'))
			return CL_ENOMEM;
	}
	return 0;
}

/* Read all of path; *dump = "name:type,...\n" + rows (cl_free it). */
int tt_read(const char *path, const cl_read_options *o, char **dump, cl_error *e)
{
	cl_reader *r = NULL;
	cl_buf out = {0};
	*dump = NULL;
	int rc = cl_reader_open(&r, path, o, e);
	if (rc)
		return rc;
	const cl_schema *s = cl_reader_schema(r);
	for (int i = 0; i < s->nfields && !rc; i++) {
		char t[64];
		rc = cl_buf_printf(&out, "%s%s:%s%s", i ? "," : "", s->fields[i].name,
				   cl_type_format(t, sizeof t, s->fields[i].type),
				   s->fields[i].nullable ? "" : "!");
	}
	if (!rc)
		rc = cl_buf_putc(&out, '\n');
	for (;;) {
		cl_batch *b;
		if (rc || (rc = cl_reader_next(r, &b, e)) || !b)
			break;
		if ((rc = cl_batch_validate(b, e)))
			break;
		if ((rc = dump_batch(&out, b)))
			cl_error_set(e, rc, "out of memory");
	}
	cl_reader_free(r);
	if (rc) {
		cl_buf_release(&out);
		return rc;
	}
	*dump = (char *)cl_buf_detach(&out, NULL);
	return 0;
}

static void csv_opts(cl_read_options *o)
{
	cl_read_options_init(o);
	o->format = CL_FORMAT_CSV;
}

/* Read CSV text and compare the dump. */
#define CSV_EXPECT(name, text, opts, want)                                      \
	do {                                                                    \
		cl_error e_ = {0};                                              \
		char *d_;                                                       \
		const char *p_ = tt_file(name, text, sizeof(text) - 1);         \
		CHECK_OK(tt_read(p_, opts, &d_, &e_), &e_);                     \
		if (strcmp(d_, want))                                           \
			printf("    got:\n%s    want:\n%s", d_, want);          \
		CHECK(strcmp(d_, want) == 0);                                   \
		cl_free(d_);                                                    \
	} while (0)

/* Read CSV text expecting error code rc with a message equal to msg, where
 * "@" in msg stands for the file's path. */
#define CSV_ERROR(name, text, opts, rc, msg)                                    \
	do {                                                                    \
		cl_error e_ = {0};                                              \
		char *d_ = NULL;                                                \
		const char *p_ = tt_file(name, text, sizeof(text) - 1);         \
		int rc_ = tt_read(p_, opts, &d_, &e_);                          \
		cl_free(d_);                                                    \
		char want_[1200];                                               \
		const char *at_ = strchr(msg, '@');                             \
		if (at_)                                                        \
			snprintf(want_, sizeof want_, "%.*s%s%s", (int)(at_ - (msg)), msg, \
				 p_, at_ + 1);                                  \
		else                                                            \
			snprintf(want_, sizeof want_, "%s", msg);               \
		CHECK_EQ_INT(rc_, rc);                                          \
		CHECK_STR(e_.message, want_);                                   \
	} while (0)

TEST(csv_header_and_inferred_types)
{
	cl_read_options o;
	csv_opts(&o);
	CSV_EXPECT("a.csv",
		   "id,name,price,day,ts,flag,big,f\n"
		   "1,alice,1.50,2020-01-01,2020-01-01 10:00:00,true,12345678901234567890,1e3\n"
		   "-2,,2.25,2020-02-29,2020-01-01T10:00:00.5,false,1,2.5\n",
		   &o,
		   "id:int64,name:string,price:decimal(18,2),day:date,ts:timestamp(us),flag:bool,big:decimal(38,0),f:float64\n"
		   "1|alice|1.50|2020-01-01|2020-01-01 10:00:00|true|12345678901234567890|1000\n"
		   "-2|\\N|2.25|2020-02-29|2020-01-01 10:00:00.5|false|1|2.5\n");
}

TEST(csv_quoting_rfc4180)
{
	cl_read_options o;
	csv_opts(&o);
	/* embedded delimiter, doubled quotes, newlines (LF and CRLF) inside
	 * quotes, "" (empty string) against an empty field (NULL), a quote
	 * inside an unquoted field (literal) */
	CSV_EXPECT("q.csv",
		   "a,b\r\n"
		   "\"x,y\",\"he said \"\"hi\"\"\"\r\n"
		   "\"line1\nline2\",\"\"\r\n"
		   ",\"crlf\r\ninside\"\r\n"
		   "5'10\",\"\"\"\"\r\n",
		   &o,
		   "a:string,b:string\n"
		   "x,y|he said \"hi\"\n"
		   "line1\nline2|\n"
		   "\\N|crlf\r\ninside\n"
		   "5'10\"|\"\n");
}

TEST(csv_bom_no_trailing_newline_lone_cr)
{
	cl_read_options o;
	csv_opts(&o);
	CSV_EXPECT("bom.csv", "\xef\xbb\xbf" "a,b\n1,2\n3,4", &o,
		   "a:int64,b:int64\n1|2\n3|4\n");
	CSV_EXPECT("cr.csv", "a,b\r1,2\r3,4\r", &o, "a:int64,b:int64\n1|2\n3|4\n");
	/* blank lines are skipped when records have several fields */
	CSV_EXPECT("blank.csv", "a,b\n\n1,2\n\r\n3,4\n\n", &o,
		   "a:int64,b:int64\n1|2\n3|4\n");
	/* with one field a blank line is a NULL row */
	CSV_EXPECT("one.csv", "a\n1\n\n3\n", &o, "a:int64\n1\n\\N\n3\n");
}

TEST(csv_delimiters)
{
	cl_read_options o;
	csv_opts(&o);
	CSV_EXPECT("t.tsv", "a\tb\n1\tx,y\n", &o, "a:int64,b:string\n1|x,y\n");
	CSV_EXPECT("t.tsv.gz", "a\tb\n1\tx y\n", &o, "a:int64,b:string\n1|x y\n");
	o.delimiter = ';';
	CSV_EXPECT("s.csv", "a;b\n\"1;2\";3\n", &o, "a:string,b:int64\n1;2|3\n");
	o.delimiter = '|';
	CSV_EXPECT("p.csv", "a|b\n1|\n", &o, "a:int64,b:string\n1|\\N\n");
	o.delimiter = '"';
	CSV_ERROR("bad.csv", "a\n", &o, CL_EINVAL,
		  "@: the delimiter and quote must be different characters, neither a line end");
}

TEST(csv_no_header)
{
	cl_read_options o;
	csv_opts(&o);
	o.header = 0;
	CSV_EXPECT("nh.csv", "1,x\n2,y\n", &o, "column0:int64,column1:string\n1|x\n2|y\n");
	cl_error e = {0};
	cl_schema *s;
	CHECK_OK(cl_schema_parse(&s, "id int32 not null, name string", &e), &e);
	o.schema = s;
	CSV_EXPECT("nh2.csv", "1,x\n2,\n", &o, "id:int32!,name:string\n1|x\n2|\\N\n");
	/* with a declared schema and no header, an empty file is zero rows */
	CSV_EXPECT("empty.csv", "", &o, "id:int32!,name:string\n");
	CSV_ERROR("nh3.csv", "1,x\n2\n", &o, CL_EFORMAT,
		  "@: line 2: 1 field, expected 2 (as many as the schema has)");
	cl_schema_free(s);
}

TEST(csv_null_marker)
{
	cl_read_options o;
	csv_opts(&o);
	o.null_marker = "NA";
	/* unquoted NA is NULL, quoted "NA" the string; an empty string field
	 * stays an empty string, an empty int field is NULL */
	CSV_EXPECT("n.csv", "s,i\nNA,NA\n\"NA\",1\n,\n", &o,
		   "s:string,i:int64\n\\N|\\N\nNA|1\n|\\N\n");
	o.null_marker = NULL;
	CSV_EXPECT("n2.csv", "s,i\n,\n\"\",2\n", &o, "s:string,i:int64\n\\N|\\N\n|2\n");
}

TEST(csv_declared_schema_by_header_name)
{
	cl_read_options o;
	csv_opts(&o);
	cl_error e = {0};
	cl_schema *s;
	CHECK_OK(cl_schema_parse(&s, "id int64, amount decimal(10,2), when timestamp(ms,utc)", &e), &e);
	o.schema = s;
	/* header order differs from the schema: batches follow the schema */
	CSV_EXPECT("d.csv", "when,id,amount\n2020-01-01 10:00:00+02,7,3.5\n", &o,
		   "id:int64,amount:decimal(10,2),when:timestamp(ms,utc)\n"
		   "7|3.50|2020-01-01 08:00:00+00\n");
	CSV_ERROR("d2.csv", "id,amt,extra\n", &o, CL_ESCHEMA,
		  "@: the header does not match the schema: missing columns 'amount', 'when'; columns not in the schema 'amt', 'extra'");
	CSV_ERROR("d3.csv", "id,amount\n", &o, CL_ESCHEMA,
		  "@: the header does not match the schema: missing column 'when'");
	/* a value that does not fit its declared type */
	CSV_ERROR("d4.csv", "id,amount,when\n1,2.5,2020-01-01\nx,1,2020-01-01\n", &o,
		  CL_ETYPE, "@: line 3, column 'id': value 'x' is not a valid int64");
	CSV_ERROR("d5.csv", "id,amount,when\n1,2.555,2020-01-01\n", &o, CL_ETYPE,
		  "@: line 2, column 'amount': value '2.555' is out of range for decimal(10,2)");
	cl_schema_free(s);
	CHECK_OK(cl_schema_parse(&s, "id int64 not null", &e), &e);
	o.schema = s;
	CSV_ERROR("d6.csv", "id\n1\n\n", &o, CL_ETYPE,
		  "@: line 3, column 'id': NULL in a NOT NULL column");
	cl_schema_free(s);
}

TEST(csv_all_strings_and_sample_rows)
{
	cl_read_options o;
	csv_opts(&o);
	o.all_strings = true;
	CSV_EXPECT("s.csv", "a,b\n1,2020-01-01\n", &o, "a:string,b:string\n1|2020-01-01\n");
	csv_opts(&o);
	o.sample_rows = 2;
	/* the third row does not fit what the first two said */
	CSV_ERROR("s2.csv", "a\n1\n2\nthree\n", &o, CL_ETYPE,
		  "@: line 4, column 'a': value 'three' is not a valid int64 (the column's type was inferred from the first 2 rows; declare it with --schema, or infer from the whole file with --sample-rows 0)");
	o.sample_rows = 0; /* whole file: read twice */
	CSV_EXPECT("s3.csv", "a\n1\n2\nthree\n", &o, "a:string\n1\n2\nthree\n");
	CSV_EXPECT("s4.csv.gz", "a\n1\n2\n3.5\n", &o, "a:decimal(18,1)\n1.0\n2.0\n3.5\n");
}

TEST(csv_bad_input_errors)
{
	cl_read_options o;
	csv_opts(&o);
	CSV_ERROR("empty.csv", "", &o, CL_EFORMAT, "@: empty file, no header");
	CSV_ERROR("bom.csv", "\xef\xbb\xbf", &o, CL_EFORMAT, "@: empty file, no header");
	/* unterminated quote: the line where the quoted field started */
	CSV_ERROR("uq.csv", "a,b\n1,2\n3,\"open\nmore\nlines\n", &o, CL_EFORMAT,
		  "@: line 3: unterminated quoted field (the quote opened here is never closed)");
	/* ragged rows: more and fewer fields */
	CSV_ERROR("r1.csv", "a,b\n1,2\n3,4,5\n", &o, CL_EFORMAT,
		  "@: line 3: 3 fields, expected 2 (as many as the header has)");
	CSV_ERROR("r2.csv", "a,b,c\n1,2,3\n\"x\ny\",2\n", &o, CL_EFORMAT,
		  "@: line 3: 2 fields, expected 3 (as many as the header has)");
	/* line numbers count newlines inside quoted fields */
	o.sample_rows = 1;
	CSV_ERROR("ln.csv", "a,b\n\"1\n\n\",2\n\"x\",zz\n", &o, CL_ETYPE,
		  "@: line 5, column 'b': value 'zz' is not a valid int64 (the column's type was inferred from the first 1 rows; declare it with --schema, or infer from the whole file with --sample-rows 0)");
	csv_opts(&o);
	/* invalid UTF-8 in a string column */
	CSV_ERROR("u.csv", "a,b\n1,ok\n2,bad\xff\n", &o, CL_ETYPE,
		  "@: line 3, column 'b': invalid UTF-8 at byte 3 of the value");
	CSV_ERROR("uh.csv", "a,\xc0\x80\n", &o, CL_EFORMAT,
		  "@: line 1, field 2: header name is not valid UTF-8 (byte 1; not a text file?)");
	/* a NUL byte: not a text file */
	CSV_ERROR("bin.csv", "PK\x03\x04\x14\0\0\0", &o, CL_EFORMAT,
		  "@: line 1: NUL byte at byte offset 5: this is not a text file (a binary file with a .csv name?)");
	CSV_ERROR("bin2.csv", "a,b\n\"x\0\",1\n", &o, CL_EFORMAT,
		  "@: line 2: NUL byte at byte offset 6: this is not a text file (a binary file with a .csv name?)");
	/* a record longer than the limit */
	o.max_line_bytes = 16;
	CSV_ERROR("long.csv", "a,b\n1,22222222222222222222222222\n", &o, CL_EFORMAT,
		  "@: line 2: record longer than 16 bytes");
	CSV_ERROR("long2.csv", "a,b\n1,\"2\n2\n2\n2\n2\n2\n2\n2\n2\n", &o, CL_EFORMAT,
		  "@: line 2: record longer than 16 bytes (inside a quoted field opened on line 2: a missing closing quote?)");
	csv_opts(&o);
	/* duplicate and blank header names */
	CSV_ERROR("dup.csv", "a,b,a\n", &o, CL_ESCHEMA,
		  "@: line 1: duplicate column name 'a' (fields 1 and 3 of the header)");
	CSV_EXPECT("blank.csv", "a,,c\n1,2,3\n", &o, "a:int64,column1:int64,c:int64\n1|2|3\n");
	/* text after a closing quote */
	CSV_ERROR("aq.csv", "a,b\n\"x\"y,1\n", &o, CL_EFORMAT,
		  "@: line 2, column 'a': unexpected 'y' after the closing quote (a quote inside a quoted field must be doubled)");
	CSV_ERROR("aq2.csv", "a,b\n1,2\n3,\"x\"y\n", &o, CL_EFORMAT,
		  "@: line 3, column 'b': unexpected 'y' after the closing quote (a quote inside a quoted field must be doubled)");
	/* a JSON Lines file named .csv is not valid CSV */
	CSV_ERROR("j.csv", "{\"a\":1,\"b\":2}\n{\"a\":1}\n", &o, CL_EFORMAT,
		  "@: line 1, field 2: unexpected ':' after the closing quote (a quote inside a quoted field must be doubled)");
}

TEST(csv_truncated_gzip)
{
	/* Compress, then cut the tail off. */
	cl_buf text = {0};
	for (int i = 0; i < 20000; i++)
		CHECK_OK(cl_buf_printf(&text, "%d,row %d\n", i, i * 7), (cl_error *)NULL);
	const char *full = tt_file("t.csv.gz", (const char *)text.data, text.len);
	FILE *f = fopen(full, "rb");
	CHECK(f);
	static char gz[1 << 20];
	size_t n = fread(gz, 1, sizeof gz, f);
	fclose(f);
	const char *cut = tt_file("cut.csv", gz, n / 2);
	cl_read_options o;
	csv_opts(&o);
	o.header = 0;
	char *d = NULL;
	cl_error e = {0};
	int rc = tt_read(cut, &o, &d, &e);
	cl_free(d);
	cl_buf_release(&text);
	CHECK_EQ_INT(rc, CL_EFORMAT);
	CHECK(strstr(e.message, "gzip data is truncated") != NULL);
}

/* Many rows, small batches, and quoted fields spanning the 1 MiB refills. */
TEST(csv_batches_across_refills)
{
	cl_buf text = {0};
	cl_error e = {0};
	CHECK_OK(cl_buf_puts(&text, "id,txt,n\n"), &e);
	int rows = 60000;
	for (int i = 0; i < rows; i++)
		CHECK_OK(cl_buf_printf(&text, "%d,\"multi\nline, \"\"%d\"\"\n%*s\",%d.5\n", i, i,
				       i % 50, "", i % 1000), &e);
	const char *path = tt_file("big.csv", (const char *)text.data, text.len);
	for (int pass = 0; pass < 2; pass++) {
		cl_read_options o;
		csv_opts(&o);
		o.batch_rows = 777;
		o.sample_rows = pass ? 0 : 100;
		cl_reader *r;
		CHECK_OK(cl_reader_open(&r, path, &o, &e), &e);
		char t[64];
		CHECK_STR(cl_type_format(t, sizeof t, cl_reader_schema(r)->fields[2].type),
			  "decimal(18,1)");
		int64_t seen = 0;
		for (;;) {
			cl_batch *b;
			CHECK_OK(cl_reader_next(r, &b, &e), &e);
			if (!b)
				break;
			CHECK(b->nrows <= 777);
			for (int64_t k = 0; k < b->nrows; k++, seen++) {
				CHECK_EQ_INT(cl_column_get_i64(&b->cols[0], k), seen);
				size_t n;
				const uint8_t *s = cl_column_get_bytes(&b->cols[1], k, &n);
				char want[128];
				int wn = snprintf(want, sizeof want, "multi\nline, \"%lld\"\n%*s",
						  (long long)seen, (int)(seen % 50), "");
				CHECK_EQ_INT(n, wn);
				CHECK(memcmp(s, want, n) == 0);
			}
		}
		CHECK_EQ_INT(seen, rows);
		CHECK_EQ_INT(cl_reader_rows(r), rows);
		cl_reader_free(r);
	}
	/* An error at the very end names the right physical line. */
	CHECK_OK(cl_buf_puts(&text, "x,y,z\n"), &e);
	path = tt_file("big2.csv", (const char *)text.data, text.len);
	cl_read_options o;
	csv_opts(&o);
	char *d = NULL;
	CHECK_EQ_INT(tt_read(path, &o, &d, &e), CL_ETYPE);
	char want[64];
	snprintf(want, sizeof want, "line %d, column 'id'", 1 + 3 * rows + 1);
	CHECK(strstr(e.message, want) != NULL);
	cl_buf_release(&text);
}

/* Fail each allocation in turn: CL_ENOMEM comes back, nothing leaks. */
TEST(csv_alloc_failures)
{
	const char *text = "id,name,d\n1,\"a,\"\"b\",2020-01-01\n2,,2020-01-02\n3,c,\n";
	const char *path = tt_file("f.csv", text, strlen(text));
	int ok = 0;
	for (long n = 0; n < 2000 && !ok; n++) {
		cl_read_options o;
		csv_opts(&o);
		o.batch_rows = 2;
		cl_error e = {0};
		char *d = NULL;
		cl_alloc_fail_after(n);
		int rc = tt_read(path, &o, &d, &e);
		cl_alloc_fail_after(-1);
		if (rc == 0) {
			CHECK_STR(d, "id:int64,name:string,d:date\n1|a,\"b|2020-01-01\n2|\\N|2020-01-02\n3|c|\\N\n");
			ok = 1;
		} else {
			if (rc != CL_ENOMEM)
				printf("    n=%ld: %s\n", n, e.message);
			CHECK_EQ_INT(rc, CL_ENOMEM);
		}
		cl_free(d);
	}
	CHECK(ok);
}

/* ---- writer ---- */

static int write_batch(const char *path, const cl_schema *s, const cl_batch *b,
		       const cl_write_options *wo, cl_error *e)
{
	cl_writer *w;
	int rc = cl_writer_open(&w, path, s, wo, e);
	if (rc)
		return rc;
	if (b)
		rc = cl_writer_write(w, b, e);
	if (!rc)
		rc = cl_writer_close(w, e);
	cl_writer_free(w);
	return rc;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	static char buf[1 << 16];
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	return buf;
}

TEST(csv_write_quoting_and_round_trip)
{
	cl_error e = {0};
	cl_schema *s;
	CHECK_OK(cl_schema_parse(&s, "id int64, s string, d decimal(10,2), ts timestamp(us,utc), b bool", &e), &e);
	cl_batch *b;
	CHECK_OK(cl_batch_create(&b, s, 8, &e), &e);
	const char *strs[] = {"plain", "", NULL, "a,b", "say \"hi\"", "two\nlines",
			      " lead", "trail ", "cr\rx", "\\.", "NA", "\xc3\xa9t\xc3\xa9"};
	int n = (int)(sizeof strs / sizeof strs[0]);
	for (int i = 0; i < n; i++) {
		CHECK_OK(cl_column_append_i64(&b->cols[0], i, &e), &e);
		if (strs[i])
			CHECK_OK(cl_column_append_bytes(&b->cols[1], strs[i], strlen(strs[i]), &e), &e);
		else
			CHECK_OK(cl_column_append_null(&b->cols[1], &e), &e);
		if (i % 3 == 0)
			CHECK_OK(cl_column_append_null(&b->cols[2], &e), &e);
		else
			CHECK_OK(cl__column_append_text(&b->cols[2], "-12.5", 5, &e), &e);
		CHECK_OK(cl__column_append_text(&b->cols[3], "2021-03-04 05:06:07.25Z", 23, &e), &e);
		CHECK_OK(cl_column_append_bool(&b->cols[4], i % 2, &e), &e);
		b->nrows++;
	}
	char path[600];
	snprintf(path, sizeof path, "%s/out.csv", cl_test_tmpdir());
	cl_write_options wo;
	cl_write_options_init(&wo);
	CHECK_OK(write_batch(path, s, b, &wo, &e), &e);
	const char *want =
		"id,s,d,ts,b\n"
		"0,plain,,2021-03-04 05:06:07.25+00,false\n"
		"1,\"\",-12.50,2021-03-04 05:06:07.25+00,true\n"
		"2,,-12.50,2021-03-04 05:06:07.25+00,false\n"
		"3,\"a,b\",,2021-03-04 05:06:07.25+00,true\n"
		"4,\"say \"\"hi\"\"\",-12.50,2021-03-04 05:06:07.25+00,false\n"
		"5,\"two\nlines\",-12.50,2021-03-04 05:06:07.25+00,true\n"
		"6,\" lead\",,2021-03-04 05:06:07.25+00,false\n"
		"7,\"trail \",-12.50,2021-03-04 05:06:07.25+00,true\n"
		"8,\"cr\rx\",-12.50,2021-03-04 05:06:07.25+00,false\n"
		"9,\"\\.\",,2021-03-04 05:06:07.25+00,true\n"
		"10,NA,-12.50,2021-03-04 05:06:07.25+00,false\n"
		"11,\xc3\xa9t\xc3\xa9,-12.50,2021-03-04 05:06:07.25+00,true\n";
	CHECK_STR(slurp(path), want);
	/* read back with the same schema: identical values */
	cl_read_options o;
	csv_opts(&o);
	o.schema = s;
	char *d;
	CHECK_OK(tt_read(path, &o, &d, &e), &e);
	cl_buf expect = {0};
	CHECK_OK(cl_buf_puts(&expect, "id:int64,s:string,d:decimal(10,2),ts:timestamp(us,utc),b:bool\n"), &e);
	CHECK_OK(dump_batch(&expect, b), &e);
	CHECK_STR(d, (const char *)expect.data);
	cl_free(d);
	/* with a NULL marker: NULL is the marker, a string equal to it quoted */
	wo.null_marker = "NA";
	wo.delimiter = ';';
	CHECK_OK(write_batch(path, s, b, &wo, &e), &e);
	const char *out = slurp(path);
	CHECK(strstr(out, "\n2;NA;-12.50;") != NULL);
	CHECK(strstr(out, "\n10;\"NA\";-12.50;") != NULL);
	CHECK(strstr(out, "\n3;a,b;NA;") != NULL);
	o.null_marker = "NA";
	o.delimiter = ';';
	CHECK_OK(tt_read(path, &o, &d, &e), &e);
	CHECK_STR(d, (const char *)expect.data);
	cl_free(d);
	cl_buf_release(&expect);
	/* no header, and a table without rows still gets its header */
	wo.header = false;
	CHECK_OK(write_batch(path, s, b, &wo, &e), &e);
	CHECK(strncmp(slurp(path), "0;plain;NA;", 11) == 0);
	cl_write_options_init(&wo);
	CHECK_OK(write_batch(path, s, NULL, &wo, &e), &e);
	CHECK_STR(slurp(path), "id,s,d,ts,b\n");
	cl_batch_free(b);
	cl_schema_free(s);
}

TEST(csv_write_header_names_quoted)
{
	cl_error e = {0};
	cl_schema *s;
	CHECK_OK(cl_schema_parse(&s, "\"a,b\" int64, \"say \"\"x\"\"\" int64, \" sp\" int64", &e), &e);
	char path[600];
	snprintf(path, sizeof path, "%s/h.csv", cl_test_tmpdir());
	CHECK_OK(write_batch(path, s, NULL, NULL, &e), &e);
	const char *got = slurp(path);
	cl_read_options o;
	csv_opts(&o);
	char *d;
	CHECK_OK(tt_read(path, &o, &d, &e), &e);
	if (strcmp(d, "a,b:string,say \"x\":string, sp:string\n"))
		printf("    file: %s    read: %s", got, d);
	CHECK_STR(d, "a,b:string,say \"x\":string, sp:string\n");
	cl_free(d);
	cl_schema_free(s);
}

TEST(csv_write_alloc_failures)
{
	cl_error e = {0};
	cl_schema *s;
	CHECK_OK(cl_schema_parse(&s, "id int64, s string", &e), &e);
	cl_batch *b;
	CHECK_OK(cl_batch_create(&b, s, 4, &e), &e);
	for (int i = 0; i < 3; i++) {
		CHECK_OK(cl_column_append_i64(&b->cols[0], i, &e), &e);
		CHECK_OK(cl_column_append_bytes(&b->cols[1], "x,y", 3, &e), &e);
		b->nrows++;
	}
	char path[600];
	snprintf(path, sizeof path, "%s/w.csv", cl_test_tmpdir());
	int ok = 0;
	for (long n = 0; n < 500 && !ok; n++) {
		cl_alloc_fail_after(n);
		int rc = write_batch(path, s, b, NULL, &e);
		cl_alloc_fail_after(-1);
		if (rc == 0)
			ok = 1;
		else
			CHECK_EQ_INT(rc, CL_ENOMEM);
	}
	CHECK(ok);
	CHECK_STR(slurp(path), "id,s\n0,\"x,y\"\n1,\"x,y\"\n2,\"x,y\"\n");
	cl_batch_free(b);
	cl_schema_free(s);
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Random batches of every type survive write + read under several
 * delimiters and NULL markers (the writer's quoting is what makes the
 * reader see the same values). */
TEST(csv_write_read_random_round_trip)
{
	static const char *pieces[] = {"a", "Z", " ", ",", ";", "|", "\t", "\"", "\n", "\r",
				       "\r\n", "NA", "\\.", "\\", "\xc3\xa9", "\xf0\x9f\x98\x80", "0"};
	static const struct { char delim; const char *null; } modes[] = {
		{',', NULL}, {'\t', NULL}, {';', "NA"}, {'|', "\\N"}, {',', "0"},
	};
	cl_error e = {0};
	cl_schema *s;
	CHECK_OK(cl_schema_parse(&s, "s string, i int64, u uint32, f float64, g float32, "
				 "d decimal(20,4), day date, t time(us), ts timestamp(ns,utc), "
				 "b bool, bin binary, s2 string", &e), &e);
	uint64_t rng = 0x9e3779b97f4a7c15ull;
#define NEXT() xorshift(&rng)
	char path[600];
	snprintf(path, sizeof path, "%s/rt.csv", cl_test_tmpdir());
	for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
		cl_batch *b;
		CHECK_OK(cl_batch_create(&b, s, 64, &e), &e);
		for (int row = 0; row < 300; row++) {
			for (int c = 0; c < b->ncols; c++) {
				cl_column *col = &b->cols[c];
				if (NEXT() % 7 == 0) {
					CHECK_OK(cl_column_append_null(col, &e), &e);
					continue;
				}
				char txt[128];
				size_t n = 0;
				switch (col->type.id) {
				case CL_STRING: {
					int k = (int)(NEXT() % 6);
					for (int i = 0; i < k; i++) {
						const char *p = pieces[NEXT() % (sizeof pieces / sizeof pieces[0])];
						memcpy(txt + n, p, strlen(p));
						n += strlen(p);
					}
					CHECK_OK(cl_column_append_bytes(col, txt, n, &e), &e);
					continue;
				}
				case CL_INT64:
					CHECK_OK(cl_column_append_i64(col, (int64_t)NEXT(), &e), &e);
					continue;
				case CL_UINT32:
					CHECK_OK(cl_column_append_i64(col, (int64_t)(NEXT() & 0xffffffffu), &e), &e);
					continue;
				case CL_FLOAT64:
				case CL_FLOAT32: {
					double d;
					uint64_t bits = NEXT();
					memcpy(&d, &bits, 8);
					if (d != d)
						d = -0.0;
					CHECK_OK(cl_column_append_f64(col, d, &e), &e);
					continue;
				}
				case CL_DECIMAL:
					n = (size_t)snprintf(txt, sizeof txt, "%lld.%04d",
							     (long long)(NEXT() % 10000000000000000ull) - 5000000000000000ll,
							     (int)(NEXT() % 10000));
					break;
				case CL_DATE:
					CHECK_OK(cl_column_append_i64(col, (int64_t)(NEXT() % 200000) - 100000, &e), &e);
					continue;
				case CL_TIME:
					CHECK_OK(cl_column_append_i64(col, (int64_t)(NEXT() % 86400000000ull), &e), &e);
					continue;
				case CL_TIMESTAMP:
					CHECK_OK(cl_column_append_i64(col, (int64_t)NEXT(), &e), &e);
					continue;
				case CL_BOOL:
					CHECK_OK(cl_column_append_bool(col, NEXT() & 1, &e), &e);
					continue;
				case CL_BINARY: {
					n = NEXT() % 9;
					for (size_t i = 0; i < n; i++)
						txt[i] = (char)NEXT();
					CHECK_OK(cl_column_append_bytes(col, txt, n, &e), &e);
					continue;
				}
				default:
					CHECK(0);
				}
				CHECK_OK(cl__column_append_text(col, txt, n, &e), &e);
			}
			b->nrows++;
		}
		CHECK_OK(cl_batch_validate(b, &e), &e);
		cl_write_options wo;
		cl_write_options_init(&wo);
		wo.delimiter = modes[m].delim;
		wo.null_marker = modes[m].null;
		CHECK_OK(write_batch(path, s, b, &wo, &e), &e);
		cl_read_options o;
		csv_opts(&o);
		o.schema = s;
		o.delimiter = modes[m].delim;
		o.null_marker = modes[m].null;
		o.batch_rows = 37;
		char *d;
		CHECK_OK(tt_read(path, &o, &d, &e), &e);
		cl_buf want = {0};
		cl_buf_puts(&want, "s:string,i:int64,u:uint32,f:float64,g:float32,d:decimal(20,4),"
				   "day:date,t:time(us),ts:timestamp(ns,utc),b:bool,bin:binary,s2:string\n");
		CHECK_OK(dump_batch(&want, b), &e);
		if (strcmp(d, (const char *)want.data))
			printf("    mode %zu differs\n", m);
		CHECK_STR(d, (const char *)want.data);
		cl_free(d);
		cl_buf_release(&want);
		cl_batch_free(b);
	}
#undef NEXT
	cl_schema_free(s);
}
