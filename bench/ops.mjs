// ops.mjs — the table of benchmarked operations. Adding an operation is
// adding one entry here; bench.mjs does the rest (runs, alternation,
// medians, ratios, memory, the table and results.json / results.md).
//
// Each entry:
//   name        short name shown in the table
//   what        one line for the README
//   changelake  (ctx) => argv of the measured changelake process. Use
//               [ctx.clbench, 'read'|'write', ...] for library-level work, or
//               [ctx.clbench, 'exec', '--', ctx.changelake, 'diff', ...] to
//               time a CLI command (wall time, CPU and peak RSS of the child).
//   duckdb      (ctx) => { setup: [SQL, ...] (untimed), timed: SQL }
//   check       optional (ctx, clRun, duckRun) => [problems]: compares what
//               the two engines computed (called on every pair of runs)
//   verify      optional async (ctx, con) => { ok, detail }: an untimed check
//               after the runs, given a DuckDB connection (e.g. "the file
//               changelake wrote reads back equal to the input")
//   setup       optional async (ctx, con): untimed, once per thread count
//               before the runs (e.g. derive an input with DuckDB)
//   prepare     optional (ctx, engine): untimed, synchronous, before every
//               measured run of engine ('changelake' | 'duckdb'), e.g. put
//               a fresh copy of a table in place
//   afterRun    optional async (ctx, con, {cl, duck}) => { problems, cl, duck }:
//               untimed, after every pair of successful runs: problems
//               found, and per-engine figures (numbers) kept as run.lake,
//               summarised as medians; ops with `lake: true` fill the
//               fields of the lake table (op_lake.mjs)
//   cleanup     optional (ctx): after the runs unless BENCH_KEEP=1
//   scaleOf     optional name of a smaller op: report the time ratio of the
//               two against their change ratio
//
// ctx: { input, threads, clbench, changelake, out(engine), buildDir, rows,
//        dataDir, scratch, op }
//   input     the generated Parquet file (see gen.mjs for its columns)
//   out(e)    a scratch output path for engine e ('changelake' | 'duckdb')
//   rows      BENCH_ROWS; dataDir the input cache; scratch its out/ folder
import { statSync } from 'node:fs';
import { sqlString } from './gen.mjs';
import { diffOps } from './op_diff.mjs';
import { lakeOps } from './op_lake.mjs';

// Everything the changelake read folds, as DuckDB computes it. Both engines
// decode every value of every column; the aggregates are cheap.
function readSql(input) {
	return `SELECT count(*) AS rows, sum(id) AS id, sum(amount) AS amount,
		sum(strlen(category)) AS category, sum(strlen(note)) AS note,
		epoch_us(max(ts)) AS ts
	FROM read_parquet(${sqlString(input)})`;
}

function relClose(a, b) {
	const x = Number(a), y = Number(b);
	return Math.abs(x - y) <= 1e-9 * Math.max(1, Math.abs(x), Math.abs(y));
}

// clbench read's checksum against the row readSql returns.
function checkRead(ctx, cl, duck) {
	const problems = [];
	const row = Object.fromEntries(duck.columns.map((c, i) => [c, duck.rows[0][i]]));
	const cols = Object.fromEntries((cl.checksum?.columns ?? []).map((c) => [c.name, c]));
	const want = (label, got, exp) => {
		if (got === undefined || exp === undefined || String(got) !== String(exp))
			problems.push(`${label}: changelake ${got}, DuckDB ${exp}`);
	};
	want('rows', cl.checksum?.rows, row.rows);
	// DuckDB's sum(BIGINT) is exact (HUGEINT); clbench's wraps at 64 bits.
	want('sum(id)', cols.id?.sum, row.id == null ? undefined : BigInt.asIntN(64, BigInt(row.id)));
	if (!cols.amount || !relClose(cols.amount.sum, row.amount))
		problems.push(`sum(amount): changelake ${cols.amount?.sum}, DuckDB ${row.amount}`);
	want('bytes(category)', cols.category?.sum, row.category);
	want('bytes(note)', cols.note?.sum, row.note);
	want('max(ts)', cols.ts?.max, row.ts);
	return problems;
}

