#!/bin/sh
# t-metrics.sh: "xmppd-ctl stats" and "xmppd-ctl metrics" against a real
# Prosody: promtool accepts the metrics, and the counters move with what
# happens (a reconnect, a message sent and received, a resumption after a
# cut link, a refused password, a ping's round trip).
set -eu
. "$top_srcdir/tests/integration/lib.sh"
need_xmppd
plan 39

command -v promtool >/dev/null 2>&1 || bail "promtool is not installed (Debian package prometheus)"

stat() { xmppd_ctl stats | awk -v k="$1" '$1 == k { print $2 }'; }
# The value of one sample: metric NAME with labels matching ERE.
sample() {
	xmppd_ctl metrics | awk -v n="$1" -v l="$2" \
	    'index($0, n "{") == 1 && $0 ~ l { print $2 }'
}

prosody_start --cfg 'smacks_hibernation_time = 30' || bail "prosody did not start"
prosody_adduser bot "$BOT_PASSWORD"
prosody_adduser watcher watchpw
proxy_start || bail "no proxy"

write_conf "$T/xmppd.conf" server="127.0.0.1:$PROXY_PORT" ping_interval=2 \
    ping_timeout=5 reconnect_min=1 reconnect_max=2
xmppd_start "$T/xmppd.conf"
check "online" xmppd_ctl -t 20 wait-online

# The format, checked by Prometheus's own linter.
xmppd_ctl metrics >"$T/metrics.txt"
check "promtool check metrics accepts the output" \
    sh -c "promtool check metrics <'$T/metrics.txt' >'$T/promtool.out' 2>&1"
diag "$(cat "$T/promtool.out")"
like "$(cat "$T/metrics.txt")" \
    "xmppd_state\{account=\"bot@$DOMAIN\",state=\"online\"\} 1" \
    "the state is a labelled gauge, online is 1"
like "$(cat "$T/metrics.txt")" "xmppd_build_info\{account=\"bot@$DOMAIN\",version=\"[^\"]+\"\} 1" \
    "build_info carries the version"
like "$(cat "$T/metrics.txt")" "xmppd_server_cert_expiry_timestamp_seconds\{[^}]*\} [0-9]{10}" \
    "the server certificate's expiry is known"
is "$(sample xmppd_state 'state="offline"')" 0 "offline is 0"
is "$(stat state)" online "stats: state online"
is "$(stat connects)" 1 "stats: one connection"
is "$(stat logins)" 1 "stats: one login"
days=$(stat cert_days_left)
check "stats: days until the certificate expires (${days:-none})" \
    test "${days:-0}" -gt 0

# JSON: numbers for jq.
js=$(xmppd_ctl -j stats)
like "$js" '"connects":1[,}]' "stats -j: connects is a number"
like "$js" '"state":"online"' "stats -j: state is a string"
check "stats -j is valid JSON" sh -c "printf '%s' '$js' | python3 -m json.tool >/dev/null"

# A message out, one in.
out0=$(stat stanzas_out)
bout0=$(stat bytes_out)
xmppd_ctl send "watcher@$DOMAIN" "counted" >/dev/null
check "a message sent: stanzas out grows" \
    wait_for 5 sh -c "test \$('$XMPPD_CTL' -s '$XMPPD_SOCK' stats | awk '\$1==\"stanzas_out\"{print \$2}') -gt $out0"
check "... and bytes out" test "$(stat bytes_out)" -gt "$bout0"
in0=$(stat stanzas_in)
xmpp_client --user watcher --password watchpw --resource m \
    --send "$BOT_JID" "hello bot" --timeout 10 >/dev/null 2>&1 || :
check "a message received: stanzas in grows" \
    wait_for 5 sh -c "test \$('$XMPPD_CTL' -s '$XMPPD_SOCK' stats | awk '\$1==\"stanzas_in\"{print \$2}') -gt $in0"
check "bytes in counted" test "$(stat bytes_in)" -gt 0

# A ping's round trip (ping_interval 2).
check "a ping answered: its round trip is reported" \
    wait_for 10 sh -c "'$XMPPD_CTL' -s '$XMPPD_SOCK' stats | grep -q '^ping_rtt_ms [0-9]'"
like "$(xmppd_ctl metrics)" 'xmppd_ping_rtt_seconds\{[^}]*\} [0-9]+\.[0-9]{3}' \
    "metrics: the round trip in seconds"

# A cut link: a network failure, a new connection, a resumption.
is "$(proxy cut)" ok "the proxy cuts the link"
check "resumed" wait_log 15 'session resumed, online'
is "$(stat resumptions)" 1 "stats: one resumption"
is "$(stat connects)" 2 "stats: a second connection"
is "$(stat failures_network)" 1 "stats: one network failure"
is "$(sample xmppd_failures_total 'class="network"')" 1 \
    "metrics: failures_total{class=network} 1"

# A reconnect: a fresh login.
check "reconnect" xmppd_ctl -t 20 reconnect
is "$(stat connects)" 3 "a reconnect increments connects"
is "$(stat logins)" 2 "... and logins"
is "$(sample xmppd_connects_total '')" 3 "metrics: connects_total 3"

# A refused password: an auth failure.
prosody_passwd bot otherpw
check "reconnect with a stale password fails" sh -c "! '$XMPPD_CTL' -s '$XMPPD_SOCK' -t 20 reconnect"
check "auth failure counted" \
    wait_for 10 sh -c "'$XMPPD_CTL' -s '$XMPPD_SOCK' stats | grep -q '^failures_auth 1'"
is "$(sample xmppd_state 'state="auth-failed"')" 1 "metrics: state auth-failed"
xmppd_ctl metrics >"$T/metrics2.txt"
check "promtool still accepts it" \
    sh -c "promtool check metrics <'$T/metrics2.txt' >/dev/null 2>&1"

# The example unit's command (systemd's "$$" is the shell's "$"), pointed
# at this daemon's socket: the file appears whole, and promtool reads it.
cmd=$(sed -n '/^ExecStart=/,/fi.$/p' "$top_builddir/systemd/xmppd-metrics@.service" |
    sed -e 's/^ExecStart=//' -e 's/\\$//' -e 's/\$\$/$/g' -e 's/%i/t/g' |
    tr '\n' ' ')
cmd=$(printf '%s' "$cmd" | sed -e "s|[^ ]*/xmppd-ctl -t 10 -i \"t\"|'$XMPPD_CTL' -t 10 -s '$XMPPD_SOCK'|" \
    -e "s|^/bin/sh -c '||" -e "s|' *\$||")
mkdir -p "$T/textfile"
check "the example unit's command writes the textfile" \
    env TEXTFILE_DIR="$T/textfile" sh -c "$cmd"
check "... xmppd-t.prom, which promtool accepts" \
    sh -c "promtool check metrics <'$T/textfile/xmppd-t.prom' >/dev/null 2>&1"
is "$(ls "$T/textfile")" "xmppd-t.prom" "... and no temporary file is left"
xmppd_stop
env TEXTFILE_DIR="$T/textfile" sh -c "$cmd" 2>/dev/null && r=0 || r=$?
isnt "$r" 0 "with the daemon gone, the command fails"
is "$(ls "$T/textfile")" "" "... and removes the stale file"

check "no sanitizer reports" no_sanitizer_reports
done_testing
