/* One interval's report: agent, interval, capture statistics and the
 * service communications, written through the bounded JSON emitter (the
 * schema is docs/REPORT.md). Also the one-line forms used by live-entries. */
#ifndef D42_REPORT_H
#define D42_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include "decode.h"
#include "flow.h"
#include "json.h"
#include "addr.h"

#define REPORT_TIME_MAX 40	/* "2024-01-01T00:00:00.000000Z" + slack */
#define REPORT_WORD_MAX 16	/* protocol and direction names, NUL included */
#define REPORT_REC_BYTES 350	/* a compact IPv4 record with a client port
				 * or two, for size estimates (about 340) */
#define REPORT_REC_PRETTY_BYTES 500	/* the same indented (common.pretty;
					 * about 470) */

struct report_stats {
	uint64_t packets, bytes;	/* seen (after the filter); wire bytes */
	uint64_t decoded;		/* packets that reached the table */
	uint64_t undecoded[DEC_REASON_COUNT];
	uint64_t kernel_drops, if_drops;
	uint64_t capture_down_ns;	/* live: time without a capture handle */
};

struct report_meta {
	const char *host;	/* this machine's name */
	const char *iface;	/* interface or capture file */
	uint64_t start_ns, end_ns;
	int only_stats;		/* capture.only-stats: no communications */
	int live;		/* live capture: report capture_down_seconds */
};

/* At least the bytes of a report of `records` records from this host and
 * interface, in either layout: what room a spool must have for it. */
uint64_t report_max_bytes(const char *host, const char *iface, uint32_t records);

/* Emits the whole document and finishes it (newline, drained to the sink).
 * 0, or -1 if the emitter reported an error. */
int report_write(struct json_out *o, const struct report_meta *m,
		 const struct report_stats *s, struct flow_table *t);

/* Small formatters (return buf). frac: append .uuuuuu microseconds. */
char *report_time(uint64_t ns, int frac, char *buf, size_t sz);
const char *report_proto(uint8_t proto);
/* "tcp 10.0.0.2 -> 10.0.0.1:80 syn conns=1 pkts=3/2 bytes=180/120" */
int report_rec_line(const struct flow_rec *r, char *buf, size_t sz);

#endif
