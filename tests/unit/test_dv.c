/* test_dv.c — the deletion vector codec (src/table/dv.c): RoaringBitmapArray
 * round trips over every container kind, known byte vectors (a DV file
 * written by Spark, hand-assembled portable Roaring bitmaps, the Z85
 * example of ZeroMQ RFC 32), every malformed-input path, vector files
 * ('u', 'p', inline), descriptors, union. */
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <zlib.h>

#include "core/buf.h"
#include "table/dv.h"

/* Encode rows, decode them back, compare; *bytes gets the encoded size. */
static bool round_trip(const uint64_t *rows, size_t n, size_t *bytes)
{
	cl_buf b = {0};
	cl_error err = {0};
	uint64_t *got = NULL;
	size_t ng = 0;
	bool ok = cl__dv_encode(&b, rows, n, &err) == 0 &&
		  cl__dv_decode(&got, &ng, b.data, b.len, &err) == 0 && ng == n &&
		  (n == 0 || memcmp(got, rows, n * sizeof *rows) == 0);
	if (!ok)
		printf("    round trip of %zu rows: %s\n", n, err.message);
	if (bytes)
		*bytes = b.len;
	cl_free(got);
	cl_buf_release(&b);
	return ok;
}

TEST(dv_round_trip_empty)
{
	size_t bytes = 0;
	CHECK(round_trip(NULL, 0, &bytes));
	CHECK_EQ_INT(bytes, 12); /* magic + zero bitmaps */
}

TEST(dv_round_trip_sparse_array)
{
	uint64_t rows[] = {0, 7, 14, 1000, 65535, 65536, 70000, 1u << 20};
	size_t bytes = 0;
	CHECK(round_trip(rows, 8, &bytes));
	/* one 32-bit bitmap, containers 0, 1, 16: 12 + 4 + 8 + 3*8 + 8*2 */
	CHECK_EQ_INT(bytes, 12 + 4 + 8 + 24 + 16);
}

TEST(dv_round_trip_dense_bitmap)
{
	/* every third row of 0..30000: 10000 values in one container -> a
	 * bitmap container (8192 bytes), no run container pays off */
	size_t n = 10000;
	uint64_t *rows = cl_malloc(n * sizeof *rows);
	CHECK(rows);
	for (size_t i = 0; i < n; i++)
		rows[i] = i * 3;
	size_t bytes = 0;
	bool ok = round_trip(rows, n, &bytes);
	cl_free(rows);
	CHECK(ok);
	CHECK_EQ_INT(bytes, 12 + 4 + 8 + 8 + 8192);
}

TEST(dv_round_trip_runs)
{
	/* 0..99999 and 200000..200009: runs in containers 0, 1 and 3 */
	size_t n = 100010;
	uint64_t *rows = cl_malloc(n * sizeof *rows);
	CHECK(rows);
	for (size_t i = 0; i < 100000; i++)
		rows[i] = i;
	for (size_t i = 0; i < 10; i++)
		rows[100000 + i] = 200000 + i;
	size_t bytes = 0;
	bool ok = round_trip(rows, n, &bytes);
	cl_free(rows);
	CHECK(ok);
	/* cookie 4 + run flags 1 + 3 headers 12 (no offsets under 4
	 * containers) + 3 run containers of one run (6 bytes) */
	CHECK_EQ_INT(bytes, 12 + 4 + 4 + 1 + 12 + 18);
}

TEST(dv_round_trip_many_containers_with_offsets)
{
	/* 5 containers, mixing all kinds, >= 4 with runs: offsets present */
	size_t n = 0, cap = 80000;
	uint64_t *rows = cl_malloc(cap * sizeof *rows);
	CHECK(rows);
	for (uint64_t v = 0; v < 5000; v++)
		rows[n++] = v; /* run */
	for (uint64_t v = 65536; v < 65536 + 12000; v += 2)
		rows[n++] = v; /* bitmap */
	rows[n++] = 3 * 65536 + 5; /* array */
	rows[n++] = 3 * 65536 + 9;
	for (uint64_t v = 4 * 65536; v < 5 * 65536; v++)
		rows[n++] = v; /* full run */
	rows[n++] = 6 * 65536 + 1;
	bool ok = round_trip(rows, n, NULL);
	cl_free(rows);
	CHECK(ok);
}

TEST(dv_round_trip_above_2_pow_32)
{
	uint64_t rows[] = {1,
			   ((uint64_t)1 << 32) - 1,
			   (uint64_t)1 << 32,
			   ((uint64_t)1 << 32) + 77,
			   ((uint64_t)5 << 32) + 65536,
			   ((uint64_t)0x7fffffff << 32) + 3};
	CHECK(round_trip(rows, 6, NULL));
}

TEST(dv_encode_refuses_unsorted)
{
	uint64_t rows[] = {5, 5};
	cl_buf b = {0};
	cl_error err = {0};
	CHECK_EQ_INT(cl__dv_encode(&b, rows, 2, &err), CL_EINVAL);
	cl_buf_release(&b);
}

/* The DV file Spark wrote for log-replay-dv-key-cases version 3: rows 0,
 * 7 and 14 deleted (an array container). */
static const uint8_t spark_file[] = {
	0x01, 0x00, 0x00, 0x00, 0x26, 0xd1, 0xd3, 0x39, 0x64, 0x01, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x3a, 0x30, 0x00,
	0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x10, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x07, 0x00, 0x0e, 0x00,
};

TEST(dv_known_spark_bitmap)
{
	uint64_t *rows = NULL;
	size_t n = 0;
	cl_error err = {0};
	CHECK_OK(cl__dv_decode(&rows, &n, spark_file + 5, 38, &err), &err);
	CHECK_EQ_INT(n, 3);
	CHECK_EQ_INT(rows[0], 0);
	CHECK_EQ_INT(rows[1], 7);
	CHECK_EQ_INT(rows[2], 14);
	/* our encoder writes the same bytes */
	cl_buf b = {0};
	CHECK_OK(cl__dv_encode(&b, rows, n, &err), &err);
	cl_free(rows);
	bool same = b.len == 38 && memcmp(b.data, spark_file + 5, 38) == 0;
	cl_buf_release(&b);
	CHECK(same);
}

/* Hand-assembled portable bitmap with a run container (RoaringFormatSpec:
 * cookie 12347 | (n-1) << 16, run flags, key/card-1 headers, no offsets
 * below 4 containers, run container = count, (start, length-1) pairs). */
TEST(dv_known_run_container)
{
	const uint8_t bm[] = {
		0xd1, 0xd3, 0x39, 0x64,                         /* magic */
		0x01, 0, 0, 0, 0, 0, 0, 0,                      /* 1 bitmap */
		0x02, 0, 0, 0,                                  /* key 2 */
		0x3b, 0x30, 0x01, 0x00,                         /* run cookie, 2 containers */
		0x01,                                           /* container 0 is a run */
		0x00, 0x00, 0x09, 0x00,                         /* key 0, 10 values */
		0x01, 0x00, 0x01, 0x00,                         /* key 1, 2 values */
		0x01, 0x00, 0x05, 0x00, 0x09, 0x00,             /* run 5..14 */
		0x03, 0x00, 0x04, 0x00,                         /* array 3, 4 */
	};
	uint64_t *rows = NULL;
	size_t n = 0;
	cl_error err = {0};
	CHECK_OK(cl__dv_decode(&rows, &n, bm, sizeof bm, &err), &err);
	CHECK_EQ_INT(n, 12);
	uint64_t hi = (uint64_t)2 << 32;
	CHECK(rows[0] == hi + 5 && rows[9] == hi + 14);
	CHECK(rows[10] == hi + 65536 + 3 && rows[11] == hi + 65536 + 4);
	cl_free(rows);
}

