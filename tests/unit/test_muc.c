/*
 * test_muc.c: group chats without a network.  The room lines of
 * xmppd.conf(5) (roomconf.c, through config_parse() as the daemon reads
 * them), and the per-room state machine (room.c) fed with presences
 * parsed from XML text and with a clock the test moves by hand.
 */
#include "compat.h"

#include <sys/stat.h>

#include <malloc.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "room.h"
#include "roomconf.h"
#include "stanza.h"
#include "tap.h"
#include "xml.h"

#define HDR	"jid = bot@example.org\npassword = x\n"

/*
 * Bytes allocated and not freed, from the allocator in use (ASan's when
 * the tests run under it), as test_xml.c measures them.
 */
#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif
#ifdef TEST_ASAN
size_t	__sanitizer_get_current_allocated_bytes(void);

static size_t
heap_in_use(void)
{
	return __sanitizer_get_current_allocated_bytes();
}
#else
static size_t
heap_in_use(void)
{
	return mallinfo2().uordblks;
}
#endif
#define ROOM	"ops@conference.example.org"

static struct stanza	*parsed;

static int
grab(void *arg, struct stanza *s)
{
	(void)arg;
	stanza_free(parsed);
	parsed = s;
	return XML_CONTINUE;
}

/* One stanza from XML text on a client stream. */
static struct stanza *
parse(const char *xml)
{
	static const struct xml_callbacks cb = { NULL, grab, NULL };
	static const char open[] = "<stream:stream xmlns='jabber:client' "
	    "xmlns:stream='http://etherx.jabber.org/streams'>";
	struct xml_parser	*xp;

	stanza_free(parsed);
	parsed = NULL;
	xp = xml_parser_new(&cb, NULL, 65536, 32);
	xml_feed(xp, open, strlen(open), NULL, NULL);
	xml_feed(xp, xml, strlen(xml), NULL, NULL);
	xml_parser_free(xp);
	return parsed;
}

static struct config *
conf(const char *body, char **cause)
{
	char		*buf;
	struct config	*c;

	if (asprintf(&buf, "%s%s", HDR, body) == -1)
		abort();
	c = config_parse("t.conf", buf, strlen(buf), cause);
	free(buf);
	return c;
}

static void
conf_refused(const char *body, const char *want, const char *what)
{
	struct config	*c;
	char		*cause = NULL;

	c = conf(body, &cause);
	ok(c == NULL && cause != NULL && strstr(cause, want) != NULL,
	    "refused: %s (%s)", what, cause ? cause : "accepted");
	config_free(c);
	free(cause);
}

