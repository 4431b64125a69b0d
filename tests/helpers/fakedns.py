#!/usr/bin/env python3
"""fakedns.py: a scripted DNS server on 127.0.0.1 for xmppd's tests.

Answers SRV and A queries from records given on the command line; other
names get NXDOMAIN, AAAA gets an empty answer.  --mode makes it misbehave:
servfail answers SERVFAIL to everything, timeout never answers.

  fakedns.py --port-file F [--mode ok|servfail|timeout]
      [--srv NAME=PRIO,WEIGHT,PORT,TARGET ...] [--a NAME=IPV4 ...]
"""
import argparse
import socket
import struct
import sys
import time


def parse_name(msg, off):
    labels = []
    while True:
        n = msg[off]
        if n == 0:
            return ".".join(labels).lower(), off + 1
        if n & 0xC0:
            raise ValueError("compressed name in a question")
        labels.append(msg[off + 1:off + 1 + n].decode("ascii", "replace"))
        off += 1 + n


def enc_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode("ascii")
    return out + b"\0"


def answer(msg, args):
    qid, flags, qd = struct.unpack("!HHH", msg[:6])
    name, off = parse_name(msg, 12)
    qtype, qclass = struct.unpack("!HH", msg[off:off + 4])
    question = msg[12:off + 4]
    rcode, rrs = 0, []
    if args.mode == "servfail":
        rcode = 2
    elif qtype == 33 and name in args.srv:
        for prio, weight, port, target in args.srv[name]:
            rdata = struct.pack("!HHH", prio, weight, port) + enc_name(target)
            rrs.append((33, rdata))
    elif qtype == 1 and name in args.a:
        for ip in args.a[name]:
            rrs.append((1, socket.inet_aton(ip)))
    elif qtype == 28 and (name in args.a or name in args.srv):
        pass
    else:
        rcode = 3
    hdr = struct.pack("!HHHHHH", qid, 0x8180 | rcode, 1, len(rrs), 0, 0)
    body = b""
    for rtype, rdata in rrs:
        body += b"\xc0\x0c" + struct.pack("!HHIH", rtype, 1, 60, len(rdata))
        body += rdata
    return hdr + question + body


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port-file", required=True)
    p.add_argument("--mode", default="ok", choices=["ok", "servfail", "timeout"])
    p.add_argument("--srv", action="append", default=[])
    p.add_argument("--a", action="append", default=[])
    p.add_argument("--max-seconds", type=float, default=600)
    args = p.parse_args()
    srv, a = {}, {}
    for s in args.srv:
        name, val = s.split("=", 1)
        prio, weight, port, target = val.split(",")
        srv.setdefault(name.lower(), []).append(
            (int(prio), int(weight), int(port), target))
    for s in args.a:
        name, ip = s.split("=", 1)
        a.setdefault(name.lower(), []).append(ip)
    args.srv, args.a = srv, a
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(sock.getsockname()[1]))
    import os
    os.rename(args.port_file + ".tmp", args.port_file)
    deadline = time.monotonic() + args.max_seconds
    sock.settimeout(1.0)
    while time.monotonic() < deadline:
        try:
            msg, peer = sock.recvfrom(4096)
        except socket.timeout:
            continue
        try:
            name, _ = parse_name(msg, 12)
            print("QUERY %s" % name, file=sys.stderr, flush=True)
            if args.mode == "timeout":
                continue
            sock.sendto(answer(msg, args), peer)
        except (ValueError, IndexError, struct.error):
            continue


if __name__ == "__main__":
    main()
