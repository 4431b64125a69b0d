#!/bin/sh
# t-harness.sh: the integration harness itself works, without xmppd: real
# Prosody in both profiles, accounts, a real client session seen by
# prosody_sessions, XEP-0198 hibernation, restarts, the notify sink, the
# misbehaving server and write_conf.
set -eu
. "$top_srcdir/tests/integration/lib.sh"

command -v prosody >/dev/null 2>&1 || skip_all "prosody is not installed"
command -v python3 >/dev/null 2>&1 || skip_all "python3 is not installed"

plan 95

# --- generic helpers --------------------------------------------------------
p=$(free_port)
like "$p" '^[0-9]+$' "free_port prints a port number"
check_fail "nothing listens on the free port" port_open "$p"
start=$(_now_ms)
check_fail "wait_for gives up" wait_for 0.5 false
elapsed=$(( $(_now_ms) - start ))
ok "$([ "$elapsed" -ge 400 ] && [ "$elapsed" -lt 3000 ]; echo $?)" \
    "wait_for 0.5 took about half a second (${elapsed} ms)"
check "wait_for succeeds at once" wait_for 1 true
check "wait_for_not succeeds when the command fails" wait_for_not 1 false

# --- certificates -----------------------------------------------------------
check "make_certs" make_certs
check "server cert verifies for $DOMAIN" \
    openssl verify -CAfile "$T/certs/ca.pem" -verify_hostname "$DOMAIN" \
    "$T/certs/server.pem"
check_fail "wrong cert does not verify for $DOMAIN" \
    openssl verify -CAfile "$T/certs/ca.pem" -verify_hostname "$DOMAIN" \
    "$T/certs/wrong.pem"
check "wrong cert verifies for wrong.test" \
    openssl verify -CAfile "$T/certs/ca.pem" -verify_hostname wrong.test \
    "$T/certs/wrong.pem"

# --- prosody, registration open ---------------------------------------------
check "prosody_start" prosody_start
like "$PROSODY_PORT $PROSODY_TLS_PORT" '^[0-9]+ [0-9]+$' "ports are set"
isnt "$PROSODY_PORT" "$PROSODY_TLS_PORT" "STARTTLS and direct TLS ports differ"
check "prosody_running" prosody_running
is "$(prosody_pid)" "$PROSODY_PID" "prosody_pid"
first_pid=$PROSODY_PID

check "prosody_adduser bot" prosody_adduser bot secret
check "prosody_user_exists bot" prosody_user_exists bot
check_fail "prosody_user_exists nobody" prosody_user_exists nobody
check_fail "adding bot again fails" prosody_adduser bot other

out=$(xmpp_client --user bot --password secret --resource once) && r=0 || r=$?
ok "$r" "STARTTLS + SCRAM-SHA-1 login"
like "$out" '^TLS TLSv1\.[23] ' "TLS was negotiated"
like "$out" '^BOUND bot@xmppd\.test/once$' "resource bound"
like "$out" '^FEATURES .*\bsm\b' "stream management (mod_smacks) is offered"

out=$(xmpp_client --tls direct --port "$PROSODY_TLS_PORT" --mech PLAIN \
    --user bot --password secret) && r=0 || r=$?
ok "$r" "direct TLS (XEP-0368) + PLAIN login"

out=$(xmpp_client --user bot --password wrong) && r=0 || r=$?
ok "$([ "$r" -ne 0 ]; echo $?)" "a wrong password is refused"
like "$out" 'not-authorized' "... with not-authorized"

xmpp_client_bg held --user bot --password secret --resource held --hold 60 \
    --ready-file "$T/held.ready"
held_pid=$CLIENT_PID
check "background client online" wait_file 10 "$T/held.ready"
is "$(prosody_sessions)" "bot@xmppd.test/held" "prosody_sessions lists it"
is "$(prosody_session_count bot)" 1 "prosody_session_count bot = 1"
is "$(prosody_session_count nobody)" 0 "prosody_session_count nobody = 0"
check "prosody_has_session (bare)" prosody_has_session bot
check "prosody_has_session (full)" prosody_has_session bot@xmppd.test/held

out=$(xmpp_client --user bot --password secret --resource sm --sm --abort) &&
    r=0 || r=$?
ok "$r" "client with XEP-0198 resumption, connection dropped"
hibernating() {
	prosody_sessions_verbose |
		grep -qx "$1 secure=true smacks=true hibernating=true"
}
check "the dropped session hibernates" wait_for 5 hibernating bot@xmppd.test/sm
is "$(prosody_session_count bot)" 2 "two sessions (one hibernating)"

