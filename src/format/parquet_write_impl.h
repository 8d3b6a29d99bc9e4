/*
 * parquet_write_impl.h — shared state of the Parquet writer's modules
 * (internal to parquet_write*.c).
 *
 *   parquet_write.c         lifecycle, row groups, pages, file layout
 *   parquet_write_column.c  cl_column values -> physical values + statistics
 *   parquet_write_meta.c    schema mapping, footer, statistics encoding,
 *                           the public per-file statistics
 *
 * Data flow for one column chunk: rows arrive in slices; each slice is cut
 * into mini-batches whose non-null values are gathered into the writer's
 * scratch buffer in their physical (PLAIN) form while the page statistics
 * are updated. The gathered values go either through the dictionary (the
 * page keeps indices) or straight into the page's PLAIN buffer. A page is
 * encoded, compressed and added to the chunk's list of pages (one exact-size
 * allocation each, so no buffer doubles or moves) when it reaches the page
 * size; the chunk (dictionary page first) goes to the
 * file when the row group is full. So memory holds at most one row group
 * of encoded pages plus one open page per column.
 */
#ifndef CL_FORMAT_PARQUET_WRITE_IMPL_H
#define CL_FORMAT_PARQUET_WRITE_IMPL_H

#include "changelake/parquet_writer.h"
#include "core/value_text.h"
#include "format_impl.h"
#include "parquet_encode.h"
#include "parquet_format.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the Parquet writer assumes a little-endian host (PLAIN is little-endian)"
#endif

/* Rows per mini-batch: the granularity of page-size checks. */
#define PQW_MINI 4096
/* Largest fixed-width physical value (decimal(38) as FIXED_LEN_BYTE_ARRAY). */
#define PQW_MAX_WIDTH 16

/* How statistics compare values. */
typedef enum pqw_kind {
	PQW_NONE = 0, /* no min/max (null type) */
	PQW_BOOL,     /* false < true */
	PQW_INT,      /* signed 64-bit */
	PQW_UINT,     /* unsigned 64-bit */
	PQW_FLOAT,    /* double; NaN never taken */
	PQW_DEC,      /* signed 128-bit */
	PQW_BYTES     /* unsigned byte-wise, shorter prefix first */
} pqw_kind;

typedef union pqw_val {
	int64_t i;
	uint64_t u;
	double f;
	cl_i128 d;
} pqw_val;

/* Null count and min/max of some values of one column. */
typedef struct pqw_stats {
	int64_t nulls;
	int64_t nans;        /* PQW_FLOAT: NaN values seen */
	bool has;            /* min/max hold a value */
	pqw_val min, max;    /* all kinds but PQW_BYTES */
	cl_buf bmin, bmax;   /* PQW_BYTES */
} pqw_stats;

/* How one schema field is stored. */
typedef struct pqw_desc {
	int phys;        /* PQ_BOOLEAN ... PQ_FIXED_LEN_BYTE_ARRAY */
	int width;       /* bytes per PLAIN value; 0 for BYTE_ARRAY and BOOLEAN */
	pqw_kind kind;
	bool optional;
	bool dict_ok;    /* may use dictionary encoding */
	bool stats_ok;   /* min/max may be written to the file */
} pqw_desc;

/* One encoded page: its header and its (compressed) body, back to back. */
typedef struct pqw_page {
	uint8_t *data;
	size_t len;
} pqw_page;

/*
 * Working memory of one encoding thread, reused by every column it
 * encodes: columns are independent, so a slice of rows can be encoded by
 * several threads, each taking whole columns (see pq_write).
 */
typedef struct pqw_scratch {
	uint8_t *gather;         /* physical values of a mini-batch */
	cl__bytes_ref *refs;     /* byte-array values of a mini-batch */
	cl_buf raw, comp, head;  /* a page before/after compression, its header */
} pqw_scratch;

