/*
 * control.c: the control socket.  Every connection is checked by the
 * kernel's peer credentials (SO_PEERCRED) before anything is read; every
 * buffer is bounded: lines by CTL_LINE_MAX, replies by CTL_OUTPUT_MAX (a
 * client that does not read is dropped), clients by CTL_MAX_CLIENTS.
 */
#include "compat.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "cmdq.h"
#include "config.h"
#include "conn.h"
#include "control.h"
#include "ctlproto.h"
#include "log.h"
#include "metrics.h"
#include "muc.h"
#include "notify.h"
#include "outbox.h"
#include "xmalloc.h"
#include "xmppd.h"

#define CTL_MAX_CLIENTS		512
#define CTL_OUTPUT_MAX		(256 * 1024)
#define CTL_MAX_GROUPS		256

/*
 * A reply held back so that replies keep the order of requests: a send
 * is answered once the group commit made it durable (outbox.h), and a
 * refusal that comes after it waits for it.
 */
struct ctl_slot {
	TAILQ_ENTRY(ctl_slot)	 entry;
	int			 ready;
	int			 ok;
	int			 wait;		/* CTL_WAIT_* of the send */
	char			*code;
	char			*text;
};
TAILQ_HEAD(ctl_slots, ctl_slot);

struct ctl_client {
	TAILQ_ENTRY(ctl_client)	 entry;
	struct control		*ctl;
	struct bufferevent	*bev;
	uid_t			 uid;
	pid_t			 pid;
	int			 events;
	int			 closing;	/* free once output drains */
	int			 dead;		/* free at the next reap */
	struct cmdq_waiter	*waiter;	/* a queued command's reply */
	int			 room_wait;	/* a join's outcome to come */
	struct outbox_waiter	*owaiter;	/* send --wait */
	struct ctl_slots	 slots;		/* sends awaiting the commit */
};
TAILQ_HEAD(ctl_clients, ctl_client);

struct control {
	struct xmppd		*x;
	struct control_hooks	 hooks;
	int			 fd;
	char			*path;		/* NULL: passed by systemd */
	struct event		*ev_accept;
	struct event		*ev_resume;
	struct event		*ev_reap;
	struct ctl_clients	 clients;
	unsigned int		 nclients;
	gid_t			 group;
	int			 have_group;
};

static void	ctl_accept_cb(evutil_socket_t, short, void *);
static void	ctl_read_cb(struct bufferevent *, void *);
static void	ctl_write_cb(struct bufferevent *, void *);
static void	ctl_event_cb(struct bufferevent *, short, void *);
static void	ctl_client_free(struct ctl_client *);
static void	ctl_process(struct ctl_client *);
static void	ctl_send_oneline(struct ctl_client *, struct ctl_request *);
static void	ctl_queue(struct ctl_client *, struct ctl_request *);

/* ---------------------------------------------------------------------- */
/* output */

static int
ctl_printf(struct ctl_client *cl, const char *fmt, ...)
    __attribute__((__format__(printf, 2, 3)));

static int
ctl_printf(struct ctl_client *cl, const char *fmt, ...)
{
	struct evbuffer	*out = bufferevent_get_output(cl->bev);
	va_list		 ap;

	if (cl->closing)
		return -1;
	if (evbuffer_get_length(out) > CTL_OUTPUT_MAX) {
		/* It does not read what we send: it costs one connection. */
		log_warnx("control: dropping client pid %ld: not reading",
		    (long)cl->pid);
		cl->closing = cl->dead = 1;
		bufferevent_disable(cl->bev, EV_READ | EV_WRITE);
		event_active(cl->ctl->ev_reap, EV_TIMEOUT, 0);
		return -1;
	}
	va_start(ap, fmt);
	evbuffer_add_vprintf(out, fmt, ap);
	va_end(ap);
	return 0;
}

/* Text on a reply line: no line breaks may escape into the framing. */
static void
ctl_flatten(char *s)
{
	for (; *s != '\0'; s++)
		if (*s == '\n' || *s == '\r')
			*s = ' ';
}

static void
ctl_final(struct ctl_client *cl, int ok, const char *code, const char *text)
{
	char	*t = xstrdup(text ? text : "");

	ctl_flatten(t);
	if (ok)
		ctl_printf(cl, "OK%s%s\n", *t ? " " : "", t);
	else
		ctl_printf(cl, "ERR %s %s\n", code ? code : CTL_ERR_FAILED,
		    *t ? t : "failed");
	free(t);
}

/* ---------------------------------------------------------------------- */
/* events to subscribers */

static void
ctl_broadcast(struct control *ctl, const char *json)
{
	struct ctl_client	*cl;

	TAILQ_FOREACH(cl, &ctl->clients, entry)
		if (cl->events)
			ctl_printf(cl, "- %s\n", json);
}

