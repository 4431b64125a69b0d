/*
 * caps.h: what the daemon says it is and can do: the disco#info answer
 * (XEP-0030) and the XEP-0115 entity capabilities that announce it in
 * presence.  One list of identities and features, so the hash and the
 * answer cannot disagree.  Pure: no I/O.
 */
#ifndef XMPPD_CAPS_H
#define XMPPD_CAPS_H

#include <stddef.h>

#define NS_CAPS		"http://jabber.org/protocol/caps"
#define CAPS_NODE	"https://xmppd.invalid/caps"

struct stanza;

struct caps_identity {
	const char	*category;
	const char	*type;
	const char	*lang;		/* NULL: none */
	const char	*name;		/* NULL: none */
};

/*
 * The verification string of XEP-0115 §5.1 (SHA-1, base64) over these
 * identities and features (sorted here, not in place); a new string.
 */
char	*caps_ver(const struct caps_identity *, size_t,
	    const char *const *features, size_t);
/* The daemon's own: its ver (computed once), and its disco#info query. */
const char	*caps_own_ver(void);
void		 caps_add_query(struct stanza *parent);
/* 1 when node is ours: none, or CAPS_NODE "#" our ver. */
int		 caps_node_ours(const char *node);
/* Add <c xmlns=caps hash=sha-1 node=... ver=.../> to a presence. */
void		 caps_add_to_presence(struct stanza *presence);

#endif
