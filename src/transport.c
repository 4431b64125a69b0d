/*
 * transport.c: TCP and TLS for the connection.  It owns the socket, the
 * bufferevent, the SSL, the address being tried and the send buffer; it
 * never decides what an event means: it tells the state machine.  Parser
 * callbacks run inside transport_read_cb() and never free what is still
 * on the stack: they defer, and the deferred event runs once xml_feed()
 * has returned.
 */
#include "compat.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>

#include "config.h"
#include "conn_priv.h"
#include "log.h"
#include "net.h"
#include "notify.h"
#include "stanza.h"
#include "stats.h"
#include "tls.h"
#include "transport.h"
#include "util.h"
#include "xmalloc.h"
#include "xmppd.h"

#define OUTPUT_MAX		(1024 * 1024)
#define OUT_KEEP		(16 * 1024)	/* largest send buffer kept */
#define READ_HIGHWAT		(64 * 1024)
#define FEED_BATCH		4096

static void	transport_read_cb(struct bufferevent *, void *);
static void	transport_event_cb(struct bufferevent *, short, void *);
static void	transport_try_next(struct conn *);

void
transport_send_raw(struct conn *c, const char *buf, size_t len)
{
	if (c->bev == NULL)
		return;
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) > OUTPUT_MAX) {
		conn_defer(c, CEV_ERROR, 0, "the server stopped reading");
		return;
	}
	bufferevent_write(c->bev, buf, len);
	stats.bytes_out += len;
}

/* Without XEP-0198, a ping after a burst acknowledges its tags. */
static void
transport_ack_later(struct conn *c, uint64_t tag)
{
	if (c->ack_ntags == c->ack_cap) {
		c->ack_cap = c->ack_cap ? c->ack_cap * 2 : 8;
		c->ack_tags = xreallocarray(c->ack_tags, c->ack_cap,
		    sizeof(*c->ack_tags));
	}
	c->ack_tags[c->ack_ntags++] = tag;
	event_active(c->ev_ackping, EV_TIMEOUT, 0);
}

void
transport_send(struct conn *c, const struct stanza *s, uint64_t tag)
{
	size_t	len;
	int	what;

	len = stanza_serialize(s, NS_CLIENT, &c->out, &c->out_cap);
	transport_send_raw(c, c->out, len);
	if (stats_is_stanza(stanza_name(s)))
		stats.stanzas_out++;
	if (c->sm.enabled) {
		what = sm_track(&c->sm, stanza_name(s), c->out, len, tag);
		/* Bounded memory; say so instead of dropping silently. */
		if (what & SM_DROPPED)
			log_warnx("stream management: the server has not "
			    "acknowledged %u stanzas; no longer keeping the "
			    "oldest for resending%s", SM_MAX_UNACKED,
			    what & SM_DROPPED_TAG ? " (a service's: void)" : "");
		if (what & SM_SEND_R)
			transport_send_raw(c, "<r xmlns='" NS_SM "'/>",
			    sizeof("<r xmlns='" NS_SM "'/>") - 1);
	} else if (tag != 0)
		transport_ack_later(c, tag);
	/* A big stanza's buffer is not kept for the small ones after it. */
	if (c->out_cap > OUT_KEEP) {
		free(c->out);
		c->out = NULL;
		c->out_cap = 0;
	}
}

void
transport_send_iq(struct conn *c, struct stanza *iq, unsigned int timeout_s,
    iq_cb cb, void *arg)
{
	iq_table_add(c->iqs, iq, timeout_s ? monotime_ms() +
	    (uint64_t)timeout_s * 1000 : 0, cb, arg);
	transport_send(c, iq, 0);
	stanza_free(iq);
	conn_iq_arm(c);
}

void
transport_send_iq_secret(struct conn *c, struct stanza *iq,
    unsigned int timeout_s, iq_cb cb, void *arg)
{
	size_t	len;

	iq_table_add(c->iqs, iq, timeout_s ? monotime_ms() +
	    (uint64_t)timeout_s * 1000 : 0, cb, arg);
	len = stanza_serialize(iq, NS_CLIENT, &c->out, &c->out_cap);
	transport_send_raw(c, c->out, len);
	if (c->sm.enabled)
		(void)sm_track_secret(&c->sm, stanza_name(iq));
	explicit_bzero(c->out, c->out_cap);
	conn_iq_arm(c);
}

