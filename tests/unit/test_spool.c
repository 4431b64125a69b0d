/*
 * test_spool.c: the spool's file format and directory: a round trip,
 * every kind of damage detected and set aside while the rest loads in
 * order, stale temporary files removed, limits that refuse and leave
 * nothing behind.
 */
#include "compat.h"

#include <sys/stat.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "spool.h"
#include "tap.h"
#include "xmalloc.h"

static char	 tmpdir[] = "/tmp/test_spool.XXXXXX";
static char	*loaded_ids[64];
static int	 nloaded;

static struct spool_msg *
mkmsg(const char *id, const char *body)
{
	struct spool_msg	*m = xcalloc(1, sizeof(*m));

	m->id = xstrdup(id);
	m->created = 1764000000;
	m->type = xstrdup("chat");
	m->nto = 2;
	m->to = xcalloc(2, sizeof(*m->to));
	m->to[0] = xstrdup("a@example.org");
	m->to[1] = xstrdup("b@example.org/res");
	m->body = xstrdup(body);
	m->bodylen = strlen(body);
	return m;
}

static void
freemsg(struct spool_msg *m)
{
	spool_msg_free(m);
	free(m);
}

static void
on_load(void *arg, struct spool_msg *m)
{
	(void)arg;
	if (nloaded < 64)
		loaded_ids[nloaded++] = xstrdup(m->id);
	freemsg(m);
}

static void
reset_loaded(void)
{
	while (nloaded > 0)
		free(loaded_ids[--nloaded]);
}

static void
roundtrip(void)
{
	struct spool_msg	*m, d;
	const char		*err = NULL;
	char			*buf;
	size_t			 len;

	m = mkmsg("abc", "line one\nline two\ttab \"quoted\" \xc3\xa9t\xc3\xa9");
	m->seq = 42;
	m->receipt = 1;
	buf = spool_encode(m, &len);
	is_int(spool_decode(buf, len, &d, &err), 0, "decode what was encoded");
	is_str(d.id, "abc", "id survives");
	is_int((long long)d.seq, 42, "seq survives");
	is_int(d.created, 1764000000, "created survives");
	is_str(d.type, "chat", "type survives");
	is_int(d.receipt, 1, "receipt flag survives");
	is_int((long long)d.nto, 2, "two recipients");
	is_str(d.to[1], "b@example.org/res", "second recipient survives");
	ok(d.bodylen == m->bodylen && memcmp(d.body, m->body, d.bodylen) == 0,
	    "body survives byte for byte");
	spool_msg_free(&d);

	/* Every single-byte change of the file is detected. */
	{
		size_t	i, caught = 0;

		for (i = 0; i < len; i++) {
			buf[i] ^= 0x01;
			if (spool_decode(buf, len, &d, &err) == -1)
				caught++;
			else
				spool_msg_free(&d);
			buf[i] ^= 0x01;
		}
		is_int((long long)caught, (long long)len,
		    "every flipped bit of %zu bytes is detected", len);
	}
	/* Every truncation is detected. */
	{
		size_t	i, caught = 0;

		for (i = 0; i < len; i++)
			if (spool_decode(buf, i, &d, &err) == -1)
				caught++;
		is_int((long long)caught, (long long)len,
		    "every truncation is detected");
	}
	is_int(spool_decode(buf, len - 1, &d, &err), -1, "torn file refused");
	is_str(err, "truncated payload", "... as truncated");
	free(buf);
	freemsg(m);
}

