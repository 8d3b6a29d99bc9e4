/*
 * table_data_file.c — one Parquet data file of a lake table, shared by the
 * table writer (table_write.c) and the bucket writer (table_cow_write.c):
 * named and staged, written with the table's file options, its writeback
 * started as it grows, closed with its Delta statistics, then published
 * (synced) under its final key and added to a transaction.
 *
 * Invariants: a file is added to the transaction only once it is published
 * under its final key, so a commit never names a file that is not durable;
 * a file that fails before that stays staged for its owner to remove (a
 * crash leaves an orphan, which vacuum removes). The statistics are those
 * Delta readers trust: min/max only where they bound every value
 * (timestamps widened to milliseconds, long strings' max left out), no
 * min/max for types without an order Delta uses.
 */
#include "delta.h"
#include "table_data.h"
#include "changelake/io.h"
#include "changelake/parquet_writer.h"
#include "core/value_text.h"
#include "storage/crash_point.h"
#include "format/format_impl.h"

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static int oom(cl_error *err)
{
	return cl_error_set(err, CL_ENOMEM, "out of memory");
}

/* ---- statistics ---- */

/* Append a statistics value; false when this type has no min/max stats. */
static int stat_value(cl_buf *out, const cl_column *c, bool is_max, bool *written)
{
	*written = false;
	int rc = 0;
	switch (c->type.id) {
	case CL_INT8: case CL_INT16: case CL_INT32: case CL_INT64:
	case CL_UINT8: case CL_UINT16: case CL_UINT32: case CL_UINT64: case CL_DECIMAL:
		rc = cl__value_format(out, c, 0);
		break;
	case CL_FLOAT32: case CL_FLOAT64: {
		double d = cl_column_get_f64(c, 0);
		if (!isfinite(d))
			return 0;
		rc = cl__value_format(out, c, 0);
		break;
	}
	case CL_DATE:
		rc = cl_buf_putc(out, '"');
		rc = rc ? rc : cl__value_format(out, c, 0);
		rc = rc ? rc : cl_buf_putc(out, '"');
		break;
	case CL_TIMESTAMP: {
		/* milliseconds, as Delta writes them: the min truncated down, the
		 * max rounded up so that it still bounds the values */
		int64_t us = cl__ts_to_us(cl_column_get_i64(c, 0), c->type.unit);
		int64_t ms = us >= 0 ? us / 1000 : -((-us + 999) / 1000);
		if (is_max && ms * 1000 != us)
			ms++;
		int64_t days = ms >= 0 ? ms / 86400000 : -((-ms + 86399999) / 86400000);
		int64_t rem = ms - days * 86400000, y;
		unsigned mo, d;
		cl__civil_from_days(days, &y, &mo, &d);
		rc = cl_buf_printf(out, "\"%04lld-%02u-%02uT%02d:%02d:%02d.%03d%s\"", (long long)y,
				   mo, d, (int)(rem / 3600000), (int)(rem / 60000 % 60),
				   (int)(rem / 1000 % 60), (int)(rem % 1000), c->type.utc ? "Z" : "");
		break;
	}
	case CL_STRING: {
		size_t n;
		const uint8_t *p = cl_column_get_bytes(c, 0, &n);
		/* Long strings: a prefix bounds the minimum; the maximum is left out
		 * (a prefix would not bound it). */
		size_t cut = n;
		if (n > 64) {
			if (is_max)
				return 0;
			cut = 64;
			while (cut > 0 && (p[cut] & 0xC0) == 0x80)
				cut--;
		}
		rc = cl__json_escape(out, (const char *)p, cut);
		if (rc == CL_EINVAL)
			return 0;
		break;
	}
	default:
		return 0; /* bool, binary, time: no min/max */
	}
	if (rc)
		return CL_ENOMEM;
	*written = true;
	return 0;
}

