/*
 * xmppd.h: the daemon's shared state: what main() set up, read by the
 * parts it hands it to.  Nothing here is a function: the parts report to
 * the daemon through hooks (conn_on_stopped, struct cmdq_hooks).
 */
#ifndef XMPPD_XMPPD_H
#define XMPPD_XMPPD_H

#include <openssl/ssl.h>

struct event_base;
struct config;
struct cmdq;
struct conn;
struct control;
struct muc;
struct outbox;

struct xmppd {
	struct event_base	*base;
	const char		*conf_path;
	struct config		*conf;
	SSL_CTX			*tls_ctx;
	struct conn		*conn;
	struct cmdq		*cmdq;
	struct control		*ctl;
	struct muc		*muc;		/* group chats */
	struct outbox		*outbox;
	int			 stopping;
	int			 handover;	/* the stop is a restart */
};

#endif
