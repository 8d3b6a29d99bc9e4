/*
 * cmd_apply.c — `changelake apply CHANGES --to TARGET`: replay a change set
 * into a snapshot (files or a folder, written anew to -o) or a PostgreSQL
 * table (library: changelake/apply.h, changelake/pg.h).
 */
#include "cli.h"
#include "changelake/apply.h"
#include "changelake/dataset.h"
#include "changelake/diff.h"
#include "changelake/pg.h"

#include <stdlib.h>
#include <string.h>

enum {
	OPT_TO = OPT_CMD_BASE, OPT_KEY, OPT_OUT, OPT_FORMAT, OPT_TABLE, OPT_MODE,
	OPT_DIFFCOL, OPT_CHANGECOL, OPT_LPREFIX, OPT_RPREFIX, OPT_IVAL, OPT_CVAL,
	OPT_DVAL, OPT_NVAL, OPT_COMPRESSION, OPT_NOTSPARSE
};

static void usage(FILE *f)
{
	fputs("Usage: changelake apply CHANGES --to TARGET [--key COLS] [-o OUT] [options]\n"
	      "\n"
	      "Replay a change set made by 'changelake diff' (or spark-extension's diff,\n"
	      "column-by-column or right-side mode) into a target: I and C rows upsert\n"
	      "the new values (a NULL sets NULL), D rows delete by key, N rows are\n"
	      "skipped. Column names map exactly: right_X (or X in right-side mode)\n"
	      "feeds target column X. A change set that does not fit the target is\n"
	      "refused before anything changes.\n"
	      "\n"
	      "Targets:\n"
	      "  a snapshot (file or folder)   the new snapshot is written to -o OUT\n"
	      "  a PostgreSQL database         postgresql://... URL or libpq keywords,\n"
	      "                                with --table; one transaction per run\n"
	      "\n"
	      "Options:\n"
	      "      --to TARGET          the snapshot or database (required)\n"
	      "  -k, --key COLS           key columns (snapshot: required; PostgreSQL:\n"
	      "                           default and must-match the primary key)\n"
	      "  -o, --output OUT         snapshot target: where the new snapshot goes\n"
	      "      --format FORMAT      OUT's format (default: OUT's extension, else\n"
	      "                           the target's)\n"
	      "      --compression CODEC  Parquet codec (default snappy)\n"
	      "      --table NAME         PostgreSQL table (schema.name allowed)\n"
	      "      --mode MODE          read CHANGES as column-by-column or right-side\n"
	      "                           (default: detected from its columns)\n"
	      "      --diff-column NAME   (default diff)\n"
	      "      --change-column NAME a change column in CHANGES to skip\n"
	      "      --left-prefix P, --right-prefix P   (default left, right)\n"
	      "      --insert-value V, --change-value V, --delete-value V, --nochange-value V\n"
	      "      --not-sparse         apply a column-by-column change set that looks\n"
	      "                           sparse (C rows with values NULL on both sides and\n"
	      "                           no unchanged non-NULL value): its NULLs are real\n"
	      "\n"
	      CLI_READ_HELP CLI_COMMON_HELP
	      "\nReading options apply to CHANGES and the target alike.\n"
	      "Exit status: 0 applied, 2 trouble (nothing changed).\n", f);
}

static int split_keys(const char *arg, char ***list, int *n)
{
	const char *p = arg;
	while (*p) {
		const char *q = strchr(p, ',');
		size_t len = q ? (size_t)(q - p) : strlen(p);
		if (len) {
			char **l = realloc(*list, (size_t)(*n + 1) * sizeof *l);
			if (!l)
				return -1;
			*list = l;
			if (!(l[*n] = strndup(p, len)))
				return -1;
			(*n)++;
		}
		p += len;
		if (*p == ',')
			p++;
	}
	return 0;
}

