/*
 * cmd_export.c — `changelake export CONNINFO --table T -o OUT`: a
 * consistent snapshot of a live PostgreSQL table as a Parquet, CSV or JSON
 * Lines file (library: changelake/pg_export.h). The --json summary names
 * the table's primary key, which is what `changelake diff --key` wants.
 */
#include "cli.h"
#include "changelake/pg_export.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum { OPT_TABLE = OPT_CMD_BASE, OPT_OUT, OPT_FORMAT, OPT_COLS, OPT_COMPRESSION };

static void usage(FILE *f)
{
	fputs("Usage: changelake export CONNINFO --table [SCHEMA.]TABLE -o OUT [options]\n"
	      "\n"
	      "Write a consistent snapshot of a live PostgreSQL table to a file: one\n"
	      "REPEATABLE READ READ ONLY transaction, the columns and types from the\n"
	      "catalog, the rows streamed with COPY in batches (memory stays bounded\n"
	      "whatever the table's size). Two snapshots compare with\n"
	      "'changelake diff OLD NEW --key PK'; --json names the primary key.\n"
	      "CONNINFO is a postgresql:// URL or libpq keywords (host=... dbname=...),\n"
	      "as for 'changelake apply --to'. OUT appears only when complete: on any\n"
	      "error it is not created (an older file of that name stays as it was).\n"
	      "\n"
	      "Options:\n"
	      "      --table NAME         the table or view: name or schema.name, taken\n"
	      "                           verbatim (case kept); double-quote a part that\n"
	      "                           holds a dot or starts with a quote: \"a.b\".t\n"
	      "  -o, --output OUT         the file to write ('-' standard output, text\n"
	      "                           formats); an existing folder gets TABLE.EXT\n"
	      "      --format FORMAT      parquet, csv or jsonl (default: OUT's\n"
	      "                           extension, else parquet; csv for '-')\n"
	      "      --columns A,B,...    export only these columns, in this order\n"
	      "      --compression CODEC  Parquet codec (default snappy)\n"
	      "\n"
	      "Types: smallint, integer, bigint -> int16, int32, int64; real, double\n"
	      "precision -> float32, float64 (NaN and +-Infinity kept); numeric(p,s)\n"
	      "with p <= 38 -> decimal(p,s), numeric without precision -> string;\n"
	      "boolean -> bool; date -> date; time -> time(us); timestamp ->\n"
	      "timestamp(us); timestamptz -> timestamp(us,utc); bytea -> binary; any\n"
	      "other type (text, varchar, uuid, json, enums, arrays, interval, ...) ->\n"
	      "string, PostgreSQL's text for it. A domain maps as its base type. A\n"
	      "value with no equivalent (+-infinity dates and timestamps, numeric NaN,\n"
	      "time 24:00:00) is an error naming table, row and column.\n"
	      "\n"
	      CLI_COMMON_HELP
	      "\nThe --json summary: table, output, format, rows, columns, primary_key\n"
	      "(a list, empty when the table has none), bytes, seconds.\n"
	      "Exit status: 0 exported, 2 trouble (connection, missing table or column,\n"
	      "no permission, a value that does not convert); OUT is then not created.\n",
	      f);
}

static void on_progress(void *ctx, int64_t rows)
{
	cli_progress_update(ctx, rows, -1);
}

/* OUT, or OUT/TABLE.EXT when OUT is a folder (the table name with '/'
 * and a leading '.' made harmless). Owned by the caller (free). */
static char *output_path(const char *outp, const char *table, cl_format f)
{
	struct stat st;
	if (!strcmp(outp, "-") || stat(outp, &st) != 0 || !S_ISDIR(st.st_mode))
		return strdup(outp);
	size_t n = strlen(outp) + strlen(table) + 16;
	char *p = malloc(n);
	if (!p)
		return NULL;
	size_t ol = strlen(outp);
	while (ol > 1 && outp[ol - 1] == '/')
		ol--;
	int k = snprintf(p, n, "%.*s/", (int)ol, outp);
	for (const char *s = table; *s && k + 1 < (int)n; s++)
		p[k++] = (*s == '/' || (s == table && *s == '.')) ? '_' : *s;
	snprintf(p + k, n - (size_t)k, ".%s", cl_format_name(f));
	return p;
}

