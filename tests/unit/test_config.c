/*
 * test_config.c: xmppd.conf parsing, validation, error messages, password
 * sources and printing.  Files live in a temporary directory that is
 * removed at the end.
 */
#include "compat.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "confcheck.h"
#include "config.h"
#include "tap.h"
#include "xmalloc.h"

#ifndef RUNSTATEDIR
#define RUNSTATEDIR	"/run"
#endif
#ifndef LOCALSTATEDIR
#define LOCALSTATEDIR	"/var"
#endif

#define JID	"jid = bot@example.org\n"

static char	tmpdir[] = "/tmp/test_config.XXXXXX";

static struct config *parse_ok(const char *, const char *);
static void	parse_err(const char *, const char *, const char *);
static void	parse_err_len(const char *, size_t, const char *,
		    const char *);
static char	*tmpfile_write(const char *, const char *, size_t, mode_t);
static char	*print_str(const struct config *);
static void	defaults(void);
static void	syntax(void);
static void	syntax_errors(void);
static void	limits(void);
static void	keys_jid_server(void);
static void	keys_enums(void);
static void	keys_numbers(void);
static void	keys_paths(void);
static void	keys_password(void);
static void	socket_default(void);
static void	files(void);
static void	passwords(void);
static void	printing(void);
static void	sample(void);
static void	leaf_fixes(void);
static void	system_checks(void);
static void	cleanup(void);

static struct config *
parse_ok(const char *text, const char *what)
{
	struct config	*c;
	char		*cause = NULL;

	c = config_parse("t.conf", text, strlen(text), &cause);
	if (!ok(c != NULL, "parses: %s", what))
		diag("error: %s", cause);
	free(cause);
	return c;
}

static void
parse_err_len(const char *text, size_t len, const char *want,
    const char *what)
{
	struct config	*c;
	char		*cause = NULL;

	c = config_parse("t.conf", text, len, &cause);
	ok(c == NULL, "rejects: %s", what);
	is_str(cause, want, "message: %s", what);
	config_free(c);
	free(cause);
}

static void
parse_err(const char *text, const char *want, const char *what)
{
	parse_err_len(text, strlen(text), want, what);
}

/* Write a file in tmpdir; returns its new path. */
static char *
tmpfile_write(const char *name, const char *data, size_t len, mode_t mode)
{
	char	*path;
	FILE	*f;

	xasprintf(&path, "%s/%s", tmpdir, name);
	if ((f = fopen(path, "w")) == NULL || fwrite(data, 1, len, f) != len ||
	    fclose(f) != 0)
		diag("cannot write %s: %s", path, strerror(errno));
	chmod(path, mode);
	return path;
}

static char *
print_str(const struct config *c)
{
	char	*buf = NULL;
	size_t	 len = 0;
	FILE	*f;

	if ((f = open_memstream(&buf, &len)) == NULL)
		abort();
	config_print(c, f);
	fclose(f);
	return buf;
}

static void
defaults(void)
{
	struct config	*c;

	if ((c = parse_ok(JID, "only jid")) == NULL)
		return;
	is_str(c->path, "t.conf", "path kept");
	is_str(c->jid_str, "bot@example.org", "jid_str");
	is_str(c->jid.local, "bot", "jid local");
	is_str(c->jid.domain, "example.org", "jid domain");
	ok(c->jid.resource == NULL, "no resource");
	ok(c->password == NULL && c->password_file == NULL, "no password");
	ok(!c->password_in_config && !c->password_exposed, "nothing exposed");
	ok(c->server_host == NULL && c->server_port == 0, "no server");
	is_int(c->tls, TLS_MODE_AUTO, "tls auto");
	ok(c->ca_file == NULL, "no ca_file");
	is_int(c->tls_verify, 1, "tls_verify yes");
	ok(c->presence_show == NULL, "presence available");
	ok(c->presence_status == NULL, "no status");
	is_int(c->priority, 0, "priority 0");
	is_int(c->ping_interval, 60, "ping_interval 60");
	is_int(c->ping_timeout, 20, "ping_timeout 20");
	is_int(c->reconnect_min, 1, "reconnect_min 1");
	is_int(c->reconnect_max, 300, "reconnect_max 300");
	is_int(c->connect_timeout, 10, "connect_timeout 10");
	is_int(c->subscriptions, SUBS_ACCEPT, "subscriptions accept");
	is_str(c->control_socket, RUNSTATEDIR "/xmppd/t.sock",
	    "control_socket from the file name");
	ok(c->control_group == NULL, "no control_group");
	is_int(c->max_stanza_size, 262144, "max_stanza_size 256 KiB");
	is_int(c->auto_register, 0, "auto_register no");
	is_str(c->state_dir, LOCALSTATEDIR "/lib/xmppd", "state_dir");
	is_int(c->log_verbose, 0, "log_level info");
	config_free(c);
	config_free(NULL);
	ok(1, "config_free(NULL)");
}

static void
syntax(void)
{
	struct config	*c;

	c = parse_ok("# comment\n\n   \n\t# indented comment\n"
	    "  jid\t=   bot@example.org/res  \t\n"
	    "presence_status=a # not a comment\n", "comments, blanks, spaces");
	if (c != NULL) {
		is_str(c->jid.resource, "res", "value trimmed");
		is_str(c->presence_status, "a # not a comment",
		    "'#' inside a value is kept");
	}
	config_free(c);

	c = parse_ok(JID "presence_status = \"  two \\\"quoted\\\" \\\\ "
	    "spaces  \"  \n", "quoted value");
	if (c != NULL)
		is_str(c->presence_status, "  two \"quoted\" \\ spaces  ",
		    "quotes keep blanks, undo escapes");
	config_free(c);

	c = parse_ok(JID "presence_status = say \"hi\"\n", "inner quotes");
	if (c != NULL)
		is_str(c->presence_status, "say \"hi\"",
		    "quotes not at the start are literal");
	config_free(c);

	c = parse_ok(JID "presence_status = \"\"\n", "empty quoted value");
	if (c != NULL)
		ok(c->presence_status == NULL, "empty status is no status");
	config_free(c);

	c = parse_ok("jid = bot@example.org\r\npriority = 5\r\n", "CRLF");
	if (c != NULL)
		is_int(c->priority, 5, "CRLF: value without CR");
	config_free(c);

	c = parse_ok("\xef\xbb\xbfjid = bot@example.org", "BOM, no final NL");
	config_free(c);

	c = parse_ok(JID "presence_status = h\xc3\xa9llo \xe2\x9c\x93\n",
	    "UTF-8 value");
	if (c != NULL)
		is_str(c->presence_status, "h\xc3\xa9llo \xe2\x9c\x93",
		    "UTF-8 kept");
	config_free(c);
}

