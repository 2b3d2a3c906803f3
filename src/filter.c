/* Builds the BPF expression. Semantics (docs/CONFIG.md, "pcap"):
 * per protocol, a packet must match one of the port lists when any port list
 * of that protocol is set (source OR destination), and one of the IP lists
 * when any IP list is set; ignore-tcp/ignore-udp drop a protocol; the
 * capture section's ignore-ips/ignore-ports drop packets with either end in
 * the list. With no filter keys set, nothing is filtered, so undecodable
 * traffic is still counted in the statistics. */
#include "filter.h"
#include "addr.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* p NULL: only count the length an expression would take. */
struct fbuf {
	char *p;
	size_t cap, len;
	int err;
};

__attribute__((format(printf, 2, 3)))
static void fb_add(struct fbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->err)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
	va_end(ap);
	if (n < 0 || (b->p && (size_t)n >= b->cap - b->len)) {
		b->err = 1;
		return;
	}
	b->len += (size_t)n;
}

/* Append n bytes of what was written from off on. */
static void fb_again(struct fbuf *b, size_t off, size_t n)
{
	if (b->err)
		return;
	if (b->p) {
		if (n >= b->cap - b->len) {
			b->err = 1;
			return;
		}
		memmove(b->p + b->len, b->p + off, n);
		b->p[b->len + n] = '\0';
	}
	b->len += n;
}

static void fb_net(struct fbuf *b, const char *dir, const struct cfg_net *n)
{
	char a[ADDR_STR_MAX];

	fb_add(b, "%snet %s/%u", dir, addr_fmt(n->family == 4 ? 4 : 6, n->addr, a, sizeof(a)),
	       n->prefix);
}

/* "(src port 1 or src port 2 or dst port 3)"; *first tracks the "or". */
static void fb_ports(struct fbuf *b, const char *dir, const struct cfg_ports *p, int *first)
{
	unsigned i;

	for (i = 0; i < p->n; i++) {
		fb_add(b, "%s%sport %u", *first ? "" : " or ", dir, p->port[i]);
		*first = 0;
	}
}

static void fb_nets(struct fbuf *b, const char *dir, const struct cfg_nets *n, int *first)
{
	unsigned i;

	for (i = 0; i < n->n; i++) {
		fb_add(b, "%s", *first ? "" : " or ");
		fb_net(b, dir, &n->net[i]);
		*first = 0;
	}
}

/* One protocol's clause: "(tcp and (ports) and (ips))". */
static void fb_proto(struct fbuf *b, const char *proto, int lists,
		     const struct cfg_ports *sp, const struct cfg_ports *dp,
		     const struct cfg_nets *sn, const struct cfg_nets *dn)
{
	int first;

	fb_add(b, "(%s", proto);
	if (!lists) {
		fb_add(b, ")");
		return;
	}
	if (sp->n || dp->n) {
		first = 1;
		fb_add(b, " and (");
		fb_ports(b, "src ", sp, &first);
		fb_ports(b, "dst ", dp, &first);
		fb_add(b, ")");
	}
	if (sn->n || dn->n) {
		first = 1;
		fb_add(b, " and (");
		fb_nets(b, "src ", sn, &first);
		fb_nets(b, "dst ", dn, &first);
		fb_add(b, ")");
	}
	fb_add(b, ")");
}

static int filter_any(const struct config *c)
{
	return c->inc_src_tcp_ports.n || c->inc_dst_tcp_ports.n ||
	       c->inc_src_udp_ports.n || c->inc_dst_udp_ports.n ||
	       c->inc_src_tcp_ips.n || c->inc_dst_tcp_ips.n ||
	       c->inc_src_udp_ips.n || c->inc_dst_udp_ips.n ||
	       c->ignore_tcp || c->ignore_udp ||
	       c->ignore_ips.n || c->ignore_ports.n;
}

/* IPv6 packets whose first next header is an extension header the
 * decoder walks (hop-by-hop, routing, fragment, AH, destination options):
 * libpcap's tcp, udp and port look for the transport header only right
 * after the fixed header (tcp and udp also after a fragment header, port
 * not even there), so the kernel would drop them whatever the lists say.
 * They pass, and filter_match() judges them once decoded. */
