/* floor: the fastest a libpcap-based reader can go through a capture file.
 * pcap_fopen_offline on a file with d42pcap's stdio buffer (a bigger
 * buffer, not libpcap, is what makes a read loop faster) + pcap_dispatch
 * with a callback that only counts packets and bytes; prints "packets=N
 * bytes=N". It is the benchmark's yardstick. "floor -plain FILE" opens the
 * file with pcap_open_offline (stdio's default buffer): the bare loop as
 * most programs, tcpdump included, read files. */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "capture.h"	/* CAPTURE_FILE_BUFFER */

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
	static char buf[CAPTURE_FILE_BUFFER];
	const char *path = argv[argc - 1];
	pcap_t *p;
	FILE *f = NULL;
	int n, plain = argc == 3 && strcmp(argv[1], "-plain") == 0;

	if (argc != 2 && !plain) {
		fprintf(stderr, "usage: floor [-plain] FILE\n");
		return 2;
	}
	if (plain) {
		p = pcap_open_offline(path, eb);
	} else {
		f = fopen(path, "rb");
		if (!f || setvbuf(f, buf, _IOFBF, sizeof(buf)) != 0) {
			perror(path);
			return 1;
		}
		p = pcap_fopen_offline(f, eb);
	}
	if (!p) {
		fprintf(stderr, "floor: %s\n", eb);
		if (f)	/* pcap_fopen_offline() took it only on success */
			fclose(f);
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
