/*
 * xmppd.c: main(): options, config, the event loop, signals and the
 * order of start-up and shutdown.  A new-style daemon: it never forks.
 */
#include "compat.h"

#include <sys/stat.h>

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "cmdq.h"
#include "config.h"
#include "confcheck.h"
#include "conn.h"
#include "control.h"
#include "log.h"
#include "muc.h"
#include "netwatch.h"
#include "notify.h"
#include "stats.h"
#include "roomconf.h"
#include "outbox.h"
#include "tls.h"
#include "util.h"
#include "xmalloc.h"
#include "xmppd.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR	"/etc"
#endif
#define DEFAULT_CONF	SYSCONFDIR "/xmppd/xmppd.conf"
#define STOP_GRACE_MS	2500

static struct event	*stop_timer;
static int		 opt_debug;	/* -d or -v: verbose whatever the config */

static void
network_changed(void *arg)
{
	struct xmppd	*x = arg;

	if (!x->stopping)
		conn_network_changed(x->conn);
}

static __dead void
usage(void)
{
	fprintf(stderr, "usage: xmppd [-dhnvV] [-f file]\n");
	exit(2);
}

static __dead void
help(void)
{
	printf("usage: xmppd [-dhnvV] [-f file]\n\n"
	    "options:\n"
	    "  -d       log to stderr with times, debug messages included\n"
	    "  -f FILE  configuration file (default %s)\n"
	    "  -h       show this help\n"
	    "  -n       check the configuration and exit\n"
	    "  -v       debug messages; with -n, print the effective "
	    "configuration\n"
	    "  -V       show the version\n", DEFAULT_CONF);
	exit(0);
}

static void	startup_failed(const char *, ...)
		    __attribute__((__format__(printf, 1, 2)));

/* Log why start-up failed, and tell systemd in one line. */
static void
startup_failed(const char *fmt, ...)
{
	char	buf[1024];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_errx("%s", buf);
	notify_status("failed to start: %s", buf);
}

static void
libevent_log(int sev, const char *msg)
{
	if (sev >= EVENT_LOG_WARN)
		log_warnx("libevent: %s", msg);
	else
		log_debug("libevent: %s", msg);
}

/* Load config and credentials; NULL with *cause on any error. */
static struct config *
load_config(const char *path, char **cause)
{
	struct config	*conf;

	if ((conf = config_load(path, cause)) == NULL)
		return NULL;
	if (config_load_password(conf, cause) == -1) {
		config_free(conf);
		return NULL;
	}
	return conf;
}

static void
warn_config(const struct config *conf)
{
	if (conf->password_exposed)
		log_warnx("%s: the password is in a file that other users "
		    "can read; chmod 600 it, or move the password to a "
		    "credential (see xmppd.conf(5))",
		    conf->password_file != NULL ? conf->password_file :
		    conf->path);
	if (!conf->tls_verify)
		log_warnx("%s: tls_verify = no: server certificates are NOT "
		    "checked", conf->path);
}

