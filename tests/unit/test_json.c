/* test_json.c — the JSON parser (core/json.h): grammar, strings, limits, DOM. */
#include "test.h"

#include "changelake.h"
#include "core/json.h"

/* Parse text with a fresh parser; returns rc, root in *out (parser in *pp). */
static int parse(cl__json_parser **pp, const char *text, const cl_json **out,
		 cl_error *e)
{
	if (cl__json_parser_create(pp, NULL, e))
		return -100;
	return cl__json_parse(*pp, text, strlen(text), out, e);
}

TEST(json_parse_object_ordered_members)
{
	cl__json_parser *p;
	const cl_json *v;
	cl_error e = {0};
	CHECK_OK(parse(&p, " {\"b\": 1, \"a\": [true, false, null], \"c\": {\"d\": \"x\"}} ",
		       &v, &e), &e);
	CHECK_EQ_INT(v->kind, CL_JSON_OBJECT);
	CHECK_EQ_INT(v->n, 3);
	CHECK_STR(v->u.members[0].key, "b");
	CHECK_STR(v->u.members[1].key, "a");
	CHECK_STR(v->u.members[2].key, "c");
	const cl_json *a = cl__json_get_s(v, "a");
	CHECK(a && a->kind == CL_JSON_ARRAY && a->n == 3);
	CHECK_EQ_INT(cl__json_at(a, 0)->kind, CL_JSON_TRUE);
	CHECK_EQ_INT(cl__json_at(a, 1)->kind, CL_JSON_FALSE);
	CHECK_EQ_INT(cl__json_at(a, 2)->kind, CL_JSON_NULL);
	CHECK(cl__json_at(a, 3) == NULL);
	CHECK(cl__json_get_s(v, "zz") == NULL);
	CHECK(cl__json_get_s(a, "a") == NULL);
	const cl_json *d = cl__json_get_s(cl__json_get_s(v, "c"), "d");
	CHECK(d && d->kind == CL_JSON_STRING);
	CHECK_STR(d->u.str, "x");
	/* source ranges: the nested object's verbatim text */
	const cl_json *c = cl__json_get_s(v, "c");
	CHECK_EQ_INT(c->end - c->start, strlen("{\"d\": \"x\"}"));
	cl__json_parser_free(p);
}

TEST(json_numbers_keep_their_text)
{
	const char *nums[] = {"0", "-0", "12345678901234567890123", "-1.50",
			      "1e5", "2.5E-10", "1E+2", "0.000000000000000000001"};
	for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
		cl__json_parser *p;
		const cl_json *v;
		cl_error e = {0};
		CHECK_OK(parse(&p, nums[i], &v, &e), &e);
		CHECK_EQ_INT(v->kind, CL_JSON_NUMBER);
		CHECK_STR(v->u.str, nums[i]);
		CHECK_EQ_INT(v->n, strlen(nums[i]));
		cl__json_parser_free(p);
	}
}

TEST(json_bad_numbers_and_literals)
{
	const char *bad[] = {"01", "-", "1.", ".5", "1e", "1e+", "+1", "--1", "tru",
			     "nul", "nulll", "truex", "1x", "0x10", "NaN", "Infinity",
			     "[1,]", "[,1]", "{\"a\":1,}", "{\"a\" 1}", "{a:1}", "[1 2]",
			     "", "   ", "1 2", "{\"a\":1}}", "[", "{", "\"abc", "'a'"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cl__json_parser *p;
		const cl_json *v;
		cl_error e = {0};
		int rc = parse(&p, bad[i], &v, &e);
		if (rc != CL_EFORMAT)
			printf("    input %s gave %d\n", bad[i], rc);
		CHECK_EQ_INT(rc, CL_EFORMAT);
		CHECK(strstr(e.message, "byte ") == e.message);
		cl__json_parser_free(p);
	}
}

TEST(json_string_escapes_and_unicode)
{
	cl__json_parser *p;
	const cl_json *v;
	cl_error e = {0};
	CHECK_OK(parse(&p, "\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\\u00e9\\u20ac\\ud83d\\ude00\\u0000z\"",
		       &v, &e), &e);
	CHECK_EQ_INT(v->kind, CL_JSON_STRING);
	const char want[] = "a\"b\\c/d\b\f\n\r\t\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\0z";
	CHECK_EQ_INT(v->n, sizeof want - 1);
	CHECK(memcmp(v->u.str, want, sizeof want - 1) == 0);
	cl__json_parser_free(p);
	/* raw UTF-8 passes as it is */
	CHECK_OK(parse(&p, "\"h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80\"", &v, &e), &e);
	CHECK_STR(v->u.str, "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80");
	cl__json_parser_free(p);
}

