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
	char b[REPORT_TIME_MAX], a[REPORT_ADDR_MAX];
	uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	uint8_t v4[16] = { 192, 0, 2, 7 };

	T_EQ_STR(report_time(0, 0, b, sizeof(b)), "1970-01-01T00:00:00Z");
	T_EQ_STR(report_time(1 * SEC + 999999999, 1, b, sizeof(b)), "1970-01-01T00:00:01.999999Z");
	T_EQ_STR(report_addr(6, v6, a, sizeof(a)), "2001:db8::1");
	T_EQ_STR(report_addr(4, v4, a, sizeof(a)), "192.0.2.7");
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

int main(void)
{
	T_RUN(test_report_exact_document);
	T_RUN(test_report_only_stats);
	T_RUN(test_report_formatters);
	T_RUN(test_report_rec_line);
	T_RUN(test_report_sink_failure);
	return T_DONE();
}
