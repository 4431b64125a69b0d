/*
 * test_cmdq.c: the command queue against a stand-in connection (the
 * conn.h verbs below record calls and change a fake state), on a real
 * event loop: replies come from the loop, outcomes follow state changes,
 * a cancelled wait-online leaves nothing behind (issue 10 defect 7), and
 * a reload whose reconnect fails at once is answered, once, without the
 * command being used after it was freed (defect 8).
 */
#include "compat.h"

#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "cmdq.h"
#include "conn.h"
#include "tap.h"

/* ---------------------------------------------------------------------- */
/* the stand-in connection */

static enum conn_state	 fake_state = CONN_OFFLINE;
static void		(*fake_watch)(void *, enum conn_state, enum conn_state);
static void		*fake_watch_arg;
static int		 calls_connect, calls_reconnect, calls_passwd;
/* What conn_reconnect() does: nothing, or fail at once (resolver set-up). */
static enum conn_state	 reconnect_to = CONN_RESOLVING;

static void
fake_set(enum conn_state st)
{
	enum conn_state	prev = fake_state;

	fake_state = st;
	if (fake_watch != NULL)
		fake_watch(fake_watch_arg, prev, st);
}

enum conn_state	conn_state(const struct conn *c) { (void)c; return fake_state; }
const char	*conn_jid(const struct conn *c) { (void)c; return "bot@x/r"; }
const char	*conn_account(const struct conn *c) { (void)c; return "bot@x"; }
const char	*conn_last_error(const struct conn *c) { (void)c; return "boom"; }
uint32_t	 conn_retry_ms(const struct conn *c) { (void)c; return 1500; }
/* Offline on request or auth-failed: will not go online by itself. */
static int		 fake_parked;
int		 conn_parked(const struct conn *c) { (void)c; return fake_parked; }

const char *
conn_state_name(enum conn_state s)
{
	return s == CONN_ONLINE ? "online" : s == CONN_WAITING ? "waiting" :
	    s == CONN_AUTH_FAILED ? "auth-failed" : "other";
}

int
conn_register_result(const struct conn *c, const char **code,
    const char **text)
{
	(void)c;
	*code = NULL;
	*text = NULL;
	return 0;
}

void
conn_watch(struct conn *c, void (*fn)(void *, enum conn_state,
    enum conn_state), void *arg)
{
	(void)c;
	fake_watch = fn;
	fake_watch_arg = arg;
}

void
conn_connect(struct conn *c)
{
	(void)c;
	calls_connect++;
	fake_set(CONN_RESOLVING);
}

void conn_disconnect(struct conn *c) { (void)c; fake_set(CONN_OFFLINE); }
void conn_register(struct conn *c) { (void)c; }
void conn_reauth(struct conn *c, const char *pw) { (void)c; (void)pw; }

void
conn_reconnect(struct conn *c)
{
	(void)c;
	calls_reconnect++;
	fake_set(reconnect_to);
}

int
conn_passwd(struct conn *c, const char *pw, conn_reply_cb cb, void *arg)
{
	(void)c;
	(void)pw;
	(void)cb;
	(void)arg;
	calls_passwd++;
	return 0;
}

int
conn_unregister(struct conn *c, conn_reply_cb cb, void *arg)
{
	(void)c;
	(void)cb;
	(void)arg;
	return 0;
}

/* The daemon's hooks: reload starts over and fails at once. */
static int
hook_reload(void *arg, char **cause)
{
	(void)arg;
	(void)cause;
	fake_set(CONN_RESOLVING);
	fake_set(CONN_WAITING);		/* net_resolve() failed synchronously */
	return 1;
}

static int
hook_reload_password(void *arg, char **pw, char **cause)
{
	(void)arg;
	(void)cause;
	*pw = strdup("pw");
	return 0;
}

/* ---------------------------------------------------------------------- */

struct reply {
	int	n;
	int	ok;
	char	code[32];
	char	text[200];
};

static void
on_reply(void *arg, int ok, const char *code, const char *text)
{
	struct reply	*r = arg;

	r->n++;
	r->ok = ok;
	strlcpy(r->code, code ? code : "", sizeof(r->code));
	strlcpy(r->text, text ? text : "", sizeof(r->text));
}

