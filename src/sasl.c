/*
 * sasl.c: SASL mechanism choice and the client side of PLAIN (RFC 4616)
 * and SCRAM (RFC 5802, RFC 7677; SCRAM-SHA-512 follows the same rules)
 * with channel binding (RFC 5929, RFC 9266).
 *
 * A leaf module: no I/O and no logging.  Errors are static strings that
 * never carry a password, a proof or text chosen by the server.
 *
 * SASLprep (RFC 4013) is not implemented: names and passwords must be
 * well-formed UTF-8 without control characters and are otherwise used
 * as given.  That is exact for ASCII and for input already in NFKC;
 * a server that maps other input differently simply rejects the proof.
 */
#include "compat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "sasl.h"
#include "util.h"
#include "xmalloc.h"

/* Bounds on peer messages and on our own fields, to cap work and memory. */
#define SASL_MAX_MSG		4096
#define SASL_MAX_FIELD		1024
#define SASL_MAX_CBDATA		1024
#define SASL_NONCE_BYTES	24
#define SASL_ITER_DIGITS	10

#define SASL_STR2(x)		#x
#define SASL_STR(x)		SASL_STR2(x)

enum sasl_state {
	ST_INIT,		/* nothing sent */
	ST_FIRST,		/* initial response sent */
	ST_FINAL,		/* SCRAM client-final-message sent */
	ST_DONE,		/* server verified */
	ST_FAILED		/* any error; the object is spent */
};

struct sasl {
	enum sasl_mech		 mech;
	enum sasl_cb		 cb;
	char			 gs2_flag;
	enum sasl_state		 state;
	char			*authcid;
	char			*password;
	unsigned char		*cbdata;
	size_t			 cblen;
	char			*nonce;		/* client nonce */
	char			*first_bare;	/* client-first-message-bare */
	char			 gs2[40];	/* GS2 header */
	unsigned char		 server_sig[EVP_MAX_MD_SIZE];
	size_t			 sig_len;
	char			*ssdp_mechs;	/* what we saw, for XEP-0474 */
	char			*ssdp_cbs;	/* NULL: no XEP-0440 list */
};

/* The parts of a server-first-message that feed the computation. */
struct server_first {
	const char		*nonce;
	size_t			 noncelen;
	unsigned char		*salt;
	size_t			 saltlen;
	int			 iter;
	const char		*ssdp;		/* XEP-0474 d=, or NULL */
	size_t			 ssdplen;
};

struct mech_info {
	const char		*name;
	const EVP_MD		*(*md)(void);	/* NULL for PLAIN */
	int			 plus;
};

static const struct mech_info	*mech_info(enum sasl_mech);
static unsigned int	 cb_usable(const struct sasl_offer *);
static enum sasl_cb	 cb_pick(const struct sasl_offer *);
static int		 offers_scram(unsigned int);
static int		 offers_plus(unsigned int);
static char		 gs2_flag_plain(const struct sasl_offer *);
static int		 choose_plain(const struct sasl_offer *, unsigned int,
			    struct sasl_choice *, const char **);
static int		 text_ok(const char *);
static int		 nonce_char_ok(unsigned char);
static int		 nonce_ok(const char *, size_t);
static char		*saslname(const char *);
static void		 wipe_str(char **);
static int		 gs2_header(struct sasl *);
static int		 plain_initial(struct sasl *, unsigned char **,
			    size_t *);
static int		 scram_initial(struct sasl *, unsigned char **,
			    size_t *);
static char		*msg_dup(const unsigned char *, size_t,
			    const char **);
static int		 next_attr(const char **, char *, const char **,
			    size_t *);
static int		 parse_extensions(const char *, struct server_first *);
static int		 skip_extensions(const char *);
static int		 parse_iter(const char *, size_t, int *,
			    const char **);
static int		 parse_first(struct sasl *, const char *,
			    struct server_first *, const char **);
static int		 salted_password(const EVP_MD *, const char *,
			    const struct server_first *, unsigned char *, int);
static int		 scram_keys(struct sasl *, const struct server_first *,
			    const char *, size_t, unsigned char *, size_t *);
static char		*final_without_proof(struct sasl *,
			    const struct server_first *);
static int		 ssdp_check(const struct sasl *, const struct server_first *,
			    const char **);
static int		 scram_step(struct sasl *, const char *,
			    unsigned char **, size_t *, const char **);
static const char	*server_error(const char *, size_t);
static int		 scram_finish(struct sasl *, const char *,
			    const char **);

