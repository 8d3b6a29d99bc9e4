// test_adversarial_diff.mjs — adversarial inputs for diff's aligned
// streaming path (src/ops/diff_aligned.c) against the hash path and DuckDB.
//
// Every case writes an OLD and a NEW snapshot with DuckDB (Parquet unless a
// case says otherwise, in a chosen row order and row-group size) and runs
// `changelake diff` with CL_DIFF_PATH=hash, =aligned and unset, at --threads
// 1 and 2. All six runs must give the same exit status, the same output
// bytes (or, on failure, the same error message) and the same --json
// report (timings stripped). Where a case has a plain single-column key and
// no comparator, the change set is also checked against DuckDB's
// FULL OUTER JOIN with IS DISTINCT FROM (-0.0 = 0.0, NaN = NaN as diff.md
// says; DuckDB's own float semantics agree on both).
//
// Cases: multi-column keys with NULL parts; NULL keys on both sides; keys of
// many types (strings with shared prefixes, unicode, doubles incl. -0.0 /
// NaN, decimals, timestamps, dates); duplicates adjacent / far / after a
// match, with and without --allow-duplicate-keys; --keep-unchanged, every
// --mode, --sparse, --ignore, --epsilon / --ignore-whitespace /
// --time-tolerance; one-sided columns and widened types; empty sides;
// OLD as a directory / Hive partitions / CSV / JSONL; rows moved far; a
// displaced row that never matches; inputs just under and over the
// give-up threshold; tiny --memory-limit; row counts around batch and
// row-group boundaries.
//
// Known failures would run only with CL_ADVERSARIAL_KNOWN_FAILURES=1; none
// found: every case gives the same bytes on both paths.
// Prints "adversarial_diff: N passed, M failed".
import { DuckDBInstance } from '@duckdb/node-api';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { suite } from './lib.mjs';

const CL = process.env.CHANGELAKE ? path.resolve(process.env.CHANGELAKE) : null;
if (!CL) {
	console.error('CHANGELAKE is not set');
	process.exit(2);
}
const KNOWN = process.env.CL_ADVERSARIAL_KNOWN_FAILURES === '1';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cl-adv-diff-'));
const t = suite('adversarial_diff');
const ok = (name) => t.ok(true, name);
const bad = (name, why) => t.ok(false, name, why);

const db = await DuckDBInstance.create(':memory:');
const con = await db.connect();
const q = async (sql) => (await con.runAndReadAll(sql)).getRows();

function run(args, pathEnv, trace) {
	const env = { ...process.env };
	delete env.CL_DIFF_PATH;
	delete env.CL_DIFF_TRACE;
	if (pathEnv) env.CL_DIFF_PATH = pathEnv;
	if (trace) env.CL_DIFF_TRACE = '1';
	return spawnSync(CL, args, { encoding: 'utf8', env, maxBuffer: 1 << 28 });
}

// --json without timings / paths of temporary files
function normJson(s) {
	try {
		const o = JSON.parse(s);
		const strip = (x) => {
			if (Array.isArray(x)) return x.map(strip);
			if (x && typeof x === 'object') {
				const r = {};
				for (const k of Object.keys(x).sort()) {
					if (/time|seconds|elapsed|ms$|_ms|rss|memory|spill|threads|path/i.test(k)) continue;
					r[k] = strip(x[k]);
				}
				return r;
			}
			return x;
		};
		return JSON.stringify(strip(o));
	} catch {
		return `unparsable: ${s.slice(0, 200)}`;
	}
}

// Runs diff on every path and thread count; returns the output text (or
// error text) when all agree, else null.
function samePaths(name, fa, fb, extra, opts = {}) {
	const ext = opts.ext || 'csv';
	let ref = null, refName = '', refJson = null;
	const combos = [['hash', '1', true], ['aligned', '2', true], ['', '1', false]];
	for (const [pathEnv, threads, withJson] of combos) {
		{
			const out = path.join(dir, `out-${pathEnv || 'auto'}-${threads}.${ext}`);
			fs.rmSync(out, { force: true });
			const r = run(['diff', fa, fb, '--threads', threads, '-o', out, '--quiet', ...extra], pathEnv);
			const rj = withJson ? run(['diff', fa, fb, '--threads', threads, '--json', ...extra], pathEnv)
				: { status: r.status, stdout: ref === null ? '{}' : '', stderr: '' };
			const what = `${pathEnv || 'auto'}/${threads}`;
			if (r.status > 2 || r.status === null || /Sanitizer|runtime error/.test(r.stderr + rj.stderr)) {
				bad(name, `${what}: crash, exit ${r.status}/${rj.status}: ${(r.stderr + rj.stderr).slice(0, 600)}`);
				return null;
			}
			let body;
			if (r.status === 2) body = r.stderr.replace(/^changelake: /, '');
			else body = fs.existsSync(out) ? fs.readFileSync(out).toString('latin1') : '<no output>';
			const js = withJson && rj.status !== 2 ? normJson(rj.stdout) : '';
			const got = `exit ${r.status}\n${body}`;
			if (withJson && ref !== null && refJson !== null && js !== refJson) {
				bad(name, `${what} --json differs from ${refName}: ${js.slice(0, 400)} vs ${refJson.slice(0, 400)}`);
				return null;
			}
			if (withJson && refJson === null) refJson = js;
			if (withJson && rj.status !== r.status) {
				bad(name, `${what}: --json exit ${rj.status} vs ${r.status}: ${rj.stderr.slice(0, 300)}`);
				return null;
			}
			if (ref === null) {
				ref = got;
				refName = what;
			} else if (got !== ref) {
				let i = 0;
				while (i < got.length && got[i] === ref[i]) i++;
				bad(name, `${what} differs from ${refName} at byte ${i}: ` +
					`${JSON.stringify(got.slice(Math.max(0, i - 80), i + 200))} vs ` +
					`${JSON.stringify(ref.slice(Math.max(0, i - 80), i + 200))}`);
				return null;
			}
		}
	}
	ok(`${name}: same status, bytes (hash/1, aligned/2, auto/1) and --json (hash/1, aligned/2)`);
	return ref;
}

