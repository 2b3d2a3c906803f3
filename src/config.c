/* Configuration loader for d42pcap.json (keys documented in docs/CONFIG.md).
 *
 * The file is read into static storage and tokenized by json.c; one table
 * describes every key (section, spelling, type, field, range) and drives
 * both parsing and config_print(). The first error stops the load and is
 * reported with the key path and the line:col of the offending value.
 * Static buffers make this module non-reentrant; it runs at start-up and on
 * SIGHUP from the main loop only. The password never enters a message. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addr.h"
#include "cur.h"
#include "json.h"
#include "log.h"
#include "url.h"

/* ---- defaults ---- */
#define CFG_DEF_INTERVAL        60
#define CFG_DEF_SNAP_LEN        1600
/* The original's default, "2" nanoseconds, would be our 1 ms minimum; but a
 * 1 ms block timeout makes the kernel hand over ring blocks mostly empty, so
 * the ring holds a fraction of the traffic it could and drops under bursts
 * that tcpdump's 1 s rides out (tests/bench/live.sh). 100 ms keeps interval
 * ends and stops prompt. */
#define CFG_DEF_SNIFF_TIMEOUT   (100 * NS_PER_MS)
#define CFG_DEF_MAX_FLOWS       65536
#define CFG_DEF_MAX_LISTENERS   16384
#define CFG_DEF_LISTENER_TTL    86400
#define CFG_DEF_BUFFER_SIZE     (2u * 1024 * 1024)
/* List entries compiled into the kernel filter, at most: 16 compile in
 * milliseconds and under 1 MB; 256 ports took 15 s and 240 MB (libpcap
 * 1.10, x86-64). Longer lists are matched after decoding. */
#define CFG_DEF_KERNEL_FILTER   16
#define CFG_DEF_SPOOL_BYTES     (64ull * 1024 * 1024)
#define CFG_DEF_SPOOL_FILES     1024
#define CFG_DEF_LOG_BYTES       (10ull * 1024 * 1024)
#define CFG_DEF_LOG_FILES       5
#define CFG_DEF_OUTPUT_BYTES    (10ull * 1024 * 1024)
#define CFG_DEF_UPLOAD_MODE     "api"
#define CFG_DEF_SAMPLE_PATH     "/api/d42pcap/sample"	/* ours, not Device42's */

/* ---- accepted ranges ---- */
#define CFG_INTERVAL_MIN   1
#define CFG_INTERVAL_MAX   86400
/* 64 bytes is the smallest Ethernet frame; below it not even Ethernet +
 * VLAN + IPv4 + TCP headers (58 bytes) fit, so nothing would decode. */
#define CFG_SNAP_MIN       64
/* Ethernet, two tags, IPv6, a hop-by-hop header and TCP up to its flags
 * (14 + 8 + 40 + 8 + 14 = 84), rounded up: below it, decoding fails on
 * ordinary traffic (IPv6 TCP needs 68 bytes even untagged). */
#define CFG_SNAP_HEADERS   96
#define CFG_SNAP_MAX       262144	/* libpcap's MAXIMUM_SNAPLEN */
#define CFG_TABLE_MIN      1
#define CFG_TABLE_MAX      16777216
#define CFG_TTL_MIN        1
#define CFG_TTL_MAX        31536000	/* one year */
#define CFG_BUF_MIN        65536
#define CFG_BUF_MAX        (1024u * 1024 * 1024)
#define CFG_KFILTER_MAX    (10u * CFG_MAX_LIST)	/* all ten lists full */
#define CFG_SPOOL_BYTES_MIN 65536
#define CFG_SPOOL_BYTES_MAX (1ull << 40)
#define CFG_SPOOL_FILES_MIN 1
#define CFG_SPOOL_FILES_MAX 1048576
#define CFG_LOG_BYTES_MIN  4096		/* a few lines */
#define CFG_LOG_BYTES_MAX  (1ull << 40)
#define CFG_LOG_FILES_MIN  1
#define CFG_LOG_FILES_MAX  1000		/* = LOG_MAX_ROTATED */
#define CFG_PORT_MIN       1
#define CFG_PORT_MAX       65535

#define NS_PER_US ((uint64_t)1000)
#define NS_PER_MS ((uint64_t)1000000)
#define NS_PER_S  ((uint64_t)1000000000)
#define NS_PER_MIN (60 * NS_PER_S)
#define CFG_MAX_SNIFF_TIMEOUT_NS (60 * NS_PER_S)

#define FPR_HEX        64	/* SHA-256 as hex digits */
#define FPR_COLON_LEN  (FPR_HEX + FPR_HEX / 2 - 1)	/* "ab:cd:..." */
#define KEY_MAX        128	/* longest key name we look at */
#define PREVIEW_MAX    40	/* bytes of a bad value quoted in a message */
#define SCALAR_MAX     128	/* a number, boolean or list element as text */
#define LIST_TEXT_MAX  16384	/* a comma-separated list string */
#define PATH_MAX_TXT   128	/* = sizeof(cfg_error.path) */
#define NET_TEXT_MAX   (INET6_ADDRSTRLEN + 5)	/* address + "/128" */
#define PRINT_BUF      4096
#define PW_MASK        "********"
#define WORLD_READ     (S_IRGRP | S_IROTH)
#define UTF8_BOM       "\xEF\xBB\xBF"
#define UTF8_BOM_LEN   3
#define NO_POS         SIZE_MAX	/* error not tied to a position */

enum sec { SEC_D42, SEC_COMMON, SEC_PCAP, SEC_CAPTURE, SEC_N };
static const char *const sec_names[SEC_N] = {
	"device42", "common", "pcap", "capture"
};

enum kind {
	K_STR, K_SECRET, K_USER, K_URL, K_PROXY, K_FPR, K_MODE, K_URLPATH,
	K_BOOL, K_U32, K_U64, K_DUR, K_PORTS, K_NETS
};

struct key {
	uint8_t sec, kind, ext;	/* ext: ours, not the original's */
	const char *name;	/* canonical spelling, used in paths and output */
	const char *alias;	/* accepted too, or NULL */
	size_t off, size;	/* field in struct config */
	uint64_t min, max;	/* K_U32 / K_U64 */
};

#define FLD(m) offsetof(struct config, m), sizeof(((struct config *)0)->m)
#define ORIG 0
#define EXT 1

