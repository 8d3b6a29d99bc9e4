/*
 * pqgen.c — test tool: random tables written to Parquet by changelake's
 * writer, with the same rows spelled out for a test to compare against
 * what another reader (DuckDB) makes of the file.
 *
 *   pqgen OUT.parquet --schema "a int64, b string not null, ..." [options]
 *
 * Writes OUT.parquet, OUT.parquet.jsonl (one JSON array per row: null or
 * the canonical text of each value) and OUT.parquet.meta.json (what
 * cl_writer_file_stats says). Canonical text: bool true/false; integers
 * decimal; floats nan, inf, -inf or %.17g; decimals with exactly `scale`
 * fraction digits; dates as days since 1970-01-01; times and timestamps as
 * integers in their unit; strings as they are; binary as lowercase hex.
 *
 * Options: --rows N (1000)  --seed S (1)  --codec NAME  --no-dict
 *   --page-version 1|2  --rg-rows N  --rg-bytes N  --page-bytes N
 *   --dict-bytes N  --int96  --null-pct P (10)  --special-pct P (6)
 *   --card K (values drawn from K distinct per column; 0 = unbounded)
 *   --batch N (rows per batch, 1000)  --random-batches (sizes 1..N)
 *   pqgen --read FILE.parquet   (print FILE as read by cl_reader: a line
 *                                {"names":[..],"types":[..]}, then the rows)
 *
 *   --finite (no NaN or infinities)  --float-sign 1|-1 (floats >= 0 | <= 0)  --kv KEY=VALUE (repeatable)  --quiet
 *
 * Nested output: --nest-dotted (dotted names become struct groups) and
 *   --nested COL=TYPE (repeatable; a JSON-text string column written as
 *   list<..>/map<..>), see cl_write_options. With --rows-from FILE the rows
 *   are not random but read from FILE: one JSON array per line, each item
 *   null or a string holding the value's text (JSON text for nested
 *   columns); --rows is then ignored.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "changelake.h"
#include "changelake/parquet_writer.h"
#include "core/buf.h"
#include "core/json.h"
#include "core/value_text.h"

static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static uint64_t rng_below(uint64_t *s, uint64_t n)
{
	return n ? rng_next(s) % n : 0;
}

static int64_t rng_range(uint64_t *s, int64_t lo, int64_t hi)
{
	uint64_t span = (uint64_t)hi - (uint64_t)lo;
	uint64_t x = span == UINT64_MAX ? rng_next(s) : rng_below(s, span + 1);
	return (int64_t)((uint64_t)lo + x);
}

struct gen {
	int special_pct;
	bool finite; /* no NaN or infinities among the special floats */
	int float_sign; /* >0: floats >= 0 (or -0.0), <0: floats <= 0 */
};

static const char *const pieces[] = {
	"a", "b", "z", "A", "0", " ", "é", "ß", "€", "中", "文", "😀", "\t", "\"", "\\", "\n",
	"x", "\x7f", "ñ", "𝄞",
};