function tracePath(fa, fb, extra) {
	const r = run(['diff', fa, fb, '-o', path.join(dir, 'trace.csv'), '--quiet', ...extra], '', true);
	return (r.stderr.match(/aligned path: (used|gave up|not tried)[^\n]*/) || ['aligned path: none'])[0];
}

async function writeParquet(sql, file, rg = 100000) {
	await q(`COPY (${sql}) TO '${file}' (FORMAT parquet, ROW_GROUP_SIZE ${rg})`);
}

// DuckDB's full outer join of tables a and b on key k (single column),
// values vals: diff|key|changes in key order (NULL key first).
const nk = (x) => (x === null ? '~' : /^[-+]?nan$/i.test(x) ? 'NaN' : /^-?\d+(\.\d*)?(e[-+]?\d+)?$/i.test(x) ? String(Number(x)) : x);
async function duckExpected(k, vals) {
	const rows = await q(`
		SELECT CASE WHEN a_in IS NULL THEN 'I' WHEN b_in IS NULL THEN 'D' ELSE 'C' END AS diff,
		  coalesce(a_k, b_k)::VARCHAR AS k,
		  CASE WHEN a_in AND b_in THEN concat_ws(',',
		    ${vals.map((c) => `CASE WHEN a_${c} IS DISTINCT FROM b_${c} THEN '${c}' END`).join(', ')}) END AS changes
		FROM (SELECT ${k} AS a_k, true AS a_in, ${vals.map((c) => `${c} AS a_${c}`).join(', ')} FROM a) x
		FULL OUTER JOIN (SELECT ${k} AS b_k, true AS b_in, ${vals.map((c) => `${c} AS b_${c}`).join(', ')} FROM b) y
		ON a_k IS NOT DISTINCT FROM b_k
		WHERE a_in IS NULL OR b_in IS NULL OR ${vals.map((c) => `a_${c} IS DISTINCT FROM b_${c}`).join(' OR ')}
		ORDER BY coalesce(a_k, b_k) NULLS FIRST`);
	return rows.map((r) => `${r[0]}|${nk(r[1])}|${r[2] === null ? '~' : r[2]}`);
}

async function gotRows(file, k) {
	const rows = await q(`SELECT diff, ${k}::VARCHAR, changes FROM read_csv('${file}', header = true,
		all_varchar = true, allow_quoted_nulls = false)`);
	return rows.map((r) => `${r[0]}|${nk(r[1])}|${r[2] === null ? '~' : r[2]}`);
}

// A base table t of n rows (id BIGINT, values of several types) and a
// scrambled order column.
async function base(n, seed = 0.3) {
	await q(`SELECT setseed(${seed})`);
	await q(`CREATE OR REPLACE TABLE t AS SELECT r AS ord, (r * 3 + 1)::BIGINT AS id,
		(r % 97)::INTEGER AS i, CASE WHEN r % 11 = 0 THEN NULL ELSE r / 8.0 END AS d,
		('s' || (r % 1000))::VARCHAR AS s, DATE '2001-01-01' + (r % 5000)::INTEGER AS dt
		FROM range(${n}) t(r)`);
}

const fa = path.join(dir, 'a.parquet'), fb = path.join(dir, 'b.parquet');
const outCsv = path.join(dir, 'check.csv');

async function caseRun(name, sqlA, sqlB, extra, opts = {}) {
	try {
		await writeParquet(sqlA, opts.fa || fa, opts.rgA || 100000);
		await writeParquet(sqlB, opts.fb || fb, opts.rgB || 100000);
		const got = samePaths(name, opts.fa || fa, opts.fb || fb, extra, opts);
		if (got !== null && opts.duck) {
			await q(`CREATE OR REPLACE TABLE a AS ${sqlA}`);
			await q(`CREATE OR REPLACE TABLE b AS ${sqlB}`);
			const [k, vals] = opts.duck;
			const body = got.split('\n').slice(1).join('\n');
			fs.writeFileSync(outCsv, body, 'latin1');
			const e = await duckExpected(k, vals);
			const g = await gotRows(outCsv, k);
			if (e.join('\n') === g.join('\n')) ok(`${name}: ${e.length} rows equal DuckDB's full outer join`);
			else {
				let i = 0;
				while (i < e.length && e[i] === g[i]) i++;
				bad(name, `DuckDB differs at row ${i}: got ${g[i]} expected ${e[i]} (${g.length} vs ${e.length})`);
			}
		}
		if (opts.trace) {
			const line = tracePath(opts.fa || fa, opts.fb || fb, extra);
			if (opts.trace.test(line)) ok(`${name}: ${line}`);
			else bad(name, `trace ${line}, expected ${opts.trace}`);
		}
		return got;
	} catch (e) {
		bad(name, e.stack || e.message);
		return null;
	}
}

