/* Filter expressions: exact text, and that libpcap compiles each one and
 * the program accepts/rejects hand-made packets as the rules say; and that
 * long lists, matched after decoding, keep exactly what the kernel filter
 * would. */
#include "t.h"
#include "filter.h"
#include "../tframe.h"

#include <pcap/pcap.h>
#include <stdint.h>

static struct config cfg;
static char expr[FILTER_MAX_EXPR];

#define V4AH "(ip and ip[9] == 51)"	/* IPv4 AH's pass */
#define V6X "(ip6 and (ip6[6] == 0 or ip6[6] == 43 or ip6[6] == 44 or ip6[6] == 51 or ip6[6] == 60))"	/* the IPv6 extension headers' pass */

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
	struct tframe f = { vlan ? 1 : 0, 4, proto, src, dst, sport, dport };

	return tframe_build(b, &f);
}

/* 1 if e, compiled for link type dlt, accepts the len bytes at b. */
static int accepts_raw(const char *e, int dlt, const uint8_t *b, size_t len)
{
	pcap_t *p = pcap_open_dead(dlt, 65535);
	struct bpf_program prog;
	struct pcap_pkthdr h;
	int r;

	memset(&h, 0, sizeof(h));
	h.caplen = h.len = (bpf_u_int32)len;
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

/* 1 if the compiled expression accepts the Ethernet frame. */
static int accepts(const char *e, int vlan, uint8_t proto, const uint8_t src[4],
		   const uint8_t dst[4], uint16_t sport, uint16_t dport)
{
	uint8_t b[TFRAME_MAX];

	return accepts_raw(e, DLT_EN10MB, b, frame(b, vlan, proto, src, dst, sport, dport));
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
	T_EQ_STR(expr, "((tcp and (src port 443 or dst port 80)) or (udp and (dst net 10.0.0.0/8))"
		 " or " V4AH " or " V6X ") and not (port 22)");
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

/* What the decoder reads but libpcap's tcp/udp/port cannot see into -
 * IPv6 behind extension headers, three VLAN tags, tagged frames in a
 * cooked capture - must reach filter_match() whatever the lists: before,
 * an unrelated ignore-ports entry dropped them all in the kernel. */
static void test_filter_passes_what_it_cannot_judge(void)
{
	static const uint8_t ext[] = { 0, 43, 44, 51, 60 };
	static const uint8_t S6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	static const uint8_t D6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 };
	static struct filter_lists fl;
	struct tframe f = { 0, 6, 6, S6, D6, 40000, 443 };
	uint8_t b[TFRAME_MAX + 64], m[TFRAME_MAX + 64];
	struct pkt p;
	size_t n, i;

	reset();
	add_port(&cfg.ignore_ports, 9);
	add_port(&cfg.inc_dst_tcp_ports, 443);
	filter_lists_init(&fl, &cfg);
	T_EQ_INT(filter_build(&cfg, FILTER_LINK_ETHER, expr, sizeof(expr)), 0);
	for (i = 0; i < sizeof(ext); i++) {
		/* IPv6, then one extension header of 8 bytes (AH: 12), then TCP */
		size_t xl = ext[i] == 51 ? 12 : 8, o = 14 + 40;

		n = tframe_build(b, &f);
		memcpy(m, b, o);
		memset(m + o, 0, xl);
		m[o] = 6;			/* next: TCP */
		m[o + 1] = ext[i] == 51 ? 1 : 0;	/* AH: (1 + 2) * 4 bytes */
		memcpy(m + o + xl, b + o, n - o);
		m[14 + 6] = ext[i];
		tframe_put16(m + 14 + 4, (unsigned)(n - o + xl));
		T_EQ_INT(decode_packet(DLT_EN10MB, m, n + xl, n + xl, &p), DEC_OK);
		T_EQ_INT(p.dport, 443);
		T_EQ_INT(filter_match(&fl, &cfg, &p), 1);
		T_EQ_INT(accepts_raw(expr, DLT_EN10MB, m, n + xl), 1);
	}
	/* three tags: Ethernet; a tagged frame in a cooked (SLL) capture */
	f.family = 4;
	f.src = (const uint8_t *)"\12\0\0\1";
	f.dst = (const uint8_t *)"\12\0\0\2";
	f.tags = 2;
	n = tframe_build(b, &f);
	memcpy(m, b, 12);
	tframe_put16(m + 12, 0x8100);
	tframe_put16(m + 14, 3);
	memcpy(m + 16, b + 12, n - 12);
	T_EQ_INT(decode_packet(DLT_EN10MB, m, n + 4, n + 4, &p), DEC_OK);
	T_EQ_INT(filter_match(&fl, &cfg, &p), 1);
	T_EQ_INT(accepts_raw(expr, DLT_EN10MB, m, n + 4), 1);
	f.tags = 1;
	n = tframe_build(b, &f);
	memset(m, 0, 14);		/* SLL: type, ARPHRD, address length, address */
	tframe_put16(m + 14, 0x8100);	/* protocol: the tag follows */
	memcpy(m + 16, b + 14, n - 14);
	T_EQ_INT(decode_packet(DLT_LINUX_SLL, m, n + 2, n + 2, &p), DEC_OK);
	T_EQ_INT(filter_match(&fl, &cfg, &p), 1);
	T_EQ_INT(filter_build(&cfg, FILTER_LINK_COOKED, expr, sizeof(expr)), 0);
	T_EQ_INT(accepts_raw(expr, DLT_LINUX_SLL, m, n + 2), 1);
	/* and the plain form compiles where ethertypes mean nothing */
	T_EQ_INT(filter_build(&cfg, FILTER_LINK_PLAIN, expr, sizeof(expr)), 0);
	T_EQ_INT(accepts_raw(expr, DLT_RAW, m + 20, n - 18), 1);
}

#define AH4_LEN 24	/* AH with a 12-byte ICV (HMAC-SHA1-96): length field 4 */

/* The Ethernet frame of tframe_build with an AH header (transport mode)
 * between IPv4 and TCP/UDP; returns its length. */
static size_t ah4_frame(uint8_t *m, const struct tframe *f)
{
	uint8_t b[TFRAME_MAX];
	size_t n = tframe_build(b, f), ip = 14 + 4 * (size_t)f->tags, l4 = ip + 20;

	memcpy(m, b, l4);
	memset(m + l4, 0, AH4_LEN);
	m[l4] = f->proto;		/* next header */
	m[l4 + 1] = AH4_LEN / 4 - 2;
	m[l4 + 7] = 1;			/* SPI */
	m[l4 + 11] = 1;			/* sequence number */
	memcpy(m + l4 + AH4_LEN, b + l4, n - l4);
	m[ip + 9] = 51;
	tframe_put16(m + ip + 2, (unsigned)(n - ip + AH4_LEN));
	return n + AH4_LEN;
}

/* IPv4 AH carrying TCP or UDP: libpcap's tcp, udp and port see protocol
 * 51, so the kernel filter passes it whatever the lists (before
 * 2026-11-29 it dropped it), untagged, tagged, cooked, raw, in the long
 * and the short form alike, and filter_match() decides after decoding. */
static void test_filter_passes_ipv4_ah(void)
{
	static const struct {
		uint8_t proto;
		uint16_t dport;
		int match;
	} c[] = { { 6, 443, 1 }, { 6, 80, 0 }, { 17, 53, 1 }, { 17, 54, 0 } };
	static struct filter_lists fl;
	static char shrt[FILTER_MAX_EXPR], cooked[2][FILTER_MAX_EXPR], plain[2][FILTER_MAX_EXPR];
	struct tframe f = { 0, 4, 6, A, B, 40000, 443 };
	uint8_t m[TFRAME_MAX + AH4_LEN], s[TFRAME_MAX + AH4_LEN];
	struct pkt p;
	size_t i, n;
	unsigned k;

	reset();
	add_port(&cfg.inc_dst_tcp_ports, 443);
	add_port(&cfg.inc_dst_udp_ports, 53);
	add_port(&cfg.ignore_ports, 9);
	filter_lists_init(&fl, &cfg);
	T_EQ_INT(filter_build(&cfg, FILTER_LINK_ETHER, expr, sizeof(expr)), 0);
	T_EQ_INT(filter_build_short(&cfg, FILTER_LINK_ETHER, shrt, sizeof(shrt)), 0);
	T_CHECK(strstr(expr, "port 443") != NULL && strstr(shrt, "port") == NULL);
	T_EQ_INT(filter_build(&cfg, FILTER_LINK_COOKED, cooked[0], sizeof(cooked[0])), 0);
	T_EQ_INT(filter_build_short(&cfg, FILTER_LINK_COOKED, cooked[1], sizeof(cooked[1])), 0);
	T_EQ_INT(filter_build(&cfg, FILTER_LINK_PLAIN, plain[0], sizeof(plain[0])), 0);
	T_EQ_INT(filter_build_short(&cfg, FILTER_LINK_PLAIN, plain[1], sizeof(plain[1])), 0);
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		f.proto = c[i].proto;
		f.dport = c[i].dport;
		for (f.tags = 0; f.tags <= 2; f.tags++) {
			n = ah4_frame(m, &f);
			T_EQ_INT(decode_packet(DLT_EN10MB, m, n, n, &p), DEC_OK);
			T_EQ_INT(p.proto, c[i].proto);
			T_EQ_INT(p.dport, c[i].dport);
			T_EQ_INT(filter_match(&fl, &cfg, &p), c[i].match);
			T_EQ_INT(accepts_raw(expr, DLT_EN10MB, m, n), 1);
			T_EQ_INT(accepts_raw(shrt, DLT_EN10MB, m, n), 1);
			/* without AH the kernel judges it itself */
			T_EQ_INT(accepts(expr, f.tags, f.proto, A, B, 40000, f.dport), c[i].match);
		}
		/* cooked (SLL): the untagged frame's IPv4 behind a 16-byte
		 * header; raw IP: the plain form */
		f.tags = 0;
		n = ah4_frame(m, &f);
		memset(s, 0, 14);
		tframe_put16(s + 14, 0x0800);
		memcpy(s + 16, m + 14, n - 14);
		T_EQ_INT(decode_packet(DLT_LINUX_SLL, s, n + 2, n + 2, &p), DEC_OK);
		T_EQ_INT(filter_match(&fl, &cfg, &p), c[i].match);
		T_EQ_INT(decode_packet(DLT_RAW, m + 14, n - 14, n - 14, &p), DEC_OK);
		T_EQ_INT(filter_match(&fl, &cfg, &p), c[i].match);
		for (k = 0; k < 2; k++) {
			T_EQ_INT(accepts_raw(cooked[k], DLT_LINUX_SLL, s, n + 2), 1);
			T_EQ_INT(accepts_raw(plain[k], DLT_RAW, m + 14, n - 14), 1);
		}
	}
	/* ignore-ports: the kernel cannot see a port behind AH, the lists
	 * can; ignore-ips: the addresses are IPv4's, the kernel drops it */
	f.proto = 6;
	f.tags = 1;
	f.dport = 443;
	n = ah4_frame(m, &f);
	T_EQ_INT(decode_packet(DLT_EN10MB, m, n, n, &p), DEC_OK);
	T_EQ_INT(filter_match(&fl, &cfg, &p), 1);
	f.sport = 9;
	n = ah4_frame(m, &f);
	T_EQ_INT(decode_packet(DLT_EN10MB, m, n, n, &p), DEC_OK);
	T_EQ_INT(filter_match(&fl, &cfg, &p), 0);
	T_EQ_INT(accepts_raw(expr, DLT_EN10MB, m, n), 1);
	f.sport = 40000;
	n = ah4_frame(m, &f);
	add_net(&cfg.ignore_ips, "10.0.0.2");
	filter_lists_init(&fl, &cfg);
	T_EQ_INT(decode_packet(DLT_EN10MB, m, n, n, &p), DEC_OK);
	T_EQ_INT(filter_match(&fl, &cfg, &p), 0);
	T_EQ_INT(filter_build(&cfg, FILTER_LINK_ETHER, expr, sizeof(expr)), 0);
	T_EQ_INT(accepts_raw(expr, DLT_EN10MB, m, n), 0);
}

