#!/bin/sh
# t-faults.sh: network faults injected by a TCP proxy between xmppd and
# Prosody: the link cut mid-TLS-handshake, mid-SASL and mid-bind, a
# blackholed link, a slow link.  Each has a bound on recovery; the
# measured times are printed as diagnostics.
set -eu
. "$top_srcdir/tests/integration/lib.sh"
need_xmppd
plan 14

online() { xmppd_ctl status 2>/dev/null | grep -Eq '^state +online$'; }
recovered() {	# BOUND DESC: time until online again
	local t0 t1
	t0=$(_now_ms)
	if wait_for "$1" online; then
		t1=$(_now_ms)
		pass "$2: online again in $((t1 - t0)) ms (bound $1 s)"
	else
		fail "$2: not online within $1 s"
	fi
}

prosody_start || bail "prosody did not start"
prosody_adduser bot "$BOT_PASSWORD"
proxy_start || bail "no proxy"

write_conf "$T/xmppd.conf" server="127.0.0.1:$PROXY_PORT" ping_interval=2 \
    ping_timeout=2 reconnect_min=1 reconnect_max=2 connect_timeout=3

cut_phase() {	# BYTES STATE DESC
	proxy cutafterup "$1" >/dev/null
	xmppd_start "$T/xmppd.conf"
	check "$3: the cut is noticed in $2" \
	    wait_log 15 "state change $2 -> waiting"
	proxy cutafterup 0 >/dev/null
	recovered 10 "$3"
	xmppd_stop >/dev/null || :
}
# Cut after xmppd has sent this many bytes: xmppd's own output is the
# same on every run (fixed JID, resource and password lengths), so each
# count falls in one phase whatever the server's certificate.
cut_phase 300 securing "cut mid-TLS-handshake"
check "... reported as a failed handshake" \
    grep -q 'TLS handshake with .* failed' "$XMPPD_LOG"
cut_phase 1000 authenticating "cut mid-SASL"
cut_phase 1450 binding "cut mid-bind"
cut_phase 1600 online "cut mid-stanza (initial presence)"

xmppd_start "$T/xmppd.conf"
wait_for 15 online || bail "not online"
proxy blackhole on >/dev/null
t0=$(_now_ms)
check "blackholed link: noticed by the ping" \
    wait_log 10 'no answer to a ping within 2s'
diag "blackhole detected after $(( $(_now_ms) - t0 )) ms"
proxy blackhole off >/dev/null
proxy cut >/dev/null
recovered 10 "blackhole lifted"

proxy delay 300 >/dev/null
proxy cut >/dev/null
recovered 20 "slow link (300 ms per chunk)"
proxy delay 0 >/dev/null
is "$(prosody_session_count bot)" 1 "one session at the end"
xmppd_stop >/dev/null || :
check "no sanitizer reports" no_sanitizer_reports
