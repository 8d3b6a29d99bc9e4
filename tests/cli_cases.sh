#!/usr/bin/env bash
# cli_cases.sh CHANGELAKE — end-to-end CLI cases stored as data.
#
# Each tests/cli/*.case file is a sequence of sections, each opened by a
# line "--- KIND [ARG]":
#   --- cmd              one shell command line; `changelake` runs the binary
#                        under test; $DATA is tests/data, $TESTDATA the shared
#                        test data; runs in a fresh temporary directory
#   --- file NAME        a file created in that directory before the command
#                        (--- file NAME.gz is gzip-compressed first)
#   --- stdin            standard input of the command
#   --- stdout           expected standard output, exactly
#   --- stdout-has       lines that must each appear in standard output
#   --- stderr-has       lines that must each appear in standard error
#   --- exit             expected exit status (default 0)
#   --- out NAME         expected content of file NAME after the command
# Adding a case adds no code. Prints "cli: N passed, N failed".
set -u
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
root=$(cd "$(dirname "$0")/.." && pwd)
export DATA="$root/tests/data"
export TESTDATA="${CL_TESTDATA:-$root/../shared/testdata}"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cl-cli-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/bin"
ln -s "$bin" "$tmp/bin/changelake"
pass=0
fail=0

for case in "$root"/tests/cli/*.case; do
	[ -e "$case" ] || continue
	name=$(basename "$case" .case)
	if [ -n "${CL_TEST_FILTER:-}" ] && [[ "$name" != *"$CL_TEST_FILTER"* ]]; then continue; fi
	d="$tmp/$name"
	mkdir -p "$d/.case" "$d/work"
	# Split the case into numbered section files plus an index "N KIND ARG".
	awk -v dir="$d/.case" '
		/^--- / { n++; f=sprintf("%s/%03d", dir, n); printf "" > f; print n, $2, $3 >> (dir "/index"); next }
		n { print >> f }
	' "$case"
	expect_exit=0
	cmd=""
	stdin_file=/dev/null
	while read -r n kind arg; do
		s=$(printf '%s/%03d' "$d/.case" "$n")
		case "$kind" in
		cmd) cmd=$(cat "$s") ;;
		exit) expect_exit=$(tr -d ' \n' <"$s") ;;
		stdin) stdin_file=$s ;;
		file)
			mkdir -p "$(dirname "$d/work/$arg")"
			case "$arg" in
			*.gz) gzip -c "$s" >"$d/work/$arg" ;;
			*) cp "$s" "$d/work/$arg" ;;
			esac ;;
		esac
	done <"$d/.case/index"
	(cd "$d/work" && PATH="$tmp/bin:$PATH" bash -c "$cmd" <"$stdin_file" >"$d/stdout" 2>"$d/stderr")
	rc=$?
	why=""
	if [ "$rc" != "$expect_exit" ]; then
		why="exit $rc, expected $expect_exit"
	fi
	while read -r n kind arg; do
		[ -n "$why" ] && break
		s=$(printf '%s/%03d' "$d/.case" "$n")
		case "$kind" in
		stdout)
			if ! cmp -s "$s" "$d/stdout"; then
				why="stdout differs:
$(diff "$s" "$d/stdout" | head -n 30)"
			fi ;;
		stdout-has|stderr-has)
			target="$d/stdout"; [ "$kind" = stderr-has ] && target="$d/stderr"
			while IFS= read -r line; do
				[ -z "$line" ] && continue
				if ! grep -qF -- "$line" "$target"; then
					why="${kind%-has} lacks: $line"
					break
				fi
			done <"$s" ;;
		out)
			if [ ! -f "$d/work/$arg" ]; then
				why="file $arg was not written"
			elif ! cmp -s "$s" "$d/work/$arg"; then
				why="file $arg differs:
$(diff "$s" "$d/work/$arg" | head -n 30)"
			fi ;;
		esac
	done <"$d/.case/index"
	if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$d/stderr"; then
		why="sanitizer report: $(grep -m1 -E 'ERROR|runtime error' "$d/stderr")"
	fi
	if [ -z "$why" ]; then
		echo "ok - $name"
		pass=$((pass + 1))
	else
		echo "not ok - $name: $why"
		echo "    stderr: $(head -c 600 "$d/stderr")"
		fail=$((fail + 1))
	fi
done
echo "cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
