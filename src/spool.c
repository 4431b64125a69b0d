/*
 * spool.c: the outbox's files (format and layout in spool.h).  Writes are
 * made durable in the order a mail queue uses: temporary file, fdatasync,
 * rename, fsync of the directory; the last step is shared by every
 * message staged since the previous one (group commit).  The reader trusts nothing it finds on
 * disk: every length is bounded and checked against a CRC-32 before a
 * field is parsed.
 */
#include "compat.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "spool.h"
#include "util.h"
#include "xmalloc.h"

#define SPOOL_MAGIC	"xmppd-spool "
#define SPOOL_SUFFIX	".msg"
#define SPOOL_TMP	"tmp."
#define SPOOL_DAMAGED	"damaged"
#define SPOOL_HDR_MAX	64

struct spool {
	char		*dir;
	int		 dirfd;
	uint64_t	 next_seq;
	size_t		 count;
	size_t		 bytes;
	size_t		 max_msgs;
	size_t		 max_bytes;
	size_t		 unsynced;	/* staged since the last sync */
};

struct spool_entry {
	uint64_t	 seq;
	char		*name;
};

static const char *const spool_types[] = { "chat", "normal", "headline" };

/* ---------------------------------------------------------------------- */
/* the format */

uint32_t
spool_crc32(const void *data, size_t len)
{
	const unsigned char	*p = data;
	uint32_t		 crc = 0xffffffffU;
	int			 k;

	while (len-- > 0) {
		crc ^= *p++;
		for (k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320U & (0U - (crc & 1)));
	}
	return ~crc;
}

int
spool_valid_type(const char *t)
{
	size_t	i;

	for (i = 0; i < nitems(spool_types); i++)
		if (strcmp(t, spool_types[i]) == 0)
			return 1;
	return 0;
}

char *
spool_encode(const struct spool_msg *m, size_t *lenp)
{
	char	*payload, *p, *out;
	size_t	 plen, i;
	int	 hlen;

	plen = strlen(m->id) + strlen(m->type) + m->bodylen + 128;
	for (i = 0; i < m->nto; i++)
		plen += strlen(m->to[i]) + 4;
	payload = p = xmalloc(plen);
	p += sprintf(p, "id %s\nseq %" PRIu64 "\ncreated %" PRId64 "\n"
	    "type %s\nreceipt %d\n", m->id, m->seq, m->created, m->type,
	    m->receipt ? 1 : 0);
	for (i = 0; i < m->nto; i++)
		p += sprintf(p, "to %s\n", m->to[i]);
	p += sprintf(p, "body %zu\n", m->bodylen);
	memcpy(p, m->body, m->bodylen);
	p += m->bodylen;
	plen = (size_t)(p - payload);

	out = xmalloc(plen + SPOOL_HDR_MAX);
	hlen = snprintf(out, SPOOL_HDR_MAX, SPOOL_MAGIC "%d %zu %08" PRIx32
	    "\n", SPOOL_VERSION, plen, spool_crc32(payload, plen));
	memcpy(out + hlen, payload, plen);
	free(payload);
	*lenp = (size_t)hlen + plen;
	return out;
}

/* A decimal number of at most 19 digits, no sign, no leading zeros. */
static int
spool_number(const char *s, size_t len, uint64_t *v)
{
	size_t	i;

	if (len == 0 || len > 19 || (len > 1 && s[0] == '0'))
		return -1;
	*v = 0;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		*v = *v * 10 + (uint64_t)(s[i] - '0');
	}
	return 0;
}

/*
 * The next "KEY VALUE\n" line of the payload: value and its length.
 * Returns 0, or -1 when the key differs or the line is not complete.
 */
static int
spool_field(const char **pp, const char *end, const char *key,
    const char **val, size_t *vlen)
{
	const char	*p = *pp, *nl;
	size_t		 klen = strlen(key);

	if ((size_t)(end - p) < klen + 2 || memcmp(p, key, klen) != 0 ||
	    p[klen] != ' ')
		return -1;
	p += klen + 1;
	if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL ||
	    memchr(p, '\0', (size_t)(nl - p)) != NULL)
		return -1;
	*val = p;
	*vlen = (size_t)(nl - p);
	*pp = nl + 1;
	return 0;
}