static const struct mech_info mechs[SASL_MECH_MAX] = {
	[SASL_PLAIN] =		  { "PLAIN",		  NULL,	      0 },
	[SASL_SCRAM_SHA1] =	  { "SCRAM-SHA-1",	  EVP_sha1,   0 },
	[SASL_SCRAM_SHA1_PLUS] =  { "SCRAM-SHA-1-PLUS",	  EVP_sha1,   1 },
	[SASL_SCRAM_SHA256] =	  { "SCRAM-SHA-256",	  EVP_sha256, 0 },
	[SASL_SCRAM_SHA256_PLUS] = { "SCRAM-SHA-256-PLUS", EVP_sha256, 1 },
	[SASL_SCRAM_SHA512] =	  { "SCRAM-SHA-512",	  EVP_sha512, 0 },
	[SASL_SCRAM_SHA512_PLUS] = { "SCRAM-SHA-512-PLUS", EVP_sha512, 1 },
};

static const char *const cb_names[SASL_CB_MAX] = {
	[SASL_CB_TLS_UNIQUE] = "tls-unique",
	[SASL_CB_TLS_SERVER_END_POINT] = "tls-server-end-point",
	[SASL_CB_TLS_EXPORTER] = "tls-exporter",
};

/* SCRAM families, strongest hash first: the -PLUS form, then the plain one. */
static const enum sasl_mech scram_order[][2] = {
	{ SASL_SCRAM_SHA512_PLUS, SASL_SCRAM_SHA512 },
	{ SASL_SCRAM_SHA256_PLUS, SASL_SCRAM_SHA256 },
	{ SASL_SCRAM_SHA1_PLUS, SASL_SCRAM_SHA1 },
};

/* Among bindings the server lists, the strongest first (RFC 9266). */
static const enum sasl_cb cb_order[] = {
	SASL_CB_TLS_EXPORTER,
	SASL_CB_TLS_SERVER_END_POINT,
	SASL_CB_TLS_UNIQUE,
};

#define ALL_SCRAM	(SASL_BIT(SASL_SCRAM_SHA1) |			\
			 SASL_BIT(SASL_SCRAM_SHA1_PLUS) |		\
			 SASL_BIT(SASL_SCRAM_SHA256) |			\
			 SASL_BIT(SASL_SCRAM_SHA256_PLUS) |		\
			 SASL_BIT(SASL_SCRAM_SHA512) |			\
			 SASL_BIT(SASL_SCRAM_SHA512_PLUS))
#define ALL_PLUS	(SASL_BIT(SASL_SCRAM_SHA1_PLUS) |		\
			 SASL_BIT(SASL_SCRAM_SHA256_PLUS) |		\
			 SASL_BIT(SASL_SCRAM_SHA512_PLUS))
#define ALL_CB		(SASL_BIT(SASL_CB_TLS_UNIQUE) |			\
			 SASL_BIT(SASL_CB_TLS_SERVER_END_POINT) |	\
			 SASL_BIT(SASL_CB_TLS_EXPORTER))

static const struct mech_info *
mech_info(enum sasl_mech m)
{
	if (m <= SASL_NONE || m >= SASL_MECH_MAX)
		return NULL;
	return &mechs[m];
}

const char *
sasl_mech_name(enum sasl_mech m)
{
	const struct mech_info	*mi;

	if ((mi = mech_info(m)) == NULL)
		return NULL;
	return mi->name;
}

enum sasl_mech
sasl_mech_from_name(const char *name)
{
	int	m;

	if (name == NULL)
		return SASL_NONE;
	/* Mechanism names are registered in upper case; compare exactly. */
	for (m = SASL_NONE + 1; m < SASL_MECH_MAX; m++)
		if (strcmp(mechs[m].name, name) == 0)
			return (enum sasl_mech)m;
	return SASL_NONE;
}

const char *
sasl_cb_name(enum sasl_cb cb)
{
	if (cb <= SASL_CB_NONE || cb >= SASL_CB_MAX)
		return NULL;
	return cb_names[cb];
}

enum sasl_cb
sasl_cb_from_name(const char *name)
{
	int	cb;

	if (name == NULL)
		return SASL_CB_NONE;
	for (cb = SASL_CB_NONE + 1; cb < SASL_CB_MAX; cb++)
		if (strcmp(cb_names[cb], name) == 0)
			return (enum sasl_cb)cb;
	return SASL_CB_NONE;
}

/*
 * Bindings we could send at all.  tls-unique is undefined for TLS 1.3
 * (RFC 9266 §3), so it is dropped there even if the TLS layer claims it.
 */
