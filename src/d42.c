/* Device42 delivery. One state machine, stepped from the poll loop:
 *
 *   IDLE -> (sample mode) SAMPLE --------------------------------> IDLE
 *   IDLE -> SCAN -> RESOLVE -> READ -> POST -> SCAN ... -> (end) -> IDLE
 *
 * SCAN pulls records from the oldest spooled report until it has every
 * client of one (server, port, protocol): our reports are sorted that way,
 * so a listener's records are consecutive. A report is removed from the
 * spool only after its last listener was accepted; any failure leaves it
 * there and the next attempt starts it again from the top (each POST sends
 * the union of what the appliance had and what we saw, so repeating one is
 * harmless). Listeners whose server IP the appliance does not know are kept
 * in a bounded table and retried once per interval. */
#include "d42.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "report.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <strings.h>
#include <time.h>

#define D42_MAX_PATH      1024		/* request path + query */
#define D42_CHUNK         8192		/* spool bytes read at a time */
#define D42_MAX_STEPS     64		/* state transitions per d42_step call */
#define D42_REC_TOKENS    64		/* tokens of one report record */
#define D42_BODY_EXCERPT  160		/* bytes of an error body logged */
#define D42_MAX_DEPTH     16
#define D42_ADDR_STR      46
#define D42_NUM_MAX       32		/* text of a number in a reply */
#define D42_EXP_MAX       64		/* its exponent: beyond, no whole uint64 */
#define D42_REC_SKIPPED   2		/* d42_next_record(): one read, unusable */
#define MS_PER_SEC        1000ULL
#define D42_TOTAL_TIMEOUTS 4		/* a whole request: this many timeouts */
#define D42_MAX_PAGES     64		/* pages of one listener's listing */
#define D42_FILL_BATCH    4096		/* report records read per step: a listener
					 * with a million clients must not hold
					 * up the loop (capture, timers) */

enum d42_state { ST_IDLE, ST_SCAN, ST_RESOLVE, ST_READ, ST_POST, ST_SAMPLE };

struct d42_addr {
	uint8_t family;		/* 4 or 6 */
	uint8_t a[16];
};

struct d42_group {
	struct d42_addr server;
	uint16_t port;
	uint8_t proto;		/* 6 or 17 */
	int from_pending;	/* index + 1 of the pending slot, 0: from spool */
	uint32_t n;
	uint32_t ours;		/* clients we saw (the first `ours` entries) */
	uint32_t cut;		/* more clients we saw: past D42_MAX_CLIENTS */
	uint32_t unusable;	/* records read with it that name no listener
				 * (port 0): counted with it, once */
	int truncated;		/* the appliance's remote IPs did not fit */
	struct d42_addr clients[D42_MAX_CLIENTS];
};

struct d42_cache_ent {
	struct d42_addr ip;
	uint8_t used, known;
	uint64_t expires_ms;
	char device[D42_MAX_DEVICE];
};

struct d42_pending {
	struct d42_addr server;
	uint16_t port;
	uint8_t proto;
	uint8_t used;
	uint16_t tries;
	uint16_t n;
	uint64_t age;		/* insertion order, for dropping the oldest */
	struct d42_addr clients[D42_PENDING_CLIENTS];
};

struct d42 {
	const struct config *cfg;
	struct spool *sp;
	struct http_client *http;
	enum d42_state st;
	int busy;			/* a request is in flight */
	int sample;			/* upload-mode sample */
	uint64_t now;
	uint64_t backoff_until, backoff_ms;
	unsigned fails;			/* consecutive */
	int auth_refused;		/* last failure was 401/403 */
	int lookup_refused;		/* status of the 4xx refusing lookups, 0: none */
	int device_cached;		/* d->device came from the cache, not asked now */
	int body_bad;			/* sample body failed its spool check */
	int body_gone;			/* sample body dropped from the spool */
	struct d42_stats stats;

	/* the listener whose POST the appliance refused last (sample mode:
	 * the report refused_seq), and how often in a row */
	struct d42_addr refused_server;
	uint16_t refused_port;
	uint8_t refused_proto;
	uint64_t refused_seq;
	unsigned refused_n;

	/* the report being delivered */
	uint64_t seq;
	uint64_t rep_ok, rep_nok;	/* its records so far, to stats when done */
	/* Where a retry of the report picks up: its first resume_groups
	 * listeners were posted or left out already. Not posted twice, and
	 * a listener left out is not refused afresh while the next one is. */
	uint64_t resume_seq;
	uint32_t resume_groups;
	uint32_t group_idx;		/* groups of this pass so far */
	int filling;			/* d->g is still being collected */
	int reader_open, eof;
	char chunk[D42_CHUNK];
	size_t chunk_len, chunk_off;
	struct d42_scan scan;
	int have_next;			/* a record of the next group is held */
	struct d42_addr next_client, next_server;
	uint16_t next_port;
	uint8_t next_proto;

	struct d42_group g;
	char device[D42_MAX_DEVICE];
	uint32_t list_offset;		/* the listing page being read */
	uint32_t list_pages;

	/* unmatched listeners */
	struct d42_pending pend[D42_MAX_PENDING];
	uint64_t pend_age;
	uint64_t pend_due;
	unsigned pend_pos;		/* next slot to retry; D42_MAX_PENDING: round done */

	struct d42_cache_ent cache[D42_CACHE_SIZE];

	struct http_request req;
	char path[D42_MAX_PATH];
	char form[D42_MAX_FORM];
	struct json_tok toks[D42_MAX_TOKENS];
};

/* ---------------------------------------------------------------------- */
/* record scanner */

void d42_scan_init(struct d42_scan *s)
{
	memset(s, 0, sizeof(*s));
}

/* Depth counts open containers: the report object is depth 1, the
 * communications array depth 2, a record object depth 3. */
int d42_scan_feed(struct d42_scan *s, const char *buf, size_t len, size_t *used)
{
	size_t i;
	int in_rec;
	char c;

	for (i = 0; i < len; i++) {
		c = buf[i];
		/* Records are the objects whose parent, at depth 2, is an array;
		 * objects under the stats object at depth 2 are not, nor is a '{'
		 * inside a string in that array, nor an array in that array. */
		in_rec = (s->kinds & (1u << 2)) &&
			 ((s->depth >= 3 && !(s->kinds & (1u << 3))) ||
			  (s->depth == 2 && !s->in_str && c == '{'));
		if (in_rec) {
			if (s->len >= sizeof(s->rec)) {
				*used = i;
				return D42_SCAN_ERR_TOO_BIG;
			}
			s->rec[s->len++] = c;
		}
		if (s->in_str) {
			if (s->esc)
				s->esc = 0;
			else if (c == '\\')
				s->esc = 1;
			else if (c == '"')
				s->in_str = 0;
			continue;
		}
		switch (c) {
		case '"':
			s->in_str = 1;
			break;
		case '{':
		case '[':
			if (s->depth >= 31) {
				*used = i;
				return D42_SCAN_ERR_SYNTAX;
			}
			s->depth++;
			if (c == '[')
				s->kinds |= 1u << s->depth;
			else
				s->kinds &= ~(1u << s->depth);
			break;
		case '}':
		case ']':
			if (!s->depth || (c == ']') != !!(s->kinds & (1u << s->depth))) {
				*used = i;
				return D42_SCAN_ERR_SYNTAX;
			}
			s->depth--;
			if (s->depth == 2 && in_rec && c == '}') {
				*used = i + 1;
				return D42_SCAN_RECORD;
			}
			break;
		default:
			break;
		}
		if (!in_rec)
			s->len = 0;
	}
	*used = len;
	return D42_SCAN_MORE;
}

/* ---------------------------------------------------------------------- */
/* small helpers */

static int addr_parse(const char *s, struct d42_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, s, a->a) == 1) {
		a->family = 4;
		return 0;
	}
	if (inet_pton(AF_INET6, s, a->a) == 1) {
		a->family = 6;
		return 0;
	}
	return -1;
}

static int addr_eq(const struct d42_addr *x, const struct d42_addr *y)
{
	return x->family == y->family && !memcmp(x->a, y->a, sizeof(x->a));
}

static const char *addr_str(const struct d42_addr *a, char *buf)
{
	return addr_fmt(a->family, a->a, buf, D42_ADDR_STR);
}

static const char *proto_upper(uint8_t p)
{
	return p == 6 ? "TCP" : "UDP";
}

