#!/bin/sh
# man-lint.sh: every man page in $top_srcdir/man passes
# "mandoc -Tlint -W warning" with no output at all; an empty page fails.
# TAP.  Without mandoc the test is skipped, unless XMPPD_REQUIRE_ALL=1
# (CI), where that is an error.
set -eu
: "${top_srcdir:=.}"

skip_all() {
	if [ "${XMPPD_REQUIRE_ALL:-0}" = 1 ]; then
		echo "Bail out! $* (XMPPD_REQUIRE_ALL=1 forbids skipping)"
		exit 1
	fi
	echo "1..0 # SKIP $*"
	exit 0
}

command -v mandoc >/dev/null 2>&1 || skip_all "mandoc is not installed"

n=0
for page in "$top_srcdir"/man/*.[0-9]; do
	[ -e "$page" ] && n=$((n + 1))
done
[ "$n" -gt 0 ] || skip_all "no man pages in $top_srcdir/man"

echo "1..$n"
i=0
failed=0
for page in "$top_srcdir"/man/*.[0-9]; do
	[ -e "$page" ] || continue
	i=$((i + 1))
	name=man/${page##*/}
	if [ ! -s "$page" ]; then
		echo "not ok $i - $name: man page empty"
		failed=$((failed + 1))
		continue
	fi
	out=$(timeout 60 mandoc -Tlint -W warning "$page" 2>&1) && rc=0 || rc=$?
	if [ "$rc" -eq 0 ] && [ -z "$out" ]; then
		echo "ok $i - $name"
	else
		echo "not ok $i - $name: mandoc -Tlint -W warning (exit $rc)"
		printf '%s\n' "$out" | sed 's/^/# /'
		failed=$((failed + 1))
	fi
done
[ "$failed" -eq 0 ]
