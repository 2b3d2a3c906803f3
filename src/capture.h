/* libpcap wrapper: one capture source, live (non-blocking, selectable fd,
 * driven by poll()) or a file (pcap/pcapng, µs or ns, either byte order).
 * A live capture survives its interface going down or being deleted and
 * recreated: the handle is closed, reopening is retried with backoff, and
 * the time without capture is accounted for the reports. */
#ifndef D42_CAPTURE_H
#define D42_CAPTURE_H

#include <stdint.h>
#include <stdio.h>
#include <pcap/pcap.h>

#define CAPTURE_BATCH     512	/* packets per pcap_dispatch() call */
/* Batches read from a lost interface's buffer before it is closed: its
 * largest (pcap.buffer-size 1 GiB) in 64-byte frames. */
#define CAPTURE_DRAIN_BATCHES ((1u << 30) / 64 / CAPTURE_BATCH)
#define CAPTURE_SLOW_FILTER_MS 1000	/* warn when compiling the filter takes longer */
/* libpcap's drop counters are 32-bit: sampled this often, not only at each
 * report, no sample is 2^31 behind (140 s of 64-byte frames dropped at
 * 10 Gbit/s) and none is taken for a counter that went back. */
#define CAPTURE_STATS_MS 10000
/* Linux's BPF_MAXINSNS: the kernel refuses a longer program, and libpcap
 * then quietly filters in user space, every packet copied out first. */
#define CAPTURE_FILTER_MAX_INSNS 4096
#define CAPTURE_FILTER_TOO_LONG  (-2)	/* capture_set_filter(): over that */
#define CAPTURE_ERR_SIZE  (PCAP_ERRBUF_SIZE + 128)
#define CAPTURE_RETRY_MIN_MS  1000	/* first reopen attempt after a loss */
#define CAPTURE_RETRY_MAX_MS  60000	/* backoff doubles up to this */
/* Stdio buffer for reading a file: libpcap reads through fread(), and with
 * glibc's default 4 KiB buffer a bare libpcap read loop spent about 40% of
 * its time in read(2) calls (make bench; 1 MiB gained little more). */
#define CAPTURE_FILE_BUFFER   (256u << 10)
#define CAPTURE_LINK_UNKNOWN  (-1)	/* live, never open yet */

struct capture_opts {
	uint32_t snap_len;
	int promisc;
	uint64_t timeout_ns;	/* packet buffer timeout */
	uint32_t buffer_size;	/* kernel buffer, bytes */
};

struct capture {
	pcap_t *p;		/* NULL while a live capture is down */
	int offline;
	int linktype;
	int nsec;		/* timestamps carry nanoseconds */
	int pcapng;		/* file: pcapng (64-bit stamps), not pcap */
	char *filebuf;		/* file: its stdio buffer (CAPTURE_FILE_BUFFER) */
	int fd;			/* selectable fd, -1 for files or while down */
	int netdev;		/* live: a network interface (its flags can be read) */
	uint32_t last_recv, last_drop, last_ifdrop;	/* pcap_stats, cumulative */
	uint64_t lost_drop, lost_ifdrop;	/* counted, not reported yet (handles lost
						 * since the last report included) */
	uint64_t stats_at_ms;		/* next sample of the counters (monotonic) */
	struct capture_opts opts;	/* live: to reopen with */
	struct bpf_program prog;	/* installed filter, reinstalled on reopen */
	int has_prog;
	uint64_t retry_at_ms;		/* down: next reopen attempt (monotonic) */
	uint32_t backoff_ms;		/* down: the delay after that */
	uint32_t tries;			/* down: failed reopen attempts */
	uint64_t lost_at_ms;		/* down: when (monotonic), for the log */
	uint64_t down_since_ns;		/* down: not yet accounted since (wall clock); else 0 */
	uint64_t down_ns;		/* downtime not yet taken by capture_down_ns */
	uint64_t lost;			/* losses since start */
	char name[256];		/* interface or file path */
	char err[CAPTURE_ERR_SIZE];
	char err_told[CAPTURE_ERR_SIZE];	/* down: the reopen failure last logged */
};

/* Callback per packet: ts_ns is nanoseconds since the epoch. */
typedef void (*capture_fn)(void *user, uint64_t ts_ns, const uint8_t *data,
			   uint32_t caplen, uint32_t wirelen);

/* 0 open; 1 down: the interface is missing or not up, opened once it is
 * there (linktype CAPTURE_LINK_UNKNOWN until then); -1 error (c->err). */
int capture_open_live(struct capture *c, const char *dev, const struct capture_opts *o);
int capture_open_file(struct capture *c, const char *path);
/* Compile expr ("" = no filter) and install it (kept for reopening; while
 * down it is only compiled, and before the first open not even that); with
 * dump, log the program. 0, or -1 with
 * c->err set and the previous filter still in place. */
int capture_set_filter(struct capture *c, const char *expr, int dump);	/* 0, -1, or
						 * CAPTURE_FILTER_TOO_LONG (c->err says) */
/* Returns packets processed (>= 0), -1 on error (c->err), -2 at end of file. */
int capture_dispatch(struct capture *c, capture_fn fn, void *user);
/* Live: everything the kernel has handed over already (the handle is
 * non-blocking), at most CAPTURE_DRAIN_BATCHES reads: before the handle
 * goes, or at a stop. Packets processed; 0 for a file or while down. */
int capture_drain(struct capture *c, capture_fn fn, void *user);
/* From inside fn: capture_dispatch returns after this packet. */
void capture_break(struct capture *c);
/* Live, from the poll() loop with the capture fd's revents (0 if it was not
 * polled): reads what is ready; on a read error or the interface going down
 * closes the handle (logged); while down, reopens when due. Never fails:
 * returns packets processed. */
int capture_live_step(struct capture *c, short revents, capture_fn fn, void *user);
/* ms until the next reopen attempt (for the poll timeout), -1 if up. */
int capture_timeout_ms(const struct capture *c);
/* Kernel/interface drops since the previous call (live only; 0 for files). */
void capture_drops(struct capture *c, uint64_t *kernel, uint64_t *iface);
/* Live: nanoseconds without capture since the previous call, up to now_ns
 * (wall clock). */
uint64_t capture_down_ns(struct capture *c, uint64_t now_ns);
void capture_close(struct capture *c);
int capture_list_devices(FILE *out);

#endif
