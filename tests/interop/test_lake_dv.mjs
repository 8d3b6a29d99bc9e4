// test_lake_dv.mjs — merge-on-read lake tables (Delta deletion vectors)
// written by changelake, checked with DuckDB and an independent decoder of
// the vectors (dv_decode.mjs when present, else dv_decode_min.mjs).
//
//   enable    `changelake table enable-deletion-vectors` on a table made by
//             `changelake merge` (bucketed), or `merge --deletion-vectors`
//             (partitioned): protocol 3/7 with the feature, property set
//   rounds    randomized change sets (upserts of existing and new keys,
//             partition moves, deletes, deletes of absent keys) applied with
//             `changelake apply CHANGES --to TABLE`; after every commit:
//             - the live files (the log replayed here; the same paths as
//               `changelake table files --json`) read by DuckDB with
//               file_row_number, minus the rows their vectors delete, equal
//               DuckDB's reference state AND `changelake cat TABLE`
//             - no data file was rewritten: every removed path is re-added
//               with a larger vector, or all its rows were deleted
//             - the vectors grow (a file's new vector contains its old one)
//   cdc       a DMS CDC file merged with `changelake merge` into the same
//             table: the same checks, rows marked instead of files rewritten
//   crash     apply killed (CL_CRASH_AT) after the vector file is published
//             and before the commit: the table is unchanged, the rerun gives
//             the clean result, vacuum leaves exactly the live vector files
//   race      two applies at once on different keys of the same files: both
//             commit (one redone on top of the other), no change lost
//   purge     `changelake compact --purge`: no live file has a vector, same
//             rows; `changelake vacuum --retain 0s` keeps the table readable
// Env: CHANGELAKE, CL_BUILD. Prints "lake_dv: N passed, M failed".
import { DuckDBInstance } from '@duckdb/node-api';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from './lib.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const decoder = fs.existsSync(path.join(here, 'dv_decode.mjs')) ? './dv_decode.mjs' : './dv_decode_min.mjs';
const dvmod = await import(decoder);
const decodeDv = dvmod.decodeDv || dvmod.decodeDeletionVector || dvmod.default;
const minmod = await import('./dv_decode_min.mjs');

const build = process.env.CL_BUILD || 'build/san';
const CL = path.resolve(process.env.CHANGELAKE || path.join(build, 'changelake'));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cl-lake-dv-'));
const t = suite('lake_dv');
const ok = t.ok;
// the rounds check that vectors grow and no file is rewritten: without the
// auto-compaction merge-on-read tables get by default (test_lake_autocompact)
const noAuto = ['--no-auto-compact'];
const cl = (args) => spawnSync(CL, args, { encoding: 'utf8', maxBuffer: 1 << 28, cwd: tmp });

const db = await DuckDBInstance.create(':memory:');
const con = await db.connect();
const q = async (sql) => (await con.runAndReadAll(sql)).getRows();
const str = (s) => `'${String(s).replaceAll("'", "''")}'`;

// ---- the log, replayed here (logical file identity: the path) ----
function commits(table) {
	const dir = path.join(table, '_delta_log');
	return fs.readdirSync(dir).filter((f) => /^\d{20}\.json$/.test(f)).sort()
		.map((f) => ({ version: Number(f.slice(0, 20)),
			actions: fs.readFileSync(path.join(dir, f), 'utf8').split('\n').filter(Boolean)
				.map((l) => JSON.parse(l)) }));
}
function snapshot(table) {
	const live = new Map();
	let protocol = null, meta = null;
	for (const c of commits(table)) {
		// removes first, then adds: a path removed and re-added with a new
		// vector in one commit ends with the add
		for (const a of c.actions) if (a.remove) live.delete(decodeURIComponent(a.remove.path));
		for (const a of c.actions) {
			if (a.protocol) protocol = a.protocol;
			if (a.metaData) meta = a.metaData;
			if (a.add) live.set(decodeURIComponent(a.add.path), a.add);
		}
	}
	return { live, protocol, meta };
}
const key = (dv) => (dv ? `${dv.storageType}:${dv.pathOrInlineDv}@${dv.offset ?? ''}` : '');

