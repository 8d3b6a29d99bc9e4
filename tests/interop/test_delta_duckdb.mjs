// test_delta_duckdb.mjs — lake tables written by changelake, checked with
// DuckDB and against the Delta protocol.
//
// tests/tools/lake_interop builds a table of many types (partitioned by a
// string with hostile values and by the day of a timestamp, 4 key buckets)
// in 4 commits: append, copy-on-write update, delete, append. Then:
//   rows      for every version, DuckDB reads the live data files (listed by
//             `changelake table files TABLE@V --json`) with read_parquet,
//             adds the partition values from the log, and must get exactly
//             the rows changelake reads (lake_interop rows TABLE@V)
//   stats     for every live file, the statistics in the log (numRecords,
//             nullCount, minValues, maxValues) agree with DuckDB's own
//             count/min/max over the file (timestamps at millisecond
//             precision: min truncated down, max rounded up)
//   protocol  every line of every commit validates against the action
//             schemas of PROTOCOL.md (field names, types, required fields;
//             schemaString and stats are themselves valid JSON of the right
//             shape; version 0 has protocol and metaData)
//   layout    every data file lies inside the table, in the folder its
//             partition values escape to
// Env: CHANGELAKE, CL_BUILD. Prints "delta_duckdb: N passed, M failed".
import { DuckDBInstance } from '@duckdb/node-api';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { suite } from './lib.mjs';

const build = process.env.CL_BUILD || 'build/san';
const bin = process.env.CHANGELAKE || path.join(build, 'changelake');
const tool = path.resolve(build, 'tools/lake_interop');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cl-delta-'));
const table = path.join(tmp, 'table');
const t = suite('delta_duckdb', { quiet: true });
const ok = t.ok;

const run = (cmd, args) => execFileSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 28 });

try {
	run(tool, ['make', table]);
} catch (e) {
	console.log(`FAIL lake_interop make: ${e.stderr || e}`);
	console.log('delta_duckdb: 0 passed, 1 failed');
	process.exit(1);
}

const db = await DuckDBInstance.create(':memory:');
const con = await db.connect();
await con.run("SET TimeZone='UTC'");
const sqlstr = (s) => `'${s.replaceAll("'", "''")}'`;

// ---- rows of every version ----
const cols = ['id', 'small', 'n', 'x', 'amount', 'd', 'ts', 'name', 'flag'];
for (let v = 1; v <= 4; v++) {
	const listing = JSON.parse(run(bin, ['table', 'files', `${table}@${v}`, '--json']));
	const mine = run(tool, ['rows', `${table}@${v}`]).split('\n').filter(Boolean)
		.map((l) => JSON.stringify(JSON.parse(l))).sort();
	const theirs = [];
	for (const f of listing.files) {
		const p = path.join(table, f.path);
		if (!ok(p.startsWith(table + '/') && fs.existsSync(p), `v${v}: ${f.path} inside the table`))
			continue;
		const r = await con.runAndReadAll(
			`SELECT id::VARCHAR, small, n, x, amount::VARCHAR, d::VARCHAR, epoch_us(ts)::VARCHAR, name, flag
			 FROM read_parquet(${sqlstr(p)})`);
		for (const row of r.getRows()) {
			const vals = row.map((x) => (typeof x === 'bigint' ? Number(x) : x));
			vals.push(f.partitionValues.region, f.partitionValues.ts_day);
			theirs.push(JSON.stringify(vals));
		}
	}
	theirs.sort();
	ok(mine.length > 0 && mine.length === theirs.length,
		`v${v}: changelake reads ${mine.length} rows, DuckDB ${theirs.length}`);
	let diff = 0;
	for (let i = 0; i < Math.min(mine.length, theirs.length); i++)
		if (mine[i] !== theirs[i]) {
			if (diff++ < 3) console.log(`  v${v} row ${i}: changelake ${mine[i]}\n           duckdb     ${theirs[i]}`);
		}
	ok(diff === 0, `v${v}: ${diff} rows differ between changelake and DuckDB`);
}

// ---- statistics of the latest version's files ----
const log = path.join(table, '_delta_log');
const commits = fs.readdirSync(log).filter((n) => /^\d{20}\.json$/.test(n)).sort();
const live = JSON.parse(run(bin, ['table', 'files', table, '--json'])).files.map((f) => f.path);
const statsOf = new Map();
for (const c of commits)
	for (const line of fs.readFileSync(path.join(log, c), 'utf8').split('\n').filter(Boolean)) {
		const a = JSON.parse(line);
		if (a.add) statsOf.set(decodeURIComponent(a.add.path), a.add.stats && JSON.parse(a.add.stats));
	}
