/*
 * test_util.c: base64, number parsing, UTF-8 validation, escaping.
 */
#include "compat.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "tap.h"
#include "util.h"

static void
test_b64(void)
{
	static const struct { const char *raw, *enc; } v[] = {
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" },
		{ "foo", "Zm9v" }, { "foob", "Zm9vYg==" },
		{ "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
	};
	static const char *bad[] = { "Zg=", "Zm9v!", "Z===", "=Zm9", "Zg==Zg==",
	    "Zm 9v" };
	unsigned char	*out;
	size_t		 i, len;
	char		*enc;

	for (i = 0; i < nitems(v); i++) {
		enc = b64_encode(v[i].raw, strlen(v[i].raw));
		is_str(enc, v[i].enc, "b64 encode \"%s\"", v[i].raw);
		free(enc);
		ok(b64_decode(v[i].enc, strlen(v[i].enc), &out, &len) == 0 &&
		    len == strlen(v[i].raw) &&
		    memcmp(out, v[i].raw, len) == 0, "b64 decode \"%s\"",
		    v[i].enc);
		free(out);
	}
	ok(b64_decode("=", 1, &out, &len) == 0 && len == 0,
	    "\"=\" is the empty SASL payload");
	free(out);
	for (i = 0; i < nitems(bad); i++)
		ok(b64_decode(bad[i], strlen(bad[i]), &out, &len) == -1 &&
		    out == NULL, "b64 rejects \"%s\"", bad[i]);
}

static void
test_strtonum(void)
{
	const char	*err;

	is_int(xstrtonum("42", 0, 100, &err), 42, "strtonum 42");
	ok(err == NULL, "no error for 42");
	xstrtonum("101", 0, 100, &err);
	is_str(err, "too large", "101 too large");
	xstrtonum("-1", 0, 100, &err);
	is_str(err, "too small", "-1 too small");
	xstrtonum("4x", 0, 100, &err);
	is_str(err, "invalid", "4x invalid");
	xstrtonum("", 0, 100, &err);
	is_str(err, "invalid", "empty invalid");
	xstrtonum("99999999999999999999999", 0, 100, &err);
	is_str(err, "too large", "overflow too large");
}

static void
test_utf8(void)
{
	ok(utf8_valid("plain", 5), "ASCII is valid");
	ok(utf8_valid("gr\xc3\xbc\xc3\x9f", 6), "two-byte sequences");
	ok(utf8_valid("\xe2\x82\xac", 3), "euro sign");
	ok(utf8_valid("\xf0\x9f\x98\x80", 4), "four-byte emoji");
	ok(!utf8_valid("a\0b", 3), "NUL rejected");
	ok(!utf8_valid("\xc0\xaf", 2), "overlong rejected");
	ok(!utf8_valid("\xe0\x80\xaf", 3), "overlong 3-byte rejected");
	ok(!utf8_valid("\xed\xa0\x80", 3), "surrogate rejected");
	ok(!utf8_valid("\xf4\x90\x80\x80", 4), "above U+10FFFF rejected");
	ok(!utf8_valid("\xc3", 1), "truncated rejected");
	ok(!utf8_valid("\xe2\x82", 2), "truncated 3-byte rejected");
	ok(!utf8_valid("\x80", 1), "lone continuation rejected");
	ok(!utf8_valid("\xff", 1), "0xff rejected");
}

static void
test_escape(void)
{
	char	*e;

	e = log_escape("a\nb\\c\x01\xff", 7);
	is_str(e, "a\\012b\\\\c\\001\\377", "log_escape");
	free(e);
}

/* Issue 10 item 2: the one validator for text that goes into XML. */
static void
test_xml_text(void)
{
	static const struct { const char *s, *err; } bad[] = {
		{ "a\x01", "control character U+0001 at byte 1" },
		{ "\x1f", "control character U+001F at byte 0" },
		{ "ab\xef\xbf\xbe", "character U+FFFE at byte 2 is not "
		    "allowed in XML" },
		{ "\xc3\xa9\xef\xbf\xbf", "character U+FFFF at byte 2 is "
		    "not allowed in XML" },
		{ "x\xed\xa0\x80", "invalid UTF-8 at byte 1" },
		{ "xy\xff", "invalid UTF-8 at byte 2" },
		{ "\xe2\x82", "invalid UTF-8 at byte 0" },
	};
	static const char *good[] = { "", "tab\there\nline\r",
	    "\xef\xbf\xbd", "\xee\x80\x80", "\xf0\x9f\x98\x80",
	    "\xc2\x85", "\x7f" };
	char	err[XML_TEXT_ERR_MAX];
	size_t	i;

	for (i = 0; i < nitems(bad); i++) {
		err[0] = '\0';
		ok(!xml_text_valid(bad[i].s, strlen(bad[i].s), err,
		    sizeof(err)), "xml text refuses case %zu", i);
		is_str(err, bad[i].err, "xml text message %zu", i);
	}
	ok(!xml_text_valid("a\0b", 3, NULL, 0), "NUL refused, err optional");
	for (i = 0; i < nitems(good); i++)
		ok(xml_text_valid(good[i], strlen(good[i]), err, sizeof(err)),
		    "xml text accepts case %zu", i);
}

/* Issue 11 item 7: the presence saved with a kept session. */
static void
test_presence_saved(void)
{
	static const char *bad[] = { "", "away", "\nx", "busy\nx",
	    "away\na\x01", "away\n\xef\xbf\xbe", "away\nx\xff",
	    "availableavailable\n" };
	char	*show, *status;
	size_t	 i;

	ok(presence_saved_parse("away\nat lunch", 13, &show, &status) == 0 &&
	    strcmp(show, "away") == 0 && strcmp(status, "at lunch") == 0,
	    "away with a status");
	free(show);
	free(status);
	ok(presence_saved_parse("available\n", 10, &show, &status) == 0 &&
	    show == NULL && status == NULL, "available, no status: NULLs");
	ok(presence_saved_parse("dnd\ntwo\nlines", 13, &show, &status) == 0 &&
	    strcmp(status, "two\nlines") == 0, "a status of two lines");
	free(show);
	free(status);
	for (i = 0; i < nitems(bad); i++)
		ok(presence_saved_parse(bad[i], strlen(bad[i]), &show,
		    &status) == -1 && show == NULL && status == NULL,
		    "refused: case %zu", i);
	ok(presence_saved_parse("away\na\0b", 8, &show, &status) == -1,
	    "a NUL in the status is refused");
}

/*
 * Issue 10 item 14: SRV weights from the kernel.  An unseeded or
 * reseeded libc generator repeats its sequence; this must not.
 */
static void
test_weighted(void)
{
	static const uint16_t	 w[] = { 10, 30, 60 }, one[] = { 5 };
	static const uint16_t	 zeros[] = { 0, 0, 0, 0 };
	size_t			 counts[3] = { 0 }, zc[4] = { 0 }, i;
	char			 a[65], b[65];
	int			 in_range = 1;

	for (i = 0; i < 6000; i++)
		counts[weighted_pick(w, 3)]++;
	ok(counts[0] > 400 && counts[0] < 800 && counts[1] > 1500 &&
	    counts[1] < 2100 && counts[2] > 3300 && counts[2] < 3900,
	    "weights 10/30/60 give about 600/1800/3600 of 6000 (%zu/%zu/%zu)",
	    counts[0], counts[1], counts[2]);
	for (i = 0; i < 4000; i++)
		zc[weighted_pick(zeros, 4)]++;
	ok(zc[0] > 800 && zc[1] > 800 && zc[2] > 800 && zc[3] > 800,
	    "all-zero weights: each chosen (%zu/%zu/%zu/%zu)", zc[0], zc[1],
	    zc[2], zc[3]);
	is_int((int)weighted_pick(one, 1), 0, "one target: index 0");

	/* Two runs after the same libc seed must still differ. */
	srandom(1);
	for (i = 0; i < 64; i++)
		a[i] = (char)('0' + weighted_pick(w, 3));
	a[64] = '\0';
	srandom(1);
	for (i = 0; i < 64; i++)
		b[i] = (char)('0' + weighted_pick(w, 3));
	b[64] = '\0';
	ok(strcmp(a, b) != 0, "order not fixed by the libc seed");
	for (i = 0; i < 10000; i++)
		if (rand_uniform(7) >= 7)
			in_range = 0;
	ok(in_range, "rand_uniform stays below its bound");
	is_int((int)rand_uniform(0), 0, "rand_uniform(0) is 0");
}

int
main(void)
{
	test_b64();
	test_strtonum();
	test_utf8();
	test_escape();
	test_xml_text();
	test_weighted();
	test_presence_saved();
	return done_testing();
}
