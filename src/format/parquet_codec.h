/*
 * parquet_codec.h — page compression codecs (internal).
 *
 * Thin adapters over the distribution's libraries: libsnappy, zlib,
 * libzstd, liblz4, libbrotli. Decompression is in codec_decompress.c,
 * compression in codec_compress.c.
 */
#ifndef CL_PARQUET_CODEC_H
#define CL_PARQUET_CODEC_H

#include "changelake/io.h"
#include "core/buf.h"

/*
 * Decompress src[0..n) with codec into dst, which must be exactly dst_len
 * bytes long (the page header's uncompressed size): a result of any other
 * size is CL_EFORMAT. CL_CODEC_LZ4 tries the Hadoop framing, then a raw LZ4
 * block; CL_CODEC_GZIP accepts concatenated members. Messages do not name
 * the file: the caller prefixes that.
 */
int cl__codec_decompress(cl_codec codec, const uint8_t *src, size_t n,
			 uint8_t *dst, size_t dst_len, cl_error *err);

/*
 * Compress src[0..n) with codec (level 0 = the codec's default), appending
 * to out. CL_CODEC_UNCOMPRESSED copies.
 */
int cl__codec_compress(cl_codec codec, int level, const uint8_t *src, size_t n,
		       cl_buf *out, cl_error *err);

#endif
