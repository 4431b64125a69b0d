/*
 * ctlproto.c: the control protocol as data.  The command table and the
 * request parser are linked into both xmppd and xmppd-ctl, so the two ends
 * agree on names, argument counts and error texts: the client rejects a bad
 * command before it connects, and the daemon checks it again because the
 * socket, not the client, is the trust boundary.
 */
#include "compat.h"

#include <stdio.h>
#include <string.h>

#include "ctlproto.h"
#include "util.h"
#include "xmalloc.h"

/* An unknown command is echoed back, but never more than this. */
#define CTL_ECHO_MAX	32

static int	 ctl_fail(const char **, const char **, const char *,
		    const char *);
static int	 ctl_usage(const struct ctl_cmd_info *, const char **,
		    const char **);
static int	 ctl_unknown(const char *, const char **, const char **);
static int	 ctl_has_control(const char *, size_t);
static char	*ctl_word(char **, char *);
static int	 ctl_check_args(const struct ctl_cmd_info *,
		    struct ctl_request *, const char **, const char **);
static int	 ctl_valid_show(const char *);

/*
 * min_args counts every argument, the rest-of-line text included;
 * max_args counts only the words before that text, so a command with
 * rest set takes at most max_args + 1 arguments.  unregister has
 * min_args 0 so that a missing --yes gets its own message, not a usage
 * line.
 */
const struct ctl_cmd_info ctl_cmds[] = {
	{ CTL_STATUS, "status", 0, 0, 0, 0, "status",
	    "show the connection state and its details" },
	{ CTL_REGISTER, "register", 0, 0, 0, 1, "register",
	    "create the account in-band (XEP-0077), then go online" },
	{ CTL_REAUTH, "reauth", 0, 0, 0, 1, "reauth",
	    "re-read the credentials and log in again" },
	{ CTL_RECONNECT, "reconnect", 0, 0, 0, 1, "reconnect",
	    "disconnect cleanly, then connect again" },
	{ CTL_CONNECT, "connect", 0, 0, 0, 1, "connect",
	    "go online" },
	{ CTL_DISCONNECT, "disconnect", 0, 0, 0, 1, "disconnect",
	    "go offline and stay offline" },
	{ CTL_PRESENCE, "presence", 1, 1, 1, 0, "presence SHOW [TEXT]",
	    "set presence: available, away, chat, dnd or xa" },
	{ CTL_SEND, "send", 2, 1, 1, 0, "send JID TEXT",
	    "queue a message durably and print its id" },
	{ CTL_RELOAD, "reload", 0, 0, 0, 1, "reload",
	    "re-read the configuration file" },
	{ CTL_EVENTS, "events", 0, 0, 0, 0, "events",
	    "stream state changes and stanzas as JSON lines" },
	{ CTL_WAIT_ONLINE, "wait-online", 0, 0, 0, 0, "wait-online",
	    "wait until the account is online" },
	{ CTL_PASSWD, "passwd", 1, 0, 1, 1, "passwd NEWPASSWORD",
	    "change the password (XEP-0077)" },
	{ CTL_UNREGISTER, "unregister", 0, 1, 0, 1, "unregister --yes",
	    "remove the account from the server (XEP-0077)" },
	{ CTL_VERSION_CMD, "version", 0, 0, 0, 0, "version",
	    "show the daemon's version" },
	{ CTL_HELP, "help", 0, 0, 0, 0, "help",
	    "list the commands" },
	{ CTL_HANDOVER, "handover", 0, 0, 0, 0, "handover",
	    "exit for a restart, keeping the session (XEP-0198)" },
	{ CTL_JOIN, "join", 1, 1, 1, 0, "join ROOM[/NICK]",
	    "join a group chat (password, if any, from stdin)" },
	{ CTL_PART, "part", 1, 1, 1, 0, "part ROOM [REASON]",
	    "leave a group chat" },
	{ CTL_ROOMS, "rooms", 0, 0, 0, 0, "rooms",
	    "list the group chats with their state" },
	{ CTL_QUEUE, "queue", 0, 2, 0, 0, "queue [drop ID]",
	    "list the outbox, or drop one message" },
	{ CTL_STATS, "stats", 0, 0, 0, 0, "stats",
	    "counters and gauges as KEY VALUE lines" },
	{ CTL_METRICS, "metrics", 0, 0, 0, 0, "metrics",
	    "the same in the Prometheus text format" },
	{ CTL_NONE, NULL, 0, 0, 0, 0, NULL, NULL }
};

