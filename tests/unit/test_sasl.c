/*
 * test_sasl.c: mechanism choice, GS2 flags, SCRAM test vectors (RFC 5802
 * §5, RFC 7677 §3, SHA-512 and -PLUS from an independent Python model),
 * malformed server messages and PLAIN.
 */
#include "compat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sasl.h"
#include "tap.h"
#include "util.h"

#define RFC5802_NONCE	"fyko+d2lbbFgONRv9qkxdawL"
#define RFC5802_SNONCE	RFC5802_NONCE "3rfcNHYJY1ZVvWVs7j"
#define RFC5802_FIRST	"r=" RFC5802_SNONCE ",s=QSXCR+Q6sek8bf92,i=4096"

struct vector {
	const char	*what;
	enum sasl_mech	 mech;
	enum sasl_cb	 cb;
	char		 flag;
	const char	*user;
	const char	*pass;
	const char	*nonce;
	const char	*server_first;
	const char	*client_first;
	const char	*client_final;
	const char	*server_final;
};

/* Fake channel-binding bytes 0xa0..0xbf for the -PLUS vector. */
static unsigned char	fake_cb[32];

static const struct vector vectors[] = {
	{ "RFC 5802 SHA-1", SASL_SCRAM_SHA1, SASL_CB_NONE, 'n',
	    "user", "pencil", RFC5802_NONCE, RFC5802_FIRST,
	    "n,,n=user,r=" RFC5802_NONCE,
	    "c=biws,r=" RFC5802_SNONCE ",p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
	    "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=" },
	{ "RFC 7677 SHA-256", SASL_SCRAM_SHA256, SASL_CB_NONE, 'n',
	    "user", "pencil", "rOprNGfwEbeRWgbNEkqO",
	    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
	    "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
	    "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
	    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
	    "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
	    "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=" },
	/* Python hashlib model; also checks saslname escaping and UTF-8. */
	{ "SHA-512", SASL_SCRAM_SHA512, SASL_CB_NONE, 'n',
	    "al,ice=x", "correct horse \xe2\x98\x83",
	    "Q2xpZW50Tm9uY2VGb3JTSEE1MTI",
	    "r=Q2xpZW50Tm9uY2VGb3JTSEE1MTIserver+/nonce,"
	    "s=AQIDBAUGBwgJCgsMDQ4PEA==,i=4096",
	    "n,,n=al=2Cice=3Dx,r=Q2xpZW50Tm9uY2VGb3JTSEE1MTI",
	    "c=biws,r=Q2xpZW50Tm9uY2VGb3JTSEE1MTIserver+/nonce,"
	    "p=Cg+1LSTDAOKBR/QEZYUUFa2LH9S75nbz1N4jUSlRZjEwIdRwZRd2fP7aISCv"
	    "k9Kb7iMSfMneMv2Gb9tB8ewiFw==",
	    "v=hYpYOA/czyjubRuLBAEv475+fitTbH9BG4apqDnafyrgVk6h0p/jO68exsBG"
	    "sSXhXc6v/ZUZsn5iAVRjQ1IG+g==" },
	/* Python model; c= is base64("p=tls-exporter,," + fake_cb). */
	{ "SHA-256-PLUS", SASL_SCRAM_SHA256_PLUS, SASL_CB_TLS_EXPORTER, 'p',
	    "juliet", "r0m30", "cbnonce0123456789",
	    "r=cbnonce0123456789SRV,s=AQIDBAUGBwgJCgsMDQ4PEA==,i=5000",
	    "p=tls-exporter,,n=juliet,r=cbnonce0123456789",
	    "c=cD10bHMtZXhwb3J0ZXIsLKChoqOkpaanqKmqq6ytrq+wsbKztLW2t7i5uru8"
	    "vb6/,r=cbnonce0123456789SRV,"
	    "p=d+CIO0CZPkRB0bkzahvj4IJStWCOLqYgcwby+6ldCOs=",
	    "v=lBQWlrM3ggujSCK9sMPqUJkoogbp2bpKY5MkoyrnBpU=" },
};

struct choose_case {
	const char	*what;
	struct sasl_offer offer;
	int		 ret;
	enum sasl_mech	 mech;
	enum sasl_cb	 cb;
	char		 flag;
	const char	*err;
};

