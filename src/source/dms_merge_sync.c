/*
 * dms_merge_sync.c — one `sync` pass over a DMS root (cl_dms_sync_run, see
 * changelake/dms_merge.h): discovery, registration, and the active tables
 * merged by a small pool of worker threads.
 *
 * Threads: workers take the next table under the pool mutex and record
 * its run in the state database under the same mutex as soon as the merge
 * ends (so a pass killed later keeps the history of the tables it
 * finished); the database handle is never used by two threads at once. Each table's merge is independent
 * (its own lake table, its own commit), so one failure cannot touch
 * another table. The options' threads are the total: up to that many
 * tables at once, each merge given threads / tables-at-once of them for
 * its own work (copy-on-write buckets, cl_dms_merge_options.threads).
 *
 * Auto-compaction: after a table's data commit its worker runs
 * cl_table_autocompact on it (outside the mutex, a commit of its own);
 * its failure or conflict is reported with the table but does not make
 * the table's run fail (the data commit stands).
 */
#include "changelake/dms_merge.h"
#include "changelake/state.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/buf.h"

static int oom(cl_error *err)
{
	return cl_error_set(err, CL_ENOMEM, "out of memory");
}

/* One table's job: its configuration turned into merge options. */
typedef struct job {
	cl_state_table conf;
	char *source, *location;
	char **keys, **parts, **cols;
	int nkeys, nparts, ncols;
	cl_schema *schema;
	cl_dms_merge_options o;
	cl_dms_merge_result res;
	cl_autocompact_result ac;  /* valid when has_ac */
	bool has_ac;
	cl_error err;
	int rc;
	char started[32];
} job;

typedef struct pool {
	job *jobs;
	int n, next;
	pthread_mutex_t mu;        /* guards next, the state database, on_table */
	const cl_dms_sync_options *o;
	cl_state *st;
	int hist_rc;               /* first failure to record a run */
	cl_error hist_err;
} pool;

/* Append j's run to the history (under p->mu). */
static void record(pool *p, job *j)
{
	const cl_merge_stats *m = &j->res.merge;
	cl_state_run r = {0};
	r.table = j->conf.name;
	r.started_at = j->started[0] ? j->started : NULL;
	r.duration_ms = (int64_t)(j->res.seconds * 1000);
	r.status = j->rc ? "error" : j->res.version < 0 ? "nothing" : "ok";
	r.files = m->files;
	r.rows = m->rows;
	r.inserts = m->inserts;
	r.updates = m->updates;
	r.deletes = m->deletes;
	r.ignored = m->ignored;
	r.stale = m->stale;
	r.lake_version = j->rc ? -1 : j->res.version;
	r.error = j->rc ? j->err.message : NULL;
	char note[CL_ERROR_MSG_MAX + 32];
	if (j->has_ac && j->ac.version >= 0) {
		r.compacted = true;
		r.compact_version = j->ac.version;
		r.compact_removed = j->ac.compact.files_removed;
		r.compact_added = j->ac.compact.files_added;
	} else if (j->has_ac && j->ac.skipped &&
		   (!strcmp(j->ac.skipped, "conflict") || !strcmp(j->ac.skipped, "error"))) {
		snprintf(note, sizeof note, "%s: %s", j->ac.skipped, j->ac.message);
		r.compact_note = note;
	}
	cl_error e = {0};
	int rc = cl_state_run_add(p->st, &r, &e);
	if (rc && !p->hist_rc) {
		p->hist_rc = rc;
		p->hist_err = e;
	}
}

static int split(char ***out, int *n, const char *text)
{
	*out = NULL;
	*n = 0;
	if (!text || !*text)
		return 0;
	int cap = 1;
	for (const char *p = text; *p; p++)
		cap += *p == ',';
	char **v = cl_calloc((size_t)cap, sizeof *v);
	if (!v)
		return CL_ENOMEM;
	*out = v;
	for (const char *p = text; *p;) {
		const char *c = strchr(p, ',');
		size_t len = c ? (size_t)(c - p) : strlen(p);
		if (len && !(v[(*n)++] = cl_strndup(p, len)))
			return CL_ENOMEM;
		p += len + (c != NULL);
	}
	return 0;
}

