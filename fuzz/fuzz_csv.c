/*
 * fuzz_csv.c — libFuzzer target for the CSV reader.
 *
 * The input is one CSV file (placed in a memfd, read through its
 * /proc/self/fd path, so the real file path of cl_reader is exercised,
 * refills and reopening included). It is read to the end several ways:
 * header + inference, inference over the whole file (read twice), no
 * header, all strings with a NULL marker and ';', and a declared schema of
 * every kind of type. Every batch is checked against the batch invariants.
 * Errors are fine; crashes, leaks, UB and invariant breaks are not.
 */
#include "fuzz_util.h"
#include "changelake.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

static void read_all(const char *path, const cl_read_options *o)
{
	cl_reader *r = NULL;
	cl_error e = {0};
	if (cl_reader_open(&r, path, o, &e) == 0) {
		for (;;) {
			cl_batch *b = NULL;
			if (cl_reader_next(r, &b, &e) || !b)
				break;
			if (cl_batch_validate(b, &e)) {
				fprintf(stderr, "invalid batch: %s\n", e.message);
				abort();
			}
			if (b->ncols != cl_reader_schema(r)->nfields)
				abort();
		}
	}
	cl_reader_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static cl_schema *decl;
	if (!decl) {
		cl_error e = {0};
		if (cl_schema_parse(&decl, "a int64, b string, c date, d decimal(10,2), "
				    "e timestamp(us,utc), f float64, g bool, h binary", &e))
			abort();
	}
	char path[64];
	int fd = fuzz_memfile("fuzz.csv", data, size, path, sizeof path);
	if (fd < 0)
		return 0;

	cl_read_options o;
	cl_read_options_init(&o);
	o.format = CL_FORMAT_CSV;
	o.batch_rows = 3;
	o.sample_rows = 5;
	o.max_line_bytes = 1 << 16;
	read_all(path, &o);

	o.sample_rows = 0;
	read_all(path, &o);

	o.header = 0;
	o.sample_rows = 10000;
	read_all(path, &o);

	o.all_strings = true;
	o.null_marker = "NA";
	o.delimiter = ';';
	o.header = 1;
	read_all(path, &o);

	cl_read_options_init(&o);
	o.format = CL_FORMAT_CSV;
	o.header = 0;
	o.schema = decl;
	o.batch_rows = 2;
	read_all(path, &o);

	close(fd);
	return 0;
}
