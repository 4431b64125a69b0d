#!/usr/bin/env python3
"""badserver.py -- a scripted, misbehaving XMPP server for xmppd's tests.

    badserver.py --port-file F --cert C --key K --scenario NAME
                 [--tls starttls|direct] [--redirect-port P] [--max-seconds N]

Binds 127.0.0.1:0, writes the port to F, and serves connections one after
the other; every connection replays the scenario.  Events go to stderr, one
line each, so tests can grep and count them:

    LISTEN port            CONNECT n host:port     CLOSE n
    OVERLAP ...            (a new connection arrived while one was open)
    RECV-HEADER attrs      RECV <element ...>      SEND what
    TLS version cipher     AUTH-OK mech user       AUTH-FAIL mech why
    BIND jid               PRESENCE attrs          PONG id / PING-ANSWERED id
    EOF                    ERROR why               PLAINTEXT-AUTH mech

The normal path: stream header and features with <starttls><required/>;
<proceed/> and TLS; mechanisms (SCRAM-SHA-1 and PLAIN by default) with a
real server-side SCRAM for --user/--password (bot/secret), random salt,
4096 iterations; resource binding (the requested resource, else "test");
then presence is accepted and pings are answered.  Scenarios:

    ok                  the normal path; stays up until the client leaves
    bad-nonce           server-first nonce does not extend the client's
    bad-signature       wrong v= in <success/>
    low-iter            i=1000
    high-iter           i=10000000
    doctype             <!DOCTYPE ...> in the prolog right after connect
    entity-bomb         billion laughs in the prolog, referenced in features
    oversized           after bind, one 100 MB message stanza (1 MB pieces)
    deep                after bind, 100000 nested <a> elements
    bad-utf8            after bind, a message with invalid UTF-8 bytes
    nul                 after bind, a NUL byte inside a stanza
    whitespace-flood    after bind, whitespace at full speed (<= 10 s)
    see-other-host      stream error see-other-host -> 127.0.0.1:--redirect-port
    redirect-loop       see-other-host pointing at this server itself
    conflict, system-shutdown, policy-violation, reset
                        after bind, that stream error
    not-authorized-mid  after bind, stream error not-authorized
    tcp-reset           after bind, the TCP connection is reset (RST)
    silent              accept TCP, say nothing
    register-oob, register-captcha, register-form, register-not-acceptable
                        XEP-0077 before SASL: a web-page-only form, a
                        CAPTCHA form, a data form accepted, a form that
                        wants email and rejects the submission
    ssdp-ok, ssdp-mismatch
                        XEP-0474 d= in the server-first-message: the hash
                        of the offered mechanisms, or of a list with one
                        more (what a client sees after a downgrade)
    no-starttls         features without starttls (mechanisms offered in
                        the clear; a client that uses them is logged as
                        PLAINTEXT-AUTH)
    final-challenge     the SCRAM server-final message in a <challenge/>
                        (RFC 6120 6.3.10), then, after the client's empty
                        <response/>, one more challenge (EXTRA-CHALLENGE)
    plus-ok             TLS 1.2 at most; -PLUS (SCRAM-SHA-1-PLUS by default)
                        with tls-unique is checked and accepted
    plus-then-reject    as plus-ok on the first connection; later ones
                        reject -PLUS (what a client sees when a man in the
                        middle relays a server's binding failure)
    redirect-online     after bind, see-other-host pointing at this server
                        itself: every session ends right after login
    iq-spoof            online, answers from the wrong sender with the
                        right id: a ping gets only a result from
                        mallory@DOMAIN/x (PING-SPOOFED); a jabber:iq:register
                        request gets that result, then the real answer, an
                        error not-allowed without 'from' (REGISTER-SPOOFED)

"After bind" means once the client's initial presence arrived (or --delay
seconds after the bind, whichever is first).  see-other-host is sent after
TLS unless --redirect-when pre-tls.  Python 3 standard library only.
"""
import argparse
import base64
import hashlib
import hmac
import os
import select
import signal
import socket
import ssl
import sys
import time
import xml.etree.ElementTree as ET

