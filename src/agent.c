/* Per-packet path and interval cutting. agent_packet() is the hot path:
 * decode, one table update, counters; no allocation, no I/O unless the user
 * asked for per-packet printing. */
#include "agent.h"
#include "capture.h"
#include "log.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define NS_PER_SEC 1000000000ULL
#define NS_PER_MS  1000000ULL
#define AGENT_LINE_MAX 256

static int agent_sink(void *ctx, const char *data, size_t len)
{
	struct agent *a = ctx;

	return a->out.write(a->out.ctx, data, len);
}

/* Nothing to print per packet (the usual case). */
static int agent_quiet(const struct agent *a)
{
	return !a->cfg->print_data && !a->cfg->live_entries &&
	       !a->cfg->live_nok && !log_enabled(LOG_LVL_DEBUG);
}

/* Per-packet output needs each update's result at once, in order: only
 * without it may packets be held. */
static void agent_modes(struct agent *a)
{
	a->quiet = agent_quiet(a);
}

int agent_init(struct agent *a, const struct config *cfg, const struct agent_output *out,
	       const char *iface, int linktype, int offline, uint64_t seed)
{
	memset(a, 0, sizeof(*a));
	a->cfg = cfg;
	a->out = *out;
	a->iface = iface;
	a->linktype = linktype;
	a->offline = offline;
	a->interval_ns = (uint64_t)cfg->interval * NS_PER_SEC;
	if (gethostname(a->host, sizeof(a->host) - 1) < 0)
		snprintf(a->host, sizeof(a->host), "unknown");
	if (flow_init(&a->flows, cfg->max_flows, cfg->max_listeners,
		      cfg->listener_ttl, seed) < 0)
		return -1;
	agent_modes(a);
	agent_set_filters(a);
	return 0;
}

void agent_set_filters(struct agent *a)
{
	filter_lists_init(&a->lists, a->cfg);
	if (a->lists.on && !filter_in_kernel(a->cfg))
		log_info("the include/ignore lists are longer than pcap.kernel-filter-max "
			 "(%u entries) or than a capture filter holds: matched after decoding",
			 a->cfg->kernel_filter_max);
}

uint64_t agent_report_max_bytes(const struct agent *a, uint32_t more)
{
	/* the packets held are accounted before it */
	return report_max_bytes(a->host, a->iface ? a->iface : "",
				a->flows.st.flows + a->nheld + more);
}

void agent_free(struct agent *a)
{
	flow_free(&a->flows);
}

static uint64_t agent_boundary(const struct agent *a, uint64_t ts)
{
	return ts / a->interval_ns * a->interval_ns;
}

void agent_set_interval(struct agent *a, uint32_t seconds)
{
	/* The open interval keeps its end; agent_tick() cuts the next ones
	 * at the new length. */
	a->interval_ns = (uint64_t)seconds * NS_PER_SEC;
}

void agent_start_live(struct agent *a, uint64_t now_ns)
{
	a->started = 1;
	/* Reports speak in whole seconds: "seconds" must be end - start as
	 * printed. */
	a->start_ns = now_ns / NS_PER_SEC * NS_PER_SEC;
	a->end_ns = agent_boundary(a, now_ns) + a->interval_ns;
}

static void agent_live_line(const char *tag, const struct flow_rec *r)
{
	char line[AGENT_LINE_MAX];

	report_rec_line(r, line, sizeof(line));
	log_print("%s: %s", tag, line);
}

/* Also where the settings may have changed (between batches, SIGHUP):
 * decide there whether the next packets may be held. */
void agent_drain(struct agent *a)
{
	if (a->nheld)
		flow_update_held(&a->flows, a->held, a->nheld);
	a->nheld = 0;
	agent_modes(a);
}

