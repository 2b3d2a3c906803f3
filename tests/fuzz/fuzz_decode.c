/* libFuzzer target for decode_packet. Input byte 0 picks the link type
 * (index into fuzz_links, modulo its size); the rest is the captured packet.
 * The packet is copied to a buffer of exactly its size so ASan sees any
 * over-read. Checks the output invariants documented in decode.h. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Order is part of the seed format (tests/fuzz/corpus/decode/): append only. */
static const int fuzz_links[] = {
	1,	/* EN10MB */
	12,	/* RAW */
	14,	/* RAW (OpenBSD) */
	101,	/* LINKTYPE_RAW */
	228,	/* IPV4 */
	229,	/* IPV6 */
	0,	/* NULL */
	108,	/* LOOP */
	113,	/* LINUX_SLL */
	276,	/* LINUX_SLL2 */
	105,	/* IEEE802_11: unsupported */
};
#define FUZZ_NLINKS (sizeof(fuzz_links) / sizeof(fuzz_links[0]))

static int all_zero(const uint8_t *x, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (x[i])
			return 0;
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pkt p;
	enum dec_reason r;
	uint8_t *copy;
	int lt;
	size_t n;

	if (size < 1)
		return 0;
	lt = fuzz_links[data[0] % FUZZ_NLINKS];
	n = size - 1;
	copy = malloc(n ? n : 1);
	if (!copy)
		abort();
	memcpy(copy, data + 1, n);
	memset(&p, 0x5a, sizeof(p));
	r = decode_packet(lt, copy, (uint32_t)n, (uint32_t)n, &p);
	free(copy);

	if ((unsigned)r >= DEC_REASON_COUNT)
		abort();
	if (!decode_reason_name(r) || !decode_reason_name(r)[0])
		abort();
	if (decode_link_supported(lt) != (r != DEC_LINK_UNSUPPORTED))
		abort();
	if (r == DEC_OK) {
		if (p.family != 4 && p.family != 6)
			abort();
		if (p.proto != DEC_PROTO_TCP && p.proto != DEC_PROTO_UDP)
			abort();
		if (p.proto == DEC_PROTO_UDP && p.tcp_flags != 0)
			abort();
		if (p.first_frag > 1 || p.ip_len == 0)
			abort();
	} else {
		/* Nothing from L4 unless the whole decode succeeded. */
		if (p.proto || p.sport || p.dport || p.tcp_flags)
			abort();
		if (p.family != 0 && p.family != 4 && p.family != 6)
			abort();
		if (p.family == 0 && (!all_zero(p.src, sizeof(p.src)) ||
				      !all_zero(p.dst, sizeof(p.dst)) ||
				      p.ip_len || p.first_frag))
			abort();
	}
	if (p.family == 4 && (!all_zero(p.src + 4, 12) ||
			      !all_zero(p.dst + 4, 12)))
		abort();
	return 0;
}