#define B(x)		SASL_BIT(x)
#define M_ALL_SCRAM	(B(SASL_SCRAM_SHA1) | B(SASL_SCRAM_SHA1_PLUS) |	\
			 B(SASL_SCRAM_SHA256) | B(SASL_SCRAM_SHA256_PLUS) | \
			 B(SASL_SCRAM_SHA512) | B(SASL_SCRAM_SHA512_PLUS))
#define M_256		(B(SASL_SCRAM_SHA256) | B(SASL_SCRAM_SHA256_PLUS))
#define CB_ALL		(B(SASL_CB_TLS_UNIQUE) |			\
			 B(SASL_CB_TLS_SERVER_END_POINT) |		\
			 B(SASL_CB_TLS_EXPORTER))
#define CB_13		(B(SASL_CB_TLS_SERVER_END_POINT) |		\
			 B(SASL_CB_TLS_EXPORTER))
#define NOMECH		"no acceptable SASL mechanism offered"

/* offer: mechs, cb_types, cb_list, tls, tls13, cb_avail, no_plus, exclude */
static const struct choose_case choose_cases[] = {
	{ "TLS 1.3, no list: -PLUS with tls-exporter",
	    { M_256, 0, 0, 1, 1, CB_13, 0, 0 },
	    0, SASL_SCRAM_SHA256_PLUS, SASL_CB_TLS_EXPORTER, 'p', NULL },
	{ "TLS 1.2, no list: -PLUS with tls-unique",
	    { M_256, 0, 0, 1, 0, CB_ALL, 0, 0 },
	    0, SASL_SCRAM_SHA256_PLUS, SASL_CB_TLS_UNIQUE, 'p', NULL },
	{ "list with server-end-point only",
	    { M_256, B(SASL_CB_TLS_SERVER_END_POINT), 1, 1, 1, CB_13, 0, 0 },
	    0, SASL_SCRAM_SHA256_PLUS, SASL_CB_TLS_SERVER_END_POINT, 'p',
	    NULL },
	{ "list prefers tls-exporter",
	    { M_256, CB_ALL, 1, 1, 0, CB_ALL, 0, 0 },
	    0, SASL_SCRAM_SHA256_PLUS, SASL_CB_TLS_EXPORTER, 'p', NULL },
	{ "list prefers server-end-point over unique",
	    { M_256, B(SASL_CB_TLS_UNIQUE) | B(SASL_CB_TLS_SERVER_END_POINT),
	    1, 1, 0, CB_ALL, 0, 0 },
	    0, SASL_SCRAM_SHA256_PLUS, SASL_CB_TLS_SERVER_END_POINT, 'p',
	    NULL },
	{ "TLS + binding but no -PLUS offered: y",
	    { B(SASL_SCRAM_SHA256) | B(SASL_SCRAM_SHA1), 0, 0, 1, 1, CB_13,
	    0, 0 },
	    0, SASL_SCRAM_SHA256, SASL_CB_NONE, 'y', NULL },
	{ "TLS 1.3 no list, only tls-unique available: n",
	    { M_256, 0, 0, 1, 1, B(SASL_CB_TLS_UNIQUE), 0, 0 },
	    0, SASL_SCRAM_SHA256, SASL_CB_NONE, 'n', NULL },
	{ "TLS 1.3 no list, no binding at all but -PLUS offered: n",
	    { M_256, 0, 0, 1, 1, 0, 0, 0 },
	    0, SASL_SCRAM_SHA256, SASL_CB_NONE, 'n', NULL },
	{ "list excludes our types: n",
	    { M_256, B(SASL_CB_TLS_UNIQUE), 1, 1, 1, CB_13, 0, 0 },
	    0, SASL_SCRAM_SHA256, SASL_CB_NONE, 'n', NULL },
	{ "no_plus fallback: n",
	    { M_256, 0, 0, 1, 1, CB_13, 1, 0 },
	    0, SASL_SCRAM_SHA256, SASL_CB_NONE, 'n', NULL },
	{ "no TLS, -PLUS offered: n",
	    { M_256, 0, 0, 0, 0, CB_ALL, 0, 0 },
	    0, SASL_SCRAM_SHA256, SASL_CB_NONE, 'n', NULL },
	{ "no TLS, no -PLUS: n",
	    { B(SASL_SCRAM_SHA1), 0, 0, 0, 0, 0, 0, 0 },
	    0, SASL_SCRAM_SHA1, SASL_CB_NONE, 'n', NULL },
	{ "TLS without binding, no -PLUS: n",
	    { B(SASL_SCRAM_SHA1), 0, 0, 1, 0, 0, 0, 0 },
	    0, SASL_SCRAM_SHA1, SASL_CB_NONE, 'n', NULL },
	{ "SCRAM-SHA-512-PLUS preferred",
	    { M_ALL_SCRAM | B(SASL_PLAIN), 0, 0, 1, 1, CB_13, 0, 0 },
	    0, SASL_SCRAM_SHA512_PLUS, SASL_CB_TLS_EXPORTER, 'p', NULL },
	{ "SCRAM-SHA-512 preferred over 256 and 1",
	    { B(SASL_SCRAM_SHA1) | B(SASL_SCRAM_SHA256) |
	    B(SASL_SCRAM_SHA512) | B(SASL_PLAIN), 0, 0, 1, 1, CB_13, 0, 0 },
	    0, SASL_SCRAM_SHA512, SASL_CB_NONE, 'y', NULL },
	{ "exclude 512 and 256-PLUS: binding outranks the hash",
	    { M_ALL_SCRAM, 0, 0, 1, 1, CB_13, 0,
	    B(SASL_SCRAM_SHA512) | B(SASL_SCRAM_SHA512_PLUS) |
	    B(SASL_SCRAM_SHA256_PLUS) },
	    0, SASL_SCRAM_SHA1_PLUS, SASL_CB_TLS_EXPORTER, 'p', NULL },
	{ "exclude leaves SCRAM-SHA-1-PLUS",
	    { M_ALL_SCRAM, 0, 0, 1, 1, CB_13, 0,
	    M_ALL_SCRAM & ~B(SASL_SCRAM_SHA1_PLUS) },
	    0, SASL_SCRAM_SHA1_PLUS, SASL_CB_TLS_EXPORTER, 'p', NULL },
	{ "only -PLUS offered, unusable: refused",
	    { B(SASL_SCRAM_SHA256_PLUS) | B(SASL_PLAIN), 0, 0, 1, 1, 0, 0, 0 },
	    -1, SASL_NONE, SASL_CB_NONE, 'n', NOMECH },
	{ "PLAIN under TLS",
	    { B(SASL_PLAIN), 0, 0, 1, 1, CB_13, 0, 0 },
	    0, SASL_PLAIN, SASL_CB_NONE, 'n', NULL },
	{ "PLAIN refused without TLS",
	    { B(SASL_PLAIN), 0, 0, 0, 0, 0, 0, 0 },
	    -1, SASL_NONE, SASL_CB_NONE, 'n',
	    "server offers only PLAIN without TLS" },
	{ "PLAIN not used when SCRAM offered",
	    { B(SASL_PLAIN) | B(SASL_SCRAM_SHA1), 0, 0, 1, 0, 0, 0, 0 },
	    0, SASL_SCRAM_SHA1, SASL_CB_NONE, 'n', NULL },
	{ "PLAIN when all SCRAM excluded",
	    { B(SASL_PLAIN) | B(SASL_SCRAM_SHA1), 0, 0, 1, 0, 0, 0,
	    B(SASL_SCRAM_SHA1) },
	    0, SASL_PLAIN, SASL_CB_NONE, 'n', NULL },
	{ "PLAIN excluded",
	    { B(SASL_PLAIN), 0, 0, 1, 0, 0, 0, B(SASL_PLAIN) },
	    -1, SASL_NONE, SASL_CB_NONE, 'n', NOMECH },
	{ "nothing offered",
	    { 0, 0, 0, 1, 1, CB_13, 0, 0 },
	    -1, SASL_NONE, SASL_CB_NONE, 'n', NOMECH },
};

