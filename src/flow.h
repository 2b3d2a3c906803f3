/* Service-communication table: one record per (client IP, server IP, server
 * port, protocol) per interval, plus a table of known listeners that outlives
 * intervals. Both are fixed-size, open-addressed with a bounded probe window,
 * allocated once by flow_init(); when full, new keys are counted and dropped. */
#ifndef D42_FLOW_H
#define D42_FLOW_H

#include <stddef.h>
#include <stdint.h>
#include "decode.h"

#define FLOW_MAX_CLIENT_PORTS 8		/* distinct client ports kept per record */
#define FLOW_PROBE_WINDOW     64	/* slots examined per lookup, at most */
#define FLOW_EPHEMERAL_MIN    32768	/* Linux 32768-60999 and IANA 49152-65535 */
#define FLOW_MAX_ENTRIES      (1u << 24)	/* largest max_flows/max_listeners */
/* Index slots hold (tag << FLOW_SLOT_BITS) | (record number + 1), 0 = empty;
 * the tag (hash bits) spares most probes a look at the record itself. */
#define FLOW_SLOT_BITS        25
#define FLOW_TAG_BITS         (32 - FLOW_SLOT_BITS)

/* How the server side was decided; lower value = stronger evidence. */
enum flow_how {
	FLOW_HOW_SYN = 0,	/* saw the client's SYN */
	FLOW_HOW_SYNACK,	/* saw the server's SYN+ACK */
	FLOW_HOW_LISTENER,	/* (ip, port, proto) already a known listener */
	FLOW_HOW_WELLKNOWN,	/* one side is a well-known service port */
	FLOW_HOW_EPHEMERAL,	/* the other side's port is ephemeral */
	FLOW_HOW_LOWER_PORT,	/* fallback: lower port (then lower IP) */
	FLOW_HOW_COUNT
};

struct flow_key {
	uint8_t client[16], server[16];
	uint16_t port;		/* server port */
	uint8_t proto;		/* 6 or 17 */
	uint8_t family;		/* 4 or 6; 0 marks an empty slot */
};

/* What a cache hit reads and writes comes first (key to last_ns: 72
 * bytes, two cache lines wherever the record starts); the rest only
 * changes on the full path. */
struct flow_rec {
	struct flow_key key;
	uint8_t how;		/* enum flow_how, strongest seen */
	uint8_t nports;		/* entries used in cports */
	uint8_t ports_overflow;	/* more distinct client ports than kept */
	uint8_t gen;		/* interval last used in (t->gen); see flow_table */
	uint32_t pkts_c2s, pkts_s2c;
	uint64_t bytes_c2s, bytes_s2c;	/* IP-layer bytes */
	uint64_t last_ns, first_ns;	/* packet time, ns since the epoch */
	uint32_t conns;		/* client SYNs (connection attempts) */
	uint16_t cports[FLOW_MAX_CLIENT_PORTS];
};

struct flow_listener {
	uint8_t ip[16];
	uint16_t port;
	uint8_t proto;
	uint8_t family;		/* 0 marks an empty slot */
	uint64_t last_ns;	/* last time it was confirmed (SYN/SYN+ACK) */
};

/* Connection cache: one direct-mapped entry per (address, port) pair in
 * either direction, naming the record and which side is the server, so most
 * packets of a connection skip the listener lookups and the record index.
 * An entry holds only while the listener state it was decided under holds:
 * it is stamped with t->clock, which moves on at every reset and whenever a
 * listener comes alive (born[] keeps when, per hashed endpoint), and `valid`
 * bounds it by the expiry of the listener that decided. */
struct flow_conn {
	uint32_t rec;		/* record number + 1; 0 = empty */
	uint32_t stamp;		/* t->clock when filled; 0 = never valid */
	uint32_t valid;		/* last time unit (see flow.c) it may be used */
	uint16_t cport;		/* client port */
	uint8_t tag;		/* hash bits: most mismatches skip the record */
	uint8_t flags;		/* enum flow_how decided (never SYN/SYN+ACK),
				 * FLOW_CONN_SRV_HI: server = higher endpoint,
				 * FLOW_CONN_USED: for the victim search */
};
#define FLOW_CONN_HOW_MASK 0x07
#define FLOW_CONN_SRV_HI   0x08
#define FLOW_CONN_USED     0x10	/* hit since a victim search passed it */

struct flow_stats {
	uint64_t flow_drops;		/* new records refused: table full */
	uint64_t listener_drops;	/* new listeners refused: table full */
	uint32_t flows;			/* records in use this interval */
	uint32_t listeners;		/* listeners held; those expired
					 * are purged by flow_expire() */
};

/* Where a packet's connection sits in the cache (flow_update_held()'s stages). */
struct flow_probe {
	uint64_t es, ed, h;	/* endpoint values (source, destination), hash */
	struct flow_conn *set;
	uint32_t home[2];	/* index slots for a lookup the cache can't spare */
	uint32_t tags[2];	/* and their tags */
	uint8_t nhome;
	uint8_t dst_hi;		/* destination is the higher endpoint */
	uint8_t way;		/* where conn_find() starts: the way that
				 * the second stage saw the tag in */
	uint8_t tag;
};

/* Records are found through an open-addressed index of 32-bit slots and
 * taken from the front of recs (nused so far), so memory follows the records
 * actually used. They outlive their interval: a reset only moves gen on, and
 * a record of an earlier interval (gen differs) starts counting again when
 * its key comes back, so its connections' cache entries still hold. Records
 * of earlier intervals still unused are freed all at once (nfree, free_head)
 * when a new key finds no room. The interval's records are listed in
 * skeys[0..st.flows) (the low 32 bits of lo), sorted at the report. */
