/*
 * cmd_compact.c — `changelake compact TABLE [--small-bytes N]`: rewrite the
 * small files of each partition folder and bucket into fewer files.
 */
#include "cli.h"
#include "changelake/table.h"

#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
	fputs("Usage: changelake compact TABLE [--small-bytes N] [--json]\n"
	      "\n"
	      "Rewrite the small data files of a lake table into fewer, larger ones,\n"
	      "within each partition folder and key bucket, in one commit. The rows do\n"
	      "not change (the commit is marked dataChange=false); the old files stay\n"
	      "for time travel until `changelake vacuum` removes them.\n"
	      "\n"
	      "Options:\n"
	      "      --small-bytes N  files under N bytes are compacted (default: a\n"
	      "                       quarter of the table's target file size)\n"
	      "  -q, --quiet          no summary on stderr\n"
	      "      --json           print a JSON summary on stdout\n"
	      "  -h, --help           this help\n"
	      "\nExit status: 0 ok, 2 on any error.\n", f);
}

int cli_cmd_compact(int argc, char **argv)
{
	enum { OPT_SMALL = OPT_CMD_BASE };
	static const struct option longopts[] = {
		{"small-bytes", required_argument, 0, OPT_SMALL}, CLI_COMMON_LONGOPTS, {0, 0, 0, 0}};
	cli_common common;
	cli_common_init(&common);
	int64_t small = 0;
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
		if (cli_common_option(&common, opt))
			continue;
		if (opt == OPT_SMALL) {
			char *end;
			small = strtoll(optarg, &end, 10);
			if (*end || small <= 0)
				return cli_usage_error("compact", "bad --small-bytes '%s'", optarg);
		} else if (opt == 'q') {
			common.quiet = true;
		} else if (opt == OPT_HELP || opt == 'h') {
			usage(stdout);
			return CLI_OK;
		} else {
			return cli_usage_error("compact", "unknown option");
		}
	}
	if (argc - optind != 1)
		return cli_usage_error("compact", "expected one TABLE");
	cl_error err = {0};
	cl_table *t = NULL;
	cl_compact_result r;
	int64_t v;
	if (cl_table_open(&t, argv[optind], &err) || cl_table_compact(t, small, &r, &v, &err)) {
		cl_table_free(t);
		return cli_fail_err(&err);
	}
	if (v >= 0)
		cli_warn_checkpoint(&common, t, argv[optind], v);
	cl_table_free(t);
	if (common.json)
		printf("{\"version\":%lld,\"groups\":%lld,\"filesRemoved\":%lld,\"filesAdded\":%lld,"
		       "\"bytesRemoved\":%lld,\"bytesAdded\":%lld}\n", (long long)v,
		       (long long)r.groups, (long long)r.files_removed, (long long)r.files_added,
		       (long long)r.bytes_removed, (long long)r.bytes_added);
	else if (!common.quiet) {
		if (v < 0)
			fprintf(stderr, "compact: nothing to compact\n");
		else
			fprintf(stderr, "compact: version %lld: %lld files (%lld bytes) rewritten as "
				"%lld files (%lld bytes) in %lld groups\n", (long long)v,
				(long long)r.files_removed, (long long)r.bytes_removed,
				(long long)r.files_added, (long long)r.bytes_added, (long long)r.groups);
	}
	return CLI_OK;
}
