/* Logging: to stderr until log_open() names a directory, then to
 * DIR/d42pcap.log. Never logs secrets: callers must not pass the password. */
#ifndef D42_LOG_H
#define D42_LOG_H

#include <stdarg.h>

enum log_level { LOG_LVL_ERR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

#define LOG_MAX_LINE 1024	/* one formatted message, truncated beyond */

/* dir NULL or "" keeps stderr. Returns 0, or -1 if the file cannot be opened
 * (logging then stays on stderr). */
int log_open(const char *dir);
int log_reopen(void);		/* for SIGHUP / logrotate */
void log_close(void);
void log_set_level(enum log_level lvl);
int log_enabled(enum log_level lvl);

void log_msg(enum log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void log_vmsg(enum log_level lvl, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

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
