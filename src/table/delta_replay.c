/*
 * delta_replay.c — reading the Delta log: listing _delta_log, replaying
 * commits into a snapshot, and checking that changelake may read it.
 *
 * Replay: for version V the commits 0..V are applied in order. Within one
 * commit, removes are applied before adds (a commit may remove a path and
 * add it again with new metadata; the protocol does not order actions).
 * The live files are kept in a map from the logical file identity
 * (PROTOCOL.md: the path, plus the deletion vector's uniqueId when the
 * action has one) to their index, and sorted by path at the end: a commit
 * that removes (path, old vector) and adds (path, new vector) leaves the
 * new one whatever the order of its lines, and a remove naming another
 * vector than the live one leaves the live file alone. One path live
 * twice (two vectors) is CL_EFORMAT. Removes become tombstones with the
 * vector they name (vacuum keeps its file while the tombstone lasts). Replay starts from the latest complete checkpoint at or before the
 * version whose following commits are all there (delta_checkpoint.c turns
 * its rows back into actions); without one every commit from 0 is
 * replayed. A checkpoint that cannot be read while the commits from 0 are
 * all there is passed over (the commits say the same); otherwise it is an
 * error. A gap in the commits is CL_EFORMAT.
 *
 * Commit timestamps (for time travel) are the commit objects' modification
 * times, made strictly increasing (a commit whose time is not after the
 * previous one's counts as one millisecond later), as Delta does.
 */
#include "delta.h"
#include "dv.h"

#include <stdlib.h>
#include <string.h>

void cl__delta_listing_release(cl__log_listing *l)
{
	cl_store_list_release(&l->objects);
	cl_free(l->versions);
	cl_free(l->mtimes);
	cl_free(l->checkpoints);
	cl_free(l->checkpoint_parts);
	memset(l, 0, sizeof *l);
}

typedef struct part_group {
	int64_t version;
	int nparts;
	uint64_t seen_bits; /* parts 1..64 */
	int seen;
} part_group;

int cl__delta_list_log(cl__log_listing *out, cl_store *s, cl_error *err)
{
	return cl__delta_list_log_after(out, s, NULL, err);
}

int cl__delta_list_log_after(cl__log_listing *out, cl_store *s, const char *start_after,
			     cl_error *err)
{
	memset(out, 0, sizeof *out);
	int rc = cl_store_list_prefix(s, CL_DELTA_LOG_DIR, start_after, &out->objects, err);
	if (rc)
		return rc;
	size_t n = out->objects.n;
	out->versions = cl_malloc((n + 1) * sizeof *out->versions);
	out->mtimes = cl_malloc((n + 1) * sizeof *out->mtimes);
	out->checkpoints = cl_malloc((n + 1) * sizeof *out->checkpoints);
	out->checkpoint_parts = cl_calloc(n + 1, sizeof *out->checkpoint_parts);
	part_group *groups = cl_calloc(n + 1, sizeof *groups);
	size_t ngroups = 0;
	if (!out->versions || !out->mtimes || !out->checkpoints || !out->checkpoint_parts ||
	    !groups) {
		cl_free(groups);
		cl__delta_listing_release(out);
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		const cl_store_object *o = &out->objects.items[i];
		int64_t v;
		int part = 0, nparts = 0;
		switch (cl__delta_log_classify(o->key, &v, &part, &nparts)) {
		case CL__LOG_COMMIT:
			out->versions[out->ncommits] = v;
			out->mtimes[out->ncommits++] = o->mtime_ms;
			break;
		case CL__LOG_CHECKPOINT:
			out->checkpoint_parts[out->ncheckpoints] = 0;
			out->checkpoints[out->ncheckpoints++] = v;
			break;
		case CL__LOG_CHECKPOINT_PART: {
			size_t g = 0;
			while (g < ngroups && !(groups[g].version == v && groups[g].nparts == nparts))
				g++;
			if (g == ngroups)
				groups[ngroups++] = (part_group){v, nparts, 0, 0};
			if (part <= 64 && !(groups[g].seen_bits & (1ULL << (part - 1)))) {
				groups[g].seen_bits |= 1ULL << (part - 1);
				groups[g].seen++;
			}
			break;
		}
		case CL__LOG_CHECKPOINT_V2:
			out->has_v2_checkpoint = true;
			break;
		default:
			break;
		}
	}
	for (size_t g = 0; g < ngroups; g++)
		if (groups[g].nparts <= 64 && groups[g].seen == groups[g].nparts) {
			out->checkpoint_parts[out->ncheckpoints] = groups[g].nparts;
			out->checkpoints[out->ncheckpoints++] = groups[g].version;
		}
	cl_free(groups);
	/* Keys are zero-padded, so commits are listed in version order; the
	 * sort only guards against a backend that lists otherwise. */
	for (size_t i = 1; i < out->ncommits; i++)
		if (out->versions[i] <= out->versions[i - 1]) {
			cl__delta_listing_release(out);
			return cl_error_set(err, CL_EINTERNAL, "log listing is not sorted");
		}
	for (size_t i = 1; i < out->ncommits; i++)
		if (out->mtimes[i] <= out->mtimes[i - 1])
			out->mtimes[i] = out->mtimes[i - 1] + 1;
	/* ascending by version (insertion sort keeps parts alongside) */
	for (size_t i = 1; i < out->ncheckpoints; i++)
		for (size_t j = i; j > 0 && out->checkpoints[j - 1] > out->checkpoints[j]; j--) {
			int64_t tv = out->checkpoints[j];
			int tp = out->checkpoint_parts[j];
			out->checkpoints[j] = out->checkpoints[j - 1];
			out->checkpoint_parts[j] = out->checkpoint_parts[j - 1];
			out->checkpoints[j - 1] = tv;
			out->checkpoint_parts[j - 1] = tp;
		}
	return 0;
}

