/*
 * test_parquet_nested.c — nested Parquet: planning the schema tree into flat
 * columns (struct flattening, LIST/MAP shapes incl. the legacy forms), JSON
 * assembly from hand-made level streams (and its refusal of levels that
 * disagree), and reading real nested files in batches of every size,
 * projections, allocation failures and corruption.
 */
#include "test.h"

#include "changelake/io.h"
#include "changelake/parquet.h"
#include "core/buf.h"
#include "core/value_text.h"
#include "format/parquet_format.h"
#include "format/parquet_meta.h"
#include "format/parquet_nested.h"


/* ---- a hand-made schema ---- */

typedef struct elem_spec {
	const char *name;
	int type;      /* PQ_* or -1 for a group */
	int rep;       /* PQ_REQUIRED/OPTIONAL/REPEATED */
	int nchildren;
	int converted; /* -1 none */
} elem_spec;

typedef struct fake_meta {
	cl__pq_meta m;
	cl__pq_schema_elem schema[64];
	cl__pq_leaf leaves[64];
	char paths[64][64];
} fake_meta;

/* Build meta from specs (element 0 is the root). Leaves get their element
 * name as path (enough for messages). */
static void fake_build(fake_meta *f, const elem_spec *s, int n)
{
	memset(f, 0, sizeof *f);
	for (int i = 0; i < n; i++) {
		cl__pq_schema_elem *e = &f->schema[i];
		e->name = (char *)s[i].name;
		e->type = s[i].type;
		e->repetition = i ? s[i].rep : -1;
		e->num_children = s[i].nchildren;
		e->converted = s[i].converted;
		if (s[i].type >= 0) {
			cl__pq_leaf *l = &f->leaves[f->m.nleaves++];
			l->elem = i;
			snprintf(f->paths[i], sizeof f->paths[i], "%s", s[i].name);
			l->path = f->paths[i];
		}
	}
	f->m.schema = f->schema;
	f->m.nschema = n;
	f->m.leaves = f->leaves;
}

static const elem_spec shapes[] = {
	{"root", -1, 0, 7, -1},
	/* 0+1: 3-level list */
	{"a", -1, PQ_OPTIONAL, 1, PQ_CT_LIST},
	{"list", -1, PQ_REPEATED, 1, -1},
	{"element", PQ_INT32, PQ_OPTIONAL, 0, -1},
	/* 4: 2-level list of primitives */
	{"b", -1, PQ_OPTIONAL, 1, PQ_CT_LIST},
	{"item", PQ_INT32, PQ_REPEATED, 0, -1},
	/* 6: legacy: a one-field repeated group named "array" is the element */
	{"c", -1, PQ_REQUIRED, 1, PQ_CT_LIST},
	{"array", -1, PQ_REPEATED, 1, -1},
	{"x", PQ_INT32, PQ_REQUIRED, 0, -1},
	/* 9: legacy: "<name>_tuple" likewise */
	{"d", -1, PQ_OPTIONAL, 1, PQ_CT_LIST},
	{"d_tuple", -1, PQ_REPEATED, 1, -1},
	{"y", PQ_INT32, PQ_REQUIRED, 0, -1},
	/* 12: a repeated primitive without annotation */
	{"e", PQ_INT64, PQ_REPEATED, 0, -1},
	/* 13: structs flatten */
	{"s", -1, PQ_OPTIONAL, 2, -1},
	{"x", PQ_INT32, PQ_REQUIRED, 0, -1},
	{"t", -1, PQ_OPTIONAL, 1, -1},
	{"y", PQ_INT64, PQ_OPTIONAL, 0, -1},
	/* 17: map<string, int32> */
	{"m", -1, PQ_OPTIONAL, 1, PQ_CT_MAP},
	{"key_value", -1, PQ_REPEATED, 2, -1},
	{"key", PQ_BYTE_ARRAY, PQ_REQUIRED, 0, PQ_CT_UTF8},
	{"value", PQ_INT32, PQ_OPTIONAL, 0, -1},
};

