/*
 * clbench.c — the changelake side of `make bench`: one measured operation
 * per process, reported as one line of JSON on standard output.
 *
 *   clbench read FILE [--threads N]
 *       Timed: open FILE with cl_reader_open, pull every batch of every row
 *       group (all columns) and fold a per-column checksum (null count, and
 *       sum/max of ints and timestamps, sum of floats, total string bytes)
 *       so that every decoded value is looked at once.
 *   clbench write IN OUT [--threads N] [--codec NAME]
 *       Untimed: read IN into memory (deep copies of every batch).
 *       Timed: cl_writer_open(OUT, codec, default SNAPPY), write every batch,
 *       cl_writer_close.
 *   clbench cow TABLE CHANGES [--threads N]
 *       Untimed: read CHANGES (rows with the table's columns, the key among
 *       them) into memory. Timed: upsert every row into the lake table
 *       TABLE through the copy-on-write primitive (cl_table_changes_open,
 *       _add with action 'C', _commit: one commit), and report the
 *       cl_table_cow_stats (files and bytes rewritten, rows copied).
 *   clbench exec [--threads N] -- PROGRAM ARGS...
 *       Timed: run a program (e.g. `changelake diff ...`) and report its
 *       wall time, CPU time and peak RSS (from wait4). Its standard output
 *       goes to our standard error so the JSON line stays alone on stdout.
 *       --threads N sets CL_THREADS=N for the program (the library's
 *       default where no thread count is given; commands with a
 *       --threads option of their own take that instead).
 *   clbench idle
 *       Nothing; reports the peak RSS of an idle process (the baseline).
 *
 * Memory: just before the timed part the kernel's high-water mark is reset
 * (writing "5" to /proc/self/clear_refs), so "peak_kb" is the largest RSS
 * seen during the timed part and "rss_before_kb" what was resident when it
 * started (for write: the loaded input). "maxrss_kb" is getrusage's
 * whole-process peak, which includes the untimed load.
 *
 * Threads: --threads N sets cl_read_options.threads / cl_write_options.threads
 * (for write, also for the untimed load). CL_THREADS, the library's
 * default where an option is 0, is removed from the environment so that
 * nothing else runs threaded; for cow, --threads N is the change set's thread count
 * (cl_table_changes_set_threads: buckets rewritten N at a time, as
 * `changelake apply --threads N` does). "cpu_seconds" against "seconds"
 * shows how many cores worked.
 *
 * Exit status: 0 on success, 1 on a library error (the JSON then carries
 * "error"), 2 on a usage error.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "changelake.h"

typedef struct measure {
	double t0, cpu0;
	long rss_before_kb;
	bool hwm_reset;
	double seconds, cpu_seconds;
	long peak_kb, maxrss_kb;
} measure;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double tv_s(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec * 1e-6;
}

static double cpu_s(int who)
{
	struct rusage ru;
	getrusage(who, &ru);
	return tv_s(ru.ru_utime) + tv_s(ru.ru_stime);
}

static long maxrss_kb(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

/* "VmRSS" or "VmHWM" of this process in kB, or -1. */
static long proc_status_kb(const char *key)
{
	FILE *f = fopen("/proc/self/status", "r");
	if (!f)
		return -1;
	char line[256];
	long v = -1;
	size_t klen = strlen(key);
	while (fgets(line, sizeof line, f)) {
		if (!strncmp(line, key, klen) && line[klen] == ':') {
			v = strtol(line + klen + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return v;
}

/* Reset the RSS high-water mark (Linux >= 4.0); false when not possible. */
static bool reset_hwm(void)
{
	FILE *f = fopen("/proc/self/clear_refs", "w");
	if (!f)
		return false;
	bool ok = fputs("5", f) >= 0;
	if (fclose(f) != 0)
		ok = false;
	return ok;
}

static void measure_start(measure *m)
{
	memset(m, 0, sizeof *m);
	m->hwm_reset = reset_hwm();
	m->rss_before_kb = proc_status_kb("VmRSS");
	m->cpu0 = cpu_s(RUSAGE_SELF);
	m->t0 = now_s();
}

static void measure_stop(measure *m)
{
	m->seconds = now_s() - m->t0;
	m->cpu_seconds = cpu_s(RUSAGE_SELF) - m->cpu0;
	m->maxrss_kb = maxrss_kb();
	m->peak_kb = m->hwm_reset ? proc_status_kb("VmHWM") : m->maxrss_kb;
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

static void print_measure(FILE *f, const measure *m)
{
	fprintf(f, "\"seconds\":%.6f,\"cpu_seconds\":%.6f,\"rss_before_kb\":%ld,"
		   "\"peak_kb\":%ld,\"maxrss_kb\":%ld,\"hwm_reset\":%s",
		m->seconds, m->cpu_seconds, m->rss_before_kb, m->peak_kb, m->maxrss_kb,
		m->hwm_reset ? "true" : "false");
}

static void print_threads(FILE *f, int threads)
{
	fprintf(f, "\"threads\":%d", threads);
}

static int fail(const char *op, const cl_error *err)
{
	printf("{\"op\":");
	json_str(stdout, op);
	printf(",\"error\":");
	json_str(stdout, err->message[0] ? err->message : cl_error_name(err->code));
	printf("}\n");
	return 1;
}

static int usage(void)
{
	fputs("usage: clbench read FILE [--threads N]\n"
	      "       clbench write IN OUT [--threads N] [--codec NAME]\n"
	      "       clbench cow TABLE CHANGES [--threads N]\n"
	      "       clbench exec [--threads N] -- PROGRAM [ARGS...]\n"
	      "       clbench idle\n",
	      stderr);
	return 2;
}

/* Parse "--threads N" and "--codec NAME" from argv[from..]; positional
 * arguments are collected into pos (at most npos). */
typedef struct args {
	int threads;
	const char *codec;
	const char *pos[4];
	int npos;
} args;

static int parse_args(args *a, int argc, char **argv, int from)
{
	memset(a, 0, sizeof *a);
	a->threads = 1;
	a->codec = "snappy";
	for (int i = from; i < argc; i++) {
		if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
			char *end;
			long n = strtol(argv[++i], &end, 10);
			if (*end || n < 1 || n > 1024)
				return -1;
			a->threads = (int)n;
		} else if (!strcmp(argv[i], "--codec") && i + 1 < argc) {
			a->codec = argv[++i];
		} else if (argv[i][0] == '-' && argv[i][1]) {
			return -1;
		} else if (a->npos < 4) {
			a->pos[a->npos++] = argv[i];
		} else {
			return -1;
		}
	}
	/* CL_THREADS is the library's default where an option is 0 (the
	 * table code's own readers): only --threads may add threads */
	unsetenv("CL_THREADS");
	return 0;
}

/* ---- read ---- */

typedef struct colsum {
	int64_t nulls;
	uint64_t isum; /* wrapping sum of integer-like values / string bytes */
	int64_t imax;
	double fsum;
	bool any;
} colsum;

static bool is_intlike(cl_type t)
{
	switch (t.id) {
	case CL_INT8: case CL_INT16: case CL_INT32: case CL_INT64:
	case CL_UINT8: case CL_UINT16: case CL_UINT32: case CL_UINT64:
	case CL_DATE: case CL_TIME: case CL_TIMESTAMP:
		return true;
	default:
		return false;
	}
}

/* Fold every value of column c into s. The hot loops for the types of the
 * benchmark file read the buffers directly; others go through accessors. */
static void fold_column(colsum *s, const cl_column *c)
{
	int64_t n = c->length;
	s->nulls += c->null_count;
	const uint8_t *valid = c->null_count ? c->validity : NULL;
	if (c->type.id == CL_INT64 || c->type.id == CL_TIMESTAMP ||
	    c->type.id == CL_TIME) {
		const int64_t *v = (const int64_t *)c->values;
		uint64_t sum = 0;
		int64_t mx = s->any ? s->imax : INT64_MIN;
		for (int64_t i = 0; i < n; i++) {
			if (valid && !cl_bit_get(valid, i))
				continue;
			sum += (uint64_t)v[i];
			mx = v[i] > mx ? v[i] : mx;
		}
		s->isum += sum;
		s->imax = mx;
		s->any = s->any || n > c->null_count;
	} else if (c->type.id == CL_FLOAT64) {
		const double *v = (const double *)c->values;
		double sum = 0;
		for (int64_t i = 0; i < n; i++)
			if (!valid || cl_bit_get(valid, i))
				sum += v[i];
		s->fsum += sum;
	} else if (cl_type_is_var(c->type)) {
		/* Null slots are empty ranges, so the byte total needs no check. */
		s->isum += (uint64_t)(c->offsets[n] - c->offsets[0]);
	} else if (c->type.id == CL_FLOAT32) {
		for (int64_t i = 0; i < n; i++)
			if (!valid || cl_bit_get(valid, i))
				s->fsum += cl_column_get_f64(c, i);
	} else if (is_intlike(c->type)) {
		for (int64_t i = 0; i < n; i++) {
			if (valid && !cl_bit_get(valid, i))
				continue;
			int64_t x = cl_column_get_i64(c, i);
			s->isum += (uint64_t)x;
			if (!s->any || x > s->imax)
				s->imax = x;
			s->any = true;
		}
	} else if (c->type.id == CL_BOOL) {
		for (int64_t i = 0; i < n; i++)
			if ((!valid || cl_bit_get(valid, i)) && cl_column_get_bool(c, i))
				s->isum++;
	} else if (c->type.id == CL_DECIMAL) {
		for (int64_t i = 0; i < n; i++) {
			uint64_t lo;
			memcpy(&lo, c->values + (size_t)i * 16, 8);
			s->isum += lo;
		}
	}
}

static int cmd_read(int argc, char **argv)
{
	args a;
	if (parse_args(&a, argc, argv, 2) || a.npos != 1)
		return usage();
	cl_error err = {0};
	cl_reader *r = NULL;
	colsum *sums = NULL;
	cl_read_options ro;
	int ncols = 0, rc;
	measure m;

	cl_read_options_init(&ro);
	ro.threads = a.threads;
	measure_start(&m);
	rc = cl_reader_open(&r, a.pos[0], &ro, &err);
	if (rc)
		goto out;
	const cl_schema *schema = cl_reader_schema(r);
	ncols = schema->nfields;
	sums = cl_calloc((size_t)ncols + 1, sizeof *sums);
	if (!sums) {
		rc = cl_error_set(&err, CL_ENOMEM, "out of memory");
		goto out;
	}
	int64_t batches = 0;
	for (;;) {
		cl_batch *b;
		rc = cl_reader_next(r, &b, &err);
		if (rc || !b)
			break;
		if (b->ncols != ncols) {
			rc = cl_error_set(&err, CL_EINTERNAL, "batch has %d columns, schema %d",
					  b->ncols, ncols);
			break;
		}
		batches++;
		for (int i = 0; i < ncols; i++)
			fold_column(&sums[i], &b->cols[i]);
	}
	measure_stop(&m);
	if (rc)
		goto out;

	printf("{\"op\":\"read\",\"engine\":\"changelake\",");
	print_threads(stdout, a.threads);
	printf(",");
	print_measure(stdout, &m);
	printf(",\"batches\":%" PRId64 ",\"checksum\":{\"rows\":%" PRId64
	       ",\"columns\":[",
	       batches, cl_reader_rows(r));
	for (int i = 0; i < ncols; i++) {
		const cl_field *f = &schema->fields[i];
		char tbuf[64];
		printf("%s{\"name\":", i ? "," : "");
		json_str(stdout, f->name);
		printf(",\"type\":\"%s\",\"nulls\":%" PRId64,
		       cl_type_format(tbuf, sizeof tbuf, f->type), sums[i].nulls);
		if (f->type.id == CL_FLOAT32 || f->type.id == CL_FLOAT64)
			printf(",\"sum\":%.17g", sums[i].fsum);
		else
			printf(",\"sum\":\"%" PRId64 "\"", (int64_t)sums[i].isum);
		if (is_intlike(f->type) && sums[i].any)
			printf(",\"max\":\"%" PRId64 "\"", sums[i].imax);
		printf("}");
	}
	printf("]}}\n");
out:
	cl_free(sums);
	cl_reader_free(r);
	return rc ? fail("read", &err) : 0;
}

/* ---- write ---- */

/* Deep copy of a borrowed batch, buffer by buffer. */
static int batch_clone(cl_batch **out, const cl_batch *src, const cl_schema *schema,
		       cl_error *err)
{
	cl_batch *b = NULL;
	int64_t n = src->nrows;
	int rc = cl_batch_create(&b, schema, n > 0 ? n : 1, err);
	if (rc)
		return rc;
	for (int i = 0; i < src->ncols && !rc; i++) {
		const cl_column *s = &src->cols[i];
		cl_column *d = &b->cols[i];
		if (s->length != n) {
			rc = cl_error_set(err, CL_EINTERNAL, "column %d has %" PRId64
					  " values, batch %" PRId64, i, s->length, n);
			break;
		}
		if (s->validity && s->null_count) {
			rc = cl_column_ensure_validity(d, err);
			if (rc)
				break;
			memcpy(d->validity, s->validity, (size_t)(n + 7) / 8);
		}
		int w = cl_type_width(s->type);
		if (s->type.id == CL_BOOL)
			memcpy(d->values, s->values, (size_t)(n + 7) / 8);
		else if (w)
			memcpy(d->values, s->values, (size_t)n * (size_t)w);
		else {
			int64_t base = s->offsets[0], used = s->offsets[n] - base;
			rc = cl_column_reserve_data(d, used, err);
			if (rc)
				break;
			for (int64_t j = 0; j <= n; j++)
				d->offsets[j] = s->offsets[j] - base;
			if (used)
				memcpy(d->data, s->data + base, (size_t)used);
		}
		d->length = n;
		d->null_count = s->null_count;
	}
	b->nrows = n;
	if (!rc)
		rc = cl_batch_validate(b, err);
	if (rc) {
		cl_batch_free(b);
		return rc;
	}
	*out = b;
	return 0;
}

static int cmd_write(int argc, char **argv)
{
	args a;
	if (parse_args(&a, argc, argv, 2) || a.npos != 2)
		return usage();
	cl_error err = {0};
	cl_reader *r = NULL;
	cl_writer *w = NULL;
	cl_batch **batches = NULL;
	int64_t nb = 0, cap = 0, rows = 0;
	cl_read_options ro;
	cl_write_options wo;
	int rc;
	measure m;

	cl_read_options_init(&ro);
	ro.threads = a.threads;
	cl_write_options_init(&wo);
	wo.threads = a.threads;
	/* Parquet unless OUT names another format (handy to test the harness). */
	wo.format = cl_format_from_extension(a.pos[1]);
	if (wo.format == CL_FORMAT_AUTO)
		wo.format = CL_FORMAT_PARQUET;
	rc = cl_codec_parse(&wo.compression, a.codec, &err);
	if (rc)
		goto out;
	rc = cl_reader_open(&r, a.pos[0], &ro, &err);
	if (rc)
		goto out;
	const cl_schema *schema = cl_reader_schema(r);
	for (;;) {
		cl_batch *b, *copy;
		rc = cl_reader_next(r, &b, &err);
		if (rc || !b)
			break;
		if (nb == cap) {
			int64_t ncap = cap ? cap * 2 : 64;
			cl_batch **nbs = cl_realloc(batches, (size_t)ncap * sizeof *nbs);
			if (!nbs) {
				rc = cl_error_set(&err, CL_ENOMEM, "out of memory");
				break;
			}
			batches = nbs;
			cap = ncap;
		}
		rc = batch_clone(&copy, b, schema, &err);
		if (rc)
			break;
		batches[nb++] = copy;
		rows += copy->nrows;
	}
	if (rc)
		goto out;

	measure_start(&m);
	rc = cl_writer_open(&w, a.pos[1], schema, &wo, &err);
	for (int64_t i = 0; i < nb && !rc; i++)
		rc = cl_writer_write(w, batches[i], &err);
	if (!rc)
		rc = cl_writer_close(w, &err);
	measure_stop(&m);
	if (rc)
		goto out;

	printf("{\"op\":\"write\",\"engine\":\"changelake\",");
	print_threads(stdout, a.threads);
	printf(",");
	print_measure(stdout, &m);
	printf(",\"codec\":");
	json_str(stdout, cl_codec_name(wo.compression));
	/* cl_writer_bytes is 0 once the writer is closed: ask the file system. */
	struct stat st;
	int64_t bytes = stat(a.pos[1], &st) == 0 ? (int64_t)st.st_size : -1;
	printf(",\"rows\":%" PRId64 ",\"batches\":%" PRId64 ",\"bytes\":%" PRId64 "}\n",
	       rows, nb, bytes);
out:
	cl_writer_free(w);
	for (int64_t i = 0; i < nb; i++)
		cl_batch_free(batches[i]);
	cl_free(batches);
	cl_reader_free(r);
	return rc ? fail("write", &err) : 0;
}

/* ---- cow ---- */

static void print_cow_stats(FILE *f, const cl_table_cow_stats *st, int64_t version)
{
	fprintf(f, "\"cow\":{\"version\":%" PRId64 ",\"files_candidates\":%" PRId64
		   ",\"files_rewritten\":%" PRId64 ",\"files_added\":%" PRId64
		   ",\"rows_copied\":%" PRId64 ",\"rows_upserted\":%" PRId64
		   ",\"rows_deleted\":%" PRId64 ",\"bytes_removed\":%" PRId64 "}",
		version, st->files_candidates, st->files_rewritten, st->files_added,
		st->rows_copied, st->rows_upserted, st->rows_deleted, st->bytes_removed);
}

static int cmd_cow(int argc, char **argv)
{
	args a;
	if (parse_args(&a, argc, argv, 2) || a.npos != 2)
		return usage();
	cl_error err = {0};
	cl_reader *r = NULL;
	cl_table *t = NULL;
	cl_table_changes *c = NULL;
	cl_schema *cs = NULL;
	cl_batch **batches = NULL;
	cl_column *action = NULL, *cols = NULL;
	int64_t nb = 0, cap = 0, rows = 0, version = -1;
	cl_table_cow_stats st;
	cl_read_options ro;
	int rc, ncols = 0;
	measure m;

	memset(&st, 0, sizeof st);
	cl_read_options_init(&ro);
	ro.threads = a.threads;
	rc = cl_reader_open(&r, a.pos[1], &ro, &err);
	if (rc)
		goto out;
	const cl_schema *schema = cl_reader_schema(r);
	ncols = schema->nfields;
	rc = cl_schema_create(&cs, &err);
	rc = rc ? rc : cl_schema_add(cs, "_action", cl_type_make(CL_INT8), false, &err);
	for (int i = 0; !rc && i < ncols; i++)
		rc = cl_schema_add(cs, schema->fields[i].name, schema->fields[i].type,
				   schema->fields[i].nullable, &err);
	for (;;) {
		cl_batch *b, *copy;
		rc = rc ? rc : cl_reader_next(r, &b, &err);
		if (rc || !b)
			break;
		if (nb == cap) {
			int64_t ncap = cap ? cap * 2 : 64;
			cl_batch **nbs = cl_realloc(batches, (size_t)ncap * sizeof *nbs);
			if (!nbs) {
				rc = cl_error_set(&err, CL_ENOMEM, "out of memory");
				break;
			}
			batches = nbs;
			cap = ncap;
		}
		rc = batch_clone(&copy, b, schema, &err);
		if (rc)
			break;
		batches[nb++] = copy;
		rows += copy->nrows;
	}
	/* one action column of 'C' as long as the largest batch; change
	 * batches borrow it and the loaded columns */
	int64_t maxrows = 1;
	for (int64_t i = 0; i < nb; i++)
		maxrows = batches[i]->nrows > maxrows ? batches[i]->nrows : maxrows;
	action = cl_calloc(1, sizeof *action);
	cols = cl_calloc((size_t)ncols + 1, sizeof *cols);
	if (!rc && (!action || !cols))
		rc = cl_error_set(&err, CL_ENOMEM, "out of memory");
	rc = rc ? rc : cl_column_init(action, cl_type_make(CL_INT8), maxrows, &err);
	for (int64_t i = 0; !rc && i < maxrows; i++) {
		int8_t v = 'C';
		rc = cl_column_append_fixed(action, &v, &err);
	}
	if (rc)
		goto out;

	measure_start(&m);
	rc = cl_table_open(&t, a.pos[0], &err);
	rc = rc ? rc : cl_table_changes_open(&c, t, cs, &err);
	if (!rc)
		cl_table_changes_set_threads(c, a.threads); /* buckets rewritten a.threads at a time */
	for (int64_t i = 0; i < nb && !rc; i++) {
		cl_batch cb = {batches[i]->nrows, ncols + 1, cols};
		cols[0] = *action;
		cols[0].length = batches[i]->nrows;
		memcpy(cols + 1, batches[i]->cols, (size_t)ncols * sizeof *cols);
		rc = cl_table_changes_add(c, &cb, &err);
	}
	rc = rc ? rc : cl_table_changes_commit(c, "MERGE", NULL, 0, &st, &version, &err);
	measure_stop(&m);
	if (rc)
		goto out;

	printf("{\"op\":\"cow\",\"engine\":\"changelake\",");
	print_threads(stdout, a.threads);
	printf(",");
	print_measure(stdout, &m);
	printf(",\"rows\":%" PRId64 ",", rows);
	print_cow_stats(stdout, &st, version);
	printf("}\n");
out:
	cl_table_changes_free(c);
	cl_table_free(t);
	if (action)
		cl_column_release(action);
	cl_free(action);
	cl_free(cols);
	for (int64_t i = 0; i < nb; i++)
		cl_batch_free(batches[i]);
	cl_free(batches);
	cl_schema_free(cs);
	cl_reader_free(r);
	return rc ? fail("cow", &err) : 0;
}

/* ---- exec, idle ---- */

static int cmd_exec(int argc, char **argv)
{
	int at = 2;
	const char *threads = NULL;
	if (argc > at + 1 && !strcmp(argv[at], "--threads")) {
		char *end;
		long n = strtol(argv[at + 1], &end, 10);
		if (*end || n < 1 || n > 1024)
			return usage();
		threads = argv[at + 1];
		at += 2;
	}
	if (argc < at + 2 || strcmp(argv[at], "--"))
		return usage();
	char **prog = argv + at + 1;
	measure m;
	/* the command line says how many threads (or --threads, through the
	 * variable the library reads) */
	if (threads)
		setenv("CL_THREADS", threads, 1);
	else
		unsetenv("CL_THREADS");
	measure_start(&m);
	pid_t pid = fork();
	if (pid < 0) {
		perror("clbench: fork");
		return 1;
	}
	if (pid == 0) {
		dup2(STDERR_FILENO, STDOUT_FILENO);
		execvp(prog[0], prog);
		fprintf(stderr, "clbench: %s: %s\n", prog[0], strerror(errno));
		_exit(127);
	}
	int status = 0;
	struct rusage ru;
	while (wait4(pid, &status, 0, &ru) < 0) {
		if (errno != EINTR) {
			perror("clbench: wait4");
			return 1;
		}
	}
	m.seconds = now_s() - m.t0;
	m.cpu_seconds = tv_s(ru.ru_utime) + tv_s(ru.ru_stime);
	m.rss_before_kb = 0;
	m.peak_kb = m.maxrss_kb = ru.ru_maxrss;
	m.hwm_reset = true; /* a fresh process: its peak is the operation's */
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	printf("{\"op\":\"exec\",\"engine\":\"changelake\",");
	print_measure(stdout, &m);
	printf(",\"exit\":%d", code);
	if (code)
		printf(",\"error\":\"%s exited with status %d\"", "command", code);
	printf("}\n");
	return code ? 1 : 0;
}

static int cmd_idle(void)
{
	printf("{\"op\":\"idle\",\"engine\":\"changelake\",\"maxrss_kb\":%ld,"
	       "\"rss_kb\":%ld}\n",
	       maxrss_kb(), proc_status_kb("VmRSS"));
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage();
	if (!strcmp(argv[1], "read"))
		return cmd_read(argc, argv);
	if (!strcmp(argv[1], "write"))
		return cmd_write(argc, argv);
	if (!strcmp(argv[1], "cow"))
		return cmd_cow(argc, argv);
	if (!strcmp(argv[1], "exec"))
		return cmd_exec(argc, argv);
	if (!strcmp(argv[1], "idle"))
		return cmd_idle();
	return usage();
}
