#!/bin/sh
# t-demo.sh: "scripts/demo --keep" as a newcomer follows it.  The demo runs
# on the build under test (--no-build, no apt-get); then every command it
# prints is run as printed: the bot's status, the prosodyctl line that adds
# alice, alice writing to the bot (seen by "xmppd-ctl events"), the bot
# writing to alice, the echo bot of xmppd-ctl(1) answering her, and the
# stop line, after which both printed pids are gone and nothing is left.
set -eu
. "$top_srcdir/tests/integration/lib.sh"
need_xmppd
command -v jq >/dev/null 2>&1 || bail "jq is not installed (the demo's echo bot needs it)"
command -v setsid >/dev/null 2>&1 || bail "setsid is not installed"
plan 12

out=$T/demo.out
XMPPD_NO_APT=1 XMPPD_BUILD_DIR=$top_builddir \
    timeout 120 "$top_srcdir/scripts/demo" --keep --no-build >"$out" 2>&1 &&
    rc=0 || rc=$?
is "$rc" 0 "scripts/demo --keep exits 0"

# The demo's processes and files, for the clean-up if a check fails.
demo_t=$(sed -n 's/^==> left running (--keep); everything lives in \(.*\)$/\1/p' "$out")
xpid=$(sed -n 's/^    xmppd    pid \([0-9]*\): .*/\1/p' "$out")
ppid=$(sed -n 's/^    prosody  pid \([0-9]*\): .*/\1/p' "$out")
[ -n "$demo_t" ] && [ -d "$demo_t" ] && [ -n "$xpid" ] && [ -n "$ppid" ] &&
    rc=0 || rc=1
ok "$rc" "it names its directory and the pids of xmppd and Prosody"
[ "$rc" = 0 ] || bail "nothing to follow: $(cat "$out")"
at_exit "kill $xpid $ppid 2>/dev/null; sleep 1; kill -s KILL $xpid $ppid 2>/dev/null; case '$demo_t' in /tmp/xmppd-t.*) rm -rf '$demo_t' ;; esac"
pid_alive "$xpid" && pid_alive "$ppid" && rc=0 || rc=1
ok "$rc" "both are running"

# printed ERE: the one printed command line matching ERE, without its
# indentation (fails unless exactly one line matches).
printed() {
	local _l
	_l=$(sed -n 's/^    //p' "$out" | grep -E -- "$1")
	[ -n "$_l" ] && [ "$(printf '%s\n' "$_l" | wc -l)" -eq 1 ] || {
		diag "no single printed line matches $1"
		return 1
	}
	printf '%s\n' "$_l"
}

cmd=$(printed 'xmppd-ctl -s [^ ]* status$') || cmd=false
like "$(timeout 30 sh -c "$cmd")" '^state +online$' "the printed status command: online"

cmd=$(printed '^prosodyctl --config ') || cmd=false
check "the printed prosodyctl line creates alice" timeout 60 sh -c "$cmd"

cmd=$(printed 'xmppd-ctl -s [^ ]* events$') || cmd=false
timeout 60 sh -c "$cmd" >"$T/events.out" 2>&1 &
events_pid=$!
track_pid events "$events_pid"
cmd=$(printed "xmpp-client.py .* --send [^ ]* 'hello bot'\$") || cmd=false
# Until "xmppd-ctl events" is connected, a message passes unseen: retry.
sent=1 seen=1
for i in 1 2 3 4 5; do
	timeout 60 sh -c "$cmd" >"$T/alice-send.out" 2>&1 && sent=0 || continue
	wait_grep 3 '^\{"event":"message","from":"alice@xmppd\.test/[^"]*","type":"chat","body":"hello bot"' \
	    "$T/events.out" && { seen=0; break; }
done
ok "$sent" "alice's printed command sends the bot a message"
ok "$seen" "the printed events command shows it arrive"
stop_pid "$events_pid" 5 || :

c1=$(printed ' --hold 60$') || c1=false
c2=$(printed 'send alice@[^ ]* hello alice$') || c2=false
got=1
for i in 1 2 3; do	# alice may miss a message sent as she logs in
	timeout 90 sh -c "$c1" >"$T/alice-hold.out" 2>&1 &
	hold_pid=$!
	track_pid alice-hold "$hold_pid"
	wait_grep 20 '^ONLINE ' "$T/alice-hold.out" &&
	    timeout 30 sh -c "$c2" >/dev/null 2>&1 &&
	    wait_grep 10 '^MESSAGE bot@xmppd\.test/[^ ]* hello alice$' \
	    "$T/alice-hold.out" && got=0
	stop_pid "$hold_pid" 5 || :
	[ "$got" = 1 ] || break
done
ok "$got" "the bot's printed message reaches alice's printed client"

cmd=$(printed 'sh [^ ]*/echo-bot\.sh$') || cmd=false
setsid sh -c "$cmd" </dev/null >"$T/echo-bot.out" 2>&1 &
bot_pid=$!
at_exit "kill -s TERM -- -$bot_pid 2>/dev/null"
sleep 1
cmd=$(printed "--expect-message '\\^echo: hello bot\\\$'\$") || cmd=false
ok=1
for i in 1 2 3 4 5; do
	if timeout 60 sh -c "$cmd" >"$T/alice-echo.out" 2>&1; then
		ok=0
		break
	fi
done
ok "$ok" "the printed echo bot answers alice's printed message"
kill -s TERM -- "-$bot_pid" 2>/dev/null || :

cmd=$(printed '^kill [0-9]+; sleep 1; kill [0-9]+; rm -rf ') || cmd=false
check "the printed stop line runs" timeout 30 sh -c "$cmd"
gone() { ! pid_alive "$xpid" && ! pid_alive "$ppid"; }
check "xmppd and Prosody are gone after it" wait_for 10 gone
check_fail "and so is the demo's directory" test -e "$demo_t"
