#!/bin/sh
# t-csi.sh: XEP-0352 client state indication against a real Prosody with
# mod_csi and mod_csi_simple: the bot says <inactive/> after login and
# again after a resume; with csi = no it says nothing; without the
# server's offer it says nothing.
set -eu
. "$top_srcdir/tests/integration/lib.sh"
need_xmppd
plan 13

PLOG=$PROSODY_DIR/prosody.log
prosody_start --cfg 'smacks_hibernation_time = 30' \
    --vhost-cfg 'modules_enabled = { "csi"; "csi_simple" }' ||
    bail "prosody did not start"
prosody_adduser bot "$BOT_PASSWORD"
proxy_start || bail "no proxy"

write_conf "$T/xmppd.conf" server="127.0.0.1:$PROXY_PORT" ping_interval=2 \
    ping_timeout=3 reconnect_min=1 reconnect_max=2 log_level=debug
xmppd_start "$T/xmppd.conf"
check "online" xmppd_ctl -t 20 wait-online
check "the server offers csi" wait_grep 5 "urn:xmpp:csi:0" "$PLOG"
check "xmppd sends <inactive/> after login" \
    wait_log 5 'client state indication: inactive'
check "... and Prosody takes it" \
    wait_grep 5 "Received\[c2s\]: <inactive [^>]*urn:xmpp:csi:0" "$PLOG"
n=$(count_grep 'client state indication: inactive' "$XMPPD_LOG")
# While inactive the server may hold back what it sends: pings must still
# be answered in time (a ping every 2 s, 3 s to answer).
sleep 8
is "$(count_grep 'no answer to a ping' "$XMPPD_LOG")" 0 \
    "inactive: pings are still answered in time"
check "Prosody (mod_csi_simple) is in inactive mode" \
    wait_grep 5 "resuming inactive mode" "$PLOG"
check "... and the session stayed up" wait_log 1 'session resumable'
is "$(count_grep 'state change online ->' "$XMPPD_LOG")" 0 "... no drop"

is "$(proxy cut)" ok "the proxy cuts the link"
check "resumed" wait_log 15 'session resumed, online'
check "<inactive/> again after the resume" wait_for 5 sh -c \
    "test \$(grep -c 'client state indication: inactive' '$XMPPD_LOG') -gt $n"
xmppd_stop

write_conf "$T/xmppd.conf" server="127.0.0.1:$PROXY_PORT" ping_interval=300 \
    log_level=debug csi=no
xmppd_start "$T/xmppd.conf"
xmppd_ctl -t 20 wait-online >/dev/null || :
sleep 1
is "$(count_grep 'client state indication' "$XMPPD_LOG")" 0 \
    "csi = no: nothing sent"
check "no sanitizer reports" no_sanitizer_reports
done_testing