static void test_filter_both_ignored_and_overflow(void)
{
	unsigned i;

	reset();
	cfg.ignore_tcp = cfg.ignore_udp = 1;
	T_EQ_INT(filter_build(&cfg, 0, expr, sizeof(expr)), -1);
	reset();
	cfg.kernel_filter_max = CFG_MAX_LIST;
	for (i = 0; i < CFG_MAX_LIST; i++)
		add_port(&cfg.inc_dst_tcp_ports, (uint16_t)(i + 1));
	T_EQ_INT(filter_build(&cfg, 1, expr, 64), -1);		/* does not fit */
	T_EQ_INT(filter_build(&cfg, 1, expr, sizeof(expr)), 0);
	T_EQ_INT(accepts(expr, 1, 6, A, B, 40000, 256), 1);
	T_EQ_INT(accepts(expr, 1, 6, A, B, 40000, 257), 0);
}

/* ---- filter_match() against libpcap's program ------------------------ */

#define RAND_CONFIGS  400
#define RAND_PACKETS  300
#define RAND_LIST_MAX 3

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static unsigned rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng >> 32) % n;
}

static const uint16_t port_pool[] = { 1, 22, 53, 80, 443, 40000, 65535 };
/* Bits beyond whole bytes, both families, and neighbours on each side. */
static const char *const net_pool[] = {
	"10.0.0.0/24", "10.0.0.2", "10.0.0.0/31", "10.0.0.0/8", "192.0.2.128/25",
	"192.0.2.0/23", "0.0.0.0/0", "2001:db8::/32", "2001:db8::/33", "fe80::1",
	"2001:db8:1::/48", "2001:db8::1/127",
};
static const char *const addr_pool[] = {
	"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.1.5", "10.200.0.1", "192.0.2.9",
	"192.0.2.200", "192.0.3.1", "2001:db8::1", "2001:db8::2", "2001:db8:8000::1",
	"2001:db8:1::2", "fe80::1", "2001:db9::5",
};

