/* Service-communication table. See flow.h for the contract.
 *
 * Both tables are open-addressed with linear probing, limited to
 * FLOW_PROBE_WINDOW slots from a key's home slot, so every lookup and insert
 * is O(window) whatever the traffic. Lookups stop at the first empty slot.
 * That is valid because:
 *  - records are never removed one by one, only all at once by flow_reset();
 *  - listeners are removed with backward-shift deletion, which moves later
 *    entries of the cluster back into the hole, so no key ever has an empty
 *    slot between its home and its position. Expired listeners stay in place
 *    until flow_reset() purges them; meanwhile an insert may take over an
 *    expired slot on its probe path (the slot stays occupied, chains stay
 *    intact) or, at the cap, delete one further in its window.
 * Slot counts are powers of two (index = hash & mask, no division), at
 * least 4/3 of the cap so that an empty slot always exists and clusters stay
 * short, and at least FLOW_PROBE_WINDOW so a window never wraps onto itself.
 */
#include "flow.h"

#include <stdlib.h>
#include <string.h>

_Static_assert(sizeof(struct flow_key) == 36, "flow_key must have no padding");

#define V4_ADDR_BYTES 4
#define V6_ADDR_BYTES 16
#define TCP_SYN_ACK   (DEC_TCP_SYN | DEC_TCP_ACK)
#define NS_PER_SEC    1000000000ull
#define WELLKNOWN_MAX_SYSTEM 1023	/* IANA system ports are 1..1023 */

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

	if (port <= WELLKNOWN_MAX_SYSTEM)
		return port != 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (wellknown_ports[mid] == port)
			return 1;
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

/* Power of two >= 4/3 * max (load <= 3/4) and >= the probe window; always
 * more than max, so a cluster always ends in an empty slot. */
static uint32_t slots_for(uint32_t max)
{
	uint64_t want = (uint64_t)max + max / 3;
	uint32_t n = FLOW_PROBE_WINDOW;

	while (n < want)
		n <<= 1;
	return n;
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
	t->max_flows = max_flows;
	t->max_listeners = max_listeners;
	t->listener_ttl_ns = (uint64_t)listener_ttl_s * NS_PER_SEC;
	t->seed[0] = splitmix(&seed);
	t->seed[1] = splitmix(&seed);
	t->recs = calloc(t->nrecs, sizeof *t->recs);
	t->slot = calloc(t->nslots, sizeof *t->slot);
	t->order = calloc(max_flows, sizeof *t->order);
	t->skeys = calloc(max_flows, sizeof *t->skeys);
	t->lsn = calloc(t->nlsn, sizeof *t->lsn);
	if (!t->recs || !t->slot || !t->order || !t->skeys || !t->lsn) {
		flow_free(t);
		return -1;
	}
	return 0;
}

void flow_free(struct flow_table *t)
{
	free(t->recs);
	free(t->slot);
	free(t->order);
	free(t->skeys);
	free(t->lsn);
	memset(t, 0, sizeof *t);
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

/* 1 if (ip, port, proto) is a listener not expired as of now. */
static int lsn_live(const struct flow_table *t, uint8_t family,
		    const uint8_t *ip, uint16_t port, uint8_t proto,
		    uint64_t now)
{
	uint32_t mask = t->nlsn - 1, i = lsn_home(t, ip, port, proto, family);
	uint32_t n;

	for (n = 0; n < FLOW_PROBE_WINDOW; n++, i = (i + 1) & mask) {
		const struct flow_listener *l = &t->lsn[i];

		if (l->family == 0)
			return 0;
		if (lsn_is(l, ip, port, proto, family))
			return !lsn_expired(t, l, now);
	}
	return 0;
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

/* Insert or refresh; reuses the first expired slot on the probe path. */
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
			if (now > l->last_ns)
				l->last_ns = now;
			return;
		}
		if (!reuse && lsn_expired(t, l, now))
			reuse = l;
	}
	if (reuse) {
		slot = reuse;	/* count unchanged: one out, one in */
	} else {
		if (slot && t->st.listeners >= t->max_listeners)
			slot = lsn_reclaim(t, home, (uint32_t)(slot - t->lsn),
					   FLOW_PROBE_WINDOW - 1 - n, now);
		if (!slot) {
			t->st.listener_drops++;
			return;
		}
		t->st.listeners++;
	}
	memset(slot, 0, sizeof *slot);
	memcpy(slot->ip, ip, addr_len(family));
	slot->port = port;
	slot->proto = proto;
	slot->family = family;
	slot->last_ns = now;
}

