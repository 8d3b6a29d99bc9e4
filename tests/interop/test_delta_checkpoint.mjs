// test_delta_checkpoint.mjs — DuckDB reads the Parquet checkpoints
// changelake writes, and their values are the table's state.
//
// lake_crash (tests/tools) builds a partitioned, bucketed table through 13
// copy-on-write commits with txn watermarks, so changelake writes the
// checkpoint of version 10 by itself. Independently of changelake, this
// test replays the JSON commits 0..10 (PROTOCOL.md action reconciliation:
// the latest add/remove of a path wins, one protocol, one metaData, the
// latest txn per appId) and checks that DuckDB's read_parquet of
// 00000000000000000010.checkpoint.parquet holds exactly:
//   - one protocol row and one metaData row with the same fields
//     (partitionColumns as a LIST, configuration and format.options as
//     MAPs, readerFeatures/writerFeatures NULL below reader 3 / writer 7),
//   - one txn row per appId with its latest version,
//   - one add row per live file: path, size, modificationTime,
//     partitionValues (a MAP), stats,
//   - one remove row per tombstone (removed and not added again),
// every row with exactly one action struct set; that the checkpoint's
// schema has the struct/LIST/MAP shape of PROTOCOL.md's checkpoint schema;
// and that _last_checkpoint's version, size, numOfAddFiles and sizeInBytes
// agree with the file.
// Env: CL_BUILD. Prints "delta_checkpoint: N passed, M failed".
import { DuckDBInstance } from '@duckdb/node-api';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { suite } from './lib.mjs';

const build = process.env.CL_BUILD || 'build/san';
const tool = path.resolve(build, 'tools/lake_crash');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cl-dcp-'));
const t = suite('delta_checkpoint', { quiet: true });
const ok = t.ok;

const dir = path.join(tmp, 't');
execFileSync(tool, ['init', dir]);
for (let n = 1; n <= 12; n++) execFileSync(tool, ['step', dir, String(n)]);
const log = path.join(dir, '_delta_log');
const pad = (v) => String(v).padStart(20, '0');
const cpFile = path.join(log, `${pad(10)}.checkpoint.parquet`);
ok(fs.existsSync(cpFile), 'changelake wrote the checkpoint of version 10');
ok(!fs.existsSync(path.join(log, `${pad(5)}.checkpoint.parquet`)) && !fs.existsSync(path.join(log, `${pad(12)}.checkpoint.parquet`)),
	'no checkpoint at versions that are not multiples of 10');

// ---- the state of version 10 from the JSON commits ----
let protocol = null, metaData = null;
const txns = new Map(), adds = new Map(), removes = new Map();
for (let v = 0; v <= 10; v++) {
	const lines = fs.readFileSync(path.join(log, `${pad(v)}.json`), 'utf8').split('\n').filter((l) => l);
	for (const l of lines) {
		const a = JSON.parse(l);
		if (a.protocol) protocol = a.protocol;
		if (a.metaData) metaData = a.metaData;
		if (a.txn) txns.set(a.txn.appId, a.txn.version);
		if (a.remove) { adds.delete(a.remove.path); removes.set(a.remove.path, a.remove); }
		if (a.add) { removes.delete(a.add.path); adds.set(a.add.path, a.add); }
	}
}

const db = await DuckDBInstance.create(':memory:');
const con = await db.connect();
async function objects(sql) {
	const r = await con.runAndReadAll(sql);
	const cols = r.columnNames();
	return r.getRows().map((row) => Object.fromEntries(row.map((v, i) => [cols[i], typeof v === 'bigint' ? Number(v) : v])));
}
const J = (s) => s === null || s === undefined ? null : JSON.parse(s);
const rows = (await objects(`SELECT to_json(protocol)::VARCHAR AS protocol, to_json(metaData)::VARCHAR AS metaData,
	to_json(txn)::VARCHAR AS txn, to_json(add)::VARCHAR AS "add", to_json(remove)::VARCHAR AS remove
	FROM read_parquet('${cpFile}')`)).map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, J(v)])));

ok(rows.every((r) => Object.values(r).filter((v) => v !== null).length === 1), `every row holds exactly one action (${rows.length} rows)`);

const ps = rows.filter((r) => r.protocol).map((r) => r.protocol);
ok(ps.length === 1 && ps[0].minReaderVersion === protocol.minReaderVersion && ps[0].minWriterVersion === protocol.minWriterVersion &&
	ps[0].readerFeatures === null && ps[0].writerFeatures === null,
	`protocol row: ${JSON.stringify(ps)} vs ${JSON.stringify(protocol)}`);

