#!/bin/sh
#
# t-deb.sh: the Debian package, built from a clean copy of the tree with
# "dpkg-buildpackage -us -uc -b", checked with lintian, then installed in
# the real-systemd container (container.sh) against a Prosody on the
# host's 127.0.0.1: install, an account online as xmppd@bot, an upgrade
# to a newer build while a watcher subscribed to the bot sees no
# unavailable presence (the maintainer scripts hand the XEP-0198 session
# over), remove, purge.
#
# The newer build is the same tree with one more changelog entry, built
# again in the same directory (dpkg-buildpackage -nc): only the packaging
# steps run a second time.
#
# Needs root, git, dpkg-buildpackage, debhelper, lintian, debootstrap and
# systemd-nspawn (tests/systemd/packages) and prosody, else it skips
# (XMPPD_REQUIRE_ALL=1: fails).  XMPPD_KEEP_T=1 keeps $T, with the
# container's journal in $T/journal.log.
set -u
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/systemd/container.sh"

[ "$(id -u)" = 0 ] || skip_all "needs root"
for c in git dpkg-buildpackage dh lintian debootstrap systemd-nspawn \
    nsenter unshare flock apt-get; do
	command -v "$c" >/dev/null 2>&1 || skip_all "$c is not installed"
done
[ -d /sys/fs/cgroup/unified ] || [ -f /sys/fs/cgroup/cgroup.controllers ] ||
    skip_all "no cgroup hierarchy for a container"
git -C "$top_srcdir" rev-parse --git-dir >/dev/null 2>&1 ||
    skip_all "$top_srcdir is not a git checkout"
need_xmppd
CT_LOG=$T/console.log

ct_cleanup() {
	[ -n "$CT_INIT" ] && ct_run journalctl -q --no-pager -o short-precise \
	    >"$T/journal.log" 2>&1
	ct_poweroff
}
main_pid() { ct_run systemctl show -p MainPID --value "$1"; }
status_is() {
	case $(ct_run systemctl show -p StatusText --value "$1") in
	"$2"*) return 0 ;;
	esac
	return 1
}
ms_since() { echo $(($(_now_ms) - $1)); }

plan 35

# --- build ---------------------------------------------------------------
# The files git knows, as they are in the worktree: no build output, no
# autoreconf results.
src=$T/pkg/xmppd
mkdir -p "$src"
(cd "$top_srcdir" && git ls-files -z | xargs -0 tar -cf - --) |
    tar -C "$src" -xf - || bail "cannot copy the tree"
t0=$(_now_ms)
(cd "$src" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL dpkg-buildpackage -us -uc -b -j2) >"$T/build1.log" 2>&1 &&
    r=0 || r=$?
ok "$r" "dpkg-buildpackage -us -uc -b from a clean tree ($(ms_since "$t0") ms)"
[ "$r" = 0 ] || { tail -n 30 "$T/build1.log" | sed 's/^/# /'; bail "no package"; }
ver1=$(cd "$src" && dpkg-parsechangelog -S Version)
deb1=$T/pkg/xmppd_${ver1}_$(dpkg --print-architecture).deb
changes1=${deb1%.deb}.changes
check "the .deb is there" test -f "$deb1"
lint=$(lintian --pedantic "$changes1" 2>&1 | grep -v '^running with root')
unlike "$lint" '^[EW]: ' "lintian: no error, no warning"
[ -n "$lint" ] && diag "$lint"

# The newer build: one more changelog entry, the same tree.
ver2=$ver1+upgradetest1
{
	printf 'xmppd (%s) unstable; urgency=medium\n\n' "$ver2"
	printf '  * Upgrade test build (tests/systemd/t-deb.sh).\n\n'
	printf ' -- xmppd developers <xmppd@packages.invalid>  %s\n\n' \
	    "$(date -R)"
	cat "$src/debian/changelog"
} >"$T/changelog" && mv "$T/changelog" "$src/debian/changelog"
t0=$(_now_ms)
(cd "$src" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL dpkg-buildpackage -us -uc -b -nc -j2) >"$T/build2.log" 2>&1 &&
    r=0 || r=$?
