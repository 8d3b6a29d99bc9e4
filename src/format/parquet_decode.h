/*
 * parquet_decode.h — Parquet value encodings, and the column-chunk reader
 * built on them (internal to the Parquet reader).
 *
 * Low level (parquet_decode.c): stateful decoders that hand out the next n
 * values of a page, each bounds-checked against its input:
 *   cl__rle    RLE/bit-packed hybrid (levels, dictionary indices, booleans)
 *   cl__delta  DELTA_BINARY_PACKED (int32/int64, as 64-bit)
 *   cl__dlba   DELTA_LENGTH_BYTE_ARRAY
 *   cl__dba    DELTA_BYTE_ARRAY (prefix + suffix)
 * plus helpers for PLAIN byte arrays and BYTE_STREAM_SPLIT. A decoder that
 * runs out of input or meets an impossible header returns CL_EFORMAT with a
 * message saying what is wrong (the caller prefixes file/row group/column).
 *
 * Column chunk reader (parquet_page.c): reads the pages of one column chunk
 * held in memory (dictionary page, data pages v1/v2), checks CRCs,
 * decompresses, decodes levels and values, converts them to the column's
 * changelake type and appends n rows to a cl_column.
 */
#ifndef CL_FORMAT_PARQUET_DECODE_H
#define CL_FORMAT_PARQUET_DECODE_H

#include "changelake/batch.h"
#include "core/buf.h"

/*
 * Every buffer that byte-array views point into (chunk window, decompressed
 * page, dictionary page, DELTA_BYTE_ARRAY output) has CL__PQ_PAD readable
 * bytes past its end, so short values can be copied with one fixed-size
 * move. The padding bytes are never part of a value.
 */
#define CL__PQ_PAD 16

/* A borrowed byte-array value. */
typedef struct cl__pq_view {
	const uint8_t *p;
	size_t n;
} cl__pq_view;

/* ---- RLE / bit-packed hybrid ---- */
typedef struct cl__rle {
	const uint8_t *p, *end;
	int bit_width;        /* 0..32 */
	uint32_t value;       /* value of the current RLE run */
	int64_t rle_left;     /* values left in the current RLE run */
	const uint8_t *bp;    /* current bit-packed run */
	size_t bp_bytes;      /* bytes available in it */
	int64_t bp_pos;       /* next value index in it */
	int64_t bp_left;      /* values left in it */
} cl__rle;

/* bit_width must be 0..32 (checked by the caller: it comes from the file). */
void cl__rle_init(cl__rle *r, const uint8_t *p, size_t n, int bit_width);
/* Next n values into out; CL_EFORMAT when the data ends first. */
int cl__rle_get_u32(cl__rle *r, uint32_t *out, int64_t n, cl_error *err);
int cl__rle_get_u8(cl__rle *r, uint8_t *out, int64_t n, cl_error *err);

/* ---- DELTA_BINARY_PACKED ---- */
#define CL__DELTA_MAX_MINI 256
typedef struct cl__delta {
	const uint8_t *p, *end;
	uint64_t block_size, nmini, per_mini;
	uint64_t total;       /* values in the stream (header) */
	uint64_t done;        /* values handed out */
	uint64_t last;        /* previous value (wrapping arithmetic) */
	uint64_t min_delta;
	uint8_t widths[CL__DELTA_MAX_MINI];
	uint64_t mini;        /* current miniblock index in the block */
	uint64_t mini_left;   /* values left in the current miniblock */
	const uint8_t *mini_data;
	uint64_t mini_pos;
	bool in_block;
} cl__delta;

int cl__delta_init(cl__delta *d, const uint8_t *p, size_t n, cl_error *err);
/* Next n values (n <= total - done). */
int cl__delta_get(cl__delta *d, int64_t *out, int64_t n, cl_error *err);
/* Where the stream that d was initialised on ends (walks block headers
 * only); d is not changed. */
int cl__delta_end(const cl__delta *d, const uint8_t **end, cl_error *err);

/* ---- DELTA_LENGTH_BYTE_ARRAY ---- */
typedef struct cl__dlba {
	cl__delta lens;
	const uint8_t *data, *end;
	int64_t tmp[256];
} cl__dlba;
int cl__dlba_init(cl__dlba *d, const uint8_t *p, size_t n, cl_error *err);
int cl__dlba_get(cl__dlba *d, cl__pq_view *out, int64_t n, cl_error *err);

