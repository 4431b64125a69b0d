/*
 * conn.c: the connection state machine.
 *
 * Inputs are turned into calls of small step functions; conn_set_state()
 * is the only writer of conn->state and logs each change once with its
 * reason.  Transport and parser callbacks never free what is still on the
 * stack: they record what must happen (stream restart, TLS upgrade,
 * teardown) and conn_read() performs it after xml_feed() returns.
 *
 * Commands from the control socket that change the connection run one at
 * a time from conn->ops; each finishes when the state machine reaches an
 * outcome (online, waiting, auth-failed, offline).
 */
#include "compat.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include "backoff.h"
#include "config.h"
#include "conn.h"
#include "iq.h"
#include "jid.h"
#include "log.h"
#include "net.h"
#include "notify.h"
#include "pin.h"
#include "sasl.h"
#include "stanza.h"
#include "tls.h"
#include "util.h"
#include "xml.h"
#include "xmalloc.h"
#include "xmppd.h"

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

#define SM_MAX_UNACKED	1000		/* stanzas kept for resending */
#define SM_MAX_BYTES	(1024 * 1024)

#define NEGOTIATION_TIMEOUT	30	/* seconds per negotiation step */
#define CLOSE_TIMEOUT_MS	1000	/* wait for the server's </stream> */
#define STABLE_SECONDS		60	/* online this long resets backoff */
#define MAX_REDIRECTS		5
#define OUTPUT_MAX		(1024 * 1024)
#define OUT_KEEP		(16 * 1024)	/* largest send buffer kept */
#define READ_HIGHWAT		(64 * 1024)
#define FEED_BATCH		4096
#define PROBE_TIMEOUT		5	/* seconds, after a network change */

/* Where a connection is inside its state. */
enum conn_step {
	STEP_NONE,
	STEP_HEADER,		/* waiting for the stream header */
	STEP_FEATURES,
	STEP_PROCEED,
	STEP_TLS,
	STEP_REG_FORM,
	STEP_REG_SUBMIT,
	STEP_SASL,
	STEP_BIND,
	STEP_SESSION,
	STEP_RESUME,
	STEP_ONLINE,
};

/* What to do once a clean close has finished. */
enum after_close {
	AFTER_NOTHING,
	AFTER_OFFLINE,
	AFTER_CONNECT,
	AFTER_WAIT,
	AFTER_EXIT,
};

struct conn_waiter {
	TAILQ_ENTRY(conn_waiter) entry;
	struct conn_op		*op;
	conn_reply_cb		 cb;
	void			*arg;
};
TAILQ_HEAD(conn_waiters, conn_waiter);

struct conn_op {
	TAILQ_ENTRY(conn_op)	 entry;
	enum ctl_cmd		 cmd;
	char			*arg;
	int			 started;
	int			 connecting;	/* past its close phase */
	struct conn_waiters	 waiters;
	/* outcome of a register op, reported once the login finished */
	const char		*reg_code;
	char			*reg_text;
};
TAILQ_HEAD(conn_ops, conn_op);

/* An outgoing stanza the server has not acknowledged yet (XEP-0198). */
struct sm_item {
	TAILQ_ENTRY(sm_item)	 entry;
	int			 is_message;
	uint64_t		 tag;		/* a service's, 0: none */
	int			 void_tag;	/* a service's, from a saved
						   session: not resent */
	size_t			 len;
	char			 data[];
};
TAILQ_HEAD(sm_items, sm_item);

/* Stream management: survives a lost link so the session can resume. */
struct sm_state {
	int			 enabled;	/* counting on this stream */
	int			 resumable;	/* the server keeps the session */
	int			 resumed;	/* this session was resumed */
	char			*id;
	char			*jid;		/* bound JID of the session */
	unsigned int		 max;		/* seconds the server waits */
	time_t			 lost_at;
	uint32_t		 h_in;		/* stanzas handled */
	uint32_t		 h_out;		/* stanzas sent */
	uint32_t		 h_acked;	/* acknowledged by the server */
	struct sm_items		 unacked;
	size_t			 n, bytes;
	unsigned int		 resumptions;
};

struct conn {
	struct xmppd		*x;
	struct conn_hooks	 hooks;
	enum conn_state		 state;
	enum conn_step		 step;
	time_t			 since;
	char			 last_error[512];
	unsigned int		 reconnects;
	int			 want_online;

	/* account */
	char			*password;
	char			*bare;
	char			*bound;

	/* transport */
	struct net_req		*netreq;
	struct net_addrlist	*addrs;
	size_t			 addr_idx;
	struct bufferevent	*bev;
	int			 fd;
	SSL			*ssl;
	int			 tls_active;
	int			 direct_tls;
	char			 peer[128];
	char			 tls_desc[128];
	char			*redirect_host;
	uint16_t		 redirect_port;
	int			 redirects;

	/* stream */
	char			*out;		/* serialized stanza, reused */
	size_t			 out_cap;
	struct xml_parser	*xml;
	struct stanza		*features;
	enum {
		ACT_NONE, ACT_RESTART, ACT_STARTTLS, ACT_FAIL, ACT_AUTHFAIL,
		ACT_CLOSED, ACT_REDIRECT
	}			 action;
	char			 action_reason[256];
	uint32_t		 action_min_ms;
	int			 session_required;
	char			*show;
	char			*status;
	int			 authenticated;
	int			 auth_retry_noplus;
	struct sasl		*sasl;
	struct sasl_choice	 choice;
	int			 sasl_cb_list;
	int			 sasl_final_seen;
	char			 sasl_used[32];
	int			 want_register;
	enum after_close	 after_close;

	/* timers */
	struct event		*ev_deadline;
	struct event		*ev_retry;
	struct event		*ev_ping;
	struct event		*ev_stable;
	struct event		*ev_ops;
	struct event		*ev_action;
	const char		*deadline_what;
	int			 ping_outstanding;
	unsigned int		 ping_wait;	/* seconds, for the log */
	uint32_t		 retry_ms;
	struct backoff		 backoff;

	/* requests in flight: the iq table and its timer */
	struct iq_table		*iqs;
	struct event		*ev_iq;
	/* callback args of our own requests, one per kind (to cancel) */
	struct conn_iqarg {
		struct conn	*c;
	}			 arg_neg, arg_ping, arg_op;
	char			*passwd_new;

	/* services (rooms, outbox) and their tags */
	struct conn_service	 services[CONN_MAX_SERVICES];
	size_t			 nservices;
	uint64_t		 tagseq;
	uint64_t		*ack_tags;	/* sent without XEP-0198, */
	size_t			 ack_ntags;	/* awaiting the next ping */
	size_t			 ack_cap;
	struct event		*ev_ackping;

	struct conn_ops		 ops;
	struct conn_waiters	 online_waiters;
	struct sm_state		 sm;
};

static const char *conn_state_names[CONN_STATE_MAX] = {
	"offline", "resolving", "connecting", "securing", "registering",
	"authenticating", "binding", "online", "waiting", "auth-failed",
	"offline",
};

static void	conn_set_state(struct conn *, enum conn_state, const char *);
static void	conn_fail(struct conn *, const char *, ...)
		    __attribute__((__format__(printf, 2, 3)));
static void	conn_teardown(struct conn *);
static void	conn_begin(struct conn *);
static void	conn_closed(struct conn *);
static int	conn_defer(struct conn *, int, uint32_t, const char *, ...)
		    __attribute__((__format__(printf, 4, 5)));
static struct xml_parser *conn_xml_new(struct conn *);
static void	conn_try_next(struct conn *);
static void	conn_resolved(void *, struct net_addrlist *, const char *);
static void	conn_event_cb(struct bufferevent *, short, void *);
static void	conn_read_cb(struct bufferevent *, void *);
static void	conn_open_stream(struct conn *);
static void	conn_start_tls(struct conn *);
static void	conn_features(struct conn *, struct stanza *);
static int	conn_sasl_input(struct conn *, struct stanza *);
static void	conn_negotiation_iq(void *, enum iq_outcome,
		    const struct stanza *);
static int	conn_sm_can_resume(const struct conn *);
static void	conn_iq_track(struct conn *, struct stanza *, unsigned int,
		    iq_cb, void *);
static void	conn_wait(struct conn *, uint32_t, const char *);
static void	conn_auth_failed(struct conn *, const char *);
static void	conn_reg_outcome(struct conn *, const char *, const char *, ...)
		    __attribute__((__format__(printf, 3, 4)));
static void	conn_sm_track(struct conn *, const struct stanza *,
		    const char *, size_t, uint64_t);
static void	conn_send_tagged(struct conn *, struct stanza *, uint64_t);
static void	conn_ack_later(struct conn *, uint64_t);
static void	conn_services_acked(struct conn *, uint64_t);
static int	conn_sm_input(struct conn *, struct stanza *);
static void	conn_sm_forget(struct conn *, int);
static int	conn_sm_can_resume(const struct conn *);
static void	conn_online(struct conn *);
static void	conn_stanza_online(struct conn *, struct stanza *);
static void	conn_send(struct conn *, struct stanza *);
static void	conn_send_free(struct conn *, struct stanza *);
static void	conn_send_raw(struct conn *, const char *, size_t);
static void	conn_arm_deadline(struct conn *, unsigned int, const char *);
static void	conn_schedule_ops(struct conn *);
static void	conn_ops_check(struct conn *);
static void	conn_close_clean(struct conn *, enum after_close);
static void	conn_send_presence(struct conn *);
static void	conn_register_start(struct conn *);
static void	conn_auth_start(struct conn *);
static void	conn_op_reply(struct conn_op *, int, const char *, const char *);
static void	conn_op_done(struct conn *, int, const char *, const char *,
		    ...) __attribute__((__format__(printf, 4, 5)));

/* ---------------------------------------------------------------------- */
/* small helpers */

/* A new <iq type=TYPE/>; its id comes from the iq table when sent. */
static struct stanza *
conn_iq_new(const char *type)
{
	struct stanza	*iq = stanza_new("iq", NULL);

	stanza_set_attr(iq, "type", type);
	return iq;
}

/* Re-arm the iq table's timer for its earliest deadline. */
static void
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

static void
conn_iq_timer_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct conn	*c = arg;

	(void)fd;
	(void)ev;
	iq_table_expire(c->iqs, monotime_ms());
	conn_iq_arm(c);
}

/* Track and send an iq (taken over), online or during negotiation. */
static void
conn_iq_track(struct conn *c, struct stanza *iq, unsigned int timeout_s,
    iq_cb cb, void *arg)
{
	iq_table_add(c->iqs, iq, timeout_s ? monotime_ms() +
	    (uint64_t)timeout_s * 1000 : 0, cb, arg);
	conn_send_free(c, iq);
	conn_iq_arm(c);
}

static void
conn_send(struct conn *c, struct stanza *s)
{
	conn_send_tagged(c, s, 0);
}

/* Send and free. */
static void
conn_send_free(struct conn *c, struct stanza *s)
{
	conn_send(c, s);
	stanza_free(s);
}

static void
conn_send_tagged(struct conn *c, struct stanza *s, uint64_t tag)
{
	size_t	len;

	len = stanza_serialize(s, NS_CLIENT, &c->out, &c->out_cap);
	conn_send_raw(c, c->out, len);
	if (c->sm.enabled)
		conn_sm_track(c, s, c->out, len, tag);
	else if (tag != 0)
		conn_ack_later(c, tag);
	/* A big stanza's buffer is not kept for the small ones after it. */
	if (c->out_cap > OUT_KEEP) {
		free(c->out);
		c->out = NULL;
		c->out_cap = 0;
	}
}

static void
conn_send_raw(struct conn *c, const char *buf, size_t len)
{
	if (c->bev == NULL)
		return;
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) > OUTPUT_MAX) {
		conn_defer(c, ACT_FAIL, 0, "the server stopped reading");
		return;
	}
	bufferevent_write(c->bev, buf, len);
}

/* Send a stream error and close our side of the stream. */
static void
conn_stream_error(struct conn *c, const char *cond, const char *text)
{
	char	*body = NULL, *out;
	size_t	 len;

	if (text != NULL)
		body = xml_escape(text, strlen(text));
	len = xasprintf(&out, "<stream:error><%s xmlns='%s'/>%s%s%s"
	    "</stream:error></stream:stream>", cond, NS_STREAMERR,
	    body ? "<text xmlns='" NS_STREAMERR "'>" : "", body ? body : "",
	    body ? "</text>" : "");
	conn_send_raw(c, out, len);
	free(out);
	free(body);
}

const char *
conn_state_name(enum conn_state s)
{
	return s < CONN_STATE_MAX ? conn_state_names[s] : "unknown";
}

enum conn_state
conn_state(const struct conn *c)
{
	return c->state;
}

const char *
conn_jid(const struct conn *c)
{
	return c->bound ? c->bound : c->bare;
}

/* ---------------------------------------------------------------------- */
/* state changes, failures, teardown */

/* ---------------------------------------------------------------------- */
/* services */

static void
conn_services_online(struct conn *c)
{
	size_t	i;
	int	resumed = c->sm.resumed;

	for (i = 0; i < c->nservices && c->state == CONN_ONLINE; i++)
		if (c->services[i].online != NULL)
			c->services[i].online(c->services[i].arg, resumed);
}

static void
conn_services_offline(struct conn *c)
{
	size_t	i;
	int	resumable = c->sm.resumable && c->sm.id != NULL;

	for (i = 0; i < c->nservices; i++)
		if (c->services[i].offline != NULL)
			c->services[i].offline(c->services[i].arg, resumable);
}

/* Incoming message or presence: 1 when a service consumed it. */
static int
conn_services_stanza(struct conn *c, const struct stanza *s)
{
	size_t	i;

	for (i = 0; i < c->nservices; i++)
		if (c->services[i].stanza != NULL &&
		    c->services[i].stanza(c->services[i].arg, s))
			return 1;
	return 0;
}

static void
conn_services_acked(struct conn *c, uint64_t tag)
{
	size_t	i;

	for (i = 0; i < c->nservices; i++)
		if (c->services[i].acked != NULL)
			c->services[i].acked(c->services[i].arg, tag);
}