TEST(dv_known_spark_files)
{
	/* every DV file of the golden tables: version 1, its first vector's
	 * size and CRC check out and it decodes */
	static const char *files[] = {
		"log-replay-dv-key-cases/deletion_vector_d12e7d16-e46d-48c9-8a71-b222c26dfc3b.bin",
		"log-replay-dv-key-cases/deletion_vector_37d10da3-70a1-4730-bc58-3b44f9617505.bin",
		"dv-partitioned-with-checkpoint/deletion_vector_0237686e-c424-4e4c-8337-e8bd1b02ea48.bin",
	};
	for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
		char path[800];
		snprintf(path, sizeof path, "%s/delta-golden/%s", cl_test_data_root(), files[i]);
		FILE *f = fopen(path, "rb");
		if (!f) {
			printf("    skipped: no %s\n", path);
			return;
		}
		uint8_t buf[256];
		size_t len = fread(buf, 1, sizeof buf, f);
		fclose(f);
		CHECK(len > 9 && buf[0] == 1);
		uint32_t size = (uint32_t)buf[1] << 24 | buf[2] << 16 | buf[3] << 8 | buf[4];
		CHECK(size + 9 == len);
		uint32_t crc = (uint32_t)buf[5 + size] << 24 | buf[6 + size] << 16 |
			       buf[7 + size] << 8 | buf[8 + size];
		CHECK_EQ_INT(crc, (uint32_t)crc32(0, buf + 5, size));
		uint64_t *rows = NULL;
		size_t n = 0;
		cl_error err = {0};
		CHECK_OK(cl__dv_decode(&rows, &n, buf + 5, size, &err), &err);
		CHECK(n >= 1);
		cl_free(rows);
	}
}

TEST(dv_z85_rfc32_example)
{
	const uint8_t raw[] = {0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B};
	cl_buf b = {0};
	cl_error err = {0};
	CHECK_OK(cl__z85_encode(&b, raw, 8, &err), &err);
	CHECK_STR((const char *)b.data, "HelloWorld");
	cl_buf_clear(&b);
	CHECK_OK(cl__z85_decode(&b, "HelloWorld", 10, &err), &err);
	bool same = b.len == 8 && memcmp(b.data, raw, 8) == 0;
	/* padding: 5 bytes -> 10 characters -> 8 bytes, zero-filled */
	cl_buf_clear(&b);
	CHECK_OK(cl__z85_encode(&b, raw, 5, &err), &err);
	bool padded = b.len == 10;
	cl_buf_release(&b);
	CHECK(same);
	CHECK(padded);
}

TEST(dv_z85_malformed)
{
	cl_buf b = {0};
	cl_error err = {0};
	CHECK_EQ_INT(cl__z85_decode(&b, "Hello", 4, &err), CL_EFORMAT);
	CHECK_EQ_INT(cl__z85_decode(&b, "Hell\"", 5, &err), CL_EFORMAT);
	CHECK_EQ_INT(cl__z85_decode(&b, "Hel~o", 5, &err), CL_EFORMAT);
	/* "%nSc0" = 0x100000000 overflows; "%nSc/" is not Z85 either */
	CHECK_EQ_INT(cl__z85_decode(&b, "%nSc1", 5, &err), CL_EFORMAT);
	CHECK_OK(cl__z85_decode(&b, "%nSc0", 5, &err), &err);
	CHECK(b.len == 4 && b.data[0] == 0xff && b.data[3] == 0xff);
	cl_buf_release(&b);
}

TEST(dv_file_key_of_uuid)
{
	cl_store *st = NULL;
	cl_error err = {0};
	CHECK_OK(cl_store_open_local(&st, cl_test_tmpdir(), &err), &err);
	cl_table_dv dv = {'u', "h{&8fAg]=QYJvl-}c!yH", 1, 34, 1};
	char *key = NULL;
	int rc = cl__dv_file_key(&key, st, &dv, &err);
	char k1[100];
	snprintf(k1, sizeof k1, "%s", key ? key : "");
	cl_free(key);
	/* with a prefix: <prefix>/deletion_vector_<uuid>.bin */
	dv.path_or_inline = "ab" "h{&8fAg]=QYJvl-}c!yH";
	key = NULL;
	int rc2 = cl__dv_file_key(&key, st, &dv, &err);
	char k2[100];
	snprintf(k2, sizeof k2, "%s", key ? key : "");
	cl_free(key);
	dv.path_or_inline = "short";
	int rc3 = cl__dv_file_key(&key, st, &dv, &err);
	dv.path_or_inline = "../h{&8fAg]=QYJvl-}c!yH";
	int rc4 = cl__dv_file_key(&key, st, &dv, &err);
	cl_store_free(st);
	CHECK_EQ_INT(rc, 0);
	CHECK_EQ_INT(rc2, 0);
	CHECK_EQ_INT(rc3, CL_EFORMAT);
	CHECK_EQ_INT(rc4, CL_EFORMAT);
	/* the key names one of the files Spark wrote for that table */
	char path[800];
	struct stat sb;
	snprintf(path, sizeof path, "%s/delta-golden/log-replay-dv-key-cases/%s",
		 cl_test_data_root(), k1);
	CHECK(strncmp(k1, "deletion_vector_", 16) == 0 && strlen(k1) == 16 + 36 + 4);
	CHECK(stat(path, &sb) == 0);
	CHECK(strncmp(k2, "ab/", 3) == 0 && strcmp(k2 + 3, k1) == 0);
}

/* Decode must refuse bm[0..len) with CL_EFORMAT. */
static bool refused(const uint8_t *bm, size_t len)
{
	uint64_t *rows = NULL;
	size_t n = 0;
	cl_error err = {0};
	int rc = cl__dv_decode(&rows, &n, bm, len, &err);
	cl_free(rows);
	return rc == CL_EFORMAT && rows == NULL && n == 0 && err.message[0];
}

TEST(dv_decode_truncations)
{
	/* a bitmap with all container kinds: every proper prefix is refused */
	size_t n = 0;
	uint64_t *rows = cl_malloc(20000 * sizeof *rows);
	CHECK(rows);
	for (uint64_t v = 0; v < 100; v++)
		rows[n++] = v;
	for (uint64_t v = 65536; v < 65536 + 10000; v += 2)
		rows[n++] = v;
	rows[n++] = 3 * 65536 + 4;
	rows[n++] = 4 * 65536 + 4;
	rows[n++] = ((uint64_t)1 << 32) + 9;
	cl_buf b = {0};
	cl_error err = {0};
	int rc = cl__dv_encode(&b, rows, n, &err);
	cl_free(rows);
	CHECK_EQ_INT(rc, 0);
	bool ok = true;
	for (size_t len = 0; len < b.len && ok; len++)
		ok = refused(b.data, len);
	/* and one trailing byte too many */
	uint8_t *more = cl_malloc(b.len + 1);
	if (more) {
		memcpy(more, b.data, b.len);
		more[b.len] = 0;
		ok = ok && refused(more, b.len + 1);
	}
	cl_free(more);
	cl_buf_release(&b);
	CHECK(ok);
}

