/* Report document writer. Everything goes through the JSON emitter, whose
 * sink drains to the output or spool, so a report with a full table needs
 * no buffer of its own. Records, up to millions a report, are formatted
 * here between key pieces the emitter computes once per report, and handed
 * to it whole: one buffer-space check per record instead of dozens. */
#include "report.h"
#include "addr.h"

#include <stdio.h>
#include <string.h>

#define NS_PER_SEC 1000000000ULL
#define NS_PER_US  1000ULL

#define SECS_PER_DAY    86400u
#define DAYS_PER_ERA    146097u	/* 400 Gregorian years */
#define YEARS_PER_ERA   400u
#define DAYS_0000_TO_1970 719468u	/* from 0000-03-01 */
#define YEAR_MAX_4DIGITS 9999u

#define REPORT_DATE_LEN (sizeof("0000-00-00T") - 1)	/* "YYYY-MM-DDT" */
#define REP_BAD_TIME "invalid"	/* a time put_time() cannot write (year > 9999) */

/* Pieces of a record's text, computed once per report by the emitter
 * (json_prefix) for where the records go: what goes before each member's
 * value (with the quotes and brackets around values), then the record's end
 * and the pieces around client_ports' elements. The members' prefixes are
 * one level below the records' array; those of the last three, in this
 * order, 0, 1 and 2 levels (see shape_init). */
enum rec_piece {
	K_CLIENT, K_SERVER, K_PORT, K_PROTOCOL, K_DIRECTION, K_CONNECTIONS,
	K_PKTS_C2S, K_PKTS_S2C, K_BYTES_C2S, K_BYTES_S2C, K_CPORTS, K_TRUNCATED,
	K_FIRST, K_LAST,
	K_END,		/* before the record's '}' */
	K_CPORTS_END,	/* before client_ports' ']' when it has elements */
	K_CPORT,	/* before each element (after a ',' but the first) */
	K_COUNT
};
#define REC_NUMBERS (K_BYTES_S2C - K_CONNECTIONS + 1)	/* consecutive numbers */

/* Each piece in enum rec_piece order: what goes before the emitter's prefix
 * and what goes after it ('.' nothing), then the key (none: the end of the
 * record or of client_ports, or an element of client_ports). */
static const char rec_pieces[] =
	"{\"client\0"  "\"\"server\0"  "\".port\0"  ".\"protocol\0"  "\"\"direction\0"
	"\".connections\0"  "..packets_to_server\0"  "..packets_to_client\0"
	"..bytes_to_server\0"  "..bytes_to_client\0"  ".[client_ports\0"
	"..client_ports_truncated\0"  ".\"first_seen\0"  "\"\"last_seen\0"
	"\"}\0"  ".]\0"  "..";
#define PIECE_KEY 2		/* offset of the key in a rec_pieces entry */
#define PIECE_NONE '.'
#define REPORT_KEY_MAX 22	/* longest key above */

/* A piece's room: the member pieces are copied with one fixed-size copy (a
 * few moves, no call); client_ports' pieces, off that loop, with stpcpy:
 * a second inline copy would cost more code than it saves time. */
#define REPORT_PIECE_MAX 64
_Static_assert(JSON_PREFIX_MAX(REPORT_KEY_MAX) + 3 <= REPORT_PIECE_MAX,
	       "a piece: a character, a prefix, a character, a NUL");

/* One record's longest text: every step's room (a piece copy, a formatter's
 * whole buffer, a number's JSON_U64_MAX) counted in full. */
#define REPORT_REC_MAX ((K_COUNT + FLOW_MAX_CLIENT_PORTS) * REPORT_PIECE_MAX + \
			2 * ADDR_STR_MAX + 2 * REPORT_TIME_MAX + \
			(REC_NUMBERS + 1 + FLOW_MAX_CLIENT_PORTS) * JSON_U64_MAX + \
			4 * REPORT_WORD_MAX)	/* the names, true/false, "]" */

/* The last date written: days since 1970 and "YYYY-MM-DDT". */
struct rep_day {
	uint64_t day;
	char date[REPORT_DATE_LEN];
};
#define REP_NO_DAY UINT64_MAX	/* no date yet: no such day */

