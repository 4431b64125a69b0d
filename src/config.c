/*
 * config.c: read, check and print xmppd.conf(5).
 *
 * The format is deliberately small: "key = value" lines, full-line '#'
 * comments, optional double quotes around a value.  Every key has one
 * setter in a table; the setter validates and stores, the parser around it
 * deals with lines, quoting, duplicates and error messages, which always
 * say "FILE:LINE: KEY: what is wrong" so an operator can go straight to it.
 * A leaf module: nothing is logged, errors go back through *cause.
 */
#include "compat.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config.h"
#include "jid.h"
#include "roomconf.h"
#include "util.h"
#include "xmalloc.h"

#ifndef RUNSTATEDIR
#define RUNSTATEDIR	"/run"
#endif
#ifndef LOCALSTATEDIR
#define LOCALSTATEDIR	"/var"
#endif
#ifndef SYSCONFDIR
#define SYSCONFDIR	"/etc"
#endif

#define CONF_FILE_MAX	(1024 * 1024)	/* bytes in a config file */
#define CONF_LINE_MAX	4096		/* bytes in a line, without '\n' */
#define CONF_SECRET_MAX	4096		/* bytes in a password file */
#define CONF_PASSWORD_MAX 1024		/* bytes of a password (SASL's limit) */
#define CONF_STATUS_MAX	1024		/* bytes of presence_status */
#define CONF_STANZA_MIN	4096
#define CONF_STANZA_MAX	(16 * 1024 * 1024)
#define CONF_OUTBOX_BYTES_MAX	(64LL * 1024 * 1024 * 1024)

struct conf_key {
	const char	*name;
	int		(*set)(struct config *, const char *, char **);
};

struct conf_parser {
	const char	*name;		/* file name for messages */
	struct config	*conf;
	int		*seen;		/* line of each key, 0 if absent */
	char		*cause;
};

static void	 conf_defaults(struct config *, const char *);
static char	*conf_default_socket(const char *);
static int	 conf_error(struct conf_parser *, int, const char *,
		    const char *, ...)
		    __attribute__((__format__(printf, 4, 5)));
static int	 conf_line(struct conf_parser *, int, const char *, size_t);
static int	 conf_kv(struct conf_parser *, int, char *);
static int	 conf_unquote(char *, const char **);
static int	 conf_finish(struct conf_parser *);
static char	*conf_trim(char *);
static const struct conf_key *conf_lookup(const char *);
static int	 conf_seen(struct conf_parser *, const char *);
static int	 conf_room_kv(struct conf_parser *, int, const char *, char *);

static int	 parse_bool(const char *, int *, char **);
static int	 parse_uint(const char *, long long, long long, unsigned int *,
		    char **);
static int	 parse_abspath(const char *, char **, char **);
static int	 parse_host(const char *, size_t, char **);

static int	 set_jid(struct config *, const char *, char **);
static int	 set_password(struct config *, const char *, char **);
static int	 set_password_file(struct config *, const char *, char **);
static int	 set_server(struct config *, const char *, char **);
static int	 set_tls(struct config *, const char *, char **);
static int	 set_ca_file(struct config *, const char *, char **);
static int	 set_tls_verify(struct config *, const char *, char **);
static int	 set_presence_show(struct config *, const char *, char **);
static int	 set_presence_status(struct config *, const char *, char **);
static int	 set_priority(struct config *, const char *, char **);
static int	 set_ping_interval(struct config *, const char *, char **);
static int	 set_ping_timeout(struct config *, const char *, char **);
static int	 set_reconnect_min(struct config *, const char *, char **);
static int	 set_reconnect_max(struct config *, const char *, char **);
static int	 set_connect_timeout(struct config *, const char *, char **);
static int	 set_subscriptions(struct config *, const char *, char **);
static int	 set_control_socket(struct config *, const char *, char **);
static int	 set_control_group(struct config *, const char *, char **);
static int	 set_max_stanza_size(struct config *, const char *, char **);
static int	 set_auto_register(struct config *, const char *, char **);
static int	 set_resume_after_restart(struct config *, const char *,
		    char **);
static int	 set_state_dir(struct config *, const char *, char **);
static int	 set_log_level(struct config *, const char *, char **);
static int	 set_outbox_max_messages(struct config *, const char *,
		    char **);
static int	 set_outbox_max_bytes(struct config *, const char *, char **);
static int	 set_outbox_lifetime(struct config *, const char *, char **);
static int	 set_outbox_rate(struct config *, const char *, char **);
static int	 set_outbox_burst(struct config *, const char *, char **);
static int	 set_csi(struct config *, const char *, char **);

static int	 read_file(int, const char *, size_t, char **, size_t *,
		    char **);
static int	 read_secret(const char *, char **, int *, char **);
static void	 print_str(FILE *, const char *, const char *);

