#!/bin/sh
# t-outbox.sh: the durable outbox against a real Prosody.  Messages sent
# while offline arrive later; a SIGKILL right after send loses nothing
# (same id after the restart); a 60 KiB body arrives byte for byte; 2000
# messages queued while the server is down all arrive, in order, once, at
# the configured rate; --wait acked and --wait received; a bounce; a full
# spool refuses and loses nothing; a damaged spool file is set aside.
set -eu
. "$top_srcdir/tests/integration/lib.sh"
need_xmppd
plan 60

N=${OUTBOX_N:-2000}
RATE=200

prosody_start || bail "prosody did not start"
prosody_adduser bot "$BOT_PASSWORD"
prosody_adduser watcher watchpw
W="watcher@$DOMAIN"
SPOOL=$T/new/parents/state/outbox

# watcher NAME ARGS...: a receiving client in the background, dumping
# messages to $T/NAME.json; waits until the server lists its session.
watcher() {
	local _n
	_n=$1; shift
	rm -f "$T/$_n.json"
	xmpp_client_bg "$_n" --user watcher --password watchpw --resource "$_n" \
	    --dump "$T/$_n.json" "$@"
	wait_for 10 prosody_has_session "$W/$_n" || diag "watcher $_n not online"
}

# bodies NAME: the bodies received by watcher NAME, one per line.
bodies() {
	python3 -c 'import json, sys
for l in open(sys.argv[1]):
    print(json.loads(l)["body"])' "$T/$1.json" 2>/dev/null
}

# origin NAME BODY: the origin-id of the message with that body.
origin() {
	python3 -c 'import json, sys
for l in open(sys.argv[1]):
    j = json.loads(l)
    if j["body"] == sys.argv[2]: print(j["origin"])' "$T/$1.json" "$2" 2>/dev/null |
	    head -n 1
}

# start CONF: xmppd with CONF, ready, and an event stream in $T/events.out
# (the previous one kept as events.out.N).
_ev=0
start() {
	xmppd_start "$@"
	wait_notify 15 '^READY=1$' || diag "xmppd not ready"
	_ev=$((_ev + 1))
	[ -e "$T/events.out" ] && mv "$T/events.out" "$T/events.out.$_ev"
	xmppd_ctl -t 600 events >"$T/events.out" 2>&1 &
	track_pid "events-$_ev" $!
	wait_for 5 test -s "$T/events.out" || :
}

# state_dir's parents need not exist (an uninstalled build run by hand).
write_conf "$T/xmppd.conf" outbox_rate=$RATE outbox_burst=10 \
    state_dir="$T/new/parents/state"
start "$T/xmppd.conf"
check "online" xmppd_ctl -t 30 wait-online
check "the spool is made with its parents" test -d "$T/new/parents/state/outbox"

# --- sent while offline arrives once the server is back ----------------
prosody_stop
check "the daemon notices the server is gone" \
    wait_for 20 sh -c "'$XMPPD_CTL' -s '$XMPPD_SOCK' status | grep -Eq '^state +(waiting|connecting|resolving|offline)'"
