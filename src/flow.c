/* Service-communication table. See flow.h for the contract.
 *
 * Both tables are open-addressed with linear probing, limited to
 * FLOW_PROBE_WINDOW slots from a key's home slot, so every lookup and insert
 * is O(window) whatever the traffic. Lookups stop at the first empty slot.
 * That is valid because:
 *  - records are removed only in bulk, by rec_purge(), which rebuilds the
 *    index in place (or by rec_clear(), which empties it);
 *  - listeners are removed with backward-shift deletion, which moves later
 *    entries of the cluster back into the hole, so no key ever has an empty
 *    slot between its home and its position. Expired listeners stay in place
 *    until flow_reset() purges them; meanwhile an insert may take over an
 *    expired slot on its probe path (the slot stays occupied, chains stay
 *    intact) or, at the cap, delete one further in its window.
 * Slot counts are powers of two (index = hash & mask, no division), at
 * least twice the cap so that an empty slot always exists and clusters stay
 * short, and at least FLOW_PROBE_WINDOW so a window never wraps onto itself.
 * A cluster longer than the window refuses keys before the cap is reached:
 * at load 3/4 with a 32-slot window one key in 400 was (49,152 flows); at
 * load 2/3 with 64 slots, 161 of 11 million; at load <= 1/2 with 64 slots
 * none, checked at full caps of 2^16 to 2^24 records and listeners
 * (test_flow's test_full_before_refusing fills smaller ones).
 */
#include "flow.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

_Static_assert(sizeof(struct flow_key) == 36, "flow_key must have no padding");
_Static_assert(sizeof(struct flow_conn) * 4 == 64, "a conn set is one cache line");
_Static_assert(FLOW_HOW_COUNT - 1 <= FLOW_CONN_HOW_MASK, "how fits conn flags");
/* A hit's part of a record (see struct flow_rec): at most two lines from
 * any 8-byte aligned start (records are, and 104 bytes long). */
#define REC_HIT_BYTES 72
_Static_assert(offsetof(struct flow_rec, last_ns) + sizeof(uint64_t) <= REC_HIT_BYTES &&
	       sizeof(struct flow_rec) % sizeof(uint64_t) == 0,
	       "a cache hit's fields lead the record");

#define V4_ADDR_BYTES 4
#define V6_ADDR_BYTES 16
#define IPV6_MULTICAST_FIRST 0xff	/* ff00::/8 */
#define IPV4_CLASS_MASK      0xf0
#define IPV4_MULTICAST_BITS  0xe0	/* 224.0.0.0/4 */
#define IPV4_BCAST_OCTET     0xFF	/* last byte of a /24-or-wider broadcast */
#define TCP_SYN_ACK   (DEC_TCP_SYN | DEC_TCP_ACK)
#define NS_PER_SEC    1000000000ull
#define WELLKNOWN_MAX_SYSTEM 1023	/* IANA system ports are 1..1023 */
/* 512-1023: also where clients bind reserved ports (bindresvport: NFS,
 * rsh, rlogin), so they rank below the other service ports. */
#define WELLKNOWN_RESV_CLIENT_MIN 512
#define CONN_MIN_ENTRIES     64
#define CONN_WAYS            4	/* entries per set: one 64-byte cache line */
#define CONN_ALIGN           64
#define PROBE_SLOTS          4	/* index slots probe_slots() looks at */
/* Records in use (with a cache entry each) this large: probe ahead.
 * Fewer stay in the caches, where probing costs more than it hides; more
 * miss a 1 MiB L2 (and embedded cores have less). Measured (make bench
 * machine, AMD EPYC, L2 1 MiB, L3 32 MiB, 2026-11-27), CPU time without
 * and with probing: 100 flows 0.85 s and 1.05 s, 2,000 0.96 and 1.10,
 * 5,000 1.11 and 1.19, 7,500 about equal, 10,000 1.3-2.1 (from run to run
 * with the machine's load) and 1.1-1.3, a million three times as fast. The
 * records in use, not the table's size: a large table mostly empty is
 * small to the caches. That was with a stage per call; accounted together
 * (flow_update_held()), probing at 100 and 3,000 flows measured equal to
 * not probing (2026-11-29), for 36 more instructions a packet. */
#define PROBE_MIN_BYTES      (1u << 20)	/* about 8,700 records */
/* Records ahead a walk in sorted order asks for: a record takes a JSON
 * formatter about as long as a memory access. */
#define SORTED_AHEAD         8
#define TABLE_HUGE_PAGE      (2u << 20)	/* x86-64 and arm64 with 4 KiB pages */
#define TABLE_HUGE_MIN       (8u << 20)	/* smaller tables: not worth a hint */

/* FLOW_STAGE: the stages of a packet's update, inlined into
 * flow_update_held()'s loops: a call per packet and stage costs more than
 * the work of a hit. */
#if defined(__GNUC__) || defined(__clang__)
#define FLOW_PREFETCH(addr) __builtin_prefetch(addr)
#define FLOW_STAGE static inline __attribute__((always_inline))
#else
#define FLOW_PREFETCH(addr) ((void)(addr))
#define FLOW_STAGE static inline
#endif

/* Bits of the connection hash: the set from bit 32 up (at most 22 bits),
 * the victim search's start and the tag from bits above it. Not the low
 * bits: for endpoints that differ only in address (many clients from one
 * port, as NTP's 123 to 123), those followed the set, so every entry of a
 * set had one tag and evicted the others as "the same connection". */
#define CONN_VICTIM_SHIFT    54
#define CONN_TAG_SHIFT       56
_Static_assert((1ull << (CONN_VICTIM_SHIFT - 32)) * CONN_WAYS >= FLOW_MAX_ENTRIES,
	       "the set's bits end below the victim's and the tag's");
#define CONN_TIME_SHIFT      20	/* conn valid times count 2^20 ns (~1 ms) */
#define CONN_FOREVER         UINT32_MAX	/* valid while no listener is born */
/* Entries outlive intervals, their times counted from conn_base_ns: start
 * again (entries go stale) when that is half-way to conn_time()'s 2^32
 * units, about 26 days, so that a months-long run keeps its cache. */
#define CONN_REBASE_NS       ((uint64_t)1 << (31 + CONN_TIME_SHIFT))
#define REC_NO_SLOT          UINT32_MAX	/* rec_new(): no empty slot in window */
#define CONN_BORN_PER_LSN    2	/* born[] slots per listener: sparse, so
				 * few entries end for another's listener */

/* Odd 64-bit multipliers (splitmix64 / murmur3 finalizer constants). */
#define MIX_K0 0x9e3779b97f4a7c15ull
#define MIX_K1 0xbf58476d1ce4e5b9ull
#define MIX_K2 0x94d049bb133111ebull

/* Registered ports of common server software that counts as "well-known"
 * besides 1..1023. Sorted: looked up by binary search. */
static const uint16_t wellknown_ports[] = {
	1194,	/* OpenVPN */
	1433,	/* Microsoft SQL Server */
	1521,	/* Oracle listener */
	1812,	/* RADIUS */
	1883,	/* MQTT */
	2049,	/* NFS */
	2181,	/* ZooKeeper */
	2379,	/* etcd */
	3268,	/* LDAP global catalog */
	3306,	/* MySQL */
	3389,	/* RDP */
	5060,	/* SIP */
	5432,	/* PostgreSQL */
	5672,	/* AMQP */
	5900,	/* VNC */
	5985,	/* WinRM HTTP */
	5986,	/* WinRM HTTPS */
	6379,	/* Redis */
	6443,	/* Kubernetes API */
	8080,	/* HTTP alternate */
	8443,	/* HTTPS alternate */
	9092,	/* Kafka */
	9200,	/* Elasticsearch */
	9418,	/* git */
	11211,	/* memcached */
	27017,	/* MongoDB */
};
#define WELLKNOWN_N (sizeof wellknown_ports / sizeof wellknown_ports[0])

static const char *const how_names[FLOW_HOW_COUNT] = {
	[FLOW_HOW_SYN] = "syn",
	[FLOW_HOW_SYNACK] = "synack",
	[FLOW_HOW_LISTENER] = "listener",
	[FLOW_HOW_WELLKNOWN] = "wellknown",
	[FLOW_HOW_EPHEMERAL] = "ephemeral",
	[FLOW_HOW_LOWER_PORT] = "lower_port",
};