const VALS = ['i', 'd', 's', 'dt'];
const key = ['--key', 'id', '--change-column', 'changes'];

// 1. batch / row-group boundaries: counts around powers of two
for (const n of [1, 4097, 65537]) {
	await base(n, 0.1 + n % 7 / 10);
	const A = `SELECT * EXCLUDE ord FROM t WHERE ord % 13 <> 4 ORDER BY ord`;
	const B = `SELECT id, CASE WHEN ord % 17 = 3 THEN i + 1 ELSE i END AS i, d, s,
		CASE WHEN ord % 19 = 2 THEN dt + 1 ELSE dt END AS dt FROM t WHERE ord % 23 <> 9
		UNION ALL SELECT id + 1, 0, NULL, 'new', NULL FROM t WHERE ord % 29 = 0`;
	// B in A's order with inserts next to their neighbours
	await caseRun(`boundaries n=${n}`, A, `SELECT * FROM (${B}) ORDER BY id`, key,
		{ duck: ['id', VALS], rgA: n > 4096 ? 4096 : 1000, rgB: n > 4096 ? 3000 : 777 });
}

// 2. key types: each with NULL keys on both sides, equal prefixes, -0.0/NaN
{
	await base(3000, 0.5);
	const keyTypes = [
		['str', `CASE WHEN ord = 5 THEN NULL ELSE 'prefix-prefix-prefix-' || lpad(ord::VARCHAR, 6, '0') || CASE WHEN ord % 3 = 0 THEN 'é日本' ELSE '' END END`],
		['unicode', `CASE WHEN ord = 7 THEN NULL ELSE chr(19968 + ord::INTEGER) || chr(127744 + (ord % 50)::INTEGER) END`],
		['double', `CASE WHEN ord = 0 THEN -0.0::DOUBLE WHEN ord = 1 THEN 'NaN'::DOUBLE WHEN ord = 2 THEN NULL ELSE ord / 3.0 END`],
		['float', `CASE WHEN ord = 0 THEN -0.0::FLOAT WHEN ord = 1 THEN 'NaN'::FLOAT WHEN ord = 2 THEN NULL ELSE (ord / 4.0)::FLOAT END`],
		['decimal', `CASE WHEN ord = 3 THEN NULL ELSE (ord * 1.01)::DECIMAL(18,3) END`],
		['decimal38', `CASE WHEN ord = 3 THEN NULL ELSE (ord * 100000000000000000.01)::DECIMAL(38,2) END`],
		['ts', `CASE WHEN ord = 9 THEN NULL ELSE make_timestamp(1577836800000000 + ord * 999983) END`],
		['date', `CASE WHEN ord = 9 THEN NULL ELSE DATE '1960-01-01' + ord::INTEGER END`],
		['int32', `CASE WHEN ord = 11 THEN NULL ELSE (ord - 1500)::INTEGER END`],
		['bool', `CASE WHEN ord = 0 THEN true WHEN ord = 1 THEN false ELSE NULL END`],
	];
	for (const [tn, expr] of keyTypes) {
		let A, B;
		if (tn === 'bool') {
			A = `SELECT ${expr} AS k, i, d, s, dt FROM t WHERE ord < 3 ORDER BY ord`;
			B = `SELECT ${expr} AS k, i + (ord = 1)::INTEGER AS i, d, s, dt FROM t WHERE ord < 3 ORDER BY ord DESC`;
		} else {
			A = `SELECT ${expr} AS k, i, d, s, dt FROM t WHERE ord % 10 <> 4 ORDER BY ord`;
			// B: changes, some rows moved, the -0.0 row as +0.0, NaN with
			// another payload via arithmetic
			const exprB = tn === 'double' ? expr.replace('-0.0::DOUBLE', '0.0::DOUBLE').replace(`'NaN'::DOUBLE`, `('Infinity'::DOUBLE - 'Infinity'::DOUBLE)`)
				: tn === 'float' ? expr.replace('-0.0::FLOAT', '0.0::FLOAT') : expr;
			B = `SELECT ${exprB} AS k, CASE WHEN ord % 7 = 1 THEN i + 1 ELSE i END AS i, d, s, dt FROM t
				WHERE ord % 10 <> 6 ORDER BY CASE WHEN ord % 101 = 50 THEN ord + 1500 ELSE ord END`;
		}
		await caseRun(`key type ${tn}`, A, B, ['--key', 'k', '--change-column', 'changes'],
			{ duck: ['k', VALS] });
	}
	// -0.0 / 0.0 / NaN as values: equal per diff.md
	await caseRun('values -0.0/NaN',
		`SELECT id, CASE WHEN ord % 3 = 0 THEN -0.0 WHEN ord % 3 = 1 THEN 'NaN'::DOUBLE ELSE d END AS d FROM t ORDER BY ord`,
		`SELECT id, CASE WHEN ord % 3 = 0 THEN 0.0 WHEN ord % 3 = 1 THEN -('NaN'::DOUBLE) ELSE d END AS d FROM t ORDER BY ord`,
		key, { duck: ['id', ['d']], trace: /used/ });
}

