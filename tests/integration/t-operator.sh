#!/bin/sh
# t-operator.sh: what a first-time operator tripped over (issue 11), with
# a real Prosody: a password changed with passwd survives reload and
# SIGHUP; wait-online answers at once when the daemon will not go online
# by itself; status counts every new attempt, forgets a healed error and
# shows no session in auth-failed; "closing" is one name in the log and in
# events; a bounce reaches events with its condition; unregister is
# logged as information; a host-unknown retry logs no libevent error;
# hints for an unknown account and for direct TLS
# on a STARTTLS port; resolver errors name what was looked up; SIGTERM
# answers every waiting client "ERR shutdown".
set -eu
. "$top_srcdir/tests/integration/lib.sh"
need_xmppd
plan 56

state_is() { xmppd_ctl status 2>/dev/null | grep -Eq "^state +$1\$"; }
field() { xmppd_ctl status 2>/dev/null | awk -v k="$1" '$1 == k { $1 = ""; sub(/^ /, ""); print }'; }
ms() { echo $(($(date +%s%N) / 1000000)); }

prosody_start || bail "prosody did not start"
prosody_adduser bot "$BOT_PASSWORD"
write_conf "$T/xmppd.conf"
xmppd_start "$T/xmppd.conf"
check "online" xmppd_ctl -t 20 wait-online
xmppd_ctl events > "$T/events.out" 2>&1 &
track_pid events $!
wait_for 5 grep -q streaming "$T/events.out" || :

# --- item 7: -j numbers, reconnects ------------------------------------------
j=$(xmppd_ctl -j status)
like "$j" '"resumptions":[0-9]+[,}]' "status -j: resumptions is a JSON number"
like "$j" '"reconnects":0[,}]' "status -j: no reconnect yet"
check "reconnect 1" xmppd_ctl -t 20 reconnect
check "reconnect 2" xmppd_ctl -t 20 reconnect
check "disconnect" xmppd_ctl -t 20 disconnect

# --- item 2: wait-online while offline on request ----------------------------
t0=$(ms)
out=$(xmppd_ctl wait-online 2>&1) && r=0 || r=$?
t1=$(ms)
is "$r" 1 "wait-online after disconnect: exit 1"
ok "$([ $((t1 - t0)) -lt 3000 ] && echo 0 || echo 1)" \
    "... at once ($((t1 - t0)) ms), not blocking"
like "$out" 'state offline' "... with the state"
check "connect" xmppd_ctl -t 20 connect
is "$(field reconnects)" 3 "reconnects counts reconnect, reconnect, connect"

# --- item 8: closing, one name --------------------------------------------------
like "$(cat "$T/events.out")" '"state":"closing","previous":"online"' \
    "events: online -> closing"
like "$(cat "$T/events.out")" '"state":"offline","previous":"closing"' \
    "events: closing -> offline"
check "the log names the same state" \
    grep -q 'state change online -> closing' "$XMPPD_LOG"

# --- item 7: last_error forgotten once online again ---------------------------
prosody_kick "$BOT_JID" system-shutdown
check "kicked: waiting" wait_log 10 'state change online -> waiting'
check "back online" xmppd_ctl -t 20 wait-online
check "the log kept the failure" grep -q 'system-shutdown' "$XMPPD_LOG"
is "$(field last_error)" "-" "status: last_error cleared once online"

# --- item 12: a bounce in events -------------------------------------------------
check "send to a user that does not exist" \
    xmppd_ctl send "nobody@$DOMAIN" "hello nobody"
check "events: the bounce, type error, with its condition" \
    wait_grep 10 "\"from\":\"nobody@$DOMAIN\",\"type\":\"error\",\"body\":\"[^\"]*\",\"condition\":\"[a-z-]+\"" \
    "$T/events.out"

# --- item 7: presence after a resume across a restart ---------------------
xmppd_stop
write_conf "$T/keep.conf" resume_after_restart=yes
xmppd_start "$T/keep.conf"
check "online (resume_after_restart)" xmppd_ctl -t 20 wait-online
check "presence away" xmppd_ctl presence away "at lunch"
sleep 0.5
xmppd_stop
xmppd_start "$T/keep.conf"
check "online again" xmppd_ctl -t 20 wait-online
like "$(field sm)" '^resumed$' "the kept session was resumed"
is "$(field presence)" away "status: the presence the resumed session has"

# --- item 1: passwd survives reload and SIGHUP ----------------------------------
out=$(printf 'n3w-secret\n' | xmppd_ctl -t 20 passwd 2>&1) && r=0 || r=$?
is "$r" 0 "passwd: exit 0"
like "$out" "store it in $T/password now: xmppd does not rewrite it" \
    "passwd: the file is the operator's to update"
like "$out" 'reload and SIGHUP keep the new password' \
    "passwd: says what a reload does"
like "$out" 'reauth and a restart use the configured one' \
    "passwd: says what reauth and a restart do"
check "reload" xmppd_ctl -t 20 reload
check "reconnect after reload: online (new password kept)" \
    xmppd_ctl -t 20 reconnect
