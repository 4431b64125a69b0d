/*
 * register.h: XEP-0077 in-band registration.  Before SASL: fetch the
 * form, fill what we can (username, password), submit, and remember the
 * outcome (the login goes on either way).  Online: change the password or
 * remove the account, answered through a conn_reply_cb.
 */
#ifndef XMPPD_REGISTER_H
#define XMPPD_REGISTER_H

#include "conn.h"

struct conn;

/* Ask for the registration form (falls through to auth_start()). */
void	register_start(struct conn *);
/* Online: jabber:iq:register set with a new password / <remove/>. */
void	register_passwd(struct conn *, const char *password, conn_reply_cb,
	    void *);
void	register_remove(struct conn *, conn_reply_cb, void *);

#endif
