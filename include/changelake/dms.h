/*
 * changelake/dms.h — the AWS DMS S3-target layout as a change source.
 *
 * DMS writes one folder per table, ROOT/<schema>/<table>/, holding
 *
 *   full-load files   [SEGMENTn_]LOAD<hex>.parquet|csv|csv.gz, optionally in
 *                     per-partition subfolders (parallel load); the counter
 *                     is hexadecimal: LOAD00000009 < LOAD0000000A
 *   CDC files         YYYYMMDD-HHMMSS<fraction>.parquet|csv|csv.gz, named by
 *                     commit time (the number of fraction digits varies),
 *                     optionally under date folders (YYYY/MM/DD, YYYY-MM-DD,
 *                     YYYYMMDD, ...)
 *
 * Each row is a change: an optional first column `Op` (I, U, D; absent or
 * empty in full-load rows means insert), an optional timestamp column (DMS
 * TimestampColumnName), then the table's columns.
 *
 * The total order of a table's files (cl_dms_listing): every full-load file
 * before every CDC file; full-load files by (folder, segment, hex counter,
 * path); CDC files by commit time compared as a timestamp (not as text),
 * then path. Names that are neither are never read: they are listed in
 * `skipped` so the caller can say so. Names beginning with '.' or '_'
 * (temporary files, _SUCCESS markers) are ignored silently, as are such
 * folders.
 *
 * Every file also gets a `file_key`, a sequence number that is stable across
 * runs, so the position of a change can be compared with one recorded in an
 * earlier run (see merge.h):
 *   CDC file   its commit time in microseconds since 1970-01-01 (>= 0)
 *   full load  CL_DMS_LOAD_KEY_BASE + its index among the full-load files
 *              (negative: before every CDC change)
 */
#ifndef CHANGELAKE_DMS_H
#define CHANGELAKE_DMS_H

#include "io.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cl_dms_kind {
	CL_DMS_OTHER = 0, /* not a DMS data file */
	CL_DMS_LOAD = 1,  /* full load */
	CL_DMS_CDC = 2    /* change data capture */
} cl_dms_kind;

#define CL_DMS_LOAD_KEY_BASE (-((int64_t)1 << 62))

/* What a file name says. */
typedef struct cl_dms_name {
	cl_dms_kind kind;
	cl_format format;  /* CL_FORMAT_CSV or CL_FORMAT_PARQUET */
	bool gzip;         /* .csv.gz */
	/* CL_DMS_LOAD */
	uint64_t segment;  /* SEGMENTn_ prefix; 0 when there is none */
	uint64_t counter;  /* the hexadecimal counter */
	size_t dir_len;    /* length of the folder part of the path ("" = 0) */
	/* CL_DMS_CDC */
	int64_t time_us;   /* commit time, microseconds since 1970-01-01 UTC */
	int32_t time_sub;  /* fraction digits beyond microseconds, scaled to
			      picoseconds (0..999999) */
} cl_dms_name;

/*
 * Classify a path relative to a table folder ('/'-separated, e.g.
 * "2020/11/13/20201113-123456789.csv.gz"). Any string is acceptable input:
 * what is not exactly one of the forms above is CL_DMS_OTHER. Never fails.
 */
void cl_dms_name_parse(cl_dms_name *out, const char *relpath);

/* One file of a table's folder. */
typedef struct cl_dms_file {
	char *path;       /* relative to the table folder; owned by the listing */
	cl_dms_name name;
	int64_t size;     /* bytes */
	int64_t mtime_ns; /* modification time, ns since 1970 */
	int64_t file_key; /* stable sequence of the file (see above) */
} cl_dms_file;

/* Total order of two classified files (negative, 0 only for equal paths). */
int cl_dms_file_compare(const cl_dms_file *a, const cl_dms_file *b);

typedef struct cl_dms_listing {
	char *dir;          /* the table folder, as given; owned */
	int nfiles;
	int cap;
	cl_dms_file *files; /* in the total order, each path once; owned */
	int nload;          /* files[0..nload) are the full-load files */
	int nskipped;
	char **skipped;     /* paths that are not DMS data files; owned */
} cl_dms_listing;

