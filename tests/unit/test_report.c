/* Report writer: exact document bytes for a small table, formatters, and
 * streaming through a tiny emitter buffer. */
#include "t.h"
#include "report.h"

#include <arpa/inet.h>

#define SEC 1000000000ULL

struct sbuf {
	char data[8192];
	size_t len;
};

static int sink(void *ctx, const char *d, size_t n)
{
	struct sbuf *b = ctx;

	if (b->len + n >= sizeof(b->data))
		return -1;
	memcpy(b->data + b->len, d, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

static struct pkt tcp4(const char *s, uint16_t sp, const char *d, uint16_t dp, uint8_t flags)
{
	struct pkt p;

	memset(&p, 0, sizeof(p));
	p.family = 4;
	p.proto = DEC_PROTO_TCP;
	p.tcp_flags = flags;
	inet_pton(AF_INET, s, p.src);
	inet_pton(AF_INET, d, p.dst);
	p.sport = sp;
	p.dport = dp;
	p.ip_len = 60;
	return p;
}

static void test_report_exact_document(void)
{
	static struct flow_table t;
	struct report_stats st;
	struct report_meta m = { "sensor1", "eth0", 1700000040 * SEC, 1700000100 * SEC, 0, 0 };
	struct json_out o;
	struct sbuf b = { "", 0 };
	char buf[16];
	struct pkt p;

	T_EQ_INT(flow_init(&t, 16, 16, 3600, 42), 0);
	p = tcp4("10.0.0.2", 40000, "10.0.0.1", 80, DEC_TCP_SYN);
	flow_update(&t, &p, 1700000050 * SEC + 1000, NULL);
	p = tcp4("10.0.0.1", 80, "10.0.0.2", 40000, DEC_TCP_SYN | DEC_TCP_ACK);
	p.ip_len = 52;
	flow_update(&t, &p, 1700000050 * SEC + 2000, NULL);
	memset(&st, 0, sizeof(st));
	st.packets = 3;
	st.bytes = 250;
	st.decoded = 2;
	st.undecoded[DEC_NOT_IP] = 1;
	json_out_init(&o, buf, sizeof(buf), sink, &b);
	T_EQ_INT(report_write(&o, &m, &st, &t), 0);
	T_EQ_STR(b.data,
		 "{\"agent\":{\"name\":\"d42pcap\",\"version\":\"" D42_VERSION "\",\"host\":\"sensor1\","
		 "\"interface\":\"eth0\"},\"interval\":{\"start\":\"2023-11-14T22:14:00Z\","
		 "\"end\":\"2023-11-14T22:15:00Z\",\"seconds\":60},\"stats\":{\"packets\":3,"
		 "\"bytes\":250,\"decoded\":2,\"undecoded\":{\"not_ip\":1},\"kernel_drops\":0,"
		 "\"interface_drops\":0,\"flow_drops\":0,\"listener_drops\":0,\"flows\":1,"
		 "\"listeners\":1},\"communications\":[{\"client\":\"10.0.0.2\",\"server\":"
		 "\"10.0.0.1\",\"port\":80,\"protocol\":\"tcp\",\"direction\":\"syn\","
		 "\"connections\":1,\"packets_to_server\":1,\"packets_to_client\":1,"
		 "\"bytes_to_server\":60,\"bytes_to_client\":52,\"client_ports\":[40000],"
		 "\"client_ports_truncated\":false,\"first_seen\":\"2023-11-14T22:14:10.000001Z\","
		 "\"last_seen\":\"2023-11-14T22:14:10.000002Z\"}]}\n");
	flow_free(&t);
}

static void test_report_only_stats(void)
{
	static struct flow_table t;
	struct report_stats st;
	struct report_meta m = { "h", "f.pcap", 0, 30 * SEC, 1, 0 };
	struct json_out o;
	struct sbuf b = { "", 0 };
	char buf[64];
	struct pkt p;

	T_EQ_INT(flow_init(&t, 16, 16, 3600, 1), 0);
	p = tcp4("10.0.0.2", 40000, "10.0.0.1", 80, DEC_TCP_SYN);
	flow_update(&t, &p, SEC, NULL);
	memset(&st, 0, sizeof(st));
	json_out_init(&o, buf, sizeof(buf), sink, &b);
	T_EQ_INT(report_write(&o, &m, &st, &t), 0);
	T_CHECK(strstr(b.data, "\"communications\":[]}") != NULL);
	T_CHECK(strstr(b.data, "\"flows\":1") != NULL);
	T_CHECK(strstr(b.data, "\"seconds\":30") != NULL);
	flow_free(&t);
}

static void test_report_formatters(void)
{
	char b[REPORT_TIME_MAX], a[ADDR_STR_MAX];
	uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	uint8_t v4[16] = { 192, 0, 2, 7 };

	T_EQ_STR(report_time(0, 0, b, sizeof(b)), "1970-01-01T00:00:00Z");
	T_EQ_STR(report_time(1 * SEC + 999999999, 1, b, sizeof(b)), "1970-01-01T00:00:01.999999Z");
	T_EQ_STR(addr_fmt(6, v6, a, sizeof(a)), "2001:db8::1");
	T_EQ_STR(addr_fmt(4, v4, a, sizeof(a)), "192.0.2.7");
	T_EQ_STR(report_proto(DEC_PROTO_UDP), "udp");
	T_EQ_STR(report_proto(1), "?");
}

static void test_report_rec_line(void)
{
	struct flow_rec r;
	char line[256];

	memset(&r, 0, sizeof(r));
	r.key.family = 6;
	r.key.proto = DEC_PROTO_TCP;
	r.key.port = 443;
	inet_pton(AF_INET6, "2001:db8::2", r.key.client);
	inet_pton(AF_INET6, "2001:db8::1", r.key.server);
	r.how = FLOW_HOW_SYNACK;
	r.conns = 2;
	r.pkts_c2s = 5;
	r.pkts_s2c = 4;
	r.bytes_c2s = 500;
	r.bytes_s2c = 4000;
	report_rec_line(&r, line, sizeof(line));
	T_EQ_STR(line, "tcp 2001:db8::2 -> [2001:db8::1]:443 synack conns=2 pkts=5/4 bytes=500/4000");
}

static void test_report_sink_failure(void)
{
	static struct flow_table t;
	struct report_stats st;
	struct report_meta m = { "h", "i", 0, SEC, 0, 0 };
	struct json_out o;
	char buf[16];

	T_EQ_INT(flow_init(&t, 16, 16, 3600, 1), 0);
	memset(&st, 0, sizeof(st));
	json_out_init(&o, buf, sizeof(buf), NULL, NULL);	/* no sink: overflows */
	T_EQ_INT(report_write(&o, &m, &st, &t), -1);
	flow_free(&t);
}

/* ---- the record writer against the general emitter ---- */

#define BIG_SINK (1 << 16)

struct bigsink {
	char data[BIG_SINK];
	size_t len;
};

static int big_fn(void *ctx, const char *d, size_t n)
{
	struct bigsink *b = ctx;

	if (n >= sizeof(b->data) - b->len)
		return -1;
	memcpy(b->data + b->len, d, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

/* The records as the general emitter writes them, member by member: the
 * reference report_write's pre-formatted records must match byte for byte. */
static void ref_records(struct json_out *o, struct flow_table *t)
{
	char a[ADDR_STR_MAX], tm[REPORT_TIME_MAX];
	uint32_t n = flow_sorted(t), i, j;

	json_obj_begin(o, NULL);
	json_arr_begin(o, "communications");
	for (i = 0; i < n; i++) {
		const struct flow_rec *r = flow_sorted_rec(t, i);

		json_obj_begin(o, NULL);
		json_str(o, "client", addr_fmt(r->key.family, r->key.client, a, sizeof(a)));
		json_str(o, "server", addr_fmt(r->key.family, r->key.server, a, sizeof(a)));
		json_u64(o, "port", r->key.port);
		json_str(o, "protocol", report_proto(r->key.proto));
		json_str(o, "direction", flow_how_name((enum flow_how)r->how));
		json_u64(o, "connections", r->conns);
		json_u64(o, "packets_to_server", r->pkts_c2s);
		json_u64(o, "packets_to_client", r->pkts_s2c);
		json_u64(o, "bytes_to_server", r->bytes_c2s);
		json_u64(o, "bytes_to_client", r->bytes_s2c);
		json_arr_begin(o, "client_ports");
		for (j = 0; j < r->nports && j < FLOW_MAX_CLIENT_PORTS; j++)
			json_u64(o, NULL, r->cports[j]);
		json_arr_end(o);
		json_bool(o, "client_ports_truncated", r->ports_overflow);
		json_str(o, "first_seen", report_time(r->first_ns, 1, tm, sizeof(tm)));
		json_str(o, "last_seen", report_time(r->last_ns, 1, tm, sizeof(tm)));
		json_obj_end(o);
	}
	json_arr_end(o);
	json_obj_end(o);
}

/* Records written here directly, so that every field can take its extreme
 * values: the next one taken, listed as in use this interval (the list is
 * in skeys, see struct flow_table). Not in the index. */
static struct flow_rec *add_rec(struct flow_table *t, int family, const char *client,
				const char *server, uint16_t port, uint8_t proto)
{
	uint32_t i = t->nused++;
	struct flow_rec *r = &t->recs[i];

	memset(r, 0, sizeof(*r));
	r->gen = t->gen;
	t->skeys[t->st.flows++].lo = i;
	r->key.family = (uint8_t)family;
	inet_pton(family == 4 ? AF_INET : AF_INET6, client, r->key.client);
	inet_pton(family == 4 ? AF_INET : AF_INET6, server, r->key.server);
	r->key.port = port;
	r->key.proto = proto;
	return r;
}

static void fill_edge_records(struct flow_table *t)
{
	struct flow_rec *r;
	unsigned i;

	r = add_rec(t, 4, "10.0.0.2", "10.0.0.1", 80, DEC_PROTO_TCP);	/* one port */
	r->how = FLOW_HOW_SYN;
	r->conns = 1;
	r->nports = 1;
	r->cports[0] = 40000;
	r->first_ns = 1700000050 * SEC + 1000;
	r->last_ns = 1700000059 * SEC + 999999999;
	r = add_rec(t, 4, "255.255.255.255", "0.0.0.0", 0, DEC_PROTO_UDP);	/* no port */
	r->how = FLOW_HOW_LOWER_PORT;
	r = add_rec(t, 4, "192.168.100.200", "172.16.5.9", 65535, DEC_PROTO_TCP);
	r->how = FLOW_HOW_COUNT;	/* out of range: "unknown" */
	r->conns = UINT32_MAX;
	r->pkts_c2s = UINT32_MAX;
	r->pkts_s2c = 1;
	r->bytes_c2s = UINT64_MAX;
	r->bytes_s2c = 10;
	r->nports = 200;	/* more than kept: only FLOW_MAX_CLIENT_PORTS shown */
	r->ports_overflow = 1;
	for (i = 0; i < FLOW_MAX_CLIENT_PORTS; i++)
		r->cports[i] = (uint16_t)(i * 9000 + 1);
	r->first_ns = 0;
	r->last_ns = UINT64_MAX;	/* the latest time there is */
	r = add_rec(t, 6, "2001:db8::2", "2001:db8::1", 443, DEC_PROTO_TCP);
	r->how = FLOW_HOW_SYNACK;
	r->nports = 2;
	r->cports[0] = 50000;
	r->cports[1] = 50001;
	r->first_ns = 951782400ULL * SEC + 999;	/* a century's leap day */
	r->last_ns = 4102444799ULL * SEC + 999999999;	/* the end of 2099 */
	r = add_rec(t, 6, "::", "::1", 53, 1);	/* protocol "?" */
	r->how = FLOW_HOW_WELLKNOWN;
	r = add_rec(t, 6, "::ffff:192.0.2.1", "fe80::1:2:3:4", 22, DEC_PROTO_TCP);
	r->how = FLOW_HOW_LISTENER;
	r->nports = FLOW_MAX_CLIENT_PORTS;
	r = add_rec(t, 6, "1::", "2001:db8:0:1:1:1:1:1", 8080, DEC_PROTO_UDP);
	r->how = FLOW_HOW_EPHEMERAL;
}

/* Whole reports, compact and pretty, through a large and a tiny buffer
 * (records longer than the buffer), against the reference. */
static void test_report_records_match_emitter(void)
{
	static struct flow_table t;
	static struct bigsink got, want;
	struct report_meta m = { "h", "i", 0, 60 * SEC, 0, 0 };
	static const size_t bufsz[] = { 16, 1 << 12 };
	static char buf[1 << 12];
	struct report_stats st;
	struct json_out o;
	const char *g, *w;
	size_t b;
	int pretty;

	T_EQ_INT(flow_init(&t, 16, 16, 3600, 7), 0);
	fill_edge_records(&t);
	memset(&st, 0, sizeof(st));
	for (pretty = 0; pretty <= 1; pretty++) {
		for (b = 0; b < sizeof(bufsz) / sizeof(bufsz[0]); b++) {
			got.len = want.len = 0;
			json_out_init(&o, buf, bufsz[b], big_fn, &got);
			o.pretty = pretty;
			T_EQ_INT(report_write(&o, &m, &st, &t), 0);
			json_out_init(&o, buf, bufsz[b], big_fn, &want);
			o.pretty = pretty;
			ref_records(&o, &t);
			T_EQ_INT(json_out_finish(&o), 0);
			g = strstr(got.data, "\"communications\"");
			w = strstr(want.data, "\"communications\"");
			T_CHECK(g && w && strcmp(g, w) == 0);
			if (g && w && strcmp(g, w) != 0)
				printf("  got:  %s\n  want: %s\n", g, w);
		}
	}
	T_CHECK(strstr(got.data, "\"2001:db8::1\"") != NULL);
	T_CHECK(strstr(got.data, "\"first_seen\": \"1970-01-01T00:00:00.000000Z\"") != NULL);
	T_CHECK(strstr(got.data, "\"2554-07-21T23:34:33.709551Z\"") != NULL);
	T_CHECK(strstr(got.data, "\"client_ports\": []") != NULL);
	T_CHECK(strstr(got.data, "\"bytes_to_server\": 18446744073709551615") != NULL);
	flow_free(&t);
}

/* A sink that fails, and an emitter that already failed: no record output,
 * the report is an error. */
static void test_report_records_after_error(void)
{
	static struct flow_table t;
	struct report_meta m = { "h", "i", 0, SEC, 0, 0 };
	struct report_stats st;
	struct json_out o;
	char buf[64];

	T_EQ_INT(flow_init(&t, 16, 16, 3600, 3), 0);
	fill_edge_records(&t);
	memset(&st, 0, sizeof(st));
	json_out_init(&o, buf, sizeof(buf), NULL, NULL);	/* far too small */
	T_EQ_INT(report_write(&o, &m, &st, &t), -1);
	T_EQ_INT(o.error, JSON_OUT_ERR_OVERFLOW);
	T_CHECK(o.len <= sizeof(buf));
	flow_free(&t);
}

static void test_report_names_fit(void)
{
	unsigned i;

	for (i = 0; i <= FLOW_HOW_COUNT; i++)	/* "unknown" too */
		T_CHECK(strlen(flow_how_name((enum flow_how)i)) < REPORT_WORD_MAX);
	for (i = 0; i <= UINT8_MAX; i++)
		T_CHECK(strlen(report_proto((uint8_t)i)) < REPORT_WORD_MAX);
}

static void test_report_time_extremes(void)
{
	char b[REPORT_TIME_MAX];

	/* 64-bit nanoseconds end in 2554: years past 9999 cannot occur */
	T_EQ_STR(report_time(UINT64_MAX, 1, b, sizeof(b)), "2554-07-21T23:34:33.709551Z");
	T_EQ_STR(report_time(UINT64_MAX, 0, b, sizeof(b)), "2554-07-21T23:34:33Z");
	T_EQ_STR(report_time(4102444799ULL * SEC + 999999999, 1, b, sizeof(b)),
		 "2099-12-31T23:59:59.999999Z");
	T_EQ_STR(report_time(951782400ULL * SEC + 123456789, 1, b, sizeof(b)),
		 "2000-02-29T00:00:00.123456Z");	/* leap day of a century year */
	T_EQ_STR(report_time(0, 1, b, 8), "invalid");	/* too small a buffer */
}

static void test_report_addr_forms(void)
{
	static const char *const v6[] = { "::", "::1", "1::", "2001:db8::1",
					  "::ffff:192.0.2.1", "fe80::1:2:3:4",
					  "2001:db8:0:1:1:1:1:1" };
	char a[ADDR_STR_MAX], small[16];
	uint8_t bin[16];
	size_t i;

	for (i = 0; i < sizeof(v6) / sizeof(v6[0]); i++) {
		inet_pton(AF_INET6, v6[i], bin);
		T_EQ_STR(addr_fmt(6, bin, a, sizeof(a)), v6[i]);
	}
	inet_pton(AF_INET, "255.255.255.255", bin);
	T_EQ_STR(addr_fmt(4, bin, a, sizeof(a)), "255.255.255.255");
	T_EQ_STR(addr_fmt(4, bin, small, sizeof(small)), "255.255.255.255");
	inet_pton(AF_INET, "0.0.0.0", bin);
	T_EQ_STR(addr_fmt(4, bin, a, sizeof(a)), "0.0.0.0");
	T_EQ_STR(addr_fmt(4, bin, small, 4), "?");	/* does not fit */
}

/* Every byte value in every place of an IPv4 address, and in the dotted
 * tail of an IPv4-mapped IPv6 one, against the C library; addr_put() ends
 * where addr_fmt()'s text does. */
static void test_report_addr_v4_bytes(void)
{
	char a[ADDR_STR_MAX], ref[ADDR_STR_MAX], *end;
	uint8_t bin[16];
	unsigned v, pos, bad = 0;

	for (pos = 0; pos < 4; pos++)
		for (v = 0; v < 256; v++) {
			memset(bin, 0, sizeof(bin));
			bin[pos] = (uint8_t)v;
			bin[(pos + 1) % 4] = (uint8_t)(255 - v);
			inet_ntop(AF_INET, bin, ref, sizeof(ref));
			if (strcmp(addr_fmt(4, bin, a, sizeof(a)), ref) != 0)
				bad++;
			memset(a, 'x', sizeof(a));
			end = addr_put(4, bin, a);
			if ((size_t)(end - a) != strlen(ref) || memcmp(a, ref, strlen(ref)) != 0)
				bad++;
			/* ::ffff:a.b.c.d */
			memset(bin, 0, sizeof(bin));
			bin[10] = bin[11] = 0xff;
			bin[12 + pos] = (uint8_t)v;
			snprintf(ref, sizeof(ref), "::ffff:%u.%u.%u.%u", bin[12], bin[13],
				 bin[14], bin[15]);
			if (strcmp(addr_fmt(6, bin, a, sizeof(a)), ref) != 0)
				bad++;
		}
	T_EQ_INT(bad, 0);
}

/* RFC 5952 against the C library's inet_ntop on many addresses with runs
 * of zero groups of every length and place (ties too), and the forms where
 * the two may differ, written out. */
static void test_report_addr_v6_random(void)
{
	static const struct { const char *in, *out; } fixed[] = {
		{ "::1.2.3.4", "::102:304" },		/* glibc: "::1.2.3.4" */
		{ "::ffff:0.0.0.0", "::ffff:0.0.0.0" },
		{ "::ffff:0:0", "::ffff:0.0.0.0" },
		{ "0:0:0:0:0:1:ffff:0", "::1:ffff:0" },
		{ "1:0:0:2:0:0:3:4", "1::2:0:0:3:4" },	/* the first of two */
		{ "1:0:0:2:0:0:0:4", "1:0:0:2::4" },	/* the longer */
		{ "1:0:2:3:4:5:6:7", "1:0:2:3:4:5:6:7" },	/* one zero stays */
		{ "abcd:ef01:2345:6789:abcd:ef01:2345:6789",
		  "abcd:ef01:2345:6789:abcd:ef01:2345:6789" },
		{ "1:20:300:4000::", "1:20:300:4000::" },
	};
	char a[ADDR_STR_MAX], ref[ADDR_STR_MAX];
	uint8_t bin[16], back[16];
	uint32_t x = 12345;
	size_t i, j, bad = 0;

	for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		T_EQ_INT(inet_pton(AF_INET6, fixed[i].in, bin), 1);
		T_EQ_STR(addr_fmt(6, bin, a, sizeof(a)), fixed[i].out);
	}
	for (i = 0; i < 200000; i++) {
		for (j = 0; j < 16; j += 2) {	/* a group: zero half the time */
			x = x * 1103515245u + 12345u;
			bin[j] = (x >> 16 & 1) ? 0 : (uint8_t)(x >> 24);
			bin[j + 1] = (x >> 16 & 1) ? 0 : (uint8_t)(x >> 8);
		}
		if (i % 7 == 0)
			memcpy(bin, "\0\0\0\0\0\0\0\0\0\0\377\377", 12);
		addr_fmt(6, bin, a, sizeof(a));
		if (inet_pton(AF_INET6, a, back) != 1 || memcmp(back, bin, 16) != 0)
			bad++;
#ifdef __GLIBC__
		/* glibc writes IPv4-compatible addresses in dotted form */
		if (memcmp(bin, "\0\0\0\0\0\0\0\0\0\0\0\0", 12) == 0 && (bin[12] | bin[13]))
			continue;
		inet_ntop(AF_INET6, bin, ref, sizeof(ref));
		if (strcmp(a, ref) != 0 && bad++ < 5)
			printf("  %s, inet_ntop %s\n", a, ref);
#else
		(void)ref;
#endif
	}
	T_EQ_INT(bad, 0);
}

int main(void)
{
	T_RUN(test_report_exact_document);
	T_RUN(test_report_only_stats);
	T_RUN(test_report_formatters);
	T_RUN(test_report_rec_line);
	T_RUN(test_report_sink_failure);
	T_RUN(test_report_records_match_emitter);
	T_RUN(test_report_records_after_error);
	T_RUN(test_report_names_fit);
	T_RUN(test_report_time_extremes);
	T_RUN(test_report_addr_forms);
	T_RUN(test_report_addr_v4_bytes);
	T_RUN(test_report_addr_v6_random);
	return T_DONE();
}
