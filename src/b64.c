/* Base64 encoder (RFC 4648). Input is our own config data, not network
 * bytes, so plain indexing within n is used. */
#include "b64.h"

#include <limits.h>
#include <stdint.h>

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int b64_encode(const void *in, size_t n, char *out, size_t outsz)
{
	const uint8_t *p = in;
	size_t i, o = 0;
	uint32_t v;

	if (n > (size_t)(INT_MAX / 4 * 3 - 3) || outsz < B64_ENCODED_LEN(n) + 1)
		return -1;
	for (i = 0; i + 3 <= n; i += 3) {
		v = ((uint32_t)p[i] << 16) | ((uint32_t)p[i + 1] << 8) | p[i + 2];
		out[o++] = b64_alphabet[(v >> 18) & 0x3f];
		out[o++] = b64_alphabet[(v >> 12) & 0x3f];
		out[o++] = b64_alphabet[(v >> 6) & 0x3f];
		out[o++] = b64_alphabet[v & 0x3f];
	}
	if (n - i == 1) {
		v = (uint32_t)p[i] << 16;
		out[o++] = b64_alphabet[(v >> 18) & 0x3f];
		out[o++] = b64_alphabet[(v >> 12) & 0x3f];
		out[o++] = '=';
		out[o++] = '=';
	} else if (n - i == 2) {
		v = ((uint32_t)p[i] << 16) | ((uint32_t)p[i + 1] << 8);
		out[o++] = b64_alphabet[(v >> 18) & 0x3f];
		out[o++] = b64_alphabet[(v >> 12) & 0x3f];
		out[o++] = b64_alphabet[(v >> 6) & 0x3f];
		out[o++] = '=';
	}
	out[o] = '\0';
	return (int)o;
}
