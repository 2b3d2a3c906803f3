/* url.c: the accepted forms of device42.Host and proxy, and every refusal. */
#include <string.h>

#include "t.h"
#include "url.h"

struct url_case {
	const char *in;
	int ret;
	enum url_scheme scheme;
	const char *host;
	int ipv6;
	unsigned port;
	const char *path;
};

static const struct url_case good[] = {
	{ "https://ma.example", 0, URL_HTTPS, "ma.example", 0, 443, "" },
	{ "https://ma.example/", 0, URL_HTTPS, "ma.example", 0, 443, "" },
	{ "HTTPS://MA.example:8443/", 0, URL_HTTPS, "MA.example", 0, 8443, "" },
	{ "http://10.0.0.5", 0, URL_HTTP, "10.0.0.5", 0, 80, "" },
	{ "http://10.0.0.5:8080/d42//", 0, URL_HTTP, "10.0.0.5", 0, 8080, "/d42" },
	{ "https://[::1]:4443/a/b", 0, URL_HTTPS, "::1", 1, 4443, "/a/b" },
	{ "https://[2001:db8::1]", 0, URL_HTTPS, "2001:db8::1", 1, 443, "" },
	{ "https://[::ffff:10.1.2.3]:1", 0, URL_HTTPS, "::ffff:10.1.2.3", 1, 1, "" },
	{ "https://h:65535", 0, URL_HTTPS, "h", 0, 65535, "" },
	{ "https://h:00443", 0, URL_HTTPS, "h", 0, 443, "" },
	{ "ma.example", 0, URL_HTTPS, "ma.example", 0, 443, "" },	/* no scheme: https */
	{ "ma.example:8443/x", 0, URL_HTTPS, "ma.example", 0, 8443, "/x" },
	{ "https://under_score.lan/%7Euser", 0, URL_HTTPS, "under_score.lan", 0, 443, "/%7Euser" },
	/* numbers in a name, but not as its last label: a name */
	{ "https://10.ma.example", 0, URL_HTTPS, "10.ma.example", 0, 443, "" },
	{ "https://d42.0x1g", 0, URL_HTTPS, "d42.0x1g", 0, 443, "" },
	{ "https://1e3", 0, URL_HTTPS, "1e3", 0, 443, "" },
	{ "http://0.0.0.0:8", 0, URL_HTTP, "0.0.0.0", 0, 8, "" },
};

static const struct { const char *in; int ret; } bad[] = {
	{ "", URL_ERR_EMPTY },
	{ "ftp://h", URL_ERR_SCHEME },
	{ "file:///etc/passwd", URL_ERR_SCHEME },
	{ "https://user:pw@h", URL_ERR_USERINFO },
	{ "https://user@h/x", URL_ERR_USERINFO },
	{ "https://", URL_ERR_HOST },
	{ "https:///path", URL_ERR_HOST },
	{ "https://:443", URL_ERR_HOST },
	{ "https://h%41", URL_ERR_HOST },
	{ "https://h st", URL_ERR_HOST },
	{ "https://.h", URL_ERR_HOST },
	{ "https://[::1", URL_ERR_HOST },
	{ "https://[::1%eth0]", URL_ERR_HOST },
	{ "https://[zz::1]", URL_ERR_HOST },
	{ "https://[]", URL_ERR_HOST },
	/* IPv4 only as a dotted quad: the resolver reads these differently
	 * (octal, short and whole-number forms) from what they look like */
	{ "https://010.0.0.5", URL_ERR_HOST },
	{ "http://0177.0.0.01:18006", URL_ERR_HOST },
	{ "https://127.1", URL_ERR_HOST },
	{ "https://2130706433", URL_ERR_HOST },
	{ "https://0x7f.1", URL_ERR_HOST },
	{ "https://ma.0x7f", URL_ERR_HOST },
	{ "https://10.0.0.256", URL_ERR_HOST },
	{ "https://1.2.3.4.5", URL_ERR_HOST },
	{ "https://10.0.0.5.", URL_ERR_HOST },
	{ "https://ma.example.123", URL_ERR_HOST },
	{ "https://h:", URL_ERR_PORT },
	{ "https://h:0", URL_ERR_PORT },
	{ "https://h:65536", URL_ERR_PORT },
	{ "https://h:99999999999999999999", URL_ERR_PORT },
	{ "https://h:+443", URL_ERR_PORT },
	{ "https://h:-1", URL_ERR_PORT },
	{ "https://h:44a", URL_ERR_PORT },
	{ "https://h: 443", URL_ERR_PORT },
	{ "https://h:443:1", URL_ERR_PORT },
	{ "https://[::1]x", URL_ERR_PATH },
	{ "https://h?x=1", URL_ERR_PATH },
	{ "https://h/#frag", URL_ERR_PATH },
	{ "https://h/a b", URL_ERR_PATH },
	{ "https://h/a\r\nX: y", URL_ERR_PATH },
	{ "https://h/a?b", URL_ERR_PATH },
};

