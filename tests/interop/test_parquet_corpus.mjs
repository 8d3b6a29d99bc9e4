// test_parquet_corpus.mjs — changelake's Parquet reader against files it did
// not write: every file of parquet-testing/data (and dms/, parquet-go/) is
// read by `changelake cat FILE --to jsonl` and by DuckDB, and the values are
// compared row by row in a canonical form per type (parquet_compare.mjs).
// Files with nested columns are compared as changelake reads them — structs
// flattened to dotted columns, lists and maps as JSON text — value by value
// against DuckDB (parquet_nested.mjs); files DuckDB cannot read must give a clear error
// (exit 2, naming the file); every bad_data/ file likewise; no sanitizer
// report anywhere. The *_expect.csv companions are compared too.
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { runChangelake, sanitizerTrouble, duckRead, isNestedType, compareRows, parseJsonLine }
	from './parquet_compare.mjs';
import { compareNested } from './parquet_nested.mjs';
import { suite } from './lib.mjs';

const TD = process.env.CL_TESTDATA || '../shared/testdata';
const DATA = join(TD, 'parquet-testing/data');
const BAD = join(TD, 'parquet-testing/bad_data');

// Files where changelake must fail with a specific error, and why that is right.
const expectError = {
	// Row 6 holds a Julian day far before year 1 with negative nanoseconds
	// (Spark's own overflow); its microseconds do not fit in int64. DuckDB
	// silently wraps it around to a wrong value; we refuse.
	'int96_from_spark.parquet': /INT96 timestamp out of range/,
	// Deliberately corrupt CRCs: DuckDB does not check CRCs, we do.
	'datapage_v1-corrupt-checksum.parquet': /CRC mismatch/,
	'rle-dict-uncompressed-corrupt-checksum.parquet': /CRC mismatch/,
	// A dictionary page whose values are not what its header says (DuckDB
	// reads garbage or errors depending on version); we report it.
	'nation.dict-malformed.parquet': /./,
};

// Files DuckDB cannot read, compared instead with DuckDB reading a file
// of the same content in another codec (the corpus has these in sets).
// DuckDB does not implement the legacy LZ4 codec (Hadoop framing or raw).
const sameAs = {
	'hadoop_lz4_compressed.parquet': 'lz4_raw_compressed.parquet',
	'non_hadoop_lz4_compressed.parquet': 'lz4_raw_compressed.parquet',
	'hadoop_lz4_compressed_larger.parquet': 'lz4_raw_compressed_larger.parquet',
};

// bad_data files that are in fact valid and must read exactly as DuckDB
// reads them: a dictionary index bit width of 0 is what parquet-mr writes
// for a one-entry dictionary (the reported bug was a crash in the Go reader).
const badButValid = new Set(['ARROW-GH-43605.parquet']);

const t = suite('parquet_corpus');
const fail = (msg) => t.ok(false, msg);
const pass = (msg) => t.ok(true, msg);

const db = await DuckDBInstance.create(':memory:');
const con = await db.connect();
await con.run("SET TimeZone='UTC'");

function checkError(label, r, re) {
	const name = basename(label);
	if (sanitizerTrouble(r.stderr)) return fail(`${label}: sanitizer report:\n${r.stderr.slice(0, 3000)}`);
	if (r.status !== 2) return fail(`${label}: expected exit 2, got ${r.status} (${r.signal || ''}) ${r.stderr.slice(0, 300)}`);
	if (!r.stderr.includes(name)) return fail(`${label}: error does not name the file: ${r.stderr.trim()}`);
	if (re && !re.test(r.stderr)) return fail(`${label}: error does not match ${re}: ${r.stderr.trim()}`);
	pass(`${label}: ${r.stderr.trim().slice(0, 160)}`);
}

