/*
 * conn.h: the account's connection, one explicit state machine from
 * resolving to online and back (conn.c), its verbs for the command queue
 * (cmdq.h), its status, and the service API for the modules above it.
 */
#ifndef XMPPD_CONN_H
#define XMPPD_CONN_H

#include <stdint.h>
#include <time.h>

#include "ctlproto.h"
#include "iq.h"

struct xmppd;
struct conn;
struct stanza;

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
	/* A message of type error (a bounce): its RFC 6120 condition, or
	   "undefined-condition"; body "" when it has none. */
	void	(*message_error)(void *arg, const char *from,
		    const char *condition, const char *body);
};

/* The outcome of a command: ok, or an ERR code and text. */
typedef void (*conn_reply_cb)(void *arg, int ok, const char *code,
    const char *text);

struct conn	*conn_new(struct xmppd *);
/*
 * Requests still in the iq table end with IQ_GONE here: a service freed
 * before the connection must have called conn_iq_cancel() first.
 */
void		 conn_free(struct conn *);
void		 conn_set_hooks(struct conn *, const struct conn_hooks *);
/* Who learns that a shutdown has finished (the daemon: leave the loop). */
void		 conn_on_stopped(struct conn *, void (*)(void *), void *);
/* One watcher of state changes (the command queue); NULL removes it. */
void		 conn_watch(struct conn *, void (*)(void *, enum conn_state,
		    enum conn_state), void *);
/* Begin going online (at start-up). */
void		 conn_start(struct conn *);
/* Clean shutdown; the stopped hook runs when the stream is closed. */
void		 conn_shutdown(struct conn *);
/*
 * Addresses or routes changed: online, probe the link now; waiting, retry
 * at once, but only once per backoff step.
 */
void		 conn_network_changed(struct conn *);
/*
 * Config reloaded: reconnect when connection settings changed (or when
 * parked after a rejected password).  Returns 1 when it starts over.
 */
int		 conn_config_changed(struct conn *, int reconnect);

/*
 * Verbs for the command queue.  Each starts what it says; the outcome is
 * a later state change (online, waiting, auth-failed, offline).
 */
void		 conn_connect(struct conn *);	/* online if not already */
void		 conn_disconnect(struct conn *);	/* stay offline */
void		 conn_reconnect(struct conn *);	/* a fresh connection */
void		 conn_reauth(struct conn *, const char *password);
void		 conn_register(struct conn *);	/* XEP-0077, then log in */
/* Online only (-1 otherwise): the server's answer comes to cb. */
int		 conn_passwd(struct conn *, const char *password,
		    conn_reply_cb, void *);
int		 conn_unregister(struct conn *, conn_reply_cb, void *);
/* How the last registration went: 0 if none was tried; code NULL: ok. */
int		 conn_register_result(const struct conn *, const char **code,
		    const char **text);

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
const char	*conn_account(const struct conn *);	/* the bare JID */
const char	*conn_last_error(const struct conn *);	/* "" when none */
uint32_t	 conn_retry_ms(const struct conn *);	/* while waiting */
/* Not online and not trying: auth-failed, or offline on request. */
int		 conn_parked(const struct conn *);

/*
 * The service API: what modules above the connection (rooms, the outbox)
 * use.  A service registers once, gets told when the session comes and
 * goes, sees incoming messages and presences first, sends stanzas and iq
 * requests, and learns when the server has its stanzas.  All callbacks
 * run from the event loop.
 */

/*
 * Send an iq (taken over; its id is set here, unpredictable, from the
 * kernel's RNG), expecting the answer from its 'to' (no 'to': from none,
 * the account's bare JID or its domain; RFC 6120 8.1.2.1) within
 * timeout_s seconds (0: no deadline of its own; it still ends with
 * IQ_GONE when the stream does).  -1 when not online (the iq is freed,
 * cb not called).  A request survives a lost link while the session can
 * be resumed; after a resume the answer may still come.
 */
int		 conn_iq_send(struct conn *, struct stanza *iq,
		    unsigned int timeout_s, iq_cb, void *arg);
/* Cancel every pending request whose cb arg is arg (no callback). */
void		 conn_iq_cancel(struct conn *, void *arg);

struct conn_service {
	const char *name;
	/* Session established: fresh login (resumed 0) or XEP-0198 resume (1),
	   including a resume across a restart. After a fresh login every
	   tracked stanza not acked before is void: resend what matters. */
	void (*online)(void *arg, int resumed);
	/* Left online. resumable: the server keeps the session, a resume may
	   follow (tracked stanzas stay queued by XEP-0198 and are resent). */
	void (*offline)(void *arg, int resumable);
	/* An incoming message or presence while online (iq results go to the
	   iq table). Return 1 if it was consumed, 0 to let others see it
	   (unconsumed messages/presences still reach the control hooks). */
	int  (*stanza)(void *arg, const struct stanza *);
	/* A stanza sent with a nonzero tag was acknowledged: XEP-0198 <a/>
	   covering it, or without stream management the result of a ping the
	   connection sent after it (batched: one ping per burst). */
	void (*acked)(void *arg, uint64_t tag);
	/* The account's presence changed (xmppd-ctl presence). */
	void (*presence)(void *arg, const char *show, const char *status);
	void *arg;
};
/*
 * Services are called in the order they were added; the struct is copied.
 * Any callback may be NULL.  At most CONN_MAX_SERVICES.
 */
#define CONN_MAX_SERVICES	8
void		 conn_add_service(struct conn *, const struct conn_service *);
/*
 * Send while online (stanza taken over); tag != 0 asks for acked(tag).
 * -1 when not online, or when XEP-0198's queue of unacknowledged stanzas
 * is full (the stanza is freed; keep it and send it after an acked()).
 *
 * Tags: acked(tag) goes to every service, so a tag must be unique in the
 * process: take it from conn_tag_new().  A tagged stanza that is not
 * acknowledged when the session ends without resumption is void (no
 * acked() will come; online(0) says so), and the connection does not
 * resend it: the service does.  Across a restart (resume_after_restart),
 * tagged stanzas are written to the saved-session file marked as a
 * service's, and after the resume the connection drops those the server
 * had not received instead of resending them: their acked() could not be
 * delivered to the new process, so they count as void, and the service
 * resends what it has not seen acknowledged after online(resumed=1).
 * Stanzas sent with tag 0 are tracked and resent as before.
 */
int		 conn_send_stanza(struct conn *, struct stanza *, uint64_t tag);
/* A fresh nonzero tag, unique for the life of the process. */
uint64_t	 conn_tag_new(struct conn *);
const char	*conn_bound_jid(const struct conn *);	/* NULL unless online */
const char	*conn_presence_show(const struct conn *);	/* NULL: available */
const char	*conn_presence_status(const struct conn *);	/* NULL: none */
int		 conn_sm_enabled(const struct conn *);

#endif
