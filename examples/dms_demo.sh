#!/bin/sh
# dms_demo.sh CHANGELAKE — the main job: AWS DMS output merged into
# current-state lake tables with `changelake sync`.
#
# It builds a small DMS S3-target folder (ROOT/<schema>/<table>/) for three
# tables —
#   public/customers  CSV with a header and an Op column
#   public/orders     header-less CSV (DMS's default): Op, then the columns
#                     named by `tables set --columns`; partitioned by month
#   sales/payments    Parquet (full load and CDC), merge-on-read (deletion
#                     vectors)
# — then: sync (registers the tables, inactive), activate them, sync (full
# loads and the first CDC files), more CDC files arrive (one of them late,
# named before files already merged), sync again, and show the tables'
# contents and run history. Nothing outside a temporary folder is touched.
set -eu
cl=$1
out=$(mktemp -d "${TMPDIR:-/tmp}/changelake-dms-demo-XXXXXX")
trap 'rm -rf "$out"' EXIT
root=$out/dms
lake=$out/lake
mkdir -p "$root/public/customers" "$root/public/orders/2024/05/01" \
	"$root/public/orders/2024/05/02" "$root/sales/payments"

# --- the first files DMS writes: full loads and one CDC file per table
cat > "$root/public/customers/LOAD00000001.csv" <<'CSV'
id,name,email,city
1,Ada,ada@example.com,London
2,Brendan,brendan@example.com,Dublin
3,Chiara,chiara@example.com,Milan
CSV
cat > "$root/public/customers/20240501-101500123.csv" <<'CSV'
Op,id,name,email,city
U,2,Brendan,brendan@example.org,Cork
I,4,Dmitri,dmitri@example.com,Riga
CSV
cat > "$root/public/orders/LOAD00000001.csv" <<'CSV'
I,100,1,2024-03-30,19.99,shipped
I,101,2,2024-04-12,5.00,shipped
I,102,3,2024-04-28,42.50,open
CSV
cat > "$root/public/orders/2024/05/01/20240501-093000000.csv" <<'CSV'
U,102,3,2024-04-28,42.50,shipped
I,103,1,2024-05-01,7.25,open
U,103,1,2024-05-01,7.25,paid
CSV
cat > "$out/payments_load.csv" <<'CSV'
id,order_id,amount,method
900,100,19.99,card
901,101,5.00,cash
CSV
cat > "$out/payments_cdc1.csv" <<'CSV'
Op,id,order_id,amount,method
I,902,102,42.50,card
D,901,101,5.00,cash
CSV
"$cl" convert "$out/payments_load.csv" "$root/sales/payments/LOAD00000001.parquet" --quiet
"$cl" convert "$out/payments_cdc1.csv" "$root/sales/payments/20240501-120000000.parquet" --quiet

show() {
	for t in public/customers public/orders sales/payments; do
		echo "-- $t"
		"$cl" cat "$lake/$t" --to csv | sed 's/^/   /'
	done
}

echo "== changelake sync dms --lake lake      (new tables are registered, inactive)"
"$cl" sync "$root" --lake "$lake" 2>&1
echo
echo "== changelake tables set ... --active"
"$cl" tables set public/customers --lake "$lake" --key id --active --quiet
"$cl" tables set public/orders --lake "$lake" --key id \
	--columns id,customer_id,order_date,total,status --partition-by order_date:month --active --quiet
"$cl" tables set sales/payments --lake "$lake" --key id --deletion-vectors --active --quiet
"$cl" tables list --lake "$lake"
echo
echo "== changelake sync dms --lake lake      (full loads + first CDC files)"
"$cl" sync "$root" --lake "$lake" --threads 1 2>&1
echo
echo "== more CDC files arrive: a customer deleted, an email set to NULL, an order"
echo "   moved from the April to the May partition, an old-partition order deleted,"
echo "   a payment corrected"
cat > "$root/public/customers/20240501-113000000.csv" <<'CSV'
Op,id,name,email,city
D,3,Chiara,chiara@example.com,Milan
U,1,Ada,,London
CSV
cat > "$root/public/orders/2024/05/02/20240502-080000000.csv" <<'CSV'
U,101,2,2024-05-02,5.00,reopened
D,100,1,2024-03-30,19.99,shipped
CSV
cat > "$out/payments_cdc2.csv" <<'CSV'
Op,id,order_id,amount,method
U,900,100,17.99,card
I,903,103,7.25,card
CSV
"$cl" convert "$out/payments_cdc2.csv" "$root/sales/payments/20240502-090000000.parquet" --quiet
"$cl" sync "$root" --lake "$lake" --threads 1 2>&1
echo
echo "== a LATE file shows up, committed at 11:00 — before the delete that was"
echo "   already merged: its change is older than the tombstone and is ignored"
cat > "$root/public/customers/20240501-110000000.csv" <<'CSV'
Op,id,name,email,city
U,3,Chiara,chiara@new.example.com,Turin
U,4,Dmitri,dmitri@example.com,Tallinn
CSV
"$cl" sync "$root" --lake "$lake" --threads 1 2>&1
echo
echo "== the tables now (Parquet data files under a Delta Lake log; any engine reads them)"
show
echo
echo "== changelake table files lake/sales/payments   (merge-on-read: changed rows are"
echo "   marked deleted in a deletion vector, their files are not rewritten)"
"$cl" table files "$lake/sales/payments"
echo
echo "== changelake tables show public/customers --lake lake"
"$cl" tables show public/customers --lake "$lake"
echo
echo "== changelake table history lake/public/customers"
"$cl" table history "$lake/public/customers"
echo
echo "== a rerun finds nothing new (every file is consumed exactly once)"
"$cl" sync "$root" --lake "$lake" --threads 1 2>&1
