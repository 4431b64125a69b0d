#!/bin/sh
# t-completion.sh: the bash completion of xmppd-ctl (completion/xmppd-ctl,
# built from completion/xmppd-ctl.in): sourced into bash, it completes
# options, every command "xmppd-ctl -h" lists (and no other), presence
# values, unregister's --yes, and for -i the instances named by the
# NAME.conf files of the configuration directory.
set -eu
: "${top_srcdir:=.}" "${top_builddir:=.}"

comp=$top_builddir/completion/xmppd-ctl
ctl=$top_builddir/src/xmppd-ctl
command -v bash >/dev/null 2>&1 || { echo "Bail out! no bash"; exit 1; }
[ -f "$comp" ] || { echo "Bail out! $comp is not built"; exit 1; }
[ -x "$ctl" ] || { echo "Bail out! $ctl is not built"; exit 1; }

T=$(mktemp -d "${TMPDIR:-/tmp}/xmppd-comp.XXXXXX")
trap 'rm -rf "$T"' EXIT
mkdir "$T/etc"
touch "$T/etc/xmppd.conf" "$T/etc/alice.conf" "$T/etc/bob.conf" \
    "$T/etc/alice.password" "$T/etc/carol.conf.dpkg-old"

# complete WORDS...: what the completion offers for the last word,
# sorted, on one line.
complete_words() {
	bash --norc --noprofile -c '
		. "$1"
		_xmppd_ctl_confdir=$2
		shift 2
		COMP_WORDS=("$@")
		COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		COMP_LINE="$*"
		COMP_POINT=${#COMP_LINE}
		_xmppd_ctl xmppd-ctl "${COMP_WORDS[COMP_CWORD]}" \
		    "${COMP_WORDS[COMP_CWORD-1]}"
		printf "%s\n" "${COMPREPLY[@]}" | sort | paste -sd" " -
	' sh "$comp" "$T/etc" "$@"
}

n=0
failed=0
is() {
	n=$((n + 1))
	if [ "$1" = "$2" ]; then
		echo "ok $n - $3"
	else
		failed=$((failed + 1))
		echo "not ok $n - $3"
		echo "#        got: '$1'"
		echo "#     wanted: '$2'"
	fi
}

cmds=$("$ctl" -h | sed -n '/^commands:/,$p' | awk 'NR > 1 { print $1 }' |
    sort | paste -sd' ' -)
is "$(complete_words xmppd-ctl '')" "$cmds" \
    "an empty word: every command of xmppd-ctl -h, nothing else"
is "$(complete_words xmppd-ctl re)" "reauth reconnect register reload" \
    "'re': the commands starting with re"
is "$(complete_words xmppd-ctl han)" "handover" "'han': handover"
is "$(complete_words xmppd-ctl -)" "-h -i -j -s -t" "'-': the options"
is "$(complete_words xmppd-ctl -i '')" "alice bob" \
    "-i: the instances of NAME.conf, without xmppd.conf"
is "$(complete_words xmppd-ctl -i a)" "alice" "-i a: alice"
is "$(complete_words xmppd-ctl -i alice st)" "stats status" \
    "after -i NAME: the commands again"
is "$(complete_words xmppd-ctl -j -t 5 presence '')" \
    "available away chat dnd xa" "presence: the show values"
is "$(complete_words xmppd-ctl unregister '')" "--yes" "unregister: --yes"
is "$(complete_words xmppd-ctl send bob@example.org '')" "" \
    "send JID: nothing to offer for the text"
is "$(complete_words xmppd-ctl -t '')" "" "-t: nothing to offer"
: >"$T/sockfile"
is "$(complete_words xmppd-ctl -s "$T/sock")" "$T/sockfile" "-s: file names"
rm -f "$T"/etc/*.conf
is "$(complete_words xmppd-ctl -i '')" "" "-i with no NAME.conf: nothing"
echo "1..$n"
[ "$failed" = 0 ]
