/*
 * test_jid.c: JID parsing, normalisation, limits and the bare/full forms.
 */
#include "compat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jid.h"
#include "tap.h"

static void	good(const char *, const char *, const char *, const char *);
static void	bad(const char *, const char *, const char *);
static void	forms(void);
static void	limits(void);

/* s parses into the given parts. */
static void
good(const char *s, const char *local, const char *domain,
    const char *resource)
{
	struct jid	 j;
	const char	*errstr = "unset";

	if (!ok(jid_parse(s, &j, &errstr) == 0, "parse '%s'", s)) {
		diag("error: %s", errstr);
		return;
	}
	ok(errstr == NULL, "'%s': errstr cleared", s);
	is_str(j.local, local, "'%s': localpart", s);
	is_str(j.domain, domain, "'%s': domain", s);
	is_str(j.resource, resource, "'%s': resource", s);
	jid_clear(&j);
	ok(j.local == NULL && j.domain == NULL && j.resource == NULL,
	    "'%s': cleared", s);
}

/* s is rejected with the message want, and j is left empty. */
static void
bad(const char *s, const char *want, const char *what)
{
	struct jid	 j;
	const char	*errstr = NULL;

	memset(&j, 0xa5, sizeof(j));
	ok(jid_parse(s, &j, &errstr) == -1, "reject %s", what);
	is_str(errstr, want, "%s: message", what);
	ok(j.local == NULL && j.domain == NULL && j.resource == NULL,
	    "%s: j cleared", what);
}

static void
forms(void)
{
	struct jid	 j;
	const char	*errstr;
	char		*s;

	jid_parse("Bot@Example.ORG/res/with@/slash", &j, &errstr);
	s = jid_bare(&j);
	is_str(s, "Bot@example.org", "bare keeps localpart case");
	free(s);
	s = jid_full(&j);
	is_str(s, "Bot@example.org/res/with@/slash", "full");
	free(s);
	jid_clear(&j);

	jid_parse("example.org", &j, &errstr);
	s = jid_bare(&j);
	is_str(s, "example.org", "bare of a domain JID");
	free(s);
	s = jid_full(&j);
	is_str(s, "example.org", "full without resource is bare");
	free(s);
	jid_clear(&j);

	jid_parse("example.org/r", &j, &errstr);
	s = jid_full(&j);
	is_str(s, "example.org/r", "domain/resource");
	free(s);
	jid_clear(&j);
	jid_clear(&j);
	ok(1, "jid_clear twice is harmless");
}

static void
limits(void)
{
	char	buf[4096], local[1024];
	char	label[64];

	memset(local, 'a', 1023);
	local[1023] = '\0';
	snprintf(buf, sizeof(buf), "%s@example.org", local);
	good(buf, local, "example.org", NULL);
	memset(buf, 'a', 1024);
	strcpy(buf + 1024, "@example.org");
	bad(buf, "localpart too long", "1024-byte localpart");

	strcpy(buf, "u@example.org/");
	memset(buf + 14, 'r', 1023);
	buf[14 + 1023] = '\0';
	{
		struct jid	 j;
		const char	*errstr;

		ok(jid_parse(buf, &j, &errstr) == 0, "1023-byte resource");
		ok(j.resource != NULL && strlen(j.resource) == 1023,
		    "resource kept whole");
		jid_clear(&j);
	}
	buf[14 + 1023] = 'r';
	buf[14 + 1024] = '\0';
	bad(buf, "resource too long", "1024-byte resource");

	/* 16 labels of 63 bytes plus dots: 1023 bytes, then one more. */
	memset(label, 'd', 63);
	label[63] = '\0';
	buf[0] = '\0';
	for (int i = 0; i < 16; i++) {
		strcat(buf, label);
		if (i < 15)
			strcat(buf, ".");
	}
	ok(strlen(buf) == 1023, "domain of 1023 bytes built");
	{
		struct jid	 j;
		const char	*errstr;

		ok(jid_parse(buf, &j, &errstr) == 0, "1023-byte domain");
		jid_clear(&j);
	}
	strcat(buf, ".e");
	bad(buf, "domain too long", "1025-byte domain");
	strcpy(buf, "u@");
	memset(buf + 2, 'd', 64);
	strcpy(buf + 66, ".org");
	bad(buf, "domain label too long", "64-byte label");
}

int
main(void)
{
	good("user@example.org", "user", "example.org", NULL);
	good("user@example.org/res", "user", "example.org", "res");
	good("example.org", NULL, "example.org", NULL);
	good("example.org/res", NULL, "example.org", "res");
	good("User@EXAMPLE.Org", "User", "example.org", NULL);
	good("user@example.org.", "user", "example.org", NULL);
	good("user@example.org./r", "user", "example.org", "r");
	good("user@[::1]", "user", "[::1]", NULL);
	good("user@[2001:DB8::1]/x", "user", "[2001:db8::1]", "x");
	good("user@192.0.2.1", "user", "192.0.2.1", NULL);
	good("user@localhost", "user", "localhost", NULL);
	good("u@xn--bcher-kva.example", "u", "xn--bcher-kva.example", NULL);
	good("jürgen@bücher.example", "jürgen", "bücher.example", NULL);
	good("u@example.org/a b@c/d", "u", "example.org", "a b@c/d");
	good("u@host_with-dash.example", "u", "host_with-dash.example", NULL);
	good("a.b+c=d@example.org", "a.b+c=d", "example.org", NULL);

	bad("", "empty JID", "empty string");
	bad("@example.org", "empty localpart", "empty localpart");
	bad("user@", "empty domain", "empty domain");
	bad("user@/r", "empty domain", "empty domain with resource");
	bad("/r", "empty domain", "resource only");
	bad("user@example.org/", "empty resource", "empty resource");
	bad("us er@example.org", "forbidden character in localpart", "space");
	bad("us\"er@example.org", "forbidden character in localpart", "quote");
	bad("us&er@example.org", "forbidden character in localpart", "&");
	bad("us'er@example.org", "forbidden character in localpart", "'");
	bad("us:er@example.org", "forbidden character in localpart", ":");
	bad("us<er@example.org", "forbidden character in localpart", "<");
	bad("us>er@example.org", "forbidden character in localpart", ">");
	bad("us\ter@example.org", "forbidden character in localpart", "tab");
	bad("a@b@example.org", "invalid character in domain", "two '@'");
	bad("user@exa mple.org", "invalid character in domain",
	    "space in domain");
	bad("user@exa\x01mple.org", "invalid character in domain",
	    "control in domain");
	bad("user@example.org:5222", "invalid character in domain",
	    "port in domain");
	bad("user@example..org", "empty label in domain", "empty label");
	bad("user@.example.org", "empty label in domain", "leading dot");
	bad("user@.", "empty label in domain", "dot domain");
	bad("user@example.org..", "empty label in domain", "two trailing dots");
	bad("user@[::1", "invalid IPv6 literal in domain", "open bracket");
	bad("user@[nothex]", "invalid IPv6 literal in domain", "bad IPv6");
	bad("user@[]", "invalid IPv6 literal in domain", "empty brackets");
	bad("user@example.org/a\nb", "control character in resource",
	    "newline in resource");
	bad("user@example.org/a\x7f", "control character in resource",
	    "DEL in resource");
	bad("user@exam\xffple.org", "invalid UTF-8", "invalid UTF-8");
	bad("us\xc0\xafr@example.org", "invalid UTF-8", "overlong UTF-8");

	forms();
	limits();
	return done_testing();
}