static void
syntax_errors(void)
{
	parse_err(JID "foo = bar\n", "t.conf:2: foo: unknown key",
	    "unknown key");
	parse_err(JID "Jid = x\n", "t.conf:2: Jid: unknown key",
	    "keys are case-sensitive");
	parse_err("\n\n\njid = a@b\njid = c@d\n",
	    "t.conf:5: jid: duplicate key", "duplicate key");
	parse_err(JID "priority = 1\npriority = 1\n",
	    "t.conf:3: priority: duplicate key", "duplicate, same value");
	parse_err(JID "tls_verify\n",
	    "t.conf:2: syntax error: expected 'key = value'", "no '='");
	parse_err(JID " = yes\n", "t.conf:2: syntax error: missing key",
	    "missing key");
	parse_err(JID "priority =\n", "t.conf:2: priority: missing value",
	    "missing value");
	parse_err(JID "priority =   \t\n", "t.conf:2: priority: missing value",
	    "blank value");
	parse_err(JID "presence_status = \"abc\n",
	    "t.conf:2: presence_status: unterminated quoted value",
	    "unterminated quote");
	parse_err(JID "presence_status = \"a\\\"\n",
	    "t.conf:2: presence_status: unterminated quoted value",
	    "escaped closing quote");
	parse_err(JID "presence_status = \"a\\nb\"\n",
	    "t.conf:2: presence_status: invalid escape in quoted value "
	    "(only \\\" and \\\\ are allowed)", "bad escape");
	parse_err(JID "presence_status = \"a\" b\n",
	    "t.conf:2: presence_status: unexpected text after closing quote",
	    "text after quote");
	parse_err(JID "presence_status = a\rb\n",
	    "t.conf:2: control character", "CR inside a line");
	parse_err(JID "presence_status = a\x1b[31m\n",
	    "t.conf:2: control character", "escape sequence");
	parse_err("", "t.conf: jid: missing required key", "empty file");
	parse_err("# only a comment\npriority = 1\n",
	    "t.conf: jid: missing required key", "missing jid");
}

static void
limits(void)
{
	char		*buf;
	size_t		 n;
	struct config	*c;

	/* A line of exactly 4096 bytes is fine, 4097 is not. */
	buf = malloc(8192);
	/* A password is at most 1024 bytes; a path may be longer. */
	n = strlen(JID "password_file = \"/");
	memcpy(buf, JID "password_file = \"/", n);
	memset(buf + n, 'x', 4077);
	strcpy(buf + n + 4077, "\"\n");
	c = parse_ok(buf, "4096-byte line");
	if (c != NULL) {
		is_int(strlen(buf) - strlen(JID), 4097,
		    "that line is 4096 bytes plus newline");
		is_int(strlen(c->password_file), 4078,
		    "long value kept whole");
	}
	config_free(c);
	memset(buf + strlen(JID), '#', 4097);
	strcpy(buf + strlen(JID) + 4097, "\n");
	parse_err(buf, "t.conf:2: line too long (max 4096 bytes)",
	    "4097-byte comment line");
	free(buf);

	parse_err_len(JID "pri\0ority = 1\n", strlen(JID) + 15,
	    "t.conf:2: NUL byte", "NUL byte");
	parse_err_len(JID "# comment\0\n", strlen(JID) + 11,
	    "t.conf:2: NUL byte", "NUL byte in a comment");
	parse_err(JID "presence_status = \xff\n", "t.conf:2: invalid UTF-8",
	    "invalid UTF-8");
	parse_err(JID "# caf\xe9\n", "t.conf:2: invalid UTF-8",
	    "Latin-1 in a comment");
	parse_err(JID "presence_status = \xed\xa0\x80\n",
	    "t.conf:2: invalid UTF-8", "UTF-16 surrogate");

	/* Size cap: 1 MiB of comment lines, plus one byte. */
	n = 1024 * 1024 + 1;
	buf = malloc(n + 1);
	memset(buf, '\n', n);
	memcpy(buf, JID, strlen(JID));
	buf[n] = '\0';
	parse_err(buf, "t.conf: file too large (max 1048576 bytes)",
	    "file over 1 MiB");
	buf[n - 1] = '\0';
	c = parse_ok(buf, "file of exactly 1 MiB");
	config_free(c);
	free(buf);
}

