// test_lake_autocompact.mjs — auto-compaction of lake tables kept in step
// by many small runs, checked with DuckDB after every run.
//
//   dv        a merge-on-read table (merge --deletion-vectors, 4 buckets; on
//             by default) fed by 24 small `changelake apply` runs and a few
//             CDC `changelake merge` runs; after every run:
//             - DuckDB over the live files (the log replayed here) minus the
//               rows their deletion vectors delete equals DuckDB's reference
//               state, and so does `changelake cat`
//             - no scope (partition folder + bucket) holds 8 small files and
//               no file's vector deletes more than 10% of its rows
//             - a run's --json auto_compaction names the compaction commit,
//               which is OPTIMIZE, auto=true, dataChange false everywhere
//   cow       a copy-on-write table (partitioned, 2 buckets) with
//             `changelake table auto-compact TABLE on`, fed by 20 CDC merges
//             that insert into every partition: the same checks; before the
//             property, --no-auto-compact and the default leave it alone
//   crash     apply killed (CL_CRASH_AT) just before and just after the
//             compaction commit is published: the data commit stands, the
//             table reads the reference state, a later run compacts, vacuum
//             keeps it readable
//   race      two applies at once: both data commits stand; a compaction
//             that loses to the other writer says "conflict", exit 0
// Env: CHANGELAKE, CL_BUILD. Prints "lake_autocompact: N passed, M failed".
import { DuckDBInstance } from '@duckdb/node-api';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from './lib.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const { decodeDv } = await import(path.join(here, 'dv_decode_min.mjs'));

const build = process.env.CL_BUILD || 'build/san';
const CL = path.resolve(process.env.CHANGELAKE || path.join(build, 'changelake'));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cl-lake-ac-'));
const t = suite('lake_autocompact');
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

// ---- the log, replayed here ----
function commits(table) {
	const dir = path.join(table, '_delta_log');
	return fs.readdirSync(dir).filter((f) => /^\d{20}\.json$/.test(f)).sort()
		.map((f) => ({ version: Number(f.slice(0, 20)),
			actions: fs.readFileSync(path.join(dir, f), 'utf8').split('\n').filter(Boolean)
				.map((l) => JSON.parse(l)) }));
}
function snapshot(table) {
	const live = new Map();
	let meta = null;
	for (const c of commits(table)) {
		for (const a of c.actions) if (a.remove) live.delete(decodeURIComponent(a.remove.path));
		for (const a of c.actions) {
			if (a.metaData) meta = a.metaData;
			if (a.add) live.set(decodeURIComponent(a.add.path), a.add);
		}
	}
	return { live, meta };
}
// scope of a data file: its folder and bucket (the _NNNNN suffix)
const scopeOf = (p) => `${path.dirname(p)}/#${(/_(\d{5})\.c\d+\./.exec(path.basename(p)) || [])[1] ?? ''}`;

async function liveSql(table, name) {
	const s = snapshot(table);
	const files = [...s.live.keys()];
	const parts = s.meta.partitionColumns || [];
	await con.run(`CREATE OR REPLACE TABLE dv_rows (fname VARCHAR, rn BIGINT)`);
	const rows = [];
	for (const [p, a] of s.live)
		if (a.deletionVector)
			for (const r of decodeDv(table, a.deletionVector))
				rows.push(`${str(path.join(table, p))},${r}`);
	if (rows.length) {
		const f = path.join(tmp, 'dv_rows.csv');
		fs.writeFileSync(f, `fname,rn\n${rows.join('\n')}\n`);
		await con.run(`INSERT INTO dv_rows SELECT * FROM read_csv(${str(f)}, header = true, quote = '''',
			columns = {'fname': 'VARCHAR', 'rn': 'BIGINT'})`);
	}
	const vals = files.map((p) => `(${[str(path.join(table, p)),
		...parts.map((c) => (s.live.get(p).partitionValues[c] == null ? 'NULL'
			: str(s.live.get(p).partitionValues[c])))].join(', ')})`);
	const col = (n, t) => (parts.includes(n) ? `CAST(f.p${parts.indexOf(n)} AS ${t}) AS ${n}` : `d.${n}`);
	await con.run(`CREATE OR REPLACE TABLE ${name} AS SELECT ${col('id', 'BIGINT')}, ${col('name', 'VARCHAR')},
		${col('amount', 'INTEGER')}, ${col('region', 'VARCHAR')}
		FROM read_parquet([${files.map((p) => str(path.join(table, p))).join(', ')}],
			filename = true, file_row_number = true, union_by_name = true) d
		JOIN (VALUES ${vals.join(', ')}) f(fname${parts.map((_, k) => `, p${k}`).join('')}) ON d.filename = f.fname
		WHERE NOT EXISTS (SELECT 1 FROM dv_rows x WHERE x.fname = d.filename AND x.rn = d.file_row_number)`);
	return s;
}

