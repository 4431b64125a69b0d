/*
 * bucket.h: a token bucket, the outbox's rate limit.  Pure arithmetic on
 * a caller-supplied monotonic clock (milliseconds), so tests drive it
 * without sleeping.  Tokens are kept in thousandths to allow rates below
 * one per second without floating point.
 */
#ifndef XMPPD_BUCKET_H
#define XMPPD_BUCKET_H

#include <stdint.h>

struct bucket {
	uint64_t	rate_milli;	/* tokens per second, x1000; 0: no limit */
	uint64_t	cap_milli;	/* burst, x1000 */
	uint64_t	level_milli;
	uint64_t	last_ms;
};

/* rate_milli: thousandths of a token per second (0: unlimited). */
void		bucket_init(struct bucket *, uint64_t rate_milli,
		    unsigned int burst, uint64_t now_ms);
/*
 * Take one token.  Returns 0 when it was taken, else the milliseconds to
 * wait until one is available (at least 1).
 */
uint64_t	bucket_take(struct bucket *, uint64_t now_ms);

#endif
