#!/bin/sh
# t-register.sh: in-band registration (XEP-0077) driven by xmppd-ctl and by
# auto_register, against Prosody with registration open and closed.
set -eu
. "$top_srcdir/tests/integration/lib.sh"
need_xmppd
plan 27

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

# What Prosody does not do: forms, CAPTCHAs, web pages (scripted server).
prosody_stop
reg_case() {	# SCENARIO WANT_EXIT ERE DESC
	badserver_start "$1"
	write_conf "$T/$1.conf" server="127.0.0.1:$BAD_PORT"
	xmppd_start "$T/$1.conf"
	wait_notify 10 '^READY=1$' || :
	wait_log 10 'state change .* -> online' || :
	out=$(xmppd_ctl -t 30 register 2>&1) && r=0 || r=$?
	is "$r" "$2" "$1: exit $2"
	like "$out" "$3" "$4"
	xmppd_stop >/dev/null || :
	badserver_stop
}
# Online already: register says so without touching the session.
reg_case register-form 1 'already exists: it is online' \
    "register while online: conflict, session untouched"
# From auth-failed the registration runs before SASL.
reg_form() {
	badserver_start register-form
	write_conf "$T/rf.conf" server="127.0.0.1:$BAD_PORT"
	printf 'wrong\n' > "$T/password"
	xmppd_start "$T/rf.conf"
	wait_log 10 'auth-failed' || :
	printf '%s\n' "$BOT_PASSWORD" > "$T/password"
	xmppd_ctl -t 20 reauth >/dev/null 2>&1 || :
	xmppd_ctl -t 10 disconnect >/dev/null 2>&1 || :
	out=$(xmppd_ctl -t 30 register 2>&1) && r=0 || r=$?
	is "$r" 0 "data form (XEP-0004): registered"
	check "data form: submitted with username and password" \
	    grep -q '^REGISTER-FORM bot password' "$BAD_LOG"
	xmppd_stop >/dev/null || :
	badserver_stop
}
reg_form
reg_off() {	# SCENARIO ERE DESC
	badserver_start "$1"
	write_conf "$T/$1.conf" server="127.0.0.1:$BAD_PORT"
	xmppd_start "$T/$1.conf"
	wait_notify 10 '^READY=1$' || :
	xmppd_ctl -t 10 disconnect >/dev/null 2>&1 || :
	out=$(xmppd_ctl -t 30 register 2>&1) && r=0 || r=$?
	is "$r" 1 "$1: exit 1"
	like "$out" "$2" "$3"
	xmppd_stop >/dev/null || :
	badserver_stop
}
reg_off register-oob 'registration on a web page: https://xmppd\.test/signup' \
    "out-of-band registration: the URL is reported"
reg_off register-captcha 'fields xmppd cannot fill \(ocr\).*https://xmppd\.test/captcha/1' \
    "CAPTCHA: the field and the URL are reported, not faked"
reg_off register-not-acceptable 'not-acceptable.*email' \
    "not-acceptable: the wanted fields are named"