/* Write the open interval [start_ns, end_ns) and start the next one. */
static int agent_report(struct agent *a, uint64_t end_ns)
{
	struct report_meta m = { a->host, a->iface, a->start_ns, end_ns, a->cfg->only_stats,
				 !a->offline };
	struct json_out o;
	uint32_t i, n;
	int rc = 0, ok;

	agent_drain(a);
	/* The count reported is of listeners alive at the end, whatever the
	 * hash seed left lying in the table. */
	flow_expire(&a->flows, end_ns);
	if (a->cap) {
		capture_drops(a->cap, &a->st.kernel_drops, &a->st.if_drops);
		a->st.capture_down_ns = capture_down_ns(a->cap, end_ns);
		/* An interval cut short (the clock set back) or begun within a
		 * second of an outage: no more down than it lasted. */
		if (a->st.capture_down_ns > end_ns - a->start_ns)
			a->st.capture_down_ns = end_ns - a->start_ns;
	}
	if (a->flows.st.flow_drops)
		log_warn("flow table full (%u records): %llu packets of new communications dropped "
			 "this interval; raise common.max-flows", a->cfg->max_flows,
			 (unsigned long long)a->flows.st.flow_drops);
	if (a->flows.st.listener_drops)
		log_warn("listener table full (%u): %llu handshakes of new listeners dropped; raise "
			 "common.max-listeners", a->cfg->max_listeners,
			 (unsigned long long)a->flows.st.listener_drops);

	if (a->out.begin(a->out.ctx, a->start_ns, end_ns) < 0) {
		rc = -1;
	} else {
		json_out_init(&o, a->outbuf, sizeof(a->outbuf), agent_sink, a);
		o.pretty = a->cfg->pretty;
		ok = report_write(&o, &m, &a->st, &a->flows) == 0;
		if (a->out.end(a->out.ctx, ok) < 0 || !ok)
			rc = -1;
	}
	if (rc < 0) {
		a->report_errors++;
		log_err("could not write the report for the interval ending %llu",
			(unsigned long long)(end_ns / NS_PER_SEC));
	}
	else if (a->cfg->live_ok && !a->cfg->only_stats) {
		n = flow_sorted(&a->flows);
		for (i = 0; i < n; i++)
			agent_live_line("ok", flow_sorted_rec(&a->flows, i));
	}
	/* A file is read faster than delivered: with a report waiting, end
	 * the batch here, so that the main loop asks whether the next one
	 * has room (spool_room_for()) before reading on. */
	if (a->file && a->out.pending && a->out.pending(a->out.ctx))
		capture_break(a->file);
	a->reports++;
	memset(&a->st, 0, sizeof(a->st));
	/* The next interval's last packet: a clock set back again must not
	 * end that one at a time of this one's. */
	a->last_ts = 0;
	a->nok_lines = 0;
	flow_reset(&a->flows, end_ns);
	a->start_ns = end_ns;
	return rc;
}

/* Offline: close the open interval and open the one holding ts. Intervals
 * without packets (gaps in the file) are not reported: reading a file there
 * is no one to tell that nothing happened, and a hostile timestamp jump
 * cannot make us write millions of empty reports. */
static void agent_advance(struct agent *a, uint64_t ts)
{
	agent_report(a, a->end_ns);
	a->start_ns = agent_boundary(a, ts);
	a->end_ns = a->start_ns + a->interval_ns;
}

static void agent_print_packet(const struct pkt *p, uint64_t ts)
{
	char s[ADDR_STR_MAX], d[ADDR_STR_MAX], t[REPORT_TIME_MAX];

	log_print("data: %s %s %s:%u -> %s:%u len=%u flags=0x%02x",
		report_time(ts, 1, t, sizeof(t)), report_proto(p->proto),
		addr_fmt(p->family, p->src, s, sizeof(s)), p->sport,
		addr_fmt(p->family, p->dst, d, sizeof(d)), p->dport,
		p->ip_len, p->tcp_flags);
}

static void agent_undecoded(struct agent *a, enum dec_reason why,
			    uint32_t caplen, uint32_t wirelen)
{
	a->st.undecoded[why]++;
	log_debug("packet not used: %s (caplen %u, len %u)",
		  decode_reason_name(why), caplen, wirelen);
	if (a->cfg->unprocessed_packets)
		log_print("unprocessed: %s caplen=%u len=%u",
			decode_reason_name(why), caplen, wirelen);
}

/* With per-packet output: account, then print what it did. Out of the
 * way of the usual path, which it would only burden with its stack. */
static void agent_account_loud(struct agent *a, const struct pkt *p, uint64_t ts)
{
	struct flow_rec *rec = NULL;
	enum flow_result fr;
	char s[ADDR_STR_MAX], d[ADDR_STR_MAX];

	if (a->cfg->print_data)
		agent_print_packet(p, ts);
	fr = flow_update(&a->flows, p, ts, &rec);
	if (fr == FLOW_NEW && a->cfg->live_entries)
		agent_live_line("live", rec);
	else if (fr == FLOW_DROPPED && a->cfg->live_nok &&
		 a->nok_lines < AGENT_MAX_NOK_LINES) {
		a->nok_lines++;	/* counted only up to the limit: it cannot wrap */
		log_print("nok: %s %s:%u -> %s:%u (table full)",
			report_proto(p->proto), addr_fmt(p->family, p->src, s, sizeof(s)),
			p->sport, addr_fmt(p->family, p->dst, d, sizeof(d)), p->dport);
	}
	if (fr != FLOW_DROPPED)
		log_debug("%s %s:%u -> %s:%u: %s (%s)", report_proto(p->proto),
			  addr_fmt(p->family, p->src, s, sizeof(s)), p->sport,
			  addr_fmt(p->family, p->dst, d, sizeof(d)), p->dport,
			  fr == FLOW_NEW ? "new record" : "record updated",
			  flow_how_name((enum flow_how)rec->how));
}

