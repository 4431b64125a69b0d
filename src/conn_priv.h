/*
 * conn_priv.h: the connection's insides, shared by the modules that make
 * it up (conn.c the state machine; transport.c, negotiate.c, auth.c,
 * register.c, session.c below it).  Nothing outside those includes this.
 *
 * Each part of struct conn is written by the module named above it.  The
 * lower modules report to the state machine only through two pointers
 * that conn.c installs (c->fsm for an event now, conn_defer() for one to
 * handle once the XML parser has returned), so no module calls up.
 */
#ifndef XMPPD_CONN_PRIV_H
#define XMPPD_CONN_PRIV_H

#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "backoff.h"
#include "conn.h"
#include "iq.h"
#include "sasl.h"
#include "service.h"
#include "sm.h"
#include "stanza.h"
#include "util.h"
#include "xml.h"

#define NS_CLIENT	"jabber:client"
#define NS_STREAMS	"http://etherx.jabber.org/streams"
#define NS_TLS		"urn:ietf:params:xml:ns:xmpp-tls"
#define NS_SASL		"urn:ietf:params:xml:ns:xmpp-sasl"
#define NS_BIND		"urn:ietf:params:xml:ns:xmpp-bind"
#define NS_SESSION	"urn:ietf:params:xml:ns:xmpp-session"
#define NS_STANZAS	"urn:ietf:params:xml:ns:xmpp-stanzas"
#define NS_STREAMERR	"urn:ietf:params:xml:ns:xmpp-streams"
#define NS_PING		"urn:xmpp:ping"
#define NS_DISCO_INFO	"http://jabber.org/protocol/disco#info"
#define NS_VERSION	"jabber:iq:version"
#define NS_REGISTER	"jabber:iq:register"
#define NS_REG_FEATURE	"http://jabber.org/features/iq-register"
#define NS_XDATA	"jabber:x:data"
#define NS_OOB		"jabber:x:oob"
#define NS_SASL_CB	"urn:xmpp:sasl-cb:0"
#define NS_SM		"urn:xmpp:sm:3"
#define NS_CSI		"urn:xmpp:csi:0"

#define NEGOTIATION_TIMEOUT	30	/* seconds per negotiation step */
#define CLOSE_TIMEOUT_MS	1000	/* wait for the server's </stream> */
#define STABLE_SECONDS		60	/* online this long resets backoff */
#define MAX_REDIRECTS		5
#define PROBE_TIMEOUT		5	/* seconds, after a network change */

/* What happens to the connection; conn_fsm() decides what it means. */
/* clang-format off */
enum conn_event {
	CEV_NONE,
	CEV_START,		/* start-up or a command: connect now */
	CEV_RETRY,		/* the backoff is over */
	CEV_NETWORK,		/* addresses or routes changed */
	CEV_REDIRECT,		/* see-other-host: connect there */
	CEV_RESOLVED,		/* connecting to the next address */
	CEV_TCP_UP,
	CEV_STARTTLS,		/* <proceed/>: upgrade the socket */
	CEV_TLS_UP,
	CEV_FEATURES,		/* stream features arrived */
	CEV_REGISTER,		/* XEP-0077 registration begins */
	CEV_AUTH,		/* the SASL exchange begins */
	CEV_SASL_SUCCESS,	/* restart the stream */
	CEV_SASL_FAILURE,	/* credentials refused: park */
	CEV_BIND,		/* binding a resource or resuming begins */
	CEV_BOUND,
	CEV_RESUMED,
	CEV_STANZA,
	CEV_PONG,
	CEV_PING_TIMEOUT,
	CEV_STREAM_ERROR,
	CEV_ERROR,		/* link lost, refused, invalid input */
	CEV_TIMEOUT,		/* a negotiation deadline passed */
	CEV_CLOSED,		/* the stream or the link is closed */
	CEV_COMMAND,		/* disconnect, shutdown, hand-over */
	CEV_MAX
};

