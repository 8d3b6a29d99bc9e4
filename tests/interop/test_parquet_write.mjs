// test_parquet_write.mjs — changelake's Parquet writer against DuckDB.
//
// For each case, tests/tools/pqgen writes a random table (all core types,
// nulls, empty strings, unicode, extremes, NaN/inf, every decimal band)
// with some writer options, plus the same rows as canonical text. DuckDB
// then reads the file, and the test checks:
//   values    every value of every row equals the canonical text
//   types     DESCRIBE and parquet_schema(): the DuckDB type, physical type,
//             repetition, ConvertedType and LogicalType intended
//   file      parquet_file_metadata(): created_by, row and row-group counts,
//             file size, TypeDefinedOrder column orders; key-value metadata
//   chunks    parquet_metadata(): per row group and column, the null count
//             and min/max equal DuckDB's own aggregates over those rows
//             (NaN excluded, -0.0/+0.0 rule), codec, encodings, row limits
//   api       cl_writer_file_stats (pqgen's .meta.json) equals the null
//             counts and min/max computed here from the rows
//   readback  changelake's own reader (pqgen --read) gives back the schema
//             and every value
// Some cases write with CL_THREADS > 1 (columns encoded in parallel).
// Then the other way: DuckDB writes random tables of every type it shares
// with changelake (every codec, pages v1 and v2, several row groups) and
// changelake's reader must give the values DuckDB reads.
// Env: CL_BUILD (build dir with tools/pqgen). Prints
// "parquet_write: N passed, M failed".
import { DuckDBInstance } from '@duckdb/node-api';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { suite } from './lib.mjs';

const build = process.env.CL_BUILD || 'build/san';
const pqgen = path.resolve(build, 'tools/pqgen');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cl-pqw-'));
const t = suite('parquet_write', { quiet: true });
const ok = t.ok;

// ---------- schema text ----------

