/*
 * store.c — the generic object-store API: key validation, paged listing
 * collected into one list, and dispatch to a backend's cl_store_ops.
 *
 * Invariant: every key handed to a backend passed cl_store_key_valid, so a
 * backend may map keys onto paths without further checks for escapes.
 */
#include "changelake/storage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cl_store_list_release(cl_store_list *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		cl_free(l->items[i].key);
	cl_free(l->items);
	l->items = NULL;
	l->n = l->cap = 0;
}

bool cl_store_key_valid(const char *key)
{
	if (!key || !*key || *key == '/')
		return false;
	const char *seg = key;
	for (const char *p = key;; p++) {
		if (*p && (unsigned char)*p < 0x20)
			return false;
		if (*p == '/' || *p == 0) {
			size_t n = (size_t)(p - seg);
			if (n == 0 || (n == 1 && seg[0] == '.') ||
			    (n == 2 && seg[0] == '.' && seg[1] == '.'))
				return false;
			if (*p == 0)
				return true;
			seg = p + 1;
		}
	}
}

static int check_key(const char *key, cl_error *err)
{
	if (!cl_store_key_valid(key))
		return cl_error_set(err, CL_EINVAL, "invalid object key '%s'",
				    key ? key : "(null)");
	return 0;
}

int cl_store_open(cl_store **out, const char *location, cl_error *err)
{
	*out = NULL;
	if (!location || !*location)
		return cl_error_set(err, CL_EINVAL, "empty table location");
	if (!strncmp(location, "file://", 7))
		return cl_store_open_local(out, location + 7, err);
	if (!strncmp(location, "s3://", 5) || !strncmp(location, "s3a://", 6) ||
	    !strncmp(location, "gs://", 5) || !strncmp(location, "abfss://", 8))
		return cl_error_set(err, CL_EUNSUPPORTED,
				    "%s: object-store locations are not supported yet "
				    "(local paths only)", location);
	return cl_store_open_local(out, location, err);
}

void cl_store_free(cl_store *s)
{
	if (s)
		s->ops->free(s);
}

const char *cl_store_location(const cl_store *s)
{
	return s->location;
}

int cl_store_list_prefix(cl_store *s, const char *prefix, const char *start_after,
			 cl_store_list *out, cl_error *err)
{
	char *after = start_after ? cl_strdup(start_after) : NULL;
	if (start_after && !after)
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	size_t page = s->page_size ? s->page_size : 1000;
	int rc = 0;
	for (;;) {
		bool more = false;
		size_t before = out->n;
		rc = s->ops->list_page(s, prefix ? prefix : "", after, page, out, &more, err);
		if (rc)
			break;
		if (!more)
			break;
		if (out->n == before) {
			rc = cl_error_set(err, CL_EINTERNAL,
					  "%s: listing made no progress", s->location);
			break;
		}
		cl_free(after);
		after = cl_strdup(out->items[out->n - 1].key);
		if (!after) {
			rc = cl_error_set(err, CL_ENOMEM, "out of memory");
			break;
		}
	}
	cl_free(after);
	return rc;
}

int cl_store_head(cl_store *s, const char *key, cl_store_object *out, cl_error *err)
{
	int rc = check_key(key, err);
	return rc ? rc : s->ops->head(s, key, out, err);
}

int cl_store_get(cl_store *s, const char *key, uint8_t **data, size_t *n,
		 cl_error *err)
{
	int rc = check_key(key, err);
	return rc ? rc : s->ops->get(s, key, 0, -1, data, n, err);
}

int cl_store_get_range(cl_store *s, const char *key, int64_t offset, int64_t length,
		       uint8_t **data, size_t *n, cl_error *err)
{
	int rc = check_key(key, err);
	if (rc)
		return rc;
	if (offset < 0 || length < 0)
		return cl_error_set(err, CL_EINVAL, "%s: negative range", key);
	return s->ops->get(s, key, offset, length, data, n, err);
}

int cl_store_put(cl_store *s, const char *key, const void *data, size_t n,
		 cl_error *err)
{
	int rc = check_key(key, err);
	return rc ? rc : s->ops->put(s, key, data, n, false, err);
}

int cl_store_put_if_absent(cl_store *s, const char *key, const void *data,
			   size_t n, cl_error *err)
{
	int rc = check_key(key, err);
	return rc ? rc : s->ops->put(s, key, data, n, true, err);
}

int cl_store_delete(cl_store *s, const char *key, cl_error *err)
{
	int rc = check_key(key, err);
	return rc ? rc : s->ops->del(s, key, err);
}

int cl_store_stage(cl_store *s, const char *key, char **path, cl_error *err)
{
	*path = NULL;
	int rc = check_key(key, err);
	return rc ? rc : s->ops->stage(s, key, path, err);
}

int cl_store_publish(cl_store *s, const char *path, const char *key, cl_error *err)
{
	int rc = check_key(key, err);
	return rc ? rc : s->ops->publish(s, path, key, err);
}

void cl_store_unstage(cl_store *s, const char *path)
{
	if (path)
		remove(path);
}

int cl_store_fetch(cl_store *s, const char *key, char **path, bool *is_temp,
		   cl_error *err)
{
	*path = NULL;
	*is_temp = false;
	int rc = check_key(key, err);
	return rc ? rc : s->ops->fetch(s, key, path, is_temp, err);
}

/* realpath of path; when it does not exist, realpath of its longest
 * existing ancestor joined with the rest, which must then be a valid key
 * (no "." or ".." segments). malloc'd, or NULL. */
static char *resolve(const char *path)
{
	char *r = realpath(path, NULL);
	if (r)
		return r;
	size_t n = strlen(path);
	char *dir = cl_strdup(path);
	if (!dir)
		return NULL;
	char *out = NULL;
	while (n > 1) {
		char *slash = strrchr(dir, '/');
		if (!slash || slash == dir)
			break;
		*slash = 0;
		const char *rest = path + (slash - dir) + 1;
		char *rd = realpath(dir, NULL);
		if (!rd)
			continue;
		if (cl_store_key_valid(rest)) {
			size_t a = strlen(rd), b = strlen(rest);
			out = malloc(a + b + 2);
			if (out) {
				memcpy(out, rd, a);
				out[a] = '/';
				memcpy(out + a + 1, rest, b + 1);
			}
		}
		free(rd);
		break;
	}
	cl_free(dir);
	return out;
}

int cl_store_key_from_uri(cl_store *s, const char *uri, char **key, cl_error *err)
{
	*key = NULL;
	const char *path = uri;
	if (!strncmp(uri, "file://localhost/", 17))
		path = uri + 16;
	else if (!strncmp(uri, "file:///", 8))
		path = uri + 7;
	else if (!strncmp(uri, "file:/", 6))
		path = uri + 5;
	if (strcmp(s->ops->scheme, "file") != 0 || path[0] != '/')
		return cl_error_set(err, CL_EUNSUPPORTED,
				    "path '%s' is outside the table %s", uri, s->location);
	char *root = realpath(s->location, NULL);
	char *abs = resolve(path);
	int rc = 0;
	size_t rl = root ? strlen(root) : 0;
	if (!root || !abs || strncmp(abs, root, rl) != 0 || abs[rl] != '/' ||
	    !cl_store_key_valid(abs + rl + 1)) {
		rc = cl_error_set(err, CL_EUNSUPPORTED,
				  "path '%s' is outside the table %s", uri, s->location);
	} else {
		*key = cl_strdup(abs + rl + 1);
		if (!*key)
			rc = cl_error_set(err, CL_ENOMEM, "out of memory");
	}
	free(root);
	free(abs);
	return rc;
}
