/*
 * cli_common.c — errors, reader options, inputs (files, folders, lake
 * tables), lists and sizes, progress, checkpoint warnings and JSON helpers
 * of the CLI.
 */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int cli_fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("changelake: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return CLI_ERROR;
}

int cli_fail_err(const cl_error *err)
{
	return cli_fail("%s", err->message[0] ? err->message : cl_error_name(err->code));
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "changelake %s: ", cmd);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\nTry 'changelake %s --help'.\n", cmd);
	va_end(ap);
	return CLI_ERROR;
}

void cli_common_init(cli_common *c)
{
	memset(c, 0, sizeof *c);
	c->progress = isatty(2);
}

int cli_common_option(cli_common *c, int opt)
{
	switch (opt) {
	case OPT_QUIET: case 'q':
		c->quiet = true;
		c->progress = false;
		return 1;
	case OPT_JSON:
		c->json = true;
		return 1;
	}
	return 0;
}

void cli_read_init(cli_read *r)
{
	memset(r, 0, sizeof *r);
	cl_read_options_init(&r->opts);
}

void cli_read_release(cli_read *r)
{
	cl_schema_free(r->schema);
	for (int i = 0; i < r->ncolumns; i++)
		free(r->columns[i]);
	free(r->columns);
	memset(r, 0, sizeof *r);
}

static int parse_count(const char *arg, int64_t *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(arg, &end, 10);
	if (errno || *end || end == arg || v < 0)
		return -1;
	*out = v;
	return 0;
}

int cli_read_option(cli_read *r, int opt, const char *arg)
{
	cl_error err = {0};
	switch (opt) {
	case OPT_SCHEMA:
		cl_schema_free(r->schema);
		r->schema = NULL;
		if (cl_schema_load(&r->schema, arg, &err)) {
			cli_fail_err(&err);
			return -1;
		}
		r->opts.schema = r->schema;
		return 1;
	case OPT_DELIM:
		if (!strcmp(arg, "tab") || !strcmp(arg, "\\t"))
			r->opts.delimiter = '\t';
		else if (strlen(arg) == 1 && arg[0] != '"' && arg[0] != '\n' && arg[0] != '\r')
			r->opts.delimiter = arg[0];
		else {
			cli_fail("--delimiter takes one character (or 'tab'), not '%s'", arg);
			return -1;
		}
		return 1;
	case OPT_NOHEADER:
		r->opts.header = 0;
		return 1;
	case OPT_HEADER:
		r->opts.header = 1;
		return 1;
	case OPT_NULL:
		r->opts.null_marker = arg;
		return 1;
	case OPT_SAMPLE:
		if (parse_count(arg, &r->opts.sample_rows)) {
			cli_fail("--sample-rows takes a count, not '%s'", arg);
			return -1;
		}
		return 1;
	case OPT_FROM:
		if (cl_format_parse(&r->opts.format, arg, &err)) {
			cli_fail_err(&err);
			return -1;
		}
		if (!strcmp(arg, "tsv") && !r->opts.delimiter)
			r->opts.delimiter = '\t';
		return 1;
	case OPT_ALLSTR:
		r->opts.all_strings = true;
		return 1;
	case OPT_COLUMNS: {
		const char *p = arg;
		while (*p) {
			const char *q = strchr(p, ',');
			size_t n = q ? (size_t)(q - p) : strlen(p);
			char **c = realloc(r->columns, (size_t)(r->ncolumns + 1) * sizeof *c);
			if (!c) {
				cli_fail("out of memory");
				return -1;
			}
			r->columns = c;
			r->columns[r->ncolumns++] = strndup(p, n);
			p += n;
			if (*p == ',')
				p++;
		}
		r->opts.columns = (const char *const *)r->columns;
		r->opts.ncolumns = r->ncolumns;
		return 1;
	}
	}
	return 0;
}

bool cli_is_table(const char *path)
{
	struct stat st;
	if (!strcmp(path, "-") || (stat(path, &st) == 0 && !S_ISDIR(st.st_mode)))
		return false;
	return cl_table_is_table(path);
}

int cli_open_reader(cl_reader **out, const char *path, cli_read *r)
{
	cl_error err = {0};
	int rc = cli_is_table(path) ? cl_table_reader_open(out, path, &r->opts, &err)
				    : cl_reader_open(out, path, &r->opts, &err);
	if (rc)
		return cli_fail_err(&err);
	return 0;
}

int cli_input_open(cli_input *in, const char *path, cli_read *r, cl_error *err)
{
	memset(in, 0, sizeof *in);
	if (cli_is_table(path))
		return cl_table_reader_open(&in->table, path, &r->opts, err);
	return cl_dataset_open(&in->ds, path, &r->opts, err);
}

