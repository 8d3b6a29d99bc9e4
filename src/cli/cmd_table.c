/*
 * cmd_table.c — `changelake table history|files|describe TABLE[@VERSION]`:
 * look inside a lake table's Delta log; enable-deletion-vectors and
 * auto-compact (settings, in cmd_compact.c) are dispatched from here.
 */
#include "cli.h"
#include "changelake/table.h"

#include <string.h>
#include <time.h>

static void usage(FILE *f)
{
	fputs("Usage: changelake table history TABLE [--json]\n"
	      "       changelake table files TABLE[@VERSION|@TIMESTAMP] [--json]\n"
	      "       changelake table describe TABLE[@VERSION|@TIMESTAMP] [--json]\n"
	      "       changelake table enable-deletion-vectors TABLE [--json]\n"
	      "       changelake table auto-compact TABLE on|off|default [--json]\n"
	      "\n"
	      "Look inside a lake table (Parquet files under a Delta Lake log):\n"
	      "  history    every commit: version, time, operation, files added/removed\n"
	      "  files      the live data files of a version with size, rows and\n"
	      "             partition values (tab-separated, one per line); when a\n"
	      "             file has a deletion vector, a 'deleted' column (rows the\n"
	      "             vector marks deleted, - for none) follows 'records'\n"
	      "  describe   version, protocol, schema, partitioning, configuration\n"
	      "  enable-deletion-vectors\n"
	      "             turn merge-on-read on (protocol upgrade to the Delta\n"
	      "             feature deletionVectors); nothing when it is on already\n"
	      "  auto-compact\n"
	      "             compact small files and purge deletion vectors after every\n"
	      "             merge, sync and apply (table property\n"
	      "             delta.autoOptimize.autoCompact; default: on with deletion\n"
	      "             vectors, off otherwise; see auto-compact --help)\n"
	      "\n"
	      "TABLE@12 opens version 12; TABLE@2024-05-01T10:00:00Z the version that\n"
	      "was current at that instant (UTC unless an offset is given).\n"
	      "\n"
	      "Options:\n"
	      "      --json           machine-readable output\n"
	      "  -h, --help           this help\n"
	      "\nExit status: 0 ok, 2 on any error.\n", f);
}

static void fmt_time(char *buf, size_t n, int64_t ms)
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&s, &tm);
	size_t k = strftime(buf, n, "%Y-%m-%d %H:%M:%S", &tm);
	snprintf(buf + k, n - k, ".%03dZ", (int)(ms % 1000));
}

static int open_snapshot(cl_table **t, cl_snapshot **s, const char *ref)
{
	cl_error err = {0};
	char *loc = NULL;
	cl_table_at at;
	*t = NULL;
	*s = NULL;
	if (cl_table_ref_parse(&loc, &at, ref, &err) || cl_table_open(t, loc, &err) ||
	    cl_table_snapshot(s, *t, &at, &err)) {
		cl_free(loc);
		cl_table_free(*t);
		*t = NULL;
		return cli_fail_err(&err);
	}
	cl_free(loc);
	return 0;
}

static int cmd_history(const char *ref, bool json)
{
	cl_error err = {0};
	cl_table *t = NULL;
	cl_table_commit *h = NULL;
	size_t n = 0;
	if (cl_table_open(&t, ref, &err) || cl_table_history(&h, &n, t, &err)) {
		cl_table_free(t);
		return cli_fail_err(&err);
	}
	if (json)
		fputs("[", stdout);
	else
		puts("version\ttimestamp\toperation\tadded\tremoved");
	for (size_t i = 0; i < n; i++) {
		char ts[40];
		fmt_time(ts, sizeof ts, h[i].timestamp_ms);
		if (json) {
			printf("%s{\"version\":%lld,\"timestamp\":%lld,\"operation\":", i ? "," : "",
			       (long long)h[i].version, (long long)h[i].timestamp_ms);
			if (h[i].operation)
				cli_json_string(stdout, h[i].operation);
			else
				fputs("null", stdout);
			printf(",\"added\":%lld,\"removed\":%lld,\"commitInfo\":%s}",
			       (long long)h[i].nadd, (long long)h[i].nremove,
			       h[i].commit_info_json ? h[i].commit_info_json : "null");
		} else {
			printf("%lld\t%s\t%s\t%lld\t%lld\n", (long long)h[i].version, ts,
			       h[i].operation ? h[i].operation : "-", (long long)h[i].nadd,
			       (long long)h[i].nremove);
		}
	}
	if (json)
		fputs("]\n", stdout);
	cl_table_history_free(h, n);
	cl_table_free(t);
	return CLI_OK;
}

