/*
 * parquet_page_index.c — the page index (OffsetIndex and ColumnIndex of
 * parquet-format's PageIndex.md): which row ranges of a row group may hold
 * rows matching a conjunction of predicates, so the reader can skip the
 * other pages.
 *
 * For each predicate on a flat column that has both indexes, the pages
 * whose statistics (min/max in the type's order, null page flag, null
 * count) prove no row matches are dropped; each remaining page covers rows
 * [first_row_index, next page's first_row_index). The ranges of the
 * predicates are intersected. The indexes are hostile input like the rest:
 * they are read with pread within the file's data area, decoded with the
 * bounds-checked Thrift reader, and an index that does not add up (page
 * counts differ, rows not increasing or outside the row group) is not used
 * — the row group is then read whole, which is always correct.
 */
#include "parquet_format.h"
#include "parquet_meta.h"
#include "thrift_read.h"
#include "core/value_text.h"

#include <string.h>

#define MAX_INDEX_BYTES ((int64_t)64 << 20)

typedef struct page_index {
	int64_t npages;
	int64_t *first_row;   /* npages */
	bool *null_page;      /* npages */
	cl__pq_bytes *min, *max; /* npages, views into buf */
	int64_t *null_count;  /* npages, -1 unknown */
	uint8_t *buf[2];      /* the index bytes (owned) */
} page_index;

static void index_free(page_index *x)
{
	cl_free(x->first_row);
	cl_free(x->null_page);
	cl_free(x->min);
	cl_free(x->max);
	cl_free(x->null_count);
	cl_free(x->buf[0]);
	cl_free(x->buf[1]);
	memset(x, 0, sizeof *x);
}

/* Read bytes [off, off+len) of the file's data area into *out (owned);
 * *out = NULL when the location is not plausible. */
static int read_index(const cl_parquet_file *f, int64_t off, int32_t len, uint8_t **out,
		      cl_error *err)
{
	*out = NULL;
	if (off < 4 || len <= 0 || len > MAX_INDEX_BYTES || off > f->footer_start ||
	    len > f->footer_start - off)
		return 0;
	uint8_t *b = cl_malloc((size_t)len);
	if (!b)
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	int rc = cl__pq_pread(f, b, (size_t)len, off, err);
	if (rc) {
		cl_free(b);
		return rc;
	}
	*out = b;
	return 0;
}

/* A list<T> header of a known element count; false when it does not fit. */
static bool list_of(cl__thrift_in *t, int type, int want_elem, int64_t *n)
{
	if (type != TC_LIST)
		return false;
	int et;
	*n = cl__thrift_list(t, &et);
	if (*n < 0)
		return false;
	return et == want_elem || (want_elem == TC_TRUE && (et == TC_TRUE || et == TC_FALSE));
}

static int decode_offset_index(page_index *x, const uint8_t *p, size_t n)
{
	cl__thrift_in t;
	cl__thrift_init(&t, p, n, NULL);
	int type;
	int16_t fid;
	bool got = false;
	if (cl__thrift_struct_begin(&t))
		return -1;
	while (cl__thrift_field(&t, &type, &fid)) {
		if (fid != 1 || got) {
			cl__thrift_skip(&t, type);
			continue;
		}
		int64_t k;
		if (!list_of(&t, type, TC_STRUCT, &k) || k < 1)
			return -1;
		x->npages = k;
		x->first_row = cl_calloc((size_t)k, sizeof *x->first_row);
		if (!x->first_row)
			return CL_ENOMEM;
		for (int64_t i = 0; i < k && !t.err; i++) {
			int ft;
			int16_t f2;
			x->first_row[i] = -1;
			if (cl__thrift_struct_begin(&t))
				return -1;
			while (cl__thrift_field(&t, &ft, &f2)) {
				if (f2 == 3)
					x->first_row[i] = cl__thrift_int_field(&t, ft, "first_row_index");
				else
					cl__thrift_skip(&t, ft);
			}
			cl__thrift_struct_end(&t);
		}
		got = true;
	}
	cl__thrift_struct_end(&t);
	return t.err || !got ? -1 : 0;
}

