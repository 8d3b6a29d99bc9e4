/*
 * test_parquet_write.c — the Parquet writer: thrift compact encoder,
 * RLE/bit-packed hybrid, dictionary, statistics, page layout, fallback,
 * limits, errors and allocation-failure injection.
 *
 * Files are checked with a small compact-protocol walker written here
 * (independent of the writer's encoder and of the reader): it finds fields
 * by id in the footer and page headers, and decodes levels and values of
 * uncompressed pages.
 */
#include "test.h"

#include <dirent.h>
#include <math.h>
#include <stdlib.h>

#include "changelake.h"
#include "changelake/parquet_writer.h"
#include "core/buf.h"
#include "core/value_text.h"
#include "format/parquet_encode.h"
#include "format/parquet_format.h"
#include "format/parquet_write_impl.h"
#include "format/thrift_write.h"

/* ---------- a tiny thrift compact reader for checking files ---------- */

typedef struct tr {
	const uint8_t *p, *end;
	bool bad;
	int16_t last;
} tr;

static uint64_t tr_varint(tr *t)
{
	uint64_t v = 0;
	for (int s = 0; s < 64; s += 7) {
		if (t->p >= t->end) {
			t->bad = true;
			return 0;
		}
		uint8_t b = *t->p++;
		v |= (uint64_t)(b & 0x7f) << s;
		if (!(b & 0x80))
			return v;
	}
	t->bad = true;
	return 0;
}

