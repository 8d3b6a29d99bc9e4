/*
 * table_write.c — the table writer: rows into a lake table, converted to
 * the table's types, routed by partition values and key-hash bucket to
 * one group per (partition folder, bucket), each group's rows written to
 * Parquet data files (table_data_file.c) that are added to a transaction.
 *
 * Invariants: each group has at most one open file at a time; a file is
 * finished once it reaches the table's target size; a group's rows keep
 * their input order, and a group's pending rows never pass 65536. A file
 * is written to a staging path, finished, then published (synced) under
 * its final key — all before the transaction can commit, so a commit never
 * names a file that is not durable. A crash leaves staged or published but
 * unreferenced files: orphans, which vacuum removes. Writeback of a file
 * starts as it grows (the writer's, io.c). With cl_table_txn_threads > 1
 * the groups' last rows and files are finished on threads, then published
 * and added in group order (finish_parallel): the same commit.
 */
#include "delta.h"
#include "table_data.h"
#include "changelake/hash.h"
#include "changelake/io.h"
#include "core/value_text.h"
#include "storage/crash_point.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int oom(cl_error *err)
{
	return cl_error_set(err, CL_ENOMEM, "out of memory");
}

/* Rows routed at a time without partition columns. */
#define SCATTER_ROWS 16384

typedef struct group {
	char *key;          /* "DIR#BUCKET": map key */
	char *dir;          /* partition folder "a=1/b=x/" or "" */
	int bucket;
	cl_table_kv *part;  /* partition values (strings owned) */
	cl_batch *pending;  /* rows not yet handed to the file writer */
	cl_writer *w;       /* current file, or NULL */
	char *stage;        /* its staging path */
	char *file_key;     /* its final key */
	int64_t file_rows;
	size_t ord;         /* index in the writer's groups */
} group;

struct cl__table_writer {
	cl_table *t;
	const cl_snapshot *s;
	cl_table_txn *x;
	cl__table_layout l;
	const cl_schema *input;
	int *input_of;       /* table column -> input column, or -1 */
	group **groups;
	size_t ngroups, cap;
	cl__strmap index;    /* group key -> index */
	cl_batch *conv;      /* the current batch in table types */
	const cl_column **col; /* per table column: the input's column when its
				* type is the table's (no copy), else conv's */
	int seq;             /* file counter for names */
	bool rearrange;      /* files only rearrange rows (dataChange false) */
	int64_t files, rows, bytes;
	/* routing scratch: without partition columns a row's group depends on
	 * its bucket only (by_bucket caches it); group of each row, row
	 * numbers sorted by group, key hashes, rows per group */
	group **by_bucket;
	group **gof;
	int64_t *idx, *count;
	uint64_t *hash;
	int64_t scratch_rows;
	size_t count_cap;
	/* scatter scratch (no partition columns): per row its group's ord,
	 * per group a write pointer and a position / byte count */
	uint32_t *gid;
	uint8_t **sdst;
	int64_t *spos, *sbytes;
};

void cl__table_writer_counts(const cl__table_writer *w, int64_t *files, int64_t *rows,
			     int64_t *bytes)
{
	*files = w->files;
	*rows = w->rows;
	*bytes = w->bytes;
}

static void group_free(cl_store *st, group *g)
{
	if (!g)
		return;
	cl_free(g->key);
	cl_free(g->dir);
	if (g->part) {
		/* keys are borrowed from the snapshot; values owned */
		for (int i = 0; g->part[i].key; i++)
			cl_free((char *)g->part[i].value);
		cl_free(g->part);
	}
	cl_batch_free(g->pending);
	cl_writer_free(g->w);
	if (g->stage)
		cl_store_unstage(st, g->stage);
	cl_free(g->stage);
	cl_free(g->file_key);
	cl_free(g);
}

