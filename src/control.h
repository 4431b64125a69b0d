/*
 * control.h: the control socket (see ctlproto.h for the protocol).
 */
#ifndef XMPPD_CONTROL_H
#define XMPPD_CONTROL_H

struct xmppd;
struct control;

/* What the control socket asks of the daemon itself. */
struct control_hooks {
	/* handover: stop keeping the XEP-0198 session for the next
	   process; -1 with *cause when it cannot. */
	int	(*handover)(void *arg, const char **cause);
	void	*arg;
};

/*
 * Listen on the socket systemd passed, or on conf->control_socket (a
 * stale file is replaced; a live daemon on it is an error).  NULL with
 * *cause on failure.  Installs its hooks on x->conn.
 */
struct control	*control_new(struct xmppd *, const struct control_hooks *,
		    char **cause);
void		 control_free(struct control *);
const char	*control_path(const struct control *);

#endif
