# tests/integration/lib.sh -- shared harness for the integration tests.
#
# Sourced by tests/integration/t-*.sh, which automake's TAP driver runs from
# the build directory with top_srcdir and top_builddir exported.  POSIX sh
# plus "local" (dash and bash both work).  A test looks like:
#
#	#!/bin/sh
#	set -eu
#	. "$top_srcdir/tests/integration/lib.sh"
#	need_xmppd
#	plan 3
#	prosody_start || bail "prosody did not start"
#	prosody_adduser bot secret
#	write_conf "$T/xmppd.conf"
#	xmppd_start "$T/xmppd.conf"
#	check "READY=1 sent" wait_notify 10 '^READY=1$'
#	check "online" xmppd_ctl wait-online
#	is "$(prosody_session_count bot)" 1 "one session on the server"
#
# Everything a test starts is stopped by the EXIT/INT/TERM trap.  $T is
# removed when the test passed, and kept (with the tail of every log
# printed) when it did not.
#
# API (details above each function):
#  TAP      plan N; ok STATUS DESC; check DESC CMD...; check_fail DESC CMD...;
#           check_status WANT DESC CMD...; is GOT WANT DESC; isnt; like GOT
#           ERE DESC; unlike; pass DESC; fail DESC; skip DESC REASON; diag
#           MSG; bail REASON; skip_all REASON; done_testing; tap_failures
#  procs    track_pid NAME PID; pid_alive PID; stop_pid PID [TIMEOUT [SIG]]
#  waits    wait_for TIMEOUT CMD...; wait_for_not TIMEOUT CMD...; wait_file
#           TIMEOUT FILE; wait_grep TIMEOUT ERE FILE; count_grep ERE FILE;
#           wait_log TIMEOUT ERE; wait_notify TIMEOUT ERE
#  net      free_port; port_open PORT [HOST]; make_certs
#  prosody  prosody_start [--no-register] [--wrong-cert] [--tls12] [--cfg L]
#           [--vhost-cfg L]; prosody_stop; prosody_restart; prosody_kill;
#           prosody_pid; prosody_running; prosody_ctl ARGS; prosody_shell
#           ARGS; prosody_adduser U P; prosody_deluser U; prosody_passwd U P;
#           prosody_user_exists U; prosody_sessions; prosody_sessions_verbose;
#           prosody_session_count U; prosody_has_session JID; prosody_kick
#           JID [COND [TEXT]]; wait_prosody_log TIMEOUT ERE
#  clients  xmpp_client ARGS...; xmpp_client_bg NAME ARGS...
#  bad      badserver_start SCENARIO [ARGS]; badserver_connects [LOG];
#           badserver_stop [PID]
#  xmppd    need_xmppd; write_conf FILE [K=V...]; notify_sink_start;
#           xmppd_start [CONF [ARGS]]; xmppd_stop [TIMEOUT]; xmppd_signal
#           SIG; xmppd_kill; xmppd_wait_exit TIMEOUT; xmppd_running;
#           xmppd_ctl ARGS...; no_sanitizer_reports
#  vars     T DOMAIN BOT_USER BOT_PASSWORD BOT_JID XMPPD XMPPD_CTL
#           NOTIFY_SINK BADSERVER PROSODY_PORT PROSODY_TLS_PORT PROSODY_PID
#           PROSODY_CFG PROSODY_DIR XMPPD_CONF XMPPD_SOCK XMPPD_LOG XMPPD_PID
#           NOTIFY_SOCKET_PATH NOTIFY_OUT NOTIFY_STAMPS NOTIFY_PID
#           CLIENT_PID BAD_PORT BAD_PID BAD_LOG
#
# Conventions:
#  - Functions return 0/1 and never exit, except bail and skip_all.
#  - Every wait is bounded; every external command runs under timeout(1).
#  - Servers listen on 127.0.0.1 only.
#
# Environment knobs:
#  XMPPD_REQUIRE_ALL=1	skip_all becomes "Bail out!" (CI: nothing may skip)
#  XMPPD_KEEP_T=1	keep $T even when the test passed
#  XMPPD_TEST_TMPDIR	parent of $T (default /tmp; keep it short: the
#			sockets live in $T and sun_path has 108 bytes)
#  XMPPD_WRAPPER	command prefix for xmppd (e.g. "valgrind -q")
#  XMPPD_WATCHDOG_USEC	if set, xmppd is started with WATCHDOG_USEC and a
#			matching WATCHDOG_PID
#  PROSODY_LOG_LEVEL	prosody log level (default debug)
#  XMPPD_LIB_NO_TAP=1	for scripts that are not tests (scripts/demo): no
#			TAP plan at exit, skip_all is an error

: "${top_srcdir:=.}"
: "${top_builddir:=.}"
# Absolute, so that a test may cd anywhere.
top_srcdir=$(cd "$top_srcdir" && pwd)
top_builddir=$(cd "$top_builddir" && pwd)

DOMAIN=xmppd.test
BOT_USER=bot
BOT_PASSWORD=secret
BOT_JID=bot@$DOMAIN/test

XMPPD=$top_builddir/src/xmppd
XMPPD_CTL=$top_builddir/src/xmppd-ctl
NOTIFY_SINK=$top_builddir/tests/helpers/notify-sink
BADSERVER=$top_srcdir/tests/helpers/badserver.py

_tap_n=0
_tap_failed=0
_tap_planned=
_tap_bailed=0
_tap_skipped_all=0

# ---------------------------------------------------------------- TAP ------

# plan N: announce N tests.
plan() {
	_tap_planned=$1
	echo "1..$1"
}

# diag MSG...: a TAP comment line per line of MSG.
diag() {
	printf '%s\n' "$*" | sed 's/^/# /'
}

