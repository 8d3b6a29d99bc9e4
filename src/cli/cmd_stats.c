/*
 * cmd_stats.c — `changelake stats FILE`: what is inside a table file.
 *
 * Parquet: the footer alone (nothing else is read): rows, row groups,
 * created_by, key-value metadata, and per column chunk the codec,
 * encodings, sizes, null count and min/max statistics. CSV and JSON Lines
 * (and Parquet with --scan): one pass over the rows, counting rows and
 * nulls and finding each column's min and max. A lake table: what its log
 * says of the version's live files (count, rows, bytes, per partition), or
 * with --scan the same pass over its live rows.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { OPT_SCAN = OPT_CMD_BASE };

static void usage(FILE *f)
{
	fputs("Usage: changelake stats FILE [options]\n"
	      "\n"
	      "Show what is inside a table file. For Parquet: row groups, sizes,\n"
	      "encodings, codecs and min/max/null statistics per column chunk, from\n"
	      "the footer alone. For CSV and JSON Lines (or Parquet with --scan): a\n"
	      "pass over the rows giving row count, nulls, min and max per column.\n"
	      "For a lake table (TABLE, TABLE@VERSION, TABLE@TIMESTAMP): its version's\n"
	      "live files from the log — count, rows, bytes, per partition — or with\n"
	      "--scan the pass over its rows.\n"
	      "\n"
	      "Options:\n"
	      "  --scan               compute statistics from the rows, for any format\n"
	      CLI_READ_HELP CLI_COMMON_HELP
	      "\nExit status: 0 ok, 2 on any error.\n", f);
}

/* A grid of text cells printed with aligned columns. */
typedef struct grid {
	int ncols;
	char **cells;
	int nrows, cap;
} grid;

static int grid_add(grid *g, const char *const *row)
{
	if (g->nrows == g->cap) {
		int cap = g->cap ? g->cap * 2 : 16;
		char **c = realloc(g->cells, sizeof *c * (size_t)cap * (size_t)g->ncols);
		if (!c)
			return -1;
		g->cells = c;
		g->cap = cap;
	}
	for (int i = 0; i < g->ncols; i++) {
		char *t = strdup(row[i] ? row[i] : "");
		/* one line per row: control characters shown as spaces */
		for (char *p = t; p && *p; p++)
			if ((unsigned char)*p < 0x20)
				*p = ' ';
		g->cells[g->nrows * g->ncols + i] = t;
	}
	g->nrows++;
	return 0;
}