void cl__table_writer_free(cl__table_writer *w)
{
	if (!w)
		return;
	for (size_t i = 0; i < w->ngroups; i++)
		group_free(cl_table_store(w->t), w->groups[i]);
	cl_free(w->groups);
	cl_free(w->by_bucket);
	cl_free(w->gof);
	cl_free(w->idx);
	cl_free(w->count);
	cl_free(w->hash);
	cl_free(w->gid);
	cl_free(w->sdst);
	cl_free(w->spos);
	cl_free(w->sbytes);
	cl__strmap_release(&w->index);
	cl_batch_free(w->conv);
	cl_free(w->col);
	cl_free(w->input_of);
	cl__table_layout_release(&w->l);
	cl_free(w);
}

int cl__table_writer_open(cl__table_writer **out, cl_table *t, const cl_snapshot *s,
			  cl_table_txn *x, const cl_schema *input, cl_error *err)
{
	*out = NULL;
	cl__table_writer *w = cl_calloc(1, sizeof *w);
	if (!w)
		return oom(err);
	w->t = t;
	w->s = s;
	w->x = x;
	w->input = input;
	int rc = cl__table_layout_init(&w->l, s, err);
	if (rc) {
		cl_free(w);
		return rc;
	}
	const cl_schema *sc = w->l.schema;
	w->input_of = cl_calloc((size_t)sc->nfields + 1, sizeof *w->input_of);
	w->col = cl_calloc((size_t)sc->nfields + 1, sizeof *w->col);
	if (!w->input_of || !w->col)
		rc = oom(err);
	for (int i = 0; !rc && i < sc->nfields; i++) {
		w->input_of[i] = cl_schema_find(input, sc->fields[i].name);
		bool derived = false;
		for (int p = 0; p < w->l.npart; p++)
			if (w->l.part_index[p] == i && w->l.part_xf[p] != CL__XF_IDENTITY)
				derived = true;
		if (derived)
			continue;
		if (w->input_of[i] < 0 && !sc->fields[i].nullable)
			rc = cl_error_set(err, CL_ESCHEMA, "column '%s' (not null) is missing",
					  sc->fields[i].name);
	}
	for (int p = 0; !rc && p < w->l.npart; p++)
		if (w->input_of[w->l.part_source[p]] < 0)
			rc = cl_error_set(err, CL_ESCHEMA, "partition column '%s' is missing",
					  sc->fields[w->l.part_source[p]].name);
	for (int i = 0; !rc && i < input->nfields; i++)
		if (cl_schema_find(sc, input->fields[i].name) < 0)
			rc = cl_error_set(err, CL_ESCHEMA,
					  "column '%s' is not in the table (adding columns is not "
					  "supported yet)", input->fields[i].name);
	rc = rc ? rc : cl_batch_create(&w->conv, sc, 1024, err);
	if (rc) {
		cl__table_writer_free(w);
		return rc;
	}
	*out = w;
	return 0;
}

/* The columns of b in table types (derived partition columns filled):
 * w->col[i] is b's own column when it already has the table's type (and no
 * NULL a not-null column refuses), else the conversion in w->conv. */
