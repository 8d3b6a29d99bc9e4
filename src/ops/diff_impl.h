/*
 * diff_impl.h — shared internals of the diff engine (src/ops/diff*.c).
 *
 * The pieces:
 *   diff_plan.c     options, schema reconciliation, output schema (the plan)
 *   diff_compare.c  typed value equality, key order, widening casts, bulk
 *                   column copies
 *   diff_output.c   accumulation of output rows and their sorting by key
 *   diff_merge.c    the merge of every worker's sorted runs
 *   diff_spill.c    a tiny binary format for spilled batches
 *   diff.c          the engine's public API, threads and phases
 *   diff_join.c     left rows in memory, the hash table, probe, deletes,
 *                   partitions spilled by key hash (recursively)
 *   diff_aligned.c  the streaming path for snapshots in (nearly) the same
 *                   row order: both sides walked side by side
 *
 * Unified columns: both sides are seen through one list of columns `u`
 * (keys in --key order, then the left's other columns in its order, then
 * the right-only ones in the right's order). Each side's batch becomes a
 * "view": for every unified column a borrowed or scratch column in the
 * unified type — widened when the side's type is narrower, all NULL when
 * the side lacks the column. Ignored columns keep each side's own type.
 */
#ifndef CL_OPS_DIFF_IMPL_H
#define CL_OPS_DIFF_IMPL_H

#include "changelake/dataset.h"
#include "changelake/diff.h"
#include "changelake/hash.h"
#include "core/buf.h"
#include "core/column.h"

#include <pthread.h>
#include <stdio.h>

enum { ROLE_KEY = 0, ROLE_VALUE, ROLE_IGNORED };

typedef struct cl__dcol {
	char *name;
	int role;
	cl_type type;  /* unified type (keys and values) */
	cl_type ltype, rtype; /* each side's own type (ignored columns) */
	int lidx, ridx;       /* index in the side's schema, -1 when absent */
	bool lcast, rcast;    /* side must be widened to `type` */
	cl_diff_rule cmp;     /* resolved comparator (values) */
} cl__dcol;

enum { OUT_DIFF = 0, OUT_CHANGE, OUT_KEY, OUT_LEFT, OUT_RIGHT };

typedef struct cl__ocol {
	int kind;
	int u; /* unified column (OUT_KEY, OUT_LEFT, OUT_RIGHT) */
} cl__ocol;

typedef struct cl__diff_plan {
	int nu;
	cl__dcol *u;
	int nkeys;        /* u[0..nkeys) are the keys */
	int nvalues;
	int *values;      /* unified indices of the compared value columns */
	int nout;
	cl__ocol *out;
	cl_schema *out_schema;
	cl_type *ltypes, *rtypes; /* per unified column: the view's type per side */
	/* options, strings copied */
	cl_diff_mode mode;
	bool sparse, keep_unchanged, allow_dups;
	char *val[4];     /* diff values by action: I, C, D, N */
	size_t val_len[4];
	bool has_change;
	/* schema drift report */
	int nleft_only, nright_only, nwidened;
	char **left_only, **right_only, **widened;
	const char *left_name, *right_name;
} cl__diff_plan;

enum { ACT_I = 0, ACT_C, ACT_D, ACT_N };

int cl__diff_plan_build(cl__diff_plan *p, const cl_schema *left,
			const cl_schema *right, const cl_diff_options *o,
			cl_error *err);
void cl__diff_plan_release(cl__diff_plan *p);

/* --- diff_compare.c ------------------------------------------------------ */

/* The common type two column types widen to; false when none safely. */
bool cl__diff_widen(cl_type a, cl_type b, cl_type *out);
/* Append src rows [0, n) to dst (type `dst->type`) widened. */
int cl__diff_cast(cl_column *dst, const cl_column *src, cl_error *err);
/* Append n NULLs. */
int cl__column_append_nulls(cl_column *dst, int64_t n, cl_error *err);

