/* libFuzzer target for the configuration loader (src/config.c) and the
 * capture filter built from it (src/filter.c). For every input:
 *  - config_load_buf either succeeds or fills a cfg_error that formats;
 *  - a loaded config prints (config_print) as JSON that json_parse accepts,
 *    loads again, and prints the same text again (a fixed point);
 *  - filter_build's expression, when it returns one (and is at most
 *    FUZZ_MAX_COMPILE bytes), is accepted by libpcap's compiler, for both
 *    the plain and the VLAN variant.
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
#include "filter.h"
#include "json.h"
#include "log.h"

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_limits lim = { FUZZ_PRINT_MAX, CFG_MAX_DEPTH };
	struct cfg_error err;
	size_t n1, n2;

	if (!dead) {
		log_set_level(LOG_LVL_ERR);
		unsetenv("D42PCAP_PASSWORD");	/* same result on every run */
		dead = pcap_open_dead(DLT_EN10MB, FUZZ_SNAPLEN);
		CHECK(dead != NULL);
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
	return 0;
}
