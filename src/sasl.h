/*
 * sasl.h: SASL mechanism choice and the client side of PLAIN and SCRAM
 * (RFC 5802, RFC 7677, SCRAM-SHA-512 by the same rules) with channel
 * binding (RFC 5929, RFC 9266).  A leaf module: no I/O, no logging, and
 * nothing here ever returns a password or a proof in an error string.
 * Payloads in and out are raw bytes; the caller base64-encodes them.
 */
#ifndef XMPPD_SASL_H
#define XMPPD_SASL_H

#include <stddef.h>
#include <stdint.h>

enum sasl_mech {
	SASL_NONE = 0,
	SASL_PLAIN,
	SASL_SCRAM_SHA1,
	SASL_SCRAM_SHA1_PLUS,
	SASL_SCRAM_SHA256,
	SASL_SCRAM_SHA256_PLUS,
	SASL_SCRAM_SHA512,
	SASL_SCRAM_SHA512_PLUS,
	SASL_MECH_MAX
};

enum sasl_cb {
	SASL_CB_NONE = 0,
	SASL_CB_TLS_UNIQUE,
	SASL_CB_TLS_SERVER_END_POINT,
	SASL_CB_TLS_EXPORTER,
	SASL_CB_MAX
};

#define SASL_BIT(x)	(1u << (x))

/* What the server offered, and what our TLS layer can provide. */
struct sasl_offer {
	unsigned int	mechs;		/* SASL_BIT(enum sasl_mech) */
	unsigned int	cb_types;	/* XEP-0440 list: SASL_BIT(enum sasl_cb) */
	int		cb_list;	/* 1 when the server sent a XEP-0440 list */
	int		tls;		/* stream is under TLS */
	int		tls13;		/* negotiated TLS 1.3 */
	unsigned int	cb_avail;	/* bindings our TLS can compute */
	int		no_plus;	/* a -PLUS attempt failed; avoid -PLUS */
	unsigned int	exclude;	/* mechanisms not to use (e.g. pinning) */
};

struct sasl_choice {
	enum sasl_mech	mech;
	enum sasl_cb	cb;		/* SASL_CB_NONE unless -PLUS */
	char		gs2_flag;	/* 'p', 'y' or 'n' (SCRAM only) */
};

/* Name as on the wire ("SCRAM-SHA-256-PLUS"); mech from a name. */
const char	*sasl_mech_name(enum sasl_mech);
enum sasl_mech	 sasl_mech_from_name(const char *);
const char	*sasl_cb_name(enum sasl_cb);
enum sasl_cb	 sasl_cb_from_name(const char *);

/*
 * Choose the strongest acceptable mechanism: SCRAM-SHA-512 > 256 > 1, the
 * -PLUS form first when the binding is usable (server list, or without a
 * list RFC 9266's default: tls-exporter on TLS 1.3, tls-unique on 1.2),
 * PLAIN only under TLS and only when no SCRAM is offered.  Returns 0, or
 * -1 with *errstr when nothing acceptable is offered.
 */
int		 sasl_choose(const struct sasl_offer *, struct sasl_choice *,
		    const char **errstr);

struct sasl;

/* Ownership: copies authcid, password and cbdata; wipes them on free. */
struct sasl	*sasl_new(const struct sasl_choice *, const char *authcid,
		    const char *password, const unsigned char *cbdata,
		    size_t cblen);
void		 sasl_free(struct sasl *);
/*
 * XEP-0474 (SSDP): the mechanism names and, if the server sent a XEP-0440
 * list, the channel-binding type names we received (NULL-terminated
 * arrays; cbs NULL without a list).  When the server-first-message then
 * carries d=, sasl_step refuses a mismatch as a downgrade.
 */
void		 sasl_set_ssdp(struct sasl *, const char **mechs,
		    const char **cbs);
/* Tests only: use this client nonce instead of a random one. */
void		 sasl_set_nonce(struct sasl *, const char *);

/* Initial response (client-first-message for SCRAM); new buffer. */
int		 sasl_initial(struct sasl *, unsigned char **, size_t *);
/*
 * One challenge from the server.  For SCRAM: the server-first-message,
 * answered with client-final-message.  Checks nonce prefix, salt, and an
 * iteration count in [4096, max_iter].  Returns 0 with a new buffer, or -1
 * with *errstr.
 */
int		 sasl_step(struct sasl *, const unsigned char *, size_t,
		    unsigned char **, size_t *, const char **errstr);
/*
 * The additional data of <success/> (server-final-message).  Verifies the
 * server signature (constant-time); returns 0, or -1 with *errstr (an
 * "e=" server error is reported as such).  For PLAIN, any data is an error.
 */
int		 sasl_finish(struct sasl *, const unsigned char *, size_t,
		    const char **errstr);

/*
 * The last salted password is kept in memory so a reconnect skips PBKDF2;
 * this wipes it.
 */
void		 sasl_forget_cache(void);

/* Lowest and highest iteration counts accepted (the latter bounds cost). */
#define SASL_SCRAM_MIN_ITER	4096
#define SASL_SCRAM_MAX_ITER	1000000

#endif
