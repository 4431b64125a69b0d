/*
 * xmppd.h: the daemon's shared state and the glue between its parts.
 */
#ifndef XMPPD_XMPPD_H
#define XMPPD_XMPPD_H

#include <openssl/ssl.h>

struct event_base;
struct config;
struct conn;
struct control;
struct outbox;

struct xmppd {
	struct event_base	*base;
	const char		*conf_path;
	struct config		*conf;
	SSL_CTX			*tls_ctx;
	struct conn		*conn;
	struct control		*ctl;
	struct outbox		*outbox;
	int			 stopping;
};

/* xmppd.c */
/* Re-read the config file (SIGHUP, reload); applies it to the conn. */
int	xmppd_reload(struct xmppd *, char **cause);
/* Re-read only the credentials (reauth). */
int	xmppd_reload_password(struct xmppd *, char **cause);
void	xmppd_stopped(struct xmppd *);

#endif
