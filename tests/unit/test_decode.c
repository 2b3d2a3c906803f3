/* decode_packet on hand-built frames. Every decode runs on a heap copy of
 * exactly caplen bytes, so an over-read shows up under ASan. */
#include <pcap/dlt.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "t.h"

#ifndef DLT_LINUX_SLL2
#define DLT_LINUX_SLL2 276
#endif
#define LT_RAW_FILE 101		/* LINKTYPE_RAW */
#define LT_RAW_OPENBSD 14
#define LT_LOOP_NUM 108		/* DLT_LOOP except on OpenBSD */
#define LT_IEEE802_11 105	/* a real, unsupported link type */

#define BUF_MAX 1024

struct buf {
	uint8_t b[BUF_MAX];
	size_t n;
};

static const uint8_t A4S[4] = { 192, 0, 2, 1 };
static const uint8_t A4D[4] = { 198, 51, 100, 2 };
static const uint8_t A6S[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
				 0, 0, 0, 0, 0, 0, 0, 1 };
static const uint8_t A6D[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
				 0, 0, 0, 0, 0, 0, 0, 2 };

/* ---- frame builders ---- */

static void put(struct buf *b, const void *d, size_t n)
{
	if (b->n + n > BUF_MAX)
		abort();
	memcpy(b->b + b->n, d, n);
	b->n += n;
}

static void put8(struct buf *b, unsigned v)
{
	uint8_t x = (uint8_t)v;

	put(b, &x, 1);
}

static void put16(struct buf *b, unsigned v)
{
	put8(b, v >> 8);
	put8(b, v);
}

static void put32(struct buf *b, uint32_t v)
{
	put16(b, v >> 16);
	put16(b, v & 0xffff);
}

static void fill(struct buf *b, unsigned v, size_t n)
{
	while (n--)
		put8(b, v);
}

static void eth(struct buf *b, unsigned type)
{
	static const uint8_t macs[12] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 };

	put(b, macs, sizeof(macs));
	put16(b, type);
}

static void vlan(struct buf *b, unsigned vid, unsigned next)
{
	put16(b, vid);
	put16(b, next);
}

static void sll(struct buf *b, unsigned proto)
{
	put16(b, 0);		/* packet type: to us */
	put16(b, 1);		/* ARPHRD_ETHER */
	put16(b, 6);
	fill(b, 0xaa, 8);
	put16(b, proto);
}

static void sll2(struct buf *b, unsigned proto)
{
	put16(b, proto);
	put16(b, 0);
	put32(b, 2);		/* ifindex */
	put16(b, 1);		/* ARPHRD_ETHER */
	put8(b, 0);
	put8(b, 6);
	fill(b, 0xbb, 8);
}

/* IPv4 header of ihl words (options are NOPs). */
static void ipv4x(struct buf *b, unsigned ver, unsigned ihl, unsigned totlen,
		  unsigned frag, unsigned proto)
{
	put8(b, (ver << 4) | ihl);
	put8(b, 0);
	put16(b, totlen);
	put16(b, 0x1234);
	put16(b, frag);
	put8(b, 64);
	put8(b, proto);
	put16(b, 0);
	put(b, A4S, 4);
	put(b, A4D, 4);
	if (ihl > 5)
		fill(b, 1, (ihl - 5) * 4);
}

static void ipv4(struct buf *b, unsigned totlen, unsigned frag, unsigned proto)
{
	ipv4x(b, 4, 5, totlen, frag, proto);
}

static void ipv6(struct buf *b, unsigned plen, unsigned nh)
{
	put32(b, 0x60000000);
	put16(b, plen);
	put8(b, nh);
	put8(b, 64);
	put(b, A6S, 16);
	put(b, A6D, 16);
}

/* Hop-by-hop / routing / destination options: (len+1)*8 bytes. */
static void ext6(struct buf *b, unsigned nh, unsigned len)
{
	put8(b, nh);
	put8(b, len);
	fill(b, 0, (len + 1) * 8 - 2);
}

/* IPsec AH, after IPv4 or IPv6: (len+2)*4 bytes. */
static void ah(struct buf *b, unsigned nh, unsigned len)
{
	put8(b, nh);
	put8(b, len);
	fill(b, 0, (len + 2) * 4 - 2);
}

static void frag6(struct buf *b, unsigned nh, unsigned off, unsigned more)
{
	put8(b, nh);
	put8(b, 0);
	put16(b, (off << 3) | (more ? 1 : 0));
	put32(b, 0xdeadbeef);
}

static void tcp(struct buf *b, unsigned sport, unsigned dport, unsigned doff,
		unsigned flags)
{
	put16(b, sport);
	put16(b, dport);
	put32(b, 1000);
	put32(b, 0);
	put8(b, doff << 4);
	put8(b, flags);
	put16(b, 65535);
	put16(b, 0);
	put16(b, 0);
}

static void udp(struct buf *b, unsigned sport, unsigned dport, unsigned len)
{
	put16(b, sport);
	put16(b, dport);
	put16(b, len);
	put16(b, 0);
}

/* ---- decode helpers ---- */

static enum dec_reason dec_n(int lt, const struct buf *b, size_t len,
			     struct pkt *p)
{
	uint8_t *copy = malloc(len ? len : 1);
	enum dec_reason r;

	if (!copy)
		abort();
	memcpy(copy, b->b, len);
	memset(p, 0xa5, sizeof(*p));	/* decode must overwrite all */
	r = decode_packet(lt, copy, (uint32_t)len, (uint32_t)len, p);
	free(copy);
	return r;
}

static enum dec_reason dec(int lt, const struct buf *b, struct pkt *p)
{
	return dec_n(lt, b, b->n, p);
}

static int zero(const uint8_t *x, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (x[i])
			return 0;
	return 1;
}

static int pkt_is_zero(const struct pkt *p)
{
	struct pkt z;

	memset(&z, 0, sizeof(z));
	return memcmp(p, &z, sizeof(z)) == 0;
}

static void check_v4(const struct pkt *p, unsigned proto, unsigned sport,
		     unsigned dport, unsigned flags, unsigned ip_len)
{
	T_EQ_INT(p->family, 4);
	T_EQ_INT(p->proto, proto);
	T_EQ_INT(p->sport, sport);
	T_EQ_INT(p->dport, dport);
	T_EQ_INT(p->tcp_flags, flags);
	T_EQ_INT(p->ip_len, ip_len);
	T_CHECK(memcmp(p->src, A4S, 4) == 0);
	T_CHECK(memcmp(p->dst, A4D, 4) == 0);
	T_CHECK(zero(p->src + 4, 12));
	T_CHECK(zero(p->dst + 4, 12));
}

static void check_v6(const struct pkt *p, unsigned proto, unsigned sport,
		     unsigned dport, unsigned flags, unsigned ip_len)
{
	T_EQ_INT(p->family, 6);
	T_EQ_INT(p->proto, proto);
	T_EQ_INT(p->sport, sport);
	T_EQ_INT(p->dport, dport);
	T_EQ_INT(p->tcp_flags, flags);
	T_EQ_INT(p->ip_len, ip_len);
	T_CHECK(memcmp(p->src, A6S, 16) == 0);
	T_CHECK(memcmp(p->dst, A6D, 16) == 0);
}

/* A failure after the IP header: addresses kept, nothing from L4. */
static void check_no_l4(const struct pkt *p)
{
	T_EQ_INT(p->proto, 0);
	T_EQ_INT(p->sport, 0);
	T_EQ_INT(p->dport, 0);
	T_EQ_INT(p->tcp_flags, 0);
}

#define TCP_SA (DEC_TCP_SYN | DEC_TCP_ACK)

/* ---- link layers ---- */

static void test_eth_ipv4_tcp(void)
{
	struct buf b = { .n = 0 };
	struct pkt p;

	eth(&b, 0x0800);
	ipv4(&b, 40, 0x4000, 6);	/* DF */
	tcp(&b, 443, 51000, 5, TCP_SA);
	T_EQ_INT(dec(DLT_EN10MB, &b, &p), DEC_OK);
	check_v4(&p, DEC_PROTO_TCP, 443, 51000, TCP_SA, 40);
	T_EQ_INT(p.first_frag, 0);
}

static void test_eth_ipv4_udp(void)
{
	struct buf b = { .n = 0 };
	struct pkt p;

	eth(&b, 0x0800);
	ipv4(&b, 28, 0, 17);
	udp(&b, 5353, 53, 8);
	T_EQ_INT(dec(DLT_EN10MB, &b, &p), DEC_OK);
	check_v4(&p, DEC_PROTO_UDP, 5353, 53, 0, 28);
}

