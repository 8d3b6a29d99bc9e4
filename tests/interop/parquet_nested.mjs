// parquet_nested.mjs — compare changelake's reading of a nested Parquet file
// with DuckDB's, value by value.
//
// changelake flattens structs into dotted columns ("a.b.c") and gives each
// list / map / repeated field as one string column of JSON text (see
// include/changelake/parquet.h). The expected column list is derived from
// DuckDB's types (STRUCT -> its fields, recursively; anything else -> one
// column); each changelake column is compared with DuckDB's value of the
// same path (struct_extract), JSON columns structurally: lists item by
// item, structs field by field in order, maps entry by entry in order,
// leaves with parquet_compare.mjs's per-type canonical comparison.
import { runChangelake, sanitizerTrouble, compareValue } from './parquet_compare.mjs';

// JSON text -> tree keeping number text: null | {s} | {n} | {b} | {arr: [..]} | {obj: [[k, v], ..]}
export function parseJsonExact(s) {
	let i = 0;
	const ws = () => { while (i < s.length && ' \t\r\n'.includes(s[i])) i++; };
	const str = () => {
		let out = '';
		i++;
		for (;;) {
			const c = s[i++];
			if (c === undefined) throw new Error('unterminated string');
			if (c === '"') return out;
			if (c !== '\\') { out += c; continue; }
			const e = s[i++];
			if (e === 'u') {
				let cp = parseInt(s.substr(i, 4), 16);
				i += 4;
				if (cp >= 0xd800 && cp < 0xdc00 && s[i] === '\\' && s[i + 1] === 'u') {
					const lo = parseInt(s.substr(i + 2, 4), 16);
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
					i += 6;
				}
				out += String.fromCodePoint(cp);
			} else out += { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' }[e];
		}
	};
	const val = () => {
		ws();
		const c = s[i];
		if (c === '"') return { s: str() };
		if (c === '[') {
			i++;
			const arr = [];
			ws();
			if (s[i] === ']') { i++; return { arr }; }
			for (;;) {
				arr.push(val());
				ws();
				if (s[i] === ',') { i++; continue; }
				if (s[i] === ']') { i++; return { arr }; }
				throw new Error(`bad array at ${i}`);
			}
		}
		if (c === '{') {
			i++;
			const obj = [];
			ws();
			if (s[i] === '}') { i++; return { obj }; }
			for (;;) {
				ws();
				const k = str();
				ws();
				if (s[i++] !== ':') throw new Error(`bad object at ${i}`);
				obj.push([k, val()]);
				ws();
				if (s[i] === ',') { i++; continue; }
				if (s[i] === '}') { i++; return { obj }; }
				throw new Error(`bad object at ${i}`);
			}
		}
		if (s.startsWith('null', i)) { i += 4; return null; }
		if (s.startsWith('true', i)) { i += 4; return { b: true }; }
		if (s.startsWith('false', i)) { i += 5; return { b: false }; }
		const m = /^-?[0-9][0-9.eE+-]*/.exec(s.slice(i));
		if (!m) throw new Error(`bad JSON at ${i}: ${s.slice(i, i + 20)}`);
		i += m[0].length;
		return { n: m[0] };
	};
	const v = val();
	ws();
	if (i !== s.length) throw new Error(`trailing text at ${i}`);
	return v;
}

const kind = (t) => t.constructor.name;
const show = (x) => JSON.stringify(x, (k, v) => (typeof v === 'bigint' ? v.toString() : v));

// Columns changelake should give for DuckDB column `name` of type `t`.
export function expectedColumns(name, t, out = [], expr = null) {
	expr = expr || `"${name.replace(/"/g, '""')}"`;
	if (kind(t) === 'DuckDBStructType') {
		t.entryNames.forEach((n, k) => expectedColumns(`${name}.${n}`, t.entryTypes[k], out,
			`struct_extract(${expr}, '${n.replace(/'/g, "''")}')`));
	} else out.push({ name, type: t, expr });
	return out;
}

// A map key is a JSON object key: a string, or the text of a non-string key
// (JSON text for a nested key).
function keyAsValue(t, k) {
	if (/List|Map|Array|Struct/.test(kind(t))) return parseJsonExact(k);
	const tn = t.toString();
	if (tn === 'BOOLEAN') return { b: k === 'true' };
	if (/INT|DECIMAL|FLOAT|DOUBLE/.test(tn)) return { n: k };
	return { s: k };
}

// Compare DuckDB value dv of type t with our JSON tree ov; null or a difference.
export function compareTree(t, dv, ov, path = '') {
	if (dv === null || dv === undefined)
		return ov === null ? null : `${path}: DuckDB null, changelake ${show(ov)}`;
	if (ov === null) return `${path}: DuckDB ${show(dv)}, changelake null`;
	switch (kind(t)) {
	case 'DuckDBListType': case 'DuckDBArrayType': {
		if (!ov.arr) return `${path}: DuckDB a list, changelake ${show(ov)}`;
		if (ov.arr.length !== dv.items.length)
			return `${path}: DuckDB ${dv.items.length} items, changelake ${ov.arr.length}`;
		for (let k = 0; k < ov.arr.length; k++) {
			const d = compareTree(t.valueType, dv.items[k], ov.arr[k], `${path}[${k}]`);
			if (d) return d;
		}
		return null;
	}
	case 'DuckDBStructType': {
		if (!ov.obj) return `${path}: DuckDB a struct, changelake ${show(ov)}`;
		if (ov.obj.length !== t.entryNames.length)
			return `${path}: DuckDB fields ${t.entryNames}, changelake ${ov.obj.map((x) => x[0])}`;
		for (let k = 0; k < t.entryNames.length; k++) {
			const n = t.entryNames[k];
			if (ov.obj[k][0] !== n) return `${path}: field ${k} is '${ov.obj[k][0]}', DuckDB '${n}'`;
			const d = compareTree(t.entryTypes[k], dv.entries[n], ov.obj[k][1], `${path}.${n}`);
			if (d) return d;
		}
		return null;
	}
	case 'DuckDBMapType': {
		if (!ov.obj) return `${path}: DuckDB a map, changelake ${show(ov)}`;
		if (ov.obj.length !== dv.entries.length)
			return `${path}: DuckDB ${dv.entries.length} entries, changelake ${ov.obj.length}`;
		for (let k = 0; k < ov.obj.length; k++) {
			const e = dv.entries[k];
			let d = compareTree(t.keyType, e.key, keyAsValue(t.keyType, ov.obj[k][0]), `${path}{key ${k}}`);
			if (!d) d = compareTree(t.valueType, e.value, ov.obj[k][1], `${path}{${ov.obj[k][0]}}`);
			if (d) return d;
		}
		return null;
	}
	default: {
		const d = compareValue(t, dv, ov);
		return d ? `${path}: ${d}` : null;
	}
	}
}

// Parse changelake's JSON Lines output: rows of [name, value-tree] pairs.
function parseLines(text) {
	return text.split('\n').filter((l) => l !== '').map((l) => parseJsonExact(l).obj);
}

// Read `file` with changelake and DuckDB and compare: { ok }, { diff } or
// { skip } (DuckDB cannot read it). opts.legacyUtc: Set of Parquet field
// names with a legacy TIMESTAMP_* annotation (see parquet_compare.mjs),
// matched against the last part of a column's path.
export async function compareNested(con, file, label, opts = {}) {
	const q = (s) => s.replace(/'/g, "''");
	let duckTypes;
	try {
		const r = await con.runAndReadAll(`SELECT * FROM read_parquet('${q(file)}') LIMIT 0`);
		duckTypes = r.columnNames().map((n, k) => [n, r.columnTypes()[k]]);
	} catch (e) {
		return { skip: `DuckDB: ${e.message}` };
	}
	const want = duckTypes.flatMap(([n, t]) => expectedColumns(n, t));
	const r = runChangelake(['cat', file, '--to', 'jsonl']);
	if (sanitizerTrouble(r.stderr)) return { diff: `${label}: sanitizer report:\n${r.stderr.slice(0, 3000)}` };
	if (r.status !== 0) return { diff: `${label}: changelake failed: ${r.stderr.trim()}` };
	const s = runChangelake(['schema', file]);
	if (s.status !== 0) return { diff: `${label}: changelake schema failed: ${s.stderr.trim()}` };
	const names = s.stdout.split('\n').filter((l) => l).map((l) => l.replace(/ not null$/, ''))
		.map((l) => l.slice(0, l.lastIndexOf(' ')).replace(/^"(.*)"$/, '$1'));
	if (names.join('|') !== want.map((w) => w.name).join('|'))
		return { diff: `${label}: columns ${names.join(', ')}; expected ${want.map((w) => w.name).join(', ')}` };
	let duck;
	try {
		const sql = `SELECT ${want.map((w) => w.expr).join(', ')} FROM read_parquet('${q(file)}')`;
		duck = (await con.runAndReadAll(sql)).getRows();
	} catch (e) {
		return { skip: `DuckDB: ${e.message}` };
	}
	let rows;
	try { rows = parseLines(r.stdout); } catch (e) { return { diff: `${label}: bad JSONL: ${e.message}` }; }
	if (rows.length !== duck.length) return { diff: `${label}: changelake gave ${rows.length} rows, DuckDB ${duck.length}` };
	let json = 0;
	for (let i = 0; i < rows.length; i++) {
		for (let c = 0; c < want.length; c++) {
			const [name, ov] = rows[i][c];
			if (name !== want[c].name) return { diff: `${label}: row ${i}: column ${c} is '${name}'` };
			const nested = /List|Map|Array/.test(kind(want[c].type));
			let d;
			if (nested) {
				let tree = null;
				if (ov !== null) {
					if (ov.s === undefined) return { diff: `${label}: row ${i}, '${name}': not a JSON string: ${show(ov)}` };
					try { tree = parseJsonExact(ov.s); } catch (e) { return { diff: `${label}: row ${i}, '${name}': bad JSON text ${ov.s}: ${e.message}` }; }
					json++;
				}
				d = compareTree(want[c].type, duck[i][c], tree, name);
			} else {
				const legacyUtc = opts.legacyUtc && opts.legacyUtc.has(name.slice(name.lastIndexOf('.') + 1));
				d = compareValue(want[c].type, duck[i][c], ov, { legacyUtc });
			}
			if (d) return { diff: `${label}: row ${i}, column '${name}': ${d}` };
		}
	}
	return { ok: `${rows.length} rows x ${want.length} columns match DuckDB (${json} JSON values)` };
}