static void
keys_jid_server(void)
{
	struct config	*c;

	c = parse_ok("jid = Bot@Example.ORG./laptop\n", "jid with resource");
	if (c != NULL) {
		is_str(c->jid_str, "Bot@Example.ORG./laptop", "jid as written");
		is_str(c->jid.domain, "example.org", "domain normalised");
		is_str(c->jid.resource, "laptop", "resource");
	}
	config_free(c);
	parse_err("jid = example.org\n", "t.conf:1: jid: invalid JID "
	    "'example.org': missing localpart (expected user@domain)",
	    "jid without localpart");
	parse_err("jid = a b@example.org\n", "t.conf:1: jid: invalid JID "
	    "'a b@example.org': forbidden character in localpart",
	    "bad jid");
	parse_err("jid = bot@example.org/\n", "t.conf:1: jid: invalid JID "
	    "'bot@example.org/': empty resource", "empty resource");

	c = parse_ok(JID "server = xmpp.example.net\n", "server host");
	if (c != NULL) {
		is_str(c->server_host, "xmpp.example.net", "host");
		is_int(c->server_port, 0, "no port");
	}
	config_free(c);
	c = parse_ok(JID "server = xmpp.example.net:5223\n", "host:port");
	if (c != NULL) {
		is_str(c->server_host, "xmpp.example.net", "host:port host");
		is_int(c->server_port, 5223, "host:port port");
	}
	config_free(c);
	c = parse_ok(JID "server = 192.0.2.7:1\n", "IPv4:port");
	if (c != NULL) {
		is_str(c->server_host, "192.0.2.7", "IPv4 host");
		is_int(c->server_port, 1, "port 1");
	}
	config_free(c);
	c = parse_ok(JID "server = [2001:db8::7]:65535\n", "[v6]:port");
	if (c != NULL) {
		is_str(c->server_host, "2001:db8::7", "v6 host, no brackets");
		is_int(c->server_port, 65535, "port 65535");
	}
	config_free(c);
	c = parse_ok(JID "server = [::1]\n", "[v6]");
	if (c != NULL) {
		is_str(c->server_host, "::1", "[v6] host");
		is_int(c->server_port, 0, "[v6] no port");
	}
	config_free(c);
	parse_err(JID "server = xmpp.example.net:0\n", "t.conf:2: server: "
	    "0 is out of range (1..65535)", "port 0");
	parse_err(JID "server = xmpp.example.net:65536\n", "t.conf:2: server: "
	    "65536 is out of range (1..65535)", "port 65536");
	parse_err(JID "server = xmpp.example.net:http\n", "t.conf:2: server: "
	    "invalid number 'http'", "named port");
	parse_err(JID "server = xmpp.example.net:\n", "t.conf:2: server: "
	    "invalid number ''", "empty port");
	parse_err(JID "server = :5222\n", "t.conf:2: server: "
	    "empty host name", "empty host");
	parse_err(JID "server = 2001:db8::1\n", "t.conf:2: server: "
	    "invalid server '2001:db8::1': put an IPv6 address in brackets, "
	    "as in [2001:db8::1]:5222", "bare IPv6");
	parse_err(JID "server = [2001:db8::1\n", "t.conf:2: server: "
	    "invalid server '[2001:db8::1'", "open bracket");
	parse_err(JID "server = [::1]5222\n", "t.conf:2: server: "
	    "invalid server '[::1]5222'", "no colon after bracket");
	parse_err(JID "server = [example.org]:5222\n", "t.conf:2: server: "
	    "invalid IPv6 address 'example.org'", "name in brackets");
	parse_err(JID "server = bad_host!\n", "t.conf:2: server: "
	    "invalid host 'bad_host!': invalid character in domain",
	    "bad host character");
	parse_err(JID "server = user@host\n", "t.conf:2: server: "
	    "invalid host 'user@host': invalid host name", "host with '@'");
}

static void
keys_enums(void)
{
	static const struct {
		const char	*line;
		const char	*err;
	} bad[] = {
		{ "tls = ssl", "t.conf:2: tls: invalid value 'ssl' (expected "
		    "auto, starttls or direct)" },
		{ "tls = STARTTLS", "t.conf:2: tls: invalid value 'STARTTLS' "
		    "(expected auto, starttls or direct)" },
		{ "tls_verify = maybe", "t.conf:2: tls_verify: invalid "
		    "boolean 'maybe' (expected yes or no)" },
		{ "auto_register = 2", "t.conf:2: auto_register: invalid "
		    "boolean '2' (expected yes or no)" },
		{ "presence_show = busy", "t.conf:2: presence_show: invalid "
		    "value 'busy' (expected available, away, chat, dnd or "
		    "xa)" },
		{ "subscriptions = deny", "t.conf:2: subscriptions: invalid "
		    "value 'deny' (expected accept or ignore)" },
		{ "log_level = trace", "t.conf:2: log_level: invalid value "
		    "'trace' (expected info or debug)" },
		{ "outbox_rate = fast", "t.conf:2: outbox_rate: invalid rate "
		    "'fast' (messages per second, e.g. 5 or 0.5, at most "
		    "100000; 0 turns the limit off)" },
		{ "outbox_rate = 1.2345", "t.conf:2: outbox_rate: invalid rate "
		    "'1.2345' (messages per second, e.g. 5 or 0.5, at most "
		    "100000; 0 turns the limit off)" },
		{ "outbox_max_bytes = 65g", "t.conf:2: outbox_max_bytes: "
		    "invalid size '65g' (bytes, or with k, m or g; at most 64g; "
		    "0 for no limit)" },
		{ "outbox_burst = 0", "t.conf:2: outbox_burst: 0 is out of "
		    "range (1..100000)" },
	};
	static const char *yes[] = { "yes", "true", "on", "1", "YES", "On" };
	static const char *no[] = { "no", "false", "off", "0", "No", "FALSE" };
	static const char *shows[] = { "away", "chat", "dnd", "xa" };
	struct config	*c;
	char		 buf[256];
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(buf, sizeof(buf), JID "%s\n", bad[i].line);
		parse_err(buf, bad[i].err, bad[i].line);
	}
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		snprintf(buf, sizeof(buf), JID "tls_verify = %s\n"
		    "auto_register = %s\n", no[i], yes[i]);
		if ((c = parse_ok(buf, yes[i])) == NULL)
			continue;
		ok(c->tls_verify == 0 && c->auto_register == 1,
		    "booleans %s / %s", no[i], yes[i]);
		config_free(c);
	}
	c = parse_ok(JID "tls = starttls\n", "tls starttls");
	if (c != NULL)
		is_int(c->tls, TLS_MODE_STARTTLS, "starttls");
	config_free(c);
	c = parse_ok(JID "tls = direct\n", "tls direct");
	if (c != NULL)
		is_int(c->tls, TLS_MODE_DIRECT, "direct");
	config_free(c);
	c = parse_ok(JID "tls = auto\n", "tls auto");
	if (c != NULL)
		is_int(c->tls, TLS_MODE_AUTO, "auto");
	config_free(c);
	for (i = 0; i < sizeof(shows) / sizeof(shows[0]); i++) {
		snprintf(buf, sizeof(buf), JID "presence_show = %s\n",
		    shows[i]);
		if ((c = parse_ok(buf, shows[i])) == NULL)
			continue;
		is_str(c->presence_show, shows[i], "presence_show %s",
		    shows[i]);
		config_free(c);
	}
	c = parse_ok(JID "presence_show = available\n", "available");
	if (c != NULL)
		ok(c->presence_show == NULL, "available stored as NULL");
	config_free(c);
	c = parse_ok(JID "subscriptions = ignore\n", "subscriptions ignore");
	if (c != NULL)
		is_int(c->subscriptions, SUBS_IGNORE, "ignore");
	config_free(c);
	c = parse_ok(JID "subscriptions = accept\n", "subscriptions accept");
	if (c != NULL)
		is_int(c->subscriptions, SUBS_ACCEPT, "accept");
	config_free(c);
	c = parse_ok(JID "log_level = debug\n", "log_level debug");
	if (c != NULL)
		is_int(c->log_verbose, 1, "debug sets log_verbose");
	config_free(c);
	c = parse_ok(JID "log_level = info\n", "log_level info");
	if (c != NULL)
		is_int(c->log_verbose, 0, "info");
	config_free(c);
}

