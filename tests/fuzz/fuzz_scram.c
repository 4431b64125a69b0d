/*
 * fuzz_scram.c: libFuzzer target for the SCRAM client in sasl.c.
 *
 * Input: server-first-message [NUL server-final-message].  Four clients
 * with fixed nonces (those of the RFC 5802, RFC 7677 and unit test
 * vectors, so the seeds run all the way to a verified server signature)
 * send their client-first-message; each gets the first part in sasl_step()
 * and, when that succeeds, the rest in sasl_finish().  A server-first-
 * message only passes the nonce check of the client whose nonce it
 * extends, so at most one client runs PBKDF2 per input.
 *
 * Iteration counts: sasl.c accepts up to 1000000, which costs seconds of
 * PBKDF2 under the sanitizers.  The harness (not sasl.c) skips sasl_step()
 * when an i= value in the message would be accepted but is above
 * FUZZ_MAX_ITER; values sasl.c rejects cheaply still go through.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sasl.h"

#define FUZZ_MAX_ITER	10000

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct client {
	enum sasl_mech	 mech;
	enum sasl_cb	 cb;
	char		 flag;
	const char	*user;
	const char	*pass;
	const char	*nonce;
	const char	*first;		/* expected client-first-message */
	size_t		 hlen;		/* hash length */
};

static const struct client clients[] = {
	{ SASL_SCRAM_SHA1, SASL_CB_NONE, 'n', "user", "pencil",
	    "fyko+d2lbbFgONRv9qkxdawL",
	    "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL", 20 },
	{ SASL_SCRAM_SHA256, SASL_CB_NONE, 'n', "user", "pencil",
	    "rOprNGfwEbeRWgbNEkqO",
	    "n,,n=user,r=rOprNGfwEbeRWgbNEkqO", 32 },
	{ SASL_SCRAM_SHA512, SASL_CB_NONE, 'n', "al,ice=x",
	    "correct horse \xe2\x98\x83", "Q2xpZW50Tm9uY2VGb3JTSEE1MTI",
	    "n,,n=al=2Cice=3Dx,r=Q2xpZW50Tm9uY2VGb3JTSEE1MTI", 64 },
	{ SASL_SCRAM_SHA256_PLUS, SASL_CB_TLS_EXPORTER, 'p', "juliet", "r0m30",
	    "cbnonce0123456789",
	    "p=tls-exporter,,n=juliet,r=cbnonce0123456789", 32 },
	{ SASL_SCRAM_SHA1, SASL_CB_NONE, 'y', "user", "pencil",
	    "yflag-nonce",
	    "y,,n=user,r=yflag-nonce", 20 },
};

static void	 fail(const char *, ...)
		    __attribute__((__noreturn__, __format__(printf, 1, 2)));
static int	 iter_cheap(const unsigned char *, size_t);
static void	 check_err(const char *, const struct client *);
static void	 check_final(const unsigned char *, size_t,
		    const unsigned char *, size_t, const struct client *);
static void	 run_client(const struct client *, const unsigned char *,
		    size_t, const unsigned char *, size_t, int);
static void	 run_plain(const unsigned char *, size_t);

