/* Option table and parser. Every option may be written -name or --name;
 * valued options take the next argument or "=value". */
#include "cli.h"

#include <stddef.h>
#include <string.h>

enum cli_kind { CLI_FLAG, CLI_VALUE };

struct cli_opt {
	const char *name;
	enum cli_kind kind;
	size_t off;		/* offset of the int or const char * in struct cli */
	const char *arg, *help;
};

#define FLAG(n, f, h)    { n, CLI_FLAG, offsetof(struct cli, f), NULL, h }
#define VALUE(n, f, a, h) { n, CLI_VALUE, offsetof(struct cli, f), a, h }

static const struct cli_opt cli_opts[] = {
	FLAG("list-devices", list_devices, "list capture interfaces and their addresses"),
	FLAG("version", version, "print the version"),
	VALUE("logs-dir", logs_dir, "DIR", "write d42pcap.log in DIR"),
	VALUE("settings-dir", settings_dir, "DIR", "directory of the settings file (default: the executable's)"),
	VALUE("settings-name", settings_name, "NAME", "settings file name (default: d42pcap.json)"),
	FLAG("debug", debug, "debug logging (also prints the capture filter)"),
	FLAG("install-win-service", win_service, "Windows only"),
	FLAG("remove-win-service", win_service, "Windows only"),
	VALUE("r", read_file, "FILE", "read a pcap/pcapng file instead of capturing live"),
	VALUE("i", iface, "IFACE", "capture on IFACE (overrides pcap.Device)"),
	FLAG("check-config", check_config, "validate the settings, print them (password masked), exit"),
	VALUE("user", user, "NAME", "drop privileges to NAME after opening the capture"),
	VALUE("output", output, "FILE", "write local reports to FILE unless common.output is set"),
	FLAG("h", help, "this help"),
	FLAG("help", help, "this help"),
};

#define CLI_NOPTS (sizeof(cli_opts) / sizeof(cli_opts[0]))

void cli_usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: d42pcap [options]\n");
	for (i = 0; i < CLI_NOPTS; i++)
		fprintf(f, "  -%s%s%s\n\t%s\n", cli_opts[i].name,
			cli_opts[i].arg ? " " : "", cli_opts[i].arg ? cli_opts[i].arg : "",
			cli_opts[i].help);
	fprintf(f, "exit status: 0 ok, 1 runtime error, 2 usage or configuration error,\n"
		"  3 offline delivery incomplete (reports left in the spool)\n");
}

/* The spellings Go's flag package takes (strconv.ParseBool), as the
 * original's scripts may use any of them. */
static const char *const cli_true[] = { "1", "t", "T", "TRUE", "true", "True" };
static const char *const cli_false[] = { "0", "f", "F", "FALSE", "false", "False" };
#define CLI_NBOOL (sizeof(cli_true) / sizeof(cli_true[0]))

static int cli_bool(const char *v, int *out)
{
	size_t i;

	for (i = 0; i < CLI_NBOOL; i++) {
		if (!strcmp(v, cli_true[i])) {
			*out = 1;
			return 0;
		}
		if (!strcmp(v, cli_false[i])) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

int cli_parse(int argc, char **argv, struct cli *o, char *err, size_t errsz)
{
	int i;
	size_t k, len;
	const char *a, *eq;

	memset(o, 0, sizeof(*o));
	for (i = 1; i < argc; i++) {
		a = argv[i];
		if (a[0] != '-' || !a[1]) {
			snprintf(err, errsz, "unexpected argument \"%s\"", a);
			return -1;
		}
		a += a[1] == '-' ? 2 : 1;
		eq = strchr(a, '=');
		len = eq ? (size_t)(eq - a) : strlen(a);
		for (k = 0; k < CLI_NOPTS; k++)
			if (strlen(cli_opts[k].name) == len && !strncmp(cli_opts[k].name, a, len))
				break;
		if (k == CLI_NOPTS) {
			snprintf(err, errsz, "unknown option \"%s\"", argv[i]);
			return -1;
		}
		if (cli_opts[k].kind == CLI_FLAG) {
			int *flag = (int *)(void *)((char *)o + cli_opts[k].off);

			if (!eq)
				*flag = 1;
			else if (cli_bool(eq + 1, flag) < 0) {
				snprintf(err, errsz, "option -%s takes true or false, not \"%s\"",
					 cli_opts[k].name, eq + 1);
				return -1;
			}
			continue;
		}
		{
			const char **val = (const char **)(void *)((char *)o + cli_opts[k].off);

			if (eq) {
				*val = eq + 1;
			} else if (i + 1 < argc) {
				*val = argv[++i];
			} else {
				snprintf(err, errsz, "option -%s needs a value (%s)",
					 cli_opts[k].name, cli_opts[k].arg);
				return -1;
			}
			if (!**val) {
				snprintf(err, errsz, "option -%s needs a non-empty value",
					 cli_opts[k].name);
				return -1;
			}
		}
	}
	return 0;
}