const ms = rows.filter((r) => r.metaData).map((r) => r.metaData);
const sameMap = (a, b) => JSON.stringify(Object.entries(a || {}).sort()) === JSON.stringify(Object.entries(b || {}).sort());
ok(ms.length === 1 && ms[0].id === metaData.id && ms[0].schemaString === metaData.schemaString &&
	JSON.stringify(ms[0].partitionColumns) === JSON.stringify(metaData.partitionColumns) &&
	sameMap(ms[0].configuration, metaData.configuration) && ms[0].format.provider === metaData.format.provider &&
	sameMap(ms[0].format.options, {}) && ms[0].createdTime === metaData.createdTime &&
	(ms[0].name ?? null) === (metaData.name ?? null),
	`metaData row: ${JSON.stringify(ms[0]).slice(0, 300)}`);

const ts = rows.filter((r) => r.txn).map((r) => r.txn);
ok(ts.length === txns.size && ts.every((t) => txns.get(t.appId) === t.version),
	`txn rows: ${JSON.stringify(ts)} vs ${JSON.stringify([...txns])}`);

const as = rows.filter((r) => r.add).map((r) => r.add);
let bad = as.length === adds.size ? 0 : 1;
const pvNorm = (o) => Object.fromEntries(Object.entries(o || {}).map(([k, v]) => [k, v === '' ? null : v]));
for (const a of as) {
	const w = adds.get(a.path);
	if (!w || a.size !== w.size || a.modificationTime !== w.modificationTime || a.stats !== (w.stats ?? null) ||
		!sameMap(pvNorm(a.partitionValues), pvNorm(w.partitionValues)) || a.tags !== null) {
		if (bad++ < 3) console.log(`  add ${a.path}: checkpoint ${JSON.stringify(a)}, commits ${JSON.stringify(w)}`);
	}
}
ok(bad === 0 && as.length > 10, `add rows: ${as.length} live files with path, size, modificationTime, partitionValues, stats`);

const rs = rows.filter((r) => r.remove).map((r) => r.remove);
bad = rs.length === removes.size ? 0 : 1;
for (const r of rs) {
	const w = removes.get(r.path);
	if (!w || r.deletionTimestamp !== w.deletionTimestamp || r.dataChange !== false)
		if (bad++ < 3) console.log(`  remove ${r.path}: checkpoint ${JSON.stringify(r)}, commits ${JSON.stringify(w)}`);
}
ok(bad === 0 && rs.length > 0, `remove rows: ${rs.length} tombstones (removed and not added again)`);

// ---- schema shape ----
const sch = await objects(`SELECT name, repetition_type, converted_type, num_children FROM parquet_schema('${cpFile}')`);
const tops = sch.filter((e, i) => i > 0 && e.num_children !== null && ['txn', 'add', 'remove', 'metaData', 'protocol'].includes(e.name));
ok(tops.length === 5 && tops.every((e) => e.repetition_type === 'OPTIONAL'), 'txn/add/remove/metaData/protocol are optional struct groups');
const conv = (n) => sch.filter((e) => e.name === n).map((e) => e.converted_type);
ok(conv('partitionValues').includes('MAP') && conv('configuration').includes('MAP') && conv('options').includes('MAP') &&
	conv('tags').includes('MAP') && conv('partitionColumns').includes('LIST') && conv('readerFeatures').includes('LIST'),
	'partitionValues, tags, configuration, format.options are MAPs; partitionColumns and features are LISTs');
const desc = await objects(`DESCRIBE SELECT add, metaData FROM read_parquet('${cpFile}')`);
ok(/partitionValues MAP\(VARCHAR, VARCHAR\)/.test(desc[0].column_type) && /size BIGINT/.test(desc[0].column_type) &&
	/partitionColumns VARCHAR\[\]/.test(desc[1].column_type),
	`DuckDB types: ${desc.map((d) => d.column_type).join(' / ').slice(0, 400)}`);

// ---- _last_checkpoint ----
const lc = JSON.parse(fs.readFileSync(path.join(log, '_last_checkpoint'), 'utf8'));
ok(lc.version === 10 && lc.size === rows.length && lc.numOfAddFiles === as.length && lc.sizeInBytes === fs.statSync(cpFile).size,
	`_last_checkpoint ${JSON.stringify(lc)} agrees with the file (${rows.length} actions, ${as.length} adds, ${fs.statSync(cpFile).size} bytes)`);

// ---- changelake reads its checkpoint without the commits before it ----
const copy = path.join(tmp, 'copy');
fs.mkdirSync(path.join(copy, '_delta_log'), { recursive: true });
for (const f of fs.readdirSync(log)) {
	const m = f.match(/^(\d{20})\.json$/);
	if (m && Number(m[1]) < 10) continue;
	fs.copyFileSync(path.join(log, f), path.join(copy, '_delta_log', f));
}
for (const f of fs.readdirSync(dir)) if (f !== '_delta_log') fs.cpSync(path.join(dir, f), path.join(copy, f), { recursive: true });
const a = execFileSync(tool, ['dump', dir]).toString();
const b = execFileSync(tool, ['dump', copy]).toString();
ok(a === b && a.startsWith('version 13'), 'the table without commits 0..9 reads the same rows from the checkpoint');

fs.rmSync(tmp, { recursive: true, force: true });
t.end();
