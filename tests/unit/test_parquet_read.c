/*
 * test_parquet_read.c — unit tests of the Parquet reader: the Thrift compact
 * decoder, each encoding's decoder (with hostile inputs), reading corpus
 * files, statistics, row-group selection, allocation failures, and the
 * fuzzer's regression inputs (tests/data/parquet/).
 */
#include "test.h"

#include <dirent.h>
#include <stdlib.h>

#include "changelake.h"
#include "changelake/parquet.h"
#include "core/buf.h"
#include "core/value_text.h"
#include "format/parquet_codec.h"
#include "format/parquet_decode.h"
#include "format/parquet_format.h"
#include "format/parquet_meta.h"
#include "format/thrift_read.h"

/* ---- Thrift compact protocol ---- */

TEST(pqr_thrift_varint_and_zigzag)
{
	cl_error e = {0};
	cl__thrift_in t;
	const uint8_t b[] = {0x01, 0x96, 0x01, 0x03, 0xff, 0xff, 0xff, 0xff, 0x0f};
	cl__thrift_init(&t, b, sizeof b, &e);
	CHECK_EQ_INT(cl__thrift_i64(&t), -1);           /* zigzag 1 */
	CHECK_EQ_INT(cl__thrift_varint(&t), 150);       /* 0x96 0x01 */
	CHECK_EQ_INT(cl__thrift_i32(&t), -2);           /* zigzag 3 */
	CHECK_EQ_INT(cl__thrift_varint(&t), 0xffffffffu);
	CHECK_EQ_INT(t.err, 0);
	CHECK_EQ_INT(cl__thrift_varint(&t), 0); /* past the end */
	CHECK_EQ_INT(t.err, CL_EFORMAT);
	CHECK(strstr(e.message, "truncated") != NULL);
}