NS_STREAM = 'http://etherx.jabber.org/streams'
NS_STREAMS = 'urn:ietf:params:xml:ns:xmpp-streams'
NS_TLS = 'urn:ietf:params:xml:ns:xmpp-tls'
NS_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl'
NS_BIND = 'urn:ietf:params:xml:ns:xmpp-bind'
NS_SESSION = 'urn:ietf:params:xml:ns:xmpp-session'
NS_PING = 'urn:xmpp:ping'
NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas'
C = '{jabber:client}'

SCENARIOS = (
    'ok', 'bad-nonce', 'bad-signature', 'low-iter', 'high-iter', 'doctype',
    'entity-bomb', 'oversized', 'deep', 'bad-utf8', 'nul', 'whitespace-flood',
    'see-other-host', 'redirect-loop', 'conflict', 'system-shutdown',
    'policy-violation', 'reset', 'not-authorized-mid', 'tcp-reset', 'silent',
    'no-starttls', 'register-oob', 'register-captcha', 'register-form',
    'register-not-acceptable', 'ssdp-ok', 'ssdp-mismatch', 'iq-spoof',
    'final-challenge', 'redirect-online', 'plus-ok', 'plus-then-reject',
)
PLUS_SCENARIOS = ('plus-ok', 'plus-then-reject')
POST_BIND_ERRORS = {
    'conflict': 'conflict', 'system-shutdown': 'system-shutdown',
    'policy-violation': 'policy-violation', 'reset': 'reset',
    'not-authorized-mid': 'not-authorized',
}


def log(*words):
    line = ' '.join(str(w) for w in words).replace('\n', '\\n')
    sys.stderr.write(line[:500] + '\n')
    sys.stderr.flush()


class Closed(Exception):
    """The peer went away (EOF, reset, or its </stream:stream>)."""


class Deadline(Exception):
    pass


def short(el):
    s = ET.tostring(el, encoding='unicode')
    return s if len(s) <= 300 else s[:300] + '...'


class Conn:
    def __init__(self, sock, args, deadline, listener=None, n=0):
        self.sock = sock
        self.listener = listener   # to notice a second, overlapping connection
        self.n = n
        self.args = args
        self.deadline = deadline
        self.queue = []
        self.header = None
        self.reset_parser()

    # -- I/O --
    def send(self, data, what=None):
        if isinstance(data, str):
            data = data.encode()
        log('SEND', what if what else data[:200].decode('utf-8', 'replace'))
        self.sock.sendall(data)

    def reset_parser(self):
        self.parser = ET.XMLPullParser(events=('start', 'end'))
        self.depth = 0
        self.header = None

    def fill(self, until):
        """Read once (or time out at `until`) and parse."""
        now = time.monotonic()
        if now >= until:
            raise Deadline()
        pending = isinstance(self.sock, ssl.SSLSocket) and self.sock.pending()
        if not pending:
            watch = [self.sock] + ([self.listener] if self.listener else [])
            r, _, _ = select.select(watch, [], [], min(1.0, until - now))
            if self.listener in r:
                log('OVERLAP a second connection is waiting while connection',
                    self.n, 'is open')
                self.listener = None     # say it once per connection
            if self.sock not in r:
                return
        try:
            data = self.sock.recv(65536)
        except ssl.SSLWantReadError:
            return
        except (ConnectionResetError, ssl.SSLError) as e:
            raise Closed('read: %s' % e)
        if not data:
            log('EOF')
            raise Closed('eof')
        try:
            self.parser.feed(data)
            events = list(self.parser.read_events())
        except ET.ParseError as e:
            log('ERROR client sent bad XML:', e)
            raise Closed('bad xml')
        for ev, el in events:
            if ev == 'start':
                self.depth += 1
                if self.depth == 1:
                    self.header = dict(el.attrib)
                    log('RECV-HEADER', ' '.join('%s=%s' % kv for kv in sorted(self.header.items())))
            else:
                self.depth -= 1
                if self.depth == 0:
                    log('RECV </stream:stream>')
                    try:
                        self.sock.sendall(b'</stream:stream>')
                    except OSError:
                        pass
                    self.tls_close()
                    raise Closed('stream closed by client')
                if self.depth == 1:
                    log('RECV', short(el))
                    self.queue.append(el)

    def tls_close(self):
        """Close TLS both ways; say whether the client sent close_notify."""
        if not isinstance(self.sock, ssl.SSLSocket):
            return
        try:
            self.sock.settimeout(2)
            self.sock = self.sock.unwrap()
            log('CLOSE-NOTIFY received')
        except (OSError, ValueError) as e:
            log('CLOSE-NOTIFY missing:', e)

    def read_header(self, until=None):
        until = until or self.deadline
        while self.header is None:
            self.fill(until)

    def next(self, until=None):
        until = min(until or self.deadline, self.deadline)
        while not self.queue:
            self.fill(until)
        return self.queue.pop(0)

    def poll(self, until):
        """Next element before `until`, or None."""
        try:
            return self.next(until)
        except Deadline:
            if time.monotonic() >= self.deadline:
                raise
            return None

    # -- XMPP pieces --
    def stream_header(self, prolog=''):
        self.send("<?xml version='1.0'?>%s<stream:stream from='%s' id='%s' "
                  "version='1.0' xml:lang='en' xmlns='jabber:client' "
                  "xmlns:stream='%s'>" % (prolog, self.args.domain,
                                          base64.b16encode(os.urandom(8)).decode().lower(),
                                          NS_STREAM), 'stream header')

    def stream_error(self, cond, text=None, inner=''):
        self.send("<stream:error><%s xmlns='%s'>%s</%s>%s</stream:error></stream:stream>"
                  % (cond, NS_STREAMS, inner, cond,
                     "<text xmlns='%s'>%s</text>" % (NS_STREAMS, text) if text else ''),
                  'stream error %s' % cond)

    def start_tls(self, ctx):
        self.sock = ctx.wrap_socket(self.sock, server_side=True)
        log('TLS', self.sock.version(), self.sock.cipher()[0])
        self.reset_parser()


