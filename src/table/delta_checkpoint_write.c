/*
 * delta_checkpoint_write.c — writing classic Parquet checkpoints and
 * _last_checkpoint (PROTOCOL.md "Checkpoints", V1 spec, "Checkpoint
 * Schema", "Last Checkpoint File Schema").
 *
 * A checkpoint of version V holds, one action per row: the protocol, the
 * metaData, every txn, every live file (add) and the remove tombstones not
 * yet expired (delta.deletedFileRetentionDuration, default one week) — no
 * commitInfo. The columns are the dotted leaves the Parquet writer turns
 * into the checkpoint's struct groups (nest_dotted), with maps and lists
 * as JSON-text columns of declared nested types:
 *
 *   txn       appId, version, lastUpdated
 *   add       path, partitionValues map<string,string>, size,
 *             modificationTime, dataChange, stats, tags map<string,string>,
 *             deletionVector {storageType, pathOrInlineDv, offset int,
 *             sizeInBytes int, cardinality long}
 *   remove    path, deletionTimestamp, dataChange, deletionVector
 *   metaData  id, name, description, format {provider, options map},
 *             schemaString, partitionColumns list<string>,
 *             configuration map<string,string>, createdTime
 *   protocol  minReaderVersion, minWriterVersion, readerFeatures and
 *             writerFeatures list<string> (NULL unless reader 3 / writer 7)
 *
 * A row's other structs are NULL (the writer writes a struct NULL exactly
 * when every column under it is). Publication: the file is written to a
 * staging path and published in one step (a classic checkpoint may be
 * replaced: two writers of the same version write the same content), so a
 * reader never sees half a checkpoint; a crash leaves at most a staging
 * file (swept by a later checkpoint once a day old). _last_checkpoint is a hint, written after the checkpoint with a
 * plain put, and never moved back to an older version.
 *
 * After a commit (cl__delta_checkpoint_after_commit): when the committed
 * version is a positive multiple of delta.checkpointInterval (default 10)
 * the snapshot of that version is built — from the previous checkpoint,
 * so this costs at most one interval of commits — and checkpointed. A
 * failure there does not fail the commit (it already happened): it is kept
 * as the table's checkpoint status (cl_table_checkpoint_status).
 */
#include "delta.h"
#include "dv.h"
#include "changelake/parquet_writer.h"
#include "storage/crash_point.h"

#include <ctype.h>
#include <strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CP_BATCH_ROWS 4096
#define DEFAULT_INTERVAL 10
#define DEFAULT_RETENTION_MS (7LL * 86400000)

/* Columns, in order; JSON columns carry their nested type. */
enum {
	C_TXN_APP, C_TXN_VER, C_TXN_UPD,
	C_ADD_PATH, C_ADD_PV, C_ADD_SIZE, C_ADD_MTIME, C_ADD_DC, C_ADD_STATS, C_ADD_TAGS,
	C_ADD_DV, /* 5 columns: storageType, pathOrInlineDv, offset, sizeInBytes, cardinality */
	C_RM_PATH = C_ADD_DV + 5, C_RM_TS, C_RM_DC,
	C_RM_DV,
	C_MD_ID = C_RM_DV + 5,
	C_MD_NAME, C_MD_DESC, C_MD_PROVIDER, C_MD_OPTIONS, C_MD_SCHEMA, C_MD_PCOLS,
	C_MD_CONF, C_MD_CREATED,
	C_PR_READER, C_PR_WRITER, C_PR_RF, C_PR_WF,
	NCOLS
};

