/*
 * room.h: one group chat (XEP-0045) as a small, pure state machine: what
 * an answer from the room means (room_parse_presence), which state that
 * leads to and with what reason (room_fsm), when the room next needs
 * attention (room->due_ms), and who is in it (a bounded occupant list).
 * No I/O, no clock, no logging: the caller passes the time in and acts on
 * the ROOM_ACT_* bits returned (send the join presence, send a self-ping).
 *
 * States: joining (join presence sent, waiting for our own presence with
 * status 110), joined, waiting (for the account to come online, or for a
 * backoff to pass before the next try), failed (a permanent refusal; only
 * an explicit join or a reload tries again).
 */
#ifndef XMPPD_ROOM_H
#define XMPPD_ROOM_H

#include <stddef.h>
#include <stdint.h>

#include "backoff.h"

struct stanza;

/* clang-format off */
enum room_state {
	ROOM_JOINING,
	ROOM_JOINED,
	ROOM_WAITING,
	ROOM_FAILED,
	ROOM_STATE_MAX
};

enum room_ev {
	ROOM_EV_ONLINE,		/* a fresh session: join */
	ROOM_EV_RESUMED,	/* XEP-0198 resume: joined rooms stay joined */
	ROOM_EV_OFFLINE,	/* the stream is gone (resumable or not) */
	ROOM_EV_JOIN,		/* asked to (re)join: forget a failure */
	ROOM_EV_PRESENCE,	/* a presence from the room (see below) */
	ROOM_EV_ACTIVITY,	/* any other stanza from the room */
	ROOM_EV_PING,		/* the self-ping's outcome */
	ROOM_EV_TIMER,		/* now >= due_ms */
};

/* What a presence from the room is about. */
enum room_pres_kind {
	ROOM_PRES_OCCUPANT,	/* someone else came, changed or went */
	ROOM_PRES_SELF,		/* our own presence (status 110) */
	ROOM_PRES_SELF_GONE,	/* our own unavailable presence */
	ROOM_PRES_ERROR,	/* type="error": the join was refused */
};

/* Status codes (XEP-0045 §15.6) as bits. */
#define ROOM_ST_110	0x001	/* this presence is about you */
#define ROOM_ST_201	0x002	/* room created */
#define ROOM_ST_210	0x004	/* the service changed your nick */
#define ROOM_ST_301	0x008	/* banned */
#define ROOM_ST_303	0x010	/* nick change */
#define ROOM_ST_307	0x020	/* kicked */
#define ROOM_ST_321	0x040	/* removed: affiliation change */
#define ROOM_ST_322	0x080	/* removed: room now members-only */
#define ROOM_ST_332	0x100	/* removed: service shutting down */
#define ROOM_ST_333	0x200	/* removed: technical problem */

/* XEP-0410 self-ping outcomes, as the pending-IQ table reports them. */
enum room_ping {
	ROOM_PING_RESULT,
	ROOM_PING_ERROR,	/* with a condition */
	ROOM_PING_TIMEOUT,
	ROOM_PING_GONE,		/* the stream went away first */
};
/* clang-format on */

struct room_presence {
	enum room_pres_kind	 kind;
	const char		*nick;		/* from's resource ("" none) */
	int			 unavailable;
	unsigned int		 codes;		/* ROOM_ST_* */
	const char		*condition;	/* error condition, or NULL */
	const char		*text;		/* error text or reason */
	const char		*actor;		/* who kicked or banned */
	int			 destroyed;
	const char		*venue;		/* destroy's alternate room */
	const char		*new_nick;	/* 303: item's nick */
};

/* The event's payload: a presence, or a self-ping outcome. */
struct room_input {
	enum room_ev		 ev;
	const struct room_presence *pres;
	enum room_ping		 ping;
	const char		*condition;	/* ping error condition */
	const char		*by;		/* ping error's "by", or NULL */
	int			 resumable;	/* OFFLINE: XEP-0198 may resume */
};

struct room_settings {
	uint32_t	 ping_interval_ms;	/* silence before a self-ping */
	uint32_t	 join_timeout_ms;
	uint32_t	 backoff_min_ms;
	uint32_t	 backoff_max_ms;
	uint32_t	 stable_ms;	/* joined this long resets the backoff */
	size_t		 max_occupants;	/* nicks tracked */
};

#define ROOM_NICK_TRIES		5	/* nick, nick_2 ... nick_5 */
#define ROOM_NICK_MAX		1023	/* longer nicks are not tracked */
#define ROOM_REASON_MAX		256

struct room {
	char		*jid;		/* bare, lower case */
	char		*nick;		/* the nick asked for */
	char		*cur_nick;	/* this try's nick, or the room's */
	enum room_state	 state;
	char		 reason[ROOM_REASON_MAX];
	char		 last_error[ROOM_REASON_MAX];
	uint64_t	 since_ms;	/* in this state since */
	uint64_t	 joined_ms;	/* last entry into joined */
	uint64_t	 activity_ms;	/* last stanza from the room */
	uint64_t	 due_ms;	/* 0: nothing due */
	int		 online;	/* the account's stream is up */
	int		 ping_pending;
	unsigned int	 nick_try;
	struct backoff	 backoff;
	const struct room_settings *set;
	char		**occ;		/* nicks, at most set->max_occupants */
	size_t		 nocc;
	int		 occ_overflow;	/* more occupants than tracked */
};

/* clang-format off */
#define ROOM_ACT_JOIN		0x01	/* send the join presence (cur_nick) */
#define ROOM_ACT_PING		0x02	/* send a self-ping */
#define ROOM_ACT_CANCEL_PING	0x04	/* forget a pending self-ping */
#define ROOM_ACT_CHANGED	0x08	/* state or reason changed: report */
/* clang-format on */

/* A new room, waiting for the account; settings must outlive it. */
struct room	*room_new(const char *jid, const char *nick,
		    const struct room_settings *, uint64_t now_ms);
void		 room_free(struct room *);
const char	*room_state_name(enum room_state);

/* Drive the machine; returns ROOM_ACT_* bits. */
int		 room_fsm(struct room *, const struct room_input *,
		    uint64_t now_ms);

/*
 * Classify a presence whose from is ROOM/NICK (or ROOM).  Pointers in *p
 * point into the stanza.  Returns 0, or -1 when it is not a presence.
 */
int		 room_parse_presence(const struct stanza *, const char *cur_nick,
		    struct room_presence *);

/* The nick of join try n (0: the nick itself). New string. */
char		*room_try_nick(const char *nick, unsigned int n);

/*
 * Occupants other than us: a presence for nick adds or (unavailable)
 * removes it.  Beyond set->max_occupants new nicks are not stored and
 * occ_overflow is set.  Returns the number of nicks tracked.
 */
size_t		 room_occupant(struct room *, const char *nick, int gone);
void		 room_occupants_clear(struct room *);

/* Is this XMPP error condition worth retrying a join after? */
int		 room_condition_transient(const char *);

#endif