static void
ctl_hook_state(void *arg, enum conn_state prev, enum conn_state cur,
    const char *reason)
{
	struct control	*ctl = arg;
	char		*r, *json;

	r = ctl_json_quote(reason ? reason : "");
	xasprintf(&json, "{\"event\":\"state\",\"state\":\"%s\","
	    "\"previous\":\"%s\",\"reason\":%s,\"time\":%lld}",
	    conn_state_name(cur), conn_state_name(prev), r,
	    (long long)time(NULL));
	ctl_broadcast(ctl, json);
	free(json);
	free(r);
}

static void
ctl_hook_message(void *arg, const char *from, const char *type,
    const char *body)
{
	struct control	*ctl = arg;
	char		*f, *t, *b, *json;

	f = ctl_json_quote(from);
	t = ctl_json_quote(type);
	b = ctl_json_quote(body);
	xasprintf(&json, "{\"event\":\"message\",\"from\":%s,\"type\":%s,"
	    "\"body\":%s,\"time\":%lld}", f, t, b, (long long)time(NULL));
	ctl_broadcast(ctl, json);
	free(json);
	free(f);
	free(t);
	free(b);
}

/* A bounce, as xmppd-ctl(1) documents it: type "error" and a condition. */
static void
ctl_hook_message_error(void *arg, const char *from, const char *condition,
    const char *body)
{
	struct control	*ctl = arg;
	char		*f, *cnd, *b, *json;

	f = ctl_json_quote(from);
	cnd = ctl_json_quote(condition);
	b = ctl_json_quote(body);
	xasprintf(&json, "{\"event\":\"message\",\"from\":%s,\"type\":"
	    "\"error\",\"body\":%s,\"condition\":%s,\"time\":%lld}", f, b,
	    cnd, (long long)time(NULL));
	ctl_broadcast(ctl, json);
	free(json);
	free(f);
	free(cnd);
	free(b);
}

static void
ctl_hook_presence(void *arg, const char *from, const char *type,
    const char *show, const char *status)
{
	struct control	*ctl = arg;
	char		*f, *t, *sh, *st, *json;

	f = ctl_json_quote(from);
	t = ctl_json_quote(type);
	sh = ctl_json_quote(show ? show : "");
	st = ctl_json_quote(status ? status : "");
	xasprintf(&json, "{\"event\":\"presence\",\"from\":%s,\"type\":%s,"
	    "\"show\":%s,\"status\":%s,\"time\":%lld}", f, t, sh, st,
	    (long long)time(NULL));
	ctl_broadcast(ctl, json);
	free(json);
	free(f);
	free(t);
	free(sh);
	free(st);
}

/* Group chats: muc.c reports, the control socket turns it into JSON. */
static void
ctl_hook_room(void *arg, const char *room, const char *nick,
    const char *state, const char *prev, const char *reason)
{
	char	*r, *n, *why, *json;

	r = ctl_json_quote(room);
	n = ctl_json_quote(nick);
	why = ctl_json_quote(reason);
	xasprintf(&json, "{\"event\":\"room\",\"room\":%s,\"nick\":%s,"
	    "\"state\":\"%s\",\"previous\":\"%s\",\"reason\":%s,"
	    "\"time\":%lld}", r, n, state, prev, why, (long long)time(NULL));
	ctl_broadcast(arg, json);
	free(json);
	free(r);
	free(n);
	free(why);
}

static void
ctl_hook_groupchat(void *arg, const char *room, const char *nick,
    const char *body, int own)
{
	char	*r, *n, *b, *json;

	r = ctl_json_quote(room);
	n = ctl_json_quote(nick);
	b = ctl_json_quote(body);
	xasprintf(&json, "{\"event\":\"groupchat\",\"room\":%s,\"nick\":%s,"
	    "\"own\":%s,\"body\":%s,\"time\":%lld}", r, n,
	    own ? "true" : "false", b, (long long)time(NULL));
	ctl_broadcast(arg, json);
	free(json);
	free(r);
	free(n);
	free(b);
}

static void
ctl_hook_subject(void *arg, const char *room, const char *nick,
    const char *subject)
{
	char	*r, *n, *sj, *json;

	r = ctl_json_quote(room);
	n = ctl_json_quote(nick);
	sj = ctl_json_quote(subject);
	xasprintf(&json, "{\"event\":\"subject\",\"room\":%s,\"nick\":%s,"
	    "\"subject\":%s,\"time\":%lld}", r, n, sj, (long long)time(NULL));
	ctl_broadcast(arg, json);
	free(json);
	free(r);
	free(n);
	free(sj);
}

