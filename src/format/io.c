/*
 * io.c — the generic cl_reader / cl_writer: format names and detection,
 * dispatch to the formats, and atomic publication of written files.
 */
#include "format_impl.h"
#include "textin.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

const char *cl_format_name(cl_format f)
{
	switch (f) {
	case CL_FORMAT_CSV: return "csv";
	case CL_FORMAT_JSONL: return "jsonl";
	case CL_FORMAT_PARQUET: return "parquet";
	default: return "auto";
	}
}

int cl_format_parse(cl_format *out, const char *name, cl_error *err)
{
	if (!strcasecmp(name, "csv") || !strcasecmp(name, "tsv"))
		*out = CL_FORMAT_CSV;
	else if (!strcasecmp(name, "jsonl") || !strcasecmp(name, "ndjson") ||
		 !strcasecmp(name, "json"))
		*out = CL_FORMAT_JSONL;
	else if (!strcasecmp(name, "parquet"))
		*out = CL_FORMAT_PARQUET;
	else
		return cl_error_set(err, CL_EINVAL,
				    "unknown format '%s' (csv, jsonl, parquet)", name);
	return 0;
}

static bool ends_with(const char *s, size_t n, const char *suffix)
{
	size_t m = strlen(suffix);
	return n >= m && strncasecmp(s + n - m, suffix, m) == 0;
}

cl_format cl_format_from_extension(const char *path)
{
	size_t n = strlen(path);
	if (ends_with(path, n, ".gz"))
		n -= 3;
	else if (ends_with(path, n, ".gzip"))
		n -= 5;
	if (ends_with(path, n, ".csv") || ends_with(path, n, ".tsv") ||
	    ends_with(path, n, ".txt"))
		return CL_FORMAT_CSV;
	if (ends_with(path, n, ".jsonl") || ends_with(path, n, ".ndjson") ||
	    ends_with(path, n, ".json"))
		return CL_FORMAT_JSONL;
	if (ends_with(path, n, ".parquet") || ends_with(path, n, ".parq") ||
	    ends_with(path, n, ".pq"))
		return CL_FORMAT_PARQUET;
	return CL_FORMAT_AUTO;
}

const char *cl_codec_name(cl_codec c)
{
	switch (c) {
	case CL_CODEC_UNCOMPRESSED: return "none";
	case CL_CODEC_SNAPPY: return "snappy";
	case CL_CODEC_GZIP: return "gzip";
	case CL_CODEC_LZO: return "lzo";
	case CL_CODEC_BROTLI: return "brotli";
	case CL_CODEC_LZ4: return "lz4";
	case CL_CODEC_ZSTD: return "zstd";
	case CL_CODEC_LZ4_RAW: return "lz4_raw";
	}
	return "?";
}

