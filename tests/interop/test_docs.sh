#!/usr/bin/env bash
# test_docs.sh — the documentation says what the program does: the man page
# is generated from the --help texts and must be current (`make man`), and
# the README names every command and every exit status.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
pass=0; fail=0
ok() { echo "ok - $1"; pass=$((pass + 1)); }
no() { echo "not ok - $1"; fail=$((fail + 1)); }

tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
if sh "$root/scripts/gen-man.sh" "$CHANGELAKE" >"$tmp" 2>/dev/null && cmp -s "$tmp" "$root/docs/changelake.1"; then
	ok "docs/changelake.1 is current"
else
	no "docs/changelake.1 is stale: run 'make man'"
	diff "$root/docs/changelake.1" "$tmp" | head -20
fi
for c in $("$CHANGELAKE" --help | awk '/^Commands:/{on=1;next} on&&/^$/{exit} on{print $1}'); do
	if grep -q "changelake $c" "$root/README.md"; then ok "README names '$c'"; else no "README does not name '$c'"; fi
	if "$CHANGELAKE" "$c" --help >/dev/null 2>&1; then ok "'$c --help' exits 0"; else no "'$c --help' fails"; fi
done
for code in 0 1 2; do
	if grep -qE "^\| $code \|" "$root/README.md"; then ok "README documents exit status $code"; else no "README lacks exit status $code"; fi
done
echo "docs: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
