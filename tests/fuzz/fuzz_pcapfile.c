/* libFuzzer target for the offline pipeline: the input is a capture file
 * (pcap or pcapng) written to a scratch file and read through src/capture.c
 * (libpcap's file parser), every packet decoded (src/decode.c) and counted
 * in a small flow table (src/flow.c) that is reported (src/report.c) every
 * FUZZ_PKTS_PER_INTERVAL packets and at the end. Checked: capture errors
 * carry a message, the table stays consistent (flow_check), every report
 * parses as JSON and the d42 record scanner finds exactly one record per
 * flow in it. Packets are copied to buffers of exactly caplen bytes so ASan
 * sees any over-read. libpcap itself is not instrumented.
 * The scratch file is in $TMPDIR (default /tmp), removed at exit. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture.h"
#include "d42.h"
#include "decode.h"
#include "flow.h"
#include "json.h"
#include "report.h"

#define FUZZ_MAX_FLOWS         16	/* small: the table fills up */
#define FUZZ_MAX_LISTENERS     8
#define FUZZ_LISTENER_TTL_S    60
#define FUZZ_SEED              42
#define FUZZ_PKTS_PER_INTERVAL 24
#define FUZZ_MAX_DISPATCH      64	/* capture_dispatch calls per input */
#define FUZZ_REPORT_MAX        (64 * 1024)
#define FUZZ_REPORT_TOKS       4096
#define FUZZ_OUT_BUF           256
#define FUZZ_LINE_MAX          256

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Say which invariant failed: replay logs have no stack trace. */
#define CHECK(c) do { if (!(c)) { \
	fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); \
	abort(); } } while (0)

struct state {
	struct flow_table t;
	struct report_stats st;
	int linktype;
	uint64_t first_ns, last_ns;
	uint32_t in_interval;
};

struct collect {
	char data[FUZZ_REPORT_MAX];
	size_t len;
};

static char path[64];
static struct collect rep;
static struct json_tok toks[FUZZ_REPORT_TOKS];
static struct d42_scan scan;

static void cleanup(void)
{
	if (path[0])
		unlink(path);
}

static int collect_fn(void *ctx, const char *p, size_t n)
{
	struct collect *c = ctx;

	CHECK(n <= sizeof(c->data) - c->len);
	memcpy(c->data + c->len, p, n);
	c->len += n;
	return 0;
}

/* Writes the interval's report, checks it, starts a new interval. */
static void interval_end(struct state *s)
{
	struct json_limits lim = { FUZZ_REPORT_MAX, JSON_OUT_MAX_DEPTH };
	struct report_meta m;
	char obuf[FUZZ_OUT_BUF], line[FUZZ_LINE_MAX];
	struct json_out o;
	size_t off = 0, used;
	uint32_t n, i, nrec = 0;
	int rc;

	memset(&m, 0, sizeof(m));
	m.host = "fuzz";
	m.iface = path;
	m.start_ns = s->first_ns;
	m.end_ns = s->last_ns;
	CHECK(flow_check(&s->t) == 0);
	n = flow_sorted(&s->t);
	CHECK(n == s->t.st.flows && n <= FUZZ_MAX_FLOWS);
	for (i = 0; i < n; i++) {
		const struct flow_rec *r = flow_sorted_rec(&s->t, i);

		CHECK(r->key.family == 4 || r->key.family == 6);
		CHECK(r->nports <= FLOW_MAX_CLIENT_PORTS);
		CHECK(r->how < FLOW_HOW_COUNT);
		CHECK(report_rec_line(r, line, sizeof(line)) > 0);
	}

	rep.len = 0;
	json_out_init(&o, obuf, sizeof(obuf), collect_fn, &rep);
	CHECK(report_write(&o, &m, &s->st, &s->t) == 0);
	CHECK(json_parse(rep.data, rep.len, &lim, toks, FUZZ_REPORT_TOKS, NULL) > 0);

	d42_scan_init(&scan);
	while (off < rep.len) {
		rc = d42_scan_feed(&scan, rep.data + off, rep.len - off, &used);
		CHECK(rc >= 0);
		off += used;
		if (rc == D42_SCAN_RECORD)
			nrec++;
	}
	CHECK(nrec == n);

	flow_reset(&s->t, s->last_ns);
	memset(&s->st, 0, sizeof(s->st));
	s->first_ns = s->last_ns;
	s->in_interval = 0;
}

static void on_packet(void *user, uint64_t ts_ns, const uint8_t *data,
		      uint32_t caplen, uint32_t wirelen)
{
	struct state *s = user;
	struct flow_rec *rec;
	enum dec_reason why;
	enum flow_result fr;
	uint8_t *copy;
	struct pkt p;

	if (!s->st.packets && !s->first_ns)
		s->first_ns = ts_ns;
	if (ts_ns > s->last_ns)
		s->last_ns = ts_ns;
	s->st.packets++;
	s->st.bytes += wirelen;

	copy = malloc(caplen ? caplen : 1);
	CHECK(copy != NULL);
	if (caplen)
		memcpy(copy, data, caplen);
	why = decode_packet(s->linktype, copy, caplen, wirelen, &p);
	free(copy);
	CHECK((unsigned)why < DEC_REASON_COUNT);
	if (why != DEC_OK) {
		s->st.undecoded[why]++;
	} else {
		s->st.decoded++;
		fr = flow_update(&s->t, &p, ts_ns, &rec);
		CHECK(fr == FLOW_NEW || fr == FLOW_UPDATED || fr == FLOW_DROPPED);
		CHECK((fr == FLOW_DROPPED) == (rec == NULL));
		if (rec)
			CHECK(rec->key.proto == p.proto && rec->key.family == p.family);
	}
	if (++s->in_interval >= FUZZ_PKTS_PER_INTERVAL)
		interval_end(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct state s;
	struct capture c;
	int i, rc = 0;
	FILE *f;

	if (!path[0]) {
		const char *tmp = getenv("TMPDIR");
		int fd;

		snprintf(path, sizeof(path), "%s/d42fuzz-XXXXXX",
			 tmp && *tmp && strlen(tmp) < sizeof(path) - 16 ? tmp : "/tmp");
		fd = mkstemp(path);
		CHECK(fd >= 0);
		close(fd);
		atexit(cleanup);
	}
	f = fopen(path, "wb");
	CHECK(f != NULL);
	CHECK(fwrite(data, 1, size, f) == size);
	CHECK(fclose(f) == 0);

	memset(&c, 0, sizeof(c));
	if (capture_open_file(&c, path) != 0) {
		CHECK(c.err[0] != '\0');
		return 0;
	}
	CHECK(c.offline == 1);
	memset(&s, 0, sizeof(s));
	s.linktype = c.linktype;
	CHECK(flow_init(&s.t, FUZZ_MAX_FLOWS, FUZZ_MAX_LISTENERS,
			FUZZ_LISTENER_TTL_S, FUZZ_SEED) == 0);
	for (i = 0; i < FUZZ_MAX_DISPATCH; i++) {
		rc = capture_dispatch(&c, on_packet, &s);
		if (rc < 0)
			break;
	}
	CHECK(rc == -2 || rc == -1 || i == FUZZ_MAX_DISPATCH);
	if (rc == -1)
		CHECK(c.err[0] != '\0');
	interval_end(&s);
	capture_close(&c);
	flow_free(&s.t);
	return 0;
}
