/*
 * conn.c: the connection's state machine.  It owns the state (one
 * variable, written only by conn_set_state(), which logs each change once
 * with its event and reason), the table of allowed transitions, the
 * timers of the machine itself (negotiation deadline by phase, backoff,
 * stable period), the account's credentials and presence, and the public
 * API of conn.h.  Every input becomes an event for conn_fsm(): from the
 * modules below (transport, negotiate, auth, register, session) through
 * c->fsm or, inside parser callbacks, deferred with conn_defer() and
 * handled once the parser has returned.
 */
#include "compat.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "auth.h"
#include "config.h"
#include "conn.h"
#include "conn_priv.h"
#include "jid.h"
#include "log.h"
#include "negotiate.h"
#include "net.h"
#include "notify.h"
#include "register.h"
#include "session.h"
#include "stats.h"
#include "stanza.h"
#include "transport.h"
#include "util.h"
#include "xml.h"
#include "xmalloc.h"
#include "xmppd.h"

static const char *conn_state_names[CONN_STATE_MAX] = {
	"offline", "resolving", "connecting", "securing", "registering",
	"authenticating", "binding", "online", "waiting", "auth-failed",
	"closing",
};

static const char *conn_event_names[CEV_MAX] = {
	"NONE", "START", "RETRY", "NETWORK", "REDIRECT", "RESOLVED", "TCP_UP",
	"STARTTLS", "TLS_UP", "FEATURES", "REGISTER", "AUTH", "SASL_SUCCESS",
	"SASL_FAILURE", "BIND", "BOUND", "RESUMED", "STANZA", "PONG",
	"PING_TIMEOUT", "STREAM_ERROR", "ERROR", "TIMEOUT", "CLOSED",
	"COMMAND",
};

/* What a deadline guards, for "timed out ...". */
static const char *conn_phase_text[PHASE_MAX] = {
	"", "connecting", "waiting for the stream header",
	"waiting for stream features", "waiting for STARTTLS to proceed",
	"in the TLS handshake", "registering", "authenticating",
	"binding a resource", "resuming", "closing the stream",
};

/*
 * The transitions the machine makes: on EVENT, from any state in FROM, to
 * TO.  conn_set_state() refuses nothing but warns about a change that is
 * not listed here; scripts/fsm-table prints this table for HACKING.md
 * (tests/fsm-table.sh keeps the two in step).  Keep one row per line.
 */
#define S(x)		(1u << CONN_##x)
#define LIVE		(S(RESOLVING) | S(CONNECTING) | S(SECURING) | \
			    S(REGISTERING) | S(AUTHENTICATING) | S(BINDING) | \
			    S(ONLINE))
#define ALL		(LIVE | S(OFFLINE) | S(WAITING) | S(AUTH_FAILED) | \
			    S(CLOSING))
static const struct conn_transition {
	enum conn_event	ev;
	unsigned int	from;
	enum conn_state	to;
} conn_transitions[] = {
	/* clang-format off */
	{ CEV_START,		S(OFFLINE) | S(WAITING) | S(AUTH_FAILED), CONN_RESOLVING },
	{ CEV_RETRY,		S(WAITING),			CONN_RESOLVING },
	{ CEV_NETWORK,		S(WAITING),			CONN_RESOLVING },
	{ CEV_REDIRECT,		LIVE,				CONN_RESOLVING },
	{ CEV_RESOLVED,		S(RESOLVING) | S(SECURING),	CONN_CONNECTING },
	{ CEV_TCP_UP,		S(CONNECTING),			CONN_SECURING },
	{ CEV_REGISTER,		S(SECURING),			CONN_REGISTERING },
	{ CEV_AUTH,		S(SECURING) | S(REGISTERING),	CONN_AUTHENTICATING },
	{ CEV_SASL_FAILURE,	S(SECURING) | S(REGISTERING) | S(AUTHENTICATING), CONN_AUTH_FAILED },
	{ CEV_BIND,		S(AUTHENTICATING),		CONN_BINDING },
	{ CEV_BOUND,		S(BINDING),			CONN_ONLINE },
	{ CEV_RESUMED,		S(BINDING),			CONN_ONLINE },
	{ CEV_PING_TIMEOUT,	S(ONLINE),			CONN_WAITING },
	{ CEV_PING_TIMEOUT,	S(ONLINE),			CONN_OFFLINE },
	{ CEV_STREAM_ERROR,	LIVE,				CONN_WAITING },
	{ CEV_STREAM_ERROR,	LIVE,				CONN_OFFLINE },
	{ CEV_ERROR,		LIVE,				CONN_WAITING },
	{ CEV_ERROR,		LIVE | S(CLOSING),		CONN_OFFLINE },
	{ CEV_ERROR,		S(CLOSING),			CONN_RESOLVING },
	{ CEV_TIMEOUT,		LIVE,				CONN_WAITING },
	{ CEV_TIMEOUT,		LIVE | S(CLOSING),		CONN_OFFLINE },
	{ CEV_TIMEOUT,		S(CLOSING),			CONN_RESOLVING },
	{ CEV_CLOSED,		LIVE,				CONN_WAITING },
	{ CEV_CLOSED,		LIVE | S(CLOSING),		CONN_OFFLINE },
	{ CEV_CLOSED,		S(CLOSING),			CONN_RESOLVING },
	{ CEV_COMMAND,		LIVE,				CONN_CLOSING },
	{ CEV_COMMAND,		ALL,				CONN_OFFLINE },
	{ CEV_COMMAND,		LIVE,				CONN_RESOLVING },
	/* clang-format on */
};