TEST(dv_decode_malformed_headers)
{
	uint8_t bm[64];
	memcpy(bm, spark_file + 5, 38);
	CHECK(!refused(bm, 38));
	bm[0] ^= 1; /* bad magic */
	CHECK(refused(bm, 38));
	bm[0] ^= 1;
	bm[0]--; /* native-format magic 1681511376 */
	CHECK(refused(bm, 38));
	bm[0]++;
	bm[16] = 0x3b; /* bad cookie 0x303b with count field: 12347 reading */
	bm[16] = 0x39; /* 12345: unknown cookie */
	CHECK(refused(bm, 38));
	bm[16] = 0x3a;
	bm[4] = 2; /* two bitmaps claimed */
	CHECK(refused(bm, 38));
	bm[4] = 0xff; /* a huge bitmap count */
	bm[11] = 0x7f;
	CHECK(refused(bm, 38));
	bm[4] = 1;
	bm[11] = 0;
	bm[20] = 0x01; /* container count 65537 */
	bm[22] = 0x01;
	CHECK(refused(bm, 38));
	bm[20] = 0x01;
	bm[22] = 0;
	CHECK(!refused(bm, 38));
	bm[28] = 0x11; /* container offset wrong */
	CHECK(refused(bm, 38));
	bm[28] = 0x10;
	bm[34] = 0x00; /* array values 0, 7, 0: not ascending */
	CHECK(refused(bm, 38));
	bm[34] = 0x07;
	bm[26] = 0x03; /* cardinality 4: truncated array */
	CHECK(refused(bm, 38));
	bm[26] = 0x02;
	CHECK(!refused(bm, 38));
}

TEST(dv_decode_unsorted_keys)
{
	/* two 32-bit bitmaps with keys 1 then 1 (and 1 then 0) */
	const uint64_t rows[] = {((uint64_t)1 << 32) + 1, ((uint64_t)2 << 32) + 1};
	cl_buf b = {0};
	cl_error err = {0};
	CHECK_OK(cl__dv_encode(&b, rows, 2, &err), &err);
	/* layout: 12 header, key(4)+bitmap(4+4+4+4+2=18) per bitmap */
	CHECK_EQ_INT(b.len, 12 + 2 * 22);
	b.data[12 + 22] = 1;
	bool r1 = refused(b.data, b.len);
	b.data[12 + 22] = 0;
	bool r2 = refused(b.data, b.len);
	b.data[12 + 22] = 2;
	bool ok = !refused(b.data, b.len);
	cl_buf_release(&b);
	CHECK(r1 && r2 && ok);

	/* containers out of order inside one bitmap */
	const uint64_t r3[] = {1, 65536 + 1, 3 * 65536 + 1};
	CHECK_OK(cl__dv_encode(&b, r3, 3, &err), &err);
	/* headers at 12+4+8: keys 0, 1, 3 -> 0, 3, 3 */
	b.data[24 + 4] = 3;
	bool r4 = refused(b.data, b.len);
	cl_buf_release(&b);
	CHECK(r4);
}

TEST(dv_decode_bad_containers)
{
	/* bitmap container whose popcount differs from its header */
	size_t n = 5000;
	uint64_t *rows = cl_malloc(n * sizeof *rows);
	CHECK(rows);
	for (size_t i = 0; i < n; i++)
		rows[i] = 2 * i;
	cl_buf b = {0};
	cl_error err = {0};
	int rc = cl__dv_encode(&b, rows, n, &err);
	cl_free(rows);
	CHECK_EQ_INT(rc, 0);
	b.data[b.len - 1] |= 0x80; /* one more bit set */
	bool r1 = refused(b.data, b.len);
	cl_buf_release(&b);
	CHECK(r1);

	/* run containers: overlapping runs, a run past 65535, card mismatch */
	uint8_t bm[] = {
		0xd1, 0xd3, 0x39, 0x64, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0x3b, 0x30, 0x00, 0x00, /* run cookie, 1 container */
		0x01,                   /* it is a run */
		0x00, 0x00, 0x05, 0x00, /* key 0, 6 values */
		0x02, 0x00, 0x00, 0x00, 0x02, 0x00, 0x03, 0x00, 0x02, 0x00,
	};
	CHECK(!refused(bm, sizeof bm)); /* 0..2, 3..5 */
	bm[31] = 0x02;                  /* second run starts at 2: overlap */
	CHECK(refused(bm, sizeof bm));
	bm[31] = 0x03;
	bm[23] = 0x06; /* header says 7 values */
	CHECK(refused(bm, sizeof bm));
	bm[23] = 0x05;
	CHECK(!refused(bm, sizeof bm));
	bm[31] = 0xfe; /* run 0xfffe + 2 > 65535 */
	bm[32] = 0xff;
	CHECK(refused(bm, sizeof bm));
}

TEST(dv_decode_alloc_failures)
{
	uint64_t rows[] = {1, 2, 3, 70000, (uint64_t)1 << 33};
	cl_buf b = {0};
	cl_error err = {0};
	CHECK_OK(cl__dv_encode(&b, rows, 5, &err), &err);
	bool seen_ok = false;
	for (long k = 0; k < 10 && !seen_ok; k++) {
		cl_alloc_fail_after(k);
		uint64_t *got = NULL;
		size_t n = 0;
		cl_buf e = {0};
		int rc = cl__dv_decode(&got, &n, b.data, b.len, &err);
		int rc2 = cl__dv_encode(&e, rows, 5, &err);
		cl_alloc_fail_after(-1);
		seen_ok = rc == 0 && rc2 == 0;
		if (rc == 0)
			CHECK_EQ_INT(n, 5);
		else
			CHECK_EQ_INT(rc, CL_ENOMEM);
		cl_free(got);
		cl_buf_release(&e);
	}
	cl_buf_release(&b);
	CHECK(seen_ok);
}

TEST(dv_file_write_and_load)
{
	cl_store *st = NULL;
	cl_error err = {0};
	const char *dir = cl_test_tmpdir();
	CHECK_OK(cl_store_open_local(&st, dir, &err), &err);
	cl__dv_file *f = NULL;
	CHECK_OK(cl__dv_file_open(&f, &err), &err);
	uint64_t a[] = {0, 7, 14};
	uint64_t b[] = {3, 100000, ((uint64_t)1 << 32) + 5};
	cl_table_dv da, db;
	const char *key = NULL;
	int64_t bytes = 0;
	int rc = cl__dv_file_append(f, a, 3, &da, &err);
	if (!rc)
		rc = cl__dv_file_append(f, b, 3, &db, &err);
	if (!rc)
		rc = cl__dv_file_publish(f, st, &key, &bytes, &err);
	char keycopy[100] = "";
	if (key)
		snprintf(keycopy, sizeof keycopy, "%s", key);
	uint64_t *ra = NULL, *rb = NULL;
	size_t na = 0, nb = 0;
	int rca = rc ? rc : cl__dv_load(&ra, &na, st, &da, "a.parquet", &err);
	int rcb = rc ? rc : cl__dv_load(&rb, &nb, st, &db, "b.parquet", &err);
	/* the file key of the descriptor is the published key */
	char *k2 = NULL;
	int rck = cl__dv_file_key(&k2, st, &da, &err);
	bool same_key = rck == 0 && strcmp(k2, keycopy) == 0;
	cl_free(k2);
	/* 'p': the same vector by absolute path */
	char abs[900];
	snprintf(abs, sizeof abs, "file://%s/%s", dir, keycopy);
	cl_table_dv dp = da;
	dp.storage_type = 'p';
	dp.path_or_inline = abs;
	uint64_t *rp = NULL;
	size_t np = 0;
	int rcp = cl__dv_load(&rp, &np, st, &dp, "a.parquet", &err);
	size_t idlen = strlen(da.path_or_inline);
	cl__dv_file_free(f);
	cl_store_free(st);
	bool ok = rca == 0 && rcb == 0 && na == 3 && nb == 3 && !memcmp(ra, a, sizeof a) &&
		  !memcmp(rb, b, sizeof b) && rcp == 0 && np == 3 && !memcmp(rp, a, sizeof a);
	cl_free(ra);
	cl_free(rb);
	cl_free(rp);
	CHECK_OK(rc, &err);
	CHECK(ok);
	CHECK(same_key);
	CHECK_EQ_INT(da.offset, 1);
	CHECK_EQ_INT(da.storage_type, 'u');
	CHECK_EQ_INT(da.cardinality, 3);
	CHECK_EQ_INT(da.size_in_bytes, 38);
	CHECK_EQ_INT(db.offset, 1 + 4 + 38 + 4);
	CHECK_EQ_INT(bytes, 1 + 2 * 8 + 38 + db.size_in_bytes);
	CHECK_EQ_INT(idlen, 20);
}