static int
count_files(const char *dir)
{
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	if ((d = opendir(dir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' && strcmp(de->d_name, "damaged") != 0)
			n++;
	closedir(d);
	return n;
}

static void
write_file(const char *path, const char *data, size_t len)
{
	int	fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd == -1 || write(fd, data, len) != (ssize_t)len)
		diag("cannot write %s", path);
	if (fd != -1)
		close(fd);
}

static void
directory(void)
{
	struct spool		*sp;
	struct spool_msg	*m[5];
	char			*dir, *cause = NULL, *path, *buf;
	size_t			 len;
	int			 i;
	struct stat		 st;

	xasprintf(&dir, "%s/outbox", tmpdir);
	sp = spool_open(dir, 0, 0, &cause);
	ok(sp != NULL, "spool opens (%s)", cause ? cause : "ok");
	ok(stat(dir, &st) == 0 && (st.st_mode & 0777) == 0700,
	    "directory is created 0700");
	for (i = 0; i < 5; i++) {
		char id[8];

		snprintf(id, sizeof(id), "m%d", i);
		m[i] = mkmsg(id, "hello");
		is_int(spool_put(sp, m[i], &cause), 0, "put %s", id);
	}
	is_int((long long)spool_count(sp), 5, "five counted");
	ok(m[4]->seq > m[3]->seq && m[1]->seq > m[0]->seq,
	    "sequence numbers increase");
	is_int(count_files(dir), 5, "five files");

	/* Damage: m1 torn, m2 bit-flipped, m3 with trailing bytes. */
	xasprintf(&path, "%s/%016llx.msg", dir, (unsigned long long)m[1]->seq);
	buf = spool_encode(m[1], &len);
	write_file(path, buf, len / 2);
	free(buf);
	free(path);
	xasprintf(&path, "%s/%016llx.msg", dir, (unsigned long long)m[2]->seq);
	buf = spool_encode(m[2], &len);
	buf[len - 2] ^= 0x20;
	write_file(path, buf, len);
	free(buf);
	free(path);
	xasprintf(&path, "%s/%016llx.msg", dir, (unsigned long long)m[3]->seq);
	buf = spool_encode(m[3], &len);
	buf = xreallocarray(buf, len + 3, 1);
	memcpy(buf + len, "xyz", 3);
	write_file(path, buf, len + 3);
	free(buf);
	free(path);
	/* A stale temporary file and an unrelated one. */
	xasprintf(&path, "%s/tmp.0000000000000099", dir);
	write_file(path, "partial", 7);
	free(path);
	xasprintf(&path, "%s/README", dir);
	write_file(path, "not ours", 8);
	free(path);
	spool_close(sp);

	sp = spool_open(dir, 0, 0, &cause);
	is_int(spool_load(sp, on_load, NULL, &cause), 2,
	    "two intact messages load");
	is_int(nloaded, 2, "two handed over");
	if (nloaded == 2) {
		is_str(loaded_ids[0], "m0", "in order: m0 first");
		is_str(loaded_ids[1], "m4", "then m4");
	}
	reset_loaded();
	xasprintf(&path, "%s/damaged", dir);
	is_int(count_files(path), 3, "three files set aside in damaged/");
	free(path);
	is_int(count_files(dir), 3, "left: two messages and README");
	is_int((long long)spool_count(sp), 2, "count after load");

	/* A new message gets a sequence number after every existing one. */
	{
		struct spool_msg *n = mkmsg("m5", "later");

		is_int(spool_put(sp, n, &cause), 0, "put after load");
		ok(n->seq > m[4]->seq, "new seq after the loaded ones");
		spool_remove(sp, n);
		freemsg(n);
	}
	is_int(count_files(dir), 3, "removed file is gone");
	spool_close(sp);
	for (i = 0; i < 5; i++)
		freemsg(m[i]);
	free(dir);
}

static void
limits(void)
{
	struct spool		*sp;
	struct spool_msg	*a, *b, *c;
	char			*dir, *cause = NULL;

	xasprintf(&dir, "%s/limited", tmpdir);
	sp = spool_open(dir, 2, 0, &cause);
	a = mkmsg("a", "one");
	b = mkmsg("b", "two");
	c = mkmsg("c", "three");
	is_int(spool_put(sp, a, &cause), 0, "first fits");
	is_int(spool_put(sp, b, &cause), 0, "second fits");
	is_int(spool_put(sp, c, &cause), -1, "third refused: count limit");
	ok(cause != NULL && strstr(cause, "outbox full") != NULL &&
	    strstr(cause, "outbox_max_messages") != NULL,
	    "error names the limit: %s", cause ? cause : "(none)");
	free(cause);
	cause = NULL;
	is_int(count_files(dir), 2, "nothing left behind by the refusal");

	spool_set_limits(sp, 0, spool_bytes(sp) + 10);
	is_int(spool_put(sp, c, &cause), -1, "refused: byte limit");
	ok(cause != NULL && strstr(cause, "outbox_max_bytes") != NULL,
	    "error names the byte limit");
	free(cause);
	cause = NULL;
	spool_remove(sp, a);
	spool_set_limits(sp, 0, 0);
	is_int(spool_put(sp, c, &cause), 0, "fits again once one is removed");
	is_int(count_files(dir), 2, "two files");
	spool_close(sp);
	freemsg(a);
	freemsg(b);
	freemsg(c);
	free(dir);

	/* A directory we cannot write to: a clear error, nothing kept. */
	if (geteuid() != 0) {
		xasprintf(&dir, "%s/readonly", tmpdir);
		sp = spool_open(dir, 0, 0, &cause);
		chmod(dir, 0500);
		a = mkmsg("ro", "x");
		is_int(spool_put(sp, a, &cause), -1, "unwritable: refused");
		ok(cause != NULL && strstr(cause, "cannot create") != NULL,
		    "with the reason: %s", cause ? cause : "(none)");
		free(cause);
		is_int((long long)spool_count(sp), 0, "not counted");
		chmod(dir, 0700);
		freemsg(a);
		spool_close(sp);
		free(dir);
	}
}

static void
bad_fields(void)
{
	static const char *const bad[] = {
		"id \nseq 1\ncreated 1\ntype chat\nreceipt 0\nto a@b\nbody 1\nx",
		"id x\nseq 01\ncreated 1\ntype chat\nreceipt 0\nto a@b\nbody 1\nx",
		"id x\nseq 1\ncreated 1\ntype groupchat\nreceipt 0\nto a@b\nbody 1\nx",
		"id x\nseq 1\ncreated 1\ntype chat\nreceipt 2\nto a@b\nbody 1\nx",
		"id x\nseq 1\ncreated 1\ntype chat\nreceipt 0\nbody 1\nx",
		"id x\nseq 1\ncreated 1\ntype chat\nreceipt 0\nto a b\nbody 1\nx",
		"id x\nseq 1\ncreated 1\ntype chat\nreceipt 0\nto a@b\nbody 2\nx",
		"id x\nseq 1\ncreated 1\ntype chat\nreceipt 0\nto a@b\nbody 1\n\xff",
	};
	/* Found by fuzz_spool: a NUL after a valid type (length given). */
	static const char nul_type[] = "id x\nseq 1\ncreated 1\ntype chat\0x\n"
	    "receipt 0\nto a@b\nbody 1\nx";
	struct spool_msg	 d;
	const char		*err;
	char			 hdr[64], *buf;
	size_t			 i, plen;
	int			 hl, r;

	for (i = 0; i < nitems(bad); i++) {
		plen = strlen(bad[i]);
		hl = snprintf(hdr, sizeof(hdr), "xmppd-spool 1 %zu %08x\n",
		    plen, spool_crc32(bad[i], plen));
		buf = xmalloc((size_t)hl + plen);
		memcpy(buf, hdr, (size_t)hl);
		memcpy(buf + hl, bad[i], plen);
		/* err is read only after the call has set it. */
		err = NULL;
		r = spool_decode(buf, (size_t)hl + plen, &d, &err);
		is_int(r, -1, "bad field %zu refused (%s)", i,
		    err != NULL ? err : "(none)");
		free(buf);
	}
	plen = sizeof(nul_type) - 1;
	hl = snprintf(hdr, sizeof(hdr), "xmppd-spool 1 %zu %08x\n", plen,
	    spool_crc32(nul_type, plen));
	buf = xmalloc((size_t)hl + plen);
	memcpy(buf, hdr, (size_t)hl);
	memcpy(buf + hl, nul_type, plen);
	is_int(spool_decode(buf, (size_t)hl + plen, &d, &err), -1,
	    "a NUL inside a field is refused");
	free(buf);
	is_int(spool_decode("xmppd-spool 2 0 00000000\n", 25, &d, &err), -1,
	    "unknown version refused");
	is_str(err, "unknown format version", "... and said so");
}

int
main(void)
{
	char	cmd[128];

	log_init(0, LOG_TO_STDERR, NULL);
	if (mkdtemp(tmpdir) == NULL)
		return 1;
	roundtrip();
	directory();
	limits();
	bad_fields();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		diag("cannot remove %s", tmpdir);
	return done_testing();
}
