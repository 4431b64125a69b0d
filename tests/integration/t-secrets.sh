#!/bin/sh
# t-secrets.sh: issue 10 defect 11: a stanza that carries a password is
# never written to disk.  After "xmppd-ctl passwd", SIGTERM with
# resume_after_restart saves the session (its queue of unacknowledged
# stanzas) for the next process: the new password must not be in that
# file, and the resumed session must not send the request again.
set -eu
. "$top_srcdir/tests/integration/lib.sh"
need_xmppd
plan 7

prosody_start || bail "prosody did not start"
prosody_adduser "$BOT_USER" "$BOT_PASSWORD"
write_conf "$T/keep.conf" ping_interval=300 resume_after_restart=yes
xmppd_start "$T/keep.conf"
wait_log 20 'stream management enabled, session resumable' ||
    bail "no resumable session"
out=$(printf 'N3wS3cretXYZ\n' | xmppd_ctl -t 20 passwd 2>&1) && r=0 || r=$?
is "$r" 0 "passwd: the server took the new password"
xmppd_stop >/dev/null || :
check "the session was kept for a restart" \
    grep -q 'keeping the session for a restart' "$XMPPD_LOG"
state="$T/state/sm-session.bot@$DOMAIN"
check "the saved session holds the unacknowledged request" \
    grep -q '^stanza ' "$state"
check_fail "... but not the password it carried" grep -q N3wS3cretXYZ "$state"
# The server has the new password now: so does the credential file.
printf 'N3wS3cretXYZ\n' >"$T/password"
before=$(count_grep 'Received\[c2s\]: <iq' "$PROSODY_DIR/prosody.log")
xmppd_start "$T/keep.conf"
check "the next process resumes the session" \
    wait_log 15 'session resumed, online'
sleep 1
is "$(count_grep 'Received\[c2s\]: <iq' "$PROSODY_DIR/prosody.log")" \
    "$before" "the request is not sent again after the resume"
check "no sanitizer reports" no_sanitizer_reports
