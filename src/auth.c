/*
 * auth.c: SASL on the stream.  It owns the SASL state of one attempt
 * (mechanism, channel binding, whether the server-final message was seen),
 * the mechanism pin (pin.c) and the one retry without channel binding,
 * which the channel-binding pin allows only on first contact: once -PLUS
 * worked, a rejected -PLUS parks as a possible downgrade; once it was
 * rejected, later logins skip it (no failed login per start).
 */
#include "compat.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "auth.h"
#include "config.h"
#include "conn_priv.h"
#include "log.h"
#include "pin.h"
#include "stanza.h"
#include "tls.h"
#include "transport.h"
#include "util.h"
#include "xmalloc.h"
#include "xmppd.h"

static void
auth_offer(struct conn *c, struct sasl_offer *o)
{
	struct stanza	*m, *ch;
	enum sasl_mech	 mech;
	enum sasl_cb	 cb;

	memset(o, 0, sizeof(*o));
	if ((m = stanza_child(c->features, "mechanisms", NS_SASL)) != NULL)
		for (ch = stanza_first_child(m); ch;
		    ch = stanza_next_sibling(ch))
			if (strcmp(stanza_name(ch), "mechanism") == 0 &&
			    (mech = sasl_mech_from_name(stanza_text(ch))) !=
			    SASL_NONE)
				o->mechs |= SASL_BIT(mech);
	/* XEP-0440: the binding types the server accepts. */
	if ((m = stanza_child(c->features, "sasl-channel-binding",
	    NS_SASL_CB)) != NULL) {
		o->cb_list = 1;
		for (ch = stanza_first_child(m); ch;
		    ch = stanza_next_sibling(ch))
			if (stanza_attr(ch, "type") != NULL && (cb =
			    sasl_cb_from_name(stanza_attr(ch, "type"))) !=
			    SASL_CB_NONE)
				o->cb_types |= SASL_BIT(cb);
	}
	c->sasl_cb_list = o->cb_list;
	o->tls = c->tls_active;
	o->tls13 = c->ssl != NULL && tls_is_13(c->ssl);
	o->cb_avail = c->ssl != NULL ? tls_cb_avail(c->ssl) : 0;
	o->no_plus = c->auth_retry_noplus;
}

/* Give SASL the offer exactly as received, for XEP-0474. */
static void
auth_ssdp(struct conn *c)
{
	const char	*mechs[32], *cbs[16];
	struct stanza	*m, *ch;
	size_t		 nm = 0, nc = 0;
	int		 have_cbs = 0;

	if ((m = stanza_child(c->features, "mechanisms", NS_SASL)) != NULL)
		for (ch = stanza_first_child(m); ch != NULL &&
		    nm < nitems(mechs) - 1; ch = stanza_next_sibling(ch))
			if (strcmp(stanza_name(ch), "mechanism") == 0)
				mechs[nm++] = stanza_text(ch);
	mechs[nm] = NULL;
	if ((m = stanza_child(c->features, "sasl-channel-binding",
	    NS_SASL_CB)) != NULL) {
		have_cbs = 1;
		for (ch = stanza_first_child(m); ch != NULL &&
		    nc < nitems(cbs) - 1; ch = stanza_next_sibling(ch))
			if (stanza_attr(ch, "type") != NULL)
				cbs[nc++] = stanza_attr(ch, "type");
	}
	cbs[nc] = NULL;
	sasl_set_ssdp(c->sasl, mechs, have_cbs ? cbs : NULL);
}

#define AUTH_PLUS_MECHS	(SASL_BIT(SASL_SCRAM_SHA1_PLUS) |		\
			 SASL_BIT(SASL_SCRAM_SHA256_PLUS) |		\
			 SASL_BIT(SASL_SCRAM_SHA512_PLUS))

/* The server the channel-binding pin is kept for. */
static const char *
auth_server(const struct conn *c)
{
	return c->x->conf->server_host != NULL ? c->x->conf->server_host :
	    c->x->conf->jid.domain;
}

