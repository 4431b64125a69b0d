/*
 * outbox.c: the queue in memory over the spool on disk (see outbox.h).
 *
 * Every recipient's copy of a message is a delivery.  Deliveries wait in
 * one FIFO (sendq) in order of acceptance, so messages leave in order per
 * recipient; a delivery written to the stream moves to the in-flight list
 * (in tag order) until its ack.  At most OB_WINDOW are in flight, and the
 * token bucket paces the rest.  A fresh login voids every tag: the
 * in-flight deliveries go back into sendq, in order, with the same id.
 *
 * A message whose copies are all past "sent" leaves the spool and moves
 * to a short list of recent messages, kept for receipts and bounces that
 * arrive after the ack and for `send --wait`.
 */
#include "compat.h"

#include <sys/random.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "bucket.h"
#include "ctlproto.h"
#include "jid.h"
#include "log.h"
#include "outbox.h"
#include "spool.h"
#include "stanza.h"
#include "util.h"
#include "xmalloc.h"

#define OB_WINDOW	256	/* deliveries in flight before pausing */
/*
 * Body bytes in flight before pausing: the connection keeps at most 1 MiB
 * of unacknowledged stanzas for XEP-0198 and forgets the oldest beyond.
 */
#define OB_WINDOW_BYTES	(512 * 1024)
#define OB_RECENT	1024	/* finished messages remembered */
#define OB_NS_SID	"urn:xmpp:sid:0"
#define OB_NS_RECEIPTS	"urn:xmpp:receipts"
#define OB_NS_STANZAS	"urn:ietf:params:xml:ns:xmpp-stanzas"

struct ob_msg;

struct ob_dlv {
	struct ob_msg		*msg;
	const char		*to;		/* points into msg->sm.to */
	char			*bare;
	enum outbox_state	 state;
	unsigned int		 tries;
	uint64_t		 tag;
	int			 where;		/* OB_NOWHERE, OB_INQ, OB_INFLIGHT */
	TAILQ_ENTRY(ob_dlv)	 qentry;
};
TAILQ_HEAD(ob_dlvq, ob_dlv);
#define OB_NOWHERE	0
#define OB_INQ		1
#define OB_INFLIGHT	2

struct outbox_waiter {
	TAILQ_ENTRY(outbox_waiter)	 entry;
	struct outbox			*ob;
	struct ob_msg			*msg;	/* NULL once resolved */
	enum outbox_state		 want;
	outbox_wait_cb			 cb;
	void				*arg;
	int				 ok;
	const char			*code;
	char				*text;
};
TAILQ_HEAD(ob_waiters, outbox_waiter);

struct ob_msg {
	TAILQ_ENTRY(ob_msg)	 entry;		/* pending or recent */
	struct spool_msg	*sm;
	struct ob_dlv		*dlv;
	size_t			 ndlv;
	int			 in_spool;
	char			*error;
	struct ob_waiters	 waiters;
	outbox_accept_cb	 acb;		/* staged: told once durable */
	void			*aarg;
};
TAILQ_HEAD(ob_msgs, ob_msg);

struct outbox {
	struct event_base	*base;
	struct spool		*spool;
	struct outbox_conf	 conf;
	struct outbox_hooks	 hooks;
	struct outbox_link	 link;
	outbox_room_fn		 is_room;
	void			*room_arg;
	struct bucket		 bucket;
	struct ob_msgs		 pending;
	size_t			 npending;
	struct ob_msgs		 recent;
	size_t			 nrecent;
	struct ob_dlvq		 sendq;
	struct ob_dlvq		 inflight;
	size_t			 ninflight;
	size_t			 inflight_bytes;
	struct ob_waiters	 fired;
	struct ob_msgs		 staged;	/* written, directory unsynced */
	struct event		*ev_commit;
	uint64_t		 next_tag;
	int			 online;
	struct event		*ev_pump;
	struct event		*ev_expire;
	struct event		*ev_fire;
};

static const char *const ob_state_names[OB_STATE_MAX] = {
	"queued", "sent", "acked", "received", "bounced", "expired", "dropped"
};

static void	ob_pump_cb(evutil_socket_t, short, void *);
static void	ob_expire_cb(evutil_socket_t, short, void *);
static void	ob_fire_cb(evutil_socket_t, short, void *);
static void	ob_commit_cb(evutil_socket_t, short, void *);
static void	ob_kick(struct outbox *);
static void	ob_check(struct outbox *, struct ob_msg *);
static void	ob_schedule_expiry(struct outbox *);

