/*
 * fuzz_parquet.c — libFuzzer target over the whole Parquet read path:
 * footer, schema mapping, page headers, every decoder and codec, statistics
 * and row-group pruning. The input is written to a temporary file (the
 * reader preads byte ranges of a file), then every supported column of
 * every row group is read in small batches (nested columns as JSON, and a
 * projection of the flat ones, also pruned by their page index), and the
 * metadata API is walked.
 */
#include "changelake.h"
#include "changelake/parquet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char path[64];

static void read_all(const char *p, const char *const *cols, int ncols)
{
	cl_read_options o;
	cl_read_options_init(&o);
	o.batch_rows = 100;
	o.columns = cols;
	o.ncolumns = ncols;
	cl_error err = {0};
	cl_reader *r = NULL;
	if (cl_reader_open(&r, p, &o, &err) == 0) {
		cl_batch *b;
		long n = 0;
		while (cl_reader_next(r, &b, &err) == 0 && b) {
			if (cl_batch_validate(b, &err) != 0)
				abort(); /* the reader built an invalid batch */
			if (++n > 100000)
				break;
		}
	}
	cl_reader_free(r);
}

/* Row-group and page-index pruning with a predicate on a flat column. */
static void read_pruned(const char *p, const char *col)
{
	cl_read_options o;
	cl_read_options_init(&o);
	o.batch_rows = 100;
	cl_parquet_predicate pr[2] = {{col, CL_PQ_GE, "1"}, {col, CL_PQ_NOT_NULL, NULL}};
	cl_parquet_read_options po = {NULL, 0, pr, 2, true};
	cl_error err = {0};
	cl_reader *r = NULL;
	if (cl_parquet_reader_open(&r, p, &o, &po, &err) == 0) {
		cl_batch *b;
		long n = 0;
		while (cl_reader_next(r, &b, &err) == 0 && b) {
			if (cl_batch_validate(b, &err) != 0)
				abort();
			if (++n > 100000)
				break;
		}
	}
	cl_reader_free(r);
}

static void remove_tmp(void)
{
	unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!path[0]) {
		snprintf(path, sizeof path, "/tmp/fuzz_parquet_%d.parquet", (int)getpid());
		atexit(remove_tmp);
	}
	FILE *f = fopen(path, "wb");
	if (!f)
		return 0;
	fwrite(data, 1, size, f);
	fclose(f);

	cl_error err = {0};
	cl_parquet_file *pf = NULL;
	const char *flat[64];
	int nflat = 0;
	if (cl_parquet_file_open(&pf, path, &err) == 0) {
		int nc = cl_parquet_file_num_columns(pf);
		for (int c = 0; c < nc; c++) {
			cl_parquet_column col;
			cl_parquet_file_column(pf, c, &col);
			if (col.supported && !col.nested && nflat < 64)
				flat[nflat++] = col.path;
		}
		for (int g = 0; g < cl_parquet_file_num_row_groups(pf) && g < 64; g++) {
			for (int c = 0; c < nc && c < 64; c++) {
				cl_parquet_chunk ch;
				cl_parquet_file_chunk(pf, g, c, &ch, &err);
			}
			if (nflat) {
				cl_parquet_predicate pr[2] = {{flat[0], CL_PQ_EQ, "1"},
							      {flat[0], CL_PQ_IS_NULL, NULL}};
				bool may;
				cl_parquet_file_row_group_may_match(pf, g, pr, 2, &may, &err);
			}
		}
		read_all(path, NULL, 0);
		if (nflat) {
			read_all(path, flat, nflat);
			read_pruned(path, flat[0]);
		}
	}
	cl_parquet_file_free(pf);
	return 0;
}
