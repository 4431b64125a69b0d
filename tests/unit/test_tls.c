/*
 * test_tls.c: the CA store (issue 10 item 12).  A hashed directory is
 * used where it has hash links; a directory without them (Fedora's
 * /etc/pki/tls/certs) falls back to the bundle file.  Checked by
 * verifying a self-signed CA certificate against the loaded store.
 */
#include "compat.h"

#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tap.h"
#include "tls.h"

static char	tmpdir[] = "/tmp/test_tls.XXXXXX";

static X509 *
make_ca(void)
{
	EVP_PKEY	*key;
	X509		*x;
	X509_NAME	*name;
	X509_EXTENSION	*ext;
	X509V3_CTX	 v3;

	if ((key = EVP_EC_gen("P-256")) == NULL || (x = X509_new()) == NULL)
		abort();
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)"xmppd test CA", -1, -1, 0);
	X509_set_issuer_name(x, name);
	X509_set_pubkey(x, key);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints,
	    "critical,CA:TRUE");
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	if (!X509_sign(x, key, EVP_sha256()))
		abort();
	EVP_PKEY_free(key);
	return x;
}

static void
write_pem(const char *path, X509 *x)
{
	FILE	*f;

	if ((f = fopen(path, "w")) == NULL || !PEM_write_X509(f, x))
		abort();
	fclose(f);
}

/* 1 if x verifies against the context's store. */
static int
verifies(SSL_CTX *ctx, X509 *x)
{
	X509_STORE_CTX	*sc = X509_STORE_CTX_new();
	int		 r;

	X509_STORE_CTX_init(sc, SSL_CTX_get_cert_store(ctx), x, NULL);
	r = X509_verify_cert(sc);
	X509_STORE_CTX_free(sc);
	return r == 1;
}

int
main(void)
{
	char	 nohash[256], hashed[256], bundle[256], pem[300], link[300];
	char	 pem2[300];
	SSL_CTX	*ctx;
	X509	*ca, *other;

	if (mkdtemp(tmpdir) == NULL)
		return 1;
	ca = make_ca();
	other = make_ca();
	snprintf(nohash, sizeof(nohash), "%s/nohash", tmpdir);
	snprintf(hashed, sizeof(hashed), "%s/hashed", tmpdir);
	snprintf(bundle, sizeof(bundle), "%s/bundle.crt", tmpdir);
	mkdir(nohash, 0755);
	mkdir(hashed, 0755);
	/* Fedora's layout: certificates by name, no hash links. */
	snprintf(pem, sizeof(pem), "%s/test-ca.pem", nohash);
	write_pem(pem, ca);
	write_pem(bundle, ca);

	ctx = SSL_CTX_new(TLS_client_method());
	is_int(tls_ca_store(ctx, nohash, bundle), 2,
	    "directory without hash links: the bundle is read");
	ok(verifies(ctx, ca), "CA from the bundle verifies");
	ok(!verifies(ctx, other), "an unknown CA does not");
	SSL_CTX_free(ctx);

	/* The fast path: a hashed directory, the bundle not needed. */
	snprintf(pem2, sizeof(pem2), "%s/test-ca.pem", hashed);
	write_pem(pem2, ca);
	snprintf(link, sizeof(link), "%s/%08lx.0", hashed,
	    X509_subject_name_hash(ca));
	if (symlink("test-ca.pem", link) == -1)
		diag("symlink failed");
	ctx = SSL_CTX_new(TLS_client_method());
	is_int(tls_ca_store(ctx, hashed, "/nonexistent/bundle"), 1,
	    "hashed directory: used as a directory");
	ok(verifies(ctx, ca), "CA from the hashed directory verifies");
	SSL_CTX_free(ctx);

	ctx = SSL_CTX_new(TLS_client_method());
	is_int(tls_ca_store(ctx, nohash, "/nonexistent/bundle"), 0,
	    "no hash links and no bundle: failure, not an empty store");
	SSL_CTX_free(ctx);

	X509_free(ca);
	X509_free(other);
	unlink(link);
	unlink(pem2);
	unlink(pem);
	unlink(bundle);
	rmdir(nohash);
	rmdir(hashed);
	rmdir(tmpdir);
	return done_testing();
}