/* Default equality (null-safe; -0.0 == 0.0, NaN == NaN). Same types. */
bool cl__diff_equal(const cl_column *a, int64_t ia, const cl_column *b, int64_t ib);
/* Equality under a comparator (same types). */
bool cl__diff_equal_cmp(const cl_diff_rule *r, const cl_column *a, int64_t ia,
			const cl_column *b, int64_t ib);
/* Equality of two values whose types may differ (ignored columns). */
bool cl__diff_equal_any(const cl_column *a, int64_t ia, const cl_column *b,
			int64_t ib);
/* Total order: NULL first, then ascending; -1, 0, 1. Same types. */
int cl__diff_order(const cl_column *a, int64_t ia, const cl_column *b, int64_t ib);
/* Whether a comparator kind applies to a type. */
bool cl__diff_rule_applies(cl_diff_cmp_kind k, cl_type t);
/*
 * Mark in changed[i] (0/1) whether left value lref[i] of the store differs
 * from right value rrow[i] of rc, for i in [0, n), under rule r. The left
 * value is row lref[i] & CHUNK_MASK of lchunk[lref[i] >> CHUNK_BITS].
 */
#define CL__CHUNK_BITS 16
#define CL__CHUNK_ROWS ((int64_t)1 << CL__CHUNK_BITS)
#define CL__CHUNK_MASK (CL__CHUNK_ROWS - 1)
void cl__diff_cmp_pairs(const cl_diff_rule *r, const cl_column *const *lchunk,
			const uint32_t *lref, const cl_column *rc,
			const uint32_t *rrow, int64_t n, uint8_t *changed);

/* Text for messages: "id=5, name='x'" of the key columns of a view. */
int cl__diff_key_text(cl_buf *out, const cl__diff_plan *p,
		      const cl_column *const *cols, int64_t row);

/* --- diff_output.c ------------------------------------------------------- */

/*
 * One worker's output rows: accumulated unsorted, sorted into a run and
 * spilled to a temporary file when past `budget` bytes, merged at the end
 * (cl__diff_merge) with every other run in key order.
 */
typedef struct cl__diff_out {
	const cl__diff_plan *plan;
	int64_t batch_rows;
	int64_t budget;      /* bytes before a run is spilled; 0: never */
	const char *tmp_dir;
	int nchunks, capchunks;
	cl_batch **chunks;   /* each up to CL__CHUNK_ROWS rows */
	int64_t **prov;      /* per chunk: lprov, rprov of each row */
	int64_t nrows;       /* rows in memory */
	int64_t bytes;       /* bytes of the full chunks */
	int64_t total_rows;  /* rows ever appended */
	uint64_t *order;     /* sorted row numbers, after cl__diff_out_sort */
	int *vidx;           /* unified column -> value index, or -1 */
	int nruns, capruns;
	FILE **runs;         /* spilled sorted runs */
	int64_t spill_bytes;
	int64_t provcap;     /* rows the last chunk's prov has room for */
	/* rows handed to cl__diff_out_rows (filled by the caller) */
	int64_t rcap;
	const cl_column *const **r_lcols; /* per row: the left side's columns */
	int64_t *r_lrow, *r_lprov, *r_rrow, *r_rprov;
	const cl_column **g_src; /* gather scratch: per row its source column */
} cl__diff_out;

int cl__diff_out_init(cl__diff_out *o, const cl__diff_plan *p, int64_t batch_rows,
		      int64_t budget, const char *tmp_dir, cl_error *err);
void cl__diff_out_release(cl__diff_out *o);
/*
 * Append one output row. l / r: the two sides' views (array of nu columns)
 * and rows, or NULL when the side is missing; lprov / rprov their input
 * positions (-1 when missing); changed[j]: whether value column j
 * (plan->values order) changed (NULL for I/D rows).
 */
int cl__diff_out_row(cl__diff_out *o, int act, const cl_column *const *l, int64_t lrow,
		     int64_t lprov, const cl_column *const *r, int64_t rrow, int64_t rprov,
		     const uint8_t *changed, cl_error *err);
