/* test_diff.c — the diff engine on small tables (spark-extension semantics). */
#include "test.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "changelake/diff.h"
#include "core/buf.h"
#include "core/value_text.h"

/* Run a diff, text of the output ("header\nrow\n..."), or NULL. */
static char *run_diff_ex(const char *lschema, const char *lrows, const char *rschema,
			 const char *rrows, const cl_diff_options *o, cl_error *err,
			 cl_diff_stats *stats_out, int split)
{
	cl_schema *ls = NULL, *rs = NULL;
	cl_batch *lb = NULL, *rb = NULL;
	cl_diff *d = NULL;
	cl_buf out = {0};
	char *res = NULL;
	if (cl_test_batch_parse(&ls, &lb, lschema, lrows) ||
	    cl_test_batch_parse(&rs, &rb, rschema, rrows))
		goto done;
	if (cl_diff_create(&d, ls, rs, o, err))
		goto done;
	const cl_schema *os = cl_diff_schema(d);
	for (int c = 0; c < os->nfields; c++)
		cl_buf_printf(&out, "%s%s", c ? "|" : "", os->fields[c].name);
	cl_buf_putc(&out, '\n');
	/* feed in pieces of `split` rows to exercise batch boundaries */
	for (int side = 0; side < 2; side++) {
		cl_batch *b = side ? rb : lb;
		cl_schema *s = side ? rs : ls;
		int64_t step = split > 0 ? split : b->nrows;
		for (int64_t at = 0; at < b->nrows || (at == 0 && b->nrows == 0); at += step) {
			cl_batch *piece;
			if (cl_batch_create(&piece, s, 0, err))
				goto done;
			int64_t n = b->nrows - at < step ? b->nrows - at : step;
			for (int c = 0; c < b->ncols; c++)
				for (int64_t r = 0; r < n; r++)
					cl_column_append_from(&piece->cols[c], &b->cols[c], at + r,
							      err);
			piece->nrows = n;
			int rc = side ? cl_diff_add_right(d, piece, "right.csv", at + 1, err)
				      : cl_diff_add_left(d, piece, "left.csv", at + 1, err);
			cl_batch_free(piece);
			if (rc)
				goto done;
			if (b->nrows == 0)
				break;
		}
	}
	for (;;) {
		cl_batch *b;
		if (cl_diff_next(d, &b, err))
			goto done;
		if (!b)
			break;
		cl_test_batch_text(&out, b);
	}
	if (stats_out) {
		/* the stats' names are borrowed from d: keep copies of the first */
		static char lo[64], ro[64];
		static const char *lop[1] = {lo}, *rop[1] = {ro};
		static int64_t changes[16];
		*stats_out = *cl_diff_get_stats(d);
		snprintf(lo, sizeof lo, "%s", stats_out->nleft_only ? stats_out->left_only[0] : "");
		snprintf(ro, sizeof ro, "%s", stats_out->nright_only ? stats_out->right_only[0] : "");
		for (int i = 0; i < stats_out->nvalues && i < 16; i++)
			changes[i] = stats_out->value_changes[i];
		stats_out->left_only = lop;
		stats_out->right_only = rop;
		stats_out->value_changes = changes;
		stats_out->value_names = NULL;
		stats_out->widened = NULL;
	}
	res = cl_strdup(out.data ? (char *)out.data : "");
done:
	cl_buf_release(&out);
	cl_diff_free(d);
	cl_batch_free(lb);
	cl_batch_free(rb);
	cl_schema_free(ls);
	cl_schema_free(rs);
	return res;
}

static char *run_diff(const char *schema, const char *l, const char *r,
		      const cl_diff_options *o, cl_error *err)
{
	return run_diff_ex(schema, l, schema, r, o, err, NULL, 0);
}

#define CHECK_DIFF(got, want)                                                   \
	do {                                                                    \
		char *g_ = (got);                                               \
		if (!g_) {                                                      \
			cl_test_fail(__FILE__, __LINE__, "diff failed: %s", err.message); \
			return;                                                 \
		}                                                               \
		if (strcmp(g_, want)) {                                         \
			cl_test_fail(__FILE__, __LINE__, "got:\n%s\nwant:\n%s", g_, want); \
			cl_free(g_);                                            \
			return;                                                 \
		}                                                               \
		cl_free(g_);                                                    \
	} while (0)

static const char *keys_id[] = {"id"};

static void opts(cl_diff_options *o)
{
	cl_diff_options_init(o);
	o->keys = keys_id;
	o->nkeys = 1;
}

/* spark-extension's README example */
TEST(diff_basic_readme)
{
	cl_error err = {0};
	cl_diff_options o;
	opts(&o);
	const char *s = "id int32, value string";
	CHECK_DIFF(run_diff(s, "1|one\n2|two\n3|three", "1|one\n2|Two\n4|four", &o, &err),
		   "diff|id|left_value|right_value\n"
		   "C|2|two|Two\n"
		   "D|3|three|~\n"
		   "I|4|~|four\n");
	o.keep_unchanged = true;
	CHECK_DIFF(run_diff(s, "1|one\n2|two\n3|three", "1|one\n2|Two\n4|four", &o, &err),
		   "diff|id|left_value|right_value\n"
		   "N|1|one|one\n"
		   "C|2|two|Two\n"
		   "D|3|three|~\n"
		   "I|4|~|four\n");
}