#define NPOOL(a) (sizeof(a) / sizeof((a)[0]))

static void rand_ports(struct cfg_ports *p)
{
	unsigned n = rnd(2) ? 0 : 1 + rnd(RAND_LIST_MAX);

	while (n--)
		add_port(p, port_pool[rnd(NPOOL(port_pool))]);
}

static void rand_nets(struct cfg_nets *l)
{
	unsigned n = rnd(2) ? 0 : 1 + rnd(RAND_LIST_MAX);

	while (n--)
		add_net(l, net_pool[rnd(NPOOL(net_pool))]);
}

static void rand_config(void)
{
	reset();
	rand_ports(&cfg.inc_src_tcp_ports);
	rand_ports(&cfg.inc_dst_tcp_ports);
	rand_ports(&cfg.inc_src_udp_ports);
	rand_ports(&cfg.inc_dst_udp_ports);
	rand_nets(&cfg.inc_src_tcp_ips);
	rand_nets(&cfg.inc_dst_tcp_ips);
	rand_nets(&cfg.inc_src_udp_ips);
	rand_nets(&cfg.inc_dst_udp_ips);
	rand_nets(&cfg.ignore_ips);
	rand_ports(&cfg.ignore_ports);
	cfg.ignore_tcp = rnd(8) == 0;
	cfg.ignore_udp = !cfg.ignore_tcp && rnd(8) == 0;
}

