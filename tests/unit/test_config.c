/* Unit tests for src/config.c: every key, the accepted forms, defaults,
 * error paths and positions, the table of malformed configs shared with the
 * CLI tests (tests/data/bad_configs.tsv), and that the password never leaks. */
#include "t.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "json.h"

#define SECRET "Zq7-s3cr3t-pa55"
#define CAP_MAX 65536
#define TSV_LINE_MAX 16384
#define TSV_MIN_ROWS 30

static struct config cfg, cfg2;
static struct cfg_error err;
static char cap_buf[CAP_MAX];
static char tmpdir[] = "/tmp/d42cfgXXXXXX";
static char ca_path[sizeof(tmpdir) + sizeof("/ca.pem")];

static int load(const char *json)
{
	return config_load_buf(&cfg, json, strlen(json), &err);
}

/* ---- stderr capture (log.c writes warnings to fd 2) ---- */

static int cap_saved = -1;
static char cap_path[256];

static void cap_begin(void)
{
	int fd;

	snprintf(cap_path, sizeof(cap_path), "%s/stderr.txt", tmpdir);
	fflush(stderr);
	cap_saved = dup(2);
	fd = open(cap_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd >= 0) {
		dup2(fd, 2);
		close(fd);
	}
}

static const char *cap_end(void)
{
	FILE *f;
	size_t n = 0;

	fflush(stderr);
	if (cap_saved >= 0) {
		dup2(cap_saved, 2);
		close(cap_saved);
		cap_saved = -1;
	}
	cap_buf[0] = '\0';
	f = fopen(cap_path, "r");
	if (f) {
		n = fread(cap_buf, 1, sizeof(cap_buf) - 1, f);
		fclose(f);
	}
	cap_buf[n] = '\0';
	return cap_buf;
}

static int count_sub(const char *hay, const char *needle)
{
	int n = 0;

	while ((hay = strstr(hay, needle)) != NULL)
		n++, hay++;
	return n;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	T_CHECK(f != NULL);
	if (!f)
		return;
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
}

/* config_print() into a string. */
static int print_to(const struct config *c, char *out, size_t outsz)
{
	FILE *f = fmemopen(out, outsz, "w");
	int rc;

	if (!f)
		return -1;
	rc = config_print(f, c);
	fclose(f);
	out[outsz - 1] = '\0';
	return rc;
}

/* ---- tests ---- */

static void check_defaults(const struct config *c)
{
	T_EQ_STR(c->host, "");
	T_EQ_STR(c->user, "");
	T_EQ_STR(c->password, "");
	T_EQ_INT(c->verify_tls, 1);
	T_EQ_STR(c->upload_mode, "api");
	T_EQ_STR(c->sample_path, "/api/d42pcap/sample");
	T_EQ_INT(c->interval, 60);
	T_EQ_STR(c->output, "");
	T_EQ_INT(c->max_flows, 65536);
	T_EQ_INT(c->max_listeners, 16384);
	T_EQ_INT(c->listener_ttl, 86400);
	T_EQ_INT(c->spool_max_bytes, 64ull * 1024 * 1024);
	T_EQ_INT(c->spool_max_files, 1024);
	T_EQ_INT(c->pretty, 0);
	T_EQ_STR(c->device, "");
	T_EQ_INT(c->inc_src_tcp_ports.n, 0);
	T_EQ_INT(c->ignore_ips.n, 0);
	T_EQ_INT(c->ignore_tcp, 0);
	T_EQ_INT(c->promisc, 1);
	T_EQ_INT(c->sniff_timeout_ns, 100000000);
	T_EQ_INT(c->snap_len, 1600);
	T_EQ_INT(c->buffer_size, 2 * 1024 * 1024);
	T_EQ_INT(c->live_entries, 0);
	T_EQ_INT(c->only_stats, 0);
	T_EQ_INT(c->world_readable_password, 0);
}

/* The spool quarantines files it does not own: sharing logs-dir would
 * swallow d42pcap.log, so the pair is refused (no position: two keys). */
static void test_spool_dir_not_logs_dir(void)
{
	T_EQ_INT(load("{\"common\": {\"logs-dir\": \"/var/d\", \"spool-dir\": \"/var/d\"}}"), -1);
	T_EQ_STR(err.path, "common.spool-dir");
	T_CHECK(strstr(err.msg, "needs a directory of its own") != NULL);
	T_EQ_INT(load("{\"common\": {\"logs-dir\": \"/var/d\", \"spool-dir\": \"/var/d/spool\"}}"), 0);
}

static void test_defaults(void)
{
	config_defaults(&cfg);
	check_defaults(&cfg);
	T_EQ_INT(CFG_MIN_SNIFF_TIMEOUT_NS, 1000000);
	/* An empty document and empty sections keep every default. */
	T_EQ_INT(load("{}"), 0);
	check_defaults(&cfg);
	T_EQ_INT(load("{\"device42\":{},\"common\":{},\"pcap\":{},\"capture\":{}}"), 0);
	check_defaults(&cfg);
	/* null means "not set". */
	T_EQ_INT(load("{\"common\":{\"Interval\":null},\"pcap\":null}"), 0);
	check_defaults(&cfg);
}

/* ca-file must name a readable file: main() makes it in tmpdir and writes
 * tmpdir's name over the template's. */
#define CA_TEMPLATE "/tmp/d42cfgXXXXXX/ca.pem"
static char full_config[] =
	"{\n"
	" \"device42\": {\n"
	"  \"Host\": \"https://d42.example.com\",\n"
	"  \"User\": \"admin\",\n"
	"  \"Password\": \"" SECRET "\",\n"
	"  \"password-file\": \"/etc/d42pcap/pw\",\n"
	"  \"ca-file\": \"" CA_TEMPLATE "\",\n"
	"  \"tls-fingerprint\": \"AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:"
	"AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89\",\n"
	"  \"verify-tls\": false,\n"
	"  \"proxy\": \"http://proxy.local:3128\",\n"
	"  \"upload-mode\": \"Sample\",\n"
	"  \"sample-path\": \"/custom/path\"\n"
	" },\n"
	" \"common\": {\n"
	"  \"Interval\": 30,\n"
	"  \"logs-dir\": \"/var/log/d42pcap\",\n"
	"  \"output\": \"/tmp/out.json\",\n"
	"  \"max-flows\": 1000,\n"
	"  \"max-listeners\": 2000,\n"
	"  \"listener-ttl\": 3600,\n"
	"  \"spool-dir\": \"/var/spool/d42pcap\",\n"
	"  \"spool-max-bytes\": 1048576,\n"
	"  \"spool-max-files\": 10,\n"
	"  \"user\": \"nobody\",\n"
	"  \"pretty\": true\n"
	" },\n"
	" \"pcap\": {\n"
	"  \"Device\": \"eth0\",\n"
	"  \"include-source-tcp-ports\": [22, 80],\n"
	"  \"include-destination-tcp-ports\": [443],\n"
	"  \"include-source-udp-ports\": \"53, 123\",\n"
	"  \"include-destination-udp-ports\": [\"161\"],\n"
	"  \"include-source-tcp-ips\": [\"10.0.0.0/8\"],\n"
	"  \"include-dest-tcp-ips\": \"192.168.1.1, 2001:db8::/32\",\n"
	"  \"include-source-udp-ips\": [\"172.16.0.0/12\"],\n"
	"  \"include-dest-udp-ips\": [\"::1\"],\n"
	"  \"ignore-tcp\": true,\n"
	"  \"ignore-udp\": true,\n"
	"  \"promiscuous-mode\": false,\n"
	"  \"sniff-timeout\": \"250ms\",\n"
	"  \"snap-length\": 9000,\n"
	"  \"buffer-size\": 4194304\n"
	" },\n"
	" \"capture\": {\n"
	"  \"live-entries\": true,\n"
	"  \"live-entries-ok\": true,\n"
	"  \"live-entries-nok\": true,\n"
	"  \"print-data\": true,\n"
	"  \"ignore-ips\": [\"127.0.0.1\", \"fe80::/10\"],\n"
	"  \"ignore-ports\": [5353],\n"
	"  \"pass-to\": \"somewhere\",\n"
	"  \"default-protocol\": \"tcp\",\n"
	"  \"only-stats\": true,\n"
	"  \"report-any-ip\": true,\n"
	"  \"report-src-ip\": true,\n"
	"  \"report-dst-ip\": true,\n"
	"  \"unprocessed-packets\": true\n"
	" }\n"
	"}\n";

