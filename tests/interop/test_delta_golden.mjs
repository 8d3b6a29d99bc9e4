// test_delta_golden.mjs — changelake reads the Delta golden tables written
// by Spark (CL_TESTDATA/delta-golden) and DuckDB agrees on every row.
//
// For each table: `lake_interop dump TABLE` prints the rows changelake reads
// at the latest version (normalised by type), or fails. A failure is
// accepted only as a refusal that names why (an unsupported Delta feature,
// nested columns, not a lake table, files outside the table, a log without
// metadata). For a table changelake reads, DuckDB reads the live data files
// listed by `changelake table files --json` with read_parquet, the
// partition values come from the log, and the row multisets must be equal.
// Time travel: every version of the time-travel tables is compared too.
// Deletion vectors: the live files and their vectors come from an
// independent replay of the JSON commits here (logical file identity: path
// + DV uniqueId) and must equal what changelake lists; DuckDB reads each
// file with file_row_number and drops the rows dv_decode.mjs (an
// independent decoder) decodes from the vector. The DV tables are also
// checked against the contents the delta-io tests state.
// Env: CHANGELAKE, CL_BUILD, CL_TESTDATA. Prints "delta_golden: N passed, M failed".
import { DuckDBInstance } from '@duckdb/node-api';
import { decodeDv, decodeBitmapArray, encodeBitmapArray, z85Decode, z85Encode, readDvBitmap } from './dv_decode.mjs';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { suite } from './lib.mjs';

const build = process.env.CL_BUILD || 'build/san';
const bin = process.env.CHANGELAKE || path.join(build, 'changelake');
const tool = path.resolve(build, 'tools/lake_interop');
const root = path.join(process.env.CL_TESTDATA || '../shared/testdata', 'delta-golden');
const t = suite('delta_golden', { quiet: true });
const ok = t.ok;
if (!fs.existsSync(root)) {
	console.log(`skipped: no ${root}`);
	console.log('delta_golden: 0 passed, 0 failed');
	process.exit(0);
}

const run = (args, cmd = bin) => execFileSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'pipe'] });
const db = await DuckDBInstance.create(':memory:');
const con = await db.connect();
await con.run("SET TimeZone='UTC'");
const sqlstr = (s) => `'${s.replaceAll("'", "''")}'`;
const qid = (s) => `"${s.replaceAll('"', '""')}"`;

function decimalText(text, scale) {
	let neg = text.startsWith('-');
	let t = text.replace(/^[-+]/, '');
	let [i, f = ''] = t.split('.');
	f = (f + '0'.repeat(scale)).slice(0, scale);
	i = i.replace(/^0+(?=\d)/, '');
	const out = scale ? `${i}.${f}` : i;
	return neg && /[1-9]/.test(out) ? '-' + out : out;
}
function tsMicros(text) {
	const m = /^(-?\d{4,})-(\d\d)-(\d\d)[ T](\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:?\d\d)?$/.exec(text);
	if (!m) return `unparsed:${text}`;
	const ms = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
	let us = BigInt(ms) * 1000n + BigInt(((m[7] || '') + '000000').slice(0, 6));
	if (m[8] && m[8] !== 'Z') {
		const sign = m[8][0] === '-' ? -1n : 1n;
		const hh = BigInt(m[8].slice(1, 3)), mm = BigInt(m[8].slice(-2));
		us -= sign * (hh * 3600n + mm * 60n) * 1000000n;
	}
	return us.toString();
}
// Canonical JSON of a value of Delta type `t`.
function norm(t, v) {
	if (v === null || v === undefined) return null;
	if (t === 'float' || t === 'double') {
		const x = typeof v === 'string' ? (v === 'NaN' ? NaN : v === 'Infinity' ? Infinity : v === '-Infinity' ? -Infinity : Number(v)) : v;
		if (Number.isNaN(x)) return 'NaN';
		if (!Number.isFinite(x)) return x > 0 ? 'Infinity' : '-Infinity';
		return t === 'float' ? Math.fround(x) : x;
	}
	return v;
}
function partText(t, text) {
	if (text === null || text === '') return null;
	if (/^(byte|short|integer|long)$/.test(t)) return BigInt(text).toString();
	if (t === 'float' || t === 'double') return norm(t, Number(text));
	if (t === 'boolean') return text === 'true';
	if (t.startsWith('decimal')) return decimalText(text, +/,(\d+)\)/.exec(t)[1]);
	if (t === 'timestamp' || t === 'timestamp_ntz') return tsMicros(text);
	return text;
}
function sel(name, t) {
	const c = qid(name);
	if (/^(byte|short|integer|long)$/.test(t) || t === 'date' || t.startsWith('decimal')) return `CAST(${c} AS VARCHAR)`;
	if (t === 'timestamp' || t === 'timestamp_ntz') return `CAST(epoch_us(${c}) AS VARCHAR)`;
	if (t === 'binary') return `lower(hex(${c}))`;
	return c;
}

