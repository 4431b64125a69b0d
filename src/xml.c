/*
 * xml.c: the XMPP stream parser on expat.  expat runs in namespace mode
 * with triplets, so names arrive as "uri\x1Flocal\x1Fprefix"; the unit
 * separator cannot occur in a URI or an XML name, which makes splitting
 * them unambiguous.
 *
 * Limits.  expat holds an unfinished token (a start tag, an attribute
 * value) in its own buffer until the token ends, and a peer controls how
 * long that is.  The parser therefore feeds expat at most FEED_CHUNK bytes
 * at a time and, after each piece, compares the bytes fed with the offset
 * where the last event ended (or where the current stanza began): once
 * more than max_stanza bytes have produced nothing, the stream ends.  The
 * callbacks check the same bound at every event of a stanza, and the
 * nesting depth at every start tag, so memory stays in proportion to the
 * limits whatever arrives.
 */
#include "compat.h"

#include <sys/random.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <expat.h>

#include "stanza.h"
#include "xmalloc.h"
#include "xml.h"

#define NS_SEP		'\x1F'
#define NS_STREAMS	"http://etherx.jabber.org/streams"
#define NS_XML		"http://www.w3.org/XML/1998/namespace"
#define FEED_CHUNK	4096

enum xp_state {
	XP_RUNNING,
	XP_STOPPED,		/* a callback returned XML_STOP */
	XP_FAILED,
};

struct xml_parser {
	XML_Parser		 p;
	struct xml_callbacks	 cb;
	void			*arg;
	size_t			 max_stanza;
	unsigned int		 max_depth;
	unsigned int		 depth;		/* open elements, root included */
	struct stanza		*top;		/* depth-1 element being built */
	struct stanza		*cur;		/* innermost open element of top */
	char			*decl;		/* declarations for the next tag: */
	size_t			 decl_len;	/* "xmlns[:prefix]\0uri\0"... */
	size_t			 decl_cap;
	size_t			 ndecl;
	uint64_t		 fed;		/* bytes given to expat */
	uint64_t		 progress;	/* offset where the last event ended */
	uint64_t		 stanza_start;	/* offset of top's start tag */
	size_t			 idle_text;	/* text since the last stanza */
	enum xp_state		 state;
	const char		*condition;
	const char		*detail;
	char			*detail_buf;
	char			*scratch;	/* for splitting names */
	size_t			 scratch_cap;
};

static void	 xml_set_salt(XML_Parser);
static void	 xml_fail(struct xml_parser *, const char *, const char *);
static void	 xml_abort(struct xml_parser *, const char *, const char *);
static void	 xml_stop(struct xml_parser *);
static void	 xml_fail_size(struct xml_parser *);
static void	 xml_fail_depth(struct xml_parser *);
static void	 xml_expat_error(struct xml_parser *);
static void	 xml_progress(struct xml_parser *);
static int	 xml_too_big(struct xml_parser *);
static char	*xml_scratch(struct xml_parser *, size_t);
static const char *xml_attr_name(struct xml_parser *, const char *);
static struct stanza *xml_element(struct xml_parser *, struct stanza *,
		    const char *, const char **);
static void	 xml_decl_add(struct xml_parser *, const char *, const char *,
		    const char *);
static void	 xml_root(struct xml_parser *, const char *, const char **);
static void XMLCALL xml_start(void *, const XML_Char *, const XML_Char **);
static void	 xml_start_child(struct xml_parser *, const XML_Char *,
		    const XML_Char **);
static void XMLCALL xml_end(void *, const XML_Char *);
static void XMLCALL xml_text(void *, const XML_Char *, int);
static void XMLCALL xml_nsdecl(void *, const XML_Char *, const XML_Char *);
static void XMLCALL xml_xmldecl(void *, const XML_Char *, const XML_Char *,
		    int);
static void	 xml_refuse(void *, const char *);
static void XMLCALL xml_doctype(void *, const XML_Char *, const XML_Char *,
		    const XML_Char *, int);
