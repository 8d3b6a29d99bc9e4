/*
 * table_create.c — version 0 of a new table: protocol and metaData from a
 * changelake schema and the layout options (partitioning with transforms,
 * key columns, buckets, target file size), kept in the table configuration
 * so every later writer lays out rows the same way. With deletion vectors
 * (the option, or delta.enableDeletionVectors=true in the configuration)
 * the protocol is reader 3 / writer 7 with the feature deletionVectors and
 * the configuration says delta.enableDeletionVectors=true.
 *
 * cl_table_txn_begin_create puts these lines into a transaction whose
 * commit is version 0 with the first data (as CREATE TABLE AS SELECT):
 * until it commits there is no table, so a failed run leaves none;
 * cl_table_create commits them alone.
 */
#include "delta.h"
#include "table_data.h"
#include "layout.h"

#include <stdio.h>
#include <string.h>


void cl_table_create_options_init(cl_table_create_options *o)
{
	memset(o, 0, sizeof *o);
	o->target_file_bytes = 128LL << 20;
}

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

static int put_kv(cl_buf *b, bool *first, const char *k, const char *v, cl_error *err)
{
	int rc = *first ? 0 : cl_buf_putc(b, ',');
	*first = false;
	if (rc)
		return oom(err);
	rc = put_str(b, k, err);
	rc = rc ? rc : (cl_buf_putc(b, ':') ? oom(err) : 0);
	return rc ? rc : put_str(b, v, err);
}

