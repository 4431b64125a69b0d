/*
 * negotiate.h: stream negotiation up to a bound resource (RFC 6120): our
 * stream header, the server's header and features, STARTTLS, handing the
 * authentication phase to register.c or auth.c, then resumption
 * (XEP-0198) or resource binding and the legacy session.  Sub-steps live
 * in c->neg; outcomes go to the state machine (EV_BIND, EV_BOUND,
 * EV_STARTTLS, EV_ERROR, EV_STREAM_ERROR, EV_REDIRECT, EV_CLOSED).
 */
#ifndef XMPPD_NEGOTIATE_H
#define XMPPD_NEGOTIATE_H

struct conn;
struct stanza;

/* Send our stream header on a fresh parser. */
void	negotiate_open_stream(struct conn *);
/* Parser callbacks: the server's stream header and </stream:stream>. */
int	negotiate_header(void *conn, const struct stanza *hdr);
int	negotiate_stream_close(void *conn);
/* <stream:features/>: decide the next step (the conn keeps f). */
void	negotiate_features(struct conn *, struct stanza *f);
/* The answer to STARTTLS (<proceed/> or <failure/>); XML_* for the parser. */
int	negotiate_proceed(struct conn *, const struct stanza *);
/* A <stream:error/>; XML_* for the parser. */
int	negotiate_stream_error(struct conn *, const struct stanza *);

#endif
