/*
 * test_sm.c: XEP-0198 bookkeeping as pure functions: what sm_track asks
 * for, acks (with the 2^32 wrap and refusals), the bound on the queue,
 * tags and acked(), resumption (and the void stanzas of a restart), a
 * fresh session after a lost one, and the saved-session file.
 */
#include "compat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sm.h"
#include "tap.h"

struct acks {
	uint64_t	tags[16];
	int		n;
};

static void
on_acked(void *arg, uint64_t tag)
{
	struct acks	*a = arg;

	if (a->n < 16)
		a->tags[a->n++] = tag;
}

static void
track(struct sm *sm, const char *kind, const char *text, uint64_t tag)
{
	sm_track(sm, kind, text, strlen(text), tag);
}

static void
tracking(void)
{
	struct sm	sm;

	sm_init(&sm);
	sm.enabled = 1;
	is_int(sm_track(&sm, "message", "<message/>", 10, 0), SM_SEND_R,
	    "a message asks for an ack");
	is_int(sm_track(&sm, "presence", "<presence/>", 11, 0), SM_SEND_R,
	    "so does a presence");
	is_int(sm_track(&sm, "iq", "<iq/>", 5, 0), 0,
	    "an iq does not (its answer comes anyway)");
	is_int(sm_track(&sm, NULL, "<message/>", 10, 0), 0,
	    "a resent message: no <r/> of its own");
	is_int(sm.n, 4, "four queued");
	is_int(sm.bytes, 36, "their bytes counted");
	ok(TAILQ_FIRST(&sm.unacked)->is_message, "the first is a message");
	sm_free(&sm);
}

static void
acks(void)
{
	struct sm	sm;
	struct acks	a = { { 0 }, 0 };

	sm_init(&sm);
	sm.enabled = 1;
	track(&sm, "message", "<m1/>", 0);
	track(&sm, "message", "<m2/>", 7);
	track(&sm, "message", "<m3/>", 9);
	is_int(sm_ack(&sm, "1", on_acked, &a), 0, "h=1 accepted");
	is_int(sm.n, 2, "one dropped");
	is_int(a.n, 0, "an untagged stanza tells nobody");
	is_int(sm_ack(&sm, "3", on_acked, &a), 0, "h=3 accepted");
	is_int(sm.n, 0, "all dropped");
	ok(a.n == 2 && a.tags[0] == 7 && a.tags[1] == 9,
	    "acked() for each tag, in order");
	is_int(sm_ack(&sm, "3", on_acked, &a), 0, "the same h again: nothing");
	is_int(sm_ack(&sm, "4", on_acked, &a), -1,
	    "acking one more than sent is refused");
	is_int(sm_ack(&sm, "x", on_acked, &a), -1, "not a number");
	is_int(sm_ack(&sm, NULL, on_acked, &a), -1, "no h");
	is_int(sm_ack(&sm, "4294967296", on_acked, &a), -1, "beyond 2^32");
	/* The counter wraps at 2^32. */
	sm.h_acked = 4294967295u;
	track(&sm, "message", "<m4/>", 0);
	track(&sm, "message", "<m5/>", 0);
	is_int(sm_ack(&sm, "1", on_acked, &a), 0, "h wraps past 2^32");
	is_int(sm.n, 0, "both dropped across the wrap");
	sm_free(&sm);
}

static void
bounds(void)
{
	struct sm	sm;
	int		i, r = 0;
	char		big[600];

	sm_init(&sm);
	sm.enabled = 1;
	track(&sm, "message", "<tagged/>", 42);
	for (i = 1; i < SM_MAX_UNACKED; i++)
		track(&sm, "message", "<m/>", 0);
	ok(sm_full(&sm), "full at %d stanzas", SM_MAX_UNACKED);
	r = sm_track(&sm, "message", "<m/>", 4, 0);
	ok((r & SM_DROPPED) && (r & SM_DROPPED_TAG),
	    "one more drops the oldest, and says it was a service's");
	is_int(sm.n, SM_MAX_UNACKED, "the count stays bounded");
	is_int(sm.h_acked, 1, "the dropped one counts as handled");
	sm_forget(&sm, 0);
	sm.enabled = 1;
	memset(big, 'x', sizeof(big));
	r = 0;
	for (i = 0; i < 2000; i++)
		r |= sm_track(&sm, "message", big, sizeof(big), 0);
	ok(r & SM_DROPPED, "bytes are bounded too");
	ok(sm.bytes <= SM_MAX_BYTES, "at most %d bytes kept (%zu)",
	    SM_MAX_BYTES, sm.bytes);
	sm_free(&sm);
}