struct bad_first {
	const char	*what;
	const char	*msg;
	const char	*err;
};

static const struct bad_first bad_firsts[] = {
	{ "wrong nonce prefix",
	    "r=Xyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,i=4096",
	    "server nonce does not extend client nonce" },
	{ "nonce equal to ours",
	    "r=" RFC5802_NONCE ",s=QSXCR+Q6sek8bf92,i=4096",
	    "server nonce does not extend client nonce" },
	{ "nonce with control character",
	    "r=" RFC5802_NONCE "\x01,s=QSXCR+Q6sek8bf92,i=4096",
	    "invalid character in server nonce" },
	{ "missing salt", "r=" RFC5802_SNONCE ",i=4096",
	    "server-first-message lacks a salt" },
	{ "missing iteration count", "r=" RFC5802_SNONCE ",s=QSXCR+Q6sek8bf92",
	    "server-first-message lacks an iteration count" },
	{ "missing nonce", "s=QSXCR+Q6sek8bf92,i=4096",
	    "server-first-message lacks a nonce" },
	{ "i=1000", "r=" RFC5802_SNONCE ",s=QSXCR+Q6sek8bf92,i=1000",
	    "iteration count below minimum 4096" },
	{ "i=10000000", "r=" RFC5802_SNONCE ",s=QSXCR+Q6sek8bf92,i=10000000",
	    "iteration count above maximum 1000000" },
	{ "i with 30 digits",
	    "r=" RFC5802_SNONCE ",s=QSXCR+Q6sek8bf92,"
	    "i=999999999999999999999999999999",
	    "iteration count above maximum 1000000" },
	{ "i=-4096", "r=" RFC5802_SNONCE ",s=QSXCR+Q6sek8bf92,i=-4096",
	    "invalid iteration count" },
	{ "i empty", "r=" RFC5802_SNONCE ",s=QSXCR+Q6sek8bf92,i=",
	    "invalid iteration count" },
	{ "bad base64 salt", "r=" RFC5802_SNONCE ",s=QSXCR+Q6sek8bf9!,i=4096",
	    "invalid salt in server-first-message" },
	{ "empty salt", "r=" RFC5802_SNONCE ",s=,i=4096",
	    "invalid salt in server-first-message" },
	{ "m= extension",
	    "m=foo,r=" RFC5802_SNONCE ",s=QSXCR+Q6sek8bf92,i=4096",
	    "server requires an unsupported SCRAM extension" },
	{ "trailing comma", RFC5802_FIRST ",",
	    "malformed server-first-message" },
	{ "garbage", "hello", "malformed server-first-message" },
};