const char *
outbox_state_name(enum outbox_state s)
{
	return (unsigned int)s < OB_STATE_MAX ? ob_state_names[s] : "unknown";
}

static int
ob_final(enum outbox_state s)
{
	return s != OB_QUEUED && s != OB_SENT;
}

/* ---------------------------------------------------------------------- */
/* messages */

static void
ob_unqueue(struct outbox *ob, struct ob_dlv *d)
{
	if (d->where == OB_INQ)
		TAILQ_REMOVE(&ob->sendq, d, qentry);
	else if (d->where == OB_INFLIGHT) {
		TAILQ_REMOVE(&ob->inflight, d, qentry);
		ob->ninflight--;
		ob->inflight_bytes -= d->msg->sm->bodylen;
	}
	d->where = OB_NOWHERE;
}

static char *
ob_bare(const char *to)
{
	struct jid	 j;
	const char	*err;
	char		*b;

	if (jid_parse(to, &j, &err) == -1)
		return xstrdup(to);
	b = jid_bare(&j);
	jid_clear(&j);
	return b;
}

/* Takes sm.  The deliveries start queued, outside any queue. */
static struct ob_msg *
ob_msg_new(struct spool_msg *sm)
{
	struct ob_msg	*m;
	size_t		 i;

	m = xcalloc(1, sizeof(*m));
	m->sm = sm;
	m->in_spool = 1;
	m->ndlv = sm->nto;
	m->dlv = xcalloc(m->ndlv, sizeof(*m->dlv));
	for (i = 0; i < m->ndlv; i++) {
		m->dlv[i].msg = m;
		m->dlv[i].to = sm->to[i];
		m->dlv[i].bare = ob_bare(sm->to[i]);
		m->dlv[i].state = OB_QUEUED;
	}
	TAILQ_INIT(&m->waiters);
	return m;
}

static void
ob_msg_free(struct ob_msg *m)
{
	size_t	i;

	for (i = 0; i < m->ndlv; i++)
		free(m->dlv[i].bare);
	free(m->dlv);
	spool_msg_free(m->sm);
	free(m->sm);
	free(m->error);
	free(m);
}

static void
ob_enqueue_all(struct outbox *ob, struct ob_msg *m)
{
	size_t	i;

	for (i = 0; i < m->ndlv; i++)
		if (m->dlv[i].state == OB_QUEUED &&
		    m->dlv[i].where == OB_NOWHERE) {
			TAILQ_INSERT_TAIL(&ob->sendq, &m->dlv[i], qentry);
			m->dlv[i].where = OB_INQ;
		}
}

static void
ob_set_state(struct outbox *ob, struct ob_dlv *d, enum outbox_state s,
    const char *error)
{
	struct ob_msg	*m = d->msg;

	d->state = s;
	if (error != NULL) {
		free(m->error);
		m->error = xstrdup(error);
	}
	if (ob_final(s))
		ob_unqueue(ob, d);
	if (s == OB_SENT)
		log_debug("outbox: %s to %s: sent (try %u)", m->sm->id, d->to,
		    d->tries);
	else if (s == OB_BOUNCED || s == OB_EXPIRED)
		log_warnx("outbox: %s to %s: %s: %s", m->sm->id, d->to,
		    outbox_state_name(s), error ? error : "-");
	else
		log_info("outbox: %s to %s: %s", m->sm->id, d->to,
		    outbox_state_name(s));
	if (ob->hooks.state != NULL)
		ob->hooks.state(ob->hooks.arg, m->sm->id, d->to, s, error);
}

/* ---------------------------------------------------------------------- */
/* waiters */

static void
ob_fire(struct outbox *ob, struct outbox_waiter *w, int ok, const char *code,
    char *text)
{
	TAILQ_REMOVE(&w->msg->waiters, w, entry);
	w->msg = NULL;
	w->ok = ok;
	w->code = code;
	w->text = text;
	TAILQ_INSERT_TAIL(&ob->fired, w, entry);
	event_active(ob->ev_fire, EV_TIMEOUT, 0);
}

