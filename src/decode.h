/* Packet decoder: link layer -> IPv4/IPv6 -> TCP/UDP, through a bounded
 * cursor against the captured length. Never reads beyond caplen; anything it
 * cannot turn into a (src, dst, ports, proto) tuple gets a named reason. */
#ifndef D42_DECODE_H
#define D42_DECODE_H

#include <stdint.h>

#define DEC_MAX_VLAN_TAGS 4	/* 802.1Q/802.1ad tags peeled, at most */
#define DEC_MAX_V6_EXT    8	/* IPv6 extension headers walked, at most */
#define DEC_MAX_V4_AH     4	/* AH headers after IPv4 skipped, at most
				 * (transport-mode bundles nest one or two) */

/* Order matters only for the report (kept stable). */
#define DEC_REASONS(X) \
	X(DEC_OK,              "ok") \
	X(DEC_LINK_UNSUPPORTED,"link_unsupported") \
	X(DEC_LINK_TRUNCATED,  "link_truncated") \
	X(DEC_VLAN_TOO_DEEP,   "vlan_too_deep") \
	X(DEC_NOT_IP,          "not_ip") \
	X(DEC_ENCAP_MPLS,      "encap_mpls") \
	X(DEC_ENCAP_PPPOE,     "encap_pppoe") \
	X(DEC_IP_TRUNCATED,    "ip_truncated") \
	X(DEC_IP_BAD_VERSION,  "ip_bad_version") \
	X(DEC_IP_BAD_HDRLEN,   "ip_bad_header_length") \
	X(DEC_IP_BAD_LEN,      "ip_bad_total_length") \
	X(DEC_IP_FRAGMENT,     "ip_fragment_not_first") \
	X(DEC_V6_EXT_TRUNCATED,"ipv6_ext_truncated") \
	X(DEC_V6_EXT_TOO_MANY, "ipv6_ext_too_many") \
	X(DEC_V4_AH_TRUNCATED, "ipv4_ah_truncated") \
	X(DEC_V4_AH_TOO_MANY,  "ipv4_ah_too_many") \
	X(DEC_ENCAP_TUNNEL,    "encap_tunnel") \
	X(DEC_L4_OTHER,        "l4_other") \
	X(DEC_L4_TRUNCATED,    "l4_truncated") \
	X(DEC_TCP_BAD_HDRLEN,  "tcp_bad_header_length") \
	X(DEC_UDP_BAD_LEN,     "udp_bad_length")

#define DEC_ENUM_ITEM(e, s) e,
enum dec_reason { DEC_REASONS(DEC_ENUM_ITEM) DEC_REASON_COUNT };
#undef DEC_ENUM_ITEM

/* TCP flag bits as on the wire. */
#define DEC_TCP_FIN 0x01
#define DEC_TCP_SYN 0x02
#define DEC_TCP_RST 0x04
#define DEC_TCP_ACK 0x10

#define DEC_PROTO_TCP 6
#define DEC_PROTO_UDP 17

struct pkt {
	uint8_t family;		/* 4 or 6 */
	uint8_t proto;		/* DEC_PROTO_TCP or DEC_PROTO_UDP */
	uint8_t tcp_flags;	/* 0 for UDP */
	uint8_t first_frag;	/* 1 if a first fragment (more follow):
				 * ports are real, ip_len is this fragment's */
	uint8_t src[16], dst[16];	/* IPv4 in the first 4 bytes, rest 0 */
	uint16_t sport, dport;
	uint32_t ip_len;	/* IP-layer bytes: IPv4 total length, IPv6
				 * payload length + 40 (if the header field is
				 * 0, e.g. jumbograms, TSO: the length on the
				 * wire less the link header) */
};

/* linktype is a DLT_ value as returned by pcap_datalink() (LINKTYPE_RAW 101
 * is accepted too); wirelen is the packet's length on the wire (at least
 * caplen, or taken as caplen). Returns DEC_OK with *p filled, or the reason the packet
 * was not used. *p is zeroed first on every call; on a failure after the IP
 * header was read, family/src/dst/ip_len (and first_frag) stay set, while
 * proto/ports/tcp_flags are only set on DEC_OK. */
enum dec_reason decode_packet(int linktype, const uint8_t *data,
			      uint32_t caplen, uint32_t wirelen, struct pkt *p);
const char *decode_reason_name(enum dec_reason r);
/* 1 if this link type is decoded at all (for a start-up warning). */
int decode_link_supported(int linktype);

#endif
