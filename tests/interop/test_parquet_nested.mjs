// test_parquet_nested.mjs — nested Parquet files changelake did not write,
// read by changelake and by DuckDB, compared value by value
// (parquet_nested.mjs): the Delta Lake golden tables' checkpoints (Spark's
// struct/map/list actions) and their data files with nested columns. The
// parquet-testing corpus' nested files are compared the same way by
// test_parquet_corpus.mjs.
import { readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { compareNested } from './parquet_nested.mjs';
import { suite } from './lib.mjs';

const TD = process.env.CL_TESTDATA || '../shared/testdata';
const GOLDEN = join(TD, 'delta-golden');

const t = suite('parquet_nested');
const fail = (msg) => t.ok(false, msg);
const pass = (msg) => t.ok(true, msg);

const db = await DuckDBInstance.create(':memory:');
const con = await db.connect();
await con.run("SET TimeZone='UTC'");

// every checkpoint file, and every data file (top folder) of the tables
// whose names say they hold nested data
const files = [];
const nestedTables = /array|map|nested|struct/;
for (const t of readdirSync(GOLDEN).sort()) {
	const log = join(GOLDEN, t, '_delta_log');
	if (existsSync(log))
		for (const f of readdirSync(log).sort())
			if (/checkpoint.*\.parquet$/.test(f)) files.push(join(log, f));
	if (nestedTables.test(t))
		for (const f of readdirSync(join(GOLDEN, t)).sort())
			if (f.endsWith('.parquet')) files.push(join(GOLDEN, t, f));
}
for (const f of files) {
	const label = f.replace(TD + '/', '');
	const r = await compareNested(con, f, label);
	if (r.skip) fail(`${label}: DuckDB cannot read it: ${r.skip}`);
	else if (r.diff) fail(r.diff);
	else pass(`${label}: ${r.ok}`);
}
if (files.length < 17) fail(`only ${files.length} files found under ${GOLDEN}`);
t.end();