static void
conn_services_presence(struct conn *c)
{
	size_t	i;

	for (i = 0; i < c->nservices; i++)
		if (c->services[i].presence != NULL)
			c->services[i].presence(c->services[i].arg, c->show,
			    c->status);
}

void
conn_add_service(struct conn *c, const struct conn_service *svc)
{
	if (c->nservices == CONN_MAX_SERVICES)
		fatalx("conn_add_service: more than %d services",
		    CONN_MAX_SERVICES);
	c->services[c->nservices++] = *svc;
}

uint64_t
conn_tag_new(struct conn *c)
{
	return ++c->tagseq;
}

static int
conn_is_online(const struct conn *c)
{
	return c->state == CONN_ONLINE && c->step == STEP_ONLINE &&
	    c->bev != NULL;
}

int
conn_iq_send(struct conn *c, struct stanza *iq, unsigned int timeout_s,
    iq_cb cb, void *arg)
{
	if (!conn_is_online(c)) {
		stanza_free(iq);
		return -1;
	}
	conn_iq_track(c, iq, timeout_s, cb, arg);
	return 0;
}

void
conn_iq_cancel(struct conn *c, void *arg)
{
	iq_table_cancel(c->iqs, arg);
	conn_iq_arm(c);
}

int
conn_send_stanza(struct conn *c, struct stanza *s, uint64_t tag)
{
	if (!conn_is_online(c) || (c->sm.enabled &&
	    c->sm.n >= SM_MAX_UNACKED)) {
		stanza_free(s);
		return -1;
	}
	conn_send_tagged(c, s, tag);
	stanza_free(s);
	return 0;
}

const char *
conn_bound_jid(const struct conn *c)
{
	return conn_is_online(c) ? c->bound : NULL;
}

const char *
conn_presence_show(const struct conn *c)
{
	return c->show;
}

const char *
conn_presence_status(const struct conn *c)
{
	return c->status;
}

int
conn_sm_enabled(const struct conn *c)
{
	return c->sm.enabled;
}

/*
 * Without XEP-0198, the answer to a ping proves the server has read what
 * was sent before it: one ping per burst of tagged stanzas.
 */
struct conn_ackping {
	struct conn	*c;
	uint64_t	*tags;
	size_t		 n;
};

static void
conn_ackping_cb(void *arg, enum iq_outcome how, const struct stanza *reply)
{
	struct conn_ackping	*a = arg;
	struct conn		*c = a->c;
	size_t			 i;

	(void)reply;
	if (how == IQ_RESULT || how == IQ_ERROR)
		for (i = 0; i < a->n; i++)
			conn_services_acked(c, a->tags[i]);
	free(a->tags);
	free(a);
	if (how == IQ_TIMEOUT)
		conn_fail(c, "no answer to a ping within %us; the link is "
		    "presumed dead", c->x->conf->ping_timeout);
}

static void
conn_ackping_event_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct conn		*c = arg;
	struct conn_ackping	*a;
	struct stanza		*iq;

	(void)fd;
	(void)ev;
	if (c->ack_ntags == 0)
		return;
	a = xcalloc(1, sizeof(*a));
	a->c = c;
	a->tags = c->ack_tags;
	a->n = c->ack_ntags;
	c->ack_tags = NULL;
	c->ack_ntags = c->ack_cap = 0;
	iq = conn_iq_new("get");
	stanza_set_attr(iq, "to", c->x->conf->jid.domain);
	stanza_add_child(iq, "ping", NS_PING);
	if (conn_iq_send(c, iq, c->x->conf->ping_timeout, conn_ackping_cb,
	    a) == -1) {
		/* The stream ended meanwhile: these tags are void. */
		free(a->tags);
		free(a);
	}
}

static void
conn_ack_later(struct conn *c, uint64_t tag)
{
	if (c->ack_ntags == c->ack_cap) {
		c->ack_cap = c->ack_cap ? c->ack_cap * 2 : 8;
		c->ack_tags = xreallocarray(c->ack_tags, c->ack_cap,
		    sizeof(*c->ack_tags));
	}
	c->ack_tags[c->ack_ntags++] = tag;
	event_active(c->ev_ackping, EV_TIMEOUT, 0);
}

static void
conn_set_state(struct conn *c, enum conn_state st, const char *reason)
{
	enum conn_state	prev = c->state;

	if (prev == st)
		return;
	c->state = st;
	c->since = time(NULL);
	log_set_context(conn_jid(c), conn_state_name(st));
	log_info("state change %s -> %s, reason: %s",
	    prev == CONN_CLOSING ? "closing" : conn_state_name(prev),
	    st == CONN_CLOSING ? "closing" : conn_state_name(st), reason);
	notify_state(conn_state_name(st), conn_jid(c), reason, c->retry_ms,
	    c->state == CONN_ONLINE ? c->peer : NULL);
	if (c->hooks.state != NULL)
		c->hooks.state(c->hooks.arg, prev, st, reason);
	if (st == CONN_ONLINE)
		conn_services_online(c);
	else if (prev == CONN_ONLINE)
		conn_services_offline(c);
	conn_ops_check(c);
}

static void
conn_clear_timers(struct conn *c)
{
	evtimer_del(c->ev_deadline);
	evtimer_del(c->ev_retry);
	evtimer_del(c->ev_ping);
	evtimer_del(c->ev_stable);
	c->ping_outstanding = 0;
}

/* Close the socket; a TLS bufferevent owns its fd and SSL. */
static void
conn_close_transport(struct conn *c)
{
	if (c->bev != NULL) {
		bufferevent_free(c->bev);
		c->bev = NULL;
	}
	if (c->ssl == NULL && c->fd != -1)
		close(c->fd);
	c->fd = -1;
	c->ssl = NULL;
}

/* Drop the transport and everything that belongs to one stream. */
static void
conn_teardown(struct conn *c)
{
	if (c->sm.enabled && c->sm.resumable && c->sm.lost_at == 0)
		c->sm.lost_at = time(NULL);
	c->sm.enabled = 0;
	conn_clear_timers(c);
	if (c->netreq != NULL) {
		net_resolve_cancel(c->netreq);
		c->netreq = NULL;
	}
	conn_close_transport(c);
	xml_parser_free(c->xml);
	c->xml = NULL;
	stanza_free(c->features);
	c->features = NULL;
	c->action = ACT_NONE;
	sasl_free(c->sasl);
	c->sasl = NULL;
	c->tls_active = 0;
	c->authenticated = 0;
	c->sasl_final_seen = 0;
	c->step = STEP_NONE;
	c->tls_desc[0] = '\0';
	c->sasl_used[0] = '\0';
	free(c->bound);
	c->bound = NULL;
	/* Our own requests belong to this stream. */
	iq_table_cancel(c->iqs, &c->arg_neg);
	iq_table_cancel(c->iqs, &c->arg_ping);
	iq_table_cancel(c->iqs, &c->arg_op);
	/* Tags not yet pinged for are void: no resumption without XEP-0198. */
	free(c->ack_tags);
	c->ack_tags = NULL;
	c->ack_ntags = c->ack_cap = 0;
	/* The services' requests wait for a resumption, if one may come. */
	if (!conn_sm_can_resume(c))
		iq_table_gone(c->iqs);
	conn_iq_arm(c);
}

static void
conn_retry_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct conn	*c = arg;

	(void)fd;
	(void)ev;
	c->retry_ms = 0;
	c->reconnects++;
	conn_begin(c);
}

/* Wait before the next attempt; min_ms raises the floor (stream errors). */
static void
conn_wait(struct conn *c, uint32_t min_ms, const char *reason)
{
	struct timeval	tv;
	uint32_t	ms;
	char		buf[300];

	conn_teardown(c);
	ms = backoff_next(&c->backoff);
	if (ms < min_ms)
		ms = min_ms;
	c->retry_ms = ms;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(c->ev_retry, &tv);
	snprintf(buf, sizeof(buf), "%s; retry in %.1fs", reason, ms / 1000.0);
	conn_set_state(c, CONN_WAITING, buf);
}

/*
 * A connection attempt or session failed: record why and wait, or go
 * offline when nobody wants us online.
 */
static void
conn_fail(struct conn *c, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(c->last_error, sizeof(c->last_error), fmt, ap);
	va_end(ap);
	log_warnx("%s: %s", conn_jid(c), c->last_error);
	if (!c->want_online || c->x->stopping) {
		conn_teardown(c);
		conn_set_state(c, CONN_OFFLINE, c->last_error);
		if (c->x->stopping)
			xmppd_stopped(c->x);
		return;
	}
	conn_wait(c, 0, c->last_error);
}

static void
conn_auth_failed(struct conn *c, const char *why)
{
	snprintf(c->last_error, sizeof(c->last_error), "%s", why);
	log_warnx("%s: %s; not retrying until reauth, reload or SIGHUP",
	    conn_jid(c), why);
	conn_teardown(c);
	c->retry_ms = 0;
	conn_set_state(c, CONN_AUTH_FAILED, why);
}

static void
conn_deadline_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct conn	*c = arg;

	(void)fd;
	(void)ev;
	if (c->state == CONN_CLOSING) {
		log_debug("server did not close the stream in time");
		conn_closed(c);
		return;
	}
	if (c->state == CONN_CONNECTING) {
		snprintf(c->last_error, sizeof(c->last_error),
		    "connect to %s timed out", c->peer);
		log_info("%s", c->last_error);
		conn_close_transport(c);
		c->addr_idx++;
		conn_try_next(c);
		return;
	}
	conn_fail(c, "timed out %s", c->deadline_what);
}

static void
conn_arm_deadline(struct conn *c, unsigned int secs, const char *what)
{
	struct timeval	tv = { secs, 0 };

	c->deadline_what = what;
	evtimer_add(c->ev_deadline, &tv);
}

/* ---------------------------------------------------------------------- */
/* resolve and connect */

static void
conn_begin(struct conn *c)
{
	struct config	*conf = c->x->conf;
	const char	*err, *host = conf->server_host;
	char		*redirect;
	uint16_t	 port = conf->server_port;
	int		 mode;

	conn_teardown(c);
	c->want_online = 1;
	mode = conf->tls == TLS_MODE_DIRECT ? NET_MODE_DIRECT :
	    conf->tls == TLS_MODE_STARTTLS ? NET_MODE_STARTTLS : NET_MODE_AUTO;
	/* A redirect (see-other-host) applies to the next attempt only. */
	redirect = c->redirect_host;
	c->redirect_host = NULL;
	if (redirect != NULL) {
		host = redirect;
		port = c->redirect_port;
	}
	conn_set_state(c, CONN_RESOLVING, host ? host : conf->jid.domain);
	c->netreq = net_resolve(c->x->base, conf->jid.domain, host, port, mode,
	    conf->connect_timeout * 2, conn_resolved, c, &err);
	free(redirect);
	if (c->netreq == NULL)
		conn_fail(c, "%s", err);
}

static void
conn_resolved(void *arg, struct net_addrlist *list, const char *err)
{
	struct conn	*c = arg;

	c->netreq = NULL;
	if (list == NULL) {
		conn_fail(c, "cannot find the server for %s: %s",
		    c->x->conf->jid.domain, err);
		return;
	}
	net_addrlist_free(c->addrs);
	c->addrs = list;
	c->addr_idx = 0;
	conn_try_next(c);
}

static void
conn_try_next(struct conn *c)
{
	struct net_addr	*a;
	int		 fd;

	for (; c->addr_idx < c->addrs->n; c->addr_idx++) {
		a = &c->addrs->addrs[c->addr_idx];
		snprintf(c->peer, sizeof(c->peer), "%s", net_addr_str(a));
		fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
		if (fd == -1) {
			log_warn("socket for %s", c->peer);
			continue;
		}
		c->bev = bufferevent_socket_new(c->x->base, fd, 0);
		if (c->bev == NULL) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->direct_tls = a->direct_tls;
		bufferevent_setcb(c->bev, conn_read_cb, NULL, conn_event_cb, c);
		bufferevent_setwatermark(c->bev, EV_READ, 0, READ_HIGHWAT);
		bufferevent_enable(c->bev, EV_READ | EV_WRITE);
		if (bufferevent_socket_connect(c->bev,
		    (struct sockaddr *)&a->ss, a->sslen) == -1) {
			snprintf(c->last_error, sizeof(c->last_error),
			    "connect to %s: %s", c->peer, strerror(errno));
			log_info("%s", c->last_error);
			bufferevent_free(c->bev);
			c->bev = NULL;
			close(fd);
			c->fd = -1;
			continue;
		}
		conn_set_state(c, CONN_CONNECTING, c->peer);
		conn_arm_deadline(c, c->x->conf->connect_timeout,
		    "connecting");
		return;
	}
	{
		char	last[sizeof(c->last_error)];

		/* conn_fail() writes last_error: copy it first. */
		snprintf(last, sizeof(last), "%s", c->last_error);
		conn_fail(c, "could not connect to %s%s%s",
		    c->x->conf->jid.domain, last[0] ? "; last error: " : "",
		    last);
	}
}

/*
 * Servers write small records back to back (TLS 1.3 session tickets, the
 * stream header, features) with Nagle on; with delayed ACKs on our side
 * the second write waits ~40 ms for our ACK.  Quick-ACK mode does not
 * stick, so re-arm it whenever we read during negotiation.
 */
static void
conn_quickack(struct conn *c)
{
	int	on = 1;

	if (c->fd != -1 && c->step != STEP_ONLINE)
		setsockopt(c->fd, IPPROTO_TCP, TCP_QUICKACK, &on, sizeof(on));
}