/* Members of object token o: the value token of key, or -1. */
static int tok_member(const char *js, const struct json_tok *t, int ntok, int o, const char *key)
{
	int i, k;
	size_t kl = strlen(key);

	if (o < 0 || o >= ntok || t[o].type != JSON_OBJECT)
		return -1;
	i = o + 1;
	for (k = 0; k < (int)t[o].size && i + 1 < ntok; k++) {
		if (t[i].end - t[i].start == kl && !strncasecmp(js + t[i].start, key, kl))
			return i + 1;
		i = (int)t[i + 1].next;
	}
	return -1;
}

static int tok_str(const char *js, const struct json_tok *t, int i, char *out, size_t sz)
{
	if (i < 0 || t[i].type != JSON_STRING)
		return -1;
	return json_str_decode(js, &t[i], out, sz) < 0 ? -1 : 0;
}

static int tok_int(const char *js, const struct json_tok *t, int i, long *out)
{
	char buf[24], *end;
	size_t n;

	if (i < 0 || t[i].type != JSON_NUMBER)
		return -1;
	n = t[i].end - t[i].start;
	if (n >= sizeof(buf))
		return -1;
	memcpy(buf, js + t[i].start, n);
	buf[n] = '\0';
	*out = strtol(buf, &end, 10);
	return *end ? -1 : 0;
}

/* A whole number of at least 0 the appliance may write as 2, 2.0, 2.5e1
 * or "2": 0 with *out, or -1 (not one, or over UINT64_MAX). Decimal, by
 * hand: strtod() would add musl's float scanner to the static builds. */
static int tok_whole(const char *js, const struct json_tok *t, int i, uint64_t *out)
{
	char buf[D42_NUM_MAX];
	const char *p = buf;
	uint64_t v = 0;
	int digits = 0, exp = 0, eneg = 0, e = 0, neg = 0;

	if (i < 0 || (t[i].type != JSON_NUMBER && t[i].type != JSON_STRING))
		return -1;
	if (t[i].type == JSON_STRING) {
		if (json_str_decode(js, &t[i], buf, sizeof(buf)) < 0)
			return -1;
	} else {
		if (t[i].end - t[i].start >= sizeof(buf))
			return -1;
		memcpy(buf, js + t[i].start, t[i].end - t[i].start);
		buf[t[i].end - t[i].start] = '\0';
	}
	if (*p == '-') {
		neg = 1;
		p++;
	}
	for (; *p >= '0' && *p <= '9'; p++, digits++) {
		if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (*p == '.')	/* the fraction's digits join v, each a power less */
		for (p++; *p >= '0' && *p <= '9'; p++, digits++, exp--) {
			if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
				return -1;
			v = v * 10 + (uint64_t)(*p - '0');
		}
	if (digits == 0)
		return -1;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			eneg = *p++ == '-';
		if (*p < '0' || *p > '9')
			return -1;
		for (; *p >= '0' && *p <= '9'; p++)
			if ((e = e * 10 + (*p - '0')) > D42_EXP_MAX)
				return -1;
		exp += eneg ? -e : e;
	}
	if (*p)
		return -1;
	for (; exp > 0; exp--) {
		if (v > UINT64_MAX / 10)
			return -1;
		v *= 10;
	}
	for (; exp < 0; exp++) {
		if (v % 10)
			return -1;	/* a fraction left */
		v /= 10;
	}
	if (neg && v)
		return -1;
	*out = v;
	return 0;
}

/* Percent-encoding for forms and queries: unreserved characters pass. */
static int url_encode(char *out, size_t sz, size_t *len, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned char c;

	for (; *s; s++) {
		c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~') {
			if (*len + 1 >= sz)
				return -1;
			out[(*len)++] = (char)c;
		} else {
			if (*len + 3 >= sz)
				return -1;
			out[(*len)++] = '%';
			out[(*len)++] = hex[c >> 4];
			out[(*len)++] = hex[c & 15];
		}
	}
	out[*len] = '\0';
	return 0;
}

/* A record's client: unique within its listener in a report, so not
 * searched for (a million clients took seconds); past what a POST carries
 * only counted. */
static void add_own_client(struct d42_group *g, const struct d42_addr *a)
{
	if (g->n < D42_MAX_CLIENTS)
		g->clients[g->n++] = *a;
	else
		g->cut++;
}

/* One of the appliance's remote IPs, unless we have it; sets truncated
 * when the POST is full (the caller then leaves the listener out). */
static void add_client(struct d42_group *g, const struct d42_addr *a)
{
	uint32_t i;

	for (i = 0; i < g->n; i++)
		if (addr_eq(&g->clients[i], a))
			return;
	if (g->n < D42_MAX_CLIENTS)
		g->clients[g->n++] = *a;
	else
		g->truncated = 1;
}

/* ---------------------------------------------------------------------- */
/* IP -> device cache */

static uint32_t cache_hash(const struct d42_addr *a)
{
	uint32_t h = 2166136261u;
	unsigned i;

	for (i = 0; i < sizeof(a->a); i++)
		h = (h ^ a->a[i]) * 16777619u;
	return h & (D42_CACHE_SIZE - 1);
}

static struct d42_cache_ent *cache_get(struct d42 *d, const struct d42_addr *a)
{
	struct d42_cache_ent *e = &d->cache[cache_hash(a)];

	if (e->used && addr_eq(&e->ip, a) && d->now < e->expires_ms)
		return e;
	return NULL;
}

/* Direct-mapped: a colliding IP simply replaces the older entry. */
static void cache_put(struct d42 *d, const struct d42_addr *a, const char *device)
{
	struct d42_cache_ent *e = &d->cache[cache_hash(a)];

	e->used = 1;
	e->ip = *a;
	e->known = device != NULL;
	e->expires_ms = d->now + (device ? D42_CACHE_TTL_MS : D42_NEG_TTL_MS);
	snprintf(e->device, sizeof(e->device), "%s", device ? device : "");
}

/* A refused POST or a failed listing may have named a device the
 * appliance no longer has (renamed or deleted meanwhile): the next attempt
 * asks for the name again rather than repeat the old one until it expires. */
static void cache_forget(struct d42 *d, const struct d42_addr *a)
{
	struct d42_cache_ent *e = &d->cache[cache_hash(a)];

	if (e->used && addr_eq(&e->ip, a))
		e->used = 0;
}

/* ---------------------------------------------------------------------- */
/* failures and backoff */

static void d42_close_reader(struct d42 *d)
{
	if (d->reader_open)
		spool_reader_close(d->sp);
	d->reader_open = 0;
}

/* A failure: the next attempt after wait_ms, or with 0 after the next
 * step of the backoff, but not before at_least_ms (the appliance's
 * Retry-After). */
static void d42_fail_after(struct d42 *d, unsigned long long wait_ms,
			   unsigned long long at_least_ms)
{
	uint64_t jitter;

	d->fails++;
	d->stats.failures++;
	if (!wait_ms) {
		d->backoff_ms = d->backoff_ms ? d->backoff_ms * 2 : D42_BACKOFF_MIN_MS;
		if (d->backoff_ms > D42_BACKOFF_MAX_MS)
			d->backoff_ms = D42_BACKOFF_MAX_MS;
		wait_ms = d->backoff_ms;
	}
	if (wait_ms < at_least_ms)
		wait_ms = at_least_ms;
	/* Up to +25 % so many agents do not retry in step. */
	jitter = (uint64_t)rand() % (wait_ms / 4 + 1);
	d->backoff_until = d->now + wait_ms + jitter;
	d42_close_reader(d);
	d->st = ST_IDLE;
	d->busy = 0;
	log_info("device42: next attempt in %llu ms", (unsigned long long)(wait_ms + jitter));
}

static void d42_fail(struct d42 *d, unsigned long long wait_ms)
{
	d42_fail_after(d, wait_ms, 0);
}

/* Retry-After in delay-seconds (RFC 9110, 10.2.3), in ms, at most
 * D42_RETRY_AFTER_MAX_MS; 0 if absent, or an HTTP-date (the backoff then
 * applies: the agent's clock need not agree with the appliance's). */
