/*
 * layout.h — where a lake table's rows go (internal): Hive-style partition
 * folders, partition transforms of dates and timestamps, key-hash buckets
 * and data file names.
 *
 *   TABLE/col1=v1/col2=v2/part-00000-<uuid>_00003.c000.snappy.parquet
 *
 * Folder values are escaped as Spark/Hive escape them (%XX for '/', ':',
 * '=', '%', control characters and the other unsafe ones), a null or empty
 * value is __HIVE_DEFAULT_PARTITION__, so no value can name a folder
 * outside its own: "../x" becomes "..%2Fx". The bucket is the suffix
 * "_NNNNN" of the file name (Spark's bucketed-file convention); bucket =
 * hash(key columns) % nbuckets with cl_hash_column.
 *
 * A "scope" is "DIR/#BUCKET" (or "DIR/#" without buckets): the set of files
 * a copy-on-write change of one key can touch, used for conflict checks.
 */
#ifndef CL_TABLE_LAYOUT_H
#define CL_TABLE_LAYOUT_H

#include "changelake/table.h"
#include "core/buf.h"

typedef enum cl__transform {
	CL__XF_IDENTITY = 0,
	CL__XF_YEAR,
	CL__XF_MONTH,
	CL__XF_DAY,
	CL__XF_HOUR
} cl__transform;

#define CL__HIVE_NULL "__HIVE_DEFAULT_PARTITION__"

/* Parse "col" or "col:year|month|day|hour"; *source owned (cl_free). */
int cl__layout_parse_partition(const char *spec, char **source, cl__transform *xf,
			       cl_error *err);
const char *cl__transform_name(cl__transform xf);
cl__transform cl__transform_from_name(const char *name);
/* Type of the derived column (year int32, month string "YYYY-MM", day
 * date, hour string "YYYY-MM-DD-HH"). */
cl_type cl__transform_type(cl__transform xf);
/* Is a source column of type t usable with xf? */
bool cl__transform_applies(cl__transform xf, cl_type t);

/* Append the Hive-escaped form of value (NULL: the null marker). */
int cl__layout_escape(cl_buf *out, const char *value);
/* Append "k1=v1/k2=v2/" for the partition values (empty when none). */
int cl__layout_partition_dir(cl_buf *out, const cl_table_kv *kv, int n);

/*
 * The partition value text of value `row` of c as Delta serializes it
 * (numbers as text, date YYYY-MM-DD, timestamp "YYYY-MM-DD HH:MM:SS[.ffffff]"
 * in UTC, boolean true/false); *is_null set for NULL. With xf, the
 * transform of the value. Appends to out.
 */
int cl__layout_partition_text(cl_buf *out, bool *is_null, const cl_column *c,
			      int64_t row, cl__transform xf, cl_error *err);

/* Key of a new data file: DIR + part-SEQ-UUID[_BUCKET].c000.EXT.parquet. */
int cl__layout_file_key(cl_buf *out, const char *dir, int seq, const char *uuid,
			int bucket, const char *codec_ext);
/* Bucket of a data file key, or -1 when it has none. */
int cl__layout_bucket_of_key(const char *key);
/* Scope of a data file key / of a directory and bucket (-1: none). */
int cl__layout_scope_of_key(cl_buf *out, const char *key);
int cl__layout_scope(cl_buf *out, const char *dir, int bucket);

#endif