#define FILTER_V6_EXT "(ip6 and (ip6[6] == 0 or ip6[6] == 43 or ip6[6] == 44 or " \
		      "ip6[6] == 51 or ip6[6] == 60))"
/* IPv4 packets carrying IPsec AH (IP protocol 51), which the decoder skips
 * to the TCP/UDP header behind it (dec_ipv4_ah): libpcap's tcp, udp and
 * port read the protocol field and the header right after IPv4's, so the
 * kernel would drop them too. They pass, and filter_match() judges them. */
#define FILTER_V4_AH "(ip and ip[9] == 51)"
/* Cooked captures (Linux "any"): tagged frames, which libpcap's vlan
 * cannot parse there. */
#define FILTER_COOKED_TAGGED "ether proto 0x8100 or ether proto 0x88a8 or ether proto 0x9100"

/* The expression for untagged frames; lists: with the lists. */
static void filter_core(const struct config *c, int lists, struct fbuf *b)
{
	int first = 1;

	fb_add(b, "(");
	if (!c->ignore_tcp) {
		fb_proto(b, "tcp", lists, &c->inc_src_tcp_ports, &c->inc_dst_tcp_ports,
			 &c->inc_src_tcp_ips, &c->inc_dst_tcp_ips);
		first = 0;
	}
	if (!c->ignore_udp) {
		fb_add(b, "%s", first ? "" : " or ");
		fb_proto(b, "udp", lists, &c->inc_src_udp_ports, &c->inc_dst_udp_ports,
			 &c->inc_src_udp_ips, &c->inc_dst_udp_ips);
	}
	fb_add(b, " or %s or %s)", FILTER_V4_AH, FILTER_V6_EXT);
	if (!lists)
		return;
	if (c->ignore_ips.n) {
		first = 1;
		fb_add(b, " and not (");
		fb_nets(b, "", &c->ignore_ips, &first);
		fb_add(b, ")");
	}
	if (c->ignore_ports.n) {
		first = 1;
		fb_add(b, " and not (");
		fb_ports(b, "", &c->ignore_ports, &first);
		fb_add(b, ")");
	}
}

/* Entries in all lists: what the kernel filter's size follows. */
static unsigned filter_entries(const struct config *c)
{
	return c->inc_src_tcp_ports.n + c->inc_dst_tcp_ports.n +
	       c->inc_src_udp_ports.n + c->inc_dst_udp_ports.n +
	       c->inc_src_tcp_ips.n + c->inc_dst_tcp_ips.n +
	       c->inc_src_udp_ips.n + c->inc_dst_udp_ips.n +
	       c->ignore_ips.n + c->ignore_ports.n;
}

static void filter_expr(const struct config *c, int lists, enum filter_link link,
			struct fbuf *b)
{
	size_t core_len;

	filter_core(c, lists, b);
	if (link == FILTER_LINK_COOKED)
		fb_add(b, " or %s", FILTER_COOKED_TAGGED);
	if (link != FILTER_LINK_ETHER)
		return;
	/* libpcap's "vlan" shifts the offsets for everything after it (past
	 * parentheses too), so "F or (vlan and (F or (vlan and (F or vlan))))"
	 * tests untagged, single- and double-tagged frames with the same
	 * clause, and passes those with a third tag (the decoder reads up
	 * to DEC_MAX_VLAN_TAGS). */
	core_len = b->len;
	fb_add(b, " or (vlan and (");
	fb_again(b, 0, core_len);
	fb_add(b, " or (vlan and (");
	fb_again(b, 0, core_len);
	fb_add(b, " or vlan))))");
}

/* Lists that fit the count but not FILTER_MAX_EXPR (long IPv6 addresses,
 * each written three times on Ethernet) are matched after decoding too,
 * rather than refused. */