/* DIFF.md's diff-modes example, with its expected tables. */
static const char *ms = "id int32, value string, label string";
static const char *ml = "1|one|~\n2|two|number two\n3|three|number three\n"
			"4|four|number four\n5|five|number five";
static const char *mr = "1|one|one\n2|Two|number two\n3|Three|number Three\n"
			"4|four|number four\n6|six|number six";

TEST(diff_mode_column_by_column)
{
	cl_error err = {0};
	cl_diff_options o;
	opts(&o);
	o.keep_unchanged = true;
	CHECK_DIFF(run_diff(ms, ml, mr, &o, &err),
		   "diff|id|left_value|right_value|left_label|right_label\n"
		   "C|1|one|one|~|one\n"
		   "C|2|two|Two|number two|number two\n"
		   "C|3|three|Three|number three|number Three\n"
		   "N|4|four|four|number four|number four\n"
		   "D|5|five|~|number five|~\n"
		   "I|6|~|six|~|number six\n");
}

TEST(diff_mode_side_by_side)
{
	cl_error err = {0};
	cl_diff_options o;
	opts(&o);
	o.keep_unchanged = true;
	o.mode = CL_DIFF_SIDE_BY_SIDE;
	CHECK_DIFF(run_diff(ms, ml, mr, &o, &err),
		   "diff|id|left_value|left_label|right_value|right_label\n"
		   "C|1|one|~|one|one\n"
		   "C|2|two|number two|Two|number two\n"
		   "C|3|three|number three|Three|number Three\n"
		   "N|4|four|number four|four|number four\n"
		   "D|5|five|number five|~|~\n"
		   "I|6|~|~|six|number six\n");
}

TEST(diff_mode_left_right_side)
{
	cl_error err = {0};
	cl_diff_options o;
	opts(&o);
	o.keep_unchanged = true;
	o.mode = CL_DIFF_LEFT_SIDE;
	CHECK_DIFF(run_diff(ms, ml, mr, &o, &err),
		   "diff|id|value|label\n"
		   "C|1|one|~\n"
		   "C|2|two|number two\n"
		   "C|3|three|number three\n"
		   "N|4|four|number four\n"
		   "D|5|five|number five\n"
		   "I|6|~|~\n");
	o.mode = CL_DIFF_RIGHT_SIDE;
	CHECK_DIFF(run_diff(ms, ml, mr, &o, &err),
		   "diff|id|value|label\n"
		   "C|1|one|one\n"
		   "C|2|Two|number two\n"
		   "C|3|Three|number Three\n"
		   "N|4|four|number four\n"
		   "D|5|~|~\n"
		   "I|6|six|number six\n");
}

TEST(diff_sparse)
{
	cl_error err = {0};
	cl_diff_options o;
	opts(&o);
	o.keep_unchanged = true;
	o.sparse = true;
	CHECK_DIFF(run_diff(ms, ml, mr, &o, &err),
		   "diff|id|left_value|right_value|left_label|right_label\n"
		   "C|1|~|~|~|one\n"
		   "C|2|two|Two|~|~\n"
		   "C|3|three|Three|number three|number Three\n"
		   "N|4|~|~|~|~\n"
		   "D|5|five|~|number five|~\n"
		   "I|6|~|six|~|number six\n");
}

TEST(diff_change_column_and_values)
{
	cl_error err = {0};
	cl_diff_options o;
	opts(&o);
	o.keep_unchanged = true;
	o.change_column = "changes";
	o.diff_column = "action";
	o.left_prefix = "old";
	o.right_prefix = "new";
	o.insert_value = "+";
	o.delete_value = "-";
	o.change_value = "~";
	o.nochange_value = "=";
	CHECK_DIFF(run_diff(ms, ml, mr, &o, &err),
		   "action|changes|id|old_value|new_value|old_label|new_label\n"
		   "~|label|1|one|one|~|one\n"
		   "~|value|2|two|Two|number two|number two\n"
		   "~|value,label|3|three|Three|number three|number Three\n"
		   "=||4|four|four|number four|number four\n"
		   "-|~|5|five|~|number five|~\n"
		   "+|~|6|~|six|~|number six\n");
}

