/* bound: about the least a flow tool can do per packet, to show how far the
 * floor leaves room for any design. It reads exactly as `floor` does (same
 * stdio buffer, same pcap_dispatch batch), decodes the common case
 * (Ethernet, up to one 802.1Q tag, IPv4 without options or IPv6 without
 * extension headers, TCP or UDP), and counts packets, bytes and the last
 * time per 5-tuple as it arrives: no direction, no listeners, no client
 * ports, no records, no report. The table is direct-mapped, with
 * BOUND_SLOTS_PER_FLOW 64-byte entries per concurrent flow: a packet
 * touches one line, prefetched BOUND_AHEAD packets before its update (the
 * least a million flows need, docs/PERFORMANCE.md); a key found in another
 * key's entry evicts it into a total, as a flow cache exports. Prints
 * "packets=N bytes=N decoded=N counted=N evicted=N entries=N": counted (all
 * entries' packets plus the evicted ones) equals decoded, which the bench
 * checks, so the updates cannot have been optimised away; with a table
 * large enough, entries is the number of distinct 5-tuples (tests/t_bench.sh
 * checks that, so lookups must find what they stored).
 * usage: bound FLOWS FILE */
#include <errno.h>
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "capture.h"	/* CAPTURE_FILE_BUFFER */

#define BOUND_BATCH          512	/* as d42pcap's CAPTURE_BATCH */
#define BOUND_SLOTS_PER_FLOW 4		/* both directions: 2 keys per flow */
#define BOUND_AHEAD          16		/* packets between prefetch and update */
#define BOUND_MAX_FLOWS      (1u << 24)
#define BOUND_HUGE_MIN       (8u << 20)	/* as flow.c: huge pages from 8 MiB */
#define ETH_HDR     14
#define VLAN_HDR    4
#define ETH_P_IPV4  0x0800
#define ETH_P_IPV6  0x86dd
#define ETH_P_VLAN  0x8100
#define IPV4_HDR    20
#define IPV6_HDR    40
#define L4_PORTS    4
#define TCP_FLAGS_AT 13
#define PROTO_TCP   6
#define PROTO_UDP   17
#define NS_PER_SEC  1000000000ull
#define NS_PER_US   1000ull

/* The key is five words: both addresses (IPv4 in the first word, the rest
 * zero), then ports, protocol and family. 64 bytes in all. */
#define KEY_WORDS 5
struct entry {
	uint64_t k[KEY_WORDS];
	uint64_t bytes, last_ns;
	uint32_t pkts, pad;
};

struct held {
	uint64_t k[KEY_WORDS];
	uint64_t ts;
	uint32_t len, slot;
};

struct bound {
	struct entry *tab;
	uint32_t mask;
	int ether;	/* the link type is Ethernet: else nothing decodes */
	struct held ring[BOUND_AHEAD];
	uint32_t in, n;
	uint64_t packets, bytes, decoded, evicted;
};

static uint64_t ld64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint32_t ld32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static void update(struct bound *b, const struct held *h)
{
	struct entry *e = &b->tab[h->slot];

	if (e->k[0] == h->k[0] && e->k[4] == h->k[4] && e->k[1] == h->k[1] &&
	    e->k[2] == h->k[2] && e->k[3] == h->k[3]) {
		e->pkts++;
		e->bytes += h->len;
		if (h->ts > e->last_ns)
			e->last_ns = h->ts;
		return;
	}
	b->evicted += e->pkts;	/* 0 for an empty entry */
	memcpy(e->k, h->k, sizeof(e->k));
	e->pkts = 1;
	e->bytes = h->len;
	e->last_ns = h->ts;
}

/* 0 and *k filled for the common case, -1 for anything else. */
static int decode(const uint8_t *d, uint32_t cap, uint64_t *k)
{
	uint32_t off = ETH_HDR, l4, type;
	uint8_t proto, flags_len;

	if (cap < ETH_HDR)
		return -1;
	type = (uint32_t)d[12] << 8 | d[13];
	if (type == ETH_P_VLAN) {
		if (cap < ETH_HDR + VLAN_HDR)
			return -1;
		type = (uint32_t)d[16] << 8 | d[17];
		off += VLAN_HDR;
	}
	if (type == ETH_P_IPV4) {
		if (cap < off + IPV4_HDR || d[off] != 0x45 ||
		    ((d[off + 6] & 0x3f) | d[off + 7]))	/* options, fragments */
			return -1;
		proto = d[off + 9];
		k[0] = ld64(d + off + 12);
		k[1] = k[2] = k[3] = 0;
		l4 = off + IPV4_HDR;
		flags_len = 4;
	} else if (type == ETH_P_IPV6) {
		if (cap < off + IPV6_HDR)
			return -1;
		proto = d[off + 6];
		k[0] = ld64(d + off + 8);
		k[1] = ld64(d + off + 16);
		k[2] = ld64(d + off + 24);
		k[3] = ld64(d + off + 32);
		l4 = off + IPV6_HDR;
		flags_len = 6;
	} else {
		return -1;
	}
	if ((proto != PROTO_TCP && proto != PROTO_UDP) || cap < l4 + L4_PORTS)
		return -1;
	/* nonzero for every key, so 0 marks an empty entry */
	k[4] = (uint64_t)ld32(d + l4) | (uint64_t)proto << 32 | (uint64_t)flags_len << 40;
	return 0;
}

