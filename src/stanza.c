/*
 * stanza.c: the XML element tree and its serializer.
 *
 * Trees built by the daemon live on the heap: an element, its name and its
 * namespace in one allocation, attributes in a small array (stanzas carry
 * a handful, so a linear search beats a hash), text in a buffer that grows
 * by doubling.  Such trees may live long and change (the presence kept
 * for every reconnect), so each part is freed as it is replaced.
 *
 * Trees built by the parser live in an arena instead: one block per
 * stanza, with more blocks chained on only for a big one, all of it freed
 * at once with the root.  The first block of the last stanza freed is kept
 * for the next, so the steady traffic of small stanzas costs no heap
 * allocation at all.  Nothing in an arena is freed before its root: a
 * replaced attribute or a grown text leaves its old bytes behind, which
 * only the bounded input of the parser may do.
 */
#include "compat.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
#define ARENA_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ARENA_ASAN 1
#endif
#endif
#ifdef ARENA_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n)	ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n)	ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n)	((void)(p), (void)(n))
#define UNPOISON(p, n)	((void)(p), (void)(n))
#endif

#include "stanza.h"
#include "xmalloc.h"

#define BUF_MIN		256	/* first allocation of a growing buffer */
#define ATTR_MIN	4	/* first allocation of an attribute array */
#define ARENA_BLOCK	4096	/* first block of an arena, kept for reuse */
#define ARENA_ALIGN	alignof(max_align_t)

/* A block of an arena; the first one also holds the arena itself. */
struct chunk {
	struct chunk	*next;		/* older block */
	size_t		 size;		/* of the whole block */
	max_align_t	 data[];
};

struct arena {
	struct stanza	*root;		/* freeing it frees the arena */
	struct chunk	*chunks;	/* newest first; the last holds this */
	char		*next;		/* free space of the newest block */
	char		*end;
	char		*last;		/* latest allocation, to grow in place */
};

/* The first block of the last arena released, for the next one. */
static struct chunk	*spare;

/* A growing byte string, always NUL-terminated once allocated. */
struct buf {
	char	*p;
	size_t	 len;
	size_t	 cap;
};

struct attr {
	char	*name;
	char	*value;		/* in the same allocation as name */
};

TAILQ_HEAD(stanza_list, stanza);

struct stanza {
	TAILQ_ENTRY(stanza)	 entry;
	struct stanza_list	 children;
	struct stanza		*parent;
	struct attr		*attrs;
	size_t			 nattrs;
	size_t			 attrcap;
	struct buf		 text;
	struct arena		*arena;		/* NULL: on the heap */
	const char		*ns;		/* NULL: inherit; else after name */
	char			 name[];
};

static struct arena *arena_new(void);
static void	*arena_alloc(struct arena *, size_t, size_t);
static void	*arena_grow(struct arena *, void *, size_t, size_t);
static void	 arena_release(struct arena *);
static char	*arena_strdup2(struct arena *, const char *, const char *,
		    char **);
static void	 buf_reserve(struct buf *, size_t);
static void	 buf_add(struct buf *, const char *, size_t);
static void	 buf_addstr(struct buf *, const char *);
static const char *escape_of(char, int);
static void	 buf_escape(struct buf *, const char *, size_t, int);
static void	 buf_attr(struct buf *, const char *, const char *);
static char	*buf_finish(struct buf *, size_t *);
static void	 attr_init(struct stanza *, struct attr *, const char *,
		    const char *);
static struct attr *attr_find(const struct stanza *, const char *);
static const char *stanza_own_ns(const struct stanza *);
static const char *stanza_scope_ns(const struct stanza *);
static void	 stanza_free_one(struct stanza *);
static void	 stanza_attrs_grow(struct stanza *, size_t);
static void	 stanza_write(struct buf *, const struct stanza *, const char *);

static size_t
round_up(size_t n, size_t to)
{
	if (n > SIZE_MAX - to)
		abort();
	return (n + to - 1) / to * to;
}

static struct arena *
arena_new(void)
{
	struct chunk	*ch;
	struct arena	*a;

	if ((ch = spare) != NULL)
		spare = NULL;
	else
		ch = xmalloc(ARENA_BLOCK);
	UNPOISON(ch, ARENA_BLOCK);
	ch->next = NULL;
	ch->size = ARENA_BLOCK;
	a = (struct arena *)ch->data;
	a->root = NULL;
	a->chunks = ch;
	a->next = (char *)ch->data + round_up(sizeof(*a), ARENA_ALIGN);
	a->end = (char *)ch + ARENA_BLOCK;
	a->last = NULL;
	POISON(a->next, (size_t)(a->end - a->next));
	return a;
}

