#!/bin/sh
#
# t-systemd.sh: xmppd under a real systemd 252, booted in a container
# (container.sh), against a Prosody on the host's 127.0.0.1 (the container
# shares the host's network).  The build goes into the container with
# "make install", as a package would, and is driven with systemctl: start,
# STATUS=, xmppd-ctl from the control group, reload, the watchdog, template
# instances, stop, socket activation.
#
# Needs root, debootstrap and systemd-nspawn (tests/systemd/packages) and
# prosody, else it skips (XMPPD_REQUIRE_ALL=1: fails).  The Debian tree is
# built once into /var/cache/xmppd-test (about a minute); each run after
# that boots it afresh in about two seconds.  XMPPD_KEEP_T=1 keeps $T,
# with the container's journal in $T/journal.log.
set -u
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/systemd/container.sh"

[ "$(id -u)" = 0 ] || skip_all "needs root"
for c in debootstrap systemd-nspawn nsenter unshare flock dpkg apt-get; do
	command -v "$c" >/dev/null 2>&1 || skip_all "$c is not installed"
done
[ -d /sys/fs/cgroup/unified ] || [ -f /sys/fs/cgroup/cgroup.controllers ] ||
    skip_all "no cgroup hierarchy for a container"
need_xmppd
CT_LOG=$T/console.log

# The container goes down on any exit: lib.sh stops tracked pids (nspawn
# turns SIGTERM into an orderly shutdown); this also removes its cgroups.
ct_cleanup() {
	[ -n "$CT_INIT" ] && ct_run journalctl -q --no-pager -o short-precise \
	    >"$T/journal.log" 2>&1
	ct_poweroff
}

main_pid() { ct_run systemctl show -p MainPID --value "$1"; }
status_text() { ct_run systemctl show -p StatusText --value "$1"; }
# status_is UNIT PREFIX: StatusText (STATUS=) begins with PREFIX.
status_is() {
	case $(status_text "$1") in
	"$2"*) return 0 ;;
	esac
	return 1
}
# as_op CMD...: as the user "op", a member of the group xmppd-ctl.
as_op() { ct_run runuser -u op -- "$@"; }
# exposure UNIT: the "systemd-analyze security" figure, times ten.
exposure() {
	ct_run systemd-analyze security --no-pager "$1" 2>&1 | sed -n \
	    's/.*Overall exposure level for [^:]*: \([0-9]*\)\.\([0-9]\).*/\1\2/p'
}
# ms_since T0
ms_since() { echo $(($(_now_ms) - $1)); }

# --- set-up ------------------------------------------------------------------

# shellcheck disable=SC2046
root=$(ct_rootfs $(ct_lib_packages "$XMPPD" "$XMPPD_CTL") ca-certificates) ||
    bail "cannot build the container tree (see $CT_CACHE/debootstrap.log)"

# make install, as a package would; then read back where things went.
stage=$T/stage
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL ${MAKE:-make} -s -C "$top_builddir" \
    install DESTDIR="$stage" >"$T/install.out" 2>&1 ||
    bail "make install failed (see $T/install.out)"