/* ---- applying actions ---- */

static int oom(cl_error *err)
{
	return cl_error_set(err, CL_ENOMEM, "out of memory");
}

static const char *jstr(const cl_json *obj, const char *key)
{
	const cl_json *v = cl__json_get_s(obj, key);
	return v && v->kind == CL_JSON_STRING ? v->u.str : NULL;
}

static int dup_str(cl_snapshot *s, const cl_json *v, const char **out)
{
	*out = NULL;
	if (!v || v->kind != CL_JSON_STRING)
		return 0;
	*out = cl__arena_strndup(&s->arena, v->u.str, v->n);
	return *out ? 0 : CL_ENOMEM;
}

static int str_array(cl_snapshot *s, const cl_json *arr, const char ***out, int *n)
{
	*out = NULL;
	*n = 0;
	if (!arr || arr->kind != CL_JSON_ARRAY)
		return 0;
	const char **a = cl__arena_alloc(&s->arena, (arr->n + 1) * sizeof *a);
	if (!a)
		return CL_ENOMEM;
	int k = 0;
	for (size_t i = 0; i < arr->n; i++) {
		const cl_json *it = cl__json_at(arr, i);
		if (it->kind != CL_JSON_STRING)
			return CL_EFORMAT;
		if (!(a[k++] = cl__arena_strndup(&s->arena, it->u.str, it->n)))
			return CL_ENOMEM;
	}
	*out = a;
	*n = k;
	return 0;
}

/* Map of string -> string (or null) into kvs. */
static int str_map(cl_snapshot *s, const cl_json *obj, cl_table_kv **out, int *n)
{
	*out = NULL;
	*n = 0;
	if (!obj || obj->kind != CL_JSON_OBJECT)
		return obj && obj->kind != CL_JSON_NULL ? CL_EFORMAT : 0;
	cl_table_kv *kv = cl__arena_alloc(&s->arena, (obj->n + 1) * sizeof *kv);
	if (!kv)
		return CL_ENOMEM;
	for (size_t i = 0; i < obj->n; i++) {
		const cl_json_member *m = &obj->u.members[i];
		kv[i].key = cl__arena_strndup(&s->arena, m->key, m->key_len);
		if (!kv[i].key)
			return CL_ENOMEM;
		if (m->value.kind == CL_JSON_NULL) {
			kv[i].value = NULL;
		} else if (m->value.kind == CL_JSON_STRING) {
			if (!(kv[i].value = cl__arena_strndup(&s->arena, m->value.u.str, m->value.n)))
				return CL_ENOMEM;
		} else {
			return CL_EFORMAT;
		}
	}
	*out = kv;
	*n = (int)obj->n;
	return 0;
}

