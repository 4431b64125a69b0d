/*
 * room.c: one group chat's state machine (see room.h).  Every XEP-0045
 * outcome of a join and every way of being put out of a room maps to one
 * state and a reason a person can act on; XEP-0410 self-ping answers are
 * read as that XEP says.  Retries use the shared full-jitter backoff, and
 * the backoff only starts over once a join has held for stable_ms, so a
 * room that kicks the bot at once cannot make it flap.
 */
#include "compat.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "room.h"
#include "stanza.h"
#include "xmalloc.h"

#define NS_MUC_USER	"http://jabber.org/protocol/muc#user"
#define NS_STANZAS	"urn:ietf:params:xml:ns:xmpp-stanzas"

/* clang-format off */
static const char *const room_state_names[ROOM_STATE_MAX] = {
	"joining", "joined", "waiting", "failed",
};

/* Join refusals: condition, what it means, and whether to try again. */
static const struct {
	const char	*cond;
	const char	*what;
	int		 transient;
} room_errors[] = {
	{ "conflict",		 "nick in use", 0 },
	{ "not-authorized",	 "password required or wrong", 0 },
	{ "registration-required", "members-only room, not a member", 0 },
	{ "forbidden",		 "banned from the room", 0 },
	{ "not-allowed",	 "room does not exist and may not be created", 0 },
	{ "not-acceptable",	 "nick refused (the room may require a reserved nick)", 0 },
	{ "jid-malformed",	 "nick missing or malformed", 0 },
	{ "item-not-found",	 "room does not exist or is locked", 1 },
	{ "service-unavailable", "room full or service unavailable", 1 },
	{ "remote-server-not-found", "the room's server cannot be reached", 1 },
	{ "remote-server-timeout", "the room's server cannot be reached", 1 },
	{ "internal-server-error", "server error", 1 },
	{ "resource-constraint", "the service is overloaded", 1 },
	{ "recipient-unavailable", "the service is unavailable", 1 },
};

static const struct {
	const char	*code;
	unsigned int	 bit;
} room_codes[] = {
	{ "110", ROOM_ST_110 }, { "201", ROOM_ST_201 }, { "210", ROOM_ST_210 },
	{ "301", ROOM_ST_301 }, { "303", ROOM_ST_303 }, { "307", ROOM_ST_307 },
	{ "321", ROOM_ST_321 }, { "322", ROOM_ST_322 }, { "332", ROOM_ST_332 },
	{ "333", ROOM_ST_333 },
};
/* clang-format on */

static void	 room_set(struct room *, enum room_state, uint64_t,
		    const char *, ...) __attribute__((__format__(printf, 4, 5)));
static int	 room_join(struct room *, uint64_t);
static int	 room_wait(struct room *, uint64_t, const char *);
static int	 room_fail(struct room *, uint64_t, const char *);
static int	 room_joined(struct room *, const struct room_presence *,
		    uint64_t);
static int	 room_refused(struct room *, const struct room_presence *,
		    uint64_t);
static int	 room_put_out(struct room *, const struct room_presence *,
		    uint64_t);
static int	 room_pinged(struct room *, const struct room_input *,
		    uint64_t);
static int	 room_timer(struct room *, uint64_t);
static int	 room_presence(struct room *, const struct room_presence *,
		    uint64_t);
static void	 room_arm_ping(struct room *);
static void	 room_reason_error(char *, size_t, const char *, const char *);
static void	 room_parse_x(const struct stanza *, struct room_presence *);
static void	 room_parse_error(const struct stanza *,
		    struct room_presence *);

const char *
room_state_name(enum room_state s)
{
	return s < ROOM_STATE_MAX ? room_state_names[s] : "unknown";
}

struct room *
room_new(const char *jid, const char *nick, const struct room_settings *set,
    uint64_t now)
{
	struct room	*r;

	r = xcalloc(1, sizeof(*r));
	r->jid = xstrdup(jid);
	r->nick = xstrdup(nick);
	r->cur_nick = xstrdup(nick);
	r->set = set;
	r->state = ROOM_WAITING;
	r->since_ms = now;
	strlcpy(r->reason, "account offline", sizeof(r->reason));
	backoff_init(&r->backoff, set->backoff_min_ms, set->backoff_max_ms);
	return r;
}

void
room_occupants_clear(struct room *r)
{
	size_t	i;

	for (i = 0; i < r->nocc; i++)
		free(r->occ[i]);
	free(r->occ);
	r->occ = NULL;
	r->nocc = 0;
	r->occ_overflow = 0;
}

