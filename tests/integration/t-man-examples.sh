#!/bin/sh
# t-man-examples.sh: the two echo bots of xmppd-ctl(1) EXAMPLES, taken
# from the page itself (so the page and the test cannot drift), run as
# written against xmppd and a real Prosody.  A second account sends
# messages and compares every answer byte for byte: the sh/sed bot with
# the limits its text states (the body stays JSON-escaped), the jq bot
# with backslashes, quotes, tabs, spaces at both ends, non-ASCII text,
# shell syntax that must not run, and a body of several lines.
set -eu
. "$top_srcdir/tests/integration/lib.sh"
need_xmppd
command -v jq >/dev/null 2>&1 ||
	bail "jq is not installed (the example in xmppd-ctl(1) needs it)"
command -v setsid >/dev/null 2>&1 || bail "setsid is not installed"
plan 14

PAGE=$top_srcdir/man/xmppd-ctl.1
ALICE=alice
ALICE_PASSWORD=alice-secret

# man_example START-ERE: the first literal block (.Bd -literal ... .Ed)
# after the line matching START-ERE, as roff source.
man_example() {
	awk -v start="$1" '
	    !on && $0 ~ start { on = 1; next }
	    on == 1 && /^\.Bd -literal/ { on = 2; next }
	    on == 2 && /^\.Ed/ { exit }
	    on == 2 { print }' "$PAGE"
}

# unroff FILE: undo the roff escapes a literal block may hold (\e, \&);
# fails on any other escape, which this test would not understand.
unroff() {
	if sed 's/\\e//g; s/\\&//g' "$1" | grep -q '\\'; then
		diag "unknown roff escape in: $(grep -n '\\' "$1" | head -n 3)"
		return 1
	fi
	sed -i 's/\\e/\\/g; s/\\&//g' "$1"
}

# bot_start NAME SCRIPT: run SCRIPT with sh in its own process group, with
# the built xmppd-ctl first in PATH and talking to our daemon.
BOT_PID=
bot_start() {
	PATH=$T/bin:$PATH XMPPD_CTL_SOCKET=$XMPPD_SOCK \
	    setsid sh "$2" </dev/null >"$T/bot-$1.out" 2>"$T/bot-$1.err" &
	BOT_PID=$!
	at_exit "kill -s TERM -- -$BOT_PID 2>/dev/null"
	# setsid must not have forked: the group is then the bot's pid.
	wait_for 5 sh -c "[ \"\$(ps -o pgid= -p $BOT_PID | tr -d ' ')\" = $BOT_PID ]"
}

# bot_stop: the whole pipeline (sh, xmppd-ctl events, jq, the loop).
bot_stop() {
	kill -s TERM -- "-$BOT_PID" 2>/dev/null || :
	wait_for 10 sh -c "! ps -o pid= -g $BOT_PID >/dev/null" || {
		kill -s KILL -- "-$BOT_PID" 2>/dev/null || :
		wait_for 5 sh -c "! ps -o pid= -g $BOT_PID >/dev/null" || :
	}
	wait "$BOT_PID" 2>/dev/null || :
}

# alice NAME ARGS...: one client session of the second account.
alice() {
	local _n
	_n=$1; shift
	xmpp_client --user "$ALICE" --password "$ALICE_PASSWORD" \
	    --resource "$_n" "$@" >"$T/alice-$_n.out" 2>&1
}

# bot_ready NAME: the bot is listening once it echoes a probe (it may miss
# probes sent before its "xmppd-ctl events" is connected).
bot_ready() {
	local _i
	for _i in 1 2 3 4 5 6 7 8 9 10; do
		alice "probe-$1-$_i" --send "$BOT_JID" "ready $_i" \
		    --expect-message "^echo: ready $_i\$" --timeout 3 && return 0
	done
	return 1
}

# echoes NAME: the bodies alice got in session NAME, one per line
# (probe answers left out: a late one may reach any of her sessions).
echoes() {
	sed -n 's/^MESSAGE [^ ]* //p' "$T/alice-$1.out" | grep -v '^echo: ready [0-9]*$' || :
}

# --- the examples, from the page ------------------------------------------

