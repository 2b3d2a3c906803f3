/* libFuzzer target for spool_check (src/spool.c): whole-file validation of
 * a spool file. Each input is checked as is, then with its header CRC
 * repaired, then with the payload CRC repaired too, so mutations reach the
 * length and payload checks behind the CRCs. A valid file must re-encode to
 * the same header bytes.
 * Build: clang -std=c11 -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L -Isrc
 *        -g -O1 -fsanitize=fuzzer,address,undefined tests/fuzz/fuzz_spool.c
 *        src/spool.c src/log.c */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spool.h"

#define FUZZ_MAX_INPUT 65536
#define HDR_CRC_OFF 48		/* as documented in spool.c */
#define PAYLOAD_CRC_OFF 12

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t copy[FUZZ_MAX_INPUT];

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void check_one(const uint8_t *buf, size_t len)
{
	struct spool_hdr h;
	uint8_t again[SPOOL_HDR_SIZE];
	int rc;

	memset(&h, 0xa5, sizeof(h));
	rc = spool_check(buf, len, &h);
	if (rc > 0 || rc < SPOOL_ERR_HEADER)
		abort();	/* outside the documented set */
	if (spool_strerror(rc) == NULL)
		abort();
	if (rc != 0)
		return;
	if (len != SPOOL_HDR_SIZE + h.payload_len || h.payload_len == 0)
		abort();
	if (spool_crc32(0, buf + SPOOL_HDR_SIZE, len - SPOOL_HDR_SIZE) != h.crc)
		abort();
	spool_hdr_encode(&h, again);
	if (memcmp(again, buf, SPOOL_HDR_SIZE) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > FUZZ_MAX_INPUT)
		return 0;
	check_one(data, size);
	if (size < SPOOL_HDR_SIZE)
		return 0;
	memcpy(copy, data, size);
	put32(copy + HDR_CRC_OFF, spool_crc32(0, copy, HDR_CRC_OFF));
	check_one(copy, size);
	put32(copy + PAYLOAD_CRC_OFF, spool_crc32(0, copy + SPOOL_HDR_SIZE,
						  size - SPOOL_HDR_SIZE));
	put32(copy + HDR_CRC_OFF, spool_crc32(0, copy, HDR_CRC_OFF));
	check_one(copy, size);
	return 0;
}
