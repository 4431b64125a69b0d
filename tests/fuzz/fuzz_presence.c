/*
 * fuzz_presence.c: libFuzzer target for presence_saved_parse() (util.c),
 * the reader of the presence saved next to a kept XEP-0198 session.  The
 * input gets its own heap copy of exactly its size, so ASan sees any read
 * past it.  An accepted presence must be what util.h promises: a valid
 * show other than "available" (or none), a status that is XML text (or
 * none), and written out again it must parse to the same.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void	 fail(const char *, ...)
		    __attribute__((__noreturn__, __format__(printf, 1, 2)));

static void
fail(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	fputs("fuzz_presence: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	abort();
}

static int
same(const char *a, const char *b)
{
	return (a == NULL || b == NULL) ? a == b : strcmp(a, b) == 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*buf, *show, *status, *again = NULL, *show2, *status2;
	int	 n;

	buf = malloc(size ? size : 1);
	if (buf == NULL)
		abort();
	memcpy(buf, data, size);
	if (presence_saved_parse(buf, size, &show, &status) == -1) {
		if (show != NULL || status != NULL)
			fail("refused, yet a result was returned");
		free(buf);
		return 0;
	}
	if (show != NULL && (!presence_show_valid(show) ||
	    strcmp(show, "available") == 0))
		fail("accepted show '%s'", show);
	if (status != NULL && (status[0] == '\0' ||
	    !xml_text_valid(status, strlen(status), NULL, 0)))
		fail("accepted a status that is not XML text");
	n = asprintf(&again, "%s\n%s", show ? show : "available",
	    status ? status : "");
	if (n < 0)
		abort();
	if (presence_saved_parse(again, (size_t)n, &show2, &status2) == -1 ||
	    !same(show, show2) || !same(status, status2))
		fail("what was accepted does not read back the same");
	free(show2);
	free(status2);
	free(again);
	free(show);
	free(status);
	free(buf);
	return 0;
}