/* Append one random non-null value of column c's type. */
static int gen_value(cl_column *c, uint64_t *r, const struct gen *g, cl_error *err)
{
	cl_type t = c->type;
	bool special = (int)rng_below(r, 100) < g->special_pct;
	int pick = (int)rng_below(r, 8);
	switch (t.id) {
	case CL_BOOL:
		return cl_column_append_bool(c, rng_next(r) & 1, err);
	case CL_INT8: case CL_INT16: case CL_INT32: case CL_INT64: {
		int bits = cl_type_width(t) * 8;
		int64_t max = bits == 64 ? INT64_MAX : ((int64_t)1 << (bits - 1)) - 1;
		int64_t min = -max - 1;
		int64_t v;
		if (special) {
			int64_t sp[] = {min, max, 0, -1, 1, min + 1, max - 1, 0};
			v = sp[pick];
		} else if (rng_next(r) & 1) {
			v = rng_range(r, -1000, 1000);
		} else {
			v = (int64_t)rng_next(r);
			if (bits < 64)
				v = (int64_t)((uint64_t)v % ((uint64_t)max - (uint64_t)min + 1)) + min;
		}
		return cl_column_append_i64(c, v, err);
	}
	case CL_UINT8: case CL_UINT16: case CL_UINT32: case CL_UINT64: {
		int bits = cl_type_width(t) * 8;
		uint64_t max = bits == 64 ? UINT64_MAX : ((uint64_t)1 << bits) - 1;
		uint64_t v;
		if (special) {
			uint64_t sp[] = {0, max, 1, max - 1, (max >> 1), (max >> 1) + 1, 0, max};
			v = sp[pick];
		} else {
			v = rng_next(r) & max;
		}
		uint8_t b[8];
		memcpy(b, &v, 8);
		return cl_column_append_fixed(c, b, err);
	}
	case CL_FLOAT32: case CL_FLOAT64: {
		double v;
		bool f32 = t.id == CL_FLOAT32;
		if (special) {
			double sp[] = {NAN, INFINITY, -INFINITY, -0.0, 0.0,
				       f32 ? 3.4028234663852886e38 : 1.7976931348623157e308,
				       f32 ? -1.1754943508222875e-38 : -2.2250738585072014e-308,
				       f32 ? 1.401298464324817e-45 : 4.9406564584124654e-324};
			v = sp[pick];
			if (g->finite && !isfinite(v))
				v = pick & 1 ? -0.0 : 0.0;
		} else if (rng_next(r) & 1) {
			v = (double)rng_range(r, -100000, 100000) / 64.0;
		} else {
			v = ldexp((double)(rng_next(r) >> 11) / 9007199254740992.0,
				  (int)rng_range(r, -60, 60));
			if (rng_next(r) & 1)
				v = -v;
		}
		if (g->float_sign && v != 0 && (v > 0) != (g->float_sign > 0))
			v = -v;
		return cl_column_append_f64(c, v, err);
	}
	case CL_DECIMAL: {
		cl_i128 lim = cl__i128_pow10(t.precision);
		cl_i128 v;
		if (special) {
			cl_i128 sp[] = {lim - 1, -(lim - 1), 0, 1, -1, lim / 10, -(lim / 10), 5};
			v = sp[pick];
		} else {
			int digits = (int)rng_range(r, 1, t.precision);
			unsigned __int128 hi = (unsigned __int128)rng_next(r) << 64 |
					       rng_next(r);
			v = (cl_i128)(hi % (unsigned __int128)cl__i128_pow10(digits));
			if (rng_next(r) & 1)
				v = -v;
		}
		return cl_column_append_fixed(c, &v, err);
	}
	case CL_DATE: {
		int64_t v;
		if (special) {
			int64_t sp[] = {-719162, 2932896, 0, -1, 1, -25567, 10957, 19000};
			v = sp[pick];
		} else {
			v = rng_range(r, -719162, 2932896);
		}
		return cl_column_append_i64(c, v, err);
	}
	case CL_TIME: {
		int64_t day = 86400 * cl__unit_per_second(t.unit);
		int64_t v = special ? (pick & 1 ? day - 1 : 0) : rng_range(r, 0, day - 1);
		return cl_column_append_i64(c, v, err);
	}
	case CL_TIMESTAMP: {
		int64_t per = cl__unit_per_second(t.unit);
		/* 0001-01-01 .. 9999-12-31 (ns: the whole int64 range is fine) */
		int64_t lo = t.unit == CL_UNIT_NS ? INT64_MIN + 1 : -62135596800 * per;
		int64_t hi = t.unit == CL_UNIT_NS ? INT64_MAX : 253402300799 * per;
		int64_t v;
		if (special) {
			int64_t sp[] = {lo, hi, 0, -1, 1, -86400 * per, 946684800 * per, -per / 2};
			v = sp[pick];
		} else if (rng_next(r) & 1) {
			v = rng_range(r, -3000000000LL, 3000000000LL) * per +
			    rng_range(r, 0, per - 1);
		} else {
			v = rng_range(r, lo, hi);
		}
		return cl_column_append_i64(c, v, err);
	}
	case CL_STRING: {
		char buf[2048];
		size_t n = 0;
		int len = special ? (pick < 3 ? 0 : (int)rng_range(r, 100, 400))
				  : (int)rng_range(r, 0, 12);
		for (int i = 0; i < len; i++) {
			const char *pc = rng_next(r) % 3
						 ? pieces[rng_below(r, 6)]
						 : pieces[rng_below(r, sizeof pieces / sizeof *pieces)];
			size_t m = strlen(pc);
			if (n + m >= sizeof buf)
				break;
			memcpy(buf + n, pc, m);
			n += m;
		}
		return cl_column_append_bytes(c, buf, n, err);
	}
	case CL_BINARY: {
		uint8_t buf[64];
		size_t n = special ? (pick < 4 ? 0 : 40) : (size_t)rng_range(r, 0, 16);
		for (size_t i = 0; i < n; i++)
			buf[i] = (uint8_t)(special && pick == 5 ? 0xff : rng_next(r));
		return cl_column_append_bytes(c, buf, n, err);
	}
	default:
		return cl_column_append_null(c, err);
	}
}

