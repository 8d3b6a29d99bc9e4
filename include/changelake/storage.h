/*
 * changelake/storage.h — the object store under a lake table.
 *
 * A cl_store is a flat namespace of objects named by keys, relative to the
 * store's root ("_delta_log/00000000000000000000.json",
 * "day=2024-01-01/part-00000-....parquet"). The operations are the ones an
 * object store such as S3 offers, so the table code never assumes a
 * filesystem:
 *
 *   list     every key that starts with a prefix, in ascending byte order,
 *            fetched page by page (ListObjectsV2 style, continuing after the
 *            last key of the previous page) — no limit on the count
 *   get      a whole object or a byte range of it
 *   put      create or replace an object; durable when the call returns
 *   put-if-absent
 *            create an object only if no object has that key: of two
 *            concurrent callers exactly one succeeds, the other gets
 *            CL_ECONFLICT (S3: conditional PUT with If-None-Match: *)
 *   delete   remove an object
 *
 * Writing a large file (a Parquet data file) goes through a staging file:
 * cl_store_stage gives a local path to write to, cl_store_publish makes it
 * the object (local backend: fsync + rename in place; a remote backend
 * uploads it). Reading a data file goes through cl_store_fetch, which gives
 * a local path (local backend: the file itself).
 *
 * Keys are validated: no leading '/', no empty, "." or ".." segment, no
 * control characters — a key never names anything outside the root.
 *
 * Backends implement cl_store_ops (see the end of this header); the local
 * filesystem backend is cl_store_open_local. "s3://" locations are
 * recognised and refused with CL_EUNSUPPORTED until that backend exists.
 */
#ifndef CHANGELAKE_STORAGE_H
#define CHANGELAKE_STORAGE_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cl_store cl_store;

/* One listed object. */
typedef struct cl_store_object {
	char *key;        /* owned by the list */
	int64_t size;     /* bytes */
	int64_t mtime_ms; /* last modified, milliseconds since the Unix epoch */
} cl_store_object;

/* A list of objects; zero-initialise, release with cl_store_list_release. */
typedef struct cl_store_list {
	cl_store_object *items;
	size_t n;
	size_t cap;
} cl_store_list;

void cl_store_list_release(cl_store_list *l);

/*
 * Open a store at `location`: a local directory path or "file://PATH"
 * (the directory need not exist yet; it is created by the first put).
 * Owned by the caller, freed with cl_store_free.
 */
int cl_store_open(cl_store **out, const char *location, cl_error *err);
/* The local filesystem backend rooted at directory `root`. */
int cl_store_open_local(cl_store **out, const char *root, cl_error *err);
void cl_store_free(cl_store *s);

/* The location the store was opened with (borrowed). */
const char *cl_store_location(const cl_store *s);

/*
 * Objects whose key starts with `prefix` (may be "") and sorts after
 * `start_after` (NULL: from the first), ascending by key bytes, appended to
 * *out (all pages). Object-store semantics: there are no directories; a
 * key "a/b" is listed under prefix "a" and "a/".
 */
int cl_store_list_prefix(cl_store *s, const char *prefix, const char *start_after,
			 cl_store_list *out, cl_error *err);

/* Size and modification time of one object; CL_ENOTFOUND when absent. */
int cl_store_head(cl_store *s, const char *key, cl_store_object *out,
		  cl_error *err);

/*
 * The whole object into *data (owned by the caller, cl_free; one NUL byte
 * follows the data so text can be used as a C string), *n its length.
 * CL_ENOTFOUND when absent.
 */
int cl_store_get(cl_store *s, const char *key, uint8_t **data, size_t *n,
		 cl_error *err);
/* Bytes [offset, offset+length) of the object (fewer at its end). */
int cl_store_get_range(cl_store *s, const char *key, int64_t offset, int64_t length,
		       uint8_t **data, size_t *n, cl_error *err);

/* Create or replace the object; durable (synced) when it returns 0. */
int cl_store_put(cl_store *s, const char *key, const void *data, size_t n,
		 cl_error *err);
/*
 * Create the object only if absent, atomically and durably. CL_ECONFLICT
 * when an object with that key exists (another writer won).
 */
int cl_store_put_if_absent(cl_store *s, const char *key, const void *data,
			   size_t n, cl_error *err);
/* Delete the object; CL_ENOTFOUND when absent. */
int cl_store_delete(cl_store *s, const char *key, cl_error *err);

/*
 * A local path (*path owned by the caller, cl_free) where the caller writes
 * a file that cl_store_publish will turn into the object `key`. Nothing is
 * created at the path yet. An abandoned stage is removed with
 * cl_store_unstage; one left behind by a crash is an orphan that vacuum
 * removes (local backend: a hidden ".cl-tmp-*" file beside the object).
 */
int cl_store_stage(cl_store *s, const char *key, char **path, cl_error *err);
/* Make the staged file at `path` the object `key`, durably. The staged file
 * is consumed (moved or uploaded and removed). */
int cl_store_publish(cl_store *s, const char *path, const char *key,
		     cl_error *err);
/* Remove a staged file that will not be published (missing is fine). */
void cl_store_unstage(cl_store *s, const char *path);

/*
 * A local path to read object `key` from (*path owned by the caller,
 * cl_free). *is_temp tells whether it is a downloaded copy the caller
 * removes after use (never for the local backend). CL_ENOTFOUND when absent.
 */
int cl_store_fetch(cl_store *s, const char *key, char **path, bool *is_temp,
		   cl_error *err);

/*
 * The key of an absolute location inside the store: a "file:" URI or an
 * absolute path under the local backend's root (symbolic links resolved),
 * already percent-decoded. *key owned by the caller (cl_free).
 * CL_EUNSUPPORTED when it lies outside the store.
 */
int cl_store_key_from_uri(cl_store *s, const char *uri, char **key, cl_error *err);

/* True when key is a valid relative object key (see the header comment). */
bool cl_store_key_valid(const char *key);

/* Prefix of the hidden staging files of the local backend. */
#define CL_STORE_STAGE_PREFIX ".cl-tmp-"

/*
 * Backend interface. A backend allocates a struct whose first member is a
 * cl_store and fills in ops. Keys reaching the ops are already validated.
 */
typedef struct cl_store_ops {
	const char *scheme; /* "file", "s3", ... */
	/* One page: up to max_keys keys > start_after (NULL: all) starting with
	 * prefix, ascending, appended to out; *more = whether more remain. */
	int (*list_page)(cl_store *s, const char *prefix, const char *start_after,
			 size_t max_keys, cl_store_list *out, bool *more,
			 cl_error *err);
	int (*head)(cl_store *s, const char *key, cl_store_object *out, cl_error *err);
	/* length < 0: to the end. */
	int (*get)(cl_store *s, const char *key, int64_t offset, int64_t length,
		   uint8_t **data, size_t *n, cl_error *err);
	int (*put)(cl_store *s, const char *key, const void *data, size_t n,
		   bool if_absent, cl_error *err);
	int (*del)(cl_store *s, const char *key, cl_error *err);
	int (*stage)(cl_store *s, const char *key, char **path, cl_error *err);
	int (*publish)(cl_store *s, const char *path, const char *key, cl_error *err);
	int (*fetch)(cl_store *s, const char *key, char **path, bool *is_temp,
		     cl_error *err);
	void (*free)(cl_store *s);
} cl_store_ops;

struct cl_store {
	const cl_store_ops *ops;
	char *location;   /* owned */
	size_t page_size; /* keys per list page (tests lower it to check paging) */
};

#ifdef __cplusplus
}
#endif
#endif
