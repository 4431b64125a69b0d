#!/usr/bin/env python3
# mucpeer.py: a second occupant for the group-chat tests: logs in with the
# harness's client (xmpp-client.py, written by lib.sh; its Stream and SCRAM
# code is reused, not copied), then obeys one command per line from a FIFO
# and prints what it sees, one event per line (with --stamp, each line
# starts with the Unix time in seconds, to the microsecond):
#   ONLINE <jid>
#   JOINED <room> <nick> / JOIN-ERROR <room> <condition>
#   PRESENCE <room> <nick> <available|unavailable> <codes,...|-> <show|->
#   GROUPCHAT <room> <nick> <text>
#   SUBJECT <room> <nick> <text>
#   DONE <n> <command> ok|error <condition>   (for iq commands, n counts)
# Commands: join ROOM NICK [PASSWORD] | leave ROOM | say ROOM TEXT |
#   subject ROOM TEXT | kick ROOM NICK [REASON] | ban ROOM JID | member ROOM JID |
#   destroy ROOM [ALTJID] | config ROOM VAR=VALUE... (muc#roomconfig_VAR) |
#   invite ROOM JID (mediated) | dinvite JID ROOM (XEP-0249) | quit
import argparse, importlib.util, os, sys, time
from xml.sax.saxutils import escape, quoteattr

NS_MUC = 'http://jabber.org/protocol/muc'
NS_USER = NS_MUC + '#user'
NS_ADMIN = NS_MUC + '#admin'
NS_OWNER = NS_MUC + '#owner'
NS_BIND = 'urn:ietf:params:xml:ns:xmpp-bind'


STAMP = False


def say(*a):
    if STAMP:
        print('%.6f' % time.time(), *a, flush=True)
    else:
        print(*a, flush=True)


