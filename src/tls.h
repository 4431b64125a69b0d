/*
 * tls.h: OpenSSL set-up for client streams: one SSL_CTX per process (CA
 * store loaded once), one SSL per connection with SNI, host name check
 * against the XMPP domain (RFC 7590), ALPN for direct TLS (XEP-0368), and
 * channel-binding data for SCRAM -PLUS.
 */
#ifndef XMPPD_TLS_H
#define XMPPD_TLS_H

#include <stddef.h>
#include <openssl/ssl.h>

#include "sasl.h"

struct config;

/* New context from the config (ca_file, tls_verify); NULL with *cause. */
SSL_CTX		*tls_ctx_new(const struct config *, char **cause);
/*
 * Load the CA store: the hashed directory dir when it has hash links
 * (fast: certificates are read when needed), else the bundle file (NULL:
 * the system's, X509_get_default_cert_file() or a known distribution
 * path), as on systems whose directory has none (Fedora's
 * /etc/pki/tls/certs).  Returns 1 (directory), 2 (bundle) or 0 (failed).
 */
int		 tls_ca_store(SSL_CTX *, const char *dir, const char *bundle);
/* New SSL for a connection to domain; direct adds ALPN "xmpp-client". */
SSL		*tls_ssl_new(SSL_CTX *, const char *domain, int verify,
		    int direct, char **cause);
/* Drop the cached session ticket (after a failure or a new context). */
void		 tls_forget_session(void);
/* Bindings this TLS session can provide (SASL_BIT(enum sasl_cb)). */
unsigned int	 tls_cb_avail(SSL *);
/* Channel-binding data; returns 0 with *len set, or -1. */
int		 tls_cb_data(SSL *, enum sasl_cb, unsigned char *, size_t *);
/* "TLSv1.3/TLS_AES_256_GCM_SHA384" style summary (static). */
const char	*tls_describe(SSL *);
int		 tls_is_13(SSL *);
/* Why the handshake failed, as text (static or thread-local buffer). */
const char	*tls_error_string(SSL *);

#define TLS_CB_MAX	64

#endif
