/*
 * cmd_compact.c — `changelake compact TABLE [--small-bytes N] [--purge]`:
 * rewrite the small files of each partition folder and bucket into fewer
 * files, and files with deletion vectors without their deleted rows. Also
 * `changelake table enable-deletion-vectors TABLE` (cli_table_enable_dv,
 * dispatched from cmd_table.c): the protocol upgrade to merge-on-read;
 * `changelake table auto-compact TABLE on|off|default` (cli_table_autocompact);
 * and the auto-compaction step merge, sync and apply run after their data
 * commit (cli_autocompact_*), with its JSON object and summary line.
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

/* ---- auto-compaction after a data commit (merge, sync, apply) ---------- */

/*
 * Auto-compaction of the table at `location` after its data commit
 * (mode: 1 on, -1 off, 0 the table's setting). Fills *r; an error is
 * only in *r (cli_autocompact_summary prints it as a warning) and never
 * the command's failure: the data commit stands. The caller warns about a
 * missing checkpoint of r->version (cli_warn_checkpoint) after its summary.
 */
void cli_autocompact_run(const char *location, int mode, cl_autocompact_result *r)
{
	cl_error err = {0};
	cl_table *t = NULL;
	int rc = cl_table_open(&t, location, &err);
	if (rc) {
		memset(r, 0, sizeof *r);
		r->version = -1;
		r->skipped = "error";
		snprintf(r->message, sizeof r->message, "%s", err.message);
	} else {
		cl_table_autocompact(t, mode, r, &err);
	}
	cl_table_free(t);
}

/*
 * The `"auto_compaction": {...}` member of a --json summary (r NULL: no
 * data commit, so none ran: null): when it compacted, the version and
 * what it rewrote; otherwise version null and why not (and the conflict or
 * error text). compact: no blanks after ':' and ',' (apply's style).
 */
void cli_autocompact_json(FILE *f, const cl_autocompact_result *r, bool compact)
{
	const char *c = compact ? ":" : ": ", *s = compact ? "," : ", ";
	fprintf(f, "\"auto_compaction\"%s", c);
	if (!r) {
		fputs("null", f);
		return;
	}
	fprintf(f, "{\"enabled\"%s%s%s\"version\"%s", c, r->enabled ? "true" : "false", s, c);
	if (r->version < 0) {
		fprintf(f, "null%s\"skipped\"%s", s, c);
		cli_json_string(f, r->skipped ? r->skipped : "");
		if (r->message[0]) {
			fprintf(f, "%s\"message\"%s", s, c);
			cli_json_string(f, r->message);
		}
		fputc('}', f);
		return;
	}
	const cl_compact_result *k = &r->compact;
	fprintf(f, "%lld%s\"scopes\"%s%lld%s\"files_compacted\"%s%lld%s\"files_written\"%s%lld%s"
		"\"bytes_compacted\"%s%lld%s\"bytes_written\"%s%lld%s"
		"\"deletion_vectors_purged\"%s%lld%s\"rows_purged\"%s%lld}",
		(long long)r->version, s, c, (long long)k->groups, s, c, (long long)k->files_removed,
		s, c, (long long)k->files_added, s, c, (long long)k->bytes_removed, s, c,
		(long long)k->bytes_added, s, c, (long long)k->files_purged, s, c,
		(long long)k->rows_purged);
}

/* The summary line, "PROG: TABLE: auto-compaction..." (prog may be NULL):
 * printed when it compacted, hit a conflict or failed (a table it is off
 * for, or with nothing to do, prints nothing). */