static void
test_config(void)
{
	struct config			*c, *c2;
	const struct roomconf_room	*r;
	char				*cause = NULL, *out = NULL, *out2 = NULL;
	size_t				 len, len2;
	FILE				*f;

	c = conf("room = Ops@Conference.example.org\n"
	    "room = alerts@conference.example.org/alertbot history=20\n"
	    "room = team@conference.example.org nick=\"Deploy Bot\" "
	    "password_credential=team\n"
	    "room = s@conference.example.org password_file=/etc/xmppd/s.pw\n"
	    "room_ping_interval = 120\nroom_ping_timeout = 10\n"
	    "room_invite_from = alice@example.org, example.net\n", &cause);
	ok(c != NULL, "a config with four rooms parses (%s)",
	    cause ? cause : "ok");
	if (c == NULL)
		return;
	is_int(c->rooms->nrooms, 4, "four rooms");
	r = roomconf_find(c->rooms, ROOM);
	ok(r != NULL, "room found case-insensitively");
	is_str(r ? r->nick : NULL, "bot", "default nick: the JID's local part");
	r = roomconf_find(c->rooms, "alerts@conference.example.org");
	is_str(r ? r->nick : NULL, "alertbot", "ROOM/NICK");
	is_int(r ? r->history : 0, 20, "history=20");
	r = roomconf_find(c->rooms, "team@conference.example.org");
	is_str(r ? r->nick : NULL, "Deploy Bot", "quoted nick with a blank");
	is_str(r ? r->password_credential : NULL, "team", "credential");
	r = roomconf_find(c->rooms, "s@conference.example.org");
	is_str(r ? r->password_file : NULL, "/etc/xmppd/s.pw", "password_file");
	is_int(c->rooms->ping_interval, 120, "room_ping_interval");
	ok(roomconf_inviter_allowed(c->rooms, "alice@example.org/phone"),
	    "inviter allowed by bare JID");
	ok(roomconf_inviter_allowed(c->rooms, "carol@Example.NET"),
	    "inviter allowed by domain");
	ok(!roomconf_inviter_allowed(c->rooms, "mallory@example.org"),
	    "other inviter refused");
	ok(!roomconf_inviter_allowed(c->rooms, "example.net.evil.com"),
	    "a longer domain is not the domain");

	f = open_memstream(&out, &len);
	config_print(c, f);
	fclose(f);
	ok(strstr(out, "room = team@conference.example.org "
	    "nick=\"Deploy Bot\" password_credential=team\n") != NULL,
	    "printed back with the nick quoted");
	c2 = config_parse("t.conf", out, len, &cause);
	ok(c2 != NULL, "printed config parses again (%s)",
	    cause ? cause : "ok");
	f = open_memstream(&out2, &len2);
	if (c2 != NULL)
		config_print(c2, f);
	fclose(f);
	ok(len == len2 && memcmp(out, out2, len) == 0, "and prints the same");
	free(out);
	free(out2);
	config_free(c2);
	config_free(c);

	c = conf("nick = Bot Two\nroom = " ROOM "\n", &cause);
	is_str(c && c->rooms ? c->rooms->rooms[0].nick : NULL, "Bot Two",
	    "the nick key is the default nick");
	config_free(c);
	c = conf("log_level = info\n", &cause);
	ok(c != NULL && c->rooms == NULL, "no room keys: no rooms");
	config_free(c);

	conf_refused("room = " ROOM "\nroom = ops@CONFERENCE.example.org\n",
	    "t.conf:4: room: room ops@conference.example.org already "
	    "configured on line 3", "duplicate room, with both lines");
	conf_refused("room = conference.example.org\n", "t.conf:3: room: "
	    "invalid room JID", "room without a local part");
	conf_refused("room = " ROOM " colour=blue\n", "unknown room option "
	    "'colour'", "unknown option");
	conf_refused("room = " ROOM " history=5000\n", "5000 is out of range",
	    "history too large");
	conf_refused("room = " ROOM " password_file=rel/path\n",
	    "not an absolute path", "relative password_file");
	conf_refused("room = " ROOM " password_file=/a password_credential=b\n",
	    "only one password_file", "two password sources");
	conf_refused("room = " ROOM " password_credential=../x\n",
	    "invalid credential name", "credential escaping the directory");
	conf_refused("room = " ROOM " nick=\"a\n", "unterminated quoted",
	    "unterminated quote");
	conf_refused("room = " ROOM " junk\n", "expected NAME=VALUE",
	    "a word that is no option");
	conf_refused("room_ping_interval = 10\nroom_ping_timeout = 10\n",
	    "t.conf:3: room_ping_interval: room_ping_interval (10) must be "
	    "longer", "interval not above the timeout");
	conf_refused("nick = a\nnick = b\n", "t.conf:4: nick: duplicate key",
	    "duplicate nick key");
	conf_refused("room_invite_from = a@b/c\n", "invalid JID 'a@b/c'",
	    "full JID in the allow-list");
	conf_refused("room_max_occupants = 0\n", "out of range",
	    "room_max_occupants 0");
}