# _tap_result STATUS DESC [DIRECTIVE]
_tap_result() {
	_tap_n=$((_tap_n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $_tap_n - $2${3:+ # $3}"
	else
		_tap_failed=$((_tap_failed + 1))
		echo "not ok $_tap_n - $2${3:+ # $3}"
	fi
}

# ok STATUS DESC: test passes when STATUS is 0 (e.g. ok "$?" "desc").
# Always returns 0, so that a failed test does not end a "set -e" script;
# note that under "set -e" the command before "ok $?" must not fail
# unguarded: prefer "check DESC CMD..." or "cmd && r=0 || r=$?; ok $r D".
ok() {
	case $1 in
	''|*[!0-9]*) _tap_result 1 "$2"; diag "ok: status '$1' is not a number" ;;
	*) _tap_result "$1" "$2" ;;
	esac
	return 0
}

# check DESC CMD...: run CMD (its stdout goes to stderr, i.e. the log);
# pass when it exits 0.  Returns 0.
check() {
	local _d _r
	_d=$1; shift
	"$@" >&2 && _r=0 || _r=$?
	_tap_result "$_r" "$_d"
	[ "$_r" -eq 0 ] || diag "  command failed (exit $_r): $*"
	return 0
}

# check_fail DESC CMD...: pass when CMD exits non-zero.
check_fail() {
	local _d _r
	_d=$1; shift
	"$@" >&2 && _r=0 || _r=$?
	if [ "$_r" -ne 0 ]; then
		_tap_result 0 "$_d"
	else
		_tap_result 1 "$_d"
		diag "  command unexpectedly succeeded: $*"
	fi
	return 0
}

# check_status WANT DESC CMD...: pass when CMD exits with status WANT.
check_status() {
	local _w _d _r
	_w=$1; _d=$2; shift 2
	"$@" >&2 && _r=0 || _r=$?
	if [ "$_r" -eq "$_w" ]; then
		_tap_result 0 "$_d"
	else
		_tap_result 1 "$_d"
		diag "  exit status $_r, wanted $_w: $*"
	fi
	return 0
}

# is GOT WANT DESC: string equality.
is() {
	if [ "$1" = "$2" ]; then
		_tap_result 0 "$3"
	else
		_tap_result 1 "$3"
		diag "       got: '$1'"
		diag "    wanted: '$2'"
	fi
	return 0
}

# isnt GOT UNWANTED DESC
isnt() {
	if [ "$1" != "$2" ]; then
		_tap_result 0 "$3"
	else
		_tap_result 1 "$3"
		diag "  got '$1', wanted anything else"
	fi
	return 0
}

# like GOT ERE DESC: GOT (possibly multi-line) has a line matching ERE.
like() {
	if printf '%s\n' "$1" | grep -Eq -- "$2"; then
		_tap_result 0 "$3"
	else
		_tap_result 1 "$3"
		diag "       got: '$1'"
		diag "  expected to match: /$2/"
	fi
	return 0
}

# unlike GOT ERE DESC
unlike() {
	if printf '%s\n' "$1" | grep -Eq -- "$2"; then
		_tap_result 1 "$3"
		diag "       got: '$1'"
		diag "  expected not to match: /$2/"
	else
		_tap_result 0 "$3"
	fi
	return 0
}

# pass DESC / fail DESC
pass() { _tap_result 0 "$1"; }
fail() { _tap_result 1 "$1"; return 0; }

# skip DESC REASON: one skipped test.
skip() {
	_tap_n=$((_tap_n + 1))
	echo "ok $_tap_n - $1 # SKIP ${2:-}"
}

# bail REASON: abort the whole test (the TAP driver reports an error).
bail() {
	_tap_bailed=1
	echo "Bail out! $*"
	exit 1
}

# skip_all REASON: skip this test file, unless XMPPD_REQUIRE_ALL=1, in which
# case it bails out (CI must not silently skip).
skip_all() {
	if [ "${XMPPD_LIB_NO_TAP:-0}" = 1 ]; then
		echo "error: $*" >&2
		exit 1
	fi
	if [ "${XMPPD_REQUIRE_ALL:-0}" = 1 ]; then
		bail "$* (XMPPD_REQUIRE_ALL=1 forbids skipping)"
	fi
	_tap_skipped_all=1
	echo "1..0 # SKIP $*"
	exit 0
}

# done_testing: print the plan now when none was given (also done at exit).
done_testing() {
	if [ -z "$_tap_planned" ]; then
		_tap_planned=$_tap_n
		echo "1..$_tap_n"
	fi
}

# tap_failures: number of failed tests so far.
tap_failures() { echo "$_tap_failed"; }

# ------------------------------------------------------ processes, $T ------

T=$(mktemp -d "${XMPPD_TEST_TMPDIR:-/tmp}/xmppd-t.XXXXXX") ||
	bail "mktemp failed"
: >"$T/.procs"

# track_pid NAME PID: stop PID (by pid, never by name) at exit.
track_pid() {
	echo "$2 $1" >>"$T/.procs"
}

# pid_alive PID: true while PID runs (a zombie counts as dead).
pid_alive() {
	local _st
	kill -0 "$1" 2>/dev/null || return 1
	_st=$(sed 's/.*) \(.\).*/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
	[ "$_st" != Z ] && [ "$_st" != X ]
}

# stop_pid PID [TIMEOUT [SIGNAL]]: send SIGNAL (TERM), wait up to TIMEOUT
# seconds (10), then SIGKILL.  Reaps the process when it is our child and
# returns its exit status (or 0 when it is not our child; 137 when killed).
stop_pid() {
	local _p _t _s _r
	_p=$1; _t=${2:-10}; _s=${3:-TERM}
	if pid_alive "$_p"; then
		kill -s "$_s" "$_p" 2>/dev/null || :
		if ! wait_for "$_t" _pid_dead "$_p"; then
			diag "pid $_p did not exit within ${_t}s after SIG$_s; killing"
			kill -s KILL "$_p" 2>/dev/null || :
			wait_for 5 _pid_dead "$_p" || :
		fi
	fi
	wait "$_p" 2>/dev/null && _r=0 || _r=$?
	# 127: not our child (already reaped or started elsewhere).
	[ "$_r" -eq 127 ] && _r=0
	return "$_r"
}

_pid_dead() { ! pid_alive "$1"; }

_cleanup_procs() {
	local _pids
	[ -f "$T/.procs" ] || return 0
	# Newest first: xmppd before the servers it talks to.
	_pids=$(awk '{ l[NR] = $1 } END { for (i = NR; i > 0; i--) print l[i] }' \
	    "$T/.procs")
	for _p in $_pids; do
		pid_alive "$_p" && kill -s TERM "$_p" 2>/dev/null
	done
	for _p in $_pids; do
		wait_for 5 _pid_dead "$_p" || kill -s KILL "$_p" 2>/dev/null || :
		wait "$_p" 2>/dev/null || :
	done
	: >"$T/.procs"
}

_show_logs() {
	local _f
	for _f in "$T"/*.log "$T"/*.out "$T"/prosody/*.log "$T"/prosody/*.err \
	    "$T"/prosody/console.txt; do
		[ -s "$_f" ] || continue
		diag "---- tail of $_f ----"
		tail -n "${XMPPD_LOG_TAIL:-25}" "$_f" | cut -c1-400 | sed 's/^/#   /'
	done
}

# at_exit CMD: run the shell command CMD at exit, after the processes are
# stopped (e.g. to delete network namespaces).
at_exit() {
	_at_exit_cmds="${_at_exit_cmds:-:}
$*"
}

_on_exit() {
	local _rc=$?
	trap - EXIT INT TERM
	set +e
	_cleanup_procs
	eval "${_at_exit_cmds:-:}"
	# Every scripted-server case: the daemon's log has no libevent error.
	if [ "$_bad_n" -gt 0 ] && [ "$_tap_skipped_all" = 0 ] &&
	    ! no_libevent_errors; then
		diag "a scripted-server case logged a libevent error (above)"
		_tap_failed=$((_tap_failed + 1))
	fi
	if [ "${XMPPD_LIB_NO_TAP:-0}" = 1 ]; then
		:
	elif [ "$_tap_bailed" = 0 ] && [ "$_tap_skipped_all" = 0 ]; then
		if [ -z "$_tap_planned" ]; then
			[ "$_rc" -eq 0 ] && done_testing
		elif [ "$_tap_n" -ne "$_tap_planned" ]; then
			diag "planned $_tap_planned tests but ran $_tap_n"
			_tap_failed=$((_tap_failed + 1))
		fi
	fi
	if [ "$_rc" -ne 0 ] || [ "$_tap_failed" -gt 0 ]; then
		[ "$_rc" -ne 0 ] && [ "$_tap_bailed" = 0 ] &&
			diag "test script exited with status $_rc"
		_show_logs
		diag "keeping work directory $T"
		[ "$_rc" -eq 0 ] && _rc=1
	elif [ "${XMPPD_KEEP_T:-0}" = 1 ]; then
		diag "keeping work directory $T (XMPPD_KEEP_T=1)"
	else
		rm -rf "$T"
	fi
	exit "$_rc"
}
trap _on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --------------------------------------------------------------- waits -----

# wait_for TIMEOUT CMD...: run CMD every 0.1 s until it succeeds (0) or
# TIMEOUT seconds (may be fractional) pass (1).  CMD's output is discarded.
wait_for() {
	local _t _end _n
	_t=$1; shift
	_end=$(awk -v t="$_t" 'BEGIN { printf "%d", t * 1000 }')
	_end=$(( $(_now_ms) + _end ))
	_n=$(awk -v t="$_t" 'BEGIN { printf "%d", t * 10 + 2 }')
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		_n=$((_n - 1))
		[ "$_n" -gt 0 ] && [ "$(_now_ms)" -lt "$_end" ] || return 1
		sleep 0.1
	done
}

_now_ms() {
	local _s
	_s=$(date +%s%N)
	echo $((_s / 1000000))
}

# wait_for_not TIMEOUT CMD...: wait until CMD fails (e.g. a session is
# gone: wait_for_not 5 prosody_has_session "$BOT_JID").
wait_for_not() {
	local _t
	_t=$1; shift
	wait_for "$_t" _cmd_fails "$@"
}

_cmd_fails() { ! "$@"; }

# wait_file TIMEOUT FILE: wait until FILE exists.
wait_file() { wait_for "$1" test -e "$2"; }

# wait_grep TIMEOUT ERE FILE: wait until a line of FILE matches ERE.
wait_grep() { wait_for "$1" grep -Eq -- "$2" "$3"; }

# count_grep ERE FILE: number of lines of FILE matching ERE (0 if none).
count_grep() {
	local _c
	_c=$(grep -Ec -- "$1" "$2" 2>/dev/null) || :
	echo "${_c:-0}"
}

# wait_log TIMEOUT ERE: wait for ERE in the current xmppd log ($XMPPD_LOG).
wait_log() { wait_grep "$1" "$2" "$XMPPD_LOG"; }

# wait_notify TIMEOUT ERE: wait for ERE in the sd_notify sink output
# ($NOTIFY_OUT, one assignment per line, e.g. '^READY=1$').
wait_notify() { wait_grep "$1" "$2" "$NOTIFY_OUT"; }

# --------------------------------------------------------- network, certs --

# free_port: print a TCP port on 127.0.0.1 that was free a moment ago.
free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# port_open PORT [HOST]: true when a TCP connect to HOST:PORT succeeds.
port_open() {
	python3 -c 'import socket, sys
try:
    socket.create_connection((sys.argv[2], int(sys.argv[1])), timeout=1).close()
except OSError:
    sys.exit(1)' "$1" "${2:-127.0.0.1}"
}

# make_certs: $T/certs/{ca,server,wrong,untrusted}.{pem,key}: a test CA,
# a server certificate it signed for DNS:$DOMAIN, one it signed for
# DNS:wrong.test, and a self-signed one for DNS:$DOMAIN.  Idempotent.
make_certs() {
	local _d
	_d=$T/certs
	[ -s "$_d/server.pem" ] && return 0
	mkdir -p "$_d"
	(
		set -e
		cd "$_d"
		_ossl() { timeout 60 openssl "$@" >>openssl.txt 2>&1; }
		_ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		    -keyout ca.key -out ca.pem -days 30 -subj "/CN=xmppd test CA" \
		    -addext "basicConstraints=critical,CA:TRUE" \
		    -addext "keyUsage=critical,keyCertSign,cRLSign"
		for _n in server:$DOMAIN wrong:wrong.test; do
			_f=${_n%%:*}; _h=${_n#*:}
			_ossl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
			    -keyout "$_f.key" -out "$_f.csr" -subj "/CN=$_h"
			printf '%s\n' "subjectAltName=DNS:$_h" \
			    "basicConstraints=critical,CA:FALSE" \
			    "keyUsage=critical,digitalSignature,keyEncipherment" \
			    "extendedKeyUsage=serverAuth" >"$_f.ext"
			_ossl x509 -req -in "$_f.csr" -CA ca.pem -CAkey ca.key \
			    -CAcreateserial -days 30 -out "$_f.pem" -extfile "$_f.ext"
		done
		_ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		    -keyout untrusted.key -out untrusted.pem -days 30 \
		    -subj "/CN=$DOMAIN" -addext "subjectAltName=DNS:$DOMAIN"
		chmod 0644 ./*.pem ./*.key
	) || { diag "make_certs failed:"; cat "$_d/openssl.txt" >&2; return 1; }
}

# --------------------------------------------------------------- prosody ---

PROSODY_DIR=$T/prosody
MUC_DOMAIN=conference.$DOMAIN
PROSODY_CFG=$PROSODY_DIR/prosody.cfg.lua
PROSODY_PORT=
PROSODY_TLS_PORT=
PROSODY_PID=

# prosody_start [--no-register] [--wrong-cert] [--tls12] [--cfg LINE]...
#		[--vhost-cfg LINE]...
# Write $PROSODY_CFG and start "prosody -F" in the background; wait (10 s)
# until both the STARTTLS port ($PROSODY_PORT) and the direct TLS port
# ($PROSODY_TLS_PORT) accept and the admin socket exists.  The ports are
# chosen on the first start and kept for later starts (so an xmppd config
# stays valid across restarts and profile changes); the data (accounts)
# persist too.  Options: --no-register: allow_registration = false;
# --wrong-cert: serve the wrong.test certificate; --tls12: TLS 1.2 only
# (Prosody 0.12 offers SCRAM-SHA-1-PLUS with tls-unique only below 1.3);
# --tickets: issue TLS session tickets (stock Prosody turns them off, so
# nothing can be resumed); --cfg LINE / --vhost-cfg LINE: extra Lua lines, global / in the
# VirtualHost (e.g. --cfg 'smacks_hibernation_time = 5'); --muc: a MUC
# component on $MUC_DOMAIN (rooms unlocked at creation, anyone may create
# one), --muc-cfg LINE: an extra Lua line in that component.
prosody_start() {
	local _reg _cert _tls12 _cfg _vcfg _nl _opts _muc
	command -v prosody >/dev/null 2>&1 || skip_all "prosody is not installed"
	_reg=true; _cert=server; _tls12=; _cfg=; _vcfg=; _opts=; _muc=
	_nl='
'
	while [ $# -gt 0 ]; do
		case $1 in
		--no-register) _reg=false ;;
		--wrong-cert) _cert=wrong ;;
		--tls12) _tls12=1 ;;
		--tickets) _opts='options = { no_ticket = false }; ' ;;
		--cfg) _cfg=$_cfg$2$_nl; shift ;;
		--vhost-cfg) _vcfg=$_vcfg"  "$2$_nl; shift ;;
		--muc) _muc=${_muc:-$_nl} ;;
		--muc-cfg) _muc=${_muc:-$_nl}"  "$2$_nl; shift ;;
		*) diag "prosody_start: unknown option $1"; return 2 ;;
		esac
		shift
	done
	if prosody_running; then
		diag "prosody_start: already running (pid $PROSODY_PID)"
		return 1
	fi
	make_certs || return 1
	mkdir -p "$PROSODY_DIR/data" "$PROSODY_DIR/certs"
	[ -n "$PROSODY_PORT" ] || PROSODY_PORT=$(free_port)
	[ -n "$PROSODY_TLS_PORT" ] || PROSODY_TLS_PORT=$(free_port)
	# Direct TLS picks its certificate by SNI from this directory (the
	# VirtualHost "ssl" is only used for STARTTLS).
	cp "$T/certs/$_cert.pem" "$PROSODY_DIR/certs/$DOMAIN.crt"
	cp "$T/certs/$_cert.key" "$PROSODY_DIR/certs/$DOMAIN.key"
	local _proto _runroot
	_proto=
	[ -n "$_tls12" ] && _proto='protocol = "tlsv1_2"; '
	_runroot=
	[ "$(id -u)" = 0 ] && _runroot='run_as_root = true'
	cat >"$PROSODY_CFG" <<EOF
-- written by tests/integration/lib.sh
$_runroot
data_path = "$PROSODY_DIR/data"
pidfile = "$PROSODY_DIR/prosody.pid"
admin_socket = "$PROSODY_DIR/admin.sock"
certificates = "$PROSODY_DIR/certs"
log = {
	{ levels = { min = "${PROSODY_LOG_LEVEL:-debug}" }, to = "file", filename = "$PROSODY_DIR/prosody.log" };
	{ levels = { min = "error" }, to = "file", filename = "$PROSODY_DIR/prosody.err" };
}
interfaces = { "127.0.0.1" }
local_interfaces = { "127.0.0.1" }
c2s_ports = { $PROSODY_PORT }
c2s_direct_tls_ports = { $PROSODY_TLS_PORT }
s2s_ports = { }
modules_disabled = { "s2s" }
authentication = "internal_hashed"
storage = "internal"
c2s_require_encryption = true
allow_registration = $_reg
modules_enabled = {
	"tls"; "saslauth"; "roster"; "disco"; "ping"; "register";
	"smacks"; "admin_shell"; "posix";
}
ssl = { ${_proto}${_opts}certificate = "$PROSODY_DIR/certs/$DOMAIN.crt"; key = "$PROSODY_DIR/certs/$DOMAIN.key" }
$_cfg
VirtualHost "$DOMAIN"
  ssl = { ${_proto}${_opts}certificate = "$PROSODY_DIR/certs/$DOMAIN.crt"; key = "$PROSODY_DIR/certs/$DOMAIN.key" }
$_vcfg
EOF
	[ -n "$_muc" ] && cat >>"$PROSODY_CFG" <<EOF
Component "$MUC_DOMAIN" "muc"
  muc_room_locking = false
  restrict_room_creation = false
  muc_tombstones = false
$_muc
EOF
	_prosody_launch
}

_prosody_launch() {
	rm -f "$PROSODY_DIR/admin.sock"
	{
		echo "=== prosody start $(date '+%F %T') ==="
	} >>"$PROSODY_DIR/console.txt"
	prosody -F --config "$PROSODY_CFG" </dev/null \
	    >>"$PROSODY_DIR/console.txt" 2>&1 &
	PROSODY_PID=$!
	track_pid prosody "$PROSODY_PID"
	wait_for "${PROSODY_START_TIMEOUT:-10}" _prosody_up_or_dead || :
	if ! _prosody_up; then
		diag "prosody did not come up on 127.0.0.1:$PROSODY_PORT/$PROSODY_TLS_PORT"
		pid_alive "$PROSODY_PID" || diag "prosody exited"
		sed 's/^/# console: /' "$PROSODY_DIR/console.txt" | tail -n 20
		tail -n 20 "$PROSODY_DIR/prosody.err" 2>/dev/null | sed 's/^/# err: /'
		return 1
	fi
	return 0
}

_prosody_up_or_dead() { ! pid_alive "$PROSODY_PID" || _prosody_up; }

_prosody_up() {
	pid_alive "$PROSODY_PID" &&
	[ -S "$PROSODY_DIR/admin.sock" ] &&
		port_open "$PROSODY_PORT" && port_open "$PROSODY_TLS_PORT"
}

# prosody_running: true while the prosody we started runs.
prosody_running() { [ -n "$PROSODY_PID" ] && pid_alive "$PROSODY_PID"; }

# prosody_pid: print its pid (empty when none was started).
prosody_pid() { echo "$PROSODY_PID"; }

# prosody_stop: SIGTERM, wait (10 s), SIGKILL if needed.
prosody_stop() {
	[ -n "$PROSODY_PID" ] || return 0
	stop_pid "$PROSODY_PID" 10 || :
	PROSODY_PID=
}

# prosody_kill: SIGKILL (a crash: no stream close, TCP connections reset
# by the kernel).
prosody_kill() {
	[ -n "$PROSODY_PID" ] || return 0
	kill -s KILL "$PROSODY_PID" 2>/dev/null || :
	stop_pid "$PROSODY_PID" 5 || :
	PROSODY_PID=
}

# prosody_restart: stop and start again with the same config and ports.
prosody_restart() {
	prosody_stop
	_prosody_launch
}

# prosody_ctl ARGS...: prosodyctl with our config.
prosody_ctl() {
	timeout 30 prosodyctl --config "$PROSODY_CFG" "$@"
}

# prosody_shell ARGS...: one mod_admin_shell command on the running server,
# e.g. prosody_shell c2s:show() or prosody_shell user list xmppd.test.
# Exit status non-zero when the command reported an error.
prosody_shell() {
	prosody_ctl shell "$@"
}

_bare() {
	case $1 in
	*@*) echo "$1" ;;
	*) echo "$1@$DOMAIN" ;;
	esac
}

_valid_user() {
	case $1 in
	''|*[!A-Za-z0-9._@-]*) diag "invalid user name '$1'"; return 1 ;;
	esac
}

# prosody_adduser USER PASS: create the account (USER or USER@DOMAIN).
# Goes through the running server when there is one, else prosodyctl.
prosody_adduser() {
	if prosody_running; then
		prosody_shell user create "$(_bare "$1")" "$2" >/dev/null
	else
		prosody_ctl register "${1%@*}" "$DOMAIN" "$2" >/dev/null
	fi
}

# prosody_deluser USER: delete the account (its sessions are closed).
prosody_deluser() {
	if prosody_running; then
		prosody_shell user delete "$(_bare "$1")" >/dev/null
	else
		prosody_ctl deluser "$(_bare "$1")" </dev/null >/dev/null
	fi
}

# prosody_passwd USER PASS: change the password.
prosody_passwd() {
	if prosody_running; then
		prosody_shell user password "$(_bare "$1")" "$2" >/dev/null
	else
		printf '%s\n%s\n' "$2" "$2" |
			prosody_ctl passwd "$(_bare "$1")" >/dev/null
	fi
}

# prosody_user_exists USER: true when the account exists.
prosody_user_exists() {
	local _u _out
	_valid_user "$1" || return 2
	_u=${1%@*}
	if prosody_running; then
		_out=$(prosody_shell ">print(\"XUSER \"..tostring(require\"core.usermanager\".user_exists(\"$_u\", \"$DOMAIN\")))") || return 2
		printf '%s\n' "$_out" | grep -qx 'XUSER true'
	else
		[ -f "$PROSODY_DIR/data/$(echo "$DOMAIN" | sed 's/\./%2e/g')/accounts/$_u.dat" ]
	fi
}

_PROSODY_SESSIONS_LUA='>for _, s in pairs(prosody.full_sessions) do print(("XSESSION %s secure=%s smacks=%s hibernating=%s"):format(s.full_jid, tostring(not not s.secure), tostring(not not s.smacks), tostring(not not s.hibernating))) end'

# prosody_sessions_verbose: one line per c2s session:
#   FULLJID secure=true|false smacks=true|false hibernating=true|false
# (a hibernating session is a XEP-0198 session waiting for resumption).
prosody_sessions_verbose() {
	local _out
	_out=$(prosody_shell "$_PROSODY_SESSIONS_LUA") || return 1
	printf '%s\n' "$_out" | sed -n 's/^XSESSION //p' | sort
}

# prosody_sessions: full JIDs of the current c2s sessions (bound resources,
# hibernating ones included), one per line, sorted.
prosody_sessions() {
	local _out
	_out=$(prosody_sessions_verbose) || return 1
	printf '%s\n' "$_out" | sed -n 's/^\([^ ]*\) .*/\1/p'
}

# prosody_session_count USER: number of sessions of USER (or USER@DOMAIN).
prosody_session_count() {
	local _b _out
	_b=$(_bare "$1")
	_out=$(prosody_sessions) || return 1
	printf '%s\n' "$_out" | grep -cF "$_b/" || :
}

# prosody_has_session JID: true when JID (full, or bare for any resource)
# has a session.  For wait_for.
prosody_has_session() {
	local _out
	_out=$(prosody_sessions) || return 1
	case $1 in
	*/*) printf '%s\n' "$_out" | grep -qxF "$1" ;;
	*) printf '%s\n' "$_out" | grep -qF "$(_bare "$1")/" ;;
	esac
}

# prosody_kick JID [CONDITION [TEXT]]: close the sessions of JID (full or
# bare) with a stream error (default: no condition, a plain close).
prosody_kick() {
	if [ $# -ge 2 ]; then
		prosody_shell c2s close "$1" "${3:-closed by test}" "$2"
	else
		prosody_shell c2s close "$1"
	fi
}

# wait_prosody_log TIMEOUT ERE: wait for ERE in prosody's log.
wait_prosody_log() { wait_grep "$1" "$2" "$PROSODY_DIR/prosody.log"; }

# ------------------------------------------------------------ clients ------

# xmpp_client ARGS...: the harness's own small XMPP client (python3 stdlib),
# in the foreground, against $PROSODY_PORT with $T/certs/ca.pem.  Prints one
# event per line: CONNECTED, TLS <version> <cipher>, FEATURES, MECHANISMS,
# REGISTERED/REGISTER-ERROR <cond>, AUTH <mech>, BOUND <jid>, SM-ENABLED,
# ONLINE <jid>, PRESENCE <from> <type> <show> <status>, MESSAGE <from>
# <body>, PING-IN <from>, PONG <jid>, PING-ERROR <jid> <cond>,
# STREAM-ERROR <cond>, FAIL <why>, CLOSED/ABORTED.  Exit 0 on success.
# Options: --user U --password P (required), --resource R, --tls
# starttls|direct (direct needs --port "$PROSODY_TLS_PORT"), --port P,
# --mech SCRAM-SHA-1|PLAIN, --register, --register-only, --sm, --abort,
# --no-presence, --send JID TEXT, --ping JID, --iq JID XML, --subscribe JID,
# --expect-message ERE, --expect-presence ERE (on the from JID), --hold
# SECONDS, --ready-file F, --timeout S (default 10), --verbose (XML to
# stderr), --receipts (answer XEP-0184 requests; prints RECEIPT <to> <id>),
# --dump FILE (each message as a JSON line: from, id, origin, body, and t,
# the time it was read),
# --expect-count N (stay until N messages arrived).
xmpp_client() {
	_write_client
	timeout "${XMPP_CLIENT_TIMEOUT:-120}" python3 "$T/xmpp-client.py" \
	    --port "${PROSODY_PORT:-0}" --ca "$T/certs/ca.pem" --domain "$DOMAIN" "$@"
}

# xmpp_client_bg NAME ARGS...: same, in the background; output in
# $T/client-NAME.out, pid in $CLIENT_PID (stopped at exit, or with
# stop_pid "$CLIENT_PID", which returns the client's exit status).
xmpp_client_bg() {
	local _n
	_n=$1; shift
	_write_client
	timeout "${XMPP_CLIENT_TIMEOUT:-120}" python3 "$T/xmpp-client.py" \
	    --port "${PROSODY_PORT:-0}" --ca "$T/certs/ca.pem" --domain "$DOMAIN" \
	    "$@" >"$T/client-$_n.out" 2>&1 &
	CLIENT_PID=$!
	track_pid "client-$_n" "$CLIENT_PID"
}

# ---------------------------------------------------------- badserver ------

BAD_PORT=
BAD_PID=
BAD_LOG=
_bad_n=0

# badserver_start SCENARIO [ARGS...]: start tests/helpers/badserver.py with
# $T/certs/server.{pem,key}; extra ARGS go to it (--tls direct,
# --redirect-port P, --max-seconds N...).  Sets BAD_PORT, BAD_PID and
# BAD_LOG ($T/badserver-N.log, one event per line, "CONNECT n" per
# connection).  Waits (10 s) for the port file.
badserver_start() {
	local _s
	_s=$1; shift
	make_certs || return 1
	_bad_n=$((_bad_n + 1))
	BAD_LOG=$T/badserver-$_bad_n.log
	rm -f "$T/badserver-$_bad_n.port"
	python3 "$BADSERVER" --port-file "$T/badserver-$_bad_n.port" \
	    --cert "$T/certs/server.pem" --key "$T/certs/server.key" \
	    --scenario "$_s" "$@" </dev/null >"$BAD_LOG" 2>&1 &
	BAD_PID=$!
	track_pid "badserver-$_bad_n" "$BAD_PID"
	if ! wait_for 10 test -s "$T/badserver-$_bad_n.port"; then
		diag "badserver $_s did not start"
		sed 's/^/#   /' "$BAD_LOG"
		return 1
	fi
	BAD_PORT=$(cat "$T/badserver-$_bad_n.port")
}

# badserver_connects [LOG]: number of connections accepted so far.
badserver_connects() { count_grep '^CONNECT ' "${1:-$BAD_LOG}"; }

# badserver_stop [PID]
badserver_stop() { stop_pid "${1:-$BAD_PID}" 5 || :; }

# --------------------------------------------------------- faultproxy -----

# proxy_start [--listen ADDR]: start tests/helpers/faultproxy.py in front
# of Prosody; sets PROXY_PORT (clients connect here) and PROXY_CTL.
proxy_start() {
	rm -f "$T/proxy.port" "$T/proxy.ctl"
	python3 "$top_srcdir/tests/helpers/faultproxy.py" \
	    --target "$PROSODY_PORT" --port-file "$T/proxy.port" \
	    --ctl-port-file "$T/proxy.ctl" --max-seconds 3600 "$@" \
	    2>>"$T/proxy.log" &
	track_pid proxy $!
	wait_file 10 "$T/proxy.port" || return 1
	PROXY_PORT=$(cat "$T/proxy.port")
	PROXY_CTL=$(cat "$T/proxy.ctl")
}

# proxy CMD...: one faultproxy command (cut, blackhole on|off, delay MS,
# cutafter N, cutafterup N, refuse on|off, count); prints the answer.
proxy() {
	printf '%s\n' "$*" | python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 5)
s.sendall(sys.stdin.buffer.read()); print(s.recv(100).decode().strip())' \
	    "$PROXY_CTL"
}

# ---------------------------------------------------------- muc peers -----

# muc_peer_start NAME USER PASSWORD: a second occupant (tests/helpers/
# mucpeer.py) logged in as USER; commands go through muc_peer, events to
# $T/peer-NAME.out.  Waits (10 s) until it is online.  $MUC_PEER_ARGS
# are passed on (e.g. --stamp).
muc_peer_start() {
	_write_client
	rm -f "$T/peer-$1.fifo"
	mkfifo "$T/peer-$1.fifo" || return 1
	python3 "$top_srcdir/tests/helpers/mucpeer.py" --client "$T/xmpp-client.py" \
	    --fifo "$T/peer-$1.fifo" --port "$PROSODY_PORT" --domain "$DOMAIN" \
	    --ca "$T/certs/ca.pem" --user "$2" --password "$3" --resource "$1" \
	    ${MUC_PEER_ARGS:-} </dev/null >"$T/peer-$1.out" 2>&1 &
	track_pid "peer-$1" $!
	wait_grep 10 '^([0-9.]+ )?ONLINE ' "$T/peer-$1.out"
}

# muc_peer NAME COMMAND...: one command for the peer (see mucpeer.py).
muc_peer() {
	local _n
	_n=$1; shift
	printf '%s\n' "$*" >"$T/peer-$_n.fifo"
}

# muc_ghost ROOM NICK: make the MUC forget the occupant ROOM/NICK without
# telling anyone (what a MUC restart does to a client that missed it).
muc_ghost() {
	prosody_shell ">local r = prosody.hosts[\"$MUC_DOMAIN\"].modules.muc.get_room_from_jid(\"$1\"); local o = r and r:get_occupant_by_nick(\"$1/$2\"); if o then for real in o:each_session() do r._jid_nick[real] = nil end; r._occupants[o.nick] = nil; print(\"XGHOST ok\") else print(\"XGHOST none\") end" |
		grep -q 'XGHOST ok'
}

# muc_forget ROOM: make the MUC drop the room from memory (what restarting
# the MUC component does to a room that is not persistent).
muc_forget() {
	prosody_shell ">local m = prosody.hosts[\"$MUC_DOMAIN\"].modules.muc; local r = m.get_room_from_jid(\"$1\"); if r then m.forget_room(r); print(\"XFORGOT ok\") else print(\"XFORGOT none\") end" |
		grep -q 'XFORGOT ok'
}

# -------------------------------------------------------------- xmppd ------

XMPPD_CONF=$T/xmppd.conf
XMPPD_SOCK=$T/xmppd.sock
XMPPD_LOG=$T/xmppd.log
XMPPD_PID=
NOTIFY_SOCKET_PATH=$T/notify.sock
NOTIFY_OUT=$T/notify.out
NOTIFY_STAMPS=$T/notify.stamps	# "MONOTONIC-SECONDS ASSIGNMENTS" per datagram
NOTIFY_PID=
_xmppd_n=0

# need_xmppd: skip_all unless xmppd, xmppd-ctl and notify-sink are built.
need_xmppd() {
	local _f
	for _f in "$XMPPD" "$XMPPD_CTL" "$NOTIFY_SINK"; do
		[ -x "$_f" ] || skip_all "$_f is not built"
	done
}

# write_conf FILE [KEY=VALUE...]: write an xmppd config: the base config
# below with KEY replaced by VALUE, new keys appended, and KEY= (empty)
# removing a base key.  password=... drops the base password_file and
# vice versa.  The base password file $T/password (mode 0600) holds
# $BOT_PASSWORD.  Base:
#	jid = bot@xmppd.test/test
#	password_file = $T/password
#	server = 127.0.0.1:$PROSODY_PORT	(when prosody was started)
#	tls = starttls
#	ca_file = $T/certs/ca.pem
#	control_socket = $T/xmppd.sock
#	state_dir = $T/state
#	ping_interval = 30
#	ping_timeout = 10
#	reconnect_min = 1
#	reconnect_max = 4
#	connect_timeout = 5
write_conf() {
	local _f _kv
	_f=$1; shift
	for _kv in "$@"; do
		case $_kv in
		[A-Za-z_]*=*) ;;
		*) diag "write_conf: '$_kv' is not KEY=VALUE"; return 2 ;;
		esac
	done
	mkdir -p "$T/state"
	chmod 0700 "$T/state"
	if [ ! -e "$T/password" ]; then
		(umask 077; printf '%s\n' "$BOT_PASSWORD" >"$T/password")
	fi
	{
		echo "jid=$BOT_JID"
		echo "password_file=$T/password"
		[ -n "$PROSODY_PORT" ] && echo "server=127.0.0.1:$PROSODY_PORT"
		echo "tls=starttls"
		echo "ca_file=$T/certs/ca.pem"
		echo "control_socket=$XMPPD_SOCK"
		echo "state_dir=$T/state"
		echo "ping_interval=30"
		echo "ping_timeout=10"
		echo "reconnect_min=1"
		echo "reconnect_max=4"
		echo "connect_timeout=5"
		echo "--OVERRIDES--"
		for _kv in "$@"; do
			printf '%s\n' "$_kv"
		done
	} | awk '
		/^--OVERRIDES--$/ { ov = 1; next }
		{
			k = $0; sub(/=.*/, "", k)
			v = $0; sub(/^[^=]*=/, "", v)
		}
		!ov { bk[++nb] = k; bv[k] = v; next }
		{ if (!(k in o)) ok[++no] = k; o[k] = v }
		END {
			print "# written by tests/integration/lib.sh write_conf"
			for (i = 1; i <= nb; i++) {
				k = bk[i]
				if (k in o) {
					if (o[k] != "") print k " = " o[k]
					continue
				}
				if (k == "password_file" && o["password"] != "")
					continue
				print k " = " bv[k]
			}
			for (i = 1; i <= no; i++) {
				k = ok[i]
				if (!(k in bv) && o[k] != "") print k " = " o[k]
			}
		}' >"$_f"
}

