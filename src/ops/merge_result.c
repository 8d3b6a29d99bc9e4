/*
 * merge_result.c — the result side of a merge: its FINISHED and RESOLVING
 * states (see changelake/merge.h for the contract, merge_impl.h for struct
 * cl_merge, its invariants and the state machine, merge.c for the ADDING
 * state).
 *
 * Holds: cl_merge_finish (the winners gathered into result columns —
 * moved, not copied, when every stored row won; without update chains
 * column by column, on cl_merge_options.threads threads — and the store
 * and its hash table freed), cl_merge_resolve (a hash table over the result built
 * at its first call, stale rows marked, patch values collected),
 * cl_merge_result (the output batches) and cl__merge_take_result (the
 * same rows, the result's columns handed over when nothing is patched;
 * column by column on cl_merge_options.threads threads). Threads only
 * ever work on distinct columns, so the result is the same on any
 * number.
 */
#include "ops/merge_impl.h"

#include <pthread.h>
#include <string.h>

/* ---- finish, resolve, result ------------------------------------------ */

/* Append n int64 values (no NULLs) to an INT64 column in one copy. */
static int append_i64s(cl_column *c, const int64_t *v, int64_t n, cl_error *err)
{
	if (n <= 0)
		return 0;
	int rc = cl_column_reserve(c, n, err);
	if (rc)
		return rc;
	memcpy(c->values + (size_t)c->length * 8, v, (size_t)n * 8);
	c->length += n;
	return 0;
}

/* The empty INT64 column c takes over the array *arr (n values, cap
 * allocated, from cl_malloc/cl_realloc: what a column's values buffer is)
 * instead of a copy; *arr becomes NULL. */
static void adopt_i64(cl_column *c, int64_t **arr, int64_t n, int64_t cap)
{
	if (!*arr)
		return;
	cl_free(c->values);
	c->values = (uint8_t *)*arr;
	c->cap = cap;
	c->length = n;
	*arr = NULL;
}

/*
 * Without update chains: the winners' values of result columns from, from
 * + step, ... (column nd + 2 stands for the ops), copied by the runs of
 * winning store rows (found once, runs[2k] = first row, runs[2k + 1] =
 * length). The columns are independent, so threads can take every
 * step-th one.
 */
typedef struct gather_task {
	cl_merge *m;
	const int64_t *runs;
	int64_t nruns;
	int from, step, rc;
	cl_error err;
} gather_task;

static void *gather_columns(void *arg)
{
	gather_task *t = arg;
	cl_merge *m = t->m;
	int nd = m->schema->nfields, rc = 0;
	for (int c = t->from; !rc && c < nd + 3; c += t->step) {
		int64_t j = 0;
		for (int64_t k = 0; !rc && k < t->nruns; k++) {
			int64_t r = t->runs[2 * k], n = t->runs[2 * k + 1];
			if (c < nd)
				rc = cl_column_append_range(&m->res[c], &m->cols[c], r, n, &t->err);
			else if (c < nd + 2)
				rc = append_i64s(&m->res[c], (c == nd ? m->seq_file : m->seq_row) + r,
						 n, &t->err);
			else
				memcpy(m->res_ops + j, m->ops + r, (size_t)n);
			j += n;
		}
	}
	t->rc = rc;
	return NULL;
}

/* Run fn on tasks[0..n) (stride bytes apart): tasks 1.. on threads of
 * their own, task 0 (and any whose thread did not start) on the caller's. */
static void run_tasks(void *(*fn)(void *), void *tasks, size_t stride, int n)
{
	enum { MAX_TASKS = 8 };
	pthread_t th[MAX_TASKS];
	bool started[MAX_TASKS] = {false};
	for (int k = 1; k < n && k < MAX_TASKS; k++)
		started[k] = !pthread_create(&th[k], NULL, fn, (char *)tasks + (size_t)k * stride);
	fn(tasks);
	for (int k = 1; k < n && k < MAX_TASKS; k++)
		if (started[k])
			pthread_join(th[k], NULL);
		else
			fn((char *)tasks + (size_t)k * stride);
}