static void json_string(cl_buf *o, const uint8_t *p, size_t n)
{
	cl_buf_putc(o, '"');
	for (size_t i = 0; i < n; i++) {
		uint8_t ch = p[i];
		if (ch == '"' || ch == '\\') {
			cl_buf_putc(o, '\\');
			cl_buf_putc(o, (char)ch);
		} else if (ch < 0x20 || ch == 0x7f) {
			cl_buf_printf(o, "\\u%04x", ch);
		} else {
			cl_buf_putc(o, (char)ch);
		}
	}
	cl_buf_putc(o, '"');
}

/* Canonical text of value `row` of c (see the header comment), as JSON. */
static void canon(cl_buf *o, const cl_column *c, int64_t row)
{
	char tmp[128];
	if (cl_column_is_null(c, row)) {
		cl_buf_puts(o, "null");
		return;
	}
	switch (c->type.id) {
	case CL_FLOAT32: case CL_FLOAT64: {
		double d = cl_column_get_f64(c, row);
		if (isnan(d))
			snprintf(tmp, sizeof tmp, "nan");
		else if (isinf(d))
			snprintf(tmp, sizeof tmp, d > 0 ? "inf" : "-inf");
		else
			snprintf(tmp, sizeof tmp, "%.17g", d);
		break;
	}
	case CL_DATE: case CL_TIME: case CL_TIMESTAMP:
		snprintf(tmp, sizeof tmp, "%" PRId64, cl_column_get_i64(c, row));
		break;
	case CL_STRING: {
		size_t n;
		const uint8_t *p = cl_column_get_bytes(c, row, &n);
		json_string(o, p, n);
		return;
	}
	case CL_BINARY: {
		size_t n;
		const uint8_t *p = cl_column_get_bytes(c, row, &n);
		cl_buf_putc(o, '"');
		for (size_t i = 0; i < n; i++)
			cl_buf_printf(o, "%02x", p[i]);
		cl_buf_putc(o, '"');
		return;
	}
	default: {
		cl_buf b = {0};
		cl__value_format(&b, c, row);
		json_string(o, b.data, b.len);
		cl_buf_release(&b);
		return;
	}
	}
	json_string(o, (const uint8_t *)tmp, strlen(tmp));
}

/*
 * pqgen --read FILE: read FILE with cl_reader and print its schema as
 * {"names":[...],"types":[...]} and then every row as canonical text.
 */
