/*
 * iq.c: the pending-IQ table.  It owns the requests in flight and their
 * ids; matching checks both id and sender, so a guessed id from anyone
 * but the addressee is not taken for the answer.  The list is short (a
 * few requests at a time): linear scans keep it simple.
 */
#include "compat.h"

#include <sys/random.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "iq.h"
#include "log.h"
#include "stanza.h"
#include "xmalloc.h"

#define IQ_ID_BYTES	12

struct iq_entry {
	TAILQ_ENTRY(iq_entry)	 entry;
	char			 id[2 * IQ_ID_BYTES + 3];
	char			*to;		/* NULL: no 'to' */
	uint64_t		 deadline;	/* 0: none */
	uint64_t		 seq;		/* order of creation */
	iq_cb			 cb;
	void			*arg;
};
TAILQ_HEAD(iq_entries, iq_entry);

struct iq_table {
	struct iq_entries	 entries;
	size_t			 n;
	uint64_t		 seq;
	char			*bare;
	char			*domain;
};

struct iq_table *
iq_table_new(const char *bare, const char *domain)
{
	struct iq_table	*t = xcalloc(1, sizeof(*t));

	TAILQ_INIT(&t->entries);
	iq_table_set_account(t, bare, domain);
	return t;
}

void
iq_table_set_account(struct iq_table *t, const char *bare,
    const char *domain)
{
	free(t->bare);
	free(t->domain);
	t->bare = xstrdup(bare ? bare : "");
	t->domain = xstrdup(domain ? domain : "");
}

static void
iq_entry_free(struct iq_entry *e)
{
	free(e->to);
	free(e);
}

/* Take e out of the table, then tell its owner. */
static void
iq_end(struct iq_table *t, struct iq_entry *e, enum iq_outcome how,
    const struct stanza *reply)
{
	iq_cb	 cb = e->cb;
	void	*arg = e->arg;

	TAILQ_REMOVE(&t->entries, e, entry);
	t->n--;
	iq_entry_free(e);
	if (cb != NULL)
		cb(arg, how, reply);
}

void
iq_table_free(struct iq_table *t)
{
	if (t == NULL)
		return;
	iq_table_gone(t);
	free(t->bare);
	free(t->domain);
	free(t);
}

static void
iq_new_id(char *buf, size_t len)
{
	static const char	hex[] = "0123456789abcdef";
	unsigned char		r[IQ_ID_BYTES];
	size_t			i;
	ssize_t			got;

	do
		got = getrandom(r, sizeof(r), 0);
	while (got == -1 && errno == EINTR);
	if (got != (ssize_t)sizeof(r))
		fatal("getrandom");
	buf[0] = 'x';
	buf[1] = 'd';
	for (i = 0; i < sizeof(r) && 2 * i + 3 < len; i++) {
		buf[2 + 2 * i] = hex[r[i] >> 4];
		buf[3 + 2 * i] = hex[r[i] & 15];
	}
	buf[2 + 2 * i] = '\0';
}

static struct iq_entry *
iq_find_id(const struct iq_table *t, const char *id)
{
	struct iq_entry	*e;

	TAILQ_FOREACH(e, &t->entries, entry)
		if (strcmp(e->id, id) == 0)
			return e;
	return NULL;
}

const char *
iq_table_add(struct iq_table *t, struct stanza *iq, uint64_t deadline_ms,
    iq_cb cb, void *arg)
{
	struct iq_entry	*e = xcalloc(1, sizeof(*e));
	const char	*to = stanza_attr(iq, "to");

	/* 96 random bits: a collision is a bug elsewhere, but never reuse. */
	do
		iq_new_id(e->id, sizeof(e->id));
	while (iq_find_id(t, e->id) != NULL);
	e->to = to != NULL ? xstrdup(to) : NULL;
	e->deadline = deadline_ms;
	e->seq = t->seq++;
	e->cb = cb;
	e->arg = arg;
	TAILQ_INSERT_TAIL(&t->entries, e, entry);
	t->n++;
	stanza_set_attr(iq, "id", e->id);
	return e->id;
}

/* Bare parts without ASCII case, resources (after '/') exactly. */
static int
iq_jid_eq(const char *a, const char *b)
{
	const char	*sa = strchr(a, '/'), *sb = strchr(b, '/');
	size_t		 la = sa ? (size_t)(sa - a) : strlen(a);
	size_t		 lb = sb ? (size_t)(sb - b) : strlen(b);

	if (la != lb || strncasecmp(a, b, la) != 0)
		return 0;
	if (sa == NULL || sb == NULL)
		return sa == sb;
	return strcmp(sa, sb) == 0;
}

int
iq_sender_ok(const char *to, const char *from, const char *bare,
    const char *domain)
{
	if (to == NULL)
		return from == NULL || iq_jid_eq(from, bare) ||
		    iq_jid_eq(from, domain);
	if (from == NULL)
		return iq_jid_eq(to, domain) || iq_jid_eq(to, bare);
	return iq_jid_eq(from, to);
}

int
iq_table_input(struct iq_table *t, const struct stanza *iq)
{
	const char	*id = stanza_attr(iq, "id"), *type;
	const char	*from = stanza_attr(iq, "from");
	struct iq_entry	*e;

	type = stanza_attr(iq, "type");
	if (id == NULL || type == NULL || (e = iq_find_id(t, id)) == NULL)
		return 0;
	if (strcmp(type, "result") != 0 && strcmp(type, "error") != 0)
		return 0;
	if (!iq_sender_ok(e->to, from, t->bare, t->domain)) {
		log_warnx("ignoring an answer to request %s from %s: it was "
		    "addressed to %s", id, from ? from : "(none)",
		    e->to ? e->to : "the account");
		return 0;
	}
	iq_end(t, e, strcmp(type, "result") == 0 ? IQ_RESULT : IQ_ERROR, iq);
	return 1;
}

void
iq_table_expire(struct iq_table *t, uint64_t now_ms)
{
	struct iq_entry	*e;

	/* A callback may change the table: start over after each. */
again:
	TAILQ_FOREACH(e, &t->entries, entry)
		if (e->deadline != 0 && e->deadline <= now_ms) {
			iq_end(t, e, IQ_TIMEOUT, NULL);
			goto again;
		}
}

uint64_t
iq_table_next_deadline(const struct iq_table *t)
{
	struct iq_entry	*e;
	uint64_t	 next = 0;

	TAILQ_FOREACH(e, &t->entries, entry)
		if (e->deadline != 0 && (next == 0 || e->deadline < next))
			next = e->deadline;
	return next;
}

void
iq_table_cancel(struct iq_table *t, void *arg)
{
	struct iq_entry	*e, *next;

	TAILQ_FOREACH_SAFE(e, &t->entries, entry, next)
		if (e->arg == arg) {
			TAILQ_REMOVE(&t->entries, e, entry);
			t->n--;
			iq_entry_free(e);
		}
}

void
iq_table_gone(struct iq_table *t)
{
	struct iq_entry	*e;
	uint64_t	 end = t->seq;

	/* Requests made from these callbacks belong to what comes next. */
	while ((e = TAILQ_FIRST(&t->entries)) != NULL && e->seq < end)
		iq_end(t, e, IQ_GONE, NULL);
}

size_t
iq_table_count(const struct iq_table *t)
{
	return t->n;
}