/* ---- DELTA_BYTE_ARRAY ---- */
typedef struct cl__dba {
	cl__delta prefix;
	cl__dlba suffix;
	cl_buf last;          /* previous value */
	cl_buf out;           /* storage of the values of the last get */
	int64_t tmp[256];
} cl__dba;
int cl__dba_init(cl__dba *d, const uint8_t *p, size_t n, cl_error *err);
/* Views are valid until the next call. */
int cl__dba_get(cl__dba *d, cl__pq_view *out, int64_t n, cl_error *err);
void cl__dba_release(cl__dba *d);

/* ---- PLAIN byte arrays: n values from *p (advanced) ---- */
int cl__plain_ba_get(const uint8_t **p, const uint8_t *end, cl__pq_view *out, int64_t n,
		     cl_error *err);

/* ---- BYTE_STREAM_SPLIT: values [pos, pos+n) of nvals, width w ---- */
void cl__bss_get(const uint8_t *base, int64_t nvals, int w, int64_t pos, uint8_t *dst,
		 int64_t n);

/* ---- bit unpacking (exposed for tests): n values of width w (<= 32)
 * starting at value index `first` of p[0..avail) ---- */
void cl__unpack32(const uint8_t *p, size_t avail, int w, int64_t first, uint32_t *out,
		  int64_t n);

/* ---------------------------------------------------------------- */
/* Column chunk reader                                               */

/* How physical values become the column's type. */
typedef enum cl__pq_conv {
	CV_BOOL,
	CV_COPY4,    /* int32 -> int32/uint32/date; float -> float32 */
	CV_COPY8,    /* int64 -> int64/uint64/time/timestamp; double */
	CV_I32_I8,
	CV_I32_I16,
	CV_I32_I64,  /* int32 -> int64 (time ms, uint32->... ) */
	CV_I32_DEC,
	CV_I64_DEC,
	CV_INT96_TS, /* -> timestamp us */
	CV_FIX_DEC,  /* FLBA big-endian -> decimal128 */
	CV_FIX_BIN,  /* FLBA -> binary */
	CV_FIX_UUID, /* FLBA(16) -> canonical UUID text */
	CV_FIX_F16,  /* FLBA(2) -> float32 */
	CV_BA_STR,   /* BYTE_ARRAY -> string (UTF-8 checked) */
	CV_BA_BIN,
	CV_BA_DEC
} cl__pq_conv;

typedef struct cl__pq_col {
	/* set by the caller before cl__pq_col_begin */
	const char *file;     /* for messages */
	const char *name;     /* column path, for messages */
	int rg;               /* row group index, for messages */
	int ptype;            /* physical type */
	int32_t type_length;  /* FLBA */
	int max_def;          /* maximum definition level */
	int max_rep;          /* maximum repetition level (0: not in a list) */
	int codec;
	cl__pq_conv conv;
	cl_type type;         /* the column's changelake type */
	int64_t batch_rows;   /* most rows per cl__pq_col_read */

	/* the chunk: bytes [chunk_offset, chunk_offset + chunk_len) of the
	 * file, read through a window of win_len bytes at chunk position
	 * win_pos held in `win` (owned, reused across chunks) */
	const struct cl_parquet_file *pf;
	size_t chunk_len, chunk_pos; /* chunk_pos: next page header */
	int64_t chunk_offset;
	uint8_t *win;
	size_t win_cap, win_pos, win_len;
	cl_buf *stage;        /* large compressed pages; shared by the columns
				 of one decoding context (NULL: use win) */

	/* current data page */
	uint8_t *page;        /* decompressed page (owned, reused) */
	size_t page_cap;
	int64_t page_left;    /* levels (rows) left in the page */
	int64_t page_vals;    /* non-null values in the page (when known) */
	int64_t page_offset;  /* file offset of its header, for messages */
	cl__rle def;
	cl__rle rep;          /* repetition levels (max_rep > 0) */
	int enc;
	const uint8_t *vp, *vend; /* value bytes */
	int bitpos;           /* PLAIN booleans: bit offset in *vp */
	int64_t vpos;         /* BYTE_STREAM_SPLIT: value index */
	int64_t vcount;       /* BYTE_STREAM_SPLIT: values in the stream */
	cl__rle vrle;         /* RLE booleans, dictionary indices */
	cl__delta vdelta;
	cl__dlba *vdlba;
	cl__dba *vdba;

	/* dictionary */
	bool has_dict;
	uint8_t *dict_page;   /* decompressed dictionary page (owned) */
	int64_t dict_n;
	int64_t dict_mean;     /* BYTE_ARRAY: mean value length + 1 (0: not yet
				  computed), to size a batch's data */
	cl__pq_view *dict_views; /* BYTE_ARRAY dictionaries */

	/* scratch, batch_rows entries each */
	uint8_t *levels;
	uint32_t *idx;
	uint8_t *phys;
	cl__pq_view *views;
	int64_t scratch_n;
	int64_t rows_done;    /* rows read from this chunk */
	int64_t rg_first_row; /* file row of the chunk's first row, for messages */

	/* level lookahead of cl__pq_col_read_levels: entries decoded from the
	 * current page but not yet handed out */
	uint8_t *la_rep, *la_def;
	int64_t la_pos, la_n;
	bool chunk_done;      /* no data page left in the chunk */
	cl_column skipped;    /* rows decoded only to be skipped */
	bool skipped_init;
} cl__pq_col;

