/*
 * dv.c — Delta deletion vectors: the RoaringBitmapArray codec (portable
 * serialization), Z85, deletion vector files, loading the vector of a
 * descriptor, and the builder of a commit's new vector file.
 *
 * Invariants:
 *  - A decoded row set is sorted and distinct: the decoder refuses keys
 *    or values out of order (a valid serialization never has them), so
 *    callers can binary-search and merge it.
 *  - Every length, count and offset of an input is checked against the
 *    bytes that are there before it is used; a bitmap whose containers
 *    claim more than CL__DV_MAX_ROWS rows is refused before allocating.
 *  - The decoder also reads Delta's "native" RoaringBitmapArray layout
 *    (magic 1681511376, framing in either byte order; PROTOCOL.md's inline
 *    example uses it); the encoder writes only the portable one.
 *  - The encoder writes what Delta writers write: magic, the count of
 *    non-empty 32-bit bitmaps, and per bitmap its key and a portable
 *    Roaring bitmap whose containers are arrays (<= 4096 values), bitmaps,
 *    or runs where a run container is the smallest.
 */
#include "table/dv.h"

#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "table/delta.h"

#define DV_MAGIC 1681511377u        /* portable RoaringBitmapArray */
#define DV_MAGIC_NATIVE 1681511376u /* Delta's "native" RoaringBitmapArray format */
#define COOKIE_NORUN 12346u
#define COOKIE_RUN 12347u
#define ARRAY_MAX 4096u
#define BITMAP_BYTES 8192u
/* A vector of more rows than this is refused as corrupt (no data file has
 * that many rows; it bounds what a small malicious input can allocate). */
#define CL__DV_MAX_ROWS ((uint64_t)1 << 31)

/* ------------------------------------------------------------------ */
/* Little/big-endian helpers. */

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}
static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}
static uint64_t rd64(const uint8_t *p)
{
	return (uint64_t)rd32(p) | ((uint64_t)rd32(p + 4) << 32);
}
static uint32_t rd32be(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) |
	       (uint32_t)p[3];
}
static int put16(cl_buf *b, uint32_t v)
{
	uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
	return cl_buf_append(b, x, 2);
}
static int put32(cl_buf *b, uint32_t v)
{
	uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
			(uint8_t)(v >> 24)};
	return cl_buf_append(b, x, 4);
}
static int put32be(cl_buf *b, uint32_t v)
{
	uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8),
			(uint8_t)v};
	return cl_buf_append(b, x, 4);
}

/* ------------------------------------------------------------------ */
/* Decoding. */

/* One portable 32-bit Roaring bitmap at buf[*pos..len): its containers'
 * rows (high bits `hi`) are appended to rows[*n..] (capacity checked by the
 * caller from `card_only` pass). card_only: only sum the cardinality into
 * *total and validate the layout. */
