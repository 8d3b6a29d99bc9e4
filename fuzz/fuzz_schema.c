/*
 * fuzz_schema.c — libFuzzer target for the schema text parser: the text of
 * `--schema FILE` and `tables set --schema` (cl_schema_parse, reached
 * through cl_schema_load from a file) and the type names in it
 * (cl_type_parse).
 *
 * The input (at most 64 KiB) is written to a memfd and loaded with
 * cl_schema_load, so the file path (size cap, NUL check) is exercised, and
 * parsed with cl_schema_parse when it has no NUL. Checks beyond "no crash":
 *   - load and parse agree (both fail, or give equal schemas);
 *   - a parsed schema is well formed: at least one field, names non-empty,
 *     unique and UTF-8, types valid (decimal precision 1..38, scale <= precision,
 *     units ms/us/ns, utc only on timestamps);
 *   - round trip: the schema printed back as text (names double-quoted,
 *     cl_type_format types, "not null") parses to an equal schema, and each
 *     printed type parses back to the same type with cl_type_parse.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "changelake/schema.h"
#include "core/buf.h"
#include "core/value_text.h"

static void check_type(cl_type t)
{
	switch (t.id) {
	case CL_DECIMAL:
		if (t.precision < 1 || t.precision > 38 || t.scale > t.precision)
			abort();
		break;
	case CL_TIME:
		if (t.unit > CL_UNIT_NS || t.utc)
			abort();
		break;
	case CL_TIMESTAMP:
		if (t.unit > CL_UNIT_NS)
			abort();
		break;
	default:
		if (t.id <= CL_NULLTYPE || t.id >= CL_TYPE_COUNT || t.utc)
			abort();
	}
	char buf[64];
	cl_type_format(buf, sizeof buf, t);
	cl_type again;
	cl_error err = {0};
	if (cl_type_parse(&again, buf, strlen(buf), &err) || !cl_type_equal(t, again)) {
		fprintf(stderr, "type '%s' does not read back\n", buf);
		abort();
	}
}

/* The schema as text cl_schema_parse reads back to the same schema. */
static int print(cl_buf *b, const cl_schema *s)
{
	int rc = 0;
	for (int i = 0; i < s->nfields && !rc; i++) {
		const cl_field *f = &s->fields[i];
		char tn[64];
		rc = cl_buf_putc(b, '"');
		for (const char *p = f->name; *p && !rc; p++)
			rc = *p == '"' ? cl_buf_puts(b, "\"\"") : cl_buf_putc(b, *p);
		rc = rc ? rc
			: cl_buf_printf(b, "\" %s%s\n", cl_type_format(tn, sizeof tn, f->type),
					f->nullable ? "" : " not null");
	}
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536)
		return 0;
	cl_error err = {0};
	cl_schema *loaded = NULL, *parsed = NULL, *again = NULL;
	char path[64];
	int fd = fuzz_memfile("fuzz.schema", data, size, path, sizeof path);
	if (fd < 0)
		return 0;
	int lrc = cl_schema_load(&loaded, path, &err);
	close(fd);
	if (lrc && !err.message[0])
		abort();

	bool has_nul = memchr(data, 0, size) != NULL;
	if (has_nul) {
		if (!lrc)
			abort(); /* a NUL byte must be refused */
		return 0;
	}
	char *text = cl_malloc(size + 1);
	if (!text)
		abort();
	memcpy(text, data, size);
	text[size] = 0;
	int prc = cl_schema_parse(&parsed, text, &err);
	cl_free(text);
	if ((prc == 0) != (lrc == 0) || (!prc && !cl_schema_equal(loaded, parsed)))
		abort();
	if (!prc) {
		if (parsed->nfields < 1)
			abort();
		for (int i = 0; i < parsed->nfields; i++) {
			const char *name = parsed->fields[i].name;
			if (!name || !name[0] || cl_schema_find(parsed, name) != i ||
			    !cl__utf8_valid((const uint8_t *)name, strlen(name)))
				abort();
			check_type(parsed->fields[i].type);
		}
		cl_buf b = {0};
		if (print(&b, parsed))
			abort();
		if (cl_schema_parse(&again, (const char *)b.data, &err) ||
		    !cl_schema_equal(parsed, again)) {
			fprintf(stderr, "printed schema does not read back:\n%s\n%s\n", b.data,
				err.message);
			abort();
		}
		cl_buf_release(&b);
	}
	cl_schema_free(loaded);
	cl_schema_free(parsed);
	cl_schema_free(again);
	return 0;
}
