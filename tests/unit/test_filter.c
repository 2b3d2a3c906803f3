/* Filter expressions: exact text, and that libpcap compiles each one and
 * the program accepts/rejects hand-made packets as the rules say. */
#include "t.h"
#include "filter.h"

#include <pcap/pcap.h>
#include <stdint.h>

static struct config cfg;
static char expr[FILTER_MAX_EXPR];

static void reset(void)
{
	config_defaults(&cfg);
}

static void add_port(struct cfg_ports *p, uint16_t port)
{
	p->port[p->n++] = port;
}

static void add_net(struct cfg_nets *n, const char *s)
{
	T_EQ_INT(config_parse_net(s, &n->net[n->n]), 0);
	n->n++;
}

/* An Ethernet/IPv4/TCP-or-UDP frame, optionally with one 802.1Q tag. */
static size_t frame(uint8_t *b, int vlan, uint8_t proto, const uint8_t src[4],
		    const uint8_t dst[4], uint16_t sport, uint16_t dport)
{
	size_t o = 12, ip;

	memset(b, 0, 128);
	if (vlan) {
		b[o++] = 0x81; b[o++] = 0x00; b[o++] = 0x00; b[o++] = 0x05;
	}
	b[o++] = 0x08; b[o++] = 0x00;
	ip = o;
	b[ip] = 0x45;
	b[ip + 3] = 40;
	b[ip + 8] = 64;
	b[ip + 9] = proto;
	memcpy(b + ip + 12, src, 4);
	memcpy(b + ip + 16, dst, 4);
	o = ip + 20;
	b[o] = (uint8_t)(sport >> 8); b[o + 1] = (uint8_t)sport;
	b[o + 2] = (uint8_t)(dport >> 8); b[o + 3] = (uint8_t)dport;
	if (proto == 6)
		b[o + 12] = 0x50;
	return o + 20;
}

/* 1 if the compiled expression accepts the frame. */
static int accepts(const char *e, int vlan, uint8_t proto, const uint8_t src[4],
		   const uint8_t dst[4], uint16_t sport, uint16_t dport)
{
	pcap_t *p = pcap_open_dead(DLT_EN10MB, 65535);
	struct bpf_program prog;
	struct pcap_pkthdr h;
	uint8_t b[128];
	int r;

	memset(&h, 0, sizeof(h));
	h.caplen = h.len = (bpf_u_int32)frame(b, vlan, proto, src, dst, sport, dport);
	if (pcap_compile(p, &prog, e, 1, PCAP_NETMASK_UNKNOWN) < 0) {
		printf("  compile failed: %s: %s\n", e, pcap_geterr(p));
		pcap_close(p);
		return -1;
	}
	r = pcap_offline_filter(&prog, &h, b) != 0;
	pcap_freecode(&prog);
	pcap_close(p);
	return r;
}

static const uint8_t A[4] = { 10, 0, 0, 1 }, B[4] = { 10, 0, 0, 2 }, C[4] = { 192, 0, 2, 9 };

static void test_filter_none(void)
{
	reset();
	T_EQ_INT(filter_build(&cfg, 1, expr, sizeof(expr)), 0);
	T_EQ_STR(expr, "");
}

static void test_filter_text(void)
{
	reset();
	add_port(&cfg.inc_dst_tcp_ports, 80);
	add_port(&cfg.inc_src_tcp_ports, 443);
	add_net(&cfg.inc_dst_udp_ips, "10.0.0.0/8");
	cfg.ignore_ports.port[cfg.ignore_ports.n++] = 22;
	T_EQ_INT(filter_build(&cfg, 0, expr, sizeof(expr)), 0);
	T_EQ_STR(expr, "((tcp and (src port 443 or dst port 80)) or (udp and (dst net 10.0.0.0/8)))"
		 " and not (port 22)");
}

