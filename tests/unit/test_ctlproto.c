/*
 * test_ctlproto.c: the control protocol parser and quoting.  The daemon
 * feeds it lines from any local user, so the hostile cases matter as much
 * as the table.
 */
#include "compat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctlproto.h"
#include "tap.h"
#include "xmalloc.h"

static int	parse(const char *, struct ctl_request *, const char **,
		    const char **);
static void	test_table(void);
static void	test_commands(void);
static void	test_args(void);
static void	test_rest(void);
static void	test_bad_input(void);
static void	test_unknown(void);
static void	test_reply(void);
static void	test_json(void);
static void	test_frame(void);
static void	test_send(void);

static char	linebuf[CTL_LINE_MAX * 2 + 1];

/* Parse a copy, as the daemon does with its read buffer. */
static int
parse(const char *s, struct ctl_request *req, const char **code,
    const char **errstr)
{
	size_t	len = strlen(s);

	memcpy(linebuf, s, len + 1);
	return ctl_parse_request(linebuf, len, req, code, errstr);
}

static void
test_table(void)
{
	const struct ctl_cmd_info	*ci;
	int				 n = 0, conn = 0;

	for (ci = ctl_cmds; ci->name != NULL; ci++) {
		n++;
		conn += ci->changes_conn;
		ok(ctl_cmd_info(ci->cmd) == ci, "info(%s)", ci->name);
		ok(ci->max_args + ci->rest < CTL_MAX_ARGS, "%s fits argv",
		    ci->name);
	}
	is_int(n, CTL_CMD_MAX - 1, "every command is in the table");
	is_int(conn, 8, "eight commands change the connection");
	ok(ctl_cmd_lookup("send")->rest, "send takes free text");
	ok(ctl_cmd_lookup("passwd")->changes_conn, "passwd is serialized");
	ok(!ctl_cmd_lookup("status")->changes_conn, "status is not");
	ok(ctl_cmd_lookup("Status") == NULL, "names are case-sensitive");
	ok(ctl_cmd_info(CTL_NONE) == NULL, "no info for CTL_NONE");
}

static void
test_commands(void)
{
	static const struct {
		const char	*line;
		enum ctl_cmd	 cmd;
		int		 argc;
	} t[] = {
		{ "status", CTL_STATUS, 0 },
		{ "register", CTL_REGISTER, 0 },
		{ "reauth", CTL_REAUTH, 0 },
		{ "reconnect", CTL_RECONNECT, 0 },
		{ "connect", CTL_CONNECT, 0 },
		{ "disconnect", CTL_DISCONNECT, 0 },
		{ "presence away", CTL_PRESENCE, 1 },
		{ "presence dnd in a meeting", CTL_PRESENCE, 2 },
		{ "send a@b/c hi", CTL_SEND, 2 },
		{ "reload", CTL_RELOAD, 0 },
		{ "events", CTL_EVENTS, 0 },
		{ "wait-online", CTL_WAIT_ONLINE, 0 },
		{ "passwd s3cret", CTL_PASSWD, 1 },
		{ "unregister --yes", CTL_UNREGISTER, 1 },
		{ "version", CTL_VERSION_CMD, 0 },
		{ "help", CTL_HELP, 0 },
		{ "  status  ", CTL_STATUS, 0 },
		{ "status\r", CTL_STATUS, 0 },
	};
	struct ctl_request	 req;
	const char		*code, *errstr;
	size_t			 i;
	int			 r;

	for (i = 0; i < nitems(t); i++) {
		r = parse(t[i].line, &req, &code, &errstr);
		ok(r == 0 && req.cmd == t[i].cmd && req.argc == t[i].argc,
		    "parse \"%s\"", t[i].line);
		if (r != 0)
			diag("%s: %s", code, errstr);
	}
	parse("presence xa", &req, &code, &errstr);
	is_str(req.argv[0], "xa", "SHOW argument");
	parse("unregister --yes", &req, &code, &errstr);
	is_str(req.argv[0], "--yes", "--yes argument");
}