static int utf8_width(const char *s)
{
	int w = 0;
	for (; *s; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

static void grid_print(grid *g, const char *indent)
{
	int *w = calloc((size_t)g->ncols, sizeof *w);
	if (!w)
		return;
	for (int r = 0; r < g->nrows; r++)
		for (int c = 0; c < g->ncols; c++) {
			const char *s = g->cells[r * g->ncols + c];
			int n = s ? utf8_width(s) : 0;
			if (n > w[c])
				w[c] = n;
		}
	for (int r = 0; r < g->nrows; r++) {
		fputs(indent, stdout);
		for (int c = 0; c < g->ncols; c++) {
			const char *s = g->cells[r * g->ncols + c];
			s = s ? s : "";
			fputs(s, stdout);
			if (c + 1 < g->ncols)
				printf("%*s", w[c] - utf8_width(s) + 2, "");
		}
		putchar('\n');
	}
	free(w);
	for (int i = 0; i < g->nrows * g->ncols; i++)
		free(g->cells[i]);
	free(g->cells);
	g->cells = NULL;
	g->nrows = g->cap = 0;
}

static void encodings_text(char *buf, size_t n, uint32_t enc)
{
	buf[0] = 0;
	size_t o = 0;
	for (int e = 0; e < 32; e++)
		if (enc & (1u << e)) {
			int k = snprintf(buf + o, n - o, "%s%s", o ? "," : "",
					 cl_parquet_encoding_name(e));
			if (k < 0 || (size_t)k >= n - o)
				break;
			o += (size_t)k;
		}
}

static int parquet_stats(const char *path, const cli_common *common)
{
	cl_error err = {0};
	cl_parquet_file *f;
	if (cl_parquet_file_open(&f, path, &err))
		return cli_fail_err(&err);
	int rc = CLI_ERROR;
	int ncols = cl_parquet_file_num_columns(f), nrg = cl_parquet_file_num_row_groups(f);
	if (common->json) {
		printf("{\"file\":");
		cli_json_string(stdout, path);
		printf(",\"format\":\"parquet\",\"rows\":%lld,\"bytes\":%lld,\"row_groups\":%d,"
		       "\"version\":%d,\"created_by\":",
		       (long long)cl_parquet_file_num_rows(f), (long long)cl_parquet_file_size(f),
		       nrg, cl_parquet_file_version(f));
		cli_json_string(stdout, cl_parquet_file_created_by(f));
		printf(",\"key_value\":{");
		for (int i = 0; i < cl_parquet_file_num_kv(f); i++) {
			const char *k, *v;
			cl_parquet_file_kv(f, i, &k, &v);
			if (i)
				putchar(',');
			cli_json_string(stdout, k);
			putchar(':');
			cli_json_string(stdout, v ? v : "");
		}
		printf("},\"columns\":[");
		for (int c = 0; c < ncols; c++) {
			cl_parquet_column col;
			cl_parquet_file_column(f, c, &col);
			char tn[64] = "";
			if (col.supported)
				cl_type_format(tn, sizeof tn, col.type);
			printf("%s{\"path\":", c ? "," : "");
			cli_json_string(stdout, col.path);
			printf(",\"physical_type\":\"%s\",\"annotation\":", col.physical_type);
			cli_json_string(stdout, col.annotation);
			printf(",\"type\":");
			cli_json_string(stdout, col.supported ? tn : "");
			printf("}");
		}
		printf("],\"row_groups_detail\":[");
		for (int g = 0; g < nrg; g++) {
			cl_parquet_row_group rg;
			cl_parquet_file_row_group(f, g, &rg);
			printf("%s{\"rows\":%lld,\"compressed_bytes\":%lld,\"uncompressed_bytes\":%lld,\"chunks\":[",
			       g ? "," : "", (long long)rg.num_rows, (long long)rg.compressed_size,
			       (long long)rg.total_byte_size);
			for (int c = 0; c < ncols; c++) {
				cl_parquet_chunk ch;
				if (cl_parquet_file_chunk(f, g, c, &ch, &err)) {
					printf("]}]}\n");
					rc = cli_fail_err(&err);
					goto done;
				}
				char enc[256];
				encodings_text(enc, sizeof enc, ch.encodings);
				printf("%s{\"codec\":\"%s\",\"encodings\":\"%s\",\"compressed_bytes\":%lld,"
				       "\"uncompressed_bytes\":%lld",
				       c ? "," : "", cl_codec_name(ch.codec), enc,
				       (long long)ch.compressed_size, (long long)ch.uncompressed_size);
				if (ch.has_null_count)
					printf(",\"null_count\":%lld", (long long)ch.null_count);
				if (ch.has_min_max) {
					printf(",\"min\":");
					cli_json_string(stdout, ch.min);
					printf(",\"max\":");
					cli_json_string(stdout, ch.max);
				}
				printf("}");
			}
			printf("]}");
		}
		printf("]}\n");
		rc = CLI_OK;
		goto done;
	}
	printf("file:        %s\n", path);
	printf("format:      parquet (version %d), %lld rows, %d row group%s, %lld bytes\n",
	       cl_parquet_file_version(f), (long long)cl_parquet_file_num_rows(f), nrg,
	       nrg == 1 ? "" : "s", (long long)cl_parquet_file_size(f));
	printf("created by:  %s\n", cl_parquet_file_created_by(f));
	for (int i = 0; i < cl_parquet_file_num_kv(f); i++) {
		const char *k, *v;
		cl_parquet_file_kv(f, i, &k, &v);
		size_t vl = v ? strlen(v) : 0;
		printf("metadata:    %s = %.*s%s\n", k, vl > 60 ? 60 : (int)vl, v ? v : "",
		       vl > 60 ? "…" : "");
	}
	printf("columns:\n");
	grid g = {.ncols = 4};
	const char *hdr[] = {"column", "type", "physical", "annotation"};
	grid_add(&g, hdr);
	for (int c = 0; c < ncols; c++) {
		cl_parquet_column col;
		cl_parquet_file_column(f, c, &col);
		char tn[160];
		if (col.supported)
			cl_type_format(tn, sizeof tn, col.type);
		else
			snprintf(tn, sizeof tn, "(%s)", col.unsupported ? col.unsupported : "unsupported");
		const char *row[] = {col.path, tn, col.physical_type, col.annotation};
		grid_add(&g, row);
	}
	grid_print(&g, "  ");
	for (int r = 0; r < nrg; r++) {
		cl_parquet_row_group rg;
		cl_parquet_file_row_group(f, r, &rg);
		printf("row group %d: %lld rows, %lld bytes compressed, %lld uncompressed\n", r,
		       (long long)rg.num_rows, (long long)rg.compressed_size,
		       (long long)rg.total_byte_size);
		grid rgg = {.ncols = 8};
		const char *h2[] = {"column", "codec", "encodings", "compressed", "uncompressed",
				    "nulls", "min", "max"};
		grid_add(&rgg, h2);
		for (int c = 0; c < ncols; c++) {
			cl_parquet_column col;
			cl_parquet_file_column(f, c, &col);
			cl_parquet_chunk ch;
			if (cl_parquet_file_chunk(f, r, c, &ch, &err)) {
				grid_print(&rgg, "  ");
				rc = cli_fail_err(&err);
				goto done;
			}
			char enc[256], cs[32], us[32], nn[32];
			encodings_text(enc, sizeof enc, ch.encodings);
			snprintf(cs, sizeof cs, "%lld", (long long)ch.compressed_size);
			snprintf(us, sizeof us, "%lld", (long long)ch.uncompressed_size);
			if (ch.has_null_count)
				snprintf(nn, sizeof nn, "%lld", (long long)ch.null_count);
			else
				snprintf(nn, sizeof nn, "-");
			char mn[44], mx[44];
			snprintf(mn, sizeof mn, "%s", ch.has_min_max ? ch.min : "-");
			snprintf(mx, sizeof mx, "%s", ch.has_min_max ? ch.max : "-");
			const char *row[] = {col.path, cl_codec_name(ch.codec), enc, cs, us, nn, mn, mx};
			grid_add(&rgg, row);
		}
		grid_print(&rgg, "  ");
	}
	rc = CLI_OK;
done:
	cl_parquet_file_free(f);
	return rc;
}

static void fmt_time(char *buf, size_t n, int64_t ms)
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&s, &tm);
	size_t k = strftime(buf, n, "%Y-%m-%d %H:%M:%S", &tm);
	snprintf(buf + k, n - k, ".%03dZ", (int)(ms % 1000));
}

