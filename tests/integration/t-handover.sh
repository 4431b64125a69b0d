#!/bin/sh
# t-handover.sh: "xmppd-ctl handover", the restart that keeps the
# XEP-0198 session.  With resume_after_restart at its default (no), the
# daemon saves the session and exits 0 without closing the stream; the
# next process resumes it, and a watcher subscribed to the bot sees no
# unavailable presence across the restart.  A plain SIGTERM still closes
# the stream (the watcher sees the bot go), and a handover with nothing
# to keep is refused and stops nothing.
set -eu
. "$top_srcdir/tests/integration/lib.sh"
need_xmppd
plan 18

field() { xmppd_ctl status | awk -v k="$1" '$1 == k { print $2 }'; }
sm_resumable() { [ "$(field sm)" = resumable ] || [ "$(field sm)" = resumed ]; }

prosody_start --cfg 'smacks_hibernation_time = 60' || bail "prosody did not start"
prosody_adduser bot "$BOT_PASSWORD"
prosody_adduser watcher watchpw

write_conf "$T/xmppd.conf" ping_interval=300
xmppd_start "$T/xmppd.conf"
wait_notify 10 '^READY=1$' || bail "xmppd did not start"
check "online" xmppd_ctl -t 20 wait-online
check "the session is resumable" wait_for 5 sm_resumable

# Nothing to keep: refused, and the daemon keeps running.
xmppd_ctl disconnect >/dev/null
out=$(xmppd_ctl handover 2>&1) && r=0 || r=$?
isnt "$r" 0 "handover while offline is refused (exit $r)"
like "$out" "not online" "... saying why"
check "... and the daemon still runs" xmppd_running
check "connect again" xmppd_ctl -t 20 connect
check "online again, resumable" wait_for 10 sm_resumable

# A watcher subscribed to the bot notes every presence it sees.
xmpp_client --user watcher --password watchpw --resource s \
    --subscribe "bot@$DOMAIN" --expect-presence "bot@$DOMAIN" --timeout 15 \
    >/dev/null 2>&1 || :
xmpp_client_bg watch --user watcher --password watchpw --resource w \
    --hold 60 --timeout 70
wait_for 10 prosody_has_session "watcher@$DOMAIN/w" ||
    bail "the watcher did not come online"

out=$(xmppd_ctl handover 2>&1) && r=0 || r=$?
is "$r" 0 "xmppd-ctl handover: OK"
like "$out" "session kept" "... the session is kept"
xmppd_wait_exit 10 && r=0 || r=$?
is "$r" 0 "the daemon exits 0 by itself"
like "$(prosody_sessions_verbose)" "^$BOT_JID .*hibernating=true" \
    "the server holds the session (hibernating), not closed"
xmppd_start "$T/xmppd.conf"
check "the next process resumes it" wait_log 15 'session resumed, online'
is "$(field sm)" resumed "status: sm resumed"
is "$(prosody_session_count bot)" 1 "one session on the server"
sleep 1
unlike "$(cat "$T/client-watch.out")" "PRESENCE bot@$DOMAIN/test unavailable" \
    "the watcher saw no unavailable presence across the handover"

# The contrast: a plain stop with resume_after_restart = no goes offline.
xmppd_stop >/dev/null
check "a plain SIGTERM closes the stream: the watcher sees the bot go" \
    wait_grep 10 "PRESENCE bot@$DOMAIN/test unavailable" "$T/client-watch.out"
check_fail "... and keeps no session" test -e "$T/state/sm-session.bot@$DOMAIN"
check "no sanitizer reports" no_sanitizer_reports