static void	conn_fsm(struct conn *, enum conn_event, const char *);
static void	conn_handle(struct conn *, enum conn_event, uint32_t,
		    const char *);
static void	conn_begin(struct conn *, enum conn_event);
static void	conn_closed(struct conn *, enum conn_event);
static void	conn_close_clean(struct conn *, enum after_close);
static void	conn_teardown(struct conn *);
static void	conn_use_password(struct conn *, const char *);
static int	conn_xml_stanza(void *, struct stanza *);

static const struct xml_callbacks conn_xml_cbs = {
	negotiate_header, conn_xml_stanza, negotiate_stream_close
};

/* ---------------------------------------------------------------------- */
/* names and status */

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
	return conn_cur_jid(c);
}

const char *
conn_account(const struct conn *c)
{
	return c->bare;
}

const char *
conn_last_error(const struct conn *c)
{
	return c->last_error;
}

uint32_t
conn_retry_ms(const struct conn *c)
{
	return c->retry_ms;
}

int
conn_parked(const struct conn *c)
{
	return c->state == CONN_AUTH_FAILED ||
	    (c->state == CONN_OFFLINE && !c->want_online);
}

/* ---------------------------------------------------------------------- */
/* the state */

static int
conn_transition_known(enum conn_state from, enum conn_event ev,
    enum conn_state to)
{
	size_t	i;

	for (i = 0; i < nitems(conn_transitions); i++)
		if (conn_transitions[i].ev == ev &&
		    (conn_transitions[i].from & (1u << from)) != 0 &&
		    conn_transitions[i].to == to)
			return 1;
	return 0;
}

static void
conn_set_state(struct conn *c, enum conn_state st, enum conn_event ev,
    const char *reason)
{
	enum conn_state	prev = c->state;

	if (prev == st)
		return;
	if (!conn_transition_known(prev, ev, st))
		log_warnx("state machine: %s -> %s on %s is not in the "
		    "transition table", conn_state_name(prev),
		    conn_state_name(st), conn_event_names[ev]);
	c->state = st;
	c->since = time(NULL);
	log_set_context(conn_jid(c), conn_state_name(st));
	log_info("state change %s -> %s, reason: %s (%s)",
	    conn_state_name(prev), conn_state_name(st), reason,
	    conn_event_names[ev]);
	notify_state(conn_state_name(st), conn_jid(c), reason, c->retry_ms,
	    c->state == CONN_ONLINE ? c->peer : NULL);
	if (c->hooks.state != NULL)
		c->hooks.state(c->hooks.arg, prev, st, reason);
	if (st == CONN_ONLINE)
		stats_online(c->sm.resumed);
	else if (prev == CONN_ONLINE)
		stats_offline();
	if (st == CONN_ONLINE)
		svc_online(&c->services, c->sm.resumed);
	else if (prev == CONN_ONLINE)
		svc_offline(&c->services, c->sm.resumable && c->sm.id != NULL);
	if (c->watch != NULL)
		c->watch(c->watch_arg, prev, st);
}

static void
conn_clear_timers(struct conn *c)
{
	evtimer_del(c->ev_deadline);
	evtimer_del(c->ev_retry);
	evtimer_del(c->ev_ping_interval);
	evtimer_del(c->ev_stable);
	c->ping_outstanding = 0;
}

