/*
 * dms_merge.c — one merge run of a DMS table folder into a lake table
 * (cl_dms_merge_run, see changelake/dms_merge.h).
 *
 * Steps, each of which can fail without changing the table:
 *   1. snapshot the table (or none yet), load its consumed-file manifest;
 *   2. list the source folder and plan the run (dms.h);
 *   3. read every planned file in the total order and fold the changes
 *      (merge.h), the table's data schema enforced (new columns added);
 *   4. begin the run's one transaction: on a new table one that creates
 *      it (protocol + metaData), on a table that lacks columns of the
 *      run a metaData with them added; nothing is committed yet, the
 *      writers lay out rows by the transaction's pending snapshot;
 *   5. resolve: under --ignore-null-updates, the current rows of the
 *      changed keys fill NULLs of updates; then every index part marks the
 *      changes not newer than the key's recorded sequence as stale;
 *   6. into that transaction: copy-on-write upserts and deletes (or, on a
 *      new full load, every old file removed and the contents rewritten;
 *      or, without keys, an append), the run's index part, the next
 *      manifest and its txn version — committed at once (a new table's
 *      version 0 holds its creation and its first data together).
 * A failure or crash anywhere before 6 commits leaves the table as it
 * was, including "did not exist" and its old schema (staged files and
 * unreferenced manifests/parts are garbage for vacuum); after, the run is
 * done, and the rerun finds nothing to read. Two runs creating the same
 * table: put-if-absent of version 0 lets one win, the other fails with a
 * conflict.
 */
#include "changelake/dms_merge.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "changelake/hash.h"
#include "changelake/parquet.h"
#include "core/buf.h"
#include "dms_impl.h"
#include "dms_prefetch.h"
#include "ops/merge_internal.h"
#include "core/threads.h"

static int oom(cl_error *err)
{
	return cl_error_set(err, CL_ENOMEM, "out of memory");
}

/* The read options of a run's files: the run's threads decode Parquet
 * (the files are read before the table is written, so they do not compete
 * with copy-on-write's bucket threads) unless the options say otherwise. */
static cl_dms_read_options read_options(const cl_dms_merge_options *o)
{
	cl_dms_read_options ro = o->read;
	if (ro.threads <= 0)
		ro.threads = o->threads;
	return ro;
}

/* The run's thread count: the options', else CL_THREADS from the
 * environment, else 1 (as the table transaction resolves it). */
