/*
 * parquet_write_impl.h — shared state of the Parquet writer's modules
 * (internal to parquet_write*.c).
 *
 *   parquet_write.c         lifecycle, row groups, pages, file layout
 *   parquet_write_column.c  cl_column values -> physical values + statistics
 *   parquet_write_meta.c    schema mapping, footer, statistics encoding,
 *                           the public per-file statistics
 *   parquet_write_nested.c  the schema tree (struct groups from dotted
 *                           names, LIST/MAP subtrees from nested types),
 *                           struct presence and JSON shredding into levels
 *
 * Columns and leaves: a schema field is either one leaf (a typed column,
 * perhaps inside struct groups) or a JSON column whose nested type has
 * several leaves. Each leaf has its own column chunk (pqw_chunk) in the
 * depth-first order of the schema tree, which is the file's column order.
 * A chunk carries definition levels when its max_def > 0 and repetition
 * levels when its max_rep > 0; a page only ever ends at a row boundary
 * (repetition level 0 next), as data page v2 requires.
 *
 * Data flow for one column chunk: rows arrive in slices; each slice is cut
 * into mini-batches whose non-null values are gathered into the writer's
 * scratch buffer in their physical (PLAIN) form while the page statistics
 * are updated. The gathered values go either through the dictionary (the
 * page keeps indices) or straight into the page's PLAIN buffer. A page is
 * encoded, compressed and added to the chunk's list of pages (one
 * allocation each, so no buffer doubles or moves) when it reaches the page
 * size; the chunk (dictionary page first) goes to the file when the row
 * group is full. So memory holds at most one row group of encoded pages
 * plus one open page per column. Encoded pages, the open page's buffers
 * (PLAIN values, levels, indices), the dictionary tables and the
 * compression scratch come from the buffer pool of parquet_encode.h and go
 * back to it, so a writer opened after a finished one (copy-on-write opens
 * one per rewritten file) reuses its memory instead of faulting in fresh
 * pages.
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

/* Node kinds of the schema tree. */
enum { PQW_N_PRIM, PQW_N_STRUCT, PQW_N_LIST, PQW_N_MAP };

/*
 * One element of the file's schema tree, in depth-first order (the
 * footer's order): node 0 is the root, a node's subtree is [i, end).
 */
typedef struct pqw_node {
	char *name;        /* element name (owned) */
	int kind;          /* PQW_N_*; LIST and MAP carry the annotation */
	int repetition;    /* PQ_REQUIRED, PQ_OPTIONAL, PQ_REPEATED */
	int nchildren;
	int parent;        /* -1 for the root */
	int end;           /* index past the subtree */
	int def, rep;      /* max levels at this node, inclusive */
	int field;         /* schema field of a leaf or JSON subtree, else -1 */
	int leaf;          /* chunk index of a primitive, else -1 */
	cl_type type;      /* primitives */
} pqw_node;

struct pqw_shred;

/* How one schema field is laid out in the tree. */
typedef struct pqw_field {
	int node;          /* its node: a primitive, or a LIST/MAP group */
	int first_chunk, nchunks;
	int *anc;          /* optional struct groups around it (indices into
			      pqw_writer.groups), outermost first; owned */
	int nanc;
	bool json;         /* a JSON column (nested type) */
	struct pqw_shred *sh; /* JSON columns: the shredder (owned) */
	int64_t nulls;     /* JSON columns: NULL rows so far */
} pqw_field;

/* One encoded page: its header and its (compressed) body, back to back
 * (the body compressed in place, the header written in front of it). */
typedef struct pqw_page {
	uint8_t *data;     /* the buffer (from the buffer pool, given back) */
	size_t off, len;   /* the page: data[off, off + len) */
	size_t cap;        /* of data */
} pqw_page;

/*
 * Working memory of one encoding thread, reused by every column it
 * encodes: columns are independent, so a slice of rows can be encoded by
 * several threads, each taking whole columns (see pq_write).
 */
typedef struct pqw_scratch {
	uint8_t *gather;         /* physical values of a mini-batch */
	uint8_t *lv;             /* definition levels of a mini-batch */
	cl__bytes_ref *refs;     /* byte-array values of a mini-batch */
	cl_buf raw, comp, head;  /* a page before/after compression, its header */
} pqw_scratch;

