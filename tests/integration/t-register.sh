#!/bin/sh
# t-register.sh: in-band registration (XEP-0077) driven by xmppd-ctl and by
# auto_register, against Prosody with registration open and closed.
set -eu
. "$top_srcdir/tests/integration/lib.sh"
need_xmppd
plan 17

state_is() { xmppd_ctl status 2>/dev/null | grep -Eq "^state +$1\$"; }

prosody_start || bail "prosody did not start"

# A fresh account: not known to the server, so first auth-failed.
write_conf "$T/new.conf" jid="newbot@$DOMAIN/r" reconnect_max=2
xmppd_start "$T/new.conf"
check "unknown account: auth-failed" wait_for 15 state_is auth-failed
out=$(xmppd_ctl -t 30 register 2>&1) && r=0 || r=$?
is "$r" 0 "register: exit 0"
like "$out" "registered newbot@$DOMAIN; online as newbot@$DOMAIN/r" \
    "register: says registered and online"
check "the account exists on the server" prosody_user_exists newbot
check "the session is on the server" \
    wait_for 5 prosody_has_session "newbot@$DOMAIN/r"

out=$(xmppd_ctl -t 30 register 2>&1) && r=0 || r=$?
is "$r" 1 "register again: exit 1"
like "$out" "already exists" "register again: conflict reported"
is "$(prosody_session_count newbot)" 1 "register again: still one session"
ok "$(state_is online && echo 0 || echo 1)" "register again: still online"

# Offline, then register: the stream is opened and secured first, the
# conflict is reported and the working password logs in.
xmppd_ctl disconnect >/dev/null
out=$(xmppd_ctl -t 30 register 2>&1) && r=0 || r=$?
is "$r" 1 "register while offline on an existing account: exit 1"
like "$out" "already exists; logged in with the configured password" \
    "... and logged in anyway"
check "... online" wait_for 5 state_is online
xmppd_stop

# auto_register: first start registers, the second finds it registered.
write_conf "$T/auto.conf" jid="autobot@$DOMAIN/a" auto_register=yes
xmppd_start "$T/auto.conf"
wait_notify 10 '^READY=1$' || :
check "auto_register: online" xmppd_ctl -t 20 wait-online
check "auto_register: account created" prosody_user_exists autobot
xmppd_stop
xmppd_start "$T/auto.conf"
wait_notify 10 '^READY=1$' || :
check "auto_register again: conflict treated as registered, online" \
    xmppd_ctl -t 20 wait-online
xmppd_stop

# Registration closed on the server.
prosody_stop
prosody_start --no-register || bail "prosody did not start"
write_conf "$T/closed.conf" jid="closedbot@$DOMAIN/c" reconnect_max=2
xmppd_start "$T/closed.conf"
wait_notify 10 '^READY=1$' || :
out=$(xmppd_ctl -t 30 register 2>&1) && r=0 || r=$?
is "$r" 1 "closed server: exit 1"
like "$out" "(registration is closed|does not offer in-band registration)" \
    "closed server: a clear reason"
xmppd_stop