static int bitmap32(const uint8_t *buf, size_t len, size_t *pos, uint64_t hi,
		    uint64_t *rows, size_t *n, uint64_t *total, bool card_only,
		    size_t bi, cl_error *err)
{
	size_t start = *pos, p = *pos;
	if (len - p < 4)
		return cl_error_set(err, CL_EFORMAT,
				    "deletion vector bitmap %zu: truncated cookie", bi);
	uint32_t cookie = rd32(buf + p);
	p += 4;
	uint32_t ncont;
	const uint8_t *runbits = NULL;
	bool has_offsets;
	if ((cookie & 0xffffu) == COOKIE_RUN) {
		ncont = (cookie >> 16) + 1;
		size_t rb = (ncont + 7) / 8;
		if (len - p < rb)
			return cl_error_set(err, CL_EFORMAT,
					    "deletion vector bitmap %zu: truncated run flags", bi);
		runbits = buf + p;
		p += rb;
		has_offsets = ncont >= 4;
	} else if (cookie == COOKIE_NORUN) {
		if (len - p < 4)
			return cl_error_set(err, CL_EFORMAT,
					    "deletion vector bitmap %zu: truncated container count",
					    bi);
		ncont = rd32(buf + p);
		p += 4;
		if (ncont > 65536)
			return cl_error_set(err, CL_EFORMAT,
					    "deletion vector bitmap %zu: %u containers (at most 65536)",
					    bi, ncont);
		has_offsets = true;
	} else {
		return cl_error_set(err, CL_EFORMAT,
				    "deletion vector bitmap %zu: bad cookie %u", bi, cookie);
	}
	size_t hdr = (size_t)ncont * 4, offs = has_offsets ? (size_t)ncont * 4 : 0;
	if (len - p < hdr + offs)
		return cl_error_set(err, CL_EFORMAT,
				    "deletion vector bitmap %zu: truncated container headers", bi);
	const uint8_t *keys = buf + p;
	const uint8_t *offsets = has_offsets ? buf + p + hdr : NULL;
	p += hdr + offs;
	for (uint32_t c = 0; c < ncont; c++) {
		uint32_t key = rd16(keys + 4 * (size_t)c);
		uint32_t card = (uint32_t)rd16(keys + 4 * (size_t)c + 2) + 1;
		if (c > 0 && key <= rd16(keys + 4 * (size_t)(c - 1)))
			return cl_error_set(err, CL_EFORMAT,
					    "deletion vector bitmap %zu: container keys not ascending "
					    "at container %u", bi, c);
		if (offsets && rd32(offsets + 4 * (size_t)c) != p - start)
			return cl_error_set(err, CL_EFORMAT,
					    "deletion vector bitmap %zu: container %u offset %u, "
					    "expected %zu", bi, c, rd32(offsets + 4 * (size_t)c),
					    p - start);
		uint64_t base = hi | ((uint64_t)key << 16);
		bool is_run = runbits && (runbits[c / 8] >> (c % 8)) & 1;
		if (is_run) {
			if (len - p < 2)
				return cl_error_set(err, CL_EFORMAT,
						    "deletion vector bitmap %zu: truncated run container %u",
						    bi, c);
			uint32_t nruns = rd16(buf + p);
			p += 2;
			if (len - p < (size_t)nruns * 4)
				return cl_error_set(err, CL_EFORMAT,
						    "deletion vector bitmap %zu: truncated run container %u",
						    bi, c);
			uint32_t sum = 0;
			int64_t prev_end = -1;
			for (uint32_t r = 0; r < nruns; r++) {
				uint32_t s = rd16(buf + p + 4 * (size_t)r);
				uint32_t l = rd16(buf + p + 4 * (size_t)r + 2);
				if ((int64_t)s <= prev_end || s + l > 65535)
					return cl_error_set(err, CL_EFORMAT,
							    "deletion vector bitmap %zu: run %u of "
							    "container %u overlaps or overflows", bi, r, c);
				prev_end = (int64_t)s + l;
				sum += l + 1;
				if (!card_only)
					for (uint32_t v = s; v <= s + l; v++)
						rows[(*n)++] = base | v;
			}
			if (sum != card)
				return cl_error_set(err, CL_EFORMAT,
						    "deletion vector bitmap %zu: run container %u holds "
						    "%u values, header says %u", bi, c, sum, card);
			p += (size_t)nruns * 4;
		} else if (card <= ARRAY_MAX) {
			if (len - p < (size_t)card * 2)
				return cl_error_set(err, CL_EFORMAT,
						    "deletion vector bitmap %zu: truncated array container %u",
						    bi, c);
			for (uint32_t i = 0; i < card; i++) {
				uint32_t v = rd16(buf + p + 2 * (size_t)i);
				if (i > 0 && v <= rd16(buf + p + 2 * (size_t)(i - 1)))
					return cl_error_set(err, CL_EFORMAT,
							    "deletion vector bitmap %zu: array container "
							    "%u not ascending", bi, c);
				if (!card_only)
					rows[(*n)++] = base | v;
			}
			p += (size_t)card * 2;
		} else {
			if (len - p < BITMAP_BYTES)
				return cl_error_set(err, CL_EFORMAT,
						    "deletion vector bitmap %zu: truncated bitmap container %u",
						    bi, c);
			uint32_t got = 0;
			for (uint32_t w = 0; w < BITMAP_BYTES / 8; w++) {
				uint64_t word = rd64(buf + p + 8 * (size_t)w);
				got += (uint32_t)__builtin_popcountll(word);
				while (!card_only && word) {
					int b = __builtin_ctzll(word);
					rows[(*n)++] = base | ((uint64_t)w * 64 + (uint64_t)b);
					word &= word - 1;
				}
			}
			if (got != card)
				return cl_error_set(err, CL_EFORMAT,
						    "deletion vector bitmap %zu: bitmap container %u holds "
						    "%u values, header says %u", bi, c, got, card);
			p += BITMAP_BYTES;
		}
		*total += card;
	}
	*pos = p;
	return 0;
}

