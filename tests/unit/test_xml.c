/*
 * test_xml.c: the stream parser: callbacks and trees however the input is
 * split, restricted XML, the limits, and bad input.
 */
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stanza.h"
#include "tap.h"
#include "xmalloc.h"
#include "xml.h"

#define NS_STREAMS	"http://etherx.jabber.org/streams"
#define HEADER		"<stream:stream xmlns='jabber:client' "		\
			"xmlns:stream='" NS_STREAMS "' id='abc123' "	\
			"from='example.com' version='1.0' xml:lang='en'>"
#define BIG		(64 * 1024)
#define nitems(a)	(sizeof(a) / sizeof((a)[0]))

/*
 * Bytes the program has allocated and not freed: from the allocator that
 * is in use, ASan's when the tests run under it.
 */
#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif
#ifdef TEST_ASAN
size_t	__sanitizer_get_current_allocated_bytes(void);

static size_t
heap_in_use(void)
{
	return __sanitizer_get_current_allocated_bytes();
}
#else
static size_t
heap_in_use(void)
{
	return mallinfo2().uordblks;
}
#endif

/* What the callbacks saw, as text. */
struct rec {
	char		*log;
	size_t		 len;
	int		 opens;
	int		 stanzas;
	int		 closes;
	int		 stop_at;	/* XML_STOP on this stanza (1-based) */
	int		 stop_open;	/* XML_STOP on the header */
	int		 keep_log;
	char		*lang;		/* header's xml:lang */
	char		*content_ns;	/* header's xmlns */
	struct stanza	*last;		/* last stanza when !keep_log */
};

static void	 rec_init(struct rec *);
static void	 rec_clear(struct rec *);
static void	 rec_add(struct rec *, const char *);
static int	 cb_open(void *, const struct stanza *);
static int	 cb_stanza(void *, struct stanza *);
static int	 cb_close(void *);
static struct xml_parser *new_parser(struct rec *, size_t, unsigned int);
static int	 feed_split(struct rec *, const char *, size_t, size_t,
		    uint32_t);
static int	 feed_error(const char *, size_t, size_t, unsigned int,
		    const char **, const char **, struct rec *);
static uint32_t	 lcg(uint32_t *);
static void	 test_stream(void);
static void	 test_header(void);
static void	 test_roundtrip(void);
static void	 test_stop(void);
static void	 test_restricted(void);
static void	 test_billion_laughs(void);
static void	 test_stanza_limit(void);
static void	 test_depth(void);
static void	 test_no_progress(void);
static void	 test_bad_input(void);
static void	 test_root(void);
static void	 test_many(void);
static int	 cb_count_free(void *, struct stanza *);
static int	 cb_check_free(void *, struct stanza *);
static void	 test_no_alloc(void);
static void	 test_kept(void);
static void	 test_misc(void);

static const struct xml_callbacks callbacks = {
	cb_open, cb_stanza, cb_close
};

static const char stream[] =
    "<?xml version='1.0'?>"
    HEADER
    "<stream:features>"
    "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls>"
    "<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>"
    "<mechanism>SCRAM-SHA-1</mechanism><mechanism>PLAIN</mechanism>"
    "</mechanisms></stream:features>"
    "<iq type='result' id='b1' to='u@example.com/r'/>"
    " \n\t "
    "<message from='a@example.com/x' to='u@example.com/r' type='chat' "
    "xml:lang='de'><body>a &amp;&lt; b &#x263A; \xe2\x98\xba "
    "<![CDATA[<c>&amp;]]></body>"
    "<x xmlns='urn:x' xmlns:p='urn:p' p:a='1'>t</x></message>"
    "\n"
    "</stream:stream>";

static const char expected[] =
    "open\n"
    "<features xmlns='" NS_STREAMS "'>"
    "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls>"
    "<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>"
    "<mechanism>SCRAM-SHA-1</mechanism><mechanism>PLAIN</mechanism>"
    "</mechanisms></features>\n"
    "<iq type='result' id='b1' to='u@example.com/r'/>\n"
    "<message from='a@example.com/x' to='u@example.com/r' type='chat' "
    "xml:lang='de'><body>a &amp;&lt; b \xe2\x98\xba \xe2\x98\xba "
    "&lt;c&gt;&amp;amp;</body>"
    "<x xmlns='urn:x' xmlns:p='urn:p' p:a='1'>t</x></message>\n"
    "close\n";

static void
rec_init(struct rec *r)
{
	memset(r, 0, sizeof(*r));
	r->keep_log = 1;
}

static void
rec_clear(struct rec *r)
{
	free(r->log);
	free(r->lang);
	free(r->content_ns);
	stanza_free(r->last);
	rec_init(r);
}

static void
rec_add(struct rec *r, const char *s)
{
	size_t	n = strlen(s);

	if ((r->log = realloc(r->log, r->len + n + 1)) == NULL)
		abort();
	memcpy(r->log + r->len, s, n + 1);
	r->len += n;
}

