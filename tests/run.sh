#!/usr/bin/env bash
# run.sh BUILD_DIR — runs every test suite against the binaries in BUILD_DIR
# and ends with one line "N passed, N failed". Exit 1 when anything failed.
#
# Suites:
#   BUILD_DIR/unit_tests             unit tests (tests/unit)
#   tests/cli_cases.sh               end-to-end CLI cases stored as data (tests/cli)
#   tests/interop/test_*.sh|*.mjs    interop against DuckDB, PostgreSQL, real files
# Each suite prints its own "NAME: N passed, N failed" line; a suite that
# exits non-zero without one counts as one failure.
set -u
build=${1:-build/san}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export CHANGELAKE="$root/$build/changelake"
export CL_BUILD="$root/$build"
export CL_TESTDATA="${CL_TESTDATA:-$(cd "$root/../shared/testdata" 2>/dev/null && pwd || echo "$root/../shared/testdata")}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
filter=${CL_TEST_FILTER:-}

total_pass=0
total_fail=0
log=$(mktemp -d "${TMPDIR:-/tmp}/cl-tests-XXXXXX")
trap 'rm -rf "$log"' EXIT

run_suite() {
	local name=$1; shift
	local out="$log/$name.out"
	local t0=$SECONDS
	"$@" >"$out" 2>&1
	local rc=$?
	local line
	line=$(grep -E '^[A-Za-z0-9_-]+: [0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1)
	local p=0 f=0
	if [ -n "$line" ]; then
		p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed.*/\1/')
		f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
	fi
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
		line="$name: exited $rc without a failure count"
	fi
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
	if [ "$f" -ne 0 ]; then
		echo "--- $name FAILED ($((SECONDS - t0))s):"
		grep -vE '^(ok|PASS) ' "$out" | tail -n 200
	else
		echo "$name: $p passed, 0 failed ($((SECONDS - t0))s)"
	fi
}

run_suite unit "$CL_BUILD/unit_tests" $filter
run_suite cli bash tests/cli_cases.sh "$CHANGELAKE"
for t in tests/interop/test_*.sh tests/interop/test_*.mjs; do
	[ -e "$t" ] || continue
	n=$(basename "$t"); n=${n#test_}; n=${n%.*}
	case "$t" in
	*.mjs) run_suite "$n" node "$t" ;;
	*) run_suite "$n" bash "$t" ;;
	esac
done
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
