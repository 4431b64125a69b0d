/*
 * backoff.c: exponential backoff with full jitter.  Spreading retries
 * uniformly over the whole window (rather than adding a little noise to a
 * fixed delay) keeps a fleet of bots that lost the same server from
 * reconnecting in lock step when it comes back.
 */
#include "compat.h"

#include <sys/random.h>

#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "backoff.h"

static uint32_t	backoff_rand_default(void *);

/*
 * getrandom(2) never blocks once the pool is initialised; early at boot or
 * on an old kernel fall back to random(), which is good enough for jitter.
 */
static uint32_t
backoff_rand_default(void *arg)
{
	static int	seeded;
	uint32_t	r;

	(void)arg;
	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) == (ssize_t)sizeof(r))
		return r;
	if (!seeded) {
		srandom((unsigned int)time(NULL) ^ (unsigned int)getpid());
		seeded = 1;
	}
	/* random() yields 31 bits; two calls cover all 32. */
	return (uint32_t)random() << 16 ^ (uint32_t)random();
}

void
backoff_init(struct backoff *b, uint32_t min_ms, uint32_t max_ms)
{
	b->min_ms = min_ms;
	b->max_ms = max_ms < min_ms ? min_ms : max_ms;
	b->attempt = 0;
	b->rand = NULL;
	b->rand_arg = NULL;
}

uint32_t
backoff_ceiling(const struct backoff *b)
{
	uint64_t	c;

	if (b->max_ms <= b->min_ms)
		return b->min_ms;
	/* min_ms < 2^32, so a shift below 32 cannot overflow 64 bits. */
	if (b->attempt >= 32)
		return b->max_ms;
	c = (uint64_t)b->min_ms << b->attempt;
	return c > b->max_ms ? b->max_ms : (uint32_t)c;
}

uint32_t
backoff_next(struct backoff *b)
{
	uint64_t	span;
	uint32_t	r;

	span = (uint64_t)backoff_ceiling(b) - b->min_ms + 1;
	r = b->rand != NULL ? b->rand(b->rand_arg) :
	    backoff_rand_default(NULL);
	if (b->attempt < UINT32_MAX)
		b->attempt++;
	/* Scale r onto [0, span) by multiplication: no modulo, no overflow. */
	return b->min_ms + (uint32_t)(((uint64_t)r * span) >> 32);
}

void
backoff_reset(struct backoff *b)
{
	b->attempt = 0;
}
