#!/bin/sh
# t-rooms.sh: group chats (XEP-0045) against Prosody's MUC component.
# Three configured rooms are joined and a second occupant sees the bot;
# "send ROOM" and "events" carry groupchat messages both ways; every
# refusal (nick conflict, password, members-only) and every way out
# (kick, ban, destroy) ends in the documented state; presence follows the
# account's; invitations are reported and, from an allowed inviter,
# followed; a cut link with XEP-0198 resume keeps the rooms without a
# leave/join for the other occupants; a ghost (the MUC forgot the bot
# without a word) is found by the self-ping and rejoined; a Prosody
# restart rejoins everything; runtime joins end with the process; 50
# rooms are joined at once (the time is printed, not judged).
set -eu
. "$top_srcdir/tests/integration/lib.sh"
need_xmppd
plan 76

M=$MUC_DOMAIN
OPS=ops@$M; ALERTS=alerts@$M; TEAM=team@$M
NICKR=nick@$M; PW=secret@$M; PWBAD=secret2@$M; MEMB=members@$M
INV=inv@$M; INV2=inv2@$M; EXTRA=extra@$M
PEER=$T/peer-alice.out

# state ROOM: the room's state as "rooms" shows it ("" when not listed).
state() { xmppd_ctl rooms | awk -v r="$1" '$1 == r { print $3 }'; }
nick_of() { xmppd_ctl rooms | awk -v r="$1" '$1 == r { print $2 }'; }
njoined() { xmppd_ctl rooms | awk '$3 == "joined"' | wc -l; }
has_joined() { [ "$(njoined)" -eq "$1" ]; }
is_state() { [ "$(state "$1")" = "$2" ]; }
room_line() { xmppd_ctl rooms | grep "^$1 " || :; }
# seen N ERE: the peer's output has at least N lines matching ERE.
seen() { [ "$(count_grep "$2" "$PEER")" -ge "$1" ]; }
ev_has() { grep -Eq -- "$1" "$T/events.out"; }
# logged N ERE: the xmppd log has at least N lines matching ERE.
logged() { [ "$(count_grep "$2" "$XMPPD_LOG")" -ge "$1" ]; }

prosody_start --muc --cfg 'smacks_hibernation_time = 30' ||
    bail "prosody did not start"
prosody_adduser bot "$BOT_PASSWORD"
prosody_adduser alice alicepw
prosody_adduser carol carolpw
proxy_start || bail "no proxy"

# The rooms exist before the bot comes: alice owns them.
muc_peer_start alice alice alicepw || bail "alice did not log in"
muc_peer_start carol carol carolpw || bail "carol did not log in"
for r in $OPS $ALERTS $TEAM $PW $PWBAD $MEMB $INV $INV2; do
	muc_peer alice join "$r" alice
done
wait_for 10 seen 8 "^JOINED .* alice$" || bail "alice could not create the rooms"
muc_peer alice config "$PW" passwordprotectedroom=1 roomsecret=letmein
muc_peer alice config "$PWBAD" passwordprotectedroom=1 roomsecret=letmein
muc_peer alice config "$MEMB" membersonly=1
muc_peer alice config "$INV2" whois=anyone
wait_for 10 seen 4 "^DONE [0-9]+ config ok" || bail "rooms not configured"
muc_peer carol join "$NICKR" bot
wait_grep 10 "^JOINED $NICKR bot" "$T/peer-carol.out" || bail "carol not in $NICKR"

(umask 077; echo letmein >"$T/room.pw"; echo wrong >"$T/room-bad.pw")
write_conf "$T/xmppd.conf.base" server="127.0.0.1:$PROXY_PORT" \
    ping_interval=300 reconnect_min=1 reconnect_max=2 \
    room_ping_interval=4 room_ping_timeout=2 room_join_timeout=5 \
    room_max_occupants=1 "room_invite_from=alice@$DOMAIN"
# A room line per room (write_conf keeps one line per key).
{
	cat "$T/xmppd.conf.base"
	for r in "$OPS" "$ALERTS" "$TEAM/botty" \
	    "$PW password_file=$T/room.pw" \
	    "$PWBAD password_file=$T/room-bad.pw" "$MEMB"; do
		echo "room = $r"
	done
} >"$T/xmppd.conf"
check "xmppd -n accepts the rooms and reads their password files" \
    "$XMPPD" -n -f "$T/xmppd.conf"
{ cat "$T/xmppd.conf"; echo "room = $OPS"; } >"$T/bad.conf"
like "$("$XMPPD" -n -f "$T/bad.conf" 2>&1 || :)" \
    "bad.conf:[0-9]+: room: room $OPS already configured on line [0-9]+" \
    "xmppd -n: a room twice is refused with file, line and key"