static int apply_snapshot(const char *changes, const char *target, const char *outp,
			  cl_write_options *wo, cli_read *rd, const cl_apply_options *o,
			  cli_common *common)
{
	cl_error err = {0};
	cl_dataset *cds = NULL, *tds = NULL;
	cl_changes *ch = NULL;
	cl_apply *ap = NULL;
	cl_writer *w = NULL;
	int rc = CLI_ERROR;
	cli_progress pr;
	cli_progress_start(&pr, common, "apply: reading CHANGES");
	if (cl_dataset_open(&cds, changes, &rd->opts, &err) ||
	    cl_dataset_open(&tds, target, &rd->opts, &err) ||
	    cl_changes_create(&ch, cl_dataset_schema(cds), cl_dataset_schema(tds), o, &err) ||
	    cl_apply_create(&ap, cl_changes_schema(ch), o, &err))
		goto fail;
	for (;;) {
		cl_batch *b, *nb;
		if (cl_dataset_next(cds, &b, &err))
			goto fail;
		if (!b)
			break;
		if (cl_changes_map(ch, b, cl_dataset_file(cds), cl_dataset_first_row(cds), &nb,
				   &err) ||
		    cl_apply_add_from(ap, nb, cl_dataset_file(cds), cl_changes_rows(ch), &err))
			goto fail;
		cli_progress_update(&pr, cl_dataset_rows(cds), -1);
	}
	if (cl_changes_check(ch, &err))
		goto fail;
	if (!wo->format && cl_format_from_extension(outp) == CL_FORMAT_AUTO)
		wo->format = cl_dataset_format(tds);
	if (cl_writer_open(&w, outp, cl_dataset_schema(tds), wo, &err))
		goto fail;
	pr.what = "apply: rewriting TARGET";
	for (;;) {
		cl_batch *b, *ob;
		if (cl_dataset_next(tds, &b, &err))
			goto fail;
		if (!b)
			break;
		if (cl_apply_rewrite(ap, b, &ob, &err) || cl_writer_write(w, ob, &err))
			goto fail;
		cli_progress_update(&pr, cl_dataset_rows(tds), cl_dataset_total_rows(tds));
	}
	for (;;) {
		cl_batch *ob;
		if (cl_apply_rest(ap, &ob, &err))
			goto fail;
		if (!ob)
			break;
		if (cl_writer_write(w, ob, &err))
			goto fail;
	}
	if (cl_writer_close(w, &err))
		goto fail;
	cli_progress_done(&pr);
	const cl_apply_stats *s = cl_apply_get_stats(ap);
	if (common->json) {
		FILE *f = strcmp(outp, "-") ? stdout : stderr;
		fprintf(f,
			"{\"target_rows\":%lld,\"updated\":%lld,\"inserted\":%lld,"
			"\"deleted\":%lld,\"missing_deletes\":%lld,\"rows\":%lld,\"seconds\":%.3f}\n",
			(long long)s->target_rows, (long long)s->updated, (long long)s->inserted,
			(long long)s->deleted, (long long)s->missing_deletes,
			(long long)s->rows_out, cli_now() - pr.start);
	} else if (!common->quiet && common->progress) {
		fprintf(stderr, "apply: %lld updated, %lld inserted, %lld deleted; %lld rows\n",
			(long long)s->updated, (long long)s->inserted, (long long)s->deleted,
			(long long)s->rows_out);
	}
	rc = CLI_OK;
	goto done;
fail:
	cli_progress_done(&pr);
	rc = cli_fail_err(&err);
done:
	cl_writer_free(w);
	cl_apply_free(ap);
	cl_changes_free(ch);
	cl_dataset_free(cds);
	cl_dataset_free(tds);
	return rc;
}

