#!/bin/sh
# t-config.sh: xmppd -n checks a config and exits 0/1 with errors naming
# file, line and key; -v prints it without the password; a password in a
# file others can read is warned about; the shipped sample parses.
set -eu
. "$top_srcdir/tests/integration/lib.sh"
need_xmppd
plan 15

printf 'jid = bot@example.org\npassword = s3cr3t-value\n' > "$T/good.conf"
chmod 600 "$T/good.conf"
out=$("$XMPPD" -n -f "$T/good.conf" 2>&1) && r=0 || r=$?
is "$r" 0 "-n: a valid config exits 0"
like "$out" 'configuration OK' "-n: says so"
out=$("$XMPPD" -n -v -f "$T/good.conf" 2>&1) && r=0 || r=$?
like "$out" '^jid = bot@example.org$' "-n -v: prints the effective config"
unlike "$out" 's3cr3t-value' "-n -v: never prints the password"
unlike "$out" 'readable' "0600: no warning"

chmod 644 "$T/good.conf"
out=$("$XMPPD" -n -f "$T/good.conf" 2>&1) && r=0 || r=$?
is "$r" 0 "0644 with a password: still valid"
like "$out" 'other users can read' "0644 with a password: warned"

printf 'jid = bot@example.org\n\nping_interval = soon\n' > "$T/bad.conf"
out=$("$XMPPD" -n -f "$T/bad.conf" 2>&1) && r=0 || r=$?
is "$r" 1 "-n: an invalid value exits 1"
like "$out" "$T/bad.conf:3: ping_interval: " "the error names file:line:key"
unlike "$out" 'Sanitizer' "no leak or sanitizer report on the error path"
printf 'jid = bot@example.org\nfrobnicate = yes\n' > "$T/unknown.conf"
out=$("$XMPPD" -n -f "$T/unknown.conf" 2>&1) && r=0 || r=$?
like "$out" "unknown.conf:2: frobnicate: unknown key" "unknown keys are errors"
out=$("$XMPPD" -n -f "$T/missing.conf" 2>&1) && r=0 || r=$?
is "$r" 1 "a missing file exits 1"
out=$("$XMPPD" -n -f "$top_srcdir/etc/xmppd.conf" 2>&1) && r=0 || r=$?
is "$r" 0 "the shipped sample config is valid"
out=$("$XMPPD" -x 2>&1) && r=0 || r=$?
is "$r" 2 "an unknown option exits 2"
like "$("$XMPPD" -V)" '^xmppd [0-9]' "-V prints the version"
