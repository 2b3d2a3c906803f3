/* Packet decoder. Every byte comes from a struct cur: fixed-size headers are
 * taken with cur_getptr(c, n) and only indexed below n. Runs per packet, so
 * there are no loops over bytes and no library calls besides memcpy/memset;
 * the only loops are over VLAN tags, IPv6 extension headers and AH headers
 * after IPv4, all bounded by the limits in decode.h. */
#include "decode.h"

#include <string.h>

#include "cur.h"

/* Link types: DLT_ values as pcap_datalink() returns them, plus the
 * LINKTYPE_ value for raw IP (what a file holds when read without libpcap).
 * Numeric because DLT_RAW and DLT_LOOP differ by OS (see pcap/dlt.h). */
#define LT_NULL		0	/* 4-byte AF, writer's byte order */
#define LT_EN10MB	1
#define LT_RAW_A	12	/* DLT_RAW (DLT_LOOP on OpenBSD) */
#define LT_RAW_B	14	/* DLT_RAW on OpenBSD */
#define LT_RAW_FILE	101	/* LINKTYPE_RAW */
#define LT_LOOP		108	/* 4-byte AF, network byte order */
#define LT_SLL		113
#define LT_IPV4		228
#define LT_IPV6		229
#define LT_SLL2		276

#define NULL_HDR_LEN	4
#define ETH_HDR_LEN	14
#define ETH_TYPE_OFF	12
#define VLAN_TAG_LEN	4	/* TCI + inner ethertype */
#define VLAN_TYPE_OFF	2
#define SLL_HDR_LEN	16
#define SLL_PROTO_OFF	14
#define SLL2_HDR_LEN	20
#define SLL2_PROTO_OFF	0

/* BSD/Linux address families seen in DLT_NULL/DLT_LOOP headers. */
#define AF_VAL_INET		2
#define AF_VAL_INET6_LINUX	10
#define AF_VAL_INET6_BSD	24	/* NetBSD, OpenBSD, BSD/OS */
#define AF_VAL_INET6_FREEBSD	28
#define AF_VAL_INET6_DARWIN	30
#define AF_BYTE_ORDER_MASK	0xffff0000u	/* set => other byte order */

#define ETH_MIN_TYPE	0x0600	/* below: 802.3 length, not a type */
#define ETH_IPV4	0x0800
#define ETH_IPV6	0x86dd
#define ETH_8021Q	0x8100
#define ETH_8021AD	0x88a8
#define ETH_QINQ_OLD	0x9100
#define ETH_MPLS_UC	0x8847
#define ETH_MPLS_MC	0x8848
#define ETH_PPPOE_DISC	0x8863
#define ETH_PPPOE_SESS	0x8864

#define IP_VERSION_SHIFT 4
#define IPV4_MIN_HDR	20
#define IPV4_IHL_MASK	0x0f
#define IPV4_IHL_UNIT	4
#define IPV4_TOTLEN_OFF	2
#define IPV4_FRAG_OFF	6
#define IPV4_PROTO_OFF	9
#define IPV4_SRC_OFF	12
#define IPV4_DST_OFF	16
#define IPV4_ADDR_LEN	4
#define IPV4_FRAG_MF	0x2000
#define IPV4_FRAG_MASK	0x1fff

#define IPV6_HDR_LEN	40
#define IPV6_PLEN_OFF	4
#define IPV6_NH_OFF	6
#define IPV6_SRC_OFF	8
#define IPV6_DST_OFF	24
#define IPV6_ADDR_LEN	16
#define IPV6_EXT_MIN	2	/* next header + length */
#define IPV6_EXT_UNIT	8	/* hop-by-hop/routing/dstopts: (n+1)*8 */
#define IPV6_FRAG_LEN	8
#define IPV6_FRAG_OFF	2
#define IPV6_FRAG_MASK	0xfff8
#define IPV6_FRAG_M	0x0001

/* IPsec AH (RFC 4302), after IPv4 or IPv6: next header, then its length
 * as (n+2)*4 bytes. */
#define AH_PEEK_LEN	2	/* next header + length */
#define AH_NH_OFF	0
#define AH_LEN_OFF	1
#define AH_LEN_UNIT	4
#define AH_LEN_EXTRA	2