static int convert(cl__table_writer *w, const cl_batch *b, cl_error *err)
{
	const cl_schema *sc = w->l.schema;
	cl_batch_clear(w->conv);
	cl_buf txt = {0};
	int rc = 0;
	for (int i = 0; !rc && i < sc->nfields; i++) {
		cl_column *dst = &w->conv->cols[i];
		int p = -1;
		for (int k = 0; k < w->l.npart; k++)
			if (w->l.part_index[k] == i && w->l.part_xf[k] != CL__XF_IDENTITY)
				p = k;
		int src = w->input_of[i];
		if (p < 0 && src >= 0 && cl_type_equal(b->cols[src].type, dst->type) &&
		    (sc->fields[i].nullable || !b->cols[src].validity ||
		     b->cols[src].null_count == 0)) {
			/* same type, no NULL to refuse: used as it is */
			w->col[i] = &b->cols[src];
			continue;
		}
		w->col[i] = dst;
		for (int64_t r = 0; !rc && r < b->nrows; r++) {
			if (p >= 0) {
				const cl_column *sc_col = &b->cols[w->input_of[w->l.part_source[p]]];
				bool null;
				cl_buf_clear(&txt);
				rc = cl__layout_partition_text(&txt, &null, sc_col, r, w->l.part_xf[p], err);
				if (!rc)
					rc = null ? cl_column_append_null(dst, err)
						  : cl__column_append_text(dst, (const char *)txt.data,
									   txt.len, err);
			} else if (src < 0) {
				rc = cl_column_append_null(dst, err);
			} else {
				rc = cl__append_converted(dst, &b->cols[src], r, err);
			}
			if (!rc && !sc->fields[i].nullable && cl_column_is_null(dst, dst->length - 1))
				rc = cl_error_set(err, CL_ETYPE, "NULL in a not-null column");
			if (rc)
				cl_error_prefix(err, "row %lld, column '%s': ", (long long)(w->rows + r + 1),
						sc->fields[i].name);
		}
	}
	w->conv->nrows = b->nrows;
	cl_buf_release(&txt);
	return rc;
}

static int find_group(cl__table_writer *w, int64_t row, group **out, cl_buf *key,
		      cl_error *err)
{
	const cl_column *const *c = w->col;
	cl_buf_clear(key);
	int rc = 0;
	cl_table_kv kv[64];
	cl_buf vals[64];
	int np = w->l.npart;
	if (np > 64)
		return cl_error_set(err, CL_EUNSUPPORTED, "more than 64 partition columns");
	memset(vals, 0, sizeof vals);
	for (int p = 0; !rc && p < np; p++) {
		bool null;
		rc = cl__layout_partition_text(&vals[p], &null, c[w->l.part_index[p]], row,
					       CL__XF_IDENTITY, err);
		kv[p].key = w->s->partition_cols[p];
		kv[p].value = null ? NULL : vals[p].data ? (const char *)vals[p].data : "";
		if (!null && !vals[p].len)
			kv[p].value = NULL; /* an empty string is null in Delta */
	}
	int bucket = -1;
	if (!rc && w->l.buckets) {
		uint64_t h = 0;
		for (int k = 0; k < w->l.nkeys; k++)
			h = cl_hash_value(c[w->l.key_index[k]], row, h);
		bucket = (int)(h % (uint64_t)w->l.buckets);
	}
	if (!rc && cl__layout_partition_dir(key, kv, np))
		rc = oom(err);
	size_t dirlen = key->len;
	if (!rc && cl_buf_putc(key, '#'))
		rc = oom(err);
	if (!rc && bucket >= 0 && cl_buf_printf(key, "%d", bucket))
		rc = oom(err);
	int64_t gi = rc ? -1 : cl__strmap_get(&w->index, (const char *)key->data);
	if (!rc && gi < 0) {
		group *g = cl_calloc(1, sizeof *g);
		if (!g) {
			rc = oom(err);
			goto out;
		}
		g->bucket = bucket;
		g->key = cl_strdup((const char *)key->data);
		g->dir = cl_strndup((const char *)key->data, dirlen);
		g->part = cl_calloc((size_t)np + 1, sizeof *g->part);
		if (!g->key || !g->dir || !g->part) {
			group_free(cl_table_store(w->t), g);
			rc = oom(err);
			goto out;
		}
		for (int p = 0; p < np; p++) {
			g->part[p].key = kv[p].key;
			if (kv[p].value && !(g->part[p].value = cl_strdup(kv[p].value)))
				rc = oom(err);
		}
		rc = rc ? rc : cl_batch_create(&g->pending, w->l.file_schema, 1024, err);
		if (!rc && w->ngroups == w->cap) {
			size_t cap = w->cap ? w->cap * 2 : 16;
			group **ng = cl_realloc(w->groups, cap * sizeof *ng);
			if (!ng)
				rc = oom(err);
			else {
				w->groups = ng;
				w->cap = cap;
			}
		}
		if (rc) {
			group_free(cl_table_store(w->t), g);
			goto out;
		}
		g->ord = w->ngroups;
		w->groups[w->ngroups] = g;
		if (cl__strmap_put(&w->index, g->key, (int64_t)w->ngroups)) {
			rc = oom(err);
			goto out;
		}
		gi = (int64_t)w->ngroups++;
	}
	if (!rc)
		*out = w->groups[gi];
out:
	for (int p = 0; p < np; p++)
		cl_buf_release(&vals[p]);
	return rc;
}

