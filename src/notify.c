/*
 * notify.c: the service manager's view of the daemon.  READY=1 once the
 * config is read and the control socket listens (not when online: an
 * outage must not fail the unit); STATUS= on every state change; the
 * watchdog is fed from the event loop, so a wedged loop is noticed.
 *
 * The watchdog costs no wake-up of its own when it need not: a timer
 * feeds it WATCHDOG_USEC/2 after the last feed, but whenever the loop is
 * awake anyway (notify_watchdog_kick(), from the keepalive timer and the
 * read callback) and a quarter of WATCHDOG_USEC has passed, it is fed
 * there and the timer moves out.  With WatchdogSec= above twice the ping
 * interval (the shipped units) the timer never fires while online.
 */
#include "compat.h"

#include <sys/stat.h>
#include <sys/uio.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#define SD_JOURNAL_SUPPRESS_LOCATION	/* it would always be notify.c */
#include <systemd/sd-journal.h>
#endif

#include "notify.h"
#include "util.h"

#define STATE_CHANGE	"state change "

static struct event	*watchdog_ev;
static struct timeval	 watchdog_half;		/* WATCHDOG_USEC / 2 */
static uint64_t		 watchdog_quarter_ms;	/* WATCHDOG_USEC / 4 */
static uint64_t		 watchdog_fed_ms;	/* monotime_ms() of the last feed */
static char		 online_status[400];	/* "online as ...", or "" */
static unsigned int	 rooms_joined, rooms_total;

/*
 * The new state named by a line "state change A -> B, reason: ...", as a
 * length, or 0 when msg is not such a line.
 */
static size_t
notify_new_state(const char *msg, const char **state)
{
	const char	*p;

	if (strncmp(msg, STATE_CHANGE, strlen(STATE_CHANGE)) != 0 ||
	    (p = strstr(msg, " -> ")) == NULL)
		return 0;
	*state = p + 4;
	return strcspn(*state, ", ");
}

/*
 * For log_init(): send a state-change line to the journal with the fields
 * XMPPD_STATE (the new state) and XMPPD_JID, so that "journalctl
 * XMPPD_STATE=auth-failed" finds them.  -1 for any other line, or when
 * the journal does not take it, so that the caller writes it to stderr
 * instead.  Other lines keep to stderr: the journal files them under the
 * unit even when they are the last words of a process that exits at once.
 */
int
notify_journal(int pri, const char *msg, const char *jid)
{
#ifdef HAVE_SYSTEMD
	char		 f_msg[2100], f_pri[16], f_state[64], f_jid[1100];
	struct iovec	 iov[5];
	const char	*state;
	size_t		 len;
	int		 n = 0;

	if ((len = notify_new_state(msg, &state)) == 0)
		return -1;
	snprintf(f_msg, sizeof(f_msg), "MESSAGE=%s", msg);
	snprintf(f_pri, sizeof(f_pri), "PRIORITY=%d", pri);
	snprintf(f_state, sizeof(f_state), "XMPPD_STATE=%.*s", (int)len,
	    state);
	iov[n].iov_base = f_msg;
	iov[n++].iov_len = strlen(f_msg);
	iov[n].iov_base = f_pri;
	iov[n++].iov_len = strlen(f_pri);
	iov[n].iov_base = (char *)"SYSLOG_IDENTIFIER=xmppd";
	iov[n++].iov_len = strlen("SYSLOG_IDENTIFIER=xmppd");
	iov[n].iov_base = f_state;
	iov[n++].iov_len = strlen(f_state);
	if (jid != NULL) {
		snprintf(f_jid, sizeof(f_jid), "XMPPD_JID=%s", jid);
		iov[n].iov_base = f_jid;
		iov[n++].iov_len = strlen(f_jid);
	}
	return sd_journal_sendv(iov, n) < 0 ? -1 : 0;
#else
	(void)pri;
	(void)msg;
	(void)jid;
	(void)notify_new_state;
	return -1;
#endif
}

static void
notify_send(const char *msg)
{
#ifdef HAVE_SYSTEMD
	sd_notify(0, msg);
#else
	(void)msg;
#endif
}

void
notify_ready(void)
{
	notify_send("READY=1");
}

void
notify_reloading(void)
{
	notify_send("RELOADING=1");
}

void
notify_stopping(void)
{
	notify_send("STOPPING=1");
}