TEST(pqn_plan_shapes)
{
	fake_meta f;
	fake_build(&f, shapes, (int)(sizeof shapes / sizeof *shapes));
	cl__pq_plan p;
	cl_error e = {0};
	CHECK_OK(cl__pq_plan_build(&p, &f.m, &e), &e);
	const char *names[] = {"a", "b", "c", "d", "e", "s.x", "s.t.y", "m"};
	const bool json[] = {1, 1, 1, 1, 1, 0, 0, 1};
	CHECK_EQ_INT(p.ncols, 8);
	for (int i = 0; i < 8; i++) {
		CHECK_STR(p.cols[i].name, names[i]);
		CHECK_EQ_INT(p.cols[i].json, json[i]);
	}
	CHECK_EQ_INT(p.nodes[1].kind, CL__PQ_LIST);
	CHECK_EQ_INT(p.nodes[1].elem, 3);    /* 3-level: the repeated group's field */
	CHECK_EQ_INT(p.nodes[4].elem, 5);    /* 2-level: the repeated primitive */
	CHECK_EQ_INT(p.nodes[6].elem, 7);    /* "array" */
	CHECK_EQ_INT(p.nodes[9].elem, 10);   /* "d_tuple" */
	CHECK_EQ_INT(p.nodes[17].kind, CL__PQ_MAP);
	CHECK_EQ_INT(p.nodes[17].repeated, 18);
	/* levels */
	CHECK_EQ_INT(p.nodes[3].def, 3);
	CHECK_EQ_INT(p.nodes[3].rep, 1);
	CHECK_EQ_INT(p.nodes[16].def, 3);
	CHECK_EQ_INT(p.nodes[16].rep, 0);
	CHECK_EQ_INT(p.cols[6].parent_def, 2); /* s.t.y: s and t present */
	CHECK_EQ_INT(p.cols[7].first_leaf, 7);
	CHECK_EQ_INT(p.cols[7].nleaves, 2);
	cl__pq_plan_release(&p);
}

/* Fill a level stream: n entries, rows cut at rep 0, int values or strings. */
static int fill_levels(cl__pq_levels *l, int max_def, int nrows, int n, const uint8_t *rep,
		       const uint8_t *def, const int32_t *ivals, const char *const *svals,
		       cl_error *e)
{
	memset(l, 0, sizeof *l);
	int rc = cl_column_init(&l->vals, cl_type_make(svals ? CL_STRING : CL_INT32), 4, e);
	if (rc)
		return rc;
	/* freed by cl__pq_levels_release */
	l->rep = cl_malloc((size_t)n + 1);
	l->def = cl_malloc((size_t)n + 1);
	l->row_start = cl_malloc(sizeof *l->row_start * (size_t)(nrows + 1));
	l->n = l->cap = n;
	l->max_def = max_def;
	int r = 0;
	for (int i = 0, v = 0; i < n; i++) {
		l->rep[i] = rep[i];
		l->def[i] = def[i];
		if (rep[i] == 0)
			l->row_start[r++] = i;
		if (def[i] == max_def) {
			if (svals)
				rc = cl_column_append_bytes(&l->vals, svals[v], strlen(svals[v]), e);
			else
				rc = cl_column_append_i64(&l->vals, ivals[v], e);
			v++;
			if (rc)
				return rc;
		}
	}
	l->row_start[nrows] = n;
	return r == nrows ? 0 : cl_error_set(e, CL_EINVAL, "bad test levels");
}

/* Assemble column `col` of the shapes plan into "t1|t2|\N..." text. */
static int assemble(int col, cl__pq_levels *lv, int nrows, cl_buf *out, cl_error *e)
{
	fake_meta f;
	fake_build(&f, shapes, (int)(sizeof shapes / sizeof *shapes));
	cl__pq_plan p;
	int rc = cl__pq_plan_build(&p, &f.m, e);
	if (rc)
		return rc;
	cl_column c;
	cl_buf scratch = {0};
	rc = cl_column_init(&c, cl_type_make(CL_STRING), 0, e);
	if (!rc)
		rc = cl__pq_json_assemble(&f.m, &p, &p.cols[col], lv, nrows, &c, &scratch, e);
	for (int64_t i = 0; !rc && i < c.length; i++) {
		if (i)
			cl_buf_putc(out, '|');
		if (cl_column_is_null(&c, i))
			cl_buf_puts(out, "\\N");
		else {
			size_t n;
			const uint8_t *s = cl_column_get_bytes(&c, i, &n);
			cl_buf_append(out, s, n);
		}
	}
	cl_buf_putc(out, '\0');
	cl_buf_release(&scratch);
	cl_column_release(&c);
	cl__pq_plan_release(&p);
	return rc;
}

