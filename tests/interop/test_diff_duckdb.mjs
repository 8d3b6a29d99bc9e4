// test_diff_duckdb.mjs — `changelake diff` against DuckDB's full outer join,
// and the round-trip law apply(diff(A, B), A) == B, through Parquet, CSV and
// JSON Lines.
//
// For each size (0 to 20,000 rows) and format, DuckDB generates a snapshot A
// (ints, doubles, decimals, unicode and empty strings, booleans, dates,
// timestamps, NULLs everywhere but the key) and B (A with rows deleted,
// changed — one or several columns, to and from NULL — and inserted, few or
// many), writes both, and computes the expected change set:
//   A FULL OUTER JOIN B ON id, with `IS DISTINCT FROM` per column.
// changelake's change set (diff, id, changes list) must equal it row for
// row, in key order; its values must equal A's and B's; and `changelake
// apply` of it onto A must give exactly B (checked by DuckDB). A run with a
// tiny --memory-limit must give a byte-identical change set.
// Prints "diff_duckdb: N passed, M failed".
import { DuckDBInstance } from '@duckdb/node-api';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { suite } from './lib.mjs';

const CL = process.env.CHANGELAKE;
if (!CL) {
	console.error('CHANGELAKE is not set');
	process.exit(2);
}
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cl-diff-duckdb-'));
const t = suite('diff_duckdb');
const ok = (name) => t.ok(true, name);
const bad = (name, why) => t.ok(false, name, why);

const db = await DuckDBInstance.create(':memory:');
const con = await db.connect();
const q = async (sql) => (await con.runAndReadAll(sql)).getRows();

const VALUES = ['i', 'd', 'dec', 's', 'b', 'dt', 'ts'];

async function makeSnapshots(n, changeRate, seed) {
	await q(`SELECT setseed(${seed})`);
	await q(`CREATE OR REPLACE TABLE a AS
		SELECT (r * 7 + 3)::BIGINT AS id,
		  CASE WHEN random() < 0.1 THEN NULL ELSE (random() * 1000)::INTEGER END AS i,
		  CASE WHEN random() < 0.1 THEN NULL ELSE round(random() * 1e6) / 64 END AS d,
		  CASE WHEN random() < 0.1 THEN NULL ELSE (random() * 100000)::DECIMAL(12,2) END AS dec,
		  CASE WHEN random() < 0.1 THEN NULL
		       WHEN random() < 0.1 THEN ''
		       ELSE ['alpha', 'béta', 'γάμμα', '日本語', 'x,y', 'q"uote', 'emoji 🎉', ' pad ']
		            [1 + (random() * 7)::INTEGER] || (random() * 100)::INTEGER END AS s,
		  CASE WHEN random() < 0.1 THEN NULL ELSE random() < 0.5 END AS b,
		  CASE WHEN random() < 0.1 THEN NULL ELSE DATE '2000-01-01' + (random() * 9000)::INTEGER END AS dt,
		  CASE WHEN random() < 0.1 THEN NULL
		       ELSE TIMESTAMP '2020-01-01 00:00:00' + INTERVAL 1 SECOND * (random() * 1e8)::BIGINT END AS ts
		FROM range(${n}) t(r)`);
	// B: delete, change (each column with some probability), insert
	await q(`CREATE OR REPLACE TABLE b AS
		SELECT id,
		  CASE WHEN c AND random() < 0.5 THEN CASE WHEN random() < 0.2 THEN NULL ELSE (random() * 1000)::INTEGER END ELSE i END AS i,
		  CASE WHEN c AND random() < 0.5 THEN round(random() * 1e6) / 64 ELSE d END AS d,
		  CASE WHEN c AND random() < 0.3 THEN CASE WHEN random() < 0.2 THEN NULL ELSE (random() * 100000)::DECIMAL(12,2) END ELSE dec END AS dec,
		  CASE WHEN c AND random() < 0.5 THEN CASE WHEN random() < 0.2 THEN '' ELSE 'new ' || (random() * 10)::INTEGER END ELSE s END AS s,
		  CASE WHEN c AND random() < 0.3 THEN NOT coalesce(b, false) ELSE b END AS b,
		  CASE WHEN c AND random() < 0.3 THEN dt + 1 ELSE dt END AS dt,
		  CASE WHEN c AND random() < 0.3 THEN ts + INTERVAL 1 MICROSECOND * 1000 ELSE ts END AS ts
		FROM (SELECT *, random() < ${changeRate} AS c FROM a WHERE random() >= ${changeRate / 2})
		UNION ALL
		SELECT (r * 7 + 5)::BIGINT, (random() * 1000)::INTEGER, NULL, 1.25, 'inserted ✓', true,
		       DATE '2024-02-29', TIMESTAMP '2024-02-29 12:34:56.789'
		FROM range(${Math.floor(n * changeRate / 2)}) t(r)`);
}

