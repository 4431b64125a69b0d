/*
 * cmdq.c: the command queue.  It owns the queued commands, their waiting
 * clients and the wait-online waiters.  The first command runs; it ends
 * when the connection reaches an outcome (online, waiting, auth-failed,
 * offline) or answers (passwd, unregister), and the next one starts from
 * the event loop.  Outcomes decided while a command is being started are
 * held until the start returns, so nothing is freed under the starter.
 */
#include "compat.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "cmdq.h"
#include "conn.h"
#include "log.h"
#include "xmalloc.h"

struct cmdq_waiters;
struct cmdq_waiter {
	TAILQ_ENTRY(cmdq_waiter) entry;
	struct cmdq_waiters	*list;		/* the one it is on */
	struct cmdq_op		*op;
	conn_reply_cb		 cb;
	void			*arg;
};
TAILQ_HEAD(cmdq_waiters, cmdq_waiter);

struct cmdq_op {
	TAILQ_ENTRY(cmdq_op)	 entry;
	enum ctl_cmd		 cmd;
	char			*arg;
	int			 started;
	int			 connecting;	/* waits for an outcome */
	int			 done;		/* decided while starting */
	int			 ok;
	const char		*code;
	char			 text[600];
	struct cmdq_waiters	 waiters;
};
TAILQ_HEAD(cmdq_ops, cmdq_op);

struct cmdq {
	struct conn		*conn;
	struct cmdq_hooks	 hooks;
	struct cmdq_ops		 ops;
	struct cmdq_waiters	 online_waiters;
	struct event		*ev;
	struct cmdq_op		*starting;
};

static void	cmdq_done(struct cmdq *, int, const char *, const char *, ...)
		    __attribute__((__format__(printf, 4, 5)));

static struct cmdq_op *
cmdq_cur(struct cmdq *q)
{
	struct cmdq_op	*op = TAILQ_FIRST(&q->ops);

	return op != NULL && op->started ? op : NULL;
}

static void
cmdq_schedule(struct cmdq *q)
{
	if (!TAILQ_EMPTY(&q->ops))
		event_active(q->ev, EV_TIMEOUT, 0);
}

static void
cmdq_reply(struct cmdq_waiters *ws, int ok, const char *code,
    const char *text)
{
	struct cmdq_waiter	*w;

	while ((w = TAILQ_FIRST(ws)) != NULL) {
		TAILQ_REMOVE(ws, w, entry);
		if (w->cb != NULL)
			w->cb(w->arg, ok, code, text);
		free(w);
	}
}

static void
cmdq_op_free(struct cmdq_op *op)
{
	freezero_str(op->arg);		/* passwd carries a secret */
	free(op);
}

static void
cmdq_finish(struct cmdq *q, struct cmdq_op *op)
{
	TAILQ_REMOVE(&q->ops, op, entry);
	cmdq_reply(&op->waiters, op->ok, op->code, op->text);
	cmdq_op_free(op);
	cmdq_schedule(q);
}

/* The running command has its outcome: reply, drop it, start the next. */
static void
cmdq_done(struct cmdq *q, int ok, const char *code, const char *fmt, ...)
{
	struct cmdq_op	*op = cmdq_cur(q);
	va_list		 ap;

	if (op == NULL || op->done)
		return;
	op->done = 1;
	op->ok = ok;
	op->code = code;
	va_start(ap, fmt);
	vsnprintf(op->text, sizeof(op->text), fmt, ap);
	va_end(ap);
	if (op != q->starting)
		cmdq_finish(q, op);
}

/* passwd and unregister end with the server's answer. */
static void
cmdq_answer(void *arg, int ok, const char *code, const char *text)
{
	cmdq_done(arg, ok, code, "%s", text);
}

static void
cmdq_register_done(struct cmdq *q)
{
	struct conn	*c = q->conn;
	const char	*code = NULL, *text = NULL;
	int		 tried;

	tried = conn_register_result(c, &code, &text);
	if (conn_state(c) == CONN_ONLINE) {
		if (tried && code == NULL)
			cmdq_done(q, 1, NULL, "registered %s; online as %s",
			    conn_account(c), conn_jid(c));
		else if (tried && strcmp(code, CTL_ERR_CONFLICT) == 0)
			cmdq_done(q, 0, CTL_ERR_CONFLICT, "account %s already "
			    "exists; logged in with the configured password, "
			    "online as %s", conn_account(c), conn_jid(c));
		else if (tried)
			cmdq_done(q, 0, code, "%s; logged in anyway, online "
			    "as %s", text, conn_jid(c));
		else
			cmdq_done(q, 0, CTL_ERR_FAILED, "registration did not "
			    "finish: %s", conn_last_error(c));
		return;
	}
	if (tried && code != NULL && strcmp(code, CTL_ERR_CONFLICT) == 0)
		cmdq_done(q, 0, CTL_ERR_CONFLICT, "account %s already exists "
		    "and the configured password was rejected",
		    conn_account(c));
	else if (tried && code != NULL)
		cmdq_done(q, 0, code, "%s", text);
	else
		cmdq_done(q, 0, CTL_ERR_FAILED, "registration did not finish: "
		    "%s", conn_last_error(c));
}

