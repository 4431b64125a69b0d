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

/* Append s to a JSON string literal (with quotes) in buf; new string. */
char	*ctl_json_quote(const char *s);

#endif