static void
keys_numbers(void)
{
	static const struct {
		const char	*line;
		const char	*err;	/* NULL: accepted */
		size_t		 off;	/* field in struct config */
		long long	 want;
	} t[] = {
#define F(f)	offsetof(struct config, f)
		{ "priority = -128", NULL, F(priority), -128 },
		{ "priority = 127", NULL, F(priority), 127 },
		{ "priority = -129", "t.conf:2: priority: -129 is out of range "
		    "(-128..127)", 0, 0 },
		{ "priority = 128", "t.conf:2: priority: 128 is out of range "
		    "(-128..127)", 0, 0 },
		{ "priority = high", "t.conf:2: priority: invalid number "
		    "'high'", 0, 0 },
		{ "ping_interval = 0", NULL, F(ping_interval), 0 },
		{ "ping_interval = 86400", NULL, F(ping_interval), 86400 },
		{ "ping_interval = 86401", "t.conf:2: ping_interval: 86401 is "
		    "out of range (0..86400)", 0, 0 },
		{ "ping_interval = abc", "t.conf:2: ping_interval: invalid "
		    "number 'abc'", 0, 0 },
		{ "ping_interval = -1", "t.conf:2: ping_interval: -1 is out "
		    "of range (0..86400)", 0, 0 },
		{ "ping_interval = 5s", "t.conf:2: ping_interval: invalid "
		    "number '5s'", 0, 0 },
		{ "ping_interval = 99999999999999999999", "t.conf:2: "
		    "ping_interval: 99999999999999999999 is out of range "
		    "(0..86400)", 0, 0 },
		{ "ping_timeout = 1", NULL, F(ping_timeout), 1 },
		{ "ping_timeout = 3600", NULL, F(ping_timeout), 3600 },
		{ "ping_timeout = 0", "t.conf:2: ping_timeout: 0 is out of "
		    "range (1..3600)", 0, 0 },
		{ "ping_timeout = 3601", "t.conf:2: ping_timeout: 3601 is out "
		    "of range (1..3600)", 0, 0 },
		{ "reconnect_min = 1", NULL, F(reconnect_min), 1 },
		{ "reconnect_min = 300", NULL, F(reconnect_min), 300 },
		{ "reconnect_min = 0", "t.conf:2: reconnect_min: 0 is out of "
		    "range (1..3600)", 0, 0 },
		{ "reconnect_min = 3601", "t.conf:2: reconnect_min: 3601 is "
		    "out of range (1..3600)", 0, 0 },
		{ "reconnect_min = 301", "t.conf:2: reconnect_min: 301 is "
		    "more than reconnect_max (300)", 0, 0 },
		{ "reconnect_max = 1", NULL, F(reconnect_max), 1 },
		{ "reconnect_max = 86400", NULL, F(reconnect_max), 86400 },
		{ "reconnect_max = 86401", "t.conf:2: reconnect_max: 86401 is "
		    "out of range (1..86400)", 0, 0 },
		{ "reconnect_max = 0", "t.conf:2: reconnect_max: 0 is out of "
		    "range (1..86400)", 0, 0 },
		{ "connect_timeout = 1", NULL, F(connect_timeout), 1 },
		{ "connect_timeout = 300", NULL, F(connect_timeout), 300 },
		{ "connect_timeout = 0", "t.conf:2: connect_timeout: 0 is out "
		    "of range (1..300)", 0, 0 },
		{ "connect_timeout = 301", "t.conf:2: connect_timeout: 301 is "
		    "out of range (1..300)", 0, 0 },
		{ "max_stanza_size = 4096", NULL, F(max_stanza_size), 4096 },
		{ "max_stanza_size = 16777216", NULL, F(max_stanza_size),
		    16777216 },
		{ "max_stanza_size = 4k", NULL, F(max_stanza_size), 4096 },
		{ "max_stanza_size = 512K", NULL, F(max_stanza_size), 524288 },
		{ "max_stanza_size = 1m", NULL, F(max_stanza_size), 1048576 },
		{ "max_stanza_size = 16M", NULL, F(max_stanza_size), 16777216 },
		{ "max_stanza_size = 4095", "t.conf:2: max_stanza_size: 4095 "
		    "is out of range (4096..16777216 bytes)", 0, 0 },
		{ "max_stanza_size = 3k", "t.conf:2: max_stanza_size: 3k is "
		    "out of range (4096..16777216 bytes)", 0, 0 },
		{ "max_stanza_size = 17M", "t.conf:2: max_stanza_size: 17M is "
		    "out of range (4096..16777216 bytes)", 0, 0 },
		{ "max_stanza_size = 16777217", "t.conf:2: max_stanza_size: "
		    "16777217 is out of range (4096..16777216 bytes)", 0, 0 },
		{ "max_stanza_size = 1G", "t.conf:2: max_stanza_size: invalid "
		    "size '1G'", 0, 0 },
		{ "max_stanza_size = k", "t.conf:2: max_stanza_size: invalid "
		    "size 'k'", 0, 0 },
		{ "max_stanza_size = 1 M", "t.conf:2: max_stanza_size: invalid "
		    "size '1 M'", 0, 0 },
		{ "max_stanza_size = 99999999999999M", "t.conf:2: "
		    "max_stanza_size: 99999999999999M is out of range "
		    "(4096..16777216 bytes)", 0, 0 },
#undef F
	};
	struct config	*c;
	char		 buf[256];
	long long	 got;
	size_t		 i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		snprintf(buf, sizeof(buf), JID "%s\n", t[i].line);
		if (t[i].err != NULL) {
			parse_err(buf, t[i].err, t[i].line);
			continue;
		}
		if ((c = parse_ok(buf, t[i].line)) == NULL)
			continue;
		if (t[i].off == offsetof(struct config, priority))
			got = c->priority;
		else if (t[i].off == offsetof(struct config, max_stanza_size))
			got = (long long)c->max_stanza_size;
		else
			got = *(unsigned int *)((char *)c + t[i].off);
		is_int(got, t[i].want, "value of %s", t[i].line);
		config_free(c);
	}

	parse_err(JID "reconnect_min = 60\nreconnect_max = 30\n",
	    "t.conf:3: reconnect_max: 30 is less than reconnect_min (60)",
	    "reconnect_max below reconnect_min");
	parse_err(JID "reconnect_max = 30\nreconnect_min = 60\n",
	    "t.conf:2: reconnect_max: 30 is less than reconnect_min (60)",
	    "reconnect_max below reconnect_min, other order");
	c = parse_ok(JID "reconnect_min = 30\nreconnect_max = 30\n",
	    "reconnect_max equal to reconnect_min");
	config_free(c);
}

