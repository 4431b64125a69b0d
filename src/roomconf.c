/*
 * roomconf.c: the group-chat keys of xmppd.conf(5) (see roomconf.h for
 * the syntax).  config.c owns the file, its lines and the "FILE:LINE:
 * KEY:" prefix of messages; this module owns what a room line means,
 * the room_* keys and reading a room's password.  A leaf: no logging.
 */
#include "compat.h"

#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "jid.h"
#include "roomconf.h"
#include "util.h"
#include "xmalloc.h"

#define RC_NICK_MAX	1023	/* a resourcepart's limit */
#define RC_CRED_MAX	255
#define RC_SECRET_MAX	4096

/* clang-format off */
/* The keys that may appear once; their index is their slot in seen[]. */
static const char *const rc_single[] = {
	"nick", "room_ping_interval", "room_ping_timeout",
	"room_join_timeout", "room_max_occupants", "room_invite_from",
};
/* clang-format on */

static struct roomconf	*rc_new(void);
static int	 rc_single_index(const char *);
static int	 rc_uint(const char *, long long, long long, unsigned int *,
		    char **);
static int	 rc_nick_ok(const char *, char **);
static int	 rc_room_jid(const char *, size_t, char **, char **);
static int	 rc_room(struct roomconf *, const char *, int, char **);
static int	 rc_option(struct roomconf_room *, const char *, const char *,
		    char **);
static const char *rc_value(const char *, char **, char **);
static int	 rc_inviters(struct roomconf *, const char *, char **);
static void	 rc_room_clear(struct roomconf_room *);
static void	 rc_print_value(FILE *, const char *);
static char	*rc_lower(const char *, size_t);

int
roomconf_has_key(const char *key)
{
	return strcmp(key, "room") == 0 || rc_single_index(key) != -1;
}

static int
rc_single_index(const char *key)
{
	size_t	i;

	for (i = 0; i < nitems(rc_single); i++)
		if (strcmp(rc_single[i], key) == 0)
			return (int)i;
	return -1;
}

static struct roomconf *
rc_new(void)
{
	struct roomconf	*rc;

	rc = xcalloc(1, sizeof(*rc));
	rc->ping_interval = ROOMCONF_DEFAULT_PING_INTERVAL;
	rc->ping_timeout = ROOMCONF_DEFAULT_PING_TIMEOUT;
	rc->join_timeout = ROOMCONF_DEFAULT_JOIN_TIMEOUT;
	rc->max_occupants = ROOMCONF_DEFAULT_MAX_OCCUPANTS;
	return rc;
}

