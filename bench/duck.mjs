// duck.mjs — the DuckDB side of `make bench`: one measured operation per
// process, reported as one line of JSON on standard output (the same fields
// as bench/clbench.c prints, so bench.mjs treats both engines alike).
//
//   node bench/duck.mjs '{"threads":N,"setup":["SQL",...],"timed":"SQL"}'
//       Untimed: create an in-memory DuckDB, SET threads=N, run each setup
//       statement. Timed: run "timed" and read its whole result.
//   node bench/duck.mjs '{"idle":true}'
//       Create the database and run "SELECT 1"; report the peak RSS of this
//       idle node + DuckDB process (the baseline).
//
// Memory: just before the timed statement the kernel's RSS high-water mark
// is reset (/proc/self/clear_refs), so peak_kb is the largest RSS seen while
// it ran and rss_before_kb what was resident when it started (node, DuckDB
// and whatever setup loaded). maxrss_kb is process.resourceUsage().maxRSS,
// the whole-process peak including setup.
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// Reuse the interop tests' DuckDB install; no second copy for the bench.
const require = createRequire(path.join(root, 'tests/interop/package.json'));
const { DuckDBInstance } = require('@duckdb/node-api');

function statusKb(key) {
	const m = readFileSync('/proc/self/status', 'utf8').match(new RegExp(`^${key}:\\s+(\\d+)`, 'm'));
	return m ? Number(m[1]) : -1;
}

function resetHwm() {
	try {
		writeFileSync('/proc/self/clear_refs', '5');
		return true;
	} catch {
		return false;
	}
}

function cpuSeconds(u) {
	return (u.user + u.system) / 1e6;
}

async function main() {
	const spec = JSON.parse(process.argv[2] ?? '{}');
	const db = await DuckDBInstance.create(':memory:');
	const con = await db.connect();
	if (spec.idle) {
		await con.runAndReadAll('SELECT 1');
		console.log(JSON.stringify({
			op: 'idle', engine: 'duckdb',
			maxrss_kb: process.resourceUsage().maxRSS, rss_kb: statusKb('VmRSS'),
		}));
		return;
	}
	const threads = spec.threads ?? 1;
	await con.run(`SET threads = ${Number(threads)}`);
	for (const sql of spec.setup ?? [])
		await con.run(sql);
	const version = (await con.runAndReadAll('SELECT version()')).getRows()[0][0];

	const hwmReset = resetHwm();
	const rssBefore = statusKb('VmRSS');
	const cpu0 = process.cpuUsage();
	const t0 = process.hrtime.bigint();
	const reader = await con.runAndReadAll(spec.timed);
	const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
	const cpu = cpuSeconds(process.cpuUsage(cpu0));
	const maxrss = process.resourceUsage().maxRSS;
	const peak = hwmReset ? statusKb('VmHWM') : maxrss;

	console.log(JSON.stringify({
		op: spec.op ?? 'sql', engine: 'duckdb', version, threads,
		seconds, cpu_seconds: cpu, rss_before_kb: rssBefore, peak_kb: peak,
		maxrss_kb: maxrss, hwm_reset: hwmReset,
		columns: reader.columnNames(), rows: reader.getRowsJson(),
	}));
}

main().catch((e) => {
	console.log(JSON.stringify({ op: 'sql', engine: 'duckdb', error: String(e?.message ?? e) }));
	process.exit(1);
});
