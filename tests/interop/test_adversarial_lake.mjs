// test_adversarial_lake.mjs — adversarial checks of three recent lake-table
// changes, against DuckDB as the reference:
//
//   autocompact  auto-compaction after merge/apply (table_compact.c) on a
//                partitioned + bucketed copy-on-write table and a
//                partitioned merge-on-read (DV) table, with a column added
//                half way (schema evolution), through 10-commit checkpoints:
//                every version (before and after each OPTIMIZE commit) read
//                by time travel equals DuckDB's state of that run; vacuum
//                keeps the latest readable; `table history` shows OPTIMIZE.
//   lean         the DMS initial load's two-pass path (dms_merge.c lean_plan:
//                a first run from Parquet files of the same columns) against
//                the one-pass path (taken when --schema is declared) and
//                DuckDB's last-change-per-key: duplicates across files, NULL
//                keys, Op present/absent, full load + CDC in one run, column
//                orders that differ, a column added in a later file, CSV
//                mixed with Parquet, a bad Op value in file 2 (fails naming
//                the file, leaves no table).
//   cow          copy-on-write applies (table_cow.c, table_cow_write.c) on
//                unbucketed, partitioned and bucketed tables: partition moves,
//                a change set with INT32 keys for a BIGINT table, every row of
//                a file deleted, upserts into an empty table, after a column
//                was added, a NOT NULL column refused, SIGKILL at the writer's
//                crash points (the table reads old or new, a rerun is clean).
// Known failures (gated by CL_ADVERSARIAL_KNOWN_FAILURES=1): none open. The two
// this file found (lean load leaving an empty CREATE TABLE after a second-pass
// error; an empty full-load Parquet file not creating a table) were fixed in
// 2d5196a and 0c29adc and their checks run always.
// Env: CHANGELAKE, CL_BUILD. Prints "adversarial_lake: N passed, M failed".
import { DuckDBInstance } from '@duckdb/node-api';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from './lib.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const { decodeDv } = await import(path.join(here, 'dv_decode_min.mjs'));

const build = process.env.CL_BUILD || 'build/san';
const CL = path.resolve(process.env.CHANGELAKE || path.join(build, 'changelake'));
const KNOWN = process.env.CL_ADVERSARIAL_KNOWN_FAILURES === '1';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cl-adv-lake-'));
const t = suite('adversarial_lake');
const ok = t.ok;
const cl = (args, env) => spawnSync(CL, args, { encoding: 'utf8', maxBuffer: 1 << 28, cwd: tmp,
	env: env ? { ...process.env, ...env } : process.env });
const json = (r) => {
	try {
		return JSON.parse(r.stdout);
	} catch {
		return {};
	}
};
const db = await DuckDBInstance.create(':memory:');
const con = await db.connect();
const q = async (sql) => (await con.runAndReadAll(sql)).getRows();
const str = (s) => `'${String(s).replaceAll("'", "''")}'`;

const COLS = { id: 'BIGINT', name: 'VARCHAR', amount: 'INTEGER', region: 'VARCHAR', extra: 'VARCHAR' };

// `changelake cat TABLE[@V]` into DuckDB table `name` (columns: those of
// the header, typed by COLS)
let catN = 0;
async function catTable(table, name) {
	const r = cl(['cat', table, '--to', 'csv']);
	if (r.status !== 0) throw new Error(`cat ${table}: ${r.stderr}`);
	const f = path.join(tmp, `cat-${catN++}.csv`);
	fs.writeFileSync(f, r.stdout);
	const header = r.stdout.split('\n')[0].split(',');
	const cols = header.map((c) => `'${c}': '${COLS[c] || 'VARCHAR'}'`).join(', ');
	await con.run(`CREATE OR REPLACE TABLE ${name} AS SELECT * FROM read_csv(${str(f)}, header = true,
		columns = {${cols}}, auto_detect = false, quote = '"', escape = '"', delim = ',')`);
	return header;
}
// rows of two queries equal as multisets (columns by name: both sides
// select the given columns)
async function sameRows(a, b, cols) {
	const sel = cols.join(', ');
	const r = await q(`SELECT (SELECT count(*) FROM (${a})), (SELECT count(*) FROM (${b})),
		(SELECT count(*) FROM (SELECT ${sel} FROM (${a}) EXCEPT ALL SELECT ${sel} FROM (${b}))),
		(SELECT count(*) FROM (SELECT ${sel} FROM (${b}) EXCEPT ALL SELECT ${sel} FROM (${a})))`);
	const [na, nb, ab, ba] = r[0].map(Number);
	return [na === nb && ab === 0 && ba === 0, `${na} vs ${nb} rows, ${ab} only in the first, ${ba} only in the second`];
}
function logVersions(table) {
	return fs.readdirSync(path.join(table, '_delta_log')).filter((f) => /^\d{20}\.json$/.test(f))
		.map((f) => Number(f.slice(0, 20))).sort((x, y) => x - y);
}
function commitInfo(table, v) {
	const f = path.join(table, '_delta_log', `${String(v).padStart(20, '0')}.json`);
	for (const l of fs.readFileSync(f, 'utf8').split('\n').filter(Boolean)) {
		const a = JSON.parse(l);
		if (a.commitInfo) return a.commitInfo;
	}
	return {};
}

