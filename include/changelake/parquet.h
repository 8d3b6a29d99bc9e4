/*
 * changelake/parquet.h — inside a Parquet file: footer metadata, row groups,
 * column chunks and their statistics, and reading with row-group selection.
 *
 * cl_parquet_file reads only the footer (the file stays open; column data is
 * read later with pread of exactly the byte ranges needed). It is what
 * `changelake stats` prints and what the lake table code uses to skip files
 * and row groups. cl_parquet_reader_open is cl_reader_open for Parquet with
 * row-group selection: explicit row group numbers and/or predicates checked
 * against each row group's statistics. By default only whole row groups are
 * skipped — rows inside a row group that is read are not filtered. With
 * page_index set, the page indexes (ColumnIndex/OffsetIndex) of the
 * predicate columns also skip the pages that cannot match: the rows read
 * are then a superset of the matching rows (in file order), no longer whole
 * row groups.
 *
 * Types: primitive columns map onto changelake types (schema.h) as DuckDB
 * reads them: INT96 -> timestamp(us) (not UTC), UUID -> string
 * (8-4-4-4-12), FLOAT16 -> float32, ENUM/JSON/STRING -> string, BYTE_ARRAY
 * or FIXED_LEN_BYTE_ARRAY without annotation -> binary, legacy
 * TIMESTAMP_MILLIS/MICROS -> timestamp(ms|us, utc), DECIMAL up to precision
 * 38 -> decimal. Decimal precision over 38 and INTERVAL are not supported
 * yet: reading such a column is a CL_EUNSUPPORTED error naming it (a file
 * that has some can still be read with a projection of its other columns).
 *
 * Nested columns. changelake's batches are flat, so the schema tree is read
 * as flat columns:
 *   - structs are flattened: each primitive field inside (nested) structs
 *     is a typed column named by its dotted path, "add.path", "add.size",
 *     "add.deletionVector.storageType". It is NULL when the field or any
 *     struct around it is NULL: a NULL struct and a struct whose fields are
 *     all NULL read the same (tell them apart by a field that is never NULL
 *     in a present struct, as Delta readers do with add.path);
 *   - a list, a map, or a repeated field (legacy list) — with everything
 *     inside it — is one CL_STRING column, named by its dotted path, that
 *     holds the value as JSON text: lists as arrays, maps as objects (a
 *     string key as it is, any other key as its text; entries in file
 *     order), structs inside them as objects with their fields in schema
 *     order, primitives spelled as the JSON Lines writer spells them
 *     (numbers for integers, decimals and finite floats, true/false,
 *     strings; dates, times, timestamps, binary and nan/inf as strings of
 *     their changelake text). The column is NULL when the list/map or a
 *     struct around it is NULL; an empty one is "[]" / "{}".
 * Lists are recognised by parquet-format's rules, including the legacy
 * two-level forms ("array", "<name>_tuple", repeated primitives) and
 * repeated fields without annotation; a MAP may lack its value field
 * (values are then null). A file whose list levels contradict themselves
 * is a CL_EFORMAT error naming the row and the leaf column.
 * Projection (cl_read_options.columns) takes output column names, or the
 * name of a struct for all the columns under it ("add" selects "add.path",
 * "add.partitionValues", ...), in the order given.
 *
 * For the Delta Lake checkpoint reader (src/table): open the checkpoint
 * with columns {"add", "remove", "metaData", "protocol", "txn"} (a name
 * the file lacks is CL_ENOTFOUND: check first with
 * cl_parquet_file_find_column(f, "txn.appId") >= 0, leaf paths are dotted);
 * a row is an add action when "add.path" is not NULL, and so on;
 * "add.partitionValues", "add.tags", "metaData.configuration",
 * "metaData.format.options" are JSON objects of strings (null values stay
 * null), "metaData.partitionColumns" and "protocol.readerFeatures" /
 * "writerFeatures" JSON arrays of strings — the same JSON the action has in
 * a commit file, so the commit-file parser can read them; "add.stats" is
 * the stats JSON string as written; "add.deletionVector.*" and
 * "add.partitionValues_parsed.*" / "add.stats_parsed.*" are typed columns.
 *
 * Thread safety: one cl_parquet_file or reader per thread. A reader opened
 * with cl_read_options.threads > 1 (or CL_THREADS=N in the environment,
 * which overrides it) decodes up to that many row groups at once on its own
 * threads; the batches, their order and the first error are the same as
 * with one thread. Memory grows with the thread count (per thread: a read
 * window and a decompressed page per column, and two batches).
 */
#ifndef CHANGELAKE_PARQUET_H
#define CHANGELAKE_PARQUET_H

#include "io.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cl_parquet_file cl_parquet_file;

/*
 * Open `path` and decode its footer. Owned by the caller; free with
 * cl_parquet_file_free. Errors: CL_ENOTFOUND / CL_EIO, CL_EFORMAT (not
 * Parquet, corrupt footer), CL_EUNSUPPORTED (encrypted).
 */
int cl_parquet_file_open(cl_parquet_file **out, const char *path, cl_error *err);
void cl_parquet_file_free(cl_parquet_file *f);