function parseSchema(text) {
	const parts = [];
	let depth = 0, cur = '';
	for (const ch of text) {
		if (ch === '(') depth++;
		if (ch === ')') depth--;
		if (ch === ',' && depth === 0) { parts.push(cur); cur = ''; } else cur += ch;
	}
	parts.push(cur);
	return parts.map((p) => {
		p = p.trim();
		let name;
		if (p[0] === '"') {
			let i = 1;
			name = '';
			for (; i < p.length; i++) {
				if (p[i] === '"' && p[i + 1] === '"') { name += '"'; i++; } else if (p[i] === '"') break; else name += p[i];
			}
			p = 'x' + p.slice(i + 1);
		}
		const m = p.match(/^(\S+)\s+(.+?)(\s+not\s+null)?$/i);
		name = name ?? m[1];
		const t = m[2].replace(/\s+/g, '').toLowerCase();
		const f = { name, nullable: !m[3], id: t.replace(/\(.*/, ''), text: t };
		const a = t.match(/\((.*)\)/);
		if (f.id === 'decimal') { const [p, s] = a[1].split(','); f.p = +p; f.s = +s; }
		if (f.id === 'time' || f.id === 'timestamp') {
			const args = a ? a[1].split(',') : ['us'];
			f.unit = args[0]; f.utc = args.includes('utc');
		}
		return f;
	});
}

function decimalBytes(p) {
	const need = 10n ** BigInt(p) - 1n;
	for (let n = 1; n < 16; n++) if (need <= (1n << BigInt(8 * n - 1)) - 1n) return n;
	return 16;
}

const q = (s) => '"' + s.replaceAll('"', '""') + '"';

// What DuckDB should report for a field: [duckdb type, physical, converted, logical regex, type_length]
function expectType(f, int96) {
	const I = (bits, signed) => new RegExp(`^IntType\\(bitWidth=.*, isSigned=${signed ? 1 : 0}\\)$`);
	const unitRe = (u) => u === 'ms' ? 'MILLIS=MilliSeconds\\(\\)' : u === 'us' ? 'MICROS=MicroSeconds\\(\\)' : 'NANOS=NanoSeconds\\(\\)';
	switch (f.id) {
	case 'bool': return ['BOOLEAN', 'BOOLEAN', null, null];
	case 'int8': return ['TINYINT', 'INT32', 'INT_8', I(8, true)];
	case 'int16': return ['SMALLINT', 'INT32', 'INT_16', I(16, true)];
	case 'int32': return ['INTEGER', 'INT32', null, null];
	case 'int64': return ['BIGINT', 'INT64', null, null];
	case 'uint8': return ['UTINYINT', 'INT32', 'UINT_8', I(8, false)];
	case 'uint16': return ['USMALLINT', 'INT32', 'UINT_16', I(16, false)];
	case 'uint32': return ['UINTEGER', 'INT32', 'UINT_32', I(32, false)];
	case 'uint64': return ['UBIGINT', 'INT64', 'UINT_64', I(64, false)];
	case 'float32': return ['FLOAT', 'FLOAT', null, null];
	case 'float64': return ['DOUBLE', 'DOUBLE', null, null];
	case 'decimal': {
		const phys = f.p <= 9 ? 'INT32' : f.p <= 18 ? 'INT64' : 'FIXED_LEN_BYTE_ARRAY';
		return [`DECIMAL(${f.p},${f.s})`, phys, 'DECIMAL',
			new RegExp(`^DecimalType\\(scale=${f.s}, precision=${f.p}\\)$`),
			phys === 'FIXED_LEN_BYTE_ARRAY' ? decimalBytes(f.p) : null];
	}
	case 'date': return ['DATE', 'INT32', 'DATE', /^DateType\(\)$/];
	case 'time': return [f.unit === 'ns' ? 'TIME_NS' : 'TIME', f.unit === 'ms' ? 'INT32' : 'INT64',
		f.unit === 'ms' ? 'TIME_MILLIS' : f.unit === 'us' ? 'TIME_MICROS' : null,
		new RegExp(`^TimeType\\(isAdjustedToUTC=0, unit=.*${unitRe(f.unit)}`)];
	case 'timestamp':
		if (int96) return [null, 'INT96', null, null];
		return [f.utc ? 'TIMESTAMP WITH TIME ZONE' : f.unit === 'ns' ? 'TIMESTAMP_NS' : 'TIMESTAMP',
			'INT64', f.unit === 'ms' ? 'TIMESTAMP_MILLIS' : f.unit === 'us' ? 'TIMESTAMP_MICROS' : null,
			new RegExp(`^TimestampType\\(isAdjustedToUTC=${f.utc ? 1 : 0}, unit=.*${unitRe(f.unit)}`)];
	case 'string': return ['VARCHAR', 'BYTE_ARRAY', 'UTF8', /^StringType\(\)$/];
	case 'binary': return ['BLOB', 'BYTE_ARRAY', null, null];
	}
	throw new Error('type ' + f.id);
}

// SQL giving the canonical text (or a DOUBLE for floats) of column f.
function canonExpr(f, duckType) {
	const c = q(f.name);
	switch (f.id) {
	case 'float32': case 'float64': return `CAST(${c} AS DOUBLE)`;
	case 'date': return `CAST(${c} - DATE '1970-01-01' AS VARCHAR)`;
	case 'binary': return `lower(hex(${c}))`;
	case 'time': case 'timestamp': {
		// DuckDB keeps nanoseconds only in TIME_NS / TIMESTAMP_NS.
		const u = f.unit === 'ns' && !/_NS$/.test(duckType) ? 'us' : f.unit;
		return `CAST(epoch_${u}(${c}) AS VARCHAR)`;
	}
	default: return `CAST(${c} AS VARCHAR)`;
	}
}

// DuckDB prints DECIMAL(38,38) 0.5 as ".5"; canonical text has the 0.
const normDec = (s) => s === null ? null : s.replace(/^(-?)\./, '$10.');

function sameValue(f, duckType, exp, got) {
	// DuckDB turns nanosecond instants of +-(2^63-1) into +-infinity when it
	// narrows them to microseconds (TIMESTAMP WITH TIME ZONE): epoch_us is
	// then NULL. The timestamp(ns) columns without utc check those values.
	if (got === null && f.unit === 'ns' && !/_NS$/.test(duckType) &&
	    (exp === '9223372036854775807' || exp === '-9223372036854775807'))
		return true;
	if (exp === null || got === null) return exp === got;
	switch (f.id) {
	case 'float32': case 'float64': {
		const e = exp === 'nan' ? NaN : exp === 'inf' ? Infinity : exp === '-inf' ? -Infinity : parseFloat(exp);
		return Object.is(e, got);
	}
	case 'decimal': return normDec(got) === exp;
	case 'time': case 'timestamp':
		if (f.unit === 'ns' && !/_NS$/.test(duckType)) {
			const e = BigInt(exp), g = BigInt(got);
			const trunc = e / 1000n, floor = e >= 0n || e % 1000n === 0n ? trunc : trunc - 1n;
			return g === trunc || g === floor;
		}
		return exp === got;
	default: return exp === got;
	}
}

// Order of canonical texts of type f (NaN and null never reach here).
function cmpCanon(f, a, b) {
	switch (f.id) {
	case 'float32': case 'float64': {
		const x = a === 'inf' ? Infinity : a === '-inf' ? -Infinity : parseFloat(a);
		const y = b === 'inf' ? Infinity : b === '-inf' ? -Infinity : parseFloat(b);
		return x < y ? -1 : x > y ? 1 : 0;
	}
	case 'decimal': {
		const x = BigInt(a.replace('.', '')), y = BigInt(b.replace('.', ''));
		return x < y ? -1 : x > y ? 1 : 0;
	}
	case 'string': return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
	case 'binary': return a < b ? -1 : a > b ? 1 : 0;
	case 'bool': return (a === 'true') - (b === 'true');
	default: { const x = BigInt(a), y = BigInt(b); return x < y ? -1 : x > y ? 1 : 0; }
	}
}

// min, max, nulls, nans, infs of column ci over rows[lo, hi)
function summarize(f, rows, ci, lo, hi) {
	let mn = null, mx = null, nulls = 0, nans = 0, infs = 0;
	const isFloat = f.id === 'float32' || f.id === 'float64';
	for (let r = lo; r < hi; r++) {
		const v = rows[r][ci];
		if (v === null) { nulls++; continue; }
		if (isFloat && v === 'nan') { nans++; continue; }
		if (isFloat && /inf$/.test(v)) infs++;
		if (mn === null || cmpCanon(f, v, mn) < 0) mn = v;
		if (mx === null || cmpCanon(f, v, mx) > 0) mx = v;
	}
	if (isFloat) {
		// Parquet's rule: a zero minimum is -0.0, a zero maximum +0.0.
		if (mn !== null && parseFloat(mn) === 0) mn = '-0';
		if (mx !== null && parseFloat(mx) === 0) mx = '0';
	}
	return { mn, mx, nulls, nans, infs };
}

// pqgen --read: the file as changelake's reader sees it, or null (failed).
function readWithChangelake(file) {
	let out;
	try {
		out = execFileSync(pqgen, ['--read', file], { stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 28 }).toString();
	} catch (e) {
		ok(false, `changelake cannot read ${path.basename(file)}: ${e.stderr}`);
		return null;
	}
	const lines = out.split('\n').filter((l) => l);
	const head = JSON.parse(lines[0]);
	return { names: head.names, types: head.types, rows: lines.slice(1).map((l) => JSON.parse(l)) };
}

// ---------- DuckDB ----------

const db = await DuckDBInstance.create(':memory:');
const con = await db.connect();
await con.run("SET TimeZone = 'UTC'");
async function rows(sql) {
	const r = await con.runAndReadAll(sql);
	return r.getRows().map((row) => row.map((v) => typeof v === 'bigint' ? v.toString() : v));
}
async function objects(sql) {
	const r = await con.runAndReadAll(sql);
	const cols = r.columnNames();
	return r.getRows().map((row) => Object.fromEntries(row.map((v, i) => [cols[i], typeof v === 'bigint' ? v.toString() : v])));
}

// ---------- one case ----------

async function runCase(cs) {
	const file = path.join(tmp, cs.name + '.parquet');
	const args = [file, '--schema', cs.schema, '--quiet', ...(cs.args || [])];
	try {
		const env = { ...process.env, CL_THREADS: String(cs.threads || 1) };
		execFileSync(pqgen, args, { stdio: ['ignore', 'ignore', 'pipe'], env });
	} catch (e) {
		ok(false, `${cs.name}: pqgen failed: ${e.stderr}`);
		return;
	}
	const fields = parseSchema(cs.schema);
	const int96 = (cs.args || []).includes('--int96');
	const noDict = (cs.args || []).includes('--no-dict');
	const argVal = (k, d) => { const i = (cs.args || []).indexOf(k); return i >= 0 ? cs.args[i + 1] : d; };
	const codec = { none: 'UNCOMPRESSED', uncompressed: 'UNCOMPRESSED', lz4: 'LZ4_RAW' }[argVal('--codec', 'snappy')] ||
		argVal('--codec', 'snappy').toUpperCase();
	const exp = fs.readFileSync(file + '.jsonl', 'utf8').split('\n').filter((l) => l).map((l) => JSON.parse(l));
	const meta = JSON.parse(fs.readFileSync(file + '.meta.json', 'utf8'));
	const src = `read_parquet('${file}')`;
	const tag = cs.name;

	// types
	const desc = await objects(`DESCRIBE SELECT * FROM ${src}`);
	const schemaRows = (await objects(`SELECT * FROM parquet_schema('${file}')`)).slice(1);
	ok(desc.length === fields.length && schemaRows.length === fields.length, `${tag}: column count`);
	const duckTypes = [];
	let typesOk = true;
	fields.forEach((f, i) => {
		const [dt, phys, conv, logical, tlen] = expectType(f, int96);
		const d = desc[i], s = schemaRows[i];
		duckTypes.push(d.column_type);
		const why = [];
		if (d.column_name !== f.name || s.name !== f.name) why.push('name');
		if (dt && d.column_type !== dt) why.push(`duckdb type ${d.column_type} != ${dt}`);
		if (s.type !== phys) why.push(`physical ${s.type} != ${phys}`);
		if (s.converted_type !== conv) why.push(`converted ${s.converted_type} != ${conv}`);
		if (logical ? !logical.test(s.logical_type || '') : s.logical_type !== null) why.push(`logical ${s.logical_type}`);
		if (s.repetition_type !== (f.nullable ? 'OPTIONAL' : 'REQUIRED')) why.push('repetition');
		if (tlen && String(s.type_length) !== String(tlen)) why.push(`type_length ${s.type_length}`);
		if (f.id === 'decimal' && (String(s.scale) !== String(f.s) || String(s.precision) !== String(f.p))) why.push('scale/precision');
		if (why.length) typesOk = ok(false, `${tag}: column ${f.name}: ${why.join(', ')}`);
	});
	if (typesOk) ok(true);

	// values
	const got = await rows(`SELECT ${fields.map((f, i) => canonExpr(f, duckTypes[i])).join(', ')} FROM read_parquet('${file}', file_row_number = true) ORDER BY file_row_number`);
	let bad = 0;
	if (got.length !== exp.length) bad++;
	for (let r = 0; r < Math.min(got.length, exp.length) && bad < 5; r++)
		for (let c = 0; c < fields.length; c++)
			if (!sameValue(fields[c], duckTypes[c], exp[r][c], got[r][c])) {
				if (bad++ < 5) console.log(`  ${tag}: row ${r} column ${fields[c].name}: expected ${JSON.stringify(exp[r][c])}, DuckDB read ${JSON.stringify(got[r][c])}`);
			}
	ok(bad === 0, `${tag}: values (${exp.length} rows expected, ${got.length} read)`);

	// changelake's own reader gives back the same schema and values
	const back = readWithChangelake(file);
	if (back) {
		const wantTypes = fields.map((f) => f.id === 'timestamp' && int96 ? 'timestamp(us)' : f.text);
		ok(JSON.stringify(back.names) === JSON.stringify(fields.map((f) => f.name)) &&
		   JSON.stringify(back.types) === JSON.stringify(wantTypes),
		   `${tag}: changelake reads the schema back: ${JSON.stringify(back.types)}`);
		let bad2 = back.rows.length === exp.length ? 0 : 1;
		for (let r = 0; r < Math.min(back.rows.length, exp.length) && bad2 < 5; r++)
			for (let c = 0; c < fields.length; c++) {
				let e = exp[r][c], g = back.rows[r][c];
				if (int96 && fields[c].id === 'timestamp' && e !== null && g !== null) {
					const f = fields[c];
					const x = BigInt(e), y = BigInt(g);
					const same = f.unit === 'ms' ? y === x * 1000n : f.unit === 'us' ? y === x
						: y === x / 1000n || y === (x - ((x % 1000n) + 1000n) % 1000n) / 1000n;
					if (same) continue;
				} else if (e === g) continue;
				if (bad2++ < 5) console.log(`  ${tag}: changelake read row ${r} column ${fields[c].name}: ${JSON.stringify(g)}, expected ${JSON.stringify(e)}`);
			}
		ok(bad2 === 0, `${tag}: changelake reads the values back (${back.rows.length} rows)`);
	}

	// file metadata
	const fm = (await objects(`SELECT * FROM parquet_file_metadata('${file}')`))[0];
	ok(/^changelake version 0\.1\.0 \(build [^()\s]+\)$/.test(fm.created_by), `${tag}: created_by ${fm.created_by}`);
	ok(String(fm.num_rows) === String(exp.length), `${tag}: num_rows ${fm.num_rows}`);
	ok(String(fm.num_row_groups) === String(meta.num_row_groups), `${tag}: num_row_groups`);
	ok(String(fm.file_size_bytes) === String(fs.statSync(file).size) && meta.file_bytes === fs.statSync(file).size, `${tag}: file size`);
	const orders = fm.column_orders?.items || [];
	ok(orders.length === fields.length && orders.every((o) => /TYPE_ORDER=TypeDefinedOrder/.test(o)), `${tag}: column_orders`);
	const kvs = (cs.args || []).flatMap((a, i) => cs.args[i - 1] === '--kv' ? [a] : []);
	if (kvs.length) {
		const kv = await objects(`SELECT decode(key) k, decode(value) v FROM parquet_kv_metadata('${file}')`);
		ok(kvs.every((s) => kv.some((r) => `${r.k}=${r.v}` === s)) && kv.length === kvs.length, `${tag}: key-value metadata ${JSON.stringify(kv)}`);
	}

	// column chunks
	const md = await objects(`SELECT * FROM parquet_metadata('${file}') ORDER BY row_group_id, column_id`);
	const rgRows = [];
	for (const m of md) rgRows[Number(m.row_group_id)] = Number(m.row_group_num_rows);
	const rgLimit = Number(argVal('--rg-rows', 1 << 20));
	ok(rgRows.reduce((a, b) => a + b, 0) === exp.length && rgRows.every((n) => n > 0 && n <= rgLimit), `${tag}: row group sizes ${rgRows}`);
	let start = 0, chunkBad = 0;
	const fail = (msg) => { if (chunkBad++ < 6) console.log(`  ${tag}: ${msg}`); };
	for (let g = 0; g < rgRows.length; g++) {
		const lo = start, hi = start + rgRows[g];
		start = hi;
		const aggs = fields.map((f) => {
			const c = q(f.name);
			const filt = f.id.startsWith('float') ? ` FILTER (WHERE NOT isnan(${c}))` : '';
			return `CAST(min(${c})${filt} AS VARCHAR), CAST(max(${c})${filt} AS VARCHAR)`;
		});
		const agg = (await rows(`SELECT ${aggs.join(', ')} FROM read_parquet('${file}', file_row_number = true) WHERE file_row_number >= ${lo} AND file_row_number < ${hi}`))[0];
		fields.forEach((f, ci) => {
			const m = md.find((x) => Number(x.row_group_id) === g && Number(x.column_id) === ci);
			const sm = summarize(f, exp, ci, lo, hi);
			const where = `row group ${g} column ${f.name}`;
			if (String(m.stats_null_count) !== String(sm.nulls)) fail(`${where}: null_count ${m.stats_null_count} != ${sm.nulls}`);
			if (String(m.num_values) !== String(hi - lo)) fail(`${where}: num_values ${m.num_values}`);
			if (m.compression !== codec) fail(`${where}: compression ${m.compression} != ${codec}`);
			const encs = (m.encodings || '').split(', ');
			if (noDict && (encs.includes('RLE_DICTIONARY') || m.dictionary_page_offset !== null)) fail(`${where}: dictionary without --no-dict`);
			if (cs.expectDict && f.id !== 'bool' && sm.mn !== null && !encs.includes('RLE_DICTIONARY')) fail(`${where}: no dictionary (${m.encodings})`);
			if (cs.expectFallback && f.id !== 'bool' && sm.mn !== null && g === 0 && !(encs.includes('RLE_DICTIONARY') && encs.includes('PLAIN'))) fail(`${where}: no fallback (${m.encodings})`);
			let [amin, amax] = [agg[2 * ci], agg[2 * ci + 1]];
			const smin = m.stats_min_value, smax = m.stats_max_value;
			if (int96 && f.id === 'timestamp') {
				if (smin !== null || smax !== null) fail(`${where}: INT96 with min/max statistics`);
				return;
			}
			if (sm.mn === null && sm.nans === 0) {
				if (smin !== null || smax !== null) fail(`${where}: min/max on an all-null chunk`);
				return;
			}
			if (f.id.startsWith('float')) {
				if (smin === null || smax === null) {
					// DuckDB drops float statistics with an infinite bound.
					if (!sm.infs && sm.mn !== null) fail(`${where}: float statistics missing`);
					return;
				}
				if (parseFloat(smin) !== parseFloat(amin) || parseFloat(smax) !== parseFloat(amax)) fail(`${where}: min/max ${smin}/${smax} != ${amin}/${amax}`);
				if (parseFloat(amin) === 0 && smin !== '-0.0') fail(`${where}: zero minimum written as ${smin}`);
				if (parseFloat(amax) === 0 && smax !== '0.0') fail(`${where}: zero maximum written as ${smax}`);
				return;
			}
			if (f.id === 'decimal') { amin = normDec(amin); amax = normDec(amax); }
			if ((f.id === 'decimal' ? normDec(smin) : smin) !== amin || (f.id === 'decimal' ? normDec(smax) : smax) !== amax)
				fail(`${where}: min/max ${JSON.stringify([smin, smax])} != ${JSON.stringify([amin, amax])}`);
			const legacy = !['string', 'binary'].includes(f.id) && !f.id.startsWith('uint') &&
				!(f.id === 'decimal' && f.p > 18);
			if (legacy ? m.stats_min !== smin || m.stats_max !== smax : m.stats_min !== null || m.stats_max !== null)
				fail(`${where}: legacy min/max ${m.stats_min}/${m.stats_max}`);
		});
	}
	ok(chunkBad === 0, `${tag}: column chunk metadata (${chunkBad} problems)`);

	// cl_writer_file_stats
	let apiBad = 0;
	ok(meta.num_rows === exp.length, `${tag}: stats num_rows`);
	fields.forEach((f, ci) => {
		const sm = summarize(f, exp, ci, 0, exp.length);
		const c = meta.columns[ci];
		const why = [];
		if (c.name !== f.name) why.push('name');
		if (c.null_count !== sm.nulls) why.push(`null_count ${c.null_count} != ${sm.nulls}`);
		if (c.nan_count !== sm.nans) why.push(`nan_count ${c.nan_count} != ${sm.nans}`);
		if (c.has_min_max !== (sm.mn !== null)) why.push('has_min_max');
		if (c.min !== sm.mn || c.max !== sm.mx) why.push(`min/max ${c.min}/${c.max} != ${sm.mn}/${sm.mx}`);
		if (why.length && apiBad++ < 5) console.log(`  ${tag}: file stats of ${f.name}: ${why.join(', ')}`);
	});
	ok(apiBad === 0, `${tag}: cl_writer_file_stats`);
}

// ---------- cases ----------

const ALL = 'b bool, i8 int8, i16 int16, i32 int32, i64 int64, u8 uint8, u16 uint16, u32 uint32, ' +
	'u64 uint64, f32 float32, f64 float64, d4 decimal(4,2), d9 decimal(9,0), d18 decimal(18,6), ' +
	'd38 decimal(38,10), dt date, tms time(ms), tus time(us), tns time(ns), tsms timestamp(ms), ' +
	'tsus timestamp(us), tsns timestamp(ns), tsu timestamp(us,utc), tsnu timestamp(ns,utc), ' +
	's string, bin binary, "quoted ""name"" é" string, req int64 not null, reqs string not null';
const DECS = 'a decimal(1,0), b decimal(2,1), c decimal(9,9), d decimal(10,0), e decimal(12,4), ' +
	'f decimal(18,18), g decimal(19,0), h decimal(20,5), i decimal(27,3), j decimal(28,28), ' +
	'k decimal(33,0), l decimal(38,0), m decimal(38,38), n decimal(38,19) not null';
const TS = 'a timestamp(ms), b timestamp(us), c timestamp(ms,utc), d timestamp(us,utc), e int32';

const cases = [
	{ name: 'default', schema: ALL, args: ['--rows', '6000', '--seed', '11', '--random-batches', '--batch', '1500', '--rg-rows', '2500'] },
	{ name: 'zstd_v2_nodict', schema: ALL, args: ['--rows', '3000', '--seed', '12', '--codec', 'zstd', '--page-version', '2', '--no-dict', '--page-bytes', '2000'] },
	{ name: 'gzip_lowcard', schema: ALL, expectDict: true, threads: 2, args: ['--rows', '9000', '--seed', '13', '--codec', 'gzip', '--card', '40', '--null-pct', '30', '--batch', '4500'] },
	{ name: 'lz4_fallback', schema: ALL, expectFallback: true, threads: 3, args: ['--rows', '8000', '--seed', '14', '--codec', 'lz4_raw', '--card', '3000', '--dict-bytes', '3000', '--page-bytes', '4000', '--batch', '8000'] },
	{ name: 'brotli_v2_dict', schema: ALL, args: ['--rows', '1500', '--seed', '15', '--codec', 'brotli', '--page-version', '2', '--card', '200'] },
	{ name: 'none_many_groups', schema: ALL, args: ['--rows', '2000', '--seed', '16', '--codec', 'none', '--rg-rows', '97', '--batch', '333'] },
	{ name: 'rg_bytes', schema: 's string, i64 int64, f64 float64', args: ['--rows', '20000', '--seed', '17', '--rg-bytes', '60000'] },
	{ name: 'all_null', schema: ALL.replace(/ not null/g, ''), args: ['--rows', '700', '--seed', '18', '--null-pct', '100'] },
	{ name: 'no_null_special', schema: ALL, args: ['--rows', '800', '--seed', '19', '--null-pct', '0', '--special-pct', '60'] },
	{ name: 'decimals', schema: DECS, args: ['--rows', '3000', '--seed', '20', '--special-pct', '20'] },
	{ name: 'decimals_v2_zstd', schema: DECS, args: ['--rows', '1000', '--seed', '21', '--codec', 'zstd', '--page-version', '2', '--card', '30'] },
	{ name: 'int96', schema: TS, args: ['--rows', '2000', '--seed', '22', '--int96', '--codec', 'snappy'] },
	{ name: 'int96_v2_nodict', schema: TS, args: ['--rows', '1000', '--seed', '23', '--int96', '--no-dict', '--page-version', '2'] },
	{ name: 'kv_single_row', schema: ALL, args: ['--rows', '1', '--seed', '24', '--kv', 'origin=changelake test', '--kv', 'empty=', '--kv', 'ключ=значение'] },
	{ name: 'floats_zero', schema: 'a float32, b float64, c float64 not null', args: ['--rows', '3000', '--seed', '27', '--finite', '--special-pct', '30', '--rg-rows', '200'] },
	{ name: 'floats_zero_min', schema: 'a float32, b float64', args: ['--rows', '2000', '--seed', '28', '--finite', '--special-pct', '40', '--rg-rows', '100', '--float-sign', '1'] },
	{ name: 'floats_zero_max', schema: 'a float32, b float64', args: ['--rows', '2000', '--seed', '29', '--finite', '--special-pct', '40', '--rg-rows', '100', '--float-sign', '-1', '--no-dict'] },
	{ name: 'empty', schema: 'a int64, b string not null', args: ['--rows', '0'] },
	{ name: 'one_page_per_value', schema: 's string, i int64', args: ['--rows', '300', '--seed', '25', '--page-bytes', '1', '--codec', 'zstd'] },
	{ name: 'tiny_dict_v2', schema: 's string, i int32, d decimal(30,2)', args: ['--rows', '3000', '--seed', '26', '--dict-bytes', '1', '--page-version', '2', '--card', '5000'] },
];

// DuckDB writes, changelake reads: every value as DuckDB reads it back.
const DUCK_SQL = (n) => `SELECT
	CASE WHEN h % 11 = 0 THEN NULL ELSE h % 2 = 0 END AS b,
	CASE WHEN h % 13 = 0 THEN NULL WHEN g % 17 = 0 THEN -128 WHEN g % 19 = 0 THEN 127 ELSE (h % 256)::INT - 128 END::TINYINT AS i8,
	CASE WHEN h % 13 = 1 THEN NULL ELSE (h % 65536)::INT - 32768 END::SMALLINT AS i16,
	CASE WHEN h % 13 = 2 THEN NULL WHEN g % 23 = 0 THEN -2147483648 ELSE (h % 4294967296)::BIGINT - 2147483648 END::INTEGER AS i32,
	CASE WHEN h % 13 = 3 THEN NULL WHEN g % 17 = 1 THEN -9223372036854775808 WHEN g % 19 = 1 THEN 9223372036854775807
	     ELSE (h::HUGEINT - 9223372036854775808)::BIGINT END AS i64,
	(h % 256)::UTINYINT AS u8, (g % 65536)::USMALLINT AS u16, (h % 4294967296)::UINTEGER AS u32,
	CASE WHEN g % 29 = 0 THEN 18446744073709551615::UBIGINT WHEN g % 31 = 0 THEN 0::UBIGINT ELSE h END AS u64,
	CASE WHEN g % 7 = 0 THEN NULL WHEN g % 29 = 1 THEN 'nan'::FLOAT WHEN g % 31 = 1 THEN '-inf'::FLOAT ELSE ((h % 1000000)::DOUBLE / 7 - 50000)::FLOAT END AS f32,
	CASE WHEN g % 7 = 1 THEN NULL WHEN g % 29 = 2 THEN 'nan'::DOUBLE WHEN g % 31 = 2 THEN 'inf'::DOUBLE WHEN g % 37 = 0 THEN -0.0::DOUBLE
	     ELSE (h % 100000000)::DOUBLE / 3 - 1e7 END AS f64,
	CASE WHEN g % 7 = 2 THEN NULL ELSE ((h % 10000)::INT - 5000)::DECIMAL(4,0) / 100 END::DECIMAL(4,2) AS d4,
	CASE WHEN g % 7 = 3 THEN NULL ELSE (CASE WHEN g % 2 = 0 THEN '-' ELSE '' END || (h % 1000000000000)::VARCHAR || '.' || lpad((g % 1000000)::VARCHAR, 6, '0'))::DECIMAL(18,6) END AS d18,
	CASE WHEN g % 7 = 4 THEN NULL WHEN g % 41 = 0 THEN '9999999999999999999999999999.9999999999'::DECIMAL(38,10)
	     ELSE (CASE WHEN g % 2 = 0 THEN '-' ELSE '' END || h::VARCHAR || '.' || lpad((g % 10000000000)::VARCHAR, 10, '0'))::DECIMAL(38,10) END AS d38,
	CASE WHEN g % 7 = 5 THEN NULL ELSE DATE '1970-01-01' + ((h % 2000000)::INT - 1000000) END AS dt,
	CASE WHEN g % 7 = 6 THEN NULL ELSE TIME '00:00:00' + to_microseconds((h % 86400000000)::BIGINT) END AS tm,
	TIMESTAMP '1970-01-01' + to_microseconds((h % 20000000000000000)::BIGINT - 10000000000000000) AS ts,
	(TIMESTAMP '1970-01-01' + to_microseconds((g % 20000000000000000)::BIGINT - 10000000000000000))::TIMESTAMP_MS AS tsms,
	CASE WHEN h % 5 = 0 THEN NULL ELSE (TIMESTAMP '1970-01-01' + to_microseconds((h % 12000000000000000)::BIGINT - 6000000000000000))::TIMESTAMP_NS END AS tsns,
	CASE WHEN h % 5 = 1 THEN NULL ELSE (TIMESTAMP '1970-01-01' + to_microseconds((g % 20000000000000000)::BIGINT - 10000000000000000))::TIMESTAMPTZ END AS tstz,
	CASE WHEN g % 9 = 0 THEN NULL WHEN g % 9 = 1 THEN '' WHEN g % 9 = 2 THEN 'é€😀 "q" \\ ' || (h % 100)::VARCHAR
	     ELSE substr(md5(i::VARCHAR), 1, (g % 25)::INT) END AS s,
	'cat-' || (h % 10)::VARCHAR AS low,
	CASE WHEN g % 9 = 3 THEN NULL WHEN g % 9 = 4 THEN ''::BLOB ELSE unhex(substr(md5(i::VARCHAR), 1, 2 * (g % 12)::INT)) END AS bin
FROM (SELECT i, hash(i) AS h, hash(i + 1000003) AS g FROM range(${n}) t(i))`;

const duckCases = [
	{ name: 'duck_snappy', rows: 5000, opts: "COMPRESSION snappy, ROW_GROUP_SIZE 2000" },
	{ name: 'duck_zstd_v2', rows: 3000, opts: "COMPRESSION zstd, PARQUET_VERSION V2, ROW_GROUP_SIZE 1000" },
	{ name: 'duck_gzip', rows: 2000, opts: "COMPRESSION gzip" },
	{ name: 'duck_lz4', rows: 2000, opts: "COMPRESSION lz4" },
	{ name: 'duck_brotli_v2', rows: 1500, opts: "COMPRESSION brotli, PARQUET_VERSION V2" },
	{ name: 'duck_none', rows: 1000, opts: "COMPRESSION uncompressed" },
];

async function runDuckCase(cs) {
	const file = path.join(tmp, cs.name + '.parquet');
	await con.run(`COPY (${DUCK_SQL(cs.rows)}) TO '${file}' (FORMAT parquet, ${cs.opts})`);
	const back = readWithChangelake(file);
	if (!back) return;
	const schemaText = back.names.map((n, i) => `"${n.replaceAll('"', '""')}" ${back.types[i]}`).join(', ');
	const fields = parseSchema(schemaText);
	const desc = await objects(`DESCRIBE SELECT * FROM read_parquet('${file}')`);
	const duckTypes = desc.map((d) => d.column_type);
	const got = await rows(`SELECT ${fields.map((f, i) => canonExpr(f, duckTypes[i])).join(', ')} FROM read_parquet('${file}', file_row_number = true) ORDER BY file_row_number`);
	let bad = got.length === back.rows.length ? 0 : 1;
	for (let r = 0; r < Math.min(got.length, back.rows.length) && bad < 5; r++)
		for (let c = 0; c < fields.length; c++)
			if (!sameValue(fields[c], duckTypes[c], back.rows[r][c], got[r][c]) && bad++ < 5)
				console.log(`  ${cs.name}: row ${r} column ${fields[c].name} (${back.types[c]}): changelake read ${JSON.stringify(back.rows[r][c])}, DuckDB ${JSON.stringify(got[r][c])}`);
	ok(bad === 0 && fields.length === 23, `${cs.name}: changelake reads DuckDB's file (${back.rows.length} rows, ${fields.length} columns)`);
}

// ---------- nested output (nest_dotted, nested_columns) ----------
//
// Random rows with NULLs at every level (struct, list, element, map value,
// struct field inside a list) and empty lists/maps are written through
// pqgen --rows-from with dotted struct columns and JSON-text columns of
// declared nested types; then (1) changelake's reader gives every column
// back as written (JSON compared as values), and (2) DuckDB reading the
// file gives the same nested values (to_json of each top-level column
// against the value built from the rows: a struct is NULL exactly when all
// of its columns are), and its schema has the intended LIST/MAP shape.

const NESTED_COLS = [
	['id', 'int64 not null', null],
	['a.b', 'int64', null],
	['a.c', 'string', null],
	['a.d.e', 'float64', null],
	['a.m', 'string', 'map<string,string>'],
	['r.k', 'int64 not null', null],
	['r.v', 'string', null],
	['l1', 'string', 'list<long>'],
	['l2', 'string', 'list<string>'],
	['m1', 'string', 'map<string,long>'],
	['m2', 'string', 'map<int,list<double>>'],
	['ls', 'string', 'list<struct<x:long,y:string,z:list<boolean>>>'],
	['ll', 'string', 'list<list<integer>>'],
	['md', 'string', 'map<string,struct<p:date,q:decimal(9,2)>>'],
	['req', 'string not null', 'list<string>'],
];

function nestedGen(seed) {
	let st = seed >>> 0;
	const rnd = () => { st = (st * 1664525 + 1013904223) >>> 0; return st / 4294967296; };
	const pick = (a) => a[Math.floor(rnd() * a.length)];
	const nul = (p = 0.15) => rnd() < p;
	const str = () => pick(['', 'a', 'xyz', 'é ü', 'k"q', 'back\\slash', 'line']) + (rnd() < 0.5 ? String(Math.floor(rnd() * 50)) : '');
	const long = () => pick([0, 1, -1, 42, 2 ** 40, -(2 ** 50), Math.floor(rnd() * 1e6)]);
	const dbl = () => Math.floor(rnd() * 2000 - 1000) / 8;
	const len = () => rnd() < 0.15 ? 0 : rnd() < 0.05 ? 30 + Math.floor(rnd() * 40) : 1 + Math.floor(rnd() * 4);
	const list = (f) => { const n = len(); const a = []; for (let i = 0; i < n; i++) a.push(f()); return a; };
	const map = (k, f) => { const n = len(); const o = {}; for (let i = 0; i < n; i++) o[k()] = f(); return o; };
	const date = () => `20${10 + Math.floor(rnd() * 20)}-0${1 + Math.floor(rnd() * 9)}-1${Math.floor(rnd() * 9)}`;
	const gens = {
		'a.b': () => nul(0.4) ? null : long(),
		'a.c': () => nul(0.4) ? null : str(),
		'a.d.e': () => nul(0.4) ? null : dbl(),
		'a.m': () => nul(0.4) ? null : map(str, () => nul() ? null : str()),
		'r.k': () => long(),
		'r.v': () => nul() ? null : str(),
		l1: () => nul() ? null : list(() => nul() ? null : long()),
		l2: () => nul() ? null : list(() => nul() ? null : str()),
		m1: () => nul() ? null : map(str, () => nul() ? null : long()),
		m2: () => nul() ? null : map(() => Math.floor(rnd() * 1000 - 500), () => nul() ? null : list(() => nul() ? null : dbl())),
		ls: () => nul() ? null : list(() => nul() ? null : {
			x: nul() ? null : long(), y: nul() ? null : str(),
			z: nul() ? null : list(() => nul() ? null : rnd() < 0.5) }),
		ll: () => nul() ? null : list(() => nul() ? null : list(() => nul() ? null : Math.floor(rnd() * 100 - 50))),
		md: () => nul() ? null : map(str, () => nul() ? null : {
			p: nul() ? null : date(), q: nul() ? null : Math.floor(rnd() * 200000 - 100000) / 100 }),
		req: () => list(() => nul() ? null : str()),
	};
	return (id) => NESTED_COLS.map(([name, , nt]) => {
		if (name === 'id') return id;
		return gens[name]();
	});
}

// Deep equality; objects by their keys (JSON.parse reorders integer keys).
function deepEq(a, b) {
	if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') {
		if (typeof a === 'number' && typeof b === 'number') return a === b || Math.abs(a - b) <= 1e-9 * Math.abs(a);
		return a === b;
	}
	if (Array.isArray(a) !== Array.isArray(b)) return false;
	const ka = Object.keys(a), kb = Object.keys(b);
	if (ka.length !== kb.length) return false;
	return ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && deepEq(a[k], b[k]));
}

