/*
 * table_vacuum.c — delete data files no version within the retention
 * period needs.
 *
 * A file is deleted only when all of these hold:
 *   - it is not live in the latest version;
 *   - no remove action younger than the retention names it (so every
 *     version that was current within the retention still has its files:
 *     a file removed at time T was live in versions current up to T);
 *   - the object itself is older than the retention (a writer's data files
 *     that are not committed yet, or a commit in flight, are never taken);
 *   - it is not under _delta_log/ or another hidden folder ("_x" or ".x"),
 *     and not a hidden file — except the staging files of crashed
 *     changelake writers (CL_STORE_STAGE_PREFIX), which are orphans.
 * Deletion vector files ('u' and 'p' storage inside the table) count as
 * needed by the live file or unexpired tombstone that names them: a DV
 * file is deleted only when nothing within the retention names it (and
 * it is older than the retention, like an uncommitted writer's file).
 * Vacuum refuses tables whose writer features changelake does not know
 * (the vacuumProtocolCheck feature asks exactly that).
 */
#include "delta.h"
#include "dv.h"

#include <string.h>

/* Should vacuum consider this key at all? */
static bool candidate(const char *key)
{
	const char *seg = key;
	for (;;) {
		const char *slash = strchr(seg, '/');
		bool last = slash == NULL;
		if (seg[0] == '_' || seg[0] == '.') {
			if (!last)
				return false; /* a hidden folder: _delta_log, _changelake, ... */
			/* a stage file, or the temporary file a cl_writer makes
			 * beside it ("." + its name + ".tmp-...") */
			size_t n = strlen(CL_STORE_STAGE_PREFIX);
			return !strncmp(seg, CL_STORE_STAGE_PREFIX, n) ||
			       (seg[0] == '.' && !strncmp(seg + 1, CL_STORE_STAGE_PREFIX, n));
		}
		if (last)
			return true;
		seg = slash + 1;
	}
}

/* Keep the file of deletion vector dv (if it lives in the store); the
 * key is added to *owned for release. */
static int keep_dv(cl__strmap *keep, char ***owned, size_t *nowned, cl_store *st,
		   const cl_table_dv *dv, const char *data_path, cl_error *err)
{
	if (!dv || dv->storage_type == 'i')
		return 0;
	char *key = NULL;
	int rc = cl__dv_file_key(&key, st, dv, err);
	if (rc == CL_EUNSUPPORTED)
		return 0; /* a 'p' file outside the table: not vacuum's */
	if (rc)
		return cl_error_prefix(err, "vacuum: %s: ", data_path);
	char **no = cl_realloc(*owned, (*nowned + 1) * sizeof *no);
	if (!no) {
		cl_free(key);
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	}
	*owned = no;
	no[(*nowned)++] = key;
	if (cl__strmap_put(keep, key, 1))
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	return 0;
}

int cl_table_vacuum(cl_table *t, int64_t retain_ms, bool dry_run, cl_vacuum_result *res,
		    cl_store_list *deleted, cl_error *err)
{
	memset(res, 0, sizeof *res);
	if (retain_ms < 0)
		return cl_error_set(err, CL_EINVAL, "negative retention");
	cl_snapshot *s = NULL;
	cl_store_list all = {0};
	cl__strmap keep = {0};
	char **owned = NULL; /* DV file keys in keep */
	size_t nowned = 0;
	int rc = cl_table_snapshot(&s, t, NULL, err);
	if (rc)
		return rc;
	if ((rc = cl__delta_check_writable(s, err)) != 0) {
		cl_error_prefix(err, "vacuum: ");
		goto out;
	}
	int64_t cutoff = cl__now_ms() - retain_ms;
	for (size_t i = 0; !rc && i < s->nfiles; i++)
		rc = cl__strmap_put(&keep, s->files[i].path, 1);
	for (size_t i = 0; !rc && i < s->ntombstones; i++)
		if (s->tombstones[i].deletion_ts >= cutoff)
			rc = cl__strmap_put(&keep, s->tombstones[i].path, 1);
	if (rc) {
		rc = cl_error_set(err, CL_ENOMEM, "out of memory");
		goto out;
	}
	cl_store *st = cl_table_store(t);
	for (size_t i = 0; !rc && i < s->nfiles; i++)
		rc = keep_dv(&keep, &owned, &nowned, st, s->files[i].dv, s->files[i].path, err);
	for (size_t i = 0; !rc && i < s->ntombstones; i++)
		if (s->tombstones[i].deletion_ts >= cutoff)
			rc = keep_dv(&keep, &owned, &nowned, st, s->tombstones[i].dv,
				     s->tombstones[i].path, err);
	if (rc)
		goto out;
	if ((rc = cl_store_list_prefix(st, "", NULL, &all, err)) != 0)
		goto out;
	for (size_t i = 0; i < all.n; i++) {
		const cl_store_object *o = &all.items[i];
		if (!candidate(o->key) || cl__strmap_get(&keep, o->key) >= 0)
			continue;
		if (o->mtime_ms >= cutoff) {
			res->files_kept++;
			continue;
		}
		if (!dry_run) {
			rc = cl_store_delete(st, o->key, err);
			if (rc == CL_ENOTFOUND) {
				rc = 0; /* another vacuum took it */
				continue;
			}
			if (rc)
				goto out;
		}
		res->files_deleted++;
		res->bytes_deleted += o->size;
		if (deleted) {
			if (deleted->n == deleted->cap) {
				size_t cap = deleted->cap ? deleted->cap * 2 : 32;
				cl_store_object *p = cl_realloc(deleted->items, cap * sizeof *p);
				if (!p) {
					rc = cl_error_set(err, CL_ENOMEM, "out of memory");
					goto out;
				}
				deleted->items = p;
				deleted->cap = cap;
			}
			deleted->items[deleted->n++] = *o;
			all.items[i].key = NULL; /* moved */
		}
	}
out:
	cl__strmap_release(&keep);
	for (size_t i = 0; i < nowned; i++)
		cl_free(owned[i]);
	cl_free(owned);
	cl_store_list_release(&all);
	cl_snapshot_free(s);
	return rc;
}
