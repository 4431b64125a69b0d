/*
 * metrics.c: what "stats" and "metrics" answer.  It reads stats.h's
 * counters and asks the connection, the outbox and the rooms for their
 * gauges; it writes nothing but the lines it hands to its caller.
 */
#include "compat.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conn.h"
#include "log.h"
#include "metrics.h"
#include "muc.h"
#include "outbox.h"
#include "stats.h"
#include "xmalloc.h"
#include "xmppd.h"

/* clang-format off */
/* Room states, as room.c names them. */
static const char *const metrics_room_states[] = {
	"joining", "joined", "waiting", "failed",
};
/* clang-format on */
#define NROOMSTATES	(sizeof(metrics_room_states) / \
    sizeof(metrics_room_states[0]))

struct metrics_gauges {
	const char	*state;
	size_t		 outbox;
	int64_t		 oldest;	/* Unix time; 0: empty */
	unsigned int	 rooms[NROOMSTATES];
};

static void
metrics_outbox_cb(void *arg, const struct outbox_info *oi)
{
	struct metrics_gauges	*g = arg;

	if (g->oldest == 0 || oi->created < g->oldest)
		g->oldest = oi->created;
}

static void
metrics_room_cb(void *arg, const struct muc_room_info *ri)
{
	struct metrics_gauges	*g = arg;
	size_t			 i;

	for (i = 0; i < NROOMSTATES; i++)
		if (strcmp(ri->state, metrics_room_states[i]) == 0)
			g->rooms[i]++;
}

static void
metrics_gather(struct xmppd *x, struct metrics_gauges *g)
{
	memset(g, 0, sizeof(*g));
	g->state = conn_state_name(conn_state(x->conn));
	if (x->outbox != NULL) {
		g->outbox = outbox_pending(x->outbox);
		outbox_list(x->outbox, metrics_outbox_cb, g);
	}
	if (x->muc != NULL)
		muc_rooms(x->muc, metrics_room_cb, g);
}

static int64_t
metrics_oldest_age(const struct metrics_gauges *g, time_t now)
{
	if (g->oldest == 0 || g->oldest > (int64_t)now)
		return 0;
	return (int64_t)now - g->oldest;
}

static void
metrics_line(metrics_out out, void *arg, const char *fmt, ...)
    __attribute__((__format__(printf, 3, 4)));

static void
metrics_line(metrics_out out, void *arg, const char *fmt, ...)
{
	va_list	 ap;
	char	*s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) == -1)
		fatal("vasprintf");
	va_end(ap);
	out(arg, s);
	free(s);
}

void
metrics_stats(struct xmppd *x, metrics_out out, void *arg)
{
	struct metrics_gauges	 g;
	time_t			 now = time(NULL);
	size_t			 i;

	metrics_gather(x, &g);
	metrics_line(out, arg, "version %s", PACKAGE_VERSION);
	metrics_line(out, arg, "started %lld", (long long)stats.started);
	metrics_line(out, arg, "state %s", g.state);
	metrics_line(out, arg, "online_seconds %" PRIu64,
	    stats_online_seconds());
	metrics_line(out, arg, "connects %" PRIu64, stats.connects);
	metrics_line(out, arg, "logins %" PRIu64, stats.logins);
	metrics_line(out, arg, "resumptions %" PRIu64, stats.resumptions);
	for (i = 0; i < STATS_FAIL_MAX; i++)
		metrics_line(out, arg, "failures_%s %" PRIu64,
		    stats_fail_name(i), stats.failures[i]);
	metrics_line(out, arg, "stanzas_in %" PRIu64, stats.stanzas_in);
	metrics_line(out, arg, "stanzas_out %" PRIu64, stats.stanzas_out);
	metrics_line(out, arg, "bytes_in %" PRIu64, stats.bytes_in);
	metrics_line(out, arg, "bytes_out %" PRIu64, stats.bytes_out);
	if (stats.ping_rtt_ms >= 0)
		metrics_line(out, arg, "ping_rtt_ms %" PRId64,
		    stats.ping_rtt_ms);
	metrics_line(out, arg, "outbox %zu", g.outbox);
	metrics_line(out, arg, "outbox_oldest_seconds %" PRId64,
	    metrics_oldest_age(&g, now));
	for (i = 0; i < NROOMSTATES; i++)
		metrics_line(out, arg, "rooms_%s %u", metrics_room_states[i],
		    g.rooms[i]);
	if (stats.cert_not_after != 0)
		metrics_line(out, arg, "cert_days_left %lld",
		    (long long)(stats.cert_not_after - now) / 86400);
}

/* A label value per the exposition format: \, " and newline escaped. */
static char *
metrics_label(const char *s)
{
	char	*q, *p;

	p = q = xmalloc(strlen(s) * 2 + 1);
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"') {
			*p++ = '\\';
			*p++ = *s;
		} else if (*s == '\n') {
			*p++ = '\\';
			*p++ = 'n';
		} else
			*p++ = *s;
	}
	*p = '\0';
	return q;
}