/* Minimum-size frames carry padding: L4 must stop at the total length. */
static void test_eth_padding(void)
{
	struct buf b = { .n = 0 };
	struct pkt p;

	eth(&b, 0x0800);
	ipv4(&b, 28, 0, 17);
	udp(&b, 1, 2, 8);
	fill(&b, 0xee, 18);
	T_EQ_INT(dec(DLT_EN10MB, &b, &p), DEC_OK);
	check_v4(&p, DEC_PROTO_UDP, 1, 2, 0, 28);

	b.n = 0;		/* total length leaves 4 UDP bytes; padding
				 * must not count as the other 4 */
	eth(&b, 0x0800);
	ipv4(&b, 24, 0, 17);
	udp(&b, 1, 2, 8);
	fill(&b, 0, 18);
	T_EQ_INT(dec(DLT_EN10MB, &b, &p), DEC_L4_TRUNCATED);
	check_no_l4(&p);
	T_EQ_INT(p.family, 4);
	T_EQ_INT(p.ip_len, 24);
}

static void test_eth_ipv6_tcp(void)
{
	struct buf b = { .n = 0 };
	struct pkt p;

	eth(&b, 0x86dd);
	ipv6(&b, 20, 6);
	tcp(&b, 22, 40000, 5, DEC_TCP_ACK);
	T_EQ_INT(dec(DLT_EN10MB, &b, &p), DEC_OK);
	check_v6(&p, DEC_PROTO_TCP, 22, 40000, DEC_TCP_ACK, 60);
	T_EQ_INT(p.first_frag, 0);
}

static void test_vlan_single(void)
{
	struct buf b = { .n = 0 };
	struct pkt p;

	eth(&b, 0x8100);
	vlan(&b, 100, 0x0800);
	ipv4(&b, 40, 0, 6);
	tcp(&b, 80, 1234, 5, DEC_TCP_FIN | DEC_TCP_ACK);
	T_EQ_INT(dec(DLT_EN10MB, &b, &p), DEC_OK);
	check_v4(&p, DEC_PROTO_TCP, 80, 1234, DEC_TCP_FIN | DEC_TCP_ACK, 40);
}

static void test_vlan_ipv6(void)
{
	struct buf b = { .n = 0 };
	struct pkt p;

	eth(&b, 0x8100);
	vlan(&b, 7, 0x86dd);
	ipv6(&b, 8, 17);
	udp(&b, 546, 547, 8);
	T_EQ_INT(dec(DLT_EN10MB, &b, &p), DEC_OK);
	check_v6(&p, DEC_PROTO_UDP, 546, 547, 0, 48);
}

static void test_qinq_88a8(void)
{
	struct buf b = { .n = 0 };
	struct pkt p;

	eth(&b, 0x88a8);
	vlan(&b, 200, 0x8100);
	vlan(&b, 100, 0x0800);
	ipv4(&b, 28, 0, 17);
	udp(&b, 123, 123, 8);
	T_EQ_INT(dec(DLT_EN10MB, &b, &p), DEC_OK);
	check_v4(&p, DEC_PROTO_UDP, 123, 123, 0, 28);
}

static void test_qinq_9100(void)
{
	struct buf b = { .n = 0 };
	struct pkt p;

	eth(&b, 0x9100);
	vlan(&b, 200, 0x8100);
	vlan(&b, 100, 0x86dd);
	ipv6(&b, 8, 17);
	udp(&b, 4000, 53, 8);
	T_EQ_INT(dec(DLT_EN10MB, &b, &p), DEC_OK);
	check_v6(&p, DEC_PROTO_UDP, 4000, 53, 0, 48);
}

static void test_vlan_three(void)
{
	struct buf b = { .n = 0 };
	struct pkt p;

	eth(&b, 0x88a8);
	vlan(&b, 1, 0x8100);
	vlan(&b, 2, 0x8100);
	vlan(&b, 3, 0x0800);
	ipv4(&b, 40, 0, 6);
	tcp(&b, 5432, 60000, 5, DEC_TCP_RST);
	T_EQ_INT(dec(DLT_EN10MB, &b, &p), DEC_OK);
	check_v4(&p, DEC_PROTO_TCP, 5432, 60000, DEC_TCP_RST, 40);
}

static void test_vlan_max_and_too_deep(void)
{
	struct buf b = { .n = 0 };
	struct pkt p;
	int i;

	eth(&b, 0x8100);
	for (i = 1; i < DEC_MAX_VLAN_TAGS; i++)
		vlan(&b, (unsigned)i, 0x8100);
	vlan(&b, 9, 0x0800);
	ipv4(&b, 28, 0, 17);
	udp(&b, 9, 10, 8);
	T_EQ_INT(dec(DLT_EN10MB, &b, &p), DEC_OK);
	check_v4(&p, DEC_PROTO_UDP, 9, 10, 0, 28);

	b.n = 0;
	eth(&b, 0x8100);
	for (i = 0; i < DEC_MAX_VLAN_TAGS; i++)
		vlan(&b, (unsigned)i, 0x8100);
	vlan(&b, 9, 0x0800);
	ipv4(&b, 28, 0, 17);
	udp(&b, 9, 10, 8);
	T_EQ_INT(dec(DLT_EN10MB, &b, &p), DEC_VLAN_TOO_DEEP);
	T_CHECK(pkt_is_zero(&p));
}

static void test_sll(void)
{
	struct buf b = { .n = 0 };
	struct pkt p;

	sll(&b, 0x0800);
	ipv4(&b, 40, 0, 6);
	tcp(&b, 3306, 45000, 5, DEC_TCP_SYN);
	T_EQ_INT(dec(DLT_LINUX_SLL, &b, &p), DEC_OK);
	check_v4(&p, DEC_PROTO_TCP, 3306, 45000, DEC_TCP_SYN, 40);

	b.n = 0;
	sll(&b, 0x86dd);
	ipv6(&b, 8, 17);
	udp(&b, 1, 2, 8);
	T_EQ_INT(dec(DLT_LINUX_SLL, &b, &p), DEC_OK);
	check_v6(&p, DEC_PROTO_UDP, 1, 2, 0, 48);

	b.n = 0;		/* 802.2 LLC frames: protocol 0x0004 */
	sll(&b, 0x0004);
	fill(&b, 0, 40);
	T_EQ_INT(dec(DLT_LINUX_SLL, &b, &p), DEC_NOT_IP);
}

static void test_sll_vlan(void)
{
	struct buf b = { .n = 0 };
	struct pkt p;

	sll(&b, 0x8100);
	vlan(&b, 42, 0x0800);
	ipv4(&b, 28, 0, 17);
	udp(&b, 67, 68, 8);
	T_EQ_INT(dec(DLT_LINUX_SLL, &b, &p), DEC_OK);
	check_v4(&p, DEC_PROTO_UDP, 67, 68, 0, 28);
}

static void test_sll2(void)
{
	struct buf b = { .n = 0 };
	struct pkt p;

	sll2(&b, 0x86dd);
	ipv6(&b, 20, 6);
	tcp(&b, 8443, 33000, 5, TCP_SA);
	T_EQ_INT(dec(DLT_LINUX_SLL2, &b, &p), DEC_OK);
	check_v6(&p, DEC_PROTO_TCP, 8443, 33000, TCP_SA, 60);

	b.n = 0;
	sll2(&b, 0x8100);
	vlan(&b, 5, 0x0800);
	ipv4(&b, 28, 0, 17);
	udp(&b, 500, 4500, 8);
	T_EQ_INT(dec(DLT_LINUX_SLL2, &b, &p), DEC_OK);
	check_v4(&p, DEC_PROTO_UDP, 500, 4500, 0, 28);

	b.n = 0;
	sll2(&b, 0x0806);
	fill(&b, 0, 28);
	T_EQ_INT(dec(DLT_LINUX_SLL2, &b, &p), DEC_NOT_IP);
}

static void test_raw(void)
{
	static const int lts[] = { DLT_RAW, LT_RAW_OPENBSD, LT_RAW_FILE };
	struct buf b4 = { .n = 0 }, b6 = { .n = 0 }, bad = { .n = 0 };
	struct pkt p;
	size_t i;

	ipv4(&b4, 40, 0, 6);
	tcp(&b4, 25, 1025, 5, DEC_TCP_SYN);
	ipv6(&b6, 8, 17);
	udp(&b6, 53, 1053, 8);
	ipv4x(&bad, 5, 5, 40, 0, 6);
	for (i = 0; i < sizeof(lts) / sizeof(lts[0]); i++) {
		T_EQ_INT(dec(lts[i], &b4, &p), DEC_OK);
		check_v4(&p, DEC_PROTO_TCP, 25, 1025, DEC_TCP_SYN, 40);
		T_EQ_INT(dec(lts[i], &b6, &p), DEC_OK);
		check_v6(&p, DEC_PROTO_UDP, 53, 1053, 0, 48);
		T_EQ_INT(dec(lts[i], &bad, &p), DEC_IP_BAD_VERSION);
		T_CHECK(pkt_is_zero(&p));
		T_EQ_INT(dec_n(lts[i], &b4, 0, &p), DEC_IP_TRUNCATED);
	}
}