check "prosody_kick with a stream error" prosody_kick bot@xmppd.test/held conflict
check "the client saw <conflict/>" wait_grep 5 '^STREAM-ERROR conflict' \
    "$T/client-held.out"
check_fail "... and exited with an error" stop_pid "$held_pid" 5

out=$(xmpp_client --user alice --password pw --register-only) && r=0 || r=$?
ok "$r" "in-band registration is open"
like "$out" '^REGISTERED alice$' "... alice registered"
out=$(xmpp_client --user alice --password pw --register-only) && r=0 || r=$?
like "$out" '^REGISTER-ERROR conflict' "registering alice again: conflict"

check "prosody_passwd" prosody_passwd alice pw2
check "new password works" xmpp_client --user alice --password pw2
check "prosody_deluser" prosody_deluser alice
check_fail "alice is gone" prosody_user_exists alice

# --- restart, same ports, data kept ------------------------------------------
port=$PROSODY_PORT
check "prosody_restart" prosody_restart
is "$PROSODY_PORT" "$port" "same port after restart"
isnt "$PROSODY_PID" "$first_pid" "new pid after restart"
is "$(prosody_session_count bot)" 0 "no sessions after restart"
check "bot can still log in" xmpp_client --user bot --password secret

# --- registration closed, wrong certificate ---------------------------------
prosody_stop
check_fail "prosody_stop: port closed" port_open "$port"
check "prosody_start --no-register --wrong-cert (same ports)" \
    prosody_start --no-register --wrong-cert
out=$(xmpp_client --user carol --password pw --register-only) && r=0 || r=$?
like "$out" '^(REGISTER-ERROR|FAIL .*certificate)' \
    "no registration / certificate refused"
out=$(xmpp_client --user bot --password secret) && r=0 || r=$?
like "$out" 'CERTIFICATE_VERIFY_FAILED|certificate verify failed' \
    "STARTTLS: the wrong.test certificate is refused"
out=$(xmpp_client --tls direct --port "$PROSODY_TLS_PORT" --user bot \
    --password secret) && r=0 || r=$?
like "$out" 'CERTIFICATE_VERIFY_FAILED|certificate verify failed' \
    "direct TLS: the wrong.test certificate is refused"
prosody_stop
prosody_start --no-register
out=$(xmpp_client --user carol --password pw --register-only) && r=0 || r=$?
like "$out" '^REGISTER-ERROR not-offered' "registration closed: not offered"
prosody_stop
prosody_start --tls12
out=$(xmpp_client --user bot --password secret) && r=0 || r=$?
like "$out" '^TLS TLSv1\.2 ' "prosody_start --tls12: TLS 1.2"
like "$out" '^MECHANISMS .*SCRAM-SHA-1-PLUS' "... offers SCRAM-SHA-1-PLUS (tls-unique)"
prosody_kill
check_fail "prosody_kill: gone" prosody_running

# --- badserver -------------------------------------------------------------------
check "badserver_start ok" badserver_start ok --max-seconds 60
check "SCRAM-SHA-1 against badserver (its v= verified by the client)" \
    xmpp_client --port "$BAD_PORT" --user bot --password secret --ping "$DOMAIN"
check "badserver logged the login" grep -q '^AUTH-OK SCRAM-SHA-1 bot' "$BAD_LOG"
check "badserver answered the ping" grep -q '^PING-ANSWERED' "$BAD_LOG"
check "badserver PLAIN" \
    xmpp_client --port "$BAD_PORT" --mech PLAIN --user bot --password secret
check_fail "badserver refuses a wrong SCRAM proof" \
    xmpp_client --port "$BAD_PORT" --user bot --password wrong
is "$(badserver_connects)" 3 "badserver_connects counts connections"
badserver_stop
check "badserver_start ok --tls direct" badserver_start ok --tls direct
check "direct TLS against badserver" \
    xmpp_client --tls direct --port "$BAD_PORT" --user bot --password secret
badserver_stop
badserver_start bad-signature
out=$(xmpp_client --port "$BAD_PORT" --user bot --password secret) && r=0 || r=$?
like "$out" 'FAIL SCRAM: bad server signature' "bad-signature caught by a strict client"
badserver_stop
badserver_start see-other-host --redirect-port "$port"
out=$(xmpp_client --port "$BAD_PORT" --user bot --password secret) && r=0 || r=$?
like "$out" '^STREAM-ERROR see-other-host' "see-other-host scenario"
check "... pointing at the redirect port" grep -q "^REDIRECT 127.0.0.1:$port" "$BAD_LOG"
badserver_stop

