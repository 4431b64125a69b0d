/*
 * netwatch.c: an rtnetlink listener.  Messages are not parsed: any
 * address, route or link change may affect the path to the server, and
 * a probe ping is cheap.  Bursts (an interface going down emits many
 * messages) are coalesced over NETWATCH_SETTLE_MS.
 */
#include "compat.h"

#include <sys/socket.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "netwatch.h"
#include "xmalloc.h"

#define NETWATCH_SETTLE_MS	200

struct netwatch {
	int		 fd;
	struct event	*ev_read;
	struct event	*ev_settle;
	void		(*cb)(void *);
	void		*arg;
};

static void
netwatch_read_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct netwatch	*nw = arg;
	struct timeval	 tv = { 0, NETWATCH_SETTLE_MS * 1000 };
	char		 buf[8192];
	ssize_t		 n;
	int		 seen = 0;

	(void)ev;
	/* Drain everything; the content does not matter. */
	while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0 ||
	    (n == -1 && errno == ENOBUFS))
		seen = 1;
	if (seen && !evtimer_pending(nw->ev_settle, NULL))
		evtimer_add(nw->ev_settle, &tv);
}

static void
netwatch_settle_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct netwatch	*nw = arg;

	(void)fd;
	(void)ev;
	nw->cb(nw->arg);
}

struct netwatch *
netwatch_new(struct event_base *base, void (*cb)(void *), void *arg)
{
	struct netwatch		*nw;
	struct sockaddr_nl	 sa;
	int			 fd;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    NETLINK_ROUTE);
	if (fd == -1)
		return NULL;
	memset(&sa, 0, sizeof(sa));
	sa.nl_family = AF_NETLINK;
	sa.nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR |
	    RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
		close(fd);
		return NULL;
	}
	nw = xcalloc(1, sizeof(*nw));
	nw->fd = fd;
	nw->cb = cb;
	nw->arg = arg;
	nw->ev_read = event_new(base, fd, EV_READ | EV_PERSIST,
	    netwatch_read_cb, nw);
	nw->ev_settle = evtimer_new(base, netwatch_settle_cb, nw);
	if (nw->ev_read == NULL || nw->ev_settle == NULL ||
	    event_add(nw->ev_read, NULL) == -1) {
		netwatch_free(nw);
		return NULL;
	}
	return nw;
}

void
netwatch_free(struct netwatch *nw)
{
	if (nw == NULL)
		return;
	if (nw->ev_read != NULL)
		event_free(nw->ev_read);
	if (nw->ev_settle != NULL)
		event_free(nw->ev_settle);
	close(nw->fd);
	free(nw);
}
