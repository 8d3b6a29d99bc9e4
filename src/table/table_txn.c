/*
 * table_txn.c — write transactions and the optimistic commit protocol.
 *
 * A transaction collects actions on top of a base snapshot (version B).
 * Commit writes the commit text and publishes it as version B+1 with
 * put-if-absent. State machine of cl_table_txn_commit:
 *
 *   TRY(v):  publish _delta_log/v.json if absent
 *            won   -> done, committed version v
 *            lost  -> CHECK(v)
 *   CHECK(v): read the winning commit v; a conflict if it
 *            - changes metaData or protocol,
 *            - removes a file this transaction removes,
 *            - adds a file in a scope this transaction read (or any file
 *              when it read the whole table),
 *            - records a txn for an appId this transaction records;
 *            conflict -> CL_ECONFLICT; otherwise TRY(v+1)
 *
 * Invariants: the commit text is complete before it is published (one
 * put), so a reader sees all of a version or none of it; data files are
 * durable before the commit that names them is written (the caller's
 * cl_store_publish syncs them). A transaction that changes metadata
 * (added columns, properties, a protocol upgrade) retries like any other
 * past commits that pass CHECK — none of them changed metaData or
 * protocol, so its metaData, made from its base's, is still the table's
 * with its change (files a winner added without the new columns read them
 * as NULL, as older files do); a new table's version 0 never retries.
 *
 * Metadata in the data commit: a transaction may carry protocol/metaData
 * lines (a new table's, version 0 with its first data as CREATE TABLE AS
 * SELECT; added columns) before any file; from then on its writers lay
 * out rows by a pending snapshot, the base with those lines applied
 * (files borrowed from the base). Nothing of it exists until the commit
 * is published, so a run that fails leaves the table as it was.
 */
#include "delta.h"
#include "dv.h"
#include "layout.h"
#include "table_data.h"
#include "storage/crash_point.h"
#include "core/threads.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct strvec {
	char **v;
	size_t n, cap;
} strvec;

static int strvec_add(strvec *s, const char *str)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		char **v = cl_realloc(s->v, cap * sizeof *v);
		if (!v)
			return CL_ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	if (!(s->v[s->n] = cl_strdup(str)))
		return CL_ENOMEM;
	s->n++;
	return 0;
}

static bool strvec_has(const strvec *s, const char *str)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->v[i], str))
			return true;
	return false;
}

static void strvec_release(strvec *s)
{
	for (size_t i = 0; i < s->n; i++)
		cl_free(s->v[i]);
	cl_free(s->v);
	memset(s, 0, sizeof *s);
}

struct cl_table_txn {
	cl_table *t;
	const cl_snapshot *base; /* NULL when creating the table */
	cl_snapshot *pending;    /* base with the metadata of `meta` (owned), or
				    NULL when the transaction sets none */
	int64_t read_version;    /* -1 when creating */
	char *operation;
	cl_buf meta;     /* protocol + metaData lines */
	cl_buf actions;  /* txn, remove, add lines */
	cl_buf params;   /* operationParameters members */
	cl_buf metrics;  /* operationMetrics members */
	cl_buf extra;    /* more commitInfo members */
	strvec removed, scopes, apps;
	bool read_all;
	bool append_only;
	bool borrowed;   /* a fork: pending belongs to the parent */
	int threads;     /* cl_table_txn_set_threads (0: default) */
	int64_t nadd, nremove, bytes_added, bytes_removed, rows_added;
};

static int oom(cl_error *err)
{
	return cl_error_set(err, CL_ENOMEM, "out of memory");
}

