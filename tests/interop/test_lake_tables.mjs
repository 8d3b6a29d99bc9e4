// test_lake_tables.mjs — lake tables as inputs and as apply targets,
// checked with DuckDB reading the live data files of each version (listed
// by replaying the Delta log's JSON commits here, independently of
// changelake).
//
//   read      `changelake cat TABLE@V` equals DuckDB's read_parquet over the
//             live files of V plus the partition values from the log, for
//             every version of a many-typed, partitioned, bucketed table
//             (tests/tools/lake_interop make) and with --columns
//   diff      `changelake diff TABLE@V1 TABLE@V2 --key id` equals DuckDB's
//             FULL OUTER JOIN of the two versions' live files, rows in key
//             order
//   back      apply(diff(T@last, T@1), T) reads as T@1 (every type, a
//             partition transform recomputed)
//   apply     rounds of apply(diff(A, B), table holding A) == B (DuckDB
//             reads the table's live files), on a plain and a partitioned
//             bucketed table; each commit removes exactly the live files
//             that held a changed key and no other
//   refuse    bad change sets (a value that does not convert, a key changed
//             twice, a column the table lacks) leave the log as it was
//   once      --app-id/--app-version: the rerun changes nothing
//   race      two applies at once on overlapping keys: each succeeds or
//             fails with a conflict, the log stays whole, and the table is
//             what the successful ones give applied in some order
// Env: CHANGELAKE, CL_BUILD. Prints "lake_tables: N passed, M failed".
import { DuckDBInstance } from '@duckdb/node-api';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { suite } from './lib.mjs';

const build = process.env.CL_BUILD || 'build/san';
const CL = process.env.CHANGELAKE || path.join(build, 'changelake');
const tool = path.resolve(build, 'tools/lake_interop');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cl-lake-tables-'));
const t = suite('lake_tables');
const ok = t.ok;

function cl(args, opts = {}) {
	return spawnSync(CL, args, { encoding: 'utf8', maxBuffer: 1 << 28, cwd: tmp, ...opts });
}

const db = await DuckDBInstance.create(':memory:');
const con = await db.connect();
await con.run("SET TimeZone='UTC'");
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
function latest(table) {
	const c = commits(table);
	return c[c.length - 1].version;
}
function snapshot(table, version = Infinity) {
	const live = new Map();
	let meta = null;
	for (const c of commits(table)) {
		if (c.version > version) break;
		for (const a of c.actions) {
			if (a.metaData) meta = a.metaData;
			if (a.add) live.set(decodeURIComponent(a.add.path), a.add.partitionValues || {});
			if (a.remove) live.delete(decodeURIComponent(a.remove.path));
		}
	}
	const fields = JSON.parse(meta.schemaString).fields;
	return { live, fields, partitionColumns: meta.partitionColumns || [] };
}
const DELTA_TO_DUCK = {
	long: 'BIGINT', integer: 'INTEGER', short: 'SMALLINT', byte: 'TINYINT', double: 'DOUBLE',
	float: 'FLOAT', string: 'VARCHAR', boolean: 'BOOLEAN', date: 'DATE', timestamp: 'TIMESTAMPTZ',
	timestamp_ntz: 'TIMESTAMP', binary: 'BLOB',
};
const duckType = (t) => DELTA_TO_DUCK[t] || (t.startsWith('decimal') ? t.toUpperCase() : null);

// SQL of the rows of version v: the live files' data columns plus the
// partition values of each file from the log, in table column order
// (or only `cols`).
function versionSql(table, v = Infinity, cols = null) {
	const s = snapshot(table, v);
	const files = [...s.live.keys()];
	const names = cols || s.fields.map((f) => f.name);
	const parts = s.partitionColumns;
	const sel = names.map((n) => {
		const f = s.fields.find((x) => x.name === n);
		const k = parts.indexOf(n);
		return k >= 0 ? `CAST(f.p${k} AS ${duckType(f.type)}) AS "${n}"` : `d."${n}"`;
	});
	const vals = files.map((p) => `(${[str(path.join(table, p)),
		...parts.map((c) => (s.live.get(p)[c] == null ? 'NULL' : str(s.live.get(p)[c])))].join(', ')})`);
	if (!files.length) return `SELECT ${names.map((n) => `NULL AS "${n}"`).join(', ')} WHERE false`;
	return `SELECT ${sel.join(', ')} FROM read_parquet([${files.map((p) => str(path.join(table, p))).join(', ')}],
		filename = true, union_by_name = true) d
		JOIN (VALUES ${vals.join(', ')}) f(fname${parts.map((_, k) => `, p${k}`).join('')}) ON d.filename = f.fname`;
}

