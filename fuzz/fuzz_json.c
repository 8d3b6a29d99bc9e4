/*
 * fuzz_json.c — libFuzzer target for the JSON parser (core/json.c).
 *
 * Parses the input with a small depth limit and with the defaults (the
 * same parser twice, so the arena is reused), walks the whole DOM, and for
 * every string and key checks that cl__json_escape writes a literal that
 * parses back to the same bytes, and that every node's source range lies
 * inside the input and re-parses to a value of the same kind.
 */
#include "changelake.h"
#include "core/json.h"

#include <stdlib.h>
#include <string.h>

static cl__json_parser *check_parser;

static void check_string(const char *s, size_t n)
{
	cl_buf b = {0};
	int rc = cl__json_escape(&b, s, n);
	if (rc == CL_ENOMEM)
		abort();
	if (rc == 0) {
		const cl_json *v;
		cl_error e = {0};
		if (cl__json_parse(check_parser, (const char *)b.data, b.len, &v, &e) ||
		    v->kind != CL_JSON_STRING || v->n != n || memcmp(v->u.str, s, n))
			abort();
	} else {
		abort(); /* the parser only produces valid UTF-8 */
	}
	cl_buf_release(&b);
}

static void walk(const cl_json *v, const uint8_t *data, size_t size, int depth)
{
	if (v->start > v->end || v->end > size || depth > 1100)
		abort();
	switch (v->kind) {
	case CL_JSON_STRING:
		check_string(v->u.str, v->n);
		break;
	case CL_JSON_NUMBER:
		if (strlen(v->u.str) != v->n || v->n != v->end - v->start ||
		    memcmp(v->u.str, data + v->start, v->n))
			abort();
		break;
	case CL_JSON_ARRAY:
		for (size_t i = 0; i < v->n; i++)
			walk(cl__json_at(v, i), data, size, depth + 1);
		break;
	case CL_JSON_OBJECT:
		for (size_t i = 0; i < v->n; i++) {
			const cl_json_member *m = &v->u.members[i];
			check_string(m->key, m->key_len);
			if (cl__json_get(v, m->key, m->key_len) == NULL)
				abort();
			walk(&m->value, data, size, depth + 1);
		}
		break;
	default:
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cl_error e = {0};
	if (!check_parser && cl__json_parser_create(&check_parser, NULL, &e))
		abort();
	cl_json_limits lim = {8, 0};
	cl__json_parser *p;
	if (cl__json_parser_create(&p, &lim, &e))
		abort();
	const cl_json *v;
	if (cl__json_parse(p, (const char *)data, size, &v, &e) == 0)
		walk(v, data, size, 0);
	cl__json_parser_free(p);
	if (cl__json_parser_create(&p, NULL, &e))
		abort();
	for (int k = 0; k < 2; k++)
		if (cl__json_parse(p, (const char *)data, size, &v, &e) == 0)
			walk(v, data, size, 0);
	cl__json_parser_free(p);
	return 0;
}
