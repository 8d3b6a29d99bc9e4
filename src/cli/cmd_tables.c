/* cmd_tables.c — `changelake tables list|show|set`: sync's per-table
 * configuration and run history (changelake/state.h). */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#include "changelake/state.h"

enum {
	OPT_LAKE = OPT_CMD_BASE, OPT_STATE, OPT_KEY, OPT_PARTITION, OPT_SEQUENCE,
	OPT_TSCOL, OPT_ACTIVE, OPT_INACTIVE, OPT_IGNORE_NULL, OPT_NO_IGNORE_NULL,
	OPT_RUNS, OPT_TSCHEMA, OPT_TCOLUMNS, OPT_DV, OPT_NO_DV
};

static void usage(FILE *f)
{
	fputs("Usage: changelake tables list --lake LAKE [--json]\n"
	      "       changelake tables show TABLE --lake LAKE [--runs N] [--json]\n"
	      "       changelake tables set TABLE --lake LAKE [settings]\n"
	      "\n"
	      "The tables `changelake sync` knows, their configuration and run history,\n"
	      "kept in LAKE/_changelake/state.db (or in PostgreSQL, --state URL). TABLE\n"
	      "is \"schema/table\" as under the DMS root. `sync` registers new tables\n"
	      "as inactive; activate them with `tables set TABLE --active` (set\n"
	      "registers an unknown table).\n"
	      "\n"
	      "Options:\n"
	      "  --lake LAKE             the lake folder (tables live in LAKE/schema/table)\n"
	      "  --state PATH|URL        the state database (default\n"
	      "                          LAKE/_changelake/state.db); a postgresql:// URL\n"
	      "                          or libpq keywords keep it in PostgreSQL (see\n"
	      "                          sync --help)\n"
	      "  --runs N                show: the last N runs (default 10), each with\n"
	      "                          its counts, lake version and the auto-compaction\n"
	      "                          that followed it (COMPACTED: @VERSION: files\n"
	      "                          removed->added, or conflict/error)\n"
	      "Settings (set; an empty value clears one):\n"
	      "  --key COL[,COL...]      key columns (none: the table is append-only)\n"
	      "  --partition-by COL[:year|month|day|hour][,...]\n"
	      "  --sequence-by COL       column that orders changes before file and row\n"
	      "  --schema FILE           declared schema, one \"name type\" per line\n"
	      "  --columns A,B,...       column names of header-less CSV files\n"
	      "  --timestamp-column COL  the DMS TimestampColumnName\n"
	      "  --ignore-null-updates, --no-ignore-null-updates\n"
	      "  --deletion-vectors, --no-deletion-vectors\n"
	      "                          whether sync creates the lake table with deletion\n"
	      "                          vectors (merge-on-read; see `changelake merge`)\n"
	      "  --active, --inactive    whether sync processes the table\n"
	      CLI_COMMON_HELP
	      "\nExit status: 0 ok, 2 on any error.\n", f);
}

static const char *or_dash(const char *s)
{
	return s && *s ? s : "-";
}

static void json_field(FILE *f, const char *name, const char *v, bool comma)
{
	fprintf(f, "%s\"%s\": ", comma ? ", " : "", name);
	if (v)
		cli_json_string(f, v);
	else
		fputs("null", f);
}

static void print_table_json(FILE *f, const cl_state_table *t)
{
	fputc('{', f);
	json_field(f, "name", t->name, false);
	json_field(f, "keys", t->keys, true);
	json_field(f, "partition_by", t->partition_by, true);
	json_field(f, "sequence_by", t->sequence_by, true);
	json_field(f, "schema", t->schema, true);
	json_field(f, "columns", t->columns, true);
	json_field(f, "timestamp_column", t->timestamp_column, true);
	fprintf(f, ", \"ignore_null_updates\": %s, \"deletion_vectors\": %s, \"active\": %s",
		t->ignore_null_updates ? "true" : "false", t->deletion_vectors ? "true" : "false",
		t->active ? "true" : "false");
	json_field(f, "created_at", t->created_at, true);
	json_field(f, "updated_at", t->updated_at, true);
	json_field(f, "last_run_at", t->last_run_at, true);
	json_field(f, "last_error", t->last_error, true);
	fputc('}', f);
}

