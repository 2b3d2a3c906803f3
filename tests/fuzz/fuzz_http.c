/* libFuzzer target for the HTTP response parser. Input: one flags byte
 * (HEAD / CONNECT; FUZZ_CUT: the close at the end was not clean), one seed
 * byte for the piece sizes, then the response bytes. The same bytes are parsed whole and in pseudo-random pieces; both
 * must agree (result; when done: bytes consumed, status, body), and every invariant of
 * the parsed response is checked.
 *   clang -fsanitize=fuzzer,address,undefined -Isrc tests/fuzz/fuzz_http.c \
 *     src/http.c src/url.c src/b64.c src/tls.c src/log.c \
 *     -lmbedtls -lmbedx509 -lmbedcrypto */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

#define FUZZ_MAX_BODY 2048	/* small, so the body limit is reachable */
#define FUZZ_CUT      0x80u	/* flags bit: TLS closed without close_notify */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { if (!(c)) abort(); } while (0)

static void check_response(const struct http_response *r, int res)
{
	unsigned i;

	if (res != HTTP_PARSE_DONE)
		return;
	CHECK(r->status >= 200 && r->status <= 599);
	CHECK(r->minor == 0 || r->minor == 1);
	CHECK(r->nheaders <= HTTP_MAX_HEADERS);
	CHECK(r->body_len <= FUZZ_MAX_BODY);
	CHECK(r->body && r->body[r->body_len] == '\0');
	CHECK(r->reason != NULL);
	for (i = 0; i < r->nheaders; i++) {
		CHECK(r->name[i][0] != '\0');
		CHECK(strlen(r->name[i]) < HTTP_MAX_HEADER_BYTES);
		CHECK(strlen(r->value[i]) < HTTP_MAX_HEADER_BYTES);
		CHECK(http_response_header(r, r->name[i]) != NULL);
	}
}

/* Feed in pieces; returns the result, *used_total the bytes consumed. */
static int run(struct http_parser *p, const uint8_t *d, size_t n, uint32_t seed,
	       int clean, size_t *used_total)
{
	size_t off = 0, used;
	int r = HTTP_PARSE_MORE;

	*used_total = 0;
	while (off < n) {
		size_t piece = n - off;

		if (seed) {
			seed = seed * 1103515245u + 12345u;
			piece = 1 + (seed >> 16) % 97;
			if (piece > n - off)
				piece = n - off;
		}
		r = http_parser_feed(p, d + off, piece, &used);
		CHECK(used <= piece);
		*used_total += used;
		if (r != HTTP_PARSE_MORE)
			break;
		CHECK(used == piece);
		off += piece;
	}
	if (r == HTTP_PARSE_MORE)
		r = http_parser_eof(p, clean);
	CHECK(r == HTTP_PARSE_DONE || (r < 0 && r >= HTTP_ERR_INTERIM));
	check_response(http_parser_response(p), r);
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct http_parser *whole, *pieces;
	const struct http_response *a, *b;
	size_t ua, ub;
	unsigned flags;
	int ra, rb;

	if (!whole) {
		whole = http_parser_new(FUZZ_MAX_BODY);
		pieces = http_parser_new(FUZZ_MAX_BODY);
		if (!whole || !pieces)
			abort();
	}
	if (size < 2)
		return 0;
	flags = data[0] & (HTTP_PF_HEAD | HTTP_PF_CONNECT);
	http_parser_reset(whole, flags);
	http_parser_reset(pieces, flags);
	ra = run(whole, data + 2, size - 2, 0, !(data[0] & FUZZ_CUT), &ua);
	rb = run(pieces, data + 2, size - 2, (uint32_t)data[1] | 1u, !(data[0] & FUZZ_CUT), &ub);
	CHECK(ra == rb);
	if (ra == HTTP_PARSE_DONE) {
		CHECK(ua == ub);	/* where an error is seen depends on pieces */
		a = http_parser_response(whole);
		b = http_parser_response(pieces);
		CHECK(a->status == b->status && a->keep_alive == b->keep_alive);
		CHECK(a->nheaders == b->nheaders);
		CHECK(a->body_len == b->body_len);
		CHECK(memcmp(a->body, b->body, a->body_len) == 0);
	}
	return 0;
}
