/*
 * stanza.h: a small XML element tree (name, namespace, attributes, text,
 * children) as built by the stream parser and by code that sends.  A leaf
 * module.  Text of an element is the concatenation of its character data
 * (mixed content is not kept in order; XMPP does not need it).
 */
#ifndef XMPPD_STANZA_H
#define XMPPD_STANZA_H

#include <stddef.h>

struct stanza;

/* A new element; ns may be NULL (inherit).  Never fails (fatal on OOM). */
struct stanza	*stanza_new(const char *name, const char *ns);
/*
 * For the parser: an element of a tree that lives in one arena, freed all
 * at once with its root.  parent NULL starts a tree (the root); otherwise
 * the element is appended to parent, which must be from this function.
 * nattrs reserves room for that many attributes.  An inner element of
 * such a tree stays valid only as long as its root, and cannot be adopted
 * into another tree; the root itself can.
 */
struct stanza	*stanza_new_parsed(struct stanza *parent, const char *name,
		    const char *ns, size_t nattrs);
/* Frees s and its children, unlinking s from its parent; NULL is a no-op. */
void		 stanza_free(struct stanza *);

const char	*stanza_name(const struct stanza *);
const char	*stanza_ns(const struct stanza *);	/* NULL: none given */
/* Attribute by name ("type", "xml:lang", ...); NULL when absent. */
const char	*stanza_attr(const struct stanza *, const char *name);
/* Set (replace) an attribute; value NULL removes it. */
void		 stanza_set_attr(struct stanza *, const char *name, const char *value);
/*
 * Append an attribute without looking for one of the same name: for the
 * parser, whose input expat has already checked for duplicates.
 */
void		 stanza_add_attr(struct stanza *, const char *name, const char *value);
/* Iterate attributes: i from 0; returns 0 at the end. */
int		 stanza_attr_at(const struct stanza *, size_t i, const char **name, const char **value);

/* Text content ("" when none). */
const char	*stanza_text(const struct stanza *);
size_t		 stanza_text_len(const struct stanza *);
void		 stanza_append_text(struct stanza *, const char *, size_t);

/* New child appended to parent and owned by it; returns the child. */
struct stanza	*stanza_add_child(struct stanza *parent, const char *name, const char *ns);
/* Append an existing tree (moved if it has a parent); parent owns it. */
void		 stanza_adopt(struct stanza *parent, struct stanza *child);
/* Convenience: child with text. */
struct stanza	*stanza_add_text_child(struct stanza *parent, const char *name,
		    const char *ns, const char *text);
/*
 * First child matching name and ns (either NULL matches any).  The
 * namespace compared is the child's namespace in effect, inherited when it
 * was built with NULL.
 */
struct stanza	*stanza_child(const struct stanza *, const char *name, const char *ns);
struct stanza	*stanza_first_child(const struct stanza *);
struct stanza	*stanza_next_sibling(const struct stanza *);
struct stanza	*stanza_parent(const struct stanza *);

/*
 * Serialize with XML escaping.  An xmlns attribute is written only where an
 * element's namespace differs from the one in scope (inherited_ns for the
 * root, e.g. "jabber:client" for stanzas on a client stream).  An element
 * without a namespace of its own takes one from an "xmlns" attribute if it
 * has one (the parser records declarations as xmlns and xmlns:prefix
 * attributes); an attribute named "xmlns" is never written as such.
 * Attribute names are written as they are ("xml:lang").  Returns a new
 * NUL-terminated string, its length in *lenp when lenp is not NULL.
 */
char		*stanza_to_string(const struct stanza *, const char *inherited_ns,
		    size_t *lenp);

/*
 * The same into *bufp, a buffer of *capp bytes that the caller keeps
 * across calls (NULL and 0 at first) and frees: grown as needed, so that
 * sending costs no allocation once it is big enough.  Returns the length
 * of the NUL-terminated result.
 */
size_t		 stanza_serialize(const struct stanza *, const char *inherited_ns,
		    char **bufp, size_t *capp);

/* Escape text for XML character data and attribute values (new string). */
char		*xml_escape(const char *, size_t);

#endif