static int64_t stats_num_records(cl__json_parser *p, const char *stats, size_t n)
{
	const cl_json *root;
	int64_t v;
	if (cl__json_parse(p, stats, n, &root, NULL) != 0)
		return -1;
	return cl__json_int64(cl__json_get_s(root, "numRecords"), &v) && v >= 0 ? v : -1;
}

/*
 * A deletionVector object (absent or null: *out NULL) into an arena-owned
 * descriptor. The fields are checked for presence and range here; the
 * vector itself is read (and checked against them) when rows are read.
 */
static int parse_dv(cl_snapshot *s, const cl_json *v, const cl_table_dv **out,
		    cl_error *err)
{
	*out = NULL;
	if (!v || v->kind == CL_JSON_NULL)
		return 0;
	if (v->kind != CL_JSON_OBJECT)
		return cl_error_set(err, CL_EFORMAT, "deletionVector is not an object");
	const cl_json *st = cl__json_get_s(v, "storageType");
	const cl_json *pi = cl__json_get_s(v, "pathOrInlineDv");
	const cl_json *off = cl__json_get_s(v, "offset");
	int64_t size, card, offset = -1;
	if (!st || st->kind != CL_JSON_STRING || !pi || pi->kind != CL_JSON_STRING)
		return cl_error_set(err, CL_EFORMAT,
				    "deletionVector without storageType or pathOrInlineDv");
	if (st->n != 1 || !strchr("upi", st->u.str[0]))
		return cl_error_set(err, CL_EUNSUPPORTED,
				    "deletion vector storage type '%.*s' is not supported",
				    (int)(st->n > 8 ? 8 : st->n), st->u.str);
	if (!cl__json_int64(cl__json_get_s(v, "sizeInBytes"), &size) || size < 0 ||
	    size > INT32_MAX || !cl__json_int64(cl__json_get_s(v, "cardinality"), &card) ||
	    card < 0)
		return cl_error_set(err, CL_EFORMAT,
				    "deletionVector: missing or bad sizeInBytes/cardinality");
	if (off && off->kind != CL_JSON_NULL && (!cl__json_int64(off, &offset) || offset < 0))
		return cl_error_set(err, CL_EFORMAT, "deletionVector: bad offset");
	if (pi->n == 0 || memchr(pi->u.str, 0, pi->n))
		return cl_error_set(err, CL_EFORMAT, "deletionVector: bad pathOrInlineDv");
	cl_table_dv *d = cl__arena_alloc(&s->arena, sizeof *d);
	if (!d || !(d->path_or_inline = cl__arena_strndup(&s->arena, pi->u.str, pi->n)))
		return oom(err);
	d->storage_type = st->u.str[0];
	d->offset = st->u.str[0] == 'i' ? -1 : offset;
	d->size_in_bytes = (int32_t)size;
	d->cardinality = card;
	*out = d;
	return 0;
}

/* The logical file identity (PROTOCOL.md): the path, and the deletion
 * vector's uniqueId after a newline (keys hold no control characters).
 * Arena-owned; NULL when out of memory. */
static const char *identity(cl_snapshot *s, const char *path, const cl_table_dv *dv)
{
	if (!dv)
		return path;
	cl_buf b = {0};
	const char *id = NULL;
	if (!cl_buf_puts(&b, path) && !cl_buf_putc(&b, '\n') && !cl__dv_unique_id(&b, dv))
		id = cl__arena_strndup(&s->arena, (const char *)b.data, b.len);
	cl_buf_release(&b);
	return id;
}

