/*
 * ctlproto.h: the control protocol, shared by xmppd and xmppd-ctl.
 *
 * Text over a Unix stream socket, one request per line (at most
 * CTL_LINE_MAX bytes including the newline, UTF-8, no NUL):
 *
 *	COMMAND [ARG ...]
 *
 * Arguments are separated by single or multiple spaces; for commands whose
 * last argument is free text (send, presence) it is the rest of the line.
 * On connect the daemon greets with one line "* xmppd N" (N the protocol
 * version, CTL_VERSION).  Each request is answered by zero or more data
 * lines starting with "- ", then exactly one final line:
 *
 *	OK [TEXT]
 *	ERR CODE TEXT
 *
 * "status" data lines are "- KEY VALUE".  "rooms" data lines are one room
 * each, its fields separated by tabs: room, nick, state, since (Unix
 * time), occupants (a number, "+" appended when more are not tracked),
 * configured ("config" or "runtime"), reason, last error.  "join ROOM[/NICK]
 * [PASSWORD]" carries the room password as its free text.  "events" answers "OK" at once and
 * then streams "- {json}" lines until the client goes away.  A client that
 * is not allowed gets "ERR denied ..." and is closed.
 *
 * Payloads (protocol version 1, added with the outbox).  A request line
 * whose last word is "{N}" (N decimal, no leading zeros, at most
 * CTL_PAYLOAD_MAX) is followed by exactly N bytes of payload and one
 * "\n"; the payload may hold any UTF-8 text XML allows, newlines
 * included.  Only "send" takes one:
 *
 *	send [--type chat|normal|headline] [--receipt]
 *	    [--wait acked|received] JID... {N}
 *
 * answered by "OK ID" once the message is on disk, or, with --wait, by
 * "- queued ID" at that point and a final "OK ID STATE" once every
 * recipient reached the state, or "ERR bounced|expired ID: CONDITION".
 * The old one-line form "send JID TEXT" still works (type chat).  A
 * request whose frame is malformed is answered with an ERR and the
 * connection is closed, since the rest of the stream cannot be trusted.
 *
 * "queue" answers one data line per waiting message, fields separated by
 * tabs: ID, STATE, CREATED (Unix time), TRIES, RECIPIENTS (comma
 * separated), LAST-ERROR ("-" for none).  "queue drop ID" removes one.
 *
 * A leaf module: no I/O, no logging.
 */
#ifndef XMPPD_CTLPROTO_H
#define XMPPD_CTLPROTO_H

#include <stddef.h>

#define CTL_VERSION	1
#define CTL_LINE_MAX	4096
#define CTL_MAX_ARGS	8

enum ctl_cmd {
	CTL_NONE = 0,
	CTL_STATUS,
	CTL_REGISTER,
	CTL_REAUTH,
	CTL_RECONNECT,
	CTL_CONNECT,
	CTL_DISCONNECT,
	CTL_PRESENCE,
	CTL_SEND,
	CTL_RELOAD,
	CTL_EVENTS,
	CTL_WAIT_ONLINE,
	CTL_PASSWD,
	CTL_UNREGISTER,
	CTL_VERSION_CMD,
	CTL_HELP,
	CTL_HANDOVER,
	CTL_JOIN,
	CTL_PART,
	CTL_ROOMS,
	CTL_QUEUE,
	CTL_STATS,
	CTL_METRICS,
	CTL_CMD_MAX
};

/* Error codes on ERR lines. */
#define CTL_ERR_USAGE		"usage"		/* bad arguments */
#define CTL_ERR_UNKNOWN		"unknown"	/* unknown command */
#define CTL_ERR_TOOLONG		"too-long"	/* line over CTL_LINE_MAX */
#define CTL_ERR_ENCODING	"encoding"	/* invalid UTF-8 or NUL */
#define CTL_ERR_DENIED		"denied"	/* peer credentials refused */
#define CTL_ERR_FAILED		"failed"	/* the operation failed */
#define CTL_ERR_STATE		"state"		/* not possible in this state */
#define CTL_ERR_CONFLICT	"conflict"	/* account exists */
#define CTL_ERR_CLOSED		"closed"	/* registration closed */
#define CTL_ERR_SHUTDOWN	"shutdown"	/* daemon is stopping */
#define CTL_ERR_FULL		"full"		/* outbox full: not accepted */
#define CTL_ERR_BOUNCED		"bounced"	/* message bounced */
#define CTL_ERR_EXPIRED		"expired"	/* message expired */
#define CTL_ERR_NOTFOUND	"not-found"	/* no such message */