const tsText = (us, up) => {
	let ms = Number(us / 1000n);
	if (us < 0n && us % 1000n !== 0n) ms -= 1;
	if (up && us % 1000n !== 0n) ms += 1;
	return new Date(ms).toISOString();
};
let statFiles = 0;
for (const p of live) {
	const st = statsOf.get(p);
	if (!ok(st && typeof st.numRecords === 'number', `${p}: stats with numRecords`)) continue;
	const file = sqlstr(path.join(table, p));
	const q = cols.map((c) => c === 'flag' ? `count(*) - count(${c})`
		: `min(${c})::VARCHAR, max(${c})::VARCHAR, count(*) - count(${c})`).join(', ');
	const r = (await con.runAndReadAll(`SELECT count(*), ${q},
		epoch_us(min(ts))::VARCHAR, epoch_us(max(ts))::VARCHAR FROM read_parquet(${file})`)).getRows()[0];
	let k = 0;
	const n = Number(r[k++]);
	let good = n === st.numRecords;
	for (const c of cols) {
		if (c === 'flag') {
			good &&= Number(r[k++]) === st.nullCount.flag;
			continue;
		}
		const mn = r[k++], mx = r[k++], nulls = Number(r[k++]);
		good &&= nulls === st.nullCount[c];
		if (mn === null) {
			good &&= !(c in st.minValues) && !(c in st.maxValues);
			continue;
		}
		let wantMin = st.minValues[c], wantMax = st.maxValues[c];
		let gotMin = mn, gotMax = mx;
		if (c === 'ts') {
			gotMin = tsText(BigInt(r[r.length - 2]), false);
			gotMax = tsText(BigInt(r[r.length - 1]), true);
		} else if (['id', 'small', 'n', 'x', 'amount'].includes(c)) {
			gotMin = Number(mn); gotMax = Number(mx);
			wantMin = Number(wantMin); wantMax = Number(wantMax);
		}
		if (gotMin !== wantMin || gotMax !== wantMax) {
			good = false;
			console.log(`  ${p} ${c}: log ${wantMin}..${wantMax}, DuckDB ${gotMin}..${gotMax}`);
		}
	}
	if (ok(good, `${p}: statistics agree with DuckDB`)) statFiles++;
}
ok(statFiles === live.length && live.length > 10, `statistics checked on ${statFiles} of ${live.length} files`);

// ---- every commit against PROTOCOL.md ----
const isInt = (v) => Number.isInteger(v);
const isStr = (v) => typeof v === 'string';
const isBool = (v) => typeof v === 'boolean';
const isMap = (v, nullable) => v !== null && typeof v === 'object' && !Array.isArray(v) &&
	Object.values(v).every((x) => isStr(x) || (nullable && x === null));
