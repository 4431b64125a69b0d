#!/bin/sh
# t-tls.sh: the TLS promises: a certificate for another name is refused,
# an untrusted one too; tls_verify = no connects but warns on every
# connect; a server without STARTTLS is refused, never used in the clear.
set -eu
. "$top_srcdir/tests/integration/lib.sh"
need_xmppd
plan 9

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
badserver_start no-starttls
write_conf "$T/plain.conf" server="127.0.0.1:$BAD_PORT"
xmppd_start "$T/plain.conf"
check "no STARTTLS offered: refused" \
    wait_log 10 'does not offer STARTTLS; refusing to continue without TLS'
is "$(count_grep PLAINTEXT-AUTH "$BAD_LOG")" 0 "no authentication in the clear"
xmppd_stop
check "no sanitizer reports" no_sanitizer_reports
