/*
 * iq.h: the pending-IQ table (owned by the connection).  One entry per
 * request in flight: its id (random, from the kernel), the sender its
 * answer must come from (RFC 6120 section 8.1.2.1), an optional deadline
 * and the callback that learns the outcome.  Pure: no I/O, no timers of
 * its own; the owner feeds it incoming iq results, the time, and the end
 * of a stream, and arms one timer for iq_table_next_deadline().
 *
 * Callbacks may send new requests or cancel others: an entry is out of
 * the table before its callback runs.
 */
#ifndef XMPPD_IQ_H
#define XMPPD_IQ_H

#include <stddef.h>
#include <stdint.h>

struct stanza;

enum iq_outcome { IQ_RESULT, IQ_ERROR, IQ_TIMEOUT, IQ_GONE };
/* reply is the <iq/> for IQ_RESULT/IQ_ERROR, NULL otherwise. IQ_GONE: the
   stream ended (not resumed) before an answer, or the request was cancelled. */
typedef void (*iq_cb)(void *arg, enum iq_outcome, const struct stanza *reply);

struct iq_table;

/* The account whose requests these are: bare JID and domain (copied). */
struct iq_table	*iq_table_new(const char *bare, const char *domain);
/* Frees the table; pending requests end with IQ_GONE first. */
void		 iq_table_free(struct iq_table *);
void		 iq_table_set_account(struct iq_table *, const char *bare,
		    const char *domain);

/*
 * Track iq (not taken over): gives it a fresh unpredictable id and
 * records its 'to' as the expected sender.  deadline_ms is in the clock
 * of iq_table_expire() (0: no deadline).  Returns the id (valid until the
 * entry ends).
 */
const char	*iq_table_add(struct iq_table *, struct stanza *iq,
		    uint64_t deadline_ms, iq_cb, void *arg);
/*
 * An incoming <iq type='result'/'error'/>: when id and sender match a
 * pending request, the entry ends and its callback runs (returns 1).
 * Otherwise 0: not ours (wrong id, or right id from the wrong sender).
 */
int		 iq_table_input(struct iq_table *, const struct stanza *iq);
/* Ends every entry whose deadline is <= now_ms with IQ_TIMEOUT. */
void		 iq_table_expire(struct iq_table *, uint64_t now_ms);
/* The earliest deadline, 0 when none. */
uint64_t	 iq_table_next_deadline(const struct iq_table *);
/* Drops every entry whose arg is arg, without callback. */
void		 iq_table_cancel(struct iq_table *, void *arg);
/* The stream ended: every entry ends with IQ_GONE. */
void		 iq_table_gone(struct iq_table *);
size_t		 iq_table_count(const struct iq_table *);

/*
 * Is from an acceptable sender of the answer to a request sent to 'to'
 * (NULL: none) by the account bare@domain?  No 'to': none, the bare JID
 * or the domain; to the domain: none or the domain; to the bare JID: none
 * or the bare JID; otherwise exactly 'to'.  Domains and localparts are
 * compared without ASCII case, resources exactly.
 */
int		 iq_sender_ok(const char *to, const char *from,
		    const char *bare, const char *domain);

#endif