// changelake's rows of a table ref as a DuckDB table `name`, through cat's CSV.
async function catTable(name, ref, table, cols = null) {
	const args = ['cat', ref, '--to', 'csv'];
	if (cols) args.push('--columns', cols.join(','));
	const r = cl(args);
	if (r.status !== 0) throw new Error(`cat ${ref}: ${r.stderr}`);
	const file = path.join(tmp, `${name}.csv`);
	fs.writeFileSync(file, r.stdout);
	const s = snapshot(table, Number(ref.split('@')[1] ?? Infinity));
	const names = cols || s.fields.map((f) => f.name);
	const types = names.map((n) => `'${n}': '${duckType(s.fields.find((f) => f.name === n).type)}'`);
	await con.run(`CREATE OR REPLACE TABLE ${name} AS SELECT * FROM read_csv(${str(file)}, header = true,
		columns = {${types.join(', ')}}, allow_quoted_nulls = false, auto_detect = false, quote = '"',
		escape = '"', delim = ',')`);
	return Number((await q(`SELECT count(*) FROM ${name}`))[0][0]);
}

// Are relations a and b (SQL) equal as multisets? Returns [equal, why].
async function sameRows(a, b) {
	const r = await q(`SELECT (SELECT count(*) FROM (${a})), (SELECT count(*) FROM (${b})),
		(SELECT count(*) FROM ((${a}) EXCEPT ALL (${b}))), (SELECT count(*) FROM ((${b}) EXCEPT ALL (${a})))`);
	const [na, nb, ab, ba] = r[0].map(Number);
	return [na === nb && ab === 0 && ba === 0, `${na} vs ${nb} rows, ${ab} only in the first, ${ba} only in the second`];
}