# ------------------------------------------------------------- SASL -------

def scram_hash(mech):
    # A -PLUS name is accepted here and then refused for its binding: a
    # server that offers -PLUS without a XEP-0440 list and rejects it.
    return {'SCRAM-SHA-1': 'sha1', 'SCRAM-SHA-256': 'sha256'}[
        mech[:-5] if mech.endswith('-PLUS') else mech]


def sasl_failure(c, cond, mech, why):
    log('AUTH-FAIL', mech, why)
    c.send("<failure xmlns='%s'><%s/></failure>" % (NS_SASL, cond))


def b64d(text):
    try:
        return base64.b64decode((text or '').strip(), validate=True)
    except ValueError:
        return None


def do_scram(c, args, mech, first_b64):
    h = scram_hash(mech)
    first = b64d(first_b64)
    if first is None:
        return sasl_failure(c, 'incorrect-encoding', mech, 'bad base64')
    first = first.decode('utf-8', 'replace')
    parts = first.split(',', 2)
    if len(parts) != 3:
        return sasl_failure(c, 'malformed-request', mech, 'bad client-first')
    cbflag, _authzid, bare = parts
    gs2 = '%s,%s,' % (cbflag, _authzid)
    cbdata = b''
    if cbflag.startswith('p='):
        if args.scenario == 'plus-ok' or \
                (args.scenario == 'plus-then-reject' and c.n == 1):
            if cbflag != 'p=tls-unique' or not mech.endswith('-PLUS'):
                return sasl_failure(c, 'malformed-request', mech,
                                    'unsupported binding %s' % cbflag)
            cbdata = c.sock.get_channel_binding('tls-unique')
        else:
            return sasl_failure(c, 'malformed-request', mech,
                                'channel binding requested but not offered')
    attrs = dict(kv.split('=', 1) for kv in bare.split(',') if '=' in kv)
    user = attrs.get('n', '').replace('=2C', ',').replace('=3D', '=')
    cnonce = attrs.get('r', '')
    if not user or not cnonce:
        return sasl_failure(c, 'malformed-request', mech, 'missing n= or r=')
    log('SCRAM client-first gs2=%s user=%s' % (gs2, user))
    salt = os.urandom(16)
    iters = {'low-iter': 1000, 'high-iter': 10000000}.get(args.scenario, 4096)
    if args.scenario == 'bad-nonce':
        nonce = base64.b64encode(os.urandom(18)).decode()
    else:
        nonce = cnonce + base64.b64encode(os.urandom(18)).decode()
    server_first = 'r=%s,s=%s,i=%d' % (nonce, base64.b64encode(salt).decode(), iters)
    if args.scenario in ('ssdp-ok', 'ssdp-mismatch'):
        # XEP-0474: hash of the mechanism list the server really has; the
        # mismatch case claims one more, as if a MITM had stripped it.
        real = sorted(args.mechanisms.split(','))
        if args.scenario == 'ssdp-mismatch':
            real = sorted(real + ['SCRAM-SHA-256'])
        d = base64.b64encode(hashlib.new(h, ','.join(real).encode()).digest()).decode()
        server_first += ',d=' + d
    c.send("<challenge xmlns='%s'>%s</challenge>"
           % (NS_SASL, base64.b64encode(server_first.encode()).decode()),
           'challenge %s' % server_first)
    el = c.next()
    if el.tag == '{%s}abort' % NS_SASL:
        return sasl_failure(c, 'aborted', mech, 'client aborted')
    if el.tag != '{%s}response' % NS_SASL:
        return sasl_failure(c, 'malformed-request', mech, 'expected <response/>')
    final = b64d(el.text)
    if final is None:
        return sasl_failure(c, 'incorrect-encoding', mech, 'bad base64')
    final = final.decode('utf-8', 'replace')
    if ',p=' not in final:
        return sasl_failure(c, 'malformed-request', mech, 'no proof')
    without_proof, proof_b64 = final.rsplit(',p=', 1)
    fattrs = dict(kv.split('=', 1) for kv in without_proof.split(',') if '=' in kv)
    if fattrs.get('c') != base64.b64encode(gs2.encode() + cbdata).decode():
        return sasl_failure(c, 'not-authorized', mech, 'channel binding data mismatch')
    if fattrs.get('r') != nonce:
        return sasl_failure(c, 'not-authorized', mech, 'nonce mismatch')
    proof = b64d(proof_b64)
    t0 = time.monotonic()
    salted = hashlib.pbkdf2_hmac(h, args.password.encode(), salt, iters)
    log('SCRAM pbkdf2 i=%d took %.2fs' % (iters, time.monotonic() - t0))
    ckey = hmac.new(salted, b'Client Key', h).digest()
    stored = hashlib.new(h, ckey).digest()
    authmsg = ','.join((bare, server_first, without_proof)).encode()
    csig = hmac.new(stored, authmsg, h).digest()
    if proof is None or len(proof) != len(csig) or user != args.user or \
            hashlib.new(h, bytes(a ^ b for a, b in zip(proof, csig))).digest() != stored:
        return sasl_failure(c, 'not-authorized', mech, 'bad proof or user')
    skey = hmac.new(salted, b'Server Key', h).digest()
    ssig = hmac.new(skey, authmsg, h).digest()
    if args.scenario == 'bad-signature':
        ssig = os.urandom(len(ssig))
    if args.scenario == 'final-challenge':
        c.send("<challenge xmlns='%s'>%s</challenge>"
               % (NS_SASL, base64.b64encode(b'v=' + base64.b64encode(ssig)).decode()),
               'server-final as a challenge')
        el = c.next()
        if el.tag != '{%s}response' % NS_SASL:
            return sasl_failure(c, 'malformed-request', mech, 'expected <response/>')
        c.send("<challenge xmlns='%s'>%s</challenge>"
               % (NS_SASL, base64.b64encode(b'x=more').decode()))
        log('EXTRA-CHALLENGE')
        el = c.next()
        if el.tag == '{%s}abort' % NS_SASL:
            return sasl_failure(c, 'aborted', mech, 'client aborted')
        return sasl_failure(c, 'malformed-request', mech, 'expected <abort/>')
    c.send("<success xmlns='%s'>%s</success>"
           % (NS_SASL, base64.b64encode(b'v=' + base64.b64encode(ssig)).decode()),
           'success (v=%s)' % ('wrong' if args.scenario == 'bad-signature' else 'good'))
    log('AUTH-OK', mech, user)
    return user