static int
cb_open(void *arg, const struct stanza *hdr)
{
	struct rec	*r = arg;
	const char	*v;

	r->opens++;
	rec_add(r, "open\n");
	free(r->lang);
	free(r->content_ns);
	r->lang = (v = stanza_attr(hdr, "xml:lang")) ? strdup(v) : NULL;
	r->content_ns = (v = stanza_attr(hdr, "xmlns")) ? strdup(v) : NULL;
	return r->stop_open ? XML_STOP : XML_CONTINUE;
}

static int
cb_stanza(void *arg, struct stanza *s)
{
	struct rec	*r = arg;
	char		*out;

	r->stanzas++;
	if (r->keep_log) {
		out = stanza_to_string(s, "jabber:client", NULL);
		rec_add(r, out);
		rec_add(r, "\n");
		free(out);
		stanza_free(s);
	} else {
		stanza_free(r->last);
		r->last = s;
	}
	return r->stanzas == r->stop_at ? XML_STOP : XML_CONTINUE;
}

static int
cb_close(void *arg)
{
	struct rec	*r = arg;

	r->closes++;
	rec_add(r, "close\n");
	return XML_CONTINUE;
}

static struct xml_parser *
new_parser(struct rec *r, size_t max_stanza, unsigned int max_depth)
{
	struct xml_parser	*xp;

	if ((xp = xml_parser_new(&callbacks, r, max_stanza, max_depth)) ==
	    NULL)
		abort();
	return xp;
}

/* Fixed seed, so a failure can be reproduced. */
static uint32_t
lcg(uint32_t *state)
{
	*state = *state * 1103515245 + 12345;
	return *state >> 16;
}

/*
 * Feed buf in pieces: of size piece, or of random sizes up to 64 when
 * piece is 0.  Returns the last xml_feed() result.
 */
static int
feed_split(struct rec *r, const char *buf, size_t len, size_t piece,
    uint32_t seed)
{
	struct xml_parser	*xp;
	size_t			 off = 0, n;
	int			 rv = XML_OK;

	xp = new_parser(r, BIG, 64);
	while (off < len && rv == XML_OK) {
		n = piece != 0 ? piece : 1 + lcg(&seed) % 64;
		if (n > len - off)
			n = len - off;
		rv = xml_feed(xp, buf + off, n, NULL, NULL);
		off += n;
	}
	xml_parser_free(xp);
	return rv;
}

/* Feed doc whole; return the result with condition and detail. */
static int
feed_error(const char *doc, size_t len, size_t max_stanza,
    unsigned int max_depth, const char **cond, const char **detail,
    struct rec *r)
{
	struct xml_parser	*xp;
	static char		 dbuf[256];
	int			 rv;

	*cond = *detail = NULL;
	xp = new_parser(r, max_stanza, max_depth);
	rv = xml_feed(xp, doc, len, cond, detail);
	/* The detail may belong to the parser: copy it out. */
	if (*detail != NULL) {
		snprintf(dbuf, sizeof(dbuf), "%s", *detail);
		*detail = dbuf;
	}
	xml_parser_free(xp);
	return rv;
}

static void
test_stream(void)
{
	struct rec	r;
	uint32_t	seed;
	int		rv, same;

	rec_init(&r);
	rv = feed_split(&r, stream, sizeof(stream) - 1, sizeof(stream), 0);
	is_int(rv, XML_OK, "whole stream parses");
	is_str(r.log, expected, "callbacks and trees");
	is_int(r.stanzas, 3, "three stanzas");
	is_int(r.closes, 1, "stream closed");
	rec_clear(&r);

	rv = feed_split(&r, stream, sizeof(stream) - 1, 1, 0);
	is_int(rv, XML_OK, "byte by byte parses");
	is_str(r.log, expected, "byte by byte: same trees");
	rec_clear(&r);

	same = 1;
	for (seed = 1; seed <= 50; seed++) {
		rv = feed_split(&r, stream, sizeof(stream) - 1, 0, seed);
		if (rv != XML_OK || r.log == NULL ||
		    strcmp(r.log, expected) != 0) {
			diag("seed %u differs", seed);
			same = 0;
		}
		rec_clear(&r);
	}
	ok(same, "random splits: same trees (50 seeds)");
}