static unsigned int
cb_usable(const struct sasl_offer *o)
{
	unsigned int	avail;

	if (!o->tls)
		return 0;
	avail = o->cb_avail & ALL_CB;
	if (o->tls13)
		avail &= ~SASL_BIT(SASL_CB_TLS_UNIQUE);
	return avail;
}

/* The binding to use with -PLUS, or SASL_CB_NONE. */
static enum sasl_cb
cb_pick(const struct sasl_offer *o)
{
	unsigned int	avail = cb_usable(o);
	enum sasl_cb	dflt;
	size_t		i;

	if (o->no_plus || avail == 0)
		return SASL_CB_NONE;
	if (o->cb_list) {
		avail &= o->cb_types;
		for (i = 0; i < nitems(cb_order); i++)
			if (avail & SASL_BIT(cb_order[i]))
				return cb_order[i];
		return SASL_CB_NONE;
	}
	/* No XEP-0440 list: only the RFC 9266 default is safe to assume. */
	dflt = o->tls13 ? SASL_CB_TLS_EXPORTER : SASL_CB_TLS_UNIQUE;
	return (avail & SASL_BIT(dflt)) ? dflt : SASL_CB_NONE;
}

static int
offers_scram(unsigned int m)
{
	return (m & ALL_SCRAM) != 0;
}

static int
offers_plus(unsigned int m)
{
	return (m & ALL_PLUS) != 0;
}

/*
 * GS2 flag for a SCRAM mechanism without binding.  The server sees 'y'
 * as "client could bind but saw no -PLUS" and fails if it did offer one,
 * which catches a stripped list; so 'y' only when the unfiltered offer
 * has no -PLUS at all, 'n' when we decline an offered -PLUS.
 */
static char
gs2_flag_plain(const struct sasl_offer *o)
{
	if (offers_plus(o->mechs))
		return 'n';
	return cb_usable(o) != 0 ? 'y' : 'n';
}

static int
choose_plain(const struct sasl_offer *o, unsigned int m,
    struct sasl_choice *c, const char **errstr)
{
	/* Any SCRAM offered, even only an unusable -PLUS: no downgrade. */
	if (offers_scram(m) || !(m & SASL_BIT(SASL_PLAIN))) {
		*errstr = "no acceptable SASL mechanism offered";
		return -1;
	}
	if (!o->tls) {
		*errstr = "server offers only PLAIN without TLS";
		return -1;
	}
	c->mech = SASL_PLAIN;
	c->gs2_flag = 'n';
	return 0;
}

int
sasl_choose(const struct sasl_offer *o, struct sasl_choice *c,
    const char **errstr)
{
	unsigned int	m = o->mechs & ~o->exclude;
	enum sasl_cb	cb = cb_pick(o);
	size_t		i;

	c->mech = SASL_NONE;
	c->cb = SASL_CB_NONE;
	c->gs2_flag = 'n';
	/* Channel binding outranks hash strength: any -PLUS first. */
	for (i = 0; cb != SASL_CB_NONE && i < nitems(scram_order); i++) {
		if (m & SASL_BIT(scram_order[i][0])) {
			c->mech = scram_order[i][0];
			c->cb = cb;
			c->gs2_flag = 'p';
			return 0;
		}
	}
	for (i = 0; i < nitems(scram_order); i++) {
		if (m & SASL_BIT(scram_order[i][1])) {
			c->mech = scram_order[i][1];
			c->gs2_flag = gs2_flag_plain(o);
			return 0;
		}
	}
	return choose_plain(o, m, c, errstr);
}

struct sasl *
sasl_new(const struct sasl_choice *c, const char *authcid,
    const char *password, const unsigned char *cbdata, size_t cblen)
{
	struct sasl	*s;

	s = xcalloc(1, sizeof(*s));
	s->mech = c->mech;
	s->cb = c->cb;
	s->gs2_flag = c->gs2_flag;
	s->state = ST_INIT;
	if (authcid != NULL)
		s->authcid = xstrdup(authcid);
	if (password != NULL)
		s->password = xstrdup(password);
	if (cbdata != NULL && cblen > 0 && cblen <= SASL_MAX_CBDATA) {
		s->cbdata = xmalloc(cblen);
		memcpy(s->cbdata, cbdata, cblen);
		s->cblen = cblen;
	}
	return s;
}

static void
wipe_str(char **sp)
{
	if (*sp == NULL)
		return;
	OPENSSL_cleanse(*sp, strlen(*sp));
	free(*sp);
	*sp = NULL;
}