unit=$(find "$stage" -name xmppd.service -type f | head -n 1)
[ -n "$unit" ] || bail "make install put no xmppd.service into $stage"
unitdir=${unit%/*}
unitdir=${unitdir#"$stage"}
sysusers=$(find "$stage" -path '*/sysusers.d/xmppd.conf' | head -n 1)
sysusers=${sysusers#"$stage"}
conf=$(sed -n 's/^ExecStart=.* -f //p' "$unit")
confdir=${conf%/*}
# The sandbox hides these (PrivateTmp=, ProtectHome=): a prefix there, as
# in "make distcheck", cannot run under the shipped units.
case $(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$unit") in
/tmp/*|/var/tmp/*|/home/*|/root/*|/run/user/*)
	skip_all "the install prefix is hidden by the units' sandbox" ;;
esac
# The program, not the bash completion of the same name.
ctl=$(cd "$stage" && find . -path '*/bin/xmppd-ctl' -type f | head -n 1 | cut -c2-)

plan 40
prosody_start || bail "prosody did not start"
for u in bot alice bob; do
	prosody_adduser "$u" "pw-$u-$$" || bail "cannot create $u"
done

ct_boot "$root" "xmppd-test-$$" || { ct_poweroff; bail "the container did not boot"; }
track_pid systemd-nspawn "$CT_NSPAWN_PID"
trap '_ct_rc=$?; ct_cleanup; (exit $_ct_rc); _on_exit' EXIT
pass "the container boots $(ct_run systemctl --version | head -n 1)"

# Into the running container (its root is a tmpfs overlay), then what a
# package's maintainer scripts do.  A sanitizer build must not run its
# leak check at exit: ptrace is outside SystemCallFilter=@system-service.
(cd "$stage" && tar -cf - .) |
    ct_pipe tar -C / --no-same-owner --no-overwrite-dir -xf - ||
    bail "cannot copy the installation into the container"
env=
if ldd "$XMPPD" | grep -q libasan; then
	env='Environment=ASAN_OPTIONS=detect_leaks=0'
fi
ct_run sh -c "
	set -e
	mkdir -p '$confdir'
	# A prefix systemd does not search (make distcheck): link the units.
	case '$unitdir' in
	/etc/systemd/system|/usr/local/lib/systemd/system|/usr/lib/systemd/system|/lib/systemd/system) ;;
	*) systemctl link '$unitdir'/xmppd*.service '$unitdir'/xmppd*.socket ;;
	esac
	systemd-sysusers '$sysusers'
	useradd -M -G xmppd-ctl op
	useradd -M eve
	for u in xmppd xmppd@; do
		mkdir -p /run/systemd/system/\$u.service.d
		printf '[Service]\nWatchdogSec=3s\n%s\n' '$env' \
		    >/run/systemd/system/\$u.service.d/test.conf
	done
	# bob keeps his password in a file: no credential, as documented.
	mkdir -p /run/systemd/system/xmppd@bob.service.d
	printf '[Service]\nLoadCredential=\n' \
	    >/run/systemd/system/xmppd@bob.service.d/password-file.conf
	systemctl daemon-reload
" >"$T/setup.out" 2>&1 || bail "cannot set up the container: $(cat "$T/setup.out")"
ct_pipe sh -c "cat >'$confdir/ca.pem'" <"$T/certs/ca.pem"
# ct_conf NAME JID [LINE...]: $confdir/NAME.conf, no password in it.
ct_conf() {
	_n=$1
	_j=$2
	shift 2
	{
		echo "jid = $_j"
		echo "server = 127.0.0.1:$PROSODY_PORT"
		echo "tls = starttls"
		echo "ca_file = $confdir/ca.pem"
		echo "control_group = xmppd-ctl"
		for _l in "$@"; do echo "$_l"; done
	} | ct_pipe sh -c "cat >'$confdir/$_n.conf'"
}
# The passwords are credentials, $confdir/password and
# $confdir/NAME.password; but bob's is a password_file the daemon reads.
for u in bot alice bob; do
	f=$u.password
	[ $u = bot ] && f=password
	[ $u = bob ] && f=bob.pw
	printf 'pw-%s-%s\n' "$u" "$$" |
	    ct_pipe sh -c "umask 077; cat >'$confdir/$f'"
done
ct_run chown xmppd "$confdir/bob.pw"
ct_conf xmppd "bot@$DOMAIN/main"
ct_conf alice "alice@$DOMAIN/a"
ct_conf bob "bob@$DOMAIN/b" "password_file = $confdir/bob.pw"
check "sysusers.d made the user xmppd and the group xmppd-ctl" \
    ct_run sh -c 'id xmppd && getent group xmppd-ctl'
for u in xmppd.service xmppd@alice.service; do
	e=$(exposure $u)
	ok "$([ -n "$e" ] && [ "$e" -lt 20 ] && echo 0 || echo 1)" \
	    "systemd-analyze security $u: ${e:+$((e / 10)).$((e % 10))} < 2.0"
done

# --- start, STATUS=, the control group -----------------------------------------

check "systemctl start xmppd" ct_run systemctl start xmppd
is "$(ct_run systemctl is-active xmppd)" active "active: READY=1 arrived"
check "systemctl status: 'online as bot@$DOMAIN/main'" \
    wait_for 15 status_is xmppd "online as bot@$DOMAIN/main"
diag "STATUS: $(status_text xmppd)"
check "the server has bot@$DOMAIN/main online" \
    wait_for 5 prosody_has_session "bot@$DOMAIN/main"
check "the password came as a credential, not from the config" \
    ct_run sh -c "test -f '$conf' && ! grep -q password '$conf'"
out=$(as_op "$ctl" status 2>&1) && r=0 || r=$?
ok "$r" "xmppd-ctl status as a member of xmppd-ctl"
like "$out" "^state +online" "... says online"
like "$out" "bot@$DOMAIN" "... as bot"
check_fail "xmppd-ctl status as a non-member is refused" \
    ct_run runuser -u eve -- "$ctl" status
is "$(ct_run stat -c '%A %U %G' /run/xmppd/xmppd.sock)" \
    "srw-rw---- xmppd xmppd-ctl" "the socket: 0660, group xmppd-ctl"
unlike "$(ct_run journalctl -q -u xmppd -o cat)" "no rtnetlink" \
    "the sandbox lets the daemon watch rtnetlink"
like "$(ct_run journalctl -q -u xmppd XMPPD_STATE=online -o verbose)" \
    "XMPPD_JID=bot@$DOMAIN\$" \
    "the journal has XMPPD_STATE=online with XMPPD_JID (the account)"

# --- reload ----------------------------------------------------------------------

pid=$(main_pid xmppd)
ct_conf xmppd "bot@$DOMAIN/main" "presence_show = dnd"
check "systemctl reload xmppd" ct_run systemctl reload xmppd
presence_dnd() { as_op "$ctl" status | grep -Eq '^presence +dnd'; }
check "the reload applied the new config (presence dnd)" \
    wait_for 5 presence_dnd
is "$(main_pid xmppd)" "$pid" "... in the same process"

# --- the watchdog ------------------------------------------------------------------

pid=$(main_pid xmppd)
nr=$(ct_run systemctl show -p NRestarts --value xmppd)
restarted() {
	_p=$(main_pid xmppd)
	[ -n "$_p" ] && [ "$_p" != 0 ] && [ "$_p" != "$pid" ] &&
	    [ "$(ct_run systemctl show -p NRestarts --value xmppd)" -gt "$nr" ]
}
t0=$(_now_ms)
# Never "kill -STOP 0": that would stop this test's own process group.
case $pid in
''|0|1|*[!0-9]*) bail "no main PID for xmppd.service: '$pid'" ;;
esac
ct_run kill -STOP "$pid"
check "SIGSTOP: the watchdog (WatchdogSec=3s) restarts xmppd" \
    wait_for 20 restarted
