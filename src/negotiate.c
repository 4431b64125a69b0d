/*
 * negotiate.c: the stream from our header to a bound resource.  It owns
 * the parser's life (one per stream), the features last received, the
 * negotiation sub-step (c->neg), and redirects (see-other-host).
 */
#include "compat.h"

#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "config.h"
#include "conn_priv.h"
#include "log.h"
#include "negotiate.h"
#include "register.h"
#include "stanza.h"
#include "transport.h"
#include "util.h"
#include "xmalloc.h"
#include "xmppd.h"

void
negotiate_open_stream(struct conn *c)
{
	char	*out;
	size_t	 len;

	xml_parser_free(c->xml);
	c->xml = xml_parser_new(c->xml_cbs, c, c->x->conf->max_stanza_size,
	    64);
	/* The account's JID goes out only on a protected stream. */
	len = xasprintf(&out, "<?xml version='1.0'?><stream:stream "
	    "xmlns='" NS_CLIENT "' xmlns:stream='" NS_STREAMS "' to='%s'%s%s%s"
	    " version='1.0' xml:lang='en'>", c->x->conf->jid.domain,
	    c->tls_active ? " from='" : "", c->tls_active ? c->bare : "",
	    c->tls_active ? "'" : "");
	transport_send_raw(c, out, len);
	free(out);
	c->neg = NEG_HEADER;
	/* A server that accepts TCP and says nothing costs connect_timeout. */
	conn_arm_deadline(c, c->x->conf->connect_timeout, PHASE_HEADER);
}

int
negotiate_header(void *arg, const struct stanza *hdr)
{
	struct conn	*c = arg;
	const char	*ver = stanza_attr(hdr, "version");

	if (c->neg != NEG_HEADER)
		return conn_defer(c, CEV_ERROR, 0, "unexpected stream header");
	if (ver == NULL || strncmp(ver, "1.", 2) != 0) {
		transport_stream_error(c, "unsupported-version", NULL);
		return conn_defer(c, CEV_ERROR, 0, "server speaks stream "
		    "version %.10s, not 1.x", ver ? ver : "(none)");
	}
	c->neg = NEG_FEATURES;
	conn_arm_deadline(c, NEGOTIATION_TIMEOUT, PHASE_FEATURES);
	return XML_CONTINUE;
}

int
negotiate_stream_close(void *arg)
{
	return conn_defer(arg, CEV_CLOSED, 0, "stream closed by the server");
}

int
negotiate_proceed(struct conn *c, const struct stanza *s)
{
	const char	*ns = stanza_ns(s);

	if (ns != NULL && strcmp(ns, NS_TLS) == 0 &&
	    strcmp(stanza_name(s), "proceed") == 0)
		return conn_defer(c, CEV_STARTTLS, 0, NULL);
	return conn_defer(c, CEV_ERROR, 0, "the server refused STARTTLS");
}

static int
negotiate_parse_hostport(const char *s, char **host, uint16_t *port)
{
	const char	*p, *errstr;
	char		*h;
	long long	 n = 5222;

	if (*s == '[') {
		if ((p = strchr(s, ']')) == NULL)
			return -1;
		h = xstrndup(s + 1, p - s - 1);
		p++;
	} else if ((p = strrchr(s, ':')) != NULL && strchr(s, ':') == p)
		h = xstrndup(s, p - s);
	else {
		h = xstrdup(s);
		p = NULL;
	}
	if (p != NULL && *p == ':') {
		n = xstrtonum(p + 1, 1, 65535, &errstr);
		if (errstr != NULL) {
			free(h);
			return -1;
		}
	}
	if (*h == '\0' || strlen(h) > 255) {
		free(h);
		return -1;
	}
	*host = h;
	*port = (uint16_t)n;
	return 0;
}

int
negotiate_stream_error(struct conn *c, const struct stanza *s)
{
	const char	*text, *cond;
	char		*esc = NULL, *host;
	struct stanza	*ch;
	uint16_t	 port;
	int		 r;

	cond = conn_error_condition(s, NS_STREAMERR, &text);
	if (text != NULL)
		esc = log_escape(text, strnlen(text, 200));
	transport_send_raw(c, "</stream:stream>", 16);
	if (strcmp(cond, "see-other-host") == 0 &&
	    (ch = stanza_child(s, "see-other-host", NS_STREAMERR)) != NULL) {
		/* Anyone on the path can write to a stream not verified. */
		if (!c->tls_active || !c->x->conf->tls_verify)
			r = conn_defer(c, CEV_STREAM_ERROR, 0, "stream error "
			    "see-other-host on a stream that is not verified "
			    "(%s): not followed", c->tls_active ?
			    "tls_verify = no" : "before TLS");
		else if (c->redirects >= MAX_REDIRECTS) {
			/*
			 * The backoff decides now, and goes on deciding: the
			 * count is cleared only by a stable session.
			 */
			r = conn_defer(c, CEV_STREAM_ERROR, 0, "stream error "
			    "see-other-host: more than %d redirects in a row",
			    MAX_REDIRECTS);
		} else if (negotiate_parse_hostport(stanza_text(ch), &host,
		    &port) == -1)
			r = conn_defer(c, CEV_STREAM_ERROR, 0, "stream error "
			    "see-other-host with an invalid address");
		else {
			free(c->redirect_host);
			c->redirect_host = host;
			c->redirect_port = port;
			c->redirects++;
			r = conn_defer(c, CEV_REDIRECT, 0, NULL);
		}
	} else if (strcmp(cond, "conflict") == 0)
		/* Another client took our resource: do not ping-pong. */
		r = conn_defer(c, CEV_STREAM_ERROR, 60000, "stream error "
		    "conflict%s%s (another session uses this resource)",
		    esc ? ": " : "", esc ? esc : "");
	else if (strcmp(cond, "system-shutdown") == 0)
		/* The server is restarting: give it a moment, not more. */
		r = conn_defer(c, CEV_STREAM_ERROR, 2000, "stream error "
		    "system-shutdown%s%s", esc ? ": " : "", esc ? esc : "");
	else
		r = conn_defer(c, CEV_STREAM_ERROR, 0, "stream error %s%s%s",
		    cond, esc ? ": " : "", esc ? esc : "");
	free(esc);
	return r;
}