static unsigned long long d42_retry_after_ms(const struct http_response *r)
{
	const char *v = http_response_header(r, "Retry-After");
	unsigned long long sec = 0;

	if (!v || *v < '0' || *v > '9')
		return 0;
	for (; *v >= '0' && *v <= '9'; v++)
		if (sec <= D42_RETRY_AFTER_MAX_MS / MS_PER_SEC)	/* no wrap */
			sec = sec * 10 + (unsigned)(*v - '0');
	if (*v)
		return 0;
	return sec * MS_PER_SEC < D42_RETRY_AFTER_MAX_MS ? sec * MS_PER_SEC
							 : D42_RETRY_AFTER_MAX_MS;
}

static void d42_ok(struct d42 *d)
{
	if (d->lookup_refused)
		log_info("device42: the appliance answers lookups again");
	d->fails = 0;
	d->auth_refused = 0;
	d->lookup_refused = 0;
	d->backoff_ms = 0;
}

/* Moves the report aside: 0. Out of descriptors or memory it stays
 * queued, and the next attempt comes after a backoff: SPOOL_ERR_AGAIN. */
static int d42_set_aside(struct d42 *d, uint64_t seq, const char *why)
{
	int rc;

	d42_close_reader(d);
	rc = spool_quarantine(d->sp, seq, why);
	if (rc == 0)
		return 0;
	/* Out of descriptors, or (never seen) not in the index: back off
	 * either way, or the loop would try again at once, forever. */
	d42_fail(d, 0);
	return SPOOL_ERR_AGAIN;
}

/* How much of a reply's body a log line quotes. */
static int d42_excerpt_len(const struct http_response *r)
{
	return (int)(r->body_len < D42_BODY_EXCERPT ? r->body_len : D42_BODY_EXCERPT);
}

/* The start of an error reply's body, printable, for a log line. */
static const char *d42_excerpt(const struct http_response *r, char out[D42_BODY_EXCERPT + 1])
{
	size_t i, n = (size_t)d42_excerpt_len(r);

	for (i = 0; i < n; i++)
		out[i] = (r->body[i] >= 0x20 && r->body[i] < 0x7f) ? (char)r->body[i] : ' ';
	out[n] = '\0';
	return out;
}

/* 0 if the response is a 2xx; otherwise logs, backs off, returns -1. */
static int d42_check_status(struct d42 *d, const struct http_response *r, const char *what)
{
	char excerpt[D42_BODY_EXCERPT + 1];

	if (r->status >= 200 && r->status < 300)
		return 0;
	d42_excerpt(r, excerpt);
	if (r->status == 401 || r->status == 403) {
		log_err("device42: %s: HTTP %d: the appliance refused user \"%s\" "
			"(check device42.User and the password)", what, r->status, d->cfg->user);
		d42_fail(d, D42_AUTH_BACKOFF_MS);
		d->auth_refused = 1;
		return -1;
	}
	if (strstr(excerpt, "icense"))
		log_err("device42: %s: HTTP %d: licence problem on the appliance: %s",
			what, r->status, excerpt);
	else
		log_warn("device42: %s: HTTP %d %s", what, r->status, excerpt);
	d42_fail_after(d, 0, d42_retry_after_ms(r));
	return -1;
}

/* A lookup (IP, listing) answered with a 4xx that is not about the login
 * (401/403), a timeout (408) or the rate (429): the appliance refuses the
 * GET as such (a wrong Host path, an API it does not have, a query it
 * rejects), which no retry changes until the operator acts. Logged as an
 * error once per change of that state, retried at the longest backoff
 * (or a longer Retry-After), the report kept; an offline run stops (see
 * d42_stuck()). Not so a listing asked for under a cached device name:
 * the device may have been renamed, and the next attempt asks for its
 * name first (cache_forget()), at the usual backoff. 1 if handled. */
static int d42_lookup_refusal(struct d42 *d, const struct http_response *r, const char *what)
{
	char excerpt[D42_BODY_EXCERPT + 1];
	unsigned long long after;

	if (r->status < 400 || r->status > 499 || r->status == 401 || r->status == 403 ||
	    r->status == 408 || r->status == 429 || (d->st == ST_READ && d->device_cached))
		return 0;
	if (d->lookup_refused != r->status)
		log_err("device42: %s: HTTP %d %s: the appliance refuses the request as such; "
			"retried every %u s until it answers (check device42.Host and the "
			"appliance's API), reports kept in the spool", what, r->status,
			d42_excerpt(r, excerpt), D42_BACKOFF_MAX_MS / (unsigned)MS_PER_SEC);
	else
		log_info("device42: %s: HTTP %d again", what, r->status);
	after = d42_retry_after_ms(r);
	d->backoff_ms = D42_BACKOFF_MAX_MS;
	d42_fail_after(d, D42_BACKOFF_MAX_MS, after);
	d->lookup_refused = r->status;
	return 1;
}

/* A JSON reply; -1 (failure handled) if it is not JSON. With too_big, a
 * reply of more than D42_MAX_TOKENS values is the caller's to handle
 * (-1 with *too_big set, nothing logged): asking again cannot shrink it. */
static int d42_parse_reply(struct d42 *d, const struct http_response *r, const char *what,
			   int *too_big)
{
	struct json_limits lim = { r->body_len + 1, D42_MAX_DEPTH };
	struct json_pos pos;
	int n;

	n = json_parse((const char *)r->body, r->body_len, &lim, d->toks, D42_MAX_TOKENS, &pos);
	if (n == JSON_ERR_TOKENS && too_big) {
		*too_big = 1;
		return -1;
	}
	if (n < 0) {
		log_warn("device42: %s: reply is not valid JSON (%s at %u:%u)", what,
			 json_strerror(n), pos.line, pos.col);
		d42_fail(d, 0);
		return -1;
	}
	return n;
}

/* 1 if a 2xx reply of n tokens has a "code" other than 0 (a number in any
 * form, or a string holding one; anything else is not 0): the API's
 * error. Its text goes to why. */
static int d42_coded(const struct d42 *d, const char *js, int n, char *why, size_t whysz)
{
	uint64_t code = 0;
	int ci, len;

	if (n <= 0 || (ci = tok_member(js, d->toks, n, 0, "code")) < 0 ||
	    (tok_whole(js, d->toks, ci, &code) == 0 && code == 0))
		return 0;
	len = (int)(d->toks[ci].end - d->toks[ci].start);
	snprintf(why, whysz, "code %.*s", len < D42_NUM_MAX ? len : D42_NUM_MAX,
		 js + d->toks[ci].start);
	return 1;
}

/* A lookup (IP, listing) answered 2xx with the API's error: the appliance
 * could not answer (busy, its database locked), which says nothing of the
 * device or its listeners. Retried as after a 5xx, the report kept: 1. */
static int d42_lookup_failed(struct d42 *d, const struct http_response *r, int n,
			     const char *what)
{
	char why[D42_NUM_MAX + 8];

	if (!d42_coded(d, (const char *)r->body, n, why, sizeof(why)))
		return 0;
	log_warn("device42: %s: the appliance answered with an error (%s): %.*s", what, why,
		 d42_excerpt_len(r),
		 (const char *)r->body);
	d42_fail_after(d, 0, d42_retry_after_ms(r));
	return 1;
}

/* ---------------------------------------------------------------------- */
/* requests */

static int d42_send(struct d42 *d, const char *method, const char *ctype,
		    const void *body, uint64_t body_len,
		    int (*body_read)(void *, uint64_t, void *, size_t))
{
	memset(&d->req, 0, sizeof(d->req));
	d->req.method = method;
	d->req.path = d->path;
	d->req.content_type = ctype;
	d->req.body = body;
	d->req.body_len = body_len;
	d->req.body_fd = -1;
	d->req.body_read = body_read;
	d->req.body_ctx = d;
	if (http_client_start(d->http, &d->req, d->now) < 0) {
		log_warn("device42: cannot start %s %s: %s", method, d->path,
			 http_client_error(d->http));
		d42_fail(d, 0);
		return -1;
	}
	d->busy = 1;
	return 0;
}

static int d42_req_resolve(struct d42 *d)
{
	char ip[D42_ADDR_STR];
	size_t n;

	n = (size_t)snprintf(d->path, sizeof(d->path), "/api/1.0/ips/?ip=");
	if (url_encode(d->path, sizeof(d->path), &n, addr_str(&d->g.server, ip)) < 0)
		return -1;
	d->st = ST_RESOLVE;
	return d42_send(d, "GET", NULL, NULL, 0, NULL);
}

