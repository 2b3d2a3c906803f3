/* IP addresses as text, by hand: glibc's inet_ntop formats every group
 * (and IPv4's bytes) with sprintf, about 3,000 instructions an IPv6
 * address, 13% of a report's instructions. Used for every address d42pcap
 * writes, so the static builds link neither musl's inet_ntop nor
 * getnameinfo (2.8 KiB on aarch64), and every build spells them alike. */
#include "addr.h"
#include "json.h"

#include <stdio.h>
#include <string.h>

#define IP4_BYTES 4
#define IP6_BYTES 16
#define IP6_GROUPS 8
#define IP6_GROUP_BITS 16
#define IP6_MAPPED_PREFIX 12	/* ::ffff: */
#define HEX_DIGIT_BITS 4

#define DEC_HUNDRED 100

/* An IPv4 address byte in decimal at p; returns the end. By hand, not
 * json_fmt_u64(): its length loop is most of a byte's cost, and a report
 * writes two addresses a record. */
static char *put_u8(char *p, unsigned v)
{
	if (v >= DEC_HUNDRED) {
		*p++ = (char)('0' + v / DEC_HUNDRED);
		return json_fmt_2(p, v % DEC_HUNDRED);
	}
	if (v >= 10)
		return json_fmt_2(p, v);
	*p = (char)('0' + v);
	return p + 1;
}

/* 16 bits in lowercase hex without leading zeros at p; returns the end. */
static char *put_hex16(char *p, unsigned v)
{
	int s = IP6_GROUP_BITS - HEX_DIGIT_BITS;

	while (s > 0 && !(v >> s))
		s -= HEX_DIGIT_BITS;
	for (; s >= 0; s -= HEX_DIGIT_BITS)
		*p++ = "0123456789abcdef"[v >> s & 0xf];
	return p;
}

/* RFC 5952, section 4, by hand: glibc's inet_ntop calls sprintf for each
 * group (about 3,000 instructions an address, 14% of a report's). The
 * first longest run of two or more zero groups becomes "::"; only
 * IPv4-mapped addresses end in dotted form (section 5; glibc would also
 * write "::1.2.3.4", musl does not: now every build writes the same). */
static char *put_ip6(char *p, const uint8_t *a)
{
	static const uint8_t mapped[IP6_MAPPED_PREFIX] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
							   0xff, 0xff };
	unsigned g[IP6_GROUPS], i, n, run = 0, best = 0, at = IP6_GROUPS;

	n = memcmp(a, mapped, sizeof(mapped)) ? IP6_GROUPS : IP6_MAPPED_PREFIX / 2;
	for (i = 0; i < n; i++) {
		g[i] = (unsigned)a[2 * i] << 8 | a[2 * i + 1];
		run = g[i] ? 0 : run + 1;
		if (run > best) {
			best = run;
			at = i + 1 - run;
		}
	}
	if (best < 2)
		at = IP6_GROUPS;
	for (i = 0; i < n; i++) {
		if (i == at) {
			*p++ = ':';
			*p++ = ':';
			i += best - 1;
			continue;
		}
		if (i > 0 && i != at + best)
			*p++ = ':';
		p = put_hex16(p, g[i]);
	}
	if (n < IP6_GROUPS) {
		*p++ = ':';
		for (i = IP6_MAPPED_PREFIX; i < IP6_BYTES; i++) {
			p = put_u8(p, a[i]);
			*p++ = '.';
		}
		p--;
	}
	*p = '\0';
	return p;
}

char *addr_put(int family, const uint8_t *a, char *p)
{
	unsigned i;

	if (family != 4)
		return put_ip6(p, a);
	for (i = 0; i < IP4_BYTES; i++) {	/* glibc's inet_ntop calls sprintf */
		p = put_u8(p, a[i]);
		*p++ = '.';
	}
	return p - 1;
}

char *addr_fmt(int family, const uint8_t *a, char *buf, size_t sz)
{
	char tmp[ADDR_STR_MAX], *p = sz >= ADDR_STR_MAX ? buf : tmp;

	*addr_put(family, a, p) = '\0';
	/* Written with ADDR_STR_MAX bytes of room: a smaller buffer gets a
	 * copy, if the address fits. */
	if (sz < ADDR_STR_MAX && sz > 0) {
		if (strlen(tmp) >= sz)
			strcpy(tmp, sz > 1 ? "?" : "");
		memcpy(buf, tmp, strlen(tmp) + 1);
	}
	return buf;
}

