/*
 * dms_consumed.c — the consumed-file manifest of a lake table: reading the
 * one its snapshot points at, and recording the next in a transaction.
 *
 * Versions: a fresh version is max(base + 1, now in microseconds), so two
 * writers starting from the same snapshot pick different manifest names;
 * put-if-absent on the name settles the unlikely tie (retry with v + 1), and
 * the txn action for the application id makes the two commits conflict so
 * only one wins. A manifest whose version no commit recorded is garbage
 * from a crashed or losing writer and is never read.
 */
#include "changelake/dms_merge.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"

const char *cl_dms_manifest_key(char *buf, size_t n, int64_t v)
{
	snprintf(buf, n, "_changelake/dms/consumed-%020lld.tsv", (long long)v);
	return buf;
}

int cl_dms_consumed_load(cl_dms_consumed **out, int64_t *version, cl_table *t,
			 const cl_snapshot *s, const char *app_id, cl_error *err)
{
	*out = NULL;
	int64_t v = s ? cl_snapshot_txn_version(s, app_id ? app_id : CL_DMS_APP_ID) : -1;
	if (version)
		*version = v;
	if (v < 0)
		return cl_dms_consumed_create(out, err);
	char key[96];
	cl_dms_manifest_key(key, sizeof key, v);
	uint8_t *data;
	size_t n;
	int rc = cl_store_get(cl_table_store(t), key, &data, &n, err);
	if (rc == CL_ENOTFOUND)
		return cl_error_set(err, CL_EFORMAT, "%s/%s: the consumed-file manifest the "
				    "table's log points at is missing",
				    cl_store_location(cl_table_store(t)), key);
	if (rc)
		return rc;
	char label[1200];
	snprintf(label, sizeof label, "%s/%s", cl_store_location(cl_table_store(t)), key);
	rc = cl_dms_consumed_parse(out, (const char *)data, n, label, err);
	cl_free(data);
	return rc;
}

/* Append s as a JSON string. */
static int json_str(cl_buf *b, const char *s)
{
	int rc = cl_buf_putc(b, '"');
	for (; *s && !rc; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			rc = cl_buf_printf(b, "\\%c", ch);
		else if (ch < 0x20)
			rc = cl_buf_printf(b, "\\u%04x", ch);
		else
			rc = cl_buf_putc(b, (char)ch);
	}
	return rc ? rc : cl_buf_putc(b, '"');
}

int cl_dms_consumed_record(cl_table *t, cl_table_txn *x, const cl_snapshot *base,
			   const cl_dms_consumed *c, const char *app_id, const char *source,
			   int64_t *version, cl_error *err)
{
	if (!app_id)
		app_id = CL_DMS_APP_ID;
	int64_t prev = base ? cl_snapshot_txn_version(base, app_id) : -1;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t now = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
	int64_t v = prev + 1 > now ? prev + 1 : now;
	char *text;
	size_t n;
	int rc = cl_dms_consumed_format(c, &text, &n, err);
	if (rc)
		return rc;
	char key[96];
	for (int attempt = 0;; attempt++, v++) {
		cl_dms_manifest_key(key, sizeof key, v);
		rc = cl_store_put_if_absent(cl_table_store(t), key, text, n, err);
		if (rc != CL_ECONFLICT || attempt >= 16)
			break;
	}
	cl_free(text);
	if (rc)
		return rc;
	if ((rc = cl_table_txn_set_app_version(x, app_id, v, err)))
		return rc;
	cl_buf j = {0};
	rc = cl_buf_puts(&j, "{\"source\":");
	rc = rc ? rc : json_str(&j, source ? source : "");
	rc = rc ? rc : cl_buf_puts(&j, ",\"appId\":");
	rc = rc ? rc : json_str(&j, app_id);
	rc = rc ? rc : cl_buf_printf(&j, ",\"manifest\":\"%s\",\"files\":%d}", key, c->n);
	if (rc) {
		cl_buf_release(&j);
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	}
	rc = cl_table_txn_set_commit_info(x, "changelake", (const char *)j.data, err);
	cl_buf_release(&j);
	if (!rc && version)
		*version = v;
	return rc;
}
