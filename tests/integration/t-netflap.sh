#!/bin/sh
# t-netflap.sh: network changes (rtnetlink) seen from a namespace, as in
# t-netchange.sh, for two issue-10 defects:
#  1  with ping_interval = 0 (pings off) an address change sends one
#     probe ping; its answer must not start pinging once per round trip;
#  6  while waiting to reconnect, routes that flap may cut the wait short
#     once per backoff step, not at every burst.
set -eu
. "$top_srcdir/tests/integration/lib.sh"
need_xmppd
[ "$(id -u)" = 0 ] || skip_all "needs root for network namespaces"
command -v ip >/dev/null || skip_all "needs iproute2"
plan 7

ns=xf$$
net=10.$(( $$ % 200 + 20 )).$(( ($$ / 200) % 250 + 1 ))
ip netns add "$ns" || skip_all "cannot create a network namespace"
at_exit "ip netns del $ns 2>/dev/null; ip link del yh$$ 2>/dev/null"
ip link add "yh$$" type veth peer name "yc$$"
ip link set "yc$$" netns "$ns"
ip addr add "$net.1/24" dev "yh$$"
ip link set "yh$$" up
ip -n "$ns" link set lo up
ip -n "$ns" addr add "$net.2/24" dev "yc$$"
ip -n "$ns" link set "yc$$" up

prosody_start || bail "prosody did not start"
prosody_adduser bot "$BOT_PASSWORD"
proxy_start --listen "$net.1" || bail "no proxy"
PLOG=$PROSODY_DIR/prosody.log

# --- defect 1: pings off stay off after a probe ---------------------------------
write_conf "$T/xmppd.conf" server="$net.1:$PROXY_PORT" \
    ping_interval=0 ping_timeout=20 reconnect_min=20 reconnect_max=20
XMPPD_WRAPPER="ip netns exec $ns"
xmppd_start "$T/xmppd.conf"
wait_log 20 'state change .* -> online' || bail "not online"
sleep 1
before=$(grep -c "Received\[c2s\]: <iq" "$PLOG" || :)
ip -n "$ns" addr add "$net.9/24" dev "yc$$"
check "an address change probes the link" \
    wait_log 5 'network changed: probing the link'
sleep 3
after=$(grep -c "Received\[c2s\]: <iq" "$PLOG" || :)
diag "iq requests from xmppd in the 3 s after the probe: $((after - before))"
is "$((after - before))" 1 "one probe ping, then no more (ping_interval = 0)"
check "still online" sh -c \
    "'$XMPPD_CTL' -s '$XMPPD_SOCK' status | grep -Eq '^state +online$'"

# --- defect 6: one early retry per backoff step ---------------------------------
proxy refuse on >/dev/null
proxy cut >/dev/null
check "link cut, server refusing: waiting" \
    wait_log 10 'state change .* -> waiting'
sleep 0.5
for i in 1 2 3 4; do
	ip -n "$ns" addr add "$net.$((20 + i))/24" dev "yc$$"
	sleep 1
done
n=$(count_grep 'network changed: retrying now' "$XMPPD_LOG")
diag "early retries during four bursts in one 20 s backoff step: $n"
is "$n" 1 "one early retry, not one per burst"
check "the others say the backoff is waited out" \
    grep -q 'network changed: already retried early' "$XMPPD_LOG"
xmppd_stop >/dev/null || :
check "no sanitizer reports" no_sanitizer_reports
