/*
 * fuzz_table_stats.c — libFuzzer target for the file statistics and
 * partition values of a lake table's log as the table scan uses them to
 * skip files (src/table/table_read.c file_may_match: the add action's
 * "stats" JSON — numRecords, nullCount, minValues, maxValues — and the
 * partition value text, parsed into the column types and compared with
 * the filter values), and for the numRecords read during replay.
 *
 * The input (at most 16 KiB) is split at its first newline: the first
 * part is the partition value of the timestamp partition column p, the
 * rest the stats text. Both go (JSON-escaped) into the add action of
 * commit 0 of a table in a temporary directory (removed at exit), next to
 * a fixed protocol and metaData (columns of several types). The snapshot
 * is loaded and scanned once per filter (one predicate per scan, so each
 * is evaluated; every type and operator); the data file does not exist,
 * so a file the statistics do not rule out ends the scan with an error.
 * Checks beyond "no crash":
 *   - stats that are not JSON never skip a file on a data column filter;
 *   - a NULL partition value (absent) is skipped by "p = x" and kept by
 *     "p IS NULL".
 */
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "changelake/parquet.h"
#include "changelake/table.h"
#include "core/buf.h"
#include "core/json.h"


static const char meta[] =
	"{\"protocol\":{\"minReaderVersion\":1,\"minWriterVersion\":2}}\n"
	"{\"metaData\":{\"id\":\"x\",\"format\":{\"provider\":\"parquet\",\"options\":{}},"
	"\"schemaString\":\"{\\\"type\\\":\\\"struct\\\",\\\"fields\\\":["
	"{\\\"name\\\":\\\"id\\\",\\\"type\\\":\\\"long\\\",\\\"nullable\\\":true,\\\"metadata\\\":{}},"
	"{\\\"name\\\":\\\"s\\\",\\\"type\\\":\\\"string\\\",\\\"nullable\\\":true,\\\"metadata\\\":{}},"
	"{\\\"name\\\":\\\"ts\\\",\\\"type\\\":\\\"timestamp\\\",\\\"nullable\\\":true,\\\"metadata\\\":{}},"
	"{\\\"name\\\":\\\"d\\\",\\\"type\\\":\\\"date\\\",\\\"nullable\\\":true,\\\"metadata\\\":{}},"
	"{\\\"name\\\":\\\"x\\\",\\\"type\\\":\\\"double\\\",\\\"nullable\\\":true,\\\"metadata\\\":{}},"
	"{\\\"name\\\":\\\"dec\\\",\\\"type\\\":\\\"decimal(10,2)\\\",\\\"nullable\\\":true,\\\"metadata\\\":{}},"
	"{\\\"name\\\":\\\"b\\\",\\\"type\\\":\\\"boolean\\\",\\\"nullable\\\":true,\\\"metadata\\\":{}},"
	"{\\\"name\\\":\\\"p\\\",\\\"type\\\":\\\"timestamp\\\",\\\"nullable\\\":true,\\\"metadata\\\":{}}]}\","
	"\"partitionColumns\":[\"p\"],\"configuration\":{}}}\n";

static const cl_parquet_predicate filters[] = {
	{"id", CL_PQ_EQ, "5"},
	{"id", CL_PQ_LT, "-9223372036854775808"},
	{"id", CL_PQ_GE, "9223372036854775807"},
	{"s", CL_PQ_LE, "m"},
	{"s", CL_PQ_GT, "\xc3\xa9"},
	{"ts", CL_PQ_EQ, "2024-01-01 00:00:00+00"},
	{"ts", CL_PQ_GT, "2020-01-01 00:00:00.123456+00"},
	{"ts", CL_PQ_GE, "294247-01-10 04:00:54.775807+00"},
	{"d", CL_PQ_LE, "2024-02-29"},
	{"x", CL_PQ_LT, "1.5"},
	{"x", CL_PQ_EQ, "nan"},
	{"dec", CL_PQ_GE, "10.00"},
	{"b", CL_PQ_EQ, "true"},
	{"id", CL_PQ_IS_NULL, NULL},
	{"s", CL_PQ_NOT_NULL, NULL},
	{"p", CL_PQ_EQ, "2024-01-01 00:00:00+00"},
	{"p", CL_PQ_LT, "1970-01-01 00:00:00+00"},
	{"p", CL_PQ_IS_NULL, NULL},
};
#define NFILTERS (int)(sizeof filters / sizeof *filters)

