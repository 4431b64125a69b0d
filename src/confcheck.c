/*
 * confcheck.c: a loaded config checked against the system, short of
 * connecting: what start-up would otherwise find only when it opens the
 * CA file, looks up the control group or binds the control socket.
 * Start-up and "xmppd -n" both call confcheck_system(), so -n passes
 * exactly the configs that start.  A leaf module above config.c: errors
 * go back as "FILE:LINE: KEY: message" strings, nothing is logged or
 * created.
 */
#include "compat.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "confcheck.h"
#include "config.h"
#include "xmalloc.h"

/* ca_file: a readable regular file (tls_ctx_new() then parses it). */
static int
check_ca_file(const struct config *c, char **cause)
{
	struct stat	 st;
	char		*msg = NULL;
	int		 fd;

	if (c->ca_file == NULL)
		return 0;
	if ((fd = open(c->ca_file, O_RDONLY | O_CLOEXEC | O_NOCTTY |
	    O_NONBLOCK)) == -1)
		xasprintf(&msg, "%s: %s", c->ca_file, strerror(errno));
	else {
		if (fstat(fd, &st) == -1)
			xasprintf(&msg, "%s: %s", c->ca_file, strerror(errno));
		else if (!S_ISREG(st.st_mode))
			xasprintf(&msg, "%s: not a regular file", c->ca_file);
		close(fd);
	}
	if (msg == NULL)
		return 0;
	*cause = config_key_error(c, "ca_file", msg);
	free(msg);
	return -1;
}

static int
check_control_group(const struct config *c, char **cause)
{
	char	*msg;

	if (c->control_group == NULL || getgrnam(c->control_group) != NULL)
		return 0;
	xasprintf(&msg, "%s: no such group", c->control_group);
	*cause = config_key_error(c, "control_group", msg);
	free(msg);
	return -1;
}

/*
 * The daemon creates the socket's directory (one level) and binds in it:
 * the directory must be a writable directory, or be creatable in its
 * parent.  A socket passed by systemd skips this at start-up, so only
 * the caller knows whether it applies.
 */
static int
check_control_socket(const struct config *c, char **cause)
{
	struct stat	 st;
	char		*dir, *parent, *p, *msg = NULL;
	const char	*what;

	dir = xstrdup(c->control_socket);
	if ((p = strrchr(dir, '/')) != NULL)
		*(p == dir ? p + 1 : p) = '\0';
	if (stat(dir, &st) == 0) {
		if (!S_ISDIR(st.st_mode))
			xasprintf(&msg, "%s is not a directory", dir);
		else if (access(dir, W_OK | X_OK) == -1)
			xasprintf(&msg, "cannot create the socket in %s: %s",
			    dir, strerror(errno));
	} else if (errno != ENOENT && errno != ENOTDIR)
		xasprintf(&msg, "%s: %s", dir, strerror(errno));
	else {
		parent = xstrdup(dir);
		if ((p = strrchr(parent, '/')) != NULL)
			*(p == parent ? p + 1 : p) = '\0';
		what = NULL;
		if (stat(parent, &st) == -1)
			what = strerror(errno);
		else if (!S_ISDIR(st.st_mode))
			what = "not a directory";
		else if (access(parent, W_OK | X_OK) == -1)
			what = strerror(errno);
		if (what != NULL)
			xasprintf(&msg, "cannot create the directory %s "
			    "(%s: %s)", dir, parent, what);
		free(parent);
	}
	free(dir);
	if (msg == NULL)
		return 0;
	*cause = config_key_error(c, "control_socket", msg);
	free(msg);
	return -1;
}

int
confcheck_system(const struct config *c, int socket_passed, char **cause)
{
	*cause = NULL;
	if (check_ca_file(c, cause) == -1 ||
	    check_control_group(c, cause) == -1 ||
	    (!socket_passed && check_control_socket(c, cause) == -1))
		return -1;
	return 0;
}
