/*
 * muc.c: the group-chat service (see muc.h).  Each room's decisions are
 * room.c's; this file is the plumbing around them: the list of rooms,
 * routing stanzas by the bare JID of their sender, building the join,
 * part, presence, message and self-ping stanzas, reading room passwords,
 * invitations, and one timer for all rooms, armed at the earliest time a
 * room needs attention and not at all when none does.
 */
#include "compat.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/event.h>

#include "config.h"
#include "conn.h"
#include "iq.h"
#include "log.h"
#include "muc.h"
#include "room.h"
#include "roomconf.h"
#include "stanza.h"
#include "util.h"
#include "xmalloc.h"

#define NS_MUC		"http://jabber.org/protocol/muc"
#define NS_MUC_USER	"http://jabber.org/protocol/muc#user"
#define NS_CONFERENCE	"jabber:x:conference"
#define NS_PING		"urn:xmpp:ping"
#define NS_STANZAS	"urn:ietf:params:xml:ns:xmpp-stanzas"
#define MUC_STABLE_MS	60000	/* a join this old earns a fresh backoff */

struct mroom {
	TAILQ_ENTRY(mroom)	 entry;
	struct muc		*muc;
	struct room		*r;
	int			 configured;
	unsigned int		 history;
	char			*password_file;
	char			*password_credential;
	char			*password;	/* given to join or an invite */
	muc_join_cb		 wcb;		/* a "join" waiting for its outcome */
	void			*warg;
};
TAILQ_HEAD(mrooms, mroom);

struct muc {
	struct event_base	*base;
	struct conn		*conn;
	struct event		*timer;
	uint64_t		 armed_ms;	/* 0: not armed */
	struct mrooms		 rooms;
	unsigned int		 nrooms;
	struct room_settings	 set;
	unsigned int		 ping_timeout;	/* seconds */
	char			**inviters;	/* a private copy */
	size_t			 ninviters;
	struct muc_hooks	 hooks;
	unsigned int		 last_joined, last_total;
	char			*default_nick;	/* nick key, else local part */
	char			*domain;	/* the account's */
	int			 online;	/* the stream is up */
};

static void	 svc_online(void *, int);
static void	 svc_offline(void *, int);
static int	 svc_stanza(void *, const struct stanza *);
static void	 svc_acked(void *, uint64_t);
static void	 svc_presence(void *, const char *, const char *);
static void	 muc_settings(struct muc *, const struct config *);
static struct mroom *mr_new(struct muc *, const char *, const char *);
static void	 mr_free(struct mroom *);
static void	 mr_set_source(struct mroom *, const struct roomconf_room *);
static struct mroom *mr_find(const struct muc *, const char *, size_t);
static void	 mr_fsm(struct mroom *, const struct room_input *);
static void	 mr_act(struct mroom *, int, enum room_state);
static void	 mr_send_join(struct mroom *);
static void	 mr_send_ping(struct mroom *);
static void	 mr_ping_cb(void *, enum iq_outcome, const struct stanza *);
static void	 mr_presence(struct mroom *, struct stanza *);
static void	 mr_join_done(struct mroom *, int, const char *);
static void	 muc_arm(struct muc *);
static void	 muc_timer_cb(evutil_socket_t, short, void *);
static void	 muc_count(struct muc *);
static int	 muc_message(struct muc *, const struct stanza *,
		    const char *, size_t);
static int	 muc_invite(struct muc *, const struct stanza *, const char *,
		    size_t);
static void	 muc_invited(struct muc *, const char *, const char *,
		    const char *, const char *, const char *);
static int	 muc_service_trusted(const struct muc *, const char *);
static int	 muc_send_stanza(struct muc *, struct stanza *);

/* clang-format off */
static const struct conn_service muc_service = {
	"muc", svc_online, svc_offline, svc_stanza, svc_acked, svc_presence,
	NULL
};
/* clang-format on */

/* ---------------------------------------------------------------------- */
/* rooms */

static struct mroom *
mr_new(struct muc *m, const char *jid, const char *nick)
{
	struct mroom	*mr;

	mr = xcalloc(1, sizeof(*mr));
	mr->muc = m;
	mr->r = room_new(jid, nick, &m->set, monotime_ms());
	TAILQ_INSERT_TAIL(&m->rooms, mr, entry);
	m->nrooms++;
	return mr;
}

