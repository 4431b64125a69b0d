#!/bin/sh
# tests/fsm-table.sh: HACKING.md shows the connection's state machine as
# conn.c has it: the table between the fsm-table markers is exactly what
# scripts/fsm-table prints from conn_transitions[].  After changing the
# table, run: scripts/fsm-table and paste its output into HACKING.md.
set -eu
: "${top_srcdir:=.}"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fsmtable.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
echo "1..2"
sh "$top_srcdir/scripts/fsm-table" "$top_srcdir/src/conn.c" >"$tmp/want"
sed -n '/<!-- fsm-table begin -->/,/<!-- fsm-table end -->/p' \
    "$top_srcdir/HACKING.md" | sed '1d;$d' >"$tmp/got"
if [ "$(wc -l <"$tmp/want")" -ge 13 ]; then
	echo "ok 1 - scripts/fsm-table reads $(($(wc -l <"$tmp/want") - 2)) states from conn.c"
else
	echo "not ok 1 - scripts/fsm-table printed too little"
fi
if cmp -s "$tmp/want" "$tmp/got"; then
	echo "ok 2 - HACKING.md has the state table of conn.c"
else
	echo "not ok 2 - HACKING.md's state table differs from conn.c's:"
	diff "$tmp/got" "$tmp/want" | sed 's/^/# /'
fi