/* Drop the transport and everything that belongs to one stream. */
static void
conn_teardown(struct conn *c)
{
	sm_lost(&c->sm, time(NULL));
	conn_clear_timers(c);
	if (c->netreq != NULL) {
		net_resolve_cancel(c->netreq);
		c->netreq = NULL;
	}
	transport_close(c);
	xml_parser_free(c->xml);
	c->xml = NULL;
	stanza_free(c->features);
	c->features = NULL;
	c->pending = CEV_NONE;
	sasl_free(c->sasl);
	c->sasl = NULL;
	c->authenticated = 0;
	c->auth_retry_noplus = 0;	/* only the pin outlives a stream */
	c->sasl_final_seen = 0;
	c->neg = NEG_NONE;
	c->reg = REG_NONE;
	c->tls_desc[0] = '\0';
	c->sasl_used[0] = '\0';
	free(c->bound);
	c->bound = NULL;
	/* Our own requests belong to this stream. */
	iq_table_cancel(c->iqs, &c->arg_neg);
	iq_table_cancel(c->iqs, &c->arg_ping);
	iq_table_cancel(c->iqs, &c->arg_op);
	freezero_str(c->passwd_new);
	c->passwd_new = NULL;
	c->req_cb = NULL;
	c->req_arg = NULL;
	/* Tags not yet pinged for are void: no resumption without XEP-0198. */
	free(c->ack_tags);
	c->ack_tags = NULL;
	c->ack_ntags = c->ack_cap = 0;
	/* The services' requests wait for a resumption, if one may come. */
	if (!sm_can_resume(&c->sm, time(NULL)))
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
	conn_begin(c, CEV_RETRY);
}

/* Wait before the next attempt; min_ms raises the floor (stream errors). */
static void
conn_wait(struct conn *c, enum conn_event ev, uint32_t min_ms,
    const char *reason)
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
	/* One early retry per backoff step: not again if this was one. */
	c->early_retry_ok = !c->early_retried;
	c->early_retried = 0;
	conn_set_state(c, CONN_WAITING, ev, buf);
}

static void
conn_report_stopped(struct conn *c)
{
	if (c->stopped != NULL)
		c->stopped(c->stopped_arg);
}

/*
 * A connection attempt or session failed: record why and wait, or go
 * offline when nobody wants us online.
 */
static void
conn_fail(struct conn *c, enum conn_event ev, uint32_t min_ms,
    const char *reason)
{
	if (reason != c->last_error)
		strlcpy(c->last_error, reason, sizeof(c->last_error));
	if (ev == CEV_COMMAND)		/* asked for (unregister) */
		log_info("%s: %s", conn_jid(c), c->last_error);
	else
		log_warnx("%s: %s", conn_jid(c), c->last_error);
	if (!c->want_online || c->stopping) {
		conn_teardown(c);
		conn_set_state(c, CONN_OFFLINE, ev, c->last_error);
		if (c->stopping)
			conn_report_stopped(c);
		return;
	}
	conn_wait(c, ev, min_ms, c->last_error);
}

static void
conn_auth_failed(struct conn *c, const char *why)
{
	snprintf(c->last_error, sizeof(c->last_error), "%s", why);
	log_errx("%s: %s; not retrying until reauth, reload or SIGHUP",
	    conn_jid(c), why);
	conn_teardown(c);
	c->retry_ms = 0;
	conn_set_state(c, CONN_AUTH_FAILED, CEV_SASL_FAILURE, c->last_error);
}

static void
conn_deadline_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct conn	*c = arg;
	char		 why[300];

	(void)fd;
	(void)ev;
	switch (c->deadline_phase) {
	case PHASE_CLOSE:
		log_debug("server did not close the stream in time");
		conn_closed(c, CEV_TIMEOUT);
		return;
	case PHASE_CONNECT:
		snprintf(c->last_error, sizeof(c->last_error),
		    "connect to %s timed out", c->peer);
		log_info("%s", c->last_error);
		transport_next_address(c);
		return;
	default:
		snprintf(why, sizeof(why), "timed out %s",
		    conn_phase_text[c->deadline_phase]);
		conn_fsm(c, CEV_TIMEOUT, why);
		return;
	}
}

static void
conn_stable_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct conn	*c = arg;

	(void)fd;
	(void)ev;
	/*
	 * Online long enough: the next failure starts a fresh schedule, and
	 * redirects count from zero again.  Nothing else clears either.
	 */
	backoff_reset(&c->backoff);
	c->redirects = 0;
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

/* ---------------------------------------------------------------------- */
/* resolve and connect */