TEST(dv_file_empty_publishes_nothing)
{
	cl_store *st = NULL;
	cl_error err = {0};
	CHECK_OK(cl_store_open_local(&st, cl_test_tmpdir(), &err), &err);
	cl__dv_file *f = NULL;
	CHECK_OK(cl__dv_file_open(&f, &err), &err);
	const char *key = "x";
	int64_t bytes = 1;
	int rc = cl__dv_file_publish(f, st, &key, &bytes, &err);
	cl_store_list l = {0};
	int rcl = cl_store_list_prefix(st, "", NULL, &l, &err);
	size_t nobj = l.n;
	cl_store_list_release(&l);
	cl__dv_file_free(f);
	cl_store_free(st);
	CHECK_EQ_INT(rc, 0);
	CHECK_EQ_INT(rcl, 0);
	CHECK(key == NULL && bytes == 0);
	CHECK_EQ_INT(nobj, 0);
}

/* Write a DV file with one vector; corrupt byte `at` by xor `x`; load. */
static int load_corrupted(size_t at, uint8_t x, int64_t card_delta, int32_t size_delta,
			  cl_error *err)
{
	cl_store *st = NULL;
	if (cl_store_open_local(&st, cl_test_tmpdir(), err))
		return -100;
	cl__dv_file *f = NULL;
	uint64_t rows[] = {1, 2, 3};
	cl_table_dv dv;
	const char *key = NULL;
	int64_t bytes = 0;
	int rc = cl__dv_file_open(&f, err);
	if (!rc)
		rc = cl__dv_file_append(f, rows, 3, &dv, err);
	if (!rc)
		rc = cl__dv_file_publish(f, st, &key, &bytes, err);
	if (!rc && at != (size_t)-1) {
		uint8_t *d = NULL;
		size_t dn = 0;
		rc = cl_store_get(st, key, &d, &dn, err);
		if (!rc && at < dn) {
			d[at] ^= x;
			rc = cl_store_put(st, key, d, dn, err);
		}
		cl_free(d);
	}
	if (!rc) {
		dv.cardinality += card_delta;
		dv.size_in_bytes += size_delta;
		uint64_t *got = NULL;
		size_t n = 0;
		rc = cl__dv_load(&got, &n, st, &dv, "data.parquet", err);
		cl_free(got);
	}
	cl__dv_file_free(f);
	cl_store_free(st);
	return rc;
}

TEST(dv_file_malformed)
{
	cl_error err = {0};
	CHECK_OK(load_corrupted((size_t)-1, 0, 0, 0, &err), &err);
	CHECK_EQ_INT(load_corrupted(0, 2, 0, 0, &err), CL_EFORMAT); /* version 3 */
	CHECK(strstr(err.message, "version"));
	CHECK_EQ_INT(load_corrupted(20, 1, 0, 0, &err), CL_EFORMAT); /* CRC */
	CHECK(strstr(err.message, "CRC"));
	CHECK(strstr(err.message, "data.parquet"));
	CHECK_EQ_INT(load_corrupted((size_t)-1, 0, 1, 0, &err), CL_EFORMAT);
	CHECK(strstr(err.message, "cardinality"));
	CHECK_EQ_INT(load_corrupted((size_t)-1, 0, 0, -1, &err), CL_EFORMAT); /* size */
	CHECK_EQ_INT(load_corrupted((size_t)-1, 0, 0, 1, &err), CL_EFORMAT); /* past end */
	CHECK_EQ_INT(load_corrupted((size_t)-1, 0, 0, -100, &err), CL_EFORMAT);
	CHECK_EQ_INT(load_corrupted(4, 1, 0, 0, &err), CL_EFORMAT); /* stored size */
}

TEST(dv_load_missing_file_and_bad_descriptor)
{
	cl_store *st = NULL;
	cl_error err = {0};
	CHECK_OK(cl_store_open_local(&st, cl_test_tmpdir(), &err), &err);
	cl_table_dv dv = {'u', "h{&8fAg]=QYJvl-}c!yH", 1, 34, 1};
	uint64_t *rows = NULL;
	size_t n = 0;
	int rc1 = cl__dv_load(&rows, &n, st, &dv, "d.parquet", &err);
	dv.offset = 0;
	int rc2 = cl__dv_load(&rows, &n, st, &dv, "d.parquet", &err);
	dv.storage_type = 'x';
	int rc3 = cl__dv_load(&rows, &n, st, &dv, "d.parquet", &err);
	dv.storage_type = 'p';
	dv.path_or_inline = "/somewhere/else/x.bin";
	dv.offset = 1;
	int rc4 = cl__dv_load(&rows, &n, st, &dv, "d.parquet", &err);
	cl_store_free(st);
	CHECK_EQ_INT(rc1, CL_ENOTFOUND);
	CHECK_EQ_INT(rc2, CL_EFORMAT);
	CHECK_EQ_INT(rc3, CL_EFORMAT);
	CHECK(rc4 == CL_EUNSUPPORTED || rc4 == CL_ENOTFOUND);
	CHECK(rows == NULL && n == 0);
}

TEST(dv_inline)
{
	uint64_t rows[] = {2, 4, 65536 * 3};
	cl_buf bm = {0}, z = {0};
	cl_error err = {0};
	CHECK_OK(cl__dv_encode(&bm, rows, 3, &err), &err);
	CHECK_OK(cl__z85_encode(&z, bm.data, bm.len, &err), &err);
	cl_table_dv dv = {'i', (const char *)z.data, -1, (int32_t)bm.len, 3};
	uint64_t *got = NULL;
	size_t n = 0;
	int rc = cl__dv_load(&got, &n, NULL, &dv, "f.parquet", &err);
	bool ok = rc == 0 && n == 3 && !memcmp(got, rows, sizeof rows);
	cl_free(got);
	dv.size_in_bytes += 4; /* longer than the text */
	int rc2 = cl__dv_load(&got, &n, NULL, &dv, "f.parquet", &err);
	dv.size_in_bytes -= 4;
	dv.cardinality = 2;
	int rc3 = cl__dv_load(&got, &n, NULL, &dv, "f.parquet", &err);
	dv.cardinality = 3;
	z.data[3] = '~';
	int rc4 = cl__dv_load(&got, &n, NULL, &dv, "f.parquet", &err);
	cl_buf b2 = {0};
	cl_table_dv d2 = dv;
	d2.path_or_inline = "ab\"c";
	int rcj = cl__dv_json(&b2, &d2);
	cl_buf_release(&bm);
	cl_buf_release(&z);
	CHECK_OK(rc, &err);
	CHECK(ok);
	CHECK_EQ_INT(rc2, CL_EFORMAT);
	CHECK_EQ_INT(rc3, CL_EFORMAT);
	CHECK_EQ_INT(rc4, CL_EFORMAT);
	CHECK_EQ_INT(rcj, 0);
	bool json_ok = strcmp((const char *)b2.data,
			      "{\"storageType\":\"i\",\"pathOrInlineDv\":\"ab\\\"c\","
			      "\"sizeInBytes\":46,\"cardinality\":3}") == 0;
	if (!json_ok)
		printf("    %s\n", (const char *)b2.data);
	cl_buf_release(&b2);
	CHECK(json_ok);
}