TEST(pqn_assemble_lists_and_maps)
{
	cl_error e = {0};
	cl_buf t = {0};
	cl__pq_levels lv[2];
	/* a: [1, null], [], NULL, [3] */
	static const uint8_t ar[] = {0, 1, 0, 0, 0}, ad[] = {3, 2, 1, 0, 3};
	static const int32_t av[] = {1, 3};
	CHECK_OK(fill_levels(&lv[0], 3, 4, 5, ar, ad, av, NULL, &e), &e);
	CHECK_OK(assemble(0, lv, 4, &t, &e), &e);
	CHECK_STR((char *)t.data, "[1,null]|[]|\\N|[3]");
	cl__pq_levels_release(&lv[0]);
	/* c (required list of one-field structs "array"): [{"x":7},{"x":8}], [] */
	static const uint8_t cr[] = {0, 1, 0}, cd[] = {1, 1, 0};
	static const int32_t cv[] = {7, 8};
	t.len = 0;
	CHECK_OK(fill_levels(&lv[0], 1, 2, 3, cr, cd, cv, NULL, &e), &e);
	CHECK_OK(assemble(2, lv, 2, &t, &e), &e);
	CHECK_STR((char *)t.data, "[{\"x\":7},{\"x\":8}]|[]");
	cl__pq_levels_release(&lv[0]);
	/* e (repeated int64, not annotated): [5,6], [] — never NULL */
	t.len = 0;
	static const uint8_t er[] = {0, 1, 0}, ed[] = {1, 1, 0};
	CHECK_OK(fill_levels(&lv[0], 1, 2, 3, er, ed, cv, NULL, &e), &e);
	CHECK_OK(assemble(4, lv, 2, &t, &e), &e);
	CHECK_STR((char *)t.data, "[7,8]|[]");
	cl__pq_levels_release(&lv[0]);
	/* m: {"k1":1,"k\"2":null}, {}, NULL */
	static const uint8_t kr[] = {0, 1, 0, 0}, kd[] = {2, 2, 1, 0};
	static const char *const kv[] = {"k1", "k\"2"};
	static const uint8_t vr[] = {0, 1, 0, 0}, vd[] = {3, 2, 1, 0};
	static const int32_t vv[] = {1};
	t.len = 0;
	CHECK_OK(fill_levels(&lv[0], 2, 3, 4, kr, kd, NULL, kv, &e), &e);
	CHECK_OK(fill_levels(&lv[1], 3, 3, 4, vr, vd, vv, NULL, &e), &e);
	CHECK_OK(assemble(7, lv, 3, &t, &e), &e);
	CHECK_STR((char *)t.data, "{\"k1\":1,\"k\\\"2\":null}|{}|\\N");
	cl__pq_levels_release(&lv[0]);
	cl__pq_levels_release(&lv[1]);
	cl_buf_release(&t);
}

/* Leaves that contradict each other are CL_EFORMAT, never a guess. */
TEST(pqn_assemble_refuses_disagreeing_levels)
{
	cl_error e = {0};
	cl_buf t = {0};
	cl__pq_levels lv[2];
	static const uint8_t kr[] = {0, 1, 0}, kd[] = {2, 2, 1};
	static const char *const kv[] = {"a", "b"};
	/* the value leaf says row 1's map is present (def 2), the key leaf
	 * that it is empty (def 1) */
	static const uint8_t vr[] = {0, 1, 0}, vd[] = {3, 3, 2};
	static const int32_t vv[] = {1, 2};
	CHECK_OK(fill_levels(&lv[0], 2, 2, 3, kr, kd, NULL, kv, &e), &e);
	CHECK_OK(fill_levels(&lv[1], 3, 2, 3, vr, vd, vv, NULL, &e), &e);
	CHECK_EQ_INT(assemble(7, lv, 2, &t, &e), CL_EFORMAT);
	CHECK(strstr(e.message, "row 1") != NULL);
	cl__pq_levels_release(&lv[1]);
	/* the value leaf has one entry fewer in row 0 */
	static const uint8_t wr[] = {0, 0}, wd[] = {3, 1};
	CHECK_OK(fill_levels(&lv[1], 3, 2, 2, wr, wd, vv, NULL, &e), &e);
	t.len = 0;
	CHECK_EQ_INT(assemble(7, lv, 2, &t, &e), CL_EFORMAT);
	CHECK(strstr(e.message, "value") != NULL);
	cl__pq_levels_release(&lv[0]);
	cl__pq_levels_release(&lv[1]);
	/* a list whose only leaf repeats deeper than the list */
	static const uint8_t ar[] = {0, 2}, ad[] = {3, 3};
	static const int32_t av[] = {1, 2};
	CHECK_OK(fill_levels(&lv[0], 3, 1, 2, ar, ad, av, NULL, &e), &e);
	t.len = 0;
	CHECK_EQ_INT(assemble(0, lv, 1, &t, &e), CL_EFORMAT);
	cl__pq_levels_release(&lv[0]);
	cl_buf_release(&t);
}