/*
 * Delta's "native" RoaringBitmapArray serialization (magic 1681511376):
 * int32 number of bitmaps, then per bitmap its int32 length and a portable
 * Roaring bitmap whose high key is its index. Writers use the portable
 * format; PROTOCOL.md's inline example is native with big-endian framing
 * (magic, count, lengths), so both byte orders of the framing are read —
 * the magic tells which. The bitmaps are standard (little-endian).
 */
static int decode_native(const uint8_t *buf, size_t len, uint64_t *rows, size_t *n,
			 uint64_t *total, bool card_only, bool be, cl_error *err)
{
	uint32_t nb = be ? rd32be(buf + 4) : rd32(buf + 4);
	/* every bitmap takes at least 12 bytes (length, cookie, count) */
	if (nb > (len - 8) / 12)
		return cl_error_set(err, CL_EFORMAT,
				    "deletion vector: %u native bitmaps do not fit in %zu bytes", nb,
				    len);
	size_t pos = 8;
	for (uint32_t i = 0; i < nb; i++) {
		if (len - pos < 4)
			return cl_error_set(err, CL_EFORMAT,
					    "deletion vector: truncated length of native bitmap %u", i);
		uint32_t bl = be ? rd32be(buf + pos) : rd32(buf + pos);
		pos += 4;
		if (bl > len - pos)
			return cl_error_set(err, CL_EFORMAT,
					    "deletion vector: native bitmap %u of %u bytes, %zu left", i,
					    bl, len - pos);
		size_t end = pos + bl;
		int rc = bitmap32(buf, end, &pos, (uint64_t)i << 32, rows, n, total, card_only,
				  (size_t)i, err);
		if (rc)
			return rc;
		if (pos != end)
			return cl_error_set(err, CL_EFORMAT,
					    "deletion vector: native bitmap %u has %zu bytes after it", i,
					    end - pos);
		if (*total > CL__DV_MAX_ROWS)
			return cl_error_set(err, CL_EFORMAT, "deletion vector: more than %llu rows",
					    (unsigned long long)CL__DV_MAX_ROWS);
	}
	if (pos != len)
		return cl_error_set(err, CL_EFORMAT,
				    "deletion vector: %zu bytes after the bitmaps", len - pos);
	return 0;
}

/* Both passes over a whole RoaringBitmapArray. */
static int decode_pass(const uint8_t *buf, size_t len, uint64_t *rows, size_t *n,
		       uint64_t *total, bool card_only, cl_error *err)
{
	if (len < 8)
		return cl_error_set(err, CL_EFORMAT,
				    "deletion vector: %zu bytes, too short for the header", len);
	uint32_t magic = rd32(buf);
	if (magic == DV_MAGIC_NATIVE || rd32be(buf) == DV_MAGIC_NATIVE)
		return decode_native(buf, len, rows, n, total, card_only, magic != DV_MAGIC_NATIVE,
				     err);
	if (len < 12)
		return cl_error_set(err, CL_EFORMAT,
				    "deletion vector: %zu bytes, too short for the header", len);
	if (magic != DV_MAGIC)
		return cl_error_set(err, CL_EFORMAT, "deletion vector: bad magic %u", magic);
	uint64_t nb = rd64(buf + 4);
	/* every bitmap takes at least 12 bytes (key, cookie, count) */
	if (nb > (len - 12) / 12)
		return cl_error_set(err, CL_EFORMAT,
				    "deletion vector: %llu bitmaps do not fit in %zu bytes",
				    (unsigned long long)nb, len);
	size_t pos = 12;
	int64_t prev_key = -1;
	for (uint64_t i = 0; i < nb; i++) {
		if (len - pos < 4)
			return cl_error_set(err, CL_EFORMAT,
					    "deletion vector: truncated key of bitmap %llu",
					    (unsigned long long)i);
		uint32_t key = rd32(buf + pos);
		pos += 4;
		if ((int64_t)key <= prev_key)
			return cl_error_set(err, CL_EFORMAT,
					    "deletion vector: bitmap keys not ascending at bitmap %llu",
					    (unsigned long long)i);
		prev_key = key;
		int rc = bitmap32(buf, len, &pos, (uint64_t)key << 32, rows, n, total,
				  card_only, (size_t)i, err);
		if (rc)
			return rc;
		if (*total > CL__DV_MAX_ROWS)
			return cl_error_set(err, CL_EFORMAT,
					    "deletion vector: more than %llu rows",
					    (unsigned long long)CL__DV_MAX_ROWS);
	}
	if (pos != len)
		return cl_error_set(err, CL_EFORMAT,
				    "deletion vector: %zu bytes after the bitmaps", len - pos);
	return 0;
}

