/*
 * fuzz_delta_log.c — libFuzzer target for Delta log replay: the input is
 * the text of one commit applied on top of a valid version 0 (protocol and
 * metaData), then the protocol checks and the partition ordering run as a
 * snapshot would. Any input must give 0 or an error code, never a crash, a
 * leak or undefined behaviour.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "changelake/table.h"
#include "table/delta.h"

static const char v0[] =
	"{\"protocol\":{\"minReaderVersion\":1,\"minWriterVersion\":2}}\n"
	"{\"metaData\":{\"id\":\"x\",\"format\":{\"provider\":\"parquet\",\"options\":{}},"
	"\"schemaString\":\"{\\\"type\\\":\\\"struct\\\",\\\"fields\\\":[{\\\"name\\\":\\\"a\\\","
	"\\\"type\\\":\\\"long\\\",\\\"nullable\\\":true,\\\"metadata\\\":{}},{\\\"name\\\":\\\"p\\\","
	"\\\"type\\\":\\\"string\\\",\\\"nullable\\\":true,\\\"metadata\\\":{}}]}\","
	"\"partitionColumns\":[\"p\"],\"configuration\":{}}}\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static cl_store *st;
	cl_error err = {0};
	if (!st && cl_store_open(&st, "/tmp/cl-fuzz-delta-root", &err))
		return 0;
	cl_snapshot *s = cl_calloc(1, sizeof *s);
	cl__json_parser *p = NULL;
	if (!s || cl__json_parser_create(&p, NULL, &err)) {
		cl_free(s);
		return 0;
	}
	if (cl__delta_apply_commit(s, st, p, "v0", v0, strlen(v0), &err) == 0)
		cl__delta_apply_commit(s, st, p, "v1", (const char *)data, size, &err);
	cl__delta_check_readable(s, &err);
	cl__json_parser_free(p);
	/* the schema parser sees whatever schemaString the input set */
	if (s->schema_string) {
		cl_schema *sc = NULL;
		cl__delta_schema_from_json(&sc, s->schema_string, strlen(s->schema_string), &err);
		cl_schema_free(sc);
	}
	cl_snapshot_free(s);
	return 0;
}