static void check_full(const struct config *c, const char *password)
{
	static const uint8_t v6_db8[16] = { 0x20, 0x01, 0x0d, 0xb8 };
	static const uint8_t v6_one[16] = { [15] = 1 };
	static const uint8_t v6_fe80[16] = { 0xfe, 0x80 };

	T_EQ_STR(c->host, "https://d42.example.com");
	T_EQ_STR(c->user, "admin");
	T_EQ_STR(c->password, password);
	T_EQ_STR(c->password_file, "/etc/d42pcap/pw");
	T_EQ_STR(c->ca_file, ca_path);
	T_EQ_STR(c->tls_fingerprint,
		 "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789");
	T_EQ_INT(c->verify_tls, 0);
	T_EQ_STR(c->proxy, "http://proxy.local:3128");
	T_EQ_STR(c->upload_mode, "sample");
	T_EQ_STR(c->sample_path, "/custom/path");
	T_EQ_INT(c->interval, 30);
	T_EQ_STR(c->logs_dir, "/var/log/d42pcap");
	T_EQ_STR(c->output, "/tmp/out.json");
	T_EQ_INT(c->max_flows, 1000);
	T_EQ_INT(c->max_listeners, 2000);
	T_EQ_INT(c->listener_ttl, 3600);
	T_EQ_STR(c->spool_dir, "/var/spool/d42pcap");
	T_EQ_INT(c->spool_max_bytes, 1048576);
	T_EQ_INT(c->spool_max_files, 10);
	T_EQ_STR(c->user_name, "nobody");
	T_EQ_INT(c->pretty, 1);
	T_EQ_STR(c->device, "eth0");
	T_EQ_INT(c->inc_src_tcp_ports.n, 2);
	T_EQ_INT(c->inc_src_tcp_ports.port[0], 22);
	T_EQ_INT(c->inc_src_tcp_ports.port[1], 80);
	T_EQ_INT(c->inc_dst_tcp_ports.n, 1);
	T_EQ_INT(c->inc_dst_tcp_ports.port[0], 443);
	T_EQ_INT(c->inc_src_udp_ports.n, 2);
	T_EQ_INT(c->inc_src_udp_ports.port[0], 53);
	T_EQ_INT(c->inc_src_udp_ports.port[1], 123);
	T_EQ_INT(c->inc_dst_udp_ports.n, 1);
	T_EQ_INT(c->inc_dst_udp_ports.port[0], 161);
	T_EQ_INT(c->inc_src_tcp_ips.n, 1);
	T_EQ_INT(c->inc_src_tcp_ips.net[0].family, 4);
	T_EQ_INT(c->inc_src_tcp_ips.net[0].prefix, 8);
	T_EQ_INT(c->inc_src_tcp_ips.net[0].addr[0], 10);
	T_EQ_INT(c->inc_dst_tcp_ips.n, 2);
	T_EQ_INT(c->inc_dst_tcp_ips.net[0].family, 4);
	T_EQ_INT(c->inc_dst_tcp_ips.net[0].prefix, 32);
	T_CHECK(memcmp(c->inc_dst_tcp_ips.net[0].addr, "\xc0\xa8\x01\x01", 4) == 0);
	T_EQ_INT(c->inc_dst_tcp_ips.net[1].family, 6);
	T_EQ_INT(c->inc_dst_tcp_ips.net[1].prefix, 32);
	T_CHECK(memcmp(c->inc_dst_tcp_ips.net[1].addr, v6_db8, 16) == 0);
	T_EQ_INT(c->inc_src_udp_ips.n, 1);
	T_EQ_INT(c->inc_src_udp_ips.net[0].prefix, 12);
	T_CHECK(memcmp(c->inc_src_udp_ips.net[0].addr, "\xac\x10\x00\x00", 4) == 0);
	T_EQ_INT(c->inc_dst_udp_ips.n, 1);
	T_EQ_INT(c->inc_dst_udp_ips.net[0].family, 6);
	T_EQ_INT(c->inc_dst_udp_ips.net[0].prefix, 128);
	T_CHECK(memcmp(c->inc_dst_udp_ips.net[0].addr, v6_one, 16) == 0);
	T_EQ_INT(c->ignore_tcp, 1);
	T_EQ_INT(c->ignore_udp, 1);
	T_EQ_INT(c->promisc, 0);
	T_EQ_INT(c->sniff_timeout_ns, 250000000);
	T_EQ_INT(c->snap_len, 9000);
	T_EQ_INT(c->buffer_size, 4194304);
	T_EQ_INT(c->live_entries, 1);
	T_EQ_INT(c->live_ok, 1);
	T_EQ_INT(c->live_nok, 1);
	T_EQ_INT(c->print_data, 1);
	T_EQ_INT(c->ignore_ips.n, 2);
	T_EQ_INT(c->ignore_ips.net[0].prefix, 32);
	T_CHECK(memcmp(c->ignore_ips.net[0].addr, "\x7f\x00\x00\x01", 4) == 0);
	T_EQ_INT(c->ignore_ips.net[1].family, 6);
	T_EQ_INT(c->ignore_ips.net[1].prefix, 10);
	T_CHECK(memcmp(c->ignore_ips.net[1].addr, v6_fe80, 16) == 0);
	T_EQ_INT(c->ignore_ports.n, 1);
	T_EQ_INT(c->ignore_ports.port[0], 5353);
	T_EQ_STR(c->pass_to, "somewhere");
	T_EQ_STR(c->default_protocol, "tcp");
	T_EQ_INT(c->only_stats, 1);
	T_EQ_INT(c->report_any_ip, 1);
	T_EQ_INT(c->report_src_ip, 1);
	T_EQ_INT(c->report_dst_ip, 1);
	T_EQ_INT(c->unprocessed_packets, 1);
}

static void test_every_key(void)
{
	const char *log;
	int rc;

	cap_begin();
	rc = load(full_config);
	log = cap_end();
	T_EQ_INT(rc, 0);
	check_full(&cfg, SECRET);
	/* Password and password-file both set: Password wins, with a warning. */
	T_CHECK(strstr(log, "password-file \"/etc/d42pcap/pw\" is ignored") != NULL);
	T_CHECK(strstr(log, SECRET) == NULL);
}

static void test_case_insensitive(void)
{
	T_EQ_INT(load("{\"DEVICE42\":{\"host\":\"HTTP://x\",\"USER\":\"u\","
		      "\"passWORD\":\"p\",\"Verify-TLS\":\"FALSE\"},"
		      "\"Common\":{\"INTERVAL\":5,\"Pretty\":true},"
		      "\"PCAP\":{\"device\":\"lo\",\"SNAP-LENGTH\":100,"
		      "\"Include-Source-TCP-Ports\":\"1\"},"
		      "\"cApTuRe\":{\"Only-Stats\":true}}"), 0);
	T_EQ_STR(cfg.host, "HTTP://x");
	T_EQ_STR(cfg.user, "u");
	T_EQ_STR(cfg.password, "p");
	T_EQ_INT(cfg.verify_tls, 0);
	T_EQ_INT(cfg.interval, 5);
	T_EQ_INT(cfg.pretty, 1);
	T_EQ_STR(cfg.device, "lo");
	T_EQ_INT(cfg.snap_len, 100);
	T_EQ_INT(cfg.inc_src_tcp_ports.n, 1);
	T_EQ_INT(cfg.inc_src_tcp_ports.port[0], 1);
	T_EQ_INT(cfg.only_stats, 1);
}

static void test_aliases(void)
{
	T_EQ_INT(load("{\"device42\":{\"https-proxy\":\"http://p:8080\"},"
		      "\"pcap\":{\"include-dest-tcp-ports\":[25],"
		      "\"include-dest-udp-ports\":[69],"
		      "\"include-destination-tcp-ips\":[\"10.1.0.0/16\"],"
		      "\"include-destination-udp-ips\":[\"10.2.0.0/16\"]}}"), 0);
	T_EQ_STR(cfg.proxy, "http://p:8080");
	T_EQ_INT(cfg.inc_dst_tcp_ports.n, 1);
	T_EQ_INT(cfg.inc_dst_tcp_ports.port[0], 25);
	T_EQ_INT(cfg.inc_dst_udp_ports.port[0], 69);
	T_EQ_INT(cfg.inc_dst_tcp_ips.net[0].prefix, 16);
	T_EQ_INT(cfg.inc_dst_udp_ips.net[0].addr[1], 2);
}