xmppd_start "$T/xmppd.conf"
wait_notify 10 '^READY=1$' || bail "xmppd did not start"
xmppd_ctl events >"$T/events.out" 2>&1 &
track_pid events $!
check "online" xmppd_ctl -t 20 wait-online

# --- joined, seen, talking ------------------------------------------------
check "the three rooms are joined" wait_for 10 sh -c \
    "[ \"\$('$XMPPD_CTL' -s '$XMPPD_SOCK' rooms | awk '\$3 == \"joined\"' | grep -c -e '^$OPS ' -e '^$ALERTS ' -e '^$TEAM ')\" = 3 ]"
check "alice sees the bot in $OPS" wait_for 5 seen 1 "^PRESENCE $OPS bot available"
check "alice sees the bot in $ALERTS" wait_for 5 seen 1 "^PRESENCE $ALERTS bot available"
check "alice sees botty (the room's own nick) in $TEAM" \
    wait_for 5 seen 1 "^PRESENCE $TEAM botty available"
like "$(room_line "$OPS")" "^$OPS +bot +joined +since .* occupants 1 +joined as bot" \
    "rooms: room, nick, state, since, occupants (alice), reason"
check "the password room is joined with the right password" wait_for 5 is_state "$PW" joined
check "a wrong password: failed" wait_for 5 is_state "$PWBAD" failed
like "$(room_line "$PWBAD")" "not-authorized" "the reason names not-authorized"
check "members-only: failed" wait_for 5 is_state "$MEMB" failed
like "$(room_line "$MEMB")" "registration-required" "the reason names registration-required"
check "status counts the joined rooms" \
    sh -c "'$XMPPD_CTL' -s '$XMPPD_SOCK' status | grep -Eq '^rooms +4/6'"
check "STATUS= says so" wait_notify 5 'STATUS=online as .*, 4/6 rooms'
check "rooms -j is JSON with six rooms" sh -c "'$XMPPD_CTL' -s '$XMPPD_SOCK' -j rooms |
    python3 -c 'import json,sys; d=json.load(sys.stdin); assert len(d[\"rooms\"]) == 6, d'"

check "send ROOM: a groupchat message" xmppd_ctl send "$OPS" "hello ops"
check "alice receives it from the bot" wait_for 5 seen 1 "^GROUPCHAT $OPS bot hello ops$"
check "events: the bot's own reflection, marked" wait_for 5 ev_has \
    "\"event\":\"groupchat\",\"room\":\"$OPS\",\"nick\":\"bot\",\"own\":true"
muc_peer alice say "$ALERTS" "disk full"
check "events: alice's message with room and nick" wait_for 5 ev_has \
    "\"event\":\"groupchat\",\"room\":\"$ALERTS\",\"nick\":\"alice\",\"own\":false,\"body\":\"disk full\""
muc_peer alice subject "$ALERTS" "new topic"
check "events: the subject change" wait_for 5 ev_has \
    "\"event\":\"subject\",\"room\":\"$ALERTS\",\"nick\":\"alice\",\"subject\":\"new topic\""
check_status 1 "send to a failed room: exit 1" xmppd_ctl send "$MEMB" "x"
like "$(xmppd_ctl send "$MEMB" x 2>&1 || :)" "is failed" "the error names the state"

xmppd_ctl presence away "in a meeting" >/dev/null
check "presence follows the account's into the rooms" \
    wait_for 5 seen 1 "^PRESENCE $OPS bot available - away"

check_status 1 "join of a members-only room: exit 1" \
    xmppd_ctl join "$MEMB" </dev/null
like "$(xmppd_ctl join "$MEMB" </dev/null 2>&1 || :)" "registration-required" \
    "with the room's reason"
muc_peer carol join "$OPS" carol
check "occupants beyond room_max_occupants: counted as a lower bound" \
    wait_for 5 sh -c "'$XMPPD_CTL' -s '$XMPPD_SOCK' rooms | grep -q '^$OPS .* occupants 1+ '"

