/* The configured include/ignore lists: compiled into one BPF expression so
 * the kernel drops unwanted packets before they are copied to us, or, when
 * long, matched here after decoding. */
#ifndef D42_FILTER_H
#define D42_FILTER_H

#include <stddef.h>
#include <stdint.h>
#include "config.h"
#include "decode.h"

#define FILTER_MAX_EXPR (64 * 1024)	/* bytes of filter expression */
#define FILTER_PORT_WORDS (65536 / 64)	/* a bit per port */

/* The lists, matched after decoding whenever a filter key is set. Longer
 * than pcap.kernel-filter-max entries in all, this is their only check
 * (libpcap's optimiser is superlinear in them: 256 ports took seconds and
 * hundreds of MB), and the kernel selects the protocols only; shorter, it
 * is a second one (libpcap 1.10.3 optimises some into programs that keep
 * packets they exclude). */
struct filter_lists {
	int on;				/* 0: no filter key set */
	uint64_t inc[2][2][FILTER_PORT_WORDS];	/* [udp][dst] include ports */
	uint64_t ign[FILTER_PORT_WORDS];	/* ignore-ports */
};

/* 1 if c's lists go into the kernel filter (short enough). */
int filter_in_kernel(const struct config *c);

/* The expression's form, by link type: libpcap knows VLAN tags only on
 * Ethernet, and matches ethertypes on Ethernet and cooked captures only. */
enum filter_link {
	FILTER_LINK_PLAIN,	/* raw IP, loopback; or a libpcap refusing the rest */
	FILTER_LINK_ETHER,	/* also one or two 802.1Q/802.1ad tags, and more */
	FILTER_LINK_COOKED	/* Linux SLL/SLL2: tagged frames pass */
};

/* Writes the expression ("" when nothing is filtered): everything, or only
 * the protocol selection when the lists are matched by filter_match().
 * What it cannot judge but the decoder can (IPv4 AH, IPv6 extension
 * headers, deep or cooked VLAN tags) passes: filter_match() decides after
 * decoding.
 * Returns 0, or -1 if it does not fit or nothing could ever match. */
int filter_build(const struct config *c, enum filter_link link, char *out, size_t outsz);
/* The same with the lists left to filter_match() whatever their length:
 * for a program too long for the kernel. */
int filter_build_short(const struct config *c, enum filter_link link, char *out,
		       size_t outsz);

/* Set f up for c's lists. */
void filter_lists_init(struct filter_lists *f, const struct config *c);
/* Whether a decoded packet passes the lists of c (which f was set up for;
 * f->on only), with the kernel filter's meaning: see docs/CONFIG.md. */
int filter_match(const struct filter_lists *f, const struct config *c,
		 const struct pkt *p);

#endif