static void
mr_free(struct mroom *mr)
{
	struct muc	*m = mr->muc;

	/* A self-ping still out must not call back into freed memory. */
	conn_iq_cancel(m->conn, mr);
	mr_join_done(mr, 0, "left the room before it was joined");
	TAILQ_REMOVE(&m->rooms, mr, entry);
	m->nrooms--;
	room_free(mr->r);
	free(mr->password_file);
	free(mr->password_credential);
	freezero_str(mr->password);
	free(mr);
}

static void
mr_set_source(struct mroom *mr, const struct roomconf_room *rc)
{
	free(mr->password_file);
	free(mr->password_credential);
	mr->password_file = rc->password_file != NULL ?
	    xstrdup(rc->password_file) : NULL;
	mr->password_credential = rc->password_credential != NULL ?
	    xstrdup(rc->password_credential) : NULL;
	mr->history = rc->history;
	mr->configured = 1;
	if (strcmp(mr->r->nick, rc->nick) != 0) {
		free(mr->r->nick);
		mr->r->nick = xstrdup(rc->nick);
	}
}

/* By bare JID; case-insensitive (room JIDs are stored lower case). */
static struct mroom *
mr_find(const struct muc *m, const char *jid, size_t len)
{
	struct mroom	*mr;

	TAILQ_FOREACH(mr, &m->rooms, entry)
		if (strlen(mr->r->jid) == len &&
		    strncasecmp(mr->r->jid, jid, len) == 0)
			return mr;
	return NULL;
}

static void
mr_fsm(struct mroom *mr, const struct room_input *in)
{
	enum room_state	prev = mr->r->state;
	int		acts;

	acts = room_fsm(mr->r, in, monotime_ms());
	mr_act(mr, acts, prev);
}

/* Answer a waiting "join", once. */
static void
mr_join_done(struct mroom *mr, int ok, const char *text)
{
	muc_join_cb	 cb = mr->wcb;

	if (cb == NULL)
		return;
	mr->wcb = NULL;
	cb(mr->warg, ok, text);
}

/* Do what the room asked for, then report. */
static void
mr_act(struct mroom *mr, int acts, enum room_state prev)
{
	struct muc	*m = mr->muc;
	struct room	*r = mr->r;

	if (acts & ROOM_ACT_CANCEL_PING)
		conn_iq_cancel(m->conn, mr);
	if (acts & ROOM_ACT_JOIN)
		mr_send_join(mr);
	if (acts & ROOM_ACT_PING)
		mr_send_ping(mr);
	if (acts & ROOM_ACT_CHANGED) {
		if (prev != r->state)
			log_info("room %s: %s -> %s: %s", r->jid,
			    room_state_name(prev), room_state_name(r->state),
			    r->reason);
		else
			log_debug("room %s: %s: %s", r->jid,
			    room_state_name(r->state), r->reason);
		if (m->hooks.state != NULL)
			m->hooks.state(m->hooks.arg, r->jid, r->cur_nick,
			    room_state_name(r->state), room_state_name(prev),
			    r->reason);
		muc_count(m);
		if (r->state != ROOM_JOINING)
			mr_join_done(mr, r->state == ROOM_JOINED, r->reason);
	}
}

static int
muc_send_stanza(struct muc *m, struct stanza *s)
{
	return conn_send_stanza(m->conn, s, 0);
}

/* The account's show and status, so rooms see what contacts see. */
static void
mr_presence(struct mroom *mr, struct stanza *p)
{
	const char	*show = conn_presence_show(mr->muc->conn);
	const char	*status = conn_presence_status(mr->muc->conn);

	if (show != NULL && *show != '\0' && strcmp(show, "available") != 0)
		stanza_add_text_child(p, "show", NULL, show);
	if (status != NULL && *status != '\0')
		stanza_add_text_child(p, "status", NULL, status);
}