static void
test_header(void)
{
	struct rec		 r;
	struct xml_parser	*xp;
	struct stanza		*m, *x;
	const char		*doc = HEADER "<message xml:lang='fr'>"
				    "<x xmlns='urn:x'/><body>b</body>"
				    "<x xmlns='urn:y'/></message>";

	rec_init(&r);
	r.keep_log = 0;
	xp = new_parser(&r, BIG, 64);
	is_int(xml_feed(xp, doc, strlen(doc), NULL, NULL), XML_OK,
	    "header and message");
	is_str(r.lang, "en", "header xml:lang mapped");
	is_str(r.content_ns, "jabber:client", "header content namespace");
	m = r.last;
	ok(m != NULL, "message delivered");
	if (m != NULL) {
		is_str(stanza_name(m), "message", "stanza name");
		is_str(stanza_ns(m), "jabber:client", "stanza namespace");
		is_str(stanza_attr(m, "xml:lang"), "fr", "stanza xml:lang");
		ok(stanza_parent(m) == NULL, "stanza is a root");
		x = stanza_child(m, "x", "urn:y");
		ok(x != NULL && stanza_next_sibling(x) == NULL,
		    "child by name and ns");
		is_str(stanza_text(stanza_child(m, "body", "jabber:client")),
		    "b", "body text");
		is_int(stanza_text_len(m), 0, "no text between children");
	}
	is_int(xml_feed(xp, "", 0, NULL, NULL), XML_OK, "empty feed");
	is_int(r.closes, 0, "not closed yet");
	xml_parser_free(xp);
	rec_clear(&r);
}

/* What the daemon serializes, the parser gives back unchanged. */
static void
test_roundtrip(void)
{
	struct rec		 r;
	struct xml_parser	*xp;
	struct stanza		*m, *c;
	char			*out, *again;

	m = stanza_new("message", NULL);
	stanza_set_attr(m, "to", "o'neil@example.com");
	stanza_set_attr(m, "id", "a\"b<c>&d\te\nf\rg h");
	stanza_set_attr(m, "xml:lang", "en");
	stanza_add_text_child(m, "body", NULL,
	    "1 < 2 && 3 > 2 \"q\" 'a' ]]> \r\n\t \xc3\xa9");
	c = stanza_add_child(m, "x", "urn:x");
	stanza_set_attr(c, "xmlns:p", "urn:p");
	stanza_set_attr(c, "p:a", "v");
	stanza_add_child(c, "y", NULL);
	stanza_add_child(c, "z", "jabber:client");
	out = stanza_to_string(m, "jabber:client", NULL);
	stanza_free(m);

	rec_init(&r);
	r.keep_log = 0;
	xp = new_parser(&r, BIG, 64);
	xml_feed(xp, HEADER, strlen(HEADER), NULL, NULL);
	is_int(xml_feed(xp, out, strlen(out), NULL, NULL), XML_OK,
	    "serialized stanza parses");
	ok(r.last != NULL, "round trip stanza delivered");
	if (r.last != NULL) {
		is_str(stanza_attr(r.last, "id"), "a\"b<c>&d\te\nf\rg h",
		    "attribute survives with its whitespace");
		is_str(stanza_text(stanza_child(r.last, "body", NULL)),
		    "1 < 2 && 3 > 2 \"q\" 'a' ]]> \r\n\t \xc3\xa9",
		    "text survives with its carriage return");
		again = stanza_to_string(r.last, "jabber:client", NULL);
		is_str(again, out, "serialize, parse, serialize: same");
		free(again);
	}
	xml_parser_free(xp);
	rec_clear(&r);
	free(out);
}

static void
test_stop(void)
{
	struct rec		 r;
	struct xml_parser	*xp;
	const char		*cond, *detail;

	rec_init(&r);
	r.stop_at = 2;
	xp = new_parser(&r, BIG, 64);
	is_int(xml_feed(xp, stream, sizeof(stream) - 1, NULL, NULL),
	    XML_STOPPED, "XML_STOP from the stanza callback");
	is_int(r.stanzas, 2, "nothing after the stop");
	is_int(r.closes, 0, "rest discarded");
	is_int(xml_feed(xp, "<a/>", 4, &cond, &detail), XML_ERROR,
	    "feed after stop fails");
	ok(cond != NULL && detail != NULL, "with a condition");
	is_int(xml_feed(xp, "<a/>", 4, NULL, NULL), XML_ERROR,
	    "and again");
	xml_parser_free(xp);
	rec_clear(&r);

	/* A restart after STARTTLS: the bytes after the header are dropped. */
	rec_init(&r);
	r.stop_open = 1;
	xp = new_parser(&r, BIG, 64);
	is_int(xml_feed(xp, stream, sizeof(stream) - 1, NULL, NULL),
	    XML_STOPPED, "XML_STOP from the header callback");
	is_int(r.opens, 1, "header seen");
	is_int(r.stanzas, 0, "no stanza after the stop");
	xml_parser_free(xp);
	rec_clear(&r);

	/* Stopping on an empty element: expat reports its end regardless. */
	rec_init(&r);
	r.stop_at = 1;
	xp = new_parser(&r, BIG, 64);
	is_int(xml_feed(xp, HEADER "<a/><b/>", strlen(HEADER) + 8, NULL,
	    NULL), XML_STOPPED, "XML_STOP on an empty element");
	is_int(r.stanzas, 1, "exactly one stanza");
	xml_parser_free(xp);
	rec_clear(&r);
}