static void
test_args(void)
{
	static const struct {
		const char	*line;
		const char	*code;
		const char	*err;
	} t[] = {
		{ "status now", CTL_ERR_USAGE, "usage: status" },
		{ "send", CTL_ERR_USAGE, "usage: send JID TEXT" },
		{ "send a@b", CTL_ERR_USAGE, "usage: send JID TEXT" },
		{ "send a@b   ", CTL_ERR_USAGE, "usage: send JID TEXT" },
		{ "presence", CTL_ERR_USAGE, "usage: presence SHOW [TEXT]" },
		{ "presence busy", CTL_ERR_USAGE,
		    "SHOW must be one of available, away, chat, dnd, xa" },
		{ "passwd", CTL_ERR_USAGE, "usage: passwd NEWPASSWORD" },
		{ "unregister", CTL_ERR_USAGE,
		    "refusing to unregister without --yes" },
		{ "unregister yes", CTL_ERR_USAGE,
		    "refusing to unregister without --yes" },
		{ "unregister --yes now", CTL_ERR_USAGE,
		    "usage: unregister --yes" },
		{ "reload x", CTL_ERR_USAGE, "usage: reload" },
		{ "", CTL_ERR_USAGE, "empty request" },
		{ "    ", CTL_ERR_USAGE, "empty request" },
	};
	struct ctl_request	 req;
	const char		*code, *errstr;
	size_t			 i;

	for (i = 0; i < nitems(t); i++) {
		is_int(parse(t[i].line, &req, &code, &errstr), -1,
		    "reject \"%s\"", t[i].line);
		is_str(code, t[i].code, "code for \"%s\"", t[i].line);
		is_str(errstr, t[i].err, "message for \"%s\"", t[i].line);
	}
	parse("status now", &req, &code, &errstr);
	is_int(req.cmd, CTL_STATUS, "a usage error still names the command");
}

static void
test_rest(void)
{
	struct ctl_request	 req;
	const char		*code, *errstr;

	is_int(parse("send  a@b/c   hello   wide  world ", &req, &code,
	    &errstr), 0, "send with spaces");
	is_str(req.argv[0], "a@b/c", "JID word");
	is_str(req.argv[1], "hello   wide  world ", "text keeps its spaces");
	is_int(parse("presence chat  tab\there", &req, &code, &errstr), 0,
	    "tab in free text");
	is_str(req.argv[1], "tab\there", "tab kept");
	is_int(parse("passwd pass word  x", &req, &code, &errstr), 0,
	    "passwd with spaces");
	is_str(req.argv[0], "pass word  x", "password is the rest");
	is_int(parse("send a@b \xc3\xa9t\xc3\xa9 \xf0\x9f\x98\x80", &req,
	    &code, &errstr), 0, "UTF-8 text");
	is_str(req.argv[1], "\xc3\xa9t\xc3\xa9 \xf0\x9f\x98\x80",
	    "UTF-8 kept");
	is_int(parse("send a@b hi\r", &req, &code, &errstr), 0, "CR line");
	is_str(req.argv[1], "hi", "trailing CR stripped");

	/* Issue 11 item 10: a status loses its blanks at both ends. */
	is_int(parse("presence chat   padded  ", &req, &code, &errstr), 0,
	    "padded status");
	is_str(req.argv[1], "padded", "status trimmed at both ends");
	is_int(parse("presence chat \t in  side \t", &req, &code, &errstr),
	    0, "status with tabs");
	is_str(req.argv[1], "in  side", "tabs trimmed, inner blanks kept");
	is_int(parse("presence away    ", &req, &code, &errstr), 0,
	    "blank status");
	is_int(req.argc, 1, "blank status is no status");
	ok(req.argv[1] == NULL, "... and argv[1] is cleared");
	is_int(parse("presence away \t", &req, &code, &errstr), 0,
	    "tab-only status");
	ok(req.argc == 1 && req.argv[1] == NULL, "tab-only status is none");
}

