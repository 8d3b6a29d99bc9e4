/*
 * codec_decompress.c — page decompression over the distribution's codec
 * libraries (see parquet_codec.h for the contract).
 *
 * Every codec must produce exactly dst_len bytes (the page header's
 * uncompressed size); the output buffer is never grown, so a hostile page
 * cannot make us allocate more than its header declared (the caller bounds
 * that). Legacy LZ4 (codec 5) comes in two framings in the wild: Hadoop's
 * ([BE u32 raw size][BE u32 compressed size][block])+ and a bare LZ4 block
 * (and the LZ4 frame format from some writers); we try them in that order.
 */
#include "parquet_codec.h"

#include <brotli/decode.h>
#include <lz4.h>
#include <lz4frame.h>
#include <snappy-c.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

static int corrupt(cl_error *err, const char *what)
{
	return cl_error_set(err, CL_EFORMAT, "%s data is corrupt", what);
}

static int size_mismatch(cl_error *err, const char *what, size_t got, size_t want)
{
	return cl_error_set(err, CL_EFORMAT,
			    "%s data decompresses to %zu bytes, the page header says %zu",
			    what, got, want);
}

static int gzip_decompress(const uint8_t *src, size_t n, uint8_t *dst, size_t dst_len,
			   cl_error *err)
{
	z_stream z;
	memset(&z, 0, sizeof z);
	/* 15 + 32: zlib or gzip header, detected. */
	if (inflateInit2(&z, 15 + 32) != Z_OK)
		return cl_error_set(err, CL_ENOMEM, "out of memory (zlib)");
	int rc = 0;
	size_t in = 0, out = 0;
	while (in < n) {
		z.next_in = (Bytef *)(src + in);
		z.avail_in = (uInt)(n - in > UINT32_MAX ? UINT32_MAX : n - in);
		z.next_out = dst + out;
		z.avail_out = (uInt)(dst_len - out > UINT32_MAX ? UINT32_MAX : dst_len - out);
		uInt avail_in0 = z.avail_in, avail_out0 = z.avail_out;
		int zr = inflate(&z, Z_FINISH);
		in += avail_in0 - z.avail_in;
		out += avail_out0 - z.avail_out;
		if (zr == Z_STREAM_END) {
			/* Concatenated members: another one may follow. */
			if (in < n && inflateReset(&z) != Z_OK) {
				rc = corrupt(err, "gzip");
				break;
			}
			continue;
		}
		if (zr == Z_BUF_ERROR && z.avail_out == 0) {
			rc = size_mismatch(err, "gzip", dst_len + 1, dst_len);
			break;
		}
		if (zr == Z_MEM_ERROR) {
			rc = cl_error_set(err, CL_ENOMEM, "out of memory (zlib)");
			break;
		}
		rc = corrupt(err, "gzip");
		break;
	}
	inflateEnd(&z);
	if (!rc && out != dst_len)
		rc = size_mismatch(err, "gzip", out, dst_len);
	return rc;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Hadoop's LZ4 framing; returns 0 on success, -1 when it does not fit. */
static int lz4_hadoop(const uint8_t *src, size_t n, uint8_t *dst, size_t dst_len)
{
	size_t in = 0, out = 0;
	if (n < 8)
		return -1;
	while (in < n) {
		if (n - in < 8)
			return -1;
		uint32_t raw = be32(src + in), comp = be32(src + in + 4);
		in += 8;
		if (comp > n - in || raw > dst_len - out)
			return -1;
		int got = LZ4_decompress_safe((const char *)src + in, (char *)dst + out,
					      (int)comp, (int)raw);
		if (got < 0 || (uint32_t)got != raw)
			return -1;
		in += comp;
		out += raw;
	}
	return out == dst_len ? 0 : -1;
}

static int lz4_frame(const uint8_t *src, size_t n, uint8_t *dst, size_t dst_len)
{
	LZ4F_dctx *ctx;
	if (LZ4F_isError(LZ4F_createDecompressionContext(&ctx, LZ4F_VERSION)))
		return -1;
	size_t in = 0, out = 0;
	int rc = -1;
	while (in < n) {
		size_t src_size = n - in, dst_size = dst_len - out;
		size_t r = LZ4F_decompress(ctx, dst + out, &dst_size, src + in, &src_size,
					   NULL);
		if (LZ4F_isError(r))
			break;
		in += src_size;
		out += dst_size;
		if (r == 0 && in == n) {
			rc = 0;
			break;
		}
		if (src_size == 0 && dst_size == 0)
			break;
	}
	LZ4F_freeDecompressionContext(ctx);
	return rc == 0 && out == dst_len ? 0 : -1;
}

int cl__codec_decompress(cl_codec codec, const uint8_t *src, size_t n, uint8_t *dst,
			 size_t dst_len, cl_error *err)
{
	switch (codec) {
	case CL_CODEC_UNCOMPRESSED:
		if (n != dst_len)
			return size_mismatch(err, "uncompressed", n, dst_len);
		if (n)
			memcpy(dst, src, n);
		return 0;
	case CL_CODEC_SNAPPY: {
		size_t len;
		if (snappy_uncompressed_length((const char *)src, n, &len) != SNAPPY_OK)
			return corrupt(err, "snappy");
		if (len != dst_len)
			return size_mismatch(err, "snappy", len, dst_len);
		if (snappy_uncompress((const char *)src, n, (char *)dst, &len) != SNAPPY_OK ||
		    len != dst_len)
			return corrupt(err, "snappy");
		return 0;
	}
	case CL_CODEC_GZIP:
		return gzip_decompress(src, n, dst, dst_len, err);
	case CL_CODEC_ZSTD: {
		size_t r = ZSTD_decompress(dst, dst_len, src, n);
		if (ZSTD_isError(r)) {
			if (ZSTD_getErrorCode(r) == ZSTD_error_dstSize_tooSmall)
				return size_mismatch(err, "zstd", dst_len + 1, dst_len);
			return cl_error_set(err, CL_EFORMAT, "zstd data is corrupt: %s",
					    ZSTD_getErrorName(r));
		}
		if (r != dst_len)
			return size_mismatch(err, "zstd", r, dst_len);
		return 0;
	}
	case CL_CODEC_LZ4_RAW: {
		if (n > INT32_MAX || dst_len > INT32_MAX)
			return corrupt(err, "lz4");
		int got = LZ4_decompress_safe((const char *)src, (char *)dst, (int)n,
					      (int)dst_len);
		if (got < 0)
			return corrupt(err, "lz4");
		if ((size_t)got != dst_len)
			return size_mismatch(err, "lz4", (size_t)got, dst_len);
		return 0;
	}
	case CL_CODEC_LZ4: {
		if (n > INT32_MAX || dst_len > INT32_MAX)
			return corrupt(err, "lz4");
		if (lz4_hadoop(src, n, dst, dst_len) == 0)
			return 0;
		if (n >= 4 && src[0] == 0x04 && src[1] == 0x22 && src[2] == 0x4d &&
		    src[3] == 0x18 && lz4_frame(src, n, dst, dst_len) == 0)
			return 0;
		int got = LZ4_decompress_safe((const char *)src, (char *)dst, (int)n,
					      (int)dst_len);
		if (got >= 0 && (size_t)got == dst_len)
			return 0;
		return cl_error_set(err, CL_EFORMAT,
				    "lz4 data is corrupt (neither Hadoop framing nor a raw block)");
	}
	case CL_CODEC_BROTLI: {
		size_t len = dst_len;
		BrotliDecoderResult r = BrotliDecoderDecompress(n, src, &len, dst);
		if (r != BROTLI_DECODER_RESULT_SUCCESS)
			return corrupt(err, "brotli");
		if (len != dst_len)
			return size_mismatch(err, "brotli", len, dst_len);
		return 0;
	}
	case CL_CODEC_LZO:
		return cl_error_set(err, CL_EUNSUPPORTED, "LZO compression not supported");
	}
	return cl_error_set(err, CL_EUNSUPPORTED, "unknown compression codec %d", (int)codec);
}
