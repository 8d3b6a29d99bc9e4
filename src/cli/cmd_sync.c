/* cmd_sync.c — `changelake sync ROOT --lake LAKE`: every active table of a
 * DMS root merged into the lake (cl_dms_sync_run), once or every INTERVAL. */
#include "cli.h"

#include <malloc.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "changelake/dms_merge.h"

enum { OPT_LAKE = OPT_CMD_BASE, OPT_STATE, OPT_WATCH, OPT_THREADS, OPT_AUTOC, OPT_NO_AUTOC };

/* cmd_merge.c, cmd_compact.c */
void cli_merge_print_json(FILE *f, const char *table, const cl_dms_merge_result *r,
			  const cl_autocompact_result *ac);
void cli_merge_print_summary(FILE *f, const char *table, const cl_dms_merge_result *r,
			     const cl_autocompact_result *ac);

static void usage(FILE *f)
{
	fputs("Usage: changelake sync ROOT --lake LAKE [--watch SECONDS] [--threads N]\n"
	      "\n"
	      "Lists ROOT/<schema>/<table>/ (the AWS DMS S3-target layout), registers\n"
	      "new tables as inactive, and merges every active table into\n"
	      "LAKE/<schema>/<table> with the settings of `changelake tables set`:\n"
	      "the initial load, a rebuild when a new full load appears, then every\n"
	      "CDC file not consumed yet (see `changelake merge --help`). Tables run\n"
	      "several at once; one failing table does not stop the others: its error\n"
	      "is in `changelake tables show` and in the exit status.\n"
	      "\n"
	      "Options:\n"
	      "  --lake LAKE        the lake folder\n"
	      "  --state PATH|URL   the state database (default LAKE/_changelake/state.db);\n"
	      "                     a postgresql://USER@HOST/DB URL (or libpq keywords,\n"
	      "                     'host=... dbname=...') keeps it in PostgreSQL,\n"
	      "                     shared by several machines (tables in the first\n"
	      "                     schema of the search_path: ?options=-csearch_path%3DS)\n"
	      "  --watch SECONDS    keep syncing, one pass every SECONDS (stop: Ctrl-C)\n"
	      "  --threads N        threads in all (default: the number of cores): up\n"
	      "                     to N tables merged at once, the N threads shared\n"
	      "                     out among them (a table merged alone rewrites its\n"
	      "                     buckets on all N, see merge --threads)\n"
	      "  --auto-compact, --no-auto-compact\n"
	      "                     after a table's commit, compact its small files and\n"
	      "                     purge deletion vectors, or not, this pass (default:\n"
	      "                     each table's setting, see changelake table\n"
	      "                     auto-compact --help)\n"
	      CLI_COMMON_HELP
	      "\nExit status: 0 every table ok, 2 when a table (or the pass) failed.\n"
	      "A failed auto-compaction is a warning: the table's data commit stands.\n", f);
}

typedef struct ctx {
	cli_common *common;
	bool first_json;
	const char *lake;
} ctx;

