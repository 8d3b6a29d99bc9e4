#!/bin/sh
# deps.sh build|test — install what changelake needs and is missing.
# Debian packages through apt-get when running as root; otherwise print the
# exact command to run. For "test", also the npm packages of the interop
# tests (DuckDB) under tests/interop/node_modules.
set -eu
what=${1:-build}
pkgs="gcc make pkg-config zlib1g-dev libzstd-dev libsnappy-dev liblz4-dev libbrotli-dev libxxhash-dev libsqlite3-dev libpq-dev libcurl4-openssl-dev"
if [ "$what" = test ]; then
	pkgs="$pkgs postgresql clang libclang-rt-14-dev"
	command -v node >/dev/null 2>&1 || pkgs="$pkgs nodejs"
	command -v npm >/dev/null 2>&1 || pkgs="$pkgs npm"
fi
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "deps: installing$missing"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq >/dev/null
		apt-get install -y -qq --no-install-recommends $missing >/dev/null
	else
		echo "deps: missing Debian packages:$missing" >&2
		echo "deps: run: sudo apt-get install -y$missing" >&2
		exit 1
	fi
fi
if [ "$what" = test ]; then
	dir=$(dirname "$0")/../tests/interop
	if [ ! -d "$dir/node_modules/@duckdb/node-api" ]; then
		echo "deps: installing DuckDB for the interop tests (npm install in tests/interop)"
		if ! (cd "$dir" && npm install --no-audit --no-fund --loglevel=error >/dev/null); then
			echo "deps: npm failed; run: (cd tests/interop && npm install)" >&2
			exit 1
		fi
	fi
fi