const struct ctl_cmd_info *
ctl_cmd_lookup(const char *name)
{
	const struct ctl_cmd_info	*ci;

	for (ci = ctl_cmds; ci->name != NULL; ci++)
		if (strcmp(ci->name, name) == 0)
			return ci;
	return NULL;
}

const struct ctl_cmd_info *
ctl_cmd_info(enum ctl_cmd cmd)
{
	const struct ctl_cmd_info	*ci;

	for (ci = ctl_cmds; ci->name != NULL; ci++)
		if (ci->cmd == cmd)
			return ci;
	return NULL;
}

/*
 * line[len] must be writable: the last word is terminated there.  On
 * error, *errstr may point to a static buffer that the next call reuses,
 * and req->cmd is the command if its name was recognized.
 */
int
ctl_parse_request(char *line, size_t len, struct ctl_request *req,
    const char **code, const char **errstr)
{
	static char			 xmlerr[XML_TEXT_ERR_MAX];
	const struct ctl_cmd_info	*ci;
	char				*p, *end, *word;

	memset(req, 0, sizeof(*req));
	*code = *errstr = NULL;
	if (len > CTL_LINE_MAX - 1)
		return ctl_fail(code, errstr, CTL_ERR_TOOLONG,
		    "request too long");
	if (memchr(line, '\0', len) != NULL)
		return ctl_fail(code, errstr, CTL_ERR_ENCODING,
		    "NUL byte in request");
	if (!utf8_valid(line, len))
		return ctl_fail(code, errstr, CTL_ERR_ENCODING,
		    "request is not valid UTF-8");
	if (len > 0 && line[len - 1] == '\r')
		len--;
	/* Control characters would end up in XML stanzas or log lines. */
	if (ctl_has_control(line, len))
		return ctl_fail(code, errstr, CTL_ERR_ENCODING,
		    "control character in request");
	/* Text XML forbids would break the stream at every login. */
	if (!xml_text_valid(line, len, xmlerr, sizeof(xmlerr)))
		return ctl_fail(code, errstr, CTL_ERR_ENCODING, xmlerr);
	line[len] = '\0';

	p = line;
	end = line + len;
	if ((word = ctl_word(&p, end)) == NULL)
		return ctl_fail(code, errstr, CTL_ERR_USAGE, "empty request");
	if ((ci = ctl_cmd_lookup(word)) == NULL)
		return ctl_unknown(word, code, errstr);
	req->cmd = ci->cmd;

	while (req->argc < ci->max_args && req->argc < CTL_MAX_ARGS - 1 &&
	    (word = ctl_word(&p, end)) != NULL)
		req->argv[req->argc++] = word;
	while (p < end && *p == ' ')
		p++;
	if (p < end) {
		if (!ci->rest)
			return ctl_usage(ci, code, errstr);
		/* Free text keeps its inner and trailing spaces. */
		req->argv[req->argc++] = p;
	}
	if (req->argc < ci->min_args)
		return ctl_usage(ci, code, errstr);
	return ctl_check_args(ci, req, code, errstr);
}

/*
 * The caller has bounded the line (it comes from the daemon, which the
 * client trusts to speak the protocol); here it is only split in place.
 */
