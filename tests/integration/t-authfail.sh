#!/bin/sh
# t-authfail.sh: a rejected password parks the daemon in auth-failed with
# one clear log line and no retries; reauth with the right password brings
# it back; a pinned SCRAM strength refuses a weaker offer (downgrade).
set -eu
. "$top_srcdir/tests/integration/lib.sh"
need_xmppd
plan 13

state_is() { xmppd_ctl status 2>/dev/null | grep -Eq "^state +$1\$"; }
connects() { count_grep 'Client connected' "$PROSODY_DIR/prosody.log"; }

prosody_start || bail "prosody did not start"
prosody_adduser bot "$BOT_PASSWORD"
write_conf "$T/xmppd.conf" reconnect_min=1 reconnect_max=2
printf 'not-the-password\n' > "$T/password"
n0=$(connects)
xmppd_start "$T/xmppd.conf"
check "wrong password: auth-failed" wait_for 15 state_is auth-failed
check "STATUS tells the operator what to do" \
    wait_notify 2 '^STATUS=auth-failed: .*reauth'
like "$(xmppd_ctl status)" 'last_error +authentication failed \(not-authorized\)' \
    "status names the SASL condition"
is "$(count_grep 'not retrying until reauth' "$XMPPD_LOG")" 1 \
    "one clear log line"
n1=$(connects)
watch=${WRONGPW_SECONDS:-30}	# scripts/soak: 600
diag "watching for retries for $watch s (reconnect_max is 2 s)"
sleep "$watch"
is "$(connects)" "$n1" "no connection attempt in $watch s after the rejection"
is "$((n1 - n0))" 1 "exactly one attempt in all"
ok "$(state_is auth-failed && echo 0 || echo 1)" "still parked"

printf '%s\n' "$BOT_PASSWORD" > "$T/password"
check "reauth re-reads the password file and goes online" \
    xmppd_ctl -t 20 reauth
check "online on the server" wait_for 5 prosody_has_session "$BOT_JID"
is "$(cat "$T/state/sasl-pin.bot@$DOMAIN" 2>/dev/null)" "SCRAM-SHA-1" \
    "the SCRAM strength that worked is pinned"
xmppd_stop

# Pretend SCRAM-SHA-256 worked before: Prosody's SHA-1 offer is a downgrade.
printf 'SCRAM-SHA-256\n' > "$T/state/sasl-pin.bot@$DOMAIN"
xmppd_start "$T/xmppd.conf"
check "a weaker offer than the pin: auth-failed" wait_for 15 state_is auth-failed
like "$(xmppd_ctl status)" 'last_error +refusing SCRAM-SHA-1: SCRAM-SHA-256 worked .*downgrade' \
    "the error says why and what to do"
rm -f "$T/state/sasl-pin.bot@$DOMAIN"
check "after removing the pin, reauth goes online" xmppd_ctl -t 20 reauth
xmppd_stop