/* The outcome for a waiter, if there is one yet. */
static int
ob_outcome(struct ob_msg *m, enum outbox_state want, const char **code,
    char **text)
{
	size_t	i, reached = 0;

	for (i = 0; i < m->ndlv; i++) {
		struct ob_dlv *d = &m->dlv[i];

		if (d->state == OB_BOUNCED || d->state == OB_EXPIRED ||
		    d->state == OB_DROPPED) {
			*code = d->state == OB_BOUNCED ? CTL_ERR_BOUNCED :
			    d->state == OB_EXPIRED ? CTL_ERR_EXPIRED :
			    CTL_ERR_FAILED;
			xasprintf(text, "%s %s to %s: %s", m->sm->id,
			    outbox_state_name(d->state), d->to,
			    m->error ? m->error : "-");
			return 0;
		}
		if (d->state >= want)
			reached++;
	}
	if (reached < m->ndlv)
		return -1;
	*code = NULL;
	xasprintf(text, "%s %s", m->sm->id, outbox_state_name(want));
	return 1;
}

static void
ob_check_waiters(struct outbox *ob, struct ob_msg *m)
{
	struct outbox_waiter	*w, *next;
	const char		*code;
	char			*text;
	int			 r;

	TAILQ_FOREACH_SAFE(w, &m->waiters, entry, next)
		if ((r = ob_outcome(m, w->want, &code, &text)) != -1)
			ob_fire(ob, w, r, code, text);
}

static void
ob_fire_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct outbox		*ob = arg;
	struct outbox_waiter	*w;

	(void)fd;
	(void)ev;
	while ((w = TAILQ_FIRST(&ob->fired)) != NULL) {
		TAILQ_REMOVE(&ob->fired, w, entry);
		w->cb(w->arg, w->ok, w->code, w->text);
		free(w->text);
		free(w);
	}
}

struct outbox_waiter *
outbox_wait(struct outbox *ob, const char *id, enum outbox_state want,
    outbox_wait_cb cb, void *arg)
{
	struct outbox_waiter	*w;
	struct ob_msg		*m = NULL;
	struct ob_msgs		*lists[2] = { &ob->pending, &ob->recent };
	size_t			 i;

	for (i = 0; i < 2 && m == NULL; i++)
		TAILQ_FOREACH(m, lists[i], entry)
			if (strcmp(m->sm->id, id) == 0)
				break;
	if (m == NULL)
		return NULL;
	w = xcalloc(1, sizeof(*w));
	w->ob = ob;
	w->msg = m;
	w->want = want;
	w->cb = cb;
	w->arg = arg;
	TAILQ_INSERT_TAIL(&m->waiters, w, entry);
	ob_check_waiters(ob, m);
	return w;
}

void
outbox_wait_cancel(struct outbox_waiter *w)
{
	if (w == NULL)
		return;
	if (w->msg != NULL)
		TAILQ_REMOVE(&w->msg->waiters, w, entry);
	else
		TAILQ_REMOVE(&w->ob->fired, w, entry);
	free(w->text);
	free(w);
}

/* ---------------------------------------------------------------------- */
/* finishing */

static void
ob_forget(struct outbox *ob, struct ob_msg *m)
{
	struct outbox_waiter	*w, *next;

	TAILQ_FOREACH_SAFE(w, &m->waiters, entry, next)
		ob_fire(ob, w, 0, CTL_ERR_FAILED, xstrdup("the message left "
		    "the outbox's memory before that state was reached"));
	TAILQ_REMOVE(&ob->recent, m, entry);
	ob->nrecent--;
	ob_msg_free(m);
}

/*
 * After a state change: a message with nothing left to send leaves the
 * spool (its body is no longer needed) and joins the recent list.
 */
static void
ob_check(struct outbox *ob, struct ob_msg *m)
{
	size_t	i;

	ob_check_waiters(ob, m);
	if (!m->in_spool)
		return;
	for (i = 0; i < m->ndlv; i++)
		if (!ob_final(m->dlv[i].state))
			return;
	spool_remove(ob->spool, m->sm);
	m->in_spool = 0;
	free(m->sm->body);
	m->sm->body = NULL;
	m->sm->bodylen = 0;
	TAILQ_REMOVE(&ob->pending, m, entry);
	ob->npending--;
	TAILQ_INSERT_TAIL(&ob->recent, m, entry);
	if (++ob->nrecent > OB_RECENT)
		ob_forget(ob, TAILQ_FIRST(&ob->recent));
}

