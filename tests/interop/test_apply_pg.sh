#!/usr/bin/env bash
# test_apply_pg.sh — `changelake apply` into a real PostgreSQL server.
#
# Starts a throwaway server (initdb + pg_ctl on a temporary directory,
# Unix socket only: listen_addresses=''), then checks that a change set from
# `changelake diff` turns the table into the NEW snapshot, that a failing
# change set (a bad value midway, a key changed twice) leaves the table
# untouched, that --key must match the primary key, and that awkward
# identifiers are quoted. As root the server runs as the postgres (or
# nobody) user. Prints "apply_pg: N passed, M failed".
set -u
bin=${CHANGELAKE:-build/san/changelake}
pass=0
fail=0
ok() { echo "ok - $1"; pass=$((pass + 1)); }
bad() { echo "not ok - $1"; fail=$((fail + 1)); }

. "$(dirname "$0")/lib_pg.sh"
pg_start apply_pg
cd "$tmp"

# Snapshots A (in the table) and B (what it should become).
cat >a.csv <<'EOF'
id,name,amount,seen,flag,note
1,alpha,10.50,2024-01-01 10:00:00+00,true,first
2,beta,20.00,2024-01-02 10:00:00+00,false,
3,gamma,30.25,2024-01-03 10:00:00+00,true,"with ""quotes"", commas"
4,delta,40.00,2024-01-04 10:00:00+00,,keep
5,épsilon,50.00,2024-01-05 10:00:00+00,false,to delete
EOF
cat >b.csv <<'EOF'
id,name,amount,seen,flag,note
1,alpha,10.75,2024-01-01 10:00:00+00,true,first
2,beta,20.00,2024-01-02 10:00:00+00,false,now set
3,gamma,30.25,2024-01-03 10:00:00+00,true,
4,delta,40.00,2024-01-04 10:00:00+00,,keep
6,zeta ζ,60.00,2024-01-06 10:00:00+00,true,""
EOF
schema='id int, name text, amount numeric(10,2), seen timestamptz, flag boolean, note text'
sql -c "CREATE TABLE t ($schema, PRIMARY KEY (id)); CREATE TABLE expected ($schema);" \
	-c "\\copy t FROM 'a.csv' WITH (FORMAT csv, HEADER true)" \
	-c "\\copy expected FROM 'b.csv' WITH (FORMAT csv, HEADER true)"
same_as_expected() {
	[ "$(sql -c "SELECT count(*) FROM ((TABLE t EXCEPT ALL TABLE expected) UNION ALL (TABLE expected EXCEPT ALL TABLE t)) x")" = 0 ]
}
snapshot() { sql -c "SELECT md5(string_agg(t::text, '|' ORDER BY id)) FROM t"; }

# 1. A change set from diff makes the table equal B (NULLs, "" and quotes kept).
"$bin" diff a.csv b.csv --key id -o changes.parquet
"$bin" apply changes.parquet --to "$conn" --table t --json >apply.json 2>apply.err
if [ $? = 0 ] && same_as_expected; then ok "diff + apply turns the table into NEW"; else
	bad "diff + apply turns the table into NEW: $(cat apply.err) $(sql -c 'TABLE t')"; fi
if grep -q '"upserted":4,"deleted":1' apply.json; then ok "apply reports upserts and deletes"; else
	bad "apply --json: $(cat apply.json)"; fi
if [ "$(sql -c "SELECT note IS NULL FROM t WHERE id = 3")" = t ] &&
   [ "$(sql -c "SELECT note = '' FROM t WHERE id = 6")" = t ]; then
	ok "a NULL sets NULL, an empty string stays empty"; else bad "NULL vs empty string"; fi

# 2. Right-side (patch) change sets apply too; applying again changes nothing.
sql -c "TRUNCATE t" -c "\\copy t FROM 'a.csv' WITH (FORMAT csv, HEADER true)"
"$bin" diff a.csv b.csv --key id --mode right-side -o patch.csv
if "$bin" apply patch.csv --to "$conn" --table t 2>apply.err && same_as_expected &&
   "$bin" apply patch.csv --to "$conn" --table t 2>>apply.err && same_as_expected; then
	ok "right-side patch applies, and again idempotently"; else bad "patch: $(cat apply.err)"; fi