int
ctl_parse_reply(char *line, char **code, char **text)
{
	size_t	 len;
	char	*sp;

	*code = *text = NULL;
	len = strlen(line);
	if (len > 0 && line[len - 1] == '\r')
		line[--len] = '\0';

	if (line[0] == '-' && (line[1] == '\0' || line[1] == ' ')) {
		*text = line[1] == '\0' ? line + 1 : line + 2;
		return 'D';
	}
	if (line[0] == '*' && line[1] == ' ') {
		*text = line + 2;
		return '*';
	}
	if (strncmp(line, "OK", 2) == 0 &&
	    (line[2] == '\0' || line[2] == ' ')) {
		*text = line[2] == '\0' ? line + 2 : line + 3;
		return 'O';
	}
	if (strncmp(line, "ERR ", 4) == 0 && line[4] != '\0' &&
	    line[4] != ' ') {
		*code = line + 4;
		if ((sp = strchr(*code, ' ')) != NULL) {
			*sp = '\0';
			*text = sp + 1;
		} else
			*text = line + len;
		return 'E';
	}
	return -1;
}

char *
ctl_json_quote(const char *s)
{
	static const char	 hex[] = "0123456789abcdef";
	const unsigned char	*p;
	char			*out, *o;
	size_t			 n = 3;

	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\' || *p == '\n' || *p == '\r' ||
		    *p == '\t')
			n += 2;
		else if (*p < 0x20)
			n += 6;
		else
			n++;
	}
	out = o = xmalloc(n);
	*o++ = '"';
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		switch (*p) {
		case '"':
		case '\\':
			*o++ = '\\';
			*o++ = (char)*p;
			break;
		case '\n':
			*o++ = '\\';
			*o++ = 'n';
			break;
		case '\r':
			*o++ = '\\';
			*o++ = 'r';
			break;
		case '\t':
			*o++ = '\\';
			*o++ = 't';
			break;
		default:
			if (*p < 0x20) {
				memcpy(o, "\\u00", 4);
				o[4] = hex[*p >> 4];
				o[5] = hex[*p & 0xf];
				o += 6;
			} else
				*o++ = (char)*p;
		}
	}
	*o++ = '"';
	*o = '\0';
	return out;
}

static int
ctl_fail(const char **code, const char **errstr, const char *c,
    const char *msg)
{
	*code = c;
	*errstr = msg;
	return -1;
}

static int
ctl_usage(const struct ctl_cmd_info *ci, const char **code,
    const char **errstr)
{
	static char	buf[128];

	snprintf(buf, sizeof(buf), "usage: %s", ci->usage);
	return ctl_fail(code, errstr, CTL_ERR_USAGE, buf);
}

/*
 * The name came from an unauthenticated peer and goes back to it and
 * maybe into a log: keep it short and printable.
 */
static int
ctl_unknown(const char *name, const char **code, const char **errstr)
{
	static char	buf[64];
	char		safe[CTL_ECHO_MAX + 1];
	size_t		i;

	for (i = 0; i < CTL_ECHO_MAX && name[i] != '\0'; i++) {
		unsigned char c = (unsigned char)name[i];

		safe[i] = (c >= 0x20 && c < 0x7f && c != '\'') ? (char)c : '?';
	}
	safe[i] = '\0';
	snprintf(buf, sizeof(buf), "unknown command '%s%s'", safe,
	    name[i] != '\0' ? "..." : "");
	return ctl_fail(code, errstr, CTL_ERR_UNKNOWN, buf);
}

static int
ctl_has_control(const char *s, size_t len)
{
	size_t	i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return 1;
	}
	return 0;
}

/* Skip spaces, cut the next word at its end and return it, or NULL. */
static char *
ctl_word(char **pp, char *end)
{
	char	*p = *pp, *w;

	while (p < end && *p == ' ')
		p++;
	if (p == end)
		return NULL;
	w = p;
	while (p < end && *p != ' ')
		p++;
	if (p < end)
		*p++ = '\0';
	*pp = p;
	return w;
}

