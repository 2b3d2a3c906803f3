/* Logging: to stderr until log_open() names a directory, then to
 * DIR/d42pcap.log with size-based rotation; optionally also to syslog.
 * One write(2) per line and per destination, never retried in a loop: a
 * full disk or a dead syslogd costs one failed syscall, reported once.
 * Never logs secrets: callers must not pass the password. */
#ifndef D42_LOG_H
#define D42_LOG_H

#include <stdarg.h>
#include <stdint.h>
#include <sys/types.h>

enum log_level { LOG_LVL_ERR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

#define LOG_MAX_LINE      1024	/* one formatted message, truncated beyond */
#define LOG_FILE_NAME     "d42pcap.log"
#define LOG_RETRY_SEC     3	/* a failing log file or syslog is retried this often */
#define LOG_MAX_ROTATED   1000	/* d42pcap.log.1 .. .N at most */

/* dir NULL or "" keeps stderr. Returns 0, or -1 if the directory or the file
 * cannot be opened (the previous destination stays; with wait and no file
 * yet, dir is tried again every LOG_RETRY_SEC). The directory stays open,
 * so reopening and rotating keep working after a chroot. */
int log_open(const char *dir, int wait);
/* SIGHUP / logrotate: reopen DIR/d42pcap.log (created if it was moved; the
 * directory found again by name if it was removed). 0, or -1 (the old file
 * stays in use, or none while a removed directory is waited for). */
int log_reopen(void);
void log_close(void);
/* Rotate when the file would exceed max_bytes (0: never): d42pcap.log
 * becomes .1, .1 becomes .2 ... up to .max_files (the oldest is dropped). */
void log_set_rotation(uint64_t max_bytes, unsigned max_files);
/* Also send every message to the local syslog (/dev/log, facility daemon,
 * ident "d42pcap"), non-blocking. Call before a chroot. */
void log_set_syslog(int on);
/* Before a privilege drop: give the open log file to the new user so that
 * SIGHUP can reopen it. 0 or -1. */
int log_chown(uid_t uid, gid_t gid);
/* 0 if rotation can work (the log directory is writable by us now), -1
 * otherwise (then the file is truncated instead of rotated). */
int log_check_dir(void);
void log_set_level(enum log_level lvl);
int log_enabled(enum log_level lvl);

void log_msg(enum log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void log_vmsg(enum log_level lvl, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/* A line of the per-packet output (print-data, live-entries...): to stderr
 * whatever the log's destination, as one write(2) that a stop signal does
 * not wait on for long (sig_write()). fmt without the newline. */
void log_print(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define log_err(...)   log_msg(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) do { if (log_enabled(LOG_LVL_DEBUG)) \
		log_msg(LOG_LVL_DEBUG, __VA_ARGS__); } while (0)

/* Start-up only: log, then exit with status 2 (configuration/usage error) or
 * 1 (environment error). */
void fatal(int status, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));

#endif
