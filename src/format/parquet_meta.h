/*
 * parquet_meta.h — Parquet footer and page-header structures, decoded from
 * Thrift compact bytes (internal to the Parquet reader).
 *
 * Everything a cl__pq_meta holds lives in its arena and is freed with it.
 * Binary values (statistics) are views into the footer bytes, which the
 * meta keeps. Decoding validates what can be checked locally (counts,
 * enum ranges, the schema tree's shape, the column chunks per row group);
 * offsets and sizes against the file are checked by the reader, which knows
 * the file size.
 */
#ifndef CL_FORMAT_PARQUET_META_H
#define CL_FORMAT_PARQUET_META_H

#include "changelake/common.h"

typedef struct cl__pq_bytes {
	const uint8_t *p;
	size_t n;
} cl__pq_bytes;

typedef struct cl__pq_logical {
	int kind;          /* 0 = none, else PQ_LT_* */
	int32_t scale, precision; /* DECIMAL */
	bool utc;          /* TIME, TIMESTAMP: isAdjustedToUTC */
	int unit;          /* TIME, TIMESTAMP: cl_time_unit */
	int bit_width;     /* INTEGER */
	bool is_signed;    /* INTEGER */
} cl__pq_logical;

typedef struct cl__pq_schema_elem {
	char *name;        /* NUL-terminated, never NULL */
	int type;          /* PQ_* physical type, -1 for a group */
	int32_t type_length;
	int repetition;    /* PQ_REQUIRED/OPTIONAL/REPEATED; -1 absent */
	int32_t num_children;
	int converted;     /* PQ_CT_*, -1 absent */
	int32_t scale, precision; /* legacy DECIMAL; -1 absent */
	cl__pq_logical logical;
} cl__pq_schema_elem;

typedef struct cl__pq_stats {
	bool has_min, has_max, has_min_value, has_max_value;
	bool has_null_count, has_distinct;
	cl__pq_bytes min, max, min_value, max_value;
	int64_t null_count, distinct_count;
} cl__pq_stats;

typedef struct cl__pq_column_meta {
	int type;
	uint32_t encodings;   /* bit e set: encoding e (0..31) is used */
	int npath;
	char **path;
	int codec;
	int64_t num_values;
	int64_t total_uncompressed_size;
	int64_t total_compressed_size;
	int64_t data_page_offset;
	int64_t dictionary_page_offset; /* -1 absent */
	int64_t index_page_offset;      /* -1 absent */
	bool has_stats;
	cl__pq_stats stats;
} cl__pq_column_meta;

typedef struct cl__pq_column_chunk {
	char *file_path;      /* NULL: this file */
	int64_t file_offset;
	bool has_meta;
	bool encrypted;       /* crypto metadata present */
	cl__pq_column_meta meta;
	/* page index (OffsetIndex / ColumnIndex); length 0: absent */
	int64_t offset_index_offset, column_index_offset;
	int32_t offset_index_length, column_index_length;
} cl__pq_column_chunk;

typedef struct cl__pq_row_group {
	int ncolumns;
	cl__pq_column_chunk *columns;
	int64_t total_byte_size;
	int64_t num_rows;
	int64_t first_row;            /* file row of its first row (sum of the
				       * earlier groups' num_rows), for messages */
	int64_t file_offset;          /* -1 absent */
	int64_t total_compressed_size; /* -1 absent */
} cl__pq_row_group;

typedef struct cl__pq_kv {
	char *key;
	char *value; /* NULL when absent */
} cl__pq_kv;

/* A leaf (primitive) column of the schema tree. */
typedef struct cl__pq_leaf {
	int elem;        /* index into schema[] */
	int top;         /* index into schema[] of its top-level field */
	int max_def, max_rep;
	bool nested;     /* under a group, or repeated */
	char *path;      /* dotted path, NUL-terminated */
} cl__pq_leaf;

typedef struct cl__pq_arena_block cl__pq_arena_block;

typedef struct cl__pq_meta {
	cl__pq_arena_block *arena;
	uint8_t *footer;       /* owned copy of the footer bytes */
	size_t footer_len;
	int32_t version;
	int nschema;
	cl__pq_schema_elem *schema;
	int64_t num_rows;
	int nrow_groups;
	cl__pq_row_group *row_groups;
	int nkv;
	cl__pq_kv *kv;
	char *created_by;      /* NULL when absent */
	bool type_defined_order; /* column_orders present (TypeDefinedOrder) */
	bool encrypted;        /* encryption_algorithm present */
	int nleaves;
	cl__pq_leaf *leaves;
} cl__pq_meta;