const cl_schema *cli_input_schema(const cli_input *in)
{
	return in->table ? cl_reader_schema(in->table) : cl_dataset_schema(in->ds);
}

int cli_input_next(cli_input *in, cl_batch **out, const char **source, int64_t *first_row,
		   cl_error *err)
{
	int rc;
	if (in->table) {
		rc = cl_reader_next(in->table, out, err);
		if (!rc && *out)
			*source = cl_table_reader_source(in->table, first_row);
		return rc;
	}
	rc = cl_dataset_next(in->ds, out, err);
	if (!rc && *out) {
		*source = cl_dataset_file(in->ds);
		*first_row = cl_dataset_first_row(in->ds);
	}
	return rc;
}

int64_t cli_input_rows(const cli_input *in)
{
	return in->table ? cl_reader_rows(in->table) : cl_dataset_rows(in->ds);
}

int64_t cli_input_total_rows(const cli_input *in)
{
	return in->table ? cl_reader_total_rows(in->table) : cl_dataset_total_rows(in->ds);
}

cl_format cli_input_format(const cli_input *in)
{
	return in->table ? CL_FORMAT_PARQUET : cl_dataset_format(in->ds);
}

void cli_input_close(cli_input *in)
{
	cl_reader_free(in->table);
	cl_dataset_free(in->ds);
	memset(in, 0, sizeof *in);
}

int cli_split_list(const char *arg, char ***list, int *n)
{
	const char *p = arg;
	while (*p) {
		const char *q = strchr(p, ',');
		size_t len = q ? (size_t)(q - p) : strlen(p);
		if (len) {
			char **l = realloc(*list, (size_t)(*n + 1) * sizeof *l);
			if (!l)
				return -1;
			*list = l;
			if (!(l[*n] = strndup(p, len)))
				return -1;
			(*n)++;
		}
		p += len;
		if (*p == ',')
			p++;
	}
	return 0;
}

void cli_free_list(char **list, int n)
{
	for (int i = 0; i < n; i++)
		free(list[i]);
	free(list);
}

int cli__parse_size(const char *s, int64_t *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || v < 0)
		return -1;
	double m = 1;
	switch (toupper((unsigned char)*end)) {
	case 0: break;
	case 'K': m = 1024.0; end++; break;
	case 'M': m = 1024.0 * 1024; end++; break;
	case 'G': m = 1024.0 * 1024 * 1024; end++; break;
	case 'T': m = 1024.0 * 1024 * 1024 * 1024; end++; break;
	default: return -1;
	}
	if (*end == 'i' || *end == 'I')
		end++;
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end || v * m > 9.2e18)
		return -1;
	*out = (int64_t)(v * m);
	return 0;
}

void cli_warn_checkpoint(const cli_common *c, cl_table *t, const char *table, int64_t version)
{
	if (c->quiet)
		return;
	cl_error err = {0};
	int rc;
	if (t) {
		int64_t v;
		rc = cl_table_checkpoint_status(t, &v, &err);
	} else {
		if (version < 0)
			return;
		cl_table *own = NULL;
		rc = cl_table_open(&own, table, &err);
		rc = rc ? rc : cl_table_checkpoint_check(own, version, &err);
		cl_table_free(own);
	}
	if (!rc)
		return;
	const char *msg = err.message[0] ? err.message : cl_error_name(rc);
	/* the table layer's messages name the table already */
	bool named = strncmp(msg, table, strlen(table)) == 0;
	fprintf(stderr, "changelake: warning: %s%s%s (the commit stands; readers replay the "
		"log instead, slower)\n", named ? "" : table, named ? "" : ": ", msg);
}

double cli_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void cli_progress_start(cli_progress *p, const cli_common *c, const char *what)
{
	memset(p, 0, sizeof *p);
	p->common = c;
	p->start = p->last = cli_now();
	p->what = what;
}

void cli_progress_update(cli_progress *p, int64_t rows, int64_t total_rows)
{
	if (!p->common || !p->common->progress)
		return;
	double now = cli_now();
	if (now - p->last < 0.25)
		return;
	p->last = now;
	double el = now - p->start;
	if (total_rows > 0)
		fprintf(stderr, "\r%s: %lld / %lld rows (%.0f%%), %.0f rows/s   ",
			p->what, (long long)rows, (long long)total_rows,
			100.0 * (double)rows / (double)total_rows, el > 0 ? (double)rows / el : 0);
	else
		fprintf(stderr, "\r%s: %lld rows, %.0f rows/s   ", p->what, (long long)rows,
			el > 0 ? (double)rows / el : 0);
	p->shown = true;
}

void cli_progress_done(cli_progress *p)
{
	if (p->shown)
		fputs("\r\033[K", stderr);
	p->shown = false;
}

void cli_json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c == '\t')
			fputs("\\t", f);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}
