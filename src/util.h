/*
 * util.h: small helpers shared by the daemon, the control client and tests.
 */
#ifndef XMPPD_UTIL_H
#define XMPPD_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Base64 (RFC 4648, padded).  Returns a new NUL-terminated string. */
char		*b64_encode(const void *, size_t);
/* Strict decode; "=" alone decodes to zero bytes.  -1 on bad input. */
int		 b64_decode(const char *, size_t, unsigned char **, size_t *);
/* OpenBSD strtonum(3). */
long long	 xstrtonum(const char *, long long, long long, const char **);
/* 1 if the bytes are well-formed UTF-8 without NUL, else 0. */
int		 utf8_valid(const char *, size_t);
#include <stdio.h>

/*
 * Write PATH in DIR (created 0700 if missing) atomically, mode 0600: fill
 * writes the content to a temporary file that is then renamed over PATH.
 * Returns 0, or -1 with *cause.
 */
int		 write_private_file(const char *dir, const char *path,
		    void (*fill)(FILE *, void *), void *arg, char **cause);
/*
 * A presence <show/> value as the config and the control socket take it:
 * "available" (no <show/>), "away", "chat", "dnd" or "xa" (RFC 6121
 * 4.7.2.1).  The one list; PRESENCE_SHOWS names them for messages.
 */
int		 presence_show_valid(const char *);
#define PRESENCE_SHOWS	"available, away, chat, dnd or xa"
/* CLOCK_MONOTONIC in milliseconds. */
uint64_t	 monotime_ms(void);

#endif