/*
 * List the table folder `dir` recursively (no limit on the number of files;
 * symbolic links to folders are not followed) and order its files.
 * Owned by the caller; cl_dms_listing_free.
 */
int cl_dms_list(cl_dms_listing **out, const char *dir, cl_error *err);
void cl_dms_listing_free(cl_dms_listing *l);

/*
 * Building a listing by hand (for object stores, and for tests): create an
 * empty listing, add paths (classified here; a path added twice is kept
 * once), then finish, which sorts and assigns file keys.
 */
int cl_dms_listing_create(cl_dms_listing **out, const char *dir, cl_error *err);
int cl_dms_listing_add(cl_dms_listing *l, const char *relpath, int64_t size,
		       int64_t mtime_ns, cl_error *err);
void cl_dms_listing_finish(cl_dms_listing *l);

/*
 * The tables under a DMS root: every folder ROOT/<schema>/<table>/, as
 * "schema/table" strings sorted by name. *out is an array of *n owned
 * strings; free with cl_dms_tables_free.
 */
int cl_dms_discover(char ***out, int *n, const char *root, cl_error *err);
void cl_dms_tables_free(char **tables, int n);

/* ---- reading changes -------------------------------------------------- */

typedef struct cl_dms_read_options {
	/*
	 * The table's columns (names and types) when known: header-less CSV
	 * takes its column names from here and CSV values are parsed into
	 * these types (a value that does not fit is an error naming file, line
	 * and column). Borrowed. NULL: names must come from a header (Parquet,
	 * or CSV with a header line) and CSV types are inferred.
	 */
	const cl_schema *schema;
	/* Names of the columns of header-less CSV when no schema is known
	   (--columns); borrowed. */
	const char *const *columns;
	int ncolumns;
	/* The DMS timestamp column's name (TimestampColumnName), or NULL. In
	   header-less CSV it sits after Op and before the table's columns. */
	const char *timestamp_column;
	/* CSV: 1 the first line is a header, 0 it is not, -1 decide (a first
	   line made of known column names is a header; with no known names,
	   the file must have one). */
	int header;
	char delimiter;          /* CSV; default ',' */
	const char *null_marker; /* CSV; NULL: an empty unquoted field */
	int64_t batch_rows;      /* default 65536 */
	int threads;             /* Parquet files decoded on this many threads
				    (cl_read_options.threads); <= 0: 1 */
} cl_dms_read_options;

void cl_dms_read_options_init(cl_dms_read_options *o);

/* One batch of changes of one file. */
typedef struct cl_dms_changes {
	const cl_batch *batch;  /* the data columns (schema: cl_dms_reader_schema);
				   borrowed, valid until the next call */
	const char *ops;        /* nrows of 'I', 'U', 'D'; borrowed likewise */
	int64_t nrows;
	int64_t first_row;      /* row position in the file of row 0 (0-based) */
} cl_dms_changes;

typedef struct cl_dms_reader cl_dms_reader;

/*
 * Open file `f` of the table folder `dir`. The reader is owned by the
 * caller (cl_dms_reader_free). Errors name the file.
 */
int cl_dms_reader_open(cl_dms_reader **out, const char *dir, const cl_dms_file *f,
		       const cl_dms_read_options *o, cl_error *err);
/* The data columns of the file (without Op); borrowed until free. */
const cl_schema *cl_dms_reader_schema(const cl_dms_reader *r);
/* Whether the file has an Op column. */
bool cl_dms_reader_has_op(const cl_dms_reader *r);
/*
 * Next batch of changes; out->nrows == 0 at the end of the file. An Op
 * value other than I, U, D (or empty/NULL in a full-load file) is an error
 * naming file, row and value.
 */
int cl_dms_reader_next(cl_dms_reader *r, cl_dms_changes *out, cl_error *err);
void cl_dms_reader_free(cl_dms_reader *r);


/* ---- what a table has consumed, and what to read next ------------------ */

