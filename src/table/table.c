/*
 * table.c — the public cl_table / cl_snapshot API: opening a location,
 * snapshots at the latest version, a version or a timestamp (time travel),
 * the snapshot's accessors, and the history of commits.
 */
#include "delta.h"
#include "core/value_text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cl_table {
	cl_store *store;
	/* the checkpoint after the latest commit (cl_table_checkpoint_status) */
	int64_t cp_version;
	int cp_rc;
	cl_error cp_err;
};

void cl__table_set_checkpoint_status(cl_table *t, int64_t version, int rc, const cl_error *e)
{
	t->cp_version = version;
	t->cp_rc = rc;
	memset(&t->cp_err, 0, sizeof t->cp_err);
	if (rc && e)
		t->cp_err = *e;
}

int cl_table_checkpoint_status(const cl_table *t, int64_t *version, cl_error *err)
{
	*version = t->cp_version;
	if (t->cp_rc && err)
		*err = t->cp_err;
	return t->cp_rc;
}

int cl_table_ref_parse(char **location, cl_table_at *at, const char *ref,
		       cl_error *err)
{
	*location = NULL;
	memset(at, 0, sizeof *at);
	at->kind = CL_AT_LATEST;
	const char *a = strrchr(ref, '@');
	size_t loclen = strlen(ref);
	if (a && a[1]) {
		const char *sfx = a + 1;
		size_t n = strlen(sfx);
		bool digits = true;
		for (size_t i = 0; i < n; i++)
			if (sfx[i] < '0' || sfx[i] > '9')
				digits = false;
		int64_t ms;
		int32_t days;
		if (digits && n <= 18) {
			at->kind = CL_AT_VERSION;
			at->version = strtoll(sfx, NULL, 10);
			loclen = (size_t)(a - ref);
		} else if (cl__parse_timestamp(sfx, n, CL_UNIT_MS, &ms, NULL) == 0) {
			at->kind = CL_AT_TIMESTAMP;
			at->timestamp_ms = ms;
			loclen = (size_t)(a - ref);
		} else if (cl__parse_date(sfx, n, &days) == 0) {
			at->kind = CL_AT_TIMESTAMP;
			at->timestamp_ms = (int64_t)days * 86400000;
			loclen = (size_t)(a - ref);
		}
	}
	if (loclen == 0)
		return cl_error_set(err, CL_EINVAL, "'%s': empty table location", ref);
	*location = cl_strndup(ref, loclen);
	return *location ? 0 : cl_error_set(err, CL_ENOMEM, "out of memory");
}

int cl_table_open_store(cl_table **out, cl_store *store, cl_error *err)
{
	*out = cl_calloc(1, sizeof **out);
	if (!*out) {
		cl_store_free(store);
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	}
	(*out)->store = store;
	(*out)->cp_version = -1;
	return 0;
}

int cl_table_open(cl_table **out, const char *location, cl_error *err)
{
	*out = NULL;
	cl_store *s;
	int rc = cl_store_open(&s, location, err);
	return rc ? rc : cl_table_open_store(out, s, err);
}

void cl_table_free(cl_table *t)
{
	if (!t)
		return;
	cl_store_free(t->store);
	cl_free(t);
}

cl_store *cl_table_store(cl_table *t)
{
	return t->store;
}

int cl_table_latest_version(cl_table *t, int64_t *version, cl_error *err)
{
	cl__log_listing l;
	int rc = cl__delta_list_log(&l, t->store, err);
	if (rc)
		return rc;
	*version = l.ncommits ? l.versions[l.ncommits - 1] : -1;
	cl__delta_listing_release(&l);
	return 0;
}

static char *fmt_ms(char *buf, size_t n, int64_t ms)
{
	int64_t days = ms >= 0 ? ms / 86400000 : -((-ms + 86399999) / 86400000);
	int64_t rem = ms - days * 86400000;
	int64_t y;
	unsigned mo, d;
	cl__civil_from_days(days, &y, &mo, &d);
	snprintf(buf, n, "%04lld-%02u-%02u %02d:%02d:%02d.%03dZ", (long long)y, mo, d,
		 (int)(rem / 3600000), (int)(rem / 60000 % 60), (int)(rem / 1000 % 60),
		 (int)(rem % 1000));
	return buf;
}

