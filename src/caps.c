/*
 * caps.c: the identities and features of caps.h, the disco#info query
 * built from them, and the XEP-0115 §5.1 verification string.
 */
#include "compat.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "caps.h"
#include "stanza.h"
#include "util.h"
#include "xmalloc.h"

/* clang-format off */
static const struct caps_identity caps_identities[] = {
	{ "client", "bot", NULL, PACKAGE_NAME },
};
static const char *const caps_features[] = {
	"http://jabber.org/protocol/disco#info",
	"jabber:iq:version",
	"urn:xmpp:ping",
};
/* clang-format on */

static char	*caps_own;

static int
caps_cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* "category/type/lang/name" as §5.1 step 2 sorts and joins them. */
static char *
caps_identity_string(const struct caps_identity *id)
{
	char	*s;

	xasprintf(&s, "%s/%s/%s/%s", id->category, id->type,
	    id->lang ? id->lang : "", id->name ? id->name : "");
	return s;
}

static void
caps_append(char **buf, size_t *len, const char *s)
{
	size_t	n = strlen(s);

	*buf = xreallocarray(*buf, 1, *len + n + 2);
	memcpy(*buf + *len, s, n);
	(*buf)[*len + n] = '<';
	*len += n + 1;
	(*buf)[*len] = '\0';
}

char *
caps_ver(const struct caps_identity *ids, size_t nids,
    const char *const *features, size_t nfeat)
{
	char		**idstr, *buf = NULL;
	const char	**feat;
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen;
	size_t		 i, len = 0;

	/* Sorted by category, type, lang: the joined string sorts so. */
	idstr = xcalloc(nids ? nids : 1, sizeof(*idstr));
	for (i = 0; i < nids; i++)
		idstr[i] = caps_identity_string(&ids[i]);
	qsort(idstr, nids, sizeof(*idstr), caps_cmp_str);
	feat = xcalloc(nfeat ? nfeat : 1, sizeof(*feat));
	memcpy(feat, features, nfeat * sizeof(*feat));
	qsort(feat, nfeat, sizeof(*feat), caps_cmp_str);
	buf = xstrdup("");
	for (i = 0; i < nids; i++) {
		caps_append(&buf, &len, idstr[i]);
		free(idstr[i]);
	}
	for (i = 0; i < nfeat; i++)
		caps_append(&buf, &len, feat[i]);
	free(idstr);
	free(feat);
	if (EVP_Digest(buf, len, md, &mdlen, EVP_sha1(), NULL) != 1)
		mdlen = 0;
	free(buf);
	return b64_encode(md, mdlen);
}

const char *
caps_own_ver(void)
{
	if (caps_own == NULL)
		caps_own = caps_ver(caps_identities, nitems(caps_identities),
		    caps_features, nitems(caps_features));
	return caps_own;
}

void
caps_add_query(struct stanza *q)
{
	struct stanza	*e;
	size_t		 i;

	for (i = 0; i < nitems(caps_identities); i++) {
		e = stanza_add_child(q, "identity", NULL);
		stanza_set_attr(e, "category", caps_identities[i].category);
		stanza_set_attr(e, "type", caps_identities[i].type);
		if (caps_identities[i].lang != NULL)
			stanza_set_attr(e, "xml:lang", caps_identities[i].lang);
		if (caps_identities[i].name != NULL)
			stanza_set_attr(e, "name", caps_identities[i].name);
	}
	for (i = 0; i < nitems(caps_features); i++)
		stanza_set_attr(stanza_add_child(q, "feature", NULL), "var",
		    caps_features[i]);
}

int
caps_node_ours(const char *node)
{
	size_t	n = strlen(CAPS_NODE);

	if (node == NULL)
		return 1;
	return strncmp(node, CAPS_NODE, n) == 0 && node[n] == '#' &&
	    strcmp(node + n + 1, caps_own_ver()) == 0;
}

void
caps_add_to_presence(struct stanza *p)
{
	struct stanza	*c = stanza_add_child(p, "c", NS_CAPS);

	stanza_set_attr(c, "hash", "sha-1");
	stanza_set_attr(c, "node", CAPS_NODE);
	stanza_set_attr(c, "ver", caps_own_ver());
}
