#!/bin/sh
# t-dns.sh: finding the server through a scripted DNS server: SRV ordering
# (direct TLS first on equal priority, XEP-0368), targets that refuse,
# the fallback to the domain, and DNS that fails or never answers.
set -eu
. "$top_srcdir/tests/integration/lib.sh"
need_xmppd
plan 12

dns_start() {	# fakedns args...
	rm -f "$T/dns.port"
	python3 "$top_srcdir/tests/helpers/fakedns.py" --port-file "$T/dns.port" \
	    --max-seconds 300 "$@" 2>>"$T/dns.log" &
	DNS_PID=$!
	track_pid dns "$DNS_PID"
	wait_file 10 "$T/dns.port" || bail "fake DNS did not start"
	XMPPD_DNS_SERVERS=127.0.0.1:$(cat "$T/dns.port")
	export XMPPD_DNS_SERVERS
}
dns_stop() { stop_pid "$DNS_PID" 5 >/dev/null || :; }
run() {		# NAME [config overrides]
	local name=$1
	shift
	write_conf "$T/$name.conf" server= tls=auto connect_timeout=2 \
	    reconnect_min=1 reconnect_max=2 "$@"
	xmppd_start "$T/$name.conf"
	wait_notify 10 '^READY=1$' || :
}

prosody_start || bail "prosody did not start"
prosody_adduser bot "$BOT_PASSWORD"
closed=$(free_port)

# Equal priority: direct TLS first.
dns_start --a "h1.$DOMAIN=127.0.0.1" \
    --srv "_xmpps-client._tcp.$DOMAIN=5,10,$PROSODY_TLS_PORT,h1.$DOMAIN" \
    --srv "_xmpp-client._tcp.$DOMAIN=5,10,$PROSODY_PORT,h1.$DOMAIN"
run srv
check "SRV: online" xmppd_ctl -t 20 wait-online
like "$(xmppd_ctl status)" "server +127\.0\.0\.1:$PROSODY_TLS_PORT" \
    "SRV: direct TLS preferred on equal priority"
check "SRV: both services were queried" \
    grep -q "QUERY _xmpps-client._tcp.$DOMAIN" "$T/dns.log"
xmppd_stop >/dev/null; dns_stop

# The preferred target refuses: the next one is tried.
dns_start --a "h1.$DOMAIN=127.0.0.1" \
    --srv "_xmpp-client._tcp.$DOMAIN=1,10,$closed,h1.$DOMAIN" \
    --srv "_xmpp-client._tcp.$DOMAIN=2,10,$PROSODY_PORT,h1.$DOMAIN"
run refuse tls=starttls
check "refusing target: online through the next" xmppd_ctl -t 20 wait-online
check "refusing target: it was tried first" \
    grep -q "connect to 127.0.0.1:$closed: Connection refused" "$XMPPD_LOG"
xmppd_stop >/dev/null; dns_stop

# No SRV records: the domain itself on 5222.
dns_start --a "$DOMAIN=127.0.0.1"
run fallback tls=starttls
check "no SRV: falls back to the domain on 5222" \
    wait_log 10 'state change resolving -> connecting, reason: 127\.0\.0\.1:5222'
xmppd_stop >/dev/null; dns_stop

# "." as the only target: the domain says it has no XMPP service.
dns_start --srv "_xmpp-client._tcp.$DOMAIN=0,0,0,." --a "$DOMAIN=127.0.0.1"
run dot tls=starttls
check "SRV target '.': no service, clear error" \
    wait_log 10 'offers no XMPP service'
xmppd_stop >/dev/null; dns_stop

# SERVFAIL everywhere.
dns_start --mode servfail
run servfail
check "SERVFAIL: a clear error" wait_log 10 "cannot find the server for $DOMAIN"
check "SERVFAIL: the error names the SRV names and the host looked up" \
    grep -q "cannot find the server for $DOMAIN (SRV _xmpps-client and _xmpp-client._tcp.$DOMAIN, then the host $DOMAIN)" "$XMPPD_LOG"
check "SERVFAIL: waiting to retry" wait_log 2 'state change resolving -> waiting'
xmppd_stop >/dev/null; dns_stop

# A DNS server that never answers: bounded by the lookup timeout.
dns_start --mode timeout
run timeout
check "no DNS answer: gives up within the bound" \
    wait_log 15 'cannot find the server for .*(timed out|Timeout)'
check "no DNS answer: the daemon stays responsive" xmppd_ctl -t 2 status
xmppd_stop >/dev/null; dns_stop