static void
fail(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	fputs("fuzz_scram: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	abort();
}

/*
 * 0 when some "i=" attribute holds a count sasl.c would accept but that
 * is above FUZZ_MAX_ITER (all digits, at most 10 of them, at most
 * SASL_SCRAM_MAX_ITER).  Checks every attribute, not only the third, to
 * stay on the safe side of the parser.
 */
static int
iter_cheap(const unsigned char *m, size_t len)
{
	size_t			i = 0, j, digits;
	unsigned long long	n;

	while (i < len) {
		if (i + 1 < len && m[i] == 'i' && m[i + 1] == '=') {
			n = 0;
			digits = 0;
			for (j = i + 2; j < len && m[j] != ','; j++) {
				if (m[j] < '0' || m[j] > '9')
					break;
				if (n < 100000000000ULL)
					n = n * 10 + (m[j] - '0');
				digits++;
			}
			if ((j == len || m[j] == ',') && digits > 0 &&
			    digits <= 10 && n > FUZZ_MAX_ITER &&
			    n <= SASL_SCRAM_MAX_ITER)
				return 0;
		}
		while (i < len && m[i] != ',')
			i++;
		i++;
	}
	return 1;
}

static void
check_err(const char *errstr, const struct client *c)
{
	if (errstr == NULL || *errstr == '\0')
		fail("failure without an error string");
	if (strstr(errstr, c->pass) != NULL)
		fail("error string contains the password: %s", errstr);
}

/* client-final-message = "c=" cbind ",r=" server-nonce ",p=" proof */
static void
check_final(const unsigned char *out, size_t outlen,
    const unsigned char *first, size_t flen, const struct client *c)
{
	const unsigned char	*comma;
	const char		*p;
	size_t			 nlen, plen;

	if (out == NULL || outlen == 0 || memchr(out, '\0', outlen) != NULL ||
	    out[outlen] != '\0')
		fail("client-final-message is not a C string of its length");
	if (strncmp((const char *)out, "c=", 2) != 0)
		fail("client-final-message does not start with c=: %s", out);
	/* The server nonce is the value of the leading r=. */
	comma = memchr(first, ',', flen);
	nlen = (size_t)(comma - first) - 2;
	if ((p = strstr((const char *)out, ",r=")) == NULL ||
	    strncmp(p + 3, (const char *)first + 2, nlen) != 0 ||
	    strncmp(p + 3 + nlen, ",p=", 3) != 0)
		fail("client-final-message does not echo the server nonce: "
		    "%s", out);
	p += 3 + nlen + 3;
	plen = strlen(p);
	if (plen != (c->hlen + 2) / 3 * 4)
		fail("proof of %zu base64 characters for a %zu-byte hash",
		    plen, c->hlen);
}

static void
run_client(const struct client *c, const unsigned char *first, size_t flen,
    const unsigned char *final, size_t finlen, int step)
{
	static unsigned char	 cbdata[32];
	struct sasl_choice	 ch;
	struct sasl		*s;
	unsigned char		*out;
	const char		*errstr;
	size_t			 outlen, i;

	for (i = 0; i < sizeof(cbdata); i++)
		cbdata[i] = (unsigned char)(0xa0 + i);
	ch.mech = c->mech;
	ch.cb = c->cb;
	ch.gs2_flag = c->flag;
	s = sasl_new(&ch, c->user, c->pass, cbdata, sizeof(cbdata));
	sasl_set_nonce(s, c->nonce);
	if (sasl_initial(s, &out, &outlen) != 0)
		fail("sasl_initial failed for %s", sasl_mech_name(c->mech));
	if (outlen != strlen(c->first) || memcmp(out, c->first, outlen) != 0)
		fail("client-first-message %.*s, expected %s", (int)outlen,
		    (const char *)out, c->first);
	free(out);

	if (!step) {
		sasl_free(s);
		return;
	}
	errstr = NULL;
	if (sasl_step(s, first, flen, &out, &outlen, &errstr) != 0) {
		check_err(errstr, c);
		if (out != NULL || outlen != 0)
			fail("sasl_step failed but returned output");
		/* The object is spent: nothing more may succeed. */
		errstr = NULL;
		if (sasl_finish(s, final, finlen, &errstr) == 0)
			fail("sasl_finish succeeded after a failed step");
		check_err(errstr, c);
		sasl_free(s);
		return;
	}
	check_final(out, outlen, first, flen, c);
	free(out);

	errstr = NULL;
	if (sasl_finish(s, final, finlen, &errstr) != 0)
		check_err(errstr, c);
	else if (finlen < 2 || memcmp(final, "v=", 2) != 0)
		fail("sasl_finish accepted a message without v=");
	/* Whatever happened, a second round is refused. */
	errstr = NULL;
	if (sasl_step(s, first, flen, &out, &outlen, &errstr) == 0)
		fail("sasl_step succeeded twice");
	check_err(errstr, c);
	sasl_free(s);
}

/* PLAIN takes no challenge, and success carries no data. */
static void
run_plain(const unsigned char *data, size_t len)
{
	struct sasl_choice	 ch = { SASL_PLAIN, SASL_CB_NONE, 'n' };
	struct sasl		*s;
	unsigned char		*out;
	const char		*errstr = NULL;
	size_t			 outlen;
	int			 r;

	s = sasl_new(&ch, "user", "pencil", NULL, 0);
	if (sasl_initial(s, &out, &outlen) != 0)
		fail("PLAIN sasl_initial failed");
	free(out);
	r = sasl_finish(s, data, len, &errstr);
	if ((r == 0) != (len == 0))
		fail("PLAIN sasl_finish returned %d for %zu bytes", r, len);
	sasl_free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const unsigned char	*nul, *final;
	size_t			 flen, finlen, i;
	int			 step;

	if ((nul = memchr(data, '\0', size)) != NULL) {
		flen = (size_t)(nul - data);
		final = nul + 1;
		finlen = size - flen - 1;
	} else {
		flen = size;
		final = data + size;
		finlen = 0;
	}
	step = iter_cheap(data, flen);
	for (i = 0; i < sizeof(clients) / sizeof(clients[0]); i++)
		run_client(&clients[i], data, flen, final, finlen, step);
	run_plain(final, finlen);
	return 0;
}
