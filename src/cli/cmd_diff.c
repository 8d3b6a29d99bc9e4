/*
 * cmd_diff.c — `changelake diff OLD NEW --key K`: the change set between two
 * snapshots of a table (library: changelake/diff.h, changelake/dataset.h);
 * a side may be a lake table at a version (changelake/table.h).
 */
#include "cli.h"
#include "changelake/dataset.h"
#include "changelake/diff.h"

#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>

enum {
	OPT_KEY = OPT_CMD_BASE, OPT_OUT, OPT_FORMAT, OPT_MODE, OPT_SPARSE, OPT_KEEP,
	OPT_CHANGECOL, OPT_DIFFCOL, OPT_LPREFIX, OPT_RPREFIX, OPT_IVAL, OPT_CVAL,
	OPT_DVAL, OPT_NVAL, OPT_IGNORE, OPT_EPSILON, OPT_WHITESPACE, OPT_TIMETOL,
	OPT_ALLOWDUP, OPT_STATS, OPT_MEMLIMIT, OPT_THREADS, OPT_TMPDIR, OPT_COMPRESSION
};

static void usage(FILE *f)
{
	fputs("Usage: changelake diff OLD NEW --key COL[,COL...] [options]\n"
	      "\n"
	      "Compare two snapshots of a table by key and write the change set in\n"
	      "G-Research spark-extension's diff format: a 'diff' column (I insert, C\n"
	      "change, D delete, N no change), the key columns, then left_X/right_X per\n"
	      "value column. OLD and NEW are files or folders of files (Hive-style\n"
	      "COL=VALUE folders become columns) in any format, possibly different,\n"
	      "or lake tables: TABLE, TABLE@VERSION or TABLE@TIMESTAMP (the live rows\n"
	      "of that version; diff lake/t@5 lake/t@9 is the incremental export).\n"
	      "Rows come out sorted by key. Without -o, the change set goes to standard\n"
	      "output as CSV (unless --stats or --json alone is asked for).\n"
	      "\n"
	      "Options:\n"
	      "  -k, --key COLS           key columns (required); keys match NULL-safely\n"
	      "  -o, --output OUT         write the change set to OUT (format from extension)\n"
	      "      --format FORMAT      parquet, csv or jsonl (default: OUT's extension)\n"
	      "      --compression CODEC  Parquet codec (default snappy)\n"
	      "      --mode MODE          column-by-column (default), side-by-side,\n"
	      "                           left-side, right-side (a patch for apply)\n"
	      "      --sparse             only values that changed; NULL elsewhere\n"
	      "      --keep-unchanged     also write N rows\n"
	      "      --ignore COLS        carry these columns, do not compare them\n"
	      "      --change-column NAME add a column listing the changed columns\n"
	      "                           (comma-separated) for C and N rows\n"
	      "      --diff-column NAME   name of the diff column (default diff)\n"
	      "      --left-prefix P      prefix of OLD's value columns (default left)\n"
	      "      --right-prefix P     prefix of NEW's value columns (default right)\n"
	      "      --insert-value V, --change-value V, --delete-value V, --nochange-value V\n"
	      "                           diff column values (default I, C, D, N)\n"
	      "      --epsilon T=EPS[,abs][,exclusive]\n"
	      "                           numbers equal when at most EPS apart, relative\n"
	      "                           to the larger (default) or absolute; T is a\n"
	      "                           column, type:TYPE (e.g. type:float64) or '*'\n"
	      "      --ignore-whitespace T  strings equal after trimming and collapsing\n"
	      "                           whitespace (T: column, type:string or '*')\n"
	      "      --time-tolerance T=D[,exclusive]\n"
	      "                           dates/times equal when at most D apart (500ms,\n"
	      "                           2s, 1m, 1h, 1d)\n"
	      "      --allow-duplicate-keys  diff like a full outer join instead of failing\n"
	      "      --stats              print counts of I/C/D/N and per-column changes\n"
	      "      --memory-limit SIZE  memory for the diff (e.g. 512M, 2G; default a\n"
	      "                           quarter of RAM): past it both sides are\n"
	      "                           partitioned by key hash to disk and sorted\n"
	      "                           output runs are spilled; same output\n"
	      "      --threads N          worker threads (default: the number of cores)\n"
	      "      --tmp-dir DIR        where partitions are spilled (default $TMPDIR)\n"
	      "\n"
	      CLI_READ_HELP CLI_COMMON_HELP
	      "\nExit status: 0 no differences, 1 differences, 2 trouble.\n", f);
}

