#!/bin/sh
# t-badserver.sh: what a real server will not do, from a scripted one:
# SCRAM attacks, restricted XML, oversized and deep stanzas, bad bytes,
# stream errors and a silent server.  Each is refused with a clear log
# line, never online through it, and retried with backoff afterwards.
set -eu
. "$top_srcdir/tests/integration/lib.sh"
need_xmppd
make_certs

# scenario|when (pre: before online, post: after)|expected log line (ERE)
SCENARIOS='
bad-nonce|pre|server nonce does not extend client nonce
bad-signature|pre|refusing the server.s SASL success: server signature does not match
low-iter|pre|iteration count below minimum 4096
high-iter|pre|iteration count above maximum
doctype|pre|invalid XML from the server: .*\(restricted-xml\)
entity-bomb|pre|invalid XML from the server: .*\(restricted-xml\)
oversized|post|invalid XML from the server: .*\(policy-violation\)
deep|post|invalid XML from the server: .*nesting.*\(policy-violation\)
bad-utf8|post|invalid XML from the server: .*\(not-well-formed\)
nul|post|invalid XML from the server: .*\(not-well-formed\)
policy-violation|post|stream error policy-violation
reset|post|stream error reset
not-authorized-mid|post|stream error not-authorized
silent|pre|timed out waiting for the stream header
redirect-loop|pre|see-other-host: more than 5 redirects in a row
ssdp-mismatch|pre|SASL downgrade detected \(XEP-0474\)
whitespace-flood|post|too much text between stanzas \(policy-violation\)
'
n=$(printf '%s\n' "$SCENARIOS" | grep -c '|')
plan $((n * 4 + 12))

# ASan's quarantine would look like growth; keep it small (see t-soak).
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:print_summary=1:quarantine_size_mb=8
export ASAN_OPTIONS
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$XMPPD_PID/status"; }

run_scenario() {	# NAME pre|post ERE
	badserver_start "$1"
	write_conf "$T/$1.conf" server="127.0.0.1:$BAD_PORT" connect_timeout=2 \
	    reconnect_min=1 reconnect_max=2
	xmppd_start "$T/$1.conf"
	check "$1: refused with a clear log line" wait_log 20 "$3"
	rss1=$(rss)
	# The stated bound: less than 16 MiB above a peaceful session's RSS.
	ok "$([ $((rss1 - RSS_BASE)) -lt 16384 ] && echo 0 || echo 1)" \
	    "$1: RSS bounded ($rss1 kB, peaceful $RSS_BASE kB)"
	check "$1: retried with backoff" \
	    wait_for 20 sh -c "[ \$(grep -c '^CONNECT ' '$BAD_LOG') -ge 2 ]"
	if [ "$2" = pre ]; then
		check_fail "$1: never online" \
		    grep -q 'state change .* -> online' "$XMPPD_LOG"
	else
		check "$1: the session was dropped, not kept" \
		    grep -Eq 'state change online -> waiting' "$XMPPD_LOG"
	fi
	xmppd_stop >/dev/null || :
	badserver_stop
}

# A peaceful session's RSS, the base for the bound.
badserver_start ok
write_conf "$T/ok.conf" server="127.0.0.1:$BAD_PORT"
xmppd_start "$T/ok.conf"
wait_log 10 'state change .* -> online' || bail "not online with the ok scenario"
sleep 0.5
RSS_BASE=$(rss)
diag "RSS of a peaceful session: $RSS_BASE kB"
xmppd_stop >/dev/null || :
check "a clean stop closes TLS with close_notify" \
    wait_for 3 grep -q 'CLOSE-NOTIFY received' "$BAD_LOG"
badserver_stop

while IFS='|' read -r name when ere; do
	[ -n "$name" ] || continue
	run_scenario "$name" "$when" "$ere" </dev/null
done <<EOF
$SCENARIOS
EOF

# XEP-0474 with an honest server: online.
badserver_start ssdp-ok
write_conf "$T/ssdp.conf" server="127.0.0.1:$BAD_PORT"
xmppd_start "$T/ssdp.conf"
check "SSDP: a matching d= is accepted" wait_log 10 'state change .* -> online'
xmppd_stop >/dev/null || :
badserver_stop

# -PLUS offered without a XEP-0440 list, then the binding rejected: one
# retry without channel binding, not auth-failed.
badserver_start ok --mechanisms SCRAM-SHA-1-PLUS,SCRAM-SHA-1
write_conf "$T/plus.conf" server="127.0.0.1:$BAD_PORT"
xmppd_start "$T/plus.conf"
check "-PLUS rejected without a list: online after one retry" \
    wait_log 10 'state change .* -> online'
check "... the -PLUS attempt was made and refused" \
    grep -q '^AUTH-FAIL SCRAM-SHA-1-PLUS' "$BAD_LOG"
check "... the retry used SCRAM-SHA-1" grep -q '^AUTH-OK SCRAM-SHA-1 ' "$BAD_LOG"
xmppd_stop >/dev/null || :
badserver_stop

# Stream errors with their own waits.
badserver_start conflict
write_conf "$T/conflict.conf" server="127.0.0.1:$BAD_PORT"
xmppd_start "$T/conflict.conf"
check "conflict: online first" wait_log 10 'state change .* -> online'
check "conflict: waits at least a minute (no ping-pong)" \
    wait_log 10 'stream error conflict.*retry in ([6-9][0-9]|[1-9][0-9][0-9])\.'
xmppd_stop >/dev/null || :
badserver_stop

badserver_start system-shutdown
write_conf "$T/shutdown.conf" server="127.0.0.1:$BAD_PORT"
xmppd_start "$T/shutdown.conf"
check "system-shutdown: waits at least 2 s" \
    wait_log 10 'stream error system-shutdown.*retry in ([2-9]|[1-9][0-9]+)\.'
xmppd_stop >/dev/null || :
badserver_stop

# see-other-host: followed to the server it names.
badserver_start ok
target=$BAD_PORT target_log=$BAD_LOG target_pid=$BAD_PID
badserver_start see-other-host --redirect-port "$target"
write_conf "$T/redirect.conf" server="127.0.0.1:$BAD_PORT"
xmppd_start "$T/redirect.conf"
check "see-other-host: followed, online at the new server" \
    wait_log 15 'state change .* -> online'
check "see-other-host: the new server has the session" \
    grep -q '^BIND ' "$target_log"
check "see-other-host: logged" wait_log 1 'redirected to 127\.0\.0\.1:'
xmppd_stop >/dev/null || :
badserver_stop
badserver_stop "$target_pid"

check "no sanitizer reports" no_sanitizer_reports
