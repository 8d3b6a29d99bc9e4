/* cmd_merge.c — `changelake merge`: one DMS table folder into a lake table,
 * incrementally and exactly once (changelake/dms_merge.h does the work),
 * then auto-compaction of the table (cmd_compact.c) after a data commit. */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "changelake/dms_merge.h"

enum {
	OPT_SOURCE = OPT_CMD_BASE, OPT_TO, OPT_KEY, OPT_SEQUENCE, OPT_PARTITION,
	OPT_IGNORE_NULL, OPT_TSCOL, OPT_BUCKETS, OPT_TARGET, OPT_DV, OPT_AUTOC, OPT_NO_AUTOC,
	OPT_THREADS
};


static void usage(FILE *f)
{
	fputs("Usage: changelake merge --source dms:ROOT/SCHEMA/TABLE --to LAKE_TABLE\n"
	      "                        [--key COL[,COL...]] [options]\n"
	      "\n"
	      "Merges AWS DMS output (full-load files LOAD*.parquet|csv[.gz], CDC files\n"
	      "named by commit time) into a current-state lake table (Parquet under a\n"
	      "Delta Lake log), reading only the files the table has not consumed yet.\n"
	      "The last change per key wins (full load before every CDC change, then\n"
	      "--sequence-by, file and row); 'D' deletes; a change older than what the\n"
	      "table holds for its key is ignored, also for deleted keys. Each run is\n"
	      "one atomic commit that also records the consumed files: a rerun after a\n"
	      "crash gives exactly the table of a clean run. A new full load (a\n"
	      "restarted DMS task) rebuilds the table in one commit.\n"
	      "\n"
	      "Options:\n"
	      "  --source dms:DIR       the DMS folder of one table\n"
	      "  --to TABLE             the lake table (created on the first run)\n"
	      "  --key COL[,COL...]     key columns (none: append-only, with a warning)\n"
	      "  --sequence-by COL      column ordering changes before file and row\n"
	      "  --partition-by COL[:year|month|day|hour][,...]  new tables\n"
	      "  --buckets N            new tables: key-hash buckets per partition\n"
	      "  --target-file-size N   new tables: data file size in bytes\n"
	      "  --deletion-vectors     new tables: merge-on-read; changed and deleted\n"
	      "                         rows are marked deleted in deletion vectors\n"
	      "                         instead of their files rewritten (readers need\n"
	      "                         Delta reader version 3; an existing table:\n"
	      "                         changelake table enable-deletion-vectors)\n"
	      "  --auto-compact, --no-auto-compact\n"
	      "                         after the commit, compact the table's small files\n"
	      "                         and purge deletion vectors, or not, this run\n"
	      "                         (default: the table's auto-compact setting, see\n"
	      "                         changelake table auto-compact --help)\n"
	      "  --threads N            worker threads (default: the number of cores):\n"
	      "                         Parquet files are decoded and a load's files\n"
	      "                         encoded on N, a bucketed table's buckets are\n"
	      "                         rewritten N at a time (the table is the same\n"
	      "                         whatever N)\n"
	      "  --ignore-null-updates  a NULL in an update keeps the old value\n"
	      "  --timestamp-column COL the DMS TimestampColumnName\n"
	      "  --schema FILE          declared schema of a new table\n"
	      "  --columns A,B,...      column names of header-less CSV files\n"
	      "  --delimiter C, --null STR   CSV settings\n"
	      CLI_COMMON_HELP
	      "\nExit status: 0 ok (also when there was nothing new), 2 on any error\n"
	      "(the table is left as it was). Auto-compaction is a separate commit\n"
	      "after the data commit: when it fails the data commit stands, a\n"
	      "warning is printed and the exit status stays 0.\n", f);
}

/* mkdir -p of a local location (URLs are left to the store); 0 or -1. */
int cli_mkdirs(const char *path)
{
	if (strstr(path, "://"))
		return 0;
	char *p = strdup(path);
	if (!p)
		return -1;
	int rc = 0;
	for (char *s = p + 1; !rc; s++) {
		if (*s != '/' && *s)
			continue;
		char c = *s;
		*s = 0;
		if (mkdir(p, 0777) && errno != EEXIST)
			rc = -1;
		*s = c;
		if (!c)
			break;
	}
	free(p);
	return rc;
}

/* Split "a,b,c" in place into argv-like pointers; *n set. Owned array. */
static char **split(char *s, int *n)
{
	*n = 0;
	int cap = 1;
	for (char *p = s; *p; p++)
		cap += *p == ',';
	char **v = calloc((size_t)cap + 1, sizeof *v);
	if (!v)
		return NULL;
	for (char *tok = strtok(s, ","); tok; tok = strtok(NULL, ","))
		v[(*n)++] = tok;
	return v;
}

typedef struct progress_ctx {
	cli_progress pr;
	const char *last_file;
} progress_ctx;

static void on_progress(void *ctx, const cl_dms_merge_progress *p)
{
	progress_ctx *c = ctx;
	cli_progress_update(&c->pr, p->rows, -1);
}

