#!/bin/sh
# t-recover.sh: the server goes away (restart, SIGKILL, SIGSTOP longer than
# ping_timeout) and xmppd comes back online by itself, within bounds.
set -eu
. "$top_srcdir/tests/integration/lib.sh"
need_xmppd
plan 12

both_online() {
	xmppd_ctl status 2>/dev/null | grep -Eq '^state +online$' &&
	    prosody_sessions_verbose | grep -q "^$BOT_JID .*hibernating=false"
}

online_again() {	# SECONDS DESC
	local t0 t1
	t0=$(_now_ms)
	if wait_for "$1" both_online; then
		t1=$(_now_ms)
		pass "$2 ($((t1 - t0)) ms)"
	else
		fail "$2 (not within $1 s)"
	fi
}

prosody_start || bail "prosody did not start"
prosody_adduser bot "$BOT_PASSWORD"
write_conf "$T/xmppd.conf" ping_interval=2 ping_timeout=2 reconnect_min=1 \
    reconnect_max=3
xmppd_start "$T/xmppd.conf"
wait_notify 10 '^READY=1$' || :
check "online" xmppd_ctl -t 20 wait-online

prosody_restart || bail "prosody did not restart"
online_again 10 "Prosody restarted: back online"
check "the state machine says online" xmppd_ctl -t 10 wait-online

prosody_kill
check "Prosody killed: xmppd notices" wait_log 10 'state change online -> waiting'
prosody_start || bail "prosody did not start again"
online_again 10 "Prosody killed and started: back online"

wait_for 10 both_online || :
kill -STOP "$(prosody_pid)"
check "Prosody frozen: the ping times out" \
    wait_log 10 'no answer to a ping within 2s'
wait_log 10 'state change online -> waiting' || :
kill -CONT "$(prosody_pid)"
online_again 40 "Prosody thawed: back online"
is "$(prosody_session_count bot)" 1 "exactly one session on the server"
like "$(xmppd_ctl status)" '^reconnects +[1-9]' "status counts the reconnects"

# A silent server must not hold up a stop: exit 0 within 2 s anyway.
kill -STOP "$(prosody_pid)"
t0=$(_now_ms)
xmppd_signal TERM
xmppd_wait_exit 5 && r=0 || r=$?
t1=$(_now_ms)
kill -CONT "$(prosody_pid)"
is "$r" 0 "SIGTERM with the server frozen: exit 0"
ok "$([ $((t1 - t0)) -lt 2000 ] && echo 0 || echo 1)" \
    "SIGTERM with the server frozen: gone within 2 s ($((t1 - t0)) ms)"
check "no sanitizer reports" no_sanitizer_reports