/*
 * Decode FileMetaData from footer[0..n) (ownership of footer, allocated with
 * cl_malloc, passes to the meta even on failure). On error, err holds a
 * message without the file name. *out owned; cl__pq_meta_free.
 */
int cl__pq_meta_decode(cl__pq_meta **out, uint8_t *footer, size_t n, cl_error *err);
void cl__pq_meta_free(cl__pq_meta *m);

typedef struct cl__pq_page_header {
	int type;                  /* PQ_PAGE_* */
	int32_t uncompressed_size;
	int32_t compressed_size;
	bool has_crc;
	uint32_t crc;
	bool has_data, has_dict, has_v2;
	int32_t num_values;        /* data v1/v2 and dictionary */
	int encoding;
	int def_encoding, rep_encoding; /* v1 */
	int32_t num_nulls, num_rows;    /* v2 */
	int32_t def_len, rep_len;       /* v2 */
	bool is_compressed;             /* v2, default true */
} cl__pq_page_header;

/*
 * Decode a page header from p[0..n); *used = its encoded size. Checks the
 * sizes are non-negative and the page's sub-header matches its type.
 */
int cl__pq_page_header_decode(cl__pq_page_header *h, const uint8_t *p, size_t n,
			      size_t *used, cl_error *err);

/* Names for messages and `stats`. */
const char *cl__pq_type_name(int type);
const char *cl__pq_encoding_name(int enc);

/* ---- an open file (parquet_read.c; public handle of parquet.h) ---- */

#include "changelake/parquet.h"
#include "parquet_decode.h"
#include "parquet_nested.h"

/* How a leaf column maps onto changelake (parquet_read.c decides). */
typedef struct cl__pq_leafmap {
	bool supported;
	cl_type type;
	cl__pq_conv conv;
	char annotation[64];
	char why[160];      /* when !supported */
	int code;           /* CL_EUNSUPPORTED, or CL_EFORMAT when invalid */
} cl__pq_leafmap;

struct cl_parquet_file {
	char *path;
	int fd;
	int64_t size;
	int64_t footer_start;  /* offset of the footer = end of column data */
	cl__pq_meta *meta;
	cl__pq_leafmap *map;   /* one per leaf */
	cl__pq_plan plan;      /* output columns (parquet_nested.h) */
	cl_buf min_text, max_text; /* cl_parquet_file_chunk's strings */
};

/* Read exactly n bytes at offset into buf (CL_EIO / CL_EFORMAT on short). */
int cl__pq_pread(const cl_parquet_file *f, void *buf, size_t n, int64_t offset,
		 cl_error *err);
/* The byte range of column chunk (rg, col), checked against the file. */
int cl__pq_chunk_range(const cl_parquet_file *f, int rg, int col, int64_t *start,
		       int64_t *len, cl_error *err);

/*
 * Whether a page (or chunk) may hold a row where `column op v` holds, from
 * its statistics: mn/mx plain-encoded in the type's order (have_mm false:
 * none), all_null, null_count (-1 unknown). v is the predicate's value as
 * a one-value column of the column's type (NULL for IS_NULL/NOT_NULL).
 * Unusable statistics say "may". parquet_read_meta.c.
 */
int cl__pq_page_may_match(const cl_parquet_file *f, int col, cl_parquet_op op,
			  const cl_column *v, cl__pq_bytes mn, cl__pq_bytes mx, bool have_mm,
			  bool all_null, int64_t null_count, bool *may, cl_error *err);

/* Row ranges [start, end) of a row group. */
typedef struct cl__pq_range {
	int64_t start, end;
} cl__pq_range;

/*
 * The row ranges of row group rg that may hold rows where all of preds
 * hold, from the page indexes of the predicate columns (parquet_page_index.c):
 * sorted, disjoint, possibly none. A predicate on a column without a page
 * index (or inside a list) does not narrow anything. *out is owned (cl_free).
 */
int cl__pq_row_ranges(const cl_parquet_file *f, int rg, const cl_parquet_predicate *preds,
		      int npreds, cl__pq_range **out, int *n, cl_error *err);

/* Helpers shared by the page decoder and the statistics code. */
bool cl__pq_be_to_i128(const uint8_t *p, size_t n, void *out16);
float cl__pq_half_to_float(uint16_t h);

#endif