void cli_merge_print_json(FILE *f, const char *table, const cl_dms_merge_result *r,
			  const cl_autocompact_result *ac)
{
	const cl_merge_stats *m = &r->merge;
	fputs("{\"table\": ", f);
	cli_json_string(f, table);
	fprintf(f, ", \"version\": %lld, \"created\": %s, \"rebuilt\": %s, "
		"\"files\": %lld, \"rows\": %lld, \"inserts\": %lld, \"updates\": %lld, "
		"\"deletes\": %lld, \"ignored\": %lld, \"stale\": %lld, \"keys\": %lld, "
		"\"rows_upserted\": %lld, \"rows_deleted\": %lld, \"rows_written\": %lld, "
		"\"files_added\": %lld, \"files_rewritten\": %lld, \"bytes_rewritten\": %lld, "
		"\"bytes_written\": %lld, \"files_deletion_vectors\": %lld, "
		"\"deletion_vector_bytes\": %lld, \"columns_added\": %d, \"skipped_names\": %d, "
		"\"changed_files\": %d, \"seconds\": %.3f, ",
		(long long)r->version, r->created ? "true" : "false",
		r->rebuilt ? "true" : "false", (long long)m->files, (long long)m->rows,
		(long long)m->inserts, (long long)m->updates, (long long)m->deletes,
		(long long)m->ignored, (long long)m->stale, (long long)m->keys,
		(long long)m->upserts_out, (long long)m->deletes_out, (long long)r->rows_written,
		(long long)r->files_added, (long long)r->cow.files_rewritten,
		(long long)r->cow.bytes_removed, (long long)r->bytes_written,
		(long long)r->cow.files_dv, (long long)r->cow.dv_bytes, r->columns_added,
		r->nskipped, r->nchanged, r->seconds);
	cli_autocompact_json(f, ac, false);
	fputs("}\n", f);
}

void cli_merge_print_summary(FILE *f, const char *table, const cl_dms_merge_result *r,
			     const cl_autocompact_result *ac)
{
	const cl_merge_stats *m = &r->merge;
	if (r->version < 0) {
		fprintf(f, "%s: nothing new\n", table);
		return;
	}
	fprintf(f, "%s: version %lld%s%s: %lld files, %lld changes (%lld I, %lld U, %lld D",
		table, (long long)r->version, r->created ? " (created)" : "",
		r->rebuilt ? " (rebuilt from a new full load)" : "", (long long)m->files,
		(long long)m->rows, (long long)m->inserts, (long long)m->updates,
		(long long)m->deletes);
	if (m->stale)
		fprintf(f, ", %lld older than the table's, ignored", (long long)m->stale);
	fprintf(f, ") -> %lld upserts, %lld deletes; %lld files rewritten", (long long)m->upserts_out,
		(long long)m->deletes_out, (long long)r->cow.files_rewritten);
	if (r->cow.files_dv)
		fprintf(f, ", %lld given deletion vectors", (long long)r->cow.files_dv);
	fprintf(f, ", %lld rows written in %.2fs\n", (long long)r->rows_written, r->seconds);
	if (m->ignored)
		fprintf(f, "%s: append-only table: %lld updates/deletes ignored\n", table,
			(long long)m->ignored);
	if (r->nchanged)
		fprintf(f, "%s: warning: %d consumed CDC files changed size; not read again\n",
			table, r->nchanged);
	if (r->nskipped)
		fprintf(f, "%s: note: %d names in the folder are not DMS data files\n", table,
			r->nskipped);
	cli_autocompact_summary(f, NULL, table, ac);
}