/* Which phase a deadline guards (its text completes "timed out ..."). */
enum conn_phase {
	PHASE_NONE,
	PHASE_CONNECT,		/* "connecting" */
	PHASE_HEADER,		/* "waiting for the stream header" */
	PHASE_FEATURES,		/* "waiting for stream features" */
	PHASE_STARTTLS,		/* "waiting for STARTTLS to proceed" */
	PHASE_TLS,		/* "in the TLS handshake" */
	PHASE_REGISTER,		/* "registering" */
	PHASE_AUTH,		/* "authenticating" */
	PHASE_BIND,		/* "binding a resource" */
	PHASE_RESUME,		/* "resuming" */
	PHASE_CLOSE,		/* the server's </stream:stream> */
	PHASE_MAX
};

/* Where stream negotiation is (negotiate.c). */
enum neg_step {
	NEG_NONE,		/* no stream yet */
	NEG_HEADER,		/* waiting for the stream header */
	NEG_FEATURES,
	NEG_PROCEED,		/* STARTTLS asked */
	NEG_AUTH,		/* auth.c or register.c runs the phase */
	NEG_BIND,
	NEG_SESSION,
	NEG_RESUME,
	NEG_DONE,		/* online */
};

/* Where in-band registration is (register.c). */
enum reg_step { REG_NONE, REG_FORM, REG_SUBMIT };

/* What to do once a clean close has finished. */
enum after_close { AFTER_NOTHING, AFTER_OFFLINE, AFTER_CONNECT, AFTER_EXIT };
/* clang-format on */

/* The owner of one of our own requests in the iq table. */
struct conn_iqarg {
	struct conn	*c;
};

struct conn {
	struct xmppd		*x;		/* conf, base, tls_ctx: read only */
	/* conn_fsm(): an event now; CEV_NONE runs the deferred one */
	void			(*fsm)(struct conn *, enum conn_event,
				    const char *);

	/* conn.c: the state machine and what it reports */
	enum conn_state		 state;
	time_t			 since;
	char			 last_error[512];
	unsigned int		 reconnects;	/* attempts after the first */
	int			 attempted;	/* the first one was made */
	char			 looked_up[384];	/* what the resolver seeks */
	int			 want_online;
	int			 stopping;
	enum after_close	 after_close;
	struct conn_hooks	 hooks;
	void			(*stopped)(void *);
	void			*stopped_arg;
	void			(*watch)(void *, enum conn_state,
				    enum conn_state);
	void			*watch_arg;
	enum conn_event		 pending;	/* deferred, see conn_defer() */
	char			 pending_reason[256];
	uint32_t		 pending_min_ms;
	struct event		*ev_pending;
	struct event		*ev_deadline;
	enum conn_phase		 deadline_phase;
	struct event		*ev_retry;
	struct event		*ev_stable;
	uint32_t		 retry_ms;
	struct backoff		 backoff;
	int			 early_retry_ok;	/* this wait may be cut */
	int			 early_retried;		/* the attempt was early */
	char			*password;
	/* Set by passwd: used instead of the configured password while
	   that stays passwd_base (what was configured at the change). */
	char			*passwd_set;
	char			*passwd_base;
	char			*bare;
	char			*bound;
	char			*show;
	char			*status;

	/* transport.c */
	struct net_req		*netreq;
	struct net_addrlist	*addrs;
	size_t			 addr_idx;
	struct bufferevent	*bev;
	int			 fd;
	SSL			*ssl;
	int			 tls_active;
	int			 tls_handshaking;
	int			 direct_tls;
	char			 peer[128];
	char			 tls_desc[128];
	char			*out;		/* serialized stanza, reused */
	size_t			 out_cap;
	uint64_t		*ack_tags;	/* sent without XEP-0198, */
	size_t			 ack_ntags;	/* awaiting the next ping */
	size_t			 ack_cap;
	struct event		*ev_ackping;

	/* negotiate.c */
	const struct xml_callbacks *xml_cbs;	/* conn.c's */
	struct xml_parser	*xml;
	struct stanza		*features;
	enum neg_step		 neg;
	int			 session_required;
	char			*redirect_host;
	uint16_t		 redirect_port;
	int			 redirects;

