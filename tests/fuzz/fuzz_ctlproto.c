/*
 * fuzz_ctlproto.c: libFuzzer target for the control protocol parser
 * (ctlproto.c): one input is a request line for ctl_parse_request(), a
 * reply line for ctl_parse_reply() and a string for ctl_json_quote().
 * Each gets its own heap copy of exactly the size the API asks for, so
 * ASan sees any access past it.  Results are checked against what
 * ctlproto.h promises.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctlproto.h"
#include "util.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void	 fail(const char *, ...)
		    __attribute__((__noreturn__, __format__(printf, 1, 2)));
static int	 in_buf(const char *, const char *, size_t);
static void	 check_request(const uint8_t *, size_t);
static void	 check_reply(const uint8_t *, size_t);
static void	 check_json(const uint8_t *, size_t);

static void
fail(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	fputs("fuzz_ctlproto: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	abort();
}

/* p is a NUL-terminated string inside buf[0..size). */
static int
in_buf(const char *p, const char *buf, size_t size)
{
	return p >= buf && p < buf + size && memchr(p, '\0',
	    (size_t)(buf + size - p)) != NULL;
}

static void
check_request(const uint8_t *data, size_t size)
{
	const struct ctl_cmd_info	*ci;
	struct ctl_request		 req;
	const char			*code = NULL, *errstr = NULL;
	char				*line;
	int				 i, j, r;

	/* line[len] must be writable: exactly one byte more. */
	if ((line = malloc(size + 1)) == NULL)
		abort();
	memcpy(line, data, size);
	line[size] = '\0';
	r = ctl_parse_request(line, size, &req, &code, &errstr);
	if (r != 0) {
		if (r != -1 || code == NULL || errstr == NULL)
			fail("failure %d without code or message", r);
		if (strlen(errstr) > 200)
			fail("error message of %zu bytes", strlen(errstr));
		for (i = 0; errstr[i] != '\0'; i++)
			if ((unsigned char)errstr[i] < 0x20 ||
			    errstr[i] == 0x7f)
				fail("control character in error message");
		free(line);
		return;
	}
	if (code != NULL || errstr != NULL)
		fail("success with an error code");
	if ((ci = ctl_cmd_info(req.cmd)) == NULL || req.cmd == CTL_NONE)
		fail("success with command %d", (int)req.cmd);
	if (req.argc < ci->min_args || req.argc > CTL_MAX_ARGS ||
	    req.argc > ci->max_args + (ci->rest ? 1 : 0))
		fail("%s: %d arguments", ci->name, req.argc);
	for (i = 0; i < req.argc; i++) {
		if (!in_buf(req.argv[i], line, size + 1))
			fail("argv[%d] outside the line", i);
		if (*req.argv[i] == '\0')
			fail("argv[%d] empty", i);
		/* Words have no spaces; only the free text may. */
		if ((i < req.argc - 1 || !ci->rest || i < ci->max_args) &&
		    strchr(req.argv[i], ' ') != NULL)
			fail("argv[%d] \"%s\" holds a space", i, req.argv[i]);
		for (j = 0; req.argv[i][j] != '\0'; j++)
			if (((unsigned char)req.argv[i][j] < 0x20 &&
			    req.argv[i][j] != '\t') || req.argv[i][j] == 0x7f)
				fail("control character in argv[%d]", i);
		/* Nothing XML forbids gets through to a stanza. */
		if (!xml_text_valid(req.argv[i], strlen(req.argv[i]), NULL,
		    0))
			fail("argv[%d] is not XML text", i);
	}
	/* A presence status has no blanks at either end. */
	if (req.cmd == CTL_PRESENCE && req.argc == 2) {
		j = (int)strlen(req.argv[1]);
		if (strchr(" \t", req.argv[1][0]) != NULL ||
		    strchr(" \t", req.argv[1][j - 1]) != NULL)
			fail("presence status \"%s\" not trimmed",
			    req.argv[1]);
	}
	for (; i < CTL_MAX_ARGS; i++)
		if (req.argv[i] != NULL)
			fail("argv[%d] set beyond argc", i);
	free(line);
}

static void
check_reply(const uint8_t *data, size_t size)
{
	char	*line, *code, *text;
	size_t	 len;
	int	 r;

	if ((line = malloc(size + 1)) == NULL)
		abort();
	memcpy(line, data, size);
	line[size] = '\0';
	len = strlen(line);
	r = ctl_parse_reply(line, &code, &text);
	switch (r) {
	case 'D':
	case 'O':
	case '*':
		if (code != NULL || text == NULL || !in_buf(text, line,
		    len + 1))
			fail("reply '%c': bad code or text", r);
		break;
	case 'E':
		if (code == NULL || text == NULL ||
		    !in_buf(code, line, len + 1) ||
		    !in_buf(text, line, len + 1) || *code == '\0' ||
		    strchr(code, ' ') != NULL)
			fail("reply 'E': bad code or text");
		break;
	case -1:
		break;
	default:
		fail("ctl_parse_reply returned %d", r);
	}
	free(line);
}

/* The quoted string is a JSON string literal that decodes to the input. */
static void
check_json(const uint8_t *data, size_t size)
{
	char		*s, *q, *dec, *d;
	const char	*p;
	unsigned int	 v;
	size_t		 len;
	int		 i;

	if ((s = malloc(size + 1)) == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	len = strlen(s);
	q = ctl_json_quote(s);
	if (q[0] != '"' || strlen(q) < 2 || q[strlen(q) - 1] != '"')
		fail("JSON string not in quotes: %s", q);
	if ((dec = malloc(strlen(q))) == NULL)
		abort();
	d = dec;
	for (p = q + 1; *p != '"'; p++) {
		if ((unsigned char)*p < 0x20)
			fail("raw control character in JSON string");
		if (*p != '\\') {
			*d++ = *p;
			continue;
		}
		switch (*++p) {
		case '"':
		case '\\':
		case '/':
			*d++ = *p;
			break;
		case 'n':
			*d++ = '\n';
			break;
		case 'r':
			*d++ = '\r';
			break;
		case 't':
			*d++ = '\t';
			break;
		case 'b':
			*d++ = '\b';
			break;
		case 'f':
			*d++ = '\f';
			break;
		case 'u':
			for (v = 0, i = 1; i <= 4; i++) {
				if (p[i] >= '0' && p[i] <= '9')
					v = v * 16 + (unsigned int)(p[i] - '0');
				else if (p[i] >= 'a' && p[i] <= 'f')
					v = v * 16 + (unsigned int)(p[i] - 'a' + 10);
				else
					fail("bad \\u escape in %s", q);
			}
			if (v == 0 || v > 0x7f)
				fail("unexpected \\u%04x", v);
			*d++ = (char)v;
			p += 4;
			break;
		default:
			fail("bad escape in JSON string %s", q);
		}
	}
	if (p[1] != '\0')
		fail("text after the closing quote: %s", q);
	if ((size_t)(d - dec) != len || memcmp(dec, s, len) != 0)
		fail("JSON string does not decode to the input");
	free(dec);
	free(q);
	free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_request(data, size);
	check_reply(data, size);
	check_json(data, size);
	return 0;
}
