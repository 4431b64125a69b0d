/*
 * test_outbox.c: the outbox over a fake link, on a real event loop and a
 * real spool directory: order, origin-id, acks, resend after a fresh
 * login (same id), resume, bounces, receipts, expiry, drop, waiters, a
 * full spool, a restart; and the token bucket's arithmetic.
 */
#include "compat.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "bucket.h"
#include "ctlproto.h"
#include "log.h"
#include "outbox.h"
#include "stanza.h"
#include "tap.h"
#include "util.h"
#include "xmalloc.h"

#define MAXSENT	4096

static struct event_base	*base;
static char			 tmpdir[] = "/tmp/test_outbox.XXXXXX";
static char			*spooldir;

/* What went out through the fake link. */
static struct {
	char		*xml;
	char		*to;
	char		*id;
	char		*origin;
	int		 receipt;
	uint64_t	 tag;
} sent[MAXSENT];
static int	nsent;
static int	link_down;

/* State events. */
static char	events[8192];

static int	waited, wait_ok;
static char	wait_text[256], wait_code[32];

static int
fake_send(void *arg, struct stanza *s, uint64_t tag)
{
	struct stanza	*o;

	(void)arg;
	if (link_down) {
		stanza_free(s);
		return -1;
	}
	if (nsent < MAXSENT) {
		sent[nsent].xml = stanza_to_string(s, "jabber:client", NULL);
		sent[nsent].to = xstrdup(stanza_attr(s, "to"));
		sent[nsent].id = xstrdup(stanza_attr(s, "id"));
		o = stanza_child(s, "origin-id", "urn:xmpp:sid:0");
		sent[nsent].origin = xstrdup(o ? stanza_attr(o, "id") : "");
		sent[nsent].receipt = stanza_child(s, "request",
		    "urn:xmpp:receipts") != NULL;
		sent[nsent].tag = tag;
		nsent++;
	}
	stanza_free(s);
	return 0;
}

static void
clear_sent(void)
{
	while (nsent > 0) {
		nsent--;
		free(sent[nsent].xml);
		free(sent[nsent].to);
		free(sent[nsent].id);
		free(sent[nsent].origin);
	}
}

static void
on_state(void *arg, const char *id, const char *to, enum outbox_state s,
    const char *error)
{
	size_t	len = strlen(events);

	(void)arg;
	(void)id;
	snprintf(events + len, sizeof(events) - len, "%s:%s%s%s;", to,
	    outbox_state_name(s), error ? "=" : "", error ? error : "");
}

static void
on_wait(void *arg, int ok, const char *code, const char *text)
{
	(void)arg;
	waited++;
	wait_ok = ok;
	strlcpy(wait_code, code ? code : "", sizeof(wait_code));
	strlcpy(wait_text, text ? text : "", sizeof(wait_text));
}

