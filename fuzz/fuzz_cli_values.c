/*
 * fuzz_cli_values.c — libFuzzer target for the library parsers of
 * command-line values: table references "LOCATION[@VERSION|@TIMESTAMP|
 * @DATE]" (cl_table_ref_parse), diff comparison rules "COL=EPS[,abs|,rel]
 * [,inclusive|,exclusive]" / "COL=DURATION" / "COL" (cl_diff_rule_parse),
 * partition specs "COL[:year|month|day|hour]" (cl__layout_parse_partition),
 * and format, codec and diff mode names.
 *
 * The input (at most 1 KiB, cut at the first NUL) is given to each parser.
 * Checks beyond "no crash":
 *   - a failure has a message;
 *   - table ref: the location is non-empty and a prefix of the text; with
 *     a version, the text is LOCATION@DIGITS and the version is that
 *     number; with a time, the suffix parses as a timestamp or a date;
 *   - diff rule: the target is non-empty and a prefix of the text (all of
 *     it for a whitespace rule), epsilon finite and >= 0, duration >= 0;
 *   - partition spec: the source column is non-empty and a prefix of the
 *     spec (the whole spec when there is no transform).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "changelake/diff.h"
#include "changelake/io.h"
#include "changelake/table.h"
#include "core/value_text.h"
#include "table/layout.h"

static bool prefix(const char *p, const char *s)
{
	return !strncmp(p, s, strlen(p));
}

static void table_ref(const char *text)
{
	cl_error err = {0};
	char *loc = NULL;
	cl_table_at at;
	if (cl_table_ref_parse(&loc, &at, text, &err)) {
		if (loc || !err.message[0])
			abort();
		return;
	}
	size_t ln = strlen(loc);
	if (!ln || !prefix(loc, text))
		abort();
	const char *sfx = text + ln;
	switch (at.kind) {
	case CL_AT_LATEST:
		if (strcmp(loc, text))
			abort();
		break;
	case CL_AT_VERSION: {
		if (sfx[0] != '@' || !sfx[1] || strspn(sfx + 1, "0123456789") != strlen(sfx + 1) ||
		    at.version != strtoll(sfx + 1, NULL, 10) || at.version < 0)
			abort();
		break;
	}
	case CL_AT_TIMESTAMP: {
		int64_t ms;
		int32_t d;
		if (sfx[0] != '@' ||
		    (cl__parse_timestamp(sfx + 1, strlen(sfx + 1), CL_UNIT_MS, &ms, NULL) &&
		     cl__parse_date(sfx + 1, strlen(sfx + 1), &d)))
			abort();
		break;
	}
	default:
		abort();
	}
	cl_free(loc);
}

static void diff_rule(const char *text, cl_diff_cmp_kind kind)
{
	cl_error err = {0};
	cl_diff_rule r;
	if (cl_diff_rule_parse(&r, kind, text, &err)) {
		if (!err.message[0])
			abort();
		return;
	}
	if (!r.target[0] || !prefix(r.target, text) || r.kind != kind)
		abort();
	if (kind == CL_CMP_WHITESPACE && strcmp(r.target, text))
		abort();
	if (kind != CL_CMP_WHITESPACE && text[strlen(r.target)] != '=')
		abort();
	if (!(r.epsilon >= 0) || isinf(r.epsilon) || r.duration_ns < 0)
		abort();
}

static void partition_spec(const char *text)
{
	cl_error err = {0};
	char *src = NULL;
	cl__transform xf;
	if (cl__layout_parse_partition(text, &src, &xf, &err)) {
		if (src || !err.message[0])
			abort();
		return;
	}
	if (!src[0] || !prefix(src, text) ||
	    (xf == CL__XF_IDENTITY && strcmp(src, text)) ||
	    (xf != CL__XF_IDENTITY && text[strlen(src)] != ':'))
		abort();
	cl_free(src);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 1024)
		return 0;
	char text[1025];
	memcpy(text, data, size);
	text[size] = 0;
	table_ref(text);
	diff_rule(text, CL_CMP_EPSILON);
	diff_rule(text, CL_CMP_DURATION);
	diff_rule(text, CL_CMP_WHITESPACE);
	partition_spec(text);
	cl_error err = {0};
	cl_format f;
	cl_codec c;
	cl_diff_mode m;
	if (cl_format_parse(&f, text, &err) && !err.message[0])
		abort();
	err.message[0] = 0;
	if (cl_codec_parse(&c, text, &err) && !err.message[0])
		abort();
	err.message[0] = 0;
	if (cl_diff_mode_parse(&m, text, &err) && !err.message[0])
		abort();
	return 0;
}