static int
same_str(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* Does the change need a new connection? */
static int
conf_needs_reconnect(const struct config *a, const struct config *b)
{
	return !same_str(a->jid_str, b->jid_str) ||
	    !same_str(a->password, b->password) ||
	    !same_str(a->server_host, b->server_host) ||
	    a->server_port != b->server_port || a->tls != b->tls ||
	    !same_str(a->ca_file, b->ca_file) ||
	    a->tls_verify != b->tls_verify ||
	    a->max_stanza_size != b->max_stanza_size;
}

static void
outbox_conf_from(const struct config *c, struct outbox_conf *oc)
{
	oc->max_msgs = c->outbox_max_messages;
	oc->max_bytes = (size_t)c->outbox_max_bytes;
	oc->lifetime = c->outbox_lifetime;
	oc->rate_milli = c->outbox_rate_milli;
	oc->burst = c->outbox_burst;
}

/* A message to one of the rooms (its bare JID) goes out as groupchat. */
static int
to_room(void *arg, const char *to)
{
	return strchr(to, '/') == NULL && muc_is_room(arg, to);
}

/* The spool lives in $state_dir/outbox; state_dir is created if needed. */
static struct outbox *
outbox_open(struct xmppd *x, char **cause)
{
	struct outbox_conf	 oc;
	struct outbox		*ob;
	char			*dir;

	if (mkdir_parents(x->conf->state_dir) == -1) {
		xasprintf(cause, "cannot create %s: %s", x->conf->state_dir,
		    strerror(errno));
		return NULL;
	}
	outbox_conf_from(x->conf, &oc);
	xasprintf(&dir, "%s/outbox", x->conf->state_dir);
	ob = outbox_new(x->base, dir, &oc, cause);
	free(dir);
	return ob;
}

/* Re-read the config file (SIGHUP, reload) and apply it: -1, 0, or 1 when
   the connection starts over. */
static int
xmppd_reload(void *arg, char **cause)
{
	struct xmppd	*x = arg;
	struct config	*conf;
	SSL_CTX		*ctx = NULL;
	int		 reconnect, r;

	notify_reloading();
	log_info("reloading %s", x->conf_path);
	if ((conf = load_config(x->conf_path, cause)) == NULL)
		goto fail;
	if (!same_str(conf->ca_file, x->conf->ca_file) ||
	    conf->tls_verify != x->conf->tls_verify) {
		if ((ctx = tls_ctx_new(conf, cause)) == NULL) {
			config_free(conf);
			goto fail;
		}
		SSL_CTX_free(x->tls_ctx);
		x->tls_ctx = ctx;
	}
	if (!same_str(conf->control_socket, x->conf->control_socket))
		log_warnx("control_socket changed: takes effect on restart");
	warn_config(conf);
	reconnect = conf_needs_reconnect(x->conf, conf);
	if (!same_str(conf->state_dir, x->conf->state_dir))
		log_warnx("state_dir changed: the outbox moves on restart");
	config_free(x->conf);
	x->conf = conf;
	{
		struct outbox_conf	oc;

		outbox_conf_from(conf, &oc);
		outbox_set_conf(x->outbox, &oc);
	}
	log_setverbose(opt_debug || conf->log_verbose);
	muc_config_changed(x->muc, conf);
	r = conn_config_changed(x->conn, reconnect);
	notify_ready();
	return r;
fail:
	log_warnx("reload failed, keeping the running configuration: %s",
	    *cause);
	notify_status("%s: reload failed, still running the old "
	    "configuration: %s", conn_state_name(conn_state(x->conn)), *cause);
	notify_ready();
	return -1;
}

/* Re-read only the credentials (reauth); *password is a copy. */
static int
xmppd_reload_password(void *arg, char **password, char **cause)
{
	struct xmppd	*x = arg;
	struct config	*conf;

	if ((conf = load_config(x->conf_path, cause)) == NULL)
		return -1;
	freezero_str(x->conf->password);
	x->conf->password = conf->password;
	conf->password = NULL;
	config_free(conf);
	*password = xstrdup(x->conf->password ? x->conf->password : "");
	return 0;
}

/* The connection has closed after a shutdown: leave the loop. */
static void
xmppd_stopped(void *arg)
{
	struct xmppd	*x = arg;

	event_base_loopexit(x->base, NULL);
}

static void
stop_timeout_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct xmppd	*x = arg;

	(void)fd;
	(void)ev;
	log_warnx("the stream did not close in time; exiting anyway");
	event_base_loopexit(x->base, NULL);
}

static void
signal_cb(evutil_socket_t sig, short ev, void *arg)
{
	struct xmppd	*x = arg;
	struct timeval	 tv = { STOP_GRACE_MS / 1000,
	    (STOP_GRACE_MS % 1000) * 1000 };

	(void)ev;
	switch (sig) {
	case SIGHUP:
		if (!x->stopping)
			cmdq_submit(x->cmdq, CTL_RELOAD, NULL, NULL, NULL);
		break;
	case SIGTERM:
	case SIGINT:
		if (x->stopping)
			return;
		log_info("received %s, going offline", strsignal(sig));
		notify_stopping();
		x->stopping = 1;
		stop_timer = evtimer_new(x->base, stop_timeout_cb, x);
		evtimer_add(stop_timer, &tv);
		cmdq_shutdown(x->cmdq);
		conn_shutdown(x->conn);
		break;
	}
}

/* conn_status() callback: is the session one the server would keep? */
static void
handover_sm_cb(void *arg, const char *key, const char *val)
{
	int	*resumable = arg;

	if (strcmp(key, "sm") == 0)
		*resumable = strcmp(val, "resumable") == 0 ||
		    strcmp(val, "resumed") == 0;
}

/*
 * handover: stop as on SIGTERM, but keep the XEP-0198 session for the
 * next process whatever resume_after_restart says.  Refused, and nothing
 * stops, when there is no resumable session online to keep.
 */
static int
xmppd_handover(void *arg, const char **cause)
{
	struct xmppd	*x = arg;
	int		 resumable = 0;

	if (x->stopping) {
		*cause = "xmppd is shutting down";
		return -1;
	}
	if (conn_state(x->conn) != CONN_ONLINE) {
		*cause = "not online: there is no session to keep";
		return -1;
	}
	conn_status(x->conn, handover_sm_cb, &resumable);
	if (!resumable) {
		*cause = "the session is not resumable (XEP-0198): a restart "
		    "would show the account offline";
		return -1;
	}
	log_info("handover: keeping the session for the next process");
	x->handover = 1;
	signal_cb(SIGTERM, EV_SIGNAL, x);
	return 0;
}

/*
 * -n: parse, read the password when the file names a source (the
 * systemd credential exists only inside the unit), run start-up's checks
 * against the system and build the TLS context, then say so.
 */
