/* Where reports go (struct agent_output): stdout or the file named by
 * common.output, one document per interval (appended); or the spool. */
#ifndef D42_OUTPUT_H
#define D42_OUTPUT_H

#include "agent.h"

#include <sys/types.h>

struct output {
	int fd;
	int owned;		/* we opened it (not stdout) */
	int dfd;		/* its directory, for rotation; -1: none */
	uint64_t max_bytes;	/* rotate at a report's start beyond; 0: never */
	int rot_warned;		/* "cannot rotate" said */
	int reopen_warned;	/* "cannot reopen" said, until it works */
	int failed;		/* last write failed; logged once */
	int cut;		/* a report was cut short and is still there */
	off_t start;		/* where the report being written began; -1:
				 * not a file (a pipe, a terminal) */
	char path[CFG_MAX_PATH];
	char name[CFG_MAX_PATH];	/* within dfd */
};

/* path NULL, "" or "-" = stdout. A file is moved to PATH.1 (replacing it)
 * when a report starts and it holds max_bytes or more (0: never), and is
 * reopened when something else renamed or deleted it (logrotate). 0 or -1
 * (errno set). */
int output_open(struct output *o, const char *path, uint64_t max_bytes);
void output_close(struct output *o);
void output_bind(struct output *o, struct agent_output *ao);

struct spool;
/* Reports into the spool, for delivery to the appliance. */
void output_bind_spool(struct spool *s, struct agent_output *ao);

#endif
