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

int
main(void)
{
	test_b64();
	test_strtonum();
	test_utf8();
	test_escape();
	return done_testing();
}
