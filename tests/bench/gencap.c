/* gencap: fast, seeded, deterministic synthetic capture for `make bench`.
 *
 *   gencap -o FILE -n PACKETS -f FLOWS -p small|imix [-s SEED] [-r PPS]
 *
 * Writes a classic pcap (microsecond stamps, little-endian, Ethernet) with
 * plain fwrite, no libpcap. FLOWS conversation slots are live at once; every
 * packet goes to a slot drawn uniformly at random, so with a million slots
 * consecutive packets touch unrelated table entries, as on a busy link. A
 * slot is a fixed (client IP, server IP, server port, protocol) - one
 * d42pcap record - whose connection is replaced by a new one (new client
 * port, new handshake) after a random number of packets. Half the slots
 * start mid-stream (no handshake seen). Per slot: 1/8 IPv6, 1/8 802.1Q
 * tagged, 1/4 UDP request/response, the rest TCP (SYN, SYN+ACK, then data
 * or pure ACKs both ways). Every header is valid, checksums included.
 *
 * Sizes: "small" = 64-byte frames (IPv6 frames: the smallest that holds the
 * headers); "imix" = 64/576/1500-byte frames drawn 7:4:1, except handshake
 * packets, always 64 bytes. The same arguments always give the same bytes.
 * A summary line (key=value) goes to stderr. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PCAP_MAGIC_US   0xa1b2c3d4u
#define PCAP_VER_MAJOR  2
#define PCAP_VER_MINOR  4
#define PCAP_SNAPLEN    65535
#define LINKTYPE_EN10MB 1
#define PCAP_FILE_HDR   24
#define PCAP_REC_HDR    16

#define ETH_HDR   14
#define VLAN_TAG  4
#define IP4_HDR   20
#define IP6_HDR   40
#define TCP_HDR   20
#define TCP_MSS_OPT 4		/* SYN/SYN+ACK carry an MSS option */
#define UDP_HDR   8
#define FRAME_SMALL 64
#define FRAME_MID   576
#define FRAME_LARGE 1500
#define FRAME_MAX   (FRAME_LARGE + VLAN_TAG)
#define IMIX_SMALL  7		/* 7:4:1 of 64/576/1500 */
#define IMIX_MID    4
#define IMIX_LARGE  1
#define IMIX_TOTAL  (IMIX_SMALL + IMIX_MID + IMIX_LARGE)

#define ET_IP4  0x0800
#define ET_IP6  0x86dd
#define ET_VLAN 0x8100
#define PROTO_TCP 6
#define PROTO_UDP 17
#define TCP_SYN 0x02
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define IP4_TTL 64
#define IP4_DF  0x4000
#define TCP_WINDOW 65535
#define MSS_V4 1460
#define MSS_V6 1440

#define SLOT_V6_EVERY   8	/* slot hash % 8 == 0: IPv6 */
#define SLOT_VLAN_EVERY 8	/* slot hash / 8 % 8 == 0: tagged */
#define SLOT_UDP_EVERY  4	/* slot hash / 64 % 4 == 0: UDP */
#define SERVERS_PER     16	/* one server per 16 slots ... */
#define SERVERS_MIN     16	/* ... but at least this many */
#define LIFE_MIN        8	/* packets per connection: 8 .. 8+31 */
#define LIFE_SPAN       32
#define EPHEMERAL_LO    32768	/* client ports 32768..60999 (Linux) */
#define EPHEMERAL_N     28232
#define VLAN_IDS        4094
#define MAX_FLOWS       (1u << 24)	/* client addresses are 10.x.y.z */
#define MAX_PACKETS     4000000000ull
#define DEFAULT_SEED    42
#define DEFAULT_PPS     100000	/* virtual rate: sets the timestamps */
#define START_SEC       1700000000u	/* 2023-11-14T22:13:20Z */
#define US_PER_SEC      1000000ull
#define OUT_BUFFER      (4u << 20)

enum st { ST_SYN, ST_SYNACK, ST_DATA };

struct slot {
	uint32_t seq_c, seq_s;	/* TCP sequence numbers, each side */
	uint16_t cport;
	uint8_t state;		/* enum st; UDP slots only use ST_DATA */
	uint8_t left;		/* packets before the connection is replaced */
};

static const uint16_t tcp_ports[] = { 80, 443, 22, 3306, 5432, 8080, 6379, 25, 389, 445 };
static const uint16_t udp_ports[] = { 53, 123, 161, 514, 5060, 1812 };
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static uint64_t rng_state;