# --- nick conflict, runtime join -------------------------------------------
like "$(xmppd_ctl join "$NICKR" </dev/null)" "^joined as bot_2$" \
    "join where the nick is taken: waits, then says joined as bot_2"
is "$(state "$NICKR")" joined "joined"
is "$(nick_of "$NICKR")" bot_2 "as bot_2"

# --- kick, ban, destroy ----------------------------------------------------
muc_peer alice kick "$OPS" bot "go$(printf '\t')away"
check "kicked: waiting, with the kick in the reason" wait_for 5 ev_has \
    "\"room\":\"$OPS\",\"nick\":\"bot\",\"state\":\"waiting\",\"previous\":\"joined\",\"reason\":\"kicked by alice: go\\\\taway"
check "a tab in the reason does not break the rooms line" sh -c \
    "'$XMPPD_CTL' -s '$XMPPD_SOCK' -j rooms | python3 -c 'import json, sys
d = json.load(sys.stdin)
assert any(r[\"room\"] == \"$OPS\" and r[\"last_error\"] == \"kicked by alice: go away\"
    for r in d[\"rooms\"]), d'"
check "then rejoined after the backoff" wait_for 10 is_state "$OPS" joined
is "$(count_grep "\"event\":\"groupchat\",\"room\":\"$OPS\",\"nick\":\"bot\",\"own\":true,\"body\":\"hello ops\"" "$T/events.out")" 1 \
    "the rejoin replayed no history (maxstanzas 0): one hello ops in events"
muc_peer alice ban "$ALERTS" "bot@$DOMAIN"
check "banned: failed" wait_for 5 is_state "$ALERTS" failed
like "$(room_line "$ALERTS")" "banned by alice" "the reason says who banned"
n=$(count_grep "^PRESENCE $ALERTS bot available" "$PEER")
sleep 4
is "$(state "$ALERTS")" failed "still failed after 4 s"
is "$(count_grep "^PRESENCE $ALERTS bot available" "$PEER")" "$n" \
    "and no join was tried"
muc_peer alice destroy "$TEAM" "newteam@$M"
check "destroyed: failed" wait_for 5 is_state "$TEAM" failed
like "$(room_line "$TEAM")" "room destroyed, moved to newteam@$M" \
    "the reason names the alternate room"

# --- invitations ------------------------------------------------------------
muc_peer alice dinvite "bot@$DOMAIN" "$INV"
check "events: the invitation" wait_for 5 ev_has \
    "\"event\":\"invite\",\"room\":\"$INV\",\"from\":\"alice@$DOMAIN\""
check "an allowed inviter: the bot joins" wait_for 10 is_state "$INV" joined
check "alice sees it there" wait_for 5 seen 1 "^PRESENCE $INV bot available"

muc_peer alice invite "$PWBAD" "bot@$DOMAIN"
# An anonymous room names the inviter by occupant JID: never on the list.
check "events: a mediated invitation, reported" \
    wait_for 5 ev_has "\"event\":\"invite\",\"room\":\"$PWBAD\",\"from\":\"$PWBAD/alice\",\"reason\":\"come\",\"kind\":\"mediated\",\"joining\":false"
muc_peer alice invite "$INV2" "bot@$DOMAIN"
check "a mediated invitation from an allowed inviter (a non-anonymous room): the bot joins" \
    wait_for 10 is_state "$INV2" joined

# --- part and reload ---------------------------------------------------------
check "part with a reason" xmppd_ctl part "$NICKR" "see you"
check "carol sees bot_2 leave" wait_grep 5 \
    "^PRESENCE $NICKR bot_2 unavailable" "$T/peer-carol.out"
is "$(state "$NICKR")" "" "the room is no longer listed"
check_status 1 "part of an unknown room: exit 1" xmppd_ctl part "nosuch@$M"
{ grep -v "^room = $MEMB" "$T/xmppd.conf"; echo "room = $NICKR/botx"; } \
    >"$T/xmppd.conf.new"
mv "$T/xmppd.conf.new" "$T/xmppd.conf"
check "reload" xmppd_ctl reload
check "a room added to the file is joined" wait_for 10 is_state "$NICKR" joined
is "$(nick_of "$NICKR")" botx "with its nick from the file"
is "$(state "$MEMB")" "" "a room removed from the file is left"

# --- a cut link, resumed: nobody sees the bot leave ------------------------
n_un=$(count_grep "^PRESENCE $OPS bot unavailable" "$PEER")
n_av=$(count_grep "^PRESENCE $OPS bot available" "$PEER")
proxy cut >/dev/null
check "the link is resumed, the rooms kept" \
    wait_log 20 'session resumed: [0-9]+ rooms kept'
sleep 1
is "$(state "$OPS")" joined "after the resume: still joined"
is "$(count_grep "^PRESENCE $OPS bot unavailable" "$PEER")" "$n_un" \
    "alice saw no leave"
is "$(count_grep "^PRESENCE $OPS bot available" "$PEER")" "$n_av" \
    "and no join"

# --- a ghost: the self-ping finds it ---------------------------------------
check "the MUC forgets the bot silently" muc_ghost "$OPS" bot
t0=$(date +%s)
check "the self-ping notices and the bot rejoins (interval 4 s + timeout 2 s)" \
    wait_for 12 ev_has "\"room\":\"$OPS\",\"nick\":\"bot\",\"state\":\"joining\",\"previous\":\"joined\""
check "joined again" wait_for 5 is_state "$OPS" joined
diag "ghost noticed and rejoined in $(( $(date +%s) - t0 )) s"
check "alice sees the bot come back" wait_for 5 seen $((n_av + 1)) \
    "^PRESENCE $OPS bot available"

# --- the MUC drops a room (a component restart): the self-ping says so ----
check "the MUC forgets $INV" muc_forget "$INV"
check "self-ping: item-not-found from the service, the bot joins again" \
    wait_for 12 ev_has "\"room\":\"$INV\",\"nick\":\"bot\",\"state\":\"joining\",\"previous\":\"joined\""
check "joined again" wait_for 5 is_state "$INV" joined
like "$(room_line "$INV")" "joined as bot" "and says so"

# --- runtime joins end with the process; Prosody restart --------------------
check "a runtime join" xmppd_ctl join "$EXTRA" </dev/null
is "$(state "$EXTRA")" joined "joined when the command returns"
like "$(xmppd_ctl join "$EXTRA" </dev/null)" "already joined" \
    "a second join: already joined"
n=$(njoined)
is "$n" 6 "six rooms joined: ops, the password room, botx's, inv, inv2, extra"
prosody_restart || bail "prosody did not restart"
# Prosody forgets the XEP-0198 session: the failed resume is a new session,
# after which every room is joined at once (not left to the self-ping).
check "the refused resume is a new session for the rooms" \
    wait_for 20 logged 2 'new session: rooms joined again'
muc_peer_start alice2 alice alicepw || bail "alice did not log in again"
check "after a Prosody restart every room that had not failed is joined again" \
    wait_for 20 has_joined "$n"
muc_peer alice2 join "$OPS" alice
check "and is there for others" wait_grep 10 "^PRESENCE $OPS bot available" \
    "$T/peer-alice2.out"
xmppd_stop || :
xmppd_start "$T/xmppd.conf"
xmppd_ctl -t 20 wait-online >/dev/null || :
check "after a restart the configured rooms come back" wait_for 10 is_state "$OPS" joined
is "$(state "$EXTRA")" "" "a runtime join does not outlive the process"

# --- 50 rooms at once ------------------------------------------------------
xmppd_stop || :
{
	cat "$T/xmppd.conf.base"
	i=0
	while [ $i -lt 50 ]; do
		echo "room = r$i@$M"
		i=$((i + 1))
	done
} >"$T/xmppd50.conf"
xmppd_start "$T/xmppd50.conf"
xmppd_ctl -t 20 wait-online >/dev/null || :
t0=$(_now_ms)
check "50 rooms joined" wait_for 30 sh -c \
    "[ \"\$('$XMPPD_CTL' -s '$XMPPD_SOCK' rooms | awk '\$3 == \"joined\"' | wc -l)\" = 50 ]"
diag "50 rooms: all joined $(( $(_now_ms) - t0 )) ms after wait-online returned"
# From the log: the online line to the last "-> joined" (ms, one process).
diag "50 rooms: online to all joined in $(awk '
	function ms(t) { split(t, a, ":"); return ((a[1] * 60 + a[2]) * 60 + a[3]) * 1000 }
	/-> online/ && !on { on = ms($1) }
	/joining -> joined/ { last = ms($1) }
	END { printf "%d", last - on }' "$XMPPD_LOG") ms by the log"
xmppd_stop || :

check "no sanitizer reports" no_sanitizer_reports
