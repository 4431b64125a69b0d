#!/bin/sh
#
# t-ctl-client.sh: xmppd-ctl alone, against a scripted fake daemon.  The
# fake speaks the control protocol from a script file that each case
# rewrites, and logs the request lines it receives, so the client's
# output, exit status and requests are checked without xmppd or a server.
# Self-contained on purpose: it needs only sh and python3.

: "${top_builddir:=.}"
: "${top_srcdir:=.}"
CTL="$top_builddir/src/xmppd-ctl"

if ! command -v python3 >/dev/null 2>&1; then
	echo "1..0 # SKIP python3 not installed"
	exit 0
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/t-ctl-client.XXXXXX") || exit 1
fake_pid=
cleanup() {
	[ -n "$fake_pid" ] && kill "$fake_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

SOCK="$tmp/ctl.sock"
SCRIPT="$tmp/script"
LOG="$tmp/requests"

# Script lines are sent as they are, except "@read" (read one request
# line and log it), "@sleep SECONDS", "@hang" (wait for the client to
# close) and "@close".
cat >"$tmp/fake.py" <<'EOF'
import socket, sys, threading, time

path, script, log = sys.argv[1:4]
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
srv.listen(16)

def serve(conn):
    rf = conn.makefile("rb")
    try:
        with open(script) as f:
            lines = f.read().splitlines()
        for l in lines:
            if l == "@read":
                req = rf.readline()
                with open(log, "ab") as lg:
                    lg.write(req)
            elif l.startswith("@sleep "):
                time.sleep(float(l[7:]))
            elif l == "@hang":
                rf.read()
            elif l == "@close":
                break
            else:
                conn.sendall(l.encode() + b"\n")
    except OSError:
        pass
    finally:
        conn.close()

while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
EOF

python3 "$tmp/fake.py" "$SOCK" "$SCRIPT" "$LOG" &
fake_pid=$!
i=0
while [ ! -S "$SOCK" ] && [ $i -lt 100 ]; do
	sleep 0.05
	i=$((i + 1))
done

n=0
failed=0
echo "1..66"

ok() {
	n=$((n + 1))
	echo "ok $n - $1"
}

notok() {
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n - $1"
	for f in "$tmp/out" "$tmp/err"; do
		[ -s "$f" ] && sed "s/^/#   $(basename "$f"): /" "$f"
	done
}

check() {
	desc=$1
	shift
	if "$@"; then ok "$desc"; else notok "$desc"; fi
}

skip() {
	n=$((n + 1))
	echo "ok $n # SKIP $1"
}

script() {
	printf '%s\n' "$@" >"$SCRIPT"
	: >"$LOG"
}

# run [ARGS...]: xmppd-ctl against the fake; status in $rc.
run() {
	"$CTL" -s "$SOCK" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	rc=$?
}

is_json() {
	python3 -c 'import json, sys; json.load(sys.stdin)' <"$1"
}

is_json_lines() {
	python3 -c '
import json, sys
for l in sys.stdin:
    assert isinstance(json.loads(l), dict)' <"$1"
}

# jget FILE EXPR: evaluate EXPR on the JSON object j.
jget() {
	python3 -c "import json, sys; j = json.load(sys.stdin); print($2)" <"$1"
}

STATUS='- state online
- jid bot@example.org/xmppd
- server xmpp.example.org:5222
- tls TLSv1.3
- sasl SCRAM-SHA-256
- sm enabled
- since 1764134400
- last_error none yet
- reconnects 3'

# --- status, human and JSON ----------------------------------------------
script '* xmppd 1' @read "$STATUS" OK
run status
check "status exits 0" test "$rc" -eq 0
check "status sent one request line" test "$(cat "$LOG")" = status
check "status table aligned" grep -qx 'state       online' "$tmp/out"
check "status value with spaces" \
	grep -qx 'last_error  none yet' "$tmp/out"
check "status prints every key" test "$(wc -l <"$tmp/out")" -eq 9
check "status shows since as a date with its age" \
	grep -Eq '^since +2025-11-2[56] [0-9:]{8} \([0-9]+d ago\)$' "$tmp/out"

run -j status
check "status -j exits 0" test "$rc" -eq 0
check "status -j is valid JSON" is_json "$tmp/out"
check "status -j state" test "$(jget "$tmp/out" 'j["state"]')" = online
check "status -j reconnects is a number" \
	test "$(jget "$tmp/out" 'type(j["reconnects"]).__name__')" = int
check "status -j since is a number" \
	test "$(jget "$tmp/out" 'j["since"]')" = 1764134400
check "status -j last_error keeps spaces" \
	test "$(jget "$tmp/out" 'j["last_error"]')" = "none yet"

script '* xmppd 1' @read '- state offline' '- last_error "quoted" \ back' \
	'- reconnects 007' OK
run -j status
check "status -j quotes and backslashes stay valid JSON" is_json "$tmp/out"
check "status -j leading zeros stay a string" \
	test "$(jget "$tmp/out" 'j["reconnects"]')" = 007

# --- greeting ------------------------------------------------------------
script '* xmppd 2' @read OK
run status
check "version mismatch exits 3" test "$rc" -eq 3
check "version mismatch message" grep -q \
	'protocol version mismatch: daemon speaks 2, xmppd-ctl speaks 1' \
	"$tmp/err"
check "no request after a version mismatch" test ! -s "$LOG"

script 'SSH-2.0-OpenSSH_9.2' @hang
run -t 2 status
check "foreign socket exits 3" test "$rc" -eq 3

script '* xmppd 1 extra words' @read 'OK fine'
run status
check "greeting may grow words" test "$rc" -eq 0

# --- OK and ERR ----------------------------------------------------------
script '* xmppd 1' @read 'OK reconnected as bot@example.org/xmppd'
run reconnect
check "OK text printed" \
	test "$(cat "$tmp/out")" = "reconnected as bot@example.org/xmppd"
run -j reconnect
check "OK -j valid JSON" is_json "$tmp/out"
check "OK -j ok and message" test "$(jget "$tmp/out" \
	'[j["ok"], j["message"]]')" = "[True, 'reconnected as bot@example.org/xmppd']"

script '* xmppd 1' @read 'ERR failed no route to host'
run connect
check "ERR failed exits 1" test "$rc" -eq 1
check "ERR text on stderr" \
	grep -qx 'xmppd-ctl: no route to host' "$tmp/err"
run -j connect
check "ERR -j exits 1" test "$rc" -eq 1
check "ERR -j valid JSON with code" test "$(jget "$tmp/out" \
	'[j["ok"], j["code"], j["error"]]')" = \
	"[False, 'failed', 'no route to host']"

script '* xmppd 1' @read 'ERR usage usage: send JID TEXT'
run send a@b hi
check "ERR usage from the daemon exits 2" test "$rc" -eq 2
script '* xmppd 1' @read "ERR unknown unknown command 'send'"
run send a@b hi
check "ERR unknown from the daemon exits 2" test "$rc" -eq 2

script '* xmppd 1' @read '- state online'
run status
check "close before the final line exits 3" test "$rc" -eq 3

# --- requests on the wire ------------------------------------------------
script '* xmppd 1' @read @read 'OK 0123abcd'
run send friend@example.org 'hello   wide world'
check "send keeps the spaces of its text (as a {N} payload)" \
	test "$(cat "$LOG")" = "send friend@example.org {18}
hello   wide world"
check "send prints the id" test "$(cat "$tmp/out")" = 0123abcd
run send friend@example.org hello world
check "send joins words" test "$(tail -n 1 "$LOG")" = "hello world"
# Several recipients, options, a multi-line body from stdin, byte for byte.
printf 'l1\n\tl2 "q" \303\251\n' >"$tmp/body"
script '* xmppd 1' @read @read @read 'OK 0123abcd'
"$CTL" -s "$SOCK" send --type headline -t 5 a@b c@d <"$tmp/body" \
    >"$tmp/out" 2>"$tmp/err"
rc=$?
printf 'send --type headline a@b c@d {13}\nl1\n\tl2 "q" \303\251\n' \
    >"$tmp/want"
check "send: recipients, options and stdin body on the wire" \
	test "$rc" -eq 0 -a "$(od -c "$LOG")" = "$(od -c "$tmp/want")"
script '* xmppd 1' @read @read '- queued 0123abcd' \
	'ERR bounced 0123abcd bounced to a@b: service-unavailable'
run send --wait acked a@b hi
check "send --wait: bounce exits 1 with the condition" test "$rc" -eq 1 -a \
	"$(cat "$tmp/out")" = 0123abcd -a \
	"$(grep -c 'bounced to a@b: service-unavailable' "$tmp/err")" -eq 1
script '* xmppd 1' @read @read '- queued 0123abcd' @hang
run send --wait received -t 1 a@b hi
check "send --wait -t 1: timeout exits 4, the id printed first" \
	test "$rc" -eq 4 -a "$(cat "$tmp/out")" = 0123abcd
script '* xmppd 1' @read \
	"$(printf -- '- 0123abcd\tqueued\t1\t2\ta@b,c@d\tremote-server-timeout')" \
	OK
run -j queue
check "queue -j: valid JSON with the recipients" test "$(jget "$tmp/out" \
	'[j[0]["id"], j[0]["recipients"], j[0]["tries"], j[0]["error"]]')" = \
	"['0123abcd', ['a@b', 'c@d'], 2, 'remote-server-timeout']"
run presence dnd in a meeting
check "presence with text" test "$(tail -n 1 "$LOG")" = "presence dnd in a meeting"
run unregister --yes
check "unregister --yes sent" test "$(tail -n 1 "$LOG")" = "unregister --yes"
printf 'n3w pass\n' | "$CTL" -s "$SOCK" passwd >"$tmp/out" 2>"$tmp/err"
rc=$?
check "passwd reads stdin" test "$rc" -eq 0 -a \
	"$(tail -n 1 "$LOG")" = "passwd n3w pass"

# --- local usage errors: nothing reaches the daemon ----------------------
: >"$LOG"
run
check "no command exits 2" test "$rc" -eq 2
run frobnicate
check "unknown command exits 2" test "$rc" -eq 2 -a -s "$tmp/err"
run send a@b
check "send with an empty stdin exits 2" test "$rc" -eq 2
check "... and says the message is empty" \
	grep -qx 'xmppd-ctl: the message is empty' "$tmp/err"
run send --wait
check "send --wait without a value exits 2 with its usage" test "$rc" -eq 2 -a \
	"$(grep -c '^xmppd-ctl: usage: xmppd-ctl send ' "$tmp/err")" -eq 1
run presence busy
check "invalid SHOW exits 2" test "$rc" -eq 2
run unregister
check "unregister without --yes exits 2" test "$rc" -eq 2
check "unregister refusal message" \
	grep -q 'refusing to unregister without --yes' "$tmp/err"
run passwd secret
check "passwd refuses argv" test "$rc" -eq 2
"$CTL" -s "$SOCK" -i foo status >"$tmp/out" 2>"$tmp/err"
check "-s with -i exits 2" test $? -eq 2
"$CTL" -i ../x status >"$tmp/out" 2>"$tmp/err"
check "-i with a slash exits 2" test $? -eq 2
check "usage errors sent nothing" test ! -s "$LOG"
"$CTL" -h >"$tmp/out" 2>"$tmp/err"
check "-h exits 0 and lists commands" \
	test $? -eq 0 -a "$(grep -c '^  wait-online' "$tmp/out")" -eq 1

# --- unreachable ---------------------------------------------------------
"$CTL" -s "$tmp/none.sock" status >"$tmp/out" 2>"$tmp/err"
rc=$?
check "missing socket exits 3" test "$rc" -eq 3
check "missing socket hint" grep -q \
	"cannot reach xmppd at $tmp/none.sock: No such file or directory .* is xmppd running?" \
	"$tmp/err"
XMPPD_CTL_SOCKET="$tmp/env.sock" "$CTL" status >"$tmp/out" 2>"$tmp/err"
check "XMPPD_CTL_SOCKET is the default" grep -q "$tmp/env.sock" "$tmp/err"

script 'ERR denied not allowed'
run status
check "ERR denied exits 3" test "$rc" -eq 3
check "denied hint" grep -q "permission denied on $SOCK" "$tmp/err"

# Mode 0 stops everyone but root, so as root the client runs as nobody.
script '* xmppd 1' @read OK
chmod 0 "$SOCK"
if [ "$(id -u)" -ne 0 ]; then
	run status
	check "socket mode 0 exits 3" test "$rc" -eq 3 -a \
	    "$(grep -c 'permission denied' "$tmp/err")" -eq 1
elif command -v setpriv >/dev/null 2>&1 &&
    setpriv --reuid=65534 --regid=65534 --clear-groups "$CTL" -h \
    >/dev/null 2>&1; then
	chmod 755 "$tmp"
	setpriv --reuid=65534 --regid=65534 --clear-groups \
	    "$CTL" -s "$SOCK" status >"$tmp/out" 2>"$tmp/err"
	rc=$?
	check "socket mode 0 exits 3" test "$rc" -eq 3 -a \
	    "$(grep -c 'permission denied' "$tmp/err")" -eq 1
	chmod 700 "$tmp"
else
	skip "socket mode 0: root, and cannot run xmppd-ctl as nobody"
fi
chmod 600 "$SOCK"

# --- timeouts ------------------------------------------------------------
ms() { date +%s%3N; }
script '* xmppd 1' @read @hang
t0=$(ms)
run -t 1 status
t1=$(ms)
check "silent daemon with -t 1 exits 4" test "$rc" -eq 4
check "timeout within 2 s" test $((t1 - t0)) -lt 2000

script @hang
run -t 1 status
check "no greeting with -t 1 exits 4" test "$rc" -eq 4

script '* xmppd 1' @read @hang
run -t 1 wait-online
check "wait-online -t 1 exits 4" test "$rc" -eq 4 -a \
	"$(grep -c 'timed out after 1 s waiting for online' "$tmp/err")" -eq 1

# --- events --------------------------------------------------------------
script '* xmppd 1' @read OK \
	'- {"event":"state","state":"online","previous":"binding","time":1}' \
	'@sleep 3' \
	'- {"event":"message","from":"a@b/c","type":"chat","body":"hi","time":2}'
"$CTL" -s "$SOCK" events >"$tmp/out" 2>"$tmp/err" &
ev_pid=$!
sleep 1.5
check "first event printed before the stream ends" \
	test "$(wc -l <"$tmp/out")" -eq 1
wait "$ev_pid"
rc=$?
check "events lines are JSON objects" is_json_lines "$tmp/out"
check "end of the event stream exits 3" test "$rc" -eq 3 -a \
	"$(wc -l <"$tmp/out")" -eq 2

# The control client starts fast because it links no more than it needs.
check "xmppd-ctl links neither libsystemd, OpenSSL nor libevent" \
	sh -c "! ldd '$CTL' | grep -E 'lib(systemd|crypto|ssl|event)'"

[ "$n" -eq 60 ] || echo "# ran $n tests, planned 60"
[ "$failed" -eq 0 ]