TEST(diff_null_keys_match)
{
	cl_error err = {0};
	cl_diff_options o;
	cl_diff_options_init(&o);
	const char *k[] = {"a", "b"};
	o.keys = k;
	o.nkeys = 2;
	o.keep_unchanged = true;
	const char *s = "a int64, b string, v float64";
	CHECK_DIFF(run_diff(s, "1|~|1.5\n~|~|2\n~|x|3\n2|y|nan",
			    "~|~|2\n1|~|1.25\n~|x|4\n2|y|nan\n3|z|-0", &o, &err),
		   "diff|a|b|left_v|right_v\n"
		   "N|~|~|2|2\n"
		   "C|~|x|3|4\n"
		   "C|1|~|1.5|1.25\n"
		   "N|2|y|nan|nan\n"
		   "I|3|z|~|-0\n");
}

TEST(diff_duplicate_keys)
{
	cl_error err = {0};
	cl_diff_options o;
	opts(&o);
	const char *s = "id int32, v string";
	char *r = run_diff(s, "1|a\n2|b\n1|c", "1|a", &o, &err);
	CHECK(r == NULL);
	CHECK_EQ_INT(err.code, CL_EDUPKEY);
	CHECK(strstr(err.message, "id=1") != NULL);
	CHECK(strstr(err.message, "OLD") != NULL);
	CHECK(strstr(err.message, "left.csv row 1") != NULL);
	CHECK(strstr(err.message, "left.csv row 3") != NULL);
	/* on the right, among matched keys and among inserts */
	r = run_diff(s, "1|a", "1|a\n1|b", &o, &err);
	CHECK(r == NULL && err.code == CL_EDUPKEY);
	CHECK(strstr(err.message, "NEW") && strstr(err.message, "right.csv row 2"));
	r = run_diff(s, "1|a", "5|a\n7|x\n5|b", &o, &err);
	CHECK(r == NULL && err.code == CL_EDUPKEY);
	CHECK(strstr(err.message, "id=5") && strstr(err.message, "right.csv row 3"));
	/* allowed: a full outer join's rows */
	o.allow_duplicate_keys = true;
	o.keep_unchanged = true;
	CHECK_DIFF(run_diff(s, "1|a\n2|b\n1|c", "1|a\n2|b\n2|x", &o, &err),
		   "diff|id|left_v|right_v\n"
		   "N|1|a|a\n"
		   "C|1|c|a\n"
		   "N|2|b|b\n"
		   "C|2|b|x\n");
}

TEST(diff_ignored_columns)
{
	cl_error err = {0};
	cl_diff_options o;
	opts(&o);
	const char *ig[] = {"ts"};
	o.ignore = ig;
	o.nignore = 1;
	o.keep_unchanged = true;
	CHECK_DIFF(run_diff_ex("id int32, ts string, v int32", "1|t1|10\n2|t2|20",
			       "id int32, v int32, ts int64", "1|10|5\n2|21|6", &o, &err, NULL,
			       0),
		   "diff|id|left_v|right_v|left_ts|right_ts\n"
		   "N|1|10|10|t1|5\n"
		   "C|2|20|21|t2|6\n");
	o.mode = CL_DIFF_SIDE_BY_SIDE;
	CHECK_DIFF(run_diff_ex("id int32, ts string, v int32", "1|t1|10",
			       "id int32, v int32, ts int64", "1|11|5", &o, &err, NULL, 0),
		   "diff|id|left_ts|left_v|right_v|right_ts\n"
		   "C|1|t1|10|11|5\n");
	o.mode = CL_DIFF_RIGHT_SIDE;
	CHECK_DIFF(run_diff_ex("id int32, ts string, v int32", "1|t1|10",
			       "id int32, v int32, ts int64", "1|11|5", &o, &err, NULL, 0),
		   "diff|id|v|ts\n"
		   "C|1|11|5\n");
	const char *bad[] = {"nope"};
	o.ignore = bad;
	CHECK(run_diff("id int32, v int32", "1|1", "1|1", &o, &err) == NULL);
	CHECK_EQ_INT(err.code, CL_ENOTFOUND);
}

TEST(diff_epsilon)
{
	cl_error err = {0};
	cl_diff_options o;
	opts(&o);
	o.keep_unchanged = true;
	const char *s = "id int32, value float64";
	const char *l = "1|1.0\n2|2.0\n3|3.0", *r = "1|1.0\n2|2.02\n3|3.05";
	CHECK_DIFF(run_diff(s, l, r, &o, &err),
		   "diff|id|left_value|right_value\n"
		   "N|1|1|1\nC|2|2|2.02\nC|3|3|3.05\n");
	cl_diff_rule rule;
	CHECK_OK(cl_diff_rule_parse(&rule, CL_CMP_EPSILON, "type:float64=0.01", &err), &err);
	o.rules = &rule;
	o.nrules = 1;
	CHECK_DIFF(run_diff(s, l, r, &o, &err),
		   "diff|id|left_value|right_value\n"
		   "N|1|1|1\nN|2|2|2.02\nC|3|3|3.05\n");
	/* absolute, inclusive vs exclusive at the bound */
	CHECK_OK(cl_diff_rule_parse(&rule, CL_CMP_EPSILON, "value=0.5,abs", &err), &err);
	CHECK_DIFF(run_diff(s, "1|1\n2|2", "1|1.5\n2|2.75", &o, &err),
		   "diff|id|left_value|right_value\n"
		   "N|1|1|1.5\nC|2|2|2.75\n");
	CHECK_OK(cl_diff_rule_parse(&rule, CL_CMP_EPSILON, "value=0.5,abs,exclusive", &err),
		 &err);
	CHECK_DIFF(run_diff(s, "1|1", "1|1.5", &o, &err),
		   "diff|id|left_value|right_value\nC|1|1|1.5\n");
	/* a comparator for a string column is refused */
	CHECK_OK(cl_diff_rule_parse(&rule, CL_CMP_EPSILON, "v=1", &err), &err);
	CHECK(run_diff("id int32, v string", "1|a", "1|a", &o, &err) == NULL);
	CHECK(cl_diff_rule_parse(&rule, CL_CMP_EPSILON, "v=abc", &err) != 0);
	CHECK(cl_diff_rule_parse(&rule, CL_CMP_EPSILON, "v=1,bogus", &err) != 0);
}

