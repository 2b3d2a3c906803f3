/* libpcap wrapper: one capture source, live (non-blocking, selectable fd,
 * driven by poll()) or a file (pcap/pcapng, µs or ns, either byte order). */
#ifndef D42_CAPTURE_H
#define D42_CAPTURE_H

#include <stdint.h>
#include <stdio.h>
#include <pcap/pcap.h>

#define CAPTURE_BATCH     512	/* packets per pcap_dispatch() call */
#define CAPTURE_ERR_SIZE  (PCAP_ERRBUF_SIZE + 128)

struct capture_opts {
	uint32_t snap_len;
	int promisc;
	uint64_t timeout_ns;	/* packet buffer timeout */
	uint32_t buffer_size;	/* kernel buffer, bytes */
};

struct capture {
	pcap_t *p;
	int offline;
	int linktype;
	int nsec;		/* timestamps carry nanoseconds */
	int fd;			/* selectable fd, -1 for files */
	uint32_t last_recv, last_drop, last_ifdrop;	/* pcap_stats, cumulative */
	char name[256];		/* interface or file path */
	char err[CAPTURE_ERR_SIZE];
};

/* Callback per packet: ts_ns is nanoseconds since the epoch. */
typedef void (*capture_fn)(void *user, uint64_t ts_ns, const uint8_t *data,
			   uint32_t caplen, uint32_t wirelen);

int capture_open_live(struct capture *c, const char *dev, const struct capture_opts *o);
int capture_open_file(struct capture *c, const char *path);
/* Compile expr ("" = no filter) and install it; with dump, log the program. */
int capture_set_filter(struct capture *c, const char *expr, int dump);
/* Returns packets processed (>= 0), -1 on error (c->err), -2 at end of file. */
int capture_dispatch(struct capture *c, capture_fn fn, void *user);
/* Kernel/interface drops since the previous call (live only; 0 for files). */
void capture_drops(struct capture *c, uint64_t *kernel, uint64_t *iface);
void capture_close(struct capture *c);
int capture_list_devices(FILE *out);

#endif