/* The listing page from offset on (0: the first, which starts afresh). */
static int d42_req_read(struct d42 *d, uint32_t offset)
{
	size_t n;

	if (!offset)
		d->list_pages = 0;
	d->list_offset = offset;
	n = (size_t)snprintf(d->path, sizeof(d->path),
			     "/api/2.0/service_listener_ports/?port=%u&device_name=", d->g.port);
	if (url_encode(d->path, sizeof(d->path), &n, d->device) < 0)
		return -1;
	if (offset) {
		n += (size_t)snprintf(d->path + n, sizeof(d->path) - n, "&offset=%u", (unsigned)offset);
		if (n >= sizeof(d->path))
			return -1;
	}
	d->st = ST_READ;
	return d42_send(d, "GET", NULL, NULL, 0, NULL);
}

/* "&key=value" (no '&' first), both percent-encoded. */
static int form_kv(char *out, size_t sz, size_t *n, const char *key, const char *val)
{
	if (*n) {
		if (*n + 1 >= sz)
			return -1;
		out[(*n)++] = '&';
	}
	if (url_encode(out, sz, n, key) < 0 || *n + 1 >= sz)
		return -1;
	out[(*n)++] = '=';
	out[*n] = '\0';
	return url_encode(out, sz, n, val);
}

static int d42_req_post(struct d42 *d)
{
	char ip[D42_ADDR_STR], port[8];
	size_t n = 0;
	uint32_t i;
	int rc;

	snprintf(port, sizeof(port), "%u", d->g.port);
	rc = form_kv(d->form, sizeof(d->form), &n, "device_name", d->device);
	rc |= form_kv(d->form, sizeof(d->form), &n, "listening_ip", addr_str(&d->g.server, ip));
	rc |= form_kv(d->form, sizeof(d->form), &n, "port", port);
	rc |= form_kv(d->form, sizeof(d->form), &n, "protocol", proto_upper(d->g.proto));
	rc |= form_kv(d->form, sizeof(d->form), &n, "remote_ips", "");
	/* The list's commas are encoded too: the value is one form field. */
	for (i = 0; i < d->g.n && !rc; i++)
		rc |= url_encode(d->form, sizeof(d->form), &n, i ? "," : "") |
		      url_encode(d->form, sizeof(d->form), &n, addr_str(&d->g.clients[i], ip));
	if (rc) {
		log_err("device42: form for %s:%u too large; skipped",
			addr_str(&d->g.server, ip), d->g.port);
		return -1;
	}
	snprintf(d->path, sizeof(d->path), "/api/2.0/service_listener_ports/");
	d->st = ST_POST;
	return d42_send(d, "POST", "application/x-www-form-urlencoded", d->form, n, NULL);
}

/* ---------------------------------------------------------------------- */
/* unmatched listeners */

/* The group's clients, accepted or not: a report's count waits for the
 * report to be through (a retry posts it again); a retry of an unmatched
 * listener, outside any report, counts at once. */
static void d42_count(struct d42 *d, int ok)
{
	uint64_t *okc = d->g.from_pending ? &d->stats.records_ok : &d->rep_ok;
	uint64_t *nokc = d->g.from_pending ? &d->stats.records_nok : &d->rep_nok;

	*(ok ? okc : nokc) += d->g.ours;
	*nokc += d->g.cut + d->g.unusable;
	if (!d->g.from_pending)	/* this listener is through: see resume_groups */
		d->resume_groups = d->group_idx;
}

/* This listener is not posted this time; on to the next. That is
 * progress: the failures before were about this listener only. */
static void d42_leave_out(struct d42 *d)
{
	d42_count(d, 0);
	d42_ok(d);
	if (d->g.from_pending)	/* given up: not retried, nor counted, again */
		d->pend[d->g.from_pending - 1].used = 0;
	d->st = d->g.from_pending ? ST_IDLE : ST_SCAN;
}

static void d42_live(const struct d42 *d, const char *tag, const struct d42_addr *client,
		     const char *why)
{
	char c[D42_ADDR_STR], s[D42_ADDR_STR];
	int v6 = d->g.server.family == 6;

	log_print("%s: %s %s -> %s%s%s:%u%s%s", tag, d->g.proto == 6 ? "tcp" : "udp",
		addr_str(client, c), v6 ? "[" : "", addr_str(&d->g.server, s), v6 ? "]" : "",
		d->g.port, why ? " " : "", why ? why : "");
}

static struct d42_pending *pend_find(struct d42 *d, const struct d42_group *g)
{
	unsigned i;

	for (i = 0; i < D42_MAX_PENDING; i++)
		if (d->pend[i].used && addr_eq(&d->pend[i].server, &g->server) &&
		    d->pend[i].port == g->port && d->pend[i].proto == g->proto)
			return &d->pend[i];
	return NULL;
}

/* The appliance does not know the server IP: keep the listener for later. */
static void d42_unmatched(struct d42 *d)
{
	struct d42_pending *p;
	unsigned i, oldest = 0;
	uint32_t k, j;
	char s[D42_ADDR_STR];

	d42_count(d, 0);
	if (d->cfg->live_nok)
		for (k = 0; k < d->g.ours; k++)
			d42_live(d, "nok", &d->g.clients[k], "(server unknown to the appliance)");
	if (d->g.from_pending) {
		p = &d->pend[d->g.from_pending - 1];
		if (++p->tries >= D42_PENDING_TRIES) {
			log_warn("device42: %s:%u still unknown to the appliance after %u "
				 "tries; dropped", addr_str(&p->server, s), p->port, p->tries);
			p->used = 0;
		}
		return;
	}
	p = pend_find(d, &d->g);
	if (!p) {
		for (i = 0; i < D42_MAX_PENDING && d->pend[i].used; i++)
			if (d->pend[i].age < d->pend[oldest].age)
				oldest = i;
		if (i == D42_MAX_PENDING) {
			log_warn("device42: unmatched-listener table full; dropping %s:%u",
				 addr_str(&d->pend[oldest].server, s), d->pend[oldest].port);
			i = oldest;
		}
		p = &d->pend[i];
		memset(p, 0, sizeof(*p));
		p->used = 1;
		p->server = d->g.server;
		p->port = d->g.port;
		p->proto = d->g.proto;
		p->age = ++d->pend_age;
	}
	for (k = 0; k < d->g.ours; k++) {
		for (j = 0; j < p->n && !addr_eq(&p->clients[j], &d->g.clients[k]); j++)
			;
		if (j == p->n && p->n < D42_PENDING_CLIENTS)
			p->clients[p->n++] = d->g.clients[k];
	}
}

/* Load the next due unmatched listener into d->g; 0, or -1 if none. */
static int d42_next_pending(struct d42 *d)
{
	struct d42_pending *p;

	while (d->pend_pos < D42_MAX_PENDING) {
		p = &d->pend[d->pend_pos++];
		if (!p->used)
			continue;
		memset(&d->g, 0, offsetof(struct d42_group, clients));
		d->g.server = p->server;
		d->g.port = p->port;
		d->g.proto = p->proto;
		d->g.from_pending = (int)(p - d->pend) + 1;
		memcpy(d->g.clients, p->clients, p->n * sizeof(p->clients[0]));
		d->g.n = d->g.ours = p->n;
		return 0;
	}
	return -1;
}

/* ---------------------------------------------------------------------- */
/* reading the spooled report */

/* One record of the report: client, server, port, protocol. */
static int d42_parse_record(struct d42 *d, struct d42_addr *client, struct d42_addr *server,
			    uint16_t *port, uint8_t *proto)
{
	struct json_tok t[D42_REC_TOKENS];
	struct json_limits lim = { D42_MAX_RECORD, D42_MAX_DEPTH };
	struct json_pos pos;
	char s[D42_ADDR_STR], p[8];
	long v;
	int n;

	n = json_parse(d->scan.rec, d->scan.len, &lim, t, D42_REC_TOKENS, &pos);
	if (n < 0)
		return -1;
	if (tok_str(d->scan.rec, t, tok_member(d->scan.rec, t, n, 0, "client"), s, sizeof(s)) < 0 ||
	    addr_parse(s, client) < 0)
		return -1;
	if (tok_str(d->scan.rec, t, tok_member(d->scan.rec, t, n, 0, "server"), s, sizeof(s)) < 0 ||
	    addr_parse(s, server) < 0 || server->family != client->family)
		return -1;
	if (tok_int(d->scan.rec, t, tok_member(d->scan.rec, t, n, 0, "port"), &v) < 0 ||
	    v < 0 || v > UINT16_MAX)
		return -1;
	*port = (uint16_t)v;
	if (tok_str(d->scan.rec, t, tok_member(d->scan.rec, t, n, 0, "protocol"), p, sizeof(p)) < 0)
		return -1;
	if (!strcmp(p, "tcp"))
		*proto = 6;
	else if (!strcmp(p, "udp"))
		*proto = 17;
	else
		return -1;
	/* Port 0 is no service (a scan or a forged packet reaches it): the
	 * appliance has no listener for it. Skipped, not the report. */
	return v == 0;
}