/* Threads for per-column work on ncols columns (at most 8). */
static int task_count(const cl_merge *m, int ncols)
{
	int n = m->threads < 1 ? 1 : m->threads > 8 ? 8 : m->threads;
	return n > ncols ? ncols : n < 1 ? 1 : n;
}

/* gather_columns on m->threads threads (the caller's one of them); the
 * first failing task's error. */
static int gather_parallel(cl_merge *m, int64_t *nres, cl_error *err)
{
	int64_t nruns = 0, rows = 0, cap = 0, *runs = NULL;
	for (int64_t r = 0; r < m->nrows; r++) {
		if (!m->winner[r])
			continue;
		int64_t e = r + 1;
		while (e < m->nrows && m->winner[e])
			e++;
		if (nruns == cap) {
			cap = cap ? 2 * cap : 1024;
			int64_t *nr = cl_realloc(runs, (size_t)cap * 2 * sizeof *nr);
			if (!nr) {
				cl_free(runs);
				return cl_error_set(err, CL_ENOMEM, "out of memory");
			}
			runs = nr;
		}
		runs[2 * nruns] = r;
		runs[2 * nruns++ + 1] = e - r;
		rows += e - r;
		r = e - 1;
	}
	int n = task_count(m, m->schema->nfields + 3);
	gather_task t[8];
	for (int k = 0; k < n; k++) {
		t[k] = (gather_task){.m = m, .runs = runs, .nruns = nruns, .from = k, .step = n};
		t[k].err.code = 0;
	}
	run_tasks(gather_columns, t, sizeof *t, n);
	cl_free(runs);
	for (int k = 0; k < n; k++)
		if (t[k].rc) {
			if (err)
				*err = t[k].err;
			return t[k].rc;
		}
	*nres = rows;
	return 0;
}

/* Result row j's value of data column c came from store row: the winner,
 * or for a NULL in an update chain, the nearest earlier non-NULL. */
static int64_t chain_source(const cl_merge *m, int64_t r, int c)
{
	if (!m->ignore_null || m->ops[r] != 'U')
		return r;
	for (int64_t p = r; p >= 0; p = m->prev[p]) {
		if (!cl_column_is_null(&m->cols[c], p))
			return p;
		if (m->ops[p] != 'U')
			break;
	}
	return r;
}