TEST(pqr_thrift_varint_overflow)
{
	cl_error e = {0};
	cl__thrift_in t;
	const uint8_t b[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
	cl__thrift_init(&t, b, sizeof b, &e);
	cl__thrift_varint(&t);
	CHECK_EQ_INT(t.err, CL_EFORMAT);
	const uint8_t c[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
	cl__thrift_init(&t, c, sizeof c, &e);
	cl__thrift_varint(&t);
	CHECK_EQ_INT(t.err, CL_EFORMAT);
	/* an i32 that does not fit */
	const uint8_t d[] = {0x80, 0x80, 0x80, 0x80, 0x10};
	cl__thrift_init(&t, d, sizeof d, &e);
	cl__thrift_i32(&t);
	CHECK_EQ_INT(t.err, CL_EFORMAT);
}

TEST(pqr_thrift_fields_and_skip)
{
	cl_error e = {0};
	cl__thrift_in t;
	/* struct { 1: i32 5, 3: bool true, 20: binary "ab" (long field-id form),
	 *          21: list<i32> [1,2], 22: struct { 1: byte 7 }, 23: empty map,
	 *          24: bool false } */
	uint8_t m[64];
	size_t n = 0;
	m[n++] = 0x15; m[n++] = 0x0a;                    /* fid 1, i32, 5 */
	m[n++] = 0x21;                                   /* fid 3, bool true */
	m[n++] = 0x08; m[n++] = 0x28; m[n++] = 2; m[n++] = 'a'; m[n++] = 'b'; /* fid 20 */
	m[n++] = 0x19; m[n++] = 0x25; m[n++] = 0x02; m[n++] = 0x04; /* fid 21 list<i32>[1,2] */
	m[n++] = 0x1c; m[n++] = 0x13; m[n++] = 0x07; m[n++] = 0x00; /* fid 22 struct{1: byte 7} */
	m[n++] = 0x1b; m[n++] = 0x00;                    /* fid 23 empty map */
	m[n++] = 0x12;                                   /* fid 24 bool false */
	m[n++] = 0x00;                                   /* stop */
	cl__thrift_init(&t, m, n, &e);
	int type;
	int16_t fid;
	CHECK(cl__thrift_struct_begin(&t) == 0);
	CHECK(cl__thrift_field(&t, &type, &fid));
	CHECK_EQ_INT(fid, 1);
	CHECK_EQ_INT(cl__thrift_i32(&t), 5);
	CHECK(cl__thrift_field(&t, &type, &fid));
	CHECK_EQ_INT(fid, 3);
	CHECK(cl__thrift_bool(&t, type));
	CHECK(cl__thrift_field(&t, &type, &fid));
	CHECK_EQ_INT(fid, 20);
	size_t len;
	const uint8_t *p = cl__thrift_binary(&t, &len);
	CHECK(len == 2 && memcmp(p, "ab", 2) == 0);
	int seen = 0;
	while (cl__thrift_field(&t, &type, &fid)) {
		if (fid == 24)
			CHECK(!cl__thrift_bool(&t, type));
		else
			cl__thrift_skip(&t, type);
		seen++;
	}
	cl__thrift_struct_end(&t);
	CHECK_EQ_INT(t.err, 0);
	CHECK_EQ_INT(seen, 4);
	CHECK(t.p == t.end);
}

TEST(pqr_thrift_hostile)
{
	cl_error e = {0};
	cl__thrift_in t;
	/* list claiming 2^30 elements in 3 bytes */
	const uint8_t l[] = {0xf5, 0x80, 0x80, 0x80, 0x04, 0x00};
	cl__thrift_init(&t, l, sizeof l, &e);
	int et;
	CHECK_EQ_INT(cl__thrift_list(&t, &et), -1);
	CHECK(strstr(e.message, "elements") != NULL);
	/* binary longer than the input */
	const uint8_t bn[] = {0x10, 'a'};
	size_t n;
	cl__thrift_init(&t, bn, sizeof bn, &e);
	CHECK(cl__thrift_binary(&t, &n) == NULL);
	CHECK_EQ_INT(t.err, CL_EFORMAT);
	/* structs nested 100 deep: skipping must stop at the depth limit */
	uint8_t deep[202];
	for (int i = 0; i < 100; i++)
		deep[i] = 0x1c; /* field +1, struct */
	memset(deep + 100, 0, 102);
	cl__thrift_init(&t, deep, sizeof deep, &e);
	cl__thrift_skip(&t, TC_STRUCT);
	CHECK_EQ_INT(t.err, CL_EFORMAT);
	CHECK(strstr(e.message, "deeper") != NULL);
	/* an invalid field type */
	const uint8_t bad[] = {0x1d, 0x00};
	cl__thrift_init(&t, bad, sizeof bad, &e);
	int type;
	int16_t fid;
	CHECK(!cl__thrift_field(&t, &type, &fid));
	CHECK_EQ_INT(t.err, CL_EFORMAT);
}

TEST(pqr_page_header_decode)
{
	/* PageHeader{1: type DATA_PAGE, 2: 10, 3: 8, 4: crc 7,
	 *            5: DataPageHeader{1: 3, 2: PLAIN, 3: RLE, 4: RLE}} */
	const uint8_t b[] = {0x15, 0x00, 0x15, 0x14, 0x15, 0x10, 0x15, 0x0e, 0x1c, 0x15,
			     0x06, 0x15, 0x00, 0x15, 0x06, 0x15, 0x06, 0x00, 0x00};
	cl__pq_page_header h;
	size_t used;
	cl_error e = {0};
	CHECK_OK(cl__pq_page_header_decode(&h, b, sizeof b, &used, &e), &e);
	CHECK_EQ_INT(used, sizeof b);
	CHECK_EQ_INT(h.type, PQ_PAGE_DATA);
	CHECK_EQ_INT(h.uncompressed_size, 10);
	CHECK_EQ_INT(h.compressed_size, 8);
	CHECK(h.has_crc && h.crc == 7);
	CHECK_EQ_INT(h.num_values, 3);
	/* negative compressed size */
	uint8_t neg[sizeof b];
	memcpy(neg, b, sizeof b);
	neg[5] = 0x01; /* zigzag -1 */
	CHECK_EQ_INT(cl__pq_page_header_decode(&h, neg, sizeof neg, &used, &e), CL_EFORMAT);
	/* a data page without its DataPageHeader */
	const uint8_t nohdr[] = {0x15, 0x00, 0x15, 0x14, 0x15, 0x10, 0x00};
	CHECK_EQ_INT(cl__pq_page_header_decode(&h, nohdr, sizeof nohdr, &used, &e), CL_EFORMAT);
	/* truncated */
	CHECK_EQ_INT(cl__pq_page_header_decode(&h, b, 9, &used, &e), CL_EFORMAT);
}

/* ---- bit unpacking and RLE ---- */

static uint32_t slow_bits(const uint8_t *p, int w, int64_t i)
{
	uint64_t v = 0;
	for (int k = 0; k < w; k++) {
		uint64_t bit = (uint64_t)i * (uint64_t)w + (uint64_t)k;
		v |= (uint64_t)((p[bit >> 3] >> (bit & 7)) & 1) << k;
	}
	return (uint32_t)v;
}

TEST(pqr_unpack32_all_widths)
{
	uint8_t buf[32 * 40];
	uint32_t out[300];
	srand(7);
	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] = (uint8_t)rand();
	for (int w = 0; w <= 32; w++) {
		int64_t n = (int64_t)sizeof buf * 8 / (w ? w : 1);
		if (n > 300)
			n = 300;
		size_t avail = (size_t)((n * w + 7) / 8);
		for (int64_t first = 0; first < 17; first += first < 4 ? 1 : 4) {
			cl__unpack32(buf, avail, w, first, out, n - first);
			for (int64_t i = 0; i < n - first; i++)
				if (out[i] != slow_bits(buf, w, first + i)) {
					printf("    w=%d first=%lld i=%lld\n", w, (long long)first,
					       (long long)i);
					CHECK(0);
				}
		}
	}
}

TEST(pqr_rle_runs)
{
	/* RLE run: 5 x value 3 (width 2); bit-packed: 8 values 0..7 (width 3);
	 * RLE run with a zero count (skipped) */
	const uint8_t b[] = {0x0a, 0x03, 0x03, 0x88, 0xc6, 0xfa, 0x00, 0x00};
	cl__rle r;
	cl_error e = {0};
	uint32_t out[16];
	cl__rle_init(&r, b, 2, 2);
	CHECK_OK(cl__rle_get_u32(&r, out, 5, &e), &e);
	for (int i = 0; i < 5; i++)
		CHECK_EQ_INT(out[i], 3);
	CHECK_EQ_INT(cl__rle_get_u32(&r, out, 1, &e), CL_EFORMAT); /* ran out */
	cl__rle_init(&r, b + 2, 4, 3);
	CHECK_OK(cl__rle_get_u32(&r, out, 8, &e), &e);
	for (int i = 0; i < 8; i++)
		CHECK_EQ_INT(out[i], i);
	/* zero-length RLE run then nothing: an error, not a hang */
	cl__rle_init(&r, b + 6, 2, 1);
	CHECK_EQ_INT(cl__rle_get_u32(&r, out, 1, &e), CL_EFORMAT);
}

TEST(pqr_rle_hostile)
{
	cl_error e = {0};
	cl__rle r;
	uint32_t out[4];
	uint8_t u8[4];
	/* RLE value wider than the bit width */
	const uint8_t wide[] = {0x02, 0x05};
	cl__rle_init(&r, wide, sizeof wide, 2);
	CHECK_EQ_INT(cl__rle_get_u32(&r, out, 1, &e), CL_EFORMAT);
	/* RLE value truncated (width 16 needs 2 bytes) */
	const uint8_t trunc[] = {0x02, 0x05};
	cl__rle_init(&r, trunc, sizeof trunc, 16);
	CHECK_EQ_INT(cl__rle_get_u32(&r, out, 1, &e), CL_EFORMAT);
	/* bit-packed run claiming 2^40 groups with 1 byte of data: the values
	 * that exist are returned, then an error */
	const uint8_t big[] = {0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40, 0xff};
	cl__rle_init(&r, big, sizeof big, 1);
	CHECK_EQ_INT(cl__rle_get_u32(&r, out, 4, &e), CL_EFORMAT);
	/* a truncated last bit-packed run gives the complete values */
	const uint8_t cut[] = {0x03, 0xff};
	cl__rle_init(&r, cut, sizeof cut, 1);
	CHECK_OK(cl__rle_get_u8(&r, u8, 4, &e), &e);
	CHECK(u8[0] == 1 && u8[3] == 1);
	/* bit width 0: all zeros, no data needed */
	const uint8_t zero[] = {0x03};
	cl__rle_init(&r, zero, sizeof zero, 0);
	CHECK_OK(cl__rle_get_u32(&r, out, 4, &e), &e);
	CHECK(out[0] == 0 && out[3] == 0);
}

/* ---- DELTA_BINARY_PACKED / DELTA_LENGTH_BYTE_ARRAY / DELTA_BYTE_ARRAY ---- */

TEST(pqr_delta_spec_examples)
{
	cl_error e = {0};
	cl__delta d;
	int64_t out[8];
	/* 1,2,3,4,5: min delta 1, all widths 0 */
	const uint8_t a[] = {0x80, 0x01, 0x04, 0x05, 0x02, 0x02, 0, 0, 0, 0};
	CHECK_OK(cl__delta_init(&d, a, sizeof a, &e), &e);
	CHECK_OK(cl__delta_get(&d, out, 5, &e), &e);
	for (int i = 0; i < 5; i++)
		CHECK_EQ_INT(out[i], i + 1);
	const uint8_t *end;
	CHECK_OK(cl__delta_init(&d, a, sizeof a, &e), &e);
	CHECK_OK(cl__delta_end(&d, &end, &e), &e);
	CHECK(end == a + sizeof a);
	/* 7,5,3,1,2,3,4,5: min delta -2, width 2 */
	uint8_t b[64] = {0x80, 0x01, 0x04, 0x08, 0x0e, 0x03, 2, 0, 0, 0, 0xc0, 0x3f};
	size_t bn = 6 + 4 + 8;
	CHECK_OK(cl__delta_init(&d, b, bn, &e), &e);
	CHECK_OK(cl__delta_get(&d, out, 3, &e), &e);
	CHECK_OK(cl__delta_get(&d, out + 3, 5, &e), &e);
	const int64_t want[] = {7, 5, 3, 1, 2, 3, 4, 5};
	for (int i = 0; i < 8; i++)
		CHECK_EQ_INT(out[i], want[i]);
	CHECK_EQ_INT(cl__delta_get(&d, out, 1, &e), CL_EFORMAT); /* past the total */
	CHECK_OK(cl__delta_init(&d, b, bn, &e), &e);
	CHECK_OK(cl__delta_end(&d, &end, &e), &e);
	CHECK(end == b + bn);
}

TEST(pqr_delta_hostile)
{
	cl_error e = {0};
	cl__delta d;
	int64_t out[4];
	/* block size not a multiple of 128 */
	const uint8_t bs[] = {0x40, 0x04, 0x05, 0x02};
	CHECK_EQ_INT(cl__delta_init(&d, bs, sizeof bs, &e), CL_EFORMAT);
	/* absurd value count */
	const uint8_t cnt[] = {0x80, 0x01, 0x04, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x02};
	CHECK_EQ_INT(cl__delta_init(&d, cnt, sizeof cnt, &e), CL_EFORMAT);
	/* miniblock bit width 65 */
	const uint8_t w65[] = {0x80, 0x01, 0x04, 0x05, 0x02, 0x02, 65, 0, 0, 0};
	CHECK_OK(cl__delta_init(&d, w65, sizeof w65, &e), &e);
	CHECK_EQ_INT(cl__delta_get(&d, out, 3, &e), CL_EFORMAT);
	CHECK(strstr(e.message, "over 64") != NULL);
	/* miniblock data truncated */
	const uint8_t tr[] = {0x80, 0x01, 0x04, 0x05, 0x02, 0x02, 8, 0, 0, 0, 1, 2};
	CHECK_OK(cl__delta_init(&d, tr, sizeof tr, &e), &e);
	CHECK_EQ_INT(cl__delta_get(&d, out, 4, &e), CL_EFORMAT);
	const uint8_t *end;
	CHECK_OK(cl__delta_init(&d, tr, sizeof tr, &e), &e);
	CHECK_EQ_INT(cl__delta_end(&d, &end, &e), CL_EFORMAT);
	/* 64-bit widths wrap like the writer's arithmetic */
	uint8_t w64[10 + 256] = {0x80, 0x01, 0x04, 0x02, 0x00, 0x01, 64, 0, 0, 0};
	memset(w64 + 10, 0xff, 8); /* delta = min_delta(-1) + 2^64-1 = -2 (mod 2^64) */
	CHECK_OK(cl__delta_init(&d, w64, sizeof w64, &e), &e);
	CHECK_OK(cl__delta_get(&d, out, 2, &e), &e);
	CHECK_EQ_INT(out[0], 0);
	CHECK_EQ_INT(out[1], -2);
}

TEST(pqr_dlba_and_dba)
{
	cl_error e = {0};
	/* lengths 3,0,2 then "abcde" */
	uint8_t b[64] = {0x80, 0x01, 0x04, 0x03, 0x06, 0x05, 3, 0, 0, 0, 0x28};
	size_t n = 10 + 12;
	memcpy(b + n, "abcde", 5);
	n += 5;
	cl__dlba dl;
	cl__pq_view v[3];
	CHECK_OK(cl__dlba_init(&dl, b, n, &e), &e);
	CHECK_OK(cl__dlba_get(&dl, v, 3, &e), &e);
	CHECK(v[0].n == 3 && !memcmp(v[0].p, "abc", 3));
	CHECK(v[1].n == 0);
	CHECK(v[2].n == 2 && !memcmp(v[2].p, "de", 2));
	/* a length past the data */
	CHECK_OK(cl__dlba_init(&dl, b, n - 1, &e), &e);
	CHECK_EQ_INT(cl__dlba_get(&dl, v, 3, &e), CL_EFORMAT);

	/* DELTA_BYTE_ARRAY: prefixes [0,2,1], suffixes ["ab","c","x"] ->
	 * "ab", "abc", "ax" */
	uint8_t d[128];
	size_t k = 0;
	/* prefix lengths 0,2,1: first 0, deltas +2,-1: min -1 (zz 1), rel 3,0, width 2 */
	const uint8_t pre[] = {0x80, 0x01, 0x04, 0x03, 0x00, 0x01, 2, 0, 0, 0, 0x03, 0, 0, 0, 0, 0, 0, 0};
	memcpy(d, pre, sizeof pre);
	k = sizeof pre;
	/* suffix lengths 2,1,1: first 2 (zz 4), deltas -1,0: min -1, rel 0,1, width 1 */
	const uint8_t suf[] = {0x80, 0x01, 0x04, 0x03, 0x04, 0x01, 1, 0, 0, 0, 0x02, 0, 0, 0};
	memcpy(d + k, suf, sizeof suf);
	k += sizeof suf;
	memcpy(d + k, "abcx", 4);
	k += 4;
	cl__dba db;
	memset(&db, 0, sizeof db);
	CHECK_OK(cl__dba_init(&db, d, k, &e), &e);
	CHECK_OK(cl__dba_get(&db, v, 3, &e), &e);
	CHECK(v[0].n == 2 && !memcmp(v[0].p, "ab", 2));
	CHECK(v[1].n == 3 && !memcmp(v[1].p, "abc", 3));
	CHECK(v[2].n == 2 && !memcmp(v[2].p, "ax", 2));
	/* a prefix longer than the previous value */
	d[10] = 0x0f; /* rel deltas 3,3 -> prefixes 0,2,4 */
	CHECK_OK(cl__dba_init(&db, d, k, &e), &e);
	CHECK_EQ_INT(cl__dba_get(&db, v, 3, &e), CL_EFORMAT);
	cl__dba_release(&db);
}

TEST(pqr_plain_byte_array_and_bss)
{
	cl_error e = {0};
	const uint8_t b[] = {2, 0, 0, 0, 'h', 'i', 0, 0, 0, 0, 9, 0, 0, 0, 'x'};
	const uint8_t *p = b;
	cl__pq_view v[3];
	CHECK_OK(cl__plain_ba_get(&p, b + sizeof b, v, 2, &e), &e);
	CHECK(v[0].n == 2 && v[1].n == 0);
	CHECK_EQ_INT(cl__plain_ba_get(&p, b + sizeof b, v, 1, &e), CL_EFORMAT);
	/* BYTE_STREAM_SPLIT of three 2-byte values */
	const uint8_t s[] = {1, 2, 3, 0x10, 0x20, 0x30};
	uint8_t out[6];
	cl__bss_get(s, 3, 2, 0, out, 3);
	const uint8_t want[] = {1, 0x10, 2, 0x20, 3, 0x30};
	CHECK(!memcmp(out, want, 6));
	cl__bss_get(s, 3, 2, 2, out, 1);
	CHECK(out[0] == 3 && out[1] == 0x30);
}

/* ---- reading files ---- */

static const char *corpus(const char *name)
{
	static char path[1024];
	snprintf(path, sizeof path, "%s/parquet-testing/data/%s", cl_test_data_root(), name);
	return path;
}

/* Read a whole file into text "v1|v2\n..." (NULL as \N). */
static int read_text(const char *path, const cl_read_options *o, cl_buf *out, cl_error *e)
{
	cl_reader *r;
	int rc = cl_reader_open(&r, path, o, e);
	if (rc)
		return rc;
	cl_batch *b;
	while ((rc = cl_reader_next(r, &b, e)) == 0 && b) {
		if ((rc = cl_batch_validate(b, e)))
			break;
		for (int64_t i = 0; i < b->nrows; i++) {
			for (int c = 0; c < b->ncols; c++) {
				if (c)
					cl_buf_putc(out, '|');
				if (cl_column_is_null(&b->cols[c], i))
					cl_buf_puts(out, "\\N");
				else
					cl__value_format(out, &b->cols[c], i);
			}
			cl_buf_putc(out, '\n');
		}
	}
	cl_reader_free(r);
	return rc;
}

TEST(pqr_alltypes_plain_values)
{
	cl_error e = {0};
	cl_buf t = {0};
	cl_read_options o;
	cl_read_options_init(&o);
	const char *cols[] = {"id", "bool_col", "float_col", "timestamp_col", "string_col"};
	o.columns = cols;
	o.ncolumns = 5;
	o.batch_rows = 3;
	CHECK_OK(read_text(corpus("alltypes_plain.parquet"), &o, &t, &e), &e);
	CHECK_STR((char *)t.data, "4|true|0|2009-03-01 00:00:00|\\x30\n"
				  "5|false|1.1|2009-03-01 00:01:00|\\x31\n"
				  "6|true|0|2009-04-01 00:00:00|\\x30\n"
				  "7|false|1.1|2009-04-01 00:01:00|\\x31\n"
				  "2|true|0|2009-02-01 00:00:00|\\x30\n"
				  "3|false|1.1|2009-02-01 00:01:00|\\x31\n"
				  "0|true|0|2009-01-01 00:00:00|\\x30\n"
				  "1|false|1.1|2009-01-01 00:01:00|\\x31\n");
	cl_buf_release(&t);
}

TEST(pqr_types_decimal_float16_uuid_schema)
{
	cl_error e = {0};
	cl_reader *r;
	CHECK_OK(cl_reader_open(&r, corpus("byte_array_decimal.parquet"), NULL, &e), &e);
	char tb[64];
	CHECK_STR(cl_type_format(tb, sizeof tb, cl_reader_schema(r)->fields[0].type),
		  "decimal(4,2)");
	cl_reader_free(r);
	cl_buf t = {0};
	CHECK_OK(read_text(corpus("float16_nonzeros_and_nans.parquet"), NULL, &t, &e), &e);
	CHECK_STR((char *)t.data, "\\N\n1\n-2\nnan\n0\n-1\n-0\n2\n");
	cl_buf_release(&t);
}

TEST(pqr_nested_and_projection)
{
	cl_error e = {0};
	cl_reader *r = NULL;
	/* a struct's fields read as dotted columns (test_parquet_nested.c has
	 * the rest of nested reading) */
	cl_buf t = {0};
	CHECK_OK(read_text(corpus("nulls.snappy.parquet"), NULL, &t, &e), &e);
	CHECK_STR((char *)t.data, "\\N\n\\N\n\\N\n\\N\n\\N\n\\N\n\\N\n\\N\n");
	cl_buf_release(&t);
	/* a flat column of a file that also has nested ones reads */
	cl_read_options o;
	cl_read_options_init(&o);
	const char *cols[] = {"a"};
	o.columns = cols;
	o.ncolumns = 1;
	CHECK_OK(read_text(corpus("datapage_v2.snappy.parquet"), &o, &t, &e), &e);
	CHECK_STR((char *)t.data, "abc\nabc\nabc\n\\N\nabc\n");
	cl_buf_release(&t);
	const char *list[] = {"e"};
	o.columns = list;
	t.len = 0;
	CHECK_OK(read_text(corpus("datapage_v2.snappy.parquet"), &o, &t, &e), &e);
	CHECK_STR((char *)t.data, "[1,2,3]\n\\N\n\\N\n[1,2,3]\n[1,2]\n");
	cl_buf_release(&t);
	const char *missing[] = {"nope"};
	o.columns = missing;
	CHECK_EQ_INT(cl_reader_open(&r, corpus("datapage_v2.snappy.parquet"), &o, &e),
		     CL_ENOTFOUND);
}

TEST(pqr_file_metadata_and_stats)
{
	cl_error e = {0};
	cl_parquet_file *f;
	CHECK_OK(cl_parquet_file_open(&f, corpus("alltypes_tiny_pages_plain.parquet"), &e), &e);
	CHECK_EQ_INT(cl_parquet_file_num_rows(f), 7300);
	int id = cl_parquet_file_find_column(f, "id");
	CHECK(id >= 0);
	cl_parquet_column col;
	cl_parquet_file_column(f, id, &col);
	CHECK_STR(col.physical_type, "INT32");
	CHECK(col.supported && col.type.id == CL_INT32);
	cl_parquet_chunk ch;
	CHECK_OK(cl_parquet_file_chunk(f, 0, id, &ch, &e), &e);
	CHECK(ch.has_min_max);
	CHECK_STR(ch.min, "0");
	CHECK_STR(ch.max, "7299");
	CHECK(ch.has_null_count && ch.null_count == 0);
	bool may;
	cl_parquet_predicate p = {"id", CL_PQ_GT, "7299"};
	CHECK_OK(cl_parquet_file_row_group_may_match(f, 0, &p, 1, &may, &e), &e);
	CHECK(!may);
	p.op = CL_PQ_GE;
	CHECK_OK(cl_parquet_file_row_group_may_match(f, 0, &p, 1, &may, &e), &e);
	CHECK(may);
	p.op = CL_PQ_IS_NULL;
	CHECK_OK(cl_parquet_file_row_group_may_match(f, 0, &p, 1, &may, &e), &e);
	CHECK(!may);
	p.op = CL_PQ_EQ;
	p.value = "x";
	CHECK_EQ_INT(cl_parquet_file_row_group_may_match(f, 0, &p, 1, &may, &e), CL_ETYPE);
	p.column = "nope";
	CHECK_EQ_INT(cl_parquet_file_row_group_may_match(f, 0, &p, 1, &may, &e), CL_ENOTFOUND);
	cl_parquet_file_free(f);
}

/* Write a file of 10 row groups of 100 rows (id = 0..999, s = "v<id>") with
 * the writer, then select row groups by predicate. */
TEST(pqr_row_group_selection)
{
	cl_error e = {0};
	char path[600];
	snprintf(path, sizeof path, "%s/rg.parquet", cl_test_tmpdir());
	cl_schema *s;
	CHECK_OK(cl_schema_create(&s, &e), &e);
	CHECK_OK(cl_schema_add(s, "id", cl_type_make(CL_INT64), false, &e), &e);
	CHECK_OK(cl_schema_add(s, "s", cl_type_make(CL_STRING), true, &e), &e);
	cl_write_options wo;
	cl_write_options_init(&wo);
	wo.row_group_rows = 100;
	cl_writer *w;
	CHECK_OK(cl_writer_open(&w, path, s, &wo, &e), &e);
	cl_batch *b;
	CHECK_OK(cl_batch_create(&b, s, 1000, &e), &e);
	for (int i = 0; i < 1000; i++) {
		char v[16];
		snprintf(v, sizeof v, "v%04d", i);
		cl_column_append_i64(&b->cols[0], i, &e);
		if (i % 7 == 0)
			cl_column_append_null(&b->cols[1], &e);
		else
			cl_column_append_bytes(&b->cols[1], v, strlen(v), &e);
	}
	b->nrows = 1000;
	CHECK_OK(cl_writer_write(w, b, &e), &e);
	CHECK_OK(cl_writer_close(w, &e), &e);
	cl_writer_free(w);
	cl_batch_free(b);
	cl_schema_free(s);

	cl_parquet_predicate p[2] = {{"id", CL_PQ_GE, "250"}, {"s", CL_PQ_LT, "v0400"}};
	cl_parquet_read_options po = {0};
	po.predicates = p;
	po.npredicates = 2;
	cl_reader *r;
	CHECK_OK(cl_parquet_reader_open(&r, path, NULL, &po, &e), &e);
	CHECK_EQ_INT(cl_reader_total_rows(r), 200); /* row groups 2 and 3 */
	int64_t first = -1, n = 0;
	while (cl_reader_next(r, &b, &e) == 0 && b) {
		if (first < 0)
			first = ((int64_t *)b->cols[0].values)[0];
		n += b->nrows;
	}
	CHECK_EQ_INT(first, 200);
	CHECK_EQ_INT(n, 200);
	cl_reader_free(r);
	/* explicit row groups, in the order given */
	int rgs[] = {9, 0};
	cl_parquet_read_options po2 = {rgs, 2, NULL, 0, false};
	CHECK_OK(cl_parquet_reader_open(&r, path, NULL, &po2, &e), &e);
	CHECK_OK(cl_reader_next(r, &b, &e), &e);
	CHECK_EQ_INT(((int64_t *)b->cols[0].values)[0], 900);
	CHECK_EQ_INT(b->nrows, 100);
	CHECK_EQ_INT(b->cols[1].null_count, 14);
	cl_reader_free(r);
	int badrg[] = {10};
	cl_parquet_read_options po3 = {badrg, 1, NULL, 0, false};
	CHECK_EQ_INT(cl_parquet_reader_open(&r, path, NULL, &po3, &e), CL_EINVAL);
}

/* Fail each allocation in turn while reading small files. */
TEST(pqr_alloc_failures)
{
	const char *files[] = {"alltypes_dictionary.parquet", "delta_length_byte_array.parquet",
			       "datapage_v2_empty_datapage.snappy.parquet"};
	for (int fi = 0; fi < 3; fi++) {
		cl_buf ref = {0};
		cl_error e = {0};
		cl_read_options o;
		cl_read_options_init(&o);
		o.batch_rows = 7;
		CHECK_OK(read_text(corpus(files[fi]), &o, &ref, &e), &e);
		int ok = 0;
		for (long n = 0; n < 5000 && !ok; n++) {
			cl_buf t = {0};
			cl_alloc_fail_after(n);
			int rc = read_text(corpus(files[fi]), &o, &t, &e);
			cl_alloc_fail_after(-1);
			if (rc == 0) {
				/* the buffer itself may have missed bytes while failing */
				cl_buf_release(&t);
				cl_buf t2 = {0};
				CHECK_OK(read_text(corpus(files[fi]), &o, &t2, &e), &e);
				CHECK_STR((char *)t2.data, (char *)ref.data);
				cl_buf_release(&t2);
				ok = 1;
			} else {
				if (rc != CL_ENOMEM)
					printf("    %s n=%ld: %s\n", files[fi], n, e.message);
				CHECK_EQ_INT(rc, CL_ENOMEM);
			}
			cl_buf_release(&t);
		}
		CHECK(ok);
		cl_buf_release(&ref);
	}
}

/* Corrupt files: a clear error naming the file, never a crash. */
TEST(pqr_truncated_and_corrupted)
{
	cl_error e = {0};
	FILE *in = fopen(corpus("alltypes_plain.snappy.parquet"), "rb");
	CHECK(in != NULL);
	uint8_t buf[4096];
	size_t n = fread(buf, 1, sizeof buf, in);
	fclose(in);
	char path[600];
	snprintf(path, sizeof path, "%s/x.parquet", cl_test_tmpdir());
	/* every truncation and many single-byte corruptions */
	for (size_t cut = 0; cut < n; cut += (cut < 64 || cut > n - 64) ? 1 : 37) {
		for (int mode = 0; mode < 2; mode++) {
			uint8_t tmp[4096];
			memcpy(tmp, buf, n);
			size_t len = n;
			if (mode == 0)
				len = cut;
			else
				tmp[cut] ^= 0x5a;
			FILE *out = fopen(path, "wb");
			fwrite(tmp, 1, len, out);
			fclose(out);
			cl_buf t = {0};
			int rc = read_text(path, NULL, &t, &e);
			cl_buf_release(&t);
			if (rc) {
				CHECK(rc != CL_EINTERNAL);
				CHECK(strstr(e.message, "x.parquet") != NULL);
			}
		}
	}
}

/* Inputs the fuzzer found (tests/data/parquet/): each is an error, not a crash. */
/*
 * Crash regressions and the fuzz seed corpus: every file reads to values or
 * to a clean error (never CL_EINTERNAL, never a sanitizer report). Crashing
 * fuzz inputs go to tests/data/parquet/; the seed corpus makes sure this
 * test reads something even while there are none.
 */
TEST(pqr_fuzz_regressions)
{
	static const char *dirs[] = {"tests/data/parquet", "fuzz/corpus/parquet"};
	int n = 0;
	for (size_t k = 0; k < sizeof dirs / sizeof dirs[0]; k++) {
		DIR *d = opendir(dirs[k]);
		if (!d)
			continue;
		struct dirent *de;
		while ((de = readdir(d))) {
			if (de->d_name[0] == '.')
				continue;
			char path[600];
			snprintf(path, sizeof path, "%s/%s", dirs[k], de->d_name);
			cl_error e = {0};
			cl_buf t = {0};
			cl_read_options o;
			cl_read_options_init(&o);
			o.format = CL_FORMAT_PARQUET;
			int rc = read_text(path, &o, &t, &e);
			cl_buf_release(&t);
			if (rc == CL_EINTERNAL)
				closedir(d);
			CHECK(rc != CL_EINTERNAL);
			n++;
		}
		closedir(d);
	}
	CHECK(n > 0); /* run from the project root, with the corpus in place */
}

/* ---- threads ---- */

/* A file of `rows` rows in row groups of rg_rows: id int64, s string with
 * NULLs, d float64. */
static int write_groups(const char *path, int64_t rows, int64_t rg_rows, cl_error *e)
{
	cl_schema *s;
	int rc = cl_schema_create(&s, e);
	if (rc)
		return rc;
	cl_schema_add(s, "id", cl_type_make(CL_INT64), false, e);
	cl_schema_add(s, "s", cl_type_make(CL_STRING), true, e);
	cl_schema_add(s, "d", cl_type_make(CL_FLOAT64), true, e);
	cl_write_options wo;
	cl_write_options_init(&wo);
	wo.row_group_rows = rg_rows;
	wo.page_bytes = 4096;
	cl_writer *w = NULL;
	cl_batch *b = NULL;
	rc = cl_writer_open(&w, path, s, &wo, e);
	if (!rc)
		rc = cl_batch_create(&b, s, 0, e);
	for (int64_t i = 0; !rc && i < rows; i++) {
		char txt[32];
		int n = snprintf(txt, sizeof txt, "v%lld", (long long)(i * 7919 % 1000));
		rc = cl_column_append_i64(&b->cols[0], i, e);
		if (!rc)
			rc = i % 5 == 0 ? cl_column_append_null(&b->cols[1], e)
					: cl_column_append_bytes(&b->cols[1], txt, (size_t)n, e);
		if (!rc)
			rc = i % 11 == 0 ? cl_column_append_null(&b->cols[2], e)
					 : cl_column_append_f64(&b->cols[2], (double)i / 4, e);
		if (++b->nrows == 1000 || i + 1 == rows) {
			if (!rc)
				rc = cl_writer_write(w, b, e);
			cl_batch_clear(b);
			b->nrows = 0;
		}
	}
	if (!rc)
		rc = cl_writer_close(w, e);
	cl_writer_free(w);
	cl_batch_free(b);
	cl_schema_free(s);
	return rc;
}

/* A bad value deep in a later row group is named by its row in the file
 * (row groups before it counted), not by its row in the group or page. */
TEST(pqr_error_names_file_row)
{
	cl_error e = {0};
	char path[600];
	snprintf(path, sizeof path, "%s/utf8_row.parquet", cl_test_tmpdir());
	cl_schema *s;
	CHECK_OK(cl_schema_create(&s, &e), &e);
	CHECK_OK(cl_schema_add(s, "id", cl_type_make(CL_INT64), false, &e), &e);
	CHECK_OK(cl_schema_add(s, "name", cl_type_make(CL_STRING), true, &e), &e);
	cl_write_options wo;
	cl_write_options_init(&wo);
	wo.row_group_rows = 3000;
	wo.page_bytes = 4096;
	wo.compression = CL_CODEC_UNCOMPRESSED;
	wo.dictionary = false; /* PLAIN: the value is checked in its row */
	cl_writer *w = NULL;
	cl_batch *b = NULL;
	CHECK_OK(cl_writer_open(&w, path, s, &wo, &e), &e);
	CHECK_OK(cl_batch_create(&b, s, 0, &e), &e);
	for (int64_t i = 0; i < 8000; i++) {
		char txt[32];
		int n = i == 7321 ? snprintf(txt, sizeof txt, "MARK%04d", 7321)
				  : snprintf(txt, sizeof txt, "n%07lld", (long long)i);
		CHECK_OK(cl_column_append_i64(&b->cols[0], i, &e), &e);
		CHECK_OK(cl_column_append_bytes(&b->cols[1], txt, (size_t)n, &e), &e);
		b->nrows++;
	}
	CHECK_OK(cl_writer_write(w, b, &e), &e);
	CHECK_OK(cl_writer_close(w, &e), &e);
	cl_writer_free(w);
	cl_batch_free(b);
	cl_schema_free(s);
	/* break the value itself (a length-prefixed PLAIN or dictionary value;
	 * page statistics carry the same bytes without the length) */
	FILE *f = fopen(path, "r+b");
	CHECK(f);
	static uint8_t buf[1 << 20];
	size_t len = fread(buf, 1, sizeof buf, f);
	size_t hits = 0;
	for (size_t i = 4; i + 8 <= len; i++)
		if (!memcmp(buf + i, "MARK7321", 8) && !memcmp(buf + i - 4, "\x08\0\0\0", 4)) {
			buf[i + 2] = 0xff;
			buf[i + 3] = 0xfe;
			hits++;
		}
	CHECK_EQ_INT(hits, 1);
	CHECK(fseek(f, 0, SEEK_SET) == 0 && fwrite(buf, 1, len, f) == len);
	fclose(f);
	for (int t = 1; t <= 2; t++) {
		cl_read_options o;
		cl_read_options_init(&o);
		o.threads = t;
		cl_buf got = {0};
		cl_error_clear(&e);
		CHECK(read_text(path, &o, &got, &e) != 0);
		CHECK(strstr(e.message, "row group 2, column 'name'"));
		CHECK(strstr(e.message, "row 7321: string is not valid UTF-8"));
		cl_buf_release(&got);
	}
}

/* Any thread count reads the same rows in the same order, in batches of
 * any size, with and without row-group selection. */
TEST(pqr_threads_same_rows)
{
	cl_error e = {0};
	char path[600];
	snprintf(path, sizeof path, "%s/groups.parquet", cl_test_tmpdir());
	CHECK_OK(write_groups(path, 20000, 1500, &e), &e);
	cl_buf ref = {0};
	cl_read_options o;
	cl_read_options_init(&o);
	o.threads = 1;
	CHECK_OK(read_text(path, &o, &ref, &e), &e);
	CHECK(ref.len > 100000);
	const int64_t sizes[] = {65536, 1000, 333, 7};
	for (int t = 2; t <= 5; t++) {
		for (int si = 0; si < 4; si++) {
			cl_read_options_init(&o);
			o.threads = t;
			o.batch_rows = sizes[si];
			cl_buf got = {0};
			CHECK_OK(read_text(path, &o, &got, &e), &e);
			CHECK_EQ_INT(got.len, ref.len);
			CHECK(!memcmp(got.data, ref.data, ref.len));
			cl_buf_release(&got);
		}
	}
	/* selected row groups, out of file order, on threads */
	int sel[] = {9, 2, 3, 12};
	cl_parquet_read_options po = {sel, 4, NULL, 0, false};
	cl_read_options_init(&o);
	o.threads = 1;
	cl_reader *r;
	int64_t first[2][4];
	for (int pass = 0; pass < 2; pass++) {
		o.threads = pass ? 3 : 1;
		CHECK_OK(cl_parquet_reader_open(&r, path, &o, &po, &e), &e);
		cl_batch *b;
		int nb = 0;
		int rc;
		while ((rc = cl_reader_next(r, &b, &e)) == 0 && b && nb < 4)
			first[pass][nb++] = cl_column_get_i64(&b->cols[0], 0);
		CHECK_EQ_INT(rc, 0);
		CHECK_EQ_INT(nb, 4);
		cl_reader_free(r);
	}
	CHECK_EQ_INT(first[0][0], 9 * 1500);
	CHECK_EQ_INT(first[1][0], 9 * 1500);
	CHECK_EQ_INT(first[1][1], 2 * 1500);
	CHECK_EQ_INT(first[1][3], 12 * 1500);
	cl_buf_release(&ref);
}

/* A corrupt row group: the first error in file order, as with one thread,
 * after the same rows; a reader freed early stops its threads. */
TEST(pqr_threads_errors_and_early_free)
{
	cl_error e = {0};
	char path[600];
	snprintf(path, sizeof path, "%s/groups_bad.parquet", cl_test_tmpdir());
	CHECK_OK(write_groups(path, 12000, 1000, &e), &e);
	/* corrupt the data of row group 7's first column chunk */
	cl_parquet_file *f;
	CHECK_OK(cl_parquet_file_open(&f, path, &e), &e);
	cl_parquet_chunk ch;
	CHECK_OK(cl_parquet_file_chunk(f, 7, 0, &ch, &e), &e);
	int64_t off = ch.data_page_offset + ch.compressed_size / 2;
	cl_parquet_file_free(f);
	FILE *fp = fopen(path, "r+b");
	CHECK(fp != NULL);
	fseek(fp, off, SEEK_SET);
	for (int i = 0; i < 64; i++)
		fputc(0xff, fp);
	fclose(fp);
	char msg[2][CL_ERROR_MSG_MAX];
	int64_t rows[2];
	for (int pass = 0; pass < 2; pass++) {
		cl_read_options o;
		cl_read_options_init(&o);
		o.threads = pass ? 4 : 1;
		o.batch_rows = 300;
		cl_reader *r;
		CHECK_OK(cl_reader_open(&r, path, &o, &e), &e);
		cl_batch *b;
		int rc;
		while ((rc = cl_reader_next(r, &b, &e)) == 0 && b)
			;
		CHECK(rc != 0);
		snprintf(msg[pass], sizeof msg[pass], "%s", e.message);
		rows[pass] = cl_reader_rows(r);
		/* the error stays */
		CHECK_EQ_INT(cl_reader_next(r, &b, &e), rc);
		cl_reader_free(r);
	}
	CHECK_STR(msg[1], msg[0]);
	CHECK(strstr(msg[0], "row group 7") != NULL);
	CHECK_EQ_INT(rows[1], rows[0]);
	CHECK(rows[0] >= 7000);
	/* free after one batch, and before any */
	for (int k = 0; k < 2; k++) {
		cl_read_options o;
		cl_read_options_init(&o);
		o.threads = 3;
		o.batch_rows = 100;
		cl_reader *r;
		CHECK_OK(cl_reader_open(&r, path, &o, &e), &e);
		cl_batch *b;
		if (k)
			CHECK_OK(cl_reader_next(r, &b, &e), &e);
		cl_reader_free(r);
	}
}

TEST(pqr_threads_alloc_failures)
{
	cl_error e = {0};
	char path[600];
	snprintf(path, sizeof path, "%s/groups_small.parquet", cl_test_tmpdir());
	CHECK_OK(write_groups(path, 3000, 500, &e), &e);
	cl_read_options o;
	cl_read_options_init(&o);
	o.threads = 3;
	o.batch_rows = 256;
	cl_buf ref = {0};
	CHECK_OK(read_text(path, &o, &ref, &e), &e);
	int ok = 0;
	for (long n = 0; n < 20000 && !ok; n++) {
		cl_buf t = {0};
		cl_alloc_fail_after(n);
		int rc = read_text(path, &o, &t, &e);
		cl_alloc_fail_after(-1);
		if (rc == 0)
			ok = 1;
		else
			CHECK_EQ_INT(rc, CL_ENOMEM);
		cl_buf_release(&t);
	}
	CHECK(ok);
	cl_buf_release(&ref);
}

/* ---- page index ---- */

/* Read column 0 (int) and the rest as text rows; *total = reader's total. */
static int read_pages(const char *path, const cl_parquet_predicate *preds, int np,
		      bool page_index, int threads, int64_t batch, cl_buf *out, int64_t *total,
		      cl_error *e)
{
	cl_read_options o;
	cl_read_options_init(&o);
	const char *cols[] = {"id", "int_col", "string_col", "timestamp_col"};
	o.columns = cols;
	o.ncolumns = 4;
	o.threads = threads;
	o.batch_rows = batch;
	cl_parquet_read_options po = {NULL, 0, preds, np, page_index};
	cl_reader *r;
	int rc = cl_parquet_reader_open(&r, path, &o, &po, e);
	if (rc)
		return rc;
	*total = cl_reader_total_rows(r);
	cl_batch *b;
	while ((rc = cl_reader_next(r, &b, e)) == 0 && b) {
		for (int64_t i = 0; i < b->nrows; i++) {
			for (int c = 0; c < b->ncols; c++) {
				if (c)
					cl_buf_putc(out, '|');
				if (cl_column_is_null(&b->cols[c], i))
					cl_buf_puts(out, "\\N");
				else
					cl__value_format(out, &b->cols[c], i);
			}
			cl_buf_putc(out, '\n');
		}
	}
	cl_buf_putc(out, '\0');
	cl_reader_free(r);
	return rc;
}

/* The page index skips pages: the rows read are a subsequence of the file
 * holding every matching row, fewer than the row groups have; the same
 * with threads and any batch size. */
TEST(pqr_page_index_skips_pages)
{
	cl_error e = {0};
	const char *path = corpus("alltypes_tiny_pages.parquet");
	cl_buf all = {0};
	int64_t total_all;
	CHECK_OK(read_pages(path, NULL, 0, false, 1, 65536, &all, &total_all, &e), &e);
	CHECK_EQ_INT(total_all, 7300);
	cl_parquet_predicate preds[] = {{"id", CL_PQ_GE, "1000"}, {"id", CL_PQ_LT, "1100"}};
	cl_buf ref = {0};
	int64_t total_ref = -1;
	for (int t = 1; t <= 3; t += 2) {
		for (int64_t batch = 7; batch <= 65536; batch *= 97) {
			cl_buf got = {0};
			int64_t total;
			CHECK_OK(read_pages(path, preds, 2, true, t, batch, &got, &total, &e), &e);
			if (!ref.data) {
				ref = got;
				total_ref = total;
				continue;
			}
			CHECK_STR((char *)got.data, (char *)ref.data);
			CHECK_EQ_INT(total, total_ref);
			cl_buf_release(&got);
		}
	}
	/* a subsequence of all rows, with every matching row, and fewer */
	int64_t nref = 0, matches = 0, want = 0;
	const char *a = (const char *)all.data, *g = (const char *)ref.data;
	while (*g) {
		const char *ge = strchr(g, '\n');
		CHECK(ge != NULL);
		size_t len = (size_t)(ge - g + 1);
		/* find this row in `all` from where we are */
		while (*a && strncmp(a, g, len))
			a = strchr(a, '\n') + 1;
		CHECK(*a);
		long id = atol(g);
		matches += id >= 1000 && id < 1100;
		a += len;
		g += len;
		nref++;
	}
	for (const char *p = (const char *)all.data; *p; p = strchr(p, '\n') + 1) {
		long id = atol(p);
		want += id >= 1000 && id < 1100;
	}
	CHECK_EQ_INT(matches, want);
	CHECK_EQ_INT(want, 100);
	CHECK_EQ_INT(nref, total_ref);
	CHECK(nref < 1000);
	/* no page can hold a NULL id */
	cl_parquet_predicate isnull[] = {{"id", CL_PQ_IS_NULL, NULL}};
	cl_buf none = {0};
	int64_t tn;
	CHECK_OK(read_pages(path, isnull, 1, true, 1, 100, &none, &tn, &e), &e);
	CHECK_EQ_INT(tn, 0);
	CHECK_STR((char *)none.data, "");
	/* without page_index the same predicates read whole row groups */
	cl_buf whole = {0};
	int64_t tw;
	CHECK_OK(read_pages(path, preds, 2, false, 1, 65536, &whole, &tw, &e), &e);
	CHECK(tw > total_ref);
	cl_buf_release(&whole);
	cl_buf_release(&none);
	cl_buf_release(&ref);
	cl_buf_release(&all);
}

/* ---- snappy pages (libsnappy through codec_decompress.c): round trips, hostile streams ---- */

/* Data of several kinds: random, runs, repeated text, 8-byte numbers with
 * zero high bytes (as DuckDB's BIGINT pages), short periodic patterns. */
static void snappy_fill(uint8_t *p, size_t n, int kind, uint64_t seed)
{
	uint64_t x = seed * 6364136223846793005ull + 1442695040888963407ull;
	const char *text = "Lorem ipsum dolor sit amet, consectetur adipiscing elit ";
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		switch (kind) {
		case 0: p[i] = (uint8_t)x; break;
		case 1: p[i] = (uint8_t)((i / 300) % 3); break;
		case 2: p[i] = (uint8_t)text[(i + (x % 7 == 0 ? x % 11 : 0)) % 56]; break;
		case 3: p[i] = i % 8 < 5 ? (uint8_t)x : 0; break;
		default: p[i] = (uint8_t)("abcdefghijk"[i % (1 + seed % 11)]); break;
		}
	}
}