int64_t cl_parquet_file_size(const cl_parquet_file *f);
int64_t cl_parquet_file_num_rows(const cl_parquet_file *f);
int cl_parquet_file_num_row_groups(const cl_parquet_file *f);
int cl_parquet_file_version(const cl_parquet_file *f);
/* Borrowed strings, valid until cl_parquet_file_free; NULL when absent. */
const char *cl_parquet_file_created_by(const cl_parquet_file *f);
int cl_parquet_file_num_kv(const cl_parquet_file *f);
/* Key-value metadata entry i (value may be NULL). */
void cl_parquet_file_kv(const cl_parquet_file *f, int i, const char **key,
			const char **value);

/* One leaf (primitive) column of the file's schema — a Parquet column, not
 * an output column of the reader (a JSON column has several leaves). Strings
 * borrowed. */
typedef struct cl_parquet_column {
	const char *path;          /* dotted path from the root, e.g. "a.b" */
	const char *physical_type; /* "INT64", "BYTE_ARRAY", ... */
	int type_length;           /* FIXED_LEN_BYTE_ARRAY width, else 0 */
	const char *annotation;    /* logical/converted type as text, "" none,
				      e.g. "TIMESTAMP(MICROS,utc)", "DECIMAL(10,2)" */
	int max_def, max_rep;      /* definition / repetition levels */
	bool nested;               /* inside a group, or repeated */
	bool supported;            /* readable as `type` (inside a list or map:
				      as part of its JSON column) */
	cl_type type;              /* changelake type (when supported) */
	const char *unsupported;   /* why not, when !supported */
} cl_parquet_column;

int cl_parquet_file_num_columns(const cl_parquet_file *f);
/* Column i (0 <= i < num_columns); fills *out with borrowed strings. */
void cl_parquet_file_column(const cl_parquet_file *f, int i, cl_parquet_column *out);
/* Index of the leaf column with dotted path `path`, or -1. */
int cl_parquet_file_find_column(const cl_parquet_file *f, const char *path);

typedef struct cl_parquet_row_group {
	int64_t num_rows;
	int64_t total_byte_size;       /* uncompressed, as the writer reported */
	int64_t compressed_size;       /* sum of the column chunks' sizes */
} cl_parquet_row_group;

void cl_parquet_file_row_group(const cl_parquet_file *f, int rg,
			       cl_parquet_row_group *out);

/* One column chunk (column `col` of row group `rg`). */
typedef struct cl_parquet_chunk {
	int64_t num_values;
	cl_codec codec;
	uint32_t encodings;        /* bit e set: Parquet Encoding e is used */
	int64_t compressed_size;
	int64_t uncompressed_size;
	int64_t data_page_offset;
	int64_t dictionary_page_offset; /* -1: none */
	bool has_null_count;
	int64_t null_count;
	bool has_distinct_count;
	int64_t distinct_count;
	bool has_min_max;          /* min and max below are set */
	/* Typed text of the statistics, spelled as changelake prints values
	 * (value_text: "2024-01-02 03:04:05", "12.50", binary as \x..). Owned by
	 * f, valid until the next cl_parquet_file_chunk call or free. */
	const char *min;
	const char *max;
} cl_parquet_chunk;

/* Statistics from min_value/max_value, or from the legacy min/max fields
 * only where their (signed) order is the type's order. */
int cl_parquet_file_chunk(cl_parquet_file *f, int rg, int col, cl_parquet_chunk *out,
			  cl_error *err);

/* Name of a Parquet Encoding value ("PLAIN", "RLE_DICTIONARY", ...). */
const char *cl_parquet_encoding_name(int encoding);

/* ---- row-group selection ---- */

typedef enum cl_parquet_op {
	CL_PQ_EQ,       /* column = value */
	CL_PQ_LT,
	CL_PQ_LE,
	CL_PQ_GT,
	CL_PQ_GE,
	CL_PQ_IS_NULL,
	CL_PQ_NOT_NULL
} cl_parquet_op;

typedef struct cl_parquet_predicate {
	const char *column; /* leaf path (a top-level name for flat files) */
	cl_parquet_op op;
	const char *value;  /* typed text (as --schema values are spelled);
			       unused for IS_NULL / NOT_NULL */
} cl_parquet_predicate;

/*
 * *may_match = false when row group rg's statistics prove that no row
 * satisfies all of preds[0..n) (a conjunction); true when some row may.
 * CL_ENOTFOUND for an unknown column, CL_ETYPE for a value that does not
 * parse as the column's type.
 */
int cl_parquet_file_row_group_may_match(cl_parquet_file *f, int rg,
					const cl_parquet_predicate *preds, int n,
					bool *may_match, cl_error *err);

typedef struct cl_parquet_read_options {
	const int *row_groups;  /* read only these, in this order; NULL: all */
	int nrow_groups;
	const cl_parquet_predicate *predicates; /* skip row groups that cannot match */
	int npredicates;
	/* Also skip rows inside row groups by the page indexes of the
	 * predicate columns (files that have them; flat projections only — a
	 * projection with a list/map column reads whole row groups). The
	 * reader's total rows counts the rows it will return. */
	bool page_index;
} cl_parquet_read_options;

/*
 * cl_reader_open for a Parquet file with row-group selection (popts may be
 * NULL). Column projection is opts->columns. Only the selected row groups'
 * projected column chunks are read from the file. The reader is freed with
 * cl_reader_free.
 */
int cl_parquet_reader_open(cl_reader **out, const char *path, const cl_read_options *opts,
			   const cl_parquet_read_options *popts, cl_error *err);

#ifdef __cplusplus
}
#endif
#endif