ok "$r" "a second build, version $ver2 ($(ms_since "$t0") ms)"
deb2=$T/pkg/xmppd_${ver2}_$(dpkg --print-architecture).deb
check "... its .deb is there" test -f "$deb2"
files=$(dpkg-deb -c "$deb1" | awk '{ print $6 }')
for f in ./lib/systemd/system/xmppd.service ./lib/systemd/system/xmppd@.service \
    ./lib/systemd/system/xmppd.socket ./lib/systemd/system/xmppd@.socket \
    ./usr/lib/sysusers.d/xmppd.conf \
    ./usr/share/bash-completion/completions/xmppd-ctl \
    ./usr/share/man/man8/xmppd.8.gz; do
	echo "$files" | grep -qx "$f" || diag "missing: $f"
done
ok "$(for f in xmppd.service xmppd@.service xmppd.socket xmppd@.socket \
    sysusers.d/xmppd.conf completions/xmppd-ctl man8/xmppd.8.gz; do
	echo "$files" | grep -q "/$f\$" || echo x; done | grep -c x)" \
    "units, sysusers file, completion and manuals are in the package"
like "$(dpkg-deb -f "$deb1" Depends)" 'systemd \| systemd-standalone-sysusers' \
    "Depends: a systemd-sysusers (dh_installsysusers)"

# --- the container -----------------------------------------------------------
# The package's dependencies, with what t-systemd.sh asks for: the
# same list, hence the same cached tree, when they are a subset of it.
pkgs=$(dpkg-deb -f "$deb1" Depends | tr ',' '\n' |
    sed -e 's/(.*)//' -e 's/|.*//' -e 's/[[:space:]]//g' | grep -v '^$')
# shellcheck disable=SC2046,SC2086
root=$(ct_rootfs $(ct_lib_packages "$XMPPD" "$XMPPD_CTL") ca-certificates \
    $pkgs) ||
    bail "cannot build the container tree (see $CT_CACHE/debootstrap.log)"
prosody_start --cfg 'smacks_hibernation_time = 60' || bail "prosody did not start"
prosody_adduser bot "pw-bot-$$" || bail "cannot create bot"
prosody_adduser watcher watchpw || bail "cannot create watcher"
ct_boot "$root" "xmppd-deb-$$" || { ct_poweroff; bail "the container did not boot"; }
track_pid systemd-nspawn "$CT_NSPAWN_PID"
trap '_ct_rc=$?; ct_cleanup; (exit $_ct_rc); _on_exit' EXIT
for d in "$deb1" "$deb2"; do
	ct_pipe sh -c "cat >/root/${d##*/}" <"$d" || bail "cannot copy $d"
done

apt_in() {
	ct_run env DEBIAN_FRONTEND=noninteractive apt-get -q -y \
	    -o Dpkg::Options::=--force-confold "$@" >>"$T/apt.log" 2>&1
}
check "apt install ./xmppd_$ver1.deb" apt_in install "/root/${deb1##*/}"
is "$(ct_run systemctl is-active xmppd.service xmppd.socket)" "inactive
inactive" "nothing unconfigured was started"
is "$(ct_run systemctl is-enabled xmppd.service)" disabled \
    "... nor enabled"
check "dh_installsysusers made the user xmppd and the group xmppd-ctl" \
    ct_run sh -c 'id xmppd && getent group xmppd-ctl'
is "$(ct_run stat -c '%a %U' /etc/xmppd/xmppd.conf)" "644 root" \
    "the sample config, /etc/xmppd/xmppd.conf"
check "it is a conffile" ct_run grep -qx /etc/xmppd/xmppd.conf \
    /var/lib/dpkg/info/xmppd.conffiles
check "the package made no password file" \
    ct_run sh -c '! ls /etc/xmppd | grep -q password'
check "bash completion installed where bash-completion looks" \
    ct_run test -f /usr/share/bash-completion/completions/xmppd-ctl

