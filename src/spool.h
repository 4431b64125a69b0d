/*
 * spool.h: the outbox's messages on disk, one file per message.
 *
 * The spool owns the file format and the durable writes; it knows nothing
 * of connections or states.  A message is accepted only once
 * spool_put() returned 0 (or spool_sync() after spool_stage()): its file
 * was written to a temporary name, fdatasync'd, renamed into place and the
 * directory fsync'd, so a crash or a power loss after that keeps it.
 *
 * File "DIR/SEQ.msg" (SEQ: 16 hex digits, the order of acceptance):
 *
 *	xmppd-spool 1 LEN CRC\n		header: version, payload length
 *					(decimal) and CRC-32 (8 hex digits)
 *	id ID\n				payload, exactly LEN bytes:
 *	seq SEQ\n
 *	created UNIXTIME\n
 *	type chat|normal|headline\n
 *	receipt 0|1\n
 *	to JID\n			once per recipient
 *	body N\n			then N bytes of UTF-8 body
 *
 * A file whose header, length, checksum or fields do not check out (a
 * torn write, a damaged disk) is moved to DIR/damaged/ with one log line
 * at load; the other messages are still loaded.
 */
#ifndef XMPPD_SPOOL_H
#define XMPPD_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#define SPOOL_VERSION		1
#define SPOOL_MAX_RCPT		64
#define SPOOL_MAX_BODY		(1024 * 1024)
#define SPOOL_MAX_ID		64
#define SPOOL_MAX_JID		3071
/* The largest file the loader reads: body, recipients and header. */
#define SPOOL_MAX_FILE		(SPOOL_MAX_BODY + \
	    SPOOL_MAX_RCPT * (SPOOL_MAX_JID + 4) + 512)

struct spool;

struct spool_msg {
	char		*id;		/* also the XEP-0359 origin-id */
	uint64_t	 seq;		/* set by spool_put(); names the file */
	int64_t		 created;	/* Unix time of acceptance */
	char		*type;		/* chat, normal or headline */
	int		 receipt;	/* XEP-0184 receipt requested */
	char		**to;
	size_t		 nto;
	char		*body;		/* NUL-terminated, bodylen bytes */
	size_t		 bodylen;
	size_t		 filesize;	/* counted against max_bytes */
};

/*
 * Open (creating, mode 0700) the spool directory.  Limits: 0 means none.
 * NULL with *cause on failure.
 */
struct spool	*spool_open(const char *dir, size_t max_msgs, size_t max_bytes,
		    char **cause);
void		 spool_close(struct spool *);
void		 spool_set_limits(struct spool *, size_t max_msgs,
		    size_t max_bytes);
/*
 * Load every message, in order of acceptance, handing each (owned by the
 * callee) to cb.  Damaged files are set aside; stale temporary files are
 * removed.  Returns the number loaded, or -1 with *cause when the
 * directory cannot be read.
 */
int		 spool_load(struct spool *, void (*cb)(void *, struct spool_msg *),
		    void *arg, char **cause);
/*
 * Write a message durably; assigns m->seq and m->filesize.  A full spool
 * (by count or bytes) or a failed write returns -1 with *cause, and
 * nothing is left behind.
 */
int		 spool_put(struct spool *, struct spool_msg *, char **cause);
/*
 * Group commit: spool_stage() writes, fdatasyncs and renames the file
 * (checks and *cause as spool_put()) but leaves the directory unsynced;
 * spool_sync() fsyncs the directory once for every message staged since
 * the last call, which makes them all durable.  When it fails (-1 with
 * *cause) the caller removes the staged messages: none was accepted.
 */
int		 spool_stage(struct spool *, struct spool_msg *, char **cause);
int		 spool_sync(struct spool *, char **cause);
/* Remove a message's file (once it is delivered, expired or dropped). */
void		 spool_remove(struct spool *, const struct spool_msg *);
size_t		 spool_count(const struct spool *);
size_t		 spool_bytes(const struct spool *);
const char	*spool_dir(const struct spool *);

/* The format, without I/O: for the loader, the tests and the fuzzer. */
char		*spool_encode(const struct spool_msg *, size_t *lenp);
/*
 * Decode a whole file.  Returns 0 and fills *m (free with
 * spool_msg_free), or -1 with *err (a static string).
 */
int		 spool_decode(const char *buf, size_t len, struct spool_msg *m,
		    const char **err);
void		 spool_msg_free(struct spool_msg *);
uint32_t	 spool_crc32(const void *, size_t);
/* 1 if s is a valid message type. */
int		 spool_valid_type(const char *);

#endif