static void test_url_good(void)
{
	size_t i;
	struct url u;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		int r = url_parse(good[i].in, &u);

		if (r != 0) {
			printf("  %s -> %d\n", good[i].in, r);
			T_EQ_INT(r, 0);
			continue;
		}
		T_EQ_INT(u.scheme, good[i].scheme);
		T_EQ_STR(u.host, good[i].host);
		T_EQ_INT(u.host_ipv6, good[i].ipv6);
		T_EQ_INT(u.port, good[i].port);
		T_EQ_STR(u.path, good[i].path);
	}
}

static void test_url_bad(void)
{
	size_t i;
	struct url u;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = url_parse(bad[i].in, &u);

		if (r != bad[i].ret)
			printf("  \"%s\" -> %d, want %d\n", bad[i].in, r, bad[i].ret);
		T_EQ_INT(r, bad[i].ret);
		T_CHECK(strlen(url_strerror(r)) > 0);
	}
}

static void test_url_too_long(void)
{
	char s[URL_MAX_INPUT + 64];
	struct url u;

	memset(s, 'a', sizeof(s) - 1);
	s[sizeof(s) - 1] = '\0';
	T_EQ_INT(url_parse(s, &u), URL_ERR_TOO_LONG);	/* whole string */
	memcpy(s, "https://", 8);
	s[8 + URL_MAX_HOST] = '\0';			/* host of 256 */
	T_EQ_INT(url_parse(s, &u), URL_ERR_TOO_LONG);
	s[8 + URL_MAX_HOST - 1] = '\0';			/* host of 255 */
	T_EQ_INT(url_parse(s, &u), 0);
	memcpy(s, "https://h/", 10);
	memset(s + 10, 'p', URL_MAX_PATH);
	s[10 + URL_MAX_PATH] = '\0';
	T_EQ_INT(url_parse(s, &u), URL_ERR_TOO_LONG);
}

static void test_url_authority(void)
{
	struct url u;
	char b[300];

	T_EQ_INT(url_parse("https://ma.example/x", &u), 0);
	T_EQ_INT(url_authority(&u, 0, b, sizeof(b)), 10);
	T_EQ_STR(b, "ma.example");
	T_EQ_INT(url_authority(&u, 1, b, sizeof(b)), 14);
	T_EQ_STR(b, "ma.example:443");
	T_EQ_INT(url_parse("http://[::1]:8080", &u), 0);
	T_EQ_INT(url_authority(&u, 0, b, sizeof(b)), 10);
	T_EQ_STR(b, "[::1]:8080");
	T_EQ_INT(url_parse("http://[::1]", &u), 0);
	T_EQ_INT(url_authority(&u, 0, b, sizeof(b)), 5);
	T_EQ_STR(b, "[::1]");
	T_EQ_INT(url_authority(&u, 0, b, 5), -1);	/* no room for the NUL */
}

int main(void)
{
	T_RUN(test_url_good);
	T_RUN(test_url_bad);
	T_RUN(test_url_too_long);
	T_RUN(test_url_authority);
	return T_DONE();
}
