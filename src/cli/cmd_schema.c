/* cmd_schema.c — `changelake schema`: print a file's or a lake table's schema. */
#include "cli.h"

#include <string.h>

static void usage(FILE *f)
{
	fputs("Usage: changelake schema FILE [options]\n"
	      "\n"
	      "Print the schema of a table file: one \"name type [not null]\" line per\n"
	      "column, the form --schema reads back. For CSV and JSON Lines the types\n"
	      "are inferred from a sample of rows (see --sample-rows). FILE may be a\n"
	      "lake table: TABLE, TABLE@VERSION or TABLE@TIMESTAMP (its schema then).\n"
	      "\n"
	      "Options:\n"
	      CLI_READ_HELP CLI_COMMON_HELP
	      "\nExit status: 0 ok, 2 on any error.\n", f);
}

/* A name needs quoting when it is not a plain word. */
static bool plain_name(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s == ' ' || *s == '\t' || *s == ',' || *s == '"' || *s == '#' ||
		    *s == '\n' || *s == '\r' || *s == '(' || *s == ')')
			return false;
	return true;
}

int cli_cmd_schema(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_READ_LONGOPTS, CLI_COMMON_LONGOPTS, {0, 0, 0, 0}};
	cli_read rd;
	cli_common common;
	cli_read_init(&rd);
	cli_common_init(&common);
	int rc = CLI_ERROR, opt;
	cl_reader *r = NULL;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
		int k = cli_read_option(&rd, opt, optarg);
		if (k < 0)
			goto done;
		if (k || cli_common_option(&common, opt))
			continue;
		if (opt == OPT_HELP || opt == 'h') {
			usage(stdout);
			rc = CLI_OK;
			goto done;
		}
		rc = cli_usage_error("schema", "unknown option");
		goto done;
	}
	if (argc - optind != 1) {
		rc = cli_usage_error("schema", "expected one FILE");
		goto done;
	}
	if (cli_open_reader(&r, argv[optind], &rd))
		goto done;
	const cl_schema *s = cl_reader_schema(r);
	if (common.json)
		fputs("{\"format\":", stdout),
			cli_json_string(stdout, cli_is_table(argv[optind])
							? "delta"
							: cl_format_name(cl_reader_format(r))),
			fputs(",\"columns\":[", stdout);
	for (int i = 0; i < s->nfields; i++) {
		char tn[64];
		cl_type_format(tn, sizeof tn, s->fields[i].type);
		const char *name = s->fields[i].name;
		if (common.json) {
			fputs(i ? ",{\"name\":" : "{\"name\":", stdout);
			cli_json_string(stdout, name);
			printf(",\"type\":\"%s\",\"nullable\":%s}", tn,
			       s->fields[i].nullable ? "true" : "false");
			continue;
		}
		if (plain_name(name)) {
			fputs(name, stdout);
		} else {
			putchar('"');
			for (const char *p = name; *p; p++) {
				if (*p == '"')
					putchar('"');
				putchar(*p);
			}
			putchar('"');
		}
		printf(" %s%s\n", tn, s->fields[i].nullable ? "" : " not null");
	}
	if (common.json)
		fputs("]}\n", stdout);
	rc = CLI_OK;
done:
	cl_reader_free(r);
	cli_read_release(&rd);
	return rc;
}
