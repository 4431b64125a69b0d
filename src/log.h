/*
 * log.h: the daemon's logging API (bgpd-style).
 */
#ifndef XMPPD_LOG_H
#define XMPPD_LOG_H

#include <stdarg.h>
#include "compat.h"

enum log_dest {
	LOG_TO_STDERR,		/* plain lines, e.g. with -d */
	LOG_TO_JOURNAL,		/* stderr is the journal: "<N>" prefixes */
};

/* Takes a line to the journal (0) or declines it (-1); jid may be NULL. */
typedef int (*log_journal_fn)(int pri, const char *msg, const char *jid);

void	log_init(int debug, enum log_dest, log_journal_fn);
void	log_setverbose(int);
int	log_getverbose(void);
void	log_set_context(const char *jid, const char *state);
void	log_warn(const char *, ...) __attribute__((__format__(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((__format__(printf, 1, 2)));
/* An error (LOG_ERR): start-up failed, an account parked for good. */
void	log_errx(const char *, ...) __attribute__((__format__(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((__format__(printf, 1, 2)));
void	log_notice(const char *, ...) __attribute__((__format__(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((__format__(printf, 1, 2)));
void	vlog(int, const char *, va_list) __attribute__((__format__(printf, 2, 0)));
__dead void fatal(const char *, ...) __attribute__((__format__(printf, 1, 2)));
__dead void fatalx(const char *, ...) __attribute__((__format__(printf, 1, 2)));
char	*log_escape(const char *, size_t);

#endif
