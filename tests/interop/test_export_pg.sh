#!/usr/bin/env bash
# test_export_pg.sh — `changelake export` from a real PostgreSQL server.
#
# Starts a throwaway server (initdb + pg_ctl on a temporary directory, Unix
# socket only, as test_apply_pg.sh does), then checks that:
#   - a table with every mapped type (NULLs in every column, unicode,
#     quotes/newlines/tabs/backslashes, extremes, NaN/Infinity floats, BC
#     dates, a domain, an enum, arrays, json) exported to Parquet, CSV and
#     JSON Lines holds exactly what PostgreSQL says (psql COPY ... CSV read
#     by DuckDB against DuckDB reading the export: export_compare.mjs);
#   - a hostile table name (quotes, spaces, mixed case, a dot), an empty
#     table and a table of 200,000 rows (several batches) export right;
#   - export -> change the table -> export -> diff -> apply to the first
#     snapshot gives the second, and what PostgreSQL holds;
#   - changes committed while an export's COPY runs are not in it;
#   - errors (missing table, bad conninfo, bad --columns, no permission, a
#     value with no equivalent) exit 2 with a message naming the table (and
#     row and column) and leave no OUT (an older OUT stays as it was).
# Prints "export_pg: N passed, M failed".
set -u
bin=${CHANGELAKE:-build/san/changelake}
here=$(cd "$(dirname "$0")" && pwd)
pass=0
fail=0
ok() { echo "ok - $1"; pass=$((pass + 1)); }
bad() { echo "not ok - $1"; fail=$((fail + 1)); }

. "$(dirname "$0")/lib_pg.sh"
pg_start export_pg
cd "$tmp"

# What PostgreSQL says: COPY of a SELECT list as CSV, in the session
# settings the export uses, NULL spelled \N so "" stays the empty string.
pg_csv() { # SELECT-LIST FROM-TABLE OUTFILE
	psql -X -q -v ON_ERROR_STOP=1 "$conn" \
		-c "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'; SET extra_float_digits = 3" \
		-c "COPY (SELECT $1 FROM $2) TO STDOUT WITH (FORMAT csv, HEADER, NULL '\\N')" >"$3"
}
same() { # EXPORT FORMAT PGCSV SPEC
	node "$here/export_compare.mjs" "$@" >cmp.out 2>&1
}

# 1. Every mapped type.
sql <<'EOF'
CREATE TYPE mood AS ENUM ('sad', 'happy');
CREATE DOMAIN posint AS integer CHECK (VALUE > 0);
CREATE TABLE everything (id int PRIMARY KEY, i2 smallint, i4 integer, i8 bigint, r real,
  d double precision, n numeric(12,3), nbig numeric(38,10), nfree numeric, b boolean, t text,
  vc varchar(20), ch char(5), nm name, u uuid, j json, jb jsonb, e mood, dt date, tm time,
  ts timestamp, tstz timestamptz, by bytea, arr text[], iv interval, dom posint);
