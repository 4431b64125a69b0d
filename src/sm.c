/*
 * sm.c: XEP-0198 bookkeeping.  It owns the counters, the queue of
 * unacknowledged stanzas (bounded) and the saved-session format; the
 * connection owns the wire and does what these functions say.
 */
#include "compat.h"

#include <stdlib.h>
#include <string.h>

#include "sm.h"
#include "util.h"
#include "xmalloc.h"

#define SM_STATE_MAGIC	"xmppd-sm 1"

void
sm_init(struct sm *sm)
{
	memset(sm, 0, sizeof(*sm));
	TAILQ_INIT(&sm->unacked);
}

static void
sm_drop_first(struct sm *sm)
{
	struct sm_item	*it = TAILQ_FIRST(&sm->unacked);

	TAILQ_REMOVE(&sm->unacked, it, entry);
	sm->n--;
	sm->bytes -= it->len;
	free(it);
}

void
sm_free(struct sm *sm)
{
	sm_forget(sm, 0);
	free(sm->jid);
	sm->jid = NULL;
}

int
sm_full(const struct sm *sm)
{
	return sm->enabled && sm->n >= SM_MAX_UNACKED;
}

int
sm_track(struct sm *sm, const char *kind, const char *data, size_t len,
    uint64_t tag)
{
	struct sm_item	*it;
	int		 r = 0;

	it = xmalloc(sizeof(*it) + len + 1);
	it->len = len;
	it->is_message = kind == NULL || strcmp(kind, "message") == 0;
	it->tag = tag;
	it->void_tag = 0;
	memcpy(it->data, data, len);
	it->data[len] = '\0';
	TAILQ_INSERT_TAIL(&sm->unacked, it, entry);
	sm->n++;
	sm->bytes += len;
	while (sm->n > SM_MAX_UNACKED || sm->bytes > SM_MAX_BYTES) {
		/* Bounded memory: the oldest counts as handled. */
		it = TAILQ_FIRST(&sm->unacked);
		r |= SM_DROPPED | (it->tag != 0 ? SM_DROPPED_TAG : 0);
		sm_drop_first(sm);
		sm->h_acked++;
	}
	if (kind != NULL && strcmp(kind, "iq") != 0)
		r |= SM_SEND_R;
	return r;
}

int
sm_track_secret(struct sm *sm, const char *kind)
{
	static const char	 placeholder[] = "<!-- not kept: a secret -->";
	int			 r;

	r = sm_track(sm, kind, placeholder, sizeof(placeholder) - 1, 0);
	TAILQ_LAST(&sm->unacked, sm_items)->void_tag = 1;
	return r;
}

int
sm_ack(struct sm *sm, const char *hs, sm_acked_cb acked, void *arg)
{
	const char	*errstr;
	struct sm_item	*it;
	uint32_t	 h, n;
	uint64_t	 tag;

	h = (uint32_t)xstrtonum(hs ? hs : "", 0, UINT32_MAX, &errstr);
	if (errstr != NULL)
		return -1;
	n = h - sm->h_acked;		/* wraps as the XEP says */
	if (n > sm->n)
		return -1;
	sm->h_acked = h;
	while (n-- > 0) {
		it = TAILQ_FIRST(&sm->unacked);
		tag = it->void_tag ? 0 : it->tag;
		sm_drop_first(sm);
		/* After the queue is consistent: acked() may send. */
		if (tag != 0 && acked != NULL)
			acked(arg, tag);
	}
	return 0;
}

void
sm_received(struct sm *sm)
{
	if (sm->enabled)
		sm->h_in++;
}

void
sm_enabled(struct sm *sm, const char *resume, const char *id,
    const char *max, const char *jid)
{
	const char	*errstr;

	if (resume == NULL || (strcmp(resume, "true") != 0 &&
	    strcmp(resume, "1") != 0) || id == NULL)
		return;
	sm->resumable = 1;
	free(sm->id);
	sm->id = xstrndup(id, 1024);
	sm->max = SM_DEFAULT_MAX;
	if (max != NULL) {
		sm->max = (unsigned int)xstrtonum(max, 0, 86400, &errstr);
		if (errstr != NULL)
			sm->max = SM_DEFAULT_MAX;
	}
	free(sm->jid);
	sm->jid = xstrdup(jid);
}

void
sm_lost(struct sm *sm, time_t now)
{
	if (sm->enabled && sm->resumable && sm->lost_at == 0)
		sm->lost_at = now;
	sm->enabled = 0;
}

int
sm_can_resume(const struct sm *sm, time_t now)
{
	return sm->resumable && sm->id != NULL && sm->lost_at != 0 &&
	    now - sm->lost_at < (time_t)sm->max;
}

