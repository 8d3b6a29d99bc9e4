/*
 * format_impl.h — how a file format plugs into cl_reader / cl_writer
 * (internal to the format layer).
 *
 * io.c owns the generic objects: it detects the format, allocates the
 * cl_reader / cl_writer, and for writers creates a temporary file next to
 * the destination that becomes the destination only on a successful close
 * (so no reader ever sees a half-written file, and an abandoned writer
 * leaves nothing behind). A format fills in ops, schema and impl.
 */
#ifndef CL_FORMAT_IMPL_H
#define CL_FORMAT_IMPL_H

#include <stdio.h>

#include "changelake/io.h"

struct cl_reader;
struct cl_writer;

typedef struct cl__reader_ops {
	/* Next batch (borrowed) or *out = NULL at the end. */
	int (*next)(struct cl_reader *r, cl_batch **out, cl_error *err);
	/* Free impl and everything it owns (not the schema or r). */
	void (*free)(struct cl_reader *r);
} cl__reader_ops;

struct cl_reader {
	const cl__reader_ops *ops;
	cl_format format;
	char *path;          /* as given, for messages; owned */
	cl_schema *schema;   /* owned; set by the format's open */
	int64_t rows;        /* rows returned so far (maintained by io.c) */
	int64_t total_rows;  /* -1 unless known */
	void *impl;
};

typedef struct cl__writer_ops {
	int (*write)(struct cl_writer *w, const cl_batch *b, cl_error *err);
	/* Finish the file's content (footer, flush); io.c then publishes it. */
	int (*finish)(struct cl_writer *w, cl_error *err);
	/* Free impl (not the FILE, schema or w). */
	void (*free)(struct cl_writer *w);
} cl__writer_ops;

struct cl_writer {
	const cl__writer_ops *ops;
	cl_format format;
	char *path;        /* destination; owned */
	char *tmp_path;    /* temporary file being written, or NULL for stdout */
	FILE *out;         /* owned by io.c */
	cl_schema *schema; /* owned copy */
	cl_write_options opts;
	bool closed;
	int64_t kicked;    /* file bytes at the last writeback kick (io.c) */
	void *impl;
};

/* Each format's open: r / w are allocated and path/format/out set. */
int cl__csv_reader_open(struct cl_reader *r, const cl_read_options *o, cl_error *err);
int cl__jsonl_reader_open(struct cl_reader *r, const cl_read_options *o, cl_error *err);
int cl__parquet_reader_open(struct cl_reader *r, const cl_read_options *o, cl_error *err);
int cl__csv_writer_open(struct cl_writer *w, cl_error *err);
int cl__jsonl_writer_open(struct cl_writer *w, cl_error *err);
int cl__parquet_writer_open(struct cl_writer *w, cl_error *err);

/* For the lake table's copy-on-write rewrite (parquet_write.c). */
/*
 * Write runs of rows of b to Parquet writer w: runs[2i] is a run's first
 * row, runs[2i + 1] its row count; runs ascending and not overlapping. The
 * file is as if those rows had been written as one batch (page and row
 * group boundaries may fall elsewhere). For a copy-on-write rewrite, whose
 * surviving rows are long runs of a scanned batch (no copy into a batch
 * of their own). CL_EINTERNAL when w is not a Parquet writer.
 */
int cl__parquet_writer_write_runs(struct cl_writer *w, const cl_batch *b, const int64_t *runs,
				  int64_t nruns, cl_error *err);
/* Start writing back what a file being published has grown by (io.c;
 * called after each write). */
void cl__writer_kick(struct cl_writer *w);

/*
 * Dictionary decisions carried from one file to the next (a chunk that
 * fell back to PLAIN makes the next one start PLAIN, as from one row group
 * to the next within a file): fell_back sets plain[f] for each of the
 * first n fields whose chunk in the open row group fell back or started
 * PLAIN because the one before it had (typed fields only; call before the
 * writer is closed); start_plain makes the chunks of the fields with
 * plain[f] start PLAIN, as if the row group before had fallen back (before
 * any row is written; else nothing). Copy-on-write rewrites a table's
 * files one after another, and each new writer paid again for probing its
 * high-cardinality columns; carried this way, only the first file of a
 * commit probes them.
 */
void cl__parquet_writer_fell_back(const struct cl_writer *w, bool *plain, int n);
void cl__parquet_writer_start_plain(struct cl_writer *w, const bool *plain, int n);

#endif