static void free_list(char **v, int n)
{
	for (int i = 0; v && i < n; i++)
		cl_free(v[i]);
	cl_free(v);
}

static void job_release(job *j)
{
	cl_state_table_release(&j->conf);
	cl_free(j->source);
	cl_free(j->location);
	free_list(j->keys, j->nkeys);
	free_list(j->parts, j->nparts);
	free_list(j->cols, j->ncols);
	cl_schema_free(j->schema);
}

static char *join(const char *a, const char *b)
{
	size_t n = strlen(a) + strlen(b) + 2;
	char *s = cl_malloc(n);
	if (s)
		snprintf(s, n, "%s/%s", a, b);
	return s;
}

/* mkdir -p for local lakes (object-store URLs need no folders). */
static int mkdirs(const char *path, cl_error *err)
{
	if (strstr(path, "://"))
		return 0;
	char *p = cl_strdup(path);
	if (!p)
		return oom(err);
	int rc = 0;
	for (char *s = p + 1; !rc; s++) {
		if (*s && *s != '/')
			continue;
		char c = *s;
		*s = 0;
		if (mkdir(p, 0777) && errno != EEXIST)
			rc = cl_error_set(err, CL_EIO, "cannot create %s: %s", p, strerror(errno));
		*s = c;
		if (!c)
			break;
	}
	cl_free(p);
	return rc;
}

static int job_prepare(job *j, const char *root, const char *lake, cl_error *err)
{
	const cl_state_table *c = &j->conf;
	if (!(j->source = join(root, c->name)) || !(j->location = join(lake, c->name)))
		return oom(err);
	if (split(&j->keys, &j->nkeys, c->keys) || split(&j->parts, &j->nparts, c->partition_by) ||
	    split(&j->cols, &j->ncols, c->columns))
		return oom(err);
	if (c->schema && *c->schema) {
		int rc = cl_schema_parse(&j->schema, c->schema, err);
		if (rc)
			return cl_error_prefix(err, "%s: declared schema: ", c->name);
	}
	cl_dms_merge_options_init(&j->o);
	j->o.keys = (const char *const *)j->keys;
	j->o.nkeys = j->nkeys;
	j->o.partition_by = (const char *const *)j->parts;
	j->o.npartition_by = j->nparts;
	j->o.sequence_by = c->sequence_by && *c->sequence_by ? c->sequence_by : NULL;
	j->o.ignore_null_updates = c->ignore_null_updates;
	j->o.deletion_vectors = c->deletion_vectors;
	j->o.schema = j->schema;
	j->o.read.columns = (const char *const *)j->cols;
	j->o.read.ncolumns = j->ncols;
	j->o.read.timestamp_column =
		c->timestamp_column && *c->timestamp_column ? c->timestamp_column : NULL;
	j->o.source_label = c->name;
	return 0;
}

static void *worker(void *arg)
{
	pool *p = arg;
	for (;;) {
		pthread_mutex_lock(&p->mu);
		int i = p->next < p->n ? p->next++ : -1;
		pthread_mutex_unlock(&p->mu);
		if (i < 0)
			return NULL;
		job *j = &p->jobs[i];
		time_t now = time(NULL);
		struct tm tm;
		gmtime_r(&now, &tm);
		strftime(j->started, sizeof j->started, "%Y-%m-%d %H:%M:%S", &tm);
		if (!j->rc) {
			char *slash = strrchr(j->location, '/');
			*slash = 0;
			j->rc = mkdirs(j->location, &j->err);
			*slash = '/';
		}
		if (!j->rc)
			j->rc = cl_dms_merge_run(&j->res, j->source, j->location, &j->o, &j->err);
		if (!j->rc && j->res.version >= 0) {
			cl_table *t = NULL;
			cl_error e = {0};
			int mode = p->o ? p->o->auto_compact : 0;
			if (cl_table_open(&t, j->location, &e) == 0) {
				cl_table_autocompact(t, mode, &j->ac, NULL);
			} else {
				memset(&j->ac, 0, sizeof j->ac);
				j->ac.version = -1;
				j->ac.skipped = "error";
				snprintf(j->ac.message, sizeof j->ac.message, "%s", e.message);
			}
			cl_table_free(t);
			j->has_ac = true;
		}
		pthread_mutex_lock(&p->mu);
		record(p, j);
		if (p->o && p->o->on_table) {
			cl_dms_sync_table t = {j->conf.name, j->rc, &j->err, &j->res,
					       j->has_ac ? &j->ac : NULL};
			p->o->on_table(p->o->ctx, &t);
		}
		pthread_mutex_unlock(&p->mu);
	}
}