static void XMLCALL xml_entity(void *, const XML_Char *, int,
		    const XML_Char *, int, const XML_Char *, const XML_Char *,
		    const XML_Char *, const XML_Char *);
static void XMLCALL xml_unparsed(void *, const XML_Char *, const XML_Char *,
		    const XML_Char *, const XML_Char *, const XML_Char *);
static void XMLCALL xml_notation(void *, const XML_Char *, const XML_Char *,
		    const XML_Char *, const XML_Char *);
static void XMLCALL xml_pi(void *, const XML_Char *, const XML_Char *);
static void XMLCALL xml_comment(void *, const XML_Char *);

/*
 * A secret hash salt keeps a peer from choosing names that collide in
 * expat's tables.  Should the kernel have no entropy yet, expat picks a
 * salt of its own, which is no worse.
 */
static void
xml_set_salt(XML_Parser p)
{
	unsigned long	salt;

	if (getrandom(&salt, sizeof(salt), GRND_NONBLOCK) ==
	    (ssize_t)sizeof(salt))
		XML_SetHashSalt(p, salt);
}

struct xml_parser *
xml_parser_new(const struct xml_callbacks *cb, void *arg, size_t max_stanza,
    unsigned int max_depth)
{
	struct xml_parser	*xp;

	xp = xcalloc(1, sizeof(*xp));
	/*
	 * RFC 6120 section 11.6: UTF-8 only.  Naming it here makes expat
	 * ignore whatever encoding a declaration claims, so every byte is
	 * checked as UTF-8.
	 */
	if ((xp->p = XML_ParserCreateNS("UTF-8", NS_SEP)) == NULL) {
		free(xp);
		return NULL;
	}
	xp->cb = *cb;
	xp->arg = arg;
	xp->max_stanza = max_stanza;
	xp->max_depth = max_depth;
	xp->state = XP_RUNNING;

	XML_SetUserData(xp->p, xp);
	XML_SetReturnNSTriplet(xp->p, XML_TRUE);
	xml_set_salt(xp->p);
#ifdef HAVE_XML_SETREPARSEDEFERRALENABLED
	/*
	 * Deferral would hold back a complete stanza until more bytes come,
	 * and on an interactive stream they may not come for minutes.
	 */
	XML_SetReparseDeferralEnabled(xp->p, XML_FALSE);
#endif
	XML_SetElementHandler(xp->p, xml_start, xml_end);
	XML_SetCharacterDataHandler(xp->p, xml_text);
	XML_SetStartNamespaceDeclHandler(xp->p, xml_nsdecl);
	XML_SetXmlDeclHandler(xp->p, xml_xmldecl);
	XML_SetStartDoctypeDeclHandler(xp->p, xml_doctype);
	XML_SetEntityDeclHandler(xp->p, xml_entity);
	XML_SetUnparsedEntityDeclHandler(xp->p, xml_unparsed);
	XML_SetNotationDeclHandler(xp->p, xml_notation);
	XML_SetProcessingInstructionHandler(xp->p, xml_pi);
	XML_SetCommentHandler(xp->p, xml_comment);
	return xp;
}

void
xml_parser_free(struct xml_parser *xp)
{
	if (xp == NULL)
		return;
	XML_ParserFree(xp->p);
	stanza_free(xp->top);
	free(xp->decl);
	free(xp->detail_buf);
	free(xp->scratch);
	free(xp);
}

static void
xml_fail(struct xml_parser *xp, const char *condition, const char *detail)
{
	xp->state = XP_FAILED;
	xp->condition = condition;
	xp->detail = detail;
}

/* From a callback: also make expat return without parsing further. */
static void
xml_abort(struct xml_parser *xp, const char *condition, const char *detail)
{
	xml_fail(xp, condition, detail);
	XML_StopParser(xp->p, XML_FALSE);
}

