/*
 * changelake/io.h — reading and writing table files in any supported format.
 *
 * A cl_reader streams a file (CSV, JSON Lines or Parquet; plain or gzip for
 * the text formats) as column batches under one schema. A cl_writer takes
 * batches of one schema and writes a file. The format is chosen by the
 * caller or detected: magic bytes first (Parquet "PAR1", gzip), then the
 * file name's extension (.csv, .tsv, .jsonl, .ndjson, .json, .parquet, with
 * an optional .gz).
 *
 * Errors name the file, the line or row, and the column.
 */
#ifndef CHANGELAKE_IO_H
#define CHANGELAKE_IO_H

#include "batch.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cl_format {
	CL_FORMAT_AUTO = 0,
	CL_FORMAT_CSV,
	CL_FORMAT_JSONL,
	CL_FORMAT_PARQUET
} cl_format;

/* Parquet compression codecs (values are parquet-format's CompressionCodec). */
typedef enum cl_codec {
	CL_CODEC_UNCOMPRESSED = 0,
	CL_CODEC_SNAPPY = 1,
	CL_CODEC_GZIP = 2,
	CL_CODEC_LZO = 3,
	CL_CODEC_BROTLI = 4,
	CL_CODEC_LZ4 = 5, /* legacy: Hadoop framing or raw block */
	CL_CODEC_ZSTD = 6,
	CL_CODEC_LZ4_RAW = 7
} cl_codec;

/* "csv", "jsonl", "parquet" / parse those (and "json", "ndjson", "tsv"). */
const char *cl_format_name(cl_format f);
int cl_format_parse(cl_format *out, const char *name, cl_error *err);
/* Guess from a path's extension alone; CL_FORMAT_AUTO when unknown. */
cl_format cl_format_from_extension(const char *path);
/* Codec names: none/uncompressed, snappy, gzip, brotli, lz4, zstd, lz4_raw. */
const char *cl_codec_name(cl_codec c);
int cl_codec_parse(cl_codec *out, const char *name, cl_error *err);

typedef struct cl_read_options {
	cl_format format;         /* AUTO: detect */
	const cl_schema *schema;  /* declared schema, borrowed; NULL: infer
				     (text formats) or take the file's */
	int64_t batch_rows;       /* rows per batch; default 65536 */

	/* CSV */
	char delimiter;           /* default ',' (or '\t' for .tsv) */
	char quote;               /* default '"' */
	int header;               /* 1 first line is a header, 0 none; -1 default (yes) */
	const char *null_marker;  /* NULL: an empty unquoted field is NULL and
				     "" is the empty string */
	int64_t sample_rows;      /* rows sampled for type inference; default
				     10000; 0 = the whole file */
	bool all_strings;         /* no inference: every column is a string */
	int64_t max_line_bytes;   /* longest record accepted; default 64 MiB */

	/* Parquet */
	const char *const *columns; /* projection by name, borrowed; NULL: all */
	int ncolumns;

	int threads;              /* threads decoding (Parquet); 0: CL_THREADS
				     from the environment if set, else 1 */
} cl_read_options;

