/*
 * xml-throughput.c: how many stanzas per second xmppd's stream parser
 * (src/xml.c on expat) and stanza tree (src/stanza.c) take on one core,
 * fed from memory, with a dispatcher that looks at each stanza the way
 * conn_stanza_online() does (name, type, from, id, body/show/status/first
 * child), then frees it.  Linked against the daemon's libxmppd.a; no
 * daemon code is changed.
 *
 *	xml-throughput [-n STANZAS] [-r REPEATS] [-c CHUNK] [-q]
 *
 * The input is a client stream header followed by a mix of typical
 * server-to-client stanzas (chat messages, presence with caps, pings,
 * a roster push, a disco#info result, a 1 KiB message) repeated to N
 * stanzas, fed in CHUNK-byte slices (16384: one TLS record).  Each of the
 * REPEATS runs parses the whole stream with a fresh parser; the median
 * run is reported.  As a floor, the same bytes go through bare expat in
 * the same namespace mode with empty callbacks.  One more untimed pass
 * counts heap allocations (the whole process: xmppd's and expat's).
 *
 * Output: one "key value" line per figure, for scripts/bench.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <expat.h>

#include "stanza.h"
#include "xml.h"

/* ---- allocation counter: interposes on the C library's allocator ---- */
extern void	*__libc_malloc(size_t);
extern void	*__libc_calloc(size_t, size_t);
extern void	*__libc_realloc(void *, size_t);
extern void	 __libc_free(void *);

static int		counting;
static uint64_t		n_allocs;

void *
malloc(size_t n)
{
	if (counting)
		n_allocs++;
	return __libc_malloc(n);
}

void *
calloc(size_t a, size_t b)
{
	if (counting)
		n_allocs++;
	return __libc_calloc(a, b);
}

void *
realloc(void *p, size_t n)
{
	if (counting)
		n_allocs++;
	return __libc_realloc(p, n);
}

void
free(void *p)
{
	__libc_free(p);
}

/* ---- corpus ---- */
static const char *const mix[] = {
	"<message from='alice@example.org/phone' to='bot@xmppd.test/bench' "
	    "type='chat' id='m1' xml:lang='en'><body>Hello there, how is the "
	    "build going?</body><active xmlns='http://jabber.org/protocol/"
	    "chatstates'/></message>",
	"<presence from='carol@example.net/laptop' to='bot@xmppd.test/bench'>"
	    "<show>away</show><status>In a meeting &amp; back at 3</status>"
	    "<priority>5</priority><c xmlns='http://jabber.org/protocol/caps' "
	    "hash='sha-1' node='https://example.net/client' "
	    "ver='QgayPKawpkPSDYmwT/WM94uAlu0='/></presence>",
	"<iq from='xmppd.test' to='bot@xmppd.test/bench' id='ping-17' "
	    "type='get'><ping xmlns='urn:xmpp:ping'/></iq>",
	"<message from='dave@example.com/desk' to='bot@xmppd.test/bench' "
	    "type='chat' id='m2'><body>ok</body></message>",
	"<iq to='bot@xmppd.test/bench' id='push-3' type='set'><query "
	    "xmlns='jabber:iq:roster' ver='v42'><item jid='erin@example.org' "
	    "name='Erin' subscription='both'><group>Friends</group></item>"
	    "</query></iq>",
	"<presence from='frank@example.org/home' to='bot@xmppd.test/bench' "
	    "type='unavailable'/>",
	"<iq from='xmppd.test' to='bot@xmppd.test/bench' id='xd7' "
	    "type='result'><query xmlns='http://jabber.org/protocol/disco#info'>"
	    "<identity category='server' type='im' name='Prosody'/><feature "
	    "var='urn:xmpp:ping'/><feature var='jabber:iq:version'/><feature "
	    "var='http://jabber.org/protocol/disco#info'/><feature "
	    "var='urn:xmpp:blocking'/></query></iq>",
	NULL,	/* the 1 KiB message, built at start */
};
#define NMIX	(sizeof(mix) / sizeof(mix[0]))

static char	*big_message(void);

struct corpus {
	char	*p;
	size_t	 len;
	size_t	 stanzas;
};