static void packet(u_char *user, const struct pcap_pkthdr *ph, const u_char *d)
{
	struct bound *b = (struct bound *)(void *)user;
	struct held *h = &b->ring[b->in % BOUND_AHEAD];
	uint64_t x;

	b->packets++;
	b->bytes += ph->len;
	if (b->n == BOUND_AHEAD) {	/* the slot's packet goes first */
		update(b, h);
		b->n--;
	}
	if (!b->ether || decode(d, ph->caplen, h->k) < 0)
		return;
	b->decoded++;
	h->ts = (uint64_t)ph->ts.tv_sec * NS_PER_SEC + (uint64_t)ph->ts.tv_usec * NS_PER_US;
	h->len = ph->len;
	x = (h->k[0] ^ h->k[4]) * 0x9e3779b97f4a7c15ull;
	x ^= (h->k[1] + h->k[3]) * 0xc2b2ae3d27d4eb4full ^ h->k[2];
	x ^= x >> 29;
	h->slot = (uint32_t)(x >> 32) & b->mask;
	__builtin_prefetch(&b->tab[h->slot], 1);
	b->in++;
	b->n++;
}

static void *table(size_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
#ifdef MADV_HUGEPAGE
	if (bytes >= BOUND_HUGE_MIN)
		(void)madvise(p, bytes, MADV_HUGEPAGE);
#endif
	return p;
}

int main(int argc, char **argv)
{
	static char buf[CAPTURE_FILE_BUFFER];
	static struct bound b;
	char eb[PCAP_ERRBUF_SIZE] = "", *end;
	unsigned long flows;
	uint64_t counted;
	uint32_t slots = 1, i, used = 0;
	pcap_t *p;
	FILE *f;
	int n;

	if (argc != 3) {
		fprintf(stderr, "usage: bound FLOWS FILE\n");
		return 2;
	}
	errno = 0;
	flows = strtoul(argv[1], &end, 10);
	if (errno || end == argv[1] || *end || flows == 0 || flows > BOUND_MAX_FLOWS) {
		fprintf(stderr, "bound: FLOWS must be 1-%u\n", BOUND_MAX_FLOWS);
		return 2;
	}
	while (slots < flows * BOUND_SLOTS_PER_FLOW)
		slots <<= 1;
	b.mask = slots - 1;
	b.tab = table((size_t)slots * sizeof(*b.tab));
	f = fopen(argv[2], "rb");
	if (!b.tab || !f || setvbuf(f, buf, _IOFBF, sizeof(buf)) != 0) {
		perror(argv[2]);
		return 1;
	}
	p = pcap_fopen_offline(f, eb);
	if (!p) {
		fprintf(stderr, "bound: %s\n", eb);
		fclose(f);
		return 1;
	}
	b.ether = pcap_datalink(p) == DLT_EN10MB;
	while ((n = pcap_dispatch(p, BOUND_BATCH, packet, (u_char *)&b)) > 0)
		;
	if (n < 0) {
		fprintf(stderr, "bound: %s\n", pcap_geterr(p));
		pcap_close(p);
		return 1;
	}
	pcap_close(p);
	for (; b.n > 0; b.n--)
		update(&b, &b.ring[(b.in - b.n) % BOUND_AHEAD]);
	counted = b.evicted;
	for (i = 0; i < slots; i++) {
		counted += b.tab[i].pkts;
		used += b.tab[i].k[4] != 0;
	}
	printf("packets=%llu bytes=%llu decoded=%llu counted=%llu evicted=%llu entries=%u\n",
	       (unsigned long long)b.packets, (unsigned long long)b.bytes,
	       (unsigned long long)b.decoded, (unsigned long long)counted,
	       (unsigned long long)b.evicted, used);
	return 0;
}
