/*
 * test_stanza.c: building, querying and serializing element trees.
 */
#include <sys/wait.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stanza.h"
#include "tap.h"
#include "xmalloc.h"

static void	test_build(void);
static void	test_attrs(void);
static void	test_escape(void);
static void	test_ns(void);
static void	test_children(void);
static void	test_text(void);
static void	test_deep(void);
static void	test_parsed(void);
static void	test_serialize_reuse(void);
static int	aborts_adopting_inner(void);

static void
test_build(void)
{
	struct stanza	*m;
	char		*s;
	size_t		 len;

	m = stanza_new("message", "jabber:client");
	is_str(stanza_name(m), "message", "name");
	is_str(stanza_ns(m), "jabber:client", "ns");
	is_str(stanza_text(m), "", "no text is empty string");
	is_int(stanza_text_len(m), 0, "no text has length 0");
	ok(stanza_first_child(m) == NULL, "no children");
	ok(stanza_parent(m) == NULL, "no parent");
	ok(stanza_next_sibling(m) == NULL, "no sibling");

	s = stanza_to_string(m, "jabber:client", &len);
	is_str(s, "<message/>", "empty element self-closes");
	is_int(len, strlen(s), "length returned");
	free(s);

	stanza_set_attr(m, "to", "a@b.c");
	stanza_set_attr(m, "type", "chat");
	stanza_add_text_child(m, "body", NULL, "hi");
	s = stanza_to_string(m, "jabber:client", NULL);
	is_str(s, "<message to='a@b.c' type='chat'><body>hi</body></message>",
	    "message with body");
	free(s);
	s = stanza_to_string(m, NULL, NULL);
	is_str(s, "<message xmlns='jabber:client' to='a@b.c' type='chat'>"
	    "<body>hi</body></message>", "xmlns written without scope");
	free(s);
	stanza_free(m);
	stanza_free(NULL);
	ok(1, "stanza_free(NULL) is a no-op");
}

static void
test_attrs(void)
{
	struct stanza	*s;
	const char	*n, *v;
	char		*out;

	s = stanza_new("iq", NULL);
	ok(stanza_attr(s, "id") == NULL, "absent attribute is NULL");
	ok(!stanza_attr_at(s, 0, &n, &v), "no attributes to iterate");
	stanza_set_attr(s, "id", "1");
	stanza_set_attr(s, "type", "get");
	stanza_set_attr(s, "xml:lang", "en");
	stanza_set_attr(s, "id", "2");
	is_str(stanza_attr(s, "id"), "2", "replaced value");
	ok(stanza_attr_at(s, 0, &n, &v) && strcmp(n, "id") == 0 &&
	    strcmp(v, "2") == 0, "replacing keeps the position");
	stanza_set_attr(s, "type", stanza_attr(s, "type"));
	is_str(stanza_attr(s, "type"), "get", "set to own value");
	stanza_set_attr(s, "type", NULL);
	ok(stanza_attr(s, "type") == NULL, "removed");
	ok(stanza_attr_at(s, 1, &n, &v) && strcmp(n, "xml:lang") == 0,
	    "removal closes the gap");
	ok(!stanza_attr_at(s, 2, &n, &v), "two left");
	stanza_set_attr(s, "absent", NULL);
	ok(!stanza_attr_at(s, 2, NULL, NULL), "removing an absent one");
	stanza_add_attr(s, "a", "1");
	stanza_add_attr(s, "b", "2");
	stanza_add_attr(s, "c", "3");
	stanza_add_attr(s, "d", "4");
	is_str(stanza_attr(s, "d"), "4", "array grows");
	out = stanza_to_string(s, NULL, NULL);
	is_str(out, "<iq id='2' xml:lang='en' a='1' b='2' c='3' d='4'/>",
	    "prefixed attribute written as is");
	free(out);
	stanza_free(s);
}

static void
test_escape(void)
{
	struct stanza	*s;
	char		*out;

	out = xml_escape("a&b<c>d\"e'f", 11);
	is_str(out, "a&amp;b&lt;c&gt;d&quot;e&apos;f", "xml_escape");
	free(out);
	out = xml_escape("", 0);
	is_str(out, "", "xml_escape of nothing");
	free(out);
	out = xml_escape("x\0y", 3);
	is_int(strlen(out), 1, "xml_escape takes a length");
	free(out);

	s = stanza_new("x", NULL);
	stanza_set_attr(s, "v", "it's \"q\" <&> a\tb\nc\rd");
	stanza_append_text(s, "1 < 2 && \"3\" > 'x'\r\n", 20);
	out = stanza_to_string(s, NULL, NULL);
	is_str(out, "<x v='it&apos;s &quot;q&quot; &lt;&amp;&gt; a&#9;b&#10;c"
	    "&#13;d'>1 &lt; 2 &amp;&amp; \"3\" &gt; 'x'&#13;\n</x>",
	    "attribute and text escaping");
	free(out);
	stanza_free(s);
}

