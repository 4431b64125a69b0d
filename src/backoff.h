/*
 * backoff.h: exponential backoff with full jitter (the AWS "full jitter"
 * schedule): attempt n waits uniform(0, min(max, min_s * 2^n)), never less
 * than min_s.  A leaf module.
 */
#ifndef XMPPD_BACKOFF_H
#define XMPPD_BACKOFF_H

#include <stdint.h>

struct backoff {
	uint32_t	min_ms;
	uint32_t	max_ms;
	uint32_t	attempt;	/* failures since the last reset */
	uint32_t	(*rand)(void *);	/* NULL: arc4random-like */
	void		*rand_arg;
};

void		backoff_init(struct backoff *, uint32_t min_ms, uint32_t max_ms);
/* Delay before the next try, in ms; counts the attempt. */
uint32_t	backoff_next(struct backoff *);
/* Upper bound of the jitter window for the next attempt (for tests, logs). */
uint32_t	backoff_ceiling(const struct backoff *);
void		backoff_reset(struct backoff *);

#endif
