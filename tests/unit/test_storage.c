/* test_storage.c — the object-store interface over the local backend. */
#include "test.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "changelake/storage.h"

static cl_store *open_tmp(const char **dir)
{
	static char root[600];
	snprintf(root, sizeof root, "%s/store", cl_test_tmpdir());
	cl_store *s = NULL;
	cl_error err = {0};
	if (cl_store_open(&s, root, &err) != 0)
		return NULL;
	if (dir)
		*dir = root;
	return s;
}

TEST(storage_put_get_head_range)
{
	cl_error err = {0};
	const char *root;
	cl_store *s = open_tmp(&root);
	CHECK(s);
	CHECK_OK(cl_store_put(s, "a/b/c.txt", "hello world", 11, &err), &err);
	uint8_t *d;
	size_t n;
	CHECK_OK(cl_store_get(s, "a/b/c.txt", &d, &n, &err), &err);
	CHECK_EQ_INT(n, 11);
	CHECK_STR((char *)d, "hello world");
	cl_free(d);
	CHECK_OK(cl_store_get_range(s, "a/b/c.txt", 6, 3, &d, &n, &err), &err);
	CHECK_EQ_INT(n, 3);
	CHECK(memcmp(d, "wor", 3) == 0);
	cl_free(d);
	CHECK_OK(cl_store_get_range(s, "a/b/c.txt", 9, 100, &d, &n, &err), &err);
	CHECK_EQ_INT(n, 2);
	cl_free(d);
	CHECK_OK(cl_store_get_range(s, "a/b/c.txt", 50, 5, &d, &n, &err), &err);
	CHECK_EQ_INT(n, 0);
	cl_free(d);
	cl_store_object o;
	CHECK_OK(cl_store_head(s, "a/b/c.txt", &o, &err), &err);
	CHECK_EQ_INT(o.size, 11);
	CHECK(o.mtime_ms > 1600000000000LL);
	/* replace */
	CHECK_OK(cl_store_put(s, "a/b/c.txt", "x", 1, &err), &err);
	CHECK_OK(cl_store_get(s, "a/b/c.txt", &d, &n, &err), &err);
	CHECK_EQ_INT(n, 1);
	cl_free(d);
	CHECK_EQ_INT(cl_store_get(s, "a/nope", &d, &n, &err), CL_ENOTFOUND);
	CHECK_EQ_INT(cl_store_head(s, "a/b", &o, &err), CL_ENOTFOUND); /* a directory */
	/* no staging file is left beside the object */
	cl_store_list l = {0};
	CHECK_OK(cl_store_list_prefix(s, "", NULL, &l, &err), &err);
	CHECK_EQ_INT(l.n, 1);
	CHECK_STR(l.items[0].key, "a/b/c.txt");
	cl_store_list_release(&l);
	cl_store_free(s);
}

TEST(storage_put_if_absent_conflict)
{
	cl_error err = {0};
	cl_store *s = open_tmp(NULL);
	CHECK(s);
	CHECK_OK(cl_store_put_if_absent(s, "_log/1.json", "first", 5, &err), &err);
	CHECK_EQ_INT(cl_store_put_if_absent(s, "_log/1.json", "second", 6, &err), CL_ECONFLICT);
	CHECK(strstr(err.message, "_log/1.json") != NULL);
	uint8_t *d;
	size_t n;
	CHECK_OK(cl_store_get(s, "_log/1.json", &d, &n, &err), &err);
	CHECK_STR((char *)d, "first");
	cl_free(d);
	cl_store_list l = {0};
	CHECK_OK(cl_store_list_prefix(s, "_log/", NULL, &l, &err), &err);
	CHECK_EQ_INT(l.n, 1); /* the loser's staging file is gone */
	cl_store_list_release(&l);
	cl_store_free(s);
}