static int
ctl_check_args(const struct ctl_cmd_info *ci, struct ctl_request *req,
    const char **code, const char **errstr)
{
	char	*t, *e;

	switch (ci->cmd) {
	case CTL_PRESENCE:
		if (!ctl_valid_show(req->argv[0]))
			return ctl_fail(code, errstr, CTL_ERR_USAGE,
			    "SHOW must be one of available, away, chat, "
			    "dnd, xa");
		/*
		 * The status text loses its blanks at both ends, as the
		 * spaces before it are already eaten: "  x  " is "x".
		 */
		if (req->argc == 2) {
			t = req->argv[1];
			e = t + strlen(t);
			while (e > t && (e[-1] == ' ' || e[-1] == '\t'))
				*--e = '\0';
			while (*t == '\t' || *t == ' ')
				t++;
			req->argv[1] = t;
			if (*t == '\0') {
				req->argv[1] = NULL;
				req->argc = 1;
			}
		}
		break;
	case CTL_QUEUE:
		if (req->argc != 0 && (req->argc != 2 ||
		    strcmp(req->argv[0], "drop") != 0))
			return ctl_usage(ci, code, errstr);
		break;
	case CTL_UNREGISTER:
		/* Removing the account is not undone; make it explicit. */
		if (req->argc != 1 || strcmp(req->argv[0], "--yes") != 0)
			return ctl_fail(code, errstr, CTL_ERR_USAGE,
			    "refusing to unregister without --yes");
		break;
	default:
		break;
	}
	return 0;
}

static int
ctl_valid_show(const char *show)
{
	return presence_show_valid(show);
}

/* ---------------------------------------------------------------------- */
/* payload framing */

/*
 * The literal "{N}" ending a line of len bytes: returns 1 with *n and
 * *wordoff (where the space before it starts), 0 when there is none, -1
 * when it is there but bad.
 */
static int
ctl_literal(const char *line, size_t len, size_t *n, size_t *wordoff)
{
	size_t	i, start, digits;

	if (len < 4 || line[len - 1] != '}')
		return 0;
	for (i = len - 1; i > 0 && line[i - 1] >= '0' && line[i - 1] <= '9';
	    i--)
		;
	if (i == 0 || line[i - 1] != '{' || i < 2 || line[i - 2] != ' ')
		return 0;
	start = i;
	if ((digits = len - 1 - start) == 0)
		return 0;
	if (digits > 7 || (digits > 1 && line[start] == '0'))
		return -1;
	*n = 0;
	for (i = start; i < len - 1; i++)
		*n = *n * 10 + (size_t)(line[i] - '0');
	if (*n > CTL_PAYLOAD_MAX)
		return -1;
	*wordoff = start - 2;
	return 1;
}

int
ctl_frame(const char *buf, size_t len, struct ctl_frame *f,
    const char **code, const char **errstr)
{
	const char	*nl;
	size_t		 linelen, n, off, scan;
	int		 r;

	memset(f, 0, sizeof(*f));
	*code = *errstr = NULL;
	scan = len < CTL_LINE_MAX ? len : CTL_LINE_MAX;
	if ((nl = memchr(buf, '\n', scan)) == NULL) {
		if (len >= CTL_LINE_MAX)
			return ctl_fail(code, errstr, CTL_ERR_TOOLONG,
			    "request line longer than 4096 bytes");
		return 0;
	}
	linelen = (size_t)(nl - buf);
	f->framelen = linelen + 1;
	f->linelen = linelen;
	if (linelen > 0 && buf[linelen - 1] == '\r')
		linelen--;
	if ((r = ctl_literal(buf, linelen, &n, &off)) == 0)
		return 1;
	if (r == -1)
		return ctl_fail(code, errstr, CTL_ERR_TOOLONG, "bad payload "
		    "length: {N} takes at most 262144 bytes");
	f->has_payload = 1;
	f->linelen = off;
	f->payload_off = f->framelen;
	f->payload_len = n;
	if (len - f->framelen < n + 1)
		return 0;
	if (buf[f->framelen + n] != '\n')
		return ctl_fail(code, errstr, CTL_ERR_USAGE, "payload not "
		    "followed by a newline: its length is wrong");
	f->framelen += n + 1;
	return 1;
}