def load_client(path):
    spec = importlib.util.spec_from_file_location('xmpp_client', path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class Peer:
    def __init__(self, xc, s):
        self.xc, self.s = xc, s
        self.pending = {}
        self.n = 0
        self.nicks = {}

    def C(self, t):
        return '{jabber:client}' + t

    def iq(self, what, to, body, typ='set'):
        self.n += 1
        i = 'p%d' % self.n
        self.pending[i] = (self.n, what)
        self.s.send("<iq type='%s' id='%s' to=%s>%s</iq>"
                    % (typ, i, quoteattr(to), body))

    def command(self, line):
        w = line.split(' ')
        cmd, args = w[0], w[1:]
        if cmd == 'join':
            room, nick = args[0], args[1]
            self.nicks[room] = nick
            pw = '<password>%s</password>' % escape(args[2]) if len(args) > 2 else ''
            self.s.send("<presence to=%s><x xmlns='%s'><history maxstanzas='0'/>"
                        "%s</x></presence>" % (quoteattr(room + '/' + nick), NS_MUC, pw))
        elif cmd == 'leave':
            self.s.send("<presence type='unavailable' to=%s/>"
                        % quoteattr(args[0] + '/' + self.nicks.get(args[0], 'x')))
        elif cmd in ('say', 'subject'):
            tag = 'body' if cmd == 'say' else 'subject'
            self.s.send("<message type='groupchat' to=%s><%s>%s</%s></message>"
                        % (quoteattr(args[0]), tag, escape(' '.join(args[1:])), tag))
        elif cmd == 'kick':
            why = ' '.join(args[2:]) if len(args) > 2 else 'test kick'
            self.iq('kick', args[0], "<query xmlns='%s'><item nick=%s role='none'>"
                    "<reason>%s</reason></item></query>"
                    % (NS_ADMIN, quoteattr(args[1]), escape(why)))
        elif cmd in ('ban', 'member'):
            aff = 'outcast' if cmd == 'ban' else 'member'
            self.iq(cmd, args[0], "<query xmlns='%s'><item jid=%s affiliation='%s'>"
                    "<reason>test</reason></item></query>"
                    % (NS_ADMIN, quoteattr(args[1]), aff))
        elif cmd == 'destroy':
            alt = ' jid=%s' % quoteattr(args[1]) if len(args) > 1 else ''
            self.iq('destroy', args[0], "<query xmlns='%s'><destroy%s><reason>"
                    "test destroy</reason></destroy></query>" % (NS_OWNER, alt))
        elif cmd == 'config':
            fields = ''.join("<field var='muc#roomconfig_%s'><value>%s</value></field>"
                             % (kv.split('=', 1)[0], escape(kv.split('=', 1)[1]))
                             for kv in args[1:])
            self.iq('config', args[0], "<query xmlns='%s'><x xmlns='jabber:x:data' "
                    "type='submit'><field var='FORM_TYPE'><value>%s#roomconfig</value>"
                    "</field>%s</x></query>" % (NS_OWNER, NS_MUC, fields))
        elif cmd == 'invite':
            self.s.send("<message to=%s><x xmlns='%s'><invite to=%s><reason>come"
                        "</reason></invite></x></message>"
                        % (quoteattr(args[0]), NS_USER, quoteattr(args[1])))
        elif cmd == 'dinvite':
            self.s.send("<message to=%s><x xmlns='jabber:x:conference' jid=%s "
                        "reason='come'/></message>" % (quoteattr(args[0]), quoteattr(args[1])))
        elif cmd == 'quit':
            raise KeyboardInterrupt
        else:
            say('BAD-COMMAND %s' % line)

    def handle(self, el):
        frm = el.get('from', '')
        room, _, nick = frm.partition('/')
        if el.tag == self.C('iq') and el.get('id') in self.pending:
            n, what = self.pending.pop(el.get('id'))
            if el.get('type') == 'result':
                say('DONE %d %s ok' % (n, what))
            else:
                conds = [c.tag.split('}')[1] for e in el.findall(self.C('error'))
                         for c in e if not c.tag.endswith('}text')]
                say('DONE %d %s error %s' % (n, what, ' '.join(conds)))
        elif el.tag == self.C('presence'):
            x = el.find('{%s}x' % NS_USER)
            codes = [st.get('code') for st in x.findall('{%s}status' % NS_USER)] if x is not None else []
            if el.get('type') == 'error':
                conds = [c.tag.split('}')[1] for e in el.findall(self.C('error'))
                         for c in e if not c.tag.endswith('}text')]
                say('JOIN-ERROR %s %s' % (room, ' '.join(conds)))
                return
            if '110' in codes and el.get('type') != 'unavailable':
                say('JOINED %s %s' % (room, nick))
            say('PRESENCE %s %s %s %s %s' % (room, nick, el.get('type', 'available'),
                                              ','.join(codes) or '-',
                                              el.findtext(self.C('show')) or '-'))
        elif el.tag == self.C('message') and el.get('type') == 'groupchat':
            body = el.findtext(self.C('body'))
            subj = el.findtext(self.C('subject'))
            if body is not None:
                say('GROUPCHAT %s %s %s' % (room, nick, body.replace('\n', '\\n')))
            elif subj is not None:
                say('SUBJECT %s %s %s' % (room, nick, subj))
        else:
            self.s.handle(el)


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--client', required=True, help='path of xmpp-client.py')
    p.add_argument('--fifo', required=True)
    p.add_argument('--port', type=int, required=True)
    p.add_argument('--domain', required=True)
    p.add_argument('--ca', required=True)
    p.add_argument('--user', required=True)
    p.add_argument('--password', required=True)
    p.add_argument('--resource', default='peer')
    p.add_argument('--max-seconds', type=float, default=600)
    p.add_argument('--stamp', action='store_true',
                   help='start each line with the Unix time (benchmarks)')
    a = p.parse_args()
    global STAMP
    STAMP = a.stamp
    xc = load_client(a.client)
    ns = argparse.Namespace(host='127.0.0.1', port=a.port, domain=a.domain, ca=a.ca,
                            tls='starttls', timeout=10, verbose=False)
    s = xc.Stream(ns)
    s.open()
    s.send("<starttls xmlns='%s'/>" % xc.NS_TLS)
    if s.next().tag != '{%s}proceed' % xc.NS_TLS:
        raise SystemExit('STARTTLS refused')
    s.starttls_wrap()
    s.open()
    xc.scram_sha1(s, a.user, a.password)
    s.open()
    r = s.iq('set', "<bind xmlns='%s'><resource>%s</resource></bind>"
             % (NS_BIND, escape(a.resource)))
    say('ONLINE %s' % r.findtext('{%s}bind/{%s}jid' % (NS_BIND, NS_BIND)))
    s.send('<presence/>')
    peer = Peer(xc, s)
    fd = os.open(a.fifo, os.O_RDWR | os.O_NONBLOCK)
    buf = b''
    end = time.monotonic() + a.max_seconds
    try:
        while time.monotonic() < end:
            el = s.next(until=time.monotonic() + 0.05)
            if el is not None:
                peer.handle(el)
                continue
            try:
                buf += os.read(fd, 4096)
            except BlockingIOError:
                pass
            while b'\n' in buf:
                line, buf = buf.split(b'\n', 1)
                if line.strip():
                    peer.command(line.decode().strip())
    except KeyboardInterrupt:
        pass
    s.close()
    say('CLOSED')


if __name__ == '__main__':
    main()