/* ---------------------------------------------------------------------- */
/* accepting */

static char *
ob_new_id(void)
{
	unsigned char	 r[12];
	char		*id;
	size_t		 i, got = 0;
	ssize_t		 n;

	while (got < sizeof(r)) {
		if ((n = getrandom(r + got, sizeof(r) - got, 0)) == -1) {
			if (errno == EINTR)
				continue;
			fatal("getrandom");
		}
		got += (size_t)n;
	}
	id = xmalloc(2 * sizeof(r) + 1);
	for (i = 0; i < sizeof(r); i++)
		snprintf(id + 2 * i, 3, "%02x", r[i]);
	return id;
}

/* Check a message and write its file, directory unsynced. */
static struct ob_msg *
ob_stage(struct outbox *ob, const char *const *to, size_t nto,
    const char *type, int receipt, const char *body, size_t bodylen,
    const char **code, char **cause)
{
	struct spool_msg	*sm;
	struct jid		 j;
	const char		*err;
	size_t			 i;

	*code = CTL_ERR_USAGE;
	if (nto == 0 || nto > SPOOL_MAX_RCPT) {
		xasprintf(cause, "between 1 and %d recipients", SPOOL_MAX_RCPT);
		return NULL;
	}
	for (i = 0; i < nto; i++) {
		if (jid_parse(to[i], &j, &err) == -1 ||
		    strlen(to[i]) > SPOOL_MAX_JID) {
			xasprintf(cause, "recipient %zu: %s", i + 1,
			    err ? err : "too long");
			return NULL;
		}
		jid_clear(&j);
	}
	if (!spool_valid_type(type)) {
		xasprintf(cause, "type must be chat, normal or headline");
		return NULL;
	}
	if (bodylen == 0 || bodylen > SPOOL_MAX_BODY ||
	    !ctl_text_valid(body, bodylen)) {
		xasprintf(cause, "the body must be 1 to %d bytes of UTF-8 "
		    "text that XML can carry", SPOOL_MAX_BODY);
		return NULL;
	}
	sm = xcalloc(1, sizeof(*sm));
	sm->id = ob_new_id();
	sm->created = (int64_t)time(NULL);
	sm->type = xstrdup(type);
	sm->receipt = receipt;
	sm->to = xcalloc(nto, sizeof(*sm->to));
	for (sm->nto = 0; sm->nto < nto; sm->nto++)
		sm->to[sm->nto] = xstrdup(to[sm->nto]);
	sm->body = xstrndup(body, bodylen);
	sm->bodylen = bodylen;
	if (spool_stage(ob->spool, sm, cause) == -1) {
		*code = strncmp(*cause, "outbox full", 11) == 0 ?
		    CTL_ERR_FULL : CTL_ERR_FAILED;
		log_warnx("outbox: refused a message: %s", *cause);
		spool_msg_free(sm);
		free(sm);
		return NULL;
	}
	*code = NULL;
	return ob_msg_new(sm);
}

/* A durable message joins the pending ones and may leave. */
static void
ob_accept(struct outbox *ob, struct ob_msg *m)
{
	size_t	i;

	TAILQ_INSERT_TAIL(&ob->pending, m, entry);
	ob->npending++;
	for (i = 0; i < m->ndlv; i++)
		ob_set_state(ob, &m->dlv[i], OB_QUEUED, NULL);
	ob_enqueue_all(ob, m);
	if (ob->npending == 1)
		ob_schedule_expiry(ob);
	ob_kick(ob);
}

int
outbox_submit(struct outbox *ob, const char *const *to, size_t nto,
    const char *type, int receipt, const char *body, size_t bodylen,
    char **idp, const char **code, char **cause)
{
	struct ob_msg	*m;

	*idp = NULL;
	if ((m = ob_stage(ob, to, nto, type, receipt, body, bodylen, code,
	    cause)) == NULL)
		return -1;
	if (spool_sync(ob->spool, cause) == -1) {
		log_warnx("outbox: refused a message: %s", *cause);
		*code = CTL_ERR_FAILED;
		spool_remove(ob->spool, m->sm);
		ob_msg_free(m);
		return -1;
	}
	ob_accept(ob, m);
	*idp = xstrdup(m->sm->id);
	return 0;
}