async function sameRows(a, b) {
	const r = await q(`SELECT (SELECT count(*) FROM (${a})), (SELECT count(*) FROM (${b})),
		(SELECT count(*) FROM ((${a}) EXCEPT ALL (${b}))), (SELECT count(*) FROM ((${b}) EXCEPT ALL (${a})))`);
	const [na, nb, ab, ba] = r[0].map(Number);
	return [na === nb && ab === 0 && ba === 0, `${na} vs ${nb} rows, ${ab} only in the first, ${ba} only in the second`];
}

async function catTable(table, name) {
	const r = cl(['cat', table, '--to', 'csv']);
	if (r.status !== 0) throw new Error(`cat: ${r.stderr}`);
	const f = path.join(tmp, `${name}.csv`);
	fs.writeFileSync(f, r.stdout);
	await con.run(`CREATE OR REPLACE TABLE ${name} AS SELECT * FROM read_csv(${str(f)}, header = true,
		columns = {'id': 'BIGINT', 'name': 'VARCHAR', 'amount': 'INTEGER', 'region': 'VARCHAR'},
		auto_detect = false, quote = '"', escape = '"', delim = ',')`);
}

// the reads, and the bounds auto-compaction keeps
async function check(table, label) {
	const s = await liveSql(table, 'live');
	await catTable(table, 'mine');
	const [s1, w1] = await sameRows('SELECT * FROM live', 'SELECT * FROM ref');
	ok(s1, `${label}: DuckDB reads the reference state`, w1);
	const [s2, w2] = await sameRows('SELECT * FROM mine', 'SELECT * FROM ref');
	ok(s2, `${label}: changelake cat reads the reference state`, w2);
	return s;
}
function bounds(s, label) {
	const target = Number(s.meta.configuration['changelake.targetFileSize'] || 134217728);
	const small = new Map();
	let why = '';
	for (const [p, a] of s.live) {
		if (a.size < target / 4)
			small.set(scopeOf(p), (small.get(scopeOf(p)) || 0) + 1);
		const n = JSON.parse(a.stats).numRecords;
		if (a.deletionVector && a.deletionVector.cardinality > 0.1 * n)
			why += `${p}: vector deletes ${a.deletionVector.cardinality} of ${n} rows; `;
	}
	for (const [sc, n] of small) if (n >= 8) why += `${sc}: ${n} small files; `;
	ok(!why, `${label}: < 8 small files per scope, no vector over 10% (${s.live.size} files)`, why);
	return Math.max(0, ...small.values());
}
// a run's auto_compaction object against the log
function checkAuto(table, js, label, dataVersion) {
	const ac = js.auto_compaction;
	if (!ok(ac && typeof ac === 'object', `${label}: --json has auto_compaction`, JSON.stringify(js)))
		return false;
	if (ac.version === null) {
		ok(typeof ac.skipped === 'string' && ac.files_compacted === undefined, `${label}: skipped: ${ac.skipped}`, JSON.stringify(ac));
		ok(commits(table).at(-1).version === dataVersion, `${label}: no compaction commit`);
		return false;
	}
	const c = commits(table).find((x) => x.version === ac.version);
	const info = c && c.actions.find((a) => a.commitInfo)?.commitInfo;
	const adds = c ? c.actions.filter((a) => a.add) : [];
	const removes = c ? c.actions.filter((a) => a.remove) : [];
	ok(ac.version === dataVersion + 1 && info && info.operation === 'OPTIMIZE' &&
		info.operationParameters.auto === 'true' &&
		[...adds.map((a) => a.add), ...removes.map((a) => a.remove)].every((a) => a.dataChange === false) &&
		adds.length === ac.files_written && removes.length === ac.files_compacted && !("skipped" in ac),
		`${label}: compaction commit ${ac.version}: OPTIMIZE auto, dataChange false, ` +
		`${ac.files_compacted} files -> ${ac.files_written}`, JSON.stringify({ ac, info }));
	return true;
}

