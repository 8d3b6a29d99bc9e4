/*
 * main.c — the changelake command: dispatches to one file per subcommand.
 */
#include "cli.h"

#include <malloc.h>
#include <string.h>

int cli_cmd_cat(int argc, char **argv);
int cli_cmd_schema(int argc, char **argv);
int cli_cmd_convert(int argc, char **argv);
int cli_cmd_stats(int argc, char **argv);
int cli_cmd_diff(int argc, char **argv);
int cli_cmd_apply(int argc, char **argv);
int cli_cmd_tables(int argc, char **argv);
int cli_cmd_table(int argc, char **argv);
int cli_cmd_vacuum(int argc, char **argv);
int cli_cmd_compact(int argc, char **argv);
int cli_cmd_merge(int argc, char **argv);
int cli_cmd_sync(int argc, char **argv);
int cli_cmd_export(int argc, char **argv);

const cli_command cli_commands[] = {
	{"cat", cli_cmd_cat, "print the rows of a Parquet, CSV or JSON Lines file or a lake table"},
	{"head", cli_cmd_cat, "print the first rows of a file"},
	{"schema", cli_cmd_schema, "print a file's schema"},
	{"convert", cli_cmd_convert, "rewrite a file as Parquet, CSV or JSON Lines"},
	{"stats", cli_cmd_stats, "row groups, encodings and min/max/null statistics of a file"},
	{"diff", cli_cmd_diff, "compare two snapshots of a table by key"},
	{"apply", cli_cmd_apply, "apply a change set to a snapshot, a lake table or a PostgreSQL table"},
	{"tables", cli_cmd_tables, "configuration and run history of synced tables"},
	{"table", cli_cmd_table, "look inside a lake table: history, files, describe"},
	{"vacuum", cli_cmd_vacuum, "delete lake table files no version within retention needs"},
	{"compact", cli_cmd_compact, "rewrite a lake table's small files into fewer"},
	{"merge", cli_cmd_merge, "merge AWS DMS change data into a lake table, exactly once"},
	{"sync", cli_cmd_sync, "merge every active table of a DMS folder into a lake"},
	{"export", cli_cmd_export, "snapshot a live PostgreSQL table to Parquet, CSV or JSON Lines"},
	{NULL, NULL, NULL}};

static void usage(FILE *f)
{
	fputs("Usage: changelake COMMAND [options] ...\n"
	      "\n"
	      "changelake keeps data-lake tables in step with operational databases:\n"
	      "it diffs table snapshots, applies change sets, and merges change data\n"
	      "capture into lake tables (Parquet under a Delta Lake log).\n"
	      "\n"
	      "Commands:\n", f);
	for (const cli_command *c = cli_commands; c->name; c++)
		fprintf(f, "  %-10s %s\n", c->name, c->summary);
	fputs("\n"
	      "Run 'changelake COMMAND --help' for a command's options.\n"
	      "\n"
	      "Options:\n"
	      "  -h, --help       this help\n"
	      "  -V, --version    print the version\n"
	      "\n"
	      "Exit status: 0 success (diff: no differences), 1 diff: differences found,\n"
	      "2 trouble (usage, bad input, I/O); the message is on standard error.\n", f);
}

/*
 * The allocator keeps freed memory for reuse instead of handing it back to
 * the kernel at once. The readers and the diff allocate and free buffers of
 * 1-30 MB per row group (decompressed pages, column values, key hashes);
 * with glibc's defaults such a buffer is an mmap of its own, or the heap top
 * is trimmed, so every row group pays its page faults and page zeroing again
 * (about a tenth of a diff's CPU). Blocks up to 32 MiB (the largest glibc
 * allows) come from the heap, and up to 512 MiB of free heap stays mapped;
 * memory is still bounded by what the run holds at its peak.
 */
static void tune_malloc(void)
{
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
	mallopt(M_TRIM_THRESHOLD, 512 << 20);
	mallopt(M_TOP_PAD, 16 << 20);
}

int main(int argc, char **argv)
{
	tune_malloc();
	if (argc < 2) {
		usage(stderr);
		return CLI_ERROR;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
		if (argc > 2 && strcmp(cmd, "help") == 0) {
			for (const cli_command *c = cli_commands; c->name; c++)
				if (!strcmp(c->name, argv[2])) {
					char *args[] = {argv[2], "--help", NULL};
					return c->run(2, args);
				}
		}
		usage(stdout);
		return CLI_OK;
	}
	if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version")) {
		printf("changelake %s\n", CL_VERSION_STRING);
		return CLI_OK;
	}
	for (const cli_command *c = cli_commands; c->name; c++)
		if (!strcmp(c->name, cmd))
			return c->run(argc - 1, argv + 1);
	fprintf(stderr, "changelake: unknown command '%s'\nTry 'changelake --help'.\n", cmd);
	return CLI_ERROR;
}