int cli_cmd_merge(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"source", required_argument, 0, OPT_SOURCE},
		{"to", required_argument, 0, OPT_TO},
		{"key", required_argument, 0, OPT_KEY},
		{"sequence-by", required_argument, 0, OPT_SEQUENCE},
		{"partition-by", required_argument, 0, OPT_PARTITION},
		{"ignore-null-updates", no_argument, 0, OPT_IGNORE_NULL},
		{"timestamp-column", required_argument, 0, OPT_TSCOL},
		{"buckets", required_argument, 0, OPT_BUCKETS},
		{"target-file-size", required_argument, 0, OPT_TARGET},
		{"deletion-vectors", no_argument, 0, OPT_DV},
		{"auto-compact", no_argument, 0, OPT_AUTOC},
		{"no-auto-compact", no_argument, 0, OPT_NO_AUTOC},
		{"threads", required_argument, 0, OPT_THREADS},
		CLI_READ_LONGOPTS,
		CLI_COMMON_LONGOPTS,
		{0, 0, 0, 0}};
	cli_common common;
	cli_common_init(&common);
	cli_read rd;
	cli_read_init(&rd);
	cl_dms_merge_options o;
	cl_dms_merge_options_init(&o);
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	o.threads = ncpu < 1 ? 1 : ncpu > 64 ? 64 : (int)ncpu;
	char *source = NULL, *to = NULL, *keys = NULL, *parts = NULL;
	char **kv = NULL, **pv = NULL;
	int rc = CLI_ERROR, opt, autoc = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
		switch (opt) {
		case OPT_SOURCE: source = optarg; break;
		case OPT_TO: to = optarg; break;
		case OPT_KEY: keys = optarg; break;
		case OPT_SEQUENCE: o.sequence_by = optarg; break;
		case OPT_PARTITION: parts = optarg; break;
		case OPT_IGNORE_NULL: o.ignore_null_updates = true; break;
		case OPT_DV: o.deletion_vectors = true; break;
		case OPT_AUTOC: autoc = 1; break;
		case OPT_NO_AUTOC: autoc = -1; break;
		case OPT_TSCOL: o.read.timestamp_column = optarg; break;
		case OPT_BUCKETS:
			o.buckets = atoi(optarg);
			if (o.buckets < 0 || o.buckets > 100000) {
				cli_usage_error("merge", "--buckets: 0..100000, not '%s'", optarg);
				goto out;
			}
			break;
		case OPT_THREADS: {
			char *end;
			long t = strtol(optarg, &end, 10);
			if (*end || end == optarg || t < 1 || t > 64) {
				cli_usage_error("merge", "--threads takes a number from 1 to 64, not '%s'",
						optarg);
				goto out;
			}
			o.threads = (int)t;
			break;
		}
		case OPT_TARGET:
			o.target_file_bytes = atoll(optarg);
			if (o.target_file_bytes <= 0) {
				cli_usage_error("merge", "--target-file-size: a byte count, not '%s'",
						optarg);
				goto out;
			}
			break;
		case 'h':
		case OPT_HELP: usage(stdout); rc = CLI_OK; goto out;
		case 'q': common.quiet = true; common.progress = false; break;
		default:
			if (cli_common_option(&common, opt))
				break;
			int r = cli_read_option(&rd, opt, optarg);
			if (r == 1)
				break;
			if (r == 0)
				cli_usage_error("merge", "unknown option");
			goto out;
		}
	}
	if (optind != argc) {
		cli_usage_error("merge", "unexpected argument '%s'", argv[optind]);
		goto out;
	}
	if (!source || !to) {
		cli_usage_error("merge", "--source dms:DIR and --to TABLE are required");
		goto out;
	}
	if (strncmp(source, "dms:", 4) != 0) {
		cli_usage_error("merge", "--source must be dms:DIR (the only source so far), "
				"not '%s'", source);
		goto out;
	}
	if (keys && (!(kv = split(keys, &o.nkeys)))) {
		cli_fail("out of memory");
		goto out;
	}
	if (parts && (!(pv = split(parts, &o.npartition_by)))) {
		cli_fail("out of memory");
		goto out;
	}
	o.keys = (const char *const *)kv;
	o.partition_by = (const char *const *)pv;
	o.schema = rd.schema;
	o.read.columns = (const char *const *)rd.columns;
	o.read.ncolumns = rd.ncolumns;
	if (rd.opts.delimiter)
		o.read.delimiter = rd.opts.delimiter;
	if (rd.opts.null_marker)
		o.read.null_marker = rd.opts.null_marker;
	if (rd.opts.header == 0 || rd.opts.header == 1)
		o.read.header = rd.opts.header;
	o.source_label = source;
	if (!o.nkeys && !common.quiet)
		fprintf(stderr, "changelake merge: warning: no --key: the table is append-only "
			"(updates and deletes are counted and dropped)\n");
	if (cli_mkdirs(to)) {
		cli_fail("cannot create %s: %s", to, strerror(errno));
		goto out;
	}
	progress_ctx pc = {0};
	cli_progress_start(&pc.pr, &common, "merge: reading changes");
	o.progress = on_progress;
	o.progress_ctx = &pc;
	cl_dms_merge_result res;
	cl_error err = {0};
	int r = cl_dms_merge_run(&res, source + 4, to, &o, &err);
	cli_progress_done(&pc.pr);
	if (r) {
		cli_fail_err(&err);
		goto out;
	}
	/* a separate commit; its failure is a warning, never the run's */
	cl_autocompact_result ac = {0};
	if (res.version >= 0)
		cli_autocompact_run(to, autoc, &ac);
	if (common.json) {
		cli_merge_print_json(stdout, to, &res, res.version >= 0 ? &ac : NULL);
		if (!common.quiet && res.version >= 0)
			cli_autocompact_warn(NULL, to, &ac);
	} else if (!common.quiet)
		cli_merge_print_summary(stderr, to, &res, res.version >= 0 ? &ac : NULL);
	cli_warn_checkpoint(&common, NULL, to, res.version);
	if (res.version >= 0 && ac.version >= 0)
		cli_warn_checkpoint(&common, NULL, to, ac.version);
	rc = CLI_OK;
out:
	free(kv);
	free(pv);
	cli_read_release(&rd);
	return rc;
}