static void
conn_tcp_up(struct conn *c)
{
	int	on = 1;

	/* Stanzas are written whole; do not let Nagle hold them back. */
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	setsockopt(c->fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
	conn_quickack(c);
	evtimer_del(c->ev_deadline);
	log_debug("connected to %s%s", c->peer,
	    c->direct_tls ? " (direct TLS)" : "");
	conn_set_state(c, CONN_SECURING, c->peer);
	if (c->direct_tls)
		conn_start_tls(c);
	else
		conn_open_stream(c);
}

/* A failed handshake costs this address only; the next one may do. */
static void
conn_tls_failed(struct conn *c)
{
	unsigned long	e;
	char		buf[256];

	tls_forget_session();
	e = bufferevent_get_openssl_error(c->bev);
	if (SSL_get_verify_result(c->ssl) == X509_V_OK &&
	    (e == 0 || ERR_GET_LIB(e) == 0))
		snprintf(c->last_error, sizeof(c->last_error), "TLS handshake "
		    "with %s failed: the connection was closed", c->peer);
	else if (SSL_get_verify_result(c->ssl) == X509_V_OK) {
		ERR_error_string_n(e, buf, sizeof(buf));
		snprintf(c->last_error, sizeof(c->last_error), "TLS handshake "
		    "with %s failed: %s", c->peer, buf);
	} else
		snprintf(c->last_error, sizeof(c->last_error), "TLS handshake "
		    "with %s failed: %s", c->peer, tls_error_string(c->ssl));
	if (c->addrs == NULL || c->addr_idx + 1 >= c->addrs->n) {
		char	last[sizeof(c->last_error)];

		snprintf(last, sizeof(last), "%s", c->last_error);
		conn_fail(c, "%s", last);
		return;
	}
	log_warnx("%s: %s; trying the next address", conn_jid(c),
	    c->last_error);
	evtimer_del(c->ev_deadline);
	conn_close_transport(c);
	c->tls_active = 0;
	c->step = STEP_NONE;
	c->addr_idx++;
	conn_try_next(c);
}

static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn	*c = arg;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		if (c->state == CONN_CONNECTING)
			conn_tcp_up(c);
		else if (c->step == STEP_TLS) {
			conn_quickack(c);
			c->tls_active = 1;
			snprintf(c->tls_desc, sizeof(c->tls_desc), "%s%s",
			    tls_describe(c->ssl), SSL_session_reused(c->ssl) ?
			    " (resumed)" : "");
			log_info("TLS established with %s: %s", c->peer,
			    c->tls_desc);
			if (!c->x->conf->tls_verify)
				log_warnx("TLS certificate NOT verified "
				    "(tls_verify = no): the connection to %s "
				    "is open to interception", c->peer);
			conn_open_stream(c);
		}
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		if (c->state == CONN_CONNECTING) {
			snprintf(c->last_error, sizeof(c->last_error),
			    "connect to %s: %s", c->peer,
			    evutil_socket_error_to_string(
			    EVUTIL_SOCKET_ERROR()));
			log_info("%s", c->last_error);
			conn_close_transport(c);
			evtimer_del(c->ev_deadline);
			c->addr_idx++;
			conn_try_next(c);
			return;
		}
		if (c->step == STEP_TLS) {
			conn_tls_failed(c);
			return;
		}
		if (c->state == CONN_CLOSING) {
			conn_closed(c);
			return;
		}
		conn_fail(c, "connection to %s lost: %s", c->peer,
		    errno ? strerror(errno) : "error");
		return;
	}
	if (what & BEV_EVENT_EOF) {
		if (c->state == CONN_CLOSING) {
			conn_closed(c);
			return;
		}
		if (c->step == STEP_TLS) {
			conn_tls_failed(c);
			return;
		}
		conn_fail(c, "connection to %s closed by the server", c->peer);
	}
}

/* Send our stream header on a fresh parser. */
static void
conn_open_stream(struct conn *c)
{
	char	*out;
	size_t	 len;

	xml_parser_free(c->xml);
	c->xml = conn_xml_new(c);
	len = xasprintf(&out, "<?xml version='1.0'?><stream:stream "
	    "xmlns='" NS_CLIENT "' xmlns:stream='" NS_STREAMS "' to='%s' "
	    "from='%s' version='1.0' xml:lang='en'>", c->x->conf->jid.domain,
	    c->bare);
	conn_send_raw(c, out, len);
	free(out);
	c->step = STEP_HEADER;
	/* A server that accepts TCP and says nothing costs connect_timeout. */
	conn_arm_deadline(c, c->x->conf->connect_timeout,
	    "waiting for the stream header");
}

static long
conn_bio_cb(BIO *b, int oper, const char *argp, size_t len, int argi,
    long argl, int ret, size_t *processed)
{
	(void)b;
	(void)argp;
	(void)len;
	(void)argi;
	(void)argl;
	(void)processed;
	if (oper == (BIO_CB_READ | BIO_CB_RETURN))
		conn_quickack((struct conn *)BIO_get_callback_arg(b));
	return ret;
}

/* Replace the plain socket bufferevent with a TLS one on the same fd. */
static void
conn_start_tls(struct conn *c)
{
	struct bufferevent	*bev;
	char			*cause = NULL;

	xml_parser_free(c->xml);
	c->xml = NULL;
	c->ssl = tls_ssl_new(c->x->tls_ctx, c->x->conf->jid.domain,
	    c->x->conf->tls_verify, c->direct_tls, &cause);
	if (c->ssl == NULL) {
		conn_fail(c, "TLS set-up: %s", cause);
		free(cause);
		return;
	}
	if (c->bev != NULL) {
		bufferevent_free(c->bev);
		c->bev = NULL;
	}
	bev = bufferevent_openssl_socket_new(c->x->base, c->fd, c->ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		SSL_free(c->ssl);
		c->ssl = NULL;
		conn_fail(c, "cannot create the TLS stream");
		return;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	/*
	 * Re-arm quick ACKs on every read OpenSSL makes, also those that
	 * carry only handshake records (TLS 1.3 tickets) and so never reach
	 * conn_read_cb(): their ACK is what the server's Nagle waits for.
	 */
	BIO_set_callback_ex(SSL_get_rbio(c->ssl), conn_bio_cb);
	BIO_set_callback_arg(SSL_get_rbio(c->ssl), (char *)c);
	c->bev = bev;
	bufferevent_setcb(bev, conn_read_cb, NULL, conn_event_cb, c);
	bufferevent_setwatermark(bev, EV_READ, 0, READ_HIGHWAT);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	c->step = STEP_TLS;
	conn_arm_deadline(c, NEGOTIATION_TIMEOUT, "in the TLS handshake");
}

/* ---------------------------------------------------------------------- */
/* deferred actions: decided inside callbacks, done outside them */

/* Record what must happen once the parser has returned; stops parsing. */
static int
conn_defer(struct conn *c, int action, uint32_t min_ms, const char *fmt, ...)
{
	va_list	ap;

	/* The first decision wins: a later one is a consequence of it. */
	if (c->action != ACT_NONE)
		return XML_STOP;
	c->action = action;
	c->action_min_ms = min_ms;
	c->action_reason[0] = '\0';
	if (fmt != NULL) {
		va_start(ap, fmt);
		vsnprintf(c->action_reason, sizeof(c->action_reason), fmt, ap);
		va_end(ap);
	}
	event_active(c->ev_action, EV_TIMEOUT, 0);
	return XML_STOP;
}

static void
conn_do_action(struct conn *c)
{
	int	action = c->action;
	char	reason[256];

	c->action = ACT_NONE;
	snprintf(reason, sizeof(reason), "%s", c->action_reason);
	switch (action) {
	case ACT_NONE:
		break;
	case ACT_RESTART:
		conn_open_stream(c);
		break;
	case ACT_STARTTLS:
		conn_start_tls(c);
		break;
	case ACT_FAIL:
		snprintf(c->last_error, sizeof(c->last_error), "%s", reason);
		if (c->state == CONN_CLOSING) {
			conn_closed(c);
			break;
		}
		if (c->action_min_ms > 0 && c->want_online &&
		    !c->x->stopping) {
			log_warnx("%s: %s", conn_jid(c), reason);
			conn_wait(c, c->action_min_ms, reason);
		} else
			conn_fail(c, "%s", reason);
		break;
	case ACT_AUTHFAIL:
		conn_auth_failed(c, reason);
		break;
	case ACT_CLOSED:
		if (c->state == CONN_CLOSING)
			conn_closed(c);
		else {
			conn_send_raw(c, "</stream:stream>", 16);
			conn_sm_forget(c, 1);
			conn_fail(c, "the server closed the stream");
		}
		break;
	case ACT_REDIRECT:
		log_info("redirected to %s:%u", c->redirect_host,
		    c->redirect_port);
		conn_begin(c);
		break;
	}
}

static void
conn_action_cb(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	conn_do_action(arg);
}

static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct conn		*c = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	struct evbuffer_iovec	 v;
	const char		*cond, *detail;
	int			 r;

	/*
	 * expat 2.5 rescans an unfinished token on every call: a server
	 * trickling one byte at a time would cost quadratic CPU.  Feed it
	 * only once a tag can have ended, or a few KiB have gathered.
	 */
	conn_quickack(c);
	notify_watchdog_kick();
	if (evbuffer_get_length(in) < FEED_BATCH &&
	    evbuffer_search(in, ">", 1, NULL).pos == -1)
		return;
	while (c->xml != NULL && c->action == ACT_NONE &&
	    evbuffer_get_length(in) > 0) {
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		r = xml_feed(c->xml, v.iov_base, v.iov_len, &cond, &detail);
		evbuffer_drain(in, v.iov_len);
		if (r == XML_ERROR) {
			conn_stream_error(c, cond, detail);
			conn_defer(c, ACT_FAIL, 0, "invalid XML from the "
			    "server: %s (%s)", detail, cond);
		}
	}
	if (c->xml == NULL && c->step != STEP_TLS)
		evbuffer_drain(in, evbuffer_get_length(in));
	conn_do_action(c);
}

/* ---------------------------------------------------------------------- */
/* the stream */

static int
conn_xml_open(void *arg, const struct stanza *hdr)
{
	struct conn	*c = arg;
	const char	*ver = stanza_attr(hdr, "version");

	if (c->step != STEP_HEADER)
		return conn_defer(c, ACT_FAIL, 0, "unexpected stream header");
	if (ver == NULL || strncmp(ver, "1.", 2) != 0) {
		conn_stream_error(c, "unsupported-version", NULL);
		return conn_defer(c, ACT_FAIL, 0, "server speaks stream "
		    "version %.10s, not 1.x", ver ? ver : "(none)");
	}
	c->step = STEP_FEATURES;
	conn_arm_deadline(c, NEGOTIATION_TIMEOUT,
	    "waiting for stream features");
	return XML_CONTINUE;
}

static int
conn_xml_close(void *arg)
{
	return conn_defer(arg, ACT_CLOSED, 0, "stream closed by the server");
}

static const char *
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

static int
conn_parse_hostport(const char *s, char **host, uint16_t *port)
{
	const char	*p, *errstr;
	char		*h;
	long long	 n = 5222;

	if (*s == '[') {
		if ((p = strchr(s, ']')) == NULL)
			return -1;
		h = xstrndup(s + 1, p - s - 1);
		p++;
	} else if ((p = strrchr(s, ':')) != NULL && strchr(s, ':') == p)
		h = xstrndup(s, p - s);
	else {
		h = xstrdup(s);
		p = NULL;
	}
	if (p != NULL && *p == ':') {
		n = xstrtonum(p + 1, 1, 65535, &errstr);
		if (errstr != NULL) {
			free(h);
			return -1;
		}
	}
	if (*h == '\0' || strlen(h) > 255) {
		free(h);
		return -1;
	}
	*host = h;
	*port = (uint16_t)n;
	return 0;
}

static int
conn_stream_err(struct conn *c, struct stanza *s)
{
	const char	*text, *cond;
	char		*esc = NULL, *host;
	struct stanza	*ch;
	uint16_t	 port;
	int		 r;

	cond = conn_error_condition(s, NS_STREAMERR, &text);
	if (text != NULL)
		esc = log_escape(text, strnlen(text, 200));
	conn_send_raw(c, "</stream:stream>", 16);
	if (strcmp(cond, "see-other-host") == 0 &&
	    (ch = stanza_child(s, "see-other-host", NS_STREAMERR)) != NULL) {
		if (c->redirects >= MAX_REDIRECTS) {
			c->redirects = 0;	/* the backoff decides now */
			r = conn_defer(c, ACT_FAIL, 0, "stream error "
			    "see-other-host: more than %d redirects in a row",
			    MAX_REDIRECTS);
		}
		else if (conn_parse_hostport(stanza_text(ch), &host,
		    &port) == -1)
			r = conn_defer(c, ACT_FAIL, 0, "stream error "
			    "see-other-host with an invalid address");
		else {
			free(c->redirect_host);
			c->redirect_host = host;
			c->redirect_port = port;
			c->redirects++;
			r = conn_defer(c, ACT_REDIRECT, 0, NULL);
		}
	} else if (strcmp(cond, "conflict") == 0)
		/* Another client took our resource: do not ping-pong. */
		r = conn_defer(c, ACT_FAIL, 60000, "stream error conflict%s%s "
		    "(another session uses this resource)", esc ? ": " : "",
		    esc ? esc : "");
	else if (strcmp(cond, "system-shutdown") == 0)
		/* The server is restarting: give it a moment, not more. */
		r = conn_defer(c, ACT_FAIL, 2000, "stream error "
		    "system-shutdown%s%s", esc ? ": " : "", esc ? esc : "");
	else
		r = conn_defer(c, ACT_FAIL, 0, "stream error %s%s%s", cond,
		    esc ? ": " : "", esc ? esc : "");
	free(esc);
	return r;
}

