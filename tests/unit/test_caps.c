/*
 * test_caps.c: the XEP-0115 verification string against the example of
 * XEP-0115 §5.2, whatever the order of the input; the node check; and
 * that the disco#info query lists what the hash covers.
 */
#include "compat.h"

#include <stdlib.h>
#include <string.h>

#include "caps.h"
#include "xmalloc.h"
#include "stanza.h"
#include "tap.h"

int
main(void)
{
	static const struct caps_identity ex[] = {
		{ "client", "pc", NULL, "Exodus 0.9.1" },
	};
	static const char *const feat[] = {
		"http://jabber.org/protocol/muc",
		"http://jabber.org/protocol/disco#info",
		"http://jabber.org/protocol/caps",
		"http://jabber.org/protocol/disco#items",
	};
	static const struct caps_identity two[] = {
		{ "client", "pc", "en", "B" },
		{ "client", "bot", NULL, "A" },
	};
	static const struct caps_identity two_rev[] = {
		{ "client", "bot", NULL, "A" },
		{ "client", "pc", "en", "B" },
	};
	struct stanza	*q, *ch;
	char		*v, *w, *node;
	int		 nid = 0, nfeat = 0;

	plan(8);
	v = caps_ver(ex, 1, feat, 4);
	is_str(v, "QgayPKawpkPSDYmwT/WM94uAlu0=", "XEP-0115 5.2 example, "
	    "features unsorted");
	free(v);
	v = caps_ver(two, 2, feat, 4);
	w = caps_ver(two_rev, 2, feat, 4);
	is_str(v, w, "identities are sorted before hashing");
	free(v);
	free(w);

	ok(caps_node_ours(NULL), "no node: ours");
	xasprintf(&node, "%s#%s", CAPS_NODE, caps_own_ver());
	ok(caps_node_ours(node), "node#ver: ours");
	free(node);
	ok(!caps_node_ours(CAPS_NODE "#AAAA"), "another ver: not ours");
	ok(!caps_node_ours("urn:xmpp:other"), "another node: not ours");

	q = stanza_new("query", "http://jabber.org/protocol/disco#info");
	caps_add_query(q);
	for (ch = stanza_first_child(q); ch; ch = stanza_next_sibling(ch)) {
		if (strcmp(stanza_name(ch), "identity") == 0)
			nid++;
		else if (strcmp(stanza_name(ch), "feature") == 0)
			nfeat++;
	}
	ok(nid == 1 && nfeat == 3, "the query: one identity, three features "
	    "(%d, %d)", nid, nfeat);
	ok(strlen(caps_own_ver()) == 28, "our ver is base64 of SHA-1");
	stanza_free(q);
	return done_testing();
}