static void test_link_ipv4_ipv6(void)
{
	struct buf b4 = { .n = 0 }, b6 = { .n = 0 };
	struct pkt p;

	ipv4(&b4, 28, 0, 17);
	udp(&b4, 161, 162, 8);
	ipv6(&b6, 20, 6);
	tcp(&b6, 179, 179, 5, DEC_TCP_ACK);
	T_EQ_INT(dec(DLT_IPV4, &b4, &p), DEC_OK);
	check_v4(&p, DEC_PROTO_UDP, 161, 162, 0, 28);
	T_EQ_INT(dec(DLT_IPV6, &b6, &p), DEC_OK);
	check_v6(&p, DEC_PROTO_TCP, 179, 179, DEC_TCP_ACK, 60);
	/* The link type fixes the version. */
	T_EQ_INT(dec(DLT_IPV4, &b6, &p), DEC_IP_BAD_VERSION);
	T_EQ_INT(dec(DLT_IPV6, &b4, &p), DEC_IP_BAD_VERSION);
	T_CHECK(pkt_is_zero(&p));
}

/* 4-byte AF header then the IP packet; le selects the byte order. */
static void af_hdr(struct buf *b, uint32_t af, int le)
{
	if (le) {
		put8(b, af);
		put8(b, af >> 8);
		put8(b, af >> 16);
		put8(b, af >> 24);
	} else {
		put32(b, af);
	}
}

static void test_null_both_orders(void)
{
	static const uint32_t af6[] = { 10, 24, 28, 30 };
	struct buf b = { .n = 0 };
	struct pkt p;
	size_t i;
	int le;

	for (le = 0; le < 2; le++) {
		b.n = 0;
		af_hdr(&b, 2, le);
		ipv4(&b, 28, 0, 17);
		udp(&b, 1900, 1901, 8);
		T_EQ_INT(dec(DLT_NULL, &b, &p), DEC_OK);
		check_v4(&p, DEC_PROTO_UDP, 1900, 1901, 0, 28);
		for (i = 0; i < sizeof(af6) / sizeof(af6[0]); i++) {
			b.n = 0;
			af_hdr(&b, af6[i], le);
			ipv6(&b, 20, 6);
			tcp(&b, 631, 50000, 5, DEC_TCP_SYN);
			T_EQ_INT(dec(DLT_NULL, &b, &p), DEC_OK);
			check_v6(&p, DEC_PROTO_TCP, 631, 50000,
				 DEC_TCP_SYN, 60);
		}
		b.n = 0;	/* AF_APPLETALK-ish: not IP */
		af_hdr(&b, 7, le);
		ipv4(&b, 28, 0, 17);
		udp(&b, 1, 2, 8);
		T_EQ_INT(dec(DLT_NULL, &b, &p), DEC_NOT_IP);
		T_CHECK(pkt_is_zero(&p));
	}
	b.n = 0;
	af_hdr(&b, 2, 1);
	T_EQ_INT(dec_n(DLT_NULL, &b, 3, &p), DEC_LINK_TRUNCATED);
	T_EQ_INT(dec_n(DLT_NULL, &b, 4, &p), DEC_IP_TRUNCATED);
}

static void test_loop(void)
{
	struct buf b = { .n = 0 };
	struct pkt p;

	af_hdr(&b, 2, 0);
	ipv4(&b, 40, 0, 6);
	tcp(&b, 6379, 42000, 5, TCP_SA);
	T_EQ_INT(dec(LT_LOOP_NUM, &b, &p), DEC_OK);
	check_v4(&p, DEC_PROTO_TCP, 6379, 42000, TCP_SA, 40);

	b.n = 0;
	af_hdr(&b, 24, 0);
	ipv6(&b, 8, 17);
	udp(&b, 5060, 5060, 8);
	T_EQ_INT(dec(LT_LOOP_NUM, &b, &p), DEC_OK);
	check_v6(&p, DEC_PROTO_UDP, 5060, 5060, 0, 48);

	b.n = 0;		/* LOOP is network order only */
	af_hdr(&b, 2, 1);
	ipv4(&b, 40, 0, 6);
	tcp(&b, 1, 2, 5, 0);
	T_EQ_INT(dec(LT_LOOP_NUM, &b, &p), DEC_NOT_IP);
	T_EQ_INT(dec_n(LT_LOOP_NUM, &b, 2, &p), DEC_LINK_TRUNCATED);
}

static void test_unsupported_link(void)
{
	static const int bad[] = { LT_IEEE802_11, 127, 9, -1, 100000 };
	static const int good[] = { DLT_NULL, DLT_EN10MB, DLT_RAW,
				    LT_RAW_OPENBSD, LT_RAW_FILE, LT_LOOP_NUM,
				    DLT_LINUX_SLL, DLT_IPV4, DLT_IPV6,
				    DLT_LINUX_SLL2 };
	struct buf b = { .n = 0 };
	struct pkt p;
	size_t i;

	ipv4(&b, 40, 0, 6);
	tcp(&b, 1, 2, 5, 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		T_EQ_INT(dec(bad[i], &b, &p), DEC_LINK_UNSUPPORTED);
		T_CHECK(pkt_is_zero(&p));
		T_EQ_INT(decode_link_supported(bad[i]), 0);
	}
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		T_EQ_INT(decode_link_supported(good[i]), 1);
	/* A NULL buffer with caplen 0 is simply truncated. */
	T_EQ_INT(decode_packet(DLT_EN10MB, NULL, 0, 0, &p), DEC_LINK_TRUNCATED);
}

static void test_not_ip_ethertypes(void)
{
	static const struct { unsigned type; enum dec_reason r; } cases[] = {
		{ 0x0806, DEC_NOT_IP },		/* ARP */
		{ 0x88cc, DEC_NOT_IP },		/* LLDP */
		{ 0x8035, DEC_NOT_IP },		/* RARP */
		{ 0x0026, DEC_NOT_IP },		/* 802.3 length */
		{ 0x05ff, DEC_NOT_IP },
		{ 0x0000, DEC_NOT_IP },
		{ 0x8847, DEC_ENCAP_MPLS },
		{ 0x8848, DEC_ENCAP_MPLS },
		{ 0x8863, DEC_ENCAP_PPPOE },
		{ 0x8864, DEC_ENCAP_PPPOE },
	};
	struct buf b = { .n = 0 };
	struct pkt p;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		b.n = 0;
		eth(&b, cases[i].type);
		ipv4(&b, 40, 0, 6);	/* looks like IP: must not matter */
		tcp(&b, 1, 2, 5, 0);
		T_EQ_INT(dec(DLT_EN10MB, &b, &p), cases[i].r);
		T_CHECK(pkt_is_zero(&p));
	}
	b.n = 0;		/* MPLS behind a VLAN tag too */
	eth(&b, 0x8100);
	vlan(&b, 3, 0x8847);
	put32(&b, 0x00010140);
	T_EQ_INT(dec(DLT_EN10MB, &b, &p), DEC_ENCAP_MPLS);
}

/* ---- IPv4 ---- */

static void test_ipv4_options(void)
{
	struct buf b = { .n = 0 };
	struct pkt p;

	eth(&b, 0x0800);
	ipv4x(&b, 4, 8, 32 + 20, 0, 6);	/* 12 bytes of options */
	tcp(&b, 8080, 41000, 5, DEC_TCP_SYN);
	T_EQ_INT(dec(DLT_EN10MB, &b, &p), DEC_OK);
	check_v4(&p, DEC_PROTO_TCP, 8080, 41000, DEC_TCP_SYN, 52);

	b.n = 0;		/* maximum IHL */
	eth(&b, 0x0800);
	ipv4x(&b, 4, 15, 60 + 8, 0, 17);
	udp(&b, 520, 520, 8);
	T_EQ_INT(dec(DLT_EN10MB, &b, &p), DEC_OK);
	check_v4(&p, DEC_PROTO_UDP, 520, 520, 0, 68);
}

static void test_ipv4_first_fragment(void)
{
	struct buf b = { .n = 0 };
	struct pkt p;

	eth(&b, 0x0800);
	ipv4(&b, 1500, 0x2000, 17);	/* MF, offset 0 */
	udp(&b, 4789, 4789, 3000);
	fill(&b, 0, 100);
	T_EQ_INT(dec(DLT_EN10MB, &b, &p), DEC_OK);
	check_v4(&p, DEC_PROTO_UDP, 4789, 4789, 0, 1500);
	T_EQ_INT(p.first_frag, 1);
}