static void
conn_resolved(void *arg, struct net_addrlist *list, const char *err)
{
	struct conn	*c = arg;
	char		 why[600];

	c->netreq = NULL;
	if (list == NULL) {
		snprintf(why, sizeof(why), "cannot find %s: %s", c->looked_up,
		    err);
		conn_fsm(c, CEV_ERROR, why);
		return;
	}
	transport_connect(c, list);
}

static void
conn_begin(struct conn *c, enum conn_event ev)
{
	struct config	*conf = c->x->conf;
	const char	*err, *host = conf->server_host;
	char		*redirect;
	uint16_t	 port = conf->server_port;
	int		 mode;

	conn_teardown(c);
	c->want_online = 1;
	/* Every new attempt after the first, whatever caused it. */
	if (c->attempted)
		c->reconnects++;
	c->attempted = 1;
	mode = conf->tls == TLS_MODE_DIRECT ? NET_MODE_DIRECT :
	    conf->tls == TLS_MODE_STARTTLS ? NET_MODE_STARTTLS : NET_MODE_AUTO;
	/* A redirect (see-other-host) applies to the next attempt only. */
	redirect = c->redirect_host;
	c->redirect_host = NULL;
	if (redirect != NULL) {
		host = redirect;
		port = c->redirect_port;
	}
	if (host != NULL)
		snprintf(c->looked_up, sizeof(c->looked_up), "the server host "
		    "%s", host);
	else
		snprintf(c->looked_up, sizeof(c->looked_up), "the server for "
		    "%s (SRV %s._tcp.%s, then the host %s)", conf->jid.domain,
		    mode == NET_MODE_DIRECT ? "_xmpps-client" :
		    mode == NET_MODE_STARTTLS ? "_xmpp-client" :
		    "_xmpps-client and _xmpp-client", conf->jid.domain,
		    conf->jid.domain);
	conn_set_state(c, CONN_RESOLVING, ev, host ? host : conf->jid.domain);
	c->netreq = net_resolve(c->x->base, conf->jid.domain, host, port, mode,
	    conf->connect_timeout * 2, conn_resolved, c, &err);
	free(redirect);
	if (c->netreq == NULL)
		conn_fail(c, CEV_ERROR, 0, err);
}

/* ---------------------------------------------------------------------- */
/* the transition function */

static void
conn_online(struct conn *c, enum conn_event ev)
{
	char	buf[300];

	session_online(c);
	c->early_retried = 0;
	snprintf(buf, sizeof(buf), "%s as %s", c->sm.resumed ?
	    "session resumed, online" : "online", conn_jid(c));
	conn_set_state(c, CONN_ONLINE, ev, buf);
	/* Online again: an earlier failure is history (it is in the log). */
	if (c->state == CONN_ONLINE)
		c->last_error[0] = '\0';
}

/* Count an attempt or a session that failed, by its class (stats.h). */
static void
conn_count_failure(struct conn *c, enum conn_event ev)
{
	if (c->state == CONN_CLOSING || c->state == CONN_OFFLINE ||
	    c->state == CONN_WAITING)
		return;
	switch (ev) {
	case CEV_SASL_FAILURE:
		stats_failure(STATS_FAIL_AUTH);
		break;
	case CEV_STREAM_ERROR:
		stats_failure(STATS_FAIL_STREAM);
		break;
	case CEV_ERROR:
	case CEV_TIMEOUT:
	case CEV_CLOSED:
	case CEV_PING_TIMEOUT:
		stats_failure(c->tls_handshaking ? STATS_FAIL_TLS :
		    STATS_FAIL_NETWORK);
		break;
	default:
		break;
	}
}