static const struct {
	const char *name;
	cl_type_id type;
	const char *nested;
} COLS[NCOLS] = {
	{"txn.appId", CL_STRING, NULL},
	{"txn.version", CL_INT64, NULL},
	{"txn.lastUpdated", CL_INT64, NULL},
	{"add.path", CL_STRING, NULL},
	{"add.partitionValues", CL_STRING, "map<string,string>"},
	{"add.size", CL_INT64, NULL},
	{"add.modificationTime", CL_INT64, NULL},
	{"add.dataChange", CL_BOOL, NULL},
	{"add.stats", CL_STRING, NULL},
	{"add.tags", CL_STRING, "map<string,string>"},
	{"add.deletionVector.storageType", CL_STRING, NULL},
	{"add.deletionVector.pathOrInlineDv", CL_STRING, NULL},
	{"add.deletionVector.offset", CL_INT32, NULL},
	{"add.deletionVector.sizeInBytes", CL_INT32, NULL},
	{"add.deletionVector.cardinality", CL_INT64, NULL},
	{"remove.path", CL_STRING, NULL},
	{"remove.deletionTimestamp", CL_INT64, NULL},
	{"remove.dataChange", CL_BOOL, NULL},
	{"remove.deletionVector.storageType", CL_STRING, NULL},
	{"remove.deletionVector.pathOrInlineDv", CL_STRING, NULL},
	{"remove.deletionVector.offset", CL_INT32, NULL},
	{"remove.deletionVector.sizeInBytes", CL_INT32, NULL},
	{"remove.deletionVector.cardinality", CL_INT64, NULL},
	{"metaData.id", CL_STRING, NULL},
	{"metaData.name", CL_STRING, NULL},
	{"metaData.description", CL_STRING, NULL},
	{"metaData.format.provider", CL_STRING, NULL},
	{"metaData.format.options", CL_STRING, "map<string,string>"},
	{"metaData.schemaString", CL_STRING, NULL},
	{"metaData.partitionColumns", CL_STRING, "list<string>"},
	{"metaData.configuration", CL_STRING, "map<string,string>"},
	{"metaData.createdTime", CL_INT64, NULL},
	{"protocol.minReaderVersion", CL_INT32, NULL},
	{"protocol.minWriterVersion", CL_INT32, NULL},
	{"protocol.readerFeatures", CL_STRING, "list<string>"},
	{"protocol.writerFeatures", CL_STRING, "list<string>"},
};

/* The row being built: NULL everywhere until set. */
typedef struct row {
	bool set[NCOLS];
	int64_t i[NCOLS];
	const char *s[NCOLS];
	size_t n[NCOLS];
} row;

typedef struct cp_ctx {
	cl_writer *w;
	cl_batch *b;
	cl_buf json[NCOLS]; /* texts built for the current row */
	int64_t rows, adds;
	cl_error *err;
} cp_ctx;

static void set_i(row *r, int c, int64_t v)
{
	r->set[c] = true;
	r->i[c] = v;
}

static void set_s(row *r, int c, const char *s, size_t n)
{
	if (!s)
		return;
	r->set[c] = true;
	r->s[c] = s;
	r->n[c] = n;
}

static void set_buf(row *r, int c, const cl_buf *b)
{
	set_s(r, c, (const char *)b->data, b->len);
}

/* The deletionVector struct (columns c..c+4) of a descriptor; offset is
 * an int in Delta's checkpoint schema. */
static int set_dv(row *r, int c, const cl_table_dv *dv, const char *st)
{
	if (!dv)
		return 0;
	if (dv->offset > INT32_MAX)
		return CL_EINVAL;
	set_s(r, c, st, 1);
	set_s(r, c + 1, dv->path_or_inline, strlen(dv->path_or_inline));
	if (dv->offset >= 0)
		set_i(r, c + 2, dv->offset);
	set_i(r, c + 3, dv->size_in_bytes);
	set_i(r, c + 4, dv->cardinality);
	return 0;
}

static int flush_batch(cp_ctx *x)
{
	if (x->b->nrows == 0)
		return 0;
	cl__crash_point("checkpoint-writing");
	int rc = cl_writer_write(x->w, x->b, x->err);
	cl_batch_clear(x->b);
	return rc;
}

static int put_row(cp_ctx *x, const row *r)
{
	int rc = 0;
	for (int c = 0; !rc && c < NCOLS; c++) {
		cl_column *col = &x->b->cols[c];
		if (!r->set[c])
			rc = cl_column_append_null(col, x->err);
		else if (COLS[c].type == CL_STRING)
			rc = cl_column_append_bytes(col, r->s[c], r->n[c], x->err);
		else if (COLS[c].type == CL_BOOL)
			rc = cl_column_append_bool(col, r->i[c] != 0, x->err);
		else
			rc = cl_column_append_i64(col, r->i[c], x->err);
	}
	if (rc)
		return rc;
	x->b->nrows++;
	x->rows++;
	return x->b->nrows >= CP_BATCH_ROWS ? flush_batch(x) : 0;
}