function writeSql(table, file, fmt) {
	if (fmt === 'parquet') return `COPY ${table} TO '${file}' (FORMAT parquet)`;
	if (fmt === 'csv') return `COPY ${table} TO '${file}' (FORMAT csv, HEADER true)`;
	return `COPY (SELECT * FROM ${table} ORDER BY random()) TO '${file}' (FORMAT json)`;
}

function readSql(file, fmt) {
	if (fmt === 'parquet') return `read_parquet('${file}')`;
	if (fmt === 'csv') return `read_csv('${file}', header = true, all_varchar = true, allow_quoted_nulls = false)`;
	return `read_json('${file}', format = 'newline_delimited')`;
}

const expectedSql = `
	SELECT CASE WHEN a.id IS NULL THEN 'I' WHEN b.id IS NULL THEN 'D' ELSE 'C' END AS diff,
	  coalesce(a.id, b.id) AS id,
	  CASE WHEN a.id IS NULL OR b.id IS NULL THEN NULL ELSE concat_ws(',',
	    ${VALUES.map((c) => `CASE WHEN a.${c} IS DISTINCT FROM b.${c} THEN '${c}' END`).join(', ')})
	  END AS changes
	FROM a FULL OUTER JOIN b ON a.id = b.id
	WHERE a.id IS NULL OR b.id IS NULL OR ${VALUES.map((c) => `a.${c} IS DISTINCT FROM b.${c}`).join(' OR ')}
	ORDER BY id`;

function run(args) {
	const r = spawnSync(CL, args, { encoding: 'utf8' });
	return r;
}