void
room_free(struct room *r)
{
	if (r == NULL)
		return;
	room_occupants_clear(r);
	free(r->jid);
	free(r->nick);
	free(r->cur_nick);
	free(r);
}

char *
room_try_nick(const char *nick, unsigned int n)
{
	char	*s;

	if (n == 0)
		return xstrdup(nick);
	xasprintf(&s, "%s_%u", nick, n + 1);
	return s;
}

int
room_condition_transient(const char *cond)
{
	size_t	i;

	for (i = 0; cond != NULL && i < nitems(room_errors); i++)
		if (strcmp(room_errors[i].cond, cond) == 0)
			return room_errors[i].transient;
	return 0;
}

/* "what (condition): text" */
static void
room_reason_error(char *buf, size_t len, const char *cond, const char *text)
{
	const char	*what = "join refused";
	size_t		 i;

	if (cond == NULL)
		cond = "undefined-condition";
	for (i = 0; i < nitems(room_errors); i++)
		if (strcmp(room_errors[i].cond, cond) == 0)
			what = room_errors[i].what;
	snprintf(buf, len, "%s (%s)%s%s", what, cond,
	    text != NULL && *text != '\0' ? ": " : "", text ? text : "");
}

/* ---------------------------------------------------------------------- */
/* occupants */

size_t
room_occupant(struct room *r, const char *nick, int gone)
{
	size_t	i;

	for (i = 0; i < r->nocc; i++)
		if (strcmp(r->occ[i], nick) == 0)
			break;
	if (gone) {
		if (i < r->nocc) {
			free(r->occ[i]);
			r->occ[i] = r->occ[--r->nocc];
		}
		return r->nocc;
	}
	if (i < r->nocc)
		return r->nocc;
	/*
	 * A flood of joins costs at most max_occupants nicks of at most
	 * ROOM_NICK_MAX bytes (a resourcepart's limit) each.
	 */
	if (r->nocc >= r->set->max_occupants ||
	    strlen(nick) > ROOM_NICK_MAX) {
		r->occ_overflow = 1;
		return r->nocc;
	}
	if ((r->nocc & (r->nocc - 1)) == 0)	/* 0, 1, 2, 4, 8 ...: grow */
		r->occ = xreallocarray(r->occ, r->nocc ? r->nocc * 2 : 1,
		    sizeof(char *));
	r->occ[r->nocc++] = xstrdup(nick);
	return r->nocc;
}

/* ---------------------------------------------------------------------- */
/* parsing */

static void
room_parse_x(const struct stanza *x, struct room_presence *p)
{
	const struct stanza	*c, *a;
	const char		*code, *name;
	size_t			 i;

	for (c = stanza_first_child(x); c != NULL; c = stanza_next_sibling(c)) {
		name = stanza_name(c);
		if (strcmp(name, "status") == 0 &&
		    (code = stanza_attr(c, "code")) != NULL) {
			for (i = 0; i < nitems(room_codes); i++)
				if (strcmp(room_codes[i].code, code) == 0)
					p->codes |= room_codes[i].bit;
		} else if (strcmp(name, "item") == 0) {
			if ((a = stanza_child(c, "actor", NULL)) != NULL)
				p->actor = stanza_attr(a, "nick") != NULL ?
				    stanza_attr(a, "nick") :
				    stanza_attr(a, "jid");
			if ((a = stanza_child(c, "reason", NULL)) != NULL)
				p->text = stanza_text(a);
			p->new_nick = stanza_attr(c, "nick");
		} else if (strcmp(name, "destroy") == 0) {
			p->destroyed = 1;
			p->venue = stanza_attr(c, "jid");
			if ((a = stanza_child(c, "reason", NULL)) != NULL)
				p->text = stanza_text(a);
		}
	}
}

static void
room_parse_error(const struct stanza *e, struct room_presence *p)
{
	const struct stanza	*c;
	const char		*ns;

	for (c = stanza_first_child(e); c != NULL; c = stanza_next_sibling(c)) {
		ns = stanza_ns(c);
		if (ns == NULL || strcmp(ns, NS_STANZAS) != 0)
			continue;
		if (strcmp(stanza_name(c), "text") == 0)
			p->text = stanza_text(c);
		else if (p->condition == NULL)
			p->condition = stanza_name(c);
	}
}

int
room_parse_presence(const struct stanza *s, const char *cur_nick,
    struct room_presence *p)
{
	const struct stanza	*c;
	const char		*from, *type, *slash;