static const struct key keys[] = {
	{ SEC_D42, K_URL, ORIG, "Host", NULL, FLD(host), 0, 0 },
	{ SEC_D42, K_USER, ORIG, "User", NULL, FLD(user), 0, 0 },
	{ SEC_D42, K_SECRET, ORIG, "Password", NULL, FLD(password), 0, 0 },
	{ SEC_D42, K_STR, EXT, "password-file", NULL, FLD(password_file), 0, 0 },
	{ SEC_D42, K_STR, EXT, "ca-file", NULL, FLD(ca_file), 0, 0 },
	{ SEC_D42, K_FPR, EXT, "tls-fingerprint", NULL, FLD(tls_fingerprint), 0, 0 },
	{ SEC_D42, K_BOOL, EXT, "verify-tls", NULL, FLD(verify_tls), 0, 0 },
	{ SEC_D42, K_PROXY, EXT, "proxy", "https-proxy", FLD(proxy), 0, 0 },
	{ SEC_D42, K_MODE, EXT, "upload-mode", NULL, FLD(upload_mode), 0, 0 },
	{ SEC_D42, K_URLPATH, EXT, "sample-path", NULL, FLD(sample_path), 0, 0 },
	{ SEC_D42, K_U32, EXT, "timeout", NULL, FLD(timeout),
	  CFG_TIMEOUT_MIN, CFG_TIMEOUT_MAX },

	{ SEC_COMMON, K_U32, ORIG, "Interval", NULL, FLD(interval),
	  CFG_INTERVAL_MIN, CFG_INTERVAL_MAX },
	{ SEC_COMMON, K_STR, ORIG, "logs-dir", NULL, FLD(logs_dir), 0, 0 },
	{ SEC_COMMON, K_U64, EXT, "log-max-bytes", NULL, FLD(log_max_bytes),
	  CFG_LOG_BYTES_MIN, CFG_LOG_BYTES_MAX },
	{ SEC_COMMON, K_U32, EXT, "log-max-files", NULL, FLD(log_max_files),
	  CFG_LOG_FILES_MIN, CFG_LOG_FILES_MAX },
	{ SEC_COMMON, K_BOOL, EXT, "syslog", NULL, FLD(syslog), 0, 0 },
	{ SEC_COMMON, K_STR, EXT, "output", NULL, FLD(output), 0, 0 },
	{ SEC_COMMON, K_U64, EXT, "output-max-bytes", NULL, FLD(output_max_bytes),
	  0, CFG_LOG_BYTES_MAX },
	{ SEC_COMMON, K_U32, EXT, "max-flows", NULL, FLD(max_flows),
	  CFG_TABLE_MIN, CFG_TABLE_MAX },
	{ SEC_COMMON, K_U32, EXT, "max-listeners", NULL, FLD(max_listeners),
	  CFG_TABLE_MIN, CFG_TABLE_MAX },
	{ SEC_COMMON, K_U32, EXT, "listener-ttl", NULL, FLD(listener_ttl),
	  CFG_TTL_MIN, CFG_TTL_MAX },
	{ SEC_COMMON, K_STR, EXT, "spool-dir", NULL, FLD(spool_dir), 0, 0 },
	{ SEC_COMMON, K_U64, EXT, "spool-max-bytes", NULL, FLD(spool_max_bytes),
	  CFG_SPOOL_BYTES_MIN, CFG_SPOOL_BYTES_MAX },
	{ SEC_COMMON, K_U32, EXT, "spool-max-files", NULL, FLD(spool_max_files),
	  CFG_SPOOL_FILES_MIN, CFG_SPOOL_FILES_MAX },
	{ SEC_COMMON, K_STR, EXT, "user", NULL, FLD(user_name), 0, 0 },
	{ SEC_COMMON, K_BOOL, EXT, "chroot", NULL, FLD(chroot), 0, 0 },
	{ SEC_COMMON, K_BOOL, EXT, "pretty", NULL, FLD(pretty), 0, 0 },

	{ SEC_PCAP, K_STR, ORIG, "Device", NULL, FLD(device), 0, 0 },
	/* The original spells ports "destination" and IPs "dest"; the other
	 * spelling is accepted as an alias because it is an easy slip. */
	{ SEC_PCAP, K_PORTS, ORIG, "include-source-tcp-ports", NULL,
	  FLD(inc_src_tcp_ports), 0, 0 },
	{ SEC_PCAP, K_PORTS, ORIG, "include-destination-tcp-ports",
	  "include-dest-tcp-ports", FLD(inc_dst_tcp_ports), 0, 0 },
	{ SEC_PCAP, K_PORTS, ORIG, "include-source-udp-ports", NULL,
	  FLD(inc_src_udp_ports), 0, 0 },
	{ SEC_PCAP, K_PORTS, ORIG, "include-destination-udp-ports",
	  "include-dest-udp-ports", FLD(inc_dst_udp_ports), 0, 0 },
	{ SEC_PCAP, K_NETS, ORIG, "include-source-tcp-ips", NULL,
	  FLD(inc_src_tcp_ips), 0, 0 },
	{ SEC_PCAP, K_NETS, ORIG, "include-dest-tcp-ips",
	  "include-destination-tcp-ips", FLD(inc_dst_tcp_ips), 0, 0 },
	{ SEC_PCAP, K_NETS, ORIG, "include-source-udp-ips", NULL,
	  FLD(inc_src_udp_ips), 0, 0 },
	{ SEC_PCAP, K_NETS, ORIG, "include-dest-udp-ips",
	  "include-destination-udp-ips", FLD(inc_dst_udp_ips), 0, 0 },
	{ SEC_PCAP, K_BOOL, ORIG, "ignore-tcp", NULL, FLD(ignore_tcp), 0, 0 },
	{ SEC_PCAP, K_BOOL, ORIG, "ignore-udp", NULL, FLD(ignore_udp), 0, 0 },
	{ SEC_PCAP, K_BOOL, ORIG, "promiscuous-mode", NULL, FLD(promisc), 0, 0 },
	{ SEC_PCAP, K_DUR, ORIG, "sniff-timeout", NULL, FLD(sniff_timeout_ns), 0, 0 },
	{ SEC_PCAP, K_U32, ORIG, "snap-length", NULL, FLD(snap_len),
	  CFG_SNAP_MIN, CFG_SNAP_MAX },
	{ SEC_PCAP, K_U32, EXT, "buffer-size", NULL, FLD(buffer_size),
	  CFG_BUF_MIN, CFG_BUF_MAX },
	{ SEC_PCAP, K_U32, EXT, "kernel-filter-max", NULL, FLD(kernel_filter_max),
	  0, CFG_KFILTER_MAX },

	{ SEC_CAPTURE, K_BOOL, ORIG, "live-entries", NULL, FLD(live_entries), 0, 0 },
	{ SEC_CAPTURE, K_BOOL, ORIG, "live-entries-ok", NULL, FLD(live_ok), 0, 0 },
	{ SEC_CAPTURE, K_BOOL, ORIG, "live-entries-nok", NULL, FLD(live_nok), 0, 0 },
	{ SEC_CAPTURE, K_BOOL, ORIG, "print-data", NULL, FLD(print_data), 0, 0 },
	{ SEC_CAPTURE, K_NETS, ORIG, "ignore-ips", NULL, FLD(ignore_ips), 0, 0 },
	{ SEC_CAPTURE, K_PORTS, ORIG, "ignore-ports", NULL, FLD(ignore_ports), 0, 0 },
	{ SEC_CAPTURE, K_STR, ORIG, "pass-to", NULL, FLD(pass_to), 0, 0 },
	{ SEC_CAPTURE, K_STR, ORIG, "default-protocol", NULL,
	  FLD(default_protocol), 0, 0 },
	{ SEC_CAPTURE, K_BOOL, ORIG, "only-stats", NULL, FLD(only_stats), 0, 0 },
	{ SEC_CAPTURE, K_BOOL, ORIG, "report-any-ip", NULL, FLD(report_any_ip), 0, 0 },
	{ SEC_CAPTURE, K_BOOL, ORIG, "report-src-ip", NULL, FLD(report_src_ip), 0, 0 },
	{ SEC_CAPTURE, K_BOOL, ORIG, "report-dst-ip", NULL, FLD(report_dst_ip), 0, 0 },
	{ SEC_CAPTURE, K_BOOL, ORIG, "unprocessed-packets", NULL,
	  FLD(unprocessed_packets), 0, 0 },
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

/* One load in progress. */
struct ctx {
	struct config *c;
	const char *buf;
	size_t len;
	const char *name;		/* file name for warnings */
	struct cfg_error *err;
	const struct json_tok *t;
	unsigned nmasked;		/* entries whose host bits were cleared */
	int reload;			/* SIGHUP: see config_reload_file() */
	uint8_t seen[NKEYS];
	size_t val_off[NKEYS];		/* where each key's value starts */
};

/* Static so that no allocation happens and the stack stays small. */
static struct json_tok cfg_toks[CFG_MAX_TOKENS];
static char cfg_file_buf[CFG_MAX_FILE + 1];
static char cfg_list_buf[LIST_TEXT_MAX + 1];

/* ---- small helpers ---- */

static int lower(int ch)
{
	return ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch;
}

/* ASCII case-insensitive equality, independent of the locale. */
static int ci_eq(const char *a, const char *b)
{
	while (*a && lower((unsigned char)*a) == lower((unsigned char)*b))
		a++, b++;
	return *a == '\0' && *b == '\0';
}

static int ci_prefix(const char *s, const char *prefix)
{
	while (*prefix && lower((unsigned char)*s) == lower((unsigned char)*prefix))
		s++, prefix++;
	return *prefix == '\0';
}

static int is_ctrl(unsigned char ch)
{
	return ch < 0x20 || ch == 0x7f;
}

static int has_ctrl(const char *s)
{
	for (; *s; s++)
		if (is_ctrl((unsigned char)*s))
			return 1;
	return 0;
}

static int hex_digit(int ch)
{
	return (ch >= '0' && ch <= '9') || (lower(ch) >= 'a' && lower(ch) <= 'f');
}

/* Clears a buffer that held a secret in a way the compiler keeps. */
static void wipe(void *p, size_t n)
{
	volatile unsigned char *v = p;

	while (n--)
		*v++ = 0;
}

/* A printable excerpt of untrusted text for a message: at most PREVIEW_MAX
 * bytes (not cutting a UTF-8 sequence), control bytes shown as '?'. */
static void preview(const char *s, size_t n, char *out, size_t outsz)
{
	size_t i, lim = n;
	int cut = 0;

	if (lim > PREVIEW_MAX) {
		lim = PREVIEW_MAX;
		while (lim > 0 && ((unsigned char)s[lim] & 0xC0) == 0x80)
			lim--;
		cut = 1;
	}
	if (lim + sizeof("...") > outsz)
		lim = outsz - sizeof("...");
	for (i = 0; i < lim; i++)
		out[i] = is_ctrl((unsigned char)s[i]) ? '?' : s[i];
	out[i] = '\0';
	if (cut)
		memcpy(out + i, "...", sizeof("..."));
}

/* A token's raw text, through the bounds-checked cursor: *n = 0 and "" if
 * the token does not lie within the document. */
static const char *tok_raw(const struct ctx *x, const struct json_tok *t, size_t *n)
{
	struct cur c;
	const uint8_t *p;

	cur_init(&c, (const uint8_t *)x->buf, x->len);
	p = t->end >= t->start && cur_skip(&c, t->start) == 0 ?
		cur_getptr(&c, t->end - t->start) : NULL;
	*n = p ? t->end - t->start : 0;
	return p ? (const char *)p : "";
}

static size_t tok_off(const struct json_tok *t)
{
	/* A string's token excludes the quote; point at the quote. */
	return t->type == JSON_STRING && t->start > 0 ? t->start - 1 : t->start;
}

static const char *type_name(uint8_t type)
{
	switch (type) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_NUMBER: return "a number";
	case JSON_TRUE: case JSON_FALSE: return "a boolean";
	default: return "null";
	}
}

