#!/usr/bin/python3
"""slixmpp-bot.py: the slixmpp peer for scripts/bench.

As small as a bot doing xmppd's job can be: connect, STARTTLS (forced,
certificate verified against the JID's domain), SASL (slixmpp picks
SCRAM), bind, initial presence; then stay online.

    slixmpp-bot.py -j JID -s HOST:PORT -c CAFILE [-m MIN_MS] [-M MAX_MS] [-d]

The password comes from $BOT_PASSWORD.  Lines on stdout, each starting with
the wall-clock time in seconds: "T start", "T presence-sent JID",
"T disconnected", "T retry-in MS", "T exit".  -d turns on slixmpp's debug
log on stderr.

SIGUSR1: reconnect now: disconnect() (clean stream close), then connect()
again as soon as slixmpp reports "disconnected".  slixmpp's own reconnect()
cannot be used with an explicit server address: it calls connect() without
one, which falls back to an SRV lookup and port 5222.  A connection lost otherwise is retried with xmppd's
schedule (full jitter: attempt n waits uniform [MIN, min(MAX, MIN * 2^n)]
ms, reset after 60 s online) instead of slixmpp's fixed 1, 3, 7 ... s
connect loop, so that all three programs back off alike.
SIGTERM/SIGINT: unavailable presence, disconnect, exit.
"""
import time

T_START = time.time()

import argparse
import asyncio
import logging
import os
import random
import signal
import sys

import slixmpp

STABLE_S = 60.0


def say(what, arg=None, t=None):
    t = time.time() if t is None else t
    sys.stdout.write("%.6f %s%s\n" % (t, what, " " + arg if arg else ""))
    sys.stdout.flush()


class Bot(slixmpp.ClientXMPP):
    def __init__(self, jid, password, host, port, bo_min, bo_max):
        super().__init__(jid, password)
        self.host, self.port = host, port
        self.bo_min, self.bo_max, self.bo_attempt = bo_min, bo_max, 0
        self.online_since = None
        self.reconnecting = False
        self.quitting = False
        self.retry_handle = None
        self.add_event_handler("session_start", self.on_session_start)
        self.add_event_handler("disconnected", self.on_disconnected)
        self.add_event_handler("connection_failed", self.on_connection_failed)

    def go(self):
        self.retry_handle = None
        self.connect((self.host, self.port), use_ssl=False,
                     force_starttls=True, disable_starttls=False)

    def backoff_next(self):
        ceil = self.bo_max if self.bo_attempt >= 32 else \
            min(self.bo_max, self.bo_min << self.bo_attempt)
        self.bo_attempt += 1
        return random.randint(self.bo_min, ceil)

    def schedule_retry(self):
        if self.quitting or self.retry_handle is not None:
            return
        ms = self.backoff_next()
        say("retry-in", str(ms))
        self.retry_handle = self.loop.call_later(ms / 1000.0, self.go)

    def on_session_start(self, event):
        self.send_presence()
        self.online_since = time.monotonic()
        say("presence-sent", str(self.boundjid))

    def on_disconnected(self, reason):
        say("disconnected")
        if self.online_since is not None and \
                time.monotonic() - self.online_since >= STABLE_S:
            self.bo_attempt = 0
        self.online_since = None
        if self.reconnecting:
            self.reconnecting = False
            self.go()
            return
        self.schedule_retry()

    def on_connection_failed(self, error):
        # Take over from slixmpp's connect loop with our own schedule.
        self.cancel_connection_attempt()
        self.schedule_retry()

    def on_usr1(self):
        if self.retry_handle is not None:
            self.retry_handle.cancel()
            self.retry_handle = None
        if self.is_connected():
            self.reconnecting = True
            self.disconnect(wait=2.0, reason="SIGUSR1")
        else:
            self.go()

    def on_term(self):
        self.quitting = True
        if self.retry_handle is not None:
            self.retry_handle.cancel()
        if self.is_connected():
            self.send_presence(ptype="unavailable")
            fut = self.disconnect(wait=1.0)
            fut.add_done_callback(lambda _f: self.loop.stop())
            self.loop.call_later(2.0, self.loop.stop)
        else:
            self.loop.stop()


def main():
    say("start", t=T_START)
    ap = argparse.ArgumentParser()
    ap.add_argument("-j", required=True)
    ap.add_argument("-s", required=True)
    ap.add_argument("-c", required=True)
    ap.add_argument("-m", type=int, default=1000)
    ap.add_argument("-M", type=int, default=300000)
    ap.add_argument("-d", action="store_true")
    a = ap.parse_args()
    password = os.environ.get("BOT_PASSWORD")
    if password is None:
        ap.error("BOT_PASSWORD is not set")
    if a.d:
        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr,
                            format="%(created).6f %(name)s %(message)s")
    host, _, port = a.s.rpartition(":")
    bot = Bot(a.j, password, host, int(port), a.m, a.M)
    bot.ca_certs = a.c
    bot.loop.add_signal_handler(signal.SIGUSR1, bot.on_usr1)
    bot.loop.add_signal_handler(signal.SIGTERM, bot.on_term)
    bot.loop.add_signal_handler(signal.SIGINT, bot.on_term)
    bot.go()
    bot.loop.run_forever()
    say("exit")


if __name__ == "__main__":
    main()
