/*
 * fuzz_log_names.c — libFuzzer target for the names a lake table's folder
 * and log hold: object keys listed under _delta_log/ (classified by
 * cl__delta_log_classify into commits, classic / multi-part / v2
 * checkpoints and others) and the %-escaped file paths of add and remove
 * actions (cl__delta_path_decode, relative keys or absolute URIs inside the
 * table's store).
 *
 * The input (at most 1 KiB, cut at the first NUL) is classified as a key,
 * as the key under "_delta_log/", and decoded as an action path against a
 * local store over a temporary directory (removed at exit). Checks beyond
 * "no crash":
 *   - a commit is exactly the key cl__delta_commit_key gives for its
 *     version; a classic checkpoint likewise; a multi-part checkpoint has
 *     1 <= part <= parts and is exactly the key built from them; versions
 *     are never negative;
 *   - a decoded path is a valid store key (cl_store_key_valid), and
 *     encoding it (cl__delta_path_encode) decodes back to the same key.
 */
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "changelake/storage.h"
#include "core/buf.h"
#include "table/delta.h"

static cl_store *st;

static void cleanup(void)
{
	cl_store_free(st);
}

static void classify(const char *key)
{
	int64_t v = -7;
	int part = 0, nparts = 0;
	char want[128];
	switch (cl__delta_log_classify(key, &v, &part, &nparts)) {
	case CL__LOG_COMMIT:
		cl__delta_commit_key(want, sizeof want, v);
		if (v < 0 || strcmp(want, key))
			abort();
		break;
	case CL__LOG_CHECKPOINT:
		snprintf(want, sizeof want, CL_DELTA_LOG_DIR "%020lld.checkpoint.parquet",
			 (long long)v);
		if (v < 0 || strcmp(want, key))
			abort();
		break;
	case CL__LOG_CHECKPOINT_PART:
		/* the reader opens the parts by this very name */
		snprintf(want, sizeof want, CL_DELTA_LOG_DIR "%020lld.checkpoint.%010d.%010d.parquet",
			 (long long)v, part, nparts);
		if (v < 0 || part < 1 || part > nparts || strcmp(want, key)) {
			fprintf(stderr, "'%s' classified as part %d of %d\n", key, part, nparts);
			abort();
		}
		break;
	case CL__LOG_CHECKPOINT_V2:
		if (v < 0 || strncmp(key, CL_DELTA_LOG_DIR, strlen(CL_DELTA_LOG_DIR)))
			abort();
		break;
	default:
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 1024)
		return 0;
	cl_error err = {0};
	if (!st) {
		fuzz_tmpdir("names");
		if (cl_store_open_local(&st, fuzz_root, &err))
			abort();
		atexit(cleanup);
	}
	char text[1025], key[1100];
	memcpy(text, data, size);
	text[size] = 0;
	size_t n = strlen(text);
	classify(text);
	snprintf(key, sizeof key, CL_DELTA_LOG_DIR "%s", text);
	classify(key);

	char *k = NULL;
	if (cl__delta_path_decode(&k, st, text, n, &err)) {
		if (k || !err.message[0])
			abort();
		return 0;
	}
	if (!cl_store_key_valid(k)) {
		fprintf(stderr, "decoded '%s' to the invalid key '%s'\n", text, k);
		abort();
	}
	cl_buf e = {0};
	char *k2 = NULL;
	if (cl__delta_path_encode(&e, k) ||
	    cl__delta_path_decode(&k2, st, (const char *)e.data, e.len, &err) || strcmp(k, k2)) {
		fprintf(stderr, "'%s' -> '%s' -> '%s' -> '%s'\n", text, k,
			e.data ? (const char *)e.data : "", k2 ? k2 : err.message);
		abort();
	}
	cl_buf_release(&e);
	cl_free(k2);
	cl_free(k);
	return 0;
}