/* ---- records ----------------------------------------------------------- */

/* Finds k, or claims an empty slot and the next free record for it
 * (*isnew = 1); NULL if refused. */
static inline struct flow_rec *rec_get(struct flow_table *t,
				       const struct flow_key *k, uint64_t h,
				       int *isnew)
{
	uint32_t mask = t->nslots - 1, i = (uint32_t)h & mask, n, s;
	uint32_t tag = slot_tag(h);
	struct flow_rec *r;

	for (n = 0; n < FLOW_PROBE_WINDOW; n++, i = (i + 1) & mask) {
		s = t->slot[i];
		if (s == 0) {
			if (t->st.flows >= t->max_flows)
				return NULL;
			r = &t->recs[t->st.flows];
			r->key = *k;
			t->slot[i] = (tag << FLOW_SLOT_BITS) | ++t->st.flows;
			*isnew = 1;
			return r;
		}
		if (s >> FLOW_SLOT_BITS != tag)
			continue;
		r = &t->recs[(s & SLOT_REC_MASK) - 1];
		if (memcmp(&r->key, k, sizeof *k) == 0)
			return r;
	}
	return NULL;
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
			return r;
	}
	return NULL;
}

/* Rule 3: no handshake flag. Sets *srv_dst (1: destination is the server). */
static enum flow_how guess_server(const struct flow_table *t,
				  const struct pkt *p, uint64_t now,
				  size_t alen, int *srv_dst)
{
	int wd, ws, ed, es;

	if (t->st.listeners) {
		if (lsn_live(t, p->family, p->dst, p->dport, p->proto, now)) {
			*srv_dst = 1;
			return FLOW_HOW_LISTENER;
		}
		if (lsn_live(t, p->family, p->src, p->sport, p->proto, now)) {
			*srv_dst = 0;
			return FLOW_HOW_LISTENER;
		}
	}
	wd = flow_is_wellknown(p->dport);
	ws = flow_is_wellknown(p->sport);
	if (wd != ws) {
		*srv_dst = wd;
		return FLOW_HOW_WELLKNOWN;
	}
	ed = p->dport >= FLOW_EPHEMERAL_MIN;
	es = p->sport >= FLOW_EPHEMERAL_MIN;
	if (ed != es) {
		*srv_dst = es;
		return FLOW_HOW_EPHEMERAL;
	}
	if (p->dport != p->sport)
		*srv_dst = p->dport < p->sport;
	else	/* same port both ways: lower address, so replies agree */
		*srv_dst = memcmp(p->dst, p->src, alen) <= 0;
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

enum flow_result flow_update(struct flow_table *t, const struct pkt *p,
			     uint64_t ts_ns, struct flow_rec **rec)
{
	struct flow_key k;
	struct flow_rec *r;
	enum flow_how how;
	const uint8_t *cli, *srv;
	size_t alen;
	int srv_dst = 1, isnew = 0;
	uint16_t port;
	uint8_t hs;

	if (rec)
		*rec = NULL;
	if ((p->family != 4 && p->family != 6) ||
	    (p->proto != DEC_PROTO_TCP && p->proto != DEC_PROTO_UDP))
		return FLOW_DROPPED;	/* caller bug: not counted */
	alen = addr_len(p->family);

	hs = p->proto == DEC_PROTO_TCP ? (p->tcp_flags & TCP_SYN_ACK) : 0;
	if (hs == DEC_TCP_SYN) {
		how = FLOW_HOW_SYN;
		lsn_learn(t, p->family, p->dst, p->dport, p->proto, ts_ns);
	} else if (hs == TCP_SYN_ACK) {
		how = FLOW_HOW_SYNACK;
		srv_dst = 0;
		lsn_learn(t, p->family, p->src, p->sport, p->proto, ts_ns);
	} else {
		how = guess_server(t, p, ts_ns, alen, &srv_dst);
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
	} else {
		if (how < r->how)
			r->how = (uint8_t)how;
		if (ts_ns < r->first_ns)
			r->first_ns = ts_ns;
		if (ts_ns > r->last_ns)
			r->last_ns = ts_ns;
	}
	if (how == FLOW_HOW_SYN && r->conns != UINT32_MAX)
		r->conns++;
	if (srv_dst) {
		if (r->pkts_c2s != UINT32_MAX)
			r->pkts_c2s++;
		r->bytes_c2s += p->ip_len;
		add_client_port(r, p->sport);
	} else {
		if (r->pkts_s2c != UINT32_MAX)
			r->pkts_s2c++;
		r->bytes_s2c += p->ip_len;
		add_client_port(r, p->dport);
	}
	if (rec)
		*rec = r;
	return isnew ? FLOW_NEW : FLOW_UPDATED;
}

/* ---- interval end ------------------------------------------------------ */

static int rec_cmp(const struct flow_rec *a, const struct flow_rec *b)
{
	int c;

	if (a->key.family != b->key.family)
		return a->key.family < b->key.family ? -1 : 1;
	c = memcmp(a->key.server, b->key.server, sizeof a->key.server);
	if (c)
		return c;
	if (a->key.port != b->key.port)
		return a->key.port < b->key.port ? -1 : 1;
	if (a->key.proto != b->key.proto)
		return a->key.proto < b->key.proto ? -1 : 1;
	return memcmp(a->key.client, b->key.client, sizeof a->key.client);
}

#define SORT_SMALL 16		/* insertion sort below this many keys */
#define SORT_STACK 64		/* > 2 * log2(FLOW_MAX_ENTRIES): pending ranges */

static uint64_t be_bytes(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;
	unsigned i;

	for (i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* Same order as rec_cmp. IPv4: family, server, port, proto in hi, client in
 * lo: distinct keys never tie. IPv6: family and 15 server bytes; a tie is
 * settled by rec_cmp on the records. */
static void make_key(const struct flow_rec *r, uint32_t idx, struct flow_sortkey *k)
{
	const struct flow_key *f = &r->key;

	if (f->family == 4) {
		k->hi = (uint64_t)4 << 56 | be_bytes(f->server, 4) << 24 |
			(uint64_t)f->port << 8 | f->proto;
		k->lo = be_bytes(f->client, 4) << 32;
	} else {
		k->hi = (uint64_t)f->family << 56 | be_bytes(f->server, 7);
		k->lo = be_bytes(f->server + 7, 8);
	}
	k->idx = idx;
}

static int key_cmp(const struct flow_rec *recs, const struct flow_sortkey *a,
		   const struct flow_sortkey *b)
{
	if (a->hi != b->hi)
		return a->hi < b->hi ? -1 : 1;
	if (a->lo != b->lo)
		return a->lo < b->lo ? -1 : 1;
	return rec_cmp(&recs[a->idx], &recs[b->idx]);
}

static void key_swap(struct flow_sortkey *a, struct flow_sortkey *b)
{
	struct flow_sortkey t = *a;

	*a = *b;
	*b = t;
}

static void key_sift(const struct flow_rec *recs, struct flow_sortkey *k,
		     uint32_t root, uint32_t n)
{
	for (;;) {
		uint32_t c = 2 * root + 1;

		if (c >= n)
			return;
		if (c + 1 < n && key_cmp(recs, &k[c], &k[c + 1]) < 0)
			c++;
		if (key_cmp(recs, &k[root], &k[c]) >= 0)
			return;
		key_swap(&k[root], &k[c]);
		root = c;
	}
}

static void key_heapsort(const struct flow_rec *recs, struct flow_sortkey *k, uint32_t n)
{
	uint32_t i;

	for (i = n / 2; i-- > 0;)
		key_sift(recs, k, i, n);
	for (i = n; i-- > 1;) {
		key_swap(&k[0], &k[i]);
		key_sift(recs, k, 0, i);
	}
}

static void key_insertion(const struct flow_rec *recs, struct flow_sortkey *k, uint32_t n)
{
	uint32_t i, j;

	for (i = 1; i < n; i++) {
		struct flow_sortkey v = k[i];

		for (j = i; j > 0 && key_cmp(recs, &k[j - 1], &v) > 0; j--)
			k[j] = k[j - 1];
		k[j] = v;
	}
}

/* Introsort: quicksort (median of three) on the smaller side first, an
 * explicit stack of pending ranges, heapsort for a range once its depth
 * budget is spent (O(n log n) whatever the keys). No recursion. */
static void key_sort(const struct flow_rec *recs, struct flow_sortkey *k, uint32_t n)
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
				key_heapsort(recs, a, n);
				break;
			}
			depth--;
			m = n / 2;
			if (key_cmp(recs, &a[m], &a[0]) < 0)
				key_swap(&a[m], &a[0]);
			if (key_cmp(recs, &a[n - 1], &a[m]) < 0) {
				key_swap(&a[n - 1], &a[m]);
				if (key_cmp(recs, &a[m], &a[0]) < 0)
					key_swap(&a[m], &a[0]);
			}
			p = a[m];
			i = 0;
			j = n - 1;
			for (;;) {	/* Hoare: a[0] <= p <= a[n-1] are sentinels */
				while (key_cmp(recs, &a[i], &p) < 0)
					i++;
				while (key_cmp(recs, &p, &a[j]) < 0)
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
			key_insertion(recs, k + lo, n);
		if (sp == 0)
			return;
		sp--;
		lo = st[sp].lo;
		n = st[sp].n;
		depth = st[sp].depth;
	}
}

/* Sorts compact 24-byte keys (cache-friendly) instead of indices into the
 * 100-byte records (a cache miss per comparison with a big table). */
uint32_t flow_sorted(struct flow_table *t, const uint32_t **order)
{
	uint32_t n = t->st.flows, i;

	for (i = 0; i < n; i++)	/* records are dense: the first n */
		make_key(&t->recs[i], i, &t->skeys[i]);
	key_sort(t->recs, t->skeys, n);
	for (i = 0; i < n; i++)
		t->order[i] = t->skeys[i].idx;
	if (order)
		*order = t->order;
	return n;
}

void flow_reset(struct flow_table *t, uint64_t now_ns)
{
	uint32_t i = 0;

	/* Only what was used: an idle link keeps an idle table's pages free. */
	memset(t->recs, 0, (size_t)t->st.flows * sizeof *t->recs);
	memset(t->slot, 0, (size_t)t->nslots * sizeof *t->slot);
	t->st.flows = 0;
	t->st.flow_drops = 0;
	t->st.listener_drops = 0;
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
	uint32_t i, j, used = 0;

	if (!t->recs || !t->slot || !t->lsn || !t->order)
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
		if (rn >= t->st.flows)
			return -1;
		r = &t->recs[rn];
		h = rec_hash_key(t, &r->key);
		home = (uint32_t)h & (t->nslots - 1);
		if (!rec_ok(r) || sl >> FLOW_SLOT_BITS != slot_tag(h) ||
		    flow_find((struct flow_table *)t, &r->key) != r)
			return -1;
		for (j = home; j != i; j = (j + 1) & (t->nslots - 1))
			if (t->slot[j] == 0 || ((j - home) & (t->nslots - 1)) >= FLOW_PROBE_WINDOW)
				return -1;
	}
	if (used != t->st.flows || used > t->max_flows)
		return -1;
	for (i = t->st.flows; i < t->nrecs; i++)
		if (t->recs[i].key.family != 0)
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
	return 0;
}