# notify_sink_start: (re)start the notify sink at $NOTIFY_SOCKET_PATH; a
# previous output file is kept as notify.out.N.
notify_sink_start() {
	[ -n "$NOTIFY_PID" ] && { stop_pid "$NOTIFY_PID" 5 || :; }
	NOTIFY_PID=
	[ -e "$NOTIFY_OUT" ] && mv "$NOTIFY_OUT" "$NOTIFY_OUT.$_xmppd_n"
	[ -e "$NOTIFY_STAMPS" ] && mv "$NOTIFY_STAMPS" "$NOTIFY_STAMPS.$_xmppd_n"
	rm -f "$NOTIFY_SOCKET_PATH"
	"$NOTIFY_SINK" "$NOTIFY_SOCKET_PATH" "$NOTIFY_OUT" "$NOTIFY_STAMPS" \
	    </dev/null \
	    >>"$T/notify-sink.log" 2>&1 &
	NOTIFY_PID=$!
	track_pid notify-sink "$NOTIFY_PID"
	wait_for 5 test -S "$NOTIFY_SOCKET_PATH" || {
		diag "notify-sink did not start"
		return 1
	}
}

# xmppd_start [CONF [ARGS...]]: start "xmppd -d -f CONF ARGS" in the
# background with NOTIFY_SOCKET pointing at a fresh notify sink; stderr and
# stdout to $XMPPD_LOG (the previous log is kept as xmppd.log.N); pid in
# $XMPPD_PID.  Does not wait for anything: use wait_notify / wait_log /
# xmppd_ctl wait-online.
xmppd_start() {
	local _c
	_c=${1:-$XMPPD_CONF}
	[ $# -gt 0 ] && shift
	if xmppd_running; then
		diag "xmppd_start: already running (pid $XMPPD_PID)"
		return 1
	fi
	_xmppd_n=$((_xmppd_n + 1))
	[ -e "$XMPPD_LOG" ] && mv "$XMPPD_LOG" "$XMPPD_LOG.$((_xmppd_n - 1))"
	notify_sink_start || return 1
	echo "=== xmppd_start $_xmppd_n: xmppd -d -f $_c $* ===" >"$T/xmppd.cmd"
	(
		NOTIFY_SOCKET=$NOTIFY_SOCKET_PATH
		export NOTIFY_SOCKET
		: "${ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:print_summary=1}"
		: "${UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1}"
		export ASAN_OPTIONS UBSAN_OPTIONS
		if [ -n "${XMPPD_WATCHDOG_USEC:-}" ]; then
			# sh's $$ is the pid that execs into xmppd.
			WATCHDOG_USEC=$XMPPD_WATCHDOG_USEC
			export WATCHDOG_USEC
			exec sh -c 'WATCHDOG_PID=$$; export WATCHDOG_PID; exec "$@"' \
			    sh ${XMPPD_WRAPPER:-} "$XMPPD" -d -f "$_c" "$@"
		fi
		exec ${XMPPD_WRAPPER:-} "$XMPPD" -d -f "$_c" "$@"
	) </dev/null >"$XMPPD_LOG" 2>&1 &
	XMPPD_PID=$!
	track_pid xmppd "$XMPPD_PID"
}

# xmppd_running: true while the xmppd we started runs.
xmppd_running() { [ -n "$XMPPD_PID" ] && pid_alive "$XMPPD_PID"; }

# xmppd_stop [TIMEOUT]: SIGTERM, wait (10 s), SIGKILL if needed; returns
# xmppd's exit status (0 for a clean shutdown).
xmppd_stop() {
	local _r
	[ -n "$XMPPD_PID" ] || return 0
	stop_pid "$XMPPD_PID" "${1:-10}" && _r=0 || _r=$?
	XMPPD_PID=
	return "$_r"
}

# xmppd_signal SIGNAL: send SIGNAL (HUP, TERM, ...) to xmppd, no waiting.
xmppd_signal() { kill -s "$1" "$XMPPD_PID"; }

# xmppd_kill: SIGKILL xmppd (a crash) and reap it.
xmppd_kill() {
	[ -n "$XMPPD_PID" ] || return 0
	kill -s KILL "$XMPPD_PID" 2>/dev/null || :
	stop_pid "$XMPPD_PID" 5 || :
	XMPPD_PID=
}

# xmppd_wait_exit TIMEOUT: wait for xmppd to exit by itself; returns its
# exit status, or 124 if it is still running after TIMEOUT.
xmppd_wait_exit() {
	local _r
	wait_for "$1" _pid_dead "$XMPPD_PID" || return 124
	wait "$XMPPD_PID" 2>/dev/null && _r=0 || _r=$?
	XMPPD_PID=
	return "$_r"
}

# xmppd_ctl ARGS...: xmppd-ctl -s $XMPPD_SOCK ARGS (bounded by 60 s).
xmppd_ctl() {
	timeout 60 "$XMPPD_CTL" -s "$XMPPD_SOCK" "$@"
}

# no_sanitizer_reports: true when no xmppd log so far has an ASan/UBSan/LSan
# report (prints the reports otherwise).
no_sanitizer_reports() {
	local _f _bad
	_bad=0
	for _f in "$T"/xmppd.log*; do
		[ -f "$_f" ] || continue
		if grep -Eq 'ERROR: (Address|Leak)Sanitizer|runtime error:|SUMMARY: (Address|Undefined|Leak)' "$_f"; then
			diag "sanitizer report in $_f:"
			grep -E -A20 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$_f" |
				head -n 60 | sed 's/^/#   /'
			_bad=1
		fi
	done
	return "$_bad"
}

# no_libevent_errors: true when no xmppd log of this test has a libevent
# warning or error (e.g. an event changed after its socket was closed).
# Checked at exit by every test that started a scripted server.
no_libevent_errors() {
	local _f _bad
	_bad=0
	for _f in "$T"/xmppd.log*; do
		[ -f "$_f" ] || continue
		if grep -Eq '(warning|error|fatal): libevent:' "$_f"; then
			diag "libevent error in $_f:"
			grep -E '(warning|error|fatal): libevent:' "$_f" |
				head -n 5 | sed 's/^/#   /'
			_bad=1
		fi
	done
	return "$_bad"
}

# --------------------------------------------------- the client (python) ---

_write_client() {
	[ -s "$T/xmpp-client.py" ] && return 0
	cat >"$T/xmpp-client.py" <<'PYEOF'
#!/usr/bin/env python3
# xmpp-client: a small, strict XMPP client for the test harness (stdlib only).
# STARTTLS or direct TLS with certificate verification, optional XEP-0077
# registration, SCRAM-SHA-1 (server signature checked) or PLAIN, bind,
# presence; then optional actions.  One event per line on stdout.
import argparse, base64, hashlib, hmac, json, os, re, select, signal, socket, ssl
import sys, time
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape, quoteattr

NS_STREAM = 'http://etherx.jabber.org/streams'
NS_TLS = 'urn:ietf:params:xml:ns:xmpp-tls'
NS_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl'
NS_BIND = 'urn:ietf:params:xml:ns:xmpp-bind'
NS_REG = 'jabber:iq:register'
NS_PING = 'urn:xmpp:ping'
NS_SM = 'urn:xmpp:sm:3'
NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas'
C = '{jabber:client}'


class Fail(Exception):
    pass


def say(*a):
    print(*a, flush=True)


class Stream:
    def __init__(self, a):
        self.a = a
        self.deadline = time.monotonic() + a.timeout
        self.sock = socket.create_connection((a.host, a.port), timeout=a.timeout)
        say('CONNECTED %s:%d' % (a.host, a.port))
        self.ctx = ssl.create_default_context(cafile=a.ca)
        if a.tls == 'direct':
            self.starttls_wrap()
        self.queue = []
        self.ids = 0
        self.sm_h = None     # inbound stanza count once XEP-0198 is on
        self.nmsg = 0        # messages with a body received

    def starttls_wrap(self):
        self.sock = self.ctx.wrap_socket(self.sock, server_hostname=self.a.domain)
        say('TLS %s %s' % (self.sock.version(), self.sock.cipher()[0]))

    def send(self, data):
        if self.a.verbose:
            sys.stderr.write('SEND %s\n' % data)
        self.sock.sendall(data.encode())

    def open(self):
        self.parser = ET.XMLPullParser(events=('start', 'end'))
        self.depth = 0
        self.send("<?xml version='1.0'?><stream:stream to=%s version='1.0' "
                  "xmlns='jabber:client' xmlns:stream='%s'>"
                  % (quoteattr(self.a.domain), NS_STREAM))
        self.features = self.next(deadline=self.deadline)
        if self.features.tag != '{%s}features' % NS_STREAM:
            raise Fail('expected stream features, got %s' % self.features.tag)

    def new_id(self):
        self.ids += 1
        return 'c%d' % self.ids

    def next(self, deadline=None, until=None):
        """Next depth-1 element; None when `until` passes."""
        while not self.queue:
            now = time.monotonic()
            limit = until if until is not None else (deadline or self.deadline)
            if now >= limit:
                if until is not None:
                    return None
                raise Fail('timed out waiting for the server')
            pending = isinstance(self.sock, ssl.SSLSocket) and self.sock.pending()
            if not pending:
                r, _, _ = select.select([self.sock], [], [], min(1.0, limit - now))
                if not r:
                    continue
            try:
                data = self.sock.recv(65536)
            except ssl.SSLWantReadError:
                continue
            if not data:
                raise Fail('connection closed by the server')
            if self.a.verbose:
                sys.stderr.write('RECV %r\n' % data)
            self.parser.feed(data)
            for ev, el in self.parser.read_events():
                if ev == 'start':
                    self.depth += 1
                    if self.depth == 1:
                        self.stream_attrs = dict(el.attrib)
                else:
                    self.depth -= 1
                    if self.depth == 0:
                        self.queue.append(None)
                    elif self.depth == 1:
                        self.queue.append(el)
        el = self.queue.pop(0)
        if el is None:
            raise Fail('server closed the stream')
        if self.sm_h is not None:
            if el.tag in (C + 'iq', C + 'message', C + 'presence'):
                self.sm_h += 1
            elif el.tag == '{%s}r' % NS_SM:
                self.send("<a xmlns='%s' h='%d'/>" % (NS_SM, self.sm_h))
                return self.next(deadline, until)
        if el.tag == '{%s}error' % NS_STREAM:
            cond = [c.tag.split('}')[1] for c in el if not c.tag.endswith('}text')]
            say('STREAM-ERROR %s' % ' '.join(cond))
            raise Fail('stream error: %s' % ' '.join(cond))
        return el

    def iq(self, typ, body, to=None):
        i = self.new_id()
        self.send("<iq type='%s' id='%s'%s>%s</iq>"
                  % (typ, i, ' to=%s' % quoteattr(to) if to else '', body))
        while True:
            el = self.next()
            if el.tag == C + 'iq' and el.get('id') == i:
                return el
            self.handle(el)

    def handle(self, el):
        """Background stanza handling: answer pings, report the rest."""
        frm = el.get('from', '')
        if el.tag == C + 'iq':
            if el.get('type') == 'get' and el.find('{%s}ping' % NS_PING) is not None:
                self.send("<iq type='result' id=%s to=%s/>"
                          % (quoteattr(el.get('id', '')), quoteattr(frm)))
                say('PING-IN %s' % frm)
            elif el.get('type') in ('get', 'set'):
                self.send("<iq type='error' id=%s to=%s><error type='cancel'>"
                          "<service-unavailable xmlns='%s'/></error></iq>"
                          % (quoteattr(el.get('id', '')), quoteattr(frm), NS_STANZAS))
        elif el.tag == C + 'message':
            body = el.findtext(C + 'body')
            if body is not None:
                say('MESSAGE %s %s' % (frm, body.replace('\n', '\\n')))
                if self.a.dump:
                    oid = el.find('{urn:xmpp:sid:0}origin-id')
                    with open(self.a.dump, 'a') as f:
                        f.write(json.dumps({'from': frm, 'id': el.get('id', ''),
                                            'origin': oid.get('id', '') if oid is not None else '',
                                            'body': body, 't': time.time()}) + '\n')
                if self.a.receipts and el.find('{urn:xmpp:receipts}request') is not None \
                        and el.get('id'):
                    self.send("<message to=%s><received xmlns='urn:xmpp:receipts' id=%s/>"
                              "</message>" % (quoteattr(frm), quoteattr(el.get('id'))))
                    say('RECEIPT %s %s' % (frm, el.get('id')))
                self.nmsg += 1
                return ('message', frm, body)
        elif el.tag == C + 'presence':
            show = el.findtext(C + 'show') or ''
            status = el.findtext(C + 'status') or ''
            say('PRESENCE %s %s %s %s' % (frm, el.get('type', 'available'), show,
                                           status.replace('\n', '\\n')))
            return ('presence', frm, el.get('type', 'available'))
        return None

    def close(self):
        try:
            self.send('</stream:stream>')
            end = time.monotonic() + 2
            while time.monotonic() < end:
                r, _, _ = select.select([self.sock], [], [], 0.2)
                if r and not self.sock.recv(4096):
                    break
        except Exception:
            pass
        self.sock.close()


def features_have(features, tag):
    return features.find(tag) is not None


def scram_sha1(s, user, password):
    cnonce = base64.b64encode(os.urandom(18)).decode()
    bare = 'n=%s,r=%s' % (user.replace('=', '=3D').replace(',', '=2C'), cnonce)
    s.send("<auth xmlns='%s' mechanism='SCRAM-SHA-1'>%s</auth>"
           % (NS_SASL, base64.b64encode(('n,,' + bare).encode()).decode()))
    el = s.next()
    if el.tag != '{%s}challenge' % NS_SASL:
        raise Fail('SASL: %s' % ' '.join(c.tag.split('}')[1] for c in el))
    first = base64.b64decode(el.text or '').decode()
    attrs = dict(kv.split('=', 1) for kv in first.split(','))
    if not attrs['r'].startswith(cnonce):
        raise Fail('SCRAM: server nonce does not extend ours')
    salt, iters = base64.b64decode(attrs['s']), int(attrs['i'])
    salted = hashlib.pbkdf2_hmac('sha1', password.encode(), salt, iters)
    ckey = hmac.new(salted, b'Client Key', hashlib.sha1).digest()
    stored = hashlib.sha1(ckey).digest()
    final_wo = 'c=biws,r=' + attrs['r']
    authmsg = ','.join((bare, first, final_wo)).encode()
    sig = hmac.new(stored, authmsg, hashlib.sha1).digest()
    proof = bytes(x ^ y for x, y in zip(ckey, sig))
    s.send("<response xmlns='%s'>%s</response>" % (NS_SASL, base64.b64encode(
        (final_wo + ',p=' + base64.b64encode(proof).decode()).encode()).decode()))
    el = s.next()
    if el.tag != '{%s}success' % NS_SASL:
        raise Fail('SASL failure: %s' % ' '.join(c.tag.split('}')[1] for c in el))
    final = base64.b64decode(el.text or '').decode()
    skey = hmac.new(salted, b'Server Key', hashlib.sha1).digest()
    want = base64.b64encode(hmac.new(skey, authmsg, hashlib.sha1).digest()).decode()
    if final != 'v=' + want:
        raise Fail('SCRAM: bad server signature')


def plain(s, user, password):
    s.send("<auth xmlns='%s' mechanism='PLAIN'>%s</auth>" % (NS_SASL, base64.b64encode(
        ('\0%s\0%s' % (user, password)).encode()).decode()))
    el = s.next()
    if el.tag != '{%s}success' % NS_SASL:
        raise Fail('SASL failure: %s' % ' '.join(c.tag.split('}')[1] for c in el))


def register(s, a):
    r = s.iq('set', "<query xmlns='%s'><username>%s</username><password>%s</password>"
             "</query>" % (NS_REG, escape(a.user), escape(a.password)))
    if r.get('type') == 'result':
        say('REGISTERED %s' % a.user)
        return True
    conds = [c.tag.split('}')[1] for e in r.findall(C + 'error') for c in e if not c.tag.endswith('}text')]
    say('REGISTER-ERROR %s' % ' '.join(conds))
    return 'conflict' in conds


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--host', default='127.0.0.1')
    p.add_argument('--port', type=int, required=True)
    p.add_argument('--domain', default='xmppd.test')
    p.add_argument('--ca', required=True)
    p.add_argument('--user', required=True)
    p.add_argument('--password', required=True)
    p.add_argument('--resource', default='harness')
    p.add_argument('--tls', choices=('starttls', 'direct'), default='starttls')
    p.add_argument('--mech', choices=('SCRAM-SHA-1', 'PLAIN'), default='SCRAM-SHA-1')
    p.add_argument('--register', action='store_true',
                   help='XEP-0077 register first; an existing account is fine')
    p.add_argument('--register-only', action='store_true')
    p.add_argument('--sm', action='store_true',
                   help='enable XEP-0198 stream management with resumption')
    p.add_argument('--abort', action='store_true',
                   help='drop the TCP connection at the end without closing the stream')
    p.add_argument('--no-presence', action='store_true')
    p.add_argument('--send', nargs=2, action='append', default=[],
                   metavar=('JID', 'TEXT'))
    p.add_argument('--ping', action='append', default=[], metavar='JID')
    p.add_argument('--iq', nargs=2, action='append', default=[],
                   metavar=('JID', 'XML'),
                   help='send <iq type=get> with XML as payload; print IQ-RESULT/IQ-ERROR and the reply')
    p.add_argument('--subscribe', action='append', default=[], metavar='JID')
    p.add_argument('--expect-message', metavar='REGEX')
    p.add_argument('--expect-presence', metavar='JID_REGEX')
    p.add_argument('--hold', type=float, default=0,
                   help='stay online this many seconds (or until SIGTERM)')
    p.add_argument('--ready-file')
    p.add_argument('--receipts', action='store_true',
                   help='answer XEP-0184 receipt requests')
    p.add_argument('--dump', metavar='FILE',
                   help='append each message as a JSON line (from, id, origin, body)')
    p.add_argument('--expect-count', type=int, default=0, metavar='N',
                   help='stay until N messages arrived (within --timeout)')
    p.add_argument('--timeout', type=float, default=10)
    p.add_argument('--verbose', action='store_true')
    a = p.parse_args()

    def on_term(sig, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)

    s = None
    try:
        s = Stream(a)
        s.open()
        if a.tls == 'starttls':
            if not features_have(s.features, '{%s}starttls' % NS_TLS):
                raise Fail('server offers no STARTTLS')
            s.send("<starttls xmlns='%s'/>" % NS_TLS)
            el = s.next()
            if el.tag != '{%s}proceed' % NS_TLS:
                raise Fail('STARTTLS refused')
            s.starttls_wrap()
            s.open()
        if a.register or a.register_only:
            if not features_have(s.features, '{http://jabber.org/features/iq-register}register'):
                say('REGISTER-ERROR not-offered')
                raise Fail('registration not offered')
            if not register(s, a):
                raise Fail('registration failed')
            if a.register_only:
                s.close()
                return 0
        say('FEATURES %s' % ' '.join(sorted(c.tag.split('}')[1] for c in s.features)))
        mechs = [m.text for m in s.features.iter('{%s}mechanism' % NS_SASL)]
        say('MECHANISMS %s' % ' '.join(mechs))
        if a.mech not in mechs:
            raise Fail('%s not offered' % a.mech)
        (scram_sha1 if a.mech == 'SCRAM-SHA-1' else plain)(s, a.user, a.password)
        say('AUTH %s' % a.mech)
        s.open()
        say('FEATURES %s' % ' '.join(sorted(c.tag.split('}')[1] for c in s.features)))
        r = s.iq('set', "<bind xmlns='%s'><resource>%s</resource></bind>"
                 % (NS_BIND, escape(a.resource)))
        jid = r.findtext('{%s}bind/{%s}jid' % (NS_BIND, NS_BIND))
        if r.get('type') != 'result' or not jid:
            raise Fail('bind failed')
        say('BOUND %s' % jid)
        if a.sm:
            if not features_have(s.features, '{%s}sm' % NS_SM):
                raise Fail('server offers no stream management')
            s.send("<enable xmlns='%s' resume='true'/>" % NS_SM)
            while True:
                el = s.next()
                if el.tag == '{%s}enabled' % NS_SM:
                    s.sm_h = 0
                    say('SM-ENABLED resume=%s' % el.get('resume', 'false'))
                    break
                if el.tag == '{%s}failed' % NS_SM:
                    raise Fail('stream management refused')
                s.handle(el)
        for j in a.subscribe:
            s.send("<presence to=%s type='subscribe'/>" % quoteattr(j))
        if not a.no_presence:
            s.send('<presence/>')
        say('ONLINE %s' % jid)
        if a.ready_file:
            with open(a.ready_file + '.tmp', 'w') as f:
                f.write(jid + '\n')
            os.rename(a.ready_file + '.tmp', a.ready_file)
        for j, text in a.send:
            s.send("<message type='chat' to=%s><body>%s</body></message>"
                   % (quoteattr(j), escape(text)))
            say('SENT %s' % j)
        ok = True
        for j in a.ping:
            r = s.iq('get', "<ping xmlns='%s'/>" % NS_PING, to=j)
            if r.get('type') == 'result':
                say('PONG %s' % j)
            else:
                conds = [c.tag.split('}')[1] for e in r.findall(C + 'error') for c in e if not c.tag.endswith('}text')]
                say('PING-ERROR %s %s' % (j, ' '.join(conds)))
                ok = False
        for j, payload in a.iq:
            r = s.iq('get', payload, to=j)
            say('IQ-%s %s %s' % ('RESULT' if r.get('type') == 'result' else 'ERROR', j,
                                 ET.tostring(r, encoding='unicode').replace('\n', ' ')))
        want_msg = re.compile(a.expect_message) if a.expect_message else None
        want_pres = re.compile(a.expect_presence) if a.expect_presence else None
        end = time.monotonic() + max(a.hold, a.timeout if (want_msg or want_pres
                                                          or a.expect_count) else 0)
        while want_msg or want_pres or time.monotonic() < end:
            el = s.next(until=end)
            if el is None:
                break
            got = s.handle(el)
            if got and got[0] == 'message' and want_msg and want_msg.search(got[2]):
                want_msg = None
            if got and got[0] == 'presence' and want_pres and want_pres.search(got[1]):
                want_pres = None
            if a.hold == 0 and not want_msg and not want_pres and \
                    s.nmsg >= a.expect_count:
                break
        if want_msg or want_pres or s.nmsg < a.expect_count:
            say('TIMEOUT waiting for %s' % ('message' if want_msg or
                                            s.nmsg < a.expect_count else 'presence'))
            ok = False
        if a.abort:
            s.sock.close()
            say('ABORTED')
        else:
            s.close()
            say('CLOSED')
        return 0 if ok else 1
    except KeyboardInterrupt:
        if s:
            s.close()
        say('CLOSED')
        return 0
    except (Fail, OSError, ssl.SSLError, ET.ParseError) as e:
        say('FAIL %s' % e)
        return 1


if __name__ == '__main__':
    sys.exit(main())
PYEOF
}