static void
test_restricted(void)
{
	struct rec	 r;
	const char	*cond, *detail;
	const char	*doctype = "<?xml version='1.0'?>"
			    "<!DOCTYPE stream:stream>" HEADER;
	const char	*pi = HEADER "<?foo bar?>";
	const char	*pi0 = "<?foo?>" HEADER;
	const char	*comment = HEADER "<!-- hello -->";
	const char	*comment2 = HEADER "<message><!--x--></message>";
	const char	*comment0 = "<?xml version='1.0'?><!--x-->" HEADER;
	const char	*entity = HEADER "<message><body>&foo;</body>"
			    "</message>";
	const char	*xmlpi = HEADER "<?xml version='1.0'?>";
	const char	*latin1 = "<?xml version='1.0' encoding='ISO-8859-1'?>"
			    HEADER;

	rec_init(&r);
	is_int(feed_error(doctype, strlen(doctype), BIG, 64, &cond, &detail,
	    &r), XML_ERROR, "DOCTYPE refused");
	is_str(cond, "restricted-xml", "DOCTYPE: restricted-xml");
	is_str(detail, "DOCTYPE not allowed", "DOCTYPE: detail");
	is_int(r.opens, 0, "DOCTYPE: no header");
	rec_clear(&r);

	is_int(feed_error(pi, strlen(pi), BIG, 64, &cond, &detail, &r),
	    XML_ERROR, "PI refused");
	is_str(cond, "restricted-xml", "PI: restricted-xml");
	is_str(detail, "processing instruction not allowed", "PI: detail");
	rec_clear(&r);
	feed_error(pi0, strlen(pi0), BIG, 64, &cond, &detail, &r);
	is_str(cond, "restricted-xml", "PI before the root refused");
	rec_clear(&r);

	feed_error(comment, strlen(comment), BIG, 64, &cond, &detail, &r);
	is_str(cond, "restricted-xml", "comment between stanzas refused");
	is_str(detail, "comment not allowed", "comment: detail");
	rec_clear(&r);
	feed_error(comment2, strlen(comment2), BIG, 64, &cond, &detail, &r);
	is_str(cond, "restricted-xml", "comment in a stanza refused");
	is_int(r.stanzas, 0, "comment: stanza not delivered");
	rec_clear(&r);
	feed_error(comment0, strlen(comment0), BIG, 64, &cond, &detail, &r);
	is_str(cond, "restricted-xml", "comment in the prolog refused");
	rec_clear(&r);

	feed_error(entity, strlen(entity), BIG, 64, &cond, &detail, &r);
	is_str(cond, "restricted-xml", "undefined entity refused");
	rec_clear(&r);

	feed_error(xmlpi, strlen(xmlpi), BIG, 64, &cond, &detail, &r);
	is_str(cond, "not-well-formed", "misplaced XML declaration");
	rec_clear(&r);

	feed_error(latin1, strlen(latin1), BIG, 64, &cond, &detail, &r);
	is_str(cond, "unsupported-encoding", "declared encoding not UTF-8");
	rec_clear(&r);
}

static void
test_billion_laughs(void)
{
	struct rec	 r;
	char		 doc[4096], *p = doc;
	const char	*cond, *detail;
	int		 i, j;

	p += sprintf(p, "<?xml version='1.0'?>\n<!DOCTYPE stream:stream [\n"
	    "<!ENTITY lol0 \"lol\">\n");
	for (i = 1; i <= 9; i++) {
		p += sprintf(p, "<!ENTITY lol%d \"", i);
		for (j = 0; j < 10; j++)
			p += sprintf(p, "&lol%d;", i - 1);
		p += sprintf(p, "\">\n");
	}
	p += sprintf(p, "]>\n" HEADER "<message><body>&lol9;</body>"
	    "</message>");

	rec_init(&r);
	is_int(feed_error(doc, p - doc, BIG, 64, &cond, &detail, &r),
	    XML_ERROR, "billion laughs refused");
	is_str(cond, "restricted-xml", "billion laughs: restricted-xml");
	is_str(detail, "DOCTYPE not allowed", "refused at the DOCTYPE");
	is_int(r.opens + r.stanzas, 0, "nothing delivered");
	rec_clear(&r);
}

