// test_dms_merge_duckdb.mjs — `changelake merge` against an independent
// reference: DuckDB folding every change with a window query.
//
// Each scenario generates a random DMS table folder: a full load (CSV or
// Parquet) and CDC files (CSV with header, header-less CSV, or Parquet
// written by DuckDB) with inserts, updates (random NULLs, partition moves),
// deletes, re-inserts of deleted keys, many changes to one key within a
// file and across files, and — with --sequence-by — many equal sequence
// values. Files arrive in batches split at random points, some late (named
// before files already merged). After every `changelake merge` run the lake
// table, read by DuckDB with read_parquet over the live files
// (`changelake table files --json`), must equal
//   the last change per key over every file consumed so far, ordered by
//   (full load before CDC, [sequence column], file commit time, row),
//   without the keys whose last change is a delete
// which is what the design promises (a late change older than the key's
// last one is ignored, also after a delete). Some runs are first killed
// with SIGKILL at a random crash point (CL_CRASH_AT) and then rerun: the
// result must be the same as without the crash.
// Env: CHANGELAKE. Prints "dms_merge_duckdb: N passed, M failed".
import { DuckDBInstance } from '@duckdb/node-api';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { suite } from './lib.mjs';

const bin = process.env.CHANGELAKE || 'build/san/changelake';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cl-dmsmerge-'));
const t = suite('dms_merge_duckdb', { quiet: true });
const ok = t.ok;

