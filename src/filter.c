/* Builds the BPF expression. Semantics (docs/CONFIG.md, "Filters"):
 * per protocol, a packet must match one of the port lists when any port list
 * of that protocol is set (source OR destination), and one of the IP lists
 * when any IP list is set; ignore-tcp/ignore-udp drop a protocol; the
 * capture section's ignore-ips/ignore-ports drop packets with either end in
 * the list. With no filter keys set, nothing is filtered, so undecodable
 * traffic is still counted in the statistics. */
#include "filter.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

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
	n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= b->cap - b->len) {
		b->err = 1;
		return;
	}
	b->len += (size_t)n;
}

static void fb_net(struct fbuf *b, const char *dir, const struct cfg_net *n)
{
	char a[INET6_ADDRSTRLEN];

	if (!inet_ntop(n->family == 4 ? AF_INET : AF_INET6, n->addr, a, sizeof(a))) {
		b->err = 1;
		return;
	}
	fb_add(b, "%snet %s/%u", dir, a, n->prefix);
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
static void fb_proto(struct fbuf *b, const char *proto,
		     const struct cfg_ports *sp, const struct cfg_ports *dp,
		     const struct cfg_nets *sn, const struct cfg_nets *dn)
{
	int first;

	fb_add(b, "(%s", proto);
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

/* The expression for untagged frames. */
static void filter_core(const struct config *c, struct fbuf *b)
{
	int first = 1;

	fb_add(b, "(");
	if (!c->ignore_tcp) {
		fb_proto(b, "tcp", &c->inc_src_tcp_ports, &c->inc_dst_tcp_ports,
			 &c->inc_src_tcp_ips, &c->inc_dst_tcp_ips);
		first = 0;
	}
	if (!c->ignore_udp) {
		fb_add(b, "%s", first ? "" : " or ");
		fb_proto(b, "udp", &c->inc_src_udp_ports, &c->inc_dst_udp_ports,
			 &c->inc_src_udp_ips, &c->inc_dst_udp_ips);
	}
	fb_add(b, ")");
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

int filter_build(const struct config *c, int vlan, char *out, size_t outsz)
{
	struct fbuf b = { out, outsz, 0, 0 };
	size_t core_len;

	if (!outsz)
		return -1;
	out[0] = '\0';
	if (!filter_any(c))
		return 0;
	if (c->ignore_tcp && c->ignore_udp)
		return -1;
	filter_core(c, &b);
	if (b.err)
		return -1;
	if (!vlan)
		return 0;
	/* libpcap's "vlan" shifts the offsets for everything after it, so
	 * "F or (vlan and (F or (vlan and F)))" tests untagged, single- and
	 * double-tagged frames with the same clause. */
	core_len = b.len;
	fb_add(&b, " or (vlan and (%.*s or (vlan and %.*s)))",
	       (int)core_len, out, (int)core_len, out);
	return b.err ? -1 : 0;
}
