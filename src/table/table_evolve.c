/*
 * table_evolve.c — adding columns to a table inside a transaction: a new
 * metaData action with the base snapshot's id, partitioning and
 * configuration and a schema that extends the base's (same columns in the
 * same order with the same types, then new nullable columns). Files
 * written before read the new columns as NULL (the reader fills columns a
 * file lacks), so no file is rewritten.
 */
#include "delta.h"
#include "table_data.h"

#include <string.h>

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

/*
 * The metaData line of base s with schema string sj; configuration key
 * set_key (when not NULL) set to set_value (replaced or appended).
 */
static int meta_json(cl_buf *meta, const cl_snapshot *s, const char *sj, const char *set_key,
		     const char *set_value, cl_error *err)
{
	int rc = cl_buf_puts(meta, "{\"metaData\":{\"id\":") ? oom(err) : 0;
	rc = rc ? rc : put_str(meta, s->id ? s->id : "", err);
	if (!rc && s->name) {
		rc = cl_buf_puts(meta, ",\"name\":") ? oom(err) : 0;
		rc = rc ? rc : put_str(meta, s->name, err);
	}
	if (!rc && s->description) {
		rc = cl_buf_puts(meta, ",\"description\":") ? oom(err) : 0;
		rc = rc ? rc : put_str(meta, s->description, err);
	}
	if (!rc && cl_buf_puts(meta, ",\"format\":{\"provider\":\"parquet\",\"options\":{}},"
				     "\"schemaString\":"))
		rc = oom(err);
	rc = rc ? rc : put_str(meta, sj, err);
	if (!rc && cl_buf_puts(meta, ",\"partitionColumns\":["))
		rc = oom(err);
	for (int i = 0; !rc && i < s->npartition_cols; i++) {
		if (i && cl_buf_putc(meta, ','))
			rc = oom(err);
		rc = rc ? rc : put_str(meta, s->partition_cols[i], err);
	}
	if (!rc && cl_buf_puts(meta, "],\"configuration\":{"))
		rc = oom(err);
	bool first = true, set_done = false;
	for (int i = 0; !rc && i <= s->nconfig; i++) {
		const char *k, *v;
		if (i < s->nconfig) {
			k = s->config[i].key;
			v = s->config[i].value;
			if (set_key && !strcmp(k, set_key)) {
				v = set_value;
				set_done = true;
			}
		} else {
			k = set_key;
			v = set_done ? NULL : set_value;
		}
		if (!k || !v)
			continue;
		if (!first && cl_buf_putc(meta, ','))
			rc = oom(err);
		first = false;
		rc = rc ? rc : put_str(meta, k, err);
		rc = rc ? rc : (cl_buf_putc(meta, ':') ? oom(err) : 0);
		rc = rc ? rc : put_str(meta, v, err);
	}
	if (!rc && cl_buf_printf(meta, "},\"createdTime\":%lld}}\n",
				 (long long)(s->created_time ? s->created_time : cl__now_ms())))
		rc = oom(err);
	return rc;
}

int cl_table_txn_set_schema(cl_table_txn *x, const cl_schema *schema_in, cl_error *err)
{
	const cl_snapshot *s = cl__table_txn_base(x);
	if (!s)
		return cl_error_set(err, CL_EINVAL, "set schema: the transaction has no base");
	if (s->version < 0)
		return cl_error_set(err, CL_EINVAL, "set schema: the transaction creates the "
				    "table; create it with the whole schema");
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
	rc = rc ? rc : meta_json(&meta, s, (const char *)sj.data, NULL, NULL, err);
	rc = rc ? rc : cl__table_txn_set_meta(x, (const char *)meta.data, err);
out:
	cl_schema_free(schema);
	cl_buf_release(&meta);
	cl_buf_release(&sj);
	return rc;
}

static bool has_feature(const char *const *list, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(list[i], name))
			return true;
	return false;
}

/* Append a JSON array of the features in list plus `also` (and the
 * features a legacy protocol version implies: `legacy`, NULL-terminated). */
static int feature_array(cl_buf *b, const char *const *list, int n,
			 const char *const *legacy, const char *also, cl_error *err)
{
	int rc = cl_buf_putc(b, '[') ? oom(err) : 0;
	int k = 0;
	for (int i = 0; !rc && i < n; i++, k++) {
		rc = k && cl_buf_putc(b, ',') ? oom(err) : 0;
		rc = rc ? rc : put_str(b, list[i], err);
	}
	for (; !rc && legacy && *legacy; legacy++) {
		if (has_feature(list, n, *legacy))
			continue;
		rc = k++ && cl_buf_putc(b, ',') ? oom(err) : 0;
		rc = rc ? rc : put_str(b, *legacy, err);
	}
	if (!rc && !has_feature(list, n, also)) {
		rc = k++ && cl_buf_putc(b, ',') ? oom(err) : 0;
		rc = rc ? rc : put_str(b, also, err);
	}
	return rc ? rc : (cl_buf_putc(b, ']') ? oom(err) : 0);
}