int cl_table_txn_begin(cl_table_txn **out, cl_table *t, const cl_snapshot *base,
		       const char *operation, cl_error *err)
{
	*out = NULL;
	if (base) {
		int rc = cl__delta_check_writable(base, err);
		if (rc)
			return rc;
	}
	cl_table_txn *x = cl_calloc(1, sizeof *x);
	if (!x)
		return oom(err);
	x->t = t;
	x->base = base;
	x->read_version = base ? base->version : -1;
	x->operation = cl_strdup(operation ? operation : "WRITE");
	if (!x->operation) {
		cl_free(x);
		return oom(err);
	}
	if (base) {
		const char *ao = cl_snapshot_config(base, "delta.appendOnly");
		x->append_only = ao && !strcmp(ao, "true");
	}
	*out = x;
	return 0;
}

void cl_table_txn_free(cl_table_txn *x)
{
	if (!x)
		return;
	cl_free(x->operation);
	if (!x->borrowed)
		cl_snapshot_free(x->pending);
	cl_buf_release(&x->meta);
	cl_buf_release(&x->actions);
	cl_buf_release(&x->params);
	cl_buf_release(&x->metrics);
	cl_buf_release(&x->extra);
	strvec_release(&x->removed);
	strvec_release(&x->scopes);
	strvec_release(&x->apps);
	cl_free(x);
}

static int put_str(cl_buf *b, const char *s, cl_error *err)
{
	int rc = cl__json_escape(b, s, strlen(s));
	if (rc == CL_EINVAL)
		return cl_error_set(err, CL_EINVAL, "text is not valid UTF-8: '%.40s'", s);
	return rc ? oom(err) : 0;
}

static int put_partition_values(cl_buf *b, const cl_table_kv *kv, int n, cl_error *err)
{
	int rc = cl_buf_puts(b, "\"partitionValues\":{");
	for (int i = 0; !rc && i < n; i++) {
		if (i)
			rc = cl_buf_putc(b, ',');
		rc = rc ? rc : put_str(b, kv[i].key, err);
		rc = rc ? rc : cl_buf_putc(b, ':');
		if (!rc)
			rc = kv[i].value ? put_str(b, kv[i].value, err) : cl_buf_puts(b, "null");
	}
	rc = rc ? rc : cl_buf_putc(b, '}');
	return rc == CL_ENOMEM ? oom(err) : rc;
}

/* Partition values must name exactly the table's partition columns (the
 * pending metadata's when the transaction sets some). */
static int check_partition(const cl_table_txn *x, const char *path, const cl_table_kv *kv,
			   int n, cl_error *err)
{
	const cl_snapshot *s = x->pending ? x->pending : x->base;
	if (!s)
		return 0;
	if (n != s->npartition_cols)
		return cl_error_set(err, CL_EINVAL, "%s: %d partition values for %d partition columns",
				    path, n, s->npartition_cols);
	for (int i = 0; i < n; i++) {
		bool found = false;
		for (int j = 0; j < s->npartition_cols; j++)
			if (!strcmp(kv[i].key, s->partition_cols[j]))
				found = true;
		if (!found)
			return cl_error_set(err, CL_EINVAL, "%s: '%s' is not a partition column",
					    path, kv[i].key);
	}
	return 0;
}

/* A deletion vector descriptor fit for the log (checked before anything
 * is written: a bad descriptor must not reach the log). */
static int check_dv(const cl_table_dv *dv, const char *path, cl_error *err)
{
	if (!dv)
		return 0;
	if (!dv->path_or_inline || !dv->path_or_inline[0] ||
	    (dv->storage_type != 'u' && dv->storage_type != 'p' && dv->storage_type != 'i') ||
	    dv->size_in_bytes < 0 || dv->cardinality < 0 ||
	    (dv->storage_type != 'i' && dv->offset < 0))
		return cl_error_set(err, CL_EINVAL, "%s: invalid deletion vector descriptor",
				    path);
	cl_buf t = {0};
	int rc = cl__dv_json(&t, dv);
	cl_buf_release(&t);
	if (rc == CL_EINVAL)
		return cl_error_set(err, CL_EINVAL,
				    "%s: deletion vector path is not valid UTF-8", path);
	return rc ? oom(err) : 0;
}