static int read_file(const char *path)
{
	cl_error err = {0};
	cl_reader *r = NULL;
	cl_buf line = {0};
	int rc = cl_reader_open(&r, path, NULL, &err);
	if (rc)
		goto done;
	const cl_schema *s = cl_reader_schema(r);
	cl_buf_puts(&line, "{\"names\":[");
	for (int c = 0; c < s->nfields; c++) {
		if (c)
			cl_buf_putc(&line, ',');
		json_string(&line, (const uint8_t *)s->fields[c].name, strlen(s->fields[c].name));
	}
	cl_buf_puts(&line, "],\"types\":[");
	for (int c = 0; c < s->nfields; c++) {
		char tb[64];
		cl_type_format(tb, sizeof tb, s->fields[c].type);
		cl_buf_printf(&line, "%s\"%s\"", c ? "," : "", tb);
	}
	cl_buf_puts(&line, "]}\n");
	fwrite(line.data, 1, line.len, stdout);
	cl_batch *b;
	while ((rc = cl_reader_next(r, &b, &err)) == 0 && b) {
		for (int64_t i = 0; i < b->nrows; i++) {
			cl_buf_clear(&line);
			cl_buf_putc(&line, '[');
			for (int c = 0; c < b->ncols; c++) {
				if (c)
					cl_buf_putc(&line, ',');
				canon(&line, &b->cols[c], i);
			}
			cl_buf_puts(&line, "]\n");
			fwrite(line.data, 1, line.len, stdout);
		}
	}
done:
	if (rc)
		fprintf(stderr, "pqgen: %s\n", err.message);
	cl_buf_release(&line);
	cl_reader_free(r);
	return rc ? 1 : 0;
}

/* Append the values of one --rows-from line to the batch's columns. */
static int row_from_line(cl_batch *b, const cl_schema *s, cl__json_parser *jp, const char *text,
			 size_t n, int64_t lineno, cl_error *err)
{
	const cl_json *root;
	int rc = cl__json_parse(jp, text, n, &root, err);
	if (rc)
		return rc;
	if (root->kind != CL_JSON_ARRAY || root->n != (size_t)s->nfields)
		return cl_error_set(err, CL_EFORMAT, "line %lld: need an array of %d items",
				    (long long)lineno, s->nfields);
	for (int c = 0; c < s->nfields; c++) {
		const cl_json *v = &root->u.items[c];
		cl_column *col = &b->cols[c];
		if (v->kind == CL_JSON_NULL)
			rc = cl_column_append_null(col, err);
		else if (v->kind != CL_JSON_STRING)
			rc = cl_error_set(err, CL_EFORMAT, "line %lld: item %d is not a string",
					  (long long)lineno, c);
		else if (col->type.id == CL_STRING)
			rc = cl_column_append_bytes(col, v->u.str, v->n, err);
		else
			rc = cl__column_append_text(col, v->u.str, v->n, err);
		if (rc)
			return rc;
	}
	return 0;
}

static int64_t arg_int(const char *s)
{
	return strtoll(s, NULL, 10);
}