static void
keys_paths(void)
{
	struct config	*c;
	char		 buf[2048];

	c = parse_ok(JID "ca_file = /etc/ssl/ca.pem\n"
	    "control_socket = /tmp/x.sock\ncontrol_group = xmpp-ctl\n"
	    "state_dir = /srv/xmppd\npassword_file = /etc/xmppd/pw\n",
	    "paths");
	if (c != NULL) {
		is_str(c->ca_file, "/etc/ssl/ca.pem", "ca_file");
		is_str(c->control_socket, "/tmp/x.sock", "control_socket");
		is_str(c->control_group, "xmpp-ctl", "control_group");
		is_str(c->state_dir, "/srv/xmppd", "state_dir");
		is_str(c->password_file, "/etc/xmppd/pw", "password_file");
	}
	config_free(c);
	parse_err(JID "ca_file = ca.pem\n", "t.conf:2: ca_file: 'ca.pem' is "
	    "not an absolute path", "relative ca_file");
	parse_err(JID "state_dir = var/lib\n", "t.conf:2: state_dir: "
	    "'var/lib' is not an absolute path", "relative state_dir");
	parse_err(JID "password_file = pw\n", "t.conf:2: password_file: "
	    "'pw' is not an absolute path", "relative password_file");
	parse_err(JID "control_socket = x.sock\n", "t.conf:2: "
	    "control_socket: 'x.sock' is not an absolute path",
	    "relative control_socket");

	/* sun_path holds 107 bytes and the NUL. */
	snprintf(buf, sizeof(buf), JID "control_socket = /%0106d\n", 0);
	c = parse_ok(buf, "107-byte control_socket");
	config_free(c);
	snprintf(buf, sizeof(buf), JID "control_socket = /%0107d\n", 0);
	parse_err(buf, "t.conf:2: control_socket: path too long (max 107 "
	    "bytes)", "108-byte control_socket");

	c = parse_ok(JID "control_group = _xmpp.ctl$\n", "group with $");
	config_free(c);
	c = parse_ok(JID "control_group = 1000\n", "numeric group");
	config_free(c);
	parse_err(JID "control_group = -wheel\n", "t.conf:2: control_group: "
	    "invalid group name '-wheel'", "group starting with '-'");
	parse_err(JID "control_group = a b\n", "t.conf:2: control_group: "
	    "invalid group name 'a b'", "group with space");
	parse_err(JID "control_group = a:b\n", "t.conf:2: control_group: "
	    "invalid group name 'a:b'", "group with ':'");
	parse_err(JID "control_group = a$b\n", "t.conf:2: control_group: "
	    "invalid group name 'a$b'", "'$' not at the end");

	snprintf(buf, sizeof(buf), JID "presence_status = %01024d\n", 0);
	c = parse_ok(buf, "1024-byte presence_status");
	config_free(c);
	snprintf(buf, sizeof(buf), JID "presence_status = %01025d\n", 0);
	parse_err(buf, "t.conf:2: presence_status: too long (max 1024 "
	    "bytes)", "1025-byte presence_status");
}

static void
keys_password(void)
{
	struct config	*c;

	c = parse_ok(JID "password = \" s3cret # x \"\n", "password");
	if (c != NULL) {
		is_str(c->password, " s3cret # x ", "password value");
		ok(c->password_in_config, "password_in_config");
		ok(!c->password_exposed, "not exposed without a file");
	}
	config_free(c);
	parse_err(JID "password = \"\"\n", "t.conf:2: password: empty "
	    "password", "empty password");
	parse_err(JID "password = a\npassword_file = /pw\n",
	    "t.conf:3: password_file: cannot be used together with password",
	    "password then password_file");
	parse_err(JID "password_file = /pw\npassword = a\n",
	    "t.conf:3: password: cannot be used together with password_file",
	    "password_file then password");
}

static void
socket_default(void)
{
	static const struct {
		const char	*name;
		const char	*sock;
	} t[] = {
		{ "/etc/xmppd/xmppd.conf", RUNSTATEDIR "/xmppd/xmppd.sock" },
		{ "/etc/xmppd/bot1.conf", RUNSTATEDIR "/xmppd/bot1.sock" },
		{ "bot2.conf", RUNSTATEDIR "/xmppd/bot2.sock" },
		{ "/tmp/bot.cfg", RUNSTATEDIR "/xmppd/bot.cfg.sock" },
		{ "/tmp/a.conf.conf", RUNSTATEDIR "/xmppd/a.conf.sock" },
		{ "/tmp/.conf", RUNSTATEDIR "/xmppd/xmppd.sock" },
	};
	struct config	*c;
	char		*cause, name[200];
	size_t		 i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		c = config_parse(t[i].name, JID, strlen(JID), &cause);
		if (!ok(c != NULL, "parse as %s", t[i].name)) {
			free(cause);
			continue;
		}
		is_str(c->control_socket, t[i].sock, "socket for %s",
		    t[i].name);
		config_free(c);
	}
	/* A name so long that the derived path cannot be a socket. */
	memset(name, 'n', 150);
	strcpy(name + 150, ".conf");
	c = config_parse(name, JID, strlen(JID), &cause);
	ok(c == NULL && cause != NULL && strstr(cause, ": control_socket: "
	    "default path ") != NULL && strstr(cause, "too long; set "
	    "control_socket") != NULL, "derived socket path too long");
	free(cause);
}

