/*
 * changelake/dms_merge.h — DMS change data into a lake table: the parts
 * that tie the source (dms.h) to the table (table.h).
 *
 * The consumed-file set lives in the table (see the manifest in dms.h):
 * cl_dms_consumed_load reads the set a snapshot points at, and
 * cl_dms_consumed_record writes the next set and puts its version into a
 * write transaction, so the commit that writes merged data also moves the
 * watermark — a crash before the commit leaves both as they were, a crash
 * after leaves both done.
 */
#ifndef CHANGELAKE_DMS_MERGE_H
#define CHANGELAKE_DMS_MERGE_H

#include "dms.h"
#include "table.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Store key of the manifest of txn version v: "_changelake/dms/consumed-<v>.tsv"
 * (written into buf of n bytes; returns buf). */
const char *cl_dms_manifest_key(char *buf, size_t n, int64_t v);

/*
 * The consumed set of snapshot `s` for `app_id` (NULL: CL_DMS_APP_ID):
 * *out owned (cl_dms_consumed_free), empty when the table records none;
 * *version (may be NULL) the txn version, -1 when none. A txn version whose
 * manifest is missing or malformed is CL_EFORMAT (never "nothing consumed",
 * which would load every file again).
 */
int cl_dms_consumed_load(cl_dms_consumed **out, int64_t *version, cl_table *t,
			 const cl_snapshot *s, const char *app_id, cl_error *err);

/*
 * Write `c` as a new manifest (put-if-absent under a fresh version greater
 * than base's) and record that version in transaction x, plus a commitInfo
 * entry "changelake" with the source, manifest key and file count.
 * *version (may be NULL) gets the version used.
 */
int cl_dms_consumed_record(cl_table *t, cl_table_txn *x, const cl_snapshot *base,
			   const cl_dms_consumed *c, const char *app_id,
			   const char *source, int64_t *version, cl_error *err);

#ifdef __cplusplus
}
#endif
#endif
