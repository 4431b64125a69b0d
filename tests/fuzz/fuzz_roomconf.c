/*
 * fuzz_roomconf.c: libFuzzer target for the group-chat lines of
 * xmppd.conf(5) (roomconf.c).  The input is the body of a config file
 * after a fixed "jid" line, so every byte lands in room, nick and room_*
 * keys (or is refused by config.c around them).  An accepted config must
 * hold rooms that are checked (lower-case room@service, a nick each),
 * print, parse again and print the same; every line is also read as a
 * "join" argument (ROOM[/NICK]).  A refusal must name the file and line.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "roomconf.h"

#define CONF_NAME	"/etc/xmppd/fuzz.conf"
#define CONF_HEAD	"jid = bot@example.org\n"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void	 fail(const char *, ...)
		    __attribute__((__noreturn__, __format__(printf, 1, 2)));
static char	*print_mem(const struct config *, size_t *);
static void	 check_rooms(const struct roomconf *);
static void	 check_refs(const uint8_t *, size_t);

static void
fail(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	fputs("fuzz_roomconf: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	abort();
}

static char *
print_mem(const struct config *c, size_t *lenp)
{
	FILE	*f;
	char	*buf = NULL;

	if ((f = open_memstream(&buf, lenp)) == NULL)
		abort();
	config_print(c, f);
	if (fclose(f) != 0)
		abort();
	return buf;
}

static void
check_rooms(const struct roomconf *rc)
{
	const char	*p;
	size_t		 i;

	if (rc == NULL)
		return;
	if (rc->nrooms > ROOMCONF_MAX_ROOMS)
		fail("%zu rooms", rc->nrooms);
	if (rc->ping_interval != 0 && rc->ping_interval <= rc->ping_timeout)
		fail("interval %u <= timeout %u", rc->ping_interval,
		    rc->ping_timeout);
	for (i = 0; i < rc->nrooms; i++) {
		if (rc->rooms[i].nick == NULL || *rc->rooms[i].nick == '\0')
			fail("room %s without a nick", rc->rooms[i].jid);
		if (strchr(rc->rooms[i].jid, '@') == NULL ||
		    strchr(rc->rooms[i].jid, '/') != NULL)
			fail("room JID %s", rc->rooms[i].jid);
		for (p = rc->rooms[i].jid; *p != '\0'; p++)
			if (*p >= 'A' && *p <= 'Z')
				fail("room JID %s not lower case",
				    rc->rooms[i].jid);
		if (roomconf_find(rc, rc->rooms[i].jid) != &rc->rooms[i])
			fail("room %s not found", rc->rooms[i].jid);
	}
}

/* Each line as a "join" argument: never a crash, a clean answer. */
static void
check_refs(const uint8_t *data, size_t size)
{
	const char	*errstr;
	char		*buf, *line, *save, *jid, *nick;

	buf = strndup((const char *)data, size);
	if (buf == NULL)
		abort();
	for (line = strtok_r(buf, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (roomconf_parse_ref(line, &jid, &nick, &errstr) == -1) {
			if (errstr == NULL)
				fail("ref refused without a reason");
			continue;
		}
		if (jid == NULL || strchr(jid, '@') == NULL)
			fail("ref accepted without a room");
		free(jid);
		free(nick);
	}
	free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config	*c, *c2;
	char		*buf, *cause = NULL, *out, *out2;
	size_t		 len, len2, hl = strlen(CONF_HEAD);

	if (size > 65536)
		return 0;
	if ((buf = malloc(hl + size)) == NULL)
		abort();
	memcpy(buf, CONF_HEAD, hl);
	memcpy(buf + hl, data, size);
	c = config_parse(CONF_NAME, buf, hl + size, &cause);
	free(buf);
	check_refs(data, size);
	if (c == NULL) {
		if (cause == NULL || strncmp(cause, CONF_NAME ":",
		    strlen(CONF_NAME ":")) != 0)
			fail("rejected without a proper cause: %s",
			    cause != NULL ? cause : "(null)");
		free(cause);
		return 0;
	}
	check_rooms(c->rooms);
	out = print_mem(c, &len);
	c2 = config_parse(CONF_NAME, out, len, &cause);
	if (c2 == NULL)
		fail("printed config does not parse again: %s\nprinted:\n%s",
		    cause, out);
	out2 = print_mem(c2, &len2);
	if (len != len2 || memcmp(out, out2, len) != 0)
		fail("printed config does not print the same\nfirst:\n%s\n"
		    "second:\n%s", out, out2);
	free(out);
	free(out2);
	config_free(c2);
	config_free(c);
	return 0;
}
