#!/usr/bin/env bash
# test_state_pg.sh — sync's state database in PostgreSQL (--state URL).
#
# Starts a throwaway server (lib_pg.sh: initdb + pg_ctl, Unix socket only)
# and checks, through the CLI binary, that:
#   - sync of a small DMS folder (two tables, a full load and CDC files, one
#     table failing on a bad key) then `tables set/list/show` (text and
#     --json) print the same configuration and run history with
#     --state URL as with a SQLite state.db, modulo timestamps and
#     durations (and that this comparison notices a changed value); a
#     hostile table name (quotes, semicolon) and unicode settings are data;
#     a name that is not UTF-8 is a clean error;
#   - the state really is in PostgreSQL: changelake_tables/_runs/_meta in
#     the current schema, with the values shown, version CL_STATE_VERSION;
#   - processes opening a fresh database at once all succeed: they wait on
#     the advisory lock while another session holds it, and one creates;
#   - a database whose changelake_meta says version 99 is refused (exit 2,
#     "newer than this changelake understands");
#   - a URL with no server behind it (or one libpq cannot parse) fails with
#     exit 2 and a message that masks the password (user:***@,
#     password=***, and where libpq quotes it); libpq keywords
#     ('host=... dbname=...') reach the same state, their password= masked;
#   - two search_path schemas (options=-csearch_path=...) keep separate
#     state, a missing schema is a clear error;
#   - a server connection killed while sync records a run is an error
#     (exit 2, the server's message), not a crash; a lock held past the
#     URL's lock_timeout is an error too, not a hang;
#   - a version-1 database is migrated to 3 with its rows kept; a counter
#     altered by hand to junk text is an error naming row and column;
#   - no sanitizer report anywhere.
# Prints "state_pg: N passed, M failed".
set -u
bin=${CHANGELAKE:-build/san/changelake}
case "$bin" in /*) ;; *) bin="$PWD/$bin" ;; esac
pass=0
fail=0
ok() { echo "ok - $1"; pass=$((pass + 1)); }
bad() { echo "not ok - $1"; fail=$((fail + 1)); }

. "$(dirname "$0")/lib_pg.sh"
pg_start state_pg
cd "$tmp"

# Timestamps and durations vary between runs; nothing else may.
norm() {
	sed -E -e 's/[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}/TS/g' \
		-e 's/"duration_ms": [0-9]+/"duration_ms": D/g' \
		-e 's/^(TS +[a-z]+) +[0-9]+ /\1 MS /' \
		-e 's/ in [0-9.]+s$/ in Ss/'
}

# The same scenario in folder $1 with state $2; every output in $1/out.
scenario() { # DIR STATE
	local d=$1 st=$2
	mkdir -p "$d/dms/s/a" "$d/dms/s/b"
	(
		cd "$d" || exit 1
		printf 'id,v\n1,a\n2,b\n3,c\n' >dms/s/a/LOAD00000001.csv
		printf 'id,w\n10,x\n11,y\n' >dms/s/b/LOAD00000001.csv
		printf 'id int64 not null\nw string\n' >b.schema
		echo "== sync 1"
		"$bin" sync dms --lake lake --state "$st" --threads 1 -q; echo "exit $?"
		echo "== set"
		"$bin" tables set s/a --state "$st" --key id --active --deletion-vectors; echo "exit $?"
		"$bin" tables set s/b --state "$st" --key nokey --partition-by w --sequence-by id \
			--schema b.schema --columns id,w --timestamp-column ts --ignore-null-updates \
			--active --json; echo "exit $?"
		"$bin" tables set s/b --state "$st" --partition-by '' --columns '' -q; echo "exit $?"
		echo "== sync 2"
		"$bin" sync dms --lake lake --state "$st" --threads 1 -q; echo "exit $?"
		printf 'Op,id,v\nU,2,b2\nD,3,\nI,4,d\n' >dms/s/a/20240101-100000000.csv
		echo "== sync 3"
		"$bin" sync dms --lake lake --state "$st" --threads 1 -q; echo "exit $?"
		echo "== sync 4"
		"$bin" sync dms --lake lake --state "$st" --threads 1 -q; echo "exit $?"
		echo "== list"
		"$bin" tables list --state "$st"; echo "exit $?"
		"$bin" tables list --state "$st" --json; echo "exit $?"
		echo "== show"
		for t in s/a s/b; do
			"$bin" tables show $t --state "$st"; echo "exit $?"
			"$bin" tables show $t --state "$st" --json; echo "exit $?"
		done
		"$bin" tables show s/a --state "$st" --runs 1 --json; echo "exit $?"
		"$bin" tables set "q/it's; DROP TABLE changelake_runs; --" --state "$st" \
			--key "k'1,\"k2\"" --sequence-by 'é ζ 😀' --json; echo "exit $?"
		"$bin" tables show s/zzz --state "$st" >zzz.out 2>&1; echo "exit $?"
		sed "s|$st|STATE|" zzz.out
	) >"$d/raw" 2>&1
	norm <"$d/raw" >"$d/out"
}

# 1. The same run against SQLite and PostgreSQL.
scenario sq "$tmp/sq/state.db"
scenario pg "$url"
if cmp -s sq/out pg/out; then ok "sync + tables set/list/show: PostgreSQL state prints what SQLite's does"
else bad "PostgreSQL and SQLite state differ: $(diff sq/out pg/out | head -20)"; fi
# the scenario did what it should (so equal outputs mean something)
want_runs='"id": 3, "started_at": "TS", "status": "ok", "duration_ms": D, "files": 1, "rows": 3, "inserts": 1, "updates": 1, "deletes": 1'
if grep -qF "$want_runs" pg/out && grep -qF '"auto_compaction": {"version": 2, "files_removed": ' pg/out &&
	grep -qF '"status": "nothing"' pg/out && grep -qF '"status": "error"' pg/out &&
	grep -qF '"keys": "nokey", "partition_by": null, "sequence_by": "id", "schema": "id int64 not null\nw string\n", "columns": null, "timestamp_column": "ts", "ignore_null_updates": true, "deletion_vectors": false, "active": true' pg/out &&
	grep -qE '"last_error": "[^"]*nokey' pg/out && grep -q '^exit 2$' pg/out &&
	grep -qF "no table 's/zzz' in STATE" pg/out; then
	ok "the scenario recorded ok, nothing, error and compacted runs and every setting"
else bad "the scenario's outputs lack expected values: $(cat pg/out)"; fi
sed 's/"inserts": 1,/"inserts": 2,/' pg/out >pg/out.changed
if ! cmp -s sq/out pg/out.changed; then ok "the comparison notices a changed counter"; else
	bad "the comparison missed a changed counter"; fi

# names with quotes, a semicolon and unicode are data, not SQL
got=$(sql -c "SELECT keys || ' ' || sequence_by FROM changelake_tables WHERE name LIKE 'q/it''s;%'" 2>&1)
[ "$got" = "k'1,\"k2\" é ζ 😀" ] && ok "a hostile table name and settings are stored as given" ||
	bad "hostile name: $got"
# PostgreSQL text is UTF-8: a name that is not is an error (SQLite keeps the bytes)
"$bin" tables set "$(printf 'bad/\377')" --state "$url" --key id >badutf.out 2>badutf.err
rc=$?
[ $rc = 2 ] && grep -qF "invalid byte sequence" badutf.err && ok "a name that is not UTF-8: exit 2" ||
	bad "non-UTF-8 name: exit $rc: $(cat badutf.err)"

# 2. The state is in PostgreSQL, in the current schema (public).
got=$(sql -c "SELECT string_agg(table_name, ',' ORDER BY table_name) FROM information_schema.tables
	WHERE table_schema = 'public' AND table_name LIKE 'changelake%'" 2>&1)
[ "$got" = "changelake_meta,changelake_runs,changelake_tables" ] &&
	ok "changelake_meta, _runs and _tables are in public" || bad "tables in public: $got"
got=$(sql -c "SELECT version FROM changelake_meta" 2>&1)
[ "$got" = 3 ] && ok "changelake_meta holds version 3" || bad "meta version: $got"
got=$(sql -c "SELECT name, coalesce(keys, '-'), active, deletion_vectors, ignore_null_updates,
	last_error IS NOT NULL FROM changelake_tables ORDER BY name" 2>&1)
want='q/it'"'"'s; DROP TABLE changelake_runs; --|k'"'"'1,"k2"|f|f|f|f
s/a|id|t|t|f|f
s/b|nokey|t|f|t|t'
[ "$got" = "$want" ] && ok "changelake_tables holds the settings" || bad "changelake_tables: $got"
got=$(sql -c "SELECT table_name, status, files, rows, inserts, updates, deletes,
	coalesce(lake_version::text, '-'), compact_version IS NOT NULL FROM changelake_runs ORDER BY id" 2>&1)
want='s/a|ok|1|3|3|0|0|0|f
s/b|error|0|0|0|0|0|-|f
s/a|ok|1|3|1|1|1|1|t
s/b|error|0|0|0|0|0|-|f
s/a|nothing|0|0|0|0|0|-|f
s/b|error|0|0|0|0|0|-|f'
[ "$got" = "$want" ] && ok "changelake_runs holds every run" || bad "changelake_runs: $got"
sq_runs=$(sqlite3 sq/state.db "SELECT count(*) FROM runs" 2>/dev/null || echo "?")
[ "$sq_runs" = 6 ] || [ "$sq_runs" = "?" ] && ok "SQLite recorded the same number of runs ($sq_runs)" ||
	bad "SQLite runs: $sq_runs"

# 3. A fresh database opened by several processes at once.
sql -c "CREATE DATABASE fresh"
furl="postgresql://postgres@/fresh?host=$tmp/sock"
fconn="host=$tmp/sock user=postgres dbname=fresh"
# hold the migration lock in another session: the processes must wait
psql -X -q -At "$fconn" -c "BEGIN" -c "SELECT pg_advisory_xact_lock(1668051828, hashtext('public'))" \
	-c "SELECT pg_sleep(2)" -c "COMMIT" >/dev/null 2>&1 &
holder=$!
for _ in $(seq 50); do
	n=$(psql -X -At "$fconn" -c "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted" 2>/dev/null)
	[ "$n" = 1 ] && break
	sleep 0.1
done
t0=$(date +%s%N)
pids=()
for i in 1 2 3; do
	"$bin" tables list --state "$furl" >fresh$i.out 2>&1 &
	pids+=($!)
done
codes=""
for p in "${pids[@]}"; do wait "$p"; codes="$codes$?"; done
ms=$((($(date +%s%N) - t0) / 1000000))
wait "$holder"
if [ "$codes" = 000 ] && grep -q '^TABLE' fresh1.out && grep -q '^TABLE' fresh3.out; then
	ok "three processes opening a fresh database at once all succeed"
else bad "fresh database: exits $codes: $(cat fresh*.out)"; fi
[ "$ms" -ge 1200 ] && ok "they waited for the migration lock (${ms} ms)" ||
	bad "they did not wait for the held advisory lock (${ms} ms)"
got=$(psql -X -At "$fconn" -c "SELECT count(*), max(version) FROM changelake_meta" 2>&1)
[ "$got" = "1|3" ] && ok "one set of tables created, at version 3" || bad "fresh meta: $got"
# and without anyone holding the lock, four at once on another database
sql -c "CREATE DATABASE fresh2"
f2url="postgresql://postgres@/fresh2?host=$tmp/sock"
pids=()
for i in 1 2 3 4; do
	"$bin" tables set s/t$i --state "$f2url" --key id -q >race$i.out 2>&1 &
	pids+=($!)
done
codes=""
for p in "${pids[@]}"; do wait "$p"; codes="$codes$?"; done
got=$(psql -X -At "host=$tmp/sock user=postgres dbname=fresh2" \
	-c "SELECT (SELECT count(*) FROM changelake_meta), (SELECT count(*) FROM changelake_tables)" 2>&1)
[ "$codes" = 0000 ] && [ "$got" = "1|4" ] && ok "four racing processes on a fresh database: all four tables set" ||
	bad "race: exits $codes, $got: $(cat race*.out)"

# 4. A newer database is refused.
sql -c "CREATE SCHEMA newer"
nurl="$url&options=-csearch_path%3Dnewer"
"$bin" tables list --state "$nurl" >/dev/null 2>newer.err || true
psql -X -q -At "$conn options=-csearch_path=newer" -c "UPDATE changelake_meta SET version = 99"
"$bin" tables list --state "$nurl" >newer.out 2>newer.err
rc=$?
if [ $rc = 2 ] && grep -qF "version 99 is newer than this changelake understands (3)" newer.err &&
	grep -qF "postgresql://postgres@/postgres" newer.err; then
	ok "version 99 is refused with a clear message"
else bad "version 99: exit $rc: $(cat newer.err)"; fi
"$bin" sync sq/dms --lake newlake --state "$nurl" -q 2>newer.err
rc=$?
[ $rc = 2 ] && grep -qF "version 99 is newer" newer.err && ok "sync refuses it too" ||
	bad "sync on version 99: exit $rc: $(cat newer.err)"

# 5. No server: exit 2, the password masked.
for u in "postgresql://postgres:s3cr3t@/postgres?host=$tmp/nosock" \
	"postgres://postgres@/postgres?host=$tmp/nosock&password=s3cr3t" \
	"postgresql://postgres:s3@cr3t@/postgres?host=$tmp/nosock&sslpassword=s3cr3t&password=s3cr3t" \
	"postgresql://postgres:s3%zzcr3t@/postgres?host=$tmp/nosock"; do
	"$bin" tables list --state "$u" >nosrv.out 2>nosrv.err
	rc=$?
	if [ $rc = 2 ] && ! grep -q 'cr3t' nosrv.err && grep -qF '***' nosrv.err &&
		grep -qF "cannot connect" nosrv.err && grep -qF "$tmp/nosock" nosrv.err; then
		ok "no server (${u%%:*}://...): exit 2, password masked"
	else bad "no server $u: exit $rc: $(cat nosrv.err)"; fi
done

# 5b. libpq keywords, as apply and export take them: the same state as the
# URL's; with no server, the keyword password is masked (bare and quoted).
kl=$("$bin" tables list --state "$conn" 2>&1; echo "exit $?")
ul=$("$bin" tables list --state "$url" 2>&1; echo "exit $?")
if [ "$kl" = "$ul" ] && [ -n "$(echo "$kl" | grep '^s/a ')" ]; then
	ok "libpq keywords reach the same state as the URL"
else bad "keywords: $kl / $ul"; fi
[ ! -e "$conn" ] && ok "keywords are not taken for a SQLite file name" ||
	bad "a file named after the keywords was created"
for k in "host=$tmp/nosock user=postgres dbname=postgres password=s3cr3t" \
	"host=$tmp/nosock user=postgres password = 's3 cr3t\\'x' dbname=postgres sslpassword=s3cr3t"; do
	"$bin" tables list --state "$k" >nosrv.out 2>nosrv.err
	rc=$?
	if [ $rc = 2 ] && ! grep -q 'cr3t' nosrv.err && grep -qF '***' nosrv.err &&
		grep -qF "$tmp/nosock" nosrv.err; then
		ok "no server (keywords): exit 2, password masked"
	else bad "no server $k: exit $rc: $(cat nosrv.err)"; fi
done

# 6. Separate schemas keep separate state.
sql -c 'CREATE SCHEMA lake1' -c 'CREATE SCHEMA "Lake Two"'
u1="$url&options=-csearch_path%3Dlake1"
u2="$url&options=-csearch_path%3D%5C%22Lake%5C%20Two%5C%22"
r1=$("$bin" tables set x/one --state "$u1" --key k -q 2>&1; echo "exit $?")
r2=$("$bin" tables set y/two --state "$u2" --key j -q 2>&1; echo "exit $?")
l1=$("$bin" tables list --state "$u1" 2>&1 | cut -c1-40 | sed 's/ *$//')
l2=$("$bin" tables list --state "$u2" 2>&1 | cut -c1-40 | sed 's/ *$//')
l0=$("$bin" tables list --state "$url" 2>&1 | grep -v '^q/' | cut -c1-40 | sed 's/ *$//')
if [ "$r1$r2" = "exit 0exit 0" ] && [ "$l1" = "TABLE                            ACTIVE
x/one                            no" ] && [ "$l2" = "TABLE                            ACTIVE
y/two                            no" ] && [ "$l0" = "TABLE                            ACTIVE
s/a                              yes
s/b                              yes" ]; then
	ok "two search_path schemas (one needing quotes) keep separate state"
else bad "schemas: $r1 $r2 / $l1 / $l2 / $l0"; fi
got=$(sql -c "SELECT table_schema || '.' || table_name FROM information_schema.tables
	WHERE table_name = 'changelake_tables' ORDER BY 1" 2>&1 | tr '\n' ' ')
[ "$got" = "Lake Two.changelake_tables lake1.changelake_tables newer.changelake_tables public.changelake_tables " ] &&
	ok "each schema has its own changelake_tables" || bad "schemas in the catalog: $got"
# a first schema in the path that is empty does not fall through to public
sql -c 'CREATE SCHEMA lake3'
r3=$("$bin" tables list --state "$url&options=-csearch_path%3Dlake3,public" 2>&1 | cut -c1-40 | sed 's/ *$//')
got=$(sql -c "SELECT count(*) FROM lake3.changelake_tables" 2>&1)
[ "$r3" = "TABLE                            ACTIVE" ] && [ "$got" = 0 ] &&
	ok "search_path lake3,public: a new state in lake3, not public's" || bad "lake3,public: $r3 / $got"
"$bin" tables list --state "$url&options=-csearch_path%3Dnosuch" >/dev/null 2>nosch.err
rc=$?
[ $rc = 2 ] && grep -qF "search_path" nosch.err && ok "a missing schema: exit 2 with a clear message" ||
	bad "missing schema: exit $rc: $(cat nosch.err)"

# hold_lock TABLE SECONDS: another session holds an exclusive lock on
# killst.TABLE for SECONDS (in the background, pid in $locker); returns once
# the lock is granted.
hold_lock() {
	psql -X -q -At "$conn options=-csearch_path=killst" -c "BEGIN" \
		-c "LOCK TABLE $1 IN ACCESS EXCLUSIVE MODE" -c "SELECT pg_sleep($2)" \
		-c "COMMIT" >/dev/null 2>&1 &
	locker=$!
	local n
	for _ in $(seq 50); do
		n=$(sql -c "SELECT count(*) FROM pg_locks WHERE mode = 'AccessExclusiveLock' AND granted
			AND relation = 'killst.$1'::regclass" 2>/dev/null)
		[ "$n" = 1 ] && break
		sleep 0.1
	done
}

# 7. The server connection killed while sync records a run.
mkdir -p kill/dms/s/k
printf 'id,v\n1,a\n' >kill/dms/s/k/LOAD00000001.csv
ku="$url&options=-csearch_path%3Dkillst"
sql -c 'CREATE SCHEMA killst'
"$bin" tables set s/k --state "$ku" --key id --active -q
hold_lock changelake_runs 8
"$bin" sync kill/dms --lake kill/lake --state "$ku" -q >kill.out 2>kill.err &
syncer=$!
killed=0
for _ in $(seq 100); do
	killed=$(sql -c "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE
		wait_event_type = 'Lock' AND query LIKE 'INSERT INTO changelake_runs%'" 2>/dev/null)
	[ "$killed" = 1 ] && break
	sleep 0.1
done
wait "$syncer"
rc=$?
kill "$locker" 2>/dev/null
wait "$locker" 2>/dev/null
if [ "$killed" = 1 ] && [ $rc = 2 ] && grep -qF "recording a run" kill.err &&
	grep -qi "terminat" kill.err && ! grep -q "Sanitizer\|runtime error" kill.err; then
	ok "a connection killed mid-sync: exit 2 with the server's message"
else bad "killed connection: killed=$killed exit $rc: $(cat kill.err)"; fi

# A lock held too long (lock_timeout from the URL): exit 2, not a hang.
hold_lock changelake_tables 4
t0=$(date +%s%N)
"$bin" tables set s/k --state "$url&options=-csearch_path%3Dkillst%20-clock_timeout%3D300ms" \
	--key id2 -q 2>lockto.err
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
wait "$locker"
if [ $rc = 2 ] && grep -qF "lock timeout" lockto.err && [ "$ms" -lt 3000 ]; then
	ok "a table locked past the URL's lock_timeout: exit 2 after ${ms} ms"
else bad "lock timeout: exit $rc after ${ms} ms: $(cat lockto.err)"; fi

# 8. A version-1 database (written before deletion vectors and compaction
# history) is migrated to 3 on open, its rows kept.
sql -c 'CREATE SCHEMA old1'
psql -X -q -v ON_ERROR_STOP=1 -At "$conn options=-csearch_path=old1" <<'EOF'
CREATE TABLE changelake_meta (version integer NOT NULL);
INSERT INTO changelake_meta VALUES (1);
CREATE TABLE changelake_tables (name text PRIMARY KEY NOT NULL, keys text, partition_by text,
  sequence_by text, schema text, columns text, timestamp_column text,
  ignore_null_updates boolean NOT NULL DEFAULT false, active boolean NOT NULL DEFAULT false,
  created_at text NOT NULL, updated_at text NOT NULL, last_run_at text, last_error text);
CREATE TABLE changelake_runs (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  table_name text NOT NULL, started_at text NOT NULL, duration_ms bigint NOT NULL,
  status text NOT NULL, files bigint NOT NULL, rows bigint NOT NULL, inserts bigint NOT NULL,
  updates bigint NOT NULL, deletes bigint NOT NULL, ignored bigint NOT NULL,
  stale bigint NOT NULL, lake_version bigint, error text);
INSERT INTO changelake_tables VALUES ('o/t', 'id', NULL, NULL, NULL, NULL, NULL, true, true,
  '2020-01-02 03:04:05', '2020-01-02 03:04:06', '2020-01-03 00:00:00', NULL);
INSERT INTO changelake_runs(table_name, started_at, duration_ms, status, files, rows, inserts,
  updates, deletes, ignored, stale, lake_version, error)
  VALUES ('o/t', '2020-01-03 00:00:00', 9223372036854775807, 'ok', 2, 5, 3, 1, 1, 0, 0, 7, NULL);
EOF
ou="$url&options=-csearch_path%3Dold1"
"$bin" tables show o/t --state "$ou" --json >old.out 2>old.err
rc=$?
want='{"table": {"name": "o/t", "keys": "id", "partition_by": null, "sequence_by": null, "schema": null, "columns": null, "timestamp_column": null, "ignore_null_updates": true, "deletion_vectors": false, "active": true, "created_at": "2020-01-02 03:04:05", "updated_at": "2020-01-02 03:04:06", "last_run_at": "2020-01-03 00:00:00", "last_error": null}, "runs": [{"id": 1, "started_at": "2020-01-03 00:00:00", "status": "ok", "duration_ms": 9223372036854775807, "files": 2, "rows": 5, "inserts": 3, "updates": 1, "deletes": 1, "ignored": 0, "stale": 0, "lake_version": 7, "error": null, "auto_compaction": null}]}'
got=$(psql -X -At "$conn options=-csearch_path=old1" -c "SELECT version FROM changelake_meta" \
	-c "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'old1'
	AND column_name IN ('deletion_vectors', 'compact_version', 'compact_note')" 2>&1 | tr '\n' ' ')
[ $rc = 0 ] && [ "$(cat old.out)" = "$want" ] && [ "$got" = "3 3 " ] &&
	ok "a version-1 database migrates to 3 with its rows (and an int64 maximum) kept" ||
	bad "migration from 1: exit $rc, $got: $(cat old.out old.err)"
# a value that is not what the schema says is an error, not a crash
psql -X -q -At "$conn options=-csearch_path=old1" \
	-c "ALTER TABLE changelake_runs ALTER COLUMN files TYPE text" \
	-c "UPDATE changelake_runs SET files = '12abc'"
"$bin" tables show o/t --state "$ou" >junk.out 2>junk.err
rc=$?
[ $rc = 2 ] && grep -qF "column files: '12abc' is not an integer" junk.err &&
	ok "a counter altered to text '12abc': exit 2 naming row and column" ||
	bad "junk counter: exit $rc: $(cat junk.err)"

# 9. No sanitizer report in anything the binary printed.
if grep -rlE "Sanitizer|runtime error:" --include='*.out' --include='*.err' --include=raw . >san.txt 2>/dev/null; then
	bad "sanitizer reports in: $(cat san.txt)"; else ok "no sanitizer report in any output"; fi

echo "state_pg: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
