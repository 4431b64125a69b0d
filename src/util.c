/*
 * util.c: base64, number parsing, UTF-8 and XML text validation, private
 * files, clocks, kernel randomness.  No library beyond libc, so xmppd-ctl
 * links nothing else.
 */
#include "compat.h"

#include <sys/random.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util.h"
#include "xmalloc.h"

char *
b64_encode(const void *in, size_t len)
{
	static const char	 tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char	*p = in;
	char			*out, *o;
	uint32_t		 v;
	size_t			 i;

	out = o = xmalloc(4 * ((len + 2) / 3) + 1);
	for (i = 0; i + 2 < len; i += 3) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		*o++ = tab[v >> 18];
		*o++ = tab[(v >> 12) & 63];
		*o++ = tab[(v >> 6) & 63];
		*o++ = tab[v & 63];
	}
	if (i < len) {
		v = (uint32_t)p[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)p[i + 1] << 8;
		*o++ = tab[v >> 18];
		*o++ = tab[(v >> 12) & 63];
		*o++ = i + 1 < len ? tab[(v >> 6) & 63] : '=';
		*o++ = '=';
	}
	*o = '\0';
	return out;
}

static int
b64_val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int
b64_decode(const char *in, size_t len, unsigned char **outp, size_t *outlen)
{
	unsigned char	*out;
	size_t		 i, o = 0, pad = 0;
	uint32_t	 acc = 0;
	int		 v;

	*outp = NULL;
	*outlen = 0;
	if (len == 1 && in[0] == '=') {
		*outp = xcalloc(1, 1);
		return 0;
	}
	if (len % 4 != 0)
		return -1;
	out = xmalloc(len / 4 * 3 + 1);
	for (i = 0; i < len; i++) {
		if (in[i] == '=') {
			if (i < len - 2)
				goto bad;
			pad++;
			v = 0;
		} else {
			if (pad || (v = b64_val(in[i])) < 0)
				goto bad;
		}
		acc = acc << 6 | (uint32_t)v;
		if (i % 4 == 3) {
			out[o++] = acc >> 16;
			out[o++] = acc >> 8;
			out[o++] = acc;
			acc = 0;
		}
	}
	o -= pad;
	out[o] = '\0';
	*outp = out;
	*outlen = o;
	return 0;
bad:
	free(out);
	return -1;
}

long long
xstrtonum(const char *s, long long min, long long max, const char **errstr)
{
	long long	 v;
	char		*end;

	*errstr = NULL;
	if (min > max || s == NULL || *s == '\0') {
		*errstr = "invalid";
		return 0;
	}
	errno = 0;
	v = strtoll(s, &end, 10);
	if (*end != '\0' || end == s)
		*errstr = "invalid";
	else if ((v == LLONG_MIN && errno == ERANGE) || v < min)
		*errstr = "too small";
	else if ((v == LLONG_MAX && errno == ERANGE) || v > max)
		*errstr = "too large";
	return *errstr ? 0 : v;
}