static int decode_column_index(page_index *x, const uint8_t *p, size_t n)
{
	cl__thrift_in t;
	cl__thrift_init(&t, p, n, NULL);
	int type;
	int16_t fid;
	int64_t k = x->npages, m;
	x->null_page = cl_calloc((size_t)k, sizeof *x->null_page);
	x->min = cl_calloc((size_t)k, sizeof *x->min);
	x->max = cl_calloc((size_t)k, sizeof *x->max);
	x->null_count = cl_malloc((size_t)k * sizeof *x->null_count);
	if (!x->null_page || !x->min || !x->max || !x->null_count)
		return CL_ENOMEM;
	for (int64_t i = 0; i < k; i++)
		x->null_count[i] = -1;
	int have = 0;
	if (cl__thrift_struct_begin(&t))
		return -1;
	while (cl__thrift_field(&t, &type, &fid)) {
		switch (fid) {
		case 1:
			if (!list_of(&t, type, TC_TRUE, &m) || m != k)
				return -1;
			for (int64_t i = 0; i < k; i++)
				x->null_page[i] = cl__thrift_bool(&t, TC_LIST); /* list element */
			have |= 1;
			break;
		case 2:
		case 3:
			if (!list_of(&t, type, TC_BINARY, &m) || m != k)
				return -1;
			for (int64_t i = 0; i < k; i++) {
				cl__pq_bytes *b = fid == 2 ? &x->min[i] : &x->max[i];
				b->p = cl__thrift_binary(&t, &b->n);
			}
			have |= fid == 2 ? 2 : 4;
			break;
		case 5:
			if (!list_of(&t, type, TC_I64, &m) || m != k)
				return -1;
			for (int64_t i = 0; i < k; i++)
				x->null_count[i] = cl__thrift_i64(&t);
			break;
		default:
			cl__thrift_skip(&t, type);
		}
	}
	cl__thrift_struct_end(&t);
	return t.err || have != 7 ? -1 : 0;
}

/* Load the indexes of chunk (rg, col); x->npages = 0 when there are none
 * or they do not add up. */
static int load_index(const cl_parquet_file *f, int rg, int col, page_index *x,
		      cl_error *err)
{
	const cl__pq_column_chunk *cc = &f->meta->row_groups[rg].columns[col];
	int64_t rows = f->meta->row_groups[rg].num_rows;
	int rc = read_index(f, cc->offset_index_offset, cc->offset_index_length, &x->buf[0], err);
	if (!rc && x->buf[0])
		rc = read_index(f, cc->column_index_offset, cc->column_index_length, &x->buf[1], err);
	if (rc || !x->buf[0] || !x->buf[1])
		goto none;
	rc = decode_offset_index(x, x->buf[0], (size_t)cc->offset_index_length);
	if (!rc)
		rc = decode_column_index(x, x->buf[1], (size_t)cc->column_index_length);
	if (rc == CL_ENOMEM) {
		index_free(x);
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	}
	if (rc)
		goto none;
	for (int64_t i = 0; i < x->npages; i++)
		if (x->first_row[i] < 0 || x->first_row[i] >= rows ||
		    (i == 0 ? x->first_row[i] != 0 : x->first_row[i] <= x->first_row[i - 1]))
			goto none;
	return 0;
none:
	index_free(x);
	/* a read error (CL_EIO) is reported; an index that does not decode or
	 * add up is not used */
	return rc == -1 ? 0 : rc;
}

