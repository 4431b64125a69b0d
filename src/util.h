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
/*
 * The presence a saved session had, as written next to it: the show value
 * on the first line, the status text (maybe empty, maybe several lines)
 * after it.  0 with *show ("available" is NULL) and *status (NULL when
 * empty) allocated, or -1 when the text is not such a presence.
 */
#define PRESENCE_SAVED_MAX	4096
int		 presence_saved_parse(const char *buf, size_t len,
		    char **show, char **status);
#define PRESENCE_SHOWS	"available, away, chat, dnd or xa"
/* CLOCK_MONOTONIC in milliseconds. */
uint64_t	 monotime_ms(void);

/*
 * Text that may go into an XML document: well-formed UTF-8 whose every
 * character is an XML 1.0 Char (TAB, LF, CR, U+0020-U+D7FF,
 * U+E000-U+FFFD, U+10000-U+10FFFF); so no NUL or other C0 control, no
 * U+FFFE or U+FFFF, no surrogate.  Returns 1 if s[0..len) is such text,
 * else 0 and, when err is not NULL, a message naming the first offending
 * character and its byte offset in err (at most errsize bytes, e.g.
 * "character U+FFFE at byte 3 is not allowed in XML").  Pure: no
 * allocation, no logging.  Every entry point of text that ends up in a
 * stanza (control socket, config) refuses what fails here, and the
 * connection checks again before it sends.
 */
int		 xml_text_valid(const char *s, size_t len, char *err,
		    size_t errsize);
#define XML_TEXT_ERR_MAX	64	/* enough for any message above */

/*
 * A uniform random number in [0, upper) from the kernel (getrandom(2)),
 * never from an unseeded libc generator; upper 0 returns 0.
 */
uint32_t	 rand_uniform(uint32_t upper);
/*
 * RFC 2782 weighted choice among n > 0 weights: a number in 0..sum is
 * drawn with rand_uniform(), the first index whose running sum reaches it
 * is returned (so a zero weight is chosen rarely, and only when it comes
 * first); all weights zero: each index with equal chance.
 */
size_t		 weighted_pick(const uint16_t *weights, size_t n);

/* mkdir -p, 0700 for each directory created; -1 with errno. */
int	mkdir_parents(const char *dir);

#endif
