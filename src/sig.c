/* Self-pipe signal handling. */
#include "sig.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SIG_DRAIN_BYTES 64
#define MS_PER_SEC      1000
#define NS_PER_MS       1000000

static volatile sig_atomic_t sig_pending_stop, sig_pending_reload, sig_pending_stats;
static volatile sig_atomic_t sig_stopped;	/* never cleared */
static volatile sig_atomic_t stop_signo, stop_pid;	/* the last stop's, for the log */
static long long stop_deadline_ms;		/* for sig_write(); 0: not set */
static int sig_pipe[2] = { -1, -1 };

static void sig_handler(int s, siginfo_t *si, void *uc)
{
	int saved = errno;
	char b = 0;

	(void)uc;
	if (s == SIGTERM || s == SIGINT) {
		stop_signo = s;
		stop_pid = si ? (sig_atomic_t)si->si_pid : 0;
		sig_pending_stop = sig_stopped = 1;
	}
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
	sa.sa_sigaction = sig_handler;
	sigemptyset(&sa.sa_mask);
	sigemptyset(&set);
	/* A stop interrupts a write blocked on a reader that takes nothing
	 * (see sig_write()); the others must not disturb any call. */
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		sa.sa_flags = SA_SIGINFO |
			      (sigs[i] == SIGTERM || sigs[i] == SIGINT ? 0 : SA_RESTART);
		if (sigaction(sigs[i], &sa, NULL) < 0 || sigaddset(&set, sigs[i]) < 0)
			return -1;
	}
	/* A parent may have left them blocked (the mask is inherited): they
	 * would wait forever. */
	if (sigprocmask(SIG_UNBLOCK, &set, NULL) < 0)
		return -1;
	/* A vanished appliance connection must not kill us. */
	sa.sa_flags = 0;
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

int sig_stopping(void)
{
	return sig_stopped;
}

void sig_stop_from(const char **name, long *pid)
{
	*name = stop_signo == SIGINT ? "SIGINT" : "SIGTERM";
	*pid = (long)stop_pid;
}

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * MS_PER_SEC + ts.tv_nsec / NS_PER_MS;
}

/* After a stop: 0 once fd takes data, -1 (ETIMEDOUT) when it took none
 * until the deadline, which is shared by every write of the stop. */
static int stop_wait_writable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	long long left;
	int r;

	if (stop_deadline_ms == 0)
		stop_deadline_ms = mono_ms() + SIG_STOP_WRITE_SEC * MS_PER_SEC;
	for (;;) {
		left = stop_deadline_ms - mono_ms();
		r = poll(&p, 1, left > 0 ? (int)left : 0);
		if (r > 0)
			return p.revents & POLLNVAL ? (errno = EBADF, -1) : 0;
		if (r == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (errno != EINTR)
			return -1;
	}
}

int sig_write(int fd, const void *buf, size_t len)
{
	const char *b = buf;
	size_t chunk;
	ssize_t n;

	while (len > 0) {
		chunk = len;
		if (sig_stopped) {
			if (stop_wait_writable(fd) < 0)
				return -1;
			/* What poll() promises a pipe: no wait for this much. */
			if (chunk > PIPE_BUF)
				chunk = PIPE_BUF;
		}
		n = write(fd, b, chunk);
		if (n < 0 && errno == EINTR)
			continue;	/* a stop: the loop now waits with a bound */
		if (n < 0)
			return -1;
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		b += n;
		len -= (size_t)n;
	}
	return 0;
}
