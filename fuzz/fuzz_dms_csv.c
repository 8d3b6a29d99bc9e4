/*
 * fuzz_dms_csv.c — libFuzzer target for DMS CSV files as the merge reads
 * them (src/source/dms_read.c over the CSV reader): the header probe
 * (is the first line column names?), header-less files mapped onto the
 * known columns with or without Op and the timestamp column, the
 * delimiter and NULL-value options (DMS csvDelimiter / csvNullValue), and
 * the Op column checks. fuzz_csv covers the CSV reader's own options; this
 * covers what the DMS layer adds.
 *
 * The first input byte picks the options: header (decide / yes / no),
 * delimiter (',' '|' tab ';'), NULL marker (none, "NULL", "\N"), what is
 * known of the table (a schema of several types, column names only, or
 * nothing), a timestamp column or not, and a full-load or a CDC file name.
 * The rest (at most 64 KiB) is the file, written into a temporary folder
 * (removed at exit) and read to the end with cl_dms_reader_next. Checks
 * beyond "no crash":
 *   - an error has a message naming the file;
 *   - every batch is valid, with one column per reader schema field, no
 *     column named Op among the data columns when the file has an Op
 *     column; every op is I, U or D; first_row counts the rows before;
 *   - a header-less file read with a known schema has exactly the
 *     schema's columns and types.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "changelake/dms.h"

static cl_schema *schema;

static void cleanup(void)
{
	cl_schema_free(schema);
}

static void setup(void)
{
	cl_error err = {0};
	fuzz_tmpdir("dmscsv");
	if (cl_schema_parse(&schema, "id int64, name string, amount decimal(10,2), "
				     "ts timestamp(us), ok bool",
			    &err))
		abort();
	atexit(cleanup);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 65537)
		return 0;
	if (!fuzz_root[0])
		setup();
	static const char delims[] = {',', '|', '\t', ';'};
	static const char *const nulls[] = {NULL, "NULL", "\\N", NULL};
	static const char *const names[] = {"id", "name", "amount", "ts", "ok"};
	uint8_t k = data[0];
	cl_dms_read_options o;
	cl_dms_read_options_init(&o);
	o.header = (k & 3) == 0 ? -1 : (k & 3) == 1 ? 1 : (k & 3) == 2 ? 0 : -1;
	o.delimiter = delims[(k >> 2) & 3];
	o.null_marker = nulls[(k >> 4) & 3];
	int known = (k >> 6) % 3; /* 0 schema, 1 names, 2 nothing */
	if (known == 0) {
		o.schema = schema;
	} else if (known == 1) {
		o.columns = names;
		o.ncolumns = 5;
	}
	bool load = (k & 3) == 3;
	if ((k >> 7) & 1)
		o.timestamp_column = "dms_ts";
	o.batch_rows = 3;

	char rel[32], path[128];
	snprintf(rel, sizeof rel, "%s", load ? "LOAD00000001.csv" : "20240102-101010123.csv");
	snprintf(path, sizeof path, "%s/%s", fuzz_root, rel);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || (size > 1 && write(fd, data + 1, size - 1) != (ssize_t)(size - 1)))
		abort();
	close(fd);

	cl_dms_file f = {0};
	f.path = rel;
	cl_dms_name_parse(&f.name, rel);
	if (f.name.kind != (load ? CL_DMS_LOAD : CL_DMS_CDC))
		abort();

	cl_error err = {0};
	cl_dms_reader *r = NULL;
	int rc = cl_dms_reader_open(&r, fuzz_root, &f, &o, &err);
	if (rc) {
		if (rc != CL_ENOMEM && !strstr(err.message, rel)) {
			fprintf(stderr, "error does not name the file: %s\n", err.message);
			abort();
		}
		return 0;
	}
	const cl_schema *rs = cl_dms_reader_schema(r);
	bool has_op = cl_dms_reader_has_op(r);
	for (int i = 0; has_op && i < rs->nfields; i++)
		if (!strcmp(rs->fields[i].name, "Op"))
			abort();
	if (o.header == 0 && known == 0) {
		/* [timestamp column,] then the schema's columns, typed */
		int extra = rs->nfields - schema->nfields;
		if (extra < 0 || extra > 1 || (extra && strcmp(rs->fields[0].name, "dms_ts")))
			abort();
		for (int i = 0; i < schema->nfields; i++)
			if (strcmp(rs->fields[extra + i].name, schema->fields[i].name) ||
			    !cl_type_equal(rs->fields[extra + i].type, schema->fields[i].type))
				abort();
	}
	int64_t rows = 0;
	for (;;) {
		cl_dms_changes ch;
		if ((rc = cl_dms_reader_next(r, &ch, &err))) {
			if (rc != CL_ENOMEM && !strstr(err.message, rel)) {
				fprintf(stderr, "error does not name the file: %s\n", err.message);
				abort();
			}
			break;
		}
		if (ch.first_row != rows)
			abort();
		if (ch.nrows == 0)
			break;
		if (!ch.batch || ch.batch->nrows != ch.nrows || ch.batch->ncols != rs->nfields ||
		    cl_batch_validate(ch.batch, &err))
			abort();
		for (int64_t i = 0; i < ch.nrows; i++)
			if (ch.ops[i] != 'I' && ch.ops[i] != 'U' && ch.ops[i] != 'D')
				abort();
		for (int c = 0; c < ch.batch->ncols; c++)
			if (!cl_type_equal(ch.batch->cols[c].type, rs->fields[c].type))
				abort();
		rows += ch.nrows;
	}
	cl_dms_reader_free(r);
	return 0;
}
