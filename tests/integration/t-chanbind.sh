#!/bin/sh
# t-chanbind.sh: channel binding cannot be switched off by a man in the
# middle (issue 10 defect 3).  The -PLUS outcome is pinned per account and
# server: once -PLUS worked, a rejected -PLUS parks in auth-failed, with no
# retry without binding; once -PLUS was rejected at first contact, later
# logins (after a restart too) go straight to SCRAM without binding.  The
# scripted server counts the attempts; real Prosody (TLS 1.2, where it
# offers SCRAM-SHA-1-PLUS with tls-unique) checks "used" and the skip.
set -eu
. "$top_srcdir/tests/integration/lib.sh"
need_xmppd
make_certs
plan 27

cbpin=$T/state/sasl-cb.bot@$DOMAIN
cb_status() {
	xmppd_ctl status 2>/dev/null | awk '$1 == "channel_binding" { print $2 }'
}
state_is() { xmppd_ctl status 2>/dev/null | grep -Eq "^state +$1\$"; }
onlines() { count_grep 'state change .* -> online' "$XMPPD_LOG"; }

# (a) -PLUS works on the first connection, the next one rejects it.
badserver_start plus-then-reject
write_conf "$T/a.conf" server="127.0.0.1:$BAD_PORT" reconnect_min=1 \
    reconnect_max=2
xmppd_start "$T/a.conf"
check "(a) -PLUS with tls-unique: online" \
    wait_log 15 'state change .* -> online'
is "$(cb_status)" used "(a) status: channel_binding used"
is "$(cat "$cbpin" 2>/dev/null)" "used 127.0.0.1" \
    "(a) the outcome is pinned for the account and server"
xmppd_ctl -t 20 reconnect >/dev/null 2>&1 || :
check "(a) -PLUS rejected after it worked: auth-failed" \
    wait_for 15 state_is auth-failed
like "$(xmppd_ctl status)" \
    'last_error +SCRAM-SHA-1-PLUS rejected .*possible downgrade, not retrying without binding; if intended, remove .*/sasl-cb\.bot@xmppd\.test and reauth$' \
    "(a) last_error says why"
is "$(cb_status)" downgrade-refused "(a) status: channel_binding downgrade-refused"
sleep 3
is "$(count_grep '^CONNECT ' "$BAD_LOG")" 2 "(a) no new connection while parked"
is "$(count_grep '^SCRAM client-first gs2=[ny],' "$BAD_LOG")" 0 \
    "(a) no login without binding"
is "$(count_grep '^AUTH-FAIL SCRAM-SHA-1-PLUS' "$BAD_LOG")" 1 \
    "(a) the one -PLUS failure"
is "$(count_grep 'error: .*possible downgrade' "$XMPPD_LOG")" 1 \
    "(a) one clear log line"
is "$(cat "$cbpin" 2>/dev/null)" "used 127.0.0.1" "(a) the pin is kept"
xmppd_stop
badserver_stop

# (b) -PLUS offered without a XEP-0440 list and rejected at first contact
# (TLS 1.3: the RFC 9266 default tls-exporter is refused).
rm -f "$cbpin"
badserver_start ok --mechanisms SCRAM-SHA-1-PLUS,SCRAM-SHA-1
write_conf "$T/b.conf" server="127.0.0.1:$BAD_PORT"
xmppd_start "$T/b.conf"
check "(b) first contact: online after one fallback" \
    wait_log 15 'state change .* -> online'
is "$(cb_status)" refused-first "(b) status: channel_binding refused-first"
is "$(cat "$cbpin" 2>/dev/null)" "refused 127.0.0.1" "(b) the refusal is pinned"
xmppd_stop
xmppd_start "$T/b.conf"
check "(b) after a restart: online" wait_log 15 'state change .* -> online'
xmppd_ctl -t 20 reconnect >/dev/null 2>&1 || :
check "(b) ... and after a reconnect" wait_for 15 sh -c \
    "[ \$(grep -c 'state change .* -> online' '$XMPPD_LOG') -ge 2 ]"
is "$(count_grep '^RECV .*mechanism="SCRAM-SHA-1-PLUS"' "$BAD_LOG")" 1 \
    "(b) -PLUS tried on first contact only"
is "$(count_grep '^AUTH-FAIL' "$BAD_LOG")" 1 \
    "(b) the server counted one failed login in all"
is "$(count_grep '^AUTH-OK SCRAM-SHA-1 ' "$BAD_LOG")" 3 \
    "(b) three logins without binding"
is "$(count_grep 'rejected -PLUS at first contact' "$XMPPD_LOG")" 1 \
    "(b) the decision is logged once per run"
is "$(cb_status)" refused-first "(b) status after the restart: refused-first"
xmppd_stop
badserver_stop

# Real Prosody, TLS 1.2: -PLUS works and is pinned as used.
rm -f "$cbpin"
prosody_start --tls12 || bail "prosody did not start"
prosody_adduser bot "$BOT_PASSWORD"
write_conf "$T/p.conf"
xmppd_start "$T/p.conf"
check "Prosody TLS 1.2: online" xmppd_ctl -t 20 wait-online
is "$(cb_status)" used "Prosody: channel_binding used"
is "$(cat "$cbpin" 2>/dev/null)" "used 127.0.0.1" "Prosody: pinned as used"
xmppd_stop

# A refusal pinned for this server: straight to SCRAM-SHA-1, no -PLUS.
printf 'refused 127.0.0.1\n' >"$cbpin"
xmppd_start "$T/p.conf"
check "Prosody, refusal pinned: online" xmppd_ctl -t 20 wait-online
is "$(count_grep 'authenticated .* with SCRAM-SHA-1$' "$XMPPD_LOG")" 1 \
    "... with SCRAM-SHA-1 and no -PLUS attempt"
xmppd_stop
prosody_stop
check "no sanitizer reports" no_sanitizer_reports
