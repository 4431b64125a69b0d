#!/bin/sh
#
# t-units.sh: the systemd units as "make install" installs them, checked
# without a running systemd: "systemd-analyze verify" must print nothing
# at all (a warning is a failure, whatever its exit status), and
# "systemd-analyze security --offline" must rate each service below 2.0.
#
# The units are checked in a scratch root (--root): the DESTDIR install,
# plus this host's own units (for the targets they name) and /bin/kill
# (ExecReload=), so that every path the units name resolves there.  With
# MANPATH pointing into it, verify also proves the man pages of
# Documentation= are installed.

: "${top_builddir:=.}"
: "${top_srcdir:=.}"

if ! command -v systemd-analyze >/dev/null 2>&1; then
	echo "1..0 # SKIP systemd-analyze not installed"
	exit 0
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/t-units.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM
root=$tmp/root

n=0
failed=0
ok() {
	n=$((n + 1))
	echo "ok $n - $1"
}
notok() {
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n - $1"
	[ -s "$tmp/out" ] && sed 's/^/#   /' "$tmp/out"
	return 0
}

echo "1..11"

if env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL ${MAKE:-make} -s \
    -C "$top_builddir" install DESTDIR="$root" >"$tmp/out" 2>&1; then
	ok "make install DESTDIR=..."
else
	notok "make install DESTDIR=..."
	exit 1
fi

unitdir=$(dirname "$(find "$root" -name xmppd.service -type f | head -n 1)")
names="xmppd.service xmppd.socket xmppd@.service xmppd@.socket"
missing=
for u in $names; do
	[ -f "$unitdir/$u" ] || missing="$missing $u"
done
if [ -d "$unitdir" ] && [ -z "$missing" ] &&
    find "$root" -path '*/sysusers.d/xmppd.conf' | grep -q .; then
	ok "units and sysusers.d/xmppd.conf installed (${unitdir#"$root"})"
else
	: >"$tmp/out"
	notok "units and sysusers.d/xmppd.conf installed (missing:$missing)"
	exit 1
fi

conf=$(sed -n 's/^ExecStart=.* -f //p' "$unitdir/xmppd.service")
if [ -f "$root$conf" ]; then
	ok "sample config installed as $conf"
else
	: >"$tmp/out"
	notok "sample config installed as $conf"
fi

sysusers=$(find "$root" -path '*/sysusers.d/xmppd.conf' | head -n 1)
if command -v systemd-sysusers >/dev/null 2>&1; then
	systemd-sysusers --dry-run --root="$root" "$sysusers" >"$tmp/out" 2>&1
	if [ $? -eq 0 ] && grep -q "group 'xmppd-ctl'" "$tmp/out" &&
	    grep -q "user 'xmppd'" "$tmp/out" &&
	    ! grep -Eiq 'warn|invalid|ignor|fail' "$tmp/out"; then
		ok "sysusers.d/xmppd.conf: user xmppd, group xmppd-ctl"
	else
		notok "sysusers.d/xmppd.conf: user xmppd, group xmppd-ctl"
	fi
else
	n=$((n + 1))
	echo "ok $n # SKIP systemd-sysusers not installed"
fi

# A second install keeps a changed config.
echo "# changed" >>"$root$conf"
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL ${MAKE:-make} -s -C "$top_builddir" \
    install DESTDIR="$root" >"$tmp/out" 2>&1
if tail -n 1 "$root$conf" | grep -qx "# changed"; then
	ok "make install keeps an existing $conf"
else
	notok "make install keeps an existing $conf"
fi

# A unit directory systemd does not search (a "make distcheck" prefix):
# copy the units to /etc/systemd/system (a symlink would be followed
# outside the scratch root).
case ${unitdir#"$root"} in
/etc/systemd/system|/usr/local/lib/systemd/system|/usr/lib/systemd/system|/lib/systemd/system)
	;;
*)
	mkdir -p "$root/etc/systemd/system"
	for u in $names; do
		cp "$unitdir/$u" "$root/etc/systemd/system/$u"
	done
	echo "# ${unitdir#"$root"} is not searched by systemd: units copied"
	;;
esac

# The scratch root: merged /usr as on Debian, the host's units, kill.
for d in bin sbin lib; do
	[ -e "$root/$d" ] || ln -s "usr/$d" "$root/$d"
done
mkdir -p "$root/usr/bin" "$root/usr/lib/systemd/system"
cp -n /usr/lib/systemd/system/*.target "$root/usr/lib/systemd/system/" \
    2>/dev/null
for k in /bin/kill /usr/bin/kill; do
	[ -x "$k" ] && [ ! -e "$root/usr/bin/kill" ] && cp "$k" "$root/usr/bin/kill"
done

man=
if command -v man >/dev/null 2>&1; then
	MANPATH=$(find "$root" -type d -name man | paste -sd: -)
	export MANPATH
else
	man=--man=no
	echo "# man not installed: Documentation= is not checked"
fi

for u in xmppd.service xmppd.socket xmppd@test.service xmppd@test.socket; do
	# shellcheck disable=SC2086
	systemd-analyze verify --root="$root" $man "$u" >"$tmp/out" 2>&1
	rc=$?
	if [ $rc -eq 0 ] && [ ! -s "$tmp/out" ]; then
		ok "systemd-analyze verify $u: silent"
	else
		echo "exit status $rc" >>"$tmp/out"
		notok "systemd-analyze verify $u: silent"
	fi
done

for u in xmppd.service xmppd@test.service; do
	systemd-analyze security --offline=true --root="$root" --no-pager \
	    "$u" >"$tmp/out" 2>&1
	e=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9]*\)\.\([0-9]\).*/\1\2/p' \
	    "$tmp/out")
	if [ -n "$e" ] && [ "$e" -lt 20 ]; then
		ok "systemd-analyze security $u: $((e / 10)).$((e % 10)) < 2.0"
	else
		notok "systemd-analyze security $u: ${e:-?} (x10) not < 2.0"
	fi
done 2>/dev/null

echo "# $failed of $n failed"
[ $failed -eq 0 ]