	memset(p, 0, sizeof(*p));
	if (s == NULL || strcmp(stanza_name(s), "presence") != 0)
		return -1;
	from = stanza_attr(s, "from");
	slash = from != NULL ? strchr(from, '/') : NULL;
	p->nick = slash != NULL ? slash + 1 : "";
	type = stanza_attr(s, "type");
	if (type != NULL && strcmp(type, "error") == 0) {
		p->kind = ROOM_PRES_ERROR;
		if ((c = stanza_child(s, "error", NULL)) != NULL)
			room_parse_error(c, p);
		return 0;
	}
	p->unavailable = type != NULL && strcmp(type, "unavailable") == 0;
	if ((c = stanza_child(s, "x", NS_MUC_USER)) != NULL)
		room_parse_x(c, p);
	/*
	 * 110 marks our own presence; a destroy is addressed to us whatever
	 * the server puts in it, and some services omit 110 when they put
	 * us out, so our current nick counts too.
	 */
	if ((p->codes & ROOM_ST_110) || p->destroyed ||
	    (cur_nick != NULL && *p->nick != '\0' &&
	    strcmp(p->nick, cur_nick) == 0))
		p->kind = p->unavailable ? ROOM_PRES_SELF_GONE : ROOM_PRES_SELF;
	else
		p->kind = ROOM_PRES_OCCUPANT;
	return 0;
}

/* ---------------------------------------------------------------------- */
/* transitions */

static void
room_set(struct room *r, enum room_state st, uint64_t now, const char *fmt,
    ...)
{
	va_list	ap;

	if (r->state != st)
		r->since_ms = now;
	r->state = st;
	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
	va_end(ap);
}

static void
room_arm_ping(struct room *r)
{
	r->due_ms = r->set->ping_interval_ms != 0 && !r->ping_pending ?
	    r->activity_ms + r->set->ping_interval_ms : 0;
}

/* Send a join with the nick of this try; the answer is due in time. */
static int
room_join(struct room *r, uint64_t now)
{
	int	acts = ROOM_ACT_JOIN | ROOM_ACT_CHANGED;

	if (r->ping_pending)
		acts |= ROOM_ACT_CANCEL_PING;
	r->ping_pending = 0;
	free(r->cur_nick);
	r->cur_nick = room_try_nick(r->nick, r->nick_try);
	room_occupants_clear(r);
	room_set(r, ROOM_JOINING, now, "join sent as %s", r->cur_nick);
	r->due_ms = now + r->set->join_timeout_ms;
	return acts;
}

/* A transient problem: try again after the backoff. */
static int
room_wait(struct room *r, uint64_t now, const char *why)
{
	uint32_t	delay;
	int		acts = ROOM_ACT_CHANGED;

	if (r->ping_pending)
		acts |= ROOM_ACT_CANCEL_PING;
	r->ping_pending = 0;
	/* Only a join that held for a while earns a fresh backoff. */
	if (r->joined_ms != 0 && now - r->joined_ms >= r->set->stable_ms)
		backoff_reset(&r->backoff);
	r->joined_ms = 0;
	delay = backoff_next(&r->backoff);
	strlcpy(r->last_error, why, sizeof(r->last_error));
	room_occupants_clear(r);
	room_set(r, ROOM_WAITING, now, "%s; rejoin in %us", why,
	    (delay + 999) / 1000);
	r->nick_try = 0;
	r->due_ms = now + delay;
	return acts;
}

static int
room_fail(struct room *r, uint64_t now, const char *why)
{
	int	acts = ROOM_ACT_CHANGED;

	if (r->ping_pending)
		acts |= ROOM_ACT_CANCEL_PING;
	r->ping_pending = 0;
	r->joined_ms = 0;
	strlcpy(r->last_error, why, sizeof(r->last_error));
	room_occupants_clear(r);
	room_set(r, ROOM_FAILED, now, "%s", why);
	r->nick_try = 0;
	r->due_ms = 0;
	return acts;
}

static int
room_joined(struct room *r, const struct room_presence *p, uint64_t now)
{
	/* 210: the service picked the nick; it is ours now. */
	if (*p->nick != '\0' && strcmp(p->nick, r->cur_nick) != 0) {
		free(r->cur_nick);
		r->cur_nick = xstrdup(p->nick);
	}
	r->activity_ms = now;
	if (r->state == ROOM_JOINED)
		return 0;	/* our own presence update reflected */
	r->joined_ms = now;
	room_set(r, ROOM_JOINED, now, "joined as %s", r->cur_nick);
	room_arm_ping(r);
	return ROOM_ACT_CHANGED;
}