/* What the HTTP client would refuse at start-up is refused here, so that
 * -check-config and SIGHUP agree with start-up; and a password in a URL
 * is never echoed into the log. */
static void test_urls_checked_fully(void)
{
	static const char *const bad[] = {
		"https://h:99999", "https://h:0", "https://h?x=1", "https://h#f",
		"http://[::1", "https://h:p", "https:///path", "https://h /x",
	};
	char doc[256];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(doc, sizeof(doc), "{\"device42\":{\"Host\":\"%s\"}}", bad[i]);
		T_EQ_INT(load(doc), -1);
		T_EQ_STR(err.path, "device42.Host");
	}
	T_EQ_INT(load("{\"device42\":{\"Host\":\"https://u:hunter2@h\"}}"), -1);
	T_EQ_STR(err.msg, "user:password@ in the URL is not accepted (see User and Password)");
	T_EQ_INT(load("{\"device42\":{\"proxy\":\"http://bob:hunter2@p:3128\"}}"), -1);
	T_EQ_STR(err.path, "device42.proxy");
	T_CHECK(strstr(err.msg, "hunter2") == NULL);
	T_EQ_INT(load("{\"device42\":{\"proxy\":\"http://p:3128/x\"}}"), -1);
	T_EQ_STR(err.msg, "\"http://p:3128/x\" is not an http://host:port proxy URL");
	T_EQ_INT(load("{\"device42\":{\"proxy\":\"https://p:3128\"}}"), -1);
	T_EQ_INT(load("{\"device42\":{\"proxy\":\"http://p:70000\"}}"), -1);
	T_EQ_STR(err.msg, "\"http://p:70000\" is not an http://host:port proxy URL: "
		 "invalid port (1..65535)");
	/* still accepted */
	T_EQ_INT(load("{\"device42\":{\"Host\":\"https://[::1]:8443/d42/\","
		      "\"proxy\":\"HTTP://p:3128\"}}"), 0);
	T_EQ_INT(load("{\"device42\":{\"Host\":\"http://10.0.0.1\"}}"), 0);
}

/* A repeated key leaves nothing of the first value behind: a reload
 * compares settings byte for byte, and stale bytes past a shorter string
 * or list read as a change that needs a restart or a new filter. */
static void test_duplicate_leaves_no_trace(void)
{
	const char *log;

	T_EQ_INT(load("{\"common\":{\"output\":\"/tmp/out.jsonXXXX\",\"output\":\"/tmp/o\"},"
		      "\"pcap\":{\"include-destination-tcp-ports\":\"80,443,8080\","
		      "\"include-destination-tcp-ports\":\"80,443\"}}"), 0);
	cfg2 = cfg;
	T_EQ_INT(load("{\"common\":{\"output\":\"/tmp/o\"},"
		      "\"pcap\":{\"include-destination-tcp-ports\":\"80,443\"}}"), 0);
	T_EQ_INT(memcmp(cfg.output, cfg2.output, sizeof(cfg.output)), 0);
	T_EQ_INT(memcmp(&cfg.inc_dst_tcp_ports, &cfg2.inc_dst_tcp_ports,
			sizeof(cfg.inc_dst_tcp_ports)), 0);
	/* null keeps the value before, and the warning says so */
	cap_begin();
	T_EQ_INT(load("{\"common\":{\"Interval\":30,\"Interval\":null}}"), 0);
	log = cap_end();
	T_EQ_INT(cfg.interval, 30);
	T_CHECK(strstr(log, "(null: the value before stays)") != NULL);
}

/* A snap length that cuts IPv6 TCP headers is accepted, with a warning. */
static void test_snap_length_warning(void)
{
	const char *log;

	cap_begin();
	T_EQ_INT(load("{\"pcap\":{\"snap-length\":64}}"), 0);
	log = cap_end();
	T_CHECK(strstr(log, "pcap.snap-length 64 cuts headers") != NULL);
	cap_begin();
	T_EQ_INT(load("{\"pcap\":{\"snap-length\":96}}"), 0);
	log = cap_end();
	T_CHECK(strstr(log, "snap-length") == NULL);
}

/* Directories named differently: by inode when both exist, else by name
 * with "//", "./", "x/.." and trailing slashes taken out. */
static void test_same_dir_names(void)
{
	T_EQ_INT(config_same_dir("/nonexistent-d42/a", "/nonexistent-d42/b/../a"), 1);
	T_EQ_INT(config_same_dir("/nonexistent-d42/a/", "/nonexistent-d42//./a"), 1);
	T_EQ_INT(config_same_dir("nonexistent-d42", "./nonexistent-d42/"), 1);
	T_EQ_INT(config_same_dir("/nonexistent-d42/a", "/nonexistent-d42/b"), 0);
	T_EQ_INT(config_same_dir("../nonexistent-d42", "nonexistent-d42"), 0);
	T_EQ_INT(config_same_dir("../../nonexistent-d42", "../nonexistent-d42"), 0);
	T_EQ_INT(config_same_dir("nonexistent-d42/..", "."), 1);
	T_EQ_INT(config_same_dir("/..", "/"), 1);
	T_EQ_INT(config_same_dir("/tmp", "/tmp/"), 1);		/* existing: by inode */
	T_EQ_INT(config_same_dir("/tmp", "/"), 0);
}

static void test_lists(void)
{
	/* Arrays of numbers, of numeric strings, comma strings, a bare number. */
	T_EQ_INT(load("{\"pcap\":{\"include-source-tcp-ports\":[80, \"443\", 8080],"
		      "\"include-destination-tcp-ports\":\" 80 ,443,\\t8443 \","
		      "\"include-source-udp-ports\":53,"
		      "\"include-destination-udp-ports\":\"65535\"},"
		      "\"capture\":{\"ignore-ips\":\"10.0.0.1,10.0.0.2 , ::1\","
		      "\"ignore-ports\":[1,1]}}"), 0);
	T_EQ_INT(cfg.inc_src_tcp_ports.n, 3);
	T_EQ_INT(cfg.inc_src_tcp_ports.port[0], 80);
	T_EQ_INT(cfg.inc_src_tcp_ports.port[1], 443);
	T_EQ_INT(cfg.inc_src_tcp_ports.port[2], 8080);
	T_EQ_INT(cfg.inc_dst_tcp_ports.n, 3);
	T_EQ_INT(cfg.inc_dst_tcp_ports.port[0], 80);
	T_EQ_INT(cfg.inc_dst_tcp_ports.port[1], 443);
	T_EQ_INT(cfg.inc_dst_tcp_ports.port[2], 8443);
	T_EQ_INT(cfg.inc_src_udp_ports.n, 1);
	T_EQ_INT(cfg.inc_src_udp_ports.port[0], 53);
	T_EQ_INT(cfg.inc_dst_udp_ports.n, 1);
	T_EQ_INT(cfg.inc_dst_udp_ports.port[0], 65535);
	T_EQ_INT(cfg.ignore_ips.n, 3);
	T_EQ_INT(cfg.ignore_ips.net[1].addr[3], 2);
	T_EQ_INT(cfg.ignore_ips.net[2].family, 6);
	/* Duplicates are allowed. */
	T_EQ_INT(cfg.ignore_ports.n, 2);

	/* Empty forms are the empty list. */
	T_EQ_INT(load("{\"pcap\":{\"include-source-tcp-ports\":\"\","
		      "\"include-destination-tcp-ports\":[],"
		      "\"include-source-tcp-ips\":\"  \","
		      "\"include-dest-tcp-ips\":[]}}"), 0);
	T_EQ_INT(cfg.inc_src_tcp_ports.n, 0);
	T_EQ_INT(cfg.inc_dst_tcp_ports.n, 0);
	T_EQ_INT(cfg.inc_src_tcp_ips.n, 0);
	T_EQ_INT(cfg.inc_dst_tcp_ips.n, 0);
}