int flow_is_wellknown(uint16_t port)
{
	size_t lo = 0, hi = WELLKNOWN_N;

	if (port >= WELLKNOWN_RESV_CLIENT_MIN && port <= WELLKNOWN_MAX_SYSTEM)
		return FLOW_WK_RESERVED;
	if (port <= WELLKNOWN_MAX_SYSTEM)
		return port != 0 ? FLOW_WK_SERVICE : 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (wellknown_ports[mid] == port)
			return FLOW_WK_SERVICE;
		if (wellknown_ports[mid] < port)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

const char *flow_how_name(enum flow_how h)
{
	if ((unsigned)h >= FLOW_HOW_COUNT)
		return "unknown";
	return how_names[h];
}

/* ---- keyed hash ---------------------------------------------------------
 * Each step is a bijection of the state (xor, odd multiply, xorshift), and
 * the state starts from the secret seed, so without the seed an attacker
 * cannot tell which keys share a slot. Not a MAC, but per-packet cheap. */

static inline uint64_t mix_step(uint64_t h, uint64_t w)
{
	h ^= w;
	h *= MIX_K0;
	return h ^ (h >> 32);
}

static inline uint64_t mix_final(uint64_t h)
{
	h ^= h >> 30;
	h *= MIX_K1;
	h ^= h >> 27;
	h *= MIX_K2;
	return h ^ (h >> 31);
}

static inline uint64_t load64(const uint8_t *p)
{
	uint64_t w;

	memcpy(&w, p, sizeof w);
	return w;
}

static inline uint64_t load32(const uint8_t *p)
{
	uint32_t w;

	memcpy(&w, p, sizeof w);
	return w;
}

/* c ? a : b, without a branch: per packet, the direction is a coin toss
 * that no branch predictor learns, and a miss costs more than this. One per
 * width, so that 32-bit targets do no 64-bit masking for ports and
 * pointers. */
static inline uint64_t pick64(int c, uint64_t a, uint64_t b)
{
	uint64_t m = (uint64_t)0 - (uint64_t)(c != 0);

	return (a & m) | (b & ~m);
}

static inline uint32_t pick32(int c, uint32_t a, uint32_t b)
{
	uint32_t m = 0u - (uint32_t)(c != 0);

	return (a & m) | (b & ~m);
}

static inline uintptr_t pick_ptr(int c, const void *a, const void *b)
{
	uintptr_t m = (uintptr_t)0 - (uintptr_t)(c != 0);

	return ((uintptr_t)a & m) | ((uintptr_t)b & ~m);
}

/* Hashing works on the fields, not on a key struct built per packet (that
 * would store bytes only to read them back at once: store-forward stalls).
 * An IPv4 address is its first 4 bytes; the rest is never looked at. */
static inline uint64_t mix_addr(uint64_t h, const uint8_t *a, uint8_t family)
{
	if (family == 4)
		return mix_step(h, load32(a));
	h = mix_step(h, load64(a));
	return mix_step(h, load64(a + sizeof(uint64_t)));
}

static inline uint64_t mix_tail(const struct flow_table *t, uint64_t h,
				uint16_t port, uint8_t proto, uint8_t family)
{
	uint64_t w = (uint64_t)port | (uint64_t)proto << 16 |
		     (uint64_t)family << 24;

	return mix_final(mix_step(h, w ^ t->seed[1]));
}

static inline uint64_t rec_hash(const struct flow_table *t,
				const uint8_t *client, const uint8_t *server,
				uint16_t port, uint8_t proto, uint8_t family)
{
	uint64_t h = mix_addr(t->seed[0], client, family);

	h = mix_addr(h, server, family);
	return mix_tail(t, h, port, proto, family);
}

static inline uint64_t rec_hash_key(const struct flow_table *t,
				    const struct flow_key *k)
{
	return rec_hash(t, k->client, k->server, k->port, k->proto, k->family);
}

#define SLOT_REC_MASK ((1u << FLOW_SLOT_BITS) - 1)

static inline uint32_t slot_tag(uint64_t h)
{
	return (uint32_t)(h >> (64 - FLOW_TAG_BITS));
}

static inline uint32_t lsn_home(const struct flow_table *t, const uint8_t *ip,
				uint16_t port, uint8_t proto, uint8_t family)
{
	uint64_t h = mix_addr(t->seed[0], ip, family);

	return (uint32_t)mix_tail(t, h, port, proto, family) & (t->nlsn - 1);
}

static inline uint32_t lsn_home_of(const struct flow_table *t,
				   const struct flow_listener *l)
{
	return lsn_home(t, l->ip, l->port, l->proto, l->family);
}

/* ---- set-up ------------------------------------------------------------ */

static uint64_t splitmix(uint64_t *s)
{
	*s += MIX_K0;
	return mix_final(*s);
}

static uint32_t pow2_at_least(uint32_t min, uint64_t want)
{
	uint32_t n = min;

	while (n < want)
		n <<= 1;
	return n;
}

/* Zeroed, and untouched until used (calloc hands large blocks over as fresh
 * pages). Large tables are looked up at random, so with a million flows
 * each packet would miss the TLB as well as the cache: ask for huge pages
 * there (a hint; ignored where unsupported). */
static void *table_alloc(size_t n, size_t size)
{
	void *p = calloc(n, size);
#ifdef MADV_HUGEPAGE
	uintptr_t lo, hi;

	if (p && n * size >= TABLE_HUGE_MIN) {
		lo = ((uintptr_t)p + TABLE_HUGE_PAGE - 1) & ~(uintptr_t)(TABLE_HUGE_PAGE - 1);
		hi = ((uintptr_t)p + n * size) & ~(uintptr_t)(TABLE_HUGE_PAGE - 1);
		if (hi > lo)
			(void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
	}
#endif
	return p;
}

/* Power of two >= 2 * max (load <= 1/2) and >= the probe window; always
 * more than max, so a cluster always ends in an empty slot. */
static uint32_t slots_for(uint32_t max)
{
	return pow2_at_least(FLOW_PROBE_WINDOW, 2 * (uint64_t)max);
}

int flow_init(struct flow_table *t, uint32_t max_flows, uint32_t max_listeners,
	      uint32_t listener_ttl_s, uint64_t seed)
{
	memset(t, 0, sizeof *t);
	if (max_flows == 0 || max_flows > FLOW_MAX_ENTRIES ||
	    max_listeners == 0 || max_listeners > FLOW_MAX_ENTRIES)
		return -1;
	t->nrecs = max_flows;
	t->nslots = slots_for(max_flows);
	t->nlsn = slots_for(max_listeners);
	/* One entry per record is enough: a collision only costs a lookup. */
	t->nconn = pow2_at_least(CONN_MIN_ENTRIES, max_flows);
	t->nborn = pow2_at_least(CONN_MIN_ENTRIES,
				 (uint64_t)max_listeners * CONN_BORN_PER_LSN);
	t->clock = t->reset_stamp = t->interval_stamp = 1;
	t->gen = 1;	/* records never used have gen 0 */
	t->max_flows = max_flows;
	t->max_listeners = max_listeners;
	t->listener_ttl_ns = (uint64_t)listener_ttl_s * NS_PER_SEC;
	t->probe_from = (PROBE_MIN_BYTES + sizeof *t->recs + sizeof *t->conn - 1) /
			(sizeof *t->recs + sizeof *t->conn);
	t->seed[0] = splitmix(&seed);
	t->seed[1] = splitmix(&seed);
	t->recs = table_alloc(t->nrecs, sizeof *t->recs);
	t->slot = table_alloc(t->nslots, sizeof *t->slot);
	t->skeys = calloc(max_flows, sizeof *t->skeys);
	t->lsn = table_alloc(t->nlsn, sizeof *t->lsn);
	t->conn_mem = table_alloc((size_t)t->nconn + CONN_WAYS, sizeof *t->conn);
	/* sets must not straddle cache lines; calloc aligns to 16 only */
	if (t->conn_mem)
		t->conn = (struct flow_conn *)(((uintptr_t)t->conn_mem + CONN_ALIGN - 1) &
					       ~(uintptr_t)(CONN_ALIGN - 1));
	t->born = table_alloc(t->nborn, sizeof *t->born);
	if (!t->recs || !t->slot || !t->skeys || !t->lsn ||
	    !t->conn || !t->born) {
		flow_free(t);
		return -1;
	}
	return 0;
}

void flow_free(struct flow_table *t)
{
	free(t->recs);
	free(t->slot);
	free(t->skeys);
	free(t->lsn);
	free(t->conn_mem);
	free(t->born);
	memset(t, 0, sizeof *t);
}

/* ---- connection cache -------------------------------------------------- */

/* Moves the clock on and returns it. When it would wrap, stamps taken
 * before could look current again: clear them all (once per 2^32). */
static uint32_t conn_tick(struct flow_table *t)
{
	if (++t->clock == UINT32_MAX) {
		memset(t->conn, 0, (size_t)t->nconn * sizeof *t->conn);
		memset(t->born, 0, (size_t)t->nborn * sizeof *t->born);
		t->clock = t->reset_stamp = t->interval_stamp = 1;
	}
	return t->clock;
}

/* One value per endpoint, the same whichever side sent the packet, so both
 * directions share an entry. IPv4: exact (address and port in 48 bits).
 * IPv6: a keyed digest; a tie between distinct endpoints only costs a
 * failed check against the record. */
static inline uint64_t conn_endpoint(const struct flow_table *t,
				     const uint8_t *a, uint16_t port,
				     uint8_t family)
{
	if (family == 4)
		return load32(a) << 16 | port;
	return mix_step(mix_step(t->seed[1] ^ port, load64(a)),
			load64(a + sizeof(uint64_t)));
}

static inline uint32_t *conn_born(const struct flow_table *t, uint64_t ep)
{
	return &t->born[(uint32_t)(((ep ^ t->seed[1]) * MIX_K0) >> 32) &
			(t->nborn - 1)];
}

/* Listener (ip, port) came alive: entries filled before no longer hold
 * for connections with that endpoint. */
static void conn_birth(struct flow_table *t, const uint8_t *ip, uint16_t port,
		       uint8_t family)
{
	uint32_t now = conn_tick(t);

	*conn_born(t, conn_endpoint(t, ip, port, family)) = now;
}

/* Keyed on the two endpoints in their fixed order, so both directions of
 * a connection find the same set. */
static inline uint64_t conn_hash(const struct flow_table *t, uint64_t lo,
				 uint64_t hi, uint8_t proto)
{
	uint64_t h = (lo ^ t->seed[0]) * MIX_K1;

	return (h ^ (h >> 32) ^ hi ^ ((uint64_t)proto << 56)) * MIX_K2;
}

static inline struct flow_conn *conn_set(const struct flow_table *t,
					 uint64_t h)
{
	uint32_t sets = t->nconn / CONN_WAYS;

	return &t->conn[((uint32_t)(h >> 32) & (sets - 1)) * CONN_WAYS];
}

/* Time in conn units since conn_base_ns; UINT32_MAX when too far out (it
 * then matches only entries valid for good). Before the base: UINT32_MAX
 * too, but callers refuse that case first. */
static inline uint32_t conn_time(const struct flow_table *t, uint64_t ts)
{
	uint64_t u = (ts - t->conn_base_ns) >> CONN_TIME_SHIFT;

	return u >= UINT32_MAX ? UINT32_MAX : (uint32_t)u;
}

/* ---- listeners --------------------------------------------------------- */

static inline int lsn_expired(const struct flow_table *t,
			      const struct flow_listener *l, uint64_t now)
{
	/* Timestamps may run backwards (merged captures): never expire then. */
	return now > l->last_ns && now - l->last_ns > t->listener_ttl_ns;
}

static inline size_t addr_len(uint8_t family)
{
	return family == 4 ? V4_ADDR_BYTES : V6_ADDR_BYTES;
}

/* Stored IPv4 entries have zero tails, so comparing alen bytes suffices. */
static inline int lsn_is(const struct flow_listener *l, const uint8_t *ip,
			 uint16_t port, uint8_t proto, uint8_t family)
{
	return l->port == port && l->proto == proto && l->family == family &&
	       memcmp(l->ip, ip, addr_len(family)) == 0;
}

/* The listener (ip, port, proto) if it has not expired as of now, or NULL. */
static const struct flow_listener *lsn_live(const struct flow_table *t,
					    uint8_t family, const uint8_t *ip,
					    uint16_t port, uint8_t proto,
					    uint64_t now)
{
	uint32_t mask = t->nlsn - 1, i = lsn_home(t, ip, port, proto, family);
	uint32_t n;

	for (n = 0; n < FLOW_PROBE_WINDOW; n++, i = (i + 1) & mask) {
		const struct flow_listener *l = &t->lsn[i];

		if (l->family == 0)
			return NULL;
		if (lsn_is(l, ip, port, proto, family))
			return lsn_expired(t, l, now) ? NULL : l;
	}
	return NULL;
}

/* Backward-shift deletion: pull later members of the cluster into the hole
 * when that keeps them on their probe path, then clear the final hole. */
static void lsn_delete(struct flow_table *t, uint32_t hole)
{
	uint32_t mask = t->nlsn - 1, j = hole, n;

	for (n = 1; n < t->nlsn; n++) {
		uint32_t dist, home;

		j = (j + 1) & mask;
		if (t->lsn[j].family == 0)
			break;
		dist = (j - hole) & mask;
		if (dist >= FLOW_PROBE_WINDOW)
			break;	/* nothing further can belong before hole */
		home = lsn_home_of(t, &t->lsn[j]);
		if (((j - home) & mask) >= dist) {
			t->lsn[hole] = t->lsn[j];
			hole = j;
		}
	}
	memset(&t->lsn[hole], 0, sizeof t->lsn[hole]);
	t->st.listeners--;
}

/* At the cap, with an empty slot at `hole` on the probe path from `home`:
 * free an expired listener further in the window and return the first empty
 * slot on the path (the deletion's shifts may have emptied an earlier one
 * when the cluster wraps round to the path), or NULL if none had expired. */
static struct flow_listener *lsn_reclaim(struct flow_table *t, uint32_t home,
					 uint32_t hole, uint32_t left,
					 uint64_t now)
{
	uint32_t mask = t->nlsn - 1, j = hole, n;

	while (left-- > 0) {
		j = (j + 1) & mask;
		if (t->lsn[j].family != 0 && lsn_expired(t, &t->lsn[j], now)) {
			lsn_delete(t, j);
			/* found by hole at the latest: it is still empty */
			for (n = 0, j = home; n < FLOW_PROBE_WINDOW;
			     n++, j = (j + 1) & mask)
				if (t->lsn[j].family == 0)
					return &t->lsn[j];
			return NULL;	/* not reached */
		}
	}
	return NULL;
}

/* Insert or refresh; at the cap, or with no empty slot in the window,
 * reuses the first expired slot on the probe path. */
static void lsn_learn(struct flow_table *t, uint8_t family, const uint8_t *ip,
		      uint16_t port, uint8_t proto, uint64_t now)
{
	struct flow_listener *slot = NULL, *reuse = NULL;
	uint32_t mask = t->nlsn - 1, home = lsn_home(t, ip, port, proto, family);
	uint32_t i = home, n;

	for (n = 0; n < FLOW_PROBE_WINDOW; n++, i = (i + 1) & mask) {
		struct flow_listener *l = &t->lsn[i];

		if (l->family == 0) {
			slot = l;
			break;
		}
		if (lsn_is(l, ip, port, proto, family)) {
			/* Alive again: as of now; or, a packet older than the
			 * newest moving last_ns on, as of the newest, where
			 * cached decisions took it for dead. */
			if (lsn_expired(t, l, now) ||
			    (now > l->last_ns && lsn_expired(t, l, t->conn_latest)))
				conn_birth(t, ip, port, family);
			if (now > l->last_ns)
				l->last_ns = now;
			return;
		}
		if (!reuse && lsn_expired(t, l, now))
			reuse = l;
	}
	/* Below the cap an empty slot comes first: an expired listener is
	 * still alive for packets older than its expiry (time running back)
	 * until the report clears it, and which one a new listener displaced
	 * would depend on the hash seed: the same capture, other records. */
	if (slot && t->st.listeners < t->max_listeners) {
		t->st.listeners++;
	} else if (reuse) {
		slot = reuse;	/* count unchanged: one out, one in */
	} else {
		if (slot)	/* at the cap */
			slot = lsn_reclaim(t, home, (uint32_t)(slot - t->lsn),
					   FLOW_PROBE_WINDOW - 1 - n, now);
		if (!slot) {
			t->st.listener_drops++;
			return;
		}
		t->st.listeners++;
	}
	conn_birth(t, ip, port, family);
	memset(slot, 0, sizeof *slot);
	memcpy(slot->ip, ip, addr_len(family));
	slot->port = port;
	slot->proto = proto;
	slot->family = family;
	slot->last_ns = now;
}

/* ---- records ----------------------------------------------------------- */

/* Every cached decision ends (see struct flow_conn): after the records
 * were renumbered, the clock set back, or conn times near their limit. */
static void conn_invalidate(struct flow_table *t)
{
	t->reset_stamp = conn_tick(t);
	t->conn_base_set = 0;
	t->conn_latest = 0;	/* no entry left that it protects */
}

/* r, zero but for its key, is in use this interval from now on. */
static inline void rec_list(struct flow_table *t, struct flow_rec *r)
{
	r->gen = t->gen;
	t->skeys[t->st.flows++].lo = (uint64_t)(r - t->recs);
}

/* r, of an earlier interval, is in use again, its counts from zero. */
static inline void rec_enlist(struct flow_table *t, struct flow_rec *r)
{
	memset((char *)r + offsetof(struct flow_rec, how), 0,
	       sizeof *r - offsetof(struct flow_rec, how));
	rec_list(t, r);
}

static inline uint32_t rec_home(const struct flow_table *t, const struct flow_rec *r)
{
	return (uint32_t)rec_hash_key(t, &r->key) & (t->nslots - 1);
}

/* Cache entries naming a record just freed go too. Its number will be
 * another key's, and conn_find() takes an entry only by checking the
 * packet against the record it names: another connection of the same set
 * and tag whose addresses and ports fit the new key (and the entry's
 * client port) would be counted there, with the old entry's decision.
 * Freed records are zero, gen included; t->gen never is. Entries older
 * than the last invalidation are never used (conn_stale()). */
static void conn_forget_freed(struct flow_table *t)
{
	struct flow_conn *c = t->conn, *end = t->conn + t->nconn;

	for (; c < end; c++)
		if (c->rec != 0 && c->stamp >= t->reset_stamp &&
		    (c->rec - 1 >= t->nused || t->recs[c->rec - 1].gen == 0))
			memset(c, 0, sizeof *c);
}

/* Frees the records of earlier intervals: out of the index, onto the free
 * list. The index is rebuilt in place, from an empty slot round the table:
 * each kept slot is taken out and put back from its home, which lands it
 * at or before where it was, never past an empty slot, since every slot
 * before it in its cluster has been dealt with. O(nslots + nconn), and
 * at most once an interval: nothing else goes out of use until the next
 * reset. */
static void rec_purge(struct flow_table *t)
{
	uint32_t mask = t->nslots - 1, start = 0, n, i, j, s;
	struct flow_rec *r;

	while (t->slot[start] != 0)	/* there is one: nslots > max_flows */
		start++;
	for (n = 1; n < t->nslots; n++) {
		i = (start + n) & mask;
		s = t->slot[i];
		if (s == 0)
			continue;
		t->slot[i] = 0;
		r = &t->recs[(s & SLOT_REC_MASK) - 1];
		if (r->gen != t->gen) {
			memset(r, 0, sizeof *r);
			r->conns = t->free_head;
			t->free_head = s & SLOT_REC_MASK;
			t->nfree++;
			continue;
		}
		for (j = rec_home(t, r); t->slot[j] != 0; j = (j + 1) & mask)
			;
		t->slot[j] = s;
	}
	conn_forget_freed(t);
}

/* Every record out, as every reset did before records outlived intervals. */
static void rec_clear(struct flow_table *t)
{
	memset(t->recs, 0, (size_t)t->nused * sizeof *t->recs);
	memset(t->slot, 0, (size_t)t->nslots * sizeof *t->slot);
	t->nused = t->nfree = t->free_head = 0;
	conn_invalidate(t);	/* entries name records */
}

/* The first empty slot of h's window, or REC_NO_SLOT. */
static uint32_t rec_empty_slot(const struct flow_table *t, uint64_t h)
{
	uint32_t mask = t->nslots - 1, i = (uint32_t)h & mask, n;

	for (n = 0; n < FLOW_PROBE_WINDOW; n++, i = (i + 1) & mask)
		if (t->slot[i] == 0)
			return i;
	return REC_NO_SLOT;
}

/* A record for k, not in the index, at slot `at` (or REC_NO_SLOT: the
 * window is full). Out of records or slots while records of earlier
 * intervals are idle: those are freed first. NULL if refused. */
static struct flow_rec *rec_new(struct flow_table *t, const struct flow_key *k,
				uint64_t h, uint32_t at, int *isnew)
{
	struct flow_rec *r;
	uint32_t num;

	if ((at == REC_NO_SLOT || (t->free_head == 0 && t->nused >= t->max_flows)) &&
	    t->nused - t->nfree > t->st.flows) {
		rec_purge(t);
		at = rec_empty_slot(t, h);
	}
	if (at == REC_NO_SLOT)
		return NULL;
	if (t->free_head != 0) {
		num = t->free_head;
		t->free_head = t->recs[num - 1].conns;
		t->recs[num - 1].conns = 0;
		t->nfree--;
	} else if (t->nused < t->max_flows) {
		num = ++t->nused;
	} else {
		return NULL;
	}
	r = &t->recs[num - 1];	/* zero: never used, or freed */
	r->key = *k;
	t->slot[at] = (slot_tag(h) << FLOW_SLOT_BITS) | num;
	rec_list(t, r);
	*isnew = 1;
	return r;
}

/* This interval's record for k, taken up again if of an earlier one, or a
 * new one (*isnew = 1 for both); NULL if refused. */
static inline struct flow_rec *rec_get(struct flow_table *t,
				       const struct flow_key *k, uint64_t h,
				       int *isnew)
{
	uint32_t mask = t->nslots - 1, i = (uint32_t)h & mask, n, s;
	uint32_t tag = slot_tag(h);
	struct flow_rec *r;

	for (n = 0; n < FLOW_PROBE_WINDOW; n++, i = (i + 1) & mask) {
		s = t->slot[i];
		if (s == 0)
			return rec_new(t, k, h, i, isnew);
		if (s >> FLOW_SLOT_BITS != tag)
			continue;
		r = &t->recs[(s & SLOT_REC_MASK) - 1];
		if (memcmp(&r->key, k, sizeof *k) == 0) {
			if (r->gen != t->gen) {
				rec_enlist(t, r);
				*isnew = 1;
			}
			return r;
		}
	}
	return rec_new(t, k, h, REC_NO_SLOT, isnew);
}

struct flow_rec *flow_find(struct flow_table *t, const struct flow_key *k)
{
	uint64_t h;
	uint32_t mask = t->nslots - 1, i, n, s;
	struct flow_rec *r;

	if (k->family == 0)
		return NULL;
	h = rec_hash_key(t, k);
	i = (uint32_t)h & mask;
	for (n = 0; n < FLOW_PROBE_WINDOW; n++, i = (i + 1) & mask) {
		s = t->slot[i];
		if (s == 0)
			return NULL;
		if (s >> FLOW_SLOT_BITS != slot_tag(h))
			continue;
		r = &t->recs[(s & SLOT_REC_MASK) - 1];
		if (memcmp(&r->key, k, sizeof *k) == 0)
			return r->gen == t->gen ? r : NULL;
	}
	return NULL;
}

/* Last conn time unit in which listener l is surely still live; 0 (do
 * not cache) when that is not even the first unit. Conservative: rounding
 * only ends the entry early. */
static uint32_t conn_until(const struct flow_table *t,
			   const struct flow_listener *l)
{
	uint64_t end = l->last_ns + t->listener_ttl_ns, u;

	if (end < l->last_ns)
		return CONN_FOREVER;	/* overflow: lsn_expired() never fires */
	if (end < t->conn_base_ns)
		return 0;
	u = (end - t->conn_base_ns) >> CONN_TIME_SHIFT;
	if (u == 0)
		return 0;
	return u - 1 >= CONN_FOREVER ? CONN_FOREVER - 1 : (uint32_t)(u - 1);
}

/* Multicast (224.0.0.0/4, ff00::/8) or an IPv4 broadcast: the limited one
 * or, the netmask unknown, any address ending in .255, the broadcast of a
 * /24 or wider subnet (NetBIOS, RIP, a LAN's most common); a host of a
 * wider subnet ending so only decides a choice that was arbitrary. */
static int addr_is_group(const uint8_t *a, uint8_t family)
{
	if (family == 6)
		return a[0] == IPV6_MULTICAST_FIRST;
	return (a[0] & IPV4_CLASS_MASK) == IPV4_MULTICAST_BITS ||
	       a[V4_ADDR_BYTES - 1] == IPV4_BCAST_OCTET;
}

/* Rule 3: no handshake flag. Sets *srv_dst (1: destination is the server)
 * and *valid, how long the answer holds while no listener comes alive:
 * CONN_FOREVER, a conn time unit, or 0 (not to be cached). */
static enum flow_how guess_server(const struct flow_table *t,
				  const struct pkt *p, uint64_t now,
				  size_t alen, int *srv_dst, uint32_t *valid)
{
	const struct flow_listener *ld, *ls;
	int wd, ws, ed, es, gd, gs;

	*valid = CONN_FOREVER;
	if (t->st.listeners) {
		ld = lsn_live(t, p->family, p->dst, p->dport, p->proto, now);
		ls = lsn_live(t, p->family, p->src, p->sport, p->proto, now);
		if (ld || ls) {
			*srv_dst = ld != NULL;
			/* Both listen: the destination wins, so the answer
			 * depends on the direction; the cache cannot hold it. */
			*valid = ld && ls ? 0 : conn_until(t, ld ? ld : ls);
			return FLOW_HOW_LISTENER;
		}
	}
	wd = flow_is_wellknown(p->dport);
	ws = flow_is_wellknown(p->sport);
	if (wd != ws) {	/* NFS: 2049 from a reserved port, 800 */
		*srv_dst = wd > ws;
		return FLOW_HOW_WELLKNOWN;
	}
	ed = p->dport >= FLOW_EPHEMERAL_MIN;
	es = p->sport >= FLOW_EPHEMERAL_MIN;
	if (ed != es) {
		*srv_dst = es;
		return FLOW_HOW_EPHEMERAL;
	}
	if (p->dport != p->sport) {
		*srv_dst = p->dport < p->sport;
	} else {
		/* Same port both ways (mDNS, NetBIOS, RIP): a group address
		 * never sends, so it is the server; else the lower address,
		 * so that replies agree. */
		gd = addr_is_group(p->dst, p->family);
		gs = addr_is_group(p->src, p->family);
		*srv_dst = gd != gs ? gd : memcmp(p->dst, p->src, alen) <= 0;
	}
	return FLOW_HOW_LOWER_PORT;
}

static inline void add_client_port(struct flow_rec *r, uint16_t port)
{
	unsigned i;

	for (i = 0; i < r->nports; i++)
		if (r->cports[i] == port)
			return;
	if (r->nports < FLOW_MAX_CLIENT_PORTS)
		r->cports[r->nports++] = port;
	else
		r->ports_overflow = 1;
}

/* Stored keys and decoded packets both have zero IPv4 tails. */
static inline int addr_eq(const uint8_t *a, const uint8_t *b, uint8_t family)
{
	if (family == 4)
		return load32(a) == load32(b);
	return load64(a) == load64(b) &&
	       load64(a + sizeof(uint64_t)) == load64(b + sizeof(uint64_t));
}

static inline int rec_is(const struct flow_rec *r, const uint8_t *cli,
			 const uint8_t *srv, uint16_t port, uint8_t proto,
			 uint8_t family)
{
	return r->key.port == port && r->key.proto == proto &&
	       r->key.family == family && addr_eq(r->key.client, cli, family) &&
	       addr_eq(r->key.server, srv, family);
}

/* What every packet adds; all a cache hit does. */
static inline void rec_count(struct flow_rec *r, const struct pkt *p,
			     uint64_t ts_ns, int srv_dst)
{
	/* Selected, not branched on (see pick64()). */
	uint32_t *pkts = (void *)((char *)r + pick32(srv_dst,
		offsetof(struct flow_rec, pkts_c2s), offsetof(struct flow_rec, pkts_s2c)));
	uint64_t *bytes = (void *)((char *)r + pick32(srv_dst,
		offsetof(struct flow_rec, bytes_c2s), offsetof(struct flow_rec, bytes_s2c)));

	if (ts_ns > r->last_ns)
		r->last_ns = ts_ns;
	*pkts += *pkts != UINT32_MAX;
	*bytes += p->ip_len;
}

/* The full path. A hit needs no more than rec_count(): its entry was
 * filled by one of the record's packets, with the how it carries (never
 * a SYN's), and it is never older than that one (see flow_update_probed()),
 * so neither how, first_ns nor conns can change. */
static inline void rec_account(struct flow_rec *r, const struct pkt *p,
			       uint64_t ts_ns, enum flow_how how, int srv_dst)
{
	if (how < r->how)
		r->how = (uint8_t)how;
	if (ts_ns < r->first_ns)
		r->first_ns = ts_ns;
	if (how == FLOW_HOW_SYN && r->conns != UINT32_MAX)
		r->conns++;
	rec_count(r, p, ts_ns, srv_dst);
}

/* Filled before the last reset or before a listener was born on either
 * endpoint: no longer holds. (stamp == clock, the common case, is fresh.) */
static int conn_stale(const struct flow_table *t, const struct flow_conn *c,
		      const struct flow_probe *q)
{
	return c->stamp < t->reset_stamp || *conn_born(t, q->es) > c->stamp ||
	       *conn_born(t, q->ed) > c->stamp;
}

/* The first hit this interval on an entry filled in an earlier one: what
 * the full path would add for this packet beyond rec_count() (the entry
 * holds that path's decision, never a SYN's, and the client port), to a
 * record of this interval or of an earlier one, then in use again
 * (FLOW_NEW). Holding now, the entry is stamped as if filled now. */
__attribute__((noinline))	/* rare: off the hit path */
static enum flow_result conn_renew(struct flow_table *t, struct flow_rec *r,
				   struct flow_conn *c, uint64_t ts_ns)
{
	enum flow_result res = FLOW_UPDATED;
	uint8_t how = c->flags & FLOW_CONN_HOW_MASK;

	if (r->gen != t->gen) {
		rec_enlist(t, r);
		r->how = how;
		r->first_ns = r->last_ns = ts_ns;
		res = FLOW_NEW;
	} else if (how < r->how) {
		r->how = how;
	}
	add_client_port(r, c->cport);
	c->stamp = t->clock;
	return res;
}

/* The cached entry for this packet, or NULL; it names the record. Every
 * hit is checked against the record (addresses, server port) and the entry
 * (client port), so a collision is only a miss. */
FLOW_STAGE struct flow_conn *conn_find(struct flow_table *t,
				       const struct pkt *p, uint64_t ts_ns,
				       const struct flow_probe *q, int *srv_dst)
{
	uint32_t now = conn_time(t, ts_ns), i;

	/* From the way probe_next() found: a hit is then one try. */
	for (i = 0; i < CONN_WAYS; i++) {
		struct flow_conn *c = &q->set[(q->way + i) & (CONN_WAYS - 1)];
		struct flow_rec *r;
		int sd;

		if (c->tag != q->tag || now > c->valid ||
		    (c->stamp != t->clock && conn_stale(t, c, q)))
			continue;
		sd = !!(c->flags & FLOW_CONN_SRV_HI) == q->dst_hi;
		r = &t->recs[c->rec - 1];
		if (c->cport == pick32(sd, p->sport, p->dport) &&
		    rec_is(r, (const uint8_t *)pick_ptr(sd, p->src, p->dst),
			   (const uint8_t *)pick_ptr(sd, p->dst, p->src),
			   (uint16_t)pick32(sd, p->dport, p->sport), p->proto, p->family)) {
			*srv_dst = sd;
			/* Tested first: most hits then store nothing, and
			 * the set's line stays clean. */
			if (!(c->flags & FLOW_CONN_USED))
				c->flags |= FLOW_CONN_USED;
			return c;
		}
	}
	return NULL;
}

/* Way to fill: one holding this tag (most likely this connection, gone
 * stale), else one unused since the last reset, else the first not hit
 * since a search last passed it ("second chance", from a pseudo-random
 * way). Ended connections keep their entries until evicted; a random
 * victim was as likely a live one, whose next packet then missed
 * (gencap's 10k-flow capture: 97,000 slow-path lookups a million packets
 * against 63,000 now). */
static struct flow_conn *conn_victim(const struct flow_table *t,
				     const struct flow_probe *q)
{
	struct flow_conn *set = q->set;
	uint32_t w, first = (uint32_t)(q->h >> CONN_VICTIM_SHIFT);

	for (w = 0; w < CONN_WAYS; w++)
		if (set[w].tag == q->tag)
			return &set[w];
	for (w = 0; w < CONN_WAYS; w++)
		if (set[w].stamp < t->reset_stamp)
			return &set[w];
	for (w = 0; w < CONN_WAYS; w++) {
		struct flow_conn *c = &set[(first + w) & (CONN_WAYS - 1)];

		if (!(c->flags & FLOW_CONN_USED))
			return c;
		c->flags &= (uint8_t)~FLOW_CONN_USED;
	}
	return &set[first & (CONN_WAYS - 1)];	/* all were hit: aged now */
}

/* Everything but a cache hit: handshakes, first packets, misses. */
static enum flow_result update_slow(struct flow_table *t, const struct pkt *p,
				    uint64_t ts_ns, const struct flow_probe *q,
				    struct flow_rec **rec)
{
	struct flow_key k;
	struct flow_rec *r;
	struct flow_conn *c;
	enum flow_how how;
	const uint8_t *cli, *srv;
	size_t alen = addr_len(p->family);
	uint32_t valid = 0;
	int srv_dst = 1, isnew = 0;
	uint16_t port;
	uint8_t hs;

	hs = p->proto == DEC_PROTO_TCP ? (p->tcp_flags & TCP_SYN_ACK) : 0;
	if (hs == DEC_TCP_SYN) {
		how = FLOW_HOW_SYN;
		lsn_learn(t, p->family, p->dst, p->dport, p->proto, ts_ns);
	} else if (hs == TCP_SYN_ACK) {
		how = FLOW_HOW_SYNACK;
		srv_dst = 0;
		lsn_learn(t, p->family, p->src, p->sport, p->proto, ts_ns);
	} else {
		how = guess_server(t, p, ts_ns, alen, &srv_dst, &valid);
	}

	cli = srv_dst ? p->src : p->dst;
	srv = srv_dst ? p->dst : p->src;
	port = srv_dst ? p->dport : p->sport;
	memset(&k, 0, sizeof k);
	memcpy(k.client, cli, alen);
	memcpy(k.server, srv, alen);
	k.port = port;
	k.proto = p->proto;
	k.family = p->family;

	r = rec_get(t, &k, rec_hash(t, cli, srv, port, p->proto, p->family),
		    &isnew);
	if (!r) {
		t->st.flow_drops++;
		return FLOW_DROPPED;
	}
	if (isnew) {
		r->how = (uint8_t)how;
		r->first_ns = r->last_ns = ts_ns;
	}
	rec_account(r, p, ts_ns, how, srv_dst);
	add_client_port(r, srv_dst ? p->sport : p->dport);
	/* Handshakes teach listeners and are rare: they never fill one.
	 * lsn_learn() above may have moved the clock: take it now. */
	if (valid != 0) {
		c = conn_victim(t, q);
		c->rec = (uint32_t)(r - t->recs) + 1;
		c->stamp = t->clock;
		c->valid = valid;
		c->cport = srv_dst ? p->sport : p->dport;
		c->tag = q->tag;
		c->flags = (uint8_t)(how | (srv_dst == q->dst_hi ? FLOW_CONN_SRV_HI : 0));
	}
	*rec = r;
	return isnew ? FLOW_NEW : FLOW_UPDATED;
}

static inline int pkt_usable(const struct pkt *p)
{
	/* | and &, not || and &&: one branch for the caller, not four */
	return ((p->family == 4) | (p->family == 6)) &
	       ((p->proto == DEC_PROTO_TCP) | (p->proto == DEC_PROTO_UDP));
}

static inline int pkt_syn(const struct pkt *p)
{
	return p->proto == DEC_PROTO_TCP && (p->tcp_flags & DEC_TCP_SYN);
}

int flow_wants_probes(const struct flow_table *t)
{
	return t->st.flows >= t->probe_from;
}

FLOW_STAGE void probe_first(const struct flow_table *t, const struct pkt *p,
			    struct flow_probe *q)
{
	uint64_t lo;

	q->es = conn_endpoint(t, p->src, p->sport, p->family);
	q->ed = conn_endpoint(t, p->dst, p->dport, p->family);
	q->dst_hi = q->ed > q->es;
	lo = pick64(q->dst_hi, q->es, q->ed);
	q->h = conn_hash(t, lo, lo ^ q->es ^ q->ed, p->proto);
	q->set = conn_set(t, q->h);
	q->tag = (uint8_t)(q->h >> CONN_TAG_SHIFT);
	q->nhome = 0;
	q->way = 0;
	FLOW_PREFETCH(q->set);
}

void flow_probe(const struct flow_table *t, const struct pkt *p,
		struct flow_probe *q)
{
	probe_first(t, p, q);
}

/* A record spans two or three cache lines (104 bytes, not aligned). */
static inline void prefetch_rec(const struct flow_rec *r)
{
	const char *b = (const char *)r;

	FLOW_PREFETCH(b);
	FLOW_PREFETCH(b + sizeof *r / 2);
	FLOW_PREFETCH(b + sizeof *r - 1);
}

/* What a cache hit uses of it: two lines (REC_HIT_BYTES). */
static inline void prefetch_rec_hit(const struct flow_rec *r)
{
	FLOW_PREFETCH(r);
	FLOW_PREFETCH((const char *)r + REC_HIT_BYTES - 1);
}

/* Index slot and tag where a lookup of this orientation starts. */
static void probe_home(const struct flow_table *t, const struct pkt *p,
		       int srv_dst, struct flow_probe *q)
{
	uint64_t h = srv_dst ? rec_hash(t, p->src, p->dst, p->dport, p->proto, p->family)
			     : rec_hash(t, p->dst, p->src, p->sport, p->proto, p->family);

	q->home[q->nhome] = (uint32_t)h & (t->nslots - 1);
	q->tags[q->nhome] = slot_tag(h);
	FLOW_PREFETCH(&t->slot[q->home[q->nhome]]);
	q->nhome++;
}

/* The records the index slots name (a few slots on: clusters are short at
 * load <= 1/2). */
static void probe_slots(const struct flow_table *t, const struct flow_probe *q)
{
	uint32_t w, n, i, s;

	for (n = 0; n < q->nhome; n++)
		for (w = 0, i = q->home[n]; w < PROBE_SLOTS; w++, i = (i + 1) & (t->nslots - 1)) {
			s = t->slot[i];
			if (s == 0)
				break;
			if (s >> FLOW_SLOT_BITS == q->tags[n]) {
				prefetch_rec(&t->recs[(s & SLOT_REC_MASK) - 1]);
				break;
			}
		}
}

/* The set is in cache now. A hit needs its record; a miss will look up
 * listeners (rule 3) or learn one (handshakes), and the index in one
 * orientation or, undecided yet, both (probe_slots()). */
FLOW_STAGE void probe_next(const struct flow_table *t, const struct pkt *p,
			   struct flow_probe *q)
{
	uint32_t w;
	uint8_t hs;

	/* q->nhome is 0 (probe_first()); probe_home() fills at most two.
	 * An unusable packet only costs prefetches here: update_probed()
	 * refuses it. */
	hs = p->proto == DEC_PROTO_TCP ? (p->tcp_flags & TCP_SYN_ACK) : 0;
	if (!(hs & DEC_TCP_SYN))
		for (w = 0; w < CONN_WAYS; w++) {
			const struct flow_conn *c = &q->set[w];

			/* Filled before the last invalidation: a miss
			 * (conn_stale()) that needs the listeners, not a
			 * record. */
			if (c->tag == q->tag && c->stamp >= t->reset_stamp &&
			    c->rec - 1 < t->nused) {
				q->way = (uint8_t)w;
				prefetch_rec_hit(&t->recs[c->rec - 1]);
				if (c->stamp != t->clock) {	/* see conn_stale() */
					FLOW_PREFETCH(conn_born(t, q->es));
					FLOW_PREFETCH(conn_born(t, q->ed));
				}
				return;
			}
		}
	if (hs != TCP_SYN_ACK && (hs == DEC_TCP_SYN || t->st.listeners))
		FLOW_PREFETCH(&t->lsn[lsn_home(t, p->dst, p->dport, p->proto, p->family)]);
	if (hs != DEC_TCP_SYN && (hs == TCP_SYN_ACK || t->st.listeners))
		FLOW_PREFETCH(&t->lsn[lsn_home(t, p->src, p->sport, p->proto, p->family)]);
	if (hs != TCP_SYN_ACK)
		probe_home(t, p, 1, q);
	if (hs != DEC_TCP_SYN)
		probe_home(t, p, 0, q);
}

FLOW_STAGE enum flow_result update_probed(struct flow_table *t, const struct pkt *p,
					  const struct flow_probe *q, uint64_t ts_ns,
					  struct flow_rec **rec)
{
	struct flow_rec *r = NULL;
	struct flow_conn *c = NULL;
	enum flow_result res = FLOW_UPDATED;
	int srv_dst;

	if (!pkt_usable(p)) {
		if (rec)
			*rec = NULL;
		return FLOW_DROPPED;	/* caller bug: not counted */
	}
	if (!t->conn_base_set) {
		t->conn_base_ns = ts_ns;
		t->conn_base_set = 1;
	}
	/* A listener expired when an entry was filled may be alive at an
	 * earlier time: entries hold only for packets not older than any
	 * seen since they were filled. */
	if (!pkt_syn(p) && ts_ns >= t->conn_latest)
		c = conn_find(t, p, ts_ns, q, &srv_dst);
	if (ts_ns > t->conn_latest)
		t->conn_latest = ts_ns;
	if (c) {
		r = &t->recs[c->rec - 1];
		if (c->stamp < t->interval_stamp)
			res = conn_renew(t, r, c, ts_ns);
		rec_count(r, p, ts_ns, srv_dst);
	} else
		res = update_slow(t, p, ts_ns, q, &r);
	if (rec)
		*rec = r;
	return res;
}

enum flow_result flow_update_probed(struct flow_table *t, const struct pkt *p,
				    const struct flow_probe *q, uint64_t ts_ns,
				    struct flow_rec **rec)
{
	return update_probed(t, p, q, ts_ns, rec);
}

/* Stage by stage over all of them: when a stage comes back to a packet,
 * what the one before asked for has had the others' time to arrive.
 * Updates in arrival order; the earlier stages only read and prefetch
 * (their findings are hints the update checks), so the updates before
 * a packet's own cannot mislead it. */
void flow_update_held(struct flow_table *t, struct flow_held *h, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		probe_first(t, &h[i].p, &h[i].q);
	if (flow_wants_probes(t)) {
		for (i = 0; i < n; i++)
			probe_next(t, &h[i].p, &h[i].q);
		for (i = 0; i < n; i++)
			if (h[i].q.nhome)
				probe_slots(t, &h[i].q);
	}
	for (i = 0; i < n; i++)
		update_probed(t, &h[i].p, &h[i].q, h[i].ts, NULL);
}

enum flow_result flow_update(struct flow_table *t, const struct pkt *p,
			     uint64_t ts_ns, struct flow_rec **rec)
{
	struct flow_probe q;

	flow_probe(t, p, &q);
	return flow_update_probed(t, p, &q, ts_ns, rec);
}

/* ---- interval end ------------------------------------------------------ */

#define SORT_SMALL 16		/* insertion sort below this many keys */
#define SORT_STACK 64		/* > 2 * log2(FLOW_MAX_ENTRIES): pending ranges */
#define SORT_KEY_BYTES 12	/* of a record's key in one sort key (96 bits) */
#define SORT_LEVELS 3		/* sort keys to cover the longest (IPv6) key */
#define SORT_CANON_BYTES (SORT_LEVELS * SORT_KEY_BYTES)
_Static_assert(SORT_KEY_BYTES == sizeof(uint64_t) + sizeof(uint32_t), "hi and lo's top");
_Static_assert(SORT_CANON_BYTES == sizeof(struct flow_key), "family..client, no more");

/* Big-endian loads, whatever the host's order (compilers make a byte swap
 * of them where there is one). */
static inline uint64_t be32_bytes(const uint8_t *p)
{
	return (uint64_t)p[0] << 24 | (uint64_t)p[1] << 16 | (uint64_t)p[2] << 8 | p[3];
}

static inline uint64_t be64_bytes(const uint8_t *p)
{
	return be32_bytes(p) << 32 | be32_bytes(p + 4);
}

/* The record's key as one string in report order (docs/REPORT.md): family,
 * server, port (big-endian), proto, client. IPv4 takes the first 12 bytes,
 * IPv6 all 36; the rest stays zero. */
static void canon_key(const struct flow_key *f, uint8_t s[SORT_CANON_BYTES])
{
	size_t alen = addr_len(f->family), o = 0;

	memset(s, 0, SORT_CANON_BYTES);
	s[o++] = f->family;
	memcpy(s + o, f->server, alen);
	o += alen;
	s[o++] = (uint8_t)(f->port >> 8);
	s[o++] = (uint8_t)f->port;
	s[o++] = f->proto;
	memcpy(s + o, f->client, alen);
}

/* Sort key `level` of a record: bytes [12 * level, 12 * level + 12) of its
 * canon_key() in the top 96 bits, its number in the low 32 (the low 32
 * bits of lo). Level 0 orders every IPv4 key; IPv6 keys tied there
 * (family and 11 server bytes) are sorted again by level 1 and then 2,
 * so no comparison ever reads a record. 16 bytes, not 24 or 40: less to
 * move and to hold. */
static void make_key(const struct flow_rec *r, uint32_t idx, unsigned level,
		     struct flow_sortkey *k)
{
	const struct flow_key *f = &r->key;
	uint8_t s[SORT_CANON_BYTES];
	const uint8_t *b;

	if (level == 0 && f->family == 4) {	/* the common case, directly */
		k->hi = (uint64_t)4 << 56 | be32_bytes(f->server) << 24 |
			(uint64_t)f->port << 8 | f->proto;
		k->lo = be32_bytes(f->client) << 32 | idx;
		return;
	}
	canon_key(f, s);
	b = s + level * SORT_KEY_BYTES;
	k->hi = be64_bytes(b);
	k->lo = be32_bytes(b + sizeof(uint64_t)) << 32 | idx;
}

static inline uint32_t key_idx(const struct flow_sortkey *k)
{
	return (uint32_t)k->lo;
}

/* Ties of the 96 key bits go by record number: any order would do (the
 * next level settles them), this one is cheap. */
static inline int key_lt(const struct flow_sortkey *a, const struct flow_sortkey *b)
{
	return a->hi < b->hi || (a->hi == b->hi && a->lo < b->lo);
}

static inline int key_tied(const struct flow_sortkey *a, const struct flow_sortkey *b)
{
	return a->hi == b->hi && (a->lo ^ b->lo) >> 32 == 0;
}

static void key_swap(struct flow_sortkey *a, struct flow_sortkey *b)
{
	struct flow_sortkey t = *a;

	*a = *b;
	*b = t;
}

static void key_sift(struct flow_sortkey *k, uint32_t root, uint32_t n)
{
	for (;;) {
		uint32_t c = 2 * root + 1;

		if (c >= n)
			return;
		if (c + 1 < n && key_lt(&k[c], &k[c + 1]))
			c++;
		if (!key_lt(&k[root], &k[c]))
			return;
		key_swap(&k[root], &k[c]);
		root = c;
	}
}

static void key_heapsort(struct flow_sortkey *k, uint32_t n)
{
	uint32_t i;

	for (i = n / 2; i-- > 0;)
		key_sift(k, i, n);
	for (i = n; i-- > 1;) {
		key_swap(&k[0], &k[i]);
		key_sift(k, 0, i);
	}
}

static void key_insertion(struct flow_sortkey *k, uint32_t n)
{
	uint32_t i, j;

	for (i = 1; i < n; i++) {
		struct flow_sortkey v = k[i];

		for (j = i; j > 0 && key_lt(&v, &k[j - 1]); j--)
			k[j] = k[j - 1];
		k[j] = v;
	}
}

/* Introsort: quicksort (median of three) on the smaller side first, an
 * explicit stack of pending ranges, heapsort for a range once its depth
 * budget is spent (O(n log n) whatever the keys). No recursion. */
static void key_sort(struct flow_sortkey *k, uint32_t n)
{
	struct { uint32_t lo, n, depth; } st[SORT_STACK];
	unsigned sp = 0, depth = 0;
	uint32_t lo = 0, i, j, m;

	for (m = n; m > 1; m >>= 1)
		depth += 2;
	for (;;) {
		while (n > SORT_SMALL) {
			struct flow_sortkey *a = k + lo, p;

			if (depth == 0) {
				key_heapsort(a, n);
				break;
			}
			depth--;
			m = n / 2;
			if (key_lt(&a[m], &a[0]))
				key_swap(&a[m], &a[0]);
			if (key_lt(&a[n - 1], &a[m])) {
				key_swap(&a[n - 1], &a[m]);
				if (key_lt(&a[m], &a[0]))
					key_swap(&a[m], &a[0]);
			}
			p = a[m];
			i = 0;
			j = n - 1;
			for (;;) {	/* Hoare: a[0] <= p <= a[n-1] are sentinels */
				while (key_lt(&a[i], &p))
					i++;
				while (key_lt(&p, &a[j]))
					j--;
				if (i >= j)
					break;
				key_swap(&a[i], &a[j]);
				i++;
				j--;
			}
			/* [0, j] and [j+1, n): push the larger, go on with the smaller */
			if (j + 1 < n - (j + 1)) {
				st[sp].lo = lo + j + 1; st[sp].n = n - (j + 1); st[sp].depth = depth;
				n = j + 1;
			} else {
				st[sp].lo = lo; st[sp].n = j + 1; st[sp].depth = depth;
				lo += j + 1;
				n -= j + 1;
			}
			sp++;
		}
		if (n <= SORT_SMALL)
			key_insertion(k + lo, n);
		if (sp == 0)
			return;
		sp--;
		lo = st[sp].lo;
		n = st[sp].n;
		depth = st[sp].depth;
	}
}

#define SORT_RADIX_BITS 8		/* bits per bucket pass: 256 buckets */
#define SORT_RADIX (1u << SORT_RADIX_BITS)
#define SORT_RADIX_MIN 1024		/* fewer keys: comparisons cost less */
#define SORT_RADIX_PASSES 2		/* at most, before the comparison sort */

static unsigned top_bit(uint64_t x)	/* x != 0 */
{
	unsigned b = 0;

	while (x >>= 1)
		b++;
	return b;
}

/* Bits [shift, shift + 8) of the key's top 96 (word 0: hi; 1: lo's top). */
static inline unsigned key_digit(const struct flow_sortkey *k, int word, unsigned shift)
{
	return (unsigned)(((word ? k->lo >> 32 : k->hi) >> shift) & (SORT_RADIX - 1));
}

/* Most significant digit first: the 8 bits from the highest one in which
 * the keys differ (above it they are all alike) put them in 256 buckets, in
 * place (American flag sort), and each bucket is sorted on its own. About
 * 30 instructions a key for a pass that spares the comparison sort 8 of
 * its ~log2(n) levels, at 13 or more each. */
static void key_radix(struct flow_sortkey *k, uint32_t n, unsigned passes)
{
	uint32_t count[SORT_RADIX], next[SORT_RADIX], i, b, at;
	uint64_t diff = 0;
	unsigned shift;
	int word = 0;

	if (n < SORT_RADIX_MIN || passes == 0) {
		key_sort(k, n);
		return;
	}
	for (i = 1; i < n; i++)
		diff |= k[i].hi ^ k[0].hi;
	if (diff == 0) {
		word = 1;
		for (i = 1; i < n; i++)
			diff |= (k[i].lo ^ k[0].lo) >> 32;
		if (diff == 0)	/* tied in all 96 bits: the next level orders them */
			return;
	}
	shift = top_bit(diff) < SORT_RADIX_BITS ? 0 : top_bit(diff) - (SORT_RADIX_BITS - 1);
	memset(count, 0, sizeof count);
	for (i = 0; i < n; i++)
		count[key_digit(&k[i], word, shift)]++;
	for (b = 0, at = 0; b < SORT_RADIX; b++) {
		next[b] = at;
		at += count[b];
	}
	/* Each key goes to its bucket's next free place, the one there moves
	 * on in turn; a bucket's place is filled once, so n swaps at most. */
	for (b = 0, at = 0; b < SORT_RADIX; b++) {
		at += count[b];
		while (next[b] < at) {
			struct flow_sortkey v = k[next[b]];
			unsigned d = key_digit(&v, word, shift);

			while (d != b) {
				struct flow_sortkey w = k[next[d]];

				k[next[d]++] = v;
				v = w;
				d = key_digit(&v, word, shift);
			}
			k[next[b]++] = v;
		}
	}
	for (b = 0, at = 0; b < SORT_RADIX; at += count[b++])
		if (count[b] > 1)
			key_radix(k + at, count[b], passes - 1);
}

/* Sorts k[0..n) by sort key `level`, then each run tied there by the next
 * level's keys (IPv6 only: an IPv4 key fits in level 0). Depth at most
 * SORT_LEVELS. */
static void sort_level(const struct flow_rec *recs, struct flow_sortkey *k,
		       uint32_t n, unsigned level)
{
	uint32_t i, j, r;

	key_radix(k, n, SORT_RADIX_PASSES);
	if (level + 1 == SORT_LEVELS)
		return;
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && key_tied(&k[i], &k[j]); j++)
			;
		if (j - i < 2)
			continue;
		for (r = i; r < j; r++)
			make_key(&recs[key_idx(&k[r])], key_idx(&k[r]), level + 1, &k[r]);
		sort_level(recs, k + i, j - i, level + 1);
	}
}

