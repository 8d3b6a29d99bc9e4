/*
 * fuzz_pg_copy.c — libFuzzer target for the COPY text-row decoder of the
 * PostgreSQL export (src/sink/pg_export_impl.h).
 *
 * The input is split at '\n' into rows, each decoded into a batch of one
 * column of every conversion (int16/32/64, float32/64, decimal, bool,
 * date, time, timestamp, timestamptz, bytea, text). Rows that fail are
 * fine; the batch is checked against the batch invariants whenever it
 * holds whole rows, and a failed row empties it (its message names the
 * row by a key of 0-2 columns). The unescaper is also run
 * on the whole input. Crashes, leaks, UB and invariant breaks are not fine.
 */
#include "changelake.h"
#include "sink/pg_export_impl.h"

#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static cl_schema *schema;
	static cl__pg_kind kinds[13];
	if (!schema) {
		static const uint32_t oids[13] = {21, 23, 20, 700, 701, 1700, 16, 1082, 1083,
						  1114, 1184, 17, 25};
		cl_error e = {0};
		if (cl_schema_create(&schema, &e))
			abort();
		for (int i = 0; i < 13; i++) {
			cl_type t;
			char name[8];
			cl__pg_map_type(oids[i], oids[i] == 1700 ? ((10 << 16) | 2) + 4 : -1, &t,
					&kinds[i]);
			snprintf(name, sizeof name, "c%d", i);
			if (cl_schema_add(schema, name, t, true, &e))
				abort();
		}
	}
	cl_buf b = {0};
	if (cl__pg_copy_unescape(&b, (const char *)data, size) == 0 && b.len > size)
		abort(); /* unescaping never lengthens */
	cl_buf_release(&b);

	cl__pg_copy_decoder d;
	cl_error e = {0};
	if (cl__pg_copy_decoder_init(&d, "fuzz", schema, kinds, &e) == 0) {
		/* a key of two columns, so failing rows are named by it */
		d.keys[0] = 12;
		d.keys[1] = 0;
		d.nkeys = size % 3; /* none, one or both */
		size_t i = 0;
		while (i < size) {
			size_t j = i;
			while (j < size && data[j] != '\n')
				j++;
			size_t n = j - i + (j < size);
			if (cl__pg_copy_row(&d, (const char *)data + i, n, &e)) {
				cl__pg_copy_decoder_clear(&d);
			} else if (cl_batch_validate(d.batch, &e)) {
				fprintf(stderr, "invalid batch: %s\n", e.message);
				abort();
			}
			i += n;
		}
	}
	cl__pg_copy_decoder_release(&d);
	return 0;
}
