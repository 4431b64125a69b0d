/*
 * outbox_svc.c: the outbox as a service of the connection (conn.h): the
 * glue from the connection's callbacks to outbox.c's plain functions, and
 * the link that sends through conn_send_stanza().  Apart from outbox.c so
 * that the queue itself links and tests without a connection.
 */
#include "compat.h"

#include <string.h>

#include "conn.h"
#include "outbox.h"

static void
ob_svc_online(void *arg, int resumed)
{
	outbox_online(arg, resumed);
}

static void
ob_svc_offline(void *arg, int resumable)
{
	(void)resumable;
	outbox_offline(arg);
}

static int
ob_svc_stanza(void *arg, const struct stanza *s)
{
	return outbox_stanza(arg, s);
}

static void
ob_svc_acked(void *arg, uint64_t tag)
{
	outbox_acked(arg, tag);
}

static int
ob_link_send(void *arg, struct stanza *s, uint64_t tag)
{
	return conn_send_stanza(arg, s, tag);
}

static uint64_t
ob_link_tag(void *arg)
{
	return conn_tag_new(arg);
}

void
outbox_attach(struct outbox *ob, struct conn *conn)
{
	struct conn_service	svc;
	struct outbox_link	link = { ob_link_send, ob_link_tag, conn };

	memset(&svc, 0, sizeof(svc));
	svc.name = "outbox";
	svc.online = ob_svc_online;
	svc.offline = ob_svc_offline;
	svc.stanza = ob_svc_stanza;
	svc.acked = ob_svc_acked;
	svc.arg = ob;
	outbox_set_link(ob, &link);
	conn_add_service(conn, &svc);
}
