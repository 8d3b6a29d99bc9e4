/*
 * cmd_apply.c — `changelake apply CHANGES --to TARGET`: replay a change set
 * into a lake table (one copy-on-write commit), a snapshot (files, a
 * folder or a table version, written anew to -o) or a PostgreSQL table
 * (library: changelake/apply.h, changelake/table.h, changelake/pg.h). A
 * lake table's data commit is followed by auto-compaction (cmd_compact.c).
 */
#include "cli.h"
#include "changelake/apply.h"
#include "changelake/dataset.h"
#include "changelake/diff.h"
#include "changelake/pg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

enum {
	OPT_TO = OPT_CMD_BASE, OPT_KEY, OPT_OUT, OPT_FORMAT, OPT_TABLE, OPT_MODE,
	OPT_DIFFCOL, OPT_CHANGECOL, OPT_LPREFIX, OPT_RPREFIX, OPT_IVAL, OPT_CVAL,
	OPT_DVAL, OPT_NVAL, OPT_COMPRESSION, OPT_NOTSPARSE, OPT_APPID, OPT_APPVER, OPT_AUTOC,
	OPT_NO_AUTOC, OPT_THREADS
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
	      "  a lake table (a folder with _delta_log/)   the changes are committed\n"
	      "                                as one new version: only the data files\n"
	      "                                holding a changed key are rewritten;\n"
	      "                                keys are the table's; a commit racing\n"
	      "                                on the same files makes it redo the\n"
	      "                                change on top (up to 5 times)\n"
	      "  a snapshot (file or folder)   the new snapshot is written to -o OUT\n"
	      "                                (also TABLE@VERSION with -o: the table\n"
	      "                                is only read)\n"
	      "  a PostgreSQL database         postgresql://... URL or libpq keywords,\n"
	      "                                with --table; one transaction per run\n"
	      "\n"
	      "Options:\n"
	      "      --to TARGET          the snapshot or database (required)\n"
	      "  -k, --key COLS           key columns (snapshot: required; PostgreSQL:\n"
	      "                           default and must-match the primary key; lake\n"
	      "                           table: the table's, must match when given)\n"
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
	      "      --app-id ID --app-version N\n"
	      "                           lake table: record that application ID applied\n"
	      "                           its change set N, in the same commit; a table\n"
	      "                           holding N or later for ID is left alone (a rerun\n"
	      "                           applies nothing twice)\n"
	      "      --threads N          lake table: rewrite N buckets at a time\n"
	      "                           (default: the number of cores)\n"
	      "      --auto-compact, --no-auto-compact\n"
	      "                           lake table: after the commit, compact small\n"
	      "                           files and purge deletion vectors, or not, this\n"
	      "                           run (default: the table's setting, see\n"
	      "                           changelake table auto-compact --help)\n"
	      "\n"
	      CLI_READ_HELP CLI_COMMON_HELP
	      "\nReading options apply to CHANGES and the target alike.\n"
	      "Exit status: 0 applied, 2 trouble (nothing changed). A lake table's\n"
	      "auto-compaction is a commit of its own after the changes: when it fails\n"
	      "the changes stand, a warning is printed and the exit status stays 0.\n", f);
}

