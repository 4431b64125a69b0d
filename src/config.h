/*
 * config.h: the daemon's configuration (xmppd.conf(5)).  A leaf module:
 * errors are returned as "FILE:LINE: KEY: message" strings.
 */
#ifndef XMPPD_CONFIG_H
#define XMPPD_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "jid.h"

struct roomconf;

enum tls_mode {
	TLS_MODE_AUTO = 0,	/* direct TLS where SRV says so, else STARTTLS */
	TLS_MODE_STARTTLS,
	TLS_MODE_DIRECT,
};

enum subs_policy {
	SUBS_ACCEPT = 0,
	SUBS_IGNORE,
};

struct config {
	char		*path;
	struct jid	 jid;		/* resource NULL: server's choice */
	char		*jid_str;	/* as written */
	char		*password;	/* from the file, password_file or credential */
	char		*password_file;
	int		 password_in_config;	/* "password =" was used */
	int		 password_exposed;	/* ... in a file others may read */
	char		*server_host;	/* NULL: SRV lookup on the domain */
	uint16_t	 server_port;	/* 0: default for the TLS mode */
	enum tls_mode	 tls;
	char		*ca_file;	/* NULL: system store */
	int		 tls_verify;
	char		*presence_show;	/* NULL or away|chat|dnd|xa */
	char		*presence_status;
	int		 priority;	/* -128..127 */
	unsigned int	 ping_interval;	/* seconds, 0 disables */
	unsigned int	 ping_timeout;	/* seconds */
	unsigned int	 reconnect_min;	/* seconds */
	unsigned int	 reconnect_max;	/* seconds */
	unsigned int	 connect_timeout; /* seconds */
	enum subs_policy subscriptions;
	char		*control_socket;
	char		*control_group;	/* NULL: none */
	size_t		 max_stanza_size;
	int		 auto_register;
	int		 resume_after_restart;	/* SIGTERM keeps the session */
	char		*state_dir;
	int		 log_verbose;	/* log_level = debug */
	int		*key_lines;	/* line of each key, 0: not set */
	struct roomconf	*rooms;		/* NULL: no group-chat keys */
	unsigned int	 outbox_max_messages;	/* 0: no limit */
	uint64_t	 outbox_max_bytes;	/* 0: no limit */
	unsigned int	 outbox_lifetime;	/* seconds, 0: forever */
	uint64_t	 outbox_rate_milli;	/* messages/s x1000, 0: off */
	unsigned int	 outbox_burst;
	int		 csi;		/* XEP-0352: inactive when offered */
};

/*
 * Parse a file.  Returns a new config, or NULL with *cause set to a new
 * "FILE:LINE: KEY: message" string.  Does not read the password from
 * password_file or the credential directory (see config_load_password).
 */
struct config	*config_load(const char *path, char **cause);
/* Same, from memory (tests, fuzzing); name stands for the file name. */
struct config	*config_parse(const char *name, const char *buf, size_t len,
		    char **cause);
void		 config_free(struct config *);
/*
 * Resolve the password: "password" key, else password_file, else
 * $CREDENTIALS_DIRECTORY/password.  Trailing newlines are stripped.
 * Returns 0, or -1 with *cause.
 */
int		 config_load_password(struct config *, char **cause);
/* Print the effective config as key = value lines, password hidden. */
void		 config_print(const struct config *, FILE *);
/* The line that set key, or 0 when the file does not set it. */
int		 config_key_line(const struct config *, const char *key);
/* New "FILE:LINE: KEY: msg" string (without LINE when key is unset). */
char		*config_key_error(const struct config *, const char *key,
		    const char *msg);

/* Defaults */
#define CONFIG_DEFAULT_MAX_STANZA	(256 * 1024)
#define CONFIG_DEFAULT_PING_INTERVAL	60
#define CONFIG_DEFAULT_PING_TIMEOUT	20
#define CONFIG_DEFAULT_RECONNECT_MIN	1
#define CONFIG_DEFAULT_RECONNECT_MAX	300
#define CONFIG_DEFAULT_CONNECT_TIMEOUT	10
#define CONFIG_DEFAULT_OUTBOX_MESSAGES	100000
#define CONFIG_DEFAULT_OUTBOX_BYTES	(256ULL * 1024 * 1024)
#define CONFIG_DEFAULT_OUTBOX_LIFETIME	(7 * 86400)
/* 2 messages/s, bursts of 20: see xmppd.conf(5) for why. */
#define CONFIG_DEFAULT_OUTBOX_RATE_MILLI 2000
#define CONFIG_DEFAULT_OUTBOX_BURST	20

#endif