try {
	// ---- read: every version of a many-typed partitioned table ----
	const t1 = path.join(tmp, 'interop');
	const mk = spawnSync(tool, ['make', t1], { encoding: 'utf8' });
	if (!ok(mk.status === 0, 'lake_interop make', mk.stderr)) throw new Error('no table');
	const vlast = latest(t1);
	for (let v = 1; v <= vlast; v++) {
		const n = await catTable('mine', `${t1}@${v}`, t1);
		const [same, why] = await sameRows('SELECT * FROM mine', versionSql(t1, v));
		ok(n > 0 && same, `read: cat ${path.basename(t1)}@${v} (${n} rows) equals DuckDB over the live files`, why);
	}
	{
		const cols = ['ts_day', 'amount', 'id', 'region'];
		await catTable('mine', t1, t1, cols);
		const [same, why] = await sameRows('SELECT * FROM mine', versionSql(t1, Infinity, cols));
		ok(same, 'read: cat --columns (partition and data columns, reordered) equals DuckDB', why);
	}

	// ---- diff: versions of the table against DuckDB's full outer join ----
	for (const [v1, v2] of [[1, 2], [2, 4], [1, vlast], [3, 3]]) {
		const out = path.join(tmp, 'vdiff.parquet');
		const r = cl(['diff', `${t1}@${v1}`, `${t1}@${v2}`, '--key', 'id', '-o', out, '--quiet']);
		const fields = snapshot(t1).fields.map((f) => f.name).filter((n) => n !== 'id');
		const expected = `SELECT CASE WHEN a.id IS NULL THEN 'I' WHEN b.id IS NULL THEN 'D' ELSE 'C' END AS diff,
			coalesce(a.id, b.id) AS id,
			${fields.map((c) => `a."${c}" AS "left_${c}", b."${c}" AS "right_${c}"`).join(', ')}
			FROM (${versionSql(t1, v1)}) a FULL OUTER JOIN (${versionSql(t1, v2)}) b ON a.id = b.id
			WHERE a.id IS NULL OR b.id IS NULL OR ${fields.map((c) => `a."${c}" IS DISTINCT FROM b."${c}"`).join(' OR ')}`;
		const nexp = Number((await q(`SELECT count(*) FROM (${expected})`))[0][0]);
		if (!ok(r.status === (nexp ? 1 : 0), `diff @${v1} @${v2}: exit status`, `${r.status} ${r.stderr}`))
			continue;
		const [same, why] = await sameRows(`SELECT * FROM read_parquet(${str(out)})`, expected);
		const ids = (await q(`SELECT id FROM read_parquet(${str(out)})`)).map((x) => Number(x[0]));
		const sorted = ids.every((x, i) => i === 0 || ids[i - 1] < x);
		ok(same && sorted, `diff ${path.basename(t1)}@${v1} @${v2}: ${nexp} changes equal DuckDB's FULL OUTER JOIN, in key order`,
			`${why}${sorted ? '' : ', not in key order'}`);
	}

	// ---- apply a diff of two versions: back to version 1 (types of every
	// kind, a partition transform column recomputed, partition moves) ----
	{
		const copy = path.join(tmp, 'interop-copy');
		fs.cpSync(t1, copy, { recursive: true });
		const back = path.join(tmp, 'back.parquet');
		const d = cl(['diff', `${t1}@${vlast}`, `${t1}@1`, '--key', 'id', '-o', back, '--quiet']);
		const a = cl(['apply', back, '--to', copy, '--quiet']);
		ok(d.status === 1 && a.status === 0, 'apply diff(T@last, T@1) to a copy of T', d.stderr + a.stderr);
		const [same, why] = await sameRows(versionSql(copy), versionSql(t1, 1));
		ok(same, 'apply diff(T@last, T@1) to T gives T@1 (DuckDB over the live files)', why);
	}

	// ---- apply: rounds of apply(diff(A, B), table(A)) == B ----
	const snapSql = (f) => `SELECT id, name, amount, score, region, flag FROM read_parquet(${str(f)})`;
	async function makeVersion(file, seed, base) {
		// from `base` (or nothing): ~10% changed, ~5% deleted, ~5% new keys
		await q(`SELECT setseed(${seed})`);
		const src = base ? `SELECT * FROM read_parquet(${str(base)})`
			: `SELECT i::BIGINT AS id, 'n' || i AS name, (i * 1.25)::DECIMAL(12,2) AS amount,
				i / 3.0 AS score, ['north', 'south', 'east', 'a/b'][1 + i % 4] AS region, i % 2 = 0 AS flag
				FROM range(1, 3001) t(i)`;
		// few enough changes that some files hold none of them
		await con.run(`COPY (
			SELECT id,
				CASE WHEN r < 0.0005 THEN NULL WHEN r < 0.002 THEN name || '*' ELSE name END AS name,
				CASE WHEN r < 0.001 THEN amount + 1 ELSE amount END AS amount,
				CASE WHEN r BETWEEN 0.0007 AND 0.0015 THEN NULL ELSE score END AS score,
				CASE WHEN r BETWEEN 0.001 AND 0.0014 THEN 'east' ELSE region END AS region,
				flag
			FROM (SELECT *, random() AS r FROM (${src})) WHERE ${base ? 'r < 0.999' : 'true'}
			UNION ALL
			SELECT id, 'new' || id, 7.5, NULL, 'a/b', true FROM (SELECT (SELECT max(id) FROM (${src})) + i AS id FROM range(1, ${base ? 4 : 1}) t(i))
			ORDER BY id) TO ${str(file)} (FORMAT parquet)`);
	}
	for (const layout of [['--buckets', '16'], ['--buckets', '8', '--partition-by', 'region']]) {
		const label = layout.includes('--partition-by') ? 'partitioned' : 'plain';
		const dms = path.join(tmp, `dms-${label}`, 's', 't');
		const table = path.join(tmp, `lake-${label}`);
		fs.mkdirSync(dms, { recursive: true });
		const A = path.join(tmp, `${label}-v0.parquet`);
		await makeVersion(A, 0.25, null);
		fs.copyFileSync(A, path.join(dms, 'LOAD00000001.parquet'));
		const m = cl(['merge', '--source', `dms:${dms}`, '--to', table, '--key', 'id', ...layout, '-q']);
		if (!ok(m.status === 0, `apply ${label}: table created by merge`, m.stderr)) continue;
		let prev = A;
		for (let round = 1; round <= 3; round++) {
			const B = path.join(tmp, `${label}-v${round}.parquet`);
			await makeVersion(B, 0.1 * round, prev);
			const ch = path.join(tmp, `${label}-changes${round}.parquet`);
			const d = cl(['diff', prev, B, '--key', 'id', '-o', ch, '--quiet']);
			if (!ok(d.status === 1, `apply ${label} round ${round}: diff`, d.stderr)) break;
			// the live files that hold a changed key, before the apply
			const before = snapshot(table);
			const holders = new Set();
			const keys = `SELECT id FROM read_parquet(${str(ch)})`;
			for (const p of before.live.keys()) {
				const n = await q(`SELECT count(*) FROM read_parquet(${str(path.join(table, p))}) WHERE id IN (${keys})`);
				if (Number(n[0][0]) > 0) holders.add(p);
			}
			const v0 = latest(table);
			const a = cl(['apply', ch, '--to', table, '--json']);
			if (!ok(a.status === 0, `apply ${label} round ${round}: apply`, a.stderr)) break;
			const js = JSON.parse(a.stdout);
			const v1 = latest(table);
			ok(v1 === v0 + 1 && js.version === v1, `apply ${label} round ${round}: one commit`, `${v0} -> ${v1}`);
			const [same, why] = await sameRows(versionSql(table, Infinity, ['id', 'name', 'amount', 'score', 'region', 'flag']), snapSql(B));
			ok(same, `apply ${label} round ${round}: apply(diff(A, B), table(A)) == B read by DuckDB`, why);
			const acts = commits(table).find((c) => c.version === v1).actions;
			const removed = new Set(acts.filter((x) => x.remove).map((x) => decodeURIComponent(x.remove.path)));
			const same_set = removed.size === holders.size && [...holders].every((p) => removed.has(p));
			ok(same_set && removed.size < before.live.size && js.files_rewritten === removed.size,
				`apply ${label} round ${round}: removes are exactly the ${holders.size} of ${before.live.size} files holding a changed key`,
				`removed ${removed.size}, holders ${holders.size}, stats ${js.files_rewritten}`);
			const after = snapshot(table);
			const kept = [...before.live.keys()].filter((p) => !holders.has(p)).every((p) => after.live.has(p));
			ok(kept, `apply ${label} round ${round}: every other file stays live, untouched`);
			prev = B;
		}

		// ---- refuse: bad change sets leave the log as it was ----
		const logCount = () => fs.readdirSync(path.join(table, '_delta_log')).length;
		const nlog = logCount(), vbad = latest(table);
		const bads = {
			'a value that does not convert': 'diff,id,left_amount,right_amount\nC,5,1.00,lots\n',
			'a key changed twice': 'diff,id,name,amount,score,region,flag\nI,900001,x,1,1,north,true\nD,900001,,,,,\n',
			'a column the table lacks': 'diff,id,left_color,right_color\nC,5,red,blue\n',
		};
		for (const [what, text] of Object.entries(bads)) {
			const f = path.join(tmp, 'bad.csv');
			fs.writeFileSync(f, text);
			const r = cl(['apply', f, '--to', table]);
			ok(r.status === 2 && latest(table) === vbad && logCount() === nlog && /changelake: /.test(r.stderr),
				`refuse ${label}: ${what} changes nothing`, `exit ${r.status}: ${r.stderr.trim()}`);
		}

		// ---- once: a rerun with the same application version ----
		const last = path.join(tmp, `${label}-changes3.parquet`);
		const undo = path.join(tmp, `${label}-undo.parquet`);
		cl(['diff', prev, A, '--key', 'id', '-o', undo, '--quiet']);
		const r1 = cl(['apply', undo, '--to', table, '--app-id', 'job', '--app-version', '4', '--json']);
		const v4 = latest(table);
		const r2 = cl(['apply', undo, '--to', table, '--app-id', 'job', '--app-version', '4', '--json']);
		const r3 = cl(['apply', last, '--to', table, '--app-id', 'job', '--app-version', '3', '--json']);
		ok(r1.status === 0 && r2.status === 0 && r3.status === 0 && latest(table) === v4 &&
			JSON.parse(r2.stdout).already_applied && JSON.parse(r3.stdout).already_applied,
			`once ${label}: reruns of an applied application version change nothing`, r1.stderr + r2.stderr + r3.stderr);
		const txn = commits(table).find((c) => c.version === v4).actions.find((x) => x.txn);
		ok(txn && txn.txn.appId === 'job' && txn.txn.version === 4, `once ${label}: the commit records txn job=4`);
		const [back, why] = await sameRows(versionSql(table, Infinity, ['id', 'name', 'amount', 'score', 'region', 'flag']), snapSql(A));
		ok(back, `once ${label}: apply(diff(last, A)) brought the table back to A`, why);
	}

	// ---- race: two applies at once ----
	{
		const table = path.join(tmp, 'lake-plain');
		for (let round = 1; round <= 3; round++) {
			const base = path.join(tmp, `race-base${round}.parquet`);
			const cv = cl(['convert', table, base]);
			if (!ok(cv.status === 0, `race ${round}: the table as a snapshot`, cv.stderr)) break;
			const sets = [];
			for (const k of [1, 2]) {
				const f = path.join(tmp, `race${round}-${k}.parquet`);
				// overlapping keys (every 3rd of the first 600), different values
				await con.run(`COPY (SELECT 'C' AS diff, id, name || '-r${round}w${k}' AS name, amount + ${k} AS amount,
					score, region, flag FROM read_parquet(${str(base)}) WHERE id % ${k + 2} = 0 AND id < 600
					UNION ALL SELECT 'I', 800000 + ${k} * 1000 + ${round}, 'race', 1, NULL, 'north', false
					) TO ${str(f)} (FORMAT parquet)`);
				sets.push(f);
			}
			const v0 = latest(table);
			const runs = sets.map((f) => new Promise((resolve) => {
				const p = spawn(CL, ['apply', f, '--to', table, '--mode', 'right-side', '--quiet'], { cwd: tmp });
				let err = '';
				p.stderr.on('data', (d) => { err += d; });
				p.on('close', (code) => resolve({ code, err }));
			}));
			const res = await Promise.all(runs);
			const good = res.map((r) => r.code === 0);
			ok(res.every((r) => r.code === 0 || (r.code === 2 && /conflict|concurrent/i.test(r.err))),
				`race ${round}: each apply succeeds or fails with a clear conflict`, res.map((r) => `${r.code} ${r.err.trim()}`).join(' | '));
			const vs = commits(table).map((c) => c.version);
			const contiguous = vs.every((v, i) => v === i);
			const nnew = latest(table) - v0;
			ok(contiguous && nnew === good.filter(Boolean).length,
				`race ${round}: the log is whole, one commit per successful apply (${nnew})`);
			// expected: the successful change sets applied to the base in some order
			const orders = good[0] && good[1] ? [[0, 1], [1, 0]] : [[good[0] ? 0 : 1]];
			let matched = false, why = '';
			for (const order of orders) {
				let cur = base;
				for (const k of order) {
					const out = path.join(tmp, `race-exp-${order.join('')}-${k}.parquet`);
					const r = cl(['apply', sets[k], '--to', cur, '--mode', 'right-side', '--key', 'id', '-o', out, '--quiet']);
					if (r.status !== 0) why += r.stderr;
					cur = out;
				}
				const [same, w] = await sameRows(versionSql(table, Infinity, ['id', 'name', 'amount', 'score', 'region', 'flag']), snapSql(cur));
				if (same) matched = true;
				else why += ` order ${order}: ${w};`;
			}
			ok(matched, `race ${round}: the table is the successful change sets applied in some order`, why);
		}
	}
} catch (e) {
	ok(false, 'lake_tables', e.stack || String(e));
}

fs.rmSync(tmp, { recursive: true, force: true });
t.end();