int cl_dms_sync_run(cl_dms_sync_result *out, const char *root, const char *lake,
		    const cl_dms_sync_options *o, cl_error *err)
{
	memset(out, 0, sizeof *out);
	cl_state *st = NULL;
	char **names = NULL;
	int nnames = 0, ntables = 0;
	cl_state_table *tables = NULL;
	job *jobs = NULL;
	int njobs = 0, rc;
	char *state_path = o && o->state_path ? cl_strdup(o->state_path)
					      : join(lake, "_changelake/state.db");
	if (!state_path)
		return oom(err);
	rc = mkdirs(lake, err);
	rc = rc ? rc : cl_state_open(&st, state_path, err);
	rc = rc ? rc : cl_dms_discover(&names, &nnames, root, err);
	for (int i = 0; !rc && i < nnames; i++) {
		bool created = false;
		rc = cl_state_table_register(st, names[i], &created, err);
		out->registered += created;
	}
	out->tables = nnames;
	rc = rc ? rc : cl_state_table_list(st, &tables, &ntables, err);
	if (rc)
		goto out;
	jobs = cl_calloc((size_t)ntables + 1, sizeof *jobs);
	if (!jobs) {
		rc = oom(err);
		goto out;
	}
	for (int i = 0; i < ntables; i++) {
		bool present = false;
		for (int k = 0; k < nnames && !present; k++)
			present = !strcmp(names[k], tables[i].name);
		if (!tables[i].active || !present)
			continue;
		job *j = &jobs[njobs++];
		j->conf = tables[i];
		memset(&tables[i], 0, sizeof tables[i]);
		j->rc = job_prepare(j, root, lake, &j->err);
		j->res.version = -1;
	}
	out->active = njobs;
	pool p = {jobs, njobs, 0, PTHREAD_MUTEX_INITIALIZER, o, st, 0, {0}};
	/* o->threads in all: up to that many tables at once, each with its
	 * share of the threads for its own work (copy-on-write buckets) */
	int total = o && o->threads > 0 ? o->threads : 2;
	int nt = total;
	if (nt > njobs)
		nt = njobs;
	pthread_t th[64];
	if (nt > 64)
		nt = 64;
	for (int i = 0; nt > 0 && i < njobs; i++)
		jobs[i].o.threads = total / nt > 1 ? total / nt : 1;
	int started = 0;
	for (int i = 1; i < nt; i++)
		if (pthread_create(&th[started], NULL, worker, &p) == 0)
			started++;
	worker(&p);
	for (int i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < njobs; i++) {
		if (jobs[i].rc)
			out->failed++;
		else if (jobs[i].res.version < 0)
			out->nothing++;
		else
			out->ok++;
	}
	if (p.hist_rc) {
		rc = p.hist_rc;
		*err = p.hist_err;
	}
out:
	for (int i = 0; jobs && i < njobs; i++)
		job_release(&jobs[i]);
	cl_free(jobs);
	for (int i = 0; tables && i < ntables; i++)
		cl_state_table_release(&tables[i]);
	cl_free(tables);
	cl_dms_tables_free(names, nnames);
	cl_state_close(st);
	cl_free(state_path);
	return rc;
}