static void test_list_limit(void)
{
	static char buf[8192];
	size_t n;
	int i;

	n = (size_t)snprintf(buf, sizeof(buf), "{\"capture\":{\"ignore-ports\":[");
	for (i = 1; i <= CFG_MAX_LIST; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%d", i > 1 ? "," : "", i);
	snprintf(buf + n, sizeof(buf) - n, "]}}");
	T_EQ_INT(load(buf), 0);
	T_EQ_INT(cfg.ignore_ports.n, CFG_MAX_LIST);
	T_EQ_INT(cfg.ignore_ports.port[CFG_MAX_LIST - 1], CFG_MAX_LIST);

	/* One more, as an array and as a comma string. */
	n = (size_t)snprintf(buf, sizeof(buf), "{\"capture\":{\"ignore-ports\":[");
	for (i = 1; i <= CFG_MAX_LIST + 1; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%d", i > 1 ? "," : "", i);
	snprintf(buf + n, sizeof(buf) - n, "]}}");
	T_EQ_INT(load(buf), -1);
	T_EQ_STR(err.path, "capture.ignore-ports[256]");
	T_CHECK(strstr(err.msg, "too many entries (at most 256)") != NULL);
	T_EQ_INT(err.line, 1);
	T_EQ_INT(err.col, (unsigned)(strstr(buf, ",257") - buf) + 2);

	n = (size_t)snprintf(buf, sizeof(buf), "{\"capture\":{\"ignore-ports\":\"");
	for (i = 1; i <= CFG_MAX_LIST + 1; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%d", i > 1 ? "," : "", i);
	snprintf(buf + n, sizeof(buf) - n, "\"}}");
	T_EQ_INT(load(buf), -1);
	T_EQ_STR(err.path, "capture.ignore-ports[256]");
	T_EQ_INT(err.col, (unsigned)(strstr(buf, ",257") - buf) + 2);
}

static void test_bool_forms(void)
{
	T_EQ_INT(load("{\"pcap\":{\"ignore-tcp\":\"TRUE\",\"ignore-udp\":\"True\","
		      "\"promiscuous-mode\":\"false\"},"
		      "\"capture\":{\"print-data\":true,\"only-stats\":false}}"), 0);
	T_EQ_INT(cfg.ignore_tcp, 1);
	T_EQ_INT(cfg.ignore_udp, 1);
	T_EQ_INT(cfg.promisc, 0);
	T_EQ_INT(cfg.print_data, 1);
	T_EQ_INT(cfg.only_stats, 0);
}

static void test_numeric_strings(void)
{
	T_EQ_INT(load("{\"common\":{\"Interval\":\"60\",\"max-flows\":\"16777216\","
		      "\"spool-max-bytes\":\"1099511627776\"},"
		      "\"pcap\":{\"snap-length\":\"262144\",\"buffer-size\":65536}}"), 0);
	T_EQ_INT(cfg.interval, 60);
	T_EQ_INT(cfg.max_flows, 16777216);
	T_EQ_INT(cfg.spool_max_bytes, 1099511627776ull);
	T_EQ_INT(cfg.snap_len, 262144);
	T_EQ_INT(cfg.buffer_size, 65536);
	/* Range edges. */
	T_EQ_INT(load("{\"common\":{\"Interval\":86400},\"pcap\":{\"snap-length\":64}}"), 0);
	T_EQ_INT(cfg.interval, 86400);
	T_EQ_INT(cfg.snap_len, 64);
	T_EQ_INT(load("{\"common\":{\"Interval\":1}}"), 0);
	T_EQ_INT(cfg.interval, 1);
}

static void test_cidr(void)
{
	struct cfg_net n;
	static const uint8_t v6_masked[16] = { 0x20, 0x01, 0x0d, 0xb8, 0x12, 0x00 };
	const char *log;
	int rc;

	T_EQ_INT(config_parse_net("192.0.2.1", &n), 0);
	T_EQ_INT(n.family, 4);
	T_EQ_INT(n.prefix, 32);
	T_CHECK(memcmp(n.addr, "\xc0\x00\x02\x01", 4) == 0);
	T_EQ_INT(config_parse_net("10.1.2.3/8", &n), 0);	/* masked */
	T_EQ_INT(n.prefix, 8);
	T_CHECK(memcmp(n.addr, "\x0a\x00\x00\x00", 4) == 0);
	T_EQ_INT(config_parse_net("10.255.255.255/9", &n), 0);
	T_CHECK(memcmp(n.addr, "\x0a\x80\x00\x00", 4) == 0);
	T_EQ_INT(config_parse_net("0.0.0.0/0", &n), 0);
	T_EQ_INT(n.prefix, 0);
	T_EQ_INT(config_parse_net("2001:db8:12ff::1/40", &n), 0);
	T_EQ_INT(n.family, 6);
	T_EQ_INT(n.prefix, 40);
	T_CHECK(memcmp(n.addr, v6_masked, 16) == 0);
	T_EQ_INT(config_parse_net("::/0", &n), 0);
	T_EQ_INT(config_parse_net("::ffff:1.2.3.4", &n), 0);
	T_EQ_INT(n.family, 6);
	/* Strict forms. */
	T_EQ_INT(config_parse_net("10.0.0.0/33", &n), -1);
	T_EQ_INT(config_parse_net("10.0.0.0/08", &n), -1);
	T_EQ_INT(config_parse_net("10.0.0.0/", &n), -1);
	T_EQ_INT(config_parse_net("10.0.0.0/+8", &n), -1);
	T_EQ_INT(config_parse_net("10.0.0.0/8 ", &n), -1);
	T_EQ_INT(config_parse_net("10.0.0/8", &n), -1);
	T_EQ_INT(config_parse_net("010.0.0.1", &n), -1);
	T_EQ_INT(config_parse_net("::1/129", &n), -1);
	T_EQ_INT(config_parse_net("::1/1280", &n), -1);
	T_EQ_INT(config_parse_net("fe80::1%eth0", &n), -1);
	T_EQ_INT(config_parse_net("", &n), -1);
	T_EQ_INT(config_parse_net("/8", &n), -1);
	T_EQ_INT(config_parse_net("host.example", &n), -1);

	/* In a config: masked with one warning for several entries. */
	cap_begin();
	rc = load("{\"capture\":{\"ignore-ips\":[\"10.1.2.3/8\",\"2001:db8::1/32\","
		  "\"192.168.1.1/24\"]}}");
	log = cap_end();
	T_EQ_INT(rc, 0);
	T_EQ_INT(cfg.ignore_ips.n, 3);
	T_CHECK(memcmp(cfg.ignore_ips.net[2].addr, "\xc0\xa8\x01\x00", 4) == 0);
	T_EQ_INT(count_sub(log, "host bits"), 1);
	T_CHECK(strstr(log, "config:1:27: capture.ignore-ips[0]: \"10.1.2.3/8\" "
		       "has host bits set beyond the prefix; using 10.0.0.0/8") != NULL);
}

static void test_net_contains(void)
{
	struct cfg_net n;
	static const uint8_t a6_in[16] = { 0x20, 0x01, 0x0d, 0xb8, 0xff };
	static const uint8_t a6_out[16] = { 0x20, 0x01, 0x0d, 0xb9 };

	T_EQ_INT(config_parse_net("10.0.0.0/8", &n), 0);
	T_EQ_INT(config_net_contains(&n, 4, (const uint8_t *)"\x0a\xff\x01\x02"), 1);
	T_EQ_INT(config_net_contains(&n, 4, (const uint8_t *)"\x0b\x00\x00\x00"), 0);
	T_EQ_INT(config_net_contains(&n, 6, a6_in), 0);
	T_EQ_INT(config_parse_net("192.168.0.0/23", &n), 0);
	T_EQ_INT(config_net_contains(&n, 4, (const uint8_t *)"\xc0\xa8\x01\xff"), 1);
	T_EQ_INT(config_net_contains(&n, 4, (const uint8_t *)"\xc0\xa8\x02\x00"), 0);
	T_EQ_INT(config_parse_net("192.0.2.7", &n), 0);
	T_EQ_INT(config_net_contains(&n, 4, (const uint8_t *)"\xc0\x00\x02\x07"), 1);
	T_EQ_INT(config_net_contains(&n, 4, (const uint8_t *)"\xc0\x00\x02\x06"), 0);
	T_EQ_INT(config_parse_net("0.0.0.0/0", &n), 0);
	T_EQ_INT(config_net_contains(&n, 4, (const uint8_t *)"\x01\x02\x03\x04"), 1);
	T_EQ_INT(config_parse_net("2001:db8::/32", &n), 0);
	T_EQ_INT(config_net_contains(&n, 6, a6_in), 1);
	T_EQ_INT(config_net_contains(&n, 6, a6_out), 0);
	T_EQ_INT(config_net_contains(&n, 4, a6_in), 0);
	T_EQ_INT(config_parse_net("2001:db8::/31", &n), 0);
	T_EQ_INT(config_net_contains(&n, 6, a6_out), 1);
}

static void test_sniff_timeout(void)
{
	static const struct {
		const char *v;
		uint64_t ns;
	} ok[] = {
		{ "2", 1000000 },		/* the original's default */
		{ "0", 1000000 },
		{ "5000000", 5000000 },
		{ "\"2\"", 1000000 },
		{ "\"100ns\"", 1000000 },
		{ "\"500us\"", 1000000 },
		{ "\"1500us\"", 1500000 },
		{ "\"1500\xC2\xB5s\"", 1500000 },
		{ "\"2ms\"", 2000000 },
		{ "\"1s\"", 1000000000 },
		{ "\"1m\"", 60000000000ull },
		{ "\"60s\"", 60000000000ull },
		{ "60000000000", 60000000000ull },
		{ "\"2000000ns\"", 2000000 },
	};
	static const struct {
		const char *v, *msg;
	} bad[] = {
		{ "\"61s\"", "\"61s\" is out of range (at most 60s)" },
		{ "\"2m\"", "\"2m\" is out of range (at most 60s)" },
		{ "60000000001", "\"60000000001\" is out of range (at most 60s)" },
		{ "\"99999999999999999999999s\"", "is out of range" },
		{ "\"2h\"", "\"2h\" is not a duration" },
		{ "\"ms\"", "\"ms\" is not a duration" },
		{ "\"2 ms\"", "\"2 ms\" is not a duration" },
		{ "\"1.5ms\"", "\"1.5ms\" is not a whole number" },
		{ "1.5", "\"1.5\" is not a whole number" },
		{ "2e6", "\"2e6\" is not a duration" },
		{ "-1", "\"-1\" is negative" },
		{ "true", "expected a duration, got true" },
		{ "[]", "expected a duration, got an array" },
	};
	char buf[256];
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		snprintf(buf, sizeof(buf), "{\"pcap\":{\"sniff-timeout\":%s}}", ok[i].v);
		T_EQ_INT(load(buf), 0);
		T_EQ_INT(cfg.sniff_timeout_ns, ok[i].ns);
		if (cfg.sniff_timeout_ns != ok[i].ns)
			printf("  (value %s)\n", ok[i].v);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(buf, sizeof(buf), "{\"pcap\":{\n\"sniff-timeout\": %s}}", bad[i].v);
		T_EQ_INT(load(buf), -1);
		T_EQ_STR(err.path, "pcap.sniff-timeout");
		T_EQ_INT(err.line, 2);
		T_EQ_INT(err.col, 18);
		T_CHECK(strstr(err.msg, bad[i].msg) != NULL);
		if (!strstr(err.msg, bad[i].msg))
			printf("  (value %s: msg %s)\n", bad[i].v, err.msg);
	}
}

static void test_fingerprint(void)
{
	const char *lo = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	char buf[512];

	snprintf(buf, sizeof(buf), "{\"device42\":{\"tls-fingerprint\":\"%s\"}}",
		 "0123456789ABCDEF0123456789abcdef0123456789ABCDEF0123456789abcdef");
	T_EQ_INT(load(buf), 0);
	T_EQ_STR(cfg.tls_fingerprint, lo);
	T_EQ_INT(load("{\"device42\":{\"tls-fingerprint\":\"\"}}"), 0);
	T_EQ_STR(cfg.tls_fingerprint, "");
	/* Misplaced colons, 63 digits, a non-hex digit. */
	T_EQ_INT(load("{\"device42\":{\"tls-fingerprint\":\"0:123456789abcdef0123456789abcdef"
		      "0123456789abcdef0123456789abcdef\"}}"), -1);
	T_EQ_STR(err.path, "device42.tls-fingerprint");
	snprintf(buf, sizeof(buf), "{\"device42\":{\"tls-fingerprint\":\"%.63s\"}}", lo);
	T_EQ_INT(load(buf), -1);
	T_CHECK(strstr(err.msg, "is not a SHA-256 fingerprint") != NULL);
	snprintf(buf, sizeof(buf), "{\"device42\":{\"tls-fingerprint\":\"%.63sg\"}}", lo);
	T_EQ_INT(load(buf), -1);
	T_EQ_STR(err.path, "device42.tls-fingerprint");
	/* A reload compares fields whole (settings.c): the colon form must
	 * leave nothing behind the NUL, nor must an earlier duplicate key. */
	T_EQ_INT(load("{\"device42\":{\"tls-fingerprint\":\"AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:"
		      "AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB\", "
		      "\"User\":\"a-longer-name\", \"User\":\"x\"}}"), 0);
	cfg2 = cfg;
	T_EQ_INT(load("{\"device42\":{\"tls-fingerprint\":\"abababababababababababababab"
		      "abababababababababababababababababab\", \"User\":\"x\"}}"), 0);
	T_CHECK(memcmp(cfg.tls_fingerprint, cfg2.tls_fingerprint,
		       sizeof(cfg.tls_fingerprint)) == 0);
	T_CHECK(memcmp(cfg.user, cfg2.user, sizeof(cfg.user)) == 0);
}

/* Errors carry the key path, the value's line:col and a message naming the
 * value. */
static void test_error_positions(void)
{
	static const char doc[] =
		"{\n"
		"  \"pcap\": {\n"
		"    \"Device\": \"eth0\",\n"
		"    \"include-source-tcp-ports\": [80, 443, 70000]\n"
		"  }\n"
		"}\n";
	static const char doc2[] =
		"{\"pcap\": {\n"
		"\t\"include-destination-tcp-ports\": \"22, 80,  99999\"}}";
	static const char doc3[] =
		"{\"capture\": {\"ignore-ips\": \"10.0.0.1, bad\\u0020x\"}}";
	static const char doc4[] = "{\n  \"common\": {\"Interval\": 0}\n}";
	static const char doc5[] = "{\n  \"common\": {\"Interval\": 30,}\n}";
	static const char doc6[] = "{\"device42\": {\"Host\":\n   \"ftp://h\"}}";

	T_EQ_INT(load(doc), -1);
	T_EQ_STR(err.path, "pcap.include-source-tcp-ports[2]");
	T_EQ_INT(err.line, 4);
	T_EQ_INT(err.col, 43);
	T_EQ_STR(err.msg, "\"70000\" is not a port (1-65535)");

	/* Inside a comma string the entry itself is pointed at. */
	T_EQ_INT(load(doc2), -1);
	T_EQ_STR(err.path, "pcap.include-destination-tcp-ports[2]");
	T_EQ_INT(err.line, 2);
	T_EQ_INT(err.col, 45);
	T_EQ_STR(err.msg, "\"99999\" is not a port (1-65535)");

	/* With an escape in the string, the string is pointed at. */
	T_EQ_INT(load(doc3), -1);
	T_EQ_STR(err.path, "capture.ignore-ips[1]");
	T_EQ_INT(err.line, 1);
	T_EQ_INT(err.col, 28);
	T_EQ_STR(err.msg, "\"bad x\" is not an IP address or CIDR network");

	T_EQ_INT(load(doc4), -1);
	T_EQ_STR(err.path, "common.Interval");
	T_EQ_INT(err.line, 2);
	T_EQ_INT(err.col, 26);
	T_EQ_STR(err.msg, "\"0\" is out of range (1-86400)");

	/* JSON syntax: no path, the tokenizer's position. */
	T_EQ_INT(load(doc5), -1);
	T_EQ_STR(err.path, "");
	T_EQ_INT(err.line, 2);
	T_EQ_INT(err.col, 29);
	T_EQ_STR(err.msg, json_strerror(JSON_ERR_SYNTAX));

	T_EQ_INT(load(doc6), -1);
	T_EQ_STR(err.path, "device42.Host");
	T_EQ_INT(err.line, 2);
	T_EQ_INT(err.col, 4);
	T_EQ_STR(err.msg, "\"ftp://h\" is not an http:// or https:// URL");

	/* Keys are reported with their canonical spelling. */
	T_EQ_INT(load("{\"COMMON\":{\"max-FLOWS\":0}}"), -1);
	T_EQ_STR(err.path, "common.max-flows");
	T_EQ_INT(err.col, 24);

	/* A section of the wrong type. */
	T_EQ_INT(load("{\"pcap\": \"eth0\"}"), -1);
	T_EQ_STR(err.path, "pcap");
	T_EQ_STR(err.msg, "expected an object, got a string (\"eth0\")");
	T_EQ_INT(err.col, 10);
}

static void test_format_error(void)
{
	struct cfg_error e;
	char out[512];

	memset(&e, 0, sizeof(e));
	snprintf(e.path, sizeof(e.path), "pcap.include-source-tcp-ports[2]");
	e.line = 7;
	e.col = 5;
	snprintf(e.msg, sizeof(e.msg), "\"70000\" is not a port (1-65535)");
	config_format_error(&e, "d42pcap.json", out, sizeof(out));
	T_EQ_STR(out, "d42pcap.json:7:5: pcap.include-source-tcp-ports[2]: "
		 "\"70000\" is not a port (1-65535)");
	e.path[0] = '\0';
	config_format_error(&e, "d42pcap.json", out, sizeof(out));
	T_EQ_STR(out, "d42pcap.json:7:5: \"70000\" is not a port (1-65535)");
	e.line = e.col = 0;
	snprintf(e.msg, sizeof(e.msg), "cannot open: No such file or directory");
	config_format_error(&e, "/x/d42pcap.json", out, sizeof(out));
	T_EQ_STR(out, "/x/d42pcap.json: cannot open: No such file or directory");
	config_format_error(&e, NULL, out, sizeof(out));
	T_EQ_STR(out, "config: cannot open: No such file or directory");
	config_format_error(&e, "f", out, 8);	/* truncates, stays terminated */
	T_EQ_STR(out, "f: cann");
}

static void test_unknown_and_duplicate(void)
{
	const char *log;
	int rc;

	cap_begin();
	rc = load("{\n  \"pcap\": {\n    \"Device\": \"eth0\",\n    \"foo\": 1,\n"
		  "    \"device\": \"eth1\"\n  },\n  \"extras\": {\"a\": 1},\n"
		  "  \"capture\": {\"ignore-ports\": [1]},\n"
		  "  \"capture\": {\"ignore-ports\": [2], \"live\\nx\": 0}\n}");
	log = cap_end();
	T_EQ_INT(rc, 0);
	T_EQ_STR(cfg.device, "eth1");
	T_EQ_INT(cfg.ignore_ports.n, 1);
	T_EQ_INT(cfg.ignore_ports.port[0], 2);
	T_CHECK(strstr(log, "config:4:5: unknown key pcap.foo (ignored)") != NULL);
	T_CHECK(strstr(log, "config:5:5: duplicate key pcap.Device (the last one wins)") != NULL);
	T_CHECK(strstr(log, "config:7:3: unknown section extras (ignored)") != NULL);
	T_CHECK(strstr(log, "config:9:3: duplicate section capture") != NULL);
	T_CHECK(strstr(log, "config:9:15: duplicate key capture.ignore-ports "
		       "(the last one wins)") != NULL);
	/* A key with a control character is shown escaped, not raw. */
	T_CHECK(strstr(log, "unknown key capture.live\\nx (ignored)") != NULL);
}

static void test_bom(void)
{
	T_EQ_INT(load("\xEF\xBB\xBF{\"common\":{\"Interval\":7}}"), 0);
	T_EQ_INT(cfg.interval, 7);
	T_EQ_INT(load("\xEF\xBB\xBF{\"common\":{\"Interval\":0}}"), -1);
	T_EQ_INT(err.line, 1);
	T_EQ_INT(err.col, 23);
}

/* A file of the source tree: under $TOP (set by tests/run.sh), else found
 * from this file's own path (tests/unit/ -> ../../). */
static void tree_path(const char *rel, char *out, size_t outsz)
{
	const char *top = getenv("TOP");
	const char *slash = strrchr(__FILE__, '/');

	if (top && *top)
		snprintf(out, outsz, "%s/%s", top, rel);
	else
		snprintf(out, outsz, "%.*s../../%s",
			 (int)(slash ? slash - __FILE__ + 1 : 0), __FILE__, rel);
}

/* The installed example must load cleanly, hold the defaults, and list every
 * key: it is exactly what -check-config prints for it. */
static void test_example_config(void)
{
	static char text[CAP_MAX], printed[CAP_MAX];
	char path[1024];
	const char *log;
	size_t n = 0;
	FILE *f;
	int rc;

	tree_path("d42pcap.json.example", path, sizeof(path));
	cap_begin();
	rc = config_load_file(&cfg, path, &err);
	log = cap_end();
	T_EQ_INT(rc, 0);
	if (rc < 0)
		printf("  %s: %s: %s\n", path, err.path, err.msg);
	T_EQ_STR(log, "");
	T_EQ_STR(cfg.device, "eth0");
	f = fopen(path, "r");
	if (f) {
		n = fread(text, 1, sizeof(text) - 1, f);
		fclose(f);
	}
	text[n] = '\0';
	T_EQ_INT(print_to(&cfg, printed, sizeof(printed)), 0);
	T_EQ_STR(printed, text);
	memset(cfg.device, 0, sizeof(cfg.device));
	memset(cfg.source_path, 0, sizeof(cfg.source_path));
	config_defaults(&cfg2);
	check_defaults(&cfg);
	T_CHECK(memcmp(&cfg, &cfg2, sizeof(cfg)) == 0);
}

/* The table shared with the CLI tests: name, path ("-" = none), message
 * substring, JSON on one line. */
static void test_bad_table(void)
{
	static char line[TSV_LINE_MAX];
	char path[1024];
	const char *f[4];
	FILE *fp;
	int rows = 0, lineno = 0, i;
	char *p;

	tree_path("tests/data/bad_configs.tsv", path, sizeof(path));
	fp = fopen(path, "r");
	if (!fp)
		printf("  cannot open %s: %s\n", path, strerror(errno));
	T_CHECK(fp != NULL);
	if (!fp)
		return;
	while (fgets(line, sizeof(line), fp)) {
		lineno++;
		p = strchr(line, '\n');
		T_CHECK(p != NULL);	/* no line longer than the buffer */
		if (p)
			*p = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		p = line;
		for (i = 0; i < 4; i++) {
			f[i] = p;
			p = i < 3 ? strchr(p, '\t') : NULL;
			if (i < 3 && !p)
				break;
			if (p)
				*p++ = '\0';
		}
		if (i < 4) {
			printf("  %s:%d: fewer than 4 columns\n", path, lineno);
			T_CHECK(0);
			continue;
		}
		rows++;
		if (load(f[3]) != -1 || strcmp(err.path, strcmp(f[1], "-") ? f[1] : "") ||
		    !strstr(err.msg, f[2]) || err.line == 0) {
			printf("  row %s: rc/path/msg mismatch: got path \"%s\" "
			       "line %u col %u msg \"%s\"\n", f[0], err.path,
			       err.line, err.col, err.msg);
			T_CHECK(0);
		}
	}
	fclose(fp);
	T_CHECK(rows >= TSV_MIN_ROWS);
	if (rows < TSV_MIN_ROWS)
		printf("  only %d rows\n", rows);
}

static void test_password_never_leaks(void)
{
	static const char *const docs[] = {
		"{\"device42\":{\"Password\":" "12345" "}}",
		"{\"device42\":{\"Password\":[\"" SECRET "\"]}}",
		"{\"device42\":{\"Password\":{\"" SECRET "\":1}}}",
		"{\"device42\":{\"Password\":\"" SECRET "\",\"Password\":true}}",
		"{\"device42\":{\"Password\":\"" SECRET "\",\"Host\":\"ftp://x\"}}",
		"{\"device42\":{\"Password\":\"" SECRET "\"},\"pcap\":{\"snap-length\":1}}",
		"{\"device42\":{\"Password\":\"" SECRET "\\u0000\"}}",
		"{\"device42\":{\"Password\":\"" SECRET "\" \"User\":\"u\"}}",
		"{\"device42\":{\"Password\":\"" SECRET "\"}, \"common\":{\"" SECRET "\":1}}",
	};
	char longpw[CFG_MAX_STR + 64], doc[CFG_MAX_STR + 128], out[512], printed[CAP_MAX];
	const char *log;
	size_t i;

	for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		cap_begin();
		(void)load(docs[i]);
		log = cap_end();
		config_format_error(&err, "d42pcap.json", out, sizeof(out));
		T_CHECK(strstr(out, SECRET) == NULL);
		T_CHECK(strstr(out, "12345") == NULL);
		/* Keys are not secret: a password pasted as a key is the user's doing. */
		if (i != 8)
			T_CHECK(strstr(log, SECRET) == NULL);
	}
	T_EQ_INT(load(docs[0]), -1);
	T_EQ_STR(err.path, "device42.Password");
	T_EQ_STR(err.msg, "expected a string, got a number");

	/* Too long: named without being echoed. */
	memset(longpw, 'k', sizeof(longpw) - 1);
	longpw[sizeof(longpw) - 1] = '\0';
	memcpy(longpw, SECRET, strlen(SECRET));
	snprintf(doc, sizeof(doc), "{\"device42\":{\"Password\":\"%s\"}}", longpw);
	T_EQ_INT(load(doc), -1);
	T_EQ_STR(err.msg, "the value is longer than 255 bytes");
	config_format_error(&err, "d42pcap.json", out, sizeof(out));
	T_CHECK(strstr(out, SECRET) == NULL);
	T_CHECK(strstr(out, "kkkk") == NULL);

	/* config_print masks it. */
	T_EQ_INT(load(full_config), 0);
	T_EQ_INT(print_to(&cfg, printed, sizeof(printed)), 0);
	T_CHECK(strstr(printed, SECRET) == NULL);
	T_CHECK(strstr(printed, "\"Password\": \"********\"") != NULL);
}

static void test_password_file_and_env(void)
{
	char pwpath[256], doc[512], out[512];
	const char *log;
	int rc;

	snprintf(pwpath, sizeof(pwpath), "%s/pw", tmpdir);
	snprintf(doc, sizeof(doc), "{\"device42\":{\"User\":\"u\",\n"
		 "\"password-file\": \"%s\"}}", pwpath);

	write_file(pwpath, SECRET "\nsecond line\n", 0600);
	cap_begin();
	rc = load(doc);
	log = cap_end();
	T_EQ_INT(rc, 0);
	T_EQ_STR(cfg.password, SECRET);
	T_CHECK(strstr(log, "readable by other users") == NULL);

	write_file(pwpath, SECRET "\r\n", 0644);	/* CRLF, others can read */
	cap_begin();
	rc = load(doc);
	log = cap_end();
	T_EQ_INT(rc, 0);
	T_EQ_STR(cfg.password, SECRET);
	T_CHECK(strstr(log, "readable by other users") != NULL);
	T_CHECK(strstr(log, SECRET) == NULL);

	write_file(pwpath, SECRET, 0600);		/* no newline at all */
	T_EQ_INT(load(doc), 0);
	T_EQ_STR(cfg.password, SECRET);

	write_file(pwpath, "\n" SECRET "\n", 0600);	/* empty first line */
	T_EQ_INT(load(doc), -1);
	T_EQ_STR(err.path, "device42.password-file");
	T_CHECK(strstr(err.msg, "holds no password on its first line") != NULL);
	T_CHECK(strstr(err.msg, SECRET) == NULL);

	/* The longest password, with CRLF or LF; one byte more is refused. */
	memset(out, 'a', 255);
	memcpy(out + 255, "\r\n", 3);
	write_file(pwpath, out, 0600);
	T_EQ_INT(load(doc), 0);
	T_EQ_INT(strlen(cfg.password), 255);
	memcpy(out + 255, "\n", 2);
	write_file(pwpath, out, 0600);
	T_EQ_INT(load(doc), 0);
	T_EQ_INT(strlen(cfg.password), 255);
	memcpy(out + 255, "a\r\n", 4);
	write_file(pwpath, out, 0600);
	T_EQ_INT(load(doc), -1);
	T_CHECK(strstr(err.msg, "longer than 255 bytes") != NULL);
	memcpy(out + 255, "aaaaaaaaaa", 11);	/* no newline in what is read */
	write_file(pwpath, out, 0600);
	T_EQ_INT(load(doc), -1);
	T_CHECK(strstr(err.msg, "longer than 255 bytes") != NULL);

	/* A UTF-16 file, or a NUL first: not a password cut short. */
	{
		static const char u16[] = "p\0a\0s\0s\0\r\0\n\0";
		FILE *f = fopen(pwpath, "wb");

		T_CHECK(f && fwrite(u16, 1, sizeof(u16) - 1, f) == sizeof(u16) - 1);
		if (f)
			fclose(f);
		T_EQ_INT(load(doc), -1);
		T_CHECK(strstr(err.msg, "contains a NUL byte") != NULL);
	}

	unlink(pwpath);
	T_EQ_INT(load(doc), -1);
	T_EQ_STR(err.path, "device42.password-file");
	T_EQ_INT(err.line, 2);
	T_EQ_INT(err.col, 18);
	snprintf(out, sizeof(out), "cannot read \"%s\": No such file or directory", pwpath);
	T_EQ_STR(err.msg, out);

	/* The environment, when neither Password nor password-file is set. */
	setenv("D42PCAP_PASSWORD", "from-env", 1);
	T_EQ_INT(load("{\"device42\":{\"User\":\"u\"}}"), 0);
	T_EQ_STR(cfg.password, "from-env");
	T_EQ_INT(load("{\"device42\":{\"Password\":\"p\"}}"), 0);
	T_EQ_STR(cfg.password, "p");
	write_file(pwpath, "from-file\n", 0600);
	T_EQ_INT(load(doc), 0);
	T_EQ_STR(cfg.password, "from-file");
	unsetenv("D42PCAP_PASSWORD");
	T_EQ_INT(load("{\"device42\":{\"User\":\"u\"}}"), 0);
	T_EQ_STR(cfg.password, "");
	unlink(pwpath);
}

static void test_world_readable(void)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/d42pcap.json", tmpdir);
	write_file(path, "{\"device42\":{\"Password\":\"" SECRET "\"}}", 0600);
	T_EQ_INT(config_load_file(&cfg, path, &err), 0);
	T_EQ_INT(cfg.world_readable_password, 0);
	T_EQ_STR(cfg.source_path, path);
	chmod(path, 0640);
	T_EQ_INT(config_load_file(&cfg, path, &err), 0);
	T_EQ_INT(cfg.world_readable_password, 1);
	chmod(path, 0604);
	T_EQ_INT(config_load_file(&cfg, path, &err), 0);
	T_EQ_INT(cfg.world_readable_password, 1);
	/* Without a password in the file, nothing to protect. */
	write_file(path, "{\"device42\":{\"Password\":\"\"}}", 0644);
	T_EQ_INT(config_load_file(&cfg, path, &err), 0);
	T_EQ_INT(cfg.world_readable_password, 0);
	setenv("D42PCAP_PASSWORD", "from-env", 1);
	T_EQ_INT(config_load_file(&cfg, path, &err), 0);
	T_EQ_INT(cfg.world_readable_password, 0);
	T_EQ_STR(cfg.password, "from-env");
	unsetenv("D42PCAP_PASSWORD");
	unlink(path);
}