static int apply_add(cl_snapshot *s, cl_store *st, const cl_json *a, cl_error *err)
{
	const cl_json *path = cl__json_get_s(a, "path");
	const cl_json *size = cl__json_get_s(a, "size");
	if (!path || path->kind != CL_JSON_STRING)
		return cl_error_set(err, CL_EFORMAT, "add action without a path");
	char *key;
	int rc = cl__delta_path_decode(&key, st, path->u.str, path->n, err);
	if (rc)
		return rc;
	const char *k = cl__arena_strdup(&s->arena, key);
	cl_free(key);
	if (!k)
		return oom(err);
	cl_table_file f = {0};
	f.path = k;
	f.num_records = -1;
	if (!cl__json_int64(size, &f.size) || f.size < 0)
		return cl_error_set(err, CL_EFORMAT, "add %s: missing or bad size", k);
	cl__json_int64(cl__json_get_s(a, "modificationTime"), &f.mtime_ms);
	cl_table_kv *pv;
	int npv;
	rc = str_map(s, cl__json_get_s(a, "partitionValues"), &pv, &npv);
	if (rc)
		return rc == CL_ENOMEM ? oom(err)
				       : cl_error_set(err, CL_EFORMAT, "add %s: bad partitionValues", k);
	f.partition = pv;
	f.npartition = npv;
	const cl_json *stats = cl__json_get_s(a, "stats");
	if (stats && stats->kind == CL_JSON_STRING) {
		if (!(f.stats_json = cl__arena_strndup(&s->arena, stats->u.str, stats->n)))
			return oom(err);
		/* a parser of its own: the caller's holds the action being applied */
		if (!s->stats_parser && cl__json_parser_create(&s->stats_parser, NULL, err))
			return CL_ENOMEM;
		f.num_records = stats_num_records(s->stats_parser, stats->u.str, stats->n);
	}
	rc = parse_dv(s, cl__json_get_s(a, "deletionVector"), &f.dv, err);
	if (rc)
		return cl_error_prefix(err, "add %s: ", k);
	f.has_dv = f.dv != NULL;
	const char *id = identity(s, k, f.dv);
	if (!id)
		return oom(err);
	int64_t idx = cl__strmap_get(&s->file_index, id);
	if (idx >= 0) {
		s->files[idx] = f;
		return 0;
	}
	if (s->nfiles == s->files_cap) {
		size_t cap = s->files_cap ? s->files_cap * 2 : 64;
		cl_table_file *nf = cl_realloc(s->files, cap * sizeof *nf);
		if (!nf)
			return oom(err);
		s->files = nf;
		s->files_cap = cap;
	}
	s->files[s->nfiles] = f;
	if (cl__strmap_put(&s->file_index, id, (int64_t)s->nfiles))
		return oom(err);
	s->nfiles++;
	return 0;
}

static int apply_remove(cl_snapshot *s, cl_store *st, const cl_json *a, cl_error *err)
{
	const cl_json *path = cl__json_get_s(a, "path");
	if (!path || path->kind != CL_JSON_STRING)
		return cl_error_set(err, CL_EFORMAT, "remove action without a path");
	char *key;
	int rc = cl__delta_path_decode(&key, st, path->u.str, path->n, err);
	if (rc)
		return rc;
	const cl_table_dv *dv = NULL;
	rc = parse_dv(s, cl__json_get_s(a, "deletionVector"), &dv, err);
	const char *id = rc ? NULL : identity(s, key, dv);
	if (rc || !id) {
		cl_free(key);
		return rc ? cl_error_prefix(err, "remove %.*s: ", (int)path->n, path->u.str)
			  : oom(err);
	}
	int64_t idx = cl__strmap_get(&s->file_index, id);
	if (idx >= 0) {
		cl__strmap_del(&s->file_index, id);
		size_t last = s->nfiles - 1;
		if ((size_t)idx != last) {
			s->files[idx] = s->files[last];
			const char *lid = identity(s, s->files[idx].path, s->files[idx].dv);
			if (!lid || cl__strmap_put(&s->file_index, lid, idx)) {
				cl_free(key);
				return oom(err);
			}
		}
		s->nfiles--;
	}
	int64_t ts = 0;
	cl__json_int64(cl__json_get_s(a, "deletionTimestamp"), &ts);
	if (s->ntombstones == s->tombstones_cap) {
		size_t cap = s->tombstones_cap ? s->tombstones_cap * 2 : 64;
		cl__tombstone *t = cl_realloc(s->tombstones, cap * sizeof *t);
		if (!t) {
			cl_free(key);
			return oom(err);
		}
		s->tombstones = t;
		s->tombstones_cap = cap;
	}
	const char *k = cl__arena_strdup(&s->arena, key);
	cl_free(key);
	if (!k)
		return oom(err);
	s->tombstones[s->ntombstones++] = (cl__tombstone){k, ts, dv};
	return 0;
}