static void
mr_send_join(struct mroom *mr)
{
	struct roomconf_room	 src;
	struct stanza		*p, *x, *h;
	char			*to, *pw = NULL, *cause = NULL, num[16];

	memset(&src, 0, sizeof(src));
	src.jid = mr->r->jid;
	src.password_file = mr->password_file;
	src.password_credential = mr->password_credential;
	if (mr->password != NULL)
		pw = xstrdup(mr->password);
	else if (roomconf_password(&src, &pw, &cause) == -1) {
		/* Joining without it gets a clear refusal from the room. */
		log_warnx("room %s: password: %s", mr->r->jid, cause);
		free(cause);
	}
	xasprintf(&to, "%s/%s", mr->r->jid, mr->r->cur_nick);
	p = stanza_new("presence", NULL);
	stanza_set_attr(p, "to", to);
	x = stanza_add_child(p, "x", NS_MUC);
	h = stanza_add_child(x, "history", NULL);
	snprintf(num, sizeof(num), "%u", mr->history);
	stanza_set_attr(h, "maxstanzas", num);
	if (pw != NULL)
		stanza_add_text_child(x, "password", NULL, pw);
	mr_presence(mr, p);
	if (muc_send_stanza(mr->muc, p) == -1)
		log_debug("room %s: join not sent (offline)", mr->r->jid);
	freezero_str(pw);
	free(to);
}

/* XEP-0410: an XEP-0199 ping to our own occupant JID. */
static void
mr_send_ping(struct mroom *mr)
{
	struct stanza	*iq;
	char		*to;
	struct room_input in = { .ev = ROOM_EV_PING, .ping = ROOM_PING_GONE };

	xasprintf(&to, "%s/%s", mr->r->jid, mr->r->cur_nick);
	iq = stanza_new("iq", NULL);
	stanza_set_attr(iq, "type", "get");
	stanza_set_attr(iq, "to", to);
	stanza_add_child(iq, "ping", NS_PING);
	free(to);
	log_debug("room %s: silent, self-ping", mr->r->jid);
	if (conn_iq_send(mr->muc->conn, iq, mr->muc->ping_timeout,
	    mr_ping_cb, mr) == -1)
		mr_fsm(mr, &in);
}

static void
mr_ping_cb(void *arg, enum iq_outcome o, const struct stanza *reply)
{
	struct mroom		*mr = arg;
	struct room_input	 in = { .ev = ROOM_EV_PING };
	const struct stanza	*e, *c;

	switch (o) {
	case IQ_RESULT:
		in.ping = ROOM_PING_RESULT;
		break;
	case IQ_ERROR:
		in.ping = ROOM_PING_ERROR;
		e = reply != NULL ? stanza_child(reply, "error", NULL) : NULL;
		in.by = e != NULL ? stanza_attr(e, "by") : NULL;
		for (c = e != NULL ? stanza_first_child(e) : NULL; c != NULL;
		    c = stanza_next_sibling(c))
			if (stanza_ns(c) != NULL &&
			    strcmp(stanza_ns(c), NS_STANZAS) == 0 &&
			    strcmp(stanza_name(c), "text") != 0) {
				in.condition = stanza_name(c);
				break;
			}
		break;
	case IQ_TIMEOUT:
		in.ping = ROOM_PING_TIMEOUT;
		break;
	default:
		in.ping = ROOM_PING_GONE;
		break;
	}
	log_debug("room %s: self-ping: %s%s", mr->r->jid,
	    o == IQ_RESULT ? "result" : o == IQ_TIMEOUT ? "timeout" :
	    o == IQ_ERROR ? "error " : "gone",
	    in.condition != NULL ? in.condition : "");
	mr_fsm(mr, &in);
	muc_arm(mr->muc);
}

/* ---------------------------------------------------------------------- */
/* the timer: one for all rooms */

static void
muc_arm(struct muc *m)
{
	struct mroom	*mr;
	struct timeval	 tv;
	uint64_t	 due = 0, now, d;

	TAILQ_FOREACH(mr, &m->rooms, entry)
		if (mr->r->due_ms != 0 && (due == 0 || mr->r->due_ms < due))
			due = mr->r->due_ms;
	if (due == m->armed_ms)
		return;
	m->armed_ms = due;
	if (due == 0) {
		evtimer_del(m->timer);
		return;
	}
	now = monotime_ms();
	d = due > now ? due - now : 0;
	tv.tv_sec = (time_t)(d / 1000);
	tv.tv_usec = (suseconds_t)(d % 1000) * 1000;
	evtimer_add(m->timer, &tv);
}

