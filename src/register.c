/*
 * register.c: XEP-0077.  It owns the registration sub-step (c->reg), its
 * outcome (c->reg_code, c->reg_text: what "xmppd-ctl register" reports),
 * and the password change or removal in flight (c->passwd_new and the
 * reply callback).  Each request goes through the iq table.
 */
#include "compat.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "config.h"
#include "conn_priv.h"
#include "ctlproto.h"
#include "log.h"
#include "register.h"
#include "stanza.h"
#include "transport.h"
#include "util.h"
#include "xmalloc.h"
#include "xmppd.h"

static void	register_answer(void *, enum iq_outcome, const struct stanza *);
static void	register_outcome(struct conn *, const char *, const char *, ...)
		    __attribute__((__format__(printf, 3, 4)));

/* Remember how registration went; the login continues either way. */
static void
register_outcome(struct conn *c, const char *code, const char *fmt, ...)
{
	va_list		 ap;
	char		 buf[512];

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	c->want_register = 0;
	c->reg = REG_NONE;
	if (code == NULL)
		log_info("registered %s", c->bare);
	else if (strcmp(code, CTL_ERR_CONFLICT) == 0)
		log_info("%s is already registered", c->bare);
	else
		log_warnx("registration of %s failed: %s", c->bare, buf);
	c->reg_code = code;
	free(c->reg_text);
	c->reg_text = xstrdup(buf);
}

/* Wipe the password in a request we built, then free it. */
static void
register_free_secret(struct stanza *iq)
{
	struct stanza	*q, *f, *v;

	if ((q = stanza_child(iq, "query", NS_REGISTER)) == NULL)
		goto done;
	if ((f = stanza_child(q, "password", NULL)) != NULL)
		explicit_bzero((char *)stanza_text(f), stanza_text_len(f));
	if ((f = stanza_child(q, "x", NS_XDATA)) != NULL)
		for (f = stanza_first_child(f); f; f = stanza_next_sibling(f))
			if (stanza_attr(f, "var") != NULL &&
			    strcmp(stanza_attr(f, "var"), "password") == 0 &&
			    (v = stanza_child(f, "value", NULL)) != NULL)
				explicit_bzero((char *)stanza_text(v),
				    stanza_text_len(v));
done:
	stanza_free(iq);
}

/* A new <iq type=TYPE><query xmlns=NS/></iq>; returns the query. */
static struct stanza *
register_query(const char *type)
{
	struct stanza	*iq = stanza_new("iq", NULL);

	stanza_set_attr(iq, "type", type);
	return stanza_add_child(iq, "query", NS_REGISTER);
}

void
register_start(struct conn *c)
{
	struct stanza	*q, *iq;

	if (stanza_child(c->features, "register", NS_REG_FEATURE) == NULL) {
		register_outcome(c, CTL_ERR_CLOSED, "the server does not "
		    "offer in-band registration");
		auth_start(c);
		return;
	}
	q = register_query("get");
	iq = stanza_parent(q);
	stanza_set_attr(iq, "to", c->x->conf->jid.domain);
	transport_send_iq(c, iq, 0, register_answer, &c->arg_neg);
	c->reg = REG_FORM;
	c->fsm(c, CEV_REGISTER, "registering the account");
	conn_arm_deadline(c, NEGOTIATION_TIMEOUT, PHASE_REGISTER);
}

/* Names of required fields in a form that we cannot fill. */
static void
register_form_missing(const struct stanza *x, char *buf, size_t len)
{
	struct stanza	*f;
	const char	*var, *type;

	buf[0] = '\0';
	for (f = stanza_first_child(x); f; f = stanza_next_sibling(f)) {
		if (strcmp(stanza_name(f), "field") != 0)
			continue;
		var = stanza_attr(f, "var");
		type = stanza_attr(f, "type");
		if (var == NULL || strcmp(var, "username") == 0 ||
		    strcmp(var, "password") == 0 ||
		    (type != NULL && strcmp(type, "hidden") == 0) ||
		    stanza_child(f, "required", NULL) == NULL)
			continue;
		if (buf[0] != '\0')
			strncat(buf, ", ", len - strlen(buf) - 1);
		strncat(buf, var, len - strlen(buf) - 1);
	}
}

static const char *
register_oob_url(const struct stanza *q)
{
	struct stanza	*x, *u;

	if ((x = stanza_child(q, "x", NS_OOB)) != NULL &&
	    (u = stanza_child(x, "url", NULL)) != NULL)
		return stanza_text(u);
	return NULL;
}