static void
xml_stop(struct xml_parser *xp)
{
	xp->state = XP_STOPPED;
	XML_StopParser(xp->p, XML_FALSE);
}

static void
xml_fail_size(struct xml_parser *xp)
{
	free(xp->detail_buf);
	xasprintf(&xp->detail_buf, "stanza exceeds %zu bytes", xp->max_stanza);
	xml_fail(xp, "policy-violation", xp->detail_buf);
}

static void
xml_fail_depth(struct xml_parser *xp)
{
	free(xp->detail_buf);
	xasprintf(&xp->detail_buf, "nesting deeper than %u", xp->max_depth);
	xml_fail(xp, "policy-violation", xp->detail_buf);
}

static void
xml_expat_error(struct xml_parser *xp)
{
	enum XML_Error	 e = XML_GetErrorCode(xp->p);
	const char	*cond, *detail;

	switch (e) {
	case XML_ERROR_NO_MEMORY:
		cond = "resource-constraint";
		break;
	case XML_ERROR_UNKNOWN_ENCODING:
	case XML_ERROR_INCORRECT_ENCODING:
		cond = "unsupported-encoding";
		break;
	case XML_ERROR_UNDEFINED_ENTITY:
		/* RFC 6120 section 11.1: only the predefined entities. */
		cond = "restricted-xml";
		break;
	default:
		cond = "not-well-formed";
		break;
	}
	if ((detail = XML_ErrorString(e)) == NULL)
		detail = "XML error";
	xml_fail(xp, cond, detail);
}

/* Every event moves the mark that the no-progress check measures from. */
static void
xml_progress(struct xml_parser *xp)
{
	XML_Index	i = XML_GetCurrentByteIndex(xp->p);

	if (i >= 0)
		xp->progress = (uint64_t)i + (uint64_t)
		    XML_GetCurrentByteCount(xp->p);
}

/* Inside a stanza: has it grown past the limit with this event? */
static int
xml_too_big(struct xml_parser *xp)
{
	if (xp->progress - xp->stanza_start <= xp->max_stanza)
		return 0;
	xml_fail_size(xp);
	XML_StopParser(xp->p, XML_FALSE);
	return 1;
}

/* A buffer of at least n bytes, reused across calls. */
static char *
xml_scratch(struct xml_parser *xp, size_t n)
{
	if (n > xp->scratch_cap) {
		free(xp->scratch);
		xp->scratch = xmalloc(n);
		xp->scratch_cap = n;
	}
	return xp->scratch;
}

/*
 * Namespaced attributes become "prefix:local", so xml:lang reads as
 * written.  A namespaced attribute always has a prefix (unprefixed ones
 * are in no namespace), and expat binds no prefix but "xml" to the XML
 * namespace; the fallbacks only guard against surprises.
 */
static const char *
xml_attr_name(struct xml_parser *xp, const char *name)
{
	const char	*sep, *local, *psep, *prefix;
	size_t		 llen, plen;
	char		*buf;

	if ((sep = strchr(name, NS_SEP)) == NULL)
		return name;
	local = sep + 1;
	if ((size_t)(sep - name) == strlen(NS_XML) &&
	    strncmp(name, NS_XML, sep - name) == 0)
		prefix = "xml";
	else if ((psep = strchr(local, NS_SEP)) != NULL)
		prefix = psep + 1;
	else
		return local;
	llen = strcspn(local, "\x1F");
	plen = strlen(prefix);
	buf = xml_scratch(xp, plen + 1 + llen + 1);
	memcpy(buf, prefix, plen);
	buf[plen] = ':';
	memcpy(buf + plen + 1, local, llen);
	buf[plen + 1 + llen] = '\0';
	return buf;
}

/*
 * A new element from expat's name and attributes, with the namespace
 * declarations of its tag first, appended to parent (NULL: a new tree).
 * The prefix of the element name is dropped: the namespace says all there
 * is.
 */
