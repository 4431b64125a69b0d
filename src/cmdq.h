/*
 * cmdq.h: the queue through which control commands that change the
 * connection run one at a time (connect, disconnect, reconnect, reauth,
 * register, passwd, unregister, reload), and the wait-online waiters.
 * Owned by the daemon; it calls plain verbs on the connection and learns
 * outcomes from its state changes.  Re-reading the configuration is the
 * daemon's business: it comes in through hooks.
 */
#ifndef XMPPD_CMDQ_H
#define XMPPD_CMDQ_H

#include <stddef.h>

#include "conn.h"
#include "ctlproto.h"

struct event_base;
struct cmdq;
struct cmdq_waiter;

struct cmdq_hooks {
	/* Re-read the configuration and apply it: -1 with *cause, 0 done,
	   1 the connection is starting over (the outcome follows). */
	int	(*reload)(void *arg, char **cause);
	/* Re-read only the password: -1 with *cause, or 0 and *password
	   (a new string, wiped and freed by the caller). */
	int	(*reload_password)(void *arg, char **password, char **cause);
	void	*arg;
};

struct cmdq	*cmdq_new(struct event_base *, struct conn *,
		    const struct cmdq_hooks *);
/* Answers everything still queued with ERR shutdown. */
void		 cmdq_free(struct cmdq *);

/*
 * Queue a command (or wait-online).  The callback runs from the event
 * loop once the outcome is known, never from within cmdq_submit.  The
 * waiter stays valid until then; cmdq_waiter_cancel() detaches a caller
 * that went away (the command itself still runs).
 */
struct cmdq_waiter *cmdq_submit(struct cmdq *, enum ctl_cmd, const char *arg,
		    conn_reply_cb, void *cbarg);
void		 cmdq_waiter_cancel(struct cmdq_waiter *);
/* How many wait-online waiters there are (for tests). */
size_t		 cmdq_waiting(const struct cmdq *);
/* Shutting down: answer every command and waiter with ERR shutdown. */
void		 cmdq_shutdown(struct cmdq *);

#endif