/* ",\"deletionVector\":{...}" of a checked descriptor (nothing when NULL). */
static int put_dv(cl_buf *b, const cl_table_dv *dv)
{
	if (!dv)
		return 0;
	int rc = cl_buf_puts(b, ",\"deletionVector\":");
	return rc ? rc : cl__dv_json(b, dv);
}

int cl_table_txn_add(cl_table_txn *x, const cl_table_add *f, cl_error *err)
{
	if (!cl_store_key_valid(f->path) || !strncmp(f->path, CL_DELTA_LOG_DIR,
						       strlen(CL_DELTA_LOG_DIR)))
		return cl_error_set(err, CL_EINVAL, "invalid data file key '%s'", f->path);
	int rc = check_partition(x, f->path, f->partition, f->npartition, err);
	rc = rc ? rc : check_dv(f->dv, f->path, err);
	if (rc)
		return rc;
	if (f->stats_json) {
		cl__json_parser *p;
		const cl_json *root;
		if ((rc = cl__json_parser_create(&p, NULL, err)) != 0)
			return rc;
		rc = cl__json_parse(p, f->stats_json, strlen(f->stats_json), &root, err);
		int64_t nr;
		/* an add with a deletion vector re-attaches a vector to a file
		 * already in the table (merge-on-read): no new rows */
		if (!rc && !f->dv && cl__json_int64(cl__json_get_s(root, "numRecords"), &nr))
			x->rows_added += nr;
		cl__json_parser_free(p);
		if (rc)
			return cl_error_prefix(err, "%s: statistics: ", f->path);
	}
	cl_buf *b = &x->actions;
	rc = cl_buf_puts(b, "{\"add\":{\"path\":\"");
	rc = rc ? rc : cl__delta_path_encode(b, f->path);
	rc = rc ? rc : cl_buf_puts(b, "\",");
	if (rc)
		return oom(err);
	if ((rc = put_partition_values(b, f->partition, f->npartition, err)) != 0)
		return rc;
	rc = cl_buf_printf(b, ",\"size\":%lld,\"modificationTime\":%lld,\"dataChange\":%s",
			   (long long)f->size, (long long)f->mtime_ms,
			   f->data_change ? "true" : "false");
	if (!rc && f->stats_json) {
		rc = cl_buf_puts(b, ",\"stats\":");
		rc = rc ? rc : put_str(b, f->stats_json, err);
	}
	rc = rc ? rc : put_dv(b, f->dv);
	rc = rc ? rc : cl_buf_puts(b, "}}\n");
	if (rc)
		return rc == CL_ENOMEM ? oom(err) : rc;
	x->nadd++;
	x->bytes_added += f->size;
	return 0;
}

int cl_table_txn_remove(cl_table_txn *x, const cl_table_file *f, bool data_change,
			cl_error *err)
{
	if (x->append_only && data_change)
		return cl_error_set(err, CL_EINVAL,
				    "the table is append-only (delta.appendOnly): cannot remove %s",
				    f->path);
	if (strvec_has(&x->removed, f->path))
		return cl_error_set(err, CL_EINVAL, "%s removed twice in one commit", f->path);
	int rc = check_dv(f->dv, f->path, err);
	if (rc)
		return rc;
	cl_buf *b = &x->actions;
	rc = cl_buf_puts(b, "{\"remove\":{\"path\":\"");
	rc = rc ? rc : cl__delta_path_encode(b, f->path);
	rc = rc ? rc : cl_buf_printf(b, "\",\"deletionTimestamp\":%lld,\"dataChange\":%s,"
				     "\"extendedFileMetadata\":true,",
				     (long long)cl__now_ms(), data_change ? "true" : "false");
	if (rc)
		return oom(err);
	if ((rc = put_partition_values(b, f->partition, f->npartition, err)) != 0)
		return rc;
	rc = cl_buf_printf(b, ",\"size\":%lld", (long long)f->size);
	/* the remove names the logical file: path and deletion vector */
	rc = rc ? rc : put_dv(b, f->dv);
	rc = rc ? rc : cl_buf_puts(b, "}}\n");
	rc = rc ? rc : strvec_add(&x->removed, f->path);
	if (rc)
		return oom(err);
	x->nremove++;
	x->bytes_removed += f->size;
	return 0;
}