// The value DuckDB should show for each top-level column of a row.
function duckExpected(vals) {
	const by = Object.fromEntries(NESTED_COLS.map(([n], i) => [n, vals[i]]));
	const allNull = (o) => Object.values(o).every((v) => v === null);
	const d = by['a.d.e'] === null ? null : { e: by['a.d.e'] };
	const a = { b: by['a.b'], c: by['a.c'], d, m: by['a.m'] };
	return {
		id: by.id, a: allNull(a) ? null : a, r: { k: by['r.k'], v: by['r.v'] },
		l1: by.l1, l2: by.l2, m1: by.m1, m2: by.m2, ls: by.ls, ll: by.ll, md: by.md, req: by.req,
	};
}

const nestedCases = [
	{ name: 'nested-v1-snappy', rows: 600, seed: 11, args: [] },
	{ name: 'nested-v2-zstd-small-pages', rows: 500, seed: 12, args: ['--page-version', '2', '--codec', 'zstd', '--page-bytes', '300'] },
	{ name: 'nested-plain-small-rowgroups', rows: 400, seed: 13, args: ['--no-dict', '--codec', 'none', '--rg-rows', '37', '--batch', '50'] },
	{ name: 'nested-threads-random-batches', rows: 700, seed: 14, args: ['--random-batches', '--batch', '90', '--page-bytes', '2000'], env: { CL_THREADS: '3' } },
];

