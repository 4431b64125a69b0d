#!/bin/sh
# t-ctl.sh: the control socket under load and abuse, and every command
# that changes the connection, from every state.
set -eu
. "$top_srcdir/tests/integration/lib.sh"
need_xmppd
plan 58

state_is() { xmppd_ctl status 2>/dev/null | grep -Eq "^state +$1\$"; }
fds() { ls "/proc/$XMPPD_PID/fd" | wc -l; }
raw() {	# send raw bytes (printf format) to the socket, print the replies
	python3 - "$XMPPD_SOCK" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode('latin-1').decode('unicode_escape').encode('latin-1'))
out = b''
try:
    while not out.count(b'\n') >= 2:
        d = s.recv(65536)
        if not d:
            break
        out += d
except socket.timeout:
    pass
sys.stdout.write(out.decode('utf-8', 'replace'))
PY
}

prosody_start || bail "prosody did not start"
prosody_adduser bot "$BOT_PASSWORD"
write_conf "$T/xmppd.conf" reconnect_min=1 reconnect_max=2
xmppd_start "$T/xmppd.conf"
wait_notify 10 '^READY=1$' || bail "xmppd did not start"
check "online" xmppd_ctl -t 20 wait-online
ls -l "$XMPPD_SOCK" | grep -q '^srw-rw----' && r=0 || r=$?
ok "$r" "the socket has mode 0660"

# A second daemon on the same socket refuses to start.
out=$(timeout 10 "$XMPPD" -d -f "$T/xmppd.conf" 2>&1) && r=0 || r=$?
is "$r" 1 "a second daemon on the same socket: exit 1"
like "$out" 'another xmppd is already running on' "... with a clear error"
check "the first one still answers" xmppd_ctl status

# A stale socket left by a crash is replaced.
xmppd_kill
test -S "$XMPPD_SOCK" && r=0 || r=$?
ok "$r" "SIGKILL leaves the socket file behind"
xmppd_start "$T/xmppd.conf"
wait_notify 10 '^READY=1$' || :
check "a new daemon replaces the stale socket" xmppd_ctl -t 20 wait-online

# --- events and reconnect from online ----------------------------------------
xmppd_ctl events > "$T/events.out" 2>&1 &
track_pid events $!
sleep 0.3
check "reconnect from online" xmppd_ctl -t 20 reconnect
check "events: offline, then resolving ... online" wait_grep 5 \
    '"state":"online","previous":"binding"' "$T/events.out"
like "$(cat "$T/events.out")" '"state":"resolving"' "events: resolving seen"
is "$(prosody_session_count bot)" 1 "one session after reconnect"

# --- twenty reconnects at once -------------------------------------------------
i=0
while [ $i -lt 20 ]; do
	xmppd_ctl -t 60 reconnect > "$T/rc.$i" 2>&1 &
	i=$((i + 1))
done
wait_for 60 sh -c "! pgrep -f 'xmppd-ctl -s $XMPPD_SOCK -t 60 reconnect' >/dev/null" || :
bad=0
for f in "$T"/rc.*; do grep -q '^online as' "$f" || bad=$((bad + 1)); done
is "$bad" 0 "twenty concurrent reconnects: all answered online"
unlike "$(cat "$T"/rc.*)" 'already' "none answered 'already connected'"
is "$(prosody_session_count bot)" 1 "exactly one session on the server"
sleep 1
is "$(prosody_session_count bot)" 1 "still exactly one session a second later"

# A client that goes away mid-command changes nothing else.
"$XMPPD_CTL" -s "$XMPPD_SOCK" -t 20 reconnect >/dev/null 2>&1 &
gone=$!
sleep 0.05
kill "$gone" 2>/dev/null || :
wait "$gone" 2>/dev/null || :
check "client killed mid-reconnect: the reconnect completes" \
    xmppd_ctl -t 20 wait-online
is "$(prosody_session_count bot)" 1 "... with one session"

# --- offline ------------------------------------------------------------------
check "disconnect" xmppd_ctl -t 10 disconnect
check_fail "offline on the server" wait_for 3 prosody_has_session "$BOT_JID"
ok "$(state_is offline && echo 0 || echo 1)" "state offline, daemon running"
out=$(xmppd_ctl send "$BOT_JID" "into the outbox" 2>&1) && r=0 || r=$?
is "$r" 0 "send while offline: accepted into the outbox (exit 0)"
like "$out" '^[0-9a-f]{24}$' "... and its id printed"
like "$(xmppd_ctl queue)" "^$out +queued " "... and listed by queue, queued"
check "presence while offline: kept for the next connect" \
    xmppd_ctl presence dnd "back soon"
check "reconnect from offline" xmppd_ctl -t 20 reconnect
like "$(xmppd_ctl status)" '^presence +dnd$' "... and the queued presence is in force"
check "connect when online answers online" xmppd_ctl -t 10 connect

