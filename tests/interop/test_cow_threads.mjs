// test_cow_threads.mjs — copy-on-write on several threads (issue 6):
// `changelake merge --threads N` rewrites a bucketed table's buckets N at a
// time; the table must not depend on N.
//
// A DMS folder (a full load and CDC files with inserts, updates, deletes,
// written by DuckDB) is merged run by run into tables with --threads 1, 2
// and 3 (CL_THREADS removed from the environment, which would override
// --threads). After every run the three tables, read by DuckDB over their
// live files (`changelake table files --json`), must hold the same rows as a
// model of the changes, and their commits must name the same actions in
// the same order (removes, then adds by bucket, with the same row counts).
// Then a run at 2 threads killed at a crash point in the middle of the
// buckets (CL_CRASH_AT) must leave the table as it was, and the rerun must
// give the same table as 1 thread.
// Env: CHANGELAKE. Prints "cow_threads: N passed, M failed".
import { DuckDBInstance } from '@duckdb/node-api';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { suite } from './lib.mjs';

const bin = process.env.CHANGELAKE || 'build/san/changelake';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cl-cowthreads-'));
const t = suite('cow_threads', { quiet: true });
const ok = t.ok;

const db = await DuckDBInstance.create(':memory:');
const con = await db.connect();
async function q(sql) { return (await con.runAndReadAll(sql)).getRows(); }

const env = { ...process.env };
delete env.CL_THREADS;
delete env.CL_CRASH_AT;
function cl(args, extraEnv = {}) {
	return spawnSync(bin, args, { encoding: 'utf8', env: { ...env, ...extraEnv }, maxBuffer: 64 << 20 });
}