static int
rc_uint(const char *v, long long min, long long max, unsigned int *out,
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

/* ASCII lower case: room JIDs are compared case-insensitively. */
static char *
rc_lower(const char *s, size_t len)
{
	char	*r = xstrndup(s, len), *p;

	for (p = r; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	return r;
}

static int
rc_nick_ok(const char *nick, char **msg)
{
	size_t	len = strlen(nick);

	if (len == 0) {
		*msg = xstrdup("empty nick");
		return -1;
	}
	if (len > RC_NICK_MAX) {
		xasprintf(msg, "nick too long (max %d bytes)", RC_NICK_MAX);
		return -1;
	}
	if (!utf8_valid(nick, len)) {
		*msg = xstrdup("nick is not valid UTF-8");
		return -1;
	}
	for (; *nick != '\0'; nick++)
		if ((unsigned char)*nick < 0x20 || *nick == 0x7f) {
			*msg = xstrdup("control character in nick");
			return -1;
		}
	return 0;
}

/* A room is "local@domain": the localpart names the room. */
static int
rc_room_jid(const char *s, size_t len, char **out, char **msg)
{
	struct jid	 j;
	const char	*errstr;
	char		*t;

	t = xstrndup(s, len);
	if (jid_parse(t, &j, &errstr) == -1) {
		xasprintf(msg, "invalid room JID '%s': %s", t, errstr);
		free(t);
		return -1;
	}
	if (j.local == NULL || j.resource != NULL) {
		xasprintf(msg, "invalid room JID '%s' (expected "
		    "room@service)", t);
		jid_clear(&j);
		free(t);
		return -1;
	}
	jid_clear(&j);
	*out = rc_lower(t, len);
	free(t);
	return 0;
}

int
roomconf_parse_ref(const char *s, char **jid, char **nick,
    const char **errstr)
{
	const char	*slash = strchr(s, '/');
	char		*msg = NULL;
	size_t		 len = slash != NULL ? (size_t)(slash - s) : strlen(s);

	*jid = *nick = NULL;
	if (rc_room_jid(s, len, jid, &msg) == -1) {
		*errstr = "invalid room JID (expected room@service[/nick])";
		free(msg);
		return -1;
	}
	if (slash != NULL && rc_nick_ok(slash + 1, &msg) == -1) {
		*errstr = "invalid nick";
		free(msg);
		free(*jid);
		*jid = NULL;
		return -1;
	}
	if (slash != NULL)
		*nick = xstrdup(slash + 1);
	return 0;
}

/*
 * One option value at s: quoted or up to the next blank.  Returns the
 * position after it, or NULL with *msg.
 */
static const char *
rc_value(const char *s, char **out, char **msg)
{
	char	*w;

	if (*s != '"') {
		size_t	n = strcspn(s, " \t");

		*out = xstrndup(s, n);
		return s + n;
	}
	w = *out = xmalloc(strlen(s) + 1);
	for (s++; *s != '"'; s++) {
		if (*s == '\0') {
			*msg = xstrdup("unterminated quoted value");
			goto fail;
		}
		if (*s == '\\') {
			s++;
			if (*s != '"' && *s != '\\') {
				*msg = xstrdup("invalid escape in quoted value "
				    "(only \\\" and \\\\ are allowed)");
				goto fail;
			}
		}
		*w++ = *s;
	}
	*w = '\0';
	s++;
	if (*s != '\0' && *s != ' ' && *s != '\t') {
		*msg = xstrdup("unexpected text after closing quote");
		goto fail;
	}
	return s;
fail:
	free(*out);
	*out = NULL;
	return NULL;
}

static int
rc_option(struct roomconf_room *r, const char *name, const char *v,
    char **msg)
{
	const char	*p;

	if (strcmp(name, "nick") == 0) {
		if (r->nick != NULL) {
			*msg = xstrdup("nick given twice");
			return -1;
		}
		if (rc_nick_ok(v, msg) == -1)
			return -1;
		r->nick = xstrdup(v);
		r->nick_set = 1;
	} else if (strcmp(name, "history") == 0) {
		if (rc_uint(v, 0, ROOMCONF_HISTORY_MAX, &r->history, msg) == -1)
			return -1;
	} else if (strcmp(name, "password_file") == 0) {
		if (r->password_file != NULL || r->password_credential) {
			*msg = xstrdup("only one password_file or "
			    "password_credential per room");
			return -1;
		}
		if (v[0] != '/') {
			xasprintf(msg, "password_file '%s' is not an absolute "
			    "path", v);
			return -1;
		}
		r->password_file = xstrdup(v);
	} else if (strcmp(name, "password_credential") == 0) {
		if (r->password_file != NULL || r->password_credential) {
			*msg = xstrdup("only one password_file or "
			    "password_credential per room");
			return -1;
		}
		for (p = v; *p != '\0'; p++)
			if (!isalnum((unsigned char)*p) && *p != '_' &&
			    *p != '-' && (*p != '.' || p == v))
				break;
		if (*p != '\0' || p == v || p - v > RC_CRED_MAX) {
			xasprintf(msg, "invalid credential name '%s'", v);
			return -1;
		}
		r->password_credential = xstrdup(v);
	} else {
		xasprintf(msg, "unknown room option '%s' (expected nick, "
		    "history, password_file or password_credential)", name);
		return -1;
	}
	return 0;
}

static int
rc_room(struct roomconf *rc, const char *v, int line, char **msg)
{
	struct roomconf_room	 r;
	const char		*p, *eq;
	char			*name, *val;
	size_t			 n, i;
	int			 rv;

	memset(&r, 0, sizeof(r));
	r.line = line;
	n = strcspn(v, " \t/");
	if (rc_room_jid(v, n, &r.jid, msg) == -1)
		return -1;
	p = v + n;
	if (*p == '/') {
		n = strcspn(++p, " \t");
		val = xstrndup(p, n);
		rv = rc_option(&r, "nick", val, msg);
		free(val);
		if (rv == -1)
			goto fail;
		p += n;
	}
	for (;;) {
		p += strspn(p, " \t");
		if (*p == '\0')
			break;
		if ((eq = strchr(p, '=')) == NULL ||
		    (size_t)(eq - p) > strcspn(p, " \t") || eq == p) {
			xasprintf(msg, "expected NAME=VALUE after the room, "
			    "not '%.*s'", (int)strcspn(p, " \t"), p);
			goto fail;
		}
		name = xstrndup(p, eq - p);
		if ((p = rc_value(eq + 1, &val, msg)) == NULL) {
			free(name);
			goto fail;
		}
		rv = rc_option(&r, name, val, msg);
		free(name);
		free(val);
		if (rv == -1)
			goto fail;
	}
	for (i = 0; i < rc->nrooms; i++)
		if (strcmp(rc->rooms[i].jid, r.jid) == 0) {
			xasprintf(msg, "room %s already configured on line %d",
			    r.jid, rc->rooms[i].line);
			goto fail;
		}
	if (rc->nrooms >= ROOMCONF_MAX_ROOMS) {
		xasprintf(msg, "too many rooms (max %d)", ROOMCONF_MAX_ROOMS);
		goto fail;
	}
	rc->rooms = xreallocarray(rc->rooms, rc->nrooms + 1, sizeof(r));
	rc->rooms[rc->nrooms++] = r;
	return 0;
fail:
	rc_room_clear(&r);
	return -1;
}

/* A list of bare JIDs or domains, separated by commas and/or blanks. */
static int
rc_inviters(struct roomconf *rc, const char *v, char **msg)
{
	struct jid	 j;
	const char	*errstr;
	char		*t;
	size_t		 n;
	int		 rv;

	for (;;) {
		v += strspn(v, " \t,");
		if (*v == '\0')
			return 0;
		n = strcspn(v, " \t,");
		t = xstrndup(v, n);
		rv = jid_parse(t, &j, &errstr);
		if (rv == 0 && j.resource != NULL)
			rv = -1;
		jid_clear(&j);
		if (rv == -1) {
			xasprintf(msg, "invalid JID '%s' (expected "
			    "user@domain or domain)", t);
			free(t);
			return -1;
		}
		free(t);
		if (rc->ninviters >= ROOMCONF_MAX_INVITERS) {
			xasprintf(msg, "too many JIDs (max %d)",
			    ROOMCONF_MAX_INVITERS);
			return -1;
		}
		rc->inviters = xreallocarray(rc->inviters, rc->ninviters + 1,
		    sizeof(char *));
		rc->inviters[rc->ninviters++] = rc_lower(v, n);
		v += n;
	}
}

int
roomconf_set(struct roomconf **rcp, const char *key, const char *v,
    int line, char **msg)
{
	struct roomconf	*rc;
	int		 i;

	if (*rcp == NULL)
		*rcp = rc_new();
	rc = *rcp;
	if (strcmp(key, "room") == 0)
		return rc_room(rc, v, line, msg);
	if ((i = rc_single_index(key)) == -1) {
		*msg = xstrdup("unknown key");
		return -1;
	}
	if (rc->seen[i]) {
		*msg = xstrdup("duplicate key");
		return -1;
	}
	rc->seen[i] = line;
	switch (i) {
	case 0:
		if (rc_nick_ok(v, msg) == -1)
			return -1;
		rc->nick = xstrdup(v);
		return 0;
	case 1:
		return rc_uint(v, 0, 86400, &rc->ping_interval, msg);
	case 2:
		return rc_uint(v, 1, 3600, &rc->ping_timeout, msg);
	case 3:
		return rc_uint(v, 1, 3600, &rc->join_timeout, msg);
	case 4:
		return rc_uint(v, 1, 100000, &rc->max_occupants, msg);
	default:
		return rc_inviters(rc, v, msg);
	}
}

int
roomconf_finish(struct roomconf *rc, const char *account_local, int *line,
    const char **key, char **msg)
{
	size_t	i;

	*msg = NULL;
	if (rc == NULL)
		return 0;
	/* Self-pings need a silence longer than their own timeout. */
	if (rc->ping_interval != 0 && rc->ping_interval <= rc->ping_timeout) {
		*line = rc->seen[1] ? rc->seen[1] : rc->seen[2];
		*key = rc->seen[1] ? "room_ping_interval" : "room_ping_timeout";
		xasprintf(msg, "room_ping_interval (%u) must be longer than "
		    "room_ping_timeout (%u), or 0", rc->ping_interval,
		    rc->ping_timeout);
		return -1;
	}
	for (i = 0; i < rc->nrooms; i++)
		if (rc->rooms[i].nick == NULL)
			rc->rooms[i].nick = xstrdup(rc->nick != NULL ?
			    rc->nick : account_local);
	return 0;
}

static void
rc_room_clear(struct roomconf_room *r)
{
	free(r->jid);
	free(r->nick);
	free(r->password_file);
	free(r->password_credential);
}

void
roomconf_free(struct roomconf *rc)
{
	size_t	i;

	if (rc == NULL)
		return;
	for (i = 0; i < rc->nrooms; i++)
		rc_room_clear(&rc->rooms[i]);
	free(rc->rooms);
	for (i = 0; i < rc->ninviters; i++)
		free(rc->inviters[i]);
	free(rc->inviters);
	free(rc->nick);
	free(rc);
}

/* A value as rc_value() reads it back: quoted when it has to be. */
static void
rc_print_value(FILE *f, const char *v)
{
	if (*v != '\0' && *v != '"' && strpbrk(v, " \t") == NULL) {
		fputs(v, f);
		return;
	}
	fputc('"', f);
	for (; *v != '\0'; v++) {
		if (*v == '"' || *v == '\\')
			fputc('\\', f);
		fputc(*v, f);
	}
	fputc('"', f);
}

void
roomconf_print(const struct roomconf *rc, FILE *f)
{
	const struct roomconf_room	*r;
	size_t				 i;

	if (rc == NULL)
		return;
	if (rc->nick != NULL) {
		/* config.c unquotes a value quoted as a whole. */
		fputs("nick = ", f);
		rc_print_value(f, rc->nick);
		fputc('\n', f);
	}
	for (i = 0; i < rc->nrooms; i++) {
		r = &rc->rooms[i];
		fprintf(f, "room = %s", r->jid);
		if (r->nick_set) {
			fputs(" nick=", f);
			rc_print_value(f, r->nick);
		}
		if (r->password_file != NULL) {
			fputs(" password_file=", f);
			rc_print_value(f, r->password_file);
		}
		if (r->password_credential != NULL)
			fprintf(f, " password_credential=%s",
			    r->password_credential);
		if (r->history != 0)
			fprintf(f, " history=%u", r->history);
		fputc('\n', f);
	}
	fprintf(f, "room_ping_interval = %u\n", rc->ping_interval);
	fprintf(f, "room_ping_timeout = %u\n", rc->ping_timeout);
	fprintf(f, "room_join_timeout = %u\n", rc->join_timeout);
	fprintf(f, "room_max_occupants = %u\n", rc->max_occupants);
	if (rc->ninviters > 0) {
		fputs("room_invite_from =", f);
		for (i = 0; i < rc->ninviters; i++)
			fprintf(f, " %s", rc->inviters[i]);
		fputc('\n', f);
	}
}

const struct roomconf_room *
roomconf_find(const struct roomconf *rc, const char *jid)
{
	size_t	i;

	if (rc == NULL)
		return NULL;
	for (i = 0; i < rc->nrooms; i++)
		if (strcasecmp(rc->rooms[i].jid, jid) == 0)
			return &rc->rooms[i];
	return NULL;
}

/* An entry "domain" allows anyone there; "user@domain" that user. */
int
roomconf_inviter_allowed(const struct roomconf *rc, const char *inviter)
{
	const char	*at, *dom;
	size_t		 i, blen = strcspn(inviter, "/");

	if (rc == NULL)
		return 0;
	at = memchr(inviter, '@', blen);
	dom = at != NULL ? at + 1 : inviter;
	for (i = 0; i < rc->ninviters; i++) {
		const char	*e = rc->inviters[i];
		size_t		 elen = strlen(e);

		if (elen == blen && strncasecmp(e, inviter, blen) == 0)
			return 1;
		if (strchr(e, '@') == NULL && at != NULL &&
		    elen == blen - (size_t)(dom - inviter) &&
		    strncasecmp(e, dom, elen) == 0)
			return 1;
	}
	return 0;
}

/* Like config.c's password files: one line, trailing CR/LF dropped. */
int
roomconf_password(const struct roomconf_room *r, char **pw, char **cause)
{
	const char	*dir;
	char		*path, buf[RC_SECRET_MAX + 2];
	ssize_t		 n = 0;
	size_t		 len = 0;
	int		 fd;

	*pw = *cause = NULL;
	if (r->password_file != NULL)
		path = xstrdup(r->password_file);
	else if (r->password_credential != NULL) {
		if ((dir = getenv("CREDENTIALS_DIRECTORY")) == NULL ||
		    *dir == '\0') {
			xasprintf(cause, "room %s: password_credential %s: no "
			    "CREDENTIALS_DIRECTORY (set LoadCredential= in the "
			    "unit)", r->jid, r->password_credential);
			return -1;
		}
		xasprintf(&path, "%s/%s", dir, r->password_credential);
	} else
		return 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY |
	    O_NONBLOCK)) == -1) {
		xasprintf(cause, "%s: %s", path, strerror(errno));
		free(path);
		return -1;
	}
	while (len < sizeof(buf) - 1) {
		n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (n == -1) {
		xasprintf(cause, "%s: %s", path, strerror(errno));
		free(path);
		return -1;
	}
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	buf[len] = '\0';
	if (len > RC_SECRET_MAX)
		xasprintf(cause, "%s: file too large (max %d bytes)", path,
		    RC_SECRET_MAX);
	else if (len == 0)
		xasprintf(cause, "%s: empty password", path);
	else if (memchr(buf, '\0', len) != NULL || !utf8_valid(buf, len))
		xasprintf(cause, "%s: password is not valid UTF-8 text", path);
	else
		*pw = xstrdup(buf);
	explicit_bzero(buf, sizeof(buf));
	free(path);
	return *pw != NULL ? 1 : -1;
}

/*
 * For "xmppd -n": every room password that can be read here must be.
 * A credential is skipped outside the unit (no CREDENTIALS_DIRECTORY),
 * as the account's own credential is.
 */
int
roomconf_check_passwords(const struct roomconf *rc, char **cause)
{
	const char	*dir = getenv("CREDENTIALS_DIRECTORY");
	char		*pw;
	size_t		 i;
	int		 rv;

	*cause = NULL;
	for (i = 0; rc != NULL && i < rc->nrooms; i++) {
		if (rc->rooms[i].password_credential != NULL &&
		    (dir == NULL || *dir == '\0'))
			continue;
		if ((rv = roomconf_password(&rc->rooms[i], &pw, cause)) == -1)
			return -1;
		if (rv == 1)
			freezero_str(pw);
	}
	return 0;
}
