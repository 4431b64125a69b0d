#!/bin/sh
# t-caps.sh: XEP-0115 entity capabilities against a real Prosody.  The
# bot's presence carries <c hash='sha-1' node ver>; the disco#info answer
# for node#ver is recomputed here per XEP-0115 §5.1 (python3) and must
# give that ver; the answer without a node is the same; another ver is
# refused.
set -eu
. "$top_srcdir/tests/integration/lib.sh"
need_xmppd
plan 7

prosody_start || bail "prosody did not start"
prosody_adduser bot "$BOT_PASSWORD"
prosody_adduser watcher watchpw

write_conf "$T/xmppd.conf"
xmppd_start "$T/xmppd.conf"
check "online" xmppd_ctl -t 20 wait-online

xmpp_client --user watcher --password watchpw --resource s --verbose \
    --subscribe "bot@$DOMAIN" --expect-presence "bot@$DOMAIN" --timeout 15 \
    >"$T/sub.out" 2>"$T/sub.xml" || :
caps=$(python3 - "$T/sub.xml" "bot@$DOMAIN" <<'PY'
import re, sys
text = open(sys.argv[1], errors="replace").read()
for m in re.finditer(r"<presence[^>]*from=.%s/[^>]*>.*?</presence>" % re.escape(sys.argv[2]), text):
    c = re.search(r"<c [^>]*>", m.group(0))
    if c and "http://jabber.org/protocol/caps" in c.group(0):
        a = dict(re.findall(r"(\w+)=['\"]([^'\"]*)['\"]", c.group(0)))
        print(a.get("hash", ""), a.get("node", ""), a.get("ver", ""))
        break
PY
)
set -- $caps
like "${1:-}" '^sha-1$' "the bot's presence carries caps, hash sha-1"
node=${2:-none}
ver=${3:-none}
diag "caps node $node ver $ver"

out=$(xmpp_client --user watcher --password watchpw --resource d --timeout 10 \
    --iq "$BOT_JID" "<query xmlns='http://jabber.org/protocol/disco#info' node='$node#$ver'/>" \
    --iq "$BOT_JID" "<query xmlns='http://jabber.org/protocol/disco#info'/>" \
    --iq "$BOT_JID" "<query xmlns='http://jabber.org/protocol/disco#info' node='$node#AAAA'/>" \
    2>&1) || :
printf '%s\n' "$out" >"$T/disco.out"
# XEP-0115 §5.1, from the reply: identities sorted by category, type,
# xml:lang; features sorted; each followed by "<"; SHA-1; base64.
recompute() {
	python3 - "$1" <<'PY'
import base64, hashlib, sys
import xml.etree.ElementTree as ET
line = sys.argv[1]
iq = ET.fromstring(line[line.index("<"):])
D = "{http://jabber.org/protocol/disco#info}"
q = iq.find(D + "query")
L = "{http://www.w3.org/XML/1998/namespace}lang"
ids = sorted((i.get("category", ""), i.get("type", ""), i.get(L, ""), i.get("name", ""))
             for i in q.findall(D + "identity"))
feats = sorted(f.get("var") for f in q.findall(D + "feature"))
s = "".join("%s/%s/%s/%s<" % i for i in ids) + "".join(f + "<" for f in feats)
print(base64.b64encode(hashlib.sha1(s.encode()).digest()).decode(), q.get("node", "-"))
PY
}
r1=$(printf '%s\n' "$out" | grep '^IQ-RESULT' | sed -n 1p)
r2=$(printf '%s\n' "$out" | grep '^IQ-RESULT' | sed -n 2p)
set -- $(recompute "$r1")
is "${1:-}" "$ver" "disco#info for node#ver: the recomputed hash is the ver"
is "${2:-}" "$node#$ver" "... and the answer names the node"
set -- $(recompute "$r2")
is "${1:-}" "$ver" "disco#info without a node: the same identities and features"
like "$out" "IQ-ERROR $BOT_JID .*service-unavailable" \
    "disco#info for another ver: refused"
check "no sanitizer reports" no_sanitizer_reports
done_testing