static void
corpus_build(struct corpus *c, size_t n)
{
	const char	*hdr = "<?xml version='1.0'?><stream:stream "
	    "xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/"
	    "streams' from='xmppd.test' id='bench' version='1.0' "
	    "xml:lang='en'>";
	const char	*items[NMIX];
	size_t		 lens[NMIX], cap, i;

	for (i = 0; i < NMIX; i++) {
		items[i] = mix[i] != NULL ? mix[i] : big_message();
		lens[i] = strlen(items[i]);
	}
	cap = strlen(hdr) + 64;
	for (i = 0; i < n; i++)
		cap += lens[i % NMIX];
	c->p = __libc_malloc(cap);
	c->len = 0;
	memcpy(c->p, hdr, strlen(hdr));
	c->len = strlen(hdr);
	for (i = 0; i < n; i++) {
		memcpy(c->p + c->len, items[i % NMIX], lens[i % NMIX]);
		c->len += lens[i % NMIX];
	}
	c->stanzas = n;
}

static char *
big_message(void)
{
	static char	buf[2048];
	size_t		len;

	len = (size_t)snprintf(buf, sizeof(buf), "<message from='build@ci."
	    "example.org/runner' to='bot@xmppd.test/bench' type='normal' "
	    "id='m3'><subject>nightly</subject><body>");
	while (len < 1100)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len,
		    "line %zu: all 124 tests passed &lt;ok&gt;\n", len);
	snprintf(buf + len, sizeof(buf) - len, "</body></message>");
	return buf;
}

/* ---- the dispatcher: what conn_stanza_online() looks at ---- */
struct tally {
	uint64_t	stanzas, messages, presences, iqs, bytes_seen;
};

static int
on_stanza(void *arg, struct stanza *s)
{
	struct tally	*t = arg;
	const char	*name = stanza_name(s), *type = stanza_attr(s, "type");
	const char	*from = stanza_attr(s, "from"), *id = stanza_attr(s, "id");
	struct stanza	*b;

	t->stanzas++;
	if (strcmp(name, "iq") == 0) {
		t->iqs++;
		if (type != NULL && id != NULL && (b = stanza_first_child(s)))
			t->bytes_seen += strlen(stanza_name(b));
	} else if (strcmp(name, "message") == 0) {
		t->messages++;
		if ((b = stanza_child(s, "body", NULL)) != NULL)
			t->bytes_seen += stanza_text_len(b);
	} else if (strcmp(name, "presence") == 0) {
		t->presences++;
		if ((b = stanza_child(s, "show", NULL)) != NULL)
			t->bytes_seen += stanza_text_len(b);
		if ((b = stanza_child(s, "status", NULL)) != NULL)
			t->bytes_seen += stanza_text_len(b);
	}
	if (from != NULL)
		t->bytes_seen += from[0];
	stanza_free(s);
	return XML_CONTINUE;
}

static int
on_open(void *arg, const struct stanza *hdr)
{
	(void)arg;
	(void)hdr;
	return XML_CONTINUE;
}

