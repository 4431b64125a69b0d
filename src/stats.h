/*
 * stats.h: the daemon's counters, one struct owned by stats.c (a leaf).
 * The connection modules increment them where things happen; control.c
 * reads them through metrics.c to answer "stats" and "metrics".  Counters
 * only grow for the life of the process.
 */
#ifndef XMPPD_STATS_H
#define XMPPD_STATS_H

#include <stdint.h>
#include <time.h>

/* Why a connection attempt or a session ended. */
enum stats_fail {
	STATS_FAIL_NETWORK,	/* DNS, TCP, lost link, timeouts, pings */
	STATS_FAIL_TLS,		/* handshake or verification */
	STATS_FAIL_AUTH,	/* SASL refused */
	STATS_FAIL_STREAM,	/* a stream error from the server */
	STATS_FAIL_MAX
};

struct stats {
	time_t		 started;	/* wall clock, at stats_init() */
	uint64_t	 online_ms;	/* finished online periods */
	uint64_t	 online_since;	/* monotonic ms; 0: not online */
	uint64_t	 connects;	/* TCP connections made */
	uint64_t	 logins;	/* online after a fresh login */
	uint64_t	 resumptions;	/* online by XEP-0198 resume */
	uint64_t	 failures[STATS_FAIL_MAX];
	uint64_t	 stanzas_in;
	uint64_t	 stanzas_out;
	uint64_t	 bytes_in;	/* XML, after TLS */
	uint64_t	 bytes_out;
	uint64_t	 ping_sent;	/* monotonic ms of the ping in flight */
	int64_t		 ping_rtt_ms;	/* the last answered ping; -1: none */
	time_t		 cert_not_after; /* the server's certificate; 0 */
};

extern struct stats	stats;

void		 stats_init(void);
void		 stats_online(int resumed);
void		 stats_offline(void);
void		 stats_failure(enum stats_fail);
const char	*stats_fail_name(enum stats_fail);
/* Seconds online in total, the current period included. */
uint64_t	 stats_online_seconds(void);
void		 stats_ping_sent(void);
/* 1 for message, presence and iq (not nonzas such as <auth/>). */
int		 stats_is_stanza(const char *name);
void		 stats_ping_answered(void);

#endif