/* A column chunk being built (one per schema field). */
typedef struct pqw_chunk {
	int col;                 /* index of its field in the schema */
	int node;                /* its leaf node */
	int max_def, max_rep;
	pqw_desc d;
	int64_t mini;            /* rows per mini-batch (page-size check step) */

	/* the open page */
	uint8_t *levels;         /* definition levels (max_def > 0) */
	size_t levels_cap;
	uint8_t *rlevels;        /* repetition levels (max_rep > 0) */
	size_t rlevels_cap;      /* (capacities in elements, as grow_array's) */
	int64_t page_rows;       /* rows started in the page */
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
	int ncols;               /* column chunks (leaves) */
	pqw_chunk *chunks;
	int nfields;             /* schema fields */
	pqw_field *fields;
	pqw_node *nodes;         /* the schema tree */
	int nnodes;
	int *groups;             /* optional struct groups from dotted names */
	int ngroups;
	uint8_t *present;        /* ngroups x PQW_SLICE_ROWS: group present in
				    row i of the slice being encoded */
	int64_t slice_off;       /* batch row of the slice's first row */
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

/* parquet_write.c */


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

/* parquet_write_nested.c */

/* Rows given to every column before the row-group byte size is checked. */
#define PQW_SLICE_ROWS 65536

/* Build p->nodes, p->fields, p->groups from the schema and options. */
int cl__pqw_tree_build(pqw_writer *p, cl_error *err);
void cl__pqw_tree_release(pqw_writer *p);
/* The shredders of the JSON columns (once p->chunks exist). */
int cl__pqw_shredders(pqw_writer *p, cl_error *err);
/* Fill p->present for batch rows [off, off + n) (n <= PQW_SLICE_ROWS). */
void cl__pqw_presence(pqw_writer *p, const cl_batch *b, int64_t off, int64_t n);
/* Definition level of a NULL in row i of the slice for a field inside
 * struct groups: the number of its optional groups present. */
static inline uint8_t cl__pqw_parent_def(const pqw_writer *p, const pqw_field *f,
					  int64_t i)
{
	int d = 0;
	for (int k = 0; k < f->nanc; k++)
		d += p->present[(size_t)f->anc[k] * PQW_SLICE_ROWS + (size_t)i];
	return (uint8_t)d;
}
/*
 * Shred rows [off, off + n) of JSON column `col` (field f) into the level
 * streams and values of its leaves and append them to their chunks
 * (through append, which gets the chunk, the values column, the entries'
 * levels and the number of entries). Errors name row and column.
 */
typedef int (*pqw_append_fn)(pqw_writer *p, pqw_scratch *sc, pqw_chunk *ch,
			     const cl_column *vals, int64_t n, const uint8_t *def,
			     const uint8_t *rep, int64_t row0, cl_error *err);
int cl__pqw_shred(pqw_writer *p, pqw_scratch *sc, int f, const cl_column *col, int64_t off,
		  int64_t n, int64_t row0, pqw_append_fn append, cl_error *err);
void cl__pqw_shred_free(struct pqw_shred *sh);

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
/* parquet_write.c: "PATH: out of memory"; grow a chunk's array (pooled
 * when large); give a buffer's memory to the pool (b left empty);
 * compress with the file's codec, appending to out. */
int cl__pqw_oom(pqw_writer *p, cl_error *err);
int cl__pqw_grow_array(void **arr, size_t *cap, size_t need, size_t elem);
void cl__pqw_buf_give(cl_buf *b);
int cl__pqw_compress(pqw_writer *p, const pqw_chunk *ch, const uint8_t *src, size_t n,
		     cl_buf *out, cl_error *err);
/* parquet_write_page.c: room for n more bytes of PLAIN values in the open
 * page (0 or CL_ENOMEM); the open page's encoded size, roughly; close the
 * open page into the chunk's pages. */
int cl__pqw_plain_reserve(const pqw_writer *p, pqw_chunk *ch, size_t n);
int64_t cl__pqw_page_estimate(const pqw_chunk *ch);
int cl__pqw_flush_page(pqw_writer *p, pqw_scratch *sc, pqw_chunk *ch, cl_error *err);


#endif