const cases = [
	[0, 0.1], [1, 0.5], [57, 0.3], [3000, 0.02], [3000, 0.9], [20000, 0.05],
];
let seed = 0.11;
for (const fmt of ['parquet', 'csv', 'jsonl']) {
	for (const [n, rate] of cases) {
		seed = (seed * 7.3) % 1;
		// an empty JSON Lines file has no columns to diff
		if (fmt === 'jsonl' && n === 0) continue;
		const name = `${fmt} n=${n} rate=${rate}`;
		const ext = fmt;
		const fa = path.join(dir, `a.${ext}`), fb = path.join(dir, `b.${ext}`);
		const out = path.join(dir, 'changes.csv');
		try {
			await makeSnapshots(n, rate, seed);
			await q(writeSql('a', fa, fmt));
			await q(writeSql('b', fb, fmt));
			const r = run(['diff', fa, fb, '--key', 'id', '--change-column', 'changes', '-o', out, '--quiet']);
			const expected = await q(expectedSql);
			if (r.status !== (expected.length ? 1 : 0)) {
				bad(name, `exit ${r.status}: ${r.stderr}`);
				continue;
			}
			// 1. the change set's rows, in key order, equal the join's
			const got = await q(`SELECT diff, id::BIGINT, changes FROM read_csv('${out}', header = true,
				all_varchar = true, allow_quoted_nulls = false)`);
			const norm = (rows) => rows.map((x) => `${x[0]}|${x[1]}|${x[2] === null ? '~' : x[2]}`).join('\n');
			if (norm(got) !== norm(expected)) {
				const g = norm(got).split('\n'), e = norm(expected).split('\n');
				let i = 0;
				while (i < g.length && g[i] === e[i]) i++;
				bad(name, `change set differs at row ${i}: got ${g[i]} expected ${e[i]} (${g.length} vs ${e.length} rows)`);
				continue;
			}
			ok(`${name}: ${expected.length} changes equal DuckDB's full outer join`);
			// 2. values: left_X from A, right_X from B (checked through Parquet output)
			const outp = path.join(dir, 'changes.parquet');
			run(['diff', fa, fb, '--key', 'id', '-o', outp, '--quiet']);
			const cols = VALUES.map((c) => `left_${c} IS NOT DISTINCT FROM a.${c} AND right_${c} IS NOT DISTINCT FROM b.${c}`);
			const mism = await q(`SELECT count(*) FROM read_parquet('${outp}') x
				LEFT JOIN a ON a.id = x.id AND x.diff <> 'I' LEFT JOIN b ON b.id = x.id AND x.diff <> 'D'
				WHERE NOT (${cols.map((c) => `(${c.replaceAll('a.', 'a.').replaceAll('b.', 'b.')})`).join(' AND ')})`);
			if (Number(mism[0][0]) !== 0) bad(name, `${mism[0][0]} rows with values not from A and B`);
			else ok(`${name}: left/right values are A's and B's`);
			// 3. spill: same bytes with a tiny memory limit
			const outs = path.join(dir, 'changes_spill.csv');
			const rs = run(['diff', fa, fb, '--key', 'id', '--change-column', 'changes', '-o', outs,
				'--memory-limit', '16K', '--quiet']);
			if (rs.status > 1 || !fs.readFileSync(out).equals(fs.readFileSync(outs)))
				bad(name, `spilled diff differs: ${rs.stderr}`);
			else ok(`${name}: spilled run is byte-identical`);
			// 4. round trip: apply(diff(A, B), A) == B
			const applied = path.join(dir, 'applied.parquet');
			const ra = run(['apply', out, '--to', fa, '--key', 'id', '--change-column', 'changes', '-o', applied, '--quiet']);
			if (ra.status !== 0) {
				bad(name, `apply failed: ${ra.stderr}`);
				continue;
			}
			const cmp = VALUES.concat(['id']).map((c) => `x.${c} IS NOT DISTINCT FROM b.${c}`).join(' AND ');
			const diffRows = await q(`SELECT
				(SELECT count(*) FROM read_parquet('${applied}')),
				(SELECT count(*) FROM b),
				(SELECT count(*) FROM read_parquet('${applied}') x JOIN b ON x.id = b.id WHERE ${cmp})`);
			const [na, nb, nsame] = diffRows[0].map(Number);
			if (na === nb && nsame === nb) ok(`${name}: apply(diff(A, B), A) == B`);
			else bad(name, `round trip: ${na} rows applied, ${nb} in B, ${nsame} equal`);
		} catch (e) {
			bad(name, e.message);
		}
	}
}