def do_plain(c, args, data):
    raw = b64d(data)
    if raw is None or raw.count(b'\0') != 2:
        return sasl_failure(c, 'malformed-request', 'PLAIN', 'bad message')
    _authz, user, pw = raw.decode('utf-8', 'replace').split('\0')
    if user != args.user or pw != args.password:
        return sasl_failure(c, 'not-authorized', 'PLAIN', 'bad credentials')
    c.send("<success xmlns='%s'/>" % NS_SASL)
    log('AUTH-OK PLAIN', user)
    return user


def authenticate(c, args, secure, first=None):
    """Loop over <auth/> attempts; returns the user name once one succeeds."""
    mechs = args.mechanisms.split(',')
    while True:
        el, first = (first, None) if first is not None else (c.next(), None)
        if el.tag != '{%s}auth' % NS_SASL:
            log('ERROR expected <auth/>, got', el.tag)
            c.stream_error('not-authorized')
            raise Closed('no auth')
        mech = el.get('mechanism', '')
        if not secure:
            log('PLAINTEXT-AUTH', mech)
        if mech not in mechs:
            sasl_failure(c, 'invalid-mechanism', mech, 'not offered')
            continue
        if mech == 'PLAIN':
            user = do_plain(c, args, el.text)
        else:
            user = do_scram(c, args, mech, el.text)
        if user:
            return user


