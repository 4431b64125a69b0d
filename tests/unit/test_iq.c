/*
 * test_iq.c: the pending-IQ table as pure functions: ids, matching by id
 * and sender (RFC 6120 8.1.2.1), deadlines, cancel, the end of a stream,
 * and callbacks that change the table while it runs them.
 */
#include "compat.h"

#include <stdlib.h>
#include <string.h>

#include "iq.h"
#include "stanza.h"
#include "tap.h"

#define BARE	"bot@example.org"
#define DOMAIN	"example.org"

struct seen {
	int			 n;
	enum iq_outcome		 how;
	int			 had_reply;
};

static void
record(void *arg, enum iq_outcome how, const struct stanza *reply)
{
	struct seen	*s = arg;

	s->n++;
	s->how = how;
	s->had_reply = reply != NULL;
}

static struct stanza *
request(const char *to)
{
	struct stanza	*iq = stanza_new("iq", NULL);

	stanza_set_attr(iq, "type", "get");
	if (to != NULL)
		stanza_set_attr(iq, "to", to);
	return iq;
}

static struct stanza *
answer(const char *type, const char *id, const char *from)
{
	struct stanza	*iq = stanza_new("iq", NULL);

	stanza_set_attr(iq, "type", type);
	if (id != NULL)
		stanza_set_attr(iq, "id", id);
	if (from != NULL)
		stanza_set_attr(iq, "from", from);
	return iq;
}

/* Add a request to 'to'; feed one answer; return what input said. */
static int
one(const char *to, const char *from, const char *type, struct seen *seen)
{
	struct iq_table	*t = iq_table_new(BARE, DOMAIN);
	struct stanza	*rq = request(to), *an;
	char		 id[64];
	int		 r;

	memset(seen, 0, sizeof(*seen));
	strlcpy(id, iq_table_add(t, rq, 0, record, seen), sizeof(id));
	an = answer(type, id, from);
	r = iq_table_input(t, an);
	stanza_free(an);
	stanza_free(rq);
	iq_table_cancel(t, seen);
	iq_table_free(t);
	return r;
}

static void
ids(void)
{
	struct iq_table	*t = iq_table_new(BARE, DOMAIN);
	struct stanza	*a = request(NULL), *b = request(NULL);
	struct seen	 s;
	const char	*ia, *ib;

	ia = iq_table_add(t, a, 0, record, &s);
	ib = iq_table_add(t, b, 0, record, &s);
	is_str(stanza_attr(a, "id"), ia, "the id is set on the stanza");
	ok(strcmp(ia, ib) != 0, "two requests, two ids");
	ok(strlen(ia) >= 24, "id carries at least 96 bits (%zu chars)",
	    strlen(ia));
	ok(strcmp(ia, "xd1") != 0 && strcmp(ib, "xd2") != 0,
	    "ids are not a sequence");
	is_int(iq_table_count(t), 2, "two pending");
	iq_table_cancel(t, &s);
	is_int(iq_table_count(t), 0, "cancel by arg drops both");
	stanza_free(a);
	stanza_free(b);
	iq_table_free(t);
}

static void
senders(void)
{
	struct seen	s;

	/* No 'to': none, the bare JID or the domain. */
	ok(one(NULL, NULL, "result", &s) == 1 && s.n == 1 &&
	    s.how == IQ_RESULT && s.had_reply, "no to: answer without from");
	ok(one(NULL, BARE, "result", &s) == 1, "no to: from the bare JID");
	ok(one(NULL, "BOT@Example.ORG", "result", &s) == 1,
	    "no to: bare JID in another case");
	ok(one(NULL, DOMAIN, "result", &s) == 1, "no to: from the domain");
	ok(one(NULL, "mallory@example.org", "result", &s) == 0 && s.n == 0,
	    "no to: another account is refused");
	ok(one(NULL, BARE "/other", "result", &s) == 0 && s.n == 0,
	    "no to: a full JID of the account is refused");
	ok(one(NULL, "example.org.evil", "result", &s) == 0,
	    "no to: a longer domain is refused");
	/* To the domain: none or the domain. */
	ok(one(DOMAIN, DOMAIN, "result", &s) == 1, "to domain: from domain");
	ok(one(DOMAIN, NULL, "error", &s) == 1 && s.how == IQ_ERROR,
	    "to domain: no from, an error");
	ok(one(DOMAIN, BARE, "result", &s) == 0 && s.n == 0,
	    "to domain: from the bare JID is refused");
	/* To someone else: exactly them. */
	ok(one("room@muc.example.org/nick", "room@muc.example.org/nick",
	    "result", &s) == 1, "to a full JID: from it");
	ok(one("room@muc.example.org/nick", "room@muc.example.org/Nick",
	    "result", &s) == 0, "resources compare exactly");
	ok(one("room@muc.example.org", NULL, "result", &s) == 0 && s.n == 0,
	    "to another entity: no from is refused");
	ok(one("room@muc.example.org", DOMAIN, "result", &s) == 0,
	    "to another entity: the server's domain is refused");
	ok(one("alice@example.org", "alice@example.org", "result", &s) == 1,
	    "to a bare JID: from it");
	ok(one(NULL, NULL, "get", &s) == 0 && s.n == 0,
	    "a request with our id is not an answer");
}