static enum pin_cb
auth_cb_pin(const struct conn *c)
{
	return pin_cb_load(c->x->conf->state_dir, c->bare, auth_server(c));
}

/* Remember how -PLUS went; a store failure is said once (pin.c). */
static void
auth_cb_record(struct conn *c, enum pin_cb cb)
{
	char	*cause = NULL;

	if (pin_cb_store(c->x->conf->state_dir, c->bare, auth_server(c), cb,
	    &cause) == -1) {
		log_warnx("cannot remember the channel-binding outcome: %s",
		    cause);
		free(cause);
	}
}

/* Set the status value; log a decision once, not at every login. */
static void
auth_cb_status(struct conn *c, const char *status)
{
	char	*path;

	c->cb_status = status;
	if (c->cb_said != NULL && strcmp(c->cb_said, status) == 0)
		return;
	c->cb_said = status;
	if (strcmp(status, "refused-first") == 0) {
		path = pin_cb_path(c->x->conf->state_dir, c->bare);
		log_info("channel binding: not used with %s, which rejected "
		    "-PLUS at first contact; logging in with SCRAM without "
		    "binding (recorded in %s; remove it to try -PLUS again)",
		    auth_server(c), path);
		free(path);
	} else if (strcmp(status, "used") == 0)
		log_info("channel binding: used with %s; a later -PLUS "
		    "failure will be refused as a possible downgrade",
		    auth_server(c));
}

void
auth_start(struct conn *c)
{
	struct sasl_offer	 offer;
	unsigned char		 cbdata[TLS_CB_MAX], *init = NULL;
	size_t			 cblen = 0, initlen;
	const char		*errstr, *user = c->x->conf->jid.local;
	char			*b64, *out;
	size_t			 len;
	int			 pinned, cbpin;

	auth_offer(c, &offer);
	cbpin = auth_cb_pin(c);
	/* -PLUS refused on first contact: not again, unless now listed. */
	if (cbpin == PIN_CB_REFUSED && !offer.cb_list)
		offer.no_plus = 1;
	pinned = pin_load(c->x->conf->state_dir, c->bare);
	offer.exclude = pin_exclude(pinned);
	if (sasl_choose(&offer, &c->choice, &errstr) == -1) {
		offer.exclude = 0;
		if (pinned > 0 && sasl_choose(&offer, &c->choice,
		    &errstr) == 0) {
			char *path = pin_path(c->x->conf->state_dir, c->bare);

			/* Something weaker would do: that is the attack. */
			conn_defer(c, CEV_SASL_FAILURE, 0, "refusing %s: %s "
			    "worked for this account before, so a weaker offer "
			    "may be a downgrade attack (if the server changed "
			    "on purpose, remove %s and run xmppd-ctl reauth)",
			    sasl_mech_name(c->choice.mech),
			    pin_rank_name(pinned), path);
			free(path);
			return;
		}
		conn_defer(c, CEV_ERROR, 0, "%s", errstr);
		return;
	}
	if (c->choice.cb == SASL_CB_NONE)
		auth_cb_status(c, (offer.no_plus && (offer.mechs &
		    AUTH_PLUS_MECHS)) ? "refused-first" : "not-offered");
	if (c->choice.cb != SASL_CB_NONE) {
		cblen = sizeof(cbdata);
		if (tls_cb_data(c->ssl, c->choice.cb, cbdata, &cblen) == -1) {
			conn_defer(c, CEV_ERROR, 0, "cannot compute %s channel "
			    "binding", sasl_cb_name(c->choice.cb));
			return;
		}
	}
	sasl_free(c->sasl);
	c->sasl = sasl_new(&c->choice, user, c->password, cbdata, cblen);
	OPENSSL_cleanse(cbdata, sizeof(cbdata));
	auth_ssdp(c);
	c->sasl_final_seen = 0;
	if (sasl_initial(c->sasl, &init, &initlen) == -1) {
		conn_defer(c, CEV_ERROR, 0, "SASL set-up failed");
		return;
	}
	b64 = initlen ? b64_encode(init, initlen) : xstrdup("=");
	OPENSSL_cleanse(init, initlen);
	free(init);
	len = xasprintf(&out, "<auth xmlns='" NS_SASL "' mechanism='%s'>%s"
	    "</auth>", sasl_mech_name(c->choice.mech), b64);
	transport_send_raw(c, out, len);
	OPENSSL_cleanse(out, len);
	free(out);
	free(b64);
	snprintf(c->sasl_used, sizeof(c->sasl_used), "%s",
	    sasl_mech_name(c->choice.mech));
	log_debug("authenticating with %s%s%s", c->sasl_used,
	    c->choice.cb ? " over " : "",
	    c->choice.cb ? sasl_cb_name(c->choice.cb) : "");
	c->neg = NEG_AUTH;
	c->fsm(c, CEV_AUTH, c->sasl_used);
	conn_arm_deadline(c, NEGOTIATION_TIMEOUT, PHASE_AUTH);
}

