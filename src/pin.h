/*
 * pin.h: SASL mechanism pinning.  Once a SCRAM mechanism has worked for
 * an account, the state directory remembers its strength, and a later
 * offer of only weaker mechanisms is refused as a possible downgrade.
 * It also remembers, per account and server, how channel binding (-PLUS)
 * went: used (a later -PLUS failure is a possible downgrade) or refused
 * at first contact (later logins go straight to SCRAM without binding).
 * A leaf module: no logging.
 */
#ifndef XMPPD_PIN_H
#define XMPPD_PIN_H

#include "sasl.h"

/* 0 PLAIN, 1 SCRAM-SHA-1, 2 SCRAM-SHA-256, 3 SCRAM-SHA-512 (-PLUS alike). */
int		 pin_rank(enum sasl_mech);
/* Name of the weakest mechanism family a rank allows ("SCRAM-SHA-256"). */
const char	*pin_rank_name(int);
/* Mechanisms (SASL_BIT) weaker than rank. */
unsigned int	 pin_exclude(int rank);
/* The pinned rank for an account, or -1 when none is recorded. */
int		 pin_load(const char *state_dir, const char *bare);
/*
 * Record rank if it is stronger than what is pinned, creating state_dir
 * and its parents (0700) when missing.  Returns 0; -1 with *cause (a new
 * string) to report; or 1 when the same failure was already reported
 * (*cause NULL: log nothing).
 */
int		 pin_store(const char *state_dir, const char *bare, int rank,
		    char **cause);
/* The pin file's path (new string). */
char		*pin_path(const char *state_dir, const char *bare);

/* How -PLUS went with an account's server. */
enum pin_cb {
	PIN_CB_UNKNOWN = 0,	/* no record, or one for another server */
	PIN_CB_USED,		/* -PLUS worked */
	PIN_CB_REFUSED		/* -PLUS rejected at first contact */
};

enum pin_cb	 pin_cb_load(const char *state_dir, const char *bare,
		    const char *server);
/* Record the outcome; returns as pin_store. */
int		 pin_cb_store(const char *state_dir, const char *bare,
		    const char *server, enum pin_cb, char **cause);
/* The channel-binding record's path (new string). */
char		*pin_cb_path(const char *state_dir, const char *bare);

#endif
