/* URL parsing for the appliance and proxy base URLs (see url.h). */
#include "url.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cur.h"

#define URL_PORT_MAX_DIGITS 5

static int is_alpha(uint8_t ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static int is_digit(uint8_t ch)
{
	return ch >= '0' && ch <= '9';
}

/* Characters of a DNS name or IPv4 literal (underscore: seen in internal
 * zones). Everything else, including '%', is refused. */
static int is_host_char(uint8_t ch)
{
	return is_alpha(ch) || is_digit(ch) || ch == '-' || ch == '.' || ch == '_';
}

/* Printable ASCII path characters; '?' and '#' end the path and are
 * refused by the caller. */
static int is_path_char(uint8_t ch)
{
	return ch > 0x20 && ch < 0x7f;
}

/* Consume a case-insensitive prefix; 1 if it matched. */
static int eat_prefix(struct cur *c, const char *prefix)
{
	size_t n = strlen(prefix);
	const uint8_t *p = cur_peek(c, n);

	if (!p || strncasecmp((const char *)p, prefix, n) != 0)
		return 0;
	(void)cur_skip(c, n);
	return 1;
}

static int parse_port(struct cur *c, uint16_t *port)
{
	uint32_t v = 0;
	unsigned ndig = 0;
	const uint8_t *p;

	while ((p = cur_peek(c, 1)) && is_digit(*p)) {
		if (++ndig > URL_PORT_MAX_DIGITS)
			return URL_ERR_PORT;
		v = v * 10 + (uint32_t)(*p - '0');
		(void)cur_skip(c, 1);
	}
	if (ndig == 0 || v == 0 || v > UINT16_MAX)
		return URL_ERR_PORT;
	p = cur_peek(c, 1);
	if (p && *p != '/' && *p != '?' && *p != '#')
		return URL_ERR_PORT;	/* "443x", "+443" ... */
	*port = (uint16_t)v;
	return 0;
}

/* Whether a name's last label (a trailing dot aside) is a number, decimal
 * or 0x-hex: then it means an IPv4 address, as URL parsers take it. */
static int ends_in_number(const char *h, size_t n)
{
	size_t end = n, start;

	if (end > 0 && h[end - 1] == '.')
		end--;
	start = end;
	while (start > 0 && h[start - 1] != '.')
		start--;
	if (start == end)
		return 0;
	if (end - start >= 2 && h[start] == '0' && (h[start + 1] == 'x' || h[start + 1] == 'X')) {
		for (start += 2; start < end; start++)
			if (!is_digit((uint8_t)h[start]) && !((h[start] | 0x20) >= 'a' &&
							      (h[start] | 0x20) <= 'f'))
				return 0;
		return 1;
	}
	for (; start < end; start++)
		if (!is_digit((uint8_t)h[start]))
			return 0;
	return 1;
}

static int parse_host(struct cur *c, struct url *u)
{
	const uint8_t *p = cur_peek(c, 1);
	size_t n = 0;
	uint8_t ch;
	unsigned char tmp[16];

	if (p && *p == '[') {
		(void)cur_skip(c, 1);
		for (;;) {
			if (cur_u8(c, &ch) < 0)
				return URL_ERR_HOST;	/* no ']' */
			if (ch == ']')
				break;
			if (!(is_digit(ch) || (ch >= 'a' && ch <= 'f') ||
			      (ch >= 'A' && ch <= 'F') || ch == ':' || ch == '.'))
				return URL_ERR_HOST;	/* zone ids included */
			if (n + 1 >= sizeof(u->host))
				return URL_ERR_TOO_LONG;
			u->host[n++] = (char)ch;
		}
		u->host[n] = '\0';
		if (inet_pton(AF_INET6, u->host, tmp) != 1)
			return URL_ERR_HOST;
		u->host_ipv6 = 1;
		return 0;
	}
	while ((p = cur_peek(c, 1)) && *p != ':' && *p != '/' && *p != '?' &&
	       *p != '#') {
		if (*p == '@')
			return URL_ERR_USERINFO;
		if (!is_host_char(*p))
			return URL_ERR_HOST;
		if (n + 1 >= sizeof(u->host))
			return URL_ERR_TOO_LONG;
		u->host[n++] = (char)*p;
		(void)cur_skip(c, 1);
	}
	u->host[n] = '\0';
	if (n == 0 || u->host[0] == '.' || u->host[0] == '-')
		return URL_ERR_HOST;
	/* An IPv4 address only as four decimal numbers without leading
	 * zeros: the resolver would also take "010.0.0.5" (octal: 8.0.0.5),
	 * "127.1" or "2130706433", and connect somewhere not written. */
	if (ends_in_number(u->host, n) && inet_pton(AF_INET, u->host, tmp) != 1)
		return URL_ERR_HOST;
	return 0;
}

static int parse_path(struct cur *c, struct url *u)
{
	size_t n = 0;
	uint8_t ch;

	while (cur_u8(c, &ch) == 0) {
		if (ch == '?' || ch == '#' || !is_path_char(ch))
			return URL_ERR_PATH;
		if (n + 1 >= sizeof(u->path))
			return URL_ERR_TOO_LONG;
		u->path[n++] = (char)ch;
	}
	while (n > 0 && u->path[n - 1] == '/')
		n--;
	u->path[n] = '\0';
	return 0;
}

int url_parse(const char *s, struct url *u)
{
	struct cur c;
	size_t len;
	const uint8_t *p;
	int r;

	memset(u, 0, sizeof(*u));
	len = strnlen(s, URL_MAX_INPUT + 1);
	if (len == 0)
		return URL_ERR_EMPTY;
	if (len > URL_MAX_INPUT)
		return URL_ERR_TOO_LONG;
	cur_init(&c, (const uint8_t *)s, len);

	if (eat_prefix(&c, "https://")) {
		u->scheme = URL_HTTPS;
	} else if (eat_prefix(&c, "http://")) {
		u->scheme = URL_HTTP;
	} else {
		/* "ftp://x" or "foo:" is a scheme we refuse; a bare
		 * "host[:port]" means https. */
		size_t i;

		for (i = 0; i < len; i++) {
			if (s[i] == ':' && i + 2 < len && s[i + 1] == '/' &&
			    s[i + 2] == '/')
				return URL_ERR_SCHEME;
			if (s[i] == '/')
				break;
		}
		u->scheme = URL_HTTPS;
	}
	u->port = u->scheme == URL_HTTPS ? URL_PORT_HTTPS : URL_PORT_HTTP;

	/* Refuse userinfo wherever the '@' is in the authority. */
	{
		struct cur a = c;
		uint8_t ch;

		while (cur_u8(&a, &ch) == 0 && ch != '/' && ch != '?' && ch != '#')
			if (ch == '@')
				return URL_ERR_USERINFO;
	}

	r = parse_host(&c, u);
	if (r < 0)
		return r;
	p = cur_peek(&c, 1);
	if (p && *p == ':') {
		(void)cur_skip(&c, 1);
		r = parse_port(&c, &u->port);
		if (r < 0)
			return r;
	}
	p = cur_peek(&c, 1);
	if (p && *p != '/')
		return URL_ERR_PATH;	/* '?' or '#' right after the host */
	return parse_path(&c, u);
}

const char *url_strerror(int err)
{
	switch (err) {
	case URL_ERR_EMPTY: return "empty URL";
	case URL_ERR_SCHEME: return "unsupported scheme (use http:// or https://)";
	case URL_ERR_USERINFO: return "credentials in the URL are not accepted (use User/Password)";
	case URL_ERR_HOST: return "invalid host";
	case URL_ERR_PORT: return "invalid port (1..65535)";
	case URL_ERR_PATH: return "invalid path (no query, fragment, spaces or control characters)";
	case URL_ERR_TOO_LONG: return "URL too long";
	default: return "invalid URL";
	}
}

int url_authority(const struct url *u, int with_port, char *out, size_t outsz)
{
	uint16_t def = u->scheme == URL_HTTPS ? URL_PORT_HTTPS : URL_PORT_HTTP;
	const char *lb = u->host_ipv6 ? "[" : "", *rb = u->host_ipv6 ? "]" : "";
	int n;

	if (with_port || u->port != def)
		n = snprintf(out, outsz, "%s%s%s:%u", lb, u->host, rb,
			     (unsigned)u->port);
	else
		n = snprintf(out, outsz, "%s%s%s", lb, u->host, rb);
	if (n < 0 || (size_t)n >= outsz)
		return -1;
	return n;
}