static int
conn_xml_stanza(void *arg, struct stanza *s)
{
	struct conn	*c = arg;
	const char	*name = stanza_name(s), *ns = stanza_ns(s);
	int		 r = XML_CONTINUE;

	if (ns != NULL && strcmp(ns, NS_STREAMS) == 0) {
		if (strcmp(name, "error") == 0)
			r = conn_stream_err(c, s);
		else if (strcmp(name, "features") == 0 &&
		    c->step == STEP_FEATURES) {
			stanza_free(c->features);
			c->features = s;
			evtimer_del(c->ev_deadline);
			conn_features(c, s);
			return c->action != ACT_NONE ? XML_STOP : XML_CONTINUE;
		}
		stanza_free(s);
		return r;
	}
	if (c->state == CONN_CLOSING) {
		stanza_free(s);
		return XML_CONTINUE;
	}
	if (ns != NULL && strcmp(ns, NS_SM) == 0) {
		r = conn_sm_input(c, s);
		stanza_free(s);
		return c->action != ACT_NONE ? XML_STOP : r;
	}
	switch (c->step) {
	case STEP_PROCEED:
		if (ns != NULL && strcmp(ns, NS_TLS) == 0 &&
		    strcmp(name, "proceed") == 0)
			r = conn_defer(c, ACT_STARTTLS, 0, NULL);
		else
			r = conn_defer(c, ACT_FAIL, 0, "the server refused "
			    "STARTTLS");
		break;
	case STEP_SASL:
		r = conn_sasl_input(c, s);
		break;
	case STEP_REG_FORM:
	case STEP_REG_SUBMIT:
	case STEP_BIND:
	case STEP_SESSION:
		if (strcmp(name, "iq") != 0 || !iq_table_input(c->iqs, s))
			log_debug("ignoring <%s/> during negotiation", name);
		conn_iq_arm(c);
		break;
	case STEP_ONLINE:
		conn_stanza_online(c, s);
		/* XEP-0198 counts every stanza we handled. */
		if (c->sm.enabled && (strcmp(name, "message") == 0 ||
		    strcmp(name, "presence") == 0 || strcmp(name, "iq") == 0))
			c->sm.h_in++;
		break;
	default:
		log_debug("ignoring <%s/> before negotiation", name);
		break;
	}
	stanza_free(s);
	return c->action != ACT_NONE ? XML_STOP : r;
}

static struct xml_parser *
conn_xml_new(struct conn *c)
{
	static const struct xml_callbacks cbs = {
		conn_xml_open, conn_xml_stanza, conn_xml_close
	};

	return xml_parser_new(&cbs, c, c->x->conf->max_stanza_size, 64);
}

/* ---------------------------------------------------------------------- */
/* features, SASL */

static void
conn_features(struct conn *c, struct stanza *f)
{
	if (!c->tls_active) {
		if (stanza_child(f, "starttls", NS_TLS) == NULL) {
			conn_defer(c, ACT_FAIL, 0, "%s does not offer STARTTLS;"
			    " refusing to continue without TLS", c->peer);
			return;
		}
		conn_send_raw(c, "<starttls xmlns='" NS_TLS "'/>",
		    sizeof("<starttls xmlns='" NS_TLS "'/>") - 1);
		c->step = STEP_PROCEED;
		conn_arm_deadline(c, NEGOTIATION_TIMEOUT,
		    "waiting for STARTTLS to proceed");
		return;
	}
	if (!c->authenticated) {
		if (c->want_register)
			conn_register_start(c);
		else
			conn_auth_start(c);
		return;
	}
	if (conn_sm_can_resume(c) && stanza_child(f, "sm", NS_SM) != NULL) {
		struct stanza	*r = stanza_new("resume", NS_SM);
		char		 h[16], *out;
		size_t		 len;

		/* The id is the server's: let the serializer escape it. */
		snprintf(h, sizeof(h), "%u", c->sm.h_in);
		stanza_set_attr(r, "previd", c->sm.id);
		stanza_set_attr(r, "h", h);
		out = stanza_to_string(r, NS_CLIENT, &len);
		conn_send_raw(c, out, len);
		free(out);
		stanza_free(r);
		c->step = STEP_RESUME;
		conn_set_state(c, CONN_BINDING, "resuming the session");
		conn_arm_deadline(c, NEGOTIATION_TIMEOUT, "resuming");
		return;
	}
	if (stanza_child(f, "bind", NS_BIND) == NULL) {
		conn_defer(c, ACT_FAIL, 0, "server offers no resource binding");
		return;
	}
	{
		struct stanza	*sess = stanza_child(f, "session", NS_SESSION);

		c->session_required = sess != NULL &&
		    stanza_child(sess, "optional", NULL) == NULL;
	}
	{
		struct stanza	*iq, *b;

		iq = conn_iq_new("set");
		b = stanza_add_child(iq, "bind", NS_BIND);
		if (c->x->conf->jid.resource != NULL)
			stanza_add_text_child(b, "resource", NULL,
			    c->x->conf->jid.resource);
		conn_iq_track(c, iq, 0, conn_negotiation_iq, &c->arg_neg);
	}
	c->step = STEP_BIND;
	conn_set_state(c, CONN_BINDING, "authenticated");
	conn_arm_deadline(c, NEGOTIATION_TIMEOUT, "binding a resource");
}

static void
conn_sasl_offer(struct conn *c, struct sasl_offer *o)
{
	struct stanza	*m, *ch;
	enum sasl_mech	 mech;
	enum sasl_cb	 cb;

	memset(o, 0, sizeof(*o));
	if ((m = stanza_child(c->features, "mechanisms", NS_SASL)) != NULL)
		for (ch = stanza_first_child(m); ch;
		    ch = stanza_next_sibling(ch))
			if (strcmp(stanza_name(ch), "mechanism") == 0 &&
			    (mech = sasl_mech_from_name(stanza_text(ch))) !=
			    SASL_NONE)
				o->mechs |= SASL_BIT(mech);
	/* XEP-0440: the binding types the server accepts. */
	if ((m = stanza_child(c->features, "sasl-channel-binding",
	    NS_SASL_CB)) != NULL) {
		o->cb_list = 1;
		for (ch = stanza_first_child(m); ch;
		    ch = stanza_next_sibling(ch))
			if (stanza_attr(ch, "type") != NULL && (cb =
			    sasl_cb_from_name(stanza_attr(ch, "type"))) !=
			    SASL_CB_NONE)
				o->cb_types |= SASL_BIT(cb);
	}
	c->sasl_cb_list = o->cb_list;
	o->tls = c->tls_active;
	o->tls13 = c->ssl != NULL && tls_is_13(c->ssl);
	o->cb_avail = c->ssl != NULL ? tls_cb_avail(c->ssl) : 0;
	o->no_plus = c->auth_retry_noplus;
}

/* Give SASL the offer exactly as received, for XEP-0474. */
static void
conn_sasl_ssdp(struct conn *c)
{
	const char	*mechs[32], *cbs[16];
	struct stanza	*m, *ch;
	size_t		 nm = 0, nc = 0;
	int		 have_cbs = 0;

	if ((m = stanza_child(c->features, "mechanisms", NS_SASL)) != NULL)
		for (ch = stanza_first_child(m); ch != NULL &&
		    nm < nitems(mechs) - 1; ch = stanza_next_sibling(ch))
			if (strcmp(stanza_name(ch), "mechanism") == 0)
				mechs[nm++] = stanza_text(ch);
	mechs[nm] = NULL;
	if ((m = stanza_child(c->features, "sasl-channel-binding",
	    NS_SASL_CB)) != NULL) {
		have_cbs = 1;
		for (ch = stanza_first_child(m); ch != NULL &&
		    nc < nitems(cbs) - 1; ch = stanza_next_sibling(ch))
			if (stanza_attr(ch, "type") != NULL)
				cbs[nc++] = stanza_attr(ch, "type");
	}
	cbs[nc] = NULL;
	sasl_set_ssdp(c->sasl, mechs, have_cbs ? cbs : NULL);
}

static void
conn_auth_start(struct conn *c)
{
	struct sasl_offer	 offer;
	unsigned char		 cbdata[TLS_CB_MAX], *init = NULL;
	size_t			 cblen = 0, initlen;
	const char		*errstr, *user = c->x->conf->jid.local;
	char			*b64, *out;
	size_t			 len;
	int			 pinned;

	conn_sasl_offer(c, &offer);
	pinned = pin_load(c->x->conf->state_dir, c->bare);
	offer.exclude = pin_exclude(pinned);
	if (sasl_choose(&offer, &c->choice, &errstr) == -1) {
		offer.exclude = 0;
		if (pinned > 0 && sasl_choose(&offer, &c->choice,
		    &errstr) == 0) {
			char *path = pin_path(c->x->conf->state_dir, c->bare);

			/* Something weaker would do: that is the attack. */
			conn_defer(c, ACT_AUTHFAIL, 0, "refusing %s: %s "
			    "worked for this account before, so a weaker offer "
			    "may be a downgrade attack (if the server changed "
			    "on purpose, remove %s and run xmppd-ctl reauth)",
			    sasl_mech_name(c->choice.mech),
			    pin_rank_name(pinned), path);
			free(path);
			return;
		}
		conn_defer(c, ACT_FAIL, 0, "%s", errstr);
		return;
	}
	if (c->choice.cb != SASL_CB_NONE) {
		cblen = sizeof(cbdata);
		if (tls_cb_data(c->ssl, c->choice.cb, cbdata, &cblen) == -1) {
			conn_defer(c, ACT_FAIL, 0, "cannot compute %s channel "
			    "binding", sasl_cb_name(c->choice.cb));
			return;
		}
	}
	sasl_free(c->sasl);
	c->sasl = sasl_new(&c->choice, user, c->password, cbdata, cblen);
	OPENSSL_cleanse(cbdata, sizeof(cbdata));
	conn_sasl_ssdp(c);
	c->sasl_final_seen = 0;
	if (sasl_initial(c->sasl, &init, &initlen) == -1) {
		conn_defer(c, ACT_FAIL, 0, "SASL set-up failed");
		return;
	}
	b64 = initlen ? b64_encode(init, initlen) : xstrdup("=");
	OPENSSL_cleanse(init, initlen);
	free(init);
	len = xasprintf(&out, "<auth xmlns='" NS_SASL "' mechanism='%s'>%s"
	    "</auth>", sasl_mech_name(c->choice.mech), b64);
	conn_send_raw(c, out, len);
	OPENSSL_cleanse(out, len);
	free(out);
	free(b64);
	snprintf(c->sasl_used, sizeof(c->sasl_used), "%s",
	    sasl_mech_name(c->choice.mech));
	log_debug("authenticating with %s%s%s", c->sasl_used,
	    c->choice.cb ? " over " : "",
	    c->choice.cb ? sasl_cb_name(c->choice.cb) : "");
	c->step = STEP_SASL;
	conn_set_state(c, CONN_AUTHENTICATING, c->sasl_used);
	conn_arm_deadline(c, NEGOTIATION_TIMEOUT, "authenticating");
}

static void
conn_sasl_respond(struct conn *c, const unsigned char *data, size_t len)
{
	char	*b64, *out;
	size_t	 olen;

	b64 = len ? b64_encode(data, len) : xstrdup("");
	olen = xasprintf(&out, "<response xmlns='" NS_SASL "'>%s</response>",
	    b64);
	conn_send_raw(c, out, olen);
	OPENSSL_cleanse(out, olen);
	free(out);
	free(b64);
}

static int
conn_sasl_abort(struct conn *c, const char *why)
{
	conn_send_raw(c, "<abort xmlns='" NS_SASL "'/>",
	    sizeof("<abort xmlns='" NS_SASL "'/>") - 1);
	return conn_defer(c, ACT_FAIL, 0, "authentication aborted: %s", why);
}

static int
conn_sasl_challenge(struct conn *c, struct stanza *s)
{
	unsigned char	*in, *out = NULL;
	size_t		 inlen, outlen;
	const char	*errstr;
	const char	*t = stanza_text(s);
	int		 r;

	if (b64_decode(t, strlen(t), &in, &inlen) == -1)
		return conn_sasl_abort(c, "invalid base64 in a challenge");
	if (!c->sasl_final_seen && c->step == STEP_SASL &&
	    (r = sasl_step(c->sasl, in, inlen, &out, &outlen, &errstr)) == 0) {
		conn_sasl_respond(c, out, outlen);
		OPENSSL_cleanse(out, outlen);
		free(out);
		c->sasl_final_seen = -1;	/* next data is server-final */
		free(in);
		return XML_CONTINUE;
	}
	if (c->sasl_final_seen == -1) {
		/* server-final sent as a challenge (RFC 6120 §6.3.10) */
		r = sasl_finish(c->sasl, in, inlen, &errstr);
		free(in);
		if (r == -1)
			return conn_sasl_abort(c, errstr);
		c->sasl_final_seen = 1;
		conn_sasl_respond(c, NULL, 0);
		return XML_CONTINUE;
	}
	free(in);
	return conn_sasl_abort(c, errstr);
}

static int
conn_sasl_success(struct conn *c, struct stanza *s)
{
	unsigned char	*in;
	size_t		 inlen;
	const char	*errstr, *t = stanza_text(s);

	if (c->sasl_final_seen != 1) {
		if (b64_decode(t, strlen(t), &in, &inlen) == -1)
			return conn_defer(c, ACT_FAIL, 0, "invalid base64 in "
			    "SASL success");
		if (*t == '\0')
			inlen = 0;
		if (sasl_finish(c->sasl, in, inlen, &errstr) == -1) {
			free(in);
			return conn_defer(c, ACT_FAIL, 0, "refusing the "
			    "server's SASL success: %s", errstr);
		}
		free(in);
	}
	sasl_free(c->sasl);
	c->sasl = NULL;
	c->authenticated = 1;
	log_info("authenticated as %s with %s", c->bare, c->sasl_used);
	if (pin_rank(c->choice.mech) > 0) {
		char	*cause = NULL;

		if (pin_store(c->x->conf->state_dir, c->bare,
		    pin_rank(c->choice.mech), &cause) == -1) {
			log_warnx("cannot remember the SASL mechanism: %s",
			    cause);
			free(cause);
		}
	}
	return conn_defer(c, ACT_RESTART, 0, NULL);
}

