/* Signals become bits read in the poll() loop: the handlers only set a flag
 * and write one byte to a self-pipe that poll() watches. */
#ifndef D42_SIG_H
#define D42_SIG_H

#define SIG_STOP   0x1	/* SIGTERM, SIGINT */
#define SIG_RELOAD 0x2	/* SIGHUP */
#define SIG_STATS  0x4	/* SIGUSR1 */

int sig_init(void);		/* 0 or -1 */
int sig_fd(void);		/* read end of the self-pipe, for poll() */
unsigned sig_take(void);	/* pending bits, cleared; drains the pipe */

#endif