/* Files of one partition (equal partition values) of a snapshot. */
typedef struct part_group {
	size_t first;  /* a file of the group (its partition values) */
	int64_t files, rows, bytes; /* rows -1: a file without numRecords */
} part_group;

static int cmp_kv(const cl_table_file *a, const cl_table_file *b)
{
	for (int k = 0; k < a->npartition && k < b->npartition; k++) {
		const char *x = a->partition[k].value, *y = b->partition[k].value;
		if (!x || !y) {
			if (x != y)
				return x ? 1 : -1; /* NULL first */
			continue;
		}
		int c = strcmp(x, y);
		if (c)
			return c;
	}
	return a->npartition - b->npartition;
}

static int cmp_part(const void *pa, const void *pb, void *snap)
{
	size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
	int c = cmp_kv(cl_snapshot_file(snap, a), cl_snapshot_file(snap, b));
	return c ? c : (a > b) - (a < b);
}

static void part_text(char *buf, size_t n, const cl_table_file *f)
{
	size_t o = 0;
	buf[0] = 0;
	for (int k = 0; k < f->npartition && o < n; k++) {
		int w = snprintf(buf + o, n - o, "%s%s=%s", k ? "/" : "", f->partition[k].key,
				 f->partition[k].value ? f->partition[k].value : "NULL");
		if (w < 0)
			break;
		o += (size_t)w;
	}
}

/*
 * A lake table without --scan: what the log says, nothing read from the
 * data files — the version, the live files with their rows and bytes, and
 * the same per partition.
 */