static int
conn_sasl_input(struct conn *c, struct stanza *s)
{
	const char	*name = stanza_name(s), *ns = stanza_ns(s), *cond;
	const char	*text;

	if (ns == NULL || strcmp(ns, NS_SASL) != 0)
		return conn_defer(c, ACT_FAIL, 0, "unexpected <%s/> during "
		    "authentication", name);
	if (strcmp(name, "challenge") == 0)
		return conn_sasl_challenge(c, s);
	if (strcmp(name, "success") == 0)
		return conn_sasl_success(c, s);
	if (strcmp(name, "failure") != 0)
		return conn_defer(c, ACT_FAIL, 0, "unexpected <%s/> during "
		    "authentication", name);
	cond = conn_error_condition(s, NS_SASL, &text);
	if (c->choice.cb != SASL_CB_NONE && !c->sasl_cb_list &&
	    !c->auth_retry_noplus) {
		/*
		 * Some servers offer -PLUS on TLS 1.3 without a XEP-0440
		 * list and then reject the binding: try once without it.
		 */
		log_warnx("server rejected %s (%s) without listing its "
		    "channel-binding types; retrying without binding",
		    c->sasl_used, cond);
		c->auth_retry_noplus = 1;
		conn_auth_start(c);
		return XML_CONTINUE;
	}
	if (strcmp(cond, "not-authorized") == 0 ||
	    strcmp(cond, "credentials-expired") == 0 ||
	    strcmp(cond, "account-disabled") == 0 ||
	    strcmp(cond, "invalid-authzid") == 0)
		return conn_defer(c, ACT_AUTHFAIL, 0, "authentication failed "
		    "(%s): the server rejected the credentials for %s", cond,
		    c->bare);
	return conn_defer(c, ACT_FAIL, 0, "authentication failed: %s", cond);
}

/* ---------------------------------------------------------------------- */
/* in-band registration (XEP-0077), bind, session */

static struct conn_op *
conn_cur_op(struct conn *c)
{
	struct conn_op	*op = TAILQ_FIRST(&c->ops);

	return op != NULL && op->started ? op : NULL;
}

/* Remember how registration went; the login continues either way. */
static void
conn_reg_outcome(struct conn *c, const char *code, const char *fmt, ...)
{
	struct conn_op	*op = conn_cur_op(c);
	va_list		 ap;
	char		 buf[512];

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	c->want_register = 0;
	if (code == NULL)
		log_info("registered %s", c->bare);
	else if (strcmp(code, CTL_ERR_CONFLICT) == 0)
		log_info("%s is already registered", c->bare);
	else
		log_warnx("registration of %s failed: %s", c->bare, buf);
	if (op != NULL && op->cmd == CTL_REGISTER) {
		op->reg_code = code;
		free(op->reg_text);
		op->reg_text = xstrdup(buf);
	}
}

/* A new <iq><query xmlns=NS/></iq>; returns the query (iq is its parent). */
static struct stanza *
conn_iq_query(const char *type, const char *ns)
{
	return stanza_add_child(conn_iq_new(type), "query", ns);
}

static void
conn_register_start(struct conn *c)
{
	struct stanza	*q, *iq;

	if (stanza_child(c->features, "register", NS_REG_FEATURE) == NULL) {
		conn_reg_outcome(c, CTL_ERR_CLOSED, "the server does not "
		    "offer in-band registration");
		conn_auth_start(c);
		return;
	}
	q = conn_iq_query("get", NS_REGISTER);
	iq = stanza_parent(q);
	stanza_set_attr(iq, "to", c->x->conf->jid.domain);
	conn_iq_track(c, iq, 0, conn_negotiation_iq, &c->arg_neg);
	c->step = STEP_REG_FORM;
	conn_set_state(c, CONN_REGISTERING, "registering the account");
	conn_arm_deadline(c, NEGOTIATION_TIMEOUT, "registering");
}

/* Names of required fields in a form that we cannot fill. */
static void
conn_form_missing(struct stanza *x, char *buf, size_t len)
{
	struct stanza	*f;
	const char	*var, *type;

	buf[0] = '\0';
	for (f = stanza_first_child(x); f; f = stanza_next_sibling(f)) {
		if (strcmp(stanza_name(f), "field") != 0)
			continue;
		var = stanza_attr(f, "var");
		type = stanza_attr(f, "type");
		if (var == NULL || strcmp(var, "username") == 0 ||
		    strcmp(var, "password") == 0 ||
		    (type != NULL && strcmp(type, "hidden") == 0) ||
		    stanza_child(f, "required", NULL) == NULL)
			continue;
		if (buf[0] != '\0')
			strncat(buf, ", ", len - strlen(buf) - 1);
		strncat(buf, var, len - strlen(buf) - 1);
	}
}

static const char *
conn_oob_url(const struct stanza *q)
{
	struct stanza	*x, *u;

	if ((x = stanza_child(q, "x", NS_OOB)) != NULL &&
	    (u = stanza_child(x, "url", NULL)) != NULL)
		return stanza_text(u);
	return NULL;
}

static void
conn_register_submit(struct conn *c, struct stanza *form)
{
	struct stanza	*q, *iq, *x, *f, *ch;
	const char	*var, *user = c->x->conf->jid.local;

	q = conn_iq_query("set", NS_REGISTER);
	iq = stanza_parent(q);
	stanza_set_attr(iq, "to", c->x->conf->jid.domain);
	if ((x = stanza_child(form, "x", NS_XDATA)) != NULL) {
		struct stanza *sub = stanza_add_child(q, "x", NS_XDATA);

		stanza_set_attr(sub, "type", "submit");
		for (f = stanza_first_child(x); f; f = stanza_next_sibling(f)) {
			if (strcmp(stanza_name(f), "field") != 0 ||
			    (var = stanza_attr(f, "var")) == NULL)
				continue;
			ch = stanza_add_child(sub, "field", NULL);
			stanza_set_attr(ch, "var", var);
			if (strcmp(var, "username") == 0)
				stanza_add_text_child(ch, "value", NULL, user);
			else if (strcmp(var, "password") == 0)
				stanza_add_text_child(ch, "value", NULL,
				    c->password);
			else if (stanza_child(f, "value", NULL) != NULL)
				stanza_add_text_child(ch, "value", NULL,
				    stanza_text(stanza_child(f, "value",
				    NULL)));
		}
	} else {
		stanza_add_text_child(q, "username", NULL, user);
		stanza_add_text_child(q, "password", NULL, c->password);
	}
	c->step = STEP_REG_SUBMIT;
	conn_iq_track(c, iq, 0, conn_negotiation_iq, &c->arg_neg);
}

static void
conn_register_form(struct conn *c, const struct stanza *iq)
{
	struct stanza	*q = stanza_child(iq, "query", NS_REGISTER), *x;
	const char	*url;
	char		 missing[256];

	if (q == NULL) {
		conn_reg_outcome(c, CTL_ERR_FAILED, "the server sent no "
		    "registration form");
		conn_auth_start(c);
		return;
	}
	x = stanza_child(q, "x", NS_XDATA);
	missing[0] = '\0';
	if (x != NULL)
		conn_form_missing(x, missing, sizeof(missing));
	url = conn_oob_url(q);
	if (url != NULL && (x == NULL && stanza_child(q, "username",
	    NULL) == NULL)) {
		conn_reg_outcome(c, CTL_ERR_FAILED, "the server wants "
		    "registration on a web page: %.200s", url);
		conn_auth_start(c);
		return;
	}
	if (missing[0] != '\0') {
		conn_reg_outcome(c, CTL_ERR_FAILED, "the server's form "
		    "requires fields xmppd cannot fill (%s)%s%.200s", missing,
		    url ? "; register at " : "", url ? url : "");
		conn_auth_start(c);
		return;
	}
	conn_register_submit(c, q);
}

static void
conn_register_error(struct conn *c, const struct stanza *iq)
{
	struct stanza	*err = stanza_child(iq, "error", NULL), *q;
	const char	*cond = "undefined-condition", *text, *url;
	char		 missing[256] = "";

	if (err != NULL)
		cond = conn_error_condition(err, NS_STANZAS, &text);
	if (strcmp(cond, "conflict") == 0)
		conn_reg_outcome(c, CTL_ERR_CONFLICT, "account %s already "
		    "exists", c->bare);
	else if (strcmp(cond, "not-acceptable") == 0 ||
	    strcmp(cond, "bad-request") == 0) {
		if ((q = stanza_child(iq, "query", NS_REGISTER)) != NULL) {
			struct stanza *ch;

			for (ch = stanza_first_child(q); ch;
			    ch = stanza_next_sibling(ch))
				if (strcmp(stanza_name(ch), "x") != 0 &&
				    strlen(missing) + strlen(stanza_name(ch)) <
				    sizeof(missing) - 3) {
					if (missing[0])
						strcat(missing, ", ");
					strcat(missing, stanza_name(ch));
				}
		}
		conn_reg_outcome(c, CTL_ERR_FAILED, "the server rejected the "
		    "registration (%s)%s%s", cond,
		    missing[0] ? "; it asks for: " : "", missing);
	} else if (strcmp(cond, "not-allowed") == 0 ||
	    strcmp(cond, "service-unavailable") == 0 ||
	    strcmp(cond, "forbidden") == 0 ||
	    strcmp(cond, "feature-not-implemented") == 0)
		conn_reg_outcome(c, CTL_ERR_CLOSED, "registration is closed "
		    "on %s (%s)", c->x->conf->jid.domain, cond);
	else if ((url = err ? conn_oob_url(err) : NULL) != NULL)
		conn_reg_outcome(c, CTL_ERR_FAILED, "register at %.200s", url);
	else
		conn_reg_outcome(c, CTL_ERR_FAILED, "registration failed (%s)",
		    cond);
	conn_auth_start(c);
}

/*
 * Bound (or resumed): we are online.  A fresh session enables stream
 * management, announces presence and resends messages a failed
 * resumption left unacknowledged; a resumed one needs none of that.
 */
static void
conn_online(struct conn *c)
{
	struct timeval	 tv = { STABLE_SECONDS, 0 };
	struct sm_items	 old;
	struct sm_item	*it;
	char		 buf[300];

	evtimer_del(c->ev_deadline);
	c->step = STEP_ONLINE;
	c->redirects = 0;
	if (!c->sm.resumed) {
		TAILQ_INIT(&old);
		TAILQ_CONCAT(&old, &c->sm.unacked, entry);
		conn_sm_forget(c, 1);
		if (c->features != NULL &&
		    stanza_child(c->features, "sm", NS_SM) != NULL) {
			conn_send_raw(c, "<enable xmlns='" NS_SM "' "
			    "resume='true'/>", sizeof("<enable xmlns='" NS_SM
			    "' resume='true'/>") - 1);
			c->sm.enabled = 1;	/* counting starts now */
		}
		conn_send_presence(c);
		/* The old session's requests will not be answered. */
		iq_table_gone(c->iqs);
		conn_iq_arm(c);
		while ((it = TAILQ_FIRST(&old)) != NULL) {
			TAILQ_REMOVE(&old, it, entry);
			/* A service's stanza is void now: it resends. */
			if (it->is_message && it->tag == 0 && !it->void_tag) {
				log_info("resending a message the old session "
				    "did not deliver");
				conn_send_raw(c, it->data, it->len);
				if (c->sm.enabled)
					conn_sm_track(c, NULL, it->data,
					    it->len, 0);
			}
			free(it);
		}
	}
	evtimer_add(c->ev_stable, &tv);
	if (c->x->conf->ping_interval > 0) {
		tv.tv_sec = c->x->conf->ping_interval;
		evtimer_add(c->ev_ping, &tv);
	}
	snprintf(buf, sizeof(buf), "%s as %s", c->sm.resumed ?
	    "session resumed, online" : "online", conn_jid(c));
	conn_set_state(c, CONN_ONLINE, buf);
}

/* ---------------------------------------------------------------------- */
/* stream management (XEP-0198) */

/* Keep a copy of a sent stanza until the server acknowledges it. */
static void
conn_sm_track(struct conn *c, const struct stanza *s, const char *data,
    size_t len, uint64_t tag)
{
	struct sm_item	*it;

	it = xmalloc(sizeof(*it) + len + 1);
	it->len = len;
	it->is_message = s == NULL || strcmp(stanza_name(s), "message") == 0;
	it->tag = tag;
	it->void_tag = 0;
	memcpy(it->data, data, len);
	it->data[len] = '\0';
	TAILQ_INSERT_TAIL(&c->sm.unacked, it, entry);
	c->sm.n++;
	c->sm.bytes += len;
	c->sm.h_out++;
	while (c->sm.n > SM_MAX_UNACKED || c->sm.bytes > SM_MAX_BYTES) {
		it = TAILQ_FIRST(&c->sm.unacked);
		TAILQ_REMOVE(&c->sm.unacked, it, entry);
		c->sm.n--;
		c->sm.bytes -= it->len;
		/* Bounded memory; say so instead of dropping silently. */
		log_warnx("stream management: the server has not acknowledged "
		    "%u stanzas; no longer keeping the oldest for resending%s",
		    SM_MAX_UNACKED, it->tag ? " (a service's: void)" : "");
		c->sm.h_acked++;
		free(it);
	}
	if (s != NULL && strcmp(stanza_name(s), "iq") != 0)
		conn_send_raw(c, "<r xmlns='" NS_SM "'/>",
		    sizeof("<r xmlns='" NS_SM "'/>") - 1);
}

/* The server has handled h of our stanzas: drop them. */
static int
conn_sm_ack(struct conn *c, const char *hs)
{
	const char	*errstr;
	struct sm_item	*it;
	uint32_t	 h, n;

	h = (uint32_t)xstrtonum(hs ? hs : "", 0, UINT32_MAX, &errstr);
	if (errstr != NULL)
		return -1;
	n = h - c->sm.h_acked;		/* wraps as the XEP says */
	if (n > c->sm.n)
		return -1;
	c->sm.h_acked = h;
	while (n-- > 0) {
		uint64_t	tag;
		int		tell;

		it = TAILQ_FIRST(&c->sm.unacked);
		TAILQ_REMOVE(&c->sm.unacked, it, entry);
		c->sm.n--;
		c->sm.bytes -= it->len;
		tag = it->tag;
		tell = tag != 0 && !it->void_tag;
		free(it);
		if (tell)
			conn_services_acked(c, tag);
	}
	return 0;
}