/* clang-format off */
/* Also the order of config_print(); keep in step with xmppd.conf(5). */
static const struct conf_key conf_keys[] = {
	{ "jid",		set_jid },
	{ "password",		set_password },
	{ "password_file",	set_password_file },
	{ "server",		set_server },
	{ "tls",		set_tls },
	{ "ca_file",		set_ca_file },
	{ "tls_verify",		set_tls_verify },
	{ "presence_show",	set_presence_show },
	{ "presence_status",	set_presence_status },
	{ "priority",		set_priority },
	{ "ping_interval",	set_ping_interval },
	{ "ping_timeout",	set_ping_timeout },
	{ "reconnect_min",	set_reconnect_min },
	{ "reconnect_max",	set_reconnect_max },
	{ "connect_timeout",	set_connect_timeout },
	{ "subscriptions",	set_subscriptions },
	{ "control_socket",	set_control_socket },
	{ "control_group",	set_control_group },
	{ "max_stanza_size",	set_max_stanza_size },
	{ "auto_register",	set_auto_register },
	{ "resume_after_restart", set_resume_after_restart },
	{ "state_dir",		set_state_dir },
	{ "log_level",		set_log_level },
	{ "outbox_max_messages", set_outbox_max_messages },
	{ "outbox_max_bytes",	set_outbox_max_bytes },
	{ "outbox_lifetime",	set_outbox_lifetime },
	{ "outbox_rate",	set_outbox_rate },
	{ "outbox_burst",	set_outbox_burst },
	{ "csi",		set_csi },
};
/* clang-format on */

/* --- value parsers ------------------------------------------------------ */

