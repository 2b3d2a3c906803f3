/* Signals become bits read in the poll() loop: the handlers only set a flag
 * and write one byte to a self-pipe that poll() watches. */
#ifndef D42_SIG_H
#define D42_SIG_H

#include <stddef.h>

#define SIG_STOP   0x1	/* SIGTERM, SIGINT */
#define SIG_RELOAD 0x2	/* SIGHUP */
#define SIG_STATS  0x4	/* SIGUSR1 */

int sig_init(void);		/* 0 or -1 */
int sig_fd(void);		/* read end of the self-pipe, for poll() */
unsigned sig_take(void);	/* pending bits, cleared; drains the pipe */
int sig_stopping(void);		/* 1 once SIGTERM or SIGINT came; stays 1 */
/* The last stop's signal ("SIGTERM") and sender (0: the kernel, a
 * terminal), for the log. */
void sig_stop_from(const char **name, long *pid);

/* How long, in all, writes after a stop signal wait for a reader that
 * takes nothing (a stalled pipe on standard output or error). */
#define SIG_STOP_WRITE_SEC 2

/* All of buf to fd: 0, or -1 with errno. Until a stop signal it waits for
 * the reader as write(2) does; after one, no longer than the rest of
 * SIG_STOP_WRITE_SEC (then ETIMEDOUT): a stalled reader cannot hold us. */
int sig_write(int fd, const void *buf, size_t len);

#endif
