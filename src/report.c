/* Report document writer. Everything goes through the JSON emitter, whose
 * sink drains to the output or spool, so a report with a full table needs
 * no buffer of its own. */
#include "report.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define NS_PER_SEC 1000000000ULL
#define NS_PER_US  1000ULL

#define SECS_PER_DAY    86400u
#define DAYS_PER_ERA    146097u	/* 400 Gregorian years */
#define YEARS_PER_ERA   400u
#define DAYS_0000_TO_1970 719468u	/* from 0000-03-01 */
#define YEAR_MAX_4DIGITS 9999u

/* Civil date of a day count since 1970-01-01 (proleptic Gregorian, years
 * starting in March so the leap day comes last). */
static void civil(uint64_t days, unsigned *y, unsigned *m, unsigned *d)
{
	uint64_t z = days + DAYS_0000_TO_1970;
	uint64_t era = z / DAYS_PER_ERA;
	unsigned doe = (unsigned)(z - era * DAYS_PER_ERA);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;

	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (unsigned)(era * YEARS_PER_ERA) + yoe + (*m <= 2);
}

/* v as exactly width decimal digits (zero-padded) at p; returns the end. */
static char *put_num(char *p, unsigned v, unsigned width)
{
	unsigned i;

	for (i = width; i-- > 0; v /= 10)
		p[i] = (char)('0' + v % 10);
	return p + width;
}

/* RFC 3339, UTC, without gmtime/strftime: no time-zone files, no locks,
 * no allocation (glibc loads /etc/localtime on the first gmtime_r). */
char *report_time(uint64_t ns, int frac, char *buf, size_t sz)
{
	uint64_t s = ns / NS_PER_SEC;
	unsigned y, mo, d, sec = (unsigned)(s % SECS_PER_DAY);
	char *p;

	civil(s / SECS_PER_DAY, &y, &mo, &d);
	if (y > YEAR_MAX_4DIGITS) {
		snprintf(buf, sz, "invalid");
		return buf;
	}
	if (sz < sizeof("0000-00-00T00:00:00.000000Z")) {
		snprintf(buf, sz, "invalid");
		return buf;
	}
	p = put_num(buf, y, 4);
	*p++ = '-';
	p = put_num(p, mo, 2);
	*p++ = '-';
	p = put_num(p, d, 2);
	*p++ = 'T';
	p = put_num(p, sec / 3600, 2);
	*p++ = ':';
	p = put_num(p, sec / 60 % 60, 2);
	*p++ = ':';
	p = put_num(p, sec % 60, 2);
	if (frac) {
		*p++ = '.';
		p = put_num(p, (unsigned)(ns % NS_PER_SEC / NS_PER_US), 6);
	}
	*p++ = 'Z';
	*p = '\0';
	return buf;
}

char *report_addr(int family, const uint8_t *a, char *buf, size_t sz)
{
	char *p = buf;
	unsigned i;

	/* IPv4 by hand: glibc's inet_ntop formats it with sprintf. */
	if (family == 4 && sz >= sizeof("255.255.255.255")) {
		for (i = 0; i < 4; i++) {
			if (a[i] >= 100)
				*p++ = (char)('0' + a[i] / 100);
			if (a[i] >= 10)
				*p++ = (char)('0' + a[i] / 10 % 10);
			*p++ = (char)('0' + a[i] % 10);
			*p++ = i < 3 ? '.' : '\0';
		}
		return buf;
	}
	if (!inet_ntop(family == 4 ? AF_INET : AF_INET6, a, buf, (socklen_t)sz))
		snprintf(buf, sz, "?");
	return buf;
}

const char *report_proto(uint8_t proto)
{
	return proto == DEC_PROTO_TCP ? "tcp" : proto == DEC_PROTO_UDP ? "udp" : "?";
}