static void
ctl_hook_invite(void *arg, const char *room, const char *from,
    const char *reason, const char *kind, int joining)
{
	char	*r, *f, *why, *json;

	r = ctl_json_quote(room);
	f = ctl_json_quote(from);
	why = ctl_json_quote(reason);
	xasprintf(&json, "{\"event\":\"invite\",\"room\":%s,\"from\":%s,"
	    "\"reason\":%s,\"kind\":\"%s\",\"joining\":%s,\"time\":%lld}",
	    r, f, why, kind, joining ? "true" : "false", (long long)time(NULL));
	ctl_broadcast(arg, json);
	free(json);
	free(r);
	free(f);
	free(why);
}

static void
ctl_hook_rooms_count(void *arg, unsigned int joined, unsigned int total)
{
	(void)arg;
	notify_rooms(joined, total);
}

/* ---------------------------------------------------------------------- */
/* requests */

/* A field of a "rooms" line: tabs and line breaks become spaces. */
static char *
ctl_room_field(const char *s)
{
	char	*f = xstrdup(s), *p;

	for (p = f; *p != '\0'; p++)
		if (*p == '\t' || *p == '\n' || *p == '\r')
			*p = ' ';
	return f;
}

/* One "rooms" line: tab-separated fields (ctlproto.h). */
static void
ctl_room_line(void *arg, const struct muc_room_info *ri)
{
	struct ctl_client	*cl = arg;
	char			*nick, *reason, *last;

	nick = ctl_room_field(ri->nick);
	reason = ctl_room_field(ri->reason);
	last = ctl_room_field(ri->last_error);
	ctl_printf(cl, "- %s\t%s\t%s\t%lld\t%zu%s\t%s\t%s\t%s\n", ri->room,
	    nick, ri->state, (long long)ri->since, ri->occupants,
	    ri->more ? "+" : "", ri->configured ? "config" : "runtime",
	    reason, last);
	free(nick);
	free(reason);
	free(last);
}

/* "rooms 3/3" in status, once rooms are set up. */
static void
ctl_rooms_status(struct ctl_client *cl)
{
	unsigned int	joined, total;

	muc_counts(cl->ctl->x->muc, &joined, &total);
	if (total > 0)
		ctl_printf(cl, "- rooms %u/%u\n", joined, total);
}

/*
 * A join's outcome.  Lines that arrived meanwhile are read from the loop
 * (deferred), not from within muc.c's call.
 */
static void
ctl_join_reply(void *arg, int ok, const char *text)
{
	struct ctl_client	*cl = arg;

	cl->room_wait = 0;
	ctl_final(cl, ok, CTL_ERR_FAILED, text);
	bufferevent_trigger(cl->bev, EV_READ, BEV_TRIG_IGNORE_WATERMARKS |
	    BEV_TRIG_DEFER_CALLBACKS);
}

static void
ctl_rooms_cmd(struct ctl_client *cl, struct ctl_request *req)
{
	struct muc	*muc = cl->ctl->x->muc;
	const char	*err;
	int		 rc;

	switch (req->cmd) {
	case CTL_JOIN:
		rc = muc_join(muc, req->argv[0], req->argc > 1 ? req->argv[1] :
		    NULL, ctl_join_reply, cl, &err);
		if (rc == -1)
			ctl_final(cl, 0, CTL_ERR_USAGE, err);
		else if (rc == 1)
			ctl_final(cl, 1, NULL, err);
		else
			cl->room_wait = 1;
		break;
	case CTL_PART:
		if (muc_part(muc, req->argv[0], req->argc > 1 ? req->argv[1] :
		    NULL, &err) == -1)
			ctl_final(cl, 0, CTL_ERR_FAILED, err);
		else
			ctl_final(cl, 1, NULL, "left");
		break;
	case CTL_ROOMS:
		muc_rooms(muc, ctl_room_line, cl);
		ctl_final(cl, 1, NULL, NULL);
		break;
	default:
		break;
	}
}

static void
ctl_status_line(void *arg, const char *key, const char *value)
{
	struct ctl_client	*cl = arg;
	char			*v = xstrdup(value ? value : "-");

	ctl_flatten(v);
	ctl_printf(cl, "- %s %s\n", key, v);
	free(v);
}

static void
ctl_queued_reply(void *arg, int ok, const char *code, const char *text)
{
	struct ctl_client	*cl = arg;

	cl->waiter = NULL;
	ctl_final(cl, ok, code, text);
	/* Lines that arrived meanwhile wait in the input buffer. */
	ctl_process(cl);
}

static void
ctl_help(struct ctl_client *cl)
{
	const struct ctl_cmd_info	*ci;

	for (ci = ctl_cmds; ci->name != NULL; ci++)
		ctl_printf(cl, "- %-26s %s\n", ci->usage, ci->help);
	ctl_final(cl, 1, NULL, NULL);
}

/*
 * Write what is queued for this client at once: the loop is about to end
 * (handover).  The socket's output buffer may not be drained from here,
 * so the bytes are copied out; a reply is far below the socket buffer.
 */
