#!/bin/sh
# man-consistency.sh: what the manuals say in two places, or quote from
# the code, says the same thing.  TAP; reads only files under
# $top_srcdir (man/, src/), needs nothing but POSIX tools.
#
#  - the message types of "events": xmppd-ctl(1) Events and the events
#    command in xmppd(8) list the same set, it includes "error", both
#    pages describe the "condition" key and show it in an example, and
#    xmppd(8) nowhere says error messages are left out;
#  - "Network changes" in xmppd(8): the log lines it quotes are in
#    src/, and its 200 ms burst window and 5 s probe timeout are the
#    values of NETWATCH_SETTLE_MS and PROBE_TIMEOUT;
#  - the state names: the names src/conn.c gives (status, events,
#    STATUS=, the log) are each distinct, are the States of xmppd-ctl(1)
#    and the STATES of xmppd(8), and the log uses no other name.
set -eu
: "${top_srcdir:=.}"
ctl=$top_srcdir/man/xmppd-ctl.1
daemon=$top_srcdir/man/xmppd.8

n=0
failed=0
result() {	# result STATUS DESC [DIAG]
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		[ -z "${3:-}" ] || printf '%s\n' "$3" | sed 's/^/# /'
		failed=$((failed + 1))
	fi
}

# msg_types PAGE START-ERE: the .Qq words from the line matching
# START-ERE up to ".Bd" or "A message of type", without the first one
# (the key name "type"), sorted, one per line.
msg_types() {
	awk -v start="$2" '
	    !on && $0 ~ start { on = 1; next }
	    on && (/^\.Bd/ || /^A message of type/) { exit }
	    on && /^\.Qq / { if (seen++) print $2 }' "$1" | sort
}

# section PAGE START-ERE END-ERE: the lines from START-ERE to END-ERE.
section() {
	awk -v start="$2" -v end="$3" '
	    !on && $0 ~ start { on = 1; print; next }
	    on && $0 ~ end { exit }
	    on { print }' "$1"
}

echo "1..14"

ctl_types=$(msg_types "$ctl" '^An incoming message, with')
daemon_types=$(msg_types "$daemon" '^An incoming message has the')
[ -n "$ctl_types" ] && [ -n "$daemon_types" ] && rc=0 || rc=1
result $rc "both pages list the message types of events" \
    "xmppd-ctl.1: '$ctl_types'; xmppd.8: '$daemon_types'"
[ "$ctl_types" = "$daemon_types" ] && rc=0 || rc=1
result $rc "xmppd-ctl(1) and xmppd(8) list the same message types" \
    "$(printf 'xmppd-ctl.1:\n%s\nxmppd.8:\n%s' "$ctl_types" "$daemon_types")"
printf '%s\n' "$ctl_types" | grep -qx error && rc=0 || rc=1
result $rc "the message types include error"

ctl_events=$(section "$ctl" '^\.Ss Events' '^\.Sh ')
daemon_events=$(section "$daemon" '^\.It Cm events' '^\.It Cm version')
for page in xmppd-ctl.1 xmppd.8; do
	case $page in
	xmppd-ctl.1) text=$ctl_events ;;
	*) text=$daemon_events ;;
	esac
	printf '%s\n' "$text" | grep -q '^\.Qq condition' && rc=0 || rc=1
	result $rc "$page: events describes the condition key"
	printf '%s\n' "$text" |
	    awk '/^\.Bd/ { b = 1 } /^\.Ed/ { b = 0; if (e && c) ok = 1; e = c = 0 }
		b && /"type":"error"/ { e = 1 } b && /"condition":"/ { c = 1 }
		END { exit !ok }' && rc=0 || rc=1
	result $rc "$page: an example event of type error with its condition"
done

grep -Eiq 'except error|error messages are (not|never)' "$daemon" && rc=1 || rc=0
result $rc "xmppd(8) does not say error messages are left out" \
    "$(grep -Ein 'except error|error messages are (not|never)' "$daemon")"

# The code with adjacent C string literals joined, on one line.
code=$(cat "$top_srcdir"/src/*.c "$top_srcdir"/src/*.h | tr '\n\t' '  ' | sed 's/"  *"//g')
netchange=$(section "$daemon" '^\.Ss Network changes' '^\.S[sh] ')
quoted=$(printf '%s\n' "$netchange" | sed -n 's/^\.Ql \(.*\)$/\1/p')
missing=
[ -n "$quoted" ] || missing="(no .Ql log lines quoted)"
while IFS= read -r q; do
	[ -n "$q" ] || continue
	case $code in
	*"\"$q"*) ;;
	*) missing="$missing
$q" ;;
	esac
done <<EOF
$quoted
EOF
[ -z "$missing" ] && rc=0 || rc=1
result $rc "Network changes: every quoted log line is in src/" \
    "not found in src/*.c:$missing"

settle=$(printf '%s\n' "$code" |
    sed -n 's/.*#define NETWATCH_SETTLE_MS *\([0-9]*\).*/\1/p')
probe=$(printf '%s\n' "$code" |
    sed -n 's/.*#define PROBE_TIMEOUT *\([0-9]*\).*/\1/p')
printf '%s\n' "$netchange" | grep -q "comes $settle milliseconds after" &&
    printf '%s\n' "$netchange" | grep -q "answered within $probe seconds" &&
    [ -n "$settle" ] && [ -n "$probe" ] && rc=0 || rc=1
result $rc "Network changes: burst window and probe timeout match the code" \
    "NETWATCH_SETTLE_MS '$settle', PROBE_TIMEOUT '$probe'"

# state names: one set everywhere
code_states=$(awk '/conn_state_names\[CONN_STATE_MAX\] = \{/ { on = 1; next }
    on && /^\};/ { exit } on' "$top_srcdir/src/conn.c" |
    grep -o '"[a-z-]*"' | tr -d '"')
ncode=$(printf '%s\n' "$code_states" | grep -c .) || :
nuniq=$(printf '%s\n' "$code_states" | sort -u | grep -c .) || :
[ "$ncode" -gt 0 ] && [ "$ncode" = "$nuniq" ] && rc=0 || rc=1
result $rc "src/conn.c names each state once ($ncode names, $nuniq distinct)" \
    "$code_states"
code_states=$(printf '%s\n' "$code_states" | sort -u)
ctl_states=$(awk '/^\.Ss States/ { on = 1; next } /^\.S[sh] / { on = 0 }
    on && /^\.It Cm / { print $3 }' "$ctl" | sort)
[ "$ctl_states" = "$code_states" ] && rc=0 || rc=1
result $rc "xmppd-ctl(1) States lists the states of the code" \
    "$(printf 'code:\n%s\nxmppd-ctl.1:\n%s' "$code_states" "$ctl_states")"
daemon_states=$(awk '/^\.Sh STATES/ { on = 1; next } /^\.Sh / { on = 0 }
    on && /^\.It Cm / { print $3 }' "$daemon" | sort)
[ "$daemon_states" = "$code_states" ] && rc=0 || rc=1
result $rc "xmppd(8) STATES lists the states of the code" \
    "$(printf 'code:\n%s\nxmppd.8:\n%s' "$code_states" "$daemon_states")"
# The log line is built from conn_state_name() only, no name of its own.
grep -n '"state change' "$top_srcdir/src/conn.c" >/dev/null &&
    ! grep -Eq '\? *"[a-z-]+" *: *conn_state_name' "$top_srcdir/src/conn.c" &&
    rc=0 || rc=1
result $rc "the log names states with conn_state_name() alone"

[ "$failed" -eq 0 ]