/* What a wrong-typed value was, for "expected X, got Y": scalars are shown
 * (quoted) unless the key is secret. */
static void got_text(const struct ctx *x, const struct json_tok *t, int secret,
		     char *out, size_t outsz)
{
	char pv[PREVIEW_MAX + 8];
	const char *raw;
	size_t n;

	if (secret || t->type == JSON_OBJECT || t->type == JSON_ARRAY ||
	    t->type == JSON_NULL) {
		snprintf(out, outsz, "%s", type_name(t->type));
		return;
	}
	raw = tok_raw(x, t, &n);
	preview(raw, n, pv, sizeof(pv));
	if (t->type == JSON_STRING)
		snprintf(out, outsz, "a string (\"%s\")", pv);
	else
		snprintf(out, outsz, "%s", pv);
}

__attribute__((format(printf, 4, 5)))
static int fail(struct ctx *x, const char *path, size_t off, const char *fmt, ...)
{
	struct cfg_error *e = x->err;
	struct json_pos pos;
	va_list ap;

	snprintf(e->path, sizeof(e->path), "%s", path);
	if (off == NO_POS) {
		e->line = e->col = 0;
	} else {
		json_position(x->buf, x->len, off, &pos);
		e->line = pos.line;
		e->col = pos.col;
	}
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return -1;
}

static void key_path(char *out, size_t outsz, const struct key *k)
{
	snprintf(out, outsz, "%s.%s", sec_names[k->sec], k->name);
}

static void elem_path(char *out, size_t outsz, const struct key *k, unsigned i)
{
	snprintf(out, outsz, "%s.%s[%u]", sec_names[k->sec], k->name, i);
}

static void *field(struct config *c, const struct key *k)
{
	return (char *)c + k->off;
}

static const void *cfield(const struct config *c, const struct key *k)
{
	return (const char *)c + k->off;
}

/* ---- numbers ---- */

enum num_rc { NUM_OK, NUM_NEG, NUM_FRAC, NUM_EXP, NUM_BAD, NUM_BIG };

/* Strict unsigned decimal: digits only (no sign, space or base prefix). */
static enum num_rc parse_uint(const char *s, uint64_t *v)
{
	const char *p = s;
	unsigned long long r;
	char *end;

	if (*p == '-')
		return p[1] >= '0' && p[1] <= '9' ? NUM_NEG : NUM_BAD;
	while (*p >= '0' && *p <= '9')
		p++;
	if (p == s)
		return NUM_BAD;
	if (*p == '.')
		return NUM_FRAC;
	if (*p == 'e' || *p == 'E')
		return NUM_EXP;
	if (*p)
		return NUM_BAD;
	errno = 0;
	r = strtoull(s, &end, 10);
	if (errno == ERANGE || *end)
		return NUM_BIG;
	*v = r;
	return NUM_OK;
}

static int num_fail(struct ctx *x, const char *path, size_t off, const char *text,
		    enum num_rc rc, uint64_t min, uint64_t max)
{
	char pv[PREVIEW_MAX + 8];

	preview(text, strlen(text), pv, sizeof(pv));
	switch (rc) {
	case NUM_NEG:
		return fail(x, path, off, "\"%s\" is negative; expected an "
			    "integer %" PRIu64 "-%" PRIu64, pv, min, max);
	case NUM_FRAC:
		return fail(x, path, off, "\"%s\" is not an integer "
			    "(expected %" PRIu64 "-%" PRIu64 ")", pv, min, max);
	case NUM_EXP:
		return fail(x, path, off, "\"%s\" has an exponent; write a plain "
			    "integer (%" PRIu64 "-%" PRIu64 ")", pv, min, max);
	case NUM_BAD:
		return fail(x, path, off, "\"%s\" is not a number (expected an "
			    "integer %" PRIu64 "-%" PRIu64 ")", pv, min, max);
	default:
		return fail(x, path, off, "\"%s\" is out of range "
			    "(%" PRIu64 "-%" PRIu64 ")", pv, min, max);
	}
}

/* Text of a scalar (number or string token) into out. -1 with err set if it
 * is of another type or too long to be meaningful. */
static int scalar_text(struct ctx *x, const struct json_tok *t, const char *path,
		       const char *expected, char *out, size_t outsz)
{
	char got[PREVIEW_MAX + 32];
	size_t n;
	const char *raw = tok_raw(x, t, &n);
	int rc;

	if (t->type == JSON_NUMBER) {
		if (n >= outsz)
			n = outsz - 1;	/* still too long for any valid value */
		memcpy(out, raw, n);
		out[n] = '\0';
		return 0;
	}
	if (t->type != JSON_STRING) {
		got_text(x, t, 0, got, sizeof(got));
		return fail(x, path, tok_off(t), "expected %s, got %s", expected, got);
	}
	rc = json_str_decode(x->buf, t, out, outsz);
	if (rc == JSON_ERR_BUFFER) {
		preview(raw, n, got, sizeof(got));
		return fail(x, path, tok_off(t), "\"%s\" is too long to be %s",
			    got, expected);
	}
	if (rc < 0)
		return fail(x, path, tok_off(t), "invalid string (\\u0000 or a bad escape)");
	return 0;
}

/* ---- IP networks ---- */

