/*
 * net.h: finding the server.  c-ares runs on the daemon's event loop: SRV
 * for _xmpps-client._tcp and _xmpp-client._tcp merged by priority and
 * weight (XEP-0368; direct TLS first on a tie), then A/AAAA for each
 * target; without SRV records, the domain itself on 5222.  A `server`
 * override skips SRV.  The result is the ordered list of addresses to
 * try, each with its TLS mode.
 */
#ifndef XMPPD_NET_H
#define XMPPD_NET_H

#include <sys/socket.h>
#include <stdint.h>

struct event_base;

struct net_addr {
	struct sockaddr_storage	ss;
	socklen_t		sslen;
	int			direct_tls;
	char			host[256];	/* target name, for logs */
	uint16_t		port;
};

struct net_addrlist {
	struct net_addr	*addrs;
	size_t		 n;
};

/* Called once: list NULL and err set on failure.  The list is the callee's. */
typedef void (*net_resolve_cb)(void *arg, struct net_addrlist *, const char *err);

struct net_req;

#define NET_MODE_AUTO		0
#define NET_MODE_STARTTLS	1
#define NET_MODE_DIRECT		2

/*
 * Start resolving.  host/port: the override (host NULL for SRV on domain).
 * The callback may run before net_resolve returns (e.g. IP literals) — no:
 * it always runs from the event loop.  Returns NULL with *err on a setup
 * failure.
 */
struct net_req	*net_resolve(struct event_base *, const char *domain,
		    const char *host, uint16_t port, int mode,
		    unsigned int timeout_s, net_resolve_cb, void *arg,
		    const char **err);
/* Cancel; the callback is not called afterwards. */
void		 net_resolve_cancel(struct net_req *);
void		 net_addrlist_free(struct net_addrlist *);
/* "192.0.2.1:5222" (static buffer). */
const char	*net_addr_str(const struct net_addr *);

#endif
