/*
 * cli.h — shared pieces of the changelake command line (one file per
 * subcommand, cmd_*.c, each on top of the public API in changelake.h).
 *
 * Exit codes (documented in the README and the man page):
 *   0  success (diff: no differences)
 *   1  diff: differences found
 *   2  trouble: usage error, bad input, I/O error — the message is on stderr
 */
#ifndef CL_CLI_H
#define CL_CLI_H

#include <getopt.h>
#include <stdio.h>

#include "changelake.h"

enum { CLI_OK = 0, CLI_DIFF = 1, CLI_ERROR = 2 };

/* Options every command takes. */
typedef struct cli_common {
	bool quiet;
	bool json;
	bool progress; /* stderr is a terminal and not --quiet */
} cli_common;

typedef struct cli_command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
} cli_command;

extern const cli_command cli_commands[];

/* Print "changelake: MESSAGE" to stderr; returns CLI_ERROR. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Report a library error; returns CLI_ERROR. */
int cli_fail_err(const cl_error *err);
/* "changelake CMD: ..." usage error with a pointer to --help. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Reader options from the command line. Each command's getopt_long table
 * includes CLI_READ_LONGOPTS; cli_read_option() handles those codes and
 * returns 1 when it consumed the option, 0 when not one of them, -1 on a
 * bad value (message printed).
 */
enum {
	OPT_SCHEMA = 1000, OPT_DELIM, OPT_NOHEADER, OPT_HEADER, OPT_NULL,
	OPT_SAMPLE, OPT_FROM, OPT_ALLSTR, OPT_COLUMNS,
	OPT_QUIET, OPT_JSON, OPT_HELP,
	OPT_CMD_BASE = 1100 /* commands number their own options from here */
};
#define CLI_READ_LONGOPTS                                             \
	{"schema", required_argument, 0, OPT_SCHEMA},                 \
	{"delimiter", required_argument, 0, OPT_DELIM},               \
	{"no-header", no_argument, 0, OPT_NOHEADER},                  \
	{"header", no_argument, 0, OPT_HEADER},                       \
	{"null", required_argument, 0, OPT_NULL},                     \
	{"sample-rows", required_argument, 0, OPT_SAMPLE},            \
	{"from", required_argument, 0, OPT_FROM},                     \
	{"all-strings", no_argument, 0, OPT_ALLSTR},                  \
	{"columns", required_argument, 0, OPT_COLUMNS}
#define CLI_COMMON_LONGOPTS                                           \
	{"quiet", no_argument, 0, OPT_QUIET},                         \
	{"json", no_argument, 0, OPT_JSON},                           \
	{"help", no_argument, 0, OPT_HELP}
#define CLI_READ_HELP                                                                  \
	"Reading options:\n"                                                           \
	"  --from FORMAT        input format: csv, jsonl, parquet (default: detect)\n"   \
	"  --schema FILE        declared schema, one \"name type [not null]\" per line\n"\
	"  --delimiter C        CSV field delimiter (default ',', '\\t' for .tsv; 'tab')\n" \
	"  --no-header          CSV has no header line (names from --schema)\n"        \
	"  --null STR           CSV text that means NULL (default: empty unquoted field)\n" \
	"  --sample-rows N      rows sampled to infer types (default 10000, 0 = all)\n"  \
	"  --all-strings        no type inference: every column is a string\n"           \
	"  --columns A,B,...    read only these columns\n"
#define CLI_COMMON_HELP                                                                \
	"  -q, --quiet          no progress or summary on stderr\n"                    \
	"      --json           print a JSON summary on stdout (or stderr with data)\n"   \
	"  -h, --help           this help\n"

typedef struct cli_read {
	cl_read_options opts;
	cl_schema *schema;  /* owned, from --schema */
	char **columns;     /* owned, from --columns */
	int ncolumns;
} cli_read;