// SQL of the live rows: DuckDB reads every live file with file_row_number
// and drops the rows their vectors delete (table dv_rows).
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
	if (!files.length) {
		await con.run(`CREATE OR REPLACE TABLE ${name} AS SELECT NULL::BIGINT AS id, NULL::VARCHAR AS name,
			NULL::INTEGER AS amount, NULL::VARCHAR AS region WHERE false`);
		return s;
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

// changelake's own scan as table `name`
async function catTable(table, name) {
	const r = cl(['cat', table, '--to', 'csv']);
	if (r.status !== 0) throw new Error(`cat: ${r.stderr}`);
	const f = path.join(tmp, `${name}.csv`);
	fs.writeFileSync(f, r.stdout);
	await con.run(`CREATE OR REPLACE TABLE ${name} AS SELECT * FROM read_csv(${str(f)}, header = true,
		columns = {'id': 'BIGINT', 'name': 'VARCHAR', 'amount': 'INTEGER', 'region': 'VARCHAR'},
		auto_detect = false, quote = '"', escape = '"', delim = ',')`);
}

async function check(table, label) {
	const s = await liveSql(table, 'live');
	await catTable(table, 'mine');
	const [s1, w1] = await sameRows('SELECT * FROM live', 'SELECT * FROM ref');
	ok(s1, `${label}: DuckDB over the live files minus their deletion vectors equals the reference`, w1);
	const [s2, w2] = await sameRows('SELECT * FROM mine', 'SELECT * FROM ref');
	ok(s2, `${label}: changelake cat equals the reference`, w2);
	const tf = cl(['table', 'files', table, '--json']);
	let paths = null;
	try {
		paths = JSON.parse(tf.stdout).files.map((f) => f.path).sort();
	} catch { /* reported below */ }
	const mine = [...s.live.keys()].sort();
	ok(paths && JSON.stringify(paths) === JSON.stringify(mine),
		`${label}: table files --json lists the live files of the log`, tf.stderr);
	return s;
}

try {
	for (const layout of [['--buckets', '4'], ['--buckets', '3', '--partition-by', 'region']]) {
		const label = layout.includes('--partition-by') ? 'partitioned' : 'bucketed';
		const dms = path.join(tmp, `dms-${label}`, 's', 't');
		const table = path.join(tmp, `lake-${label}`);
		fs.mkdirSync(dms, { recursive: true });
		await q('SELECT setseed(0.42)');
		await con.run(`CREATE OR REPLACE TABLE ref AS SELECT i::BIGINT AS id, 'n' || i AS name,
			(i * 7 % 1000)::INTEGER AS amount, ['eu', 'us', 'ap'][1 + i % 3] AS region FROM range(0, 2000) t(i)`);
		await con.run(`COPY ref TO ${str(path.join(dms, 'LOAD00000001.parquet'))} (FORMAT parquet)`);
		// bucketed: a plain table upgraded; partitioned: created merge-on-read
		const create = label === 'partitioned' ? ['--deletion-vectors'] : [];
		let r = cl(['merge', '--source', `dms:${dms}`, '--to', table, '--key', 'id', ...layout, ...create, '-q']);
		if (!ok(r.status === 0, `${label}: merge the load`, r.stderr)) continue;
		if (!create.length) {
			r = cl(['table', 'enable-deletion-vectors', table, '--json']);
			ok(r.status === 0 && /"version":1/.test(r.stdout), `${label}: enable-deletion-vectors commits version 1 (after the first merge, version 0)`,
				r.stdout + r.stderr);
		}
		const s0 = snapshot(table);
		ok(s0.protocol.minReaderVersion === 3 && s0.protocol.minWriterVersion === 7 &&
			s0.protocol.readerFeatures.includes('deletionVectors') &&
			s0.protocol.writerFeatures.includes('deletionVectors') &&
			s0.meta.configuration['delta.enableDeletionVectors'] === 'true',
			`${label}: protocol 3/7 with deletionVectors, property set`, JSON.stringify(s0.protocol));
		r = cl(['table', 'enable-deletion-vectors', table, '--json']);
		ok(r.status === 0 && /"version":-1/.test(r.stdout), `${label}: enabling again commits nothing`, r.stdout);
		let prev = snapshot(table);
		let stacked = false;
		for (let round = 1; round <= 6; round++) {
			// change set: ~1% upserts of existing keys (a quarter move
			// partition), new keys, deletes, deletes of absent keys
			await q(`SELECT setseed(${round / 10})`);
			await con.run(`CREATE OR REPLACE TABLE ch AS
				SELECT * FROM (
					SELECT 'C' AS diff, id, name || '*' AS name, amount + ${round} AS amount,
						CASE WHEN random() < 0.25 THEN ['eu', 'us', 'ap'][1 + (id + ${round}) % 3] ELSE region END AS region
					FROM ref WHERE random() < 0.012
					UNION ALL SELECT 'I', 100000 * ${round} + i, 'new' || i, i, ['eu', 'us', 'ap'][1 + i % 3] FROM range(0, 5) t(i)
				) WHERE id NOT IN (SELECT id FROM ref WHERE hash(id + ${round}) % 97 = 0)
				UNION ALL SELECT 'D', id, NULL, NULL, NULL FROM ref WHERE hash(id + ${round}) % 97 = 0
				UNION ALL SELECT 'D', -${round}, NULL, NULL, NULL`);
			const chf = path.join(tmp, `ch-${label}-${round}.parquet`);
			await con.run(`COPY ch TO ${str(chf)} (FORMAT parquet)`);
			const nch = Number((await q('SELECT count(*) FROM ch'))[0][0]);
			r = cl(['apply', chf, '--to', table, ...noAuto, '--json']);
			if (!ok(r.status === 0, `${label} round ${round}: apply ${nch} changes`, r.stderr)) break;
			await con.run(`CREATE OR REPLACE TABLE ref AS SELECT * FROM ref WHERE id NOT IN (SELECT id FROM ch)
				UNION ALL SELECT id, name, amount, region FROM ch WHERE diff <> 'D'`);
			const s = await check(table, `${label} round ${round}`);
			// no data file rewritten; vectors only grow
			let why = '';
			for (const [p, a] of prev.live) {
				const now = s.live.get(p);
				if (!now) continue; // removed: every row deleted (checked by the row checks)
				if (key(now.deletionVector) === key(a.deletionVector)) continue;
				if (now.size !== a.size) why += `${p} changed size; `;
				const oldRows = a.deletionVector ? decodeDv(table, a.deletionVector) : [];
				const newRows = new Set(decodeDv(table, now.deletionVector).map(String));
				if (!oldRows.every((x) => newRows.has(String(x)))) why += `${p} lost deleted rows; `;
				if (oldRows.length) stacked = true;
				if (!now.stats || !/"tightBounds":false/.test(now.stats)) why += `${p} stats not tightBounds false; `;
				// the independent minimal decoder agrees
				const m = minmod.decodeDv(table, now.deletionVector).map(String).sort();
				if (JSON.stringify(m) !== JSON.stringify([...newRows].sort())) why += `${p} decoders disagree; `;
			}
			// the new files hold exactly the upserted rows, at most one per
			// partition folder and bucket
			const newFiles = [...s.live.keys()].filter((p) => !prev.live.has(p));
			const newRows = newFiles.reduce((n, p) => n + JSON.parse(s.live.get(p).stats).numRecords, 0);
			const js = JSON.parse(r.stdout || '{}');
			const scopes = Number(layout[1]) * (label === 'partitioned' ? 3 : 1);
			ok(!why && newFiles.length <= scopes && newRows === js.upserted && js.files_rewritten === 0 &&
				js.bytes_rewritten === 0 && js.files_deletion_vectors > 0,
				`${label} round ${round}: no file rewritten, vectors grew, ${newFiles.length} new files hold the ${newRows} upserts`,
				why + JSON.stringify(js));
			prev = s;
		}
		ok(stacked, `${label}: a later commit stacked a vector on a file that had one`);
		// a DMS CDC file merged into the merge-on-read table (`changelake
		// merge` goes through the same copy-on-write primitive)
		{
			await q('SELECT setseed(0.77)');
			await con.run(`CREATE OR REPLACE TABLE cdc AS
				SELECT 'U' AS Op, id, name || '+' AS name, amount - 1 AS amount, region FROM ref WHERE random() < 0.01
				UNION ALL SELECT 'D', id, NULL, NULL, NULL FROM ref WHERE id % 211 = 5
				UNION ALL SELECT 'I', 900000 + i, 'cdc' || i, i, 'eu' FROM range(0, 3) t(i)`);
			await con.run(`COPY cdc TO ${str(path.join(dms, '20240101-100000000.parquet'))} (FORMAT parquet)`);
			const before = snapshot(table);
			r = cl(['merge', '--source', `dms:${dms}`, '--to', table, '--key', 'id', ...noAuto, '-q']);
			if (ok(r.status === 0, `${label}: merge a CDC file`, r.stderr)) {
				await con.run(`CREATE OR REPLACE TABLE ref AS SELECT * FROM ref WHERE id NOT IN (SELECT id FROM cdc)
					UNION ALL SELECT id, name, amount, region FROM cdc WHERE Op <> 'D'`);
				const s = await check(table, `${label} after a CDC merge`);
				const rewritten = [...before.live].filter(([p, a]) => s.live.has(p) &&
					key(s.live.get(p).deletionVector) !== key(a.deletionVector) && s.live.get(p).size !== a.size);
				const marked = [...before.live].filter(([p, a]) => s.live.has(p) &&
					key(s.live.get(p).deletionVector) !== key(a.deletionVector));
				ok(rewritten.length === 0 && marked.length > 0,
					`${label}: the CDC merge marked rows in ${marked.length} files and rewrote none`);
			}
		}
		// crashes: a process killed after the vector file is published (or
		// just before its commit) leaves the table as it was; the rerun
		// gives the clean result; vacuum leaves exactly the live vectors
		for (const point of ['dv-file-published:1', 'commit-before-publish:1']) {
			await q('SELECT setseed(0.31)');
			await con.run(`CREATE OR REPLACE TABLE ch AS SELECT 'C' AS diff, id, name || '!' AS name, amount,
				region FROM ref WHERE random() < 0.01 UNION ALL SELECT 'D', id, NULL, NULL, NULL FROM ref WHERE id % 301 = 7`);
			const chf = path.join(tmp, `crash-${label}.parquet`);
			await con.run(`COPY ch TO ${str(chf)} (FORMAT parquet)`);
			const v0 = commits(table).length;
			const crash = spawnSync(CL, ['apply', chf, '--to', table, ...noAuto, '-q'], { encoding: 'utf8', cwd: tmp,
				env: { ...process.env, CL_CRASH_AT: point } });
			ok(crash.signal === 'SIGKILL' && commits(table).length === v0,
				`${label}: apply killed at ${point}, no commit`, `${crash.signal} ${crash.status} ${crash.stderr}`);
			await check(table, `${label} after a crash at ${point}`);
			r = cl(['apply', chf, '--to', table, ...noAuto, '-q']);
			ok(r.status === 0, `${label}: rerun after the crash at ${point}`, r.stderr);
			await con.run(`CREATE OR REPLACE TABLE ref AS SELECT * FROM ref WHERE id NOT IN (SELECT id FROM ch)
				UNION ALL SELECT id, name, amount, region FROM ch WHERE diff <> 'D'`);
			await check(table, `${label} after the rerun of ${point}`);
		}
		{
			const onDisk = () => fs.readdirSync(table).filter((f) => /^deletion_vector_.*\.bin$/.test(f)).sort();
			const before = onDisk().length;
			r = cl(['vacuum', table, '--retain', '0s', '-q']);
			const live = new Set([...snapshot(table).live.values()].filter((a) => a.deletionVector)
				.map((a) => path.basename(minmod.dvFilePath(table, a.deletionVector))));
			const after = onDisk();
			ok(r.status === 0 && after.length === live.size && after.every((f) => live.has(f)) && before > after.length,
				`${label}: vacuum --retain 0s deletes the orphaned and no longer needed vector files, keeps the live ones`,
				`${before} before, ${after.length} after, ${live.size} live; ${r.stderr}`);
			await check(table, `${label} after vacuum of vector files`);
		}
		// race: two applies at once on different keys of the same files
		// (every bucket): both commit (the loser's conflict on the files'
		// vectors is redone on top of the winner), vectors stack, no row lost
		{
			const run = (args) => new Promise((res) => {
				const p = spawn(CL, args, { cwd: tmp });
				let err = '';
				p.stderr.on('data', (d) => { err += d; });
				p.on('close', (code) => res({ code, err }));
			});
			const files = [];
			for (const k of [0, 1]) {
				const f = path.join(tmp, `race-${label}-${k}.parquet`);
				await con.run(`COPY (SELECT 'C' AS diff, id, name || '#${k}' AS name, amount, region FROM ref
					WHERE id % 50 = ${k * 25 + 3}) TO ${str(f)} (FORMAT parquet)`);
				files.push(f);
			}
			const v0 = commits(table).length;
			const [a, b] = await Promise.all(files.map((f) => run(['apply', f, '--to', table, ...noAuto, '-q'])));
			ok(a.code === 0 && b.code === 0 && commits(table).length === v0 + 2,
				`${label}: two concurrent applies on the same files both commit`, a.err + b.err);
			await con.run(`CREATE OR REPLACE TABLE ref AS SELECT id, CASE WHEN id % 50 = 3 THEN name || '#0'
				WHEN id % 50 = 28 THEN name || '#1' ELSE name END AS name, amount, region FROM ref`);
			await check(table, `${label} after two concurrent applies`);
		}
		// purge
		r = cl(['compact', table, '--purge', '--json']);
		const cj = JSON.parse(r.stdout || '{}');
		ok(r.status === 0 && cj.filesPurged > 0, `${label}: compact --purge`, r.stdout + r.stderr);
		const sp = await check(table, `${label} after purge`);
		ok([...sp.live.values()].every((a) => !a.deletionVector), `${label}: no live file has a vector after purge`);
		r = cl(['vacuum', table, '--retain', '0s', '-q']);
		ok(r.status === 0, `${label}: vacuum --retain 0s`, r.stderr);
		await check(table, `${label} after vacuum`);
	}
} catch (e) {
	ok(false, 'lake_dv', e.stack);
} finally {
	fs.rmSync(tmp, { recursive: true, force: true });
}
t.end();
