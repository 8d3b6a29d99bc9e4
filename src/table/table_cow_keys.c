/*
 * table_cow_keys.c — the set of changed keys of a copy-on-write (or of a
 * lookup): built from the change set's key columns converted to the
 * table's key types, with per bucket the range of the first key column,
 * and a filter in front of it for the scans; and the test of which data
 * files may hold one of the keys (candidates). The table itself and its
 * probes are described in table_cow_keys.h.
 *
 * Invariants: at most 5/8 of the slots are full; a key is in the set at
 * most once (a second change of it is CL_EDUPKEY); a bucket's range
 * bounds every non-NULL first key column value of the bucket's keys; the
 * filter, once built, has the bit of every key's hash set.
 */
#include "delta.h"
#include "table_cow_keys.h"
#include "changelake/hash.h"
#include "core/value_text.h"

#include <string.h>
#define XXH_INLINE_ALL /* XXH3 inlined into slot_hash */
#include <xxhash.h>

static int oom(cl_error *err)
{
	return cl_error_set(err, CL_ENOMEM, "out of memory");
}

void cl__keyset_release(cl__keyset *ks)
{
	if (ks->kmin)
		for (int b = 0; b < ks->nb; b++) {
			cl_column_release(&ks->kmin[b]);
			cl_column_release(&ks->kmax[b]);
		}
	for (int i = 0; ks->conv && i < ks->nbat * ks->nkeys; i++)
		cl_column_release(&ks->conv[i]);
	cl_free(ks->conv);
	cl_free(ks->kmin);
	cl_free(ks->kmax);
	cl_free(ks->bucket_used);
	cl_free(ks->slots);
	cl_free(ks->filter);
	memset(ks, 0, sizeof *ks);
}

int cl__keyset_begin(cl__keyset *ks, const cl__table_layout *l, cl_error *err)
{
	ks->nb = l->buckets ? l->buckets : 1;
	ks->bucket_used = cl_calloc((size_t)ks->nb, sizeof *ks->bucket_used);
	ks->kmin = cl_calloc((size_t)ks->nb, sizeof *ks->kmin);
	ks->kmax = cl_calloc((size_t)ks->nb, sizeof *ks->kmax);
	if (!ks->bucket_used || !ks->kmin || !ks->kmax)
		return oom(err);
	cl_type kt = l->schema->fields[l->key_index[0]].type;
	int rc = 0;
	for (int b = 0; !rc && b < ks->nb; b++) {
		rc = cl_column_init(&ks->kmin[b], kt, 1, err);
		rc = rc ? rc : cl_column_init(&ks->kmax[b], kt, 1, err);
	}
	return rc;
}

/* The key hash of a filled slot (an i64 slot holds the key value: its
 * hash is cl_hash_value of the key). */
static inline uint64_t slot_hash(const cl__keyset *ks, const cl__kslot *e)
{
	uint64_t h = e->h;
	return ks->i64 ? XXH3_64bits_withSeed(&h, 8, 0) : h;
}

/* Room for n more keys (rehashing into a larger table when needed). */
static int keyset_reserve(cl__keyset *ks, size_t more)
{
	size_t need = ks->n + more;
	if (need * 8 <= ks->cap * 5)
		return 0;
	size_t cap = ks->cap ? ks->cap : 64;
	while (need * 8 > cap * 5)
		cap *= 2;
	cl__kslot *ns = cl_calloc(cap, sizeof *ns);
	if (!ns)
		return CL_ENOMEM;
	for (size_t i = 0; i < ks->cap; i++) {
		if (!ks->slots[i].flags)
			continue;
		uint64_t h = slot_hash(ks, &ks->slots[i]);
		size_t j = (size_t)h & (cap - 1);
		while (ns[j].flags)
			j = (j + 1) & (cap - 1);
		ns[j] = ks->slots[i];
	}
	cl_free(ks->slots);
	ks->slots = ns;
	ks->cap = cap;
	return 0;
}

/*
 * A filter in front of the table for the scans: one bit per hash, about
 * 16 bits per key (a few KiB to a few hundred, in the caches where the
 * table is not), indexed by hash bits 24 and up (the slot index uses the
 * low bits: disjoint up to 2^24 slots; 40 bits reach any filter size).
 * A row whose bit is clear holds no changed key; most rows of a scan hold
 * none, and the filter answers for them without a probe of the table (a
 * miss there walks several slots). Built once every key is in (the table
 * only grows while keys are added).
 */