static void
ctl_flush_now(struct ctl_client *cl)
{
	struct evbuffer	*out = bufferevent_get_output(cl->bev);
	size_t		 len = evbuffer_get_length(out);
	unsigned char	*p;

	if (len == 0 || (p = evbuffer_pullup(out, -1)) == NULL)
		return;
	if (write(bufferevent_getfd(cl->bev), p, len) != (ssize_t)len)
		log_warnx("control: a reply at exit did not go out whole");
	evbuffer_drain(out, len);	/* written once, not again at exit */
}

static void
ctl_metrics_line(void *arg, const char *line)
{
	ctl_printf(arg, "- %s\n", line);
}

static void
ctl_metrics(struct ctl_client *cl, enum ctl_cmd cmd)
{
	if (cmd == CTL_STATS)
		metrics_stats(cl->ctl->x, ctl_metrics_line, cl);
	else
		metrics_prometheus(cl->ctl->x, ctl_metrics_line, cl);
	ctl_final(cl, 1, NULL, NULL);
}

static void
ctl_dispatch(struct ctl_client *cl, struct ctl_request *req)
{
	struct conn			*conn = cl->ctl->x->conn;
	const struct ctl_cmd_info	*ci = ctl_cmd_info(req->cmd);
	const char			*err;

	if (ci->changes_conn || req->cmd == CTL_WAIT_ONLINE) {
		if (cl->ctl->x->stopping) {
			ctl_final(cl, 0, CTL_ERR_SHUTDOWN, "xmppd is "
			    "shutting down");
			return;
		}
		log_info("control: %s from uid %ld pid %ld", ci->name,
		    (long)cl->uid, (long)cl->pid);
		cl->waiter = cmdq_submit(cl->ctl->x->cmdq, req->cmd,
		    req->cmd == CTL_PASSWD ? req->argv[0] : NULL,
		    ctl_queued_reply, cl);
		return;
	}
	switch (req->cmd) {
	case CTL_STATUS:
		conn_status(conn, ctl_status_line, cl);
		ctl_rooms_status(cl);
		ctl_final(cl, 1, NULL, NULL);
		break;
	case CTL_JOIN:
	case CTL_PART:
	case CTL_ROOMS:
		ctl_rooms_cmd(cl, req);
		break;
	case CTL_VERSION_CMD:
		ctl_printf(cl, "- version %s\n- protocol %d\n",
		    PACKAGE_VERSION, CTL_VERSION);
		ctl_final(cl, 1, NULL, NULL);
		break;
	case CTL_HELP:
		ctl_help(cl);
		break;
	case CTL_HANDOVER:
		log_info("control: handover from uid %ld pid %ld",
		    (long)cl->uid, (long)cl->pid);
		if (cl->ctl->hooks.handover(cl->ctl->hooks.arg, &err) == -1) {
			ctl_final(cl, 0, CTL_ERR_STATE, err);
			break;
		}
		/* The loop ends now: the answer goes out before it does. */
		ctl_final(cl, 1, NULL, "session kept for the next process; "
		    "exiting");
		ctl_flush_now(cl);
		break;
	case CTL_EVENTS:
		cl->events = 1;
		ctl_final(cl, 1, NULL, "streaming events");
		break;
	case CTL_PRESENCE:
		if (conn_set_presence(conn, req->argv[0],
		    req->argc > 1 ? req->argv[1] : NULL, &err) == -1)
			ctl_final(cl, 0, CTL_ERR_USAGE, err);
		else
			ctl_final(cl, 1, NULL, conn_state(conn) == CONN_ONLINE ?
			    "presence sent" : "presence set; sent when online");
		break;
	case CTL_SEND:
		ctl_send_oneline(cl, req);
		break;
	case CTL_QUEUE:
		ctl_queue(cl, req);
		break;
	case CTL_STATS:
	case CTL_METRICS:
		ctl_metrics(cl, req->cmd);
		break;
	default:
		ctl_final(cl, 0, CTL_ERR_UNKNOWN, "unsupported command");
		break;
	}
}

/* ---------------------------------------------------------------------- */
/* the outbox */

static void
ctl_hook_outbox(void *arg, const char *id, const char *to,
    enum outbox_state st, const char *error)
{
	struct control	*ctl = arg;
	char		*i, *t, *e, *json;

	i = ctl_json_quote(id);
	t = ctl_json_quote(to);
	e = ctl_json_quote(error ? error : "");
	xasprintf(&json, "{\"event\":\"outbox\",\"id\":%s,\"to\":%s,"
	    "\"state\":\"%s\",\"error\":%s,\"time\":%lld}", i, t,
	    outbox_state_name(st), e, (long long)time(NULL));
	ctl_broadcast(ctl, json);
	free(json);
	free(i);
	free(t);
	free(e);
}