static void
test_stanza_limit(void)
{
	struct rec		 r;
	struct xml_parser	*xp;
	char			*doc, *body;
	const char		*cond, *detail;
	size_t			 i, len;
	int			 rv;

	body = malloc(2001);
	memset(body, 'b', 2000);
	body[2000] = '\0';
	len = strlen(HEADER) + 2100;
	doc = malloc(len);
	len = snprintf(doc, len, HEADER "<message><body>%s</body></message>",
	    body);

	rec_init(&r);
	is_int(feed_error(doc, len, 2048, 64, &cond, &detail, &r), XML_OK,
	    "stanza under the limit");
	is_int(r.stanzas, 1, "delivered");
	rec_clear(&r);

	is_int(feed_error(doc, len, 1024, 64, &cond, &detail, &r), XML_ERROR,
	    "stanza over the limit");
	is_str(cond, "policy-violation", "over the limit: policy-violation");
	is_str(detail, "stanza exceeds 1024 bytes", "over the limit: detail");
	is_int(r.stanzas, 0, "not delivered");
	rec_clear(&r);

	/* The same, byte by byte: the text callbacks catch it. */
	rec_init(&r);
	xp = new_parser(&r, 1024, 64);
	rv = XML_OK;
	for (i = 0; i < len && rv == XML_OK; i++)
		rv = xml_feed(xp, doc + i, 1, &cond, &detail);
	is_int(rv, XML_ERROR, "byte by byte: over the limit");
	is_str(cond, "policy-violation", "byte by byte: policy-violation");
	ok(i < strlen(HEADER) + 1024 + 2, "byte by byte: refused in time");
	is_int(xml_feed(xp, "x", 1, &cond, &detail), XML_ERROR,
	    "error sticks");
	is_str(cond, "policy-violation", "same condition again");
	xml_parser_free(xp);
	rec_clear(&r);
	free(doc);

	/* Many children, each small: the size is the whole stanza's. */
	len = strlen(HEADER) + 40000;
	doc = malloc(len);
	i = snprintf(doc, len, HEADER "<iq>");
	while (i < len - 20)
		i += snprintf(doc + i, len - i, "<a/>");
	rec_init(&r);
	is_int(feed_error(doc, i, 16384, 64, &cond, &detail, &r), XML_ERROR,
	    "many small children over the limit");
	is_str(cond, "policy-violation", "many children: policy-violation");
	rec_clear(&r);
	free(doc);
	free(body);
}

static void
test_depth(void)
{
	struct rec	 r;
	char		*doc, *p;
	const char	*cond, *detail;
	int		 i;

	/* Stanza at depth 1, innermost at 64: just allowed. */
	doc = p = malloc(strlen(HEADER) + 100000 * 7 + 1);
	p += sprintf(p, HEADER);
	for (i = 0; i < 64; i++)
		p += sprintf(p, "<a>");
	for (i = 0; i < 64; i++)
		p += sprintf(p, "</a>");
	rec_init(&r);
	is_int(feed_error(doc, p - doc, BIG, 64, &cond, &detail, &r), XML_OK,
	    "depth 64 allowed with max_depth 64");
	is_int(r.stanzas, 1, "deep stanza delivered");
	rec_clear(&r);

	p = doc + sprintf(doc, HEADER);
	for (i = 0; i < 65; i++)
		p += sprintf(p, "<a>");
	rec_init(&r);
	is_int(feed_error(doc, p - doc, BIG, 64, &cond, &detail, &r),
	    XML_ERROR, "depth 65 refused");
	is_str(detail, "nesting deeper than 64", "depth: detail");
	rec_clear(&r);

	p = doc + sprintf(doc, HEADER);
	for (i = 0; i < 100000; i++)
		p += sprintf(p, "<a>");
	rec_init(&r);
	is_int(feed_error(doc, p - doc, 1024 * 1024, 64, &cond, &detail, &r),
	    XML_ERROR, "100000 nested elements refused");
	is_str(cond, "policy-violation", "nesting: policy-violation");
	is_str(detail, "nesting deeper than 64", "nesting: detail");
	rec_clear(&r);
	free(doc);
}

/*
 * Tokens that never end: an attribute value, a comment.  expat would
 * buffer them whole; the parser gives up a little after max_stanza bytes.
 */
static void
test_no_progress(void)
{
	struct rec		 r;
	struct xml_parser	*xp;
	static char		 piece[1000];
	const char		*cond = NULL, *detail = NULL;
	const char		*starts[] = {
		HEADER "<message to='",
		HEADER "<!--",
		HEADER "<message><body><![CDATA[",
		HEADER "<",
		"<?xml version='1.0'?><stream:stream a='",
	};
	const char		*what[] = {
		"attribute value", "comment", "CDATA section", "element name",
		"header attribute",
	};
	size_t			 fed, i;
	int			 rv;

	for (i = 0; i < nitems(starts); i++) {
		memset(piece, i == 2 ? ']' : 'x', sizeof(piece));
		cond = detail = NULL;
		rec_init(&r);
		xp = new_parser(&r, BIG, 64);
		rv = xml_feed(xp, starts[i], strlen(starts[i]), &cond,
		    &detail);
		fed = strlen(starts[i]);
		while (rv == XML_OK && fed < 1024 * 1024) {
			rv = xml_feed(xp, piece, sizeof(piece), &cond,
			    &detail);
			fed += sizeof(piece);
		}
		is_int(rv, XML_ERROR, "unterminated %s refused", what[i]);
		is_str(cond, "policy-violation", "%s: policy-violation",
		    what[i]);
		ok(fed < 2 * BIG, "%s: refused after %zu bytes", what[i],
		    fed);
		xml_parser_free(xp);
		rec_clear(&r);
	}

	/*
	 * Keepalives between stanzas are fine, however many in all; more
	 * than max_stanza bytes of text with no stanza is a flood.
	 */
	memset(piece, ' ', sizeof(piece));
	rec_init(&r);
	xp = new_parser(&r, 4096, 64);
	rv = xml_feed(xp, HEADER, strlen(HEADER), NULL, NULL);
	for (i = 0; i < 1000 && rv == XML_OK; i++) {
		rv = xml_feed(xp, piece, sizeof(piece), NULL, NULL);
		if (rv == XML_OK)
			rv = xml_feed(xp, "<a/>", 4, NULL, NULL);
	}
	is_int(rv, XML_OK, "1 MB of keepalives between stanzas accepted");
	is_int(r.stanzas, 1000, "every stanza delivered");
	for (i = 0; i < 5 && rv == XML_OK; i++)
		rv = xml_feed(xp, piece, sizeof(piece), &cond, &detail);
	ok(rv == XML_ERROR && strcmp(cond, "policy-violation") == 0,
	    "5 KiB of whitespace with no stanza: policy-violation");
	xml_parser_free(xp);
	rec_clear(&r);
}