static void test_file_errors(void)
{
	static char big[CFG_MAX_FILE + 16];
	char path[256], out[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/missing.json", tmpdir);
	T_EQ_INT(config_load_file(&cfg, path, &err), -1);
	T_EQ_STR(err.path, "");
	T_EQ_INT(err.line, 0);
	T_EQ_STR(err.msg, "cannot open: No such file or directory");
	config_format_error(&err, path, out, sizeof(out));
	T_CHECK(strstr(out, "missing.json: cannot open: No such file or directory") != NULL);

	/* Exactly CFG_MAX_FILE bytes loads; one more is refused. */
	snprintf(path, sizeof(path), "%s/big.json", tmpdir);
	memset(big, ' ', sizeof(big));
	memcpy(big, "{}", 2);
	f = fopen(path, "w");
	T_CHECK(f != NULL);
	if (!f)
		return;
	fwrite(big, 1, CFG_MAX_FILE, f);
	fclose(f);
	T_EQ_INT(config_load_file(&cfg, path, &err), 0);
	f = fopen(path, "a");
	T_CHECK(f != NULL);
	if (!f)
		return;
	fputc(' ', f);
	fclose(f);
	T_EQ_INT(config_load_file(&cfg, path, &err), -1);
	T_EQ_STR(err.msg, "the file is larger than 262144 bytes");
	T_EQ_INT(config_load_buf(&cfg, big, CFG_MAX_FILE + 1, &err), -1);
	T_CHECK(strstr(err.msg, "more than 262144 bytes") != NULL);
	unlink(path);

	/* A directory is not a config file. */
	T_EQ_INT(config_load_file(&cfg, tmpdir, &err), -1);
	T_CHECK(strstr(err.msg, "not a regular file") != NULL);
}

/* config_print: valid JSON with the four sections and every key, and it
 * loads back to the same configuration. */
static void test_print_roundtrip(void)
{
	static char printed[CAP_MAX];
	static struct json_tok toks[1024];
	struct json_limits lim = { CAP_MAX, 8 };
	struct json_pos pos;
	char s[64];
	int n, i, found_pw = 0, found_sections = 0;

	T_EQ_INT(load(full_config), 0);
	T_EQ_INT(print_to(&cfg, printed, sizeof(printed)), 0);
	n = json_parse(printed, strlen(printed), &lim, toks, 1024, &pos);
	T_CHECK(n > 0);
	if (n <= 0)
		return;
	T_EQ_INT(toks[0].type, JSON_OBJECT);
	T_EQ_INT(toks[0].size, 4);
	for (i = 1; i + 1 < n; i++) {
		if (toks[i].type != JSON_STRING || json_str_decode(printed, &toks[i], s, sizeof(s)) < 0)
			continue;
		if (strcmp(s, "Password") == 0 && toks[i + 1].type == JSON_STRING &&
		    json_str_decode(printed, &toks[i + 1], s, sizeof(s)) >= 0 &&
		    strcmp(s, "********") == 0)
			found_pw++;
		if (!strcmp(s, "device42") || !strcmp(s, "common") ||
		    !strcmp(s, "pcap") || !strcmp(s, "capture"))
			found_sections++;
	}
	T_EQ_INT(found_pw, 1);
	T_EQ_INT(found_sections, 4);
	T_CHECK(strstr(printed, "\"include-dest-tcp-ips\": [\n      \"192.168.1.1/32\",\n"
		       "      \"2001:db8::/32\"\n    ]") != NULL);
	T_CHECK(strstr(printed, "\"include-source-tcp-ports\": [\n      22,\n      80\n    ]") != NULL);
	T_CHECK(strstr(printed, "\"sniff-timeout\": \"250ms\"") != NULL);
	T_CHECK(strstr(printed, "\"Interval\": 30") != NULL);
	T_CHECK(strstr(printed, "\"https-proxy\"") == NULL);

	/* Loading the printout gives the same values (password masked). */
	memcpy(&cfg2, &cfg, sizeof(cfg));
	T_EQ_INT(config_load_buf(&cfg, printed, strlen(printed), &err), 0);
	check_full(&cfg, "********");

	/* Defaults print and reload too; an unset password prints as "". */
	config_defaults(&cfg2);
	T_EQ_INT(print_to(&cfg2, printed, sizeof(printed)), 0);
	T_CHECK(strstr(printed, "\"Password\": \"\"") != NULL);
	T_CHECK(strstr(printed, "\"sniff-timeout\": \"100ms\"") != NULL);
	T_EQ_INT(config_load_buf(&cfg, printed, strlen(printed), &err), 0);
	check_defaults(&cfg);
	T_CHECK(memcmp(&cfg, &cfg2, sizeof(cfg)) == 0);
}

/* A SIGHUP reload runs the same code again: nothing sticks from before. */
static void test_reload_starts_fresh(void)
{
	T_EQ_INT(load(full_config), 0);
	T_EQ_INT(load("{\"pcap\":{\"Device\":\"lo\"}}"), 0);
	T_EQ_STR(cfg.device, "lo");
	T_EQ_STR(cfg.host, "");
	T_EQ_INT(cfg.inc_src_tcp_ports.n, 0);
	T_EQ_INT(cfg.interval, 60);
}

/* ca-file is checked only where it will be read: https, at start-up. */
static void test_ca_file_checked_for_https(void)
{
	static const char https_missing[] =
		"{\"device42\": {\"Host\": \"https://d42.example\", \"ca-file\": \"/nonexistent/ca.pem\"}}";
	static const char http_missing[] =
		"{\"device42\": {\"Host\": \"HTTP://d42.example\", \"ca-file\": \"/nonexistent/ca.pem\"}}";
	static const char no_scheme[] =
		"{\"device42\": {\"Host\": \"d42.example\", \"ca-file\": \"/nonexistent/ca.pem\"}}";

	T_EQ_INT(load(https_missing), -1);
	T_CHECK(strstr(err.msg, "cannot read \"/nonexistent/ca.pem\"") != NULL);
	T_EQ_INT(load(no_scheme), -1);	/* no scheme is https */
	T_EQ_INT(load(http_missing), 0);
}

/* A FIFO (or device) where the settings file should be is refused at once:
 * until 2026-11-29 open() waited for a writer, and a SIGHUP froze the
 * agent (no reports) until some other signal came. */
static void test_settings_not_regular(void)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/fifo.json", tmpdir);
	T_EQ_INT(mkfifo(path, 0600), 0);
	alarm(10);	/* a hang kills the program: a failure */
	T_EQ_INT(config_reload_file(&cfg, path, &err), -1);
	T_CHECK(strstr(err.msg, "not a regular file") != NULL);
	T_EQ_INT(config_load_file(&cfg, path, &err), -1);
	T_CHECK(strstr(err.msg, "not a regular file") != NULL);
	T_EQ_INT(config_load_file(&cfg, "/dev/null", &err), -1);
	T_CHECK(strstr(err.msg, "not a regular file") != NULL);
	alarm(0);
	unlink(path);
}

