/* Where reports go (struct agent_output): stdout or the file named by
 * common.output, one document per interval (appended); or the spool. */
#ifndef D42_OUTPUT_H
#define D42_OUTPUT_H

#include "agent.h"

#include <sys/types.h>

struct output {
	int fd;
	int owned;		/* we opened it (not stdout) */
	int failed;		/* last write failed; logged once */
	int cut;		/* a report was cut short and is still there */
	off_t start;		/* where the report being written began; -1:
				 * not a file (a pipe, a terminal) */
	char path[CFG_MAX_PATH];
};

/* path NULL, "" or "-" = stdout. 0 or -1 (errno set). */
int output_open(struct output *o, const char *path);
void output_close(struct output *o);
void output_bind(struct output *o, struct agent_output *ao);

struct spool;
/* Reports into the spool, for delivery to the appliance. */
void output_bind_spool(struct spool *s, struct agent_output *ao);

#endif
