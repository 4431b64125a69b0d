/*
 * fuzz_xml.c: libFuzzer target for the XMPP stream parser (xml.c) and the
 * stanza serializer (stanza.c).
 *
 * The input is a server stream.  It is fed in pieces whose sizes come from
 * a PRNG seeded with a hash of the input, so every input has its own,
 * reproducible split.  Callbacks serialize the header and each stanza,
 * walk the tree, and check properties the headers promise:
 *
 *  - a serialized stanza, put back under a stream header that declares
 *    what the original one did, parses again to exactly one stanza that
 *    serializes to the same string;
 *  - the callbacks see the same thing however the input is split (unless
 *    the split-dependent "no progress" limit ends one of the runs);
 *  - after an error or a stop, a later xml_feed() fails again, after a
 *    stop with "undefined-condition".
 *
 * Some inputs (also chosen by the hash) make a callback return XML_STOP;
 * the harness then makes a new parser for the rest of the pieces, as the
 * daemon does on a stream restart.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stanza.h"
#include "xml.h"

#define NS_STREAMS	"http://etherx.jabber.org/streams"
#define NS_XML		"http://www.w3.org/XML/1998/namespace"
#define MAX_STANZA	4096
#define MAX_DEPTH	16
#define MAX_RESTARTS	4
#define ROOT_PREFIX	"fzroot"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct text {
	char	*p;
	size_t	 len;
	size_t	 cap;
};

struct run {
	struct text	 log;		/* what the callbacks saw */
	char		*content_ns;	/* header's xmlns, NULL if none */
	struct text	 decls;		/* header's declarations, for reparsing */
	int		 stanzas;
	int		 stop_at;	/* -1 header, n: n-th stanza, 0 never */
	int		 stop_close;
	int		 checks;	/* round-trip every stanza */
	int		 opened;	/* stream_open was called */
};

/* What the reparse of one serialized stanza produced. */
struct reparse {
	const char	*content_ns;
	int		 stanzas;
	char		*out;
};

static void	 fail(const char *, ...)
		    __attribute__((__noreturn__, __format__(printf, 1, 2)));
static void	 text_add(struct text *, const char *, size_t);
static void	 text_addstr(struct text *, const char *);
static void	 text_free(struct text *);
static uint64_t	 hash(const uint8_t *, size_t);
static uint64_t	 xorshift(uint64_t *);
static size_t	 piece_size(uint64_t *, size_t);
static void	 check_condition(const char *, const char *);
static void	 check_tree(const struct stanza *, unsigned int);
static int	 in_xml_ns(const struct stanza *);
static void	 roundtrip(struct run *, const struct stanza *, const char *,
		    size_t);
static int	 rp_stanza(void *, struct stanza *);
static int	 cb_open(void *, const struct stanza *);
static int	 cb_stanza(void *, struct stanza *);
static int	 cb_close(void *);
static struct xml_parser *new_parser(struct run *);
static int	 run_split(struct run *, const uint8_t *, size_t, uint64_t,
		    const char **);
static int	 run_whole(struct run *, const uint8_t *, size_t,
		    const char **);
static int	 is_prefix(const struct text *, const struct text *);
static int	 utf16_start(const uint8_t *, size_t);
static void	 run_free(struct run *);

/*
 * Two bugs found here are fixed (their inputs stay in tests/fuzz/crashes/
 * as regressions): an element in the XML namespace, and UTF-16 streams
 * that expat autodetected.  The checks are strict unless FUZZ_XML_LAX is
 * set, for exploring past a new finding.
 */
static int	strict = -1;

static const struct xml_callbacks callbacks = { cb_open, cb_stanza, cb_close };
static const struct xml_callbacks rp_callbacks = { NULL, rp_stanza, NULL };

