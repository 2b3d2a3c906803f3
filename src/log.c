/* Logging to stderr or DIR/d42pcap.log. Each message is formatted into one
 * bounded line and written with a single write(2) so lines never interleave
 * and a slow disk costs one syscall, not buffered stalls at exit. */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_FILE_NAME "d42pcap.log"
#define LOG_PATH_MAX  1100	/* logs-dir (CFG_MAX_PATH) + file name */

static int log_fd = -1;		/* -1: stderr */
static enum log_level log_level = LOG_LVL_INFO;
static char log_path[LOG_PATH_MAX];
static int log_failed;		/* the file stopped accepting writes */

static const char *const log_names[] = { "error", "warning", "info", "debug" };

int log_open(const char *dir)
{
	int fd;
	int n;

	if (!dir || !*dir)
		return 0;
	n = snprintf(log_path, sizeof(log_path), "%s/%s", dir, LOG_FILE_NAME);
	if (n < 0 || (size_t)n >= sizeof(log_path)) {
		log_path[0] = '\0';
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (fd < 0) {
		log_path[0] = '\0';
		return -1;
	}
	if (log_fd >= 0)
		close(log_fd);
	log_fd = fd;
	log_failed = 0;
	return 0;
}

int log_reopen(void)
{
	int fd;

	if (!log_path[0])
		return 0;
	fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (fd < 0)
		return -1;
	if (log_fd >= 0)
		close(log_fd);
	log_fd = fd;
	log_failed = 0;
	return 0;
}

void log_close(void)
{
	if (log_fd >= 0)
		close(log_fd);
	log_fd = -1;
	log_path[0] = '\0';
}

void log_set_level(enum log_level lvl)
{
	log_level = lvl;
}

int log_enabled(enum log_level lvl)
{
	return lvl <= log_level;
}

void log_vmsg(enum log_level lvl, const char *fmt, va_list ap)
{
	char line[LOG_MAX_LINE];
	size_t len = 0;
	int n;
	struct timespec ts;
	struct tm tm;

	if (!log_enabled(lvl))
		return;
	if (log_fd >= 0) {
		/* Only the file gets timestamps: stderr goes to a journal or a
		 * terminal that has its own. */
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		len = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%SZ ", &tm);
	}
	n = snprintf(line + len, sizeof(line) - len, "d42pcap: %s: ", log_names[lvl]);
	if (n > 0)
		len += (size_t)n < sizeof(line) - len ? (size_t)n : sizeof(line) - len - 1;
	n = vsnprintf(line + len, sizeof(line) - len, fmt, ap);
	if (n > 0)
		len += (size_t)n < sizeof(line) - len ? (size_t)n : sizeof(line) - len - 1;
	if (len >= sizeof(line) - 1)
		len = sizeof(line) - 2;
	line[len++] = '\n';

	if (log_fd >= 0 && !log_failed) {
		if (write(log_fd, line, len) == (ssize_t)len)
			return;
		/* Disk full or directory gone: say so once on stderr, then keep
		 * logging there until a reopen succeeds. */
		log_failed = 1;
		dprintf(STDERR_FILENO, "d42pcap: warning: cannot write %s: %s; "
			"logging to stderr\n", log_path, strerror(errno));
	}
	if (write(STDERR_FILENO, line, len) < 0) {
		/* nowhere left to report it */
	}
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(lvl, fmt, ap);
	va_end(ap);
}

void fatal(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_LVL_ERR, fmt, ap);
	va_end(ap);
	/* Start-up errors must also reach the terminal of whoever started us. */
	if (log_fd >= 0) {
		va_start(ap, fmt);
		dprintf(STDERR_FILENO, "d42pcap: error: ");
		vdprintf(STDERR_FILENO, fmt, ap);
		dprintf(STDERR_FILENO, "\n");
		va_end(ap);
	}
	exit(status);
}
