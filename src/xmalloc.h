/*
 * xmalloc.h: allocators that end the process on exhaustion.  For small
 * internal allocations only; sizes from a peer are checked before.
 */
#ifndef XMPPD_XMALLOC_H
#define XMPPD_XMALLOC_H

#include <stddef.h>

/* Allocations made through this file so far: for tests of hot paths. */
extern unsigned long long xmalloc_calls;

void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xreallocarray(void *, size_t, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
int	 xasprintf(char **, const char *, ...)
	    __attribute__((__format__(printf, 2, 3)));
void	 freezero_str(char *);

#endif
