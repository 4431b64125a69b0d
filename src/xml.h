/*
 * xml.h: the XMPP stream parser, on expat with namespaces.  Depth 0 is the
 * <stream:stream> element; every depth-1 element is built into a struct
 * stanza and handed over when it ends.  Restricted XML (RFC 6120 11.1):
 * DOCTYPE, entity declarations, processing instructions and comments end
 * the stream with "restricted-xml".  A stanza larger than max_stanza bytes
 * or deeper than max_depth, or more than max_stanza bytes fed without the
 * parser making progress, end it with "policy-violation".
 *
 * expat is not re-entrant: a callback must not free or reset the parser.
 * It may return XML_STOP, after which xml_feed() returns XML_STOPPED and
 * discards the rest of the buffer; the owner then frees the parser and
 * makes a new one (stream restart after STARTTLS or SASL).
 */
#ifndef XMPPD_XML_H
#define XMPPD_XML_H

#include <stddef.h>

struct stanza;
struct xml_parser;

#define XML_CONTINUE	0
#define XML_STOP	1

struct xml_callbacks {
	/*
	 * Stream header: an element named "stream" with its attributes,
	 * namespaced ones as "prefix:local" ("xml:lang"), and its namespace
	 * declarations as "xmlns" (the content namespace) and "xmlns:stream".
	 * hdr is freed when the callback returns.
	 */
	int	(*stream_open)(void *arg, const struct stanza *hdr);
	/* A complete depth-1 element; ownership passes to the callee. */
	int	(*stanza)(void *arg, struct stanza *);
	/* </stream:stream> */
	int	(*stream_close)(void *arg);
};

/* Result of xml_feed(). */
#define XML_OK		0
#define XML_STOPPED	1
#define XML_ERROR	-1

/*
 * max_depth counts from the root: the stream element is at depth 0, a
 * stanza at 1.  Callbacks may be NULL (stanzas are then freed).  Returns
 * NULL when expat cannot allocate its parser.
 */
struct xml_parser *xml_parser_new(const struct xml_callbacks *, void *arg,
		    size_t max_stanza, unsigned int max_depth);
void		 xml_parser_free(struct xml_parser *);
/*
 * Feed bytes.  XML_ERROR sets *condition to the RFC 6120 stream error
 * condition to send ("not-well-formed", "restricted-xml",
 * "policy-violation", "invalid-namespace", "bad-format",
 * "unsupported-encoding", "resource-constraint") and *detail to a
 * human-readable reason (static or owned by the parser); either pointer may
 * be NULL.  After an error or a stop, the parser accepts nothing more: a
 * later call fails again ("undefined-condition" after a stop).
 */
int		 xml_feed(struct xml_parser *, const char *, size_t,
		    const char **condition, const char **detail);

#endif