/* The join was refused with an error. */
static int
room_refused(struct room *r, const struct room_presence *p, uint64_t now)
{
	char	why[ROOM_REASON_MAX];

	room_reason_error(why, sizeof(why), p->condition, p->text);
	if (r->state == ROOM_JOINED) {
		/* An error while inside: the room no longer knows us. */
		return room_join(r, now);
	}
	if (p->condition != NULL && strcmp(p->condition, "conflict") == 0) {
		if (++r->nick_try < ROOM_NICK_TRIES) {
			strlcpy(r->last_error, why, sizeof(r->last_error));
			return room_join(r, now);
		}
		return room_wait(r, now, why);
	}
	if (room_condition_transient(p->condition))
		return room_wait(r, now, why);
	return room_fail(r, now, why);
}

/* Our own unavailable presence: why we are out, and what to do. */
static int
room_put_out(struct room *r, const struct room_presence *p, uint64_t now)
{
	char		 why[ROOM_REASON_MAX];
	const char	*by = p->actor != NULL ? p->actor : "a moderator";
	const char	*sep = p->text != NULL && *p->text != '\0' ? ": " : "";
	const char	*txt = *sep ? p->text : "";

	if ((p->codes & ROOM_ST_303) && p->new_nick != NULL) {
		/* A nick change is a leave and a join in one. */
		free(r->cur_nick);
		r->cur_nick = xstrdup(p->new_nick);
		return 0;
	}
	if (p->destroyed) {
		snprintf(why, sizeof(why), "room destroyed%s%s%s%s",
		    p->venue != NULL ? ", moved to " : "",
		    p->venue != NULL ? p->venue : "", sep, txt);
		return room_fail(r, now, why);
	}
	if (p->codes & ROOM_ST_301) {
		snprintf(why, sizeof(why), "banned by %s%s%s", by, sep, txt);
		return room_fail(r, now, why);
	}
	if (p->codes & (ROOM_ST_321 | ROOM_ST_322)) {
		snprintf(why, sizeof(why), "removed: %s%s%s",
		    p->codes & ROOM_ST_322 ? "the room is now members-only" :
		    "membership revoked", sep, txt);
		return room_fail(r, now, why);
	}
	if (p->codes & ROOM_ST_307)
		snprintf(why, sizeof(why), "kicked by %s%s%s", by, sep, txt);
	else if (p->codes & ROOM_ST_332)
		snprintf(why, sizeof(why), "the chat service is shutting "
		    "down%s%s", sep, txt);
	else
		snprintf(why, sizeof(why), "removed from the room%s%s%s",
		    p->codes & ROOM_ST_333 ? " (technical problem)" : "",
		    sep, txt);
	return room_wait(r, now, why);
}

static int
room_presence(struct room *r, const struct room_presence *p, uint64_t now)
{
	if (r->state == ROOM_FAILED)
		return 0;
	switch (p->kind) {
	case ROOM_PRES_SELF:
		if (r->state == ROOM_JOINING || r->state == ROOM_JOINED ||
		    (r->state == ROOM_WAITING && r->online))
			return room_joined(r, p, now);
		return 0;
	case ROOM_PRES_SELF_GONE:
		if (r->state != ROOM_JOINED && r->state != ROOM_JOINING)
			return 0;
		return room_put_out(r, p, now);
	case ROOM_PRES_ERROR:
		if (r->state != ROOM_JOINED && r->state != ROOM_JOINING)
			return 0;
		return room_refused(r, p, now);
	case ROOM_PRES_OCCUPANT:
		if (*p->nick != '\0')
			room_occupant(r, p->nick, p->unavailable);
		if (r->state == ROOM_JOINED) {
			r->activity_ms = now;
			room_arm_ping(r);
		}
		return 0;
	}
	return 0;
}

/*
 * XEP-0410: a result, or service-unavailable / feature-not-implemented
 * (the occupant's client does not answer pings) or item-not-found (it
 * just changed nick) mean still joined; remote-server-not-found or
 * -timeout say nothing either way, so ask again after the next silence;
 * any other error, or no answer, means the room forgot us: rejoin.
 * item-not-found counts as "joined" only when the room itself says it
 * (by = the room, or no by at all); said by the service, it means the
 * room is gone, as after a MUC restart that dropped it.
 */