void
sasl_free(struct sasl *s)
{
	if (s == NULL)
		return;
	wipe_str(&s->authcid);
	wipe_str(&s->password);
	if (s->cbdata != NULL) {
		OPENSSL_cleanse(s->cbdata, s->cblen);
		free(s->cbdata);
	}
	wipe_str(&s->nonce);
	wipe_str(&s->first_bare);
	free(s->ssdp_mechs);
	free(s->ssdp_cbs);
	OPENSSL_cleanse(s, sizeof(*s));
	free(s);
}

void
sasl_set_nonce(struct sasl *s, const char *nonce)
{
	wipe_str(&s->nonce);
	if (nonce != NULL)
		s->nonce = xstrdup(nonce);
}

/* Well-formed UTF-8, non-empty, bounded, no C0 controls and no DEL. */
static int
text_ok(const char *t)
{
	size_t	len, i;

	if (t == NULL || (len = strlen(t)) == 0 || len > SASL_MAX_FIELD)
		return 0;
	for (i = 0; i < len; i++)
		if ((unsigned char)t[i] < 0x20 || t[i] == 0x7f)
			return 0;
	return utf8_valid(t, len);
}

/* RFC 5802 "printable": %x21-2B / %x2D-7E, i.e. visible ASCII but ','. */
static int
nonce_char_ok(unsigned char ch)
{
	return ch >= 0x21 && ch <= 0x7e && ch != ',';
}

static int
nonce_ok(const char *n, size_t len)
{
	size_t	i;

	if (len == 0)
		return 0;
	for (i = 0; i < len; i++)
		if (!nonce_char_ok((unsigned char)n[i]))
			return 0;
	return 1;
}

/* RFC 5802 saslname: ',' and '=' would break the attribute syntax. */
static char *
saslname(const char *user)
{
	char	*out, *o;

	o = out = xmalloc(strlen(user) * 3 + 1);
	for (; *user != '\0'; user++) {
		if (*user == ',') {
			memcpy(o, "=2C", 3);
			o += 3;
		} else if (*user == '=') {
			memcpy(o, "=3D", 3);
			o += 3;
		} else
			*o++ = *user;
	}
	*o = '\0';
	return out;
}

int
sasl_initial(struct sasl *s, unsigned char **out, size_t *outlen)
{
	int	r;

	*out = NULL;
	*outlen = 0;
	if (s->state != ST_INIT || !text_ok(s->authcid) ||
	    !text_ok(s->password)) {
		s->state = ST_FAILED;
		return -1;
	}
	if (s->mech == SASL_PLAIN)
		r = plain_initial(s, out, outlen);
	else if (mech_info(s->mech) != NULL)
		r = scram_initial(s, out, outlen);
	else
		r = -1;
	s->state = r == 0 ? ST_FIRST : ST_FAILED;
	return r;
}

/* RFC 4616: authzid NUL authcid NUL passwd, with an empty authzid. */
static int
plain_initial(struct sasl *s, unsigned char **out, size_t *outlen)
{
	size_t	 ulen = strlen(s->authcid), plen = strlen(s->password);
	char	*buf;

	buf = xmalloc(ulen + plen + 3);
	buf[0] = '\0';
	memcpy(buf + 1, s->authcid, ulen + 1);
	memcpy(buf + 2 + ulen, s->password, plen + 1);
	*out = (unsigned char *)buf;
	*outlen = ulen + plen + 2;
	return 0;
}

/* Check the choice is coherent and write the GS2 header for it. */
static int
gs2_header(struct sasl *s)
{
	const struct mech_info	*mi = mech_info(s->mech);
	const char		*cbname;
	int			 n;

	if (mi->plus) {
		if (s->gs2_flag != 'p' ||
		    (cbname = sasl_cb_name(s->cb)) == NULL ||
		    s->cbdata == NULL)
			return -1;
		n = snprintf(s->gs2, sizeof(s->gs2), "p=%s,,", cbname);
		return n < 0 || (size_t)n >= sizeof(s->gs2) ? -1 : 0;
	}
	if (s->gs2_flag != 'y' && s->gs2_flag != 'n')
		return -1;
	snprintf(s->gs2, sizeof(s->gs2), "%c,,", s->gs2_flag);
	return 0;
}

static int
scram_initial(struct sasl *s, unsigned char **out, size_t *outlen)
{
	unsigned char	 rnd[SASL_NONCE_BYTES];
	char		*user, *msg;
	int		 len;

	if (gs2_header(s) == -1)
		return -1;
	if (s->nonce == NULL) {
		if (RAND_bytes(rnd, sizeof(rnd)) != 1)
			return -1;
		s->nonce = b64_encode(rnd, sizeof(rnd));
		OPENSSL_cleanse(rnd, sizeof(rnd));
	}
	if (!nonce_ok(s->nonce, strlen(s->nonce)))
		return -1;
	user = saslname(s->authcid);
	xasprintf(&s->first_bare, "n=%s,r=%s", user, s->nonce);
	free(user);
	len = xasprintf(&msg, "%s%s", s->gs2, s->first_bare);
	*out = (unsigned char *)msg;
	*outlen = (size_t)len;
	return 0;
}