try {
	// ---------------- merge-on-read ----------------
	{
		const dms = path.join(tmp, 'dms-dv', 's', 't');
		const table = path.join(tmp, 'lake-dv');
		fs.mkdirSync(dms, { recursive: true });
		await q('SELECT setseed(0.5)');
		await con.run(`CREATE OR REPLACE TABLE ref AS SELECT i::BIGINT AS id, 'n' || i AS name,
			(i * 7 % 1000)::INTEGER AS amount, ['eu', 'us', 'ap'][1 + i % 3] AS region FROM range(0, 3000) t(i)`);
		await con.run(`COPY ref TO ${str(path.join(dms, 'LOAD00000001.parquet'))} (FORMAT parquet)`);
		let r = cl(['merge', '--source', `dms:${dms}`, '--to', table, '--key', 'id', '--buckets', '4',
			'--deletion-vectors', '--json']);
		ok(r.status === 0 && json(r).auto_compaction?.skipped === 'nothing to compact',
			'dv: load merged, auto-compaction on by default, nothing to do', r.stdout + r.stderr);
		let compactions = 0, purges = 0, maxSmall = 0;
		for (let round = 1; round <= 30; round++) {
			await q(`SELECT setseed(${round / 40})`);
			const label = `dv run ${round}`;
			let js;
			if (round % 6) {
				// a small change set: ~0.3% updates, 4 new keys, a few deletes
				await con.run(`CREATE OR REPLACE TABLE ch AS
					SELECT * FROM (SELECT 'C' AS diff, id, name || '*' AS name, amount + 1 AS amount, region
						FROM ref WHERE random() < 0.003
						UNION ALL SELECT 'I', 100000 * ${round} + i, 'new' || i, i, ['eu', 'us', 'ap'][1 + i % 3]
						FROM range(0, 4) t(i)) WHERE id NOT IN (SELECT id FROM ref WHERE hash(id + ${round}) % 331 = 0)
					UNION ALL SELECT 'D', id, NULL, NULL, NULL FROM ref WHERE hash(id + ${round}) % 331 = 0`);
				const chf = path.join(tmp, `dv-${round}.parquet`);
				await con.run(`COPY ch TO ${str(chf)} (FORMAT parquet)`);
				r = cl(['apply', chf, '--to', table, '--json']);
				if (!ok(r.status === 0, `${label}: apply`, r.stderr)) break;
				await con.run(`CREATE OR REPLACE TABLE ref AS SELECT * FROM ref WHERE id NOT IN (SELECT id FROM ch)
					UNION ALL SELECT id, name, amount, region FROM ch WHERE diff <> 'D'`);
				js = json(r);
			} else {
				// a CDC file merged: deletes a larger share of a few ids' rows
				await con.run(`CREATE OR REPLACE TABLE cdc AS
					SELECT 'U' AS Op, id, name || '+' AS name, amount - 1 AS amount, region FROM ref
						WHERE random() < 0.004 AND NOT (id % 23 = ${round % 23} AND id < 1500)
					UNION ALL SELECT 'D', id, NULL, NULL, NULL FROM ref WHERE id % 23 = ${round % 23} AND id < 1500
					UNION ALL SELECT 'I', 900000 + ${round} * 10 + i, 'cdc' || i, i, 'eu' FROM range(0, 3) t(i)`);
				await con.run(`COPY cdc TO ${str(path.join(dms, `20240101-10${String(round).padStart(2, '0')}00000.parquet`))}
					(FORMAT parquet)`);
				r = cl(['merge', '--source', `dms:${dms}`, '--to', table, '--key', 'id', '--json']);
				if (!ok(r.status === 0, `${label}: merge a CDC file`, r.stderr)) break;
				await con.run(`CREATE OR REPLACE TABLE ref AS SELECT * FROM ref WHERE id NOT IN (SELECT id FROM cdc)
					UNION ALL SELECT id, name, amount, region FROM cdc WHERE Op <> 'D'`);
				js = json(r);
			}
			if (checkAuto(table, js, label, js.version)) {
				compactions++;
				purges += js.auto_compaction.deletion_vectors_purged;
			}
			const s = await check(table, label);
			maxSmall = Math.max(maxSmall, bounds(s, label));
		}
		ok(compactions >= 3 && purges > 0, `dv: ${compactions} auto-compactions, ${purges} vectors purged`);
		ok(maxSmall >= 5, `dv: scopes did fill up with small files between compactions (max ${maxSmall})`);

		// crash: killed just before / just after publishing the compaction
		// commit (the 2nd commit of the process; the 1st is the data commit)
		for (const point of ['commit-before-publish:2', 'commit-after-publish:2']) {
			// delete ~15% of the rows: the files' vectors go over 10%
			await con.run(`CREATE OR REPLACE TABLE ch AS SELECT 'D' AS diff, id, NULL AS name, NULL AS amount,
				NULL AS region FROM ref WHERE hash(id + ${point.length}) % 7 = 0`);
			const chf = path.join(tmp, `crash-${point}.parquet`);
			await con.run(`COPY ch TO ${str(chf)} (FORMAT parquet)`);
			const v0 = commits(table).at(-1).version;
			const crash = cl(['apply', chf, '--to', table, '--json'], { CL_CRASH_AT: point });
			const after = commits(table);
			const published = point.startsWith('commit-after');
			ok(crash.signal === 'SIGKILL' && after.at(-1).version === v0 + (published ? 2 : 1),
				`crash ${point}: killed, data commit${published ? ' and compaction' : ''} published`,
				`${crash.signal} ${crash.status} ${after.at(-1).version} ${crash.stderr}`);
			await con.run(`CREATE OR REPLACE TABLE ref AS SELECT * FROM ref WHERE id NOT IN (SELECT id FROM ch)`);
			const s = await check(table, `crash ${point}`);
			const over = [...s.live.values()].filter((a) => a.deletionVector &&
				a.deletionVector.cardinality > 0.1 * JSON.parse(a.stats).numRecords).length;
			ok(published ? over === 0 : over > 0, `crash ${point}: ${over} files over 10% left for later`);
			// the next run compacts what the killed one did not
			await con.run(`CREATE OR REPLACE TABLE ch AS SELECT 'I' AS diff, 7000000 + ${point.length} * 10 + i AS id, 'late' AS name,
				i::INTEGER AS amount, 'us' AS region FROM range(0, 2) t(i)`);
			await con.run(`COPY ch TO ${str(chf)} (FORMAT parquet)`);
			r = cl(['apply', chf, '--to', table, '--json']);
			ok(r.status === 0, `crash ${point}: next apply`, r.stderr);
			await con.run(`INSERT INTO ref SELECT id, name, amount, region FROM ch`);
			const js = json(r);
			const compacted = checkAuto(table, js, `crash ${point}: next apply`, js.version);
			ok(published || compacted, `crash ${point}: the next run's compaction purged the vectors`);
			bounds(await check(table, `crash ${point}: after the next apply`), `crash ${point}`);
		}
		r = cl(['vacuum', table, '--retain', '0s', '-q']);
		ok(r.status === 0, 'dv: vacuum --retain 0s after the crashes', r.stderr);
		await check(table, 'dv after vacuum');

		// race: two applies at once; each data commit stands, a compaction
		// losing to the other writer is skipped quietly
		{
			const run = (args) => new Promise((res) => {
				const p = spawn(CL, args, { cwd: tmp });
				let out = '', err = '';
				p.stdout.on('data', (d) => { out += d; });
				p.stderr.on('data', (d) => { err += d; });
				p.on('close', (code) => res({ code, out, err }));
			});
			const files = [];
			for (const k of [0, 1]) {
				const f = path.join(tmp, `race-${k}.parquet`);
				await con.run(`COPY (SELECT 'D' AS diff, id, name, amount, region FROM ref
					WHERE id % 10 = ${k * 5 + 1} AND id < 2000) TO ${str(f)} (FORMAT parquet)`);
				files.push(f);
			}
			const [a, b] = await Promise.all(files.map((f) => run(['apply', f, '--to', table, '--json'])));
			let ja = {}, jb = {};
			try {
				ja = JSON.parse(a.out);
				jb = JSON.parse(b.out);
			} catch { /* reported below */ }
			const skipped = [ja, jb].map((j) => j.auto_compaction?.skipped ?? null);
			ok(a.code === 0 && b.code === 0 && ja.version >= 0 && jb.version >= 0 &&
				skipped.every((x) => x === null || x === 'conflict' || x === 'nothing to compact'),
				`race: both applies commit (auto-compaction: ${skipped.map((x) => x ?? 'done').join(', ')})`,
				a.err + b.err + a.out + b.out);
			await con.run(`CREATE OR REPLACE TABLE ref AS SELECT * FROM ref WHERE NOT (id < 2000 AND id % 10 IN (1, 6))`);
			await check(table, 'race');
		}
	}

	// ---------------- copy-on-write with the property ----------------
	{
		const dms = path.join(tmp, 'dms-cow', 's', 't');
		const table = path.join(tmp, 'lake-cow');
		fs.mkdirSync(dms, { recursive: true });
		await con.run(`CREATE OR REPLACE TABLE ref AS SELECT i::BIGINT AS id, 'n' || i AS name,
			(i * 3 % 500)::INTEGER AS amount, ['eu', 'us', 'ap'][1 + i % 3] AS region FROM range(0, 600) t(i)`);
		await con.run(`COPY ref TO ${str(path.join(dms, 'LOAD00000001.parquet'))} (FORMAT parquet)`);
		let r = cl(['merge', '--source', `dms:${dms}`, '--to', table, '--key', 'id', '--buckets', '2',
			'--partition-by', 'region', '--json']);
		ok(r.status === 0 && json(r).auto_compaction?.skipped === 'off for this table',
			'cow: load merged; auto-compaction off by default', r.stdout + r.stderr);
		let round = 0;
		const cdc = async (label, flags) => {
			round++;
			await q(`SELECT setseed(${round / 50})`);
			await con.run(`CREATE OR REPLACE TABLE cdc AS
				SELECT 'I' AS Op, 500000 + ${round} * 100 + i AS id, 'ins' || i AS name, i::INTEGER AS amount,
					['eu', 'us', 'ap'][1 + i % 3] AS region FROM range(0, 12) t(i)
				UNION ALL SELECT 'U', id, name || '~', amount, region FROM ref WHERE id < 600 AND random() < 0.002`);
			await con.run(`COPY cdc TO ${str(path.join(dms, `20240102-10${String(round).padStart(2, '0')}00000.parquet`))}
				(FORMAT parquet)`);
			const res = cl(['merge', '--source', `dms:${dms}`, '--to', table, '--key', 'id', '--json', ...flags]);
			ok(res.status === 0, `${label}: merge`, res.stderr);
			await con.run(`CREATE OR REPLACE TABLE ref AS SELECT * FROM ref WHERE id NOT IN (SELECT id FROM cdc)
				UNION ALL SELECT id, name, amount, region FROM cdc WHERE Op <> 'D'`);
			return json(res);
		};
		// off: files pile up
		for (let k = 0; k < 8; k++) {
			const js = await cdc(`cow off ${k + 1}`, k === 7 ? ['--no-auto-compact'] : []);
			ok(js.auto_compaction?.version === null, `cow off ${k + 1}: not compacted (${js.auto_compaction?.skipped})`);
		}
		let s = await check(table, 'cow before the property');
		const piled = s.live.size;
		r = cl(['table', 'auto-compact', table, 'on', '--json']);
		ok(r.status === 0 && json(r).auto_compact === true && json(r).changed === true,
			'cow: table auto-compact on', r.stdout + r.stderr);
		ok(snapshot(table).meta.configuration['delta.autoOptimize.autoCompact'] === 'true',
			'cow: property delta.autoOptimize.autoCompact=true in the log');
		let compactions = 0;
		for (let k = 1; k <= 20; k++) {
			const js = await cdc(`cow on ${k}`, []);
			if (checkAuto(table, js, `cow on ${k}`, js.version))
				compactions++;
			s = await check(table, `cow on ${k}`);
			bounds(s, `cow on ${k}`);
		}
		ok(compactions >= 2 && s.live.size < piled, `cow: ${compactions} auto-compactions, ` +
			`${s.live.size} files now, ${piled} before the property`);
	}
} catch (e) {
	ok(false, 'lake_autocompact', e.stack);
} finally {
	fs.rmSync(tmp, { recursive: true, force: true });
}
t.end();
