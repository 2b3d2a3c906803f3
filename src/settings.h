/* Applying settings to the running agent: the capture filter (at start-up
 * and on reload) and SIGHUP's reload of the settings file. */
#ifndef D42_SETTINGS_H
#define D42_SETTINGS_H

#include <stddef.h>
#include "config.h"

struct agent;
struct capture;

#define SETTINGS_FILTER_BAD "the capture filters are too long or exclude everything " \
			    "(ignore-tcp and ignore-udp both set)"

/* Build the BPF expression for c (VLAN-aware on Ethernet, else plain) into
 * expr and install it on cap. 0; SETTINGS_FILTER_UNFILTERED, with why in
 * err, when it cannot be installed on a link type d42pcap does not decode
 * (libpcap cannot filter MTP2): its packets are only counted anyway, so
 * counted unfiltered, as the lists could not have matched them after
 * decoding either; or -1 with a message in err and the previous filter
 * (if any) still installed. */
#define SETTINGS_FILTER_UNFILTERED 1
int settings_filter(struct capture *cap, const struct config *c, int dump,
		    char *expr, size_t exprsz, char *err, size_t errsz);

/* The fields the command line overrides, set in the running settings at
 * start-up: -i, -logs-dir and -user. */
#define SETTINGS_CLI_DEVICE	1u
#define SETTINGS_CLI_LOGS_DIR	2u
#define SETTINGS_CLI_USER	4u

/* What a reload may touch. */
struct settings_env {
	struct config *cfg;		/* the running settings, updated in place */
	const char *path;		/* settings file */
	unsigned cli_set;		/* SETTINGS_CLI_*: kept over the file's */
	struct capture *cap;
	struct agent *agent;
	char *filter_expr;		/* the installed expression */
	size_t filter_sz;
	int chrooted;			/* the settings file is out of reach */
};

/* SIGHUP: load the file into a scratch config; on error log it (file:line:
 * col) and keep everything. Otherwise apply what can change while running
 * (capture printing flags, only-stats, pretty, Interval from the next
 * interval, logs-dir, log rotation, syslog, the capture filters) and log
 * each changed key that needs a restart. Reopens the log in every case. */
void settings_reload(const struct settings_env *e);

#endif