static void
test_bad_input(void)
{
	struct rec	 r;
	const char	*cond, *detail;
	const char	*bad[] = {
		HEADER "<message><body>\xc3\x28</body></message>",
		HEADER "<message><body>\xc0\xaf</body></message>",
		HEADER "<message><body>\x80</body></message>",
		HEADER "<message><body>\xed\xa0\x80</body></message>",
		HEADER "<message><body>\xf4\x90\x80\x80</body></message>",
		HEADER "<message to='\xff'/>",
		HEADER "<message><body>\x01</body></message>",
		HEADER "<message><body>&#0;</body></message>",
		HEADER "<message></body>",
		HEADER "<message a='1' a='2'/>",
		HEADER "<p:message/>",
	};
	char		 nul[256];
	size_t		 i, len;

	for (i = 0; i < nitems(bad); i++) {
		rec_init(&r);
		is_int(feed_error(bad[i], strlen(bad[i]), BIG, 64, &cond,
		    &detail, &r), XML_ERROR, "bad input %zu refused", i);
		is_str(cond, "not-well-formed", "bad input %zu: %s", i,
		    detail != NULL ? detail : "");
		is_int(r.stanzas, 0, "bad input %zu: nothing delivered", i);
		rec_clear(&r);
	}

	len = snprintf(nul, sizeof(nul), HEADER "<message><body>a");
	nul[len++] = '\0';
	len += snprintf(nul + len, sizeof(nul) - len, "b</body></message>");
	rec_init(&r);
	is_int(feed_error(nul, len, BIG, 64, &cond, &detail, &r), XML_ERROR,
	    "NUL refused");
	is_str(cond, "not-well-formed", "NUL: not-well-formed");
	rec_clear(&r);

	/* A UTF-8 byte order mark is fine. */
	len = snprintf(nul, sizeof(nul), "\xef\xbb\xbf" HEADER "<a/>");
	rec_init(&r);
	is_int(feed_error(nul, len, BIG, 64, &cond, &detail, &r), XML_OK,
	    "UTF-8 BOM accepted");
	rec_clear(&r);
}

static void
test_root(void)
{
	struct rec	 r;
	const char	*cond, *detail;
	const char	*wrongns = "<stream:stream xmlns:stream='urn:nope'>";
	const char	*nons = "<stream>";
	const char	*wrongname = "<foo xmlns='" NS_STREAMS "'>";
	const char	*html = "<html><body/></html>";

	rec_init(&r);
	is_int(feed_error(wrongns, strlen(wrongns), BIG, 64, &cond, &detail,
	    &r), XML_ERROR, "wrong stream namespace refused");
	is_str(cond, "invalid-namespace", "wrong namespace");
	is_int(r.opens, 0, "no header callback");
	rec_clear(&r);
	feed_error(nons, strlen(nons), BIG, 64, &cond, &detail, &r);
	is_str(cond, "invalid-namespace", "no namespace");
	rec_clear(&r);
	feed_error(wrongname, strlen(wrongname), BIG, 64, &cond, &detail, &r);
	is_str(cond, "bad-format", "wrong root name");
	rec_clear(&r);
	feed_error(html, strlen(html), BIG, 64, &cond, &detail, &r);
	is_str(cond, "bad-format", "not a stream at all");
	rec_clear(&r);
}