static int
parse_bool(const char *v, int *out, char **msg)
{
	static const char *yes[] = { "yes", "true", "on", "1" };
	static const char *no[] = { "no", "false", "off", "0" };
	size_t	i;

	for (i = 0; i < nitems(yes); i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	xasprintf(msg, "invalid boolean '%s' (expected yes or no)", v);
	return -1;
}

static int
parse_uint(const char *v, long long min, long long max, unsigned int *out,
    char **msg)
{
	const char	*errstr;
	long long	 n;

	n = xstrtonum(v, min, max, &errstr);
	if (errstr != NULL && strcmp(errstr, "invalid") == 0) {
		xasprintf(msg, "invalid number '%s'", v);
		return -1;
	}
	if (errstr != NULL) {
		xasprintf(msg, "%s is out of range (%lld..%lld)", v, min, max);
		return -1;
	}
	*out = (unsigned int)n;
	return 0;
}

static int
parse_abspath(const char *v, char **out, char **msg)
{
	if (v[0] != '/') {
		xasprintf(msg, "'%s' is not an absolute path", v);
		return -1;
	}
	free(*out);
	*out = xstrdup(v);
	return 0;
}

/* A host name or IPv4 address: what getaddrinfo would be asked for. */
static int
parse_host(const char *h, size_t len, char **msg)
{
	struct jid	 j;
	const char	*errstr;
	char		*s;
	int		 rc;

	if (len == 0) {
		*msg = xstrdup("empty host name");
		return -1;
	}
	s = xstrndup(h, len);
	rc = jid_parse(s, &j, &errstr);
	if (rc == 0 && (j.local != NULL || j.resource != NULL)) {
		rc = -1;
		errstr = "invalid host name";
	}
	if (rc == -1)
		xasprintf(msg, "invalid host '%s': %s", s, errstr);
	jid_clear(&j);
	free(s);
	return rc;
}

/* --- key setters -------------------------------------------------------- */

static int
set_jid(struct config *c, const char *v, char **msg)
{
	const char	*errstr;

	if (jid_parse(v, &c->jid, &errstr) == -1) {
		xasprintf(msg, "invalid JID '%s': %s", v, errstr);
		return -1;
	}
	/*
	 * The account is user@domain; a bare domain cannot log in.  A word
	 * without a dot ("bot") is a user that lacks its domain.
	 */
	if (c->jid.local == NULL) {
		if (strchr(c->jid.domain, '.') == NULL &&
		    strchr(c->jid.domain, ':') == NULL)
			xasprintf(msg, "invalid JID '%s': missing domain "
			    "(expected user@domain, as in %s@example.org)",
			    v, c->jid.domain);
		else
			xasprintf(msg, "invalid JID '%s': missing localpart "
			    "(expected user@domain)", v);
		jid_clear(&c->jid);
		return -1;
	}
	c->jid_str = xstrdup(v);
	return 0;
}

static int
set_password(struct config *c, const char *v, char **msg)
{
	size_t	n;

	if (*v == '\0') {
		*msg = xstrdup("empty password");
		return -1;
	}
	if (strlen(v) > CONF_PASSWORD_MAX) {
		xasprintf(msg, "password too long (max %d bytes)",
		    CONF_PASSWORD_MAX);
		return -1;
	}
	/* SASL refuses them at login; say so now (the tab passes lines). */
	if ((n = strcspn(v, "\t\x7f")) != strlen(v)) {
		xasprintf(msg, "control character in password at byte %zu",
		    n);
		return -1;
	}
	c->password = xstrdup(v);
	c->password_in_config = 1;
	return 0;
}

static int
set_password_file(struct config *c, const char *v, char **msg)
{
	return parse_abspath(v, &c->password_file, msg);
}

/* host, host:port, [v6] or [v6]:port */
static int
set_server(struct config *c, const char *v, char **msg)
{
	const char	*host = v, *port = NULL, *end, *colon;
	char		 buf[INET6_ADDRSTRLEN + 1];
	struct in6_addr	 a6;
	unsigned int	 p;
	size_t		 hlen;

	if (v[0] == '[') {
		if ((end = strchr(v, ']')) == NULL || (end[1] != '\0' &&
		    end[1] != ':') || (hlen = end - v - 1) >= sizeof(buf)) {
			xasprintf(msg, "invalid server '%s'", v);
			return -1;
		}
		memcpy(buf, v + 1, hlen);
		buf[hlen] = '\0';
		if (inet_pton(AF_INET6, buf, &a6) != 1) {
			xasprintf(msg, "invalid IPv6 address '%s'", buf);
			return -1;
		}
		host = v + 1;
		if (end[1] == ':')
			port = end + 2;
	} else {
		colon = strchr(v, ':');
		if (colon != NULL && strchr(colon + 1, ':') != NULL) {
			xasprintf(msg, "invalid server '%s': put an IPv6 "
			    "address in brackets, as in [%s]:5222", v, v);
			return -1;
		}
		hlen = colon != NULL ? (size_t)(colon - v) : strlen(v);
		if (parse_host(v, hlen, msg) == -1)
			return -1;
		if (colon != NULL)
			port = colon + 1;
	}
	if (port != NULL && parse_uint(port, 1, 65535, &p, msg) == -1)
		return -1;
	c->server_host = xstrndup(host, hlen);
	c->server_port = port != NULL ? (uint16_t)p : 0;
	return 0;
}

static int
set_tls(struct config *c, const char *v, char **msg)
{
	if (strcmp(v, "auto") == 0)
		c->tls = TLS_MODE_AUTO;
	else if (strcmp(v, "starttls") == 0)
		c->tls = TLS_MODE_STARTTLS;
	else if (strcmp(v, "direct") == 0)
		c->tls = TLS_MODE_DIRECT;
	else {
		xasprintf(msg, "invalid value '%s' (expected auto, starttls "
		    "or direct)", v);
		return -1;
	}
	return 0;
}

static int
set_ca_file(struct config *c, const char *v, char **msg)
{
	return parse_abspath(v, &c->ca_file, msg);
}

static int
set_tls_verify(struct config *c, const char *v, char **msg)
{
	return parse_bool(v, &c->tls_verify, msg);
}

static int
set_presence_show(struct config *c, const char *v, char **msg)
{
	if (!presence_show_valid(v)) {
		xasprintf(msg, "invalid value '%s' (expected " PRESENCE_SHOWS
		    ")", v);
		return -1;
	}
	/* "available" is the absence of <show/> on the wire. */
	if (strcmp(v, "available") != 0)
		c->presence_show = xstrdup(v);
	return 0;
}

static int
set_presence_status(struct config *c, const char *v, char **msg)
{
	if (strlen(v) > CONF_STATUS_MAX) {
		xasprintf(msg, "too long (max %d bytes)", CONF_STATUS_MAX);
		return -1;
	}
	if (*v != '\0')
		c->presence_status = xstrdup(v);
	return 0;
}

static int
set_priority(struct config *c, const char *v, char **msg)
{
	const char	*errstr;
	long long	 n;

	/* Signed, so parse_uint() does not fit. */
	n = xstrtonum(v, -128, 127, &errstr);
	if (errstr != NULL && strcmp(errstr, "invalid") == 0) {
		xasprintf(msg, "invalid number '%s'", v);
		return -1;
	}
	if (errstr != NULL) {
		xasprintf(msg, "%s is out of range (-128..127)", v);
		return -1;
	}
	c->priority = (int)n;
	return 0;
}

static int
set_ping_interval(struct config *c, const char *v, char **msg)
{
	return parse_uint(v, 0, 86400, &c->ping_interval, msg);
}

static int
set_ping_timeout(struct config *c, const char *v, char **msg)
{
	return parse_uint(v, 1, 3600, &c->ping_timeout, msg);
}

static int
set_reconnect_min(struct config *c, const char *v, char **msg)
{
	return parse_uint(v, 1, 3600, &c->reconnect_min, msg);
}

/* The lower bound, reconnect_min, is checked once the whole file is read. */
static int
set_reconnect_max(struct config *c, const char *v, char **msg)
{
	return parse_uint(v, 1, 86400, &c->reconnect_max, msg);
}

static int
set_connect_timeout(struct config *c, const char *v, char **msg)
{
	return parse_uint(v, 1, 300, &c->connect_timeout, msg);
}

static int
set_subscriptions(struct config *c, const char *v, char **msg)
{
	if (strcmp(v, "accept") == 0)
		c->subscriptions = SUBS_ACCEPT;
	else if (strcmp(v, "ignore") == 0)
		c->subscriptions = SUBS_IGNORE;
	else {
		xasprintf(msg, "invalid value '%s' (expected accept or "
		    "ignore)", v);
		return -1;
	}
	return 0;
}

static int
set_control_socket(struct config *c, const char *v, char **msg)
{
	struct sockaddr_un	sun;

	if (strlen(v) >= sizeof(sun.sun_path)) {
		xasprintf(msg, "path too long (max %zu bytes)",
		    sizeof(sun.sun_path) - 1);
		return -1;
	}
	return parse_abspath(v, &c->control_socket, msg);
}

/* Only the spelling is checked: the group may not exist yet at -n time. */
static int
set_control_group(struct config *c, const char *v, char **msg)
{
	size_t	i, len = strlen(v);

	for (i = 0; i < len; i++) {
		unsigned char ch = v[i];

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '_' ||
		    (i > 0 && (ch == '-' || ch == '.')) ||
		    (i > 0 && i == len - 1 && ch == '$'))
			continue;
		xasprintf(msg, "invalid group name '%s'", v);
		return -1;
	}
	c->control_group = xstrdup(v);
	return 0;
}