static void
register_submit(struct conn *c, const struct stanza *form)
{
	struct stanza	*q, *iq, *x, *f, *ch, *sub;
	const char	*var, *user = c->x->conf->jid.local;

	q = register_query("set");
	iq = stanza_parent(q);
	stanza_set_attr(iq, "to", c->x->conf->jid.domain);
	if ((x = stanza_child(form, "x", NS_XDATA)) != NULL) {
		sub = stanza_add_child(q, "x", NS_XDATA);
		stanza_set_attr(sub, "type", "submit");
		for (f = stanza_first_child(x); f; f = stanza_next_sibling(f)) {
			if (strcmp(stanza_name(f), "field") != 0 ||
			    (var = stanza_attr(f, "var")) == NULL)
				continue;
			ch = stanza_add_child(sub, "field", NULL);
			stanza_set_attr(ch, "var", var);
			if (strcmp(var, "username") == 0)
				stanza_add_text_child(ch, "value", NULL, user);
			else if (strcmp(var, "password") == 0)
				stanza_add_text_child(ch, "value", NULL,
				    c->password);
			else if (stanza_child(f, "value", NULL) != NULL)
				stanza_add_text_child(ch, "value", NULL,
				    stanza_text(stanza_child(f, "value",
				    NULL)));
		}
	} else {
		stanza_add_text_child(q, "username", NULL, user);
		stanza_add_text_child(q, "password", NULL, c->password);
	}
	c->reg = REG_SUBMIT;
	transport_send_iq_secret(c, iq, 0, register_answer, &c->arg_neg);
	register_free_secret(iq);
}

static void
register_form(struct conn *c, const struct stanza *iq)
{
	struct stanza	*q = stanza_child(iq, "query", NS_REGISTER), *x;
	const char	*url;
	char		 missing[256];

	if (q == NULL) {
		register_outcome(c, CTL_ERR_FAILED, "the server sent no "
		    "registration form");
		auth_start(c);
		return;
	}
	x = stanza_child(q, "x", NS_XDATA);
	missing[0] = '\0';
	if (x != NULL)
		register_form_missing(x, missing, sizeof(missing));
	url = register_oob_url(q);
	if (url != NULL && (x == NULL && stanza_child(q, "username",
	    NULL) == NULL)) {
		register_outcome(c, CTL_ERR_FAILED, "the server wants "
		    "registration on a web page: %.200s", url);
		auth_start(c);
		return;
	}
	if (missing[0] != '\0') {
		register_outcome(c, CTL_ERR_FAILED, "the server's form "
		    "requires fields xmppd cannot fill (%s)%s%.200s", missing,
		    url ? "; register at " : "", url ? url : "");
		auth_start(c);
		return;
	}
	register_submit(c, q);
}

static void
register_error(struct conn *c, const struct stanza *iq)
{
	struct stanza	*err = stanza_child(iq, "error", NULL), *q, *ch;
	const char	*cond = "undefined-condition", *text, *url;
	char		 missing[256] = "";

	if (err != NULL)
		cond = conn_error_condition(err, NS_STANZAS, &text);
	if (strcmp(cond, "conflict") == 0)
		register_outcome(c, CTL_ERR_CONFLICT, "account %s already "
		    "exists", c->bare);
	else if (strcmp(cond, "not-acceptable") == 0 ||
	    strcmp(cond, "bad-request") == 0) {
		if ((q = stanza_child(iq, "query", NS_REGISTER)) != NULL)
			for (ch = stanza_first_child(q); ch;
			    ch = stanza_next_sibling(ch))
				if (strcmp(stanza_name(ch), "x") != 0 &&
				    strlen(missing) + strlen(stanza_name(ch)) <
				    sizeof(missing) - 3) {
					if (missing[0])
						strcat(missing, ", ");
					strcat(missing, stanza_name(ch));
				}
		register_outcome(c, CTL_ERR_FAILED, "the server rejected the "
		    "registration (%s)%s%s", cond,
		    missing[0] ? "; it asks for: " : "", missing);
	} else if (strcmp(cond, "not-allowed") == 0 ||
	    strcmp(cond, "service-unavailable") == 0 ||
	    strcmp(cond, "forbidden") == 0 ||
	    strcmp(cond, "feature-not-implemented") == 0)
		register_outcome(c, CTL_ERR_CLOSED, "registration is closed "
		    "on %s (%s)", c->x->conf->jid.domain, cond);
	else if ((url = err ? register_oob_url(err) : NULL) != NULL)
		register_outcome(c, CTL_ERR_FAILED, "register at %.200s", url);
	else
		register_outcome(c, CTL_ERR_FAILED, "registration failed (%s)",
		    cond);
	auth_start(c);
}