static void on_table(void *p, const cl_dms_sync_table *t)
{
	ctx *c = p;
	if (c->common->json) {
		if (t->rc) {
			fputs("{\"table\": ", stdout);
			cli_json_string(stdout, t->name);
			fputs(", \"error\": ", stdout);
			cli_json_string(stdout, t->err->message);
			fputs("}\n", stdout);
		} else {
			cli_merge_print_json(stdout, t->name, t->res, t->auto_compaction);
			if (!c->common->quiet)
				cli_autocompact_warn("changelake sync", t->name, t->auto_compaction);
		}
		fflush(stdout);
	} else if (t->rc) {
		fprintf(stderr, "changelake sync: %s: %s\n", t->name, t->err->message);
	} else if (!c->common->quiet) {
		cli_merge_print_summary(stderr, t->name, t->res, t->auto_compaction);
	}
	if (!t->rc && t->res->version >= 0) {
		size_t n = strlen(c->lake) + strlen(t->name) + 2;
		char *loc = malloc(n);
		if (loc) {
			snprintf(loc, n, "%s/%s", c->lake, t->name);
			cli_warn_checkpoint(c->common, NULL, loc, t->res->version);
			if (t->auto_compaction && t->auto_compaction->version >= 0)
				cli_warn_checkpoint(c->common, NULL, loc,
						    t->auto_compaction->version);
		}
		free(loc);
	}
}

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int cli_cmd_sync(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"lake", required_argument, 0, OPT_LAKE},
		{"state", required_argument, 0, OPT_STATE},
		{"watch", required_argument, 0, OPT_WATCH},
		{"threads", required_argument, 0, OPT_THREADS},
		{"auto-compact", no_argument, 0, OPT_AUTOC},
		{"no-auto-compact", no_argument, 0, OPT_NO_AUTOC},
		CLI_COMMON_LONGOPTS,
		{0, 0, 0, 0}};
	cli_common common;
	cli_common_init(&common);
	const char *lake = NULL;
	cl_dms_sync_options o = {0};
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	o.threads = ncpu < 1 ? 1 : ncpu > 64 ? 64 : (int)ncpu;
	double watch = 0;
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
		switch (opt) {
		case OPT_LAKE: lake = optarg; break;
		case OPT_STATE: o.state_path = optarg; break;
		case OPT_AUTOC: o.auto_compact = 1; break;
		case OPT_NO_AUTOC: o.auto_compact = -1; break;
		case OPT_WATCH: {
			char *end;
			watch = strtod(optarg, &end);
			if (*end || !(watch > 0) || watch > 86400 * 7)
				return cli_usage_error("sync", "--watch: seconds, not '%s'", optarg);
			break;
		}
		case OPT_THREADS: {
			char *end;
			long t = strtol(optarg, &end, 10);
			if (*end || end == optarg || t < 1 || t > 64)
				return cli_usage_error("sync", "--threads: 1..64, not '%s'", optarg);
			o.threads = (int)t;
			break;
		}
		case 'h':
		case OPT_HELP: usage(stdout); return CLI_OK;
		case 'q': common.quiet = true; common.progress = false; break;
		default:
			if (cli_common_option(&common, opt))
				break;
			return cli_usage_error("sync", "unknown option");
		}
	}
	if (optind + 1 != argc)
		return cli_usage_error("sync", "one ROOT folder is needed");
	if (!lake)
		return cli_usage_error("sync", "--lake LAKE is required");
	const char *root = argv[optind];
	ctx c = {&common, true, lake};
	o.on_table = on_table;
	o.ctx = &c;
	if (watch > 0) {
		signal(SIGINT, on_signal);
		signal(SIGTERM, on_signal);
	}
	int rc = CLI_OK;
	for (;;) {
		cl_dms_sync_result res;
		cl_error err = {0};
		if (cl_dms_sync_run(&res, root, lake, &o, &err)) {
			cli_fail_err(&err);
			rc = CLI_ERROR;
		} else {
			if (res.failed)
				rc = CLI_ERROR;
			if (!common.quiet && !common.json) {
				fprintf(stderr, "sync: %d tables under %s", res.tables, root);
				if (res.registered)
					fprintf(stderr, " (%d new, registered inactive: "
						"changelake tables set T --lake %s --key ... --active)",
						res.registered, lake);
				fprintf(stderr, "; %d active: %d merged, %d nothing new, %d failed\n",
					res.active, res.ok, res.nothing, res.failed);
			}
		}
		if (watch <= 0 || stop)
			break;
		/* the allocator keeps freed memory within a run (main.c); between
		 * passes a watching process gives it back */
		malloc_trim(0);
		for (double slept = 0; slept < watch && !stop; slept += 0.1)
			usleep(100000);
		if (stop)
			break;
	}
	return rc;
}