/* At a SIGHUP a password-file that is a FIFO (its writer long gone) is
 * treated as unreadable, not waited on: until 2026-11-29 the reload hung. */
static void test_password_fifo_reload(void)
{
	char path[256], pw[256], doc[512];
	const char *log;
	int rc;

	snprintf(path, sizeof(path), "%s/pwfifo.json", tmpdir);
	snprintf(pw, sizeof(pw), "%s/pwfifo", tmpdir);
	snprintf(doc, sizeof(doc), "{\"device42\":{\"User\":\"u\",\"password-file\":\"%s\"}}",
		 pw);
	write_file(path, doc, 0600);
	T_EQ_INT(mkfifo(pw, 0600), 0);
	alarm(10);	/* a hang kills the program: a failure */
	cap_begin();
	rc = config_reload_file(&cfg, path, &err);
	log = cap_end();
	alarm(0);
	T_EQ_INT(rc, 0);
	T_EQ_INT(cfg.password_unread, 1);
	T_CHECK(strstr(log, "not a regular file") != NULL);
	unlink(pw);
	unlink(path);
}

int main(void)
{
	char *at;
	FILE *f;

	unsetenv("D42PCAP_PASSWORD");
	if (!mkdtemp(tmpdir)) {
		printf("FAIL mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	snprintf(ca_path, sizeof(ca_path), "%s/ca.pem", tmpdir);
	at = strstr(full_config, CA_TEMPLATE);
	f = fopen(ca_path, "w");
	if (!at || strlen(ca_path) != strlen(CA_TEMPLATE) || !f) {
		printf("FAIL could not make %s\n", ca_path);
		return 1;
	}
	fclose(f);
	memcpy(at, ca_path, strlen(ca_path));
	T_RUN(test_spool_dir_not_logs_dir);
	T_RUN(test_defaults);
	T_RUN(test_every_key);
	T_RUN(test_case_insensitive);
	T_RUN(test_aliases);
	T_RUN(test_urls_checked_fully);
	T_RUN(test_duplicate_leaves_no_trace);
	T_RUN(test_snap_length_warning);
	T_RUN(test_same_dir_names);
	T_RUN(test_lists);
	T_RUN(test_list_limit);
	T_RUN(test_bool_forms);
	T_RUN(test_numeric_strings);
	T_RUN(test_cidr);
	T_RUN(test_net_contains);
	T_RUN(test_sniff_timeout);
	T_RUN(test_fingerprint);
	T_RUN(test_error_positions);
	T_RUN(test_format_error);
	T_RUN(test_unknown_and_duplicate);
	T_RUN(test_bom);
	T_RUN(test_bad_table);
	T_RUN(test_example_config);
	T_RUN(test_password_never_leaks);
	T_RUN(test_password_file_and_env);
	T_RUN(test_world_readable);
	T_RUN(test_file_errors);
	T_RUN(test_settings_not_regular);
	T_RUN(test_password_fifo_reload);
	T_RUN(test_print_roundtrip);
	T_RUN(test_reload_starts_fresh);
	T_RUN(test_ca_file_checked_for_https);
	unlink(cap_path);
	unlink(ca_path);
	rmdir(tmpdir);
	return T_DONE();
}
