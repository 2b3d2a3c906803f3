/* floor: the fastest a libpcap-based reader can go through a capture file.
 * pcap_open_offline + pcap_dispatch with a callback that only counts
 * packets and bytes; prints "packets=N bytes=N". Nothing built on libpcap
 * can read the same file faster, so it is the benchmark's yardstick. */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>

#define FLOOR_BATCH 512	/* as d42pcap's CAPTURE_BATCH */

struct counts {
	uint64_t packets, bytes;
};

static void count(u_char *user, const struct pcap_pkthdr *h, const u_char *data)
{
	struct counts *c = (struct counts *)(void *)user;

	(void)data;
	c->packets++;
	c->bytes += h->len;
}

int main(int argc, char **argv)
{
	char eb[PCAP_ERRBUF_SIZE] = "";
	struct counts c = { 0, 0 };
	pcap_t *p;
	int n;

	if (argc != 2) {
		fprintf(stderr, "usage: floor FILE\n");
		return 2;
	}
	p = pcap_open_offline(argv[1], eb);
	if (!p) {
		fprintf(stderr, "floor: %s\n", eb);
		return 1;
	}
	while ((n = pcap_dispatch(p, FLOOR_BATCH, count, (u_char *)&c)) > 0)
		;
	if (n < 0) {
		fprintf(stderr, "floor: %s\n", pcap_geterr(p));
		pcap_close(p);
		return 1;
	}
	pcap_close(p);
	printf("packets=%llu bytes=%llu\n", (unsigned long long)c.packets,
	       (unsigned long long)c.bytes);
	return 0;
}
