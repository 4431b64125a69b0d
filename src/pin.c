/*
 * pin.c: the downgrade pin, one small file per account in the state
 * directory: "SCRAM-SHA-256\n"; and the channel-binding record, one more
 * per account: "used example.org\n" or "refused example.org\n" (the
 * server it applies to).  Written atomically (temp file, rename).
 */
#include "compat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pin.h"
#include "util.h"
#include "xmalloc.h"

static const char *const rank_names[] = {
	"PLAIN", "SCRAM-SHA-1", "SCRAM-SHA-256", "SCRAM-SHA-512"
};

int
pin_rank(enum sasl_mech m)
{
	switch (m) {
	case SASL_SCRAM_SHA1:
	case SASL_SCRAM_SHA1_PLUS:
		return 1;
	case SASL_SCRAM_SHA256:
	case SASL_SCRAM_SHA256_PLUS:
		return 2;
	case SASL_SCRAM_SHA512:
	case SASL_SCRAM_SHA512_PLUS:
		return 3;
	default:
		return 0;
	}
}

const char *
pin_rank_name(int rank)
{
	if (rank < 0 || rank >= (int)nitems(rank_names))
		return "none";
	return rank_names[rank];
}

unsigned int
pin_exclude(int rank)
{
	unsigned int	bits = 0;
	int		m;

	for (m = SASL_NONE + 1; m < SASL_MECH_MAX; m++)
		if (pin_rank(m) < rank)
			bits |= SASL_BIT(m);
	return bits;
}

static const char *const cb_names[] = { "unknown", "used", "refused" };

static char *
pin_file(const char *state_dir, const char *prefix, const char *bare)
{
	char	*p;
	size_t	 i, off;

	xasprintf(&p, "%s/%s.%s", state_dir, prefix, bare);
	/* A JID could carry a slash only in a resource; be safe anyway. */
	off = strlen(state_dir) + 1;
	for (i = off; p[i] != '\0'; i++)
		if (p[i] == '/')
			p[i] = '_';
	return p;
}

char *
pin_path(const char *state_dir, const char *bare)
{
	return pin_file(state_dir, "sasl-pin", bare);
}

char *
pin_cb_path(const char *state_dir, const char *bare)
{
	return pin_file(state_dir, "sasl-cb", bare);
}

int
pin_load(const char *state_dir, const char *bare)
{
	char	*path = pin_path(state_dir, bare), buf[64];
	FILE	*f;
	int	 rank = -1, i;

	if ((f = fopen(path, "re")) != NULL) {
		if (fgets(buf, sizeof(buf), f) != NULL) {
			buf[strcspn(buf, "\r\n")] = '\0';
			for (i = 0; i < (int)nitems(rank_names); i++)
				if (strcmp(buf, rank_names[i]) == 0)
					rank = i;
		}
		fclose(f);
	}
	free(path);
	return rank;
}

static void
pin_fill(FILE *f, void *arg)
{
	fprintf(f, "%s\n", rank_names[*(int *)arg]);
}

/*
 * The state directory is created with its parents.  Where that cannot
 * work (an uninstalled build run by hand, whose directory is under
 * /usr/local/var), the failure is reported once, not at every login:
 * the same failure again returns 1 with nothing to say.
 */
static int
pin_write(const char *state_dir, const char *path,
    void (*fill)(FILE *, void *), void *arg, char **cause)
{
	static char	*said;
	int		 r;

	r = write_private_file(state_dir, path, fill, arg, cause);
	if (r == 0) {
		free(said);
		said = NULL;
	} else if (said != NULL && strcmp(said, *cause) == 0) {
		free(*cause);
		*cause = NULL;
		r = 1;
	} else {
		free(said);
		said = xstrdup(*cause);
	}
	return r;
}

int
pin_store(const char *state_dir, const char *bare, int rank, char **cause)
{
	char	*path;
	int	 r;

	*cause = NULL;
	if (rank <= pin_load(state_dir, bare))
		return 0;
	path = pin_path(state_dir, bare);
	r = pin_write(state_dir, path, pin_fill, &rank, cause);
	free(path);
	return r;
}

enum pin_cb
pin_cb_load(const char *state_dir, const char *bare, const char *server)
{
	char		*path = pin_cb_path(state_dir, bare), buf[300], *sp;
	FILE		*f;
	enum pin_cb	 cb = PIN_CB_UNKNOWN;
	int		 i;

	if ((f = fopen(path, "re")) != NULL) {
		if (fgets(buf, sizeof(buf), f) != NULL &&
		    (sp = strchr(buf, ' ')) != NULL) {
			*sp++ = '\0';
			sp[strcspn(sp, "\r\n")] = '\0';
			for (i = PIN_CB_USED; i < (int)nitems(cb_names); i++)
				if (strcmp(buf, cb_names[i]) == 0 &&
				    strcasecmp(sp, server) == 0)
					cb = i;
		}
		fclose(f);
	}
	free(path);
	return cb;
}

struct cb_record {
	enum pin_cb	 cb;
	const char	*server;
};

static void
pin_cb_fill(FILE *f, void *arg)
{
	struct cb_record	*rec = arg;

	fprintf(f, "%s %s\n", cb_names[rec->cb], rec->server);
}

/*
 * One record per account: the server it talks to now.  A server name
 * with a line break or a space (not a host name) is not recorded.
 */
int
pin_cb_store(const char *state_dir, const char *bare, const char *server,
    enum pin_cb cb, char **cause)
{
	struct cb_record	 rec;
	char			*path;
	int			 r;

	*cause = NULL;
	if (cb <= PIN_CB_UNKNOWN || cb >= (int)nitems(cb_names) ||
	    server[strcspn(server, " \r\n")] != '\0' || strlen(server) > 255 ||
	    pin_cb_load(state_dir, bare, server) == cb)
		return 0;
	rec.cb = cb;
	rec.server = server;
	path = pin_cb_path(state_dir, bare);
	r = pin_write(state_dir, path, pin_cb_fill, &rec, cause);
	free(path);
	return r;
}
