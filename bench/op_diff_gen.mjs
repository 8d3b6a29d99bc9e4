// op_diff_gen.mjs — the two snapshots of the diff benchmark, written by
// DuckDB so the input does not depend on changelake's writer.
//
//   node bench/op_diff_gen.mjs ROWS OLD.parquet NEW.parquet
//   node bench/op_diff_gen.mjs --shuffle NEW.parquet SHUFFLED.parquet
//
// OLD has ROWS rows, i in [0, ROWS); NEW is OLD with 1% of the rows deleted
// (i % 100 = 0), 2% changed (i % 100 in 1..2: one or two value columns
// differ, including a value becoming NULL) and 1% inserted (ROWS / 100 new
// keys, appended). Keys are unique: id = i * 2654435761 mod 2^40 (an odd
// multiplier: a bijection), so they look random and are not sorted.
// Columns (8, mixed types; SNAPPY, row groups of 1,048,576 rows):
//   id BIGINT, qty INTEGER, amount DOUBLE (1% NULL), price DECIMAL(12,2),
//   name VARCHAR (8-40 bytes), category VARCHAR (1,000 distinct values),
//   ts TIMESTAMP, active BOOLEAN
// Deterministic: bump DIFF_GEN_VERSION when the SQL changes (the file
// names in op_diff.mjs carry it).
import { createRequire } from 'node:module';
import { renameSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export const DIFF_GEN_VERSION = 1;

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(path.join(root, 'tests/interop/package.json'));
const { DuckDBInstance } = require('@duckdb/node-api');

const q = (s) => `'${String(s).replaceAll("'", "''")}'`;

// The columns of row i (an SQL expression list over i).
function rowSql(i, changed) {
	const text = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit sed do';
	// changed rows: kind 1 changes qty and name, kind 2 amount (to NULL on
	// every 7th) and active
	const c1 = changed ? `(${i} % 100 = 1)` : 'false';
	const c2 = changed ? `(${i} % 100 = 2)` : 'false';
	return `(${i} * 2654435761) % 1099511627776 AS id,
		CASE WHEN ${c1} THEN (hash(${i}, 1) % 100000)::INTEGER + 1 ELSE (hash(${i}, 1) % 100000)::INTEGER END AS qty,
		CASE WHEN ${c2} AND ${i} % 7 = 0 THEN NULL
		     WHEN ${c2} THEN (hash(${i}, 2) % 10000000)::DOUBLE / 100 + 0.5
		     WHEN hash(${i}, 3) % 100 = 0 THEN NULL
		     ELSE (hash(${i}, 2) % 10000000)::DOUBLE / 100 END AS amount,
		((hash(${i}, 4) % 100000000)::DECIMAL(12,2) / 100)::DECIMAL(12,2) AS price,
		CASE WHEN ${c1} THEN concat('renamed ', ${i})
		     ELSE concat(substr(${q(text)}, (1 + hash(${i}, 5) % 30)::BIGINT, (3 + hash(${i}, 6) % 30)::BIGINT), ' ', ${i}) END AS name,
		concat('cat-', hash(${i}, 7) % 1000) AS category,
		TIMESTAMP '2021-01-01' + to_microseconds((${i} * 1000003 + hash(${i}, 8) % 1000000)::BIGINT) AS ts,
		CASE WHEN ${c2} THEN hash(${i}, 9) % 2 = 1 ELSE hash(${i}, 9) % 2 = 0 END AS active`;
}

export function generateSql(rows, oldOut, newOut) {
	const n = Number(rows);
	const ins = Math.max(1, Math.floor(n / 100));
	const copy = (sel, out) => `COPY (${sel}) TO ${q(out)} (FORMAT parquet, COMPRESSION snappy, ROW_GROUP_SIZE 1048576)`;
	return [
		copy(`SELECT ${rowSql('i', false)} FROM range(${n}) t(i) ORDER BY i`, oldOut),
		copy(`SELECT * FROM (SELECT ${rowSql('i', true)} FROM range(${n}) t(i) WHERE i % 100 <> 0 ORDER BY i)
		      UNION ALL SELECT * FROM (SELECT ${rowSql('i', false)} FROM range(${n}, ${n + ins}) t(i) ORDER BY i)`, newOut),
	];
}

// Both files written atomically (temporary names renamed into place).
export async function generateDiff(rows, oldOut, newOut) {
	const tmpOld = `${oldOut}.tmp-${process.pid}`, tmpNew = `${newOut}.tmp-${process.pid}`;
	const db = await DuckDBInstance.create(':memory:');
	const con = await db.connect();
	try {
		await con.run('SET preserve_insertion_order = true');
		const [a, b] = generateSql(rows, tmpOld, tmpNew);
		await con.run(a);
		await con.run(b);
		renameSync(tmpOld, oldOut);
		renameSync(tmpNew, newOut);
	} finally {
		rmSync(tmpOld, { force: true });
		rmSync(tmpNew, { force: true });
		con.closeSync?.();
		db.closeSync?.();
	}
}

// NEW's rows in another order (ORDER BY hash(id)): the unaligned pair of
// the diff_shuffled op. Written atomically like the others.
export async function generateShuffled(newIn, shufOut) {
	const tmp = `${shufOut}.tmp-${process.pid}`;
	const db = await DuckDBInstance.create(':memory:');
	const con = await db.connect();
	try {
		await con.run('SET preserve_insertion_order = true');
		await con.run(`COPY (SELECT * FROM read_parquet(${q(newIn)}) ORDER BY hash(id), id)
			TO ${q(tmp)} (FORMAT parquet, COMPRESSION snappy, ROW_GROUP_SIZE 1048576)`);
		renameSync(tmp, shufOut);
	} finally {
		rmSync(tmp, { force: true });
		con.closeSync?.();
		db.closeSync?.();
	}
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
	if (process.argv[2] === '--shuffle') {
		const [newIn, shufOut] = process.argv.slice(3);
		if (!newIn || !shufOut) {
			console.error('usage: node bench/op_diff_gen.mjs --shuffle NEW.parquet SHUFFLED.parquet');
			process.exit(2);
		}
		await generateShuffled(newIn, shufOut);
	} else {
		const [rows, oldOut, newOut] = process.argv.slice(2);
		if (!rows || !oldOut || !newOut) {
			console.error('usage: node bench/op_diff_gen.mjs ROWS OLD.parquet NEW.parquet');
			process.exit(2);
		}
		await generateDiff(Number(rows), oldOut, newOut);
	}
}