// 3. multi-column keys with NULL parts
{
	await base(5000, 0.7);
	const A = `SELECT CASE WHEN ord % 5 = 0 THEN NULL ELSE (ord % 50)::INTEGER END AS r,
		CASE WHEN ord % 7 = 0 THEN NULL ELSE 'x' || (ord / 50)::BIGINT END AS p, id, i, s FROM t
		WHERE ord % 5 <> 0 OR ord < 50 ORDER BY ord`;
	// r NULL only for ord < 50 where p is unique (ord/50 = 0 → all 'x0'...),
	// make keys unique: (r, p, id)
	const B = `SELECT * FROM (SELECT CASE WHEN ord % 5 = 0 THEN NULL ELSE (ord % 50)::INTEGER END AS r,
		CASE WHEN ord % 7 = 0 THEN NULL ELSE 'x' || (ord / 50)::BIGINT END AS p, id,
		CASE WHEN ord % 9 = 0 THEN NULL ELSE i END AS i, s FROM t WHERE (ord % 5 <> 0 OR ord < 50) AND ord % 31 <> 3)
		ORDER BY CASE WHEN id % 113 = 0 THEN -id ELSE id END`;
	await caseRun('multi-column key with NULL parts', A, B, ['--key', 'r,p,id', '--change-column', 'changes'],
		{ trace: /used|gave up/ });
	await caseRun('multi-column key, key order p,r,id', A, B, ['--key', 'p,r,id', '--change-column', 'changes']);
	// NULL key rows only differing in a NULL part: (NULL, 'x', 1) vs (1, NULL, 1)
	await caseRun('multi-column key NULL vs value',
		`SELECT * FROM (VALUES (NULL, 'a', 1, 10), (1, NULL, 1, 11), (NULL, NULL, 1, 12), (1, 'a', 1, 13)) v(r, p, id, i)`,
		`SELECT * FROM (VALUES (1, NULL, 1, 11), (NULL, 'a', 1, 10), (1, 'a', 1, 14), (NULL, NULL, 1, 12)) v(r, p, id, i)`,
		['--key', 'r,p,id', '--change-column', 'changes']);
}

// 4. duplicates at any distance, with and without --allow-duplicate-keys
{
	await base(20000, 0.9);
	const A0 = `SELECT * EXCLUDE ord FROM t ORDER BY ord`;
	const dups = [
		['adjacent in OLD', `SELECT * EXCLUDE o2 FROM (SELECT *, ord AS o2 FROM t UNION ALL SELECT *, ord + 0.5 FROM t WHERE ord = 100) ORDER BY o2`, A0],
		['far in NEW, first matched', A0, `SELECT * EXCLUDE o2 FROM (SELECT *, ord AS o2 FROM t UNION ALL SELECT *, 19999.5 FROM t WHERE ord = 10) ORDER BY o2`],
		['far in NEW before match', A0, `SELECT * EXCLUDE o2 FROM (SELECT *, ord AS o2 FROM t UNION ALL SELECT *, -1 FROM t WHERE ord = 19000) ORDER BY o2`],
		['in OLD, parked then dup', `SELECT * EXCLUDE o2 FROM (SELECT *, ord AS o2 FROM t UNION ALL SELECT *, 15000.5 FROM t WHERE ord = 15000) ORDER BY o2`,
			`SELECT * EXCLUDE ord FROM t ORDER BY CASE WHEN ord = 15000 THEN -1 ELSE ord END`],
		['same key twice on both sides', `SELECT * EXCLUDE o2 FROM (SELECT *, ord AS o2 FROM t UNION ALL SELECT *, ord + 0.5 FROM t WHERE ord = 500) ORDER BY o2`,
			`SELECT * EXCLUDE o2 FROM (SELECT *, ord AS o2 FROM t UNION ALL SELECT *, ord + 0.5 FROM t WHERE ord = 500) ORDER BY o2`],
		['NULL key twice in OLD', `SELECT * EXCLUDE o2 FROM (SELECT *, ord AS o2 FROM t WHERE ord > 1 UNION ALL SELECT ord, NULL::BIGINT, i, d, s, dt, 0 FROM t WHERE ord = 0 UNION ALL SELECT ord, NULL::BIGINT, i, d, s, dt, 9999 FROM t WHERE ord = 1) ORDER BY o2`,
			`SELECT * EXCLUDE ord FROM t ORDER BY ord`],
		['NULL key once each side', `SELECT CASE WHEN ord = 3 THEN NULL ELSE id END AS id, i, d, s, dt FROM t ORDER BY ord`,
			`SELECT CASE WHEN ord = 7000 THEN NULL ELSE id END AS id, i, d, s, dt FROM t ORDER BY ord`],
	];
	for (const [nm, A, B] of dups) {
		await caseRun(`duplicate: ${nm}`, A, B, key);
		if (/far in NEW before|both sides/.test(nm))
			await caseRun(`duplicate: ${nm} --allow-duplicate-keys`, A, B, [...key, '--allow-duplicate-keys']);
	}
}

