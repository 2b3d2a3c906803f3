/* Local output. Writes go straight to the fd (no stdio buffering), so a
 * report is on disk or in the pipe as soon as its interval closes. */
#include "output.h"
#include "log.h"
#include "spool.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

int output_open(struct output *o, const char *path)
{
	memset(o, 0, sizeof(*o));
	if (!path || !*path || !strcmp(path, "-")) {
		o->fd = STDOUT_FILENO;
		snprintf(o->path, sizeof(o->path), "stdout");
		return 0;
	}
	o->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (o->fd < 0)
		return -1;
	o->owned = 1;
	snprintf(o->path, sizeof(o->path), "%s", path);
	return 0;
}

void output_close(struct output *o)
{
	if (o->owned && o->fd >= 0)
		close(o->fd);
	o->fd = -1;
}

/* A report cut short by a failed write (a full disk) must not run into the
 * next one: a file is cut back to where the report began; elsewhere, or if
 * that fails, the next report starts on a new line. */
static int output_begin(void *ctx, uint64_t start_ns, uint64_t end_ns)
{
	struct output *o = ctx;

	(void)start_ns;
	(void)end_ns;
	if (o->cut && write(o->fd, "\n", 1) == 1)
		o->cut = 0;
	o->start = lseek(o->fd, 0, SEEK_END);
	return 0;
}

static int output_write(void *ctx, const char *data, size_t len)
{
	struct output *o = ctx;
	ssize_t n;

	while (len) {
		n = write(o->fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (!o->failed)
				log_err("cannot write reports to %s: %s", o->path,
					n < 0 ? strerror(errno) : "short write");
			o->failed = 1;
			return -1;
		}
		data += n;
		len -= (size_t)n;
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
		spool_abort(ctx);
		return -1;
	}
	return spool_commit(ctx, NULL);
}

void output_bind_spool(struct spool *s, struct agent_output *ao)
{
	ao->begin = spool_out_begin;
	ao->write = spool_sink;
	ao->end = spool_out_end;
	ao->ctx = s;
}