int cl_table_txn_read_scope(cl_table_txn *x, const char *scope, cl_error *err)
{
	if (strvec_has(&x->scopes, scope))
		return 0;
	return strvec_add(&x->scopes, scope) ? oom(err) : 0;
}

void cl_table_txn_read_all(cl_table_txn *x)
{
	x->read_all = true;
}

int cl_table_txn_set_app_version(cl_table_txn *x, const char *app_id, int64_t version,
				 cl_error *err)
{
	if (strvec_has(&x->apps, app_id))
		return cl_error_set(err, CL_EINVAL, "txn for '%s' set twice", app_id);
	cl_buf *b = &x->actions;
	int rc = cl_buf_puts(b, "{\"txn\":{\"appId\":");
	if (rc)
		return oom(err);
	if ((rc = put_str(b, app_id, err)) != 0)
		return rc;
	rc = cl_buf_printf(b, ",\"version\":%lld,\"lastUpdated\":%lld}}\n", (long long)version,
			   (long long)cl__now_ms());
	rc = rc ? rc : strvec_add(&x->apps, app_id);
	return rc ? oom(err) : 0;
}

/* Append "key":VALUE to a members buffer (VALUE raw JSON). */
static int add_member(cl_buf *b, const char *key, const char *raw, bool quote_value,
		      cl_error *err)
{
	int rc = b->len ? cl_buf_putc(b, ',') : 0;
	if (rc)
		return oom(err);
	if ((rc = put_str(b, key, err)) != 0)
		return rc;
	if (cl_buf_putc(b, ':'))
		return oom(err);
	if (quote_value)
		return put_str(b, raw, err);
	return cl_buf_puts(b, raw) ? oom(err) : 0;
}

static bool has_member(const cl_buf *b, const char *key)
{
	if (!b->len)
		return false;
	char pat[300];
	snprintf(pat, sizeof pat, "\"%s\":", key);
	return strstr((const char *)b->data, pat) != NULL;
}

int cl_table_txn_set_commit_info(cl_table_txn *x, const char *key, const char *raw_json,
				 cl_error *err)
{
	static const char *const reserved[] = {"timestamp", "operation", "operationParameters",
					       "operationMetrics", "readVersion", "isolationLevel",
					       "isBlindAppend", "engineInfo", "txnId", NULL};
	for (const char *const *r = reserved; *r; r++)
		if (!strcmp(key, *r))
			return cl_error_set(err, CL_EINVAL, "commitInfo key '%s' is reserved", key);
	if (has_member(&x->extra, key))
		return cl_error_set(err, CL_EINVAL, "commitInfo key '%s' set twice", key);
	cl__json_parser *p;
	const cl_json *root;
	int rc = cl__json_parser_create(&p, NULL, err);
	if (rc)
		return rc;
	rc = cl__json_parse(p, raw_json, strlen(raw_json), &root, err);
	cl__json_parser_free(p);
	if (rc)
		return cl_error_prefix(err, "commitInfo '%s': ", key);
	if (strchr(raw_json, '\n'))
		return cl_error_set(err, CL_EINVAL, "commitInfo '%s': JSON must be on one line", key);
	return add_member(&x->extra, key, raw_json, false, err);
}

int cl_table_txn_set_metric(cl_table_txn *x, const char *key, int64_t value, cl_error *err)
{
	char v[32];
	snprintf(v, sizeof v, "%lld", (long long)value);
	if (has_member(&x->metrics, key))
		return cl_error_set(err, CL_EINVAL, "metric '%s' set twice", key);
	return add_member(&x->metrics, key, v, true, err);
}