/* Finish g's current file: close, stats, publish, add to the txn. */
static int finish_file(cl__table_writer *w, group *g, cl_error *err)
{
	int64_t size = 0;
	bool open = g->w != NULL;
	int rc = cl__data_file_add(w->t, w->x, w->l.file_schema, &g->w, &g->stage, &g->file_key,
				   g->part, w->l.npart, !w->rearrange, &size, err);
	if (!rc && open) {
		w->files++;
		w->bytes += size;
	}
	g->file_rows = 0;
	return rc;
}

/* Threads a group's file encodes its row groups on: the transaction's
 * (one writer fills the groups' files in turn on the caller's thread; the
 * files finished in parallel at the end open with one, finish_close). */
static int writer_threads(const cl__table_writer *w)
{
	return w->x ? cl_table_txn_threads(w->x) : 1;
}

static int flush_pending(cl__table_writer *w, group *g, cl_error *err)
{
	if (g->pending->nrows == 0)
		return 0;
	int rc = 0;
	if (!g->w && (rc = cl__data_file_open(w->t, &w->l, g->dir, w->seq++, g->bucket,
					       writer_threads(w), &g->file_key, &g->stage,
					       &g->w, err)))
		return rc;
	rc = cl_writer_write(g->w, g->pending, err);
	cl__crash_point("data-file-writing");
	g->file_rows += g->pending->nrows;
	cl_batch_clear(g->pending);
	if (!rc && cl_writer_bytes(g->w) >= w->l.target_bytes)
		rc = finish_file(w, g, err);
	return rc;
}

/*
 * Scatter rows [a, b) of src to dst[g] (g = w->gid[r]), column by column:
 * one sequential pass over the source per column with a write pointer per
 * group, which keeps the source in cache (gathering each group's rows in
 * turn reads the source once per group). cnt[g]: rows of [a, b) in g.
 */