xmppd_signal HUP
sleep 1
check "reconnect after SIGHUP: online" xmppd_ctl -t 20 reconnect
check "on the server" wait_for 5 prosody_has_session "$BOT_JID"

# --- item 9: unregister is information, not an error ---------------------------
check "unregister" xmppd_ctl -t 20 unregister --yes
check "logged as info" grep -Eq 'info.*account bot@[^ ]* removed' "$XMPPD_LOG"
is "$(grep -E '(error|warning)' "$XMPPD_LOG" | grep -c 'removed')" 0 \
    "no warning or error line about the removal"

# --- item 10 and 2: unknown account, auth-failed ------------------------------
out=$(xmppd_ctl -t 20 connect 2>&1) && r=0 || r=$?
is "$r" 1 "connect to a removed account: exit 1"
like "$(field last_error)" 'xmppd-ctl register.*auto_register' \
    "not-authorized with registration offered: hints at register"
t0=$(ms)
out=$(xmppd_ctl wait-online 2>&1) && r=0 || r=$?
t1=$(ms)
is "$r" 1 "wait-online in auth-failed: exit 1"
ok "$([ $((t1 - t0)) -lt 3000 ] && echo 0 || echo 1)" \
    "... at once ($((t1 - t0)) ms)"
like "$out" 'state auth-failed.*not-authorized' "... with state and last error"

# --- item 7: no session shown in auth-failed ---------------------------------
prosody_adduser bot "$BOT_PASSWORD"
check "reauth (the configured password): online" xmppd_ctl -t 20 reauth
like "$(field sm)" '^resumable$' "online: a resumable session"
prosody_passwd bot changed-elsewhere
prosody_kill		# the link drops; the session would be resumable
prosody_start || bail "prosody did not restart"
check "password changed elsewhere, link lost: auth-failed" \
    wait_for 20 state_is auth-failed
is "$(field sm)" "no" "status: no session shown in auth-failed"
xmppd_stop

# --- item 5: host-unknown, retried, without a libevent error ------------------
write_conf "$T/unserved.conf" jid=bot@unserved.test/test reconnect_min=1 \
    reconnect_max=1
xmppd_start "$T/unserved.conf"
check "unserved domain: host-unknown, retried" wait_for 15 sh -c \
    "[ \$(grep -c 'stream error host-unknown' '$XMPPD_LOG') -ge 3 ]"
is "$(count_grep 'libevent:' "$XMPPD_LOG")" 0 \
    "no libevent error on any retry (no event changed on a closed socket)"
xmppd_stop

# --- item 10: direct TLS on a STARTTLS port --------------------------------------
write_conf "$T/direct.conf" tls=direct reconnect_min=30 reconnect_max=30
xmppd_start "$T/direct.conf"
check "direct TLS on the STARTTLS port: waiting" wait_for 15 state_is waiting
like "$(field last_error)" 'does not speak direct TLS.*STARTTLS' \
    "the error hints at STARTTLS"

# --- item 6: SIGTERM answers every waiting client ----------------------------
xmppd_ctl wait-online > "$T/wo.out" 2>&1 &
WO=$!
sleep 0.5
xmppd_signal TERM
wait "$WO" && r=0 || r=$?
is "$r" 1 "SIGTERM while waiting: wait-online exits 1, not 3"
like "$(cat "$T/wo.out")" 'shutting down' "... with the shutdown answer"
xmppd_wait_exit 10 || :
XMPPD_PID=

# A server that accepts and never speaks: a command runs, one is queued.
badserver_start silent || bail "badserver did not start"
write_conf "$T/silent.conf" server=127.0.0.1:$BAD_PORT connect_timeout=30
xmppd_start "$T/silent.conf"
wait_for 10 state_is securing || :
xmppd_ctl -t 30 reconnect > "$T/rc.out" 2>&1 &
RC=$!
sleep 0.3
xmppd_ctl -t 30 connect > "$T/cn.out" 2>&1 &
CN=$!
xmppd_ctl -t 30 wait-online > "$T/wo2.out" 2>&1 &
WO=$!
sleep 0.5
xmppd_signal TERM
wait "$RC" && r1=0 || r1=$?
wait "$CN" && r2=0 || r2=$?
wait "$WO" && r3=0 || r3=$?
is "$r1 $r2 $r3" "1 1 1" \
    "SIGTERM: running command, queued command, wait-online all exit 1"
is "$(grep -l 'shutting down' "$T/rc.out" "$T/cn.out" "$T/wo2.out" | wc -l)" 3 \
    "... all with the same shutdown answer"
xmppd_wait_exit 10 || :
XMPPD_PID=

# --- item 4: what was looked up --------------------------------------------------
write_conf "$T/nohost.conf" server=no-such-host.invalid reconnect_min=30 \
    reconnect_max=30
xmppd_start "$T/nohost.conf"
check "unresolvable server: waiting" wait_for 20 state_is waiting
like "$(field last_error)" 'cannot find the server host no-such-host\.invalid' \
    "the error names the host looked up, not the JID's domain"
xmppd_stop
check "no sanitizer reports" no_sanitizer_reports
