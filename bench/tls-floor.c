/*
 * tls-floor.c: the least memory any client using the system's OpenSSL
 * can idle in, for scripts/bench's memory figures.
 *
 *	tls-floor -p PORT -c CAFILE -n DOMAIN
 *
 * Connects to 127.0.0.1:PORT (a direct-TLS port), makes one TLS handshake
 * with the certificate verified against DOMAIN, as an XMPP client must,
 * prints "ready" and then sleeps until killed, holding the connection.
 * No XMPP, no event loop, no other library: whatever its RSS is, OpenSSL,
 * libc and the loader cost every client that verifies a certificate.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

static void
usage(void)
{
	fprintf(stderr, "usage: tls-floor -p PORT -c CAFILE -n DOMAIN\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	struct sockaddr_in	 sin;
	const char		*ca = NULL, *name = NULL;
	SSL_CTX			*ctx;
	SSL			*ssl;
	int			 ch, fd, port = 0;

	while ((ch = getopt(argc, argv, "p:c:n:")) != -1) {
		switch (ch) {
		case 'p':
			port = atoi(optarg);
			break;
		case 'c':
			ca = optarg;
			break;
		case 'n':
			name = optarg;
			break;
		default:
			usage();
		}
	}
	if (port <= 0 || port > 65535 || ca == NULL || name == NULL)
		usage();

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    !SSL_CTX_load_verify_locations(ctx, ca, NULL)) {
		fprintf(stderr, "tls-floor: TLS set-up failed\n");
		return 1;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		perror("tls-floor: connect");
		return 1;
	}
	if ((ssl = SSL_new(ctx)) == NULL ||
	    !SSL_set_tlsext_host_name(ssl, name) ||
	    !SSL_set1_host(ssl, name) || !SSL_set_fd(ssl, fd) ||
	    SSL_connect(ssl) != 1) {
		fprintf(stderr, "tls-floor: handshake failed\n");
		return 1;
	}
	printf("ready %s\n", SSL_get_version(ssl));
	fflush(stdout);
	for (;;)
		pause();
}