/*
 * The log listing a snapshot at `at` needs. For the latest version or a
 * version at or after the checkpoint named by _last_checkpoint, only the
 * keys from that checkpoint on are listed (what the hint is for: the log
 * may hold thousands of commits); when that listing cannot serve (the
 * checkpoint or the commits after it are gone) the whole log is listed.
 * Time travel by timestamp always lists everything. *partial tells that the
 * listing starts at the hint (a replay that fails on it is redone over the
 * whole log: a checkpoint that cannot be read is passed over when the
 * commits from 0 are all there).
 */
static int list_for(cl__log_listing *l, cl_store *st, const cl_table_at *at, bool *partial,
		    cl_error *err)
{
	int64_t lc = -1;
	*partial = false;
	if (!at || at->kind != CL_AT_TIMESTAMP)
		cl__delta_last_checkpoint(st, &lc);
	if (lc >= 0 && (!at || at->kind == CL_AT_LATEST || at->version >= lc)) {
		char after[64];
		snprintf(after, sizeof after, CL_DELTA_LOG_DIR "%020lld", (long long)lc);
		cl_error e = {0};
		int rc = cl__delta_list_log_after(l, st, after, &e);
		if (rc == CL_ENOMEM)
			return cl_error_set(err, rc, "%s", e.message);
		bool usable = !rc && l->ncheckpoints > 0 && l->checkpoints[0] == lc &&
			      l->ncommits > 0 && l->versions[0] <= lc + 1 &&
			      (l->versions[0] == lc + 1 || l->versions[0] == lc);
		if (usable && at && at->kind == CL_AT_VERSION)
			usable = at->version <= l->versions[l->ncommits - 1];
		if (usable) {
			*partial = true;
			return 0;
		}
		if (!rc)
			cl__delta_listing_release(l);
	}
	return cl__delta_list_log(l, st, err);
}

int cl_table_snapshot(cl_snapshot **out, cl_table *t, const cl_table_at *at,
		      cl_error *err)
{
	*out = NULL;
	cl__log_listing l;
	bool partial;
	int rc = list_for(&l, t->store, at, &partial, err);
	if (rc)
		return rc;
	int64_t version = -1;
	if (l.ncommits == 0) {
		rc = cl_error_set(err, CL_ENOTFOUND, "%s: not a lake table (no %s%s)",
				  cl_store_location(t->store), CL_DELTA_LOG_DIR,
				  l.ncheckpoints ? " commits, only checkpoints" : "");
		goto out;
	}
	if (!at || at->kind == CL_AT_LATEST) {
		version = l.versions[l.ncommits - 1];
	} else if (at->kind == CL_AT_VERSION) {
		version = at->version;
	} else {
		/* The latest version committed at or before the instant. */
		size_t i = l.ncommits;
		while (i > 0 && l.mtimes[i - 1] > at->timestamp_ms)
			i--;
		if (i == 0) {
			char a[40], b[40];
			rc = cl_error_set(err, CL_ENOTFOUND,
					  "%s: %s is before the first available version "
					  "(%lld, committed %s)", cl_store_location(t->store),
					  fmt_ms(a, sizeof a, at->timestamp_ms),
					  (long long)l.versions[0], fmt_ms(b, sizeof b, l.mtimes[0]));
			goto out;
		}
		version = l.versions[i - 1];
	}
	cl_snapshot *s;
	rc = cl__delta_replay(&s, t->store, &l, version, err);
	if (rc && partial && rc != CL_ENOMEM) {
		/* the hint led to a checkpoint that cannot serve: the whole log */
		cl__delta_listing_release(&l);
		if ((rc = cl__delta_list_log(&l, t->store, err)))
			return rc;
		rc = cl__delta_replay(&s, t->store, &l, version, err);
	}
	if (rc)
		goto out;
	cl_error serr = {0};
	if (!s->schema_string) {
		s->schema_error = "the table metadata has no schemaString";
	} else if (cl__delta_schema_from_json(&s->schema, s->schema_string,
					      strlen(s->schema_string), &serr) != 0) {
		s->schema_error = cl__arena_strdup(&s->arena, serr.message);
		if (serr.code == CL_ENOMEM || !s->schema_error) {
			cl_snapshot_free(s);
			rc = cl_error_set(err, CL_ENOMEM, "out of memory");
			goto out;
		}
		if (serr.code != CL_EUNSUPPORTED) {
			rc = cl_error_set(err, serr.code, "%s: %s", cl_store_location(t->store),
					  serr.message);
			cl_snapshot_free(s);
			goto out;
		}
	}
	*out = s;
out:
	cl__delta_listing_release(&l);
	return rc;
}