/* JSON text helpers: append to b, CL_ENOMEM / CL_EINVAL (bad UTF-8). */
static int json_str(cl_buf *b, const char *s)
{
	return s ? cl__json_escape(b, s, strlen(s)) : cl_buf_puts(b, "null");
}

static int json_list(cl_buf *b, const char *const *v, int n)
{
	int rc = cl_buf_putc(b, '[');
	for (int i = 0; !rc && i < n; i++) {
		if (i)
			rc = cl_buf_putc(b, ',');
		rc = rc ? rc : json_str(b, v[i]);
	}
	return rc ? rc : cl_buf_putc(b, ']');
}

static int json_map(cl_buf *b, const cl_table_kv *kv, int n)
{
	int rc = cl_buf_putc(b, '{');
	for (int i = 0; !rc && i < n; i++) {
		if (i)
			rc = cl_buf_putc(b, ',');
		rc = rc ? rc : json_str(b, kv[i].key);
		rc = rc ? rc : cl_buf_putc(b, ':');
		rc = rc ? rc : json_str(b, kv[i].value);
	}
	return rc ? rc : cl_buf_putc(b, '}');
}

static int text_error(cp_ctx *x, int rc, const char *what)
{
	if (rc == CL_ENOMEM)
		return cl_error_set(x->err, CL_ENOMEM, "out of memory");
	return cl_error_set(x->err, CL_EFORMAT, "checkpoint: %s is not valid UTF-8", what);
}

/* "interval N unit" (delta.deletedFileRetentionDuration) in ms; -1 if not. */
static int64_t parse_interval(const char *s)
{
	if (!s)
		return -1;
	while (isspace((unsigned char)*s))
		s++;
	if (!strncasecmp(s, "interval", 8))
		s += 8;
	char *end;
	long long n = strtoll(s, &end, 10);
	if (end == s || n < 0)
		return -1;
	while (isspace((unsigned char)*end))
		end++;
	static const struct { const char *unit; int64_t ms; } units[] = {
		{"millisecond", 1}, {"second", 1000}, {"minute", 60000}, {"hour", 3600000},
		{"day", 86400000}, {"week", 7 * 86400000LL}};
	for (size_t i = 0; i < sizeof units / sizeof *units; i++) {
		size_t ul = strlen(units[i].unit);
		if (!strncasecmp(end, units[i].unit, ul) &&
		    (!end[ul] || !strcasecmp(end + ul, "s")))
			return n > INT64_MAX / units[i].ms ? INT64_MAX : n * units[i].ms;
	}
	return -1;
}

static int write_protocol_and_metadata(cp_ctx *x, const cl_snapshot *s)
{
	row r = {0};
	int rc;
	set_i(&r, C_PR_READER, s->min_reader);
	set_i(&r, C_PR_WRITER, s->min_writer);
	if (s->min_reader >= 3) {
		cl_buf_clear(&x->json[C_PR_RF]);
		if ((rc = json_list(&x->json[C_PR_RF], s->reader_features, s->nreader_features)))
			return text_error(x, rc, "a reader feature");
		set_buf(&r, C_PR_RF, &x->json[C_PR_RF]);
	}
	if (s->min_writer >= 7) {
		cl_buf_clear(&x->json[C_PR_WF]);
		if ((rc = json_list(&x->json[C_PR_WF], s->writer_features, s->nwriter_features)))
			return text_error(x, rc, "a writer feature");
		set_buf(&r, C_PR_WF, &x->json[C_PR_WF]);
	}
	if ((rc = put_row(x, &r)))
		return rc;

	memset(&r, 0, sizeof r);
	set_s(&r, C_MD_ID, s->id, s->id ? strlen(s->id) : 0);
	set_s(&r, C_MD_NAME, s->name, s->name ? strlen(s->name) : 0);
	set_s(&r, C_MD_DESC, s->description, s->description ? strlen(s->description) : 0);
	const char *prov = s->provider ? s->provider : "parquet";
	set_s(&r, C_MD_PROVIDER, prov, strlen(prov));
	set_s(&r, C_MD_OPTIONS, "{}", 2);
	set_s(&r, C_MD_SCHEMA, s->schema_string, s->schema_string ? strlen(s->schema_string) : 0);
	cl_buf_clear(&x->json[C_MD_PCOLS]);
	cl_buf_clear(&x->json[C_MD_CONF]);
	if ((rc = json_list(&x->json[C_MD_PCOLS], s->partition_cols, s->npartition_cols)) ||
	    (rc = json_map(&x->json[C_MD_CONF], s->config, s->nconfig)))
		return text_error(x, rc, "the metadata");
	set_buf(&r, C_MD_PCOLS, &x->json[C_MD_PCOLS]);
	set_buf(&r, C_MD_CONF, &x->json[C_MD_CONF]);
	set_i(&r, C_MD_CREATED, s->created_time);
	return put_row(x, &r);
}