/* Room for n rows in the r_* arrays (and the gather scratch). */
int cl__diff_out_reserve(cl__diff_out *o, int64_t n, cl_error *err);
/*
 * Append n output rows of one action at once: row i is left row
 * r_lrow[i] of the columns r_lcols[i] (when has_left) and right row
 * r_rrow[i] of rcols (NULL: no right side), provenances r_lprov[i] /
 * r_rprov[i] (-1 when a side is missing). Not for C / N rows when the
 * plan is sparse or has a change column (those need cl__diff_out_row's
 * per-row changed flags).
 */
int cl__diff_out_rows(cl__diff_out *o, int act, int64_t n, bool has_left,
		      const cl_column *const *rcols, cl_error *err);
int64_t cl__diff_out_memory(const cl__diff_out *o);
int cl__diff_out_sort(cl__diff_out *o, cl_error *err);
/* Sort the rows in memory into a new spilled run. */
int cl__diff_out_spill(cl__diff_out *o, cl_error *err);

/*
 * Append row rows[i] of column src[i] to dst for i in [0, n), typed (the
 * bulk form of cl_column_append_from; NULLTYPE sources append NULLs).
 */
int cl__diff_gather(cl_column *dst, const cl_column *const *src, const int64_t *rows,
		    int64_t n, cl_error *err);
/* Rows of a spilled run's records. */
#define CL__RUN_REC_ROWS 1024
/* Order of two rows with equal keys: by right, then left provenance. */
static inline int cl__diff_cmp_prov(int64_t lx, int64_t rx, int64_t ly, int64_t ry)
{
	if (rx != ry)
		return rx < ry ? -1 : 1;
	return (lx > ly) - (lx < ly);
}

/* --- diff_merge.c -------------------------------------------------------- */

/* Report a duplicate key: keys = the key columns (nkeys) at `row`. */
typedef int (*cl__dup_fn)(void *arg, bool left, const cl_column *const *keys, int64_t row,
			  int64_t prov_a, int64_t prov_b, cl_error *err);
typedef struct cl__diff_merge cl__diff_merge;
/*
 * Merge every run of outs[0..nouts) (runs still in memory are sorted
 * here); the outs must outlive the merge. With check_dups, equal adjacent
 * keys are reported through dup.
 */
int cl__diff_merge_open(cl__diff_merge **m, cl__diff_out *outs, int nouts,
			bool check_dups, cl__dup_fn dup, void *dup_arg, cl_error *err);
/* Next batch in key order (borrowed until the next call) or NULL at the end. */
int cl__diff_merge_next(cl__diff_merge *m, cl_batch **out, cl_error *err);
/*
 * On: while the caller holds a batch, a thread merges the next one (the
 * caller's work on it, such as writing, overlaps the merge).
 */
void cl__diff_merge_pipeline(cl__diff_merge *m, bool on);
/*
 * n > 1: when every run is in memory, n threads merge the batches side by
 * side (each batch found on its own in the runs: the same batches, rows
 * and errors as one thread's merge); otherwise pipelined as above. Before
 * the first cl__diff_merge_next.
 */
void cl__diff_merge_threads(cl__diff_merge *m, int n);
void cl__diff_merge_free(cl__diff_merge *m);

/* --- diff_spill.c -------------------------------------------------------- */

/* Columns of the given types written to / read from a stream of batches. */
int cl__spill_write(FILE *f, cl_column *const *cols, int ncols, int64_t nrows,
		    cl_error *err);
/*
 * Read the next batch into cols[0..ncols) (initialised with the same types,
 * cleared and refilled); *nrows = 0 at the end.
 */
int cl__spill_read(FILE *f, cl_column *cols, int ncols, int64_t *nrows,
		   cl_error *err);
/* An anonymous temporary file in dir (NULL: $TMPDIR or /tmp). */
FILE *cl__spill_tmpfile(const char *dir, cl_error *err);

