/* Logging to stderr or DIR/d42pcap.log, optionally also to syslog. Each
 * message is formatted into one bounded line and written with a single
 * write(2) (send(2) for syslog) so lines never interleave and a slow or full
 * disk costs one syscall, never a retry loop. A destination that fails is
 * reported once on stderr, then retried at most every LOG_RETRY_SEC seconds;
 * meanwhile file messages go to stderr. The directory is kept open so that
 * reopening (SIGHUP) and rotation work by name relative to it, even after a
 * chroot. */
#include "log.h"
#include "sig.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define LOG_PATH_MAX      1100	/* logs-dir (CFG_MAX_PATH) + file name */
#define LOG_NAME_MAX      32	/* "d42pcap.log.1000" */
#define LOG_STAMP_MAX     32	/* "2024-01-01T00:00:00Z " */
#define LOG_DEF_MAX_BYTES (10u * 1024 * 1024)
#define LOG_DEF_MAX_FILES 5
#define LOG_FILE_MODE     0640
#define LOG_SYSLOG_PATH   "/dev/log"
#define LOG_SYSLOG_IDENT  "d42pcap"
#define LOG_SYSLOG_MAX    (LOG_MAX_LINE + 64)	/* "<PRI>STAMP IDENT[PID]: " + line */

static int log_fd = -1;		/* -1: stderr (or the file failed) */
static int log_dfd = -1;	/* the log directory, -1 if none */
static char log_path[LOG_PATH_MAX];	/* DIR/d42pcap.log, for messages */
static char log_dir[LOG_PATH_MAX];	/* DIR as given, to find it again */
static char log_want[LOG_PATH_MAX];	/* a directory that could not be opened yet */
static enum log_level log_level = LOG_LVL_INFO;
static uint64_t log_size;	/* bytes in the current file */
static uint64_t log_max_bytes = LOG_DEF_MAX_BYTES;
static unsigned log_max_files = LOG_DEF_MAX_FILES;
static int log_failed;		/* the file stopped accepting writes */
static uint64_t log_lost;	/* messages that went to stderr only */
static time_t log_retry_at;	/* monotonic seconds */
static int log_rot_warned;	/* "cannot rotate" already said */
static int log_tee;		/* fatal(): the file's line goes to stderr too */

static int sys_on, sys_fd = -1, sys_failed;
static time_t sys_retry_at;

static const char *const log_names[] = { "error", "warning", "info", "debug" };
#define LOG_MONTHS   12
#define LOG_TM_YEAR0 1900	/* struct tm counts years from 1900 */
static const char log_months[LOG_MONTHS][4] = { "Jan", "Feb", "Mar", "Apr",
	"May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
static const int sys_prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };

/* UTF-8 (RFC 3629), for log_clean(). */
#define U8_CONT_MIN  0x80	/* continuation bytes 10xxxxxx */
#define U8_CONT_MAX  0xBF
#define U8_LEAD2_MIN 0xC2	/* C0, C1: overlong two-byte forms */
#define U8_LEAD3_MIN 0xE0
#define U8_LEAD4_MIN 0xF0
#define U8_LEAD_MAX  0xF4	/* beyond: above U+10FFFF */
#define U8_E0_MIN    0xA0	/* after E0: no overlong three-byte forms */
#define U8_ED        0xED	/* U+D000..U+DFFF */
#define U8_ED_MAX    0x9F	/* after ED: no surrogates */
#define U8_F0_MIN    0x90	/* after F0: no overlong four-byte forms */
#define U8_F4_MAX    0x8F	/* after F4: at most U+10FFFF */
#define U8_C1_LEAD   0xC2	/* C2 80..C2 9F: the C1 controls */
#define U8_C1_END    0xA0
#define ASCII_DEL    0x7F

static time_t mono_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static void to_stderr(const char *s, size_t len)
{
	/* A stop is not held up by a stalled reader (sig_write()). */
	if (sig_write(STDERR_FILENO, s, len) < 0) {
		/* nowhere left to report it */
	}
}

/* Advances *len by n (snprintf's result), clamped to what fit in cap. */
static void grow(size_t *len, int n, size_t cap)
{
	if (n > 0)
		*len += (size_t)n < cap - *len ? (size_t)n : cap - *len - 1;
}