static int write_files(cp_ctx *x, const cl_snapshot *s)
{
	int rc = 0;
	for (size_t i = 0; !rc && i < s->ntxns; i++) {
		row r = {0};
		const cl__app_txn *t = &s->txns[i];
		set_s(&r, C_TXN_APP, t->app_id, strlen(t->app_id));
		set_i(&r, C_TXN_VER, t->version);
		set_i(&r, C_TXN_UPD, t->last_updated);
		rc = put_row(x, &r);
	}
	for (size_t i = 0; !rc && i < s->nfiles; i++) {
		const cl_table_file *f = &s->files[i];
		row r = {0};
		cl_buf *path = &x->json[C_ADD_PATH], *pv = &x->json[C_ADD_PV];
		cl_buf_clear(path);
		cl_buf_clear(pv);
		if ((rc = cl__delta_path_encode(path, f->path)) ||
		    (rc = json_map(pv, f->partition, f->npartition)))
			return text_error(x, rc, f->path);
		set_buf(&r, C_ADD_PATH, path);
		set_buf(&r, C_ADD_PV, pv);
		set_i(&r, C_ADD_SIZE, f->size);
		set_i(&r, C_ADD_MTIME, f->mtime_ms);
		set_i(&r, C_ADD_DC, 0);
		set_s(&r, C_ADD_STATS, f->stats_json, f->stats_json ? strlen(f->stats_json) : 0);
		char st[2] = {f->dv ? f->dv->storage_type : 0, 0};
		if (set_dv(&r, C_ADD_DV, f->dv, st))
			return cl_error_set(x->err, CL_EINVAL,
					    "checkpoint: deletion vector offset of %s out of range",
					    f->path);
		rc = put_row(x, &r);
		x->adds++;
	}
	return rc;
}

/* The logical file identity (path, deletion vector uniqueId) as text,
 * in arena a; NULL when out of memory. */
static const char *ident(cl__arena *a, const char *path, const cl_table_dv *dv)
{
	if (!dv)
		return path;
	cl_buf b = {0};
	const char *id = NULL;
	if (!cl_buf_puts(&b, path) && !cl_buf_putc(&b, '\n') && !cl__dv_unique_id(&b, dv))
		id = cl__arena_strndup(a, (const char *)b.data, b.len);
	cl_buf_release(&b);
	return id;
}

/* Tombstones: the latest remove of each logical file (path and deletion
 * vector) that is not live again and not expired. */
