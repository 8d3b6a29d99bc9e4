/*
 * delta_checkpoint.c — reading Parquet checkpoints (classic and multi-part)
 * written by Spark/Delta or by changelake (delta_checkpoint_write.c).
 *
 * A checkpoint holds the state of one version as rows of one nested
 * Parquet schema (add, remove, metaData, protocol, txn structs). The
 * Parquet reader flattens structs into dotted columns and gives maps and
 * lists as JSON text (see parquet.h), so each row is turned back into the
 * JSON action a commit file would hold and replayed by the same code as
 * commits (cl__delta_apply_commit): one parser, one set of checks.
 * A row is an action of a kind when that kind's never-null field is
 * present (add.path, remove.path, metaData.id, protocol.minReaderVersion,
 * txn.appId). Columns a checkpoint lacks are simply absent from the action.
 */
#include "delta.h"
#include "changelake/parquet.h"

#include <stdio.h>
#include <string.h>

typedef enum { F_STR, F_INT, F_BOOL, F_RAW, F_DV } fkind; /* RAW: JSON text as is;
								 DV: the deletionVector struct */

typedef struct field {
	const char *column; /* dotted path in the checkpoint */
	const char *json;   /* key in the action ("format.provider" nests) */
	fkind kind;
} field;

static const field add_fields[] = {
	{"add.path", "path", F_STR},
	{"add.partitionValues", "partitionValues", F_RAW},
	{"add.size", "size", F_INT},
	{"add.modificationTime", "modificationTime", F_INT},
	{"add.dataChange", "dataChange", F_BOOL},
	{"add.stats", "stats", F_STR},
	{"add.deletionVector.storageType", "deletionVector", F_DV},
	{NULL, NULL, 0}};
static const field remove_fields[] = {
	{"remove.path", "path", F_STR},
	{"remove.deletionTimestamp", "deletionTimestamp", F_INT},
	{"remove.dataChange", "dataChange", F_BOOL},
	{"remove.deletionVector.storageType", "deletionVector", F_DV},
	{NULL, NULL, 0}};
static const field meta_fields[] = {
	{"metaData.id", "id", F_STR},
	{"metaData.name", "name", F_STR},
	{"metaData.description", "description", F_STR},
	{"metaData.format.provider", "format", F_STR},
	{"metaData.schemaString", "schemaString", F_STR},
	{"metaData.partitionColumns", "partitionColumns", F_RAW},
	{"metaData.configuration", "configuration", F_RAW},
	{"metaData.createdTime", "createdTime", F_INT},
	{NULL, NULL, 0}};
static const field proto_fields[] = {
	{"protocol.minReaderVersion", "minReaderVersion", F_INT},
	{"protocol.minWriterVersion", "minWriterVersion", F_INT},
	{"protocol.readerFeatures", "readerFeatures", F_RAW},
	{"protocol.writerFeatures", "writerFeatures", F_RAW},
	{NULL, NULL, 0}};
static const field txn_fields[] = {
	{"txn.appId", "appId", F_STR},
	{"txn.version", "version", F_INT},
	{"txn.lastUpdated", "lastUpdated", F_INT},
	{NULL, NULL, 0}};

static const struct {
	const char *action;
	const field *fields;
} kinds[] = {{"add", add_fields}, {"remove", remove_fields}, {"metaData", meta_fields},
	     {"protocol", proto_fields}, {"txn", txn_fields}};
#define NKINDS 5

/* Append the JSON of value r of column c as kind k. */
static int put_value(cl_buf *out, const cl_column *c, int64_t r, fkind k, const char *what)
{
	size_t n;
	const uint8_t *p;
	switch (k) {
	case F_INT:
		return cl_buf_printf(out, "%lld", (long long)cl_column_get_i64(c, r));
	case F_BOOL:
		return cl_buf_puts(out, c->type.id == CL_BOOL && cl_column_get_bool(c, r) ? "true"
										   : "false");
	case F_RAW:
		if (!cl_type_is_var(c->type))
			return CL_EFORMAT;
		p = cl_column_get_bytes(c, r, &n);
		return cl_buf_append(out, p, n);
	default:
		if (!cl_type_is_var(c->type))
			return CL_EFORMAT;
		p = cl_column_get_bytes(c, r, &n);
		if (!strcmp(what, "format")) { /* {"provider": ...} */
			int rc = cl_buf_puts(out, "{\"provider\":");
			rc = rc ? rc : cl__json_escape(out, (const char *)p, n);
			return rc ? rc : cl_buf_putc(out, '}');
		}
		return cl__json_escape(out, (const char *)p, n);
	}
}

/*
 * The deletionVector struct of row r as a JSON object: its fields are the
 * columns beside `st_col` (<action>.deletionVector.storageType). Replay
 * checks the fields; here a field of the wrong type is CL_EFORMAT.
 */