/*
 * wait-online: answered when online, and at once with the reason when the
 * connection will not get there by itself (auth-failed, or offline on
 * request): nobody waits for what cannot come.
 */
static void
cmdq_answer_online_waiters(struct cmdq *q)
{
	struct conn	*c = q->conn;
	const char	*err = conn_last_error(c);
	char		 text[700];

	if (TAILQ_EMPTY(&q->online_waiters))
		return;
	if (conn_state(c) == CONN_ONLINE) {
		cmdq_reply(&q->online_waiters, 1, NULL, conn_jid(c));
		return;
	}
	if (!conn_parked(c))
		return;
	snprintf(text, sizeof(text), "not online and not trying: state %s%s%s; "
	    "%s", conn_state_name(conn_state(c)), *err ? ", last error: " : "",
	    err, conn_state(c) == CONN_AUTH_FAILED ? "fix the credentials, "
	    "then xmppd-ctl reauth or reload" : "xmppd-ctl connect brings it "
	    "back online");
	cmdq_reply(&q->online_waiters, 0, CTL_ERR_STATE, text);
}

/* After a state change: has the running command reached its outcome? */
static void
cmdq_check(struct cmdq *q)
{
	struct conn	*c = q->conn;
	struct cmdq_op	*op = cmdq_cur(q);
	enum conn_state	 st = conn_state(c);

	cmdq_answer_online_waiters(q);
	if (op == NULL || op->done)
		return;
	switch (op->cmd) {
	case CTL_DISCONNECT:
		if (st == CONN_OFFLINE)
			cmdq_done(q, 1, NULL, "offline");
		return;
	case CTL_PASSWD:
	case CTL_UNREGISTER:
		/* The stream that carried the request is gone. */
		if (st != CONN_ONLINE)
			cmdq_done(q, 0, CTL_ERR_FAILED, "the connection was "
			    "lost before the server answered; nothing is known "
			    "to have changed");
		return;
	case CTL_CONNECT:
	case CTL_RECONNECT:
	case CTL_REAUTH:
	case CTL_REGISTER:
	case CTL_RELOAD:
		break;
	default:
		return;
	}
	if (!op->connecting)
		return;
	if (st != CONN_ONLINE && st != CONN_WAITING &&
	    st != CONN_AUTH_FAILED && st != CONN_OFFLINE)
		return;
	if (op->cmd == CTL_REGISTER)
		cmdq_register_done(q);
	else if (st == CONN_ONLINE)
		cmdq_done(q, 1, NULL, "online as %s", conn_jid(c));
	else if (st == CONN_WAITING)
		cmdq_done(q, 0, CTL_ERR_FAILED, "not online: %s; retrying "
		    "in %.1fs", conn_last_error(c), conn_retry_ms(c) / 1000.0);
	else if (st == CONN_AUTH_FAILED)
		cmdq_done(q, 0, CTL_ERR_FAILED, "%s", conn_last_error(c));
	else
		cmdq_done(q, 0, CTL_ERR_SHUTDOWN, "offline");
}

static void
cmdq_watch(void *arg, enum conn_state prev, enum conn_state cur)
{
	(void)prev;
	(void)cur;
	cmdq_check(arg);
}

static void
cmdq_run(struct cmdq *q, struct cmdq_op *op)
{
	struct conn	*c = q->conn;
	char		*cause = NULL, *pw = NULL;
	int		 r;

	switch (op->cmd) {
	case CTL_CONNECT:
		if (conn_state(c) == CONN_ONLINE) {
			cmdq_done(q, 1, NULL, "online as %s", conn_jid(c));
			return;
		}
		op->connecting = 1;
		conn_connect(c);
		return;
	case CTL_DISCONNECT:
		if (conn_state(c) == CONN_OFFLINE) {
			cmdq_done(q, 1, NULL, "offline");
			return;
		}
		conn_disconnect(c);
		return;
	case CTL_REGISTER:
		if (conn_state(c) == CONN_ONLINE) {
			cmdq_done(q, 0, CTL_ERR_CONFLICT, "account %s already "
			    "exists: it is online as %s", conn_account(c),
			    conn_jid(c));
			return;
		}
		op->connecting = 1;
		conn_register(c);
		return;
	case CTL_REAUTH:
		if (q->hooks.reload_password(q->hooks.arg, &pw,
		    &cause) == -1) {
			cmdq_done(q, 0, CTL_ERR_FAILED, "%s", cause);
			free(cause);
			return;
		}
		op->connecting = 1;
		conn_reauth(c, pw);
		freezero_str(pw);
		return;
	case CTL_RECONNECT:
		op->connecting = 1;
		conn_reconnect(c);
		return;
	case CTL_RELOAD:
		op->connecting = 1;
		if ((r = q->hooks.reload(q->hooks.arg, &cause)) == -1) {
			cmdq_done(q, 0, CTL_ERR_FAILED, "%s", cause);
			free(cause);
		} else if (r == 0)
			cmdq_done(q, 1, NULL, "configuration reloaded");
		return;
	case CTL_PASSWD:
	case CTL_UNREGISTER:
		if (conn_state(c) != CONN_ONLINE) {
			cmdq_done(q, 0, CTL_ERR_STATE, "not online (state "
			    "%s); try again when online",
			    conn_state_name(conn_state(c)));
			return;
		}
		if (op->cmd == CTL_PASSWD)
			conn_passwd(c, op->arg, cmdq_answer, q);
		else
			conn_unregister(c, cmdq_answer, q);
		return;
	default:
		cmdq_done(q, 0, CTL_ERR_FAILED, "not a queued command");
		return;
	}
}

