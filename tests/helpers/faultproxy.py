#!/usr/bin/env python3
"""faultproxy.py: a TCP proxy on 127.0.0.1 that injects network faults.

  faultproxy.py --target PORT --port-file F --ctl-port-file G

Clients connect to the proxy port (written to F); traffic goes to
127.0.0.1:PORT.  Commands, one per line on the control port (written to
G), each answered with "ok":

  cut            reset every open connection now
  blackhole on   stop forwarding in both directions (connections stay open)
  blackhole off  forward again (held data is delivered)
  delay MS       delay every chunk by MS milliseconds
  cutafter N     reset a new connection after N bytes from the server
  cutafterup N   reset a new connection after N bytes from the client
  refuse on|off  reset new connections at once
  count          number of connections accepted so far
"""
import argparse
import asyncio
import os
import socket
import struct
import sys


class Proxy:
    def __init__(self, target):
        self.target = target
        self.conns = set()
        self.blackhole = False
        self.released = asyncio.Event()
        self.released.set()
        self.delay = 0.0
        self.cutafter = None
        self.cutafterup = None
        self.refuse = False
        self.accepted = 0

    async def pump(self, reader, writer, limit, pair, name=""):
        sent = 0
        try:
            while True:
                data = await reader.read(16384)
                if not data:
                    break
                await self.released.wait()
                if self.delay:
                    await asyncio.sleep(self.delay)
                if limit is not None and sent + len(data) > limit:
                    writer.write(data[:max(0, limit - sent)])
                    await writer.drain()
                    self.reset(pair)
                    return
                sent += len(data)
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            print("BYTES %s %d" % (name, sent), file=sys.stderr, flush=True)
            try:
                writer.close()
            except Exception:
                pass

    @staticmethod
    def reset(pair):
        for w in pair:
            sock = w.get_extra_info("socket")
            if sock is not None:
                try:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                    struct.pack("ii", 1, 0))
                except OSError:
                    pass
            w.transport.abort()

    async def client(self, creader, cwriter):
        self.accepted += 1
        if self.refuse:
            self.reset([cwriter])
            return
        try:
            sreader, swriter = await asyncio.open_connection(
                "127.0.0.1", self.target)
        except OSError:
            self.reset([cwriter])
            return
        pair = (cwriter, swriter)
        self.conns.add(pair)
        try:
            await asyncio.gather(
                self.pump(creader, swriter, self.cutafterup, pair, "up"),
                self.pump(sreader, cwriter, self.cutafter, pair, "down"))
        finally:
            self.conns.discard(pair)

    async def control(self, reader, writer):
        while True:
            line = await reader.readline()
            if not line:
                break
            words = line.decode().split()
            reply = "ok"
            if not words:
                continue
            if words[0] == "cut":
                for pair in list(self.conns):
                    self.reset(pair)
            elif words[0] == "blackhole":
                self.blackhole = words[1] == "on"
                if self.blackhole:
                    self.released.clear()
                else:
                    self.released.set()
            elif words[0] == "delay":
                self.delay = int(words[1]) / 1000.0
            elif words[0] == "cutafter":
                self.cutafter = int(words[1]) if int(words[1]) > 0 else None
            elif words[0] == "cutafterup":
                self.cutafterup = int(words[1]) if int(words[1]) > 0 else None
            elif words[0] == "refuse":
                self.refuse = words[1] == "on"
            elif words[0] == "count":
                reply = str(self.accepted)
            else:
                reply = "error unknown command"
            writer.write((reply + "\n").encode())
            await writer.drain()
        writer.close()


def write_port(path, port):
    with open(path + ".tmp", "w") as f:
        f.write(str(port))
    os.rename(path + ".tmp", path)


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--target", type=int, required=True)
    p.add_argument("--port-file", required=True)
    p.add_argument("--ctl-port-file", required=True)
    p.add_argument("--max-seconds", type=float, default=900)
    p.add_argument("--listen", default="127.0.0.1",
                   help="address to accept clients on (control stays on loopback)")
    args = p.parse_args()
    proxy = Proxy(args.target)
    srv = await asyncio.start_server(proxy.client, args.listen, 0)
    ctl = await asyncio.start_server(proxy.control, "127.0.0.1", 0)
    write_port(args.ctl_port_file, ctl.sockets[0].getsockname()[1])
    write_port(args.port_file, srv.sockets[0].getsockname()[1])
    await asyncio.sleep(args.max_seconds)


if __name__ == "__main__":
    asyncio.run(main())
