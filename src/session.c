/*
 * session.c: the connection while online.  It owns the keepalive (the
 * ping interval timer; the ping's own timeout is its deadline in the iq
 * table), XEP-0198 on the wire (struct sm does the counting), answers to
 * incoming requests, the dispatch of incoming stanzas to services and
 * control hooks, and the saved-session file.
 */
#include "compat.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "caps.h"
#include "config.h"
#include "conn_priv.h"
#include "log.h"
#include "negotiate.h"
#include "notify.h"
#include "session.h"
#include "stanza.h"
#include "stats.h"
#include "transport.h"
#include "util.h"
#include "xmalloc.h"
#include "xmppd.h"

#define R_ELEMENT	"<r xmlns='" NS_SM "'/>"

static void
session_send_r(struct conn *c)
{
	transport_send_raw(c, R_ELEMENT, sizeof(R_ELEMENT) - 1);
}

/*
 * XEP-0352: a bot needs nothing at once, so it tells a server that offers
 * client state indication that it is inactive, after a login and after a
 * resume (XEP-0352 5.2: resumption does not restore the state).
 */
static void
session_csi(struct conn *c)
{
	static const char	inactive[] = "<inactive xmlns='" NS_CSI "'/>";

	if (!c->x->conf->csi || c->features == NULL ||
	    stanza_child(c->features, "csi", NS_CSI) == NULL)
		return;
	transport_send_raw(c, inactive, sizeof(inactive) - 1);
	log_debug("client state indication: inactive");
}

void
session_send_presence(struct conn *c)
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
	caps_add_to_presence(p);
	transport_send(c, p, 0);
	stanza_free(p);
}

/*
 * A fresh session enables stream management, announces presence and
 * resends messages a failed resumption left unacknowledged; a resumed one
 * needs none of that.
 */
void
session_online(struct conn *c)
{
	struct timeval	 tv = { STABLE_SECONDS, 0 };
	struct sm_items	 old;
	struct sm_item	*it;

	evtimer_del(c->ev_deadline);
	c->neg = NEG_DONE;
	if (!c->sm.resumed) {
		sm_restart(&c->sm, &old);
		if (c->features != NULL &&
		    stanza_child(c->features, "sm", NS_SM) != NULL) {
			transport_send_raw(c, "<enable xmlns='" NS_SM "' "
			    "resume='true'/>", sizeof("<enable xmlns='" NS_SM
			    "' resume='true'/>") - 1);
			c->sm.enabled = 1;	/* counting starts now */
		}
		session_send_presence(c);
		/* The old session's requests will not be answered. */
		iq_table_gone(c->iqs);
		conn_iq_arm(c);
		while ((it = TAILQ_FIRST(&old)) != NULL) {
			TAILQ_REMOVE(&old, it, entry);
			log_info("resending a message the old session did not "
			    "deliver");
			transport_send_raw(c, it->data, it->len);
			if (c->sm.enabled)
				sm_track(&c->sm, NULL, it->data, it->len, 0);
			free(it);
		}
	}
	session_csi(c);
	evtimer_add(c->ev_stable, &tv);
	if (c->x->conf->ping_interval > 0) {
		tv.tv_sec = c->x->conf->ping_interval;
		evtimer_add(c->ev_ping_interval, &tv);
	}
}

static void
session_pong(struct conn *c)
{
	struct timeval	tv = { c->x->conf->ping_interval, 0 };

	c->ping_outstanding = 0;
	/* ping_interval 0: pings are off; a probe's answer starts none. */
	if (c->x->conf->ping_interval > 0)
		evtimer_add(c->ev_ping_interval, &tv);
}

/* The answer to our ping, or its absence. */
static void
session_ping_answer(void *arg, enum iq_outcome how, const struct stanza *r)
{
	struct conn	*c = ((struct conn_iqarg *)arg)->c;
	char		 why[200];

	(void)r;
	switch (how) {
	case IQ_RESULT:
	case IQ_ERROR:
		/* An error reply still proves the link is alive. */
		stats_ping_answered();
		session_pong(c);
		break;
	case IQ_TIMEOUT:
		notify_watchdog_kick();
		c->ping_outstanding = 0;
		snprintf(why, sizeof(why), "no answer to a ping within %us; "
		    "the link is presumed dead", c->ping_wait);
		c->fsm(c, CEV_PING_TIMEOUT, why);
		break;
	case IQ_GONE:
		c->ping_outstanding = 0;
		break;
	}
}