/*
 * The set of source files a lake table has consumed. It is part of the
 * table, not of the state database: a manifest object in the table's store,
 *   _changelake/dms/consumed-<V>.tsv
 * named by the version V of the table's Delta `txn` action for the
 * application id (CL_DMS_APP_ID by default). The commit that writes the
 * merged data also records V (same commit, so data and watermark never
 * disagree); a manifest no commit points at (a crashed or losing writer's)
 * is ignored. V is chosen unique per attempt (at least the previous V + 1,
 * and the current time in microseconds), the manifest is written with
 * put-if-absent, and the txn action makes two concurrent merges into one
 * table conflict, so exactly one of them commits.
 *
 * Manifest text: a first line "changelake-dms-consumed 1", then one line per
 * file: kind (L or C), size, mtime_ns, file_key, path, separated by tabs; in
 * paths '%', tab, CR and LF are written %25, %09, %0D, %0A. Lines of kind S
 * ("S\t0\t0\t0\tKEY") name the parts of the table's sequence index (store
 * keys, see dms_merge.h), oldest first.
 */
#define CL_DMS_APP_ID "changelake.dms"

typedef struct cl_dms_consumed_file {
	char *path;       /* owned */
	cl_dms_kind kind;
	int64_t size, mtime_ns, file_key;
} cl_dms_consumed_file;

typedef struct cl_dms_consumed {
	int n, cap;
	cl_dms_consumed_file *files; /* sorted by path, unique */
	int nparts, parts_cap;
	char **parts;                /* sequence-index parts (store keys, owned),
					oldest first */
} cl_dms_consumed;

int cl_dms_consumed_create(cl_dms_consumed **out, cl_error *err);
void cl_dms_consumed_free(cl_dms_consumed *c);
/* Add (or replace, by path) one entry; keeps the set sorted. */
int cl_dms_consumed_put(cl_dms_consumed *c, const cl_dms_consumed_file *f, cl_error *err);
/* Append a sequence-index part (store key, copied). */
int cl_dms_consumed_add_part(cl_dms_consumed *c, const char *key, cl_error *err);
/* Drop every sequence-index part (a rebuild starts a new index). */
void cl_dms_consumed_clear_parts(cl_dms_consumed *c);
/* The entry for path, or NULL. */
const cl_dms_consumed_file *cl_dms_consumed_find(const cl_dms_consumed *c,
						  const char *path);
/* Manifest text to and from the set; `label` names the text in errors. */
int cl_dms_consumed_parse(cl_dms_consumed **out, const char *text, size_t n,
			  const char *label, cl_error *err);
int cl_dms_consumed_format(const cl_dms_consumed *c, char **text, size_t *n,
			   cl_error *err);

/*
 * What one run reads. The files to read, in the total order:
 *   - every full-load file of the listing, when the table is `rebuild`:
 *     a full-load file it consumed was rewritten (size or mtime changed),
 *     or a new full-load file appeared after change data was consumed (a
 *     restarted DMS task) — the run then replaces the table's contents.
 *     A consumed full-load file that disappeared (expired by a lifecycle
 *     rule) changes nothing;
 *   - otherwise the full-load files not consumed yet;
 *   - then every CDC file not consumed yet (by path).
 * A consumed CDC file whose size changed is not read again; it is listed in
 * `changed` so the caller can warn. `next` is the consumed set after the run
 * commits (on rebuild, earlier full-load entries are replaced; consumed CDC
 * entries are kept, so old change data is never applied again). `next`
 * keeps the sequence-index parts, except on rebuild (none: the new full
 * load starts a new index).
 */
typedef struct cl_dms_plan {
	bool rebuild;
	int nfiles;
	const cl_dms_file **files; /* borrowed from the listing */
	int nchanged;
	const char **changed;      /* borrowed paths */
	cl_dms_consumed *next;     /* owned by the plan */
} cl_dms_plan;

/* `consumed` may be NULL (a new table). Owned; cl_dms_plan_free. */
int cl_dms_plan_make(cl_dms_plan **out, const cl_dms_listing *l,
		     const cl_dms_consumed *consumed, cl_error *err);
void cl_dms_plan_free(cl_dms_plan *p);

#ifdef __cplusplus
}
#endif
#endif