static void
enabled_and_lost(void)
{
	struct sm	sm;

	sm_init(&sm);
	sm.enabled = 1;
	sm_enabled(&sm, "false", "id1", "60", "bot@example.org/r");
	ok(!sm.resumable, "resume=false: not resumable");
	sm_enabled(&sm, "true", NULL, "60", "bot@example.org/r");
	ok(!sm.resumable, "no id: not resumable");
	sm_enabled(&sm, "true", "id1", "junk", "bot@example.org/r");
	ok(sm.resumable && sm.max == SM_DEFAULT_MAX,
	    "a bad max falls back to %d", SM_DEFAULT_MAX);
	sm_enabled(&sm, "1", "id2", "60", "bot@example.org/r");
	ok(sm.resumable && sm.max == 60 && strcmp(sm.id, "id2") == 0,
	    "resume=1 with id and max");
	is_str(sm.jid, "bot@example.org/r", "the bound JID is kept");
	ok(!sm_can_resume(&sm, 1000), "not lost: nothing to resume");
	sm_lost(&sm, 1000);
	ok(!sm.enabled, "lost: no longer counting");
	ok(sm_can_resume(&sm, 1059), "59 s later: resumable");
	ok(!sm_can_resume(&sm, 1060), "60 s later: the server gave up");
	sm_lost(&sm, 2000);
	is_int(sm.lost_at, 1000, "a second loss keeps the first time");
	sm_free(&sm);
}

static void
resumption(void)
{
	struct sm	 sm;
	struct sm_item	*it;
	struct acks	 a = { { 0 }, 0 };
	size_t		 dropped;

	sm_init(&sm);
	sm.enabled = 1;
	track(&sm, "message", "<a/>", 0);
	track(&sm, "message", "<b/>", 5);
	track(&sm, "message", "<c/>", 0);
	sm.resumable = 1;
	sm.id = strdup("id");
	sm_lost(&sm, 100);
	is_int(sm_resumed(&sm, "9", on_acked, &a, &dropped), -1,
	    "resumed with an h beyond what was sent: refused");
	is_int(sm_resumed(&sm, "2", on_acked, &a, &dropped), 0,
	    "resumed with h=2");
	ok(a.n == 1 && a.tags[0] == 5, "the tagged one the server had: acked");
	is_int(sm.n, 1, "one left to resend");
	it = TAILQ_FIRST(&sm.unacked);
	ok(it != NULL && strcmp(it->data, "<c/>") == 0, "the right one");
	ok(sm.enabled && sm.resumed && sm.lost_at == 0 && sm.resumptions == 1,
	    "counting again, resumed, one resumption");
	is_int(dropped, 0, "nothing void");
	sm_free(&sm);
}

static void
fresh_session(void)
{
	struct sm	 sm;
	struct sm_items	 resend;
	struct sm_item	*it;
	int		 n = 0;

	sm_init(&sm);
	sm.enabled = 1;
	track(&sm, "message", "<m1/>", 0);
	track(&sm, "presence", "<p/>", 0);
	track(&sm, "message", "<svc/>", 3);
	track(&sm, "iq", "<iq/>", 0);
	track(&sm, "message", "<m2/>", 0);
	sm_restart(&sm, &resend);
	TAILQ_FOREACH(it, &resend, entry)
		n++;
	is_int(n, 2, "a fresh session resends the untagged messages only");
	it = TAILQ_FIRST(&resend);
	ok(strcmp(it->data, "<m1/>") == 0 &&
	    strcmp(TAILQ_NEXT(it, entry)->data, "<m2/>") == 0, "in order");
	ok(sm.n == 0 && sm.bytes == 0 && !sm.enabled && sm.id == NULL,
	    "the old session is forgotten");
	while ((it = TAILQ_FIRST(&resend)) != NULL) {
		TAILQ_REMOVE(&resend, it, entry);
		free(it);
	}
	sm_free(&sm);
}