/* Sorts compact 16-byte keys (cache-friendly) instead of indices into the
 * 104-byte records (a cache miss per comparison with a big table). */
uint32_t flow_sorted(struct flow_table *t)
{
	uint32_t n = t->st.flows, i, r;

	for (i = 0; i < n; i++) {	/* the interval's list: see flow_table */
		r = key_idx(&t->skeys[i]);
		make_key(&t->recs[r], r, 0, &t->skeys[i]);
	}
	sort_level(t->recs, t->skeys, n, 0);
	return n;
}

const struct flow_rec *flow_sorted_rec(const struct flow_table *t, uint32_t i)
{
	if (i + SORTED_AHEAD < t->st.flows)
		prefetch_rec(&t->recs[key_idx(&t->skeys[i + SORTED_AHEAD])]);
	return &t->recs[key_idx(&t->skeys[i])];
}

void flow_expire(struct flow_table *t, uint64_t now_ns)
{
	uint32_t i = 0;

	/* A deletion may pull a later entry into slot i: look at i again.
	 * Entries only move backwards, never past slots already checked
	 * except by wrapping onto ones already known to be live. */
	while (i < t->nlsn) {
		struct flow_listener *l = &t->lsn[i];

		if (l->family != 0 && lsn_expired(t, l, now_ns))
			lsn_delete(t, i);
		else
			i++;
	}
}

