/*
 * table_evolve.c — adding columns to a table inside a transaction: a new
 * metaData action with the base snapshot's id, partitioning and
 * configuration and a schema that extends the base's (same columns in the
 * same order with the same types, then new nullable columns). Files
 * written before read the new columns as NULL (the reader fills columns a
 * file lacks), so no file is rewritten.
 */
#include "delta.h"

#include <string.h>

int cl__table_txn_set_meta(cl_table_txn *x, const char *meta_lines, cl_error *err);
const cl_snapshot *cl__table_txn_base(const cl_table_txn *x);

static int oom(cl_error *err)
{
	return cl_error_set(err, CL_ENOMEM, "out of memory");
}

static int put_str(cl_buf *b, const char *s, cl_error *err)
{
	int rc = cl__json_escape(b, s, strlen(s));
	if (rc == CL_EINVAL)
		return cl_error_set(err, CL_EINVAL, "text is not valid UTF-8: '%.40s'", s);
	return rc ? oom(err) : 0;
}

int cl_table_txn_set_schema(cl_table_txn *x, const cl_schema *schema_in, cl_error *err)
{
	const cl_snapshot *s = cl__table_txn_base(x);
	if (!s)
		return cl_error_set(err, CL_EINVAL, "set schema: the transaction has no base");
	const cl_schema *old = cl_snapshot_schema(s);
	if (!old)
		return cl_error_set(err, CL_EUNSUPPORTED, "set schema: the table has no schema");
	if (schema_in->nfields < old->nfields)
		return cl_error_set(err, CL_ESCHEMA, "set schema: columns can only be added");
	cl_schema *schema = NULL;
	cl_buf meta = {0}, sj = {0};
	int rc = cl_schema_create(&schema, err);
	for (int i = 0; !rc && i < schema_in->nfields; i++) {
		const cl_field *f = &schema_in->fields[i];
		cl_type dt;
		rc = cl__delta_table_type(&dt, f->type, f->name, err);
		if (rc)
			break;
		if (i < old->nfields) {
			const cl_field *o = &old->fields[i];
			if (strcmp(o->name, f->name) || !cl_type_equal(o->type, dt))
				rc = cl_error_set(err, CL_ESCHEMA, "set schema: column %d is '%s' in "
						  "the table, '%s' in the new schema (columns can "
						  "only be added at the end)", i + 1, o->name,
						  f->name);
			else
				rc = cl_schema_add(schema, o->name, o->type, o->nullable, err);
		} else if (cl_schema_find(old, f->name) >= 0) {
			rc = cl_error_set(err, CL_ESCHEMA, "set schema: column '%s' twice", f->name);
		} else {
			rc = cl_schema_add(schema, f->name, dt, true, err);
		}
	}
	bool ntz = false;
	rc = rc ? rc : cl__delta_schema_to_json(&sj, schema, &ntz, err);
	if (!rc && ntz) {
		bool has = false;
		for (int i = 0; i < s->nreader_features; i++)
			if (!strcmp(s->reader_features[i], "timestampNtz"))
				has = true;
		if (!has)
			rc = cl_error_set(err, CL_EUNSUPPORTED,
					  "set schema: a timestamp_ntz column needs a protocol "
					  "upgrade, which changelake does not write yet");
	}
	if (rc)
		goto out;
	rc = cl_buf_puts(&meta, "{\"metaData\":{\"id\":") ? oom(err) : 0;
	rc = rc ? rc : put_str(&meta, s->id ? s->id : "", err);
	if (!rc && s->name) {
		rc = cl_buf_puts(&meta, ",\"name\":") ? oom(err) : 0;
		rc = rc ? rc : put_str(&meta, s->name, err);
	}
	if (!rc && s->description) {
		rc = cl_buf_puts(&meta, ",\"description\":") ? oom(err) : 0;
		rc = rc ? rc : put_str(&meta, s->description, err);
	}
	if (!rc && cl_buf_puts(&meta, ",\"format\":{\"provider\":\"parquet\",\"options\":{}},"
				      "\"schemaString\":"))
		rc = oom(err);
	rc = rc ? rc : put_str(&meta, (const char *)sj.data, err);
	if (!rc && cl_buf_puts(&meta, ",\"partitionColumns\":["))
		rc = oom(err);
	for (int i = 0; !rc && i < s->npartition_cols; i++) {
		if (i && cl_buf_putc(&meta, ','))
			rc = oom(err);
		rc = rc ? rc : put_str(&meta, s->partition_cols[i], err);
	}
	if (!rc && cl_buf_puts(&meta, "],\"configuration\":{"))
		rc = oom(err);
	bool first = true;
	for (int i = 0; !rc && i < s->nconfig; i++) {
		if (!s->config[i].value)
			continue;
		if (!first && cl_buf_putc(&meta, ','))
			rc = oom(err);
		first = false;
		rc = rc ? rc : put_str(&meta, s->config[i].key, err);
		rc = rc ? rc : (cl_buf_putc(&meta, ':') ? oom(err) : 0);
		rc = rc ? rc : put_str(&meta, s->config[i].value, err);
	}
	if (!rc && cl_buf_printf(&meta, "},\"createdTime\":%lld}}\n",
				 (long long)(s->created_time ? s->created_time : cl__now_ms())))
		rc = oom(err);
	rc = rc ? rc : cl__table_txn_set_meta(x, (const char *)meta.data, err);
out:
	cl_schema_free(schema);
	cl_buf_release(&meta);
	cl_buf_release(&sj);
	return rc;
}