static int add_rule(cl_diff_rule **rules, int *n, cl_diff_cmp_kind k, const char *arg)
{
	cl_error err = {0};
	cl_diff_rule r;
	if (cl_diff_rule_parse(&r, k, arg, &err))
		return cli_usage_error("diff", "%s", err.message);
	cl_diff_rule *x = realloc(*rules, (size_t)(*n + 1) * sizeof *x);
	if (!x)
		return cli_fail("out of memory");
	*rules = x;
	x[(*n)++] = r;
	return 0;
}

typedef struct feed_progress {
	cli_progress *pr;
	int64_t total;
} feed_progress;

static void on_progress(void *arg, int64_t rows)
{
	feed_progress *f = arg;
	cli_progress_update(f->pr, rows, f->total);
}

/* Feed a lake table (a version of it) to the diff, batch by batch, each
 * named by its data file. */
static int feed_table(cl_diff *d, const char *ref, cli_read *rd, bool left, cli_progress *pr,
		      cl_error *err)
{
	cl_reader *r = NULL;
	int rc = cl_table_reader_open(&r, ref, &rd->opts, err);
	while (!rc) {
		cl_batch *b;
		if ((rc = cl_reader_next(r, &b, err)) || !b)
			break;
		int64_t first = 0;
		const char *src = cl_table_reader_source(r, &first);
		rc = left ? cl_diff_add_left(d, b, src, first, err)
			  : cl_diff_add_right(d, b, src, first, err);
		cli_progress_update(pr, cl_reader_rows(r), cl_reader_total_rows(r));
	}
	cl_reader_free(r);
	return rc;
}

/* Feed one side to the diff: every worker reads row groups or files of it. */
static int feed(cl_diff *d, const char *path, cli_read *rd, bool left, cli_progress *pr,
		cl_error *err)
{
	if (cli_is_table(path))
		return feed_table(d, path, rd, left, pr, err);
	cl_dataset *ds = NULL;
	int rc = cl_dataset_open(&ds, path, &rd->opts, err);
	if (rc)
		return rc;
	feed_progress fp = {pr, cl_dataset_total_rows(ds)};
	if (fp.total <= 0)
		fp.total = -1;
	rc = left ? cl_diff_add_left_dataset(d, ds, on_progress, &fp, err)
		  : cl_diff_add_right_dataset(d, ds, on_progress, &fp, err);
	cl_dataset_free(ds);
	return rc;
}

/*
 * Schema of a side. The types a text file without rows was given carry no
 * information (a header-only CSV reads as all strings), so such a side's
 * columns get no type and take the other side's.
 */
static int side_schema(cl_schema **out, const char *path, cli_read *rd, cl_error *err)
{
	if (cli_is_table(path)) {
		cl_reader *r = NULL;
		int rc = cl_table_reader_open(&r, path, &rd->opts, err);
		rc = rc ? rc : cl_schema_copy(out, cl_reader_schema(r), err);
		cl_reader_free(r);
		return rc;
	}
	cl_dataset *ds = NULL;
	int rc = cl_dataset_open(&ds, path, &rd->opts, err);
	if (!rc)
		rc = cl_schema_copy(out, cl_dataset_schema(ds), err);
	if (!rc && !rd->opts.schema && cl_dataset_format(ds) != CL_FORMAT_PARQUET) {
		cl_batch *b;
		rc = cl_dataset_next(ds, &b, err);
		for (int i = 0; !rc && !b && i < (*out)->nfields; i++)
			(*out)->fields[i].type = cl_type_make(CL_NULLTYPE);
	}
	cl_dataset_free(ds);
	return rc;
}