int cl__dv_decode(uint64_t **rows, size_t *n, const uint8_t *buf, size_t len,
		  cl_error *err)
{
	*rows = NULL;
	*n = 0;
	uint64_t total = 0;
	size_t dummy = 0;
	int rc = decode_pass(buf, len, NULL, &dummy, &total, true, err);
	if (rc)
		return rc;
	if (total == 0)
		return 0;
	uint64_t *r = cl_malloc((size_t)total * sizeof *r);
	if (!r)
		return cl_error_set(err, CL_ENOMEM, "deletion vector: out of memory");
	size_t got = 0;
	uint64_t total2 = 0;
	rc = decode_pass(buf, len, r, &got, &total2, false, err);
	if (rc || got != total) {
		cl_free(r);
		return rc ? rc : cl_error_set(err, CL_EINTERNAL, "deletion vector: count changed");
	}
	*rows = r;
	*n = got;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Encoding. */

/* One 16-bit container of values v[0..n) (low 16 bits, ascending): its
 * kind and serialized size. */
typedef enum { C_ARRAY, C_BITMAP, C_RUN } ckind;

static size_t count_runs(const uint64_t *v, size_t n)
{
	size_t runs = 0;
	for (size_t i = 0; i < n; i++)
		if (i == 0 || v[i] != v[i - 1] + 1)
			runs++;
	return runs;
}

static ckind pick_kind(const uint64_t *v, size_t n, size_t *bytes)
{
	size_t runs = count_runs(v, n);
	size_t plain = n <= ARRAY_MAX ? n * 2 : BITMAP_BYTES;
	if (2 + runs * 4 < plain) {
		*bytes = 2 + runs * 4;
		return C_RUN;
	}
	*bytes = plain;
	return n <= ARRAY_MAX ? C_ARRAY : C_BITMAP;
}

static int write_container(cl_buf *out, const uint64_t *v, size_t n, ckind k)
{
	int rc = 0;
	if (k == C_ARRAY) {
		for (size_t i = 0; i < n && !rc; i++)
			rc = put16(out, (uint32_t)(v[i] & 0xffff));
		return rc;
	}
	if (k == C_BITMAP) {
		if ((rc = cl_buf_reserve(out, BITMAP_BYTES)))
			return rc;
		uint8_t *p = out->data + out->len;
		memset(p, 0, BITMAP_BYTES);
		for (size_t i = 0; i < n; i++) {
			uint32_t x = (uint32_t)(v[i] & 0xffff);
			p[x / 8] |= (uint8_t)(1u << (x % 8));
		}
		out->len += BITMAP_BYTES;
		out->data[out->len] = 0;
		return 0;
	}
	size_t runs = count_runs(v, n);
	rc = put16(out, (uint32_t)runs);
	for (size_t i = 0; i < n && !rc;) {
		size_t j = i + 1;
		while (j < n && v[j] == v[j - 1] + 1)
			j++;
		rc = put16(out, (uint32_t)(v[i] & 0xffff));
		if (!rc)
			rc = put16(out, (uint32_t)(j - i - 1));
		i = j;
	}
	return rc;
}

/* One 32-bit bitmap of rows v[0..n) (same high 32 bits). */
static int encode32(cl_buf *out, const uint64_t *v, size_t n)
{
	/* containers: boundaries where bits 16..31 change */
	size_t nc = 0;
	for (size_t i = 0; i < n; i++)
		if (i == 0 || (v[i] >> 16) != (v[i - 1] >> 16))
			nc++;
	size_t *first = cl_malloc((nc + 1) * sizeof *first);
	uint8_t *kinds = cl_malloc(nc + 1);
	size_t *sizes = cl_malloc((nc + 1) * sizeof *sizes);
	int rc = CL_ENOMEM;
	if (!first || !kinds || !sizes)
		goto out;
	size_t c = 0;
	for (size_t i = 0; i < n; i++)
		if (i == 0 || (v[i] >> 16) != (v[i - 1] >> 16))
			first[c++] = i;
	first[nc] = n;
	bool any_run = false;
	for (c = 0; c < nc; c++) {
		kinds[c] = (uint8_t)pick_kind(v + first[c], first[c + 1] - first[c], &sizes[c]);
		any_run |= kinds[c] == C_RUN;
	}
	size_t start = out->len;
	bool has_offsets;
	if (any_run) {
		rc = put32(out, COOKIE_RUN | (uint32_t)((nc - 1) << 16));
		size_t rb = (nc + 7) / 8;
		if (!rc && !(rc = cl_buf_reserve(out, rb))) {
			memset(out->data + out->len, 0, rb);
			for (c = 0; c < nc; c++)
				if (kinds[c] == C_RUN)
					out->data[out->len + c / 8] |= (uint8_t)(1u << (c % 8));
			out->len += rb;
			out->data[out->len] = 0;
		}
		has_offsets = nc >= 4;
	} else {
		rc = put32(out, COOKIE_NORUN);
		if (!rc)
			rc = put32(out, (uint32_t)nc);
		has_offsets = true;
	}
	for (c = 0; c < nc && !rc; c++) {
		rc = put16(out, (uint32_t)((v[first[c]] >> 16) & 0xffff));
		if (!rc)
			rc = put16(out, (uint32_t)(first[c + 1] - first[c] - 1));
	}
	if (has_offsets) {
		size_t off = out->len - start + nc * 4;
		for (c = 0; c < nc && !rc; c++) {
			rc = put32(out, (uint32_t)off);
			off += sizes[c];
		}
	}
	for (c = 0; c < nc && !rc; c++)
		rc = write_container(out, v + first[c], first[c + 1] - first[c], kinds[c]);
out:
	cl_free(first);
	cl_free(kinds);
	cl_free(sizes);
	return rc;
}

int cl__dv_encode(cl_buf *out, const uint64_t *rows, size_t n, cl_error *err)
{
	for (size_t i = 1; i < n; i++)
		if (rows[i] <= rows[i - 1])
			return cl_error_set(err, CL_EINVAL,
					    "deletion vector: rows not sorted and distinct at %zu", i);
	size_t nb = 0;
	for (size_t i = 0; i < n; i++)
		if (i == 0 || (rows[i] >> 32) != (rows[i - 1] >> 32))
			nb++;
	int rc = put32(out, DV_MAGIC);
	uint8_t cnt[8];
	for (int i = 0; i < 8; i++)
		cnt[i] = (uint8_t)((uint64_t)nb >> (8 * i));
	if (!rc)
		rc = cl_buf_append(out, cnt, 8);
	for (size_t i = 0; i < n && !rc;) {
		size_t j = i + 1;
		while (j < n && (rows[j] >> 32) == (rows[i] >> 32))
			j++;
		rc = put32(out, (uint32_t)(rows[i] >> 32));
		if (!rc)
			rc = encode32(out, rows + i, j - i);
		i = j;
	}
	if (rc)
		return cl_error_set(err, rc, "deletion vector: out of memory");
	return 0;
}

/* ------------------------------------------------------------------ */
/* Z85 (ZeroMQ RFC 32). */

static const char z85_chars[] =
	"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

int cl__z85_encode(cl_buf *out, const uint8_t *buf, size_t len, cl_error *err)
{
	for (size_t i = 0; i < len; i += 4) {
		uint32_t v = 0;
		for (size_t k = 0; k < 4; k++)
			v = (v << 8) | (i + k < len ? buf[i + k] : 0);
		char t[5];
		for (int k = 4; k >= 0; k--) {
			t[k] = z85_chars[v % 85];
			v /= 85;
		}
		if (cl_buf_append(out, t, 5))
			return cl_error_set(err, CL_ENOMEM, "z85: out of memory");
	}
	return 0;
}

int cl__z85_decode(cl_buf *out, const char *text, size_t n, cl_error *err)
{
	static int8_t map[256];
	static bool init;
	if (!init) {
		memset(map, -1, sizeof map);
		for (int i = 0; i < 85; i++)
			map[(uint8_t)z85_chars[i]] = (int8_t)i;
		init = true;
	}
	if (n % 5)
		return cl_error_set(err, CL_EFORMAT,
				    "z85: length %zu is not a multiple of 5", n);
	for (size_t i = 0; i < n; i += 5) {
		uint64_t v = 0;
		for (size_t k = 0; k < 5; k++) {
			int d = map[(uint8_t)text[i + k]];
			if (d < 0)
				return cl_error_set(err, CL_EFORMAT,
						    "z85: invalid character at offset %zu", i + k);
			v = v * 85 + (uint64_t)d;
		}
		if (v > 0xffffffffu)
			return cl_error_set(err, CL_EFORMAT,
					    "z85: group at offset %zu overflows 32 bits", i);
		uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8),
				(uint8_t)v};
		if (cl_buf_append(out, b, 4))
			return cl_error_set(err, CL_ENOMEM, "z85: out of memory");
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Descriptors and files. */

int cl__dv_file_key(char **key, cl_store *st, const cl_table_dv *dv, cl_error *err)
{
	*key = NULL;
	const char *s = dv->path_or_inline ? dv->path_or_inline : "";
	if (dv->storage_type == 'p') {
		int rc = cl_store_key_from_uri(st, s, key, err);
		if (rc)
			return cl_error_prefix(err, "deletion vector path '%s': ", s);
		return 0;
	}
	if (dv->storage_type != 'u')
		return cl_error_set(err, CL_EFORMAT,
				    "deletion vector: storage type '%c' has no file",
				    dv->storage_type ? dv->storage_type : '?');
	size_t n = strlen(s);
	if (n < 20)
		return cl_error_set(err, CL_EFORMAT,
				    "deletion vector '%s': shorter than a 20-character UUID", s);
	cl_buf raw = {0}, k = {0};
	int rc = cl__z85_decode(&raw, s + n - 20, 20, err);
	if (rc) {
		cl_buf_release(&raw);
		return cl_error_prefix(err, "deletion vector '%s': ", s);
	}
	const uint8_t *u = raw.data;
	rc = 0;
	if (n > 20) {
		rc = cl_buf_append(&k, s, n - 20);
		if (!rc)
			rc = cl_buf_putc(&k, '/');
	}
	if (!rc)
		rc = cl_buf_printf(&k,
				   "deletion_vector_%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
				   "%02x%02x%02x%02x%02x%02x.bin",
				   u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9],
				   u[10], u[11], u[12], u[13], u[14], u[15]);
	cl_buf_release(&raw);
	if (rc) {
		cl_buf_release(&k);
		return cl_error_set(err, CL_ENOMEM, "deletion vector: out of memory");
	}
	if (!cl_store_key_valid((const char *)k.data)) {
		cl_error_set(err, CL_EFORMAT, "deletion vector '%s': invalid file key '%s'", s,
			     (const char *)k.data);
		cl_buf_release(&k);
		return CL_EFORMAT;
	}
	size_t kl;
	*key = (char *)cl_buf_detach(&k, &kl);
	return 0;
}