static int apply_snapshot(const char *changes, const char *target, const char *outp,
			  cl_write_options *wo, cli_read *rd, const cl_apply_options *o,
			  cli_common *common)
{
	cl_error err = {0};
	cli_input cin = {0}, tin = {0};
	cl_changes *ch = NULL;
	cl_apply *ap = NULL;
	cl_writer *w = NULL;
	int rc = CLI_ERROR;
	cli_progress pr;
	cli_progress_start(&pr, common, "apply: reading CHANGES");
	if (cli_input_open(&cin, changes, rd, &err) || cli_input_open(&tin, target, rd, &err) ||
	    cl_changes_create(&ch, cli_input_schema(&cin), cli_input_schema(&tin), o, &err) ||
	    cl_apply_create(&ap, cl_changes_schema(ch), o, &err))
		goto fail;
	for (;;) {
		cl_batch *b, *nb;
		const char *src = NULL;
		int64_t first = 0;
		if (cli_input_next(&cin, &b, &src, &first, &err))
			goto fail;
		if (!b)
			break;
		if (cl_changes_map(ch, b, src, first, &nb, &err) ||
		    cl_apply_add_from(ap, nb, src, cl_changes_rows(ch), &err))
			goto fail;
		cli_progress_update(&pr, cli_input_rows(&cin), -1);
	}
	if (cl_changes_check(ch, &err))
		goto fail;
	if (!wo->format && cl_format_from_extension(outp) == CL_FORMAT_AUTO)
		wo->format = cli_input_format(&tin);
	if (cl_writer_open(&w, outp, cli_input_schema(&tin), wo, &err))
		goto fail;
	pr.what = "apply: rewriting TARGET";
	for (;;) {
		cl_batch *b, *ob;
		const char *src = NULL;
		int64_t first = 0;
		if (cli_input_next(&tin, &b, &src, &first, &err))
			goto fail;
		if (!b)
			break;
		if (cl_apply_rewrite(ap, b, &ob, &err) || cl_writer_write(w, ob, &err))
			goto fail;
		cli_progress_update(&pr, cli_input_rows(&tin), cli_input_total_rows(&tin));
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
	cli_input_close(&cin);
	cli_input_close(&tin);
	return rc;
}

/* The table's key columns (changelake.keys) as the options' keys; --key,
 * when given, must name the same columns. */
static int table_keys(const cl_snapshot *s, const char *table, cl_apply_options *o,
		      char ***keys, int *nkeys)
{
	const char *conf = cl_snapshot_config(s, CL_TABLE_CONF_KEYS);
	if (!conf || !*conf)
		return cli_fail("%s: the table has no key columns (%s), so changes cannot find "
				"their rows; it was created append-only", table, CL_TABLE_CONF_KEYS);
	char **tk = NULL;
	int ntk = 0;
	if (cli_split_list(conf, &tk, &ntk)) {
		cli_free_list(tk, ntk);
		return cli_fail("out of memory");
	}
	bool same = o->nkeys == 0 || o->nkeys == ntk;
	for (int i = 0; same && i < o->nkeys; i++)
		same = !strcmp(o->keys[i], tk[i]);
	if (!same) {
		cli_free_list(tk, ntk);
		return cli_fail("%s: the table's key is '%s'; --key named another", table, conf);
	}
	cli_free_list(*keys, *nkeys);
	*keys = tk;
	*nkeys = ntk;
	o->keys = (const char *const *)tk;
	o->nkeys = ntk;
	return 0;
}

/*
 * A lake table target: the changes, mapped onto the table's columns (a
 * change set that does not fit is refused here, before anything is
 * written), go through the copy-on-write primitive in one commit; only
 * the files that hold a changed key are rewritten. A concurrent commit
 * that touched the same files makes the change be redone on top of it.
 */
static int apply_table(const char *changes, const char *table, cli_read *rd,
		       cl_apply_options *o, char ***keys, int *nkeys, const char *app_id,
		       int64_t app_version, int autoc, int threads, cli_common *common)
{
	cl_error err = {0};
	cli_input cin = {0};
	cl_table *t = NULL;
	cl_snapshot *s = NULL;
	cl_schema *ws = NULL;
	cl_changes *ch = NULL;
	cl_table_changes *tc = NULL;
	const char **derived = NULL;
	int rc = CLI_ERROR;
	cli_progress pr;
	cli_progress_start(&pr, common, "apply: reading CHANGES");
	if (cl_table_open(&t, table, &err) || cl_table_snapshot(&s, t, NULL, &err))
		goto fail;
	if (table_keys(s, table, o, keys, nkeys))
		goto done;
	o->target_name = table;
	if (cl_snapshot_write_schema(&ws, s, &err))
		goto fail;
	/* columns computed by partition transforms: a change set made from
	 * another version of a table carries them; they are recomputed */
	const cl_schema *ts = cl_snapshot_schema(s);
	derived = calloc((size_t)ts->nfields + 1, sizeof *derived);
	if (!derived) {
		rc = cli_fail("out of memory");
		goto done;
	}
	int nderived = 0;
	for (int i = 0; i < ts->nfields; i++)
		if (cl_schema_find(ws, ts->fields[i].name) < 0)
			derived[nderived++] = ts->fields[i].name;
	o->derived = derived;
	o->nderived = nderived;
	if (cli_input_open(&cin, changes, rd, &err) ||
	    cl_changes_create(&ch, cli_input_schema(&cin), ws, o, &err) ||
	    cl_table_changes_open(&tc, t, cl_changes_schema(ch), &err))
		goto fail;
	cl_table_changes_set_threads(tc, threads);
	int64_t nchanges = 0;
	for (;;) {
		cl_batch *b, *nb;
		const char *src = NULL;
		int64_t first = 0;
		if (cli_input_next(&cin, &b, &src, &first, &err))
			goto fail;
		if (!b)
			break;
		if (cl_changes_map(ch, b, src, first, &nb, &err) ||
		    cl_table_changes_add(tc, nb, &err))
			goto fail;
		nchanges += nb->nrows;
		cli_progress_update(&pr, cli_input_rows(&cin), cli_input_total_rows(&cin));
	}
	if (cl_changes_check(ch, &err))
		goto fail;
	pr.what = "apply: rewriting files";
	cli_progress_update(&pr, 0, -1);
	cl_table_cow_stats st;
	int64_t version = -1;
	if (cl_table_changes_commit(tc, "APPLY", app_id, app_version, &st, &version, &err)) {
		cl_error_prefix(&err, "%s: nothing changed: ", table);
		goto fail;
	}
	/* a separate commit; its failure is a warning, never the run's */
	cl_autocompact_result ac = {0};
	if (version >= 0) {
		pr.what = "apply: auto-compaction";
		cli_progress_update(&pr, 0, -1);
		cli_autocompact_run(table, autoc, &ac);
	}
	cli_progress_done(&pr);
	double secs = cli_now() - pr.start;
	if (common->json) {
		fputs("{\"table\":", stdout);
		cli_json_string(stdout, table);
		printf(",\"version\":%lld,\"base_version\":%lld,\"changes\":%lld",
		       (long long)version, (long long)cl_snapshot_version(s), (long long)nchanges);
		if (app_id) {
			fputs(",\"app_id\":", stdout);
			cli_json_string(stdout, app_id);
			printf(",\"app_version\":%lld", (long long)app_version);
		}
		printf(",\"already_applied\":%s", version < 0 && app_id ? "true" : "false");
		if (version >= 0)
			printf(",\"upserted\":%lld,\"deleted\":%lld,\"missing_deletes\":%lld,"
			       "\"files_candidates\":%lld,\"files_rewritten\":%lld,"
			       "\"files_added\":%lld,\"rows_copied\":%lld,\"bytes_rewritten\":%lld",
			       (long long)st.rows_upserted, (long long)st.rows_deleted,
			       (long long)st.deletes_missing, (long long)st.files_candidates,
			       (long long)st.files_rewritten, (long long)st.files_added,
			       (long long)st.rows_copied, (long long)st.bytes_removed);
		if (version >= 0 && (st.files_dv || st.dv_bytes))
			printf(",\"files_deletion_vectors\":%lld,\"deletion_vector_bytes\":%lld",
			       (long long)st.files_dv, (long long)st.dv_bytes);
		fputs(",", stdout);
		cli_autocompact_json(stdout, version >= 0 ? &ac : NULL, true);
		printf(",\"seconds\":%.3f}\n", secs);
		if (!common->quiet && version >= 0)
			cli_autocompact_warn("apply", table, &ac);
	} else if (!common->quiet) {
		if (version < 0)
			fprintf(stderr, "apply: %s already holds version %lld of application '%s'; "
				"nothing done\n", table, (long long)app_version, app_id);
		else
			fprintf(stderr,
				"apply: %s version %lld: %lld upserted, %lld deleted (%lld not "
				"there); %lld of %zu files rewritten (%lld bytes, %lld rows copied), "
				"%lld files added\n",
				table, (long long)version, (long long)st.rows_upserted,
				(long long)st.rows_deleted, (long long)st.deletes_missing,
				(long long)st.files_rewritten, cl_snapshot_nfiles(s),
				(long long)st.bytes_removed, (long long)st.rows_copied,
				(long long)st.files_added);
		if (version >= 0 && st.files_dv)
			fprintf(stderr, "apply: %lld files kept their rows with a deletion vector "
				"(%lld bytes)\n", (long long)st.files_dv, (long long)st.dv_bytes);
		if (version >= 0)
			cli_autocompact_summary(stderr, "apply", table, &ac);
	}
	if (version >= 0)
		cli_warn_checkpoint(common, t, table, version);
	if (version >= 0 && ac.version >= 0)
		cli_warn_checkpoint(common, NULL, table, ac.version);
	rc = CLI_OK;
	goto done;
fail:
	cli_progress_done(&pr);
	rc = cli_fail_err(&err);
done:
	cl_table_changes_free(tc);
	cl_changes_free(ch);
	o->derived = NULL;
	o->nderived = 0;
	free(derived);
	cl_schema_free(ws);
	cli_input_close(&cin);
	cl_snapshot_free(s);
	cl_table_free(t);
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
		{"app-id", required_argument, 0, OPT_APPID},
		{"app-version", required_argument, 0, OPT_APPVER},
		{"auto-compact", no_argument, 0, OPT_AUTOC},
		{"no-auto-compact", no_argument, 0, OPT_NO_AUTOC},
		{"threads", required_argument, 0, OPT_THREADS},
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
	int nkeys = 0, rc = CLI_ERROR, opt, autoc = 0;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int threads = ncpu < 1 ? 1 : ncpu > 64 ? 64 : (int)ncpu;
	const char *to = NULL, *outp = NULL, *table = NULL, *app_id = NULL;
	int64_t app_version = -1;
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
			if (cli_split_list(optarg, &keys, &nkeys)) {
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
		case OPT_AUTOC: autoc = 1; break;
		case OPT_NO_AUTOC: autoc = -1; break;
		case OPT_THREADS: {
			char *end;
			long n = strtol(optarg, &end, 10);
			if (*end || end == optarg || n < 1 || n > 64) {
				rc = cli_usage_error("apply",
						     "--threads takes a number from 1 to 64, not '%s'",
						     optarg);
				goto done;
			}
			threads = (int)n;
			break;
		}
		case OPT_APPID:
			if (!*optarg) {
				rc = cli_usage_error("apply", "--app-id takes a non-empty name");
				goto done;
			}
			app_id = optarg;
			break;
		case OPT_APPVER: {
			char *end;
			errno = 0;
			long long v = strtoll(optarg, &end, 10);
			if (errno || *end || end == optarg || v < 0) {
				rc = cli_usage_error("apply", "--app-version takes a number >= 0, not '%s'",
						     optarg);
				goto done;
			}
			app_version = v;
			break;
		}
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
	if ((app_id != NULL) != (app_version >= 0)) {
		rc = cli_usage_error("apply", "--app-id and --app-version go together");
		goto done;
	}
	if (cli_is_table(to) && !outp) {
		char *loc = NULL;
		cl_table_at at;
		if (cl_table_ref_parse(&loc, &at, to, &err)) {
			rc = cli_fail_err(&err);
			goto done;
		}
		if (at.kind != CL_AT_LATEST) {
			cl_free(loc);
			rc = cli_usage_error("apply", "%s: changes go on top of the latest version; "
					     "to apply them to an older one, write the result "
					     "elsewhere with -o OUT", to);
			goto done;
		}
		rc = apply_table(changes, loc, &rd, &o, &keys, &nkeys, app_id, app_version, autoc,
				 threads, &common);
		cl_free(loc);
		goto done;
	}
	if (app_id) {
		rc = cli_usage_error("apply", "--app-id is for a lake table target");
		goto done;
	}
	if (cli_is_table(to)) {
		/* a table version read as a snapshot: its keys */
		char *loc = NULL;
		cl_table_at at;
		cl_table *t = NULL;
		cl_snapshot *s = NULL;
		if (cl_table_ref_parse(&loc, &at, to, &err) || cl_table_open(&t, loc, &err) ||
		    cl_table_snapshot(&s, t, &at, &err))
			rc = cli_fail_err(&err);
		else
			rc = table_keys(s, to, &o, &keys, &nkeys) ? CLI_ERROR : CLI_OK;
		cl_snapshot_free(s);
		cl_table_free(t);
		cl_free(loc);
		if (rc)
			goto done;
	}
	if (!nkeys) {
		rc = cli_usage_error("apply", "--key is required for a snapshot target");
		goto done;
	}
	if (!outp) {
		struct stat st;
		if (stat(to, &st) == 0 && S_ISDIR(st.st_mode))
			rc = cli_usage_error("apply", "-o OUT is required: where the new snapshot "
					     "goes (%s is a folder of files, not a lake table: it "
					     "has no _delta_log/)", to);
		else
			rc = cli_usage_error("apply", "-o OUT is required: where the new snapshot goes");
		goto done;
	}
	rc = apply_snapshot(changes, to, outp, &wo, &rd, &o, &common);
done:
	cli_free_list(keys, nkeys);
	cli_read_release(&rd);
	return rc;
}
