/*
 * outbox.h: the durable outbox.  It owns the messages handed over by
 * `send` from the moment they are on disk (spool.h) until the server has
 * acknowledged them: their per-recipient states, the order in which they
 * leave, the rate limit, the lifetime, and the waiters of `send --wait`.
 *
 * It talks to the connection only through a link (a send function) and
 * the plain functions below that the connection's service calls
 * (outbox_online, outbox_offline, outbox_acked, outbox_stanza); what
 * happens to messages is reported through hooks, never by calling up.
 *
 * States of one recipient's copy of a message:
 *
 *	queued -> sent -> acked [-> received]
 *	   |        |        `-> bounced   (a type='error' reply)
 *	   |        `-> queued  (a fresh login: the ack will never come)
 *	   `--------+-> bounced | expired  (older than the lifetime)
 *
 * The message's file is removed once no copy is queued or sent.
 */
#ifndef XMPPD_OUTBOX_H
#define XMPPD_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

struct conn;
struct event_base;
struct stanza;
struct outbox;
struct outbox_waiter;

enum outbox_state {
	OB_QUEUED,
	OB_SENT,
	OB_ACKED,
	OB_RECEIVED,
	OB_BOUNCED,
	OB_EXPIRED,
	OB_DROPPED,	/* removed by `queue drop` */
	OB_STATE_MAX
};

struct outbox_conf {
	size_t		 max_msgs;	/* 0: no limit */
	size_t		 max_bytes;	/* 0: no limit */
	unsigned int	 lifetime;	/* seconds, 0: never expire */
	uint64_t	 rate_milli;	/* messages/s x1000, 0: no limit */
	unsigned int	 burst;
};

struct outbox_hooks {
	/* A recipient's copy changed state (error: condition or NULL). */
	void	(*state)(void *arg, const char *id, const char *to,
		    enum outbox_state, const char *error);
	void	*arg;
};

/*
 * The hook for group chat (the daemon installs it): 1 when the recipient
 * JID (as given: a room's bare JID, not room/nick) is one of the account's
 * rooms, so a message to it goes out as type groupchat.
 */
typedef int (*outbox_room_fn)(void *arg, const char *to);

/* How messages leave: conn_send_stanza() in the daemon, a fake in tests. */
struct outbox_link {
	/* Takes ownership of the stanza; tag != 0 comes back as acked(). */
	int	(*send)(void *arg, struct stanza *, uint64_t tag);
	/* A fresh tag unique in the process; NULL: the outbox counts. */
	uint64_t (*tag_new)(void *arg);
	void	*arg;
};

/* What `queue` shows of one message. */
struct outbox_info {
	const char		*id;
	enum outbox_state	 state;		/* the least advanced copy */
	int64_t			 created;
	unsigned int		 tries;
	const char *const	*to;
	size_t			 nto;
	const char		*error;		/* last error, or NULL */
};

typedef void (*outbox_wait_cb)(void *arg, int ok, const char *code,
    const char *text);

/*
 * Open the spool directory and load what it holds, in order.  NULL with
 * *cause when the directory cannot be used.
 */
struct outbox	*outbox_new(struct event_base *, const char *dir,
		    const struct outbox_conf *, char **cause);
void		 outbox_free(struct outbox *);
void		 outbox_set_conf(struct outbox *, const struct outbox_conf *);
void		 outbox_set_hooks(struct outbox *, const struct outbox_hooks *);
void		 outbox_set_link(struct outbox *, const struct outbox_link *);
void		 outbox_set_room_hook(struct outbox *, outbox_room_fn, void *);

/*
 * Accept a message durably.  Returns 0 with *idp (a new string), or -1
 * with *code (a CTL_ERR_*) and *cause (new string); nothing is kept then.
 */
int		 outbox_submit(struct outbox *, const char *const *to, size_t nto,
		    const char *type, int receipt, const char *body,
		    size_t bodylen, char **idp, const char **code,
		    char **cause);
/*
 * Group commit: the same checks, and the message's file is written, but
 * the answer comes later, from the event loop: cb(arg, 1, NULL, id) once
 * one directory fsync made it and every other message staged in the same
 * turn of the loop durable, or cb(arg, 0, code, cause) when that fsync
 * failed (nothing kept).  Returns -1 with *code and *cause (and no
 * callback) when the message is refused at once.
 */
typedef void (*outbox_accept_cb)(void *arg, int ok, const char *code,
    const char *text);
int		 outbox_submit_async(struct outbox *, const char *const *to,
		    size_t nto, const char *type, int receipt, const char *body,
		    size_t bodylen, outbox_accept_cb, void *arg,
		    const char **code, char **cause);
/* No callback for arg any more (its client went away); still accepted. */
void		 outbox_accept_cancel(struct outbox *, void *arg);
/*
 * Call cb once every copy of message id reached want (OB_ACKED or
 * OB_RECEIVED), or one bounced, expired or was dropped.  The callback
 * runs from the event loop, never from within a call into the outbox.
 * NULL when there is no such message.
 */
struct outbox_waiter *outbox_wait(struct outbox *, const char *id,
		    enum outbox_state want, outbox_wait_cb, void *arg);
void		 outbox_wait_cancel(struct outbox_waiter *);

void		 outbox_list(struct outbox *,
		    void (*)(void *, const struct outbox_info *), void *);
/* Remove a waiting message.  -1 when there is none with that id. */
int		 outbox_drop(struct outbox *, const char *id);
size_t		 outbox_pending(const struct outbox *);

/*
 * Register the outbox as a service of the connection and send through
 * conn_send_stanza(): what the daemon does; tests use a link instead.
 */
void		 outbox_attach(struct outbox *, struct conn *);

/* From the connection's service. */
void		 outbox_online(struct outbox *, int resumed);
void		 outbox_offline(struct outbox *);
void		 outbox_acked(struct outbox *, uint64_t tag);
/* 1 when the stanza was a bounce or a receipt for one of ours. */
int		 outbox_stanza(struct outbox *, const struct stanza *);

const char	*outbox_state_name(enum outbox_state);

#endif
