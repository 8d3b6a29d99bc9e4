/* main.c — runs the registered unit tests; see test.h. */
#include "test.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <unistd.h>

#include "changelake/common.h"
#include "changelake/io.h"
#include "core/buf.h"
#include "core/value_text.h"

#define MAX_TESTS 4096
struct test_entry { const char *name; cl_test_fn fn; };
static struct test_entry tests[MAX_TESTS];
static int ntests;
int cl_test_failed_now;
static char tmproot[256];
static int tmpcount;

void cl_test_register(const char *name, cl_test_fn fn)
{
	if (ntests < MAX_TESTS)
		tests[ntests++] = (struct test_entry){name, fn};
}

void cl_test_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stdout, "    %s:%d: ", file, line);
	vfprintf(stdout, fmt, ap);
	fprintf(stdout, "\n");
	va_end(ap);
	cl_test_failed_now = 1;
}

const char *cl_test_data_root(void)
{
	const char *e = getenv("CL_TESTDATA");
	return e ? e : "../shared/testdata";
}

const char *cl_test_tmpdir(void)
{
	static char path[512];
	if (!tmproot[0]) {
		const char *t = getenv("TMPDIR");
		snprintf(tmproot, sizeof tmproot, "%s/cl-unit-XXXXXX", t ? t : "/tmp");
		if (!mkdtemp(tmproot)) {
			perror("mkdtemp");
			exit(2);
		}
	}
	snprintf(path, sizeof path, "%s/t%d", tmproot, ++tmpcount);
	char cmd[600];
	snprintf(cmd, sizeof cmd, "mkdir -p '%s'", path);
	if (system(cmd) != 0)
		exit(2);
	return path;
}

void cl_test_mkdirs(const char *path)
{
	char p[4096];
	snprintf(p, sizeof p, "%s", path);
	for (char *s = p + 1; *s; s++)
		if (*s == '/') {
			*s = 0;
			mkdir(p, 0777);
			*s = '/';
		}
	mkdir(p, 0777);
}

void cl_test_put(const char *dir, const char *rel, const char *text)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, rel);
	char *slash = strrchr(path, '/');
	*slash = 0;
	cl_test_mkdirs(path);
	*slash = '/';
	FILE *f = fopen(path, "wb");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static int cmp(const void *a, const void *b)
{
	return strcmp(((const struct test_entry *)a)->name,
		      ((const struct test_entry *)b)->name);
}

int main(int argc, char **argv)
{
	const char *filter = argc > 1 ? argv[1] : NULL;
	int passed = 0, failed = 0;
	qsort(tests, (size_t)ntests, sizeof tests[0], cmp);
	for (int i = 0; i < ntests; i++) {
		if (filter && !strstr(tests[i].name, filter))
			continue;
		cl_test_failed_now = 0;
		cl_alloc_fail_after(-1);
		tests[i].fn();
		cl_alloc_fail_after(-1);
		if (cl_test_failed_now) {
			printf("not ok - %s\n", tests[i].name);
			failed++;
		} else {
			printf("ok - %s\n", tests[i].name);
			passed++;
		}
		fflush(stdout);
	}
	if (tmproot[0]) {
		char cmd[600];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmproot);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", tmproot);
	}
	printf("unit: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}

void cl_test_batch_text(cl_buf *out, const cl_batch *b)
{
	for (int64_t i = 0; i < b->nrows; i++) {
		for (int c = 0; c < b->ncols; c++) {
			if (c)
				cl_buf_putc(out, '|');
			if (cl_column_is_null(&b->cols[c], i))
				cl_buf_putc(out, '~');
			else
				cl__value_format(out, &b->cols[c], i);
		}
		cl_buf_putc(out, '\n');
	}
}

int cl_test_batch_parse(cl_schema **s, cl_batch **b, const char *schema, const char *rows)
{
	cl_error err = {0};
	if (cl_schema_parse(s, schema, &err) || cl_batch_create(b, *s, 0, &err)) {
		if (err.code != CL_ENOMEM)
			printf("    batch_parse: %s\n", err.message);
		return -1;
	}
	for (const char *p = rows; *p;) {
		const char *eol = strchr(p, '\n');
		size_t ln = eol ? (size_t)(eol - p) : strlen(p), i = 0;
		for (int c = 0; c < (*s)->nfields; c++) {
			size_t j = i;
			while (j < ln && p[j] != '|')
				j++;
			int rc = (j - i == 1 && p[i] == '~')
					 ? cl_column_append_null(&(*b)->cols[c], &err)
					 : cl__column_append_text(&(*b)->cols[c], p + i, j - i, &err);
			if (rc) {
				if (err.code != CL_ENOMEM)
					printf("    batch_parse: %s\n", err.message);
				return -1;
			}
			i = j + 1;
		}
		(*b)->nrows++;
		p += ln;
		if (*p == '\n')
			p++;
	}
	return 0;
}

int cl_test_write_parquet(const char *path, const cl_schema *s, const cl_batch *b,
			  int64_t rg_rows, cl_error *err)
{
	cl_write_options wo;
	cl_write_options_init(&wo);
	if (rg_rows > 0)
		wo.row_group_rows = rg_rows;
	cl_writer *w = NULL;
	int rc = cl_writer_open(&w, path, s, &wo, err);
	if (!rc)
		rc = cl_writer_write(w, b, err);
	if (!rc)
		rc = cl_writer_close(w, err);
	cl_writer_free(w);
	return rc;
}