int
outbox_submit_async(struct outbox *ob, const char *const *to, size_t nto,
    const char *type, int receipt, const char *body, size_t bodylen,
    outbox_accept_cb cb, void *arg, const char **code, char **cause)
{
	struct ob_msg	*m;

	if ((m = ob_stage(ob, to, nto, type, receipt, body, bodylen, code,
	    cause)) == NULL)
		return -1;
	m->acb = cb;
	m->aarg = arg;
	TAILQ_INSERT_TAIL(&ob->staged, m, entry);
	/* After the other requests ready in this turn of the loop. */
	event_active(ob->ev_commit, EV_TIMEOUT, 0);
	return 0;
}

void
outbox_accept_cancel(struct outbox *ob, void *arg)
{
	struct ob_msg	*m;

	TAILQ_FOREACH(m, &ob->staged, entry)
		if (m->aarg == arg)
			m->acb = NULL;
}

/* One directory fsync for every message staged since the last one. */
static void
ob_commit(struct outbox *ob)
{
	struct ob_msgs	 batch;
	struct ob_msg	*m;
	char		*cause = NULL;
	size_t		 n = 0;
	int		 r;

	if (TAILQ_EMPTY(&ob->staged))
		return;
	TAILQ_INIT(&batch);
	TAILQ_CONCAT(&batch, &ob->staged, entry);
	TAILQ_FOREACH(m, &batch, entry)
		n++;
	if ((r = spool_sync(ob->spool, &cause)) == -1)
		log_warnx("outbox: refused %zu messages: %s", n, cause);
	else if (n > 1)
		log_debug("outbox: %zu messages made durable by one directory "
		    "sync", n);
	while ((m = TAILQ_FIRST(&batch)) != NULL) {
		TAILQ_REMOVE(&batch, m, entry);
		if (r == -1) {
			spool_remove(ob->spool, m->sm);
			if (m->acb != NULL)
				m->acb(m->aarg, 0, CTL_ERR_FAILED, cause);
			ob_msg_free(m);
			continue;
		}
		ob_accept(ob, m);
		if (m->acb != NULL)
			m->acb(m->aarg, 1, NULL, m->sm->id);
	}
	free(cause);
}

static void
ob_commit_cb(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	ob_commit(arg);
}

static void
ob_loaded(void *arg, struct spool_msg *sm)
{
	struct outbox	*ob = arg;
	struct ob_msg	*m;

	m = ob_msg_new(sm);
	TAILQ_INSERT_TAIL(&ob->pending, m, entry);
	ob->npending++;
	ob_enqueue_all(ob, m);
}

/* ---------------------------------------------------------------------- */
/* sending */

static struct stanza *
ob_stanza(struct outbox *ob, struct ob_dlv *d)
{
	struct spool_msg	*sm = d->msg->sm;
	struct stanza		*s, *c;
	const char		*type = sm->type;

	if (ob->is_room != NULL && ob->is_room(ob->room_arg, d->to))
		type = "groupchat";
	s = stanza_new("message", NULL);
	stanza_set_attr(s, "to", d->to);
	stanza_set_attr(s, "type", type);
	stanza_set_attr(s, "id", sm->id);
	c = stanza_add_child(s, "body", NULL);
	stanza_append_text(c, sm->body, sm->bodylen);
	c = stanza_add_child(s, "origin-id", OB_NS_SID);
	stanza_set_attr(c, "id", sm->id);
	if (sm->receipt)
		stanza_add_child(s, "request", OB_NS_RECEIPTS);
	return s;
}

static void
ob_pump(struct outbox *ob)
{
	struct ob_dlv	*d;
	struct timeval	 tv;
	uint64_t	 wait;

	while (ob->online && ob->link.send != NULL &&
	    (d = TAILQ_FIRST(&ob->sendq)) != NULL &&
	    ob->ninflight < OB_WINDOW && (ob->ninflight == 0 ||
	    ob->inflight_bytes + d->msg->sm->bodylen <= OB_WINDOW_BYTES)) {
		if ((wait = bucket_take(&ob->bucket, monotime_ms())) > 0) {
			tv.tv_sec = (time_t)(wait / 1000);
			tv.tv_usec = (suseconds_t)(wait % 1000) * 1000;
			evtimer_add(ob->ev_pump, &tv);
			return;
		}
		TAILQ_REMOVE(&ob->sendq, d, qentry);
		d->where = OB_NOWHERE;
		d->tag = ob->link.tag_new != NULL ?
		    ob->link.tag_new(ob->link.arg) : ++ob->next_tag;
		d->tries++;
		if (ob->link.send(ob->link.arg, ob_stanza(ob, d),
		    d->tag) == -1) {
			/* Not written: it stays first in line. */
			d->tries--;
			TAILQ_INSERT_HEAD(&ob->sendq, d, qentry);
			d->where = OB_INQ;
			return;
		}
		TAILQ_INSERT_TAIL(&ob->inflight, d, qentry);
		d->where = OB_INFLIGHT;
		ob->ninflight++;
		ob->inflight_bytes += d->msg->sm->bodylen;
		ob_set_state(ob, d, OB_SENT, NULL);
	}
}