// PROTOCOL.md uniqueId of a deletion vector descriptor.
const dvId = (d) => `${d.storageType}${d.pathOrInlineDv}${d.offset !== undefined && d.offset !== null ? '@' + d.offset : ''}`;
// Live files of `version` from the JSON commits alone (null when a commit
// 0..version is missing): removes before adds in a commit, keyed by the
// logical file identity (decoded path + DV uniqueId).
function replayJson(table, version) {
	const live = new Map();
	for (let v = 0; v <= version; v++) {
		const f = path.join(table, '_delta_log', `${String(v).padStart(20, '0')}.json`);
		if (!fs.existsSync(f)) return null;
		const acts = fs.readFileSync(f, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
		for (const pass of ['remove', 'add'])
			for (const a of acts) {
				const x = a[pass];
				if (!x) continue;
				const p = decodeURIComponent(x.path);
				const id = `${p}\n${x.deletionVector ? dvId(x.deletionVector) : ''}`;
				if (pass === 'remove') live.delete(id);
				else live.set(id, { path: p, deletionVector: x.deletionVector || null });
			}
	}
	const byPath = new Map();
	for (const x of live.values()) byPath.set(x.path, x);
	return byPath;
}

async function compare(table, ref, label) {
	const desc = JSON.parse(run(['table', 'describe', ref, '--json']));
	const fields = JSON.parse(desc.schemaString).fields.filter((f) => f.type !== 'void');
	const parts = desc.partitionColumns;
	const mine = run(['dump', ref], tool).split('\n').filter(Boolean).map((l) => {
		const r = JSON.parse(l);
		return JSON.stringify(r.map((v, i) => norm(fields[i].type, v)));
	}).sort();
	const theirs = [];
	const listed = JSON.parse(run(['table', 'files', ref, '--json'])).files;
	const replayed = replayJson(table, desc.version);
	if (replayed) {
		const a = listed.map((f) => `${f.path} ${f.deletionVector ? dvId(f.deletionVector) : ''}`).sort();
		const b = [...replayed.values()].map((x) => `${x.path} ${x.deletionVector ? dvId(x.deletionVector) : ''}`).sort();
		ok(JSON.stringify(a) === JSON.stringify(b),
			`${label}: live files (path + DV) as an independent JSON replay: ${a.length} vs ${b.length}`);
	}
	for (const f of listed) {
		const file = path.join(table, f.path);
		const have = new Set((await con.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet(${sqlstr(file)})`))
			.getRows().map((r) => r[0]));
		const exprs = fields.map((fl) => parts.includes(fl.name) || !have.has(fl.name) ? 'NULL' : sel(fl.name, fl.type));
		let dv = f.deletionVector;
		if (replayed && replayed.has(f.path)) dv = replayed.get(f.path).deletionVector;
		let where = '';
		if (dv) {
			const del = decodeDv(table, dv);
			where = del.length ? ` WHERE file_row_number NOT IN (${del.join(',')})` : '';
		}
		const rows = (await con.runAndReadAll(`SELECT ${exprs.join(', ')} FROM read_parquet(${sqlstr(file)}, file_row_number=true)${where}`)).getRows();
		for (const row of rows) {
			const vals = row.map((v, i) => {
				const fl = fields[i];
				if (parts.includes(fl.name)) return partText(fl.type, f.partitionValues[fl.name]);
				if (typeof v === 'bigint') v = Number(v);
				return norm(fl.type, v);
			});
			theirs.push(JSON.stringify(vals));
		}
	}
	theirs.sort();
	let diff = 0;
	for (let i = 0; i < Math.max(mine.length, theirs.length); i++)
		if (mine[i] !== theirs[i] && diff++ < 2)
			console.log(`  ${label} row ${i}: changelake ${mine[i]}\n  ${' '.repeat(label.length)}     duckdb     ${theirs[i]}`);
	return ok(diff === 0 && mine.length === theirs.length,
		`${label}: ${mine.length} rows from changelake, ${theirs.length} from DuckDB, ${diff} differ`);
}

const refusal = /not supported|nested|not a lake table|outside the table|no flat schema|no metaData|no protocol|missing commit/;
// Log-only test tables whose data files were never written, and the one
// file SOURCE says is missing: reading them must fail on the missing file.
const noData = new Set(['checkpoint', 'delete-re-add-same-file-different-transactions',
	'log-replay-special-characters-b', 'parquet-decimal-dictionaries-v1']);
let read = 0, refused = 0;
for (const name of fs.readdirSync(root).sort()) {
	const table = path.join(root, name);
	if (!fs.statSync(table).isDirectory()) continue;
	try {
		run(['dump', table], tool);
	} catch (e) {
		const msg = String(e.stderr || e);
		const why = noData.has(name) ? /No such file/ : refusal;
		if (ok(why.test(msg), `${name}: refused without a clear reason: ${msg.trim()}`)) refused++;
		continue;
	}
	if (await compare(table, table, name)) read++;
}
for (const name of ['time-travel-start-start20-start40', 'time-travel-partition-changes-b', 'snapshot-data2-deleted',
	'log-replay-dv-key-cases', 'dv-partitioned-with-checkpoint']) {
	const table = path.join(root, name);
	const latest = JSON.parse(run(['table', 'describe', table, '--json'])).version;
	for (let v = 0; v <= latest; v++) await compare(table, `${table}@${v}`, `${name}@${v}`);
}
ok(read >= 42, `read ${read} golden tables (refused ${refused})`);

// Deletion vectors: the contents the delta-io tests state.
{
	const rows = (ref) => run(['dump', ref], tool).split('\n').filter(Boolean).map((l) => JSON.parse(l));
	const kc = rows(path.join(root, 'log-replay-dv-key-cases')).map((r) => Number(r[0])).sort((a, b) => a - b);
	const want = [...Array(50).keys()].filter((x) => x !== 0 && x !== 7 && x !== 14);
	ok(JSON.stringify(kc) === JSON.stringify(want), `log-replay-dv-key-cases: ids 0..49 minus 0, 7, 14 (${kc.length} rows)`);
	const pc = rows(path.join(root, 'dv-partitioned-with-checkpoint')).map((r) => JSON.stringify(r.map(String))).sort();
	const pw = [...Array(50).keys()].filter((x) => !(x % 2 === 0 && x < 30))
		.map((x) => JSON.stringify([String(x % 10), String(x), `foo${x % 5}`])).sort();
	ok(JSON.stringify(pc) === JSON.stringify(pw), `dv-partitioned-with-checkpoint: 35 rows as DeletionVectorSuite states (${pc.length})`);
	try {
		run(['dump', path.join(root, 'dv-with-columnmapping')], tool);
		ok(false, 'dv-with-columnmapping: read although it uses column mapping');
	} catch (e) {
		ok(/'columnMapping'/.test(String(e.stderr || e)), `dv-with-columnmapping refused naming 'columnMapping'`);
	}
	// the decoder itself: ZeroMQ RFC 32's example, every DV file of the
	// golden tables (size, CRC), an encode/decode round trip
	ok(z85Encode(Buffer.from([0x86, 0x4f, 0xd2, 0x6f, 0xb5, 0x59, 0xf7, 0x5b])) === 'HelloWorld' &&
		z85Decode('HelloWorld').toString('hex') === '864fd26fb559f75b', 'z85 RFC 32 example');
	let files = 0, bad = 0;
	for (const t of ['log-replay-dv-key-cases', 'dv-partitioned-with-checkpoint', 'dv-with-columnmapping'])
		for (const n of fs.readdirSync(path.join(root, t)).filter((n) => /^deletion_vector_.*\.bin$/.test(n))) {
			const buf = fs.readFileSync(path.join(root, t, n));
			const size = buf.readInt32BE(1);
			try {
				const uuid = n.slice(16, -4).replaceAll('-', '');
				const z = z85Encode(Buffer.from(uuid, 'hex'));
				const rowsOf = decodeDv(path.join(root, t), { storageType: 'u', pathOrInlineDv: z, offset: 1, sizeInBytes: size,
					cardinality: decodeBitmapArray(buf.subarray(5, 5 + size)).length });
				files++;
				if (!rowsOf.length) bad++;
			} catch (e) {
				bad++;
				console.log(`  ${t}/${n}: ${e.message}`);
			}
		}
	ok(files >= 20 && bad === 0, `decoded ${files} golden DV files (${bad} bad)`);
	const sample = [0n, 7n, 4096n, 65535n, 65536n, 70000n, (1n << 32n) + 5n];
	for (let v = 100000n; v < 110000n; v += 2n) sample.push(v);
	sample.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
	const back = decodeBitmapArray(encodeBitmapArray(sample));
	ok(back.join() === sample.join(), 'bitmap encode/decode round trip (array and bitmap containers, key > 0)');
	const ex = decodeDv('/nonexistent', { storageType: 'i', pathOrInlineDv: 'wi5b=000010000siXQKl0rr91000f55c8Xg0@@D72lkbi5=-{L',
		sizeInBytes: 40, cardinality: 6 });
	ok(ex.join() === '3,4,7,11,18,29', `PROTOCOL.md inline example decodes to rows 3,4,7,11,18,29 (${ex.join()})`);
	const inl = encodeBitmapArray([3n, 9n]);
	ok(readDvBitmap('/nonexistent', { storageType: 'i', pathOrInlineDv: z85Encode(inl), sizeInBytes: inl.length })
		.equals(inl), 'inline descriptor');
}
t.end();