/* Bytes, or KiB/MiB with a k/K or m/M suffix. */
static int
set_max_stanza_size(struct config *c, const char *v, char **msg)
{
	const char	*errstr;
	char		*num;
	size_t		 len = strlen(v);
	long long	 n, mul = 1;

	if (len > 1 && strchr("kK", v[len - 1]) != NULL)
		mul = 1024;
	else if (len > 1 && strchr("mM", v[len - 1]) != NULL)
		mul = 1024 * 1024;
	num = xstrndup(v, mul == 1 ? len : len - 1);
	n = xstrtonum(num, 0, CONF_STANZA_MAX, &errstr);
	free(num);
	if (errstr != NULL && strcmp(errstr, "invalid") == 0) {
		xasprintf(msg, "invalid size '%s'", v);
		return -1;
	}
	if (errstr != NULL || n * mul < CONF_STANZA_MIN ||
	    n * mul > CONF_STANZA_MAX) {
		xasprintf(msg, "%s is out of range (%d..%d bytes)", v,
		    CONF_STANZA_MIN, CONF_STANZA_MAX);
		return -1;
	}
	c->max_stanza_size = (size_t)(n * mul);
	return 0;
}

static int
set_resume_after_restart(struct config *c, const char *v, char **msg)
{
	return parse_bool(v, &c->resume_after_restart, msg);
}

static int
set_auto_register(struct config *c, const char *v, char **msg)
{
	return parse_bool(v, &c->auto_register, msg);
}

static int
set_state_dir(struct config *c, const char *v, char **msg)
{
	return parse_abspath(v, &c->state_dir, msg);
}

static int
set_log_level(struct config *c, const char *v, char **msg)
{
	if (strcmp(v, "info") == 0)
		c->log_verbose = 0;
	else if (strcmp(v, "debug") == 0)
		c->log_verbose = 1;
	else {
		xasprintf(msg, "invalid value '%s' (expected info or debug)",
		    v);
		return -1;
	}
	return 0;
}

/* --- the parser --------------------------------------------------------- */

/*
 * The control socket is named after the config file, so that template
 * instances (/etc/xmppd/NAME.conf) get /run/xmppd/NAME.sock without
 * configuring anything.
 */
static char *
conf_default_socket(const char *path)
{
	const char	*base;
	char		*s;
	size_t		 len;

	base = strrchr(path, '/');
	base = base != NULL ? base + 1 : path;
	len = strlen(base);
	if (len > 5 && strcmp(base + len - 5, ".conf") == 0)
		len -= 5;
	if (len == 0 || strcmp(base, ".conf") == 0) {
		base = "xmppd";
		len = 5;
	}
	xasprintf(&s, "%s/xmppd/%.*s.sock", RUNSTATEDIR, (int)len, base);
	return s;
}

/* --- the outbox -------------------------------------------------------- */

static int
set_outbox_max_messages(struct config *c, const char *v, char **msg)
{
	unsigned int	n;

	if (parse_uint(v, 0, 10000000, &n, msg) == -1)
		return -1;
	c->outbox_max_messages = n;
	return 0;
}

/* Bytes, or with a k/K, m/M or g/G suffix; 0 means no limit. */
static int
set_outbox_max_bytes(struct config *c, const char *v, char **msg)
{
	const char	*errstr;
	char		*num;
	size_t		 len = strlen(v);
	long long	 n, mul = 1;

	if (len > 1 && strchr("kK", v[len - 1]) != NULL)
		mul = 1024;
	else if (len > 1 && strchr("mM", v[len - 1]) != NULL)
		mul = 1024 * 1024;
	else if (len > 1 && strchr("gG", v[len - 1]) != NULL)
		mul = 1024 * 1024 * 1024;
	num = xstrndup(v, mul == 1 ? len : len - 1);
	n = xstrtonum(num, 0, CONF_OUTBOX_BYTES_MAX, &errstr);
	free(num);
	if (errstr != NULL || n * mul > CONF_OUTBOX_BYTES_MAX) {
		xasprintf(msg, "invalid size '%s' (bytes, or with k, m or g; "
		    "at most 64g; 0 for no limit)", v);
		return -1;
	}
	c->outbox_max_bytes = (uint64_t)(n * mul);
	return 0;
}

static int
set_outbox_lifetime(struct config *c, const char *v, char **msg)
{
	return parse_uint(v, 0, 31536000, &c->outbox_lifetime, msg);
}

