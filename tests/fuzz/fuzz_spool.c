/*
 * fuzz_spool.c: libFuzzer target for the spool file parser
 * (spool_decode).  The input is a whole file, in a heap copy of exactly
 * its size.  A file that decodes must satisfy the limits spool.h states,
 * and must encode back to the same bytes (the format has one spelling).
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spool.h"
#include "util.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void	fail(const char *, ...)
		    __attribute__((__noreturn__, __format__(printf, 1, 2)));

static void
fail(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	fputs("fuzz_spool: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct spool_msg	 m;
	const char		*err = NULL;
	char			*buf, *again;
	size_t			 len, i;

	if (size > 0 && (data[0] & 1)) {
		char	hdr[64];
		int	hl;

		hl = snprintf(hdr, sizeof(hdr), "xmppd-spool 1 %zu %08x\n",
		    size - 1, (unsigned int)spool_crc32(data + 1, size - 1));
		if ((buf = malloc((size_t)hl + size - 1)) == NULL)
			abort();
		memcpy(buf, hdr, (size_t)hl);
		memcpy(buf + hl, data + 1, size - 1);
		size = (size_t)hl + size - 1;
	} else {
		if ((buf = malloc(size ? size : 1)) == NULL)
			abort();
		memcpy(buf, data, size);
	}
	if (spool_decode(buf, size, &m, &err) == -1) {
		if (err == NULL || strlen(err) > 100)
			fail("failure without a short reason");
		if (m.id != NULL || m.to != NULL || m.body != NULL)
			fail("failure left fields allocated");
		free(buf);
		return 0;
	}
	if (m.id == NULL || *m.id == '\0' || strlen(m.id) > SPOOL_MAX_ID)
		fail("bad id accepted");
	if (!spool_valid_type(m.type))
		fail("bad type accepted");
	if (m.nto == 0 || m.nto > SPOOL_MAX_RCPT)
		fail("%zu recipients accepted", m.nto);
	for (i = 0; i < m.nto; i++)
		if (*m.to[i] == '\0' || strlen(m.to[i]) > SPOOL_MAX_JID ||
		    strpbrk(m.to[i], " \n\t") != NULL)
			fail("bad recipient accepted");
	if (m.bodylen > SPOOL_MAX_BODY || !utf8_valid(m.body, m.bodylen) ||
	    m.body[m.bodylen] != '\0')
		fail("bad body accepted");
	if (m.filesize != size)
		fail("filesize %zu for %zu bytes", m.filesize, size);
	again = spool_encode(&m, &len);
	if (len != size || memcmp(again, buf, size) != 0)
		fail("re-encoding differs");
	free(again);
	spool_msg_free(&m);
	free(buf);
	return 0;
}
