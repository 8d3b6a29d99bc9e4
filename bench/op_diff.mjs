// op_diff.mjs — the diff benchmark (issue 4): `changelake diff` of two
// Parquet snapshots against the same diff as a DuckDB FULL OUTER JOIN
// writing the same rows (I/C/D, key, left_/right_ per value column, sorted
// by key) to Parquet.
//
// Inputs (bench/op_diff_gen.mjs, written by DuckDB, cached next to the
// main input): OLD of BENCH_ROWS rows and NEW with 1% deleted, 2% changed,
// 1% inserted; 8 columns (BIGINT key, INTEGER, DOUBLE, DECIMAL(12,2), two
// VARCHAR, TIMESTAMP, BOOLEAN).
//
// Operations:
//   diff       in memory (default memory limit), every thread count; OLD
//              and NEW in the same row order (as the same export job
//              writes them): changelake's aligned path
//   diff_shuffled  the same with NEW's rows in a hashed order (generated
//              once from NEW): the snapshots are not aligned, changelake
//              gives up the aligned path early and runs the hash join
//   diff100m   opt-in (BENCH_DIFF_100M=1): 100M rows, --memory-limit 2GiB
//              for changelake (it partitions to disk), memory_limit 2GB
//              for DuckDB
//
// changelake exits 1 when the snapshots differ (diff(1)); a small shell
// wrapper maps 0 and 1 to success so clbench times the real command.
// verify: DuckDB reads both outputs: same row count, no row in one and
// not the other (EXCEPT ALL both ways), changelake's rows in key order.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { DIFF_GEN_VERSION } from './op_diff_gen.mjs';
import { sqlString } from './gen.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const VALUES = ['qty', 'amount', 'price', 'name', 'category', 'ts', 'active'];

// OLD and NEW for `rows` rows, generated once (synchronously: the harness
// asks for argv synchronously).
function inputs(ctx, rows) {
	const dir = path.dirname(ctx.input);
	const old = path.join(dir, `diff-v${DIFF_GEN_VERSION}-r${rows}-old.parquet`);
	const neu = path.join(dir, `diff-v${DIFF_GEN_VERSION}-r${rows}-new.parquet`);
	if (!existsSync(old) || !existsSync(neu)) {
		console.error(`bench: generating the diff snapshots (${rows} rows) with DuckDB ...`);
		const p = spawnSync(process.execPath, [path.join(here, 'op_diff_gen.mjs'), String(rows), old, neu],
			{ stdio: ['ignore', 'inherit', 'inherit'] });
		if (p.status !== 0)
			throw new Error('bench: op_diff_gen.mjs failed');
	}
	return { old, neu };
}

// The same pair with NEW's rows in a hashed order (generated once).
function shuffledInputs(ctx, rows) {
	const { old, neu } = inputs(ctx, rows);
	const shuf = neu.replace(/-new\.parquet$/, '-new-shuffled.parquet');
	if (!existsSync(shuf)) {
		console.error(`bench: shuffling the diff snapshot (${rows} rows) with DuckDB ...`);
		const p = spawnSync(process.execPath, [path.join(here, 'op_diff_gen.mjs'), '--shuffle', neu, shuf],
			{ stdio: ['ignore', 'inherit', 'inherit'] });
		if (p.status !== 0)
			throw new Error('bench: op_diff_gen.mjs --shuffle failed');
	}
	return { old, neu: shuf };
}

function clArgv(ctx, rows, extra, shuffled = false) {
	const { old, neu } = shuffled ? shuffledInputs(ctx, rows) : inputs(ctx, rows);
	return [ctx.clbench, 'exec', '--', '/bin/sh', '-c', '"$@"; [ $? -le 1 ]', 'sh',
		ctx.changelake, 'diff', old, neu, '--key', 'id', '--threads', String(ctx.threads),
		'-q', '-o', ctx.out('changelake'), ...extra];
}

