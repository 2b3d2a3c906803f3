/* Command-line parsing: both dash styles, =value, errors. */
#include "t.h"
#include "cli.h"

static int parse(struct cli *o, char *err, int argc, char **argv)
{
	return cli_parse(argc, argv, o, err, CLI_ERR_MAX);
}

static void test_cli_single_and_double_dash(void)
{
	struct cli o;
	char err[CLI_ERR_MAX];
	char *a[] = { "d42pcap", "-debug", "--settings-dir", "/etc/x", "-r=f.pcap",
		      "--i", "eth1", "-check-config", NULL };

	T_EQ_INT(parse(&o, err, 8, a), 0);
	T_EQ_INT(o.debug, 1);
	T_EQ_STR(o.settings_dir, "/etc/x");
	T_EQ_STR(o.read_file, "f.pcap");
	T_EQ_STR(o.iface, "eth1");
	T_EQ_INT(o.check_config, 1);
	T_CHECK(o.settings_name == NULL);
}

static void test_cli_all_original_options(void)
{
	struct cli o;
	char err[CLI_ERR_MAX];
	char *a[] = { "d42pcap", "-list-devices", "-version", "-logs-dir", "/l",
		      "-settings-name", "n.json", "-install-win-service", NULL };
	char *b[] = { "d42pcap", "--remove-win-service", "-help", "-user", "nobody",
		      "-output=/var/r.json", NULL };

	T_EQ_INT(parse(&o, err, 8, a), 0);
	T_EQ_INT(o.list_devices, 1);
	T_EQ_INT(o.version, 1);
	T_EQ_STR(o.logs_dir, "/l");
	T_EQ_STR(o.settings_name, "n.json");
	T_EQ_INT(o.win_service, 1);
	T_EQ_INT(parse(&o, err, 6, b), 0);
	T_EQ_INT(o.win_service, 1);
	T_EQ_INT(o.help, 1);
	T_EQ_STR(o.user, "nobody");
	T_EQ_STR(o.output, "/var/r.json");
}

static void test_cli_flag_values(void)
{
	struct cli o;
	char err[CLI_ERR_MAX];
	char *a[] = { "d42pcap", "-debug=false", NULL };
	char *b[] = { "d42pcap", "-debug=true", NULL };
	char *c[] = { "d42pcap", "-debug=maybe", NULL };

	T_EQ_INT(parse(&o, err, 2, a), 0);
	T_EQ_INT(o.debug, 0);
	T_EQ_INT(parse(&o, err, 2, b), 0);
	T_EQ_INT(o.debug, 1);
	T_EQ_INT(parse(&o, err, 2, c), -1);
	T_CHECK(strstr(err, "maybe") != NULL);
}

/* Go's flag package takes these (strconv.ParseBool), and nothing else:
 * until 2026-11-29 only true, false, 1 and 0 were taken. */
static void test_cli_flag_go_spellings(void)
{
	static const char *const yes[] = { "1", "t", "T", "TRUE", "true", "True" };
	static const char *const no[] = { "0", "f", "F", "FALSE", "false", "False" };
	static const char *const bad[] = { "tRUE", "yes", "on", "", "2", "FaLsE" };
	char arg[32], err[CLI_ERR_MAX];
	char *v[] = { "d42pcap", arg, NULL };
	struct cli o;
	size_t i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		snprintf(arg, sizeof(arg), "-debug=%s", yes[i]);
		T_EQ_INT(parse(&o, err, 2, v), 0);
		T_EQ_INT(o.debug, 1);
		snprintf(arg, sizeof(arg), "-debug=%s", no[i]);
		T_EQ_INT(parse(&o, err, 2, v), 0);
		T_EQ_INT(o.debug, 0);
		snprintf(arg, sizeof(arg), "-debug=%s", bad[i]);
		T_EQ_INT(parse(&o, err, 2, v), -1);
	}
}

static void test_cli_errors(void)
{
	struct cli o;
	char err[CLI_ERR_MAX];
	char *unknown[] = { "d42pcap", "-frobnicate", NULL };
	char *missing[] = { "d42pcap", "-r", NULL };
	char *empty[] = { "d42pcap", "-r=", NULL };
	char *stray[] = { "d42pcap", "file.pcap", NULL };
	char *prefix[] = { "d42pcap", "-versio", NULL };

	T_EQ_INT(parse(&o, err, 2, unknown), -1);
	T_CHECK(strstr(err, "-frobnicate") != NULL);
	T_EQ_INT(parse(&o, err, 2, missing), -1);
	T_CHECK(strstr(err, "needs a value") != NULL);
	T_EQ_INT(parse(&o, err, 2, empty), -1);
	T_EQ_INT(parse(&o, err, 2, stray), -1);
	T_CHECK(strstr(err, "file.pcap") != NULL);
	T_EQ_INT(parse(&o, err, 2, prefix), -1);
}

int main(void)
{
	T_RUN(test_cli_single_and_double_dash);
	T_RUN(test_cli_all_original_options);
	T_RUN(test_cli_flag_values);
	T_RUN(test_cli_flag_go_spellings);
	T_RUN(test_cli_errors);
	return T_DONE();
}