# ------------------------------------------------------- the scenarios ----

def features(c, body):
    c.send('<stream:features>%s</stream:features>' % body, 'features %s' % body[:150])


def mechanisms_xml(args):
    return "<mechanisms xmlns='%s'>%s</mechanisms>" % (NS_SASL, ''.join(
        '<mechanism>%s</mechanism>' % m for m in args.mechanisms.split(',')))


BOMB_PROLOG = (
    "<!DOCTYPE stream:stream [<!ENTITY lol 'lol'>"
    + ''.join("<!ENTITY lol%d '%s'>" % (i, ('&lol%s;' % ('' if i == 1 else i - 1)) * 10)
              for i in range(1, 10))
    + ']>')


NS_REG = 'jabber:iq:register'
REG_FORMS = {
    'register-oob': "<instructions>Use the web page</instructions>"
                    "<x xmlns='jabber:x:oob'><url>https://xmppd.test/signup</url></x>",
    'register-captcha': "<x xmlns='jabber:x:data' type='form'>"
                        "<field var='FORM_TYPE' type='hidden'><value>urn:xmpp:captcha</value></field>"
                        "<field var='username'><required/></field>"
                        "<field var='password' type='text-private'><required/></field>"
                        "<field var='ocr' label='Enter the text'><required/></field></x>"
                        "<x xmlns='jabber:x:oob'><url>https://xmppd.test/captcha/1</url></x>",
    'register-form': "<x xmlns='jabber:x:data' type='form'>"
                     "<field var='FORM_TYPE' type='hidden'><value>jabber:iq:register</value></field>"
                     "<field var='username'><required/></field>"
                     "<field var='password' type='text-private'><required/></field></x>",
    'register-not-acceptable': "<username/><password/><email/>",
}


def register_feature(args):
    if args.scenario.startswith('register-'):
        return "<register xmlns='http://jabber.org/features/iq-register'/>"
    return ''


def registration(c, args):
    """Answer XEP-0077 requests until the client authenticates."""
    sc = args.scenario
    while True:
        el = c.next()
        q = el.find('{%s}query' % NS_REG)
        if el.tag != C + 'iq' or q is None:
            return el
        iq_id = el.get('id', '')
        if el.get('type') == 'get':
            c.send("<iq type='result' id='%s'><query xmlns='%s'>%s</query></iq>"
                   % (iq_id, NS_REG, REG_FORMS[sc]), 'register form')
            continue
        x = q.find('{jabber:x:data}x')
        if sc == 'register-form' and x is not None:
            vals = {f.get('var'): f.findtext('{jabber:x:data}value')
                    for f in x.findall('{jabber:x:data}field')}
            log('REGISTER-FORM', vals.get('username'), 'password' if vals.get('password') else '-')
            c.send("<iq type='result' id='%s'/>" % iq_id, 'registered')
        elif sc == 'register-not-acceptable':
            c.send("<iq type='error' id='%s'><query xmlns='%s'><username/><password/><email/></query>"
                   "<error type='modify'><not-acceptable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"
                   % (iq_id, NS_REG), 'not-acceptable')
        else:
            c.send("<iq type='error' id='%s'><error type='cancel'>"
                   "<not-allowed xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>" % iq_id)