/* HELP and TYPE lines of one metric family. */
static void
metrics_family(metrics_out out, void *arg, const char *name,
    const char *type, const char *help)
{
	metrics_line(out, arg, "# HELP %s %s", name, help);
	metrics_line(out, arg, "# TYPE %s %s", name, type);
}

static void
metrics_counter(metrics_out out, void *arg, const char *acc,
    const char *name, const char *help, uint64_t v)
{
	metrics_family(out, arg, name, "counter", help);
	metrics_line(out, arg, "%s{account=\"%s\"} %" PRIu64, name, acc, v);
}

static void
metrics_gauge(metrics_out out, void *arg, const char *acc,
    const char *name, const char *help, long long v)
{
	metrics_family(out, arg, name, "gauge", help);
	metrics_line(out, arg, "%s{account=\"%s\"} %lld", name, acc, v);
}

void
metrics_prometheus(struct xmppd *x, metrics_out out, void *arg)
{
	struct metrics_gauges	 g;
	time_t			 now = time(NULL);
	char			*acc, *ver;
	size_t			 i;
	int			 s;

	metrics_gather(x, &g);
	acc = metrics_label(conn_account(x->conn));
	ver = metrics_label(PACKAGE_VERSION);
	metrics_family(out, arg, "xmppd_build_info", "gauge",
	    "The version of xmppd, always 1.");
	metrics_line(out, arg, "xmppd_build_info{account=\"%s\",version="
	    "\"%s\"} 1", acc, ver);
	metrics_gauge(out, arg, acc, "xmppd_start_time_seconds",
	    "When the daemon started, in seconds since the epoch.",
	    (long long)stats.started);
	metrics_family(out, arg, "xmppd_state", "gauge",
	    "The connection's state: 1 for the current one.");
	for (s = 0; s < CONN_STATE_MAX; s++) {
		if (s == CONN_CLOSING)	/* shown as offline */
			continue;
		metrics_line(out, arg, "xmppd_state{account=\"%s\",state="
		    "\"%s\"} %d", acc, conn_state_name(s),
		    strcmp(g.state, conn_state_name(s)) == 0);
	}
	metrics_counter(out, arg, acc, "xmppd_online_seconds_total",
	    "Time spent online.", stats_online_seconds());
	metrics_counter(out, arg, acc, "xmppd_connects_total",
	    "TCP connections made to the server.", stats.connects);
	metrics_counter(out, arg, acc, "xmppd_logins_total",
	    "Sessions started by a fresh login.", stats.logins);
	metrics_counter(out, arg, acc, "xmppd_resumptions_total",
	    "Sessions resumed with XEP-0198.", stats.resumptions);
	metrics_family(out, arg, "xmppd_failures_total", "counter",
	    "Connection attempts and sessions that failed, by class.");
	for (i = 0; i < STATS_FAIL_MAX; i++)
		metrics_line(out, arg, "xmppd_failures_total{account=\"%s\","
		    "class=\"%s\"} %" PRIu64, acc, stats_fail_name(i),
		    stats.failures[i]);
	metrics_counter(out, arg, acc, "xmppd_stanzas_received_total",
	    "Stanzas received (message, presence, iq).", stats.stanzas_in);
	metrics_counter(out, arg, acc, "xmppd_stanzas_sent_total",
	    "Stanzas sent (message, presence, iq).", stats.stanzas_out);
	metrics_counter(out, arg, acc, "xmppd_received_bytes_total",
	    "Bytes of XML received (after TLS).", stats.bytes_in);
	metrics_counter(out, arg, acc, "xmppd_sent_bytes_total",
	    "Bytes of XML sent (before TLS).", stats.bytes_out);
	if (stats.ping_rtt_ms >= 0) {
		metrics_family(out, arg, "xmppd_ping_rtt_seconds", "gauge",
		    "Round trip of the last answered XEP-0199 ping.");
		metrics_line(out, arg, "xmppd_ping_rtt_seconds{account=\"%s\"}"
		    " %" PRId64 ".%03" PRId64, acc, stats.ping_rtt_ms / 1000,
		    stats.ping_rtt_ms % 1000);
	}
	metrics_gauge(out, arg, acc, "xmppd_outbox_messages",
	    "Messages waiting in the outbox.", (long long)g.outbox);
	metrics_gauge(out, arg, acc, "xmppd_outbox_oldest_age_seconds",
	    "Age of the oldest message in the outbox (0 when empty).",
	    (long long)metrics_oldest_age(&g, now));
	metrics_family(out, arg, "xmppd_rooms", "gauge",
	    "Group chats by state.");
	for (i = 0; i < NROOMSTATES; i++)
		metrics_line(out, arg, "xmppd_rooms{account=\"%s\",state="
		    "\"%s\"} %u", acc, metrics_room_states[i], g.rooms[i]);
	if (stats.cert_not_after != 0)
		metrics_gauge(out, arg, acc,
		    "xmppd_server_cert_expiry_timestamp_seconds",
		    "When the server's certificate expires, in seconds since "
		    "the epoch.", (long long)stats.cert_not_after);
	free(acc);
	free(ver);
}
