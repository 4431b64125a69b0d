/*
 * confcheck.h: checks of a loaded config against the system.
 */
#ifndef XMPPD_CONFCHECK_H
#define XMPPD_CONFCHECK_H

struct config;

/*
 * What start-up needs from the system, short of connecting: ca_file a
 * readable regular file, control_group an existing group, the control
 * socket's directory usable or creatable (skipped when systemd passes the
 * socket: socket_passed).  The password source is checked by
 * config_load_password().  Returns 0, or -1 with *cause a new
 * "FILE:LINE: KEY: message" string.
 */
int	confcheck_system(const struct config *, int socket_passed,
	    char **cause);

#endif