function check(obj, spec, where) {
	const errs = [];
	for (const [k, [type, required]] of Object.entries(spec)) {
		if (!(k in obj)) { if (required) errs.push(`${where}: missing ${k}`); continue; }
		if (!type(obj[k])) errs.push(`${where}: ${k} has the wrong type (${JSON.stringify(obj[k])})`);
	}
	for (const k of Object.keys(obj)) if (!(k in spec)) errs.push(`${where}: unknown field ${k}`);
	return errs;
}
const addSpec = {
	path: [isStr, true], partitionValues: [(v) => isMap(v, true), true], size: [isInt, true],
	modificationTime: [isInt, true], dataChange: [isBool, true], stats: [isStr, false],
	tags: [(v) => isMap(v, false), false],
};
const removeSpec = {
	path: [isStr, true], deletionTimestamp: [isInt, false], dataChange: [isBool, true],
	extendedFileMetadata: [isBool, false], partitionValues: [(v) => isMap(v, true), false],
	size: [isInt, false], stats: [isStr, false], tags: [(v) => isMap(v, false), false],
};
const metaSpec = {
	id: [isStr, true], name: [isStr, false], description: [isStr, false],
	format: [(v) => v && isStr(v.provider) && isMap(v.options || {}, false), true],
	schemaString: [isStr, true], partitionColumns: [(v) => Array.isArray(v) && v.every(isStr), true],
	configuration: [(v) => isMap(v, false), true], createdTime: [isInt, false],
};
const protoSpec = {
	minReaderVersion: [isInt, true], minWriterVersion: [isInt, true],
	readerFeatures: [(v) => Array.isArray(v) && v.every(isStr), false],
	writerFeatures: [(v) => Array.isArray(v) && v.every(isStr), false],
};
const txnSpec = { appId: [isStr, true], version: [isInt, true], lastUpdated: [isInt, false] };
const prims = /^(string|long|integer|short|byte|float|double|boolean|binary|date|timestamp|timestamp_ntz|decimal\(\d+,\d+\))$/;
let protoErrs = [];
for (const c of commits) {
	const version = Number(c.slice(0, 20));
	const kinds = new Set();
	for (const [i, line] of fs.readFileSync(path.join(log, c), 'utf8').split('\n').entries()) {
		if (!line) continue;
		const where = `${c}:${i + 1}`;
		let a;
		try { a = JSON.parse(line); } catch { protoErrs.push(`${where}: not JSON`); continue; }
		const keys = Object.keys(a);
		if (keys.length !== 1) { protoErrs.push(`${where}: ${keys.length} actions on one line`); continue; }
		const [kind] = keys, body = a[kind];
		kinds.add(kind);
		if (kind === 'add') {
			protoErrs.push(...check(body, addSpec, where));
			if (body.stats) {
				const s = JSON.parse(body.stats);
				if (!isInt(s.numRecords)) protoErrs.push(`${where}: stats without numRecords`);
				for (const k of ['minValues', 'maxValues', 'nullCount'])
					if (s[k] && typeof s[k] !== 'object') protoErrs.push(`${where}: stats.${k}`);
			}
			if (decodeURIComponent(body.path).startsWith('/') || /^[a-z]+:/.test(body.path))
				protoErrs.push(`${where}: absolute path`);
		} else if (kind === 'remove') protoErrs.push(...check(body, removeSpec, where));
		else if (kind === 'metaData') {
			protoErrs.push(...check(body, metaSpec, where));
			const sch = JSON.parse(body.schemaString);
			if (sch.type !== 'struct' || !Array.isArray(sch.fields)) protoErrs.push(`${where}: schema`);
			for (const f of sch.fields || [])
				if (!isStr(f.name) || !prims.test(f.type) || !isBool(f.nullable) || typeof f.metadata !== 'object')
					protoErrs.push(`${where}: schema field ${JSON.stringify(f)}`);
			for (const p of body.partitionColumns)
				if (!sch.fields.some((f) => f.name === p)) protoErrs.push(`${where}: partition column ${p} not in schema`);
		} else if (kind === 'protocol') {
			protoErrs.push(...check(body, protoSpec, where));
			if ('readerFeatures' in body && body.minReaderVersion !== 3) protoErrs.push(`${where}: readerFeatures without reader 3`);
			if ('writerFeatures' in body && body.minWriterVersion !== 7) protoErrs.push(`${where}: writerFeatures without writer 7`);
		} else if (kind === 'txn') protoErrs.push(...check(body, txnSpec, where));
		else if (kind === 'commitInfo') {
			if (!isInt(body.timestamp) || !isStr(body.operation) || !isMap(body.operationParameters, false) ||
			    !isMap(body.operationMetrics, false))
				protoErrs.push(`${where}: commitInfo fields`);
		} else protoErrs.push(`${where}: unknown action ${kind}`);
	}
	if (version === 0 && !(kinds.has('protocol') && kinds.has('metaData')))
		protoErrs.push(`${c}: version 0 lacks protocol or metaData`);
}
for (const e of protoErrs.slice(0, 10)) console.log(`  ${e}`);
ok(commits.length === 5, `5 commits (got ${commits.length})`);
ok(protoErrs.length === 0, `${protoErrs.length} protocol violations in the commits`);

// ---- layout: folder = escaped partition values ----
const esc = (v) => v === null ? '__HIVE_DEFAULT_PARTITION__'
	: [...v].map((ch, i) => /["#%'*/:=?\\{[\]^ <>|\x00-\x1f\x7f]/.test(ch) || (i === 0 && /[._]/.test(ch) && false)
		? '%' + ch.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0') : ch).join('');
let layoutBad = 0;
for (const f of JSON.parse(run(bin, ['table', 'files', table, '--json'])).files) {
	const dirs = f.path.split('/').slice(0, -1);
	const want = [`region=`, `ts_day=`];
	if (dirs.length !== 2 || !dirs[0].startsWith(want[0]) || !dirs[1].startsWith(want[1])) layoutBad++;
	const region = f.partitionValues.region;
	// a value like ../x or a/b never makes more folders
	if (region !== null && region.includes('/') && dirs.length !== 2) layoutBad++;
	if (dirs[1] !== `ts_day=${esc(f.partitionValues.ts_day)}`) layoutBad++;
}
ok(layoutBad === 0, `${layoutBad} files outside their partition folder`);

fs.rmSync(tmp, { recursive: true, force: true });
t.end();