/* The serialized bitmap of a vector into *bm (owned). */
static int dv_bytes(uint8_t **bm, size_t *bn, cl_store *st, const cl_table_dv *dv,
		    const char *dp, cl_error *err)
{
	*bm = NULL;
	*bn = 0;
	if (dv->size_in_bytes < 0)
		return cl_error_set(err, CL_EFORMAT,
				    "%s: deletion vector sizeInBytes %d is negative", dp,
				    (int)dv->size_in_bytes);
	size_t size = (size_t)dv->size_in_bytes;
	if (dv->storage_type == 'i') {
		const char *t = dv->path_or_inline ? dv->path_or_inline : "";
		cl_buf b = {0};
		int rc = cl__z85_decode(&b, t, strlen(t), err);
		if (rc) {
			cl_buf_release(&b);
			return cl_error_prefix(err, "%s: inline deletion vector: ", dp);
		}
		if (size > b.len || b.len - size >= 4) {
			cl_error_set(err, CL_EFORMAT,
				     "%s: inline deletion vector of %zu bytes, sizeInBytes %zu", dp,
				     b.len, size);
			cl_buf_release(&b);
			return CL_EFORMAT;
		}
		size_t l;
		*bm = cl_buf_detach(&b, &l);
		*bn = size;
		return 0;
	}
	char *key = NULL;
	int rc = cl__dv_file_key(&key, st, dv, err);
	if (rc)
		return cl_error_prefix(err, "%s: ", dp);
	uint8_t *ver = NULL, *data = NULL;
	size_t nver = 0, nd = 0;
	if (dv->offset < 1 || dv->offset > INT64_MAX / 2) {
		rc = cl_error_set(err, CL_EFORMAT, "%s: deletion vector in %s: bad offset %lld",
				  dp, key, (long long)dv->offset);
		goto out;
	}
	if ((rc = cl_store_get_range(st, key, 0, 1, &ver, &nver, err))) {
		cl_error_prefix(err, "%s: deletion vector: ", dp);
		goto out;
	}
	if (nver < 1 || ver[0] != 1) {
		rc = cl_error_set(err, CL_EFORMAT,
				  "%s: deletion vector file %s: format version %d, expected 1", dp,
				  key, nver ? ver[0] : -1);
		goto out;
	}
	if ((rc = cl_store_get_range(st, key, dv->offset, (int64_t)size + 8, &data, &nd,
				     err))) {
		cl_error_prefix(err, "%s: deletion vector: ", dp);
		goto out;
	}
	if (nd != size + 8) {
		rc = cl_error_set(err, CL_EFORMAT,
				  "%s: deletion vector file %s: truncated at offset %lld (%zu of "
				  "%zu bytes)", dp, key, (long long)dv->offset, nd, size + 8);
		goto out;
	}
	uint32_t stored = rd32be(data);
	if (stored != size) {
		rc = cl_error_set(err, CL_EFORMAT,
				  "%s: deletion vector file %s offset %lld: size %u, descriptor "
				  "says %zu", dp, key, (long long)dv->offset, stored, size);
		goto out;
	}
	uint32_t crc = (uint32_t)crc32(0, data + 4, (uInt)size);
	if (rd32be(data + 4 + size) != crc) {
		rc = cl_error_set(err, CL_EFORMAT,
				  "%s: deletion vector file %s offset %lld: CRC mismatch", dp, key,
				  (long long)dv->offset);
		goto out;
	}
	memmove(data, data + 4, size);
	*bm = data;
	*bn = size;
	data = NULL;
out:
	cl_free(ver);
	cl_free(data);
	cl_free(key);
	return rc;
}