struct rec_shape {
	char piece[K_COUNT][REPORT_PIECE_MAX];	/* NUL-terminated */
	uint8_t len[K_COUNT];			/* strlen(piece[k]) */
	struct rep_day day;			/* of the records' times */
};

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

/* ns in RFC 3339, UTC, and a NUL at p, the date from c when of its day
 * (an interval's records are nearly all of one); returns the end, or NULL
 * for a year past 9999. Without gmtime/strftime: no time-zone files, no
 * locks, no allocation (glibc loads /etc/localtime on the first gmtime_r). */
static char *put_time(struct rep_day *c, uint64_t ns, int frac, char *p)
{
	uint64_t s = ns / NS_PER_SEC;
	unsigned y, mo, d, sec = (unsigned)(s % SECS_PER_DAY);
	char *q;

	if (s / SECS_PER_DAY != c->day) {
		civil(s / SECS_PER_DAY, &y, &mo, &d);
		if (y > YEAR_MAX_4DIGITS)
			return NULL;
		q = put_num(c->date, y, 4);
		*q++ = '-';
		q = put_num(q, mo, 2);
		*q++ = '-';
		q = put_num(q, d, 2);
		*q = 'T';
		c->day = s / SECS_PER_DAY;
	}
	/* Two digits per step (json_fmt_2): a record has two times. */
	memcpy(p, c->date, REPORT_DATE_LEN);
	p = json_fmt_2(p + REPORT_DATE_LEN, sec / 3600);
	*p++ = ':';
	p = json_fmt_2(p, sec / 60 % 60);
	*p++ = ':';
	p = json_fmt_2(p, sec % 60);
	if (frac) {
		unsigned us = (unsigned)(ns % NS_PER_SEC / NS_PER_US);

		*p++ = '.';
		p = json_fmt_2(p, us / 10000);
		p = json_fmt_2(p, us / 100);
		p = json_fmt_2(p, us);
	}
	*p++ = 'Z';
	*p = '\0';
	return p;
}

char *report_time(uint64_t ns, int frac, char *buf, size_t sz)
{
	struct rep_day c = { REP_NO_DAY, "" };

	if (sz < sizeof("0000-00-00T00:00:00.000000Z") || !put_time(&c, ns, frac, buf))
		snprintf(buf, sz, REP_BAD_TIME);
	return buf;
}

/* Protocol names; all but the first fill their room (NUL included). */
static const char rep_protos[][sizeof("tcp")] = { "?", "tcp", "udp" };

static unsigned proto_idx(uint8_t proto)
{
	return proto == DEC_PROTO_TCP ? 1 : proto == DEC_PROTO_UDP ? 2 : 0;
}

const char *report_proto(uint8_t proto)
{
	return rep_protos[proto_idx(proto)];
}

/* The pieces for records written at o's current position (an array);
 * -1 if one does not fit. */
static int shape_init(struct rec_shape *sh, const struct json_out *o)
{
	const char *e = rec_pieces;
	unsigned k;
	char *p;
	int n;

	for (k = 0; k < K_COUNT; k++, e += strlen(e) + 1) {
		p = sh->piece[k];
		if (e[0] != PIECE_NONE)
			*p++ = e[0];
		/* Members: one level below the array, the first without a
		 * comma; then the closing brace (0), bracket (1), elements (2). */
		n = json_prefix(o, k < K_END ? 1 : k - K_END, k == K_CLIENT || k >= K_END,
				e[PIECE_KEY] ? e + PIECE_KEY : NULL, p, REPORT_PIECE_MAX - 3);
		if (n < 0)
			return -1;
		p += n;
		if (e[1] != PIECE_NONE)
			*p++ = e[1];
		*p = '\0';
		sh->len[k] = (uint8_t)(p - sh->piece[k]);
	}
	return 0;
}

/* The record as one text, handed to the emitter at once: each member's
 * piece, then its value. Values are program literals or formatted here:
 * nothing needs escaping. */