static void
test_ref(void)
{
	const char	*err;
	char		*jid, *nick;

	ok(roomconf_parse_ref("Ops@conference.example.org/Deploy Bot", &jid,
	    &nick, &err) == 0, "ROOM/NICK parses");
	is_str(jid, ROOM, "room lowered");
	is_str(nick, "Deploy Bot", "nick kept as given");
	free(jid);
	free(nick);
	ok(roomconf_parse_ref(ROOM, &jid, &nick, &err) == 0 && nick == NULL,
	    "ROOM alone: no nick");
	free(jid);
	ok(roomconf_parse_ref("nodomain", &jid, &nick, &err) == -1 &&
	    strstr(err, "room JID") != NULL, "bad room refused");
	ok(roomconf_parse_ref(ROOM "/", &jid, &nick, &err) == -1 &&
	    strcmp(err, "invalid nick") == 0, "empty nick refused");
}

static void
test_password(void)
{
	struct roomconf_room	 r;
	char			 dir[] = "/tmp/test_muc.XXXXXX", path[256];
	char			*pw, *cause;
	FILE			*f;

	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(path, sizeof(path), "%s/team", dir);
	f = fopen(path, "w");
	fputs("s3cret\n", f);
	fclose(f);
	memset(&r, 0, sizeof(r));
	r.jid = "team@conference.example.org";
	is_int(roomconf_password(&r, &pw, &cause), 0, "no source: no password");
	r.password_file = path;
	is_int(roomconf_password(&r, &pw, &cause), 1, "password_file read");
	is_str(pw, "s3cret", "newline dropped");
	free(pw);
	r.password_file = NULL;
	r.password_credential = "team";
	setenv("CREDENTIALS_DIRECTORY", dir, 1);
	is_int(roomconf_password(&r, &pw, &cause), 1, "credential read");
	is_str(pw, "s3cret", "credential content");
	free(pw);
	r.password_credential = "missing";
	ok(roomconf_password(&r, &pw, &cause) == -1 && cause != NULL &&
	    strstr(cause, "missing") != NULL, "missing credential: error");
	free(cause);
	unsetenv("CREDENTIALS_DIRECTORY");
	ok(roomconf_password(&r, &pw, &cause) == -1 && cause != NULL &&
	    strstr(cause, "CREDENTIALS_DIRECTORY") != NULL,
	    "no credentials directory: error");
	free(cause);
	unlink(path);
	rmdir(dir);
}

/* ---------------------------------------------------------------------- */
/* the state machine */

static const struct room_settings set = {
	.ping_interval_ms = 300000, .join_timeout_ms = 30000,
	.backoff_min_ms = 1000, .backoff_max_ms = 300000,
	.stable_ms = 60000, .max_occupants = 3,
};

/* The top of the jitter window: delays are predictable. */
static uint32_t
top(void *arg)
{
	(void)arg;
	return UINT32_MAX;
}

static struct room *
mkroom(uint64_t now)
{
	struct room	*r = room_new(ROOM, "bot", &set, now);

	r->backoff.rand = top;
	return r;
}

static int
ev(struct room *r, enum room_ev e, uint64_t now)
{
	struct room_input	in = { .ev = e };

	return room_fsm(r, &in, now);
}

static int
pres(struct room *r, const char *xml, uint64_t now)
{
	struct room_presence	p;
	struct room_input	in = { .ev = ROOM_EV_PRESENCE, .pres = &p };

	if (parse(xml) == NULL || room_parse_presence(parsed, r->cur_nick,
	    &p) == -1)
		return -1;
	return room_fsm(r, &in, now);
}

static int
ping_by(struct room *r, enum room_ping o, const char *cond, const char *by,
    uint64_t now)
{
	struct room_input	in = { .ev = ROOM_EV_PING, .ping = o,
	    .condition = cond, .by = by };

	return room_fsm(r, &in, now);
}

static int
ping(struct room *r, enum room_ping o, const char *cond, uint64_t now)
{
	return ping_by(r, o, cond, NULL, now);
}

#define SELF	"<presence from='" ROOM "/bot'><x xmlns='http://jabber.org/" \
		"protocol/muc#user'><item affiliation='none' role='participant'/>" \
		"<status code='110'/></x></presence>"