static void
test_ns(void)
{
	struct stanza	*iq, *q, *item, *x;
	char		*out;

	iq = stanza_new("iq", "jabber:client");
	q = stanza_add_child(iq, "query", "jabber:iq:roster");
	item = stanza_add_child(q, "item", "jabber:iq:roster");
	stanza_set_attr(item, "jid", "a@b");
	stanza_add_child(q, "item", NULL);
	x = stanza_add_child(iq, "x", "jabber:client");
	out = stanza_to_string(iq, "jabber:client", NULL);
	is_str(out, "<iq><query xmlns='jabber:iq:roster'><item jid='a@b'/>"
	    "<item/></query><x/></iq>", "xmlns only where it changes");
	free(out);
	out = stanza_to_string(q, "jabber:client", NULL);
	is_str(out, "<query xmlns='jabber:iq:roster'><item jid='a@b'/>"
	    "<item/></query>", "subtree");
	free(out);

	ok(stanza_child(iq, "query", "jabber:iq:roster") == q,
	    "child by name and ns");
	ok(stanza_child(iq, "query", "jabber:client") == NULL,
	    "wrong ns does not match");
	ok(stanza_child(iq, NULL, "jabber:iq:roster") == q, "child by ns");
	ok(stanza_child(iq, "x", NULL) == x, "child by name");
	ok(stanza_child(iq, NULL, NULL) == q, "any child");
	ok(stanza_child(iq, "nope", NULL) == NULL, "no such child");
	ok(stanza_child(q, "item", "jabber:iq:roster") == item,
	    "first match");
	ok(stanza_next_sibling(item) != NULL &&
	    stanza_child(q, NULL, "jabber:iq:roster") == item,
	    "inherited ns matches");
	stanza_free(iq);

	/* An xmlns attribute stands in for a missing namespace. */
	x = stanza_new("x", NULL);
	stanza_set_attr(x, "xmlns", "urn:a");
	stanza_set_attr(x, "xmlns:p", "urn:p");
	stanza_set_attr(x, "p:a", "1");
	stanza_add_child(x, "y", "urn:a");
	stanza_add_child(x, "z", "");
	out = stanza_to_string(x, "jabber:client", NULL);
	is_str(out, "<x xmlns='urn:a' xmlns:p='urn:p' p:a='1'><y/>"
	    "<z xmlns=''/></x>", "xmlns attribute and no namespace");
	free(out);
	ok(stanza_child(x, "y", "urn:a") != NULL, "ns from xmlns attribute");
	stanza_free(x);
}

static void
test_children(void)
{
	struct stanza	*a, *b, *c, *d;
	char		*out;

	a = stanza_new("a", NULL);
	b = stanza_add_child(a, "b", NULL);
	c = stanza_add_child(a, "c", NULL);
	ok(stanza_first_child(a) == b, "first child");
	ok(stanza_next_sibling(b) == c, "next sibling");
	ok(stanza_next_sibling(c) == NULL, "last sibling");
	ok(stanza_parent(c) == a, "parent");

	d = stanza_new("d", NULL);
	stanza_add_child(d, "e", NULL);
	stanza_adopt(b, d);
	ok(stanza_parent(d) == b, "adopted");
	stanza_adopt(c, d);
	ok(stanza_parent(d) == c && stanza_first_child(b) == NULL,
	    "adopting moves a subtree");
	out = stanza_to_string(a, NULL, NULL);
	is_str(out, "<a><b/><c><d><e/></d></c></a>", "tree");
	free(out);
	stanza_free(d);
	out = stanza_to_string(a, NULL, NULL);
	is_str(out, "<a><b/><c/></a>", "freeing a subtree unlinks it");
	free(out);
	stanza_free(a);
}

static void
test_text(void)
{
	struct stanza	*s;
	char		*out, *big;
	size_t		 i, len;

	s = stanza_new("body", NULL);
	stanza_append_text(s, "hello", 5);
	stanza_append_text(s, ", ", 2);
	stanza_append_text(s, "world!!", 5);
	stanza_append_text(s, "", 0);
	is_str(stanza_text(s), "hello, world", "text accumulates");
	is_int(stanza_text_len(s), 12, "text length");
	stanza_add_child(s, "x", NULL);
	out = stanza_to_string(s, NULL, NULL);
	is_str(out, "<body>hello, world<x/></body>", "text before children");
	free(out);
	stanza_free(s);

	s = stanza_new("big", NULL);
	for (i = 0; i < 100000; i++)
		stanza_append_text(s, "ab&", 3);
	is_int(stanza_text_len(s), 300000, "long text in small pieces");
	out = stanza_to_string(s, NULL, &len);
	is_int(len, 5 + 100000 * 7 + 6, "long text serialized");
	big = out + 5;
	ok(strncmp(big, "ab&amp;ab&amp;", 14) == 0 &&
	    strcmp(out + len - 6, "</big>") == 0, "long text content");
	free(out);
	stanza_free(s);
}

/* Freeing is iterative: a deep chain must not exhaust the stack. */
static void
test_deep(void)
{
	struct stanza	*root, *s;
	int		 i;

	root = s = stanza_new("d", NULL);
	for (i = 0; i < 1000000; i++)
		s = stanza_add_child(s, "d", NULL);
	stanza_free(root);
	ok(1, "deep tree freed");
}

