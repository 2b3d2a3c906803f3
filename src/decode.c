/* Packet decoder. Every byte comes from a struct cur: fixed-size headers are
 * taken with cur_getptr(c, n) and only indexed below n. Runs per packet, so
 * there are no loops over bytes and no library calls besides memcpy/memset;
 * the only loops are over VLAN tags and IPv6 extension headers, both bounded
 * by the limits in decode.h. */
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
#define IPV6_AH_UNIT	4	/* AH: (n+2)*4 */
#define IPV6_AH_EXTRA	2
#define IPV6_FRAG_LEN	8
#define IPV6_FRAG_OFF	2
#define IPV6_FRAG_MASK	0xfff8
#define IPV6_FRAG_M	0x0001

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

/* Big-endian 16 bits at b; callers only pass offsets the cursor covered. */
static inline uint16_t be16at(const uint8_t *b)
{
	return (uint16_t)((b[0] << 8) | b[1]);
}

/* Ports and flags. l4 spans the captured part of the IP payload. */
static enum dec_reason dec_l4(struct cur *l4, uint8_t proto, int udp_len0_ok,
			      struct pkt *p)
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
		p->proto = DEC_PROTO_TCP;
	} else {
		b = cur_getptr(l4, UDP_HDR_LEN);
		if (!b)
			return DEC_L4_TRUNCATED;
		ulen = be16at(b + UDP_LEN_OFF);
		if (ulen < UDP_HDR_LEN && !(ulen == 0 && udp_len0_ok))
			return DEC_UDP_BAD_LEN;
		p->proto = DEC_PROTO_UDP;
	}
	p->sport = be16at(b + L4_SPORT_OFF);
	p->dport = be16at(b + L4_DPORT_OFF);
	return DEC_OK;
}

/* What to do with an IP protocol number once IP (and extension) headers
 * are done. AH/ESP after IPv4 are not looked into: l4_other. */
