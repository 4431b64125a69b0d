# container.sh: boot a real systemd in a throw-away container, for tests.
# Sourced by t-systemd.sh.  Needs root, debootstrap and systemd-nspawn
# (tests/systemd/packages).
#
#	ct_rootfs PKG...	print the path of a cached Debian tree with
#				systemd and PKG... (built once, then reused)
#	ct_lib_packages BIN...	the Debian packages of BIN's shared libraries
#	ct_boot ROOT NAME	boot ROOT as container NAME; sets CT_INIT
#	ct_run CMD...		run CMD inside, as root, with a clean env
#	ct_pipe CMD...		the same, with standard input passed on
#	ct_poweroff		power it off (safe to call twice; use in traps)
#
# What makes systemd-nspawn work on a host whose PID 1 is not systemd:
# --register=no --keep-unit (no machined, no D-Bus), a private mount
# namespace with a tmpfs over /run/systemd/nspawn (the host /run is on disk
# and nspawn refuses to clean it), and a cgroup of its own under both the
# "systemd" and "unified" hierarchies, or two containers share one.
# --volatile=overlay keeps the cached tree pristine: every boot starts
# from the same state and writes go to a tmpfs.

CT_CACHE=${XMPPD_TEST_CACHE:-/var/cache/xmppd-test}
CT_CGROUP=xmppd-test
CT_NSPAWN_PID=
CT_INIT=
CT_NAME=
CT_LOG=

# The Debian mirror and suite apt uses on this host, as "SUITE URI".
ct_mirror() {
	suite=$(. /etc/os-release && echo "$VERSION_CODENAME")
	[ -n "$suite" ] || return 1
	apt-get indextargets --format '$(RELEASE) $(REPO_URI)' \
	    'Identifier: Packages' 2>/dev/null |
	    awk -v s="$suite" '$1 == s { print $1, $2; exit }'
}

# ct_rootfs PKG...: the tree lives in $CT_CACHE/rootfs-<hash of the
# package list>, built under a lock and renamed into place when complete.
ct_rootfs() {
	set -- systemd systemd-sysv dbus libnss-systemd util-linux procps "$@"
	pkgs=$(printf '%s\n' "$@" | sort -u | paste -sd, -)
	m=$(ct_mirror) || m=
	[ -n "$m" ] || { echo "ct_rootfs: no apt mirror found" >&2; return 1; }
	key=$(printf '%s %s\n' "$m" "$pkgs" | md5sum | cut -c1-12)
	dir=$CT_CACHE/rootfs-$key
	mkdir -p "$CT_CACHE" || return 1
	(
		flock 9
		# Trees of other package lists unused for two weeks go.
		find "$CT_CACHE" -mindepth 1 -maxdepth 1 -name 'rootfs-*' \
		    ! -name "rootfs-$key" -mtime +14 -exec rm -rf {} + 2>/dev/null
		if [ -x "$dir/lib/systemd/systemd" ]; then
			touch "$dir"
			exit 0
		fi
		rm -rf "$dir.new"
		echo "# building $dir with debootstrap (once)" >&2
		# shellcheck disable=SC2086
		debootstrap --variant=minbase --include="$pkgs" \
		    ${m%% *} "$dir.new" "${m#* }" >"$CT_CACHE/debootstrap.log" 2>&1 ||
		    { tail -n 20 "$CT_CACHE/debootstrap.log" >&2; exit 1; }
		# Quiet, quick boots: nothing the tests do not need.
		chroot "$dir.new" systemctl mask -q apt-daily.timer \
		    apt-daily-upgrade.timer dpkg-db-backup.timer \
		    e2scrub_all.timer e2scrub_reap.service \
		    systemd-timesyncd.service console-getty.service \
		    getty@.service 2>/dev/null
		echo xmppd-test >"$dir.new/etc/hostname"
		# Unprivileged services must be able to traverse the root.
		chmod 0755 "$dir.new"
		mv "$dir.new" "$dir"
	) 9>"$CT_CACHE/lock" || return 1
	echo "$dir"
}

# ct_lib_packages BIN...: the runtime libraries of the programs (ldd) as
# Debian packages, the sanitizer runtimes too when the build has them.
# t-systemd.sh and t-deb.sh ask ct_rootfs for these (plus
# ca-certificates), so that both share one cached tree.
ct_lib_packages() {
	ldd "$@" |
	    awk '$2 == "=>" && $3 ~ /^\// { print $3 }' | sort -u |
	    while read -r lib; do
		for p in "$lib" "$(readlink -f "$lib")" "/usr$lib" \
		    "${lib#/usr}"; do
			dpkg -S "$p" 2>/dev/null && break
		done
	    done | cut -d: -f1 | sort -u
}