int
ctl_text_valid(const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i;

	if (!utf8_valid(s, len))
		return 0;
	for (i = 0; i < len; i++) {
		if (p[i] < 0x20 && p[i] != '\t' && p[i] != '\n' &&
		    p[i] != '\r')
			return 0;
		/* U+FFFE and U+FFFF are EF BF BE and EF BF BF. */
		if (p[i] == 0xef && i + 2 < len && p[i + 1] == 0xbf &&
		    (p[i + 2] == 0xbe || p[i + 2] == 0xbf))
			return 0;
	}
	return 1;
}

static int
ctl_send_option(struct ctl_send *s, const char *opt, const char *val,
    const char **code, const char **errstr)
{
	if (strcmp(opt, "--receipt") == 0) {
		s->receipt = 1;
		return 0;
	}
	if (val == NULL)
		return ctl_fail(code, errstr, CTL_ERR_USAGE,
		    "send: option needs a value");
	if (strcmp(opt, "--type") == 0) {
		if (strcmp(val, "chat") != 0 && strcmp(val, "normal") != 0 &&
		    strcmp(val, "headline") != 0)
			return ctl_fail(code, errstr, CTL_ERR_USAGE, "send: "
			    "--type must be chat, normal or headline");
		s->type = val;
		return 1;
	}
	if (strcmp(opt, "--wait") == 0) {
		if (strcmp(val, "acked") == 0)
			s->wait = CTL_WAIT_ACKED;
		else if (strcmp(val, "received") == 0) {
			s->wait = CTL_WAIT_RECEIVED;
			s->receipt = 1;
		} else
			return ctl_fail(code, errstr, CTL_ERR_USAGE, "send: "
			    "--wait must be acked or received");
		return 1;
	}
	return ctl_fail(code, errstr, CTL_ERR_USAGE, "send: unknown option "
	    "(--type, --receipt and --wait are known)");
}

int
ctl_parse_send(char *line, size_t linelen, const char *payload,
    size_t paylen, struct ctl_send *s, const char **code,
    const char **errstr)
{
	char	*p = line, *end = line + linelen, *w, *v;
	int	 r;

	memset(s, 0, sizeof(*s));
	s->type = "chat";
	*code = *errstr = NULL;
	if (linelen >= CTL_LINE_MAX || !utf8_valid(line, linelen) ||
	    ctl_has_control(line, linelen))
		return ctl_fail(code, errstr, CTL_ERR_ENCODING,
		    "bad characters in the request line");
	*end = '\0';
	if ((w = ctl_word(&p, end)) == NULL || strcmp(w, "send") != 0)
		return ctl_fail(code, errstr, CTL_ERR_USAGE,
		    "only send takes a payload");
	while ((w = ctl_word(&p, end)) != NULL) {
		if (strncmp(w, "--", 2) == 0) {
			v = NULL;
			if (strcmp(w, "--receipt") != 0)
				v = ctl_word(&p, end);
			if ((r = ctl_send_option(s, w, v, code, errstr)) == -1)
				return -1;
			continue;
		}
		if (s->nto == CTL_MAX_RCPT)
			return ctl_fail(code, errstr, CTL_ERR_USAGE,
			    "send: at most 32 recipients");
		s->to[s->nto++] = w;
	}
	if (s->nto == 0)
		return ctl_fail(code, errstr, CTL_ERR_USAGE,
		    "usage: send [OPTIONS] JID... {N}");
	if (!ctl_text_valid(payload, paylen))
		return ctl_fail(code, errstr, CTL_ERR_ENCODING, "the message "
		    "is not UTF-8 text XML can carry (NUL, control "
		    "characters, U+FFFE or U+FFFF)");
	if (paylen == 0)
		return ctl_fail(code, errstr, CTL_ERR_USAGE,
		    "the message is empty");
	s->body = payload;
	s->bodylen = paylen;
	return 0;
}