static void test_ipv4_later_fragment(void)
{
	struct buf b = { .n = 0 };
	struct pkt p;

	eth(&b, 0x0800);
	ipv4(&b, 40, 0x2000 | 185, 6);	/* MF, offset 1480 */
	tcp(&b, 1111, 2222, 5, DEC_TCP_SYN);
	T_EQ_INT(dec(DLT_EN10MB, &b, &p), DEC_IP_FRAGMENT);
	T_EQ_INT(p.family, 4);
	T_EQ_INT(p.ip_len, 40);
	T_EQ_INT(p.first_frag, 0);
	T_CHECK(memcmp(p.src, A4S, 4) == 0);
	check_no_l4(&p);

	b.n = 0;		/* last fragment: no MF */
	eth(&b, 0x0800);
	ipv4(&b, 40, 1, 17);
	udp(&b, 1, 2, 8);
	T_EQ_INT(dec(DLT_EN10MB, &b, &p), DEC_IP_FRAGMENT);
	check_no_l4(&p);
}

static void test_ipv4_total_length(void)
{
	struct buf b = { .n = 0 };
	struct pkt p;

	/* Snaplen shorter than the datagram: fine. */
	eth(&b, 0x0800);
	ipv4(&b, 1500, 0, 6);
	tcp(&b, 80, 3000, 5, DEC_TCP_ACK);
	T_EQ_INT(dec(DLT_EN10MB, &b, &p), DEC_OK);
	check_v4(&p, DEC_PROTO_TCP, 80, 3000, DEC_TCP_ACK, 1500);

	/* TSO: 0 means "use what was captured" (from the IP header). */
	b.n = 0;
	eth(&b, 0x0800);
	ipv4(&b, 0, 0, 6);
	tcp(&b, 80, 3000, 5, DEC_TCP_ACK);
	fill(&b, 0x55, 100);
	T_EQ_INT(dec(DLT_EN10MB, &b, &p), DEC_OK);
	check_v4(&p, DEC_PROTO_TCP, 80, 3000, DEC_TCP_ACK, 140);
	/* ... and cut by the snap length: what the wire carried (64 KiB
	 * segments of GRO/BIG TCP), not the capture's 1600 bytes. */
	T_EQ_INT(decode_packet(DLT_EN10MB, b.b, (uint32_t)b.n, 80066, &p), DEC_OK);
	T_EQ_INT(p.ip_len, 80066 - 14);
	T_EQ_INT(decode_packet(DLT_RAW, b.b + 14, (uint32_t)b.n - 14, 80052, &p), DEC_OK);
	T_EQ_INT(p.ip_len, 80052);		/* the general decoder too */
	/* a wire length below the capture's is taken as the capture's */
	T_EQ_INT(decode_packet(DLT_EN10MB, b.b, (uint32_t)b.n, 10, &p), DEC_OK);
	T_EQ_INT(p.ip_len, 140);

	/* Shorter than the header. */
	b.n = 0;
	eth(&b, 0x0800);
	ipv4(&b, 19, 0, 6);
	tcp(&b, 80, 3000, 5, 0);
	T_EQ_INT(dec(DLT_EN10MB, &b, &p), DEC_IP_BAD_LEN);
	T_CHECK(pkt_is_zero(&p));
	b.n = 0;
	eth(&b, 0x0800);
	ipv4x(&b, 4, 6, 22, 0, 6);
	tcp(&b, 80, 3000, 5, 0);
	T_EQ_INT(dec(DLT_EN10MB, &b, &p), DEC_IP_BAD_LEN);

	/* Exactly the header: no room for L4. */
	b.n = 0;
	eth(&b, 0x0800);
	ipv4(&b, 20, 0, 6);
	tcp(&b, 80, 3000, 5, 0);
	T_EQ_INT(dec(DLT_EN10MB, &b, &p), DEC_L4_TRUNCATED);
	T_EQ_INT(p.ip_len, 20);
}

static void test_ipv4_bad_ihl(void)
{
	struct buf b = { .n = 0 };
	struct pkt p;
	unsigned ihl;

	for (ihl = 0; ihl < 5; ihl++) {
		b.n = 0;
		eth(&b, 0x0800);
		ipv4x(&b, 4, ihl, 40, 0, 6);
		fill(&b, 0, 40);
		T_EQ_INT(dec(DLT_EN10MB, &b, &p), DEC_IP_BAD_HDRLEN);
		T_CHECK(pkt_is_zero(&p));
	}
	/* IHL beyond what was captured. */
	b.n = 0;
	eth(&b, 0x0800);
	ipv4(&b, 40, 0, 6);
	b.b[14] = 0x4f;
	T_EQ_INT(dec(DLT_EN10MB, &b, &p), DEC_IP_TRUNCATED);
}

static void test_ipv4_bad_version(void)
{
	static const unsigned vers[] = { 0, 5, 6, 15 };
	struct buf b = { .n = 0 };
	struct pkt p;
	size_t i;

	for (i = 0; i < sizeof(vers) / sizeof(vers[0]); i++) {
		b.n = 0;
		eth(&b, 0x0800);
		ipv4x(&b, vers[i], 5, 40, 0, 6);
		tcp(&b, 1, 2, 5, 0);
		T_EQ_INT(dec(DLT_EN10MB, &b, &p), DEC_IP_BAD_VERSION);
		T_CHECK(pkt_is_zero(&p));
	}
}

static void test_ipv4_protocols(void)
{
	static const struct { unsigned proto; enum dec_reason r; } cases[] = {
		{ 4, DEC_ENCAP_TUNNEL }, { 41, DEC_ENCAP_TUNNEL },
		{ 47, DEC_ENCAP_TUNNEL }, { 97, DEC_ENCAP_TUNNEL },
		{ 115, DEC_ENCAP_TUNNEL }, { 1, DEC_L4_OTHER },
		{ 2, DEC_L4_OTHER }, { 50, DEC_L4_OTHER },
		{ 132, DEC_L4_OTHER },
		{ 255, DEC_L4_OTHER },
	};
	struct buf b = { .n = 0 };
	struct pkt p;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		b.n = 0;
		eth(&b, 0x0800);
		ipv4(&b, 40, 0, cases[i].proto);
		tcp(&b, 1, 2, 5, 0);
		T_EQ_INT(dec(DLT_EN10MB, &b, &p), cases[i].r);
		T_EQ_INT(p.family, 4);
		T_EQ_INT(p.ip_len, 40);
		check_no_l4(&p);
	}
}

/* AH after IPv4 (transport mode): skipped as after IPv6, through the fast
 * path (Ethernet, no options, no tag or one tag) and the general decoder. */
static void test_ipv4_ah(void)
{
	struct buf b = { .n = 0 };
	struct pkt p;

	eth(&b, 0x0800);
	ipv4(&b, 20 + 24 + 20, 0x4000, 51);
	ah(&b, 6, 4);		/* HMAC-SHA1-96: (4+2)*4 = 24 bytes */
	tcp(&b, 51000, 443, 5, DEC_TCP_SYN);
	T_EQ_INT(dec(DLT_EN10MB, &b, &p), DEC_OK);
	check_v4(&p, DEC_PROTO_TCP, 51000, 443, DEC_TCP_SYN, 64);
	T_EQ_INT(p.first_frag, 0);

	b.n = 0;
	eth(&b, 0x0800);
	ipv4(&b, 20 + 24 + 8, 0, 51);
	ah(&b, 17, 4);
	udp(&b, 500, 500, 8);
	fill(&b, 0xee, 6);	/* Ethernet padding past the total length */
	T_EQ_INT(dec(DLT_EN10MB, &b, &p), DEC_OK);
	check_v4(&p, DEC_PROTO_UDP, 500, 500, 0, 52);

	b.n = 0;		/* one 802.1Q tag: the fast path's other arm */
	eth(&b, 0x8100);
	vlan(&b, 9, 0x0800);
	ipv4(&b, 20 + 12 + 20, 0, 51);
	ah(&b, 6, 1);		/* the smallest AH with its SPI and sequence */
	tcp(&b, 22, 40000, 5, TCP_SA);
	T_EQ_INT(dec(DLT_EN10MB, &b, &p), DEC_OK);
	check_v4(&p, DEC_PROTO_TCP, 22, 40000, TCP_SA, 52);

	b.n = 0;		/* options: the general decoder */
	ipv4x(&b, 4, 6, 24 + 16 + 8, 0, 51);
	ah(&b, 17, 2);
	udp(&b, 4500, 4500, 8);
	T_EQ_INT(dec(DLT_RAW, &b, &p), DEC_OK);
	check_v4(&p, DEC_PROTO_UDP, 4500, 4500, 0, 48);

	b.n = 0;		/* SLL, two AH headers (an SA bundle) */
	sll(&b, 0x0800);
	ipv4(&b, 20 + 12 + 24 + 20, 0, 51);
	ah(&b, 51, 1);
	ah(&b, 6, 4);
	tcp(&b, 389, 50000, 5, DEC_TCP_ACK);
	T_EQ_INT(dec(DLT_LINUX_SLL, &b, &p), DEC_OK);
	check_v4(&p, DEC_PROTO_TCP, 389, 50000, DEC_TCP_ACK, 76);

	b.n = 0;		/* TSO: total length 0, UDP length 0 allowed */
	eth(&b, 0x0800);
	ipv4(&b, 0, 0, 51);
	ah(&b, 17, 1);
	udp(&b, 47044, 4789, 0);
	T_EQ_INT(dec(DLT_EN10MB, &b, &p), DEC_OK);
	check_v4(&p, DEC_PROTO_UDP, 47044, 4789, 0, 40);
}