static int run_threads(const cl_dms_merge_options *o)
{
	return cl__threads_resolve(o->threads);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void cl_dms_merge_options_init(cl_dms_merge_options *o)
{
	memset(o, 0, sizeof *o);
	cl_dms_read_options_init(&o->read);
}

/* Comma-separated list -> owned array of owned strings. */
static int split_list(char ***out, int *n, const char *text, cl_error *err)
{
	*out = NULL;
	*n = 0;
	int cap = 1;
	for (const char *p = text; *p; p++)
		cap += *p == ',';
	char **v = cl_calloc((size_t)cap, sizeof *v);
	if (!v)
		return oom(err);
	const char *p = text;
	while (*p) {
		const char *c = strchr(p, ',');
		size_t len = c ? (size_t)(c - p) : strlen(p);
		if (len && !(v[(*n)++] = cl_strndup(p, len))) {
			for (int i = 0; i < *n; i++)
				cl_free(v[i]);
			cl_free(v);
			*n = 0;
			return oom(err);
		}
		p += len + (c != NULL);
	}
	*out = v;
	return 0;
}

static void free_list(char **v, int n)
{
	for (int i = 0; i < n; i++)
		cl_free(v[i]);
	cl_free(v);
}

/* ---- step 5: resolve against the table's rows and the index ----------- */

static int resolve_rows(void *ctx, const cl_schema *schema, const cl_batch *rows,
			cl_error *err)
{
	return cl_merge_resolve(ctx, schema, rows, err);
}

/* Where an index part's columns are: nk key columns first, then the
 * sequence column (sq, -1 none), _cl_seq_file (sf), _cl_seq_row (sr). */
typedef struct seq_cols {
	int nk, sq, sf, sr;
} seq_cols;

/* Order of the sequences of entries (a, i) and (b, j). */
static int seq_cmp(const cl_batch *a, int64_t i, const cl_batch *b, int64_t j,
		   const seq_cols *c)
{
	int64_t fa = cl_column_get_i64(&a->cols[c->sf], i);
	int64_t fb = cl_column_get_i64(&b->cols[c->sf], j);
	if ((fa >= 0) != (fb >= 0))
		return fa >= 0 ? 1 : -1;
	if (c->sq >= 0) {
		int k = cl_value_compare(&a->cols[c->sq], i, &b->cols[c->sq], j);
		if (k)
			return k;
	}
	if (fa != fb)
		return fa < fb ? -1 : 1;
	int64_t ra = cl_column_get_i64(&a->cols[c->sr], i);
	int64_t rb = cl_column_get_i64(&b->cols[c->sr], j);
	return ra < rb ? -1 : ra > rb;
}

/* Hash of the nk key columns of row r. */
static uint64_t key_hash(const cl_batch *b, int nk, int64_t r)
{
	uint64_t h = 0;
	for (int k = 0; k < nk; k++)
		h = cl_hash_value(&b->cols[k], r, h);
	return h;
}

static bool key_equal(const cl_batch *a, int64_t i, const cl_batch *b, int64_t j, int nk)
{
	for (int k = 0; k < nk; k++)
		if (cl_value_compare(&a->cols[k], i, &b->cols[k], j))
			return false;
	return true;
}

/* Folding parts: key hash -> (part, row) of the greatest entry so far
 * (open addressing, row -1 empty). */
typedef struct fold_slot {
	uint64_t h;
	int64_t row;
	int part;
} fold_slot;

/*
 * Fold the parts of `c` and the run's entries `mine` (schema is) into one
 * part holding the greatest entry per key, and make it c's only part. Rows
 * keep the order of the parts (older parts first) and within them.
 */
static int compact_parts(cl_store *st, cl_dms_consumed *c, const cl_schema *types,
			 const cl_schema *is, const seq_cols *sc, const cl_batch *mine,
			 cl_error *err)
{
	int np = c->nparts, rc = 0;
	cl_batch **parts = cl_calloc((size_t)np + 1, sizeof *parts);
	cl_schema **schemas = cl_calloc((size_t)np + 1, sizeof *schemas);
	uint8_t **win = cl_calloc((size_t)np + 1, sizeof *win);
	fold_slot *tab = NULL;
	int64_t cap = 1024, n = 0, total = mine->nrows;
	cl_batch *out = NULL;
	char *key = NULL;
	if (!parts || !schemas || !win) {
		rc = oom(err);
		goto out;
	}
	for (int p = 0; !rc && p < np; p++) {
		if ((rc = cl_dms_seq_read(st, c->parts[p], types, &schemas[p], &parts[p], err)))
			break;
		/* older parts must have today's columns in today's order and types */
		bool same = schemas[p]->nfields == is->nfields;
		for (int i = 0; same && i < is->nfields; i++)
			same = !strcmp(schemas[p]->fields[i].name, is->fields[i].name) &&
			       cl_type_equal(schemas[p]->fields[i].type, is->fields[i].type);
		if (!same)
			rc = cl_error_set(err, CL_EUNSUPPORTED, "%s: the sequence index was "
					  "written for other key or sequence columns", c->parts[p]);
		total += parts[p]->nrows;
	}
	parts[np] = (cl_batch *)mine;
	while (!rc && cap < 2 * total + 2)
		cap *= 2;
	if (!rc && !(tab = cl_malloc((size_t)cap * sizeof *tab)))
		rc = oom(err);
	for (int64_t s = 0; !rc && s < cap; s++)
		tab[s].row = -1;
	for (int p = 0; !rc && p <= np; p++) {
		const cl_batch *b = parts[p];
		if (!(win[p] = cl_calloc((size_t)b->nrows + 1, 1))) {
			rc = oom(err);
			break;
		}
		for (int64_t r = 0; r < b->nrows; r++) {
			uint64_t h = key_hash(b, sc->nk, r);
			int64_t s = (int64_t)(h & (uint64_t)(cap - 1));
			while (tab[s].row >= 0 &&
			       (tab[s].h != h || !key_equal(parts[tab[s].part], tab[s].row, b, r,
							    sc->nk)))
				s = (s + 1) & (cap - 1);
			if (tab[s].row < 0) {
				n++;
			} else {
				const cl_batch *ob = parts[tab[s].part];
				if (seq_cmp(b, r, ob, tab[s].row, sc) <= 0)
					continue;
				win[tab[s].part][tab[s].row] = 0;
			}
			tab[s].h = h;
			tab[s].row = r;
			tab[s].part = p;
			win[p][r] = 1;
		}
	}
	cl_free(tab);
	rc = rc ? rc : cl_batch_create(&out, is, n, err);
	for (int p = 0; !rc && p <= np; p++) {
		const cl_batch *b = parts[p];
		for (int64_t r = 0; !rc && r < b->nrows; r++) {
			if (!win[p][r])
				continue;
			int64_t e = r + 1;
			while (e < b->nrows && win[p][e])
				e++;
			for (int i = 0; !rc && i < is->nfields; i++)
				rc = cl_column_append_range(&out->cols[i], &b->cols[i], r, e - r, err);
			out->nrows += e - r;
			r = e;
		}
	}
	rc = rc ? rc : cl_dms_seq_write(st, &key, is, out, err);
	if (!rc) {
		cl_dms_consumed_clear_parts(c);
		rc = cl_dms_consumed_add_part(c, key, err);
	}
out:
	for (int p = 0; parts && schemas && p < np; p++) {
		cl_batch_free(parts[p]);
		cl_schema_free(schemas[p]);
	}
	for (int p = 0; win && p <= np; p++)
		cl_free(win[p]);
	cl_free(win);
	cl_free(parts);
	cl_free(schemas);
	cl_free(key);
	cl_batch_free(out);
	return rc;
}

/* Row r's file key (the merge's SEQ_FILE column: INT64 without NULLs, read
 * straight from its values when it has no validity bitmap). */
static inline int64_t file_key_at(const cl_column *fk, int64_t r)
{
	if (!fk->validity && fk->type.id == CL_INT64)
		return ((const int64_t *)fk->values)[r];
	return cl_column_get_i64(fk, r);
}

/* Append n one-byte strings `op` to the string column c (what n calls of
 * cl_column_append_bytes do, in one go: an index gets one a change). */
static int append_ops(cl_column *c, char op, int64_t n, cl_error *err)
{
	int rc = cl_column_reserve(c, n, err);
	rc = rc ? rc : cl_column_reserve_data(c, n, err);
	if (rc)
		return rc;
	int64_t off = c->offsets[c->length];
	memset(c->data + off, op, (size_t)n);
	for (int64_t k = 1; k <= n; k++)
		c->offsets[c->length + k] = off + k;
	c->length += n;
	return 0;
}

/* The run's index entries: upserts from change data, and every delete
 * (runs of rows copied in bulk). */
static int index_entries(cl_batch **out, const cl_schema *is, const cl_schema *full,
			 const cl_batch *u, const cl_batch *d, cl_error *err)
{
	int rc = cl_batch_create(out, is, 0, err);
	int sf = cl_schema_find(full, CL_MERGE_SEQ_FILE);
	for (int which = 0; !rc && which < 2; which++) {
		const cl_batch *b = which ? d : u;
		const cl_column *fk = &b->cols[sf];
		for (int64_t r = 0; !rc && r < b->nrows; r++) {
			/* a full-load row: older than every change, no entry */
			if (!which && file_key_at(fk, r) < 0)
				continue;
			int64_t e = r + 1;
			while (e < b->nrows && (which || file_key_at(fk, e) >= 0))
				e++;
			for (int i = 0; !rc && i < is->nfields; i++) {
				cl_column *dst = &(*out)->cols[i];
				if (strcmp(is->fields[i].name, CL_DMS_SEQ_OP)) {
					rc = cl_column_append_range(
						dst, &b->cols[cl_schema_find(full, is->fields[i].name)],
						r, e - r, err);
					continue;
				}
				rc = append_ops(dst, which ? 'D' : 'U', e - r, err);
			}
			if (!rc)
				(*out)->nrows += e - r;
			r = e;
		}
	}
	return rc;
}

/* Free a column's buffers, leaving it empty. */
static int drop_column(cl_column *c, cl_error *err)
{
	cl_column gone;
	int rc = cl_column_init(&gone, c->type, 0, err);
	rc = rc ? rc : cl_column_move(&gone, c, err);
	cl_column_release(&gone);
	return rc;
}

/* ---- writing a new table's rows in slices ------------------------------ */

/* Rows handed to the table writer at a time (a multiple of 8: slices start
 * on validity-byte boundaries). */
#define WRITE_SLICE 131072

/* NULLs among rows [from, from + n) of c. */
static int64_t count_nulls(const cl_column *c, int64_t from, int64_t n)
{
	int64_t k = 0;
	if (!c->validity || !c->null_count)
		return 0;
	for (int64_t i = from; i < from + n; i++)
		k += !cl_bit_get(c->validity, i);
	return k;
}

/* A read-only view of rows [from, from + n) of c (from a multiple of 8):
 * values and validity aliased, a string column's offsets copied into *offs
 * rebased to 0. */
static int column_view(cl_column *v, int64_t **offs, const cl_column *c, int64_t from,
		       int64_t n, cl_error *err)
{
	memset(v, 0, sizeof *v);
	v->type = c->type;
	v->length = v->cap = n;
	if ((v->null_count = count_nulls(c, from, n)) > 0) {
		v->validity = c->validity + from / 8;
		v->validity_cap = (n + 7) / 8;
	}
	if (cl_type_is_var(c->type)) {
		int64_t *o = cl_realloc(*offs, (size_t)(n + 1) * sizeof *o);
		if (!o)
			return oom(err);
		*offs = o;
		int64_t base = c->offsets[from];
		for (int64_t i = 0; i <= n; i++)
			o[i] = c->offsets[from + i] - base;
		v->offsets = o;
		v->data = c->data ? c->data + base : NULL;
		v->data_cap = o[n];
	} else if (c->values && c->type.id == CL_BOOL) {
		v->values = c->values + from / 8;
	} else if (c->values) {
		v->values = c->values + (size_t)from * (size_t)cl_type_width(c->type);
	}
	return 0;
}

/* Give the whole pages inside bytes [from, to) of p back to the kernel. */
static void release_pages(void *p, size_t from, size_t to)
{
	uintptr_t ps = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t a = ((uintptr_t)p + from + ps - 1) & ~(ps - 1);
	uintptr_t b = ((uintptr_t)p + to) & ~(ps - 1);
	if (p && b > a)
		madvise((void *)a, b - a, MADV_DONTNEED);
}

/* Rows [from, from + n) of c will never be read again: their pages go (the
 * buffers stay allocated; a released page reads zero if touched). */
static void column_forget_rows(cl_column *c, int64_t from, int64_t n)
{
	size_t a = (size_t)from, b = (size_t)(from + n);
	if (cl_type_is_var(c->type)) {
		release_pages(c->data, (size_t)c->offsets[from], (size_t)c->offsets[from + n]);
		release_pages(c->offsets, a * 8, b * 8);
	} else if (c->type.id == CL_BOOL) {
		release_pages(c->values, a / 8, b / 8);
	} else {
		size_t w = (size_t)cl_type_width(c->type);
		release_pages(c->values, a * w, b * w);
	}
	release_pages(c->validity, a / 8, b / 8);
}

/*
 * Write the rows of b (the merge's result columns, used only here and freed
 * after) in slices; each slice's pages are released once written — the
 * writer has copied them into its own buffers — so a new table's rows are
 * not held twice while the data files fill.
 */
static int write_sliced(cl_table_writer *w, cl_batch *b, cl_error *err)
{
	cl_column *v = cl_calloc((size_t)b->ncols + 1, sizeof *v);
	int64_t **offs = cl_calloc((size_t)b->ncols + 1, sizeof *offs);
	int rc = v && offs ? 0 : oom(err);
	for (int64_t at = 0; !rc && at < b->nrows; at += WRITE_SLICE) {
		int64_t n = b->nrows - at < WRITE_SLICE ? b->nrows - at : WRITE_SLICE;
		for (int c = 0; !rc && c < b->ncols; c++)
			rc = column_view(&v[c], &offs[c], &b->cols[c], at, n, err);
		cl_batch view = {n, b->ncols, v};
		rc = rc ? rc : cl_table_writer_write(w, &view, err);
		for (int c = 0; !rc && c < b->ncols; c++)
			column_forget_rows(&b->cols[c], at, n);
	}
	for (int c = 0; offs && c < b->ncols; c++)
		cl_free(offs[c]);
	cl_free(offs);
	cl_free(v);
	return rc;
}

/* ---- the run ------------------------------------------------------------ */

typedef struct run {
	cl_dms_merge_result *res;
	const cl_dms_merge_options *o;
	const char *dir;
	cl_table *t;
	cl_snapshot *s;            /* latest snapshot; NULL: no table yet */
	cl_snapshot *before;       /* the snapshot the commit builds on */
	cl_table_txn *x;           /* the run's transaction (step 4 on) */
	const cl_snapshot *view;   /* what it writes by (owned by x): s, or s
				      with the new columns, or the new table */
	cl_dms_consumed *consumed;
	cl_dms_listing *l;
	cl_dms_plan *p;
	cl_merge *m;
	char **keys;               /* the table's key columns */
	int nkeys;
	cl_schema *tschema;        /* data columns of the table (write schema) */
	cl_batch *u, *d;           /* merge result (owned) */
	const cl_schema *full;     /* its schema (borrowed from m) */
	cl_dms_merge_progress pr;
	/* the two-pass initial load (lean_plan): the merge folds the key
	 * columns only; the data schema, per planned file whether it has Op
	 * and its rows, and (when some rows lost) per file a byte per row:
	 * the row is written */
	bool lean;
	cl_schema *data_schema;    /* owned */
	bool *lean_op;
	int64_t *lean_rows;
	uint8_t **lean_keep;
	double t0;                 /* when the run began */
	bool trace;                /* CL_MERGE_TRACE is set */
} run;

/* CL_MERGE_TRACE=1: the run's phase times on standard error (for
 * profiling; sync's concurrent runs print their own lines). */
static void mtrace(const run *r, const char *what)
{
	if (r->trace)
		fprintf(stderr, "merge %s: %8.3f s %s\n", r->dir, now_s() - r->t0, what);
}

/* The run's data schema: the merge's, or the files' in a lean run. */
static const cl_schema *data_schema(const run *r)
{
	return r->lean ? r->data_schema : cl_merge_schema(r->m);
}

static void progress(run *r, const char *phase)
{
	if (!r->o->progress)
		return;
	r->pr.phase = phase;
	r->o->progress(r->o->progress_ctx, &r->pr);
}

static int open_table(run *r, cl_error *err)
{
	cl_snapshot_free(r->s);
	r->s = NULL;
	int rc = cl_table_snapshot(&r->s, r->t, NULL, err);
	if (rc == CL_ENOTFOUND) {
		cl_error_clear(err);
		return 0;
	}
	return rc;
}

/* Keys: the table's (changelake.keys) when it has them; options must agree. */
static int bind_keys(run *r, cl_error *err)
{
	const cl_dms_merge_options *o = r->o;
	const char *conf = r->s ? cl_snapshot_config(r->s, CL_TABLE_CONF_KEYS) : NULL;
	if (r->s && conf) {
		int rc = split_list(&r->keys, &r->nkeys, conf, err);
		if (rc)
			return rc;
		bool same = o->nkeys == 0 || o->nkeys == r->nkeys;
		for (int i = 0; same && i < o->nkeys; i++)
			same = !strcmp(o->keys[i], r->keys[i]);
		if (!same)
			return cl_error_set(err, CL_EINVAL, "the table's key is '%s'; the merge "
					    "was given another", conf);
		return 0;
	}
	if (r->s && o->nkeys)
		return cl_error_set(err, CL_EINVAL, "the table exists without key columns "
				    "(append-only); it cannot be merged by key");
	r->keys = cl_calloc((size_t)o->nkeys + 1, sizeof *r->keys);
	if (!r->keys)
		return oom(err);
	for (int i = 0; i < o->nkeys; i++) {
		if (!(r->keys[i] = cl_strdup(o->keys[i])))
			return oom(err);
		r->nkeys++;
	}
	return 0;
}

/*
 * The columns of a Parquet file of the table (without Op), for a first run
 * whose header-less CSV would otherwise have no names: DESIGN's "column
 * names come from the table's configuration or from a Parquet file of the
 * same table". *out NULL when there is no Parquet file or it is not needed.
 */
static int sibling_schema(run *r, cl_schema **out, cl_error *err)
{
	*out = NULL;
	if (r->tschema || r->o->schema || r->o->read.ncolumns > 0 || r->p->nfiles == 0 ||
	    r->p->files[0]->name.format != CL_FORMAT_CSV)
		return 0;
	for (int i = 0; i < r->l->nfiles; i++) {
		const cl_dms_file *f = &r->l->files[i];
		if (f->name.format != CL_FORMAT_PARQUET)
			continue;
		cl_dms_read_options ro = read_options(r->o);
		cl_dms_reader *rd = NULL;
		int rc = cl_dms_reader_open(&rd, r->dir, f, &ro, err);
		if (!rc)
			rc = cl_schema_copy(out, cl_dms_reader_schema(rd), err);
		cl_dms_reader_free(rd);
		return rc;
	}
	return 0;
}

/* Rows of the planned Parquet files (footers only; CSV counts 0, and a
 * file that does not open is left to its reader to report). */
static int64_t parquet_rows(const run *r)
{
	int64_t n = 0;
	cl_buf p = {0};
	for (int i = 0; i < r->p->nfiles; i++) {
		const cl_dms_file *f = r->p->files[i];
		cl_parquet_file *pf = NULL;
		if (f->name.format != CL_FORMAT_PARQUET)
			continue;
		cl_buf_clear(&p);
		if (cl_buf_printf(&p, "%s/%s", r->dir, f->path) || cl_buf_putc(&p, 0))
			break;
		if (!cl_parquet_file_open(&pf, (const char *)p.data, NULL))
			n += cl_parquet_file_num_rows(pf);
		cl_parquet_file_free(pf);
	}
	cl_buf_release(&p);
	return n;
}

/* ---- an initial load in two passes ------------------------------------ */

/*
 * A new table's first run by key, without --sequence-by,
 * --ignore-null-updates or a declared schema, from Parquet files that all
 * have the same columns: nothing is resolved against a table, so the
 * merge only has to find each key's winning change, and the winners' rows
 * are in the files. Pass 1 (read_files) folds the key columns alone — the
 * store holds keys and sequence positions instead of whole rows — and
 * pass 2 (lean_write, at the commit) reads the files again and hands the
 * winning rows to the table writer batch by batch, in file order: the
 * order of the merge's result, so the table's rows are the ones the
 * one-pass merge writes, in the same order. A 10M-row load's peak memory
 * drops from the whole store (~1.1 GB) to the key pass's.
 */
static bool same_columns(const cl_schema *a, const cl_schema *b)
{
	if (a->nfields != b->nfields)
		return false;
	for (int i = 0; i < a->nfields; i++)
		if (strcmp(a->fields[i].name, b->fields[i].name) ||
		    !cl_type_equal(a->fields[i].type, b->fields[i].type))
			return false;
	return true;
}

/* Decide whether the run is lean; then r->data_schema is the files'
 * columns (nullable, as the merge would learn them). A file that does not
 * open or differs leaves the run to the one-pass merge, which reports. */
static int lean_plan(run *r, cl_error *err)
{
	const cl_dms_merge_options *o = r->o;
	int n = r->p->nfiles;
	if (r->s || !r->nkeys || o->sequence_by || o->ignore_null_updates || o->schema || n == 0)
		return 0;
	for (int i = 0; i < n; i++)
		if (r->p->files[i]->name.format != CL_FORMAT_PARQUET)
			return 0;
	r->lean_op = cl_calloc((size_t)n, sizeof *r->lean_op);
	r->lean_rows = cl_calloc((size_t)n, sizeof *r->lean_rows);
	if (!r->lean_op || !r->lean_rows)
		return oom(err);
	cl_schema *ds = NULL;
	bool ok = true;
	int rc = 0;
	for (int i = 0; !rc && ok && i < n; i++) {
		cl_dms_read_options ro = read_options(o);
		ro.schema = NULL;
		cl_dms_reader *rd = NULL;
		cl_error e = {0};
		if (cl_dms_reader_open(&rd, r->dir, r->p->files[i], &ro, &e)) {
			ok = false;
			break;
		}
		const cl_schema *fs = cl_dms_reader_schema(rd);
		r->lean_op[i] = cl_dms_reader_has_op(rd);
		if (!ds) {
			rc = cl_schema_create(&ds, err);
			for (int c = 0; !rc && c < fs->nfields; c++) {
				const char *name = fs->fields[c].name;
				if (!strcmp(name, CL_MERGE_SEQ_FILE) || !strcmp(name, CL_MERGE_SEQ_ROW) ||
				    !strcmp(name, "Op"))
					ok = false;
				rc = cl_schema_add(ds, name, fs->fields[c].type, true, err);
			}
			for (int k = 0; !rc && k < r->nkeys; k++)
				ok &= cl_schema_find(ds, r->keys[k]) >= 0;
		} else {
			ok = same_columns(ds, fs);
		}
		cl_dms_reader_free(rd);
	}
	if (!rc && ok) {
		r->lean = true;
		r->data_schema = ds;
	} else {
		cl_schema_free(ds);
	}
	return rc;
}

/* Pass 1 for file i: the key columns (and Op) only, decoded on `threads`
 * (called on prefetch workers too: reads only what lean_plan set). */
static int lean_open(const run *r, int i, int threads, cl_dms_reader **rd, cl_error *err)
{
	const char **names = cl_calloc((size_t)r->nkeys + 2, sizeof *names);
	if (!names)
		return oom(err);
	int n = 0;
	if (r->lean_op[i])
		names[n++] = "Op";
	for (int k = 0; k < r->nkeys; k++)
		names[n++] = r->keys[k];
	int rc = cl__dms_reader_open_columns(rd, r->dir, r->p->files[i], names, n, threads,
					     err);
	cl_free(names);
	return rc;
}

/* After pass 1: which rows of each file are written (the upserts' SEQ
 * positions). Nothing to mark when every row read is an upsert. */
static int lean_mark(run *r, cl_error *err)
{
	int n = r->p->nfiles;
	int64_t total = 0;
	for (int i = 0; i < n; i++)
		total += r->lean_rows[i];
	if (r->u->nrows == total)
		return 0;
	r->lean_keep = cl_calloc((size_t)n, sizeof *r->lean_keep);
	if (!r->lean_keep)
		return oom(err);
	for (int i = 0; i < n; i++)
		if (!(r->lean_keep[i] = cl_calloc((size_t)r->lean_rows[i] + 1, 1)))
			return oom(err);
	const cl_column *sf = &r->u->cols[cl_schema_find(r->full, CL_MERGE_SEQ_FILE)];
	const cl_column *sr = &r->u->cols[cl_schema_find(r->full, CL_MERGE_SEQ_ROW)];
	int i = 0;
	for (int64_t j = 0; j < r->u->nrows; j++) {
		int64_t fk = cl_column_get_i64(sf, j), row = cl_column_get_i64(sr, j);
		if (r->p->files[i]->file_key != fk)
			for (i = 0; i < n && r->p->files[i]->file_key != fk; i++)
				;
		if (i == n || row < 0 || row >= r->lean_rows[i])
			return cl_error_set(err, CL_EINTERNAL, "merge: upsert of an unknown row");
		r->lean_keep[i][row] = 1;
	}
	return 0;
}

/* Pass 2: every file read again, its winning rows to the table writer. */
static int lean_write(run *r, cl_table_writer *w, cl_error *err)
{
	cl_batch *kept = NULL;
	int rc = 0;
	for (int i = 0; !rc && i < r->p->nfiles; i++) {
		const cl_dms_file *f = r->p->files[i];
		cl_dms_read_options ro = read_options(r->o);
		ro.schema = NULL;
		cl_dms_reader *rd = NULL;
		const uint8_t *keep = r->lean_keep ? r->lean_keep[i] : NULL;
		int64_t rows = 0;
		rc = cl_dms_reader_open(&rd, r->dir, f, &ro, err);
		if (!rc && !same_columns(r->data_schema, cl_dms_reader_schema(rd)))
			rc = cl_error_set(err, CL_EFORMAT, "%s: changed while merging", f->path);
		while (!rc) {
			cl_dms_changes ch;
			if ((rc = cl_dms_reader_next(rd, &ch, err)) || ch.nrows == 0)
				break;
			if (ch.first_row != rows || rows + ch.nrows > r->lean_rows[i]) {
				rc = cl_error_set(err, CL_EFORMAT, "%s: changed while merging",
						  f->path);
				break;
			}
			rows += ch.nrows;
			if (!keep) {
				rc = cl_table_writer_write(w, ch.batch, err);
				continue;
			}
			/* some rows lost to later changes of their keys */
			if (!kept)
				rc = cl_batch_create(&kept, r->data_schema, 0, err);
			else
				cl_batch_clear(kept);
			const uint8_t *k = keep + ch.first_row;
			for (int64_t a = 0; !rc && a < ch.nrows; a++) {
				if (!k[a])
					continue;
				int64_t e = a + 1;
				while (e < ch.nrows && k[e])
					e++;
				for (int c = 0; !rc && c < kept->ncols; c++)
					rc = cl_column_append_range(&kept->cols[c], &ch.batch->cols[c], a,
								    e - a, err);
				kept->nrows += e - a;
				a = e;
			}
			if (!rc && kept->nrows)
				rc = cl_table_writer_write(w, kept, err);
		}
		if (!rc && rows != r->lean_rows[i])
			rc = cl_error_set(err, CL_EFORMAT, "%s: changed while merging", f->path);
		cl_dms_reader_free(rd);
	}
	cl_batch_free(kept);
	return rc;
}

/* A prefetch worker opens file i (one decode thread: the workers read
 * small files side by side; see dms_prefetch.h). Only what the run set
 * before read_files is read, so workers may call it at once. A Parquet
 * reader does not look at the read options' schema (CSV, which does, is
 * never read ahead): the reader is the one read_files would open. */
static int prefetch_open(void *ctx, int i, cl_dms_reader **rd, cl_error *err)
{
	const run *r = ctx;
	if (r->lean)
		return lean_open(r, i, 1, rd, err);
	cl_dms_read_options ro = read_options(r->o);
	ro.schema = NULL;
	ro.threads = 1;
	return cl_dms_reader_open(rd, r->dir, r->p->files[i], &ro, err);
}

/*
 * Step 3: read and fold every planned file, in plan order. With 2 or more
 * threads, worker threads (as many as the run's threads: the fold on this
 * thread is the lighter part) open and decode the small Parquet files
 * ahead (dms_prefetch.h) while this thread folds; a file they do not read
 * this thread reads itself, as with one thread. The batches, their order
 * and the first error are the same either way.
 */
static int read_files(run *r, cl_error *err)
{
	cl_merge_options mo;
	cl_merge_options_init(&mo);
	mo.keys = (const char *const *)r->keys;
	mo.nkeys = r->nkeys;
	mo.sequence_by = r->o->sequence_by;
	mo.ignore_null_updates = r->o->ignore_null_updates;
	mo.threads = run_threads(r->o);
	cl_schema *sibling = NULL;
	int rc = sibling_schema(r, &sibling, err);
	if (rc)
		return rc;
	const cl_schema *base = r->tschema ? r->tschema : r->o->schema;
	if (!base)
		base = sibling;
	cl_schema *keys = NULL, *first = NULL;
	if (!base && r->lean) {
		/* the lean merge folds the key columns only: their schema is
		 * known even when no file has a row (an empty full load) */
		rc = cl_schema_create(&keys, err);
		for (int k = 0; !rc && k < r->nkeys; k++) {
			const cl_field *f =
				&r->data_schema->fields[cl_schema_find(r->data_schema, r->keys[k])];
			rc = cl_schema_add(keys, f->name, f->type, f->nullable, err);
		}
		base = keys;
	}
	bool known = base != NULL;
	/* the workers start first: they read while the store is set up */
	cl__dms_prefetch *pf = NULL;
	int threads = r->o->read.threads > 0 ? r->o->read.threads : run_threads(r->o);
	if (!rc && threads >= 2)
		rc = cl__dms_prefetch_start(&pf, (const cl_dms_file *const *)r->p->files,
					    r->p->nfiles, threads, 0, prefetch_open, r, err);
	rc = rc ? rc : cl_merge_create(&r->m, base, &mo, err);
	cl_schema_free(sibling);
	cl_schema_free(keys);
	/* the store allocated once for every row to come (an initial load:
	 * exactly the load's rows) instead of growing by doubling */
	rc = rc ? rc : cl__merge_reserve(r->m, parquet_rows(r), err);
	r->pr.nfiles = r->p->nfiles;
	for (int i = 0; !rc && i < r->p->nfiles; i++) {
		const cl_dms_file *f = r->p->files[i];
		bool ahead = cl__dms_prefetch_covers(pf, i);
		cl_dms_read_options ro = read_options(r->o);
		ro.schema = cl_merge_schema(r->m);
		cl_dms_reader *rd = NULL;
		const cl_dms_reader *rs = NULL;
		r->pr.file = f->path;
		progress(r, "read");
		if (ahead)
			rc = cl__dms_prefetch_open(pf, i, &rs, err);
		else if (r->lean)
			rc = lean_open(r, i, ro.threads, &rd, err);
		else
			rc = cl_dms_reader_open(&rd, r->dir, f, &ro, err);
		if (rd)
			rs = rd;
		/* no schema yet: the first file's, in case no file has a row
		 * (Parquet only: a header-only CSV file has no types) */
		if (!rc && !known && !first && f->name.format == CL_FORMAT_PARQUET)
			rc = cl_schema_copy(&first, cl_dms_reader_schema(rs), err);
		while (!rc) {
			cl_dms_changes ch;
			rc = ahead ? cl__dms_prefetch_next(pf, i, &ch, err)
				   : cl_dms_reader_next(rd, &ch, err);
			if (rc || ch.nrows == 0)
				break;
			cl_change_batch cb = {cl_dms_reader_schema(rs), ch.batch, ch.ops,
					      ch.first_row, f->path, f->file_key};
			rc = cl_merge_add(r->m, &cb, err);
			r->pr.rows += ch.nrows;
			if (r->lean)
				r->lean_rows[i] += ch.nrows;
			progress(r, "read");
		}
		if (ahead)
			cl__dms_prefetch_close(pf, i);
		cl_dms_reader_free(rd);
		r->pr.files_done++;
		r->pr.bytes_done += f->size;
	}
	if (pf) {
		cl__dms_prefetch_free(pf);
#ifdef __GLIBC__
		/* the workers' malloc arenas keep the memory of the batches
		 * they decoded: given back, so it does not add to the peak of
		 * the copy-on-write to come (~40 MB on 100 CDC files) */
		malloc_trim(0);
#endif
	}
	if (!rc && !known && first && r->pr.rows == 0) {
		/* only empty files (an empty full load): the merge never saw a
		 * batch to learn its schema from; the files' header says it */
		cl_merge_free(r->m);
		r->m = NULL;
		rc = cl_merge_create(&r->m, first, &mo, err);
	}
	cl_schema_free(first);
	mtrace(r, "files read");
	rc = rc ? rc : cl_merge_finish(r->m, err);
	if (!rc)
		r->res->merge = *cl_merge_get_stats(r->m);
	return rc;
}

/* Step 4: begin the run's transaction: the table's creation or the
 * columns new to it go into the data commit (nothing committed here). */
static int shape_table(run *r, cl_error *err)
{
	const cl_schema *ms = data_schema(r);
	const cl_dms_merge_options *o = r->o;
	const char *op = r->p->rebuild ? "WRITE" : "MERGE";
	int rc = 0;
	if (!r->s) {
		cl_table_create_options co;
		cl_table_create_options_init(&co);
		co.partition_by = o->partition_by;
		co.npartition_by = o->npartition_by;
		co.keys = (const char *const *)r->keys;
		co.nkeys = r->nkeys;
		co.buckets = r->nkeys ? o->buckets : 0;
		co.deletion_vectors = o->deletion_vectors;
		if (o->target_file_bytes > 0)
			co.target_file_bytes = o->target_file_bytes;
		rc = cl_table_txn_begin_create(&r->x, r->t, ms, &co, op, err);
		if (!rc)
			cl_table_txn_set_threads(r->x, o->threads);
		r->view = rc ? NULL : cl_table_txn_snapshot(r->x);
		return rc;
	}
	const cl_schema *full = cl_snapshot_schema(r->s);
	cl_schema *grown = NULL;
	int added = 0;
	for (int i = 0; !rc && i < ms->nfields; i++) {
		if (cl_schema_find(full, ms->fields[i].name) >= 0)
			continue;
		if (!grown)
			rc = cl_schema_copy(&grown, full, err);
		rc = rc ? rc : cl_schema_add(grown, ms->fields[i].name, ms->fields[i].type, true, err);
		added++;
	}
	rc = rc ? rc : cl_table_txn_begin(&r->x, r->t, r->s, op, err);
	if (!rc)
		cl_table_txn_set_threads(r->x, o->threads);
	rc = rc || !grown ? rc : cl_table_txn_set_schema(r->x, grown, err);
	r->view = rc ? NULL : cl_table_txn_snapshot(r->x);
	cl_schema_free(grown);
	if (!rc)
		r->res->columns_added = added;
	return rc;
}

/* Step 5. */
static int resolve(run *r, cl_error *err)
{
	int rc = 0;
	if (!r->nkeys || !r->s || r->p->rebuild)
		return 0;
	if (r->o->ignore_null_updates) {
		const cl_schema *full;
		cl_batch *u = NULL, *d = NULL;
		rc = cl_merge_result(r->m, &full, &u, &d, err);
		const cl_batch *k[1] = {u};
		if (!rc && u->nrows)
			rc = cl_table_lookup(r->t, r->view, full, k, 1, resolve_rows, r->m, err);
		cl_batch_free(u);
		cl_batch_free(d);
	}
	/* every index part, batch by batch: only entries of changed keys count */
	const cl_schema *types = cl_merge_schema(r->m);
	for (int i = 0; !rc && i < r->consumed->nparts; i++)
		rc = cl_dms_seq_scan(cl_table_store(r->t), r->consumed->parts[i], types,
				     resolve_rows, r->m, err);
	return rc;
}

/* Step 6: the changes, the index part and the manifest in one commit. */
static int commit(run *r, cl_error *err)
{
	const cl_dms_merge_options *o = r->o;
	cl_dms_merge_result *res = r->res;
	cl_table_txn *x = r->x;
	cl_table_writer *w = NULL;
	cl_schema *is = NULL;
	cl_batch *ib = NULL;
	char *part = NULL;
	const cl_schema *ms = data_schema(r);
	/* the columns of the merge's result before its sequence columns (a
	 * lean run's: the keys) */
	int nres = cl_merge_schema(r->m)->nfields;
	/* the merge's last use: its result columns are taken over, not copied */
	int rc = cl__merge_take_result(r->m, &r->full, &r->u, &r->d, err);
	if (rc)
		return rc;
	mtrace(r, "result taken");
	res->merge = *cl_merge_get_stats(r->m);
	/* the data columns only: the sequence columns go to the index, whose
	 * entries are taken first so the upserts' sequence columns are freed
	 * before the data is written (an initial load: 16 bytes a row) */
	cl_batch uv = *r->u;
	uv.ncols = nres;
	const cl_batch *ub[1] = {&uv}, *db[1] = {r->d};
	if (r->nkeys) {
		rc = cl_dms_seq_schema(&is, r->full, (const char *const *)r->keys, r->nkeys,
				       o->sequence_by, err);
		rc = rc ? rc : index_entries(&ib, is, r->full, r->u, r->d, err);
		mtrace(r, "index entries made");
		rc = rc || !r->lean ? rc : lean_mark(r, err);
		/* (r->u keeps its row count; only uv and the index use it; a
		 * lean run's keys are not needed either) */
		for (int c = r->lean ? 0 : nres; !rc && c < r->u->ncols; c++)
			rc = drop_column(&r->u->cols[c], err);
	}
	progress(r, "write");
	if (!rc && r->p->rebuild) {
		/* a new full load: the table becomes exactly the run's rows */
		rc = cl_table_txn_set_param(x, "mode", "Overwrite", err);
		for (size_t i = 0; !rc && r->s && i < cl_snapshot_nfiles(r->s); i++)
			rc = cl_table_txn_remove(x, cl_snapshot_file(r->s, i), true, err);
		cl_table_txn_read_all(x);
	}
	/* a table without live files (a new table, an initial load) has no
	 * rows to rewrite: the merge's upserts (one per key) are written as
	 * they are, without copy-on-write's key set; its deletes find nothing */
	bool empty = !r->s || cl_snapshot_nfiles(r->s) == 0;
	if (!rc && (r->p->rebuild || !r->nkeys || empty)) {
		rc = cl_table_writer_open(&w, x, ms, err);
		if (r->lean)
			rc = rc ? rc : lean_write(r, w, err);
		else
			rc = rc ? rc : write_sliced(w, &uv, err);
		rc = rc ? rc : cl_table_writer_finish(w, err);
		if (!rc && r->nkeys && !r->p->rebuild) {
			/* what cl_table_cow reports for an empty table */
			res->cow.rows_upserted = uv.nrows;
			res->cow.deletes_missing = r->d->nrows;
			rc = cl_table_txn_set_metric(x, "numTargetRowsUpserted", uv.nrows, err);
			rc = rc ? rc : cl_table_txn_set_metric(x, "numTargetRowsDeleted", 0, err);
			rc = rc ? rc : cl_table_txn_set_metric(x, "numTargetRowsCopied", 0, err);
			rc = rc ? rc : cl_table_txn_set_metric(x, "numTargetFilesRewritten", 0, err);
		}
	} else if (!rc) {
		mtrace(r, "copy-on-write begins");
		rc = cl_table_cow(x, ms, ub, uv.nrows ? 1 : 0, r->full, db, r->d->nrows ? 1 : 0,
				  &res->cow, err);
	}
	/* the sequence index */
	cl_dms_consumed *next = r->p->next;
	if (!rc && r->nkeys) {
		seq_cols sc = {r->nkeys, o->sequence_by ? r->nkeys : -1,
			       cl_schema_find(is, CL_MERGE_SEQ_FILE),
			       cl_schema_find(is, CL_MERGE_SEQ_ROW)};
		if (!rc && next->nparts + (ib->nrows > 0) > CL_DMS_SEQ_MAX_PARTS)
			rc = compact_parts(cl_table_store(r->t), next, ms, is, &sc, ib, err);
		else if (!rc && ib->nrows) {
			rc = cl_dms_seq_write(cl_table_store(r->t), &part, is, ib, err);
			rc = rc ? rc : cl_dms_consumed_add_part(next, part, err);
		}
	}
	const char *label = o->source_label ? o->source_label : r->dir;
	rc = rc ? rc : cl_dms_consumed_record(r->t, x, r->s, next, o->app_id, label, NULL, err);
	if (!rc) {
		const cl_merge_stats *ms_ = &res->merge;
		rc = cl_table_txn_set_metric(x, "numSourceFiles", ms_->files, err);
		rc = rc ? rc : cl_table_txn_set_metric(x, "numSourceRows", ms_->rows, err);
		rc = rc ? rc : cl_table_txn_set_metric(x, "numSourceInserts", ms_->inserts, err);
		rc = rc ? rc : cl_table_txn_set_metric(x, "numSourceUpdates", ms_->updates, err);
		rc = rc ? rc : cl_table_txn_set_metric(x, "numSourceDeletes", ms_->deletes, err);
		rc = rc ? rc : cl_table_txn_set_metric(x, "numStaleChanges", ms_->stale, err);
	}
	progress(r, "commit");
	mtrace(r, "data written");
	rc = rc ? rc : cl_table_txn_commit(x, &res->version, err);
	mtrace(r, "committed");
	if (!rc && !r->s)
		res->created = true;
	cl_table_writer_free(w);
	cl_batch_free(ib);
	cl_schema_free(is);
	cl_free(part);
	return rc;
}

/* What the commit added: files, bytes and rows new in the latest version. */
static int count_added(run *r, cl_error *err)
{
	cl_snapshot *after = NULL;
	int rc = cl_table_snapshot(&after, r->t, NULL, err);
	if (rc)
		return rc;
	size_t i = 0, n = r->s ? cl_snapshot_nfiles(r->s) : 0;
	for (size_t j = 0; j < cl_snapshot_nfiles(after); j++) {
		const cl_table_file *f = cl_snapshot_file(after, j);
		while (i < n && strcmp(cl_snapshot_file(r->s, i)->path, f->path) < 0)
			i++;
		if (i < n && !strcmp(cl_snapshot_file(r->s, i)->path, f->path))
			continue;
		r->res->files_added++;
		r->res->bytes_written += f->size;
		r->res->rows_written += f->num_records > 0 ? f->num_records : 0;
	}
	cl_snapshot_free(after);
	return 0;
}

int cl_dms_merge_run(cl_dms_merge_result *res, const char *source_dir, const char *location,
		     const cl_dms_merge_options *o_in, cl_error *err)
{
	double t0 = now_s();
	cl_dms_merge_options defaults;
	if (!o_in) {
		cl_dms_merge_options_init(&defaults);
		o_in = &defaults;
	}
	memset(res, 0, sizeof *res);
	res->version = -1;
	run r = {0};
	r.res = res;
	r.o = o_in;
	r.dir = source_dir;
	r.t0 = t0;
	r.trace = getenv("CL_MERGE_TRACE") != NULL;
	int rc = cl_table_open(&r.t, location, err);
	rc = rc ? rc : open_table(&r, err);
	rc = rc ? rc : bind_keys(&r, err);
	if (!rc && r.s)
		rc = cl_dms_consumed_load(&r.consumed, NULL, r.t, r.s, o_in->app_id, err);
	if (!rc && !r.s)
		rc = cl_dms_consumed_create(&r.consumed, err);
	rc = rc ? rc : cl_dms_list(&r.l, source_dir, err);
	rc = rc ? rc : cl_dms_plan_make(&r.p, r.l, r.consumed, err);
	if (!rc) {
		res->nskipped = r.l->nskipped;
		res->nchanged = r.p->nchanged;
		res->rebuilt = r.p->rebuild && r.s;
	}
	if (rc || r.p->nfiles == 0)
		goto out;
	if (r.s)
		rc = cl_snapshot_write_schema(&r.tschema, r.s, err);
	mtrace(&r, "listed and planned");
	rc = rc ? rc : lean_plan(&r, err);
	rc = rc ? rc : read_files(&r, err);
	mtrace(&r, "changes folded");
	rc = rc ? rc : shape_table(&r, err);
	rc = rc ? rc : resolve(&r, err);
	mtrace(&r, "sequence index checked");
	if (!rc) {
		/* the commit builds on the snapshot the run resolved against */
		r.before = r.s;
		rc = commit(&r, err);
	}
	rc = rc ? rc : count_added(&r, err);
out:
	if (rc && r.t)
		cl_error_prefix(err, "merge into %s: ", location);
	res->seconds = now_s() - t0;
	cl_batch_free(r.u);
	cl_batch_free(r.d);
	cl_merge_free(r.m);
	cl_schema_free(r.data_schema);
	for (int i = 0; r.lean_keep && i < r.p->nfiles; i++)
		cl_free(r.lean_keep[i]);
	cl_free(r.lean_keep);
	cl_free(r.lean_op);
	cl_free(r.lean_rows);
	cl_schema_free(r.tschema);
	cl_dms_plan_free(r.p);
	cl_dms_listing_free(r.l);
	cl_dms_consumed_free(r.consumed);
	free_list(r.keys, r.nkeys);
	cl_table_txn_free(r.x);
	cl_snapshot_free(r.s);
	cl_table_free(r.t);
	return rc;
}