def see_other_host(c, args, port):
    c.stream_error('see-other-host', inner='127.0.0.1:%d' % port)
    log('REDIRECT 127.0.0.1:%d' % port)


def serve(sock, args, ctx, n, deadline, own_port, listener):
    c = Conn(sock, args, deadline, listener, n)
    try:
        session(c, args, ctx, own_port)
    finally:
        try:
            c.sock.close()     # the TLS socket when there is one
        except OSError:
            pass


def session(c, args, ctx, own_port):
    deadline = c.deadline
    sc = args.scenario
    secure = False
    if args.tls == 'direct':
        c.start_tls(ctx)
        secure = True
    if sc == 'silent':
        while True:       # until the client gives up or time runs out
            c.fill(deadline)
    header_sent = False
    if sc == 'doctype':
        c.stream_header(prolog="<!DOCTYPE stream:stream SYSTEM 'http://xmppd.test/stream.dtd'>")
        header_sent = True
    elif sc == 'entity-bomb':
        c.stream_header(prolog=BOMB_PROLOG)
        header_sent = True
    c.read_header()
    if not header_sent:
        c.stream_header()
    redirect_port = own_port if sc == 'redirect-loop' else args.redirect_port
    if sc in ('see-other-host', 'redirect-loop') and (
            args.redirect_when == 'pre-tls' or secure):
        see_other_host(c, args, redirect_port)
        return
    if not secure:
        if sc == 'no-starttls':
            features(c, mechanisms_xml(args))
        elif sc == 'entity-bomb':
            features(c, "<starttls xmlns='%s'><required/></starttls><bomb>&lol9;</bomb>" % NS_TLS)
        else:
            features(c, "<starttls xmlns='%s'><required/></starttls>" % NS_TLS)
        if sc != 'no-starttls':
            el = c.next()
            if el.tag != '{%s}starttls' % NS_TLS:
                log('ERROR expected <starttls/>, got', el.tag)
                c.stream_error('policy-violation', 'STARTTLS required')
                return
            c.send("<proceed xmlns='%s'/>" % NS_TLS)
            c.start_tls(ctx)
            secure = True
            c.read_header()
            c.stream_header()
            if sc in ('see-other-host', 'redirect-loop'):
                see_other_host(c, args, redirect_port)
                return
            features(c, mechanisms_xml(args) + register_feature(args))
    else:
        features(c, mechanisms_xml(args))
    first = registration(c, args) if sc.startswith('register-') else None
    user = authenticate(c, args, secure, first)
    c.reset_parser()
    c.read_header()
    c.stream_header()
    features(c, "<bind xmlns='%s'/><session xmlns='%s'><optional/></session>"
             % (NS_BIND, NS_SESSION))
    jid = None
    while jid is None:
        el = c.next()
        if el.tag == C + 'iq' and el.find('{%s}bind' % NS_BIND) is not None:
            res = el.findtext('{%s}bind/{%s}resource' % (NS_BIND, NS_BIND)) or 'test'
            jid = '%s@%s/%s' % (user, args.domain, res)
            c.send("<iq type='result' id='%s'><bind xmlns='%s'><jid>%s</jid></bind></iq>"
                   % (el.get('id', ''), NS_BIND, jid))
            log('BIND', jid)
        else:
            handle(c, el, None)
    # Wait for the initial presence (or --delay), then misbehave.
    until = time.monotonic() + args.delay
    while True:
        el = c.poll(until)
        if el is None:
            break
        if handle(c, el, jid) == 'presence':
            break
    if sc == 'redirect-online':
        see_other_host(c, args, own_port)
        raise Closed('redirected after login')
    post_bind(c, args, jid)
    online_loop(c, args, jid)