struct ctl_cmd_info {
	enum ctl_cmd	 cmd;
	const char	*name;
	int		 min_args;
	int		 max_args;	/* not counting the rest-of-line text */
	int		 rest;		/* last argument is rest of line */
	int		 changes_conn;	/* serialized in the command queue */
	const char	*usage;		/* "send JID TEXT" */
	const char	*help;		/* one line */
};

struct ctl_request {
	enum ctl_cmd	 cmd;
	int		 argc;
	char		*argv[CTL_MAX_ARGS];	/* point into the line buffer */
};

/* The command table, terminated by an entry with name NULL. */
extern const struct ctl_cmd_info ctl_cmds[];

const struct ctl_cmd_info *ctl_cmd_lookup(const char *name);
const struct ctl_cmd_info *ctl_cmd_info(enum ctl_cmd);

/*
 * Parse one request line (without its newline), modifying it in place.
 * Returns 0, or -1 with *code (a CTL_ERR_*) and *errstr set.
 */
int	ctl_parse_request(char *line, size_t len, struct ctl_request *,
	    const char **code, const char **errstr);

/*
 * Classify a reply line from the daemon: returns 'D' for "- " data (text
 * in *text), 'O' for OK, 'E' for ERR (code in *code as a new string... no:
 * code and text point into line, which is modified), '*' for the greeting,
 * or -1 for garbage.
 */
int	ctl_parse_reply(char *line, char **code, char **text);

/* Payload framing (see the top of this file). */
#define CTL_PAYLOAD_MAX	(256 * 1024)
#define CTL_FRAME_MAX	(CTL_LINE_MAX + CTL_PAYLOAD_MAX + 1)
#define CTL_MAX_RCPT	32

struct ctl_frame {
	size_t		 linelen;	/* the request line without "{N}" */
	int		 has_payload;
	size_t		 payload_off;	/* from the start of the buffer */
	size_t		 payload_len;
	size_t		 framelen;	/* bytes the request takes */
};

/*
 * Find the request at the start of buf.  Returns 1 with *f filled, 0
 * when more bytes are needed, or -1 with *code and *errstr when the
 * frame is malformed (the caller answers and closes the connection).
 */
int	ctl_frame(const char *buf, size_t len, struct ctl_frame *f,
	    const char **code, const char **errstr);

enum ctl_wait { CTL_WAIT_NONE = 0, CTL_WAIT_ACKED, CTL_WAIT_RECEIVED };

struct ctl_send {
	const char	*type;			/* chat, normal or headline */
	int		 receipt;		/* ask for XEP-0184 receipts */
	enum ctl_wait	 wait;
	int		 nto;
	const char	*to[CTL_MAX_RCPT];	/* point into the line */
	const char	*body;			/* the payload, not copied */
	size_t		 bodylen;
};

/*
 * Parse the words of a "send ... {N}" line (linelen bytes, "{N}" already
 * cut off by ctl_frame; modified in place) and check the payload.
 * Returns 0, or -1 with *code and *errstr.
 */
int	ctl_parse_send(char *line, size_t linelen, const char *payload,
	    size_t paylen, struct ctl_send *, const char **code,
	    const char **errstr);
/*
 * 1 when the bytes are text XML may carry: UTF-8 without NUL, without
 * C0 controls other than tab, LF and CR, without U+FFFE and U+FFFF.
 */
int	ctl_text_valid(const char *, size_t);

/* Append s to a JSON string literal (with quotes) in buf; new string. */
char	*ctl_json_quote(const char *s);

#endif