static enum dec_reason dec_ipproto(struct cur *l4, uint8_t proto,
				   int udp_len0_ok, struct pkt *p)
{
	switch (proto) {
	case IPP_TCP:
	case IPP_UDP:
		return dec_l4(l4, proto, udp_len0_ok, p);
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

static enum dec_reason dec_ipv4(struct cur *c, struct pkt *p)
{
	const uint8_t *h = cur_peek(c, 1);
	size_t captured = cur_left(c), hl, avail, lim;
	uint16_t totlen, frag;
	struct cur l4;

	if (!h)
		return DEC_IP_TRUNCATED;
	if ((h[0] >> IP_VERSION_SHIFT) != 4)
		return DEC_IP_BAD_VERSION;
	hl = (size_t)(h[0] & IPV4_IHL_MASK) * IPV4_IHL_UNIT;
	if (hl < IPV4_MIN_HDR)
		return DEC_IP_BAD_HDRLEN;
	h = cur_getptr(c, hl);	/* options included, skipped */
	if (!h)
		return DEC_IP_TRUNCATED;
	totlen = be16at(h + IPV4_TOTLEN_OFF);
	if (totlen != 0 && totlen < hl)
		return DEC_IP_BAD_LEN;

	p->family = 4;
	memcpy(p->src, h + IPV4_SRC_OFF, IPV4_ADDR_LEN);
	memcpy(p->dst, h + IPV4_DST_OFF, IPV4_ADDR_LEN);
	/* 0 is what TSO/LRO captures show: trust the capture instead. */
	p->ip_len = totlen ? totlen : (uint32_t)captured;

	frag = be16at(h + IPV4_FRAG_OFF);
	if (frag & IPV4_FRAG_MASK)
		return DEC_IP_FRAGMENT;
	p->first_frag = (frag & IPV4_FRAG_MF) != 0;

	/* L4 ends at the total length (drops Ethernet padding) or at the
	 * snaplen, whichever is first. */
	avail = cur_left(c);
	lim = totlen ? (size_t)totlen - hl : avail;
	cur_sub(c, lim < avail ? lim : avail, &l4);	/* cannot fail */
	return dec_ipproto(&l4, h[IPV4_PROTO_OFF], 0, p);
}

static enum dec_reason dec_ipv6(struct cur *c, struct pkt *p)
{
	const uint8_t *h = cur_peek(c, 1);
	size_t captured = cur_left(c), avail, lim, skip;
	uint16_t plen, frag;
	uint8_t nh;
	struct cur pl;
	int n;

	if (!h)
		return DEC_IP_TRUNCATED;
	if ((h[0] >> IP_VERSION_SHIFT) != 6)
		return DEC_IP_BAD_VERSION;
	h = cur_getptr(c, IPV6_HDR_LEN);
	if (!h)
		return DEC_IP_TRUNCATED;
	plen = be16at(h + IPV6_PLEN_OFF);
	nh = h[IPV6_NH_OFF];

	p->family = 6;
	memcpy(p->src, h + IPV6_SRC_OFF, IPV6_ADDR_LEN);
	memcpy(p->dst, h + IPV6_DST_OFF, IPV6_ADDR_LEN);
	/* 0 = jumbogram (length in a hop-by-hop option) or TSO: use what was
	 * captured. */
	p->ip_len = plen ? (uint32_t)plen + IPV6_HDR_LEN : (uint32_t)captured;

	avail = cur_left(c);
	lim = plen ? plen : avail;
	cur_sub(c, lim < avail ? lim : avail, &pl);	/* cannot fail */

	for (n = 0;; n++) {
		switch (nh) {
		case IPP_HOPOPTS:
		case IPP_ROUTING:
		case IPP_DSTOPTS:
		case IPP_AH:
			if (n == DEC_MAX_V6_EXT)
				return DEC_V6_EXT_TOO_MANY;
			h = cur_getptr(&pl, IPV6_EXT_MIN);
			if (!h)
				return DEC_V6_EXT_TRUNCATED;
			if (nh == IPP_AH)
				skip = ((size_t)h[1] + IPV6_AH_EXTRA) *
				       IPV6_AH_UNIT;
			else
				skip = ((size_t)h[1] + 1) * IPV6_EXT_UNIT;
			nh = h[0];
			if (cur_skip(&pl, skip - IPV6_EXT_MIN))
				return DEC_V6_EXT_TRUNCATED;
			break;
		case IPP_FRAGMENT:
			if (n == DEC_MAX_V6_EXT)
				return DEC_V6_EXT_TOO_MANY;
			h = cur_getptr(&pl, IPV6_FRAG_LEN);
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
			return dec_ipproto(&pl, nh, plen == 0, p);
		}
	}
}

/* Ethertype dispatch after Ethernet, SLL or SLL2, peeling VLAN tags. */
static enum dec_reason dec_ethertype(struct cur *c, uint16_t type,
				     struct pkt *p)
{
	const uint8_t *b;
	int tags = 0;

	while (type == ETH_8021Q || type == ETH_8021AD ||
	       type == ETH_QINQ_OLD) {
		if (tags == DEC_MAX_VLAN_TAGS)
			return DEC_VLAN_TOO_DEEP;
		tags++;
		b = cur_getptr(c, VLAN_TAG_LEN);
		if (!b)
			return DEC_LINK_TRUNCATED;
		type = be16at(b + VLAN_TYPE_OFF);
	}
	switch (type) {
	case ETH_IPV4:
		return dec_ipv4(c, p);
	case ETH_IPV6:
		return dec_ipv6(c, p);
	case ETH_MPLS_UC:
	case ETH_MPLS_MC:
		return DEC_ENCAP_MPLS;
	case ETH_PPPOE_DISC:
	case ETH_PPPOE_SESS:
		return DEC_ENCAP_PPPOE;
	default:
		/* ARP, LLDP, ..., and 802.3 lengths (< ETH_MIN_TYPE). */
		return DEC_NOT_IP;
	}
}

/* Fixed-size link header with a 16-bit ethertype at type_off. */
static enum dec_reason dec_typed_link(struct cur *c, size_t hdr_len,
				      size_t type_off, struct pkt *p)
{
	const uint8_t *b = cur_getptr(c, hdr_len);

	if (!b)
		return DEC_LINK_TRUNCATED;
	return dec_ethertype(c, be16at(b + type_off), p);
}

static enum dec_reason dec_af(struct cur *c, int host_order, struct pkt *p)
{
	struct cur h, h2;
	uint32_t be, le;

	if (cur_sub(c, NULL_HDR_LEN, &h))
		return DEC_LINK_TRUNCATED;
	h2 = h;
	(void)cur_be32(&h, &be);	/* cannot fail: h holds 4 bytes */
	(void)cur_le32(&h2, &le);
	/* DLT_NULL is in the writer's byte order: AF values are small, so
	 * high bits set in network order mean a little-endian writer. */
	if (host_order && (be & AF_BYTE_ORDER_MASK))
		be = le;
	switch (be) {
	case AF_VAL_INET:
		return dec_ipv4(c, p);
	case AF_VAL_INET6_LINUX:
	case AF_VAL_INET6_BSD:
	case AF_VAL_INET6_FREEBSD:
	case AF_VAL_INET6_DARWIN:
		return dec_ipv6(c, p);
	default:
		return DEC_NOT_IP;
	}
}

static enum dec_reason dec_raw(struct cur *c, struct pkt *p)
{
	const uint8_t *b = cur_peek(c, 1);

	if (!b)
		return DEC_IP_TRUNCATED;
	switch (b[0] >> IP_VERSION_SHIFT) {
	case 4:
		return dec_ipv4(c, p);
	case 6:
		return dec_ipv6(c, p);
	default:
		return DEC_IP_BAD_VERSION;
	}
}

enum dec_reason decode_packet(int linktype, const uint8_t *data,
			      uint32_t caplen, struct pkt *p)
{
	struct cur c;

	memset(p, 0, sizeof(*p));
	cur_init(&c, data, data ? caplen : 0);
	switch (linktype) {
	case LT_EN10MB:
		return dec_typed_link(&c, ETH_HDR_LEN, ETH_TYPE_OFF, p);
#ifdef __OpenBSD__
	case LT_RAW_A:		/* DLT_LOOP there */
		return dec_af(&c, 0, p);
#else
	case LT_RAW_A:
#endif
	case LT_RAW_B:
	case LT_RAW_FILE:
		return dec_raw(&c, p);
	case LT_IPV4:
		return dec_ipv4(&c, p);
	case LT_IPV6:
		return dec_ipv6(&c, p);
	case LT_NULL:
		return dec_af(&c, 1, p);
	case LT_LOOP:
		return dec_af(&c, 0, p);
	case LT_SLL:
		return dec_typed_link(&c, SLL_HDR_LEN, SLL_PROTO_OFF, p);
	case LT_SLL2:
		return dec_typed_link(&c, SLL2_HDR_LEN, SLL2_PROTO_OFF, p);
	default:
		return DEC_LINK_UNSUPPORTED;
	}
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