#define ERR(c)	"<presence from='" ROOM "/bot' type='error'><error type=" \
		"'cancel'><" c " xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>" \
		"</error></presence>"
#define GONE(codes, inner) "<presence from='" ROOM "/bot' type=" \
		"'unavailable'><x xmlns='http://jabber.org/protocol/muc#user'>" \
		inner codes "<status code='110'/></x></presence>"
#define ST(n)	"<status code='" n "'/>"

static struct room *
joined(uint64_t now)
{
	struct room	*r = mkroom(now);

	ev(r, ROOM_EV_ONLINE, now);
	pres(r, SELF, now);
	return r;
}

static void
test_join(void)
{
	struct room	*r = mkroom(0);
	int		 a;

	is_str(room_state_name(r->state), "waiting", "new room waits");
	is_int(r->due_ms, 0, "nothing due while offline");
	a = ev(r, ROOM_EV_ONLINE, 1000);
	ok(a & ROOM_ACT_JOIN, "online: join sent");
	is_str(room_state_name(r->state), "joining", "joining");
	is_int(r->due_ms, 31000, "join timeout armed");
	a = pres(r, SELF, 1500);
	ok(a & ROOM_ACT_CHANGED, "own presence: a change to report");
	is_str(room_state_name(r->state), "joined", "joined");
	is_str(r->reason, "joined as bot", "reason names the nick");
	is_int(r->due_ms, 301500, "self-ping due after the silence interval");
	pres(r, "<presence from='" ROOM "/alice'/>", 2000);
	is_int(r->due_ms, 302000, "activity moves the self-ping");
	is_int(r->nocc, 1, "one other occupant");
	room_free(r);

	/* No answer to the join. */
	r = mkroom(0);
	ev(r, ROOM_EV_ONLINE, 0);
	is_int(ev(r, ROOM_EV_TIMER, 29999), 0, "timer before due: nothing");
	a = ev(r, ROOM_EV_TIMER, 30000);
	is_str(room_state_name(r->state), "waiting", "join timeout: waiting");
	ok(strstr(r->reason, "no answer to the join") != NULL, "reason: %s",
	    r->reason);
	is_int(r->due_ms, 31000, "retry after the backoff");
	a = ev(r, ROOM_EV_TIMER, 31000);
	ok(a & ROOM_ACT_JOIN, "backoff over: join again");
	room_free(r);
}

static void
test_conflict(void)
{
	struct room	*r = mkroom(0);
	char		*n;
	int		 i, a = 0;

	n = room_try_nick("bot", 0);
	is_str(n, "bot", "try 0: the nick");
	free(n);
	n = room_try_nick("bot", 2);
	is_str(n, "bot_3", "try 2: bot_3");
	free(n);
	ev(r, ROOM_EV_ONLINE, 0);
	for (i = 1; i < ROOM_NICK_TRIES; i++) {
		a = pres(r, ERR("conflict"), 10 * i);
		if (!(a & ROOM_ACT_JOIN))
			break;
	}
	is_int(i, ROOM_NICK_TRIES, "409: a join per suffixed nick");
	is_str(r->cur_nick, "bot_5", "last try bot_5");
	pres(r, "<presence from='" ROOM "/bot_5'><x xmlns='http://jabber.org/"
	    "protocol/muc#user'><status code='110'/></x></presence>", 100);
	is_str(room_state_name(r->state), "joined", "joined as bot_5");
	room_free(r);

	r = mkroom(0);
	ev(r, ROOM_EV_ONLINE, 0);
	for (i = 0; i < ROOM_NICK_TRIES; i++)
		a = pres(r, ERR("conflict"), 10);
	ok(!(a & ROOM_ACT_JOIN), "all nicks taken: no more joins now");
	is_str(room_state_name(r->state), "waiting", "waiting");
	ok(r->due_ms > 10, "retry later");
	a = ev(r, ROOM_EV_TIMER, r->due_ms);
	ok((a & ROOM_ACT_JOIN) && strcmp(r->cur_nick, "bot") == 0,
	    "the retry starts from the nick again");
	room_free(r);
}

