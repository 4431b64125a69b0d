#!/bin/sh
# t-ctl-input.sh: what xmppd-ctl and the control socket accept, against a
# real xmppd and Prosody: wait-online started before the daemon waits for
# its socket (issue 11 item 2); text XML forbids is refused by the client
# and by the daemon, with its position (issue 10 item 2); a padded
# presence status loses its blanks at both ends (issue 11 item 10).
set -eu
. "$top_srcdir/tests/integration/lib.sh"
need_xmppd
plan 14

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

# No daemon at all: -t bounds the wait for the socket, exit 4.
t0=$(_now_ms)
out=$(timeout 20 "$XMPPD_CTL" -s "$T/none.sock" -t 1 wait-online 2>&1) \
    && r=0 || r=$?
t1=$(_now_ms)
is "$r" 4 "wait-online -t 1 without a daemon: timed out (exit 4)"
like "$out" "waiting for the socket $T/none.sock" "... saying what it waited for"
ok "$([ $((t1 - t0)) -ge 900 ] && [ $((t1 - t0)) -lt 5000 ] && echo 0 || echo 1)" \
    "... after about 1 s ($((t1 - t0)) ms)"

prosody_start || bail "prosody did not start"
prosody_adduser bot "$BOT_PASSWORD"
prosody_adduser watcher watchpw
write_conf "$T/xmppd.conf"

# Started before the daemon: it waits for the socket, then for online.
timeout 60 "$XMPPD_CTL" -s "$XMPPD_SOCK" -t 30 wait-online \
    >"$T/wait1.out" 2>&1 &
w1=$!
# Without -t too (bounded by its own default for the socket).
timeout 60 "$XMPPD_CTL" -s "$XMPPD_SOCK" wait-online >"$T/wait2.out" 2>&1 &
w2=$!
sleep 1
pid_alive "$w1" && r=0 || r=1
ok "$r" "wait-online before the socket exists: still waiting after 1 s"
xmppd_start "$T/xmppd.conf"
wait "$w1" && r=0 || r=$?
is "$r" 0 "wait-online -t 30 started first: online once the daemon is"
wait "$w2" && r=0 || r=$?
is "$r" 0 "wait-online without -t started first: online too"
[ "$r" -eq 0 ] || diag "$(cat "$T/wait1.out" "$T/wait2.out")"

# U+FFFE: the client refuses it before connecting (usage, exit 2) ...
fffe=$(printf 'away\357\277\276')
out=$(xmppd_ctl presence away "$fffe" 2>&1) && r=0 || r=$?
is "$r" 2 "xmppd-ctl presence with U+FFFE: exit 2"
like "$out" 'character U\+FFFE at byte 18 is not allowed in XML' \
    "... naming the character and its position"
out=$(xmppd_ctl send "watcher@$DOMAIN" "$(printf 'x\357\277\277')" 2>&1) \
    && r=0 || r=$?
is "$r" 2 "xmppd-ctl send with U+FFFF: exit 2"
# ... and so does the daemon, whatever the client.
out=$(raw 'presence away x\xef\xbf\xbe\n')
like "$out" '^ERR encoding character U\+FFFE at byte 15 is not allowed in XML' \
    "the daemon refuses U+FFFE on the socket"
check "still online after the refusals" xmppd_ctl -t 5 wait-online

# A padded status: blanks stripped at both ends, inner ones kept.
check "presence chat with a padded status" \
    xmppd_ctl presence chat "  padded  status  "
out=$(xmpp_client --user watcher --password watchpw --resource w \
    --subscribe "bot@$DOMAIN" --expect-presence "bot@$DOMAIN" --timeout 15 \
    2>&1) && r=0 || r=$?
like "$out" "PRESENCE bot@$DOMAIN/test available chat padded  status\$" \
    "the contact sees the status without its outer blanks"
check "no sanitizer reports" no_sanitizer_reports