# ct_cgroup_dirs NAME: the container's cgroups, in the "systemd" and
# "unified" hierarchies of a hybrid host, or in the one of a cgroup2 host.
ct_cgroup_dirs() {
	if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
		echo "/sys/fs/cgroup/$CT_CGROUP/$1"
		return
	fi
	for h in systemd unified; do
		[ -d /sys/fs/cgroup/$h ] && echo "/sys/fs/cgroup/$h/$CT_CGROUP/$1"
	done
}

ct_boot() {
	root=$1
	CT_NAME=$2
	CT_LOG=${CT_LOG:-/dev/null}
	for d in $(ct_cgroup_dirs "$CT_NAME"); do
		mkdir -p "$d" || return 1
	done
	mkdir -p /run/systemd/nspawn
	# The inner shell moves itself into the fresh cgroups, then becomes
	# systemd-nspawn, so CT_NSPAWN_PID is nspawn's PID.
	unshare -m --propagation private sh -c '
		mount -t tmpfs -o mode=0755 tmpfs /run/systemd/nspawn || exit 1
		for d in $3; do echo $$ >"$d/cgroup.procs" || exit 1; done
		exec systemd-nspawn -q -D "$1" -M "$2" -b --register=no \
		    --keep-unit --volatile=overlay --console=read-only
	' ct "$root" "$CT_NAME" "$(ct_cgroup_dirs "$CT_NAME")" \
	    </dev/null >>"$CT_LOG" 2>&1 &
	CT_NSPAWN_PID=$!
	# PID 1 of the container: the child of systemd-nspawn.
	i=0
	while [ $i -lt 200 ]; do
		CT_INIT=$(ps -o pid= --ppid "$CT_NSPAWN_PID" 2>/dev/null |
		    head -n 1 | tr -d ' ')
		if [ -n "$CT_INIT" ] &&
		    [ "$(cat /proc/"$CT_INIT"/comm 2>/dev/null)" = systemd ]; then
			break
		fi
		CT_INIT=
		kill -0 "$CT_NSPAWN_PID" 2>/dev/null || return 1
		sleep 0.1
		i=$((i + 1))
	done
	[ -n "$CT_INIT" ] || return 1
	# Up when the boot job queue is empty ("running" or "degraded").
	i=0
	while [ $i -lt 300 ]; do
		st=$(ct_run systemctl is-system-running 2>/dev/null)
		case $st in
		running|degraded) return 0 ;;
		esac
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# Standard input is /dev/null: a command that finds a terminal there (the
# password agent of systemctl) would stop the whole test in the
# background (SIGTTIN).  ct_pipe CMD... passes standard input on.
ct_run() {
	ct_pipe "$@" </dev/null
}

ct_pipe() {
	nsenter -t "$CT_INIT" -m -u -i -n -p -C -- \
	    env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	    LANG=C.UTF-8 SYSTEMD_PAGER= SYSTEMD_COLORS=0 "$@"
}

ct_poweroff() {
	# SIGRTMIN+4 to the container's PID 1: poweroff.  Only while it is
	# still nspawn's child, never to a recycled PID.
	if [ -n "$CT_INIT" ] && [ -n "$CT_NSPAWN_PID" ] &&
	    [ "$(ps -o ppid= -p "$CT_INIT" 2>/dev/null | tr -d ' ')" = \
	    "$CT_NSPAWN_PID" ]; then
		kill -s RTMIN+4 "$CT_INIT" 2>/dev/null
	fi
	if [ -n "$CT_NSPAWN_PID" ]; then
		i=0
		while kill -0 "$CT_NSPAWN_PID" 2>/dev/null && [ $i -lt 100 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		if kill -0 "$CT_NSPAWN_PID" 2>/dev/null; then
			echo "# container did not power off; killing it" >&2
			[ -n "$CT_INIT" ] && [ "$(ps -o ppid= -p "$CT_INIT" \
			    2>/dev/null | tr -d ' ')" = "$CT_NSPAWN_PID" ] &&
			    kill -9 "$CT_INIT" 2>/dev/null
			kill -9 "$CT_NSPAWN_PID" 2>/dev/null
			sleep 0.5
		fi
		wait "$CT_NSPAWN_PID" 2>/dev/null
	fi
	if [ -n "$CT_NAME" ]; then
		for d in $(ct_cgroup_dirs "$CT_NAME"); do
			[ -d "$d" ] && find "$d" -depth -type d \
			    -exec rmdir {} \; 2>/dev/null
		done
	fi
	CT_INIT=
	CT_NSPAWN_PID=
	CT_NAME=
}