	/* auth.c */
	int			 authenticated;
	int			 auth_retry_noplus;
	struct sasl		*sasl;
	struct sasl_choice	 choice;
	int			 sasl_cb_list;
	int			 sasl_final_seen;
	char			 sasl_used[32];
	const char		*cb_status;	/* status channel_binding */
	const char		*cb_said;	/* the decision last logged */

	/* register.c */
	int			 want_register;
	enum reg_step		 reg;
	const char		*reg_code;	/* NULL: registered */
	char			*reg_text;	/* NULL: no attempt */
	char			*passwd_new;
	conn_reply_cb		 req_cb;	/* passwd, unregister */
	void			*req_arg;

	/* session.c */
	struct event		*ev_ping_interval;
	int			 ping_outstanding;
	unsigned int		 ping_wait;	/* seconds, for the log */
	struct sm		 sm;
	struct svc_list		 services;
	uint64_t		 tagseq;

	/* iq.c's table, its timer, and our own requests' owners */
	struct iq_table		*iqs;
	struct event		*ev_iq;
	struct conn_iqarg	 arg_neg, arg_ping, arg_op;
};

/* The JID for logs: bound if online, else the account's. */
static inline const char *
conn_cur_jid(const struct conn *c)
{
	return c->bound ? c->bound : c->bare;
}

static inline int
conn_is_online(const struct conn *c)
{
	return c->state == CONN_ONLINE && c->neg == NEG_DONE &&
	    c->bev != NULL;
}

/* Re-arm the iq table's timer for its earliest deadline. */
static inline void
conn_iq_arm(struct conn *c)
{
	uint64_t	next = iq_table_next_deadline(c->iqs), now;
	struct timeval	tv;

	if (next == 0) {
		evtimer_del(c->ev_iq);
		return;
	}
	now = monotime_ms();
	next = next > now ? next - now : 0;
	tv.tv_sec = next / 1000;
	tv.tv_usec = (next % 1000) * 1000;
	evtimer_add(c->ev_iq, &tv);
}

/* Arm the negotiation deadline for a phase. */
static inline void
conn_arm_deadline(struct conn *c, unsigned int secs, enum conn_phase phase)
{
	struct timeval	tv = { secs, 0 };

	c->deadline_phase = phase;
	evtimer_add(c->ev_deadline, &tv);
}

/*
 * Record an event to handle once the parser has returned (the first one
 * wins: a later one is a consequence of it); returns XML_STOP for the
 * parser's callbacks.  min_ms raises the backoff's floor.
 */
static inline int
conn_vdefer(struct conn *c, enum conn_event ev, uint32_t min_ms,
    const char *fmt, va_list ap)
{
	if (c->pending != CEV_NONE)
		return XML_STOP;
	c->pending = ev;
	c->pending_min_ms = min_ms;
	c->pending_reason[0] = '\0';
	if (fmt != NULL)
		vsnprintf(c->pending_reason, sizeof(c->pending_reason), fmt,
		    ap);
	event_active(c->ev_pending, EV_TIMEOUT, 0);
	return XML_STOP;
}

static inline int conn_defer(struct conn *, enum conn_event, uint32_t,
    const char *, ...) __attribute__((__format__(printf, 4, 5)));
static inline int
conn_defer(struct conn *c, enum conn_event ev, uint32_t min_ms,
    const char *fmt, ...)
{
	va_list	ap;
	int	r;

	va_start(ap, fmt);
	r = conn_vdefer(c, ev, min_ms, fmt, ap);
	va_end(ap);
	return r;
}

/* The first error condition child in ns (and its text) of an error. */
static inline const char *
conn_error_condition(const struct stanza *err, const char *ns,
    const char **text)
{
	struct stanza	*ch;
	const char	*cond = "undefined-condition";

	*text = NULL;
	for (ch = stanza_first_child(err); ch; ch = stanza_next_sibling(ch)) {
		if (stanza_ns(ch) == NULL || strcmp(stanza_ns(ch), ns) != 0)
			continue;
		if (strcmp(stanza_name(ch), "text") == 0)
			*text = stanza_text(ch);
		else
			cond = stanza_name(ch);
	}
	return cond;
}

#endif
