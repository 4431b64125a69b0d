/*
 * tls.c: the TLS layer.  Verification is on unless the config turns it
 * off; names are checked against the account's domain, never against an
 * SRV target (RFC 7590 §3.2, RFC 6125).
 */
#include "compat.h"

#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "config.h"
#include "tls.h"
#include "xmalloc.h"

/*
 * The last session ticket, for a faster handshake on reconnect.  One
 * account per process, so one slot is enough.  Only TLS 1.3 sessions are
 * kept: a resumed TLS 1.2 handshake changes what tls-unique binds to
 * (RFC 5929 section 3.1), and servers disagree on it, which would turn a
 * faster reconnect into a failed login.  The slot is emptied whenever
 * the context changes (CA or verification) and on a failed handshake.
 */
static SSL_SESSION	*tls_cached;

static int
tls_new_session_cb(SSL *ssl, SSL_SESSION *sess)
{
	SSL_SESSION	*copy;
	const char	*name;

	if (SSL_SESSION_get_protocol_version(sess) != TLS1_3_VERSION)
		return 0;
	/*
	 * A copy: OpenSSL marks the connection's own session unresumable
	 * when the connection ends without close_notify, as after a network
	 * fault, which TLS 1.3 no longer asks for (RFC 8446 section 6.1).
	 * The ticket does not record the name it was verified for; the copy
	 * does, for the check in tls_ssl_new().
	 */
	if ((name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name)) ==
	    NULL || (copy = SSL_SESSION_dup(sess)) == NULL)
		return 0;
	if (!SSL_SESSION_set1_hostname(copy, name)) {
		SSL_SESSION_free(copy);
		return 0;
	}
	SSL_SESSION_free(tls_cached);
	tls_cached = copy;
	return 0;		/* sess itself stays OpenSSL's */
}

void
tls_forget_session(void)
{
	SSL_SESSION_free(tls_cached);
	tls_cached = NULL;
}

static void
tls_cause(char **cause, const char *what)
{
	unsigned long	e = ERR_get_error();
	char		buf[256];

	if (e != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		xasprintf(cause, "%s: %s", what, buf);
	} else
		xasprintf(cause, "%s", what);
	ERR_clear_error();
}

/* A name OpenSSL's directory lookup uses: 8 hex digits, '.', digits. */
static int
tls_is_hash_name(const char *name)
{
	size_t	i;

	for (i = 0; i < 8; i++)
		if (!isxdigit((unsigned char)name[i]))
			return 0;
	if (name[8] != '.' || !isdigit((unsigned char)name[9]))
		return 0;
	for (i = 10; name[i] != '\0'; i++)
		if (!isdigit((unsigned char)name[i]))
			return 0;
	return 1;
}

static int
tls_dir_has_hashes(const char *dir)
{
	DIR		*d;
	struct dirent	*de;
	int		 found = 0;

	if ((d = opendir(dir)) == NULL)
		return 0;
	while (!found && (de = readdir(d)) != NULL)
		found = tls_is_hash_name(de->d_name);
	closedir(d);
	return found;
}

int
tls_ca_store(SSL_CTX *ctx, const char *dir, const char *bundle)
{
	static const char *const bundles[] = {
		"/etc/ssl/certs/ca-certificates.crt",	/* Debian */
		"/etc/pki/tls/certs/ca-bundle.crt",	/* Fedora, RHEL */
		"/etc/ssl/ca-bundle.pem",		/* SUSE */
		"/etc/ssl/cert.pem",			/* Alpine, BSD */
	};
	size_t	i;

	if (dir != NULL && tls_dir_has_hashes(dir))
		return SSL_CTX_load_verify_dir(ctx, dir) ? 1 : 0;
	if (bundle != NULL)
		return SSL_CTX_load_verify_file(ctx, bundle) ? 2 : 0;
	bundle = X509_get_default_cert_file();
	if (access(bundle, R_OK) == 0)
		return SSL_CTX_load_verify_file(ctx, bundle) ? 2 : 0;
	for (i = 0; i < nitems(bundles); i++)
		if (access(bundles[i], R_OK) == 0)
			return SSL_CTX_load_verify_file(ctx, bundles[i]) ?
			    2 : 0;
	return 0;
}

/*
 * The system store as a hashed directory where it has hash links:
 * certificates are read when a chain needs them, instead of parsing the
 * whole bundle at start-up (~20 ms).  $SSL_CERT_FILE, when set, is
 * honoured as OpenSSL would, and so is a $SSL_CERT_DIR list.
 */
static int
tls_default_store(SSL_CTX *ctx)
{
	const char	*file = getenv(X509_get_default_cert_file_env());
	const char	*dir = getenv(X509_get_default_cert_dir_env());

	if (file != NULL && !SSL_CTX_load_verify_file(ctx, file))
		return 0;
	if (dir != NULL && strchr(dir, ':') != NULL)
		return SSL_CTX_set_default_verify_dir(ctx);
	if (dir == NULL)
		dir = X509_get_default_cert_dir();
	return tls_ca_store(ctx, dir, NULL) != 0;
}

