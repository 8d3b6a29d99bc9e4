/*
 * cmd_compact.c — `changelake compact TABLE [--small-bytes N] [--purge]`:
 * rewrite the small files of each partition folder and bucket into fewer
 * files, and files with deletion vectors without their deleted rows. Also
 * `changelake table enable-deletion-vectors TABLE` (cli_table_enable_dv,
 * dispatched from cmd_table.c): the protocol upgrade to merge-on-read.
 */
#include "cli.h"
#include "changelake/table.h"

#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
	fputs("Usage: changelake compact TABLE [--small-bytes N] [--purge] [--json]\n"
	      "\n"
	      "Rewrite the small data files of a lake table into fewer, larger ones,\n"
	      "within each partition folder and key bucket, in one commit. The rows do\n"
	      "not change (the commit is marked dataChange=false); the old files stay\n"
	      "for time travel until `changelake vacuum` removes them. Files with a\n"
	      "deletion vector (merge-on-read tables) that deletes more than 10% of\n"
	      "their rows are rewritten without the deleted rows.\n"
	      "\n"
	      "Options:\n"
	      "      --small-bytes N  files under N bytes are compacted (default: a\n"
	      "                       quarter of the table's target file size)\n"
	      "      --purge          rewrite every file with a deletion vector: after\n"
	      "                       it no live file has one\n"
	      "  -q, --quiet          no summary on stderr\n"
	      "      --json           print a JSON summary on stdout\n"
	      "  -h, --help           this help\n"
	      "\nExit status: 0 ok, 2 on any error.\n", f);
}

int cli_cmd_compact(int argc, char **argv)
{
	enum { OPT_SMALL = OPT_CMD_BASE, OPT_PURGE };
	static const struct option longopts[] = {
		{"small-bytes", required_argument, 0, OPT_SMALL},
		{"purge", no_argument, 0, OPT_PURGE}, CLI_COMMON_LONGOPTS, {0, 0, 0, 0}};
	cli_common common;
	cli_common_init(&common);
	int64_t small = 0;
	bool purge = false;
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
		} else if (opt == OPT_PURGE) {
			purge = true;
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
	cl_compact_options co = {0};
	co.small_bytes = small;
	co.purge = purge;
	int64_t v;
	if (cl_table_open(&t, argv[optind], &err) ||
	    cl_table_compact_opts(t, &co, &r, &v, &err)) {
		cl_table_free(t);
		return cli_fail_err(&err);
	}
	if (v >= 0)
		cli_warn_checkpoint(&common, t, argv[optind], v);
	cl_table_free(t);
	if (common.json)
		printf("{\"version\":%lld,\"groups\":%lld,\"filesRemoved\":%lld,\"filesAdded\":%lld,"
		       "\"bytesRemoved\":%lld,\"bytesAdded\":%lld,\"filesPurged\":%lld,"
		       "\"rowsPurged\":%lld}\n", (long long)v,
		       (long long)r.groups, (long long)r.files_removed, (long long)r.files_added,
		       (long long)r.bytes_removed, (long long)r.bytes_added,
		       (long long)r.files_purged, (long long)r.rows_purged);
	else if (!common.quiet) {
		if (v < 0)
			fprintf(stderr, "compact: nothing to compact\n");
		else
			fprintf(stderr, "compact: version %lld: %lld files (%lld bytes) rewritten as "
				"%lld files (%lld bytes) in %lld groups\n", (long long)v,
				(long long)r.files_removed, (long long)r.bytes_removed,
				(long long)r.files_added, (long long)r.bytes_added, (long long)r.groups);
		if (v >= 0 && r.files_purged)
			fprintf(stderr, "compact: %lld deleted rows of %lld files with deletion "
				"vectors purged\n", (long long)r.rows_purged, (long long)r.files_purged);
	}
	return CLI_OK;
}

/*
 * `changelake table enable-deletion-vectors TABLE [--json] [-q]`: argv[0]
 * is "enable-deletion-vectors".
 */
int cli_table_enable_dv(int argc, char **argv)
{
	static const struct option longopts[] = {CLI_COMMON_LONGOPTS, {0, 0, 0, 0}};
	cli_common common;
	cli_common_init(&common);
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
		if (cli_common_option(&common, opt))
			continue;
		if (opt == 'q') {
			common.quiet = true;
		} else if (opt == OPT_HELP || opt == 'h') {
			fputs("Usage: changelake table enable-deletion-vectors TABLE [--json]\n"
			      "\n"
			      "Turn merge-on-read on: one commit upgrading the table's protocol to\n"
			      "reader 3 / writer 7 with the feature deletionVectors and setting\n"
			      "delta.enableDeletionVectors=true. Later upserts and deletes mark the\n"
			      "old rows deleted in deletion vectors instead of rewriting their\n"
			      "files; `changelake compact --purge` rewrites them away. Readers must\n"
			      "support deletion vectors (Delta reader version 3).\n"
			      "\nExit status: 0 ok (also when already on), 2 on any error.\n", stdout);
			return CLI_OK;
		} else {
			return cli_usage_error("table", "unknown option");
		}
	}
	if (argc - optind != 1)
		return cli_usage_error("table", "enable-deletion-vectors: expected one TABLE");
	cl_error err = {0};
	cl_table *t = NULL;
	int64_t v = -1;
	if (cl_table_open(&t, argv[optind], &err) ||
	    cl_table_enable_deletion_vectors(t, &v, &err)) {
		cl_table_free(t);
		return cli_fail_err(&err);
	}
	if (v >= 0)
		cli_warn_checkpoint(&common, t, argv[optind], v);
	cl_table_free(t);
	if (common.json)
		printf("{\"version\":%lld,\"already_enabled\":%s}\n", (long long)v,
		       v < 0 ? "true" : "false");
	else if (!common.quiet)
		fprintf(stderr, v < 0 ? "%s: deletion vectors already enabled\n"
				      : "%s: deletion vectors enabled (version %lld)\n",
			argv[optind], (long long)v);
	return CLI_OK;
}