static void
test_names(void)
{
	int	m, cb, good = 1;

	for (m = SASL_NONE + 1; m < SASL_MECH_MAX; m++)
		if (sasl_mech_from_name(sasl_mech_name((enum sasl_mech)m)) !=
		    (enum sasl_mech)m)
			good = 0;
	ok(good, "mechanism names round-trip");
	is_str(sasl_mech_name(SASL_SCRAM_SHA512_PLUS), "SCRAM-SHA-512-PLUS",
	    "SCRAM-SHA-512-PLUS name");
	is_str(sasl_mech_name(SASL_PLAIN), "PLAIN", "PLAIN name");
	ok(sasl_mech_name(SASL_NONE) == NULL, "no name for SASL_NONE");
	is_int(sasl_mech_from_name("scram-sha-1"), SASL_NONE,
	    "mechanism names are case-sensitive");
	is_int(sasl_mech_from_name("SCRAM-SHA-1-PLUS"), SASL_SCRAM_SHA1_PLUS,
	    "SCRAM-SHA-1-PLUS parsed");
	is_int(sasl_mech_from_name(NULL), SASL_NONE, "NULL name");
	good = 1;
	for (cb = SASL_CB_NONE + 1; cb < SASL_CB_MAX; cb++)
		if (sasl_cb_from_name(sasl_cb_name((enum sasl_cb)cb)) !=
		    (enum sasl_cb)cb)
			good = 0;
	ok(good, "binding names round-trip");
	is_str(sasl_cb_name(SASL_CB_TLS_SERVER_END_POINT),
	    "tls-server-end-point", "tls-server-end-point name");
	is_int(sasl_cb_from_name("tls-exporter"), SASL_CB_TLS_EXPORTER,
	    "tls-exporter parsed");
	is_int(sasl_cb_from_name("tls-foo"), SASL_CB_NONE,
	    "unknown binding");
}

static void
test_choose(void)
{
	const struct choose_case	*c;
	struct sasl_choice		 ch;
	const char			*err;
	size_t				 i;
	int				 r, good;

	for (i = 0; i < nitems(choose_cases); i++) {
		c = &choose_cases[i];
		err = NULL;
		r = sasl_choose(&c->offer, &ch, &err);
		good = r == c->ret && ch.mech == c->mech && ch.cb == c->cb;
		if (r == 0)
			good = good && ch.gs2_flag == c->flag && err == NULL;
		else
			good = good && err != NULL &&
			    strcmp(err, c->err) == 0;
		if (!ok(good, "choose: %s", c->what))
			diag("r=%d mech=%s cb=%s flag=%c err=%s", r,
			    sasl_mech_name(ch.mech) ? sasl_mech_name(ch.mech) :
			    "-", sasl_cb_name(ch.cb) ? sasl_cb_name(ch.cb) :
			    "-", ch.gs2_flag ? ch.gs2_flag : '0',
			    err ? err : "-");
	}
}