int cl_table_txn_set_param(cl_table_txn *x, const char *key, const char *value,
			   cl_error *err)
{
	if (has_member(&x->params, key))
		return cl_error_set(err, CL_EINVAL, "parameter '%s' set twice", key);
	return add_member(&x->params, key, value, true, err);
}

/*
 * The protocol/metaData lines the commit carries (a new table's, added
 * columns, properties): from now on the transaction's snapshot
 * (cl_table_txn_snapshot: what writers lay out rows by) is the pending
 * one, base plus these lines. Called before any file is added.
 */
int cl__table_txn_set_meta(cl_table_txn *x, const char *meta_lines, cl_error *err)
{
	if (x->nadd || x->nremove)
		return cl_error_set(err, CL_EINVAL, "table metadata set after files were added "
				    "or removed in the same transaction");
	cl_snapshot *pending = NULL;
	int rc = cl__snapshot_pending(&pending, x->base, meta_lines, strlen(meta_lines), err);
	if (rc)
		return rc;
	cl_buf_clear(&x->meta);
	if (cl_buf_puts(&x->meta, meta_lines)) {
		cl_buf_clear(&x->meta);
		cl_snapshot_free(pending);
		return oom(err);
	}
	cl_snapshot_free(x->pending);
	x->pending = pending;
	return 0;
}

static int build_commit(cl_table_txn *x, cl_buf *out, int64_t version, const char *txn_id,
			cl_error *err)
{
	cl_buf m = {0};
	int rc = 0;
	/* default metrics first, unless the caller set the same name */
	struct { const char *k; int64_t v; } defs[] = {
		{"numAddedFiles", x->nadd}, {"numRemovedFiles", x->nremove},
		{"numAddedBytes", x->bytes_added}, {"numRemovedBytes", x->bytes_removed},
		{"numOutputRows", x->rows_added}};
	for (size_t i = 0; !rc && i < sizeof defs / sizeof defs[0]; i++) {
		if (has_member(&x->metrics, defs[i].k))
			continue;
		char v[32];
		snprintf(v, sizeof v, "%lld", (long long)defs[i].v);
		rc = add_member(&m, defs[i].k, v, true, err);
	}
	if (!rc && x->metrics.len) {
		if (m.len)
			rc = cl_buf_putc(&m, ',');
		rc = rc ? rc : cl_buf_append(&m, x->metrics.data, x->metrics.len);
	}
	if (rc) {
		cl_buf_release(&m);
		return rc == CL_ENOMEM ? oom(err) : rc;
	}
	bool blind = x->nremove == 0 && !x->read_all && x->scopes.n == 0 && x->meta.len == 0;
	rc = rc ? rc : cl_buf_printf(out, "{\"commitInfo\":{\"timestamp\":%lld,\"operation\":",
				     (long long)cl__now_ms());
	rc = rc ? rc : put_str(out, x->operation, err);
	rc = rc ? rc : cl_buf_printf(out, ",\"operationParameters\":{%s}",
				     x->params.len ? (const char *)x->params.data : "");
	if (!rc && version > 0)
		rc = cl_buf_printf(out, ",\"readVersion\":%lld", (long long)(version - 1));
	rc = rc ? rc : cl_buf_printf(out, ",\"isolationLevel\":\"Serializable\","
				     "\"isBlindAppend\":%s,\"operationMetrics\":{%s},"
				     "\"engineInfo\":\"changelake/" CL_VERSION_STRING "\","
				     "\"txnId\":\"%s\"",
				     blind ? "true" : "false", m.len ? (const char *)m.data : "",
				     txn_id);
	if (!rc && x->extra.len) {
		rc = cl_buf_putc(out, ',');
		rc = rc ? rc : cl_buf_append(out, x->extra.data, x->extra.len);
	}
	rc = rc ? rc : cl_buf_puts(out, "}}\n");
	rc = rc ? rc : cl_buf_append(out, x->meta.data, x->meta.len);
	rc = rc ? rc : cl_buf_append(out, x->actions.data, x->actions.len);
	cl_buf_release(&m);
	return rc == CL_ENOMEM ? oom(err) : rc;
}

