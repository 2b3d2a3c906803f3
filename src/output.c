/* Local output. Writes go straight to the fd (no stdio buffering), so a
 * report is on disk or in the pipe as soon as its interval closes. */
#include "output.h"
#include "log.h"
#include "sig.h"
#include "spool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define OUTPUT_MODE      0640
#define OUTPUT_ROT_SUFFIX ".1"

/* O_NOFOLLOW: the directory may be writable by the unprivileged user
 * (beside the log), who must not point the next root start-up at another
 * file. O_NONBLOCK: a FIFO without a reader is an error, not a wait that
 * stops the loop (and SIGTERM with it); once open, writes wait again, as
 * on standard output, so a slow reader does not cut reports short. */
static int output_create(const struct output *o)
{
	int fd = openat(o->dfd, o->name, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC |
			O_NOFOLLOW | O_NONBLOCK, OUTPUT_MODE);

	if (fd >= 0)
		(void)fcntl(fd, F_SETFL, O_APPEND);
	return fd;
}

int output_open(struct output *o, const char *path, uint64_t max_bytes)
{
	const char *slash;
	char dir[CFG_MAX_PATH];
	size_t n;

	memset(o, 0, sizeof(*o));
	o->dfd = -1;
	if (!path || !*path || !strcmp(path, "-")) {
		o->fd = STDOUT_FILENO;
		snprintf(o->path, sizeof(o->path), "stdout");
		return 0;
	}
	/* The directory is held open: rotating after a chroot or with a
	 * relative path must still find the file. */
	slash = strrchr(path, '/');
	n = slash ? (size_t)(slash - path) : 0;
	if (strlen(path) >= sizeof(o->path) ||
	    strlen(slash ? slash + 1 : path) + sizeof(OUTPUT_ROT_SUFFIX) > sizeof(o->name)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	snprintf(dir, sizeof(dir), "%.*s", (int)n, path);
	snprintf(o->name, sizeof(o->name), "%s", slash ? slash + 1 : path);
	if (!o->name[0]) {	/* "dir/": a directory, not a file in it */
		errno = EISDIR;
		return -1;
	}
	o->dfd = open(slash ? (n ? dir : "/") : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (o->dfd < 0)
		return -1;
	o->fd = output_create(o);
	if (o->fd < 0) {
		close(o->dfd);
		o->dfd = -1;
		return -1;
	}
	o->owned = 1;
	o->max_bytes = max_bytes;
	snprintf(o->path, sizeof(o->path), "%s", path);
	return 0;
}

void output_close(struct output *o)
{
	if (o->owned && o->fd >= 0)
		close(o->fd);
	if (o->dfd >= 0)
		close(o->dfd);
	o->fd = o->dfd = -1;
}

static void output_reopen(struct output *o)
{
	int fd = output_create(o);

	if (fd < 0) {
		if (!o->reopen_warned)
			log_warn("cannot reopen %s: %s; writing on to the old file", o->path,
				 strerror(errno));
		o->reopen_warned = 1;
		return;
	}
	o->reopen_warned = 0;
	close(o->fd);
	o->fd = fd;
	o->cut = 0;	/* the cut report stays behind in the old file */
}

/* At a report's start: follow the name if something else moved the file
 * (logrotate), and keep it under max_bytes by moving it to NAME.1. Where
 * renaming is not allowed (a directory of root's after -user), the file is
 * emptied instead, so the disk stays bounded either way. */
static void output_rotate(struct output *o)
{
	char old[CFG_MAX_PATH + sizeof(OUTPUT_ROT_SUFFIX)];
	struct stat cur, named;

	if (!o->owned || fstat(o->fd, &cur) < 0 || !S_ISREG(cur.st_mode))
		return;
	/* (not allowed to look, after -user: carry on with the file we have) */
	if (fstatat(o->dfd, o->name, &named, 0) == 0 ?
	    named.st_ino != cur.st_ino || named.st_dev != cur.st_dev : errno == ENOENT) {
		output_reopen(o);
		if (fstat(o->fd, &cur) < 0)
			return;
	}
	if (!o->max_bytes || (uint64_t)cur.st_size < o->max_bytes)
		return;
	snprintf(old, sizeof(old), "%s%s", o->name, OUTPUT_ROT_SUFFIX);
	if (renameat(o->dfd, o->name, o->dfd, old) == 0) {
		o->rot_warned = 0;	/* a later failure is news again */
		output_reopen(o);
		return;
	}
	if (!o->rot_warned)
		log_warn("cannot rotate %s: %s; emptying it instead", o->path, strerror(errno));
	o->rot_warned = 1;
	if (ftruncate(o->fd, 0) == 0)
		o->cut = 0;
	else
		log_warn("cannot empty %s either: %s", o->path, strerror(errno));
}

/* A report cut short by a failed write (a full disk) must not run into the
 * next one: a file is cut back to where the report began; elsewhere, or if
 * that fails, the next report starts on a new line. */
static int output_begin(void *ctx, uint64_t start_ns, uint64_t end_ns)
{
	struct output *o = ctx;

	(void)start_ns;
	(void)end_ns;
	output_rotate(o);
	if (o->cut && write(o->fd, "\n", 1) == 1)
		o->cut = 0;
	o->start = lseek(o->fd, 0, SEEK_END);
	return 0;
}

static int output_write(void *ctx, const char *data, size_t len)
{
	struct output *o = ctx;

	if (sig_write(o->fd, data, len) < 0) {
		if (!o->failed) {
			if (errno == ETIMEDOUT && sig_stopping())
				log_err("cannot write reports to %s: its reader took nothing "
					"for %d s after the stop signal", o->path,
					SIG_STOP_WRITE_SEC);
			else
				log_err("cannot write reports to %s: %s", o->path, strerror(errno));
		}
		o->failed = 1;
		return -1;
	}
	if (o->failed)
		log_info("writing reports to %s again", o->path);
	o->failed = 0;
	return 0;
}

static int output_end(void *ctx, int ok)
{
	struct output *o = ctx;

	if (ok)
		return 0;
	o->cut = o->start < 0 || ftruncate(o->fd, o->start) < 0;
	return -1;
}

void output_bind(struct output *o, struct agent_output *ao)
{
	ao->begin = output_begin;
	ao->write = output_write;
	ao->end = output_end;
	ao->pending = NULL;	/* waits for nothing: a write either works or fails */
	ao->ctx = o;
}

#define NS_PER_SEC 1000000000ULL

static int spool_out_begin(void *ctx, uint64_t start_ns, uint64_t end_ns)
{
	return spool_begin(ctx, (int64_t)(start_ns / NS_PER_SEC), (int64_t)(end_ns / NS_PER_SEC));
}

static int spool_out_end(void *ctx, int ok)
{
	if (!ok) {
		spool_lose(ctx);
		return -1;
	}
	return spool_commit(ctx, NULL);
}

static int spool_out_pending(void *ctx)
{
	return spool_pending(ctx);
}

void output_bind_spool(struct spool *s, struct agent_output *ao)
{
	ao->begin = spool_out_begin;
	ao->write = spool_sink;
	ao->end = spool_out_end;
	ao->pending = spool_out_pending;
	ao->ctx = s;
}
