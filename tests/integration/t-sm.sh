#!/bin/sh
# t-sm.sh: stream management (XEP-0198).  A cut link is resumed, so a
# contact never sees the bot go offline; messages sent into a dead link
# are resent after the resume; a refused resumption falls back to a new
# session with presence; "reconnect" is always a fresh session.
set -eu
. "$top_srcdir/tests/integration/lib.sh"
need_xmppd
plan 28

field() { xmppd_ctl status | awk -v k="$1" '$1 == k { print $2 }'; }

prosody_start --cfg 'smacks_hibernation_time = 30' || bail "prosody did not start"
prosody_adduser bot "$BOT_PASSWORD"
prosody_adduser watcher watchpw

proxy_start || bail "no proxy"

write_conf "$T/xmppd.conf" server="127.0.0.1:$PROXY_PORT" ping_interval=300 \
    ping_timeout=3 reconnect_min=1 reconnect_max=2
xmppd_start "$T/xmppd.conf"
wait_notify 10 '^READY=1$' || bail "xmppd did not start"
check "online" xmppd_ctl -t 20 wait-online
check "stream management enabled, resumable" \
    wait_for 5 sh -c "'$XMPPD_CTL' -s '$XMPPD_SOCK' status | grep -q '^sm *resumable'"

# A watcher subscribed to the bot notes every presence it sees.
xmpp_client --user watcher --password watchpw --resource s \
    --subscribe "bot@$DOMAIN" --expect-presence "bot@$DOMAIN" --timeout 15 \
    >/dev/null 2>&1 || :
xmpp_client_bg watch --user watcher --password watchpw --resource w \
    --hold 60 --timeout 70
wait_for 10 prosody_has_session "watcher@$DOMAIN/w" || :

# 1. The link is cut: resumed, no unavailable presence seen.
is "$(proxy cut)" ok "the proxy cuts the link"
check "the session is resumed" wait_log 15 'session resumed, online'
is "$(field sm)" resumed "status: sm resumed"
is "$(field resumptions)" 1 "status: one resumption"
unlike "$(cat "$T/client-watch.out")" "PRESENCE bot@$DOMAIN/test unavailable" \
    "the watcher never saw the bot go offline"

# 2. Messages sent into a dead link arrive after the resume.
proxy blackhole on >/dev/null
check "send into a blackholed link" \
    xmppd_ctl send "watcher@$DOMAIN/w" "sent while the link was dead"
proxy cut >/dev/null
proxy blackhole off >/dev/null
check "resumed again" wait_for 15 sh -c \
    "'$XMPPD_CTL' -s '$XMPPD_SOCK' status | grep -q '^resumptions *2'"
check "the message was resent and delivered" \
    wait_grep 10 'MESSAGE .*sent while the link was dead' "$T/client-watch.out"

# 3. reconnect is a deliberate fresh session.
check "reconnect" xmppd_ctl -t 20 reconnect
is "$(field sm)" resumable "after reconnect: a new session, not resumed"
like "$(cat "$T/client-watch.out")" "PRESENCE bot@$DOMAIN/test unavailable" \
    "the watcher saw the deliberate reconnect"

# 4. The server forgot the session: fall back to a fresh one with presence.
prosody_restart || bail "prosody did not restart"
check "resumption refused: a new session" \
    wait_log 20 'could not resume the session; starting a new one'
check "online again" xmppd_ctl -t 20 wait-online
xmppd_stop

# 5. resume_after_restart: stopping and starting the daemon keeps the session.
write_conf "$T/keep.conf" server="127.0.0.1:$PROXY_PORT" ping_interval=300 \
    reconnect_min=1 reconnect_max=2 resume_after_restart=yes
xmppd_start "$T/keep.conf"
wait_notify 10 '^READY=1$' || bail "xmppd did not start"
check "restartable: online" xmppd_ctl -t 20 wait-online
wait_for 5 sh -c "'$XMPPD_CTL' -s '$XMPPD_SOCK' status | grep -q '^sm *resumable'" || :
xmpp_client_bg watch2 --user watcher --password watchpw --resource v \
    --hold 60 --timeout 70
wait_for 10 prosody_has_session "watcher@$DOMAIN/v" || :
xmppd_stop >/dev/null && r=0 || r=$?
is "$r" 0 "SIGTERM: exit 0"
check "the session was kept for a restart" \
    grep -q 'keeping the session for a restart' "$XMPPD_LOG"
state="$T/state/sm-session.bot@$DOMAIN"
like "$(ls -l "$state" 2>&1)" '^-rw-------' "the saved state is private (0600)"
like "$(prosody_sessions_verbose)" "^$BOT_JID .*hibernating=true" \
    "... hibernating, not closed"
xmppd_start "$T/keep.conf"
check "the new process resumes it" wait_log 15 'session resumed, online'
check_fail "the state file was consumed" test -e "$state"
unlike "$(cat "$T/client-watch2.out")" "PRESENCE bot@$DOMAIN/test unavailable" \
    "the watcher saw no flap across the restart"
is "$(prosody_session_count bot)" 1 "one session"

# 6. Stale or foreign state is discarded, and a fresh session follows.
xmppd_stop >/dev/null
sed -i 's/^saved .*/saved 1000000000/' "$state"
xmppd_start "$T/keep.conf"
check "stale state: discarded" \
    wait_log 10 'discarding the saved session .*no longer holds it'
check "stale state: online with a new session" xmppd_ctl -t 20 wait-online
xmppd_stop >/dev/null
sed -i 's/^jid .*/jid other@example.org\/x/' "$state"
xmppd_start "$T/keep.conf"
check "foreign state: discarded" \
    wait_log 10 'discarding the saved session .*another account'
check "foreign state: online" xmppd_ctl -t 20 wait-online
xmppd_stop >/dev/null