/* Sort key of one record: 12 bytes of (family, server, port, proto,
 * client) in the top 96 bits, all of an IPv4 key (an IPv6 key takes three
 * rounds, see flow_sorted()), and the record's number in the low 32. */
struct flow_sortkey {
	uint64_t hi, lo;
};

struct flow_table {
	struct flow_rec *recs;		/* nrecs = max_flows records */
	uint32_t *slot;			/* nslots index slots */
	struct flow_sortkey *skeys;	/* max_flows keys, for sorting */
	struct flow_listener *lsn;	/* nlsn slots */
	struct flow_conn *conn;		/* nconn entries, in conn_mem */
	void *conn_mem;
	uint32_t *born;			/* nborn clock values, see flow_conn */
	uint32_t nrecs, nslots, nlsn, nconn, nborn;	/* all but nrecs:
							 * powers of two */
	uint32_t nused;			/* records ever taken: recs[0..nused) */
	uint32_t nfree, free_head;	/* freed among them; a list through
					 * conns (record number + 1, 0 ends) */
	uint8_t gen;			/* this interval's, never 0 */
	uint32_t clock, reset_stamp;	/* see struct flow_conn */
	uint32_t interval_stamp;	/* clock at the interval's start: older
					 * entries have not added their client
					 * port and decision to its records */
	uint64_t conn_base_ns;		/* time origin of conn[].valid */
	uint64_t conn_latest;		/* latest packet time since the reset */
	int conn_base_set;
	uint32_t max_flows, max_listeners;	/* configured caps */
	uint64_t listener_ttl_ns;
	uint32_t probe_from;		/* flow_wants_probes() from this many
					 * records (tests may lower it) */
	uint64_t seed[2];		/* keyed hash: hostile keys can't collide at will */
	struct flow_stats st;
};

enum flow_result { FLOW_DROPPED = -1, FLOW_UPDATED = 0, FLOW_NEW = 1 };

/* Allocates everything (the only allocation this module ever does).
 * seed: random per process (tests may fix it). 0, or -1 if a size is 0 or
 * above FLOW_MAX_ENTRIES or memory is short. */
int flow_init(struct flow_table *t, uint32_t max_flows, uint32_t max_listeners,
	      uint32_t listener_ttl_s, uint64_t seed);
void flow_free(struct flow_table *t);

/* Account one decoded packet at time ts_ns. On FLOW_NEW/FLOW_UPDATED and
 * rec != NULL, *rec points at the record (valid until flow_reset), else is
 * NULL. Family not 4/6 or proto not TCP/UDP: FLOW_DROPPED, not counted. */
enum flow_result flow_update(struct flow_table *t, const struct pkt *p,
			     uint64_t ts_ns, struct flow_rec **rec);

/* Packets accounted together by flow_update_held(). */
struct flow_held {
	struct pkt p;
	struct flow_probe q;	/* flow_update_held()'s own */
	uint64_t ts;		/* ns since the epoch */
};

/* flow_update() of h[0..n), in that order, stage by stage over all of
 * them: no call per packet and stage, and their memory accesses overlap:
 * hash each and prefetch its cache set; once the records outgrow the
 * caches (flow_wants_probes(): a cache miss per packet otherwise), read
 * the sets and prefetch what they name (the record, or on a miss the
 * listener and index slots), then the records those slots name; update. */
void flow_update_held(struct flow_table *t, struct flow_held *h, uint32_t n);
/* 1 once the interval's records in use are many enough for the middle
 * stages to pay: fewer sit in the caches, and the stages cost more than
 * the misses they hide. */
int flow_wants_probes(const struct flow_table *t);
/* flow_update() as its first stage and the rest (for tests). */
void flow_probe(const struct flow_table *t, const struct pkt *p,
		struct flow_probe *q);
enum flow_result flow_update_probed(struct flow_table *t, const struct pkt *p,
				    const struct flow_probe *q, uint64_t ts_ns,
				    struct flow_rec **rec);

/* Number of records in use, sorted by (family, server, port, proto,
 * client) for flow_sorted_rec(). No allocation: the keys were sized by
 * flow_init(). */
uint32_t flow_sorted(struct flow_table *t);
/* The i-th record in that order (i below flow_sorted()'s count, until the
 * table changes); also asks for the one a few places on (sorted order is
 * random in memory). */
const struct flow_rec *flow_sorted_rec(const struct flow_table *t, uint32_t i);
/* Remove listeners not confirmed within the TTL as of now_ns, so that
 * st.listeners counts live ones (until then, expired ones may linger). */
void flow_expire(struct flow_table *t, uint64_t now_ns);
/* Start a new interval: no records in use (those of the ended one stay for
 * their keys' return, see flow_table), zero per-interval drop counters,
 * flow_expire() as of now_ns. */
void flow_reset(struct flow_table *t, uint64_t now_ns);
/* Live, the wall clock set back to now_ns (after a flow_reset()): listeners
 * last seen later count as seen now, so they expire a listener-ttl from
 * now instead of once the clock is back where it was. */
void flow_clock_back(struct flow_table *t, uint64_t now_ns);

/* This interval's record for key k (unused bytes zero), or NULL. */
struct flow_rec *flow_find(struct flow_table *t, const struct flow_key *k);
/* Full consistency check for tests and fuzzing (slow): 0 if intact. */
int flow_check(const struct flow_table *t);

/* How strongly a port says "server" when neither end is a known listener:
 * 0 not at all; FLOW_WK_RESERVED for 512-1023, which clients bind too
 * (NFS, rsh); FLOW_WK_SERVICE for the other system ports and the registered
 * ones in src/flow.c. The higher rank is the server. */
enum { FLOW_WK_RESERVED = 1, FLOW_WK_SERVICE = 2 };
int flow_is_wellknown(uint16_t port);
const char *flow_how_name(enum flow_how h);

#endif