/* What follows AH decides, as without it: ESP stays opaque, tunnel mode
 * is a tunnel. */
static void test_ipv4_ah_next(void)
{
	static const struct { unsigned nh; enum dec_reason r; } cases[] = {
		{ 50, DEC_L4_OTHER }, { 1, DEC_L4_OTHER }, { 108, DEC_L4_OTHER },
		{ 59, DEC_L4_OTHER }, { 4, DEC_ENCAP_TUNNEL },
		{ 41, DEC_ENCAP_TUNNEL }, { 47, DEC_ENCAP_TUNNEL },
	};
	struct buf b = { .n = 0 };
	struct pkt p;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		b.n = 0;
		eth(&b, 0x0800);
		ipv4(&b, 20 + 24 + 20, 0, 51);
		ah(&b, cases[i].nh, 4);
		tcp(&b, 1, 2, 5, 0);
		T_EQ_INT(dec(DLT_EN10MB, &b, &p), cases[i].r);
		T_EQ_INT(p.family, 4);
		T_EQ_INT(p.ip_len, 64);
		check_no_l4(&p);
	}
}

static void test_ipv4_ah_truncated(void)
{
	struct buf b = { .n = 0 };
	struct pkt p;
	size_t len;
	enum dec_reason want;

	/* Every capture length: inside AH it is the AH that is cut. */
	eth(&b, 0x0800);
	ipv4(&b, 20 + 24 + 20, 0, 51);
	ah(&b, 6, 4);
	tcp(&b, 1, 2, 5, DEC_TCP_SYN);
	for (len = 34; len <= b.n; len++) {
		want = len < 34 + 24 ? DEC_V4_AH_TRUNCATED :
		       len < 34 + 24 + 14 ? DEC_L4_TRUNCATED : DEC_OK;
		T_EQ_INT(dec_n(DLT_EN10MB, &b, len, &p), want);
		T_EQ_INT(p.family, 4);
		T_EQ_INT(p.ip_len, 64);
		if (want != DEC_OK)
			check_no_l4(&p);
	}

	/* The length byte claims more than was captured. */
	b.n = 0;
	eth(&b, 0x0800);
	ipv4(&b, 1500, 0, 51);
	ah(&b, 6, 4);
	tcp(&b, 1, 2, 5, 0);
	b.b[34 + 1] = 255;	/* (255+2)*4 = 1028 bytes */
	T_EQ_INT(dec(DLT_EN10MB, &b, &p), DEC_V4_AH_TRUNCATED);
	T_EQ_INT(p.family, 4);
	check_no_l4(&p);

	/* ... or more than the total length, though captured. */
	b.n = 0;
	eth(&b, 0x0800);
	ipv4(&b, 20 + 16, 0, 51);
	ah(&b, 17, 4);		/* 24 bytes in a 16-byte payload */
	udp(&b, 1, 2, 8);
	T_EQ_INT(dec(DLT_EN10MB, &b, &p), DEC_V4_AH_TRUNCATED);
	check_no_l4(&p);

	/* Total length 20: nothing after the IP header. */
	b.n = 0;
	eth(&b, 0x0800);
	ipv4(&b, 20, 0, 51);
	ah(&b, 6, 1);
	T_EQ_INT(dec(DLT_EN10MB, &b, &p), DEC_V4_AH_TRUNCATED);
}

static void test_ipv4_ah_limit(void)
{
	struct buf b = { .n = 0 };
	struct pkt p;
	int i;

	eth(&b, 0x0800);
	ipv4(&b, 20 + DEC_MAX_V4_AH * 12 + 8, 0, 51);
	for (i = 1; i < DEC_MAX_V4_AH; i++)
		ah(&b, 51, 1);
	ah(&b, 17, 1);
	udp(&b, 7, 7, 8);
	T_EQ_INT(dec(DLT_EN10MB, &b, &p), DEC_OK);
	check_v4(&p, DEC_PROTO_UDP, 7, 7, 0, 20 + DEC_MAX_V4_AH * 12 + 8);

	b.n = 0;
	eth(&b, 0x0800);
	ipv4(&b, 20 + (DEC_MAX_V4_AH + 1) * 12 + 8, 0, 51);
	for (i = 0; i < DEC_MAX_V4_AH; i++)
		ah(&b, 51, 1);
	ah(&b, 17, 1);
	udp(&b, 7, 7, 8);
	T_EQ_INT(dec(DLT_EN10MB, &b, &p), DEC_V4_AH_TOO_MANY);
	T_EQ_INT(p.family, 4);
	check_no_l4(&p);
}

/* Only a first fragment has AH and the L4 header behind it. */
static void test_ipv4_ah_fragments(void)
{
	struct buf b = { .n = 0 };
	struct pkt p;

	eth(&b, 0x0800);
	ipv4(&b, 1500, 0x2000, 51);	/* MF, offset 0 */
	ah(&b, 17, 4);
	udp(&b, 53, 40001, 3000);
	T_EQ_INT(dec(DLT_EN10MB, &b, &p), DEC_OK);
	check_v4(&p, DEC_PROTO_UDP, 53, 40001, 0, 1500);
	T_EQ_INT(p.first_frag, 1);

	/* A later fragment: its first bytes are data, whatever they look
	 * like (here an AH and a TCP header). */
	b.n = 0;
	eth(&b, 0x0800);
	ipv4(&b, 20 + 24 + 20, 0x2000 | 185, 51);
	ah(&b, 6, 4);
	tcp(&b, 1, 2, 5, DEC_TCP_SYN);
	T_EQ_INT(dec(DLT_EN10MB, &b, &p), DEC_IP_FRAGMENT);
	T_EQ_INT(p.family, 4);
	T_EQ_INT(p.ip_len, 64);
	T_EQ_INT(p.first_frag, 0);
	check_no_l4(&p);

	b.n = 0;		/* the last one, through the general decoder */
	ipv4x(&b, 4, 6, 24 + 8 + 8, 3, 51);
	ah(&b, 17, 0);
	udp(&b, 1, 2, 8);
	T_EQ_INT(dec(DLT_RAW, &b, &p), DEC_IP_FRAGMENT);
	check_no_l4(&p);
}

/* ---- IPv6 ---- */

static void test_ipv6_each_ext(void)
{
	static const unsigned exts[] = { 0, 43, 60 };
	struct buf b = { .n = 0 };
	struct pkt p;
	size_t i;

	for (i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
		b.n = 0;
		eth(&b, 0x86dd);
		ipv6(&b, 24 + 20, exts[i]);
		ext6(&b, 6, 2);		/* 24 bytes */
		tcp(&b, 993, 50001, 5, DEC_TCP_ACK);
		T_EQ_INT(dec(DLT_EN10MB, &b, &p), DEC_OK);
		check_v6(&p, DEC_PROTO_TCP, 993, 50001, DEC_TCP_ACK, 84);
	}
	b.n = 0;
	eth(&b, 0x86dd);
	ipv6(&b, 16 + 8, 51);
	ah(&b, 17, 2);			/* (2+2)*4 = 16 bytes */
	udp(&b, 500, 500, 8);
	T_EQ_INT(dec(DLT_EN10MB, &b, &p), DEC_OK);
	check_v6(&p, DEC_PROTO_UDP, 500, 500, 0, 64);
}

