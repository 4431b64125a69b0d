#!/bin/sh
# t-doap.sh: doap.xml (XEP-0453) parses, and lists exactly the XEPs xmppd
# implements, each with status, version and the release that brought it,
# and the RFCs 6120, 6121, 7590 and 7622.
#
# XEPS is the one list of implemented XEPs: extend it (and doap.xml) when
# code implements a new one.  Every "XEP-NNNN" written in src/*.[ch] or
# man/*.[158] must be in XEPS, or in MENTIONED (named, not implemented).
set -eu
: "${top_srcdir:=.}"

XEPS="0030 0045 0077 0092 0115 0184 0198 0199 0249 0352 0359 0368 0410 0440 0474"
MENTIONED=""
RFCS="6120 6121 7590 7622"

command -v python3 >/dev/null 2>&1 || {
	echo "Bail out! python3 is not installed"
	exit 1
}

python3 - "$top_srcdir" "$XEPS" "$MENTIONED" "$RFCS" <<'PY'
import glob, os, re, sys
import xml.etree.ElementTree as ET

top, xeps, mentioned, rfcs = sys.argv[1], sys.argv[2].split(), \
    sys.argv[3].split(), sys.argv[4].split()
RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
DOAP = "{http://usefulinc.com/ns/doap#}"
XMPP = "{https://linkmauve.fr/ns/xmpp-doap#}"
STATUSES = {"complete", "partial", "planned", "deprecated", "removed",
            "wontfix"}
n = 0
failed = 0

def ok(cond, name, why=""):
    global n, failed
    n += 1
    if cond:
        print("ok %d - %s" % (n, name))
    else:
        failed += 1
        print("not ok %d - %s" % (n, name))
        for line in why.splitlines():
            print("#   " + line)

try:
    root = ET.parse(os.path.join(top, "doap.xml")).getroot()
    err = ""
except (ET.ParseError, OSError) as e:
    root, err = None, str(e)
ok(root is not None, "doap.xml parses", err)
if root is None:
    print("1..%d" % n)
    sys.exit(1)
proj = root.find(DOAP + "Project")
ok(root.tag == RDF + "RDF" and proj is not None,
   "an rdf:RDF with a doap:Project")
ok(proj is not None and proj.findtext(DOAP + "name") == "xmppd",
   "the project is named xmppd")

listed_rfcs, listed, bad = set(), {}, []
for imp in proj.findall(DOAP + "implements"):
    res = imp.get(RDF + "resource")
    if res is not None:
        m = re.fullmatch(r"https://www\.rfc-editor\.org/info/rfc(\d+)", res)
        if m:
            listed_rfcs.add(m.group(1))
        else:
            bad.append(res)
        continue
    sx = imp.find(XMPP + "SupportedXep")
    xep = sx.find(XMPP + "xep") if sx is not None else None
    m = re.fullmatch(r"https://xmpp\.org/extensions/xep-(\d{4})\.html",
                     xep.get(RDF + "resource", "") if xep is not None else "")
    if m is None:
        bad.append(ET.tostring(imp, encoding="unicode")[:80])
        continue
    num = m.group(1)
    if num in listed:
        bad.append("XEP-%s twice" % num)
    listed[num] = sx
ok(not bad, "every implements entry is an RFC or a SupportedXep",
   "\n".join(bad))
for r in rfcs:
    ok(r in listed_rfcs, "RFC %s is listed" % r)

for num in xeps:
    sx = listed.get(num)
    ok(sx is not None, "XEP-%s (implemented) is listed" % num)
    if sx is None:
        continue
    st = (sx.findtext(XMPP + "status") or "").strip()
    ver = (sx.findtext(XMPP + "version") or "").strip()
    since = (sx.findtext(XMPP + "since") or "").strip()
    ok(st in STATUSES and re.fullmatch(r"\d+\.\d+(\.\d+)?(rc\d+)?", ver)
       and re.fullmatch(r"\d+\.\d+\.\d+", since),
       "XEP-%s has status, version and since" % num,
       "status %r version %r since %r" % (st, ver, since))
extra = sorted(set(listed) - set(xeps))
ok(not extra, "doap.xml lists no XEP missing from XEPS",
   "extra: " + " ".join(extra))

# What the sources and manuals name.
named = {}
files = sorted(glob.glob(os.path.join(top, "src", "*.[ch]")) +
               glob.glob(os.path.join(top, "man", "*.[158]")))
for f in files:
    with open(f, encoding="utf-8", errors="replace") as fh:
        for m in re.finditer(r"XEP-(\d{4})", fh.read()):
            named.setdefault(m.group(1), os.path.relpath(f, top))
ok(len(files) > 0 and len(named) > 0, "src/ and man/ name XEPs (%d files)"
   % len(files))
unknown = sorted(x for x in named if x not in xeps and x not in mentioned)
ok(not unknown, "every XEP named in src/ and man/ is in XEPS or MENTIONED",
   "\n".join("XEP-%s (%s)" % (x, named[x]) for x in unknown))
print("1..%d" % n)
sys.exit(1 if failed else 0)
PY