static void
test_bad_input(void)
{
	struct ctl_request	 req;
	const char		*code, *errstr;
	char			 buf[CTL_LINE_MAX + 8];
	size_t			 n;

	n = strlcpy(buf, "send a@b ", sizeof(buf));
	memset(buf + n, 'x', CTL_LINE_MAX - 1 - n);
	buf[CTL_LINE_MAX - 1] = '\0';
	is_int(ctl_parse_request(buf, CTL_LINE_MAX - 1, &req, &code,
	    &errstr), 0, "longest line accepted");
	n = strlcpy(buf, "send a@b ", sizeof(buf));
	memset(buf + n, 'x', CTL_LINE_MAX - n);
	buf[CTL_LINE_MAX] = '\0';
	is_int(ctl_parse_request(buf, CTL_LINE_MAX, &req, &code, &errstr),
	    -1, "one byte more rejected");
	is_str(code, CTL_ERR_TOOLONG, "too-long");

	memcpy(buf, "status\0x", 9);
	is_int(ctl_parse_request(buf, 8, &req, &code, &errstr), -1, "NUL");
	is_str(code, CTL_ERR_ENCODING, "NUL is an encoding error");

	is_int(parse("send a@b \xc3(", &req, &code, &errstr), -1,
	    "bad UTF-8");
	is_str(code, CTL_ERR_ENCODING, "bad UTF-8 is an encoding error");
	is_int(parse("send a@b \xed\xa0\x80", &req, &code, &errstr), -1,
	    "surrogate");
	is_int(parse("send a@b \xc0\xaf", &req, &code, &errstr), -1,
	    "overlong");
	is_int(parse("send a@b x\x1b[2J", &req, &code, &errstr), -1,
	    "escape character");
	is_str(code, CTL_ERR_ENCODING, "control is an encoding error");
	is_int(parse("send a@b x\ry", &req, &code, &errstr), -1,
	    "inner CR");

	/* Issue 10 item 2: characters XML forbids, with their position. */
	is_int(parse("presence away x\xef\xbf\xbe", &req, &code, &errstr),
	    -1, "U+FFFE in presence");
	is_str(code, CTL_ERR_ENCODING, "U+FFFE is an encoding error");
	is_str(errstr, "character U+FFFE at byte 15 is not allowed in XML",
	    "U+FFFE: message names the position");
	is_int(parse("send a@b \xef\xbf\xbf", &req, &code, &errstr), -1,
	    "U+FFFF in send");
	is_str(errstr, "character U+FFFF at byte 9 is not allowed in XML",
	    "U+FFFF: message");
	is_int(parse("passwd se\xef\xbf\xbfcret", &req, &code, &errstr), -1,
	    "U+FFFF in passwd");
	is_int(parse("send a@b \xef\xbf\xbd ok", &req, &code, &errstr), 0,
	    "U+FFFD is fine");
}

static void
test_unknown(void)
{
	struct ctl_request	 req;
	const char		*code, *errstr;
	char			 buf[200];

	is_int(parse("frobnicate now", &req, &code, &errstr), -1, "unknown");
	is_str(code, CTL_ERR_UNKNOWN, "unknown code");
	is_str(errstr, "unknown command 'frobnicate'", "unknown message");
	is_int(req.cmd, CTL_NONE, "no command");

	memset(buf, 'A', 100);
	buf[100] = '\0';
	parse(buf, &req, &code, &errstr);
	is_str(errstr, "unknown command "
	    "'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA...'", "echo capped at 32");
	parse("st\xc3\xa4tus", &req, &code, &errstr);
	is_str(errstr, "unknown command 'st??tus'", "non-ASCII masked");
	parse("it's", &req, &code, &errstr);
	is_str(errstr, "unknown command 'it?s'", "quote masked");
	parse("status\t", &req, &code, &errstr);
	is_str(errstr, "unknown command 'status?'", "tab masked");
}

