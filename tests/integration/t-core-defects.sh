#!/bin/sh
# t-core-defects.sh: issue 10 defects found in the connection core, each
# against a scripted server (tests/helpers/badserver.py):
#  4  a SASL challenge after the server-final message is refused with a
#     clear reason (the reason was read from an uninitialised pointer);
#  18 a server that ends every session right after login with a
#     see-other-host back to itself cannot make xmppd reconnect faster
#     than its backoff: the redirect count is cleared only by a session
#     that stayed online for the stable period, not by reaching online;
#  9  the stream header sent before STARTTLS carries no from= (the JID
#     would go out in clear text); the one after TLS does;
#  10 a see-other-host on the plaintext stream, before TLS, is not
#     followed: an on-path attacker could send xmppd anywhere.
set -eu
. "$top_srcdir/tests/integration/lib.sh"
need_xmppd
make_certs
plan 10

# --- defect 4 -------------------------------------------------------------------
badserver_start final-challenge
write_conf "$T/fc.conf" server="127.0.0.1:$BAD_PORT" reconnect_min=5 \
    reconnect_max=5
xmppd_start "$T/fc.conf"
check "a challenge after the server-final message is refused" \
    wait_log 20 "authentication aborted: a challenge after the server's final message"
check "... after the server sent it" grep -q '^EXTRA-CHALLENGE' "$BAD_LOG"
check_fail "... and it never went online" \
    grep -q 'state change .* -> online' "$XMPPD_LOG"
xmppd_stop >/dev/null || :
badserver_stop

# --- defect 18 ------------------------------------------------------------------
badserver_start redirect-online --delay 0.2
write_conf "$T/ro.conf" server="127.0.0.1:$BAD_PORT" reconnect_min=4 \
    reconnect_max=4 ping_interval=300
xmppd_start "$T/ro.conf"
wait_log 20 'state change .* -> online' || bail "never online"
sleep 12
n=$(badserver_connects)
diag "connections in about 12 s: $n"
# 1 + 5 redirects followed at once, then one try per 4 s backoff step.
ok "$([ "$n" -le 12 ] && echo 0 || echo 1)" \
    "redirects after login do not bypass the backoff ($n connections in 12 s)"
check "the redirect limit was reached" \
    grep -q 'see-other-host: more than 5 redirects in a row' "$XMPPD_LOG"
xmppd_stop >/dev/null || :
badserver_stop

# --- defect 9 -------------------------------------------------------------------
badserver_start ok
write_conf "$T/ok.conf" server="127.0.0.1:$BAD_PORT"
xmppd_start "$T/ok.conf"
wait_log 20 'state change .* -> online' || bail "never online"
first=$(grep '^RECV-HEADER' "$BAD_LOG" | sed -n 1p)
second=$(grep '^RECV-HEADER' "$BAD_LOG" | sed -n 2p)
unlike "$first" 'from=' "the header before STARTTLS has no from ($first)"
like "$second" 'from=bot@xmppd\.test' "the header under TLS has from="
xmppd_stop >/dev/null || :
badserver_stop

# --- defect 10 ------------------------------------------------------------------
badserver_start ok
target=$BAD_PORT
target_log=$BAD_LOG
target_pid=$BAD_PID
badserver_start see-other-host --redirect-port "$target" --redirect-when pre-tls
write_conf "$T/soh.conf" server="127.0.0.1:$BAD_PORT" reconnect_min=2 \
    reconnect_max=2
xmppd_start "$T/soh.conf"
check "see-other-host before TLS: refused with a clear log line" \
    wait_log 20 'see-other-host on a stream that is not verified'
sleep 3
is "$(badserver_connects "$target_log")" 0 \
    "the host it names was never contacted"
xmppd_stop >/dev/null || :
badserver_stop
badserver_stop "$target_pid"
check "no sanitizer reports" no_sanitizer_reports
