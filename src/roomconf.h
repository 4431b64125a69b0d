/*
 * roomconf.h: the group-chat part of xmppd.conf(5): the "room" lines and
 * the room_* keys.  A leaf module like config.c, which hands it the keys
 * it owns: errors go back as messages, nothing is logged, no file but a
 * room's password file or credential is read (roomconf_password).
 *
 *	nick = deploybot
 *	room = ops@conference.example.org
 *	room = alerts@conference.example.org/alertbot history=20
 *	room = secret@conference.example.org password_file=/etc/xmppd/s.pw
 *	room = team@conference.example.org nick="Deploy Bot" password_credential=team
 *
 * A room line is the room's bare JID, optionally followed by "/NICK"
 * (up to the first blank), then options NAME=VALUE separated by blanks; a
 * VALUE may be double-quoted with \" and \\ as its only escapes.
 */
#ifndef XMPPD_ROOMCONF_H
#define XMPPD_ROOMCONF_H

#include <stddef.h>
#include <stdio.h>

#define ROOMCONF_MAX_ROOMS		1000
#define ROOMCONF_MAX_INVITERS		100
#define ROOMCONF_HISTORY_MAX		1000
#define ROOMCONF_DEFAULT_PING_INTERVAL	300	/* seconds of silence */
#define ROOMCONF_DEFAULT_PING_TIMEOUT	30
#define ROOMCONF_DEFAULT_JOIN_TIMEOUT	30
#define ROOMCONF_DEFAULT_MAX_OCCUPANTS	1000

struct roomconf_room {
	char		*jid;		/* bare room JID, as checked */
	char		*nick;		/* set by roomconf_finish() */
	int		 nick_set;	/* given on the line (printed back) */
	char		*password_file;	/* absolute path, or NULL */
	char		*password_credential;	/* name in the credentials dir */
	unsigned int	 history;	/* maxstanzas on join; 0 default */
	int		 line;
};

struct roomconf {
	struct roomconf_room	*rooms;
	size_t			 nrooms;
	char			*nick;		/* default nick, or NULL */
	unsigned int		 ping_interval;	/* 0: no self-ping */
	unsigned int		 ping_timeout;
	unsigned int		 join_timeout;
	unsigned int		 max_occupants;	/* tracked per room */
	char			**inviters;	/* bare JIDs or domains */
	size_t			 ninviters;
	int			 seen[6];	/* line of each single key */
};

/* 1 when KEY belongs to this module. */
int		 roomconf_has_key(const char *key);
/*
 * Apply one "KEY = VALUE" line (VALUE already unquoted by config.c when
 * it was quoted as a whole).  *rcp is created on first use.  Returns 0, or
 * -1 with *msg a new string (config.c adds "FILE:LINE: KEY: ").
 */
int		 roomconf_set(struct roomconf **rcp, const char *key,
		    const char *value, int line, char **msg);
/*
 * After the whole file: give every room without a nick the default one
 * (the "nick" key, else the account's local part).  Returns 0, or -1 with
 * *line and *key naming the culprit and *msg a new string.
 */
int		 roomconf_finish(struct roomconf *, const char *account_local,
		    int *line, const char **key, char **msg);
void		 roomconf_free(struct roomconf *);
/* Print the keys back in a form roomconf_set() reads; NULL prints none. */
void		 roomconf_print(const struct roomconf *, FILE *);
/* The room entry for a bare JID (case-insensitive domain), or NULL. */
const struct roomconf_room *roomconf_find(const struct roomconf *,
		    const char *jid);
/* 1 when INVITER (a full or bare JID) is on the allow-list. */
int		 roomconf_inviter_allowed(const struct roomconf *,
		    const char *inviter);
/*
 * Parse a room reference "ROOM[/NICK]" as given to "join": *jid and *nick
 * (NULL when none) newly allocated.  Returns 0, or -1 with *errstr.
 */
int		 roomconf_parse_ref(const char *, char **jid, char **nick,
		    const char **errstr);
/*
 * Read a room's password from its password_file or credential.  Returns
 * 1 with *pw (new string, the caller wipes it), 0 when the room has no
 * password source, -1 with *cause.
 */
int		 roomconf_password(const struct roomconf_room *, char **pw,
		    char **cause);
/* Read every room password readable here (xmppd -n); -1 with *cause. */
int		 roomconf_check_passwords(const struct roomconf *, char **cause);

#endif