static void
ctl_outbox_reply(void *arg, int ok, const char *code, const char *text)
{
	struct ctl_client	*cl = arg;

	cl->owaiter = NULL;
	ctl_final(cl, ok, code, text);
	ctl_process(cl);
}

/* A reply in request order: held while an earlier send awaits its commit. */
static void
ctl_final_ordered(struct ctl_client *cl, int ok, const char *code,
    const char *text)
{
	struct ctl_slot	*sl;

	if (TAILQ_EMPTY(&cl->slots)) {
		ctl_final(cl, ok, code, text);
		return;
	}
	sl = xcalloc(1, sizeof(*sl));
	sl->ready = 1;
	sl->ok = ok;
	sl->code = code ? xstrdup(code) : NULL;
	sl->text = text ? xstrdup(text) : NULL;
	TAILQ_INSERT_TAIL(&cl->slots, sl, entry);
}

static void
ctl_slot_free(struct ctl_client *cl, struct ctl_slot *sl)
{
	TAILQ_REMOVE(&cl->slots, sl, entry);
	free(sl->code);
	free(sl->text);
	free(sl);
}

/* The outbox's group commit answered the oldest staged send. */
static void
ctl_accepted(void *arg, int ok, const char *code, const char *text)
{
	struct ctl_client	*cl = arg;
	struct outbox		*ob = cl->ctl->x->outbox;
	struct ctl_slot		*sl;

	TAILQ_FOREACH(sl, &cl->slots, entry)
		if (!sl->ready)
			break;
	if (sl == NULL)
		fatalx("control: a commit for no send");
	sl->ready = 1;
	sl->ok = ok;
	sl->code = code ? xstrdup(code) : NULL;
	sl->text = text ? xstrdup(text) : NULL;
	while ((sl = TAILQ_FIRST(&cl->slots)) != NULL && sl->ready) {
		if (sl->ok && sl->wait != CTL_WAIT_NONE) {
			ctl_printf(cl, "- queued %s\n", sl->text);
			if ((cl->owaiter = outbox_wait(ob, sl->text,
			    sl->wait == CTL_WAIT_RECEIVED ? OB_RECEIVED :
			    OB_ACKED, ctl_outbox_reply, cl)) == NULL)
				ctl_final(cl, 0, CTL_ERR_FAILED,
				    "the message left the outbox");
		} else
			ctl_final(cl, sl->ok, sl->code, sl->text);
		ctl_slot_free(cl, sl);
	}
	if (TAILQ_EMPTY(&cl->slots))
		ctl_process(cl);
}

static void
ctl_send(struct ctl_client *cl, const struct ctl_send *s)
{
	struct outbox	*ob = cl->ctl->x->outbox;
	struct ctl_slot	*sl;
	const char	*code;
	char		*cause;
	int		 i;

	/* A room takes messages only while joined: say its state. */
	for (i = 0; i < s->nto; i++)
		if (muc_check_send(cl->ctl->x->muc, s->to[i], &cause) == -1) {
			ctl_final_ordered(cl, 0, CTL_ERR_STATE, cause);
			free(cause);
			return;
		}
	if (outbox_submit_async(ob, s->to, (size_t)s->nto, s->type,
	    s->receipt, s->body, s->bodylen, ctl_accepted, cl, &code,
	    &cause) == -1) {
		ctl_final_ordered(cl, 0, code, cause);
		free(cause);
		return;
	}
	sl = xcalloc(1, sizeof(*sl));
	sl->wait = s->wait;
	TAILQ_INSERT_TAIL(&cl->slots, sl, entry);
}

/* A send waiting for its state blocks the requests after it. */
static int
ctl_slots_block(struct ctl_client *cl)
{
	struct ctl_slot	*sl = TAILQ_LAST(&cl->slots, ctl_slots);

	return sl != NULL && !sl->ready && sl->wait != CTL_WAIT_NONE;
}

/* The old form: "send JID TEXT", one line, type chat. */
static void
ctl_send_oneline(struct ctl_client *cl, struct ctl_request *req)
{
	struct ctl_send	s;

	memset(&s, 0, sizeof(s));
	s.type = "chat";
	s.nto = 1;
	s.to[0] = req->argv[0];
	s.body = req->argv[1];
	s.bodylen = strlen(req->argv[1]);
	ctl_send(cl, &s);
}

static void
ctl_send_payload(struct ctl_client *cl, char *buf, const struct ctl_frame *f)
{
	struct ctl_send	 s;
	const char	*code, *errstr;
	char		*line;

	line = xstrndup(buf, f->linelen);
	if (ctl_parse_send(line, f->linelen, buf + f->payload_off,
	    f->payload_len, &s, &code, &errstr) == -1)
		ctl_final_ordered(cl, 0, code, errstr);
	else
		ctl_send(cl, &s);
	free(line);
}

/* A listing stays well below CTL_OUTPUT_MAX. */
#define CTL_QUEUE_MAX	1000