static void
muc_timer_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct muc		*m = arg;
	struct mroom		*mr, *next;
	struct room_input	 in = { .ev = ROOM_EV_TIMER };
	uint64_t		 now = monotime_ms();

	(void)fd;
	(void)ev;
	m->armed_ms = 0;
	TAILQ_FOREACH_SAFE(mr, &m->rooms, entry, next)
		if (mr->r->due_ms != 0 && mr->r->due_ms <= now)
			mr_fsm(mr, &in);
	muc_arm(m);
}

static void
muc_count(struct muc *m)
{
	unsigned int	joined, total;

	muc_counts(m, &joined, &total);
	if (joined == m->last_joined && total == m->last_total)
		return;
	m->last_joined = joined;
	m->last_total = total;
	if (m->hooks.count != NULL)
		m->hooks.count(m->hooks.arg, joined, total);
}

/* ---------------------------------------------------------------------- */
/* the connection's service callbacks */

static void
svc_online(void *arg, int resumed)
{
	struct muc		*m = arg;
	struct mroom		*mr, *next;
	struct room_input	 in = { .ev = resumed ? ROOM_EV_RESUMED :
	    ROOM_EV_ONLINE };

	/* Every join goes out now, in one burst: no round trip each. */
	m->online = 1;
	TAILQ_FOREACH_SAFE(mr, &m->rooms, entry, next)
		mr_fsm(mr, &in);
	if (m->nrooms > 0)
		log_info(resumed ? "session resumed: %u rooms kept as they "
		    "were" : "new session: rooms joined again (%u)",
		    m->nrooms);
	muc_arm(m);
}

static void
svc_offline(void *arg, int resumable)
{
	struct muc		*m = arg;
	struct mroom		*mr, *next;
	struct room_input	 in = { .ev = ROOM_EV_OFFLINE,
	    .resumable = resumable };

	m->online = 0;
	TAILQ_FOREACH_SAFE(mr, &m->rooms, entry, next)
		mr_fsm(mr, &in);
	muc_arm(m);
}

static void
svc_acked(void *arg, uint64_t tag)
{
	(void)arg;
	(void)tag;
}

/* The account's presence changed: tell every room we are in. */
static void
svc_presence(void *arg, const char *show, const char *status)
{
	struct muc	*m = arg;
	struct mroom	*mr;
	struct stanza	*p;
	char		*to;

	(void)show;
	(void)status;
	TAILQ_FOREACH(mr, &m->rooms, entry) {
		if (mr->r->state != ROOM_JOINED)
			continue;
		xasprintf(&to, "%s/%s", mr->r->jid, mr->r->cur_nick);
		p = stanza_new("presence", NULL);
		stanza_set_attr(p, "to", to);
		mr_presence(mr, p);
		muc_send_stanza(m, p);
		free(to);
	}
}

static int
svc_stanza(void *arg, const struct stanza *s)
{
	struct muc		*m = arg;
	struct mroom		*mr;
	struct room_presence	 p;
	struct room_input	 in = { .ev = ROOM_EV_PRESENCE, .pres = &p };
	const char		*from = stanza_attr(s, "from"), *name;
	size_t			 blen;

	if (from == NULL)
		return 0;
	blen = strcspn(from, "/");
	name = stanza_name(s);
	if (strcmp(name, "message") == 0) {
		if (muc_invite(m, s, from, blen))
			return 1;
		return muc_message(m, s, from, blen);
	}
	if (strcmp(name, "presence") != 0 ||
	    (mr = mr_find(m, from, blen)) == NULL)
		return 0;
	if (room_parse_presence(s, mr->r->cur_nick, &p) == -1)
		return 0;
	mr_fsm(mr, &in);
	muc_arm(m);
	return 1;
}

/* A message from one of our rooms; 1 when it was ours to handle. */
static int
muc_message(struct muc *m, const struct stanza *s, const char *from,
    size_t blen)
{
	struct mroom		*mr;
	struct room_input	 in = { .ev = ROOM_EV_ACTIVITY };
	const struct stanza	*body, *subj;
	const char		*type = stanza_attr(s, "type");
	const char		*nick = from[blen] == '/' ? from + blen + 1 : "";

	if ((mr = mr_find(m, from, blen)) == NULL)
		return 0;
	mr_fsm(mr, &in);
	muc_arm(m);
	if (type == NULL || strcmp(type, "groupchat") != 0)
		return type != NULL && strcmp(type, "error") == 0;
	body = stanza_child(s, "body", NULL);
	subj = stanza_child(s, "subject", NULL);
	if (subj != NULL && body == NULL) {
		if (m->hooks.subject != NULL)
			m->hooks.subject(m->hooks.arg, mr->r->jid, nick,
			    stanza_text(subj));
	} else if (body != NULL && m->hooks.message != NULL)
		m->hooks.message(m->hooks.arg, mr->r->jid, nick,
		    stanza_text(body), strcmp(nick, mr->r->cur_nick) == 0);
	return 1;
}

