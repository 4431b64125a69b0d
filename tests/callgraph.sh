#!/bin/sh
# tests/callgraph.sh: no circle of calls among the modules of src/.
#
# A module is an object file src/NAME.o; module A calls B when a symbol A
# leaves undefined is defined by B (nm).  The base layer, log and
# xmalloc, may call each other and be called by anyone: edges to or from
# them are left out.  tsort(1) then finds any cycle.  Test 2 proves the
# check can fail: it adds one edge that closes a circle (the connection's
# transport calling back up into conn.c) and expects the cycle reported.
#
# CALLGRAPH_DOT=FILE also writes the graph in Graphviz form.
set -eu
: "${top_builddir:=.}"
objdir=$top_builddir/src
tmp=$(mktemp -d "${TMPDIR:-/tmp}/callgraph.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

echo "1..3"
n=0
for o in "$objdir"/*.o; do
	[ -f "$o" ] || continue
	m=$(basename "$o" .o)
	n=$((n + 1))
	nm --defined-only -g "$o" | awk -v m="$m" \
	    'NF == 3 && $3 != "main" { print $3, m }' >>"$tmp/def.u"
	nm -u "$o" | awk -v m="$m" '$1 == "U" { print $2, m }' >>"$tmp/use.u"
done
if [ "$n" -lt 10 ]; then
	echo "not ok 1 - found only $n objects in $objdir (build first)"
	echo "not ok 2 - # SKIP nothing to check"
	echo "not ok 3 - # SKIP nothing to check"
	exit 1
fi
sort -k1,1 "$tmp/def.u" >"$tmp/def"
sort -k1,1 "$tmp/use.u" >"$tmp/use"
# symbol definer user -> "user definer" edges, base layer and self left out
join "$tmp/def" "$tmp/use" | awk '
	$2 != $3 && $2 != "log" && $2 != "xmalloc" &&
	$3 != "log" && $3 != "xmalloc" { print $3, $2 }' | sort -u >"$tmp/edges"
if [ -n "${CALLGRAPH_DOT:-}" ]; then
	{
		echo "digraph xmppd {"
		awk '{ printf "\t\"%s\" -> \"%s\";\n", $1, $2 }' "$tmp/edges"
		echo "}"
	} >"$CALLGRAPH_DOT"
fi

# check EDGES: 0 when acyclic; prints the loop tsort found otherwise.
check() {
	tsort "$1" >/dev/null 2>"$tmp/tsort.err" && return 0
	sed 's/^/# /' "$tmp/tsort.err"
	return 1
}

if check "$tmp/edges"; then
	echo "ok 1 - $n modules, $(wc -l <"$tmp/edges") call edges, no cycle"
else
	echo "not ok 1 - a cycle of calls among src/ modules (above)"
fi
# The check must be able to fail: close a circle on purpose.
if grep -q '^conn transport$' "$tmp/edges"; then
	{ cat "$tmp/edges"; echo "transport conn"; } >"$tmp/bad"
	if check "$tmp/bad" >"$tmp/bad.out"; then
		echo "not ok 2 - an added edge transport -> conn went unnoticed"
	else
		echo "ok 2 - an added edge transport -> conn is reported as a cycle"
	fi
else
	echo "not ok 2 - conn no longer calls transport: update this test"
fi
# The connection reports upward through hooks only.
if awk '$1 == "conn" && ($2 == "xmppd" || $2 == "control" || $2 == "cmdq")' \
    "$tmp/edges" | grep -q .; then
	echo "not ok 3 - conn calls up into the daemon:"
	awk '$1 == "conn"' "$tmp/edges" | sed 's/^/# /'
else
	echo "ok 3 - conn calls nothing above it (xmppd, control, cmdq)"
fi