static void report_rec(struct json_out *o, struct rec_shape *sh,
		       const struct flow_rec *r)
{
	uint64_t num[K_END];
	char buf[REPORT_REC_MAX], *p = buf, *q;
	unsigned k, i;

	num[K_PORT] = r->key.port;
	num[K_CONNECTIONS] = r->conns;
	num[K_PKTS_C2S] = r->pkts_c2s;
	num[K_PKTS_S2C] = r->pkts_s2c;
	num[K_BYTES_C2S] = r->bytes_c2s;
	num[K_BYTES_S2C] = r->bytes_s2c;
	for (k = 0;; k++) {
		memcpy(p, sh->piece[k], REPORT_PIECE_MAX);	/* fixed size: no call */
		p += sh->len[k];
		switch (k) {
		case K_CLIENT:
		case K_SERVER:
			p = addr_put(r->key.family, k == K_CLIENT ? r->key.client :
				     r->key.server, p);
			break;
		case K_PROTOCOL:	/* a fixed-size copy, no call */
			i = proto_idx(r->key.proto);
			memcpy(p, rep_protos[i], sizeof(rep_protos[i]));
			p += i ? sizeof(rep_protos[i]) - 1 : 1;
			break;
		case K_DIRECTION:
			p = stpcpy(p, flow_how_name((enum flow_how)r->how));
			break;
		case K_CPORTS:
			for (i = 0; i < r->nports && i < FLOW_MAX_CLIENT_PORTS; i++) {
				if (i)
					*p++ = ',';
				p = json_fmt_u64(stpcpy(p, sh->piece[K_CPORT]), r->cports[i]);
			}
			if (i)
				p = stpcpy(p, sh->piece[K_CPORTS_END]);
			else
				*p++ = ']';
			break;
		case K_TRUNCATED:	/* "true" is copied with its NUL */
			memcpy(p, r->ports_overflow ? "true" : "false", sizeof("false") - 1);
			p += r->ports_overflow ? sizeof("true") - 1 : sizeof("false") - 1;
			break;
		case K_FIRST:
		case K_LAST:
			q = put_time(&sh->day, k == K_FIRST ? r->first_ns : r->last_ns, 1, p);
			p = q ? q : stpcpy(p, REP_BAD_TIME);
			break;
		case K_END:
			json_raw(o, NULL, buf, (size_t)(p - buf));
			return;
		default:	/* the numbers */
			p = json_fmt_u64(p, num[k]);
		}
	}
}

/* A report's text but for the names and the records: keys, times, the
 * statistics' numbers (JSON_U64_MAX digits each) and, pretty, their
 * indentation; about 1,300 bytes at most as written today. */
#define REPORT_HEAD_MAX 4096
#define JSON_ESCAPED_MAX 6	/* bytes a string byte may take: \u00XX */

uint64_t report_max_bytes(const char *host, const char *iface, uint32_t records)
{
	return REPORT_HEAD_MAX + JSON_ESCAPED_MAX * (uint64_t)(strlen(host) + strlen(iface)) +
	       (uint64_t)records * (REPORT_REC_MAX + JSON_PREFIX_MAX(0));
}

int report_write(struct json_out *o, const struct report_meta *m,
		 const struct report_stats *s, struct flow_table *t)
{
	char tb[REPORT_TIME_MAX];
	struct rec_shape sh;
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
		sh.day.day = REP_NO_DAY;
		if (shape_init(&sh, o) < 0)	/* a key too long or too deep: a bug */
			o->error = JSON_OUT_ERR_MISUSE;
		n = flow_sorted(t);
		for (i = 0; i < n; i++)
			report_rec(o, &sh, flow_sorted_rec(t, i));
	}
	json_arr_end(o);

	json_obj_end(o);
	return json_out_finish(o);
}

int report_rec_line(const struct flow_rec *r, char *buf, size_t sz)
{
	char c[ADDR_STR_MAX], s[ADDR_STR_MAX];
	int v6 = r->key.family == 6;

	return snprintf(buf, sz, "%s %s -> %s%s%s:%u %s conns=%u pkts=%u/%u bytes=%llu/%llu",
			report_proto(r->key.proto),
			addr_fmt(r->key.family, r->key.client, c, sizeof(c)),
			v6 ? "[" : "", addr_fmt(r->key.family, r->key.server, s, sizeof(s)),
			v6 ? "]" : "", r->key.port, flow_how_name((enum flow_how)r->how),
			r->conns, r->pkts_c2s, r->pkts_s2c,
			(unsigned long long)r->bytes_c2s, (unsigned long long)r->bytes_s2c);
}
