/*
 * store_local.c — the local-filesystem object store.
 *
 * A key maps to ROOT/key. Directories are created on demand and never
 * listed as objects. Durability and atomicity:
 *   put            write a hidden staging file ".cl-tmp-*" in the target
 *                  directory, fsync it, rename() it over the key, fsync the
 *                  directory — a reader sees the old object or the new one,
 *                  never a torn one;
 *   put-if-absent  same, but publish with link() (or renameat2 with
 *                  RENAME_NOREPLACE where hard links are not supported),
 *                  which fails with EEXIST when the key exists: exactly one
 *                  of any number of racing writers succeeds;
 *   new directories are fsynced into their parents, so a published key
 *   survives a crash together with its path.
 * A crash leaves at worst a staging file behind: an orphan that vacuum
 * removes (its name starts with CL_STORE_STAGE_PREFIX).
 */
#include "changelake/storage.h"
#include "core/buf.h"
#include "crash_point.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct local_store {
	cl_store base;
	char *root; /* without trailing '/' */
} local_store;

static char *join(const local_store *ls, const char *key)
{
	size_t a = strlen(ls->root), b = strlen(key);
	char *p = cl_malloc(a + b + 2);
	if (!p)
		return NULL;
	memcpy(p, ls->root, a);
	p[a] = '/';
	memcpy(p + a + 1, key, b + 1);
	return p;
}

static int io_error(cl_error *err, const char *what, const char *path, int e)
{
	return cl_error_set(err, e == ENOENT ? CL_ENOTFOUND : e == ENOMEM ? CL_ENOMEM : CL_EIO,
			    "%s %s: %s", what, path, strerror(e));
}

static int fsync_dir(const char *dir, cl_error *err)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return io_error(err, "cannot open directory", dir, errno);
	int rc = 0;
	if (fsync(fd) != 0 && errno != EINVAL)
		rc = io_error(err, "cannot sync directory", dir, errno);
	close(fd);
	return rc;
}

/* Directory part of path (a copy), or NULL on allocation failure. */
static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		return cl_strdup(".");
	if (slash == path)
		return cl_strdup("/");
	return cl_strndup(path, (size_t)(slash - path));
}

/* Create the directories of ROOT/key's parent that are missing, each synced
 * into its parent so the path survives a crash. */
static int make_parents(const local_store *ls, const char *key, cl_error *err)
{
	int rc = 0;
	if (mkdir(ls->root, 0777) == 0) {
		char *up = dir_of(ls->root);
		if (!up)
			return cl_error_set(err, CL_ENOMEM, "out of memory");
		rc = fsync_dir(up, err);
		cl_free(up);
		if (rc)
			return rc;
	} else if (errno != EEXIST) {
		return io_error(err, "cannot create directory", ls->root, errno);
	}
	char *path = join(ls, key);
	if (!path)
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	size_t rootlen = strlen(ls->root);
	for (char *p = path + rootlen + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = 0;
		if (mkdir(path, 0777) == 0) {
			char *up = dir_of(path);
			rc = up ? fsync_dir(up, err) : cl_error_set(err, CL_ENOMEM, "out of memory");
			cl_free(up);
		} else if (errno != EEXIST) {
			rc = io_error(err, "cannot create directory", path, errno);
		}
		*p = '/';
		if (rc)
			break;
	}
	cl_free(path);
	return rc;
}

/* A fresh staging path beside ROOT/key. */
static char *stage_name(const local_store *ls, const char *key)
{
	static atomic_ulong counter;
	char *path = join(ls, key);
	if (!path)
		return NULL;
	char *slash = strrchr(path, '/');
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	unsigned long c = atomic_fetch_add(&counter, 1);
	cl_buf b = {0};
	int rc = cl_buf_append(&b, path, (size_t)(slash - path));
	rc = rc ? rc : cl_buf_printf(&b, "/%s%ld-%lu-%lx-%s", CL_STORE_STAGE_PREFIX,
				     (long)getpid(), c,
				     (unsigned long)(ts.tv_nsec ^ ts.tv_sec), slash + 1);
	cl_free(path);
	if (rc) {
		cl_buf_release(&b);
		return NULL;
	}
	return (char *)cl_buf_detach(&b, NULL);
}