static void
conn_handle(struct conn *c, enum conn_event ev, uint32_t min_ms,
    const char *reason)
{
	conn_count_failure(c, ev);
	switch (ev) {
	case CEV_NONE:
	case CEV_STANZA:
	case CEV_PONG:
	case CEV_FEATURES:
	case CEV_MAX:
		break;
	case CEV_START:
	case CEV_RETRY:
	case CEV_NETWORK:
		conn_begin(c, ev);
		break;
	case CEV_REDIRECT:
		log_info("redirected to %s:%u", c->redirect_host,
		    c->redirect_port);
		conn_begin(c, ev);
		break;
	case CEV_RESOLVED:
		conn_set_state(c, CONN_CONNECTING, ev, reason);
		break;
	case CEV_TCP_UP:
		stats.connects++;
		conn_set_state(c, CONN_SECURING, ev, reason);
		if (c->direct_tls)
			transport_start_tls(c);
		else
			negotiate_open_stream(c);
		break;
	case CEV_STARTTLS:
		transport_start_tls(c);
		break;
	case CEV_TLS_UP:
	case CEV_SASL_SUCCESS:		/* a new stream on the same link */
		negotiate_open_stream(c);
		break;
	case CEV_REGISTER:
		conn_set_state(c, CONN_REGISTERING, ev, reason);
		break;
	case CEV_AUTH:
		conn_set_state(c, CONN_AUTHENTICATING, ev, reason);
		break;
	case CEV_BIND:
		conn_set_state(c, CONN_BINDING, ev, reason);
		break;
	case CEV_BOUND:
	case CEV_RESUMED:
		conn_online(c, ev);
		break;
	case CEV_SASL_FAILURE:
		conn_auth_failed(c, reason);
		break;
	case CEV_CLOSED:
		if (c->state == CONN_CLOSING) {
			conn_closed(c, ev);
			break;
		}
		transport_send_raw(c, "</stream:stream>", 16);
		sm_forget(&c->sm, 1);
		conn_fail(c, ev, 0, "the server closed the stream");
		break;
	case CEV_PING_TIMEOUT:
	case CEV_STREAM_ERROR:
	case CEV_ERROR:
	case CEV_TIMEOUT:
	case CEV_COMMAND:
		if (c->state == CONN_CLOSING) {
			strlcpy(c->last_error, reason, sizeof(c->last_error));
			conn_closed(c, ev);
		} else
			conn_fail(c, ev, min_ms, reason);
		break;
	}
}

/* An event now; CEV_NONE: the one a parser callback deferred. */
static void
conn_fsm(struct conn *c, enum conn_event ev, const char *reason)
{
	char	buf[sizeof(c->pending_reason)];

	if (ev != CEV_NONE) {
		conn_handle(c, ev, 0, reason);
		return;
	}
	if ((ev = c->pending) == CEV_NONE)
		return;
	c->pending = CEV_NONE;
	snprintf(buf, sizeof(buf), "%s", c->pending_reason);
	conn_handle(c, ev, c->pending_min_ms, buf);
}

static void
conn_pending_cb(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	conn_fsm(arg, CEV_NONE, NULL);
}

/* Where an element of the stream goes, by what is going on. */
static int
conn_xml_stanza(void *arg, struct stanza *s)
{
	struct conn	*c = arg;
	const char	*name = stanza_name(s), *ns = stanza_ns(s);
	int		 r = XML_CONTINUE;

	if (ns != NULL && strcmp(ns, NS_STREAMS) == 0) {
		if (strcmp(name, "error") == 0)
			r = negotiate_stream_error(c, s);
		else if (strcmp(name, "features") == 0 &&
		    c->neg == NEG_FEATURES) {
			stanza_free(c->features);
			c->features = s;
			evtimer_del(c->ev_deadline);
			negotiate_features(c, s);
			return c->pending != CEV_NONE ? XML_STOP : XML_CONTINUE;
		}
		stanza_free(s);
		return r;
	}
	if (c->state == CONN_CLOSING) {
		stanza_free(s);
		return XML_CONTINUE;
	}
	if (ns != NULL && strcmp(ns, NS_SM) == 0) {
		switch (session_sm_input(c, s)) {
		case SESSION_SM_RESUMED:
			conn_fsm(c, CEV_RESUMED, NULL);
			break;
		case SESSION_SM_RESUME_FAILED:
			negotiate_features(c, c->features);
			break;
		case SESSION_SM_OK:
			break;
		}
		stanza_free(s);
		return c->pending != CEV_NONE ? XML_STOP : XML_CONTINUE;
	}
	if (c->state == CONN_ONLINE && c->neg == NEG_DONE) {
		session_stanza(c, s);
		/* XEP-0198 counts every stanza we handled. */
		if (strcmp(name, "message") == 0 ||
		    strcmp(name, "presence") == 0 || strcmp(name, "iq") == 0)
			sm_received(&c->sm);
	} else if (c->neg == NEG_PROCEED)
		r = negotiate_proceed(c, s);
	else if (c->neg == NEG_AUTH && c->reg == REG_NONE)
		r = auth_input(c, s);
	else if (c->reg != REG_NONE || c->neg == NEG_BIND ||
	    c->neg == NEG_SESSION) {
		if (strcmp(name, "iq") != 0 || !iq_table_input(c->iqs, s))
			log_debug("ignoring <%s/> during negotiation", name);
		conn_iq_arm(c);
	} else
		log_debug("ignoring <%s/> before negotiation", name);
	stanza_free(s);
	return c->pending != CEV_NONE ? XML_STOP : r;
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
	struct timeval	tv;

	c->after_close = after;
	if (c->state == CONN_CLOSING)
		return;
	/* A deliberate close ends the session: never resume it. */
	sm_forget(&c->sm, 0);
	if (c->bev == NULL || c->tls_handshaking || c->neg == NEG_NONE ||
	    c->state == CONN_CONNECTING) {
		conn_closed(c, CEV_COMMAND);
		return;
	}
	if (c->state == CONN_ONLINE)
		transport_send_raw(c, "<presence type='unavailable'/>",
		    sizeof("<presence type='unavailable'/>") - 1);
	transport_send_raw(c, "</stream:stream>", 16);
	conn_clear_timers(c);
	tv.tv_sec = CLOSE_TIMEOUT_MS / 1000;
	tv.tv_usec = (CLOSE_TIMEOUT_MS % 1000) * 1000;
	c->deadline_phase = PHASE_CLOSE;
	evtimer_add(c->ev_deadline, &tv);
	conn_set_state(c, CONN_CLOSING, CEV_COMMAND, "closing the stream");
}

