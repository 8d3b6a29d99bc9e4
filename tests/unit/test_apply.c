/* test_apply.c — change-set mapping (cl_changes) and snapshot application. */
#include "test.h"

#include "changelake/apply.h"
#include "core/buf.h"
#include "core/value_text.h"

/* Apply change rows to target rows; the result as text, or NULL. */
static char *apply(const char *cschema, const char *crows, const char *tschema,
		   const char *trows, const char *const *keys, int nkeys, cl_error *err)
{
	cl_schema *cs = NULL, *ts = NULL;
	cl_batch *cb = NULL, *tb = NULL, *nb, *ob;
	cl_changes *ch = NULL;
	cl_apply *ap = NULL;
	cl_buf out = {0};
	char *res = NULL;
	cl_apply_options o;
	cl_apply_options_init(&o);
	o.keys = keys;
	o.nkeys = nkeys;
	if (cl_test_batch_parse(&cs, &cb, cschema, crows) ||
	    cl_test_batch_parse(&ts, &tb, tschema, trows))
		goto done;
	if (cl_changes_create(&ch, cs, ts, &o, err) || cl_apply_create(&ap, cl_changes_schema(ch), &o, err) ||
	    cl_changes_map(ch, cb, "ch.csv", 1, &nb, err) || cl_apply_add(ap, nb, err) ||
	    cl_apply_rewrite(ap, tb, &ob, err))
		goto done;
	cl_test_batch_text(&out, ob);
	for (;;) {
		if (cl_apply_rest(ap, &ob, err))
			goto done;
		if (!ob)
			break;
		cl_test_batch_text(&out, ob);
	}
	res = cl_strdup(out.data ? (char *)out.data : "");
done:
	cl_buf_release(&out);
	cl_apply_free(ap);
	cl_changes_free(ch);
	cl_batch_free(cb);
	cl_batch_free(tb);
	cl_schema_free(cs);
	cl_schema_free(ts);
	return res;
}

static const char *kid[] = {"id"};

TEST(apply_column_by_column)
{
	cl_error err = {0};
	char *r = apply("diff string, id int64, left_v string, right_v string, left_n int32, right_n int32",
			"C|2|b|B|2|~\nD|3|c|~|3|~\nI|9|~|z|~|90\nN|1|a|a|1|1",
			"id int64, v string, n int32", "1|a|1\n2|b|2\n3|c|3\n4|d|4", kid, 1,
			&err);
	CHECK(r != NULL);
	bool ok = !strcmp(r, "1|a|1\n2|B|~\n4|d|4\n9|z|90\n");
	if (!ok)
		printf("    got:\n%s", r);
	cl_free(r);
	CHECK(ok);
}

TEST(apply_right_side_and_exact_names)
{
	cl_error err = {0};
	/* a key named left_id; value columns named right_x and x (right-side) */
	const char *k[] = {"left_id"};
	char *r = apply("diff string, left_id int32, right_x string, x string", "C|1|A|p\nI|3|c|r",
			"left_id int32, right_x string, x string", "1|a|q\n2|b|s", k, 1, &err);
	CHECK(r != NULL);
	bool ok = !strcmp(r, "1|A|p\n2|b|s\n3|c|r\n");
	cl_free(r);
	CHECK(ok);
	/* the same target, column-by-column: right_right_x feeds right_x */
	r = apply("diff string, left_id int32, left_right_x string, right_right_x string, left_x string, right_x string",
		  "C|1|a|A|q|p", "left_id int32, right_x string, x string", "1|a|q", k, 1, &err);
	CHECK(r != NULL);
	ok = !strcmp(r, "1|A|p\n");
	cl_free(r);
	CHECK(ok);
}

TEST(apply_refusals)
{
	cl_error err = {0};
	/* a column the target lacks */
	CHECK(apply("diff string, id int64, v string, w string", "C|1|a|b", "id int64, v string",
		    "1|x", kid, 1, &err) == NULL);
	CHECK_EQ_INT(err.code, CL_ESCHEMA);
	CHECK(strstr(err.message, "'w'") != NULL);
	/* a target column the change set lacks */
	CHECK(apply("diff string, id int64", "C|1", "id int64, v string", "1|x", kid, 1, &err) ==
	      NULL);
	/* no diff column */
	CHECK(apply("id int64, v string", "1|a", "id int64, v string", "1|x", kid, 1, &err) ==
	      NULL);
	CHECK_EQ_INT(err.code, CL_ENOTFOUND);
	/* a key changed twice */
	CHECK(apply("diff string, id int64, v string", "C|1|a\nI|1|b", "id int64, v string",
		    "1|x", kid, 1, &err) == NULL);
	CHECK_EQ_INT(err.code, CL_EDUPKEY);
	/* a value that does not fit the target's type names row and column */
	CHECK(apply("diff string, id int64, v string", "C|1|5\nC|2|notanumber",
		    "id int64, v int32", "1|1", kid, 1, &err) == NULL);
	CHECK_EQ_INT(err.code, CL_ETYPE);
	if (!strstr(err.message, "ch.csv row 2, column 'v'"))
		printf("    message: %s\n", err.message);
	CHECK(strstr(err.message, "ch.csv row 2, column 'v'") != NULL);
	/* an unknown diff value */
	CHECK(apply("diff string, id int64, v string", "X|1|a", "id int64, v string", "1|x",
		    kid, 1, &err) == NULL);
	CHECK_EQ_INT(err.code, CL_EFORMAT);
}

TEST(apply_converts_types)
{
	cl_error err = {0};
	/* change set inferred as decimal and int64; target float64 and int16 */
	char *r = apply("diff string, id int64, d decimal(5,2), n int64", "C|1|2.50|7",
			"id int32, d float64, n int16", "1|1|1\n2|2|2", kid, 1, &err);
	CHECK(r != NULL);
	bool ok = !strcmp(r, "1|2.5|7\n2|2|2\n");
	if (!ok)
		printf("    got:\n%s", r);
	cl_free(r);
	CHECK(ok);
}