static int write_all(int fd, const void *data, size_t n)
{
	const uint8_t *p = data;
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int sync_file(const char *path, cl_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return io_error(err, "cannot open", path, errno);
	int rc = 0;
	if (fsync(fd) != 0)
		rc = io_error(err, "cannot sync", path, errno);
	close(fd);
	return rc;
}

/* Move tmp to final, refusing to replace when if_absent. */
static int publish_path(const char *tmp, const char *final, bool if_absent,
			const char *key, cl_error *err)
{
	if (!if_absent) {
		if (rename(tmp, final) != 0)
			return io_error(err, "cannot rename into", final, errno);
		return 0;
	}
	if (link(tmp, final) == 0) {
		unlink(tmp);
		return 0;
	}
	int e = errno;
	if (e == EPERM || e == ENOTSUP || e == EOPNOTSUPP || e == EMLINK) {
		/* Filesystems without hard links: an atomic no-replace rename. */
		if (renameat2(AT_FDCWD, tmp, AT_FDCWD, final, RENAME_NOREPLACE) == 0)
			return 0;
		e = errno;
	}
	if (e == EEXIST)
		return cl_error_set(err, CL_ECONFLICT, "%s already exists", key);
	return io_error(err, "cannot publish", final, e);
}

static int local_put(cl_store *s, const char *key, const void *data, size_t n,
		     bool if_absent, cl_error *err)
{
	local_store *ls = (local_store *)s;
	int rc = make_parents(ls, key, err);
	if (rc)
		return rc;
	char *final = join(ls, key);
	char *tmp = stage_name(ls, key);
	char *dir = final ? dir_of(final) : NULL;
	if (!final || !tmp || !dir) {
		rc = cl_error_set(err, CL_ENOMEM, "out of memory");
		goto out;
	}
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
	if (fd < 0) {
		rc = io_error(err, "cannot create", tmp, errno);
		goto out;
	}
	if (write_all(fd, data, n) != 0 || fsync(fd) != 0) {
		rc = io_error(err, "cannot write", tmp, errno);
		close(fd);
		unlink(tmp);
		goto out;
	}
	close(fd);
	cl__crash_point("store-put-staged");
	rc = publish_path(tmp, final, if_absent, key, err);
	if (rc) {
		unlink(tmp);
		goto out;
	}
	rc = fsync_dir(dir, err);
out:
	cl_free(final);
	cl_free(tmp);
	cl_free(dir);
	return rc;
}

static int local_head(cl_store *s, const char *key, cl_store_object *out, cl_error *err)
{
	local_store *ls = (local_store *)s;
	char *path = join(ls, key);
	if (!path)
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	struct stat st;
	int rc = 0;
	if (stat(path, &st) != 0)
		rc = io_error(err, "cannot stat", path, errno);
	else if (!S_ISREG(st.st_mode))
		rc = cl_error_set(err, CL_ENOTFOUND, "%s: not a file", path);
	else {
		out->key = NULL;
		out->size = st.st_size;
		out->mtime_ms = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
	}
	cl_free(path);
	return rc;
}

static int local_get(cl_store *s, const char *key, int64_t offset, int64_t length,
		     uint8_t **data, size_t *n, cl_error *err)
{
	local_store *ls = (local_store *)s;
	*data = NULL;
	*n = 0;
	char *path = join(ls, key);
	if (!path)
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	int rc = 0;
	uint8_t *buf = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = io_error(err, "cannot open", path, errno);
		goto out;
	}
	struct stat st;
	if (fstat(fd, &st) != 0) {
		rc = io_error(err, "cannot stat", path, errno);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = cl_error_set(err, CL_ENOTFOUND, "%s: not a file", path);
		goto out;
	}
	int64_t size = st.st_size;
	int64_t from = offset < size ? offset : size;
	int64_t want = size - from;
	if (length >= 0 && length < want)
		want = length;
	buf = cl_malloc((size_t)want + 1);
	if (!buf) {
		rc = cl_error_set(err, CL_ENOMEM, "%s: out of memory for %lld bytes", path,
				  (long long)want);
		goto out;
	}
	size_t got = 0;
	while (got < (size_t)want) {
		ssize_t r = pread(fd, buf + got, (size_t)want - got, (off_t)(from + (int64_t)got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = io_error(err, "cannot read", path, errno);
			goto out;
		}
		if (r == 0)
			break; /* the file shrank under us: return what is there */
		got += (size_t)r;
	}
	buf[got] = 0;
	*data = buf;
	*n = got;
	buf = NULL;
out:
	if (fd >= 0)
		close(fd);
	cl_free(buf);
	cl_free(path);
	return rc;
}

static int local_del(cl_store *s, const char *key, cl_error *err)
{
	local_store *ls = (local_store *)s;
	char *path = join(ls, key);
	if (!path)
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	int rc = 0;
	if (unlink(path) != 0)
		rc = io_error(err, "cannot delete", path, errno);
	cl_free(path);
	return rc;
}

static int list_add(cl_store_list *l, const char *key, size_t keylen, const struct stat *st)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		cl_store_object *p = cl_realloc(l->items, cap * sizeof *p);
		if (!p)
			return CL_ENOMEM;
		l->items = p;
		l->cap = cap;
	}
	char *k = cl_strndup(key, keylen);
	if (!k)
		return CL_ENOMEM;
	l->items[l->n++] = (cl_store_object){
		k, st->st_size,
		(int64_t)st->st_mtim.tv_sec * 1000 + st->st_mtim.tv_nsec / 1000000};
	return 0;
}

