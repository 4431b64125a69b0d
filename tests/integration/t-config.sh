#!/bin/sh
# t-config.sh: xmppd -n checks a config and exits 0/1 with errors naming
# file, line and key; -v prints it without the password; a password in a
# file others can read is warned about; the shipped sample parses; -n runs
# the checks start-up runs (CA file, control group, socket directory,
# password file) and warnings print as "warning:".
set -eu
. "$top_srcdir/tests/integration/lib.sh"
need_xmppd
plan 41

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
# The sample names the group sysusers.d creates; -n checks that it
# exists (issue 11 item 3), so check it with a group this host has too.
grp=$(id -gn)
sed "s/^control_group = xmppd-ctl\$/control_group = $grp/" \
    "$top_srcdir/etc/xmppd.conf" > "$T/sample.conf"
out=$("$XMPPD" -n -f "$T/sample.conf" 2>&1) && r=0 || r=$?
is "$r" 0 "the shipped sample config is valid (group $grp)"
out=$("$XMPPD" -n -f "$top_srcdir/etc/xmppd.conf" 2>&1) && r=0 || r=$?
if getent group xmppd-ctl >/dev/null; then
	is "$r" 0 "the shipped sample config is valid as it is"
else
	like "$out" 'xmppd.conf:[0-9]+: control_group: xmppd-ctl: no such group' \
	    "the sample without its group: -n names the missing group"
fi
out=$("$XMPPD" -x 2>&1) && r=0 || r=$?
is "$r" 2 "an unknown option exits 2"
like "$("$XMPPD" -V)" '^xmppd [0-9]' "-V prints the version"

# --- issue 11 item 3: -n runs start-up's checks -------------------------
# cfg NAME LINES...: a config whose password is in a private file.
cfg() {
	_n=$1; shift
	{ echo "jid = bot@example.org"; for l in "$@"; do echo "$l"; done; } \
	    > "$T/$_n.conf"
	chmod 600 "$T/$_n.conf"
}
printf 'pw\n' > "$T/pw"; chmod 600 "$T/pw"
cfg ca "password_file = $T/pw" "ca_file = $T/no-such-ca.pem"
out=$("$XMPPD" -n -f "$T/ca.conf" 2>&1) && r=0 || r=$?
is "$r" 1 "-n: a missing ca_file exits 1"
like "$out" "ca.conf:3: ca_file: $T/no-such-ca.pem: No such file" \
    "-n: missing ca_file named with file:line: key"
printf 'not a certificate\n' > "$T/junk.pem"
cfg junkca "password_file = $T/pw" "ca_file = $T/junk.pem"
out=$("$XMPPD" -n -f "$T/junkca.conf" 2>&1) && r=0 || r=$?
is "$r" 1 "-n: a ca_file without certificates exits 1"
cfg grp "password_file = $T/pw" "control_group = no-such-group-xmppd"
out=$("$XMPPD" -n -f "$T/grp.conf" 2>&1) && r=0 || r=$?
is "$r" 1 "-n: an unknown control_group exits 1"
like "$out" "grp.conf:3: control_group: no-such-group-xmppd: no such group" \
    "-n: unknown control_group named"
# The daemon refuses it with the same words: one function checks both.
out=$("$XMPPD" -f "$T/grp.conf" 2>&1) && r=0 || r=$?
is "$r" 1 "start-up: an unknown control_group exits 1"
like "$out" "error: .*grp.conf:3: control_group: no-such-group-xmppd: no such group" \
    "start-up: the same message, as an error"
: > "$T/afile"
cfg sock "password_file = $T/pw" "control_socket = $T/afile/sub/x.sock"
out=$("$XMPPD" -n -f "$T/sock.conf" 2>&1) && r=0 || r=$?
is "$r" 1 "-n: a control_socket directory that cannot be created exits 1"
like "$out" "sock.conf:3: control_socket: cannot create the directory $T/afile/sub" \
    "-n: the socket directory named"
cfg pwdir "password_file = $T"
out=$("$XMPPD" -n -f "$T/pwdir.conf" 2>&1) && r=0 || r=$?
is "$r" 1 "-n: an unreadable password file exits 1"
like "$out" "pwdir.conf:2: password_file: $T: not a regular file" \
    "-n: unreadable password file named with file:line: key"

# --- issue 11 item 10, issue 10 item 13: wording, limits, modes ----------
cfg nofile "password_file = /nonexistent"
out=$("$XMPPD" -n -f "$T/nofile.conf" 2>&1) && r=0 || r=$?
like "$out" "nofile.conf:2: password_file: /nonexistent: No such file" \
    "password_file = /nonexistent: FILE:LINE: key form"
head -c 1025 /dev/zero | tr '\0' p > "$T/longpw"; chmod 600 "$T/longpw"
cfg longpw "password_file = $T/longpw"
out=$("$XMPPD" -n -f "$T/longpw.conf" 2>&1) && r=0 || r=$?
is "$r" 1 "-n: a password over 1024 bytes exits 1"
like "$out" "longpw.conf:2: password_file: $T/longpw: password too long" \
    "-n: the long password named with file:line: key"
printf 'jid = bot\npassword = x\n' > "$T/nodomain.conf"
out=$("$XMPPD" -n -f "$T/nodomain.conf" 2>&1) && r=0 || r=$?
like "$out" "nodomain.conf:1: jid: invalid JID 'bot': missing domain" \
    "jid = bot: the domain is what is missing"
unlike "$out" 'localpart' "jid = bot: no word of a localpart"
printf 'pw\n' > "$T/pw644"; chmod 644 "$T/pw644"
cfg pw644 "password_file = $T/pw644"
out=$("$XMPPD" -n -f "$T/pw644.conf" 2>&1) && r=0 || r=$?
is "$r" 0 "a readable password_file is still valid"
like "$out" "warning: $T/pw644: the password is in a file that other users can read" \
    "a readable password_file: warned, naming the file"
cfg noverify "password_file = $T/pw" "tls_verify = no"
out=$("$XMPPD" -n -f "$T/noverify.conf" 2>&1) && r=0 || r=$?
like "$out" '^xmppd: warning: .*tls_verify = no' "tls_verify = no: a warning"
unlike "$out" 'error:' "tls_verify = no: not printed as an error"
chmod 644 "$T/good.conf"
out=$("$XMPPD" -n -f "$T/good.conf" 2>&1) && r=0 || r=$?
like "$out" '^xmppd: warning: .*other users can read' \
    "a password in a readable config: warning:, not error:"
printf 'jid = bot@example.org\npassword = x\npresence_status = away\357\277\276\n' \
    > "$T/fffe.conf"
out=$("$XMPPD" -n -f "$T/fffe.conf" 2>&1) && r=0 || r=$?
is "$r" 1 "U+FFFE in presence_status exits 1"
like "$out" "fffe.conf:3: presence_status: character U\\+FFFE at byte 4 is not allowed in XML" \
    "U+FFFE: named with its position"
out=$("$XMPPD" -h 2>&1) && r=0 || r=$?
is "$r" 0 "-h exits 0"
like "$out" '^  -n ' "-h lists the options"
