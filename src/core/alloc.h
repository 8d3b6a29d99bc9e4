/*
 * alloc.h — allocation helpers beyond the cl_malloc family (internal).
 */
#ifndef CL_CORE_ALLOC_H
#define CL_CORE_ALLOC_H

#include <stddef.h>

/*
 * Ask the kernel to back the whole 2 MiB pages inside [p, p + n) with
 * transparent huge pages (large, long-lived buffers: fewer page faults).
 * A hint only: no effect on small buffers or where THP is off. Why: writers
 * like DuckDB put a whole column chunk (8-30 MB) in one Parquet page,
 * decompressed into a fresh buffer per reader; on 4 KiB pages that is
 * thousands of page faults per chunk (the diff's hash table likewise).
 */
void cl__huge_hint(void *p, size_t n);

#endif