// 5. options: keep-unchanged, modes, sparse, ignore, comparators
{
	await base(12000, 0.2);
	const A = `SELECT id, i, d, s, dt, (ord * 1.5)::DECIMAL(10,2) AS dec,
		TIMESTAMP '2020-01-01' + INTERVAL 1 SECOND * ord AS ts, '  ' || s || ' x ' AS ws FROM t ORDER BY ord`;
	const B = `SELECT id, CASE WHEN ord % 13 = 0 THEN i + 1 ELSE i END AS i,
		CASE WHEN ord % 7 = 0 THEN d * (1 + 1e-9) WHEN ord % 7 = 1 THEN d + 1 ELSE d END AS d,
		CASE WHEN ord % 17 = 0 THEN NULL ELSE s END AS s, dt,
		(ord * 1.5 + CASE WHEN ord % 5 = 0 THEN 0.01 ELSE 0 END)::DECIMAL(10,2) AS dec,
		TIMESTAMP '2020-01-01' + INTERVAL 1 SECOND * ord + INTERVAL 1 MILLISECOND * (ord % 3) * 400 AS ts,
		CASE WHEN ord % 4 = 0 THEN s || ' x' ELSE '  ' || s || ' x ' END AS ws
		FROM t WHERE ord % 41 <> 0 ORDER BY CASE WHEN ord % 499 = 0 THEN ord + 6000 ELSE ord END`;
	const optSets = [
		['--keep-unchanged'],
		['--mode', 'side-by-side'], ['--mode', 'left-side'], ['--mode', 'right-side'],
		['--sparse', '--mode', 'side-by-side'],
		['--ignore', 'd,ws'],
		['--epsilon', 'd=0.5,abs'], ['--epsilon', 'dec=0.01,abs,exclusive'],
		['--epsilon', 'type:decimal=0.01,abs'],
		['--ignore-whitespace', 'ws'], ['--time-tolerance', 'ts=500ms'], ['--time-tolerance', 'ts=800ms,exclusive'],
		['--keep-unchanged', '--sparse', '--epsilon', '*=1e-6', '--ignore-whitespace', 'type:string'],
		['--diff-column', 'op', '--insert-value', '+', '--delete-value', '-', '--change-value', '~', '--nochange-value', '=', '--keep-unchanged'],
	];
	for (const o of optSets) {
		const extra = ['--key', 'id', ...o];
		if (!o.includes('--diff-column')) extra.push('--change-column', 'changes');
		await caseRun(`options ${o.join(' ')}`, A, B, extra, { trace: /used/ });
	}
	// Parquet output: same bytes too (types kept)
	await caseRun('options parquet output', A, B, ['--key', 'id', '--keep-unchanged'], { ext: 'parquet' });
	await caseRun('options jsonl output', A, B, ['--key', 'id', '--sparse'], { ext: 'jsonl' });
}

// 6. one-sided columns and widened types
{
	await base(9000, 0.4);
	const A = `SELECT id::INTEGER AS id, i::SMALLINT AS i, d::FLOAT AS d, s, (i * 1.5)::DECIMAL(6,1) AS dec,
		dt, 'gone' || ord AS only_old, make_timestamp(ord * 1000000)::TIMESTAMP_MS AS ts FROM t ORDER BY ord`;
	const B = `SELECT id::BIGINT AS id, CASE WHEN ord % 10 = 0 THEN i + 1 ELSE i END::INTEGER AS i, d::DOUBLE AS d, s,
		(i * 1.5)::DECIMAL(12,2) AS dec, dt, ord % 3 AS only_new, make_timestamp(ord * 1000000) AS ts FROM t
		WHERE ord % 100 <> 5 ORDER BY ord`;
	await caseRun('widened types and one-sided columns', A, B, key, { trace: /used/ });
	await caseRun('widened types --keep-unchanged --mode side-by-side', A, B,
		[...key, '--keep-unchanged', '--mode', 'side-by-side']);
	await caseRun('widened key int32 -> int64 reversed', B.replace('id::BIGINT', 'id::BIGINT').replace('ORDER BY ord', 'ORDER BY ord'), A, key);
}

// 6b. more key / value types
{
	await base(6000, 0.45);
	await caseRun('decimal key, scale widened', `SELECT (id * 1.25)::DECIMAL(10,2) AS k, i, s FROM t ORDER BY ord`,
		`SELECT (id * 1.25)::DECIMAL(18,4) AS k, CASE WHEN ord % 9 = 0 THEN i + 1 ELSE i END AS i, s FROM t WHERE ord % 50 <> 1 ORDER BY ord`,
		['--key', 'k', '--change-column', 'changes']);
	await caseRun('timestamp key ms vs us', `SELECT make_timestamp(ord * 1000 + 1)::TIMESTAMP_MS AS k, i, s FROM t ORDER BY ord`,
		`SELECT make_timestamp(ord * 1000 + 1) AS k, CASE WHEN ord % 9 = 0 THEN i + 1 ELSE i END AS i, s FROM t WHERE ord % 50 <> 1 ORDER BY ord`,
		['--key', 'k', '--change-column', 'changes']);
	await caseRun('uuid / blob / bool / time values', `SELECT id, md5(s)::UUID AS u, s::BLOB AS bl, ord % 2 = 0 AS bo,
		make_time(ord % 24, ord % 60, 0) AS tm, [ord, ord + 1] AS li FROM t ORDER BY ord`,
		`SELECT id, CASE WHEN ord % 11 = 0 THEN md5(s || 'x')::UUID ELSE md5(s)::UUID END AS u,
		CASE WHEN ord % 13 = 0 THEN (s || 'y')::BLOB ELSE s::BLOB END AS bl, CASE WHEN ord % 17 = 0 THEN ord % 2 = 1 ELSE ord % 2 = 0 END AS bo,
		make_time(ord % 24, ord % 60, CASE WHEN ord % 19 = 0 THEN 1 ELSE 0 END) AS tm,
		CASE WHEN ord % 23 = 0 THEN [ord] ELSE [ord, ord + 1] END AS li FROM t ORDER BY ord`,
		['--key', 'id', '--change-column', 'changes']);
	await caseRun('uuid / blob / bool / time values, no list', `SELECT id, md5(s)::UUID AS u, s::BLOB AS bl, ord % 2 = 0 AS bo,
		make_time(ord % 24, ord % 60, 0) AS tm FROM t ORDER BY ord`,
		`SELECT id, CASE WHEN ord % 11 = 0 THEN md5(s || 'x')::UUID ELSE md5(s)::UUID END AS u,
		CASE WHEN ord % 13 = 0 THEN (s || 'y')::BLOB ELSE s::BLOB END AS bl, CASE WHEN ord % 17 = 0 THEN ord % 2 = 1 ELSE ord % 2 = 0 END AS bo,
		make_time(ord % 24, ord % 60, CASE WHEN ord % 19 = 0 THEN 1 ELSE 0 END) AS tm FROM t ORDER BY ord`,
		['--key', 'id', '--change-column', 'changes'], { trace: /used/ });
	await caseRun('uuid key', `SELECT md5(id::VARCHAR)::UUID AS k, i FROM t ORDER BY ord`,
		`SELECT md5(id::VARCHAR)::UUID AS k, i + (ord % 7 = 0)::INTEGER AS i FROM t WHERE ord % 31 <> 0 ORDER BY ord`,
		['--key', 'k', '--change-column', 'changes']);
}