/* IP protocol / IPv6 next-header numbers. */
#define IPP_HOPOPTS	0
#define IPP_IPIP	4
#define IPP_TCP		6
#define IPP_UDP		17
#define IPP_IPV6	41
#define IPP_ROUTING	43
#define IPP_FRAGMENT	44
#define IPP_GRE		47
#define IPP_ESP		50
#define IPP_AH		51
#define IPP_ICMPV6	58
#define IPP_NONE	59
#define IPP_DSTOPTS	60
#define IPP_ETHERIP	97
#define IPP_L2TP	115

#define TCP_MIN_CAPTURED 14	/* ports .. flags byte */
#define TCP_DOFF_OFF	12
#define TCP_DOFF_SHIFT	4
#define TCP_MIN_DOFF	5	/* 32-bit words */
#define TCP_FLAGS_OFF	13
#define UDP_HDR_LEN	8
#define UDP_LEN_OFF	4
#define L4_SPORT_OFF	0
#define L4_DPORT_OFF	2

/* The link layer says which IP version follows, or leaves it to the version
 * nibble (raw IP). */
#define NET_BY_VERSION	0
#define IPV4_VERSION	4
#define IPV6_VERSION	6
/* First byte of an IPv4 header without options (0x45). */
#define IPV4_VIHL_PLAIN	((IPV4_VERSION << IP_VERSION_SHIFT) | \
			 (IPV4_MIN_HDR / IPV4_IHL_UNIT))

/* Fixed offsets are indexed below the length taken with cur_getptr. */
#define FIELD16_LEN	2
_Static_assert(ETH_TYPE_OFF + FIELD16_LEN <= ETH_HDR_LEN, "Ethernet");
_Static_assert(SLL_PROTO_OFF + FIELD16_LEN <= SLL_HDR_LEN, "SLL");
_Static_assert(SLL2_PROTO_OFF + FIELD16_LEN <= SLL2_HDR_LEN, "SLL2");
_Static_assert(VLAN_TYPE_OFF + FIELD16_LEN <= VLAN_TAG_LEN, "VLAN tag");
_Static_assert(IPV4_DST_OFF + IPV4_ADDR_LEN <= IPV4_MIN_HDR, "IPv4");
_Static_assert(IPV6_DST_OFF + IPV6_ADDR_LEN <= IPV6_HDR_LEN, "IPv6");
_Static_assert(TCP_FLAGS_OFF < TCP_MIN_CAPTURED, "TCP");
_Static_assert(UDP_LEN_OFF + FIELD16_LEN <= UDP_HDR_LEN, "UDP");
_Static_assert(AH_NH_OFF < AH_PEEK_LEN && AH_LEN_OFF < AH_PEEK_LEN &&
	       AH_PEEK_LEN == IPV6_EXT_MIN, "AH");
_Static_assert(IPP_TCP == DEC_PROTO_TCP && IPP_UDP == DEC_PROTO_UDP,
	       "struct pkt keeps the wire protocol number");

/* Layout (issue 6, instructions per packet): decode_packet is the fast
 * path, Ethernet (at most one 802.1Q tag) + IPv4 without options + TCP/UDP,
 * with one bounds check for the link and IP headers. Everything else goes
 * to dec_general, which starts over and decides the same as the fast path
 * would for the bytes it accepts. The helpers are static inline so that
 * each caller gets its own copy with the cursor in registers. */

/* Big-endian 16 bits at b; callers only pass offsets the cursor covered. */
static inline uint16_t be16at(const uint8_t *b)
{
	return (uint16_t)((b[0] << 8) | b[1]);
}

/* Link header with a 16-bit ethertype at type_off, then VLAN tags. Sets
 * *ver to the IP version that follows. */
