/*
 * log.c: level-filtered logging to stderr, with sd-daemon(3) "<N>" priority
 * prefixes when stderr is the journal.  There, a journal writer given to
 * log_init() may take lines itself (notify_journal(): state changes, with
 * fields).  Untrusted text goes through log_escape() before it reaches a
 * log line.
 */
#include "compat.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "log.h"
#include "xmalloc.h"

static void	log_pri(int, const char *, ...)
	    __attribute__((__format__(printf, 2, 3)));

static int		 log_debug_on;
static int		 log_verbose;
static enum log_dest	 log_dest = LOG_TO_STDERR;
static char		*log_ctx_jid;
static log_journal_fn	 log_journal;

static const char *
log_prio_name(int pri)
{
	switch (pri) {
	case LOG_CRIT:
		return "fatal";
	case LOG_ERR:
		return "error";
	case LOG_WARNING:
		return "warning";
	case LOG_NOTICE:
		return "notice";
	case LOG_INFO:
		return "info";
	default:
		return "debug";
	}
}

/*
 * journal: with LOG_TO_JOURNAL, a function that may take a line to the
 * journal itself (returning 0) or leave it to stderr (-1).  Kept out of
 * this file so that programs without a journal need no libsystemd.
 */
void
log_init(int debug, enum log_dest dest, log_journal_fn journal)
{
	log_debug_on = debug;
	log_verbose = debug;
	log_dest = dest;
	log_journal = journal;
	tzset();
}

void
log_setverbose(int v)
{
	log_verbose = v;
}

int
log_getverbose(void)
{
	return log_verbose;
}

/*
 * The account that XMPPD_JID names (NULL: none): the bare JID, so that one
 * "journalctl XMPPD_JID=a@b" finds every line of the account, whatever
 * the resource.  The state is taken from each state-change line itself,
 * so the order of calls does not matter.
 */
void
log_set_context(const char *jid, const char *state)
{
	size_t	len;

	(void)state;
	free(log_ctx_jid);
	log_ctx_jid = NULL;
	if (jid != NULL) {
		len = strcspn(jid, "/");
		log_ctx_jid = xmalloc(len + 1);
		memcpy(log_ctx_jid, jid, len);
		log_ctx_jid[len] = '\0';
	}
}

void
vlog(int pri, const char *fmt, va_list ap)
{
	char	msg[2048];
	int	saved_errno = errno;

	if (pri == LOG_DEBUG && !log_verbose)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_dest == LOG_TO_JOURNAL) {
		if (log_journal == NULL ||
		    log_journal(pri, msg, log_ctx_jid) == -1)
			fprintf(stderr, "<%d>%s\n", pri, msg);
	} else if (log_debug_on) {
		struct timespec	ts;
		struct tm	tm;
		char		tbuf[32];

		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		strftime(tbuf, sizeof(tbuf), "%H:%M:%S", &tm);
		fprintf(stderr, "%s.%03ld %s: %s\n", tbuf,
		    ts.tv_nsec / 1000000, log_prio_name(pri), msg);
	} else
		fprintf(stderr, "xmppd: %s: %s\n", log_prio_name(pri), msg);
	fflush(stderr);
	errno = saved_errno;
}

static void	log_errno(int, const char *, va_list)
		    __attribute__((__format__(printf, 2, 0)));

static void
log_errno(int pri, const char *fmt, va_list ap)
{
	char	buf[1024];
	int	saved_errno = errno;

	vsnprintf(buf, sizeof(buf), fmt, ap);
	if (saved_errno)
		log_pri(pri, "%s: %s", buf, strerror(saved_errno));
	else
		log_pri(pri, "%s", buf);
	errno = saved_errno;
}

static void
log_pri(int pri, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(pri, fmt, ap);
	va_end(ap);
}

/*
 * Warnings are LOG_WARNING, in the journal too: "journalctl -p err" must
 * show what failed, not every notice about a config choice.  What stops
 * the daemon or the account for good uses log_errx().
 */
void
log_warn(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_errno(LOG_WARNING, fmt, ap);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(LOG_WARNING, fmt, ap);
	va_end(ap);
}

void
log_errx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(LOG_ERR, fmt, ap);
	va_end(ap);
}

void
log_notice(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(LOG_NOTICE, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(LOG_INFO, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	ap;

	if (!log_verbose)
		return;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_errno(LOG_CRIT, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap);
	va_end(ap);
	exit(1);
}

/*
 * Return a newly allocated copy of len bytes of s that is safe to print:
 * control characters and bytes >= 0x7f as \ooo, backslash doubled.
 */
char *
log_escape(const char *s, size_t len)
{
	char	*out, *p;
	size_t	 i;

	out = p = xreallocarray(NULL, len + 1, 4);
	for (i = 0; i < len; i++) {
		unsigned char c = s[i];

		if (c == '\\') {
			*p++ = '\\';
			*p++ = '\\';
		} else if (c < 0x20 || c >= 0x7f) {
			snprintf(p, 5, "\\%03o", c);
			p += 4;
		} else
			*p++ = c;
	}
	*p = '\0';
	return out;
}
