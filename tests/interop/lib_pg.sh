# lib_pg.sh — a throwaway PostgreSQL server for the interop tests (sourced
# by test_apply_pg.sh and test_export_pg.sh; not a test of its own).
#
#   pg_start NAME   initdb + pg_ctl on a new temporary directory $tmp,
#                   listening on a Unix socket only (listen_addresses='')
#                   in $tmp/sock, fsync off; as root the server runs as the
#                   postgres (or nobody) user. Sets $pgbin, $tmp, $run,
#                   $conn (libpq keywords), $url (postgresql:// URL),
#                   defines sql() (psql, stop on error, unaligned) and
#                   stops the server and removes $tmp on exit. When
#                   PostgreSQL is missing or does not start, prints why and
#                   "NAME: 0 passed, 1 failed" and exits 1.
pg_start() {
	local name=$1 d
	pgbin=""
	for d in "$(dirname "$(command -v initdb 2>/dev/null || echo /x/x)")" /usr/lib/postgresql/*/bin; do
		if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then pgbin=$d; break; fi
	done
	if [ -z "$pgbin" ] || ! command -v psql >/dev/null; then
		echo "$name: PostgreSQL (initdb, pg_ctl, psql) not found; install it (make deps-test)"
		echo "$name: 0 passed, 1 failed"
		exit 1
	fi
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/cl-pg-XXXXXX")
	chmod 755 "$tmp"
	mkdir -p "$tmp/data" "$tmp/sock"
	run=""
	if [ "$(id -u)" = 0 ]; then
		local user=postgres
		id postgres >/dev/null 2>&1 || user=nobody
		chown "$user" "$tmp/data" "$tmp/sock"
		run="runuser -u $user --"
	fi
	trap pg_cleanup EXIT
	if ! $run "$pgbin/initdb" -D "$tmp/data" -A trust -U postgres -E UTF8 --locale=C \
		>"$tmp/initdb.log" 2>&1; then
		cat "$tmp/initdb.log"
		echo "$name: 0 passed, 1 failed"
		exit 1
	fi
	if ! $run "$pgbin/pg_ctl" -D "$tmp/data" -w -l "$tmp/data/server.log" \
		-o "-c listen_addresses='' -k $tmp/sock -c fsync=off" start >/dev/null 2>&1; then
		cat "$tmp/data/server.log"
		echo "$name: 0 passed, 1 failed"
		exit 1
	fi
	conn="host=$tmp/sock user=postgres dbname=postgres"
	url="postgresql://postgres@/postgres?host=$tmp/sock"
}

pg_cleanup() {
	$run "$pgbin/pg_ctl" -D "$tmp/data" -m immediate stop >/dev/null 2>&1
	rm -rf "$tmp"
}

sql() { psql -X -q -v ON_ERROR_STOP=1 -At "$conn" "$@"; }