static void
auth_respond(struct conn *c, const unsigned char *data, size_t len)
{
	char	*b64, *out;
	size_t	 olen;

	b64 = len ? b64_encode(data, len) : xstrdup("");
	olen = xasprintf(&out, "<response xmlns='" NS_SASL "'>%s</response>",
	    b64);
	transport_send_raw(c, out, olen);
	OPENSSL_cleanse(out, olen);
	free(out);
	free(b64);
}

static int
auth_abort(struct conn *c, const char *why)
{
	transport_send_raw(c, "<abort xmlns='" NS_SASL "'/>",
	    sizeof("<abort xmlns='" NS_SASL "'/>") - 1);
	return conn_defer(c, CEV_ERROR, 0, "authentication aborted: %s", why);
}

static int
auth_challenge(struct conn *c, const struct stanza *s)
{
	unsigned char	*in, *out = NULL;
	size_t		 inlen, outlen;
	/* What is wrong when no SASL step below says otherwise. */
	const char	*errstr = "a challenge after the server's final message";
	const char	*t = stanza_text(s);
	int		 r;

	if (b64_decode(t, strlen(t), &in, &inlen) == -1)
		return auth_abort(c, "invalid base64 in a challenge");
	if (!c->sasl_final_seen &&
	    (r = sasl_step(c->sasl, in, inlen, &out, &outlen, &errstr)) == 0) {
		auth_respond(c, out, outlen);
		OPENSSL_cleanse(out, outlen);
		free(out);
		c->sasl_final_seen = -1;	/* next data is server-final */
		free(in);
		return XML_CONTINUE;
	}
	if (c->sasl_final_seen == -1) {
		/* server-final sent as a challenge (RFC 6120 §6.3.10) */
		r = sasl_finish(c->sasl, in, inlen, &errstr);
		free(in);
		if (r == -1)
			return auth_abort(c, errstr);
		c->sasl_final_seen = 1;
		auth_respond(c, NULL, 0);
		return XML_CONTINUE;
	}
	free(in);
	return auth_abort(c, errstr);
}