def post_bind(c, args, jid):
    sc = args.scenario
    if sc in POST_BIND_ERRORS:
        c.stream_error(POST_BIND_ERRORS[sc], 'badserver scenario %s' % sc)
        raise Closed('sent stream error')
    if sc == 'tcp-reset':
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                          b'\x01\x00\x00\x00\x00\x00\x00\x00')
        log('RESET')
        raise Closed('reset')
    head = "<message from='alice@%s/x' to='%s' type='chat'>" % (args.domain, jid)
    if sc == 'oversized':
        # 100 MB in 1 MB pieces, until the client hangs up.
        c.send(head + '<body>', 'oversized message (up to 100 MB)')
        chunk = 'A' * (1024 * 1024)
        try:
            for _ in range(100):
                c.sock.sendall(chunk.encode())
        except (OSError, ssl.SSLError):
            log('OVERSIZED-CUT')
            raise Closed('client hung up during the 100 MB stanza')
        c.send('</body></message>')
    elif sc == 'deep':
        c.send(head + '<a>' * 100000 + '</a>' * 100000 + '</message>',
               'message with 100000 nested <a>')
    elif sc == 'bad-utf8':
        c.send(head.encode() + b'<body>bad \xff\xfe \xc3\x28 \xed\xa0\x80 utf8</body></message>',
               'message with invalid UTF-8')
    elif sc == 'nul':
        c.send(head.encode() + b'<body>nul\x00byte</body></message>',
               'message with a NUL byte')
    elif sc == 'whitespace-flood':
        flood(c, args)
        raise Closed('flood over')


def flood(c, args):
    end = min(time.monotonic() + args.flood_seconds, c.deadline)
    chunk = b' ' * 65536
    total = 0
    log('FLOOD start')
    c.sock.settimeout(0.5)
    try:
        while time.monotonic() < end:
            try:
                c.sock.sendall(chunk)
                total += len(chunk)
            except (socket.timeout, ssl.SSLWantWriteError):
                continue      # the client is not reading; keep pushing until the end
    except (OSError, ssl.SSLError) as e:
        log('FLOOD stopped by the client after %d bytes: %s' % (total, e))
        return
    log('FLOOD done, %d bytes' % total)


def handle(c, el, jid):
    """The well-behaved server side of an established session."""
    if el.tag == C + 'presence':
        log('PRESENCE', ' '.join('%s=%s' % kv for kv in sorted(el.attrib.items())),
            'show=%s' % (el.findtext(C + 'show') or ''),
            'status=%s' % (el.findtext(C + 'status') or ''))
        return 'presence'
    if el.tag == C + 'iq':
        typ, iid = el.get('type'), el.get('id', '')
        if c.args.scenario == 'iq-spoof' and typ in ('get', 'set'):
            spoof = 'mallory@%s/x' % c.args.domain
            if el.find('{%s}ping' % NS_PING) is not None:
                c.send("<iq type='result' id='%s' from='%s'/>" % (iid, spoof))
                log('PING-SPOOFED', iid)
                return 'iq'
            if el.find('{%s}query' % NS_REG) is not None:
                c.send("<iq type='result' id='%s' from='%s'/>" % (iid, spoof))
                c.send("<iq type='error' id='%s'><error type='cancel'><not-allowed "
                       "xmlns='%s'/></error></iq>" % (iid, NS_STANZAS))
                log('REGISTER-SPOOFED', iid)
                return 'iq'
        if typ == 'get' and el.find('{%s}ping' % NS_PING) is not None:
            c.send("<iq type='result' id='%s' from='%s'/>" % (iid, el.get('to', c.args.domain)))
            log('PING-ANSWERED', iid)
        elif typ == 'set' and el.find('{%s}session' % NS_SESSION) is not None:
            c.send("<iq type='result' id='%s'/>" % iid)
        elif typ in ('get', 'set'):
            c.send("<iq type='error' id='%s'><error type='cancel'><service-unavailable "
                   "xmlns='%s'/></error></iq>" % (iid, NS_STANZAS))
        elif typ == 'result' and iid.startswith('bs-ping'):
            log('PONG', iid)
        return 'iq'
    if el.tag == C + 'message':
        log('MESSAGE to=%s body=%s' % (el.get('to', ''), el.findtext(C + 'body') or ''))
        return 'message'
    return None