static int apply_metadata(cl_snapshot *s, const cl_json *m, cl_error *err)
{
	int rc = 0;
	/* A missing schemaString (some old test tables) leaves the table
	 * without a schema: its files can be listed, its rows not read. */
	const cl_json *schema = cl__json_get_s(m, "schemaString");
	rc = rc ? rc : dup_str(s, cl__json_get_s(m, "id"), &s->id);
	rc = rc ? rc : dup_str(s, cl__json_get_s(m, "name"), &s->name);
	rc = rc ? rc : dup_str(s, cl__json_get_s(m, "description"), &s->description);
	rc = rc ? rc : dup_str(s, schema, &s->schema_string);
	const cl_json *fmt = cl__json_get_s(m, "format");
	rc = rc ? rc : dup_str(s, fmt ? cl__json_get_s(fmt, "provider") : NULL, &s->provider);
	if (rc)
		return oom(err);
	s->created_time = 0;
	cl__json_int64(cl__json_get_s(m, "createdTime"), &s->created_time);
	rc = str_array(s, cl__json_get_s(m, "partitionColumns"), &s->partition_cols,
		       &s->npartition_cols);
	if (rc)
		return rc == CL_ENOMEM ? oom(err)
				       : cl_error_set(err, CL_EFORMAT, "metaData: bad partitionColumns");
	rc = str_map(s, cl__json_get_s(m, "configuration"), &s->config, &s->nconfig);
	if (rc)
		return rc == CL_ENOMEM ? oom(err)
				       : cl_error_set(err, CL_EFORMAT, "metaData: bad configuration");
	s->have_metadata = true;
	return 0;
}

static int apply_protocol(cl_snapshot *s, const cl_json *p, cl_error *err)
{
	int64_t r, w;
	if (!cl__json_int64(cl__json_get_s(p, "minReaderVersion"), &r) ||
	    !cl__json_int64(cl__json_get_s(p, "minWriterVersion"), &w) || r < 1 || w < 1 ||
	    r > 1000 || w > 1000)
		return cl_error_set(err, CL_EFORMAT, "protocol: missing or bad versions");
	s->min_reader = (int)r;
	s->min_writer = (int)w;
	int rc = str_array(s, cl__json_get_s(p, "readerFeatures"), &s->reader_features,
			   &s->nreader_features);
	rc = rc ? rc : str_array(s, cl__json_get_s(p, "writerFeatures"), &s->writer_features,
				 &s->nwriter_features);
	if (rc)
		return rc == CL_ENOMEM ? oom(err) : cl_error_set(err, CL_EFORMAT, "protocol: bad features");
	s->have_protocol = true;
	return 0;
}

static int apply_txn(cl_snapshot *s, const cl_json *t, cl_error *err)
{
	const char *app = jstr(t, "appId");
	int64_t v, lu = 0;
	if (!app || !cl__json_int64(cl__json_get_s(t, "version"), &v))
		return cl_error_set(err, CL_EFORMAT, "txn action without appId or version");
	cl__json_int64(cl__json_get_s(t, "lastUpdated"), &lu);
	for (size_t i = 0; i < s->ntxns; i++)
		if (!strcmp(s->txns[i].app_id, app)) {
			s->txns[i].version = v;
			s->txns[i].last_updated = lu;
			return 0;
		}
	if (s->ntxns == s->txns_cap) {
		size_t cap = s->txns_cap ? s->txns_cap * 2 : 8;
		cl__app_txn *n = cl_realloc(s->txns, cap * sizeof *n);
		if (!n)
			return oom(err);
		s->txns = n;
		s->txns_cap = cap;
	}
	const char *a = cl__arena_strdup(&s->arena, app);
	if (!a)
		return oom(err);
	s->txns[s->ntxns++] = (cl__app_txn){a, v, lu};
	return 0;
}