/* Adopting an inner element of a parsed tree elsewhere must abort. */
static int
aborts_adopting_inner(void)
{
	struct stanza	*root, *inner, *other;
	pid_t		 pid;
	int		 status;

	if ((pid = fork()) == -1)
		return 0;
	if (pid == 0) {
		root = stanza_new_parsed(NULL, "a", NULL, 0);
		inner = stanza_new_parsed(root, "b", NULL, 0);
		other = stanza_new("c", NULL);
		stanza_adopt(other, inner);
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid)
		return 0;
	return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
}

/* Trees in an arena, as the parser builds them, mixed with heap ones. */
static void
test_parsed(void)
{
	struct stanza	*root, *a, *b, *h, *p2;
	char		*out, piece[64];
	size_t		 i, total = 0;
	int		 good = 1;

	root = stanza_new_parsed(NULL, "message", "jabber:client", 2);
	stanza_add_attr(root, "to", "a@b");
	stanza_add_attr(root, "id", "1");
	stanza_add_attr(root, "type", "chat");	/* beyond the room reserved */
	a = stanza_new_parsed(root, "body", NULL, 0);
	for (i = 0; i < 20000; i++) {
		/* Text in pieces while other elements are added between. */
		snprintf(piece, sizeof(piece), "%05zu", i);
		stanza_append_text(a, piece, 5);
		total += 5;
		if (i % 1000 == 0)
			(void)stanza_new_parsed(root, "x", "urn:x", 1);
	}
	is_int((long long)stanza_text_len(a), (long long)total,
	    "100000 bytes of text over many blocks");
	for (i = 0; i < 20000 && good; i++) {
		snprintf(piece, sizeof(piece), "%05zu", i);
		good = memcmp(stanza_text(a) + i * 5, piece, 5) == 0;
	}
	ok(good, "text intact");
	is_str(stanza_attr(root, "type"), "chat", "attribute past the hint");
	stanza_set_attr(root, "id", "2");
	stanza_set_attr(root, "to", NULL);
	is_str(stanza_attr(root, "id"), "2", "replaced in the arena");
	ok(stanza_attr(root, "to") == NULL, "removed in the arena");

	/* A heap child in a parsed tree is freed with it. */
	h = stanza_add_text_child(root, "heap", "urn:h", "on the heap");
	stanza_set_attr(h, "k", "v");
	b = stanza_child(root, "heap", "urn:h");
	ok(b == h, "heap child found");
	/* Freeing an inner parsed element unlinks it. */
	stanza_free(stanza_child(root, "x", NULL));
	b = stanza_first_child(root);
	is_str(b != NULL ? stanza_name(b) : NULL, "body", "body first");
	b = stanza_next_sibling(b);
	is_str(b != NULL ? stanza_name(b) : NULL, "x", "19 x left");

	/* A parsed root adopted into a heap tree goes with that tree. */
	p2 = stanza_new_parsed(NULL, "delay", "urn:xmpp:delay", 1);
	stanza_add_attr(p2, "stamp", "2026-11-26T00:00:00Z");
	h = stanza_new("forwarded", "urn:xmpp:forward:0");
	stanza_adopt(h, p2);
	out = stanza_to_string(h, "jabber:client", NULL);
	is_str(out, "<forwarded xmlns='urn:xmpp:forward:0'><delay "
	    "xmlns='urn:xmpp:delay' stamp='2026-11-26T00:00:00Z'/></forwarded>",
	    "parsed root inside a heap tree");
	free(out);
	stanza_free(h);
	stanza_free(root);
	ok(aborts_adopting_inner(), "adopting an inner parsed element aborts");
}

/* Serializing into a kept buffer allocates only while it grows. */
static void
test_serialize_reuse(void)
{
	struct stanza		*s;
	unsigned long long	 before;
	char			*buf = NULL, *ref;
	size_t			 cap = 0, len = 0;
	int			 i, same = 1;

	s = stanza_new("iq", NULL);
	stanza_set_attr(s, "type", "result");
	stanza_set_attr(s, "id", "p<1>");
	stanza_add_text_child(s, "query", "jabber:iq:version", "x & y");
	ref = stanza_to_string(s, "jabber:client", NULL);
	len = stanza_serialize(s, "jabber:client", &buf, &cap);
	is_str(buf, ref, "same text as stanza_to_string");
	is_int((long long)len, (long long)strlen(ref), "its length");
	before = xmalloc_calls;
	for (i = 0; i < 100; i++) {
		len = stanza_serialize(s, "jabber:client", &buf, &cap);
		same = same && len == strlen(ref) && strcmp(buf, ref) == 0;
	}
	ok(same, "100 times the same");
	is_int((long long)(xmalloc_calls - before), 0,
	    "no allocation once the buffer is big enough");
	free(ref);
	free(buf);
	stanza_free(s);
}

int
main(void)
{
	test_build();
	test_attrs();
	test_escape();
	test_ns();
	test_children();
	test_text();
	test_deep();
	test_parsed();
	test_serialize_reuse();
	return done_testing();
}