static void print_list_json(FILE *f, const char *name, const char *const *l, int n)
{
	fprintf(f, ",\"%s\":[", name);
	for (int i = 0; i < n; i++) {
		if (i)
			fputc(',', f);
		cli_json_string(f, l[i]);
	}
	fputc(']', f);
}

static void print_stats(FILE *f, const cl_diff_stats *s, bool json, const char *oldp,
			const char *newp, double secs)
{
	if (json) {
		fputs("{\"old\":", f);
		cli_json_string(f, oldp);
		fputs(",\"new\":", f);
		cli_json_string(f, newp);
		fprintf(f,
			",\"old_rows\":%lld,\"new_rows\":%lld,\"inserted\":%lld,"
			"\"changed\":%lld,\"deleted\":%lld,\"unchanged\":%lld,\"columns\":{",
			(long long)s->left_rows, (long long)s->right_rows, (long long)s->inserted,
			(long long)s->changed, (long long)s->deleted, (long long)s->unchanged);
		for (int i = 0; i < s->nvalues; i++) {
			if (i)
				fputc(',', f);
			cli_json_string(f, s->value_names[i]);
			fprintf(f, ":%lld", (long long)s->value_changes[i]);
		}
		fputc('}', f);
		print_list_json(f, "only_in_old", s->left_only, s->nleft_only);
		print_list_json(f, "only_in_new", s->right_only, s->nright_only);
		print_list_json(f, "widened", s->widened, s->nwidened);
		struct rusage ru;
		long peak = getrusage(RUSAGE_SELF, &ru) ? -1 : ru.ru_maxrss;
		fprintf(f,
			",\"partitions\":%lld,\"spill_bytes\":%lld,\"threads\":%d,"
			"\"peak_rss_kb\":%ld,\"seconds\":%.3f}\n",
			(long long)s->partitions, (long long)s->spill_bytes, s->threads, peak, secs);
		return;
	}
	fprintf(f, "rows: %lld old, %lld new\n", (long long)s->left_rows,
		(long long)s->right_rows);
	fprintf(f, "inserted:  %lld\nchanged:   %lld\ndeleted:   %lld\nunchanged: %lld\n",
		(long long)s->inserted, (long long)s->changed, (long long)s->deleted,
		(long long)s->unchanged);
	if (s->nvalues) {
		fputs("changes per column:\n", f);
		for (int i = 0; i < s->nvalues; i++)
			fprintf(f, "  %s: %lld\n", s->value_names[i],
				(long long)s->value_changes[i]);
	}
	for (int i = 0; i < s->nleft_only; i++)
		fprintf(f, "column only in OLD: %s\n", s->left_only[i]);
	for (int i = 0; i < s->nright_only; i++)
		fprintf(f, "column only in NEW: %s\n", s->right_only[i]);
	for (int i = 0; i < s->nwidened; i++)
		fprintf(f, "column compared in a wider type: %s\n", s->widened[i]);
}