void agent_packet(void *user, uint64_t ts, const uint8_t *data,
		  uint32_t caplen, uint32_t wirelen)
{
	struct agent *a = user;
	struct flow_held *e;
	struct pkt local, *p = &local;
	enum dec_reason why;

	/* Held packets decode straight into their slot (one is always
	 * free: a full hold is accounted at once). */
	if (a->quiet)
		p = &a->held[a->nheld].p;
	why = decode_packet(a->linktype, data, caplen, wirelen, p);
	/* Dropped by the lists: as if the kernel had, so before anything
	 * counts it or moves the interval on. What cannot be decoded cannot
	 * be matched: it is kept, and counted as undecoded. */
	if (a->lists.on && why == DEC_OK && !filter_match(&a->lists, a->cfg, p))
		return;
	if (a->offline) {
		if (!a->started) {
			a->started = 1;
			a->start_ns = agent_boundary(a, ts);
			a->end_ns = a->start_ns + a->interval_ns;
		}
		if (ts >= a->end_ns)
			agent_advance(a, ts);
	}
	/* Timestamps going backwards are accounted in the open interval. */
	if (ts > a->last_ts)
		a->last_ts = ts;
	a->st.packets++;
	a->st.bytes += wirelen;
	if (why != DEC_OK) {
		agent_undecoded(a, why, caplen, wirelen);
		return;
	}
	a->st.decoded++;
	if (a->quiet) {
		/* A report above accounted what was held, not this one,
		 * which is then no longer in the next free slot. */
		e = &a->held[a->nheld];
		if (p != &e->p)
			e->p = *p;
		e->ts = ts;
		if (++a->nheld == AGENT_HELD)
			agent_drain(a);
	} else {
		agent_account_loud(a, p, ts);
	}
}

int agent_tick(struct agent *a, uint64_t now)
{
	uint64_t next;

	if (!a->started)
		return -1;
	/* The clock was set back before the open interval began: waiting for
	 * its end would stop the reports for as long as the step. Close it
	 * just after its last packet and start again from now. */
	if (now < a->start_ns) {
		agent_flush(a, agent_after_last(a));
		flow_clock_back(&a->flows, now);
		agent_start_live(a, now);
		/* the capture's downtime too: the flush counted it up to a
		 * time of the old clock, which this interval never reaches */
		if (a->cap)
			(void)capture_down_ns(a->cap, a->start_ns);
	}
	if (now >= a->end_ns) {
		agent_report(a, a->end_ns);
		/* A whole interval or more past its end (suspend, a clock set
		 * forward: a router without a clock booting in 1970, then NTP):
		 * the gap is no interval's, start again from now. */
		if (now - a->end_ns >= a->interval_ns) {
			a->start_ns = now / NS_PER_SEC * NS_PER_SEC;
			/* nor is the capture's downtime in it */
			if (a->cap)
				(void)capture_down_ns(a->cap, a->start_ns);
		}
		/* The next boundary after now: after a stall (suspend, clock
		 * step) not one in the past, and after a SIGHUP changed the
		 * length, back on its multiples (one interval is shorter). */
		a->end_ns = agent_boundary(a, now) + a->interval_ns;
	}
	next = a->end_ns - now;
	/* the wall clock is asked again at least that often (see agent.h) */
	if (next > (uint64_t)AGENT_MAX_SLEEP_MS * NS_PER_MS)
		return AGENT_MAX_SLEEP_MS;
	return (int)((next + NS_PER_MS - 1) / NS_PER_MS);
}

/* Intervals are [start, end): one ending at its last packet must end after
 * it, or a packet on a whole second would end it at that second (a report
 * of 0 seconds holding packets, when it was also the first). */
uint64_t agent_after_last(const struct agent *a)
{
	return a->last_ts + 1;
}

int agent_flush(struct agent *a, uint64_t end_ns)
{
	if (!a->started)
		return 0;
	/* Reports speak in whole seconds: round the end up so "end" and
	 * "seconds" agree and the last packet lies inside, but never past
	 * the interval's boundary. */
	end_ns = (end_ns + NS_PER_SEC - 1) / NS_PER_SEC * NS_PER_SEC;
	if (end_ns > a->end_ns)
		end_ns = a->end_ns;
	if (end_ns < a->start_ns)
		end_ns = a->start_ns;
	a->started = 0;
	return agent_report(a, end_ns);
}

int agent_stop(struct agent *a, uint64_t now_ns)
{
	/* Offline, or live with the clock set back before the open interval
	 * began (as agent_tick() would have cut it): just after its last packet. */
	return agent_flush(a, a->offline || now_ns < a->start_ns ? agent_after_last(a) : now_ns);
}

void agent_log_stats(const struct agent *a)
{
	unsigned r;

	log_info("stats: interval packets=%llu bytes=%llu decoded=%llu flows=%u "
		 "listeners=%u flow_drops=%llu reports=%llu",
		 (unsigned long long)a->st.packets, (unsigned long long)a->st.bytes,
		 (unsigned long long)a->st.decoded, a->flows.st.flows,
		 a->flows.st.listeners, (unsigned long long)a->flows.st.flow_drops,
		 (unsigned long long)a->reports);
	for (r = 1; r < DEC_REASON_COUNT; r++)
		if (a->st.undecoded[r])
			log_info("stats: undecoded %s=%llu", decode_reason_name((enum dec_reason)r),
				 (unsigned long long)a->st.undecoded[r]);
}