static struct sasl *
session(enum sasl_mech mech, enum sasl_cb cb, char flag, const char *user,
    const char *pass, const char *nonce)
{
	struct sasl_choice	 ch;
	struct sasl		*s;

	ch.mech = mech;
	ch.cb = cb;
	ch.gs2_flag = flag;
	s = sasl_new(&ch, user, pass, flag == 'p' ? fake_cb : NULL,
	    flag == 'p' ? sizeof(fake_cb) : 0);
	if (nonce != NULL)
		sasl_set_nonce(s, nonce);
	return s;
}

static int
finish_str(struct sasl *s, const char *msg, const char **err)
{
	return sasl_finish(s, (const unsigned char *)msg, strlen(msg), err);
}

static void
test_vector(const struct vector *v)
{
	struct sasl	*s;
	unsigned char	*out = NULL;
	size_t		 len = 0;
	const char	*err = NULL;
	int		 r;

	s = session(v->mech, v->cb, v->flag, v->user, v->pass, v->nonce);
	is_int(sasl_initial(s, &out, &len), 0, "%s: initial", v->what);
	is_str((char *)out, v->client_first, "%s: client-first", v->what);
	is_int(len, strlen(v->client_first), "%s: client-first length",
	    v->what);
	free(out);
	out = NULL;
	r = sasl_step(s, (const unsigned char *)v->server_first,
	    strlen(v->server_first), &out, &len, &err);
	is_int(r, 0, "%s: step (%s)", v->what, err ? err : "ok");
	is_str((char *)out, v->client_final, "%s: client-final", v->what);
	free(out);
	err = NULL;
	is_int(finish_str(s, v->server_final, &err), 0,
	    "%s: server signature verified (%s)", v->what, err ? err : "ok");
	sasl_free(s);
}

/* A session that has sent the RFC 5802 client-first-message. */
static struct sasl *
rfc5802_started(void)
{
	struct sasl	*s;
	unsigned char	*out;
	size_t		 len;

	s = session(SASL_SCRAM_SHA1, SASL_CB_NONE, 'n', "user", "pencil",
	    RFC5802_NONCE);
	if (sasl_initial(s, &out, &len) == 0)
		free(out);
	return s;
}

/* And one that has also answered the server-first-message. */
static struct sasl *
rfc5802_stepped(void)
{
	struct sasl	*s = rfc5802_started();
	unsigned char	*out;
	size_t		 len;
	const char	*err;

	if (sasl_step(s, (const unsigned char *)RFC5802_FIRST,
	    strlen(RFC5802_FIRST), &out, &len, &err) == 0)
		free(out);
	return s;
}

static void
test_bad_first(void)
{
	const struct bad_first	*b;
	struct sasl		*s;
	unsigned char		*out, *big;
	size_t			 i, len;
	const char		*err;
	int			 r;

	for (i = 0; i < nitems(bad_firsts); i++) {
		b = &bad_firsts[i];
		s = rfc5802_started();
		err = NULL;
		out = (unsigned char *)"x";
		r = sasl_step(s, (const unsigned char *)b->msg,
		    strlen(b->msg), &out, &len, &err);
		ok(r == -1 && out == NULL, "bad server-first: %s", b->what);
		is_str(err, b->err, "bad server-first: %s: error", b->what);
		sasl_free(s);
	}

	s = rfc5802_started();
	big = malloc(5000);
	memset(big, 'a', 5000);
	memcpy(big, RFC5802_FIRST ",x=", strlen(RFC5802_FIRST ",x="));
	err = NULL;
	r = sasl_step(s, big, 5000, &out, &len, &err);
	ok(r == -1, "oversize server-first rejected");
	is_str(err, "SCRAM server message too long", "oversize error");
	free(big);
	sasl_free(s);

	s = rfc5802_started();
	r = sasl_step(s, (const unsigned char *)"r=a\0b", 5, &out, &len,
	    &err);
	ok(r == -1, "server-first with NUL rejected");
	sasl_free(s);

	/* An extension after i= is allowed and fed to AuthMessage. */
	s = rfc5802_started();
	err = NULL;
	r = sasl_step(s, (const unsigned char *)RFC5802_FIRST ",x=y",
	    strlen(RFC5802_FIRST ",x=y"), &out, &len, &err);
	is_int(r, 0, "optional extension after i= accepted");
	if (r == 0)
		free(out);
	sasl_free(s);
}

