/*
 * session.h: what the connection does while online: the start of a
 * session (XEP-0198 enable, presence, resending what a lost session did
 * not deliver), keepalive pings and the network probe, answers to the
 * server's and contacts' iq requests, incoming stanzas to the services
 * and the control hooks, XEP-0198 on the wire, acks for services without
 * XEP-0198, and the saved-session file.
 */
#ifndef XMPPD_SESSION_H
#define XMPPD_SESSION_H

#include <event2/util.h>

struct conn;
struct stanza;

/* Bound or resumed: set the session up (the state machine then says so). */
void	session_online(struct conn *);
void	session_send_presence(struct conn *);
/* Ping now; no answer within secs ends the link (EV_PING_TIMEOUT). */
void	session_ping(struct conn *, unsigned int secs);
/* A stanza while online (message, presence, iq). */
void	session_stanza(struct conn *, const struct stanza *);

/* What an XEP-0198 element asked for. */
enum session_sm {
	SESSION_SM_OK,
	SESSION_SM_RESUMED,	/* <resumed/>: the state machine goes online */
	SESSION_SM_RESUME_FAILED, /* <failed/> to a resume: negotiate again */
};
/* An element in urn:xmpp:sm:3; XML_STOP after a deferred failure. */
enum session_sm session_sm_input(struct conn *, const struct stanza *);

/* Timer and event callbacks (installed by conn_new()). */
void	session_ping_interval_cb(evutil_socket_t, short, void *);
void	session_ackping_cb(evutil_socket_t, short, void *);

/* The saved session: write it (0, or -1 with *cause), load it at start. */
int	session_sm_save(struct conn *, char **cause);
void	session_sm_load(struct conn *);

#endif