# --- waiting --------------------------------------------------------------------
prosody_stop
check "server gone: waiting" wait_for 10 state_is waiting
out=$(xmppd_ctl -t 20 reconnect 2>&1) && r=0 || r=$?
is "$r" 1 "reconnect while the server is down: exit 1"
like "$out" 'not online: ' "... with the reason"
prosody_start || bail "prosody did not start"
check "reconnect from waiting skips the backoff" xmppd_ctl -t 20 reconnect

# --- connecting ------------------------------------------------------------------
check "reconnect issued mid-connect" sh -c "
	'$XMPPD_CTL' -s '$XMPPD_SOCK' -t 20 reconnect >/dev/null &
	sleep 0.02
	'$XMPPD_CTL' -s '$XMPPD_SOCK' -t 20 reconnect"
is "$(prosody_session_count bot)" 1 "... ends with one session"

# --- auth-failed, passwd, reauth -------------------------------------------------
printf 'wrong\n' > "$T/password"
out=$(xmppd_ctl -t 20 reauth 2>&1) && r=0 || r=$?
is "$r" 1 "reauth with a wrong password: exit 1"
check "auth-failed" state_is auth-failed
out=$(xmppd_ctl -t 20 reconnect 2>&1) && r=0 || r=$?
is "$r" 1 "reconnect from auth-failed (still wrong): exit 1, not stuck"
printf '%s\n' "$BOT_PASSWORD" > "$T/password"
check "reauth leaves auth-failed" xmppd_ctl -t 20 reauth
out=$(printf 'n3w-secret\n' | xmppd_ctl -t 20 passwd 2>&1) && r=0 || r=$?
is "$r" 0 "passwd: exit 0"
like "$out" "store it in $T/password" "passwd: says where to store it"
check "the server accepts the new password" \
    xmpp_client --user bot --password n3w-secret --resource pw --no-presence
printf 'n3w-secret\n' > "$T/password"
check "reauth with the new password: online" xmppd_ctl -t 20 reauth

# --- control socket abuse ---------------------------------------------------------
like "$(raw 'frobnicate\n')" '^ERR unknown ' "unknown command: ERR unknown"
like "$(raw 'send onlyjid\n')" '^ERR usage ' "bad arguments: ERR usage"
like "$(raw 'status \377\376\n')" '^ERR encoding ' "invalid UTF-8: ERR encoding"
like "$(raw "send --type normal $BOT_JID {8}\\nline\\nend\\n")" '^OK [0-9a-f]{24}$' \
    "a {N} payload with a newline: OK and the id"
like "$(raw "send $BOT_JID {3}\\nabcd\\nstatus\\n")" \
    '^ERR usage payload not followed by a newline' \
    "a payload of the wrong length: ERR usage"
unlike "$(raw "send $BOT_JID {3}\\nabcd\\nstatus\\n")" 'state' \
    "... and the connection is closed (status not answered)"
like "$(raw "send $BOT_JID {999999}\\n")" '^ERR too-long ' \
    "a payload over 256 KiB: ERR too-long"
long=$(head -c 5000 /dev/zero | tr '\0' a)
like "$(raw "$long\\n")" '^ERR too-long ' "a 5000-byte line: ERR too-long"
# A client that sends requests and never reads is dropped, not buffered.
python3 - "$XMPPD_SOCK" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.setblocking(False)
end = time.time() + 5
try:
    while time.time() < end:
        s.send(b"help\n" * 100)
except OSError:
    pass
time.sleep(1)
PY
NR=$!
sleep 2
check "a client that never reads does not stall the daemon" xmppd_ctl -t 5 status
wait $NR 2>/dev/null || :

# --- 200 concurrent clients and fd hygiene ------------------------------------------
sleep 0.5
before=$(fds)
i=0
while [ $i -lt 200 ]; do
	xmppd_ctl -t 30 status > "$T/st.$i" 2>&1 &
	i=$((i + 1))
done
wait_for 60 sh -c "! pgrep -f 'xmppd-ctl -s $XMPPD_SOCK -t 30 status' >/dev/null" || :
bad=0
for f in "$T"/st.*; do grep -q '^state' "$f" || bad=$((bad + 1)); done
is "$bad" 0 "200 concurrent status clients: all answered"
sleep 0.5
is "$(fds)" "$before" "open fds unchanged ($before)"

# --- peer credentials ----------------------------------------------------------------
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	chmod 0666 "$XMPPD_SOCK"	# only the credential check stands
	out=$(setpriv --reuid=65534 --regid=65534 --clear-groups \
	    "$XMPPD_CTL" -s "$XMPPD_SOCK" status 2>&1) && r=0 || r=$?
	is "$r" 3 "another uid: refused (exit 3)"
	like "$out" 'permission denied' "... with a clear message"
	chmod 0660 "$XMPPD_SOCK"
else
	skip "another uid: refused" "needs root and setpriv"
	skip "... with a clear message" "needs root and setpriv"
fi

# --- unregister ----------------------------------------------------------------------
check_status 2 "unregister without --yes: usage error" xmppd_ctl unregister
check "unregister --yes" xmppd_ctl -t 20 unregister --yes
check_fail "the account is gone from the server" prosody_user_exists bot
xmppd_stop
check "no sanitizer reports" no_sanitizer_reports