static void print_run_json(FILE *f, const cl_state_run *r)
{
	fprintf(f, "{\"id\": %lld", (long long)r->id);
	json_field(f, "started_at", r->started_at, true);
	json_field(f, "status", r->status, true);
	fprintf(f, ", \"duration_ms\": %lld, \"files\": %lld, \"rows\": %lld, "
		"\"inserts\": %lld, \"updates\": %lld, \"deletes\": %lld, "
		"\"ignored\": %lld, \"stale\": %lld, \"lake_version\": ",
		(long long)r->duration_ms, (long long)r->files, (long long)r->rows,
		(long long)r->inserts, (long long)r->updates, (long long)r->deletes,
		(long long)r->ignored, (long long)r->stale);
	if (r->lake_version >= 0)
		fprintf(f, "%lld", (long long)r->lake_version);
	else
		fputs("null", f);
	json_field(f, "error", r->error, true);
	fputs(", \"auto_compaction\": ", f);
	if (r->compacted)
		fprintf(f, "{\"version\": %lld, \"files_removed\": %lld, \"files_added\": %lld}",
			(long long)r->compact_version, (long long)r->compact_removed,
			(long long)r->compact_added);
	else if (r->compact_note) {
		fputc('{', f);
		json_field(f, "note", r->compact_note, false);
		fputc('}', f);
	} else
		fputs("null", f);
	fputc('}', f);
}

/* Read a whole small file (a schema) into an owned string. */
static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = NULL;
	size_t n = 0, cap = 0;
	int c;
	while ((c = fgetc(f)) != EOF) {
		if (n + 2 > cap) {
			cap = cap ? cap * 2 : 256;
			char *b = realloc(buf, cap);
			if (!b) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = b;
		}
		buf[n++] = (char)c;
	}
	fclose(f);
	if (!buf)
		buf = calloc(1, 1);
	else
		buf[n] = 0;
	return buf;
}