static void
files(void)
{
	struct config	*c;
	char		*path, *cause, *want, *big;
	size_t		 bigsz = 1024 * 1024 + 1;

	c = config_load("/nonexistent/xmppd.conf", &cause);
	ok(c == NULL, "missing file");
	xasprintf(&want, "/nonexistent/xmppd.conf: %s", strerror(ENOENT));
	is_str(cause, want, "missing file: message");
	free(want);
	free(cause);

	c = config_load(tmpdir, &cause);
	ok(c == NULL, "directory");
	xasprintf(&want, "%s: not a regular file", tmpdir);
	is_str(cause, want, "directory: message");
	free(want);
	free(cause);

	path = tmpfile_write("bad.conf", JID "ping_interval = abc\n",
	    strlen(JID "ping_interval = abc\n"), 0644);
	c = config_load(path, &cause);
	xasprintf(&want, "%s:2: ping_interval: invalid number 'abc'", path);
	is_str(cause, want, "file error names path, line and key");
	free(want);
	free(cause);
	free(path);

	big = malloc(bigsz);
	memset(big, '\n', bigsz);
	memcpy(big, JID, strlen(JID));
	path = tmpfile_write("big.conf", big, bigsz, 0644);
	free(big);
	c = config_load(path, &cause);
	xasprintf(&want, "%s: file too large (max 1048576 bytes)", path);
	is_str(cause, want, "file over 1 MiB on disk");
	free(want);
	free(cause);
	free(path);

	path = tmpfile_write("open.conf", JID "password = pw\n",
	    strlen(JID "password = pw\n"), 0644);
	c = config_load(path, &cause);
	ok(c != NULL && c->password_exposed, "0644 with password: exposed");
	config_free(c);
	chmod(path, 0640);
	c = config_load(path, &cause);
	ok(c != NULL && c->password_exposed, "0640 with password: exposed");
	config_free(c);
	chmod(path, 0600);
	c = config_load(path, &cause);
	ok(c != NULL && !c->password_exposed && c->password_in_config,
	    "0600 with password: not exposed");
	if (c != NULL)
		is_str(c->path, path, "path kept");
	config_free(c);
	free(path);

	path = tmpfile_write("nopw.conf", JID, strlen(JID), 0644);
	c = config_load(path, &cause);
	ok(c != NULL && !c->password_exposed, "0644 without password: fine");
	if (c != NULL)
		is_str(c->control_socket, RUNSTATEDIR "/xmppd/nopw.sock",
		    "socket named after file");
	config_free(c);
	free(path);
}

static void
passwords(void)
{
	struct config	*c;
	char		*cause, *path, *want, *text;
	char		 big[4097];

	/* From the config: nothing to read. */
	c = parse_ok(JID "password = inline\n", "inline password");
	unsetenv("CREDENTIALS_DIRECTORY");
	if (c != NULL) {
		is_int(config_load_password(c, &cause), 0, "inline: loaded");
		is_str(c->password, "inline", "inline: value");
	}
	config_free(c);

	/* From password_file, trailing CR/LF stripped. */
	path = tmpfile_write("pw", "file secret\r\n\n", 14, 0600);
	xasprintf(&text, JID "password_file = %s\n", path);
	c = parse_ok(text, "password_file");
	free(text);
	if (c != NULL) {
		is_int(config_load_password(c, &cause), 0, "file: loaded");
		is_str(c->password, "file secret", "file: newline stripped");
		ok(!c->password_in_config, "file: not in config");
		/* reauth reads the file again. */
		free(tmpfile_write("pw", "changed\n", 8, 0600));
		is_int(config_load_password(c, &cause), 0, "file: reloaded");
		is_str(c->password, "changed", "file: new value");
		/* A broken file keeps the old password. */
		free(tmpfile_write("pw", "", 0, 0600));
		is_int(config_load_password(c, &cause), -1, "file: now empty");
		xasprintf(&want, "t.conf:2: password_file: %s: empty password",
		    path);
		is_str(cause, want, "empty file: message");
		free(want);
		free(cause);
		is_str(c->password, "changed", "old password kept");

		free(tmpfile_write("pw", "a\0b\n", 4, 0600));
		is_int(config_load_password(c, &cause), -1, "file with NUL");
		xasprintf(&want, "t.conf:2: password_file: %s: NUL byte in "
		    "password", path);
		is_str(cause, want, "NUL: message");
		free(want);
		free(cause);

		free(tmpfile_write("pw", "\xff\xfe\n", 3, 0600));
		is_int(config_load_password(c, &cause), -1, "not UTF-8");
		free(cause);

		memset(big, 'p', sizeof(big));
		free(tmpfile_write("pw", big, 1024, 0600));
		is_int(config_load_password(c, &cause), 0, "1024 bytes");
		/* Over SASL's limit: refused here, not at login. */
		free(tmpfile_write("pw", big, 1025, 0600));
		is_int(config_load_password(c, &cause), -1, "1025 bytes");
		xasprintf(&want, "t.conf:2: password_file: %s: password too "
		    "long (1025 bytes, max 1024)", path);
		is_str(cause, want, "1025 bytes: message");
		free(want);
		free(cause);
		free(tmpfile_write("pw", "tab\tin\n", 7, 0600));
		is_int(config_load_password(c, &cause), -1, "control char");
		xasprintf(&want, "t.conf:2: password_file: %s: control "
		    "character in password at byte 3", path);
		is_str(cause, want, "control char: message");
		free(want);
		free(cause);
		free(tmpfile_write("pw", big, 4097, 0600));
		is_int(config_load_password(c, &cause), -1, "4097 bytes");
		xasprintf(&want, "t.conf:2: password_file: %s: file too "
		    "large (max 4096 bytes)", path);
		is_str(cause, want, "too long: message");
		free(want);
		free(cause);

		/* A file others can read is flagged, as the config is. */
		free(tmpfile_write("pw", "secret\n", 7, 0640));
		ok(config_load_password(c, &cause) == 0 &&
		    c->password_exposed, "password_file 0640: exposed");
		free(tmpfile_write("pw", "secret\n", 7, 0600));
		ok(config_load_password(c, &cause) == 0 &&
		    !c->password_exposed, "password_file 0600: not exposed");

		unlink(path);
		is_int(config_load_password(c, &cause), -1, "missing file");
		xasprintf(&want, "t.conf:2: password_file: %s: %s", path,
		    strerror(ENOENT));
		is_str(cause, want, "missing file: message");
		free(want);
		free(cause);
	}
	config_free(c);
	free(path);

	/* Neither: the systemd credential, then nothing. */
	c = parse_ok(JID, "no password key");
	if (c == NULL)
		return;
	is_int(config_load_password(c, &cause), -1, "no source at all");
	is_str(cause, "t.conf: no password: set password, password_file, or "
	    "provide the systemd credential 'password'", "no source: message");
	free(cause);
	setenv("CREDENTIALS_DIRECTORY", tmpdir, 1);
	is_int(config_load_password(c, &cause), -1, "credential dir, no file");
	is_str(cause, "t.conf: no password: set password, password_file, or "
	    "provide the systemd credential 'password'",
	    "credential dir without password: message");
	free(cause);
	path = tmpfile_write("password", "from systemd\n", 13, 0400);
	is_int(config_load_password(c, &cause), 0, "credential: loaded");
	is_str(c->password, "from systemd", "credential: value");
	unlink(path);
	free(path);
	unsetenv("CREDENTIALS_DIRECTORY");
	config_free(c);
}