void cli_autocompact_summary(FILE *f, const char *prog, const char *table,
			     const cl_autocompact_result *r)
{
	if (!r)
		return;
	const cl_compact_result *k = &r->compact;
	const char *sep = prog ? ": " : "";
	prog = prog ? prog : "";
	if (r->version >= 0) {
		fprintf(f, "%s%s%s: auto-compaction: version %lld: %lld files rewritten as %lld "
			"in %lld scopes", prog, sep, table, (long long)r->version,
			(long long)k->files_removed, (long long)k->files_added,
			(long long)k->groups);
		if (k->files_purged)
			fprintf(f, ", %lld deletion vectors purged (%lld rows)",
				(long long)k->files_purged, (long long)k->rows_purged);
		fputc('\n', f);
	} else if (r->skipped && !strcmp(r->skipped, "conflict")) {
		fprintf(f, "%s%s%s: auto-compaction skipped: a concurrent commit touched the "
			"same files (the data commit stands)\n", prog, sep, table);
	} else if (r->skipped && !strcmp(r->skipped, "error")) {
		fprintf(f, "%s%s%s: warning: auto-compaction failed: %s (the data commit "
			"stands)\n", prog, sep, table, r->message);
	}
}

/* With --json (no summary on stderr): the failure warning alone. */
void cli_autocompact_warn(const char *prog, const char *table, const cl_autocompact_result *r)
{
	if (r && r->skipped && !strcmp(r->skipped, "error"))
		cli_autocompact_summary(stderr, prog, table, r);
}

/*
 * `changelake table auto-compact TABLE on|off|default [--json] [-q]`:
 * argv[0] is "auto-compact". Sets (or, default, removes) the property
 * delta.autoOptimize.autoCompact.
 */
int cli_table_autocompact(int argc, char **argv);
int cli_table_autocompact(int argc, char **argv)
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
			fputs("Usage: changelake table auto-compact TABLE on|off|default [--json]\n"
			      "\n"
			      "Set the table property delta.autoOptimize.autoCompact (true or\n"
			      "false; default removes it). With it on, every merge, sync and\n"
			      "apply --to TABLE that commits data then compacts, in a commit of\n"
			      "its own, each partition folder and bucket holding 8 or more small\n"
			      "files (under a quarter of the target file size) and purges files\n"
			      "whose deletion vector deletes more than 10% of their rows. Without\n"
			      "the property it is on for tables with deletion vectors\n"
			      "(merge-on-read) and off otherwise. --auto-compact and\n"
			      "--no-auto-compact on merge, sync and apply override it for a run.\n"
			      "\nExit status: 0 ok (also when already so), 2 on any error.\n", stdout);
			return CLI_OK;
		} else {
			return cli_usage_error("table", "unknown option");
		}
	}
	if (argc - optind != 2)
		return cli_usage_error("table", "auto-compact: expected TABLE and on, off or "
				       "default");
	const char *table = argv[optind], *how = argv[optind + 1], *value;
	if (!strcmp(how, "on"))
		value = "true";
	else if (!strcmp(how, "off"))
		value = "false";
	else if (!strcmp(how, "default"))
		value = NULL;
	else
		return cli_usage_error("table", "auto-compact: on, off or default, not '%s'", how);
	cl_error err = {0};
	cl_table *t = NULL;
	cl_snapshot *s = NULL;
	int64_t v = -1;
	if (cl_table_open(&t, table, &err) ||
	    cl_table_set_property(t, CL_TABLE_CONF_AUTO_COMPACT, value, &v, &err) ||
	    cl_table_snapshot(&s, t, NULL, &err)) {
		cl_table_free(t);
		return cli_fail_err(&err);
	}
	bool on = cl_table_autocompact_enabled(s);
	cl_snapshot_free(s);
	if (v >= 0)
		cli_warn_checkpoint(&common, t, table, v);
	cl_table_free(t);
	if (common.json) {
		fputs("{\"version\":", stdout);
		if (v >= 0)
			printf("%lld", (long long)v);
		else
			fputs("null", stdout);
		printf(",\"changed\":%s,\"auto_compact\":%s,\"property\":", v >= 0 ? "true" : "false",
		       on ? "true" : "false");
		if (value)
			cli_json_string(stdout, value);
		else
			fputs("null", stdout);
		fputs("}\n", stdout);
	} else if (!common.quiet) {
		fprintf(stderr, "%s: auto-compaction %s%s", table, on ? "on" : "off",
			value ? "" : " (the default for this table)");
		if (v >= 0)
			fprintf(stderr, " (version %lld)\n", (long long)v);
		else
			fputs(" (unchanged)\n", stderr);
	}
	return CLI_OK;
}