void
session_ping(struct conn *c, unsigned int secs)
{
	struct stanza	*iq;

	if (!conn_is_online(c))
		return;
	iq = stanza_new("iq", NULL);
	stanza_set_attr(iq, "type", "get");
	stanza_set_attr(iq, "to", c->x->conf->jid.domain);
	stanza_add_child(iq, "ping", NS_PING);
	evtimer_del(c->ev_ping_interval);
	c->ping_outstanding = 1;
	c->ping_wait = secs;
	stats_ping_sent();
	transport_send_iq(c, iq, secs, session_ping_answer, &c->arg_ping);
	if (c->sm.enabled)	/* and learn what the server has received */
		session_send_r(c);
}

void
session_ping_interval_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct conn	*c = arg;

	(void)fd;
	(void)ev;
	notify_watchdog_kick();
	if (c->state != CONN_ONLINE || c->ping_outstanding)
		return;
	session_ping(c, c->x->conf->ping_timeout);
}

/*
 * Without XEP-0198, the answer to a ping proves the server has read what
 * was sent before it: one ping per burst of tagged stanzas.
 */
struct session_ackping {
	struct conn	*c;
	uint64_t	*tags;
	size_t		 n;
};

static void
session_ackping_answer(void *arg, enum iq_outcome how,
    const struct stanza *reply)
{
	struct session_ackping	*a = arg;
	struct conn		*c = a->c;
	size_t			 i;
	char			 why[200];

	(void)reply;
	if (how == IQ_RESULT || how == IQ_ERROR)
		for (i = 0; i < a->n; i++)
			svc_acked(&c->services, a->tags[i]);
	free(a->tags);
	free(a);
	if (how == IQ_TIMEOUT) {
		snprintf(why, sizeof(why), "no answer to a ping within %us; "
		    "the link is presumed dead", c->x->conf->ping_timeout);
		c->fsm(c, CEV_PING_TIMEOUT, why);
	}
}

void
session_ackping_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct conn		*c = arg;
	struct session_ackping	*a;
	struct stanza		*iq;

	(void)fd;
	(void)ev;
	if (c->ack_ntags == 0)
		return;
	if (!conn_is_online(c)) {
		/* The stream ended meanwhile: these tags are void. */
		free(c->ack_tags);
		c->ack_tags = NULL;
		c->ack_ntags = c->ack_cap = 0;
		return;
	}
	a = xcalloc(1, sizeof(*a));
	a->c = c;
	a->tags = c->ack_tags;
	a->n = c->ack_ntags;
	c->ack_tags = NULL;
	c->ack_ntags = c->ack_cap = 0;
	iq = stanza_new("iq", NULL);
	stanza_set_attr(iq, "type", "get");
	stanza_set_attr(iq, "to", c->x->conf->jid.domain);
	stanza_add_child(iq, "ping", NS_PING);
	transport_send_iq(c, iq, c->x->conf->ping_timeout,
	    session_ackping_answer, a);
}

static struct stanza *
session_iq_reply(const struct stanza *req, const char *type)
{
	struct stanza	*r = stanza_new("iq", NULL);

	stanza_set_attr(r, "type", type);
	if (stanza_attr(req, "id") != NULL)
		stanza_set_attr(r, "id", stanza_attr(req, "id"));
	if (stanza_attr(req, "from") != NULL)
		stanza_set_attr(r, "to", stanza_attr(req, "from"));
	return r;
}

/* An iq get or set addressed to us: answer what we know, refuse the rest. */
static void
session_iq_request(struct conn *c, const struct stanza *s,
    const struct stanza *q)
{
	struct stanza	*r, *rq, *e;
	const char	*ns = q ? stanza_ns(q) : NULL;

	if (ns != NULL && strcmp(ns, NS_PING) == 0)
		r = session_iq_reply(s, "result");
	else if (ns != NULL && strcmp(ns, NS_DISCO_INFO) == 0 &&
	    caps_node_ours(stanza_attr(q, "node"))) {
		/* No node, or XEP-0115's node#ver: the same answer. */
		r = session_iq_reply(s, "result");
		rq = stanza_add_child(r, "query", NS_DISCO_INFO);
		if (stanza_attr(q, "node") != NULL)
			stanza_set_attr(rq, "node", stanza_attr(q, "node"));
		caps_add_query(rq);
	} else if (ns != NULL && strcmp(ns, NS_VERSION) == 0) {
		r = session_iq_reply(s, "result");
		rq = stanza_add_child(r, "query", NS_VERSION);
		stanza_add_text_child(rq, "name", NULL, PACKAGE_NAME);
		stanza_add_text_child(rq, "version", NULL, PACKAGE_VERSION);
	} else {
		/* RFC 6120 §8.4: an iq we do not understand. */
		r = session_iq_reply(s, "error");
		e = stanza_add_child(r, "error", NULL);
		stanza_set_attr(e, "type", "cancel");
		stanza_add_child(e, "service-unavailable", NS_STANZAS);
	}
	transport_send(c, r, 0);
	stanza_free(r);
}