def online_loop(c, args, jid):
    next_ping = time.monotonic() + args.ping_client if args.ping_client else None
    seq = 0
    while True:
        until = next_ping if next_ping else c.deadline
        el = c.poll(min(until, c.deadline))
        if el is not None:
            handle(c, el, jid)
        if next_ping and time.monotonic() >= next_ping:
            seq += 1
            c.send("<iq type='get' id='bs-ping%d' from='%s' to='%s'><ping xmlns='%s'/></iq>"
                   % (seq, args.domain, jid, NS_PING), 'ping bs-ping%d' % seq)
            next_ping = time.monotonic() + args.ping_client


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--port-file', required=True)
    p.add_argument('--cert', required=True)
    p.add_argument('--key', required=True)
    p.add_argument('--scenario', required=True, choices=SCENARIOS)
    p.add_argument('--tls', choices=('starttls', 'direct'), default='starttls')
    p.add_argument('--redirect-port', type=int)
    p.add_argument('--redirect-when', choices=('pre-tls', 'post-tls'), default='post-tls')
    p.add_argument('--domain', default='xmppd.test')
    p.add_argument('--user', default='bot')
    p.add_argument('--password', default='secret')
    p.add_argument('--mechanisms', default=None,
                   help='comma-separated: SCRAM-SHA-1, SCRAM-SHA-256, '
                   'their -PLUS forms, PLAIN (default SCRAM-SHA-1,PLAIN; '
                   'SCRAM-SHA-1-PLUS,SCRAM-SHA-1 in the plus-* scenarios)')
    p.add_argument('--delay', type=float, default=2.0,
                   help='after bind, wait at most this long for presence')
    p.add_argument('--ping-client', type=float, default=0,
                   help='in the online loop, ping the client every N seconds')
    p.add_argument('--flood-seconds', type=float, default=10)
    p.add_argument('--max-seconds', type=float, default=120)
    p.add_argument('--max-connections', type=int, default=200)
    args = p.parse_args()
    if args.mechanisms is None:
        args.mechanisms = 'SCRAM-SHA-1-PLUS,SCRAM-SHA-1' \
            if args.scenario in PLUS_SCENARIOS else 'SCRAM-SHA-1,PLAIN'
    if args.scenario == 'see-other-host' and not args.redirect_port:
        p.error('see-other-host needs --redirect-port')
    for m in args.mechanisms.split(','):
        if m not in ('SCRAM-SHA-1', 'SCRAM-SHA-256', 'SCRAM-SHA-1-PLUS',
                     'SCRAM-SHA-256-PLUS', 'PLAIN'):
            p.error('unknown mechanism %s' % m)

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    if args.scenario in PLUS_SCENARIOS:
        # tls-unique exists only below TLS 1.3 (RFC 9266).
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2

    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(('127.0.0.1', 0))
    ls.listen(16)
    port = ls.getsockname()[1]
    tmp = args.port_file + '.tmp'
    with open(tmp, 'w') as f:
        f.write('%d\n' % port)
    os.rename(tmp, args.port_file)
    log('LISTEN', port, 'scenario', args.scenario, 'tls', args.tls)

    deadline = time.monotonic() + args.max_seconds
    n = 0
    while n < args.max_connections:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        r, _, _ = select.select([ls], [], [], min(remaining, 1.0))
        if not r:
            continue
        sock, peer = ls.accept()
        n += 1
        log('CONNECT', n, '%s:%d' % peer)
        try:
            serve(sock, args, ctx, n, deadline, port, ls)
        except Closed as e:
            log('CLOSED', e)
        except Deadline:
            log('DEADLINE')
        except (OSError, ssl.SSLError, ET.ParseError) as e:
            log('ERROR', type(e).__name__, e)
        finally:
            try:
                sock.close()
            except OSError:
                pass
            log('CLOSE', n)
    log('EXIT after', n, 'connections')


if __name__ == '__main__':
    main()
