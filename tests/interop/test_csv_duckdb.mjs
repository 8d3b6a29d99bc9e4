// test_csv_duckdb.mjs — changelake's CSV against DuckDB's, both directions.
//
// 1. Read: random CSV files (quotes, embedded delimiters and newlines, CRLF,
//    empty string vs NULL, unicode, int64 extremes, decimals, dates,
//    timestamps, doubles, bools) are read by DuckDB with explicit types and
//    by `changelake cat FILE --schema S --to jsonl`; every value must agree.
// 2. Write: random JSON Lines go through `changelake convert in.jsonl
//    out.csv --schema S`; DuckDB reads out.csv with explicit types and must
//    see exactly the generated values.
// DuckDB reads with allow_quoted_nulls=false, so "" is the empty string and
// an empty unquoted field NULL (PostgreSQL's CSV rules, which changelake
// follows). Prints "csv_duckdb: N passed, M failed".
import { DuckDBInstance } from '@duckdb/node-api';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { suite } from './lib.mjs';

const CL = process.env.CHANGELAKE;
if (!CL) {
	console.error('CHANGELAKE is not set');
	process.exit(2);
}
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cl-csv-duckdb-'));
const t = suite('csv_duckdb');

// Deterministic random numbers (mulberry32), so a failure can be replayed.
let seed = Number(process.env.CL_SEED || 12345);
function rnd() {
	seed = (seed + 0x6d2b79f5) | 0;
	let t = seed;
	t = Math.imul(t ^ (t >>> 15), t | 1);
	t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
	return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = (a) => a[Math.floor(rnd() * a.length)];
const int = (lo, hi) => lo + Math.floor(rnd() * (hi - lo + 1));

// Columns: changelake type, DuckDB type, how DuckDB's value is selected.
const COLS = [
	{ name: 'id', cl: 'int64', duck: 'BIGINT', sel: (c) => `CAST(${c} AS VARCHAR)` },
	{ name: 's', cl: 'string', duck: 'VARCHAR', sel: (c) => c },
	{ name: 'amount', cl: 'decimal(12,3)', duck: 'DECIMAL(12,3)', sel: (c) => `CAST(${c} AS VARCHAR)` },
	{ name: 'day', cl: 'date', duck: 'DATE', sel: (c) => `CAST(${c} AS VARCHAR)` },
	{ name: 'ts', cl: 'timestamp(us)', duck: 'TIMESTAMP', sel: (c) => `CAST(epoch_us(${c}) AS VARCHAR)` },
	{ name: 'f', cl: 'float64', duck: 'DOUBLE', sel: (c) => c },
	{ name: 'b', cl: 'bool', duck: 'BOOLEAN', sel: (c) => c },
	{ name: 'my col, "x"', cl: 'string', duck: 'VARCHAR', sel: (c) => c },
];
const schemaText = COLS.map((c) => `"${c.name.replace(/"/g, '""')}" ${c.cl}`).join('\n') + '\n';
const duckColumns = '{' + COLS.map((c) => `'${c.name.replace(/'/g, "''")}': '${c.duck}'`).join(', ') + '}';
const qid = (n) => '"' + n.replace(/"/g, '""') + '"';

const PIECES = ['a', 'b', 'Z', '0', '9', ' ', ',', ';', '"', '""', '\n', '\r\n', '\t',
	'\u00e9', '\u4e2d', '\u{1F600}', "'", '\\', 'NA', 'null', '.', '-'];

function randString() {
	if (rnd() < 0.1) return '';
	let s = '';
	const n = int(1, 8);
	for (let i = 0; i < n; i++) s += pick(PIECES);
	return s;
}
function pad(n, w) {
	return String(n).padStart(w, '0');
}
function randDecimal() {
	const ip = pick(['0', String(int(1, 9)), String(int(0, 999999999))]);
	const neg = rnd() < 0.3 && ip !== '0' ? '-' : '';
	return neg + ip + '.' + pad(int(0, 999), 3);
}
function randDate() {
	const d = new Date(Date.UTC(int(1900, 2100), 0, 1) + int(0, 365) * 86400000);
	return `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)}`;
}
// A timestamp as text and as epoch microseconds (BigInt).
function randTs() {
	const sec = int(-2000000000, 4000000000);
	const us = int(0, 999999);
	const d = new Date(sec * 1000);
	let t = `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)}` +
		`${pick([' ', 'T'])}${pad(d.getUTCHours(), 2)}:${pad(d.getUTCMinutes(), 2)}:${pad(d.getUTCSeconds(), 2)}`;
	if (us) t += '.' + pad(us, 6);
	return { text: t, us: (BigInt(sec) * 1000000n + BigInt(us)).toString() };
}
function randDouble() {
	return pick([() => rnd() * 1e6, () => -rnd(), () => int(-1000, 1000), () => rnd() * 1e-300,
		() => 1e300 * rnd(), () => 0])();
}
function randInt() {
	return pick(['0', '-1', '9223372036854775807', '-9223372036854775808', String(int(-1e9, 1e9))]);
}

// One random row: canonical values (what both sides must report) and the
// CSV text of each field.
function randRow(id) {
	const vals = {}, text = {};
	for (const c of COLS) {
		if (c.name !== 'id' && rnd() < 0.15) {
			vals[c.name] = null;
			continue;
		}
		switch (c.cl) {
		case 'int64': vals.id = c.name === 'id' && rnd() < 0.8 ? String(id) : randInt(); break;
		case 'string': vals[c.name] = randString(); break;
		case 'decimal(12,3)': vals[c.name] = randDecimal(); break;
		case 'date': vals[c.name] = randDate(); break;
		case 'timestamp(us)': { const t = randTs(); vals[c.name] = t.us; text[c.name] = t.text; break; }
		case 'float64': { const f = randDouble(); vals[c.name] = f; text[c.name] = String(f); break; }
		case 'bool': vals[c.name] = rnd() < 0.5; break;
		}
	}
	return { vals, text };
}

function csvField(c, v, t) {
	if (v === null) return '';
	const s = t !== undefined ? t : String(v);
	const must = c.cl === 'string' && (s === '' || /[",\r\n]/.test(s) || s.trim() !== s);
	if (must || rnd() < 0.2) return '"' + s.replace(/"/g, '""') + '"';
	return s;
}

// Parse changelake's JSON Lines output keeping number texts (JSON.parse
// would round int64 and decimals).
function parseLine(line) {
	const out = {};
	let i = 0;
	const ws = () => { while (' \t'.includes(line[i])) i++; };
	const str = () => {
		let j = i + 1;
		while (line[j] !== '"') j += line[j] === '\\' ? 2 : 1;
		const s = JSON.parse(line.slice(i, j + 1));
		i = j + 1;
		return s;
	};
	ws(); if (line[i++] !== '{') throw new Error('not an object: ' + line);
	ws();
	while (line[i] !== '}') {
		const k = str(); ws(); i++; ws();
		let v;
		if (line[i] === '"') v = { s: str() };
		else {
			const m = /^(-?[0-9][0-9.eE+-]*|true|false|null)/.exec(line.slice(i));
			if (!m) throw new Error('bad value in: ' + line);
			i += m[0].length;
			v = m[0] === 'null' ? null : m[0] === 'true' ? true : m[0] === 'false' ? false : { n: m[0] };
		}
		out[k] = v;
		ws(); if (line[i] === ',') { i++; ws(); }
	}
	return out;
}

// changelake's JSON value of column c -> canonical form.
function clCanon(c, v) {
	if (v === null || v === undefined) return null;
	switch (c.cl) {
	case 'timestamp(us)': {
		const m = /^(-?\d{4,})-(\d\d)-(\d\d)[ T](\d\d):(\d\d):(\d\d)(?:\.(\d+))?/.exec(v.s);
		if (!m) return 'bad ts ' + v.s;
		const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
		const frac = (m[7] || '').padEnd(6, '0');
		return (BigInt(ms) * 1000n + BigInt(frac)).toString();
	}
	case 'float64': return v.n !== undefined ? Number(v.n) : v.s;
	case 'bool': return v;
	default: return v.n !== undefined ? v.n : v.s;
	}
}

function duckCanon(c, v) {
	if (v === null) return null;
	if (c.cl === 'float64') return Number(v);
	return v;
}

function same(a, b) {
	return a === b || (typeof a === 'number' && typeof b === 'number' && Object.is(a, b));
}

async function duckRows(con, file) {
	const sel = COLS.map((c) => c.sel(qid(c.name))).join(', ');
	const r = await con.runAndReadAll(
		`SELECT ${sel} FROM read_csv('${file}', header=true, auto_detect=false, delim=',', quote='"', ` +
		`escape='"', allow_quoted_nulls=false, columns=${duckColumns})`);
	return r.getRows();
}

function check(label, expect, got) {
	if (expect.length !== got.length) {
		return `${label}: ${got.length} rows, expected ${expect.length}`;
	}
	for (let r = 0; r < expect.length; r++)
		for (let k = 0; k < COLS.length; k++)
			if (!same(expect[r][k], got[r][k]))
				return `${label}: row ${r + 1}, column '${COLS[k].name}': ${JSON.stringify(String(got[r][k]))}, expected ${JSON.stringify(String(expect[r][k]))}`;
	return null;
}

function report(name, err) {
	t.ok(!err, name, err);
}

const db = await DuckDBInstance.create(':memory:');
const con = await db.connect();
const schemaFile = path.join(dir, 'schema.txt');
fs.writeFileSync(schemaFile, schemaText);

// 1. DuckDB and changelake read the same random CSV files.
for (let f = 0; f < 12; f++) {
	const name = `read_${f}`;
	try {
		const nrows = pick([0, 1, 5, 50, 400]);
		const eol = rnd() < 0.5 ? '\n' : '\r\n';
		const header = COLS.map((c) => csvField({ cl: 'string' }, c.name)).join(',');
		const lines = [header];
		const expect = [];
		for (let i = 0; i < nrows; i++) {
			const { vals, text } = randRow(i);
			lines.push(COLS.map((c) => csvField(c, vals[c.name], text[c.name])).join(','));
			expect.push(COLS.map((c) => vals[c.name]));
		}
		const file = path.join(dir, `${name}.csv`);
		fs.writeFileSync(file, lines.join(eol) + (rnd() < 0.8 ? eol : ''));
		const duck = (await duckRows(con, file)).map((row) => row.map((v, k) => duckCanon(COLS[k], v)));
		let err = check('DuckDB vs generated', expect.map((r) => r.map((v, k) => COLS[k].cl === 'float64' && v !== null ? Number(v) : v)), duck);
		if (!err) {
			const out = execFileSync(CL, ['cat', file, '--schema', schemaFile, '--to', 'jsonl', '-q'],
				{ encoding: 'utf8', maxBuffer: 1 << 28 });
			const mine = out.split('\n').filter((l) => l).map(parseLine)
				.map((o) => COLS.map((c) => clCanon(c, o[c.name])));
			err = check('changelake vs DuckDB', duck, mine);
		}
		report(name, err);
	} catch (e) {
		report(name, String(e.stderr || e.message || e).slice(0, 400));
	}
}

// 2. changelake writes CSV from JSON Lines; DuckDB reads it back.
for (let f = 0; f < 12; f++) {
	const name = `write_${f}`;
	try {
		const nrows = pick([0, 1, 5, 50, 400]);
		const jl = [];
		const expect = [];
		for (let i = 0; i < nrows; i++) {
			const { vals, text } = randRow(i);
			const o = {};
			for (const c of COLS) {
				const v = vals[c.name];
				if (v === null) {
					if (rnd() < 0.5) o[c.name] = null; /* else: key missing */
					continue;
				}
				switch (c.cl) {
				case 'int64': case 'decimal(12,3)': o[c.name] = { raw: v }; break;
				case 'timestamp(us)': o[c.name] = text[c.name]; break;
				case 'float64': o[c.name] = { raw: text[c.name] }; break;
				default: o[c.name] = v;
				}
			}
			jl.push('{' + Object.entries(o).map(([k, v]) => JSON.stringify(k) + ':' +
				(v && typeof v === 'object' ? v.raw : JSON.stringify(v))).join(', ') + '}');
			expect.push(COLS.map((c) => c.cl === 'float64' && vals[c.name] !== null ? Number(vals[c.name]) : vals[c.name]));
		}
		const inFile = path.join(dir, `${name}.jsonl`);
		const outFile = path.join(dir, `${name}.csv`);
		fs.writeFileSync(inFile, jl.join('\n') + '\n');
		execFileSync(CL, ['convert', inFile, outFile, '--schema', schemaFile, '-q'], { encoding: 'utf8' });
		const duck = (await duckRows(con, outFile)).map((row) => row.map((v, k) => duckCanon(COLS[k], v)));
		report(name, check('DuckDB reading changelake CSV', expect, duck));
	} catch (e) {
		report(name, String(e.stderr || e.message || e).slice(0, 400));
	}
}

fs.rmSync(dir, { recursive: true, force: true });
t.end();