static void
refusal(const char *cond, const char *state, const char *words)
{
	struct room	*r = mkroom(0);
	char		 xml[512];
	int		 a;

	ev(r, ROOM_EV_ONLINE, 0);
	snprintf(xml, sizeof(xml), ERR("%s"), cond);
	a = pres(r, xml, 5);
	is_str(room_state_name(r->state), state, "%s: %s", cond, state);
	ok(strstr(r->reason, words) != NULL && strstr(r->reason, cond) != NULL,
	    "%s: reason '%s'", cond, r->reason);
	ok(!(a & ROOM_ACT_JOIN), "%s: no join at once", cond);
	if (strcmp(state, "failed") == 0) {
		is_int(r->due_ms, 0, "%s: no retry scheduled", cond);
		is_int(ev(r, ROOM_EV_ONLINE, 100), 0,
		    "%s: not even after a reconnect", cond);
		ok(ev(r, ROOM_EV_JOIN, 200) & ROOM_ACT_JOIN,
		    "%s: an explicit join tries again", cond);
	} else
		ok(r->due_ms > 5, "%s: retried with backoff", cond);
	room_free(r);
}

static void
test_refusals(void)
{
	refusal("not-authorized", "failed", "password");
	refusal("registration-required", "failed", "members-only");
	refusal("forbidden", "failed", "banned");
	refusal("item-not-found", "waiting", "does not exist");
	refusal("service-unavailable", "waiting", "full");
	refusal("undefined-condition", "failed", "refused");
}

static void
test_put_out(void)
{
	struct room	*r;
	uint64_t	 due;
	int		 a;

	r = joined(0);
	a = pres(r, GONE(ST("307"), "<item role='none'><actor nick='mod'/>"
	    "<reason>spam</reason></item>"), 10);
	is_str(room_state_name(r->state), "waiting", "kicked: waiting");
	is_str(r->last_error, "kicked by mod: spam", "kick reason");
	ok(!(a & ROOM_ACT_JOIN) && r->due_ms > 10, "rejoin after a backoff");
	due = r->due_ms;
	ok(ev(r, ROOM_EV_TIMER, due) & ROOM_ACT_JOIN, "then rejoins");
	pres(r, SELF, due + 1);
	pres(r, GONE(ST("307"), ""), due + 2);
	ok(r->due_ms - (due + 2) > due - 10, "kicked again at once: "
	    "a longer backoff (%llu)", (unsigned long long)(r->due_ms - due));
	ev(r, ROOM_EV_TIMER, r->due_ms);
	pres(r, SELF, r->due_ms + 0);
	due = r->activity_ms;
	pres(r, GONE(ST("307"), ""), due + set.stable_ms);
	is_int(r->due_ms - (due + set.stable_ms), 1000,
	    "kicked after a stable stay: the backoff starts over");
	room_free(r);

	r = joined(0);
	a = pres(r, GONE(ST("301"), "<item affiliation='outcast'/>"), 10);
	is_str(room_state_name(r->state), "failed", "banned: failed");
	ok(strstr(r->reason, "banned") != NULL, "reason %s", r->reason);
	is_int(r->due_ms, 0, "banned: no retry");
	is_int(ev(r, ROOM_EV_ONLINE, 20), 0, "banned: no join on online");
	room_free(r);

	r = joined(0);
	pres(r, "<presence from='" ROOM "/bot' type='unavailable'><x xmlns="
	    "'http://jabber.org/protocol/muc#user'><item role='none'/>"
	    "<destroy jid='new@conference.example.org'><reason>moved"
	    "</reason></destroy></x></presence>", 10);
	is_str(room_state_name(r->state), "failed", "destroyed: failed");
	is_str(r->reason, "room destroyed, moved to new@conference.example.org"
	    ": moved", "destroyed with the alternate venue");
	room_free(r);

	r = joined(0);
	pres(r, "<presence from='" ROOM "/bot' type='unavailable'><x xmlns="
	    "'http://jabber.org/protocol/muc#user'><destroy/></x></presence>",
	    10);
	is_str(r->reason, "room destroyed", "destroyed without a venue");
	room_free(r);

	r = joined(0);
	pres(r, GONE(ST("332"), ""), 10);
	is_str(room_state_name(r->state), "waiting", "332: waiting");
	ok(strstr(r->reason, "shutting down") != NULL && r->due_ms > 10,
	    "332: rejoin with backoff");
	room_free(r);

	r = joined(0);
	pres(r, GONE(ST("322"), ""), 10);
	is_str(room_state_name(r->state), "failed", "322: failed");
	room_free(r);

	r = joined(0);
	pres(r, GONE(ST("303"), "<item nick='bot2'/>"), 10);
	is_str(room_state_name(r->state), "joined", "303: still joined");
	is_str(r->cur_nick, "bot2", "303: new nick");
	room_free(r);
}