/* The answer to bind or to the legacy session request. */
static void
negotiate_bind_answer(void *arg, enum iq_outcome how, const struct stanza *s)
{
	struct conn	*c = ((struct conn_iqarg *)arg)->c;
	struct stanza	*b, *j, *iq;
	int		 ok = how == IQ_RESULT;

	/* The phase deadline guards these; the stream's end cancels them. */
	if (how != IQ_RESULT && how != IQ_ERROR)
		return;
	if (c->neg == NEG_BIND) {
		if (!ok || (b = stanza_child(s, "bind", NS_BIND)) == NULL ||
		    (j = stanza_child(b, "jid", NULL)) == NULL) {
			conn_defer(c, CEV_ERROR, 0, "the server refused to bind "
			    "the resource");
			return;
		}
		free(c->bound);
		c->bound = xstrndup(stanza_text(j), 3071);
		if (c->session_required) {
			iq = stanza_new("iq", NULL);
			stanza_set_attr(iq, "type", "set");
			stanza_add_child(iq, "session", NS_SESSION);
			c->neg = NEG_SESSION;
			transport_send_iq(c, iq, 0, negotiate_bind_answer,
			    &c->arg_neg);
		} else
			c->fsm(c, CEV_BOUND, "bound");
	} else if (c->neg == NEG_SESSION) {
		if (!ok) {
			conn_defer(c, CEV_ERROR, 0, "the server refused the "
			    "session");
			return;
		}
		c->fsm(c, CEV_BOUND, "session established");
	}
}

static void
negotiate_resume(struct conn *c)
{
	struct stanza	*r = stanza_new("resume", NS_SM);
	char		 h[16], *out;
	size_t		 len;

	/* The id is the server's: let the serializer escape it. */
	snprintf(h, sizeof(h), "%u", c->sm.h_in);
	stanza_set_attr(r, "previd", c->sm.id);
	stanza_set_attr(r, "h", h);
	out = stanza_to_string(r, NS_CLIENT, &len);
	transport_send_raw(c, out, len);
	free(out);
	stanza_free(r);
	c->neg = NEG_RESUME;
	c->fsm(c, CEV_BIND, "resuming the session");
	conn_arm_deadline(c, NEGOTIATION_TIMEOUT, PHASE_RESUME);
}

static void
negotiate_bind(struct conn *c, struct stanza *f)
{
	struct stanza	*sess = stanza_child(f, "session", NS_SESSION);
	struct stanza	*iq, *b;

	c->session_required = sess != NULL &&
	    stanza_child(sess, "optional", NULL) == NULL;
	iq = stanza_new("iq", NULL);
	stanza_set_attr(iq, "type", "set");
	b = stanza_add_child(iq, "bind", NS_BIND);
	if (c->x->conf->jid.resource != NULL)
		stanza_add_text_child(b, "resource", NULL,
		    c->x->conf->jid.resource);
	transport_send_iq(c, iq, 0, negotiate_bind_answer, &c->arg_neg);
	c->neg = NEG_BIND;
	c->fsm(c, CEV_BIND, "authenticated");
	conn_arm_deadline(c, NEGOTIATION_TIMEOUT, PHASE_BIND);
}

void
negotiate_features(struct conn *c, struct stanza *f)
{
	if (!c->tls_active) {
		if (stanza_child(f, "starttls", NS_TLS) == NULL) {
			conn_defer(c, CEV_ERROR, 0, "%s does not offer STARTTLS;"
			    " refusing to continue without TLS", c->peer);
			return;
		}
		transport_send_raw(c, "<starttls xmlns='" NS_TLS "'/>",
		    sizeof("<starttls xmlns='" NS_TLS "'/>") - 1);
		c->neg = NEG_PROCEED;
		conn_arm_deadline(c, NEGOTIATION_TIMEOUT, PHASE_STARTTLS);
		return;
	}
	if (!c->authenticated) {
		c->neg = NEG_AUTH;
		if (c->want_register)
			register_start(c);
		else
			auth_start(c);
		return;
	}
	if (sm_can_resume(&c->sm, time(NULL)) &&
	    stanza_child(f, "sm", NS_SM) != NULL) {
		negotiate_resume(c);
		return;
	}
	if (stanza_child(f, "bind", NS_BIND) == NULL) {
		conn_defer(c, CEV_ERROR, 0, "server offers no resource binding");
		return;
	}
	negotiate_bind(c, f);
}
