/*
 * test_jsonl.c — the JSON Lines reader (format/jsonl_read.c): columns from
 * keys, value conversions, declared schemas, bad input, allocation failures.
 * Uses tt_file / tt_read from test_csv.c.
 */
#include "test.h"

#include "changelake.h"
#include "core/buf.h"

const char *tt_file(const char *name, const char *content, size_t len);
int tt_read(const char *path, const cl_read_options *o, char **dump, cl_error *e);

#define JL_EXPECT(name, text, opts, want)                                       \
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

/* "@" in msg stands for the file's path. */
#define JL_ERROR(name, text, opts, rc, msg)                                     \
	do {                                                                    \
		cl_error e_ = {0};                                              \
		char *d_ = NULL;                                                \
		const char *p_ = tt_file(name, text, sizeof(text) - 1);         \
		int rc_ = tt_read(p_, opts, &d_, &e_);                          \
		cl_free(d_);                                                    \
		char want_[1200];                                               \
		const char *at_ = strchr(msg, '@');                             \
		snprintf(want_, sizeof want_, "%.*s%s%s", (int)(at_ - (msg)), msg, p_, \
			 at_ + 1);                                              \
		CHECK_EQ_INT(rc_, rc);                                          \
		CHECK_STR(e_.message, want_);                                   \
	} while (0)

static void jl_opts(cl_read_options *o)
{
	cl_read_options_init(o);
	o->format = CL_FORMAT_JSONL;
}

TEST(jsonl_union_of_keys_and_inference)
{
	cl_read_options o;
	jl_opts(&o);
	JL_EXPECT("a.jsonl",
		  "{\"id\": 1, \"name\": \"a\", \"price\": 1.5, \"ok\": true}\n"
		  "\n"
		  "{\"name\": \"b\", \"id\": 2, \"day\": \"2020-01-02\", \"ts\": \"2020-01-01T10:00:00Z\"}\r\n"
		  "  {\"id\": 12345678901234567890, \"price\": 2.25, \"ok\": null, \"f\": 1e3}  \n",
		  &o,
		  "id:decimal(38,0),name:string,price:decimal(18,2),ok:bool,day:date,ts:timestamp(us,utc),f:float64\n"
		  "1|a|1.50|true|\\N|\\N|\\N\n"
		  "2|b|\\N|\\N|2020-01-02|2020-01-01 10:00:00+00|\\N\n"
		  "12345678901234567890|\\N|2.25|\\N|\\N|\\N|1000\n");
}

TEST(jsonl_nested_values_are_json_text)
{
	cl_read_options o;
	jl_opts(&o);
	JL_EXPECT("n.jsonl",
		  "{\"a\": {\"x\": [1, 2], \"y\": \"s\"}, \"b\": [true, null], \"c\": \"\\u00e9\\n\"}\n"
		  "{\"a\": 5, \"b\": \"plain\"}\n",
		  &o,
		  "a:string,b:string,c:string\n"
		  "{\"x\": [1, 2], \"y\": \"s\"}|[true, null]|\xc3\xa9\n\n"
		  "5|plain|\\N\n");
	/* JSON strings never become numbers */
	JL_EXPECT("s.jsonl", "{\"z\": \"007\"}\n{\"z\": \"12\"}\n", &o, "z:string\n007\n12\n");
	o.all_strings = true;
	JL_EXPECT("as.jsonl", "{\"a\": 1.50, \"b\": false}\n", &o, "a:string,b:string\n1.50|false\n");
}