# --- write_conf -------------------------------------------------------------------
write_conf "$T/a.conf"
conf=$(cat "$T/a.conf")
like "$conf" '^jid = bot@xmppd\.test/test$' "write_conf: base jid"
like "$conf" "^password_file = $T/password\$" "write_conf: base password_file"
like "$conf" "^server = 127\\.0\\.0\\.1:$port\$" "write_conf: server is prosody"
like "$conf" "^control_socket = $T/xmppd\\.sock\$" "write_conf: control socket"
is "$(stat -c %a "$T/password")" 600 "password file is 0600"
is "$(cat "$T/password")" secret "password file content"
write_conf "$T/b.conf" password=hunter2 ping_interval=5 tls= log_level=debug \
    ping_interval=7
conf=$(cat "$T/b.conf")
like "$conf" '^password = hunter2$' "write_conf: password override"
unlike "$conf" '^password_file' "... drops password_file"
like "$conf" '^ping_interval = 7$' "... last value wins"
is "$(grep -c '^ping_interval' "$T/b.conf")" 1 "... once"
unlike "$conf" '^tls' "... KEY= removes a key"
like "$conf" '^log_level = debug$' "... new keys appended"

# --- the harness's own exit handling ------------------------------------------------
lib=$top_srcdir/tests/integration/lib.sh
nested=$(XMPPD_REQUIRE_ALL=0 sh -c 'set -eu; . "$1"
	plan 1
	sleep 300 >/dev/null 2>&1 &
	track_pid sleeper $!
	echo "SLEEPER $!"
	echo "TDIR $T"
	fail deliberate' sh "$lib" 2>&1) && r=0 || r=$?
ok "$([ "$r" -ne 0 ]; echo $?)" "a failing test exits non-zero"
sleeper=$(printf '%s\n' "$nested" | sed -n 's/^SLEEPER //p')
tdir=$(printf '%s\n' "$nested" | sed -n 's/^TDIR //p')
check_fail "its background processes were stopped" pid_alive "$sleeper"
check "its work directory was kept" test -d "$tdir"
like "$nested" "^# keeping work directory $tdir" "... and named"
[ -n "$tdir" ] && [ -d "$tdir" ] && rm -rf "$tdir"
nested=$(XMPPD_REQUIRE_ALL=0 sh -c 'set -eu; . "$1"; echo "TDIR $T"; pass fine' \
    sh "$lib" 2>&1) && r=0 || r=$?
tdir=$(printf '%s\n' "$nested" | sed -n 's/^TDIR //p')
ok "$r" "a passing test exits 0"
check_fail "... and removes its work directory" test -e "$tdir"
like "$nested" '^1\.\.1$' "... and prints the plan at the end"
nested=$(XMPPD_REQUIRE_ALL=0 sh -c '. "$1"; skip_all "no reason"' sh "$lib" 2>&1) &&
    r=0 || r=$?
is "$r:$nested" "0:1..0 # SKIP no reason" "skip_all skips"
nested=$(XMPPD_REQUIRE_ALL=1 sh -c '. "$1"; echo "TDIR $T"; skip_all "no reason"' \
    sh "$lib" 2>&1) && r=0 || r=$?
tdir=$(printf '%s\n' "$nested" | sed -n 's/^TDIR //p')
like "$r:$(printf '%s\n' "$nested" | sed -n 2p)" '^1:Bail out! no reason' \
    "skip_all bails under XMPPD_REQUIRE_ALL=1"
[ -n "$tdir" ] && [ -d "$tdir" ] && rm -rf "$tdir"

# --- notify sink ---------------------------------------------------------------
if [ -x "$NOTIFY_SINK" ]; then
	notify_sink_start
	python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.sendto(b"READY=1\nSTATUS=online as bot@xmppd.test/test", sys.argv[1])
s.sendto(b"WATCHDOG=1\n", sys.argv[1])' "$NOTIFY_SOCKET_PATH"
	check "notify sink records assignments" wait_notify 5 '^WATCHDOG=1$'
	is "$(cat "$NOTIFY_OUT")" "READY=1
STATUS=online as bot@xmppd.test/test
WATCHDOG=1" "one line per assignment"
	stop_pid "$NOTIFY_PID" 5 && r=0 || r=$?
	ok "$r" "notify sink exits 0 on SIGTERM"
else
	skip "notify sink records assignments" "$NOTIFY_SINK not built"
	skip "one line per assignment" "$NOTIFY_SINK not built"
	skip "notify sink exits 0 on SIGTERM" "$NOTIFY_SINK not built"
fi

done_testing