/* Does the winning commit `text` (version v) conflict with x? */
static int check_conflict(cl_table_txn *x, int64_t v, const char *text, size_t n,
			  cl_error *err)
{
	cl__json_parser *p;
	int rc = cl__json_parser_create(&p, NULL, err);
	if (rc)
		return rc;
	cl_buf scope = {0};
	size_t pos = 0;
	while (!rc && pos < n) {
		const char *nl = memchr(text + pos, '\n', n - pos);
		size_t end = nl ? (size_t)(nl - text) : n;
		size_t ls = pos;
		pos = end + 1;
		if (end == ls)
			continue;
		const cl_json *root;
		if ((rc = cl__json_parse(p, text + ls, end - ls, &root, err)) != 0) {
			cl_error_prefix(err, "version %lld: ", (long long)v);
			break;
		}
		if (cl__json_get_s(root, "metaData") || cl__json_get_s(root, "protocol")) {
			rc = cl_error_set(err, CL_ECONFLICT,
					  "concurrent commit: version %lld changed the table metadata",
					  (long long)v);
			break;
		}
		const cl_json *a;
		if ((a = cl__json_get_s(root, "txn")) != NULL) {
			const cl_json *app = cl__json_get_s(a, "appId");
			if (app && app->kind == CL_JSON_STRING && strvec_has(&x->apps, app->u.str))
				rc = cl_error_set(err, CL_ECONFLICT,
						  "concurrent commit: version %lld also recorded "
						  "application '%s'", (long long)v, app->u.str);
		}
		bool is_add = (a = cl__json_get_s(root, "add")) != NULL;
		if (!is_add)
			a = cl__json_get_s(root, "remove");
		if (rc || !a)
			continue;
		const cl_json *path = cl__json_get_s(a, "path");
		if (!path || path->kind != CL_JSON_STRING)
			continue;
		char *key;
		if ((rc = cl__delta_path_decode(&key, cl_table_store(x->t), path->u.str, path->n,
						err)) != 0)
			break;
		if (!is_add && strvec_has(&x->removed, key)) {
			rc = cl_error_set(err, CL_ECONFLICT,
					  "concurrent commit: version %lld also removed %s",
					  (long long)v, key);
		} else if (is_add && x->read_all) {
			rc = cl_error_set(err, CL_ECONFLICT,
					  "concurrent commit: version %lld added %s to data this "
					  "commit read", (long long)v, key);
		} else if (is_add && x->scopes.n) {
			cl_buf_clear(&scope);
			if (cl__layout_scope_of_key(&scope, key))
				rc = oom(err);
			else if (strvec_has(&x->scopes, (const char *)scope.data))
				rc = cl_error_set(err, CL_ECONFLICT,
						  "concurrent commit: version %lld added %s to data "
						  "this commit rewrote", (long long)v, key);
		}
		cl_free(key);
	}
	cl_buf_release(&scope);
	cl__json_parser_free(p);
	return rc;
}

int cl_table_txn_commit(cl_table_txn *x, int64_t *version_out, cl_error *err)
{
	cl_store *st = cl_table_store(x->t);
	char txn_id[37];
	cl__uuid4(txn_id);
	int64_t v = x->read_version + 1;
	cl_buf text = {0};
	int rc = 0;
	for (int attempt = 0;; attempt++) {
		if (attempt > 10000) {
			rc = cl_error_set(err, CL_ECONFLICT, "gave up after %d concurrent commits",
					  attempt);
			break;
		}
		cl_buf_clear(&text);
		if ((rc = build_commit(x, &text, v, txn_id, err)) != 0)
			break;
		char key[64];
		cl__delta_commit_key(key, sizeof key, v);
		cl__crash_point("commit-before-publish");
		rc = cl_store_put_if_absent(st, key, text.data, text.len, err);
		if (rc == 0) {
			cl__crash_point("commit-after-publish");
			if (version_out)
				*version_out = v;
			break;
		}
		if (rc != CL_ECONFLICT)
			break;
		if (!x->base) {
			rc = cl_error_set(err, CL_ECONFLICT,
					  "%s: the table already exists (another writer "
					  "created it); nothing of this commit was kept",
					  cl_store_location(st));
			break;
		}
		uint8_t *winner;
		size_t n;
		if ((rc = cl_store_get(st, key, &winner, &n, err)) != 0)
			break;
		rc = check_conflict(x, v, (const char *)winner, n, err);
		cl_free(winner);
		if (rc) {
			cl_error_prefix(err, "%s: ", cl_store_location(st));
			break;
		}
		v++;
	}
	cl_buf_release(&text);
	/* the commit stands whatever happens to its checkpoint */
	if (!rc)
		cl__delta_checkpoint_after_commit(x->t, x->base, v);
	return rc;
}

