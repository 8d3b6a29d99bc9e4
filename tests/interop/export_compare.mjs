// export_compare.mjs EXPORT FORMAT PG_CSV SPEC — helper of test_export_pg.sh.
//
// DuckDB reads the file `changelake export` wrote (FORMAT parquet, csv or
// jsonl) and the CSV PostgreSQL itself wrote for the same rows (psql COPY
// ... TO STDOUT CSV HEADER NULL '\N', bytea columns as encode(col, 'hex')),
// both with the DuckDB types of SPEC ("name:TYPE;name:TYPE;..."; names are
// URI-encoded so any name fits). The two must hold the same multiset of
// rows. Binary columns (TYPE BLOB) are compared as lower-case hex: the
// export's CSV and JSON Lines spell bytes as PostgreSQL does (\x...).
// Prints "same N rows" or the differing rows and exits 1.
import { DuckDBInstance } from '@duckdb/node-api';

const [file, format, pgcsv, specText] = process.argv.slice(2);
const spec = specText.split(';').map((p) => {
	const i = p.lastIndexOf(':');
	return { name: decodeURIComponent(p.slice(0, i)), type: p.slice(i + 1) };
});
const lit = (s) => `'${s.replaceAll("'", "''")}'`;
const id = (s) => `"${s.replaceAll('"', '""')}"`;
// DAYS: a date compared as days since 1970-01-01 (PostgreSQL's side sends
// col - date '1970-01-01': DuckDB's CSV reader ignores ' BC').
const readType = (t, json) =>
	t === 'BLOB' ? 'VARCHAR' : t === 'DAYS' ? 'VARCHAR' : json && t.startsWith('DECIMAL') ? 'VARCHAR' : t;
const columns = (json) =>
	'{' + spec.map((c) => `${lit(c.name)}: ${lit(readType(c.type, json))}`).join(', ') + '}';

const db = await DuckDBInstance.create(':memory:');
const con = await db.connect();
await con.run("SET TimeZone = 'UTC'");
await con.run(
	`CREATE TABLE pg AS SELECT * FROM read_csv(${lit(pgcsv)}, header = true, auto_detect = false, ` +
		`delim = ',', quote = '"', escape = '"', nullstr = '\\N', allow_quoted_nulls = false, ` +
		`columns = ${columns(false)})`
);
let src;
if (format === 'parquet') src = `read_parquet(${lit(file)})`;
else if (format === 'csv')
	src =
		`read_csv(${lit(file)}, header = true, auto_detect = false, delim = ',', quote = '"', ` +
		`escape = '"', allow_quoted_nulls = false, columns = ${columns(false)})`;
else src = `read_json(${lit(file)}, format = 'newline_delimited', columns = ${columns(true)})`;
const sel = spec
	.map((c) => {
		if (c.type === 'DAYS') return `(${id(c.name)}::DATE - DATE '1970-01-01')::VARCHAR AS ${id(c.name)}`;
		if (c.type !== 'BLOB') return `${id(c.name)}::${c.type} AS ${id(c.name)}`;
		if (format === 'parquet') return `lower(hex(${id(c.name)})) AS ${id(c.name)}`;
		return `lower(substr(${id(c.name)}, 3)) AS ${id(c.name)}`;
	})
	.join(', ');
await con.run(`CREATE TABLE ex AS SELECT ${sel} FROM ${src}`);
// DuckDB reads every JSON number through a double, even into DECIMAL or
// VARCHAR: a JSON Lines decimal of more than 15 digits is compared as the
// double both sides round to (Parquet and CSV compare them exactly).
const wide = (t) => /^DECIMAL\((\d+)/.test(t) && Number(t.match(/^DECIMAL\((\d+)/)[1]) > 15;
if (format === 'jsonl' && spec.some((c) => wide(c.type))) {
	const cast = spec.map((c) => (wide(c.type) ? `${id(c.name)}::DOUBLE AS ${id(c.name)}` : id(c.name))).join(', ');
	await con.run(`CREATE TABLE ex2 AS SELECT ${cast} FROM ex; DROP TABLE ex; ALTER TABLE ex2 RENAME TO ex`);
	await con.run(`CREATE TABLE pg2 AS SELECT ${cast} FROM pg; DROP TABLE pg; ALTER TABLE pg2 RENAME TO pg`);
}
const diff = await con.runAndReadAll(
	`(SELECT 'only in export' AS side, * FROM (SELECT * FROM ex EXCEPT ALL SELECT * FROM pg)) UNION ALL ` +
		`(SELECT 'only in PostgreSQL', * FROM (SELECT * FROM pg EXCEPT ALL SELECT * FROM ex)) LIMIT 10`
);
const n = (await con.runAndReadAll('SELECT count(*) FROM ex')).getRows()[0][0];
const m = (await con.runAndReadAll('SELECT count(*) FROM pg')).getRows()[0][0];
const rows = diff.getRows();
if (rows.length || n !== m) {
	console.log(`export ${n} rows, PostgreSQL ${m} rows; differing rows:`);
	for (const r of rows) console.log(JSON.stringify(r, (k, v) => (typeof v === 'bigint' ? v.toString() : v)));
	process.exit(1);
}
console.log(`same ${n} rows`);