static int put_dv(cl_buf *out, const cl_schema *rs, const cl_batch *b, int64_t r,
		  const char *st_col)
{
	static const struct { const char *name; fkind k; } sub[] = {
		{"storageType", F_STR}, {"pathOrInlineDv", F_STR}, {"offset", F_INT},
		{"sizeInBytes", F_INT}, {"cardinality", F_INT}};
	size_t plen = strlen(st_col) - strlen("storageType");
	int rc = cl_buf_putc(out, '{');
	bool any = false;
	for (size_t i = 0; !rc && i < sizeof sub / sizeof *sub; i++) {
		char col[96];
		snprintf(col, sizeof col, "%.*s%s", (int)plen, st_col, sub[i].name);
		int ci = cl_schema_find(rs, col);
		if (ci < 0 || cl_column_is_null(&b->cols[ci], r))
			continue;
		const cl_column *c = &b->cols[ci];
		if (sub[i].k == F_INT && c->type.id != CL_INT32 && c->type.id != CL_INT64)
			return CL_EFORMAT;
		rc = cl_buf_printf(out, "%s\"%s\":", any ? "," : "", sub[i].name);
		rc = rc ? rc : put_value(out, c, r, sub[i].k, sub[i].name);
		any = true;
	}
	return rc ? rc : cl_buf_putc(out, '}');
}

static int read_part(cl_snapshot *s, cl_store *st, cl__json_parser *jp, const char *key,
		     cl_error *err)
{
	char *local = NULL;
	bool tmp = false;
	cl_parquet_file *pf = NULL;
	cl_reader *r = NULL;
	cl_buf line = {0};
	const char *cols[64];
	int ncols = 0;
	int rc = cl_store_fetch(st, key, &local, &tmp, err);
	rc = rc ? rc : cl_parquet_file_open(&pf, local, err);
	if (rc)
		goto out;
	/* project the action structs the file has (by their never-null leaf);
	 * the reader gives their fields as dotted columns */
	for (int k = 0; k < NKINDS; k++)
		if (cl_parquet_file_find_column(pf, kinds[k].fields[0].column) >= 0)
			cols[ncols++] = kinds[k].action;
	cl_parquet_file_free(pf);
	pf = NULL;
	cl_read_options ro;
	cl_read_options_init(&ro);
	ro.format = CL_FORMAT_PARQUET;
	ro.columns = cols;
	ro.ncolumns = ncols;
	rc = cl_parquet_reader_open(&r, local, &ro, NULL, err);
	if (rc) {
		/* a reader without nested columns cannot take the checkpoint apart */
		if (rc == CL_EUNSUPPORTED || rc == CL_ENOTFOUND)
			rc = cl_error_set(err, CL_EUNSUPPORTED,
					  "%s: reading this Parquet checkpoint is not supported (%s)",
					  key, err ? err->message : "");
		goto out;
	}
	const cl_schema *rs = cl_reader_schema(r);
	cl_batch *b;
	int64_t row = 0;
	while (!rc && !(rc = cl_reader_next(r, &b, err)) && b) {
		for (int64_t i = 0; !rc && i < b->nrows; i++, row++) {
			for (int k = 0; !rc && k < NKINDS; k++) {
				const field *fs = kinds[k].fields;
				int first = cl_schema_find(rs, fs[0].column);
				if (first < 0 || cl_column_is_null(&b->cols[first], i))
					continue;
				cl_buf_clear(&line);
				rc = cl_buf_printf(&line, "{\"%s\":{", kinds[k].action);
				bool any = false;
				for (const field *f = fs; !rc && f->column; f++) {
					int ci = cl_schema_find(rs, f->column);
					if (ci < 0 || cl_column_is_null(&b->cols[ci], i))
						continue;
					rc = cl_buf_printf(&line, "%s\"%s\":", any ? "," : "", f->json);
					if (!rc && f->kind == F_DV)
						rc = put_dv(&line, rs, b, i, f->column);
					else if (!rc)
						rc = put_value(&line, &b->cols[ci], i, f->kind, f->json);
					any = true;
				}
				/* the protocol requires these; checkpoints may leave them null */
				if (!rc && !strcmp(kinds[k].action, "add"))
					rc = cl_buf_puts(&line, ",\"dataChange\":false");
				rc = rc ? rc : cl_buf_puts(&line, "}}");
				if (rc == CL_ENOMEM) {
					rc = cl_error_set(err, CL_ENOMEM, "out of memory");
				} else if (rc) {
					rc = cl_error_set(err, CL_EFORMAT, "%s row %lld: bad %s column types",
							  key, (long long)row + 1, kinds[k].action);
				} else {
					rc = cl__delta_apply_commit(s, st, jp, key, (const char *)line.data,
								    line.len, err);
				}
			}
		}
	}
	if (rc && rc != CL_ENOMEM && rc != CL_EUNSUPPORTED)
		cl_error_prefix(err, "checkpoint: ");
out:
	cl_reader_free(r);
	cl_parquet_file_free(pf);
	if (local && tmp)
		remove(local);
	cl_free(local);
	cl_buf_release(&line);
	return rc;
}

int cl__delta_read_checkpoint(cl_snapshot *s, cl_store *st, int64_t version, int nparts,
			      cl_error *err)
{
	cl__json_parser *jp;
	int rc = cl__json_parser_create(&jp, NULL, err);
	for (int p = 1; !rc && p <= (nparts ? nparts : 1); p++) {
		char key[96];
		if (nparts)
			snprintf(key, sizeof key, CL_DELTA_LOG_DIR "%020lld.checkpoint.%010d.%010d.parquet",
				 (long long)version, p, nparts);
		else
			snprintf(key, sizeof key, CL_DELTA_LOG_DIR "%020lld.checkpoint.parquet",
				 (long long)version);
		rc = read_part(s, st, jp, key, err);
	}
	cl__json_parser_free(jp);
	return rc;
}