# 3. A change set failing midway (a value that does not parse) changes nothing.
before=$(snapshot)
cat >badvalue.csv <<'EOF'
diff,id,left_name,right_name,left_amount,right_amount,left_seen,right_seen,left_flag,right_flag,left_note,right_note
C,1,alpha,ALPHA,10.75,11.00,2024-01-01 10:00:00+00,2024-01-01 10:00:00+00,true,true,first,first
D,2,beta,,20.00,,2024-01-02 10:00:00+00,,false,,now set,
C,3,gamma,gamma,30.25,not a number,2024-01-03 10:00:00+00,2024-01-03 10:00:00+00,true,true,,
EOF
if ! "$bin" apply badvalue.csv --to "$conn" --table t --all-strings 2>apply.err &&
   grep -q 'not a number' apply.err && [ "$(snapshot)" = "$before" ]; then
	ok "a bad value midway rolls everything back"; else bad "bad value: $(cat apply.err)"; fi

# 4. A key changed twice rolls back too.
cat >twice.csv <<'EOF'
diff,id,name,amount,seen,flag,note
C,1,x,1,2024-01-01 00:00:00+00,true,a
I,1,y,2,2024-01-01 00:00:00+00,true,b
EOF
if ! "$bin" apply twice.csv --to "$conn" --table t 2>apply.err && [ "$(snapshot)" = "$before" ]; then
	ok "a key changed twice rolls back"; else bad "twice: $(cat apply.err)"; fi

# 4b. A sparse change set (unchanged values NULL on both sides) is refused
# and leaves the table as it was.
"$bin" diff a.csv b.csv --key id --sparse -o sparse.csv
if ! "$bin" apply sparse.csv --to "$conn" --table t 2>apply.err &&
   grep -q "looks like a sparse change set" apply.err && [ "$(snapshot)" = "$before" ]; then
	ok "a sparse change set is refused, table untouched"; else bad "sparse: $(cat apply.err)"; fi

# 5. --key must match the primary key; misfit columns are refused up front.
if ! "$bin" apply changes.parquet --to "$conn" --table t --key name 2>apply.err &&
   grep -q "primary key is (id), but --key is (name)" apply.err; then
	ok "--key that is not the primary key is refused"; else bad "pk check: $(cat apply.err)"; fi
cat >extra.csv <<'EOF'
diff,id,name,amount,seen,flag,note,bogus
C,1,x,1,2024-01-01 00:00:00+00,true,a,z
EOF
if ! "$bin" apply extra.csv --to "$conn" --table t 2>apply.err &&
   grep -q "column 'bogus' of CHANGES has no place in t" apply.err && [ "$(snapshot)" = "$before" ]; then
	ok "a change set with a column the table lacks is refused"; else bad "misfit: $(cat apply.err)"; fi

# 6. Identifiers that need quoting: spaces, quotes, reserved words, a schema.
sql -c "CREATE SCHEMA \"My Schema\"; CREATE TABLE \"My Schema\".\"Order \"\"Items\"\"\" (\"select\" int PRIMARY KEY, \"left_id\" text, \"right_x\" text)"
cat >q_old.csv <<'EOF'
select,left_id,right_x
1,a,b
EOF
cat >q_new.csv <<'EOF'
select,left_id,right_x
1,a,B
2,c,d
EOF
sql -c "INSERT INTO \"My Schema\".\"Order \"\"Items\"\"\" VALUES (1, 'a', 'b')"
"$bin" diff q_old.csv q_new.csv --key select -o q.csv
if "$bin" apply q.csv --to "$conn" --table 'My Schema.Order "Items"' 2>apply.err &&
   [ "$(sql -c "SELECT string_agg(\"select\" || ':' || left_id || ':' || right_x, ' ' ORDER BY 1) FROM \"My Schema\".\"Order \"\"Items\"\"\"")" = "1:a:B 2:c:d" ]; then
	ok "quoted identifiers, left_/right_ names mapped exactly"; else bad "quoting: $(cat apply.err)"; fi

# 7. A table without a primary key is refused.
sql -c "CREATE TABLE nopk (id int, v text)"
if ! "$bin" apply changes.parquet --to "$conn" --table nopk --key id 2>apply.err &&
   grep -q "has no primary key" apply.err; then ok "a table without a primary key is refused"; else
	bad "nopk: $(cat apply.err)"; fi

echo "apply_pg: $pass passed, $fail failed"
[ "$fail" = 0 ]