int
utf8_valid(const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i = 0, n, k;
	uint32_t		 cp;

	while (i < len) {
		unsigned char c = p[i];

		if (c == 0)
			return 0;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else
			return 0;
		if (len - i <= n)
			return 0;
		for (k = 1; k <= n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (p[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += n + 1;
	}
	return 1;
}

/*
 * mkdir -p with mode 0700 for each directory created; existing ones are
 * left as they are.  -1 with errno.
 */
int
mkdir_parents(const char *dir)
{
	char	*p, *s;
	int	 r = 0, saved;

	if (mkdir(dir, 0700) == 0 || errno == EEXIST)
		return 0;
	if (errno != ENOENT)
		return -1;
	s = xstrdup(dir);
	for (p = s + 1; r == 0 && (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		if (mkdir(s, 0700) == -1 && errno != EEXIST)
			r = -1;
		*p = '/';
	}
	if (r == 0 && mkdir(s, 0700) == -1 && errno != EEXIST)
		r = -1;
	saved = errno;
	free(s);
	errno = saved;
	return r;
}

int
write_private_file(const char *dir, const char *path,
    void (*fill)(FILE *, void *), void *arg, char **cause)
{
	char	*tmp;
	FILE	*f = NULL;
	int	 fd, r = -1;

	if (mkdir_parents(dir) == -1) {
		xasprintf(cause, "cannot create %s: %s", dir, strerror(errno));
		return -1;
	}
	xasprintf(&tmp, "%s.tmp", path);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) == -1 || (f = fdopen(fd, "w")) == NULL) {
		xasprintf(cause, "cannot write %s: %s", tmp, strerror(errno));
		if (fd != -1)
			close(fd);
		goto done;
	}
	fill(f, arg);
	if (fclose(f) != 0 || rename(tmp, path) == -1) {
		xasprintf(cause, "cannot write %s: %s", path, strerror(errno));
		unlink(tmp);
		goto done;
	}
	r = 0;
done:
	free(tmp);
	return r;
}

uint64_t
monotime_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The code point of the UTF-8 sequence at p (at most left bytes), or -1. */
static long
utf8_decode(const unsigned char *p, size_t left, size_t *n)
{
	uint32_t	cp;
	size_t		k, more;

	if (p[0] < 0x80) {
		*n = 1;
		return p[0];
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		more = 1;
		cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		more = 2;
		cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		more = 3;
		cp = p[0] & 0x07;
	} else
		return -1;
	if (left <= more)
		return -1;
	for (k = 1; k <= more; k++) {
		if ((p[k] & 0xc0) != 0x80)
			return -1;
		cp = cp << 6 | (p[k] & 0x3f);
	}
	if ((more == 2 && cp < 0x800) || (more == 3 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	*n = more + 1;
	return (long)cp;
}

int
xml_text_valid(const char *s, size_t len, char *err, size_t errsize)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i = 0, n = 0;
	long			 cp;

	while (i < len) {
		if ((cp = utf8_decode(p + i, len - i, &n)) == -1) {
			if (err != NULL)
				snprintf(err, errsize, "invalid UTF-8 at "
				    "byte %zu", i);
			return 0;
		}
		if (cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') {
			if (err != NULL)
				snprintf(err, errsize, "control character "
				    "U+%04lX at byte %zu", (unsigned long)cp,
				    i);
			return 0;
		}
		if (cp == 0xfffe || cp == 0xffff) {
			if (err != NULL)
				snprintf(err, errsize, "character U+%04lX at "
				    "byte %zu is not allowed in XML",
				    (unsigned long)cp, i);
			return 0;
		}
		i += n;
	}
	return 1;
}

/*
 * getrandom(2) blocks only until the kernel pool is first seeded, early
 * at boot.  Without it (ENOSYS in an old sandbox), /dev/urandom; with
 * neither there is no unpredictable source, and guessing one is worse
 * than stopping.
 */
static uint32_t
rand_u32(void)
{
	uint32_t	v;
	ssize_t		n;
	int		fd;

	do
		n = getrandom(&v, sizeof(v), 0);
	while (n == -1 && errno == EINTR);
	if (n == (ssize_t)sizeof(v))
		return v;
	if ((fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)) != -1) {
		n = read(fd, &v, sizeof(v));
		close(fd);
		if (n == (ssize_t)sizeof(v))
			return v;
	}
	abort();
}

uint32_t
rand_uniform(uint32_t upper)
{
	uint32_t	v, min;

	if (upper < 2)
		return 0;
	/* Reject the few values that would favour the low results. */
	min = (uint32_t)-upper % upper;
	do
		v = rand_u32();
	while (v < min);
	return v % upper;
}

size_t
weighted_pick(const uint16_t *weights, size_t n)
{
	uint64_t	sum = 0, run = 0, pick;
	size_t		i;

	for (i = 0; i < n; i++)
		sum += weights[i];
	if (sum == 0 || sum >= UINT32_MAX)
		return rand_uniform((uint32_t)n);
	/* RFC 2782: a number in 0..sum, the first running sum >= it. */
	pick = rand_uniform((uint32_t)sum + 1);
	for (i = 0; i < n; i++) {
		run += weights[i];
		if (run >= pick)
			return i;
	}
	return n - 1;
}

#ifndef HAVE_STRLCPY
size_t
strlcpy(char *dst, const char *src, size_t size)
{
	size_t	len = strlen(src);

	if (size != 0) {
		size_t n = len >= size ? size - 1 : len;

		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return len;
}
#endif

int
presence_saved_parse(const char *buf, size_t len, char **show,
    char **status)
{
	const char	*nl;
	char		 sh[16];
	size_t		 n;

	*show = *status = NULL;
	if (len > PRESENCE_SAVED_MAX ||
	    (nl = memchr(buf, '\n', len)) == NULL ||
	    (n = nl - buf) == 0 || n >= sizeof(sh))
		return -1;
	memcpy(sh, buf, n);
	sh[n] = '\0';
	len -= n + 1;
	if (!presence_show_valid(sh) || memchr(nl + 1, '\0', len) != NULL ||
	    !xml_text_valid(nl + 1, len, NULL, 0))
		return -1;
	if (strcmp(sh, "available") != 0)
		*show = xstrdup(sh);
	if (len > 0)
		*status = xstrndup(nl + 1, len);
	return 0;
}

int
presence_show_valid(const char *show)
{
	static const char *const shows[] = {
		"available", "away", "chat", "dnd", "xa"
	};
	size_t	i;

	for (i = 0; i < nitems(shows); i++)
		if (strcmp(show, shows[i]) == 0)
			return 1;
	return 0;
}
