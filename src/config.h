/* d42pcap.json: the original's four sections (device42, common, pcap,
 * capture) plus our documented extensions (docs/CONFIG.md). Keys match
 * case-insensitively; lists are JSON arrays or comma-separated strings. */
#ifndef D42_CONFIG_H
#define D42_CONFIG_H

#include <stdint.h>
#include <stdio.h>

#define CFG_MAX_FILE    (256 * 1024)	/* bytes of config file */
#define CFG_MAX_TOKENS  4096
#define CFG_MAX_DEPTH   8
#define CFG_MAX_LIST    256		/* entries in one port or IP list */
#define CFG_MAX_STR     256		/* host, user, password, names */
#define CFG_MAX_PATH    1024
#define CFG_SPOOL_SUBDIR "spool"	/* default spool: beside the settings file */
#define CFG_DEF_TIMEOUT 30		/* device42.timeout, seconds */
#define CFG_TIMEOUT_MIN 1
#define CFG_TIMEOUT_MAX 3600
/* sniff-timeout: a bare number is nanoseconds (the original's unit) and is
 * raised to at least this, so the original's default "2" means 1 ms. */
#define CFG_MIN_SNIFF_TIMEOUT_NS 1000000ull

struct cfg_net {
	uint8_t family;		/* 4 or 6 */
	uint8_t prefix;		/* 0..32 or 0..128 */
	uint8_t addr[16];	/* host bits beyond prefix are zero */
};

struct cfg_ports {
	uint16_t n;
	uint16_t port[CFG_MAX_LIST];
};

struct cfg_nets {
	uint16_t n;
	struct cfg_net net[CFG_MAX_LIST];
};

struct config {
	/* device42 */
	char host[CFG_MAX_STR];		/* base URL; "" = print locally */
	char user[CFG_MAX_STR];
	char password[CFG_MAX_STR];	/* never printed or logged */
	char password_file[CFG_MAX_PATH];	/* ext */
	char ca_file[CFG_MAX_PATH];		/* ext */
	char tls_fingerprint[CFG_MAX_STR];	/* ext: SHA-256 hex */
	int verify_tls;				/* ext, default 1 */
	char proxy[CFG_MAX_STR];		/* ext: http://host:port */
	char upload_mode[16];			/* ext: "api" or "sample" */
	char sample_path[CFG_MAX_STR];		/* ext */
	uint32_t timeout;			/* ext: seconds per connect/handshake/read */

	/* common */
	uint32_t interval;			/* seconds, default 60 */
	char logs_dir[CFG_MAX_PATH];
	uint64_t log_max_bytes;			/* ext: rotate d42pcap.log beyond */
	uint32_t log_max_files;			/* ext: rotated files kept */
	int syslog;				/* ext: also log to syslog */
	char output[CFG_MAX_PATH];		/* ext: "" or "-" = stdout */
	uint64_t output_max_bytes;		/* ext: a file moves to .1 beyond; 0 never */
	uint32_t max_flows;			/* ext, default 65536 */
	uint32_t max_listeners;			/* ext, default 16384 */
	uint32_t listener_ttl;			/* ext, seconds, default 86400 */
	char spool_dir[CFG_MAX_PATH];		/* ext */
	uint64_t spool_max_bytes;		/* ext */
	uint32_t spool_max_files;		/* ext */
	char user_name[CFG_MAX_STR];		/* ext: drop privileges to */
	int chroot;				/* ext: chroot to the spool directory */
	int pretty;				/* ext: indent the report */

	/* pcap */
	char device[CFG_MAX_STR];
	struct cfg_ports inc_src_tcp_ports, inc_dst_tcp_ports;
	struct cfg_ports inc_src_udp_ports, inc_dst_udp_ports;
	struct cfg_nets inc_src_tcp_ips, inc_dst_tcp_ips;
	struct cfg_nets inc_src_udp_ips, inc_dst_udp_ips;
	int ignore_tcp, ignore_udp;
	int promisc;				/* default 1 */
	uint64_t sniff_timeout_ns;		/* bare number = ns, >= 1 ms */
	uint32_t snap_len;			/* default 1600 */
	uint32_t buffer_size;			/* ext: bytes, default 2 MiB */
	uint32_t kernel_filter_max;		/* ext: list entries, default 16 */

	/* capture */
	int live_entries, live_ok, live_nok, print_data;
	struct cfg_nets ignore_ips;
	struct cfg_ports ignore_ports;
	char pass_to[CFG_MAX_STR];		/* reserved: accepted, unused */
	char default_protocol[16];		/* reserved: accepted, unused */
	int only_stats;				/* report statistics only */
	int report_any_ip, report_src_ip, report_dst_ip;	/* reserved */
	int unprocessed_packets;		/* log undecoded packets */

	/* bookkeeping */
	char source_path[CFG_MAX_PATH];		/* file it was loaded from */
	int password_unread;		/* config_reload_file(): password-file unreadable */
	int world_readable_password;	/* group/other can read the config
					   file and it holds Password */
};

struct cfg_error {
	char path[128];		/* key path, e.g. pcap.include-source-tcp-ports[2] */
	unsigned line, col;	/* 1-based; 0 if not tied to a position */
	char msg[256];		/* what is wrong, naming the value */
};

void config_defaults(struct config *c);
/* Start from config_defaults(), parse, validate, fill an empty Password from
 * password-file or $D42PCAP_PASSWORD. Unknown keys are logged as warnings.
 * 0, or -1 with err set and *c half-filled: reload (SIGHUP) into a scratch
 * struct. Not reentrant (static file and token buffers); no allocation. */
int config_load_buf(struct config *c, const char *buf, size_t len, struct cfg_error *err);
int config_load_file(struct config *c, const char *path, struct cfg_error *err);
/* The same for SIGHUP: a password-file that cannot be opened (privileges
 * dropped) is warned about and sets password_unread instead of failing. */
int config_reload_file(struct config *c, const char *path, struct cfg_error *err);
/* "FILE:LINE:COL: PATH: MSG" into out (no LINE:COL if line is 0, no PATH
 * if empty). Never contains the password. */
void config_format_error(const struct cfg_error *err, const char *file, char *out, size_t outsz);
/* The effective configuration as JSON, the password masked as "********". */
int config_print(FILE *f, const struct config *c);
/* Whether two names are one directory: the same inode when both exist,
 * else the same name once "//", "./" and trailing slashes are dropped. */
int config_same_dir(const char *a, const char *b);
/* The spool directory: common.spool-dir, else "spool" beside the
 * settings file. */
void config_spool_path(const struct config *c, const char *settings_file, char *dir,
		       size_t sz);

/* "10.0.0.0/8", "2001:db8::/32", "192.0.2.1" (strict; host bits beyond the
 * prefix are cleared). 0 or -1. */
int config_parse_net(const char *s, struct cfg_net *out);
/* 1 if addr (family 4 or 6: 4 or 16 bytes) lies in n, else 0. */
int config_net_contains(const struct cfg_net *n, int family, const uint8_t *addr);

#endif