/* Bounded, NUL-free copy of a server message as a C string. */
static char *
msg_dup(const unsigned char *in, size_t len, const char **errstr)
{
	if (len > SASL_MAX_MSG) {
		*errstr = "SCRAM server message too long";
		return NULL;
	}
	if (len == 0 || in == NULL) {
		*errstr = "empty SCRAM server message";
		return NULL;
	}
	if (memchr(in, '\0', len) != NULL) {
		*errstr = "SCRAM server message contains NUL";
		return NULL;
	}
	return xstrndup((const char *)in, len);
}

/*
 * One "a=value" attribute from *cur; advances *cur past the comma, or
 * sets it to NULL after the last attribute.  Values may be empty here;
 * callers check what they need.
 */
static int
next_attr(const char **cur, char *attr, const char **val, size_t *vlen)
{
	const char	*p = *cur, *comma;

	if (p == NULL)
		return -1;
	if (!((p[0] >= 'a' && p[0] <= 'z') || (p[0] >= 'A' && p[0] <= 'Z')) ||
	    p[1] != '=')
		return -1;
	*attr = p[0];
	*val = p + 2;
	if ((comma = strchr(*val, ',')) != NULL) {
		*vlen = (size_t)(comma - *val);
		*cur = comma + 1;
	} else {
		*vlen = strlen(*val);
		*cur = NULL;
	}
	return 0;
}

/*
 * Optional extensions after the mandatory attributes: ignored but sane,
 * except XEP-0474's d=, which is kept.
 */
static int
parse_extensions(const char *cur, struct server_first *sf)
{
	const char	*val;
	size_t		 vlen;
	char		 attr;

	while (cur != NULL) {
		if (next_attr(&cur, &attr, &val, &vlen) == -1)
			return -1;
		if (attr == 'd') {
			sf->ssdp = val;
			sf->ssdplen = vlen;
		}
	}
	return 0;
}

static int
skip_extensions(const char *cur)
{
	struct server_first	sf;

	return parse_extensions(cur, &sf);
}

static int
parse_iter(const char *v, size_t len, int *iter, const char **errstr)
{
	unsigned long long	n = 0;
	size_t			i;

	if (len == 0)
		goto invalid;
	for (i = 0; i < len; i++)
		if (v[i] < '0' || v[i] > '9')
			goto invalid;
	/* Too many digits to bother converting is simply too large. */
	for (i = 0; i < len && i < SASL_ITER_DIGITS; i++)
		n = n * 10 + (unsigned long long)(v[i] - '0');
	if (len > SASL_ITER_DIGITS || n > SASL_SCRAM_MAX_ITER) {
		*errstr = "iteration count above maximum "
		    SASL_STR(SASL_SCRAM_MAX_ITER);
		return -1;
	}
	if (n < SASL_SCRAM_MIN_ITER) {
		*errstr = "iteration count below minimum "
		    SASL_STR(SASL_SCRAM_MIN_ITER);
		return -1;
	}
	*iter = (int)n;
	return 0;
invalid:
	*errstr = "invalid iteration count";
	return -1;
}

/* server-first-message = [m-ext ","] nonce "," salt "," iter ["," ext] */
static int
parse_first(struct sasl *s, const char *msg, struct server_first *sf,
    const char **errstr)
{
	const char	*cur = msg, *val;
	size_t		 vlen, clen = strlen(s->nonce);
	char		 attr;

	if (next_attr(&cur, &attr, &val, &vlen) == -1)
		goto malformed;
	if (attr == 'm') {
		*errstr = "server requires an unsupported SCRAM extension";
		return -1;
	}
	if (attr != 'r') {
		*errstr = "server-first-message lacks a nonce";
		return -1;
	}
	if (vlen <= clen || memcmp(val, s->nonce, clen) != 0) {
		*errstr = "server nonce does not extend client nonce";
		return -1;
	}
	if (!nonce_ok(val, vlen)) {
		*errstr = "invalid character in server nonce";
		return -1;
	}
	sf->nonce = val;
	sf->noncelen = vlen;
	if (next_attr(&cur, &attr, &val, &vlen) == -1 || attr != 's') {
		*errstr = "server-first-message lacks a salt";
		return -1;
	}
	if (b64_decode(val, vlen, &sf->salt, &sf->saltlen) == -1 ||
	    sf->saltlen == 0) {
		*errstr = "invalid salt in server-first-message";
		return -1;
	}
	if (next_attr(&cur, &attr, &val, &vlen) == -1 || attr != 'i') {
		*errstr = "server-first-message lacks an iteration count";
		return -1;
	}
	if (parse_iter(val, vlen, &sf->iter, errstr) == -1)
		return -1;
	if (parse_extensions(cur, sf) == -1)
		goto malformed;
	return 0;
malformed:
	*errstr = "malformed server-first-message";
	return -1;
}