static struct stanza *
xml_element(struct xml_parser *xp, struct stanza *parent, const char *name,
    const char **atts)
{
	struct stanza	*s;
	const char	*sep, *local = name, *ns = NULL, *d;
	char		*buf, *psep;
	size_t		 i, len, n;

	if ((sep = strchr(name, NS_SEP)) != NULL) {
		len = strlen(name);
		buf = xml_scratch(xp, len + 1);
		memcpy(buf, name, len + 1);
		buf[sep - name] = '\0';
		ns = buf;
		local = buf + (sep - name) + 1;
		if ((psep = strchr(local, NS_SEP)) != NULL)
			*psep = '\0';
	}
	for (n = 0; atts[n] != NULL; n++)
		;
	s = stanza_new_parsed(parent, local, ns, xp->ndecl + n / 2);
	for (d = xp->decl, i = 0; i < xp->ndecl; i++) {
		len = strlen(d) + 1;
		stanza_add_attr(s, d, d + len);
		d += len + strlen(d + len) + 1;
	}
	xp->ndecl = xp->decl_len = 0;
	for (i = 0; atts[i] != NULL; i += 2)
		stanza_add_attr(s, xml_attr_name(xp, atts[i]), atts[i + 1]);
	return s;
}

/* Keep "prefix+name\0uri\0" for the next tag, in a buffer reused. */
static void
xml_decl_add(struct xml_parser *xp, const char *prefix, const char *name,
    const char *uri)
{
	size_t	plen = strlen(prefix), nlen = strlen(name), ulen = strlen(uri);
	size_t	need = plen + nlen + ulen + 2, cap;

	if (need > xp->decl_cap - xp->decl_len) {
		cap = xp->decl_cap != 0 ? xp->decl_cap : 128;
		while (cap - xp->decl_len < need)
			cap *= 2;
		xp->decl = xreallocarray(xp->decl, cap, 1);
		xp->decl_cap = cap;
	}
	memcpy(xp->decl + xp->decl_len, prefix, plen);
	memcpy(xp->decl + xp->decl_len + plen, name, nlen + 1);
	xp->decl_len += plen + nlen + 1;
	memcpy(xp->decl + xp->decl_len, uri, ulen + 1);
	xp->decl_len += ulen + 1;
	xp->ndecl++;
}

/* <stream:stream>: check it and show it to the owner. */
static void
xml_root(struct xml_parser *xp, const char *name, const char **atts)
{
	struct stanza	*hdr;
	const char	*ns;

	hdr = xml_element(xp, NULL, name, atts);
	xp->depth = 1;
	ns = stanza_ns(hdr);
	if (strcmp(stanza_name(hdr), "stream") != 0)
		xml_abort(xp, "bad-format", "root element is not <stream>");
	else if (ns == NULL || strcmp(ns, NS_STREAMS) != 0)
		xml_abort(xp, "invalid-namespace",
		    "stream element not in the " NS_STREAMS " namespace");
	else if (xp->cb.stream_open != NULL &&
	    xp->cb.stream_open(xp->arg, hdr) == XML_STOP)
		xml_stop(xp);
	stanza_free(hdr);
}

/*
 * expat may still deliver an event after XML_StopParser() (the end of an
 * empty element whose start stopped it), hence the state check in every
 * handler.
 */
static void XMLCALL
xml_start(void *arg, const XML_Char *name, const XML_Char **atts)
{
	struct xml_parser	*xp = arg;

	if (xp->state != XP_RUNNING)
		return;
	xml_progress(xp);
	if (xp->depth == 0) {
		xml_root(xp, name, atts);
		return;
	}
	xml_start_child(xp, name, atts);
	/* Declarations of a tag refused go with it. */
	xp->ndecl = xp->decl_len = 0;
}

