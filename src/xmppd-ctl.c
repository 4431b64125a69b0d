/*
 * xmppd-ctl.c: the control client.  It checks the command against the
 * table shared with the daemon, connects to the control socket, checks the
 * greeting, sends one request line and renders the replies as text or
 * JSON.  The exit status is part of the interface: scripts branch on it
 * (see xmppd-ctl(1)).
 */
#include "compat.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "ctlproto.h"
#include "util.h"
#include "xmalloc.h"

#ifndef RUNSTATEDIR
#define RUNSTATEDIR	"/run"
#endif
#define DEFAULT_SOCKET	RUNSTATEDIR "/xmppd/xmppd.sock"
#define DEFAULT_TIMEOUT	30		/* seconds, for one-shot commands */
#define SOCKET_WAIT	30		/* seconds wait-online waits for it */
#define SOCKET_POLL_MS	100		/* ... checking this often */
/* Event lines carry message bodies, which may exceed a request line. */
#define REPLY_LINE_MAX	(1024 * 1024)

/* Exit statuses, documented in xmppd-ctl(1). */
#define XC_OK		0
#define XC_FAILED	1
#define XC_USAGE	2
#define XC_UNREACHABLE	3
#define XC_TIMEOUT	4

struct ctl {
	const struct ctl_cmd_info	*ci;
	const char			*path;
	const char			*instance;
	int				 json;
	int				 fd;
	int				 timeout;	/* seconds, 0: none */
	uint64_t			 deadline;	/* monotonic ms */
	char				*rbuf;		/* unparsed input */
	size_t				 roff, rlen, rsize;
	char				**data;		/* "- " lines */
	size_t				 ndata;
};

/* Two renderers behind one interface, as bgpctl does. */
struct output {
	void	(*ok)(struct ctl *, const char *);
	void	(*err)(struct ctl *, const char *, const char *);
};

static __dead void	 usage(void);
static __dead void	 help(void);
static __dead void	 die(int, const char *, ...)
			    __attribute__((__format__(printf, 2, 3)));
static void		 sanitize(char *, size_t, const char *);
static void		 put_safe(FILE *, const char *);
static const char	*socket_path(struct ctl *, const char *,
			    const char *);
static int		 valid_instance(const char *);
static const struct ctl_cmd_info *lookup_command(const char *);
static char		*build_request(const struct ctl_cmd_info *, int,
			    char **);
static char		*build_join(const struct ctl_cmd_info *, int, char **);
static void		 human_rooms(struct ctl *);
static void		 json_rooms(struct ctl *);
static void		 check_args(const struct ctl_cmd_info *, int,
			    char **);
static void		 check_request(const char *);
static char		*join_args(const char *, int, char **);
static char		*read_password(void);
static char		*read_tty_line(const char *);
static char		*read_stdin_line(void);
static void		 tty_restore(int);
static void		 ctl_connect(struct ctl *);
static __dead void	 unreachable(struct ctl *, int);
static __dead void	 timed_out(struct ctl *);
static int		 remaining_ms(struct ctl *);
static void		 wait_io(struct ctl *, short);
static void		 send_line(struct ctl *, const char *);
static int		 send_raw(struct ctl *, const char *, size_t);
static char		*read_line(struct ctl *);
static int		 fill_buffer(struct ctl *);
static void		 read_greeting(struct ctl *);
static int		 read_replies(struct ctl *);
static void		 ctl_close(struct ctl *);
static void		 on_data(struct ctl *, const char *);
static int		 finish_err(struct ctl *, const char *, const char *);
static int		 err_status(const char *);
static void		 flush_stdout(void);
static void		 human_ok(struct ctl *, const char *);
static void		 human_err(struct ctl *, const char *, const char *);
static void		 human_status(struct ctl *);
static void		 put_since(const char *);
static void		 json_ok(struct ctl *, const char *);
static void		 json_err(struct ctl *, const char *, const char *);
static void		 json_status(struct ctl *);
static void		 json_stats(struct ctl *);
static void		 json_pair(const char *, const char *, int);
static int		 json_number(const char *, const char *);
static void		 queue_render(struct ctl *, int);
static void		 sanitize_inplace(char *);
static int		 send_main(struct ctl *, int, char **);

static const struct output	human_output = { human_ok, human_err };
static const struct output	json_output = { json_ok, json_err };
static const struct output	*output = &human_output;

static struct termios		 saved_tio;

static __dead void
usage(void)
{
	fprintf(stderr, "usage: xmppd-ctl [-hj] [-i NAME | -s PATH] "
	    "[-t SECONDS] COMMAND [ARGS...]\n");
	exit(XC_USAGE);
}

static __dead void
help(void)
{
	const struct ctl_cmd_info	*ci;
	const char			*u;

	printf("usage: xmppd-ctl [-hj] [-i NAME | -s PATH] [-t SECONDS] "
	    "COMMAND [ARGS...]\n\n"
	    "options:\n"
	    "  -h          show this help\n"
	    "  -i NAME     talk to the instance xmppd@NAME\n"
	    "  -j          print JSON\n"
	    "  -s PATH     control socket (default %s)\n"
	    "  -t SECONDS  give up after SECONDS (default %d; no limit for\n"
	    "              events and wait-online)\n\n"
	    "commands:\n", DEFAULT_SOCKET, DEFAULT_TIMEOUT);
	for (ci = ctl_cmds; ci->name != NULL; ci++) {
		/* The password never goes on the command line. */
		u = ci->cmd == CTL_PASSWD ? "passwd" : ci->usage;
		if (ci->cmd == CTL_SEND)
			u = "send [OPTIONS] JID... [TEXT]";
		printf("  %-22s %s%s\n", u, ci->help,
		    ci->cmd == CTL_PASSWD ? ", read from stdin" : "");
	}
	exit(XC_OK);
}