static inline enum dec_reason dec_ethertype(struct cur *c, size_t hdr_len,
					    size_t type_off, unsigned *ver)
{
	const uint8_t *b = cur_getptr(c, hdr_len);
	uint16_t type;
	int tags;

	if (!b)
		return DEC_LINK_TRUNCATED;
	type = be16at(b + type_off);
	/* IPv4 and IPv6 tested before the switch: a switch over these
	 * values compiles to a search tree, and nearly all frames are IP. */
	for (tags = 0;; tags++) {
		if (type == ETH_IPV4) {
			*ver = IPV4_VERSION;
			return DEC_OK;
		}
		if (type == ETH_IPV6) {
			*ver = IPV6_VERSION;
			return DEC_OK;
		}
		switch (type) {
		case ETH_8021Q:
		case ETH_8021AD:
		case ETH_QINQ_OLD:
			if (tags == DEC_MAX_VLAN_TAGS)
				return DEC_VLAN_TOO_DEEP;
			b = cur_getptr(c, VLAN_TAG_LEN);
			if (!b)
				return DEC_LINK_TRUNCATED;
			type = be16at(b + VLAN_TYPE_OFF);
			break;
		case ETH_MPLS_UC:
		case ETH_MPLS_MC:
			return DEC_ENCAP_MPLS;
		case ETH_PPPOE_DISC:
		case ETH_PPPOE_SESS:
			return DEC_ENCAP_PPPOE;
		default:
			/* ARP, LLDP, ..., 802.3 lengths (< ETH_MIN_TYPE). */
			return DEC_NOT_IP;
		}
	}
}

/* DLT_NULL/DLT_LOOP: a 4-byte address family, in the writer's byte order
 * when host_order. */
static inline enum dec_reason dec_af(struct cur *c, int host_order,
				     unsigned *ver)
{
	const uint8_t *b = cur_getptr(c, NULL_HDR_LEN);
	uint32_t af;

	if (!b)
		return DEC_LINK_TRUNCATED;
	af = ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) |
	     ((uint32_t)b[2] << 8) | b[3];
	/* AF values are small, so high bits set in network order mean a
	 * little-endian writer. */
	if (host_order && (af & AF_BYTE_ORDER_MASK))
		af = ((uint32_t)b[3] << 24) | ((uint32_t)b[2] << 16) |
		     ((uint32_t)b[1] << 8) | b[0];
	switch (af) {
	case AF_VAL_INET:
		*ver = IPV4_VERSION;
		return DEC_OK;
	case AF_VAL_INET6_LINUX:
	case AF_VAL_INET6_BSD:
	case AF_VAL_INET6_FREEBSD:
	case AF_VAL_INET6_DARWIN:
		*ver = IPV6_VERSION;
		return DEC_OK;
	default:
		return DEC_NOT_IP;
	}
}

/* Up to the IP header: sets *ver, or leaves NET_BY_VERSION for raw IP. */
static inline enum dec_reason dec_link(int linktype, struct cur *c,
				       unsigned *ver)
{
	size_t hdr_len = ETH_HDR_LEN, type_off = ETH_TYPE_OFF;

	/* Ethernet before the switch, which is a search tree. */
	if (linktype != LT_EN10MB) {
		switch (linktype) {
		case LT_SLL:
			hdr_len = SLL_HDR_LEN;
			type_off = SLL_PROTO_OFF;
			break;
		case LT_SLL2:
			hdr_len = SLL2_HDR_LEN;
			type_off = SLL2_PROTO_OFF;
			break;
#ifdef __OpenBSD__
		case LT_RAW_A:		/* DLT_LOOP there */
#endif
		case LT_NULL:
		case LT_LOOP:
			return dec_af(c, linktype == LT_NULL, ver);
#ifndef __OpenBSD__
		case LT_RAW_A:
#endif
		case LT_RAW_B:
		case LT_RAW_FILE:
			return DEC_OK;
		case LT_IPV4:
			*ver = IPV4_VERSION;
			return DEC_OK;
		case LT_IPV6:
			*ver = IPV6_VERSION;
			return DEC_OK;
		default:
			return DEC_LINK_UNSUPPORTED;
		}
	}
	return dec_ethertype(c, hdr_len, type_off, ver);
}

/* IPv4 header (options skipped). On DEC_OK, *l4 spans the captured payload
 * and *proto is the protocol; *len0_ok says a UDP length of 0 is acceptable
 * (total length 0: a segment of TSO/GRO/BIG TCP, UDP tunnels included). */
