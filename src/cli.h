/* Command line: the original's single-dash options (double dash accepted,
 * "-opt=value" too, as Go's flag package allows) plus ours. */
#ifndef D42_CLI_H
#define D42_CLI_H

#include <stdio.h>

#define CLI_ERR_MAX 256

struct cli {
	int list_devices, version, debug, check_config, help;
	int win_service;		/* -install/-remove-win-service given */
	const char *logs_dir;
	const char *settings_dir;
	const char *settings_name;
	const char *read_file;		/* -r: offline */
	const char *iface;		/* -i: overrides pcap.Device */
	const char *user;		/* -user: drop privileges to */
	const char *output;		/* -output: when common.output is empty */
};

/* 0, or -1 with a message in err (unknown option, missing value). */
int cli_parse(int argc, char **argv, struct cli *o, char *err, size_t errsz);
void cli_usage(FILE *f);

#endif
