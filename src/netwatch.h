/*
 * netwatch.h: address and route changes from rtnetlink, coalesced into
 * one callback, so a changed network is probed at once instead of at the
 * next keepalive.
 */
#ifndef XMPPD_NETWATCH_H
#define XMPPD_NETWATCH_H

struct event_base;
struct netwatch;

/* NULL when rtnetlink is unavailable (the daemon then relies on pings). */
struct netwatch	*netwatch_new(struct event_base *, void (*)(void *), void *);
void		 netwatch_free(struct netwatch *);

#endif