int cl_merge_finish(cl_merge *m, cl_error *err)
{
	int rc;
	if (m->finished)
		return 0;
	m->finished = true;
	if (!m->schema) {
		/* Nothing was read and no schema is known: an empty result. */
		if ((rc = cl_schema_create(&m->schema, err)) ||
		    (rc = cl__merge_bind_schema(m, err)))
			return rc;
	}
	if ((rc = cl_schema_copy(&m->full, m->schema, err)) ||
	    (rc = cl_schema_add(m->full, CL_MERGE_SEQ_FILE, cl_type_make(CL_INT64), true, err)) ||
	    (rc = cl_schema_add(m->full, CL_MERGE_SEQ_ROW, cl_type_make(CL_INT64), true, err)))
		return rc;
	int nd = m->schema->nfields, nf = m->full->nfields;
	int64_t nw = m->nwinners;
	/* the key hash table is rebuilt over the result rows only when
	 * resolve needs it (an initial load never does) */
	cl_free(m->tab);
	cl_free(m->hbuf);
	m->tab = NULL;
	m->hbuf = NULL;
	m->hbuf_cap = m->nslots = m->nused = 0;
	/* every stored row a winner without chains (an initial load): the
	 * store's columns become the result as they are */
	bool all = !m->ignore_null && nw == m->nrows;
	m->res = cl_calloc((size_t)nf, sizeof *m->res);
	m->res_ops = cl_malloc((size_t)(nw ? nw : 1));
	m->res_base = cl_calloc((size_t)(nw ? nw : 1), 1);
	m->res_stale = cl_calloc((size_t)(nw ? nw : 1), 1);
	if (m->ignore_null)
		m->patch_row = cl_malloc((size_t)(nw ? nw : 1) * sizeof *m->patch_row);
	m->patch = cl_calloc((size_t)(nd ? nd : 1), sizeof *m->patch);
	if (!m->res || !m->res_ops || !m->res_base || !m->res_stale ||
	    (m->ignore_null && !m->patch_row) ||
	    !m->patch)
		return cl__merge_oom(err);
	for (int c = 0; c < nf; c++)
		if ((rc = cl_column_init(&m->res[c], m->full->fields[c].type, all ? 0 : nw,
					 err)))
			return rc;
	for (int c = 0; c < nd; c++)
		if ((rc = cl_column_init(&m->patch[c], m->schema->fields[c].type, 0, err)))
			return rc;
	for (int64_t j = 0; m->patch_row && j < nw; j++)
		m->patch_row[j] = -1;
	int64_t j = 0;
	if (all) {
		for (int c = 0; c < nd; c++)
			if ((rc = cl_column_move(&m->res[c], &m->cols[c], err)))
				return rc;
		adopt_i64(&m->res[nd], &m->seq_file, nw, m->rows_cap);
		adopt_i64(&m->res[nd + 1], &m->seq_row, nw, m->rows_cap);
		if (nw > 0)
			memcpy(m->res_ops, m->ops, (size_t)nw);
		j = nw;
	}
	if (!all && !m->ignore_null) {
		if ((rc = gather_parallel(m, &j, err)))
			return rc;
	}
	for (int64_t r = 0; !all && m->ignore_null && r < m->nrows; r++) {
		if (!m->winner[r])
			continue;
		for (int c = 0; c < nd; c++)
			if ((rc = cl_column_append_from(&m->res[c], &m->cols[c],
							chain_source(m, r, c), err)))
				return rc;
		if ((rc = cl_column_append_i64(&m->res[nd], m->seq_file[r], err)) ||
		    (rc = cl_column_append_i64(&m->res[nd + 1], m->seq_row[r], err)))
			return rc;
		m->res_ops[j] = m->ops[r];
		m->res_base[j] = m->ops[r] == 'U' && m->base[r];
		j++;
	}
	m->nres = j;
	m->stats.keys = m->nkeys ? j : 0;
	cl__merge_free_store(m);
	return 0;
}

/* The hash table over the result rows, for resolve (built at its first
 * call). */
static int build_result_table(cl_merge *m, cl_error *err)
{
	int rc = cl__merge_table_alloc(m, cl__merge_slots_for(m->nres), err);
	for (int64_t r = 0; !rc && r < m->nres; r++) {
		uint64_t h = cl__merge_key_hash(m->res, m->key_idx, m->nkeys, r);
		cl__merge_table_put(m, h, r);
	}
	m->nused = m->nres;
	return rc;
}

