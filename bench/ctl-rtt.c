/*
 * ctl-rtt.c: the control socket seen from a client that is already
 * running, for scripts/bench (xmppd-ctl's own start-up is measured
 * separately, by running it).
 *
 *	ctl-rtt -s SOCKET [-n N] COMMAND [ARG ...]
 *		N times: connect, read the greeting, send COMMAND, read up to
 *		the final OK/ERR line, close.  Prints "median_us", "p90_us",
 *		"min_us" lines.
 *	ctl-rtt -s SOCKET -t COMMAND [ARG ...]
 *		Once, and print "sent T" (wall clock, just before the write)
 *		and "reply T LINE" when the final line arrives: the trigger
 *		for "reconnect → online", without xmppd-ctl's exec in it.
 * Exit status: 0 when every reply was OK, 1 otherwise.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double
wall(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double
mono(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Read lines until one that starts with "OK" or "ERR"; 1 OK, 0 ERR, -1 I/O. */
static int
read_final(int fd, int greeting, char *last, size_t lastsz)
{
	char	buf[8192];
	size_t	len = 0;
	ssize_t	n;
	char	*nl, *line;

	for (;;) {
		while ((nl = memchr(buf, '\n', len)) != NULL) {
			*nl = '\0';
			line = buf;
			if (greeting && line[0] == '*') {
				memmove(buf, nl + 1, len - (nl + 1 - buf));
				len -= nl + 1 - buf;
				return 1;
			}
			if (strncmp(line, "OK", 2) == 0 ||
			    strncmp(line, "ERR", 3) == 0) {
				snprintf(last, lastsz, "%.*s", (int)lastsz - 1, line);
				return line[0] == 'O';
			}
			memmove(buf, nl + 1, len - (nl + 1 - buf));
			len -= nl + 1 - buf;
		}
		if (len == sizeof(buf))
			len = 0;	/* a long data line: drop it */
		n = read(fd, buf + len, sizeof(buf) - len);
		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			return -1;
		}
		len += (size_t)n;
	}
}

static int
once(const char *path, const char *req, size_t reqlen, int trace,
    char *last, size_t lastsz)
{
	struct sockaddr_un	sun;
	int			fd, r;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    read_final(fd, 1, last, lastsz) != 1) {
		close(fd);
		return -1;
	}
	if (trace) {
		printf("sent %.6f\n", wall());
		fflush(stdout);
	}
	if (write(fd, req, reqlen) != (ssize_t)reqlen) {
		close(fd);
		return -1;
	}
	r = read_final(fd, 0, last, lastsz);
	close(fd);
	return r;
}

static int
cmp(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	const char	*path = NULL;
	char		 req[4096], last[4096] = "";
	size_t		 len = 0;
	int		 ch, n = 1, trace = 0, i, bad = 0;
	double		*t, t0;

	while ((ch = getopt(argc, argv, "s:n:t")) != -1) {
		switch (ch) {
		case 's': path = optarg; break;
		case 'n': n = atoi(optarg); break;
		case 't': trace = 1; break;
		default: goto usage;
		}
	}
	if (path == NULL || optind >= argc || n < 1)
		goto usage;
	for (i = optind; i < argc; i++)
		len += (size_t)snprintf(req + len, sizeof(req) - len, "%s%s",
		    i > optind ? " " : "", argv[i]);
	if (len + 2 > sizeof(req))
		goto usage;
	req[len++] = '\n';
	if (trace) {
		i = once(path, req, len, 1, last, sizeof(last));
		printf("reply %.6f %s\n", wall(), last);
		return i == 1 ? 0 : 1;
	}
	if ((t = calloc((size_t)n, sizeof(*t))) == NULL)
		return 1;
	for (i = 0; i < n; i++) {
		t0 = mono();
		if (once(path, req, len, 0, last, sizeof(last)) != 1)
			bad++;
		t[i] = (mono() - t0) * 1e6;
	}
	qsort(t, (size_t)n, sizeof(*t), cmp);
	printf("n %d\nfailed %d\nmedian_us %.1f\np90_us %.1f\nmin_us %.1f\n",
	    n, bad, t[n / 2], t[(n * 9) / 10 < n ? (n * 9) / 10 : n - 1], t[0]);
	return bad ? 1 : 0;
usage:
	fprintf(stderr, "usage: ctl-rtt -s SOCKET [-n N | -t] COMMAND [ARG ...]\n");
	return 2;
}
