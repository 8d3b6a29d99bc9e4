/*
 * dv.h — Delta deletion vectors (internal): the codec and the files that
 * hold them (delta-io/delta PROTOCOL.md, "Deletion Vector Format").
 *
 *   bitmap    a RoaringBitmapArray in the "portable" serialization: int32
 *             magic 1681511377, int64 number of 32-bit bitmaps, then per
 *             bitmap its uint32 key (the high 32 bits of the row indexes)
 *             and a standard portable Roaring bitmap (array, bitmap and run
 *             containers); all little-endian. Row indexes are positions of
 *             rows in the data file, from 0.
 *   file      'u' / 'p' storage: one byte format version (1), then any
 *             number of vectors, each: int32 big-endian size, the bitmap
 *             (size bytes), int32 big-endian CRC-32 of the bitmap. A
 *             descriptor's offset points at the size field.
 *   inline    'i' storage: the bitmap as Z85 text (the ZeroMQ alphabet,
 *             input padded to a multiple of 4 bytes; size_in_bytes tells
 *             the real length).
 *
 * Row sets are sorted arrays of distinct uint64 row indexes.
 * Everything untrusted (bitmaps, files, descriptors) is bounds-checked:
 * malformed input is CL_EFORMAT naming what is wrong, never a crash.
 */
#ifndef CL_TABLE_DV_H
#define CL_TABLE_DV_H

#include "changelake/table.h"
#include "core/buf.h"

/* Decode a serialized bitmap into a sorted row array (*rows owned, cl_free;
 * may be NULL when *n is 0). Delta's "native" layout (magic 1681511376:
 * int32 count, then per bitmap an int32 length and a portable Roaring
 * bitmap keyed by its index; framing little- or big-endian, as the magic
 * shows) is read too. */
int cl__dv_decode(uint64_t **rows, size_t *n, const uint8_t *buf, size_t len,
		  cl_error *err);
/* Serialize a sorted, distinct row array as a bitmap (appended to out). */
int cl__dv_encode(cl_buf *out, const uint64_t *rows, size_t n, cl_error *err);

/* Z85: encode len bytes (padded with zeros to a multiple of 4) / decode
 * text (length a multiple of 5) into out. */
int cl__z85_encode(cl_buf *out, const uint8_t *buf, size_t len, cl_error *err);
int cl__z85_decode(cl_buf *out, const char *text, size_t n, cl_error *err);

/* The object key of a 'u' or 'p' vector's file (owned, cl_free). */
int cl__dv_file_key(char **key, cl_store *st, const cl_table_dv *dv, cl_error *err);

/* The deleted rows of a data file: reads the vector (inline or from its
 * file), checks size, CRC and cardinality. `data_path` names the data file
 * in messages. */
int cl__dv_load(uint64_t **rows, size_t *n, cl_store *st, const cl_table_dv *dv,
		const char *data_path, cl_error *err);

/* The file identity part of a vector (PROTOCOL.md uniqueId: storage type,
 * path or inline text, "@offset" when there is an offset). */
int cl__dv_unique_id(cl_buf *out, const cl_table_dv *dv);

/* The "deletionVector" JSON object of a descriptor (appended to out). */
int cl__dv_json(cl_buf *out, const cl_table_dv *dv);

/*
 * A new deletion vector file of one commit: vectors are appended in memory,
 * then the file is published with put-if-absent (durable) under a fresh
 * UUID name at the table root, before the commit that names it.
 */
typedef struct cl__dv_file cl__dv_file;
int cl__dv_file_open(cl__dv_file **out, cl_error *err);
/* Append the vector of `rows`; *dv gets its descriptor ('u', offset, size,
 * cardinality; path_or_inline points into the cl__dv_file and lives until
 * cl__dv_file_free). */
int cl__dv_file_append(cl__dv_file *f, const uint64_t *rows, size_t n, cl_table_dv *dv,
		       cl_error *err);
/* Publish the file (nothing when no vector was appended); *key gets its
 * object key (borrowed from f), *bytes its size. */
int cl__dv_file_publish(cl__dv_file *f, cl_store *st, const char **key, int64_t *bytes,
			cl_error *err);
void cl__dv_file_free(cl__dv_file *f);

/* Union of two sorted distinct row arrays (*out owned). */
int cl__dv_union(uint64_t **out, size_t *n, const uint64_t *a, size_t na, const uint64_t *b,
		 size_t nb, cl_error *err);

#endif