static void report_rec(struct json_out *o, const struct flow_rec *r)
{
	char a[REPORT_ADDR_MAX], t[REPORT_TIME_MAX];
	unsigned i;

	json_obj_begin(o, NULL);
	json_str(o, "client", report_addr(r->key.family, r->key.client, a, sizeof(a)));
	json_str(o, "server", report_addr(r->key.family, r->key.server, a, sizeof(a)));
	json_u64(o, "port", r->key.port);
	json_str(o, "protocol", report_proto(r->key.proto));
	json_str(o, "direction", flow_how_name((enum flow_how)r->how));
	json_u64(o, "connections", r->conns);
	json_u64(o, "packets_to_server", r->pkts_c2s);
	json_u64(o, "packets_to_client", r->pkts_s2c);
	json_u64(o, "bytes_to_server", r->bytes_c2s);
	json_u64(o, "bytes_to_client", r->bytes_s2c);
	json_arr_begin(o, "client_ports");
	for (i = 0; i < r->nports && i < FLOW_MAX_CLIENT_PORTS; i++)
		json_u64(o, NULL, r->cports[i]);
	json_arr_end(o);
	json_bool(o, "client_ports_truncated", r->ports_overflow);
	json_str(o, "first_seen", report_time(r->first_ns, 1, t, sizeof(t)));
	json_str(o, "last_seen", report_time(r->last_ns, 1, t, sizeof(t)));
	json_obj_end(o);
}

int report_write(struct json_out *o, const struct report_meta *m,
		 const struct report_stats *s, struct flow_table *t)
{
	char tb[REPORT_TIME_MAX];
	const uint32_t *order;
	uint32_t n, i;
	int r;

	json_obj_begin(o, NULL);

	json_obj_begin(o, "agent");
	json_str(o, "name", "d42pcap");
	json_str(o, "version", D42_VERSION);
	json_str(o, "host", m->host);
	json_str(o, "interface", m->iface);
	json_obj_end(o);

	json_obj_begin(o, "interval");
	json_str(o, "start", report_time(m->start_ns, 0, tb, sizeof(tb)));
	json_str(o, "end", report_time(m->end_ns, 0, tb, sizeof(tb)));
	json_u64(o, "seconds", (m->end_ns - m->start_ns + NS_PER_SEC / 2) / NS_PER_SEC);
	json_obj_end(o);

	json_obj_begin(o, "stats");
	json_u64(o, "packets", s->packets);
	json_u64(o, "bytes", s->bytes);
	json_u64(o, "decoded", s->decoded);
	json_obj_begin(o, "undecoded");
	for (r = 1; r < DEC_REASON_COUNT; r++)
		if (s->undecoded[r])
			json_u64(o, decode_reason_name((enum dec_reason)r), s->undecoded[r]);
	json_obj_end(o);
	json_u64(o, "kernel_drops", s->kernel_drops);
	json_u64(o, "interface_drops", s->if_drops);
	if (m->live)	/* rounded up: any outage shows */
		json_u64(o, "capture_down_seconds",
			 (s->capture_down_ns + NS_PER_SEC - 1) / NS_PER_SEC);
	json_u64(o, "flow_drops", t->st.flow_drops);
	json_u64(o, "listener_drops", t->st.listener_drops);
	json_u64(o, "flows", t->st.flows);
	json_u64(o, "listeners", t->st.listeners);
	json_obj_end(o);

	json_arr_begin(o, "communications");
	if (!m->only_stats) {
		n = flow_sorted(t, &order);
		for (i = 0; i < n; i++)
			report_rec(o, &t->recs[order[i]]);
	}
	json_arr_end(o);

	json_obj_end(o);
	return json_out_finish(o);
}

int report_rec_line(const struct flow_rec *r, char *buf, size_t sz)
{
	char c[REPORT_ADDR_MAX], s[REPORT_ADDR_MAX];
	int v6 = r->key.family == 6;

	return snprintf(buf, sz, "%s %s -> %s%s%s:%u %s conns=%u pkts=%u/%u bytes=%llu/%llu",
			report_proto(r->key.proto),
			report_addr(r->key.family, r->key.client, c, sizeof(c)),
			v6 ? "[" : "", report_addr(r->key.family, r->key.server, s, sizeof(s)),
			v6 ? "]" : "", r->key.port, flow_how_name((enum flow_how)r->how),
			r->conns, r->pkts_c2s, r->pkts_s2c,
			(unsigned long long)r->bytes_c2s, (unsigned long long)r->bytes_s2c);
}