static int cmd_files(const char *ref, bool json)
{
	cl_table *t;
	cl_snapshot *s;
	if (open_snapshot(&t, &s, ref))
		return CLI_ERROR;
	size_t n = cl_snapshot_nfiles(s);
	bool any_dv = false;
	for (size_t i = 0; i < n; i++)
		any_dv |= cl_snapshot_file(s, i)->dv != NULL;
	if (json)
		printf("{\"version\":%lld,\"files\":[", (long long)cl_snapshot_version(s));
	else
		puts(any_dv ? "path\tsize\trecords\tdeleted\tpartition"
			    : "path\tsize\trecords\tpartition");
	for (size_t i = 0; i < n; i++) {
		const cl_table_file *f = cl_snapshot_file(s, i);
		if (json) {
			fputs(i ? ",{\"path\":" : "{\"path\":", stdout);
			cli_json_string(stdout, f->path);
			printf(",\"size\":%lld,\"records\":", (long long)f->size);
			if (f->num_records >= 0)
				printf("%lld", (long long)f->num_records);
			else
				fputs("null", stdout);
			fputs(",\"partitionValues\":{", stdout);
			for (int j = 0; j < f->npartition; j++) {
				if (j)
					putchar(',');
				cli_json_string(stdout, f->partition[j].key);
				putchar(':');
				if (f->partition[j].value)
					cli_json_string(stdout, f->partition[j].value);
				else
					fputs("null", stdout);
			}
			putchar('}');
			if (f->dv) {
				const cl_table_dv *d = f->dv;
				char st[2] = {d->storage_type, 0};
				printf(",\"deletedRecords\":%lld,\"deletionVector\":{\"storageType\":",
				       (long long)d->cardinality);
				cli_json_string(stdout, st);
				fputs(",\"pathOrInlineDv\":", stdout);
				cli_json_string(stdout, d->path_or_inline);
				if (d->offset >= 0)
					printf(",\"offset\":%lld", (long long)d->offset);
				printf(",\"sizeInBytes\":%d,\"cardinality\":%lld}",
				       (int)d->size_in_bytes, (long long)d->cardinality);
			}
			putchar('}');
			continue;
		}
		printf("%s\t%lld\t", f->path, (long long)f->size);
		if (f->num_records >= 0)
			printf("%lld", (long long)f->num_records);
		else
			putchar('-');
		putchar('\t');
		if (any_dv) {
			if (f->dv)
				printf("%lld", (long long)f->dv->cardinality);
			else
				putchar('-');
			putchar('\t');
		}
		for (int j = 0; j < f->npartition; j++)
			printf("%s%s=%s", j ? "," : "", f->partition[j].key,
			       f->partition[j].value ? f->partition[j].value : "NULL");
		putchar('\n');
	}
	if (json)
		fputs("]}\n", stdout);
	cl_snapshot_free(s);
	cl_table_free(t);
	return CLI_OK;
}

