/*
 * net.c: server discovery on c-ares, driven from the libevent loop through
 * c-ares' socket-state callback.  Each request owns its own channel, so a
 * cancel is one ares_destroy() and cannot disturb another lookup.
 *
 * Results are delivered from a zero-timeout event, never from inside
 * ares_process_fd(), so the callback may start or cancel lookups freely.
 */
#include "compat.h"

#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <ares.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"
#include "util.h"
#include "xmalloc.h"

#define NET_MAX_TARGETS	16
#define NET_MAX_SOCKS	16
#define NS_C_IN		1
#define NS_T_SRV	33

struct net_target {
	char		 host[256];
	uint16_t	 port;
	uint16_t	 prio;
	uint16_t	 weight;
	int		 direct;
	struct net_addr	*addrs;
	size_t		 naddrs;
};

struct net_sock {
	ares_socket_t	 fd;
	struct event	*ev;
};

struct net_req {
	struct event_base	*base;
	ares_channel		 ch;
	struct event		*timer;		/* c-ares' own timeouts */
	struct event		*deadline;	/* our overall bound */
	struct event		*deliver;
	struct net_sock		 socks[NET_MAX_SOCKS];
	char			*domain;
	int			 mode;
	int			 pending;
	int			 srv_seen_dot;
	struct net_target	 targets[NET_MAX_TARGETS];
	size_t			 ntargets;
	struct net_addrlist	*result;
	const char		*err;
	net_resolve_cb		 cb;
	void			*arg;
};

static void	net_sock_state(void *, ares_socket_t, int, int);
static void	net_sock_cb(evutil_socket_t, short, void *);
static void	net_timer_cb(evutil_socket_t, short, void *);
static void	net_deadline_cb(evutil_socket_t, short, void *);
static void	net_deliver_cb(evutil_socket_t, short, void *);
static void	net_srv_cb(void *, int, int, unsigned char *, int);
static void	net_addr_cb(void *, int, int, struct ares_addrinfo *);
static void	net_start_addrs(struct net_req *);
static void	net_finish(struct net_req *, const char *);
static void	net_free(struct net_req *);

struct net_addr_ctx {
	struct net_req	*req;
	size_t		 idx;
};

struct net_srv_ctx {
	struct net_req	*req;
	int		 direct;
};

static void
net_rearm(struct net_req *req)
{
	struct timeval	tv, *tvp;

	if ((tvp = ares_timeout(req->ch, NULL, &tv)) != NULL)
		evtimer_add(req->timer, tvp);
	else
		evtimer_del(req->timer);
}

static struct net_sock *
net_sock_find(struct net_req *req, ares_socket_t fd)
{
	size_t	i;

	for (i = 0; i < NET_MAX_SOCKS; i++)
		if (req->socks[i].ev != NULL && req->socks[i].fd == fd)
			return &req->socks[i];
	return NULL;
}

static void
net_sock_state(void *arg, ares_socket_t fd, int readable, int writable)
{
	struct net_req	*req = arg;
	struct net_sock	*s;
	size_t		 i;
	short		 what = EV_PERSIST;

	if ((s = net_sock_find(req, fd)) != NULL) {
		event_free(s->ev);
		s->ev = NULL;
	}
	if (!readable && !writable)
		return;
	for (i = 0; i < NET_MAX_SOCKS && req->socks[i].ev != NULL; i++)
		;
	if (i == NET_MAX_SOCKS)
		return;		/* c-ares then only advances by timeout */
	if (readable)
		what |= EV_READ;
	if (writable)
		what |= EV_WRITE;
	req->socks[i].fd = fd;
	req->socks[i].ev = event_new(req->base, fd, what, net_sock_cb, req);
	if (req->socks[i].ev == NULL)
		return;
	event_add(req->socks[i].ev, NULL);
}

static void
net_sock_cb(evutil_socket_t fd, short what, void *arg)
{
	struct net_req	*req = arg;

	ares_process_fd(req->ch, (what & EV_READ) ? fd : ARES_SOCKET_BAD,
	    (what & EV_WRITE) ? fd : ARES_SOCKET_BAD);
	net_rearm(req);
}

static void
net_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct net_req	*req = arg;

	(void)fd;
	(void)what;
	ares_process_fd(req->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	net_rearm(req);
}

static void
net_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	net_finish(arg, "DNS lookup timed out");
}

static int
net_target_cmp(const void *a, const void *b)
{
	const struct net_target	*x = a, *y = b;

	if (x->prio != y->prio)
		return x->prio < y->prio ? -1 : 1;
	/* XEP-0368: on equal priority, direct TLS saves round trips. */
	if (x->direct != y->direct)
		return x->direct ? -1 : 1;
	return 0;
}