/*
 * Start reading the chunk at file offset `offset`, `len` bytes (checked
 * against the file by the caller), of file pf (borrowed; its pages are
 * read with pread as they are needed, through a window of about
 * CL__PQ_WINDOW bytes, or one page when larger).
 */
#define CL__PQ_WINDOW ((size_t)1 << 20)
/*
 * On: the calling thread keeps large decompressed page buffers of the
 * readers it frees for its next readers (parquet_page.c); off: frees them.
 * Also declared in src/ops/diff_impl.h (the diff's reading workers).
 */
void cl__pq_page_cache(bool on);
struct cl_parquet_file;
int cl__pq_col_begin(cl__pq_col *c, const struct cl_parquet_file *pf, int64_t offset,
		     size_t len, cl_error *err);
/* Append the next n rows (n <= batch_rows) of the chunk to dst. */
int cl__pq_col_read(cl__pq_col *c, cl_column *dst, int64_t n, cl_error *err);
/*
 * Level streams of the next n rows into *lv (cl__pq_levels of
 * parquet_nested.h, whose arrays are reused): every entry's repetition and
 * definition levels, the entry offset of each row, and the values of the
 * entries at the maximum definition level, dense. A row ends where the
 * next entry has repetition level 0 (or the chunk ends); rows may span
 * pages. Works for any column (max_rep 0: one entry per row).
 */
struct cl__pq_levels;
int cl__pq_col_read_levels(cl__pq_col *c, struct cl__pq_levels *lv, int64_t n,
			   cl_error *err);
/*
 * Skip the next n rows of a flat column: whole data pages without reading
 * their bodies, rows inside a page by decoding them (levels and values
 * must be decoded to find where the next row starts).
 */
int cl__pq_col_skip(cl__pq_col *c, int64_t n, cl_error *err);
/* After the row group's last row: error when the chunk has values left. */
int cl__pq_col_finish(cl__pq_col *c, cl_error *err);
/* Free the chunk and page state (keeps nothing). */
void cl__pq_col_release(cl__pq_col *c);

/*
 * Decode nn values of the current page and put them into rows [length,
 * length + k) of dst (room for k reserved by the caller; nn, k <=
 * scratch_n): lv[i] (0/1) says which rows get a value, NULL: all of them
 * (nn == k). parquet_values.c.
 */
int cl__pq_put_values(cl__pq_col *c, cl_column *dst, int64_t k, int64_t nn,
		      const uint8_t *lv, cl_error *err);
/* Errors of a column (parquet_page.c): prefix err with the file, row group,
 * column (and page offset) / set a message so prefixed. Return rc. */
int cl__pq_col_fail(cl__pq_col *c, cl_error *err, int rc, bool with_page);
int cl__pq_col_errf(cl__pq_col *c, cl_error *err, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Physical value width of a fixed-width type (FLBA: type_length), 0 else. */
int cl__pq_phys_width(int ptype, int32_t type_length);

#endif