/* ---- real files ---- */

static const char *data_file(const char *dir, const char *name)
{
	static char path[1024];
	snprintf(path, sizeof path, "%s/%s/%s", cl_test_data_root(), dir, name);
	return path;
}

static int read_all(const char *path, const cl_read_options *o, cl_buf *out, cl_error *e)
{
	cl_reader *r;
	int rc = cl_reader_open(&r, path, o, e);
	if (rc)
		return rc;
	const cl_schema *s = cl_reader_schema(r);
	for (int c = 0; c < s->nfields; c++)
		if (cl_buf_printf(out, "%s%s", c ? "|" : "", s->fields[c].name))
			rc = CL_ENOMEM;
	cl_buf_putc(out, '\n');
	cl_batch *b;
	while (!rc && (rc = cl_reader_next(r, &b, e)) == 0 && b) {
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
	cl_buf_putc(out, '\0');
	return rc;
}

static const char *nested_files[] = {
	"nested_lists.snappy.parquet", "nested_maps.snappy.parquet",
	"repeated_no_annotation.parquet", "old_list_structure.parquet",
	"list_columns.parquet", "nullable.impala.parquet", "nonnullable.impala.parquet",
	"repeated_primitive_no_list.parquet", "null_list.parquet", "nulls.snappy.parquet",
};

/* Rows cut into batches of any size read the same (lists span pages and
 * batches). */
TEST(pqn_batches_of_every_size)
{
	for (size_t fi = 0; fi < sizeof nested_files / sizeof *nested_files; fi++) {
		cl_error e = {0};
		cl_buf ref = {0};
		CHECK_OK(read_all(data_file("parquet-testing/data", nested_files[fi]), NULL, &ref, &e), &e);
		for (int br = 1; br <= 4; br++) {
			cl_read_options o;
			cl_read_options_init(&o);
			o.batch_rows = br;
			cl_buf t = {0};
			CHECK_OK(read_all(data_file("parquet-testing/data", nested_files[fi]), &o, &t, &e), &e);
			CHECK_STR((char *)t.data, (char *)ref.data);
			cl_buf_release(&t);
		}
		cl_buf_release(&ref);
	}
}

TEST(pqn_values)
{
	cl_error e = {0};
	cl_buf t = {0};
	CHECK_OK(read_all(data_file("parquet-testing/data", "nested_maps.snappy.parquet"), NULL, &t, &e), &e);
	CHECK_STR((char *)t.data, "a|b|c\n"
				  "{\"a\":{\"1\":true,\"2\":false}}|1|1\n"
				  "{\"b\":{\"1\":true}}|1|1\n"
				  "{\"c\":null}|1|1\n"
				  "{\"d\":{}}|1|1\n"
				  "{\"e\":{\"1\":true}}|1|1\n"
				  "{\"f\":{\"3\":true,\"4\":false,\"5\":true}}|1|1\n");
	cl_buf_release(&t);
}

/* Struct projection: "add" selects add.*; a JSON column by name. */
TEST(pqn_projection_of_structs)
{
	cl_error e = {0};
	cl_buf t = {0};
	cl_read_options o;
	cl_read_options_init(&o);
	const char *cols[] = {"metaData.partitionColumns", "add.path", "add.partitionValues", "protocol"};
	o.columns = cols;
	o.ncolumns = 4;
	const char *ck = data_file("delta-golden",
				   "dv-partitioned-with-checkpoint/_delta_log/00000000000000000010.checkpoint.parquet");
	CHECK_OK(read_all(ck, &o, &t, &e), &e);
	CHECK(!strncmp((char *)t.data,
		       "metaData.partitionColumns|add.path|add.partitionValues|protocol.minReaderVersion|"
		       "protocol.minWriterVersion|protocol.readerFeatures|protocol.writerFeatures\n",
		       150));
	CHECK(strstr((char *)t.data, "[\"part\"]|\\N|\\N|\\N|\\N|\\N|\\N\n") != NULL);
	CHECK(strstr((char *)t.data, "\\N|part=1/part-00001-d7e5d32a-55fa-410a-afee-adcdf46bc859.c000.snappy.parquet|{\"part\":\"1\"}|") != NULL);
	CHECK(strstr((char *)t.data, "|3|7|[\"deletionVectors\"]|[\"deletionVectors\"]\n") != NULL);
	cl_buf_release(&t);
	const char *none[] = {"add.nope"};
	o.columns = none;
	o.ncolumns = 1;
	cl_reader *r;
	CHECK_EQ_INT(cl_reader_open(&r, ck, &o, &e), CL_ENOTFOUND);
	/* "add.path" does not select "add.pathX"-like siblings: prefix is per part */
	const char *part[] = {"add.pa"};
	o.columns = part;
	CHECK_EQ_INT(cl_reader_open(&r, ck, &o, &e), CL_ENOTFOUND);
}

TEST(pqn_alloc_failures)
{
	const char *files[] = {"nested_maps.snappy.parquet", "nullable.impala.parquet"};
	for (int fi = 0; fi < 2; fi++) {
		const char *path = data_file("parquet-testing/data", files[fi]);
		cl_buf ref = {0};
		cl_error e = {0};
		cl_read_options o;
		cl_read_options_init(&o);
		o.batch_rows = 3;
		CHECK_OK(read_all(path, &o, &ref, &e), &e);
		int ok = 0;
		for (long n = 0; n < 20000 && !ok; n++) {
			cl_buf t = {0};
			cl_alloc_fail_after(n);
			int rc = read_all(path, &o, &t, &e);
			cl_alloc_fail_after(-1);
			if (rc == 0)
				ok = 1;
			else
				CHECK_EQ_INT(rc, CL_ENOMEM);
			cl_buf_release(&t);
		}
		CHECK(ok);
		cl_buf t2 = {0};
		CHECK_OK(read_all(path, &o, &t2, &e), &e);
		CHECK_STR((char *)t2.data, (char *)ref.data);
		cl_buf_release(&t2);
		cl_buf_release(&ref);
	}
}

/* Truncated and corrupted nested files: an error naming the file, never a
 * crash or an internal error. */
TEST(pqn_truncated_and_corrupted)
{
	const char *src[] = {"nested_maps.snappy.parquet", "nullable.impala.parquet"};
	for (int fi = 0; fi < 2; fi++) {
		FILE *in = fopen(data_file("parquet-testing/data", src[fi]), "rb");
		CHECK(in != NULL);
		static uint8_t buf[1 << 16];
		size_t n = fread(buf, 1, sizeof buf, in);
		fclose(in);
		char path[600];
		snprintf(path, sizeof path, "%s/nested_x.parquet", cl_test_tmpdir());
		for (size_t cut = 0; cut < n; cut += (cut < 64 || cut > n - 64) ? 1 : 13) {
			for (int mode = 0; mode < 3; mode++) {
				static uint8_t tmp[1 << 16];
				memcpy(tmp, buf, n);
				size_t len = n;
				if (mode == 0)
					len = cut;
				else if (mode == 1)
					tmp[cut] ^= 0x5a;
				else
					tmp[cut] = (uint8_t)(tmp[cut] + 1);
				FILE *out = fopen(path, "wb");
				fwrite(tmp, 1, len, out);
				fclose(out);
				cl_buf t = {0};
				cl_error e = {0};
				int rc = read_all(path, NULL, &t, &e);
				cl_buf_release(&t);
				if (rc) {
					CHECK(rc != CL_EINTERNAL);
					CHECK(strstr(e.message, "nested_x.parquet") != NULL);
				}
			}
		}
	}
}