/* n bytes aligned to align (a power of two); fatal on exhaustion. */
static void *
arena_alloc(struct arena *a, size_t n, size_t align)
{
	struct chunk	*ch;
	uintptr_t	 p;
	size_t		 size;

	p = ((uintptr_t)a->next + align - 1) & ~(uintptr_t)(align - 1);
	if (p > (uintptr_t)a->end || n > (uintptr_t)a->end - p) {
		/* Each new block at least doubles: a big stanza takes few. */
		size = round_up(offsetof(struct chunk, data) + n, ARENA_BLOCK);
		if (size < a->chunks->size * 2)
			size = a->chunks->size * 2;
		ch = xmalloc(size);
		ch->next = a->chunks;
		ch->size = size;
		a->chunks = ch;
		a->end = (char *)ch + size;
		POISON(ch->data, (size_t)(a->end - (char *)ch->data));
		p = (uintptr_t)ch->data;
	}
	UNPOISON((void *)p, n);
	a->next = (char *)p + n;
	a->last = (char *)p;
	return (void *)p;
}

/* Grow the allocation at p from oldn to n bytes: in place when it is last. */
static void *
arena_grow(struct arena *a, void *p, size_t oldn, size_t n)
{
	void	*q;

	if (p != NULL && p == a->last && n <= (size_t)(a->end - a->last)) {
		UNPOISON(p, n);
		a->next = a->last + n;
		return p;
	}
	q = arena_alloc(a, n, 1);
	if (oldn > 0)
		memcpy(q, p, oldn);
	return q;
}

static void
arena_release(struct arena *a)
{
	struct chunk	*ch, *next;

	for (ch = a->chunks; ch != NULL; ch = next) {
		next = ch->next;
		UNPOISON(ch, ch->size);
		/* The oldest block holds the arena and is the standard size. */
		if (next == NULL && spare == NULL) {
			POISON(ch->data, ch->size - offsetof(struct chunk, data));
			spare = ch;
		} else
			free(ch);
	}
}

/* "name\0value\0" in the arena; *valuep points at the value. */
static char *
arena_strdup2(struct arena *a, const char *name, const char *value,
    char **valuep)
{
	size_t	 nlen = strlen(name), vlen = strlen(value);
	char	*p;

	p = arena_alloc(a, nlen + vlen + 2, 1);
	memcpy(p, name, nlen + 1);
	memcpy(p + nlen + 1, value, vlen + 1);
	*valuep = p + nlen + 1;
	return p;
}

/* Room for n more bytes plus the terminating NUL. */
static void
buf_reserve(struct buf *b, size_t n)
{
	size_t	cap;

	if (n > SIZE_MAX - b->len - 1)
		abort();
	if (b->len + n + 1 <= b->cap)
		return;
	cap = b->cap != 0 ? b->cap : BUF_MIN;
	while (cap < b->len + n + 1) {
		if (cap > SIZE_MAX / 2)
			abort();
		cap *= 2;
	}
	b->p = xreallocarray(b->p, cap, 1);
	b->cap = cap;
}

static void
buf_add(struct buf *b, const char *s, size_t len)
{
	buf_reserve(b, len);
	if (len > 0)
		memcpy(b->p + b->len, s, len);
	b->len += len;
	b->p[b->len] = '\0';
}