man_example '^An echo bot in POSIX' >"$T/sh-bot.sh"
check "the sh/sed example is on the page and reads events" \
    sh -c "grep -q 'xmppd-ctl events' '$T/sh-bot.sh' &&
        grep -q 'xmppd-ctl send' '$T/sh-bot.sh'"
man_example '^which takes any key order and any text' >"$T/jq-bot.sh"
check "the jq example is on the page and reads events" \
    sh -c "grep -q 'xmppd-ctl events' '$T/jq-bot.sh' &&
        grep -q 'jq ' '$T/jq-bot.sh'"
unroff "$T/sh-bot.sh" && unroff "$T/jq-bot.sh" && rc=0 || rc=1
ok "$rc" "both examples hold no roff escape but the backslash and the zero-width one"
diag "jq example as run:"
diag "$(cat "$T/jq-bot.sh")"

mkdir -p "$T/bin"
ln -s "$XMPPD_CTL" "$T/bin/xmppd-ctl"

prosody_start || bail "prosody did not start"
prosody_adduser "$BOT_USER" "$BOT_PASSWORD" || bail "cannot create the bot"
prosody_adduser "$ALICE" "$ALICE_PASSWORD" || bail "cannot create alice"
write_conf "$XMPPD_CONF"
xmppd_start
wait_for 10 test -S "$XMPPD_SOCK" || bail "no control socket"
xmppd_ctl -t 30 wait-online >/dev/null || bail "xmppd did not come online"

# --- sh and sed -------------------------------------------------------------

bot_start sh "$T/sh-bot.sh" || bail "the sh bot did not start in its own group"
check "sh/sed bot: answers" bot_ready sh
alice sh --send "$BOT_JID" 'hello, world' \
    --send "$BOT_JID" 'say "hi" \o/' \
    --expect-message '^echo: say ' --timeout 20 || :
is "$(echoes sh)" 'echo: hello, world
echo: say \"hi\" \\o/' \
    "sh/sed bot: plain text comes back as is, quotes and backslashes JSON-escaped, as the page says"
bot_stop

# --- jq ---------------------------------------------------------------------

tab=$(printf '\t')
nl='
'
b1='back\slash, \n and \t as text, \\ two, \u00e9 not an escape'
b2="tab${tab}inside and at the end${tab}"
b3='"double" and '"'single'"' quotes, $HOME `touch '"$T"'/ran` $(touch '"$T"'/ran) *'
b4='grüße, 日本語, 🙂'
b5='  spaces at both ends  '
b6="first line${nl}second${tab}line${nl}  third  "
cat >"$T/want-jq" <<EOF
echo: $b1
echo: $b2
echo: $b3
echo: $b4
echo: $b5
echo: first line
echo: second${tab}line
echo:   third  
EOF

bot_start jq "$T/jq-bot.sh" || bail "the jq bot did not start in its own group"
check "jq bot: answers" bot_ready jq
alice jq --send "$BOT_JID" "$b1" --send "$BOT_JID" "$b2" \
    --send "$BOT_JID" "$b3" --send "$BOT_JID" "$b4" \
    --send "$BOT_JID" "$b5" --send "$BOT_JID" "$b6" \
    --expect-message '\Aecho:   third  \Z' --timeout 20 &&
    rc=0 || rc=1
ok "$rc" "jq bot: the answer to the last line of the last body arrives"
echoes jq >"$T/got-jq"
if diff -u "$T/want-jq" "$T/got-jq" >"$T/diff-jq"; then
	pass "jq bot: every body comes back exactly, one message per line"
else
	fail "jq bot: every body comes back exactly, one message per line"
	diag "$(cat -A "$T/diff-jq")"
fi
is "$(grep -c . "$T/got-jq")" 8 "jq bot: no answer twice, none extra"
check_fail "jq bot: nothing from a body is run by the shell" test -e "$T/ran"
check "jq bot: still running after all of it" pid_alive "$BOT_PID"
bot_stop
is "$(cat "$T/bot-jq.err")" "" "jq bot: no error from jq, the shell or xmppd-ctl"

check "xmppd still online" sh -c \
    "'$XMPPD_CTL' -s '$XMPPD_SOCK' status | grep -Eq '^state +online\$'"
check "no sanitizer reports" no_sanitizer_reports
xmppd_stop >/dev/null || :
