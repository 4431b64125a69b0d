/*
 * tls-resume.c: what TLS session resumption would save xmppd on a
 * reconnect, measured against the bench's Prosody on its direct-TLS port
 * (XEP-0368), for scripts/bench.
 *
 *	tls-resume -p PORT -c CAFILE -n DOMAIN [-r RUNS]
 *
 * Each run makes two connections: a full TLS handshake (new SSL_CTX-less
 * session, certificate verified against DOMAIN), then one offering the
 * session kept from the first.  The session is taken only after reading
 * the server's answer to a stream header, because TLS 1.3 tickets arrive
 * after the handshake.  Times are from connect() to SSL_connect() done
 * (TCP + TLS, loopback: mostly CPU on both ends).  Prints medians and how
 * many offered sessions the server accepted.
 */
#include <sys/socket.h>
#include <sys/time.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

static double
mono(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double
cpu(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* One connection; returns the session for next time (or NULL). */
static SSL_SESSION *
one(SSL_CTX *ctx, int port, const char *domain, SSL_SESSION *offer,
    double *wall, double *cpus, int *reused)
{
	struct sockaddr_in	sin;
	SSL			*ssl;
	SSL_SESSION		*sess = NULL;
	char			 hdr[512], buf[4096];
	double			 t0, c0;
	struct timeval		 tv = { 0, 300000 };	/* a silent server */
	int			 fd, on = 1, n, got = 0;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	t0 = mono();
	c0 = cpu();
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		perror("connect");
		exit(1);
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	ssl = SSL_new(ctx);
	SSL_set_tlsext_host_name(ssl, domain);
	SSL_set1_host(ssl, domain);
	SSL_set_alpn_protos(ssl, (const unsigned char *)"\x0bxmpp-client", 12);
	if (offer != NULL)
		SSL_set_session(ssl, offer);
	SSL_set_fd(ssl, fd);
	if (SSL_connect(ssl) != 1) {
		ERR_print_errors_fp(stderr);
		exit(1);
	}
	*wall = mono() - t0;
	*cpus = cpu() - c0;
	*reused = SSL_session_reused(ssl);
	/* Read the tickets that come with the answer to a stream header. */
	n = snprintf(hdr, sizeof(hdr), "<?xml version='1.0'?><stream:stream "
	    "xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/"
	    "streams' to='%s' version='1.0'>", domain);
	SSL_write(ssl, hdr, n);
	while (got < 2 && (n = SSL_read(ssl, buf, sizeof(buf) - 1)) > 0) {
		buf[n] = '\0';
		if (strstr(buf, "</stream:features>") != NULL)
			break;
		got += strstr(buf, "features") != NULL;
	}
	sess = SSL_get1_session(ssl);
	SSL_write(ssl, "</stream:stream>", 16);
	SSL_shutdown(ssl);
	SSL_free(ssl);
	close(fd);
	return sess;
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
	const char	*ca = NULL, *domain = NULL;
	int		 port = 0, runs = 20, ch, i, nreused = 0, r;
	double		*fw, *fc, *rw, *rc;
	SSL_CTX		*ctx;
	SSL_SESSION	*s;

	while ((ch = getopt(argc, argv, "p:c:n:r:")) != -1) {
		switch (ch) {
		case 'p': port = atoi(optarg); break;
		case 'c': ca = optarg; break;
		case 'n': domain = optarg; break;
		case 'r': runs = atoi(optarg); break;
		default: goto usage;
		}
	}
	if (port <= 0 || ca == NULL || domain == NULL || runs < 1)
		goto usage;
	/* One context for the process, as xmppd does. */
	ctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT);
	if (!SSL_CTX_load_verify_locations(ctx, ca, NULL)) {
		ERR_print_errors_fp(stderr);
		return 1;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	fw = calloc(runs, sizeof(double));
	fc = calloc(runs, sizeof(double));
	rw = calloc(runs, sizeof(double));
	rc = calloc(runs, sizeof(double));
	for (i = 0; i < runs; i++) {
		s = one(ctx, port, domain, NULL, &fw[i], &fc[i], &r);
		SSL_SESSION_free(one(ctx, port, domain, s, &rw[i], &rc[i], &r));
		nreused += r;
		SSL_SESSION_free(s);
	}
	qsort(fw, runs, sizeof(double), cmp);
	qsort(fc, runs, sizeof(double), cmp);
	qsort(rw, runs, sizeof(double), cmp);
	qsort(rc, runs, sizeof(double), cmp);
	printf("runs %d\nreused %d\n", runs, nreused);
	printf("full_ms %.3f\nfull_client_cpu_ms %.3f\n", fw[runs / 2] * 1e3,
	    fc[runs / 2] * 1e3);
	printf("resumed_ms %.3f\nresumed_client_cpu_ms %.3f\n",
	    rw[runs / 2] * 1e3, rc[runs / 2] * 1e3);
	SSL_CTX_free(ctx);
	return 0;
usage:
	fprintf(stderr, "usage: tls-resume -p PORT -c CAFILE -n DOMAIN [-r RUNS]\n");
	return 2;
}
