/*
 * cli_table.c — rows printed for people: a header with names and types,
 * values aligned (numbers to the right), long values cut with "…", NULL
 * shown as NULL. Widths count UTF-8 code points.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

struct cli_table {
	const cl_schema *schema;
	int ncols;
	int max_width;
	int *width;
	char **cells; /* row-major, NULL = SQL NULL */
	int64_t nrows, cap;
};

static int text_width(const char *s)
{
	int w = 0;
	for (; *s; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

/* Cut s to at most max code points, ending with "…"; replaces control chars. */
static char *cell_text(const char *s, int max)
{
	size_t n = strlen(s);
	char *o = malloc(n + 4);
	if (!o)
		return NULL;
	int w = 0;
	size_t j = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		bool start = (c & 0xc0) != 0x80;
		if (start && w == max - 1 && text_width(s + i) > 1) {
			memcpy(o + j, "\xe2\x80\xa6", 3);
			j += 3;
			break;
		}
		if (start)
			w++;
		o[j++] = (c == '\n' || c == '\r' || c == '\t') ? ' ' : (char)c;
	}
	o[j] = 0;
	return o;
}

int cli_table_create(cli_table **out, const cl_schema *schema, int max_width)
{
	cli_table *t = calloc(1, sizeof *t);
	if (!t)
		return -1;
	t->schema = schema;
	t->ncols = schema->nfields;
	t->max_width = max_width;
	t->width = calloc((size_t)t->ncols + 1, sizeof *t->width);
	if (!t->width) {
		free(t);
		return -1;
	}
	for (int c = 0; c < t->ncols; c++) {
		char tn[64];
		cl_type_format(tn, sizeof tn, schema->fields[c].type);
		int a = text_width(schema->fields[c].name), b = text_width(tn);
		t->width[c] = a > b ? a : b;
		if (t->width[c] > max_width)
			t->width[c] = max_width;
	}
	*out = t;
	return 0;
}

int cli_table_add(cli_table *t, const cl_batch *b, int64_t from, int64_t n)
{
	if (t->nrows + n > t->cap) {
		int64_t cap = t->cap ? t->cap * 2 : 64;
		while (cap < t->nrows + n)
			cap *= 2;
		char **c = realloc(t->cells, (size_t)(cap * t->ncols) * sizeof *c);
		if (!c)
			return -1;
		t->cells = c;
		t->cap = cap;
	}
	for (int64_t r = from; r < from + n; r++) {
		for (int c = 0; c < t->ncols; c++) {
			char *text = NULL;
			cl_error err = {0};
			if (cl_value_text(&b->cols[c], r, &text, NULL, &err))
				return -1;
			char *cell = NULL;
			if (text) {
				cell = cell_text(text, t->max_width);
				cl_free(text);
				if (!cell)
					return -1;
			}
			int w = cell ? text_width(cell) : 4;
			if (w > t->width[c])
				t->width[c] = w;
			t->cells[t->nrows * t->ncols + c] = cell;
		}
		t->nrows++;
	}
	return 0;
}

static void rule(const cli_table *t, FILE *f)
{
	for (int c = 0; c < t->ncols; c++) {
		fputc('+', f);
		for (int i = 0; i < t->width[c] + 2; i++)
			fputc('-', f);
	}
	fputs("+\n", f);
}

static void cell(FILE *f, const char *s, int width, bool right)
{
	int pad = width - text_width(s);
	fputs("| ", f);
	if (right)
		for (int i = 0; i < pad; i++)
			fputc(' ', f);
	fputs(s, f);
	if (!right)
		for (int i = 0; i < pad; i++)
			fputc(' ', f);
	fputc(' ', f);
}

static bool numeric(cl_type_id id)
{
	return (id >= CL_INT8 && id <= CL_DECIMAL);
}

void cli_table_print(cli_table *t, FILE *f, int64_t total_rows)
{
	rule(t, f);
	for (int c = 0; c < t->ncols; c++) {
		char *name = cell_text(t->schema->fields[c].name, t->max_width);
		cell(f, name ? name : "?", t->width[c], false);
		free(name);
	}
	fputs("|\n", f);
	for (int c = 0; c < t->ncols; c++) {
		char tn[64];
		cl_type_format(tn, sizeof tn, t->schema->fields[c].type);
		cell(f, tn, t->width[c], false);
	}
	fputs("|\n", f);
	rule(t, f);
	for (int64_t r = 0; r < t->nrows; r++) {
		for (int c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * t->ncols + c];
			cell(f, s ? s : "NULL", t->width[c],
			     numeric(t->schema->fields[c].type.id));
		}
		fputs("|\n", f);
	}
	rule(t, f);
	if (total_rows > t->nrows)
		fprintf(f, "%lld rows (%lld shown)\n", (long long)total_rows,
			(long long)t->nrows);
	else
		fprintf(f, "%lld row%s\n", (long long)t->nrows, t->nrows == 1 ? "" : "s");
}

void cli_table_free(cli_table *t)
{
	if (!t)
		return;
	for (int64_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t->width);
	free(t);
}
