/*
 * jid.h: Jabber IDs (RFC 7622), split and checked.  A leaf module: no
 * logging, errors as a static string.
 */
#ifndef XMPPD_JID_H
#define XMPPD_JID_H

struct jid {
	char	*local;		/* NULL when absent */
	char	*domain;	/* never NULL after a successful parse */
	char	*resource;	/* NULL when absent */
};

/*
 * Parse s into j (fields newly allocated).  Checks lengths (1..1023 bytes
 * per part), forbidden characters in the localpart ("&'/:<>@ and spaces),
 * UTF-8 validity and an empty part.  Returns 0, or -1 with *errstr set
 * and j cleared.
 */
int	 jid_parse(const char *s, struct jid *j, const char **errstr);
void	 jid_clear(struct jid *);
/* Newly allocated "local@domain" (or "domain"). */
char	*jid_bare(const struct jid *);
/* Newly allocated "local@domain/resource" (bare when no resource). */
char	*jid_full(const struct jid *);

#endif