static int
room_pinged(struct room *r, const struct room_input *in, uint64_t now)
{
	const char	*c = in->condition != NULL ? in->condition : "";
	char		 why[ROOM_REASON_MAX];

	if (!r->ping_pending || r->state != ROOM_JOINED)
		return 0;
	r->ping_pending = 0;
	switch (in->ping) {
	case ROOM_PING_GONE:
		return 0;
	case ROOM_PING_RESULT:
		break;
	case ROOM_PING_ERROR:
		if (strcmp(c, "item-not-found") == 0 && in->by != NULL &&
		    strcasecmp(in->by, r->jid) != 0) {
			snprintf(why, sizeof(why), "self-ping: the room is gone "
			    "(item-not-found from %s)", in->by);
			strlcpy(r->last_error, why, sizeof(r->last_error));
			return room_join(r, now);
		}
		if (strcmp(c, "service-unavailable") == 0 ||
		    strcmp(c, "feature-not-implemented") == 0 ||
		    strcmp(c, "item-not-found") == 0 ||
		    strcmp(c, "remote-server-not-found") == 0 ||
		    strcmp(c, "remote-server-timeout") == 0)
			break;
		snprintf(why, sizeof(why), "self-ping: not in the room (%s)",
		    *c ? c : "undefined-condition");
		strlcpy(r->last_error, why, sizeof(r->last_error));
		return room_join(r, now);
	case ROOM_PING_TIMEOUT:
		strlcpy(r->last_error, "self-ping: no answer",
		    sizeof(r->last_error));
		return room_join(r, now);
	}
	r->activity_ms = now;
	room_arm_ping(r);
	return 0;
}

static int
room_timer(struct room *r, uint64_t now)
{
	if (r->due_ms == 0 || now < r->due_ms)
		return 0;
	r->due_ms = 0;
	switch (r->state) {
	case ROOM_JOINING:
		return room_wait(r, now, "no answer to the join");
	case ROOM_WAITING:
		return r->online ? room_join(r, now) : 0;
	case ROOM_JOINED:
		/* Silence: ask the room whether it still knows us. */
		r->ping_pending = 1;
		return ROOM_ACT_PING;
	default:
		return 0;
	}
}

int
room_fsm(struct room *r, const struct room_input *in, uint64_t now)
{
	int	acts;

	switch (in->ev) {
	case ROOM_EV_ONLINE:
		r->online = 1;
		r->nick_try = 0;
		if (r->state == ROOM_FAILED)
			return 0;
		return room_join(r, now);
	case ROOM_EV_RESUMED:
		/* The room never saw us leave: nothing to send but the due. */
		r->online = 1;
		if (r->state == ROOM_JOINED) {
			r->activity_ms = now;
			room_arm_ping(r);
		} else if (r->state == ROOM_JOINING)
			r->due_ms = now + r->set->join_timeout_ms;
		else if (r->state == ROOM_WAITING)
			return room_join(r, now);
		return 0;
	case ROOM_EV_OFFLINE:
		acts = r->ping_pending ? ROOM_ACT_CANCEL_PING : 0;
		r->online = 0;
		r->due_ms = 0;	/* nothing is due without a stream */
		r->ping_pending = 0;
		if (r->state == ROOM_FAILED)
			return acts;
		/* A resumable stream keeps us in the room (XEP-0198). */
		if (in->resumable && r->state != ROOM_WAITING)
			return acts;
		r->joined_ms = 0;
		room_occupants_clear(r);
		room_set(r, ROOM_WAITING, now, "account offline");
		return acts | ROOM_ACT_CHANGED;
	case ROOM_EV_JOIN:
		if (r->state == ROOM_JOINED || r->state == ROOM_JOINING)
			return 0;
		backoff_reset(&r->backoff);
		r->nick_try = 0;
		if (!r->online) {
			r->due_ms = 0;
			room_set(r, ROOM_WAITING, now, "account offline");
			return ROOM_ACT_CHANGED;
		}
		return room_join(r, now);
	case ROOM_EV_PRESENCE:
		return in->pres != NULL ? room_presence(r, in->pres, now) : 0;
	case ROOM_EV_ACTIVITY:
		if (r->state == ROOM_JOINED) {
			r->activity_ms = now;
			room_arm_ping(r);
		}
		return 0;
	case ROOM_EV_PING:
		return room_pinged(r, in, now);
	case ROOM_EV_TIMER:
		return room_timer(r, now);
	}
	return 0;
}
