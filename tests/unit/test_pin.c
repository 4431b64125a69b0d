/*
 * test_pin.c: SASL downgrade pinning: ranks, exclusions, the pin file.
 */
#include "compat.h"

#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pin.h"
#include "tap.h"

int
main(void)
{
	char		 dir[] = "/tmp/test_pin.XXXXXX", sub[128], *path, *cause;
	char		 deep[160], sub2[160];
	struct stat	 st;
	struct sasl_offer o;
	struct sasl_choice ch;
	const char	*err;

	is_int(pin_rank(SASL_PLAIN), 0, "PLAIN ranks 0");
	is_int(pin_rank(SASL_SCRAM_SHA1_PLUS), 1, "SHA-1-PLUS ranks as SHA-1");
	is_int(pin_rank(SASL_SCRAM_SHA512), 3, "SHA-512 ranks 3");
	is_int(pin_exclude(-1), 0, "no pin excludes nothing");
	ok(pin_exclude(2) == (SASL_BIT(SASL_PLAIN) | SASL_BIT(SASL_SCRAM_SHA1) |
	    SASL_BIT(SASL_SCRAM_SHA1_PLUS)), "SHA-256 pin excludes SHA-1, PLAIN");

	memset(&o, 0, sizeof(o));
	o.mechs = SASL_BIT(SASL_SCRAM_SHA1) | SASL_BIT(SASL_PLAIN);
	o.tls = 1;
	o.exclude = pin_exclude(2);
	ok(sasl_choose(&o, &ch, &err) == -1,
	    "a SHA-256 pin refuses an offer of SHA-1 and PLAIN");

	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(sub, sizeof(sub), "%s/state", dir);
	is_int(pin_load(sub, "bot@example.org"), -1, "no pin file: -1");
	is_int(pin_store(sub, "bot@example.org", 2, &cause), 0, "store 256");
	is_int(pin_load(sub, "bot@example.org"), 2, "load gives 256");
	ok(stat(sub, &st) == 0 && (st.st_mode & 077) == 0,
	    "state dir created private");
	is_int(pin_store(sub, "bot@example.org", 1, &cause), 0,
	    "storing a weaker rank succeeds");
	is_int(pin_load(sub, "bot@example.org"), 2, "... but keeps 256");
	is_int(pin_store(sub, "bot@example.org", 3, &cause), 0, "store 512");
	is_int(pin_load(sub, "bot@example.org"), 3, "upgraded to 512");
	is_int(pin_load(sub, "other@example.org"), -1, "pins are per account");
	path = pin_path(sub, "evil/../x@example.org");
	ok(strstr(path + strlen(sub) + 1, "/") == NULL,
	    "no slash from the JID in the file name");
	free(path);
	path = pin_path(sub, "bot@example.org");
	unlink(path);
	free(path);
	path = pin_path(sub, "bot@example.org");
	is_int(pin_load(sub, "bot@example.org"), -1, "removed pin: -1");
	free(path);
	ok(pin_store("/proc/nonexistent/x", "a@b", 1, &cause) == -1 &&
	    cause != NULL, "unwritable state dir is an error");
	free(cause);
	/* Issue 10 item 15: said once, not at every login. */
	cause = NULL;
	is_int(pin_store("/proc/nonexistent/x", "a@b", 1, &cause), 1,
	    "the same failure again: already said");
	ok(cause == NULL, "... with nothing to log");
	ok(pin_store("/proc/nonexistent/y", "a@b", 1, &cause) == -1 &&
	    cause != NULL, "a different failure is said");
	free(cause);

	/* The channel-binding record: per account and server. */
	is_int(pin_cb_load(sub, "bot@example.org", "example.org"),
	    PIN_CB_UNKNOWN, "no channel-binding record: unknown");
	is_int(pin_cb_store(sub, "bot@example.org", "example.org",
	    PIN_CB_REFUSED, &cause), 0, "store refused");
	is_int(pin_cb_load(sub, "bot@example.org", "example.org"),
	    PIN_CB_REFUSED, "load gives refused");
	is_int(pin_cb_load(sub, "bot@example.org", "other.example"),
	    PIN_CB_UNKNOWN, "another server: unknown");
	is_int(pin_cb_load(sub, "alice@example.org", "example.org"),
	    PIN_CB_UNKNOWN, "another account: unknown");
	is_int(pin_cb_store(sub, "bot@example.org", "example.org",
	    PIN_CB_USED, &cause), 0, "store used");
	is_int(pin_cb_load(sub, "bot@example.org", "EXAMPLE.org"),
	    PIN_CB_USED, "load gives used (host names ignore case)");
	is_int(pin_cb_store(sub, "bot@example.org", "bad host",
	    PIN_CB_USED, &cause), 0, "a server name with a space ...");
	is_int(pin_cb_load(sub, "bot@example.org", "example.org"),
	    PIN_CB_USED, "... is not recorded");
	is_int(pin_load(sub, "bot@example.org"), -1,
	    "the mechanism pin (removed above) is a separate file");
	path = pin_cb_path(sub, "bot@example.org");
	unlink(path);
	free(path);

	/* Missing parents are created, each 0700. */
	snprintf(deep, sizeof(deep), "%s/var/lib/xmppd", dir);
	is_int(pin_store(deep, "bot@example.org", 2, &cause), 0,
	    "state dir created with its parents");
	is_int(pin_load(deep, "bot@example.org"), 2, "... and the pin read");
	snprintf(sub2, sizeof(sub2), "%s/var", dir);
	ok(stat(sub2, &st) == 0 && (st.st_mode & 077) == 0,
	    "created parent is private");
	path = pin_path(deep, "bot@example.org");
	unlink(path);
	free(path);
	rmdir(deep);
	snprintf(sub2, sizeof(sub2), "%s/var/lib", dir);
	rmdir(sub2);
	snprintf(sub2, sizeof(sub2), "%s/var", dir);
	rmdir(sub2);
	rmdir(sub);
	rmdir(dir);
	return done_testing();
}