int cl__dv_load(uint64_t **rows, size_t *n, cl_store *st, const cl_table_dv *dv,
		const char *data_path, cl_error *err)
{
	*rows = NULL;
	*n = 0;
	const char *dp = data_path ? data_path : "data file";
	if (dv->storage_type != 'u' && dv->storage_type != 'p' && dv->storage_type != 'i')
		return cl_error_set(err, CL_EFORMAT,
				    "%s: deletion vector storage type '%c' unknown", dp,
				    dv->storage_type ? dv->storage_type : '?');
	uint8_t *bm = NULL;
	size_t bn = 0;
	int rc = dv_bytes(&bm, &bn, st, dv, dp, err);
	if (rc)
		return rc;
	rc = cl__dv_decode(rows, n, bm, bn, err);
	cl_free(bm);
	if (rc)
		return cl_error_prefix(err, "%s: ", dp);
	if ((int64_t)*n != dv->cardinality) {
		cl_error_set(err, CL_EFORMAT,
			     "%s: deletion vector holds %zu rows, cardinality says %lld", dp, *n,
			     (long long)dv->cardinality);
		cl_free(*rows);
		*rows = NULL;
		*n = 0;
		return CL_EFORMAT;
	}
	return 0;
}

int cl__dv_unique_id(cl_buf *out, const cl_table_dv *dv)
{
	if (cl_buf_putc(out, dv->storage_type) ||
	    cl_buf_puts(out, dv->path_or_inline ? dv->path_or_inline : ""))
		return CL_ENOMEM;
	if (dv->offset >= 0 && cl_buf_printf(out, "@%lld", (long long)dv->offset))
		return CL_ENOMEM;
	return 0;
}