/* 0 ok, 1 ok but host bits were cleared, -1 bad address, -2 bad prefix. */
static int parse_net(const char *s, struct cfg_net *out)
{
	char a[NET_TEXT_MAX + 1];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	unsigned bits, prefix, i;
	int masked = 0;

	if (alen == 0 || alen >= sizeof(a))
		return -1;
	memcpy(a, s, alen);
	a[alen] = '\0';
	memset(out, 0, sizeof(*out));
	if (strchr(a, ':')) {
		if (inet_pton(AF_INET6, a, out->addr) != 1)
			return -1;
		out->family = 6;
		bits = 128;
	} else {
		if (inet_pton(AF_INET, a, out->addr) != 1)
			return -1;
		out->family = 4;
		bits = 32;
	}
	prefix = bits;
	if (slash) {
		const char *p = slash + 1;

		/* 1-3 digits, no sign, no leading zero ("0" alone is fine). */
		if (*p < '0' || *p > '9' || (p[0] == '0' && p[1] != '\0'))
			return -2;
		for (prefix = 0; *p >= '0' && *p <= '9' && prefix <= bits; p++)
			prefix = prefix * 10 + (unsigned)(*p - '0');
		if (*p || prefix > bits)
			return -2;
	}
	out->prefix = (uint8_t)prefix;
	for (i = 0; i < bits / 8; i++) {
		unsigned keep = prefix >= (i + 1) * 8 ? 8 :
				prefix > i * 8 ? prefix - i * 8 : 0;
		uint8_t mask = (uint8_t)(0xFF00u >> keep);

		if (out->addr[i] & (uint8_t)~mask) {
			out->addr[i] &= mask;
			masked = 1;
		}
	}
	return masked;
}

int config_parse_net(const char *s, struct cfg_net *out)
{
	return s && out && parse_net(s, out) >= 0 ? 0 : -1;
}

int config_net_contains(const struct cfg_net *n, int family, const uint8_t *addr)
{
	unsigned full, rest;

	if (!n || !addr || n->family != family)
		return 0;
	full = n->prefix / 8u;
	rest = n->prefix % 8u;
	if (memcmp(n->addr, addr, full) != 0)
		return 0;
	if (rest && ((addr[full] ^ n->addr[full]) & (uint8_t)(0xFF00u >> rest)))
		return 0;
	return 1;
}

static void net_format(const struct cfg_net *n, char *out, size_t outsz)
{
	char a[ADDR_STR_MAX];

	snprintf(out, outsz, "%s/%u", addr_fmt(n->family == 6 ? 6 : 4, n->addr, a, sizeof(a)),
		 n->prefix);
}

/* ---- values ---- */

static int set_bool(struct ctx *x, const struct key *k, const struct json_tok *t,
		    const char *path)
{
	char s[SCALAR_MAX], pv[PREVIEW_MAX + 8];
	int *f = field(x->c, k);

	if (t->type == JSON_TRUE || t->type == JSON_FALSE) {
		*f = t->type == JSON_TRUE;
		return 0;
	}
	if (scalar_text(x, t, path, "true or false", s, sizeof(s)) < 0)
		return -1;
	if (ci_eq(s, "true") || ci_eq(s, "false")) {
		*f = ci_eq(s, "true");
		return 0;
	}
	preview(s, strlen(s), pv, sizeof(pv));
	return fail(x, path, tok_off(t), "\"%s\" is not a boolean (true or false)", pv);
}

static int set_uint(struct ctx *x, const struct key *k, const struct json_tok *t,
		    const char *path)
{
	char s[SCALAR_MAX];
	uint64_t v = 0;
	enum num_rc rc;

	if (scalar_text(x, t, path, "an integer", s, sizeof(s)) < 0)
		return -1;
	rc = parse_uint(s, &v);
	if (rc == NUM_OK && (v < k->min || v > k->max))
		rc = NUM_BIG;
	if (rc != NUM_OK)
		return num_fail(x, path, tok_off(t), s, rc, k->min, k->max);
	if (k->kind == K_U32)
		*(uint32_t *)field(x->c, k) = (uint32_t)v;
	else
		*(uint64_t *)field(x->c, k) = v;
	return 0;
}

struct dur_unit {
	const char *suffix;
	uint64_t ns;
};

static const struct dur_unit dur_units[] = {
	{ "", 1 }, { "ns", 1 }, { "us", NS_PER_US }, { "\xC2\xB5s", NS_PER_US },
	{ "ms", NS_PER_MS }, { "s", NS_PER_S }, { "m", NS_PER_MIN },
};

/* A bare number is nanoseconds (the original's unit); strings may carry a
 * unit. Anything under CFG_MIN_SNIFF_TIMEOUT_NS is raised to it, because the
 * original's documented default of "2" cannot mean 2 ns. */
static int set_duration(struct ctx *x, const struct key *k, const struct json_tok *t,
			const char *path)
{
	char s[SCALAR_MAX], num[SCALAR_MAX], pv[PREVIEW_MAX + 8];
	const char *unit;
	uint64_t v = 0, mult = 0;
	size_t i, nd;
	enum num_rc rc;

	if (scalar_text(x, t, path, "a duration", s, sizeof(s)) < 0)
		return -1;
	preview(s, strlen(s), pv, sizeof(pv));
	nd = strspn(s, "0123456789");
	unit = s + nd;
	for (i = 0; i < sizeof(dur_units) / sizeof(dur_units[0]); i++)
		if (strcmp(unit, dur_units[i].suffix) == 0)
			mult = dur_units[i].ns;
	if (t->type == JSON_NUMBER && *unit)
		mult = 0;	/* 2e6 or 1.5: not an integer */
	if (nd == 0 || mult == 0) {
		if (s[0] == '-')
			return fail(x, path, tok_off(t), "\"%s\" is negative", pv);
		if (nd > 0 && *unit == '.')
			return fail(x, path, tok_off(t), "\"%s\" is not a whole "
				    "number; use a smaller unit (1.5ms = 1500us)", pv);
		return fail(x, path, tok_off(t), "\"%s\" is not a duration (an "
			    "integer with unit ns, us, ms, s or m; a bare number "
			    "is nanoseconds)", pv);
	}
	memcpy(num, s, nd);
	num[nd] = '\0';
	rc = parse_uint(num, &v);
	if (rc != NUM_OK || v > CFG_MAX_SNIFF_TIMEOUT_NS / mult)
		return fail(x, path, tok_off(t), "\"%s\" is out of range (at most "
			    "%" PRIu64 "s)", pv, CFG_MAX_SNIFF_TIMEOUT_NS / NS_PER_S);
	v *= mult;
	if (v < CFG_MIN_SNIFF_TIMEOUT_NS) {
		log_debug("%s: %s %s raised to the %llu ns minimum", x->name, path,
			  pv, CFG_MIN_SNIFF_TIMEOUT_NS);
		v = CFG_MIN_SNIFF_TIMEOUT_NS;
	}
	*(uint64_t *)field(x->c, k) = v;
	return 0;
}

/* The checks the HTTP client makes at start-up, made here too, so that
 * -check-config and SIGHUP refuse what start-up would. 0 or an enum
 * url_err. Unlike url_parse(), the scheme must be written out. */
static int check_url(const char *s, int proxy)
{
	struct url u;
	int r = url_parse(s, &u);

	if (r == 0 && !ci_prefix(s, "http://") && (proxy || !ci_prefix(s, "https://")))
		r = URL_ERR_SCHEME;
	if (r == 0 && proxy && u.path[0])
		r = URL_ERR_PATH;
	return r;
}

/* 64 hex digits, or 32 colon-separated pairs; stored lowercase, no colons. */
static int norm_fingerprint(const char *s, char *out)
{
	size_t n = strlen(s), i, o = 0;
	int colons = strchr(s, ':') != NULL;

	if (n != (colons ? FPR_COLON_LEN : FPR_HEX))
		return -1;
	for (i = 0; i < n; i++) {
		if (colons && i % 3 == 2) {
			if (s[i] != ':')
				return -1;
			continue;
		}
		if (!hex_digit((unsigned char)s[i]))
			return -1;
		out[o++] = (char)lower((unsigned char)s[i]);
	}
	out[o] = '\0';
	return 0;
}