static int table_stats(const char *ref, const cli_common *common)
{
	cl_error err = {0};
	char *loc = NULL;
	cl_table_at at;
	cl_table *t = NULL;
	cl_snapshot *s = NULL;
	size_t *order = NULL;
	part_group *groups = NULL;
	int rc = CLI_ERROR;
	if (cl_table_ref_parse(&loc, &at, ref, &err) || cl_table_open(&t, loc, &err) ||
	    cl_table_snapshot(&s, t, &at, &err)) {
		rc = cli_fail_err(&err);
		goto done;
	}
	size_t nf = cl_snapshot_nfiles(s);
	int64_t bytes = 0, rows = cl_snapshot_num_records(s);
	order = calloc(nf + 1, sizeof *order);
	groups = calloc(nf + 1, sizeof *groups);
	if (!order || !groups) {
		rc = cli_fail("out of memory");
		goto done;
	}
	for (size_t i = 0; i < nf; i++) {
		order[i] = i;
		bytes += cl_snapshot_file(s, i)->size;
	}
	qsort_r(order, nf, sizeof *order, cmp_part, s);
	size_t ng = 0;
	for (size_t i = 0; i < nf; i++) {
		const cl_table_file *f = cl_snapshot_file(s, order[i]);
		if (!ng || cmp_kv(cl_snapshot_file(s, groups[ng - 1].first), f))
			groups[ng++] = (part_group){.first = order[i]};
		part_group *g = &groups[ng - 1];
		g->files++;
		g->bytes += f->size;
		if (g->rows >= 0)
			g->rows = f->num_records >= 0
					  ? g->rows + f->num_records - (f->dv ? f->dv->cardinality : 0)
					  : -1;
	}
	int np = cl_snapshot_npartition_columns(s);
	const cl_schema *sc = cl_snapshot_schema(s);
	char when[64];
	fmt_time(when, sizeof when, cl_snapshot_timestamp(s));
	if (common->json) {
		printf("{\"table\":");
		cli_json_string(stdout, ref);
		printf(",\"format\":\"delta\",\"version\":%lld,\"timestamp\":",
		       (long long)cl_snapshot_version(s));
		cli_json_string(stdout, when);
		printf(",\"files\":%zu,\"bytes\":%lld,\"rows\":", nf, (long long)bytes);
		if (rows >= 0)
			printf("%lld", (long long)rows);
		else
			printf("null");
		printf(",\"columns\":[");
		for (int c = 0; c < sc->nfields; c++) {
			char tn[64];
			cl_type_format(tn, sizeof tn, sc->fields[c].type);
			printf("%s{\"name\":", c ? "," : "");
			cli_json_string(stdout, sc->fields[c].name);
			printf(",\"type\":\"%s\"}", tn);
		}
		printf("],\"partition_columns\":[");
		for (int k = 0; k < np; k++) {
			if (k)
				putchar(',');
			cli_json_string(stdout, cl_snapshot_partition_column(s, k));
		}
		printf("],\"partitions\":[");
		for (size_t g = 0; np && g < ng; g++) {
			const cl_table_file *f = cl_snapshot_file(s, groups[g].first);
			printf("%s{\"values\":{", g ? "," : "");
			for (int k = 0; k < f->npartition; k++) {
				if (k)
					putchar(',');
				cli_json_string(stdout, f->partition[k].key);
				putchar(':');
				if (f->partition[k].value)
					cli_json_string(stdout, f->partition[k].value);
				else
					fputs("null", stdout);
			}
			printf("},\"files\":%lld,\"bytes\":%lld,\"rows\":", (long long)groups[g].files,
			       (long long)groups[g].bytes);
			if (groups[g].rows >= 0)
				printf("%lld}", (long long)groups[g].rows);
			else
				printf("null}");
		}
		printf("]}\n");
		rc = CLI_OK;
		goto done;
	}
	printf("table:       %s\n", ref);
	printf("format:      delta, version %lld of %s\n", (long long)cl_snapshot_version(s), when);
	printf("files:       %zu live, %lld bytes\n", nf, (long long)bytes);
	if (rows >= 0)
		printf("rows:        %lld\n", (long long)rows);
	else
		printf("rows:        unknown (a file without numRecords; --scan counts them)\n");
	printf("columns:    ");
	for (int c = 0; c < sc->nfields; c++) {
		char tn[64];
		cl_type_format(tn, sizeof tn, sc->fields[c].type);
		printf("%s %s %s", c ? "," : "", sc->fields[c].name, tn);
	}
	putchar('\n');
	if (!np) {
		printf("partitions:  none\n");
		rc = CLI_OK;
		goto done;
	}
	printf("partitions:  %zu, by", ng);
	for (int k = 0; k < np; k++)
		printf("%s %s", k ? "," : "", cl_snapshot_partition_column(s, k));
	putchar('\n');
	grid gr = {.ncols = 4};
	const char *hdr[] = {"partition", "files", "rows", "bytes"};
	grid_add(&gr, hdr);
	for (size_t g = 0; g < ng; g++) {
		char pt[512], fs[32], rs[32], bs[32];
		part_text(pt, sizeof pt, cl_snapshot_file(s, groups[g].first));
		snprintf(fs, sizeof fs, "%lld", (long long)groups[g].files);
		if (groups[g].rows >= 0)
			snprintf(rs, sizeof rs, "%lld", (long long)groups[g].rows);
		else
			snprintf(rs, sizeof rs, "-");
		snprintf(bs, sizeof bs, "%lld", (long long)groups[g].bytes);
		const char *row[] = {pt, fs, rs, bs};
		grid_add(&gr, row);
	}
	grid_print(&gr, "  ");
	rc = CLI_OK;
done:
	free(order);
	free(groups);
	cl_snapshot_free(s);
	cl_table_free(t);
	cl_free(loc);
	return rc;
}