/* The protocol and metaData lines of a new table (appended to meta). */
static int create_meta(cl_buf *meta, const cl_schema *schema_in,
		       const cl_table_create_options *opts_in, cl_error *err)
{
	cl_table_create_options defaults;
	cl_table_create_options_init(&defaults);
	const cl_table_create_options *o = opts_in ? opts_in : &defaults;
	cl_schema *schema = NULL;
	char **pcols = NULL;
	cl_buf schema_json = {0}, transforms = {0}, keys = {0};
	int rc = cl_schema_create(&schema, err);
	if (rc)
		return rc;
	int np = o->npartition_by;
	pcols = cl_calloc((size_t)np + 1, sizeof *pcols);
	if (!pcols) {
		rc = oom(err);
		goto out;
	}
	for (int i = 0; i < schema_in->nfields && !rc; i++) {
		const cl_field *f = &schema_in->fields[i];
		cl_type dt;
		rc = cl__delta_table_type(&dt, f->type, f->name, err);
		rc = rc ? rc : cl_schema_add(schema, f->name, dt, f->nullable, err);
	}
	if (rc)
		goto out;
	if (schema->nfields == 0) {
		rc = cl_error_set(err, CL_ESCHEMA, "a table needs at least one column");
		goto out;
	}
	for (int i = 0; i < np && !rc; i++) {
		char *src;
		cl__transform xf;
		if ((rc = cl__layout_parse_partition(o->partition_by[i], &src, &xf, err)) != 0)
			break;
		int si = cl_schema_find(schema_in, src);
		if (si < 0) {
			rc = cl_error_set(err, CL_ESCHEMA, "partition column '%s' is not in the schema",
					  src);
		} else if (!cl__transform_applies(xf, schema_in->fields[si].type)) {
			rc = cl_error_set(err, CL_ESCHEMA,
					  "partition transform %s needs a date or timestamp column; "
					  "'%s' is not one", cl__transform_name(xf), src);
		} else if (xf == CL__XF_IDENTITY) {
			pcols[i] = cl_strdup(src);
		} else {
			cl_buf name = {0};
			if (cl_buf_printf(&name, "%s_%s", src, cl__transform_name(xf)))
				rc = oom(err);
			else
				rc = cl_schema_add(schema, (const char *)name.data,
						   cl__transform_type(xf), true, err);
			if (!rc) {
				if (transforms.len)
					rc = cl_buf_putc(&transforms, ',');
				rc = rc ? rc : cl_buf_printf(&transforms, "%s=%s(%s)",
							     (const char *)name.data,
							     cl__transform_name(xf), src);
				if (rc)
					rc = oom(err);
			}
			pcols[i] = (char *)cl_buf_detach(&name, NULL);
		}
		cl_free(src);
		if (!rc && !pcols[i])
			rc = oom(err);
		for (int j = 0; !rc && j < i; j++)
			if (!strcmp(pcols[j], pcols[i]))
				rc = cl_error_set(err, CL_ESCHEMA, "partition column '%s' given twice",
						  pcols[i]);
		if (!rc && schema->fields[cl_schema_find(schema, pcols[i])].type.id == CL_BINARY)
			rc = cl_error_set(err, CL_EUNSUPPORTED,
					  "binary partition columns are not supported ('%s')", pcols[i]);
	}
	if (rc)
		goto out;
	if (np >= schema->nfields) {
		rc = cl_error_set(err, CL_ESCHEMA, "every column is a partition column; a table "
				  "needs at least one data column");
		goto out;
	}
	for (int i = 0; i < o->nkeys && !rc; i++) {
		if (cl_schema_find(schema_in, o->keys[i]) < 0)
			rc = cl_error_set(err, CL_ESCHEMA, "key column '%s' is not in the schema",
					  o->keys[i]);
		else if ((i && cl_buf_putc(&keys, ',')) || cl_buf_puts(&keys, o->keys[i]))
			rc = oom(err);
	}
	if (rc)
		goto out;
	if (o->buckets < 0 || o->buckets > 100000) {
		rc = cl_error_set(err, CL_EINVAL, "buckets must be 0..100000, not %d", o->buckets);
		goto out;
	}
	if (o->buckets > 1 && o->nkeys == 0) {
		rc = cl_error_set(err, CL_EINVAL, "buckets need key columns");
		goto out;
	}
	bool ntz = false;
	if ((rc = cl__delta_schema_to_json(&schema_json, schema, &ntz, err)) != 0)
		goto out;
	/* merge-on-read: the option, or the property given as configuration */
	bool dv = o->deletion_vectors, dv_conf = false;
	for (int i = 0; i < o->nconfig; i++)
		if (!strcmp(o->config[i].key, "delta.enableDeletionVectors") && o->config[i].value) {
			dv_conf = true;
			if (o->deletion_vectors && strcmp(o->config[i].value, "true")) {
				rc = cl_error_set(err, CL_EINVAL, "deletion vectors asked for, but the "
						  "configuration sets delta.enableDeletionVectors=%s",
						  o->config[i].value);
				goto out;
			}
			dv = dv || !strcmp(o->config[i].value, "true");
		}
	/* protocol: table features (reader 3 / writer 7) when one is needed */
	if (ntz || dv) {
		const char *fl = ntz && dv ? "\"deletionVectors\",\"timestampNtz\""
				 : dv ? "\"deletionVectors\"" : "\"timestampNtz\"";
		rc = cl_buf_printf(meta, "{\"protocol\":{\"minReaderVersion\":3,"
				   "\"minWriterVersion\":7,\"readerFeatures\":[%s],"
				   "\"writerFeatures\":[%s]}}\n", fl, fl);
	} else {
		rc = cl_buf_puts(meta, "{\"protocol\":{\"minReaderVersion\":1,\"minWriterVersion\":2}}\n");
	}
	char id[37];
	cl__uuid4(id);
	rc = rc ? rc : cl_buf_printf(meta, "{\"metaData\":{\"id\":\"%s\",", id);
	if (rc) {
		rc = oom(err);
		goto out;
	}
	if (o->name && ((rc = cl_buf_puts(meta, "\"name\":") ? oom(err) : 0) ||
			(rc = put_str(meta, o->name, err)) || (rc = cl_buf_putc(meta, ',') ? oom(err) : 0)))
		goto out;
	if (o->description &&
	    ((rc = cl_buf_puts(meta, "\"description\":") ? oom(err) : 0) ||
	     (rc = put_str(meta, o->description, err)) ||
	     (rc = cl_buf_putc(meta, ',') ? oom(err) : 0)))
		goto out;
	if (cl_buf_puts(meta, "\"format\":{\"provider\":\"parquet\",\"options\":{}},\"schemaString\":")) {
		rc = oom(err);
		goto out;
	}
	if ((rc = put_str(meta, (const char *)schema_json.data, err)) != 0)
		goto out;
	if (cl_buf_puts(meta, ",\"partitionColumns\":[")) {
		rc = oom(err);
		goto out;
	}
	for (int i = 0; i < np && !rc; i++) {
		if (i && cl_buf_putc(meta, ','))
			rc = oom(err);
		rc = rc ? rc : put_str(meta, pcols[i], err);
	}
	if (!rc && cl_buf_puts(meta, "],\"configuration\":{"))
		rc = oom(err);
	bool first = true;
	char num[32];
	if (!rc && keys.len)
		rc = put_kv(meta, &first, CL_TABLE_CONF_KEYS, (const char *)keys.data, err);
	if (!rc && o->buckets > 1) {
		snprintf(num, sizeof num, "%d", o->buckets);
		rc = put_kv(meta, &first, CL_TABLE_CONF_BUCKETS, num, err);
	}
	if (!rc) {
		snprintf(num, sizeof num, "%lld",
			 (long long)(o->target_file_bytes > 0 ? o->target_file_bytes : 128LL << 20));
		rc = put_kv(meta, &first, CL_TABLE_CONF_TARGET_SIZE, num, err);
	}
	if (!rc && transforms.len)
		rc = put_kv(meta, &first, CL_TABLE_CONF_TRANSFORMS, (const char *)transforms.data,
			    err);
	for (int i = 0; !rc && i < o->nconfig; i++)
		rc = o->config[i].value ? put_kv(meta, &first, o->config[i].key,
						 o->config[i].value, err) : 0;
	if (!rc && dv && !dv_conf)
		rc = put_kv(meta, &first, "delta.enableDeletionVectors", "true", err);
	if (!rc && cl_buf_printf(meta, "},\"createdTime\":%lld}}\n", (long long)cl__now_ms()))
		rc = oom(err);
out:
	if (pcols)
		for (int i = 0; i < np; i++)
			cl_free(pcols[i]);
	cl_free(pcols);
	cl_schema_free(schema);
	cl_buf_release(&schema_json);
	cl_buf_release(&transforms);
	cl_buf_release(&keys);
	return rc;
}

int cl_table_txn_begin_create(cl_table_txn **out, cl_table *t, const cl_schema *schema,
			      const cl_table_create_options *opts, const char *operation,
			      cl_error *err)
{
	*out = NULL;
	cl_buf meta = {0};
	cl_table_txn *x = NULL;
	int rc = create_meta(&meta, schema, opts, err);
	rc = rc ? rc : cl_table_txn_begin(&x, t, NULL, operation ? operation : "CREATE TABLE",
					  err);
	rc = rc ? rc : cl__table_txn_set_meta(x, (const char *)meta.data, err);
	cl_buf_release(&meta);
	if (rc) {
		cl_table_txn_free(x);
		return rc;
	}
	*out = x;
	return 0;
}

int cl_table_create(cl_table *t, const cl_schema *schema,
		    const cl_table_create_options *opts, cl_error *err)
{
	cl_table_txn *x = NULL;
	int rc = cl_table_txn_begin_create(&x, t, schema, opts, "CREATE TABLE", err);
	rc = rc ? rc : cl_table_txn_commit(x, NULL, err);
	cl_table_txn_free(x);
	return rc;
}