/* Intersect sorted disjoint ranges a (na) with b (nb) into a; *na updated. */
static void intersect(cl__pq_range *a, int *na, const cl__pq_range *b, int nb)
{
	int n = 0, i = 0, j = 0;
	/* one range of a may split in several: build from a copy (a has room
	 * for *na + nb ranges) */
	cl__pq_range *src = cl_malloc((size_t)(*na ? *na : 1) * sizeof *src);
	if (!src)
		return; /* keep a: a superset, still correct */
	memcpy(src, a, (size_t)*na * sizeof *src);
	int ns = *na;
	while (i < ns && j < nb) {
		int64_t s = src[i].start > b[j].start ? src[i].start : b[j].start;
		int64_t e = src[i].end < b[j].end ? src[i].end : b[j].end;
		if (s < e)
			a[n++] = (cl__pq_range){s, e};
		if (src[i].end < b[j].end)
			i++;
		else
			j++;
	}
	cl_free(src);
	*na = n;
}

int cl__pq_row_ranges(const cl_parquet_file *f, int rg, const cl_parquet_predicate *preds,
		      int npreds, cl__pq_range **out, int *n, cl_error *err)
{
	const cl__pq_meta *m = f->meta;
	int64_t rows = m->row_groups[rg].num_rows;
	*out = NULL;
	*n = 0;
	/* capacity: the whole group, or one range per page at most; a split
	 * range adds one, so size by the largest page count seen */
	int cap = 1;
	cl__pq_range *r = cl_malloc(sizeof *r);
	if (!r)
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	int nr = 0;
	if (rows > 0)
		r[nr++] = (cl__pq_range){0, rows};
	int rc = 0;
	cl_column v;
	memset(&v, 0, sizeof v);
	for (int pi = 0; pi < npreds && nr > 0 && !rc; pi++) {
		const cl_parquet_predicate *p = &preds[pi];
		int col = cl_parquet_file_find_column(f, p->column);
		if (col < 0 || m->leaves[col].max_rep > 0 || !f->map[col].supported)
			continue;
		page_index x = {0};
		if ((rc = load_index(f, rg, col, &x, err)) || x.npages == 0) {
			index_free(&x);
			continue;
		}
		bool valued = p->op != CL_PQ_IS_NULL && p->op != CL_PQ_NOT_NULL;
		if (valued) {
			cl_column_release(&v);
			if ((rc = cl_column_init(&v, f->map[col].type, 1, err)))
				goto page_done;
			if (!p->value) {
				rc = cl_error_set(err, CL_EINVAL, "predicate on '%s' has no value",
						  p->column);
				goto page_done;
			}
			if ((rc = cl__column_append_text(&v, p->value, strlen(p->value), err))) {
				cl_error_prefix(err, "predicate on '%s': ", p->column);
				goto page_done;
			}
		}
		cl__pq_range *pr = cl_malloc((size_t)x.npages * sizeof *pr);
		if (!pr) {
			rc = cl_error_set(err, CL_ENOMEM, "out of memory");
			goto page_done;
		}
		int np = 0;
		for (int64_t i = 0; i < x.npages && !rc; i++) {
			bool may;
			rc = cl__pq_page_may_match(f, col, p->op, valued ? &v : NULL, x.min[i],
						   x.max[i], !x.null_page[i], x.null_page[i],
						   x.null_count[i], &may, err);
			if (rc || !may)
				continue;
			int64_t s = x.first_row[i], e = i + 1 < x.npages ? x.first_row[i + 1] : rows;
			if (np && pr[np - 1].end == s)
				pr[np - 1].end = e;
			else
				pr[np++] = (cl__pq_range){s, e};
		}
		if (!rc) {
			int need = nr + np + 1;
			if (need > cap) {
				cl__pq_range *g = cl_realloc(r, (size_t)need * sizeof *g);
				if (!g)
					rc = cl_error_set(err, CL_ENOMEM, "out of memory");
				else {
					r = g;
					cap = need;
				}
			}
			if (!rc)
				intersect(r, &nr, pr, np);
		}
		cl_free(pr);
page_done:
		index_free(&x);
	}
	cl_column_release(&v);
	if (rc) {
		cl_free(r);
		return rc;
	}
	*out = r;
	*n = nr;
	return 0;
}