static void
test_reply(void)
{
	char	 line[128], *code, *text;

	strlcpy(line, "* xmppd 1", sizeof(line));
	is_int(ctl_parse_reply(line, &code, &text), '*', "greeting");
	is_str(text, "xmppd 1", "greeting text");
	strlcpy(line, "- state online", sizeof(line));
	is_int(ctl_parse_reply(line, &code, &text), 'D', "data");
	is_str(text, "state online", "data text");
	ok(code == NULL, "data has no code");
	strlcpy(line, "-", sizeof(line));
	is_int(ctl_parse_reply(line, &code, &text), 'D', "empty data");
	is_str(text, "", "empty data text");
	strlcpy(line, "OK", sizeof(line));
	is_int(ctl_parse_reply(line, &code, &text), 'O', "bare OK");
	is_str(text, "", "bare OK text");
	strlcpy(line, "OK online as a@b/c\r", sizeof(line));
	is_int(ctl_parse_reply(line, &code, &text), 'O', "OK with text");
	is_str(text, "online as a@b/c", "OK text without CR");
	strlcpy(line, "ERR failed no route to host", sizeof(line));
	is_int(ctl_parse_reply(line, &code, &text), 'E', "ERR");
	is_str(code, "failed", "ERR code");
	is_str(text, "no route to host", "ERR text");
	strlcpy(line, "ERR busy", sizeof(line));
	is_int(ctl_parse_reply(line, &code, &text), 'E', "ERR without text");
	is_str(code, "busy", "ERR code alone");
	is_str(text, "", "ERR empty text");
	strlcpy(line, "OKAY", sizeof(line));
	is_int(ctl_parse_reply(line, &code, &text), -1, "OKAY is garbage");
	strlcpy(line, "ERR", sizeof(line));
	is_int(ctl_parse_reply(line, &code, &text), -1, "bare ERR");
	strlcpy(line, "ERR  x", sizeof(line));
	is_int(ctl_parse_reply(line, &code, &text), -1, "ERR empty code");
	strlcpy(line, "-x", sizeof(line));
	is_int(ctl_parse_reply(line, &code, &text), -1, "-x is garbage");
	strlcpy(line, "", sizeof(line));
	is_int(ctl_parse_reply(line, &code, &text), -1, "empty line");
	strlcpy(line, "*xmppd", sizeof(line));
	is_int(ctl_parse_reply(line, &code, &text), -1, "*xmppd");
}

static void
test_json(void)
{
	static const struct {
		const char	*in;
		const char	*out;
	} t[] = {
		{ "", "\"\"" },
		{ "plain", "\"plain\"" },
		{ "say \"hi\"", "\"say \\\"hi\\\"\"" },
		{ "a\\b", "\"a\\\\b\"" },
		{ "l1\nl2\r\tx", "\"l1\\nl2\\r\\tx\"" },
		{ "\x01\x1f\x1b", "\"\\u0001\\u001f\\u001b\"" },
		{ "\b\f", "\"\\u0008\\u000c\"" },
		{ "\xc3\xa9\xf0\x9f\x98\x80", "\"\xc3\xa9\xf0\x9f\x98\x80\"" },
		{ "/ and \x7f", "\"/ and \x7f\"" },
	};
	size_t	 i;
	char	*q;

	for (i = 0; i < nitems(t); i++) {
		q = ctl_json_quote(t[i].in);
		is_str(q, t[i].out, "json quote %zu", i);
		free(q);
	}
}