INSERT INTO everything VALUES
 (1, -32768, -2147483648, -9223372036854775808, 3.14, 2.718281828459045, -12345.678,
  1234567890123456789012345678.0123456789, 3.14159265358979323846264338327950288419716939937510,
  true, E'tab\there\nnew "quote" back\\slash \\N é ζ 😀\r', 'varchar', 'ab', 'name1',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a": [1, "x\\ty"]}', '{"b": null}', 'happy',
  '2024-02-29', '23:59:59.999999', '2024-01-01 10:00:00.123456', '2024-06-01 12:00:00+02',
  '\x00ff105c0a09', ARRAY['a b', 'c"d', NULL, E'e\\f'], '1 day 02:03:04', 5),
 (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (3, 32767, 2147483647, 9223372036854775807, 'NaN', '-Infinity', 0, -0.0000000001, 'NaN',
  false, '', '', '', '', NULL, 'null', '[]', 'sad', '0044-03-15 BC', '00:00:00',
  '1900-01-01 00:00:00', '1969-12-31 23:59:59.5+00', '\x', '{}', '-1 mons', 1),
 (4, 0, 0, 0, 'Infinity', -0.0, 99.999, 0, 1e-30, true, 'x', 'y', 'z', 'w', NULL, '{}',
  '{"k": [1, 2.5]}', NULL, '12345-06-07', '12:34:56.000001', '0001-01-01 00:00:00',
  '2262-04-11 23:47:16.854775+00', '\x5c', NULL, '1 year', 7);
EOF
all_cols="id,i2,i4,i8,r,d,n,nbig,nfree,b,t,vc,ch,nm,u,j,jb,e,dt - date '1970-01-01' AS dt,tm,ts,tstz,encode(by, 'hex') AS by,arr,iv,dom"
all_spec="id:INTEGER;i2:SMALLINT;i4:INTEGER;i8:BIGINT;r:FLOAT;d:DOUBLE;n:DECIMAL(12,3);nbig:DECIMAL(38,10);nfree:VARCHAR;b:BOOLEAN;t:VARCHAR;vc:VARCHAR;ch:VARCHAR;nm:VARCHAR;u:VARCHAR;j:VARCHAR;jb:VARCHAR;e:VARCHAR;dt:DAYS;tm:TIME;ts:TIMESTAMP;tstz:TIMESTAMPTZ;by:BLOB;arr:VARCHAR;iv:VARCHAR;dom:INTEGER"
pg_csv "$all_cols" everything pg_all.csv
for f in parquet csv jsonl; do
	if "$bin" export "$conn" --table everything -o "all.$f" 2>x.err && same "all.$f" $f pg_all.csv "$all_spec"; then
		ok "every mapped type, $f, equals PostgreSQL"; else bad "every type, $f: $(cat x.err cmp.out)"; fi
done
# the comparison can fail: one value changed on PostgreSQL's side
sed 's/varchar/VARCHAR/' pg_all.csv >pg_bad.csv
if ! same all.parquet parquet pg_bad.csv "$all_spec"; then ok "the comparison notices a changed value"; else
	bad "the comparison missed a changed value"; fi
want_schema='id int32 not null
i2 int16
i4 int32
i8 int64
r float32
d float64
n decimal(12,3)
nbig decimal(38,10)
nfree string
b bool
t string
vc string
ch string
nm string
u string
j string
jb string
e string
dt date
tm time(us)
ts timestamp(us)
tstz timestamp(us,utc)
by binary
arr string
iv string
dom int32'
if [ "$("$bin" schema all.parquet)" = "$want_schema" ]; then ok "the type mapping"; else
	bad "schema: $("$bin" schema all.parquet)"; fi
"$bin" export "$url" --table public.everything -o url.parquet --json >x.json 2>x.err
if [ $? = 0 ] && grep -q '"rows":4,"columns":26,"primary_key":\["id"\],"bytes":[1-9]' x.json &&
   [ "$(stat -c %s url.parquet)" = "$(sed 's/.*"bytes":\([0-9]*\).*/\1/' x.json)" ] &&
   same url.parquet parquet pg_all.csv "$all_spec"; then
	ok "postgresql:// URL, schema.table, --json summary (rows, columns, primary key, bytes)"; else
	bad "url/json: $(cat x.json x.err cmp.out)"; fi
# --columns: a subset, in the order given
pg_csv "t,encode(by, 'hex') AS by,id" everything pg_sub.csv
if "$bin" export "$conn" --table everything --columns t,by,id -o sub.parquet 2>x.err &&
   [ "$("$bin" schema sub.parquet | tr '\n' ' ')" = "t string by binary id int32 not null " ] &&
   same sub.parquet parquet pg_sub.csv "t:VARCHAR;by:BLOB;id:INTEGER"; then
	ok "--columns picks and orders columns"; else bad "--columns: $(cat x.err cmp.out)"; fi
# a folder as OUT, standard output
mkdir snaps
if "$bin" export "$conn" --table everything -o snaps/ --format csv 2>x.err && [ -f snaps/everything.csv ] &&
   cmp -s snaps/everything.csv all.csv; then ok "-o FOLDER writes FOLDER/TABLE.EXT"; else
	bad "folder: $(ls snaps) $(cat x.err)"; fi
if "$bin" export "$conn" --table everything -o - >stdout.csv 2>x.err && cmp -s stdout.csv all.csv; then
	ok "-o - writes CSV to standard output"; else bad "stdout: $(cat x.err)"; fi

# 2. Hostile names: spaces, quotes, mixed case, a dot; columns too.
sql <<'EOF'
CREATE SCHEMA "My Schema";
CREATE TABLE "My Schema"."Order ""Items"" Tab" ("select" int PRIMARY KEY, "Mixed Case" text, "a""b" text);
INSERT INTO "My Schema"."Order ""Items"" Tab" VALUES (1, 'x', 'y'), (2, NULL, E'tab\tnew\nline');
CREATE SCHEMA "dot.s";
CREATE TABLE "dot.s"."t.1" (k int, v text);
INSERT INTO "dot.s"."t.1" VALUES (1, 'one');
EOF
pg_csv '"select","Mixed Case","a""b"' '"My Schema"."Order ""Items"" Tab"' pg_h.csv
if "$bin" export "$conn" --table 'My Schema.Order "Items" Tab' -o h.parquet --json >x.json 2>x.err &&
   same h.parquet parquet pg_h.csv 'select:INTEGER;Mixed%20Case:VARCHAR;a%22b:VARCHAR' &&
   grep -q '"primary_key":\["select"\]' x.json; then
	ok "a table and columns named with quotes, spaces and mixed case"; else bad "hostile: $(cat x.err x.json cmp.out)"; fi
if "$bin" export "$conn" --table '"dot.s"."t.1"' -o dot.csv 2>x.err && [ "$(cat dot.csv)" = 'k,v
1,one' ]; then ok "quoted SCHEMA.TABLE parts holding dots"; else bad "dots: $(cat x.err dot.csv)"; fi

# Views and partitioned tables export too; a domain over numeric(10,2)
# keeps its typmod.
sql <<'EOF'
CREATE DOMAIN amount2 AS numeric(10,2);
CREATE TABLE parted (id int, region text, amt amount2, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
CREATE TABLE parted_eu PARTITION OF parted FOR VALUES IN ('eu');
CREATE TABLE parted_us PARTITION OF parted FOR VALUES IN ('us');
INSERT INTO parted VALUES (1, 'eu', 1.5), (2, 'us', NULL), (3, 'us', -99999999.99);
CREATE VIEW parted_view AS SELECT id, amt FROM parted WHERE region = 'us';
EOF
pg_csv "id,region,amt" parted pg_p.csv
if "$bin" export "$conn" --table parted -o p.parquet --json >x.json 2>x.err &&
   grep -q '"rows":3,"columns":3,"primary_key":\["id","region"\]' x.json &&
   [ "$("$bin" schema p.parquet | tr '\n' ' ')" = "id int32 not null region string not null amt decimal(10,2) " ] &&
   same p.parquet parquet pg_p.csv "id:INTEGER;region:VARCHAR;amt:DECIMAL(10,2)"; then
	ok "a partitioned table, a two-column primary key, a domain over numeric(10,2)"; else
	bad "partitioned: $(cat x.err x.json cmp.out)"; fi
pg_csv "id,amt" parted_view pg_v.csv
if "$bin" export "$conn" --table parted_view -o v.csv --json >x.json 2>x.err &&
   grep -q '"rows":2,"columns":2,"primary_key":\[\]' x.json &&
   same v.csv csv pg_v.csv "id:INTEGER;amt:DECIMAL(10,2)"; then
	ok "a view (no primary key)"; else bad "view: $(cat x.err x.json cmp.out)"; fi

# 3. An empty table.
sql -c "CREATE TABLE empty (id bigint PRIMARY KEY, v text, at timestamptz)"
if "$bin" export "$conn" --table empty -o empty.parquet --json >x.json 2>x.err &&
   grep -q '"rows":0,"columns":3' x.json &&
   [ "$("$bin" schema empty.parquet | tr '\n' ' ')" = "id int64 not null v string at timestamp(us,utc) " ] &&
   pg_csv "id,v,at" empty pg_e.csv && same empty.parquet parquet pg_e.csv "id:BIGINT;v:VARCHAR;at:TIMESTAMPTZ"; then
	ok "an empty table gives an empty file with the columns"; else bad "empty: $(cat x.err x.json cmp.out)"; fi

# 4. 200,000 rows (several batches of 65,536), then the round trip.
sql <<'EOF'
CREATE TABLE big (id int PRIMARY KEY, name text, amount numeric(14,2), seen timestamptz, flag boolean, score float8);
INSERT INTO big SELECT g, CASE WHEN g % 97 = 0 THEN NULL ELSE 'name ' || g || E'\t' || md5(g::text) END,
  (g * 7 % 100000) / 100.0, timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second',
  CASE WHEN g % 3 = 0 THEN NULL ELSE g % 2 = 0 END, g / 7.0
  FROM generate_series(1, 200000) g;
EOF
big_spec="id:INTEGER;name:VARCHAR;amount:DECIMAL(14,2);seen:TIMESTAMPTZ;flag:BOOLEAN;score:DOUBLE"
pg_csv "id,name,amount,seen,flag,score" big pg_big1.csv
if "$bin" export "$conn" --table big -o snap1.parquet --json >x.json 2>x.err &&
   grep -q '"rows":200000' x.json && same snap1.parquet parquet pg_big1.csv "$big_spec"; then
	ok "200,000 rows in several batches"; else bad "big: $(cat x.err x.json cmp.out)"; fi
sql <<'EOF'
UPDATE big SET name = 'changed ' || id WHERE id % 1000 = 1;
UPDATE big SET amount = NULL, flag = true WHERE id % 5000 = 2;
DELETE FROM big WHERE id % 777 = 0;
INSERT INTO big SELECT g, 'new', 1.50, now(), false, 0.5 FROM generate_series(200001, 200500) g;
EOF
pg_csv "id,name,amount,seen,flag,score" big pg_big2.csv
"$bin" export "$conn" --table big -o snap2.parquet 2>x.err
"$bin" diff snap1.parquet snap2.parquet --key id -o changes.parquet --json >diff.json 2>diff.err
drc=$?
"$bin" apply changes.parquet --to snap1.parquet --key id -o applied.parquet 2>apply.err
arc=$?
if [ "$drc" = 1 ] && [ "$arc" = 0 ] && same snap2.parquet parquet pg_big2.csv "$big_spec" &&
   same applied.parquet parquet pg_big2.csv "$big_spec"; then
	ok "export, change, export, diff, apply: the first snapshot becomes the second"; else
	bad "round trip: diff $drc apply $arc $(cat x.err diff.err apply.err cmp.out)"; fi

# On a terminal a summary (and progress) on stderr; quiet otherwise.
if command -v script >/dev/null; then
	script -qec "'$bin' export '$conn' --table big -o tty.parquet" /dev/null >tty.out 2>&1
	if grep -q "export: 200243 rows, 6 columns of big in .* rows/s); primary key id" tty.out; then
		ok "a summary with rows/s and the primary key on a terminal"; else bad "tty: $(cat tty.out)"; fi
	script -qec "'$bin' export '$conn' --table big -o tty.parquet --quiet" /dev/null >tty.out 2>&1
	if [ ! -s tty.out ]; then ok "--quiet on a terminal prints nothing"; else bad "quiet: $(cat tty.out)"; fi
fi
"$bin" export "$conn" --table big -o notty.parquet >notty.out 2>&1
if [ $? = 0 ] && [ ! -s notty.out ]; then ok "nothing printed when not on a terminal"; else bad "notty: $(cat notty.out)"; fi

# A snapshot while others write: the export's COPY is held up by a reader
# that does not read yet (the pipe fills), the table is changed and the
# change committed meanwhile; the export still gives the table as it was
# when its COPY began, and the next export the changed table.
rm -f go
( "$bin" export "$conn" --table big -o - 2>live.err; echo $? >live.rc ) |
	{ while [ ! -e go ]; do sleep 0.1; done; cat >live.csv; } &
live=$!
copying=0
for _ in $(seq 1 100); do
	n=$(psql -X -tA "$conn" -c "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY%big%' AND state = 'active' AND pid <> pg_backend_pid()")
	if [ "$n" = 1 ]; then copying=1; break; fi
	sleep 0.1
done
sql <<'EOF2'
UPDATE big SET name = 'during ' || id, amount = amount + 1;
DELETE FROM big WHERE id % 10 = 3;
INSERT INTO big SELECT g, 'during', 2.50, now(), true, 1.5 FROM generate_series(300001, 300100) g;
EOF2
touch go
wait $live
pg_csv "id,name,amount,seen,flag,score" big pg_big3.csv
"$bin" export "$conn" --table big -o after.csv 2>x.err
if [ "$copying" = 1 ] && [ "$(cat live.rc)" = 0 ] && same live.csv csv pg_big2.csv "$big_spec" &&
   ! same live.csv csv pg_big3.csv "$big_spec" && same after.csv csv pg_big3.csv "$big_spec"; then
	ok "changes committed during an export are not in it (one snapshot); the next export has them"; else
	bad "snapshot under writers: copying=$copying rc=$(cat live.rc) $(cat live.err x.err cmp.out)"; fi

# 5. Errors: exit 2, a message naming the table, and no OUT.
no_out() { [ ! -e "$1" ] && [ -z "$(ls -A . | grep -F ".$1.tmp")" ]; }
"$bin" export "$conn" --table nosuch -o e1.parquet 2>x.err
if [ $? = 2 ] && grep -q 'nosuch' x.err && grep -q 'does not exist' x.err && no_out e1.parquet; then
	ok "a missing table: exit 2, named, no OUT"; else bad "missing: $(cat x.err)"; fi
"$bin" export "host=$tmp/nosock user=postgres dbname=postgres" --table big -o e2.parquet 2>x.err
if [ $? = 2 ] && grep -q 'connecting' x.err && no_out e2.parquet; then
	ok "a bad conninfo: exit 2, no OUT"; else bad "conninfo: $(cat x.err)"; fi
"$bin" export "$conn" --table big --columns id,nosuch -o e3.parquet 2>x.err
if [ $? = 2 ] && grep -q "table big has no column 'nosuch'" x.err && no_out e3.parquet; then
	ok "bad --columns: exit 2, named, no OUT"; else bad "columns: $(cat x.err)"; fi
"$bin" export "just a string" --table big -o e4.parquet 2>x.err
if [ $? = 2 ] && grep -q 'not a PostgreSQL connection' x.err && no_out e4.parquet; then
	ok "not a conninfo: usage error"; else bad "not conninfo: $(cat x.err)"; fi
sql -c "CREATE ROLE nopriv LOGIN"
"$bin" export "host=$tmp/sock user=nopriv dbname=postgres" --table big -o e5.parquet 2>x.err
if [ $? = 2 ] && grep -q 'table big' x.err && grep -q 'permission denied' x.err && no_out e5.parquet; then
	ok "no permission: exit 2, named, no OUT"; else bad "permission: $(cat x.err)"; fi
# values with no equivalent, far into the table (after a batch was written)
sql -c "CREATE TABLE inf (id int PRIMARY KEY, at timestamp, d date, n numeric(10,2))" \
    -c "INSERT INTO inf SELECT g, '2024-01-01', '2024-01-01', 1 FROM generate_series(1, 70000) g" \
    -c "INSERT INTO inf VALUES (70001, 'infinity', '2024-01-01', 1)"
echo "older" >e6.parquet
"$bin" export "$conn" --table inf -o e6.parquet 2>x.err
if [ $? = 2 ] && grep -q "table inf, row 70001 (id=70001), column 'at': value 'infinity' has no timestamp(us) equivalent" x.err &&
   [ "$(cat e6.parquet)" = older ]; then
	ok "timestamp infinity: exit 2 naming table, row (and its key) and column; the older OUT stays"; else bad "infinity: $(cat x.err)"; fi
sql -c "UPDATE inf SET at = '2024-01-01', d = '-infinity' WHERE id = 70001"
"$bin" export "$conn" --table inf -o e7.csv 2>x.err
if [ $? = 2 ] && grep -q "row 70001 (id=70001), column 'd': value '-infinity' has no date equivalent" x.err && no_out e7.csv; then
	ok "date -infinity: exit 2, named, no OUT"; else bad "date inf: $(cat x.err)"; fi
sql -c "UPDATE inf SET d = '2024-01-01', n = 'NaN' WHERE id = 70001"
"$bin" export "$conn" --table inf -o e8.jsonl 2>x.err
if [ $? = 2 ] && grep -q "column 'n': value 'NaN' has no decimal(10,2) equivalent" x.err && no_out e8.jsonl; then
	ok "numeric NaN: exit 2, named, no OUT"; else bad "numeric nan: $(cat x.err)"; fi
if "$bin" export "$conn" --table inf --columns id,at,d -o e9.parquet --json >x.json 2>x.err &&
   grep -q '"rows":70001,"columns":3' x.json; then
	ok "--columns leaves the unconvertible column out"; else bad "columns around: $(cat x.err)"; fi
ls -A | grep -F '.tmp-' >leftover.txt
if [ ! -s leftover.txt ]; then ok "no temporary files left"; else bad "left: $(cat leftover.txt)"; fi

echo "export_pg: $pass passed, $fail failed"
[ "$fail" = 0 ]
