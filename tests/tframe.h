/* Test frames: Ethernet, 0-2 802.1Q tags, IPv4 or IPv6, TCP or UDP, no
 * payload, lengths consistent. Shared by the unit tests and the fuzzers
 * that compare the decoder or the lists with libpcap on built packets
 * (include as "../tframe.h"). */
#ifndef D42_TFRAME_H
#define D42_TFRAME_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define TFRAME_MAX 128		/* the largest frame: 14 + 2 * 4 + 40 + 20 */

struct tframe {
	unsigned tags;		/* 802.1Q tags (VLAN 1, 2) before the IP header */
	uint8_t family;		/* 4 or 6 */
	uint8_t proto;		/* 6 (TCP) or 17 (UDP) */
	const uint8_t *src, *dst;	/* 4 or 16 bytes, by family */
	uint16_t sport, dport;
};

static inline void tframe_put16(uint8_t *b, unsigned v)
{
	b[0] = (uint8_t)(v >> 8);
	b[1] = (uint8_t)v;
}

/* Writes the frame into b (TFRAME_MAX bytes) and returns its length. */
static inline size_t tframe_build(uint8_t *b, const struct tframe *f)
{
	size_t o = 12, l4 = f->proto == 6 ? 20 : 8;
	unsigned t;

	memset(b, 0, TFRAME_MAX);
	for (t = 0; t < f->tags && t < 2; t++, o += 4) {
		tframe_put16(b + o, 0x8100);
		tframe_put16(b + o + 2, 1 + t);
	}
	if (f->family == 4) {
		tframe_put16(b + o, 0x0800);
		o += 2;
		b[o] = 0x45;
		tframe_put16(b + o + 2, (unsigned)(20 + l4));
		b[o + 8] = 64;
		b[o + 9] = f->proto;
		memcpy(b + o + 12, f->src, 4);
		memcpy(b + o + 16, f->dst, 4);
		o += 20;
	} else {
		tframe_put16(b + o, 0x86dd);
		o += 2;
		b[o] = 0x60;
		tframe_put16(b + o + 4, (unsigned)l4);
		b[o + 6] = f->proto;
		b[o + 7] = 64;
		memcpy(b + o + 8, f->src, 16);
		memcpy(b + o + 24, f->dst, 16);
		o += 40;
	}
	tframe_put16(b + o, f->sport);
	tframe_put16(b + o + 2, f->dport);
	if (f->proto == 6)
		b[o + 12] = 0x50;	/* data offset: 5 words */
	else
		tframe_put16(b + o + 4, (unsigned)l4);
	return o + l4;
}

#endif