static int set_string(struct ctx *x, const struct key *k, const struct json_tok *t,
		      const char *path)
{
	char got[PREVIEW_MAX + 32], pv[PREVIEW_MAX + 8];
	char *f = field(x->c, k);
	int secret = k->kind == K_SECRET;
	const char *raw, *what;
	size_t i, n;
	int rc;

	if (t->type != JSON_STRING) {
		got_text(x, t, secret, got, sizeof(got));
		return fail(x, path, tok_off(t), "expected a string, got %s", got);
	}
	/* Fields are compared whole on a reload (settings.c): only the
	 * value's bytes may decide, none left behind its NUL. */
	memset(f, 0, k->size);
	rc = json_str_decode(x->buf, t, f, k->size);
	if (rc == JSON_ERR_BUFFER) {
		f[0] = '\0';
		if (secret)
			return fail(x, path, tok_off(t), "the value is longer "
				    "than %zu bytes", k->size - 1);
		raw = tok_raw(x, t, &n);
		preview(raw, n, pv, sizeof(pv));
		if (k->kind == K_MODE)
			return fail(x, path, tok_off(t), "\"%s\" is not an upload "
				    "mode (api or sample)", pv);
		return fail(x, path, tok_off(t), "\"%s\" is longer than %zu bytes",
			    pv, k->size - 1);
	}
	if (rc < 0)
		return fail(x, path, tok_off(t), "invalid string (\\u0000 or a bad escape)");
	if (secret)
		return 0;	/* any bytes: it only ever goes through base64 */
	preview(f, strlen(f), pv, sizeof(pv));
	if (has_ctrl(f))
		return fail(x, path, tok_off(t), "\"%s\" contains a control character", pv);
	switch (k->kind) {
	case K_USER:
		/* RFC 7617: HTTP Basic cannot carry a user-id with a colon. */
		if (strchr(f, ':'))
			return fail(x, path, tok_off(t), "\"%s\" contains ':', which "
				    "HTTP Basic authentication cannot carry", pv);
		break;
	case K_URL:
	case K_PROXY:
		rc = f[0] ? check_url(f, k->kind == K_PROXY) : 0;
		what = k->kind == K_URL ? "http:// or https://" : "http://host:port proxy";
		/* Never echo a password: the message goes to the log. */
		if (rc == URL_ERR_USERINFO)
			return fail(x, path, tok_off(t), "user:password@ in the URL is not "
				    "accepted%s", k->kind == K_URL ? " (see User and Password)" : "");
		/* The original's manual says to put in the appliance's "IP". */
		if (rc == URL_ERR_SCHEME && k->kind == K_URL && !strstr(f, "://"))
			return fail(x, path, tok_off(t), "\"%s\" is not an %s URL (write "
				    "https://%s)", pv, what, pv);
		if (rc == URL_ERR_SCHEME || (rc == URL_ERR_PATH && k->kind == K_PROXY))
			return fail(x, path, tok_off(t), "\"%s\" is not an %s URL", pv, what);
		if (rc < 0)
			return fail(x, path, tok_off(t), "\"%s\" is not an %s URL: %s", pv, what,
				    url_strerror(rc));
		break;
	case K_FPR:
		if (f[0] && norm_fingerprint(f, f) < 0)
			return fail(x, path, tok_off(t), "\"%s\" is not a SHA-256 "
				    "fingerprint (64 hex digits, colons allowed)", pv);
		/* Shortened in place: what the colons held must not stay
		 * behind the NUL, or a reload comparing fields whole would
		 * see the same fingerprint as changed. */
		memset(f + strlen(f), 0, k->size - strlen(f));
		break;
	case K_MODE:
		for (i = 0; f[i]; i++)
			f[i] = (char)lower((unsigned char)f[i]);
		if (strcmp(f, "api") != 0 && strcmp(f, "sample") != 0)
			return fail(x, path, tok_off(t), "\"%s\" is not an upload "
				    "mode (api or sample)", pv);
		break;
	case K_URLPATH:
		if (f[0] != '/' || strchr(f, ' '))
			return fail(x, path, tok_off(t), "\"%s\" is not a URL path "
				    "(must start with '/', no spaces)", pv);
		break;
	default:
		break;
	}
	return 0;
}

/* ---- lists ---- */

static int add_elem(struct ctx *x, const struct key *k, const char *s, unsigned i,
		    size_t off)
{
	char path[PATH_MAX_TXT], pv[PREVIEW_MAX + 8], nb[NET_TEXT_MAX + 8];
	struct cfg_ports *ports = field(x->c, k);
	struct cfg_nets *nets = field(x->c, k);
	uint64_t v = 0;
	int rc;

	elem_path(path, sizeof(path), k, i);
	preview(s, strlen(s), pv, sizeof(pv));
	if (i >= CFG_MAX_LIST)
		return fail(x, path, off, "too many entries (at most %d)", CFG_MAX_LIST);
	if (k->kind == K_PORTS) {
		if (parse_uint(s, &v) != NUM_OK || v < CFG_PORT_MIN || v > CFG_PORT_MAX)
			return fail(x, path, off, "\"%s\" is not a port (%d-%d)",
				    pv, CFG_PORT_MIN, CFG_PORT_MAX);
		ports->port[ports->n++] = (uint16_t)v;
		return 0;
	}
	rc = parse_net(s, &nets->net[nets->n]);
	if (rc == -1)
		return fail(x, path, off, "\"%s\" is not an IP address or CIDR "
			    "network", pv);
	if (rc == -2)
		return fail(x, path, off, "\"%s\" has a bad prefix length (0-%d)",
			    pv, strchr(s, ':') ? 128 : 32);
	if (rc == 1 && x->nmasked++ == 0) {
		struct json_pos pos;

		json_position(x->buf, x->len, off, &pos);
		net_format(&nets->net[nets->n], nb, sizeof(nb));
		log_warn("%s:%u:%u: %s: \"%s\" has host bits set beyond the "
			 "prefix; using %s (warned once)", x->name, pos.line,
			 pos.col, path, pv, nb);
	}
	nets->n++;
	return 0;
}

static int set_list_string(struct ctx *x, const struct key *k,
			   const struct json_tok *t, const char *path)
{
	char elem[SCALAR_MAX], pv[PREVIEW_MAX + 8], ep[PATH_MAX_TXT];
	char *p = cfg_list_buf, *q, *e;
	unsigned i = 0;
	size_t n, off;
	const char *raw = tok_raw(x, t, &n);
	/* Positions of entries are exact only if no escape shifted them. */
	int exact = memchr(raw, '\\', n) == NULL;
	int rc;

	rc = json_str_decode(x->buf, t, cfg_list_buf, sizeof(cfg_list_buf));
	if (rc == JSON_ERR_BUFFER)
		return fail(x, path, tok_off(t), "the list string is longer than "
			    "%d bytes; use an array", LIST_TEXT_MAX);
	if (rc < 0)
		return fail(x, path, tok_off(t), "invalid string (\\u0000 or a bad escape)");
	if (cfg_list_buf[strspn(cfg_list_buf, " \t")] == '\0')
		return 0;	/* "" or blanks: the empty list */
	for (;;) {
		q = strchr(p, ',');
		e = q ? q : p + strlen(p);
		while (p < e && (*p == ' ' || *p == '\t'))
			p++;
		while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		n = (size_t)(e - p);
		off = exact ? t->start + (size_t)(p - cfg_list_buf) : tok_off(t);
		if (n == 0 || n >= sizeof(elem)) {
			elem_path(ep, sizeof(ep), k, i);
			if (n == 0)
				return fail(x, ep, off, "empty entry in the "
					    "comma-separated list");
			preview(p, n, pv, sizeof(pv));
			return fail(x, ep, off, "\"%s\" is too long", pv);
		}
		memcpy(elem, p, n);
		elem[n] = '\0';
		if (add_elem(x, k, elem, i, off) < 0)
			return -1;
		i++;
		if (!q)
			return 0;
		p = q + 1;
	}
}

