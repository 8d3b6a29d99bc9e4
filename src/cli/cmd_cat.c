/* cmd_cat.c — `changelake cat` and `changelake head`: print the rows of a file
 * or of a lake table (a version of it). */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { OPT_TO = OPT_CMD_BASE, OPT_LIMIT };

static void usage(const char *cmd, FILE *f)
{
	bool head = !strcmp(cmd, "head");
	fprintf(f,
		"Usage: changelake %s FILE [options]\n"
		"\n"
		"%s\n"
		"FILE is Parquet, CSV (optionally gzip) or JSON Lines, detected from its\n"
		"magic bytes and name; '-' reads standard input. FILE may also be a lake\n"
		"table: TABLE (a folder with _delta_log/), TABLE@VERSION or\n"
		"TABLE@TIMESTAMP (the version current then); only its live files are read.\n"
		"\n"
		"Options:\n"
		"  --to FORMAT          output: table, csv, jsonl (default: table on a\n"
		"                       terminal, csv otherwise)\n"
		"  -n, --limit N        at most N rows%s\n"
		CLI_READ_HELP CLI_COMMON_HELP
		"\nExit status: 0 ok, 2 on any error.\n",
		cmd,
		head ? "Print the first rows of a table file (10 unless -n says otherwise)."
		     : "Print the rows of a table file.",
		head ? " (default 10)" : "");
}

typedef enum { OUT_TABLE, OUT_CSV, OUT_JSONL } out_kind;

int cli_cmd_cat(int argc, char **argv)
{
	const char *cmd = argv[0];
	bool head = !strcmp(cmd, "head");
	static const struct option longopts[] = {
		{"to", required_argument, 0, OPT_TO},
		{"limit", required_argument, 0, 'n'},
		CLI_READ_LONGOPTS, CLI_COMMON_LONGOPTS, {0, 0, 0, 0}};
	cli_read rd;
	cli_common common;
	cli_read_init(&rd);
	cli_common_init(&common);
	out_kind out = isatty(1) ? OUT_TABLE : OUT_CSV;
	int64_t limit = head ? 10 : -1;
	int rc = CLI_ERROR, opt;
	cl_reader *r = NULL;
	cl_writer *w = NULL;
	cli_table *table = NULL;
	cl_error err = {0};
	optind = 1;
	while ((opt = getopt_long(argc, argv, "n:qh", longopts, NULL)) != -1) {
		int k = cli_read_option(&rd, opt, optarg);
		if (k < 0)
			goto done;
		if (k || cli_common_option(&common, opt))
			continue;
		switch (opt) {
		case OPT_TO:
			if (!strcmp(optarg, "table"))
				out = OUT_TABLE;
			else if (!strcmp(optarg, "csv"))
				out = OUT_CSV;
			else if (!strcmp(optarg, "jsonl") || !strcmp(optarg, "json"))
				out = OUT_JSONL;
			else {
				rc = cli_usage_error(cmd, "--to takes table, csv or jsonl, not '%s'",
						     optarg);
				goto done;
			}
			break;
		case 'n': {
			char *end;
			errno = 0;
			limit = strtoll(optarg, &end, 10);
			if (errno || *end || limit < 0) {
				rc = cli_usage_error(cmd, "-n takes a row count, not '%s'", optarg);
				goto done;
			}
			break;
		}
		case OPT_HELP: case 'h':
			usage(cmd, stdout);
			rc = CLI_OK;
			goto done;
		default:
			rc = cli_usage_error(cmd, "unknown option");
			goto done;
		}
	}
	if (argc - optind != 1) {
		rc = cli_usage_error(cmd, "expected one FILE");
		goto done;
	}
	if (cli_open_reader(&r, argv[optind], &rd))
		goto done;
	const cl_schema *schema = cl_reader_schema(r);
	if (out == OUT_TABLE) {
		if (cli_table_create(&table, schema, 40)) {
			rc = cli_fail("out of memory");
			goto done;
		}
	} else {
		cl_write_options wo;
		cl_write_options_init(&wo);
		wo.format = out == OUT_CSV ? CL_FORMAT_CSV : CL_FORMAT_JSONL;
		if (cl_writer_open(&w, "-", schema, &wo, &err)) {
			rc = cli_fail_err(&err);
			goto done;
		}
	}
	/* A table without a limit shows the first 1000 rows and counts the rest. */
	int64_t show = limit >= 0 ? limit : (out == OUT_TABLE ? 1000 : -1);
	int64_t shown = 0, total = 0;
	for (;;) {
		cl_batch *b;
		if (cl_reader_next(r, &b, &err)) {
			rc = cli_fail_err(&err);
			goto done;
		}
		if (!b)
			break;
		total += b->nrows;
		int64_t take = b->nrows;
		if (show >= 0 && take > show - shown)
			take = show - shown;
		if (take > 0) {
			if (table) {
				if (cli_table_add(table, b, 0, take)) {
					rc = cli_fail("out of memory");
					goto done;
				}
			} else if (take == b->nrows) {
				if (cl_writer_write(w, b, &err)) {
					rc = cli_fail_err(&err);
					goto done;
				}
			} else {
				cl_batch part = *b;
				part.nrows = take;
				/* columns are only read up to nrows by the writers */
				cl_column *cols = malloc(sizeof *cols * (size_t)(b->ncols ? b->ncols : 1));
				if (!cols) {
					rc = cli_fail("out of memory");
					goto done;
				}
				for (int c = 0; c < b->ncols; c++) {
					cols[c] = b->cols[c];
					cols[c].length = take;
				}
				part.cols = cols;
				int wr = cl_writer_write(w, &part, &err);
				free(cols);
				if (wr) {
					rc = cli_fail_err(&err);
					goto done;
				}
			}
			shown += take;
		}
		/* With a limit, stop reading once it is reached (head of a big file);
		 * a table without one keeps counting. */
		if (limit >= 0 && shown >= limit)
			break;
	}
	if (table)
		cli_table_print(table, stdout, limit >= 0 ? shown : total);
	else if (cl_writer_close(w, &err)) {
		rc = cli_fail_err(&err);
		goto done;
	}
	if (fflush(stdout) != 0) {
		rc = cli_fail("cannot write standard output: %s", strerror(errno));
		goto done;
	}
	rc = CLI_OK;
done:
	cli_table_free(table);
	cl_writer_free(w);
	cl_reader_free(r);
	cli_read_release(&rd);
	return rc;
}