void flow_reset(struct flow_table *t, uint64_t now_ns)
{
	t->st.flows = 0;
	t->interval_stamp = conn_tick(t);
	/* Records stay, and so do the cache entries naming them: a record's
	 * connections need no full path when it comes back, which with a
	 * million flows was a million packets after every report. gen has
	 * 8 bits: before it comes round to a record's again, all go. */
	if (++t->gen == 0) {
		rec_clear(t);
		t->gen = 1;
	} else if (t->conn_base_set && now_ns > t->conn_base_ns &&
		   now_ns - t->conn_base_ns >= CONN_REBASE_NS) {
		conn_invalidate(t);
	}
	t->st.flow_drops = 0;
	t->st.listener_drops = 0;
	flow_expire(t, now_ns);
}

void flow_clock_back(struct flow_table *t, uint64_t now_ns)
{
	uint32_t i;

	/* Decisions made under the listeners' old times end, so no birth
	 * needs telling; so do conn times counted from before the step. */
	conn_invalidate(t);
	for (i = 0; i < t->nlsn; i++)
		if (t->lsn[i].family != 0 && t->lsn[i].last_ns > now_ns)
			t->lsn[i].last_ns = now_ns;
}

/* ---- self-check -------------------------------------------------------- */

/* Slot `at` must be reachable from `home` within the window, no holes. */
static int chain_ok(uint32_t home, uint32_t at, uint32_t mask,
		    const uint8_t *fam0, size_t stride)
{
	uint32_t i = home, n;

	for (n = 0; n < FLOW_PROBE_WINDOW; n++, i = (i + 1) & mask) {
		if (i == at)
			return 1;
		if (fam0[(size_t)i * stride] == 0)
			return 0;
	}
	return 0;
}