// ---- the aligned path (OLD and NEW in nearly the same row order) ----------
// Larger Parquet pairs, several row groups (of different sizes on the two
// sides), so the streaming path of diff_aligned.c walks several chunks:
//   aligned   B in A's order with deletes, changes, inserts scattered
//             through it and some rows moved far ahead or back
//   shuffled  B in a hashed order (the path must give up)
//   dir       A split into two files of a directory
// Every case runs with CL_DIFF_PATH=hash, =aligned and unset, at 1 and 2
// threads, plain and with --keep-unchanged: every output byte-identical,
// and the change set equal to DuckDB's full outer join. Duplicate keys
// (in A, in B, in both; far apart) must fail with the same message on
// every path.
const AN = 150000;
async function alignedPair(kind, seed) {
	await makeSnapshots(AN, 0.04, seed);
	// the row order of B: A's rows keep theirs (ord = r), some move, the
	// inserts land in between
	await q(`CREATE OR REPLACE TABLE a AS SELECT row_number() OVER () - 1 AS ord, * FROM a`);
	await q(`CREATE OR REPLACE TABLE b AS SELECT
		CASE WHEN a.ord IS NULL THEN (hash(b.id) % ${AN})::DOUBLE + 0.5
		     WHEN a.ord % 997 = 5 THEN a.ord + 40000.25
		     WHEN a.ord % 991 = 7 THEN a.ord - 30000.25
		     ELSE a.ord::DOUBLE END AS ord, b.*
		FROM b LEFT JOIN a USING (id)`);
	if (kind === 'shuffled')
		await q(`UPDATE b SET ord = hash(id * 31 + 7) % 1000003`);
}

function runEnv(args, pathEnv) {
	const env = { ...process.env };
	if (pathEnv) env.CL_DIFF_PATH = pathEnv;
	else delete env.CL_DIFF_PATH;
	return spawnSync(CL, args, { encoding: 'utf8', env });
}

// Every path and thread count: the same bytes (or the same error).
function samePaths(name, fa, fb, extra, expectStatus) {
	let ref = null, refName = '';
	for (const pathEnv of ['hash', 'aligned', '']) {
		for (const threads of ['1', '2']) {
			const out = path.join(dir, `al-${pathEnv || 'auto'}-${threads}.csv`);
			fs.rmSync(out, { force: true });
			const r = runEnv(['diff', fa, fb, '--key', 'id', '--threads', threads, '-o', out,
				'--quiet', ...extra], pathEnv);
			const what = `${pathEnv || 'auto'}/${threads}`;
			if (r.status !== expectStatus) {
				bad(name, `${what}: exit ${r.status}: ${r.stderr}`);
				return null;
			}
			const got = expectStatus === 2 ? r.stderr : fs.readFileSync(out, 'utf8');
			if (ref === null) {
				ref = got;
				refName = what;
			} else if (got !== ref) {
				bad(name, `${what} differs from ${refName}: ${got.slice(0, 300)} vs ${ref.slice(0, 300)}`);
				return null;
			}
		}
	}
	ok(`${name}: byte-identical on the hash and aligned paths at 1 and 2 threads`);
	return ref;
}

// Which path ran (CL_DIFF_TRACE=1 tells on standard error).
function checkPath(name, fa, fb, pathEnv, want) {
	const env = { ...process.env, CL_DIFF_TRACE: '1' };
	if (pathEnv) env.CL_DIFF_PATH = pathEnv;
	else delete env.CL_DIFF_PATH;
	const r = spawnSync(CL, ['diff', fa, fb, '--key', 'id', '-o', path.join(dir, 'al-trace.csv'), '--quiet'],
		{ encoding: 'utf8', env });
	const line = (r.stderr.match(/aligned path: (used|gave up|not tried)[^\n]*/) || ['none'])[0];
	if (want.test(line)) ok(`${name}: ${pathEnv || 'auto'} path: ${line}`);
	else bad(name, `${pathEnv || 'auto'} path: expected ${want}, got ${line}`);
}