int main(int argc, char **argv)
{
	const char *out = NULL, *schema_text = NULL;
	int64_t rows = 1000, batch = 1000, card = 0;
	uint64_t seed = 1;
	int null_pct = 10;
	bool random_batches = false, quiet = false;
	struct gen g = {6, false, 0};
	const char *kv_keys[16], *kv_values[16];
	int nkv = 0;
	const char *nested_cols[64], *nested_types[64];
	int nnested = 0;
	const char *rows_from = NULL;
	cl_write_options o;
	cl_write_options_init(&o);
	o.format = CL_FORMAT_PARQUET;
	cl_error err = {0};
	if (argc == 3 && !strcmp(argv[1], "--read"))
		return read_file(argv[2]);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : "";
#define OPT(name) (!strcmp(a, name) && ++i)
		if (OPT("--schema"))
			schema_text = v;
		else if (OPT("--rows"))
			rows = arg_int(v);
		else if (OPT("--seed"))
			seed = (uint64_t)arg_int(v);
		else if (OPT("--codec")) {
			if (cl_codec_parse(&o.compression, v, &err)) {
				fprintf(stderr, "pqgen: %s\n", err.message);
				return 2;
			}
		} else if (!strcmp(a, "--no-dict"))
			o.dictionary = false;
		else if (OPT("--page-version"))
			o.page_version = (int)arg_int(v);
		else if (OPT("--rg-rows"))
			o.row_group_rows = arg_int(v);
		else if (OPT("--rg-bytes"))
			o.row_group_bytes = arg_int(v);
		else if (OPT("--page-bytes"))
			o.page_bytes = arg_int(v);
		else if (OPT("--dict-bytes"))
			o.dictionary_page_bytes = arg_int(v);
		else if (!strcmp(a, "--int96"))
			o.int96_timestamps = true;
		else if (OPT("--null-pct"))
			null_pct = (int)arg_int(v);
		else if (OPT("--special-pct"))
			g.special_pct = (int)arg_int(v);
		else if (OPT("--card"))
			card = arg_int(v);
		else if (OPT("--batch"))
			batch = arg_int(v);
		else if (!strcmp(a, "--random-batches"))
			random_batches = true;
		else if (OPT("--float-sign"))
			g.float_sign = (int)arg_int(v);
		else if (!strcmp(a, "--finite"))
			g.finite = true;
		else if (!strcmp(a, "--quiet"))
			quiet = true;
		else if (!strcmp(a, "--nest-dotted"))
			o.nest_dotted = true;
		else if (OPT("--rows-from"))
			rows_from = v;
		else if (OPT("--nested")) {
			const char *eq = strchr(v, '=');
			if (!eq || nnested == 64) {
				fprintf(stderr, "pqgen: --nested COL=TYPE\n");
				return 2;
			}
			nested_cols[nnested] = strndup(v, (size_t)(eq - v));
			nested_types[nnested++] = eq + 1;
		}
		else if (OPT("--kv")) {
			const char *eq = strchr(v, '=');
			if (!eq || nkv == 16) {
				fprintf(stderr, "pqgen: --kv KEY=VALUE\n");
				return 2;
			}
			kv_keys[nkv] = strndup(v, (size_t)(eq - v));
			kv_values[nkv++] = eq + 1;
		} else if (a[0] != '-' && !out)
			out = a;
		else {
			fprintf(stderr, "pqgen: unknown argument %s\n", a);
			return 2;
		}
	}
	if (!out || !schema_text || batch < 1) {
		fprintf(stderr, "usage: pqgen OUT.parquet --schema TEXT [options]\n");
		return 2;
	}
	o.kv_keys = kv_keys;
	o.kv_values = kv_values;
	o.nkv = nkv;
	o.nested_columns = nested_cols;
	o.nested_types = nested_types;
	o.nnested = nnested;
	FILE *src = NULL;
	cl__json_parser *jp = NULL;
	char *srcline = NULL;
	size_t srccap = 0;
	int64_t lineno = 0;
	if (rows_from) {
		if (!(src = fopen(rows_from, "r"))) {
			perror(rows_from);
			return 2;
		}
		rows = INT64_MAX;
	}

	cl_schema *schema = NULL;
	cl_writer *w = NULL;
	cl_batch *b = NULL;
	int rc = 0;
	cl_buf line = {0};
	char path[4096];
	snprintf(path, sizeof path, "%s.jsonl", out);
	FILE *txt = fopen(path, "w");
	if (!txt) {
		perror(path);
		return 2;
	}
	if ((rc = cl_schema_parse(&schema, schema_text, &err)) ||
	    (rc = cl_writer_open(&w, out, schema, &o, &err)) ||
	    (rc = cl_batch_create(&b, schema, batch, &err)))
		goto done;
	uint64_t r = seed;
	if (rows_from && (rc = cl__json_parser_create(&jp, NULL, &err)))
		goto done;
	for (int64_t done = 0; done < rows;) {
		int64_t n = rows - done < batch ? rows - done : batch;
		if (random_batches)
			n = 1 + (int64_t)rng_below(&r, (uint64_t)n);
		cl_batch_clear(b);
		if (rows_from) {
			int64_t got = 0;
			ssize_t len;
			while (got < n && (len = getline(&srcline, &srccap, src)) > 0) {
				lineno++;
				if ((rc = row_from_line(b, schema, jp, srcline, (size_t)len, lineno, &err)))
					goto done;
				got++;
			}
			if (got == 0)
				break;
			n = got;
			if (got < n)
				rows = done + got; /* the end of the file */
		}
		for (int c = 0; !rows_from && c < schema->nfields; c++) {
			cl_column *col = &b->cols[c];
			for (int64_t i = 0; i < n; i++) {
				if (schema->fields[c].nullable && (int)rng_below(&r, 100) < null_pct) {
					rc = cl_column_append_null(col, &err);
				} else if (card > 0) {
					/* value k of this column: the same stream every time */
					uint64_t k = rng_below(&r, (uint64_t)card);
					uint64_t sub = seed * 1000003u + (uint64_t)c * 7919u + k * 104729u;
					rc = gen_value(col, &sub, &g, &err);
				} else {
					rc = gen_value(col, &r, &g, &err);
				}
				if (rc)
					goto done;
			}
		}
		b->nrows = n;
		if ((rc = cl_writer_write(w, b, &err)))
			goto done;
		for (int64_t i = 0; i < n; i++) {
			cl_buf_clear(&line);
			cl_buf_putc(&line, '[');
			for (int c = 0; c < schema->nfields; c++) {
				if (c)
					cl_buf_putc(&line, ',');
				canon(&line, &b->cols[c], i);
			}
			cl_buf_puts(&line, "]\n");
			fwrite(line.data, 1, line.len, txt);
		}
		done += n;
	}
	if ((rc = cl_writer_close(w, &err)))
		goto done;
	cl_file_stats st;
	if ((rc = cl_writer_file_stats(w, &st, &err)))
		goto done;
	snprintf(path, sizeof path, "%s.meta.json", out);
	FILE *mf = fopen(path, "w");
	if (!mf) {
		perror(path);
		rc = CL_EIO;
		goto done;
	}
	cl_buf_clear(&line);
	cl_buf_printf(&line, "{\"num_rows\":%" PRId64 ",\"file_bytes\":%" PRId64
			     ",\"num_row_groups\":%d,\"columns\":[",
		      st.num_rows, st.file_bytes, st.num_row_groups);
	for (int c = 0; c < st.ncols; c++) {
		cl_buf_printf(&line, "%s{\"name\":", c ? "," : "");
		json_string(&line, (const uint8_t *)schema->fields[c].name,
			    strlen(schema->fields[c].name));
		cl_buf_printf(&line, ",\"null_count\":%" PRId64 ",\"nan_count\":%" PRId64
				     ",\"has_min_max\":%s,\"min\":",
			      st.cols[c].null_count, st.cols[c].nan_count,
			      st.cols[c].has_min_max ? "true" : "false");
		canon(&line, &st.min->cols[c], 0);
		cl_buf_puts(&line, ",\"max\":");
		canon(&line, &st.max->cols[c], 0);
		cl_buf_puts(&line, "}");
	}
	cl_buf_puts(&line, "]}\n");
	fwrite(line.data, 1, line.len, mf);
	fclose(mf);
	if (!quiet)
		fprintf(stderr, "pqgen: %s: %" PRId64 " rows, %d row groups, %" PRId64 " bytes\n",
			out, st.num_rows, st.num_row_groups, st.file_bytes);
done:
	cl_buf_release(&line);
	if (fclose(txt) != 0 && !rc)
		rc = CL_EIO;
	if (rc)
		fprintf(stderr, "pqgen: %s\n", err.message);
	cl_batch_free(b);
	cl_writer_free(w);
	cl_schema_free(schema);
	for (int i = 0; i < nkv; i++)
		free((void *)kv_keys[i]);
	for (int i = 0; i < nnested; i++)
		free((void *)nested_cols[i]);
	cl__json_parser_free(jp);
	free(srcline);
	if (src)
		fclose(src);
	return rc ? 1 : 0;
}
