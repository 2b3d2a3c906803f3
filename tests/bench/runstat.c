/* runstat: run a command with a time limit and report what it cost.
 *
 *   runstat SECONDS OUTFILE CMD [ARG...]
 *
 * Appends one line to OUTFILE: "wall=S user=S sys=S maxrss_kb=N status=N"
 * (status: exit code, or 128+signal; 124 when the limit killed it). CPU
 * and peak RSS come from wait4() - the command and the children it waited
 * for; wall time from CLOCK_MONOTONIC. The command's own stdout/stderr are
 * left alone (the caller redirects them). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RS_TIMEOUT_STATUS 124	/* as coreutils timeout(1) */
#define RS_SIGNAL_BASE    128
#define RS_EXEC_FAILED    127
#define RS_MAX_SECONDS    86400
#define RS_KILL_GRACE_S   5

static volatile sig_atomic_t expired, stopped;

static void on_alarm(int sig)
{
	(void)sig;
	expired = 1;
}

/* Killed ourselves (make interrupted): take the command down too, since it
 * runs in its own process group. */
static void on_stop(int sig)
{
	(void)sig;
	stopped = 1;
}

static double tv_s(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

int main(int argc, char **argv)
{
	struct timespec t0, t1;
	struct sigaction sa;
	struct rusage ru;
	char *end;
	long limit;
	pid_t pid;
	int st = 0, status, killed = 0;
	FILE *out;

	if (argc < 4) {
		fprintf(stderr, "usage: runstat SECONDS OUTFILE CMD [ARG...]\n");
		return 2;
	}
	errno = 0;
	limit = strtol(argv[1], &end, 10);
	if (errno || *end || end == argv[1] || limit < 1 || limit > RS_MAX_SECONDS) {
		fprintf(stderr, "runstat: bad time limit %s\n", argv[1]);
		return 2;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;	/* no SA_RESTART: wait4 returns EINTR */
	sigaction(SIGALRM, &sa, NULL);
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid = fork();
	if (pid < 0) {
		perror("runstat: fork");
		return 1;
	}
	if (pid == 0) {
		setpgid(0, 0);	/* so the limit can kill its children too */
		execvp(argv[3], argv + 3);
		perror(argv[3]);
		_exit(RS_EXEC_FAILED);
	}
	setpgid(pid, pid);
	alarm((unsigned)limit);
	while (wait4(pid, &st, 0, &ru) < 0) {
		if (errno != EINTR) {
			perror("runstat: wait4");
			return 1;
		}
		if ((expired || stopped) && !killed) {
			kill(-pid, SIGKILL);
			killed = 1;
			alarm(RS_KILL_GRACE_S);
		}
	}
	alarm(0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (killed && stopped)
		return RS_SIGNAL_BASE + SIGTERM;
	if (killed)
		status = RS_TIMEOUT_STATUS;
	else if (WIFEXITED(st))
		status = WEXITSTATUS(st);
	else
		status = RS_SIGNAL_BASE + WTERMSIG(st);
	out = fopen(argv[2], "a");
	if (!out) {
		perror(argv[2]);
		return 1;
	}
	fprintf(out, "wall=%.3f user=%.3f sys=%.3f maxrss_kb=%ld status=%d\n",
		(double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
		tv_s(ru.ru_utime), tv_s(ru.ru_stime), ru.ru_maxrss, status);
	fclose(out);
	return status;
}