/* Messages per second, with up to three decimals; 0 turns it off. */
static int
set_outbox_rate(struct config *c, const char *v, char **msg)
{
	const char	*p;
	uint64_t	 whole = 0, frac = 0;
	int		 digits = 0, fdigits = 0;

	for (p = v; *p >= '0' && *p <= '9' && digits < 6; p++, digits++)
		whole = whole * 10 + (uint64_t)(*p - '0');
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9' && fdigits < 3; p++,
		    fdigits++)
			frac = frac * 10 + (uint64_t)(*p - '0');
	if (digits == 0 || *p != '\0' || (v[digits] == '.' && fdigits == 0) ||
	    whole > 100000) {
		xasprintf(msg, "invalid rate '%s' (messages per second, e.g. "
		    "5 or 0.5, at most 100000; 0 turns the limit off)", v);
		return -1;
	}
	while (fdigits++ < 3)
		frac *= 10;
	c->outbox_rate_milli = whole * 1000 + frac;
	return 0;
}

static int
set_outbox_burst(struct config *c, const char *v, char **msg)
{
	return parse_uint(v, 1, 100000, &c->outbox_burst, msg);
}

static int
set_csi(struct config *c, const char *v, char **msg)
{
	return parse_bool(v, &c->csi, msg);
}

static void
conf_defaults(struct config *c, const char *name)
{
	c->path = xstrdup(name);
	c->tls = TLS_MODE_AUTO;
	c->tls_verify = 1;
	c->ping_interval = CONFIG_DEFAULT_PING_INTERVAL;
	c->ping_timeout = CONFIG_DEFAULT_PING_TIMEOUT;
	c->reconnect_min = CONFIG_DEFAULT_RECONNECT_MIN;
	c->reconnect_max = CONFIG_DEFAULT_RECONNECT_MAX;
	c->connect_timeout = CONFIG_DEFAULT_CONNECT_TIMEOUT;
	c->subscriptions = SUBS_ACCEPT;
	c->max_stanza_size = CONFIG_DEFAULT_MAX_STANZA;
	c->outbox_max_messages = CONFIG_DEFAULT_OUTBOX_MESSAGES;
	c->outbox_max_bytes = CONFIG_DEFAULT_OUTBOX_BYTES;
	c->outbox_lifetime = CONFIG_DEFAULT_OUTBOX_LIFETIME;
	c->outbox_rate_milli = CONFIG_DEFAULT_OUTBOX_RATE_MILLI;
	c->outbox_burst = CONFIG_DEFAULT_OUTBOX_BURST;
	c->csi = 1;
}

/* Record the first error as "NAME[:LINE][: KEY]: message"; returns -1. */
static int
conf_error(struct conf_parser *p, int line, const char *key,
    const char *fmt, ...)
{
	va_list	 ap;
	char	*msg, lbuf[16] = "";
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	msg = xmalloc(n + 1);
	va_start(ap, fmt);
	vsnprintf(msg, n + 1, fmt, ap);
	va_end(ap);
	if (line > 0)
		snprintf(lbuf, sizeof(lbuf), ":%d", line);
	xasprintf(&p->cause, "%s%s: %s%s%s", p->name, lbuf,
	    key != NULL ? key : "", key != NULL ? ": " : "", msg);
	free(msg);
	return -1;
}