static void test_ipv6_chain(void)
{
	struct buf b = { .n = 0 };
	struct pkt p;

	eth(&b, 0x86dd);
	ipv6(&b, 8 + 16 + 8 + 12 + 8 + 8 + 20, 0);
	ext6(&b, 60, 0);	/* hop-by-hop, 8 */
	ext6(&b, 43, 1);	/* dstopts, 16 */
	ext6(&b, 51, 0);	/* routing, 8 */
	ah(&b, 44, 1);		/* AH, 12 */
	frag6(&b, 60, 0, 1);	/* first fragment, 8 */
	ext6(&b, 6, 0);		/* dstopts, 8 */
	tcp(&b, 443, 60001, 5, DEC_TCP_SYN);
	T_EQ_INT(dec(DLT_EN10MB, &b, &p), DEC_OK);
	check_v6(&p, DEC_PROTO_TCP, 443, 60001, DEC_TCP_SYN, 40 + 80);
	T_EQ_INT(p.first_frag, 1);
}

static void test_ipv6_fragments(void)
{
	struct buf b = { .n = 0 };
	struct pkt p;

	eth(&b, 0x86dd);
	ipv6(&b, 1448, 44);
	frag6(&b, 17, 0, 1);
	udp(&b, 53, 3333, 2000);
	T_EQ_INT(dec(DLT_EN10MB, &b, &p), DEC_OK);
	check_v6(&p, DEC_PROTO_UDP, 53, 3333, 0, 1488);
	T_EQ_INT(p.first_frag, 1);

	b.n = 0;		/* atomic fragment: complete datagram */
	eth(&b, 0x86dd);
	ipv6(&b, 16, 44);
	frag6(&b, 17, 0, 0);
	udp(&b, 53, 3333, 8);
	T_EQ_INT(dec(DLT_EN10MB, &b, &p), DEC_OK);
	check_v6(&p, DEC_PROTO_UDP, 53, 3333, 0, 56);
	T_EQ_INT(p.first_frag, 0);

	b.n = 0;		/* later fragment, after hop-by-hop */
	eth(&b, 0x86dd);
	ipv6(&b, 8 + 8 + 20, 0);
	ext6(&b, 44, 0);
	frag6(&b, 6, 181, 1);
	tcp(&b, 1, 2, 5, DEC_TCP_SYN);
	T_EQ_INT(dec(DLT_EN10MB, &b, &p), DEC_IP_FRAGMENT);
	T_EQ_INT(p.family, 6);
	T_EQ_INT(p.ip_len, 76);
	T_CHECK(memcmp(p.dst, A6D, 16) == 0);
	check_no_l4(&p);

	b.n = 0;		/* last fragment, smallest offset (8 bytes) */
	eth(&b, 0x86dd);
	ipv6(&b, 8 + 8, 44);
	frag6(&b, 17, 1, 0);
	udp(&b, 1, 2, 8);
	T_EQ_INT(dec(DLT_EN10MB, &b, &p), DEC_IP_FRAGMENT);
	check_no_l4(&p);
}

static void test_ipv6_ext_limits(void)
{
	struct buf b = { .n = 0 };
	struct pkt p;
	int i;

	eth(&b, 0x86dd);
	ipv6(&b, DEC_MAX_V6_EXT * 8 + 8, 60);
	for (i = 1; i < DEC_MAX_V6_EXT; i++)
		ext6(&b, 60, 0);
	ext6(&b, 17, 0);
	udp(&b, 7, 7, 8);
	T_EQ_INT(dec(DLT_EN10MB, &b, &p), DEC_OK);
	check_v6(&p, DEC_PROTO_UDP, 7, 7, 0, 40 + DEC_MAX_V6_EXT * 8 + 8);

	b.n = 0;
	eth(&b, 0x86dd);
	ipv6(&b, (DEC_MAX_V6_EXT + 1) * 8 + 8, 60);
	for (i = 0; i < DEC_MAX_V6_EXT; i++)
		ext6(&b, 60, 0);
	ext6(&b, 17, 0);
	udp(&b, 7, 7, 8);
	T_EQ_INT(dec(DLT_EN10MB, &b, &p), DEC_V6_EXT_TOO_MANY);
	check_no_l4(&p);

	/* A fragment header as the one too many. */
	b.n = 0;
	eth(&b, 0x86dd);
	ipv6(&b, (DEC_MAX_V6_EXT + 1) * 8 + 8, 60);
	for (i = 1; i < DEC_MAX_V6_EXT; i++)
		ext6(&b, 60, 0);
	ext6(&b, 44, 0);
	frag6(&b, 17, 0, 1);
	udp(&b, 7, 7, 8);
	T_EQ_INT(dec(DLT_EN10MB, &b, &p), DEC_V6_EXT_TOO_MANY);
}

static void test_ipv6_ext_truncated(void)
{
	struct buf b = { .n = 0 };
	struct pkt p;

	/* Header length runs past the capture. */
	eth(&b, 0x86dd);
	ipv6(&b, 200, 0);
	ext6(&b, 6, 0);
	b.b[b.n - 7] = 20;	/* claims 168 bytes */
	tcp(&b, 1, 2, 5, 0);
	T_EQ_INT(dec(DLT_EN10MB, &b, &p), DEC_V6_EXT_TRUNCATED);
	T_EQ_INT(p.family, 6);
	check_no_l4(&p);

	/* Runs past the payload length, though captured. */
	b.n = 0;
	eth(&b, 0x86dd);
	ipv6(&b, 8, 60);
	ext6(&b, 6, 1);
	tcp(&b, 1, 2, 5, 0);
	T_EQ_INT(dec(DLT_EN10MB, &b, &p), DEC_V6_EXT_TRUNCATED);

	/* Fragment header cut short. */
	b.n = 0;
	eth(&b, 0x86dd);
	ipv6(&b, 8, 44);
	frag6(&b, 6, 0, 1);
	T_EQ_INT(dec_n(DLT_EN10MB, &b, b.n - 1, &p), DEC_V6_EXT_TRUNCATED);
}

static void test_ipv6_next_headers(void)
{
	static const struct { unsigned nh; enum dec_reason r; } cases[] = {
		{ 59, DEC_L4_OTHER }, { 50, DEC_L4_OTHER },
		{ 58, DEC_L4_OTHER }, { 132, DEC_L4_OTHER },
		{ 4, DEC_ENCAP_TUNNEL }, { 41, DEC_ENCAP_TUNNEL },
		{ 47, DEC_ENCAP_TUNNEL }, { 97, DEC_ENCAP_TUNNEL },
		{ 115, DEC_ENCAP_TUNNEL },
	};
	struct buf b = { .n = 0 };
	struct pkt p;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		b.n = 0;
		eth(&b, 0x86dd);
		ipv6(&b, 8 + 20, 60);
		ext6(&b, cases[i].nh, 0);
		tcp(&b, 1, 2, 5, 0);
		T_EQ_INT(dec(DLT_EN10MB, &b, &p), cases[i].r);
		T_EQ_INT(p.family, 6);
		check_no_l4(&p);
	}
}

static void test_ipv6_jumbo_and_udp0(void)
{
	struct buf b = { .n = 0 };
	struct pkt p;

	/* Payload length 0: use the capture; UDP length 0 allowed. */
	eth(&b, 0x86dd);
	ipv6(&b, 0, 0);
	put8(&b, 17);
	put8(&b, 0);
	put8(&b, 0xc2);		/* jumbo payload option */
	put8(&b, 4);
	put32(&b, 70000);
	udp(&b, 9000, 9001, 0);
	fill(&b, 0, 32);
	T_EQ_INT(dec(DLT_EN10MB, &b, &p), DEC_OK);
	check_v6(&p, DEC_PROTO_UDP, 9000, 9001, 0, 40 + 8 + 8 + 32);
	T_EQ_INT(decode_packet(DLT_EN10MB, b.b, (uint32_t)b.n, 14 + 70048, &p), DEC_OK);
	T_EQ_INT(p.ip_len, 70048);

	/* Not a jumbogram: UDP length 0 is bad. */
	b.n = 0;
	eth(&b, 0x86dd);
	ipv6(&b, 8, 17);
	udp(&b, 9000, 9001, 0);
	T_EQ_INT(dec(DLT_EN10MB, &b, &p), DEC_UDP_BAD_LEN);
	check_no_l4(&p);

	b.n = 0;
	eth(&b, 0x0800);
	ipv4(&b, 28, 0, 17);
	udp(&b, 9000, 9001, 0);
	T_EQ_INT(dec(DLT_EN10MB, &b, &p), DEC_UDP_BAD_LEN);
}

static void test_ipv6_bad_version(void)
{
	struct buf b = { .n = 0 };
	struct pkt p;

	eth(&b, 0x86dd);
	ipv6(&b, 8, 17);
	udp(&b, 1, 2, 8);
	b.b[14] = 0x40;
	T_EQ_INT(dec(DLT_EN10MB, &b, &p), DEC_IP_BAD_VERSION);
	T_CHECK(pkt_is_zero(&p));
	b.b[14] = 0x70;
	T_EQ_INT(dec(DLT_EN10MB, &b, &p), DEC_IP_BAD_VERSION);
}