/* The {N} payload framing: complete, incomplete, malformed. */
static void
test_frame(void)
{
	struct ctl_frame	 f;
	const char		*code, *err;
	const char		*two = "send a@b {5}\nhello\nstatus\n";
	char			*big;

	is_int(ctl_frame(two, strlen(two), &f, &code, &err), 1,
	    "a payload frame is complete");
	ok(f.has_payload && f.payload_len == 5 && f.linelen == 8 &&
	    memcmp(two + f.payload_off, "hello", 5) == 0 && f.framelen == 19,
	    "line, payload and frame length");
	is_int(ctl_frame(two + 19, strlen(two) - 19, &f, &code, &err), 1,
	    "the next request follows");
	ok(!f.has_payload && f.framelen == 7, "a line without a payload");
	is_int(ctl_frame(two, 15, &f, &code, &err), 0,
	    "an incomplete payload waits for more");
	is_int(ctl_frame(two, 18, &f, &code, &err), 0,
	    "... and so does a missing final newline");
	is_int(ctl_frame("send a@b", 8, &f, &code, &err), 0,
	    "an incomplete line waits");
	is_int(ctl_frame("send a@b {5}\nhelloX", 19, &f, &code, &err), -1,
	    "a payload not followed by a newline is refused");
	is_str(code, CTL_ERR_USAGE, "... as usage");
	is_int(ctl_frame("send a@b {262145}\n", 18, &f, &code, &err), -1,
	    "a payload over 256 KiB is refused");
	is_int(ctl_frame("send a@b {05}\n", 14, &f, &code, &err), -1,
	    "a length with a leading zero is refused");
	is_int(ctl_frame("send a@b {0}\n\n", 15, &f, &code, &err), 1,
	    "an empty payload frames (send refuses it later)");
	is_int(ctl_frame("send a@b hi {}\n", 15, &f, &code, &err), 1,
	    "'{}' is text, not a length");
	ok(!f.has_payload, "... without a payload");
	is_int(ctl_frame("send a@b x{5}\n", 14, &f, &code, &err), 1,
	    "'x{5}' is text too");
	ok(!f.has_payload, "... without a payload");
	is_int(ctl_frame("send a@b {2}\r\nhi\n", 18, &f, &code, &err), 1,
	    "CR LF before a payload");
	ok(f.has_payload && f.payload_len == 2, "... is fine");
	big = xmalloc(CTL_LINE_MAX + 1);
	memset(big, 'a', CTL_LINE_MAX + 1);
	is_int(ctl_frame(big, CTL_LINE_MAX + 1, &f, &code, &err), -1,
	    "no newline within 4096 bytes: too long");
	is_str(code, CTL_ERR_TOOLONG, "... as too-long");
	free(big);
}

static void
test_send(void)
{
	struct ctl_send	 s;
	const char	*code, *err;
	char		 line[256];
	int		 i;

	strcpy(line, "send --type headline --wait received a@b c@d/r");
	is_int(ctl_parse_send(line, strlen(line), "x\ny", 3, &s, &code, &err),
	    0, "send with options and two recipients");
	is_str(s.type, "headline", "type");
	ok(s.wait == CTL_WAIT_RECEIVED && s.receipt,
	    "--wait received asks for a receipt");
	ok(s.nto == 2 && strcmp(s.to[1], "c@d/r") == 0, "recipients");
	ok(s.bodylen == 3, "body is the payload");
	strcpy(line, "send a@b");
	is_int(ctl_parse_send(line, strlen(line), "", 0, &s, &code, &err), -1,
	    "an empty body is refused");
	strcpy(line, "send a@b");
	is_int(ctl_parse_send(line, strlen(line), "a\001", 2, &s, &code, &err),
	    -1, "a control character in the body is refused");
	is_str(code, CTL_ERR_ENCODING, "... as encoding");
	strcpy(line, "send a@b");
	is_int(ctl_parse_send(line, strlen(line), "\xef\xbf\xbf", 3, &s, &code,
	    &err), -1, "U+FFFF in the body is refused");
	strcpy(line, "send --type groupchat a@b");
	is_int(ctl_parse_send(line, strlen(line), "x", 1, &s, &code, &err), -1,
	    "an unknown type is refused");
	strcpy(line, "send --wait");
	is_int(ctl_parse_send(line, strlen(line), "x", 1, &s, &code, &err), -1,
	    "an option without its value is refused");
	strcpy(line, "send --frob a@b");
	is_int(ctl_parse_send(line, strlen(line), "x", 1, &s, &code, &err), -1,
	    "an unknown option is refused");
	strcpy(line, "send --receipt");
	is_int(ctl_parse_send(line, strlen(line), "x", 1, &s, &code, &err), -1,
	    "no recipient is refused");
	strcpy(line, "send");
	for (i = 0; i < CTL_MAX_RCPT + 1; i++)
		strcat(line, " a@b");
	is_int(ctl_parse_send(line, strlen(line), "x", 1, &s, &code, &err), -1,
	    "33 recipients are refused");
	strcpy(line, "status");
	is_int(ctl_parse_send(line, strlen(line), "x", 1, &s, &code, &err), -1,
	    "only send takes a payload");
}

int
main(void)
{
	test_table();
	test_commands();
	test_args();
	test_rest();
	test_bad_input();
	test_unknown();
	test_reply();
	test_json();
	test_frame();
	test_send();
	return done_testing();
}