/* Next line of text[*pos..n): [*ls, *le), without the newline or CR. */
static bool next_line(const char *text, size_t n, size_t *pos, size_t *ls, size_t *le)
{
	if (*pos >= n)
		return false;
	const char *nl = memchr(text + *pos, '\n', n - *pos);
	*ls = *pos;
	*le = nl ? (size_t)(nl - text) : n;
	*pos = *le + 1;
	if (*le > *ls && text[*le - 1] == '\r')
		(*le)--;
	return true;
}

int cl__delta_apply_commit(cl_snapshot *s, cl_store *st, cl__json_parser *p,
			   const char *key, const char *text, size_t n, cl_error *err)
{
	/* Pass 0: everything but adds; pass 1: adds. */
	for (int pass = 0; pass < 2; pass++) {
		size_t pos = 0, ls, le;
		int line = 0;
		while (next_line(text, n, &pos, &ls, &le)) {
			line++;
			size_t i = ls;
			while (i < le && (text[i] == ' ' || text[i] == '\t'))
				i++;
			if (i == le)
				continue;
			const cl_json *root;
			int rc = cl__json_parse(p, text + ls, le - ls, &root, err);
			if (!rc && root->kind != CL_JSON_OBJECT)
				rc = cl_error_set(err, CL_EFORMAT, "an action must be a JSON object");
			for (size_t m = 0; !rc && m < root->n; m++) {
				const cl_json_member *a = &root->u.members[m];
				bool is_add = !strcmp(a->key, "add");
				if (is_add != (pass == 1) || a->value.kind == CL_JSON_NULL)
					continue;
				if (a->value.kind != CL_JSON_OBJECT) {
					rc = cl_error_set(err, CL_EFORMAT, "action '%s' is not an object",
							  a->key);
					break;
				}
				if (is_add)
					rc = apply_add(s, st, &a->value, err);
				else if (!strcmp(a->key, "remove"))
					rc = apply_remove(s, st, &a->value, err);
				else if (!strcmp(a->key, "metaData"))
					rc = apply_metadata(s, &a->value, err);
				else if (!strcmp(a->key, "protocol"))
					rc = apply_protocol(s, &a->value, err);
				else if (!strcmp(a->key, "txn"))
					rc = apply_txn(s, &a->value, err);
				/* commitInfo, cdc, domainMetadata, ...: nothing to replay */
			}
			if (rc)
				return cl_error_prefix(err, "%s line %d: ", key, line);
		}
	}
	return 0;
}

static int cmp_file(const void *a, const void *b)
{
	return strcmp(((const cl_table_file *)a)->path, ((const cl_table_file *)b)->path);
}

/* Order each file's partition values as the partition columns. */
static int order_partitions(cl_snapshot *s, cl_error *err)
{
	int np = s->npartition_cols;
	for (size_t i = 0; i < s->nfiles; i++) {
		cl_table_file *f = &s->files[i];
		cl_table_kv *kv = np ? cl__arena_alloc(&s->arena, (size_t)np * sizeof *kv) : NULL;
		if (np && !kv)
			return oom(err);
		for (int c = 0; c < np; c++) {
			kv[c].key = s->partition_cols[c];
			kv[c].value = NULL;
			bool found = false;
			for (int j = 0; j < f->npartition; j++)
				if (!strcmp(f->partition[j].key, kv[c].key)) {
					kv[c].value = f->partition[j].value;
					found = true;
				}
			if (!found)
				return cl_error_set(err, CL_EFORMAT,
						    "file %s has no value for partition column '%s'",
						    f->path, kv[c].key);
			/* An empty string is a null partition value. */
			if (kv[c].value && !kv[c].value[0])
				kv[c].value = NULL;
		}
		f->partition = kv;
		f->npartition = np;
	}
	return 0;
}

