#!/usr/bin/env bash
# run.sh BUILD_DIR/changelake — `make bench`: changelake against DuckDB.
#
# Expects BUILD_DIR/bench/clbench (built by the Makefile's bench target from
# bench/clbench.c against BUILD_DIR/libchangelake.a, the optimised build) and
# DuckDB's node package under tests/interop/node_modules (`make deps-test`).
# Everything else is bench/bench.mjs; see it for BENCH_* settings.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cl=${1:-build/changelake}
case "$cl" in /*) ;; *) cl="$PWD/$cl" ;; esac
bin=$(dirname "$cl")/bench/clbench
if [ ! -x "$bin" ]; then
	echo "bench: $bin missing; run \`make bench\`" >&2
	exit 2
fi
if [ ! -d "$root/tests/interop/node_modules/@duckdb/node-api" ]; then
	echo "bench: DuckDB's node package is missing; run \`make deps-test\`" >&2
	exit 2
fi
exec node "$root/bench/bench.mjs" "$cl"