/* Walk directory `rel` (a key prefix ending in '/' or "") under the root,
 * adding files whose key starts with prefix and sorts after `after`. */
static int walk(local_store *ls, cl_buf *rel, const char *prefix, const char *after,
		cl_store_list *out, cl_error *err)
{
	size_t plen = strlen(prefix);
	char *dirpath = rel->len ? join(ls, (const char *)rel->data) : cl_strdup(ls->root);
	if (!dirpath)
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	DIR *d = opendir(dirpath);
	if (!d) {
		int e = errno;
		cl_free(dirpath);
		if (e == ENOENT || e == ENOTDIR)
			return 0;
		return io_error(err, "cannot list", ls->root, e);
	}
	int rc = 0;
	size_t base = rel->len;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		rel->len = base;
		if ((rc = cl_buf_puts(rel, de->d_name)) != 0)
			break;
		/* Prune subtrees that cannot hold a key with this prefix. */
		size_t cmp = rel->len < plen ? rel->len : plen;
		if (memcmp(rel->data, prefix, cmp) != 0)
			continue;
		struct stat st;
		if (fstatat(dirfd(d), de->d_name, &st, 0) != 0)
			continue; /* vanished while listing */
		if (S_ISDIR(st.st_mode)) {
			struct stat lst;
			if (fstatat(dirfd(d), de->d_name, &lst, AT_SYMLINK_NOFOLLOW) == 0 &&
			    S_ISLNK(lst.st_mode))
				continue; /* never follow directory links (loops, escapes) */
			if ((rc = cl_buf_putc(rel, '/')) != 0)
				break;
			rc = walk(ls, rel, prefix, after, out, err);
			if (rc)
				break;
			continue;
		}
		if (!S_ISREG(st.st_mode) || rel->len < plen)
			continue;
		if (after && strcmp((const char *)rel->data, after) <= 0)
			continue;
		if ((rc = list_add(out, (const char *)rel->data, rel->len, &st)) != 0)
			break;
	}
	closedir(d);
	cl_free(dirpath);
	rel->len = base;
	if (rel->data)
		rel->data[base] = 0;
	if (rc == CL_ENOMEM)
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	return rc;
}

static int cmp_key(const void *a, const void *b)
{
	return strcmp(((const cl_store_object *)a)->key, ((const cl_store_object *)b)->key);
}