int cl__delta_replay(cl_snapshot **out, cl_store *st, const cl__log_listing *l,
		     int64_t version, cl_error *err)
{
	*out = NULL;
	size_t vi = 0;
	while (vi < l->ncommits && l->versions[vi] < version)
		vi++;
	if (vi == l->ncommits || l->versions[vi] != version) {
		if (l->ncommits == 0 && l->ncheckpoints == 0)
			return cl_error_set(err, CL_ENOTFOUND, "%s: not a lake table (no %s)",
					    cl_store_location(st), CL_DELTA_LOG_DIR);
		return cl_error_set(err, CL_ENOTFOUND,
				    "%s: version %lld does not exist (the log has versions %lld to %lld)",
				    cl_store_location(st), (long long)version,
				    l->ncommits ? (long long)l->versions[0] : -1LL,
				    l->ncommits ? (long long)l->versions[l->ncommits - 1] : -1LL);
	}
	/* Start from the latest complete checkpoint at or before `version`
	 * after which every commit up to `version` is there; without one,
	 * replay commits 0..version, which must all be there. */
	size_t from = 0;
	int64_t cp = -1;
	int cp_parts = 0;
	const bool all_commits = l->versions[0] == 0 && l->versions[vi] == (int64_t)vi;
	{
		for (size_t c = l->ncheckpoints; c-- > 0 && cp < 0;) {
			int64_t cv = l->checkpoints[c];
			if (cv > version)
				continue;
			size_t j = 0;
			while (j < l->ncommits && l->versions[j] <= cv)
				j++;
			/* commits cv+1 .. version present: indices j..vi, consecutive */
			if (cv == version || (j <= vi && l->versions[j] == cv + 1 &&
					      l->versions[vi] - l->versions[j] == (int64_t)(vi - j))) {
				cp = cv;
				cp_parts = l->checkpoint_parts[c];
				from = j;
			}
		}
		if (cp < 0 && !all_commits) {
			int64_t gap = 0;
			for (size_t i = 0; i <= vi && l->versions[i] == gap; i++)
				gap++;
			return cl_error_set(err, CL_EFORMAT, "%s: the log is missing commit %lld",
					    cl_store_location(st), (long long)gap);
		}
	}
	cl_snapshot *s = cl_calloc(1, sizeof *s);
	cl__json_parser *p = NULL;
	if (!s)
		return oom(err);
	int rc = cl__json_parser_create(&p, NULL, err);
	if (!rc && cp >= 0) {
		rc = cl__delta_read_checkpoint(s, st, cp, cp_parts, err);
		if (rc && rc != CL_ENOMEM && all_commits) {
			/* an unreadable checkpoint (e.g. a feature this reader
			 * lacks) while the commits are all there: replay them */
			cl_snapshot_free(s);
			if (!(s = cl_calloc(1, sizeof *s))) {
				cl__json_parser_free(p);
				return oom(err);
			}
			rc = 0;
			cp = -1;
			from = 0;
		} else if (rc) {
			cl_error_prefix(err, "%s: ", cl_store_location(st));
		}
	}
	for (size_t i = from; !rc && i <= vi && l->versions[i] <= version; i++) {
		char key[64];
		cl__delta_commit_key(key, sizeof key, l->versions[i]);
		uint8_t *text;
		size_t n;
		rc = cl_store_get(st, key, &text, &n, err);
		if (rc) {
			if (rc == CL_ENOTFOUND)
				rc = cl_error_set(err, CL_EFORMAT, "%s: commit %s vanished",
						  cl_store_location(st), key);
			break;
		}
		rc = cl__delta_apply_commit(s, st, p, key, (const char *)text, n, err);
		cl_free(text);
	}
	cl__json_parser_free(p);
	cl__json_parser_free(s->stats_parser);
	s->stats_parser = NULL;
	cl__strmap_release(&s->file_index);
	if (!rc && !s->have_protocol)
		rc = cl_error_set(err, CL_EFORMAT, "%s: the log has no protocol action",
				  cl_store_location(st));
	if (!rc && !s->have_metadata)
		rc = cl_error_set(err, CL_EFORMAT, "%s: the log has no metaData action",
				  cl_store_location(st));
	if (!rc) {
		s->version = version;
		s->timestamp_ms = l->mtimes[vi];
		if (s->nfiles > 1)
			qsort(s->files, s->nfiles, sizeof *s->files, cmp_file);
		/* logical files differ by deletion vector too, but one path
		 * live twice would read its rows twice */
		for (size_t i = 1; !rc && i < s->nfiles; i++)
			if (!strcmp(s->files[i].path, s->files[i - 1].path))
				rc = cl_error_set(err, CL_EFORMAT,
						  "%s: file %s is live twice (with different "
						  "deletion vectors)", cl_store_location(st),
						  s->files[i].path);
	}
	if (!rc) {
		/* features first: with column mapping, partition values are keyed
		 * by physical names, which order_partitions would call corrupt */
		rc = cl__delta_check_readable(s, err);
		if (rc)
			cl_error_prefix(err, "%s: ", cl_store_location(st));
		rc = rc ? rc : order_partitions(s, err);
	}
	if (rc) {
		cl_snapshot_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

/* ---- protocol checks ---- */

static bool in_list(const char *name, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(name, *list))
			return true;
	return false;
}

int cl__delta_check_readable(const cl_snapshot *s, cl_error *err)
{
	static const char *const reader_ok[] = {"timestampNtz", "vacuumProtocolCheck",
						"deletionVectors", "columnMapping", NULL};
	if (s->provider && strcmp(s->provider, "parquet"))
		return cl_error_set(err, CL_EUNSUPPORTED,
				    "table data format '%s' is not supported (Parquet only)",
				    s->provider);
	if (s->min_reader > 3)
		return cl_error_set(err, CL_EUNSUPPORTED,
				    "Delta reader version %d is not supported (1 to 3)",
				    s->min_reader);
	if (s->min_reader == 3)
		for (int i = 0; i < s->nreader_features; i++)
			if (!in_list(s->reader_features[i], reader_ok))
				return cl_error_set(err, CL_EUNSUPPORTED,
						    "Delta table feature '%s' is not supported",
						    s->reader_features[i]);
	const char *cm = cl_snapshot_config(s, "delta.columnMapping.mode");
	if (cm && strcmp(cm, "none"))
		return cl_error_set(err, CL_EUNSUPPORTED,
				    "Delta table feature 'columnMapping' (mode %s) is not supported",
				    cm);
	return 0;
}

int cl__delta_check_writable(const cl_snapshot *s, cl_error *err)
{
	/* deletionVectors: every reader of data files drops the deleted rows,
	 * so a copy-on-write rewrite keeps only the surviving ones */
	static const char *const writer_ok[] = {"appendOnly", "invariants", "timestampNtz",
						"deletionVectors", NULL};
	int rc = cl__delta_check_readable(s, err);
	if (rc)
		return rc;
	if (s->min_writer > 2 && s->min_writer != 7)
		return cl_error_set(err, CL_EUNSUPPORTED,
				    "writing Delta writer version %d is not supported "
				    "(check constraints, change data feed, generated or identity "
				    "columns)", s->min_writer);
	if (s->min_writer == 7)
		for (int i = 0; i < s->nwriter_features; i++)
			if (!in_list(s->writer_features[i], writer_ok))
				return cl_error_set(err, CL_EUNSUPPORTED,
						    "writing tables with the Delta feature '%s' is "
						    "not supported", s->writer_features[i]);
	if (s->schema_string && strstr(s->schema_string, "delta.invariants"))
		return cl_error_set(err, CL_EUNSUPPORTED,
				    "writing tables with column invariants is not supported");
	return 0;
}
