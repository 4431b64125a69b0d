# prosody.sh: a throw-away Prosody on 127.0.0.1 for the systemd tests.
# Sourced; every path lives under the directory given to pr_start.
#
#	pr_start DIR		start it (domain $PR_DOMAIN); sets PR_PORT, PR_CA
#	pr_adduser USER PASS	create an account
#	pr_online JID		0 if JID (full, or bare: any resource) has a
#				c2s session
#	pr_stop			stop it (safe to call twice; use in traps)

PR_DOMAIN=xmppd.test
PR_DIR=
PR_PID=
PR_PORT=
PR_CA=

pr_free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

pr_ctl() {
	timeout 20 prosodyctl --config "$PR_DIR/prosody.cfg.lua" "$@"
}

pr_start() {
	PR_DIR=$1
	mkdir -p "$PR_DIR/data" "$PR_DIR/certs" || return 1
	PR_CA=$PR_DIR/certs/$PR_DOMAIN.crt
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 \
	    -subj "/CN=$PR_DOMAIN" -addext "subjectAltName=DNS:$PR_DOMAIN" \
	    -keyout "$PR_DIR/certs/$PR_DOMAIN.key" -out "$PR_CA" \
	    >/dev/null 2>&1 || return 1
	tries=0
	while [ $tries -lt 5 ]; do
		tries=$((tries + 1))
		PR_PORT=$(pr_free_port) || return 1
		pr_config >"$PR_DIR/prosody.cfg.lua"
		: >"$PR_DIR/prosody.log"
		prosody -F --config "$PR_DIR/prosody.cfg.lua" \
		    >"$PR_DIR/prosody.out" 2>&1 &
		PR_PID=$!
		i=0
		while [ $i -lt 100 ]; do
			if grep -q "Failed to open server port" \
			    "$PR_DIR/prosody.log" 2>/dev/null ||
			    ! kill -0 "$PR_PID" 2>/dev/null; then
				break
			fi
			if [ -S "$PR_DIR/admin.sock" ] &&
			    grep -q "Activated service 'c2s'" \
			    "$PR_DIR/prosody.log" 2>/dev/null; then
				return 0
			fi
			sleep 0.1
			i=$((i + 1))
		done
		pr_stop
	done
	return 1
}

pr_config() {
	cat <<EOF
pidfile = "$PR_DIR/prosody.pid"
data_path = "$PR_DIR/data"
certificates = "$PR_DIR/certs"
admin_socket = "$PR_DIR/admin.sock"
run_as_root = true
interfaces = { "127.0.0.1" }
c2s_ports = { $PR_PORT }
c2s_direct_tls_ports = { }
s2s_ports = { }
http_ports = { }
https_ports = { }
modules_enabled = { "tls", "saslauth", "roster", "disco", "ping", "admin_shell" }
modules_disabled = { "s2s" }
authentication = "internal_hashed"
c2s_require_encryption = true
log = { debug = "$PR_DIR/prosody.log" }
ssl = { certificate = "$PR_DIR/certs/$PR_DOMAIN.crt"; key = "$PR_DIR/certs/$PR_DOMAIN.key" }
VirtualHost "$PR_DOMAIN"
EOF
}

pr_adduser() {
	pr_ctl register "$1" "$PR_DOMAIN" "$2" >/dev/null 2>&1
}

pr_online() {
	pr_ctl shell "c2s:show('$PR_DOMAIN')" 2>/dev/null |
	    awk -F'|' -v j="$1" '{ gsub(/ /, "", $2) }
		$2 == j || index($2, j "/") == 1 { found = 1 }
		END { exit !found }'
}

pr_stop() {
	if [ -n "$PR_PID" ]; then
		kill "$PR_PID" 2>/dev/null
		i=0
		while kill -0 "$PR_PID" 2>/dev/null && [ $i -lt 50 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		kill -9 "$PR_PID" 2>/dev/null
		wait "$PR_PID" 2>/dev/null
	fi
	PR_PID=
}