static void
cmdq_start(struct cmdq *q, struct cmdq_op *op)
{
	op->started = 1;
	q->starting = op;
	cmdq_run(q, op);
	/* An outcome the verb reached at once (a failed resolver set-up). */
	if (!op->done)
		cmdq_check(q);
	q->starting = NULL;
	if (op->done)
		cmdq_finish(q, op);
}

static void
cmdq_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct cmdq	*q = arg;
	struct cmdq_op	*op = TAILQ_FIRST(&q->ops);

	(void)fd;
	(void)ev;
	cmdq_answer_online_waiters(q);
	if (op != NULL && !op->started)
		cmdq_start(q, op);
}

struct cmdq_waiter *
cmdq_submit(struct cmdq *q, enum ctl_cmd cmd, const char *arg,
    conn_reply_cb cb, void *cbarg)
{
	struct cmdq_waiter	*w;
	struct cmdq_op		*op, *last;

	w = xcalloc(1, sizeof(*w));
	w->cb = cb;
	w->arg = cbarg;
	if (cmd == CTL_WAIT_ONLINE) {
		w->list = &q->online_waiters;
		TAILQ_INSERT_TAIL(&q->online_waiters, w, entry);
		/* Answered from the loop, never under the caller. */
		if (conn_state(q->conn) == CONN_ONLINE || conn_parked(q->conn))
			event_active(q->ev, EV_TIMEOUT, 0);
		return w;
	}
	last = TAILQ_LAST(&q->ops, cmdq_ops);
	/* Repeated reconnects coalesce until one begins connecting. */
	if (cmd == CTL_RECONNECT && last != NULL &&
	    last->cmd == CTL_RECONNECT && !last->connecting)
		op = last;
	else {
		op = xcalloc(1, sizeof(*op));
		op->cmd = cmd;
		op->arg = arg ? xstrdup(arg) : NULL;
		TAILQ_INIT(&op->waiters);
		TAILQ_INSERT_TAIL(&q->ops, op, entry);
	}
	w->op = op;
	w->list = &op->waiters;
	TAILQ_INSERT_TAIL(&op->waiters, w, entry);
	cmdq_schedule(q);
	return w;
}

/* The client went away: nobody to answer (the command still runs). */
void
cmdq_waiter_cancel(struct cmdq_waiter *w)
{
	if (w == NULL)
		return;
	TAILQ_REMOVE(w->list, w, entry);
	free(w);
}

size_t
cmdq_waiting(const struct cmdq *q)
{
	struct cmdq_waiter	*w;
	size_t			 n = 0;

	TAILQ_FOREACH(w, &q->online_waiters, entry)
		n++;
	return n;
}

void
cmdq_shutdown(struct cmdq *q)
{
	struct cmdq_op	*op;

	while ((op = TAILQ_FIRST(&q->ops)) != NULL) {
		TAILQ_REMOVE(&q->ops, op, entry);
		cmdq_reply(&op->waiters, 0, CTL_ERR_SHUTDOWN,
		    "xmppd is shutting down");
		cmdq_op_free(op);
	}
	cmdq_reply(&q->online_waiters, 0, CTL_ERR_SHUTDOWN,
	    "xmppd is shutting down");
}

struct cmdq *
cmdq_new(struct event_base *base, struct conn *c,
    const struct cmdq_hooks *hooks)
{
	struct cmdq	*q = xcalloc(1, sizeof(*q));

	q->conn = c;
	q->hooks = *hooks;
	TAILQ_INIT(&q->ops);
	TAILQ_INIT(&q->online_waiters);
	if ((q->ev = event_new(base, -1, 0, cmdq_cb, q)) == NULL)
		fatalx("cmdq_new: cannot create an event");
	conn_watch(c, cmdq_watch, q);
	return q;
}

void
cmdq_free(struct cmdq *q)
{
	if (q == NULL)
		return;
	cmdq_shutdown(q);
	conn_watch(q->conn, NULL, NULL);
	event_free(q->ev);
	free(q);
}
