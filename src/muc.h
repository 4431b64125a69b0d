/*
 * muc.h: the group-chat service.  It owns the account's rooms (from the
 * config and from "join"), registers with the connection as a service,
 * turns connection events and room stanzas into room.c events, sends
 * what the rooms ask for (joins, self-pings, presence, messages) and runs
 * the one timer of all rooms.  What happens is reported through hooks;
 * it never calls up into the daemon or the control socket.
 */
#ifndef XMPPD_MUC_H
#define XMPPD_MUC_H

#include <stdint.h>
#include <time.h>

struct event_base;
struct conn;
struct config;
struct muc;

struct muc_hooks {
	/* A room's state or reason changed; state "left" after a part. */
	void	(*state)(void *arg, const char *room, const char *nick,
		    const char *state, const char *prev, const char *reason);
	/* A groupchat message; own: our reflection. */
	void	(*message)(void *arg, const char *room, const char *nick,
		    const char *body, int own);
	void	(*subject)(void *arg, const char *room, const char *nick,
		    const char *subject);
	/* kind "direct" (XEP-0249) or "mediated" (XEP-0045). */
	void	(*invite)(void *arg, const char *room, const char *from,
		    const char *reason, const char *kind, int joining);
	/* The joined count changed (for STATUS=). */
	void	(*count)(void *arg, unsigned int joined, unsigned int total);
	void	*arg;
};

/* One room as "rooms" shows it. */
struct muc_room_info {
	const char	*room;
	const char	*nick;
	const char	*state;
	time_t		 since;		/* wall clock */
	size_t		 occupants;	/* others, as tracked */
	int		 more;		/* more occupants than tracked */
	const char	*reason;
	const char	*last_error;	/* "" when none */
	int		 configured;	/* from xmppd.conf */
};

struct muc	*muc_new(struct event_base *, struct conn *,
		    const struct config *);
void		 muc_free(struct muc *);
void		 muc_set_hooks(struct muc *, const struct muc_hooks *);
/* After a reload: rooms added are joined, rooms removed are left. */
void		 muc_config_changed(struct muc *, const struct config *);

/* The outcome of a join: ok 1 joined, 0 refused or retrying later. */
typedef void (*muc_join_cb)(void *arg, int ok, const char *text);
/*
 * Join ROOM[/NICK] now (a failed room is tried again).  password may be
 * NULL (the config's source, if any, is used).  Returns 0 when cb will
 * tell the outcome (never from within this call), 1 when *text already
 * does (already joined, a join under way, the account offline), -1 with
 * *text the error.  cb may be NULL.
 */
int		 muc_join(struct muc *, const char *ref, const char *password,
		    muc_join_cb cb, void *cbarg, const char **text);
/* Forget every pending join outcome for cbarg (its client went away). */
void		 muc_join_cancel(struct muc *, void *cbarg);
/* Leave a room and forget it until the next restart or reload. */
int		 muc_part(struct muc *, const char *room, const char *reason,
		    const char **err);
/* 1 when JID (bare) is one of our rooms, whatever its state. */
int		 muc_is_room(const struct muc *, const char *jid);
/*
 * May a message go to JID now?  0: not a room of ours; 1: a joined room
 * (send it as groupchat); -1 with *err (a new string naming the room's
 * state) when it is a room that is not joined.
 */
int		 muc_check_send(const struct muc *, const char *jid, char **err);
/* Every room, in configuration order, then joined at run time. */
void		 muc_rooms(const struct muc *,
		    void (*)(void *, const struct muc_room_info *), void *);
void		 muc_counts(const struct muc *, unsigned int *joined,
		    unsigned int *total);

#endif