void
transport_stream_error(struct conn *c, const char *cond, const char *text)
{
	char	*body = NULL, *out;
	size_t	 len;

	if (text != NULL)
		body = xml_escape(text, strlen(text));
	len = xasprintf(&out, "<stream:error><%s xmlns='%s'/>%s%s%s"
	    "</stream:error></stream:stream>", cond, NS_STREAMERR,
	    body ? "<text xmlns='" NS_STREAMERR "'>" : "", body ? body : "",
	    body ? "</text>" : "");
	transport_send_raw(c, out, len);
	free(out);
	free(body);
}

void
transport_close(struct conn *c)
{
	if (c->bev != NULL) {
		/*
		 * Inside the bufferevent's own callback (a stream error read
		 * from it), bufferevent_free() deletes its events only once
		 * the callback returns, after the close() below: epoll then
		 * fails on a closed descriptor.  Delete them now.
		 */
		bufferevent_disable(c->bev, EV_READ | EV_WRITE);
		bufferevent_free(c->bev);
		c->bev = NULL;
	}
	if (c->ssl == NULL && c->fd != -1)
		close(c->fd);
	c->fd = -1;
	c->ssl = NULL;
	c->tls_active = 0;
	c->tls_handshaking = 0;
}

void
transport_tls_shutdown(struct conn *c)
{
	if (c->ssl != NULL && c->tls_active) {
		(void)SSL_shutdown(c->ssl);
		ERR_clear_error();
	}
}

void
transport_connect(struct conn *c, struct net_addrlist *list)
{
	net_addrlist_free(c->addrs);
	c->addrs = list;
	c->addr_idx = 0;
	transport_try_next(c);
}

static void
transport_try_next(struct conn *c)
{
	struct net_addr	*a;
	int		 fd;
	char		 last[sizeof(c->last_error)], why[700];

	for (; c->addr_idx < c->addrs->n; c->addr_idx++) {
		a = &c->addrs->addrs[c->addr_idx];
		snprintf(c->peer, sizeof(c->peer), "%s", net_addr_str(a));
		fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
		if (fd == -1) {
			log_warn("socket for %s", c->peer);
			continue;
		}
		c->bev = bufferevent_socket_new(c->x->base, fd, 0);
		if (c->bev == NULL) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->direct_tls = a->direct_tls;
		bufferevent_setcb(c->bev, transport_read_cb, NULL,
		    transport_event_cb, c);
		bufferevent_setwatermark(c->bev, EV_READ, 0, READ_HIGHWAT);
		bufferevent_enable(c->bev, EV_READ | EV_WRITE);
		if (bufferevent_socket_connect(c->bev,
		    (struct sockaddr *)&a->ss, a->sslen) == -1) {
			snprintf(c->last_error, sizeof(c->last_error),
			    "connect to %s: %s", c->peer, strerror(errno));
			log_info("%s", c->last_error);
			bufferevent_free(c->bev);
			c->bev = NULL;
			close(fd);
			c->fd = -1;
			continue;
		}
		c->fsm(c, CEV_RESOLVED, c->peer);
		conn_arm_deadline(c, c->x->conf->connect_timeout,
		    PHASE_CONNECT);
		return;
	}
	/* The state machine writes last_error: copy it first. */
	snprintf(last, sizeof(last), "%s", c->last_error);
	snprintf(why, sizeof(why), "could not connect to %s%s%s",
	    c->x->conf->jid.domain, last[0] ? "; last error: " : "", last);
	c->fsm(c, CEV_ERROR, why);
}

void
transport_next_address(struct conn *c)
{
	evtimer_del(c->ev_deadline);
	transport_close(c);
	c->addr_idx++;
	transport_try_next(c);
}

/*
 * Servers write small records back to back (TLS 1.3 session tickets, the
 * stream header, features) with Nagle on; with delayed ACKs on our side
 * the second write waits ~40 ms for our ACK.  Quick-ACK mode does not
 * stick, so re-arm it whenever we read during negotiation.
 */