id=$(xmppd_ctl send "$W" "written while the server was down") && r=0 || r=$?
is "$r" 0 "send while the server is down: accepted"
like "$(xmppd_ctl queue)" "^$id +queued " "queue lists it as queued"
ls "$SPOOL"/*.msg >/dev/null 2>&1 && r=0 || r=1
ok "$r" "... and it is on disk"
_prosody_launch || bail "prosody did not come back"
watcher back --hold 150 --timeout 155
check "online again" xmppd_ctl -t 30 wait-online
check "the message arrives once the server is back" \
    wait_grep 20 'MESSAGE .*written while the server was down' "$T/client-back.out"
is "$(origin back 'written while the server was down')" "$id" \
    "with the id of send as its origin-id"
check "the spool is empty once it is acked" \
    wait_for 10 sh -c "! ls '$SPOOL'/*.msg >/dev/null 2>&1"
check "events: queued, sent and acked" \
    wait_grep 5 "\"event\":\"outbox\",\"id\":\"$id\".*\"state\":\"acked\"" \
    "$T/events.out"

# --- SIGKILL right after send returned ------------------------------------
check "disconnect" xmppd_ctl -t 20 disconnect
id=$(xmppd_ctl send "$W" "survives a SIGKILL") && r=0 || r=$?
is "$r" 0 "send accepted"
xmppd_kill
start "$T/xmppd.conf" -v
check "restarted and online" xmppd_ctl -t 30 wait-online
check "the message arrives after the restart" \
    wait_grep 20 'MESSAGE .*survives a SIGKILL' "$T/client-back.out"
is "$(origin back 'survives a SIGKILL')" "$id" "with the same id"

# --- group commit: pipelined and concurrent sends, SIGKILL after replies ---
check "disconnect" xmppd_ctl -t 20 disconnect
seq 1 300 | sed 's/^/batch /' >"$T/batch.txt"
"$XMPPD_CTL" -s "$XMPPD_SOCK" -t 60 send --lines "$W" <"$T/batch.txt" \
    >"$T/batch.ids" 2>&1 &
bp=$!
for k in 1 2 3 4 5 6; do
	"$XMPPD_CTL" -s "$XMPPD_SOCK" -t 60 send "$W" "concurrent $k" \
	    >"$T/conc.$k" 2>&1 &
	eval "cp$k=\$!"
done
wait "$bp" && r=0 || r=$?
is "$r" 0 "send --lines of 300 lines: exit 0"
is "$(grep -cE '^[0-9a-f]{24}$' "$T/batch.ids")" 300 "... one id per line"
r=0
for k in 1 2 3 4 5 6; do
	eval "wait \$cp$k" || r=1
done
is "$r" 0 "six concurrent sends: exit 0"
check "one directory sync made several messages durable" \
    wait_log 5 'outbox: [0-9]+ messages made durable by one directory sync'
xmppd_kill
start "$T/xmppd.conf"
check "online after the SIGKILL" xmppd_ctl -t 30 wait-online
check "all 300 of the batch arrive after the restart" wait_for 40 sh -c \
    "test \$(grep -oE 'MESSAGE .*batch [0-9]+\$' '$T/client-back.out' | sort -u | wc -l) -ge 300"
check "the six concurrent ones too" wait_for 20 sh -c \
    "test \$(grep -oE 'MESSAGE .*concurrent [1-6]\$' '$T/client-back.out' | sort -u | wc -l) -eq 6"
got=$(grep -oE 'batch [0-9]+$' "$T/client-back.out" | sed 's/^batch //' |
    awk '!seen[$0]++' | tr '\n' ' ')
is "$got" "$(seq 1 300 | tr '\n' ' ')" "... in order"
stop_pid "$CLIENT_PID" 5 || :

# --- a 60 KiB body, byte for byte ---------------------------------------------
python3 -c 'import sys
parts = ["line %d\t\"quoted\" <b>&amp; \u00e9t\u00e9 \u2603 \U0001f600 '"'"'x'"'"'\n" % i
         for i in range(2000)]
s = "".join(parts)
while len(s.encode()) < 61440:
    s += "tail \u00fc\t"
sys.stdout.write(s.rstrip("\n"))' >"$T/big.txt"
watcher big --expect-count 1 --timeout 30
id=$(xmppd_ctl send "$W" <"$T/big.txt") && r=0 || r=$?
is "$r" 0 "a $(wc -c <"$T/big.txt")-byte body is accepted"
check "... and received" wait_for 20 test -s "$T/big.json"
bodies big >"$T/big.got" || :
# bodies() adds one newline after the body.
printf '\n' >>"$T/big.txt"
check "byte for byte" cmp -s "$T/big.txt" "$T/big.got"

# --- N messages queued while the server is down: order, once, rate ----------
check "disconnect" xmppd_ctl -t 20 disconnect
seq 1 "$N" | sed 's/^/bulk /' >"$T/bulk.txt"
t0=$(date +%s%3N)
xmppd_ctl -t 600 send --lines "$W" <"$T/bulk.txt" >"$T/bulk.ids" && r=0 || r=$?
t1=$(date +%s%3N)
is "$r" 0 "$N messages accepted with send --lines"
is "$(wc -l <"$T/bulk.ids")" "$N" "... one id each"
diag "accepting $N messages took $((t1 - t0)) ms"
is "$(ls "$SPOOL" | grep -c '\.msg$')" "$N" "$N files in the spool"
xmppd_ctl queue >"$T/queue.out" 2>&1 && r=0 || r=$?
is "$r" 0 "queue with $N waiting: exit 0 (the listing is bounded)"
like "$(tail -n 1 "$T/queue.out")" "the first 1000 of $N messages shown" \
    "... and says how many it left out"
XMPP_CLIENT_TIMEOUT=300 watcher bulk --expect-count "$N" --timeout 200
check "connect" xmppd_ctl -t 20 connect
check "all $N arrive" wait_for 120 sh -c \
    "test \$(grep -c '^MESSAGE ' '$T/client-bulk.out') -ge $N"
bodies bulk >"$T/bulk.got" || :
check "in order" cmp -s "$T/bulk.txt" "$T/bulk.got"
is "$(sort "$T/bulk.got" | uniq -d | wc -l)" 0 "none twice"
# The rate: N messages at RATE/s with a burst of 10 take (N-10)/RATE s.
times=$(grep '"state":"sent"' "$T/events.out" | tail -n "$N" |
    sed 's/.*"time":\([0-9]*\).*/\1/' | sed -n '1p;$p' | tr '\n' ' ')
