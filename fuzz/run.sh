#!/usr/bin/env bash
# run.sh SECONDS FUZZER... — run each libFuzzer target for SECONDS on a copy of
# its seed corpus (fuzz/corpus/NAME for fuzz_NAME); crashing inputs are kept
# in build/fuzz/crashes/NAME/ and make the run fail. Ends with
# "fuzz: N passed, N failed".
set -u
secs=$1; shift
root=$(cd "$(dirname "$0")/.." && pwd)
pass=0; fail=0
# Undefined behaviour stops a run like a crash does (the Makefile builds
# the targets with -fno-sanitize-recover=undefined; halt_on_error also
# covers targets built by hand without it).
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
for bin in "$@"; do
	name=$(basename "$bin"); name=${name#fuzz_}
	work=$(mktemp -d "${TMPDIR:-/tmp}/cl-fuzz-$name-XXXXXX")
	crashes="$root/build/fuzz/crashes/$name"
	mkdir -p "$crashes"
	[ -d "$root/fuzz/corpus/$name" ] && cp -r "$root/fuzz/corpus/$name/." "$work/" 2>/dev/null
	# the targets' temporary files go here (TMPDIR), removed even when a
	# crash skipped their own clean-up
	scratch=$(mktemp -d "${TMPDIR:-/tmp}/cl-fuzz-tmp-$name-XXXXXX")
	echo "fuzz_$name: ${secs}s"
	if TMPDIR="$scratch" "$bin" -max_total_time="$secs" -timeout=20 -rss_limit_mb=2048 \
		-artifact_prefix="$crashes/" -print_final_stats=1 "$work" >"$work.log" 2>&1; then
		echo "ok - fuzz_$name ($(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$work.log" | grep -o '[0-9]*$') runs)"
		pass=$((pass + 1))
	else
		echo "not ok - fuzz_$name: see $crashes"
		tail -n 40 "$work.log"
		fail=$((fail + 1))
	fi
	rm -rf "$work" "$work.log" "$scratch"
done
echo "fuzz: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