/* Stanzas are handed over one by one; nothing builds up. */
static void
test_many(void)
{
	struct rec		 r;
	struct xml_parser	*xp;
	size_t			 before = 0, after, i;
	char			 buf[128];
	int			 rv = XML_OK, prompt = 1, len;

	rec_init(&r);
	r.keep_log = 0;
	xp = new_parser(&r, 4096, 16);
	rv = xml_feed(xp, HEADER, strlen(HEADER), NULL, NULL);
	for (i = 0; i < 1000 && rv == XML_OK; i++) {
		if (i == 100)
			before = heap_in_use();
		len = snprintf(buf, sizeof(buf), "<presence id='p%zu'><show>"
		    "away</show></presence>\n", i);
		rv = xml_feed(xp, buf, len, NULL, NULL);
		if (r.stanzas != (int)i + 1)
			prompt = 0;
	}
	is_int(rv, XML_OK, "1000 stanzas parsed");
	is_int(r.stanzas, 1000, "1000 stanzas delivered");
	ok(prompt, "each delivered as soon as it ends");
	after = heap_in_use();
	ok(after < before + 16384, "heap did not grow (%zu -> %zu)", before,
	    after);
	is_str(stanza_attr(r.last, "id"), "p999", "last stanza");
	is_int(xml_feed(xp, "</stream:stream>", 16, NULL, NULL), XML_OK,
	    "stream end");
	is_int(r.closes, 1, "closed");
	xml_parser_free(xp);
	rec_clear(&r);
}

/* Counts stanzas and frees each at once, as the daemon does. */
static int
cb_count_free(void *arg, struct stanza *s)
{
	(*(int *)arg)++;
	stanza_free(s);
	return XML_CONTINUE;
}

/*
 * The hot path: once warm, the parser and the tree allocate nothing per
 * stanza (the arena's block is reused), big stanzas included in between.
 */
static void
test_no_alloc(void)
{
	static const char *mix[] = {
		"<message from='a@example.com/r' to='b@example.com' "
		    "type='chat' id='m1'><body>hello &amp; good day</body>"
		    "<active xmlns='http://jabber.org/protocol/chatstates'/>"
		    "</message>",
		"<presence from='a@example.com/r'><show>away</show>"
		    "<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' "
		    "node='n' ver='v'/><x xmlns:p='urn:p' p:q='1'/></presence>",
		"<iq type='get' id='ping1' from='example.com'>"
		    "<ping xmlns='urn:xmpp:ping'/></iq>",
		"\n",
	};
	struct xml_callbacks	 cbs = { NULL, cb_count_free, NULL };
	struct xml_parser	*xp;
	unsigned long long	 before;
	char			*big;
	size_t			 i, j, off;
	int			 n = 0, rv = XML_OK;

	xp = xml_parser_new(&cbs, &n, 1024 * 1024, 64);
	rv = xml_feed(xp, HEADER, strlen(HEADER), NULL, NULL);
	for (i = 0; i < 10 && rv == XML_OK; i++)
		for (j = 0; j < nitems(mix) && rv == XML_OK; j++)
			rv = xml_feed(xp, mix[j], strlen(mix[j]), NULL, NULL);
	before = xmalloc_calls;
	for (i = 0; i < 1000 && rv == XML_OK; i++)
		for (j = 0; j < nitems(mix) && rv == XML_OK; j++)
			rv = xml_feed(xp, mix[j], strlen(mix[j]), NULL, NULL);
	is_int(rv, XML_OK, "3000 stanzas of the mix");
	is_int(n, 3030, "all delivered");
	is_int((long long)(xmalloc_calls - before), 0,
	    "no allocation per stanza once warm");

	/* One big stanza: 300 children and 256 KiB of text in 1 KiB pieces. */
	big = malloc(400 * 1024);
	off = (size_t)sprintf(big, "<message id='big'>");
	for (i = 0; i < 300; i++)
		off += (size_t)sprintf(big + off, "<x%zu xmlns='urn:x' a='%zu'/>",
		    i, i);
	off += (size_t)sprintf(big + off, "<body>");
	for (i = 0; i < 256 * 1024; i++)
		big[off++] = (i % 1024 == 1023) ? '\n' : 'a' + (char)(i % 26);
	off += (size_t)sprintf(big + off, "</body></message>");
	n = 0;
	rv = xml_feed(xp, big, off, NULL, NULL);
	is_int(rv, XML_OK, "a 270 KiB stanza");
	is_int(n, 1, "delivered");
	free(big);
	before = xmalloc_calls;
	for (i = 0; i < 100 && rv == XML_OK; i++)
		for (j = 0; j < nitems(mix) && rv == XML_OK; j++)
			rv = xml_feed(xp, mix[j], strlen(mix[j]), NULL, NULL);
	is_int((long long)(xmalloc_calls - before), 0,
	    "small stanzas after it allocate nothing");
	xml_parser_free(xp);
}

/* Checks the big stanza's tree, then frees it. */
static int
cb_check_free(void *arg, struct stanza *s)
{
	struct stanza	**keep = arg;

	if (*keep == NULL)
		*keep = s;		/* outlives the parser */
	else
		stanza_free(s);
	return XML_CONTINUE;
}

