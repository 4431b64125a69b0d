#!/bin/sh
# t-iq.sh: the pending-IQ table on the wire.  Against a scripted server
# that answers from the wrong sender with the right id (RFC 6120 8.1.2.1),
# neither the password change nor a ping is taken as answered; against
# Prosody, the same requests (sent through conn_iq_send, the services'
# API) are answered.
set -eu
. "$top_srcdir/tests/integration/lib.sh"
need_xmppd
make_certs
plan 11

state_is() { xmppd_ctl status 2>/dev/null | grep -Eq "^state +$1\$"; }

# --- a spoofed answer to passwd ---------------------------------------------
badserver_start iq-spoof
write_conf "$T/spoof.conf" server="127.0.0.1:$BAD_PORT" ping_interval=300
xmppd_start "$T/spoof.conf"
check "online with the scripted server" wait_log 20 'state change .* -> online'
out=$(printf 'n3w-secret\n' | xmppd_ctl -t 20 passwd 2>&1) && r=0 || r=$?
is "$r" 1 "passwd: a result from mallory is not the server's answer (exit 1)"
like "$out" 'refused the password change \(not-allowed\)' \
    "... the real answer (an error) is what counts"
check "the spoofed result was sent" grep -q '^REGISTER-SPOOFED ' "$BAD_LOG"
check "... and logged as ignored" \
    grep -q 'ignoring an answer to request .* from mallory@' "$XMPPD_LOG"
# Had the daemon adopted n3w-secret, this login would fail.
check "reconnect logs in with the old password" xmppd_ctl -t 20 reconnect
xmppd_stop >/dev/null || :

# --- a spoofed pong ------------------------------------------------------------
write_conf "$T/ping.conf" server="127.0.0.1:$BAD_PORT" ping_interval=1 \
    ping_timeout=2
xmppd_start "$T/ping.conf"
check "a spoofed pong is no pong: the link is presumed dead" \
    wait_log 20 'no answer to a ping within 2s'
check "the server did send a result with the ping's id" \
    grep -q '^PING-SPOOFED ' "$BAD_LOG"
xmppd_stop >/dev/null || :
badserver_stop

# --- Prosody answers from the right sender --------------------------------------
prosody_start || bail "prosody did not start"
prosody_adduser "$BOT_USER" "$BOT_PASSWORD"
write_conf "$T/ok.conf" ping_interval=1 ping_timeout=2
xmppd_start "$T/ok.conf" -v
wait_log 20 'state change .* -> online' || bail "not online with prosody"
sleep 4
check_fail "four pings answered: no ping failure" \
    grep -q 'no answer to a ping' "$XMPPD_LOG"
out=$(printf 'n3w-secret\n' | xmppd_ctl -t 20 passwd 2>&1) && r=0 || r=$?
is "$r" 0 "passwd against prosody: answered (exit 0)"
check "no sanitizer reports" no_sanitizer_reports