/* Length of the well-formed UTF-8 sequence at s (n bytes left), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char lo = U8_CONT_MIN, hi = U8_CONT_MAX;
	size_t len, i;

	if (s[0] < U8_CONT_MIN)
		return 1;
	if (s[0] < U8_LEAD2_MIN || s[0] > U8_LEAD_MAX)
		return 0;
	len = s[0] < U8_LEAD3_MIN ? 2 : s[0] < U8_LEAD4_MIN ? 3 : 4;
	if (s[0] == U8_LEAD3_MIN)
		lo = U8_E0_MIN;
	else if (s[0] == U8_ED)
		hi = U8_ED_MAX;
	else if (s[0] == U8_LEAD4_MIN)
		lo = U8_F0_MIN;
	else if (s[0] == U8_LEAD_MAX)
		hi = U8_F4_MAX;
	if (len > n || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if (s[i] < U8_CONT_MIN || s[i] > U8_CONT_MAX)
			return 0;
	return len;
}

/* One message, one line of text, whatever it quotes (an appliance's reply,
 * a file name): control characters (C0, DEL, C1) become spaces, so none can
 * forge or split lines; bytes that are not UTF-8 (a Latin-1 name, a sequence
 * cut short by truncation) become '?', or grep takes the log for a binary
 * file and journalctl shows the line as "[blob data]". In place. */
static void log_clean(char *p, const char *end)
{
	size_t n;

	while (p < end) {
		const unsigned char *u = (const unsigned char *)p;

		n = utf8_seq(u, (size_t)(end - p));
		if (n == 0) {
			*p++ = '?';
			continue;
		}
		if (u[0] < ' ' || u[0] == ASCII_DEL || (u[0] == U8_C1_LEAD && u[1] < U8_C1_END))
			memset(p, ' ', n);
		p += n;
	}
}

/* ---- syslog ---- */