static int
auth_success(struct conn *c, const struct stanza *s)
{
	unsigned char	*in;
	size_t		 inlen;
	const char	*errstr, *t = stanza_text(s);

	if (c->sasl_final_seen != 1) {
		if (b64_decode(t, strlen(t), &in, &inlen) == -1)
			return conn_defer(c, CEV_ERROR, 0, "invalid base64 in "
			    "SASL success");
		if (*t == '\0')
			inlen = 0;
		if (sasl_finish(c->sasl, in, inlen, &errstr) == -1) {
			free(in);
			return conn_defer(c, CEV_ERROR, 0, "refusing the "
			    "server's SASL success: %s", errstr);
		}
		free(in);
	}
	sasl_free(c->sasl);
	c->sasl = NULL;
	c->authenticated = 1;
	log_info("authenticated as %s with %s", c->bare, c->sasl_used);
	if (pin_rank(c->choice.mech) > 0) {
		char	*cause = NULL;

		if (pin_store(c->x->conf->state_dir, c->bare,
		    pin_rank(c->choice.mech), &cause) == -1) {
			log_warnx("cannot remember the SASL mechanism: %s",
			    cause);
			free(cause);
		}
	}
	if (c->choice.cb != SASL_CB_NONE) {
		auth_cb_record(c, PIN_CB_USED);
		auth_cb_status(c, "used");
	} else if (c->auth_retry_noplus && auth_cb_pin(c) == PIN_CB_UNKNOWN)
		auth_cb_record(c, PIN_CB_REFUSED);
	return conn_defer(c, CEV_SASL_SUCCESS, 0, NULL);
}

/* An unknown account looks like a wrong password: name the way out. */
static const char *
auth_register_hint(const struct conn *c, const char *cond)
{
	if (strcmp(cond, "not-authorized") != 0 || c->want_register ||
	    c->features == NULL ||
	    stanza_child(c->features, "register", NS_REG_FEATURE) == NULL)
		return "";
	return "; if the account does not exist yet, the server offers "
	    "in-band registration: xmppd-ctl register (or auto_register = "
	    "yes) creates it";
}

int
auth_input(struct conn *c, const struct stanza *s)
{
	const char	*name = stanza_name(s), *ns = stanza_ns(s), *cond;
	const char	*text;

	if (ns == NULL || strcmp(ns, NS_SASL) != 0)
		return conn_defer(c, CEV_ERROR, 0, "unexpected <%s/> during "
		    "authentication", name);
	if (strcmp(name, "challenge") == 0)
		return auth_challenge(c, s);
	if (strcmp(name, "success") == 0)
		return auth_success(c, s);
	if (strcmp(name, "failure") != 0)
		return conn_defer(c, CEV_ERROR, 0, "unexpected <%s/> during "
		    "authentication", name);
	cond = conn_error_condition(s, NS_SASL, &text);
	if (c->choice.cb != SASL_CB_NONE && !c->sasl_cb_list &&
	    !c->auth_retry_noplus && auth_cb_pin(c) == PIN_CB_USED) {
		char	*path = pin_cb_path(c->x->conf->state_dir, c->bare);
		int	 r;

		/* A man in the middle only has to relay one failure. */
		auth_cb_status(c, "downgrade-refused");
		r = conn_defer(c, CEV_SASL_FAILURE, 0, "%s rejected (%s) after "
		    "channel binding worked with %s: possible downgrade, not "
		    "retrying without binding; if intended, remove %s and "
		    "reauth", c->sasl_used, cond, auth_server(c), path);
		free(path);
		return r;
	}
	if (c->choice.cb != SASL_CB_NONE && !c->sasl_cb_list &&
	    !c->auth_retry_noplus) {
		/*
		 * Some servers offer -PLUS on TLS 1.3 without a XEP-0440
		 * list and then reject the binding: try once without it.
		 */
		log_warnx("server rejected %s (%s) without listing its "
		    "channel-binding types; retrying without binding",
		    c->sasl_used, cond);
		c->auth_retry_noplus = 1;
		auth_start(c);
		return XML_CONTINUE;
	}
	if (strcmp(cond, "not-authorized") == 0 ||
	    strcmp(cond, "credentials-expired") == 0 ||
	    strcmp(cond, "account-disabled") == 0 ||
	    strcmp(cond, "invalid-authzid") == 0)
		return conn_defer(c, CEV_SASL_FAILURE, 0, "authentication "
		    "failed (%s): the server rejected the credentials for %s%s",
		    cond, c->bare, auth_register_hint(c, cond));
	return conn_defer(c, CEV_ERROR, 0, "authentication failed: %s", cond);
}