/* The answer to the form request or to the submission. */
static void
register_answer(void *arg, enum iq_outcome how, const struct stanza *s)
{
	struct conn	*c = ((struct conn_iqarg *)arg)->c;

	/* The phase deadline guards these; the stream's end cancels them. */
	if (how != IQ_RESULT && how != IQ_ERROR)
		return;
	if (c->reg == REG_FORM) {
		if (how == IQ_RESULT)
			register_form(c, s);
		else
			register_error(c, s);
	} else if (c->reg == REG_SUBMIT) {
		if (how == IQ_RESULT) {
			register_outcome(c, NULL, "registered %s", c->bare);
			auth_start(c);
		} else
			register_error(c, s);
	}
}

/* The outcome of passwd or unregister, to whoever asked. */
static void
register_reply(struct conn *c, int ok, const char *code, const char *fmt,
    ...) __attribute__((__format__(printf, 4, 5)));
static void
register_reply(struct conn *c, int ok, const char *code, const char *fmt,
    ...)
{
	conn_reply_cb	 cb = c->req_cb;
	void		*arg = c->req_arg;
	va_list		 ap;
	char		 text[600];

	c->req_cb = NULL;
	c->req_arg = NULL;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (cb != NULL)
		cb(arg, ok, code, text);
}

/* The server's answer to "passwd" or "unregister". */
static void
register_online_answer(void *arg, enum iq_outcome how,
    const struct stanza *s)
{
	struct conn	*c = ((struct conn_iqarg *)arg)->c;
	struct stanza	*err;
	const char	*cond = "undefined-condition", *text;

	if (how == IQ_GONE)
		return;
	if (how == IQ_TIMEOUT) {
		/* A server that never answers costs the stream, not the queue. */
		c->fsm(c, CEV_TIMEOUT, "timed out waiting for the server to "
		    "answer");
		return;
	}
	if ((err = stanza_child(s, "error", NULL)) != NULL)
		cond = conn_error_condition(err, NS_STANZAS, &text);
	if (c->passwd_new != NULL) {
		if (how == IQ_RESULT) {
			freezero_str(c->password);
			c->password = c->passwd_new;
			c->passwd_new = NULL;
			/* Kept across reloads while the configured one stays. */
			freezero_str(c->passwd_set);
			freezero_str(c->passwd_base);
			c->passwd_set = xstrdup(c->password);
			c->passwd_base = xstrdup(c->x->conf->password ?
			    c->x->conf->password : "");
			/* The old password's salted form is of no use now. */
			sasl_forget_cache();
			log_info("password changed on the server");
			register_reply(c, 1, NULL, "password changed on the "
			    "server; store it in %s now: xmppd does not rewrite "
			    "it. Until then, reload and SIGHUP keep the new "
			    "password while the configured one is unchanged; "
			    "reauth and a restart use the configured one and "
			    "fail to log in",
			    c->x->conf->password_file ?
			    c->x->conf->password_file :
			    c->x->conf->password_in_config ? c->x->conf->path :
			    "the credential file (/etc/xmppd/password)");
		} else {
			freezero_str(c->passwd_new);
			c->passwd_new = NULL;
			register_reply(c, 0, CTL_ERR_FAILED, "the server "
			    "refused the password change (%s)", cond);
		}
	} else if (how == IQ_RESULT) {
		c->want_online = 0;
		log_info("account %s removed from the server", c->bare);
		register_reply(c, 1, NULL, "account %s removed from the "
		    "server", c->bare);
		/* Asked for: offline as after disconnect, not a failure. */
		conn_defer(c, CEV_COMMAND, 0, "account removed on request");
	} else
		register_reply(c, 0, CTL_ERR_FAILED, "the server refused to "
		    "remove the account (%s)", cond);
}

void
register_passwd(struct conn *c, const char *password, conn_reply_cb cb,
    void *arg)
{
	struct stanza	*q = register_query("set");

	stanza_add_text_child(q, "username", NULL, c->x->conf->jid.local);
	stanza_add_text_child(q, "password", NULL, password);
	freezero_str(c->passwd_new);
	c->passwd_new = xstrdup(password);
	c->req_cb = cb;
	c->req_arg = arg;
	transport_send_iq_secret(c, stanza_parent(q), NEGOTIATION_TIMEOUT,
	    register_online_answer, &c->arg_op);
	register_free_secret(stanza_parent(q));
}

void
register_remove(struct conn *c, conn_reply_cb cb, void *arg)
{
	struct stanza	*q = register_query("set");

	stanza_add_child(q, "remove", NULL);
	freezero_str(c->passwd_new);
	c->passwd_new = NULL;
	c->req_cb = cb;
	c->req_arg = arg;
	transport_send_iq(c, stanza_parent(q), NEGOTIATION_TIMEOUT,
	    register_online_answer, &c->arg_op);
}