// 6c. layouts and odd keys
{
	await base(5000, 0.35);
	const A = `SELECT * EXCLUDE ord FROM t ORDER BY ord`;
	const B = `SELECT dt, s, d, i, id FROM t WHERE ord % 37 <> 0 ORDER BY CASE WHEN ord % 401 = 0 THEN ord + 2500 ELSE ord END`;
	await caseRun('row groups of 1 row vs one row group, columns reordered', A, B, key,
		{ rgA: 1, rgB: 100000, duck: ['id', VALS], trace: /used/ });
	await caseRun('identical inputs', A, A, key, { trace: /used/ });
	await caseRun('identical inputs --keep-unchanged', A, A, [...key, '--keep-unchanged']);
	await caseRun('key not the first column, two keys reversed', `SELECT s, i, id FROM t ORDER BY ord`,
		`SELECT id, i + (ord % 5 = 0)::INTEGER AS i, s FROM t WHERE ord % 7 <> 0 ORDER BY ord`,
		['--key', 's,id', '--change-column', 'changes']);
	await caseRun('long string keys differing at the end', `SELECT repeat('k', 70000) || lpad(ord::VARCHAR, 5, '0') AS k, i FROM t WHERE ord < 300 ORDER BY ord`,
		`SELECT repeat('k', 70000) || lpad(ord::VARCHAR, 5, '0') AS k, i + (ord % 3 = 0)::INTEGER AS i FROM t WHERE ord < 300 AND ord % 11 <> 0 ORDER BY ord`,
		['--key', 'k', '--change-column', 'changes']);
	await caseRun('blob keys with zero bytes and prefixes', `SELECT CASE WHEN ord % 2 = 0 THEN ('ab' || ord::VARCHAR)::BLOB ELSE ('ab' || ord::VARCHAR || '\\x00')::BLOB END AS k, i FROM t ORDER BY ord`,
		`SELECT CASE WHEN ord % 2 = 0 THEN ('ab' || ord::VARCHAR)::BLOB ELSE ('ab' || ord::VARCHAR || '\\x00')::BLOB END AS k, i + (ord % 3 = 0)::INTEGER AS i FROM t WHERE ord % 13 <> 0 ORDER BY ord DESC`,
		['--key', 'k', '--change-column', 'changes']);
	await caseRun('key missing in NEW', A, `SELECT i, s FROM t ORDER BY ord`, key);
	await caseRun('key type changed (string vs int)', A, `SELECT id::VARCHAR AS id, i, d, s, dt FROM t ORDER BY ord`, key);
}

// 6d. a bad value mid-input (reader error while the aligned walk is under
// way): the same error on every path, no output file left
{
	await q(`CREATE OR REPLACE TABLE e AS SELECT r::BIGINT AS id, (r % 7)::INTEGER AS v, 'x' || r AS s FROM range(40000) t(r)`);
	const ea = path.join(dir, 'ea.parquet'), eb = path.join(dir, 'eb.csv'), ec = path.join(dir, 'ec.parquet');
	await q(`COPY e TO '${ea}' (FORMAT parquet, COMPRESSION uncompressed, ROW_GROUP_SIZE 10000)`);
	await q(`COPY (SELECT id, CASE WHEN id = 25000 THEN 'abc' ELSE v::VARCHAR END AS v, s FROM e) TO '${eb}' (FORMAT csv, HEADER true)`);
	await q(`COPY (SELECT id, v, CASE WHEN id = 35000 THEN 'QQMARKQQ' ELSE s END AS s FROM e) TO '${ec}' (FORMAT parquet, COMPRESSION uncompressed, ROW_GROUP_SIZE 10000)`);
	const buf = fs.readFileSync(ec);
	buf[buf.indexOf('QQMARKQQ') + 2] = 0xff;
	fs.writeFileSync(ec, buf);
	for (const [nm, x, y] of [['NEW CSV bad value at line 25002', ea, eb], ['NEW Parquet invalid UTF-8 late', ea, ec], ['OLD Parquet invalid UTF-8 late', ec, ea]]) {
		const g = samePaths(`reader error: ${nm}`, x, y, key);
		if (g !== null) {
			const leftover = fs.readdirSync(dir).filter((f) => /^out-.*\.csv$/.test(f));
			if (g.startsWith('exit 2') && leftover.length === 0) ok(`reader error: ${nm}: exit 2, no output left`);
			else bad(`reader error: ${nm}`, `${g.slice(0, 200)} leftover ${leftover}`);
		}
	}
}