/* A column chunk being built (one per schema field). */
typedef struct pqw_chunk {
	int col;                 /* index in the schema */
	pqw_desc d;
	int64_t mini;            /* rows per mini-batch (page-size check step) */

	/* the open page */
	uint8_t *levels;         /* definition levels (optional columns) */
	size_t levels_cap;
	uint32_t *idx;           /* dictionary indices */
	size_t nidx, idx_cap;
	cl_buf plain;            /* PLAIN values */
	int64_t plain_bits;      /* BOOLEAN: bits used in plain */
	int64_t page_values;     /* levels, nulls included */
	int64_t page_nulls;
	pqw_stats page_stats;

	/* the chunk in the current row group */
	bool use_dict;           /* the open page is dictionary encoded */
	bool fell_back;          /* the dictionary grew too large */
	bool prev_fell_back;     /* ... in the previous row group */
	cl__dict dict;
	pqw_page *pages;         /* encoded data pages: header + body each */
	size_t npages, pages_cap;
	int64_t num_values;
	int64_t uncompressed;    /* of the data pages, headers included */
	int64_t compressed;
	int n_dict_pages;        /* data pages encoded RLE_DICTIONARY */
	int n_plain_pages;       /* data pages encoded PLAIN */
	pqw_stats chunk_stats;

	/* the whole file */
	pqw_stats file_stats;
} pqw_chunk;

typedef struct pqw_writer {
	struct cl_writer *w;
	int ncols;
	pqw_chunk *chunks;
	int64_t pos;             /* bytes written to the file */
	int64_t rows;            /* rows accepted so far */
	int64_t rg_rows;         /* rows in the open row group */
	int nrow_groups;
	bool failed;             /* a write failed half-way: no more writes */
	int64_t *chunk_offsets;  /* 2 * ncols: dictionary and data page offsets */
	cl_buf rg_meta;          /* RowGroup structs written so far (thrift) */

	int nthreads;            /* threads encoding columns (CL_THREADS) */
	pqw_scratch *scratch;    /* one per thread; [0] is the caller's */
	cl_buf tmp;              /* the footer */

	/* public statistics, built on a successful finish */
	bool stats_ready;
	cl_column_stats *cstats;
	cl_batch *smin, *smax;
	int64_t file_bytes;
} pqw_writer;

/* parquet_write_column.c */

/* Storage of a field; CL_EUNSUPPORTED / CL_EINVAL for unusable types. */
int cl__pqw_describe(pqw_desc *d, const cl_field *f, const cl_write_options *o,
		     cl_error *err);
/*
 * Gather the non-null values of rows [off, off + m) of col into
 * sc->gather (fixed width, d.width bytes each) or sc->refs (byte arrays), or
 * for BOOLEAN straight into ch->plain; update ch->page_stats (not its null
 * count). *nvals = values gathered. CL_ETYPE when a value does not fit the
 * physical type (message names row and column; `row0` is the file row of
 * off).
 */
int cl__pqw_gather(pqw_writer *p, pqw_scratch *sc, pqw_chunk *ch, const cl_column *col,
		   int64_t off, int64_t m, int64_t row0, size_t *nvals, cl_error *err);
void cl__pqw_stats_release(pqw_stats *s);
void cl__pqw_stats_reset(pqw_stats *s);
/* Fold src into dst (both of kind k). 0 or CL_ENOMEM. */
int cl__pqw_stats_merge(pqw_stats *dst, const pqw_stats *src, pqw_kind k);

/* parquet_write_meta.c */

/* Append a Statistics struct as field `id` of the struct being written. */
struct cl__tw;
void cl__pqw_write_stats(struct cl__tw *t, int16_t id, const pqw_chunk *ch,
			 const pqw_stats *s, bool legacy);
/* Append the RowGroup struct of the row group just written. */
int cl__pqw_rowgroup_meta(pqw_writer *p, const int64_t *dict_off,
			  const int64_t *data_off, int64_t rg_start, cl_error *err);
/* Append FileMetaData to out. */
int cl__pqw_footer(pqw_writer *p, cl_buf *out, cl_error *err);
/* Build the public statistics from the chunks' file statistics. */
int cl__pqw_build_file_stats(pqw_writer *p, cl_error *err);

/* Error helper: "PATH: column 'C': ..." */
int cl__pqw_col_error(pqw_writer *p, int col, cl_error *err, int code,
		      const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#endif