TEST(storage_put_if_absent_race_has_one_winner)
{
	cl_error err = {0};
	const char *root;
	cl_store *s = open_tmp(&root);
	CHECK(s);
	for (int round = 0; round < 20; round++) {
		char key[64];
		snprintf(key, sizeof key, "_log/%03d.json", round);
		enum { N = 6 };
		pid_t pids[N];
		for (int i = 0; i < N; i++) {
			pids[i] = fork();
			if (pids[i] == 0) {
				char body[32];
				int len = snprintf(body, sizeof body, "writer %d", i);
				cl_error e = {0};
				int rc = cl_store_put_if_absent(s, key, body, (size_t)len, &e);
				_exit(rc == 0 ? 0 : rc == CL_ECONFLICT ? 1 : 2);
			}
		}
		int winners = 0, losers = 0, winner = -1;
		for (int i = 0; i < N; i++) {
			int st;
			waitpid(pids[i], &st, 0);
			CHECK(WIFEXITED(st));
			if (WEXITSTATUS(st) == 0) {
				winners++;
				winner = i;
			} else if (WEXITSTATUS(st) == 1) {
				losers++;
			}
		}
		CHECK_EQ_INT(winners, 1);
		CHECK_EQ_INT(losers, N - 1);
		uint8_t *d;
		size_t n;
		CHECK_OK(cl_store_get(s, key, &d, &n, &err), &err);
		char want[32];
		snprintf(want, sizeof want, "writer %d", winner);
		CHECK_STR((char *)d, want);
		cl_free(d);
	}
	cl_store_list l = {0};
	CHECK_OK(cl_store_list_prefix(s, "", NULL, &l, &err), &err);
	CHECK_EQ_INT(l.n, 20);
	cl_store_list_release(&l);
	cl_store_free(s);
}

TEST(storage_invalid_keys)
{
	cl_error err = {0};
	cl_store *s = open_tmp(NULL);
	CHECK(s);
	const char *bad[] = {"", "/abs", "../x", "a/../../x", "a//b", "a/./b", "a/..", ".",
			     "a/", "x\ny"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		CHECK(!cl_store_key_valid(bad[i]));
		CHECK_EQ_INT(cl_store_put(s, bad[i], "x", 1, &err), CL_EINVAL);
	}
	CHECK(cl_store_key_valid("a/b=..x/.hidden"));
	CHECK(cl_store_key_valid("p=%2E%2E/f"));
	cl_store_free(s);
}

TEST(storage_list_paged_sorted_prefix)
{
	cl_error err = {0};
	cl_store *s = open_tmp(NULL);
	CHECK(s);
	s->page_size = 3; /* many pages */
	char key[64];
	for (int i = 24; i >= 0; i--) {
		snprintf(key, sizeof key, "d/%c/f%02d", 'a' + i % 3, i);
		CHECK_OK(cl_store_put(s, key, "", 0, &err), &err);
	}
	CHECK_OK(cl_store_put(s, "d-other", "", 0, &err), &err);
	CHECK_OK(cl_store_put(s, "db/x", "", 0, &err), &err);
	cl_store_list l = {0};
	CHECK_OK(cl_store_list_prefix(s, "d/", NULL, &l, &err), &err);
	CHECK_EQ_INT(l.n, 25);
	for (size_t i = 1; i < l.n; i++)
		CHECK(strcmp(l.items[i - 1].key, l.items[i].key) < 0);
	CHECK_STR(l.items[0].key, "d/a/f00");
	cl_store_list_release(&l);
	/* a prefix that ends inside a name */
	CHECK_OK(cl_store_list_prefix(s, "d/b/f1", NULL, &l, &err), &err);
	CHECK_EQ_INT(l.n, 4); /* b is i%3==1: f10 f13 f16 f19 */
	cl_store_list_release(&l);
	CHECK_OK(cl_store_list_prefix(s, "d", NULL, &l, &err), &err);
	CHECK_EQ_INT(l.n, 27);
	cl_store_list_release(&l);
	CHECK_OK(cl_store_list_prefix(s, "d/", "d/b/f13", &l, &err), &err);
	CHECK_STR(l.items[0].key, "d/b/f16");
	CHECK_EQ_INT(l.n, 3 + 8); /* f16 f19 f22, then the 8 of c */
	cl_store_list_release(&l);
	CHECK_OK(cl_store_list_prefix(s, "nothing/", NULL, &l, &err), &err);
	CHECK_EQ_INT(l.n, 0);
	CHECK_OK(cl_store_list_prefix(s, "../", NULL, &l, &err), &err);
	CHECK_EQ_INT(l.n, 0);
	cl_store_list_release(&l);
	cl_store_free(s);
}