// 7. empty sides
{
	await base(3000, 0.6);
	const A = `SELECT * EXCLUDE ord FROM t ORDER BY ord`;
	const E = `SELECT * EXCLUDE ord FROM t WHERE false`;
	await caseRun('empty OLD', E, A, key, { duck: ['id', VALS] });
	await caseRun('empty NEW', A, E, key, { duck: ['id', VALS] });
	await caseRun('both empty', E, E, key);
	await caseRun('empty NEW --keep-unchanged', A, E, [...key, '--keep-unchanged']);
}

// 8. moves, a displaced row that never matches, the give-up threshold
{
	const n = 80000;
	await base(n, 0.8);
	const A = `SELECT * EXCLUDE ord FROM t ORDER BY ord`;
	await caseRun('rows moved far both ways',
		A, `SELECT * EXCLUDE ord FROM t ORDER BY CASE WHEN ord % 1000 = 1 THEN ${n} - ord WHEN ord % 1000 = 2 THEN ord + 70000.5 ELSE ord END`,
		key, { duck: ['id', VALS], trace: /used/, rgA: 10000, rgB: 7000 });
	await caseRun('first row moved to the end, last to the start',
		A, `SELECT * EXCLUDE ord FROM t ORDER BY CASE WHEN ord = 0 THEN ${n} WHEN ord = ${n - 1} THEN -1 ELSE ord END`,
		key, { duck: ['id', VALS], trace: /used/ });
	await caseRun('displaced row never matches (delete + insert)',
		A, `SELECT CASE WHEN ord = 10 THEN -5 ELSE id END AS id, i, d, s, dt FROM t ORDER BY CASE WHEN ord = 10 THEN ${n} ELSE ord END`,
		key, { duck: ['id', VALS], trace: /used/ });
	// reversed halves: parked grows past 8192 + walked/8 → gives up
	await caseRun('NEW reversed', A, `SELECT * EXCLUDE ord FROM t ORDER BY ord DESC`, key,
		{ duck: ['id', VALS], trace: /gave up/ });
	// just under / over the threshold: a block of P rows moved to the end.
	// Parked grows to ~P while walked ~2*(moved position)...
	for (const P of [8192, 9000, 9200, 12000]) {
		await caseRun(`block of ${P} rows moved to the end`, A,
			`SELECT * EXCLUDE ord FROM t ORDER BY CASE WHEN ord < ${P} THEN ord + ${n} ELSE ord END`, key,
			{ duck: ['id', VALS], trace: /used|gave up/, rgA: 8192, rgB: 8192 });
	}
	// tiny memory limit: spill on both paths
	await caseRun('tiny --memory-limit', A,
		`SELECT * EXCLUDE ord FROM t WHERE ord % 9 <> 0 ORDER BY CASE WHEN ord % 777 = 0 THEN ord + 30000 ELSE ord END`,
		[...key, '--memory-limit', '64K'], { duck: ['id', VALS] });
	await caseRun('memory limit 2M', A,
		`SELECT * EXCLUDE ord FROM t WHERE ord % 9 <> 0 ORDER BY ord`,
		[...key, '--memory-limit', '2M'], { duck: ['id', VALS] });
}

// 8b. give up after output was spilled: wide rows, changes everywhere in
// the first half (output spills under the small limit), the second half of
// NEW reversed (parked rows pass the budget / threshold late)
{
	const n = 24000;
	await q(`CREATE OR REPLACE TABLE w AS SELECT r AS ord, r::BIGINT AS id, repeat(chr(65 + (r % 26)::INTEGER), 600) || r AS s,
		(r % 1000)::INTEGER AS i FROM range(${n}) t(r)`);
	const A = `SELECT id, s, i FROM w ORDER BY ord`;
	const B = `SELECT id, s || CASE WHEN ord < ${n / 2} THEN '!' ELSE '' END AS s, i + (ord % 3 = 0)::INTEGER AS i FROM w
		ORDER BY CASE WHEN ord < ${n / 2} THEN ord ELSE ${n * 2} - ord END`;
	for (const lim of ['3M', '6M', '12M']) {
		await caseRun(`late give-up after spilled output, --memory-limit ${lim}`, A, B,
			[...key, '--memory-limit', lim], { trace: /used|gave up|not tried/, rgA: 3000, rgB: 2000 });
	}
	await q(`CREATE OR REPLACE TABLE a AS ${A}`);
	await q(`CREATE OR REPLACE TABLE b AS ${B}`);
	await writeParquet(A, fa, 3000);
	await writeParquet(B, fb, 2000);
	const g = samePaths('late give-up, --memory-limit 4M, Parquet output', fa, fb, ['--key', 'id', '--memory-limit', '4M'], { ext: 'parquet' });
	if (g !== null) {
		const rows = await q(`SELECT count(*), count(DISTINCT id) FROM read_parquet('${path.join(dir, 'out-hash-1.parquet')}')`);
		const exp = await q(`SELECT count(*) FROM a JOIN b USING (id) WHERE a.s IS DISTINCT FROM b.s OR a.i IS DISTINCT FROM b.i`);
		if (Number(rows[0][0]) === Number(exp[0][0]) && Number(rows[0][1]) === Number(exp[0][0]))
			ok(`late give-up: ${exp[0][0]} changes, each key once`);
		else bad('late give-up', `${rows[0]} rows/distinct vs ${exp[0][0]} expected`);
	}
}

