/* cmd_convert.c — `changelake convert IN OUT`: rewrite a table file in another format. */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
	OPT_TO = OPT_CMD_BASE, OPT_COMPRESSION, OPT_LEVEL, OPT_RG_ROWS, OPT_PAGE,
	OPT_NODICT, OPT_PAGEV2, OPT_INT96, OPT_OUTDELIM, OPT_NOOUTHEADER, OPT_THREADS
};

static void usage(FILE *f)
{
	fputs("Usage: changelake convert IN OUT [options]\n"
	      "\n"
	      "Rewrite a table file in another format (Parquet, CSV, JSON Lines). The\n"
	      "output format comes from OUT's extension or --to; '-' writes standard\n"
	      "output (text formats). OUT appears only when complete. IN may be a lake\n"
	      "table: TABLE, TABLE@VERSION or TABLE@TIMESTAMP (its live rows).\n"
	      "\n"
	      "Output options:\n"
	      "  --to FORMAT              csv, jsonl or parquet\n"
	      "  --compression CODEC      Parquet: snappy (default), zstd, gzip, lz4, brotli, none\n"
	      "  --compression-level N    codec level (default: the codec's)\n"
	      "  --row-group-rows N       Parquet rows per row group (default 1048576)\n"
	      "  --page-bytes N           Parquet data page size limit (default 1 MiB)\n"
	      "  --no-dictionary          Parquet: no dictionary encoding\n"
	      "  --page-v2                Parquet: data page v2 (default v1)\n"
	      "  --int96-timestamps       Parquet: timestamps as INT96 for old readers\n"
	      "  --out-delimiter C        CSV output delimiter (default ',')\n"
	      "  --no-out-header          CSV output without a header line\n"
	      "  --threads N              threads encoding Parquet (default: all cores)\n"
	      "\n"
	      CLI_READ_HELP CLI_COMMON_HELP
	      "\nExit status: 0 ok, 2 on any error.\n", f);
}

static int parse_num(const char *opt, const char *arg, int64_t min, int64_t *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(arg, &end, 10);
	if (errno || *end || end == arg || v < min)
		return cli_usage_error("convert", "%s takes a number >= %lld, not '%s'", opt,
				       (long long)min, arg);
	*out = v;
	return 0;
}

int cli_cmd_convert(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"to", required_argument, 0, OPT_TO},
		{"compression", required_argument, 0, OPT_COMPRESSION},
		{"compression-level", required_argument, 0, OPT_LEVEL},
		{"row-group-rows", required_argument, 0, OPT_RG_ROWS},
		{"page-bytes", required_argument, 0, OPT_PAGE},
		{"no-dictionary", no_argument, 0, OPT_NODICT},
		{"page-v2", no_argument, 0, OPT_PAGEV2},
		{"int96-timestamps", no_argument, 0, OPT_INT96},
		{"out-delimiter", required_argument, 0, OPT_OUTDELIM},
		{"no-out-header", no_argument, 0, OPT_NOOUTHEADER},
		{"threads", required_argument, 0, OPT_THREADS},
		CLI_READ_LONGOPTS, CLI_COMMON_LONGOPTS, {0, 0, 0, 0}};
	cli_read rd;
	cli_common common;
	cl_write_options wo;
	cli_read_init(&rd);
	cli_common_init(&common);
	cl_write_options_init(&wo);
	wo.threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
	int rc = CLI_ERROR, opt;
	cl_reader *r = NULL;
	cl_writer *w = NULL;
	cl_error err = {0};
	int64_t v;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
		int k = cli_read_option(&rd, opt, optarg);
		if (k < 0)
			goto done;
		if (k || cli_common_option(&common, opt))
			continue;
		switch (opt) {
		case OPT_TO:
			if (cl_format_parse(&wo.format, optarg, &err)) {
				rc = cli_fail_err(&err);
				goto done;
			}
			break;
		case OPT_COMPRESSION:
			if (cl_codec_parse(&wo.compression, optarg, &err)) {
				rc = cli_fail_err(&err);
				goto done;
			}
			break;
		case OPT_LEVEL:
			if (parse_num("--compression-level", optarg, -100, &v))
				goto done;
			wo.compression_level = (int)v;
			break;
		case OPT_RG_ROWS:
			if (parse_num("--row-group-rows", optarg, 1, &wo.row_group_rows))
				goto done;
			break;
		case OPT_PAGE:
			if (parse_num("--page-bytes", optarg, 1, &wo.page_bytes))
				goto done;
			break;
		case OPT_NODICT: wo.dictionary = false; break;
		case OPT_PAGEV2: wo.page_version = 2; break;
		case OPT_INT96: wo.int96_timestamps = true; break;
		case OPT_OUTDELIM:
			if (!strcmp(optarg, "tab"))
				wo.delimiter = '\t';
			else if (strlen(optarg) == 1)
				wo.delimiter = optarg[0];
			else {
				rc = cli_usage_error("convert", "--out-delimiter takes one character");
				goto done;
			}
			break;
		case OPT_NOOUTHEADER: wo.header = false; break;
		case OPT_THREADS:
			if (parse_num("--threads", optarg, 1, &v))
				goto done;
			wo.threads = (int)v;
			rd.opts.threads = (int)v;
			break;
		case OPT_HELP: case 'h':
			usage(stdout);
			rc = CLI_OK;
			goto done;
		default:
			rc = cli_usage_error("convert", "unknown option");
			goto done;
		}
	}
	if (argc - optind != 2) {
		rc = cli_usage_error("convert", "expected IN and OUT");
		goto done;
	}
	const char *in = argv[optind], *outp = argv[optind + 1];
	if (cli_open_reader(&r, in, &rd))
		goto done;
	if (cl_writer_open(&w, outp, cl_reader_schema(r), &wo, &err)) {
		rc = cli_fail_err(&err);
		goto done;
	}
	cli_progress pr;
	cli_progress_start(&pr, &common, "convert");
	for (;;) {
		cl_batch *b;
		if (cl_reader_next(r, &b, &err) || (b && cl_writer_write(w, b, &err))) {
			cli_progress_done(&pr);
			rc = cli_fail_err(&err);
			goto done;
		}
		if (!b)
			break;
		cli_progress_update(&pr, cl_reader_rows(r), cl_reader_total_rows(r));
	}
	cli_progress_done(&pr);
	if (cl_writer_close(w, &err)) {
		rc = cli_fail_err(&err);
		goto done;
	}
	double secs = cli_now() - pr.start;
	if (common.json) {
		FILE *f = strcmp(outp, "-") ? stdout : stderr;
		fputs("{\"input\":", f);
		cli_json_string(f, in);
		fputs(",\"output\":", f);
		cli_json_string(f, outp);
		fprintf(f, ",\"format\":\"%s\",\"rows\":%lld,\"seconds\":%.3f}\n",
			cl_format_name(wo.format ? wo.format : cl_format_from_extension(outp)),
			(long long)cl_reader_rows(r), secs);
	} else if (!common.quiet && common.progress) {
		fprintf(stderr, "converted %lld rows in %.2fs\n", (long long)cl_reader_rows(r),
			secs);
	}
	rc = CLI_OK;
done:
	cl_writer_free(w);
	cl_reader_free(r);
	cli_read_release(&rd);
	return rc;
}