TEST(diff_whitespace_and_duration)
{
	cl_error err = {0};
	cl_diff_options o;
	opts(&o);
	o.keep_unchanged = true;
	cl_diff_rule rules[2];
	CHECK_OK(cl_diff_rule_parse(&rules[0], CL_CMP_WHITESPACE, "s", &err), &err);
	CHECK_OK(cl_diff_rule_parse(&rules[1], CL_CMP_DURATION, "t=1s", &err), &err);
	o.rules = rules;
	o.nrules = 2;
	const char *s = "id int32, s string, t timestamp(ms)";
	CHECK_DIFF(run_diff(s, "1|a  b|2024-01-01 00:00:00\n2| x|2024-01-01 00:00:00\n3|ab|2024-01-01 00:00:00",
			    "1| a b |2024-01-01 00:00:01\n2|x|2024-01-01 00:00:01.001\n3|a b|2024-01-01 00:00:00", &o, &err),
		   "diff|id|left_s|right_s|left_t|right_t\n"
		   "N|1|a  b| a b |2024-01-01 00:00:00|2024-01-01 00:00:01\n"
		   "C|2| x|x|2024-01-01 00:00:00|2024-01-01 00:00:01.001\n"
		   "C|3|ab|a b|2024-01-01 00:00:00|2024-01-01 00:00:00\n");
}

TEST(diff_schema_drift)
{
	cl_error err = {0};
	cl_diff_options o;
	opts(&o);
	o.keep_unchanged = true;
	o.change_column = "changes";
	cl_diff_stats st;
	/* id widens int32 -> int64, a float32 -> float64; b only left, c only right */
	CHECK_DIFF(run_diff_ex("id int32, a float32, b string", "1|1.5|x\n2|2.5|~",
			       "id int64, c int16, a float64", "1|~|1.5\n2|7|2.5", &o, &err,
			       &st, 0),
		   "diff|changes|id|left_a|right_a|left_b|right_b|left_c|right_c\n"
		   "C|b|1|1.5|1.5|x|~|~|~\n"
		   "C|c|2|2.5|2.5|~|~|~|7\n");
	CHECK_EQ_INT(st.nleft_only, 1);
	CHECK_STR(st.left_only[0], "b");
	CHECK_EQ_INT(st.nright_only, 1);
	CHECK_STR(st.right_only[0], "c");
	CHECK_EQ_INT(st.nwidened, 2);
	/* a change that does not widen */
	CHECK(run_diff_ex("id int32, a string", "1|x", "id int32, a int32", "1|1", &o, &err,
			  NULL, 0) == NULL);
	CHECK_EQ_INT(err.code, CL_ESCHEMA);
	CHECK(strstr(err.message, "'a'") && strstr(err.message, "string"));
	CHECK_DIFF(run_diff_ex("id int64, a int32", "1|1", "id int32, a int64", "2|1", &o,
			       &err, NULL, 0),
		   "diff|changes|id|left_a|right_a\nD|~|1|1|~\nI|~|2|~|1\n");
	/* decimals widen to fit both */
	CHECK_DIFF(run_diff_ex("id int32, d decimal(5,2)", "1|123.45\n2|1.00",
			       "id int32, d decimal(6,1)", "1|12345.6\n2|1.0", &o, &err, NULL,
			       0),
		   "diff|changes|id|left_d|right_d\n"
		   "C|d|1|123.45|12345.60\n"
		   "N||2|1.00|1.00\n");
	/* a missing key is an error */
	CHECK(run_diff_ex("id int32, a int32", "1|1", "k int32, a int32", "1|1", &o, &err,
			  NULL, 0) == NULL);
	CHECK_EQ_INT(err.code, CL_ENOTFOUND);
}

