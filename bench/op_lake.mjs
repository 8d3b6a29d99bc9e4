// op_lake.mjs — the lake-table benchmarks: copy-on-write upserts into a
// 16-bucket lake table (issue 5) and DMS merges, the initial load and
// incremental merges of CDC files (issue 6), each against DuckDB computing
// the same current state and rewriting it as one Parquet file.
//
// Inputs (bench/op_lake_gen.mjs, written by DuckDB, cached in
// BENCH_DATA/lake-v<version>-r<rows>/): a DMS full load of BENCH_ROWS rows
// (6 columns, unique random-looking BIGINT keys), ROWS/100 upserts of
// existing keys, and 100 CDC files of ROWS/10 changes (60% U, 20% I, 20% D).
//
// The base table: once per `make bench`, `changelake merge` loads the full
// load into a 16-bucket table (untimed; the same command merge_load times).
// Every timed changelake run of upsert*, merge_1m and merge_10k starts from
// a fresh copy of it (data files hard-linked — they are never modified in
// place — and _delta_log, _changelake copied), made untimed by `prepare`.
// DuckDB's table is the full-load file itself: its runs read it and write
// the whole new state.
//
// Operations:
//   upsert      clbench cow: upsert the ROWS/100 keys i % 100 = 42 (spread
//               over every bucket) through cl_table_changes_* (one commit)
//               DuckDB: base ANTI JOIN changes UNION ALL changes -> Parquet
//   upsert_1b   the same with ROWS/100 keys that all live in one bucket
//               (taken from the base table's bucket-3 files): the best case
//               of the layout, where only 1/16 of the table is rewritten
//   upsert_dv   `upsert` on a copy of the base table with deletion vectors
//               enabled (untimed `changelake table enable-deletion-vectors`):
//               merge-on-read, the old rows marked deleted in one vector file
//               instead of their files rewritten; "written" counts the new
//               data files plus the vector file (numDeletionVectorBytes)
//   merge_1m_dv, merge_10k_dv  merge_1m and merge_10k into a copy of the
//               base table with deletion vectors enabled (merge-on-read)
//   merge_load  `changelake merge --buckets 16` of the full load into a new
//               table; DuckDB: last row per key (row_number() over the full
//               load, which has unique keys) -> Parquet
//   merge_1m    `changelake merge` of all 100 CDC files (ROWS/10 changes)
//               into the base table; DuckDB: last change per key over all
//               CDC files (row_number() over (partition by id order by
//               filename desc, file_row_number desc)), base ANTI JOIN those
//               keys UNION ALL the last changes that are not deletes
//   merge_10k   the same with the first CDC file only (ROWS/1000 changes);
//               merge_1m / merge_10k time ratio against the change ratio
//               (100) shows whether a merge costs what its changes cost
// Threads: `merge --threads N` for changelake, as a user runs it (it
// decodes the DMS files on N threads, encodes the initial load on N, and
// copy-on-write rewrites N buckets at a time; CL_THREADS is not set for
// merges: --threads decides); the upsert ops go through the library's
// change-set API with its thread count set to N (clbench cow --threads N,
// as `apply --threads N` does). SET threads = N for DuckDB.
//
// After every pair of runs (untimed): DuckDB reads the lake table's live
// files (`changelake table files --json`) and DuckDB's output: same column
// types, row count and order-insensitive hash of every value, or the run is
// a MISMATCH. The bytes rewritten come from the commit's operationMetrics
// (`changelake table history --json`: numRemovedBytes, numAddedBytes).
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { LAKE_GEN_VERSION, COLUMNS, changeCount } from './op_lake_gen.mjs';
import { decodeDv } from '../tests/interop/dv_decode_min.mjs';
import { readFileSync, writeFileSync } from 'node:fs';
import { sqlString } from './gen.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const BUCKETS = 16;
const ONE_BUCKET = 3;

function sh(argv, what) {
	const p = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', maxBuffer: 256 << 20 });
	if (p.status !== 0)
		throw new Error(`${what} failed (exit ${p.status}): ${(p.stderr || p.stdout || '').trim().slice(-800)}`);
	return p.stdout;
}