// DuckDB's own read of a table version: the log replayed here (JSON
// commits up to v), the live files read by DuckDB (union by name), rows
// deleted by deletion vectors dropped, partition values from the log.
let dvN = 0;
async function duckRead(table, v, name) {
	const live = new Map();
	let meta = null;
	for (const ver of logVersions(table).filter((x) => x <= v)) {
		const f = path.join(table, '_delta_log', `${String(ver).padStart(20, '0')}.json`);
		const acts = fs.readFileSync(f, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
		for (const a of acts) if (a.remove) live.delete(decodeURIComponent(a.remove.path));
		for (const a of acts) {
			if (a.metaData) meta = a.metaData;
			if (a.add) live.set(decodeURIComponent(a.add.path), a.add);
		}
	}
	const parts = meta.partitionColumns || [];
	const cols = JSON.parse(meta.schemaString).fields.map((x) => x.name);
	await con.run(`CREATE OR REPLACE TABLE dv_rows (fname VARCHAR, rn BIGINT)`);
	const rows = [];
	for (const [p, a] of live)
		if (a.deletionVector)
			for (const r of decodeDv(table, a.deletionVector)) rows.push(`${path.join(table, p)}\t${r}`);
	if (rows.length) {
		const f = path.join(tmp, `dv-rows-${dvN++}.tsv`);
		fs.writeFileSync(f, `fname\trn\n${rows.join('\n')}\n`);
		await con.run(`INSERT INTO dv_rows SELECT * FROM read_csv(${str(f)}, header = true, delim = '\t', quote = '',
			columns = {'fname': 'VARCHAR', 'rn': 'BIGINT'})`);
	}
	if (!live.size) {
		await con.run(`CREATE OR REPLACE TABLE ${name} AS SELECT * FROM ref WHERE false`);
		return cols;
	}
	const vals = [...live.keys()].map((p) => `(${[str(path.join(table, p)),
		...parts.map((c) => (live.get(p).partitionValues[c] == null ? 'NULL' : str(live.get(p).partitionValues[c])))].join(', ')})`);
	const sel = cols.map((c) => (parts.includes(c) ? `CAST(f.p${parts.indexOf(c)} AS ${COLS[c] || 'VARCHAR'}) AS ${c}` : `d.${c}`));
	await con.run(`CREATE OR REPLACE TABLE ${name} AS SELECT ${sel.join(', ')}
		FROM read_parquet([${[...live.keys()].map((p) => str(path.join(table, p))).join(', ')}],
			filename = true, file_row_number = true, union_by_name = true) d
		JOIN (VALUES ${vals.join(', ')}) f(fname${parts.map((_, k) => `, p${k}`).join('')}) ON d.filename = f.fname
		WHERE NOT EXISTS (SELECT 1 FROM dv_rows x WHERE x.fname = d.filename AND x.rn = d.file_row_number)`);
	return cols;
}

// ======================= 1. auto-compaction ==============================
async function autocompact(kind) {
	const REG = kind === 'dvodd' ? `['eu', 'sp ace/é=%', NULL]` : `['eu', 'us', 'ap']`;
	const label = `autocompact ${kind}`;
	const dms = path.join(tmp, `ac-${kind}`, 's', 't');
	const table = path.join(tmp, `lake-ac-${kind}`);
	fs.mkdirSync(dms, { recursive: true });
	await q('SELECT setseed(0.25)');
	await con.run(`CREATE OR REPLACE TABLE ref AS SELECT i::BIGINT AS id, 'n' || i AS name,
		(i * 7 % 1000)::INTEGER AS amount, ${REG}[1 + i % 3] AS region, NULL::VARCHAR AS extra
		FROM range(0, 2000) t(i)`);
	await con.run(`COPY (SELECT * EXCLUDE extra FROM ref) TO ${str(path.join(dms, 'LOAD00000001.parquet'))} (FORMAT parquet)`);
	const args = ['merge', '--source', `dms:${dms}`, '--to', table, '--key', 'id', '--partition-by', 'region',
		'--buckets', '2', '--json'];
	if (kind !== 'cow') args.push('--deletion-vectors');
	if (kind === 'small') args.push('--target-file-size', '6000');
	let r = cl(args);
	if (!ok(r.status === 0, `${label}: load`, r.stderr)) return;
	if (kind === 'cow') {
		r = cl(['table', 'auto-compact', table, 'on']);
		ok(r.status === 0, `${label}: table auto-compact on`, r.stderr);
	}
	const refAt = new Map(); // version -> DuckDB table name of its state
	const snap = async (v) => {
		await con.run(`CREATE OR REPLACE TABLE ref_${kind}_${v} AS SELECT * FROM ref`);
		refAt.set(v, `ref_${kind}_${v}`);
	};
	await snap(logVersions(table).at(-1)); // the load's data commit (earlier: create)
	const firstVersion = logVersions(table).at(-1);
	let compactions = 0, evolved = false;
	const rounds = kind === 'dv' ? 24 : 14;
	for (let round = 1; round <= rounds; round++) {
		const withExtra = round >= rounds / 2; // a column added half way
		await q(`SELECT setseed(${round / 50})`);
		await con.run(`CREATE OR REPLACE TABLE cdc AS
			SELECT 'U' AS Op, id, name || '+' AS name, amount - 1 AS amount,
			  -- an update moves a row to another partition now and then
			  CASE WHEN id % 5 = ${round % 5} THEN ${REG}[1 + (id + ${round}) % 3] ELSE region END AS region,
			  ${withExtra ? `'x' || ${round}` : 'NULL'} AS extra
			  FROM ref WHERE random() < 0.01 AND hash(id + ${round}) % 97 <> 0 ${kind === 'cow' ? `AND region = 'eu'` : ''}
			UNION ALL SELECT 'D', id, NULL, NULL, NULL, NULL FROM ref WHERE hash(id + ${round}) % 97 = 0 ${kind === 'cow' ? `AND region = 'eu'` : ''}
			UNION ALL SELECT 'I', 100000 + ${round} * 10 + i, 'new' || i, i::INTEGER, ${REG}[1 + i % 3],
			  ${withExtra ? `'e' || i` : 'NULL'} FROM range(0, 6) t(i)`);
		await con.run(`COPY (SELECT * ${withExtra ? '' : 'EXCLUDE extra'} FROM cdc)
			TO ${str(path.join(dms, `20240101-10${String(round).padStart(2, '0')}00000.parquet`))} (FORMAT parquet)`);
		r = cl(['merge', '--source', `dms:${dms}`, '--to', table, '--key', 'id', '--json']);
		if (!ok(r.status === 0, `${label} run ${round}: merge`, r.stderr)) return;
		evolved ||= withExtra;
		await con.run(`CREATE OR REPLACE TABLE ref AS SELECT * FROM ref WHERE id NOT IN (SELECT id FROM cdc)
			UNION ALL SELECT id, name, amount, region, extra FROM cdc WHERE Op <> 'D'`);
		const js = json(r);
		await snap(js.version);
		if (js.auto_compaction && js.auto_compaction.version != null) {
			compactions++;
			await snap(js.auto_compaction.version);
		}
	}
	ok(compactions >= 1, `${label}: ${compactions} auto-compactions in ${rounds} runs`);
	const versions = logVersions(table);
	const cps = fs.readdirSync(path.join(table, '_delta_log')).filter((f) => /checkpoint/.test(f));
	ok(cps.length >= 1, `${label}: ${versions.length} commits, checkpoints written (${cps.length})`);
	// every version by time travel
	let bad = [];
	// every version of the 'dv' table; the OPTIMIZE commits, the versions
	// before them and the last few of the others
	const optSet = new Set(versions.filter((x) => commitInfo(table, x).operation === 'OPTIMIZE'));
	const checked = kind === 'dv' ? versions
		: versions.filter((v) => optSet.has(v) || optSet.has(v + 1) || v >= versions.at(-3));
	for (const v of checked) {
		if (v < firstVersion) continue;
		// a schema commit (the column added) reads like the version before
		if (!refAt.get(v) && commitInfo(table, v).operation === 'ADD COLUMNS' && refAt.get(v - 1))
			refAt.set(v, refAt.get(v - 1));
		const want = refAt.get(v);
		if (!want) {
			bad.push(`v${v}: no reference (an unexpected commit: ${commitInfo(table, v).operation})`);
			continue;
		}
		const header = await catTable(`${table}@${v}`, 'got');
		const cols = header.filter((c) => c in COLS);
		const [same, why] = await sameRows('SELECT * FROM got', `SELECT * FROM ${want}`, cols);
		if (!same) bad.push(`v${v} (${commitInfo(table, v).operation}): ${why}`);
	}
	ok(bad.length === 0, `${label}: ${checked.length} of ${versions.length} versions read by time travel equal DuckDB's state`, bad.join('; '));
	// DuckDB's own read of the files of the OPTIMIZE versions and the
	// versions before them
	let dbad = [], dn = 0;
	for (const v of versions.filter((x) => optSet.has(x) || optSet.has(x + 1))) {
		if (v < firstVersion || !refAt.get(v)) continue;
		const cols = await duckRead(table, v, 'dgot');
		const [same, why] = await sameRows('SELECT * FROM dgot', `SELECT * FROM ${refAt.get(v)}`, cols.filter((c) => c in COLS));
		dn++;
		if (!same) dbad.push(`v${v} (${commitInfo(table, v).operation}): ${why}`);
	}
	ok(dn > 0 && dbad.length === 0, `${label}: DuckDB's read of the live files of ${dn} versions around OPTIMIZE commits equals its state`, dbad.join('; '));
	// time travel by timestamp to the OPTIMIZE commits (the version current
	// then) and to just before them
	let tbad = [], tn = 0;
	for (const v of versions.filter((x) => commitInfo(table, x).operation === 'OPTIMIZE')) {
		const ts = commitInfo(table, v).timestamp, prev = commitInfo(table, v - 1).timestamp;
		const next = versions.includes(v + 1) ? commitInfo(table, v + 1).timestamp : Infinity;
		if (!(prev < ts && ts < next)) continue;
		for (const [at, want] of [[ts, v], [ts - 1, v - 1]]) {
			if (at - 1 < prev && want === v - 1 && at < prev) continue;
			const header = await catTable(`${table}@${new Date(at).toISOString()}`, 'got');
			const [same, why] = await sameRows('SELECT * FROM got', `SELECT * FROM ${refAt.get(want)}`, header.filter((c) => c in COLS));
			tn++;
			if (!same) tbad.push(`@${new Date(at).toISOString()} (v${want}): ${why}`);
		}
	}
	ok(tbad.length === 0, `${label}: ${tn} reads by timestamp at / just before OPTIMIZE commits equal DuckDB's state`, tbad.join('; '));
	// an OPTIMIZE version equals the version before it
	const opt = versions.filter((v) => commitInfo(table, v).operation === 'OPTIMIZE');
	ok(opt.length === compactions, `${label}: ${opt.length} OPTIMIZE commits in the log`);
	r = cl(['table', 'history', table]);
	ok(r.status === 0 && (r.stdout.match(/OPTIMIZE/g) || []).length === opt.length,
		`${label}: table history lists the ${opt.length} OPTIMIZE commits`, r.stdout.slice(0, 500) + r.stderr);
	// vacuum: latest unchanged
	r = cl(['vacuum', table, '--retain', '0s', '-q']);
	ok(r.status === 0, `${label}: vacuum --retain 0s`, r.stderr);
	const header = await catTable(table, 'got');
	const [same, why] = await sameRows('SELECT * FROM got', 'SELECT * FROM ref', header.filter((c) => c in COLS));
	ok(same && (!evolved || header.includes('extra')), `${label}: after vacuum the table equals DuckDB's state`, why + header);
	// one more run after vacuum and checkpoints: still right
	r = cl(['compact', table, '-q']);
	ok(r.status === 0, `${label}: explicit compact after vacuum`, r.stderr);
	await catTable(table, 'got');
	const [s2, w2] = await sameRows('SELECT * FROM got', 'SELECT * FROM ref', header.filter((c) => c in COLS));
	ok(s2, `${label}: after an explicit compact the table equals DuckDB's state`, w2);
}

// SIGKILL inside the compaction (its data files; the data commit of a
// deletes-only apply on a DV table writes deletion vectors only): the data
// commit stands, the table reads it, the next run compacts, vacuum keeps it.
async function compactCrash() {
	await con.run(`CREATE OR REPLACE TABLE cref AS SELECT i::BIGINT AS id, ['eu', 'us'][1 + i % 2] AS region, 'n' || i AS name FROM range(0, 4000) t(i)`);
	const del = path.join(tmp, 'cc-del.parquet'), ins = path.join(tmp, 'cc-ins.parquet');
	await con.run(`COPY (SELECT 'D' AS diff, id, region, name FROM cref WHERE id % 5 = 0) TO ${str(del)} (FORMAT parquet)`);
	await con.run(`COPY (SELECT 'I' AS diff, 90000 + id AS id, region, name FROM cref WHERE id < 3) TO ${str(ins)} (FORMAT parquet)`);
	const dms = path.join(tmp, 'cc', 's', 't');
	fs.mkdirSync(dms, { recursive: true });
	await con.run(`COPY cref TO ${str(path.join(dms, 'LOAD00000001.parquet'))} (FORMAT parquet)`);
	const count = (t) => {
		const c = cl(['cat', t, '--to', 'csv']);
		return c.status === 0 ? c.stdout.trim().split('\n').length - 1 : -1;
	};
	for (const point of ['data-file-writing:1', 'data-file-closed:1', 'data-file-published:1']) {
		const L = `autocompact crash in the compaction at ${point}`;
		const table = path.join(tmp, `cc-lake-${point.replace(/\W/g, '_')}`);
		let r = cl(['merge', '--source', `dms:${dms}`, '--to', table, '--key', 'id', '--buckets', '2', '--deletion-vectors', '-q']);
		const v0 = logVersions(table).at(-1);
		r = cl(['apply', del, '--to', table, '--key', 'id', '-q'], { CL_CRASH_AT: point });
		ok(r.signal === 'SIGKILL' && logVersions(table).at(-1) === v0 + 1 && count(table) === 3200,
			`${L}: killed after the data commit, the table reads it`, `${r.signal} ${r.status} ${logVersions(table)} ${count(table)}`);
		r = cl(['apply', ins, '--to', table, '--key', 'id', '--json']);
		const ac = json(r).auto_compaction || {};
		ok(r.status === 0 && ac.version === v0 + 3 && ac.deletion_vectors_purged > 0 && count(table) === 3203,
			`${L}: the next run compacts`, JSON.stringify(ac) + r.stderr);
		r = cl(['vacuum', table, '--retain', '0s', '-q']);
		ok(r.status === 0 && count(table) === 3203, `${L}: vacuum keeps the table`, r.stderr);
	}
}

// sync of two tables (merge-on-read partitioned; copy-on-write), every
// other pass with --auto-compact: each table equals DuckDB's state after
// every pass, the DV table compacts
async function syncCompact() {
	const root = path.join(tmp, 'sync-root'), lake = path.join(tmp, 'sync-lake');
	await con.run(`CREATE OR REPLACE TABLE scur AS SELECT i::BIGINT AS id, ['eu', 'us'][1 + i % 2] AS region, 'n' || i AS name FROM range(0, 2000) t(i)`);
	for (const t of ['t1', 't2']) {
		fs.mkdirSync(path.join(root, 's', t), { recursive: true });
		await con.run(`COPY scur TO ${str(path.join(root, 's', t, 'LOAD00000001.parquet'))} (FORMAT parquet)`);
	}
	let r = cl(['tables', 'set', 's/t1', '--lake', lake, '--key', 'id', '--deletion-vectors', '--partition-by', 'region', '--active', '-q']);
	r = r.status ? r : cl(['tables', 'set', 's/t2', '--lake', lake, '--key', 'id', '--active', '-q']);
	r = r.status ? r : cl(['sync', root, '--lake', lake, '-q']);
	if (!ok(r.status === 0, 'sync: tables set, first pass', r.stderr)) return;
	const comp = { t1: 0, t2: 0 };
	let bad = [];
	for (let round = 1; round <= 12; round++) {
		await con.run(`CREATE OR REPLACE TABLE ch AS SELECT 'U' AS Op, id, region, name || '${round}' AS name FROM scur WHERE hash(id + ${round}) % 40 = 0
			UNION ALL SELECT 'D', id, NULL, NULL FROM scur WHERE hash(id + ${round}) % 40 = 1
			UNION ALL SELECT 'I', 50000 + ${round} * 10 + i, ['eu', 'us'][1 + i % 2], 'i' FROM range(3) t(i)`);
		for (const t of ['t1', 't2'])
			await con.run(`COPY ch TO ${str(path.join(root, 's', t, `20240101-10${String(round).padStart(2, '0')}00000.parquet`))} (FORMAT parquet)`);
		r = cl(['sync', root, '--lake', lake, '--json', ...(round % 2 ? ['--auto-compact'] : [])]);
		if (!ok(r.status === 0, `sync pass ${round}`, r.stderr)) return;
		for (const l of r.stdout.split('\n').filter(Boolean)) {
			const j = JSON.parse(l);
			if (j.auto_compaction && j.auto_compaction.version != null) comp[j.table.endsWith('t1') ? 't1' : 't2']++;
		}
		await con.run(`CREATE OR REPLACE TABLE scur AS SELECT * FROM scur WHERE id NOT IN (SELECT id FROM ch)
			UNION ALL SELECT id, region, name FROM ch WHERE Op <> 'D'`);
		for (const t of ['t1', 't2']) {
			await catTable(path.join(lake, 's', t), 'got');
			const [same, why] = await sameRows('SELECT * FROM got', 'SELECT * FROM scur', ['id', 'region', 'name']);
			if (!same) bad.push(`pass ${round} ${t}: ${why}`);
		}
	}
	ok(bad.length === 0, 'sync: both tables equal DuckDB\'s state after every pass', bad.join('; '));
	ok(comp.t1 >= 2, `sync: the merge-on-read table auto-compacted ${comp.t1} times (copy-on-write: ${comp.t2})`);
}

// ======================= 2. the DMS lean initial load =====================
// Each scenario: files (name -> SQL), expected = last change per key
// (full load first, then file name order, then row), 'D' deletes.
async function leanScenario(name, files, opts = {}) {
	const label = `lean ${name}`;
	const base = path.join(tmp, `lean-${name.replace(/\W+/g, '_')}`);
	const outs = [];
	for (const mode of ['lean', 'declared']) {
		const dms = path.join(base, mode, 's', 't');
		fs.mkdirSync(dms, { recursive: true });
		let idx = 0;
		const parts = [];
		for (const [fname, sql, fmt] of files) {
			const f = path.join(dms, fname);
			if ((fmt || 'parquet') === 'parquet') await con.run(`COPY (${sql}) TO ${str(f)} (FORMAT parquet, ROW_GROUP_SIZE 700)`);
			else await con.run(`COPY (${sql}) TO ${str(f)} (FORMAT csv, HEADER true)`);
			if (mode === 'lean') {
				await con.run(`CREATE OR REPLACE TABLE f${idx} AS ${sql}`);
				const hasOp = (await q(`SELECT count(*) FROM information_schema.columns WHERE table_name = 'f${idx}' AND column_name = 'Op'`))[0][0];
				const hasExtra = (await q(`SELECT count(*) FROM information_schema.columns WHERE table_name = 'f${idx}' AND column_name = 'extra'`))[0][0];
				parts.push(`SELECT ${Number(hasOp) ? 'Op' : `'I'`} AS Op, id, name, amount, region,
					${Number(hasExtra) ? 'extra' : 'NULL::VARCHAR'} AS extra, ${fname.startsWith('LOAD') ? 0 : 1} AS grp,
					${idx} AS fi, row_number() OVER () AS rn FROM f${idx}`);
			}
			idx++;
		}
		if (mode === 'lean') {
			await con.run(`CREATE OR REPLACE TABLE lean_ref AS SELECT id, name, amount, region, extra FROM (
				SELECT *, row_number() OVER (PARTITION BY ${opts.key || 'id'} ORDER BY grp DESC, fi DESC, rn DESC) AS k FROM (${parts.join(' UNION ALL ')}))
				WHERE k = 1 AND Op <> 'D'`);
		}
		const table = path.join(base, `table-${mode}`);
		const args = ['merge', '--source', `dms:${dms}`, '--to', table, '--key', opts.key || 'id', '--json', ...(opts.layout || [])];
		if (mode === 'declared') {
			const sf = path.join(base, 'schema.txt');
			fs.writeFileSync(sf, `id int64\nname string\namount int32\nregion string\n${opts.extra ? 'extra string\n' : ''}`);
			args.push('--schema', sf);
		}
		const r = cl(args);
		if (opts.fail) {
			ok(r.status === 2 && opts.fail.test(r.stderr), `${label} (${mode}): fails naming the file/row/column`, `exit ${r.status}: ${r.stderr}`);
			ok(!fs.existsSync(path.join(table, '_delta_log')) ||
				logVersions(table).length === 0, `${label} (${mode}): no table left`);
			continue;
		}
		if (!ok(r.status === 0, `${label} (${mode}): merge`, r.stderr)) continue;
		const c = cl(['cat', table, '--to', 'csv']);
		outs.push(c.stdout);
		const header = await catTable(table, 'got');
		const cols = header.filter((x) => x in COLS);
		const [same, why] = await sameRows('SELECT * FROM got', 'SELECT * FROM lean_ref', cols);
		ok(same && (!opts.extra || header.includes('extra')), `${label} (${mode}): table equals DuckDB's last change per key`, why + ' ' + header);
	}
	if (outs.length === 2)
		ok(outs[0] === outs[1], `${label}: lean and one-pass tables read the same rows in the same order`,
			`${outs[0].slice(0, 300)} vs ${outs[1].slice(0, 300)}`);
}

async function lean() {
	await con.run(`CREATE OR REPLACE TABLE src AS SELECT i::BIGINT AS id, 'n' || i AS name,
		CASE WHEN i % 13 = 0 THEN NULL ELSE (i * 7 % 1000)::INTEGER END AS amount, ['eu', 'us', NULL][1 + i % 3] AS region
		FROM range(0, 5000) t(i)`);
	const L = (w) => `SELECT id, name, amount, region FROM src WHERE ${w}`;
	await leanScenario('two loads, duplicates across files', [
		['LOAD00000001.parquet', L('id < 3000')],
		['LOAD00000002.parquet', `SELECT id, name || '#2' AS name, amount, region FROM src WHERE id >= 2500 UNION ALL ${L('id < 10')}`],
	]);
	await leanScenario('duplicates within a file and NULL keys', [
		['LOAD00000001.parquet', `${L('true')} UNION ALL SELECT id, name || '#dup', amount + 1, region FROM src WHERE id % 100 = 0
			UNION ALL SELECT NULL, 'nullkey1', 1, 'eu' UNION ALL SELECT NULL, 'nullkey2', 2, 'us'`],
		['LOAD00000002.parquet', `SELECT NULL::BIGINT AS id, 'nullkey3' AS name, 3 AS amount, 'ap' AS region`],
	]);
	await leanScenario('Op present in loads, CDC in the same run', [
		['LOAD00000001.parquet', `SELECT 'I' AS Op, * FROM (${L('id < 4000')})`],
		['LOAD00000002.parquet', `SELECT 'I' AS Op, * FROM (${L('id >= 4000')})`],
		['20240101-100000000.parquet', `SELECT 'U' AS Op, id, name || '*' AS name, amount, region FROM src WHERE id % 7 = 0
			UNION ALL SELECT 'D', id, NULL, NULL, NULL FROM src WHERE id % 11 = 0
			UNION ALL SELECT 'I', 90000 + id, 'ins', 1, 'eu' FROM src WHERE id < 5`],
	]);
	await leanScenario('Op in one load file only', [
		['LOAD00000001.parquet', L('id < 2000')],
		['LOAD00000002.parquet', `SELECT 'I' AS Op, * FROM (${L('id >= 2000')})`],
	]);
	await leanScenario('column order differs in file 2', [
		['LOAD00000001.parquet', L('id < 2000')],
		['LOAD00000002.parquet', `SELECT region, amount, name, id FROM src WHERE id >= 1500`],
	]);
	await leanScenario('a column added in a later load file', [
		['LOAD00000001.parquet', L('id < 2000')],
		['LOAD00000002.parquet', `SELECT id, name, amount, region, 'x' || id AS extra FROM src WHERE id >= 1500`],
	], { extra: true });
	await leanScenario('a type that differs in file 2 (int64 amount)', [
		['LOAD00000001.parquet', L('id < 2000')],
		['LOAD00000002.parquet', `SELECT id, name, amount::BIGINT AS amount, region FROM src WHERE id >= 1500`],
	], { declaredDiffers: true });
	await leanScenario('CSV mixed with Parquet', [
		['LOAD00000001.parquet', L('id < 2000')],
		['LOAD00000002.csv', L('id >= 1500'), 'csv'],
	]);
	await leanScenario('an empty load file between two', [
		['LOAD00000001.parquet', L('id < 2000')],
		['LOAD00000002.parquet', L('false')],
		['LOAD00000003.parquet', `SELECT id, name || '#3' AS name, amount, region FROM src WHERE id >= 1000`],
	]);
	await leanScenario('CDC files only in the first run', [
		['20240101-100000000.parquet', `SELECT 'I' AS Op, * FROM (${L('id < 3000')})`],
		['20240101-110000000.parquet', `SELECT 'U' AS Op, id, name || 'u' AS name, amount, region FROM src WHERE id % 3 = 0 AND id < 3000
			UNION ALL SELECT 'D', id, NULL, NULL, NULL FROM src WHERE id % 5 = 0 AND id < 3000`],
	]);
	await leanScenario('a later row deletes then reinserts', [
		['LOAD00000001.parquet', L('id < 1000')],
		['20240101-100000000.parquet', `SELECT * FROM (SELECT 'D' AS Op, id, NULL AS name, NULL::INTEGER AS amount, NULL AS region FROM src WHERE id < 500
			UNION ALL SELECT 'I', id, 'again', 2, 'eu' FROM src WHERE id < 250) ORDER BY Op`],
	]);
	// the same files into partitioned / bucketed / merge-on-read new tables,
	// and with a two-column key (NULL parts)
	const mixed = [
		['LOAD00000001.parquet', `SELECT 'I' AS Op, * FROM (${L('id < 3000')})`],
		['LOAD00000002.parquet', `SELECT 'I' AS Op, * FROM (${L('id >= 2500')}) UNION ALL SELECT 'I', NULL, 'nk', 1, 'eu'`],
		['20240101-100000000.parquet', `SELECT 'U' AS Op, id, name || '*' AS name, amount,
			CASE WHEN id % 2 = 0 THEN 'us' ELSE region END AS region FROM src WHERE id % 7 = 0
			UNION ALL SELECT 'D', id, NULL, NULL, NULL FROM src WHERE id % 11 = 0 AND id % 7 <> 0`],
	];
	for (const layout of [['--partition-by', 'region'], ['--buckets', '3'], ['--partition-by', 'region', '--buckets', '2', '--deletion-vectors'],
		['--deletion-vectors']])
		await leanScenario(`layout ${layout.join(' ')}`, mixed, { layout });
	await leanScenario('two-column key with NULL parts', [
		['LOAD00000001.parquet', L('true')],
		['LOAD00000002.parquet', `SELECT id % 100 AS id, name || '#2' AS name, amount, region FROM src WHERE id % 9 = 0`],
	], { key: 'id,region' });
	await leanScenario('bad Op value in file 2', [
		['LOAD00000001.parquet', `SELECT 'I' AS Op, * FROM (${L('id < 2000')})`],
		['LOAD00000002.parquet', `SELECT CASE WHEN id = 2100 THEN 'Z' ELSE 'I' END AS Op, * FROM (${L('id >= 2000')})`],
	], { fail: /LOAD00000002\.parquet.*(row|line) \d+/ });
}

// a first run whose only full-load file is an empty Parquet file (0 rows,
// columns id, name) creates an empty table with the file's columns
async function emptyLoad() {
	const dms = path.join(tmp, 'empty-load', 's', 't');
	fs.mkdirSync(dms, { recursive: true });
	await con.run(`COPY (SELECT 1::BIGINT AS id, 'x' AS name WHERE false) TO ${str(path.join(dms, 'LOAD00000001.parquet'))} (FORMAT parquet)`);
	const table = path.join(tmp, 'empty-load-lake');
	const r = cl(['merge', '--source', `dms:${dms}`, '--to', table, '--key', 'id']);
	const c = cl(['cat', table, '--to', 'csv']);
	ok(r.status === 0 && c.status === 0 && c.stdout.trim() === 'id,name',
		'lean an empty full-load Parquet file creates an empty table', `exit ${r.status}: ${r.stderr} / cat: ${c.stdout}${c.stderr}`);
}

async function leanCorrupt() {
	const label = 'lean invalid UTF-8 in a non-key column of file 2';
	for (const mode of ['lean', 'declared']) {
		const base = path.join(tmp, `lean-utf8-${mode}`);
		const dms = path.join(base, 's', 't');
		fs.mkdirSync(dms, { recursive: true });
		await con.run(`COPY (SELECT i::BIGINT AS id, 'n' || i AS name FROM range(0, 3000) t(i))
			TO ${str(path.join(dms, 'LOAD00000001.parquet'))} (FORMAT parquet, COMPRESSION uncompressed)`);
		const f2 = path.join(dms, 'LOAD00000002.parquet');
		await con.run(`COPY (SELECT i::BIGINT AS id, CASE WHEN i = 3500 THEN 'QQMARKQQ' ELSE 'n' || i END AS name FROM range(3000, 4000) t(i))
			TO ${str(f2)} (FORMAT parquet, COMPRESSION uncompressed, ROW_GROUP_SIZE 100000)`);
		const buf = fs.readFileSync(f2);
		const at = buf.indexOf('QQMARKQQ');
		buf[at + 2] = 0xff;
		buf[at + 3] = 0xfe;
		fs.writeFileSync(f2, buf);
		const table = path.join(base, 'table');
		const args = ['merge', '--source', `dms:${dms}`, '--to', table, '--key', 'id'];
		if (mode === 'declared') {
			fs.writeFileSync(path.join(base, 'schema.txt'), 'id int64\nname string\n');
			args.push('--schema', path.join(base, 'schema.txt'));
		}
		const r = cl(args);
		const noTable = !fs.existsSync(path.join(table, '_delta_log')) || logVersions(table).length === 0;
		ok(at > 0 && r.status === 2 && /LOAD00000002\.parquet/.test(r.stderr) && /name/.test(r.stderr) && /row \d+/.test(r.stderr),
			`${label} (${mode}): fails naming the file, row and column`, `exit ${r.status}: ${r.stderr}`);
		// the two-pass load finds the bad value in its second pass, while
		// writing: the table's creation is part of the data commit, so none
		// is left behind
		ok(noTable, `${label} (${mode}): no table left behind`, `versions ${noTable ? '' : logVersions(table).join(',')}`);
	}
}

// --timestamp-column on the lean path; SIGKILL at every commit point of a
// lean first run, then a rerun: the table a clean run gives
async function leanCrash() {
	const dms = path.join(tmp, 'lean-ts', 's', 't');
	fs.mkdirSync(dms, { recursive: true });
	await con.run(`COPY (SELECT 'I' AS Op, TIMESTAMP '2024-01-01' + INTERVAL 1 SECOND * r AS ts, r::BIGINT AS id, 'n' || r AS name FROM range(5000) t(r))
		TO ${str(path.join(dms, 'LOAD00000001.parquet'))} (FORMAT parquet, ROW_GROUP_SIZE 1000)`);
	await con.run(`COPY (SELECT 'I' AS Op, TIMESTAMP '2024-01-02' + INTERVAL 1 SECOND * r AS ts, (r * 2)::BIGINT AS id, 'm' || r AS name FROM range(3000) t(r))
		TO ${str(path.join(dms, 'LOAD00000002.parquet'))} (FORMAT parquet, ROW_GROUP_SIZE 1000)`);
	await con.run(`COPY (SELECT 'U' AS Op, TIMESTAMP '2024-01-03' AS ts, (r * 3)::BIGINT AS id, 'u' || r AS name FROM range(1000) t(r))
		TO ${str(path.join(dms, '20240103-000000000.parquet'))} (FORMAT parquet)`);
	const sf = path.join(tmp, 'lean-ts.schema');
	fs.writeFileSync(sf, 'ts timestamp\nid int64\nname string\n');
	const run = (t, extra, env) => cl(['merge', '--source', `dms:${dms}`, '--to', t, '--key', 'id', '-q', ...extra], env);
	const ta = path.join(tmp, 'lean-ts-a'), tb = path.join(tmp, 'lean-ts-b');
	const ra = run(ta, ['--timestamp-column', 'ts']), rb = run(tb, ['--timestamp-column', 'ts', '--schema', sf]);
	const ca = cl(['cat', ta, '--to', 'csv']).stdout, cb = cl(['cat', tb, '--to', 'csv']).stdout;
	ok(ra.status === 0 && rb.status === 0 && ca === cb && ca.split('\n').length === 5502,
		'lean --timestamp-column: lean and one-pass tables read the same', `${ra.stderr}${rb.stderr} ${ca.length} ${cb.length}`);
	const clean = cl(['cat', ta, '--to', 'csv']).stdout;
	// a first run is one commit (version 0: the table and its data)
	for (const point of ['data-file-writing:1', 'data-file-published:1', 'store-put-staged:1', 'commit-before-publish:1',
		'commit-after-publish:1']) {
		const t = path.join(tmp, `lean-crash-${point.replace(/\W/g, '_')}`);
		const k = run(t, [], { CL_CRASH_AT: point });
		const r = run(t, []);
		const c = cl(['cat', t, '--to', 'csv']);
		ok(k.signal === 'SIGKILL' && r.status === 0 && c.stdout === clean, `lean crash at ${point}: killed, the rerun gives the clean run's table`,
			`${k.signal} ${r.status} ${r.stderr} ${c.stderr}`);
	}
}

// ======================= 3. copy-on-write applies ========================
async function cowTable(label, layout, extraArgs = []) {
	const dms = path.join(tmp, `cow-${label}`, 's', 't');
	const table = path.join(tmp, `lake-cow-${label}`);
	fs.mkdirSync(dms, { recursive: true });
	await con.run(`COPY (SELECT * EXCLUDE extra FROM ref) TO ${str(path.join(dms, 'LOAD00000001.parquet'))} (FORMAT parquet, ROW_GROUP_SIZE 500)`);
	const r = cl(['merge', '--source', `dms:${dms}`, '--to', table, '--key', 'id', '--no-auto-compact',
		...layout, ...extraArgs]);
	ok(r.status === 0, `cow ${label}: created`, r.stderr);
	return { table, dms };
}
async function applyCheck(label, table, chSql, opts = {}) {
	await con.run(`CREATE OR REPLACE TABLE ch AS ${chSql}`);
	const chf = path.join(tmp, `ch-${label.replace(/\W+/g, '_')}.parquet`);
	await con.run(`COPY ch TO ${str(chf)} (FORMAT parquet)`);
	const r = cl(['apply', chf, '--to', table, '--key', 'id', '--no-auto-compact', '--json'], opts.env);
	if (opts.expectFail) {
		ok(r.status === 2 && opts.expectFail.test(r.stderr), `${label}: refused`, `exit ${r.status}: ${r.stderr}`);
	} else {
		if (!ok(r.status === 0, `${label}: apply`, r.stderr)) return r;
		await con.run(`CREATE OR REPLACE TABLE ref AS SELECT * FROM ref WHERE id NOT IN (SELECT id FROM ch)
			UNION ALL SELECT id, name, amount, region, ${opts.extra ? 'extra' : 'NULL::VARCHAR'} FROM ch WHERE diff <> 'D'`);
	}
	const header = await catTable(table, 'got');
	const [same, why] = await sameRows('SELECT * FROM got', 'SELECT * FROM ref', header.filter((c) => c in COLS));
	ok(same, `${label}: the table equals DuckDB's state`, why);
	return r;
}
async function cow() {
	const layouts = [
		['plain', []],
		['part', ['--partition-by', 'region']],
		['bucketed', ['--buckets', '3']],
		['part_bucketed', ['--partition-by', 'region', '--buckets', '2']],
	];
	for (const [lname, layout] of layouts) {
		await con.run(`CREATE OR REPLACE TABLE ref AS SELECT i::BIGINT AS id, 'n' || i AS name,
			(i * 7 % 1000)::INTEGER AS amount, ['eu', 'us', 'ap'][1 + i % 3] AS region, NULL::VARCHAR AS extra
			FROM range(0, 6000) t(i)`);
		const { table, dms } = await cowTable(lname, layout);
		const L = `cow ${lname}`;
		await applyCheck(`${L} partition moves`, table, `SELECT 'C' AS diff, id, name || '>' AS name, amount,
			CASE region WHEN 'eu' THEN 'us' WHEN 'us' THEN 'ap' ELSE 'eu' END AS region FROM ref WHERE id % 17 = 0
			UNION ALL SELECT 'I', 50000 + i, 'i', i::INTEGER, 'us' FROM range(0, 10) t(i)
			UNION ALL SELECT 'D', id, NULL, NULL, NULL FROM ref WHERE id % 19 = 1 AND id % 17 <> 0`);
		await applyCheck(`${L} INT32 keys in the change set`, table, `SELECT 'C' AS diff, id::INTEGER AS id, name || '32' AS name,
			amount, region FROM ref WHERE id % 23 = 2
			UNION ALL SELECT 'I', (60000 + i)::INTEGER, 'i32', i::INTEGER, 'eu' FROM range(0, 7) t(i)`);
		// every row of region 'ap' (a whole partition / many whole files)
		await applyCheck(`${L} every row of a partition deleted`, table,
			`SELECT 'D' AS diff, id, NULL::VARCHAR AS name, NULL::INTEGER AS amount, NULL::VARCHAR AS region FROM ref WHERE region = 'ap'`);
		await applyCheck(`${L} every row deleted`, table,
			`SELECT 'D' AS diff, id, NULL::VARCHAR AS name, NULL::INTEGER AS amount, NULL::VARCHAR AS region FROM ref`);
		await applyCheck(`${L} upserts into the emptied table`, table,
			`SELECT 'I' AS diff, i::BIGINT AS id, 'back' || i AS name, i::INTEGER AS amount, ['eu', 'us', 'ap'][1 + i % 3] AS region FROM range(0, 3000) t(i)`);
		// a column added by a CDC merge, then applies without and with it
		await con.run(`COPY (SELECT 'U' AS Op, id, name, amount, region, 'ev' || id AS extra FROM ref WHERE id % 5 = 0)
			TO ${str(path.join(dms, '20240101-100000000.parquet'))} (FORMAT parquet)`);
		const r = cl(['merge', '--source', `dms:${dms}`, '--to', table, '--key', 'id', '--no-auto-compact']);
		ok(r.status === 0, `${L}: CDC merge adds column extra`, r.stderr);
		await con.run(`UPDATE ref SET extra = 'ev' || id WHERE id % 5 = 0`);
		// an apply whose change set lacks 'extra' is refused (the table unchanged)
		await applyCheck(`${L} after schema evolution, change set without the new column`, table,
			`SELECT 'C' AS diff, id, name || '~' AS name, amount, region FROM ref WHERE id % 10 = 5`, { expectFail: /extra/ });
		await applyCheck(`${L} after schema evolution, change set with it`, table,
			`SELECT 'C' AS diff, id, name, amount + 1 AS amount, region, 'new' AS extra FROM ref WHERE id % 9 = 4
			 UNION ALL SELECT 'I', 70000 + i, 'z', 1, 'ap', NULL FROM range(0, 3) t(i)`, { extra: true });
	}
	// partition transforms (ts:day, ts:month + special-character and NULL
	// partition values), copy-on-write and merge-on-read, rows moving
	// between partitions and into / out of NULL partitions
	{
		await con.run(`CREATE OR REPLACE TABLE tp AS SELECT i::BIGINT AS id, CASE WHEN i % 10 = 0 THEN NULL
			ELSE TIMESTAMP '2024-01-01' + INTERVAL 1 HOUR * (i * 7) END AS ts,
			CASE WHEN i % 7 = 0 THEN NULL ELSE ['a b', 'é/x', 'y=z%'][1 + i % 3] END AS reg, 'n' || i AS name FROM range(0, 3000) t(i)`);
		await con.run(`CREATE OR REPLACE TABLE tpch AS SELECT 'C' AS diff, id, CASE WHEN id % 4 = 0 THEN NULL
			ELSE coalesce(ts, TIMESTAMP '2023-05-05') + INTERVAL 40 DAY END AS ts, CASE WHEN id % 5 = 0 THEN NULL ELSE 'y=z%' END AS reg,
			name || '!' AS name FROM tp WHERE id % 3 = 0
			UNION ALL SELECT 'D', id, NULL, NULL, NULL FROM tp WHERE id % 3 = 1 AND id % 2 = 0
			UNION ALL SELECT 'I', 10000 + i, NULL, NULL, 'ins' FROM range(0, 5) t(i)`);
		await con.run(`CREATE OR REPLACE TABLE tp2 AS SELECT * FROM tp WHERE id NOT IN (SELECT id FROM tpch)
			UNION ALL SELECT id, ts, reg, name FROM tpch WHERE diff <> 'D'`);
		const chf = path.join(tmp, 'tp-ch.parquet');
		await con.run(`COPY tpch TO ${str(chf)} (FORMAT parquet)`);
		for (const layout of [['--partition-by', 'ts:day'], ['--partition-by', 'ts:month,reg', '--buckets', '2'],
			['--partition-by', 'reg,ts:hour', '--deletion-vectors']]) {
			const L = `cow transforms ${layout.join(' ')}`;
			const dms = path.join(tmp, `tp-${layout.join('_').replace(/\W+/g, '_')}`, 's', 't');
			const table = `${dms}-lake`;
			fs.mkdirSync(dms, { recursive: true });
			await con.run(`COPY tp TO ${str(path.join(dms, 'LOAD00000001.parquet'))} (FORMAT parquet)`);
			let r = cl(['merge', '--source', `dms:${dms}`, '--to', table, '--key', 'id', '-q', ...layout]);
			ok(r.status === 0, `${L}: created`, r.stderr);
			r = cl(['apply', chf, '--to', table, '--key', 'id', '-q', '--auto-compact']);
			ok(r.status === 0, `${L}: apply with --auto-compact`, r.stderr);
			const c = cl(['cat', table, '--to', 'csv']);
			const f = path.join(tmp, 'tp-got.csv');
			fs.writeFileSync(f, c.stdout);
			const [same, why] = await sameRows(`SELECT id::BIGINT AS id, ts::TIMESTAMP AS ts, reg, name FROM read_csv(${str(f)}, header = true, all_varchar = true)`,
				'SELECT * FROM tp2', ['id', 'ts', 'reg', 'name']);
			ok(c.status === 0 && same, `${L}: the table equals DuckDB's state`, why + c.stderr);
		}
	}
	// files larger than a scan batch: changes at the first / last rows and at
	// batch-size boundaries, a change set in another column order with
	// converted types, every row but one deleted, upserts into the (almost)
	// emptied table
	{
		const N = 140000;
		await con.run(`CREATE OR REPLACE TABLE bref AS SELECT r::BIGINT AS id, (r % 1000)::INTEGER AS amount,
			CASE WHEN r % 9 = 0 THEN NULL ELSE 'name' || r END AS name FROM range(${N}) t(r)`);
		const dms = path.join(tmp, 'big', 's', 't');
		fs.mkdirSync(dms, { recursive: true });
		await con.run(`COPY bref TO ${str(path.join(dms, 'LOAD00000001.parquet'))} (FORMAT parquet, ROW_GROUP_SIZE 30000)`);
		const chs = [
			['first/last/boundary rows', `SELECT 'C' AS diff, id, amount + 1 AS amount, name FROM bref WHERE id IN (0, 1, ${N - 1}, ${N - 2}, 65535, 65536, 131071, 131072)`],
			['reordered, converted columns', `SELECT name, amount::BIGINT AS amount, 'C' AS diff, id::INTEGER AS id FROM bref WHERE id % 50000 = 7`],
			['all but one row deleted', `SELECT 'D' AS diff, id, NULL::INTEGER AS amount, NULL AS name FROM bref WHERE id <> 123457`],
			['upserts into the emptied table', `SELECT 'I' AS diff, r::BIGINT AS id, 5 AS amount, 'back' AS name FROM range(100) t(r)`],
		];
		for (const layout of [[], ['--buckets', '2'], ['--partition-by', 'amount', '--buckets', '1']]) {
			const table = path.join(tmp, `big-lake-${layout.length}`);
			await con.run(`CREATE OR REPLACE TABLE bcur AS SELECT * FROM bref`);
			let r = cl(['merge', '--source', `dms:${dms}`, '--to', table, '--key', 'id', '-q', ...layout]);
			if (!ok(r.status === 0, `cow large ${layout.join(' ') || 'plain'}: created`, r.stderr)) continue;
			for (const [what, sql] of chs) {
				const L = `cow large ${layout.join(' ') || 'plain'}: ${what}`;
				await con.run(`CREATE OR REPLACE TABLE ch AS ${sql}`);
				const chf = path.join(tmp, 'big-ch.parquet');
				await con.run(`COPY ch TO ${str(chf)} (FORMAT parquet)`);
				r = cl(['apply', chf, '--to', table, '--key', 'id', '-q', '--no-auto-compact']);
				if (!ok(r.status === 0, `${L}: apply`, r.stderr)) break;
				await con.run(`CREATE OR REPLACE TABLE bcur AS SELECT * FROM bcur WHERE id NOT IN (SELECT id FROM ch)
					UNION ALL SELECT id, amount, name FROM ch WHERE diff <> 'D'`);
				const c = cl(['cat', table, '--to', 'csv']);
				const f = path.join(tmp, 'big-got.csv');
				fs.writeFileSync(f, c.stdout);
				const [same, why] = await sameRows(`SELECT id::BIGINT AS id, amount::INTEGER AS amount, name FROM read_csv(${str(f)}, header = true, all_varchar = true)`,
					'SELECT * FROM bcur', ['id', 'amount', 'name']);
				ok(same, `${L}: the table equals DuckDB's state`, why);
			}
		}
	}
	// change sets made by `changelake diff` (column-by-column, right-side)
	// applied to tables of every layout: the table becomes NEW; a sparse
	// one is refused (docs/diff.md), the table unchanged
	{
		await con.run(`CREATE OR REPLACE TABLE da AS SELECT i::BIGINT AS id, ['eu', 'us', 'ap'][1 + i % 3] AS region,
			CASE WHEN i % 5 = 0 THEN NULL ELSE i * 2 END::INTEGER AS amount, 'n' || i AS name FROM range(0, 5000) t(i)`);
		await con.run(`CREATE OR REPLACE TABLE db AS SELECT id, CASE WHEN id % 13 = 0 THEN 'us' ELSE region END AS region,
			CASE WHEN id % 7 = 0 THEN NULL WHEN id % 11 = 0 THEN 99 ELSE amount END AS amount, name FROM da WHERE id % 17 <> 0
			UNION ALL SELECT 10000 + i, 'ap', i, 'new' FROM range(7) t(i)`);
		const dms = path.join(tmp, 'dch', 's', 't');
		fs.mkdirSync(dms, { recursive: true });
		const fa = path.join(tmp, 'dch-a.parquet'), fb = path.join(tmp, 'dch-b.parquet'), fc = path.join(tmp, 'dch-c.parquet');
		await con.run(`COPY da TO ${str(path.join(dms, 'LOAD00000001.parquet'))} (FORMAT parquet)`);
		await con.run(`COPY da TO ${str(fa)} (FORMAT parquet)`);
		await con.run(`COPY db TO ${str(fb)} (FORMAT parquet)`);
		for (const mode of ['column-by-column', 'right-side', 'sparse']) {
			for (const layout of [[], ['--partition-by', 'region', '--buckets', '2'], ['--partition-by', 'region', '--deletion-vectors']]) {
				const L = `cow diff ${mode} change set, ${layout.join(' ') || 'plain'}`;
				const table = path.join(tmp, `dch-lake-${mode}-${layout.length}`);
				let r = cl(['merge', '--source', `dms:${dms}`, '--to', table, '--key', 'id', '-q', ...layout]);
				r = r.status ? r : cl(['diff', fa, fb, '--key', 'id', '-o', fc, '-q', ...(mode === 'sparse' ? ['--sparse'] : ['--mode', mode])]);
				if (!ok(r.status <= 1, `${L}: table and change set made`, r.stderr)) continue;
				r = cl(['apply', fc, '--to', table, '--key', 'id', '-q']);
				const want = mode === 'sparse' ? 'da' : 'db';
				ok(mode === 'sparse' ? r.status === 2 && /sparse/.test(r.stderr) : r.status === 0, `${L}: ${mode === 'sparse' ? 'refused' : 'applied'}`, r.stderr);
				const c = cl(['cat', table, '--to', 'csv']);
				const f = path.join(tmp, 'dch-got.csv');
				fs.writeFileSync(f, c.stdout);
				const [same, why] = await sameRows(`SELECT id::BIGINT AS id, region, amount::INTEGER AS amount, name FROM read_csv(${str(f)}, header = true, all_varchar = true)`,
					`SELECT * FROM ${want}`, ['id', 'region', 'amount', 'name']);
				ok(same, `${L}: the table equals ${mode === 'sparse' ? 'OLD (unchanged)' : 'NEW'}`, why);
			}
		}
	}
	// NOT NULL declared column refused, the table unchanged
	{
		await con.run(`CREATE OR REPLACE TABLE ref AS SELECT i::BIGINT AS id, 'n' || i AS name,
			(i * 7 % 1000)::INTEGER AS amount, ['eu', 'us', 'ap'][1 + i % 3] AS region, NULL::VARCHAR AS extra
			FROM range(0, 3000) t(i)`);
		const sf = path.join(tmp, 'nn-schema.txt');
		fs.writeFileSync(sf, 'id int64 not null\nname string not null\namount int32\nregion string\n');
		for (const [lname, layout] of [['nn_plain', []], ['nn_bucketed', ['--buckets', '2']], ['nn_part', ['--partition-by', 'region']]]) {
			const { table } = await cowTable(lname, layout, ['--schema', sf]);
			const v0 = logVersions(table).at(-1);
			await applyCheck(`cow ${lname} NULL into a NOT NULL column`, table,
				`SELECT 'C' AS diff, id, CASE WHEN id = 1234 THEN NULL ELSE name || '!' END AS name, amount, region FROM ref WHERE id % 3 = 1`,
				{ expectFail: /name|not null|NOT NULL/i });
			ok(logVersions(table).at(-1) === v0, `cow ${lname}: no commit after the refusal`);
		}
	}
	// crash points of the copy-on-write writer: old or new, rerun clean
	{
		await con.run(`CREATE OR REPLACE TABLE ref0 AS SELECT i::BIGINT AS id, 'n' || i AS name,
			(i * 7 % 1000)::INTEGER AS amount, ['eu', 'us', 'ap'][1 + i % 3] AS region, NULL::VARCHAR AS extra
			FROM range(0, 4000) t(i)`);
		await con.run(`CREATE OR REPLACE TABLE ch AS SELECT 'C' AS diff, id, name || '!' AS name, amount, region FROM ref0 WHERE id % 7 = 0
			UNION ALL SELECT 'D', id, NULL, NULL, NULL FROM ref0 WHERE id % 11 = 0 AND id % 7 <> 0`);
		const chf = path.join(tmp, 'crash-ch.parquet');
		await con.run(`COPY ch TO ${str(chf)} (FORMAT parquet)`);
		await con.run(`CREATE OR REPLACE TABLE ref1 AS SELECT * FROM ref0 WHERE id NOT IN (SELECT id FROM ch)
			UNION ALL SELECT id, name, amount, region, NULL FROM ch WHERE diff <> 'D'`);
		for (const [lname, layout] of [['plain', []], ['bucketed', ['--buckets', '3']], ['part', ['--partition-by', 'region', '--buckets', '2']]]) {
			const points = lname === 'part' ? ['data-file-writing:1', 'data-file-closed:1', 'data-file-published:1', 'data-file-published:2',
				'commit-before-publish:1', 'commit-after-publish:1'] : ['data-file-writing:1', 'data-file-published:1', 'commit-before-publish:1'];
			for (const point of points) {
				await con.run(`CREATE OR REPLACE TABLE ref AS SELECT * FROM ref0`);
				const { table } = await cowTable(`crash_${lname}_${point.replace(/\W/g, '_')}`, layout);
				const crash = cl(['apply', chf, '--to', table, '--key', 'id', '--no-auto-compact', '--app-id', 'a1', '--app-version', '1'],
					{ CL_CRASH_AT: point });
				const L = `cow crash ${lname} ${point}`;
				const header = await catTable(table, 'got');
				const cols = header.filter((c) => c in COLS);
				const [s0] = await sameRows('SELECT * FROM got', 'SELECT * FROM ref0', cols);
				const [s1] = await sameRows('SELECT * FROM got', 'SELECT * FROM ref1', cols);
				ok((crash.signal === 'SIGKILL' && (s0 || s1)) || (crash.status === 0 && s1),
					`${L}: ${crash.signal === 'SIGKILL' ? 'killed' : 'point not reached'}, reads the old or the new state (${s1 ? 'new' : s0 ? 'old' : 'neither'})`,
					`${crash.signal} ${crash.status} ${crash.stderr.slice(0, 300)}`);
				const rr = cl(['apply', chf, '--to', table, '--key', 'id', '--no-auto-compact', '--app-id', 'a1', '--app-version', '1']);
				ok(rr.status === 0, `${L}: rerun`, rr.stderr);
				await catTable(table, 'got');
				const [s2, w2] = await sameRows('SELECT * FROM got', 'SELECT * FROM ref1', cols);
				ok(s2, `${L}: after the rerun the table equals the new state`, w2);
				const rv = cl(['vacuum', table, '--retain', '0s', '-q']);
				await catTable(table, 'got');
				const [s3, w3] = await sameRows('SELECT * FROM got', 'SELECT * FROM ref1', cols);
				ok(rv.status === 0 && s3, `${L}: vacuum keeps it`, rv.stderr + w3);
			}
		}
	}
}

const only = process.env.CL_ADVERSARIAL_ONLY || '';
try {
	if (!only || only.includes('autocompact')) {
		await autocompact('cow');
		await autocompact('dv');
		await autocompact('dvodd');
		await autocompact('small');
		await compactCrash();
		await syncCompact();
	}
	if (!only || only.includes('lean')) {
		await lean();
		await leanCorrupt();
		await emptyLoad();
		await leanCrash();
	}
	if (!only || only.includes('cow')) await cow();
} catch (e) {
	ok(false, 'unexpected exception', e.stack || e.message);
}
fs.rmSync(tmp, { recursive: true, force: true });
t.end();
