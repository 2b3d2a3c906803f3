/* Delivery to a Device42 appliance: takes the spool's reports oldest first
 * and, in "api" mode, turns each (server IP, port, protocol) with its
 * clients into the documented REST calls (resolve the IP's device, read the
 * listener, POST the union of remote IPs); in "sample" mode POSTs the whole
 * report document to sample-path. A report leaves the spool only when the
 * appliance accepted all of it. One request in flight; failures back off
 * exponentially with jitter. Driven by the caller's poll() loop. */
#ifndef D42_D42_H
#define D42_D42_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include "config.h"
#include "spool.h"

#define D42_MAX_DEVICE     256		/* device name bytes, with the NUL */
#define D42_CACHE_SIZE     1024		/* IP -> device entries (power of two) */
#define D42_CACHE_TTL_MS   (15 * 60 * 1000)	/* re-resolve a known IP after */
#define D42_NEG_TTL_MS     (60 * 1000)	/* re-ask about an unknown IP after */
#define D42_MAX_CLIENTS    2048		/* remote IPs in one listener POST */
#define D42_MAX_PENDING    256		/* unmatched listeners kept for retry */
#define D42_PENDING_CLIENTS 64		/* clients kept per unmatched listener */
#define D42_PENDING_TRIES  60		/* retries before an unmatched one is dropped */
#define D42_MAX_RECORD     4096		/* one communication record, bytes of JSON */
/* Form body: a client is at most 45 characters (IPv6 with a dotted tail),
 * 57 once its colons are %-encoded, 60 with the encoded comma; the other
 * fields fit in the rest. */
#define D42_FORM_PER_CLIENT 60
#define D42_MAX_FORM       (D42_MAX_CLIENTS * D42_FORM_PER_CLIENT + 1024)
#define D42_MAX_TOKENS     65536	/* tokens of one appliance reply */
#define D42_BACKOFF_MIN_MS 1000
#define D42_BACKOFF_MAX_MS (5 * 60 * 1000)
#define D42_AUTH_BACKOFF_MS (5 * 60 * 1000)	/* after 401/403 */
#define D42_RETRY_AFTER_MAX_MS (60 * 60 * 1000)	/* a Retry-After longer is cut to this */
#define D42_GIVE_UP_FAILURES 4		/* offline: consecutive failures before exit 3 */
#define D42_MAX_REFUSALS   3		/* 4xx answers in a row to one listener's
					 * POST before it is left out (< GIVE_UP) */

/* Streaming extractor of the communication records of a report: feed the
 * payload in pieces; each complete record object (the objects directly in
 * the array at depth 2) comes out whole. Self-contained and fuzzed. */
enum d42_scan_err { D42_SCAN_MORE = 0, D42_SCAN_RECORD = 1,
		    D42_SCAN_ERR_SYNTAX = -1, D42_SCAN_ERR_TOO_BIG = -2 };
struct d42_scan {
	unsigned depth;
	int in_str, esc;
	uint32_t kinds;		/* bit d set: container at depth d is an array */
	size_t len;		/* bytes of the record being collected */
	char rec[D42_MAX_RECORD];
};
void d42_scan_init(struct d42_scan *s);
/* Consumes bytes up to and including the end of the next record; *used says
 * how many. On D42_SCAN_RECORD, s->rec holds s->len bytes (the object). */
int d42_scan_feed(struct d42_scan *s, const char *buf, size_t len, size_t *used);

struct d42_stats {
	uint64_t reports_sent;		/* reports accepted and removed */
	uint64_t reports_refused;	/* sample mode: refused, set aside */
	uint64_t records_ok;		/* client->listener pairs accepted */
	uint64_t records_nok;		/* pairs for IPs the appliance does not know */
	uint64_t failures;		/* failed attempts (network, HTTP, API) */
	uint32_t pending;		/* unmatched listeners waiting for a retry */
};

struct d42;
/* Start-up: parses the URL, allocates everything. NULL with err set. */
struct d42 *d42_new(const struct config *cfg, struct spool *sp, char *err, size_t errsz);
void d42_free(struct d42 *d);
int d42_pollfd(const struct d42 *d, struct pollfd *pfd);	/* fd -1: none */
int d42_timeout_ms(const struct d42 *d, uint64_t now_ms);	/* -1: none */
void d42_step(struct d42 *d, short revents, uint64_t now_ms);
/* Nothing to send and nothing in flight. */
int d42_idle(const struct d42 *d);
/* Consecutive failed attempts (reset by any success). */
unsigned d42_failures(const struct d42 *d);
/* 1 after D42_GIVE_UP_FAILURES consecutive failures, a refused login or
 * a lookup refused as such (a 4xx, see d42.c): an offline run (-r) stops
 * waiting then. */
int d42_stuck(const struct d42 *d);
void d42_get_stats(const struct d42 *d, struct d42_stats *st);

#endif