diag "restarted after $(ms_since "$t0") ms"
like "$(ct_run journalctl -q -u xmppd -o cat)" "[Ww]atchdog timeout" \
    "the journal says why"
check "back online after the restart" \
    wait_for 15 status_is xmppd "online as bot@$DOMAIN/main"

# --- template instances --------------------------------------------------------------

check "systemctl start xmppd@alice xmppd@bob" \
    ct_run systemctl start xmppd@alice xmppd@bob
both_online() {
	status_is xmppd@alice "online as alice@$DOMAIN/a" &&
	    status_is xmppd@bob "online as bob@$DOMAIN/b" &&
	    prosody_has_session "alice@$DOMAIN/a" &&
	    prosody_has_session "bob@$DOMAIN/b"
}
check "both online side by side, each with its own account" \
    wait_for 15 both_online
own_sockets() {
	as_op "$ctl" -i alice status | grep -q "alice@$DOMAIN" &&
	    as_op "$ctl" -i bob status | grep -q "bob@$DOMAIN" &&
	    ct_run test -S /run/xmppd/alice.sock &&
	    ct_run test -S /run/xmppd/bob.sock
}
check "each has its own socket: xmppd-ctl -i alice, -i bob" own_sockets
is "$(ct_run stat -c '%U %a' /var/lib/xmppd/alice /var/lib/xmppd/bob)" \
    "xmppd 700
xmppd 700" "each has its own state directory"
check "xmppd@bob, online with LoadCredential= reset and no bob.password" \
    ct_run test ! -e "$confdir/bob.password"
still_there() {
	ct_run systemctl stop xmppd@alice &&
	    as_op "$ctl" -i bob status | grep -q "bob@$DOMAIN" &&
	    as_op "$ctl" status | grep -q "bot@$DOMAIN"
}
check "stopping one instance leaves the others' sockets alone" still_there
check "systemctl start xmppd@alice.socket" \
    ct_run systemctl start xmppd@alice.socket
check "xmppd-ctl -i alice status starts xmppd@alice through it" \
    as_op "$ctl" -t 10 -i alice status
check "... which goes online" \
    wait_for 15 status_is xmppd@alice "online as alice@$DOMAIN/a"

# --- stop ------------------------------------------------------------------------------

t0=$(_now_ms)
ct_run systemctl stop xmppd
wait_for_not 3 prosody_has_session "bot@$DOMAIN/main" && r=0 || r=1
dt=$(ms_since "$t0")
ok "$([ $r = 0 ] && [ "$dt" -le 2000 ] && echo 0 || echo 1)" \
    "systemctl stop: offline on the server within 2 s (${dt} ms)"
is "$(ct_run systemctl is-active xmppd)" inactive "a clean stop, not failed"

# --- socket activation -------------------------------------------------------------------

check "systemctl start xmppd.socket" ct_run systemctl start xmppd.socket
is "$(ct_run stat -c '%A %G' /run/xmppd/xmppd.sock)" "srw-rw---- xmppd-ctl" \
    "the socket is there, 0660, group xmppd-ctl"
is "$(ct_run systemctl is-active xmppd.service)" inactive \
    "... before the daemon runs"
check "xmppd-ctl status starts the daemon through it" as_op "$ctl" -t 10 status
like "$(ct_run journalctl -q -u xmppd -o cat)" \
    "control socket passed by systemd" "the daemon took the socket from systemd"
check "and goes online" \
    wait_for 15 status_is xmppd "online as bot@$DOMAIN/main"

ct_run systemctl stop xmppd.socket xmppd xmppd@alice.socket xmppd@alice \
    xmppd@bob >/dev/null 2>&1
no_sanitizer_journal() {
	! ct_run journalctl -q -o cat |
	    grep -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' >&2
}
check "no sanitizer reports in the journal" no_sanitizer_journal