// A small seeded PRNG (mulberry32), so a failure can be replayed by seed.
function rng(seed) {
	let a = seed >>> 0;
	const next = () => {
		a = (a + 0x6d2b79f5) >>> 0;
		let t = a;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
	return { f: next, int: (n) => Math.floor(next() * n), pick: (v) => v[Math.floor(next() * v.length)] };
}

const db = await DuckDBInstance.create(':memory:');
const con = await db.connect();
async function q(sql) { return (await con.runAndReadAll(sql)).getRows(); }

const COLS = ['id', 'v', 'n', 'day', 'ts'];
const TYPES = { Op: 'VARCHAR', id: 'BIGINT', v: 'VARCHAR', n: 'INTEGER', day: 'DATE', ts: 'BIGINT' };
const SCHEMA = 'id int64\nv string\nn int32\nday date\nts int64\n';
const CRASH_POINTS = ['commit-before-publish', 'commit-after-publish', 'data-file-writing',
	'data-file-closed', 'data-file-published', 'store-put-staged'];

function csvLine(vals) { return vals.map((x) => (x === null ? '' : String(x))).join(',') + '\n'; }

function two(n) { return String(n).padStart(2, '0'); }
// CDC file name for commit "minute" t (distinct per file, in time order).
function cdcName(t) {
	const d = 13 + Math.floor(t / 1440), h = Math.floor(t / 60) % 24, m = t % 60;
	return `2020/11/${two(d)}/202011${two(d)}-${two(h)}${two(m)}00${String(t % 1000).padStart(3, '0')}`;
}

async function writeFile(dir, base, kind, withOp, rows) {
	// rows: arrays [op, id, v, n, day, ts]
	const header = (withOp ? ['Op'] : []).concat(COLS);
	const body = rows.map((r) => csvLine(withOp ? r : r.slice(1))).join('');
	fs.mkdirSync(path.dirname(path.join(dir, base)), { recursive: true });
	if (kind === 'parquet') {
		const tmpcsv = path.join(tmp, 'gen.csv');
		fs.writeFileSync(tmpcsv, header.join(',') + '\n' + body);
		const cols = header.map((c) => `'${c}': '${TYPES[c]}'`).join(', ');
		await q(`COPY (SELECT * FROM read_csv('${tmpcsv}', header=true, columns={${cols}})) ` +
			`TO '${path.join(dir, base)}.parquet' (FORMAT parquet)`);
	} else if (kind === 'csvnohdr') {
		fs.writeFileSync(path.join(dir, base) + '.csv', body);
	} else {
		fs.writeFileSync(path.join(dir, base) + '.csv', header.join(',') + '\n' + body);
	}
}

function run(args, env) {
	return spawnSync(bin, args, { encoding: 'utf8', env: { ...process.env, ...env } });
}

async function tableLines(lake) {
	const r = run(['table', 'files', lake, '--json']);
	if (r.status !== 0) return `error: ${r.stderr}`;
	const files = JSON.parse(r.stdout).files.map((f) => `'${path.join(lake, f.path)}'`);
	if (!files.length) return '';
	const rows = await q(`SELECT concat_ws('|', id, coalesce(v, '<null>'), coalesce(CAST(n AS VARCHAR), '<null>'), ` +
		`CAST(day AS VARCHAR), CAST(ts AS VARCHAR)) FROM read_parquet([${files.join(',')}], hive_partitioning=false) ORDER BY id`);
	return rows.map((x) => x[0]).join('\n');
}

async function referenceLines(changes, seqBy) {
	// changes: [op, id, v, n, day, ts, cls, fkey, row]
	if (!changes.length) return '';
	const f = path.join(tmp, 'ref.csv');
	fs.writeFileSync(f, 'op,id,v,n,day,ts,cls,fkey,rn\n' + changes.map(csvLine).join(''));
	const order = `cls DESC, ${seqBy ? 'ts DESC, ' : ''}fkey DESC, rn DESC`;
	const rows = await q(`SELECT concat_ws('|', id, coalesce(v, '<null>'), coalesce(CAST(n AS VARCHAR), '<null>'), ` +
		`CAST(day AS VARCHAR), CAST(ts AS VARCHAR)) FROM (SELECT *, row_number() OVER (PARTITION BY id ORDER BY ${order}) AS w ` +
		`FROM read_csv('${f}', header=true, columns={'op':'VARCHAR','id':'BIGINT','v':'VARCHAR','n':'INTEGER','day':'DATE','ts':'BIGINT','cls':'INTEGER','fkey':'BIGINT','rn':'BIGINT'})) ` +
		`WHERE w = 1 AND op <> 'D' ORDER BY id`);
	return rows.map((x) => x[0]).join('\n');
}

// The files of one random table: [full load, CDC files in commit order].
function generate(R, seqBy) {
	const K = 30 + R.int(30);
	const alive = new Map();
	const day = () => `2020-${two(1 + R.int(12))}-${two(1 + R.int(28))}`;
	const val = () => (R.f() < 0.2 ? null : `s${R.int(1000)}`);
	const num = () => (R.f() < 0.2 ? null : R.int(100000));
	let ts = 0;
	const nextTs = () => (seqBy ? (ts += R.int(3) === 0 ? 1 : 0) : ts++);
	// the full load
	const files = [];
	const load = [];
	for (let id = 1; id <= K; id++)
		if (R.f() < 0.7) {
			const row = ['I', id, val(), num(), day(), nextTs()];
			alive.set(id, row);
			load.push(row);
		}
	files.push({ base: 'LOAD00000001', kind: R.pick(['csv', 'parquet']), withOp: false, rows: load, cls: 0, fkey: 0 });
	// CDC files in commit order
	const ncdc = 8 + R.int(10);
	for (let i = 0; i < ncdc; i++) {
		const rows = [];
		const n = 1 + R.int(12);
		for (let j = 0; j < n; j++) {
			const id = R.f() < 0.3 && rows.length ? rows[R.int(rows.length)][1] : 1 + R.int(K + 5);
			let row;
			if (alive.has(id)) {
				const old = alive.get(id);
				if (R.f() < 0.25) {
					row = ['D', id, old[2], old[3], old[4], nextTs()];
					alive.delete(id);
				} else {
					row = ['U', id, val(), num(), R.f() < 0.3 ? day() : old[4], nextTs()];
					alive.set(id, row);
				}
			} else {
				row = ['I', id, val(), num(), day(), nextTs()];
				alive.set(id, row);
			}
			rows.push(row);
		}
		files.push({ base: cdcName(10 * i + 5), kind: R.pick(['csv', 'csv', 'csvnohdr', 'parquet']), withOp: true,
			rows, cls: 1, fkey: 10 * i + 5 });
	}
	return files;
}

async function scenario(seed) {
	const R = rng(seed);
	const seqBy = R.f() < 0.4;
	const partitioned = R.f() < 0.6;
	const dir = path.join(tmp, `s${seed}`, 'src', 'dbo', 't');
	const lake = path.join(tmp, `s${seed}`, 'lake', 't');
	fs.mkdirSync(dir, { recursive: true });
	fs.writeFileSync(path.join(tmp, `s${seed}`, 'schema'), SCHEMA);
	const files = generate(R, seqBy);
	// arrival order: mostly commit order, some files late
	const arrival = files.slice(1);
	for (let i = 0; i < arrival.length; i++)
		if (R.f() < 0.2 && i + 2 < arrival.length) {
			const k = i + 1 + R.int(arrival.length - i - 1);
			[arrival[i], arrival[k]] = [arrival[k], arrival[i]];
		}
	arrival.unshift(files[0]);
	const args = ['merge', '--source', `dms:${dir}`, '--to', lake, '--key', 'id', '--schema',
		path.join(tmp, `s${seed}`, 'schema'), '--quiet'];
	if (seqBy) args.push('--sequence-by', 'ts');
	if (partitioned) args.push('--partition-by', 'day:month', '--buckets', '3');
	const consumed = [];
	let runs = 0, crashes = 0;
	for (let i = 0; i < arrival.length; i++) {
		const f = arrival[i];
		await writeFile(dir, f.base, f.kind, f.withOp, f.rows);
		f.rows.forEach((r, k) => consumed.push([...r, f.cls, f.fkey, k]));
		if (i + 1 < arrival.length && R.f() < 0.6) continue;
		if (R.f() < 0.35) {
			const point = R.pick(CRASH_POINTS);
			const r = run(args, { CL_CRASH_AT: `${point}:${1 + R.int(3)}` });
			if (r.signal === 'SIGKILL') crashes++;
			else if (!ok(r.status === 0, `seed ${seed}: run with CL_CRASH_AT=${point}: ${r.stderr}`)) return;
		}
		const r = run(args);
		runs++;
		if (!ok(r.status === 0, `seed ${seed}: merge: ${r.stderr}`)) return;
		const got = await tableLines(lake);
		const want = await referenceLines(consumed, seqBy);
		if (!ok(got === want, `seed ${seed} (seq-by ${seqBy}, partitioned ${partitioned}) after run ${runs}:\n got:\n${got}\n want:\n${want}`))
			return;
	}
	// a rerun finds nothing and changes nothing
	const again = run([...args.filter((a) => a !== '--quiet'), '--json']);
	ok(again.status === 0 && JSON.parse(again.stdout).version === -1, `seed ${seed}: rerun is a no-op: ${again.stdout}${again.stderr}`);
	return crashes;
}

// `sync` of three tables killed at random crash points, again and again,
// then run to the end: every table equals its reference.
async function syncScenario(seed) {
	const R = rng(seed);
	const root = path.join(tmp, `sync${seed}`, 'dms');
	const lake = path.join(tmp, `sync${seed}`, 'lake');
	const schema = path.join(tmp, `sync${seed}`, 'schema');
	fs.mkdirSync(root, { recursive: true });
	fs.writeFileSync(schema, SCHEMA);
	const tables = [];
	for (const name of ['a/one', 'a/two', 'b/three']) {
		const seqBy = R.f() < 0.4;
		const files = generate(R, seqBy);
		const changes = [];
		for (const f of files) {
			await writeFile(path.join(root, name), f.base, f.kind, f.withOp, f.rows);
			f.rows.forEach((r, k) => changes.push([...r, f.cls, f.fkey, k]));
		}
		tables.push({ name, seqBy, changes });
	}
	let r = run(['sync', root, '--lake', lake, '-q']);
	ok(r.status === 0, `sync ${seed}: first pass registers: ${r.stderr}`);
	for (const t of tables) {
		const set = ['tables', 'set', t.name, '--lake', lake, '--key', 'id', '--schema', schema, '--active', '-q'];
		if (t.seqBy) set.push('--sequence-by', 'ts');
		if (R.f() < 0.5) set.push('--partition-by', 'day:month');
		r = run(set);
		ok(r.status === 0, `tables set ${t.name}: ${r.stderr}`);
	}
	let kills = 0;
	for (let i = 0; i < 6; i++) {
		r = run(['sync', root, '--lake', lake, '-q'], { CL_CRASH_AT: `${R.pick(CRASH_POINTS)}:${1 + R.int(4)}` });
		if (r.signal === 'SIGKILL') kills++;
		else ok(r.status === 0, `sync ${seed}: pass ${i}: ${r.stderr}`);
	}
	r = run(['sync', root, '--lake', lake, '-q']);
	ok(r.status === 0, `sync ${seed}: final pass: ${r.stderr}`);
	for (const t of tables) {
		const got = await tableLines(path.join(lake, t.name));
		const want = await referenceLines(t.changes, t.seqBy);
		ok(got === want, `sync ${seed} ${t.name} after ${kills} kills:\n got:\n${got}\n want:\n${want}`);
	}
	r = run(['tables', 'show', 'a/one', '--lake', lake, '--json']);
	ok(r.status === 0 && JSON.parse(r.stdout).runs.length > 0 && JSON.parse(r.stdout).runs.every((x) => x.status !== 'error'), `sync ${seed}: run history: ${r.stdout}`);
	return kills;
}

const seeds = (process.env.CL_DMS_SEEDS || '1,2,3,4,5,6,7,8').split(',').map(Number);
let crashes = 0;
for (const s of seeds) crashes += (await scenario(s)) || 0;
console.log(`(${seeds.length} merge scenarios, ${crashes} runs killed at crash points)`);
crashes = 0;
for (const s of [101, 102]) crashes += await syncScenario(s);
console.log(`(2 sync scenarios, ${crashes} sync passes killed at crash points)`);
fs.rmSync(tmp, { recursive: true, force: true });
t.end();
