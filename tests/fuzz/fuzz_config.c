/*
 * fuzz_config.c: libFuzzer target for the xmppd.conf(5) parser.  The
 * input is a config file, parsed from memory with config_parse().  An
 * accepted config is printed to /dev/null, and once more into memory:
 * what config_print() writes must parse again and print the same (the
 * property tests/unit/test_config.c checks for one config).  A rejected
 * one must come with a "NAME:LINE: " cause.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "util.h"

#define CONF_NAME	"/etc/xmppd/fuzz.conf"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void	 fail(const char *, ...)
		    __attribute__((__noreturn__, __format__(printf, 1, 2)));
static char	*print_mem(const struct config *, size_t *);

static void
fail(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	fputs("fuzz_config: ", stderr);
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

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE	*devnull;
	struct config	*c, *c2;
	char		*cause = NULL, *out, *out2;
	const char	*pw;
	size_t		 len, len2;

	if (devnull == NULL && (devnull = fopen("/dev/null", "w")) == NULL)
		abort();
	c = config_parse(CONF_NAME, (const char *)data, size, &cause);
	if (c == NULL) {
		if (cause == NULL || strncmp(cause, CONF_NAME ":",
		    strlen(CONF_NAME ":")) != 0)
			fail("rejected without a proper cause: %s",
			    cause != NULL ? cause : "(null)");
		free(cause);
		return 0;
	}
	if (cause != NULL)
		fail("accepted with a cause: %s", cause);
	if (c->jid.domain == NULL || c->control_socket == NULL ||
	    c->state_dir == NULL)
		fail("accepted without jid, control_socket or state_dir");
	if (c->reconnect_min > c->reconnect_max)
		fail("reconnect_min %u > reconnect_max %u", c->reconnect_min,
		    c->reconnect_max);
	if (c->priority < -128 || c->priority > 127)
		fail("priority %d", c->priority);
	/* Text that goes into the presence stanza is XML text. */
	if (c->presence_status != NULL && !xml_text_valid(c->presence_status,
	    strlen(c->presence_status), NULL, 0))
		fail("presence_status is not XML text");

	config_print(c, devnull);
	fflush(devnull);

	out = print_mem(c, &len);
	/* The password itself is never printed, only that it is set. */
	if ((pw = strstr(out, "\npassword = ")) != NULL &&
	    strncmp(pw, "\npassword = (set)\n", 18) != 0)
		fail("password printed:\n%s", out);
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