// The cached inputs for ctx.rows, generated once.
function lakeData(ctx) {
	const dir = path.join(ctx.dataDir, `lake-v${LAKE_GEN_VERSION}-r${ctx.rows}`);
	if (!existsSync(dir)) {
		console.error(`bench: generating the lake inputs (${ctx.rows} rows) with DuckDB ...`);
		const t0 = Date.now();
		const p = spawnSync(process.execPath, [path.join(here, 'op_lake_gen.mjs'), String(ctx.rows), dir],
			{ stdio: ['ignore', 'inherit', 'inherit'] });
		if (p.status !== 0)
			throw new Error('bench: op_lake_gen.mjs failed');
		console.error(`bench: generated in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
	}
	return {
		dir,
		load: path.join(dir, 'load', 'LOAD00000001.parquet'),
		upsert: path.join(dir, 'upsert.parquet'),
		cdc1m: path.join(dir, 'cdc1m'),
		cdc10k: path.join(dir, 'cdc10k'),
	};
}

function tableFiles(ctx, table) {
	return JSON.parse(sh([ctx.changelake, 'table', 'files', table, '--json'], 'changelake table files')).files;
}

// The base table (16 buckets, the full load), built once per process.
let baseCache = null;
function baseTable(ctx) {
	const dir = path.join(ctx.scratch, `lake-base-r${ctx.rows}`);
	if (baseCache?.dir === dir)
		return baseCache;
	const data = lakeData(ctx);
	rmSync(dir, { recursive: true, force: true });
	console.error(`bench: loading the base lake table (${BUCKETS} buckets) ...`);
	sh([ctx.changelake, 'merge', '--source', `dms:${path.dirname(data.load)}`, '--to', dir,
		'--key', 'id', '--buckets', String(BUCKETS), '-q'], 'changelake merge (base table)');
	const files = tableFiles(ctx, dir);
	baseCache = { dir, files, bytes: files.reduce((s, f) => s + f.size, 0) };
	return baseCache;
}

// dst becomes a copy of the base table: data files hard-linked, the log and
// changelake's own state copied (those are the only things a run writes
// next to new data files).
function resetTable(ctx, dst) {
	const base = baseTable(ctx);
	rmSync(dst, { recursive: true, force: true });
	sh(['cp', '-al', base.dir, dst], 'cp -al');
	for (const d of ['_delta_log', '_changelake']) {
		rmSync(path.join(dst, d), { recursive: true, force: true });
		if (existsSync(path.join(base.dir, d)))
			cpSync(path.join(base.dir, d), path.join(dst, d), { recursive: true });
	}
}

const tableDir = (ctx) => path.join(ctx.scratch, `${ctx.op}-changelake-t${ctx.threads}.table`);
const cols = COLUMNS.join(', ');

// The last commit's operationMetrics (numbers).
function lastMetrics(ctx, table) {
	const h = JSON.parse(sh([ctx.changelake, 'table', 'history', table, '--json'], 'changelake table history'));
	const m = h[h.length - 1]?.commitInfo?.operationMetrics ?? {};
	return Object.fromEntries(Object.entries(m).map(([k, v]) => [k, Number(v)]));
}

// The deletion vectors of the live files (the log's JSON commits replayed
// here, removes before adds within a commit): path -> descriptor.
function liveVectors(table) {
	const dir = path.join(table, '_delta_log');
	const live = new Map();
	for (const f of readdirSync(dir).filter((x) => /^\d{20}\.json$/.test(x)).sort()) {
		const acts = readFileSync(path.join(dir, f), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
		for (const a of acts) if (a.remove) live.delete(decodeURIComponent(a.remove.path));
		for (const a of acts) if (a.add) live.set(decodeURIComponent(a.add.path), a.add.deletionVector ?? null);
	}
	return live;
}

// FROM clause of the lake table's live rows: the files, minus the rows their
// deletion vectors delete (decoded by tests/interop/dv_decode_min.mjs).
async function liveFrom(ctx, con, table, files) {
	const list = `[${files.map((f) => sqlString(path.join(table, f))).join(', ')}]`;
	const vec = liveVectors(table);
	const del = [];
	for (const f of files)
		if (vec.get(f))
			for (const r of decodeDv(table, vec.get(f)))
				del.push(`${path.join(table, f)},${r}`);
	if (!del.length)
		return `read_parquet(${list}, hive_partitioning = false)`;
	const csv = path.join(ctx.scratch, 'dv-rows.csv');
	writeFileSync(csv, `fname,rn\n${del.join('\n')}\n`);
	await con.run(`CREATE OR REPLACE TABLE bench_dv_rows AS SELECT * FROM read_csv(${sqlString(csv)}, header = true,
		quote = '', columns = {'fname': 'VARCHAR', 'rn': 'BIGINT'})`);
	return `(SELECT ${cols} FROM read_parquet(${list}, hive_partitioning = false, filename = true, file_row_number = true) d
		ANTI JOIN bench_dv_rows x ON x.fname = d.filename AND x.rn = d.file_row_number)`;
}

async function fingerprint(con, from) {
	const one = async (sql) => (await con.runAndReadAll(sql)).getRowsJson();
	const types = (await one(`DESCRIBE SELECT ${cols} FROM ${from}`)).map((r) => `${r[0]} ${r[1]}`).join(', ');
	const [rows, hash] = (await one(`SELECT count(*), sum(hash(${cols})) FROM ${from}`))[0];
	return { types, rows: String(rows), hash: String(hash) };
}

// After a pair of runs: the lake table equals DuckDB's output; bytes.
function afterRun(changesOf, baseBytes) {
	return async (ctx, con, got) => {
		const problems = [];
		const table = tableDir(ctx);
		const files = tableFiles(ctx, table).map((f) => f.path);
		const m = lastMetrics(ctx, table);
		const duckOut = ctx.out('duckdb');
		const a = await fingerprint(con, files.length
			? await liveFrom(ctx, con, table, files)
			: `(SELECT ${cols} FROM read_parquet(${sqlString(duckOut)}) LIMIT 0)`);
		const b = await fingerprint(con, `read_parquet(${sqlString(duckOut)})`);
		for (const k of ['types', 'rows', 'hash'])
			if (a[k] !== b[k])
				problems.push(`${k}: lake table ${a[k]}, DuckDB ${b[k]}`);
		const changes = changesOf(ctx);
		const tableBytes = baseBytes(ctx);
		return {
			problems,
			rows: a.rows,
			cl: {
				changes, table_bytes: tableBytes,
				bytes_removed: m.numRemovedBytes, bytes_added: m.numAddedBytes + (m.numDeletionVectorBytes || 0),
				dv_bytes: m.numDeletionVectorBytes || 0,
				files_removed: m.numRemovedFiles, files_added: m.numAddedFiles,
				files_live: files.length, rows_out: Number(a.rows),
				rows_copied: m.numTargetRowsCopied,
			},
			duck: {
				changes, table_bytes: tableBytes === 0 ? 0 : statSync(lakeData(ctx).load).size,
				bytes_added: statSync(duckOut).size, rows_out: Number(b.rows),
			},
		};
	};
}

const rowsOf = (ctx) => ctx.rows;
const baseBytesOf = (ctx) => baseTable(ctx).bytes;
const upsertRows = (ctx) => Math.floor(ctx.rows / 100);

// ROWS/100 keys of one bucket, as upserts (written by DuckDB from the base
// table's files of bucket ONE_BUCKET: the layout names a bucketed file
// ..._<bucket, 5 digits>.c000.snappy.parquet).
function oneBucketChanges(ctx) {
	return path.join(ctx.scratch, `upsert1b-r${ctx.rows}.parquet`);
}

async function setupOneBucket(ctx, con) {
	const base = baseTable(ctx);
	const files = base.files.filter((f) => {
		const m = /_(\d+)\.c\d+\.[^/]*parquet$/.exec(f.path);
		return m && Number(m[1]) === ONE_BUCKET;
	}).map((f) => sqlString(path.join(base.dir, f.path)));
	if (!files.length)
		throw new Error(`no file of bucket ${ONE_BUCKET} in the base table`);
	await con.run(`COPY (SELECT id, qty + 1 AS qty, CASE WHEN amount IS NULL THEN 1.5 ELSE amount + 0.25 END AS amount,
			category, concat('upserted ', id) AS note, ts
		FROM read_parquet([${files.join(', ')}]) ORDER BY id LIMIT ${upsertRows(ctx)})
		TO ${sqlString(oneBucketChanges(ctx))} (FORMAT parquet, COMPRESSION snappy)`);
}

function upsertOp(name, what, changesFile, setup, dv = false) {
	return {
		name, what, lake: true,
		setup,
		prepare: (ctx, engine) => {
			if (engine === 'changelake') {
				resetTable(ctx, tableDir(ctx));
				if (dv)
					sh([ctx.changelake, 'table', 'enable-deletion-vectors', tableDir(ctx), '-q'],
						'changelake table enable-deletion-vectors');
			}
		},
		changelake: (ctx) => [ctx.clbench, 'cow', tableDir(ctx), changesFile(ctx),
			'--threads', String(ctx.threads)],
		duckdb: (ctx) => {
			const base = sqlString(lakeData(ctx).load), ch = sqlString(changesFile(ctx));
			return {
				setup: [],
				timed: `COPY (SELECT ${cols} FROM read_parquet(${base}) b ANTI JOIN read_parquet(${ch}) c USING (id)
					UNION ALL SELECT ${cols} FROM read_parquet(${ch}))
					TO ${sqlString(ctx.out('duckdb'))} (FORMAT parquet, COMPRESSION snappy)`,
			};
		},
		afterRun: afterRun(upsertRows, baseBytesOf),
		cleanup: (ctx) => rmSync(tableDir(ctx), { recursive: true, force: true }),
	};
}

function mergeArgv(ctx, source, extra) {
	return [ctx.clbench, 'exec', '--', ctx.changelake, 'merge',
		'--source', `dms:${source}`, '--to', tableDir(ctx), '--key', 'id', '-q',
		'--threads', String(ctx.threads), ...extra];
}

// DuckDB: the current state after the CDC files of folder dir.
function mergeSql(ctx, dir) {
	const data = lakeData(ctx);
	const cdc = readdirSync(dir).filter((f) => f !== 'LOAD00000001.parquet').sort()
		.map((f) => sqlString(path.join(dir, f)));
	return `COPY (
		WITH last AS (SELECT * FROM read_parquet([${cdc.join(', ')}], filename = true, file_row_number = true)
			QUALIFY row_number() OVER (PARTITION BY id ORDER BY filename DESC, file_row_number DESC) = 1)
		SELECT ${cols} FROM read_parquet(${sqlString(data.load)}) b ANTI JOIN last USING (id)
		UNION ALL SELECT ${cols} FROM last WHERE Op <> 'D')
		TO ${sqlString(ctx.out('duckdb'))} (FORMAT parquet, COMPRESSION snappy)`;
}

function mergeOp(name, what, folder, changes, scaleOf, dv = false) {
	return {
		name, what, lake: true, scaleOf,
		prepare: (ctx, engine) => {
			if (engine === 'changelake') {
				resetTable(ctx, tableDir(ctx));
				if (dv)
					sh([ctx.changelake, 'table', 'enable-deletion-vectors', tableDir(ctx), '-q'],
						'changelake table enable-deletion-vectors');
			}
		},
		changelake: (ctx) => mergeArgv(ctx, lakeData(ctx)[folder], []),
		duckdb: (ctx) => ({ setup: [], timed: mergeSql(ctx, lakeData(ctx)[folder]) }),
		afterRun: afterRun(changes, baseBytesOf),
		cleanup: (ctx) => rmSync(tableDir(ctx), { recursive: true, force: true }),
	};
}

export const lakeOps = [
	upsertOp('upsert', 'upsert 1% of the keys (spread over all 16 buckets) into a 16-bucket lake table (copy-on-write, one commit)',
		(ctx) => lakeData(ctx).upsert),
	upsertOp('upsert_1b', 'upsert 1% of the table\'s keys, all in one of the 16 buckets (the layout\'s best case)',
		oneBucketChanges, setupOneBucket),
	upsertOp('upsert_dv', 'upsert 1% of the keys (spread over all 16 buckets) into the 16-bucket table with deletion vectors (merge-on-read, one commit)',
		(ctx) => lakeData(ctx).upsert, undefined, true),
	{
		name: 'merge_load', lake: true,
		what: 'DMS initial load: `changelake merge` of a full load into a new 16-bucket table',
		prepare: (ctx, engine) => {
			if (engine === 'changelake') {
				lakeData(ctx);
				rmSync(tableDir(ctx), { recursive: true, force: true });
			}
		},
		changelake: (ctx) => mergeArgv(ctx, path.dirname(lakeData(ctx).load), ['--buckets', String(BUCKETS)]),
		duckdb: (ctx) => ({
			setup: [],
			timed: `COPY (SELECT ${cols} FROM read_parquet(${sqlString(lakeData(ctx).load)}, file_row_number = true)
				QUALIFY row_number() OVER (PARTITION BY id ORDER BY file_row_number DESC) = 1)
				TO ${sqlString(ctx.out('duckdb'))} (FORMAT parquet, COMPRESSION snappy)`,
		}),
		afterRun: afterRun(rowsOf, () => 0),
		cleanup: (ctx) => rmSync(tableDir(ctx), { recursive: true, force: true }),
	},
	mergeOp('merge_1m', 'DMS incremental merge of ROWS/10 changes (60% U, 20% I, 20% D) in 100 CDC files into the loaded table',
		'cdc1m', (ctx) => changeCount(ctx.rows), 'merge_10k'),
	mergeOp('merge_10k', 'DMS incremental merge of ROWS/1000 changes in 1 CDC file into the loaded table',
		'cdc10k', (ctx) => Math.ceil(changeCount(ctx.rows) / 100)),
	mergeOp('merge_1m_dv', 'merge_1m into the loaded table with deletion vectors enabled (merge-on-read)',
		'cdc1m', (ctx) => changeCount(ctx.rows), 'merge_10k_dv', true),
	mergeOp('merge_10k_dv', 'merge_10k into the loaded table with deletion vectors enabled (merge-on-read)',
		'cdc10k', (ctx) => Math.ceil(changeCount(ctx.rows) / 100), undefined, true),
];
