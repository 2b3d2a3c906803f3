/* The capture pipeline between libpcap and the reports: decode each packet,
 * account it in the service table, cut intervals (wall clock live, packet
 * time offline) and hand each finished report to the output. */
#ifndef D42_AGENT_H
#define D42_AGENT_H

#include <stdint.h>
#include "config.h"
#include "filter.h"
#include "flow.h"
#include "json.h"
#include "report.h"

struct capture;

#define AGENT_OUT_BUF        (64 * 1024)	/* emitter buffer; reports stream through it */
#define AGENT_MAX_NOK_LINES   100		/* live-entries-nok lines per interval */
#define AGENT_HOST_MAX        256
/* Packets decoded ahead of their table update and accounted together
 * (flow_update_held()): no call per packet and stage, and with large
 * tables the memory of each is fetched while the others are worked on (a
 * cache miss per packet otherwise). */
#define AGENT_HELD            16
/* Longest poll() sleep while live: poll() sleeps in monotonic time, which a
 * wall clock set forward or a suspend does not move, so an idle agent
 * would report the interval such a step ended only at its planned end
 * (up to a day later). A wake-up every 10 s costs nothing measurable. */
#define AGENT_MAX_SLEEP_MS    10000

/* Where finished reports go. begin() starts one report, the emitter streams
 * the document through write(), end() completes it (ok = 0 if the document
 * was written in full). The local output and the spool both fit this. */
struct agent_output {
	int (*begin)(void *ctx, uint64_t start_ns, uint64_t end_ns);
	int (*write)(void *ctx, const char *data, size_t len);
	int (*end)(void *ctx, int ok);
	int (*pending)(void *ctx);	/* may be NULL; 1: a report waits for
					 * delivery */
	void *ctx;
};

struct agent {
	const struct config *cfg;
	struct flow_table flows;
	struct report_stats st;
	struct agent_output out;
	int linktype;
	int offline;
	int started;			/* an interval is open */
	uint64_t interval_ns;
	uint64_t start_ns, end_ns;	/* the open interval */
	uint64_t last_ts;		/* latest packet time seen */
	uint64_t reports;		/* written so far */
	uint64_t report_errors;		/* reports that could not be written */
	uint32_t nok_lines;
	uint32_t nheld;			/* held[0..nheld): decoded, not accounted */
	int quiet;			/* no per-packet output: packets are held */
	struct flow_held held[AGENT_HELD];
	char host[AGENT_HOST_MAX];
	const char *iface;
	struct capture *cap;		/* for drop statistics; may be NULL */
	struct capture *file;		/* a file read for delivery: its batch
					 * ends after a report while out.pending()
					 * says so; or NULL */
	char outbuf[AGENT_OUT_BUF];
	struct filter_lists lists;	/* include/ignore lists, after decoding */
};

/* At least the bytes of the open interval's report once `more` packets
 * more have come in (each can add a record): see report_max_bytes(). */
uint64_t agent_report_max_bytes(const struct agent *a, uint32_t more);
int agent_init(struct agent *a, const struct config *cfg, const struct agent_output *out,
	       const char *iface, int linktype, int offline, uint64_t seed);
void agent_free(struct agent *a);
/* After the capture filters in cfg changed (SIGHUP). */
void agent_set_filters(struct agent *a);
/* SIGHUP: later intervals last this long (live; the open one keeps its end). */
void agent_set_interval(struct agent *a, uint32_t seconds);
/* Live: open the first interval at wall-clock time now_ns. */
void agent_start_live(struct agent *a, uint64_t now_ns);
/* capture_fn-compatible packet handler; user is the struct agent. */
void agent_packet(void *user, uint64_t ts_ns, const uint8_t *data,
		  uint32_t caplen, uint32_t wirelen);
/* Account every packet agent_packet() still holds (it may hold up to
 * AGENT_HELD): call after each capture batch. */
void agent_drain(struct agent *a);
/* Live: report if the interval ended by now_ns. Returns ms until the next
 * interval end, at most AGENT_MAX_SLEEP_MS (for the poll timeout). */
int agent_tick(struct agent *a, uint64_t now_ns);
/* Report the open interval as ending at end_ns (stop, end of file),
 * rounded up to a whole second, and close it: a second call does nothing. */
int agent_flush(struct agent *a, uint64_t end_ns);
/* The end_ns of an interval ending at its last packet (just after it). */
uint64_t agent_after_last(const struct agent *a);
/* Stopping (signal, end of file): agent_flush() at the right end: now
 * live, just after the last packet offline or when the clock went back. */
int agent_stop(struct agent *a, uint64_t now_ns);
/* SIGUSR1: statistics to the log. */
void agent_log_stats(const struct agent *a);

#endif