SSL_CTX *
tls_ctx_new(const struct config *conf, char **cause)
{
	SSL_CTX	*ctx;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		tls_cause(cause, "SSL_CTX_new");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_RENEGOTIATION);
	/* Keep tickets so a reconnect can resume the TLS session. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
	    SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx, tls_new_session_cb);
	tls_forget_session();
	if (conf->ca_file != NULL) {
		if (!SSL_CTX_load_verify_locations(ctx, conf->ca_file, NULL)) {
			char *what;

			xasprintf(&what, "loading CA file %s", conf->ca_file);
			tls_cause(cause, what);
			free(what);
			SSL_CTX_free(ctx);
			return NULL;
		}
	} else if (!tls_default_store(ctx)) {
		tls_cause(cause, "loading the system CA store");
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_verify(ctx, conf->tls_verify ? SSL_VERIFY_PEER :
	    SSL_VERIFY_NONE, NULL);
	return ctx;
}

SSL *
tls_ssl_new(SSL_CTX *ctx, const char *domain, int verify, int direct,
    char **cause)
{
	static const unsigned char alpn[] = "\x0bxmpp-client";
	SSL		*ssl;
	const char	*host;

	if ((ssl = SSL_new(ctx)) == NULL) {
		tls_cause(cause, "SSL_new");
		return NULL;
	}
	if (!SSL_set_tlsext_host_name(ssl, domain)) {
		tls_cause(cause, "setting SNI");
		goto fail;
	}
	if (verify) {
		SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		if (!SSL_set1_host(ssl, domain)) {
			tls_cause(cause, "setting the expected host name");
			goto fail;
		}
	}
	if (direct && SSL_set_alpn_protos(ssl, alpn, sizeof(alpn) - 1) != 0) {
		tls_cause(cause, "setting ALPN");
		goto fail;
	}
	/*
	 * Resumption skips the certificate: offer a session only to the
	 * name it was verified for.
	 */
	if (tls_cached != NULL && SSL_SESSION_is_resumable(tls_cached) &&
	    (host = SSL_SESSION_get0_hostname(tls_cached)) != NULL &&
	    strcasecmp(host, domain) == 0 && !SSL_set_session(ssl, tls_cached)) {
		tls_cause(cause, "offering the TLS session");
		goto fail;
	}
	return ssl;
fail:
	SSL_free(ssl);
	return NULL;
}

int
tls_is_13(SSL *ssl)
{
	return SSL_version(ssl) >= TLS1_3_VERSION;
}

unsigned int
tls_cb_avail(SSL *ssl)
{
	unsigned int	avail = SASL_BIT(SASL_CB_TLS_SERVER_END_POINT);

	if (tls_is_13(ssl))
		avail |= SASL_BIT(SASL_CB_TLS_EXPORTER);
	else
		avail |= SASL_BIT(SASL_CB_TLS_UNIQUE);
	return avail;
}

/* RFC 5929 §4.1: the certificate's signature hash, MD5/SHA-1 → SHA-256. */
static int
tls_server_end_point(SSL *ssl, unsigned char *out, size_t *len)
{
	X509		*cert;
	const EVP_MD	*md;
	int		 mdnid, pknid;
	unsigned int	 n;

	if ((cert = SSL_get0_peer_certificate(ssl)) == NULL)
		return -1;
	if (!X509_get_signature_info(cert, &mdnid, &pknid, NULL, NULL))
		return -1;
	if (mdnid == NID_md5 || mdnid == NID_sha1 || mdnid == NID_undef)
		md = EVP_sha256();
	else if ((md = EVP_get_digestbynid(mdnid)) == NULL)
		return -1;
	if (*len < (size_t)EVP_MD_get_size(md))
		return -1;
	if (!X509_digest(cert, md, out, &n))
		return -1;
	*len = n;
	return 0;
}

int
tls_cb_data(SSL *ssl, enum sasl_cb type, unsigned char *out, size_t *len)
{
	static const char	label[] = "EXPORTER-Channel-Binding";
	size_t			n;

	switch (type) {
	case SASL_CB_TLS_EXPORTER:
		if (!tls_is_13(ssl) || *len < 32)
			return -1;
		if (SSL_export_keying_material(ssl, out, 32, label,
		    sizeof(label) - 1, NULL, 0, 0) != 1)
			return -1;
		*len = 32;
		return 0;
	case SASL_CB_TLS_UNIQUE:
		if (tls_is_13(ssl))
			return -1;
		/* The first Finished message of the latest handshake. */
		if (SSL_session_reused(ssl))
			n = SSL_get_peer_finished(ssl, out, *len);
		else
			n = SSL_get_finished(ssl, out, *len);
		if (n == 0 || n > *len)
			return -1;
		*len = n;
		return 0;
	case SASL_CB_TLS_SERVER_END_POINT:
		return tls_server_end_point(ssl, out, len);
	default:
		return -1;
	}
}

const char *
tls_describe(SSL *ssl)
{
	static char	buf[128];

	snprintf(buf, sizeof(buf), "%s/%s", SSL_get_version(ssl),
	    SSL_get_cipher_name(ssl));
	return buf;
}

const char *
tls_error_string(SSL *ssl)
{
	static char	buf[256];
	unsigned long	e;
	long		vr;

	if (ssl != NULL && (vr = SSL_get_verify_result(ssl)) != X509_V_OK) {
		snprintf(buf, sizeof(buf), "certificate verification failed: %s",
		    X509_verify_cert_error_string(vr));
		ERR_clear_error();
		return buf;
	}
	if ((e = ERR_get_error()) != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		ERR_clear_error();
		return buf;
	}
	return "TLS handshake failed";
}