static inline enum dec_reason dec_ipv4(struct cur *c, uint8_t vihl,
				       struct pkt *p, struct cur *l4,
				       uint8_t *proto, int *len0_ok, uint32_t uncaptured)
{
	size_t captured = cur_left(c), hl;
	const uint8_t *h;
	uint16_t totlen, frag;

	hl = (size_t)(vihl & IPV4_IHL_MASK) * IPV4_IHL_UNIT;
	if (hl < IPV4_MIN_HDR)
		return DEC_IP_BAD_HDRLEN;
	h = cur_getptr(c, hl);	/* options included, skipped */
	if (!h)
		return DEC_IP_TRUNCATED;
	totlen = be16at(h + IPV4_TOTLEN_OFF);
	if (totlen != 0 && totlen < hl)
		return DEC_IP_BAD_LEN;

	p->family = IPV4_VERSION;
	/* src/dst tails stay zero from pkt_clear. */
	memcpy(p->src, h + IPV4_SRC_OFF, IPV4_ADDR_LEN);
	memcpy(p->dst, h + IPV4_DST_OFF, IPV4_ADDR_LEN);
	/* 0 is what TSO/LRO captures show: the packet's length on the wire
	 * instead (the snap length cuts what was captured). */
	p->ip_len = totlen ? totlen : (uint32_t)captured + uncaptured;

	frag = be16at(h + IPV4_FRAG_OFF);
	if (frag & IPV4_FRAG_MASK)
		return DEC_IP_FRAGMENT;
	p->first_frag = (frag & IPV4_FRAG_MF) != 0;

	/* L4 ends at the total length (drops Ethernet padding) or at the
	 * snaplen, whichever is first. */
	cur_sub_upto(c, totlen ? (size_t)totlen - hl : SIZE_MAX, l4);
	*proto = h[IPV4_PROTO_OFF];
	*len0_ok = totlen == 0;
	return DEC_OK;
}

/* IPv6 header and extension headers. On DEC_OK, *l4 spans the captured
 * payload after them, *proto is the next header that ends the chain and
 * *len0_ok says a UDP length of 0 is acceptable (payload length 0). */
static inline enum dec_reason dec_ipv6(struct cur *c, struct pkt *p,
				       struct cur *l4, uint8_t *proto,
				       int *len0_ok, uint32_t uncaptured)
{
	size_t captured = cur_left(c), skip;
	const uint8_t *h = cur_getptr(c, IPV6_HDR_LEN);
	uint16_t plen, frag;
	uint8_t nh;
	int n;

	if (!h)
		return DEC_IP_TRUNCATED;
	plen = be16at(h + IPV6_PLEN_OFF);
	nh = h[IPV6_NH_OFF];

	p->family = IPV6_VERSION;
	memcpy(p->src, h + IPV6_SRC_OFF, IPV6_ADDR_LEN);
	memcpy(p->dst, h + IPV6_DST_OFF, IPV6_ADDR_LEN);
	/* 0 = jumbogram (length in a hop-by-hop option) or TSO: the length on
	 * the wire. */
	p->ip_len = plen ? (uint32_t)plen + IPV6_HDR_LEN : (uint32_t)captured + uncaptured;
	*len0_ok = plen == 0;

	cur_sub_upto(c, plen ? plen : SIZE_MAX, l4);

	for (n = 0;; n++) {
		switch (nh) {
		case IPP_HOPOPTS:
		case IPP_ROUTING:
		case IPP_DSTOPTS:
		case IPP_AH:
			if (n == DEC_MAX_V6_EXT)
				return DEC_V6_EXT_TOO_MANY;
			h = cur_getptr(l4, IPV6_EXT_MIN);
			if (!h)
				return DEC_V6_EXT_TRUNCATED;
			if (nh == IPP_AH)
				skip = ((size_t)h[AH_LEN_OFF] + AH_LEN_EXTRA) *
				       AH_LEN_UNIT;
			else
				skip = ((size_t)h[1] + 1) * IPV6_EXT_UNIT;
			nh = h[0];
			if (cur_skip(l4, skip - IPV6_EXT_MIN))
				return DEC_V6_EXT_TRUNCATED;
			break;
		case IPP_FRAGMENT:
			if (n == DEC_MAX_V6_EXT)
				return DEC_V6_EXT_TOO_MANY;
			h = cur_getptr(l4, IPV6_FRAG_LEN);
			if (!h)
				return DEC_V6_EXT_TRUNCATED;
			frag = be16at(h + IPV6_FRAG_OFF);
			if (frag & IPV6_FRAG_MASK)
				return DEC_IP_FRAGMENT;
			/* Offset 0: the first fragment, or an atomic
			 * fragment (RFC 6946) when M is clear. */
			p->first_frag = (frag & IPV6_FRAG_M) != 0;
			nh = h[0];
			break;
		default:
			/* Not an extension header: ESP (50), ICMPv6 (58) and
			 * no-next-header (59) end up as l4_other. */
			*proto = nh;
			return DEC_OK;
		}
	}
}