TEST(jsonl_declared_schema)
{
	cl_read_options o;
	jl_opts(&o);
	cl_error e = {0};
	cl_schema *s;
	CHECK_OK(cl_schema_parse(&s, "id int64 not null, amount decimal(10,2), note string, at timestamp(ms), flag bool", &e), &e);
	o.schema = s;
	/* "12" into int64 is accepted; a number into a string keeps its text;
	 * true into a string becomes "true"; missing keys are NULL */
	JL_EXPECT("d.jsonl",
		  "{\"id\": \"12\", \"amount\": 3.5, \"note\": 1.50, \"flag\": true}\n"
		  "{\"id\": 7, \"note\": true, \"at\": \"2020-01-01 10:00:00.123\", \"amount\": \"-1\"}\n",
		  &o,
		  "id:int64!,amount:decimal(10,2),note:string,at:timestamp(ms),flag:bool\n"
		  "12|3.50|1.50|\\N|true\n"
		  "7|-1.00|true|2020-01-01 10:00:00.123|\\N\n");
	JL_ERROR("d2.jsonl", "{\"id\": 1}\n{\"id\": 2, \"other\": 5}\n", &o, CL_ESCHEMA,
		 "@: line 2: key 'other' is not a column of the schema");
	JL_ERROR("d3.jsonl", "{\"id\": 1}\n{\"id\": \"x\"}\n", &o, CL_ETYPE,
		 "@: line 2, key 'id': value 'x' is not a valid int64");
	JL_ERROR("d4.jsonl", "{\"id\": 1, \"flag\": 3}\n", &o, CL_ETYPE,
		 "@: line 1, key 'flag': value '3' is not a valid bool");
	JL_ERROR("d5.jsonl", "{\"id\": 1, \"amount\": true}\n", &o, CL_ETYPE,
		 "@: line 1, key 'amount': true is not a valid decimal(10,2)");
	JL_ERROR("d6.jsonl", "{\"id\": 1, \"amount\": [1]}\n", &o, CL_ETYPE,
		 "@: line 1, key 'amount': a JSON array is not a valid decimal(10,2)");
	JL_ERROR("d7.jsonl", "{\"amount\": 1}\n", &o, CL_ETYPE,
		 "@: line 1, key 'id': missing, but the column is NOT NULL");
	JL_ERROR("d8.jsonl", "{\"id\": null}\n", &o, CL_ETYPE,
		 "@: line 1, key 'id': null in a NOT NULL column");
	JL_ERROR("d9.jsonl", "{\"id\": 1, \"amount\": 1.234}\n", &o, CL_ETYPE,
		 "@: line 1, key 'amount': value '1.234' is out of range for decimal(10,2)");
	/* an empty file with a schema is zero rows */
	JL_EXPECT("e.jsonl", "", &o, "id:int64!,amount:decimal(10,2),note:string,at:timestamp(ms),flag:bool\n");
	cl_schema_free(s);
}

TEST(jsonl_bad_input_errors)
{
	cl_read_options o;
	jl_opts(&o);
	JL_ERROR("empty.jsonl", "", &o, CL_EFORMAT,
		 "@: empty file, no JSON objects to take the columns from");
	JL_ERROR("blank.jsonl", "\n  \n", &o, CL_EFORMAT,
		 "@: empty file, no JSON objects to take the columns from");
	JL_ERROR("nokeys.jsonl", "{}\n{}\n", &o, CL_EFORMAT,
		 "@: no keys in the first 2 objects, so no columns");
	JL_ERROR("syn.jsonl", "{\"a\": 1}\n{\"a\": 1,}\n", &o, CL_EFORMAT,
		 "@: line 2, byte 9: unexpected '}', expected a string key in object");
	JL_ERROR("arr.jsonl", "[{\"a\": 1}, {\"a\": 2}]\n", &o, CL_EFORMAT,
		 "@: line 1: expected a JSON object, found an array (a JSON array file is not JSON Lines, which has one object per line)");
	JL_ERROR("num.jsonl", "{\"a\": 1}\n42\n", &o, CL_EFORMAT,
		 "@: line 2: expected a JSON object, found a number");
	JL_ERROR("pretty.jsonl", "{\n  \"a\": 1\n}\n", &o, CL_EFORMAT,
		 "@: line 1, byte 2: unexpected end of text, expected a string key in object (JSON Lines needs each object on one line)");
	JL_ERROR("dup.jsonl", "{\"a\": 1, \"a\": 2}\n", &o, CL_EFORMAT,
		 "@: line 1: key 'a' appears twice");
	JL_ERROR("utf.jsonl", "{\"a\": \"ok\"}\n{\"a\": \"b\xff\"}\n", &o, CL_EFORMAT,
		 "@: line 2, byte 9: invalid UTF-8 in string");
	JL_ERROR("bin.jsonl", "{\"a\":\0\0\0}\n", &o, CL_EFORMAT,
		 "@: line 1, byte 6: NUL byte (not a text file?), expected a value");
	JL_ERROR("csv.jsonl", "a,b\n1,2\n", &o, CL_EFORMAT,
		 "@: line 1, byte 1: unexpected 'a', expected a value");
	o.max_line_bytes = 10;
	JL_ERROR("long.jsonl", "{\"a\": 1}\n{\"a\": 123456789}\n", &o, CL_EFORMAT,
		 "@: line 2: longer than 10 bytes");
	jl_opts(&o);
	/* after the sample: a new key, a value of another type */
	o.sample_rows = 1;
	JL_ERROR("late.jsonl", "{\"a\": 1}\n{\"a\": 2, \"b\": 3}\n", &o, CL_ESCHEMA,
		 "@: line 2: key 'b' is not a column (the columns were taken from the first 1 lines; declare them with --schema, or read the whole file first with --sample-rows 0)");
	JL_ERROR("late2.jsonl", "{\"a\": 1}\n\n{\"a\": 2.5}\n", &o, CL_ETYPE,
		 "@: line 3, key 'a': value '2.5' is not a valid int64 (the column's type was inferred from the first 1 lines; declare it with --schema, or infer from the whole file with --sample-rows 0)");
	o.sample_rows = 0;
	JL_EXPECT("late3.jsonl", "{\"a\": 1}\n\n{\"a\": 2.5, \"b\": 3}\n", &o,
		  "a:decimal(18,1),b:int64\n1.0|\\N\n2.5|3\n");
	JL_EXPECT("late4.jsonl.gz", "{\"a\": 1}\n{\"a\": 2.5, \"b\": 3}", &o,
		  "a:decimal(18,1),b:int64\n1.0|\\N\n2.5|3\n");
}