/* --- the engine (diff.c, diff_join.c) ----------------------------------- */

#define CL__NPART 64
#define CL__PART_BITS 6
#define CL__PROV_SHIFT 40

/* A side's batch seen through the unified columns. */
typedef struct cl__dview {
	const cl_column **cols; /* nu */
	cl_column *scratch;     /* nu, typed as the side's view types */
	const cl_type *types;
} cl__dview;

/* Up to CL__CHUNK_ROWS left rows in the unified columns (left types). */
typedef struct cl__dchunk {
	cl_column *cols;        /* nu */
	const cl_column **ptrs; /* &cols[u] */
	uint64_t *hash;         /* key hash per row */
	int64_t *prov;          /* input position per row */
	int64_t n;
} cl__dchunk;

/* Left rows; a row's reference is chunk << CL__CHUNK_BITS | row. */
typedef struct cl__dstore {
	const cl_type *types;   /* column types of new chunks; NULL: plan->ltypes */
	int nchunks, capchunks;
	cl__dchunk **chunks;
	int64_t nrows;
	int64_t bytes;
} cl__dstore;

/* A store with its hash table: what right rows are probed against. */
typedef struct cl__djoin {
	cl__dstore st;
	int nsub, sub_shift;   /* sub-table of a hash: h >> sub_shift (nsub > 1) */
	int64_t subcap;        /* slots per sub-table (a power of two) */
	uint32_t *slots;       /* tag << ref_bits | (ref + 1); 0 = empty */
	int ref_bits;          /* low bits of a slot: ref + 1 */
	int tag_bits;          /* high bits: hash bits 32.. (0 to 24 of them) */
	uint32_t *next;        /* duplicates allowed: next ref + 1 of a key */
	uint8_t *matched;      /* one bit per ref */
	const cl_column ***bycol; /* bycol[u][chunk] */
} cl__djoin;

/* The best duplicate seen (the earliest pair, left side first). */
typedef struct cl__dupc {
	bool set, left;
	int64_t pa, pb; /* pa < pb; pa = -1 when unknown */
	uint64_t hash;  /* of the key */
	char key[512];
} cl__dupc;

/* Partition files of one side, shared by the workers. */
typedef struct cl__dparts {
	FILE *f[CL__NPART];
	int64_t bytes[CL__NPART];
	pthread_mutex_t mu[CL__NPART];
	int shift; /* partition of a hash: (h >> shift) & (NPART - 1) */
	bool open;
} cl__dparts;

/* Rows on their way to partition files: nu + 1 columns (the last: prov). */
typedef struct cl__dstage {
	cl_column *cols[CL__NPART];
	int64_t n[CL__NPART];
} cl__dstage;

typedef struct cl__dworker {
	struct cl_diff *d;
	int id;
	cl__dview lv, rv;
	uint64_t *h;
	int64_t hcap;
	int64_t *pv;
	int64_t pvcap;
	uint32_t *pl, *pr; /* matched pairs: left refs, right rows */
	uint32_t *ins;     /* right rows without a match (pcap of them) */
	uint8_t *chg, *rowchg; /* chg: (nvalues + 1) * pcap flags */
	int64_t pcap;
	uint64_t *srt;     /* sorting the pairs: 2 * srtcap */
	int64_t srtcap;
	uint8_t *pm;       /* own matched bits while the workers probe at once */
	cl__dstore st;     /* left rows this worker loaded (in memory) */
	cl__djoin pj;      /* the partition this worker diffs */
	cl__dstage stage[2];
	cl_column *reload; /* nu + 1 */
	cl__diff_out out;
	int64_t left_rows, right_rows;
	int64_t inserted, changed, deleted, unchanged, partitions;
	int64_t *value_changes;
	cl__dupc dup;
	int rc;
	cl_error err;
} cl__dworker;