int cli_cmd_diff(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"key", required_argument, 0, OPT_KEY},
		{"output", required_argument, 0, OPT_OUT},
		{"format", required_argument, 0, OPT_FORMAT},
		{"compression", required_argument, 0, OPT_COMPRESSION},
		{"mode", required_argument, 0, OPT_MODE},
		{"sparse", no_argument, 0, OPT_SPARSE},
		{"keep-unchanged", no_argument, 0, OPT_KEEP},
		{"change-column", required_argument, 0, OPT_CHANGECOL},
		{"diff-column", required_argument, 0, OPT_DIFFCOL},
		{"left-prefix", required_argument, 0, OPT_LPREFIX},
		{"right-prefix", required_argument, 0, OPT_RPREFIX},
		{"insert-value", required_argument, 0, OPT_IVAL},
		{"change-value", required_argument, 0, OPT_CVAL},
		{"delete-value", required_argument, 0, OPT_DVAL},
		{"nochange-value", required_argument, 0, OPT_NVAL},
		{"ignore", required_argument, 0, OPT_IGNORE},
		{"epsilon", required_argument, 0, OPT_EPSILON},
		{"ignore-whitespace", required_argument, 0, OPT_WHITESPACE},
		{"time-tolerance", required_argument, 0, OPT_TIMETOL},
		{"allow-duplicate-keys", no_argument, 0, OPT_ALLOWDUP},
		{"stats", no_argument, 0, OPT_STATS},
		{"memory-limit", required_argument, 0, OPT_MEMLIMIT},
		{"threads", required_argument, 0, OPT_THREADS},
		{"tmp-dir", required_argument, 0, OPT_TMPDIR},
		CLI_READ_LONGOPTS, CLI_COMMON_LONGOPTS, {0, 0, 0, 0}};
	cli_read rd;
	cli_common common;
	cl_diff_options o;
	cl_write_options wo;
	cli_read_init(&rd);
	cli_common_init(&common);
	cl_diff_options_init(&o);
	cl_write_options_init(&wo);
	char **keys = NULL, **ignore = NULL;
	int nkeys = 0, nignore = 0, nrules = 0;
	cl_diff_rule *rules = NULL;
	const char *outp = NULL;
	bool stats = false;
	int rc = CLI_ERROR, opt;
	cl_error err = {0};
	cl_diff *d = NULL;
	cl_writer *w = NULL;
	cl_schema *ls = NULL, *rs = NULL;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "k:o:qh", longopts, NULL)) != -1) {
		int k = cli_read_option(&rd, opt, optarg);
		if (k < 0)
			goto done;
		if (k || cli_common_option(&common, opt))
			continue;
		switch (opt) {
		case OPT_KEY: case 'k':
			if (cli_split_list(optarg, &keys, &nkeys))
				goto oom;
			break;
		case OPT_OUT: case 'o': outp = optarg; break;
		case OPT_FORMAT:
			if (cl_format_parse(&wo.format, optarg, &err)) {
				rc = cli_usage_error("diff", "%s", err.message);
				goto done;
			}
			break;
		case OPT_COMPRESSION:
			if (cl_codec_parse(&wo.compression, optarg, &err)) {
				rc = cli_usage_error("diff", "%s", err.message);
				goto done;
			}
			break;
		case OPT_MODE:
			if (cl_diff_mode_parse(&o.mode, optarg, &err)) {
				rc = cli_usage_error("diff", "%s", err.message);
				goto done;
			}
			break;
		case OPT_SPARSE: o.sparse = true; break;
		case OPT_KEEP: o.keep_unchanged = true; break;
		case OPT_CHANGECOL: o.change_column = optarg; break;
		case OPT_DIFFCOL: o.diff_column = optarg; break;
		case OPT_LPREFIX: o.left_prefix = optarg; break;
		case OPT_RPREFIX: o.right_prefix = optarg; break;
		case OPT_IVAL: o.insert_value = optarg; break;
		case OPT_CVAL: o.change_value = optarg; break;
		case OPT_DVAL: o.delete_value = optarg; break;
		case OPT_NVAL: o.nochange_value = optarg; break;
		case OPT_IGNORE:
			if (cli_split_list(optarg, &ignore, &nignore))
				goto oom;
			break;
		case OPT_EPSILON:
			if ((rc = add_rule(&rules, &nrules, CL_CMP_EPSILON, optarg)))
				goto done;
			break;
		case OPT_TIMETOL:
			if ((rc = add_rule(&rules, &nrules, CL_CMP_DURATION, optarg)))
				goto done;
			break;
		case OPT_WHITESPACE: {
			char **l = NULL;
			int n = 0;
			if (cli_split_list(optarg, &l, &n))
				goto oom;
			rc = 0;
			for (int i = 0; i < n && !rc; i++)
				rc = add_rule(&rules, &nrules, CL_CMP_WHITESPACE, l[i]);
			cli_free_list(l, n);
			if (rc)
				goto done;
			rc = CLI_ERROR;
			break;
		}
		case OPT_ALLOWDUP: o.allow_duplicate_keys = true; break;
		case OPT_STATS: stats = true; break;
		case OPT_MEMLIMIT:
			if (cli__parse_size(optarg, &o.memory_limit) || o.memory_limit < 1) {
				rc = cli_usage_error("diff", "--memory-limit takes a size like 512M or 2G, not '%s'", optarg);
				goto done;
			}
			break;
		case OPT_THREADS: {
			char *end;
			long t = strtol(optarg, &end, 10);
			if (*end || end == optarg || t < 1 || t > 64) {
				rc = cli_usage_error("diff", "--threads takes a number from 1 to 64, not '%s'", optarg);
				goto done;
			}
			o.threads = (int)t;
			break;
		}
		case OPT_TMPDIR: o.tmp_dir = optarg; break;
		case OPT_HELP: case 'h':
			usage(stdout);
			rc = CLI_OK;
			goto done;
		default:
			rc = cli_usage_error("diff", "unknown option");
			goto done;
		}
	}
	if (argc - optind != 2) {
		rc = cli_usage_error("diff", "expected OLD and NEW");
		goto done;
	}
	if (!nkeys) {
		rc = cli_usage_error("diff", "--key is required (the columns that identify a row)");
		goto done;
	}
	const char *oldp = argv[optind], *newp = argv[optind + 1];
	o.keys = (const char *const *)keys;
	o.nkeys = nkeys;
	o.ignore = (const char *const *)ignore;
	o.nignore = nignore;
	o.rules = rules;
	o.nrules = nrules;
	/* Data to stdout unless only a summary was asked for. */
	bool write_data = outp || (!stats && !common.json);
	if (!outp)
		outp = "-";
	if (write_data && !wo.format && cl_format_from_extension(outp) == CL_FORMAT_AUTO)
		wo.format = CL_FORMAT_CSV;
	bool data_on_stdout = write_data && !strcmp(outp, "-");
	FILE *summary = data_on_stdout ? stderr : stdout;

	if (side_schema(&ls, oldp, &rd, &err) || side_schema(&rs, newp, &rd, &err) ||
	    cl_diff_create(&d, ls, rs, &o, &err)) {
		rc = cli_fail_err(&err);
		goto done;
	}
	/* the change set is encoded on the diff's threads too (the rows come
	 * out of the final merge; its columns are encoded in parallel) */
	wo.threads = cl_diff_threads(d);
	if (write_data && cl_writer_open(&w, outp, cl_diff_schema(d), &wo, &err)) {
		rc = cli_fail_err(&err);
		goto done;
	}
	cli_progress pr;
	cli_progress_start(&pr, &common, "diff: reading OLD");
	if (feed(d, oldp, &rd, true, &pr, &err)) {
		cli_progress_done(&pr);
		rc = cli_fail_err(&err);
		goto done;
	}
	pr.what = "diff: comparing NEW";
	if (feed(d, newp, &rd, false, &pr, &err)) {
		cli_progress_done(&pr);
		rc = cli_fail_err(&err);
		goto done;
	}
	pr.what = "diff: writing";
	int64_t written = 0;
	for (;;) {
		cl_batch *b;
		if (cl_diff_next(d, &b, &err) || (b && w && cl_writer_write(w, b, &err))) {
			cli_progress_done(&pr);
			rc = cli_fail_err(&err);
			goto done;
		}
		if (!b)
			break;
		written += b->nrows;
		cli_progress_update(&pr, written, -1);
	}
	cli_progress_done(&pr);
	if (w && cl_writer_close(w, &err)) {
		rc = cli_fail_err(&err);
		goto done;
	}
	const cl_diff_stats *st = cl_diff_get_stats(d);
	double secs = cli_now() - pr.start;
	if (common.json)
		print_stats(summary, st, true, oldp, newp, secs);
	if (stats)
		print_stats(summary, st, false, oldp, newp, secs);
	if (!common.json && !stats && !common.quiet && common.progress)
		fprintf(stderr, "diff: %lld inserted, %lld changed, %lld deleted in %.2fs\n",
			(long long)st->inserted, (long long)st->changed,
			(long long)st->deleted, secs);
	rc = st->inserted || st->changed || st->deleted ? CLI_DIFF : CLI_OK;
	goto done;
oom:
	rc = cli_fail("out of memory");
done:
	cl_writer_free(w);
	cl_diff_free(d);
	cl_schema_free(ls);
	cl_schema_free(rs);
	cli_free_list(keys, nkeys);
	cli_free_list(ignore, nignore);
	free(rules);
	cli_read_release(&rd);
	return rc;
}