static void
buf_addstr(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

/*
 * The replacement for c, or NULL when c stands for itself.  Attribute
 * values also get quotes and whitespace other than a space escaped: a
 * parser normalizes literal tabs and newlines in attributes to spaces, and
 * a carriage return anywhere to a newline, so only a character reference
 * survives the round trip.
 */
static const char *
escape_of(char c, int attr)
{
	switch (c) {
	case '&':
		return "&amp;";
	case '<':
		return "&lt;";
	case '>':
		return "&gt;";
	case '\r':
		return "&#13;";
	case '"':
		return attr ? "&quot;" : NULL;
	case '\'':
		return attr ? "&apos;" : NULL;
	case '\n':
		return attr ? "&#10;" : NULL;
	case '\t':
		return attr ? "&#9;" : NULL;
	default:
		return NULL;
	}
}

/* Copy runs of plain bytes at once rather than byte by byte. */
static void
buf_escape(struct buf *b, const char *s, size_t len, int attr)
{
	const char	*rep;
	size_t		 i, run = 0;

	for (i = 0; i < len; i++) {
		if ((rep = escape_of(s[i], attr)) == NULL)
			continue;
		buf_add(b, s + run, i - run);
		buf_addstr(b, rep);
		run = i + 1;
	}
	buf_add(b, s + run, len - run);
}

static void
buf_attr(struct buf *b, const char *name, const char *value)
{
	buf_add(b, " ", 1);
	buf_addstr(b, name);
	buf_add(b, "='", 2);
	buf_escape(b, value, strlen(value), 1);
	buf_add(b, "'", 1);
}

/* Hand over the string; an empty one is still allocated. */
static char *
buf_finish(struct buf *b, size_t *lenp)
{
	buf_reserve(b, 0);
	b->p[b->len] = '\0';
	if (lenp != NULL)
		*lenp = b->len;
	return b->p;
}

/* Name and value in one allocation: one malloc per attribute on the heap. */
static void
attr_init(struct stanza *s, struct attr *a, const char *name,
    const char *value)
{
	size_t	nlen = strlen(name), vlen = strlen(value);

	if (s->arena != NULL) {
		a->name = arena_strdup2(s->arena, name, value, &a->value);
		return;
	}
	a->name = xmalloc(nlen + vlen + 2);
	memcpy(a->name, name, nlen + 1);
	a->value = a->name + nlen + 1;
	memcpy(a->value, value, vlen + 1);
}

static struct attr *
attr_find(const struct stanza *s, const char *name)
{
	size_t	i;

	for (i = 0; i < s->nattrs; i++)
		if (strcmp(s->attrs[i].name, name) == 0)
			return &s->attrs[i];
	return NULL;
}

/*
 * The namespace an element declares: its own, else an "xmlns" attribute
 * set by hand or recorded by the parser (xmlns='' puts it in none).
 */
static const char *
stanza_own_ns(const struct stanza *s)
{
	return s->ns != NULL ? s->ns : stanza_attr(s, "xmlns");
}

/* The namespace in effect: the nearest declaration up the tree. */
static const char *
stanza_scope_ns(const struct stanza *s)
{
	const char	*ns;

	for (; s != NULL; s = s->parent)
		if ((ns = stanza_own_ns(s)) != NULL)
			return ns;
	return NULL;
}

struct stanza *
stanza_new(const char *name, const char *ns)
{
	struct stanza	*s;
	size_t		 nlen = strlen(name), nslen = ns != NULL ? strlen(ns) : 0;

	s = xcalloc(1, sizeof(*s) + nlen + 1 + (ns != NULL ? nslen + 1 : 0));
	memcpy(s->name, name, nlen + 1);
	if (ns != NULL) {
		memcpy(s->name + nlen + 1, ns, nslen + 1);
		s->ns = s->name + nlen + 1;
	}
	TAILQ_INIT(&s->children);
	return s;
}

/*
 * An element of a parsed tree for the parser: a new root with an arena of
 * its own when parent is NULL, else the last child of parent (itself from
 * the parser), in its arena.  nattrs: room for the attributes to come.
 */
struct stanza *
stanza_new_parsed(struct stanza *parent, const char *name, const char *ns,
    size_t nattrs)
{
	struct arena	*a;
	struct stanza	*s;
	size_t		 nlen = strlen(name), nslen = ns != NULL ? strlen(ns) : 0;

	if (parent != NULL && parent->arena == NULL)
		abort();
	a = parent != NULL ? parent->arena : arena_new();
	s = arena_alloc(a, sizeof(*s) + nlen + 1 + (ns != NULL ? nslen + 1 : 0),
	    alignof(struct stanza));
	memset(s, 0, sizeof(*s));
	memcpy(s->name, name, nlen + 1);
	if (ns != NULL) {
		memcpy(s->name + nlen + 1, ns, nslen + 1);
		s->ns = s->name + nlen + 1;
	}
	TAILQ_INIT(&s->children);
	s->arena = a;
	if (nattrs > 0)
		stanza_attrs_grow(s, nattrs);
	if (parent == NULL)
		a->root = s;
	else {
		s->parent = parent;
		TAILQ_INSERT_TAIL(&parent->children, s, entry);
	}
	return s;
}

/*
 * Let go of one element whose children are gone: a heap element is freed,
 * the root of an arena frees the arena, any other arena element stays
 * until its root goes.
 */
static void
stanza_free_one(struct stanza *s)
{
	size_t	i;

	if (s->arena != NULL) {
		if (s->arena->root == s)
			arena_release(s->arena);
		return;
	}
	for (i = 0; i < s->nattrs; i++)
		free(s->attrs[i].name);
	free(s->attrs);
	free(s->text.p);
	free(s);
}

/*
 * Iterative, so that freeing a deep tree cannot exhaust the stack: descend
 * to a leaf, free it, climb back to its parent.  A subtree is first
 * unlinked from its parent so that no dangling child pointer remains.
 */
void
stanza_free(struct stanza *s)
{
	struct stanza	*c, *up;

	if (s == NULL)
		return;
	if (s->parent != NULL) {
		TAILQ_REMOVE(&s->parent->children, s, entry);
		s->parent = NULL;
	}
	while (s != NULL) {
		if ((c = TAILQ_FIRST(&s->children)) != NULL) {
			TAILQ_REMOVE(&s->children, c, entry);
			s = c;
			continue;
		}
		up = s->parent;
		stanza_free_one(s);
		s = up;
	}
}

const char *
stanza_name(const struct stanza *s)
{
	return s->name;
}

const char *
stanza_ns(const struct stanza *s)
{
	return s->ns;
}

const char *
stanza_attr(const struct stanza *s, const char *name)
{
	struct attr	*a;

	return (a = attr_find(s, name)) != NULL ? a->value : NULL;
}

void
stanza_set_attr(struct stanza *s, const char *name, const char *value)
{
	struct attr	*a, old;
	size_t		 i;

	if ((a = attr_find(s, name)) == NULL) {
		if (value != NULL)
			stanza_add_attr(s, name, value);
		return;
	}
	old = *a;
	if (value != NULL) {
		/* Built before the old one goes: value may point into it. */
		attr_init(s, a, old.name, value);
	} else {
		i = a - s->attrs;
		memmove(a, a + 1, (s->nattrs - i - 1) * sizeof(*a));
		s->nattrs--;
	}
	if (s->arena == NULL)
		free(old.name);
}

/* Room for at least cap attributes. */
static void
stanza_attrs_grow(struct stanza *s, size_t cap)
{
	struct attr	*n;

	if (cap <= s->attrcap)
		return;
	if (s->arena == NULL)
		s->attrs = xreallocarray(s->attrs, cap, sizeof(*s->attrs));
	else {
		if (cap > SIZE_MAX / sizeof(*n))
			abort();
		n = arena_alloc(s->arena, cap * sizeof(*n), alignof(struct attr));
		if (s->nattrs > 0)
			memcpy(n, s->attrs, s->nattrs * sizeof(*n));
		s->attrs = n;
	}
	s->attrcap = cap;
}

void
stanza_add_attr(struct stanza *s, const char *name, const char *value)
{
	if (s->nattrs == s->attrcap)
		stanza_attrs_grow(s, s->attrcap != 0 ? s->attrcap * 2 : ATTR_MIN);
	attr_init(s, &s->attrs[s->nattrs++], name, value);
}

int
stanza_attr_at(const struct stanza *s, size_t i, const char **name,
    const char **value)
{
	if (i >= s->nattrs)
		return 0;
	if (name != NULL)
		*name = s->attrs[i].name;
	if (value != NULL)
		*value = s->attrs[i].value;
	return 1;
}

const char *
stanza_text(const struct stanza *s)
{
	return s->text.p != NULL ? s->text.p : "";
}

size_t
stanza_text_len(const struct stanza *s)
{
	return s->text.len;
}

void
stanza_append_text(struct stanza *s, const char *text, size_t len)
{
	struct buf	*b = &s->text;
	size_t		 cap;

	if (s->arena == NULL) {
		buf_add(b, text, len);
		return;
	}
	if (len > SIZE_MAX - b->len - 1)
		abort();
	if (b->len + len + 1 > b->cap) {
		/* Exact when it grows in place, doubling when it moves. */
		cap = b->len + len + 1;
		if (b->p != s->arena->last && cap < b->cap * 2)
			cap = b->cap * 2;
		b->p = arena_grow(s->arena, b->p, b->len, cap);
		b->cap = cap;
	}
	memcpy(b->p + b->len, text, len);
	b->len += len;
	b->p[b->len] = '\0';
}

struct stanza *
stanza_add_child(struct stanza *parent, const char *name, const char *ns)
{
	struct stanza	*c;

	c = stanza_new(name, ns);
	stanza_adopt(parent, c);
	return c;
}

void
stanza_adopt(struct stanza *parent, struct stanza *child)
{
	/* An inner element of a parsed tree cannot outlive its arena. */
	if (child->arena != NULL && child->arena->root != child &&
	    child->arena != parent->arena)
		abort();
	if (child->parent != NULL)
		TAILQ_REMOVE(&child->parent->children, child, entry);
	child->parent = parent;
	TAILQ_INSERT_TAIL(&parent->children, child, entry);
}

struct stanza *
stanza_add_text_child(struct stanza *parent, const char *name,
    const char *ns, const char *text)
{
	struct stanza	*c;

	c = stanza_add_child(parent, name, ns);
	if (text != NULL)
		stanza_append_text(c, text, strlen(text));
	return c;
}

/*
 * Children built with a NULL namespace inherit one, so the namespace that
 * is compared is the one in effect, not merely the one given.
 */
struct stanza *
stanza_child(const struct stanza *s, const char *name, const char *ns)
{
	struct stanza	*c;
	const char	*cns;

	TAILQ_FOREACH(c, &s->children, entry) {
		if (name != NULL && strcmp(c->name, name) != 0)
			continue;
		if (ns != NULL && ((cns = stanza_scope_ns(c)) == NULL ||
		    strcmp(cns, ns) != 0))
			continue;
		return c;
	}
	return NULL;
}

struct stanza *
stanza_first_child(const struct stanza *s)
{
	return TAILQ_FIRST(&s->children);
}

struct stanza *
stanza_next_sibling(const struct stanza *s)
{
	/* A detached element's link fields are stale. */
	if (s->parent == NULL)
		return NULL;
	return TAILQ_NEXT(s, entry);
}

struct stanza *
stanza_parent(const struct stanza *s)
{
	return s->parent;
}

/*
 * Recursive: the trees serialized are built by the daemon or by the parser,
 * whose max_depth bounds the nesting.  The namespace is written as an
 * xmlns attribute where it changes; an "xmlns" attribute in the list is
 * not written again.
 */
static void
stanza_write(struct buf *b, const struct stanza *s, const char *scope)
{
	const struct stanza	*c;
	const char		*ns;
	size_t			 i;

	buf_add(b, "<", 1);
	buf_addstr(b, s->name);
	if ((ns = stanza_own_ns(s)) != NULL) {
		if (strcmp(ns, scope != NULL ? scope : "") != 0)
			buf_attr(b, "xmlns", ns);
		scope = ns;
	}
	for (i = 0; i < s->nattrs; i++)
		if (strcmp(s->attrs[i].name, "xmlns") != 0)
			buf_attr(b, s->attrs[i].name, s->attrs[i].value);
	if (s->text.len == 0 && TAILQ_EMPTY(&s->children)) {
		buf_add(b, "/>", 2);
		return;
	}
	buf_add(b, ">", 1);
	if (s->text.len > 0)
		buf_escape(b, s->text.p, s->text.len, 0);
	TAILQ_FOREACH(c, &s->children, entry)
		stanza_write(b, c, scope);
	buf_add(b, "</", 2);
	buf_addstr(b, s->name);
	buf_add(b, ">", 1);
}

char *
stanza_to_string(const struct stanza *s, const char *inherited_ns,
    size_t *lenp)
{
	struct buf	b = { NULL, 0, 0 };

	stanza_write(&b, s, inherited_ns);
	return buf_finish(&b, lenp);
}

size_t
stanza_serialize(const struct stanza *s, const char *inherited_ns,
    char **bufp, size_t *capp)
{
	struct buf	b = { *bufp, 0, *capp };

	stanza_write(&b, s, inherited_ns);
	buf_finish(&b, NULL);
	*bufp = b.p;
	*capp = b.cap;
	return b.len;
}

char *
xml_escape(const char *s, size_t len)
{
	struct buf	b = { NULL, 0, 0 };

	buf_escape(&b, s, len, 1);
	return buf_finish(&b, NULL);
}