struct cl_diff {
	cl__diff_plan plan;
	cl_diff_stats stats;
	int state;
	int64_t memory_limit, store_budget, worker_budget, part_budget;
	pthread_mutex_t mu;   /* opening the partition files; done */
	pthread_cond_t cv;    /* signalled when a worker is done */
	int done;             /* workers done in the current job */
	int spill_rc;
	int64_t stage_rows;
	char *tmp_dir;
	int nthreads;
	cl__dworker *w;
	cl__djoin join;       /* in memory: every worker's left rows */
	int64_t store_mem;    /* atomic: bytes of the workers' stores */
	int spilling;         /* atomic */
	int abort;            /* atomic: a worker failed */
	cl__dparts parts[2];  /* spilled partitions: left, right */
	int64_t spill_bytes;
	char **sources;
	int nsources;
	/* the current parallel job */
	int64_t next_item;    /* atomic */
	int64_t nitems;
	int64_t progress;     /* atomic */
	cl__diff_merge *merge;
	cl__diff_out *outs;   /* the workers' outputs, once merging */
	int64_t *value_changes;
	const char **value_names;
	bool page_pool;       /* holds the Parquet page-buffer pool */
	/* OLD given as a dataset, not read yet (diff_aligned.c): one dataset
	 * per file, reopened with default options (their schemas equal the
	 * given dataset's), read side by side with NEW or, when that is not
	 * possible, by the hash path before NEW */
	cl_dataset **lds;
	int nlds;
	int64_t lds_rows;
	int aligned;          /* the aligned path produced the output */
};

/* diff.c: CL_DIFF_TRACE=1: `what` with the time since the diff started on
 * standard error (profiling) */
void cl__diff_trace(const char *what);

/* diff.c: views and sources, shared with diff_aligned.c */
int cl__dview_init(cl__dview *v, const cl__diff_plan *p, const cl_type *types,
		   cl_error *err);
void cl__dview_release(cl__dview *v, int nu);
int cl__dview_set(cl__dview *v, const cl__diff_plan *p, const cl_batch *b, bool left,
		  cl_error *err);
int cl__diff_source_id(struct cl_diff *d, const char *name, cl_error *err);

/*
 * diff_aligned.c: diff the deferred OLD (d->lds) against NEW dataset rds
 * by walking both in order. 1: done (the workers' outputs hold every
 * output row, their counters the statistics); 0: not possible for these
 * inputs (nothing kept: the caller runs the hash path); < 0: error.
 */
int cl__diff_aligned(struct cl_diff *d, cl_dataset *rds, cl_diff_progress_fn progress,
		     void *parg, cl_error *err);
/* Which path: 0 by the data, 1 the hash path, 2 the aligned one (env
 * CL_DIFF_PATH=hash|aligned, for tests). */
int cl__diff_path_forced(void);

/*
 * dataset.c (belongs in dataset.h): move column i of a cursor's current
 * batch into dst; 1 taken, 0 cannot be taken (nothing changed), or < 0.
 */
int cl__dataset_cursor_take(cl_dataset_cursor *c, int i, cl_column *dst, cl_error *err);

/*
 * parquet_page.c (belong in format/parquet_decode.h): while the pool is
 * held (counted), large page buffers of the Parquet readers freed on
 * threads that turned the cache on are kept for the next readers of any
 * such thread (a worker reads one row group per reader, OLD then NEW);
 * the last release frees them.
 */
void cl__pq_page_pool(bool hold);
void cl__pq_page_cache(bool on);

/* diff_join.c */
/* Move unified column u of the current rows into dst: 1, 0 (not possible:
 * the rows are copied instead) or < 0 (error). */
typedef int (*cl__take_fn)(void *arg, int u, cl_column *dst, cl_error *err);
int cl__dstore_append(cl__dstore *s, const cl__diff_plan *p, const cl_column *const *cols,
		      int64_t n, const uint64_t *h, const int64_t *prov, cl_error *err);