/* XEP-0249 direct and XEP-0045 mediated invitations. */
static int
muc_invite(struct muc *m, const struct stanza *s, const char *from,
    size_t blen)
{
	const struct stanza	*x, *inv, *c;
	const char		*pw = NULL, *reason = NULL;
	char			*room, *inviter;

	/* A mediated invitation may carry an x:conference copy: it comes
	   first. */
	if ((x = stanza_child(s, "x", NS_MUC_USER)) == NULL ||
	    (inv = stanza_child(x, "invite", NULL)) == NULL) {
		if ((x = stanza_child(s, "x", NS_CONFERENCE)) == NULL ||
		    stanza_attr(x, "jid") == NULL)
			return 0;
		inviter = xstrndup(from, blen);
		muc_invited(m, stanza_attr(x, "jid"), inviter,
		    stanza_attr(x, "reason"), stanza_attr(x, "password"),
		    "direct");
		free(inviter);
		return 1;
	}
	if ((c = stanza_child(inv, "reason", NULL)) != NULL)
		reason = stanza_text(c);
	if ((c = stanza_child(x, "password", NULL)) != NULL)
		pw = stanza_text(c);
	room = xstrndup(from, blen);
	muc_invited(m, room, stanza_attr(inv, "from") != NULL ?
	    stanza_attr(inv, "from") : "", reason, pw, "mediated");
	free(room);
	return 1;
}

/*
 * A mediated invitation names its inviter as the room's service says: a
 * service of one of our rooms, or one under the account's domain, is
 * believed; any other could claim any inviter.
 */
static int
muc_service_trusted(const struct muc *m, const char *room)
{
	const struct mroom	*mr;
	const char		*dom = strchr(room, '@');
	size_t			 dl, al = strlen(m->domain);

	if (dom == NULL)
		return 0;
	dom++;
	dl = strlen(dom);
	if (strcasecmp(dom, m->domain) == 0 || (dl > al + 1 &&
	    dom[dl - al - 1] == '.' && strcasecmp(dom + dl - al,
	    m->domain) == 0))
		return 1;
	TAILQ_FOREACH(mr, &m->rooms, entry)
		if (mr->configured &&
		    strcasecmp(strchr(mr->r->jid, '@') + 1, dom) == 0)
			return 1;
	return 0;
}

static void
muc_invited(struct muc *m, const char *room, const char *inviter,
    const char *reason, const char *pw, const char *kind)
{
	struct roomconf	 rc;
	const char	*err = NULL;
	int		 joining = 0;

	memset(&rc, 0, sizeof(rc));
	rc.inviters = m->inviters;
	rc.ninviters = m->ninviters;
	if (*inviter != '\0' && roomconf_inviter_allowed(&rc, inviter) &&
	    !muc_is_room(m, room) && (strcmp(kind, "direct") == 0 ||
	    muc_service_trusted(m, room))) {
		joining = muc_join(m, room, pw != NULL && *pw != '\0' ? pw :
		    NULL, NULL, NULL, &err) != -1;
		if (!joining)
			log_warnx("invitation to %s from %s: %s", room,
			    inviter, err);
	}
	log_info("invitation (%s) to %s from %s%s", kind, room, inviter,
	    joining ? ": joining" : "");
	if (m->hooks.invite != NULL)
		m->hooks.invite(m->hooks.arg, room, inviter,
		    reason != NULL ? reason : "", kind, joining);
}

/* ---------------------------------------------------------------------- */
/* the interface */