/* A stanza kept past its callback and its parser (as stream features are). */
static void
test_kept(void)
{
	struct xml_callbacks	 cbs = { NULL, cb_check_free, NULL };
	struct xml_parser	*xp;
	struct stanza		*keep = NULL, *c, *h;
	const char		*in = HEADER "<stream:features><mechanisms "
	    "xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>SCRAM-SHA-1"
	    "</mechanism><mechanism>PLAIN</mechanism></mechanisms>"
	    "<sm xmlns='urn:xmpp:sm:3'/></stream:features>"
	    "<message><body>x</body></message>";
	char			*out;
	int			 i;

	xp = xml_parser_new(&cbs, &keep, BIG, 16);
	is_int(xml_feed(xp, in, strlen(in), NULL, NULL), XML_OK, "features");
	xml_parser_free(xp);
	ok(keep != NULL, "kept");
	if (keep == NULL)
		return;
	c = stanza_child(keep, "mechanisms",
	    "urn:ietf:params:xml:ns:xmpp-sasl");
	ok(c != NULL, "child found after the parser is gone");
	is_str(c != NULL ? stanza_text(stanza_first_child(c)) : NULL,
	    "SCRAM-SHA-1", "its text");
	/* Changed by hand: heap children and attributes in a parsed tree. */
	h = stanza_add_text_child(keep, "note", "urn:n", "added");
	stanza_set_attr(keep, "id", "f1");
	stanza_set_attr(keep, "id", "f2");
	stanza_set_attr(c, "xmlns", NULL);
	stanza_set_attr(c, "xmlns", "urn:ietf:params:xml:ns:xmpp-sasl");
	for (i = 0; i < 20; i++)
		stanza_set_attr(h, "n", i % 2 ? "odd" : "even");
	stanza_free(stanza_child(keep, "sm", NULL));
	out = stanza_to_string(keep, "jabber:client", NULL);
	is_str(out, "<features xmlns='" NS_STREAMS "' id='f2'><mechanisms "
	    "xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>SCRAM-SHA-1"
	    "</mechanism><mechanism>PLAIN</mechanism></mechanisms>"
	    "<note xmlns='urn:n' n='odd'>added</note></features>",
	    "serialized after the changes");
	free(out);
	stanza_free(keep);
}

static void
test_misc(void)
{
	struct xml_parser	*xp;
	struct xml_callbacks	 none = { NULL, NULL, NULL };

	/* No callbacks at all: stanzas are freed, nothing leaks. */
	xp = xml_parser_new(&none, NULL, BIG, 64);
	is_int(xml_feed(xp, stream, sizeof(stream) - 1, NULL, NULL), XML_OK,
	    "NULL callbacks");
	xml_parser_free(xp);

	/* A stanza cut short is freed with the parser. */
	xp = xml_parser_new(&none, NULL, BIG, 64);
	is_int(xml_feed(xp, HEADER "<a><b><c>x", strlen(HEADER) + 10, NULL,
	    NULL), XML_OK, "partial stanza");
	xml_parser_free(xp);
	xml_parser_free(NULL);
	ok(1, "freeing mid-stanza and NULL");
}

/* Regressions found by fuzz_xml. */
static void
test_fuzz_regressions(void)
{
	static const char hdr[] = "<stream:stream xmlns='jabber:client' "
	    "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>";
	static const char *bad[] = { "\xff\xfe<\0m\0", "x\0\x80m=",
	    "<message>\xfe</message>" };
	struct rec	 r;
	const char	*cond, *detail;
	struct xml_parser *xp;
	size_t		 i;
	int		 rv;

	for (i = 0; i < nitems(bad); i++) {
		rec_init(&r);
		xp = new_parser(&r, BIG, 64);
		rv = xml_feed(xp, hdr, sizeof(hdr) - 1, &cond, &detail);
		if (rv == XML_OK)
			rv = xml_feed(xp, bad[i], strlen(bad[i]) + (i < 2 ?
			    5 - strlen(bad[i]) : 0), &cond, &detail);
		ok(rv == XML_ERROR && strcmp(cond, "not-well-formed") == 0,
		    "UTF-16 marks and NUL refused (%zu)", i);
		xml_parser_free(xp);
		rec_clear(&r);
	}
	rec_init(&r);
	xp = new_parser(&r, BIG, 64);
	rv = xml_feed(xp, hdr, sizeof(hdr) - 1, &cond, &detail);
	rv = xml_feed(xp, "<message><xml:x/></message>", 27, &cond, &detail);
	ok(rv == XML_ERROR && strcmp(cond, "invalid-namespace") == 0,
	    "an element in the XML namespace is refused");
	xml_parser_free(xp);
	rec_clear(&r);
}

int
main(void)
{
	test_fuzz_regressions();
	test_stream();
	test_header();
	test_roundtrip();
	test_stop();
	test_restricted();
	test_billion_laughs();
	test_stanza_limit();
	test_depth();
	test_no_progress();
	test_bad_input();
	test_root();
	test_many();
	test_no_alloc();
	test_kept();
	test_misc();
	return done_testing();
}