static void
test_selfping(void)
{
	struct room	*r;
	uint64_t	 t;
	int		 a;

	r = joined(0);
	t = r->due_ms;
	is_int(t, 300000, "self-ping due after the interval of silence");
	a = ev(r, ROOM_EV_TIMER, t);
	ok(a & ROOM_ACT_PING, "silence: self-ping");
	is_int(r->due_ms, 0, "nothing else due while it is out");
	a = ping(r, ROOM_PING_RESULT, NULL, t + 50);
	is_str(room_state_name(r->state), "joined", "result: joined");
	is_int(r->due_ms, t + 50 + 300000, "next self-ping after the interval");

	ev(r, ROOM_EV_TIMER, r->due_ms);
	a = ping(r, ROOM_PING_ERROR, "service-unavailable", 700000);
	ok(!(a & ROOM_ACT_JOIN) && r->state == ROOM_JOINED,
	    "service-unavailable: still joined");
	ev(r, ROOM_EV_TIMER, r->due_ms);
	a = ping(r, ROOM_PING_ERROR, "feature-not-implemented", 1100000);
	ok(!(a & ROOM_ACT_JOIN) && r->state == ROOM_JOINED,
	    "feature-not-implemented: still joined");
	ev(r, ROOM_EV_TIMER, r->due_ms);
	a = ping(r, ROOM_PING_ERROR, "remote-server-timeout", 1500000);
	ok(!(a & ROOM_ACT_JOIN) && r->due_ms == 1800000,
	    "remote-server-timeout: no decision, ask again later");
	t = r->due_ms;
	ev(r, ROOM_EV_TIMER, t);
	a = ping_by(r, ROOM_PING_ERROR, "item-not-found", ROOM, t + 10);
	ok(!(a & ROOM_ACT_JOIN) && r->state == ROOM_JOINED,
	    "item-not-found from the room (a nick change): still joined");
	t = r->due_ms;
	ev(r, ROOM_EV_TIMER, t);
	a = ping(r, ROOM_PING_ERROR, "item-not-found", t + 10);
	ok(!(a & ROOM_ACT_JOIN) && r->state == ROOM_JOINED,
	    "item-not-found without by: still joined (as the XEP says)");
	t = r->due_ms;
	ev(r, ROOM_EV_TIMER, t);
	a = ping_by(r, ROOM_PING_ERROR, "item-not-found", "conference.example.org",
	    t + 10);
	ok(a & ROOM_ACT_JOIN, "item-not-found from the service: the room is "
	    "gone, rejoin");
	ok(strstr(r->last_error, "the room is gone") != NULL, "last error %s",
	    r->last_error);
	pres(r, SELF, t + 20);
	t = r->due_ms;
	ev(r, ROOM_EV_TIMER, t);
	a = ping(r, ROOM_PING_ERROR, "not-acceptable", t + 10);
	ok(a & ROOM_ACT_JOIN, "not-acceptable: rejoin");
	is_str(room_state_name(r->state), "joining", "joining again");
	ok(strstr(r->last_error, "not-acceptable") != NULL, "last error %s",
	    r->last_error);
	pres(r, SELF, t + 20);
	ev(r, ROOM_EV_TIMER, r->due_ms);
	a = ping(r, ROOM_PING_TIMEOUT, NULL, r->activity_ms + 330000);
	ok(a & ROOM_ACT_JOIN, "no answer: rejoin");
	is_int(ping(r, ROOM_PING_RESULT, NULL, 1), 0, "late answer ignored");
	room_free(r);

	/* Activity while the ping is out does not start a second one. */
	r = joined(0);
	ev(r, ROOM_EV_TIMER, r->due_ms);
	ev(r, ROOM_EV_ACTIVITY, 300010);
	is_int(r->due_ms, 0, "no second ping while one is out");
	room_free(r);

	r = mkroom(0);
	r->set = &(struct room_settings){ .ping_interval_ms = 0,
	    .join_timeout_ms = 1000, .backoff_min_ms = 1,
	    .backoff_max_ms = 2, .max_occupants = 1 };
	ev(r, ROOM_EV_ONLINE, 0);
	pres(r, SELF, 1);
	is_int(r->due_ms, 0, "interval 0: no self-ping, nothing due");
	room_free(r);
}