int cl_table_enable_deletion_vectors(cl_table *t, int64_t *version, cl_error *err)
{
	if (version)
		*version = -1;
	cl_snapshot *s = NULL;
	cl_table_txn *x = NULL;
	cl_buf meta = {0};
	int rc = cl_table_snapshot(&s, t, NULL, err);
	if (rc)
		return rc;
	const char *conf = cl_snapshot_config(s, "delta.enableDeletionVectors");
	bool rf = s->min_reader >= 3 &&
		  has_feature(s->reader_features, s->nreader_features, "deletionVectors");
	bool wf = s->min_writer >= 7 &&
		  has_feature(s->writer_features, s->nwriter_features, "deletionVectors");
	if (rf && wf && conf && !strcmp(conf, "true"))
		goto out; /* already on */
	if (!s->schema_string) {
		rc = cl_error_set(err, CL_EFORMAT, "the table has no schema");
		goto out;
	}
	/* features a legacy protocol implies (PROTOCOL.md "Table Features") */
	static const char *const w_legacy2[] = {"appendOnly", "invariants", NULL};
	static const char *const r_legacy2[] = {"columnMapping", NULL};
	rc = cl_table_txn_begin(&x, t, s, "SET TBLPROPERTIES", err);
	if (!rc && cl_buf_puts(&meta, "{\"protocol\":{\"minReaderVersion\":3,"
				      "\"minWriterVersion\":7,\"readerFeatures\":"))
		rc = oom(err);
	rc = rc ? rc : feature_array(&meta, s->min_reader >= 3 ? s->reader_features : NULL,
				     s->min_reader >= 3 ? s->nreader_features : 0,
				     s->min_reader == 2 ? r_legacy2 : NULL, "deletionVectors", err);
	if (!rc && cl_buf_puts(&meta, ",\"writerFeatures\":"))
		rc = oom(err);
	rc = rc ? rc : feature_array(&meta, s->min_writer >= 7 ? s->writer_features : NULL,
				     s->min_writer >= 7 ? s->nwriter_features : 0,
				     s->min_writer >= 2 && s->min_writer < 7 ? w_legacy2 : NULL,
				     "deletionVectors", err);
	if (!rc && cl_buf_puts(&meta, "}}\n"))
		rc = oom(err);
	rc = rc ? rc : meta_json(&meta, s, s->schema_string, "delta.enableDeletionVectors", "true",
				 err);
	rc = rc ? rc : cl__table_txn_set_meta(x, (const char *)meta.data, err);
	rc = rc ? rc : cl_table_txn_set_param(x, "properties",
					      "{\"delta.enableDeletionVectors\":\"true\"}", err);
	rc = rc ? rc : cl_table_txn_commit(x, version, err);
out:
	cl_table_txn_free(x);
	cl_buf_release(&meta);
	cl_snapshot_free(s);
	return rc;
}

int cl_table_set_property(cl_table *t, const char *key, const char *value, int64_t *version,
			  cl_error *err)
{
	if (version)
		*version = -1;
	if (!key || !*key)
		return cl_error_set(err, CL_EINVAL, "set property: no key");
	/* properties that come with a protocol change or define the layout
	 * have their own way (or none): set alone they would lie */
	static const char *const refused[] = {"delta.enableDeletionVectors",
		"delta.columnMapping.mode", "delta.minReaderVersion", "delta.minWriterVersion", NULL};
	bool bad = !strncmp(key, "changelake.", 11) || !strncmp(key, "delta.feature.", 14);
	for (int i = 0; refused[i] && !bad; i++)
		bad = !strcmp(key, refused[i]);
	if (bad)
		return cl_error_set(err, CL_EUNSUPPORTED, "set property: '%s' cannot be set this "
				    "way", key);
	cl_snapshot *s = NULL;
	cl_table_txn *x = NULL;
	cl_buf meta = {0}, params = {0};
	int rc = cl_table_snapshot(&s, t, NULL, err);
	if (rc)
		return rc;
	const char *old = cl_snapshot_config(s, key);
	if ((!old && !value) || (old && value && !strcmp(old, value)))
		goto out; /* already so */
	if (!s->schema_string) {
		rc = cl_error_set(err, CL_EFORMAT, "the table has no schema");
		goto out;
	}
	rc = cl_table_txn_begin(&x, t, s, value ? "SET TBLPROPERTIES" : "UNSET TBLPROPERTIES",
				err);
	rc = rc ? rc : meta_json(&meta, s, s->schema_string, key, value, err);
	rc = rc ? rc : cl__table_txn_set_meta(x, (const char *)meta.data, err);
	if (!rc) {
		/* as Spark: properties {"k":"v"} or propertyKeys ["k"] */
		rc = cl_buf_puts(&params, value ? "{" : "[") ? oom(err) : 0;
		rc = rc ? rc : put_str(&params, key, err);
		if (!rc && value) {
			rc = cl_buf_putc(&params, ':') ? oom(err) : 0;
			rc = rc ? rc : put_str(&params, value, err);
		}
		rc = rc ? rc : (cl_buf_puts(&params, value ? "}" : "]") ? oom(err) : 0);
	}
	rc = rc ? rc : cl_table_txn_set_param(x, value ? "properties" : "propertyKeys",
					      (const char *)params.data, err);
	rc = rc ? rc : cl_table_txn_commit(x, version, err);
out:
	cl_table_txn_free(x);
	cl_buf_release(&meta);
	cl_buf_release(&params);
	cl_snapshot_free(s);
	return rc;
}