void
transport_quickack(struct conn *c)
{
	int	on = 1;

	if (c->fd != -1 && c->state != CONN_ONLINE)
		setsockopt(c->fd, IPPROTO_TCP, TCP_QUICKACK, &on, sizeof(on));
}

static void
transport_tcp_up(struct conn *c)
{
	int	on = 1;

	/* Stanzas are written whole; do not let Nagle hold them back. */
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	setsockopt(c->fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
	transport_quickack(c);
	evtimer_del(c->ev_deadline);
	log_debug("connected to %s%s", c->peer,
	    c->direct_tls ? " (direct TLS)" : "");
	c->fsm(c, CEV_TCP_UP, c->peer);
}

/* A failed handshake costs this address only; the next one may do. */
static void
transport_tls_failed(struct conn *c)
{
	unsigned long	e;
	char		buf[256], last[sizeof(c->last_error)];

	tls_forget_session();
	e = bufferevent_get_openssl_error(c->bev);
	if (SSL_get_verify_result(c->ssl) == X509_V_OK &&
	    (e == 0 || ERR_GET_LIB(e) == 0))
		snprintf(c->last_error, sizeof(c->last_error), "TLS handshake "
		    "with %s failed: the connection was closed", c->peer);
	else if (SSL_get_verify_result(c->ssl) == X509_V_OK) {
		ERR_error_string_n(e, buf, sizeof(buf));
		/* Not a TLS record: a STARTTLS (or plain) port answered. */
		snprintf(c->last_error, sizeof(c->last_error), "TLS handshake "
		    "with %s failed: %s", c->peer, buf);
		if (c->direct_tls &&
		    ERR_GET_REASON(e) == SSL_R_WRONG_VERSION_NUMBER)
			strncat(c->last_error, "; the port does not speak "
			    "direct TLS: it may expect STARTTLS or plain XMPP "
			    "(tls = starttls, or another port)",
			    sizeof(c->last_error) - strlen(c->last_error) - 1);
	} else
		snprintf(c->last_error, sizeof(c->last_error), "TLS handshake "
		    "with %s failed: %s", c->peer, tls_error_string(c->ssl));
	if (c->addrs == NULL || c->addr_idx + 1 >= c->addrs->n) {
		snprintf(last, sizeof(last), "%s", c->last_error);
		c->fsm(c, CEV_ERROR, last);
		return;
	}
	log_warnx("%s: %s; trying the next address", conn_cur_jid(c),
	    c->last_error);
	transport_next_address(c);
}

/* When the server's certificate expires, for the metrics. */
static void
transport_cert_expiry(struct conn *c)
{
	X509		*cert;
	struct tm	 tm;

	if ((cert = SSL_get1_peer_certificate(c->ssl)) == NULL)
		return;
	if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) == 1)
		stats.cert_not_after = timegm(&tm);
	X509_free(cert);
}

static void
transport_tls_up(struct conn *c)
{
	transport_quickack(c);
	c->tls_handshaking = 0;
	c->tls_active = 1;
	snprintf(c->tls_desc, sizeof(c->tls_desc), "%s%s",
	    tls_describe(c->ssl), SSL_session_reused(c->ssl) ?
	    " (resumed)" : "");
	log_info("TLS established with %s: %s", c->peer, c->tls_desc);
	transport_cert_expiry(c);
	if (!c->x->conf->tls_verify)
		log_warnx("TLS certificate NOT verified (tls_verify = no): the "
		    "connection to %s is open to interception", c->peer);
	c->fsm(c, CEV_TLS_UP, c->tls_desc);
}

