/*
 * metrics.h: the counters of stats.h with the connection's state, the
 * outbox and the rooms, rendered for the control socket: "stats" as
 * "KEY VALUE" lines, "metrics" in the Prometheus text exposition format
 * (version 0.0.4, which node_exporter's textfile collector reads).
 */
#ifndef XMPPD_METRICS_H
#define XMPPD_METRICS_H

struct xmppd;

/* Each line (without its newline) goes to out. */
typedef void (*metrics_out)(void *arg, const char *line);

void	metrics_stats(struct xmppd *, metrics_out, void *);
void	metrics_prometheus(struct xmppd *, metrics_out, void *);

#endif