static void
xml_start_child(struct xml_parser *xp, const XML_Char *name,
    const XML_Char **atts)
{
	struct stanza		*s;

	if (xp->depth > xp->max_depth) {
		xml_fail_depth(xp);
		XML_StopParser(xp->p, XML_FALSE);
		return;
	}
	if (xp->depth == 1)
		xp->stanza_start = (uint64_t)XML_GetCurrentByteIndex(xp->p);
	if (xml_too_big(xp))
		return;
	/* No element may live in the xml: namespace (it cannot be a default). */
	if (strncmp(name, NS_XML "\x1f", sizeof(NS_XML)) == 0) {
		xml_abort(xp, "invalid-namespace", "element in the XML namespace");
		return;
	}
	s = xml_element(xp, xp->top != NULL ? xp->cur : NULL, name, atts);
	if (xp->top == NULL)
		xp->top = s;
	xp->cur = s;
	xp->depth++;
}

static void XMLCALL
xml_end(void *arg, const XML_Char *name)
{
	struct xml_parser	*xp = arg;
	struct stanza		*s;

	(void)name;
	if (xp->state != XP_RUNNING)
		return;
	xml_progress(xp);
	if (--xp->depth == 0) {
		if (xp->cb.stream_close != NULL &&
		    xp->cb.stream_close(xp->arg) == XML_STOP)
			xml_stop(xp);
		return;
	}
	if (xml_too_big(xp))
		return;
	if (xp->depth > 1) {
		xp->cur = stanza_parent(xp->cur);
		return;
	}
	s = xp->top;
	xp->top = xp->cur = NULL;
	xp->idle_text = 0;
	if (xp->cb.stanza == NULL)
		stanza_free(s);
	else if (xp->cb.stanza(xp->arg, s) == XML_STOP)
		xml_stop(xp);
}

/* Between stanzas (depth 1) text is a whitespace keepalive: dropped. */
static void XMLCALL
xml_text(void *arg, const XML_Char *text, int len)
{
	struct xml_parser	*xp = arg;

	if (xp->state != XP_RUNNING)
		return;
	xml_progress(xp);
	if (xp->depth == 1) {
		/*
		 * Whitespace keepalives are a byte now and then; a flood of
		 * text between stanzas is abuse, and costs a stream.
		 */
		xp->idle_text += (size_t)len;
		if (xp->idle_text > xp->max_stanza)
			xml_abort(xp, "policy-violation", "too much text "
			    "between stanzas");
		return;
	}
	if (xp->depth < 2 || xml_too_big(xp))
		return;
	stanza_append_text(xp->cur, text, (size_t)len);
}

/*
 * expat reports a tag's declarations before the tag; they are kept as
 * xmlns and xmlns:prefix attributes so that the stream header shows the
 * content namespace and a serialized element still binds the prefixes of
 * its attributes.
 */
static void XMLCALL
xml_nsdecl(void *arg, const XML_Char *prefix, const XML_Char *uri)
{
	struct xml_parser	*xp = arg;

	if (xp->state != XP_RUNNING)
		return;
	if (prefix == NULL)
		xml_decl_add(xp, "xmlns", "", uri != NULL ? uri : "");
	else
		xml_decl_add(xp, "xmlns:", prefix, uri != NULL ? uri : "");
}

/* <?xml?> is allowed, but it must not claim another encoding. */
static void XMLCALL
xml_xmldecl(void *arg, const XML_Char *version, const XML_Char *encoding,
    int standalone)
{
	struct xml_parser	*xp = arg;

	(void)version;
	(void)standalone;
	if (xp->state != XP_RUNNING)
		return;
	xml_progress(xp);
	if (encoding != NULL && strcasecmp(encoding, "UTF-8") != 0)
		xml_abort(xp, "unsupported-encoding", "encoding is not UTF-8");
}

/*
 * Restricted XML (RFC 6120 section 11.1).  expat reports the DOCTYPE
 * before it reads the internal subset, so entity definitions, and with
 * them any entity expansion bomb, are refused unseen.  The other
 * declaration handlers only back that up.
 */