static void
test_bad_final(void)
{
	struct sasl	*s;
	unsigned char	*out;
	size_t		 len;
	const char	*err;

	s = rfc5802_stepped();
	err = NULL;
	is_int(finish_str(s, "v=rmF9pqV8S7suAoZWja4dJRkFsKQ", &err), -1,
	    "malformed server signature");
	sasl_free(s);

	s = rfc5802_stepped();
	err = NULL;
	is_int(finish_str(s, "v=AmF9pqV8S7suAoZWja4dJRkFsKQ=", &err), -1,
	    "bad server signature");
	is_str(err, "server signature does not match", "bad signature error");
	sasl_free(s);

	s = rfc5802_stepped();
	is_int(finish_str(s, "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=", &err), 0,
	    "good server signature");
	is_int(finish_str(s, "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=", &err), -1,
	    "second finish refused");
	sasl_free(s);

	s = rfc5802_stepped();
	err = NULL;
	is_int(finish_str(s, "e=invalid-proof", &err), -1, "e=invalid-proof");
	is_str(err, "server rejected authentication: invalid proof",
	    "e=invalid-proof error");
	sasl_free(s);

	s = rfc5802_stepped();
	err = NULL;
	is_int(finish_str(s, "e=channel-bindings-dont-match", &err), -1,
	    "e=channel-bindings-dont-match");
	is_str(err, "server rejected authentication: channel bindings do not "
	    "match", "channel-bindings-dont-match error");
	sasl_free(s);

	s = rfc5802_stepped();
	err = NULL;
	is_int(finish_str(s, "e=\x1b[31mjunk", &err), -1, "unknown e= value");
	is_str(err, "server rejected authentication",
	    "unknown e= value is not echoed");
	sasl_free(s);

	s = rfc5802_stepped();
	err = NULL;
	is_int(sasl_finish(s, NULL, 0, &err), -1, "empty server-final");
	sasl_free(s);

	s = rfc5802_started();
	err = NULL;
	is_int(finish_str(s, "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=", &err), -1,
	    "finish before step");
	ok(err != NULL, "finish before step has an error");
	sasl_free(s);

	s = rfc5802_stepped();
	is_int(sasl_step(s, (const unsigned char *)RFC5802_FIRST,
	    strlen(RFC5802_FIRST), &out, &len, &err), -1,
	    "second step refused");
	sasl_free(s);
}

static void
test_scram_misc(void)
{
	struct sasl	*s, *t;
	unsigned char	*out, *out2, *dec;
	size_t		 len, len2, dlen;
	const char	*p;

	/* Random nonce: 24 bytes as base64, different each time. */
	s = session(SASL_SCRAM_SHA256, SASL_CB_NONE, 'y', "user", "pencil",
	    NULL);
	t = session(SASL_SCRAM_SHA256, SASL_CB_NONE, 'y', "user", "pencil",
	    NULL);
	is_int(sasl_initial(s, &out, &len), 0, "random-nonce initial");
	is_int(sasl_initial(t, &out2, &len2), 0, "second random-nonce initial");
	ok(strncmp((char *)out, "y,,n=user,r=", 12) == 0,
	    "y flag in client-first");
	p = (char *)out + 12;
	ok(b64_decode(p, strlen(p), &dec, &dlen) == 0 && dlen == 24,
	    "nonce is 24 random bytes in base64");
	free(dec);
	ok(strcmp((char *)out, (char *)out2) != 0, "nonces differ");
	free(out2);
	is_int(sasl_initial(s, &out2, &len2), -1, "initial only once");
	free(out);
	sasl_free(s);
	sasl_free(t);

	/* Inconsistent choices and bad credentials fail cleanly. */
	s = session(SASL_SCRAM_SHA256_PLUS, SASL_CB_NONE, 'p', "u", "p", "n");
	is_int(sasl_initial(s, &out, &len), -1, "-PLUS without binding type");
	sasl_free(s);
	s = session(SASL_SCRAM_SHA256, SASL_CB_NONE, 'p', "u", "p", "n");
	is_int(sasl_initial(s, &out, &len), -1, "p flag without -PLUS");
	sasl_free(s);
	s = session(SASL_SCRAM_SHA1, SASL_CB_NONE, 'n', "us\ner", "p", "n");
	is_int(sasl_initial(s, &out, &len), -1, "control char in username");
	sasl_free(s);
	s = session(SASL_SCRAM_SHA1, SASL_CB_NONE, 'n', "user", "pa\x7fss",
	    "n");
	is_int(sasl_initial(s, &out, &len), -1, "DEL in password");
	sasl_free(s);
	s = session(SASL_SCRAM_SHA1, SASL_CB_NONE, 'n', "user", "\xc3(", "n");
	is_int(sasl_initial(s, &out, &len), -1, "invalid UTF-8 password");
	sasl_free(s);
	s = session(SASL_SCRAM_SHA1, SASL_CB_NONE, 'n', "user", "pencil",
	    "a,b");
	is_int(sasl_initial(s, &out, &len), -1, "nonce with comma refused");
	sasl_free(s);
	s = session(SASL_NONE, SASL_CB_NONE, 'n', "user", "pencil", NULL);
	is_int(sasl_initial(s, &out, &len), -1, "SASL_NONE refused");
	sasl_free(s);
	sasl_free(NULL);
}

