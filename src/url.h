/* Base URL of the appliance (device42.Host) or of a proxy:
 *   [http:// | https://] host [:port] [/path-prefix]
 * host is a DNS name, an IPv4 literal or a bracketed IPv6 literal ([::1]).
 * No scheme means https (plain http only when the URL says so). Rejected:
 * other schemes, user:password@ (credentials belong in User/Password),
 * query or fragment, IPv6 zone ids, percent-encoded or control characters
 * in the host, a port that is empty, signed, not decimal or not 1..65535.
 * Trailing slashes of the path are dropped: "https://h/d42/" gives "/d42",
 * so request paths ("/api/1.0/...") can be appended. */
#ifndef D42_URL_H
#define D42_URL_H

#include <stddef.h>
#include <stdint.h>

#define URL_MAX_INPUT 1024	/* bytes of the whole URL string */
#define URL_MAX_HOST  256	/* host incl. NUL (DNS names are <= 253) */
#define URL_MAX_PATH  512	/* path prefix incl. NUL */
#define URL_PORT_HTTP  80
#define URL_PORT_HTTPS 443

enum url_scheme { URL_HTTP, URL_HTTPS };

enum url_err {
	URL_ERR_EMPTY = -1,	/* empty string */
	URL_ERR_SCHEME = -2,	/* not http:// or https:// */
	URL_ERR_USERINFO = -3,	/* user@ or user:pass@ in the URL */
	URL_ERR_HOST = -4,	/* empty or invalid host */
	URL_ERR_PORT = -5,	/* invalid port */
	URL_ERR_PATH = -6,	/* bad character, query or fragment */
	URL_ERR_TOO_LONG = -7	/* over URL_MAX_INPUT/HOST/PATH */
};

struct url {
	enum url_scheme scheme;
	char host[URL_MAX_HOST];	/* without brackets */
	int host_ipv6;			/* host was a [bracketed] literal */
	uint16_t port;			/* explicit, or 80 / 443 */
	char path[URL_MAX_PATH];	/* "" or "/prefix", no trailing '/' */
};

/* 0, or a negative enum url_err (u is then undefined). */
int url_parse(const char *s, struct url *u);
const char *url_strerror(int err);

/* "host", "host:port", "[v6]" or "[v6]:port" into out (port only when
 * it is not the scheme's default, or always if with_port). Returns the
 * length, or -1 if out is too small. Used for Host: and CONNECT. */
int url_authority(const struct url *u, int with_port, char *out, size_t outsz);

#endif