// A small seeded PRNG (mulberry32).
let seed = 12345;
function rnd() {
	seed = (seed + 0x6d2b79f5) >>> 0;
	let t = seed;
	t = Math.imul(t ^ (t >>> 15), t | 1);
	t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
	return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (n) => Math.floor(rnd() * n);

const N = 30000;
const model = new Map(); // id -> [v, n]
const src = path.join(tmp, 'dms');
fs.mkdirSync(src, { recursive: true });

async function writeParquet(file, rows, withOp) {
	const csv = path.join(tmp, 'gen.csv');
	const head = (withOp ? 'Op,' : '') + 'id,v,n\n';
	fs.writeFileSync(csv, head + rows.map((r) => r.map((x) => (x === null ? '' : x)).join(',')).join('\n') + '\n');
	const cols = (withOp ? "'Op': 'VARCHAR', " : '') + "'id': 'BIGINT', 'v': 'VARCHAR', 'n': 'INTEGER'";
	await q(`COPY (SELECT * FROM read_csv('${csv}', header=true, columns={${cols}})) TO '${file}' (FORMAT parquet)`);
}

// the full load
{
	const rows = [];
	for (let id = 0; id < N; id++) {
		const r = [id, `v${id}`, id % 97];
		rows.push(r);
		model.set(id, [r[1], r[2]]);
	}
	await writeParquet(path.join(src, 'LOAD00000001.parquet'), rows, false);
}

// CDC file k: inserts, updates (some NULLs), deletes, several changes to a key
async function cdcFile(k, nchanges) {
	const rows = [];
	for (let i = 0; i < nchanges; i++) {
		const id = int(N + 2000);
		const r = rnd();
		if (r < 0.2 && model.has(id)) {
			rows.push(['D', id, null, null]);
			model.delete(id);
		} else {
			const v = rnd() < 0.1 ? null : `f${k}-${i}`;
			const n = int(1000);
			rows.push([model.has(id) ? 'U' : 'I', id, v, n]);
			model.set(id, [v, n]);
		}
	}
	const name = `20240101-1000${String(k).padStart(5, '0')}.parquet`;
	await writeParquet(path.join(src, name), rows, true);
}

function liveFiles(table) {
	const r = cl(['table', 'files', table, '--json']);
	if (r.status !== 0)
		return null;
	return JSON.parse(r.stdout).files.map((f) => path.join(table, f.path));
}

async function tableRows(table) {
	const files = liveFiles(table);
	if (!files)
		return null;
	if (files.length === 0)
		return [];
	const list = files.map((f) => `'${f}'`).join(', ');
	return (await q(`SELECT id, v, n FROM read_parquet([${list}]) ORDER BY id`))
		.map((r) => [Number(r[0]), r[1], r[2] === null ? null : Number(r[2])]);
}

function modelRows() {
	return [...model.keys()].sort((a, b) => a - b).map((id) => [id, ...model.get(id)]);
}

// The actions of a commit: "remove" / "add bucket rows" in order (file
// names hold random ids; removes name the previous files, compared by bucket).
function commitActions(table, version) {
	const f = path.join(table, '_delta_log', `${String(version).padStart(20, '0')}.json`);
	if (!fs.existsSync(f))
		return null;
	const out = [];
	for (const line of fs.readFileSync(f, 'utf8').split('\n')) {
		if (!line)
			continue;
		const a = JSON.parse(line);
		const act = a.add || a.remove;
		if (!act)
			continue;
		const b = /_(\d+)\.c\d+\.[^/]*parquet$/.exec(act.path);
		const rows = a.add && a.add.stats ? JSON.parse(a.add.stats).numRecords : '';
		out.push(`${a.add ? 'add' : 'remove'} ${b ? b[1] : '?'} ${rows}`);
	}
	return out;
}

function version(table) {
	const d = path.join(table, '_delta_log');
	return Math.max(...fs.readdirSync(d).filter((f) => /^\d{20}\.json$/.test(f)).map((f) => Number(f.slice(0, 20))));
}

const THREADS = [1, 2, 3];
const tables = THREADS.map((n) => path.join(tmp, `t${n}`));
const nchanges = [0, 400, 3000, 50];
for (let run = 0; run < nchanges.length; run++) {
	if (run > 0)
		await cdcFile(run, nchanges[run]);
	for (let i = 0; i < THREADS.length; i++) {
		const r = cl(['merge', '--source', `dms:${src}`, '--to', tables[i], '--key', 'id', '--buckets', '8',
			'--target-file-size', '30000', '--no-auto-compact', '-q', '--threads', String(THREADS[i])]);
		ok(r.status === 0, `run ${run} --threads ${THREADS[i]}: exit ${r.status} ${r.stderr}`);
	}
	const want = JSON.stringify(modelRows());
	const acts = [];
	for (let i = 0; i < THREADS.length; i++) {
		const got = await tableRows(tables[i]);
		ok(JSON.stringify(got) === want, `run ${run} --threads ${THREADS[i]}: table rows differ from the model ` +
			`(${got ? got.length : 'none'} rows, expected ${model.size})`);
		acts.push(JSON.stringify(commitActions(tables[i], version(tables[i]))));
	}
	for (let i = 1; i < THREADS.length; i++)
		ok(acts[i] === acts[0], `run ${run} --threads ${THREADS[i]}: commit actions differ from --threads 1`);
	if (run === 2)
		ok(JSON.parse(acts[0]).filter((a) => a.startsWith('add')).length > 8,
			'run 2 adds files in every bucket (several per bucket)');
}

// A run at 2 threads killed in the middle of the buckets: the table stays
// as it was; the rerun gives the table of a clean run.
await cdcFile(nchanges.length, 2000);
const before = JSON.stringify(await tableRows(tables[1]));
const v0 = version(tables[1]);
for (const point of ['data-file-published:5', 'data-file-writing:9', 'data-file-closed:3']) {
	const r = cl(['merge', '--source', `dms:${src}`, '--to', tables[1], '--key', 'id', '--no-auto-compact', '-q',
		'--threads', '2'], { CL_CRASH_AT: point });
	ok(r.signal === 'SIGKILL', `crash at ${point}: killed (status ${r.status}, signal ${r.signal})`);
	ok(version(tables[1]) === v0, `crash at ${point}: no new version`);
	ok(JSON.stringify(await tableRows(tables[1])) === before, `crash at ${point}: table unchanged`);
}
for (let i = 0; i < 2; i++) {
	const r = cl(['merge', '--source', `dms:${src}`, '--to', tables[i], '--key', 'id', '--no-auto-compact', '-q',
		'--threads', String(THREADS[i])]);
	ok(r.status === 0, `rerun --threads ${THREADS[i]}: exit ${r.status} ${r.stderr}`);
}
const want = JSON.stringify(modelRows());
ok(JSON.stringify(await tableRows(tables[0])) === want, 'after the crashes: --threads 1 table equals the model');
ok(JSON.stringify(await tableRows(tables[1])) === want, 'after the crashes: --threads 2 table equals the model');
ok(JSON.stringify(commitActions(tables[1], version(tables[1]))) ===
	JSON.stringify(commitActions(tables[0], version(tables[0]))), 'after the crashes: same commit actions');

if (!process.env.KEEP) fs.rmSync(tmp, { recursive: true, force: true });
t.end();
