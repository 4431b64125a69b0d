/*
 * bucket.c: the token bucket (see bucket.h).  It starts full, so a short
 * burst leaves at once and only a long one is paced.
 */
#include "compat.h"

#include "bucket.h"

void
bucket_init(struct bucket *b, uint64_t rate_milli, unsigned int burst,
    uint64_t now_ms)
{
	b->rate_milli = rate_milli;
	b->cap_milli = (uint64_t)(burst > 0 ? burst : 1) * 1000;
	b->level_milli = b->cap_milli;
	b->last_ms = now_ms;
}

static void
bucket_refill(struct bucket *b, uint64_t now_ms)
{
	uint64_t	elapsed, add;

	if (now_ms <= b->last_ms)
		return;
	elapsed = now_ms - b->last_ms;
	/* Cap the interval first so the product cannot overflow. */
	if (elapsed > 1000ULL * 86400)
		elapsed = 1000ULL * 86400;
	add = elapsed * b->rate_milli / 1000;
	if (add == 0)
		return;		/* keep last_ms: the fraction still counts */
	b->level_milli += add;
	if (b->level_milli > b->cap_milli)
		b->level_milli = b->cap_milli;
	b->last_ms = now_ms;
}

uint64_t
bucket_take(struct bucket *b, uint64_t now_ms)
{
	uint64_t	missing, wait;

	if (b->rate_milli == 0)
		return 0;
	bucket_refill(b, now_ms);
	if (b->level_milli >= 1000) {
		b->level_milli -= 1000;
		return 0;
	}
	missing = 1000 - b->level_milli;
	wait = (missing * 1000 + b->rate_milli - 1) / b->rate_milli;
	return wait > 0 ? wait : 1;
}