/*
 * The salted password for the last (hash, salt, iterations, password), so
 * a reconnect skips PBKDF2.  It lives in memory only; the password itself
 * is remembered as a digest, to notice a change.
 */
static struct {
	const EVP_MD	*md;
	unsigned char	 salt[128];
	size_t		 saltlen;
	int		 iter;
	unsigned char	 pwdigest[32];
	unsigned char	 salted[EVP_MAX_MD_SIZE];
	int		 valid;
} spcache;

static int
salted_password(const EVP_MD *md, const char *password,
    const struct server_first *sf, unsigned char *out, int hlen)
{
	unsigned char	digest[32];
	unsigned int	dlen = sizeof(digest);
	int		hit;

	if (EVP_Digest(password, strlen(password), digest, &dlen,
	    EVP_sha256(), NULL) != 1)
		return -1;
	hit = spcache.valid && spcache.md == md && spcache.iter == sf->iter &&
	    spcache.saltlen == sf->saltlen &&
	    memcmp(spcache.salt, sf->salt, sf->saltlen) == 0 &&
	    CRYPTO_memcmp(spcache.pwdigest, digest, sizeof(digest)) == 0;
	if (hit) {
		memcpy(out, spcache.salted, (size_t)hlen);
		OPENSSL_cleanse(digest, sizeof(digest));
		return 0;
	}
	if (PKCS5_PBKDF2_HMAC(password, (int)strlen(password), sf->salt,
	    (int)sf->saltlen, sf->iter, md, hlen, out) != 1) {
		OPENSSL_cleanse(digest, sizeof(digest));
		return -1;
	}
	OPENSSL_cleanse(&spcache, sizeof(spcache));
	if (sf->saltlen <= sizeof(spcache.salt)) {
		spcache.md = md;
		memcpy(spcache.salt, sf->salt, sf->saltlen);
		spcache.saltlen = sf->saltlen;
		spcache.iter = sf->iter;
		memcpy(spcache.pwdigest, digest, sizeof(digest));
		memcpy(spcache.salted, out, (size_t)hlen);
		spcache.valid = 1;
	}
	OPENSSL_cleanse(digest, sizeof(digest));
	return 0;
}

