#!/bin/sh
# t-soak.sh: connect/disconnect/resume cycles against Prosody, under the
# sanitizers when built with them: open fds and RSS must stay flat from
# the first tenth of the run to the end, and nothing may leak.
# SOAK_CYCLES sets the length (CI: 150; scripts/soak: 1000).
set -eu
. "$top_srcdir/tests/integration/lib.sh"
need_xmppd
plan 6

CYCLES=${SOAK_CYCLES:-150}
# ASan holds freed memory in a quarantine (256 MiB by default), which
# looks like growth; keep it small so RSS shows what the daemon keeps.
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:print_summary=1:quarantine_size_mb=8
export ASAN_OPTIONS
WARM=$((CYCLES / 10))

fds() { ls "/proc/$XMPPD_PID/fd" | wc -l; }
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$XMPPD_PID/status"; }
online() { "$XMPPD_CTL" -s "$XMPPD_SOCK" status 2>/dev/null |
    grep -Eq '^state +online$'; }

prosody_start --cfg 'smacks_hibernation_time = 60' || bail "prosody did not start"
prosody_adduser bot "$BOT_PASSWORD"
proxy_start || bail "no proxy"
write_conf "$T/xmppd.conf" server="127.0.0.1:$PROXY_PORT" reconnect_min=1 \
    reconnect_max=1 ping_interval=300
xmppd_start "$T/xmppd.conf"
wait_notify 10 '^READY=1$' || bail "xmppd did not start"
xmppd_ctl -t 20 wait-online >/dev/null || bail "not online"

i=0 failed=0 fd_warm= rss_warm=
while [ $i -lt "$CYCLES" ]; do
	case $((i % 3)) in
	0)	xmppd_ctl -t 20 reconnect >/dev/null 2>&1 || failed=$((failed + 1)) ;;
	1)	xmppd_ctl -t 10 disconnect >/dev/null 2>&1 || failed=$((failed + 1))
		xmppd_ctl -t 20 connect >/dev/null 2>&1 || failed=$((failed + 1)) ;;
	2)	proxy cut >/dev/null	# a lost link: resumed
		wait_for 20 online || failed=$((failed + 1)) ;;
	esac
	i=$((i + 1))
	if [ $i -eq "$WARM" ]; then
		sleep 0.3
		fd_warm=$(fds) rss_warm=$(rss)
	fi
done
wait_for 20 online || :
sleep 0.3
fd_end=$(fds) rss_end=$(rss)
diag "cycle $WARM: $fd_warm fds, $rss_warm kB; cycle $CYCLES: $fd_end fds, $rss_end kB"
is "$failed" 0 "$CYCLES cycles of reconnect, disconnect/connect and resume"
is "$fd_end" "$fd_warm" "open fds flat from cycle $WARM to $CYCLES"
# Allocator noise is allowed; growth per cycle is not.
ok "$([ $((rss_end - rss_warm)) -lt 4096 ] && echo 0 || echo 1)" \
    "RSS flat from cycle $WARM to $CYCLES (+$((rss_end - rss_warm)) kB, bound 4 MiB)"
like "$(xmppd_ctl status)" '^resumptions +[1-9]' "resumptions happened"
is "$(prosody_session_count bot)" 1 "one session at the end"
xmppd_stop >/dev/null
check "no leaks or sanitizer reports" no_sanitizer_reports