int filter_in_kernel(const struct config *c)
{
	struct fbuf ether = { NULL, 0, 0, 0 }, cooked = { NULL, 0, 0, 0 };

	if (filter_entries(c) > c->kernel_filter_max)
		return 0;
	filter_expr(c, 1, FILTER_LINK_ETHER, &ether);
	filter_expr(c, 1, FILTER_LINK_COOKED, &cooked);
	return !ether.err && !cooked.err && ether.len < FILTER_MAX_EXPR &&
	       cooked.len < FILTER_MAX_EXPR;
}

static int build(const struct config *c, int lists, enum filter_link link, char *out,
		 size_t outsz)
{
	struct fbuf b = { out, outsz, 0, 0 };

	if (!outsz)
		return -1;
	out[0] = '\0';
	if (!filter_any(c))
		return 0;
	if (c->ignore_tcp && c->ignore_udp)
		return -1;
	filter_expr(c, lists, link, &b);
	return b.err ? -1 : 0;
}

int filter_build(const struct config *c, enum filter_link link, char *out, size_t outsz)
{
	return build(c, filter_in_kernel(c), link, out, outsz);
}

int filter_build_short(const struct config *c, enum filter_link link, char *out,
		       size_t outsz)
{
	return build(c, 0, link, out, outsz);
}

/* ---- lists matched after decoding ------------------------------------- */

static void ports_set(uint64_t *bits, const struct cfg_ports *l)
{
	unsigned i;

	for (i = 0; i < l->n; i++)
		bits[l->port[i] / 64] |= (uint64_t)1 << (l->port[i] % 64);
}

static int port_in(const uint64_t *bits, uint16_t port)
{
	return (int)(bits[port / 64] >> (port % 64) & 1);
}

void filter_lists_init(struct filter_lists *f, const struct config *c)
{
	f->on = filter_any(c);
	if (!f->on)	/* the bitmaps stay untouched, out of the RSS */
		return;
	memset(f->inc, 0, sizeof(f->inc));
	memset(f->ign, 0, sizeof(f->ign));
	ports_set(f->inc[0][0], &c->inc_src_tcp_ports);
	ports_set(f->inc[0][1], &c->inc_dst_tcp_ports);
	ports_set(f->inc[1][0], &c->inc_src_udp_ports);
	ports_set(f->inc[1][1], &c->inc_dst_udp_ports);
	ports_set(f->ign, &c->ignore_ports);
}

/* libpcap's "net a/n": same family, the first n bits equal. */
static int net_has(const struct cfg_net *n, const struct pkt *p, const uint8_t *a)
{
	unsigned whole = n->prefix / 8, rest = n->prefix % 8;

	return n->family == p->family && memcmp(n->addr, a, whole) == 0 &&
	       (rest == 0 || ((n->addr[whole] ^ a[whole]) >> (8 - rest)) == 0);
}

static int nets_have(const struct cfg_nets *l, const struct pkt *p, const uint8_t *a)
{
	unsigned i;

	for (i = 0; i < l->n; i++)
		if (net_has(&l->net[i], p, a))
			return 1;
	return 0;
}

int filter_match(const struct filter_lists *f, const struct config *c,
		 const struct pkt *p)
{
	int udp = p->proto == DEC_PROTO_UDP;
	const struct cfg_ports *sp = udp ? &c->inc_src_udp_ports : &c->inc_src_tcp_ports;
	const struct cfg_ports *dp = udp ? &c->inc_dst_udp_ports : &c->inc_dst_tcp_ports;
	const struct cfg_nets *sn = udp ? &c->inc_src_udp_ips : &c->inc_src_tcp_ips;
	const struct cfg_nets *dn = udp ? &c->inc_dst_udp_ips : &c->inc_dst_tcp_ips;

	if (udp ? c->ignore_udp : c->ignore_tcp)
		return 0;
	if ((sp->n || dp->n) && !port_in(f->inc[udp][0], p->sport) &&
	    !port_in(f->inc[udp][1], p->dport))
		return 0;
	if ((sn->n || dn->n) && !nets_have(sn, p, p->src) && !nets_have(dn, p, p->dst))
		return 0;
	return !port_in(f->ign, p->sport) && !port_in(f->ign, p->dport) &&
	       !nets_have(&c->ignore_ips, p, p->src) && !nets_have(&c->ignore_ips, p, p->dst);
}
