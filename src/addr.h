/* IP addresses as text (RFC 5952 for IPv6), the same on every build. */
#ifndef D42_ADDR_H
#define D42_ADDR_H

#include <stddef.h>
#include <stdint.h>

#define ADDR_STR_MAX 46	/* INET6_ADDRSTRLEN */

/* family 4 (a[0..4)) or 6 (a[0..16)) into buf; "?" when it does not fit
 * (sz < ADDR_STR_MAX is fine if the text fits). Returns buf. */
char *addr_fmt(int family, const uint8_t *a, char *buf, size_t sz);
/* The same at p, which has ADDR_STR_MAX bytes of room (the bytes after the
 * text are left unspecified, no NUL); returns the end of the text. */
char *addr_put(int family, const uint8_t *a, char *p);

#endif