static int scatter_column(cl__table_writer *w, cl_column *const *dst, const cl_column *src,
			  int64_t a, int64_t b, const int64_t *cnt, size_t ng, cl_error *err)
{
	const uint32_t *gid = w->gid;
	uint8_t **dp = w->sdst;
	int64_t *pos = w->spos, *bytes = w->sbytes;
	int rc = 0;
	if (src->type.id == CL_NULLTYPE) {
		for (int64_t r = a; !rc && r < b; r++)
			rc = cl_column_append_null(dst[gid[r]], err);
		return rc;
	}
	const bool src_nulls = src->validity && src->null_count > 0;
	bool any_validity = src_nulls;
	for (size_t g = 0; !rc && g < ng; g++) {
		pos[g] = dst[g]->length;
		if (cnt[g]) {
			rc = cl_column_reserve(dst[g], cnt[g], err);
			any_validity |= dst[g]->validity != NULL;
		}
	}
	if (rc)
		return rc;
	if (any_validity) {
		for (size_t g = 0; g < ng; g++)
			if (cnt[g] && (rc = cl_column_ensure_validity(dst[g], err)))
				return rc;
		for (int64_t r = a; r < b; r++) {
			uint32_t g = gid[r];
			bool v = !src_nulls || cl_bit_get(src->validity, r);
			cl_bit_set(dst[g]->validity, pos[g]++, v);
			dst[g]->null_count += !v;
		}
		for (size_t g = 0; g < ng; g++)
			pos[g] = dst[g]->length;
	}
	if (src->type.id == CL_BOOL) {
		for (int64_t r = a; r < b; r++) {
			uint32_t g = gid[r];
			cl_bit_set(dst[g]->values, pos[g]++, cl_bit_get(src->values, r));
		}
	} else if (cl_type_is_var(src->type)) {
		const int64_t *so = src->offsets;
		for (size_t g = 0; g < ng; g++)
			bytes[g] = 0;
		for (int64_t r = a; r < b; r++)
			bytes[gid[r]] += so[r + 1] - so[r];
		for (size_t g = 0; g < ng; g++) {
			if (cnt[g] && (rc = cl_column_reserve_data(dst[g], bytes[g], err)))
				return rc;
			bytes[g] = cnt[g] ? dst[g]->offsets[dst[g]->length] : 0;
		}
		for (int64_t r = a; r < b; r++) {
			uint32_t g = gid[r];
			cl_column *d = dst[g];
			int64_t b0 = so[r], len = so[r + 1] - b0;
			cl__copy_short(d->data + bytes[g], src->data + b0, (size_t)len);
			bytes[g] += len;
			d->offsets[++pos[g]] = bytes[g];
		}
	} else {
		size_t wd = (size_t)cl_type_width(src->type);
		for (size_t g = 0; g < ng; g++)
			dp[g] = dst[g]->values + (size_t)pos[g] * wd;
		const uint8_t *sv = src->values + (size_t)a * wd;
		switch (wd) {
		case 4:
			for (int64_t r = a; r < b; r++, sv += 4) {
				uint32_t g = gid[r];
				memcpy(dp[g], sv, 4);
				dp[g] += 4;
			}
			break;
		case 8:
			for (int64_t r = a; r < b; r++, sv += 8) {
				uint32_t g = gid[r];
				memcpy(dp[g], sv, 8);
				dp[g] += 8;
			}
			break;
		default:
			for (int64_t r = a; r < b; r++, sv += wd) {
				uint32_t g = gid[r];
				memcpy(dp[g], sv, wd);
				dp[g] += wd;
			}
		}
	}
	for (size_t g = 0; g < ng; g++)
		dst[g]->length += cnt[g];
	return 0;
}

/* Without partition columns (at most one group per bucket): rows [0, n)
 * scattered to their groups' pending batches in slices of SCATTER_ROWS, a
 * group's pending rows handed to the file writer before they would pass
 * 65536, and once they reach it. */
static int route_scatter(cl__table_writer *w, int64_t n, cl_error *err)
{
	size_t ng = w->ngroups;
	int nf = w->l.file_schema->nfields;
	cl_column **dst = cl_malloc((ng + 1) * (size_t)(nf > 0 ? nf : 1) * sizeof *dst);
	if (!dst)
		return oom(err);
	int rc = 0;
	for (int64_t r = 0; r < n; r++)
		w->gid[r] = (uint32_t)w->gof[r]->ord;
	for (int64_t a = 0; !rc && a < n; a += SCATTER_ROWS) {
		int64_t b = n - a < SCATTER_ROWS ? n : a + SCATTER_ROWS;
		memset(w->count, 0, (ng + 1) * sizeof *w->count);
		for (int64_t r = a; r < b; r++)
			w->count[w->gid[r]]++;
		/* a pending batch never passes 65536 rows (nor its buffers) */
		for (size_t g = 0; !rc && g < ng; g++)
			if (w->groups[g]->pending->nrows + w->count[g] > 65536)
				rc = flush_pending(w, w->groups[g], err);
		for (int i = 0; !rc && i < nf; i++) {
			cl_column **d = dst + (size_t)i * ng;
			for (size_t g = 0; g < ng; g++)
				d[g] = &w->groups[g]->pending->cols[i];
			rc = scatter_column(w, d, w->col[w->l.file_to_table[i]], a, b, w->count, ng,
					    err);
		}
		for (size_t g = 0; !rc && g < ng; g++) {
			group *gr = w->groups[g];
			gr->pending->nrows += w->count[g];
			if (gr->pending->nrows >= 65536)
				rc = flush_pending(w, gr, err);
		}
	}
	cl_free(dst);
	return rc;
}