void cl_table_txn_set_threads(cl_table_txn *x, int n)
{
	x->threads = n > 0 ? n : 0;
}

int cl_table_txn_threads(const cl_table_txn *x)
{
	return cl__threads_resolve(x->threads);
}

/*
 * Forks and joins: writers on several threads (copy-on-write's buckets)
 * each record their file actions (adds, removes, read scopes) into a fork
 * of x of their own, never touched by another thread; the caller joins
 * the forks into x one after another in an order of its choosing, so the
 * commit does not depend on which thread finished first. A fork shares x's
 * base and pending snapshot (borrowed: x must outlive it) and carries no
 * metadata, commit info or app versions of its own; it is never
 * committed, only joined (or freed: its actions are dropped).
 */
int cl__table_txn_fork(cl_table_txn **out, cl_table_txn *x, cl_error *err)
{
	*out = NULL;
	cl_table_txn *f = cl_calloc(1, sizeof *f);
	if (!f || !(f->operation = cl_strdup(x->operation))) {
		cl_free(f);
		return oom(err);
	}
	f->t = x->t;
	f->base = x->base;
	f->pending = x->pending;
	f->borrowed = true;
	f->read_version = x->read_version;
	f->append_only = x->append_only;
	f->threads = x->threads;
	*out = f;
	return 0;
}

/* Append fork f's actions to x (as if recorded on x in f's order); f is
 * left as it was (free it after). A file removed by both is an error, as
 * a second cl_table_txn_remove of it would be. */
int cl__table_txn_join(cl_table_txn *x, const cl_table_txn *f, cl_error *err)
{
	for (size_t i = 0; i < f->removed.n; i++)
		if (strvec_has(&x->removed, f->removed.v[i]))
			return cl_error_set(err, CL_EINVAL, "%s removed twice in one commit",
					    f->removed.v[i]);
	int rc = f->actions.len ? cl_buf_append(&x->actions, f->actions.data, f->actions.len) : 0;
	for (size_t i = 0; !rc && i < f->removed.n; i++)
		rc = strvec_add(&x->removed, f->removed.v[i]);
	for (size_t i = 0; !rc && i < f->scopes.n; i++)
		if (!strvec_has(&x->scopes, f->scopes.v[i]))
			rc = strvec_add(&x->scopes, f->scopes.v[i]);
	if (rc)
		return oom(err);
	x->read_all |= f->read_all;
	x->nadd += f->nadd;
	x->nremove += f->nremove;
	x->bytes_added += f->bytes_added;
	x->bytes_removed += f->bytes_removed;
	x->rows_added += f->rows_added;
	return 0;
}

/* What writers lay out rows by: the pending snapshot when the
 * transaction sets metadata, else its base (NULL: none). */
const cl_snapshot *cl__table_txn_base(const cl_table_txn *x)
{
	return x->pending ? x->pending : x->base;
}

const cl_snapshot *cl_table_txn_snapshot(const cl_table_txn *x)
{
	return cl__table_txn_base(x);
}

cl_table *cl__table_txn_table(const cl_table_txn *x)
{
	return x->t;
}
