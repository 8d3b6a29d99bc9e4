#!/bin/sh
# formats_demo.sh CHANGELAKE — a short end-to-end run on the example data: infer the
# schema of a CSV export, look at it, and convert it to JSON Lines and Parquet.
set -eu
cl=$1
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp -d "${TMPDIR:-/tmp}/changelake-demo-XXXXXX")
trap 'rm -rf "$out"' EXIT
echo "== changelake schema examples/orders.csv   (types inferred from the data)"
"$cl" schema "$here/orders.csv"
echo
echo "== changelake cat examples/orders.csv --to table"
"$cl" cat "$here/orders.csv" --to table
echo
echo "== changelake convert examples/orders.csv orders.jsonl"
"$cl" convert "$here/orders.csv" "$out/orders.jsonl" --quiet
cat "$out/orders.jsonl"
echo
echo "== changelake convert examples/orders.csv orders.parquet --compression zstd"
if "$cl" convert "$here/orders.csv" "$out/orders.parquet" --compression zstd --quiet; then
	"$cl" schema "$out/orders.parquet"
	"$cl" head -n 3 "$out/orders.parquet" --to table
else
	echo "(Parquet output is not available in this build)"
fi