static void test_filter_tcp_ports(void)
{
	reset();
	add_port(&cfg.inc_dst_tcp_ports, 80);
	T_EQ_INT(filter_build(&cfg, 1, expr, sizeof(expr)), 0);
	T_EQ_INT(accepts(expr, 0, 6, A, B, 40000, 80), 1);
	T_EQ_INT(accepts(expr, 1, 6, A, B, 40000, 80), 1);	/* VLAN-tagged */
	T_EQ_INT(accepts(expr, 0, 6, A, B, 40000, 81), 0);
	T_EQ_INT(accepts(expr, 0, 6, B, A, 80, 40000), 0);	/* src port not listed */
	T_EQ_INT(accepts(expr, 0, 17, A, B, 40000, 53), 1);	/* udp unrestricted */
}

static void test_filter_ips_and_ports_combine(void)
{
	reset();
	add_port(&cfg.inc_src_udp_ports, 53);
	add_net(&cfg.inc_src_udp_ips, "10.0.0.1");
	T_EQ_INT(filter_build(&cfg, 1, expr, sizeof(expr)), 0);
	T_EQ_INT(accepts(expr, 0, 17, A, B, 53, 40000), 1);
	T_EQ_INT(accepts(expr, 0, 17, B, A, 53, 40000), 0);	/* wrong src ip */
	T_EQ_INT(accepts(expr, 0, 17, A, B, 54, 40000), 0);	/* wrong src port */
	T_EQ_INT(accepts(expr, 1, 17, A, B, 53, 40000), 1);
}

static void test_filter_ignores(void)
{
	reset();
	cfg.ignore_udp = 1;
	add_net(&cfg.ignore_ips, "192.0.2.0/24");
	add_port(&cfg.ignore_ports, 22);
	T_EQ_INT(filter_build(&cfg, 1, expr, sizeof(expr)), 0);
	T_EQ_INT(accepts(expr, 0, 6, A, B, 40000, 80), 1);
	T_EQ_INT(accepts(expr, 0, 17, A, B, 40000, 53), 0);	/* ignore-udp */
	T_EQ_INT(accepts(expr, 0, 6, A, C, 40000, 80), 0);	/* ignore-ips dst */
	T_EQ_INT(accepts(expr, 0, 6, C, A, 40000, 80), 0);	/* ignore-ips src */
	T_EQ_INT(accepts(expr, 0, 6, A, B, 22, 40000), 0);	/* ignore-ports */
	T_EQ_INT(accepts(expr, 1, 6, A, C, 40000, 80), 0);
	T_EQ_INT(accepts(expr, 1, 6, A, B, 40000, 80), 1);
}

static void test_filter_ipv6_net_compiles(void)
{
	reset();
	add_net(&cfg.inc_dst_tcp_ips, "2001:db8::/32");
	add_net(&cfg.ignore_ips, "fe80::1");
	T_EQ_INT(filter_build(&cfg, 1, expr, sizeof(expr)), 0);
	T_CHECK(strstr(expr, "dst net 2001:db8::/32") != NULL);
	T_CHECK(strstr(expr, "net fe80::1/128") != NULL);
	T_EQ_INT(accepts(expr, 0, 6, A, B, 40000, 80), 0);	/* v4 not in a v6 list */
}

static void test_filter_both_ignored_and_overflow(void)
{
	unsigned i;

	reset();
	cfg.ignore_tcp = cfg.ignore_udp = 1;
	T_EQ_INT(filter_build(&cfg, 0, expr, sizeof(expr)), -1);
	reset();
	for (i = 0; i < CFG_MAX_LIST; i++)
		add_port(&cfg.inc_dst_tcp_ports, (uint16_t)(i + 1));
	T_EQ_INT(filter_build(&cfg, 1, expr, 64), -1);		/* does not fit */
	T_EQ_INT(filter_build(&cfg, 1, expr, sizeof(expr)), 0);
	T_EQ_INT(accepts(expr, 1, 6, A, B, 40000, 256), 1);
	T_EQ_INT(accepts(expr, 1, 6, A, B, 40000, 257), 0);
}

int main(void)
{
	T_RUN(test_filter_none);
	T_RUN(test_filter_text);
	T_RUN(test_filter_tcp_ports);
	T_RUN(test_filter_ips_and_ports_combine);
	T_RUN(test_filter_ignores);
	T_RUN(test_filter_ipv6_net_compiles);
	T_RUN(test_filter_both_ignored_and_overflow);
	return T_DONE();
}