static void
run(void)
{
	int	i;

	for (i = 0; i < 5; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
}

static int
spool_files(void)
{
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	if ((d = opendir(spooldir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (strstr(de->d_name, ".msg") != NULL)
			n++;
	closedir(d);
	return n;
}

static struct outbox *
open_outbox(unsigned int lifetime, uint64_t rate_milli, size_t max_msgs)
{
	struct outbox_conf	 conf = { max_msgs, 0, lifetime, rate_milli, 1 };
	struct outbox_hooks	 hooks = { on_state, NULL };
	struct outbox_link	 link = { fake_send, NULL, NULL };
	struct outbox		*ob;
	char			*cause = NULL;

	if ((ob = outbox_new(base, spooldir, &conf, &cause)) == NULL) {
		diag("outbox_new: %s", cause);
		exit(1);
	}
	outbox_set_hooks(ob, &hooks);
	outbox_set_link(ob, &link);
	return ob;
}

static char *
submit(struct outbox *ob, const char *to, const char *body, int receipt)
{
	const char	*code;
	char		*id, *cause = NULL;
	const char	*rcpt[1] = { to };

	if (outbox_submit(ob, rcpt, 1, "chat", receipt, body, strlen(body),
	    &id, &code, &cause) == -1) {
		diag("submit: %s", cause);
		free(cause);
		return NULL;
	}
	return id;
}

/* <message type='error' from=FROM id=ID><error><COND/></error></message> */
static struct stanza *
bounce(const char *from, const char *id, const char *cond)
{
	struct stanza	*s, *e;

	s = stanza_new("message", "jabber:client");
	stanza_set_attr(s, "type", "error");
	stanza_set_attr(s, "from", from);
	stanza_set_attr(s, "id", id);
	e = stanza_add_child(s, "error", NULL);
	stanza_set_attr(e, "type", "cancel");
	stanza_add_child(e, cond, "urn:ietf:params:xml:ns:xmpp-stanzas");
	return s;
}

static struct stanza *
receipt(const char *from, const char *id)
{
	struct stanza	*s, *r;

	s = stanza_new("message", "jabber:client");
	stanza_set_attr(s, "from", from);
	stanza_set_attr(s, "id", "r1");
	r = stanza_add_child(s, "received", "urn:xmpp:receipts");
	stanza_set_attr(r, "id", id);
	return s;
}

static void
order_and_acks(void)
{
	struct outbox	*ob;
	char		*id[3];
	int		 i;

	ob = open_outbox(0, 0, 0);
	id[0] = submit(ob, "a@example.org", "one", 0);
	id[1] = submit(ob, "b@example.org", "two", 0);
	id[2] = submit(ob, "a@example.org", "three", 0);
	ok(id[0] && id[1] && id[2] && strcmp(id[0], id[1]) != 0,
	    "three accepted with distinct ids");
	is_int(spool_files(), 3, "three files on disk before anything is sent");
	run();
	is_int(nsent, 0, "nothing sent while offline");
	outbox_online(ob, 0);
	run();
	is_int(nsent, 3, "all three sent once online");
	if (nsent == 3) {
		ok(strstr(sent[0].xml, "<body>one</body>") != NULL &&
		    strstr(sent[1].xml, "<body>two</body>") != NULL &&
		    strstr(sent[2].xml, "<body>three</body>") != NULL,
		    "in order of acceptance");
		is_str(sent[0].origin, id[0], "origin-id is the message id");
		is_str(sent[0].id, id[0], "stanza id is the message id");
		ok(!sent[0].receipt, "no receipt request unless asked");
	}
	ok(strstr(events, "a@example.org:queued;") != NULL &&
	    strstr(events, "a@example.org:sent;") != NULL, "events: queued, sent");
	outbox_acked(ob, sent[0].tag);
	run();
	is_int(spool_files(), 2, "acked message leaves the spool");
	ok(strstr(events, "a@example.org:acked;") != NULL, "event: acked");
	is_int((long long)outbox_pending(ob), 2, "two pending");

	/* A fresh login voids the tags: resend in order, same ids. */
	outbox_offline(ob);
	clear_sent();
	outbox_online(ob, 0);
	run();
	is_int(nsent, 2, "two resent after a fresh login");
	if (nsent == 2) {
		is_str(sent[0].origin, id[1], "first resend keeps its id");
		is_str(sent[1].origin, id[2], "second resend keeps its id");
	}
	/* A resume keeps them in flight: nothing is sent twice. */
	outbox_offline(ob);
	for (i = 0; i < nsent; i++)
		sent[i].tag = sent[i].tag;
	{
		uint64_t	t0 = sent[0].tag, t1 = sent[1].tag;

		clear_sent();
		outbox_online(ob, 1);
		run();
		is_int(nsent, 0, "nothing resent after a resume");
		outbox_acked(ob, t0);
		outbox_acked(ob, t1);
		outbox_acked(ob, t1);	/* a duplicate ack is harmless */
	}
	run();
	is_int(spool_files(), 0, "all acked, spool empty");
	is_int((long long)outbox_pending(ob), 0, "nothing pending");
	for (i = 0; i < 3; i++)
		free(id[i]);
	outbox_free(ob);
	clear_sent();
	events[0] = '\0';
}

static void
restart(void)
{
	struct outbox	*ob;
	char		*id;

	ob = open_outbox(0, 0, 0);
	id = submit(ob, "c@example.org", "survives", 0);
	outbox_online(ob, 0);
	run();
	is_int(nsent, 1, "sent before the 'crash'");
	/* Never acked; the process dies. */
	outbox_free(ob);
	clear_sent();

	ob = open_outbox(0, 0, 0);
	is_int((long long)outbox_pending(ob), 1, "reloaded from the spool");
	outbox_online(ob, 0);
	run();
	is_int(nsent, 1, "sent again after the restart");
	if (nsent == 1) {
		is_str(sent[0].origin, id, "with the same origin-id");
		ok(strstr(sent[0].xml, "survives") != NULL, "and the same body");
		outbox_acked(ob, sent[0].tag);
	}
	run();
	is_int(spool_files(), 0, "then gone from the spool");
	free(id);
	outbox_free(ob);
	clear_sent();
	events[0] = '\0';
}

static void
bounce_and_receipt(void)
{
	struct outbox		*ob;
	struct outbox_waiter	*w;
	struct stanza		*s;
	char			*id1, *id2;

	ob = open_outbox(0, 0, 0);
	id1 = submit(ob, "nobody@example.org", "hello?", 0);
	id2 = submit(ob, "friend@example.org", "hi", 1);
	w = outbox_wait(ob, id1, OB_ACKED, on_wait, NULL);
	ok(w != NULL, "wait on a pending message");
	ok(outbox_wait(ob, "nosuchid", OB_ACKED, on_wait, NULL) == NULL,
	    "wait on an unknown id: NULL");
	outbox_online(ob, 0);
	run();
	is_int(nsent, 2, "both sent");
	ok(nsent == 2 && sent[1].receipt, "receipt requested when asked");

	s = bounce("nobody@example.org", "otherid", "service-unavailable");
	is_int(outbox_stanza(ob, s), 0, "an error for another id is not ours");
	stanza_free(s);
	s = bounce("nobody@example.org", id1, "service-unavailable");
	is_int(outbox_stanza(ob, s), 0, "the bounce is left for events too");
	stanza_free(s);
	is_int(waited, 0, "the waiter is not called from within the call");
	run();
	is_int(waited, 1, "waiter called from the loop");
	is_int(wait_ok, 0, "with failure");
	is_str(wait_code, CTL_ERR_BOUNCED, "code bounced");
	ok(strstr(wait_text, "service-unavailable") != NULL,
	    "text has the condition: %s", wait_text);
	ok(strstr(events, "nobody@example.org:bounced=service-unavailable;")
	    != NULL, "bounce event with the condition");
	is_int(spool_files(), 1, "bounced message left the spool");

	/* A receipt: acked first, then received. */
	waited = 0;
	w = outbox_wait(ob, id2, OB_RECEIVED, on_wait, NULL);
	outbox_acked(ob, sent[1].tag);
	run();
	is_int(waited, 0, "acked is not received");
	is_int(spool_files(), 0, "acked message left the spool");
	s = receipt("friend@example.org/phone", id2);
	is_int(outbox_stanza(ob, s), 1, "the receipt is consumed");
	stanza_free(s);
	run();
	is_int(waited, 1, "waiter for received called");
	is_int(wait_ok, 1, "with success");
	ok(strstr(events, "friend@example.org:received;") != NULL,
	    "received event");

	/* An ordinary message passes through. */
	s = stanza_new("message", "jabber:client");
	stanza_set_attr(s, "from", "x@y");
	stanza_add_text_child(s, "body", NULL, "hi");
	is_int(outbox_stanza(ob, s), 0, "an ordinary message is not consumed");
	stanza_free(s);

	/* A cancelled waiter is never called. */
	waited = 0;
	free(id1);
	id1 = submit(ob, "late@example.org", "x", 0);
	w = outbox_wait(ob, id1, OB_ACKED, on_wait, NULL);
	outbox_wait_cancel(w);
	run();
	outbox_acked(ob, sent[nsent - 1].tag);
	run();
	is_int(waited, 0, "cancelled waiter not called");
	free(id1);
	free(id2);
	outbox_free(ob);
	clear_sent();
	events[0] = '\0';
}

static void
expiry_drop_full(void)
{
	struct outbox	*ob;
	char		*id, *id2, *cause = NULL;
	const char	*code;
	const char	*rcpt[1] = { "e@example.org" };
	char		*nid;

	ob = open_outbox(1, 0, 2);
	id = submit(ob, "e@example.org", "old", 0);
	id2 = submit(ob, "f@example.org", "drop me", 0);
	is_int(outbox_submit(ob, rcpt, 1, "chat", 0, "third", 5, &nid, &code,
	    &cause), -1, "a full outbox refuses");
	is_str(code, CTL_ERR_FULL, "with code full");
	ok(cause && strstr(cause, "outbox full") != NULL, "and says so: %s",
	    cause ? cause : "");
	free(cause);
	is_int(spool_files(), 2, "the accepted two are kept");

	is_int(outbox_drop(ob, id2), 0, "drop by id");
	is_int(outbox_drop(ob, "nosuch"), -1, "drop of an unknown id fails");
	is_int(spool_files(), 1, "dropped message removed from disk");

	sleep(2);
	run();
	ok(strstr(events, "e@example.org:expired=") != NULL,
	    "expired after its lifetime: %s", events);
	is_int(spool_files(), 0, "expired message removed from disk");
	outbox_online(ob, 0);
	run();
	is_int(nsent, 0, "an expired message is never sent");
	free(id);
	free(id2);
	outbox_free(ob);
	clear_sent();
	events[0] = '\0';
}

static void
bad_input(void)
{
	struct outbox	*ob;
	const char	*code;
	char		*id, *cause = NULL;
	const char	*bad[1] = { "not a jid@" };
	const char	*good[1] = { "g@example.org" };

	ob = open_outbox(0, 0, 0);
	is_int(outbox_submit(ob, bad, 1, "chat", 0, "x", 1, &id, &code,
	    &cause), -1, "bad recipient refused");
	free(cause);
	cause = NULL;
	is_int(outbox_submit(ob, good, 1, "chat", 0, "a\001b", 3, &id, &code,
	    &cause), -1, "control character refused");
	free(cause);
	cause = NULL;
	is_int(outbox_submit(ob, good, 1, "groupchat", 0, "x", 1, &id, &code,
	    &cause), -1, "unknown type refused");
	free(cause);
	is_int(spool_files(), 0, "nothing kept");
	outbox_free(ob);
}

static void
pacing(void)
{
	struct outbox	*ob;
	uint64_t	 t0;
	char		*id;
	int		 i;

	/* 20 per second, burst 1: five messages take at least 200 ms. */
	ob = open_outbox(0, 20000, 0);
	for (i = 0; i < 5; i++) {
		id = submit(ob, "p@example.org", "paced", 0);
		free(id);
	}
	outbox_online(ob, 0);
	t0 = monotime_ms();
	while (nsent < 5 && monotime_ms() - t0 < 5000)
		event_base_loop(base, EVLOOP_ONCE);
	is_int(nsent, 5, "all five sent");
	ok(monotime_ms() - t0 >= 190, "paced: %llu ms",
	    (unsigned long long)(monotime_ms() - t0));
	for (i = 0; i < nsent; i++)
		outbox_acked(ob, sent[i].tag);
	run();
	outbox_free(ob);
	clear_sent();
	events[0] = '\0';
}

/* Big bodies: at most 512 KiB in flight, so XEP-0198 keeps them all. */
static void
byte_window(void)
{
	struct outbox	*ob;
	char		*big, *id;
	int		 i;

	big = xmalloc(300 * 1024 + 1);
	memset(big, 'a', 300 * 1024);
	big[300 * 1024] = '\0';
	ob = open_outbox(0, 0, 0);
	for (i = 0; i < 3; i++) {
		id = submit(ob, "w@example.org", big, 0);
		free(id);
	}
	outbox_online(ob, 0);
	run();
	is_int(nsent, 1, "one 300 KiB message in flight, not three");
	outbox_acked(ob, sent[0].tag);
	run();
	is_int(nsent, 2, "the next leaves once the first is acked");
	outbox_acked(ob, sent[1].tag);
	run();
	outbox_acked(ob, sent[2].tag);
	run();
	is_int(nsent, 3, "and the third");
	is_int(spool_files(), 0, "all acked");
	free(big);
	outbox_free(ob);
	clear_sent();
	events[0] = '\0';
}

static void
bucket_math(void)
{
	struct bucket	b;
	int		i, took = 0;

	bucket_init(&b, 5000, 10, 1000);
	for (i = 0; i < 20; i++)
		if (bucket_take(&b, 1000) == 0)
			took++;
	is_int(took, 10, "a full bucket gives its burst at once");
	is_int((long long)bucket_take(&b, 1000), 200, "then 200 ms per token at 5/s");
	is_int((long long)bucket_take(&b, 1200), 0, "one token after 200 ms");
	is_int((long long)bucket_take(&b, 1200), 200, "and none more");
	bucket_init(&b, 500, 1, 0);
	is_int((long long)bucket_take(&b, 0), 0, "0.5/s: first token");
	is_int((long long)bucket_take(&b, 0), 2000, "next in 2 s");
	is_int((long long)bucket_take(&b, 1999), 2, "2 ms short at 1999 ms");
	bucket_init(&b, 0, 1, 0);
	for (i = 0; i < 1000; i++)
		if (bucket_take(&b, 0) != 0)
			break;
	is_int(i, 1000, "rate 0: no limit");
	bucket_init(&b, 5000, 10, 0);
	for (i = 0; i < 10; i++)
		bucket_take(&b, 0);
	is_int((long long)bucket_take(&b, UINT64_MAX / 2), 0,
	    "a huge clock jump neither overflows nor overfills");
	took = 0;
	for (i = 0; i < 20; i++)
		if (bucket_take(&b, UINT64_MAX / 2) == 0)
			took++;
	is_int(took, 9, "the rest of the burst, no more");
}

int
main(void)
{
	char	cmd[128];

	log_init(0, LOG_TO_STDERR, NULL);
	if (mkdtemp(tmpdir) == NULL || (base = event_base_new()) == NULL)
		return 1;
	xasprintf(&spooldir, "%s/outbox", tmpdir);
	order_and_acks();
	restart();
	bounce_and_receipt();
	expiry_drop_full();
	bad_input();
	pacing();
	byte_window();
	bucket_math();
	event_base_free(base);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		diag("cannot remove %s", tmpdir);
	free(spooldir);
	return done_testing();
}