static void
wrong_id(void)
{
	struct iq_table	*t = iq_table_new(BARE, DOMAIN);
	struct stanza	*rq = request(NULL), *an;
	struct seen	 s = { 0 };

	iq_table_add(t, rq, 0, record, &s);
	an = answer("result", "xd1", NULL);
	is_int(iq_table_input(t, an), 0, "a guessed id matches nothing");
	stanza_free(an);
	an = answer("result", NULL, NULL);
	is_int(iq_table_input(t, an), 0, "no id matches nothing");
	stanza_free(an);
	an = answer("result", stanza_attr(rq, "id"), "mallory@example.org");
	is_int(iq_table_input(t, an), 0, "right id, wrong sender: not ours");
	is_int(iq_table_count(t), 1, "and the request still waits");
	stanza_free(an);
	an = answer("result", stanza_attr(rq, "id"), NULL);
	is_int(iq_table_input(t, an), 1, "then the real answer matches");
	is_int(s.n, 1, "one callback");
	is_int(iq_table_input(t, an), 0, "a second copy matches nothing");
	is_int(s.n, 1, "still one callback");
	stanza_free(an);
	stanza_free(rq);
	iq_table_free(t);
}

static void
timeouts(void)
{
	struct iq_table	*t = iq_table_new(BARE, DOMAIN);
	struct stanza	*a = request(NULL), *b = request(NULL), *c;
	struct seen	 sa = { 0 }, sb = { 0 }, sc = { 0 };

	c = request(NULL);
	is_int(iq_table_next_deadline(t), 0, "empty: no deadline");
	iq_table_add(t, a, 5000, record, &sa);
	iq_table_add(t, b, 3000, record, &sb);
	iq_table_add(t, c, 0, record, &sc);
	is_int(iq_table_next_deadline(t), 3000, "earliest deadline first");
	iq_table_expire(t, 2999);
	ok(sa.n == 0 && sb.n == 0, "nothing before its deadline");
	iq_table_expire(t, 3000);
	ok(sb.n == 1 && sb.how == IQ_TIMEOUT && !sb.had_reply,
	    "at its deadline: IQ_TIMEOUT without a reply");
	is_int(sa.n, 0, "the later one still waits");
	is_int(iq_table_next_deadline(t), 5000, "next deadline");
	iq_table_expire(t, 100000);
	ok(sa.n == 1 && sa.how == IQ_TIMEOUT, "the later one times out");
	is_int(sc.n, 0, "no deadline: never times out");
	is_int(iq_table_next_deadline(t), 0, "no deadline left");
	iq_table_gone(t);
	ok(sc.n == 1 && sc.how == IQ_GONE, "the stream's end: IQ_GONE");
	is_int(iq_table_count(t), 0, "table empty");
	stanza_free(a);
	stanza_free(b);
	stanza_free(c);
	iq_table_free(t);
}

/* Callbacks that change the table while it runs them. */
struct chain {
	struct iq_table	*t;
	struct stanza	*next;
	void		*cancel;
	int		 n;
};

static void
chain_cb(void *arg, enum iq_outcome how, const struct stanza *reply)
{
	struct chain	*ch = arg;

	(void)how;
	(void)reply;
	ch->n++;
	if (ch->cancel != NULL)
		iq_table_cancel(ch->t, ch->cancel);
	if (ch->next != NULL) {
		iq_table_add(ch->t, ch->next, 0, record, NULL);
		ch->next = NULL;
	}
}

static void
reentry(void)
{
	struct iq_table	*t = iq_table_new(BARE, DOMAIN);
	struct stanza	*a = request(NULL), *b = request(NULL);
	struct stanza	*n = request(NULL);
	struct seen	 sb = { 0 };
	struct chain	 ch = { t, n, &sb, 0 };

	iq_table_add(t, a, 1000, chain_cb, &ch);
	iq_table_add(t, b, 1000, record, &sb);
	iq_table_expire(t, 1000);
	is_int(ch.n, 1, "first timed out");
	is_int(sb.n, 0, "the one it cancelled got no callback");
	is_int(iq_table_count(t), 1, "the one it added is pending");
	/* gone: a request made from an IQ_GONE callback survives it */
	ch.next = b;
	ch.cancel = NULL;
	iq_table_cancel(t, NULL);
	iq_table_add(t, a, 0, chain_cb, &ch);
	iq_table_gone(t);
	is_int(ch.n, 2, "gone ran the callback");
	is_int(iq_table_count(t), 1, "a request made in it is still pending");
	iq_table_cancel(t, NULL);
	stanza_free(a);
	stanza_free(b);
	stanza_free(n);
	iq_table_free(t);
}

static void
sender_rules(void)
{
	ok(iq_sender_ok(NULL, NULL, BARE, DOMAIN), "none to none");
	ok(iq_sender_ok(BARE, NULL, BARE, DOMAIN), "to own bare: none");
	ok(iq_sender_ok(BARE, BARE, BARE, DOMAIN), "to own bare: bare");
	ok(!iq_sender_ok(BARE, DOMAIN, BARE, DOMAIN),
	    "to own bare: not the domain");
	ok(!iq_sender_ok("a@b/c", "a@b", BARE, DOMAIN),
	    "to a full JID: not its bare JID");
	ok(!iq_sender_ok("a@b", "a@b/c", BARE, DOMAIN),
	    "to a bare JID: not one of its resources");
}

int
main(void)
{
	ids();
	senders();
	wrong_id();
	timeouts();
	reentry();
	sender_rules();
	return done_testing();
}
