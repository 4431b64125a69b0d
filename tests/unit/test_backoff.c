/*
 * test_backoff.c: the full-jitter schedule, driven by an injected random
 * source so that every delay is predictable.
 */
#include "compat.h"

#include <stdint.h>

#include "backoff.h"
#include "tap.h"

static uint32_t	fixed_rand(void *);
static uint32_t	lcg_rand(void *);
static void	ceilings(void);
static void	extremes(void);
static void	window(void);
static void	reset(void);
static void	overflow(void);
static void	defaults(void);

/* Returns *(uint32_t *)arg, so a test chooses where in the window to land. */
static uint32_t
fixed_rand(void *arg)
{
	return *(uint32_t *)arg;
}

/* A deterministic spread over all 32 bits. */
static uint32_t
lcg_rand(void *arg)
{
	uint64_t	*st = arg;

	*st = *st * 6364136223846793005ULL + 1442695040888963407ULL;
	return (uint32_t)(*st >> 32);
}

static void
ceilings(void)
{
	static const uint32_t want[] = { 1000, 2000, 4000, 8000, 16000, 32000,
	    64000, 128000, 256000, 300000, 300000, 300000 };
	struct backoff	b;
	uint32_t	r = 0;
	unsigned int	i;

	backoff_init(&b, 1000, 300000);
	is_int(b.attempt, 0, "init: attempt 0");
	b.rand = fixed_rand;
	b.rand_arg = &r;
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		is_int(backoff_ceiling(&b), want[i], "ceiling %u is %u", i,
		    want[i]);
		backoff_next(&b);
	}
	is_int(b.attempt, 12, "12 attempts counted");

	backoff_init(&b, 1, 300);
	for (i = 0; i < 9; i++)
		backoff_next(&b);
	is_int(backoff_ceiling(&b), 300, "seconds: 1,2,4..256 then 300");
}

/* rand 0 gives the minimum, rand UINT32_MAX the ceiling itself. */
static void
extremes(void)
{
	struct backoff	b;
	uint32_t	r;

	backoff_init(&b, 1000, 60000);
	b.rand = fixed_rand;
	b.rand_arg = &r;
	r = 0;
	is_int(backoff_next(&b), 1000, "first delay is min");
	r = UINT32_MAX;
	is_int(backoff_next(&b), 2000, "second, top of window: 2000");
	is_int(backoff_next(&b), 4000, "third, top of window: 4000");
	r = 0;
	is_int(backoff_next(&b), 1000, "fourth, bottom: never below min");
	r = UINT32_MAX / 2;
	is_int(backoff_next(&b), 1000 + 15000 / 2, "fifth, middle");
}

static void
window(void)
{
	struct backoff	b;
	uint64_t	st = 42;
	uint32_t	c, d, lo = UINT32_MAX, hi = 0;
	int		i, inside = 1;

	backoff_init(&b, 500, 20000);
	b.rand = lcg_rand;
	b.rand_arg = &st;
	for (i = 0; i < 2000; i++) {
		c = backoff_ceiling(&b);
		d = backoff_next(&b);
		if (d < 500 || d > c)
			inside = 0;
		if (c == 20000) {
			lo = d < lo ? d : lo;
			hi = d > hi ? d : hi;
		}
	}
	ok(inside, "2000 delays within [min, ceiling]");
	ok(lo < 1500 && hi > 19000, "capped delays spread over the window "
	    "(%u..%u)", lo, hi);
}

static void
reset(void)
{
	struct backoff	b;
	uint32_t	r = UINT32_MAX;

	backoff_init(&b, 2000, 64000);
	b.rand = fixed_rand;
	b.rand_arg = &r;
	backoff_next(&b);
	backoff_next(&b);
	backoff_next(&b);
	is_int(backoff_ceiling(&b), 16000, "three failures: ceiling 16000");
	backoff_reset(&b);
	is_int(b.attempt, 0, "reset: attempt 0");
	is_int(backoff_ceiling(&b), 2000, "reset: ceiling back to min");
	is_int(backoff_next(&b), 2000, "reset: next delay is min");
	ok(b.rand == fixed_rand, "reset keeps the random source");
}

static void
overflow(void)
{
	struct backoff	b;
	uint32_t	r = UINT32_MAX, d = 0;
	int		i, capped = 1;

	backoff_init(&b, 3000, 86400000);
	b.rand = fixed_rand;
	b.rand_arg = &r;
	for (i = 0; i < 1000; i++) {
		d = backoff_next(&b);
		if (i >= 15 && d != 86400000)
			capped = 0;
	}
	ok(capped, "1000 attempts: the top of the window stays at max");
	is_int(backoff_ceiling(&b), 86400000, "ceiling after 1000 is max");
	is_int(b.attempt, 1000, "attempt counts to 1000");

	backoff_init(&b, UINT32_MAX / 2 + 1, UINT32_MAX);
	b.rand = fixed_rand;
	b.rand_arg = &r;
	backoff_next(&b);
	is_int(backoff_ceiling(&b), UINT32_MAX, "huge min: 2*min capped");
	is_int(backoff_next(&b), UINT32_MAX, "huge min: delay at the cap");

	backoff_init(&b, 0, UINT32_MAX);
	b.rand = fixed_rand;
	b.rand_arg = &r;
	is_int(backoff_next(&b), 0, "min 0: stays 0, no wrap");

	b.attempt = UINT32_MAX;
	b.min_ms = 1;
	backoff_next(&b);
	is_int(b.attempt, UINT32_MAX, "attempt counter saturates");

	backoff_init(&b, 5000, 1000);
	is_int(b.max_ms, 5000, "max below min is raised to min");
	is_int(backoff_ceiling(&b), 5000, "and the ceiling is min");
}

/* The default source: only its range can be checked. */
static void
defaults(void)
{
	struct backoff	b;
	uint32_t	d, c;
	int		i, inside = 1;

	backoff_init(&b, 100, 10000);
	ok(b.rand == NULL && b.rand_arg == NULL, "init: default rand");
	for (i = 0; i < 200; i++) {
		c = backoff_ceiling(&b);
		d = backoff_next(&b);
		if (d < 100 || d > c)
			inside = 0;
	}
	ok(inside, "default rand: delays within [min, ceiling]");
}

int
main(void)
{
	ceilings();
	extremes();
	window();
	reset();
	overflow();
	defaults();
	return done_testing();
}