/* ---- L4 ---- */

static void test_tcp_flags(void)
{
	static const unsigned flags[] = {
		0, DEC_TCP_FIN, DEC_TCP_SYN, DEC_TCP_RST, DEC_TCP_ACK,
		DEC_TCP_SYN | DEC_TCP_ACK, DEC_TCP_FIN | DEC_TCP_ACK,
		DEC_TCP_RST | DEC_TCP_ACK, 0x18, 0xc2, 0xff,
	};
	struct buf b = { .n = 0 };
	struct pkt p;
	size_t i;

	for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		b.n = 0;
		eth(&b, 0x0800);
		ipv4(&b, 40, 0, 6);
		tcp(&b, 1000 + (unsigned)i, 80, 5, flags[i]);
		T_EQ_INT(dec(DLT_EN10MB, &b, &p), DEC_OK);
		check_v4(&p, DEC_PROTO_TCP, 1000 + i, 80, flags[i], 40);
	}
}

static void test_tcp_bad_doff(void)
{
	struct buf b = { .n = 0 };
	struct pkt p;
	unsigned doff;

	for (doff = 0; doff < 5; doff++) {
		b.n = 0;
		eth(&b, 0x0800);
		ipv4(&b, 40, 0, 6);
		tcp(&b, 1, 2, doff, DEC_TCP_SYN);
		T_EQ_INT(dec(DLT_EN10MB, &b, &p), DEC_TCP_BAD_HDRLEN);
		T_EQ_INT(p.family, 4);
		check_no_l4(&p);
	}
	/* Options claimed but cut by snaplen: fine. */
	b.n = 0;
	eth(&b, 0x0800);
	ipv4(&b, 60, 0, 6);
	tcp(&b, 1, 2, 15, DEC_TCP_SYN);
	T_EQ_INT(dec(DLT_EN10MB, &b, &p), DEC_OK);
	check_v4(&p, DEC_PROTO_TCP, 1, 2, DEC_TCP_SYN, 60);
}

static void test_udp_bad_len(void)
{
	struct buf b = { .n = 0 };
	struct pkt p;
	unsigned len;

	for (len = 1; len < 8; len++) {
		b.n = 0;
		eth(&b, 0x86dd);
		ipv6(&b, 8, 17);
		udp(&b, 1, 2, len);
		T_EQ_INT(dec(DLT_EN10MB, &b, &p), DEC_UDP_BAD_LEN);
		check_no_l4(&p);
	}
	b.n = 0;		/* longer than the datagram: snaplen, fine */
	eth(&b, 0x0800);
	ipv4(&b, 28, 0, 17);
	udp(&b, 1, 2, 9999);
	T_EQ_INT(dec(DLT_EN10MB, &b, &p), DEC_OK);
}

static void test_gre(void)
{
	struct buf b = { .n = 0 };
	struct pkt p;

	eth(&b, 0x0800);
	ipv4(&b, 20 + 4 + 40, 0, 47);
	put16(&b, 0);
	put16(&b, 0x0800);
	ipv4(&b, 40, 0, 6);
	tcp(&b, 1, 2, 5, 0);
	T_EQ_INT(dec(DLT_EN10MB, &b, &p), DEC_ENCAP_TUNNEL);
	T_EQ_INT(p.family, 4);
	check_no_l4(&p);
}

/* ---- truncation at every length ---- */

struct layout {
	const char *name;
	int lt;
	size_t link_end;	/* link header and tags */
	size_t ip_end;		/* fixed IP header (+ IPv4 options) */
	size_t ext_end;		/* IPv6 extension headers */
	size_t l4_need;		/* bytes needed for ports (+ flags) */
};

static enum dec_reason expect_at(const struct layout *l, size_t len)
{
	if (len < l->link_end)
		return DEC_LINK_TRUNCATED;
	if (len < l->ip_end)
		return DEC_IP_TRUNCATED;
	if (len < l->ext_end)
		return DEC_V6_EXT_TRUNCATED;
	if (len < l->l4_need)
		return DEC_L4_TRUNCATED;
	return DEC_OK;
}

static void prefixes(const struct layout *l, const struct buf *b)
{
	struct pkt full, p;
	size_t len;
	enum dec_reason r;

	T_EQ_INT(dec(l->lt, b, &full), DEC_OK);
	for (len = 0; len <= b->n; len++) {
		r = dec_n(l->lt, b, len, &p);
		if (r != expect_at(l, len)) {
			printf("  %s: len %zu gave %s\n", l->name, len,
			       decode_reason_name(r));
			T_EQ_INT(r, expect_at(l, len));
			return;
		}
		if (r == DEC_OK) {
			T_EQ_INT(p.sport, full.sport);
			T_EQ_INT(p.dport, full.dport);
			T_EQ_INT(p.proto, full.proto);
			T_EQ_INT(p.tcp_flags, full.tcp_flags);
			T_CHECK(memcmp(p.src, full.src, 16) == 0);
			T_CHECK(memcmp(p.dst, full.dst, 16) == 0);
		} else {
			check_no_l4(&p);
		}
		if (len < l->ip_end)
			T_CHECK(pkt_is_zero(&p));
	}
}

static void test_truncation_every_length(void)
{
	struct buf b = { .n = 0 };
	struct layout l;

	eth(&b, 0x0800);
	ipv4(&b, 40, 0, 6);
	tcp(&b, 1, 2, 5, DEC_TCP_SYN);
	l = (struct layout){ "eth/v4/tcp", DLT_EN10MB, 14, 34, 34, 48 };
	prefixes(&l, &b);

	b.n = 0;
	eth(&b, 0x88a8);
	vlan(&b, 1, 0x8100);
	vlan(&b, 2, 0x86dd);
	ipv6(&b, 8 + 8 + 12 + 8, 0);
	ext6(&b, 51, 0);
	ah(&b, 44, 1);
	frag6(&b, 17, 0, 1);
	udp(&b, 3, 4, 8);
	l = (struct layout){ "qinq/v6ext/udp", DLT_EN10MB, 22, 62, 90, 98 };
	prefixes(&l, &b);

	b.n = 0;
	sll(&b, 0x0800);
	ipv4x(&b, 4, 6, 24 + 8, 0x2000, 17);
	udp(&b, 5, 6, 8);
	l = (struct layout){ "sll/v4opt/udp", DLT_LINUX_SLL, 16, 40, 40, 48 };
	prefixes(&l, &b);

	b.n = 0;
	sll2(&b, 0x86dd);
	ipv6(&b, 20, 6);
	tcp(&b, 7, 8, 5, DEC_TCP_ACK);
	l = (struct layout){ "sll2/v6/tcp", DLT_LINUX_SLL2, 20, 60, 60, 74 };
	prefixes(&l, &b);

	b.n = 0;
	af_hdr(&b, 2, 1);
	ipv4(&b, 28, 0, 17);
	udp(&b, 9, 10, 8);
	l = (struct layout){ "null/v4/udp", DLT_NULL, 4, 24, 24, 32 };
	prefixes(&l, &b);

	b.n = 0;
	af_hdr(&b, 30, 0);
	ipv6(&b, 8 + 20, 43);
	ext6(&b, 6, 0);
	tcp(&b, 11, 12, 5, 0);
	l = (struct layout){ "loop/v6rt/tcp", LT_LOOP_NUM, 4, 44, 52, 66 };
	prefixes(&l, &b);

	b.n = 0;
	ipv4x(&b, 4, 7, 28 + 20, 0, 6);
	tcp(&b, 13, 14, 5, DEC_TCP_FIN);
	l = (struct layout){ "raw/v4opt/tcp", DLT_RAW, 0, 28, 28, 42 };
	prefixes(&l, &b);

	b.n = 0;
	ipv6(&b, 8, 17);
	udp(&b, 15, 16, 8);
	l = (struct layout){ "ipv6/udp", DLT_IPV6, 0, 40, 40, 48 };
	prefixes(&l, &b);
}

/* decode_packet takes Ethernet (+ one 802.1Q tag) + IPv4 without options
 * by a shorter path when the headers are all captured; everything else,
 * including near misses, must come out as the general decoder says. */