TEST(dv_unique_id_and_json)
{
	cl_table_dv dv = {'u', "h{&8fAg]=QYJvl-}c!yH", 1, 34, 1};
	cl_buf b = {0};
	CHECK_EQ_INT(cl__dv_unique_id(&b, &dv), 0);
	bool id_ok = strcmp((const char *)b.data, "uh{&8fAg]=QYJvl-}c!yH@1") == 0;
	cl_buf_clear(&b);
	CHECK_EQ_INT(cl__dv_json(&b, &dv), 0);
	bool json_ok = strcmp((const char *)b.data,
			      "{\"storageType\":\"u\",\"pathOrInlineDv\":\"h{&8fAg]=QYJvl-}c!yH\","
			      "\"offset\":1,\"sizeInBytes\":34,\"cardinality\":1}") == 0;
	cl_buf_clear(&b);
	cl_table_dv in = {'i', "wi5b=000010000siXQKl0rr91000f55c8Xg0@@D72lkbi5=-{L", -1, 40, 6};
	CHECK_EQ_INT(cl__dv_unique_id(&b, &in), 0);
	bool inl_ok = strcmp((const char *)b.data,
			     "iwi5b=000010000siXQKl0rr91000f55c8Xg0@@D72lkbi5=-{L") == 0;
	cl_buf_release(&b);
	CHECK(id_ok);
	CHECK(json_ok);
	CHECK(inl_ok);
}

TEST(dv_union)
{
	uint64_t a[] = {1, 3, 5, 9};
	uint64_t b[] = {0, 3, 6, 9, 10};
	uint64_t *u = NULL;
	size_t n = 0;
	cl_error err = {0};
	CHECK_OK(cl__dv_union(&u, &n, a, 4, b, 5, &err), &err);
	uint64_t want[] = {0, 1, 3, 5, 6, 9, 10};
	bool ok = n == 7 && !memcmp(u, want, sizeof want);
	cl_free(u);
	CHECK(ok);
	CHECK_OK(cl__dv_union(&u, &n, a, 4, NULL, 0, &err), &err);
	ok = n == 4 && !memcmp(u, a, sizeof a);
	cl_free(u);
	CHECK(ok);
	CHECK_OK(cl__dv_union(&u, &n, NULL, 0, NULL, 0, &err), &err);
	CHECK(u == NULL && n == 0);
}

/* ------------------------------------------------------------------ */
/* Tables: the log, the scan, vacuum. */

#include "changelake/io.h"
#include "changelake/table.h"
#include "table/delta.h"

/* A table "id int64, v string" (ids 0..nrows-1, v = "v<id>") in one data
 * file f.parquet of row groups of rg_rows rows; when del is not NULL the
 * file is added with a deletion vector of those rows (written by
 * cl__dv_file). Returns the open table or NULL. */
static cl_table *dv_table(const char *root, int nrows, int rg_rows, const uint64_t *del,
			  size_t ndel, cl_error *err)
{
	cl_table *t = NULL;
	cl_schema *sc = NULL;
	cl_batch *b = NULL;
	cl_writer *w = NULL;
	cl_snapshot *s = NULL;
	cl_table_txn *x = NULL;
	cl__dv_file *f = NULL;
	char *stage = NULL;
	int rc = cl_table_open(&t, root, err);
	rc = rc ? rc : cl_schema_parse(&sc, "id int64 not null\nv string", err);
	cl_table_create_options co;
	cl_table_create_options_init(&co);
	const char *keys[1] = {"id"};
	co.keys = keys;
	co.nkeys = 1;
	rc = rc ? rc : cl_table_create(t, sc, &co, err);
	rc = rc ? rc : cl_batch_create(&b, sc, nrows, err);
	for (int i = 0; !rc && i < nrows; i++) {
		char v[32];
		snprintf(v, sizeof v, "v%d", i);
		rc = cl_column_append_i64(&b->cols[0], i, err);
		rc = rc ? rc : cl_column_append_bytes(&b->cols[1], v, strlen(v), err);
	}
	if (!rc)
		b->nrows = nrows;
	cl_store *st = t ? cl_table_store(t) : NULL;
	rc = rc ? rc : cl_store_stage(st, "f.parquet", &stage, err);
	cl_write_options o;
	cl_write_options_init(&o);
	o.format = CL_FORMAT_PARQUET;
	o.row_group_rows = rg_rows;
	rc = rc ? rc : cl_writer_open(&w, stage, sc, &o, err);
	rc = rc ? rc : cl_writer_write(w, b, err);
	rc = rc ? rc : cl_writer_close(w, err);
	rc = rc ? rc : cl_store_publish(st, stage, "f.parquet", err);
	cl_table_dv dv;
	const char *key;
	int64_t bytes;
	if (!rc && del) {
		rc = cl__dv_file_open(&f, err);
		rc = rc ? rc : cl__dv_file_append(f, del, ndel, &dv, err);
		rc = rc ? rc : cl__dv_file_publish(f, st, &key, &bytes, err);
	}
	rc = rc ? rc : cl_table_snapshot(&s, t, NULL, err);
	rc = rc ? rc : cl_table_txn_begin(&x, t, s, "WRITE", err);
	char stats[200];
	snprintf(stats, sizeof stats, "{\"numRecords\":%d,\"minValues\":{\"id\":0},"
		 "\"maxValues\":{\"id\":%d},\"nullCount\":{\"id\":0}%s}", nrows, nrows - 1,
		 del ? ",\"tightBounds\":false" : "");
	cl_table_add a = {"f.parquet", 1000, 1, NULL, 0, stats, true, del ? &dv : NULL};
	rc = rc ? rc : cl_table_txn_add(x, &a, err);
	rc = rc ? rc : cl_table_txn_commit(x, NULL, err);
	cl_table_txn_free(x);
	cl_snapshot_free(s);
	cl__dv_file_free(f);
	cl_writer_free(w);
	cl_free(stage);
	cl_batch_free(b);
	cl_schema_free(sc);
	if (rc) {
		cl_table_free(t);
		return NULL;
	}
	return t;
}

/* Scan; ids[] gets the ids read (up to cap); checks that every row's id is
 * its physical position (first_row - 1 + r) and v is "v<id>". */
static int dv_scan(cl_table *t, const cl_table_scan_options *o, int64_t *ids, size_t cap,
		   size_t *n, bool *pos_ok, cl_error *err)
{
	cl_snapshot *s = NULL;
	cl_table_scan *sc = NULL;
	*n = 0;
	*pos_ok = true;
	int rc = cl_table_snapshot(&s, t, NULL, err);
	rc = rc ? rc : cl_table_scan_open(&sc, t, s, o, err);
	cl_batch *b;
	while (!rc && !(rc = cl_table_scan_next(sc, &b, err)) && b) {
		int64_t first = 0;
		cl_table_scan_file(sc, &first);
		const cl_schema *bs = cl_table_scan_schema(sc);
		int ci = cl_schema_find(bs, "id"), cv = cl_schema_find(bs, "v");
		for (int64_t r = 0; r < b->nrows; r++) {
			int64_t id = first - 1 + r;
			if (ci >= 0 && cl_column_get_i64(&b->cols[ci], r) != id)
				*pos_ok = false;
			if (cv >= 0) {
				size_t vl;
				const uint8_t *v = cl_column_get_bytes(&b->cols[cv], r, &vl);
				char want[32];
				snprintf(want, sizeof want, "v%lld", (long long)id);
				if (vl != strlen(want) || memcmp(v, want, vl))
					*pos_ok = false;
			}
			if (*n < cap)
				ids[(*n)++] = id;
		}
	}
	cl_table_scan_free(sc);
	cl_snapshot_free(s);
	return rc;
}