int cli_cmd_tables(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"lake", required_argument, 0, OPT_LAKE},
		{"state", required_argument, 0, OPT_STATE},
		{"key", required_argument, 0, OPT_KEY},
		{"partition-by", required_argument, 0, OPT_PARTITION},
		{"sequence-by", required_argument, 0, OPT_SEQUENCE},
		{"schema", required_argument, 0, OPT_TSCHEMA},
		{"columns", required_argument, 0, OPT_TCOLUMNS},
		{"timestamp-column", required_argument, 0, OPT_TSCOL},
		{"active", no_argument, 0, OPT_ACTIVE},
		{"inactive", no_argument, 0, OPT_INACTIVE},
		{"ignore-null-updates", no_argument, 0, OPT_IGNORE_NULL},
		{"no-ignore-null-updates", no_argument, 0, OPT_NO_IGNORE_NULL},
		{"deletion-vectors", no_argument, 0, OPT_DV},
		{"no-deletion-vectors", no_argument, 0, OPT_NO_DV},
		{"runs", required_argument, 0, OPT_RUNS},
		CLI_COMMON_LONGOPTS, {0, 0, 0, 0}};
	cli_common common;
	cli_common_init(&common);
	const char *lake = NULL, *state_path = NULL;
	char *schema_text = NULL, *db_path = NULL;
	cl_state_table_set set = {0};
	bool any_setting = false;
	int runs = 10, rc = CLI_ERROR, opt;
	cl_state *st = NULL;
	cl_error err = {0};
	optind = 1;
	while ((opt = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
		if (cli_common_option(&common, opt))
			continue;
		switch (opt) {
		case OPT_LAKE: lake = optarg; break;
		case OPT_STATE: state_path = optarg; break;
		case OPT_KEY: set.keys = optarg; any_setting = true; break;
		case OPT_PARTITION: set.partition_by = optarg; any_setting = true; break;
		case OPT_SEQUENCE: set.sequence_by = optarg; any_setting = true; break;
		case OPT_TCOLUMNS: set.columns = optarg; any_setting = true; break;
		case OPT_TSCOL: set.timestamp_column = optarg; any_setting = true; break;
		case OPT_TSCHEMA: {
			free(schema_text);
			schema_text = NULL;
			if (*optarg) {
				cl_schema *s;
				if (cl_schema_load(&s, optarg, &err)) {
					rc = cli_fail_err(&err);
					goto done;
				}
				cl_schema_free(s);
				if (!(schema_text = slurp(optarg))) {
					rc = cli_fail("%s: cannot read", optarg);
					goto done;
				}
			}
			set.schema = schema_text ? schema_text : "";
			any_setting = true;
			break;
		}
		case OPT_ACTIVE: case OPT_INACTIVE:
			set.active_set = true;
			set.active = opt == OPT_ACTIVE;
			any_setting = true;
			break;
		case OPT_IGNORE_NULL: case OPT_NO_IGNORE_NULL:
			set.ignore_null_set = true;
			set.ignore_null_updates = opt == OPT_IGNORE_NULL;
			any_setting = true;
			break;
		case OPT_DV: case OPT_NO_DV:
			set.deletion_vectors_set = true;
			set.deletion_vectors = opt == OPT_DV;
			any_setting = true;
			break;
		case OPT_RUNS: {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*end || v < 1 || v > 1000000) {
				rc = cli_usage_error("tables", "--runs takes a count, not '%s'", optarg);
				goto done;
			}
			runs = (int)v;
			break;
		}
		case OPT_HELP: case 'h':
			usage(stdout);
			rc = CLI_OK;
			goto done;
		default:
			rc = cli_usage_error("tables", "unknown option");
			goto done;
		}
	}
	const char *sub = optind < argc ? argv[optind] : "list";
	int nargs = argc - optind - (optind < argc);
	const char *name = nargs > 0 ? argv[optind + 1] : NULL;
	bool list = !strcmp(sub, "list"), show = !strcmp(sub, "show"), setc = !strcmp(sub, "set");
	if (!list && !show && !setc) {
		rc = cli_usage_error("tables", "unknown subcommand '%s' (list, show, set)", sub);
		goto done;
	}
	if ((list && nargs != 0) || (!list && nargs != 1)) {
		rc = cli_usage_error("tables", list ? "list takes no TABLE" : "%s takes one TABLE",
				     sub);
		goto done;
	}
	if (any_setting && !setc) {
		rc = cli_usage_error("tables", "settings are for `tables set`");
		goto done;
	}
	if (!lake && !state_path) {
		rc = cli_usage_error("tables", "--lake LAKE (or --state PATH) is required");
		goto done;
	}
	if (!state_path) {
		size_t n = strlen(lake) + 32;
		db_path = malloc(n);
		if (!db_path) {
			rc = cli_fail("out of memory");
			goto done;
		}
		snprintf(db_path, n, "%s/_changelake/state.db", lake);
		state_path = db_path;
	}
	if (cl_state_open(&st, state_path, &err)) {
		rc = cli_fail_err(&err);
		goto done;
	}
	if (list) {
		cl_state_table *v;
		int n;
		if (cl_state_table_list(st, &v, &n, &err)) {
			rc = cli_fail_err(&err);
			goto done;
		}
		if (common.json) {
			fputs("{\"tables\": [", stdout);
			for (int i = 0; i < n; i++) {
				if (i)
					fputs(", ", stdout);
				print_table_json(stdout, &v[i]);
			}
			fputs("]}\n", stdout);
		} else {
			printf("%-32s %-8s %-16s %-16s %-19s %s\n", "TABLE", "ACTIVE", "KEYS",
			       "PARTITION", "LAST RUN", "LAST ERROR");
			for (int i = 0; i < n; i++)
				printf("%-32s %-8s %-16s %-16s %-19s %s\n", v[i].name,
				       v[i].active ? "yes" : "no", or_dash(v[i].keys),
				       or_dash(v[i].partition_by), or_dash(v[i].last_run_at),
				       or_dash(v[i].last_error));
		}
		for (int i = 0; i < n; i++)
			cl_state_table_release(&v[i]);
		cl_free(v);
		rc = CLI_OK;
		goto done;
	}
	if (setc) {
		if (!any_setting) {
			rc = cli_usage_error("tables", "set: nothing to set");
			goto done;
		}
		if (cl_state_table_register(st, name, NULL, &err) ||
		    cl_state_table_update(st, name, &set, &err)) {
			rc = cli_fail_err(&err);
			goto done;
		}
	}
	cl_state_table t;
	if (cl_state_table_get(st, name, &t, &err)) {
		rc = cli_fail_err(&err);
		goto done;
	}
	cl_state_run *rv = NULL;
	int nr = 0;
	if (show && cl_state_runs(st, name, runs, &rv, &nr, &err)) {
		cl_state_table_release(&t);
		rc = cli_fail_err(&err);
		goto done;
	}
	if (common.json) {
		fputs("{\"table\": ", stdout);
		print_table_json(stdout, &t);
		if (show) {
			fputs(", \"runs\": [", stdout);
			for (int i = 0; i < nr; i++) {
				if (i)
					fputs(", ", stdout);
				print_run_json(stdout, &rv[i]);
			}
			fputc(']', stdout);
		}
		fputs("}\n", stdout);
	} else if (show || !common.quiet) {
		printf("table:               %s\n", t.name);
		printf("active:              %s\n", t.active ? "yes" : "no");
		printf("keys:                %s\n", t.keys ? t.keys : "- (append-only)");
		printf("partition by:        %s\n", or_dash(t.partition_by));
		printf("sequence by:         %s\n", or_dash(t.sequence_by));
		printf("timestamp column:    %s\n", or_dash(t.timestamp_column));
		printf("columns:             %s\n", or_dash(t.columns));
		printf("ignore null updates: %s\n", t.ignore_null_updates ? "yes" : "no");
		printf("deletion vectors:    %s\n", t.deletion_vectors ? "yes" : "no");
		printf("schema:              %s\n", t.schema ? "declared" : "- (learned)");
		if (t.schema)
			printf("%s%s", t.schema,
			       *t.schema && t.schema[strlen(t.schema) - 1] != '\n' ? "\n" : "");
		printf("last run:            %s\n", or_dash(t.last_run_at));
		printf("last error:          %s\n", or_dash(t.last_error));
		if (show) {
			printf("\n%-19s %-7s %8s %6s %10s %9s %9s %9s %7s %7s %-18s %s\n",
			       "STARTED", "STATUS", "MS", "FILES", "ROWS", "INSERTS", "UPDATES",
			       "DELETES", "STALE", "VERSION", "COMPACTED", "ERROR");
			for (int i = 0; i < nr; i++) {
				char ver[24] = "-", comp[64] = "-";
				if (rv[i].lake_version >= 0)
					snprintf(ver, sizeof ver, "%lld", (long long)rv[i].lake_version);
				if (rv[i].compacted)
					snprintf(comp, sizeof comp, "@%lld: %lld->%lld files",
						 (long long)rv[i].compact_version,
						 (long long)rv[i].compact_removed,
						 (long long)rv[i].compact_added);
				else if (rv[i].compact_note)
					snprintf(comp, sizeof comp, "%.*s",
						 (int)strcspn(rv[i].compact_note, ":"),
						 rv[i].compact_note);
				printf("%-19s %-7s %8lld %6lld %10lld %9lld %9lld %9lld %7lld %7s %-18s %s\n",
				       rv[i].started_at, rv[i].status, (long long)rv[i].duration_ms,
				       (long long)rv[i].files, (long long)rv[i].rows,
				       (long long)rv[i].inserts, (long long)rv[i].updates,
				       (long long)rv[i].deletes, (long long)rv[i].stale, ver, comp,
				       or_dash(rv[i].error));
			}
		}
	}
	for (int i = 0; i < nr; i++)
		cl_state_run_release(&rv[i]);
	cl_free(rv);
	cl_state_table_release(&t);
	rc = CLI_OK;
done:
	cl_state_close(st);
	free(schema_text);
	free(db_path);
	return rc;
}