// Columns with a legacy TIMESTAMP_* converted type and no logical type.
async function legacyTimestampColumns(file) {
	const r = await duckRead(con, file, `SELECT name FROM parquet_schema('${file.replace(/'/g, "''")}')
		WHERE converted_type LIKE 'TIMESTAMP%' AND logical_type IS NULL`);
	return new Set(r.error ? [] : r.rows.map((x) => x[0]));
}

// byte_stream_split_extended: DuckDB reads BYTE_STREAM_SPLIT only for
// FLOAT/DOUBLE; the file pairs every BSS column with a PLAIN one of the
// same values, so: our PLAIN columns match DuckDB, and our BSS columns match
// our PLAIN columns.
async function checkBssExtended(file, label) {
	const r = runChangelake(['cat', file, '--to', 'jsonl']);
	if (r.status !== 0) return fail(`${label}: changelake failed: ${r.stderr.trim()}`);
	const names = JSON.parse(JSON.stringify(parseJsonLine(r.stdout.split('\n')[0]).map((x) => x[0])));
	const plain = names.filter((n) => n.endsWith('_plain'));
	const duck = await duckRead(con, file, `SELECT ${plain.map((n) => `"${n}"`).join(', ')} FROM read_parquet('${file}')`);
	if (duck.error) return fail(`${label}: DuckDB: ${duck.error}`);
	const d = compareRows(duck, r.stdout, label, { columns: plain.map((n) => names.indexOf(n)) });
	if (d) return fail(d);
	for (const line of r.stdout.split('\n').filter((l) => l)) {
		const o = parseJsonLine(line);
		const get = (n) => JSON.stringify(o[names.indexOf(n)][1]);
		for (const p of plain) {
			const b = p.replace(/_plain$/, '_byte_stream_split');
			if (get(p) !== get(b)) return fail(`${label}: ${b} is ${get(b)}, ${p} is ${get(p)}`);
		}
	}
	pass(`${label}: PLAIN columns match DuckDB, BYTE_STREAM_SPLIT columns match them`);
}

// map_no_value: DuckDB refuses a MAP without a value field, which
// parquet-format allows (LogicalTypes.md: the value field may be omitted).
// The file's maps have keys equal to its list column's items and no (or
// only NULL) values: each map must read as those keys with null values.
function checkMapNoValue(file, label) {
	const r = runChangelake(['cat', file, '--to', 'jsonl']);
	if (r.status !== 0) return fail(`${label}: changelake failed: ${r.stderr.trim()}`);
	const lines = r.stdout.split('\n').filter((l) => l);
	if (lines.length !== 3) return fail(`${label}: ${lines.length} rows, expected 3`);
	for (const line of lines) {
		const o = Object.fromEntries(parseJsonLine(line).map(([k, v]) => [k, v && v.s]));
		const want = JSON.stringify(Object.fromEntries(JSON.parse(o.my_list).map((k) => [k, null])));
		if (o.my_map !== want || o.my_map_no_v !== want)
			return fail(`${label}: ${line}: maps should be ${want}`);
	}
	pass(`${label}: maps read as their keys with null values`);
}

async function checkFile(file) {
	const label = file.replace(TD + '/', '');
	const name = basename(file);
	if (name === 'byte_stream_split_extended.gzip.parquet') return checkBssExtended(file, label);
	if (name === 'map_no_value.parquet') return checkMapNoValue(file, label);
	const r = runChangelake(['cat', file, '--to', 'jsonl']);
	if (sanitizerTrouble(r.stderr)) return fail(`${label}: sanitizer report:\n${r.stderr.slice(0, 3000)}`);
	if (expectError[name]) return checkError(label, r, expectError[name]);
	if (name.endsWith('.encrypted')) return checkError(label, r, /encrypted Parquet not supported/);
	const ref = sameAs[name] ? join(DATA, sameAs[name]) : file;
	const duck = await duckRead(con, ref);
	if (duck.error) {
		// DuckDB cannot read it: we must fail cleanly too.
		return checkError(label, r, null);
	}
	if (duck.types.some(isNestedType)) {
		const n = await compareNested(con, ref, label, { legacyUtc: await legacyTimestampColumns(ref) });
		if (n.skip) return fail(`${label}: ${n.skip}`);
		return n.diff ? fail(n.diff) : pass(`${label} (nested): ${n.ok}`);
	}
	if (r.status !== 0) return fail(`${label}: changelake failed: ${r.stderr.trim()}`);
	const d = compareRows(duck, r.stdout, label, { legacyUtc: await legacyTimestampColumns(ref) });
	if (d) return fail(d);
	pass(`${label}: ${duck.rows.length} rows x ${duck.names.length} columns match DuckDB` +
		(ref !== file ? ` (reading ${basename(ref)})` : ''));
}