/* Next record from the spool: 1 got one, D42_REC_SKIPPED read one that
 * names no listener (port 0: counted), 0 end of report, -1 corrupt,
 * SPOOL_ERR_AGAIN (errno set) not readable now. */
static int d42_next_record(struct d42 *d, struct d42_addr *client, struct d42_addr *server,
			   uint16_t *port, uint8_t *proto)
{
	size_t used;
	ssize_t n;
	int r;

	for (;;) {
		if (d->chunk_off == d->chunk_len) {
			if (d->eof)
				return d->scan.depth ? -1 : 0;
			n = spool_read(d->sp, d->chunk, sizeof(d->chunk));
			if (n == SPOOL_ERR_AGAIN || n == SPOOL_ERR_GONE)
				return (int)n;	/* the file is fine; dropped */
			if (n < 0) {
				log_warn("device42: spooled report %llx: %s",
					 (unsigned long long)d->seq, spool_strerror((int)n));
				return -1;
			}
			if (n == 0) {
				d->eof = 1;
				continue;
			}
			d->chunk_len = (size_t)n;
			d->chunk_off = 0;
		}
		r = d42_scan_feed(&d->scan, d->chunk + d->chunk_off, d->chunk_len - d->chunk_off, &used);
		d->chunk_off += used;
		if (r < 0)
			return -1;
		if (r == D42_SCAN_RECORD) {
			r = d42_parse_record(d, client, server, port, proto);
			d->scan.len = 0;
			if (r > 0) {
				d->g.unusable++;	/* see d42_count() */
				return D42_REC_SKIPPED;
			}
			return r < 0 ? -1 : 1;
		}
	}
}

/* Collect the next listener's clients into d->g, D42_FILL_BATCH records at
 * a time. 1: a group is ready; 2: not yet (call again); 0: the report is
 * finished; -1: it is corrupt; SPOOL_ERR_AGAIN: not readable now;
 * SPOOL_ERR_GONE: dropped from the spool meanwhile. */
static int d42_fill_group(struct d42 *d)
{
	struct d42_addr client, server;
	uint16_t port;
	uint8_t proto;
	uint32_t k;
	int r;

	if (!d->filling) {
		memset(&d->g, 0, offsetof(struct d42_group, clients));
		d->filling = 1;
		if (d->have_next) {
			d->have_next = 0;
			d->g.server = d->next_server;
			d->g.port = d->next_port;
			d->g.proto = d->next_proto;
			add_own_client(&d->g, &d->next_client);
		}
	}
	for (k = 0; k < D42_FILL_BATCH; k++) {
		r = d42_next_record(d, &client, &server, &port, &proto);
		if (r < 0)
			return r == SPOOL_ERR_AGAIN || r == SPOOL_ERR_GONE ? r : -1;
		if (r == 0)
			break;
		if (r == D42_REC_SKIPPED)	/* counts to the batch all the same */
			continue;
		if (d->g.n && (!addr_eq(&server, &d->g.server) || port != d->g.port ||
			       proto != d->g.proto)) {
			d->have_next = 1;
			d->next_client = client;
			d->next_server = server;
			d->next_port = port;
			d->next_proto = proto;
			break;
		}
		d->g.server = server;
		d->g.port = port;
		d->g.proto = proto;
		add_own_client(&d->g, &client);
	}
	if (k == D42_FILL_BATCH)
		return 2;
	d->filling = 0;
	d->g.ours = d->g.n;
	return d->g.n ? 1 : 0;
}

/* ---------------------------------------------------------------------- */
/* replies */

/* The token of the list `name` a lookup's reply must have. Without it the
 * reply is not the answer we know, and asking again would get the same:
 * the listener is left out this time (logged), -1. */
static int d42_reply_list(struct d42 *d, const struct http_response *r, int n,
			  const char *what, const char *name)
{
	const char *js = (const char *)r->body;
	char ip[D42_ADDR_STR];
	int arr = tok_member(js, d->toks, n, 0, name);

	if (arr >= 0 && d->toks[arr].type == JSON_ARRAY)
		return arr;
	log_warn("device42: %s: the reply has no \"%s\" list; %s:%u not updated this time: %.*s",
		 what, name, addr_str(&d->g.server, ip), d->g.port,
		 d42_excerpt_len(r), js);
	d42_leave_out(d);
	return -1;
}

static void d42_on_resolve(struct d42 *d, const struct http_response *r)
{
	const char *js = (const char *)r->body;
	struct d42_addr a;
	char ip[D42_ADDR_STR], dev[D42_MAX_DEVICE];
	int n, arr, i, k, t, found = 0, too_long = 0, too_big = 0;

	if (d42_lookup_refusal(d, r, "IP lookup") || d42_check_status(d, r, "IP lookup") < 0)
		return;
	n = d42_parse_reply(d, r, "IP lookup", &too_big);
	if (too_big) {
		log_warn("device42: IP lookup of %s: the reply is more than %u JSON values; "
			 "%s:%u not updated this time", addr_str(&d->g.server, ip), D42_MAX_TOKENS,
			 addr_str(&d->g.server, ip), d->g.port);
		d42_leave_out(d);
		return;
	}
	if (n < 0 || d42_lookup_failed(d, r, n, "IP lookup"))
		return;
	/* Taking the device for one the appliance does not know would hold
	 * its listeners as such. */
	if ((arr = d42_reply_list(d, r, n, "IP lookup", "ips")) < 0)
		return;
	i = arr + 1;
	for (k = 0; k < (int)d->toks[arr].size && i < n && !found; k++) {
		if (!tok_str(js, d->toks, tok_member(js, d->toks, n, i, "ip"), ip, sizeof(ip)) &&
		    !addr_parse(ip, &a) && addr_eq(&a, &d->g.server)) {
			t = tok_member(js, d->toks, n, i, "device");
			found = !tok_str(js, d->toks, t, dev, sizeof(dev)) && dev[0];
			too_long |= !found && t >= 0 && d->toks[t].type == JSON_STRING &&
				    d->toks[t].end - d->toks[t].start >= sizeof(dev);
		}
		i = (int)d->toks[i].next;
	}
	/* Not to be mistaken for a device the appliance does not know. */
	if (!found && too_long)
		log_warn("device42: the appliance's name for the device of %s is longer than "
			 "%u bytes: its listeners are held as if it had none",
			 addr_str(&d->g.server, ip), D42_MAX_DEVICE - 1);
	cache_put(d, &d->g.server, found ? dev : NULL);
	if (!found) {
		d42_unmatched(d);
		d->st = d->g.from_pending ? ST_IDLE : ST_SCAN;
		return;
	}
	snprintf(d->device, sizeof(d->device), "%s", dev);
	d->device_cached = 0;
	d42_req_read(d, 0);
}

/* Add the appliance's remote_ips (array of strings, or one comma list).
 * -1 if they could not be read: posting without them could shrink the
 * appliance's list, so the caller must not post this listener. */
