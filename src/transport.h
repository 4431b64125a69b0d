/*
 * transport.h: the connection's byte stream: resolving's result turned
 * into a TCP connection (address after address), the TLS upgrade (direct
 * or after STARTTLS), quick ACKs while negotiating, the read loop that
 * feeds the XML parser, and the send paths (raw, stanzas with XEP-0198
 * tracking, stream errors).  Reports TCP_UP, TLS_UP, RESOLVED, ERROR and
 * CLOSED to the state machine through c->fsm.
 */
#ifndef XMPPD_TRANSPORT_H
#define XMPPD_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include "iq.h"

struct conn;
struct net_addrlist;
struct stanza;

/* Take the resolver's list and connect to its first usable address. */
void	transport_connect(struct conn *, struct net_addrlist *);
/* The address being tried failed (timed out): try the next one. */
void	transport_next_address(struct conn *);
/* Replace the plain socket with TLS on the same fd (handshake begins). */
void	transport_start_tls(struct conn *);
/* Close the socket (a TLS bufferevent owns its fd and SSL). */
void	transport_close(struct conn *);
/* Our close_notify after </stream:stream> (RFC 6120 4.4), best effort. */
void	transport_tls_shutdown(struct conn *);
void	transport_send_raw(struct conn *, const char *, size_t);
/* Serialize and send; tracked by XEP-0198 when on; tag: see conn.h. */
void	transport_send(struct conn *, const struct stanza *, uint64_t tag);
/*
 * Track an iq in the table (its id set there) and send it (taken over);
 * timeout_s 0: no deadline of its own.
 */
void	transport_send_iq(struct conn *, struct stanza *iq,
	    unsigned int timeout_s, iq_cb, void *arg);
/*
 * The same for a request that carries a password (not taken over: the
 * caller wipes and frees it): XEP-0198 keeps a placeholder, not a copy,
 * and the kept send buffer is wiped.
 */
void	transport_send_iq_secret(struct conn *, struct stanza *iq,
	    unsigned int timeout_s, iq_cb, void *arg);
/* Send a stream error and close our side of the stream. */
void	transport_stream_error(struct conn *, const char *cond,
	    const char *text);
/* Re-arm TCP quick ACKs (negotiation only). */
void	transport_quickack(struct conn *);

#endif