static char *
conf_trim(char *s)
{
	char	*e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

/*
 * Undo "..." quoting in place: \" and \\ are the only escapes, and
 * nothing but blanks may follow the closing quote.
 */
static int
conf_unquote(char *s, const char **err)
{
	char	*r = s + 1, *w = s;

	for (; *r != '"'; r++) {
		if (*r == '\0') {
			*err = "unterminated quoted value";
			return -1;
		}
		if (*r == '\\') {
			r++;
			if (*r != '"' && *r != '\\') {
				*err = "invalid escape in quoted value "
				    "(only \\\" and \\\\ are allowed)";
				return -1;
			}
		}
		*w++ = *r;
	}
	for (r++; *r == ' ' || *r == '\t'; r++)
		;
	if (*r != '\0') {
		*err = "unexpected text after closing quote";
		return -1;
	}
	*w = '\0';
	return 0;
}

static const struct conf_key *
conf_lookup(const char *key)
{
	size_t	i;

	for (i = 0; i < nitems(conf_keys); i++)
		if (strcmp(conf_keys[i].name, key) == 0)
			return &conf_keys[i];
	return NULL;
}

/* The line where key was set, or 0. */
static int
conf_seen(struct conf_parser *p, const char *key)
{
	return p->seen[conf_lookup(key) - conf_keys];
}

/* One "key = value" line, already NUL-terminated, trimmed, non-comment. */
static int
conf_kv(struct conf_parser *p, int line, char *s)
{
	const struct conf_key	*k;
	const char		*err;
	char			*eq, *key, *val, *msg = NULL;
	char			 xmlerr[XML_TEXT_ERR_MAX];
	size_t			 idx;

	if ((eq = strchr(s, '=')) == NULL)
		return conf_error(p, line, NULL,
		    "syntax error: expected 'key = value'");
	*eq = '\0';
	key = conf_trim(s);
	val = conf_trim(eq + 1);
	if (*key == '\0')
		return conf_error(p, line, NULL, "syntax error: missing key");
	if ((k = conf_lookup(key)) == NULL && roomconf_has_key(key))
		return conf_room_kv(p, line, key, val);
	if (k == NULL)
		return conf_error(p, line, key, "unknown key");
	idx = k - conf_keys;
	if (p->seen[idx])
		return conf_error(p, line, key, "duplicate key");
	p->seen[idx] = line;
	if (*val == '\0')
		return conf_error(p, line, key, "missing value");
	if (*val == '"' && conf_unquote(val, &err) == -1)
		return conf_error(p, line, key, "%s", err);
	/* Values end up in stanzas (presence_status) or names. */
	if (!xml_text_valid(val, strlen(val), xmlerr, sizeof(xmlerr)))
		return conf_error(p, line, key, "%s", xmlerr);
	if (k->set(p->conf, val, &msg) == -1) {
		conf_error(p, line, key, "%s", msg);
		free(msg);
		return -1;
	}
	return 0;
}

/* The group-chat keys belong to roomconf.c. */
static int
conf_room_kv(struct conf_parser *p, int line, const char *key, char *val)
{
	const char	*err;
	char		*msg = NULL;

	if (*val == '\0')
		return conf_error(p, line, key, "missing value");
	if (*val == '"' && conf_unquote(val, &err) == -1)
		return conf_error(p, line, key, "%s", err);
	if (roomconf_set(&p->conf->rooms, key, val, line, &msg) == -1) {
		conf_error(p, line, key, "%s", msg);
		free(msg);
		return -1;
	}
	return 0;
}

static int
conf_line(struct conf_parser *p, int line, const char *s, size_t len)
{
	char	 buf[CONF_LINE_MAX + 1], *t;
	int	 rc;

	if (len > CONF_LINE_MAX)
		return conf_error(p, line, NULL,
		    "line too long (max %d bytes)", CONF_LINE_MAX);
	if (memchr(s, '\0', len) != NULL)
		return conf_error(p, line, NULL, "NUL byte");
	if (!utf8_valid(s, len))
		return conf_error(p, line, NULL, "invalid UTF-8");
	memcpy(buf, s, len);
	buf[len] = '\0';
	t = conf_trim(buf);
	rc = 0;
	if (*t != '\0' && *t != '#') {
		/* Checked only here, after dropping the '\r' of CRLF files. */
		for (s = t; *s != '\0'; s++)
			if ((unsigned char)*s < 0x20 && *s != '\t')
				break;
		if (*s != '\0')
			rc = conf_error(p, line, NULL, "control character");
		else
			rc = conf_kv(p, line, t);
	}
	/* The line may have held the password. */
	explicit_bzero(buf, sizeof(buf));
	return rc;
}

/* Checks that need the whole file. */
static int
conf_finish(struct conf_parser *p)
{
	struct config	*c = p->conf;
	const char	*rkey;
	char		*msg;
	int		 imin, imax, ipw, ipwf, rline;

	if (c->jid.domain == NULL)
		return conf_error(p, 0, "jid", "missing required key");
	if (roomconf_finish(c->rooms, c->jid.local, &rline, &rkey,
	    &msg) == -1) {
		conf_error(p, rline, rkey, "%s", msg);
		free(msg);
		return -1;
	}
	imin = conf_seen(p, "reconnect_min");
	imax = conf_seen(p, "reconnect_max");
	if (c->reconnect_max < c->reconnect_min) {
		if (imax)
			return conf_error(p, imax, "reconnect_max",
			    "%u is less than reconnect_min (%u)",
			    c->reconnect_max, c->reconnect_min);
		return conf_error(p, imin, "reconnect_min",
		    "%u is more than reconnect_max (%u)",
		    c->reconnect_min, c->reconnect_max);
	}
	ipw = conf_seen(p, "password");
	ipwf = conf_seen(p, "password_file");
	if (ipw && ipwf)
		return conf_error(p, ipw > ipwf ? ipw : ipwf,
		    ipw > ipwf ? "password" : "password_file",
		    "cannot be used together with %s",
		    ipw > ipwf ? "password_file" : "password");
	if (c->control_socket == NULL) {
		c->control_socket = conf_default_socket(p->name);
		if (strlen(c->control_socket) >=
		    sizeof(((struct sockaddr_un *)NULL)->sun_path))
			return conf_error(p, 0, "control_socket", "default "
			    "path %s too long; set control_socket",
			    c->control_socket);
	}
	if (c->state_dir == NULL) {
		/* systemd's StateDirectory= (the first, for a template). */
		const char	*sd = getenv("STATE_DIRECTORY");

		if (sd != NULL && *sd == '/')
			c->state_dir = xstrndup(sd, strcspn(sd, ":"));
		else
			c->state_dir = xstrdup(LOCALSTATEDIR "/lib/xmppd");
	}
	return 0;
}

struct config *
config_parse(const char *name, const char *buf, size_t len, char **cause)
{
	struct conf_parser	 p;
	const char		*s = buf, *end = buf + len, *nl;
	int			 seen[nitems(conf_keys)] = { 0 };
	int			 line = 0, rc = 0;

	*cause = NULL;
	memset(&p, 0, sizeof(p));
	p.name = name;
	p.seen = seen;
	p.conf = xcalloc(1, sizeof(*p.conf));
	conf_defaults(p.conf, name);
	if (len > CONF_FILE_MAX)
		rc = conf_error(&p, 0, NULL, "file too large (max %d bytes)",
		    CONF_FILE_MAX);
	/* Editors on other systems like to start with a byte order mark. */
	if (len >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
		s += 3;
	while (rc == 0 && s < end) {
		line++;
		if ((nl = memchr(s, '\n', end - s)) == NULL)
			nl = end;
		rc = conf_line(&p, line, s, nl - s);
		s = nl + 1;
	}
	if (rc == 0)
		rc = conf_finish(&p);
	if (rc == 0) {
		p.conf->key_lines = xcalloc(nitems(conf_keys), sizeof(int));
		memcpy(p.conf->key_lines, seen, sizeof(seen));
	}
	if (rc == -1) {
		config_free(p.conf);
		*cause = p.cause;
		return NULL;
	}
	return p.conf;
}

/* --- files -------------------------------------------------------------- */

/*
 * Read a whole regular file of at most max bytes from fd into a new
 * NUL-terminated buffer.  Errors name the file.
 */
static int
read_file(int fd, const char *path, size_t max, char **bufp, size_t *lenp,
    char **cause)
{
	struct stat	 st;
	char		*buf;
	size_t		 len = 0;
	ssize_t		 n;

	*bufp = NULL;
	if (fstat(fd, &st) == -1) {
		xasprintf(cause, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		xasprintf(cause, "%s: not a regular file", path);
		return -1;
	}
	/* One byte more than allowed, to notice a file that is too big. */
	buf = xmalloc(max + 2);
	while (len <= max) {
		n = read(fd, buf + len, max + 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			xasprintf(cause, "%s: %s", path, strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		len += n;
	}
	if (len > max) {
		xasprintf(cause, "%s: file too large (max %zu bytes)", path,
		    max);
		goto fail;
	}
	buf[len] = '\0';
	*bufp = buf;
	*lenp = len;
	return 0;
fail:
	explicit_bzero(buf, max + 2);
	free(buf);
	return -1;
}

struct config *
config_load(const char *path, char **cause)
{
	struct config	*c;
	struct stat	 st;
	char		*buf;
	size_t		 len;
	int		 fd;

	*cause = NULL;
	/* O_NONBLOCK: opening a FIFO by mistake must not hang -n. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY |
	    O_NONBLOCK)) == -1) {
		xasprintf(cause, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (read_file(fd, path, CONF_FILE_MAX, &buf, &len, cause) == -1 ||
	    fstat(fd, &st) == -1) {
		if (*cause == NULL)
			xasprintf(cause, "%s: %s", path, strerror(errno));
		close(fd);
		return NULL;
	}
	close(fd);
	c = config_parse(path, buf, len, cause);
	explicit_bzero(buf, len);
	free(buf);
	if (c != NULL && c->password_in_config &&
	    (st.st_mode & (S_IRGRP | S_IROTH)) != 0)
		c->password_exposed = 1;
	return c;
}

/*
 * Read a password from a file: one line, trailing CR/LF dropped, at most
 * CONF_PASSWORD_MAX bytes, no control character (SASL refuses them).
 * *exposed is set when group or others may read the file.
 */
static int
read_secret(const char *path, char **out, int *exposed, char **cause)
{
	struct stat	 st;
	char		*buf;
	size_t		 len, i;
	int		 fd, rc;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY |
	    O_NONBLOCK)) == -1) {
		xasprintf(cause, "%s: %s", path, strerror(errno));
		return -1;
	}
	rc = read_file(fd, path, CONF_SECRET_MAX, &buf, &len, cause);
	*exposed = rc == 0 && fstat(fd, &st) == 0 &&
	    (st.st_mode & (S_IRGRP | S_IROTH)) != 0;
	close(fd);
	if (rc == -1)
		return -1;
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		buf[--len] = '\0';
	for (i = 0; i < len; i++)
		if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
			break;
	if (len == 0)
		xasprintf(cause, "%s: empty password", path);
	else if (len > CONF_PASSWORD_MAX)
		xasprintf(cause, "%s: password too long (%zu bytes, max %d)",
		    path, len, CONF_PASSWORD_MAX);
	else if (memchr(buf, '\0', len) != NULL)
		xasprintf(cause, "%s: NUL byte in password", path);
	else if (!utf8_valid(buf, len))
		xasprintf(cause, "%s: password is not valid UTF-8", path);
	else if (i < len)
		xasprintf(cause, "%s: control character in password at byte "
		    "%zu", path, i);
	else {
		*out = buf;
		return 0;
	}
	explicit_bzero(buf, len);
	free(buf);
	return -1;
}

/*
 * A password from the config file is fixed until the next reload; the
 * other sources are read again on every call, so that "reauth" picks up a
 * changed password file or credential.  On failure the old one is kept.
 */
int
config_load_password(struct config *c, char **cause)
{
	const char	*dir;
	char		*path = NULL, *pw = NULL, *why;
	int		 rc, exposed = 0;

	*cause = NULL;
	if (c->password_in_config)
		return 0;
	if (c->password_file != NULL) {
		rc = read_secret(c->password_file, &pw, &exposed, cause);
		/* Say where the file was named: "FILE:LINE: password_file:". */
		if (rc == -1) {
			why = *cause;
			*cause = config_key_error(c, "password_file", why);
			free(why);
		} else
			c->password_exposed = exposed;
	} else if ((dir = getenv("CREDENTIALS_DIRECTORY")) != NULL &&
	    *dir != '\0') {
		xasprintf(&path, "%s/password", dir);
		if (access(path, F_OK) == -1 && errno == ENOENT)
			rc = -2;
		else
			rc = read_secret(path, &pw, &exposed, cause);
		free(path);
	} else
		rc = -2;
	if (rc == -2) {
		xasprintf(cause, "%s: no password: set password, "
		    "password_file, or provide the systemd credential "
		    "'password'", c->path);
		return -1;
	}
	if (rc == -1)
		return -1;
	freezero_str(c->password);
	c->password = pw;
	return 0;
}

void
config_free(struct config *c)
{
	if (c == NULL)
		return;
	free(c->path);
	jid_clear(&c->jid);
	free(c->jid_str);
	freezero_str(c->password);
	free(c->password_file);
	free(c->server_host);
	free(c->ca_file);
	free(c->presence_show);
	free(c->presence_status);
	free(c->control_socket);
	free(c->control_group);
	free(c->state_dir);
	free(c->key_lines);
	roomconf_free(c->rooms);
	free(c);
}

int
config_key_line(const struct config *c, const char *key)
{
	const struct conf_key	*k;

	if (c->key_lines == NULL || (k = conf_lookup(key)) == NULL)
		return 0;
	return c->key_lines[k - conf_keys];
}

char *
config_key_error(const struct config *c, const char *key, const char *msg)
{
	char	*s;
	int	 line = config_key_line(c, key);

	if (line > 0)
		xasprintf(&s, "%s:%d: %s: %s", c->path, line, key, msg);
	else
		xasprintf(&s, "%s: %s: %s", c->path, key, msg);
	return s;
}

/* --- printing ----------------------------------------------------------- */

/* Quote when reading the line back would otherwise lose something. */
static void
print_str(FILE *f, const char *key, const char *v)
{
	size_t	len = strlen(v);

	if (len > 0 && v[0] != ' ' && v[0] != '\t' && v[0] != '"' &&
	    v[len - 1] != ' ' && v[len - 1] != '\t') {
		fprintf(f, "%s = %s\n", key, v);
		return;
	}
	fprintf(f, "%s = \"", key);
	for (; *v != '\0'; v++) {
		if (*v == '"' || *v == '\\')
			fputc('\\', f);
		fputc(*v, f);
	}
	fputs("\"\n", f);
}

/*
 * Every effective setting, in the order of conf_keys[], one per line.
 * Unset optional keys are left out; the password itself never appears.
 */
void
config_print(const struct config *c, FILE *f)
{
	static const char *tls[] = { "auto", "starttls", "direct" };
	char	*jid;

	jid = jid_full(&c->jid);
	print_str(f, "jid", jid);
	free(jid);
	if (c->password_in_config)
		fprintf(f, "password = (set)\n");
	if (c->password_file != NULL)
		print_str(f, "password_file", c->password_file);
	if (c->server_host != NULL) {
		fprintf(f, strchr(c->server_host, ':') != NULL ?
		    "server = [%s]" : "server = %s", c->server_host);
		if (c->server_port != 0)
			fprintf(f, ":%u", c->server_port);
		fputc('\n', f);
	}
	fprintf(f, "tls = %s\n", tls[c->tls]);
	if (c->ca_file != NULL)
		print_str(f, "ca_file", c->ca_file);
	fprintf(f, "tls_verify = %s\n", c->tls_verify ? "yes" : "no");
	fprintf(f, "presence_show = %s\n",
	    c->presence_show != NULL ? c->presence_show : "available");
	if (c->presence_status != NULL)
		print_str(f, "presence_status", c->presence_status);
	fprintf(f, "priority = %d\n", c->priority);
	fprintf(f, "ping_interval = %u\n", c->ping_interval);
	fprintf(f, "ping_timeout = %u\n", c->ping_timeout);
	fprintf(f, "reconnect_min = %u\n", c->reconnect_min);
	fprintf(f, "reconnect_max = %u\n", c->reconnect_max);
	fprintf(f, "connect_timeout = %u\n", c->connect_timeout);
	fprintf(f, "subscriptions = %s\n",
	    c->subscriptions == SUBS_IGNORE ? "ignore" : "accept");
	print_str(f, "control_socket", c->control_socket);
	if (c->control_group != NULL)
		print_str(f, "control_group", c->control_group);
	fprintf(f, "max_stanza_size = %zu\n", c->max_stanza_size);
	fprintf(f, "auto_register = %s\n", c->auto_register ? "yes" : "no");
	fprintf(f, "resume_after_restart = %s\n",
	    c->resume_after_restart ? "yes" : "no");
	print_str(f, "state_dir", c->state_dir);
	fprintf(f, "log_level = %s\n", c->log_verbose ? "debug" : "info");
	roomconf_print(c->rooms, f);
	fprintf(f, "outbox_max_messages = %u\n", c->outbox_max_messages);
	fprintf(f, "outbox_max_bytes = %llu\n",
	    (unsigned long long)c->outbox_max_bytes);
	fprintf(f, "outbox_lifetime = %u\n", c->outbox_lifetime);
	fprintf(f, "outbox_rate = %llu.%03llu\n",
	    (unsigned long long)(c->outbox_rate_milli / 1000),
	    (unsigned long long)(c->outbox_rate_milli % 1000));
	fprintf(f, "outbox_burst = %u\n", c->outbox_burst);
	fprintf(f, "csi = %s\n", c->csi ? "yes" : "no");
}