static int d42_merge_remote(struct d42 *d, const char *js, int v)
{
	char ip[D42_ADDR_STR], *tok, *save;
	struct d42_addr a;
	int i, k;

	if (v < 0)
		return 0;
	if (d->toks[v].type == JSON_STRING) {
		/* The form buffer is free until the POST is built. */
		if (json_str_decode(js, &d->toks[v], d->form, sizeof(d->form)) < 0)
			return -1;
		for (tok = strtok_r(d->form, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
			if (addr_parse(tok, &a) < 0)
				return -1;
			add_client(&d->g, &a);
		}
		return 0;
	}
	if (d->toks[v].type != JSON_ARRAY)
		return d->toks[v].type == JSON_NULL ? 0 : -1;
	/* An entry we cannot read would be missing from the POST: the
	 * appliance's list would shrink. */
	i = v + 1;
	for (k = 0; k < (int)d->toks[v].size; k++) {
		if (tok_str(js, d->toks, i, ip, sizeof(ip)) < 0 || addr_parse(ip, &a) < 0)
			return -1;
		add_client(&d->g, &a);
		i = (int)d->toks[i].next;
	}
	return 0;
}

/* A 4xx about the request itself, not about the login, the URL or the
 * rate: sending the same again cannot help. */
static int d42_is_refusal(int status)
{
	return status >= 400 && status <= 499 && status != 401 && status != 403 &&
	       status != 404 && status != 408 && status != 429;
}

/* Record i of a listing is this listener: its listening IP, and where the
 * record has them, its port, device (in any case: taken for another, a
 * record's remote IPs would shrink) and protocol ("TCP" or, as the
 * appliance stores it, 6). The query filters by port and device already,
 * but an appliance that ignores a filter must not have one listener's
 * clients posted to another, for good (nothing is ever removed). */
static int listing_is_ours(const struct d42 *d, const char *js, int n, int i)
{
	char s[D42_MAX_DEVICE];
	struct d42_addr a;
	uint64_t v;
	int t;

	if (tok_str(js, d->toks, tok_member(js, d->toks, n, i, "listening_ip"), s, sizeof(s)) < 0 ||
	    addr_parse(s, &a) < 0 || !addr_eq(&a, &d->g.server))
		return 0;
	if ((t = tok_member(js, d->toks, n, i, "port")) >= 0 &&
	    (tok_whole(js, d->toks, t, &v) < 0 || v != d->g.port))
		return 0;
	if ((t = tok_member(js, d->toks, n, i, "device_name")) >= 0 && d->toks[t].type != JSON_NULL &&
	    (tok_str(js, d->toks, t, s, sizeof(s)) < 0 || strcasecmp(s, d->device) != 0))
		return 0;
	if ((t = tok_member(js, d->toks, n, i, "protocol")) < 0 || d->toks[t].type == JSON_NULL)
		return 1;
	if (d->toks[t].type == JSON_NUMBER)
		return tok_whole(js, d->toks, t, &v) == 0 && v == d->g.proto;
	return tok_str(js, d->toks, t, s, sizeof(s)) == 0 && !strcasecmp(s, proto_upper(d->g.proto));
}

static void d42_on_read(struct d42 *d, const struct http_response *r)
{
	const char *js = (const char *)r->body;
	char ip[D42_ADDR_STR];
	int n, arr, i, k, too_big = 0, has_total;
	uint64_t total = 0;

	if (d42_is_refusal(r->status) || r->status == 404)
		cache_forget(d, &d->g.server);
	if (d42_lookup_refusal(d, r, "listener lookup") ||
	    d42_check_status(d, r, "listener lookup") < 0)
		return;
	n = d42_parse_reply(d, r, "listener lookup", &too_big);
	if (n < 0 && !too_big)
		return;
	if (too_big) {
		log_warn("device42: the appliance's listeners of %s are more than %u JSON "
			 "values; %s:%u not updated this time", d->device, D42_MAX_TOKENS,
			 addr_str(&d->g.server, ip), d->g.port);
		d42_leave_out(d);
		return;
	}
	if (d42_lookup_failed(d, r, n, "listener lookup"))
		return;
	/* Posting as if the appliance had no record would shrink its
	 * remote IPs. */
	if ((arr = d42_reply_list(d, r, n, "listener lookup", "service_ports")) < 0)
		return;
	for (i = arr + 1, k = 0; k < (int)d->toks[arr].size && i < n; k++) {
		if (listing_is_ours(d, js, n, i) &&
		    d42_merge_remote(d, js, tok_member(js, d->toks, n, i, "remote_ips")) < 0) {
			/* Retrying cannot make them readable: skip this
			 * listener rather than hold up every report. */
			log_warn("device42: cannot read the remote IPs the appliance has "
				 "for %s:%u; not updated this time", addr_str(&d->g.server, ip),
				 d->g.port);
			d42_leave_out(d);
			return;
		}
		i = (int)d->toks[i].next;
	}
	/* The listing comes in pages (limit/offset, total_count): this
	 * listener's record may be on a later one, and a POST without its
	 * remote_ips would shrink them. An empty page ends it (records
	 * deleted meanwhile), and so does the total, if it can be read. */
	has_total = tok_whole(js, d->toks, tok_member(js, d->toks, n, 0, "total_count"),
			      &total) == 0;
	if (d->toks[arr].size > 0 &&
	    (!has_total || (uint64_t)d->list_offset + d->toks[arr].size < total)) {
		if (++d->list_pages >= D42_MAX_PAGES ||
		    (uint64_t)d->list_offset + d->toks[arr].size > UINT32_MAX) {
			log_warn("device42: the appliance lists the listeners of %s on port %u in "
				 "more than %u pages; %s:%u not updated this time", d->device,
				 d->g.port, D42_MAX_PAGES, addr_str(&d->g.server, ip), d->g.port);
			d42_leave_out(d);
		} else {	/* a request that cannot start fails as usual */
			(void)d42_req_read(d, d->list_offset + d->toks[arr].size);
		}
		return;
	}
	if (d->g.truncated) {
		/* Posting what fits would drop some of the appliance's. */
		log_warn("device42: %s:%u: the appliance's remote IPs and ours are more than "
			 "the %u a POST carries; not updated this time",
			 addr_str(&d->g.server, ip), d->g.port, D42_MAX_CLIENTS);
		d42_leave_out(d);
		return;
	}
	if (d->g.cut)
		log_warn("device42: %s:%u: %u clients this interval; the %u past the first %u "
			 "are not sent", addr_str(&d->g.server, ip), d->g.port,
			 d->g.n + d->g.cut, d->g.cut, D42_MAX_CLIENTS);
	/* A form too large skips the listener; a request that could not
	 * start was handled as a failure already (d42_fail()). */
	if (d42_req_post(d) < 0 && d->st == ST_READ)
		d->st = d->g.from_pending ? ST_IDLE : ST_SCAN;
}

/* The appliance refuses this listener's POST as such (refusal: a 4xx that
 * is not about the login, the URL or the rate, or a 2xx whose "code" is not
 * 0): after D42_MAX_REFUSALS in a row retrying the report cannot help, and
 * would hold up every report behind it. 1 if the listener is left out now.
 * Anything else ends a run of refusals of this listener. */
static int d42_refused(struct d42 *d, int refusal, const char *why)
{
	char ip[D42_ADDR_STR];
	int same = d->refused_n && addr_eq(&d->refused_server, &d->g.server) &&
		   d->refused_port == d->g.port && d->refused_proto == d->g.proto;

	if (!refusal) {
		if (same)
			d->refused_n = 0;	/* taken, or failed otherwise */
		return 0;
	}
	cache_forget(d, &d->g.server);
	if (same) {
		d->refused_n++;
	} else {
		d->refused_n = 1;
		d->refused_server = d->g.server;
		d->refused_port = d->g.port;
		d->refused_proto = d->g.proto;
	}
	if (d->refused_n < D42_MAX_REFUSALS)
		return 0;
	log_err("device42: the appliance refused %s:%u (%s) %u times in a row; "
		"left out of this report", addr_str(&d->g.server, ip), d->g.port, why,
		d->refused_n);
	d->refused_n = 0;
	d42_leave_out(d);
	return 1;
}

/* The appliance took this listener's POST. Progress (a retry resumes
 * after this listener): a later one failing starts its backoff afresh. */
static void d42_post_accepted(struct d42 *d)
{
	uint32_t k;

	d42_ok(d);
	d42_count(d, 1);
	if (d->cfg->live_ok)
		for (k = 0; k < d->g.ours; k++)
			d42_live(d, "ok", &d->g.clients[k], NULL);
	if (d->g.from_pending) {
		d->pend[d->g.from_pending - 1].used = 0;
		d->st = ST_IDLE;
	} else {
		d->st = ST_SCAN;
	}
}

static void d42_on_post(struct d42 *d, const struct http_response *r)
{
	const char *js = (const char *)r->body;
	char why[D42_NUM_MAX + 8];
	int n = 0, ok2xx = r->status >= 200 && r->status < 300, coded;

	/* The API's errors come as a 2xx with a "code" other than 0 too
	 * (d42_coded()); a 2xx with no body (204) or no "code" is taken. */
	/* The device may be gone or renamed since its name was cached: ask
	 * again at the next attempt, as after a listing's 404. */
	if (r->status == 404)
		cache_forget(d, &d->g.server);
	if (ok2xx && r->body_len > 0 &&
	    (n = d42_parse_reply(d, r, "listener update", NULL)) < 0)
		return;
	coded = ok2xx && d42_coded(d, js, n, why, sizeof(why));
	if (!coded)
		snprintf(why, sizeof(why), "HTTP %d", r->status);
	if (d42_refused(d, coded || d42_is_refusal(r->status), why) ||
	    d42_check_status(d, r, "listener update") < 0)
		return;
	if (coded) {
		log_warn("device42: listener update refused (%s): %.*s", why,
			 d42_excerpt_len(r), js);
		d42_fail(d, 0);
		return;
	}
	d42_post_accepted(d);
}

/* Sample mode: the appliance refuses this report as such (a 413 for one
 * too large, say) D42_MAX_REFUSALS times in a row. Retrying cannot help and
 * would hold up every report behind it: it is set aside in the spool's
 * corrupt/ directory for the operator. 1 if it was set aside now. */
static int d42_sample_refused(struct d42 *d, const struct http_response *r)
{
	int same = d->refused_n && d->refused_seq == d->seq, rc;

	if (!d42_is_refusal(r->status)) {
		if (same)
			d->refused_n = 0;
		return 0;
	}
	d->refused_n = same ? d->refused_n + 1 : 1;
	d->refused_seq = d->seq;
	if (d->refused_n < D42_MAX_REFUSALS)
		return 0;
	log_err("device42: the appliance refused report %llx (HTTP %d) %u times in a row; "
		"setting it aside", (unsigned long long)d->seq, r->status, d->refused_n);
	rc = d42_set_aside(d, d->seq, "refused by the appliance");
	if (rc == SPOOL_ERR_AGAIN)
		return 1;	/* refused_n kept: the next refusal tries again */
	d->refused_n = 0;
	d->stats.reports_refused++;
	/* the failures were this report's: the next one starts afresh */
	d42_ok(d);
	d->st = ST_IDLE;
	return 1;
}

static void d42_sample_accepted(struct d42 *d)
{
	d42_ok(d);
	d42_close_reader(d);
	spool_remove(d->sp, d->seq);
	d->stats.reports_sent++;
	d->st = ST_IDLE;
}

static void d42_on_sample(struct d42 *d, const struct http_response *r)
{
	if (d42_sample_refused(d, r) || d42_check_status(d, r, "sample upload") < 0)
		return;
	d42_sample_accepted(d);
}

/* A 2xx whose body is over HTTP_MAX_BODY_BYTES, not read: asking again
 * cannot shrink it. A lookup's listener is left out this time, as for a
 * reply of too many values. A POST was carried out (its status says so;
 * only an API error "code" in that body goes unseen, and the API's are
 * small): sending it again would upload it twice, and loop for as long as
 * the appliance answers that way. */
static void d42_on_too_large(struct d42 *d, const struct http_response *r)
{
	char ip[D42_ADDR_STR];

	switch (d->st) {
	case ST_RESOLVE:
		log_warn("device42: IP lookup of %s: the reply is larger than %u bytes; "
			 "%s:%u not updated this time", addr_str(&d->g.server, ip),
			 HTTP_MAX_BODY_BYTES, addr_str(&d->g.server, ip), d->g.port);
		d42_leave_out(d);
		break;
	case ST_READ:
		log_warn("device42: the appliance's listing of %s on port %u is larger "
			 "than %u bytes; %s:%u not updated this time", d->device,
			 d->g.port, HTTP_MAX_BODY_BYTES, addr_str(&d->g.server, ip),
			 d->g.port);
		d42_leave_out(d);
		break;
	case ST_POST:
		log_warn("device42: listener update of %s:%u: HTTP %d with a body over %u "
			 "bytes, not read; taken as accepted", addr_str(&d->g.server, ip),
			 d->g.port, r->status, HTTP_MAX_BODY_BYTES);
		(void)d42_refused(d, 0, NULL);	/* ends a run of refusals */
		d42_post_accepted(d);
		break;
	case ST_SAMPLE:
		log_warn("device42: sample upload of report %llx: HTTP %d with a body over "
			 "%u bytes, not read; taken as accepted", (unsigned long long)d->seq,
			 r->status, HTTP_MAX_BODY_BYTES);
		if (d->refused_seq == d->seq)
			d->refused_n = 0;	/* ends a run of refusals */
		d42_sample_accepted(d);
		break;
	default:
		d42_fail(d, 0);
		break;
	}
}

/* ---------------------------------------------------------------------- */
/* the state machine */

static int d42_body_read(void *ctx, uint64_t off, void *buf, size_t cap);

/* Once per interval, restart the walk over the unmatched listeners: 1 if a
 * round was due (and begins now), 0 if not yet. */
static int d42_pending_round(struct d42 *d)
{
	if (d->now < d->pend_due)
		return 0;
	d->pend_due = d->now + (uint64_t)d->cfg->interval * MS_PER_SEC;
	d->pend_pos = 0;
	return 1;
}

/* Start the oldest report, or a round of unmatched retries. 0 started,
 * -1 nothing to do now. */
static int d42_start(struct d42 *d)
{
	struct spool_hdr h;
	int rc;

	if (d->pend_pos < D42_MAX_PENDING && d42_next_pending(d) == 0) {
		d->st = ST_RESOLVE;
		return 0;
	}
	if (spool_peek(d->sp, &h) < 0) {
		/* Spool empty: the unmatched get their retry once per interval. */
		if (d42_pending_round(d) && d42_next_pending(d) == 0) {
			d->st = ST_RESOLVE;
			return 0;
		}
		return -1;
	}
	d->seq = h.seq;
	rc = spool_reader_open(d->sp, h.seq);
	if (rc == SPOOL_ERR_AGAIN) {
		/* Says nothing about the report: keep it, try again later. */
		log_warn("device42: cannot read spooled report %llx now: %s",
			 (unsigned long long)h.seq, strerror(errno));
		d42_fail(d, 0);
		return -1;
	}
	/* Dropped by the spool meanwhile (its directory was removed): next. */
	if (rc == SPOOL_ERR_GONE && (spool_peek(d->sp, &h) < 0 || h.seq != d->seq))
		return 0;
	if (rc < 0) {
		log_warn("device42: cannot open spooled report %llx; moving it aside",
			 (unsigned long long)h.seq);
		return d42_set_aside(d, h.seq, "unreadable") == SPOOL_ERR_AGAIN ? -1 : 0;
	}
	d->reader_open = 1;
	if (d->sample) {
		d->rep_ok = d->rep_nok = 0;	/* a retry posts the report again */
		snprintf(d->path, sizeof(d->path), "%s", d->cfg->sample_path);
		d->st = ST_SAMPLE;
		d42_send(d, "POST", "application/json", NULL, h.payload_len, d42_body_read);
		return 0;
	}
	/* A retry reads the report again but resumes after the listeners
	 * already through, whose records stay counted. */
	if (d->resume_seq != h.seq) {
		d->resume_seq = h.seq;
		d->resume_groups = 0;
		d->rep_ok = d->rep_nok = 0;
	}
	d->group_idx = 0;
	d->filling = 0;
	d->eof = 0;
	d->chunk_len = d->chunk_off = 0;
	d->have_next = 0;
	d42_scan_init(&d->scan);
	d->st = ST_SCAN;
	return 0;
}

/* Sample mode: the HTTP client pulls the body from the spool. A retry on a
 * fresh connection starts again at offset 0: reopen the reader. */
static int d42_body_read(void *ctx, uint64_t off, void *buf, size_t cap)
{
	struct d42 *d = ctx;
	ssize_t n;

	if (off == 0) {
		d->body_bad = d->body_gone = 0;
		d42_close_reader(d);
		n = spool_reader_open(d->sp, d->seq);
		if (n < 0) {
			d->body_gone = n == SPOOL_ERR_GONE;
			return -1;
		}
		d->reader_open = 1;
	}
	n = spool_read(d->sp, buf, cap);
	if (n <= 0) {
		/* the header promised more, or the CRC failed (out of
		 * descriptors or memory: a send error, tried again later;
		 * pushed out of a full memory queue meanwhile: gone) */
		d->body_gone = n == SPOOL_ERR_GONE;
		d->body_bad = n != SPOOL_ERR_AGAIN && !d->body_gone;
		return -1;
	}
	return (int)n;
}

static void d42_report_done(struct d42 *d)
{
	d42_ok(d);
	d42_close_reader(d);
	spool_remove(d->sp, d->seq);
	d->stats.reports_sent++;
	d->stats.records_ok += d->rep_ok;
	d->stats.records_nok += d->rep_nok;
	d->st = ST_IDLE;
	/* After each report, the unmatched get a retry if one is due. */
	d42_pending_round(d);
}

void d42_step(struct d42 *d, short revents, uint64_t now_ms)
{
	const struct http_response *r;
	struct d42_cache_ent *e;
	int steps, rc, ok2xx;

	d->now = now_ms;
	for (steps = 0; steps < D42_MAX_STEPS; steps++) {
		if (d->busy) {
			rc = http_client_step(d->http, revents, now_ms);
			revents = 0;
			if (rc == HTTP_BUSY)
				return;
			d->busy = 0;
			if (rc != HTTP_DONE && d->body_gone) {
				/* As in ST_SCAN: the spool dropped it while it was
				 * being sent (logged and counted there); nothing
				 * to set aside, nothing failed. */
				log_info("device42: report %llx was dropped from the spool "
					 "while being delivered", (unsigned long long)d->seq);
				d->body_gone = 0;
				d42_close_reader(d);
				d->st = ST_IDLE;
				continue;
			}
			if (rc != HTTP_DONE && d->body_bad) {
				/* The spooled report failed its check while it was
				 * being sent: retrying cannot help. */
				log_warn("device42: spooled report %llx is damaged; moving it aside",
					 (unsigned long long)d->seq);
				d->body_bad = 0;
				if (d42_set_aside(d, d->seq, "damaged") == SPOOL_ERR_AGAIN)
					return;
				d->st = ST_IDLE;
				continue;
			}
			r = rc == HTTP_DONE ? http_client_response(d->http)
					    : http_client_too_large(d->http);
			ok2xx = r && r->status >= 200 && r->status < 300;
			if (rc != HTTP_DONE && ok2xx) {
				d42_on_too_large(d, r);
				continue;
			}
			if (rc != HTTP_DONE && r && !ok2xx) {
				/* An error page too large to read: its status and
				 * headers say what happened (a 503's Retry-After),
				 * as for any error answer; the body is only logged. */
				log_info("device42: %s %s: HTTP %d with a body over %u bytes, not read",
					 d->req.method, d->path, r->status, HTTP_MAX_BODY_BYTES);
			} else if (rc != HTTP_DONE) {
				log_warn("device42: %s %s: %s", d->req.method, d->path,
					 http_client_error(d->http));
				d42_fail(d, 0);
				return;
			}
			switch (d->st) {
			case ST_RESOLVE: d42_on_resolve(d, r); break;
			case ST_READ:    d42_on_read(d, r); break;
			case ST_POST:    d42_on_post(d, r); break;
			case ST_SAMPLE:  d42_on_sample(d, r); break;
			default:         break;
			}
			continue;
		}
		switch (d->st) {
		case ST_IDLE:
			if (now_ms < d->backoff_until || d42_start(d) < 0)
				return;
			break;
		case ST_SCAN:
			rc = d42_fill_group(d);
			if (rc == SPOOL_ERR_AGAIN) {
				log_warn("device42: cannot read spooled report %llx now: %s",
					 (unsigned long long)d->seq, strerror(errno));
				d42_fail(d, 0);
				return;
			} else if (rc == SPOOL_ERR_GONE) {
				/* Pushed out of a full memory queue while being
				 * delivered (the spool logged and counted it):
				 * nothing to set aside, nothing failed. */
				log_info("device42: report %llx was dropped from the spool "
					 "while being delivered", (unsigned long long)d->seq);
				d42_close_reader(d);
				d->st = ST_IDLE;
			} else if (rc < 0) {
				log_warn("device42: spooled report %llx is corrupt; moving it aside",
					 (unsigned long long)d->seq);
				if (d42_set_aside(d, d->seq, "damaged") == SPOOL_ERR_AGAIN)
					return;
				d->st = ST_IDLE;
			} else if (rc == 0) {
				d->rep_nok += d->g.unusable;	/* after the last listener */
				d42_report_done(d);
			} else if (rc == 2) {
				return;	/* more of this listener at the next step */
			} else if (d->group_idx++ >= d->resume_groups) {
				d->st = ST_RESOLVE;
			}	/* else through before this retry: on to the next */
			break;
		case ST_RESOLVE:
			/* A retry of an unmatched listener ignores the negative
			 * cache: asking again is its whole point. */
			e = cache_get(d, &d->g.server);
			if (e && e->known) {
				snprintf(d->device, sizeof(d->device), "%s", e->device);
				d->device_cached = 1;
				if (d42_req_read(d, 0) < 0)
					return;
			} else if (e && !d->g.from_pending) {
				d42_unmatched(d);
				d->st = ST_SCAN;
			} else if (d42_req_resolve(d) < 0) {
				return;
			}
			break;
		default:
			/* Waiting for a reply with no request in flight: a
			 * defect, which would spin the loop (timeout 0) for
			 * ever. Start the report again, after a backoff. */
			log_err("device42: state %d without a request; starting over", (int)d->st);
			d42_fail(d, 0);
			return;
		}
	}
}

/* ---------------------------------------------------------------------- */

struct d42 *d42_new(const struct config *cfg, struct spool *sp, char *err, size_t errsz)
{
	struct http_client_cfg hc;
	struct d42 *d;

	d = calloc(1, sizeof(*d));
	if (!d) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	d->cfg = cfg;
	d->sp = sp;
	d->sample = !strcmp(cfg->upload_mode, "sample");
	memset(&hc, 0, sizeof(hc));
	hc.url = cfg->host;
	hc.proxy = cfg->proxy;
	hc.user = cfg->user;
	hc.password = cfg->password;
	hc.ca_file = cfg->ca_file;
	hc.tls_fingerprint = cfg->tls_fingerprint;
	hc.verify_tls = cfg->verify_tls;
	/* One knob for the user; the whole request may take a few of them. */
	hc.connect_ms = hc.handshake_ms = hc.io_ms = cfg->timeout * (uint32_t)MS_PER_SEC;
	hc.total_ms = D42_TOTAL_TIMEOUTS * hc.io_ms;
	d->http = http_client_new(&hc, err, errsz);
	if (!d->http) {
		free(d);
		return NULL;
	}
	d->pend_pos = D42_MAX_PENDING;
	srand((unsigned)(uintptr_t)d ^ (unsigned)time(NULL));
	return d;
}

void d42_free(struct d42 *d)
{
	if (!d)
		return;
	d42_close_reader(d);
	http_client_free(d->http);
	free(d);
}

int d42_pollfd(const struct d42 *d, struct pollfd *pfd)
{
	if (!d->busy) {
		pfd->fd = -1;
		pfd->events = 0;
		return -1;
	}
	return http_client_pollfd(d->http, pfd);
}

int d42_timeout_ms(const struct d42 *d, uint64_t now_ms)
{
	struct spool_hdr h;

	if (d->busy)
		return http_client_timeout_ms(d->http, now_ms);
	if (d->st != ST_IDLE)
		return 0;
	if (spool_peek(d->sp, &h) == 0 || d->pend_pos < D42_MAX_PENDING)
		return now_ms >= d->backoff_until ? 0 : (int)(d->backoff_until - now_ms);
	return -1;
}

int d42_idle(const struct d42 *d)
{
	struct spool_hdr h;

	return !d->busy && d->st == ST_IDLE && spool_peek(d->sp, &h) < 0 &&
	       d->pend_pos >= D42_MAX_PENDING;
}

unsigned d42_failures(const struct d42 *d)
{
	return d->fails;
}

int d42_stuck(const struct d42 *d)
{
	return d->auth_refused || d->lookup_refused || d->fails >= D42_GIVE_UP_FAILURES;
}

void d42_get_stats(const struct d42 *d, struct d42_stats *st)
{
	unsigned i;

	*st = d->stats;
	st->pending = 0;
	for (i = 0; i < D42_MAX_PENDING; i++)
		st->pending += d->pend[i].used;
}
