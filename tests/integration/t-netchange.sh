#!/bin/sh
# t-netchange.sh: xmppd runs in its own network namespace and reaches the
# server over a veth pair.  Its address is moved: the old TCP connection
# is dead, and instead of waiting for the next keepalive (ping_interval is
# 300 s here) xmppd probes at once on the rtnetlink event and reconnects.
set -eu
. "$top_srcdir/tests/integration/lib.sh"
need_xmppd
[ "$(id -u)" = 0 ] || skip_all "needs root for network namespaces"
command -v ip >/dev/null || skip_all "needs iproute2"
plan 5

ns=xd$$
net=10.$(( $$ % 200 + 20 )).$(( ($$ / 200) % 250 + 1 ))
ip netns add "$ns" || skip_all "cannot create a network namespace"
at_exit "ip netns del $ns 2>/dev/null; ip link del xh$$ 2>/dev/null"
ip link add "xh$$" type veth peer name "xc$$"
ip link set "xc$$" netns "$ns"
ip addr add "$net.1/24" dev "xh$$"
ip link set "xh$$" up
ip -n "$ns" link set lo up
ip -n "$ns" addr add "$net.2/24" dev "xc$$"
ip -n "$ns" link set "xc$$" up

prosody_start || bail "prosody did not start"
prosody_adduser bot "$BOT_PASSWORD"
# The server side of the veth, forwarded to Prosody on loopback.
proxy_start --listen "$net.1" || bail "no proxy"

write_conf "$T/xmppd.conf" server="$net.1:$PROXY_PORT" \
    ping_interval=300 ping_timeout=20 reconnect_min=1 reconnect_max=2
XMPPD_WRAPPER="ip netns exec $ns"
xmppd_start "$T/xmppd.conf"
wait_notify 10 '^READY=1$' || bail "xmppd did not start"
check "online from inside the namespace" xmppd_ctl -t 20 wait-online

t0=$(_now_ms)
# Delete first: removing a primary address also removes its secondaries.
ip -n "$ns" addr del "$net.2/24" dev "xc$$"
ip -n "$ns" addr add "$net.3/24" dev "xc$$"
check "the address change triggers a probe" \
    wait_log 5 'network changed: probing the link'
check "the failed probe ends the dead session" \
    wait_log 10 'no answer to a ping within [0-9]+s'
check "online again" wait_for 15 sh -c \
    "'$XMPPD_CTL' -s '$XMPPD_SOCK' status | grep -Eq '^state +online$'"
t1=$(_now_ms)
diag "back online $((t1 - t0)) ms after the address moved (ping_interval 300 s)"
ok "$([ $((t1 - t0)) -lt 15000 ] && echo 0 || echo 1)" \
    "well before the next keepalive"
xmppd_stop >/dev/null || :
