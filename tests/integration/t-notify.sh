#!/bin/sh
# t-notify.sh: what xmppd tells its service manager (sd_notify(3)), with
# notify-sink standing in for systemd: READY=1 once it listens, STATUS=
# lines a person understands, RELOADING=1 then READY=1 around a reload
# (also a failed one), WATCHDOG=1 every WATCHDOG_USEC/2 from the event
# loop and only for the WATCHDOG_PID it is meant for, fed by the
# keepalive's wake-ups instead of a timer of its own when they come often
# enough, STOPPING=1 on SIGTERM.
set -eu
. "$top_srcdir/tests/integration/lib.sh"
need_xmppd
plan 24

prosody_start || bail "prosody did not start"
prosody_adduser bot "$BOT_PASSWORD"
write_conf "$T/xmppd.conf"

# line ERE: number of the first line of the sink output matching ERE (0:
# none); last ERE: of the last one.
line() { grep -nE -- "$1" "$NOTIFY_OUT" | head -n 1 | cut -d: -f1 | grep . || echo 0; }
last() { grep -nE -- "$1" "$NOTIFY_OUT" | tail -n 1 | cut -d: -f1 | grep . || echo 0; }
count() { count_grep "$1" "$NOTIFY_OUT"; }
before() {	# A B: the first A comes before the last B
	a=$(line "$1")
	b=$(last "$2")
	[ "$a" -gt 0 ] && [ "$b" -gt "$a" ]
}

# --- start, with the watchdog on (1 s: WATCHDOG=1 every 0.5 s) --------------
XMPPD_WATCHDOG_USEC=1000000
xmppd_start "$T/xmppd.conf"
XMPPD_WATCHDOG_USEC=
check "READY=1" wait_notify 10 '^READY=1$'
is "$(sed -n 1p "$NOTIFY_OUT")" "READY=1" "READY=1 comes first"
check "STATUS=online as $BOT_JID" \
    wait_notify 15 "^STATUS=online as $BOT_JID( |\$)"
check "STATUS= for the steps before it, e.g. connecting" \
    grep -Eq '^STATUS=(resolving|connecting|securing|authenticating)' \
    "$NOTIFY_OUT"
is "$(count '^READY=1$')" 1 "READY=1 only once"

n0=$(count '^WATCHDOG=1$')
sleep 2
n1=$(count '^WATCHDOG=1$')
d=$((n1 - n0))
ok "$([ $d -ge 3 ] && [ $d -le 5 ] && echo 0 || echo 1)" \
    "WATCHDOG=1 every WATCHDOG_USEC/2: $d in 2 s"

# A frozen loop sends nothing; a thawed one goes on.
xmppd_signal STOP
sleep 0.3
n0=$(count '^WATCHDOG=1$')
sleep 1.2
n1=$(count '^WATCHDOG=1$')
xmppd_signal CONT
is "$n1" "$n0" "no WATCHDOG=1 while the daemon is stopped"
check "WATCHDOG=1 again once it runs" wait_for 2 sh -c \
    "[ \$(grep -c '^WATCHDOG=1\$' '$NOTIFY_OUT') -gt $n1 ]"

# --- reload ---------------------------------------------------------------------
xmppd_signal HUP
check "SIGHUP: RELOADING=1" wait_notify 5 '^RELOADING=1$'
check "... then READY=1 again" wait_for 5 before '^RELOADING=1$' '^READY=1$'

# A config that does not load: the daemon keeps the old one, and still
# ends the reload with READY=1 (systemd would wait for it otherwise).
printf 'jid = \n' >"$T/xmppd.conf"
r0=$(count '^READY=1$')
xmppd_signal HUP
check "a failed reload: RELOADING=1 ..." \
    wait_for 5 sh -c "[ \$(grep -c '^RELOADING=1\$' '$NOTIFY_OUT') -ge 2 ]"
check "... and READY=1" \
    wait_for 5 sh -c "[ \$(grep -c '^READY=1\$' '$NOTIFY_OUT') -gt $r0 ]"
check "... and the daemon still runs, online" xmppd_ctl -t 10 wait-online
write_conf "$T/xmppd.conf"

# --- STATUS= while the server is away ---------------------------------------------
prosody_stop
check "STATUS= says why it waits" \
    wait_notify 10 '^STATUS=waiting [0-9.]+s before reconnecting: .'
unlike "$(grep '^STATUS=waiting' "$NOTIFY_OUT")" 'retry in' \
    "... and says when only once"
prosody_restart || bail "prosody did not restart"

# --- stop -------------------------------------------------------------------------
check "back online" wait_for 15 before '^STATUS=waiting' "^STATUS=online as $BOT_JID"
xmppd_signal TERM
xmppd_wait_exit 5 && r=0 || r=$?
is "$r" 0 "SIGTERM: exit status 0"
check "SIGTERM: STOPPING=1" grep -qx 'STOPPING=1' "$NOTIFY_OUT"
is "$(sed -n "$(line '^STOPPING=1$'),\$p" "$NOTIFY_OUT" | grep -c '^READY=1$')" \
    0 "no READY=1 after STOPPING=1"

# --- the watchdog is for one process only ------------------------------------------
# WATCHDOG_PID names another process (as when the variable is inherited):
# no WATCHDOG=1.
WATCHDOG_USEC=200000 WATCHDOG_PID=1
export WATCHDOG_USEC WATCHDOG_PID
xmppd_start "$T/xmppd.conf"
unset WATCHDOG_USEC WATCHDOG_PID
wait_notify 10 '^READY=1$' || :
sleep 0.6
is "$(count '^WATCHDOG=1$')" 0 "another process's WATCHDOG_PID: no WATCHDOG=1"
xmppd_stop

# --- the watchdog rides on the keepalive --------------------------------------------
# WATCHDOG_USEC = 6 s (its own timer: 3 s after the last feed) and a ping
# every 2 s: every WATCHDOG=1 must come with a ping, 2 s apart, never 3 s
# (a timer wake-up of its own) nor twice per ping.
write_conf "$T/ping2.conf" ping_interval=2
XMPPD_WATCHDOG_USEC=6000000
xmppd_start "$T/ping2.conf"
XMPPD_WATCHDOG_USEC=
wait_notify 10 '^READY=1$' || :
check "online with pings every 2 s" xmppd_ctl -t 20 wait-online
sleep 9
t_on=$(awk '/STATUS=online as/ { print $1; exit }' "$NOTIFY_STAMPS")
gaps=$(awk -v t0="${t_on:-0}" '$2 == "WATCHDOG=1" && $1 > t0 + 0.5 {
	if (p) printf "%.2f ", $1 - p; p = $1 }' "$NOTIFY_STAMPS")
diag "seconds between WATCHDOG=1 once online: $gaps"
ok "$(echo "$gaps" | awk '{ exit !(NF >= 3) }' && echo 0 || echo 1)" \
    "WATCHDOG=1 kept coming while online"
ok "$(echo "$gaps" | awk '{ for (i = 1; i <= NF; i++)
	if ($i < 1.8 || $i > 2.4) exit 1 }' && echo 0 || echo 1)" \
    "... each with a ping, 2 s apart: no wake-up of its own"
xmppd_stop
check "no sanitizer reports" no_sanitizer_reports
