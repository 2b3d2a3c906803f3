/* libFuzzer target for the configuration loader (src/config.c) and the
 * capture filter built from it (src/filter.c). For every input:
 *  - config_load_buf either succeeds or fills a cfg_error that formats;
 *  - a loaded config prints (config_print) as JSON that json_parse accepts,
 *    loads again, and prints the same text again (a fixed point);
 *  - filter_build's expression, when it returns one (and is at most
 *    FUZZ_MAX_COMPILE bytes), is accepted by libpcap's compiler, for both
 *    the plain and the VLAN variant;
 *  - filter_match() (the lists matched after decoding) keeps exactly the
 *    packets of a fixed set that the VLAN variant with every list in it,
 *    compiled without optimising, keeps: libpcap defines what the lists
 *    mean.
 * Warnings go to stderr through src/log.c; the level is set to errors only,
 * and config.c reports errors through cfg_error, not the log.
 * A password-file path in the input is opened and read: inputs come from
 * the fuzzer, so run it with stdin from /dev/null (make fuzz does). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcap/pcap.h>

#include "config.h"
#include "decode.h"
#include "filter.h"
#include "json.h"
#include "log.h"
#include "../tframe.h"

#define FUZZ_MAX_INPUT  (64 * 1024)	/* well below CFG_MAX_FILE */
#define FUZZ_PRINT_MAX  (512 * 1024)	/* printed config: 4 x 256 nets */
#define FUZZ_SNAPLEN    65535
#define FUZZ_PRINT_TOKS 8192
/* libpcap's compiler is superlinear: 256 ignore-ports (a valid config)
 * take seconds even unoptimized. Longer expressions are built but not
 * compiled here (see docs/FUZZING.md). */
#define FUZZ_MAX_COMPILE 1024

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Say which invariant failed: replay logs have no stack trace. */
#define CHECK(c) do { if (!(c)) { \
	fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); \
	abort(); } } while (0)

static struct config cfg, again;
static char print1[FUZZ_PRINT_MAX], print2[FUZZ_PRINT_MAX];
static char expr[FILTER_MAX_EXPR];
static struct json_tok toks[FUZZ_PRINT_TOKS];
static pcap_t *dead;

/* Prints c into buf; returns the length (aborts if it does not fit). */
static size_t print_cfg(const struct config *c, char *buf, size_t cap)
{
	FILE *f = fmemopen(buf, cap, "w");
	long n;

	CHECK(f != NULL);
	setvbuf(f, NULL, _IONBF, 0);
	CHECK(config_print(f, c) == 0);
	n = ftell(f);
	CHECK(n > 0 && (size_t)n < cap);
	fclose(f);
	return (size_t)n;
}

static void check_error(const struct cfg_error *err)
{
	char out[sizeof(err->path) + sizeof(err->msg) + 64];

	CHECK(err->msg[0] != '\0');
	CHECK(memchr(err->msg, '\0', sizeof(err->msg)) != NULL);
	CHECK(memchr(err->path, '\0', sizeof(err->path)) != NULL);
	CHECK((err->line == 0) == (err->col == 0));
	config_format_error(err, "fuzz.json", out, sizeof(out));
	CHECK(strncmp(out, "fuzz.json", 9) == 0);
	config_format_error(err, "fuzz.json", out, 1);
	CHECK(out[0] == '\0');
}

static void check_filter(const struct config *c, int vlan)
{
	struct bpf_program prog;

	if (filter_build(c, vlan, expr, sizeof(expr)) != 0)
		return;
	CHECK(memchr(expr, '\0', sizeof(expr)) != NULL);
	if (!expr[0] || strlen(expr) > FUZZ_MAX_COMPILE)
		return;
	/* optimize 0: we only want to know the expression is valid, and the
	 * optimizer is slow on the longest ones. */
	if (pcap_compile(dead, &prog, expr, 0, PCAP_NETMASK_UNKNOWN) != 0) {
		fprintf(stderr, "filter rejected by libpcap: %s\n%s\n",
			pcap_geterr(dead), expr);
		abort();
	}
	pcap_freecode(&prog);
}

/* Fixed packets for the lists: addresses and ports a config is likely to
 * name (the dictionary has them too), both families, 0-2 VLAN tags. */
#define FUZZ_FRAMES     48

static uint8_t frames[FUZZ_FRAMES][TFRAME_MAX];
static size_t frame_len[FUZZ_FRAMES];

