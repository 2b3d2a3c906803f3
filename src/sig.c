/* Self-pipe signal handling. */
#include "sig.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#define SIG_DRAIN_BYTES 64

static volatile sig_atomic_t sig_pending_stop, sig_pending_reload, sig_pending_stats;
static int sig_pipe[2] = { -1, -1 };

static void sig_handler(int s)
{
	int saved = errno;
	char b = 0;

	if (s == SIGTERM || s == SIGINT)
		sig_pending_stop = 1;
	else if (s == SIGHUP)
		sig_pending_reload = 1;
	else if (s == SIGUSR1)
		sig_pending_stats = 1;
	/* A full pipe already wakes the loop: ignore EAGAIN. */
	if (write(sig_pipe[1], &b, 1) < 0) {
	}
	errno = saved;
}

static int sig_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

int sig_init(void)
{
	struct sigaction sa;
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1 };
	sigset_t set;
	unsigned i;

	if (pipe(sig_pipe) < 0)
		return -1;
	if (sig_nonblock(sig_pipe[0]) < 0 || sig_nonblock(sig_pipe[1]) < 0 ||
	    fcntl(sig_pipe[0], F_SETFD, FD_CLOEXEC) < 0 ||
	    fcntl(sig_pipe[1], F_SETFD, FD_CLOEXEC) < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = sig_handler;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigemptyset(&set);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (sigaction(sigs[i], &sa, NULL) < 0 || sigaddset(&set, sigs[i]) < 0)
			return -1;
	/* A parent may have left them blocked (the mask is inherited): they
	 * would wait forever. */
	if (sigprocmask(SIG_UNBLOCK, &set, NULL) < 0)
		return -1;
	/* A vanished appliance connection must not kill us. */
	sa.sa_handler = SIG_IGN;
	return sigaction(SIGPIPE, &sa, NULL);
}

int sig_fd(void)
{
	return sig_pipe[0];
}

unsigned sig_take(void)
{
	char buf[SIG_DRAIN_BYTES];
	unsigned bits = 0;

	while (read(sig_pipe[0], buf, sizeof(buf)) > 0)
		;
	if (sig_pending_stop) {
		sig_pending_stop = 0;
		bits |= SIG_STOP;
	}
	if (sig_pending_reload) {
		sig_pending_reload = 0;
		bits |= SIG_RELOAD;
	}
	if (sig_pending_stats) {
		sig_pending_stats = 0;
		bits |= SIG_STATS;
	}
	return bits;
}