TEST(diff_stats_counts)
{
	cl_error err = {0};
	cl_diff_options o;
	opts(&o);
	cl_diff_stats st;
	char *r = run_diff_ex(ms, ml, ms, mr, &o, &err, &st, 0);
	CHECK(r != NULL);
	cl_free(r);
	CHECK_EQ_INT(st.inserted, 1);
	CHECK_EQ_INT(st.deleted, 1);
	CHECK_EQ_INT(st.changed, 3);
	CHECK_EQ_INT(st.unchanged, 1);
	CHECK_EQ_INT(st.nvalues, 2);
	CHECK_EQ_INT(st.value_changes[0], 2); /* value */
	CHECK_EQ_INT(st.value_changes[1], 2); /* label */
	CHECK_EQ_INT(st.left_rows, 5);
	CHECK_EQ_INT(st.right_rows, 5);
}

TEST(diff_output_names_clash)
{
	cl_error err = {0};
	cl_diff_options o;
	opts(&o);
	o.diff_column = "id";
	CHECK(run_diff("id int32, v int32", "1|1", "1|1", &o, &err) == NULL);
	CHECK_EQ_INT(err.code, CL_ESCHEMA);
	opts(&o);
	o.insert_value = "C";
	CHECK(run_diff("id int32, v int32", "1|1", "1|1", &o, &err) == NULL);
}

/* Random tables: the in-memory and spilled runs agree, with any batch size. */
static void rand_rows(cl_buf *b, unsigned *seed, int n, int keymod, int flavor)
{
	for (int i = 0; i < n; i++) {
		int k = (int)(rand_r(seed) % (unsigned)keymod);
		/* unique keys: use i scrambled */
		k = (i * 7919 + flavor) % keymod;
		int v = (int)(rand_r(seed) % 5);
		cl_buf_printf(b, "%s%d|%s|%d.5\n", i ? "" : "", k,
			      v == 0 ? "~" : v == 1 ? "x" : v == 2 ? "y\xc3\xa9" : "zz",
			      (int)(rand_r(seed) % 3));
	}
	if (b->len && b->data[b->len - 1] == '\n')
		b->data[--b->len] = 0;
}

TEST(diff_spill_matches_memory)
{
	cl_error err = {0};
	unsigned seed = 42;
	cl_buf l = {0}, r = {0};
	rand_rows(&l, &seed, 3000, 4001, 0);
	rand_rows(&r, &seed, 3000, 4001, 5);
	const char *s = "id int64, s string, f float64";
	cl_diff_options o;
	opts(&o);
	o.keep_unchanged = true;
	o.change_column = "changes";
	cl_diff_stats st1, st2;
	char *mem = run_diff_ex(s, (char *)l.data, s, (char *)r.data, &o, &err, &st1, 0);
	CHECK(mem != NULL);
	CHECK_EQ_INT(st1.partitions, 0);
	o.memory_limit = 4096;
	o.batch_rows = 100;
	char *sp = run_diff_ex(s, (char *)l.data, s, (char *)r.data, &o, &err, &st2, 333);
	cl_buf_release(&l);
	cl_buf_release(&r);
	if (!sp)
		cl_free(mem);
	CHECK(sp != NULL);
	bool same = strcmp(mem, sp) == 0;
	cl_free(mem);
	cl_free(sp);
	CHECK(same);
	CHECK(st2.partitions > 0);
	CHECK(st2.spill_bytes > 0);
	CHECK_EQ_INT(st1.inserted, st2.inserted);
	CHECK_EQ_INT(st1.changed, st2.changed);
	CHECK(st1.inserted > 0 && st1.deleted > 0 && st1.changed > 0);
}

TEST(diff_spill_duplicate_key_error)
{
	cl_error err = {0};
	cl_diff_options o;
	opts(&o);
	o.memory_limit = 1;
	const char *s = "id int32, v string";
	CHECK(run_diff(s, "1|a\n2|b\n3|c\n2|d", "1|a", &o, &err) == NULL);
	CHECK_EQ_INT(err.code, CL_EDUPKEY);
	CHECK(strstr(err.message, "left.csv row 2") && strstr(err.message, "left.csv row 4"));
}

TEST(diff_alloc_failures)
{
	/* every allocation failure is an error return, never a crash or leak */
	for (long n = 0; n < 400; n += 3) {
		cl_error err = {0};
		cl_diff_options o;
		opts(&o);
		o.change_column = "c";
		cl_alloc_fail_after(n);
		char *r = run_diff(ms, ml, mr, &o, &err);
		cl_alloc_fail_after(-1);
		cl_free(r);
	}
}