static int
check_config(const char *path, int verbose)
{
	struct config	*conf;
	SSL_CTX		*ctx;
	char		*cause = NULL;
	int		 r = 1;

	if ((conf = config_load(path, &cause)) == NULL)
		goto done;
	if ((conf->password != NULL || conf->password_file != NULL) &&
	    config_load_password(conf, &cause) == -1)
		goto done;
	if (roomconf_check_passwords(conf->rooms, &cause) == -1)
		goto done;
	if (confcheck_system(conf, 0, &cause) == -1)
		goto done;
	if ((ctx = tls_ctx_new(conf, &cause)) == NULL)
		goto done;
	SSL_CTX_free(ctx);
	warn_config(conf);
	if (verbose)
		config_print(conf, stdout);
	fprintf(stderr, "configuration OK\n");
	r = 0;
done:
	if (cause != NULL)
		fprintf(stderr, "xmppd: %s\n", cause);
	free(cause);
	config_free(conf);
	return r;
}

int
main(int argc, char *argv[])
{
	struct xmppd	 x;
	struct control_hooks ctl_hooks = { xmppd_handover, &x };
	struct cmdq_hooks cmdq_hooks = { xmppd_reload, xmppd_reload_password,
	    &x };
	struct event	*ev_term = NULL, *ev_int = NULL, *ev_hup = NULL;
	struct netwatch	*nw = NULL;
	char		*cause = NULL;
	int		 ch, debug = 0, noaction = 0, verbose = 0, status = 1;

	memset(&x, 0, sizeof(x));
	x.conf_path = DEFAULT_CONF;
	while ((ch = getopt(argc, argv, "df:hnvV")) != -1) {
		switch (ch) {
		case 'd':
			debug = 1;
			break;
		case 'f':
			x.conf_path = optarg;
			break;
		case 'h':
			help();
		case 'n':
			noaction = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'V':
			printf("xmppd %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();

	log_init(debug, !debug && notify_stderr_is_journal() ?
	    LOG_TO_JOURNAL : LOG_TO_STDERR, notify_journal);
	opt_debug = debug || verbose;
	if (verbose)
		log_setverbose(1);

	if (noaction)
		return check_config(x.conf_path, verbose);
	stats_init();

	if ((x.conf = load_config(x.conf_path, &cause)) == NULL) {
		startup_failed("%s", cause);
		goto fail;
	}
	if (x.conf->log_verbose)
		log_setverbose(1);
	if (confcheck_system(x.conf, getenv("LISTEN_FDS") != NULL,
	    &cause) == -1) {
		startup_failed("%s", cause);
		goto fail;
	}
	warn_config(x.conf);
	signal(SIGPIPE, SIG_IGN);
	event_set_log_callback(libevent_log);
	if ((x.base = event_base_new()) == NULL)
		fatalx("cannot create the event loop");
	if ((x.tls_ctx = tls_ctx_new(x.conf, &cause)) == NULL) {
		startup_failed("TLS set-up failed: %s", cause);
		goto fail;
	}
	x.conn = conn_new(&x);
	conn_on_stopped(x.conn, xmppd_stopped, &x);
	x.cmdq = cmdq_new(x.base, x.conn, &cmdq_hooks);
	x.muc = muc_new(x.base, x.conn, x.conf);
	if ((x.outbox = outbox_open(&x, &cause)) == NULL) {
		startup_failed("outbox: %s", cause);
		goto fail;
	}
	outbox_attach(x.outbox, x.conn);
	outbox_set_room_hook(x.outbox, to_room, x.muc);
	if ((x.ctl = control_new(&x, &ctl_hooks, &cause)) == NULL) {
		startup_failed("control socket: %s", cause);
		goto fail;
	}
	ev_term = evsignal_new(x.base, SIGTERM, signal_cb, &x);
	ev_int = evsignal_new(x.base, SIGINT, signal_cb, &x);
	ev_hup = evsignal_new(x.base, SIGHUP, signal_cb, &x);
	if (ev_term == NULL || ev_int == NULL || ev_hup == NULL ||
	    evsignal_add(ev_term, NULL) == -1 ||
	    evsignal_add(ev_int, NULL) == -1 ||
	    evsignal_add(ev_hup, NULL) == -1)
		fatalx("cannot install signal handlers");

	log_info("xmppd %s starting for %s", PACKAGE_VERSION,
	    x.conf->jid_str);
	notify_ready();
	notify_watchdog_start(x.base);
	if ((nw = netwatch_new(x.base, network_changed, &x)) == NULL)
		log_info("no rtnetlink: network changes are noticed by pings "
		    "only");
	conn_start(x.conn);
	event_base_dispatch(x.base);

	log_info("stopped");
	status = 0;
fail:
	free(cause);
	notify_watchdog_stop();
	netwatch_free(nw);
	control_free(x.ctl);
	muc_free(x.muc);
	cmdq_free(x.cmdq);
	conn_free(x.conn);
	outbox_free(x.outbox);
	if (stop_timer != NULL)
		event_free(stop_timer);
	if (ev_term != NULL)
		event_free(ev_term);
	if (ev_int != NULL)
		event_free(ev_int);
	if (ev_hup != NULL)
		event_free(ev_hup);
	SSL_CTX_free(x.tls_ctx);
	config_free(x.conf);
	if (x.base != NULL)
		event_base_free(x.base);
	return status;
}