TEST(jsonl_many_rows_small_batches)
{
	cl_buf text = {0};
	cl_error e = {0};
	int rows = 50000;
	for (int i = 0; i < rows; i++)
		CHECK_OK(cl_buf_printf(&text, "{\"i\": %d, \"s\": \"v%d\\t\", \"o\": {\"k\": %d}}\n",
				       i, i, i % 7), &e);
	const char *path = tt_file("big.jsonl", (const char *)text.data, text.len);
	cl_read_options o;
	jl_opts(&o);
	o.batch_rows = 1000;
	o.sample_rows = 10;
	cl_reader *r;
	CHECK_OK(cl_reader_open(&r, path, &o, &e), &e);
	int64_t seen = 0;
	for (;;) {
		cl_batch *b;
		CHECK_OK(cl_reader_next(r, &b, &e), &e);
		if (!b)
			break;
		for (int64_t k = 0; k < b->nrows; k++, seen++) {
			CHECK_EQ_INT(cl_column_get_i64(&b->cols[0], k), seen);
			size_t n;
			const uint8_t *s = cl_column_get_bytes(&b->cols[2], k, &n);
			char want[32];
			snprintf(want, sizeof want, "{\"k\": %d}", (int)(seen % 7));
			CHECK_EQ_INT(n, strlen(want));
			CHECK(memcmp(s, want, n) == 0);
		}
	}
	CHECK_EQ_INT(seen, rows);
	cl_reader_free(r);
	cl_buf_release(&text);
}

TEST(jsonl_alloc_failures)
{
	const char *text = "{\"id\": 1, \"s\": \"a\\u00e9\", \"o\": [1, {\"x\": 2}]}\n"
			   "{\"id\": 2, \"n\": null, \"d\": \"2020-01-01\"}\n"
			   "{\"id\": 3, \"s\": \"c\"}\n";
	const char *path = tt_file("f.jsonl", text, strlen(text));
	int ok = 0;
	for (long n = 0; n < 2000 && !ok; n++) {
		cl_read_options o;
		jl_opts(&o);
		o.batch_rows = 2;
		cl_error e = {0};
		char *d = NULL;
		cl_alloc_fail_after(n);
		int rc = tt_read(path, &o, &d, &e);
		cl_alloc_fail_after(-1);
		if (rc == 0) {
			CHECK_STR(d, "id:int64,s:string,o:string,n:string,d:date\n"
				     "1|a\xc3\xa9|[1, {\"x\": 2}]|\\N|\\N\n"
				     "2|\\N|\\N|\\N|2020-01-01\n"
				     "3|c|\\N|\\N|\\N\n");
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