async function runNestedCase(cs) {
	const file = path.join(tmp, cs.name + '.parquet');
	const src = path.join(tmp, cs.name + '.rows.jsonl');
	const gen = nestedGen(cs.seed);
	const data = [];
	for (let i = 0; i < cs.rows; i++) data.push(gen(i));
	const text = (v, i) => v === null ? null : NESTED_COLS[i][2] ? JSON.stringify(v) : String(v);
	fs.writeFileSync(src, data.map((r) => JSON.stringify(r.map(text))).join('\n') + '\n');
	const schema = NESTED_COLS.map(([n, t]) => `"${n}" ${t}`).join(', ');
	const args = [file, '--rows-from', src, '--schema', schema, '--nest-dotted', '--quiet', ...cs.args];
	for (const [n, , nt] of NESTED_COLS) if (nt) args.push('--nested', `${n}=${nt}`);
	try {
		execFileSync(pqgen, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...(cs.env || {}) } });
	} catch (e) {
		ok(false, `${cs.name}: pqgen failed: ${e.stderr}`);
		return;
	}
	// (1) changelake reads back every column
	const back = readWithChangelake(file);
	if (!back) return;
	ok(JSON.stringify(back.names) === JSON.stringify(NESTED_COLS.map(([n]) => n)), `${cs.name}: changelake reads the columns back in order (${back.names.join(',')})`);
	let bad = back.rows.length === data.length ? 0 : 1;
	for (let r = 0; r < Math.min(back.rows.length, data.length) && bad < 5; r++)
		for (let c = 0; c < NESTED_COLS.length; c++) {
			const want = data[r][c], got = back.rows[r][c];
			const g = got === null ? null : NESTED_COLS[c][2] ? JSON.parse(got) : NESTED_COLS[c][1].startsWith('string') ? got : Number(got);
			if (!deepEq(want, g) && bad++ < 5)
				console.log(`  ${cs.name}: row ${r} ${NESTED_COLS[c][0]}: wrote ${JSON.stringify(want)}, changelake read ${got}`);
		}
	ok(bad === 0, `${cs.name}: changelake reads back ${data.length} rows of nested values`);
	// (2) DuckDB
	const tops = ['id', 'a', 'r', 'l1', 'l2', 'm1', 'm2', 'ls', 'll', 'md', 'req'];
	const got = await rows(`SELECT ${tops.map((t) => `to_json(${t})::VARCHAR`).join(', ')} FROM read_parquet('${file}', file_row_number = true) ORDER BY file_row_number`);
	bad = got.length === data.length ? 0 : 1;
	for (let r = 0; r < Math.min(got.length, data.length) && bad < 5; r++) {
		const want = duckExpected(data[r]);
		tops.forEach((t, c) => {
			const g = got[r][c] === null ? null : JSON.parse(got[r][c]);
			if (!deepEq(want[t], g) && bad++ < 5)
				console.log(`  ${cs.name}: row ${r} ${t}: expected ${JSON.stringify(want[t])}, DuckDB ${got[r][c]}`);
		});
	}
	ok(bad === 0, `${cs.name}: DuckDB reads the same nested values (${data.length} rows)`);
	const sch = await objects(`SELECT name, repetition_type, converted_type, num_children FROM parquet_schema('${file}')`);
	const find = (n) => sch.find((e) => e.name === n);
	ok(find('a')?.repetition_type === 'OPTIONAL' && find('r')?.repetition_type === 'REQUIRED' &&
		find('l1')?.converted_type === 'LIST' && find('m1')?.converted_type === 'MAP' &&
		find('req')?.repetition_type === 'REQUIRED' && find('key_value')?.repetition_type === 'REPEATED' &&
		find('key')?.repetition_type === 'REQUIRED' && find('list')?.repetition_type === 'REPEATED' &&
		find('element')?.repetition_type === 'OPTIONAL',
		`${cs.name}: schema shape (optional/required structs, LIST with list/element, MAP with key_value/key/value)`);
}