set -- $times
elapsed=$(($2 - $1))
min=$(( (N - 10) / RATE - 1 ))
ok "$([ "$elapsed" -ge "$min" ] && echo 0 || echo 1)" \
    "paced: the $N sends took ${elapsed} s (at least $min s at $RATE/s)"
check "the spool drains" \
    wait_for 30 sh -c "! ls '$SPOOL'/*.msg >/dev/null 2>&1"
stop_pid "$CLIENT_PID" 5 || :

# --- --wait acked, --wait received, bounce --------------------------------
watcher rcpt --receipts --hold 60 --timeout 65
out=$(xmppd_ctl -t 20 send --wait acked "$W" "wait for the ack") && r=0 || r=$?
is "$r" 0 "--wait acked: exit 0"
like "$out" '^[0-9a-f]{24}$' "... and the id printed"
out=$(xmppd_ctl -t 20 send --wait received "$W/rcpt" "wait for the receipt") \
    && r=0 || r=$?
is "$r" 0 "--wait received: exit 0 once the receipt came"
check "the receiver sent the receipt" \
    grep -q "^RECEIPT bot@$DOMAIN/test $out" "$T/client-rcpt.out"
check "events: received" \
    grep -q "\"id\":\"$out\".*\"state\":\"received\"" "$T/events.out"
stop_pid "$CLIENT_PID" 5 || :
xmppd_ctl -t 20 send --wait acked "nobody@$DOMAIN" "to nobody" \
    >"$T/bounce.out" 2>"$T/bounce.err" && r=0 || r=$?
is "$r" 1 "a bounce (unknown local user): exit 1"
like "$(cat "$T/bounce.err")" "bounced to nobody@$DOMAIN: service-unavailable" \
    "... with the condition"

# --- a full spool refuses and loses nothing -------------------------------
xmppd_stop
write_conf "$T/small.conf" outbox_rate=$RATE outbox_max_messages=3 \
    state_dir="$T/new/parents/state"
start "$T/small.conf"
check "online" xmppd_ctl -t 30 wait-online
check "disconnect" xmppd_ctl -t 20 disconnect
for i in 1 2 3; do
	xmppd_ctl send "$W" "kept $i" >/dev/null || :
done
xmppd_ctl send "$W" "one too many" >"$T/full.out" 2>"$T/full.err" && r=0 || r=$?
is "$r" 1 "a full spool refuses: exit 1"
like "$(cat "$T/full.err")" 'outbox full: 3 messages queued \(limit outbox_max_messages = 3\)' \
    "... with a clear error"
watcher full --expect-count 3 --timeout 30
check "connect" xmppd_ctl -t 20 connect
check "the three accepted arrive" wait_for 20 sh -c \
    "test \$(grep -c '^MESSAGE .*kept [123]' '$T/client-full.out') -eq 3"
unlike "$(cat "$T/client-full.out")" 'one too many' "the refused one does not"

# --- a damaged spool file is set aside, the rest delivered ----------------
check "disconnect" xmppd_ctl -t 20 disconnect
xmppd_ctl send "$W" "first of two" >/dev/null || :
xmppd_ctl send "$W" "second of two" >/dev/null || :
xmppd_stop
f=$(ls "$SPOOL"/*.msg | head -n 1)
printf 'X' | dd of="$f" bs=1 seek=40 conv=notrunc 2>/dev/null
start "$T/small.conf"
check "a damaged file is reported in one log line" \
    wait_log 10 "spool: .*is damaged \(checksum mismatch\); moved to .*/damaged/"
check "... and moved to damaged/" \
    sh -c "ls '$SPOOL/damaged/$(basename "$f")'.* >/dev/null"
watcher dmg --expect-count 1 --timeout 30
check "connect" xmppd_ctl -t 30 connect
check "the intact one is delivered" \
    wait_grep 20 'MESSAGE .*second of two' "$T/client-dmg.out"
ok "$(no_sanitizer_reports && echo 0 || echo 1)" "no sanitizer reports"
xmppd_stop
done_testing
