/*
 * fuzz_ctlframe.c: libFuzzer target for the control protocol's payload
 * framing (ctl_frame) and the send request parser (ctl_parse_send), fed
 * the way control.c feeds them: a stream of requests in one buffer, each
 * frame cut off and parsed in turn.  Checks that every frame lies inside
 * the input and that accepted requests keep ctlproto.h's promises.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctlproto.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void	fail(const char *, ...)
		    __attribute__((__noreturn__, __format__(printf, 1, 2)));

static void
fail(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	fputs("fuzz_ctlframe: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	abort();
}

static void
check_send(const char *buf, const struct ctl_frame *f)
{
	struct ctl_send	 s;
	const char	*code, *errstr;
	char		*line;
	int		 i;

	if ((line = malloc(f->linelen + 1)) == NULL)
		abort();
	memcpy(line, buf, f->linelen);
	line[f->linelen] = '\0';
	if (ctl_parse_send(line, f->linelen, buf + f->payload_off,
	    f->payload_len, &s, &code, &errstr) == -1) {
		if (code == NULL || errstr == NULL)
			fail("send refused without a code");
		free(line);
		return;
	}
	if (s.nto < 1 || s.nto > CTL_MAX_RCPT)
		fail("%d recipients", s.nto);
	for (i = 0; i < s.nto; i++)
		if (s.to[i] < line || s.to[i] >= line + f->linelen + 1 ||
		    *s.to[i] == '\0' || strchr(s.to[i], ' ') != NULL ||
		    strncmp(s.to[i], "--", 2) == 0)
			fail("bad recipient %d", i);
	if (strcmp(s.type, "chat") != 0 && strcmp(s.type, "normal") != 0 &&
	    strcmp(s.type, "headline") != 0)
		fail("type %s", s.type);
	if (s.wait == CTL_WAIT_RECEIVED && !s.receipt)
		fail("wait received without a receipt request");
	if (s.body != buf + f->payload_off || s.bodylen != f->payload_len ||
	    !ctl_text_valid(s.body, s.bodylen) || s.bodylen == 0)
		fail("body not the checked payload");
	free(line);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctl_frame	 f;
	const char		*code, *errstr;
	char			*buf;
	size_t			 off = 0;
	int			 r;

	if ((buf = malloc(size ? size : 1)) == NULL)
		abort();
	memcpy(buf, data, size);
	while (off < size) {
		r = ctl_frame(buf + off, size - off, &f, &code, &errstr);
		if (r == -1) {
			if (code == NULL || errstr == NULL)
				fail("error without a code");
			break;
		}
		if (r == 0)
			break;
		if (r != 1 || f.framelen == 0 || f.framelen > size - off ||
		    f.framelen > CTL_FRAME_MAX || f.linelen >= CTL_LINE_MAX)
			fail("frame of %zu bytes at %zu of %zu", f.framelen,
			    off, size);
		if (f.has_payload) {
			if (f.payload_len > CTL_PAYLOAD_MAX ||
			    f.payload_off + f.payload_len + 1 != f.framelen ||
			    buf[off + f.framelen - 1] != '\n')
				fail("payload outside its frame");
			check_send(buf + off, &f);
		} else if (buf[off + f.framelen - 1] != '\n')
			fail("line frame without its newline");
		off += f.framelen;
	}
	free(buf);
	return 0;
}