int cli_cmd_apply(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"to", required_argument, 0, OPT_TO},
		{"key", required_argument, 0, OPT_KEY},
		{"output", required_argument, 0, OPT_OUT},
		{"format", required_argument, 0, OPT_FORMAT},
		{"compression", required_argument, 0, OPT_COMPRESSION},
		{"table", required_argument, 0, OPT_TABLE},
		{"mode", required_argument, 0, OPT_MODE},
		{"diff-column", required_argument, 0, OPT_DIFFCOL},
		{"change-column", required_argument, 0, OPT_CHANGECOL},
		{"left-prefix", required_argument, 0, OPT_LPREFIX},
		{"right-prefix", required_argument, 0, OPT_RPREFIX},
		{"insert-value", required_argument, 0, OPT_IVAL},
		{"change-value", required_argument, 0, OPT_CVAL},
		{"delete-value", required_argument, 0, OPT_DVAL},
		{"nochange-value", required_argument, 0, OPT_NVAL},
		{"not-sparse", no_argument, 0, OPT_NOTSPARSE},
		CLI_READ_LONGOPTS, CLI_COMMON_LONGOPTS, {0, 0, 0, 0}};
	cli_read rd;
	cli_common common;
	cl_apply_options o;
	cl_write_options wo;
	cli_read_init(&rd);
	cli_common_init(&common);
	cl_apply_options_init(&o);
	cl_write_options_init(&wo);
	char **keys = NULL;
	int nkeys = 0, rc = CLI_ERROR, opt;
	const char *to = NULL, *outp = NULL, *table = NULL;
	cl_error err = {0};
	optind = 1;
	while ((opt = getopt_long(argc, argv, "k:o:qh", longopts, NULL)) != -1) {
		int k = cli_read_option(&rd, opt, optarg);
		if (k < 0)
			goto done;
		if (k || cli_common_option(&common, opt))
			continue;
		switch (opt) {
		case OPT_TO: to = optarg; break;
		case OPT_KEY: case 'k':
			if (split_keys(optarg, &keys, &nkeys)) {
				rc = cli_fail("out of memory");
				goto done;
			}
			break;
		case OPT_OUT: case 'o': outp = optarg; break;
		case OPT_FORMAT:
			if (cl_format_parse(&wo.format, optarg, &err)) {
				rc = cli_usage_error("apply", "%s", err.message);
				goto done;
			}
			break;
		case OPT_COMPRESSION:
			if (cl_codec_parse(&wo.compression, optarg, &err)) {
				rc = cli_usage_error("apply", "%s", err.message);
				goto done;
			}
			break;
		case OPT_TABLE: table = optarg; break;
		case OPT_MODE: {
			cl_diff_mode m;
			if (cl_diff_mode_parse(&m, optarg, &err) || m == CL_DIFF_LEFT_SIDE) {
				rc = cli_usage_error("apply", "--mode takes column-by-column or right-side, not '%s'", optarg);
				goto done;
			}
			o.mode = (int)m;
			break;
		}
		case OPT_DIFFCOL: o.diff_column = optarg; break;
		case OPT_CHANGECOL: o.change_column = optarg; break;
		case OPT_LPREFIX: o.left_prefix = optarg; break;
		case OPT_RPREFIX: o.right_prefix = optarg; break;
		case OPT_IVAL: o.insert_value = optarg; break;
		case OPT_CVAL: o.change_value = optarg; break;
		case OPT_DVAL: o.delete_value = optarg; break;
		case OPT_NVAL: o.nochange_value = optarg; break;
		case OPT_NOTSPARSE: o.allow_sparse = true; break;
		case OPT_HELP: case 'h':
			usage(stdout);
			rc = CLI_OK;
			goto done;
		default:
			rc = cli_usage_error("apply", "unknown option");
			goto done;
		}
	}
	if (argc - optind != 1) {
		rc = cli_usage_error("apply", "expected one CHANGES file or folder");
		goto done;
	}
	if (!to) {
		rc = cli_usage_error("apply", "--to TARGET is required");
		goto done;
	}
	const char *changes = argv[optind];
	o.keys = (const char *const *)keys;
	o.nkeys = nkeys;
	if (cl_pg_is_target(to)) {
		if (!table) {
			rc = cli_usage_error("apply", "--table is required for a PostgreSQL target");
			goto done;
		}
		cl_pg_apply_stats st;
		double t0 = cli_now();
		if (cl_pg_apply(to, table, changes, &rd.opts, &o, &st, &err)) {
			rc = cli_fail_err(&err);
			goto done;
		}
		if (common.json) {
			fputs("{\"table\":", stdout);
			cli_json_string(stdout, table);
			printf(",\"change_rows\":%lld,\"upserted\":%lld,\"deleted\":%lld,"
			       "\"seconds\":%.3f}\n",
			       (long long)st.change_rows, (long long)st.upserted,
			       (long long)st.deleted, cli_now() - t0);
		} else if (!common.quiet && common.progress)
			fprintf(stderr, "apply: %lld rows upserted, %lld deleted in %s\n",
				(long long)st.upserted, (long long)st.deleted, table);
		rc = CLI_OK;
		goto done;
	}
	if (!nkeys) {
		rc = cli_usage_error("apply", "--key is required for a snapshot target");
		goto done;
	}
	if (!outp) {
		rc = cli_usage_error("apply", "-o OUT is required: where the new snapshot goes");
		goto done;
	}
	rc = apply_snapshot(changes, to, outp, &wo, &rd, &o, &common);
done:
	for (int i = 0; i < nkeys; i++)
		free(keys[i]);
	free(keys);
	cli_read_release(&rd);
	return rc;
}