int cl__dv_json(cl_buf *out, const cl_table_dv *dv)
{
	const char *s = dv->path_or_inline ? dv->path_or_inline : "";
	char t[2] = {dv->storage_type, 0};
	if (cl_buf_puts(out, "{\"storageType\":") || cl__json_escape(out, t, 1) ||
	    cl_buf_puts(out, ",\"pathOrInlineDv\":"))
		return CL_ENOMEM;
	int rc = cl__json_escape(out, s, strlen(s));
	if (rc)
		return rc;
	if (dv->offset >= 0 && cl_buf_printf(out, ",\"offset\":%lld", (long long)dv->offset))
		return CL_ENOMEM;
	if (cl_buf_printf(out, ",\"sizeInBytes\":%d,\"cardinality\":%lld}",
			  (int)dv->size_in_bytes, (long long)dv->cardinality))
		return CL_ENOMEM;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Writing a vector file. */

struct cl__dv_file {
	cl_buf data;   /* version byte, then the vectors */
	char id[21];   /* Z85 of the UUID: the descriptors' pathOrInlineDv */
	char key[64];  /* deletion_vector_<uuid>.bin */
	bool published;
};

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int cl__dv_file_open(cl__dv_file **out, cl_error *err)
{
	*out = NULL;
	cl__dv_file *f = cl_calloc(1, sizeof *f);
	if (!f)
		return cl_error_set(err, CL_ENOMEM, "deletion vector file: out of memory");
	char uuid[37];
	cl__uuid4(uuid);
	uint8_t raw[16];
	for (int i = 0, j = 0; i < 16; i++) {
		if (uuid[j] == '-')
			j++;
		raw[i] = (uint8_t)(hexval(uuid[j]) << 4 | hexval(uuid[j + 1]));
		j += 2;
	}
	cl_buf z = {0};
	if (cl__z85_encode(&z, raw, 16, err) || cl_buf_putc(&f->data, 1)) {
		cl_buf_release(&z);
		cl_buf_release(&f->data);
		cl_free(f);
		return cl_error_set(err, CL_ENOMEM, "deletion vector file: out of memory");
	}
	memcpy(f->id, z.data, 20);
	f->id[20] = 0;
	cl_buf_release(&z);
	snprintf(f->key, sizeof f->key, "deletion_vector_%s.bin", uuid);
	*out = f;
	return 0;
}

int cl__dv_file_append(cl__dv_file *f, const uint64_t *rows, size_t n, cl_table_dv *dv,
		       cl_error *err)
{
	if (f->published)
		return cl_error_set(err, CL_EINVAL,
				    "deletion vector file %s: already published", f->key);
	size_t at = f->data.len;
	if (at > INT32_MAX) /* Delta's checkpoint schema has an int offset */
		return cl_error_set(err, CL_EINVAL,
				    "deletion vector file %s: 2 GiB reached", f->key);
	int rc = put32be(&f->data, 0);
	if (!rc)
		rc = cl__dv_encode(&f->data, rows, n, err);
	if (rc) {
		f->data.len = at;
		f->data.data[at] = 0;
		return rc;
	}
	size_t size = f->data.len - at - 4;
	if (size > INT32_MAX) {
		f->data.len = at;
		f->data.data[at] = 0;
		return cl_error_set(err, CL_EINVAL, "deletion vector of %zu bytes is too large",
				    size);
	}
	uint8_t *p = f->data.data + at;
	p[0] = (uint8_t)(size >> 24);
	p[1] = (uint8_t)(size >> 16);
	p[2] = (uint8_t)(size >> 8);
	p[3] = (uint8_t)size;
	uint32_t crc = (uint32_t)crc32(0, p + 4, (uInt)size);
	if (put32be(&f->data, crc)) {
		f->data.len = at;
		f->data.data[at] = 0;
		return cl_error_set(err, CL_ENOMEM, "deletion vector file: out of memory");
	}
	dv->storage_type = 'u';
	dv->path_or_inline = f->id;
	dv->offset = (int64_t)at;
	dv->size_in_bytes = (int32_t)size;
	dv->cardinality = (int64_t)n;
	return 0;
}

int cl__dv_file_publish(cl__dv_file *f, cl_store *st, const char **key, int64_t *bytes,
			cl_error *err)
{
	*key = NULL;
	*bytes = 0;
	if (f->data.len <= 1)
		return 0;
	if (!f->published) {
		int rc = cl_store_put_if_absent(st, f->key, f->data.data, f->data.len, err);
		if (rc)
			return cl_error_prefix(err, "deletion vector file %s: ", f->key);
		f->published = true;
	}
	*key = f->key;
	*bytes = (int64_t)f->data.len;
	return 0;
}

void cl__dv_file_free(cl__dv_file *f)
{
	if (!f)
		return;
	cl_buf_release(&f->data);
	cl_free(f);
}

int cl__dv_union(uint64_t **out, size_t *n, const uint64_t *a, size_t na, const uint64_t *b,
		 size_t nb, cl_error *err)
{
	*out = NULL;
	*n = 0;
	if (na + nb == 0)
		return 0;
	uint64_t *r = cl_malloc((na + nb) * sizeof *r);
	if (!r)
		return cl_error_set(err, CL_ENOMEM, "deletion vector union: out of memory");
	size_t i = 0, j = 0, k = 0;
	while (i < na || j < nb) {
		uint64_t v;
		if (j >= nb || (i < na && a[i] < b[j]))
			v = a[i++];
		else if (i >= na || b[j] < a[i])
			v = b[j++];
		else {
			v = a[i++];
			j++;
		}
		r[k++] = v;
	}
	*out = r;
	*n = k;
	return 0;
}