static int rec_ok(const struct flow_rec *r)
{
	unsigned i, j;

	if ((r->key.family != 4 && r->key.family != 6) ||
	    (r->key.proto != DEC_PROTO_TCP && r->key.proto != DEC_PROTO_UDP) ||
	    r->how >= FLOW_HOW_COUNT || r->nports > FLOW_MAX_CLIENT_PORTS ||
	    (r->ports_overflow && r->nports != FLOW_MAX_CLIENT_PORTS) ||
	    r->first_ns > r->last_ns || r->pkts_c2s + (uint64_t)r->pkts_s2c == 0)
		return 0;
	for (i = 0; i < r->nports; i++)
		for (j = i + 1; j < r->nports; j++)
			if (r->cports[i] == r->cports[j])
				return 0;
	return 1;
}

int flow_check(const struct flow_table *t)
{
	const uint8_t *fam0;
	uint32_t i, j, used = 0, live = 0;
	uint64_t sum = 0, sq = 0;

	if (!t->recs || !t->slot || !t->lsn || !t->skeys)
		return -1;
	/* Every used slot names a distinct record holding a key that hashes
	 * to a home within the window, with no empty slot in between. */
	for (i = 0; i < t->nslots; i++) {
		uint32_t sl = t->slot[i], home, rn;
		uint64_t h;
		const struct flow_rec *r;

		if (sl == 0)
			continue;
		used++;
		rn = (sl & SLOT_REC_MASK) - 1;
		if (rn >= t->nused)
			return -1;
		r = &t->recs[rn];
		if (r->gen == t->gen) {	/* for the list's check below */
			live++;
			sum += rn;
			sq += (uint64_t)rn * rn;
		}
		h = rec_hash_key(t, &r->key);
		home = (uint32_t)h & (t->nslots - 1);
		if (!rec_ok(r) || sl >> FLOW_SLOT_BITS != slot_tag(h) ||
		    flow_find((struct flow_table *)t, &r->key) != (r->gen == t->gen ? r : NULL))
			return -1;
		for (j = home; j != i; j = (j + 1) & (t->nslots - 1))
			if (t->slot[j] == 0 || ((j - home) & (t->nslots - 1)) >= FLOW_PROBE_WINDOW)
				return -1;
	}
	if (t->gen == 0 || t->nused > t->max_flows || t->nfree > t->nused ||
	    used != t->nused - t->nfree || live != t->st.flows)
		return -1;
	for (i = t->nused; i < t->nrecs; i++)
		if (t->recs[i].key.family != 0)
			return -1;
	/* Freed records: zeroed but for the list's links, each once. */
	for (i = 0, j = t->free_head; j != 0; i++, j = t->recs[j - 1].conns)
		if (i >= t->nfree || j > t->nused || t->recs[j - 1].key.family != 0)
			return -1;
	if (i != t->nfree)
		return -1;
	/* The interval's list names the records of this gen: as many, each
	 * of this gen, and (short of a collision of both sums) each once. */
	for (i = 0; i < t->st.flows; i++) {
		uint32_t rn = key_idx(&t->skeys[i]);

		if (rn >= t->nused || t->recs[rn].key.family == 0 ||
		    t->recs[rn].gen != t->gen)
			return -1;
		sum -= rn;
		sq -= (uint64_t)rn * rn;
	}
	if (sum != 0 || sq != 0)
		return -1;

	used = 0;
	fam0 = (const uint8_t *)t->lsn + offsetof(struct flow_listener, family);
	for (i = 0; i < t->nlsn; i++) {
		const struct flow_listener *l = &t->lsn[i];
		uint32_t home;

		if (l->family == 0)
			continue;
		used++;
		if ((l->family != 4 && l->family != 6) ||
		    (l->proto != DEC_PROTO_TCP && l->proto != DEC_PROTO_UDP))
			return -1;
		home = lsn_home_of(t, l);
		if (!chain_ok(home, i, t->nlsn - 1, fam0, sizeof *l))
			return -1;
		for (j = home; j != i; j = (j + 1) & (t->nlsn - 1))
			if (lsn_is(&t->lsn[j], l->ip, l->port, l->proto,
				   l->family))
				return -1;
	}
	if (used != t->st.listeners || used > t->max_listeners)
		return -1;

	/* Cache entries since the last invalidation name records taken and
	 * not freed since, by a decision a packet without SYN can have; no
	 * stamp is from the future. */
	for (i = 0; i < t->nconn; i++) {
		const struct flow_conn *c = &t->conn[i];

		if (c->stamp > t->clock)
			return -1;
		if (c->stamp < t->reset_stamp)
			continue;
		if (c->rec == 0 || c->rec > t->nused || c->valid == 0 ||
		    t->recs[c->rec - 1].key.family == 0 ||
		    (c->flags & FLOW_CONN_HOW_MASK) < FLOW_HOW_LISTENER ||
		    (c->flags & FLOW_CONN_HOW_MASK) >= FLOW_HOW_COUNT)
			return -1;
	}
	for (i = 0; i < t->nborn; i++)
		if (t->born[i] > t->clock)
			return -1;
	return 0;
}
