#!/bin/sh
# t-tls.sh: the TLS promises: a certificate for another name is refused,
# an untrusted one too; tls_verify = no connects but warns on every
# connect; a server without STARTTLS is refused, never used in the clear.
# A reconnect resumes the TLS 1.3 session where the server issues tickets,
# and never a TLS 1.2 one (tls-unique would change under the server).
set -eu
. "$top_srcdir/tests/integration/lib.sh"
need_xmppd
plan 19

prosody_start --wrong-cert || bail "prosody did not start"
prosody_adduser bot "$BOT_PASSWORD"
write_conf "$T/xmppd.conf"
xmppd_start "$T/xmppd.conf"
check "certificate for the wrong name: refused" \
    wait_log 15 'certificate verification failed: .*(hostname|Hostname)'
check_fail "... and never online" wait_for 3 prosody_has_session "$BOT_JID"
like "$(xmppd_ctl status)" '^state +(waiting|connecting|securing|resolving)$' \
    "it keeps trying with backoff"
xmppd_stop

write_conf "$T/noverify.conf" tls_verify=no
xmppd_start "$T/noverify.conf"
wait_notify 10 '^READY=1$' || :
check "tls_verify = no: online despite the wrong name" \
    xmppd_ctl -t 20 wait-online
check "... with a warning on the connect" \
    wait_log 2 'TLS certificate NOT verified'
xmppd_ctl -t 20 reconnect >/dev/null 2>&1 || :
is "$(count_grep 'TLS certificate NOT verified' "$XMPPD_LOG")" 2 \
    "... and again on the next connect"
xmppd_stop

prosody_stop

# Tickets: the first connect is a full handshake, a reconnect resumes.
prosody_start --tickets || bail "prosody did not start"
xmppd_start "$T/xmppd.conf"
wait_notify 10 '^READY=1$' || :
check "online with tickets issued" xmppd_ctl -t 20 wait-online
is "$(count_grep 'TLS established .*(resumed)' "$XMPPD_LOG")" 0 \
    "... after a full handshake"
check "reconnect" xmppd_ctl -t 20 reconnect
check "... resumes the TLS session" \
    wait_log 5 'TLS established with .*TLSv1.3.*(resumed)'
like "$(xmppd_ctl status)" 'tls +TLSv1\.3/.* \(resumed\)' \
    "status shows it"
check "... and the server has the session" prosody_has_session "$BOT_JID"
xmppd_stop
prosody_stop

# TLS 1.2 with tickets: never resumed, and SCRAM-SHA-1-PLUS (tls-unique)
# logs in on every connect.
prosody_start --tickets --tls12 || bail "prosody did not start"
xmppd_start "$T/xmppd.conf"
wait_notify 10 '^READY=1$' || :
check "TLS 1.2: online" xmppd_ctl -t 20 wait-online
check "reconnect" xmppd_ctl -t 20 reconnect
is "$(count_grep 'TLS established .*(resumed)' "$XMPPD_LOG")" 0 \
    "... without resuming TLS 1.2"
is "$(count_grep 'authenticated .*SCRAM-SHA-1-PLUS' "$XMPPD_LOG")" 2 \
    "... channel binding on both logins"
xmppd_stop
prosody_stop

badserver_start no-starttls
write_conf "$T/plain.conf" server="127.0.0.1:$BAD_PORT"
xmppd_start "$T/plain.conf"
check "no STARTTLS offered: refused" \
    wait_log 10 'does not offer STARTTLS; refusing to continue without TLS'
is "$(count_grep PLAINTEXT-AUTH "$BAD_LOG")" 0 "no authentication in the clear"
xmppd_stop
check "no sanitizer reports" no_sanitizer_reports