static __dead void
die(int status, const char *fmt, ...)
{
	va_list	ap;

	fflush(stdout);
	fputs("xmppd-ctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(status);
}

/* Copy at most 32 printable bytes of src for an error message. */
static void
sanitize(char *dst, size_t dsz, const char *src)
{
	size_t	i;

	for (i = 0; i + 4 < dsz && i < 32 && src[i] != '\0'; i++)
		dst[i] = (src[i] >= 0x20 && src[i] < 0x7f) ? src[i] : '?';
	dst[i] = '\0';
	if (src[i] != '\0')
		strlcpy(dst + i, "...", dsz - i);
}

/* The daemon relays server text; keep terminal controls out of it. */
static void
put_safe(FILE *fp, const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		fputc((c < 0x20 && c != '\t') || c == 0x7f ? '?' : c, fp);
	}
}

static const char *
socket_path(struct ctl *c, const char *sflag, const char *iflag)
{
	const char	*env;
	char		*p;

	if (sflag != NULL)
		return sflag;
	if (iflag != NULL) {
		if (!valid_instance(iflag))
			die(XC_USAGE, "invalid instance name: use letters, "
			    "digits, '_', '.', '@' and '-'");
		c->instance = iflag;
		xasprintf(&p, "%s/xmppd/%s.sock", RUNSTATEDIR, iflag);
		return p;
	}
	if ((env = getenv("XMPPD_CTL_SOCKET")) != NULL && *env != '\0')
		return env;
	return DEFAULT_SOCKET;
}

static int
valid_instance(const char *name)
{
	if (*name == '\0')
		return 0;
	return strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789_.@-") == strlen(name);
}

static const struct ctl_cmd_info *
lookup_command(const char *name)
{
	const struct ctl_cmd_info	*ci;
	char				 safe[40];

	if ((ci = ctl_cmd_lookup(name)) == NULL) {
		sanitize(safe, sizeof(safe), name);
		die(XC_USAGE, "unknown command '%s' (xmppd-ctl -h lists them)",
		    safe);
	}
	return ci;
}

/* Returns the request line, without its newline. */
static char *
build_request(const struct ctl_cmd_info *ci, int argc, char **argv)
{
	char	*pw, *line;

	if (ci->cmd == CTL_JOIN)
		return build_join(ci, argc, argv);
	if (ci->cmd != CTL_PASSWD) {
		check_args(ci, argc, argv);
		return join_args(ci->name, argc, argv);
	}
	if (argc != 0)
		die(XC_USAGE, "passwd takes no arguments: it reads the new "
		    "password from standard input");
	pw = read_password();
	xasprintf(&line, "passwd %s", pw);
	freezero_str(pw);
	return line;
}

/*
 * "join ROOM[/NICK]": a room password never goes on the command line; it
 * is read from standard input when that is not a terminal (a pipe or a
 * file), and an empty line or none means no password.
 */
static char *
build_join(const struct ctl_cmd_info *ci, int argc, char **argv)
{
	char	*pw = NULL, *line;

	if (argc != 1) {
		fprintf(stderr, "usage: xmppd-ctl %s\n", ci->usage);
		exit(XC_USAGE);
	}
	check_args(ci, argc, argv);
	if (!isatty(STDIN_FILENO))
		pw = read_stdin_line();
	if (pw == NULL || *pw == '\0') {
		free(pw);
		return join_args(ci->name, argc, argv);
	}
	if (*pw == ' ')
		die(XC_USAGE, "the password must not begin with a space");
	xasprintf(&line, "join %s %s", argv[0], pw);
	freezero_str(pw);
	return line;
}

/*
 * Arguments are joined with spaces, so a word argument that contains a
 * space or is empty would shift the others silently.
 */
static void
check_args(const struct ctl_cmd_info *ci, int argc, char **argv)
{
	int	i, words;

	if (argc < ci->min_args || (!ci->rest && argc > ci->max_args)) {
		fprintf(stderr, "usage: xmppd-ctl %s\n", ci->usage);
		exit(XC_USAGE);
	}
	words = ci->rest && argc > ci->max_args ? ci->max_args : argc;
	for (i = 0; i < words; i++)
		if (argv[i][0] == '\0' || strchr(argv[i], ' ') != NULL)
			die(XC_USAGE, "%s: argument %d must be one word",
			    ci->name, i + 1);
}

/* The daemon would refuse the same line; say so before connecting. */
static void
check_request(const char *line)
{
	struct ctl_request	 req;
	const char		*code, *errstr;
	char			*copy;
	int			 r;

	/* Said plainly: the protocol's reason would be cryptic here. */
	if (strchr(line, '\n') != NULL)
		die(XC_USAGE, "arguments cannot contain newlines");
	copy = xstrdup(line);
	r = ctl_parse_request(copy, strlen(copy), &req, &code, &errstr);
	freezero_str(copy);
	if (r == -1)
		die(XC_USAGE, "%s", errstr);
}

static char *
join_args(const char *name, int argc, char **argv)
{
	char	*line;
	size_t	 len, off, n;
	int	 i;

	len = strlen(name) + 1;
	for (i = 0; i < argc; i++)
		len += strlen(argv[i]) + 1;
	line = xmalloc(len);
	off = strlcpy(line, name, len);
	for (i = 0; i < argc; i++) {
		line[off++] = ' ';
		n = strlen(argv[i]);
		memcpy(line + off, argv[i], n);
		off += n;
	}
	line[off] = '\0';
	return line;
}

