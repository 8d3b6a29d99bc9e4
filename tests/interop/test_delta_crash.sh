#!/usr/bin/env bash
# test_delta_crash.sh — crash safety and concurrent writers of lake tables.
#
# A writer (tests/tools/lake_crash) is killed with SIGKILL at every named
# point of a copy-on-write commit (CL_CRASH_AT=point:n): while writing data
# files, after closing one, after publishing one, while staging the log
# entry, just before and just after publishing it. After each kill:
#   1. the table reads as the previous version or the new one, never a mix;
#   2. rerunning the same step gives exactly the table a clean run gives
#      (the step records its txn appId/version, so a rerun after a
#      published commit changes nothing);
#   3. vacuum removes the orphans and nothing else (the table reads the
#      same, and no file outside the log is unreferenced afterwards).
# Then two writers commit at once for many rounds, conflicting on a shared
# key: no commit is lost, none is torn.
set -u
tool="${CL_BUILD:?}/tools/lake_crash"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cl-crash-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

"$tool" init "$tmp/ref" && "$tool" dump "$tmp/ref" >"$tmp/E0" || bad "reference init"
"$tool" step "$tmp/ref" 1 && "$tool" dump "$tmp/ref" >"$tmp/E1" || bad "reference step"
cmp -s "$tmp/E0" "$tmp/E1" && bad "step 1 changed nothing"

for point in data-file-writing data-file-closed data-file-published store-put-staged \
	commit-before-publish commit-after-publish; do
	killed=0
	for n in 1 2 7 12; do
		d="$tmp/$point-$n"
		"$tool" init "$d" || { bad "$point:$n init"; continue; }
		rc=$( (CL_CRASH_AT="$point:$n" "$tool" step "$d" 1 >/dev/null 2>&1; echo $?) 2>/dev/null)
		[ "$rc" = 137 ] && killed=$((killed + 1))
		"$tool" dump "$d" >"$d.dump" 2>"$d.err" || { bad "$point:$n: unreadable after the crash: $(cat "$d.err")"; continue; }
		if cmp -s "$d.dump" "$tmp/E0" || cmp -s "$d.dump" "$tmp/E1"; then ok; else bad "$point:$n: neither the old nor the new version"; fi
		"$tool" step "$d" 1 && "$tool" dump "$d" >"$d.rerun" || { bad "$point:$n: rerun failed"; continue; }
		if cmp -s "$d.rerun" "$tmp/E1"; then ok; else bad "$point:$n: rerun differs from a clean run"; diff "$d.rerun" "$tmp/E1" | head -5; fi
		"$tool" vacuum "$d" >/dev/null && "$tool" check "$d" 2>"$d.err" && ok || bad "$point:$n: orphans after vacuum: $(head -3 "$d.err")"
		"$tool" dump "$d" >"$d.final" && cmp -s "$d.final" "$tmp/E1" && ok || bad "$point:$n: vacuum changed the table"
	done
	# the point must really have been reached at least once
	if [ "$killed" -gt 0 ]; then ok; else bad "$point: never reached"; fi
done

# Concurrent writers.
d="$tmp/concurrent"
rounds=12
"$tool" init "$d" || bad "concurrent init"
"$tool" writer "$d" 0 $rounds 2>"$tmp/w0.err" &
p0=$!
"$tool" writer "$d" 1 $rounds 2>"$tmp/w1.err" &
p1=$!
wait $p0 && ok || bad "writer 0: $(cat "$tmp/w0.err")"
wait $p1 && ok || bad "writer 1: $(cat "$tmp/w1.err")"
"$tool" dump "$d" >"$tmp/conc.dump" || bad "concurrent dump"
# version 1 (init) + one commit per round per writer
grep -qx "version $((1 + 2 * rounds))" "$tmp/conc.dump" && ok || bad "concurrent: $(head -1 "$tmp/conc.dump"), expected version $((1 + 2 * rounds))"
for w in 0 1; do
	grep -qx "txn w$w $rounds" "$tmp/conc.dump" && ok || bad "concurrent: writer $w's watermark"
	for r in $(seq 1 $rounds); do
		grep -q "^$((1000000 * (w + 1) + r)),north,$r\$" "$tmp/conc.dump" || { bad "concurrent: writer $w round $r lost"; break; }
	done
done
# key 0 holds one writer's last value, and exists exactly once
[ "$(grep -c '^0,' "$tmp/conc.dump")" = 1 ] && grep -Eq "^0,north,($rounds|$((1000 + rounds)))\$" "$tmp/conc.dump" && ok || bad "concurrent: key 0 is $(grep '^0,' "$tmp/conc.dump")"
"$tool" vacuum "$d" >/dev/null && "$tool" check "$d" 2>/dev/null && ok || bad "concurrent: orphans after vacuum"

echo "delta_crash: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
