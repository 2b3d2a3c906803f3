/* Unit tests for src/sig.c: stop signals reach the loop, and sig_write()
 * waits for a reader as write(2) does until a stop, then only briefly.
 * The tests run in order: a stop, once signalled, stays. alarm() ends the
 * program (and so fails it) if a write hangs. */
#include "t.h"
#include "../../src/sig.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#define HANG_GUARD_SEC  30	/* far beyond SIG_STOP_WRITE_SEC */
#define CHILD_DELAY_US  200000	/* the parent is blocked in write() by then */
#define BIG_WRITE       (3 * PIPE_BUF + 5)

static int pfd[2] = { -1, -1 };

/* Fills the pipe until a write would block; leaves it blocking. */
static void fill_pipe(int fd)
{
	char b[PIPE_BUF];
	int fl = fcntl(fd, F_GETFL);

	memset(b, 'x', sizeof(b));
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	while (write(fd, b, sizeof(b)) > 0 || write(fd, b, 1) > 0)
		;
	fcntl(fd, F_SETFL, fl);
}

static void drain_pipe(int fd)
{
	char b[PIPE_BUF];
	int fl = fcntl(fd, F_GETFL);

	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	while (read(fd, b, sizeof(b)) > 0)
		;
	fcntl(fd, F_SETFL, fl);
}

static int read_back(int fd, const char *want, size_t len)
{
	char b[BIG_WRITE];
	size_t got = 0;
	ssize_t n;

	while (got < len && (n = read(fd, b + got, len - got)) > 0)
		got += (size_t)n;
	return got == len && memcmp(b, want, len) == 0;
}

static void test_write_before_stop(void)
{
	char b[BIG_WRITE];

	memset(b, 'a', sizeof(b));
	b[sizeof(b) - 1] = 'z';
	T_EQ_INT(sig_stopping(), 0);
	T_EQ_INT(sig_write(pfd[1], b, sizeof(b)), 0);
	T_CHECK(read_back(pfd[0], b, sizeof(b)));
	T_EQ_INT(sig_take(), 0);
}

/* Blocked on a full pipe, a SIGTERM from another process ends the wait:
 * with SA_RESTART the write was restarted and never returned. */
static void test_stop_interrupts_blocked_write(void)
{
	pid_t parent = getpid(), child;
	int st;

	fill_pipe(pfd[1]);
	child = fork();
	if (child == 0) {
		usleep(CHILD_DELAY_US);
		kill(parent, SIGTERM);
		_exit(0);
	}
	T_CHECK(child > 0);
	errno = 0;
	T_EQ_INT(sig_write(pfd[1], "y", 1), -1);
	T_EQ_INT(errno, ETIMEDOUT);
	T_EQ_INT(sig_stopping(), 1);
	waitpid(child, &st, 0);
	T_EQ_INT(sig_take() & SIG_STOP, SIG_STOP);
	T_EQ_INT(sig_stopping(), 1);	/* taking the bit does not end it */
}

/* The wait is shared by the whole stop: once spent, a stalled reader
 * costs nothing more; a reader that takes data still gets all of it. */
static void test_after_stop(void)
{
	char b[BIG_WRITE];

	T_EQ_INT(sig_write(pfd[1], "y", 1), -1);
	T_EQ_INT(errno, ETIMEDOUT);
	drain_pipe(pfd[0]);
	memset(b, 'c', sizeof(b));
	b[0] = 'a';
	T_EQ_INT(sig_write(pfd[1], b, sizeof(b)), 0);
	T_CHECK(read_back(pfd[0], b, sizeof(b)));
}

int main(void)
{
	alarm(HANG_GUARD_SEC);
	if (sig_init() < 0 || pipe(pfd) < 0) {
		printf("FAIL sig_init\n");
		return 1;
	}
	T_RUN(test_write_before_stop);
	T_RUN(test_stop_interrupts_blocked_write);
	T_RUN(test_after_stop);
	return T_DONE();
}