static int set_list(struct ctx *x, const struct key *k, unsigned ti, const char *path)
{
	const struct json_tok *t = &x->t[ti];
	const char *what = k->kind == K_PORTS ? "a port" : "an IP address string";
	char elem[SCALAR_MAX], got[PREVIEW_MAX + 32], ep[PATH_MAX_TXT];
	struct cfg_ports *ports = field(x->c, k);
	struct cfg_nets *nets = field(x->c, k);
	unsigned i, j;

	ports->n = 0;	/* a repeated key replaces the list */
	nets->n = 0;
	if (t->type == JSON_STRING)
		return set_list_string(x, k, t, path);
	if (t->type == JSON_NUMBER && k->kind == K_PORTS) {
		if (scalar_text(x, t, path, what, elem, sizeof(elem)) < 0)
			return -1;
		return add_elem(x, k, elem, 0, tok_off(t));
	}
	if (t->type != JSON_ARRAY) {
		got_text(x, t, 0, got, sizeof(got));
		return fail(x, path, tok_off(t), "expected a list (an array or a "
			    "comma-separated string), got %s", got);
	}
	for (i = 0, j = ti + 1; i < t->size; i++, j = x->t[j].next) {
		const struct json_tok *el = &x->t[j];

		elem_path(ep, sizeof(ep), k, i);
		if (el->type != JSON_STRING &&
		    !(el->type == JSON_NUMBER && k->kind == K_PORTS)) {
			got_text(x, el, 0, got, sizeof(got));
			return fail(x, ep, tok_off(el), "expected %s, got %s", what, got);
		}
		if (scalar_text(x, el, ep, what, elem, sizeof(elem)) < 0)
			return -1;
		if (add_elem(x, k, elem, i, tok_off(el)) < 0)
			return -1;
	}
	return 0;
}

/* ---- document walk ---- */

static int set_value(struct ctx *x, const struct key *k, unsigned vi)
{
	const struct json_tok *t = &x->t[vi];
	char path[PATH_MAX_TXT];

	key_path(path, sizeof(path), k);
	/* Nothing of an earlier value (a duplicate key) lingers past the new
	 * one's end: a reload compares the settings byte for byte. */
	memset(field(x->c, k), 0, k->size);
	switch (k->kind) {
	case K_BOOL: return set_bool(x, k, t, path);
	case K_U32: case K_U64: return set_uint(x, k, t, path);
	case K_DUR: return set_duration(x, k, t, path);
	case K_PORTS: case K_NETS: return set_list(x, k, vi, path);
	default: return set_string(x, k, t, path);
	}
}

/* Decodes an object key for matching; an undecodable or huge key gets a
 * raw excerpt instead, which then matches nothing. */
static void key_text(const struct ctx *x, const struct json_tok *kt, char *out,
		     size_t outsz)
{
	char pv[PREVIEW_MAX + 8];
	const char *raw;
	size_t n;

	if (json_str_decode(x->buf, kt, out, outsz) < 0 || has_ctrl(out)) {
		raw = tok_raw(x, kt, &n);
		preview(raw, n, pv, sizeof(pv));
		snprintf(out, outsz, "%s", pv);
	}
}

static void warn_at(const struct ctx *x, size_t off, const char *what,
		    const char *path, const char *tail)
{
	struct json_pos pos;

	json_position(x->buf, x->len, off, &pos);
	log_warn("%s:%u:%u: %s %s %s", x->name, pos.line, pos.col, what, path, tail);
}

static int do_section(struct ctx *x, enum sec s, unsigned si)
{
	const struct json_tok *st = &x->t[si];
	char name[KEY_MAX], path[KEY_MAX + PATH_MAX_TXT];
	unsigned m, j, ki;

	for (m = 0, j = si + 1; m < st->size; m++, j = x->t[j + 1].next) {
		const struct json_tok *kt = &x->t[j], *vt = &x->t[j + 1];
		const struct key *k = NULL;

		key_text(x, kt, name, sizeof(name));
		for (ki = 0; ki < NKEYS && !k; ki++)
			if (keys[ki].sec == s && (ci_eq(name, keys[ki].name) ||
			    (keys[ki].alias && ci_eq(name, keys[ki].alias))))
				k = &keys[ki];
		if (!k) {
			snprintf(path, sizeof(path), "%s.%s", sec_names[s], name);
			warn_at(x, tok_off(kt), "unknown key", path, "(ignored)");
			continue;
		}
		ki = (unsigned)(k - keys);
		key_path(path, sizeof(path), k);
		if (x->seen[ki])
			warn_at(x, tok_off(kt), "duplicate key", path, vt->type == JSON_NULL ?
				"(null: the value before stays)" : "(the last one wins)");
		x->seen[ki] = 1;
		if (vt->type == JSON_NULL)
			continue;	/* null: not set, the earlier value stays */
		x->val_off[ki] = tok_off(vt);
		if (set_value(x, k, j + 1) < 0)
			return -1;
	}
	return 0;
}