/* Forget the session; keep_queue keeps unacked stanzas for resending. */
static void
conn_sm_forget(struct conn *c, int keep_queue)
{
	struct sm_item	*it;

	if (!keep_queue)
		while ((it = TAILQ_FIRST(&c->sm.unacked)) != NULL) {
			TAILQ_REMOVE(&c->sm.unacked, it, entry);
			free(it);
		}
	if (!keep_queue || TAILQ_EMPTY(&c->sm.unacked)) {
		c->sm.n = 0;
		c->sm.bytes = 0;
	}
	free(c->sm.id);
	c->sm.id = NULL;
	c->sm.enabled = c->sm.resumable = c->sm.resumed = 0;
	c->sm.lost_at = 0;
	c->sm.h_in = c->sm.h_out = c->sm.h_acked = 0;
}

static int
conn_sm_can_resume(const struct conn *c)
{
	return c->sm.resumable && c->sm.id != NULL && c->sm.lost_at != 0 &&
	    time(NULL) - c->sm.lost_at < (time_t)c->sm.max;
}

static int
conn_sm_resumed(struct conn *c, struct stanza *s)
{
	struct sm_item	*it, *next;
	size_t		 dropped = 0;

	if (conn_sm_ack(c, stanza_attr(s, "h")) == -1)
		return conn_defer(c, ACT_FAIL, 0, "stream management: the "
		    "server acknowledged stanzas we never sent");
	c->sm.enabled = 1;
	c->sm.resumed = 1;
	c->sm.lost_at = 0;
	c->sm.resumptions++;
	c->bound = xstrdup(c->sm.jid);
	/*
	 * A service's stanzas from before a restart are not resent: the
	 * server counts only what it gets, and the service resends them.
	 */
	TAILQ_FOREACH_SAFE(it, &c->sm.unacked, entry, next)
		if (it->void_tag) {
			TAILQ_REMOVE(&c->sm.unacked, it, entry);
			c->sm.n--;
			c->sm.bytes -= it->len;
			free(it);
			dropped++;
		}
	if (dropped > 0)
		log_info("left %zu stanzas from before the restart to the "
		    "services that sent them", dropped);
	/* Resend what the old stream lost, in order, same counters. */
	TAILQ_FOREACH(it, &c->sm.unacked, entry)
		conn_send_raw(c, it->data, it->len);
	if (!TAILQ_EMPTY(&c->sm.unacked)) {
		log_info("resent %zu unacknowledged stanzas", c->sm.n);
		conn_send_raw(c, "<r xmlns='" NS_SM "'/>",
		    sizeof("<r xmlns='" NS_SM "'/>") - 1);
	}
	conn_online(c);
	return XML_CONTINUE;
}

static int
conn_sm_input(struct conn *c, struct stanza *s)
{
	const char	*name = stanza_name(s), *v;
	const char	*errstr;
	char		*out;
	size_t		 len;

	if (strcmp(name, "r") == 0 && c->sm.enabled) {
		len = xasprintf(&out, "<a xmlns='" NS_SM "' h='%u'/>",
		    c->sm.h_in);
		conn_send_raw(c, out, len);
		free(out);
	} else if (strcmp(name, "a") == 0 && c->sm.enabled) {
		if (conn_sm_ack(c, stanza_attr(s, "h")) == -1)
			return conn_defer(c, ACT_FAIL, 0, "stream management:"
			    " the server acknowledged stanzas we never sent");
	} else if (strcmp(name, "enabled") == 0 && c->sm.enabled) {
		v = stanza_attr(s, "resume");
		if (v != NULL && (strcmp(v, "true") == 0 ||
		    strcmp(v, "1") == 0) && stanza_attr(s, "id") != NULL) {
			c->sm.resumable = 1;
			free(c->sm.id);
			c->sm.id = xstrndup(stanza_attr(s, "id"), 1024);
			v = stanza_attr(s, "max");
			c->sm.max = v ? (unsigned int)xstrtonum(v, 0, 86400,
			    &errstr) : 300;
			if (v != NULL && errstr != NULL)
				c->sm.max = 300;
			free(c->sm.jid);
			c->sm.jid = xstrdup(conn_jid(c));
		}
		log_info("stream management enabled%s", c->sm.resumable ?
		    ", session resumable" : "");
	} else if (strcmp(name, "resumed") == 0 && c->step == STEP_RESUME)
		return conn_sm_resumed(c, s);
	else if (strcmp(name, "failed") == 0 && c->step == STEP_RESUME) {
		log_info("the server could not resume the session; starting "
		    "a new one");
		free(c->sm.id);
		c->sm.id = NULL;
		c->sm.resumable = 0;
		conn_features(c, c->features);
	} else if (strcmp(name, "failed") == 0) {
		struct sm_item	*it;

		log_info("the server refused stream management");
		/* What services sent meanwhile is acked by a ping instead. */
		TAILQ_FOREACH(it, &c->sm.unacked, entry)
			if (it->tag != 0 && !it->void_tag)
				conn_ack_later(c, it->tag);
		conn_sm_forget(c, 0);
	}
	return XML_CONTINUE;
}

/* The answer to a request of the negotiation (register, bind, session). */
static void
conn_negotiation_iq(void *arg, enum iq_outcome how, const struct stanza *s)
{
	struct conn	*c = ((struct conn_iqarg *)arg)->c;
	struct stanza	*b, *j;
	int		 ok = how == IQ_RESULT;

	/* The phase deadline guards these; the stream's end cancels them. */
	if (how != IQ_RESULT && how != IQ_ERROR)
		return;
	switch (c->step) {
	case STEP_REG_FORM:
		if (ok)
			conn_register_form(c, s);
		else
			conn_register_error(c, s);
		break;
	case STEP_REG_SUBMIT:
		if (ok) {
			conn_reg_outcome(c, NULL, "registered %s", c->bare);
			conn_auth_start(c);
		} else
			conn_register_error(c, s);
		break;
	case STEP_BIND:
		if (!ok || (b = stanza_child(s, "bind", NS_BIND)) == NULL ||
		    (j = stanza_child(b, "jid", NULL)) == NULL) {
			conn_defer(c, ACT_FAIL, 0, "the server refused "
			    "to bind the resource");
			return;
		}
		free(c->bound);
		c->bound = xstrndup(stanza_text(j), 3071);
		if (c->session_required) {
			struct stanza *iq;

			iq = conn_iq_new("set");
			stanza_add_child(iq, "session", NS_SESSION);
			c->step = STEP_SESSION;
			conn_iq_track(c, iq, 0, conn_negotiation_iq,
			    &c->arg_neg);
		} else
			conn_online(c);
		break;
	case STEP_SESSION:
		if (!ok) {
			conn_defer(c, ACT_FAIL, 0, "the server refused "
			    "the session");
			return;
		}
		conn_online(c);
		break;
	default:
		break;
	}
}

/* ---------------------------------------------------------------------- */
/* online: presence, pings, duties */

static void
conn_send_presence(struct conn *c)
{
	struct stanza	*p;
	char		 prio[8];

	p = stanza_new("presence", NULL);
	if (c->show != NULL)
		stanza_add_text_child(p, "show", NULL, c->show);
	if (c->status != NULL)
		stanza_add_text_child(p, "status", NULL, c->status);
	if (c->x->conf->priority != 0) {
		snprintf(prio, sizeof(prio), "%d", c->x->conf->priority);
		stanza_add_text_child(p, "priority", NULL, prio);
	}
	conn_send(c, p);
	stanza_free(p);
}

static void	conn_pong(struct conn *);

/* The answer to our ping, or its absence. */
static void
conn_ping_answer(void *arg, enum iq_outcome how, const struct stanza *reply)
{
	struct conn	*c = ((struct conn_iqarg *)arg)->c;

	(void)reply;
	switch (how) {
	case IQ_RESULT:
	case IQ_ERROR:
		/* An error reply still proves the link is alive. */
		conn_pong(c);
		break;
	case IQ_TIMEOUT:
		notify_watchdog_kick();
		c->ping_outstanding = 0;
		conn_fail(c, "no answer to a ping within %us; the link is "
		    "presumed dead", c->ping_wait);
		break;
	case IQ_GONE:
		c->ping_outstanding = 0;
		break;
	}
}

/* Ping the server; no answer within secs means the link is dead. */
static void
conn_ping(struct conn *c, unsigned int secs)
{
	struct stanza	*iq;

	iq = conn_iq_new("get");
	stanza_set_attr(iq, "to", c->x->conf->jid.domain);
	stanza_add_child(iq, "ping", NS_PING);
	evtimer_del(c->ev_ping);
	c->ping_outstanding = 1;
	c->ping_wait = secs;
	if (conn_iq_send(c, iq, secs, conn_ping_answer, &c->arg_ping) == -1) {
		c->ping_outstanding = 0;
		return;
	}
	if (c->sm.enabled)	/* and learn what the server has received */
		conn_send_raw(c, "<r xmlns='" NS_SM "'/>",
		    sizeof("<r xmlns='" NS_SM "'/>") - 1);
}

/* The ping interval is over: ping. */
static void
conn_ping_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct conn	*c = arg;

	(void)fd;
	(void)ev;
	notify_watchdog_kick();
	if (c->state != CONN_ONLINE || c->ping_outstanding)
		return;
	conn_ping(c, c->x->conf->ping_timeout);
}

/*
 * The network changed under us.  Online: probe with a ping that must be
 * answered within PROBE_TIMEOUT, so a dead path is noticed now.  Waiting:
 * the network may be back; try at once.
 */
void
conn_network_changed(struct conn *c)
{
	if (c->state == CONN_WAITING) {
		log_info("network changed: retrying now");
		evtimer_del(c->ev_retry);
		conn_retry_cb(-1, 0, c);
		return;
	}
	if (c->state != CONN_ONLINE || c->ping_outstanding)
		return;
	log_info("network changed: probing the link");
	conn_ping(c, PROBE_TIMEOUT < c->x->conf->ping_timeout ? PROBE_TIMEOUT :
	    c->x->conf->ping_timeout);
}

static void
conn_pong(struct conn *c)
{
	struct timeval	tv = { c->x->conf->ping_interval, 0 };

	c->ping_outstanding = 0;
	evtimer_add(c->ev_ping, &tv);
}

static void
conn_stable_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct conn	*c = arg;

	(void)fd;
	(void)ev;
	/* Online long enough: the next failure starts a fresh schedule. */
	backoff_reset(&c->backoff);
}

static struct stanza *
conn_iq_reply(const struct stanza *req, const char *type)
{
	struct stanza	*r = stanza_new("iq", NULL);

	stanza_set_attr(r, "type", type);
	if (stanza_attr(req, "id") != NULL)
		stanza_set_attr(r, "id", stanza_attr(req, "id"));
	if (stanza_attr(req, "from") != NULL)
		stanza_set_attr(r, "to", stanza_attr(req, "from"));
	return r;
}

static void
conn_iq_get(struct conn *c, struct stanza *s, struct stanza *q)
{
	struct stanza	*r, *rq, *e;
	const char	*ns = q ? stanza_ns(q) : NULL;

	if (ns != NULL && strcmp(ns, NS_PING) == 0)
		r = conn_iq_reply(s, "result");
	else if (ns != NULL && strcmp(ns, NS_DISCO_INFO) == 0 &&
	    stanza_attr(q, "node") == NULL) {
		r = conn_iq_reply(s, "result");
		rq = stanza_add_child(r, "query", NS_DISCO_INFO);
		e = stanza_add_child(rq, "identity", NULL);
		stanza_set_attr(e, "category", "client");
		stanza_set_attr(e, "type", "bot");
		stanza_set_attr(e, "name", PACKAGE_NAME);
		stanza_set_attr(stanza_add_child(rq, "feature", NULL), "var",
		    NS_DISCO_INFO);
		stanza_set_attr(stanza_add_child(rq, "feature", NULL), "var",
		    NS_PING);
		stanza_set_attr(stanza_add_child(rq, "feature", NULL), "var",
		    NS_VERSION);
	} else if (ns != NULL && strcmp(ns, NS_VERSION) == 0) {
		r = conn_iq_reply(s, "result");
		rq = stanza_add_child(r, "query", NS_VERSION);
		stanza_add_text_child(rq, "name", NULL, PACKAGE_NAME);
		stanza_add_text_child(rq, "version", NULL, PACKAGE_VERSION);
	} else {
		/* RFC 6120 §8.4: an iq we do not understand. */
		r = conn_iq_reply(s, "error");
		e = stanza_add_child(r, "error", NULL);
		stanza_set_attr(e, "type", "cancel");
		stanza_add_child(e, "service-unavailable", NS_STANZAS);
	}
	conn_send(c, r);
	stanza_free(r);
}

/* The server's answer to "passwd" or "unregister". */
static void
conn_op_answer(void *arg, enum iq_outcome how, const struct stanza *s)
{
	struct conn	*c = ((struct conn_iqarg *)arg)->c;
	struct conn_op	*op = conn_cur_op(c);
	struct stanza	*err;
	const char	*cond = "undefined-condition", *text;
	int		 ok = how == IQ_RESULT;

	if (how == IQ_GONE || op == NULL)
		return;
	if (how == IQ_TIMEOUT) {
		/* A server that never answers costs the stream, not the queue. */
		conn_fail(c, "timed out waiting for the server to answer");
		return;
	}
	if ((err = stanza_child(s, "error", NULL)) != NULL)
		cond = conn_error_condition(err, NS_STANZAS, &text);
	if (op->cmd == CTL_PASSWD) {
		if (ok) {
			freezero_str(c->password);
			c->password = c->passwd_new;
			c->passwd_new = NULL;
			conn_op_done(c, 1, NULL, "password changed on the server;"
			    " xmppd uses it until it stops: store it in %s now",
			    c->x->conf->password_file ? c->x->conf->password_file
			    : c->x->conf->password_in_config ? c->x->conf->path
			    : "the credential file (/etc/xmppd/password)");
		} else {
			freezero_str(c->passwd_new);
			c->passwd_new = NULL;
			conn_op_done(c, 0, CTL_ERR_FAILED, "the server refused "
			    "the password change (%s)", cond);
		}
	} else if (op->cmd == CTL_UNREGISTER) {
		if (ok) {
			c->want_online = 0;
			conn_op_done(c, 1, NULL, "account %s removed from the "
			    "server", c->bare);
			conn_defer(c, ACT_FAIL, 0, "account removed");
		} else
			conn_op_done(c, 0, CTL_ERR_FAILED, "the server refused "
			    "to remove the account (%s)", cond);
	}
}