/* Rows [first, first + n) of cols (h, prov: of those rows). */
int cl__dstore_append_at(cl__dstore *s, const cl__diff_plan *p, const cl_column *const *cols,
			 int64_t first, int64_t n, const uint64_t *h, const int64_t *prov,
			 cl_error *err);
/*
 * Rows [0, n) as a new chunk whose columns are taken over with take (a
 * column that cannot be taken is copied from cols); n <= CL__CHUNK_ROWS.
 */
int cl__dstore_adopt(cl__dstore *s, const cl__diff_plan *p, const cl_column *const *cols,
		     int64_t n, const uint64_t *h, const int64_t *prov, cl__take_fn take,
		     void *arg, cl_error *err);
void cl__dchunk_free(cl__dchunk *c, int nu);
int cl__dstore_move(cl__dstore *dst, cl__dstore *src, cl_error *err);
void cl__dstore_release(cl__dstore *s, int nu);
int64_t cl__dstore_memory(const cl__dstore *s);
void cl__djoin_release(cl__djoin *j, int nu);
/* Allocate the table (nsub sub-tables) and column index of j->st. */
int cl__djoin_prepare(cl__djoin *j, const cl__diff_plan *p, int nsub, cl_error *err);
/* Insert the rows whose sub-table is t (mod nt); duplicates into w->dup. */
int cl__djoin_build(cl__dworker *w, cl__djoin *j, int t, int nt, cl_error *err);
/*
 * The same for keys that must be unique, thread t of nt inserting its
 * share of the rows into any sub-table (atomically); a duplicate only
 * sets *dup_found (then clear the table and use cl__djoin_build for the
 * report).
 */
int cl__djoin_build_shared(cl__dworker *w, cl__djoin *j, int t, int nt, bool *dup_found,
			   cl_error *err);
/* Probe right rows [0, n) of view columns rc (hashes h, provs pv). */
int cl__djoin_probe(cl__dworker *w, cl__djoin *j, const cl_column *const *rc, int64_t n,
		    const uint64_t *h, const int64_t *pv, cl_error *err);
/*
 * Matched bits of the in-memory join per worker (plain stores while the
 * workers probe at once), and their fold into the join's: the OLD
 * reference of a row matched on two workers (a duplicate right key; only
 * without --allow-duplicate-keys), else -1.
 */
int cl__djoin_maps_open(struct cl_diff *d, cl_error *err);
int64_t cl__djoin_maps_close(struct cl_diff *d);
/* Emit the unmatched left rows of chunks c with c % nt == t. */
int cl__djoin_deletes(cl__dworker *w, cl__djoin *j, int t, int nt, cl_error *err);
void cl__key_hash(const cl__diff_plan *p, const cl_column *const *cols, int64_t n,
		  uint64_t *h);
/* Keep this duplicate if it is earlier than c's; true when kept. */
bool cl__dupc_offer(cl__dupc *c, const cl__diff_plan *p, bool left,
		    const cl_column *const *cols, int64_t row, int64_t pa, int64_t pb);
int cl__dparts_open(cl__dparts *pp, struct cl_diff *d, int shift, cl_error *err);
void cl__dparts_close(cl__dparts *pp);
int cl__dstage_init(cl__dstage *s, const cl__diff_plan *p, const cl_type *types,
		    cl_error *err);
void cl__dstage_release(cl__dstage *s, int nu);
/* Scatter rows [0, n) into partitions (through the stage). */
int cl__dparts_add(struct cl_diff *d, cl__dparts *pp, cl__dstage *s,
		   const cl_column *const *cols, int64_t n, const uint64_t *h,
		   const int64_t *pv, cl_error *err);
int cl__dparts_flush(struct cl_diff *d, cl__dparts *pp, cl__dstage *s, cl_error *err);
/* Diff partition files lf / rf (left bytes lbytes) at recursion depth. */
int cl__dpart_diff(cl__dworker *w, FILE *lf, int64_t lbytes, FILE *rf, int depth,
		   cl_error *err);