static const struct key *find_key(enum sec s, const char *name)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if (keys[i].sec == s && strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

/* Reads the first line of password-file into c->password. */
static int read_password_file(struct ctx *x)
{
	const struct key *k = find_key(SEC_D42, "password-file");
	size_t ki = (size_t)(k - keys), got = 0, n;
	char path[PATH_MAX_TXT], pw[CFG_MAX_STR + 2];	/* the longest, "\r\n" */
	const char *file = x->c->password_file, *why = NULL;
	struct stat st;
	ssize_t r;
	char *nl;
	int fd, rc = 0;

	key_path(path, sizeof(path), k);
	/* At a SIGHUP a FIFO (its writer gone since start-up) must not be
	 * waited on: the main loop would stop until another signal. */
	fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY | (x->reload ? O_NONBLOCK : 0));
	if (fd >= 0 && x->reload && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))) {
		close(fd);
		fd = -1;
		why = "not a regular file";
	}
	if (fd < 0 && x->reload) {
		/* After dropping privileges the file (chmod 600, root's) is out of
		 * reach, and the password only counts at start-up anyway. */
		log_warn("%s: cannot read password-file \"%s\" (%s); a change of the "
			 "password needs a restart", x->name, file, why ? why : strerror(errno));
		x->c->password_unread = 1;
		return 0;
	}
	if (fd < 0)
		return fail(x, path, x->val_off[ki], "cannot read \"%s\": %s",
			    file, strerror(errno));
	/* main.c warns about the config file; this one is warned about here. */
	if (fstat(fd, &st) == 0 && (st.st_mode & WORLD_READ))
		log_warn("password-file %s is readable by other users; chmod 600 it",
			 file);
	while (got < sizeof(pw) - 1) {
		r = read(fd, pw + got, sizeof(pw) - 1 - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = fail(x, path, x->val_off[ki], "cannot read \"%s\": %s",
				  file, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		got += (size_t)r;
		if (memchr(pw, '\n', got))
			break;
	}
	pw[got] = '\0';
	nl = memchr(pw, '\n', got);
	n = nl ? (size_t)(nl - pw) : got;
	if (n > 0 && pw[n - 1] == '\r')
		n--;
	/* Without a newline in the buffer the line is longer still. */
	if (n > CFG_MAX_STR - 1) {
		rc = fail(x, path, x->val_off[ki], "the password in \"%s\" is "
			  "longer than %d bytes", file, CFG_MAX_STR - 1);
		goto out;
	}
	/* The password would end at it (a UTF-16 file: "p\0a\0s\0s\0"). */
	if (memchr(pw, '\0', n)) {
		rc = fail(x, path, x->val_off[ki], "the password in \"%s\" contains "
			  "a NUL byte (a UTF-16 file?)", file);
		goto out;
	}
	if (n == 0) {
		rc = fail(x, path, x->val_off[ki], "\"%s\" holds no password on "
			  "its first line", file);
		goto out;
	}
	memcpy(x->c->password, pw, n);
	x->c->password[n] = '\0';
out:
	wipe(pw, sizeof(pw));
	close(fd);
	return rc;
}

/* The CA file is read once, at start-up, by mbedTLS, whose messages for a
 * missing file or a directory ("memory allocation failed") mislead; and
 * -check-config must refuse what start-up would. Plain http never reads it. */
static int check_ca_file(struct ctx *x)
{
	const struct key *k = find_key(SEC_D42, "ca-file");
	size_t ki = (size_t)(k - keys);
	char path[PATH_MAX_TXT];
	struct stat st;
	int fd, rc = 0;

	if (!x->c->host[0] || !x->c->ca_file[0] || x->reload ||
	    ci_prefix(x->c->host, "http://"))
		return 0;
	key_path(path, sizeof(path), k);
	fd = open(x->c->ca_file, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return fail(x, path, x->val_off[ki], "cannot read \"%s\": %s",
			    x->c->ca_file, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		rc = fail(x, path, x->val_off[ki], "\"%s\" is not a regular file",
			  x->c->ca_file);
	close(fd);
	return rc;
}

/* Password-file, then D42PCAP_PASSWORD, fill an empty Password. */
static int fill_password(struct ctx *x)
{
	const char *env;

	if (x->c->password[0]) {
		if (x->c->password_file[0])
			log_warn("%s: device42.Password is set; password-file "
				 "\"%s\" is ignored", x->name, x->c->password_file);
		return 0;
	}
	if (x->c->password_file[0])
		return read_password_file(x);
	env = getenv("D42PCAP_PASSWORD");
	if (!env || !*env)
		return 0;
	if (strlen(env) >= sizeof(x->c->password))
		return fail(x, "device42.Password", NO_POS, "D42PCAP_PASSWORD is "
			    "longer than %zu bytes", sizeof(x->c->password) - 1);
	memcpy(x->c->password, env, strlen(env) + 1);
	return 0;
}

/* Parses buf; *pw_in_file tells whether the document itself carried a
 * password (as opposed to password-file or the environment). */
static int load(struct config *c, const char *buf, size_t len, const char *name,
		struct cfg_error *err, int *pw_in_file, int reload)
{
	struct ctx x;
	struct json_limits lim = { CFG_MAX_FILE, CFG_MAX_DEPTH };
	struct json_pos pos = { 0, 0, 0 };
	char kname[KEY_MAX], got[PREVIEW_MAX + 32];
	uint8_t sec_seen[SEC_N] = { 0 };
	const uint8_t *bom;
	struct cur bc;
	unsigned m, j, s;
	int n;

	config_defaults(c);
	memset(err, 0, sizeof(*err));
	memset(&x, 0, sizeof(x));
	/* Editors on Windows, where the original also runs, like to add a BOM. */
	cur_init(&bc, (const uint8_t *)buf, len);
	bom = cur_peek(&bc, UTF8_BOM_LEN);
	if (bom && memcmp(bom, UTF8_BOM, UTF8_BOM_LEN) == 0)
		buf += UTF8_BOM_LEN, len -= UTF8_BOM_LEN;
	x.c = c;
	x.reload = reload;
	x.buf = buf;
	x.len = len;
	x.name = name;
	x.err = err;
	x.t = cfg_toks;

	n = json_parse(buf, len, &lim, cfg_toks, CFG_MAX_TOKENS, &pos);
	if (n < 0) {
		err->line = pos.line;
		err->col = pos.col;
		if (n == JSON_ERR_SIZE)
			snprintf(err->msg, sizeof(err->msg), "%s (more than %d bytes)",
				 json_strerror(n), CFG_MAX_FILE);
		else if (n == JSON_ERR_TOKENS)
			snprintf(err->msg, sizeof(err->msg), "%s (more than %d)",
				 json_strerror(n), CFG_MAX_TOKENS);
		else if (n == JSON_ERR_DEPTH)
			snprintf(err->msg, sizeof(err->msg), "%s (more than %d levels)",
				 json_strerror(n), CFG_MAX_DEPTH);
		else
			snprintf(err->msg, sizeof(err->msg), "%s", json_strerror(n));
		return -1;
	}
	if (cfg_toks[0].type != JSON_OBJECT) {
		got_text(&x, &cfg_toks[0], 0, got, sizeof(got));
		return fail(&x, "", tok_off(&cfg_toks[0]), "the top level must be an "
			    "object with sections device42, common, pcap and "
			    "capture, got %s", got);
	}
	for (m = 0, j = 1; m < cfg_toks[0].size; m++, j = cfg_toks[j + 1].next) {
		const struct json_tok *vt = &cfg_toks[j + 1];

		key_text(&x, &cfg_toks[j], kname, sizeof(kname));
		for (s = 0; s < SEC_N && !ci_eq(kname, sec_names[s]); s++)
			;
		if (s == SEC_N) {
			warn_at(&x, tok_off(&cfg_toks[j]), "unknown section", kname,
				"(ignored)");
			continue;
		}
		if (vt->type == JSON_NULL)
			continue;
		if (vt->type != JSON_OBJECT) {
			got_text(&x, vt, 0, got, sizeof(got));
			return fail(&x, sec_names[s], tok_off(vt), "expected an "
				    "object, got %s", got);
		}
		if (sec_seen[s])
			warn_at(&x, tok_off(&cfg_toks[j]), "duplicate section",
				sec_names[s], "(its keys are merged, the last wins)");
		sec_seen[s] = 1;
		if (do_section(&x, (enum sec)s, j + 1) < 0)
			return -1;
	}
	*pw_in_file = c->password[0] != '\0';
	if (fill_password(&x) < 0 || check_ca_file(&x) < 0)
		return -1;
	/* The spool moves every file it does not own aside: d42pcap.log in
	 * the same directory would vanish into spool/corrupt/. */
	if (c->spool_dir[0] && c->logs_dir[0] && config_same_dir(c->spool_dir, c->logs_dir))
		return fail(&x, "common.spool-dir", NO_POS, "\"%s\" is also logs-dir; the spool "
			    "needs a directory of its own", c->spool_dir);
	if (c->snap_len < CFG_SNAP_HEADERS)
		log_warn("%s: pcap.snap-length %u cuts headers: IPv6 TCP (68 bytes and more "
			 "with tags or extension headers) will not decode; %u or more is safe",
			 name, c->snap_len, CFG_SNAP_HEADERS);
	if (c->host[0] && (!c->user[0] || (!c->password[0] && !c->password_unread)))
		log_warn("%s: device42.Host is set but User or Password is empty: "
			 "the appliance will refuse the uploads", name);
	return 0;
}

/* ---- public ---- */
/* Name without empty or "." components, "x/.." pairs or trailing slashes,
 * into out (out holds CFG_MAX_PATH bytes; longer names are cut, and
 * compared as cut). ".." undoes the component before it as the kernel
 * would, unless that one is a symbolic link: compared by name only where a
 * directory does not exist yet, so there is none to follow. */
static const char *dir_name_norm(const char *s, char *out)
{
	size_t o = 0, n, c, root = *s == '/';

	if (root)
		out[o++] = '/';
	for (; *s; s += n) {
		while (*s == '/')
			s++;
		n = strcspn(s, "/");
		if (n == 0 || (n == 1 && s[0] == '.'))
			continue;
		if (n == 2 && s[0] == '.' && s[1] == '.' && o > root &&
		    !(o >= root + 2 && out[o - 1] == '.' && out[o - 2] == '.' &&
		      (o == root + 2 || out[o - 3] == '/'))) {
			while (o > root && out[o - 1] != '/')
				o--;		/* drop the last component */
			if (o > root)
				o--;		/* and its slash */
			continue;
		}
		if (o > root && o < CFG_MAX_PATH - 1)
			out[o++] = '/';
		c = n < CFG_MAX_PATH - 1 - o ? n : CFG_MAX_PATH - 1 - o;
		memcpy(out + o, s, c);
		o += c;
	}
	if (o == 0)
		out[o++] = '.';
	out[o] = '\0';
	return out;
}

int config_same_dir(const char *a, const char *b)
{
	char na[CFG_MAX_PATH], nb[CFG_MAX_PATH];
	struct stat sa, sb;

	if (stat(a, &sa) == 0 && stat(b, &sb) == 0)
		return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
	return strcmp(dir_name_norm(a, na), dir_name_norm(b, nb)) == 0;
}

void config_spool_path(const struct config *c, const char *settings_file, char *dir,
		       size_t sz)
{
	const char *slash = strrchr(settings_file, '/');
	int n = slash ? (int)(slash + 1 - settings_file) : 0;

	if (c->spool_dir[0])
		snprintf(dir, sz, "%s", c->spool_dir);
	else
		snprintf(dir, sz, "%.*s%s", n, settings_file, CFG_SPOOL_SUBDIR);
}


void config_defaults(struct config *c)
{
	memset(c, 0, sizeof(*c));
	c->verify_tls = 1;
	snprintf(c->upload_mode, sizeof(c->upload_mode), "%s", CFG_DEF_UPLOAD_MODE);
	snprintf(c->sample_path, sizeof(c->sample_path), "%s", CFG_DEF_SAMPLE_PATH);
	c->interval = CFG_DEF_INTERVAL;
	c->timeout = CFG_DEF_TIMEOUT;
	c->max_flows = CFG_DEF_MAX_FLOWS;
	c->max_listeners = CFG_DEF_MAX_LISTENERS;
	c->listener_ttl = CFG_DEF_LISTENER_TTL;
	c->spool_max_bytes = CFG_DEF_SPOOL_BYTES;
	c->spool_max_files = CFG_DEF_SPOOL_FILES;
	c->log_max_bytes = CFG_DEF_LOG_BYTES;
	c->output_max_bytes = CFG_DEF_OUTPUT_BYTES;
	c->log_max_files = CFG_DEF_LOG_FILES;
	c->promisc = 1;
	c->sniff_timeout_ns = CFG_DEF_SNIFF_TIMEOUT;
	c->snap_len = CFG_DEF_SNAP_LEN;
	c->buffer_size = CFG_DEF_BUFFER_SIZE;
	c->kernel_filter_max = CFG_DEF_KERNEL_FILTER;
}

int config_load_buf(struct config *c, const char *buf, size_t len, struct cfg_error *err)
{
	int pw_in_file = 0;

	return load(c, buf, len, "config", err, &pw_in_file, 0);
}

static int load_file(struct config *c, const char *path, struct cfg_error *err, int reload)
{
	struct stat st;
	size_t got = 0;
	ssize_t r;
	int fd, pw_in_file = 0, saved;

	memset(err, 0, sizeof(*err));
	if (strlen(path) >= sizeof(c->source_path)) {
		snprintf(err->msg, sizeof(err->msg), "the file name is longer than "
			 "%d bytes", CFG_MAX_PATH - 1);
		return -1;
	}
	/* O_NONBLOCK: a FIFO there must be refused, not waited on for a
	 * writer (a SIGHUP would stop the main loop until another signal). */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) < 0) {
		saved = errno;
		if (fd >= 0)
			close(fd);
		snprintf(err->msg, sizeof(err->msg), "cannot open: %s", strerror(saved));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		snprintf(err->msg, sizeof(err->msg), "not a regular file");
		return -1;
	}
	/* Read one byte more than allowed to tell "exactly full" from "too big". */
	while (got < sizeof(cfg_file_buf)) {
		r = read(fd, cfg_file_buf + got, sizeof(cfg_file_buf) - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			saved = errno;
			close(fd);
			snprintf(err->msg, sizeof(err->msg), "cannot read: %s",
				 strerror(saved));
			return -1;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	if (got > CFG_MAX_FILE) {
		snprintf(err->msg, sizeof(err->msg), "the file is larger than %d bytes",
			 CFG_MAX_FILE);
		return -1;
	}
	if (load(c, cfg_file_buf, got, path, err, &pw_in_file, reload) < 0)
		return -1;
	snprintf(c->source_path, sizeof(c->source_path), "%s", path);
	c->world_readable_password = pw_in_file && (st.st_mode & WORLD_READ);
	return 0;
}

int config_load_file(struct config *c, const char *path, struct cfg_error *err)
{
	return load_file(c, path, err, 0);
}

int config_reload_file(struct config *c, const char *path, struct cfg_error *err)
{
	return load_file(c, path, err, 1);
}

void config_format_error(const struct cfg_error *err, const char *file,
			 char *out, size_t outsz)
{
	char pos[32] = "";

	if (!out || outsz == 0)
		return;
	if (err->line)
		snprintf(pos, sizeof(pos), ":%u:%u", err->line, err->col);
	snprintf(out, outsz, "%s%s: %s%s%s", file && *file ? file : "config", pos,
		 err->path, err->path[0] ? ": " : "", err->msg);
}

static int file_sink(void *ctx, const char *data, size_t len)
{
	return fwrite(data, 1, len, ctx) == len ? 0 : -1;
}

static void print_duration(struct json_out *o, const char *key, uint64_t ns)
{
	char s[32];

	if (ns % NS_PER_S == 0)
		snprintf(s, sizeof(s), "%" PRIu64 "s", ns / NS_PER_S);
	else if (ns % NS_PER_MS == 0)
		snprintf(s, sizeof(s), "%" PRIu64 "ms", ns / NS_PER_MS);
	else if (ns % NS_PER_US == 0)
		snprintf(s, sizeof(s), "%" PRIu64 "us", ns / NS_PER_US);
	else
		snprintf(s, sizeof(s), "%" PRIu64 "ns", ns);
	json_str(o, key, s);
}

static void print_key(struct json_out *o, const struct config *c, const struct key *k)
{
	const void *f = cfield(c, k);
	char s[NET_TEXT_MAX + 8];
	unsigned i;

	switch (k->kind) {
	case K_SECRET:
		json_str(o, k->name, ((const char *)f)[0] ? PW_MASK : "");
		break;
	case K_BOOL:
		json_bool(o, k->name, *(const int *)f);
		break;
	case K_U32:
		json_u64(o, k->name, *(const uint32_t *)f);
		break;
	case K_U64:
		json_u64(o, k->name, *(const uint64_t *)f);
		break;
	case K_DUR:
		print_duration(o, k->name, *(const uint64_t *)f);
		break;
	case K_PORTS: {
		const struct cfg_ports *p = f;

		json_arr_begin(o, k->name);
		for (i = 0; i < p->n && i < CFG_MAX_LIST; i++)
			json_u64(o, NULL, p->port[i]);
		json_arr_end(o);
		break;
	}
	case K_NETS: {
		const struct cfg_nets *n = f;

		json_arr_begin(o, k->name);
		for (i = 0; i < n->n && i < CFG_MAX_LIST; i++) {
			net_format(&n->net[i], s, sizeof(s));
			json_str(o, NULL, s);
		}
		json_arr_end(o);
		break;
	}
	default:
		json_strn(o, k->name, f, strnlen(f, k->size));
		break;
	}
}

int config_print(FILE *f, const struct config *c)
{
	char buf[PRINT_BUF];
	struct json_out o;
	size_t i;
	unsigned s;

	json_out_init(&o, buf, sizeof(buf), file_sink, f);
	o.pretty = 1;
	json_obj_begin(&o, NULL);
	for (s = 0; s < SEC_N; s++) {
		json_obj_begin(&o, sec_names[s]);
		for (i = 0; i < NKEYS; i++)
			if (keys[i].sec == s)
				print_key(&o, c, &keys[i]);
		json_obj_end(&o);
	}
	json_obj_end(&o);
	if (json_out_finish(&o) < 0)
		return -1;
	return fflush(f) == 0 ? 0 : -1;
}
