// parquet_compare.mjs — helpers for the Parquet interop tests: run changelake,
// parse its JSON Lines output without losing digits, and compare each value
// with what DuckDB reads, per DuckDB type, in a canonical form.
import { spawnSync } from 'node:child_process';

// Parse one JSON Lines object; numbers stay as their source text.
export function parseJsonLine(s) {
	let i = 0;
	const ws = () => { while (i < s.length && ' \t\r\n'.includes(s[i])) i++; };
	const str = () => {
		let out = '';
		i++; // opening quote
		for (;;) {
			const c = s[i++];
			if (c === undefined) throw new Error('unterminated string');
			if (c === '"') return out;
			if (c !== '\\') { out += c; continue; }
			const e = s[i++];
			if (e === 'u') { out += String.fromCharCode(parseInt(s.substr(i, 4), 16)); i += 4; }
			else out += { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' }[e];
		}
	};
	const val = () => {
		ws();
		const c = s[i];
		if (c === '"') return { s: str() };
		if (s.startsWith('null', i)) { i += 4; return null; }
		if (s.startsWith('true', i)) { i += 4; return { b: true }; }
		if (s.startsWith('false', i)) { i += 5; return { b: false }; }
		if (c === '{' || c === '[') throw new Error('nested JSON value');
		const m = /^-?[0-9][0-9.eE+-]*/.exec(s.slice(i));
		if (!m) throw new Error(`bad JSON at ${i}: ${s.slice(i, i + 20)}`);
		i += m[0].length;
		return { n: m[0] };
	};
	ws();
	if (s[i++] !== '{') throw new Error('not an object');
	const obj = [];
	ws();
	if (s[i] === '}') return obj;
	for (;;) {
		ws();
		const k = str();
		ws();
		i++; // :
		obj.push([k, val()]);
		ws();
		if (s[i] === ',') { i++; continue; }
		if (s[i] === '}') return obj;
		throw new Error('bad object');
	}
}

export function runChangelake(args, opts = {}) {
	const r = spawnSync(process.env.CHANGELAKE, args, {
		encoding: 'utf8', maxBuffer: 1 << 30, ...opts,
	});
	return { status: r.status, stdout: r.stdout || '', stderr: r.stderr || '', signal: r.signal };
}

const sanitizerRe = /AddressSanitizer|LeakSanitizer|runtime error:|UndefinedBehaviorSanitizer/;
export function sanitizerTrouble(stderr) {
	return sanitizerRe.test(stderr);
}

// --- canonical forms ---
function daysFromCivil(y, m, d) {
	y -= m <= 2 ? 1 : 0;
	const era = Math.floor(y / 400);
	const yoe = y - era * 400;
	const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
	const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
	return era * 146097 + doe - 719468;
}
function fracNs(f) {
	if (!f) return 0n;
	return BigInt((f + '000000000').slice(0, 9));
}
// "YYYY-MM-DD HH:MM:SS[.f][+00]" -> { ns: BigInt, utc }
export function parseTimestamp(t) {
	const m = /^(-?\d{4,})-(\d\d)-(\d\d)[ T](\d\d):(\d\d):(\d\d)(?:\.(\d+))?(\+00(?::?00)?|Z)?$/.exec(t);
	if (!m) return null;
	const days = daysFromCivil(+m[1], +m[2], +m[3]);
	const secs = BigInt(days) * 86400n + BigInt(+m[4] * 3600 + +m[5] * 60 + +m[6]);
	return { ns: secs * 1000000000n + fracNs(m[7]), utc: !!m[8] };
}
export function parseTime(t) {
	const m = /^(\d\d):(\d\d):(\d\d)(?:\.(\d+))?$/.exec(t);
	if (!m) return null;
	return BigInt(+m[1] * 3600 + +m[2] * 60 + +m[3]) * 1000000000n + fracNs(m[4]);
}
function floorDiv(a, b) {
	const q = a / b;
	return (a % b !== 0n && (a < 0n) !== (b < 0n)) ? q - 1n : q;
}
function decimalText(v, scale) {
	const neg = v < 0n;
	let s = (neg ? -v : v).toString();
	if (scale > 0) {
		s = s.padStart(scale + 1, '0');
		s = s.slice(0, s.length - scale) + '.' + s.slice(s.length - scale);
	}
	return (neg ? '-' : '') + s;
}
function floatOf(o) {
	if (o.s !== undefined) return { nan: NaN, inf: Infinity, '-inf': -Infinity }[o.s];
	return Number(o.n);
}
function sameFloat(a, b) {
	if (Number.isNaN(a) && Number.isNaN(b)) return true;
	return a === b;
}

// Compare DuckDB value `dv` of DuckDB type `dt` with our parsed JSON value
// `ov`; returns null when equal or a description of the difference.
// opts.legacyUtc: DuckDB reads legacy TIMESTAMP_MILLIS/MICROS (converted type
// only) as local TIMESTAMP; the Parquet spec (and changelake, Spark, Arrow)
// read them as UTC instants: the flag may differ there, not the value.
export function compareValue(dt, dv, ov, opts = {}) {
	const show = (x) => (x === null ? 'null' : JSON.stringify(x, (k, v) => typeof v === 'bigint' ? v.toString() : v));
	if (dv === null || dv === undefined) return ov === null ? null : `DuckDB null, changelake ${show(ov)}`;
	if (ov === null) return `DuckDB ${String(dv)}, changelake null`;
	const tname = dt.toString();
	const bad = (want) => `DuckDB ${want} (${tname}), changelake ${show(ov)}`;
	switch (tname) {
	case 'BOOLEAN':
		return ov.b === dv ? null : bad(String(dv));
	case 'TINYINT': case 'SMALLINT': case 'INTEGER': case 'BIGINT': case 'HUGEINT':
	case 'UTINYINT': case 'USMALLINT': case 'UINTEGER': case 'UBIGINT': case 'UHUGEINT':
		return ov.n === String(dv) ? null : bad(String(dv));
	case 'FLOAT': {
		const o = floatOf(ov);
		return sameFloat(Math.fround(o), dv) ? null : bad(String(dv));
	}
	case 'DOUBLE':
		return sameFloat(floatOf(ov), dv) ? null : bad(String(dv));
	case 'VARCHAR':
		return ov.s === dv ? null : bad(JSON.stringify(dv));
	case 'BLOB': {
		const want = '\\x' + Buffer.from(dv.bytes).toString('hex');
		return ov.s !== undefined && ov.s.toLowerCase() === want ? null : bad(want);
	}
	case 'UUID':
		return ov.s === String(dv) ? null : bad(String(dv));
	case 'DATE': {
		const m = /^(-?\d{4,})-(\d\d)-(\d\d)$/.exec(ov.s || '');
		const days = m ? daysFromCivil(+m[1], +m[2], +m[3]) : null;
		return days === dv.days ? null : bad(String(dv));
	}
	case 'TIME WITH TIME ZONE': {
		const ns = parseTime(ov.s || '');
		return ns !== null && dv.offset === 0 && floorDiv(ns, 1000n) === dv.micros ? null : bad(String(dv));
	}
	case 'TIME': case 'TIME_NS': {
		const ns = parseTime(ov.s || '');
		if (ns === null) return bad(String(dv));
		const ok = dv.micros !== undefined ? floorDiv(ns, 1000n) === dv.micros : ns === dv.nanos;
		return ok ? null : bad(String(dv));
	}
	case 'TIMESTAMP': case 'TIMESTAMP_MS': case 'TIMESTAMP_NS': case 'TIMESTAMP_S':
	case 'TIMESTAMP WITH TIME ZONE': {
		const t = parseTimestamp(ov.s || '');
		if (!t) return bad(String(dv));
		const utc = tname === 'TIMESTAMP WITH TIME ZONE';
		if (t.utc !== utc && !(opts.legacyUtc && t.utc && !utc))
			return bad(String(dv)) + ' (UTC flag differs)';
		let ok;
		if (dv.micros !== undefined) ok = floorDiv(t.ns, 1000n) === dv.micros;
		else if (dv.millis !== undefined) ok = floorDiv(t.ns, 1000000n) === dv.millis;
		else if (dv.nanos !== undefined) ok = t.ns === dv.nanos;
		else ok = floorDiv(t.ns, 1000000000n) === dv.seconds;
		return ok ? null : bad(String(dv));
	}
	default:
		if (tname.startsWith('DECIMAL')) {
			const want = decimalText(dv.value, dv.scale);
			return ov.n === want ? null : bad(want);
		}
		return `no comparison for DuckDB type ${tname}`;
	}
}

// Read a file with DuckDB: { names, types, rows } or { error }.
export async function duckRead(con, file, sql) {
	try {
		const q = sql || `SELECT * FROM read_parquet('${file.replace(/'/g, "''")}')`;
		const r = await con.runAndReadAll(q);
		return { names: r.columnNames(), types: r.columnTypes(), rows: r.getRows() };
	} catch (e) {
		return { error: e.message };
	}
}

export function isNestedType(t) {
	const s = t.toString();
	return /^(STRUCT|MAP|UNION)\(|\[\]$|\[\d+\]$/.test(s);
}

// Compare DuckDB's rows with changelake's JSONL text; first difference or null.
// opts.legacyUtc: Set of column names (see compareValue); opts.columns: map
// from DuckDB column index to changelake column index (default identity).
export function compareRows(duck, jsonl, label, opts = {}) {
	const lines = jsonl.split('\n');
	if (lines.length && lines[lines.length - 1] === '') lines.pop();
	if (lines.length !== duck.rows.length)
		return `${label}: changelake gave ${lines.length} rows, DuckDB ${duck.rows.length}`;
	for (let r = 0; r < lines.length; r++) {
		let obj;
		try { obj = parseJsonLine(lines[r]); } catch (e) { return `${label}: row ${r}: bad JSONL (${e.message})`; }
		if (!opts.columns && obj.length !== duck.names.length)
			return `${label}: row ${r}: changelake has ${obj.length} columns, DuckDB ${duck.names.length}`;
		for (let c = 0; c < duck.names.length; c++) {
			const oc = opts.columns ? opts.columns[c] : c;
			if (!obj[oc] || obj[oc][0] !== duck.names[c])
				return `${label}: column ${oc} is '${obj[oc] && obj[oc][0]}' in changelake, '${duck.names[c]}' in DuckDB`;
			const legacyUtc = opts.legacyUtc && opts.legacyUtc.has(duck.names[c]);
			const d = compareValue(duck.types[c], duck.rows[r][c], obj[oc][1], { legacyUtc });
			if (d) return `${label}: row ${r}, column '${duck.names[c]}': ${d}`;
		}
	}
	return null;
}