static void
printing(void)
{
	static const char *full =
	    "jid = Bot@Example.org/res\n"
	    "password = hunter2-very-secret\n"
	    "server = [2001:db8::1]:5223\n"
	    "tls = direct\n"
	    "ca_file = /etc/ssl/ca.pem\n"
	    "tls_verify = off\n"
	    "presence_show = dnd\n"
	    "presence_status = \" busy \\\"now\\\" \"\n"
	    "priority = -5\n"
	    "ping_interval = 0\n"
	    "ping_timeout = 5\n"
	    "reconnect_min = 2\n"
	    "reconnect_max = 600\n"
	    "connect_timeout = 30\n"
	    "subscriptions = ignore\n"
	    "control_socket = /run/bot.sock\n"
	    "control_group = xmpp\n"
	    "max_stanza_size = 1M\n"
	    "auto_register = true\n"
	    "resume_after_restart = on\n"
	    "state_dir = /var/lib/bot\n"
	    "log_level = debug\n"
	    "outbox_max_messages = 50\n"
	    "outbox_max_bytes = 2m\n"
	    "outbox_lifetime = 3600\n"
	    "outbox_rate = 0.5\n"
	    "outbox_burst = 3\n"
	    "csi = no\n";
	static const char *want =
	    "jid = Bot@example.org/res\n"
	    "password = (set)\n"
	    "server = [2001:db8::1]:5223\n"
	    "tls = direct\n"
	    "ca_file = /etc/ssl/ca.pem\n"
	    "tls_verify = no\n"
	    "presence_show = dnd\n"
	    "presence_status = \" busy \\\"now\\\" \"\n"
	    "priority = -5\n"
	    "ping_interval = 0\n"
	    "ping_timeout = 5\n"
	    "reconnect_min = 2\n"
	    "reconnect_max = 600\n"
	    "connect_timeout = 30\n"
	    "subscriptions = ignore\n"
	    "control_socket = /run/bot.sock\n"
	    "control_group = xmpp\n"
	    "max_stanza_size = 1048576\n"
	    "auto_register = yes\n"
	    "resume_after_restart = yes\n"
	    "state_dir = /var/lib/bot\n"
	    "log_level = debug\n"
	    "outbox_max_messages = 50\n"
	    "outbox_max_bytes = 2097152\n"
	    "outbox_lifetime = 3600\n"
	    "outbox_rate = 0.500\n"
	    "outbox_burst = 3\n"
	    "csi = no\n";
	struct config	*c, *c2;
	char		*out, *out2, *cause;

	if ((c = parse_ok(full, "every key")) == NULL)
		return;
	out = print_str(c);
	is_str(out, want, "config_print: every key, stable order");
	ok(strstr(out, "hunter2") == NULL, "password never printed");
	free(out);
	config_free(c);

	c = parse_ok(JID "password_file = /etc/xmppd/pw\n"
	    "server = xmpp.example.org\n", "password_file config");
	if (c == NULL)
		return;
	out = print_str(c);
	is_str(out, "jid = bot@example.org\n"
	    "password_file = /etc/xmppd/pw\n"
	    "server = xmpp.example.org\n"
	    "tls = auto\n"
	    "tls_verify = yes\n"
	    "presence_show = available\n"
	    "priority = 0\n"
	    "ping_interval = 60\n"
	    "ping_timeout = 20\n"
	    "reconnect_min = 1\n"
	    "reconnect_max = 300\n"
	    "connect_timeout = 10\n"
	    "subscriptions = accept\n"
	    "control_socket = " RUNSTATEDIR "/xmppd/t.sock\n"
	    "max_stanza_size = 262144\n"
	    "auto_register = no\n"
	    "resume_after_restart = no\n"
	    "state_dir = " LOCALSTATEDIR "/lib/xmppd\n"
	    "log_level = info\n"
	    "outbox_max_messages = 100000\n"
	    "outbox_max_bytes = 268435456\n"
	    "outbox_lifetime = 604800\n"
	    "outbox_rate = 2.000\n"
	    "outbox_burst = 20\n"
	    "csi = yes\n", "config_print: defaults");
	/* Loading the password must not make it printable either. */
	setenv("CREDENTIALS_DIRECTORY", "/nonexistent", 1);
	free(c->password_file);
	c->password_file = NULL;
	c->password = strdup("loaded-secret");
	out2 = print_str(c);
	ok(strstr(out2, "loaded-secret") == NULL && strstr(out2, "password")
	    == NULL, "a password from elsewhere is not printed");
	free(out2);
	unsetenv("CREDENTIALS_DIRECTORY");

	/* What is printed reads back to the same thing. */
	c2 = config_parse("t.conf", out, strlen(out), &cause);
	if (ok(c2 != NULL, "printed config parses again")) {
		out2 = print_str(c2);
		is_str(out2, out, "and prints the same");
		free(out2);
	} else
		free(cause);
	config_free(c2);
	free(out);
	config_free(c);
}