static char *
read_password(void)
{
	char	*pw, *again;

	if (isatty(STDIN_FILENO)) {
		pw = read_tty_line("New password: ");
		again = read_tty_line("Retype new password: ");
		if (strcmp(pw, again) != 0) {
			freezero_str(pw);
			freezero_str(again);
			die(XC_USAGE, "passwords do not match");
		}
		freezero_str(again);
	} else if ((pw = read_stdin_line()) == NULL)
		die(XC_USAGE, "no password on standard input");
	if (*pw == '\0')
		die(XC_USAGE, "empty password");
	/* The protocol eats the spaces before free text. */
	if (*pw == ' ')
		die(XC_USAGE, "the password must not begin with a space");
	return pw;
}

static char *
read_tty_line(const char *prompt)
{
	struct sigaction	 sa, old[3];
	struct termios		 tio;
	static const int	 sigs[3] = { SIGINT, SIGTERM, SIGHUP };
	char			*s;
	int			 i;

	if (tcgetattr(STDIN_FILENO, &saved_tio) == -1)
		die(XC_FAILED, "tcgetattr: %s", strerror(errno));
	/* An interrupted prompt must not leave the terminal mute. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = tty_restore;
	for (i = 0; i < 3; i++)
		sigaction(sigs[i], &sa, &old[i]);
	tio = saved_tio;
	tio.c_lflag &= ~ECHO;
	tio.c_lflag |= ECHONL;
	fputs(prompt, stderr);
	fflush(stderr);
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &tio) == -1)
		die(XC_FAILED, "tcsetattr: %s", strerror(errno));
	s = read_stdin_line();
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tio);
	for (i = 0; i < 3; i++)
		sigaction(sigs[i], &old[i], NULL);
	if (s == NULL)
		die(XC_USAGE, "no password entered");
	return s;
}

static void
tty_restore(int sig)
{
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tio);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* One line without its newline, or NULL at end of input. */
static char *
read_stdin_line(void)
{
	char	*s = NULL;
	size_t	 sz = 0;
	ssize_t	 n;

	if ((n = getline(&s, &sz, stdin)) == -1) {
		free(s);
		return NULL;
	}
	if (n > 0 && s[n - 1] == '\n')
		s[--n] = '\0';
	if (n > 0 && s[n - 1] == '\r')
		s[--n] = '\0';
	return s;
}

static void
ctl_connect(struct ctl *c)
{
	struct sockaddr_un	sun;
	uint64_t		until = 0;
	int			err = 0;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, c->path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path))
		die(XC_USAGE, "socket path too long: %s", c->path);
	/*
	 * wait-online started with the daemon may find no socket yet: it
	 * waits for one within its timeout, or SOCKET_WAIT without -t.
	 */
	if (c->ci->cmd == CTL_WAIT_ONLINE)
		until = c->deadline != 0 ? c->deadline :
		    monotime_ms() + SOCKET_WAIT * 1000;
	for (;;) {
		if ((c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC,
		    0)) == -1)
			die(XC_UNREACHABLE, "socket: %s", strerror(errno));
		/* A local connect does not wait for the peer; the I/O does. */
		if (connect(c->fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
			break;
		err = errno;
		close(c->fd);
		c->fd = -1;
		if ((err != ENOENT && err != ECONNREFUSED) ||
		    monotime_ms() >= until)
			break;
		poll(NULL, 0, SOCKET_POLL_MS);
	}
	if (c->fd == -1) {
		if (c->ci->cmd == CTL_WAIT_ONLINE && c->deadline != 0 &&
		    (err == ENOENT || err == ECONNREFUSED))
			die(XC_TIMEOUT, "timed out after %d s waiting for the "
			    "socket %s to appear", c->timeout, c->path);
		unreachable(c, err);
	}
	if (fcntl(c->fd, F_SETFL, O_NONBLOCK) == -1)
		die(XC_FAILED, "fcntl: %s", strerror(errno));
	c->rsize = 8192;
	c->rbuf = xmalloc(c->rsize);
}

static __dead void
unreachable(struct ctl *c, int error)
{
	if (error == EACCES || error == EPERM)
		die(XC_UNREACHABLE, "permission denied on %s \u2014 run as "
		    "root, as the daemon's user, or as a member of its "
		    "control_group", c->path);
	if (c->instance != NULL)
		die(XC_UNREACHABLE, "cannot reach xmppd at %s: %s \u2014 is "
		    "xmppd@%s running? (systemctl status xmppd@%s)", c->path,
		    strerror(error), c->instance, c->instance);
	die(XC_UNREACHABLE, "cannot reach xmppd at %s: %s \u2014 is xmppd "
	    "running? (systemctl status xmppd; for an instance use -i NAME)",
	    c->path, strerror(error));
}

static __dead void
timed_out(struct ctl *c)
{
	die(XC_TIMEOUT, "timed out after %d s waiting for %s", c->timeout,
	    c->ci->cmd == CTL_WAIT_ONLINE ? "online" : "xmppd");
}

/* Milliseconds left before the deadline, -1 for none. */
static int
remaining_ms(struct ctl *c)
{
	uint64_t	now;

	if (c->deadline == 0)
		return -1;
	now = monotime_ms();
	if (now >= c->deadline)
		timed_out(c);
	if (c->deadline - now > INT_MAX)
		return INT_MAX;
	return (int)(c->deadline - now);
}

static void
wait_io(struct ctl *c, short events)
{
	struct pollfd	pfd;
	int		n;

	pfd.fd = c->fd;
	pfd.events = events;
	for (;;) {
		n = poll(&pfd, 1, remaining_ms(c));
		if (n > 0)
			return;
		if (n == 0)
			timed_out(c);
		if (errno != EINTR && errno != EAGAIN)
			die(XC_FAILED, "poll: %s", strerror(errno));
	}
}