/* A bounce: to the control hooks with its condition, body or not. */
static void
session_message_error(struct conn *c, const struct stanza *s,
    const char *from)
{
	struct stanza	*err, *b;
	const char	*cond = "undefined-condition", *text;

	if ((err = stanza_child(s, "error", NULL)) != NULL)
		cond = conn_error_condition(err, NS_STANZAS, &text);
	b = stanza_child(s, "body", NULL);
	if (c->hooks.message_error != NULL)
		c->hooks.message_error(c->hooks.arg, from ? from : "", cond,
		    b != NULL && stanza_text(b) != NULL ? stanza_text(b) : "");
}

void
session_stanza(struct conn *c, const struct stanza *s)
{
	const char	*name = stanza_name(s), *type = stanza_attr(s, "type");
	const char	*from = stanza_attr(s, "from"), *id = stanza_attr(s, "id");
	struct stanza	*b, *p, *sh, *st;

	stats.stanzas_in++;
	if (strcmp(name, "iq") == 0) {
		if (type == NULL || id == NULL)
			return;
		if (strcmp(type, "get") == 0 || strcmp(type, "set") == 0)
			session_iq_request(c, s, stanza_first_child(s));
		else if (!iq_table_input(c->iqs, s))
			log_debug("ignoring an iq %s nobody waits for", type);
		conn_iq_arm(c);
		return;
	}
	if (svc_stanza(&c->services, s))
		return;
	if (strcmp(name, "message") == 0) {
		if (type != NULL && strcmp(type, "error") == 0) {
			session_message_error(c, s, from);
			return;
		}
		if ((b = stanza_child(s, "body", NULL)) == NULL)
			return;
		if (c->hooks.message != NULL)
			c->hooks.message(c->hooks.arg, from ? from : "",
			    type ? type : "normal", stanza_text(b));
	} else if (strcmp(name, "presence") == 0) {
		if (type != NULL && strcmp(type, "subscribe") == 0 &&
		    from != NULL &&
		    c->x->conf->subscriptions == SUBS_ACCEPT) {
			p = stanza_new("presence", NULL);
			stanza_set_attr(p, "to", from);
			stanza_set_attr(p, "type", "subscribed");
			transport_send(c, p, 0);
			stanza_free(p);
			log_info("accepted a subscription request");
		}
		if (c->hooks.presence != NULL) {
			sh = stanza_child(s, "show", NULL);
			st = stanza_child(s, "status", NULL);
			c->hooks.presence(c->hooks.arg, from ? from : "",
			    type ? type : "available",
			    sh ? stanza_text(sh) : NULL,
			    st ? stanza_text(st) : NULL);
		}
	}
}

static void
session_acked(void *arg, uint64_t tag)
{
	struct conn	*c = arg;

	svc_acked(&c->services, tag);
}

static enum session_sm
session_resumed(struct conn *c, const struct stanza *s)
{
	struct sm_item	*it;
	size_t		 dropped;

	if (sm_resumed(&c->sm, stanza_attr(s, "h"), session_acked, c,
	    &dropped) == -1) {
		conn_defer(c, CEV_ERROR, 0, "stream management: the server "
		    "acknowledged stanzas we never sent");
		return SESSION_SM_OK;
	}
	if (dropped > 0)
		log_info("not resending %zu stanzas: a password, or a "
		    "service's from before a restart (it resends)", dropped);
	c->bound = xstrdup(c->sm.jid);
	/* Resend what the old stream lost, in order, same counters. */
	TAILQ_FOREACH(it, &c->sm.unacked, entry)
		transport_send_raw(c, it->data, it->len);
	if (!TAILQ_EMPTY(&c->sm.unacked)) {
		log_info("resent %zu unacknowledged stanzas", c->sm.n);
		session_send_r(c);
	}
	return SESSION_SM_RESUMED;
}