int cl_codec_parse(cl_codec *out, const char *name, cl_error *err)
{
	static const struct { const char *n; cl_codec c; } t[] = {
		{"none", CL_CODEC_UNCOMPRESSED}, {"uncompressed", CL_CODEC_UNCOMPRESSED},
		{"snappy", CL_CODEC_SNAPPY}, {"gzip", CL_CODEC_GZIP},
		{"brotli", CL_CODEC_BROTLI}, {"lz4", CL_CODEC_LZ4_RAW},
		{"lz4_raw", CL_CODEC_LZ4_RAW}, {"zstd", CL_CODEC_ZSTD},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
		if (!strcasecmp(name, t[i].n)) {
			*out = t[i].c;
			return 0;
		}
	return cl_error_set(err, CL_EINVAL,
			    "unknown compression '%s' (none, snappy, gzip, brotli, lz4, zstd)",
			    name);
}

void cl_read_options_init(cl_read_options *o)
{
	memset(o, 0, sizeof *o);
	o->batch_rows = 65536;
	o->delimiter = 0;
	o->quote = '"';
	o->header = -1;
	o->sample_rows = 10000;
	o->max_line_bytes = 64 << 20;
}

void cl_write_options_init(cl_write_options *o)
{
	memset(o, 0, sizeof *o);
	o->delimiter = ',';
	o->header = true;
	o->compression = CL_CODEC_SNAPPY;
	o->row_group_rows = 1 << 20;
	o->row_group_bytes = 128 << 20;
	o->page_bytes = 1 << 20;
	o->dictionary = true;
	o->dictionary_page_bytes = 1 << 20;
	o->page_version = 1;
}

/* Detect a file's format: magic bytes, then extension, then a look at the text. */
static int detect(cl_format *out, const char *path, cl_error *err)
{
	uint8_t head[4];
	size_t got = 0;
	cl_format ext = cl_format_from_extension(path);
	if (strcmp(path, "-") == 0) {
		*out = ext ? ext : CL_FORMAT_CSV;
		return 0;
	}
	struct stat st;
	if (stat(path, &st) != 0)
		return cl_error_set(err, errno == ENOENT ? CL_ENOTFOUND : CL_EIO,
				    "%s: %s", path, strerror(errno));
	if (S_ISDIR(st.st_mode))
		return cl_error_set(err, CL_EINVAL, "%s: is a directory", path);
	if (cl__file_peek(path, head, 4, &got) != 0)
		return cl_error_set(err, CL_EIO, "%s: cannot read: %s", path,
				    strerror(errno));
	if (got == 4 && memcmp(head, "PAR1", 4) == 0) {
		*out = CL_FORMAT_PARQUET;
		return 0;
	}
	if (got == 4 && memcmp(head, "PARE", 4) == 0)
		return cl_error_set(err, CL_EUNSUPPORTED,
				    "%s: encrypted Parquet not supported", path);
	if (ext == CL_FORMAT_PARQUET)
		return cl_error_set(err, CL_EFORMAT,
				    "%s: not a Parquet file (no PAR1 magic)", path);
	if (ext) {
		*out = ext;
		return 0;
	}
	/* No telling extension: JSON Lines when the first byte opens an object. */
	*out = (got && head[0] == '{') ? CL_FORMAT_JSONL : CL_FORMAT_CSV;
	return 0;
}

int cl_reader_open(cl_reader **out, const char *path,
		   const cl_read_options *opts, cl_error *err)
{
	cl_read_options defaults;
	if (!opts) {
		cl_read_options_init(&defaults);
		opts = &defaults;
	}
	cl_format f = opts->format;
	int rc = 0;
	if (f == CL_FORMAT_AUTO && (rc = detect(&f, path, err)))
		return rc;
	cl_reader *r = cl_calloc(1, sizeof *r);
	if (!r)
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	r->format = f;
	r->total_rows = -1;
	r->path = cl_strdup(path);
	if (!r->path) {
		cl_free(r);
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	}
	switch (f) {
	case CL_FORMAT_CSV: rc = cl__csv_reader_open(r, opts, err); break;
	case CL_FORMAT_JSONL: rc = cl__jsonl_reader_open(r, opts, err); break;
	case CL_FORMAT_PARQUET: rc = cl__parquet_reader_open(r, opts, err); break;
	default: rc = cl_error_set(err, CL_EINVAL, "%s: unknown format", path);
	}
	if (rc) {
		cl_reader_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

const cl_schema *cl_reader_schema(const cl_reader *r)
{
	return r->schema;
}

cl_format cl_reader_format(const cl_reader *r)
{
	return r->format;
}

int cl_reader_next(cl_reader *r, cl_batch **out, cl_error *err)
{
	*out = NULL;
	int rc = r->ops->next(r, out, err);
	if (rc == 0 && *out)
		r->rows += (*out)->nrows;
	return rc;
}

int64_t cl_reader_rows(const cl_reader *r)
{
	return r->rows;
}

int64_t cl_reader_total_rows(const cl_reader *r)
{
	return r->total_rows;
}

void cl_reader_free(cl_reader *r)
{
	if (!r)
		return;
	if (r->ops && r->ops->free)
		r->ops->free(r);
	cl_schema_free(r->schema);
	cl_free(r->path);
	cl_free(r);
}

int cl_writer_open(cl_writer **out, const char *path, const cl_schema *schema,
		   const cl_write_options *opts, cl_error *err)
{
	cl_write_options defaults;
	if (!opts) {
		cl_write_options_init(&defaults);
		opts = &defaults;
	}
	cl_format f = opts->format;
	if (f == CL_FORMAT_AUTO)
		f = cl_format_from_extension(path);
	if (f == CL_FORMAT_AUTO)
		return cl_error_set(err, CL_EINVAL,
				    "%s: cannot tell the output format from the name; use .csv, .jsonl or .parquet, or say the format",
				    path);
	bool to_stdout = strcmp(path, "-") == 0;
	if (to_stdout && f == CL_FORMAT_PARQUET && isatty(1))
		return cl_error_set(err, CL_EINVAL,
				    "refusing to write Parquet to a terminal");
	cl_writer *w = cl_calloc(1, sizeof *w);
	if (!w)
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	int rc = 0;
	w->format = f;
	w->opts = *opts;
	w->opts.format = f;
	w->path = cl_strdup(path);
	if (!w->path) {
		rc = cl_error_set(err, CL_ENOMEM, "out of memory");
		goto fail;
	}
	if ((rc = cl_schema_copy(&w->schema, schema, err)))
		goto fail;
	struct stat st;
	bool special = !to_stdout && stat(path, &st) == 0 && !S_ISREG(st.st_mode);
	if (special && S_ISDIR(st.st_mode)) {
		rc = cl_error_set(err, CL_EINVAL, "%s: is a directory", path);
		goto fail;
	}
	if (to_stdout) {
		w->out = fdopen(dup(1), "wb");
	} else if (special) {
		/* A device or a pipe (/dev/null, a FIFO) is written in place:
		 * renaming a temporary file over it would replace the device
		 * node with a regular file. */
		int fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd >= 0) {
			w->out = fdopen(fd, "wb");
			if (!w->out)
				close(fd);
		}
	} else {
		size_t n = strlen(path) + 32;
		w->tmp_path = cl_malloc(n);
		if (!w->tmp_path) {
			rc = cl_error_set(err, CL_ENOMEM, "out of memory");
			goto fail;
		}
		/* Temporary name in the same directory, so rename() publishes it. */
		const char *slash = strrchr(path, '/');
		int dirlen = slash ? (int)(slash - path + 1) : 0;
		snprintf(w->tmp_path, n, "%.*s.%s.tmp-%d-XXXXXX", dirlen, path,
			 path + dirlen, (int)getpid());
		int fd = mkostemp(w->tmp_path, O_CLOEXEC);
		if (fd < 0) {
			rc = cl_error_set(err, CL_EIO, "%s: cannot create: %s", path,
					  strerror(errno));
			cl_free(w->tmp_path);
			w->tmp_path = NULL;
			goto fail;
		}
		fchmod(fd, 0644);
		w->out = fdopen(fd, "wb");
		if (!w->out)
			close(fd);
	}
	if (!w->out) {
		rc = cl_error_set(err, CL_EIO, "%s: cannot open: %s", path,
				  strerror(errno));
		goto fail;
	}
	setvbuf(w->out, NULL, _IOFBF, 1 << 20);
	switch (f) {
	case CL_FORMAT_CSV: rc = cl__csv_writer_open(w, err); break;
	case CL_FORMAT_JSONL: rc = cl__jsonl_writer_open(w, err); break;
	case CL_FORMAT_PARQUET: rc = cl__parquet_writer_open(w, err); break;
	default: rc = cl_error_set(err, CL_EINVAL, "unknown format");
	}
	if (rc)
		goto fail;
	*out = w;
	return 0;
fail:
	cl_writer_free(w);
	return rc;
}

int cl_writer_write(cl_writer *w, const cl_batch *b, cl_error *err)
{
	if (w->closed)
		return cl_error_set(err, CL_EINVAL, "%s: writer already closed",
				    w->path);
	if (b->ncols != w->schema->nfields)
		return cl_error_set(err, CL_ESCHEMA,
				    "%s: batch has %d columns, schema has %d", w->path,
				    b->ncols, w->schema->nfields);
	for (int i = 0; i < b->ncols; i++)
		if (!cl_type_equal(b->cols[i].type, w->schema->fields[i].type))
			return cl_error_set(err, CL_ESCHEMA,
					    "%s: column '%s' of the batch has another type than the schema",
					    w->path, w->schema->fields[i].name);
	if (b->nrows == 0)
		return 0;
	int rc = w->ops->write(w, b, err);
	if (!rc)
		cl__writer_kick(w);
	return rc;
}

/*
 * Writeback of a file being published (written to a temporary file,
 * synced and renamed at close): synced only at close, a file of tens of
 * MB made the close wait 15-30 ms with a core idle (a lake table writer
 * finishing 16 bucket files waited for each in turn). So every KICK_BYTES
 * the kernel is asked to start writing back what the file has grown by
 * (sync_file_range, asynchronous; what the FILE still buffers goes at the
 * next kick or at close). Best effort: the fsync at close is the durable
 * one.
 */
enum { KICK_BYTES = 4 << 20 };

void cl__writer_kick(cl_writer *w)
{
	if (!w->out || !w->tmp_path)
		return;
	int64_t n = (int64_t)ftello(w->out);
	if (n - w->kicked < KICK_BYTES)
		return;
#ifdef SYNC_FILE_RANGE_WRITE
	(void)sync_file_range(fileno(w->out), 0, 0, SYNC_FILE_RANGE_WRITE);
#endif
	w->kicked = n;
}

int cl_writer_close(cl_writer *w, cl_error *err)
{
	if (w->closed)
		return 0;
	int rc = w->ops->finish(w, err);
	if (rc)
		return rc;
	if (fflush(w->out) != 0 || (w->tmp_path && fsync(fileno(w->out)) != 0))
		return cl_error_set(err, CL_EIO, "%s: write failed: %s", w->path,
				    strerror(errno));
	if (fclose(w->out) != 0) {
		w->out = NULL;
		return cl_error_set(err, CL_EIO, "%s: write failed: %s", w->path,
				    strerror(errno));
	}
	w->out = NULL;
	if (w->tmp_path) {
		if (rename(w->tmp_path, w->path) != 0)
			return cl_error_set(err, CL_EIO, "%s: cannot publish: %s",
					    w->path, strerror(errno));
		cl_free(w->tmp_path);
		w->tmp_path = NULL;
	}
	w->closed = true;
	return 0;
}

int64_t cl_writer_bytes(const cl_writer *w)
{
	if (w->out)
		return (int64_t)ftello(w->out);
	return 0;
}

void cl_writer_free(cl_writer *w)
{
	if (!w)
		return;
	if (w->ops && w->ops->free)
		w->ops->free(w);
	if (w->out)
		fclose(w->out);
	if (w->tmp_path) {
		unlink(w->tmp_path);
		cl_free(w->tmp_path);
	}
	cl_schema_free(w->schema);
	cl_free(w->path);
	cl_free(w);
}