static void
xml_refuse(void *arg, const char *what)
{
	if (((struct xml_parser *)arg)->state == XP_RUNNING)
		xml_abort(arg, "restricted-xml", what);
}

static void XMLCALL
xml_doctype(void *arg, const XML_Char *name, const XML_Char *sysid,
    const XML_Char *pubid, int has_internal_subset)
{
	(void)name;
	(void)sysid;
	(void)pubid;
	(void)has_internal_subset;
	xml_refuse(arg, "DOCTYPE not allowed");
}

static void XMLCALL
xml_entity(void *arg, const XML_Char *name, int is_param,
    const XML_Char *value, int value_len, const XML_Char *base,
    const XML_Char *sysid, const XML_Char *pubid, const XML_Char *notation)
{
	(void)name;
	(void)is_param;
	(void)value;
	(void)value_len;
	(void)base;
	(void)sysid;
	(void)pubid;
	(void)notation;
	xml_refuse(arg, "entity declaration not allowed");
}

static void XMLCALL
xml_unparsed(void *arg, const XML_Char *name, const XML_Char *base,
    const XML_Char *sysid, const XML_Char *pubid, const XML_Char *notation)
{
	(void)name;
	(void)base;
	(void)sysid;
	(void)pubid;
	(void)notation;
	xml_refuse(arg, "entity declaration not allowed");
}

static void XMLCALL
xml_notation(void *arg, const XML_Char *name, const XML_Char *base,
    const XML_Char *sysid, const XML_Char *pubid)
{
	(void)name;
	(void)base;
	(void)sysid;
	(void)pubid;
	xml_refuse(arg, "notation declaration not allowed");
}

static void XMLCALL
xml_pi(void *arg, const XML_Char *target, const XML_Char *data)
{
	(void)target;
	(void)data;
	xml_refuse(arg, "processing instruction not allowed");
}

static void XMLCALL
xml_comment(void *arg, const XML_Char *data)
{
	(void)data;
	xml_refuse(arg, "comment not allowed");
}

int
xml_feed(struct xml_parser *xp, const char *buf, size_t len,
    const char **condition, const char **detail)
{
	uint64_t	mark;
	size_t		n;
	int		bad;

	if (xp->state == XP_STOPPED)
		xml_fail(xp, "undefined-condition", "parser was stopped");
	/*
	 * expat would switch to UTF-16 on a BOM or a NUL early in the input,
	 * whatever encoding we named.  None of these bytes occurs in UTF-8
	 * XML, so refuse them before expat sees them.
	 */
	for (n = 0; n < len; n++) {
		unsigned char c = buf[n];

		if (c == 0x00 || c == 0xfe || c == 0xff)
			break;
	}
	/* Parse what comes before the bad byte, as expat would. */
	bad = n < len;
	len = n;
	while (xp->state == XP_RUNNING && len > 0) {
		n = len < FEED_CHUNK ? len : FEED_CHUNK;
		xp->fed += n;
		if (XML_Parse(xp->p, buf, (int)n, XML_FALSE) !=
		    XML_STATUS_OK) {
			if (xp->state == XP_RUNNING)
				xml_expat_error(xp);
			break;
		}
		buf += n;
		len -= n;
		/* What expat holds unparsed is fed minus mark. */
		mark = xp->depth >= 2 ? xp->stanza_start : xp->progress;
		if (xp->state == XP_RUNNING && xp->fed - mark > xp->max_stanza)
			xml_fail_size(xp);
	}
	if (xp->state == XP_RUNNING && bad)
		xml_fail(xp, "not-well-formed", "NUL or a byte never found in "
		    "UTF-8");
	if (xp->state == XP_RUNNING)
		return XML_OK;
	if (xp->state == XP_STOPPED)
		return XML_STOPPED;
	if (condition != NULL)
		*condition = xp->condition;
	if (detail != NULL)
		*detail = xp->detail;
	return XML_ERROR;
}