static void
conn_stanza_online(struct conn *c, struct stanza *s)
{
	const char	*name = stanza_name(s), *type = stanza_attr(s, "type");
	const char	*from = stanza_attr(s, "from"), *id = stanza_attr(s, "id");
	struct stanza	*b;

	if (strcmp(name, "iq") == 0) {
		if (type == NULL || id == NULL)
			return;
		if (strcmp(type, "get") == 0 || strcmp(type, "set") == 0)
			conn_iq_get(c, s, stanza_first_child(s));
		else if (!iq_table_input(c->iqs, s))
			log_debug("ignoring an iq %s nobody waits for", type);
		conn_iq_arm(c);
		return;
	}
	if (conn_services_stanza(c, s))
		return;
	if (strcmp(name, "message") == 0) {
		if ((b = stanza_child(s, "body", NULL)) == NULL)
			return;
		if (type != NULL && strcmp(type, "error") == 0)
			return;
		if (c->hooks.message != NULL)
			c->hooks.message(c->hooks.arg, from ? from : "",
			    type ? type : "normal", stanza_text(b));
	} else if (strcmp(name, "presence") == 0) {
		if (type != NULL && strcmp(type, "subscribe") == 0 &&
		    from != NULL &&
		    c->x->conf->subscriptions == SUBS_ACCEPT) {
			struct stanza *p = stanza_new("presence", NULL);

			stanza_set_attr(p, "to", from);
			stanza_set_attr(p, "type", "subscribed");
			conn_send(c, p);
			stanza_free(p);
			log_info("accepted a subscription request");
		}
		if (c->hooks.presence != NULL) {
			struct stanza *sh = stanza_child(s, "show", NULL);
			struct stanza *st = stanza_child(s, "status", NULL);

			c->hooks.presence(c->hooks.arg, from ? from : "",
			    type ? type : "available",
			    sh ? stanza_text(sh) : NULL,
			    st ? stanza_text(st) : NULL);
		}
	}
}

/* ---------------------------------------------------------------------- */
/* clean close */

/*
 * Unavailable presence and </stream:stream>, then wait (bounded) for the
 * server's close before doing what comes next.
 */
static void
conn_close_clean(struct conn *c, enum after_close after)
{
	struct timeval	tv = { 0, CLOSE_TIMEOUT_MS * 1000 };

	c->after_close = after;
	if (c->state == CONN_CLOSING)
		return;
	/* A deliberate close ends the session: never resume it. */
	conn_sm_forget(c, 0);
	if (c->bev == NULL || c->step == STEP_TLS || c->step == STEP_NONE ||
	    c->state == CONN_CONNECTING) {
		conn_closed(c);
		return;
	}
	if (c->state == CONN_ONLINE)
		conn_send_raw(c, "<presence type='unavailable'/>",
		    sizeof("<presence type='unavailable'/>") - 1);
	conn_send_raw(c, "</stream:stream>", 16);
	conn_clear_timers(c);
	tv.tv_sec = CLOSE_TIMEOUT_MS / 1000;
	tv.tv_usec = (CLOSE_TIMEOUT_MS % 1000) * 1000;
	evtimer_add(c->ev_deadline, &tv);
	conn_set_state(c, CONN_CLOSING, "closing the stream");
}

static void
conn_closed(struct conn *c)
{
	enum after_close	after = c->after_close;

	c->after_close = AFTER_NOTHING;
	/*
	 * Our close_notify after </stream:stream> (RFC 6120 section 4.4);
	 * the server may be gone already, so its outcome does not matter.
	 */
	if (c->ssl != NULL && c->tls_active) {
		(void)SSL_shutdown(c->ssl);
		ERR_clear_error();
	}
	conn_teardown(c);
	switch (after) {
	case AFTER_CONNECT:
		conn_begin(c);
		break;
	case AFTER_EXIT:
		conn_set_state(c, CONN_OFFLINE, "shutting down");
		xmppd_stopped(c->x);
		break;
	case AFTER_WAIT:
		conn_wait(c, 0, c->last_error);
		break;
	default:
		conn_set_state(c, CONN_OFFLINE, c->want_online ?
		    "stream closed" : "disconnected on request");
		break;
	}
}

/* ---------------------------------------------------------------------- */
/* the command queue */

static void
conn_op_reply(struct conn_op *op, int ok, const char *code, const char *text)
{
	struct conn_waiter	*w;

	while ((w = TAILQ_FIRST(&op->waiters)) != NULL) {
		TAILQ_REMOVE(&op->waiters, w, entry);
		if (w->cb != NULL)
			w->cb(w->arg, ok, code, text);
		free(w);
	}
}

static void
conn_op_free(struct conn_op *op)
{
	free(op->reg_text);
	free(op->arg);
	free(op);
}

/* The running command has its outcome: reply, drop it, start the next. */
static void
conn_op_done(struct conn *c, int ok, const char *code, const char *fmt, ...)
{
	struct conn_op	*op = conn_cur_op(c);
	va_list		 ap;
	char		 text[600];

	if (op == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	TAILQ_REMOVE(&c->ops, op, entry);
	conn_op_reply(op, ok, code, text);
	conn_op_free(op);
	conn_schedule_ops(c);
}

static void
conn_register_done(struct conn *c, struct conn_op *op)
{
	if (c->state == CONN_ONLINE) {
		if (op->reg_code == NULL)
			conn_op_done(c, 1, NULL, "registered %s; online as %s",
			    c->bare, conn_jid(c));
		else if (strcmp(op->reg_code, CTL_ERR_CONFLICT) == 0)
			conn_op_done(c, 0, CTL_ERR_CONFLICT, "account %s "
			    "already exists; logged in with the configured "
			    "password, online as %s", c->bare, conn_jid(c));
		else
			conn_op_done(c, 0, op->reg_code, "%s; logged in "
			    "anyway, online as %s", op->reg_text, conn_jid(c));
		return;
	}
	if (op->reg_code != NULL && strcmp(op->reg_code, CTL_ERR_CONFLICT) == 0)
		conn_op_done(c, 0, CTL_ERR_CONFLICT, "account %s already "
		    "exists and the configured password was rejected",
		    c->bare);
	else if (op->reg_code != NULL)
		conn_op_done(c, 0, op->reg_code, "%s", op->reg_text);
	else
		conn_op_done(c, 0, CTL_ERR_FAILED, "registration did not "
		    "finish: %s", c->last_error);
}

static void
conn_answer_online_waiters(struct conn *c)
{
	struct conn_waiter	*w;

	while ((w = TAILQ_FIRST(&c->online_waiters)) != NULL) {
		TAILQ_REMOVE(&c->online_waiters, w, entry);
		if (w->cb != NULL)
			w->cb(w->arg, 1, NULL, conn_jid(c));
		free(w);
	}
}

/* After a state change: has the running command reached its outcome? */
static void
conn_ops_check(struct conn *c)
{
	struct conn_op		*op = conn_cur_op(c);

	if (c->state == CONN_ONLINE)
		conn_answer_online_waiters(c);
	if (op == NULL)
		return;
	switch (op->cmd) {
	case CTL_DISCONNECT:
		if (c->state == CONN_OFFLINE)
			conn_op_done(c, 1, NULL, "offline");
		return;
	case CTL_PASSWD:
	case CTL_UNREGISTER:
		/* The stream that carried the request is gone. */
		if (c->state != CONN_ONLINE)
			conn_op_done(c, 0, CTL_ERR_FAILED, "the connection was "
			    "lost before the server answered; nothing is known "
			    "to have changed");
		return;
	case CTL_CONNECT:
	case CTL_RECONNECT:
	case CTL_REAUTH:
	case CTL_REGISTER:
	case CTL_RELOAD:
		break;
	default:
		return;
	}
	if (!op->connecting)
		return;
	if (c->state != CONN_ONLINE && c->state != CONN_WAITING &&
	    c->state != CONN_AUTH_FAILED && c->state != CONN_OFFLINE)
		return;
	if (op->cmd == CTL_REGISTER)
		conn_register_done(c, op);
	else if (c->state == CONN_ONLINE)
		conn_op_done(c, 1, NULL, "online as %s", conn_jid(c));
	else if (c->state == CONN_WAITING)
		conn_op_done(c, 0, CTL_ERR_FAILED, "not online: %s; retrying "
		    "in %.1fs", c->last_error, c->retry_ms / 1000.0);
	else if (c->state == CONN_AUTH_FAILED)
		conn_op_done(c, 0, CTL_ERR_FAILED, "%s", c->last_error);
	else
		conn_op_done(c, 0, CTL_ERR_SHUTDOWN, "offline");
}

/* Start (or restart) a fresh connection for the running command. */
static void
conn_op_connect(struct conn *c, struct conn_op *op)
{
	c->want_online = 1;
	op->connecting = 1;
	if (c->bev != NULL && c->state != CONN_CLOSING)
		conn_close_clean(c, AFTER_CONNECT);
	else if (c->state == CONN_CLOSING)
		c->after_close = AFTER_CONNECT;
	else
		conn_begin(c);
}

static void
conn_op_start(struct conn *c, struct conn_op *op)
{
	struct stanza	*q, *iq;
	char		*cause = NULL;

	op->started = 1;
	switch (op->cmd) {
	case CTL_CONNECT:
		if (c->state == CONN_ONLINE) {
			conn_op_done(c, 1, NULL, "online as %s", conn_jid(c));
			return;
		}
		c->want_online = 1;
		op->connecting = 1;
		if (c->state == CONN_OFFLINE || c->state == CONN_WAITING ||
		    c->state == CONN_AUTH_FAILED)
			conn_begin(c);
		else if (c->state == CONN_CLOSING)
			c->after_close = AFTER_CONNECT;
		return;
	case CTL_DISCONNECT:
		c->want_online = 0;
		if (c->state == CONN_OFFLINE) {
			conn_op_done(c, 1, NULL, "offline");
			return;
		}
		conn_close_clean(c, AFTER_OFFLINE);
		return;
	case CTL_REGISTER:
		if (c->state == CONN_ONLINE) {
			conn_op_done(c, 0, CTL_ERR_CONFLICT, "account %s "
			    "already exists: it is online as %s", c->bare,
			    conn_jid(c));
			return;
		}
		c->want_register = 1;
		conn_op_connect(c, op);
		return;
	case CTL_REAUTH:
		if (xmppd_reload_password(c->x, &cause) == -1) {
			conn_op_done(c, 0, CTL_ERR_FAILED, "%s", cause);
			free(cause);
			return;
		}
		freezero_str(c->password);
		c->password = xstrdup(c->x->conf->password);
		c->auth_retry_noplus = 0;
		conn_op_connect(c, op);
		return;
	case CTL_RECONNECT:
		free(c->redirect_host);
		c->redirect_host = NULL;
		conn_op_connect(c, op);
		return;
	case CTL_RELOAD:
		if (xmppd_reload(c->x, &cause) == -1) {
			conn_op_done(c, 0, CTL_ERR_FAILED, "%s", cause);
			free(cause);
			return;
		}
		/* conn_config_changed() decided whether to reconnect */
		if (!op->connecting)
			conn_op_done(c, 1, NULL, "configuration reloaded");
		return;
	case CTL_PASSWD:
	case CTL_UNREGISTER:
		if (c->state != CONN_ONLINE) {
			conn_op_done(c, 0, CTL_ERR_STATE, "not online (state "
			    "%s); try again when online",
			    conn_state_name(c->state));
			return;
		}
		q = conn_iq_query("set", NS_REGISTER);
		if (op->cmd == CTL_PASSWD) {
			stanza_add_text_child(q, "username", NULL,
			    c->x->conf->jid.local);
			stanza_add_text_child(q, "password", NULL, op->arg);
			freezero_str(c->passwd_new);
			c->passwd_new = xstrdup(op->arg);
		} else
			stanza_add_child(q, "remove", NULL);
		iq = stanza_parent(q);
		conn_iq_send(c, iq, NEGOTIATION_TIMEOUT, conn_op_answer,
		    &c->arg_op);
		return;
	default:
		conn_op_done(c, 0, CTL_ERR_FAILED, "not a queued command");
		return;
	}
}

static void
conn_ops_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct conn	*c = arg;
	struct conn_op	*op = TAILQ_FIRST(&c->ops);

	(void)fd;
	(void)ev;
	if (c->state == CONN_ONLINE && !TAILQ_EMPTY(&c->online_waiters))
		conn_answer_online_waiters(c);
	if (op != NULL && !op->started)
		conn_op_start(c, op);
}

static void
conn_schedule_ops(struct conn *c)
{
	if (!TAILQ_EMPTY(&c->ops))
		event_active(c->ev_ops, EV_TIMEOUT, 0);
}

struct conn_waiter *
conn_submit(struct conn *c, enum ctl_cmd cmd, const char *arg,
    conn_reply_cb cb, void *cbarg)
{
	struct conn_waiter	*w;
	struct conn_op		*op, *last;

	w = xcalloc(1, sizeof(*w));
	w->cb = cb;
	w->arg = cbarg;
	if (cmd == CTL_WAIT_ONLINE) {
		TAILQ_INSERT_TAIL(&c->online_waiters, w, entry);
		if (c->state == CONN_ONLINE)
			event_active(c->ev_ops, EV_TIMEOUT, 0);
		return w;
	}
	last = TAILQ_LAST(&c->ops, conn_ops);
	/* Repeated reconnects coalesce until one begins connecting. */
	if (cmd == CTL_RECONNECT && last != NULL &&
	    last->cmd == CTL_RECONNECT && !last->connecting)
		op = last;
	else {
		op = xcalloc(1, sizeof(*op));
		op->cmd = cmd;
		op->arg = arg ? xstrdup(arg) : NULL;
		TAILQ_INIT(&op->waiters);
		TAILQ_INSERT_TAIL(&c->ops, op, entry);
	}
	w->op = op;
	TAILQ_INSERT_TAIL(&op->waiters, w, entry);
	conn_schedule_ops(c);
	return w;
}