TEST(dv_scan_drops_rows_across_row_groups)
{
	cl_error err = {0};
	char root[700];
	snprintf(root, sizeof root, "%s/t", cl_test_tmpdir());
	/* 50 rows in row groups of 10; deleted: the first and last row, a
	 * whole row group (20..29), runs crossing a row-group boundary */
	uint64_t del[40];
	size_t nd = 0;
	del[nd++] = 0;
	for (uint64_t r = 8; r < 12; r++)
		del[nd++] = r;
	for (uint64_t r = 20; r < 30; r++)
		del[nd++] = r;
	del[nd++] = 33;
	del[nd++] = 35;
	del[nd++] = 49;
	cl_table *t = dv_table(root, 50, 10, del, nd, &err);
	CHECK_OK(t ? 0 : -1, &err);
	int64_t ids[64];
	size_t n;
	bool pos_ok;
	/* small batches: runs are cut inside batches and across them */
	cl_table_scan_options o = {0};
	o.batch_rows = 7;
	int rc = dv_scan(t, &o, ids, 64, &n, &pos_ok, &err);
	cl_snapshot *s = NULL;
	int rcs = cl_table_snapshot(&s, t, NULL, &err);
	int64_t nrec = rcs ? -2 : cl_snapshot_num_records(s);
	cl_snapshot_free(s);
	CHECK_OK(rc, &err);
	CHECK(pos_ok);
	CHECK_EQ_INT(n, 50 - nd);
	CHECK_EQ_INT(nrec, 50 - (int64_t)nd);
	for (size_t i = 0, k = 0; i < n; i++) {
		while (k < nd && (int64_t)del[k] < ids[i])
			k++;
		CHECK(k == nd || (int64_t)del[k] != ids[i]);
		CHECK(i == 0 || ids[i] > ids[i - 1]);
	}
	/* row-group pruning: id >= 25 skips row groups 0 and 1 (10..19 are
	 * physical rows 10..19 that must not be mistaken for 30..39) */
	cl_parquet_predicate p = {"id", CL_PQ_GE, "25"};
	o.filters = &p;
	o.nfilters = 1;
	rc = dv_scan(t, &o, ids, 64, &n, &pos_ok, &err);
	CHECK_OK(rc, &err);
	CHECK(pos_ok);
	/* rows 30..49 of row groups 3 and 4 minus 33, 35, 49 (row group 2 is
	 * read as well: its statistics allow 25..29, all deleted) */
	CHECK_EQ_INT(n, 17);
	CHECK_EQ_INT(ids[0], 30);
	CHECK_EQ_INT(ids[n - 1], 48);
	/* projection of v only: the values still line up with positions */
	const char *cols[1] = {"v"};
	cl_table_scan_options po = {0};
	po.columns = cols;
	po.ncolumns = 1;
	rc = dv_scan(t, &po, ids, 64, &n, &pos_ok, &err);
	cl_table_free(t);
	CHECK_OK(rc, &err);
	CHECK(pos_ok);
	CHECK_EQ_INT(n, 50 - nd);
}

TEST(dv_scan_whole_file_deleted_and_bad_vector)
{
	cl_error err = {0};
	char root[700];
	snprintf(root, sizeof root, "%s/all", cl_test_tmpdir());
	uint64_t all[5] = {0, 1, 2, 3, 4};
	cl_table *t = dv_table(root, 5, 2, all, 5, &err);
	CHECK_OK(t ? 0 : -1, &err);
	int64_t ids[8];
	size_t n = 99;
	bool pos_ok;
	int rc = dv_scan(t, NULL, ids, 8, &n, &pos_ok, &err);
	cl_table_free(t);
	CHECK_OK(rc, &err);
	CHECK_EQ_INT(n, 0);
	/* a vector naming a row the file does not have */
	snprintf(root, sizeof root, "%s/past", cl_test_tmpdir());
	uint64_t past[2] = {1, 5};
	t = dv_table(root, 5, 2, past, 2, &err);
	CHECK_OK(t ? 0 : -1, &err);
	rc = dv_scan(t, NULL, ids, 8, &n, &pos_ok, &err);
	cl_table_free(t);
	CHECK_EQ_INT(rc, CL_EFORMAT);
	CHECK(strstr(err.message, "f.parquet"));
}

/* Commit raw log lines as the next version. */
static int raw_commit(cl_table *t, int64_t version, const char *text, cl_error *err)
{
	char key[64];
	snprintf(key, sizeof key, "_delta_log/%020lld.json", (long long)version);
	return cl_store_put_if_absent(cl_table_store(t), key, text, strlen(text), err);
}

TEST(dv_replay_logical_file_identity)
{
	cl_error err = {0};
	char root[700];
	snprintf(root, sizeof root, "%s/t", cl_test_tmpdir());
	cl_table *t = dv_table(root, 5, 5, (const uint64_t[]){1}, 1, &err);
	CHECK_OK(t ? 0 : -1, &err);
	cl_snapshot *s = NULL;
	CHECK_OK(cl_table_snapshot(&s, t, NULL, &err), &err);
	const cl_table_dv *old = cl_snapshot_file(s, 0)->dv;
	CHECK(old);
	char oldj[300];
	cl_buf jb = {0};
	cl__dv_json(&jb, old);
	snprintf(oldj, sizeof oldj, "%s", (const char *)jb.data);
	cl_buf_release(&jb);
	cl_snapshot_free(s);
	/* an inline vector {1, 3} */
	cl_buf bm = {0}, z = {0};
	uint64_t rows[2] = {1, 3};
	cl__dv_encode(&bm, rows, 2, &err);
	cl__z85_encode(&z, bm.data, bm.len, &err);
	char newj[300];
	snprintf(newj, sizeof newj,
		 "{\"storageType\":\"i\",\"pathOrInlineDv\":\"%s\",\"sizeInBytes\":%zu,"
		 "\"cardinality\":2}", (const char *)z.data, bm.len);
	cl_buf_release(&bm);
	cl_buf_release(&z);
	/* version 2: the add of the new vector BEFORE the remove of the old */
	char text[2000];
	snprintf(text, sizeof text,
		 "{\"add\":{\"path\":\"f.parquet\",\"partitionValues\":{},\"size\":1000,"
		 "\"modificationTime\":1,\"dataChange\":true,\"stats\":\"{\\\"numRecords\\\":5}\","
		 "\"deletionVector\":%s}}\n"
		 "{\"remove\":{\"path\":\"f.parquet\",\"deletionTimestamp\":%lld,\"dataChange\":true,"
		 "\"deletionVector\":%s}}\n", newj, (long long)cl__now_ms(), oldj);
	CHECK_OK(raw_commit(t, 2, text, &err), &err);
	CHECK_OK(cl_table_snapshot(&s, t, NULL, &err), &err);
	bool one = cl_snapshot_nfiles(s) == 1 && cl_snapshot_file(s, 0)->dv &&
		   cl_snapshot_file(s, 0)->dv->storage_type == 'i' &&
		   cl_snapshot_num_records(s) == 3;
	cl_snapshot_free(s);
	CHECK(one);
	int64_t ids[8];
	size_t n;
	bool pos_ok;
	CHECK_OK(dv_scan(t, NULL, ids, 8, &n, &pos_ok, &err), &err);
	CHECK(pos_ok && n == 3 && ids[0] == 0 && ids[1] == 2 && ids[2] == 4);
	/* version 3: a remove naming a vector the live file does not have
	 * leaves it live (another logical file) */
	snprintf(text, sizeof text,
		 "{\"remove\":{\"path\":\"f.parquet\",\"deletionTimestamp\":%lld,\"dataChange\":true,"
		 "\"deletionVector\":%s}}\n", (long long)cl__now_ms(), oldj);
	CHECK_OK(raw_commit(t, 3, text, &err), &err);
	CHECK_OK(cl_table_snapshot(&s, t, NULL, &err), &err);
	bool still = cl_snapshot_nfiles(s) == 1;
	/* a checkpoint of it, read back alone, keeps the vector */
	int rcc = cl_table_checkpoint(t, s, &err);
	cl_snapshot_free(s);
	CHECK(still);
	CHECK_OK(rcc, &err);
	for (int v = 0; v < 3; v++) { /* the checkpoint and commit 3 remain */
		char key[64];
		snprintf(key, sizeof key, "_delta_log/%020d.json", v);
		cl_store_delete(cl_table_store(t), key, &err);
	}
	CHECK_OK(cl_table_snapshot(&s, t, NULL, &err), &err);
	const cl_table_file *f = cl_snapshot_num_records(s) == 3 ? cl_snapshot_file(s, 0) : NULL;
	bool cp_ok = f && f->dv && f->dv->storage_type == 'i' && f->dv->cardinality == 2 &&
		     f->dv->offset == -1 && f->has_dv;
	cl_snapshot_free(s);
	CHECK(cp_ok);
	CHECK_OK(dv_scan(t, NULL, ids, 8, &n, &pos_ok, &err), &err);
	cl_table_free(t);
	CHECK(pos_ok && n == 3);
}