/* Diff of two CSV datasets (folders of files) through the dataset API. */
static char *run_dataset_diff(const char *ldir, const char *rdir, cl_diff_options *o,
			      cl_error *err)
{
	cl_dataset *l = NULL, *r = NULL;
	cl_diff *d = NULL;
	cl_buf out = {0};
	char *res = NULL;
	if (cl_dataset_open(&l, ldir, NULL, err) || cl_dataset_open(&r, rdir, NULL, err) ||
	    cl_diff_create(&d, cl_dataset_schema(l), cl_dataset_schema(r), o, err) ||
	    cl_diff_add_left_dataset(d, l, NULL, NULL, err) ||
	    cl_diff_add_right_dataset(d, r, NULL, NULL, err))
		goto done;
	for (;;) {
		cl_batch *b;
		if (cl_diff_next(d, &b, err))
			goto done;
		if (!b)
			break;
		cl_test_batch_text(&out, b);
	}
	res = cl_strdup(out.data ? (char *)out.data : "");
done:
	cl_buf_release(&out);
	cl_diff_free(d);
	cl_dataset_free(l);
	cl_dataset_free(r);
	return res;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

TEST(diff_dataset_threads_same_output)
{
	char dir[] = "/tmp/cl-diff-ds-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char p[256];
	snprintf(p, sizeof p, "%s/l", dir);
	mkdir(p, 0700);
	snprintf(p, sizeof p, "%s/r", dir);
	mkdir(p, 0700);
	/* four files a side, keys spread over them, one duplicate-free */
	for (int f = 0; f < 4; f++) {
		cl_buf a = {0}, b = {0};
		cl_buf_puts(&a, "id,v\n");
		cl_buf_puts(&b, "id,v\n");
		for (int i = 0; i < 500; i++) {
			int id = f * 500 + i;
			cl_buf_printf(&a, "%d,v%d\n", (id * 7) % 2003, id % 5);
			cl_buf_printf(&b, "%d,v%d\n", (id * 7) % 2003 + 2003 * (id % 3 == 0),
				      id % 6);
		}
		snprintf(p, sizeof p, "%s/l/part%d.csv", dir, f);
		write_file(p, (char *)a.data);
		snprintf(p, sizeof p, "%s/r/part%d.csv", dir, f);
		write_file(p, (char *)b.data);
		cl_buf_release(&a);
		cl_buf_release(&b);
	}
	char ld[256], rd[256];
	snprintf(ld, sizeof ld, "%s/l", dir);
	snprintf(rd, sizeof rd, "%s/r", dir);
	cl_error err = {0};
	cl_diff_options o;
	opts(&o);
	o.keep_unchanged = true;
	o.threads = 1;
	char *one = run_dataset_diff(ld, rd, &o, &err);
	if (!one)
		cl_test_fail(__FILE__, __LINE__, "diff failed: %s", err.message);
	CHECK(one != NULL);
	bool same = true;
	for (int t = 2; one && t <= 4; t++) {
		for (int spill = 0; spill < 2; spill++) {
			o.threads = t;
			o.memory_limit = spill ? 8192 : 0;
			char *got = run_dataset_diff(ld, rd, &o, &err);
			same &= got && !strcmp(got, one);
			cl_free(got);
		}
	}
	CHECK(same);
	CHECK(one && strstr(one, "I|") && strstr(one, "D|") && strstr(one, "C|") &&
	      strstr(one, "N|"));
	cl_free(one);
	for (int f = 0; f < 4; f++) {
		snprintf(p, sizeof p, "%s/l/part%d.csv", dir, f);
		unlink(p);
		snprintf(p, sizeof p, "%s/r/part%d.csv", dir, f);
		unlink(p);
	}
	snprintf(p, sizeof p, "%s/l", dir);
	rmdir(p);
	snprintf(p, sizeof p, "%s/r", dir);
	rmdir(p);
	rmdir(dir);
}

/*
 * Rows appended in bulk (I rows of a probe batch, C and N rows of its
 * pairs, D rows of a chunk) across output chunks of 65536 rows and budget
 * checks: 70,000 deletes, 70,000 inserts and 70,000 matched keys (every
 * third changed, some to NULL), in one batch per side, checked row by row
 * against the expected text; the same with a memory limit (spilled).
 */
static void bulk_rows(cl_buf *b, int from, int to, int chg_to)
{
	for (int k = from; k < to; k++) {
		bool chg = k < chg_to && k % 3 == 0;
		int v = k % 1000 + (chg ? 1 : 0);
		if (chg && k % 9 == 0)
			cl_buf_printf(b, "%d|~|n%d|%s\n", k, k % 7, k % 2 ? "true" : "false");
		else
			cl_buf_printf(b, "%d|%d|n%d|%s\n", k, v, k % 7, k % 2 ? "true" : "false");
	}
}

static void bulk_expect(cl_buf *e, int n, bool keep)
{
	cl_buf_printf(e, "diff|id|left_v|right_v|left_s|right_s|left_b|right_b\n");
	for (int k = 0; k < 3 * n; k++) {
		const char *b = k % 2 ? "true" : "false";
		if (k < n) {
			cl_buf_printf(e, "D|%d|%d|~|n%d|~|%s|~\n", k, k % 1000, k % 7, b);
			continue;
		}
		if (k >= 2 * n) {
			cl_buf_printf(e, "I|%d|~|%d|~|n%d|~|%s\n", k, k % 1000, k % 7, b);
			continue;
		}
		bool chg = k % 3 == 0;
		if (!chg && !keep)
			continue;
		char rv[32];
		if (chg && k % 9 == 0)
			snprintf(rv, sizeof rv, "~");
		else
			snprintf(rv, sizeof rv, "%d", k % 1000 + (chg ? 1 : 0));
		cl_buf_printf(e, "%s|%d|%d|%s|n%d|n%d|%s|%s\n", chg ? "C" : "N", k, k % 1000, rv,
			      k % 7, k % 7, b, b);
	}
}

TEST(diff_bulk_rows_across_chunks)
{
	enum { N = 70000 };
	cl_error err = {0};
	cl_buf l = {0}, r = {0};
	bulk_rows(&l, 0, 2 * N, 0);
	bulk_rows(&r, N, 3 * N, 2 * N);
	const char *s = "id int64, v int32, s string, b bool";
	for (int keep = 0; keep < 2; keep++) {
		for (int spill = 0; spill < 2; spill++) {
			cl_diff_options o;
			opts(&o);
			o.keep_unchanged = keep;
			o.threads = 2;
			if (spill)
				o.memory_limit = 1 << 20;
			cl_diff_stats st;
			char *got = run_diff_ex(s, (char *)l.data, s, (char *)r.data, &o, &err, &st,
						0);
			CHECK(got != NULL);
			cl_buf e = {0};
			bulk_expect(&e, N, keep);
			if (got && strcmp(got, (char *)e.data)) {
				/* the first line that differs */
				const char *a = got, *b = (const char *)e.data;
				while (*a && *a == *b)
					a++, b++;
				while (a > got && a[-1] != '\n')
					a--, b--;
				printf("    got:  %.80s\n    want: %.80s\n", a, b);
			}
			CHECK(got && strcmp(got, (char *)e.data) == 0);
			CHECK_EQ_INT(st.inserted, N);
			CHECK_EQ_INT(st.deleted, N);
			int64_t nchg = 0;
			for (int k = N; k < 2 * N; k++)
				nchg += k % 3 == 0;
			CHECK_EQ_INT(st.changed, nchg);
			CHECK(!spill || st.spill_bytes > 0);
			cl_buf_release(&e);
			cl_free(got);
		}
	}
	cl_buf_release(&l);
	cl_buf_release(&r);
}

/* The typed pair comparisons: -0.0 = 0.0, NaN = NaN, NULL against a
 * value, decimals by value, booleans. */
TEST(diff_typed_value_compare)
{
	cl_error err = {0};
	cl_diff_options o;
	opts(&o);
	o.keep_unchanged = true;
	const char *s = "id int32, f float64, g float32, d decimal(12,2), b bool";
	CHECK_DIFF(run_diff(s,
			    "1|0|0|1.50|true\n2|nan|nan|1.50|false\n3|1|1|1.50|~\n"
			    "4|~|2|-3.25|true\n5|2|~|1.50|true",
			    "1|-0|-0|1.50|true\n2|nan|nan|1.51|false\n3|nan|1|1.50|false\n"
			    "4|~|2|-3.25|false\n5|2|3|~|true",
			    &o, &err),
		   "diff|id|left_f|right_f|left_g|right_g|left_d|right_d|left_b|right_b\n"
		   "N|1|0|-0|0|-0|1.50|1.50|true|true\n"
		   "C|2|nan|nan|nan|nan|1.50|1.51|false|false\n"
		   "C|3|1|nan|1|1|1.50|1.50|~|false\n"
		   "C|4|~|~|2|2|-3.25|-3.25|true|false\n"
		   "C|5|2|2|~|3|1.50|~|true|true\n");
}

/*
 * A key three times in OLD, in different chunks: the error names the same
 * pair (its first and last rows) at any thread count, although the table
 * is first built by all threads at once (where the pair found depends on
 * their timing; the build by sub-table then makes the report).
 */
TEST(diff_duplicate_key_report_any_threads)
{
	cl_buf l = {0};
	for (int i = 1; i <= 150000; i++)
		cl_buf_printf(&l, "%d|v\n", i == 70000 || i == 140000 ? 10 : i);
	l.data[--l.len] = 0;
	const char *s = "id int32, v string";
	int threads[] = {1, 2, 3, 4};
	for (int k = 0; k < 4; k++) {
		cl_error err = {0};
		cl_diff_options o;
		opts(&o);
		o.threads = threads[k];
		char *r = run_diff(s, (char *)l.data, "1|v", &o, &err);
		CHECK(r == NULL);
		cl_free(r);
		CHECK_EQ_INT(err.code, CL_EDUPKEY);
		CHECK(strstr(err.message, "id=10") != NULL);
		CHECK(strstr(err.message, "left.csv row 10 and left.csv row 140000") != NULL);
	}
	cl_buf_release(&l);
}

/* A single integer key hashed inline: NULL matches NULL, in memory and
 * spilled, for 8- and 4-byte keys. */
TEST(diff_single_int_key_nulls)
{
	const char *schemas[] = {"id int64, v string", "id int32, v string", "id date, v string"};
	const char *left[] = {"1|a\n~|n\n3|c\n-5|m", "1|a\n~|n\n3|c\n-5|m",
			      "2024-01-01|a\n~|n\n2024-01-03|c\n1969-12-27|m"};
	const char *right[] = {"~|N\n1|a\n4|d\n-5|m", "~|N\n1|a\n4|d\n-5|m",
			       "~|N\n2024-01-01|a\n2024-01-04|d\n1969-12-27|m"};
	const char *want[] = {
		"diff|id|left_v|right_v\nC|~|n|N\nD|3|c|~\nI|4|~|d\n",
		"diff|id|left_v|right_v\nC|~|n|N\nD|3|c|~\nI|4|~|d\n",
		"diff|id|left_v|right_v\nC|~|n|N\nD|2024-01-03|c|~\nI|2024-01-04|~|d\n",
	};
	for (int t = 0; t < 3; t++) {
		for (int spill = 0; spill < 2; spill++) {
			cl_error err = {0};
			cl_diff_options o;
			opts(&o);
			if (spill)
				o.memory_limit = 1;
			CHECK_DIFF(run_diff(schemas[t], left[t], right[t], &o, &err), want[t]);
		}
	}
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The lines of s (split in place), sorted; the caller frees the array. */
static char **sorted_lines(char *s, int64_t *n)
{
	int64_t cap = 1;
	for (const char *c = s; *c; c++)
		cap += *c == '\n';
	char **v = cl_malloc((size_t)cap * sizeof *v);
	*n = 0;
	for (char *tok = strtok(s, "\n"); tok; tok = strtok(NULL, "\n"))
		v[(*n)++] = tok;
	qsort(v, (size_t)*n, sizeof *v, cmp_str);
	return v;
}

/*
 * NEW in an order unrelated to OLD's (a fixed permutation), fed as one
 * batch, so the hash path's probe batches hold many pairs whose OLD rows
 * are visited out of order (the value compares then run in OLD reference
 * order): the same lines as the in-order diff, and the same bytes at 1 and
 * 2 threads.
 */
TEST(diff_shuffled_new_same_lines)
{
	enum { N = 70000 };
	cl_error err = {0};
	cl_buf l = {0}, r = {0}, sh = {0};
	bulk_rows(&l, 0, 2 * N, 0);
	bulk_rows(&r, N, 3 * N, 2 * N);
	/* NEW's lines, permuted: line k goes to k * 7919 mod 2N */
	char **lines = cl_calloc(2 * N, sizeof *lines);
	char **perm = cl_calloc(2 * N, sizeof *perm);
	int64_t nl = 0;
	for (char *tok = strtok((char *)r.data, "\n"); tok; tok = strtok(NULL, "\n"))
		lines[nl++] = tok;
	CHECK_EQ_INT(nl, 2 * N);
	for (int64_t k = 0; k < nl; k++)
		perm[k * 7919 % (2 * N)] = lines[k];
	for (int64_t k = 0; k < nl; k++)
		cl_buf_printf(&sh, "%s\n", perm[k]);
	const char *s = "id int64, v int32, s string, b bool";
	for (int keep = 0; keep < 2; keep++) {
		char *first = NULL;
		for (int threads = 1; threads <= 2; threads++) {
			cl_diff_options o;
			opts(&o);
			o.keep_unchanged = keep;
			o.threads = threads;
			cl_diff_stats st;
			char *got = run_diff_ex(s, (char *)l.data, s, (char *)sh.data, &o, &err, &st,
						0);
			CHECK(got != NULL);
			if (!got)
				continue;
			if (!first) {
				first = got;
			} else {
				CHECK(strcmp(first, got) == 0);
				cl_free(got);
				continue;
			}
			int64_t nchg = 0;
			for (int k = N; k < 2 * N; k++)
				nchg += k % 3 == 0;
			CHECK_EQ_INT(st.changed, nchg);
			CHECK_EQ_INT(st.inserted, N);
			CHECK_EQ_INT(st.deleted, N);
			cl_buf e = {0};
			bulk_expect(&e, N, keep);
			char *gc = cl_strdup(got);
			int64_t ng, ne;
			char **gv = sorted_lines(gc, &ng);
			char **ev = sorted_lines((char *)e.data, &ne);
			CHECK_EQ_INT(ng, ne);
			int64_t bad = 0;
			for (int64_t k = 0; k < ng && k < ne; k++)
				bad += strcmp(gv[k], ev[k]) != 0;
			CHECK_EQ_INT(bad, 0);
			cl_free(gv);
			cl_free(ev);
			cl_free(gc);
			cl_buf_release(&e);
		}
		cl_free(first);
	}
	cl_free(lines);
	cl_free(perm);
	cl_buf_release(&l);
	cl_buf_release(&r);
	cl_buf_release(&sh);
}