// Parse a simple quoted CSV (the corpus' _expect.csv): unquoted empty = null.
function parseCsv(text) {
	const rows = [];
	let row = [], i = 0, field = '', quoted = false, inq = false;
	const endField = () => { row.push(quoted ? field : (field === '' ? null : field)); field = ''; quoted = false; };
	while (i < text.length) {
		const c = text[i];
		if (inq) {
			if (c === '"' && text[i + 1] === '"') { field += '"'; i += 2; continue; }
			if (c === '"') { inq = false; i++; continue; }
			field += c; i++; continue;
		}
		if (c === '"') { inq = true; quoted = true; i++; continue; }
		if (c === ',') { endField(); i++; continue; }
		if (c === '\n' || c === '\r') {
			if (c === '\r' && text[i + 1] === '\n') i++;
			endField(); rows.push(row); row = []; i++; continue;
		}
		field += c; i++;
	}
	if (field !== '' || row.length) { endField(); rows.push(row); }
	return rows;
}

function checkExpectCsv(csvFile) {
	const pq = csvFile.replace(/_expect\.csv$/, '.parquet');
	const label = basename(csvFile);
	const rows = parseCsv(readFileSync(csvFile, 'utf8'));
	const header = rows.shift();
	const r = runChangelake(['cat', pq, '--to', 'jsonl']);
	if (r.status !== 0) return fail(`${label}: changelake failed: ${r.stderr.trim()}`);
	const lines = r.stdout.split('\n').filter((l) => l !== '');
	if (lines.length !== rows.length) return fail(`${label}: ${lines.length} rows, expected ${rows.length}`);
	for (let i = 0; i < rows.length; i++) {
		const obj = parseJsonLine(lines[i]);
		if (obj.length !== header.length) return fail(`${label}: row ${i}: ${obj.length} columns, expected ${header.length}`);
		for (let c = 0; c < header.length; c++) {
			const v = obj[c][1];
			const ours = v === null ? null : v.s !== undefined ? v.s : v.n !== undefined ? v.n : String(v.b);
			if (ours !== rows[i][c])
				return fail(`${label}: row ${i}, column '${header[c]}': expected ${JSON.stringify(rows[i][c])}, changelake ${JSON.stringify(ours)}`);
		}
	}
	pass(`${label}: ${rows.length} rows match`);
}

const files = readdirSync(DATA).filter((f) => f.endsWith('.parquet') || f.endsWith('.parquet.encrypted')).sort();
for (const f of files) await checkFile(join(DATA, f));
for (const f of readdirSync(DATA).filter((f) => f.endsWith('_expect.csv')).sort()) checkExpectCsv(join(DATA, f));
for (const f of readdirSync(BAD).filter((f) => f.endsWith('.parquet')).sort()) {
	const file = join(BAD, f);
	if (badButValid.has(f)) {
		await checkFile(file);
		continue;
	}
	checkError(file.replace(TD + '/', ''), runChangelake(['cat', file, '--to', 'jsonl']), null);
}
for (const dir of ['dms', 'parquet-go']) {
	const d = join(TD, dir);
	if (!existsSync(d)) continue;
	for (const f of readdirSync(d).filter((f) => f.endsWith('.parquet')).sort()) await checkFile(join(d, f));
}
t.end();
