#!/bin/sh
# t-online.sh: the whole path to online against a real Prosody: STARTTLS
# and direct TLS, seen server-side and by a second client; online duties;
# sd_notify; passwords kept out of logs; SIGTERM goes offline in time.
set -eu
. "$top_srcdir/tests/integration/lib.sh"
need_xmppd
plan 29

prosody_start || bail "prosody did not start"
prosody_adduser bot "$BOT_PASSWORD"
prosody_adduser watcher watchpw

# --- STARTTLS --------------------------------------------------------------
write_conf "$T/xmppd.conf" presence_status="at your service"
xmppd_start "$T/xmppd.conf"
check "READY=1 sent before anything else" wait_notify 10 '^READY=1$'
check "online over STARTTLS" xmppd_ctl -t 20 wait-online
check "STATUS says online as the full JID" \
    wait_notify 5 "^STATUS=online as $BOT_JID"
check "the server lists the session" wait_for 5 prosody_has_session "$BOT_JID"
st=$(xmppd_ctl -j status)
like "$st" '"tls":"TLSv1\.[23]' "status shows the TLS version"
like "$st" '"sasl":"SCRAM-SHA-1' "status shows the SCRAM mechanism"

# A second client subscribes; xmppd accepts and the watcher sees presence.
out=$(xmpp_client --user watcher --password watchpw --resource w \
    --subscribe bot@$DOMAIN --expect-presence "bot@$DOMAIN" --timeout 15 2>&1) \
    && r=0 || r=$?
ok "$r" "a second client sees the bot's presence"
like "$out" "PRESENCE bot@$DOMAIN/test .*at your service" \
    "with the configured status text"

# Online duties: ping and an unknown iq are answered.
out=$(xmpp_client --user watcher --password watchpw --resource p \
    --ping "$BOT_JID" --timeout 10 2>&1) && r=0 || r=$?
like "$out" "PONG $BOT_JID" "xmppd answers XEP-0199 pings"

# disco#info, version, and an iq nobody handles.
out=$(xmpp_client --user watcher --password watchpw --resource d --timeout 10 \
    --iq "$BOT_JID" "<query xmlns='http://jabber.org/protocol/disco#info'/>" \
    --iq "$BOT_JID" "<query xmlns='jabber:iq:version'/>" \
    --iq "$BOT_JID" "<query xmlns='urn:example:unknown'/>" 2>&1) || :
like "$out" "IQ-RESULT $BOT_JID .*identity( [a-z]+=\"[^\"]*\")*( category=\"client\"( [a-z]+=\"[^\"]*\")* type=\"bot\"| type=\"bot\"( [a-z]+=\"[^\"]*\")* category=\"client\")" \
    "disco#info: identity client/bot"
like "$out" "IQ-RESULT $BOT_JID .*<ns[0-9]:name>xmppd</ns[0-9]:name>" \
    "version: answered with the name"
like "$out" "IQ-ERROR $BOT_JID .*service-unavailable" \
    "an unknown iq: service-unavailable"

# Incoming messages reach "events".
xmppd_ctl -t 30 events > "$T/events.out" 2>&1 &
EV_PID=$!
track_pid events "$EV_PID"
sleep 0.3
xmpp_client --user watcher --password watchpw --resource m \
    --send "$BOT_JID" "hello bot" --timeout 10 >/dev/null 2>&1 || :
check "events shows the incoming message" \
    wait_grep 5 '"event":"message".*"body":"hello bot"' "$T/events.out"

# xmppd sends; the watcher receives.
xmpp_client_bg recv --user watcher --password watchpw --resource r \
    --expect-message "from xmppd" --timeout 15
wait_for 10 prosody_has_session "watcher@$DOMAIN/r" || :
check "send: the message is delivered" \
    xmppd_ctl send "watcher@$DOMAIN/r" "from xmppd"
check "... and received by the second client" \
    wait_grep 10 'MESSAGE .*from xmppd' "$T/client-recv.out"

# presence and reload, seen by the watcher.
xmpp_client_bg pres --user watcher --password watchpw --resource q \
    --hold 30 --timeout 35
wait_for 10 prosody_has_session "watcher@$DOMAIN/q" || :
check "presence away: accepted" xmppd_ctl presence away "gone fishing"
check "... and seen by the watcher" \
    wait_grep 10 "PRESENCE bot@$DOMAIN/test available away gone fishing" \
    "$T/client-pres.out"
write_conf "$T/xmppd.conf" presence_status="reloaded status"
check "reload: accepted" xmppd_ctl -t 20 reload
check "... the new status is announced" \
    wait_grep 10 "PRESENCE bot@$DOMAIN/test available +reloaded status" \
    "$T/client-pres.out"
is "$(prosody_session_count bot)" 1 "... on the same session"

# Passwords never reach logs, not even with -d.
unlike "$(cat "$XMPPD_LOG")" "$BOT_PASSWORD" "the password is not in the debug log"

# SIGTERM: offline on the server within 2 s, exit 0.
t0=$(_now_ms)
xmppd_signal TERM
xmppd_wait_exit 5 && r=0 || r=$?
t1=$(_now_ms)
is "$r" 0 "SIGTERM: exit status 0"
ok "$([ $((t1 - t0)) -lt 2000 ] && echo 0 || echo 1)" \
    "SIGTERM: exited within 2 s ($((t1 - t0)) ms)"
check_fail "SIGTERM: the session is gone from the server" \
    wait_for 2 prosody_has_session "$BOT_JID"
check "STOPPING=1 sent" wait_notify 2 '^STOPPING=1$'

# --- direct TLS (XEP-0368) ---------------------------------------------------
write_conf "$T/direct.conf" tls=direct server="127.0.0.1:$PROSODY_TLS_PORT"
xmppd_start "$T/direct.conf"
wait_notify 10 '^READY=1$' || :
check "online over direct TLS" xmppd_ctl -t 20 wait-online
like "$(xmppd_ctl status)" "server +127\.0\.0\.1:$PROSODY_TLS_PORT" \
    "connected to the direct TLS port"
check "the server lists the session" wait_for 5 prosody_has_session "$BOT_JID"
xmppd_stop
check "no sanitizer reports" no_sanitizer_reports
