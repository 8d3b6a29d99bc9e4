// bench.mjs — `make bench`: changelake against DuckDB on the same files.
//
//   node bench/bench.mjs BUILD_DIR/changelake
//
// For every operation of ops.mjs and every thread count it runs each engine
// BENCH_RUNS times, alternating which goes first, each run in a fresh
// process (bench/clbench for changelake, bench/duck.mjs for DuckDB), and
// reports medians: seconds, CPU seconds, memory, and the ratios
// changelake / DuckDB (below 1 means changelake is faster or smaller).
// Nothing is asserted about speed; the exit status is 1 only when an engine
// fails or the results of the two engines disagree.
//
// Memory, per run (see clbench.c / duck.mjs):
//   op MB      peak RSS while the timed part ran minus the RSS just before
//              it: what the operation itself added. The memory ratio uses
//              this.
//   peak MB    the whole process's maxRSS; "adjusted" in results.json is
//              that minus the maxRSS of an idle process of the same engine
//              (node + DuckDB, or clbench).
//
// Environment: BENCH_ROWS (10000000), BENCH_RUNS (5), BENCH_THREADS ("1,2"),
// BENCH_OPS (all; comma-separated names), BENCH_ROW_GROUP_ROWS (1048576),
// BENCH_DATA (BUILD_DIR/bench-data), BENCH_KEEP=1 keeps the written files.
// Results: BUILD_DIR/bench/results.json and results.md.
import { spawnSync, execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync, mkdirSync, openSync, readSync, closeSync, rmSync, statSync,
	writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { generate, GEN_VERSION } from './gen.mjs';
import { ops } from './ops.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const require = createRequire(path.join(root, 'tests/interop/package.json'));
const { DuckDBInstance } = require('@duckdb/node-api');

const env = process.env;
const changelake = path.resolve(process.argv[2] ?? 'build/changelake');
const buildDir = path.dirname(changelake);
const clbench = path.join(buildDir, 'bench', 'clbench');
const rows = Number(env.BENCH_ROWS ?? 10_000_000);
const runs = Number(env.BENCH_RUNS ?? 5);
const threadList = (env.BENCH_THREADS ?? '1,2').split(',').map(Number);
const opFilter = env.BENCH_OPS ? env.BENCH_OPS.split(',') : null;
const rowGroupRows = Number(env.BENCH_ROW_GROUP_ROWS ?? 1048576);
const dataDir = path.resolve(env.BENCH_DATA ?? path.join(buildDir, 'bench-data'));
const outDir = path.join(buildDir, 'bench');
const scratch = path.join(dataDir, 'out');

function die(msg) {
	console.error(`bench: ${msg}`);
	process.exit(2);
}

if (!(rows > 0) || !(runs > 0) || threadList.some((t) => !(t >= 1)))
	die('BENCH_ROWS, BENCH_RUNS and BENCH_THREADS must be positive numbers');
if (!existsSync(clbench))
	die(`${clbench} not found (built by \`make bench\`)`);

const median = (xs) => {
	const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
	if (!s.length)
		return NaN;
	const m = s.length >> 1;
	return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

// Run one measured process; its last stdout line is the JSON result.
function measure(argv) {
	const p = spawnSync(argv[0], argv.slice(1), {
		encoding: 'utf8', maxBuffer: 64 << 20, env: { ...env },
	});
	const last = (p.stdout ?? '').trim().split('\n').pop();
	let j;
	try {
		j = JSON.parse(last);
	} catch {
		j = { error: `no result (exit ${p.status}${p.signal ? ', ' + p.signal : ''}): ${(p.stderr || p.stdout || '').trim().slice(-500)}` };
	}
	if (p.status !== 0 && !j.error)
		j.error = `exit ${p.status}: ${(p.stderr ?? '').trim().slice(-500)}`;
	return j;
}

const clRun = (ctx, op) => measure(op.changelake(ctx));
const duckRun = (ctx, op) => {
	const spec = { op: op.name, threads: ctx.threads, ...op.duckdb(ctx) };
	return measure([process.execPath, path.join(here, 'duck.mjs'), JSON.stringify(spec)]);
};

// Read the whole file once so that every engine finds it in the page cache.
function warm(file) {
	const fd = openSync(file, 'r');
	const buf = Buffer.alloc(1 << 20);
	while (readSync(fd, buf, 0, buf.length, null) > 0)
		;
	closeSync(fd);
}

function gitDescribe() {
	try {
		const head = execFileSync('git', ['-C', root, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
		// the shared work tree often holds others' uncommitted edits: say so
		const dirty = execFileSync('git', ['-C', root, 'status', '--porcelain', '--untracked-files=no', '--', 'src', 'include'],
			{ encoding: 'utf8' }).trim();
		return dirty ? `${head}+uncommitted changes in src/include` : head;
	} catch {
		return 'unknown';
	}
}

function summarize(list, idleKb) {
	const ok = list.filter((r) => !r.error);
	return {
		runs: list,
		error: list.find((r) => r.error)?.error,
		seconds: median(ok.map((r) => r.seconds)),
		cpu_seconds: median(ok.map((r) => r.cpu_seconds)),
		op_kb: median(ok.map((r) => r.peak_kb - r.rss_before_kb)),
		maxrss_kb: median(ok.map((r) => r.maxrss_kb)),
		adjusted_kb: median(ok.map((r) => r.maxrss_kb - idleKb)),
		threads_note: ok.find((r) => r.threads_note)?.threads_note,
		lake: medianFields(ok.map((r) => r.lake).filter(Boolean)),
	};
}

// Per-field medians of the runs' lake figures (afterRun), or undefined.
function medianFields(list) {
	if (!list.length)
		return undefined;
	return Object.fromEntries(Object.keys(list[0]).map((k) => [k, median(list.map((x) => Number(x[k])))]));
}

const fmt = (x, d = 3) => (Number.isFinite(x) ? x.toFixed(d) : '—');
const mb = (kb) => (Number.isFinite(kb) ? (kb / 1024).toFixed(0) : '—');
const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? a / b : NaN);

async function main() {
	mkdirSync(dataDir, { recursive: true });
	mkdirSync(scratch, { recursive: true });
	mkdirSync(outDir, { recursive: true });

	const input = path.join(dataDir, `bench-v${GEN_VERSION}-r${rows}-g${rowGroupRows}.parquet`);
	if (!existsSync(input)) {
		console.error(`bench: generating ${input} with DuckDB ...`);
		const t0 = Date.now();
		await generate(rows, input, rowGroupRows);
		console.error(`bench: generated in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
	}
	warm(input);

	const clIdle = measure([clbench, 'idle']);
	const duckIdle = measure([process.execPath, path.join(here, 'duck.mjs'), '{"idle":true}']);
	if (clIdle.error || duckIdle.error)
		die(`idle baseline failed: ${clIdle.error ?? duckIdle.error}`);

	const results = [];
	let duckVersion = '';
	let failed = false;
	for (const op of ops) {
		if (opFilter && !opFilter.includes(op.name))
			continue;
		for (const threads of threadList) {
			const ctx = {
				input, threads, clbench, changelake, buildDir, rows, dataDir, scratch, op: op.name,
				out: (engine) => path.join(scratch, `${op.name}-${engine}-t${threads}.parquet`),
			};
			const cl = [], duck = [], problems = [];
			let clBroken = false;
			// one DuckDB connection for the op's untimed setup and checks
			let db = null, con = null;
			if (op.setup || op.afterRun || op.verify) {
				db = await DuckDBInstance.create(':memory:');
				con = await db.connect();
			}
			let setupError = null;
			try {
				await op.setup?.(ctx, con);
			} catch (e) {
				setupError = `setup: ${e.message}`;
			}
			for (let i = 0; i < runs && !setupError; i++) {
				const order = i % 2 === 0 ? ['cl', 'duck'] : ['duck', 'cl'];
				const got = {};
				for (const e of order) {
					if (e === 'cl' && clBroken)
						continue;
					try {
						op.prepare?.(ctx, e === 'cl' ? 'changelake' : 'duckdb');
						got[e] = e === 'cl' ? clRun(ctx, op) : duckRun(ctx, op);
					} catch (err) {
						got[e] = { error: `prepare: ${err.message}` };
					}
					(e === 'cl' ? cl : duck).push(got[e]);
				}
				if (got.cl?.error)
					clBroken = true; // a failing engine fails every time; don't wait on it
				if (got.duck?.version)
					duckVersion = got.duck.version;
				const both = got.cl && !got.cl.error && got.duck && !got.duck.error;
				if (op.check && both)
					for (const p of op.check(ctx, got.cl, got.duck))
						if (!problems.includes(p))
							problems.push(p);
				if (op.afterRun && both) {
					try {
						const a = await op.afterRun(ctx, con, got);
						got.cl.lake = a.cl;
						got.duck.lake = a.duck;
						for (const p of a.problems ?? [])
							if (!problems.includes(`run ${i + 1}: ${p}`))
								problems.push(`run ${i + 1}: ${p}`);
					} catch (e) {
						problems.push(`run ${i + 1}: check failed: ${e.message}`);
					}
				}
				console.error(`bench: ${op.name} threads=${threads} run ${i + 1}/${runs}: `
					+ `changelake ${got.cl ? (got.cl.error ? 'FAILED' : fmt(got.cl.seconds) + ' s') : 'skipped'}, `
					+ `DuckDB ${got.duck.error ? 'FAILED' : fmt(got.duck.seconds) + ' s'}`
					+ (got.cl?.lake ? `, lake table ${got.cl.lake.rows_out} rows, `
						+ `${(got.cl.lake.bytes_added / 2 ** 20).toFixed(1)} MiB written` : ''));
			}
			if (setupError)
				cl.push({ error: setupError });
			const r = {
				op: op.name, what: op.what, threads,
				changelake: summarize(cl, clIdle.maxrss_kb),
				duckdb: summarize(duck, duckIdle.maxrss_kb),
			};
			let verified = null;
			if (op.verify && !r.changelake.error && !r.duckdb.error) {
				try {
					verified = await op.verify(ctx, con);
				} catch (e) {
					verified = { ok: false, detail: `verification failed: ${e.message}`, problems: [e.message] };
				}
			}
			con?.closeSync?.();
			db?.closeSync?.();
			if (verified)
				problems.push(...(verified.problems ?? []));
			r.check = {
				ok: !r.changelake.error && !r.duckdb.error && problems.length === 0,
				problems,
				detail: verified?.detail ?? (op.check ? 'checksums compared on every run'
					: op.afterRun ? 'DuckDB reads the lake table after every run: same column types, '
						+ 'row count and order-insensitive hash of all values as DuckDB\'s result' : ''),
			};
			r.ratio_time = ratio(r.changelake.seconds, r.duckdb.seconds);
			r.ratio_cpu = ratio(r.changelake.cpu_seconds, r.duckdb.cpu_seconds);
			r.ratio_op_memory = ratio(r.changelake.op_kb, r.duckdb.op_kb);
			r.ratio_adjusted_memory = ratio(r.changelake.adjusted_kb, r.duckdb.adjusted_kb);
			if (!r.check.ok)
				failed = true;
			results.push(r);
			if (!env.BENCH_KEEP) {
				op.cleanup?.(ctx);
				for (const e of ['changelake', 'duckdb'])
					rmSync(ctx.out(e), { force: true });
			}
		}
	}

	const meta = {
		date: new Date().toISOString(),
		git: gitDescribe(),
		command: `make bench${env.BENCH_ROWS ? ` BENCH_ROWS=${rows}` : ''}${env.BENCH_RUNS ? ` BENCH_RUNS=${runs}` : ''}`
			+ `${env.BENCH_THREADS ? ` BENCH_THREADS=${env.BENCH_THREADS}` : ''}`,
		host: { cpus: cpus().length, cpu: cpus()[0]?.model, mem_gb: Math.round(totalmem() / 2 ** 30),
			loadavg_at_end: loadavg().map((x) => Number(x.toFixed(2))) },
		duckdb: duckVersion,
		rows, runs, row_group_rows: rowGroupRows, generator_version: GEN_VERSION,
		input: { path: input, bytes: statSync(input).size },
		idle_kb: { changelake: clIdle.maxrss_kb, duckdb: duckIdle.maxrss_kb },
	};
	writeFileSync(path.join(outDir, 'results.json'), JSON.stringify({ meta, results }, null, 2) + '\n');
	const md = markdown(meta, results);
	writeFileSync(path.join(outDir, 'results.md'), md);
	console.log(table(results));
	const lake = lakeRows(results);
	if (lake.length)
		console.log('\n' + table2(LAKE_HEAD, lake));
	for (const line of scaleLines(results))
		console.log(line);
	console.log(`\nratio = changelake / DuckDB (below 1: changelake faster or smaller); `
		+ `memory ratio on "op MB" (peak RSS during the timed part minus RSS before it); `
		+ `cpu = user + system seconds (steadier than wall time on a busy machine)`);
	const load = loadavg()[0];
	if (load > cpus().length)
		console.log(`warning: load average ${load.toFixed(1)} on ${cpus().length} CPUs: wall times are inflated, compare CPU seconds`);
	for (const r of results) {
		if (r.changelake.threads_note)
			console.log(`note: ${r.op} threads=${r.threads}: ${r.changelake.threads_note}`);
		if (r.changelake.error)
			console.log(`error: ${r.op} threads=${r.threads}: changelake: ${r.changelake.error}`);
		if (r.duckdb.error)
			console.log(`error: ${r.op} threads=${r.threads}: DuckDB: ${r.duckdb.error}`);
		for (const p of r.check.problems)
			console.log(`MISMATCH: ${r.op} threads=${r.threads}: ${p}`);
		if (r.check.detail && r.check.ok)
			console.log(`check: ${r.op} threads=${r.threads}: ${r.check.detail}`);
	}
	console.log(`\n${rows} rows, ${runs} runs, input ${(meta.input.bytes / 2 ** 20).toFixed(0)} MiB, `
		+ `DuckDB ${duckVersion}, idle RSS: changelake ${mb(clIdle.maxrss_kb)} MB, node+DuckDB ${mb(duckIdle.maxrss_kb)} MB`);
	console.log(`results: ${path.join(outDir, 'results.json')}, ${path.join(outDir, 'results.md')}`);
	process.exit(failed ? 1 : 0);
}

function rowsOf(results) {
	return results.map((r) => [
		r.op, String(r.threads),
		fmt(r.changelake.seconds), fmt(r.duckdb.seconds), fmt(r.ratio_time, 2),
		fmt(r.changelake.cpu_seconds), fmt(r.duckdb.cpu_seconds), fmt(r.ratio_cpu, 2),
		mb(r.changelake.op_kb), mb(r.duckdb.op_kb), fmt(r.ratio_op_memory, 2),
		mb(r.changelake.maxrss_kb), mb(r.duckdb.maxrss_kb),
		r.check.ok ? 'ok' : (r.changelake.error || r.duckdb.error ? 'FAILED' : 'MISMATCH'),
	]);
}

const HEAD = ['op', 'threads', 'cl s', 'duck s', 'time ratio', 'cl cpu s', 'duck cpu s', 'cpu ratio',
	'cl op MB', 'duck op MB', 'mem ratio', 'cl peak MB', 'duck peak MB', 'check'];

function table(results) {
	return table2(HEAD, rowsOf(results));
}

function table2(head, rows) {
	const all = [head, ...rows];
	const w = head.map((_, i) => Math.max(...all.map((r) => r[i].length)));
	const line = (r) => r.map((c, i) => (i < 2 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ');
	return [line(head), w.map((n) => '-'.repeat(n)).join('  '), ...all.slice(1).map(line)].join('\n');
}

// Lake operations (op_lake.mjs): throughput and bytes rewritten.
const LAKE_HEAD = ['op', 'threads', 'changes', 'cl rows/s', 'duck rows/s', 'table MiB',
	'cl rewritten MiB', 'cl written MiB', 'cl written / table', 'duck written / table', 'cl files rewritten'];

function lakeRows(results) {
	const mib = (b) => (Number.isFinite(b) ? (b / 2 ** 20).toFixed(1) : '—');
	const frac = (a, b) => (Number.isFinite(a) && b > 0 ? (a / b).toFixed(3) : '—');
	const rate = (n, sec) => (Number.isFinite(n) && sec > 0 ? Math.round(n / sec).toLocaleString('en-US') : '—');
	return results.filter((r) => r.changelake.lake).map((r) => {
		const c = r.changelake.lake, d = r.duckdb.lake ?? {};
		return [r.op, String(r.threads), c.changes.toLocaleString('en-US'),
			rate(c.changes, r.changelake.seconds), rate(d.changes, r.duckdb.seconds),
			mib(c.table_bytes), mib(c.bytes_removed), mib(c.bytes_added),
			frac(c.bytes_added, c.table_bytes), frac(d.bytes_added, d.table_bytes),
			`${c.files_removed} of ${c.files_removed + c.files_live - c.files_added}`];
	});
}

// An op with scaleOf: its time against the smaller op's, next to the ratio
// of their change counts (a merge whose cost follows its changes shows the
// same ratio; one that rewrites the table whatever the change shows ~1).
function scaleLines(results) {
	const out = [];
	for (const r of results) {
		const ops = ops_by_name.get(r.op);
		const small = ops?.scaleOf && results.find((x) => x.op === ops.scaleOf && x.threads === r.threads);
		if (!small || !r.changelake.lake || !small.changelake.lake)
			continue;
		const nch = r.changelake.lake.changes / small.changelake.lake.changes;
		out.push(`${r.op} / ${small.op}, threads=${r.threads}: ${nch.toFixed(0)}× the changes took `
			+ `${fmt(r.changelake.seconds / small.changelake.seconds, 2)}× the time in changelake `
			+ `(cpu ${fmt(r.changelake.cpu_seconds / small.changelake.cpu_seconds, 2)}×, bytes written `
			+ `${fmt(r.changelake.lake.bytes_added / small.changelake.lake.bytes_added, 2)}×), `
			+ `${fmt(r.duckdb.seconds / small.duckdb.seconds, 2)}× in DuckDB`);
	}
	return out;
}

const ops_by_name = new Map(ops.map((o) => [o.name, o]));

function markdown(meta, results) {
	const out = [];
	out.push(`Measured ${meta.date.slice(0, 10)} (commit ${meta.git}) with \`${meta.command}\`: `
		+ `${meta.rows.toLocaleString('en-US')} rows (${(meta.input.bytes / 2 ** 20).toFixed(0)} MiB SNAPPY Parquet, `
		+ `row groups of ${meta.row_group_rows.toLocaleString('en-US')} rows), median of ${meta.runs} runs, `
		+ `DuckDB ${meta.duckdb}, ${meta.host.cpus} × ${meta.host.cpu}, `
		+ `load average ${meta.host.loadavg_at_end[1]} (5 min) at the end.`);
	out.push('');
	out.push(`| ${HEAD.join(' | ')} |`);
	out.push(`|${HEAD.map((_, i) => (i < 2 ? ' --- ' : ' ---: ')).join('|')}|`);
	for (const r of rowsOf(results))
		out.push(`| ${r.join(' | ')} |`);
	out.push('');
	out.push('Ratios are changelake / DuckDB: below 1 means changelake is faster or uses less memory. '
		+ '"cpu s" is user + system CPU time of the timed part, steadier than wall time when the machine is shared. '
		+ '"op MB" is the peak RSS while the timed part ran minus the RSS just before it (the memory '
		+ 'ratio uses it); "peak MB" is the whole process (DuckDB\'s includes node, '
		+ `${mb(meta.idle_kb.duckdb)} MB idle; clbench idles at ${mb(meta.idle_kb.changelake)} MB).`);
	const lake = lakeRows(results);
	if (lake.length) {
		out.push('');
		out.push(`| ${LAKE_HEAD.join(' | ')} |`);
		out.push(`|${LAKE_HEAD.map((_, i) => (i < 2 ? ' --- ' : ' ---: ')).join('|')}|`);
		for (const r of lake)
			out.push(`| ${r.join(' | ')} |`);
		out.push('');
		out.push('Lake operations: "changes" are the change rows of the run (the full load\'s rows for merge_load); '
			+ 'rows/s = changes / median wall seconds; "table" is the lake table before the run; '
			+ '"rewritten" the bytes of the data files the commit removed and "written" those it added '
			+ '(operationMetrics numRemovedBytes, numAddedBytes); DuckDB writes the whole table every time, '
			+ 'its "written / table" is its output over its own input table file.');
		for (const line of scaleLines(results))
			out.push('', line + '.');
	}
	const notes = [...new Set(results.map((r) => r.changelake.threads_note).filter(Boolean))];
	for (const n of notes)
		out.push('', `changelake: ${n}.`);
	return out.join('\n') + '\n';
}

main().catch((e) => {
	console.error(`bench: ${e.stack ?? e}`);
	process.exit(2);
});