function duckSql(ctx, rows, shuffled = false) {
	const { old, neu } = shuffled ? shuffledInputs(ctx, rows) : inputs(ctx, rows);
	const sel = VALUES.map((c) => `o.${c} AS left_${c}, n.${c} AS right_${c}`).join(', ');
	const changed = VALUES.map((c) => `o.${c} IS DISTINCT FROM n.${c}`).join(' OR ');
	return `COPY (SELECT CASE WHEN o.id IS NULL THEN 'I' WHEN n.id IS NULL THEN 'D' ELSE 'C' END AS diff,
		coalesce(o.id, n.id) AS id, ${sel}
	FROM read_parquet(${sqlString(old)}) o FULL OUTER JOIN read_parquet(${sqlString(neu)}) n ON o.id = n.id
	WHERE o.id IS NULL OR n.id IS NULL OR ${changed}
	ORDER BY 2) TO ${sqlString(ctx.out('duckdb'))} (FORMAT parquet, COMPRESSION snappy)`;
}

async function verifyDiff(ctx, con) {
	const cl = sqlString(ctx.out('changelake')), duck = sqlString(ctx.out('duckdb'));
	const one = async (sql) => (await con.runAndReadAll(sql)).getRowsJson()[0];
	const [clRows] = await one(`SELECT count(*) FROM read_parquet(${cl})`);
	const [duckRows] = await one(`SELECT count(*) FROM read_parquet(${duck})`);
	const [onlyCl] = await one(`SELECT count(*) FROM (SELECT * FROM read_parquet(${cl}) EXCEPT ALL SELECT * FROM read_parquet(${duck}))`);
	const [onlyDuck] = await one(`SELECT count(*) FROM (SELECT * FROM read_parquet(${duck}) EXCEPT ALL SELECT * FROM read_parquet(${cl}))`);
	const [unsorted] = await one(`SELECT count(*) FROM (SELECT id, lag(id) OVER (ORDER BY file_row_number) AS prev
		FROM read_parquet(${cl}, file_row_number = true)) WHERE prev >= id`);
	const [i, c, d] = await one(`SELECT count(*) FILTER (diff = 'I'), count(*) FILTER (diff = 'C'),
		count(*) FILTER (diff = 'D') FROM read_parquet(${cl})`);
	const problems = [];
	if (String(clRows) !== String(duckRows))
		problems.push(`rows: changelake ${clRows}, DuckDB ${duckRows}`);
	if (String(onlyCl) !== '0' || String(onlyDuck) !== '0')
		problems.push(`rows only in changelake's output: ${onlyCl}, only in DuckDB's: ${onlyDuck}`);
	if (String(unsorted) !== '0')
		problems.push(`changelake's output is not sorted by key (${unsorted} rows out of order)`);
	return {
		ok: problems.length === 0,
		detail: `DuckDB reads both outputs: ${clRows} rows (${i} I, ${c} C, ${d} D), `
			+ `${problems.length ? 'DIFFERENT' : 'the same rows'}, changelake's sorted by key`,
		problems,
	};
}

const rowsOf = () => Number(process.env.BENCH_ROWS ?? 10_000_000);

export const diffOps = [
	{
		name: 'diff',
		what: 'diff two snapshots by key (8 mixed columns; 1% inserted, 1% deleted, 2% changed) into a Parquet change set',
		changelake: (ctx) => clArgv(ctx, rowsOf(), []),
		duckdb: (ctx) => ({ setup: [], timed: duckSql(ctx, rowsOf()) }),
		verify: verifyDiff,
	},
	{
		name: 'diff_shuffled',
		what: 'the same diff with NEW\'s rows in another order (ORDER BY hash(id)): snapshots not aligned',
		changelake: (ctx) => clArgv(ctx, rowsOf(), [], true),
		duckdb: (ctx) => ({ setup: [], timed: duckSql(ctx, rowsOf(), true) }),
		verify: verifyDiff,
	},
];

if (process.env.BENCH_DIFF_100M === '1') {
	diffOps.push({
		name: 'diff100m',
		what: 'the same diff of 100M-row snapshots with a 2 GiB memory limit (changelake partitions to disk)',
		changelake: (ctx) => clArgv(ctx, 100_000_000, ['--memory-limit', '2GiB']),
		duckdb: (ctx) => ({ setup: [`SET memory_limit = '2GB'`], timed: duckSql(ctx, 100_000_000) }),
		verify: verifyDiff,
	});
}
