/*
 * test_presence.c: one list of presence <show/> values (issue 10 defect
 * 17): util.c's presence_show_valid(), and the config file and the
 * control protocol agreeing with it value by value.
 */
#include "compat.h"

#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "ctlproto.h"
#include "tap.h"
#include "util.h"
#include "xmalloc.h"

static const struct {
	const char	*show;
	int		 valid;
} cases[] = {
	{ "available", 1 }, { "away", 1 }, { "chat", 1 }, { "dnd", 1 },
	{ "xa", 1 }, { "Away", 0 }, { "", 0 }, { "busy", 0 },
	{ "unavailable", 0 }, { "xa2", 0 }, { "dn", 0 },
};

static int
config_takes(const char *show)
{
	struct config	*c;
	char		*text, *cause = NULL;
	int		 r;

	xasprintf(&text, "jid = bot@example.org\npassword = x\n"
	    "presence_show = %s\n", show);
	c = config_parse("t.conf", text, strlen(text), &cause);
	r = c != NULL;
	config_free(c);
	free(cause);
	free(text);
	return r;
}

static int
ctl_takes(const char *show)
{
	struct ctl_request	 req;
	const char		*code, *errstr;
	char			 line[64];
	size_t			 len;

	len = (size_t)snprintf(line, sizeof(line), "presence %s", show);
	return ctl_parse_request(line, len, &req, &code, &errstr) == 0 &&
	    req.cmd == CTL_PRESENCE;
}

int
main(void)
{
	size_t	i;

	for (i = 0; i < nitems(cases); i++) {
		is_int(presence_show_valid(cases[i].show), cases[i].valid,
		    "'%s' is %svalid", cases[i].show,
		    cases[i].valid ? "" : "not ");
		if (cases[i].show[0] == '\0')
			continue;	/* an empty value is another error */
		is_int(config_takes(cases[i].show), cases[i].valid,
		    "the config file agrees on '%s'", cases[i].show);
		is_int(ctl_takes(cases[i].show), cases[i].valid,
		    "the control protocol agrees on '%s'", cases[i].show);
	}
	ok(strstr(PRESENCE_SHOWS, "available") != NULL &&
	    strstr(PRESENCE_SHOWS, "xa") != NULL, "the list as text names them");
	return done_testing();
}