/* Statistics from the rows themselves, for any format. */
static int scan_stats(const char *path, cli_read *rd, const cli_common *common)
{
	cl_reader *r = NULL;
	if (cli_open_reader(&r, path, rd))
		return CLI_ERROR;
	cl_error err = {0};
	const cl_schema *s = cl_reader_schema(r);
	int n = s->nfields, rc = CLI_ERROR;
	cl_column *mins = calloc((size_t)n + 1, sizeof *mins);
	cl_column *maxs = calloc((size_t)n + 1, sizeof *maxs);
	int64_t *nulls = calloc((size_t)n + 1, sizeof *nulls);
	if (!mins || !maxs || !nulls) {
		rc = cli_fail("out of memory");
		goto done;
	}
	for (int c = 0; c < n; c++)
		if (cl_column_init(&mins[c], s->fields[c].type, 1, &err) ||
		    cl_column_init(&maxs[c], s->fields[c].type, 1, &err)) {
			rc = cli_fail_err(&err);
			goto done;
		}
	cli_progress pr;
	cli_progress_start(&pr, common, "stats");
	for (;;) {
		cl_batch *b;
		if (cl_reader_next(r, &b, &err)) {
			cli_progress_done(&pr);
			rc = cli_fail_err(&err);
			goto done;
		}
		if (!b)
			break;
		for (int c = 0; c < n; c++) {
			const cl_column *col = &b->cols[c];
			nulls[c] += col->null_count;
			int64_t lo = -1, hi = -1;
			for (int64_t i = 0; i < b->nrows; i++) {
				if (cl_column_is_null(col, i))
					continue;
				if (lo < 0 || cl_value_compare(col, i, col, lo) < 0)
					lo = i;
				if (hi < 0 || cl_value_compare(col, i, col, hi) > 0)
					hi = i;
			}
			if (lo < 0)
				continue;
			if (mins[c].length == 0 || cl_value_compare(col, lo, &mins[c], 0) < 0) {
				cl_column_clear(&mins[c]);
				if (cl_column_append_from(&mins[c], col, lo, &err))
					goto oom;
			}
			if (maxs[c].length == 0 || cl_value_compare(col, hi, &maxs[c], 0) > 0) {
				cl_column_clear(&maxs[c]);
				if (cl_column_append_from(&maxs[c], col, hi, &err))
					goto oom;
			}
		}
		cli_progress_update(&pr, cl_reader_rows(r), cl_reader_total_rows(r));
	}
	cli_progress_done(&pr);
	int64_t rows = cl_reader_rows(r);
	const cl_snapshot *snap = cl_table_reader_snapshot(r);
	const char *fmt = snap ? "delta" : cl_format_name(cl_reader_format(r));
	if (common->json) {
		printf("{\"file\":");
		cli_json_string(stdout, path);
		printf(",\"format\":\"%s\",", fmt);
		if (snap)
			printf("\"version\":%lld,", (long long)cl_snapshot_version(snap));
		printf("\"rows\":%lld,\"columns\":[", (long long)rows);
	} else if (snap) {
		printf("table:   %s\nformat:  delta (version %lld), %lld rows\n", path,
		       (long long)cl_snapshot_version(snap), (long long)rows);
	} else {
		printf("file:    %s\nformat:  %s, %lld rows\n", path, fmt, (long long)rows);
	}
	grid g = {.ncols = 5};
	const char *hdr[] = {"column", "type", "nulls", "min", "max"};
	grid_add(&g, hdr);
	for (int c = 0; c < n; c++) {
		char tn[64], nn[32];
		char *mn = NULL, *mx = NULL;
		cl_type_format(tn, sizeof tn, s->fields[c].type);
		snprintf(nn, sizeof nn, "%lld", (long long)nulls[c]);
		if (mins[c].length && (cl_value_text(&mins[c], 0, &mn, NULL, &err) ||
				       cl_value_text(&maxs[c], 0, &mx, NULL, &err))) {
			cl_free(mn);
			goto oom;
		}
		if (common->json) {
			printf("%s{\"name\":", c ? "," : "");
			cli_json_string(stdout, s->fields[c].name);
			printf(",\"type\":\"%s\",\"nulls\":%lld", tn, (long long)nulls[c]);
			if (mn) {
				printf(",\"min\":");
				cli_json_string(stdout, mn);
				printf(",\"max\":");
				cli_json_string(stdout, mx);
			}
			printf("}");
		} else {
			char a[44], z[44];
			snprintf(a, sizeof a, "%s", mn ? mn : "-");
			snprintf(z, sizeof z, "%s", mx ? mx : "-");
			const char *row[] = {s->fields[c].name, tn, nn, a, z};
			grid_add(&g, row);
		}
		cl_free(mn);
		cl_free(mx);
	}
	if (common->json) {
		printf("]}\n");
	}
	if (!common->json)
		grid_print(&g, "  ");
	for (int i = 0; i < g.nrows * g.ncols; i++)
		free(g.cells[i]);
	free(g.cells);
	rc = CLI_OK;
	goto done;
oom:
	rc = cli_fail_err(&err);
done:
	for (int c = 0; mins && maxs && c < n; c++) {
		cl_column_release(&mins[c]);
		cl_column_release(&maxs[c]);
	}
	free(mins);
	free(maxs);
	free(nulls);
	cl_reader_free(r);
	return rc;
}