static double
mono(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double
cpu(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* One pass through xmppd's parser; returns wall seconds, *cpus CPU. */
static double
run_xmppd(const struct corpus *c, size_t chunk, struct tally *t,
    double *cpus)
{
	struct xml_callbacks	 cb = { on_open, on_stanza, NULL };
	struct xml_parser	*xp;
	const char		*cond, *detail;
	double			 t0, c0;
	size_t			 off, n;

	memset(t, 0, sizeof(*t));
	t0 = mono();
	c0 = cpu();
	/* The daemon's own limits: 256 KiB stanzas, depth 64. */
	if ((xp = xml_parser_new(&cb, t, 256 * 1024, 64)) == NULL) {
		fprintf(stderr, "xml_parser_new failed\n");
		exit(1);
	}
	for (off = 0; off < c->len; off += n) {
		n = c->len - off < chunk ? c->len - off : chunk;
		if (xml_feed(xp, c->p + off, n, &cond, &detail) != XML_OK) {
			fprintf(stderr, "xml_feed: %s (%s)\n", cond, detail);
			exit(1);
		}
	}
	xml_parser_free(xp);
	*cpus = cpu() - c0;
	return mono() - t0;
}

/* ---- the floor: bare expat, same mode, empty handlers ---- */
static void XMLCALL
ex_start(void *arg, const XML_Char *name, const XML_Char **atts)
{
	(void)name;
	(void)atts;
	++*(uint64_t *)arg;
}

static void XMLCALL
ex_end(void *arg, const XML_Char *name)
{
	(void)arg;
	(void)name;
}

static void XMLCALL
ex_text(void *arg, const XML_Char *s, int len)
{
	(void)arg;
	(void)s;
	(void)len;
}

static double
run_expat(const struct corpus *c, size_t chunk, double *cpus)
{
	XML_Parser	p;
	uint64_t	elems = 0;
	double		t0, c0;
	size_t		off, n;

	t0 = mono();
	c0 = cpu();
	p = XML_ParserCreate_MM(NULL, NULL, "\x1F");
	XML_SetReturnNSTriplet(p, 1);
	XML_SetUserData(p, &elems);
	XML_SetElementHandler(p, ex_start, ex_end);
	XML_SetCharacterDataHandler(p, ex_text);
	for (off = 0; off < c->len; off += n) {
		n = c->len - off < chunk ? c->len - off : chunk;
		if (XML_Parse(p, c->p + off, (int)n, 0) != XML_STATUS_OK) {
			fprintf(stderr, "expat: %s\n",
			    XML_ErrorString(XML_GetErrorCode(p)));
			exit(1);
		}
	}
	XML_ParserFree(p);
	*cpus = cpu() - c0;
	return mono() - t0;
}

static int
cmp_double(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	struct corpus	 c;
	struct tally	 t;
	size_t		 n = 200000, chunk = 16384;
	int		 reps = 7, ch, i, pinned = 0;
	double		*wx, *cx, *we, *ce, dummy;
	cpu_set_t	 set;

	while ((ch = getopt(argc, argv, "n:r:c:")) != -1) {
		switch (ch) {
		case 'n': n = strtoul(optarg, NULL, 10); break;
		case 'r': reps = atoi(optarg); break;
		case 'c': chunk = strtoul(optarg, NULL, 10); break;
		default:
			fprintf(stderr, "usage: xml-throughput [-n STANZAS] "
			    "[-r REPEATS] [-c CHUNK]\n");
			return 2;
		}
	}
	if (n == 0 || reps < 1 || chunk == 0)
		return 2;
	/* One core: stay on the CPU we start on. */
	CPU_ZERO(&set);
	CPU_SET(sched_getcpu() < 0 ? 0 : sched_getcpu(), &set);
	if (sched_setaffinity(0, sizeof(set), &set) == 0)
		pinned = 1;

	corpus_build(&c, n);
	wx = __libc_calloc(reps, sizeof(double));
	cx = __libc_calloc(reps, sizeof(double));
	we = __libc_calloc(reps, sizeof(double));
	ce = __libc_calloc(reps, sizeof(double));
	run_xmppd(&c, chunk, &t, &dummy);	/* warm up */
	for (i = 0; i < reps; i++) {		/* interleaved */
		wx[i] = run_xmppd(&c, chunk, &t, &cx[i]);
		we[i] = run_expat(&c, chunk, &ce[i]);
	}
	if (t.stanzas != n) {
		fprintf(stderr, "parsed %llu stanzas, expected %zu\n",
		    (unsigned long long)t.stanzas, n);
		return 1;
	}
	counting = 1;
	n_allocs = 0;
	run_xmppd(&c, chunk, &t, &dummy);
	counting = 0;

	qsort(wx, reps, sizeof(double), cmp_double);
	qsort(cx, reps, sizeof(double), cmp_double);
	qsort(we, reps, sizeof(double), cmp_double);
	qsort(ce, reps, sizeof(double), cmp_double);
	printf("stanzas %zu\n", n);
	printf("bytes %zu\n", c.len);
	printf("chunk %zu\n", chunk);
	printf("repeats %d\n", reps);
	printf("pinned %d\n", pinned);
	printf("xmppd_stanzas_per_s %.0f\n", n / wx[reps / 2]);
	printf("xmppd_stanzas_per_cpu_s %.0f\n", n / cx[reps / 2]);
	printf("xmppd_mb_per_s %.1f\n", c.len / wx[reps / 2] / 1e6);
	printf("xmppd_ns_per_stanza %.0f\n", wx[reps / 2] / n * 1e9);
	printf("expat_stanzas_per_s %.0f\n", n / we[reps / 2]);
	printf("expat_mb_per_s %.1f\n", c.len / we[reps / 2] / 1e6);
	printf("tree_overhead %.2f\n", wx[reps / 2] / we[reps / 2]);
	printf("allocs_per_stanza %.1f\n", (double)n_allocs / n);
	return 0;
}
