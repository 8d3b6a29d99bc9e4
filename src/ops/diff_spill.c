/*
 * diff_spill.c — a minimal binary format for batches spilled to temporary
 * files by the diff (and read back by the same process only).
 *
 * A file is a sequence of records:
 *   u32 magic 'CLSP', i64 nrows, i32 ncols, then per column
 *     u8 type id, i64 null_count, validity bitmap ((nrows + 7) / 8 bytes,
 *     present only when null_count > 0), then the values: bool bitmap,
 *     fixed-width values, or nrows + 1 int64 offsets and the data bytes.
 * Buffers are written as they are in memory (little-endian host), so the
 * files never leave the machine. Files are anonymous (unlinked at once).
 */
#include "diff_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SPILL_MAGIC 0x50534c43u /* "CLSP" */

FILE *cl__spill_tmpfile(const char *dir, cl_error *err)
{
	if (!dir)
		dir = getenv("TMPDIR");
	if (!dir || !*dir)
		dir = "/tmp";
	char path[4096];
	snprintf(path, sizeof path, "%s/changelake-spill-XXXXXX", dir);
	int fd = mkstemp(path);
	if (fd < 0) {
		cl_error_set(err, CL_EIO, "%s: cannot create a spill file: %s", dir,
			     strerror(errno));
		return NULL;
	}
	unlink(path);
	FILE *f = fdopen(fd, "w+b");
	if (!f) {
		close(fd);
		cl_error_set(err, CL_EIO, "cannot open a spill file: %s", strerror(errno));
	}
	return f;
}

static int put(FILE *f, const void *p, size_t n, cl_error *err)
{
	if (n && fwrite(p, 1, n, f) != n)
		return cl_error_set(err, CL_EIO, "writing a spill file: %s",
				    strerror(errno));
	return 0;
}

static int get(FILE *f, void *p, size_t n, cl_error *err)
{
	if (n && fread(p, 1, n, f) != n)
		return cl_error_set(err, CL_EIO, "reading a spill file: %s",
				    ferror(f) ? strerror(errno) : "truncated");
	return 0;
}

int cl__spill_write(FILE *f, cl_column *const *cols, int ncols, int64_t nrows,
		    cl_error *err)
{
	uint32_t magic = SPILL_MAGIC;
	int32_t nc = ncols;
	int rc = put(f, &magic, 4, err);
	if (!rc)
		rc = put(f, &nrows, 8, err);
	if (!rc)
		rc = put(f, &nc, 4, err);
	size_t nb = (size_t)(nrows + 7) / 8;
	for (int i = 0; i < ncols && !rc; i++) {
		const cl_column *c = cols[i];
		uint8_t t = (uint8_t)c->type.id;
		int64_t nulls = c->validity ? c->null_count : 0;
		rc = put(f, &t, 1, err);
		if (!rc)
			rc = put(f, &nulls, 8, err);
		if (!rc && nulls)
			rc = put(f, c->validity, nb, err);
		if (rc)
			break;
		if (c->type.id == CL_NULLTYPE)
			continue;
		if (c->type.id == CL_BOOL) {
			rc = put(f, c->values, nb, err);
		} else if (cl_type_is_var(c->type)) {
			rc = put(f, c->offsets, (size_t)(nrows + 1) * 8, err);
			if (!rc)
				rc = put(f, c->data, (size_t)c->offsets[nrows], err);
		} else {
			rc = put(f, c->values, (size_t)nrows * (size_t)cl_type_width(c->type),
				 err);
		}
	}
	return rc;
}

int cl__spill_read(FILE *f, cl_column *cols, int ncols, int64_t *nrows,
		   cl_error *err)
{
	*nrows = 0;
	uint32_t magic;
	size_t got = fread(&magic, 1, 4, f);
	if (got == 0 && feof(f))
		return 0;
	int64_t n;
	int32_t nc;
	int rc = got == 4 ? 0 : get(f, &magic, 4, err);
	if (!rc)
		rc = get(f, &n, 8, err);
	if (!rc)
		rc = get(f, &nc, 4, err);
	if (rc)
		return rc;
	if (magic != SPILL_MAGIC || nc != ncols || n < 0 || n > ((int64_t)1 << 32))
		return cl_error_set(err, CL_EFORMAT, "spill file is corrupt");
	size_t nb = (size_t)(n + 7) / 8;
	for (int i = 0; i < ncols; i++) {
		cl_column *c = &cols[i];
		uint8_t t;
		int64_t nulls;
		cl_column_clear(c);
		if ((rc = get(f, &t, 1, err)) || (rc = get(f, &nulls, 8, err)))
			return rc;
		if (t != (uint8_t)c->type.id || nulls < 0 || nulls > n)
			return cl_error_set(err, CL_EFORMAT, "spill file is corrupt");
		if ((rc = cl_column_reserve(c, n, err)))
			return rc;
		if (nulls) {
			if ((rc = cl_column_ensure_validity(c, err)) ||
			    (rc = get(f, c->validity, nb, err)))
				return rc;
		}
		c->null_count = nulls;
		if (c->type.id == CL_NULLTYPE) {
		} else if (c->type.id == CL_BOOL) {
			rc = get(f, c->values, nb, err);
		} else if (cl_type_is_var(c->type)) {
			rc = get(f, c->offsets, (size_t)(n + 1) * 8, err);
			if (!rc && (c->offsets[0] != 0 || c->offsets[n] < 0))
				rc = cl_error_set(err, CL_EFORMAT, "spill file is corrupt");
			if (!rc)
				rc = cl_column_reserve_data(c, c->offsets[n], err);
			if (!rc)
				rc = get(f, c->data, (size_t)c->offsets[n], err);
		} else {
			rc = get(f, c->values, (size_t)n * (size_t)cl_type_width(c->type), err);
		}
		if (rc)
			return rc;
		c->length = n;
	}
	*nrows = n;
	return 0;
}