// 9. OLD as a directory / Hive partitions / CSV / JSONL; NEW as a directory
{
	await base(30000, 0.25);
	const A = `SELECT * EXCLUDE ord FROM t ORDER BY ord`;
	const B = `SELECT id, CASE WHEN ord % 50 = 0 THEN i + 1 ELSE i END AS i, d, s, dt FROM t
		WHERE ord % 61 <> 0 ORDER BY CASE WHEN ord % 3001 = 0 THEN ord + 15000 ELSE ord END`;
	await q(`CREATE OR REPLACE TABLE a AS ${A}`);
	await q(`CREATE OR REPLACE TABLE b AS ${B}`);
	const ad = path.join(dir, 'adir');
	fs.rmSync(ad, { recursive: true, force: true });
	fs.mkdirSync(ad);
	// three files whose path order is the row order; one empty
	await writeParquet(`SELECT * EXCLUDE ord FROM t WHERE ord < 10000 ORDER BY ord`, `${ad}/p0.parquet`, 3000);
	await writeParquet(`SELECT * EXCLUDE ord FROM t WHERE false`, `${ad}/p1.parquet`);
	await writeParquet(`SELECT * EXCLUDE ord FROM t WHERE ord >= 10000 ORDER BY ord`, `${ad}/p2.parquet`, 5000);
	await writeParquet(B, fb, 4000);
	let g = samePaths('OLD a directory of 3 files (one empty)', ad, fb, key);
	if (g !== null) {
		const line = tracePath(ad, fb, key);
		if (/used/.test(line)) ok(`OLD directory: ${line}`);
		else bad('OLD directory', line);
	}
	// directory whose path order is NOT the row order
	fs.renameSync(`${ad}/p0.parquet`, `${ad}/p9.parquet`);
	samePaths('OLD directory, files out of row order', ad, fb, key);
	// OLD directory whose files differ in column order, columns, types
	for (const [nm, s0, s1] of [
		['column order differs per file', 'id, i, d, s, dt', 'dt, s, d, i, id'],
		['a column missing in one file', 'id, i, d, s, dt', 'id, i, s, dt'],
		['a column narrower in one file', 'id, i, d, s, dt', 'id, i::SMALLINT AS i, d::FLOAT AS d, s, dt'],
		['key narrower in one file', 'id, i, d, s, dt', 'id::INTEGER AS id, i, d, s, dt'],
	]) {
		const od = path.join(dir, `odir-${nm.replace(/\W+/g, '_')}`);
		fs.rmSync(od, { recursive: true, force: true });
		fs.mkdirSync(od);
		await writeParquet(`SELECT ${s0} FROM t WHERE ord < 12000 ORDER BY ord`, `${od}/p0.parquet`, 5000);
		await writeParquet(`SELECT ${s1} FROM t WHERE ord >= 12000 ORDER BY ord`, `${od}/p1.parquet`, 5000);
		samePaths(`OLD directory: ${nm}`, od, fb, key);
	}
	// NEW as a directory too
	const bd = path.join(dir, 'bdir');
	fs.rmSync(bd, { recursive: true, force: true });
	fs.mkdirSync(bd);
	await q(`COPY (SELECT * FROM b) TO '${bd}/n0.parquet' (FORMAT parquet)`);
	await q(`COPY (SELECT * FROM a WHERE id % 2 = 0 LIMIT 10) TO '${bd}/n1.parquet' (FORMAT parquet)`);
	samePaths('NEW a directory with a duplicate across files', ad, bd, key);
	// Hive partitions: OLD partitioned by part
	const hd = path.join(dir, 'hive');
	fs.rmSync(hd, { recursive: true, force: true });
	await q(`COPY (SELECT *, (id % 3)::INTEGER AS part FROM a) TO '${hd}' (FORMAT parquet, PARTITION_BY (part))`);
	await writeParquet(`SELECT *, (id % 3)::INTEGER AS part FROM b`, fb);
	samePaths('OLD Hive-partitioned', hd, fb, key);
	// CSV and JSONL on either side
	const ac = path.join(dir, 'a.csv'), bc = path.join(dir, 'b.csv'), aj = path.join(dir, 'a.jsonl');
	await q(`COPY a TO '${ac}' (FORMAT csv, HEADER true)`);
	await q(`COPY b TO '${bc}' (FORMAT csv, HEADER true)`);
	await q(`COPY a TO '${aj}' (FORMAT json)`);
	await writeParquet(A, fa, 7000);
	samePaths('OLD CSV, NEW Parquet', ac, fb, key);
	samePaths('OLD Parquet, NEW CSV', fa, bc, key);
	samePaths('OLD JSONL, NEW CSV', aj, bc, key);
	g = samePaths('OLD Parquet, NEW gzip CSV', fa, bc, key);
	spawnSync('gzip', ['-kf', bc]);
	samePaths('OLD Parquet, NEW CSV.gz', fa, `${bc}.gz`, key);
}

fs.rmSync(dir, { recursive: true, force: true });
t.end();