int cl_merge_resolve(cl_merge *m, const cl_schema *schema, const cl_batch *rows,
		     cl_error *err)
{
	if (!m->finished)
		return cl_error_set(err, CL_EINVAL, "merge: resolve before finish");
	if (m->nkeys == 0 || m->nres == 0 || rows->nrows == 0)
		return 0;
	int nd = m->schema->nfields, rc;
	if (!m->tab && (rc = build_result_table(m, err)))
		return rc;
	int kidx[64];
	if (m->nkeys > 64)
		return cl_error_set(err, CL_EUNSUPPORTED, "more than 64 key columns");
	for (int k = 0; k < m->nkeys; k++) {
		kidx[k] = cl_schema_find(schema, m->keys[k]);
		if (kidx[k] < 0)
			return cl_error_set(err, CL_ESCHEMA, "the table has no key column '%s'",
					    m->keys[k]);
		if (!cl_type_equal(schema->fields[kidx[k]].type, m->res[m->key_idx[k]].type))
			return cl_error_set(err, CL_ESCHEMA, "key column '%s' has another type "
					    "in the table", m->keys[k]);
	}
	int sf = cl_schema_find(schema, CL_MERGE_SEQ_FILE);
	int sr = cl_schema_find(schema, CL_MERGE_SEQ_ROW);
	if (sf >= 0 && (schema->fields[sf].type.id != CL_INT64 || sr < 0 ||
			schema->fields[sr].type.id != CL_INT64))
		sf = -1;
	int sq = m->seq_idx >= 0 ? cl_schema_find(schema, m->seq_by) : -1;
	if (sq >= 0 && !cl_type_equal(schema->fields[sq].type, m->res[m->seq_idx].type))
		return cl_error_set(err, CL_ESCHEMA, "sequence column '%s' has another type "
				    "in the table", m->seq_by);
	int *map = NULL;
	if (m->ignore_null) {
		map = cl_malloc(sizeof *map * (size_t)(nd ? nd : 1));
		if (!map)
			return cl__merge_oom(err);
		for (int c = 0; c < nd; c++) {
			map[c] = cl_schema_find(schema, m->schema->fields[c].name);
			if (map[c] >= 0 && !cl_type_equal(schema->fields[map[c]].type,
							  m->schema->fields[c].type))
				map[c] = -1;
		}
	}
	for (int64_t e = 0; e < rows->nrows; e++) {
		uint64_t h = cl__merge_key_hash(rows->cols, kidx, m->nkeys, e);
		int64_t s = (int64_t)(h & (uint64_t)(m->nslots - 1)), j = -1;
		uint32_t tag = cl__merge_tag_of(h);
		for (; m->tab[s].row1 != CL__MERGE_SLOT_EMPTY; s = (s + 1) & (m->nslots - 1))
			if (m->tab[s].tag == tag &&
			    cl__merge_keys_equal(m->res, m->key_idx, m->tab[s].row1 - 1,
						 rows->cols, kidx, e, m->nkeys)) {
				j = (int64_t)m->tab[s].row1 - 1;
				break;
			}
		if (j < 0 || m->res_stale[j])
			continue;
		/* Sequence of the table's row against the change's. */
		int cmp;
		bool known = sf >= 0 && !cl_column_is_null(&rows->cols[sf], e) &&
			     !cl_column_is_null(&rows->cols[sr], e);
		if (!known) {
			cmp = -1;
		} else {
			int64_t ef = cl_column_get_i64(&rows->cols[sf], e);
			int64_t er = cl_column_get_i64(&rows->cols[sr], e);
			int64_t cf = cl_column_get_i64(&m->res[nd], j);
			int64_t cr = cl_column_get_i64(&m->res[nd + 1], j);
			bool ec = ef >= 0, cc = cf >= 0;
			if (ec != cc)
				cmp = ec ? 1 : -1;
			else if (sq >= 0 &&
				 (cmp = cl__merge_value_cmp(&rows->cols[sq], e,
							      &m->res[m->seq_idx], j)) != 0)
				;
			else
				cmp = ef < cf ? -1 : ef > cf ? 1 : er < cr ? -1 : er > cr;
		}
		if (cmp >= 0) {
			m->res_stale[j] = 1;
			m->stats.stale++;
			continue;
		}
		if (!m->res_base[j] || m->patch_row[j] >= 0)
			continue;
		/* Keep the row's values where the update has NULLs. */
		for (int c = 0; c < nd; c++) {
			if (map[c] >= 0)
				rc = cl_column_append_from(&m->patch[c], &rows->cols[map[c]], e, err);
			else
				rc = cl_column_append_null(&m->patch[c], err);
			if (rc) {
				cl_free(map);
				return rc;
			}
		}
		m->patch_row[j] = m->npatch++;
	}
	cl_free(map);
	return 0;
}

/* Does result row j take values from the table's row (a patch)? */
static inline bool patched(const cl_merge *m, int64_t j)
{
	return m->patch_row && m->patch_row[j] >= 0;
}

