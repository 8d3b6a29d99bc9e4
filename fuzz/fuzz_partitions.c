/*
 * fuzz_partitions.c — libFuzzer target for Hive-style partition folders of
 * a dataset directory (src/format/dataset.c find_partitions: "col=value/"
 * folder names, %XX-escaped names and values, __HIVE_DEFAULT_PARTITION__ as
 * NULL, typed int64 when every value is an integer, else string).
 *
 * The input (at most 2 KiB) is up to 6 lines, each a folder path relative
 * to a temporary root (components split at '/', at most 6 of them, each
 * cut to 100 bytes; empty, "." and ".." components are dropped). Line i
 * gets the file f<i>.csv holding the column x with the value i. The root
 * is read with cl_dataset_open / cl_dataset_next, then emptied for the next
 * input (the root itself is removed at exit). Checks beyond "no crash":
 *   - every batch is valid, with the dataset schema's column count;
 *   - when the folder reads: one row per visible file (not under a
 *     "."/"_" folder), x first, then one column per "name=value" folder of
 *     the first file; each row's partition values are exactly the folders
 *     of its own file decoded (NULL for __HIVE_DEFAULT_PARTITION__; an
 *     int64 column holds the integer the text spells).
 */
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "changelake/dataset.h"
#include "core/buf.h"
#include "core/value_text.h"

#define MAX_LINES 6
#define MAX_COMPS 6
#define MAX_COMP 100


typedef struct line {
	int ncomps;
	char comp[MAX_COMPS][MAX_COMP + 1];
	bool visible;
} line;

/* Hex-decode %XX like a Hive writer's escaping (a '%' not followed by two
 * hex digits stays). Returns the decoded length. */
static size_t decode(char *out, const char *s, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		int hi = i + 2 < n ? cl__hex_digit(s[i + 1]) : -1;
		int lo = i + 2 < n ? cl__hex_digit(s[i + 2]) : -1;
		if (s[i] == '%' && hi >= 0 && lo >= 0) {
			out[k++] = (char)(hi * 16 + lo);
			i += 2;
		} else {
			out[k++] = s[i];
		}
	}
	out[k] = 0;
	return k;
}

/* Partition value k of line l (decoded into buf), or NULL for the default
 * partition; *found false when l has fewer partition folders. */
static const char *part_value(const line *l, int k, char *buf, bool *found)
{
	*found = false;
	for (int c = 0; c < l->ncomps; c++) {
		const char *eq = strchr(l->comp[c], '=');
		if (!eq || eq == l->comp[c])
			continue;
		if (k-- > 0)
			continue;
		*found = true;
		if (!strcmp(eq + 1, "__HIVE_DEFAULT_PARTITION__"))
			return NULL;
		decode(buf, eq + 1, strlen(eq + 1));
		return buf;
	}
	return NULL;
}

static void check_row(const line *l, const cl_schema *s, const cl_batch *b, int64_t r)
{
	char want[MAX_COMP + 1];
	for (int k = 0; k + 1 < s->nfields; k++) {
		bool found;
		const char *v = part_value(l, k, want, &found);
		const cl_column *c = &b->cols[k + 1];
		if (!found)
			abort();
		if (!v) {
			if (!cl_column_is_null(c, r))
				abort();
			continue;
		}
		if (cl_column_is_null(c, r))
			abort();
		size_t vn = strlen(v);
		if (c->type.id == CL_INT64) {
			int64_t x;
			if (cl__parse_int64(v, vn, &x) || x != cl_column_get_i64(c, r))
				abort();
		} else {
			size_t n;
			const uint8_t *p = c->offsets[r + 1] > c->offsets[r]
						   ? cl_column_get_bytes(c, r, &n)
						   : (n = 0, (const uint8_t *)"");
			if (c->type.id != CL_STRING || n != vn || memcmp(p, v, n)) {
				fprintf(stderr, "partition %d: '%.*s', expected '%s'\n", k, (int)n,
					(const char *)p, v);
				abort();
			}
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 2048)
		return 0;
	fuzz_tmpdir("part");
	static line lines[MAX_LINES];
	int nlines = 0;
	size_t pos = 0;
	while (pos <= size && nlines < MAX_LINES) {
		const uint8_t *nl = memchr(data + pos, '\n', size - pos);
		size_t end = nl ? (size_t)(nl - data) : size;
		line *l = &lines[nlines++];
		l->ncomps = 0;
		l->visible = true;
		size_t i = pos;
		while (i < end && l->ncomps < MAX_COMPS) {
			size_t j = i;
			while (j < end && data[j] != '/')
				j++;
			size_t n = j - i < MAX_COMP ? j - i : MAX_COMP;
			const uint8_t *z = memchr(data + i, 0, n);
			if (z)
				n = (size_t)(z - (data + i));
			char *c = l->comp[l->ncomps];
			memcpy(c, data + i, n);
			c[n] = 0;
			if (n && strcmp(c, ".") && strcmp(c, "..")) {
				if (c[0] == '.' || c[0] == '_')
					l->visible = false;
				l->ncomps++;
			}
			i = j + 1;
		}
		pos = end + 1;
	}

	/* the tree */
	int nvisible = 0;
	for (int i = 0; i < nlines; i++) {
		char p[1024];
		int k = snprintf(p, sizeof p, "%s", fuzz_root);
		for (int c = 0; c < lines[i].ncomps; c++) {
			k += snprintf(p + k, sizeof p - (size_t)k, "/%s", lines[i].comp[c]);
			mkdir(p, 0755);
		}
		snprintf(p + k, sizeof p - (size_t)k, "/f%d.csv", i);
		char body[16];
		int bn = snprintf(body, sizeof body, "x\n%d\n", i);
		int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0) {
			lines[i].visible = false; /* a file where a folder is wanted */
			continue;
		}
		if (write(fd, body, (size_t)bn) != bn)
			abort();
		close(fd);
		nvisible += lines[i].visible;
	}

	cl_error err = {0};
	cl_read_options o;
	cl_read_options_init(&o);
	o.batch_rows = 2;
	cl_dataset *ds = NULL;
	int rc = cl_dataset_open(&ds, fuzz_root, &o, &err);
	if (!rc) {
		const cl_schema *s = cl_dataset_schema(ds);
		if (s->nfields < 1 || strcmp(s->fields[0].name, "x") ||
		    cl_dataset_nfiles(ds) != nvisible)
			abort();
		int64_t rows = 0;
		for (;;) {
			cl_batch *b = NULL;
			if ((rc = cl_dataset_next(ds, &b, &err)) || !b)
				break;
			if (b->ncols != s->nfields || cl_batch_validate(b, &err))
				abort();
			for (int64_t r = 0; r < b->nrows; r++) {
				if (cl_column_is_null(&b->cols[0], r))
					abort();
				int64_t x = cl_column_get_i64(&b->cols[0], r);
				if (x < 0 || x >= nlines || !lines[x].visible)
					abort();
				check_row(&lines[x], s, b, r);
			}
			rows += b->nrows;
		}
		if (!rc && rows != nvisible)
			abort();
	} else if (!err.message[0]) {
		abort();
	}
	cl_dataset_free(ds);
	fuzz_tmpdir_empty();
	return 0;
}