/* splitmix64: tiny, fast, and the same on every platform. */
static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t rnd(void)
{
	rng_state += 0x9e3779b97f4a7c15ull;
	return mix64(rng_state);
}

static uint32_t rnd_below(uint32_t n)
{
	return (uint32_t)(((rnd() >> 32) * (uint64_t)n) >> 32);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static void le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void le32(uint8_t *p, uint32_t v)
{
	le16(p, (uint16_t)v);
	le16(p + 2, (uint16_t)(v >> 16));
}

/* One's-complement sum of big-endian 16-bit words (len even). */
static uint32_t sum16(const uint8_t *p, size_t len, uint32_t s)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* Payload bytes are a fixed pattern; psum[n] is the checksum sum of its
 * first n bytes, so a packet's checksum costs only its headers. */
static uint8_t pattern[FRAME_MAX];
static uint32_t psum[FRAME_MAX + 1];

static void init_payload(void)
{
	size_t i;

	for (i = 0; i < FRAME_MAX; i++)
		pattern[i] = (uint8_t)('A' + i % 26);
	psum[0] = 0;
	for (i = 0; i < FRAME_MAX; i++)
		psum[i + 1] = psum[i] + (i % 2 == 0 ? (uint32_t)pattern[i] << 8 : pattern[i]);
}

struct gen {
	uint32_t flows, servers;
	int imix;
	struct slot *slots;
	uint8_t *seen;		/* slots that got a packet (for the summary) */
	uint16_t ip_id;
	/* summary */
	uint64_t bytes, v6, vlan, udp, syn, synack, by_size[3];
};

static uint32_t slot_hash(uint32_t i)
{
	return (uint32_t)mix64((uint64_t)i * 0x2545f4914f6cdd1dull + 1);
}

static void slot_start(struct slot *s, int midstream)
{
	s->cport = (uint16_t)(EPHEMERAL_LO + rnd_below(EPHEMERAL_N));
	s->state = midstream ? ST_DATA : ST_SYN;
	s->left = (uint8_t)(LIFE_MIN + rnd_below(LIFE_SPAN));
	s->seq_c = (uint32_t)rnd();
	s->seq_s = (uint32_t)rnd();
}

/* Frame size for a data packet. */
static unsigned draw_size(struct gen *g)
{
	uint32_t r;

	if (!g->imix)
		return FRAME_SMALL;
	r = rnd_below(IMIX_TOTAL);
	if (r < IMIX_SMALL)
		return FRAME_SMALL;
	return r < IMIX_SMALL + IMIX_MID ? FRAME_MID : FRAME_LARGE;
}

static void count_size(struct gen *g, unsigned frame)
{
	g->by_size[frame <= FRAME_SMALL + VLAN_TAG + IP6_HDR ? 0 :
		   frame <= FRAME_MID + VLAN_TAG ? 1 : 2]++;
}

/* Builds the next packet of slot i into f; returns the frame length. */
static unsigned build(struct gen *g, uint32_t i, uint8_t *f)
{
	struct slot *s = &g->slots[i];
	uint32_t h = slot_hash(i), srv = h % g->servers, sh = slot_hash(srv ^ 0x80000000u);
	int v6 = h % SLOT_V6_EVERY == 0;
	int vlan = h / SLOT_V6_EVERY % SLOT_VLAN_EVERY == 0;
	int udp = h / (SLOT_V6_EVERY * SLOT_VLAN_EVERY) % SLOT_UDP_EVERY == 0;
	uint16_t sport = udp ? udp_ports[sh % NELEM(udp_ports)] : tcp_ports[sh % NELEM(tcp_ports)];
	unsigned l2 = ETH_HDR + (vlan ? VLAN_TAG : 0), l3 = v6 ? IP6_HDR : IP4_HDR;
	unsigned l4 = udp ? UDP_HDR : TCP_HDR, frame, ip_len, pay, seg;
	uint8_t cli[16], ser[16], *a, *b, *ip, *l4p, flags = 0;
	int to_srv, ctl = 0;
	uint32_t cs, *seq_tx, seq_rx;

	if (!g->seen[i]) {
		g->seen[i] = 1;
		slot_start(s, rnd_below(2) == 0);
	} else if (s->left == 0) {
		slot_start(s, 0);	/* the next connection of this pair */
	}
	s->left--;

	if (udp) {
		to_srv = (s->seq_c & 1) == 0;	/* request, response, ... */
		s->seq_c++;
	} else if (s->state == ST_SYN) {
		to_srv = 1;
		flags = TCP_SYN;
		ctl = 1;
		s->state = ST_SYNACK;
	} else if (s->state == ST_SYNACK) {
		to_srv = 0;
		flags = TCP_SYN | TCP_ACK;
		ctl = 1;
		s->state = ST_DATA;
	} else {
		to_srv = (int)rnd_below(2);
		flags = TCP_ACK;
	}

	/* Addresses: client 10.x.y.z / fd00::c:x:y:z; server 172.16+.x.y / fd00::5:x. */
	memset(cli, 0, sizeof(cli));
	memset(ser, 0, sizeof(ser));
	if (v6) {
		cli[0] = ser[0] = 0xfd;
		cli[11] = 0x0c;
		ser[11] = 0x05;
		put32(cli + 12, i);
		put32(ser + 12, srv);
	} else {
		put32(cli, (10u << 24) | i);
		put32(ser, ((172u << 24) | (16u << 16)) + srv);
	}
	a = to_srv ? cli : ser;
	b = to_srv ? ser : cli;

	frame = ctl ? FRAME_SMALL : draw_size(g);
	if (ctl && !udp)
		l4 += TCP_MSS_OPT;
	if (frame < l2 + l3 + l4)
		frame = l2 + l3 + l4;
	if (vlan && frame > FRAME_SMALL)	/* a tag adds to a full frame */
		frame += VLAN_TAG;
	pay = ctl ? 0 : frame - l2 - l3 - l4;
	seg = l4 + pay;
	ip_len = l3 + seg;

	/* Ethernet (+ 802.1Q) */
	memset(f, 0, frame);	/* also the padding after short datagrams */
	f[0] = 0x02;
	put32(f + 2, to_srv ? srv : i);
	f[6] = 0x02;
	put32(f + 8, to_srv ? i : srv);
	if (vlan) {
		put16(f + 12, ET_VLAN);
		put16(f + 14, (uint16_t)(1 + h % VLAN_IDS));
	}
	put16(f + l2 - 2, v6 ? ET_IP6 : ET_IP4);
	ip = f + l2;
	if (v6) {
		ip[0] = 0x60;
		put16(ip + 4, (uint16_t)seg);
		ip[6] = udp ? PROTO_UDP : PROTO_TCP;
		ip[7] = IP4_TTL;
		memcpy(ip + 8, a, 16);
		memcpy(ip + 24, b, 16);
		cs = sum16(a, 16, sum16(b, 16, 0));
	} else {
		ip[0] = 0x45;
		put16(ip + 2, (uint16_t)ip_len);
		put16(ip + 4, g->ip_id++);
		put16(ip + 6, IP4_DF);
		ip[8] = IP4_TTL;
		ip[9] = udp ? PROTO_UDP : PROTO_TCP;
		memcpy(ip + 12, a, 4);
		memcpy(ip + 16, b, 4);
		put16(ip + 10, fold(sum16(ip, IP4_HDR, 0)));
		cs = sum16(a, 4, sum16(b, 4, 0));
	}
	cs += (udp ? PROTO_UDP : PROTO_TCP) + seg;	/* pseudo-header rest */

	l4p = ip + l3;
	put16(l4p, to_srv ? s->cport : sport);
	put16(l4p + 2, to_srv ? sport : s->cport);
	if (udp) {
		put16(l4p + 4, (uint16_t)seg);
	} else {
		seq_tx = to_srv ? &s->seq_c : &s->seq_s;
		seq_rx = to_srv ? s->seq_s : s->seq_c;
		put32(l4p + 4, *seq_tx);
		if (flags & TCP_ACK)
			put32(l4p + 8, seq_rx);
		*seq_tx += pay + (flags & TCP_SYN ? 1 : 0);
		l4p[12] = (uint8_t)((l4 / 4) << 4);
		l4p[13] = (uint8_t)(flags | (pay ? TCP_PSH : 0));
		put16(l4p + 14, TCP_WINDOW);
		if (ctl) {	/* MSS option: kind 2, length 4 */
			l4p[20] = 2;
			l4p[21] = 4;
			put16(l4p + 22, v6 ? MSS_V6 : MSS_V4);
		}
	}
	memcpy(l4p + l4, pattern, pay);
	cs = sum16(l4p, l4, cs) + psum[pay];
	put16(l4p + (udp ? 6 : 16), fold(cs) ? fold(cs) : 0xffff);

	g->v6 += (uint64_t)v6;
	g->vlan += (uint64_t)vlan;
	g->udp += (uint64_t)udp;
	g->syn += flags == TCP_SYN;
	g->synack += flags == (TCP_SYN | TCP_ACK);
	count_size(g, frame);
	return frame;
}

static int parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: gencap -o FILE -n PACKETS -f FLOWS -p small|imix "
		"[-s SEED] [-r PPS]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct gen g;
	const char *out = NULL, *prof = NULL;
	uint64_t npkts = 0, flows = 0, seed = DEFAULT_SEED, pps = DEFAULT_PPS, n, us;
	uint8_t rec[PCAP_REC_HDR + FRAME_MAX], hdr[PCAP_FILE_HDR];
	uint64_t seen = 0;
	unsigned frame;
	uint32_t i;
	FILE *fp;
	char *buf;
	int c;

	while ((c = getopt(argc, argv, "o:n:f:p:s:r:")) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 'p': prof = optarg; break;
		case 'n': if (parse_u64(optarg, 1, MAX_PACKETS, &npkts) < 0) usage(); break;
		case 'f': if (parse_u64(optarg, 1, MAX_FLOWS, &flows) < 0) usage(); break;
		case 's': if (parse_u64(optarg, 0, UINT64_MAX, &seed) < 0) usage(); break;
		case 'r': if (parse_u64(optarg, 1, US_PER_SEC, &pps) < 0) usage(); break;
		default: usage();
		}
	}
	if (!out || !prof || !npkts || !flows || optind != argc ||
	    (strcmp(prof, "small") && strcmp(prof, "imix")))
		usage();

	memset(&g, 0, sizeof(g));
	g.flows = (uint32_t)flows;
	g.servers = g.flows / SERVERS_PER > SERVERS_MIN ? g.flows / SERVERS_PER : SERVERS_MIN;
	g.imix = !strcmp(prof, "imix");
	g.slots = calloc(g.flows, sizeof(*g.slots));
	g.seen = calloc(g.flows, 1);
	buf = malloc(OUT_BUFFER);
	if (!g.slots || !g.seen || !buf) {
		fprintf(stderr, "gencap: out of memory\n");
		return 1;
	}
	init_payload();
	rng_state = seed;

	fp = fopen(out, "wb");
	if (!fp) {
		fprintf(stderr, "gencap: %s: %s\n", out, strerror(errno));
		return 1;
	}
	setvbuf(fp, buf, _IOFBF, OUT_BUFFER);
	le32(hdr, PCAP_MAGIC_US);
	le16(hdr + 4, PCAP_VER_MAJOR);
	le16(hdr + 6, PCAP_VER_MINOR);
	memset(hdr + 8, 0, 8);	/* thiszone, sigfigs */
	le32(hdr + 16, PCAP_SNAPLEN);
	le32(hdr + 20, LINKTYPE_EN10MB);
	fwrite(hdr, 1, sizeof(hdr), fp);

	for (n = 0; n < npkts; n++) {
		i = rnd_below(g.flows);
		frame = build(&g, i, rec + PCAP_REC_HDR);
		us = n * US_PER_SEC / pps;
		le32(rec, (uint32_t)(START_SEC + us / US_PER_SEC));
		le32(rec + 4, (uint32_t)(us % US_PER_SEC));
		le32(rec + 8, frame);
		le32(rec + 12, frame);
		if (fwrite(rec, 1, PCAP_REC_HDR + frame, fp) != PCAP_REC_HDR + frame)
			break;
		g.bytes += frame;
	}
	if (fclose(fp) != 0 || n != npkts) {
		fprintf(stderr, "gencap: writing %s failed: %s\n", out, strerror(errno));
		return 1;
	}
	for (i = 0; i < g.flows; i++)
		seen += g.seen[i];
	fprintf(stderr, "gencap: file=%s packets=%llu bytes=%llu avg_frame=%.1f flows=%u "
		"flows_seen=%llu servers=%u ipv6=%llu vlan=%llu udp=%llu syn=%llu "
		"synack=%llu frames_small=%llu frames_576=%llu frames_1500=%llu "
		"seconds=%.1f\n",
		out, (unsigned long long)npkts, (unsigned long long)g.bytes,
		(double)g.bytes / (double)npkts, g.flows, (unsigned long long)seen,
		g.servers, (unsigned long long)g.v6, (unsigned long long)g.vlan,
		(unsigned long long)g.udp, (unsigned long long)g.syn,
		(unsigned long long)g.synack, (unsigned long long)g.by_size[0],
		(unsigned long long)g.by_size[1], (unsigned long long)g.by_size[2],
		(double)npkts / (double)pps);
	free(g.slots);
	free(g.seen);
	free(buf);
	return 0;
}