enum session_sm
session_sm_input(struct conn *c, const struct stanza *s)
{
	const char	*name = stanza_name(s);
	struct sm_item	*it;
	char		*out;
	size_t		 len;

	if (strcmp(name, "r") == 0 && c->sm.enabled) {
		len = xasprintf(&out, "<a xmlns='" NS_SM "' h='%u'/>",
		    c->sm.h_in);
		transport_send_raw(c, out, len);
		free(out);
	} else if (strcmp(name, "a") == 0 && c->sm.enabled) {
		if (sm_ack(&c->sm, stanza_attr(s, "h"), session_acked,
		    c) == -1)
			conn_defer(c, CEV_ERROR, 0, "stream management: the "
			    "server acknowledged stanzas we never sent");
	} else if (strcmp(name, "enabled") == 0 && c->sm.enabled) {
		sm_enabled(&c->sm, stanza_attr(s, "resume"),
		    stanza_attr(s, "id"), stanza_attr(s, "max"),
		    conn_cur_jid(c));
		log_info("stream management enabled%s", c->sm.resumable ?
		    ", session resumable" : "");
	} else if (strcmp(name, "resumed") == 0 && c->neg == NEG_RESUME)
		return session_resumed(c, s);
	else if (strcmp(name, "failed") == 0 && c->neg == NEG_RESUME) {
		log_info("the server could not resume the session; starting "
		    "a new one");
		free(c->sm.id);
		c->sm.id = NULL;
		c->sm.resumable = 0;
		/* A resume earlier in this process must not make this one. */
		c->sm.resumed = 0;
		return SESSION_SM_RESUME_FAILED;
	} else if (strcmp(name, "failed") == 0) {
		log_info("the server refused stream management");
		/* What services sent meanwhile is acked by a ping instead. */
		TAILQ_FOREACH(it, &c->sm.unacked, entry)
			if (it->tag != 0 && !it->void_tag) {
				if (c->ack_ntags == c->ack_cap) {
					c->ack_cap = c->ack_cap ?
					    c->ack_cap * 2 : 8;
					c->ack_tags = xreallocarray(
					    c->ack_tags, c->ack_cap,
					    sizeof(*c->ack_tags));
				}
				c->ack_tags[c->ack_ntags++] = it->tag;
				event_active(c->ev_ackping, EV_TIMEOUT, 0);
			}
		sm_forget(&c->sm, 0);
	}
	return SESSION_SM_OK;
}

/* ---------------------------------------------------------------------- */
/* a session kept across a restart (resume_after_restart) */

static char *
session_sm_path(const struct conn *c)
{
	char	*p;

	xasprintf(&p, "%s/sm-session.%s", c->x->conf->state_dir, c->bare);
	return p;
}

static void
session_sm_fill(FILE *f, void *arg)
{
	struct conn	*c = arg;

	sm_save(&c->sm, f, time(NULL));
}

static char *
session_presence_path(const struct conn *c)
{
	char	*p;

	xasprintf(&p, "%s/sm-presence.%s", c->x->conf->state_dir, c->bare);
	return p;
}

/* The presence the kept session has, for status after the resume. */
static void
session_presence_fill(FILE *f, void *arg)
{
	struct conn	*c = arg;

	fprintf(f, "%s\n%s", c->show ? c->show : "available",
	    c->status ? c->status : "");
}

int
session_sm_save(struct conn *c, char **cause)
{
	char	*path = session_sm_path(c);
	int	 r;

	r = write_private_file(c->x->conf->state_dir, path, session_sm_fill,
	    c, cause);
	free(path);
	if (r == -1)
		return -1;
	path = session_presence_path(c);
	if (write_private_file(c->x->conf->state_dir, path,
	    session_presence_fill, c, cause) == -1) {
		free(path);
		path = session_sm_path(c);
		unlink(path);
		free(path);
		return -1;
	}
	free(path);
	return 0;
}

/* The presence saved with the session: the one contacts still see. */
static void
session_presence_load(struct conn *c, int use)
{
	char	*path = session_presence_path(c), buf[PRESENCE_SAVED_MAX + 1];
	char	*show, *status;
	size_t	 len;
	FILE	*f;

	if ((f = fopen(path, "re")) == NULL) {
		free(path);
		return;
	}
	unlink(path);
	len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	if (use && presence_saved_parse(buf, len, &show, &status) == 0) {
		free(c->show);
		free(c->status);
		c->show = show;
		c->status = status;
	} else if (use)
		log_info("discarding the saved presence in %s: unreadable",
		    path);
	free(path);
}

/*
 * At start-up: take over a session saved by the previous process, if it
 * is ours and the server still holds it.  The file is consumed either way.
 */
void
session_sm_load(struct conn *c)
{
	char		*path = session_sm_path(c);
	const char	*why = NULL;
	FILE		*f;

	if ((f = fopen(path, "re")) == NULL) {
		free(path);
		return;
	}
	unlink(path);
	/* Kept on SIGTERM (resume_after_restart) or by a handover. */
	(void)sm_load(&c->sm, f, c->bare, time(NULL), &why);
	fclose(f);
	session_presence_load(c, why == NULL);
	if (why != NULL)
		log_info("discarding the saved session in %s: %s", path, why);
	else
		log_info("found the session the previous process kept (%llds "
		    "old, %zu unacknowledged stanzas); resuming it",
		    (long long)(time(NULL) - c->sm.lost_at), c->sm.n);
	free(path);
}