struct ctl_queue_walk {
	struct ctl_client	*cl;
	size_t			 n;
};

static void
ctl_queue_line(void *arg, const struct outbox_info *info)
{
	struct ctl_queue_walk	*qw = arg;
	struct ctl_client	*cl = qw->cl;
	struct evbuffer		*b;
	char			*e, *p;
	size_t			 i;

	if (qw->n++ >= CTL_QUEUE_MAX)
		return;
	b = evbuffer_new();
	for (i = 0; i < info->nto; i++)
		evbuffer_add_printf(b, "%s%s", i ? "," : "", info->to[i]);
	evbuffer_add(b, "", 1);
	e = xstrdup(info->error ? info->error : "-");
	for (p = e; *p != '\0'; p++)
		if (*p == '\t' || *p == '\n' || *p == '\r')
			*p = ' ';
	ctl_printf(cl, "- %s\t%s\t%lld\t%u\t%s\t%s\n", info->id,
	    outbox_state_name(info->state), (long long)info->created,
	    info->tries, (char *)evbuffer_pullup(b, -1), e);
	free(e);
	evbuffer_free(b);
}

static void
ctl_queue(struct ctl_client *cl, struct ctl_request *req)
{
	struct outbox		*ob = cl->ctl->x->outbox;
	struct ctl_queue_walk	 qw = { cl, 0 };
	char			*text;

	if (req->argc == 0) {
		outbox_list(ob, ctl_queue_line, &qw);
		if (qw.n > CTL_QUEUE_MAX) {
			xasprintf(&text, "the first %d of %zu messages shown",
			    CTL_QUEUE_MAX, qw.n);
			ctl_final(cl, 1, NULL, text);
			free(text);
		} else
			ctl_final(cl, 1, NULL, NULL);
	} else if (outbox_drop(ob, req->argv[1]) == -1)
		ctl_final(cl, 0, CTL_ERR_NOTFOUND, "no such message waiting "
		    "in the outbox");
	else {
		log_info("control: queue drop %s from uid %ld pid %ld",
		    req->argv[1], (long)cl->uid, (long)cl->pid);
		ctl_final(cl, 1, NULL, "dropped");
	}
}

/* Handle complete lines while no queued command is pending. */
static void
ctl_process(struct ctl_client *cl)
{
	struct evbuffer		*in = bufferevent_get_input(cl->bev);
	struct evbuffer_ptr	 eol;
	struct ctl_request	 req;
	struct ctl_frame	 f;
	const char		*code, *errstr;
	char			*line, *buf;
	size_t			 len, avail;
	int			 r;

	while (!cl->closing && cl->waiter == NULL && !cl->room_wait &&
	    cl->owaiter == NULL && !ctl_slots_block(cl)) {
		eol = evbuffer_search_eol(in, NULL, &len, EVBUFFER_EOL_LF);
		if (eol.pos == -1) {
			if (evbuffer_get_length(in) >= CTL_LINE_MAX) {
				ctl_final(cl, 0, CTL_ERR_TOOLONG, "request "
				    "line longer than 4096 bytes");
				cl->closing = 1;
			}
			break;
		}
		if ((size_t)eol.pos >= CTL_LINE_MAX) {
			evbuffer_drain(in, eol.pos + 1);
			ctl_final(cl, 0, CTL_ERR_TOOLONG, "request line longer "
			    "than 4096 bytes");
			continue;
		}
		/* A line ending in "{N}" carries a payload (ctlproto.h). */
		avail = evbuffer_get_length(in);
		if (avail > CTL_FRAME_MAX)
			avail = CTL_FRAME_MAX;
		buf = (char *)evbuffer_pullup(in, (ev_ssize_t)avail);
		if ((r = ctl_frame(buf, avail, &f, &code, &errstr)) == 0)
			break;
		if (r == -1) {
			ctl_final(cl, 0, code, errstr);
			cl->closing = 1;
			break;
		}
		if (f.has_payload) {
			ctl_send_payload(cl, buf, &f);
			evbuffer_drain(in, f.framelen);
			continue;
		}
		/* Only sends join the replies held for the commit. */
		if (!TAILQ_EMPTY(&cl->slots) && (eol.pos < 5 ||
		    strncmp(buf, "send ", 5) != 0))
			break;
		line = xmalloc(eol.pos + 1);
		evbuffer_remove(in, line, eol.pos);
		evbuffer_drain(in, 1);
		line[eol.pos] = '\0';
		if (ctl_parse_request(line, eol.pos, &req, &code,
		    &errstr) == -1)
			ctl_final_ordered(cl, 0, code, errstr);
		else if (req.cmd != CTL_NONE)
			ctl_dispatch(cl, &req);
		explicit_bzero(line, eol.pos);	/* passwd carries a secret */
		free(line);
	}
	if (cl->closing)
		bufferevent_disable(cl->bev, EV_READ);
}