int cl__keyset_filter(cl__keyset *ks)
{
	size_t bits = 64;
	while (bits < 16 * ks->n && bits < ((size_t)1 << 40))
		bits *= 2;
	cl_free(ks->filter);
	ks->filter = cl_calloc(bits / 64, sizeof *ks->filter);
	if (!ks->filter)
		return CL_ENOMEM;
	ks->fmask = bits - 1;
	for (size_t i = 0; i < ks->cap; i++) {
		if (!ks->slots[i].flags)
			continue;
		uint64_t h = slot_hash(ks, &ks->slots[i]);
		uint64_t b = (h >> 24) & ks->fmask;
		ks->filter[b >> 6] |= (uint64_t)1 << (b & 63);
	}
	return 0;
}

void cl__keys_hash(uint64_t *h, cl_column *const *cols, int nkeys, int64_t n)
{
	memset(h, 0, (size_t)n * sizeof *h);
	for (int k = 0; k < nkeys; k++)
		cl_hash_column(cols[k], h, n);
}

static void range_add(cl_column *lo, cl_column *hi, const cl_column *c, int64_t r)
{
	if (cl_column_is_null(c, r))
		return;
	if (lo->length == 0 || cl_value_compare(c, r, lo, 0) < 0) {
		cl_column_clear(lo);
		cl_column_append_from(lo, c, r, NULL);
	}
	if (hi->length == 0 || cl_value_compare(c, r, hi, 0) > 0) {
		cl_column_clear(hi);
		cl_column_append_from(hi, c, r, NULL);
	}
}

bool cl__keys_i64(const cl__table_layout *l, const cl_schema *in,
		  const cl_batch *const *bs, int nb)
{
	if (l->nkeys != 1 || l->schema->fields[l->key_index[0]].type.id != CL_INT64)
		return false;
	if (nb == 0 || !in)
		return true; /* nothing to add */
	int c = cl_schema_find(in, l->schema->fields[l->key_index[0]].name);
	for (int i = 0; c >= 0 && i < nb; i++)
		if (c >= bs[i]->ncols ||
		    (bs[i]->cols[c].validity && bs[i]->cols[c].null_count != 0))
			return false;
	return true;
}

int cl__keyset_add(cl__keyset *ks, const cl__table_layout *l, const cl_schema *in,
		   const cl_batch *const *bs, int nb, int flag, cl_table_cow_stats *st,
		   cl_error *err)
{
	const cl_schema *sc = l->schema;
	int src[64];
	cl_column *cols[64];
	int rc = 0;
	if (l->nkeys > 64)
		return cl_error_set(err, CL_EUNSUPPORTED, "more than 64 key columns");
	for (int k = 0; k < l->nkeys; k++) {
		const char *name = sc->fields[l->key_index[k]].name;
		src[k] = cl_schema_find(in, name);
		if (src[k] < 0)
			return cl_error_set(err, CL_ESCHEMA, "%s rows lack the key column '%s'",
					    flag == K_UPSERT ? "upsert" : "delete", name);
	}
	if (ks->nbat + nb > UINT16_MAX + 1)
		return cl_error_set(err, CL_EUNSUPPORTED, "more than 65536 change batches");
	cl_column *conv = cl_realloc(ks->conv, (size_t)(ks->nbat + nb) * (size_t)l->nkeys *
					       sizeof *conv);
	if (!conv)
		return oom(err);
	ks->conv = conv;
	ks->nkeys = l->nkeys;
	uint64_t *h = NULL;
	/* i64: per bucket the rows of the smallest and largest key (-1: none) */
	int64_t *rlo = cl_malloc(2 * (size_t)ks->nb * sizeof *rlo), *rhi = rlo + ks->nb;
	if (!rlo)
		return oom(err);
	for (int bk = 0; bk < 2 * ks->nb; bk++)
		rlo[bk] = -1;
	for (int bi = 0; !rc && bi < nb; bi++) {
		const cl_batch *b = bs[bi];
		int slot_b = ks->nbat;
		cl_column *kc = &ks->conv[(size_t)slot_b * (size_t)l->nkeys];
		memset(kc, 0, (size_t)l->nkeys * sizeof *kc);
		ks->nbat++;
		if (b->nrows > (int64_t)UINT32_MAX) {
			rc = cl_error_set(err, CL_EUNSUPPORTED, "a change batch of more than "
					  "%u rows", UINT32_MAX);
			break;
		}
		for (int k = 0; !rc && k < l->nkeys; k++) {
			const cl_column *in_c = &b->cols[src[k]];
			cl_type tt = sc->fields[l->key_index[k]].type;
			cols[k] = &kc[k];
			rc = cl_column_init(&kc[k], tt, b->nrows, err);
			rc = rc ? rc : cl__append_converted_all(&kc[k], in_c, b->nrows, err);
		}
		cl_free(h);
		h = b->nrows ? cl_malloc((size_t)b->nrows * sizeof *h) : NULL;
		if (!rc && b->nrows && (!h || keyset_reserve(ks, (size_t)b->nrows)))
			rc = oom(err);
		if (rc)
			break;
		cl__keys_hash(h, cols, l->nkeys, b->nrows);
		for (int64_t r = 0; !rc && r < b->nrows; r++) {
			if (r + PREFETCH_AHEAD < b->nrows)
				cl__keyset_prefetch(ks, h[r + PREFETCH_AHEAD]);
			cl__kslot *e = cl__keyset_find(ks, cols, r, h[r]);
			if (e->flags) {
				cl_buf shown = {0};
				for (int k = 0; k < l->nkeys; k++) {
					if (k)
						cl_buf_puts(&shown, ", ");
					cl_buf_puts(&shown, sc->fields[l->key_index[k]].name);
					cl_buf_putc(&shown, '=');
					if (cl_column_is_null(cols[k], r))
						cl_buf_puts(&shown, "NULL");
					else
						cl__value_format(&shown, cols[k], r);
				}
				cl_buf_putc(&shown, 0);
				rc = cl_error_set(err, CL_EDUPKEY, "key (%.200s) is changed twice in one "
						  "change set", shown.data ? (const char *)shown.data : "?");
				cl_buf_release(&shown);
				break;
			}
			e->h = ks->i64 ? (uint64_t)((const int64_t *)cols[0]->values)[r] : h[r];
			e->row = (uint32_t)r;
			e->batch = (uint16_t)slot_b;
			e->flags = (uint16_t)flag;
			ks->n++;
			int bk = cl__key_bucket(l, h[r]);
			ks->bucket_used[bk] = true;
			if (!ks->i64) {
				range_add(&ks->kmin[bk], &ks->kmax[bk], &kc[0], r);
				continue;
			}
			/* rows of the bucket's smallest and largest key in this
			 * batch, added to the range after it */
			const int64_t *v = (const int64_t *)kc[0].values;
			if (rlo[bk] < 0 || v[r] < v[rlo[bk]])
				rlo[bk] = r;
			if (rhi[bk] < 0 || v[r] > v[rhi[bk]])
				rhi[bk] = r;
		}
		for (int bk = 0; !rc && ks->i64 && bk < ks->nb; bk++) {
			if (rlo[bk] < 0)
				continue;
			range_add(&ks->kmin[bk], &ks->kmax[bk], &kc[0], rlo[bk]);
			range_add(&ks->kmin[bk], &ks->kmax[bk], &kc[0], rhi[bk]);
			rlo[bk] = rhi[bk] = -1;
		}
		if (!rc && flag == K_UPSERT)
			st->rows_upserted += b->nrows;
	}
	cl_free(h);
	cl_free(rlo);
	return rc;
}