int cl__table_stats_json(cl_buf *out, const cl_writer *w, const cl_schema *fs, cl_error *err)
{
	cl_file_stats st;
	int rc = cl_writer_file_stats(w, &st, err);
	if (rc)
		return rc;
	rc = cl_buf_printf(out, "{\"numRecords\":%lld", (long long)st.num_rows);
	for (int pass = 0; !rc && pass < 3; pass++) {
		static const char *const names[] = {"minValues", "maxValues", "nullCount"};
		rc = cl_buf_printf(out, ",\"%s\":{", names[pass]);
		bool first = true;
		for (int i = 0; !rc && i < fs->nfields && i < st.ncols; i++) {
			size_t mark = out->len;
			rc = first ? 0 : cl_buf_putc(out, ',');
			rc = rc ? rc : cl__json_escape(out, fs->fields[i].name, strlen(fs->fields[i].name));
			rc = rc ? rc : cl_buf_putc(out, ':');
			if (rc)
				break;
			bool written = true;
			if (pass == 2) {
				rc = cl_buf_printf(out, "%lld", (long long)st.cols[i].null_count);
			} else if (!st.cols[i].has_min_max) {
				written = false;
			} else {
				const cl_batch *b = pass == 0 ? st.min : st.max;
				rc = stat_value(out, &b->cols[i], pass == 1, &written);
			}
			if (!written) {
				out->len = mark;
				out->data[mark] = 0;
			} else {
				first = false;
			}
		}
		rc = rc ? rc : cl_buf_putc(out, '}');
	}
	rc = rc ? rc : cl_buf_putc(out, '}');
	return rc ? oom(err) : 0;
}

/* ---- the file ---- */

/* Uncompressed row-group bytes all the open files of a bucketed table may
 * buffer together, and the least one file gets. */
#define ROW_GROUP_BUDGET (128LL << 20)
#define ROW_GROUP_MIN (4LL << 20)

int cl__data_file_open(cl_table *t, const cl__table_layout *l, const char *dir, int seq,
		       int bucket, int threads, char **file_key, char **stage, cl_writer **pw,
		       cl_error *err)
{
	char uuid[37];
	cl__uuid4(uuid);
	cl_buf k = {0};
	if (cl__layout_file_key(&k, dir, seq % 100000, uuid, bucket, "snappy")) {
		cl_buf_release(&k);
		return oom(err);
	}
	*file_key = (char *)cl_buf_detach(&k, NULL);
	int rc = cl_store_stage(cl_table_store(t), *file_key, stage, err);
	cl_write_options o;
	cl_write_options_init(&o);
	o.format = CL_FORMAT_PARQUET;
	o.compression = CL_CODEC_SNAPPY;
	o.threads = threads;
	if (l->target_bytes < o.row_group_bytes)
		o.row_group_bytes = l->target_bytes;
	/* a bucketed table keeps a file open per bucket, each buffering its
	 * row group: together about ROW_GROUP_BUDGET */
	if (l->buckets > 1) {
		int64_t per = ROW_GROUP_BUDGET / l->buckets;
		if (per < ROW_GROUP_MIN)
			per = ROW_GROUP_MIN;
		if (per < o.row_group_bytes)
			o.row_group_bytes = per;
	}
	return rc ? rc : cl_writer_open(pw, *stage, l->file_schema, &o, err);
}

int cl__data_file_close(cl_writer *pw, const cl_schema *file_schema, cl_buf *stats,
			cl_error *err)
{
	int rc = cl_writer_close(pw, err);
	rc = rc ? rc : cl__table_stats_json(stats, pw, file_schema, err);
	cl__crash_point("data-file-closed");
	return rc;
}

int cl__data_file_register(cl_table *t, cl_table_txn *x, char **stage, const char *file_key,
			   const cl_buf *stats, const cl_table_kv *part, int npart,
			   bool data_change, int64_t *size, cl_error *err)
{
	cl_store *st = cl_table_store(t);
	int rc = cl_store_publish(st, *stage, file_key, err);
	cl_store_object o;
	/* the size the store holds is the one readers will see */
	rc = rc ? rc : cl_store_head(st, file_key, &o, err);
	if (!rc) {
		cl_free(*stage);
		*stage = NULL;
		cl__crash_point("data-file-published");
		cl_table_add a = {file_key, o.size, cl__now_ms(), part, npart,
				  (const char *)stats->data, data_change, NULL};
		rc = cl_table_txn_add(x, &a, err);
		*size = o.size;
	}
	return rc;
}

int cl__data_file_add(cl_table *t, cl_table_txn *x, const cl_schema *file_schema, cl_writer **pw,
		      char **stage, char **file_key, const cl_table_kv *part, int npart,
		      bool data_change, int64_t *size, cl_error *err)
{
	*size = 0;
	if (!*pw)
		return 0;
	cl_buf stats = {0};
	int rc = cl__data_file_close(*pw, file_schema, &stats, err);
	rc = rc ? rc : cl__data_file_register(t, x, stage, *file_key, &stats, part, npart,
					      data_change, size, err);
	cl_buf_release(&stats);
	cl_writer_free(*pw);
	*pw = NULL;
	cl_free(*file_key);
	*file_key = NULL;
	return rc;
}