TEST(json_bad_strings)
{
	const char *bad[] = {
		"\"\\ud800\"",            /* lone high surrogate */
		"\"\\udc00\"",            /* lone low surrogate */
		"\"\\ud800\\u0041\"",     /* high + not low */
		"\"\\u12\"",              /* short \u */
		"\"\\uzzzz\"",            /* not hex */
		"\"\\x41\"",              /* unknown escape */
		"\"a\nb\"",               /* raw control character */
		"\"a\tb\"",
		"\"\xc0\x80\"",           /* overlong NUL */
		"\"\xed\xa0\x80\"",       /* UTF-8 encoded surrogate */
		"\"\xff\"",               /* not UTF-8 */
		"\"\xe2\x82\"",           /* truncated sequence */
		"\"\xf4\x90\x80\x80\"",   /* beyond U+10FFFF */
		"\"abc\\\"",              /* escaped closing quote: unterminated */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cl__json_parser *p;
		const cl_json *v;
		cl_error e = {0};
		int rc = parse(&p, bad[i], &v, &e);
		if (rc != CL_EFORMAT)
			printf("    case %zu gave %d\n", i, rc);
		CHECK_EQ_INT(rc, CL_EFORMAT);
		cl__json_parser_free(p);
	}
	/* A NUL byte in the text says it is not text. */
	cl__json_parser *p;
	const cl_json *v;
	cl_error e = {0};
	CHECK_OK(cl__json_parser_create(&p, NULL, &e), &e);
	CHECK_EQ_INT(cl__json_parse(p, "{\"a\":\0}", 7, &v, &e), CL_EFORMAT);
	CHECK(strstr(e.message, "NUL byte") != NULL);
	CHECK_STR(e.message, "byte 6: NUL byte (not a text file?), expected a value");
	CHECK_EQ_INT(cl__json_error_offset(p), 5);
	cl__json_parser_free(p);
}

TEST(json_depth_limit)
{
	cl_error e = {0};
	cl__json_parser *p;
	cl_json_limits lim = {10, 0};
	CHECK_OK(cl__json_parser_create(&p, &lim, &e), &e);
	const cl_json *v;
	CHECK_OK(cl__json_parse(p, "[[[[[[[[[[]]]]]]]]]]", 20, &v, &e), &e);
	CHECK_EQ_INT(cl__json_parse(p, "[[[[[[[[[[[]]]]]]]]]]]", 22, &v, &e), CL_EFORMAT);
	CHECK(strstr(e.message, "deeper than 10") != NULL);
	cl__json_parser_free(p);
	/* Default limits: a hostile 100000-deep document fails cleanly. */
	CHECK_OK(cl__json_parser_create(&p, NULL, &e), &e);
	size_t n = 100000;
	char *deep = cl_malloc(2 * n);
	memset(deep, '[', n);
	memset(deep + n, ']', n);
	CHECK_EQ_INT(cl__json_parse(p, deep, 2 * n, &v, &e), CL_EFORMAT);
	cl_free(deep);
	cl__json_parser_free(p);
	/* Size limit. */
	lim.max_depth = 0;
	lim.max_bytes = 4;
	CHECK_OK(cl__json_parser_create(&p, &lim, &e), &e);
	CHECK_EQ_INT(cl__json_parse(p, "12345", 5, &v, &e), CL_EFORMAT);
	CHECK_OK(cl__json_parse(p, "1234", 4, &v, &e), &e);
	cl__json_parser_free(p);
}

TEST(json_parser_reuse_many_documents)
{
	cl_error e = {0};
	cl__json_parser *p;
	CHECK_OK(cl__json_parser_create(&p, NULL, &e), &e);
	char doc[256];
	for (int i = 0; i < 5000; i++) {
		int n = snprintf(doc, sizeof doc,
				 "{\"id\": %d, \"name\": \"n%d\", \"xs\": [%d, %d, {\"k\": \"%d\"}]}",
				 i, i, i, i + 1, i * 2);
		const cl_json *v;
		CHECK_OK(cl__json_parse(p, doc, (size_t)n, &v, &e), &e);
		char want[32];
		snprintf(want, sizeof want, "%d", i);
		CHECK_STR(cl__json_get_s(v, "id")->u.str, want);
		const cl_json *k = cl__json_get_s(cl__json_at(cl__json_get_s(v, "xs"), 2), "k");
		snprintf(want, sizeof want, "%d", i * 2);
		CHECK_STR(k->u.str, want);
	}
	/* A big document then a small one (blocks are reused). */
	cl_buf big = {0};
	CHECK_OK(cl_buf_putc(&big, '['), &e);
	for (int i = 0; i < 100000; i++)
		CHECK_OK(cl_buf_printf(&big, "%s\"s%d\"", i ? "," : "", i), &e);
	CHECK_OK(cl_buf_putc(&big, ']'), &e);
	const cl_json *v;
	CHECK_OK(cl__json_parse(p, (const char *)big.data, big.len, &v, &e), &e);
	CHECK_EQ_INT(v->n, 100000);
	CHECK_STR(cl__json_at(v, 99999)->u.str, "s99999");
	CHECK_OK(cl__json_parse(p, "{}", 2, &v, &e), &e);
	CHECK_EQ_INT(v->n, 0);
	cl_buf_release(&big);
	cl__json_parser_free(p);
}