/* --- diff_aligned.c, diff_aligned_read.c: the aligned (streaming) path --- */

/* A side's queue of read chunks: at most QCAP, and past QMIN of them no more
 * than qbytes (CL__ASIDE_QBYTES, less under a small memory limit). Files
 * written with one page per column chunk (DuckDB) are decompressed a row
 * group at a time: the reader must be able to decode the rest of a row
 * group and decompress the next one while the walker is still on the
 * current one, or a core idles at every row group. */
#define CL__ASIDE_QCAP 24
#define CL__ASIDE_QMIN 3
#define CL__ASIDE_QBYTES ((int64_t)64 << 20)
#define CL__ASIDE_NBUCKET 256

/* One side of the aligned walk: its reader (a thread of its own, or the
 * walker's), every key hash read (for the duplicate check), the walker's
 * cursor and the side's parked rows. */
typedef struct cl__aside {
	cl_diff *d;
	bool left;
	cl_dataset **ds;
	int nds;
	int **src; /* per dataset: source id per file */
	/* reading (the reader thread, or the walker's) */
	cl__dview v;
	uint64_t *h;
	int64_t *pv;
	int64_t hcap;
	cl__dstore tmp; /* chunks of the last batch */
	int tnext;      /* next chunk of tmp to hand out */
	int di, u, nunits;
	cl_dataset_cursor *cur;
	uint64_t *bk[CL__ASIDE_NBUCKET]; /* kept key hashes, by their top 8 bits */
	int64_t bn[CL__ASIDE_NBUCKET], bcap[CL__ASIDE_NBUCKET];
	int64_t expect;  /* rows the side's files say they hold (-1: unknown) */
	uint64_t *hblock; /* one region per bucket when expect is known */
	int64_t hregion;  /* entries per region */
	int64_t kept;     /* hashes kept (sum of bn) */
	/* the queue (threaded) */
	bool threaded, started;
	pthread_t tid;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	cl__dchunk *q[CL__ASIDE_QCAP];
	int64_t qb[CL__ASIDE_QCAP]; /* bytes of each queued chunk */
	int qhead, qn;
	int64_t qbytes, qmax; /* bytes queued, and the most allowed */
	int64_t n_full, n_empty;    /* waits: the reader's for room, the walker's */
	double wait_full, wait_empty; /* for a chunk (seconds; CL_DIFF_TRACE) */
	bool eof;
	int stop;
	int rc;
	cl_error err;
	/* walking */
	cl__dchunk *c; /* current chunk (NULL: ended) */
	int64_t i;
	bool done;
	int64_t rows; /* rows walked */
	/* parked rows */
	cl__dstore park;
	uint32_t *slots; /* 0 empty, TOMB, else park reference + 1 */
	int64_t scap, sused, live;
} cl__aside;

/* diff_aligned_read.c */
int cl__aside_init(cl__aside *s, struct cl_diff *d, bool left, cl_dataset **ds, int nds,
		   cl_error *err);
/* Read on a thread of its own from now on (stays in the walker's thread if
 * the thread cannot be made). */
void cl__aside_start(cl__aside *s);
/* The walker's next chunk of the side (NULL at the end). */
int cl__aside_next(cl__aside *s, cl__dchunk **out, cl_error *err);
void cl__aside_stop(cl__aside *s);
void cl__aside_release(cl__aside *s, int nu);
/* Keep key hashes h[rows[k]] (h[k] when rows is NULL), k < n, for the
 * duplicate check. */
int cl__aside_keep(cl__aside *s, const uint64_t *h, const uint32_t *rows, int64_t n,
		   cl_error *err);
/* Whether two kept key hashes of buckets [b0, b1) are equal (a pthread
 * start routine). */
typedef struct cl__adup {
	cl__aside *s;
	int b0, b1;
	bool found, oom;
} cl__adup;
void *cl__aside_dup_check(void *arg);

#endif