/* Ethernet, 0-2 VLAN tags, IPv4 or IPv6, TCP or UDP, both addresses drawn
 * from the pool in one family. */
static size_t rand_frame(uint8_t *b)
{
	struct cfg_net s, d;
	struct tframe f;

	do {
		config_parse_net(addr_pool[rnd(NPOOL(addr_pool))], &s);
		config_parse_net(addr_pool[rnd(NPOOL(addr_pool))], &d);
	} while (s.family != d.family);
	f.tags = rnd(3);
	f.proto = rnd(2) ? 6 : 17;
	f.family = s.family;
	f.src = s.addr;
	f.dst = d.addr;
	/* ports: from the pool mostly, some ephemeral */
	f.sport = rnd(3) ? port_pool[rnd(NPOOL(port_pool))] : (uint16_t)(32768 + rnd(1000));
	f.dport = port_pool[rnd(NPOOL(port_pool))];
	return tframe_build(b, &f);
}

/* Against libpcap's own meaning of the expression, the program compiled
 * without optimising: equal on every packet. The optimised program (what
 * the kernel runs) may keep more, never less: libpcap 1.10.3's optimiser
 * keeps some packets its lists exclude, which is why the lists are also
 * checked after decoding (1.10.5 gets them right). */
static void test_filter_match_agrees_with_bpf(void)
{
	static struct filter_lists fl;
	pcap_t *pc = pcap_open_dead(DLT_EN10MB, 65535);
	struct bpf_program ref, opt;
	struct pcap_pkthdr h;
	struct pkt p;
	uint8_t b[TFRAME_MAX];
	unsigned c, n, kept = 0, dropped = 0, bad = 0, over = 0;
	int bpf, mine;

	for (c = 0; c < RAND_CONFIGS && bad < 5; c++) {
		rand_config();
		cfg.kernel_filter_max = 10 * CFG_MAX_LIST;	/* all in the expression */
		T_EQ_INT(filter_build(&cfg, 1, expr, sizeof(expr)), 0);
		if (!expr[0])
			continue;
		if (pcap_compile(pc, &ref, expr, 0, PCAP_NETMASK_UNKNOWN) < 0) {
			printf("  compile failed: %s: %s\n", expr, pcap_geterr(pc));
			t_cur_failed = 1;
			break;
		}
		/* "rejects all packets": the agent refuses such lists */
		if (pcap_compile(pc, &opt, expr, 1, PCAP_NETMASK_UNKNOWN) < 0) {
			pcap_freecode(&ref);
			continue;
		}
		filter_lists_init(&fl, &cfg);
		T_EQ_INT(fl.on, 1);
		for (n = 0; n < RAND_PACKETS; n++) {
			memset(&h, 0, sizeof(h));
			h.caplen = h.len = (bpf_u_int32)rand_frame(b);
			bpf = pcap_offline_filter(&ref, &h, b) != 0;
			T_EQ_INT(decode_packet(DLT_EN10MB, b, h.caplen, h.len, &p), DEC_OK);
			mine = filter_match(&fl, &cfg, &p);
			kept += mine;
			dropped += !mine;
			if (bpf != mine && bad++ < 5)
				printf("  differs (bpf %d, here %d) on packet %u "
				       "(IPv%u, proto %u, ports %u -> %u, %u bytes) of: %s\n",
				       bpf, mine, n, p.family, p.proto, p.sport,
				       p.dport, h.caplen, expr);
			if (mine && !pcap_offline_filter(&opt, &h, b) && over++ < 5)
				printf("  the optimised program drops packet %u of: %s\n",
				       n, expr);
		}
		pcap_freecode(&ref);
		pcap_freecode(&opt);
	}
	pcap_close(pc);
	T_EQ_INT(bad, 0);
	T_EQ_INT(over, 0);
	/* Both answers are common, or the comparison says little. */
	T_CHECK(kept > RAND_CONFIGS * RAND_PACKETS / 10);
	T_CHECK(dropped > RAND_CONFIGS * RAND_PACKETS / 10);
}