static int json_string(cl_buf *b, const uint8_t *s, size_t n)
{
	int rc = cl_buf_putc(b, '"');
	for (size_t i = 0; i < n && !rc; i++) {
		if (s[i] == '"' || s[i] == '\\')
			rc = cl_buf_printf(b, "\\%c", s[i]);
		else if (s[i] < 0x20)
			rc = cl_buf_printf(b, "\\u%04x", s[i]);
		else
			rc = cl_buf_putc(b, (char)s[i]);
	}
	return rc ? rc : cl_buf_putc(b, '"');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 16384)
		return 0;
	if (!fuzz_root[0]) {
		fuzz_tmpdir("stats");
		char p[128];
		snprintf(p, sizeof p, "%s/_delta_log", fuzz_root);
		if (mkdir(p, 0755))
			abort();
	}
	const uint8_t *nl = memchr(data, '\n', size);
	size_t pn = nl ? (size_t)(nl - data) : 0;
	const uint8_t *stats = nl ? nl + 1 : data;
	size_t sn = size - (size_t)(stats - data);
	bool p_null = !nl || (pn == 4 && !memcmp(data, "null", 4));

	cl_buf c = {0};
	int rc = cl_buf_append(&c, meta, sizeof meta - 1);
	rc = rc ? rc : cl_buf_puts(&c, "{\"add\":{\"path\":\"f.parquet\",\"partitionValues\":{\"p\":");
	rc = rc ? rc : p_null ? cl_buf_puts(&c, "null") : json_string(&c, data, pn);
	rc = rc ? rc : cl_buf_puts(&c, "},\"size\":100,\"modificationTime\":0,\"dataChange\":true,"
				      "\"stats\":");
	rc = rc ? rc : json_string(&c, stats, sn);
	rc = rc ? rc : cl_buf_puts(&c, "}}\n");
	if (rc)
		abort();
	char path[160];
	snprintf(path, sizeof path, "%s/_delta_log/00000000000000000000.json", fuzz_root);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, c.data, c.len) != (ssize_t)c.len)
		abort();
	close(fd);
	cl_buf_release(&c);

	/* is the stats text JSON at all? (up to a NUL: the log's "\u0000"
	 * ends the snapshot's C string there) */
	bool is_json = false;
	cl__json_parser *jp = NULL;
	const cl_json *v;
	const uint8_t *nul = memchr(stats, 0, sn);
	size_t jn = nul ? (size_t)(nul - stats) : sn;
	if (cl__json_parser_create(&jp, NULL, NULL) == 0)
		is_json = cl__json_parse(jp, (const char *)stats, jn, &v, NULL) == 0;
	cl__json_parser_free(jp);

	cl_error err = {0};
	cl_table *t = NULL;
	cl_snapshot *s = NULL;
	if (cl_table_open(&t, fuzz_root, &err) || cl_table_snapshot(&s, t, NULL, &err)) {
		if (!err.message[0])
			abort();
		cl_table_free(t);
		return 0;
	}
	for (int i = 0; i < NFILTERS; i++) {
		cl_table_scan_options o = {0};
		o.filters = &filters[i];
		o.nfilters = 1;
		cl_table_scan *sc = NULL;
		if (cl_table_scan_open(&sc, t, s, &o, &err)) {
			if (!err.message[0])
				abort();
			continue;
		}
		cl_batch *b = NULL;
		rc = cl_table_scan_next(sc, &b, &err);
		int64_t nread = 0, nskipped = 0;
		cl_table_scan_counts(sc, &nread, &nskipped);
		bool part = !strcmp(filters[i].column, "p");
		if (!part && !is_json && nskipped)
			abort();
		if (part && p_null && cl_snapshot_nfiles(s) == 1 &&
		    nskipped != (filters[i].op != CL_PQ_IS_NULL))
			abort();
		cl_table_scan_free(sc);
	}
	cl_snapshot_free(s);
	cl_table_free(t);
	return 0;
}