static void
muc_settings(struct muc *m, const struct config *conf)
{
	const struct roomconf	*rc = conf->rooms;
	size_t			 i;

	m->set.ping_interval_ms = (rc ? rc->ping_interval :
	    ROOMCONF_DEFAULT_PING_INTERVAL) * 1000;
	m->ping_timeout = rc ? rc->ping_timeout : ROOMCONF_DEFAULT_PING_TIMEOUT;
	m->set.join_timeout_ms = (rc ? rc->join_timeout :
	    ROOMCONF_DEFAULT_JOIN_TIMEOUT) * 1000;
	m->set.backoff_min_ms = conf->reconnect_min * 1000;
	m->set.backoff_max_ms = conf->reconnect_max * 1000;
	m->set.stable_ms = MUC_STABLE_MS;
	m->set.max_occupants = rc ? rc->max_occupants :
	    ROOMCONF_DEFAULT_MAX_OCCUPANTS;
	free(m->default_nick);
	m->default_nick = xstrdup(rc != NULL && rc->nick != NULL ? rc->nick :
	    conf->jid.local);
	free(m->domain);
	m->domain = xstrdup(conf->jid.domain);
	for (i = 0; i < m->ninviters; i++)
		free(m->inviters[i]);
	free(m->inviters);
	m->inviters = NULL;
	m->ninviters = rc ? rc->ninviters : 0;
	if (m->ninviters > 0) {
		m->inviters = xreallocarray(NULL, m->ninviters,
		    sizeof(char *));
		for (i = 0; i < m->ninviters; i++)
			m->inviters[i] = xstrdup(rc->inviters[i]);
	}
}

struct muc *
muc_new(struct event_base *base, struct conn *conn,
    const struct config *conf)
{
	struct conn_service	 svc = muc_service;
	struct muc		*m;
	struct mroom		*mr;
	size_t			 i;

	m = xcalloc(1, sizeof(*m));
	m->base = base;
	m->conn = conn;
	TAILQ_INIT(&m->rooms);
	m->timer = evtimer_new(base, muc_timer_cb, m);
	muc_settings(m, conf);
	for (i = 0; conf->rooms != NULL && i < conf->rooms->nrooms; i++) {
		mr = mr_new(m, conf->rooms->rooms[i].jid,
		    conf->rooms->rooms[i].nick);
		mr_set_source(mr, &conf->rooms->rooms[i]);
	}
	m->last_total = m->nrooms;
	svc.arg = m;
	conn_add_service(conn, &svc);
	return m;
}

void
muc_free(struct muc *m)
{
	struct mroom	*mr;
	size_t		 i;

	if (m == NULL)
		return;
	while ((mr = TAILQ_FIRST(&m->rooms)) != NULL)
		mr_free(mr);
	event_free(m->timer);
	for (i = 0; i < m->ninviters; i++)
		free(m->inviters[i]);
	free(m->inviters);
	free(m->default_nick);
	free(m->domain);
	free(m);
}

void
muc_set_hooks(struct muc *m, const struct muc_hooks *h)
{
	m->hooks = *h;
}

void
muc_config_changed(struct muc *m, const struct config *conf)
{
	const struct roomconf_room	*rc;
	struct room_input		 in = { .ev = ROOM_EV_JOIN };
	struct mroom			*mr, *next;
	size_t				 i;

	muc_settings(m, conf);
	TAILQ_FOREACH_SAFE(mr, &m->rooms, entry, next) {
		if (!mr->configured)
			continue;
		if ((rc = roomconf_find(conf->rooms, mr->r->jid)) == NULL)
			muc_part(m, mr->r->jid, "removed from the "
			    "configuration", NULL);
		else
			mr_set_source(mr, rc);
	}
	for (i = 0; conf->rooms != NULL && i < conf->rooms->nrooms; i++) {
		rc = &conf->rooms->rooms[i];
		if ((mr = mr_find(m, rc->jid, strlen(rc->jid))) != NULL) {
			mr_set_source(mr, rc);
			continue;
		}
		mr = mr_new(m, rc->jid, rc->nick);
		mr_set_source(mr, rc);
		mr->r->online = m->online;
		mr_fsm(mr, &in);
	}
	muc_count(m);
	muc_arm(m);
}