TEST(json_duplicate_keys_first_wins)
{
	cl__json_parser *p;
	const cl_json *v;
	cl_error e = {0};
	CHECK_OK(parse(&p, "{\"a\":1,\"a\":2}", &v, &e), &e);
	CHECK_EQ_INT(v->n, 2);
	CHECK_STR(cl__json_get_s(v, "a")->u.str, "1");
	cl__json_parser_free(p);
}

TEST(json_escape_round_trip)
{
	cl_buf b = {0};
	const char s[] = "q\"b\\n\n\r\t\x01\x1f\xc3\xa9\0end";
	CHECK_EQ_INT(cl__json_escape(&b, s, sizeof s - 1), 0);
	CHECK_STR((const char *)b.data,
		  "\"q\\\"b\\\\n\\n\\r\\t\\u0001\\u001f\xc3\xa9\\u0000end\"");
	cl__json_parser *p;
	const cl_json *v;
	cl_error e = {0};
	CHECK_OK(cl__json_parser_create(&p, NULL, &e), &e);
	CHECK_OK(cl__json_parse(p, (const char *)b.data, b.len, &v, &e), &e);
	CHECK_EQ_INT(v->n, sizeof s - 1);
	CHECK(memcmp(v->u.str, s, sizeof s - 1) == 0);
	cl__json_parser_free(p);
	size_t before = b.len;
	CHECK_EQ_INT(cl__json_escape(&b, "\xff", 1), CL_EINVAL);
	CHECK_EQ_INT(b.len, before);
	cl_buf_clear(&b);
	CHECK_EQ_INT(cl__json_escape(&b, "", 0), 0);
	CHECK_STR((const char *)b.data, "\"\"");
	cl_buf_release(&b);
}

TEST(json_alloc_failures)
{
	const char *doc = "{\"a\": [1, 2, {\"b\": \"\\u00e9x\"}], \"c\": \"s\", \"d\": [[[]]]}";
	for (long n = 0;; n++) {
		cl_error e = {0};
		cl__json_parser *p = NULL;
		cl_alloc_fail_after(n);
		int rc = cl__json_parser_create(&p, NULL, &e);
		const cl_json *v = NULL;
		if (!rc)
			rc = cl__json_parse(p, doc, strlen(doc), &v, &e);
		cl_alloc_fail_after(-1);
		cl__json_parser_free(p);
		if (rc == 0) {
			CHECK(n > 2);
			break;
		}
		CHECK_EQ_INT(rc, CL_ENOMEM);
		CHECK(n < 1000);
	}
}

/* The 8-bytes-at-a-time string scan: specials at every offset of long
 * strings are found, and invalid UTF-8 after a plain prefix is caught. */
TEST(json_long_strings_every_offset)
{
	cl__json_parser *p;
	cl_error e = {0};
	CHECK_OK(cl__json_parser_create(&p, NULL, &e), &e);
	for (int off = 0; off < 24; off++) {
		static const struct {
			const char *ins, *want; /* want NULL: a syntax error */
		} cases[] = {
			{"\\\"", "\""}, {"\\\\", "\\"}, {"\\n", "\n"}, {"\\u00e9", "\xc3\xa9"},
			{"\xc3\xa9", "\xc3\xa9"}, {"\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80"},
			{"\x01", NULL}, {"\x1f", NULL}, {"\xff", NULL}, {"\xc3", NULL},
			{"\xed\xa0\x80", NULL}, {"\x7f", "\x7f"}, {" ", " "},
		};
		for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
			char doc[128], want[128];
			snprintf(doc, sizeof doc, "\"%.*s%s%s\"", off,
				 "abcdefghijklmnopqrstuvwxyz", cases[k].ins, "0123456789ABCDEF");
			const cl_json *v;
			int rc = cl__json_parse(p, doc, strlen(doc), &v, &e);
			if (!cases[k].want) {
				CHECK_EQ_INT(rc, CL_EFORMAT);
				continue;
			}
			CHECK_OK(rc, &e);
			snprintf(want, sizeof want, "%.*s%s%s", off, "abcdefghijklmnopqrstuvwxyz",
				 cases[k].want, "0123456789ABCDEF");
			CHECK_STR(v->u.str, want);
			CHECK_EQ_INT(v->n, strlen(want));
		}
	}
	/* An unterminated long plain string does not read past the text. */
	const char *t = "\"abcdefghijklmnopqrstuvwxyz";
	const cl_json *v;
	CHECK_EQ_INT(cl__json_parse(p, t, strlen(t), &v, &e), CL_EFORMAT);
	CHECK_EQ_INT(cl__json_parse(p, t, 9, &v, &e), CL_EFORMAT);
	cl__json_parser_free(p);
}