static void
test_link(void)
{
	struct room		*r;
	struct room_input	 off = { .ev = ROOM_EV_OFFLINE, .resumable = 1 };
	int			 a;

	r = joined(0);
	a = room_fsm(r, &off, 100);
	ok(!(a & ROOM_ACT_CHANGED) && r->state == ROOM_JOINED,
	    "resumable link loss: still joined");
	is_int(r->due_ms, 0, "no self-ping while the stream is away");
	a = ev(r, ROOM_EV_RESUMED, 200);
	ok(!(a & ROOM_ACT_JOIN) && r->state == ROOM_JOINED,
	    "resumed: no rejoin");
	is_int(r->due_ms, 200 + 300000, "self-ping armed again");
	off.resumable = 0;
	a = room_fsm(r, &off, 300);
	ok((a & ROOM_ACT_CHANGED) && r->state == ROOM_WAITING,
	    "stream lost for good: waiting");
	is_str(r->reason, "account offline", "reason: account offline");
	is_int(r->due_ms, 0, "nothing due while offline");
	ok(ev(r, ROOM_EV_ONLINE, 400) & ROOM_ACT_JOIN, "online: join again");
	room_free(r);

	/* Resumed, but the room was not joined before: join it now. */
	r = mkroom(0);
	ok(ev(r, ROOM_EV_RESUMED, 10) & ROOM_ACT_JOIN,
	    "resumed with a room never joined: join");
	room_free(r);

	/* A join asked for while offline waits for the stream. */
	r = mkroom(0);
	a = ev(r, ROOM_EV_JOIN, 10);
	ok(!(a & ROOM_ACT_JOIN) && r->state == ROOM_WAITING,
	    "join while offline: waits");
	room_free(r);
}

static void
test_occupants(void)
{
	struct room	*r = joined(0);
	char		 xml[256];
	int		 i;

	for (i = 0; i < 10; i++) {
		snprintf(xml, sizeof(xml), "<presence from='" ROOM "/u%d'/>",
		    i);
		pres(r, xml, 10);
	}
	is_int(r->nocc, 3, "occupants capped at max_occupants");
	ok(r->occ_overflow, "overflow noted");
	pres(r, "<presence from='" ROOM "/u0' type='unavailable'/>", 20);
	is_int(r->nocc, 2, "a leave removes the nick");
	pres(r, "<presence from='" ROOM "/u1'/>", 30);
	is_int(r->nocc, 2, "a presence update is not a second occupant");
	ev(r, ROOM_EV_OFFLINE, 40);
	is_int(r->nocc, 0, "offline forgets them");
	room_free(r);

	/* A nick longer than a resourcepart may be is not kept. */
	r = joined(0);
	{
		char	*big = malloc(2001), *x;

		memset(big, 'n', 2000);
		big[2000] = '\0';
		if (asprintf(&x, "<presence from='" ROOM "/%s'/>", big) == -1)
			abort();
		pres(r, x, 10);
		is_int(r->nocc, 0, "a 2000-byte nick is not tracked");
		ok(r->occ_overflow, "but counted as more");
		free(x);
		free(big);
	}
	room_free(r);
}

