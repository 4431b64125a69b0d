/*
 * stats.c: the counters of stats.h.  A leaf: no I/O, no logging, only the
 * monotonic clock from util.c.
 */
#include "compat.h"

#include <string.h>
#include <time.h>

#include "stats.h"
#include "util.h"

struct stats	stats;

static const char *const stats_fail_names[STATS_FAIL_MAX] = {
	"network", "tls", "auth", "stream",
};

void
stats_init(void)
{
	memset(&stats, 0, sizeof(stats));
	stats.started = time(NULL);
	stats.ping_rtt_ms = -1;
}

void
stats_online(int resumed)
{
	if (resumed)
		stats.resumptions++;
	else
		stats.logins++;
	if (stats.online_since == 0)
		stats.online_since = monotime_ms();
}

void
stats_offline(void)
{
	if (stats.online_since == 0)
		return;
	stats.online_ms += monotime_ms() - stats.online_since;
	stats.online_since = 0;
}

void
stats_failure(enum stats_fail f)
{
	if (f < STATS_FAIL_MAX)
		stats.failures[f]++;
}

const char *
stats_fail_name(enum stats_fail f)
{
	return f < STATS_FAIL_MAX ? stats_fail_names[f] : "unknown";
}

uint64_t
stats_online_seconds(void)
{
	uint64_t	ms = stats.online_ms;

	if (stats.online_since != 0)
		ms += monotime_ms() - stats.online_since;
	return ms / 1000;
}

void
stats_ping_sent(void)
{
	stats.ping_sent = monotime_ms();
}

void
stats_ping_answered(void)
{
	if (stats.ping_sent == 0)
		return;
	stats.ping_rtt_ms = (int64_t)(monotime_ms() - stats.ping_sent);
	stats.ping_sent = 0;
}

int
stats_is_stanza(const char *name)
{
	return strcmp(name, "message") == 0 ||
	    strcmp(name, "presence") == 0 || strcmp(name, "iq") == 0;
}