static void
fail(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	fputs("fuzz_xml: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	abort();
}

static void
text_add(struct text *t, const char *s, size_t n)
{
	if (t->len + n + 1 > t->cap) {
		t->cap = (t->len + n + 1) * 2;
		if ((t->p = realloc(t->p, t->cap)) == NULL)
			abort();
	}
	memcpy(t->p + t->len, s, n);
	t->len += n;
	t->p[t->len] = '\0';
}

static void
text_addstr(struct text *t, const char *s)
{
	text_add(t, s, strlen(s));
}

static void
text_free(struct text *t)
{
	free(t->p);
	memset(t, 0, sizeof(*t));
}

/* FNV-1a: the split and the stop point follow from the input alone. */
static uint64_t
hash(const uint8_t *data, size_t size)
{
	uint64_t	h = 0xcbf29ce484222325ULL;
	size_t		i;

	for (i = 0; i < size; i++) {
		h ^= data[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static uint64_t
xorshift(uint64_t *s)
{
	uint64_t	x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* Mostly small pieces, so tokens and UTF-8 sequences get cut. */
static size_t
piece_size(uint64_t *s, size_t left)
{
	uint64_t	r = xorshift(s);
	size_t		n;

	switch (r & 3) {
	case 0:
		n = 1 + (r >> 8) % 4;
		break;
	case 1:
		n = 1 + (r >> 8) % 64;
		break;
	case 2:
		n = 1 + (r >> 8) % 1024;
		break;
	default:
		n = 1 + (r >> 8) % 8192;
		break;
	}
	return n < left ? n : left;
}

static void
check_condition(const char *cond, const char *detail)
{
	static const char *const known[] = {
		"not-well-formed", "restricted-xml", "policy-violation",
		"invalid-namespace", "bad-format", "unsupported-encoding",
		"resource-constraint", "undefined-condition",
	};
	size_t	i;

	if (cond == NULL || detail == NULL)
		fail("XML_ERROR without condition or detail");
	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(cond, known[i]) == 0)
			return;
	fail("unknown stream error condition \"%s\"", cond);
}

/* Links, text and depth of a stanza tree as the parser built it. */
static void
check_tree(const struct stanza *s, unsigned int depth)
{
	const struct stanza	*c;
	const char		*name, *value;
	size_t			 i;

	if (depth > MAX_DEPTH)
		fail("tree deeper than max_depth %u", MAX_DEPTH);
	if (*stanza_name(s) == '\0')
		fail("element with an empty name");
	if (strlen(stanza_text(s)) != stanza_text_len(s))
		fail("text length %zu, strlen %zu", stanza_text_len(s),
		    strlen(stanza_text(s)));
	for (i = 0; stanza_attr_at(s, i, &name, &value); i++)
		if (name == NULL || value == NULL || *name == '\0')
			fail("bad attribute %zu", i);
	if (stanza_child(s, NULL, NULL) != stanza_first_child(s))
		fail("stanza_child(NULL, NULL) is not the first child");
	for (c = stanza_first_child(s); c != NULL; c = stanza_next_sibling(c)) {
		if (stanza_parent(c) != s)
			fail("child's parent link is wrong");
		check_tree(c, depth + 1);
	}
}

static int
rp_stanza(void *arg, struct stanza *s)
{
	struct reparse	*rp = arg;

	if (rp->stanzas++ == 0)
		rp->out = stanza_to_string(s, rp->content_ns, NULL);
	stanza_free(s);
	return XML_CONTINUE;
}

/* Is an element of the tree in the XML namespace (<xml:x/>)? */
static int
in_xml_ns(const struct stanza *s)
{
	const struct stanza	*c;
	const char		*ns = stanza_ns(s);

	if (ns != NULL && strcmp(ns, NS_XML) == 0)
		return 1;
	for (c = stanza_first_child(s); c != NULL; c = stanza_next_sibling(c))
		if (in_xml_ns(c))
			return 1;
	return 0;
}

/*
 * The serialized stanza must read back as itself under a header that
 * binds the same prefixes and default namespace.
 */
static void
roundtrip(struct run *r, const struct stanza *s, const char *str,
    size_t len)
{
	struct text		 doc = { NULL, 0, 0 };
	struct reparse		 rp;
	struct xml_parser	*xp;
	const char		*cond = NULL, *detail = NULL;
	int			 rv;

	/* Known bug: see known_bugs(). */
	if (strict == 0 && in_xml_ns(s))
		return;
	text_addstr(&doc, "<" ROOT_PREFIX ":stream xmlns:" ROOT_PREFIX "='"
	    NS_STREAMS "'");
	if (r->decls.len > 0)
		text_add(&doc, r->decls.p, r->decls.len);
	text_addstr(&doc, ">");
	text_add(&doc, str, len);

	memset(&rp, 0, sizeof(rp));
	rp.content_ns = r->content_ns;
	/* Escaping may make the text longer than the original. */
	if ((xp = xml_parser_new(&rp_callbacks, &rp, 16 * MAX_STANZA + len,
	    MAX_DEPTH)) == NULL)
		abort();
	rv = xml_feed(xp, doc.p, doc.len, &cond, &detail);
	if (rv != XML_OK)
		fail("serialized stanza does not parse again (%s: %s)\n"
		    "document: %s", cond ? cond : "?", detail ? detail : "?",
		    doc.p);
	if (rp.stanzas != 1)
		fail("serialized stanza parses as %d stanzas\ndocument: %s",
		    rp.stanzas, doc.p);
	if (strcmp(rp.out, str) != 0)
		fail("serialization is not stable\nfirst:  %s\nsecond: %s",
		    str, rp.out);
	xml_parser_free(xp);
	free(rp.out);
	text_free(&doc);
}

static int
cb_open(void *arg, const struct stanza *hdr)
{
	struct run	*r = arg;
	const char	*name, *value, *ns;
	char		*str, *esc;
	size_t		 len, i;

	if (strcmp(stanza_name(hdr), "stream") != 0 ||
	    (ns = stanza_ns(hdr)) == NULL || strcmp(ns, NS_STREAMS) != 0)
		fail("stream_open for <%s> in %s", stanza_name(hdr),
		    stanza_ns(hdr) ? stanza_ns(hdr) : "no namespace");
	r->opened = 1;
	str = stanza_to_string(hdr, NULL, &len);
	if (strlen(str) != len)
		fail("stanza_to_string length mismatch on the header");
	text_addstr(&r->log, "O");
	text_add(&r->log, str, len);
	text_addstr(&r->log, "\n");
	free(str);

	free(r->content_ns);
	r->content_ns = (value = stanza_attr(hdr, "xmlns")) != NULL ?
	    strdup(value) : NULL;
	text_free(&r->decls);
	for (i = 0; stanza_attr_at(hdr, i, &name, &value); i++) {
		if (strcmp(name, "xmlns") != 0 &&
		    strncmp(name, "xmlns:", 6) != 0)
			continue;
		if (strcmp(name, "xmlns:" ROOT_PREFIX) == 0)
			continue;
		esc = xml_escape(value, strlen(value));
		text_addstr(&r->decls, " ");
		text_addstr(&r->decls, name);
		text_addstr(&r->decls, "='");
		text_addstr(&r->decls, esc);
		text_addstr(&r->decls, "'");
		free(esc);
	}
	return r->stop_at == -1 ? XML_STOP : XML_CONTINUE;
}

static int
cb_stanza(void *arg, struct stanza *s)
{
	struct run	*r = arg;
	char		*str;
	size_t		 len;

	if (stanza_parent(s) != NULL)
		fail("stanza handed over with a parent");
	check_tree(s, 1);
	str = stanza_to_string(s, r->content_ns, &len);
	if (strlen(str) != len)
		fail("stanza_to_string length mismatch");
	text_addstr(&r->log, "S");
	text_add(&r->log, str, len);
	text_addstr(&r->log, "\n");
	if (r->checks)
		roundtrip(r, s, str, len);
	free(str);
	stanza_free(s);
	return ++r->stanzas == r->stop_at ? XML_STOP : XML_CONTINUE;
}

static int
cb_close(void *arg)
{
	struct run	*r = arg;

	text_addstr(&r->log, "C\n");
	return r->stop_close ? XML_STOP : XML_CONTINUE;
}

static struct xml_parser *
new_parser(struct run *r)
{
	struct xml_parser	*xp;

	if ((xp = xml_parser_new(&callbacks, r, MAX_STANZA, MAX_DEPTH)) ==
	    NULL)
		abort();
	return xp;
}

/*
 * Feed in pieces.  After a stop, a new parser takes the following pieces
 * (the rest of the stopped piece is discarded, as xml_feed() promises).
 * Returns the last result; *cond is set on XML_ERROR.
 */
static int
run_split(struct run *r, const uint8_t *data, size_t size, uint64_t seed,
    const char **cond)
{
	struct xml_parser	*xp = new_parser(r);
	const char		*c = NULL, *d = NULL, *c2, *d2;
	size_t			 off = 0, n;
	int			 rv = XML_OK, restarts = 0;

	while (off < size) {
		n = piece_size(&seed, size - off);
		rv = xml_feed(xp, (const char *)data + off, n, &c, &d);
		off += n;
		if (rv == XML_OK)
			continue;
		if (rv == XML_ERROR) {
			check_condition(c, d);
			if (xml_feed(xp, "<", 1, &c2, &d2) != XML_ERROR)
				fail("xml_feed after an error did not fail");
			break;
		}
		if (rv != XML_STOPPED)
			fail("xml_feed returned %d", rv);
		if (xml_feed(xp, "<", 1, &c2, &d2) != XML_ERROR ||
		    strcmp(c2, "undefined-condition") != 0)
			fail("xml_feed after a stop did not fail with "
			    "undefined-condition");
		xml_parser_free(xp);
		text_addstr(&r->log, "R\n");
		if (++restarts > MAX_RESTARTS)
			return rv;
		r->stanzas = 0;
		xp = new_parser(r);
		rv = XML_OK;
	}
	*cond = c;
	xml_parser_free(xp);
	return rv;
}

static int
run_whole(struct run *r, const uint8_t *data, size_t size, const char **cond)
{
	struct xml_parser	*xp = new_parser(r);
	const char		*c = NULL, *d = NULL;
	int			 rv;

	rv = xml_feed(xp, (const char *)data, size, &c, &d);
	if (rv == XML_ERROR)
		check_condition(c, d);
	*cond = c;
	xml_parser_free(xp);
	return rv;
}

static int
is_prefix(const struct text *a, const struct text *b)
{
	return a->len <= b->len && (a->len == 0 ||
	    memcmp(a->p, b->p, a->len) == 0);
}

/* What makes expat switch to UTF-16 whatever encoding was named. */
static int
utf16_start(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	return data[0] == 0 || data[1] == 0 ||
	    (data[0] == 0xfe && data[1] == 0xff) ||
	    (data[0] == 0xff && data[1] == 0xfe);
}

static void
run_free(struct run *r)
{
	text_free(&r->log);
	text_free(&r->decls);
	free(r->content_ns);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run	 a, b;
	uint64_t	 h = hash(data, size);
	const char	*ca = NULL, *cb = NULL;
	int		 ra, rb, pa, pb, mode;

	if (strict == -1)
		strict = getenv("FUZZ_XML_LAX") == NULL;
	memset(&a, 0, sizeof(a));
	a.checks = 1;
	/* About one input in three stops somewhere. */
	mode = (int)((h >> 40) % 16);
	if (mode == 0)
		a.stop_at = -1;
	else if (mode <= 3)
		a.stop_at = mode;
	else if (mode == 4)
		a.stop_close = 1;
	ra = run_split(&a, data, size, h | 1, &ca);
	/* RFC 6120 11.6: UTF-8 only; no UTF-8 stream starts like this. */
	if (strict == 1 && a.opened && utf16_start(data, size))
		fail("UTF-16 stream accepted");

	if (mode <= 4 || (strict == 0 && utf16_start(data, size))) {
		run_free(&a);
		return 0;
	}

	/* The same input in one piece must give the same events. */
	memset(&b, 0, sizeof(b));
	rb = run_whole(&b, data, size, &cb);
	pa = ra == XML_ERROR && strcmp(ca, "policy-violation") == 0;
	pb = rb == XML_ERROR && strcmp(cb, "policy-violation") == 0;
	if (pa || pb) {
		/* The no-progress limit depends on the split. */
		if ((pa && !is_prefix(&a.log, &b.log)) ||
		    (pb && !is_prefix(&b.log, &a.log)))
			goto differ;
	} else if (ra != rb || (ra == XML_ERROR && strcmp(ca, cb) != 0) ||
	    a.log.len != b.log.len ||
	    (a.log.len > 0 && memcmp(a.log.p, b.log.p, a.log.len) != 0))
		goto differ;
	run_free(&a);
	run_free(&b);
	return 0;
differ:
	fail("split and whole input differ\nsplit (%d %s):\n%s\n"
	    "whole (%d %s):\n%s", ra, ca ? ca : "-", a.log.p ? a.log.p : "",
	    rb, cb ? cb : "-", b.log.p ? b.log.p : "");
}