static int local_list_page(cl_store *s, const char *prefix, const char *start_after,
			   size_t max_keys, cl_store_list *out, bool *more, cl_error *err)
{
	local_store *ls = (local_store *)s;
	cl_store_list all = {0};
	cl_buf rel = {0};
	/* Start at the deepest directory the prefix names. */
	const char *slash = strrchr(prefix, '/');
	int rc = 0;
	if (slash) {
		size_t n = (size_t)(slash - prefix) + 1;
		char *dirkey = cl_strndup(prefix, n - 1);
		bool ok = dirkey && cl_store_key_valid(dirkey);
		cl_free(dirkey);
		if (!ok) {
			*more = false;
			return 0; /* no valid key lives under such a prefix */
		}
		rc = cl_buf_append(&rel, prefix, n);
	} else {
		rc = cl_buf_reserve(&rel, 64);
	}
	if (rc) {
		cl_buf_release(&rel);
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	}
	rc = walk(ls, &rel, prefix, start_after, &all, err);
	cl_buf_release(&rel);
	if (rc) {
		cl_store_list_release(&all);
		return rc;
	}
	if (all.n > 1)
		qsort(all.items, all.n, sizeof all.items[0], cmp_key);
	size_t take = all.n < max_keys ? all.n : max_keys;
	*more = all.n > take;
	for (size_t i = 0; i < all.n; i++) {
		if (i < take && rc == 0) {
			if (out->n == out->cap) {
				size_t cap = out->cap ? out->cap * 2 : 64;
				while (cap < out->n + take - i)
					cap *= 2;
				cl_store_object *p = cl_realloc(out->items, cap * sizeof *p);
				if (!p) {
					rc = cl_error_set(err, CL_ENOMEM, "out of memory");
					cl_free(all.items[i].key);
					continue;
				}
				out->items = p;
				out->cap = cap;
			}
			out->items[out->n++] = all.items[i];
		} else {
			cl_free(all.items[i].key);
		}
	}
	cl_free(all.items);
	return rc;
}

static int local_stage(cl_store *s, const char *key, char **path, cl_error *err)
{
	local_store *ls = (local_store *)s;
	int rc = make_parents(ls, key, err);
	if (rc)
		return rc;
	*path = stage_name(ls, key);
	return *path ? 0 : cl_error_set(err, CL_ENOMEM, "out of memory");
}

static int local_publish(cl_store *s, const char *path, const char *key, cl_error *err)
{
	local_store *ls = (local_store *)s;
	int rc = sync_file(path, err);
	if (rc)
		return rc;
	char *final = join(ls, key);
	char *dir = final ? dir_of(final) : NULL;
	if (!final || !dir) {
		rc = cl_error_set(err, CL_ENOMEM, "out of memory");
		goto out;
	}
	rc = make_parents(ls, key, err);
	rc = rc ? rc : publish_path(path, final, false, key, err);
	rc = rc ? rc : fsync_dir(dir, err);
out:
	cl_free(final);
	cl_free(dir);
	return rc;
}

static int local_fetch(cl_store *s, const char *key, char **path, bool *is_temp,
		       cl_error *err)
{
	local_store *ls = (local_store *)s;
	char *p = join(ls, key);
	if (!p)
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	struct stat st;
	if (stat(p, &st) != 0) {
		int rc = io_error(err, "cannot open", p, errno);
		cl_free(p);
		return rc;
	}
	*path = p;
	*is_temp = false;
	return 0;
}

static void local_free(cl_store *s)
{
	local_store *ls = (local_store *)s;
	cl_free(ls->root);
	cl_free(ls->base.location);
	cl_free(ls);
}

static const cl_store_ops local_ops = {
	"file",      local_list_page, local_head,  local_get,  local_put,
	local_del,   local_stage,     local_publish, local_fetch, local_free,
};

int cl_store_open_local(cl_store **out, const char *root, cl_error *err)
{
	*out = NULL;
	if (!root || !*root)
		return cl_error_set(err, CL_EINVAL, "empty table location");
	local_store *ls = cl_calloc(1, sizeof *ls);
	if (!ls)
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	size_t n = strlen(root);
	while (n > 1 && root[n - 1] == '/')
		n--;
	ls->root = cl_strndup(root, n);
	ls->base.location = cl_strdup(root);
	if (!ls->root || !ls->base.location) {
		local_free(&ls->base);
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	}
	ls->base.ops = &local_ops;
	ls->base.page_size = 100000;
	*out = &ls->base;
	return 0;
}