TEST(dv_txn_writes_vectors_in_add_and_remove)
{
	cl_error err = {0};
	char root[700];
	snprintf(root, sizeof root, "%s/t", cl_test_tmpdir());
	cl_table *t = dv_table(root, 5, 5, (const uint64_t[]){2}, 1, &err);
	CHECK_OK(t ? 0 : -1, &err);
	cl_snapshot *s = NULL;
	cl_table_txn *x = NULL;
	CHECK_OK(cl_table_snapshot(&s, t, NULL, &err), &err);
	CHECK_OK(cl_table_txn_begin(&x, t, s, "DELETE", &err), &err);
	const cl_table_file *f = cl_snapshot_file(s, 0);
	cl_table_dv bad = {'x', "abc", 1, 10, 1};
	cl_table_add ab = {"g.parquet", 1, 1, NULL, 0, NULL, true, &bad};
	int rc_bad = cl_table_txn_add(x, &ab, &err);
	cl_table_dv in = {'i', "wi5b=000010000siXQKl0rr91000f55c8Xg0@@D72lkbi5=-{L", -1, 40, 6};
	cl_table_add a = {f->path, f->size, 1, NULL, 0, "{\"numRecords\":5}", true, &in};
	int rc = cl_table_txn_remove(x, f, true, &err);
	rc = rc ? rc : cl_table_txn_add(x, &a, &err);
	int64_t v = -1;
	rc = rc ? rc : cl_table_txn_commit(x, &v, &err);
	cl_table_txn_free(x);
	cl_snapshot_free(s);
	CHECK_EQ_INT(rc_bad, CL_EINVAL);
	CHECK_OK(rc, &err);
	uint8_t *text = NULL;
	size_t n = 0;
	char key[64];
	snprintf(key, sizeof key, "_delta_log/%020lld.json", (long long)v);
	CHECK_OK(cl_store_get(cl_table_store(t), key, &text, &n, &err), &err);
	/* the remove names the old 'u' vector, the add the inline one */
	const char *rm = strstr((const char *)text, "{\"remove\":");
	const char *ad = strstr((const char *)text, "{\"add\":");
	bool ok = rm && ad && strstr(rm, "\"deletionVector\":{\"storageType\":\"u\"") &&
		  strstr(ad, "\"deletionVector\":{\"storageType\":\"i\",\"pathOrInlineDv\":"
			     "\"wi5b=000010000siXQKl0rr91000f55c8Xg0@@D72lkbi5=-{L\","
			     "\"sizeInBytes\":40,\"cardinality\":6}");
	cl_free(text);
	CHECK_OK(cl_table_snapshot(&s, t, NULL, &err), &err);
	bool live = cl_snapshot_nfiles(s) == 1 && cl_snapshot_file(s, 0)->dv &&
		    cl_snapshot_file(s, 0)->dv->storage_type == 'i';
	cl_snapshot_free(s);
	cl_table_free(t);
	CHECK(ok);
	CHECK(live);
}

#include <sys/time.h>

static void age_key(cl_store *st, const char *key, int age_s)
{
	char *path;
	bool tmp;
	cl_error err = {0};
	if (cl_store_fetch(st, key, &path, &tmp, &err))
		return;
	struct timeval tv[2];
	gettimeofday(&tv[0], NULL);
	tv[0].tv_sec -= age_s;
	tv[1] = tv[0];
	utimes(path, tv);
	cl_free(path);
}

TEST(dv_vacuum_keeps_needed_vector_files)
{
	cl_error err = {0};
	char root[700];
	snprintf(root, sizeof root, "%s/t", cl_test_tmpdir());
	cl_table *t = dv_table(root, 5, 5, (const uint64_t[]){2}, 1, &err);
	CHECK_OK(t ? 0 : -1, &err);
	cl_store *st = cl_table_store(t);
	cl_snapshot *s = NULL;
	CHECK_OK(cl_table_snapshot(&s, t, NULL, &err), &err);
	char *live_key = NULL;
	CHECK_OK(cl__dv_file_key(&live_key, st, cl_snapshot_file(s, 0)->dv, &err), &err);
	/* replace the vector: the old DV file is named only by the tombstone */
	cl__dv_file *f = NULL;
	cl_table_dv dv;
	const char *nk;
	int64_t bytes;
	uint64_t rows[2] = {2, 3};
	cl_table_txn *x = NULL;
	int rc = cl__dv_file_open(&f, &err);
	rc = rc ? rc : cl__dv_file_append(f, rows, 2, &dv, &err);
	rc = rc ? rc : cl__dv_file_publish(f, st, &nk, &bytes, &err);
	char new_key[100];
	snprintf(new_key, sizeof new_key, "%s", rc ? "" : nk);
	rc = rc ? rc : cl_table_txn_begin(&x, t, s, "DELETE", &err);
	const cl_table_file *lf = cl_snapshot_file(s, 0);
	cl_table_add a = {lf->path, lf->size, 1, NULL, 0, "{\"numRecords\":5}", true, &dv};
	rc = rc ? rc : cl_table_txn_remove(x, lf, true, &err);
	rc = rc ? rc : cl_table_txn_add(x, &a, &err);
	rc = rc ? rc : cl_table_txn_commit(x, NULL, &err);
	cl_table_txn_free(x);
	cl_snapshot_free(s);
	cl__dv_file_free(f);
	/* an orphan vector file (a writer that never committed) */
	const char *orphan = "deletion_vector_00000000-0000-4000-8000-000000000000.bin";
	cl_store_put(st, orphan, "\x01", 1, &err);
	age_key(st, orphan, 3600);
	age_key(st, live_key, 3600);
	age_key(st, new_key, 3600);
	cl_vacuum_result vr;
	/* retention one minute: the tombstone is younger, its DV file stays */
	int rc1 = rc ? rc : cl_table_vacuum(t, 60000, false, &vr, NULL, &err);
	cl_store_object o;
	bool old_kept = cl_store_head(st, live_key, &o, &err) == 0;
	bool new_kept = cl_store_head(st, new_key, &o, &err) == 0;
	bool orphan_gone = cl_store_head(st, orphan, &o, &err) == CL_ENOTFOUND;
	/* retention 0: the tombstone has expired, its DV file goes; the live
	 * file's stays */
	int rc2 = cl_table_vacuum(t, 0, false, &vr, NULL, &err);
	bool old_gone = cl_store_head(st, live_key, &o, &err) == CL_ENOTFOUND;
	bool new_kept2 = cl_store_head(st, new_key, &o, &err) == 0;
	int64_t ids[8];
	size_t n;
	bool pos_ok;
	int rc3 = dv_scan(t, NULL, ids, 8, &n, &pos_ok, &err);
	cl_free(live_key);
	cl_table_free(t);
	CHECK_OK(rc, &err);
	CHECK_OK(rc1, &err);
	CHECK_OK(rc2, &err);
	CHECK_OK(rc3, &err);
	CHECK(old_kept);
	CHECK(new_kept);
	CHECK(orphan_gone);
	CHECK(old_gone);
	CHECK(new_kept2);
	CHECK(n == 3 && pos_ok);
}