for (const kind of ['aligned', 'shuffled', 'dir']) {
	seed = (seed * 7.3) % 1;
	const name = `aligned path: ${kind} n=${AN}`;
	try {
		await alignedPair(kind === 'shuffled' ? 'shuffled' : 'aligned', seed);
		let fa = path.join(dir, 'al-a.parquet');
		const fb = path.join(dir, 'al-b.parquet');
		if (kind === 'dir') {
			fa = path.join(dir, 'al-a-dir');
			fs.rmSync(fa, { recursive: true, force: true });
			fs.mkdirSync(fa);
			await q(`COPY (SELECT * EXCLUDE ord FROM a WHERE ord < ${AN / 3} ORDER BY ord) TO '${fa}/part-0.parquet' (FORMAT parquet, ROW_GROUP_SIZE 40000)`);
			await q(`COPY (SELECT * EXCLUDE ord FROM a WHERE ord >= ${AN / 3} ORDER BY ord) TO '${fa}/part-1.parquet' (FORMAT parquet, ROW_GROUP_SIZE 40000)`);
		} else {
			await q(`COPY (SELECT * EXCLUDE ord FROM a ORDER BY ord) TO '${fa}' (FORMAT parquet, ROW_GROUP_SIZE 50000)`);
		}
		await q(`COPY (SELECT * EXCLUDE ord FROM b ORDER BY ord) TO '${fb}' (FORMAT parquet, ROW_GROUP_SIZE 30000)`);
		const expected = await q(expectedSql);
		const got = samePaths(`${name}`, fa, fb, ['--change-column', 'changes'], 1);
		if (got !== null) {
			const out = path.join(dir, 'al-check.csv');
			fs.writeFileSync(out, got);
			const rows = await q(`SELECT diff, id::BIGINT, changes FROM read_csv('${out}', header = true,
				all_varchar = true, allow_quoted_nulls = false)`);
			const norm = (rs) => rs.map((x) => `${x[0]}|${x[1]}|${x[2] === null ? '~' : x[2]}`).join('\n');
			if (norm(rows) === norm(expected))
				ok(`${name}: ${expected.length} changes equal DuckDB's full outer join`);
			else
				bad(name, `change set differs from DuckDB's (${rows.length} vs ${expected.length} rows)`);
		}
		samePaths(`${name} --keep-unchanged`, fa, fb, ['--keep-unchanged'], 1);
		checkPath(name, fa, fb, '', kind === 'shuffled' ? /gave up: not aligned/ : /aligned path: used/);
		checkPath(name, fa, fb, 'aligned', /aligned path: used/);
		if (kind !== 'aligned')
			continue;
		// duplicate keys: far apart in A, in B, and in both (every row of
		// the key pairs up on the aligned walk: only the hash check sees it)
		const dupCases = [
			['A', `(SELECT * FROM a UNION ALL SELECT ord + 0.5, * EXCLUDE ord FROM a WHERE ord = 100000)`, 'b'],
			['B', 'a', `(SELECT * FROM b UNION ALL SELECT ord - 90000.5, * EXCLUDE ord FROM b WHERE id = (SELECT min(id) FROM b WHERE ord > 120000))`],
			['both', `(SELECT * FROM a UNION ALL SELECT ord + 0.5, * EXCLUDE ord FROM a WHERE ord = 7000)`,
				`(SELECT * FROM b UNION ALL SELECT ord + 0.5, * EXCLUDE ord FROM b WHERE id = (SELECT id FROM a WHERE ord = 7000))`],
		];
		for (const [which, ta, tb] of dupCases) {
			await q(`COPY (SELECT * EXCLUDE ord FROM ${ta} ORDER BY ord) TO '${fa}' (FORMAT parquet, ROW_GROUP_SIZE 50000)`);
			await q(`COPY (SELECT * EXCLUDE ord FROM ${tb} ORDER BY ord) TO '${fb}' (FORMAT parquet, ROW_GROUP_SIZE 30000)`);
			const msg = samePaths(`${name} duplicate key in ${which}`, fa, fb, [], 2);
			checkPath(`${name} duplicate key in ${which}`, fa, fb, '', /gave up: (equal key hashes|a key parked twice)/);
			if (msg !== null && !/duplicate key \(id=\d+\) in .* row \d+ and .* row \d+/.test(msg))
				bad(`${name} duplicate key in ${which}`, `message: ${msg}`);
		}
	} catch (e) {
		bad(name, e.message);
	}
}

fs.rmSync(dir, { recursive: true, force: true });
t.end();
