#!/bin/sh
# gen-man.sh CHANGELAKE — write the man page (troff) to standard output from
# the program's own --help texts, so the page never drifts from the
# program: `make man` regenerates docs/changelake.1, and a test checks the
# committed page is current.
set -eu
cl=$1
esc() { sed -e 's/\\/\\e/g' -e 's/^\./\\\&./' -e "s/^'/\\\\\\&'/"; }
cat <<'HEAD'
.TH CHANGELAKE 1 "" "changelake" "User Commands"
.SH NAME
changelake \- keep data-lake tables in step with operational databases
.SH SYNOPSIS
.B changelake
.I COMMAND
.RI [ options ]
.RI [ arguments ]
.SH DESCRIPTION
changelake diffs table snapshots by key, applies change sets to snapshots,
lake tables and PostgreSQL, and merges AWS DMS change data capture into
current-state lake tables (Parquet data under a Delta Lake transaction log),
incrementally, exactly once, with atomic commits.
Inputs are Parquet, CSV (any delimiter, gzip) and JSON Lines files, folders
of files (Hive-style col=value folders), and lake tables (TABLE@VERSION).
.SH COMMANDS
HEAD
"$cl" --help | awk '/^Commands:/{on=1;next} on&&/^$/{exit} on' | while read -r name rest; do
	printf '.TP\n.B %s\n%s\n' "$name" "$rest"
done
"$cl" --help | awk '/^Commands:/{on=1;next} on&&/^$/{exit} on{print $1}' | while read -r name; do
	printf '.SS "changelake %s"\n.nf\n' "$name"
	"$cl" "$name" --help | esc
	printf '.fi\n'
done
cat <<'TAIL'
.SH EXIT STATUS
.TP
.B 0
success; for
.BR diff :
the inputs are equal
.TP
.B 1
.BR diff :
differences found
.TP
.B 2
trouble: a usage error, bad input, or an I/O error. The message on standard
error names the file, the line or row, and the column. No table or target
is changed and no partial output is left behind.
.SH ENVIRONMENT
.TP
.B CL_THREADS
the thread count of the Parquet reader and writer and of a table
transaction where the caller gives none (tests); a command's
.B \-\-threads
always wins.
.TP
.B CL_MERGE_TRACE
set: each merge prints its phase times on standard error (profiling).
.TP
.B CL_DIFF_TRACE
set: the diff prints its phase times and which path it took on standard
error (profiling).
.SH FILES
.TP
.I LAKE/_changelake/state.db
per-table configuration and run history of
.BR sync ,
an SQLite database.
.TP
.I TABLE/_delta_log/
the Delta Lake transaction log of a lake table.
.SH SEE ALSO
The README and docs/ of the changelake sources.
TAIL
