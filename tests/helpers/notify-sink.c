/*
 * notify-sink: a stand-in for systemd's notification socket in tests.
 *
 *	notify-sink PATH OUTFILE [STAMPFILE]
 *
 * Binds an AF_UNIX datagram socket at PATH (a leading '@' means the
 * abstract namespace, as in $NOTIFY_SOCKET) and appends every datagram
 * received to OUTFILE, one line per assignment: "READY=1\nSTATUS=x"
 * becomes the two lines "READY=1" and "STATUS=x".  Each datagram is
 * written with one write(2) on an O_APPEND descriptor, so a reader never
 * sees half a datagram.  File descriptors passed along (FDSTORE=1) are
 * closed.  With STAMPFILE, each datagram is also appended there as one
 * line, "SECONDS.MICROS ASSIGNMENTS", with the CLOCK_MONOTONIC time it
 * was received and its assignments separated by spaces (for tests of
 * when things are sent).  SIGTERM or SIGINT: unlink PATH and exit 0.
 *
 * The socket exists (and OUTFILE has been created) once PATH appears, so
 * a test may wait for "test -S PATH" before starting the daemon.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE		/* ppoll(2), MSG_CMSG_CLOEXEC */
#endif

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_DATAGRAM	(64 * 1024)

static volatile sig_atomic_t quit;

static void
on_signal(int sig)
{
	(void)sig;
	quit = 1;
}

static void
usage(void)
{
	fprintf(stderr, "usage: notify-sink PATH OUTFILE [STAMPFILE]\n");
	exit(2);
}

/* Close any descriptors the sender passed with SCM_RIGHTS. */
static void
close_passed_fds(struct msghdr *msg)
{
	struct cmsghdr	*cm;
	size_t		 i, n;
	int		 fd;

	for (cm = CMSG_FIRSTHDR(msg); cm != NULL; cm = CMSG_NXTHDR(msg, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < n; i++) {
			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(fd));
			close(fd);
		}
	}
}

/* Write the whole buffer, retrying on short writes and EINTR. */
static int
write_all(int fd, const char *p, size_t len)
{
	ssize_t	n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Turn one datagram into lines: split on '\n', drop empty assignments,
 * end every line with '\n'.  out must hold len + 2 bytes.
 */
static size_t
datagram_to_lines(const char *in, size_t len, char *out)
{
	size_t	i, o = 0, start = 0;

	for (i = 0; i <= len; i++) {
		if (i < len && in[i] != '\n')
			continue;
		if (i > start) {
			memcpy(out + o, in + start, i - start);
			o += i - start;
			out[o++] = '\n';
		}
		start = i + 1;
	}
	return o;
}

static int
bind_socket(const char *path, struct sockaddr_un *sun, socklen_t *sunlen)
{
	size_t	len = strlen(path);
	int	s;

	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (len == 0 || len >= sizeof(sun->sun_path)) {
		fprintf(stderr, "notify-sink: %s: path too long or empty\n",
		    path);
		return -1;
	}
	memcpy(sun->sun_path, path, len);
	if (path[0] == '@')
		sun->sun_path[0] = '\0';	/* abstract namespace */
	else if (unlink(path) == -1 && errno != ENOENT) {
		fprintf(stderr, "notify-sink: unlink %s: %s\n", path,
		    strerror(errno));
		return -1;
	}
	*sunlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);

	if ((s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1) {
		fprintf(stderr, "notify-sink: socket: %s\n", strerror(errno));
		return -1;
	}
	if (bind(s, (struct sockaddr *)sun, *sunlen) == -1) {
		fprintf(stderr, "notify-sink: bind %s: %s\n", path,
		    strerror(errno));
		close(s);
		return -1;
	}
	return s;
}

int
main(int argc, char *argv[])
{
	static char		 buf[MAX_DATAGRAM], lines[MAX_DATAGRAM + 2];
	static char		 stamp[MAX_DATAGRAM + 64];
	struct timespec		 ts;
	union {
		struct cmsghdr	 hdr;
		char		 buf[CMSG_SPACE(sizeof(int) * 64)];
	}			 cbuf;
	struct sockaddr_un	 sun;
	struct sigaction	 sa;
	struct pollfd		 pfd;
	sigset_t		 block, waitmask;
	struct msghdr		 msg;
	struct iovec		 iov;
	socklen_t		 sunlen;
	ssize_t			 n;
	size_t			 len;
	size_t			 i;
	int			 s, out, stamps = -1, status = 0, k;

	if (argc != 3 && argc != 4)
		usage();

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	/*
	 * Keep the signals blocked except inside ppoll(), so one arriving
	 * between the check of quit and the wait cannot be lost.
	 */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &waitmask);
	sigdelset(&waitmask, SIGTERM);
	sigdelset(&waitmask, SIGINT);

	out = open(argv[2], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (out == -1) {
		fprintf(stderr, "notify-sink: %s: %s\n", argv[2],
		    strerror(errno));
		return 1;
	}
	if (argc == 4 && (stamps = open(argv[3], O_WRONLY | O_CREAT |
	    O_APPEND | O_CLOEXEC, 0644)) == -1) {
		fprintf(stderr, "notify-sink: %s: %s\n", argv[3],
		    strerror(errno));
		return 1;
	}
	if ((s = bind_socket(argv[1], &sun, &sunlen)) == -1)
		return 1;

	pfd.fd = s;
	pfd.events = POLLIN;
	while (!quit) {
		if (ppoll(&pfd, 1, NULL, &waitmask) == -1) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "notify-sink: ppoll: %s\n",
			    strerror(errno));
			status = 1;
			break;
		}
		memset(&msg, 0, sizeof(msg));
		iov.iov_base = buf;
		iov.iov_len = sizeof(buf);
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = cbuf.buf;
		msg.msg_controllen = sizeof(cbuf.buf);

		n = recvmsg(s, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
		if (n == -1) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			fprintf(stderr, "notify-sink: recvmsg: %s\n",
			    strerror(errno));
			status = 1;
			break;
		}
		close_passed_fds(&msg);
		if (msg.msg_flags & MSG_TRUNC)
			fprintf(stderr, "notify-sink: datagram truncated to "
			    "%zd bytes\n", n);
		clock_gettime(CLOCK_MONOTONIC, &ts);
		len = datagram_to_lines(buf, (size_t)n, lines);
		if (len > 0 && stamps != -1) {
			k = snprintf(stamp, sizeof(stamp), "%lld.%06ld ",
			    (long long)ts.tv_sec, ts.tv_nsec / 1000);
			for (i = 0; i < len && (size_t)k < sizeof(stamp) - 1;
			    i++)
				stamp[k++] = lines[i] == '\n' ? ' ' : lines[i];
			stamp[k - 1] = '\n';	/* the last newline */
			if (write_all(stamps, stamp, (size_t)k) == -1)
				status = 1;
		}
		if (len > 0 && write_all(out, lines, len) == -1) {
			fprintf(stderr, "notify-sink: write %s: %s\n", argv[2],
			    strerror(errno));
			status = 1;
			break;
		}
	}

	close(s);
	if (argv[1][0] != '@')
		unlink(argv[1]);
	close(out);
	if (stamps != -1)
		close(stamps);
	return status;
}