void cli_read_init(cli_read *r);
int cli_read_option(cli_read *r, int opt, const char *arg);
void cli_read_release(cli_read *r);
/* Handle --quiet/--json; 1 when consumed. Sets progress from isatty. */
int cli_common_option(cli_common *c, int opt);
void cli_common_init(cli_common *c);

/*
 * Open a reader with the collected options; prints the error itself.
 * PATH is a file, or a lake table (a directory with _delta_log/,
 * optionally TABLE@VERSION or TABLE@TIMESTAMP) read through
 * cl_table_reader_open: only its live files.
 */
int cli_open_reader(cl_reader **out, const char *path, cli_read *r);
/* Whether PATH names a lake table (a regular file of that name wins). */
bool cli_is_table(const char *path);

/*
 * An input of many rows: a file, a folder of files (cl_dataset) or a lake
 * table (cl_table_reader_open), with where each batch came from for
 * messages. Zero-initialise; cli_input_close releases (also after a failed
 * open). The error is returned in *err, not printed.
 */
typedef struct cli_input {
	cl_dataset *ds;
	cl_reader *table;
} cli_input;
int cli_input_open(cli_input *in, const char *path, cli_read *r, cl_error *err);
const cl_schema *cli_input_schema(const cli_input *in);
/* Next batch (borrowed) or NULL; *source (borrowed until the next call)
 * and *first_row (1-based, in that source) say where it came from. */
int cli_input_next(cli_input *in, cl_batch **out, const char **source, int64_t *first_row,
		   cl_error *err);
int64_t cli_input_rows(const cli_input *in);
int64_t cli_input_total_rows(const cli_input *in);
/* The format of a folder's first file; CL_FORMAT_PARQUET for a table. */
cl_format cli_input_format(const cli_input *in);
void cli_input_close(cli_input *in);

/* Split "a,b,c" into a list of copies (empty items dropped), appended to
 * *list / *n; -1 when out of memory. Free with cli_free_list. */
int cli_split_list(const char *arg, char ***list, int *n);
void cli_free_list(char **list, int n);
/* A byte size: "512", "64K", "512M", "2G", "1T" (binary units; "MiB",
 * "MB" accepted); -1 when malformed. */
int cli__parse_size(const char *s, int64_t *out);

/*
 * After a commit to a lake table: print a warning on stderr (unless quiet)
 * when the checkpoint due after it failed — t's own status when it made
 * the commit, else (version >= 0) what the log shows for that version.
 */
void cli_warn_checkpoint(const cli_common *c, cl_table *t, const char *table, int64_t version);

/* Auto-compaction after a data commit (cmd_compact.c): run it (mode: the
 * --auto-compact/--no-auto-compact override, 0 = the table's setting), its
 * --json member, its summary line and its warning. */
void cli_autocompact_run(const char *location, int mode, cl_autocompact_result *r);
void cli_autocompact_json(FILE *f, const cl_autocompact_result *r, bool compact);
void cli_autocompact_summary(FILE *f, const char *prog, const char *table,
			     const cl_autocompact_result *r);
void cli_autocompact_warn(const char *prog, const char *table, const cl_autocompact_result *r);

/* Progress on stderr (only when c->progress), throttled to ~4 per second. */
typedef struct cli_progress {
	const cli_common *common;
	double start, last;
	const char *what;
	bool shown;
} cli_progress;
double cli_now(void);
void cli_progress_start(cli_progress *p, const cli_common *c, const char *what);
void cli_progress_update(cli_progress *p, int64_t rows, int64_t total_rows);
void cli_progress_done(cli_progress *p);

/* Write s as a JSON string (quoted, escaped) to f. */
void cli_json_string(FILE *f, const char *s);

/* Print a table of rows for people: names, types, aligned values. */
typedef struct cli_table cli_table;
int cli_table_create(cli_table **out, const cl_schema *schema, int max_width);
int cli_table_add(cli_table *t, const cl_batch *b, int64_t from, int64_t n);
void cli_table_print(cli_table *t, FILE *f, int64_t total_rows);
void cli_table_free(cli_table *t);

#endif