TEST(pqr_snappy_round_trips)
{
	cl_error e = {0};
	const size_t sizes[] = {0, 1, 5, 17, 63, 64, 65, 79, 80, 81, 200, 4096, 65536,
				65537, 300000};
	for (int kind = 0; kind < 5; kind++) {
		for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
			size_t n = sizes[si];
			uint8_t *src = malloc(n + 1), *back = malloc(n + 1);
			cl_buf z = {0};
			snappy_fill(src, n, kind, si + 1);
			CHECK_EQ_INT(cl__codec_compress(CL_CODEC_SNAPPY, 0, src, n, &z, &e), 0);
			/* the output buffer is exactly n bytes: ASan sees any overrun */
			CHECK_EQ_INT(cl__codec_decompress(CL_CODEC_SNAPPY, z.data, z.len, back, n,
							  &e), 0);
			CHECK(n == 0 || memcmp(src, back, n) == 0);
			/* a wrong expected size is refused */
			CHECK_EQ_INT(cl__codec_decompress(CL_CODEC_SNAPPY, z.data, z.len, back,
							  n ? n - 1 : 0, &e) != 0 || n == 0, 1);
			/* every truncation is an error, never a crash */
			for (size_t cut = 0; cut < z.len; cut += 1 + z.len / 97)
				CHECK(cl__codec_decompress(CL_CODEC_SNAPPY, z.data, cut, back, n,
							   &e) != 0);
			cl_buf_release(&z);
			free(src);
			free(back);
		}
	}
}

