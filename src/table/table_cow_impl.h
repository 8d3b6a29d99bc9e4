/*
 * table_cow_impl.h — the parts of the copy-on-write primitive (internal):
 *
 *   table_cow.c       cl_table_cow's flow (keys, candidates, upserts,
 *                     writers, metrics) and cl_table_lookup; the upserts
 *   table_cow_keys.c  the set of changed keys and the candidate test
 *                     (table_cow_keys.h)
 *   table_cow_file.c  one candidate file: rewritten without its changed
 *                     rows (copy-on-write) or its changed rows marked
 *                     deleted (merge-on-read)
 *   table_cow_jobs.c  the buckets of a table without partition columns as
 *                     jobs on threads, each in a fork of the transaction
 *
 * Shared between threads (only read): the layout, the key set (but
 * K_FOUND), the upserts. Owned per thread: a sink, a scratch, a dv_hits
 * and a scope buffer (cl__cow_ctx).
 */
#ifndef CL_TABLE_COW_IMPL_H
#define CL_TABLE_COW_IMPL_H

#include "table_cow_keys.h"

/* Where rewritten rows go: one bucket's writer (bw), else the general
 * writer (tw). */
typedef struct cl__cow_sink {
	cl__table_writer *tw;
	cl__bucket_writer *bw;
} cl__cow_sink;

static inline int cl__cow_sink_write(const cl__cow_sink *o, const cl_batch *b,
				     cl_error *err)
{
	return o->bw ? cl__bucket_writer_write(o->bw, b, err)
		     : cl__table_writer_write(o->tw, b, err);
}

/* The upserts (table types, each batch's rows ordered by bucket): rows
 * ord[i][first[i][b] .. first[i][b + 1]) of batch i are bucket b's, in
 * input order. */
typedef struct cl__cow_upserts {
	int n;
	cl_batch **tbs;
	bool **own;      /* per batch and column: converted here (else borrowed) */
	int64_t **ord;
	int64_t **first; /* nb + 1 entries per batch */
} cl__cow_upserts;

/* table_cow.c: write the upserts of bucket bk, or with bk < 0 of every
 * bucket not done; without bucket order (ord NULL) all of them as they
 * are. */
int cl__cow_write_upserts(const cl__cow_sink *o, const cl_schema *sc,
			  const cl__cow_upserts *u, int nb, int bk, const bool *done,
			  cl_error *err);

/* Scratch of the scanned batches, reused from file to file. */
typedef struct cl__cow_scratch {
	uint64_t *h;     /* key hashes */
	int64_t *hit;    /* rows holding a changed key */
	int64_t *idx;    /* surviving rows (short runs) */
	int64_t *runs;   /* runs of surviving rows: (start, count) pairs */
	int64_t cap;     /* rows each holds (runs: cap + 1 pairs) */
	cl_batch *keep;  /* the surviving rows (created by the owner) */
} cl__cow_scratch;

void cl__cow_scratch_release(cl__cow_scratch *z);

/* Merge-on-read: the positions of a file's live rows holding a changed key. */
typedef struct cl__cow_dv_hits {
	cl__keyset *ks;
	int nkeys;
	uint64_t *h;
	int64_t hcap;
	uint64_t *pos;
	size_t npos, pcap;
	int64_t deleted; /* hits of delete keys */
} cl__cow_dv_hits;

/* What every candidate file's step needs (cl_table_cow's state). */
typedef struct cl__cow_ctx {
	cl_table *t;
	const cl_snapshot *s;
	cl_table_txn *x;
	const cl__table_layout *l;
	cl__keyset *ks;
	cl_buf *scope;
	cl__dv_marks *marks; /* merge-on-read, else NULL */
	cl__cow_dv_hits *dh;
	cl__cow_scratch *z;
} cl__cow_ctx;

/* table_cow_file.c: candidate file f: its scope recorded as read;
 * merge-on-read marks its changed rows deleted, copy-on-write rewrites it
 * through w (and removes it when it held a changed key). Counted in st. */
int cl__cow_cand_file(cl__cow_ctx *c, const cl__cow_sink *w, const cl_table_file *f,
		      cl_table_cow_stats *st, cl_error *err);

/*
 * table_cow_jobs.c: the buckets of a bucketed table without partition
 * columns that have candidate files (is_cand, per snapshot file), each
 * done as a job on cl_table_txn_threads(c->x) threads (one for
 * merge-on-read): its candidate files, then its upserts u, through a
 * bucket writer of its own. The jobs' file actions are joined into c->x in
 * bucket order. done[b] set for each bucket done; the files, rows and
 * bytes written added to added[0..2]; counters into st. Of c only t, s, x,
 * l, ks and marks are used (each job has its own scratch).
 */
int cl__cow_buckets(const cl__cow_ctx *c, const cl__cow_upserts *u, const bool *is_cand,
		    bool *done, int64_t added[3], cl_table_cow_stats *st, cl_error *err);

#endif