static void
conn_closed(struct conn *c, enum conn_event ev)
{
	enum after_close	after = c->after_close;

	c->after_close = AFTER_NOTHING;
	transport_tls_shutdown(c);
	conn_teardown(c);
	switch (after) {
	case AFTER_CONNECT:
		conn_begin(c, ev);
		break;
	case AFTER_EXIT:
		conn_set_state(c, CONN_OFFLINE, ev, "shutting down");
		conn_report_stopped(c);
		break;
	default:
		conn_set_state(c, CONN_OFFLINE, ev, c->want_online ?
		    "stream closed" : "disconnected on request");
		break;
	}
}

/* ---------------------------------------------------------------------- */
/* the service API */

void
conn_add_service(struct conn *c, const struct conn_service *svc)
{
	svc_add(&c->services, svc);
}

uint64_t
conn_tag_new(struct conn *c)
{
	return ++c->tagseq;
}

int
conn_iq_send(struct conn *c, struct stanza *iq, unsigned int timeout_s,
    iq_cb cb, void *arg)
{
	if (!conn_is_online(c)) {
		stanza_free(iq);
		return -1;
	}
	transport_send_iq(c, iq, timeout_s, cb, arg);
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
	if (!conn_is_online(c) || sm_full(&c->sm)) {
		stanza_free(s);
		return -1;
	}
	transport_send(c, s, tag);
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

/* ---------------------------------------------------------------------- */
/* verbs */

void
conn_connect(struct conn *c)
{
	c->want_online = 1;
	if (c->state == CONN_OFFLINE || c->state == CONN_WAITING ||
	    c->state == CONN_AUTH_FAILED)
		conn_begin(c, CEV_START);
	else if (c->state == CONN_CLOSING)
		c->after_close = AFTER_CONNECT;
}

/* Start over: close what there is, then connect afresh. */
static void
conn_restart(struct conn *c)
{
	c->want_online = 1;
	if (c->bev != NULL && c->state != CONN_CLOSING)
		conn_close_clean(c, AFTER_CONNECT);
	else if (c->state == CONN_CLOSING)
		c->after_close = AFTER_CONNECT;
	else
		conn_begin(c, CEV_START);
}

void
conn_disconnect(struct conn *c)
{
	c->want_online = 0;
	if (c->state != CONN_OFFLINE)
		conn_close_clean(c, AFTER_OFFLINE);
}

void
conn_reconnect(struct conn *c)
{
	free(c->redirect_host);
	c->redirect_host = NULL;
	conn_restart(c);
}

void
conn_reauth(struct conn *c, const char *password)
{
	/* reauth means "the configured password": passwd's is dropped. */
	freezero_str(c->passwd_set);
	c->passwd_set = NULL;
	conn_use_password(c, password);
	c->auth_retry_noplus = 0;
	sasl_forget_cache();	/* salted from the password replaced */
	conn_restart(c);
}

void
conn_register(struct conn *c)
{
	c->want_register = 1;
	c->reg_code = NULL;
	free(c->reg_text);
	c->reg_text = NULL;
	conn_restart(c);
}

int
conn_register_result(const struct conn *c, const char **code,
    const char **text)
{
	*code = c->reg_code;
	*text = c->reg_text;
	return c->reg_text != NULL;
}

int
conn_passwd(struct conn *c, const char *password, conn_reply_cb cb,
    void *arg)
{
	if (!conn_is_online(c))
		return -1;
	register_passwd(c, password, cb, arg);
	return 0;
}

int
conn_unregister(struct conn *c, conn_reply_cb cb, void *arg)
{
	if (!conn_is_online(c))
		return -1;
	register_remove(c, cb, arg);
	return 0;
}

/* ---------------------------------------------------------------------- */
/* immediate commands and status */

/* Never send text XML forbids, whoever handed it over (*err: static). */
static int
conn_text_refused(const char *s, const char *what, const char **err)
{
	static char	buf[64 + XML_TEXT_ERR_MAX];
	char		why[XML_TEXT_ERR_MAX];

	if (xml_text_valid(s, strlen(s), why, sizeof(why)))
		return 0;
	snprintf(buf, sizeof(buf), "%s is not XML text: %s", what, why);
	*err = buf;
	return 1;
}

int
conn_send_message(struct conn *c, const char *to, const char *body,
    const char **err)
{
	struct stanza	*m;
	struct jid	 j;

	if (jid_parse(to, &j, err) == -1)
		return -1;
	jid_clear(&j);
	if (conn_text_refused(body, "the message", err))
		return -1;
	if (c->state != CONN_ONLINE) {
		*err = "not online; the message was not sent";
		return -1;
	}
	m = stanza_new("message", NULL);
	stanza_set_attr(m, "to", to);
	stanza_set_attr(m, "type", "chat");
	stanza_add_text_child(m, "body", NULL, body);
	transport_send(c, m, 0);
	stanza_free(m);
	return 0;
}

int
conn_set_presence(struct conn *c, const char *show, const char *status,
    const char **err)
{
	if (show != NULL && !presence_show_valid(show)) {
		*err = "SHOW must be " PRESENCE_SHOWS;
		return -1;
	}
	if (status != NULL && conn_text_refused(status, "the status", err))
		return -1;
	if (show != NULL && strcmp(show, "available") == 0)
		show = NULL;
	free(c->show);
	free(c->status);
	c->show = show ? xstrdup(show) : NULL;
	c->status = status && *status ? xstrdup(status) : NULL;
	if (c->state == CONN_ONLINE)
		session_send_presence(c);
	svc_presence(&c->services, c->show, c->status);
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
	put(arg, "channel_binding", c->cb_status ? c->cb_status : "-");
	/* No session without a login: none in offline or auth-failed. */
	put(arg, "sm", c->state == CONN_OFFLINE ||
	    c->state == CONN_AUTH_FAILED ? "no" : c->sm.resumed ? "resumed" :
	    c->sm.resumable ? "resumable" : c->sm.enabled ? "enabled" : "no");
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

/*
 * The network changed under us.  Online: probe with a ping that must be
 * answered within PROBE_TIMEOUT, so a dead path is noticed now.  Waiting:
 * the network may be back; try at once.
 */
void
conn_network_changed(struct conn *c)
{
	if (c->stopping)
		return;
	if (c->state == CONN_WAITING) {
		if (!c->early_retry_ok) {
			log_info("network changed: already retried early; "
			    "waiting out the backoff");
			return;
		}
		c->early_retry_ok = 0;
		c->early_retried = 1;
		log_info("network changed: retrying now");
		evtimer_del(c->ev_retry);
		c->retry_ms = 0;
		conn_begin(c, CEV_NETWORK);
		return;
	}
	if (c->state != CONN_ONLINE || c->ping_outstanding)
		return;
	log_info("network changed: probing the link");
	session_ping(c, PROBE_TIMEOUT < c->x->conf->ping_timeout ?
	    PROBE_TIMEOUT : c->x->conf->ping_timeout);
}

/* ---------------------------------------------------------------------- */
/* life cycle */

/* SIGTERM with resume_after_restart, or a handover: keep the session. */
static int
conn_hand_over(struct conn *c)
{
	char	*cause = NULL;

	if ((!c->x->conf->resume_after_restart && !c->x->handover) ||
	    c->state != CONN_ONLINE ||
	    !c->sm.resumable || c->sm.id == NULL)
		return -1;
	if (session_sm_save(c, &cause) == -1) {
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
	conn_set_state(c, CONN_OFFLINE, CEV_COMMAND, "session kept for a "
	    "restart");
	conn_report_stopped(c);
	return 0;
}

/*
 * The password to log in with: the one set by passwd while the configured
 * one is still what it was at the change, else the configured one.
 */
static void
conn_use_password(struct conn *c, const char *configured)
{
	if (configured == NULL)
		configured = "";
	freezero_str(c->password);
	if (c->passwd_set != NULL && strcmp(configured, c->passwd_base) == 0) {
		c->password = xstrdup(c->passwd_set);
		log_info("using the password set by passwd, not the configured "
		    "one (which has not changed since)");
		return;
	}
	freezero_str(c->passwd_set);
	freezero_str(c->passwd_base);
	c->passwd_set = c->passwd_base = NULL;
	c->password = xstrdup(configured);
}

static void
conn_load_account(struct conn *c)
{
	struct config	*conf = c->x->conf;

	free(c->bare);
	c->bare = jid_bare(&conf->jid);
	conn_use_password(c, conf->password);
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
	c->fsm = conn_fsm;
	c->xml_cbs = &conn_xml_cbs;
	c->fd = -1;
	c->since = time(NULL);
	sm_init(&c->sm);
	c->arg_neg.c = c->arg_ping.c = c->arg_op.c = c;
	c->ev_deadline = evtimer_new(x->base, conn_deadline_cb, c);
	c->ev_retry = evtimer_new(x->base, conn_retry_cb, c);
	c->ev_ping_interval = evtimer_new(x->base, session_ping_interval_cb,
	    c);
	c->ev_stable = evtimer_new(x->base, conn_stable_cb, c);
	c->ev_pending = event_new(x->base, -1, 0, conn_pending_cb, c);
	c->ev_iq = evtimer_new(x->base, conn_iq_timer_cb, c);
	c->ev_ackping = event_new(x->base, -1, 0, session_ackping_cb, c);
	if (c->ev_deadline == NULL || c->ev_retry == NULL ||
	    c->ev_ping_interval == NULL || c->ev_stable == NULL ||
	    c->ev_pending == NULL || c->ev_iq == NULL || c->ev_ackping == NULL)
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
conn_on_stopped(struct conn *c, void (*fn)(void *), void *arg)
{
	c->stopped = fn;
	c->stopped_arg = arg;
}

void
conn_watch(struct conn *c, void (*fn)(void *, enum conn_state,
    enum conn_state), void *arg)
{
	c->watch = fn;
	c->watch_arg = arg;
}

void
conn_start(struct conn *c)
{
	session_sm_load(c);
	c->want_online = 1;
	c->want_register = c->x->conf->auto_register;
	conn_begin(c, CEV_START);
}

void
conn_shutdown(struct conn *c)
{
	c->want_online = 0;
	c->stopping = 1;
	if (conn_hand_over(c) == 0)
		return;
	if (c->bev != NULL && c->state != CONN_CLOSING)
		conn_close_clean(c, AFTER_EXIT);
	else if (c->state == CONN_CLOSING)
		c->after_close = AFTER_EXIT;
	else {
		conn_teardown(c);
		conn_set_state(c, CONN_OFFLINE, CEV_COMMAND, "shutting down");
		conn_report_stopped(c);
	}
}

int
conn_config_changed(struct conn *c, int reconnect)
{
	int	was_parked = c->state == CONN_AUTH_FAILED;

	conn_load_account(c);
	c->auth_retry_noplus = 0;
	/* After "disconnect", a reload changes settings, not the state. */
	if ((reconnect || was_parked) && c->want_online) {
		free(c->redirect_host);
		c->redirect_host = NULL;
		conn_restart(c);
		return 1;
	}
	if (c->state == CONN_ONLINE)
		session_send_presence(c);
	return 0;
}

void
conn_free(struct conn *c)
{
	if (c == NULL)
		return;
	c->stopping = 1;
	c->watch = NULL;
	conn_teardown(c);
	net_addrlist_free(c->addrs);
	event_free(c->ev_deadline);
	event_free(c->ev_retry);
	event_free(c->ev_ping_interval);
	event_free(c->ev_stable);
	event_free(c->ev_pending);
	iq_table_free(c->iqs);
	event_free(c->ev_iq);
	event_free(c->ev_ackping);
	sm_free(&c->sm);
	freezero_str(c->password);
	freezero_str(c->passwd_new);
	freezero_str(c->passwd_set);
	freezero_str(c->passwd_base);
	free(c->reg_text);
	free(c->bare);
	free(c->show);
	free(c->status);
	free(c->redirect_host);
	free(c->out);
	free(c);
}