// Row count, column names and types, and an order-sensitive hash of every
// value (file_row_number is part of the hashed row).
async function fingerprint(con, file) {
	const f = sqlString(file);
	const desc = (await con.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet(${f})`))
		.getRowsJson().map((r) => `${r[0]} ${r[1]}`).join(', ');
	const [rows, hash] = (await con.runAndReadAll(
		`SELECT count(*), sum(hash(t)) FROM read_parquet(${f}, file_row_number = true) t`))
		.getRowsJson()[0];
	const [groups] = (await con.runAndReadAll(
		`SELECT count(DISTINCT row_group_id) FROM parquet_metadata(${f})`)).getRowsJson()[0];
	return { schema: desc, rows, hash, row_groups: groups, mib: (statSync(file).size / 2 ** 20).toFixed(1) };
}

async function verifyWrite(ctx, con) {
	const want = await fingerprint(con, ctx.input);
	const cl = await fingerprint(con, ctx.out('changelake'));
	const duck = await fingerprint(con, ctx.out('duckdb'));
	const problems = [];
	for (const k of ['schema', 'rows', 'hash'])
		if (cl[k] !== want[k])
			problems.push(`${k}: changelake's file ${cl[k]}, input ${want[k]}`);
	const detail = `DuckDB reads changelake's file: ${cl.rows} rows, ${cl.row_groups} row groups, `
		+ `${cl.mib} MiB, hash ${problems.length ? 'DIFFERS' : 'equal to the input'}; `
		+ `DuckDB's own file: ${duck.row_groups} row groups, ${duck.mib} MiB; input ${want.mib} MiB`;
	return { ok: problems.length === 0, detail, problems };
}

export const ops = [
	{
		name: 'read',
		what: 'read every value of every column (SNAPPY Parquet)',
		changelake: (ctx) => [ctx.clbench, 'read', ctx.input, '--threads', String(ctx.threads)],
		duckdb: (ctx) => ({ setup: [], timed: readSql(ctx.input) }),
		check: checkRead,
	},
	{
		name: 'write',
		what: 'write the same table as SNAPPY Parquet from memory (load untimed)',
		changelake: (ctx) => [ctx.clbench, 'write', ctx.input, ctx.out('changelake'),
			'--threads', String(ctx.threads), '--codec', 'snappy'],
		duckdb: (ctx) => ({
			setup: [`CREATE TABLE t AS SELECT * FROM read_parquet(${sqlString(ctx.input)})`],
			timed: `COPY t TO ${sqlString(ctx.out('duckdb'))} (FORMAT parquet, COMPRESSION snappy)`,
		}),
		verify: verifyWrite,
	},
	{
		// DuckDB's default row groups (122,880 rows) are 8.5 times smaller than
		// changelake's (1,048,576), which alone changes a writer's memory; this
		// runs the same changelake write against DuckDB at equal row groups.
		name: 'write_rg1m',
		what: 'write, DuckDB with ROW_GROUP_SIZE 1048576 (changelake\'s default)',
		changelake: (ctx) => [ctx.clbench, 'write', ctx.input, ctx.out('changelake'),
			'--threads', String(ctx.threads), '--codec', 'snappy'],
		duckdb: (ctx) => ({
			setup: [`CREATE TABLE t AS SELECT * FROM read_parquet(${sqlString(ctx.input)})`],
			timed: `COPY t TO ${sqlString(ctx.out('duckdb'))} `
				+ '(FORMAT parquet, COMPRESSION snappy, ROW_GROUP_SIZE 1048576)',
		}),
		verify: verifyWrite,
	},
	...diffOps, // bench/op_diff.mjs (issue 4)
	...lakeOps, // bench/op_lake.mjs (issues 5 and 6)
];