# An account, the way README.md tells an operator.
ct_pipe sh -c "cat >/etc/xmppd/ca.pem" <"$T/certs/ca.pem"
printf 'pw-bot-%s\n' "$$" |
    ct_pipe sh -c 'umask 077; cat >/etc/xmppd/bot.password'
printf '%s\n' "jid = bot@$DOMAIN/pkg" "server = 127.0.0.1:$PROSODY_PORT" \
    "tls = starttls" "ca_file = /etc/xmppd/ca.pem" \
    "control_group = xmppd-ctl" | ct_pipe sh -c 'cat >/etc/xmppd/bot.conf'
is "$(ct_run stat -c '%a' /etc/xmppd/bot.password)" 600 \
    "the password file is 0600"
echo '# changed by the administrator' |
    ct_pipe sh -c 'cat >>/etc/xmppd/xmppd.conf'
check "systemctl enable --now xmppd@bot" \
    ct_run systemctl enable --now xmppd@bot
check "online as bot@$DOMAIN/pkg" \
    wait_for 20 status_is xmppd@bot "online as bot@$DOMAIN/pkg"
check "the server has the session" wait_for 5 prosody_has_session "bot@$DOMAIN/pkg"
sm_ok() { ct_run xmppd-ctl -i bot status | grep -Eq '^sm +(resumable|resumed)'; }
check "stream management: resumable" wait_for 10 sm_ok

# --- upgrade -----------------------------------------------------------------
xmpp_client --user watcher --password watchpw --resource s \
    --subscribe "bot@$DOMAIN" --expect-presence "bot@$DOMAIN" --timeout 15 \
    >/dev/null 2>&1 || :
xmpp_client_bg watch --user watcher --password watchpw --resource w \
    --hold 90 --timeout 100
wait_for 10 prosody_has_session "watcher@$DOMAIN/w" ||
    bail "the watcher did not come online"
pid=$(main_pid xmppd@bot)
t0=$(_now_ms)
check "apt install ./xmppd_$ver2.deb (upgrade)" apt_in install "/root/${deb2##*/}"
diag "upgrade took $(ms_since "$t0") ms"
is "$(ct_run dpkg-query -W -f '${Version}' xmppd)" "$ver2" "version $ver2 installed"
new_pid() { _p=$(main_pid xmppd@bot); [ -n "$_p" ] && [ "$_p" != 0 ] && [ "$_p" != "$pid" ]; }
check "xmppd@bot runs a new process" wait_for 10 new_pid
check "online again" \
    wait_for 20 status_is xmppd@bot "online as bot@$DOMAIN/pkg"
like "$(ct_run journalctl -q -u xmppd@bot -o cat)" \
    "handover: keeping the session" "the old process handed the session over"
check "the new process resumed it" wait_for 10 sh -c \
    "nsenter -t $CT_INIT -m -u -i -n -p -C -- journalctl -q -u xmppd@bot -o cat | grep -q 'session resumed, online'"
sleep 1
unlike "$(cat "$T/client-watch.out")" "PRESENCE bot@$DOMAIN/pkg unavailable" \
    "the watcher saw no unavailable presence across the upgrade"
like "$(ct_run tail -n 1 /etc/xmppd/xmppd.conf)" "changed by the administrator" \
    "the changed conffile was kept"

# --- remove, purge --------------------------------------------------------------
check "apt remove xmppd" apt_in remove xmppd
is "$(ct_run systemctl is-active xmppd@bot)" inactive "xmppd@bot was stopped"
check "remove keeps the conffile and the state" \
    ct_run test -f /etc/xmppd/xmppd.conf -a -d /var/lib/xmppd
check "apt purge xmppd" apt_in purge xmppd
check "purge: the conffile and /var/lib/xmppd are gone" \
    ct_run sh -c '! test -e /etc/xmppd/xmppd.conf && ! test -e /var/lib/xmppd'
check "purge: the administrator's files stay (bot.conf, bot.password)" \
    ct_run test -f /etc/xmppd/bot.conf -a -f /etc/xmppd/bot.password
check "purge: the system user stays, as Debian policy asks" ct_run id xmppd