/* Room for n rows in the routing scratch. */
static int scratch_reserve(cl__table_writer *w, int64_t n, cl_error *err)
{
	if (!w->by_bucket) {
		int nb = w->l.buckets ? w->l.buckets : 1;
		if (!(w->by_bucket = cl_calloc((size_t)nb, sizeof *w->by_bucket)))
			return oom(err);
	}
	if (n <= w->scratch_rows)
		return 0;
	cl_free(w->gof);
	cl_free(w->idx);
	cl_free(w->hash);
	cl_free(w->gid);
	w->gof = cl_malloc((size_t)n * sizeof *w->gof);
	w->idx = cl_malloc((size_t)n * sizeof *w->idx);
	w->hash = cl_malloc((size_t)n * sizeof *w->hash);
	w->gid = cl_malloc((size_t)n * sizeof *w->gid);
	w->scratch_rows = w->gof && w->idx && w->hash && w->gid ? n : 0;
	return w->scratch_rows ? 0 : oom(err);
}

/* Rows of b (w->col) go to their groups: the group of every row first;
 * without partition columns the rows are then scattered column by column
 * (route_scatter), else each group's rows (in input order) are appended
 * column by column, its pending rows handed to the file writer every 65536
 * rows. Either way a group's rows keep their input order. */
int cl__table_writer_write(cl__table_writer *w, const cl_batch *b, cl_error *err)
{
	int rc = convert(w, b, err);
	int64_t n = b->nrows;
	cl_buf key = {0};
	rc = rc ? rc : scratch_reserve(w, n, err);
	if (!rc && n && w->l.npart == 0) {
		if (w->l.buckets) {
			memset(w->hash, 0, (size_t)n * sizeof *w->hash);
			for (int k = 0; k < w->l.nkeys; k++)
				cl_hash_column(w->col[w->l.key_index[k]], w->hash, n);
		}
		uint64_t nb = w->l.buckets ? (uint64_t)w->l.buckets : 1;
		bool pow2 = (nb & (nb - 1)) == 0; /* then h % nb == h & (nb - 1) */
		for (int64_t r = 0; !rc && r < n; r++) {
			uint64_t h = w->l.buckets ? w->hash[r] : 0;
			int bk = (int)(pow2 ? h & (nb - 1) : h % nb);
			if (!w->by_bucket[bk])
				rc = find_group(w, r, &w->by_bucket[bk], &key, err);
			w->gof[r] = w->by_bucket[bk];
		}
	} else {
		for (int64_t r = 0; !rc && r < n; r++)
			rc = find_group(w, r, &w->gof[r], &key, err);
	}
	cl_buf_release(&key);
	if (!rc && w->ngroups > w->count_cap) {
		size_t ng1 = w->ngroups + 1;
		cl_free(w->count);
		cl_free(w->sdst);
		cl_free(w->spos);
		cl_free(w->sbytes);
		w->count = cl_malloc(ng1 * sizeof *w->count);
		w->sdst = cl_malloc(ng1 * sizeof *w->sdst);
		w->spos = cl_malloc(ng1 * sizeof *w->spos);
		w->sbytes = cl_malloc(ng1 * sizeof *w->sbytes);
		bool ok = w->count && w->sdst && w->spos && w->sbytes;
		w->count_cap = ok ? w->ngroups : 0;
		if (!ok)
			rc = oom(err);
	}
	if (rc || !n)
		return rc;
	if (w->l.npart == 0) {
		rc = route_scatter(w, n, err);
		if (!rc)
			w->rows += n;
		return rc;
	}
	/* counting sort of the rows by group (stable) */
	size_t ng = w->ngroups;
	memset(w->count, 0, (ng + 1) * sizeof *w->count);
	for (int64_t r = 0; r < n; r++)
		w->count[w->gof[r]->ord + 1]++;
	for (size_t g = 0; g < ng; g++)
		w->count[g + 1] += w->count[g];
	for (int64_t r = 0; r < n; r++)
		w->idx[w->count[w->gof[r]->ord]++] = r;
	/* count[g] is now the end of group g's rows in idx */
	int64_t start = 0;
	for (size_t gi = 0; !rc && gi < ng; gi++) {
		int64_t end = w->count[gi];
		group *g = w->groups[gi];
		while (!rc && start < end) {
			int64_t m = 65536 - g->pending->nrows;
			if (m > end - start)
				m = end - start;
			for (int i = 0; !rc && i < w->l.file_schema->nfields; i++)
				rc = cl_column_append_take(&g->pending->cols[i],
						 w->col[w->l.file_to_table[i]], w->idx + start, m,
						 err);
			start += m;
			if (!rc && (g->pending->nrows += m) >= 65536)
				rc = flush_pending(w, g, err);
		}
		start = end;
	}
	if (!rc)
		w->rows += n;
	return rc;
}