TEST(dv_replay_refuses_a_path_live_twice)
{
	cl_error err = {0};
	char root[700];
	snprintf(root, sizeof root, "%s/t", cl_test_tmpdir());
	cl_table *t = dv_table(root, 5, 5, (const uint64_t[]){1}, 1, &err);
	CHECK_OK(t ? 0 : -1, &err);
	/* an add of the same path with another vector and no remove */
	const char *text =
		"{\"add\":{\"path\":\"f.parquet\",\"partitionValues\":{},\"size\":1000,"
		"\"modificationTime\":1,\"dataChange\":true,\"deletionVector\":{\"storageType\":"
		"\"i\",\"pathOrInlineDv\":\"wi5b=000010000siXQKl0rr91000f55c8Xg0@@D72lkbi5=-{L\","
		"\"sizeInBytes\":40,\"cardinality\":6}}}\n";
	CHECK_OK(raw_commit(t, 2, text, &err), &err);
	cl_snapshot *s = NULL;
	cl_error e0 = {0};
	int rc = cl_table_snapshot(&s, t, NULL, &e0);
	cl_snapshot_free(s);
	/* version 1 still reads */
	cl_table_at at = {CL_AT_VERSION, 1, 0};
	int rc1 = cl_table_snapshot(&s, t, &at, &err);
	cl_snapshot_free(s);
	/* a malformed descriptor is a format error naming the action */
	const char *bad = "{\"add\":{\"path\":\"g.parquet\",\"partitionValues\":{},\"size\":1,"
			  "\"modificationTime\":1,\"dataChange\":true,\"deletionVector\":"
			  "{\"storageType\":\"u\",\"pathOrInlineDv\":\"x\",\"sizeInBytes\":-1,"
			  "\"cardinality\":1}}}\n";
	cl_store_delete(cl_table_store(t), "_delta_log/00000000000000000002.json", &err);
	CHECK_OK(raw_commit(t, 2, bad, &err), &err);
	cl_error e3 = {0};
	int rc3 = cl_table_snapshot(&s, t, NULL, &e3);
	cl_snapshot_free(s);
	cl_table_free(t);
	CHECK_EQ_INT(rc, CL_EFORMAT);
	CHECK(strstr(e0.message, "f.parquet is live twice"));
	CHECK_EQ_INT(rc1, 0);
	CHECK_EQ_INT(rc3, CL_EFORMAT);
	CHECK(strstr(e3.message, "g.parquet") && strstr(e3.message, "deletionVector"));
}

/* PROTOCOL.md's inline example descriptor ("Deletion Vector Descriptor
 * Schema", example 3): 40 bytes in Delta's native layout with big-endian
 * framing — magic 1681511376, 1 bitmap of 28 bytes — deleting rows 3, 4,
 * 7, 11, 18 and 29. The same rows in the little-endian native framing. */
TEST(dv_known_protocol_inline_example)
{
	cl_table_dv dv = {'i', "wi5b=000010000siXQKl0rr91000f55c8Xg0@@D72lkbi5=-{L", -1, 40, 6};
	uint64_t *rows = NULL;
	size_t n = 0;
	cl_error err = {0};
	CHECK_OK(cl__dv_load(&rows, &n, NULL, &dv, "example.parquet", &err), &err);
	const uint64_t want[6] = {3, 4, 7, 11, 18, 29};
	bool same = n == 6 && !memcmp(rows, want, sizeof want);
	cl_free(rows);
	CHECK(same);
	cl_buf raw = {0};
	CHECK_OK(cl__z85_decode(&raw, dv.path_or_inline, 50, &err), &err);
	uint8_t le[40];
	memcpy(le, raw.data, 40);
	cl_buf_release(&raw);
	for (int f = 0; f < 3; f++) { /* magic, count, length to little-endian */
		uint8_t *p = le + 4 * f, t0 = p[0], t1 = p[1];
		p[0] = p[3];
		p[1] = p[2];
		p[2] = t1;
		p[3] = t0;
	}
	CHECK_OK(cl__dv_decode(&rows, &n, le, 40, &err), &err);
	same = n == 6 && !memcmp(rows, want, sizeof want);
	cl_free(rows);
	CHECK(same);
	/* a length that overruns, and trailing bytes inside a bitmap */
	le[8] = 29;
	CHECK(refused(le, 40));
	le[8] = 27;
	CHECK(refused(le, 40));
	le[8] = 28;
	le[4] = 2; /* two bitmaps claimed */
	CHECK(refused(le, 40));
}

/* cl_table_lookup reads through the scan: rows a vector deletes are gone. */
static int collect_ids(void *ctx, const cl_schema *schema, const cl_batch *b, cl_error *err)
{
	int64_t *seen = ctx; /* seen[0] = count, then ids */
	int c = cl_schema_find(schema, "id");
	for (int64_t r = 0; c >= 0 && r < b->nrows && seen[0] < 60; r++)
		seen[1 + seen[0]++] = cl_column_get_i64(&b->cols[c], r);
	return 0;
}

TEST(dv_lookup_sees_deleted_rows_gone)
{
	cl_error err = {0};
	char root[700];
	snprintf(root, sizeof root, "%s/t", cl_test_tmpdir());
	uint64_t del[3] = {1, 2, 7};
	cl_table *t = dv_table(root, 10, 4, del, 3, &err);
	CHECK_OK(t ? 0 : -1, &err);
	cl_schema *ks = NULL;
	cl_batch *k = NULL;
	cl_snapshot *s = NULL;
	int64_t seen[64] = {0};
	int rc = cl_schema_parse(&ks, "id int64", &err);
	rc = rc ? rc : cl_batch_create(&k, ks, 4, &err);
	rc = rc ? rc : cl_column_append_i64(&k->cols[0], 2, &err);
	rc = rc ? rc : cl_column_append_i64(&k->cols[0], 3, &err);
	if (!rc)
		k->nrows = 2;
	rc = rc ? rc : cl_table_snapshot(&s, t, NULL, &err);
	const cl_batch *kb[1] = {k};
	rc = rc ? rc : cl_table_lookup(t, s, ks, kb, 1, collect_ids, seen, &err);
	cl_snapshot_free(s);
	cl_batch_free(k);
	cl_schema_free(ks);
	cl_table_free(t);
	CHECK_OK(rc, &err);
	/* the file is read whole: every row but the deleted ones */
	CHECK_EQ_INT(seen[0], 7);
	for (int64_t i = 1; i <= seen[0]; i++)
		CHECK(seen[i] != 1 && seen[i] != 2 && seen[i] != 7);
}