void
notify_status(const char *fmt, ...)
{
	char	buf[512], msg[600];
	va_list	ap;
	size_t	i;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/* STATUS= is a single line. */
	for (i = 0; buf[i] != '\0'; i++)
		if (buf[i] == '\n' || buf[i] == '\r')
			buf[i] = ' ';
	snprintf(msg, sizeof(msg), "STATUS=%s", buf);
	notify_send(msg);
}

/* The reason without the "; retry in Ns" that STATUS= says up front. */
static size_t
notify_reason_len(const char *reason)
{
	const char	*p;

	if ((p = strstr(reason, "; retry in ")) != NULL)
		return p - reason;
	return strlen(reason);
}

/* While online, STATUS= ends in ", 3/3 rooms" when rooms are set up. */
void
notify_rooms(unsigned int joined, unsigned int total)
{
	rooms_joined = joined;
	rooms_total = total;
	if (online_status[0] == '\0')
		return;
	if (total > 0)
		notify_status("%s, %u/%u rooms", online_status, joined, total);
	else
		notify_status("%s", online_status);
}

void
notify_state(const char *state, const char *jid, const char *reason,
    uint32_t retry_ms, const char *peer)
{
	online_status[0] = '\0';
	if (strcmp(state, "online") == 0) {
		snprintf(online_status, sizeof(online_status), "online as "
		    "%s%s%s", jid, peer ? " via " : "", peer ? peer : "");
		notify_rooms(rooms_joined, rooms_total);
	} else if (strcmp(state, "waiting") == 0)
		notify_status("waiting %.*fs before reconnecting: %.*s",
		    retry_ms < 10000 ? 1 : 0, retry_ms / 1000.0,
		    (int)notify_reason_len(reason), reason);
	else if (strcmp(state, "auth-failed") == 0)
		notify_status("auth-failed: %s; fix the password, then "
		    "xmppd-ctl reauth", reason);
	else
		notify_status("%s: %s", state, reason);
}

static void
watchdog_feed(void)
{
	notify_send("WATCHDOG=1");
	watchdog_fed_ms = monotime_ms();
	event_add(watchdog_ev, &watchdog_half);	/* the fallback moves out */
}

static void
watchdog_cb(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
	watchdog_feed();
}

void
notify_watchdog_kick(void)
{
	if (watchdog_ev != NULL &&
	    monotime_ms() - watchdog_fed_ms >= watchdog_quarter_ms)
		watchdog_feed();
}

void
notify_watchdog_start(struct event_base *base)
{
#ifdef HAVE_SYSTEMD
	uint64_t	usec;

	if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
		return;
	watchdog_half.tv_sec = usec / 2 / 1000000;
	watchdog_half.tv_usec = usec / 2 % 1000000;
	watchdog_quarter_ms = usec / 4000;
	if ((watchdog_ev = evtimer_new(base, watchdog_cb, NULL)) == NULL)
		return;
	watchdog_feed();
#else
	(void)base;
	(void)watchdog_cb;
#endif
}

void
notify_watchdog_stop(void)
{
	if (watchdog_ev != NULL) {
		event_free(watchdog_ev);
		watchdog_ev = NULL;
	}
}

int
notify_listen_fd(void)
{
#ifdef HAVE_SYSTEMD
	char	**names = NULL;
	int	  n, i, fd = -1;

	n = sd_listen_fds_with_names(1, &names);
	for (i = 0; i < n; i++) {
		int	this = SD_LISTEN_FDS_START + i;

		if (fd == -1 && sd_is_socket_unix(this, SOCK_STREAM, 1, NULL,
		    0) > 0 && (names == NULL || strcmp(names[i], "control") ==
		    0 || strcmp(names[i], "unknown") == 0))
			fd = this;
		else if (fd != this)
			close(this);
	}
	if (names != NULL) {
		for (i = 0; i < n; i++)
			free(names[i]);
		free(names);
	}
	return fd;
#else
	return -1;
#endif
}

int
notify_stderr_is_journal(void)
{
	const char		*e = getenv("JOURNAL_STREAM");
	unsigned long long	 dev, ino;
	struct stat		 st;

	/* systemd.exec(5): compare, since the variable is inherited. */
	if (e == NULL || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
		return 0;
	if (fstat(STDERR_FILENO, &st) == -1)
		return 0;
	return (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
}