static enum dec_reason dec_ipv4_ah(const uint8_t *data, size_t len,
				   int udp_len0_ok, struct pkt *p);

/* Ports and flags, once IP (and extension) headers are done. l4 spans the
 * captured part of the IP payload. ESP is opaque: l4_other. */
static inline enum dec_reason dec_l4(struct cur *l4, uint8_t proto,
				     int udp_len0_ok, struct pkt *p)
{
	const uint8_t *b;
	uint16_t ulen;

	if (proto == IPP_TCP) {
		/* Only what is needed for ports and flags: a small snaplen
		 * may cut the rest of the header, which is fine. */
		b = cur_getptr(l4, TCP_MIN_CAPTURED);
		if (!b)
			return DEC_L4_TRUNCATED;
		if ((b[TCP_DOFF_OFF] >> TCP_DOFF_SHIFT) < TCP_MIN_DOFF)
			return DEC_TCP_BAD_HDRLEN;
		p->tcp_flags = b[TCP_FLAGS_OFF];
	} else if (proto == IPP_UDP) {
		b = cur_getptr(l4, UDP_HDR_LEN);
		if (!b)
			return DEC_L4_TRUNCATED;
		ulen = be16at(b + UDP_LEN_OFF);
		if (ulen < UDP_HDR_LEN && !(ulen == 0 && udp_len0_ok))
			return DEC_UDP_BAD_LEN;
	} else {
		switch (proto) {
		case IPP_AH:
			/* Only after IPv4: dec_ipv6 walks AH itself. */
			return dec_ipv4_ah(l4->p + l4->off, cur_left(l4),
					   udp_len0_ok, p);
		case IPP_IPIP:
		case IPP_IPV6:
		case IPP_GRE:
		case IPP_ETHERIP:
		case IPP_L2TP:
			return DEC_ENCAP_TUNNEL;
		default:
			return DEC_L4_OTHER;
		}
	}
	p->proto = proto;	/* DEC_PROTO_TCP or DEC_PROTO_UDP */
	p->sport = be16at(b + L4_SPORT_OFF);
	p->dport = be16at(b + L4_DPORT_OFF);
	return DEC_OK;
}

/* AH after IPv4 (transport mode), skipped as dec_ipv6 skips it after IPv6,
 * then decoded as if it were not there (tunnel mode: encap_tunnel). Reached
 * from dec_l4's branch for protocols other than TCP/UDP, so the fast path
 * pays nothing for it, and out of line (given the bytes, not the cursor,
 * which would then have to leave registers) so it stays that size. A later
 * fragment never gets here: dec_ipv4 has already refused it. l4 ends at
 * the IPv4 total length, so an AH longer than the datagram is truncated. */
__attribute__((noinline))
static enum dec_reason dec_ipv4_ah(const uint8_t *data, size_t len,
				   int udp_len0_ok, struct pkt *p)
{
	const uint8_t *h;
	struct cur l4;
	uint8_t nh = IPP_AH;
	int n;

	cur_init(&l4, data, len);
	for (n = 0; nh == IPP_AH; n++) {
		if (n == DEC_MAX_V4_AH)
			return DEC_V4_AH_TOO_MANY;
		h = cur_getptr(&l4, AH_PEEK_LEN);
		if (!h)
			return DEC_V4_AH_TRUNCATED;
		nh = h[AH_NH_OFF];
		if (cur_skip(&l4, ((size_t)h[AH_LEN_OFF] + AH_LEN_EXTRA) *
				 AH_LEN_UNIT - AH_PEEK_LEN))
			return DEC_V4_AH_TRUNCATED;
	}
	/* nh is not AH here, so this does not come back. */
	return dec_l4(&l4, nh, udp_len0_ok, p);
}

/* Any packet, from its first byte (*p already zeroed). Out of line and
 * given the bytes rather than the caller's cursor, so that the fast path
 * saves no registers and this path keeps its own cursor in registers. */