static size_t make_frame(uint8_t *b, unsigned i)
{
	static const char *const v4[] = { "10.0.0.1", "10.0.0.2", "192.168.1.10", "172.16.5.4" };
	static const char *const v6[] = { "2001:db8::1", "2001:db8::2", "fe80::1", "::1" };
	static const uint16_t ports[] = { 80, 443, 53, 22, 40000, 8080 };
	unsigned v6f = (i / 3) % 2;
	const char *src = v6f ? v6[i % 4] : v4[i % 4];
	const char *dst = v6f ? v6[(i / 4 + 1) % 4] : v4[(i / 4 + 1) % 4];
	struct cfg_net s, d;
	struct tframe f;

	CHECK(config_parse_net(src, &s) == 0 && config_parse_net(dst, &d) == 0);
	f.tags = i % 3;
	f.family = v6f ? 6 : 4;
	f.proto = (i / 6) % 2 ? 17 : 6;
	f.src = s.addr;
	f.dst = d.addr;
	f.sport = ports[i % 6];
	f.dport = ports[(i / 6 + 2) % 6];
	return tframe_build(b, &f);
}

static void check_match(void)
{
	static struct filter_lists fl;
	struct bpf_program prog;
	struct pcap_pkthdr h;
	struct pkt p;
	uint32_t keep = cfg.kernel_filter_max;
	unsigned i;
	int bpf;

	cfg.kernel_filter_max = 10 * CFG_MAX_LIST;	/* every list in it */
	if (filter_build(&cfg, FILTER_LINK_ETHER, expr, sizeof(expr)) != 0 || !expr[0] ||
	    strlen(expr) > FUZZ_MAX_COMPILE) {
		cfg.kernel_filter_max = keep;
		return;
	}
	cfg.kernel_filter_max = keep;
	CHECK(pcap_compile(dead, &prog, expr, 0, PCAP_NETMASK_UNKNOWN) == 0);
	filter_lists_init(&fl, &cfg);
	CHECK(fl.on);
	for (i = 0; i < FUZZ_FRAMES; i++) {
		memset(&h, 0, sizeof(h));
		h.caplen = h.len = (bpf_u_int32)frame_len[i];
		bpf = pcap_offline_filter(&prog, &h, frames[i]) != 0;
		CHECK(decode_packet(DLT_EN10MB, frames[i], frame_len[i], frame_len[i], &p) == DEC_OK);
		if (filter_match(&fl, &cfg, &p) != bpf) {
			fprintf(stderr, "frame %u: libpcap %d, filter_match %d: %s\n",
				i, bpf, !bpf, expr);
			abort();
		}
	}
	pcap_freecode(&prog);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned i;

	struct json_limits lim = { FUZZ_PRINT_MAX, CFG_MAX_DEPTH };
	struct cfg_error err;
	size_t n1, n2;

	if (!dead) {
		log_set_level(LOG_LVL_ERR);
		unsetenv("D42PCAP_PASSWORD");	/* same result on every run */
		dead = pcap_open_dead(DLT_EN10MB, FUZZ_SNAPLEN);
		CHECK(dead != NULL);
		for (i = 0; i < FUZZ_FRAMES; i++)
			frame_len[i] = make_frame(frames[i], i);
	}
	if (size > FUZZ_MAX_INPUT)
		return 0;

	memset(&err, 0, sizeof(err));
	if (config_load_buf(&cfg, (const char *)data, size, &err) != 0) {
		check_error(&err);
		return 0;
	}
	CHECK(cfg.interval > 0);
	CHECK(cfg.max_flows > 0 && cfg.max_listeners > 0);
	CHECK(cfg.timeout >= CFG_TIMEOUT_MIN && cfg.timeout <= CFG_TIMEOUT_MAX);
	CHECK(cfg.sniff_timeout_ns >= CFG_MIN_SNIFF_TIMEOUT_NS);

	n1 = print_cfg(&cfg, print1, sizeof(print1));
	CHECK(json_parse(print1, n1, &lim, toks, FUZZ_PRINT_TOKS, NULL) > 0);

	/* What it prints must load back to a config that prints the same. */
	memset(&err, 0, sizeof(err));
	if (config_load_buf(&again, print1, n1, &err) != 0) {
		fprintf(stderr, "printed config does not load: %s: %s (%u:%u)\n%.*s\n",
			err.path, err.msg, err.line, err.col, (int)n1, print1);
		abort();
	}
	n2 = print_cfg(&again, print2, sizeof(print2));
	if (n1 != n2 || memcmp(print1, print2, n1) != 0) {
		fprintf(stderr, "print/load/print differs:\n%.*s\n---\n%.*s\n",
			(int)n1, print1, (int)n2, print2);
		abort();
	}

	check_filter(&cfg, 0);
	check_filter(&cfg, 1);
	check_match();
	return 0;
}
