/*
 * conn.h: the account's connection, one explicit state machine from
 * resolving to online and back, and the queue through which control
 * commands that change the connection run one at a time.
 */
#ifndef XMPPD_CONN_H
#define XMPPD_CONN_H

#include <stdint.h>
#include <time.h>

#include "ctlproto.h"

struct xmppd;
struct conn;

/* clang-format off */
enum conn_state {
	CONN_OFFLINE,		/* not connected, by request */
	CONN_RESOLVING,
	CONN_CONNECTING,
	CONN_SECURING,		/* stream open, STARTTLS, TLS handshake */
	CONN_REGISTERING,	/* XEP-0077 before SASL */
	CONN_AUTHENTICATING,
	CONN_BINDING,
	CONN_ONLINE,
	CONN_WAITING,		/* backoff before the next try */
	CONN_AUTH_FAILED,	/* parked until reauth/reload */
	CONN_CLOSING,		/* clean close in progress (shown as offline) */
	CONN_STATE_MAX
};
/* clang-format on */

/* Hooks the control socket installs to see what happens. */
struct conn_hooks {
	void	(*state)(void *arg, enum conn_state prev, enum conn_state cur,
		    const char *reason);
	void	(*message)(void *arg, const char *from, const char *type,
		    const char *body);
	void	(*presence)(void *arg, const char *from, const char *type,
		    const char *show, const char *status);
	void	*arg;
};

/* The outcome of a queued command: ok, or an ERR code and text. */
typedef void (*conn_reply_cb)(void *arg, int ok, const char *code,
    const char *text);
struct conn_waiter;

struct conn	*conn_new(struct xmppd *);
void		 conn_free(struct conn *);
void		 conn_set_hooks(struct conn *, const struct conn_hooks *);
/* Begin going online (at start-up). */
void		 conn_start(struct conn *);
/* Clean shutdown; calls xmppd_stopped() when the stream is closed. */
void		 conn_shutdown(struct conn *);
/* Addresses or routes changed: probe the link now. */
void		 conn_network_changed(struct conn *);
/* Config reloaded: reconnect when connection settings changed. */
void		 conn_config_changed(struct conn *, int reconnect);

/*
 * Queue a command (register, reauth, reconnect, connect, disconnect,
 * passwd, unregister, reload, wait-online).  The callback runs from the
 * event loop once the outcome is known, never from within conn_submit.
 * The waiter stays valid until then; conn_waiter_cancel() detaches a
 * caller that went away (the command itself still runs).
 */
struct conn_waiter *conn_submit(struct conn *, enum ctl_cmd, const char *arg,
		    conn_reply_cb, void *cbarg);
void		 conn_waiter_cancel(struct conn_waiter *);

/* Immediate commands. */
int		 conn_send_message(struct conn *, const char *to,
		    const char *body, const char **err);
int		 conn_set_presence(struct conn *, const char *show,
		    const char *status, const char **err);

/* Status. */
enum conn_state	 conn_state(const struct conn *);
const char	*conn_state_name(enum conn_state);
/* Fill "- key value" pairs through the callback. */
void		 conn_status(const struct conn *,
		    void (*)(void *, const char *, const char *), void *);
const char	*conn_jid(const struct conn *);

#endif