static void
ob_pump_cb(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	ob_pump(arg);
}

/* Send from the event loop, not from within the caller's stack. */
static void
ob_kick(struct outbox *ob)
{
	if (ob->online && !evtimer_pending(ob->ev_pump, NULL))
		event_active(ob->ev_pump, EV_TIMEOUT, 0);
}

void
outbox_online(struct outbox *ob, int resumed)
{
	struct ob_msg	*m;
	struct ob_dlv	*d;
	size_t		 i;

	ob->online = 1;
	if (!resumed) {
		/* Every tag is void: resend in order, with the same ids. */
		while ((d = TAILQ_FIRST(&ob->inflight)) != NULL)
			ob_unqueue(ob, d);
		while ((d = TAILQ_FIRST(&ob->sendq)) != NULL)
			ob_unqueue(ob, d);
		TAILQ_FOREACH(m, &ob->pending, entry) {
			for (i = 0; i < m->ndlv; i++)
				if (m->dlv[i].state == OB_SENT)
					m->dlv[i].state = OB_QUEUED;
			ob_enqueue_all(ob, m);
		}
	}
	if (!TAILQ_EMPTY(&ob->sendq))
		log_info("outbox: online, %zu messages waiting",
		    ob->npending);
	ob_kick(ob);
}

void
outbox_offline(struct outbox *ob)
{
	ob->online = 0;
	evtimer_del(ob->ev_pump);
}

void
outbox_acked(struct outbox *ob, uint64_t tag)
{
	struct ob_dlv	*d;

	/* Acks come in order: the match is at or near the head. */
	TAILQ_FOREACH(d, &ob->inflight, qentry)
		if (d->tag == tag)
			break;
	if (d == NULL) {
		/* Another service's: its ack may have made room for ours. */
		ob_kick(ob);
		return;
	}
	ob_set_state(ob, d, OB_ACKED, NULL);
	ob_check(ob, d->msg);
	ob_kick(ob);
}

/* The delivery of message id to from's bare JID, pending or recent. */
static struct ob_dlv *
ob_find(struct outbox *ob, const char *id, const char *from)
{
	struct ob_msgs	*lists[2] = { &ob->pending, &ob->recent };
	struct ob_msg	*m;
	char		*bare;
	size_t		 i, k;

	bare = from != NULL ? ob_bare(from) : NULL;
	for (k = 0; k < 2; k++)
		TAILQ_FOREACH_REVERSE(m, lists[k], ob_msgs, entry) {
			if (strcmp(m->sm->id, id) != 0)
				continue;
			for (i = 0; i < m->ndlv; i++)
				if (bare == NULL ? m->ndlv == 1 :
				    strcmp(m->dlv[i].bare, bare) == 0) {
					free(bare);
					return &m->dlv[i];
				}
		}
	free(bare);
	return NULL;
}

/* "condition" or "condition: text" from an <error/>. */
static char *
ob_condition(const struct stanza *err)
{
	struct stanza	*c, *t;
	const char	*cond = "undefined-condition";
	char		*s;

	for (c = err ? stanza_first_child(err) : NULL; c != NULL;
	    c = stanza_next_sibling(c))
		if (strcmp(stanza_name(c), "text") != 0 &&
		    stanza_ns(c) != NULL &&
		    strcmp(stanza_ns(c), OB_NS_STANZAS) == 0) {
			cond = stanza_name(c);
			break;
		}
	t = err ? stanza_child(err, "text", OB_NS_STANZAS) : NULL;
	if (t != NULL && *stanza_text(t) != '\0')
		xasprintf(&s, "%s: %s", cond, stanza_text(t));
	else
		s = xstrdup(cond);
	return s;
}

