/* libFuzzer target for src/url.c. The input (up to a NUL) is parsed with
 * url_parse; a parsed URL must satisfy the contract in url.h, format with
 * url_authority into exactly-sized and too-small buffers, and rebuilt as
 * "scheme://authority:port/path" must parse back to the same struct url. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "url.h"

#define FUZZ_MAX_INPUT (URL_MAX_INPUT + 16)	/* a little over the limit */
#define FUZZ_AUTH_MAX  (URL_MAX_HOST + 16)	/* "[" host "]:" 65535 */
#define FUZZ_URL_MAX   (FUZZ_AUTH_MAX + URL_MAX_PATH + 16)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Say which invariant failed: replay logs have no stack trace. */
#define CHECK(c) do { if (!(c)) { \
	fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); \
	abort(); } } while (0)

static char in[FUZZ_MAX_INPUT + 1];

static void check_authority(const struct url *u, int with_port)
{
	char out[FUZZ_AUTH_MAX], tiny[FUZZ_AUTH_MAX];
	int n, m;

	n = url_authority(u, with_port, out, sizeof(out));
	CHECK(n > 0 && (size_t)n == strlen(out));
	CHECK(u->host_ipv6 == (out[0] == '['));
	CHECK(strncmp(out + u->host_ipv6, u->host, strlen(u->host)) == 0);
	/* exactly enough room, then one byte short */
	m = url_authority(u, with_port, tiny, (size_t)n + 1);
	CHECK(m == n && strcmp(tiny, out) == 0);
	CHECK(url_authority(u, with_port, tiny, (size_t)n) == -1);
}

static void check_url(const struct url *u)
{
	char rebuilt[FUZZ_URL_MAX], auth[FUZZ_AUTH_MAX];
	struct url v;
	size_t hl = strnlen(u->host, sizeof(u->host));
	size_t pl = strnlen(u->path, sizeof(u->path));
	size_t i;
	int n;

	CHECK(u->scheme == URL_HTTP || u->scheme == URL_HTTPS);
	CHECK(hl > 0 && hl < sizeof(u->host));
	CHECK(pl < sizeof(u->path));
	CHECK(u->port != 0);
	CHECK(pl == 0 || (u->path[0] == '/' && u->path[pl - 1] != '/'));
	for (i = 0; i < hl; i++)
		CHECK(u->host[i] > 0x20 && u->host[i] < 0x7f && u->host[i] != '%' &&
		      u->host[i] != '@' && u->host[i] != '/');
	for (i = 0; i < pl; i++)
		CHECK(u->path[i] > 0x20 && u->path[i] < 0x7f &&
		      u->path[i] != '?' && u->path[i] != '#');

	check_authority(u, 0);
	check_authority(u, 1);

	n = url_authority(u, 1, auth, sizeof(auth));
	CHECK(n > 0);
	memcpy(rebuilt, u->scheme == URL_HTTPS ? "https://" : "http://",
	       u->scheme == URL_HTTPS ? 9 : 8);
	strcat(rebuilt, auth);
	strcat(rebuilt, u->path);
	CHECK(url_parse(rebuilt, &v) == 0);
	CHECK(v.scheme == u->scheme && v.port == u->port &&
	      v.host_ipv6 == u->host_ipv6);
	CHECK(strcmp(v.host, u->host) == 0 && strcmp(v.path, u->path) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct url u;
	const char *msg;
	int r;

	if (size > FUZZ_MAX_INPUT)
		size = FUZZ_MAX_INPUT;
	if (size)
		memcpy(in, data, size);
	in[size] = '\0';

	r = url_parse(in, &u);
	if (r != 0) {
		CHECK(r >= URL_ERR_TOO_LONG && r <= URL_ERR_EMPTY);
		msg = url_strerror(r);
		CHECK(msg && strcmp(msg, "invalid URL") != 0);
		CHECK((r == URL_ERR_EMPTY) == (in[0] == '\0'));
		return 0;
	}
	CHECK(strnlen(in, URL_MAX_INPUT + 1) <= URL_MAX_INPUT);
	check_url(&u);
	return 0;
}