TEST(storage_delete_stage_publish_fetch)
{
	cl_error err = {0};
	cl_store *s = open_tmp(NULL);
	CHECK(s);
	char *path = NULL;
	CHECK_OK(cl_store_stage(s, "p=1/data.bin", &path, &err), &err);
	FILE *f = fopen(path, "wb");
	CHECK(f);
	fputs("payload", f);
	fclose(f);
	cl_store_list l = {0};
	CHECK_OK(cl_store_list_prefix(s, "p=1/", NULL, &l, &err), &err);
	CHECK_EQ_INT(l.n, 1);
	CHECK(strstr(l.items[0].key, CL_STORE_STAGE_PREFIX) != NULL);
	cl_store_list_release(&l);
	CHECK_OK(cl_store_publish(s, path, "p=1/data.bin", &err), &err);
	cl_free(path);
	char *local;
	bool tmp;
	CHECK_OK(cl_store_fetch(s, "p=1/data.bin", &local, &tmp, &err), &err);
	CHECK(!tmp);
	f = fopen(local, "rb");
	CHECK(f);
	char buf[16] = {0};
	CHECK(fread(buf, 1, sizeof buf, f) == 7);
	fclose(f);
	cl_free(local);
	CHECK_STR(buf, "payload");
	CHECK_OK(cl_store_list_prefix(s, "", NULL, &l, &err), &err);
	CHECK_EQ_INT(l.n, 1);
	cl_store_list_release(&l);
	CHECK_OK(cl_store_delete(s, "p=1/data.bin", &err), &err);
	CHECK_EQ_INT(cl_store_delete(s, "p=1/data.bin", &err), CL_ENOTFOUND);
	CHECK_EQ_INT(cl_store_fetch(s, "p=1/data.bin", &local, &tmp, &err), CL_ENOTFOUND);
	/* an abandoned stage */
	CHECK_OK(cl_store_stage(s, "p=2/x", &path, &err), &err);
	f = fopen(path, "wb");
	fclose(f);
	cl_store_unstage(s, path);
	cl_free(path);
	CHECK_OK(cl_store_list_prefix(s, "", NULL, &l, &err), &err);
	CHECK_EQ_INT(l.n, 0);
	cl_store_list_release(&l);
	cl_store_free(s);
}

TEST(storage_s3_refused)
{
	cl_error err = {0};
	cl_store *s = NULL;
	CHECK_EQ_INT(cl_store_open(&s, "s3://bucket/t", &err), CL_EUNSUPPORTED);
	CHECK(s == NULL);
	CHECK(strstr(err.message, "s3://bucket/t") != NULL);
}

TEST(storage_alloc_failures_do_not_leak)
{
	/* Every allocation of a put+list+get cycle failing in turn must give an
	 * error, never a crash or a leak (ASan checks the leaks). */
	const char *root;
	cl_store *s0 = open_tmp(&root);
	CHECK(s0);
	cl_store_free(s0);
	for (long k = 0; k < 200; k++) {
		cl_error err = {0};
		cl_store *s = NULL;
		cl_alloc_fail_after(k);
		int rc = cl_store_open(&s, root, &err);
		if (rc == 0) {
			char key[32];
			snprintf(key, sizeof key, "k/%ld", k);
			rc = cl_store_put(s, key, "v", 1, &err);
			cl_store_list l = {0};
			if (!rc)
				rc = cl_store_list_prefix(s, "k/", NULL, &l, &err);
			cl_store_list_release(&l);
			uint8_t *d = NULL;
			size_t n;
			if (!rc)
				rc = cl_store_get(s, key, &d, &n, &err);
			cl_free(d);
		}
		cl_store_free(s);
		cl_alloc_fail_after(-1);
		if (rc == 0)
			break;
		CHECK(rc == CL_ENOMEM);
	}
}