int
muc_join(struct muc *m, const char *ref, const char *password,
    muc_join_cb cb, void *cbarg, const char **text)
{
	struct room_input	 in = { .ev = ROOM_EV_JOIN };
	struct mroom		*mr;
	char			*jid, *nick;

	if (roomconf_parse_ref(ref, &jid, &nick, text) == -1)
		return -1;
	if ((mr = mr_find(m, jid, strlen(jid))) == NULL) {
		if (m->nrooms >= ROOMCONF_MAX_ROOMS) {
			*text = "too many rooms";
			free(jid);
			free(nick);
			return -1;
		}
		mr = mr_new(m, jid, nick != NULL ? nick : m->default_nick);
		mr->r->online = m->online;
	} else if (nick != NULL && strcmp(nick, mr->r->nick) != 0) {
		free(mr->r->nick);
		mr->r->nick = xstrdup(nick);
	}
	if (password != NULL) {
		freezero_str(mr->password);
		mr->password = xstrdup(password);
	}
	free(jid);
	free(nick);
	if (mr->r->state == ROOM_JOINED || mr->r->state == ROOM_JOINING) {
		*text = mr->r->state == ROOM_JOINED ? "already joined" :
		    "a join is under way";
		return 1;
	}
	mr_fsm(mr, &in);
	muc_count(m);
	muc_arm(m);
	if (mr->r->state != ROOM_JOINING) {
		*text = "waiting: the account is offline; joins when online";
		return 1;
	}
	mr->wcb = cb;
	mr->warg = cbarg;
	return cb != NULL ? 0 : 1;
}

void
muc_join_cancel(struct muc *m, void *cbarg)
{
	struct mroom	*mr;

	TAILQ_FOREACH(mr, &m->rooms, entry)
		if (mr->wcb != NULL && mr->warg == cbarg)
			mr->wcb = NULL;
}

int
muc_part(struct muc *m, const char *room, const char *reason,
    const char **err)
{
	struct mroom	*mr;
	struct stanza	*p;
	char		*to, *jid = xstrdup(room);

	if ((mr = mr_find(m, room, strcspn(room, "/"))) == NULL) {
		if (err != NULL)
			*err = "not a room of this account";
		free(jid);
		return -1;
	}
	if (mr->r->state == ROOM_JOINED || mr->r->state == ROOM_JOINING) {
		xasprintf(&to, "%s/%s", mr->r->jid, mr->r->cur_nick);
		p = stanza_new("presence", NULL);
		stanza_set_attr(p, "to", to);
		stanza_set_attr(p, "type", "unavailable");
		if (reason != NULL && *reason != '\0')
			stanza_add_text_child(p, "status", NULL, reason);
		muc_send_stanza(m, p);
		free(to);
	}
	log_info("room %s: left%s%s", mr->r->jid, reason ? ": " : "",
	    reason ? reason : "");
	if (m->hooks.state != NULL)
		m->hooks.state(m->hooks.arg, mr->r->jid, mr->r->cur_nick,
		    "left", room_state_name(mr->r->state),
		    reason != NULL ? reason : "");
	mr_free(mr);
	free(jid);
	muc_count(m);
	muc_arm(m);
	return 0;
}

int
muc_is_room(const struct muc *m, const char *jid)
{
	return mr_find(m, jid, strcspn(jid, "/")) != NULL;
}

int
muc_check_send(const struct muc *m, const char *jid, char **err)
{
	const struct mroom	*mr;

	*err = NULL;
	if ((mr = mr_find(m, jid, strcspn(jid, "/"))) == NULL)
		return 0;
	if (mr->r->state != ROOM_JOINED) {
		xasprintf(err, "room %s is %s: %s", mr->r->jid,
		    room_state_name(mr->r->state), mr->r->reason);
		return -1;
	}
	return 1;
}

void
muc_rooms(const struct muc *m, void (*cb)(void *,
    const struct muc_room_info *), void *arg)
{
	struct muc_room_info	 info;
	const struct mroom	*mr;
	uint64_t		 now = monotime_ms();

	TAILQ_FOREACH(mr, &m->rooms, entry) {
		info.room = mr->r->jid;
		info.nick = mr->r->cur_nick;
		info.state = room_state_name(mr->r->state);
		info.since = time(NULL) - (time_t)((now - mr->r->since_ms) /
		    1000);
		info.occupants = mr->r->nocc;
		info.more = mr->r->occ_overflow;
		info.reason = mr->r->reason;
		info.last_error = mr->r->last_error;
		info.configured = mr->configured;
		cb(arg, &info);
	}
}

void
muc_counts(const struct muc *m, unsigned int *joined, unsigned int *total)
{
	const struct mroom	*mr;

	*joined = 0;
	TAILQ_FOREACH(mr, &m->rooms, entry)
		if (mr->r->state == ROOM_JOINED)
			(*joined)++;
	*total = m->nrooms;
}
