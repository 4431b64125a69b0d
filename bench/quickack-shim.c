/*
 * quickack-shim.c: an LD_PRELOAD experiment for scripts/bench.  It sets
 * TCP_QUICKACK on a program's TCP sockets so that the kernel acknowledges
 * incoming segments at once instead of delaying the ACK (up to 40 ms on
 * Linux), without touching the program's source.
 *
 * TCP_QUICKACK is not sticky: the kernel drops back to delayed ACKs when it
 * sees the connection as interactive.  QUICKACK_SHIM selects when the
 * option is (re)armed:
 *   connect  once, right after connect() (the cheapest change);
 *   read     also after every read()/recv*() on the socket (default; what
 *            a daemon would do in its read callback);
 *   off      never (to measure the shim's own cost);
 *   block    never, and the program's own setsockopt(TCP_QUICKACK) calls
 *            are swallowed (to measure a program that re-arms it itself,
 *            as xmppd does, without it).
 * QUICKACK_TRACE=FILE appends one line per read/write on a TCP socket,
 * "<unix time> <fd> <r|w> <bytes>", so that the arrival of each TLS record
 * can be lined up with the program's own log (no tcpdump needed).
 * Errors are ignored: on a file or a Unix socket setsockopt simply fails.
 */
#define _GNU_SOURCE
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <dlfcn.h>
#include <stdio.h>
#include <time.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { MODE_OFF, MODE_CONNECT, MODE_READ, MODE_BLOCK };

static int	mode = -1;
static int	trace_fd = -2;

static int
is_stream(int fd)
{
	int		type;
	socklen_t	tl = sizeof(type);

	return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) == 0 &&
	    type == SOCK_STREAM;
}

static void
trace(int fd, char op, ssize_t n)
{
	struct timespec	ts;
	char		buf[96];
	int		len, saved = errno;
	struct sockaddr_storage ss;
	socklen_t	sl = sizeof(ss);
	const char	*p;
	static ssize_t	(*wr)(int, const void *, size_t);

	if (trace_fd == -2) {
		p = getenv("QUICKACK_TRACE");
		trace_fd = -1;
		if (p != NULL && *p != '\0')
			trace_fd = open(p, O_WRONLY | O_APPEND | O_CREAT |
			    O_CLOEXEC, 0600);
	}
	/* TCP only: UDP (DNS) and Unix sockets (event loop wake-ups) no. */
	if (trace_fd < 0 || n <= 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl) != 0 ||
	    (ss.ss_family != AF_INET && ss.ss_family != AF_INET6) ||
	    !is_stream(fd)) {
		errno = saved;
		return;
	}
	if (wr == NULL)
		wr = (ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
	clock_gettime(CLOCK_REALTIME, &ts);
	len = snprintf(buf, sizeof(buf), "%lld.%06ld %d %c %zd\n",
	    (long long)ts.tv_sec, ts.tv_nsec / 1000, fd, op, n);
	wr(trace_fd, buf, len);
	errno = saved;
}

static int
shim_mode(void)
{
	const char	*m;

	if (mode == -1) {
		m = getenv("QUICKACK_SHIM");
		if (m != NULL && strcmp(m, "off") == 0)
			mode = MODE_OFF;
		else if (m != NULL && strcmp(m, "connect") == 0)
			mode = MODE_CONNECT;
		else if (m != NULL && strcmp(m, "block") == 0)
			mode = MODE_BLOCK;
		else
			mode = MODE_READ;
	}
	return mode;
}

#define REAL(name, ret, ...)						\
	static ret (*real_##name)(__VA_ARGS__);				\
	if (real_##name == NULL)					\
		real_##name = (ret (*)(__VA_ARGS__))dlsym(RTLD_NEXT, #name)

static void
arm(int fd)
{
	int	on = 1, saved = errno;

	if (shim_mode() == MODE_BLOCK)
		return;
	REAL(setsockopt, int, int, int, int, const void *, socklen_t);
	real_setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &on, sizeof(on));
	errno = saved;
}

int
setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	REAL(setsockopt, int, int, int, int, const void *, socklen_t);
	if (shim_mode() == MODE_BLOCK && level == IPPROTO_TCP &&
	    name == TCP_QUICKACK)
		return 0;
	return real_setsockopt(fd, level, name, val, len);
}

int
connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	int	r;

	REAL(connect, int, int, const struct sockaddr *, socklen_t);
	r = real_connect(fd, sa, len);
	if (shim_mode() != MODE_OFF && sa != NULL &&
	    (sa->sa_family == AF_INET || sa->sa_family == AF_INET6))
		arm(fd);
	return r;
}

ssize_t
read(int fd, void *buf, size_t n)
{
	ssize_t	r;

	REAL(read, ssize_t, int, void *, size_t);
	r = real_read(fd, buf, n);
	trace(fd, 'r', r);
	if (r > 0 && shim_mode() == MODE_READ)
		arm(fd);
	return r;
}

ssize_t
readv(int fd, const struct iovec *iov, int cnt)
{
	ssize_t	r;

	REAL(readv, ssize_t, int, const struct iovec *, int);
	r = real_readv(fd, iov, cnt);
	trace(fd, 'r', r);
	if (r > 0 && shim_mode() == MODE_READ)
		arm(fd);
	return r;
}

ssize_t
recv(int fd, void *buf, size_t n, int flags)
{
	ssize_t	r;

	REAL(recv, ssize_t, int, void *, size_t, int);
	r = real_recv(fd, buf, n, flags);
	trace(fd, 'r', r);
	if (r > 0 && shim_mode() == MODE_READ)
		arm(fd);
	return r;
}

ssize_t
recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *sa,
    socklen_t *len)
{
	ssize_t	r;

	REAL(recvfrom, ssize_t, int, void *, size_t, int, struct sockaddr *,
	    socklen_t *);
	r = real_recvfrom(fd, buf, n, flags, sa, len);
	trace(fd, 'r', r);
	if (r > 0 && shim_mode() == MODE_READ)
		arm(fd);
	return r;
}

ssize_t
recvmsg(int fd, struct msghdr *msg, int flags)
{
	ssize_t	r;

	REAL(recvmsg, ssize_t, int, struct msghdr *, int);
	r = real_recvmsg(fd, msg, flags);
	trace(fd, 'r', r);
	if (r > 0 && shim_mode() == MODE_READ)
		arm(fd);
	return r;
}

ssize_t
write(int fd, const void *buf, size_t n)
{
	ssize_t	r;

	REAL(write, ssize_t, int, const void *, size_t);
	r = real_write(fd, buf, n);
	if (fd != trace_fd)
		trace(fd, 'w', r);
	return r;
}

ssize_t
writev(int fd, const struct iovec *iov, int cnt)
{
	ssize_t	r;

	REAL(writev, ssize_t, int, const struct iovec *, int);
	r = real_writev(fd, iov, cnt);
	trace(fd, 'w', r);
	return r;
}

ssize_t
send(int fd, const void *buf, size_t n, int flags)
{
	ssize_t	r;

	REAL(send, ssize_t, int, const void *, size_t, int);
	r = real_send(fd, buf, n, flags);
	trace(fd, 'w', r);
	return r;
}

ssize_t
sendto(int fd, const void *buf, size_t n, int flags,
    const struct sockaddr *sa, socklen_t len)
{
	ssize_t	r;

	REAL(sendto, ssize_t, int, const void *, size_t, int,
	    const struct sockaddr *, socklen_t);
	r = real_sendto(fd, buf, n, flags, sa, len);
	trace(fd, 'w', r);
	return r;
}