static int sys_connect(void)
{
	struct sockaddr_un sa;
	int fd;

	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", LOG_SYSLOG_PATH);
	if (connect(fd, (const struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int saved = errno;

		close(fd);
		errno = saved;
		return -1;
	}
	sys_fd = fd;
	return 0;
}

static void sys_problem(void)
{
	char b[LOG_MAX_LINE];
	int n;

	if (sys_failed)
		return;
	sys_failed = 1;
	n = snprintf(b, sizeof(b), "d42pcap: warning: cannot send to syslog (%s): %s; "
		     "retrying every %d s\n", LOG_SYSLOG_PATH, strerror(errno), LOG_RETRY_SEC);
	if (n > 0)
		to_stderr(b, (size_t)n < sizeof(b) ? (size_t)n : sizeof(b) - 1);
}

/* msg: "level: text" without newline. A busy syslogd (EAGAIN) loses the
 * message rather than stalling the capture. */
static void sys_send(enum log_level lvl, const char *msg)
{
	char b[LOG_SYSLOG_MAX], stamp[LOG_STAMP_MAX];
	struct tm tm;
	time_t now;
	int n;

	if (!sys_on)
		return;
	if (sys_fd < 0) {
		if (mono_sec() < sys_retry_at)
			return;
		sys_retry_at = mono_sec() + LOG_RETRY_SEC;
		if (sys_connect() < 0) {
			sys_problem();
			return;
		}
	}
	now = time(NULL);
	/* RFC 3164 "Mmm dd hh:mm:ss", the C locale's %b %e %H:%M:%S (no
	 * strftime: it is 1-2 KiB of the static binary for two formats) */
	if (localtime_r(&now, &tm) && (unsigned)tm.tm_mon < LOG_MONTHS)
		snprintf(stamp, sizeof(stamp), "%s %2d %02d:%02d:%02d",
			 log_months[tm.tm_mon], tm.tm_mday, tm.tm_hour, tm.tm_min,
			 tm.tm_sec);
	else
		snprintf(stamp, sizeof(stamp), "-");
	n = snprintf(b, sizeof(b), "<%d>%s %s[%ld]: %s", LOG_DAEMON | sys_prio[lvl], stamp,
		     LOG_SYSLOG_IDENT, (long)getpid(), msg);
	if (n < 0)
		return;
	if (send(sys_fd, b, (size_t)n < sizeof(b) ? (size_t)n : sizeof(b) - 1,
		 MSG_DONTWAIT | MSG_NOSIGNAL) >= 0) {
		sys_failed = 0;
		return;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
		return;
	/* syslogd restarted or gone: reconnect later. */
	sys_problem();
	close(sys_fd);
	sys_fd = -1;
	sys_retry_at = mono_sec() + LOG_RETRY_SEC;
}

void log_set_syslog(int on)
{
	sys_on = on;
	if (!on) {
		if (sys_fd >= 0)
			close(sys_fd);
		sys_fd = -1;
		sys_failed = 0;
		return;
	}
	if (sys_fd < 0 && sys_connect() < 0) {
		sys_problem();
		sys_retry_at = mono_sec() + LOG_RETRY_SEC;
	}
}

/* ---- the file ---- */

static int open_file(int dfd, uint64_t *size)
{
	struct stat st;
	int fd, saved;

	/* O_NOFOLLOW: a directory writable by the unprivileged user must not
	 * let it point the next root start-up at another file. O_NONBLOCK:
	 * opening a FIFO put there must fail, not wait (no effect on a file). */
	fd = openat(dfd, LOG_FILE_NAME, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC |
		    O_NOFOLLOW | O_NOCTTY | O_NONBLOCK, LOG_FILE_MODE);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0)
		saved = errno;
	else if (!S_ISREG(st.st_mode))
		saved = EINVAL;		/* a FIFO or device would block or worse */
	else
		saved = 0;
	if (saved) {
		close(fd);
		errno = saved;
		return -1;
	}
	*size = (uint64_t)st.st_size;
	return fd;
}

static void log_shut(void)
{
	if (log_fd >= 0)
		close(log_fd);
	if (log_dfd >= 0)
		close(log_dfd);
	log_fd = log_dfd = -1;
	log_path[0] = '\0';
	log_dir[0] = '\0';
	log_failed = 0;
	log_lost = 0;
	log_rot_warned = 0;
}

int log_open(const char *dir, int wait)
{
	char path[LOG_PATH_MAX];
	uint64_t size = 0;
	int dfd, fd, n, saved;

	if (!dir || !*dir)
		return 0;
	n = snprintf(path, sizeof(path), "%s/%s", dir, LOG_FILE_NAME);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	/* With no file yet, messages go to stderr and the directory is tried
	 * again every LOG_RETRY_SEC (it may be mounted later). Only when
	 * asked: a SIGHUP whose new directory fails keeps what it had. */
	if (log_dfd < 0 && (wait || dir == log_want)) {
		if (dir != log_want)
			snprintf(log_want, sizeof(log_want), "%s", dir);
		log_retry_at = mono_sec() + LOG_RETRY_SEC;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -1;
	fd = open_file(dfd, &size);
	if (fd < 0) {
		saved = errno;
		close(dfd);
		errno = saved;
		return -1;
	}
	log_shut();
	snprintf(log_dir, sizeof(log_dir), "%s", dir);	/* dir may be log_want */
	log_want[0] = '\0';
	log_dfd = dfd;
	log_fd = fd;
	log_size = size;
	memcpy(log_path, path, (size_t)n + 1);
	return 0;
}

void log_close(void)
{
	log_shut();
	log_want[0] = '\0';
}

/* Back to writing the file: say how much only went to stderr. */
static void log_resumed(void)
{
	uint64_t lost = log_lost;

	log_failed = 0;
	log_lost = 0;
	log_info("logging to %s resumed; %llu messages went to standard error only",
		 log_path, (unsigned long long)lost);
}

int log_reopen(void)
{
	char dir[LOG_PATH_MAX];
	uint64_t size = 0;
	struct stat st;
	int fd;

	if (log_dfd < 0)
		return log_want[0] ? log_open(log_want, 1) : 0;
	/* The directory was removed (an operator, a tmpfs cleaner): the file
	 * in it is gone for good. Find it again by name, or, until it is
	 * back, log to stderr and look for it as at start-up. */
	if (fstat(log_dfd, &st) == 0 && st.st_nlink == 0) {
		memcpy(dir, log_dir, sizeof(dir));
		log_shut();
		return log_open(dir, 1);
	}
	fd = open_file(log_dfd, &size);
	if (fd < 0)
		return -1;
	if (log_fd >= 0)
		close(log_fd);
	log_fd = fd;
	log_size = size;
	log_rot_warned = 0;
	if (log_failed)
		log_resumed();
	return 0;
}

void log_set_rotation(uint64_t max_bytes, unsigned max_files)
{
	log_max_bytes = max_bytes;
	log_max_files = max_files < 1 ? 1 : max_files > LOG_MAX_ROTATED ? LOG_MAX_ROTATED
		: max_files;
}

int log_chown(uid_t uid, gid_t gid)
{
	if (log_fd < 0)
		return 0;
	return fchown(log_fd, uid, gid);
}

int log_check_dir(void)
{
	if (log_dfd < 0 || faccessat(log_dfd, ".", W_OK | X_OK, AT_EACCESS) == 0)
		return 0;
	log_warn("the log directory of %s is not writable by this user: the log will "
		 "be truncated instead of rotated and cannot be recreated after logrotate "
		 "moves it", log_path);
	return -1;
}

/* The file failed (errno says why): stderr from now on, said once. */
static void log_fail(const char *what)
{
	static const char prefix[] = "d42pcap: ";
	char b[LOG_MAX_LINE];
	size_t len = 0;

	log_retry_at = mono_sec() + LOG_RETRY_SEC;
	if (log_failed)
		return;
	log_failed = 1;
	grow(&len, snprintf(b, sizeof(b), "%swarning: cannot %s %s: %s; logging to standard "
			    "error, retrying every %d s", prefix, what, log_path,
			    strerror(errno), LOG_RETRY_SEC), sizeof(b) - 1);
	sys_send(LOG_LVL_WARN, b + strlen(prefix));
	b[len++] = '\n';
	to_stderr(b, len);
}

static void rotated_name(char *out, size_t sz, unsigned i)
{
	snprintf(out, sz, "%s.%u", LOG_FILE_NAME, i);
}

/* Make room for len more bytes: rename d42pcap.log -> .1 -> .2 ... and start
 * a new file; if renaming is impossible, truncate so the disk stays bounded. */
static void log_rotate(size_t len)
{
	char from[LOG_NAME_MAX], to[LOG_NAME_MAX];
	struct stat st, nst;
	uint64_t size = 0;
	unsigned i;
	int fd;

	/* Moved or deleted without a SIGHUP: the name gets a new file; the
	 * old one is someone else's now, not ours to rename or empty. A name
	 * we may not look up (a 0700 directory, privileges dropped) is not
	 * known to be moved: rotating it fails, and it is emptied instead. */
	if (fstat(log_fd, &st) < 0)
		goto reopen;
	if (fstatat(log_dfd, LOG_FILE_NAME, &nst, AT_SYMLINK_NOFOLLOW) < 0 ? errno == ENOENT :
	    nst.st_ino != st.st_ino || nst.st_dev != st.st_dev)
		goto reopen;
	/* Somebody (logrotate copytruncate) may have emptied the file. */
	if ((uint64_t)st.st_size + len <= log_max_bytes) {
		log_size = (uint64_t)st.st_size;
		return;
	}
	/* beyond a log-max-files lowered since they were made (the first
	 * missing one, or a directory we may not change, ends it) */
	for (i = log_max_files + 1; i <= LOG_MAX_ROTATED; i++) {
		rotated_name(to, sizeof(to), i);
		if (unlinkat(log_dfd, to, 0) < 0)
			break;
	}
	for (i = log_max_files; i > 1; i--) {
		rotated_name(from, sizeof(from), i - 1);
		rotated_name(to, sizeof(to), i);
		renameat(log_dfd, from, log_dfd, to);	/* ENOENT: fewer files so far */
	}
	rotated_name(to, sizeof(to), 1);
	if (renameat(log_dfd, LOG_FILE_NAME, log_dfd, to) < 0) {
		if (!log_rot_warned) {
			char b[LOG_MAX_LINE];
			int n = snprintf(b, sizeof(b), "d42pcap: warning: cannot rotate %s: %s; "
					 "truncating it instead\n", log_path, strerror(errno));

			log_rot_warned = 1;
			if (n > 0)
				to_stderr(b, (size_t)n < sizeof(b) ? (size_t)n : sizeof(b) - 1);
		}
		if (ftruncate(log_fd, 0) == 0)
			log_size = 0;
		return;
	}
reopen:
	fd = open_file(log_dfd, &size);
	close(log_fd);
	log_fd = fd;
	log_size = size;
	if (fd < 0)
		log_fail("create");
}

/* One line to the file; 0 or -1 (errno set). A partial line is cut off so
 * the next one starts on a line of its own. */
static int file_write(const char *line, size_t len)
{
	struct stat st;
	ssize_t n;

	if (log_fd < 0) {
		uint64_t size = 0;

		log_fd = open_file(log_dfd, &size);
		if (log_fd < 0)
			return -1;
		log_size = size;
	}
	if (log_max_bytes && log_size && log_size + len > log_max_bytes)
		log_rotate(len);
	if (log_fd < 0)
		return -1;
	n = write(log_fd, line, len);
	if (n == (ssize_t)len) {
		log_size += len;
		return 0;
	}
	if (n > 0) {
		if (fstat(log_fd, &st) == 0 && st.st_size >= n)
			if (ftruncate(log_fd, st.st_size - n) < 0) {
				/* the next line starts mid-line; nothing better to do */
			}
		errno = ENOSPC;
	}
	return -1;
}

void log_set_level(enum log_level lvl)
{
	log_level = lvl;
}

int log_enabled(enum log_level lvl)
{
	return lvl <= log_level;
}

void log_print(const char *fmt, ...)
{
	char line[LOG_MAX_LINE];
	size_t len = 0;
	va_list ap;

	va_start(ap, fmt);
	grow(&len, vsnprintf(line, sizeof(line), fmt, ap), sizeof(line));
	va_end(ap);
	if (len >= sizeof(line) - 1)
		len = sizeof(line) - 2;
	line[len++] = '\n';
	to_stderr(line, len);
}

void log_vmsg(enum log_level lvl, const char *fmt, va_list ap)
{
	char line[LOG_STAMP_MAX + LOG_MAX_LINE];
	char *msg;
	size_t len = 0, stamp;
	struct timespec ts;
	struct tm tm;
	int tee = log_tee;

	log_tee = 0;	/* not for what this message logs in turn */
	if (!log_enabled(lvl))
		return;
	if (log_dfd < 0 && log_want[0] && mono_sec() >= log_retry_at &&
	    log_open(log_want, 1) == 0)
		log_info("logging to %s", log_path);
	if (log_dfd >= 0) {
		/* Only the file gets timestamps: stderr goes to a journal or a
		 * terminal that has its own. */
		clock_gettime(CLOCK_REALTIME, &ts);
		if (gmtime_r(&ts.tv_sec, &tm))
			grow(&len, snprintf(line, LOG_STAMP_MAX,
					    "%04d-%02d-%02dT%02d:%02d:%02dZ ",
					    tm.tm_year + LOG_TM_YEAR0, tm.tm_mon + 1,
					    tm.tm_mday, tm.tm_hour, tm.tm_min,
					    tm.tm_sec), LOG_STAMP_MAX);
	}
	stamp = len;
	grow(&len, snprintf(line + len, sizeof(line) - len, "d42pcap: "), sizeof(line));
	msg = line + len;
	grow(&len, snprintf(line + len, sizeof(line) - len, "%s: ", log_names[lvl]),
	     sizeof(line));
	grow(&len, vsnprintf(line + len, sizeof(line) - len, fmt, ap), sizeof(line));
	log_clean(msg, line + len);
	sys_send(lvl, msg);
	if (len >= sizeof(line) - 1)
		len = sizeof(line) - 2;
	line[len++] = '\n';

	if (log_dfd >= 0) {
		if (!log_failed) {
			if (file_write(line, len) == 0)
				goto written;
			log_fail("write");	/* unless rotating already failed */
		} else if (mono_sec() >= log_retry_at) {
			log_retry_at = mono_sec() + LOG_RETRY_SEC;
			if (file_write(line, len) == 0) {
				log_resumed();
				goto written;
			}
		}
		log_lost++;
	}
	to_stderr(line, len);
	return;
written:
	if (tee)
		to_stderr(line + stamp, len - stamp);
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

	/* Start-up errors must also reach the terminal of whoever started us:
	 * the file's line, cleaned as it is (the raw text could forge lines). */
	log_tee = 1;
	va_start(ap, fmt);
	log_vmsg(LOG_LVL_ERR, fmt, ap);
	va_end(ap);
	exit(status);
}
