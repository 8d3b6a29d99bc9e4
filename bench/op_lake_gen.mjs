// op_lake_gen.mjs — the inputs of the lake-table and merge benchmarks
// (op_lake.mjs), written by DuckDB so they do not depend on changelake's
// own writer.
//
//   node bench/op_lake_gen.mjs ROWS DIR
//
// DIR (created; written under a temporary name, renamed into place when
// complete, so an interrupted run never leaves a half cache) gets:
//   load/LOAD00000001.parquet   the DMS full load: ROWS rows, no Op column
//   upsert.parquet              ROWS/100 rows: every key with i % 100 = 42,
//                               qty, amount and note changed (table columns)
//   cdc/2024MMDD-HHMMSSfff.parquet   100 DMS CDC files (Op first, then the
//                               table columns) of ROWS/10 changes in all
//                               (at least 100): 60% U of random existing
//                               keys (repeats and updates of deleted keys
//                               happen; every 50th sets amount to NULL),
//                               20% I of new keys, 20% D of random existing
//                               keys. File names sort in commit order.
//   cdc1m/, cdc10k/             DMS folders of one table for the merges:
//                               LOAD00000001.parquet plus all 100 CDC files,
//                               or plus only the first one (ROWS/1000
//                               changes) — hard links to the files above
//
// Row i (0 <= i) has the unique key id = i * 2654435761 mod 2^40 (an odd
// multiplier: a bijection, so keys look random and never collide); new keys
// of I changes are rows ROWS + j. Columns (SNAPPY, row groups of 1,048,576
// rows): id BIGINT, qty INTEGER, amount DOUBLE (1% NULL), category VARCHAR
// (5,000 distinct: dictionary), note VARCHAR (5-30 bytes, mostly unique),
// ts TIMESTAMP.
// Deterministic: bump LAKE_GEN_VERSION whenever the SQL changes (the cache
// folder name in op_lake.mjs carries it).
import { createRequire } from 'node:module';
import { existsSync, linkSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export const LAKE_GEN_VERSION = 1;
export const CDC_FILES = 100;
export const COLUMNS = ['id', 'qty', 'amount', 'category', 'note', 'ts'];

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(path.join(root, 'tests/interop/package.json'));
const { DuckDBInstance } = require('@duckdb/node-api');

const q = (s) => `'${String(s).replaceAll("'", "''")}'`;
const TEXT = 'The quick brown fox jumps over the lazy dog, then naps in the sun';
const KEY = (i) => `((${i}) * 2654435761) % 1099511627776`;

// The table columns of base row i (an SQL expression over i).
function baseRow(i) {
	return `${KEY(i)} AS id,
		(hash(${i}, 1) % 100000)::INTEGER AS qty,
		CASE WHEN hash(${i}, 2) % 100 = 0 THEN NULL ELSE (hash(${i}, 3) % 10000000)::DOUBLE / 100 END AS amount,
		concat(substr(${q(TEXT)}, (1 + hash(${i}, 4) % 5000 % 37)::BIGINT, (3 + hash(${i}, 4) % 5000 // 37 % 23)::BIGINT), '#', hash(${i}, 4) % 5000) AS category,
		CASE WHEN hash(${i}, 5) % 100 < 30 THEN concat('note ', hash(${i}, 6) % 1000)
		     ELSE substr(md5((${i})::VARCHAR), 1, (5 + hash(${i}, 7) % 26)::BIGINT) END AS note,
		TIMESTAMP '2020-01-01' + to_microseconds(((${i}) * 3000000 + hash(${i}, 8) % 3000000)::BIGINT) AS ts`;
}

// DMS CDC file name of file f (0-based): one file a minute from 10:00.
export function cdcName(f) {
	const hh = String(10 + Math.floor(f / 60)).padStart(2, '0');
	const mm = String(f % 60).padStart(2, '0');
	return `20240101-${hh}${mm}00000.parquet`;
}

export function changeCount(rows) {
	return Math.max(CDC_FILES, Math.floor(Number(rows) / 10));
}

// Statements writing everything into dir (which exists).
function statements(rows, dir) {
	const n = Number(rows);
	const m = changeCount(n);
	const per = Math.ceil(m / CDC_FILES);
	const opts = '(FORMAT parquet, COMPRESSION snappy, ROW_GROUP_SIZE 1048576)';
	const s = [];
	s.push(`COPY (SELECT ${baseRow('i')} FROM range(${n}) t(i) ORDER BY i) TO ${q(path.join(dir, 'load', 'LOAD00000001.parquet'))} ${opts}`);
	s.push(`COPY (SELECT id, qty + 1 AS qty, CASE WHEN amount IS NULL THEN 1.5 ELSE amount + 0.25 END AS amount,
			category, concat('upserted ', i) AS note, ts
		FROM (SELECT i, ${baseRow('i')} FROM range(${n}) t(i) WHERE i % 100 = 42) ORDER BY i)
		TO ${q(path.join(dir, 'upsert.parquet'))} ${opts}`);
	// every change j: its file, kind and source row
	s.push(`CREATE TABLE ch AS SELECT j, j // ${per} AS f,
			CASE WHEN j % 10 < 6 THEN 'U' WHEN j % 10 < 8 THEN 'I' ELSE 'D' END AS op,
			(CASE WHEN j % 10 < 6 THEN hash(j, 11) % ${n} WHEN j % 10 < 8 THEN ${n} + j
			      ELSE hash(j, 13) % ${n} END)::BIGINT AS i
		FROM range(${m}) t(j)`);
	s.push(`CREATE TABLE changes AS SELECT j, f, op AS Op, id,
			CASE WHEN op = 'U' THEN (hash(j, 12) % 100000)::INTEGER ELSE qty END AS qty,
			CASE WHEN op = 'U' AND j % 50 = 0 THEN NULL WHEN op = 'U' THEN (hash(j, 14) % 10000000)::DOUBLE / 100 ELSE amount END AS amount,
			category,
			CASE WHEN op = 'U' THEN concat('changed ', j) ELSE note END AS note,
			ts
		FROM (SELECT j, f, op, ${baseRow('i')} FROM ch)`);
	for (let f = 0; f < CDC_FILES; f++)
		s.push(`COPY (SELECT Op, ${COLUMNS.join(', ')} FROM changes WHERE f = ${f} ORDER BY j)
			TO ${q(path.join(dir, 'cdc', cdcName(f)))} ${opts}`);
	return s;
}

// Generate into a temporary folder next to dir, link the merge folders,
// then rename it into place.
export async function generateLake(rows, dir) {
	const tmp = `${dir}.tmp-${process.pid}`;
	rmSync(tmp, { recursive: true, force: true });
	for (const d of ['load', 'cdc', 'cdc1m', 'cdc10k'])
		mkdirSync(path.join(tmp, d), { recursive: true });
	const db = await DuckDBInstance.create(':memory:');
	const con = await db.connect();
	try {
		await con.run('SET preserve_insertion_order = true');
		for (const sql of statements(rows, tmp))
			await con.run(sql);
		const load = path.join(tmp, 'load', 'LOAD00000001.parquet');
		linkSync(load, path.join(tmp, 'cdc1m', 'LOAD00000001.parquet'));
		linkSync(load, path.join(tmp, 'cdc10k', 'LOAD00000001.parquet'));
		for (const f of readdirSync(path.join(tmp, 'cdc')))
			linkSync(path.join(tmp, 'cdc', f), path.join(tmp, 'cdc1m', f));
		linkSync(path.join(tmp, 'cdc', cdcName(0)), path.join(tmp, 'cdc10k', cdcName(0)));
		if (existsSync(dir))
			rmSync(dir, { recursive: true, force: true });
		renameSync(tmp, dir);
	} finally {
		rmSync(tmp, { recursive: true, force: true });
		con.closeSync?.();
		db.closeSync?.();
	}
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
	const [rows, dir] = process.argv.slice(2);
	if (!rows || !dir) {
		console.error('usage: node bench/op_lake_gen.mjs ROWS DIR');
		process.exit(2);
	}
	await generateLake(Number(rows), path.resolve(dir));
}