bool cl__keyset_candidate(const cl__keyset *ks, const cl__table_layout *l,
			  const cl_table_file *f, cl__json_parser *jp)
{
	int bk = 0;
	if (l->buckets) {
		bk = cl__layout_bucket_of_key(f->path);
		if (bk < 0 || bk >= l->buckets)
			return true; /* not laid out by changelake: search it */
	}
	if (!ks->bucket_used[bk])
		return false;
	const cl_column *lo = &ks->kmin[bk], *hi = &ks->kmax[bk];
	if (l->nkeys != 1 || lo->length == 0 || !f->stats_json)
		return true;
	const cl_json *root;
	if (cl__json_parse(jp, f->stats_json, strlen(f->stats_json), &root, NULL))
		return true;
	const char *name = l->schema->fields[l->key_index[0]].name;
	const cl_json *mn = cl__json_get_s(cl__json_get_s(root, "minValues"), name);
	const cl_json *mx = cl__json_get_s(cl__json_get_s(root, "maxValues"), name);
	cl_type t = lo->type;
	if (t.id == CL_TIMESTAMP || t.id == CL_FLOAT32 || t.id == CL_FLOAT64 ||
	    t.id == CL_BINARY || t.id == CL_BOOL)
		return true; /* truncated or inexact statistics: do not trust them */
	bool may = true;
	cl_column v = {0};
	if (mx && (mx->kind == CL_JSON_NUMBER || (mx->kind == CL_JSON_STRING && t.id != CL_STRING)) &&
	    cl_column_init(&v, t, 1, NULL) == 0 &&
	    cl__column_append_text(&v, mx->u.str, mx->n, NULL) == 0 && cl_value_compare(lo, 0, &v, 0) > 0)
		may = false; /* smallest changed key above the file's max */
	cl_column_release(&v);
	memset(&v, 0, sizeof v);
	if (may && mn && (mn->kind == CL_JSON_NUMBER || mn->kind == CL_JSON_STRING) &&
	    cl_column_init(&v, t, 1, NULL) == 0 &&
	    cl__column_append_text(&v, mn->u.str, mn->n, NULL) == 0 && cl_value_compare(hi, 0, &v, 0) < 0)
		may = false; /* largest changed key below the file's min */
	cl_column_release(&v);
	return may;
}
