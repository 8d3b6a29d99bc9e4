/*
 * codec_compress.c — page compression for the Parquet writer; see
 * parquet_codec.h.
 *
 * Each codec compresses one page in one call into room reserved in the
 * output buffer from the library's worst-case bound, so no codec ever
 * streams or retries. Framings are the ones Parquet readers expect:
 * SNAPPY raw (no framing format), GZIP a gzip member (zlib windowBits 31),
 * ZSTD a frame, LZ4_RAW a bare LZ4 block, BROTLI a brotli stream.
 * Default levels (level 0): zlib's 6, zstd's 3 (ZSTD_CLEVEL_DEFAULT),
 * LZ4's default acceleration, and brotli quality 5: brotli's own default
 * (11) compresses pages at a few MB/s, far too slow for data files.
 */
#include "parquet_codec.h"

#include <brotli/encode.h>
#include <limits.h>
#include <lz4.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>

#define BROTLI_DEFAULT_LEVEL 5

static int compress_gzip(int level, const uint8_t *src, size_t n, cl_buf *out,
			 cl_error *err)
{
	z_stream zs;
	memset(&zs, 0, sizeof zs);
	if (n > UINT_MAX)
		return cl_error_set(err, CL_EINVAL, "gzip: page too large (%zu bytes)", n);
	int rc = deflateInit2(&zs, level ? level : Z_DEFAULT_COMPRESSION, Z_DEFLATED, 31,
			      8, Z_DEFAULT_STRATEGY);
	if (rc == Z_MEM_ERROR)
		return cl_error_set(err, CL_ENOMEM, "gzip: out of memory");
	if (rc != Z_OK)
		return cl_error_set(err, CL_EINVAL, "gzip: bad compression level %d",
				    level);
	size_t bound = deflateBound(&zs, (uLong)n);
	if (cl_buf_reserve(out, bound)) {
		deflateEnd(&zs);
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	}
	zs.next_in = (Bytef *)src;
	zs.avail_in = (uInt)n;
	zs.next_out = out->data + out->len;
	zs.avail_out = (uInt)bound;
	rc = deflate(&zs, Z_FINISH);
	size_t produced = bound - zs.avail_out;
	deflateEnd(&zs);
	if (rc != Z_STREAM_END)
		return cl_error_set(err, CL_EINTERNAL, "gzip: deflate failed (%d)", rc);
	out->len += produced;
	out->data[out->len] = 0;
	return 0;
}

static int compress_brotli(int level, const uint8_t *src, size_t n, cl_buf *out,
			   cl_error *err)
{
	size_t bound = BrotliEncoderMaxCompressedSize(n);
	if (bound == 0)
		return cl_error_set(err, CL_EINVAL, "brotli: page too large (%zu bytes)",
				    n);
	if (cl_buf_reserve(out, bound))
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	size_t got = bound;
	int q = level ? level : BROTLI_DEFAULT_LEVEL;
	if (q < BROTLI_MIN_QUALITY || q > BROTLI_MAX_QUALITY)
		return cl_error_set(err, CL_EINVAL, "brotli: bad compression level %d",
				    level);
	if (!BrotliEncoderCompress(q, BROTLI_DEFAULT_WINDOW, BROTLI_MODE_GENERIC, n, src,
				   &got, out->data + out->len))
		return cl_error_set(err, CL_ENOMEM, "brotli: compression failed");
	out->len += got;
	out->data[out->len] = 0;
	return 0;
}

int cl__codec_compress(cl_codec codec, int level, const uint8_t *src, size_t n,
		       cl_buf *out, cl_error *err)
{
	switch (codec) {
	case CL_CODEC_UNCOMPRESSED:
		if (cl_buf_append(out, src, n))
			return cl_error_set(err, CL_ENOMEM, "out of memory");
		return 0;
	case CL_CODEC_SNAPPY: {
		size_t bound = snappy_max_compressed_length(n);
		if (cl_buf_reserve(out, bound))
			return cl_error_set(err, CL_ENOMEM, "out of memory");
		size_t got = bound;
		if (snappy_compress((const char *)src, n, (char *)out->data + out->len,
				    &got) != SNAPPY_OK)
			return cl_error_set(err, CL_EINTERNAL, "snappy: compression failed");
		out->len += got;
		out->data[out->len] = 0;
		return 0;
	}
	case CL_CODEC_GZIP:
		return compress_gzip(level, src, n, out, err);
	case CL_CODEC_ZSTD: {
		size_t bound = ZSTD_compressBound(n);
		if (ZSTD_isError(bound))
			return cl_error_set(err, CL_EINVAL, "zstd: page too large");
		if (cl_buf_reserve(out, bound))
			return cl_error_set(err, CL_ENOMEM, "out of memory");
		size_t got = ZSTD_compress(out->data + out->len, bound, src, n, level);
		if (ZSTD_isError(got))
			return cl_error_set(err, CL_EINTERNAL, "zstd: %s",
					    ZSTD_getErrorName(got));
		out->len += got;
		out->data[out->len] = 0;
		return 0;
	}
	case CL_CODEC_LZ4_RAW: {
		if (n > LZ4_MAX_INPUT_SIZE)
			return cl_error_set(err, CL_EINVAL, "lz4: page too large (%zu bytes)",
					    n);
		int bound = LZ4_compressBound((int)n);
		if (cl_buf_reserve(out, (size_t)bound))
			return cl_error_set(err, CL_ENOMEM, "out of memory");
		int got = LZ4_compress_fast((const char *)src, (char *)out->data + out->len,
					    (int)n, bound, level > 0 ? level : 1);
		if (got <= 0 && n > 0)
			return cl_error_set(err, CL_EINTERNAL, "lz4: compression failed");
		out->len += (size_t)got;
		out->data[out->len] = 0;
		return 0;
	}
	case CL_CODEC_BROTLI:
		return compress_brotli(level, src, n, out, err);
	case CL_CODEC_LZ4:
	case CL_CODEC_LZO:
		break;
	}
	return cl_error_set(err, CL_EUNSUPPORTED,
			    "compression '%s' is not supported for writing (use lz4_raw, snappy, zstd, gzip, brotli or none)",
			    cl_codec_name(codec));
}