static int cmd_describe(const char *ref, bool json)
{
	cl_table *t;
	cl_snapshot *s;
	if (open_snapshot(&t, &s, ref))
		return CLI_ERROR;
	int r, w;
	cl_snapshot_protocol(s, &r, &w);
	int64_t bytes = 0;
	for (size_t i = 0; i < cl_snapshot_nfiles(s); i++)
		bytes += cl_snapshot_file(s, i)->size;
	const cl_schema *sc = cl_snapshot_schema(s);
	char ts[40];
	fmt_time(ts, sizeof ts, cl_snapshot_timestamp(s));
	if (json) {
		printf("{\"version\":%lld,\"timestamp\":%lld,\"id\":", (long long)cl_snapshot_version(s),
		       (long long)cl_snapshot_timestamp(s));
		cli_json_string(stdout, cl_snapshot_table_id(s) ? cl_snapshot_table_id(s) : "");
		printf(",\"minReaderVersion\":%d,\"minWriterVersion\":%d,\"files\":%zu,\"bytes\":%lld,"
		       "\"records\":%lld,\"partitionColumns\":[", r, w, cl_snapshot_nfiles(s),
		       (long long)bytes, (long long)cl_snapshot_num_records(s));
		for (int i = 0; i < cl_snapshot_npartition_columns(s); i++) {
			if (i)
				putchar(',');
			cli_json_string(stdout, cl_snapshot_partition_column(s, i));
		}
		fputs("],\"configuration\":{", stdout);
		for (int i = 0; i < cl_snapshot_nconfig(s); i++) {
			cl_table_kv kv = cl_snapshot_config_at(s, i);
			if (i)
				putchar(',');
			cli_json_string(stdout, kv.key);
			putchar(':');
			cli_json_string(stdout, kv.value ? kv.value : "");
		}
		fputs("},\"schemaString\":", stdout);
		if (cl_snapshot_schema_string(s))
			cli_json_string(stdout, cl_snapshot_schema_string(s));
		else
			fputs("null", stdout);
		fputs("}\n", stdout);
	} else {
		printf("version: %lld\ncommitted: %s\nid: %s\nprotocol: reader %d, writer %d\n",
		       (long long)cl_snapshot_version(s), ts,
		       cl_snapshot_table_id(s) ? cl_snapshot_table_id(s) : "-", r, w);
		printf("files: %zu (%lld bytes)\nrecords: ", cl_snapshot_nfiles(s), (long long)bytes);
		if (cl_snapshot_num_records(s) >= 0)
			printf("%lld\n", (long long)cl_snapshot_num_records(s));
		else
			puts("unknown");
		fputs("partition columns:", stdout);
		for (int i = 0; i < cl_snapshot_npartition_columns(s); i++)
			printf("%s %s", i ? "," : "", cl_snapshot_partition_column(s, i));
		putchar('\n');
		puts("configuration:");
		for (int i = 0; i < cl_snapshot_nconfig(s); i++) {
			cl_table_kv kv = cl_snapshot_config_at(s, i);
			printf("  %s = %s\n", kv.key, kv.value ? kv.value : "");
		}
		puts("schema:");
		if (!sc) {
			printf("  (%s)\n", cl_snapshot_schema_string(s) ? cl_snapshot_schema_string(s)
								      : "none");
		} else {
			for (int i = 0; i < sc->nfields; i++) {
				char tn[64];
				cl_type_format(tn, sizeof tn, sc->fields[i].type);
				printf("  %s %s%s\n", sc->fields[i].name, tn,
				       sc->fields[i].nullable ? "" : " not null");
			}
		}
	}
	cl_snapshot_free(s);
	cl_table_free(t);
	return CLI_OK;
}

int cli_table_enable_dv(int argc, char **argv); /* cmd_compact.c */
int cli_table_autocompact(int argc, char **argv); /* cmd_compact.c */

int cli_cmd_table(int argc, char **argv)
{
	/* a subcommand with options of its own (dvwrite's, in cmd_compact.c) */
	if (argc >= 2 && !strcmp(argv[1], "enable-deletion-vectors"))
		return cli_table_enable_dv(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "auto-compact"))
		return cli_table_autocompact(argc - 1, argv + 1);
	static const struct option longopts[] = {
		{"json", no_argument, 0, OPT_JSON}, {"help", no_argument, 0, OPT_HELP}, {0, 0, 0, 0}};
	bool json = false;
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (opt == OPT_JSON) {
			json = true;
		} else if (opt == OPT_HELP || opt == 'h') {
			usage(stdout);
			return CLI_OK;
		} else {
			return cli_usage_error("table", "unknown option");
		}
	}
	if (argc - optind != 2)
		return cli_usage_error("table", "expected history|files|describe and a TABLE");
	const char *sub = argv[optind], *ref = argv[optind + 1];
	if (!strcmp(sub, "history"))
		return cmd_history(ref, json);
	if (!strcmp(sub, "files"))
		return cmd_files(ref, json);
	if (!strcmp(sub, "describe"))
		return cmd_describe(ref, json);
	return cli_usage_error("table", "unknown subcommand '%s' (history, files, describe)", sub);
}