/* RFC 2782 weighted order within runs of equal (priority, kind). */
static void
net_order_targets(struct net_req *req)
{
	struct net_target	 tmp;
	uint16_t		 w[NET_MAX_TARGETS];
	size_t			 i, j, k, end;

	qsort(req->targets, req->ntargets, sizeof(req->targets[0]),
	    net_target_cmp);
	for (i = 0; i < req->ntargets; i = end) {
		for (end = i + 1; end < req->ntargets &&
		    net_target_cmp(&req->targets[i], &req->targets[end]) == 0;
		    end++)
			;
		/* A kernel source: hosts must not all try the same first. */
		for (j = i; j + 1 < end; j++) {
			for (k = j; k < end; k++)
				w[k - j] = req->targets[k].weight;
			k = j + weighted_pick(w, end - j);
			tmp = req->targets[j];
			req->targets[j] = req->targets[k];
			req->targets[k] = tmp;
		}
	}
}

static void
net_add_target(struct net_req *req, const char *host, uint16_t port,
    uint16_t prio, uint16_t weight, int direct)
{
	struct net_target	*t;

	if (req->ntargets == NET_MAX_TARGETS)
		return;
	t = &req->targets[req->ntargets++];
	memset(t, 0, sizeof(*t));
	snprintf(t->host, sizeof(t->host), "%s", host);
	t->port = port;
	t->prio = prio;
	t->weight = weight;
	t->direct = direct;
}

static void
net_srv_cb(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct net_srv_ctx	*ctx = arg;
	struct net_req		*req = ctx->req;
	struct ares_srv_reply	*srv, *p;

	(void)timeouts;
	if (status == ARES_EDESTRUCTION || status == ARES_ECANCELLED) {
		free(ctx);
		return;
	}
	if (status == ARES_SUCCESS &&
	    ares_parse_srv_reply(abuf, alen, &srv) == ARES_SUCCESS) {
		for (p = srv; p != NULL; p = p->next) {
			if (strcmp(p->host, "") == 0 ||
			    strcmp(p->host, ".") == 0) {
				req->srv_seen_dot = 1;
				continue;
			}
			net_add_target(req, p->host, p->port, p->priority,
			    p->weight, ctx->direct);
		}
		ares_free_data(srv);
	}
	free(ctx);
	if (--req->pending > 0)
		return;
	if (req->ntargets == 0) {
		if (req->srv_seen_dot) {
			net_finish(req, "the domain's SRV records say it "
			    "offers no XMPP service");
			return;
		}
		/* RFC 6120 §3.2.2: fall back to the domain itself. */
		if (req->mode == NET_MODE_DIRECT)
			net_add_target(req, req->domain, 5223, 0, 0, 1);
		else
			net_add_target(req, req->domain, 5222, 0, 0, 0);
	}
	net_order_targets(req);
	net_start_addrs(req);
}

static void
net_query_srv(struct net_req *req, const char *service, int direct)
{
	struct net_srv_ctx	*ctx;
	char			 name[512];

	snprintf(name, sizeof(name), "_%s._tcp.%s", service, req->domain);
	ctx = xcalloc(1, sizeof(*ctx));
	ctx->req = req;
	ctx->direct = direct;
	req->pending++;
	ares_query(req->ch, name, NS_C_IN, NS_T_SRV, net_srv_cb, ctx);
}

static void
net_addr_cb(void *arg, int status, int timeouts, struct ares_addrinfo *ai)
{
	struct net_addr_ctx	*ctx = arg;
	struct net_req		*req = ctx->req;
	struct net_target	*t = &req->targets[ctx->idx];
	struct ares_addrinfo_node *n;
	size_t			 count = 0;

	(void)timeouts;
	free(ctx);
	if (status == ARES_EDESTRUCTION || status == ARES_ECANCELLED) {
		if (ai != NULL)
			ares_freeaddrinfo(ai);
		return;
	}
	if (status == ARES_SUCCESS && ai != NULL) {
		for (n = ai->nodes; n != NULL; n = n->ai_next)
			count++;
		if (count > 0)
			t->addrs = xcalloc(count, sizeof(*t->addrs));
		for (n = ai->nodes; n != NULL && t->naddrs < count;
		    n = n->ai_next) {
			struct net_addr *a = &t->addrs[t->naddrs];

			if (n->ai_addrlen > (int)sizeof(a->ss))
				continue;
			memcpy(&a->ss, n->ai_addr, n->ai_addrlen);
			a->sslen = n->ai_addrlen;
			a->direct_tls = t->direct;
			a->port = t->port;
			snprintf(a->host, sizeof(a->host), "%s", t->host);
			t->naddrs++;
		}
	}
	if (ai != NULL)
		ares_freeaddrinfo(ai);
	if (--req->pending == 0)
		net_finish(req, NULL);
}

static void
net_start_addrs(struct net_req *req)
{
	struct ares_addrinfo_hints	 hints;
	struct net_addr_ctx		*ctx;
	char				 port[8];
	size_t				 i;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = ARES_AI_NOSORT;
	req->pending = req->ntargets;
	for (i = 0; i < req->ntargets; i++) {
		ctx = xcalloc(1, sizeof(*ctx));
		ctx->req = req;
		ctx->idx = i;
		snprintf(port, sizeof(port), "%u", req->targets[i].port);
		ares_getaddrinfo(req->ch, req->targets[i].host, port, &hints,
		    net_addr_cb, ctx);
	}
	net_rearm(req);
}