/* Without partition columns: finish the open file of bucket's group (its
 * rows are all written); later rows of the bucket would start a new file. */
int cl__table_writer_finish_bucket(cl__table_writer *w, int bucket, cl_error *err)
{
	if (w->l.npart || !w->by_bucket || bucket < 0 ||
	    bucket >= (w->l.buckets ? w->l.buckets : 1) || !w->by_bucket[bucket])
		return 0;
	group *g = w->by_bucket[bucket];
	int rc = flush_pending(w, g, err);
	return rc ? rc : finish_file(w, g, err);
}

void cl__table_writer_rearrange(cl__table_writer *w)
{
	w->rearrange = true;
}

/*
 * Finishing on threads: each group's last rows are written and its file
 * closed (the last row group encoded and compressed, the statistics
 * computed: most of a finish) by up to cl_table_txn_threads(x) workers,
 * each taking the next group; then, on the calling thread in group order,
 * each closed file is published and added to the transaction, so the
 * commit is the one a single thread makes. The last rows go to the open
 * file whatever its size, as on one thread (that file is finished next
 * anyway). On an error the groups keep their staged files, which
 * cl__table_writer_free removes.
 */
typedef struct fin_par {
	cl__table_writer *w;
	cl_buf *stats;   /* per group: its closed file's statistics */
	int *rc;         /* per group */
	cl_error *errs;  /* per group */
	pthread_mutex_t mu;
	size_t next;     /* next group (under mu) */
	bool failed;     /* (under mu) */
} fin_par;

/* Group g's last rows written and its file closed (stats into *stats). */
static int finish_close(cl__table_writer *w, group *g, cl_buf *stats, cl_error *err)
{
	int rc = 0;
	if (g->pending->nrows) {
		if (!g->w)
			rc = cl__data_file_open(w->t, &w->l, g->dir,
						__atomic_fetch_add(&w->seq, 1, __ATOMIC_RELAXED),
						g->bucket, 1, &g->file_key, &g->stage, &g->w,
						err);
		rc = rc ? rc : cl_writer_write(g->w, g->pending, err);
		cl__crash_point("data-file-writing");
		g->file_rows += g->pending->nrows;
		cl_batch_clear(g->pending);
	}
	return rc || !g->w ? rc : cl__data_file_close(g->w, w->l.file_schema, stats, err);
}