/* An id or a JID: printable, no spaces, bounded, valid UTF-8. */
static int
spool_word_ok(const char *s, size_t len, size_t max)
{
	size_t	i;

	if (len == 0 || len > max || !utf8_valid(s, len))
		return 0;
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

static int
spool_bad(struct spool_msg *m, const char **err, const char *why)
{
	spool_msg_free(m);
	*err = why;
	return -1;
}

static int
spool_decode_header(const char *buf, size_t len, const char **payload,
    size_t *plen, const char **err)
{
	const char	*nl, *sp1, *sp2, *p;
	uint64_t	 ver, n;
	uint32_t	 crc = 0;
	size_t		 hlen;
	int		 i;

	if (len < sizeof(SPOOL_MAGIC) - 1 ||
	    memcmp(buf, SPOOL_MAGIC, sizeof(SPOOL_MAGIC) - 1) != 0)
		return (*err = "not a spool file"), -1;
	if ((nl = memchr(buf, '\n', len < SPOOL_HDR_MAX ? len :
	    SPOOL_HDR_MAX)) == NULL)
		return (*err = "truncated header"), -1;
	p = buf + sizeof(SPOOL_MAGIC) - 1;
	if ((sp1 = memchr(p, ' ', (size_t)(nl - p))) == NULL ||
	    (sp2 = memchr(sp1 + 1, ' ', (size_t)(nl - sp1 - 1))) == NULL)
		return (*err = "bad header"), -1;
	if (spool_number(p, (size_t)(sp1 - p), &ver) == -1)
		return (*err = "bad header"), -1;
	if (ver != SPOOL_VERSION)
		return (*err = "unknown format version"), -1;
	if (spool_number(sp1 + 1, (size_t)(sp2 - sp1 - 1), &n) == -1 ||
	    n > SPOOL_MAX_FILE)
		return (*err = "bad payload length"), -1;
	if (nl - sp2 - 1 != 8)
		return (*err = "bad checksum field"), -1;
	for (i = 1; i <= 8; i++) {
		char c = sp2[i];

		if (c >= '0' && c <= '9')
			crc = crc << 4 | (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			crc = crc << 4 | (uint32_t)(c - 'a' + 10);
		else
			return (*err = "bad checksum field"), -1;
	}
	hlen = (size_t)(nl + 1 - buf);
	if (len - hlen != n)
		return (*err = len - hlen < n ? "truncated payload" :
		    "trailing bytes after the payload"), -1;
	if (spool_crc32(nl + 1, n) != crc)
		return (*err = "checksum mismatch"), -1;
	*payload = nl + 1;
	*plen = n;
	return 0;
}

int
spool_decode(const char *buf, size_t len, struct spool_msg *m,
    const char **err)
{
	const char	*p, *end, *v;
	size_t		 vlen;
	uint64_t	 n;

	memset(m, 0, sizeof(*m));
	if (spool_decode_header(buf, len, &p, &vlen, err) == -1)
		return -1;
	end = p + vlen;
	if (spool_field(&p, end, "id", &v, &vlen) == -1 ||
	    !spool_word_ok(v, vlen, SPOOL_MAX_ID))
		return spool_bad(m, err, "bad id");
	m->id = xstrndup(v, vlen);
	if (spool_field(&p, end, "seq", &v, &vlen) == -1 ||
	    spool_number(v, vlen, &m->seq) == -1)
		return spool_bad(m, err, "bad seq");
	if (spool_field(&p, end, "created", &v, &vlen) == -1 ||
	    spool_number(v, vlen, &n) == -1 || n > INT64_MAX)
		return spool_bad(m, err, "bad created time");
	m->created = (int64_t)n;
	if (spool_field(&p, end, "type", &v, &vlen) == -1 || vlen > 16)
		return spool_bad(m, err, "bad type");
	m->type = xstrndup(v, vlen);
	if (!spool_valid_type(m->type))
		return spool_bad(m, err, "bad type");
	if (spool_field(&p, end, "receipt", &v, &vlen) == -1 || vlen != 1 ||
	    (v[0] != '0' && v[0] != '1'))
		return spool_bad(m, err, "bad receipt flag");
	m->receipt = v[0] == '1';
	while (spool_field(&p, end, "to", &v, &vlen) == 0) {
		if (m->nto == SPOOL_MAX_RCPT)
			return spool_bad(m, err, "too many recipients");
		if (!spool_word_ok(v, vlen, SPOOL_MAX_JID))
			return spool_bad(m, err, "bad recipient");
		m->to = xreallocarray(m->to, m->nto + 1, sizeof(*m->to));
		m->to[m->nto++] = xstrndup(v, vlen);
	}
	if (m->nto == 0)
		return spool_bad(m, err, "no recipient");
	if (spool_field(&p, end, "body", &v, &vlen) == -1 ||
	    spool_number(v, vlen, &n) == -1 || n > SPOOL_MAX_BODY)
		return spool_bad(m, err, "bad body length");
	if ((uint64_t)(end - p) != n)
		return spool_bad(m, err, "body length mismatch");
	if (!utf8_valid(p, (size_t)n))
		return spool_bad(m, err, "body is not UTF-8");
	m->body = xstrndup(p, (size_t)n);
	m->bodylen = (size_t)n;
	m->filesize = len;
	return 0;
}

void
spool_msg_free(struct spool_msg *m)
{
	size_t	i;

	if (m == NULL)
		return;
	free(m->id);
	free(m->type);
	for (i = 0; i < m->nto; i++)
		free(m->to[i]);
	free(m->to);
	free(m->body);
	memset(m, 0, sizeof(*m));
}

/* ---------------------------------------------------------------------- */
/* the directory */

struct spool *
spool_open(const char *dir, size_t max_msgs, size_t max_bytes, char **cause)
{
	struct spool	*sp;
	int		 fd;

	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		xasprintf(cause, "cannot create %s: %s", dir, strerror(errno));
		return NULL;
	}
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		xasprintf(cause, "cannot open %s: %s", dir, strerror(errno));
		return NULL;
	}
	sp = xcalloc(1, sizeof(*sp));
	sp->dir = xstrdup(dir);
	sp->dirfd = fd;
	sp->next_seq = 1;
	spool_set_limits(sp, max_msgs, max_bytes);
	return sp;
}

