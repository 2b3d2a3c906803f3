/* Base64 (RFC 4648 section 4, with padding), used for HTTP Basic auth. */
#ifndef D42_B64_H
#define D42_B64_H

#include <stddef.h>

/* Characters needed for n input bytes, excluding the NUL. */
#define B64_ENCODED_LEN(n) ((((n) + 2) / 3) * 4)

/* Encode n bytes of in into out as a NUL-terminated string. Returns the
 * string length, or -1 if outsz < B64_ENCODED_LEN(n) + 1 (out untouched). */
int b64_encode(const void *in, size_t n, char *out, size_t outsz);

#endif