int
outbox_stanza(struct outbox *ob, const struct stanza *s)
{
	struct stanza	*r;
	struct ob_dlv	*d;
	const char	*id, *type, *from;
	char		*cond;

	if (strcmp(stanza_name(s), "message") != 0)
		return 0;
	type = stanza_attr(s, "type");
	from = stanza_attr(s, "from");
	if (type != NULL && strcmp(type, "error") == 0) {
		if ((id = stanza_attr(s, "id")) == NULL ||
		    (d = ob_find(ob, id, from)) == NULL ||
		    d->state == OB_BOUNCED)
			return 0;
		cond = ob_condition(stanza_child(s, "error", NULL));
		ob_set_state(ob, d, OB_BOUNCED, cond);
		free(cond);
		ob_check(ob, d->msg);
		ob_kick(ob);
		/* Not consumed: events shows the error message too. */
		return 0;
	}
	if ((r = stanza_child(s, "received", OB_NS_RECEIPTS)) == NULL ||
	    (id = stanza_attr(r, "id")) == NULL)
		return 0;
	if ((d = ob_find(ob, id, from)) == NULL || !d->msg->sm->receipt)
		return 1;	/* a receipt for nothing we wait for */
	if (d->state == OB_SENT || d->state == OB_ACKED) {
		ob_set_state(ob, d, OB_RECEIVED, NULL);
		ob_check(ob, d->msg);
		ob_kick(ob);
	}
	return 1;
}

/* ---------------------------------------------------------------------- */
/* expiry */

static void
ob_schedule_expiry(struct outbox *ob)
{
	struct ob_msg	*m;
	struct timeval	 tv = { 0, 0 };
	int64_t		 due, now;

	evtimer_del(ob->ev_expire);
	if (ob->conf.lifetime == 0 || (m = TAILQ_FIRST(&ob->pending)) == NULL)
		return;
	now = (int64_t)time(NULL);
	due = m->sm->created + (int64_t)ob->conf.lifetime;
	if (due > now)
		tv.tv_sec = (time_t)(due - now);
	evtimer_add(ob->ev_expire, &tv);
}

static void
ob_expire_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct outbox	*ob = arg;
	struct ob_msg	*m, *next;
	int64_t		 now = (int64_t)time(NULL);
	char		*why;
	size_t		 i;

	(void)fd;
	(void)ev;
	xasprintf(&why, "not acknowledged within outbox_lifetime (%u s)",
	    ob->conf.lifetime);
	TAILQ_FOREACH_SAFE(m, &ob->pending, entry, next) {
		if (m->sm->created + (int64_t)ob->conf.lifetime > now)
			break;
		for (i = 0; i < m->ndlv; i++)
			if (!ob_final(m->dlv[i].state))
				ob_set_state(ob, &m->dlv[i], OB_EXPIRED, why);
		ob_check(ob, m);
	}
	free(why);
	ob_schedule_expiry(ob);
	ob_kick(ob);
}

/* ---------------------------------------------------------------------- */
/* listing and dropping */

static enum outbox_state
ob_summary(const struct ob_msg *m, unsigned int *tries)
{
	enum outbox_state	 s = OB_STATE_MAX, f = OB_STATE_MAX;
	size_t			 i;

	*tries = 0;
	for (i = 0; i < m->ndlv; i++) {
		if (m->dlv[i].tries > *tries)
			*tries = m->dlv[i].tries;
		if (!ob_final(m->dlv[i].state)) {
			if (m->dlv[i].state < s)
				s = m->dlv[i].state;
		} else if (f == OB_STATE_MAX || m->dlv[i].state > OB_RECEIVED)
			f = m->dlv[i].state;
	}
	return s != OB_STATE_MAX ? s : f;
}

void
outbox_list(struct outbox *ob, void (*cb)(void *, const struct outbox_info *),
    void *arg)
{
	struct outbox_info	 info;
	struct ob_msg		*m;

	TAILQ_FOREACH(m, &ob->pending, entry) {
		info.id = m->sm->id;
		info.state = ob_summary(m, &info.tries);
		info.created = m->sm->created;
		info.to = (const char *const *)m->sm->to;
		info.nto = m->sm->nto;
		info.error = m->error;
		cb(arg, &info);
	}
}