static void
send_line(struct ctl *c, const char *line)
{
	char	*buf;
	size_t	 len;

	len = xasprintf(&buf, "%s\n", line);
	send_raw(c, buf, len);
	freezero_str(buf);
}

/* The next line, NUL-terminated without its newline; NULL at EOF. */
static char *
read_line(struct ctl *c)
{
	char	*line, *nl;

	for (;;) {
		line = c->rbuf + c->roff;
		if ((nl = memchr(line, '\n', c->rlen - c->roff)) != NULL) {
			*nl = '\0';
			c->roff = nl + 1 - c->rbuf;
			return line;
		}
		if (c->rlen - c->roff >= REPLY_LINE_MAX)
			die(XC_FAILED, "reply line from xmppd too long");
		memmove(c->rbuf, line, c->rlen - c->roff);
		c->rlen -= c->roff;
		c->roff = 0;
		if (!fill_buffer(c))
			return NULL;
	}
}

/* Read what is there; 0 at EOF, or a reset, which means the same here. */
static int
fill_buffer(struct ctl *c)
{
	ssize_t	n;

	if (c->rsize - c->rlen < 4096) {
		c->rsize *= 2;
		c->rbuf = xreallocarray(c->rbuf, c->rsize, 1);
	}
	for (;;) {
		wait_io(c, POLLIN);
		n = read(c->fd, c->rbuf + c->rlen, c->rsize - c->rlen);
		if (n > 0) {
			c->rlen += n;
			return 1;
		}
		if (n == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		return 0;
	}
}

static void
read_greeting(struct ctl *c)
{
	char		*line, *code, *text, num[12];
	const char	*errstr;
	size_t		 n;
	long long	 v;

	if ((line = read_line(c)) == NULL)
		die(XC_UNREACHABLE, "xmppd at %s closed the connection",
		    c->path);
	switch (ctl_parse_reply(line, &code, &text)) {
	case '*':
		break;
	case 'E':
		exit(finish_err(c, code, text));
	default:
		text = "";
	}
	/* "xmppd N", maybe followed by words a later version adds. */
	if (strncmp(text, "xmppd ", 6) != 0 ||
	    (n = strspn(text + 6, "0123456789")) == 0 ||
	    n >= sizeof(num) || (text[6 + n] != '\0' && text[6 + n] != ' '))
		die(XC_UNREACHABLE, "%s is not an xmppd control socket",
		    c->path);
	memcpy(num, text + 6, n);
	num[n] = '\0';
	v = xstrtonum(num, 0, INT_MAX, &errstr);
	if (errstr != NULL || v != CTL_VERSION)
		die(XC_UNREACHABLE, "protocol version mismatch: daemon speaks "
		    "%s, xmppd-ctl speaks %d", num, CTL_VERSION);
}

static int
read_replies(struct ctl *c)
{
	char	*line, *code, *text, safe[40];
	int	 streaming = 0;

	for (;;) {
		if ((line = read_line(c)) == NULL)
			die(XC_UNREACHABLE, "xmppd at %s closed the connection "
			    "%s", c->path, streaming ? "(event stream ended)" :
			    "before its reply was complete");
		if (!utf8_valid(line, strlen(line)))
			die(XC_FAILED, "reply from xmppd is not UTF-8");
		switch (ctl_parse_reply(line, &code, &text)) {
		case 'D':
			on_data(c, text);
			break;
		case 'O':
			output->ok(c, text);
			flush_stdout();
			if (c->ci->cmd != CTL_EVENTS)
				return XC_OK;
			streaming = 1;
			break;
		case 'E':
			return finish_err(c, code, text);
		default:
			sanitize(safe, sizeof(safe), line);
			die(XC_FAILED, "unexpected reply from xmppd: %s", safe);
		}
	}
}

static void
ctl_close(struct ctl *c)
{
	size_t	i;

	close(c->fd);
	for (i = 0; i < c->ndata; i++)
		free(c->data[i]);
	free(c->data);
	free(c->rbuf);
	if (c->instance != NULL)
		free((char *)c->path);
}

/* Event lines go out as they come; the rest is kept for the renderer. */
static void
on_data(struct ctl *c, const char *text)
{
	if (c->ci->cmd == CTL_EVENTS) {
		put_safe(stdout, text);
		putchar('\n');
		flush_stdout();
		return;
	}
	c->data = xreallocarray(c->data, c->ndata + 1, sizeof(*c->data));
	c->data[c->ndata++] = xstrdup(text);
}

static int
finish_err(struct ctl *c, const char *code, const char *text)
{
	int	status;

	status = err_status(code);
	if (strcmp(code, CTL_ERR_DENIED) == 0 && !c->json)
		unreachable(c, EACCES);
	output->err(c, code, text);
	flush_stdout();
	return status;
}

static int
err_status(const char *code)
{
	if (strcmp(code, CTL_ERR_USAGE) == 0 ||
	    strcmp(code, CTL_ERR_UNKNOWN) == 0 ||
	    strcmp(code, CTL_ERR_TOOLONG) == 0 ||
	    strcmp(code, CTL_ERR_ENCODING) == 0)
		return XC_USAGE;
	if (strcmp(code, CTL_ERR_DENIED) == 0)
		return XC_UNREACHABLE;
	return XC_FAILED;
}

/*
 * A reader that went away (a bot that quit) is not worth a message;
 * any other output error is.
 */
static void
flush_stdout(void)
{
	if (fflush(stdout) == 0)
		return;
	if (errno == EPIPE)
		exit(XC_FAILED);
	die(XC_FAILED, "stdout: %s", strerror(errno));
}

static void
human_ok(struct ctl *c, const char *text)
{
	size_t	i;

	if (c->ci->cmd == CTL_STATUS)
		human_status(c);
	else if (c->ci->cmd == CTL_ROOMS)
		human_rooms(c);
	else if (c->ci->cmd == CTL_QUEUE && c->ndata > 0)
		queue_render(c, 0);
	else
		for (i = 0; i < c->ndata; i++) {
			put_safe(stdout, c->data[i]);
			putchar('\n');
		}
	/* Event lines own stdout; a greeting text would break parsers. */
	if (*text != '\0' && c->ci->cmd != CTL_EVENTS) {
		put_safe(stdout, text);
		putchar('\n');
	}
}

static void
human_err(struct ctl *c, const char *code, const char *text)
{
	(void)c;
	fputs("xmppd-ctl: ", stderr);
	put_safe(stderr, *text != '\0' ? text : code);
	fputc('\n', stderr);
}

/* "- KEY VALUE" lines as a two-column table. */
static void
human_status(struct ctl *c)
{
	size_t	i, klen, width = 0;

	for (i = 0; i < c->ndata; i++)
		if ((klen = strcspn(c->data[i], " ")) > width)
			width = klen;
	for (i = 0; i < c->ndata; i++) {
		klen = strcspn(c->data[i], " ");
		if (c->data[i][klen] == '\0') {
			put_safe(stdout, c->data[i]);
			putchar('\n');
			continue;
		}
		c->data[i][klen] = '\0';
		put_safe(stdout, c->data[i]);
		printf("%*s", (int)(width - klen + 2), "");
		if (strcmp(c->data[i], "since") == 0)
			put_since(c->data[i] + klen + 1);
		else
			put_safe(stdout, c->data[i] + klen + 1);
		putchar('\n');
	}
}

/* A Unix time as people read it: "2026-11-26 06:37:07 (5m ago)". */
static void
put_since(const char *v)
{
	const char	*errstr;
	char		 buf[64];
	time_t		 t, age;
	struct tm	 tm;

	t = (time_t)xstrtonum(v, 0, LLONG_MAX, &errstr);
	if (errstr != NULL || localtime_r(&t, &tm) == NULL) {
		put_safe(stdout, v);
		return;
	}
	strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
	age = time(NULL) - t;
	if (age < 0)
		age = 0;
	if (age < 120)
		printf("%s (%llds ago)", buf, (long long)age);
	else if (age < 7200)
		printf("%s (%lldm ago)", buf, (long long)age / 60);
	else if (age < 172800)
		printf("%s (%lldh ago)", buf, (long long)age / 3600);
	else
		printf("%s (%lldd ago)", buf, (long long)age / 86400);
}

static void
json_ok(struct ctl *c, const char *text)
{
	size_t	i;
	char	*q;

	if (c->ci->cmd == CTL_EVENTS)
		return;
	if (c->ci->cmd == CTL_QUEUE && (c->ndata > 0 || *text == '\0')) {
		queue_render(c, 1);
		return;
	}
	if (c->ci->cmd == CTL_STATUS) {
		json_status(c);
		return;
	}
	if (c->ci->cmd == CTL_ROOMS) {
		json_rooms(c);
		return;
	}
	if (c->ci->cmd == CTL_STATS) {
		json_stats(c);
		return;
	}
	q = ctl_json_quote(text);
	printf("{\"ok\":true,\"message\":%s", q);
	free(q);
	if (c->ndata > 0) {
		printf(",\"data\":[");
		for (i = 0; i < c->ndata; i++) {
			q = ctl_json_quote(c->data[i]);
			printf("%s%s", i > 0 ? "," : "", q);
			free(q);
		}
		putchar(']');
	}
	printf("}\n");
}

static void
json_err(struct ctl *c, const char *code, const char *text)
{
	char	*qc, *qt;

	(void)c;
	qc = ctl_json_quote(code);
	qt = ctl_json_quote(text);
	printf("{\"ok\":false,\"code\":%s,\"error\":%s}\n", qc, qt);
	free(qc);
	free(qt);
}

static void
json_status(struct ctl *c)
{
	size_t	 i, klen;
	char	*d;

	putchar('{');
	for (i = 0; i < c->ndata; i++) {
		d = c->data[i];
		klen = strcspn(d, " ");
		if (d[klen] != '\0')
			d[klen++] = '\0';
		json_pair(d, d + klen, i > 0);
	}
	printf("}\n");
}

static void
json_pair(const char *key, const char *value, int comma)
{
	char	*qk, *qv;

	qk = ctl_json_quote(key);
	if (json_number(key, value))
		printf("%s%s:%s", comma ? "," : "", qk, value);
	else {
		qv = ctl_json_quote(value);
		printf("%s%s:%s", comma ? "," : "", qk, qv);
		free(qv);
	}
	free(qk);
}

/* "stats": every value that is an integer is a JSON number. */
static void
json_stats(struct ctl *c)
{
	size_t	 i, klen, n;
	char	*d, *v, *qk, *qv;

	putchar('{');
	for (i = 0; i < c->ndata; i++) {
		d = c->data[i];
		klen = strcspn(d, " ");
		if (d[klen] != '\0')
			d[klen++] = '\0';
		v = d + klen;
		n = strspn(v + (*v == '-'), "0123456789");
		qk = ctl_json_quote(d);
		if (n > 0 && v[(*v == '-') + n] == '\0' &&
		    (n == 1 || v[*v == '-'] != '0'))
			printf("%s%s:%s", i > 0 ? "," : "", qk, v);
		else {
			qv = ctl_json_quote(v);
			printf("%s%s:%s", i > 0 ? "," : "", qk, qv);
			free(qv);
		}
		free(qk);
	}
	printf("}\n");
}

/* Counters and timestamps are numbers for jq; the rest stays text. */
static int
json_number(const char *key, const char *value)
{
	size_t	n;

	if (strcmp(key, "reconnects") != 0 && strcmp(key, "since") != 0 &&
	    strcmp(key, "resumptions") != 0)
		return 0;
	n = strspn(value, "0123456789");
	/* JSON has no leading zeros. */
	return n > 0 && value[n] == '\0' && (n == 1 || value[0] != '0');
}

/* clang-format off */
/* The fields of a "rooms" line, in order (ctlproto.h). */
static const char *const room_fields[] = {
	"room", "nick", "state", "since", "occupants", "configured",
	"reason", "last_error",
};
/* clang-format on */

/* Split a "rooms" line at its tabs; returns the number of fields. */
static size_t
room_split(char *line, char **f)
{
	size_t	n = 0;

	while (n < nitems(room_fields)) {
		f[n++] = line;
		if ((line = strchr(line, '\t')) == NULL)
			break;
		*line++ = '\0';
	}
	return n;
}

/* One room per line: room, nick, state, since, occupants, reason. */
static void
human_rooms(struct ctl *c)
{
	char	*f[nitems(room_fields)];
	size_t	 i, n;

	if (c->ndata == 0)
		printf("no rooms\n");
	for (i = 0; i < c->ndata; i++) {
		if ((n = room_split(c->data[i], f)) < 7) {
			put_safe(stdout, c->data[i]);
			putchar('\n');
			continue;
		}
		put_safe(stdout, f[0]);
		fputs("  ", stdout);
		put_safe(stdout, f[1]);
		fputs("  ", stdout);
		put_safe(stdout, f[2]);
		fputs("  since ", stdout);
		put_since(f[3]);
		fputs("  occupants ", stdout);
		put_safe(stdout, f[4]);
		fputs("  ", stdout);
		put_safe(stdout, f[6]);
		if (n > 7 && *f[7] != '\0' && strcmp(f[2], "joined") == 0) {
			fputs("  (last error: ", stdout);
			put_safe(stdout, f[7]);
			putchar(')');
		}
		putchar('\n');
	}
}

/* An array of objects; since and occupants as numbers. */
static void
json_rooms(struct ctl *c)
{
	char	*f[nitems(room_fields)], *q;
	size_t	 i, j, n, len;

	printf("{\"ok\":true,\"rooms\":[");
	for (i = 0; i < c->ndata; i++) {
		n = room_split(c->data[i], f);
		printf("%s{", i > 0 ? "," : "");
		for (j = 0; j < n; j++) {
			len = strlen(f[j]);
			if (j == 4 && len > 0 && f[j][len - 1] == '+') {
				f[j][len - 1] = '\0';
				printf(",\"occupants_more\":true");
			}
			q = ctl_json_quote(room_fields[j]);
			printf("%s%s:", j > 0 ? "," : "", q);
			free(q);
			if ((j == 3 || j == 4) && *f[j] != '\0' &&
			    strspn(f[j], "0123456789") == strlen(f[j]))
				printf("%s", f[j]);
			else {
				q = ctl_json_quote(f[j]);
				printf("%s", q);
				free(q);
			}
		}
		putchar('}');
	}
	printf("]}\n");
}

int
main(int argc, char *argv[])
{
	struct ctl	 c;
	const char	*sflag = NULL, *iflag = NULL, *errstr;
	static char	*line;	/* reachable for LeakSanitizer when we die */
	int		 ch, status, tflag = -1;

	memset(&c, 0, sizeof(c));
	c.fd = -1;
	/* A daemon that goes away must give EPIPE, not kill us. */
	signal(SIGPIPE, SIG_IGN);

	/* "+": stop at the command, so "send JID -x" keeps its "-x". */
	while ((ch = getopt(argc, argv, "+hi:js:t:")) != -1) {
		switch (ch) {
		case 'h':
			help();
		case 'i':
			iflag = optarg;
			break;
		case 'j':
			c.json = 1;
			output = &json_output;
			break;
		case 's':
			sflag = optarg;
			break;
		case 't':
			tflag = xstrtonum(optarg, 0, INT_MAX, &errstr);
			if (errstr != NULL)
				die(XC_USAGE, "timeout is %s: %s", errstr,
				    optarg);
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0 || (sflag != NULL && iflag != NULL))
		usage();

	c.ci = lookup_command(argv[0]);
	if (c.ci->cmd == CTL_HELP)
		help();
	if (c.ci->cmd != CTL_SEND) {
		line = build_request(c.ci, argc - 1, argv + 1);
		check_request(line);
	}
	c.path = socket_path(&c, sflag, iflag);

	/* Streams run until interrupted unless a limit was asked for. */
	if (tflag >= 0)
		c.timeout = tflag;
	else if (c.ci->cmd != CTL_EVENTS && c.ci->cmd != CTL_WAIT_ONLINE)
		c.timeout = DEFAULT_TIMEOUT;
	if (c.timeout > 0)
		c.deadline = monotime_ms() + (uint64_t)c.timeout * 1000;
	if (c.ci->cmd == CTL_SEND)
		return send_main(&c, argc - 1, argv + 1);

	ctl_connect(&c);
	read_greeting(&c);
	send_line(&c, line);
	freezero_str(line);
	status = read_replies(&c);
	ctl_close(&c);
	return status;
}

/* ---------------------------------------------------------------------- */
/* queue */

/* Data lines: ID, STATE, CREATED, TRIES, RECIPIENTS, LAST-ERROR (tabs). */
static void
queue_render(struct ctl *c, int json)
{
	const char	*errstr;
	char		*f[6], *p, *q;
	size_t		 i;
	int		 k;
	long long	 age;

	if (json)
		putchar('[');
	else
		printf("%-24s %-8s %6s %5s  %s\n", "ID", "STATE", "AGE",
		    "TRIES", "RECIPIENTS (LAST ERROR)");
	for (i = 0; i < c->ndata; i++) {
		for (k = 0, p = c->data[i]; k < 6; k++)
			if ((f[k] = strsep(&p, "\t")) == NULL)
				f[k] = (char *)"";
		age = (long long)time(NULL) - xstrtonum(f[2], 0, LLONG_MAX,
		    &errstr);
		age = errstr != NULL || age < 0 ? 0 : age;
		if (!json) {
			for (k = 0; k < 6; k++)
				sanitize_inplace(f[k]);
			printf("%-24s %-8s %5llds %5s  %s%s%s%s\n", f[0], f[1],
			    age, f[3], f[4], *f[5] == '-' ? "" : " (",
			    *f[5] == '-' ? "" : f[5], *f[5] == '-' ? "" : ")");
			continue;
		}
		printf("%s{", i > 0 ? "," : "");
		json_pair("id", f[0], 0);
		json_pair("state", f[1], 1);
		printf(",\"age\":%lld,\"tries\":%lld,\"recipients\":[", age,
		    xstrtonum(f[3], 0, INT_MAX, &errstr));
		for (k = 0, p = f[4]; (q = strsep(&p, ",")) != NULL; k++) {
			q = ctl_json_quote(q);
			printf("%s%s", k ? "," : "", q);
			free(q);
		}
		putchar(']');
		json_pair("error", *f[5] == '-' ? "" : f[5], 1);
		putchar('}');
	}
	if (json)
		printf("]\n");
}

/* The daemon relays server text: no terminal controls in the table. */
static void
sanitize_inplace(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

/* ---------------------------------------------------------------------- */
/* send */

struct send_opts {
	char		*head;		/* "send [OPTIONS] JID..." */
	int		 wait;
	int		 lines;
};

/* A recipient word: no spaces or controls, an '@' unless it is first. */
static int
send_is_jid(const char *s, int first)
{
	const unsigned char	*p;

	if (*s == '\0' || *s == '-')
		return 0;
	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p <= 0x20 || *p == 0x7f)
			return 0;
	return first || strchr(s, '@') != NULL;
}

/* The whole of stdin, at most CTL_PAYLOAD_MAX bytes. */
static char *
send_read_stdin(size_t *lenp)
{
	char	*buf = xmalloc(CTL_PAYLOAD_MAX + 2);
	size_t	 len = 0, n;

	while ((n = fread(buf + len, 1, CTL_PAYLOAD_MAX + 1 - len,
	    stdin)) > 0)
		if ((len += n) > CTL_PAYLOAD_MAX)
			die(XC_USAGE, "the message is longer than %d bytes",
			    CTL_PAYLOAD_MAX);
	if (ferror(stdin))
		die(XC_FAILED, "reading standard input: %s", strerror(errno));
	/* What echo and editors add is not part of the message. */
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	buf[len] = '\0';
	*lenp = len;
	return buf;
}

/* Options and recipients into o->head; the TEXT words, or NULL. */
static char *
send_parse(struct ctl *c, int argc, char **argv, struct send_opts *o)
{
	const char	*usage = "usage: xmppd-ctl send [--type chat|normal|"
	    "headline] [--receipt] [--wait acked|received] [--lines] "
	    "JID... [TEXT]";
	const char	*e;
	char		*h, *t;
	int		 i, nto = 0, val;

	memset(o, 0, sizeof(*o));
	o->head = xstrdup("send");
	for (i = 0; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
		if (strcmp(argv[i], "--") == 0 && ++i)
			break;
		if (strcmp(argv[i], "-t") == 0 && i + 1 < argc) {
			c->timeout = (int)xstrtonum(argv[++i], 0, INT_MAX, &e);
			if (e != NULL)
				die(XC_USAGE, "timeout is %s: %s", e, argv[i]);
			c->deadline = c->timeout == 0 ? 0 : monotime_ms() +
			    (uint64_t)c->timeout * 1000;
			continue;
		}
		if (strcmp(argv[i], "--lines") == 0) {
			o->lines = 1;
			continue;
		}
		val = strcmp(argv[i], "--receipt") != 0;
		if ((val && strcmp(argv[i], "--type") != 0 &&
		    strcmp(argv[i], "--wait") != 0) || (!val &&
		    strcmp(argv[i], "--receipt") != 0) ||
		    (val && (i + 1 >= argc || !send_is_jid(argv[i + 1], 1))))
			die(XC_USAGE, "%s", usage);
		o->wait |= strcmp(argv[i], "--wait") == 0;
		xasprintf(&h, "%s %s%s%s", o->head, argv[i], val ? " " : "",
		    val ? argv[i + 1] : "");
		free(o->head);
		o->head = h;
		i += val;
	}
	for (; i < argc && nto < CTL_MAX_RCPT &&
	    send_is_jid(argv[i], nto == 0); i++, nto++) {
		xasprintf(&h, "%s %s", o->head, argv[i]);
		free(o->head);
		o->head = h;
	}
	if (nto == 0)
		die(XC_USAGE, "%s", usage);
	if (strlen(o->head) + 12 >= CTL_LINE_MAX)
		die(XC_USAGE, "too many or too long recipients");
	if (i == argc || (i == argc - 1 && strcmp(argv[i], "-") == 0))
		return NULL;
	if (o->lines)
		die(XC_USAGE, "send --lines reads standard input; no TEXT");
	t = join_args("", argc - i, argv + i);
	memmove(t, t + 1, strlen(t));
	return t;
}

static int
send_raw(struct ctl *c, const char *buf, size_t len)
{
	size_t	off = 0;
	ssize_t	n;

	while (off < len) {
		wait_io(c, POLLOUT);
		if ((n = write(c->fd, buf + off, len - off)) == -1) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			/* A refused payload: the reason is ours to read. */
			if (c->ci->cmd == CTL_SEND && errno == EPIPE)
				return -1;
			die(XC_UNREACHABLE, "write to %s: %s", c->path,
			    strerror(errno));
		}
		off += (size_t)n;
	}
	return 0;
}

static void
send_print(struct ctl *c, const char *id, const char *state)
{
	char	*q;

	if (c->json) {
		q = ctl_json_quote(id);
		printf("{\"ok\":true,\"id\":%s,\"state\":\"%s\"}\n", q, state);
		free(q);
	} else
		printf("%s\n", id);
	flush_stdout();
}

/* One message's request. */
static void
send_request(struct ctl *c, const struct send_opts *o, const char *body,
    size_t len)
{
	char	*req;
	size_t	 n;

	if (len == 0)
		die(XC_USAGE, "the message is empty");
	if (!ctl_text_valid(body, len))
		die(XC_USAGE, "the message is not UTF-8 text that XML can "
		    "carry (NUL, control characters, U+FFFE or U+FFFF)");
	n = (size_t)xasprintf(&req, "%s {%zu}\n", o->head, len);
	if (send_raw(c, req, n) == 0 && send_raw(c, body, len) == 0)
		send_raw(c, "\n", 1);
	free(req);
}

/* One message's replies.  Returns the exit status. */
static int
send_reply(struct ctl *c, const struct send_opts *o)
{
	char	*line, *code, *text, id[80] = "";

	for (;;) {
		if ((line = read_line(c)) == NULL)
			die(XC_UNREACHABLE, "xmppd at %s closed the connection "
			    "before its reply was complete", c->path);
		switch (ctl_parse_reply(line, &code, &text)) {
		case 'D':
			if (strncmp(text, "queued ", 7) == 0) {
				strlcpy(id, text + 7, sizeof(id));
				send_print(c, id, "queued");
			}
			break;
		case 'O':
			if (!o->wait)
				send_print(c, text, "queued");
			else if (c->json)
				send_print(c, id, strchr(text, ' ') ?
				    strchr(text, ' ') + 1 : "");
			return XC_OK;
		case 'E':
			return finish_err(c, code, text);
		default:
			die(XC_FAILED, "unexpected reply from xmppd");
		}
	}
}

static int
send_one(struct ctl *c, const struct send_opts *o, const char *body,
    size_t len)
{
	send_request(c, o, body, len);
	return send_reply(c, o);
}

/*
 * send --lines without --wait: up to SEND_WINDOW requests on the way, so
 * that xmppd commits them together (one directory fsync for all that
 * arrive at once); replies are read as they come, in order.  Standard
 * input is unbuffered so that poll() tells when a line is there.
 */
#define SEND_WINDOW	64

static int
send_lines_pipelined(struct ctl *c, const struct send_opts *o)
{
	struct pollfd	 pfd[2];
	char		*line;
	int		 status = XC_OK, r, out = 0, eof = 0, n;

	setvbuf(stdin, NULL, _IONBF, 0);
	for (;;) {
		if (c->timeout > 0)
			c->deadline = monotime_ms() +
			    (uint64_t)c->timeout * 1000;
		if (out > 0 && (eof || out >= SEND_WINDOW ||
		    memchr(c->rbuf + c->roff, '\n', c->rlen - c->roff))) {
			if ((r = send_reply(c, o)) != XC_OK)
				status = r;
			out--;
			continue;
		}
		if (eof)
			break;
		if (out > 0) {
			pfd[0].fd = STDIN_FILENO;
			pfd[0].events = POLLIN;
			pfd[1].fd = c->fd;
			pfd[1].events = POLLIN;
			n = poll(pfd, 2, c->timeout > 0 ? remaining_ms(c) : -1);
			if (n == -1 && errno != EINTR)
				die(XC_FAILED, "poll: %s", strerror(errno));
			if (n == 0)
				timed_out(c);
			if (n > 0 && pfd[1].revents != 0) {
				if ((r = send_reply(c, o)) != XC_OK)
					status = r;
				out--;
				continue;
			}
			if (n <= 0 || pfd[0].revents == 0)
				continue;
		}
		if ((line = read_stdin_line()) == NULL) {
			eof = 1;
			continue;
		}
		if (*line != '\0') {
			send_request(c, o, line, strlen(line));
			out++;
		}
		free(line);
	}
	return status;
}

static int
send_main(struct ctl *c, int argc, char **argv)
{
	struct send_opts	 o;
	char			*body, *line;
	size_t			 len;
	int			 status = XC_OK, r;

	body = send_parse(c, argc, argv, &o);
	if (o.lines && !o.wait) {
		ctl_connect(c);
		read_greeting(c);
		status = send_lines_pipelined(c, &o);
	} else if (o.lines) {
		ctl_connect(c);
		read_greeting(c);
		while ((line = read_stdin_line()) != NULL) {
			if (*line != '\0') {
				if (c->timeout > 0)
					c->deadline = monotime_ms() +
					    (uint64_t)c->timeout * 1000;
				if ((r = send_one(c, &o, line,
				    strlen(line))) != XC_OK)
					status = r;
			}
			free(line);
		}
	} else {
		if (body != NULL)
			len = strlen(body);
		else
			body = send_read_stdin(&len);
		ctl_connect(c);
		read_greeting(c);
		status = send_one(c, &o, body, len);
		free(body);
	}
	free(o.head);
	ctl_close(c);
	return status;
}