// A value that does not match its nested type names the row and column.
function nestedErrors() {
	const src = path.join(tmp, 'nested-bad.rows.jsonl');
	const file = path.join(tmp, 'nested-bad.parquet');
	const cases = [
		['map<string,long>', '{"a":1,"b":"x"}', /column 'j': row 2: JSON value does not match map<string,long>: string for int64/],
		['list<long>', '[1,[2]]', /row 2: JSON value does not match list<long>: array for int64/],
		['list<struct<x:long>>', '[{"x":1,"y":2}]', /row 2: .*struct 'element' has no field 'y'/],
		['map<int,string>', '{"1":"a","x":"b"}', /row 2: .*map key/],
		['list<long>', '[1,', /row 2: not JSON text/],
		['list<long>', '{"a":1}', /row 2: JSON value does not match list<long>: object for a list/],
	];
	for (const [type, bad, re] of cases) {
		fs.writeFileSync(src, ['[null]', '[null]', JSON.stringify([bad])].join('\n') + '\n');
		let msg = '';
		try {
			execFileSync(pqgen, [file, '--rows-from', src, '--schema', 'j string', '--nested', `j=${type}`, '--quiet'], { stdio: ['ignore', 'pipe', 'pipe'] });
		} catch (e) {
			msg = String(e.stderr);
		}
		ok(re.test(msg) && !fs.existsSync(file), `nested type ${type}: ${bad} is an error naming row and column (${msg.trim()})`);
	}
}

const only = process.argv[2];
for (const cs of cases) {
	if (only && !cs.name.includes(only)) continue;
	try {
		await runCase(cs);
	} catch (e) {
		ok(false, `${cs.name}: ${e.stack || e}`);
	}
}
for (const cs of duckCases) {
	if (only && !cs.name.includes(only)) continue;
	try {
		await runDuckCase(cs);
	} catch (e) {
		ok(false, `${cs.name}: ${e.stack || e}`);
	}
}
for (const cs of nestedCases) {
	if (only && !cs.name.includes(only)) continue;
	try {
		await runNestedCase(cs);
	} catch (e) {
		ok(false, `${cs.name}: ${e.stack || e}`);
	}
}
if (!only || 'nested-errors'.includes(only)) nestedErrors();
fs.rmSync(tmp, { recursive: true, force: true });
t.end();