int
outbox_drop(struct outbox *ob, const char *id)
{
	struct ob_msg	*m;
	size_t		 i;

	TAILQ_FOREACH(m, &ob->pending, entry)
		if (strcmp(m->sm->id, id) == 0)
			break;
	if (m == NULL)
		return -1;
	for (i = 0; i < m->ndlv; i++)
		if (!ob_final(m->dlv[i].state))
			ob_set_state(ob, &m->dlv[i], OB_DROPPED,
			    "dropped by request");
	ob_check(ob, m);
	ob_schedule_expiry(ob);
	ob_kick(ob);
	return 0;
}

size_t
outbox_pending(const struct outbox *ob)
{
	return ob->npending;
}

/* ---------------------------------------------------------------------- */
/* life */

struct outbox *
outbox_new(struct event_base *base, const char *dir,
    const struct outbox_conf *conf, char **cause)
{
	struct outbox	*ob;
	int		 n;

	ob = xcalloc(1, sizeof(*ob));
	ob->base = base;
	ob->conf = *conf;
	TAILQ_INIT(&ob->pending);
	TAILQ_INIT(&ob->recent);
	TAILQ_INIT(&ob->sendq);
	TAILQ_INIT(&ob->inflight);
	TAILQ_INIT(&ob->fired);
	TAILQ_INIT(&ob->staged);
	if ((ob->spool = spool_open(dir, conf->max_msgs, conf->max_bytes,
	    cause)) == NULL) {
		free(ob);
		return NULL;
	}
	if ((n = spool_load(ob->spool, ob_loaded, ob, cause)) == -1) {
		spool_close(ob->spool);
		free(ob);
		return NULL;
	}
	if (n > 0)
		log_info("outbox: %d messages loaded from %s", n, dir);
	bucket_init(&ob->bucket, conf->rate_milli, conf->burst, monotime_ms());
	ob->ev_pump = evtimer_new(base, ob_pump_cb, ob);
	ob->ev_expire = evtimer_new(base, ob_expire_cb, ob);
	ob->ev_fire = evtimer_new(base, ob_fire_cb, ob);
	ob->ev_commit = evtimer_new(base, ob_commit_cb, ob);
	ob_schedule_expiry(ob);
	return ob;
}

void
outbox_free(struct outbox *ob)
{
	struct ob_msg		*m;
	struct outbox_waiter	*w;

	if (ob == NULL)
		return;
	/* Whoever waits for these is gone; they are kept on disk. */
	TAILQ_FOREACH(m, &ob->staged, entry)
		m->acb = NULL;
	ob_commit(ob);
	while ((w = TAILQ_FIRST(&ob->fired)) != NULL)
		outbox_wait_cancel(w);
	while ((m = TAILQ_FIRST(&ob->pending)) != NULL) {
		while ((w = TAILQ_FIRST(&m->waiters)) != NULL)
			outbox_wait_cancel(w);
		TAILQ_REMOVE(&ob->pending, m, entry);
		ob_msg_free(m);
	}
	while ((m = TAILQ_FIRST(&ob->recent)) != NULL) {
		while ((w = TAILQ_FIRST(&m->waiters)) != NULL)
			outbox_wait_cancel(w);
		TAILQ_REMOVE(&ob->recent, m, entry);
		ob_msg_free(m);
	}
	event_free(ob->ev_pump);
	event_free(ob->ev_expire);
	event_free(ob->ev_fire);
	event_free(ob->ev_commit);
	spool_close(ob->spool);
	free(ob);
}

void
outbox_set_conf(struct outbox *ob, const struct outbox_conf *conf)
{
	ob->conf = *conf;
	spool_set_limits(ob->spool, conf->max_msgs, conf->max_bytes);
	bucket_init(&ob->bucket, conf->rate_milli, conf->burst, monotime_ms());
	ob_schedule_expiry(ob);
	ob_kick(ob);
}

void
outbox_set_hooks(struct outbox *ob, const struct outbox_hooks *h)
{
	ob->hooks = *h;
}

void
outbox_set_link(struct outbox *ob, const struct outbox_link *l)
{
	ob->link = *l;
}

void
outbox_set_room_hook(struct outbox *ob, outbox_room_fn fn, void *arg)
{
	ob->is_room = fn;
	ob->room_arg = arg;
}