int cli_cmd_stats(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"scan", no_argument, 0, OPT_SCAN},
		CLI_READ_LONGOPTS, CLI_COMMON_LONGOPTS, {0, 0, 0, 0}};
	cli_read rd;
	cli_common common;
	cli_read_init(&rd);
	cli_common_init(&common);
	bool scan = false;
	int rc = CLI_ERROR, opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
		int k = cli_read_option(&rd, opt, optarg);
		if (k < 0)
			goto done;
		if (k || cli_common_option(&common, opt))
			continue;
		if (opt == OPT_SCAN) {
			scan = true;
			continue;
		}
		if (opt == OPT_HELP || opt == 'h') {
			usage(stdout);
			rc = CLI_OK;
			goto done;
		}
		rc = cli_usage_error("stats", "unknown option");
		goto done;
	}
	if (argc - optind != 1) {
		rc = cli_usage_error("stats", "expected one FILE");
		goto done;
	}
	const char *path = argv[optind];
	if (cli_is_table(path)) {
		rc = scan ? scan_stats(path, &rd, &common) : table_stats(path, &common);
		goto done;
	}
	bool parquet = rd.opts.format == CL_FORMAT_PARQUET;
	if (rd.opts.format == CL_FORMAT_AUTO && strcmp(path, "-")) {
		FILE *f = fopen(path, "rb");
		char magic[4];
		parquet = f && fread(magic, 1, 4, f) == 4 && !memcmp(magic, "PAR1", 4);
		if (f)
			fclose(f);
	}
	rc = parquet && !scan ? parquet_stats(path, &common) : scan_stats(path, &rd, &common);
done:
	cli_read_release(&rd);
	return rc;
}