__attribute__((noinline))
static enum dec_reason dec_general(int linktype, const uint8_t *data,
				   size_t len, uint32_t uncaptured, struct pkt *p)
{
	unsigned ver = NET_BY_VERSION, v;
	const uint8_t *h;
	enum dec_reason r;
	struct cur c, l4;
	uint8_t proto;
	int len0_ok = 0;

	cur_init(&c, data, len);
	r = dec_link(linktype, &c, &ver);
	if (r != DEC_OK)
		return r;
	h = cur_peek(&c, 1);
	if (!h)
		return DEC_IP_TRUNCATED;
	v = h[0] >> IP_VERSION_SHIFT;
	/* The version must be the one the link layer announced, if any. */
	if (v == IPV4_VERSION && ver != IPV6_VERSION)
		r = dec_ipv4(&c, h[0], p, &l4, &proto, &len0_ok, uncaptured);
	else if (v == IPV6_VERSION && ver != IPV4_VERSION)
		r = dec_ipv6(&c, p, &l4, &proto, &len0_ok, uncaptured);
	else
		return DEC_IP_BAD_VERSION;
	if (r != DEC_OK)
		return r;
	return dec_l4(&l4, proto, len0_ok, p);
}

enum dec_reason decode_packet(int linktype, const uint8_t *data,
			      uint32_t caplen, uint32_t wirelen, struct pkt *p)
{
	struct cur c, l4;
	const uint8_t *h;
	enum dec_reason r;
	uint8_t proto;
	uint32_t uncaptured;
	int len0_ok;

	memset(p, 0, sizeof(*p));
	if (!data)
		caplen = 0;
	uncaptured = wirelen > caplen ? wirelen - caplen : 0;
	if (linktype != LT_EN10MB)
		return dec_general(linktype, data, caplen, uncaptured, p);
	cur_init(&c, data, caplen);
	/* Each branch repeats the IPv4 and L4 calls so the compiler can
	 * fold its constant offsets into them. */
	h = cur_peek(&c, ETH_HDR_LEN + IPV4_MIN_HDR);
	if (h && be16at(h + ETH_TYPE_OFF) == ETH_IPV4 &&
	    h[ETH_HDR_LEN] == IPV4_VIHL_PLAIN) {
		(void)cur_skip(&c, ETH_HDR_LEN);	/* cannot fail */
		r = dec_ipv4(&c, IPV4_VIHL_PLAIN, p, &l4, &proto, &len0_ok, uncaptured);
		if (r != DEC_OK)
			return r;
		return dec_l4(&l4, proto, len0_ok, p);
	}
	h = cur_peek(&c, ETH_HDR_LEN + VLAN_TAG_LEN + IPV4_MIN_HDR);
	if (h && be16at(h + ETH_TYPE_OFF) == ETH_8021Q &&
	    be16at(h + ETH_HDR_LEN + VLAN_TYPE_OFF) == ETH_IPV4 &&
	    h[ETH_HDR_LEN + VLAN_TAG_LEN] == IPV4_VIHL_PLAIN) {
		(void)cur_skip(&c, ETH_HDR_LEN + VLAN_TAG_LEN);
		r = dec_ipv4(&c, IPV4_VIHL_PLAIN, p, &l4, &proto, &len0_ok, uncaptured);
		if (r != DEC_OK)
			return r;
		return dec_l4(&l4, proto, len0_ok, p);
	}
	return dec_general(linktype, data, caplen, uncaptured, p);
}

int decode_link_supported(int linktype)
{
	switch (linktype) {
	case LT_NULL:
	case LT_EN10MB:
	case LT_RAW_A:
	case LT_RAW_B:
	case LT_RAW_FILE:
	case LT_LOOP:
	case LT_SLL:
	case LT_IPV4:
	case LT_IPV6:
	case LT_SLL2:
		return 1;
	default:
		return 0;
	}
}

#define DEC_NAME_ITEM(e, s) s,
static const char *const dec_names[DEC_REASON_COUNT] = {
	DEC_REASONS(DEC_NAME_ITEM)
};
#undef DEC_NAME_ITEM

const char *decode_reason_name(enum dec_reason r)
{
	if ((unsigned)r >= DEC_REASON_COUNT)
		return "unknown";
	return dec_names[r];
}
