/*
 * dms_prefetch.h — a merge run's DMS files opened and decoded ahead, on
 * worker threads, while the calling thread folds them (internal to
 * src/source; dms_merge.c's read_files is the one user).
 *
 * The calling thread asks for the planned files strictly in order:
 * cl__dms_prefetch_open(i), cl__dms_prefetch_next(i) until a batch of 0
 * rows or an error, cl__dms_prefetch_close(i). For a file the prefetch
 * covers (see cl__dms_prefetch_covers), what it returns is what a reader
 * of that file opened on the calling thread returns — the same batches,
 * rows and errors, in the same order — so the fold, its sequence (file
 * order, then row) and the error reported (the first failing file's) do
 * not depend on the thread count. A file it does not cover the caller
 * reads itself, as without a prefetch.
 */
#ifndef CL_DMS_PREFETCH_H
#define CL_DMS_PREFETCH_H

#include "changelake/dms.h"

/*
 * Which files workers read (the rule): Parquet files smaller than
 * CL__DMS_PREFETCH_LARGE bytes (listed size). A DMS CDC file is one or a
 * few row groups: the in-file decode threads of cl_read_options.threads
 * cannot share its work, files decoded side by side can. A larger file (an
 * initial load of millions of rows, many row groups) is read by the
 * calling thread with the run's in-file decode threads, as before, while
 * the workers go on with the small files after it. CSV is never covered:
 * how a CSV file is read depends on the schema the merge has learnt from
 * the files before it (header-less column names, types), which is only
 * known when the caller gets to it.
 */
#define CL__DMS_PREFETCH_LARGE ((int64_t)32 << 20)
/* Bounds of what is read ahead of the file being folded: decoded bytes
 * (a file's own batches may exceed it while it is the one being folded:
 * one batch at a time then) and files. Small on purpose: the fold keeps
 * up with the workers, and batches that wait go cold — a worker decodes
 * into fresh memory while older batches hold the warm pages (decoding
 * 100 CDC files of 10k rows with 40 batches held took 0.14 s, with 8
 * held 0.10 s) — and what the workers' malloc arenas keep adds to the
 * run's peak memory. A 10k-row CDC batch is about 1 MiB. */
#define CL__DMS_PREFETCH_BYTES ((int64_t)4 << 20)
#define CL__DMS_PREFETCH_FILES 16

/* Opens file i of the plan on a worker thread (must be safe to call from
 * several threads at once for different i). */
typedef int (*cl__dms_open_fn)(void *ctx, int i, cl_dms_reader **out, cl_error *err);

typedef struct cl__dms_prefetch cl__dms_prefetch;

/*
 * Start `workers` threads reading ahead the covered files among
 * files[0..nfiles) (borrowed, as is ctx, until cl__dms_prefetch_free),
 * at most max_bytes decoded ahead (<= 0: CL__DMS_PREFETCH_BYTES; tests
 * pass tiny bounds).
 * *out is NULL (and 0 returned) when there is nothing to read ahead
 * (workers < 1, no covered file, no thread could start): the caller reads
 * every file itself.
 */
int cl__dms_prefetch_start(cl__dms_prefetch **out, const cl_dms_file *const *files,
			   int nfiles, int workers, int64_t max_bytes, cl__dms_open_fn open,
			   void *ctx, cl_error *err);
/* Whether the workers read file i (p may be NULL: no). */
bool cl__dms_prefetch_covers(const cl__dms_prefetch *p, int i);
/*
 * Wait until file i (covered; after every earlier covered file was
 * closed) is open; *rd is its reader, borrowed until close, for its
 * schema and Op flag only (a worker may still be reading batches from it).
 * An error is the one opening the file on this thread would give.
 */
int cl__dms_prefetch_open(cl__dms_prefetch *p, int i, const cl_dms_reader **rd,
			  cl_error *err);
/* The next batch of file i, as cl_dms_reader_next (out's batch and ops
 * valid until the next call or close). */
int cl__dms_prefetch_next(cl__dms_prefetch *p, int i, cl_dms_changes *out, cl_error *err);
/* Done with file i: its reader and batches are freed. */
void cl__dms_prefetch_close(cl__dms_prefetch *p, int i);
/* Stop the workers (promptly: each finishes at most the batch it is
 * decoding) and free everything read ahead. NULL is harmless. */
void cl__dms_prefetch_free(cl__dms_prefetch *p);

#endif