void cl_snapshot_free(cl_snapshot *s)
{
	if (!s)
		return;
	cl_schema_free(s->schema);
	cl__json_parser_free(s->stats_parser);
	if (!s->borrowed) {
		cl_free(s->files);
		cl_free(s->tombstones);
		cl_free(s->txns);
	}
	cl__strmap_release(&s->file_index);
	cl__arena_release(&s->arena);
	cl_free(s);
}

int cl__snapshot_pending(cl_snapshot **out, const cl_snapshot *base, const char *meta,
			 size_t n, cl_error *err)
{
	*out = NULL;
	cl_snapshot *s = cl_calloc(1, sizeof *s);
	if (!s)
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	s->borrowed = true;
	s->version = -1;
	if (base) {
		/* the base's strings live in its arena, as long as base */
		s->version = base->version;
		s->timestamp_ms = base->timestamp_ms;
		s->min_reader = base->min_reader;
		s->min_writer = base->min_writer;
		s->reader_features = base->reader_features;
		s->nreader_features = base->nreader_features;
		s->writer_features = base->writer_features;
		s->nwriter_features = base->nwriter_features;
		s->id = base->id;
		s->name = base->name;
		s->description = base->description;
		s->schema_string = base->schema_string;
		s->provider = base->provider;
		s->created_time = base->created_time;
		s->partition_cols = base->partition_cols;
		s->npartition_cols = base->npartition_cols;
		s->config = base->config;
		s->nconfig = base->nconfig;
		s->files = base->files;
		s->nfiles = base->nfiles;
		s->tombstones = base->tombstones;
		s->ntombstones = base->ntombstones;
		s->txns = base->txns;
		s->ntxns = base->ntxns;
		s->have_protocol = base->have_protocol;
		s->have_metadata = base->have_metadata;
	}
	cl__json_parser *p = NULL;
	int rc = cl__json_parser_create(&p, NULL, err);
	/* only protocol and metaData lines: no store is needed */
	rc = rc ? rc : cl__delta_apply_commit(s, NULL, p, "pending metadata", meta, n, err);
	cl__json_parser_free(p);
	if (!rc && (s->nfiles != (base ? base->nfiles : 0) || !s->have_protocol ||
		    !s->have_metadata || !s->schema_string))
		rc = cl_error_set(err, CL_EINVAL, "pending metadata: not a complete protocol "
				  "and metaData of a table");
	rc = rc ? rc : cl__delta_schema_from_json(&s->schema, s->schema_string,
						  strlen(s->schema_string), err);
	if (rc) {
		cl_snapshot_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

int64_t cl_snapshot_version(const cl_snapshot *s) { return s->version; }
int64_t cl_snapshot_timestamp(const cl_snapshot *s) { return s->timestamp_ms; }
const cl_schema *cl_snapshot_schema(const cl_snapshot *s) { return s->schema; }
const char *cl_snapshot_schema_string(const cl_snapshot *s) { return s->schema_string; }
const char *cl_snapshot_table_id(const cl_snapshot *s) { return s->id; }
int cl_snapshot_npartition_columns(const cl_snapshot *s) { return s->npartition_cols; }
const char *cl_snapshot_partition_column(const cl_snapshot *s, int i)
{
	return i >= 0 && i < s->npartition_cols ? s->partition_cols[i] : NULL;
}
int cl_snapshot_nconfig(const cl_snapshot *s) { return s->nconfig; }
cl_table_kv cl_snapshot_config_at(const cl_snapshot *s, int i) { return s->config[i]; }

const char *cl_snapshot_config(const cl_snapshot *s, const char *key)
{
	for (int i = 0; i < s->nconfig; i++)
		if (!strcmp(s->config[i].key, key))
			return s->config[i].value;
	return NULL;
}

void cl_snapshot_protocol(const cl_snapshot *s, int *min_reader, int *min_writer)
{
	*min_reader = s->min_reader;
	*min_writer = s->min_writer;
}

size_t cl_snapshot_nfiles(const cl_snapshot *s) { return s->nfiles; }
const cl_table_file *cl_snapshot_file(const cl_snapshot *s, size_t i)
{
	return i < s->nfiles ? &s->files[i] : NULL;
}

int64_t cl_snapshot_txn_version(const cl_snapshot *s, const char *app_id)
{
	for (size_t i = 0; i < s->ntxns; i++)
		if (!strcmp(s->txns[i].app_id, app_id))
			return s->txns[i].version;
	return -1;
}

int64_t cl_snapshot_num_records(const cl_snapshot *s)
{
	int64_t total = 0;
	for (size_t i = 0; i < s->nfiles; i++) {
		const cl_table_file *f = &s->files[i];
		if (f->num_records < 0)
			return -1;
		/* rows a deletion vector marks deleted are not in the table */
		total += f->num_records - (f->dv ? f->dv->cardinality : 0);
	}
	return total;
}

/* ---- history ---- */

void cl_table_history_free(cl_table_commit *h, size_t n)
{
	if (!h)
		return;
	for (size_t i = 0; i < n; i++) {
		cl_free(h[i].operation);
		cl_free(h[i].commit_info_json);
	}
	cl_free(h);
}

/* Fill c from one commit's text. */
static int scan_commit(cl_table_commit *c, cl__json_parser *p, const char *key,
		       const char *text, size_t n, cl_error *err)
{
	size_t pos = 0;
	int line = 0;
	while (pos < n) {
		const char *nl = memchr(text + pos, '\n', n - pos);
		size_t end = nl ? (size_t)(nl - text) : n;
		line++;
		size_t ls = pos;
		pos = end + 1;
		while (ls < end && (text[ls] == ' ' || text[ls] == '\r' || text[ls] == '\t'))
			ls++;
		if (ls == end)
			continue;
		const cl_json *root;
		int rc = cl__json_parse(p, text + ls, end - ls, &root, err);
		if (rc)
			return cl_error_prefix(err, "%s line %d: ", key, line);
		if (cl__json_get_s(root, "add"))
			c->nadd++;
		if (cl__json_get_s(root, "remove"))
			c->nremove++;
		const cl_json *ci = cl__json_get_s(root, "commitInfo");
		if (ci && ci->kind == CL_JSON_OBJECT && !c->commit_info_json) {
			c->commit_info_json = cl_strndup(text + ls + ci->start, ci->end - ci->start);
			const cl_json *op = cl__json_get_s(ci, "operation");
			if (op && op->kind == CL_JSON_STRING)
				c->operation = cl_strndup(op->u.str, op->n);
			if (!c->commit_info_json || (op && op->kind == CL_JSON_STRING && !c->operation))
				return cl_error_set(err, CL_ENOMEM, "out of memory");
		}
	}
	return 0;
}

int cl_table_history(cl_table_commit **out, size_t *nout, cl_table *t, cl_error *err)
{
	*out = NULL;
	*nout = 0;
	cl__log_listing l;
	int rc = cl__delta_list_log(&l, t->store, err);
	if (rc)
		return rc;
	if (l.ncommits == 0) {
		cl__delta_listing_release(&l);
		return cl_error_set(err, CL_ENOTFOUND, "%s: not a lake table (no %s)",
				    cl_store_location(t->store), CL_DELTA_LOG_DIR);
	}
	cl_table_commit *h = cl_calloc(l.ncommits, sizeof *h);
	cl__json_parser *p = NULL;
	if (!h)
		rc = cl_error_set(err, CL_ENOMEM, "out of memory");
	if (!rc)
		rc = cl__json_parser_create(&p, NULL, err);
	size_t i;
	for (i = 0; !rc && i < l.ncommits; i++) {
		h[i].version = l.versions[i];
		h[i].timestamp_ms = l.mtimes[i];
		char key[64];
		cl__delta_commit_key(key, sizeof key, l.versions[i]);
		uint8_t *text;
		size_t n;
		rc = cl_store_get(t->store, key, &text, &n, err);
		if (!rc) {
			rc = scan_commit(&h[i], p, key, (const char *)text, n, err);
			cl_free(text);
		}
	}
	cl__json_parser_free(p);
	size_t nh = l.ncommits;
	cl__delta_listing_release(&l);
	if (rc) {
		cl_table_history_free(h, nh);
		return rc;
	}
	*out = h;
	*nout = nh;
	return 0;
}
