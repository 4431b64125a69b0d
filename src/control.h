/*
 * control.h: the control socket (see ctlproto.h for the protocol).
 */
#ifndef XMPPD_CONTROL_H
#define XMPPD_CONTROL_H

struct xmppd;
struct control;

/*
 * Listen on the socket systemd passed, or on conf->control_socket (a
 * stale file is replaced; a live daemon on it is an error).  NULL with
 * *cause on failure.  Installs its hooks on x->conn.
 */
struct control	*control_new(struct xmppd *, char **cause);
void		 control_free(struct control *);
const char	*control_path(const struct control *);

#endif
