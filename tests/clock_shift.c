/* LD_PRELOAD for tests/t_clock.sh: CLOCK_REALTIME as clock_gettime() gives
 * it, moved by the whole seconds written in the file $CLOCK_SHIFT_FILE
 * (read at every call, so a test can step the clock of a running agent;
 * no file or no number: not moved). The kernel's packet stamps do not
 * move: only the agent's own idea of the time does. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define SHIFT_TEXT_MAX 32

static long shift_seconds(void)
{
	const char *path = getenv("CLOCK_SHIFT_FILE");
	char buf[SHIFT_TEXT_MAX];
	ssize_t n;
	int fd;

	if (!path || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

int clock_gettime(clockid_t id, struct timespec *ts)
{
	/* The system call itself: no vDSO lookup, no dlsym. */
	int r = (int)syscall(SYS_clock_gettime, id, ts);

	if (r == 0 && id == CLOCK_REALTIME)
		ts->tv_sec += shift_seconds();
	return r;
}