TEST(pqr_snappy_hand_built_streams)
{
	cl_error e = {0};
	uint8_t out[256];
	/* "ab" then a copy of 10 at offset 2 (overlapping), then a literal */
	const uint8_t s1[] = {13, 0x04, 'a', 'b', (uint8_t)(1 | (6 << 2)), 2, 0x00, 'z'};
	CHECK_EQ_INT(cl__codec_decompress(CL_CODEC_SNAPPY, s1, sizeof s1, out, 13, &e), 0);
	CHECK(memcmp(out, "ababababababz", 13) == 0);
	/* a long literal (60 + 1-byte length form) then a 4-byte-offset copy */
	uint8_t s2[200];
	size_t k = 0;
	s2[k++] = 140; /* varint 140 */
	s2[k++] = 0x01;
	s2[k++] = 60 << 2; /* literal, length in the next byte */
	s2[k++] = 99;      /* 100 bytes */
	for (int i = 0; i < 100; i++)
		s2[k++] = (uint8_t)(i * 7);
	s2[k++] = (uint8_t)(3 | (39 << 2)); /* copy 40 at offset 100, 4-byte form */
	s2[k++] = 100;
	s2[k++] = 0;
	s2[k++] = 0;
	s2[k++] = 0;
	CHECK_EQ_INT(cl__codec_decompress(CL_CODEC_SNAPPY, s2, k, out, 140, &e), 0);
	for (int i = 0; i < 140; i++)
		CHECK_EQ_INT(out[i], (uint8_t)((i % 100) * 7));
	/* hostile: offset 0, offset past the start, copy past the end,
	 * literal past the input, varint too long, size mismatch */
	const uint8_t h1[] = {4, 0x00, 'a', (uint8_t)(1 | (0 << 2)), 0};
	CHECK(cl__codec_decompress(CL_CODEC_SNAPPY, h1, sizeof h1, out, 4, &e) != 0);
	const uint8_t h2[] = {5, 0x00, 'a', (uint8_t)(1 | (0 << 2)), 2};
	CHECK(cl__codec_decompress(CL_CODEC_SNAPPY, h2, sizeof h2, out, 5, &e) != 0);
	const uint8_t h3[] = {3, 0x00, 'a', (uint8_t)(1 | (7 << 2)), 1};
	CHECK(cl__codec_decompress(CL_CODEC_SNAPPY, h3, sizeof h3, out, 3, &e) != 0);
	const uint8_t h4[] = {9, 8 << 2, 'a', 'b'};
	CHECK(cl__codec_decompress(CL_CODEC_SNAPPY, h4, sizeof h4, out, 9, &e) != 0);
	const uint8_t h5[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
	CHECK(cl__codec_decompress(CL_CODEC_SNAPPY, h5, sizeof h5, out, 0, &e) != 0);
	const uint8_t h6[] = {2, 0x04, 'a', 'b'};
	CHECK(cl__codec_decompress(CL_CODEC_SNAPPY, h6, sizeof h6, out, 3, &e) != 0);
	CHECK(strstr(e.message, "snappy") != NULL);
	/* elements past the declared size */
	const uint8_t h7[] = {1, 0x00, 'a', 0x00, 'b'};
	CHECK(cl__codec_decompress(CL_CODEC_SNAPPY, h7, sizeof h7, out, 1, &e) != 0);
	/* random garbage after a valid header, in a large buffer (the fast loop) */
	uint8_t *big = malloc(4096), *dst = malloc(3000);
	for (int t = 0; t < 200; t++) {
		snappy_fill(big, 4096, 0, (uint64_t)t + 100);
		big[0] = 0xb8; /* varint 3000 */
		big[1] = 0x17;
		(void)cl__codec_decompress(CL_CODEC_SNAPPY, big, 4096, dst, 3000, &e);
	}
	free(big);
	free(dst);
}

/* ---- value paths of the page reader ---- */

/* Every row of b as read_text prints it. */
static void batch_text(const cl_batch *b, cl_buf *out)
{
	for (int64_t i = 0; i < b->nrows; i++) {
		for (int c = 0; c < b->ncols; c++) {
			if (c)
				cl_buf_putc(out, '|');
			if (cl_column_is_null(&b->cols[c], i))
				cl_buf_puts(out, "\\N");
			else
				cl__value_format(out, &b->cols[c], i);
		}
		cl_buf_putc(out, '\n');
	}
}

/*
 * Strings whose lengths change along a page (long ones first, so a batch's
 * share of the page's bytes is passed and the data buffer grows; then
 * empty and short ones), PLAIN and dictionary-encoded, with NULLs; INT64
 * and INT32 decimals, booleans and doubles with and without NULLs; one
 * page per chunk, read back in batches of sizes that cut pages and bytes
 * anywhere: every value as written.
 */
TEST(pqr_values_paths_batch_sizes)
{
	cl_error e = {0};
	cl_schema *s;
	CHECK_OK(cl_schema_create(&s, &e), &e);
	CHECK_OK(cl_schema_add(s, "plain", cl_type_make(CL_STRING), true, &e), &e);
	CHECK_OK(cl_schema_add(s, "dict", cl_type_make(CL_STRING), true, &e), &e);
	CHECK_OK(cl_schema_add(s, "dec", cl_type_decimal(12, 2), true, &e), &e);
	CHECK_OK(cl_schema_add(s, "dec4", cl_type_decimal(8, 3), false, &e), &e);
	CHECK_OK(cl_schema_add(s, "b", cl_type_make(CL_BOOL), true, &e), &e);
	CHECK_OK(cl_schema_add(s, "b2", cl_type_make(CL_BOOL), false, &e), &e);
	CHECK_OK(cl_schema_add(s, "d", cl_type_make(CL_FLOAT64), true, &e), &e);
	cl_batch *b = NULL;
	CHECK_OK(cl_batch_create(&b, s, 0, &e), &e);
	const int64_t rows = 5000;
	char txt[300];
	for (int64_t i = 0; i < rows; i++) {
		/* plain: 33..231 bytes for the first 1500 rows, then 0..5 */
		size_t n = i < 1500 ? 33 + (size_t)(i * 37 % 199) : (size_t)(i % 6);
		for (size_t j = 0; j < n; j++)
			txt[j] = (char)('a' + (i + (int64_t)j) % 26);
		if (n > 2)
			txt[n / 2] = (char)0xc3, txt[n / 2 + 1] = (char)0xa9; /* é */
		CHECK_OK(i % 7 == 3 ? cl_column_append_null(&b->cols[0], &e)
				    : cl_column_append_bytes(&b->cols[0], txt, n, &e),
			 &e);
		/* dict: a few long values first, then many short ones */
		int m = i < 1200 ? snprintf(txt, sizeof txt, "%0250lld", (long long)(i % 3))
				 : snprintf(txt, sizeof txt, "k%lld", (long long)(i % 97));
		CHECK_OK(i % 13 == 5 ? cl_column_append_null(&b->cols[1], &e)
				     : cl_column_append_bytes(&b->cols[1], txt, (size_t)m, &e),
			 &e);
		cl_i128 d = (cl_i128)(i * 7919 % 100003 - 50000) * 1000003;
		CHECK_OK(i % 9 == 1 ? cl_column_append_null(&b->cols[2], &e)
				    : cl_column_append_fixed(&b->cols[2], &d, &e),
			 &e);
		d = (cl_i128)(i * 31 % 20001 - 10000) * 997;
		CHECK_OK(cl_column_append_fixed(&b->cols[3], &d, &e), &e);
		CHECK_OK(i % 5 == 2 ? cl_column_append_null(&b->cols[4], &e)
				    : cl_column_append_bool(&b->cols[4], (i * 13) % 7 < 3, &e),
			 &e);
		CHECK_OK(cl_column_append_bool(&b->cols[5], (i * 11) % 5 < 2, &e), &e);
		CHECK_OK(i % 17 == 0 ? cl_column_append_null(&b->cols[6], &e)
				     : cl_column_append_f64(&b->cols[6], (double)i / 8 - 100, &e),
			 &e);
		b->nrows++;
	}
	cl_buf want = {0};
	batch_text(b, &want);
	for (int dict = 0; dict < 2; dict++) {
		char path[600];
		snprintf(path, sizeof path, "%s/values_paths_%d.parquet", cl_test_tmpdir(), dict);
		cl_write_options wo;
		cl_write_options_init(&wo);
		wo.page_bytes = 1 << 24; /* one page per chunk */
		wo.dictionary = dict;
		wo.compression = dict ? CL_CODEC_SNAPPY : CL_CODEC_UNCOMPRESSED;
		cl_writer *w = NULL;
		CHECK_OK(cl_writer_open(&w, path, s, &wo, &e), &e);
		CHECK_OK(cl_writer_write(w, b, &e), &e);
		CHECK_OK(cl_writer_close(w, &e), &e);
		cl_writer_free(w);
		static const int64_t sizes[] = {1, 7, 100, 333, 4096, 65536};
		for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
			cl_read_options o;
			cl_read_options_init(&o);
			o.threads = 1;
			o.batch_rows = sizes[k];
			cl_buf got = {0};
			CHECK_OK(read_text(path, &o, &got, &e), &e);
			CHECK_EQ_INT(got.len, want.len);
			CHECK(got.len == want.len && !memcmp(got.data, want.data, want.len));
			cl_buf_release(&got);
		}
	}
	cl_buf_release(&want);
	cl_batch_free(b);
	cl_schema_free(s);
}