static void
spin(struct event_base *base)
{
	int	i;

	for (i = 0; i < 10; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
}

int
main(void)
{
	struct event_base	*base = event_base_new();
	struct cmdq_hooks	 hooks = { hook_reload, hook_reload_password,
	    NULL };
	struct conn		*c = (struct conn *)&hooks;	/* never read */
	struct cmdq		*q = cmdq_new(base, c, &hooks);
	struct cmdq_waiter	*w;
	struct reply		 r1 = { 0 }, r2 = { 0 }, r3 = { 0 };

	/* replies come from the loop */
	fake_state = CONN_ONLINE;
	cmdq_submit(q, CTL_CONNECT, NULL, on_reply, &r1);
	is_int(r1.n, 0, "no reply from within cmdq_submit");
	spin(base);
	ok(r1.n == 1 && r1.ok && strstr(r1.text, "online as") != NULL,
	    "connect while online: OK at once (%s)", r1.text);
	is_int(calls_connect, 0, "... without touching the connection");

	/* passwd needs online */
	fake_state = CONN_WAITING;
	memset(&r1, 0, sizeof(r1));
	cmdq_submit(q, CTL_PASSWD, "secret", on_reply, &r1);
	spin(base);
	ok(r1.n == 1 && !r1.ok && strcmp(r1.code, CTL_ERR_STATE) == 0,
	    "passwd while waiting: ERR state");
	is_int(calls_passwd, 0, "no request sent");

	/* defect 7: a wait-online whose client left is dropped at once */
	fake_state = CONN_OFFLINE;
	w = cmdq_submit(q, CTL_WAIT_ONLINE, NULL, on_reply, &r2);
	is_int(cmdq_waiting(q), 1, "one wait-online waiter");
	cmdq_waiter_cancel(w);
	is_int(cmdq_waiting(q), 0, "its client went away: none left");
	w = cmdq_submit(q, CTL_WAIT_ONLINE, NULL, on_reply, &r2);
	fake_set(CONN_ONLINE);
	ok(r2.n == 1 && r2.ok, "a waiter still there is answered online");
	is_int(cmdq_waiting(q), 0, "and freed");

	/* defect 8: reload starts over and fails at once */
	fake_state = CONN_ONLINE;
	reconnect_to = CONN_WAITING;
	memset(&r1, 0, sizeof(r1));
	memset(&r2, 0, sizeof(r2));
	cmdq_submit(q, CTL_RELOAD, NULL, on_reply, &r1);
	cmdq_submit(q, CTL_RECONNECT, NULL, on_reply, &r2);
	spin(base);
	ok(r1.n == 1 && !r1.ok && strstr(r1.text, "not online: boom") !=
	    NULL, "reload failing at once: answered once (%s)", r1.text);
	ok(r2.n == 1, "the command queued behind it ran");

	/* a reconnect's outcome follows a later state change */
	reconnect_to = CONN_RESOLVING;
	memset(&r1, 0, sizeof(r1));
	cmdq_submit(q, CTL_RECONNECT, NULL, on_reply, &r1);
	cmdq_submit(q, CTL_RECONNECT, NULL, on_reply, &r2);
	spin(base);
	is_int(r1.n, 0, "reconnect: no answer while resolving");
	fake_set(CONN_ONLINE);
	ok(r1.n == 1 && r1.ok, "online: reconnect answered OK");
	spin(base);

	/* issue 11 item 2: parked, wait-online answers at once, from the loop */
	fake_state = CONN_AUTH_FAILED;
	fake_parked = 1;
	memset(&r3, 0, sizeof(r3));
	cmdq_submit(q, CTL_WAIT_ONLINE, NULL, on_reply, &r3);
	is_int(r3.n, 0, "parked: not answered under the submitter");
	spin(base);
	ok(r3.n == 1 && !r3.ok && strcmp(r3.code, CTL_ERR_STATE) == 0 &&
	    strstr(r3.text, "state auth-failed") != NULL &&
	    strstr(r3.text, "boom") != NULL,
	    "wait-online in auth-failed: ERR state with state and last error "
	    "(%s)", r3.text);
	is_int(cmdq_waiting(q), 0, "no waiter left");
	fake_state = CONN_WAITING;
	fake_parked = 0;
	memset(&r3, 0, sizeof(r3));
	cmdq_submit(q, CTL_WAIT_ONLINE, NULL, on_reply, &r3);
	spin(base);
	is_int(r3.n, 0, "waiting (not parked): wait-online waits");
	fake_parked = 1;
	fake_set(CONN_OFFLINE);		/* disconnect */
	ok(r3.n == 1 && !r3.ok && strstr(r3.text, "connect") != NULL,
	    "offline on request: a pending wait-online is answered (%s)",
	    r3.text);
	fake_parked = 0;

	/* shutdown answers everyone */
	fake_state = CONN_WAITING;
	memset(&r3, 0, sizeof(r3));
	memset(&r1, 0, sizeof(r1));
	cmdq_submit(q, CTL_WAIT_ONLINE, NULL, on_reply, &r3);
	cmdq_submit(q, CTL_REGISTER, NULL, on_reply, &r1);
	cmdq_shutdown(q);
	ok(r3.n == 1 && strcmp(r3.code, CTL_ERR_SHUTDOWN) == 0,
	    "shutdown: a waiter gets ERR shutdown");
	ok(r1.n == 1 && strcmp(r1.code, CTL_ERR_SHUTDOWN) == 0,
	    "shutdown: a queued command too");
	cmdq_free(q);
	event_base_free(base);
	return done_testing();
}