static void test_fast_path_edges(void)
{
	struct buf b = { .n = 0 };
	struct pkt p;
	struct layout l;

	/* One 802.1Q tag: every length, around the single bounds check. */
	eth(&b, 0x8100);
	vlan(&b, 5, 0x0800);
	ipv4(&b, 28, 0, 17);
	udp(&b, 67, 68, 8);
	l = (struct layout){ "vlan/v4/udp", DLT_EN10MB, 18, 38, 38, 46 };
	prefixes(&l, &b);

	/* Tagged, with options (0x46): the general path. */
	b.n = 0;
	eth(&b, 0x8100);
	vlan(&b, 5, 0x0800);
	ipv4x(&b, 4, 6, 24 + 20, 0, 6);
	tcp(&b, 25, 40001, 5, DEC_TCP_SYN);
	T_EQ_INT(dec(DLT_EN10MB, &b, &p), DEC_OK);
	check_v4(&p, DEC_PROTO_TCP, 25, 40001, DEC_TCP_SYN, 44);

	/* Tagged, wrong version or IHL below 5. */
	b.n = 0;
	eth(&b, 0x8100);
	vlan(&b, 5, 0x0800);
	ipv4x(&b, 6, 5, 40, 0, 6);
	tcp(&b, 1, 2, 5, 0);
	T_EQ_INT(dec(DLT_EN10MB, &b, &p), DEC_IP_BAD_VERSION);
	T_CHECK(pkt_is_zero(&p));
	b.b[18] = 0x44;
	T_EQ_INT(dec(DLT_EN10MB, &b, &p), DEC_IP_BAD_HDRLEN);
	T_CHECK(pkt_is_zero(&p));

	/* Tagged failures after the IP header keep what they promise. */
	b.n = 0;
	eth(&b, 0x8100);
	vlan(&b, 5, 0x0800);
	ipv4(&b, 40, 0x2000 | 185, 6);
	tcp(&b, 1, 2, 5, 0);
	T_EQ_INT(dec(DLT_EN10MB, &b, &p), DEC_IP_FRAGMENT);
	T_EQ_INT(p.family, 4);
	T_EQ_INT(p.ip_len, 40);
	T_EQ_INT(p.first_frag, 0);
	T_CHECK(memcmp(p.dst, A4D, 4) == 0);
	T_CHECK(zero(p.src + 4, 12) && zero(p.dst + 4, 12));
	check_no_l4(&p);

	b.n = 0;
	eth(&b, 0x8100);
	vlan(&b, 5, 0x0800);
	ipv4(&b, 40, 0x2000, 6);	/* first fragment */
	tcp(&b, 1, 2, 4, 0);
	T_EQ_INT(dec(DLT_EN10MB, &b, &p), DEC_TCP_BAD_HDRLEN);
	T_EQ_INT(p.first_frag, 1);
	T_CHECK(memcmp(p.src, A4S, 4) == 0);
	check_no_l4(&p);

	/* A zero UDP length is an IPv6 (jumbogram) thing only. */
	b.n = 0;
	eth(&b, 0x8100);
	vlan(&b, 5, 0x0800);
	ipv4(&b, 28, 0, 17);
	udp(&b, 1, 2, 0);
	T_EQ_INT(dec(DLT_EN10MB, &b, &p), DEC_UDP_BAD_LEN);
	check_no_l4(&p);

	/* ... but with the IPv4 total length 0 too (a GRO/BIG TCP segment
	 * of a UDP tunnel, VXLAN say), untagged, tagged and through the
	 * general decoder, as for IPv6 (dropped until 2026-11-27). */
	b.n = 0;
	eth(&b, 0x0800);
	ipv4(&b, 0, 0, 17);
	udp(&b, 47044, 4789, 0);
	fill(&b, 0x55, 100);
	T_EQ_INT(dec(DLT_EN10MB, &b, &p), DEC_OK);
	check_v4(&p, DEC_PROTO_UDP, 47044, 4789, 0, 128);
	T_EQ_INT(decode_packet(DLT_RAW, b.b + 14, (uint32_t)b.n - 14, 80102, &p), DEC_OK);
	T_EQ_INT(p.ip_len, 80102);
	b.n = 0;
	eth(&b, 0x8100);
	vlan(&b, 5, 0x0800);
	ipv4(&b, 0, 0, 17);
	udp(&b, 47044, 4789, 0);
	T_EQ_INT(dec(DLT_EN10MB, &b, &p), DEC_OK);
	check_v4(&p, DEC_PROTO_UDP, 47044, 4789, 0, 28);

	/* TSO: total length 0, tagged. */
	b.n = 0;
	eth(&b, 0x8100);
	vlan(&b, 5, 0x0800);
	ipv4(&b, 0, 0, 6);
	tcp(&b, 80, 3000, 5, DEC_TCP_ACK);
	fill(&b, 0x55, 10);
	T_EQ_INT(dec(DLT_EN10MB, &b, &p), DEC_OK);
	check_v4(&p, DEC_PROTO_TCP, 80, 3000, DEC_TCP_ACK, 50);

	/* Untagged, exactly the headers and nothing else. */
	b.n = 0;
	eth(&b, 0x0800);
	ipv4(&b, 20, 0, 17);
	T_EQ_INT(dec(DLT_EN10MB, &b, &p), DEC_L4_TRUNCATED);
	T_EQ_INT(p.family, 4);
	T_EQ_INT(p.ip_len, 20);
	check_no_l4(&p);

	/* SLL never takes the fast path: a tag there decodes the same. */
	b.n = 0;
	sll(&b, 0x8100);
	vlan(&b, 5, 0x0800);
	ipv4(&b, 40, 0, 6);
	tcp(&b, 22, 50000, 5, DEC_TCP_ACK);
	T_EQ_INT(dec(DLT_LINUX_SLL, &b, &p), DEC_OK);
	check_v4(&p, DEC_PROTO_TCP, 22, 50000, DEC_TCP_ACK, 40);
}

static void test_reason_names(void)
{
	int i, j;

	T_EQ_STR(decode_reason_name(DEC_OK), "ok");
	T_EQ_STR(decode_reason_name(DEC_IP_FRAGMENT), "ip_fragment_not_first");
	T_EQ_STR(decode_reason_name(DEC_UDP_BAD_LEN), "udp_bad_length");
	T_EQ_STR(decode_reason_name(DEC_REASON_COUNT), "unknown");
	T_EQ_STR(decode_reason_name((enum dec_reason)-1), "unknown");
	for (i = 0; i < DEC_REASON_COUNT; i++) {
		const char *a = decode_reason_name((enum dec_reason)i);

		T_CHECK(a && a[0] && strcmp(a, "unknown") != 0);
		for (j = 0; j < i; j++)
			T_CHECK(strcmp(a, decode_reason_name(
					       (enum dec_reason)j)) != 0);
	}
}

int main(void)
{
	T_RUN(test_eth_ipv4_tcp);
	T_RUN(test_eth_ipv4_udp);
	T_RUN(test_eth_padding);
	T_RUN(test_eth_ipv6_tcp);
	T_RUN(test_vlan_single);
	T_RUN(test_vlan_ipv6);
	T_RUN(test_qinq_88a8);
	T_RUN(test_qinq_9100);
	T_RUN(test_vlan_three);
	T_RUN(test_vlan_max_and_too_deep);
	T_RUN(test_sll);
	T_RUN(test_sll_vlan);
	T_RUN(test_sll2);
	T_RUN(test_raw);
	T_RUN(test_link_ipv4_ipv6);
	T_RUN(test_null_both_orders);
	T_RUN(test_loop);
	T_RUN(test_unsupported_link);
	T_RUN(test_not_ip_ethertypes);
	T_RUN(test_ipv4_options);
	T_RUN(test_ipv4_first_fragment);
	T_RUN(test_ipv4_later_fragment);
	T_RUN(test_ipv4_total_length);
	T_RUN(test_ipv4_bad_ihl);
	T_RUN(test_ipv4_bad_version);
	T_RUN(test_ipv4_protocols);
	T_RUN(test_ipv4_ah);
	T_RUN(test_ipv4_ah_next);
	T_RUN(test_ipv4_ah_truncated);
	T_RUN(test_ipv4_ah_limit);
	T_RUN(test_ipv4_ah_fragments);
	T_RUN(test_ipv6_each_ext);
	T_RUN(test_ipv6_chain);
	T_RUN(test_ipv6_fragments);
	T_RUN(test_ipv6_ext_limits);
	T_RUN(test_ipv6_ext_truncated);
	T_RUN(test_ipv6_next_headers);
	T_RUN(test_ipv6_jumbo_and_udp0);
	T_RUN(test_ipv6_bad_version);
	T_RUN(test_tcp_flags);
	T_RUN(test_tcp_bad_doff);
	T_RUN(test_udp_bad_len);
	T_RUN(test_gre);
	T_RUN(test_truncation_every_length);
	T_RUN(test_fast_path_edges);
	T_RUN(test_reason_names);
	return T_DONE();
}