void
sm_forget(struct sm *sm, int keep_queue)
{
	if (!keep_queue)
		while (!TAILQ_EMPTY(&sm->unacked))
			sm_drop_first(sm);
	if (!keep_queue || TAILQ_EMPTY(&sm->unacked)) {
		sm->n = 0;
		sm->bytes = 0;
	}
	free(sm->id);
	sm->id = NULL;
	sm->enabled = sm->resumable = sm->resumed = 0;
	sm->lost_at = 0;
	sm->h_in = sm->h_acked = 0;
}

int
sm_resumed(struct sm *sm, const char *h, sm_acked_cb acked, void *arg,
    size_t *dropped)
{
	struct sm_item	*it, *next;

	*dropped = 0;
	if (sm_ack(sm, h, acked, arg) == -1)
		return -1;
	TAILQ_FOREACH_SAFE(it, &sm->unacked, entry, next)
		if (it->void_tag) {
			TAILQ_REMOVE(&sm->unacked, it, entry);
			sm->n--;
			sm->bytes -= it->len;
			free(it);
			(*dropped)++;
		}
	sm->enabled = 1;
	sm->resumed = 1;
	sm->lost_at = 0;
	sm->resumptions++;
	return 0;
}

void
sm_restart(struct sm *sm, struct sm_items *resend)
{
	struct sm_item	*it;

	TAILQ_INIT(resend);
	while ((it = TAILQ_FIRST(&sm->unacked)) != NULL) {
		TAILQ_REMOVE(&sm->unacked, it, entry);
		if (it->is_message && it->tag == 0 && !it->void_tag)
			TAILQ_INSERT_TAIL(resend, it, entry);
		else
			free(it);
	}
	sm->n = sm->bytes = 0;
	sm_forget(sm, 0);
}

void
sm_save(const struct sm *sm, FILE *f, time_t now)
{
	struct sm_item	*it;

	/* The middle counter, stanzas sent, is h_acked + n. */
	fprintf(f, SM_STATE_MAGIC "\njid %s\nid %s\nmax %u\nsaved %lld\n"
	    "h %u %u %u\n", sm->jid, sm->id, sm->max, (long long)now,
	    sm->h_in, sm->h_acked + (uint32_t)sm->n, sm->h_acked);
	TAILQ_FOREACH(it, &sm->unacked, entry) {
		/* 2: a service's, void after the restart (see conn.h). */
		fprintf(f, "stanza %zu %d\n", it->len, it->tag != 0 ||
		    it->void_tag ? 2 : it->is_message);
		fwrite(it->data, 1, it->len, f);
		fputc('\n', f);
	}
}

/* Read the unacked stanzas that follow the header; -1 on any damage. */
static int
sm_load_stanzas(struct sm *sm, FILE *f)
{
	struct sm_item	*it;
	char		 line[64];
	size_t		 len;
	int		 kind;

	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "stanza %zu %d", &len, &kind) != 2 ||
		    kind < 0 || kind > 2 || len == 0 || len > SM_MAX_BYTES ||
		    sm->bytes + len > SM_MAX_BYTES ||
		    sm->n + 1 > SM_MAX_UNACKED)
			return -1;
		it = xmalloc(sizeof(*it) + len + 1);
		it->len = len;
		it->is_message = kind != 0;
		it->tag = 0;
		it->void_tag = kind == 2;
		if (fread(it->data, 1, len, f) != len || fgetc(f) != '\n') {
			free(it);
			return -1;
		}
		it->data[len] = '\0';
		TAILQ_INSERT_TAIL(&sm->unacked, it, entry);
		sm->n++;
		sm->bytes += len;
	}
	return 0;
}

int
sm_load(struct sm *sm, FILE *f, const char *bare, time_t now,
    const char **why)
{
	char		 line[1200], jid[1100], id[1100];
	long long	 saved = 0;
	unsigned int	 max = 0, h[3];
	size_t		 blen = strlen(bare);

	*why = NULL;
	if (fgets(line, sizeof(line), f) == NULL ||
	    strcmp(line, SM_STATE_MAGIC "\n") != 0 ||
	    fscanf(f, "jid %1099s\nid %1099s\nmax %u\nsaved %lld\n"
	    "h %u %u %u\n", jid, id, &max, &saved, &h[0], &h[1], &h[2]) != 7)
		*why = "unreadable";
	else if (strncmp(jid, bare, blen) != 0 || jid[blen] != '/')
		*why = "it belongs to another account";
	else if (saved > (long long)now || max > 86400 ||
	    now - saved >= (time_t)max)
		*why = "the server no longer holds it";
	else if (sm_load_stanzas(sm, f) == -1)
		*why = "damaged";
	if (*why != NULL) {
		sm_forget(sm, 0);
		return -1;
	}
	free(sm->id);
	sm->id = xstrdup(id);
	free(sm->jid);
	sm->jid = xstrdup(jid);
	sm->max = max;
	sm->lost_at = (time_t)saved;
	sm->h_in = h[0];
	sm->h_acked = h[2];
	sm->resumable = 1;
	return 0;
}