int cli_cmd_export(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"table", required_argument, 0, OPT_TABLE},
		{"output", required_argument, 0, OPT_OUT},
		{"format", required_argument, 0, OPT_FORMAT},
		{"columns", required_argument, 0, OPT_COLS},
		{"compression", required_argument, 0, OPT_COMPRESSION},
		CLI_COMMON_LONGOPTS, {0, 0, 0, 0}};
	cli_common common;
	cl_write_options wo;
	cli_common_init(&common);
	cl_write_options_init(&wo);
	const char *table = NULL, *outp = NULL;
	char **cols = NULL, *path = NULL;
	int ncols = 0, rc = CLI_ERROR, opt;
	bool have_cols = false;
	cl_error err = {0};
	cl_pg_export_stats st = {0};
	optind = 1;
	while ((opt = getopt_long(argc, argv, "o:qh", longopts, NULL)) != -1) {
		if (cli_common_option(&common, opt))
			continue;
		switch (opt) {
		case OPT_TABLE: table = optarg; break;
		case OPT_OUT: case 'o': outp = optarg; break;
		case OPT_FORMAT:
			if (cl_format_parse(&wo.format, optarg, &err)) {
				rc = cli_usage_error("export", "%s", err.message);
				goto done;
			}
			break;
		case OPT_COLS:
			have_cols = true;
			if (cli_split_list(optarg, &cols, &ncols)) {
				rc = cli_fail("out of memory");
				goto done;
			}
			break;
		case OPT_COMPRESSION:
			if (cl_codec_parse(&wo.compression, optarg, &err)) {
				rc = cli_usage_error("export", "%s", err.message);
				goto done;
			}
			break;
		case OPT_HELP: case 'h':
			usage(stdout);
			rc = CLI_OK;
			goto done;
		default:
			rc = cli_usage_error("export", "unknown option");
			goto done;
		}
	}
	if (argc - optind != 1) {
		rc = cli_usage_error("export", "expected one CONNINFO (postgresql://... or "
				     "libpq keywords)");
		goto done;
	}
	if (!table || !*table) {
		rc = cli_usage_error("export", "--table is required");
		goto done;
	}
	if (!outp || !*outp) {
		rc = cli_usage_error("export", "-o OUT is required");
		goto done;
	}
	if (have_cols && ncols == 0) {
		rc = cli_usage_error("export", "--columns names no column");
		goto done;
	}
	const char *conninfo = argv[optind];
	if (!cl_pg_is_target(conninfo)) {
		rc = cli_usage_error("export", "'%s' is not a PostgreSQL connection: use a "
				     "postgresql:// URL or libpq keywords (host=, dbname=, "
				     "service=)", conninfo);
		goto done;
	}
	if (!wo.format)
		wo.format = !strcmp(outp, "-") ? CL_FORMAT_CSV : cl_format_from_extension(outp);
	if (!wo.format)
		wo.format = CL_FORMAT_PARQUET;
	path = output_path(outp, table, wo.format);
	if (!path) {
		rc = cli_fail("out of memory");
		goto done;
	}
	cl_pg_export_options o;
	cl_pg_export_options_init(&o);
	o.columns = (const char *const *)cols;
	o.ncolumns = ncols;
	cli_progress pr;
	cli_progress_start(&pr, &common, "export");
	o.progress = on_progress;
	o.progress_ctx = &pr;
	if (cl_pg_export(conninfo, table, path, &wo, &o, &st, &err)) {
		cli_progress_done(&pr);
		rc = cli_fail_err(&err);
		goto done;
	}
	cli_progress_done(&pr);
	double secs = cli_now() - pr.start;
	if (common.json) {
		FILE *f = strcmp(path, "-") ? stdout : stderr;
		fputs("{\"table\":", f);
		cli_json_string(f, table);
		fputs(",\"output\":", f);
		cli_json_string(f, path);
		fprintf(f, ",\"format\":\"%s\",\"rows\":%lld,\"columns\":%d,\"primary_key\":[",
			cl_format_name(wo.format), (long long)st.rows, st.schema->nfields);
		for (int i = 0; i < st.npkey; i++) {
			if (i)
				fputc(',', f);
			cli_json_string(f, st.pkey[i]);
		}
		fprintf(f, "],\"bytes\":%lld,\"seconds\":%.3f}\n", (long long)st.bytes, secs);
	} else if (!common.quiet && common.progress) {
		fprintf(stderr, "export: %lld rows, %d columns of %s in %.2fs (%.0f rows/s)",
			(long long)st.rows, st.schema->nfields, table, secs,
			secs > 0 ? (double)st.rows / secs : 0);
		if (st.npkey) {
			fputs("; primary key ", stderr);
			for (int i = 0; i < st.npkey; i++)
				fprintf(stderr, "%s%s", i ? "," : "", st.pkey[i]);
		}
		fputc('\n', stderr);
	}
	rc = CLI_OK;
done:
	cl_pg_export_stats_release(&st);
	cli_free_list(cols, ncols);
	free(path);
	return rc;
}
