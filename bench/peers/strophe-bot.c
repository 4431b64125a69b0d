/*
 * strophe-bot.c: the libstrophe peer for scripts/bench.  As small as a bot
 * doing xmppd's job can be: connect, STARTTLS (mandatory, certificate
 * verified against the JID's domain), SASL (libstrophe picks SCRAM), bind,
 * initial presence; then stay online.
 *
 *	strophe-bot -j JID -s HOST:PORT -c CAFILE [-m MIN_MS] [-M MAX_MS] [-d]
 *
 * The password comes from $BOT_PASSWORD (never the command line).
 * Lines on stdout, each starting with the wall-clock time in seconds:
 *	T start | T presence-sent JID | T disconnected | T retry-in MS | T exit
 * -d adds libstrophe's own log, timestamped the same way, on stderr.
 *
 * SIGUSR1: reconnect now (disconnect cleanly, connect again at once), the
 * "reconnect call" of a libstrophe program.  A connection lost otherwise is
 * retried with xmppd's schedule (full jitter: attempt n waits uniform
 * [MIN, min(MAX, MIN * 2^n)] ms; reset after 60 s online), as libstrophe has
 * no reconnection logic of its own.  SIGTERM/SIGINT: disconnect and exit.
 *
 * The event loop is libstrophe's: xmpp_run_once() with the library's
 * default timeout (1 s, as xmpp_run() uses), so idle wakeups are the
 * library's, not ours.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/random.h>

#include <strophe.h>

#define LOOP_TIMEOUT_MS	1000	/* libstrophe's EVENT_LOOP_DEFAULT_TIMEOUT */
#define STABLE_MS	60000

static volatile sig_atomic_t	got_usr1, got_term;

static xmpp_ctx_t	*ctx;
static xmpp_conn_t	*conn;
static const char	*host;
static unsigned short	 port;
static uint32_t		 bo_min = 1000, bo_max = 300000, bo_attempt;
static int		 connected, want_reconnect_now, quitting;
static double		 online_since, retry_at;

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double
mono(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
say(const char *what, const char *arg)
{
	printf("%.6f %s%s%s\n", now(), what, arg ? " " : "", arg ? arg : "");
	fflush(stdout);
}

static void
logger(void *ud, xmpp_log_level_t level, const char *area, const char *msg)
{
	(void)ud;
	(void)level;
	fprintf(stderr, "%.6f %s %s\n", now(), area, msg);
}

static uint32_t
backoff_next(void)
{
	uint64_t	ceil = bo_min, span;
	uint32_t	r = 0;

	if (bo_attempt < 32)
		ceil = (uint64_t)bo_min << bo_attempt;
	if (ceil > bo_max || bo_attempt >= 32)
		ceil = bo_max;
	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
		r = (uint32_t)random();
	span = ceil - bo_min + 1;
	bo_attempt++;
	return bo_min + (uint32_t)(((uint64_t)r * span) >> 32);
}

static void conn_handler(xmpp_conn_t *, xmpp_conn_event_t, int,
    xmpp_stream_error_t *, void *);

static void
start_connect(void)
{
	retry_at = 0;
	if (xmpp_connect_client(conn, host, port, conn_handler, NULL) !=
	    XMPP_EOK) {
		uint32_t ms = backoff_next();
		char buf[32];

		snprintf(buf, sizeof(buf), "%u", ms);
		say("retry-in", buf);
		retry_at = mono() + ms / 1000.0;
	}
}

static void
conn_handler(xmpp_conn_t *c, xmpp_conn_event_t ev, int err,
    xmpp_stream_error_t *se, void *ud)
{
	xmpp_stanza_t	*pres;

	(void)err;
	(void)se;
	(void)ud;
	if (ev == XMPP_CONN_CONNECT) {
		connected = 1;
		pres = xmpp_presence_new(ctx);
		xmpp_send(c, pres);
		xmpp_stanza_release(pres);
		online_since = mono();
		say("presence-sent", xmpp_conn_get_bound_jid(c));
		return;
	}
	/* XMPP_CONN_DISCONNECT or XMPP_CONN_FAIL */
	connected = 0;
	say("disconnected", NULL);
	if (quitting)
		return;
	if (online_since > 0 && mono() - online_since >= STABLE_MS / 1000.0)
		bo_attempt = 0;
	online_since = 0;
	if (want_reconnect_now) {
		want_reconnect_now = 0;
		retry_at = mono();	/* at once, outside the callback */
	} else {
		uint32_t ms = backoff_next();
		char buf[32];

		snprintf(buf, sizeof(buf), "%u", ms);
		say("retry-in", buf);
		retry_at = mono() + ms / 1000.0;
	}
}

static void
on_signal(int sig)
{
	if (sig == SIGUSR1)
		got_usr1 = 1;
	else
		got_term = 1;
}

static void
usage(void)
{
	fprintf(stderr, "usage: strophe-bot -j JID -s HOST:PORT -c CAFILE "
	    "[-m MIN_MS] [-M MAX_MS] [-d]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct sigaction	 sa;
	const char		*jid = NULL, *server = NULL, *ca = NULL, *pw;
	char			*colon, *hostbuf;
	int			 ch, debug = 0;
	long			 timeout;

	say("start", NULL);
	while ((ch = getopt(argc, argv, "j:s:c:m:M:d")) != -1) {
		switch (ch) {
		case 'j': jid = optarg; break;
		case 's': server = optarg; break;
		case 'c': ca = optarg; break;
		case 'm': bo_min = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'M': bo_max = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'd': debug = 1; break;
		default: usage();
		}
	}
	if (jid == NULL || server == NULL || ca == NULL ||
	    (pw = getenv("BOT_PASSWORD")) == NULL)
		usage();
	hostbuf = strdup(server);
	if ((colon = strrchr(hostbuf, ':')) == NULL)
		usage();
	*colon = '\0';
	host = hostbuf;
	port = (unsigned short)atoi(colon + 1);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;	/* no SA_RESTART: wake the loop */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	xmpp_initialize();
	ctx = xmpp_ctx_new(NULL, debug ? &(xmpp_log_t){ logger, NULL } : NULL);
	conn = xmpp_conn_new(ctx);
	xmpp_conn_set_flags(conn, XMPP_CONN_FLAG_MANDATORY_TLS);
	xmpp_conn_set_jid(conn, jid);
	xmpp_conn_set_pass(conn, pw);
	xmpp_conn_set_cafile(conn, ca);
	start_connect();

	while (!got_term) {
		if (got_usr1) {
			got_usr1 = 0;
			if (connected) {
				want_reconnect_now = 1;
				xmpp_disconnect(conn);
			} else
				retry_at = mono();
		}
		if (retry_at > 0 && mono() >= retry_at)
			start_connect();
		timeout = LOOP_TIMEOUT_MS;
		if (retry_at > 0) {
			double left = (retry_at - mono()) * 1000.0;

			if (left < timeout)
				timeout = left < 0 ? 0 : (long)left + 1;
		}
		xmpp_run_once(ctx, (unsigned long)timeout);
	}
	quitting = 1;
	if (connected) {
		xmpp_stanza_t *pres = xmpp_presence_new(ctx);

		xmpp_stanza_set_type(pres, "unavailable");
		xmpp_send(conn, pres);
		xmpp_stanza_release(pres);
		xmpp_disconnect(conn);
		for (int i = 0; i < 50 && connected; i++)
			xmpp_run_once(ctx, 20);
	}
	say("exit", NULL);
	xmpp_conn_release(conn);
	xmpp_ctx_free(ctx);
	xmpp_shutdown();
	free(hostbuf);
	return 0;
}