/* The sample shipped in etc/ must always be a valid config. */
static void
sample(void)
{
	struct config	*c;
	const char	*top;
	char		*path, *cause;

	if ((top = getenv("top_srcdir")) == NULL || *top == '\0')
		top = ".";
	xasprintf(&path, "%s/etc/xmppd.conf", top);
	c = config_load(path, &cause);
	if (!ok(c != NULL, "sample %s parses", path))
		diag("%s", cause);
	else {
		is_str(c->jid_str, "bot@example.org", "sample: jid");
		ok(!c->password_in_config, "sample: no password in it");
	}
	config_free(c);
	free(path);
}

/* Issue 10 item 2/13, issue 11 item 10: messages and limits. */
static void
leaf_fixes(void)
{
	struct config	*c;
	char		*text, long_pw[1100];

	parse_err("jid = bot\n", "t.conf:1: jid: invalid JID 'bot': missing "
	    "domain (expected user@domain, as in bot@example.org)",
	    "jid without a domain");
	memset(long_pw, 'p', 1025);
	long_pw[1025] = '\0';
	xasprintf(&text, JID "password = %s\n", long_pw);
	parse_err(text, "t.conf:2: password: password too long (max 1024 "
	    "bytes)", "password over 1024 bytes");
	free(text);
	long_pw[1024] = '\0';
	xasprintf(&text, JID "password = %s\n", long_pw);
	config_free(parse_ok(text, "password of 1024 bytes"));
	free(text);

	parse_err(JID "password = a\tb\n", "t.conf:2: password: control "
	    "character in password at byte 1", "tab in password");

	/* Text XML forbids, in any value, named with its position. */
	parse_err(JID "presence_status = ok\xef\xbf\xbe\n",
	    "t.conf:2: presence_status: character U+FFFE at byte 2 is not "
	    "allowed in XML", "U+FFFE in presence_status");
	parse_err(JID "presence_status = \"\xef\xbf\xbf\"\n",
	    "t.conf:2: presence_status: character U+FFFF at byte 0 is not "
	    "allowed in XML", "quoted U+FFFF in presence_status");
	parse_err(JID "password = a\xef\xbf\xbf\n",
	    "t.conf:2: password: character U+FFFF at byte 1 is not allowed "
	    "in XML", "U+FFFF in password");
	c = parse_ok(JID "presence_status = caf\xc3\xa9 \xef\xbf\xbd\n",
	    "U+FFFD and accents are fine");
	config_free(c);

	c = parse_ok("# comment\n" JID "\npriority = 3\n", "key lines");
	if (c != NULL) {
		is_int(config_key_line(c, "jid"), 2, "jid on line 2");
		is_int(config_key_line(c, "priority"), 4, "priority on line 4");
		is_int(config_key_line(c, "ca_file"), 0, "ca_file unset");
		text = config_key_error(c, "priority", "boom");
		is_str(text, "t.conf:4: priority: boom", "key error form");
		free(text);
	}
	config_free(c);
}

/* Issue 11 item 3: what start-up checks, -n checks (confcheck_system). */
static void
system_checks(void)
{
	struct config	*c;
	char		*cause, *text, *ca;

	ca = tmpfile_write("ca.pem", "x", 1, 0644);
	xasprintf(&text, JID "ca_file = %s\ncontrol_socket = %s/run/x.sock\n",
	    ca, tmpdir);
	c = parse_ok(text, "system: good");
	free(text);
	if (c != NULL) {
		is_int(confcheck_system(c, 0, &cause), 0, "system: good passes");
		free(cause);
	}
	config_free(c);
	unlink(ca);
	free(ca);
	xasprintf(&text, "%s/run", tmpdir);
	rmdir(text);
	free(text);

	c = parse_ok(JID "ca_file = /nonexistent/ca.pem\n", "missing ca");
	if (c != NULL) {
		is_int(confcheck_system(c, 0, &cause), -1, "missing ca_file");
		xasprintf(&text, "t.conf:2: ca_file: /nonexistent/ca.pem: %s",
		    strerror(ENOENT));
		is_str(cause, text, "missing ca_file: message");
		free(text);
		free(cause);
	}
	config_free(c);

	c = parse_ok(JID "control_group = no-such-group-xmppd\n",
	    "unknown group");
	if (c != NULL) {
		is_int(confcheck_system(c, 0, &cause), -1, "unknown group");
		is_str(cause, "t.conf:2: control_group: no-such-group-xmppd: "
		    "no such group", "unknown group: message");
		free(cause);
	}
	config_free(c);

	c = parse_ok(JID "control_socket = /nonexistent/sub/x.sock\n",
	    "uncreatable socket directory");
	if (c != NULL) {
		is_int(confcheck_system(c, 0, &cause), -1,
		    "socket directory cannot be created");
		xasprintf(&text, "t.conf:2: control_socket: cannot create the "
		    "directory /nonexistent/sub (/nonexistent: %s)",
		    strerror(ENOENT));
		is_str(cause, text, "socket directory: message");
		free(text);
		free(cause);
		is_int(confcheck_system(c, 1, &cause), 0,
		    "socket passed by systemd: directory not needed");
		free(cause);
	}
	config_free(c);
}

static void
cleanup(void)
{
	static const char *names[] = { "bad.conf", "big.conf", "open.conf",
	    "nopw.conf", "pw", "password" };
	char	path[512];
	size_t	i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", tmpdir, names[i]);
		unlink(path);
	}
	rmdir(tmpdir);
}

int
main(void)
{
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	defaults();
	syntax();
	syntax_errors();
	limits();
	keys_jid_server();
	keys_enums();
	keys_numbers();
	keys_paths();
	keys_password();
	socket_default();
	files();
	passwords();
	printing();
	sample();
	leaf_fixes();
	system_checks();
	cleanup();
	return done_testing();
}
