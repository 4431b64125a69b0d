/*
 * auth.h: the SASL exchange on the stream (RFC 6120 6): what the server
 * offers, the mechanism choice with the downgrade pin, channel binding,
 * challenges, and the server's verdict.  Reports EV_AUTH (the exchange
 * began), and defers EV_SASL_SUCCESS, EV_SASL_FAILURE or EV_ERROR.
 */
#ifndef XMPPD_AUTH_H
#define XMPPD_AUTH_H

struct conn;
struct stanza;

/* Choose a mechanism from c->features and send <auth/>. */
void	auth_start(struct conn *);
/* An element during the exchange; XML_* for the parser. */
int	auth_input(struct conn *, const struct stanza *);

#endif