/* Collect the result and schedule delivery from the loop. */
static void
net_finish(struct net_req *req, const char *err)
{
	struct net_addrlist	*l;
	size_t			 i, total = 0;

	if (req->result != NULL || req->err != NULL)
		return;
	evtimer_del(req->deadline);
	if (err == NULL) {
		for (i = 0; i < req->ntargets; i++)
			total += req->targets[i].naddrs;
		if (total == 0)
			err = "no address found for the server";
	}
	if (err != NULL) {
		req->err = err;
	} else {
		l = xcalloc(1, sizeof(*l));
		l->addrs = xcalloc(total, sizeof(*l->addrs));
		for (i = 0; i < req->ntargets; i++) {
			memcpy(&l->addrs[l->n], req->targets[i].addrs,
			    req->targets[i].naddrs * sizeof(*l->addrs));
			l->n += req->targets[i].naddrs;
		}
		req->result = l;
	}
	event_active(req->deliver, EV_TIMEOUT, 0);
}

static void
net_deliver_cb(evutil_socket_t fd, short what, void *arg)
{
	struct net_req		*req = arg;
	struct net_addrlist	*l = req->result;
	net_resolve_cb		 cb = req->cb;
	void			*cbarg = req->arg;
	const char		*err = req->err;

	(void)fd;
	(void)what;
	req->result = NULL;
	net_free(req);
	cb(cbarg, l, err);
}

struct net_req *
net_resolve(struct event_base *base, const char *domain, const char *host,
    uint16_t port, int mode, unsigned int timeout_s, net_resolve_cb cb,
    void *arg, const char **err)
{
	struct ares_options	 opts;
	struct net_req		*req;
	struct timeval		 tv = { timeout_s, 0 };
	const char		*servers;
	int			 optmask;

	req = xcalloc(1, sizeof(*req));
	req->base = base;
	req->cb = cb;
	req->arg = arg;
	req->mode = mode;
	req->domain = xstrdup(domain);
	memset(&opts, 0, sizeof(opts));
	opts.sock_state_cb = net_sock_state;
	opts.sock_state_cb_data = req;
	opts.timeout = 2000;
	opts.tries = 2;
	optmask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES;
	if (ares_init_options(&req->ch, &opts, optmask) != ARES_SUCCESS) {
		*err = "cannot initialise the DNS resolver";
		free(req->domain);
		free(req);
		return NULL;
	}
	/* Test seam: point the resolver at a scripted DNS server. */
	if ((servers = getenv("XMPPD_DNS_SERVERS")) != NULL)
		ares_set_servers_ports_csv(req->ch, servers);
	req->timer = evtimer_new(base, net_timer_cb, req);
	req->deadline = evtimer_new(base, net_deadline_cb, req);
	req->deliver = event_new(base, -1, 0, net_deliver_cb, req);
	evtimer_add(req->deadline, &tv);
	if (host != NULL) {
		net_add_target(req, host, port ? port :
		    (mode == NET_MODE_DIRECT ? 5223 : 5222), 0, 0,
		    mode == NET_MODE_DIRECT);
		net_start_addrs(req);
		return req;
	}
	if (mode != NET_MODE_STARTTLS)
		net_query_srv(req, "xmpps-client", 1);
	if (mode != NET_MODE_DIRECT)
		net_query_srv(req, "xmpp-client", 0);
	net_rearm(req);
	return req;
}

static void
net_free(struct net_req *req)
{
	size_t	i;

	/* ares_destroy runs pending callbacks with ARES_EDESTRUCTION. */
	ares_destroy(req->ch);
	for (i = 0; i < NET_MAX_SOCKS; i++)
		if (req->socks[i].ev != NULL)
			event_free(req->socks[i].ev);
	for (i = 0; i < req->ntargets; i++)
		free(req->targets[i].addrs);
	event_free(req->timer);
	event_free(req->deadline);
	event_free(req->deliver);
	if (req->result != NULL)
		net_addrlist_free(req->result);
	free(req->domain);
	free(req);
}

void
net_resolve_cancel(struct net_req *req)
{
	if (req != NULL)
		net_free(req);
}

void
net_addrlist_free(struct net_addrlist *l)
{
	if (l == NULL)
		return;
	free(l->addrs);
	free(l);
}

const char *
net_addr_str(const struct net_addr *a)
{
	static char	buf[INET6_ADDRSTRLEN + 16];
	char		ip[INET6_ADDRSTRLEN];

	if (a->ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)&a->ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
		snprintf(buf, sizeof(buf), "[%s]:%u", ip, ntohs(s6->sin6_port));
	} else {
		const struct sockaddr_in *s4 = (const void *)&a->ss;

		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
		snprintf(buf, sizeof(buf), "%s:%u", ip, ntohs(s4->sin_port));
	}
	return buf;
}