void
spool_close(struct spool *sp)
{
	if (sp == NULL)
		return;
	close(sp->dirfd);
	free(sp->dir);
	free(sp);
}

void
spool_set_limits(struct spool *sp, size_t max_msgs, size_t max_bytes)
{
	sp->max_msgs = max_msgs;
	sp->max_bytes = max_bytes;
}

size_t
spool_count(const struct spool *sp)
{
	return sp->count;
}

size_t
spool_bytes(const struct spool *sp)
{
	return sp->bytes;
}

const char *
spool_dir(const struct spool *sp)
{
	return sp->dir;
}

static int
spool_entry_cmp(const void *a, const void *b)
{
	const struct spool_entry	*x = a, *y = b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* "SEQ.msg" with SEQ exactly 16 lowercase hex digits. */
static int
spool_parse_name(const char *name, uint64_t *seq)
{
	size_t	i;

	if (strlen(name) != 16 + sizeof(SPOOL_SUFFIX) - 1 ||
	    strcmp(name + 16, SPOOL_SUFFIX) != 0)
		return -1;
	*seq = 0;
	for (i = 0; i < 16; i++) {
		char c = name[i];

		if (c >= '0' && c <= '9')
			*seq = *seq << 4 | (uint64_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			*seq = *seq << 4 | (uint64_t)(c - 'a' + 10);
		else
			return -1;
	}
	return 0;
}

/* Move a file that does not check out to damaged/, keeping its name. */
static void
spool_set_aside(struct spool *sp, const char *name, const char *why)
{
	char	*to;

	if (mkdirat(sp->dirfd, SPOOL_DAMAGED, 0700) == -1 && errno != EEXIST) {
		log_warn("spool: %s/%s is damaged (%s); cannot create %s/%s",
		    sp->dir, name, why, sp->dir, SPOOL_DAMAGED);
		return;
	}
	/* Numbers are reused once the spool was empty: keep older ones. */
	xasprintf(&to, SPOOL_DAMAGED "/%s.%lld", name, (long long)time(NULL));
	if (renameat(sp->dirfd, name, sp->dirfd, to) == -1)
		log_warn("spool: %s/%s is damaged (%s); cannot move it aside",
		    sp->dir, name, why);
	else
		log_warnx("spool: %s/%s is damaged (%s); moved to %s/%s",
		    sp->dir, name, why, sp->dir, to);
	free(to);
	fsync(sp->dirfd);
}

/* Read a whole file, at most SPOOL_MAX_FILE + 1 bytes. */
static char *
spool_read(struct spool *sp, const char *name, size_t *lenp,
    const char **why)
{
	struct stat	 st;
	char		*buf;
	size_t		 off = 0;
	ssize_t		 n;
	int		 fd;

	if ((fd = openat(sp->dirfd, name, O_RDONLY | O_CLOEXEC |
	    O_NOFOLLOW)) == -1) {
		*why = strerror(errno);
		return NULL;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > SPOOL_MAX_FILE) {
		*why = "not a regular file of a plausible size";
		close(fd);
		return NULL;
	}
	buf = xmalloc((size_t)st.st_size + 1);
	while (off < (size_t)st.st_size &&
	    (n = read(fd, buf + off, (size_t)st.st_size - off)) > 0)
		off += (size_t)n;
	close(fd);
	*lenp = off;
	return buf;
}

static int
spool_scan(struct spool *sp, struct spool_entry **entp, size_t *np,
    char **cause)
{
	struct spool_entry	*ent = NULL;
	struct dirent		*de;
	DIR			*d;
	size_t			 n = 0;
	uint64_t		 seq;
	int			 fd;

	if ((fd = dup(sp->dirfd)) == -1 || (d = fdopendir(fd)) == NULL) {
		xasprintf(cause, "cannot read %s: %s", sp->dir,
		    strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, SPOOL_TMP, strlen(SPOOL_TMP)) == 0) {
			/* A write that never reached its rename. */
			unlinkat(sp->dirfd, de->d_name, 0);
			continue;
		}
		if (spool_parse_name(de->d_name, &seq) == -1)
			continue;
		ent = xreallocarray(ent, n + 1, sizeof(*ent));
		ent[n].seq = seq;
		ent[n++].name = xstrdup(de->d_name);
	}
	closedir(d);
	if (n > 1)
		qsort(ent, n, sizeof(*ent), spool_entry_cmp);
	*entp = ent;
	*np = n;
	return 0;
}

int
spool_load(struct spool *sp, void (*cb)(void *, struct spool_msg *),
    void *arg, char **cause)
{
	struct spool_entry	*ent;
	struct spool_msg	*m;
	const char		*why;
	char			*buf;
	size_t			 n, i, len;
	int			 loaded = 0;

	if (spool_scan(sp, &ent, &n, cause) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		if (ent[i].seq >= sp->next_seq)
			sp->next_seq = ent[i].seq + 1;
		m = xcalloc(1, sizeof(*m));
		if ((buf = spool_read(sp, ent[i].name, &len, &why)) == NULL ||
		    spool_decode(buf, len, m, &why) == -1 ||
		    m->seq != ent[i].seq) {
			if (buf != NULL && m->id != NULL)
				why = "sequence number differs from its name";
			spool_msg_free(m);
			free(m);
			spool_set_aside(sp, ent[i].name, why);
		} else {
			sp->count++;
			sp->bytes += m->filesize;
			loaded++;
			cb(arg, m);
		}
		free(buf);
		free(ent[i].name);
	}
	free(ent);
	return loaded;
}

static int
spool_full(struct spool *sp, size_t size, char **cause)
{
	if (sp->max_msgs != 0 && sp->count >= sp->max_msgs) {
		xasprintf(cause, "outbox full: %zu messages queued (limit "
		    "outbox_max_messages = %zu); nothing was accepted",
		    sp->count, sp->max_msgs);
		return 1;
	}
	if (sp->max_bytes != 0 && sp->bytes + size > sp->max_bytes) {
		xasprintf(cause, "outbox full: %zu of %zu bytes used, this "
		    "message needs %zu (limit outbox_max_bytes); nothing was "
		    "accepted", sp->bytes, sp->max_bytes, size);
		return 1;
	}
	return 0;
}

static int
spool_write_all(int fd, const char *buf, size_t len)
{
	ssize_t	n;

	while (len > 0) {
		if ((n = write(fd, buf, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int
spool_stage(struct spool *sp, struct spool_msg *m, char **cause)
{
	char	 name[32], tmp[40], *buf;
	size_t	 len;
	int	 fd, saved;

	m->seq = sp->next_seq;
	buf = spool_encode(m, &len);
	if (spool_full(sp, len, cause)) {
		free(buf);
		return -1;
	}
	snprintf(name, sizeof(name), "%016" PRIx64 SPOOL_SUFFIX, m->seq);
	snprintf(tmp, sizeof(tmp), SPOOL_TMP "%016" PRIx64, m->seq);
	if ((fd = openat(sp->dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL |
	    O_CLOEXEC, 0600)) == -1) {
		xasprintf(cause, "cannot create %s/%s: %s", sp->dir, tmp,
		    strerror(errno));
		free(buf);
		return -1;
	}
	/* The data before the name: a file found after a crash is whole. */
	if (spool_write_all(fd, buf, len) == -1 || fdatasync(fd) == -1) {
		saved = errno;
		close(fd);
		goto fail;
	}
	free(buf);
	buf = NULL;
	if (close(fd) == -1 || renameat(sp->dirfd, tmp, sp->dirfd,
	    name) == -1) {
		saved = errno;
		goto fail;
	}
	sp->next_seq++;
	sp->count++;
	sp->bytes += len;
	sp->unsynced++;
	m->filesize = len;
	return 0;
fail:
	free(buf);
	unlinkat(sp->dirfd, tmp, 0);
	xasprintf(cause, "cannot write %s/%s: %s; nothing was accepted",
	    sp->dir, name, strerror(saved));
	return -1;
}

int
spool_sync(struct spool *sp, char **cause)
{
	if (sp->unsynced == 0)
		return 0;
	sp->unsynced = 0;
	if (fsync(sp->dirfd) == -1) {
		xasprintf(cause, "cannot sync %s: %s; nothing was accepted",
		    sp->dir, strerror(errno));
		return -1;
	}
	return 0;
}

int
spool_put(struct spool *sp, struct spool_msg *m, char **cause)
{
	if (spool_stage(sp, m, cause) == -1)
		return -1;
	if (spool_sync(sp, cause) == -1) {
		spool_remove(sp, m);
		return -1;
	}
	return 0;
}

void
spool_remove(struct spool *sp, const struct spool_msg *m)
{
	char	name[32];

	snprintf(name, sizeof(name), "%016" PRIx64 SPOOL_SUFFIX, m->seq);
	/* Not synced: a removal lost in a crash only means a resend. */
	if (unlinkat(sp->dirfd, name, 0) == -1 && errno != ENOENT)
		log_warn("spool: cannot remove %s/%s", sp->dir, name);
	if (sp->count > 0)
		sp->count--;
	sp->bytes = sp->bytes > m->filesize ? sp->bytes - m->filesize : 0;
}