static void *finish_work(void *arg)
{
	fin_par *p = arg;
	for (;;) {
		pthread_mutex_lock(&p->mu);
		size_t i = p->failed || p->next >= p->w->ngroups ? SIZE_MAX : p->next++;
		pthread_mutex_unlock(&p->mu);
		if (i == SIZE_MAX)
			break;
		p->rc[i] = finish_close(p->w, p->w->groups[i], &p->stats[i], &p->errs[i]);
		if (p->rc[i]) {
			pthread_mutex_lock(&p->mu);
			p->failed = true;
			pthread_mutex_unlock(&p->mu);
			break;
		}
	}
	return NULL;
}

static int finish_parallel(cl__table_writer *w, int nthreads, cl_error *err)
{
	fin_par p = {w, NULL, NULL, NULL, PTHREAD_MUTEX_INITIALIZER, 0, false};
	size_t n = w->ngroups;
	p.stats = cl_calloc(n, sizeof *p.stats);
	p.rc = cl_calloc(n, sizeof *p.rc);
	p.errs = cl_calloc(n, sizeof *p.errs);
	pthread_t th[64];
	int started = 0, rc = 0;
	if (!p.stats || !p.rc || !p.errs) {
		rc = oom(err);
		goto out;
	}
	if (nthreads > 64)
		nthreads = 64;
	for (int i = 1; i < nthreads && (size_t)i < n; i++)
		if (pthread_create(&th[started], NULL, finish_work, &p) == 0)
			started++;
	finish_work(&p);
	for (int i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	for (size_t i = 0; !rc && i < n; i++)
		if (p.rc[i]) {
			rc = p.rc[i];
			*err = p.errs[i];
		}
	/* publication and registration in group order */
	for (size_t i = 0; !rc && i < n; i++) {
		group *g = w->groups[i];
		if (!g->w)
			continue;
		int64_t size = 0;
		rc = cl__data_file_register(w->t, w->x, &g->stage, g->file_key, &p.stats[i],
					    g->part, w->l.npart, !w->rearrange, &size, err);
		cl_writer_free(g->w);
		g->w = NULL;
		cl_free(g->file_key);
		g->file_key = NULL;
		g->file_rows = 0;
			if (!rc) {
			w->files++;
			w->bytes += size;
		}
	}
out:
	for (size_t i = 0; p.stats && i < n; i++)
		cl_buf_release(&p.stats[i]);
	cl_free(p.stats);
	cl_free(p.rc);
	cl_free(p.errs);
	return rc;
}

int cl__table_writer_finish(cl__table_writer *w, cl_error *err)
{
	int nthreads = w->x ? cl_table_txn_threads(w->x) : 1;
	if (nthreads > 1 && w->ngroups > 1)
		return finish_parallel(w, nthreads, err);
	int rc = 0;
	for (size_t i = 0; !rc && i < w->ngroups; i++) {
		rc = flush_pending(w, w->groups[i], err);
		rc = rc ? rc : finish_file(w, w->groups[i], err);
	}
	return rc;
}

/* ---- public wrappers ---- */

struct cl_table_writer {
	cl__table_writer *w;
};

int cl_table_writer_open(cl_table_writer **out, cl_table_txn *x, const cl_schema *input,
			 cl_error *err)
{
	*out = NULL;
	if (!cl__table_txn_base(x))
		return cl_error_set(err, CL_EINVAL, "the transaction has no base snapshot");
	cl_table_writer *tw = cl_calloc(1, sizeof *tw);
	if (!tw)
		return oom(err);
	int rc = cl__table_writer_open(&tw->w, cl__table_txn_table(x), cl__table_txn_base(x), x,
				       input, err);
	if (rc) {
		cl_free(tw);
		return rc;
	}
	*out = tw;
	return 0;
}

int cl_table_writer_write(cl_table_writer *w, const cl_batch *b, cl_error *err)
{
	return cl__table_writer_write(w->w, b, err);
}

int cl_table_writer_finish(cl_table_writer *w, cl_error *err)
{
	return cl__table_writer_finish(w->w, err);
}

void cl_table_writer_free(cl_table_writer *w)
{
	if (!w)
		return;
	cl__table_writer_free(w->w);
	cl_free(w);
}