static void
test_plus_header(void)
{
	struct sasl	*s;
	unsigned char	*out, *dec, want[16 + sizeof(fake_cb)];
	size_t		 len, dlen;
	const char	*err, *c, *e;

	s = session(SASL_SCRAM_SHA512_PLUS, SASL_CB_TLS_EXPORTER, 'p',
	    "user", "pencil", RFC5802_NONCE);
	is_int(sasl_initial(s, &out, &len), 0, "-PLUS initial");
	is_str((char *)out, "p=tls-exporter,,n=user,r=" RFC5802_NONCE,
	    "p=tls-exporter GS2 header in client-first");
	free(out);
	is_int(sasl_step(s, (const unsigned char *)RFC5802_FIRST,
	    strlen(RFC5802_FIRST), &out, &len, &err), 0, "-PLUS step");
	c = (char *)out + 2;
	e = strchr(c, ',');
	dec = NULL;
	memcpy(want, "p=tls-exporter,,", 16);
	memcpy(want + 16, fake_cb, sizeof(fake_cb));
	ok(strncmp((char *)out, "c=", 2) == 0 && e != NULL &&
	    b64_decode(c, (size_t)(e - c), &dec, &dlen) == 0 &&
	    dlen == sizeof(want) && memcmp(dec, want, dlen) == 0,
	    "c= is base64(\"p=tls-exporter,,\" + cbdata)");
	free(dec);
	free(out);
	sasl_free(s);

	s = session(SASL_SCRAM_SHA1_PLUS, SASL_CB_TLS_SERVER_END_POINT, 'p',
	    "user", "pencil", RFC5802_NONCE);
	is_int(sasl_initial(s, &out, &len), 0, "server-end-point initial");
	is_str((char *)out, "p=tls-server-end-point,,n=user,r=" RFC5802_NONCE,
	    "p=tls-server-end-point GS2 header");
	free(out);
	sasl_free(s);

	/* 'y' header goes into c= as "y,,", i.e. "eSws". */
	s = session(SASL_SCRAM_SHA1, SASL_CB_NONE, 'y', "user", "pencil",
	    RFC5802_NONCE);
	if (sasl_initial(s, &out, &len) == 0)
		free(out);
	is_int(sasl_step(s, (const unsigned char *)RFC5802_FIRST,
	    strlen(RFC5802_FIRST), &out, &len, &err), 0, "y step");
	ok(strncmp((char *)out, "c=eSws,r=", 9) == 0, "c=eSws for y flag");
	free(out);
	sasl_free(s);
}

