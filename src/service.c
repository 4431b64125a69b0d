/*
 * service.c: calling the services.  It owns nothing but the list; every
 * call goes to each service that set the callback, in order.
 */
#include "compat.h"

#include "log.h"
#include "service.h"

void
svc_add(struct svc_list *l, const struct conn_service *svc)
{
	if (l->n == CONN_MAX_SERVICES)
		fatalx("conn_add_service: more than %d services",
		    CONN_MAX_SERVICES);
	l->s[l->n++] = *svc;
}

void
svc_online(const struct svc_list *l, int resumed)
{
	size_t	i;

	for (i = 0; i < l->n; i++)
		if (l->s[i].online != NULL)
			l->s[i].online(l->s[i].arg, resumed);
}

void
svc_offline(const struct svc_list *l, int resumable)
{
	size_t	i;

	for (i = 0; i < l->n; i++)
		if (l->s[i].offline != NULL)
			l->s[i].offline(l->s[i].arg, resumable);
}

int
svc_stanza(const struct svc_list *l, const struct stanza *s)
{
	size_t	i;

	for (i = 0; i < l->n; i++)
		if (l->s[i].stanza != NULL && l->s[i].stanza(l->s[i].arg, s))
			return 1;
	return 0;
}

void
svc_acked(const struct svc_list *l, uint64_t tag)
{
	size_t	i;

	for (i = 0; i < l->n; i++)
		if (l->s[i].acked != NULL)
			l->s[i].acked(l->s[i].arg, tag);
}

void
svc_presence(const struct svc_list *l, const char *show, const char *status)
{
	size_t	i;

	for (i = 0; i < l->n; i++)
		if (l->s[i].presence != NULL)
			l->s[i].presence(l->s[i].arg, show, status);
}