int cl_merge_result(cl_merge *m, const cl_schema **schema, cl_batch **upserts,
		    cl_batch **deletes, cl_error *err)
{
	*upserts = *deletes = NULL;
	int rc;
	if ((rc = cl_merge_finish(m, err)))
		return rc;
	*schema = m->full;
	cl_batch *u = NULL, *d = NULL;
	if ((rc = cl_batch_create(&u, m->full, 0, err)) ||
	    (rc = cl_batch_create(&d, m->full, 0, err)))
		goto fail;
	int nd = m->schema->nfields, nf = m->full->nfields;
	m->stats.upserts_out = m->stats.deletes_out = 0;
	for (int64_t j = 0; j < m->nres; j++) {
		if (m->res_stale[j])
			continue;
		cl_batch *t = m->res_ops[j] == 'D' ? d : u;
		if (!patched(m, j)) {
			/* a run of rows to the same batch without patched values */
			int64_t e = j + 1;
			while (e < m->nres && !m->res_stale[e] && !patched(m, e) &&
			       (m->res_ops[e] == 'D') == (t == d))
				e++;
			for (int c = 0; c < nf; c++)
				if ((rc = cl_column_append_range(&t->cols[c], &m->res[c], j, e - j,
								 err)))
					goto fail;
			t->nrows += e - j;
			if (t == d)
				m->stats.deletes_out += e - j;
			else
				m->stats.upserts_out += e - j;
			j = e - 1;
			continue;
		}
		for (int c = 0; c < nf; c++) {
			const cl_column *from = &m->res[c];
			int64_t row = j;
			if (c < nd && patched(m, j) && cl_column_is_null(from, j)) {
				from = &m->patch[c];
				row = m->patch_row[j];
			}
			if ((rc = cl_column_append_from(&t->cols[c], from, row, err)))
				goto fail;
		}
		t->nrows++;
		if (t == d)
			m->stats.deletes_out++;
		else
			m->stats.upserts_out++;
	}
	*upserts = u;
	*deletes = d;
	return 0;
fail:
	cl_batch_free(u);
	cl_batch_free(d);
	return rc;
}

/*
 * Keep the rows r < n of c with keep[r] set, in order, in place (runs
 * moved with memmove). What lies past the new length reads as a fresh
 * reserve leaves it: values zero, validity bits set.
 */
static void column_keep(cl_column *c, const uint8_t *keep, int64_t n)
{
	int w = cl_type_width(c->type);
	bool var = cl_type_is_var(c->type), bit = c->type.id == CL_BOOL;
	int64_t k = 0, nulls = 0, dpos = 0;
	for (int64_t r = 0; r < n;) {
		if (!keep[r]) {
			r++;
			continue;
		}
		int64_t e = r + 1;
		while (e < n && keep[e])
			e++;
		if (var) {
			int64_t b0 = c->offsets[r], b1 = c->offsets[e];
			if (b1 > b0)
				memmove(c->data + dpos, c->data + b0, (size_t)(b1 - b0));
			/* k <= r: each offset is read before its cell is written */
			for (int64_t i = 0; i < e - r; i++)
				c->offsets[k + i] = dpos + (c->offsets[r + i] - b0);
			dpos += b1 - b0;
		} else if (bit) {
			for (int64_t i = 0; i < e - r; i++)
				cl_bit_set(c->values, k + i, cl_bit_get(c->values, r + i));
		} else if (c->values && w > 0 && k < r) {
			memmove(c->values + (size_t)k * (size_t)w, c->values + (size_t)r * (size_t)w,
				(size_t)(e - r) * (size_t)w);
		}
		for (int64_t i = 0; c->validity && i < e - r; i++) {
			bool v = cl_bit_get(c->validity, r + i);
			cl_bit_set(c->validity, k + i, v);
			nulls += !v;
		}
		k += e - r;
		r = e;
	}
	if (var)
		c->offsets[k] = dpos;
	else if (bit)
		for (int64_t i = k; i < n; i++)
			cl_bit_set(c->values, i, false);
	else if (c->values && w > 0 && n > k)
		memset(c->values + (size_t)k * (size_t)w, 0, (size_t)(n - k) * (size_t)w);
	for (int64_t i = k; c->validity && i < n; i++)
		cl_bit_set(c->validity, i, true);
	c->length = k;
	c->null_count = c->validity ? nulls : 0;
}

