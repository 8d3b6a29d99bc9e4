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
	void *impl;
};

/* Each format's open: r / w are allocated and path/format/out set. */
int cl__csv_reader_open(struct cl_reader *r, const cl_read_options *o, cl_error *err);
int cl__jsonl_reader_open(struct cl_reader *r, const cl_read_options *o, cl_error *err);
int cl__parquet_reader_open(struct cl_reader *r, const cl_read_options *o, cl_error *err);
int cl__csv_writer_open(struct cl_writer *w, cl_error *err);
int cl__jsonl_writer_open(struct cl_writer *w, cl_error *err);
int cl__parquet_writer_open(struct cl_writer *w, cl_error *err);

#endif