/* ---------------------------------------------------------------------- */
/* clients */

static void
ctl_read_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	ctl_process(arg);
}

static void
ctl_write_cb(struct bufferevent *bev, void *arg)
{
	struct ctl_client	*cl = arg;

	if (cl->closing &&
	    evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		ctl_client_free(cl);
}

static void
ctl_event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	(void)what;
	ctl_client_free(arg);
}

static void
ctl_client_free(struct ctl_client *cl)
{
	struct control	*ctl = cl->ctl;

	/* The command goes on; only its reply has nobody to go to. */
	cmdq_waiter_cancel(cl->waiter);
	if (cl->room_wait)
		muc_join_cancel(ctl->x->muc, cl);
	outbox_wait_cancel(cl->owaiter);
	if (!TAILQ_EMPTY(&cl->slots))
		outbox_accept_cancel(ctl->x->outbox, cl);
	while (!TAILQ_EMPTY(&cl->slots))
		ctl_slot_free(cl, TAILQ_FIRST(&cl->slots));
	TAILQ_REMOVE(&ctl->clients, cl, entry);
	bufferevent_free(cl->bev);
	free(cl);
	if (ctl->nclients-- == CTL_MAX_CLIENTS && ctl->ev_accept != NULL)
		event_add(ctl->ev_accept, NULL);
}

static int
ctl_peer_in_group(int fd, gid_t want, gid_t primary)
{
	gid_t		groups[CTL_MAX_GROUPS];
	socklen_t	len = sizeof(groups);
	size_t		i;

	if (primary == want)
		return 1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == -1)
		return 0;
	for (i = 0; i < len / sizeof(gid_t); i++)
		if (groups[i] == want)
			return 1;
	return 0;
}

static void
ctl_resume_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct control	*ctl = arg;

	(void)fd;
	(void)ev;
	event_add(ctl->ev_accept, NULL);
}

static void
ctl_reap_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct control		*ctl = arg;
	struct ctl_client	*cl, *next;

	(void)fd;
	(void)ev;
	TAILQ_FOREACH_SAFE(cl, &ctl->clients, entry, next)
		if (cl->dead)
			ctl_client_free(cl);
}

static void
ctl_accept_cb(evutil_socket_t lfd, short ev, void *arg)
{
	struct control		*ctl = arg;
	struct ctl_client	*cl;
	struct ucred		 cred;
	socklen_t		 len = sizeof(cred);
	struct timeval		 tv = { 1, 0 };
	int			 fd, allowed;

	(void)ev;
	if ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) ==
	    -1) {
		if (errno == EMFILE || errno == ENFILE) {
			/* Out of descriptors: pause instead of spinning. */
			log_warn("control: accept");
			event_del(ctl->ev_accept);
			evtimer_add(ctl->ev_resume, &tv);
		}
		return;
	}
	cl = xcalloc(1, sizeof(*cl));
	TAILQ_INIT(&cl->slots);
	cl->ctl = ctl;
	if ((cl->bev = bufferevent_socket_new(ctl->x->base, fd,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		close(fd);
		free(cl);
		return;
	}
	TAILQ_INSERT_TAIL(&ctl->clients, cl, entry);
	if (++ctl->nclients == CTL_MAX_CLIENTS)
		event_del(ctl->ev_accept);
	bufferevent_setcb(cl->bev, ctl_read_cb, ctl_write_cb, ctl_event_cb,
	    cl);
	bufferevent_setwatermark(cl->bev, EV_READ, 0, CTL_FRAME_MAX);
	/* Unknown credentials are denied (fail closed). */
	allowed = 0;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
		cl->uid = cred.uid;
		cl->pid = cred.pid;
		allowed = cred.uid == 0 || cred.uid == geteuid() ||
		    (ctl->have_group &&
		    ctl_peer_in_group(fd, ctl->group, cred.gid));
	}
	bufferevent_enable(cl->bev, EV_READ | EV_WRITE);
	if (!allowed) {
		log_warnx("control: denied uid %ld pid %ld", (long)cl->uid,
		    (long)cl->pid);
		ctl_final(cl, 0, CTL_ERR_DENIED, "permission denied: only "
		    "root, the daemon's user and members of control_group "
		    "may use this socket");
		cl->closing = 1;
		bufferevent_disable(cl->bev, EV_READ);
		return;
	}
	ctl_printf(cl, "* xmppd %d\n", CTL_VERSION);
}

/* ---------------------------------------------------------------------- */
/* the listening socket */

static int
ctl_mkparent(const char *path)
{
	char	*dir = xstrdup(path), *p;
	int	 r = 0;

	if ((p = strrchr(dir, '/')) != NULL && p != dir) {
		*p = '\0';
		if (mkdir(dir, 0755) == -1 && errno != EEXIST)
			r = -1;
	}
	free(dir);
	return r;
}