/* A stanza with a password: counted, never kept, resent or saved. */
static void
secrets(void)
{
	struct sm	 sm;
	struct sm_items	 resend;
	struct sm_item	*it;
	char		*buf = NULL;
	size_t		 len = 0, dropped;
	FILE		*f;

	sm_init(&sm);
	sm.enabled = 1;
	sm_enabled(&sm, "true", "s", "300", "bot@example.org/r");
	track(&sm, "message", "<m1/>", 0);
	is_int(sm_track_secret(&sm, "iq"), 0, "a secret iq: no <r/> either");
	track(&sm, "message", "<m2/>", 0);
	is_int(sm.n, 3, "it is counted");
	it = TAILQ_NEXT(TAILQ_FIRST(&sm.unacked), entry);
	ok(it->void_tag && strstr(it->data, "secret") != NULL,
	    "a placeholder is kept, never resent");
	f = open_memstream(&buf, &len);
	sm_save(&sm, f, 1000);
	fclose(f);
	ok(strstr(buf, "stanza 27 2\n<!-- not kept: a secret -->\n") != NULL,
	    "the file holds the placeholder, as not to resend");
	free(buf);
	sm.resumable = 1;
	sm_lost(&sm, 1000);
	is_int(sm_resumed(&sm, "1", NULL, NULL, &dropped), 0, "resumed");
	is_int(dropped, 1, "the secret is not resent");
	ok(sm.n == 1 && strcmp(TAILQ_FIRST(&sm.unacked)->data, "<m2/>") == 0,
	    "the message after it is");
	sm_restart(&sm, &resend);
	while ((it = TAILQ_FIRST(&resend)) != NULL) {
		TAILQ_REMOVE(&resend, it, entry);
		free(it);
	}
	sm_free(&sm);
}

static void
saved_file(void)
{
	struct sm	 sm, back;
	struct acks	 a = { { 0 }, 0 };
	struct sm_item	*it;
	const char	*why;
	size_t		 dropped;
	char		*buf = NULL;
	size_t		 len = 0;
	FILE		*f;

	sm_init(&sm);
	sm.enabled = 1;
	sm_enabled(&sm, "true", "sess-1", "300", "bot@example.org/r");
	track(&sm, "message", "<m1/>", 0);
	track(&sm, "message", "<svc1/>", 11);
	track(&sm, "message", "<m2\n/>", 0);
	track(&sm, "message", "<svc2/>", 12);
	sm.h_in = 17;
	sm_ack(&sm, "1", on_acked, &a);
	f = open_memstream(&buf, &len);
	sm_save(&sm, f, 1000);
	fclose(f);
	ok(strstr(buf, "stanza 7 2\n<svc1/>\n") != NULL,
	    "a service's stanza is written as kind 2");
	ok(strstr(buf, "h 17 4 1\n") != NULL,
	    "counters: handled, sent, acked");

	sm_init(&back);
	f = fmemopen(buf, len, "r");
	is_int(sm_load(&back, f, "bot@example.org", 1100, &why), 0,
	    "loaded back");
	fclose(f);
	ok(back.resumable && strcmp(back.id, "sess-1") == 0 &&
	    back.h_in == 17 && back.h_acked == 1 && back.n == 3 &&
	    back.lost_at == 1000, "id, counters, queue and time as saved");
	it = TAILQ_NEXT(TAILQ_FIRST(&back.unacked), entry);
	ok(strcmp(it->data, "<m2\n/>") == 0, "a stanza with a newline");
	it = TAILQ_FIRST(&back.unacked);
	ok(it->void_tag && it->tag == 0, "the service's: void, no tag");
	a.n = 0;
	is_int(sm_resumed(&back, "2", on_acked, &a, &dropped), 0,
	    "resumed after the restart, h=2");
	is_int(a.n, 0, "no acked() for a stanza of the previous process");
	is_int(dropped, 1, "the unreceived service stanza is left to it");
	is_int(back.n, 1, "one stanza to resend");
	ok(strcmp(TAILQ_FIRST(&back.unacked)->data, "<m2\n/>") == 0,
	    "the untagged one");
	sm_free(&back);

	sm_init(&back);
	f = fmemopen(buf, len, "r");
	is_int(sm_load(&back, f, "eve@example.org", 1100, &why), -1,
	    "another account's file is refused");
	is_str(why, "it belongs to another account", "... and says so");
	fclose(f);
	f = fmemopen(buf, len, "r");
	is_int(sm_load(&back, f, "bot@example.org", 1300, &why), -1,
	    "too old for the server's max");
	fclose(f);
	buf[len - 3] = 'X';
	memmove(buf + len - 10, "stanza 99", 9);
	f = fmemopen(buf, len, "r");
	is_int(sm_load(&back, f, "bot@example.org", 1100, &why), -1,
	    "a damaged queue is refused");
	is_int(back.n, 0, "and nothing of it kept");
	fclose(f);
	sm_free(&back);
	sm_free(&sm);
	free(buf);
}

int
main(void)
{
	tracking();
	acks();
	bounds();
	enabled_and_lost();
	resumption();
	fresh_session();
	secrets();
	saved_file();
	return done_testing();
}
