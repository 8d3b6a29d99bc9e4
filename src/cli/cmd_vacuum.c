/*
 * cmd_vacuum.c — `changelake vacuum TABLE [--retain 168h] [--dry-run]`:
 * delete data files that no version within the retention period needs.
 */
#include "cli.h"
#include "changelake/table.h"

#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
	fputs("Usage: changelake vacuum TABLE [--retain DURATION] [--dry-run] [--json]\n"
	      "\n"
	      "Delete the data files of a lake table that no version committed within\n"
	      "the retention period refers to: files removed from the table longer ago\n"
	      "than DURATION, and files left behind by crashed writers (once older than\n"
	      "DURATION). Files of the current version are never deleted, nor files of\n"
	      "any version that was current within the retention, so time travel to\n"
	      "those versions keeps working. The log (_delta_log) is never touched.\n"
	      "\n"
	      "Options:\n"
	      "      --retain D       retention: a number with a unit s, m, h or d\n"
	      "                       (default 168h, seven days)\n"
	      "  -n, --dry-run        list what would be deleted, delete nothing\n"
	      "  -q, --quiet          no summary on stderr\n"
	      "      --json           print a JSON summary on stdout\n"
	      "  -h, --help           this help\n"
	      "\nExit status: 0 ok, 2 on any error.\n", f);
}

/* "168h", "7d", "30m", "90s", "0" -> milliseconds; -1 when invalid. */
static int64_t parse_duration(const char *s)
{
	char *end;
	double v = strtod(s, &end);
	if (end == s || v < 0)
		return -1;
	double mult;
	if (!strcmp(end, "") && v == 0)
		return 0;
	if (!strcmp(end, "s"))
		mult = 1e3;
	else if (!strcmp(end, "m"))
		mult = 60e3;
	else if (!strcmp(end, "h"))
		mult = 3600e3;
	else if (!strcmp(end, "d"))
		mult = 86400e3;
	else
		return -1;
	double ms = v * mult;
	return ms > 9e18 ? -1 : (int64_t)ms;
}

int cli_cmd_vacuum(int argc, char **argv)
{
	enum { OPT_RETAIN = OPT_CMD_BASE, OPT_DRY };
	static const struct option longopts[] = {
		{"retain", required_argument, 0, OPT_RETAIN},
		{"dry-run", no_argument, 0, 'n'},
		CLI_COMMON_LONGOPTS,
		{0, 0, 0, 0}};
	cli_common common;
	cli_common_init(&common);
	int64_t retain = 168LL * 3600 * 1000;
	bool dry = false;
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "nqh", longopts, NULL)) != -1) {
		if (cli_common_option(&common, opt))
			continue;
		if (opt == OPT_RETAIN) {
			retain = parse_duration(optarg);
			if (retain < 0)
				return cli_usage_error("vacuum", "bad --retain '%s' (e.g. 168h, 7d, 30m)",
						       optarg);
		} else if (opt == 'n') {
			dry = true;
		} else if (opt == 'q') {
			common.quiet = true;
		} else if (opt == OPT_HELP || opt == 'h') {
			usage(stdout);
			return CLI_OK;
		} else {
			return cli_usage_error("vacuum", "unknown option");
		}
	}
	if (argc - optind != 1)
		return cli_usage_error("vacuum", "expected one TABLE");
	cl_error err = {0};
	cl_table *t = NULL;
	cl_vacuum_result res;
	cl_store_list deleted = {0};
	if (cl_table_open(&t, argv[optind], &err) ||
	    cl_table_vacuum(t, retain, dry, &res, &deleted, &err)) {
		cl_table_free(t);
		cl_store_list_release(&deleted);
		return cli_fail_err(&err);
	}
	if (common.json) {
		printf("{\"dryRun\":%s,\"filesDeleted\":%lld,\"bytesDeleted\":%lld,"
		       "\"filesKept\":%lld,\"files\":[", dry ? "true" : "false",
		       (long long)res.files_deleted, (long long)res.bytes_deleted,
		       (long long)res.files_kept);
		for (size_t i = 0; i < deleted.n; i++) {
			if (i)
				putchar(',');
			cli_json_string(stdout, deleted.items[i].key);
		}
		fputs("]}\n", stdout);
	} else if (dry) {
		for (size_t i = 0; i < deleted.n; i++)
			puts(deleted.items[i].key);
	}
	if (!common.quiet && !common.json)
		fprintf(stderr, "vacuum: %s %lld files (%lld bytes); %lld unreferenced files "
			"are younger than the retention\n", dry ? "would delete" : "deleted",
			(long long)res.files_deleted, (long long)res.bytes_deleted,
			(long long)res.files_kept);
	cl_store_list_release(&deleted);
	cl_table_free(t);
	return CLI_OK;
}
