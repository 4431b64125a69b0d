/*
 * jid.c: split and check Jabber IDs (RFC 7622) without a full PRECIS
 * implementation.  The checks catch what would make a JID unusable or
 * dangerous on the wire or in a log line: bad UTF-8, control characters,
 * the localpart's forbidden ASCII set, empty or oversized parts, and
 * domains that are neither a host name nor an IP literal.  The domain is
 * lowercased (ASCII only) and a trailing dot is dropped, as RFC 7622
 * section 3.2 asks, so that comparisons against the server's JID work.
 */
#include "compat.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "jid.h"
#include "util.h"
#include "xmalloc.h"

#define JID_PART_MAX	1023	/* bytes per part, RFC 7622 section 3 */
#define JID_LABEL_MAX	63	/* bytes per DNS label */

static int	 jid_ctl(unsigned char);
static const char *jid_check_local(const char *, size_t);
static const char *jid_check_domain(const char *, size_t);
static const char *jid_check_ip6(const char *, size_t);
static const char *jid_check_labels(const char *, size_t);
static const char *jid_check_resource(const char *, size_t);
static char	*jid_lower(const char *, size_t);

static int
jid_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

static const char *
jid_check_local(const char *s, size_t len)
{
	size_t	i;

	if (len == 0)
		return "empty localpart";
	if (len > JID_PART_MAX)
		return "localpart too long";
	for (i = 0; i < len; i++) {
		unsigned char c = s[i];

		/* RFC 7622 section 3.3.1 forbids these on top of PRECIS. */
		if (jid_ctl(c) || c == ' ' || strchr("\"&'/:<>@", c) != NULL)
			return "forbidden character in localpart";
	}
	return NULL;
}

/* "[v6]" literals: the brackets are kept, as RFC 7622 section 3.2 says. */
static const char *
jid_check_ip6(const char *s, size_t len)
{
	struct in6_addr	 a;
	char		 buf[INET6_ADDRSTRLEN + 1];

	if (len < 3 || s[len - 1] != ']' || len - 2 >= sizeof(buf))
		return "invalid IPv6 literal in domain";
	memcpy(buf, s + 1, len - 2);
	buf[len - 2] = '\0';
	if (inet_pton(AF_INET6, buf, &a) != 1)
		return "invalid IPv6 literal in domain";
	return NULL;
}

/*
 * Host names (and dotted IPv4, which passes the same test): non-empty
 * labels of at most 63 bytes, ASCII letters, digits, '-' and '_', plus any
 * non-ASCII UTF-8 for internationalized names.
 */
static const char *
jid_check_labels(const char *s, size_t len)
{
	size_t	i, label = 0;

	for (i = 0; i < len; i++) {
		unsigned char c = s[i];

		if (c == '.') {
			if (label == 0)
				return "empty label in domain";
			label = 0;
			continue;
		}
		if (++label > JID_LABEL_MAX)
			return "domain label too long";
		if (c >= 0x80 || (c >= 'a' && c <= 'z') ||
		    (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_')
			continue;
		return "invalid character in domain";
	}
	if (label == 0)
		return "empty label in domain";
	return NULL;
}

static const char *
jid_check_domain(const char *s, size_t len)
{
	if (len == 0)
		return "empty domain";
	if (len > JID_PART_MAX)
		return "domain too long";
	if (s[0] == '[')
		return jid_check_ip6(s, len);
	return jid_check_labels(s, len);
}

static const char *
jid_check_resource(const char *s, size_t len)
{
	size_t	i;

	if (len == 0)
		return "empty resource";
	if (len > JID_PART_MAX)
		return "resource too long";
	for (i = 0; i < len; i++)
		if (jid_ctl((unsigned char)s[i]))
			return "control character in resource";
	return NULL;
}

static char *
jid_lower(const char *s, size_t len)
{
	char	*p;
	size_t	 i;

	p = xstrndup(s, len);
	for (i = 0; i < len; i++)
		if (p[i] >= 'A' && p[i] <= 'Z')
			p[i] += 'a' - 'A';
	return p;
}

int
jid_parse(const char *s, struct jid *j, const char **errstr)
{
	const char	*slash, *at, *dom, *err;
	size_t		 len, llen = 0, dlen;

	memset(j, 0, sizeof(*j));
	len = strlen(s);
	if (len == 0) {
		*errstr = "empty JID";
		return -1;
	}
	if (!utf8_valid(s, len)) {
		*errstr = "invalid UTF-8";
		return -1;
	}
	/* The resource may hold '@' and '/': split it off first. */
	slash = memchr(s, '/', len);
	dlen = slash != NULL ? (size_t)(slash - s) : len;
	at = memchr(s, '@', dlen);
	dom = s;
	if (at != NULL) {
		llen = at - s;
		dom = at + 1;
		dlen -= llen + 1;
		if ((err = jid_check_local(s, llen)) != NULL)
			goto fail;
	}
	if (dlen > 1 && dom[dlen - 1] == '.')
		dlen--;
	if ((err = jid_check_domain(dom, dlen)) != NULL)
		goto fail;
	if (slash != NULL && (err = jid_check_resource(slash + 1,
	    len - (slash + 1 - s))) != NULL)
		goto fail;

	if (at != NULL)
		j->local = xstrndup(s, llen);
	j->domain = jid_lower(dom, dlen);
	if (slash != NULL)
		j->resource = xstrdup(slash + 1);
	*errstr = NULL;
	return 0;
fail:
	*errstr = err;
	return -1;
}

void
jid_clear(struct jid *j)
{
	free(j->local);
	free(j->domain);
	free(j->resource);
	memset(j, 0, sizeof(*j));
}

char *
jid_bare(const struct jid *j)
{
	char	*s;

	if (j->local != NULL)
		xasprintf(&s, "%s@%s", j->local, j->domain);
	else
		s = xstrdup(j->domain);
	return s;
}

char *
jid_full(const struct jid *j)
{
	char	*bare, *s;

	bare = jid_bare(j);
	if (j->resource == NULL)
		return bare;
	xasprintf(&s, "%s/%s", bare, j->resource);
	free(bare);
	return s;
}
