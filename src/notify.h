/*
 * notify.h: what the daemon tells systemd (sd_notify(3)): READY, STATUS,
 * RELOADING, STOPPING and the watchdog.  Without libsystemd, or without
 * NOTIFY_SOCKET, every call is a no-op.
 */
#ifndef XMPPD_NOTIFY_H
#define XMPPD_NOTIFY_H

#include <stdint.h>

struct event_base;

void	notify_ready(void);
void	notify_reloading(void);
void	notify_stopping(void);
void	notify_status(const char *, ...) __attribute__((__format__(printf, 1, 2)));
/* STATUS= for a connection state, e.g. "online as a@b/c". */
void	notify_state(const char *state, const char *jid, const char *reason,
	    uint32_t retry_ms, const char *peer);
/* Group chats joined out of total; added to STATUS= while online. */
void	notify_rooms(unsigned int joined, unsigned int total);
/*
 * Send WATCHDOG=1 from the loop at least every WATCHDOG_USEC/2, if
 * enabled.  kick: the loop is awake anyway; feed now if a quarter of
 * WATCHDOG_USEC has passed, saving the timer's wake-up.
 */
void	notify_watchdog_start(struct event_base *);
void	notify_watchdog_kick(void);
void	notify_watchdog_stop(void);
/* The fd systemd passed as FileDescriptorName=control, or -1. */
int	notify_listen_fd(void);
/* 1 when stderr is connected to the journal ($JOURNAL_STREAM). */
int	notify_stderr_is_journal(void);
int	notify_journal(int, const char *, const char *);

#endif