static int64_t tr_zz(tr *t)
{
	uint64_t v = tr_varint(t);
	return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

static void tr_skip(tr *t, int type);

static void tr_list_header(tr *t, int *etype, int64_t *n)
{
	if (t->p >= t->end) {
		t->bad = true;
		return;
	}
	uint8_t h = *t->p++;
	*etype = h & 15;
	*n = h >> 4;
	if (*n == 15)
		*n = (int64_t)tr_varint(t);
}

static void tr_skip_struct(tr *t)
{
	int16_t last = 0;
	while (!t->bad && t->p < t->end) {
		uint8_t h = *t->p++;
		if (h == 0)
			return;
		int type = h & 15;
		if (h >> 4)
			last = (int16_t)(last + (h >> 4));
		else
			last = (int16_t)tr_zz(t);
		if (type != TC_TRUE && type != TC_FALSE)
			tr_skip(t, type);
	}
	t->bad = true;
}

static void tr_skip(tr *t, int type)
{
	switch (type) {
	case TC_TRUE: case TC_FALSE: case TC_BYTE: t->p++; break;
	case TC_I16: case TC_I32: case TC_I64: tr_varint(t); break;
	case TC_DOUBLE: t->p += 8; break;
	case TC_BINARY: { uint64_t n = tr_varint(t); t->p += n; break; }
	case TC_LIST: case TC_SET: {
		int et;
		int64_t n;
		tr_list_header(t, &et, &n);
		for (int64_t i = 0; i < n && !t->bad; i++)
			tr_skip(t, et == TC_TRUE || et == TC_FALSE ? TC_BYTE : et);
		break;
	}
	case TC_STRUCT: tr_skip_struct(t); break;
	default: t->bad = true;
	}
	if (t->p > t->end)
		t->bad = true;
}

/*
 * Move t (at the start of a struct's fields) to the value of field `id`;
 * returns its type (TC_TRUE/TC_FALSE for bools), or 0 when absent.
 */
static int tr_field(tr t0, int16_t id, tr *out)
{
	tr t = t0;
	int16_t last = 0;
	while (!t.bad && t.p < t.end) {
		uint8_t h = *t.p++;
		if (h == 0)
			return 0;
		int type = h & 15;
		if (h >> 4)
			last = (int16_t)(last + (h >> 4));
		else
			last = (int16_t)tr_zz(&t);
		if (last == id) {
			*out = t;
			return type;
		}
		if (type != TC_TRUE && type != TC_FALSE)
			tr_skip(&t, type);
	}
	return 0;
}

static int64_t get_int(tr s, int16_t id, int64_t dflt)
{
	tr v;
	int type = tr_field(s, id, &v);
	if (type == TC_TRUE || type == TC_FALSE)
		return type == TC_TRUE;
	if (type == TC_BYTE)
		return (int8_t)*v.p;
	if (!type)
		return dflt;
	return tr_zz(&v);
}

static bool get_bin(tr s, int16_t id, const uint8_t **p, size_t *n)
{
	tr v;
	if (tr_field(s, id, &v) != TC_BINARY)
		return false;
	*n = (size_t)tr_varint(&v);
	*p = v.p;
	return true;
}

static bool get_struct(tr s, int16_t id, tr *out)
{
	return tr_field(s, id, out) == TC_STRUCT;
}

/* Element k of list field `id`: a struct cursor, or false. */
static bool get_elem(tr s, int16_t id, int64_t k, tr *out, int64_t *count)
{
	tr v;
	if (tr_field(s, id, &v) != TC_LIST)
		return false;
	int et;
	int64_t n;
	tr_list_header(&v, &et, &n);
	if (count)
		*count = n;
	if (k >= n)
		return false;
	for (int64_t i = 0; i < k; i++)
		tr_skip(&v, et);
	*out = v;
	return !v.bad;
}

/* A whole file and its footer. */
typedef struct pqfile {
	uint8_t *data;
	size_t len;
	tr footer;
} pqfile;

static bool pq_load(pqfile *f, const char *path)
{
	memset(f, 0, sizeof *f);
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return false;
	fseek(fp, 0, SEEK_END);
	f->len = (size_t)ftell(fp);
	fseek(fp, 0, SEEK_SET);
	f->data = malloc(f->len + 1);
	if (fread(f->data, 1, f->len, fp) != f->len)
		f->len = 0;
	fclose(fp);
	if (f->len < 12 || memcmp(f->data, "PAR1", 4) || memcmp(f->data + f->len - 4, "PAR1", 4))
		return false;
	uint32_t flen;
	memcpy(&flen, f->data + f->len - 8, 4);
	if (flen > f->len - 12)
		return false;
	f->footer.p = f->data + f->len - 8 - flen;
	f->footer.end = f->data + f->len - 8;
	return true;
}

static tr pq_column_meta(const pqfile *f, int rg, int col)
{
	tr r, c, m = {0};
	if (get_elem(f->footer, 4, rg, &r, NULL) && get_elem(r, 1, col, &c, NULL) &&
	    get_struct(c, 3, &m))
		return m;
	m.bad = true;
	return m;
}

static int64_t pq_row_groups(const pqfile *f)
{
	tr r;
	int64_t n = 0;
	get_elem(f->footer, 4, 0, &r, &n);
	return n;
}

/* One page header at offset off: fills the cursor of the header struct. */
typedef struct page {
	int type;
	int64_t usize, csize;
	tr hdr;                /* PageHeader fields */
	const uint8_t *body;   /* csize bytes */
	size_t next;           /* offset of the next page */
} page;

static bool pq_page(const pqfile *f, size_t off, page *pg)
{
	tr t = {f->data + off, f->data + f->len, false, 0};
	pg->hdr = t;
	pg->type = (int)get_int(t, 1, -1);
	pg->usize = get_int(t, 2, -1);
	pg->csize = get_int(t, 3, -1);
	tr_skip_struct(&t);
	if (t.bad || pg->csize < 0 || (size_t)(t.p - f->data) + (size_t)pg->csize > f->len)
		return false;
	pg->body = t.p;
	pg->next = (size_t)(t.p - f->data) + (size_t)pg->csize;
	return true;
}

/* Decode n values of the RLE/bit-packed hybrid at bit width bw. */
static bool rle_decode(const uint8_t *p, size_t len, int bw, uint32_t *out, size_t n)
{
	tr t = {p, p + len, false, 0};
	size_t k = 0;
	int vb = (bw + 7) / 8;
	while (k < n) {
		uint64_t h = tr_varint(&t);
		if (t.bad)
			return false;
		if (h & 1) {
			size_t cnt = (size_t)(h >> 1) * 8;
			uint64_t acc = 0;
			int bits = 0;
			for (size_t i = 0; i < cnt; i++) {
				while (bits < bw) {
					if (t.p >= t.end)
						return false;
					acc |= (uint64_t)*t.p++ << bits;
					bits += 8;
				}
				uint32_t v = (uint32_t)(acc & ((bw == 32) ? 0xffffffffu : ((1u << bw) - 1)));
				acc >>= bw;
				bits -= bw;
				if (k < n)
					out[k++] = v;
			}
		} else {
			size_t cnt = (size_t)(h >> 1);
			uint32_t v = 0;
			if (t.p + vb > t.end)
				return false;
			for (int i = 0; i < vb; i++)
				v |= (uint32_t)t.p[i] << (8 * i);
			t.p += vb;
			for (size_t i = 0; i < cnt && k < n; i++)
				out[k++] = v;
			if (cnt == 0)
				return false;
		}
	}
	return true;
}

/* ---------- helpers ---------- */

static int count_dir(const char *dir)
{
	DIR *d = opendir(dir);
	int n = 0;
	struct dirent *e;
	while (d && (e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	if (d)
		closedir(d);
	return n;
}

static bool exists(const char *p)
{
	FILE *f = fopen(p, "rb");
	if (f)
		fclose(f);
	return f != NULL;
}

/* Write batch b of schema text to path with opts; 0 or the error code. */
static int write_one(const char *path, cl_schema *s, const cl_batch *b,
		     const cl_write_options *o, cl_error *e, cl_file_stats *st)
{
	cl_writer *w = NULL;
	int rc = cl_writer_open(&w, path, s, o, e);
	if (!rc && b)
		rc = cl_writer_write(w, b, e);
	if (!rc)
		rc = cl_writer_close(w, e);
	if (!rc && st)
		rc = cl_writer_file_stats(w, st, e);
	if (st && !rc) {
		/* Keep the statistics valid: the caller frees nothing, so leak-free
		 * tests call write_one without st or copy what they need first. */
	}
	cl_writer_free(w);
	return rc;
}

static void opts_plain(cl_write_options *o)
{
	cl_write_options_init(o);
	o->format = CL_FORMAT_PARQUET;
	o->compression = CL_CODEC_UNCOMPRESSED;
}

/* ---------- thrift encoder ---------- */

static bool bytes_are(const cl_buf *b, const uint8_t *want, size_t n)
{
	if (b->len != n || (n && memcmp(b->data, want, n))) {
		printf("    got:");
		for (size_t i = 0; i < b->len; i++)
			printf(" %02x", b->data[i]);
		printf("\n");
		return false;
	}
	return true;
}

TEST(pqw_thrift_fields)
{
	cl_buf b = {0};
	cl__tw t;
	cl__tw_init(&t, &b);
	cl__tw_i32(&t, 1, 0);        /* 0x15 0x00: delta 1, type i32, zigzag 0 */
	cl__tw_i32(&t, 2, -1);       /* 0x15 0x01 */
	cl__tw_i64(&t, 3, 150);      /* 0x16 0xac 0x02: zigzag 300 */
	cl__tw_bool(&t, 4, true);    /* 0x11 */
	cl__tw_bool(&t, 5, false);   /* 0x12 */
	cl__tw_binary(&t, 7, "abc", 3); /* 0x28 0x03 a b c */
	cl__tw_i32(&t, 40, 1);       /* long form: 0x05, zigzag(40)=80=0x50, 0x02 */
	cl__tw_i16(&t, 41, -2);      /* 0x14 0x03 */
	cl__tw_i8(&t, 42, -1);       /* 0x13 0xff */
	cl__tw_i32(&t, 10, 7);       /* id goes down: long form 0x05 0x14 0x0e */
	CHECK_EQ_INT(cl__tw_finish(&t), 0);
	static const uint8_t want[] = {0x15, 0x00, 0x15, 0x01, 0x16, 0xac, 0x02, 0x11, 0x12,
				       0x28, 0x03, 'a', 'b', 'c', 0x05, 0x50, 0x02, 0x14, 0x03,
				       0x13, 0xff, 0x05, 0x14, 0x0e, 0x00};
	CHECK(bytes_are(&b, want, sizeof want));
	cl_buf_release(&b);
}

TEST(pqw_thrift_nesting_and_lists)
{
	cl_buf b = {0};
	cl__tw t;
	cl__tw_init(&t, &b);
	cl__tw_struct_begin(&t, 1);     /* 0x1c */
	cl__tw_i32(&t, 2, 1);           /* inner ids restart: 0x25 0x02 */
	cl__tw_struct_end(&t);          /* 0x00 */
	cl__tw_list_begin(&t, 2, TC_I32, 3); /* 0x19 0x35 */
	cl__tw_elem_i32(&t, 1);
	cl__tw_elem_i32(&t, -1);
	cl__tw_elem_i32(&t, 64);        /* 0x02 0x01 0x80 0x01 */
	cl__tw_list_begin(&t, 3, TC_STRUCT, 20); /* 0x19 0xfc 0x14 */
	for (int i = 0; i < 20; i++) {
		cl__tw_elem_struct_begin(&t);
		cl__tw_empty_struct(&t, 1);     /* 0x1c 0x00 */
		cl__tw_struct_end(&t);          /* 0x00 */
	}
	cl__tw_list_begin(&t, 4, TC_BINARY, 1); /* 0x19 0x18 */
	cl__tw_elem_string(&t, "x");            /* 0x01 x */
	CHECK_EQ_INT(cl__tw_finish(&t), 0);
	uint8_t want[128];
	size_t n = 0;
	const uint8_t head[] = {0x1c, 0x25, 0x02, 0x00, 0x19, 0x35, 0x02, 0x01, 0x80, 0x01,
				0x19, 0xfc, 0x14};
	memcpy(want, head, sizeof head);
	n = sizeof head;
	for (int i = 0; i < 20; i++) {
		want[n++] = 0x1c;
		want[n++] = 0x00;
		want[n++] = 0x00;
	}
	const uint8_t tail[] = {0x19, 0x18, 0x01, 'x', 0x00};
	memcpy(want + n, tail, sizeof tail);
	n += sizeof tail;
	CHECK(bytes_are(&b, want, n));

	/* The walker reads back what the encoder wrote. */
	tr r = {b.data, b.data + b.len, false, 0}, s;
	CHECK(get_struct(r, 1, &s));
	CHECK_EQ_INT(get_int(s, 2, -9), 1);
	int64_t cnt = 0;
	CHECK(get_elem(r, 3, 19, &s, &cnt));
	CHECK_EQ_INT(cnt, 20);
	cl_buf_release(&b);
}

TEST(pqw_thrift_errors_are_sticky)
{
	cl_buf b = {0};
	cl__tw t;
	cl__tw_init(&t, &b);
	for (int i = 0; i < CL__TW_MAX_DEPTH + 2; i++)
		cl__tw_struct_begin(&t, 1);
	CHECK_EQ_INT(t.rc, CL_EINTERNAL);
	CHECK_EQ_INT(cl__tw_finish(&t), CL_EINTERNAL);
	cl_buf_release(&b);

	cl__tw_init(&t, &b);
	cl__tw_struct_end(&t);
	cl__tw_struct_end(&t); /* one too many */
	CHECK_EQ_INT(t.rc, CL_EINTERNAL);
	cl_buf_release(&b);

	cl_buf_clear(&b);
	cl__tw_init(&t, &b);
	cl_alloc_fail_after(0);
	cl__tw_string(&t, 1, "hello");
	cl_alloc_fail_after(-1);
	cl__tw_i32(&t, 2, 5);
	CHECK_EQ_INT(cl__tw_finish(&t), CL_ENOMEM);
	cl_buf_release(&b);
}

/* ---------- RLE / bit-packed hybrid ---------- */

static bool rle_is(const uint32_t *v, size_t n, int bw, const uint8_t *want, size_t wn)
{
	cl_buf b = {0};
	bool ok = cl__rle_encode_u32(&b, v, n, bw) == 0 && bytes_are(&b, want, wn);
	cl_buf_release(&b);
	return ok;
}

TEST(pqw_rle_hand_checked)
{
	/* Encodings.md's example: 0..7 at bit width 3 packs as 10001000 11000110 11111010 */
	const uint32_t seq[8] = {0, 1, 2, 3, 4, 5, 6, 7};
	CHECK(rle_is(seq, 8, 3, (const uint8_t[]){0x03, 0x88, 0xc6, 0xfa}, 4));
	/* 8 equal values: an RLE run (header 8 << 1, one value byte) */
	const uint32_t ones[8] = {1, 1, 1, 1, 1, 1, 1, 1};
	CHECK(rle_is(ones, 8, 1, (const uint8_t[]){0x10, 0x01}, 2));
	/* 7 equal values: one padded literal group */
	CHECK(rle_is(ones, 7, 1, (const uint8_t[]){0x03, 0x7f}, 2));
	/* alternating bits */
	const uint32_t alt[8] = {0, 1, 0, 1, 0, 1, 0, 1};
	CHECK(rle_is(alt, 8, 1, (const uint8_t[]){0x03, 0xaa}, 2));
	/* nothing at all */
	CHECK(rle_is(seq, 0, 3, NULL, 0));
	/* a long run of a 9-bit value: varint(2000) and two value bytes */
	uint32_t *run = malloc(1000 * sizeof *run);
	for (int i = 0; i < 1000; i++)
		run[i] = 300;
	CHECK(rle_is(run, 1000, 9, (const uint8_t[]){0xd0, 0x0f, 0x2c, 0x01}, 4));
	free(run);
	/* literals then a run: 0,1 then eight 5s at width 3 */
	const uint32_t mix[10] = {0, 1, 5, 5, 5, 5, 5, 5, 5, 5};
	/* the run starts mid-group, so the first group takes 0,1,5x6 and the
	 * remaining two 5s make a second, padded group of the same literal run */
	CHECK(rle_is(mix, 10, 3, (const uint8_t[]){0x05, 0x48, 0xdb, 0xb6, 0x2d, 0x00, 0x00}, 7));
	/* width 32 */
	const uint32_t big[2] = {0xffffffffu, 0x12345678u};
	CHECK(rle_is(big, 2, 32,
		     (const uint8_t[]){0x03, 0xff, 0xff, 0xff, 0xff, 0x78, 0x56, 0x34, 0x12,
				       0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
				       0, 0, 0, 0, 0},
		     33));
}

TEST(pqw_rle_roundtrip_random)
{
	uint64_t seed = 42;
	for (int round = 0; round < 300; round++) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		int bw = (int)(seed >> 59) % 33;
		size_t n = (size_t)((seed >> 20) % 3000);
		uint32_t *v = malloc((n + 1) * sizeof *v), *back = malloc((n + 1) * sizeof *back);
		uint32_t mask = bw == 32 ? 0xffffffffu : (1u << bw) - 1;
		uint32_t cur = 0;
		for (size_t i = 0; i < n; i++) {
			seed = seed * 6364136223846793005ull + 1442695040888963407ull;
			if ((seed >> 33) % 4 == 0)
				cur = (uint32_t)(seed >> 16);
			v[i] = cur & mask; /* runs of random lengths */
		}
		cl_buf b = {0};
		CHECK_EQ_INT(cl__rle_encode_u32(&b, v, n, bw), 0);
		bool ok = rle_decode(b.data, b.len, bw, back, n) && !memcmp(v, back, n * sizeof *v);
		/* and the uint8 flavour for small widths */
		if (ok && bw <= 8) {
			uint8_t *v8 = malloc(n + 1);
			for (size_t i = 0; i < n; i++)
				v8[i] = (uint8_t)v[i];
			cl_buf b8 = {0};
			ok = cl__rle_encode_u8(&b8, v8, n, bw) == 0 && b8.len == b.len &&
			     !memcmp(b8.data, b.data, b.len);
			cl_buf_release(&b8);
			free(v8);
		}
		cl_buf_release(&b);
		free(v);
		free(back);
		if (!ok) {
			printf("    round %d bw %d n %zu\n", round, bw, n);
			CHECK(ok);
		}
	}
}

TEST(pqw_rle_literal_runs_split)
{
	/* 2000 distinct-ish values: literal runs at most 63 groups, header 1 byte */
	uint32_t v[2000];
	for (int i = 0; i < 2000; i++)
		v[i] = (uint32_t)(i * 7919) & 1023;
	cl_buf b = {0};
	CHECK_EQ_INT(cl__rle_encode_u32(&b, v, 2000, 10), 0);
	CHECK_EQ_INT(b.data[0], 63 << 1 | 1);
	uint32_t back[2000];
	CHECK(rle_decode(b.data, b.len, 10, back, 2000));
	CHECK(!memcmp(v, back, sizeof v));
	cl_buf_release(&b);
}

/* ---------- dictionary ---------- */

TEST(pqw_dict_fixed)
{
	cl__dict d;
	cl__dict_init(&d, 8);
	int64_t vals[] = {5, 7, 5, -1, 7, 7, 0};
	uint32_t idx[7];
	CHECK_EQ_INT(cl__dict_put_fixed(&d, vals, 7, idx), 0);
	const uint32_t want[7] = {0, 1, 0, 2, 1, 1, 3};
	CHECK(!memcmp(idx, want, sizeof want));
	CHECK_EQ_INT(d.n, 4);
	CHECK_EQ_INT(cl__dict_bytes(&d), 32);
	int64_t plain[4];
	memcpy(plain, d.values.data, 32);
	CHECK(plain[0] == 5 && plain[1] == 7 && plain[2] == -1 && plain[3] == 0);

	/* grow well past the first table; every value keeps its index */
	cl__dict_reset(&d);
	CHECK_EQ_INT(d.n, 0);
	int64_t *many = malloc(20000 * sizeof *many);
	uint32_t *mi = malloc(20000 * sizeof *mi);
	for (int i = 0; i < 20000; i++)
		many[i] = (int64_t)(i % 9000) * 1000003;
	CHECK_EQ_INT(cl__dict_put_fixed(&d, many, 20000, mi), 0);
	CHECK_EQ_INT(d.n, 9000);
	bool ok = true;
	for (int i = 0; i < 20000; i++)
		ok &= mi[i] == (uint32_t)(i % 9000);
	CHECK(ok);
	free(many);
	free(mi);
	cl__dict_release(&d);

	/* 12- and 16-byte values hash all their bytes */
	cl__dict_init(&d, 12);
	uint8_t w12[3][12] = {{0}, {0}, {0}};
	w12[1][11] = 1;
	uint32_t i3[3];
	CHECK_EQ_INT(cl__dict_put_fixed(&d, w12, 3, i3), 0);
	CHECK(i3[0] == 0 && i3[1] == 1 && i3[2] == 0);
	cl__dict_release(&d);
}

TEST(pqw_dict_bytes)
{
	cl__dict d;
	cl__dict_init(&d, 0);
	cl__bytes_ref v[] = {{(const uint8_t *)"", 0}, {(const uint8_t *)"a", 1},
			     {(const uint8_t *)"a\0", 2}, {(const uint8_t *)"a", 1},
			     {(const uint8_t *)"", 0}, {(const uint8_t *)"\xff", 1}};
	uint32_t idx[6];
	CHECK_EQ_INT(cl__dict_put_bytes(&d, v, 6, idx), 0);
	const uint32_t want[6] = {0, 1, 2, 1, 0, 3};
	CHECK(!memcmp(idx, want, sizeof want));
	/* PLAIN: 4-byte length + bytes each */
	const uint8_t plain[] = {0, 0, 0, 0, 1, 0, 0, 0, 'a', 2, 0, 0, 0, 'a', 0, 1, 0, 0, 0, 0xff};
	CHECK_EQ_INT(cl__dict_bytes(&d), sizeof plain);
	CHECK(!memcmp(d.values.data, plain, sizeof plain));
	/* many strings force rehashing */
	char buf[32];
	for (int i = 0; i < 5000; i++) {
		int n = snprintf(buf, sizeof buf, "key-%d", i % 3000);
		cl__bytes_ref r = {(const uint8_t *)buf, (uint32_t)n};
		uint32_t k;
		CHECK_EQ_INT(cl__dict_put_bytes(&d, &r, 1, &k), 0);
		CHECK_EQ_INT(k, 4 + i % 3000);
	}
	cl__dict_release(&d);
}

/* Strings of every length 0..40 and, for each, the variants with one byte
 * changed at each position: all distinct entries, found again on re-put
 * (the dictionary's inline comparisons look at both ends of short keys). */
TEST(pqw_dict_bytes_every_length_and_position)
{
	cl__dict d;
	cl__dict_init(&d, 0);
	static uint8_t keys[41 * 42][40];
	cl__bytes_ref refs[41 * 42];
	size_t n = 0;
	for (int len = 0; len <= 40; len++)
		for (int pos = -1; pos < len; pos++) {
			for (int i = 0; i < len; i++)
				keys[n][i] = (uint8_t)('a' + i % 7);
			if (pos >= 0)
				keys[n][pos] ^= 0x20;
			refs[n].p = keys[n];
			refs[n].n = (uint32_t)len;
			n++;
		}
	static uint32_t idx[41 * 42], again[41 * 42];
	CHECK_EQ_INT(cl__dict_put_bytes(&d, refs, n, idx), 0);
	CHECK_EQ_INT(d.n, n);
	for (size_t i = 0; i < n; i++)
		CHECK_EQ_INT(idx[i], i);
	CHECK_EQ_INT(cl__dict_put_bytes(&d, refs, n, again), 0);
	CHECK_EQ_INT(d.n, n);
	CHECK(!memcmp(idx, again, n * sizeof *idx));
	cl__dict_release(&d);
}

/* ---------- files ---------- */

static cl_schema *schema_of(const char *text)
{
	cl_schema *s = NULL;
	cl_error e = {0};
	if (cl_schema_parse(&s, text, &e))
		printf("    schema: %s\n", e.message);
	return s;
}

TEST(pqw_footer_basics)
{
	cl_error e = {0};
	cl_schema *s = schema_of("id int64 not null, name string");
	cl_batch *b;
	CHECK_OK(cl_batch_create(&b, s, 4, &e), &e);
	for (int i = 0; i < 3; i++) {
		cl_column_append_i64(&b->cols[0], i, &e);
		if (i == 1)
			cl_column_append_null(&b->cols[1], &e);
		else
			cl_column_append_bytes(&b->cols[1], "x", 1, &e);
	}
	b->nrows = 3;
	char path[600];
	snprintf(path, sizeof path, "%s/a.parquet", cl_test_tmpdir());
	cl_write_options o;
	opts_plain(&o);
	const char *keys[] = {"k1", "k2"}, *vals[] = {"v1", NULL};
	o.kv_keys = keys;
	o.kv_values = vals;
	o.nkv = 2;
	CHECK_OK(write_one(path, s, b, &o, &e, NULL), &e);
	pqfile f;
	CHECK(pq_load(&f, path));
	CHECK_EQ_INT(get_int(f.footer, 1, -1), 1);  /* version */
	CHECK_EQ_INT(get_int(f.footer, 3, -1), 3);  /* num_rows */
	const uint8_t *p;
	size_t n;
	CHECK(get_bin(f.footer, 6, &p, &n));
	CHECK(n == strlen("changelake version 0.1.0 (build unknown)") ||
	      (n > 28 && !memcmp(p, "changelake version 0.1.0 (build ", 32)));
	tr el;
	int64_t cnt;
	CHECK(get_elem(f.footer, 2, 1, &el, &cnt));   /* schema: root + 2 */
	CHECK_EQ_INT(cnt, 3);
	CHECK_EQ_INT(get_int(el, 1, -1), PQ_INT64);
	CHECK_EQ_INT(get_int(el, 3, -1), PQ_REQUIRED);
	CHECK(get_elem(f.footer, 2, 2, &el, NULL));
	CHECK_EQ_INT(get_int(el, 3, -1), PQ_OPTIONAL);
	CHECK_EQ_INT(get_int(el, 6, -1), PQ_CT_UTF8);
	CHECK(get_elem(f.footer, 5, 1, &el, &cnt));   /* key-value metadata */
	CHECK_EQ_INT(cnt, 2);
	CHECK(get_bin(el, 1, &p, &n) && n == 2 && !memcmp(p, "k2", 2));
	CHECK(!get_bin(el, 2, &p, &n));               /* no value */
	CHECK(get_elem(f.footer, 7, 1, &el, &cnt));   /* column orders */
	CHECK_EQ_INT(cnt, 2);
	tr to;
	CHECK(get_struct(el, 1, &to));                /* TYPE_ORDER */
	tr cm = pq_column_meta(&f, 0, 1);
	CHECK(!cm.bad);
	CHECK_EQ_INT(get_int(cm, 4, -1), CL_CODEC_UNCOMPRESSED);
	CHECK_EQ_INT(get_int(cm, 5, -1), 3);
	tr st;
	CHECK(get_struct(cm, 12, &st));
	CHECK_EQ_INT(get_int(st, 3, -1), 1);          /* null_count */
	CHECK(!f.footer.bad);
	free(f.data);
	cl_batch_free(b);
	cl_schema_free(s);
}

/* Statistics bytes of column col in row group 0. */
static bool chunk_minmax(const pqfile *f, int col, const uint8_t **mn, size_t *mnn,
			 const uint8_t **mx, size_t *mxn, int64_t *nulls)
{
	tr cm = pq_column_meta(f, 0, col), st;
	if (cm.bad || !get_struct(cm, 12, &st))
		return false;
	*nulls = get_int(st, 3, -1);
	bool a = get_bin(st, 6, mn, mnn), b = get_bin(st, 5, mx, mxn);
	if (!a)
		*mn = NULL;
	if (!b)
		*mx = NULL;
	return true;
}

TEST(pqw_stats_edge_cases)
{
	cl_error e = {0};
	cl_schema *s = schema_of("f float64, nanonly float32, z float64, s string, "
				 "allnull int32, u64 uint64, u32 uint32, bin binary, "
				 "dec decimal(30,2), b bool");
	cl_batch *b;
	CHECK_OK(cl_batch_create(&b, s, 8, &e), &e);
	double fv[] = {NAN, 2.5, -1.0, NAN};
	double zv[] = {0.0, -0.0, 0.0, -0.0};
	const char *sv[] = {"b", "", "\xc3\xa9", "a"};
	uint64_t u64[] = {1, (1ull << 63) + 5, 7, 1ull << 63};
	uint32_t u32[] = {3, 0x80000000u, 0xffffffffu, 1};
	const char *bv[] = {"\x01", "\xff\x00", "\x01\x00", "\x7f"};
	cl_i128 dv[] = {-12345, 5, (cl_i128)-1 * cl__i128_pow10(29), 0};
	bool bools[] = {true, true, true, true};
	for (int i = 0; i < 4; i++) {
		cl_column_append_f64(&b->cols[0], fv[i], &e);
		cl_column_append_f64(&b->cols[1], NAN, &e);
		cl_column_append_f64(&b->cols[2], zv[i], &e);
		cl_column_append_bytes(&b->cols[3], sv[i], strlen(sv[i]), &e);
		cl_column_append_null(&b->cols[4], &e);
		cl_column_append_fixed(&b->cols[5], &u64[i], &e);
		cl_column_append_fixed(&b->cols[6], &u32[i], &e);
		cl_column_append_bytes(&b->cols[7], bv[i], i == 1 ? 2 : i == 2 ? 2 : 1, &e);
		cl_column_append_fixed(&b->cols[8], &dv[i], &e);
		cl_column_append_bool(&b->cols[9], bools[i], &e);
	}
	b->nrows = 4;
	char path[600];
	snprintf(path, sizeof path, "%s/s.parquet", cl_test_tmpdir());
	cl_write_options o;
	opts_plain(&o);
	cl_writer *w;
	CHECK_OK(cl_writer_open(&w, path, s, &o, &e), &e);
	cl_file_stats fs;
	CHECK(cl_writer_file_stats(w, &fs, &e) == CL_EINVAL); /* not closed yet */
	CHECK_OK(cl_writer_write(w, b, &e), &e);
	CHECK_OK(cl_writer_close(w, &e), &e);
	CHECK_OK(cl_writer_file_stats(w, &fs, &e), &e);
	CHECK_EQ_INT(fs.num_rows, 4);
	CHECK_EQ_INT(fs.num_row_groups, 1);
	CHECK_EQ_INT(fs.ncols, 10);
	/* float: NaN out of min/max */
	CHECK(fs.cols[0].has_min_max);
	CHECK_EQ_INT(fs.cols[0].nan_count, 2);
	CHECK(((double *)fs.min->cols[0].values)[0] == -1.0);
	CHECK(((double *)fs.max->cols[0].values)[0] == 2.5);
	/* only NaN: no bounds */
	CHECK(!fs.cols[1].has_min_max);
	CHECK(cl_column_is_null(&fs.min->cols[1], 0));
	CHECK_EQ_INT(fs.cols[1].nan_count, 4);
	/* zeros: -0.0 minimum, +0.0 maximum */
	double zmin = ((double *)fs.min->cols[2].values)[0];
	double zmax = ((double *)fs.max->cols[2].values)[0];
	CHECK(zmin == 0 && signbit(zmin) && zmax == 0 && !signbit(zmax));
	/* strings: "" is the least, bytes unsigned (é = c3 a9 > 'b') */
	size_t n;
	const uint8_t *p = cl_column_get_bytes(&fs.min->cols[3], 0, &n);
	CHECK(n == 0);
	p = cl_column_get_bytes(&fs.max->cols[3], 0, &n);
	CHECK(n == 2 && !memcmp(p, "\xc3\xa9", 2));
	/* all null */
	CHECK(!fs.cols[4].has_min_max);
	CHECK_EQ_INT(fs.cols[4].null_count, 4);
	/* unsigned order */
	CHECK(((uint64_t *)fs.min->cols[5].values)[0] == 1);
	CHECK(((uint64_t *)fs.max->cols[5].values)[0] == (1ull << 63) + 5);
	CHECK(((uint32_t *)fs.min->cols[6].values)[0] == 1);
	CHECK(((uint32_t *)fs.max->cols[6].values)[0] == 0xffffffffu);
	/* decimal: signed 128-bit */
	cl_i128 dmin, dmax;
	memcpy(&dmin, fs.min->cols[8].values, 16);
	memcpy(&dmax, fs.max->cols[8].values, 16);
	CHECK(dmin == dv[2] && dmax == 5);
	/* bool all true */
	CHECK(cl_column_get_bool(&fs.min->cols[9], 0) && cl_column_get_bool(&fs.max->cols[9], 0));
	cl_writer_free(w);

	/* The same in the footer's bytes. */
	pqfile f;
	CHECK(pq_load(&f, path));
	const uint8_t *mn, *mx;
	size_t mnn, mxn;
	int64_t nulls;
	double d;
	CHECK(chunk_minmax(&f, 0, &mn, &mnn, &mx, &mxn, &nulls) && mn && mx);
	memcpy(&d, mn, 8);
	CHECK(mnn == 8 && d == -1.0);
	memcpy(&d, mx, 8);
	CHECK(mxn == 8 && d == 2.5);
	CHECK(chunk_minmax(&f, 1, &mn, &mnn, &mx, &mxn, &nulls) && !mn && !mx && nulls == 0);
	CHECK(chunk_minmax(&f, 2, &mn, &mnn, &mx, &mxn, &nulls) && mn && mx);
	memcpy(&d, mn, 8);
	CHECK(d == 0 && signbit(d));
	memcpy(&d, mx, 8);
	CHECK(d == 0 && !signbit(d));
	CHECK(chunk_minmax(&f, 3, &mn, &mnn, &mx, &mxn, &nulls) && mn && mx);
	CHECK(mnn == 0 && mxn == 2 && !memcmp(mx, "\xc3\xa9", 2));
	CHECK(chunk_minmax(&f, 4, &mn, &mnn, &mx, &mxn, &nulls) && !mn && !mx && nulls == 4);
	CHECK(chunk_minmax(&f, 5, &mn, &mnn, &mx, &mxn, &nulls) && mn && mx);
	uint64_t u;
	memcpy(&u, mn, 8);
	CHECK(u == 1);
	memcpy(&u, mx, 8);
	CHECK(u == (1ull << 63) + 5);
	CHECK(chunk_minmax(&f, 6, &mn, &mnn, &mx, &mxn, &nulls) && mnn == 4);
	uint32_t u4;
	memcpy(&u4, mx, 4);
	CHECK(u4 == 0xffffffffu);
	CHECK(chunk_minmax(&f, 7, &mn, &mnn, &mx, &mxn, &nulls));
	CHECK(mnn == 1 && mn[0] == 0x01 && mxn == 2 && mx[0] == 0xff);
	/* decimal(30,2) as FIXED_LEN_BYTE_ARRAY(13), big-endian */
	CHECK(chunk_minmax(&f, 8, &mn, &mnn, &mx, &mxn, &nulls) && mnn == 13 && mxn == 13);
	CHECK(mx[12] == 5 && mx[0] == 0 && mn[0] == 0xfe);
	/* legacy fields only for signed orders: not for uint64 or strings */
	tr cm = pq_column_meta(&f, 0, 5), st;
	CHECK(get_struct(cm, 12, &st) && !get_bin(st, 1, &mn, &mnn));
	cm = pq_column_meta(&f, 0, 0);
	CHECK(get_struct(cm, 12, &st) && get_bin(st, 2, &mn, &mnn));
	free(f.data);
	cl_batch_free(b);
	cl_schema_free(s);
}

/* Walk the data pages of column col, row group rg: counts by encoding. */
static bool count_pages(const pqfile *f, int rg, int col, int *dict_pages, int *rle_dict,
			int *plain, int64_t *dict_bytes)
{
	tr cm = pq_column_meta(f, rg, col);
	if (cm.bad)
		return false;
	int64_t nv = get_int(cm, 5, -1), seen = 0;
	int64_t off = get_int(cm, 11, -1);
	*dict_pages = *rle_dict = *plain = 0;
	*dict_bytes = 0;
	page pg;
	if (off >= 0) {
		if (!pq_page(f, (size_t)off, &pg) || pg.type != PQ_PAGE_DICTIONARY)
			return false;
		(*dict_pages)++;
		*dict_bytes = pg.usize;
	}
	size_t pos = (size_t)get_int(cm, 9, -1);
	while (seen < nv) {
		if (!pq_page(f, pos, &pg))
			return false;
		tr dh;
		if (!get_struct(pg.hdr, pg.type == PQ_PAGE_DATA ? 5 : 8, &dh))
			return false;
		seen += get_int(dh, 1, 0);
		int enc = (int)get_int(dh, pg.type == PQ_PAGE_DATA ? 2 : 4, -1);
		if (enc == PQ_ENC_RLE_DICTIONARY)
			(*rle_dict)++;
		else if (enc == PQ_ENC_PLAIN)
			(*plain)++;
		else
			return false;
		pos = pg.next;
	}
	return seen == nv;
}

TEST(pqw_dictionary_fallback)
{
	cl_error e = {0};
	cl_schema *s = schema_of("s string not null, i int64 not null, low int32 not null");
	cl_batch *b;
	CHECK_OK(cl_batch_create(&b, s, 20000, &e), &e);
	char buf[32];
	for (int i = 0; i < 20000; i++) {
		int n = snprintf(buf, sizeof buf, "value-%d", i);
		cl_column_append_bytes(&b->cols[0], buf, (size_t)n, &e);
		cl_column_append_i64(&b->cols[1], (int64_t)i * 31, &e);
		cl_column_append_i64(&b->cols[2], i % 10, &e);
	}
	b->nrows = 20000;
	char path[600];
	snprintf(path, sizeof path, "%s/d.parquet", cl_test_tmpdir());
	cl_write_options o;
	opts_plain(&o);
	o.dictionary_page_bytes = 20000;
	o.page_bytes = 8192;
	o.row_group_rows = 10000;
	CHECK_OK(write_one(path, s, b, &o, &e, NULL), &e);
	pqfile f;
	CHECK(pq_load(&f, path));
	CHECK_EQ_INT(pq_row_groups(&f), 2);
	int dp, rd, pl;
	int64_t db;
	/* row group 0: dictionary pages, then PLAIN after the fallback */
	CHECK(count_pages(&f, 0, 0, &dp, &rd, &pl, &db));
	CHECK(dp == 1 && rd >= 1 && pl >= 1);
	/* the dictionary stops within one mini-batch past the limit */
	CHECK(db > 20000 && db < 20000 + 1024 * 20);
	CHECK(count_pages(&f, 0, 1, &dp, &rd, &pl, &db));
	CHECK(dp == 1 && rd >= 1 && pl >= 1);
	/* row group 1: the overflowing columns start PLAIN */
	CHECK(count_pages(&f, 1, 0, &dp, &rd, &pl, &db));
	CHECK(dp == 0 && rd == 0 && pl >= 1);
	/* the low-cardinality column stays dictionary encoded throughout */
	for (int rg = 0; rg < 2; rg++) {
		CHECK(count_pages(&f, rg, 2, &dp, &rd, &pl, &db));
		CHECK(dp == 1 && rd >= 1 && pl == 0 && db == 40);
	}
	/* encoding_stats say the same */
	tr cm = pq_column_meta(&f, 0, 0), es;
	int64_t n;
	CHECK(get_elem(cm, 13, 0, &es, &n));
	CHECK_EQ_INT(n, 3);
	CHECK_EQ_INT(get_int(es, 1, -1), PQ_PAGE_DICTIONARY);
	free(f.data);

	/* dictionary off: no dictionary pages at all */
	o.dictionary = false;
	CHECK_OK(write_one(path, s, b, &o, &e, NULL), &e);
	CHECK(pq_load(&f, path));
	for (int c = 0; c < 3; c++) {
		CHECK(count_pages(&f, 0, c, &dp, &rd, &pl, &db));
		CHECK(dp == 0 && rd == 0 && pl >= 1);
	}
	free(f.data);
	cl_batch_free(b);
	cl_schema_free(s);
}

/*
 * The dictionary probe: a chunk whose first 16,384 values are mostly
 * distinct goes PLAIN (no dictionary page when no page used it yet; the
 * open page re-encoded), a 5,000-value column stays dictionary encoded,
 * and every value reads back as written.
 */
TEST(pqw_dictionary_probe)
{
	cl_error e = {0};
	cl_schema *s = schema_of("id int64 not null, note string, cat string not null, "
				 "d decimal(30,2), late int32 not null");
	const int64_t rows = 40000;
	cl_batch *b;
	CHECK_OK(cl_batch_create(&b, s, rows, &e), &e);
	char buf[48];
	for (int64_t i = 0; i < rows; i++) {
		cl_column_append_i64(&b->cols[0], (int64_t)((uint64_t)i * 0x9E3779B97F4A7C15ull >> 1), &e);
		int n = snprintf(buf, sizeof buf, "note-%lld", (long long)(i * 7 % 30011));
		if (i % 97 == 5)
			cl_column_append_null(&b->cols[1], &e);
		else
			cl_column_append_bytes(&b->cols[1], buf, (size_t)n, &e);
		n = snprintf(buf, sizeof buf, "category-%lld", (long long)(i * 7919 % 5000));
		cl_column_append_bytes(&b->cols[2], buf, (size_t)n, &e);
		cl_i128 dv = (cl_i128)i * 1000003 - 7;
		if (i % 11 == 0)
			cl_column_append_null(&b->cols[3], &e);
		else
			cl_column_append_fixed(&b->cols[3], &dv, &e);
		/* few values in the first 16,384 rows, then all distinct */
		cl_column_append_i64(&b->cols[4], i < 20000 ? i % 3 : i, &e);
	}
	b->nrows = rows;
	char path[600];
	snprintf(path, sizeof path, "%s/probe.parquet", cl_test_tmpdir());
	for (int small = 0; small <= 1; small++) {
		cl_write_options o;
		opts_plain(&o);
		o.row_group_rows = 25000;
		if (small)
			o.page_bytes = 4096; /* dictionary pages flushed before the probe */
		CHECK_OK(write_one(path, s, b, &o, &e, NULL), &e);
		pqfile f;
		CHECK(pq_load(&f, path));
		CHECK_EQ_INT(pq_row_groups(&f), 2);
		int dp, rd, pl;
		int64_t db;
		for (int c = 0; c < 4; c += c == 1 ? 2 : 1) {
			/* id, note, d: mostly distinct */
			CHECK(count_pages(&f, 0, c, &dp, &rd, &pl, &db));
			if (!small)
				CHECK(dp == 0 && rd == 0 && pl >= 1);
			else
				CHECK(dp == 1 && rd >= 1 && pl >= 1);
			CHECK(count_pages(&f, 1, c, &dp, &rd, &pl, &db));
			CHECK(dp == 0 && rd == 0 && pl >= 1);
		}
		for (int rg = 0; rg < 2; rg++) {
			CHECK(count_pages(&f, rg, 2, &dp, &rd, &pl, &db));
			CHECK(dp == 1 && rd >= 1 && pl == 0);
		}
		/* 'late': dictionary past the probe, then the size limit decides */
		CHECK(count_pages(&f, 0, 4, &dp, &rd, &pl, &db));
		CHECK(dp == 1 && rd >= 1);
		free(f.data);

		cl_reader *r;
		CHECK_OK(cl_reader_open(&r, path, NULL, &e), &e);
		cl_batch *rb;
		int64_t row = 0;
		bool same = true;
		while (cl_reader_next(r, &rb, &e) == 0 && rb) {
			for (int64_t i = 0; i < rb->nrows; i++, row++)
				for (int c = 0; c < 5; c++) {
					char *t = NULL, *u = NULL;
					size_t n, m;
					CHECK_OK(cl_value_text(&rb->cols[c], i, &t, &n, &e), &e);
					CHECK_OK(cl_value_text(&b->cols[c], row, &u, &m, &e), &e);
					if ((!t) != (!u) || (t && strcmp(t, u)))
						same = false;
					cl_free(t);
					cl_free(u);
				}
		}
		CHECK(same);
		CHECK_EQ_INT(row, rows);
		cl_reader_free(r);
	}
	cl_batch_free(b);
	cl_schema_free(s);
}

/* String min/max (file statistics) against a brute-force scan, for values
 * that differ within and past their first 8 bytes and prefixes of each
 * other. */
TEST(pqw_string_stats_brute_force)
{
	cl_error e = {0};
	cl_schema *s = schema_of("s string");
	cl_batch *b;
	CHECK_OK(cl_batch_create(&b, s, 3000, &e), &e);
	uint64_t x = 12345;
	char mn[64] = "", mx[64] = "";
	size_t mnn = 0, mxn = 0;
	bool have = false;
	for (int i = 0; i < 3000; i++) {
		char v[64];
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		int len = 1 + (int)(x >> 59) % 31 + (i % 3 ? 9 : 0); /* 1..40 */
		/* three letters: the order is decided anywhere in the value */
		uint64_t bits = x ^ (x >> 29) * 0x9E3779B97F4A7C15ull;
		for (int k = 0; k < len; k++, bits = bits * 6364136223846793005ull + 1)
			v[k] = (char)("a\x01\xff"[(bits >> 61) % 3]);
		cl_column_append_bytes(&b->cols[0], v, (size_t)len, &e);
		size_t n = (size_t)len, m;
		#define LT(a, an, c, cn) ((m = (an) < (cn) ? (an) : (cn)), memcmp(a, c, m) ? memcmp(a, c, m) < 0 : (an) < (cn))
		if (!have || LT((const uint8_t *)v, n, (const uint8_t *)mn, mnn)) {
			memcpy(mn, v, n);
			mnn = n;
		}
		if (!have || LT((const uint8_t *)mx, mxn, (const uint8_t *)v, n)) {
			memcpy(mx, v, n);
			mxn = n;
		}
		#undef LT
		have = true;
	}
	b->nrows = 3000;
	char path[600];
	snprintf(path, sizeof path, "%s/sst.parquet", cl_test_tmpdir());
	cl_write_options o;
	opts_plain(&o);
	o.page_bytes = 2048;
	cl_writer *w;
	CHECK_OK(cl_writer_open(&w, path, s, &o, &e), &e);
	CHECK_OK(cl_writer_write(w, b, &e), &e);
	CHECK_OK(cl_writer_close(w, &e), &e);
	cl_file_stats fs;
	CHECK_OK(cl_writer_file_stats(w, &fs, &e), &e);
	size_t n;
	const uint8_t *p = cl_column_get_bytes(&fs.min->cols[0], 0, &n);
	CHECK(n == mnn && (!n || !memcmp(p, mn, n)));
	p = cl_column_get_bytes(&fs.max->cols[0], 0, &n);
	CHECK(n == mxn && (!n || !memcmp(p, mx, n)));
	cl_writer_free(w);
	cl_batch_free(b);
	cl_schema_free(s);
}

/* Decode the values of an uncompressed v1 or v2 page of an optional int32 column. */
static int64_t decode_int_page(const page *pg, bool v2, bool dict, const int32_t *dvals,
			       uint8_t *valid, int32_t *out)
{
	tr dh;
	if (!get_struct(pg->hdr, v2 ? 8 : 5, &dh))
		return -1;
	int64_t nv = get_int(dh, 1, -1);
	const uint8_t *p = pg->body;
	size_t lev_len;
	if (v2) {
		lev_len = (size_t)get_int(dh, 5, -1);
		if (get_int(dh, 7, 1) != 0 && pg->usize != pg->csize)
			return -1;
	} else {
		uint32_t l;
		memcpy(&l, p, 4);
		lev_len = l;
		p += 4;
	}
	uint32_t *lv = malloc((size_t)nv * sizeof *lv + 4);
	if (!rle_decode(p, lev_len, 1, lv, (size_t)nv)) {
		free(lv);
		return -1;
	}
	p += lev_len;
	int64_t present = 0;
	for (int64_t i = 0; i < nv; i++) {
		valid[i] = (uint8_t)lv[i];
		present += lv[i];
	}
	free(lv);
	const uint8_t *end = pg->body + pg->csize;
	if (dict) {
		int bw = *p++;
		uint32_t *ix = malloc((size_t)present * sizeof *ix + 4);
		if (!rle_decode(p, (size_t)(end - p), bw, ix, (size_t)present)) {
			free(ix);
			return -1;
		}
		for (int64_t i = 0; i < present; i++)
			out[i] = dvals[ix[i]];
		free(ix);
	} else {
		if ((size_t)(end - p) != (size_t)present * 4)
			return -1;
		memcpy(out, p, (size_t)present * 4);
	}
	return nv;
}

TEST(pqw_page_layout_v1_v2)
{
	cl_error e = {0};
	cl_schema *s = schema_of("x int32");
	cl_batch *b;
	CHECK_OK(cl_batch_create(&b, s, 3000, &e), &e);
	for (int i = 0; i < 3000; i++) {
		if (i % 7 == 3 || (i >= 1000 && i < 1100))
			cl_column_append_null(&b->cols[0], &e);
		else
			cl_column_append_i64(&b->cols[0], i % 13 - 6, &e);
	}
	b->nrows = 3000;
	char path[600];
	snprintf(path, sizeof path, "%s/p.parquet", cl_test_tmpdir());
	for (int v = 1; v <= 2; v++) {
		for (int dict = 0; dict <= 1; dict++) {
			cl_write_options o;
			opts_plain(&o);
			o.page_version = v;
			o.dictionary = dict;
			o.page_bytes = 300;
			CHECK_OK(write_one(path, s, b, &o, &e, NULL), &e);
			pqfile f;
			CHECK(pq_load(&f, path));
			tr cm = pq_column_meta(&f, 0, 0);
			int32_t dvals[64];
			int64_t doff = get_int(cm, 11, -1);
			page pg;
			if (dict) {
				CHECK(doff > 0 && pq_page(&f, (size_t)doff, &pg));
				CHECK(pg.usize == 13 * 4);
				memcpy(dvals, pg.body, 52);
			} else {
				CHECK(doff == -1);
			}
			size_t pos = (size_t)get_int(cm, 9, -1);
			int64_t row = 0, pages = 0;
			uint8_t valid[3000];
			int32_t vals[3000];
			bool ok = true;
			while (row < 3000 && ok) {
				CHECK(pq_page(&f, pos, &pg));
				CHECK_EQ_INT(pg.type, v == 2 ? PQ_PAGE_DATA_V2 : PQ_PAGE_DATA);
				int64_t nv = decode_int_page(&pg, v == 2, dict, dvals, valid, vals);
				CHECK(nv > 0 && row + nv <= 3000);
				int64_t k = 0;
				for (int64_t i = 0; i < nv; i++) {
					int64_t r = row + i;
					bool isnull = r % 7 == 3 || (r >= 1000 && r < 1100);
					ok &= valid[i] == !isnull;
					if (!isnull)
						ok &= vals[k++] == r % 13 - 6;
				}
				if (v == 2) {
					tr dh;
					CHECK(get_struct(pg.hdr, 8, &dh));
					CHECK_EQ_INT(get_int(dh, 2, -1), nv - k);  /* num_nulls */
					CHECK_EQ_INT(get_int(dh, 3, -1), nv);      /* num_rows */
				}
				row += nv;
				pos = pg.next;
				pages++;
			}
			CHECK(ok);
			CHECK_EQ_INT(row, 3000);
			CHECK(pages > 3); /* page_bytes = 300 cuts several pages */
			free(f.data);
		}
	}
	cl_batch_free(b);
	cl_schema_free(s);
}

TEST(pqw_row_group_limits)
{
	cl_error e = {0};
	cl_schema *s = schema_of("s string, i int64");
	cl_batch *b;
	CHECK_OK(cl_batch_create(&b, s, 1000, &e), &e);
	char buf[64];
	for (int i = 0; i < 1000; i++) {
		int n = snprintf(buf, sizeof buf, "row %d of a longer string value", i);
		cl_column_append_bytes(&b->cols[0], buf, (size_t)n, &e);
		cl_column_append_i64(&b->cols[1], i, &e);
	}
	b->nrows = 1000;
	char path[600];
	snprintf(path, sizeof path, "%s/r.parquet", cl_test_tmpdir());
	cl_write_options o;
	opts_plain(&o);
	o.row_group_rows = 300;
	cl_writer *w;
	CHECK_OK(cl_writer_open(&w, path, s, &o, &e), &e);
	for (int k = 0; k < 3; k++)
		CHECK_OK(cl_writer_write(w, b, &e), &e);
	CHECK_OK(cl_writer_close(w, &e), &e);
	cl_file_stats fs;
	CHECK_OK(cl_writer_file_stats(w, &fs, &e), &e);
	CHECK_EQ_INT(fs.num_rows, 3000);
	CHECK_EQ_INT(fs.num_row_groups, 10);
	cl_writer_free(w);
	pqfile f;
	CHECK(pq_load(&f, path));
	CHECK_EQ_INT(pq_row_groups(&f), 10);
	tr rg;
	CHECK(get_elem(f.footer, 4, 9, &rg, NULL));
	CHECK_EQ_INT(get_int(rg, 3, -1), 300);
	CHECK_EQ_INT(get_int(rg, 7, -1), 9);       /* ordinal */
	free(f.data);

	/* by bytes: small row_group_bytes cuts at slice granularity */
	o.row_group_rows = 1 << 20;
	o.row_group_bytes = 10000;
	CHECK_OK(write_one(path, s, b, &o, &e, NULL), &e);
	CHECK(pq_load(&f, path));
	CHECK(pq_row_groups(&f) == 1); /* one slice of 1000 rows, then the byte check */
	free(f.data);
	cl_batch_free(b);

	/* many small batches: byte limit hit every so often (PLAIN, so the
	 * encoded size is the bytes themselves) */
	o.dictionary = false;
	CHECK_OK(cl_batch_create(&b, s, 10, &e), &e);
	for (int i = 0; i < 10; i++) {
		cl_column_append_bytes(&b->cols[0], "0123456789012345678901234567890123456789", 40, &e);
		cl_column_append_i64(&b->cols[1], i, &e);
	}
	b->nrows = 10;
	CHECK_OK(cl_writer_open(&w, path, s, &o, &e), &e);
	for (int k = 0; k < 200; k++)
		CHECK_OK(cl_writer_write(w, b, &e), &e);
	CHECK_OK(cl_writer_close(w, &e), &e);
	CHECK_OK(cl_writer_file_stats(w, &fs, &e), &e);
	CHECK(fs.num_row_groups >= 5 && fs.num_row_groups <= 30);
	cl_writer_free(w);
	cl_batch_free(b);
	cl_schema_free(s);
}

TEST(pqw_errors)
{
	cl_error e = {0};
	const char *dir = cl_test_tmpdir();
	char path[600];
	snprintf(path, sizeof path, "%s/bad.parquet", dir);
	cl_schema *s = schema_of("a int64 not null, d decimal(5,2)");
	cl_batch *b;
	CHECK_OK(cl_batch_create(&b, s, 4, &e), &e);
	cl_column_append_i64(&b->cols[0], 1, &e);
	cl_column_append_null(&b->cols[0], &e);
	cl_i128 d = 1;
	cl_column_append_fixed(&b->cols[1], &d, &e);
	cl_column_append_fixed(&b->cols[1], &d, &e);
	b->nrows = 2;
	cl_write_options o;
	opts_plain(&o);
	CHECK_EQ_INT(write_one(path, s, b, &o, &e, NULL), CL_ETYPE);
	CHECK(strstr(e.message, "row 1") && strstr(e.message, "'a'") && strstr(e.message, "bad.parquet"));
	CHECK(!exists(path));
	CHECK_EQ_INT(count_dir(dir), 0);

	/* a decimal with more digits than its precision */
	cl_batch_clear(b);
	cl_column_append_i64(&b->cols[0], 1, &e);
	d = 100000; /* 1000.00 does not fit decimal(5,2) */
	cl_column_append_fixed(&b->cols[1], &d, &e);
	b->nrows = 1;
	CHECK_EQ_INT(write_one(path, s, b, &o, &e, NULL), CL_ETYPE);
	CHECK(strstr(e.message, "'d'") && strstr(e.message, "decimal(5,2)"));
	CHECK_EQ_INT(count_dir(dir), 0);

	/* a time(ms) that does not fit INT32 */
	cl_schema *ts = schema_of("t time(ms)");
	cl_batch *tb;
	CHECK_OK(cl_batch_create(&tb, ts, 4, &e), &e);
	cl_column_append_i64(&tb->cols[0], 5, &e);
	cl_column_append_i64(&tb->cols[0], (int64_t)1 << 40, &e);
	tb->nrows = 2;
	int trc = write_one(path, ts, tb, &o, &e, NULL);
	cl_batch_free(tb);
	cl_schema_free(ts);
	CHECK_EQ_INT(trc, CL_ETYPE);
	CHECK(strstr(e.message, "row 1") && strstr(e.message, "'t'"));
	CHECK_EQ_INT(count_dir(dir), 0);

	/* codecs that cannot be written, bad page version */
	o.compression = CL_CODEC_LZO;
	CHECK_EQ_INT(write_one(path, s, NULL, &o, &e, NULL), CL_EUNSUPPORTED);
	opts_plain(&o);
	o.page_version = 3;
	CHECK_EQ_INT(write_one(path, s, NULL, &o, &e, NULL), CL_EINVAL);
	CHECK_EQ_INT(count_dir(dir), 0);

	/* statistics of a CSV writer: not a Parquet writer */
	cl_writer *w;
	cl_write_options co;
	cl_write_options_init(&co);
	snprintf(path, sizeof path, "%s/x.csv", dir);
	if (cl_writer_open(&w, path, s, &co, &e) == 0) {
		cl_file_stats fs;
		CHECK_EQ_INT(cl_writer_file_stats(w, &fs, &e), CL_EINVAL);
		cl_writer_free(w);
	}
	cl_batch_free(b);
	cl_schema_free(s);
}

TEST(pqw_every_codec_and_empty_file)
{
	cl_error e = {0};
	const char *dir = cl_test_tmpdir();
	char path[600];
	cl_schema *s = schema_of("a string, b float64");
	cl_batch *b;
	CHECK_OK(cl_batch_create(&b, s, 100, &e), &e);
	for (int i = 0; i < 100; i++) {
		cl_column_append_bytes(&b->cols[0], "repeat repeat", 13, &e);
		cl_column_append_f64(&b->cols[1], i * 0.5, &e);
	}
	b->nrows = 100;
	const cl_codec codecs[] = {CL_CODEC_UNCOMPRESSED, CL_CODEC_SNAPPY, CL_CODEC_GZIP,
				   CL_CODEC_ZSTD, CL_CODEC_LZ4_RAW, CL_CODEC_BROTLI};
	for (size_t i = 0; i < sizeof codecs / sizeof *codecs; i++) {
		cl_write_options o;
		opts_plain(&o);
		o.compression = codecs[i];
		o.page_version = 1 + (int)(i & 1);
		snprintf(path, sizeof path, "%s/c%zu.parquet", dir, i);
		CHECK_OK(write_one(path, s, b, &o, &e, NULL), &e);
		pqfile f;
		CHECK(pq_load(&f, path));
		CHECK_EQ_INT(get_int(pq_column_meta(&f, 0, 0), 4, -1), codecs[i]);
		free(f.data);
	}
	/* zero rows: a valid file with no row groups */
	cl_write_options o;
	opts_plain(&o);
	snprintf(path, sizeof path, "%s/empty.parquet", dir);
	CHECK_OK(write_one(path, s, NULL, &o, &e, NULL), &e);
	pqfile f;
	CHECK(pq_load(&f, path));
	CHECK_EQ_INT(pq_row_groups(&f), 0);
	CHECK_EQ_INT(get_int(f.footer, 3, -1), 0);
	free(f.data);
	cl_batch_free(b);
	cl_schema_free(s);
}

/* Write a small file of several types with allocation n failing. */
static int faulty_write(const char *path, const cl_schema *s, const cl_batch *b, long n,
			cl_error *e)
{
	cl_write_options o;
	cl_write_options_init(&o);
	o.row_group_rows = 40;
	o.page_bytes = 64;
	o.dictionary_page_bytes = 200;
	cl_writer *w = NULL;
	cl_alloc_fail_after(n);
	int rc = cl_writer_open(&w, path, s, &o, e);
	if (!rc)
		rc = cl_writer_write(w, b, e);
	if (!rc)
		rc = cl_writer_write(w, b, e);
	if (!rc)
		rc = cl_writer_close(w, e);
	cl_file_stats fs;
	if (!rc)
		rc = cl_writer_file_stats(w, &fs, e);
	cl_alloc_fail_after(-1);
	cl_writer_free(w);
	return rc;
}

TEST(pqw_alloc_failures)
{
	cl_error e = {0};
	const char *dir = cl_test_tmpdir();
	char path[600];
	snprintf(path, sizeof path, "%s/f.parquet", dir);
	cl_schema *s = schema_of("i int64 not null, s string, d decimal(25,3), f float32, "
				 "b bool, t timestamp(ms,utc)");
	cl_batch *b;
	CHECK_OK(cl_batch_create(&b, s, 100, &e), &e);
	char buf[32];
	for (int i = 0; i < 100; i++) {
		cl_column_append_i64(&b->cols[0], i * 1000003, &e);
		int n = snprintf(buf, sizeof buf, "s%d", i % 37);
		if (i % 5 == 0)
			cl_column_append_null(&b->cols[1], &e);
		else
			cl_column_append_bytes(&b->cols[1], buf, (size_t)n, &e);
		cl_i128 d = (cl_i128)i * 123456789;
		cl_column_append_fixed(&b->cols[2], &d, &e);
		cl_column_append_f64(&b->cols[3], i * 0.25, &e);
		cl_column_append_bool(&b->cols[4], i & 1, &e);
		cl_column_append_i64(&b->cols[5], i * 86400000LL, &e);
	}
	b->nrows = 100;
	int failures = 0;
	bool ok = true;
	long n;
	for (n = 0; n < 5000; n++) {
		int rc = faulty_write(path, s, b, n, &e);
		if (rc == 0)
			break;
		failures++;
		if (rc != CL_ENOMEM) {
			printf("    allocation %ld: rc %d: %s\n", n, rc, e.message);
			ok = false;
		}
		if (count_dir(dir) != 0) {
			printf("    allocation %ld: a file was left behind\n", n);
			ok = false;
		}
		if (!ok)
			break;
	}
	CHECK(ok);
	printf("    %d allocation failures injected\n", failures);
	CHECK(failures > 20); /* every allocation of the writer was tried */
	CHECK(n < 5000);
	CHECK(exists(path));
	cl_batch_free(b);
	cl_schema_free(s);
}

static bool same_file(const char *a, const char *b)
{
	pqfile x, y;
	bool ok = pq_load(&x, a) && pq_load(&y, b) && x.len == y.len &&
		  !memcmp(x.data, y.data, x.len);
	free(x.data);
	free(y.data);
	return ok;
}

static cl_batch *threads_batch(cl_schema *s, int64_t n, cl_error *e)
{
	cl_batch *b;
	if (cl_batch_create(&b, s, n, e))
		return NULL;
	char buf[32];
	for (int64_t i = 0; i < n; i++) {
		cl_column_append_i64(&b->cols[0], i * 7919 % 100003, e);
		int k = snprintf(buf, sizeof buf, "v%lld", (long long)(i % 3000));
		if (i % 11 == 0)
			cl_column_append_null(&b->cols[1], e);
		else
			cl_column_append_bytes(&b->cols[1], buf, (size_t)k, e);
		cl_column_append_f64(&b->cols[2], (double)(i % 977) / 8, e);
		cl_column_append_i64(&b->cols[3], i * 1000, e);
	}
	b->nrows = n;
	return b;
}

TEST(pqw_threads_same_bytes)
{
	cl_error e = {0};
	const char *dir = cl_test_tmpdir();
	cl_schema *s = schema_of("i int64 not null, s string, f float64, t timestamp(us)");
	cl_batch *b = threads_batch(s, 50000, &e);
	CHECK(b != NULL);
	char one[600], two[600];
	snprintf(one, sizeof one, "%s/one.parquet", dir);
	snprintf(two, sizeof two, "%s/two.parquet", dir);
	cl_write_options o;
	cl_write_options_init(&o);
	o.row_group_rows = 30000;
	o.dictionary_page_bytes = 20000;
	CHECK_OK(write_one(one, s, b, &o, &e, NULL), &e);
	setenv("CL_THREADS", "3", 1);
	int rc = write_one(two, s, b, &o, &e, NULL);
	unsetenv("CL_THREADS");
	CHECK_OK(rc, &e);
	CHECK(same_file(one, two));

	/* an error in a worker thread reaches the caller, and nothing is left */
	cl_schema *s2 = schema_of("i int64 not null, s string, f float64, t timestamp(us) not null");
	cl_column_append_null(&b->cols[3], &e); /* row 50000 of the last column */
	cl_column_append_i64(&b->cols[0], 1, &e);
	cl_column_append_null(&b->cols[1], &e);
	cl_column_append_f64(&b->cols[2], 1, &e);
	b->nrows++;
	snprintf(two, sizeof two, "%s/bad.parquet", dir);
	setenv("CL_THREADS", "2", 1);
	o.row_group_rows = 1 << 20;
	rc = write_one(two, s2, b, &o, &e, NULL);
	unsetenv("CL_THREADS");
	CHECK_EQ_INT(rc, CL_ETYPE);
	CHECK(strstr(e.message, "row 50000") && strstr(e.message, "'t'"));
	CHECK(!exists(two));
	cl_batch_free(b);
	cl_schema_free(s);
	cl_schema_free(s2);
}

TEST(pqw_threads_alloc_failures)
{
	cl_error e = {0};
	const char *dir = cl_test_tmpdir();
	char path[600];
	snprintf(path, sizeof path, "%s/t.parquet", dir);
	cl_schema *s = schema_of("i int64 not null, s string, f float64, t timestamp(us)");
	cl_batch *b = threads_batch(s, 9000, &e);
	CHECK(b != NULL);
	cl_write_options o;
	cl_write_options_init(&o);
	o.page_bytes = 4096;
	o.dictionary_page_bytes = 4000;
	setenv("CL_THREADS", "2", 1);
	bool ok = true;
	int failures = 0;
	long n;
	for (n = 0; n < 20000 && ok; n += 1 + n / 16) {
		cl_writer *w = NULL;
		cl_alloc_fail_after(n);
		int rc = cl_writer_open(&w, path, s, &o, &e);
		if (!rc)
			rc = cl_writer_write(w, b, &e);
		if (!rc)
			rc = cl_writer_close(w, &e);
		cl_alloc_fail_after(-1);
		cl_writer_free(w);
		if (!rc)
			break;
		failures++;
		if (rc != CL_ENOMEM || count_dir(dir) != 0) {
			printf("    allocation %ld: rc %d: %s\n", n, rc, e.message);
			ok = false;
		}
	}
	unsetenv("CL_THREADS");
	CHECK(ok);
	CHECK(failures > 10);
	CHECK(exists(path));
	cl_batch_free(b);
	cl_schema_free(s);
}

TEST(pqw_long_string_bounds_stay_out_of_footer)
{
	cl_error e = {0};
	cl_schema *s = schema_of("s string");
	cl_batch *b;
	CHECK_OK(cl_batch_create(&b, s, 2, &e), &e);
	char *big = malloc(5000);
	memset(big, 'z', 5000);
	cl_column_append_bytes(&b->cols[0], "a", 1, &e);
	cl_column_append_bytes(&b->cols[0], big, 5000, &e);
	b->nrows = 2;
	char path[600];
	snprintf(path, sizeof path, "%s/l.parquet", cl_test_tmpdir());
	cl_write_options o;
	opts_plain(&o);
	cl_writer *w;
	CHECK_OK(cl_writer_open(&w, path, s, &o, &e), &e);
	CHECK_OK(cl_writer_write(w, b, &e), &e);
	CHECK_OK(cl_writer_close(w, &e), &e);
	cl_file_stats fs;
	CHECK_OK(cl_writer_file_stats(w, &fs, &e), &e);
	size_t n;
	const uint8_t *p = cl_column_get_bytes(&fs.max->cols[0], 0, &n);
	CHECK(fs.cols[0].has_min_max && n == 5000 && p[4999] == 'z'); /* exact via the API */
	cl_writer_free(w);
	pqfile f;
	CHECK(pq_load(&f, path));
	const uint8_t *mn, *mx;
	size_t mnn, mxn;
	int64_t nulls;
	CHECK(chunk_minmax(&f, 0, &mn, &mnn, &mx, &mxn, &nulls));
	CHECK(!mn && !mx && nulls == 0); /* too long for the footer: left out */
	free(f.data);
	free(big);
	cl_batch_free(b);
	cl_schema_free(s);
}

/* ---------- nested output ---------- */

/* Rows of the nested test table: id, s.a, s.t.b, s.l (list<long>), m (map<string,list<string>>). */
static const char *const NESTED_ROWS[][5] = {
	{"1", "10", "x", "[1,null,3]", "{\"k\":[\"a\",null],\"e\":[],\"n\":null}"},
	{"2", NULL, NULL, NULL, NULL},
	{"3", NULL, "y", "[]", "{}"},
	{"4", "40", NULL, "[null]", "{\"z\":[\"\"]}"},
	{"5", NULL, NULL, "[7]", NULL},
};

static cl_batch *nested_batch(const cl_schema *s, cl_error *e)
{
	cl_batch *b;
	if (cl_batch_create(&b, s, 8, e))
		return NULL;
	for (size_t r = 0; r < sizeof NESTED_ROWS / sizeof *NESTED_ROWS; r++) {
		for (int c = 0; c < 5; c++) {
			const char *v = NESTED_ROWS[r][c];
			if (!v)
				cl_column_append_null(&b->cols[c], e);
			else if (b->cols[c].type.id == CL_STRING)
				cl_column_append_bytes(&b->cols[c], v, strlen(v), e);
			else
				cl_column_append_i64(&b->cols[c], atoll(v), e);
		}
		b->nrows++;
	}
	return b;
}

static void nested_options(cl_write_options *o)
{
	static const char *const cols[] = {"s.l", "m"};
	static const char *const types[] = {"list<long>", "map<string, list<string>>"};
	cl_write_options_init(o);
	o->nest_dotted = true;
	o->nested_columns = cols;
	o->nested_types = types;
	o->nnested = 2;
}

TEST(pqw_nested_levels_and_readback)
{
	cl_error e = {0};
	char path[600];
	snprintf(path, sizeof path, "%s/n.parquet", cl_test_tmpdir());
	cl_schema *s = schema_of("id int64 not null, s.a int64, s.t.b string, s.l string, m string");
	cl_batch *b = nested_batch(s, &e);
	CHECK(b);
	cl_write_options o;
	nested_options(&o);
	for (int pv = 1; pv <= 2; pv++) {
		o.page_version = pv;
		o.page_bytes = pv == 2 ? 16 : 1 << 20; /* v2: a page every few rows */
		cl_writer *w = NULL;
		CHECK_OK(cl_writer_open(&w, path, s, &o, &e), &e);
		CHECK_OK(cl_writer_write(w, b, &e), &e);
		CHECK_OK(cl_writer_close(w, &e), &e);
		cl_file_stats st;
		CHECK_OK(cl_writer_file_stats(w, &st, &e), &e);
		CHECK_EQ_INT(st.ncols, 5);
		CHECK_EQ_INT(st.cols[3].null_count, 1); /* s.l: row 2 */
		CHECK_EQ_INT(st.cols[4].null_count, 2); /* m: rows 2 and 5 */
		CHECK_EQ_INT(st.cols[1].null_count, 3);
		cl_writer_free(w);

		/* the leaves and their levels, as the reader's footer sees them */
		cl_parquet_file *f;
		CHECK_OK(cl_parquet_file_open(&f, path, &e), &e);
		static const struct { const char *path; int def, rep; } want[] = {
			{"id", 0, 0}, {"s.a", 2, 0}, {"s.t.b", 3, 0}, {"s.l.list.element", 4, 1},
			{"m.key_value.key", 2, 1}, {"m.key_value.value.list.element", 5, 2}};
		CHECK_EQ_INT(cl_parquet_file_num_columns(f), 6);
		for (int i = 0; i < 6; i++) {
			cl_parquet_column pc;
			cl_parquet_file_column(f, i, &pc);
			CHECK_STR(pc.path, want[i].path);
			CHECK_EQ_INT(pc.max_def, want[i].def);
			CHECK_EQ_INT(pc.max_rep, want[i].rep);
		}
		cl_parquet_file_free(f);

		/* the reader gives every column back as written */
		cl_reader *r;
		CHECK_OK(cl_reader_open(&r, path, NULL, &e), &e);
		const cl_schema *rs = cl_reader_schema(r);
		CHECK_EQ_INT(rs->nfields, 5);
		for (int c = 0; c < 5; c++)
			CHECK_STR(rs->fields[c].name, s->fields[c].name);
		cl_batch *rb;
		int64_t row = 0;
		while (cl_reader_next(r, &rb, &e) == 0 && rb) {
			for (int64_t i = 0; i < rb->nrows; i++, row++)
				for (int c = 0; c < 5; c++) {
					const char *v = NESTED_ROWS[row][c];
					char *t = NULL;
					size_t n;
					CHECK_OK(cl_value_text(&rb->cols[c], i, &t, &n, &e), &e);
					if (!v || !t) {
						CHECK(!v && !t);
					} else {
						CHECK_STR(t, v);
					}
					cl_free(t);
				}
		}
		CHECK_EQ_INT(row, 5);
		cl_reader_free(r);
	}
	cl_batch_free(b);
	cl_schema_free(s);
}

TEST(pqw_nested_option_errors)
{
	cl_error e = {0};
	char path[600];
	snprintf(path, sizeof path, "%s/n.parquet", cl_test_tmpdir());
	static const struct { const char *schema; const char *col, *type; const char *msg; } cases[] = {
		{"a string, a.b int64", NULL, NULL, "'a' is also a column"},
		{"a.b int64, a string", NULL, NULL, "taken by another column"},
		{"a..b int64", NULL, NULL, "empty name segment"},
		{"x int64", "x", "list<long>", "must be a string column"},
		{"x string", "y", "list<long>", "does not have"},
		{"x string", "x", "struct<a:long>", "must be a list or a map"},
		{"x string", "x", "list<list<list<list<list<list<list<list<list<list<list<list<list"
				   "<list<list<list<list<list<list<list<list<list<list<list<list<list"
				   "<list<list<list<list<list<list<list<long>>>>>>>>>>>>>>>>>>>>>>>>>>"
				   ">>>>>>>", "nested too deeply"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		cl_schema *s = schema_of(cases[i].schema);
		cl_write_options o;
		cl_write_options_init(&o);
		o.nest_dotted = true;
		const char *cols[1] = {cases[i].col}, *types[1] = {cases[i].type};
		if (cases[i].col) {
			o.nested_columns = cols;
			o.nested_types = types;
			o.nnested = 1;
		}
		cl_writer *w = NULL;
		int rc = cl_writer_open(&w, path, s, &o, &e);
		if (rc == 0 || !strstr(e.message, cases[i].msg))
			printf("    case %zu: rc %d: %s\n", i, rc, e.message);
		CHECK(rc != 0 && strstr(e.message, cases[i].msg));
		cl_writer_free(w);
		cl_schema_free(s);
	}
	CHECK_EQ_INT(count_dir(cl_test_tmpdir()), 0);
}

TEST(pqw_nested_alloc_failures)
{
	cl_error e = {0};
	const char *dir = cl_test_tmpdir();
	char path[600];
	snprintf(path, sizeof path, "%s/n.parquet", dir);
	cl_schema *s = schema_of("id int64 not null, s.a int64, s.t.b string, s.l string, m string");
	cl_batch *b = nested_batch(s, &e);
	CHECK(b);
	cl_write_options o;
	nested_options(&o);
	o.page_bytes = 16;
	int failures = 0;
	long n;
	bool ok = true;
	for (n = 0; n < 5000 && ok; n++) {
		cl_writer *w = NULL;
		cl_alloc_fail_after(n);
		int rc = cl_writer_open(&w, path, s, &o, &e);
		rc = rc ? rc : cl_writer_write(w, b, &e);
		rc = rc ? rc : cl_writer_write(w, b, &e);
		rc = rc ? rc : cl_writer_close(w, &e);
		cl_alloc_fail_after(-1);
		cl_writer_free(w);
		if (rc == 0)
			break;
		failures++;
		if (rc != CL_ENOMEM || count_dir(dir) != 0) {
			printf("    allocation %ld: rc %d: %s\n", n, rc, e.message);
			ok = false;
		}
	}
	CHECK(ok);
	CHECK(failures > 30);
	CHECK(n < 5000);
	cl_batch_free(b);
	cl_schema_free(s);
}

/*
 * Page buffers keep their capacity across pages and row groups, and grow
 * first to about a page: values smaller and larger than that first size
 * (strings past page_bytes force a growth beyond it, short ones first fill
 * a page buffer of the first size), PLAIN and dictionary pages that fall
 * back, many pages per row group and many row groups, all
 * read back as written, for v1 and v2 pages and with and without a codec.
 */
TEST(pqw_page_buffers_reused_across_row_groups)
{
	cl_error e = {0};
	char path[600];
	snprintf(path, sizeof path, "%s/reuse.parquet", cl_test_tmpdir());
	cl_schema *s = schema_of("i int64 not null, s string, d float64, k string");
	const int64_t n = 3000;
	cl_batch *b;
	CHECK_OK(cl_batch_create(&b, s, n, &e), &e);
	char *big = malloc(5000);
	CHECK(big);
	for (int64_t r = 0; r < n; r++) {
		size_t len = (size_t)(r % 23);
		if (r % 97 == 96)
			len = 1000 + (size_t)(r % 4000); /* past the first size */
		else if (r % 97 == 50)
			len = 500 + (size_t)(r % 120); /* past it after short ones */
		for (size_t j = 0; j < len; j++)
			big[j] = (char)('a' + (r + (int64_t)j) % 26);
		cl_column_append_i64(&b->cols[0], r * 2654435761 % 1000003, &e);
		if (r % 13 == 5)
			cl_column_append_null(&b->cols[1], &e);
		else
			cl_column_append_bytes(&b->cols[1], big, len, &e);
		cl_column_append_f64(&b->cols[2], (double)r / 7, &e);
		char kb[16];
		int kn = snprintf(kb, sizeof kb, "k%d", (int)(r % 5));
		cl_column_append_bytes(&b->cols[3], kb, (size_t)kn, &e);
	}
	b->nrows = n;
	for (int v = 0; v < 8; v++) {
		cl_write_options o;
		cl_write_options_init(&o);
		o.format = CL_FORMAT_PARQUET;
		o.page_version = 1 + (v & 1);
		o.compression = v & 2 ? CL_CODEC_SNAPPY : CL_CODEC_UNCOMPRESSED;
		o.page_bytes = 512;
		o.dictionary_page_bytes = 2048;
		o.dictionary = !(v & 4); /* PLAIN from the first value */
		o.row_group_rows = 700;
		cl_writer *w = NULL;
		CHECK_OK(cl_writer_open(&w, path, s, &o, &e), &e);
		CHECK_OK(cl_writer_write(w, b, &e), &e);
		CHECK_OK(cl_writer_write(w, b, &e), &e);
		CHECK_OK(cl_writer_close(w, &e), &e);
		cl_file_stats st;
		CHECK_OK(cl_writer_file_stats(w, &st, &e), &e);
		CHECK_EQ_INT(st.num_rows, 2 * n);
		CHECK(st.num_row_groups >= 8);
		cl_writer_free(w);

		cl_reader *rd;
		CHECK_OK(cl_reader_open(&rd, path, NULL, &e), &e);
		cl_batch *rb;
		int64_t row = 0, bad = 0;
		int rrc;
		while ((rrc = cl_reader_next(rd, &rb, &e)) == 0 && rb) {
			for (int64_t i = 0; i < rb->nrows; i++, row++) {
				int64_t r = row % n;
				size_t la, lb;
				const uint8_t *pa, *pb;
				bad += cl_column_get_i64(&rb->cols[0], i) !=
				       cl_column_get_i64(&b->cols[0], r);
				bad += cl_column_is_null(&rb->cols[1], i) !=
				       cl_column_is_null(&b->cols[1], r);
				if (!cl_column_is_null(&b->cols[1], r)) {
					pa = cl_column_get_bytes(&rb->cols[1], i, &la);
					pb = cl_column_get_bytes(&b->cols[1], r, &lb);
					bad += la != lb || memcmp(pa, pb, la) != 0;
				}
				double da, db;
				memcpy(&da, rb->cols[2].values + 8 * i, 8);
				memcpy(&db, b->cols[2].values + 8 * r, 8);
				bad += da != db;
				pa = cl_column_get_bytes(&rb->cols[3], i, &la);
				pb = cl_column_get_bytes(&b->cols[3], r, &lb);
				bad += la != lb || memcmp(pa, pb, la) != 0;
			}
		}
		CHECK_OK(rrc, &e);
		CHECK_EQ_INT(row, 2 * n);
		CHECK_EQ_INT(bad, 0);
		cl_reader_free(rd);
	}
	free(big);
	cl_batch_free(b);
	cl_schema_free(s);
}

/* ---------- runs of a batch; buffers reused from writer to writer ---------- */

/* A batch of n rows: id, a string with NULLs and repeats (dictionary), a
 * double with NULLs, a distinct string (PLAIN after the probe). */
static cl_batch *runs_batch(cl_schema *s, int64_t n, int seed)
{
	cl_error e = {0};
	cl_batch *b = NULL;
	if (cl_batch_create(&b, s, n, &e))
		return NULL;
	char buf[64];
	int rc = 0;
	for (int64_t i = 0; !rc && i < n; i++) {
		rc = cl_column_append_i64(&b->cols[0], i * 7 + seed, &e);
		int len = snprintf(buf, sizeof buf, "cat-%lld", (long long)((i * 13 + seed) % 97));
		rc = rc ? rc : i % 11 == 4 ? cl_column_append_null(&b->cols[1], &e)
				: cl_column_append_bytes(&b->cols[1], buf, (size_t)len, &e);
		rc = rc ? rc : i % 5 == 1 ? cl_column_append_null(&b->cols[2], &e)
				: cl_column_append_f64(&b->cols[2], (double)(i * 31 % 100003) / 100.0, &e);
		len = snprintf(buf, sizeof buf, "note %lld/%d", (long long)(i * 2654435761u % 1000003), seed);
		rc = rc ? rc : cl_column_append_bytes(&b->cols[3], buf, (size_t)len, &e);
	}
	b->nrows = n;
	if (rc) {
		cl_batch_free(b);
		return NULL;
	}
	return b;
}

/* Every row of file path as text, "|"-joined per row, "\n" between rows. */
static char *file_text(const char *path)
{
	cl_error e = {0};
	cl_reader *r = NULL;
	cl_buf out = {0};
	cl_batch *rb;
	if (cl_reader_open(&r, path, NULL, &e))
		return NULL;
	int rc;
	while (!(rc = cl_reader_next(r, &rb, &e)) && rb)
		for (int64_t i = 0; i < rb->nrows; i++) {
			for (int c = 0; c < rb->ncols; c++) {
				char *t = NULL;
				size_t n;
				if (cl_value_text(&rb->cols[c], i, &t, &n, &e) == 0 && t)
					cl_buf_append(&out, t, n);
				else
					cl_buf_puts(&out, "NULL");
				cl_free(t);
				cl_buf_putc(&out, c + 1 < rb->ncols ? '|' : '\n');
			}
		}
	cl_reader_free(r);
	if (rc) {
		cl_buf_release(&out);
		return NULL;
	}
	return (char *)cl_buf_detach(&out, NULL);
}

/*
 * cl__parquet_writer_write_runs: runs of a batch (a single row, a run
 * across row groups, runs in two calls) give the same rows, statistics
 * and row count as writing those rows copied into a batch of their own;
 * runs out of order or outside the batch are refused.
 */
TEST(pqw_write_runs_same_rows_as_copy)
{
	cl_error e = {0};
	cl_schema *s = schema_of("id int64 not null, cat string, amount float64, note string");
	enum { N = 30000 };
	cl_batch *b = runs_batch(s, N, 1);
	CHECK(b);
	const int64_t runs[] = {0, 1, 2, 998, 1500, 7000, 8501, 1, 9000, 12000, 21001, 8999};
	const int64_t nruns = sizeof runs / sizeof runs[0] / 2;
	cl_batch *copy;
	CHECK_OK(cl_batch_create(&copy, s, N, &e), &e);
	for (int64_t k = 0; k < nruns; k++) {
		for (int c = 0; c < 4; c++)
			CHECK_OK(cl_column_append_range(&copy->cols[c], &b->cols[c], runs[2 * k],
							runs[2 * k + 1], &e), &e);
		copy->nrows += runs[2 * k + 1];
	}
	cl_write_options o;
	opts_plain(&o);
	o.compression = CL_CODEC_SNAPPY;
	o.row_group_rows = 5000;
	o.page_bytes = 16 << 10;
	char pa[600], pb[600];
	snprintf(pa, sizeof pa, "%s/runs.parquet", cl_test_tmpdir());
	snprintf(pb, sizeof pb, "%s/runs_copy.parquet", cl_test_tmpdir());
	cl_file_stats sa, sb;
	cl_writer *w = NULL;
	CHECK_OK(cl_writer_open(&w, pa, s, &o, &e), &e);
	/* two calls: the first three runs, then the rest */
	CHECK_OK(cl__parquet_writer_write_runs(w, b, runs, 3, &e), &e);
	CHECK_OK(cl__parquet_writer_write_runs(w, b, runs + 6, nruns - 3, &e), &e);
	/* refused: out of order, overlapping, past the end, negative */
	const int64_t back[] = {100, 10, 50, 10}, over[] = {100, 10, 105, 10},
		      past[] = {N - 5, 6}, neg[] = {-1, 3};
	CHECK_EQ_INT(cl__parquet_writer_write_runs(w, b, back, 2, &e), CL_EINTERNAL);
	CHECK_EQ_INT(cl__parquet_writer_write_runs(w, b, over, 2, &e), CL_EINTERNAL);
	CHECK_EQ_INT(cl__parquet_writer_write_runs(w, b, past, 1, &e), CL_EINTERNAL);
	CHECK_EQ_INT(cl__parquet_writer_write_runs(w, b, neg, 1, &e), CL_EINTERNAL);
	CHECK_OK(cl_writer_close(w, &e), &e);
	CHECK_OK(cl_writer_file_stats(w, &sa, &e), &e);
	int64_t rows_a = sa.num_rows;
	int rg_a = sa.num_row_groups;
	int64_t nulls_a[4];
	for (int c = 0; c < 4; c++)
		nulls_a[c] = sa.cols[c].null_count;
	char *min_a = NULL, *max_a = NULL;
	size_t n;
	CHECK_OK(cl_value_text(&sa.min->cols[2], 0, &min_a, &n, &e), &e);
	CHECK_OK(cl_value_text(&sa.max->cols[3], 0, &max_a, &n, &e), &e);
	cl_writer_free(w);
	CHECK_OK(cl_writer_open(&w, pb, s, &o, &e), &e);
	CHECK_OK(cl_writer_write(w, copy, &e), &e);
	CHECK_OK(cl_writer_close(w, &e), &e);
	CHECK_OK(cl_writer_file_stats(w, &sb, &e), &e);
	CHECK_EQ_INT(rows_a, copy->nrows);
	CHECK_EQ_INT(sb.num_rows, copy->nrows);
	CHECK_EQ_INT(rg_a, sb.num_row_groups);
	for (int c = 0; c < 4; c++)
		CHECK_EQ_INT(nulls_a[c], sb.cols[c].null_count);
	char *min_b = NULL, *max_b = NULL;
	CHECK_OK(cl_value_text(&sb.min->cols[2], 0, &min_b, &n, &e), &e);
	CHECK_OK(cl_value_text(&sb.max->cols[3], 0, &max_b, &n, &e), &e);
	CHECK(min_a && min_b && strcmp(min_a, min_b) == 0);
	CHECK(max_a && max_b && strcmp(max_a, max_b) == 0);
	cl_writer_free(w);
	char *ta = file_text(pa), *tb = file_text(pb);
	CHECK(ta && tb && strcmp(ta, tb) == 0);
	/* a CSV writer has no runs entry */
	snprintf(pb, sizeof pb, "%s/runs.csv", cl_test_tmpdir());
	cl_write_options oc;
	cl_write_options_init(&oc);
	oc.format = CL_FORMAT_CSV;
	CHECK_OK(cl_writer_open(&w, pb, s, &oc, &e), &e);
	CHECK_EQ_INT(cl__parquet_writer_write_runs(w, b, runs, 1, &e), CL_EINTERNAL);
	cl_writer_free(w);
	cl_free(ta);
	cl_free(tb);
	cl_free(min_a);
	cl_free(max_a);
	cl_free(min_b);
	cl_free(max_b);
	cl_batch_free(copy);
	cl_batch_free(b);
	cl_schema_free(s);
}

static bool file_bytes(const char *path, uint8_t **data, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return false;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	*data = malloc((size_t)n + 1);
	bool ok = *data && fread(*data, 1, (size_t)n, f) == (size_t)n;
	*len = (size_t)n;
	fclose(f);
	return ok;
}

/*
 * Pages, page buffers and dictionary tables go back to a pool when a
 * writer is done and are taken by the next writer (dirty): the same rows
 * written before and after a writer of other rows (other sizes, values and
 * threads) give the same bytes.
 */
TEST(pqw_pool_reused_buffers_same_bytes)
{
	cl_error e = {0};
	cl_schema *s = schema_of("id int64 not null, cat string, amount float64, note string");
	cl_batch *a = runs_batch(s, 40000, 3), *other = runs_batch(s, 90000, 8);
	CHECK(a && other);
	cl_write_options o;
	opts_plain(&o);
	o.compression = CL_CODEC_SNAPPY;
	o.row_group_rows = 30000;
	char p1[600], p2[600], p3[600];
	snprintf(p1, sizeof p1, "%s/pool1.parquet", cl_test_tmpdir());
	snprintf(p2, sizeof p2, "%s/pool2.parquet", cl_test_tmpdir());
	snprintf(p3, sizeof p3, "%s/pool3.parquet", cl_test_tmpdir());
	CHECK_OK(write_one(p1, s, a, &o, &e, NULL), &e);
	o.threads = 2;
	o.page_bytes = 300 << 10;
	CHECK_OK(write_one(p2, s, other, &o, &e, NULL), &e);
	opts_plain(&o); /* the first file's options again */
	o.compression = CL_CODEC_SNAPPY;
	o.row_group_rows = 30000;
	CHECK_OK(write_one(p3, s, a, &o, &e, NULL), &e);
	uint8_t *d1 = NULL, *d3 = NULL;
	size_t n1 = 0, n3 = 0;
	CHECK(file_bytes(p1, &d1, &n1) && file_bytes(p3, &d3, &n3));
	CHECK(n1 == n3 && memcmp(d1, d3, n1) == 0);
	char *t = file_text(p3);
	CHECK(t && strncmp(t, "3|cat-3|", 8) == 0);
	cl_free(t);
	free(d1);
	free(d3);
	cl_batch_free(a);
	cl_batch_free(other);
	cl_schema_free(s);
}

/*
 * Dictionary decisions from one file to the next: a column whose
 * dictionary overflowed in one file (fell_back) starts PLAIN in the next
 * writer given start_plain (no dictionary page at all, where a writer
 * without it starts dictionary encoded again); a column that kept its
 * dictionary keeps it; start_plain after the first rows changes nothing.
 */
TEST(pqw_start_plain_carried_to_next_file)
{
	cl_error e = {0};
	cl_schema *s = schema_of("s string not null, low int32 not null");
	cl_batch *b;
	CHECK_OK(cl_batch_create(&b, s, 6000, &e), &e);
	char buf[32];
	for (int i = 0; i < 6000; i++) {
		int n = snprintf(buf, sizeof buf, "value-%d", i);
		cl_column_append_bytes(&b->cols[0], buf, (size_t)n, &e);
		cl_column_append_i64(&b->cols[1], i % 10, &e);
	}
	b->nrows = 6000;
	cl_write_options o;
	opts_plain(&o);
	o.dictionary_page_bytes = 20000;
	o.page_bytes = 8192;
	char path[600];
	snprintf(path, sizeof path, "%s/plain_next.parquet", cl_test_tmpdir());
	bool plain[2] = {false, true};
	int dp, rd, pl;
	int64_t db;
	for (int round = 0; round < 3; round++) {
		cl_writer *w = NULL;
		CHECK_OK(cl_writer_open(&w, path, s, &o, &e), &e);
		if (round == 1)
			cl__parquet_writer_start_plain(w, plain, 2);
		CHECK_OK(cl_writer_write(w, b, &e), &e);
		if (round == 2) /* too late: rows written */
			cl__parquet_writer_start_plain(w, plain, 2);
		bool fb[2] = {false, true};
		cl__parquet_writer_fell_back(w, fb, 2);
		/* s overflows its dictionary every time; low never */
		CHECK(fb[0] && !fb[1]);
		if (round == 0)
			memcpy(plain, fb, sizeof plain);
		CHECK_OK(cl_writer_close(w, &e), &e);
		cl_writer_free(w);
		pqfile f;
		CHECK(pq_load(&f, path));
		CHECK(count_pages(&f, 0, 0, &dp, &rd, &pl, &db));
		if (round == 1)
			CHECK(dp == 0 && rd == 0 && pl >= 1);
		else
			CHECK(dp == 1 && rd >= 1 && pl >= 1);
		CHECK(count_pages(&f, 0, 1, &dp, &rd, &pl, &db));
		CHECK(dp == 1 && rd >= 1 && pl == 0);
		free(f.data);
		char *t = file_text(path);
		CHECK(t && strncmp(t, "value-0|0\nvalue-1|1\n", 20) == 0 && strstr(t, "value-5999|9\n"));
		cl_free(t);
	}
	cl_batch_free(b);
	cl_schema_free(s);
}

/*
 * SNAPPY pages: values whose first 64 KiB do not shrink by a tenth (random
 * 64-bit ints) go in as literal elements, values that do (few distinct
 * small ints with NULLs, so levels in front) are compressed; every value
 * reads back as written and as from an uncompressed file.
 */
TEST(pqw_snappy_literal_and_compressed_parts)
{
	cl_error e = {0};
	cl_schema *s = schema_of("r int64 not null, z int64, t string");
	enum { N = 150000 };
	cl_batch *b;
	CHECK_OK(cl_batch_create(&b, s, N, &e), &e);
	uint64_t x = 0x9E3779B97F4A7C15ull;
	char buf[40];
	for (int64_t i = 0; i < N; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		cl_column_append_i64(&b->cols[0], (int64_t)x, &e);
		if (i % 13 == 5)
			cl_column_append_null(&b->cols[1], &e);
		else
			cl_column_append_i64(&b->cols[1], i % 7, &e);
		int n = snprintf(buf, sizeof buf, "text %lld of many", (long long)(i / 3));
		cl_column_append_bytes(&b->cols[2], buf, (size_t)n, &e);
	}
	b->nrows = N;
	cl_write_options o;
	opts_plain(&o);
	o.dictionary = false;
	char pu[600], ps[600];
	snprintf(pu, sizeof pu, "%s/lit_plain.parquet", cl_test_tmpdir());
	snprintf(ps, sizeof ps, "%s/lit_snappy.parquet", cl_test_tmpdir());
	CHECK_OK(write_one(pu, s, b, &o, &e, NULL), &e);
	o.compression = CL_CODEC_SNAPPY;
	CHECK_OK(write_one(ps, s, b, &o, &e, NULL), &e);
	pqfile f;
	CHECK(pq_load(&f, ps));
	/* r: literal, a few bytes per 64 KiB over its size; z, t: compressed */
	tr cm = pq_column_meta(&f, 0, 0);
	int64_t u = get_int(cm, 6, -1), c = get_int(cm, 7, -1);
	CHECK(u > 8 * N && c >= u - 64 && c < u + u / 1000);
	for (int col = 1; col < 3; col++) {
		cm = pq_column_meta(&f, 0, col);
		CHECK(get_int(cm, 7, -1) * 2 < get_int(cm, 6, -1));
	}
	free(f.data);
	char *tu = file_text(pu), *ts = file_text(ps);
	CHECK(tu && ts && strcmp(tu, ts) == 0);
	CHECK(ts && strstr(ts, "|NULL|text 1 of many\n"));
	cl_free(tu);
	cl_free(ts);
	cl_batch_free(b);
	cl_schema_free(s);
}