static int write_tombstones(cp_ctx *x, const cl_snapshot *s)
{
	const char *ret = cl_snapshot_config(s, "delta.deletedFileRetentionDuration");
	int64_t keep = parse_interval(ret);
	if (keep < 0)
		keep = DEFAULT_RETENTION_MS;
	int64_t cutoff = cl__now_ms() - keep;
	cl__strmap live = {0}, last = {0};
	cl__arena ids = {0};
	const char **tid = cl_calloc(s->ntombstones + 1, sizeof *tid);
	int rc = tid ? 0 : CL_ENOMEM;
	for (size_t i = 0; !rc && i < s->nfiles; i++) {
		const char *id = ident(&ids, s->files[i].path, s->files[i].dv);
		rc = id ? cl__strmap_put(&live, id, (int64_t)i) : CL_ENOMEM;
	}
	for (size_t i = 0; !rc && i < s->ntombstones; i++) {
		tid[i] = ident(&ids, s->tombstones[i].path, s->tombstones[i].dv);
		rc = tid[i] ? cl__strmap_put(&last, tid[i], (int64_t)i) : CL_ENOMEM;
	}
	if (rc) {
		rc = cl_error_set(x->err, CL_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; !rc && i < s->ntombstones; i++) {
		const cl__tombstone *t = &s->tombstones[i];
		if (cl__strmap_get(&last, tid[i]) != (int64_t)i ||
		    cl__strmap_get(&live, tid[i]) >= 0 || t->deletion_ts < cutoff)
			continue;
		row r = {0};
		cl_buf *path = &x->json[C_RM_PATH];
		cl_buf_clear(path);
		if ((rc = cl__delta_path_encode(path, t->path))) {
			rc = text_error(x, rc, t->path);
			break;
		}
		set_buf(&r, C_RM_PATH, path);
		set_i(&r, C_RM_TS, t->deletion_ts);
		set_i(&r, C_RM_DC, 0);
		char st[2] = {t->dv ? t->dv->storage_type : 0, 0};
		if (set_dv(&r, C_RM_DV, t->dv, st)) {
			rc = cl_error_set(x->err, CL_EINVAL,
					  "checkpoint: deletion vector offset of %s out of range",
					  t->path);
			break;
		}
		rc = put_row(x, &r);
	}
out:
	cl__strmap_release(&live);
	cl__strmap_release(&last);
	cl__arena_release(&ids);
	cl_free(tid);
	return rc;
}

static int checkpoint_schema(cl_schema **out, cl_error *err)
{
	int rc = cl_schema_create(out, err);
	for (int c = 0; !rc && c < NCOLS; c++)
		rc = cl_schema_add(*out, COLS[c].name, cl_type_make(COLS[c].type), true, err);
	return rc;
}

/* _last_checkpoint's version, or -1 when absent or unreadable (a hint). */
int cl__delta_last_checkpoint(cl_store *st, int64_t *version)
{
	uint8_t *text;
	size_t n;
	cl__json_parser *p = NULL;
	const cl_json *root;
	*version = -1;
	if (cl_store_get(st, CL_DELTA_LOG_DIR "_last_checkpoint", &text, &n, NULL) != 0)
		return 0;
	int64_t v;
	if (cl__json_parser_create(&p, NULL, NULL) == 0 &&
	    cl__json_parse(p, (const char *)text, n, &root, NULL) == 0 &&
	    cl__json_int64(cl__json_get_s(root, "version"), &v) && v >= 0)
		*version = v;
	cl__json_parser_free(p);
	cl_free(text);
	return 0;
}

int cl_table_checkpoint(cl_table *t, const cl_snapshot *s, cl_error *err)
{
	cl_store *st = cl_table_store(t);
	char key[96];
	snprintf(key, sizeof key, CL_DELTA_LOG_DIR "%020lld.checkpoint.parquet",
		 (long long)s->version);
	cl_schema *schema = NULL;
	char *stage = NULL;
	cp_ctx x = {0};
	x.err = err;
	int rc = checkpoint_schema(&schema, err);
	rc = rc ? rc : cl_batch_create(&x.b, schema, CP_BATCH_ROWS, err);
	rc = rc ? rc : cl_store_stage(st, key, &stage, err);
	if (rc)
		goto out;
	const char *nested[NCOLS], *types[NCOLS];
	int nn = 0;
	for (int c = 0; c < NCOLS; c++)
		if (COLS[c].nested) {
			nested[nn] = COLS[c].name;
			types[nn++] = COLS[c].nested;
		}
	cl_write_options o;
	cl_write_options_init(&o);
	o.format = CL_FORMAT_PARQUET;
	o.nest_dotted = true;
	o.nested_columns = nested;
	o.nested_types = types;
	o.nnested = nn;
	rc = cl_writer_open(&x.w, stage, schema, &o, err);
	rc = rc ? rc : write_protocol_and_metadata(&x, s);
	rc = rc ? rc : write_files(&x, s);
	rc = rc ? rc : write_tombstones(&x, s);
	rc = rc ? rc : flush_batch(&x);
	rc = rc ? rc : cl_writer_close(x.w, err);
	cl_file_stats fst = {0};
	rc = rc ? rc : cl_writer_file_stats(x.w, &fst, err);
	int64_t bytes = fst.file_bytes;
	if (!rc) {
		cl__crash_point("checkpoint-before-publish");
		rc = cl_store_publish(st, stage, key, err);
	}
	if (rc) {
		cl_store_unstage(st, stage);
		goto out;
	}
	cl__crash_point("checkpoint-after-publish");
	/* the hint: never back to an older checkpoint */
	int64_t prev;
	cl__delta_last_checkpoint(st, &prev);
	if (prev <= s->version) {
		cl_buf lc = {0};
		rc = cl_buf_printf(&lc, "{\"version\":%lld,\"size\":%lld,\"sizeInBytes\":%lld,"
				   "\"numOfAddFiles\":%lld}\n", (long long)s->version,
				   (long long)x.rows, (long long)bytes, (long long)x.adds);
		if (rc)
			rc = cl_error_set(err, CL_ENOMEM, "out of memory");
		else
			rc = cl_store_put(st, CL_DELTA_LOG_DIR "_last_checkpoint", lc.data, lc.len, err);
		cl_buf_release(&lc);
	}
out:
	if (rc)
		cl_error_prefix(err, "%s: checkpoint of version %lld: ", cl_store_location(st),
				(long long)s->version);
	cl_writer_free(x.w);
	cl_batch_free(x.b);
	cl_schema_free(schema);
	for (int c = 0; c < NCOLS; c++)
		cl_buf_release(&x.json[c]);
	cl_free(stage);
	return rc;
}

/* Staging leftovers of crashed checkpoint writes in _delta_log (vacuum
 * never looks there) older than a day: removed, best effort. */
static void sweep_stages(cl_store *st)
{
	cl_store_list l = {0};
	if (cl_store_list_prefix(st, CL_DELTA_LOG_DIR ".", NULL, &l, NULL) == 0) {
		int64_t old = cl__now_ms() - 86400000;
		for (size_t i = 0; i < l.n; i++)
			if (strstr(l.items[i].key, CL_STORE_STAGE_PREFIX) && l.items[i].mtime_ms < old)
				cl_store_delete(st, l.items[i].key, NULL);
	}
	cl_store_list_release(&l);
}

/* The checkpoint interval of a snapshot's table (delta.checkpointInterval). */
static int64_t interval_of(const cl_snapshot *s)
{
	const char *v = s ? cl_snapshot_config(s, "delta.checkpointInterval") : NULL;
	if (!v)
		return DEFAULT_INTERVAL;
	char *end;
	long long n = strtoll(v, &end, 10);
	return end != v && !*end && n > 0 ? n : DEFAULT_INTERVAL;
}

void cl__delta_checkpoint_after_commit(cl_table *t, const cl_snapshot *base, int64_t version)
{
	cl_error e = {0};
	int64_t every = interval_of(base);
	if (version <= 0 || version % every != 0) {
		cl__table_set_checkpoint_status(t, -1, 0, NULL);
		return;
	}
	cl_snapshot *s = NULL;
	cl_table_at at = {CL_AT_VERSION, version, 0};
	int rc = cl_table_snapshot(&s, t, &at, &e);
	/* the interval of the version itself, when this commit changed it */
	if (!rc && interval_of(s) != every && version % interval_of(s) != 0) {
		cl_snapshot_free(s);
		cl__table_set_checkpoint_status(t, -1, 0, NULL);
		return;
	}
	rc = rc ? rc : cl_table_checkpoint(t, s, &e);
	cl_snapshot_free(s);
	if (!rc)
		sweep_stages(cl_table_store(t));
	cl__table_set_checkpoint_status(t, version, rc, &e);
}

/*
 * For a caller that committed through another cl_table (a library call that
 * opened its own): the checkpoint due at `version` is looked up in the log.
 */
int cl_table_checkpoint_check(cl_table *t, int64_t version, cl_error *err)
{
	if (version <= 0)
		return 0;
	cl_snapshot *s = NULL;
	cl_table_at at = {CL_AT_VERSION, version, 0};
	int rc = cl_table_snapshot(&s, t, &at, err);
	if (rc)
		return rc;
	int64_t every = interval_of(s);
	cl_snapshot_free(s);
	if (version % every != 0)
		return 0;
	char key[96];
	snprintf(key, sizeof key, "_delta_log/%020lld.checkpoint.parquet", (long long)version);
	cl_store_object o;
	cl_error e = {0};
	rc = cl_store_head(cl_table_store(t), key, &o, &e);
	if (rc == CL_ENOTFOUND)
		return cl_error_set(err, CL_ENOTFOUND,
				    "%s: the checkpoint of version %lld was not written (%s)",
				    cl_store_location(cl_table_store(t)), (long long)version,
				    e.message);
	if (rc)
		*err = e;
	return rc;
}
