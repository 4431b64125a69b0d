/*
 * sm.h: XEP-0198 stream management as pure functions on a struct sm: the
 * counters, the queue of stanzas the server has not acknowledged, the
 * session id the server keeps, and the file that carries a session across
 * a restart.  No I/O but the FILE given, no logging, no timers: each
 * function says what the caller must do (send <r/>, resend these stanzas,
 * tell a service its stanza arrived).
 */
#ifndef XMPPD_SM_H
#define XMPPD_SM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "compat.h"

#define SM_MAX_UNACKED	1000		/* stanzas kept for resending */
#define SM_MAX_BYTES	(1024 * 1024)
#define SM_DEFAULT_MAX	300		/* seconds, when <enabled/> says none */

/* An outgoing stanza the server has not acknowledged yet. */
struct sm_item {
	TAILQ_ENTRY(sm_item)	 entry;
	int			 is_message;
	uint64_t		 tag;		/* a service's, 0: none */
	int			 void_tag;	/* never resent: a service's
						   from a saved session, or
						   a secret (a placeholder) */
	size_t			 len;
	char			 data[];
};
TAILQ_HEAD(sm_items, sm_item);

struct sm {
	int			 enabled;	/* counting on this stream */
	int			 resumable;	/* the server keeps the session */
	int			 resumed;	/* this session was resumed */
	char			*id;
	char			*jid;		/* bound JID of the session */
	unsigned int		 max;		/* seconds the server waits */
	time_t			 lost_at;	/* link lost (0: not lost) */
	uint32_t		 h_in;		/* stanzas we handled */
	uint32_t		 h_acked;	/* ours the server handled */
	struct sm_items		 unacked;
	size_t			 n, bytes;
	unsigned int		 resumptions;
};

typedef void (*sm_acked_cb)(void *arg, uint64_t tag);

void	 sm_init(struct sm *);
/* Forget everything, queue included (for the end of the process). */
void	 sm_free(struct sm *);

/* What sm_track() asks of the caller (bits). */
#define SM_SEND_R	0x1	/* request an ack: send <r/> */
#define SM_DROPPED	0x2	/* the queue was full: its oldest was dropped */
#define SM_DROPPED_TAG	0x4	/* ... and it was a service's (now void) */
/*
 * A stanza was sent on a counting stream: keep a copy until acked.  kind
 * is the element name ("message", "iq", ...; NULL: a message being
 * resent).  Bounded by SM_MAX_UNACKED and SM_MAX_BYTES.
 */
int	 sm_track(struct sm *, const char *kind, const char *data, size_t len,
	    uint64_t tag);
/*
 * A stanza that carries a secret (a password) was sent: counted like any
 * other, but the queue keeps a placeholder, never the stanza, so it is
 * neither resent nor saved.
 */
int	 sm_track_secret(struct sm *, const char *kind);
/* Would a stanza be refused room?  (Services are refused, not dropped.) */
int	 sm_full(const struct sm *);
/*
 * The server handled h (the attribute's text) of ours: drop them, telling
 * acked() about each tagged one.  -1 when h is not a number or acks more
 * than was sent.
 */
int	 sm_ack(struct sm *, const char *h, sm_acked_cb, void *);
/* One more incoming stanza handled (message, presence, iq). */
void	 sm_received(struct sm *);
/* The server's <enabled/>: resume and max attributes, id, our bound JID. */
void	 sm_enabled(struct sm *, const char *resume, const char *id,
	    const char *max, const char *jid);
/* The link went away at now: a resumable session may be resumed. */
void	 sm_lost(struct sm *, time_t now);
int	 sm_can_resume(const struct sm *, time_t now);
/* Forget the session; keep_queue keeps the unacked stanzas. */
void	 sm_forget(struct sm *, int keep_queue);
/*
 * <resumed h=.../>: drop what the server has, and stanzas from before a
 * restart (void_tag: their service resends them; count in *dropped).  The
 * rest of the queue is what to resend, in order.  -1 on a bad h.
 */
int	 sm_resumed(struct sm *, const char *h, sm_acked_cb, void *,
	    size_t *dropped);
/*
 * A fresh session replaces a lost one: move the untagged messages the old
 * one did not deliver into resend (the caller sends and tracks them),
 * drop everything else (tagged stanzas are void), and reset.
 */
void	 sm_restart(struct sm *, struct sm_items *resend);

/*
 * The saved-session file: id, counters and the queue.  A service's stanza
 * is written with kind 2 and comes back as void_tag.  sm_load() reads
 * into a fresh struct sm; -1 with *why when the file is unreadable,
 * damaged, of another account (bare) or too old for the server.
 */
void	 sm_save(const struct sm *, FILE *, time_t now);
int	 sm_load(struct sm *, FILE *, const char *bare, time_t now,
	    const char **why);

#endif
