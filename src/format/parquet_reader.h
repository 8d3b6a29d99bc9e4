/*
 * parquet_reader.h — the Parquet cl_reader's state, shared by the reader
 * (parquet_read.c) and its multi-threaded pipeline (parquet_read_mt.c).
 * Internal to the Parquet reader.
 *
 * A cl__pq_dec is one decoding context: a cl__pq_col per leaf read and the
 * level streams of JSON columns. One thread uses one context at a time;
 * the single-threaded reader has one, each pipeline worker its own. All
 * contexts read the same cl_parquet_file, whose footer and plan are
 * read-only while reading (column data is read with pread).
 */
#ifndef CL_FORMAT_PARQUET_READER_H
#define CL_FORMAT_PARQUET_READER_H

#include "format_impl.h"
#include "parquet_meta.h"

/* One output column of the reader. */
typedef struct cl__pq_out {
	const cl__pq_outcol *oc;
	int pcol;             /* its first leaf reader in a cl__pq_dec */
} cl__pq_out;

typedef struct cl__pq_dec {
	cl__pq_col *pcols;    /* npcols */
	cl__pq_levels *lv;    /* npcols; used for the leaves of JSON columns */
	cl_buf json;          /* JSON text of one value */
	cl_buf stage;         /* large compressed pages (cl__pq_col.stage) */
	int rg;               /* row group being read, -1 none */
	/* rows of the row group to read (cl__pq_dec_next) */
	const cl__pq_range *ranges;
	int nranges, ri;      /* ri: current range */
	cl__pq_range whole;   /* the one range without a page index */
	int64_t cur, rg_rows; /* next row; rows in the row group */
	bool done;            /* finished (checked) */
} cl__pq_dec;

typedef struct cl__pq_mt cl__pq_mt;

typedef struct cl__pq_reader {
	cl_parquet_file *f;
	bool own_file;
	const cl_schema *schema; /* the cl_reader's */
	int ncols;           /* output columns */
	cl__pq_out *out;
	int npcols;          /* leaf readers per context */
	int *leaf;           /* leaf index per leaf reader */
	int *rgs;            /* selected row groups */
	int nrgs;
	cl__pq_range **ranges; /* per selected row group: rows to read (page
				 index), or NULL: all rows */
	int *nranges;
	int64_t batch_rows;
	int nthreads;        /* asked for; the pipeline runs when > 1 */
	/* single-threaded reading */
	cl__pq_dec dec;
	int rg_pos;          /* index into rgs of the current row group; -1 none */
	cl_batch *batch;
	/* multi-threaded reading (parquet_read_mt.c), NULL until started */
	cl__pq_mt *mt;
} cl__pq_reader;

/* Set up / free a decoding context for p's projection. */
int cl__pq_dec_init(const cl__pq_reader *p, cl__pq_dec *d, cl_error *err);
void cl__pq_dec_release(const cl__pq_reader *p, cl__pq_dec *d);
/* Start decoding the column chunks of selected row group p->rgs[pos]. */
int cl__pq_dec_start(const cl__pq_reader *p, cl__pq_dec *d, int pos, cl_error *err);
/*
 * The next batch of the row group's rows to read into b (cleared first),
 * skipping rows outside its ranges; *n = 0 when the row group is done (its
 * chunks then checked to hold nothing more).
 */
int cl__pq_dec_next(const cl__pq_reader *p, cl__pq_dec *d, cl_batch *b, int64_t *n,
		    cl_error *err);

/*
 * The pipeline: worker k of N decodes row groups k, k+N, k+2N, ... (of
 * p->rgs) into a small ring of batches of its own; cl__pq_mt_next hands
 * the batches out in file order, so the result (rows, order, and the first
 * error in file order) is the same as with one thread.
 */
int cl__pq_mt_next(cl__pq_reader *p, cl_batch **out, cl_error *err);
void cl__pq_mt_free(cl__pq_reader *p);

#endif