static void
test_plain(void)
{
	struct sasl	*s;
	unsigned char	*out;
	size_t		 len;
	const char	*err;

	s = session(SASL_PLAIN, SASL_CB_NONE, 'n', "juliet", "s3cr3t", NULL);
	is_int(sasl_finish(s, NULL, 0, &err), -1,
	    "PLAIN finish before initial");
	sasl_free(s);

	s = session(SASL_PLAIN, SASL_CB_NONE, 'n', "juliet", "s3cr3t", NULL);
	is_int(sasl_initial(s, &out, &len), 0, "PLAIN initial");
	ok(len == 14 && memcmp(out, "\0juliet\0s3cr3t", 14) == 0,
	    "PLAIN message is NUL authcid NUL password");
	free(out);
	is_int(sasl_finish(s, NULL, 0, &err), 0, "PLAIN finish without data");
	sasl_free(s);

	s = session(SASL_PLAIN, SASL_CB_NONE, 'n', "juliet", "s3cr3t", NULL);
	if (sasl_initial(s, &out, &len) == 0)
		free(out);
	err = NULL;
	is_int(sasl_step(s, (const unsigned char *)"x", 1, &out, &len, &err),
	    -1, "PLAIN step is an error");
	ok(err != NULL, "PLAIN step error string");
	sasl_free(s);

	s = session(SASL_PLAIN, SASL_CB_NONE, 'n', "juliet", "s3cr3t", NULL);
	if (sasl_initial(s, &out, &len) == 0)
		free(out);
	err = NULL;
	is_int(finish_str(s, "v=abc", &err), -1, "PLAIN finish with data");
	ok(err != NULL && strstr(err, "s3cr3t") == NULL,
	    "PLAIN error does not leak the password");
	sasl_free(s);

	s = session(SASL_PLAIN, SASL_CB_NONE, 'n', "", "s3cr3t", NULL);
	is_int(sasl_initial(s, &out, &len), -1, "PLAIN empty authcid");
	sasl_free(s);
}

/* XEP-0474: d= is the hash of what the server offered; a change is caught. */
static int
ssdp_run(const char **mechs, const char **cbs, const char *d)
{
	static const char	 base[] = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAf"
	    "uxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
	struct sasl_choice	 ch = { SASL_SCRAM_SHA256, SASL_CB_NONE, 'n' };
	struct sasl		*s;
	unsigned char		*out = NULL;
	size_t			 outlen;
	const char		*err = NULL;
	char			 first[256];
	int			 r;

	s = sasl_new(&ch, "user", "pencil", NULL, 0);
	sasl_set_nonce(s, "rOprNGfwEbeRWgbNEkqO");
	if (mechs != NULL)
		sasl_set_ssdp(s, mechs, cbs);
	if (sasl_initial(s, &out, &outlen) == -1)
		return -2;
	free(out);
	snprintf(first, sizeof(first), "%s%s%s", base, d ? ",d=" : "",
	    d ? d : "");
	r = sasl_step(s, (unsigned char *)first, strlen(first), &out, &outlen,
	    &err);
	free(out);
	sasl_free(s);
	return r;
}

static void
test_ssdp(void)
{
	const char	*seen[] = { "SCRAM-SHA-256", "PLAIN", "SCRAM-SHA-1", NULL };
	const char	*stripped[] = { "SCRAM-SHA-1", "SCRAM-SHA-256", NULL };
	const char	*cbs[] = { "tls-server-end-point", "tls-exporter", NULL };
	/* base64(SHA-256(...)), computed with Python's hashlib */
	const char	*d_nocb = "jRLQrj92kCXeLkZJ1TjvAY0xI/b9aAx06AQa3ifFdY0=";
	const char	*d_cb = "lFaRaXWXEpVgK30BKGAXFYXFL6bd5rXajQ7uTWXBrSM=";

	is_int(ssdp_run(seen, NULL, d_nocb), 0, "SSDP: matching list accepted");
	is_int(ssdp_run(stripped, NULL, d_nocb), -1,
	    "SSDP: a mechanism removed on the way is caught");
	is_int(ssdp_run(seen, cbs, d_cb), 0,
	    "SSDP: list with channel-binding types accepted");
	is_int(ssdp_run(seen, NULL, d_cb), -1,
	    "SSDP: channel-binding list stripped on the way is caught");
	is_int(ssdp_run(seen, NULL, NULL), 0,
	    "SSDP: a server without d= is not refused");
	is_int(ssdp_run(NULL, NULL, d_nocb), 0,
	    "SSDP: d= ignored when the caller has no view of the offer");
}

int
main(void)
{
	test_ssdp();
	size_t	i;

	for (i = 0; i < sizeof(fake_cb); i++)
		fake_cb[i] = (unsigned char)(0xa0 + i);
	test_names();
	test_choose();
	for (i = 0; i < nitems(vectors); i++)
		test_vector(&vectors[i]);
	test_bad_first();
	test_bad_final();
	test_scram_misc();
	test_plus_header();
	test_plain();
	return done_testing();
}