/* Short lists go into the kernel; past the limit only the protocols do.
 * Either way they are matched after decoding. */
static void test_filter_kernel_limit(void)
{
	static struct filter_lists fl;
	unsigned i;

	reset();
	for (i = 0; i < cfg.kernel_filter_max; i++)
		add_port(&cfg.ignore_ports, (uint16_t)(1000 + i));
	T_EQ_INT(filter_in_kernel(&cfg), 1);
	filter_lists_init(&fl, &cfg);
	T_EQ_INT(fl.on, 1);
	T_EQ_INT(filter_build(&cfg, 0, expr, sizeof(expr)), 0);
	T_CHECK(strstr(expr, "port 1000") != NULL);
	add_net(&cfg.inc_dst_udp_ips, "10.0.0.0/8");
	T_EQ_INT(filter_in_kernel(&cfg), 0);
	filter_lists_init(&fl, &cfg);
	T_EQ_INT(fl.on, 1);
	T_EQ_INT(filter_build(&cfg, 0, expr, sizeof(expr)), 0);
	T_EQ_STR(expr, "((tcp) or (udp) or " V4AH " or " V6X ")");
	cfg.ignore_udp = 1;
	T_EQ_INT(filter_build(&cfg, 1, expr, sizeof(expr)), 0);
	T_EQ_STR(expr, "((tcp) or " V4AH " or " V6X ") or (vlan and (((tcp) or " V4AH " or " V6X
		 ") or (vlan and (((tcp) or " V4AH " or " V6X ") or vlan))))");
	T_EQ_INT(filter_build(&cfg, 2, expr, sizeof(expr)), 0);	/* cooked */
	T_EQ_STR(expr, "((tcp) or " V4AH " or " V6X ") or ether proto 0x8100 or "
		 "ether proto 0x88a8 or ether proto 0x9100");
	/* Within the limit but longer than an expression holds (600 long
	 * IPv6 addresses, each written three times on Ethernet): matched
	 * after decoding, not refused (until 2026-11-27 the start failed). */
	reset();
	cfg.kernel_filter_max = 1000;
	for (i = 0; i < 600; i++) {
		char a[64];

		snprintf(a, sizeof(a), "2001:db8:%x:%x:1234:5678:9abc:def0", i / 256, i % 256);
		add_net(i < 200 ? &cfg.inc_dst_tcp_ips : i < 400 ? &cfg.inc_dst_udp_ips :
			&cfg.ignore_ips, a);
	}
	T_EQ_INT(filter_in_kernel(&cfg), 0);
	T_EQ_INT(filter_build(&cfg, 1, expr, sizeof(expr)), 0);
	T_CHECK(strstr(expr, "2001:db8") == NULL);
	T_EQ_INT(filter_build(&cfg, 2, expr, sizeof(expr)), 0);
	cfg.inc_dst_udp_ips.n = 50;	/* 450: fits, into the kernel */
	cfg.ignore_ips.n = 0;
	T_EQ_INT(filter_in_kernel(&cfg), 1);
	T_EQ_INT(filter_build(&cfg, 1, expr, sizeof(expr)), 0);
	T_CHECK(strstr(expr, "dst net 2001:db8:0:c7:1234:5678:9abc:def0/128") != NULL);
	/* No filter keys at all: nothing to match, whatever the limit. */
	reset();
	cfg.kernel_filter_max = 0;
	filter_lists_init(&fl, &cfg);
	T_EQ_INT(fl.on, 0);
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
	T_RUN(test_filter_passes_what_it_cannot_judge);
	T_RUN(test_filter_passes_ipv4_ah);
	T_RUN(test_filter_match_agrees_with_bpf);
	T_RUN(test_filter_kernel_limit);
	return T_DONE();
}