static void
transport_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn	*c = arg;
	char		 why[300];

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		if (c->state == CONN_CONNECTING)
			transport_tcp_up(c);
		else if (c->tls_handshaking)
			transport_tls_up(c);
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		if (c->state == CONN_CONNECTING) {
			snprintf(c->last_error, sizeof(c->last_error),
			    "connect to %s: %s", c->peer,
			    evutil_socket_error_to_string(
			    EVUTIL_SOCKET_ERROR()));
			log_info("%s", c->last_error);
			transport_next_address(c);
			return;
		}
		if (c->tls_handshaking) {
			transport_tls_failed(c);
			return;
		}
		snprintf(why, sizeof(why), "connection to %s lost: %s",
		    c->peer, errno ? strerror(errno) : "error");
		c->fsm(c, c->state == CONN_CLOSING ? CEV_CLOSED : CEV_ERROR, why);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		if (c->state != CONN_CLOSING && c->tls_handshaking) {
			transport_tls_failed(c);
			return;
		}
		snprintf(why, sizeof(why), "connection to %s closed by the "
		    "server", c->peer);
		c->fsm(c, c->state == CONN_CLOSING ? CEV_CLOSED : CEV_ERROR, why);
	}
}

static long
transport_bio_cb(BIO *b, int oper, const char *argp, size_t len, int argi,
    long argl, int ret, size_t *processed)
{
	(void)argp;
	(void)len;
	(void)argi;
	(void)argl;
	(void)processed;
	if (oper == (BIO_CB_READ | BIO_CB_RETURN))
		transport_quickack((struct conn *)BIO_get_callback_arg(b));
	return ret;
}

void
transport_start_tls(struct conn *c)
{
	struct bufferevent	*bev;
	char			*cause = NULL, why[600];

	xml_parser_free(c->xml);
	c->xml = NULL;
	c->ssl = tls_ssl_new(c->x->tls_ctx, c->x->conf->jid.domain,
	    c->x->conf->tls_verify, c->direct_tls, &cause);
	if (c->ssl == NULL) {
		snprintf(why, sizeof(why), "TLS set-up: %s", cause);
		free(cause);
		c->fsm(c, CEV_ERROR, why);
		return;
	}
	if (c->bev != NULL) {
		bufferevent_free(c->bev);
		c->bev = NULL;
	}
	bev = bufferevent_openssl_socket_new(c->x->base, c->fd, c->ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		SSL_free(c->ssl);
		c->ssl = NULL;
		c->fsm(c, CEV_ERROR, "cannot create the TLS stream");
		return;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	/*
	 * Re-arm quick ACKs on every read OpenSSL makes, also those that
	 * carry only handshake records (TLS 1.3 tickets) and so never reach
	 * transport_read_cb(): their ACK is what the server's Nagle waits for.
	 */
	BIO_set_callback_ex(SSL_get_rbio(c->ssl), transport_bio_cb);
	BIO_set_callback_arg(SSL_get_rbio(c->ssl), (char *)c);
	c->bev = bev;
	bufferevent_setcb(bev, transport_read_cb, NULL, transport_event_cb, c);
	bufferevent_setwatermark(bev, EV_READ, 0, READ_HIGHWAT);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	c->tls_handshaking = 1;
	conn_arm_deadline(c, NEGOTIATION_TIMEOUT, PHASE_TLS);
}

static void
transport_read_cb(struct bufferevent *bev, void *arg)
{
	struct conn		*c = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	struct evbuffer_iovec	 v;
	const char		*cond, *detail;
	int			 r;

	/*
	 * expat 2.5 rescans an unfinished token on every call: a server
	 * trickling one byte at a time would cost quadratic CPU.  Feed it
	 * only once a tag can have ended, or a few KiB have gathered.
	 */
	transport_quickack(c);
	notify_watchdog_kick();
	if (evbuffer_get_length(in) < FEED_BATCH &&
	    evbuffer_search(in, ">", 1, NULL).pos == -1)
		return;
	while (c->xml != NULL && c->pending == CEV_NONE &&
	    evbuffer_get_length(in) > 0) {
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		r = xml_feed(c->xml, v.iov_base, v.iov_len, &cond, &detail);
		stats.bytes_in += v.iov_len;
		evbuffer_drain(in, v.iov_len);
		if (r == XML_ERROR) {
			transport_stream_error(c, cond, detail);
			conn_defer(c, CEV_ERROR, 0, "invalid XML from the "
			    "server: %s (%s)", detail, cond);
		}
	}
	if (c->xml == NULL && !c->tls_handshaking)
		evbuffer_drain(in, evbuffer_get_length(in));
	/* What the parser's callbacks decided, now that they returned. */
	c->fsm(c, CEV_NONE, NULL);
}