/* chown only when needed: a unit that runs in the group may forbid it. */
static int
ctl_set_group(const char *path, gid_t gid)
{
	struct stat	st;

	if (stat(path, &st) == 0 && st.st_gid == gid)
		return 0;
	return chown(path, (uid_t)-1, gid);
}

static int
ctl_listen(struct control *ctl, const char *path, char **cause)
{
	struct sockaddr_un	 sun;
	struct stat		 st;
	mode_t			 old;
	int			 fd, probe, err;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path)) {
		xasprintf(cause, "%s: path too long", path);
		return -1;
	}
	if (ctl_mkparent(path) == -1) {
		xasprintf(cause, "cannot create the directory of %s: %s", path,
		    strerror(errno));
		return -1;
	}
	/* A live daemon answers on the socket; a stale file does not. */
	if ((probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) != -1) {
		if (connect(probe, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
			close(probe);
			xasprintf(cause, "another xmppd is already running on "
			    "%s", path);
			return -1;
		}
		err = errno;
		close(probe);
		/* Replace a stale socket, never anything else. */
		if (lstat(path, &st) == 0) {
			if (!S_ISSOCK(st.st_mode) || err != ECONNREFUSED) {
				xasprintf(cause, "%s exists and is not a stale "
				    "socket (%s); refusing to replace it", path,
				    S_ISSOCK(st.st_mode) ? strerror(err) :
				    "not a socket");
				return -1;
			}
			unlink(path);
		}
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1) {
		xasprintf(cause, "socket: %s", strerror(errno));
		return -1;
	}
	old = umask(0117);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		umask(old);
		xasprintf(cause, "bind %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	umask(old);
	if (chmod(path, 0660) == -1 || (ctl->have_group &&
	    ctl_set_group(path, ctl->group) == -1) || listen(fd, 64) == -1) {
		xasprintf(cause, "setting up %s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	ctl->path = xstrdup(path);
	return fd;
}

struct control *
control_new(struct xmppd *x, const struct control_hooks *chooks,
    char **cause)
{
	struct control		*ctl;
	struct conn_hooks	 hooks = { ctl_hook_state, ctl_hook_message,
	    ctl_hook_presence, NULL, NULL };
	struct muc_hooks	 mhooks = { ctl_hook_room, ctl_hook_groupchat,
	    ctl_hook_subject, ctl_hook_invite, ctl_hook_rooms_count, NULL };
	struct outbox_hooks	 obhooks = { ctl_hook_outbox, NULL };
	struct group		*gr;

	ctl = xcalloc(1, sizeof(*ctl));
	ctl->x = x;
	ctl->hooks = *chooks;
	TAILQ_INIT(&ctl->clients);
	if (x->conf->control_group != NULL) {
		if ((gr = getgrnam(x->conf->control_group)) == NULL) {
			xasprintf(cause, "control_group %s: no such group",
			    x->conf->control_group);
			free(ctl);
			return NULL;
		}
		ctl->group = gr->gr_gid;
		ctl->have_group = 1;
	}
	if ((ctl->fd = notify_listen_fd()) != -1) {
		evutil_make_socket_nonblocking(ctl->fd);
		log_info("control socket passed by systemd");
	} else if ((ctl->fd = ctl_listen(ctl, x->conf->control_socket,
	    cause)) == -1) {
		free(ctl);
		return NULL;
	}
	ctl->ev_accept = event_new(x->base, ctl->fd, EV_READ | EV_PERSIST,
	    ctl_accept_cb, ctl);
	ctl->ev_resume = evtimer_new(x->base, ctl_resume_cb, ctl);
	ctl->ev_reap = event_new(x->base, -1, 0, ctl_reap_cb, ctl);
	event_add(ctl->ev_accept, NULL);
	hooks.arg = ctl;
	hooks.message_error = ctl_hook_message_error;
	conn_set_hooks(x->conn, &hooks);
	mhooks.arg = ctl;
	muc_set_hooks(x->muc, &mhooks);
	obhooks.arg = ctl;
	outbox_set_hooks(x->outbox, &obhooks);
	return ctl;
}

void
control_free(struct control *ctl)
{
	struct ctl_client	*cl;

	if (ctl == NULL)
		return;
	/* The loop has ended: answers given at shutdown go out now. */
	while ((cl = TAILQ_FIRST(&ctl->clients)) != NULL) {
		if (!cl->dead)
			ctl_flush_now(cl);
		ctl_client_free(cl);
	}
	event_free(ctl->ev_accept);
	event_free(ctl->ev_resume);
	event_free(ctl->ev_reap);
	close(ctl->fd);
	if (ctl->path != NULL) {
		unlink(ctl->path);
		free(ctl->path);
	}
	free(ctl);
}

const char *
control_path(const struct control *ctl)
{
	return ctl->path;
}
