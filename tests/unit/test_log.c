/*
 * test_log.c: log priorities, as the journal and stderr see them (issue
 * 10 item 16: a warning is LOG_WARNING, not LOG_ERR).
 */
#include "compat.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"
#include "tap.h"

static int	last_pri = -1;
static char	last_msg[256];

static int
capture(int pri, const char *msg, const char *jid)
{
	(void)jid;
	last_pri = pri;
	snprintf(last_msg, sizeof(last_msg), "%s", msg);
	return 0;
}

static void
test_journal(void)
{
	log_init(0, LOG_TO_JOURNAL, capture);
	log_warnx("tls_verify = no");
	is_int(last_pri, LOG_WARNING, "log_warnx: journal PRIORITY=4");
	is_str(last_msg, "tls_verify = no", "log_warnx: message");
	errno = ENOENT;
	log_warn("open");
	is_int(last_pri, LOG_WARNING, "log_warn: journal PRIORITY=4");
	is_str(last_msg, "open: No such file or directory",
	    "log_warn: errno appended");
	log_errx("start-up failed");
	is_int(last_pri, LOG_ERR, "log_errx: journal PRIORITY=3");
	log_info("online");
	is_int(last_pri, LOG_INFO, "log_info: PRIORITY=6");
}

/* Without a journal writer, the "<N>" prefix carries the priority. */
static void
test_stderr(void)
{
	char	 path[] = "/tmp/test_log.XXXXXX", buf[512];
	FILE	*f;
	size_t	 n;
	int	 fd, saved;

	if ((fd = mkstemp(path)) == -1) {
		ok(0, "mkstemp");
		return;
	}
	saved = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	log_init(0, LOG_TO_JOURNAL, NULL);
	log_warnx("w1");
	log_errx("e1");
	log_init(0, LOG_TO_STDERR, NULL);
	log_warnx("w2");
	log_errx("e2");
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(fd);
	f = fopen(path, "r");
	n = f != NULL ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	buf[n] = '\0';
	if (f != NULL)
		fclose(f);
	unlink(path);
	is_str(buf, "<4>w1\n<3>e1\nxmppd: warning: w2\nxmppd: error: e2\n",
	    "stderr: <4> and warning: for warnings, <3> and error: for errors");
}

int
main(void)
{
	test_journal();
	test_stderr();
	return done_testing();
}