typedef struct cl_write_options {
	cl_format format;         /* AUTO: from the path's extension */

	/* CSV */
	char delimiter;           /* default ',' */
	bool header;              /* default true */
	const char *null_marker;  /* default: NULL is written as an empty field */

	/* Parquet */
	cl_codec compression;     /* default SNAPPY */
	int compression_level;    /* 0: the codec's default */
	int64_t row_group_rows;   /* default 1,048,576 */
	int64_t row_group_bytes;  /* default 128 MiB (uncompressed estimate) */
	int64_t page_bytes;       /* default 1 MiB */
	bool dictionary;          /* default true */
	int64_t dictionary_page_bytes; /* fall back to PLAIN past this; default 1 MiB */
	int page_version;         /* 1 (default) or 2 */
	bool int96_timestamps;    /* write timestamps as INT96 for old readers */
	const char *const *kv_keys;   /* key-value metadata, borrowed */
	const char *const *kv_values;
	int nkv;

	int threads;              /* threads encoding and compressing; 0:
				     CL_THREADS from the environment if set,
				     else 1 */

	/*
	 * Parquet nested output, the exact inverse of how the reader maps
	 * nested files onto flat columns (parquet.h). Default off.
	 *
	 * nest_dotted: a column named by a dotted path ("add.path") becomes
	 * field "path" of struct group "add" (groups shared by every column
	 * under them, in the order their first column appears; a name with an
	 * empty segment, or used both as a column and as a group, is an
	 * error). A struct is written NULL in a row exactly when every column
	 * under it is NULL there (the reader reads a NULL struct and a struct
	 * of NULLs the same, so reading gives back every column as written);
	 * a struct with a NOT NULL column under it is a required group.
	 *
	 * nested_columns[i] (a CL_STRING column holding JSON text) is written
	 * as the nested type nested_types[i]:
	 *   list<T>            3-level LIST: repeated group "list", optional "element"
	 *   map<K,V>           MAP: repeated group "key_value", required "key",
	 *                      optional "value"; K primitive (JSON keys are
	 *                      text: a non-string key is parsed from it)
	 *   struct<a:T,b:U>    optional group (inside a list or map only)
	 *   primitive          a changelake type name (cl_type_parse) or a
	 *                      Delta one: long, integer, short, byte
	 * Values are spelled as the reader gives them: numbers for integers,
	 * decimals and floats, true/false, strings for strings and for every
	 * other type's text (dates, timestamps, binary as \x.., nan/inf); a
	 * JSON null is a NULL (not allowed for map keys). A row whose JSON does
	 * not parse or does not match the type is CL_ETYPE naming row and
	 * column. Both arrays are borrowed; they are only read by
	 * cl_writer_open.
	 */
	bool nest_dotted;
	const char *const *nested_columns;
	const char *const *nested_types;
	int nnested;
} cl_write_options;

void cl_read_options_init(cl_read_options *o);
void cl_write_options_init(cl_write_options *o);

typedef struct cl_reader cl_reader;

/*
 * Open `path` ("-" = standard input, text formats only) for reading.
 * The reader is owned by the caller and freed with cl_reader_free.
 * Type inference (text formats without a schema) happens here.
 */
int cl_reader_open(cl_reader **out, const char *path,
		   const cl_read_options *opts, cl_error *err);
/* The schema of the batches; borrowed, valid until cl_reader_free. */
const cl_schema *cl_reader_schema(const cl_reader *r);
/* The detected format. */
cl_format cl_reader_format(const cl_reader *r);
/*
 * Next batch into *out, or *out = NULL at the end. The batch is borrowed:
 * valid until the next call or cl_reader_free. The Parquet reader's
 * batches may be emptied by the caller: a column taken with
 * cl_column_move (batch.h) is refilled from empty at the next call, so a
 * consumer that keeps batches takes them over without copying. Other
 * formats' batches must not be changed.
 */
int cl_reader_next(cl_reader *r, cl_batch **out, cl_error *err);
/* Rows returned so far. */
int64_t cl_reader_rows(const cl_reader *r);
/* Total rows if known up front (Parquet), else -1. */
int64_t cl_reader_total_rows(const cl_reader *r);
void cl_reader_free(cl_reader *r);

typedef struct cl_writer cl_writer;

/*
 * Create `path` ("-" = standard output, text formats only) and write
 * batches of `schema` (copied) to it. Owned by the caller; cl_writer_close
 * finishes the file, cl_writer_free releases it (a writer freed without a
 * successful close removes its partial file).
 */
int cl_writer_open(cl_writer **out, const char *path, const cl_schema *schema,
		   const cl_write_options *opts, cl_error *err);
/* Write a batch whose columns match the schema's types. */
int cl_writer_write(cl_writer *w, const cl_batch *b, cl_error *err);
int cl_writer_close(cl_writer *w, cl_error *err);
void cl_writer_free(cl_writer *w);
/* Bytes written to the file so far. */
int64_t cl_writer_bytes(const cl_writer *w);

#ifdef __cplusplus
}
#endif
#endif