static void
test_parse(void)
{
	struct room_presence	p;

	ok(parse(ERR("conflict")) != NULL, "parsed");
	room_parse_presence(parsed, "bot", &p);
	is_int(p.kind, ROOM_PRES_ERROR, "error presence");
	is_str(p.condition, "conflict", "condition");
	parse("<presence from='" ROOM "/x' type='error'><error type='auth'>"
	    "<not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
	    "<text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>wrong</text>"
	    "</error></presence>");
	room_parse_presence(parsed, "bot", &p);
	is_str(p.text, "wrong", "error text");
	parse("<presence from='" ROOM "/alice' type='unavailable'><x xmlns="
	    "'http://jabber.org/protocol/muc#user'><status code='307'/></x>"
	    "</presence>");
	room_parse_presence(parsed, "bot", &p);
	is_int(p.kind, ROOM_PRES_OCCUPANT, "someone else kicked: occupant");
	ok(p.unavailable && (p.codes & ROOM_ST_307), "with its code");
	parse("<message from='" ROOM "'/>");
	is_int(room_parse_presence(parsed, "bot", &p), -1, "not a presence");
	ok(room_condition_transient("service-unavailable") &&
	    !room_condition_transient("forbidden") &&
	    !room_condition_transient(NULL), "transient conditions");
}

/* What a room costs: 100 occupants within 16 KiB; a flood is bounded. */
static void
test_memory(void)
{
	static const struct room_settings big = {
		.ping_interval_ms = 300000, .join_timeout_ms = 30000,
		.backoff_min_ms = 1000, .backoff_max_ms = 300000,
		.stable_ms = 60000, .max_occupants = 1000,
	};
	struct room_presence	 p;
	struct room_input	 in = { .ev = ROOM_EV_PRESENCE, .pres = &p };
	struct room		*r;
	char			 nick[128];
	size_t			 before, after;
	int			 i;

	memset(&p, 0, sizeof(p));
	p.kind = ROOM_PRES_OCCUPANT;
	p.nick = nick;
	before = heap_in_use();
	r = room_new(ROOM, "bot", &big, 0);
	ev(r, ROOM_EV_ONLINE, 0);
	for (i = 0; i < 100; i++) {
		snprintf(nick, sizeof(nick), "occupant-%02d", i);
		room_fsm(r, &in, 1);
	}
	after = heap_in_use();
	is_int(r->nocc, 100, "100 occupants tracked");
	ok(after - before <= 16384, "a room of 100 occupants: %zu bytes "
	    "(goal: 16 KiB)", after - before);
	diag("a room with 100 occupants: %zu bytes", after - before);
	/* 5000 joins of 100-byte nicks: only max_occupants are kept. */
	for (i = 0; i < 5000; i++) {
		snprintf(nick, sizeof(nick), "%0100d", i);
		room_fsm(r, &in, 2);
	}
	after = heap_in_use();
	is_int(r->nocc, 1000, "a flood: 1000 tracked");
	ok(after - before <= 1000 * (100 + 64) + 16384, "a flood of 5000 "
	    "occupants: %zu bytes", after - before);
	room_free(r);
}

int
main(void)
{
	test_config();
	test_ref();
	test_password();
	test_parse();
	test_join();
	test_conflict();
	test_refusals();
	test_put_out();
	test_selfping();
	test_link();
	test_occupants();
	test_memory();
	stanza_free(parsed);
	return done_testing();
}