void
conn_waiter_cancel(struct conn_waiter *w)
{
	if (w != NULL) {
		w->cb = NULL;
		w->arg = NULL;
	}
}

/* ---------------------------------------------------------------------- */
/* immediate commands and status */

int
conn_send_message(struct conn *c, const char *to, const char *body,
    const char **err)
{
	struct stanza	*m;
	struct jid	 j;

	if (jid_parse(to, &j, err) == -1)
		return -1;
	jid_clear(&j);
	if (c->state != CONN_ONLINE) {
		*err = "not online; the message was not sent";
		return -1;
	}
	m = stanza_new("message", NULL);
	stanza_set_attr(m, "to", to);
	stanza_set_attr(m, "type", "chat");
	stanza_add_text_child(m, "body", NULL, body);
	conn_send(c, m);
	stanza_free(m);
	return 0;
}

int
conn_set_presence(struct conn *c, const char *show, const char *status,
    const char **err)
{
	static const char *const shows[] = { "away", "chat", "dnd", "xa" };
	size_t	i;

	if (show != NULL && strcmp(show, "available") == 0)
		show = NULL;
	for (i = 0; show != NULL && i < nitems(shows); i++)
		if (strcmp(show, shows[i]) == 0)
			break;
	if (show != NULL && i == nitems(shows)) {
		*err = "SHOW must be available, away, chat, dnd or xa";
		return -1;
	}
	free(c->show);
	free(c->status);
	c->show = show ? xstrdup(show) : NULL;
	c->status = status && *status ? xstrdup(status) : NULL;
	if (c->state == CONN_ONLINE)
		conn_send_presence(c);
	conn_services_presence(c);
	return 0;
}

void
conn_status(const struct conn *c, void (*put)(void *, const char *,
    const char *), void *arg)
{
	char	buf[64];

	put(arg, "state", conn_state_name(c->state));
	put(arg, "jid", conn_jid(c));
	put(arg, "server", c->bev != NULL ? c->peer : "-");
	put(arg, "tls", c->tls_desc[0] ? c->tls_desc : "-");
	put(arg, "sasl", c->state == CONN_ONLINE && c->sasl_used[0] ?
	    c->sasl_used : "-");
	put(arg, "sm", c->sm.resumed ? "resumed" : c->sm.resumable ?
	    "resumable" : c->sm.enabled ? "enabled" : "no");
	snprintf(buf, sizeof(buf), "%u", c->sm.resumptions);
	put(arg, "resumptions", buf);
	snprintf(buf, sizeof(buf), "%lld", (long long)c->since);
	put(arg, "since", buf);
	put(arg, "last_error", c->last_error[0] ? c->last_error : "-");
	snprintf(buf, sizeof(buf), "%u", c->reconnects);
	put(arg, "reconnects", buf);
	if (c->state == CONN_WAITING) {
		snprintf(buf, sizeof(buf), "%.1f", c->retry_ms / 1000.0);
		put(arg, "retry_in", buf);
	}
	put(arg, "presence", c->show ? c->show : "available");
}

/* ---------------------------------------------------------------------- */
/* a stream-management session kept across a restart (resume_after_restart) */

#define SM_STATE_MAGIC	"xmppd-sm 1"

static char *
conn_sm_path(const struct conn *c)
{
	char	*p;

	xasprintf(&p, "%s/sm-session.%s", c->x->conf->state_dir, c->bare);
	return p;
}

static void
conn_sm_fill(FILE *f, void *arg)
{
	struct conn	*c = arg;
	struct sm_item	*it;

	fprintf(f, SM_STATE_MAGIC "\njid %s\nid %s\nmax %u\nsaved %lld\n"
	    "h %u %u %u\n", c->sm.jid, c->sm.id, c->sm.max,
	    (long long)time(NULL), c->sm.h_in, c->sm.h_out, c->sm.h_acked);
	TAILQ_FOREACH(it, &c->sm.unacked, entry) {
		/* 2: a service's, void after the restart (see conn.h). */
		fprintf(f, "stanza %zu %d\n", it->len, it->tag != 0 ||
		    it->void_tag ? 2 : it->is_message);
		fwrite(it->data, 1, it->len, f);
		fputc('\n', f);
	}
}

/* Write id, counters and unacked stanzas; 0600, atomically. */
static int
conn_sm_save(struct conn *c, char **cause)
{
	char	*path = conn_sm_path(c);
	int	 r;

	r = write_private_file(c->x->conf->state_dir, path, conn_sm_fill, c,
	    cause);
	free(path);
	return r;
}

/* Read the unacked stanzas that follow the header; -1 on any damage. */
static int
conn_sm_load_stanzas(struct conn *c, FILE *f)
{
	struct sm_item	*it;
	char		 line[64];
	size_t		 len;
	int		 msg;

	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "stanza %zu %d", &len, &msg) != 2 ||
		    msg < 0 || msg > 2 || len == 0 || len > SM_MAX_BYTES ||
		    c->sm.bytes + len > SM_MAX_BYTES ||
		    c->sm.n + 1 > SM_MAX_UNACKED)
			return -1;
		it = xmalloc(sizeof(*it) + len + 1);
		it->len = len;
		it->is_message = msg != 0;
		it->tag = 0;
		it->void_tag = msg == 2;
		if (fread(it->data, 1, len, f) != len || fgetc(f) != '\n') {
			free(it);
			return -1;
		}
		it->data[len] = '\0';
		TAILQ_INSERT_TAIL(&c->sm.unacked, it, entry);
		c->sm.n++;
		c->sm.bytes += len;
	}
	return 0;
}

/*
 * At start-up: take over a session saved by the previous process, if it
 * is ours and the server still holds it.  The file is consumed either way.
 */
static void
conn_sm_load(struct conn *c)
{
	char		*path = conn_sm_path(c), line[1200], jid[1100], id[1100];
	const char	*why = NULL;
	long long	 saved = 0;
	unsigned int	 max = 0, h[3];
	FILE		*f;
	size_t		 blen = strlen(c->bare);

	if ((f = fopen(path, "re")) == NULL) {
		free(path);
		return;
	}
	unlink(path);
	if (!c->x->conf->resume_after_restart)
		why = "resume_after_restart is off";
	else if (fgets(line, sizeof(line), f) == NULL ||
	    strcmp(line, SM_STATE_MAGIC "\n") != 0 ||
	    fscanf(f, "jid %1099s\nid %1099s\nmax %u\nsaved %lld\n"
	    "h %u %u %u\n", jid, id, &max, &saved, &h[0], &h[1], &h[2]) != 7)
		why = "unreadable";
	else if (strncmp(jid, c->bare, blen) != 0 || jid[blen] != '/')
		why = "it belongs to another account";
	else if (saved > (long long)time(NULL) || max > 86400 ||
	    time(NULL) - saved >= (time_t)max)
		why = "the server no longer holds it";
	else if (conn_sm_load_stanzas(c, f) == -1)
		why = "damaged";
	fclose(f);
	if (why != NULL) {
		log_info("discarding the saved session in %s: %s", path, why);
		conn_sm_forget(c, 0);
		free(path);
		return;
	}
	free(c->sm.id);
	c->sm.id = xstrdup(id);
	free(c->sm.jid);
	c->sm.jid = xstrdup(jid);
	c->sm.max = max;
	c->sm.lost_at = (time_t)saved;
	c->sm.h_in = h[0];
	c->sm.h_out = h[1];
	c->sm.h_acked = h[2];
	c->sm.resumable = 1;
	log_info("found the session the previous process kept (%llds old, %zu "
	    "unacknowledged stanzas); resuming it", (long long)(time(NULL) -
	    saved), c->sm.n);
	free(path);
}

/* SIGTERM with resume_after_restart: keep the session for the next start. */
static int
conn_sm_hand_over(struct conn *c)
{
	char	*cause = NULL;

	if (!c->x->conf->resume_after_restart || c->state != CONN_ONLINE ||
	    !c->sm.resumable || c->sm.id == NULL)
		return -1;
	if (conn_sm_save(c, &cause) == -1) {
		log_warnx("cannot keep the session for a restart: %s; closing "
		    "it", cause);
		free(cause);
		return -1;
	}
	log_info("keeping the session for a restart: the server holds it "
	    "for %us", c->sm.max);
	/* Drop the link, not the stream: the server keeps the session. */
	if (c->ssl != NULL)
		SSL_set_quiet_shutdown(c->ssl, 1);
	c->sm.enabled = 0;
	conn_teardown(c);
	conn_set_state(c, CONN_OFFLINE, "session kept for a restart");
	xmppd_stopped(c->x);
	return 0;
}

/* ---------------------------------------------------------------------- */
/* life cycle */

static void
conn_load_account(struct conn *c)
{
	struct config	*conf = c->x->conf;

	free(c->bare);
	c->bare = jid_bare(&conf->jid);
	freezero_str(c->password);
	c->password = xstrdup(conf->password ? conf->password : "");
	free(c->show);
	free(c->status);
	c->show = conf->presence_show ? xstrdup(conf->presence_show) : NULL;
	c->status = conf->presence_status ? xstrdup(conf->presence_status) :
	    NULL;
	backoff_init(&c->backoff, conf->reconnect_min * 1000,
	    conf->reconnect_max * 1000);
	if (c->iqs == NULL)
		c->iqs = iq_table_new(c->bare, conf->jid.domain);
	else
		iq_table_set_account(c->iqs, c->bare, conf->jid.domain);
}

struct conn *
conn_new(struct xmppd *x)
{
	struct conn	*c;

	c = xcalloc(1, sizeof(*c));
	c->x = x;
	c->fd = -1;
	c->since = time(NULL);
	TAILQ_INIT(&c->ops);
	TAILQ_INIT(&c->online_waiters);
	TAILQ_INIT(&c->sm.unacked);
	c->ev_deadline = evtimer_new(x->base, conn_deadline_cb, c);
	c->ev_retry = evtimer_new(x->base, conn_retry_cb, c);
	c->ev_ping = evtimer_new(x->base, conn_ping_cb, c);
	c->ev_stable = evtimer_new(x->base, conn_stable_cb, c);
	c->ev_ops = event_new(x->base, -1, 0, conn_ops_cb, c);
	c->ev_action = event_new(x->base, -1, 0, conn_action_cb, c);
	c->ev_iq = evtimer_new(x->base, conn_iq_timer_cb, c);
	c->ev_ackping = event_new(x->base, -1, 0, conn_ackping_event_cb, c);
	c->arg_neg.c = c->arg_ping.c = c->arg_op.c = c;
	if (c->ev_deadline == NULL || c->ev_retry == NULL ||
	    c->ev_ping == NULL || c->ev_stable == NULL || c->ev_ops == NULL ||
	    c->ev_action == NULL || c->ev_iq == NULL || c->ev_ackping == NULL)
		fatalx("conn_new: cannot create events");
	conn_load_account(c);
	return c;
}

void
conn_set_hooks(struct conn *c, const struct conn_hooks *h)
{
	c->hooks = *h;
}

void
conn_start(struct conn *c)
{
	conn_sm_load(c);
	c->want_online = 1;
	c->want_register = c->x->conf->auto_register;
	conn_begin(c);
}

static void
conn_fail_ops(struct conn *c, const char *code, const char *text)
{
	struct conn_op		*op;
	struct conn_waiter	*w;

	while ((op = TAILQ_FIRST(&c->ops)) != NULL) {
		TAILQ_REMOVE(&c->ops, op, entry);
		conn_op_reply(op, 0, code, text);
		conn_op_free(op);
	}
	while ((w = TAILQ_FIRST(&c->online_waiters)) != NULL) {
		TAILQ_REMOVE(&c->online_waiters, w, entry);
		if (w->cb != NULL)
			w->cb(w->arg, 0, code, text);
		free(w);
	}
}

void
conn_shutdown(struct conn *c)
{
	c->want_online = 0;
	conn_fail_ops(c, CTL_ERR_SHUTDOWN, "xmppd is shutting down");
	if (conn_sm_hand_over(c) == 0)
		return;
	if (c->bev != NULL && c->state != CONN_CLOSING)
		conn_close_clean(c, AFTER_EXIT);
	else if (c->state == CONN_CLOSING)
		c->after_close = AFTER_EXIT;
	else {
		conn_teardown(c);
		conn_set_state(c, CONN_OFFLINE, "shutting down");
		xmppd_stopped(c->x);
	}
}

/*
 * The config was reloaded.  Connection settings changed, or parked after a
 * rejected password: start over.  Otherwise apply presence in place.
 */
void
conn_config_changed(struct conn *c, int reconnect)
{
	struct conn_op	*op = conn_cur_op(c);
	int		 was_parked = c->state == CONN_AUTH_FAILED;

	conn_load_account(c);
	c->auth_retry_noplus = 0;
	/* After "disconnect", a reload changes settings, not the state. */
	if ((reconnect || was_parked) && c->want_online) {
		free(c->redirect_host);
		c->redirect_host = NULL;
		if (op != NULL && op->cmd == CTL_RELOAD)
			conn_op_connect(c, op);
		else {
			if (c->bev != NULL)
				conn_close_clean(c, AFTER_CONNECT);
			else
				conn_begin(c);
		}
		return;
	}
	if (c->state == CONN_ONLINE)
		conn_send_presence(c);
}

void
conn_free(struct conn *c)
{
	if (c == NULL)
		return;
	conn_fail_ops(c, CTL_ERR_SHUTDOWN, "xmppd is shutting down");
	c->x->stopping = 1;
	conn_teardown(c);
	net_addrlist_free(c->addrs);
	event_free(c->ev_deadline);
	event_free(c->ev_retry);
	event_free(c->ev_ping);
	event_free(c->ev_stable);
	event_free(c->ev_ops);
	event_free(c->ev_action);
	iq_table_free(c->iqs);
	event_free(c->ev_iq);
	event_free(c->ev_ackping);
	conn_sm_forget(c, 0);
	free(c->sm.jid);
	freezero_str(c->password);
	freezero_str(c->passwd_new);
	free(c->bare);
	free(c->show);
	free(c->status);
	free(c->redirect_host);
	free(c->out);
	free(c);
}