/* Sorted, comma-joined copy of a NULL-terminated list of names. */
static char *
ssdp_join(const char **names)
{
	const char	**v;
	size_t		  n = 0, i, j, len = 1;
	char		 *out;

	for (n = 0; names[n] != NULL; n++)
		len += strlen(names[n]) + 1;
	v = xcalloc(n + 1, sizeof(*v));
	for (i = 0; i < n; i++)
		v[i] = names[i];
	for (i = 1; i < n; i++)		/* a handful: insertion sort */
		for (j = i; j > 0 && strcmp(v[j - 1], v[j]) > 0; j--) {
			const char *t = v[j];

			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	out = xcalloc(1, len);
	for (i = 0; i < n; i++) {
		if (i > 0)
			strcat(out, ",");
		strcat(out, v[i]);
	}
	free(v);
	return out;
}

void
sasl_set_ssdp(struct sasl *s, const char **mechnames, const char **cbs)
{
	free(s->ssdp_mechs);
	free(s->ssdp_cbs);
	s->ssdp_mechs = ssdp_join(mechnames);
	s->ssdp_cbs = cbs != NULL ? ssdp_join(cbs) : NULL;
}

void
sasl_forget_cache(void)
{
	OPENSSL_cleanse(&spcache, sizeof(spcache));
}

/*
 * RFC 5802 §3: derive the keys, write ClientProof to proof and keep
 * ServerSignature for sasl_finish.  Intermediate keys are wiped here.
 */
static int
scram_keys(struct sasl *s, const struct server_first *sf,
    const char *authmsg, size_t amlen, unsigned char *proof, size_t *plen)
{
	const EVP_MD	*md = mech_info(s->mech)->md();
	unsigned char	 salted[EVP_MAX_MD_SIZE], ckey[EVP_MAX_MD_SIZE];
	unsigned char	 stored[EVP_MAX_MD_SIZE], csig[EVP_MAX_MD_SIZE];
	unsigned char	 skey[EVP_MAX_MD_SIZE];
	int		 hlen = EVP_MD_get_size(md), r = -1, i;

	if (hlen <= 0 || hlen > EVP_MAX_MD_SIZE)
		return -1;
	if (salted_password(md, s->password, sf, salted, hlen) == -1)
		goto done;
	if (HMAC(md, salted, hlen, (const unsigned char *)"Client Key", 10,
	    ckey, NULL) == NULL ||
	    EVP_Digest(ckey, (size_t)hlen, stored, NULL, md, NULL) != 1 ||
	    HMAC(md, stored, hlen, (const unsigned char *)authmsg, amlen,
	    csig, NULL) == NULL ||
	    HMAC(md, salted, hlen, (const unsigned char *)"Server Key", 10,
	    skey, NULL) == NULL ||
	    HMAC(md, skey, hlen, (const unsigned char *)authmsg, amlen,
	    s->server_sig, NULL) == NULL)
		goto done;
	for (i = 0; i < hlen; i++)
		proof[i] = ckey[i] ^ csig[i];
	*plen = (size_t)hlen;
	s->sig_len = (size_t)hlen;
	r = 0;
done:
	OPENSSL_cleanse(salted, sizeof(salted));
	OPENSSL_cleanse(ckey, sizeof(ckey));
	OPENSSL_cleanse(stored, sizeof(stored));
	OPENSSL_cleanse(csig, sizeof(csig));
	OPENSSL_cleanse(skey, sizeof(skey));
	return r;
}

/* "c=" base64(gs2-header [cbind-data]) ",r=" nonce */
static char *
final_without_proof(struct sasl *s, const struct server_first *sf)
{
	unsigned char	*cbind;
	size_t		 glen = strlen(s->gs2), cblen = 0;
	char		*c, *msg;

	if (s->gs2_flag == 'p')
		cblen = s->cblen;
	cbind = xmalloc(glen + cblen);
	memcpy(cbind, s->gs2, glen);
	if (cblen > 0)
		memcpy(cbind + glen, s->cbdata, cblen);
	c = b64_encode(cbind, glen + cblen);
	free(cbind);
	xasprintf(&msg, "c=%s,r=%.*s", c, (int)sf->noncelen, sf->nonce);
	free(c);
	return msg;
}

/*
 * XEP-0474: the server hashes the mechanism list (sorted, comma-joined)
 * and, when it advertised them, "|" and the channel-binding types; a
 * difference from what we received means someone edited the offer.
 * Without d= the server does not take part; pinning still applies.
 */
static int
ssdp_expect(const struct sasl *s, const char *text, const char *d,
    size_t dlen)
{
	const EVP_MD	*md = mech_info(s->mech)->md();
	unsigned char	 h[EVP_MAX_MD_SIZE];
	unsigned int	 hlen;
	char		*b64;
	int		 same;

	if (EVP_Digest(text, strlen(text), h, &hlen, md, NULL) != 1)
		return 0;
	b64 = b64_encode(h, hlen);
	same = strlen(b64) == dlen && CRYPTO_memcmp(b64, d, dlen) == 0;
	free(b64);
	return same;
}

static int
ssdp_check(const struct sasl *s, const struct server_first *sf,
    const char **errstr)
{
	char	*text;
	int	 ok;

	if (sf->ssdp == NULL || s->ssdp_mechs == NULL)
		return 0;
	xasprintf(&text, "%s|%s", s->ssdp_mechs, s->ssdp_cbs ? s->ssdp_cbs :
	    "");
	ok = ssdp_expect(s, text, sf->ssdp, sf->ssdplen);
	/* Servers without a channel-binding list may leave out the "|". */
	if (!ok && s->ssdp_cbs == NULL)
		ok = ssdp_expect(s, s->ssdp_mechs, sf->ssdp, sf->ssdplen);
	free(text);
	if (!ok) {
		*errstr = "SASL downgrade detected (XEP-0474): the mechanisms "
		    "we were offered are not the ones the server sent";
		return -1;
	}
	return 0;
}


static int
scram_step(struct sasl *s, const char *first, unsigned char **out,
    size_t *outlen, const char **errstr)
{
	struct server_first	 sf;
	unsigned char		 proof[EVP_MAX_MD_SIZE];
	size_t			 plen = 0;
	char			*wop = NULL, *authmsg, *p64, *msg;
	int			 amlen, len, r = -1;

	memset(&sf, 0, sizeof(sf));
	if (parse_first(s, first, &sf, errstr) == -1)
		goto done;
	if (ssdp_check(s, &sf, errstr) == -1)
		goto done;
	wop = final_without_proof(s, &sf);
	amlen = xasprintf(&authmsg, "%s,%s,%s", s->first_bare, first, wop);
	r = scram_keys(s, &sf, authmsg, (size_t)amlen, proof, &plen);
	free(authmsg);
	if (r == -1) {
		*errstr = "SCRAM key derivation failed";
		goto done;
	}
	p64 = b64_encode(proof, plen);
	len = xasprintf(&msg, "%s,p=%s", wop, p64);
	wipe_str(&p64);
	*out = (unsigned char *)msg;
	*outlen = (size_t)len;
	/* The password has served its purpose; do not keep it around. */
	wipe_str(&s->password);
done:
	OPENSSL_cleanse(proof, sizeof(proof));
	free(wop);
	free(sf.salt);
	return r;
}

int
sasl_step(struct sasl *s, const unsigned char *in, size_t len,
    unsigned char **out, size_t *outlen, const char **errstr)
{
	char	*first;
	int	 r;

	*out = NULL;
	*outlen = 0;
	if (s->mech == SASL_PLAIN) {
		*errstr = "unexpected challenge for PLAIN";
		s->state = ST_FAILED;
		return -1;
	}
	if (s->state != ST_FIRST) {
		*errstr = "unexpected SCRAM challenge";
		s->state = ST_FAILED;
		return -1;
	}
	if ((first = msg_dup(in, len, errstr)) == NULL) {
		s->state = ST_FAILED;
		return -1;
	}
	r = scram_step(s, first, out, outlen, errstr);
	free(first);
	s->state = r == 0 ? ST_FINAL : ST_FAILED;
	return r;
}

/* Known RFC 5802 server-error values; anything else stays generic. */
static const char *
server_error(const char *v, size_t len)
{
	static const struct {
		const char	*value;
		const char	*msg;
	} errs[] = {
		{ "invalid-proof",
		    "server rejected authentication: invalid proof" },
		{ "channel-bindings-dont-match",
		    "server rejected authentication: channel bindings "
		    "do not match" },
		{ "channel-binding-not-supported",
		    "server rejected authentication: channel binding "
		    "not supported" },
		{ "unsupported-channel-binding-type",
		    "server rejected authentication: unsupported channel "
		    "binding type" },
		{ "server-does-support-channel-binding",
		    "server rejected authentication: server does support "
		    "channel binding" },
		{ "unknown-user",
		    "server rejected authentication: unknown user" },
		{ "invalid-encoding",
		    "server rejected authentication: invalid encoding" },
		{ "other-error",
		    "server rejected authentication: other error" },
	};
	size_t	i;

	for (i = 0; i < nitems(errs); i++)
		if (strlen(errs[i].value) == len &&
		    memcmp(errs[i].value, v, len) == 0)
			return errs[i].msg;
	return "server rejected authentication";
}

/* server-final-message = (server-error / verifier) ["," extensions] */
static int
scram_finish(struct sasl *s, const char *msg, const char **errstr)
{
	const char	*cur = msg, *val;
	unsigned char	*sig;
	size_t		 vlen, siglen;
	char		 attr;
	int		 match;

	if (next_attr(&cur, &attr, &val, &vlen) == -1 ||
	    (attr != 'e' && attr != 'v') || skip_extensions(cur) == -1) {
		*errstr = "malformed server-final-message";
		return -1;
	}
	if (attr == 'e') {
		*errstr = server_error(val, vlen);
		return -1;
	}
	if (b64_decode(val, vlen, &sig, &siglen) == -1) {
		*errstr = "malformed server signature";
		return -1;
	}
	match = siglen == s->sig_len &&
	    CRYPTO_memcmp(sig, s->server_sig, siglen) == 0;
	free(sig);
	if (!match) {
		*errstr = "server signature does not match";
		return -1;
	}
	return 0;
}

int
sasl_finish(struct sasl *s, const unsigned char *in, size_t len,
    const char **errstr)
{
	char	*msg;
	int	 r;

	if (s->mech == SASL_PLAIN && s->state == ST_FIRST) {
		r = len == 0 ? 0 : -1;
		if (r == -1)
			*errstr = "unexpected data in PLAIN success";
	} else if (s->state != ST_FINAL || s->mech == SASL_PLAIN) {
		*errstr = "SASL exchange not complete";
		r = -1;
	} else if ((msg = msg_dup(in, len, errstr)) == NULL)
		r = -1;
	else {
		r = scram_finish(s, msg, errstr);
		free(msg);
	}
	s->state = r == 0 ? ST_DONE : ST_FAILED;
	return r;
}
