/*
 * service.h: the list of services on a connection (rooms, the outbox) and
 * the calls that tell them what happened, in the order they were added.
 * The connection owns the list; struct conn_service is in conn.h.
 */
#ifndef XMPPD_SERVICE_H
#define XMPPD_SERVICE_H

#include <stddef.h>
#include <stdint.h>

#include "conn.h"

struct svc_list {
	struct conn_service	s[CONN_MAX_SERVICES];
	size_t			n;
};

/* Copies svc; fatal beyond CONN_MAX_SERVICES (a programming error). */
void	svc_add(struct svc_list *, const struct conn_service *);
void	svc_online(const struct svc_list *, int resumed);
void	svc_offline(const struct svc_list *, int resumable);
/* 1 when a service consumed the stanza. */
int	svc_stanza(const struct svc_list *, const struct stanza *);
void	svc_acked(const struct svc_list *, uint64_t tag);
void	svc_presence(const struct svc_list *, const char *show,
	    const char *status);

#endif