/* Column c of the taken result, for c = from, from + step, ...: its
 * deletes appended to d, then the column moved to u and squeezed. */
typedef struct take_task {
	cl_merge *m;
	cl_batch *u, *d;
	const uint8_t *keep;
	int64_t ndel;
	int from, step, rc;
	cl_error err;
} take_task;

static void *take_columns(void *arg)
{
	take_task *t = arg;
	cl_merge *m = t->m;
	int rc = 0;
	for (int c = t->from; !rc && c < m->full->nfields; c += t->step) {
		for (int64_t j = 0; !rc && t->ndel && j < m->nres; j++) {
			if (m->res_stale[j] || m->res_ops[j] != 'D')
				continue;
			int64_t e = j + 1;
			while (e < m->nres && !m->res_stale[e] && m->res_ops[e] == 'D')
				e++;
			rc = cl_column_append_range(&t->d->cols[c], &m->res[c], j, e - j, &t->err);
			j = e - 1;
		}
		rc = rc ? rc : cl_column_move(&t->u->cols[c], &m->res[c], &t->err);
		if (!rc && t->keep)
			column_keep(&t->u->cols[c], t->keep, m->nres);
	}
	t->rc = rc;
	return NULL;
}

/* The result handed over for the merge's last use (merge_internal.h). */
int cl__merge_take_result(cl_merge *m, const cl_schema **schema, cl_batch **upserts,
			  cl_batch **deletes, cl_error *err)
{
	*upserts = *deletes = NULL;
	int rc;
	if ((rc = cl_merge_finish(m, err)))
		return rc;
	int64_t ndel = 0, ndrop = 0;
	for (int64_t j = 0; j < m->nres; j++) {
		if (patched(m, j))
			return cl_merge_result(m, schema, upserts, deletes, err);
		ndel += !m->res_stale[j] && m->res_ops[j] == 'D';
		ndrop += m->res_stale[j] || m->res_ops[j] == 'D';
	}
	*schema = m->full;
	int nf = m->full->nfields;
	cl_batch *u = NULL, *d = NULL;
	uint8_t *keep = NULL;
	if ((rc = cl_batch_create(&u, m->full, 0, err)) ||
	    (rc = cl_batch_create(&d, m->full, ndel, err)))
		goto fail;
	if (ndrop && !(keep = cl_malloc((size_t)m->nres))) {
		rc = cl__merge_oom(err);
		goto fail;
	}
	for (int64_t j = 0; keep && j < m->nres; j++)
		keep[j] = !m->res_stale[j] && m->res_ops[j] != 'D';
	/* column by column, on m->threads threads: the deletes (few) copied
	 * out in runs, then the upserts are the result's columns themselves,
	 * stale rows and deletes squeezed out in place */
	int n = task_count(m, nf);
	take_task t[8];
	for (int k = 0; k < n; k++) {
		t[k] = (take_task){.m = m, .u = u, .d = d, .keep = keep, .ndel = ndel,
				   .from = k, .step = n};
		t[k].err.code = 0;
	}
	run_tasks(take_columns, t, sizeof *t, n);
	d->nrows = ndel;
	for (int k = 0; k < n; k++)
		if (t[k].rc) {
			if (err)
				*err = t[k].err;
			rc = t[k].rc;
			m->nres = 0; /* columns moved already: the result is gone */
			goto fail;
		}
	u->nrows = m->nres - ndrop;
	cl_free(keep);
	keep = NULL;
	m->stats.upserts_out = u->nrows;
	m->stats.deletes_out = ndel;
	m->nres = 0;
	/* the per-row result arrays describe no rows any more */
	cl_free(m->res_ops);
	cl_free(m->res_base);
	cl_free(m->res_stale);
	cl_free(m->patch_row);
	m->res_ops = NULL;
	m->res_base = m->res_stale = NULL;
	m->patch_row = NULL;
	*upserts = u;
	*deletes = d;
	return 0;
fail:
	cl_free(keep);
	cl_batch_free(u);
	cl_batch_free(d);
	return rc;
}
