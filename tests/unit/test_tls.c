/* tls.c through the HTTP client against local TLS servers on 127.0.0.1,
 * with a CA and certificates made at test time by the openssl CLI:
 * `openssl s_server -www` (interoperability with OpenSSL) for
 * verification success and each failure, fingerprint pinning and the
 * verify-off warning; and a forked mbedTLS server (httpsrv.h) for
 * keep-alive, a large streamed POST and a chunked reply over TLS. Tests
 * that need openssl print SKIP when it is missing. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/version.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>
#if MBEDTLS_VERSION_NUMBER >= 0x03000000 && defined(MBEDTLS_PSA_CRYPTO_C)
#include <psa/crypto.h>
#endif

#include "http.h"
#include "httpsrv.h"
#include "t.h"
#include "tls.h"

#define OSSL_READY_MS 10000	/* s_server must print ACCEPT within */
#define OSSL_LIFETIME_S 30	/* alarm survives exec: it never outlives */
#define RUN_BOUND_MS 10000
#define TLS_NO_BUNDLE_MAX (128 * 1024)	/* a context without CAs holds less */

static char dir[64];		/* certificates */
static int have_openssl;

static const char gen_script[] =
	"set -e\n"
	"cd \"$1\"\n"
	"K='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes'\n"
	"openssl req -x509 $K -keyout ca.key -out ca.pem -days 2 -subj '/CN=d42pcap test CA'"
	" -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign\n"
	"leaf() {\n"
	"  openssl req -new $K -keyout $1.key -out $1.csr -subj \"/CN=$2\"\n"
	"  printf 'subjectAltName=%s\\nbasicConstraints=CA:FALSE\\nkeyUsage=digitalSignature\\n"
	"extendedKeyUsage=serverAuth\\n' \"$3\" > $1.ext\n"
	"  openssl x509 -req -in $1.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out $1.pem"
	" -days 2 -extfile $1.ext\n"
	"}\n"
	"leaf srv localhost DNS:localhost,IP:127.0.0.1,IP:::1\n"
	"leaf wrong wrong.example DNS:wrong.example\n"
	"leaf cnip 127.0.0.1 DNS:other.example\n"
	"leaf wild x DNS:*.example.com\n"
	"leaf wtld x DNS:*.com,DNS:*.localhost\n"
	"openssl req -new $K -keyout cli.key -out cli.csr -subj /CN=localhost\n"
	"printf 'subjectAltName=DNS:localhost\\nextendedKeyUsage=clientAuth\\n' > cli.ext\n"
	"openssl x509 -req -in cli.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out cli.pem"
	" -days 2 -extfile cli.ext\n"
	"openssl req -new $K -keyout bare.key -out bare.csr -subj /CN=127.0.0.1\n"
	"printf 'basicConstraints=CA:FALSE\\nextendedKeyUsage=serverAuth\\n' > bare.ext\n"
	"openssl x509 -req -in bare.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out bare.pem"
	" -days 2 -extfile bare.ext\n"
	"openssl req -x509 $K -keyout self.key -out self.pem -days 2 -subj /CN=localhost"
	" -addext subjectAltName=DNS:localhost,IP:127.0.0.1\n"
	"for c in srv self; do openssl x509 -in $c.pem -noout -fingerprint -sha256 > $c.fp; done\n";

static int gen_certs(void)
{
	char cmd[256];
	FILE *f;

	snprintf(dir, sizeof(dir), "/tmp/d42tls.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(cmd, sizeof(cmd), "%s/gen.sh", dir);
	f = fopen(cmd, "w");
	if (!f)
		return -1;
	fputs(gen_script, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "timeout 60 sh %s/gen.sh %s >%s/gen.log 2>&1", dir, dir, dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void rm_certs(void)
{
	char cmd[128];

	if (dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		(void)system(cmd);
	}
}

static const char *path(const char *name)
{
	static char b[4][128];
	static int i;

	i = (i + 1) % 4;
	snprintf(b[i], sizeof(b[i]), "%s/%s", dir, name);
	return b[i];
}

static void read_fp(const char *name, char *out, size_t n)
{
	FILE *f = fopen(path(name), "r");

	out[0] = '\0';
	if (!f)
		return;
	if (fgets(out, (int)n, f))
		out[strcspn(out, "\r\n")] = '\0';
	fclose(f);
}

/* ------------------------------------------------- openssl s_server */

#define OSSL_TRACE_MAX (256 * 1024)
#define OSSL_TRACE_WAIT_MS 300	/* quiet this long: it wrote all */

static const char *ossl_bind = "127.0.0.1";	/* s_server's address */
static int ossl_trace;			/* run s_server with -trace ... */
static char ossl_seen[OSSL_TRACE_MAX];	/* ... and keep what it printed */

struct ossl {
	pid_t pid;
	int out;	/* its stdout; kept open so it never gets SIGPIPE */
	uint16_t port;
};

static int free_port(uint16_t *port)
{
	int fd = srv_listen(port);

	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static int ossl_start(struct ossl *o, const char *cert)
{
	int pfd[2], devnull;
	char accept_arg[32], crt[128], key[128], buf[512];
	size_t have = 0;
	uint64_t t0;

	if (free_port(&o->port) < 0 || pipe(pfd) < 0)
		return -1;
	snprintf(accept_arg, sizeof(accept_arg), "%s:%u", ossl_bind, (unsigned)o->port);
	snprintf(crt, sizeof(crt), "%s/%s.pem", dir, cert);
	snprintf(key, sizeof(key), "%s/%s.key", dir, cert);
	fflush(stdout);
	o->pid = fork();
	if (o->pid < 0)
		return -1;
	if (o->pid == 0) {
		alarm(OSSL_LIFETIME_S);
		devnull = open("/dev/null", O_RDWR);
		dup2(devnull, 0);
		dup2(pfd[1], 1);
		dup2(devnull, 2);
		close(pfd[0]);
		execlp("openssl", "openssl", "s_server", "-accept", accept_arg,
		       "-cert", crt, "-key", key, "-www",
		       ossl_trace ? "-trace" : (char *)NULL, (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	o->out = pfd[0];
	t0 = srv_now_ms();
	while (srv_now_ms() - t0 < OSSL_READY_MS && have < sizeof(buf) - 1) {
		struct pollfd p = { .fd = o->out, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 100) <= 0)
			continue;
		n = read(o->out, buf + have, sizeof(buf) - 1 - have);
		if (n <= 0)
			break;
		have += (size_t)n;
		buf[have] = '\0';
		if (strstr(buf, "ACCEPT\n"))
			return 0;
	}
	printf("  openssl s_server did not start\n");
	kill(o->pid, SIGKILL);
	waitpid(o->pid, NULL, 0);
	close(o->out);
	return -1;
}

/* What s_server printed after ACCEPT, into ossl_seen. */
static void ossl_collect(struct ossl *o)
{
	size_t have = 0;

	for (;;) {
		struct pollfd p = { .fd = o->out, .events = POLLIN };
		ssize_t n;

		if (have + 1 >= sizeof(ossl_seen) || poll(&p, 1, OSSL_TRACE_WAIT_MS) <= 0)
			break;
		n = read(o->out, ossl_seen + have, sizeof(ossl_seen) - 1 - have);
		if (n <= 0)
			break;
		have += (size_t)n;
	}
	ossl_seen[have] = '\0';
}

static void ossl_stop(struct ossl *o)
{
	kill(o->pid, SIGKILL);
	waitpid(o->pid, NULL, 0);
	close(o->out);
}

struct opts {
	const char *host;	/* "localhost" or "127.0.0.1" */
	const char *ca;		/* file name in dir, or NULL: system bundle */
	const char *pin_from;	/* fingerprint file in dir, or NULL */
	int verify;
};

/* One GET / against an s_server with cert; returns HTTP_DONE/FAILED and
 * the client's error (or the body's first bytes) in out. */
static int ossl_get(const char *cert, const struct opts *op, char *out, size_t n,
		    char *tlsver, size_t tvn)
{
	struct ossl o;
	struct http_client *c;
	struct http_client_cfg cfg = { .verify_tls = op->verify, .handshake_ms = 5000,
				       .io_ms = 5000 };
	struct http_request rq = { .method = "GET", .path = "/" };
	char url[64], fp[200], err[512];
	int r;

	if (ossl_start(&o, cert) < 0) {
		snprintf(out, n, "no server");
		return -99;
	}
	snprintf(url, sizeof(url), strchr(op->host, ':') ? "https://[%s]:%u" : "https://%s:%u",
		 op->host, (unsigned)o.port);
	cfg.url = url;
	cfg.ca_file = op->ca ? path(op->ca) : NULL;
	if (op->pin_from) {
		read_fp(op->pin_from, fp, sizeof(fp));
		cfg.tls_fingerprint = fp;
	}
	c = http_client_new(&cfg, err, sizeof(err));
	if (!c) {
		snprintf(out, n, "new: %s", err);
		ossl_stop(&o);
		return -98;
	}
	r = srv_run_client(c, &rq, RUN_BOUND_MS, NULL);
	if (r == HTTP_DONE)
		snprintf(out, n, "%d %.37s", resp_status(c),
			 resp_body(c));
	else
		snprintf(out, n, "%s", http_client_error(c));
	if (tlsver)
		snprintf(tlsver, tvn, "%s", http_client_tls_version(c));
	http_client_free(c);
	if (ossl_trace)
		ossl_collect(&o);
	ossl_stop(&o);
	return r;
}

/* Tests needing the openssl CLI (certificates, s_server) are skipped
 * with a message when it is missing. */
#define T_RUN_OSSL(fn) do { if (have_openssl) T_RUN(fn); else \
	printf("SKIP %s: openssl CLI not found or certificate generation failed\n", #fn); \
	} while (0)

static void test_tls_fingerprint_parse(void)
{
	uint8_t fp[TLS_SHA256_LEN];
	char s[200];
	int i;

	for (i = 0; i < TLS_SHA256_LEN; i++)
		snprintf(s + 2 * i, 3, "%02x", i * 7);
	T_EQ_INT(tls_parse_fingerprint(s, fp), 0);
	T_EQ_INT(fp[0], 0);
	T_EQ_INT(fp[31], 31 * 7);
	T_EQ_INT(tls_parse_fingerprint("sha256 Fingerprint=D4:2C:99:BF:02:41:E1:22:4B:1B:DD:89:98:E1:21:85:"
				       "F3:47:E6:8F:32:93:01:47:ED:3E:29:F5:1B:9F:5B:5D", fp), 0);
	T_EQ_INT(fp[0], 0xd4);
	T_EQ_INT(fp[31], 0x5d);
	T_EQ_INT(tls_parse_fingerprint("SHA256:d42c99bf0241e1224b1bdd8998e12185f347e68f32930147ed3e29f51b9f5b5d", fp), 0);
	T_EQ_INT(fp[1], 0x2c);
	/* refused: short, long, mixed separators, junk, empty */
	T_EQ_INT(tls_parse_fingerprint("d42c99", fp), -1);
	T_EQ_INT(tls_parse_fingerprint("d42c99bf0241e1224b1bdd8998e12185f347e68f32930147ed3e29f51b9f5b5d00", fp), -1);
	T_EQ_INT(tls_parse_fingerprint("D4:2C99:BF:02:41:E1:22:4B:1B:DD:89:98:E1:21:85:"
				       "F3:47:E6:8F:32:93:01:47:ED:3E:29:F5:1B:9F:5B:5D", fp), -1);
	T_EQ_INT(tls_parse_fingerprint("D4:2C:99:BF:02:41:E1:22:4B:1B:DD:89:98:E1:21:85:"
				       "F3:47:E6:8F:32:93:01:47:ED:3E:29:F5:1B:9F:5B:5D:", fp), -1);
	T_EQ_INT(tls_parse_fingerprint("g42c99bf0241e1224b1bdd8998e12185f347e68f32930147ed3e29f51b9f5b5d", fp), -1);
	T_EQ_INT(tls_parse_fingerprint("", fp), -1);
}

static void test_tls_bad_ca_file(void)
{
	struct http_client_cfg cfg = { .url = "https://127.0.0.1", .verify_tls = 1,
				       .ca_file = "/nonexistent/ca.pem" };
	char err[512];

	T_CHECK(http_client_new(&cfg, err, sizeof(err)) == NULL);
	T_CHECK(strstr(err, "cannot load CA file /nonexistent/ca.pem") != NULL);
}

/* mallinfo2() sees glibc's heap: not under a sanitizer's allocator. */
#if defined(__SANITIZE_ADDRESS__)
#define HEAP_UNSEEN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer)
#define HEAP_UNSEEN 1
#endif
#endif
#if defined(__GLIBC__) && !defined(HEAP_UNSEEN)
#define HEAP_MEASURED 1
#include <malloc.h>

/* Heap bytes in use while a context made with cfg exists. */
static long tls_new_heap(const struct tls_cfg *cfg)
{
	char err[256];
	size_t before = mallinfo2().uordblks, after;
	struct tls *t = tls_new(cfg, err, sizeof(err));

	after = mallinfo2().uordblks;
	T_CHECK(t != NULL);
	tls_free(t);
	return (long)after - (long)before;
}
#endif

/* The system bundle is parsed only when a chain is checked with it: pinned
 * or unverified, it would hold about 1 MiB for nothing (docs/MEMORY.md). */
static void test_tls_bundle_only_when_used(void)
{
#if defined(HEAP_MEASURED)
	struct tls_cfg verify = { .verify = 1 }, off = { .verify = 0 },
		       pinned = { .verify = 1, .pinned = 1 };
	long v, o, p;

	o = tls_new_heap(&off);
	p = tls_new_heap(&pinned);
	printf("  # heap held by a TLS context: unverified %ld, pinned %ld bytes\n", o, p);
	T_CHECK(o < TLS_NO_BUNDLE_MAX);
	T_CHECK(p < TLS_NO_BUNDLE_MAX);
	if (access("/etc/ssl/certs/ca-certificates.crt", R_OK) == 0) {
		/* and the measure would see it: the verifying context's */
		v = tls_new_heap(&verify);
		printf("  # with the system bundle: %ld bytes\n", v);
		T_CHECK(v > TLS_NO_BUNDLE_MAX);
	}
#else
	printf("  # not glibc's heap (another libc, or a sanitizer's): nothing measured\n");
#endif
}

static void test_tls_verify_ok(void)
{
	struct opts op = { "localhost", "ca.pem", NULL, 1 };
	char out[600], ver[32];

	T_EQ_INT(ossl_get("srv", &op, out, sizeof(out), ver, sizeof(ver)), HTTP_DONE);
	T_EQ_STR(out, "200 <HTML><BODY BGCOLOR=\"#ffffff\">\n<pre>\n");
	printf("  # negotiated %s with OpenSSL (mbedTLS %s)\n", ver, MBEDTLS_VERSION_STRING);
	T_CHECK(strcmp(ver, "TLSv1.2") == 0 || strcmp(ver, "TLSv1.3") == 0);
#if defined(MBEDTLS_SSL_PROTO_TLS1_3)
	T_EQ_STR(ver, "TLSv1.3");
#endif
	/* an IP-literal host matched against the iPAddress SAN */
	op.host = "127.0.0.1";
	T_EQ_INT(ossl_get("srv", &op, out, sizeof(out), NULL, 0), HTTP_DONE);
	T_EQ_STR(out, "200 <HTML><BODY BGCOLOR=\"#ffffff\">\n<pre>\n");
}

static void test_tls_untrusted(void)
{
	struct opts op = { "localhost", "ca.pem", NULL, 1 };
	char out[600];

	T_EQ_INT(ossl_get("self", &op, out, sizeof(out), NULL, 0), HTTP_FAILED);
	T_EQ_STR(out, "TLS: certificate verification failed for localhost: "
		 "The certificate is not correctly signed by the trusted CA");
	/* the system bundle does not trust it either */
	op.ca = NULL;
	T_EQ_INT(ossl_get("self", &op, out, sizeof(out), NULL, 0), HTTP_FAILED);
	T_CHECK(strstr(out, "not correctly signed by the trusted CA") != NULL);
}

/* Not a server's certificate: refused, and the log says why. */
static void test_tls_not_server_cert(void)
{
	struct opts op = { "localhost", "ca.pem", NULL, 1 };
	char out[600];

	T_EQ_INT(ossl_get("cli", &op, out, sizeof(out), NULL, 0), HTTP_FAILED);
	T_EQ_STR(out, "TLS: certificate verification failed for localhost: "
		 "Usage does not match the extendedKeyUsage extension");
}

static void test_tls_wrong_name(void)
{
	struct opts op = { "localhost", "ca.pem", NULL, 1 };
	char out[600];

	T_EQ_INT(ossl_get("wrong", &op, out, sizeof(out), NULL, 0), HTTP_FAILED);
	T_EQ_STR(out, "TLS: certificate verification failed for localhost: "
		 "The certificate Common Name (CN) does not match with the expected CN");
	op.host = "127.0.0.1";
	T_EQ_INT(ossl_get("wrong", &op, out, sizeof(out), NULL, 0), HTTP_FAILED);
	T_CHECK(strstr(out, "Common Name (CN) does not match") != NULL);
}

/* An IP-literal host: no server name in the ClientHello (RFC 6066), and
 * the address matched in the certificate: as an iPAddress SAN, or as the
 * CN of one without SANs; a CN naming it beside SANs that do not is not
 * enough. A DNS name is sent (s_server -trace shows the extensions). */
static void test_tls_ip_host(void)
{
	struct opts op = { "localhost", "ca.pem", NULL, 1 };
	char out[600];
	int r;

	ossl_trace = 1;
	T_EQ_INT(ossl_get("srv", &op, out, sizeof(out), NULL, 0), HTTP_DONE);
	T_CHECK(strstr(ossl_seen, "ClientHello") != NULL);
	T_CHECK(strstr(ossl_seen, "extension_type=server_name") != NULL);
	op.host = "127.0.0.1";
	T_EQ_INT(ossl_get("srv", &op, out, sizeof(out), NULL, 0), HTTP_DONE);
	T_EQ_STR(out, "200 <HTML><BODY BGCOLOR=\"#ffffff\">\n<pre>\n");
	T_CHECK(strstr(ossl_seen, "ClientHello") != NULL);
	T_CHECK(strstr(ossl_seen, "extension_type=server_name") == NULL);
	ossl_trace = 0;

	T_EQ_INT(ossl_get("bare", &op, out, sizeof(out), NULL, 0), HTTP_DONE);
	T_EQ_INT(ossl_get("cnip", &op, out, sizeof(out), NULL, 0), HTTP_FAILED);
	T_CHECK(strstr(out, "Common Name (CN) does not match") != NULL);
	op.host = "localhost";
	T_EQ_INT(ossl_get("bare", &op, out, sizeof(out), NULL, 0), HTTP_FAILED);
	T_CHECK(strstr(out, "Common Name (CN) does not match") != NULL);

	/* IPv6: the 16-byte iPAddress SAN; a certificate without it refused */
	ossl_bind = "[::1]";
	op.host = "::1";
	ossl_trace = 1;
	r = ossl_get("srv", &op, out, sizeof(out), NULL, 0);
	ossl_trace = 0;
	if (r == -99) {
		printf("  # no IPv6 loopback here: the ::1 checks skipped\n");
	} else {
		T_EQ_INT(r, HTTP_DONE);
		T_CHECK(strstr(ossl_seen, "ClientHello") != NULL);
		T_CHECK(strstr(ossl_seen, "extension_type=server_name") == NULL);
		T_EQ_INT(ossl_get("cnip", &op, out, sizeof(out), NULL, 0), HTTP_FAILED);
		T_CHECK(strstr(out, "Common Name (CN) does not match") != NULL);
	}
	ossl_bind = "127.0.0.1";
}

static void test_tls_pin(void)
{
	struct opts op = { "localhost", NULL, "self.fp", 1 };
	char out[600], srvfp[200], want[600];

	/* a self-signed certificate is accepted when its SHA-256 is pinned */
	T_EQ_INT(ossl_get("self", &op, out, sizeof(out), NULL, 0), HTTP_DONE);
	T_EQ_STR(out, "200 <HTML><BODY BGCOLOR=\"#ffffff\">\n<pre>\n");
	/* even under another name: the pin is the identity */
	op.host = "127.0.0.1";
	T_EQ_INT(ossl_get("self", &op, out, sizeof(out), NULL, 0), HTTP_DONE);
	/* a valid, CA-signed certificate that is not the pinned one fails,
	 * and the error shows its fingerprint */
	op.host = "localhost";
	op.ca = "ca.pem";
	T_EQ_INT(ossl_get("srv", &op, out, sizeof(out), NULL, 0), HTTP_FAILED);
	read_fp("srv.fp", srvfp, sizeof(srvfp));
	snprintf(want, sizeof(want), "TLS: certificate of localhost does not match "
		 "device42.tls-fingerprint (its SHA-256 is %s)", strchr(srvfp, '=') + 1);
	T_EQ_STR(out, want);
}

/* A TLS handshake straight through tls.c with s_server serving cert on
 * 127.0.0.1, for any host name (none of which need resolve): "ok" or
 * the error in out. */
static void tls_name_check(const char *cert, const char *host, char *out, size_t n)
{
	struct tls_cfg tc = { .ca_file = path("ca.pem"), .verify = 1 };
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct ossl o;
	struct tls *t;
	char err[512];
	int fd, r = TLS_ERR, i;

	snprintf(out, n, "no server");
	if (ossl_start(&o, cert) < 0)
		return;
	t = tls_new(&tc, err, sizeof(err));
	sa.sin_port = htons(o.port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (t && fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    fcntl(fd, F_SETFL, O_NONBLOCK) == 0 && tls_start(t, fd, host) == 0) {
		for (i = 0; i < RUN_BOUND_MS / 10; i++) {
			struct pollfd p = { .fd = fd };

			r = tls_handshake(t);
			if (r != TLS_WANT_READ && r != TLS_WANT_WRITE)
				break;
			p.events = r == TLS_WANT_READ ? POLLIN : POLLOUT;
			(void)poll(&p, 1, 10);
		}
		snprintf(out, n, "%s", r == TLS_OK ? "ok" : tls_error(t));
	} else {
		snprintf(out, n, "setup failed: %s", t ? tls_error(t) : err);
	}
	if (fd >= 0)
		close(fd);
	tls_free(t);
	ossl_stop(&o);
}

/* RFC 6125 6.4.3: "*." stands for exactly the left-most label, and is
 * not honoured over a single label ("*.com", "*.localhost": a public
 * suffix, or what may be one), where mbedTLS alone would accept it. */
static void test_tls_wildcard(void)
{
	char out[600];

	tls_name_check("wild", "a.example.com", out, sizeof(out));
	T_EQ_STR(out, "ok");
	tls_name_check("wild", "A.Example.COM", out, sizeof(out));
	T_EQ_STR(out, "ok");
	tls_name_check("wild", "example.com", out, sizeof(out));
	T_CHECK(strstr(out, "Common Name (CN) does not match") != NULL);
	tls_name_check("wild", "a.b.example.com", out, sizeof(out));
	T_CHECK(strstr(out, "Common Name (CN) does not match") != NULL);
	tls_name_check("wtld", "example.com", out, sizeof(out));
	T_CHECK(strstr(out, "Common Name (CN) does not match") != NULL);
	tls_name_check("wtld", "d42.localhost", out, sizeof(out));
	T_CHECK(strstr(out, "Common Name (CN) does not match") != NULL);
}

/* stderr into a file while fn runs; returns how often needle appears. */
static int count_in_stderr(const char *needle, void (*fn)(void))
{
	char tmp[] = "/tmp/d42err.XXXXXX", buf[8192];
	int fd = mkstemp(tmp), saved = dup(2), count = 0;
	ssize_t n;
	char *p;

	if (fd < 0 || saved < 0)
		return -1;
	fflush(stderr);
	dup2(fd, 2);
	fn();
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	close(fd);
	unlink(tmp);
	buf[n > 0 ? n : 0] = '\0';
	for (p = buf; (p = strstr(p, needle)) != NULL; p++)
		count++;
	return count;
}

static int verify_off_results[2];

static void two_unverified_connections(void)
{
	struct opts op = { "localhost", "ca.pem", NULL, 0 };
	char out[600];

	verify_off_results[0] = ossl_get("self", &op, out, sizeof(out), NULL, 0);
	verify_off_results[1] = ossl_get("wrong", &op, out, sizeof(out), NULL, 0);
}

static void test_tls_verify_off_warns(void)
{
	/* untrusted and misnamed both accepted, one warning per connection */
	T_EQ_INT(count_in_stderr("TLS certificate verification is disabled "
				 "(device42.verify-tls: false): the connection to "
				 "localhost is not authenticated",
				 two_unverified_connections), 2);
	T_EQ_INT(verify_off_results[0], HTTP_DONE);
	T_EQ_INT(verify_off_results[1], HTTP_DONE);
}

static const char *cred_url, *cred_user;

static void client_with_credentials(void)
{
	struct http_client_cfg cfg = { .url = cred_url, .verify_tls = 1, .user = cred_user,
				       .password = "secret", .tls_fingerprint =
				       "d42c99bf0241e1224b1bdd8998e12185f347e68f32930147ed3e29f51b9f5b5d" };
	char err[256];
	struct http_client *c = http_client_new(&cfg, err, sizeof(err));

	T_CHECK(c != NULL);
	http_client_free(c);
}

/* A password over plain http is allowed (a lab appliance) but said. */
static void test_plain_http_credentials_warn(void)
{
	const char *w = "device42.Host is http://: device42.User's password goes to "
			"127.0.0.1:8080 unencrypted; use https://";

	cred_url = "http://127.0.0.1:8080";
	cred_user = "admin";
	T_EQ_INT(count_in_stderr(w, client_with_credentials), 1);
	cred_user = "";		/* no credentials, nothing to say */
	T_EQ_INT(count_in_stderr("unencrypted", client_with_credentials), 0);
	cred_url = "https://127.0.0.1:8080";
	cred_user = "admin";
	T_EQ_INT(count_in_stderr("unencrypted", client_with_credentials), 0);
}

/* ------------------------------------------- CONNECT proxy (a relay) */

#define RELAY_BUF 16384

/* Child: accept, record the CONNECT request (httpsrv.h log format), dial
 * 127.0.0.1:<port of the request>, answer 200, then copy both ways. */
static void relay_child(int lfd, const char *logpath)
{
	char req[4096], buf[RELAY_BUF];
	FILE *log = fopen(logpath, "w");
	int conn = 0;

	alarm(SRV_LIFETIME_S);
	if (!log)
		_exit(3);
	for (;;) {
		int c = accept(lfd, NULL, NULL), t;
		size_t have = 0;
		ssize_t n;
		char *colon;
		struct sockaddr_in sa;
		struct pollfd p[2];

		if (c < 0)
			_exit(4);
		req[0] = '\0';
		while (have < sizeof(req) - 1 && !strstr(req, "\r\n\r\n")) {
			n = read(c, req + have, sizeof(req) - 1 - have);
			if (n <= 0)
				break;
			have += (size_t)n;
			req[have] = '\0';
		}
		fprintf(log, "%d %zu\n", conn++, have);
		fwrite(req, 1, have, log);
		fputc('\n', log);
		fflush(log);
		colon = strchr(req, ':');
		t = socket(AF_INET, SOCK_STREAM, 0);
		memset(&sa, 0, sizeof(sa));
		sa.sin_family = AF_INET;
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sa.sin_port = htons((uint16_t)(colon ? atoi(colon + 1) : 0));
		if (strncmp(req, "CONNECT ", 8) != 0 || t < 0 ||
		    connect(t, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			(void)!write(c, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n", 47);
			close(c);
			if (t >= 0)
				close(t);
			continue;
		}
		(void)!write(c, "HTTP/1.1 200 Connection established\r\n\r\n", 39);
		p[0].fd = c;
		p[1].fd = t;
		p[0].events = p[1].events = POLLIN;
		while (poll(p, 2, SRV_SOCK_TO_S * 1000) > 0) {
			int from = (p[0].revents & (POLLIN | POLLHUP | POLLERR)) ? 0 : 1;

			n = read(p[from].fd, buf, sizeof(buf));
			if (n <= 0 || write(p[1 - from].fd, buf, (size_t)n) != n)
				break;
		}
		close(c);
		close(t);
	}
}

static int relay_start(struct srv *sv)
{
	int lfd = srv_listen(&sv->port);

	if (lfd < 0)
		return -1;
	snprintf(sv->log, sizeof(sv->log), "/tmp/d42relay.%ld.%u", (long)getpid(),
		 (unsigned)sv->port);
	fflush(stdout);
	sv->pid = fork();
	if (sv->pid < 0)
		return -1;
	if (sv->pid == 0) {
		relay_child(lfd, sv->log);
		_exit(0);
	}
	close(lfd);
	return 0;
}

static void test_tls_through_proxy(void)
{
	struct ossl o;
	struct srv relay;
	struct srv_rec rec[SRV_MAX_RECS];
	struct http_client *c;
	struct http_client_cfg cfg = { .verify_tls = 1, .io_ms = 5000, .handshake_ms = 5000 };
	struct http_request rq = { .method = "GET", .path = "/" };
	char url[64], proxy[64], err[512], want[256];
	int n, i;

	if (relay_start(&relay) < 0 || ossl_start(&o, "srv") < 0) {
		T_CHECK(0);
		return;
	}
	snprintf(url, sizeof(url), "https://localhost:%u", (unsigned)o.port);
	snprintf(proxy, sizeof(proxy), "http://127.0.0.1:%u", (unsigned)relay.port);
	cfg.url = url;
	cfg.proxy = proxy;
	for (i = 0; i < 2; i++) {
		/* trusted CA: through; then a CA that does not sign it: refused */
		cfg.ca_file = path(i == 0 ? "ca.pem" : "self.pem");
		c = http_client_new(&cfg, err, sizeof(err));
		T_CHECK(c != NULL);
		if (!c)
			break;
		if (i == 0) {
			T_EQ_INT(srv_run_client(c, &rq, RUN_BOUND_MS, NULL), HTTP_DONE);
			T_EQ_INT(resp_status(c), 200);
		} else {
			T_EQ_INT(srv_run_client(c, &rq, RUN_BOUND_MS, NULL), HTTP_FAILED);
			T_CHECK(strstr(http_client_error(c), "not correctly signed") != NULL);
		}
		http_client_free(c);
	}
	ossl_stop(&o);
	n = srv_stop(&relay, rec, SRV_MAX_RECS);
	T_EQ_INT(n, 2);
	snprintf(want, sizeof(want), "CONNECT localhost:%u HTTP/1.1\r\nHost: localhost:%u\r\n"
		 "User-Agent: d42pcap/" D42_VERSION "\r\n\r\n", (unsigned)o.port, (unsigned)o.port);
	if (n >= 1)
		T_EQ_STR(rec[0].bytes, want);
	srv_free_recs(rec, n);
}

/* -------------------------------------- forked mbedTLS scripted server */
/* Needs the library's server side, which a client-only build (the static
 * 3.6 build's third_party/mbedtls_config.h) leaves out: then SKIP. */
#if defined(MBEDTLS_SSL_SRV_C)

static mbedtls_entropy_context s_entropy;
static mbedtls_ctr_drbg_context s_drbg;
static mbedtls_x509_crt s_crt;
static mbedtls_pk_context s_key;
static mbedtls_ssl_config s_conf;

static int s_send(void *ctx, const unsigned char *b, size_t n)
{
	ssize_t r = send(*(int *)ctx, b, n, MSG_NOSIGNAL);

	return r < 0 ? MBEDTLS_ERR_SSL_INTERNAL_ERROR : (int)r;
}

static int s_recv(void *ctx, unsigned char *b, size_t n)
{
	ssize_t r = recv(*(int *)ctx, b, n, 0);

	return r < 0 ? MBEDTLS_ERR_SSL_INTERNAL_ERROR : (int)r;
}

struct s_conn {
	mbedtls_ssl_context ssl;
	int fd;
};

static void *s_open(int fd)
{
	struct s_conn *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->fd = fd;
	mbedtls_ssl_init(&s->ssl);
	if (mbedtls_ssl_setup(&s->ssl, &s_conf) != 0)
		goto fail;
	mbedtls_ssl_set_bio(&s->ssl, &s->fd, s_send, s_recv, NULL);
	if (mbedtls_ssl_handshake(&s->ssl) != 0)
		goto fail;
	return s;
fail:
	mbedtls_ssl_free(&s->ssl);
	free(s);
	return NULL;
}

static long s_rd(void *h, void *b, size_t n)
{
	struct s_conn *s = h;
	int r;

	do
		r = mbedtls_ssl_read(&s->ssl, b, n);
	while (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE);
	return r < 0 ? 0 : r;
}

static long s_wr(void *h, const void *b, size_t n)
{
	struct s_conn *s = h;

	return mbedtls_ssl_write(&s->ssl, b, n);
}

static void s_close(void *h)
{
	struct s_conn *s = h;

	(void)mbedtls_ssl_close_notify(&s->ssl);
	mbedtls_ssl_free(&s->ssl);
	free(s);
}

static int s_setup(void)
{
	int ret;

#if MBEDTLS_VERSION_NUMBER >= 0x03000000 && defined(MBEDTLS_PSA_CRYPTO_C)
	if (psa_crypto_init() != PSA_SUCCESS)
		return -1;
#endif
	mbedtls_entropy_init(&s_entropy);
	mbedtls_ctr_drbg_init(&s_drbg);
	mbedtls_x509_crt_init(&s_crt);
	mbedtls_pk_init(&s_key);
	mbedtls_ssl_config_init(&s_conf);
	if (mbedtls_ctr_drbg_seed(&s_drbg, mbedtls_entropy_func, &s_entropy, NULL, 0) != 0 ||
	    mbedtls_x509_crt_parse_file(&s_crt, path("srv.pem")) != 0)
		return -1;
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
	ret = mbedtls_pk_parse_keyfile(&s_key, path("srv.key"), NULL,
				       mbedtls_ctr_drbg_random, &s_drbg);
#else
	ret = mbedtls_pk_parse_keyfile(&s_key, path("srv.key"), NULL);
#endif
	if (ret != 0 ||
	    mbedtls_ssl_config_defaults(&s_conf, MBEDTLS_SSL_IS_SERVER,
					MBEDTLS_SSL_TRANSPORT_STREAM,
					MBEDTLS_SSL_PRESET_DEFAULT) != 0)
		return -1;
	mbedtls_ssl_conf_rng(&s_conf, mbedtls_ctr_drbg_random, &s_drbg);
	return mbedtls_ssl_conf_own_cert(&s_conf, &s_crt, &s_key) == 0 ? 0 : -1;
}

static void s_teardown(void)
{
	mbedtls_ssl_config_free(&s_conf);
	mbedtls_pk_free(&s_key);
	mbedtls_x509_crt_free(&s_crt);
	mbedtls_ctr_drbg_free(&s_drbg);
	mbedtls_entropy_free(&s_entropy);
}

#define S_URL_MAX 64

/* A client of the forked server sv, verifying against the test CA; url
 * (S_URL_MAX bytes) must outlive it. */
static struct http_client *s_client(const struct srv *sv, struct http_client_cfg *cfg,
				    char *url)
{
	char err[512];

	snprintf(url, S_URL_MAX, "https://localhost:%u", (unsigned)sv->port);
	cfg->url = url;
	cfg->ca_file = path("ca.pem");
	return http_client_new(cfg, err, sizeof(err));
}

#define BIG (256 * 1024 + 3)

static void test_tls_keepalive_streamed_post(void)
{
	static const struct srv_step script[] = {
		SRV_ANSWER("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{\"code\":0}"),
		SRV_ANSWER("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
			   "4\r\nchun\r\n3\r\nked\r\n0\r\n\r\n"),
	};
	static const struct srv_io io = { s_open, s_rd, s_wr, s_close };
	char tmpl[] = "/tmp/d42tlsbody.XXXXXX", url[S_URL_MAX], *body = malloc(BIG), *p;
	struct srv sv;
	struct srv_rec rec[SRV_MAX_RECS];
	struct http_client *c;
	struct http_client_cfg cfg = { .verify_tls = 1, .io_ms = 5000, .handshake_ms = 5000 };
	struct http_request post = { .method = "POST", .path = "/api/2.0/x/",
				     .content_type = "application/x-www-form-urlencoded",
				     .body_len = BIG };
	struct http_request get = { .method = "GET", .path = "/again" };
	int fd = mkstemp(tmpl), i, n;

	T_CHECK(fd >= 0 && body);
	if (fd < 0 || !body || s_setup() < 0) {
		T_CHECK(0);
		return;
	}
	unlink(tmpl);
	for (i = 0; i < BIG; i++)
		body[i] = (char)(i * 31 + (i >> 9));
	T_EQ_INT(write(fd, body, BIG), BIG);
	post.body_fd = fd;
	T_EQ_INT(srv_start(&sv, script, 2, &io), 0);
	c = s_client(&sv, &cfg, url);
	T_CHECK(c != NULL);
	if (c) {
		T_EQ_INT(srv_run_client(c, &post, RUN_BOUND_MS, NULL), HTTP_DONE);
		T_EQ_STR(resp_body(c), "{\"code\":0}");
		T_EQ_INT(srv_run_client(c, &get, RUN_BOUND_MS, NULL), HTTP_DONE);
		T_EQ_STR(resp_body(c), "chunked");
		T_EQ_INT(http_client_connections(c), 1);
		T_CHECK(http_client_tls_version(c)[0] != '\0');
		http_client_free(c);
	}
	n = srv_stop(&sv, rec, SRV_MAX_RECS);
	T_EQ_INT(n, 2);
	if (n == 2) {
		T_EQ_INT(rec[1].conn, 0);	/* same TLS connection */
		p = strstr(rec[0].bytes, "\r\n\r\n");
		T_CHECK(p && rec[0].len - (size_t)(p + 4 - rec[0].bytes) == BIG &&
			memcmp(p + 4, body, BIG) == 0);
		T_CHECK(strstr(rec[0].bytes, "Host: localhost:") != NULL);
		T_CHECK(strncmp(rec[1].bytes, "GET /again HTTP/1.1\r\n", 21) == 0);
	}
	srv_free_recs(rec, n);
	s_teardown();
	close(fd);
	free(body);
}

#define HUGE_BODY (16u << 20)	/* more than both ends' socket buffers hold */

/* Over TLS too: a 413 sent before the body was read, then the connection
 * closed, is what the request gets, not the send error. */
static void test_tls_early_answer(void)
{
	static const struct srv_step script[] = {
		SRV_EARLY("HTTP/1.1 413 Payload Too Large\r\nContent-Length: 4\r\n"
			  "Connection: close\r\n\r\nbig!"),
	};
	static const struct srv_io io = { s_open, s_rd, s_wr, s_close };
	char tmpl[] = "/tmp/d42tlsbody.XXXXXX", url[S_URL_MAX];
	struct srv sv;
	struct srv_rec rec[SRV_MAX_RECS];
	struct http_client *c;
	struct http_client_cfg cfg = { .verify_tls = 1, .io_ms = 5000, .handshake_ms = 5000 };
	struct http_request post = { .method = "POST", .path = "/api/1.0/sample/",
				     .content_type = "application/json",
				     .body_len = HUGE_BODY };
	const struct http_response *r;
	int fd = mkstemp(tmpl), n;

	T_CHECK(fd >= 0);
	if (fd < 0 || s_setup() < 0) {
		T_CHECK(0);
		return;
	}
	unlink(tmpl);
	T_EQ_INT(ftruncate(fd, HUGE_BODY), 0);
	post.body_fd = fd;
	T_EQ_INT(srv_start(&sv, script, 1, &io), 0);
	c = s_client(&sv, &cfg, url);
	T_CHECK(c != NULL);
	if (c) {
		T_EQ_INT(srv_run_client(c, &post, RUN_BOUND_MS, NULL), HTTP_DONE);
		r = http_client_response(c);
		T_CHECK(r && r->status == 413);
		T_EQ_STR(resp_body(c), "big!");
		http_client_free(c);
	}
	n = srv_stop(&sv, rec, SRV_MAX_RECS);
	T_EQ_INT(n, 1);
	srv_free_recs(rec, n);
	s_teardown();
	close(fd);
}

/* The connection closed without close_notify (a server that just drops it,
 * or someone cutting it): no s_close(), only the socket closes. */
static void s_close_cut(void *h)
{
	struct s_conn *s = h;

	mbedtls_ssl_free(&s->ssl);
	free(s);
}

/* A body only the close ends is whole only after close_notify: cut
 * without it, the response is refused as truncated; with it, taken. */
static void test_tls_close_delimited_needs_close_notify(void)
{
	static const struct srv_step script[] = {
		SRV_CLOSE_AFTER("HTTP/1.1 200 OK\r\n\r\n{\"msg\": \"part"),
	};
	static const struct srv_io cut = { s_open, s_rd, s_wr, s_close_cut };
	static const struct srv_io clean = { s_open, s_rd, s_wr, s_close };
	const struct srv_io *ios[] = { &cut, &clean };
	struct http_client_cfg cfg = { .verify_tls = 1, .io_ms = 5000, .handshake_ms = 5000 };
	struct http_request get = { .method = "GET", .path = "/x" };
	struct srv_rec rec[SRV_MAX_RECS];
	struct http_client *c;
	struct srv sv;
	char url[S_URL_MAX];
	int i, n;

	if (s_setup() < 0) {
		T_CHECK(0);
		return;
	}
	for (i = 0; i < 2; i++) {
		T_EQ_INT(srv_start(&sv, script, 1, ios[i]), 0);
		c = s_client(&sv, &cfg, url);
		T_CHECK(c != NULL);
		if (c) {
			T_EQ_INT(srv_run_client(c, &get, RUN_BOUND_MS, NULL),
				 i == 0 ? HTTP_FAILED : HTTP_DONE);
			if (i == 0)
				T_CHECK(strstr(http_client_error(c), "closed in the middle") != NULL);
			else
				T_EQ_STR(resp_body(c), "{\"msg\": \"part");
			http_client_free(c);
		}
		n = srv_stop(&sv, rec, SRV_MAX_RECS);
		srv_free_recs(rec, n);
	}
	s_teardown();
}

#endif /* MBEDTLS_SSL_SRV_C */

static void test_tls_handshake_timeout(void)
{
	/* a plain TCP server that never answers the ClientHello */
	static const struct srv_step script[] = { SRV_HANG_UP };
	struct srv sv;
	struct srv_rec rec[SRV_MAX_RECS];
	struct http_client *c;
	struct http_client_cfg cfg = { .verify_tls = 1, .handshake_ms = 300, .io_ms = 5000 };
	struct http_request rq = { .method = "GET", .path = "/" };
	char url[64], err[512];
	uint64_t t0;
	int n;

	T_EQ_INT(srv_start(&sv, script, 1, NULL), 0);
	snprintf(url, sizeof(url), "https://127.0.0.1:%u", (unsigned)sv.port);
	cfg.url = url;
	cfg.tls_fingerprint = "00000000000000000000000000000000"
			      "00000000000000000000000000000000";
	c = http_client_new(&cfg, err, sizeof(err));
	T_CHECK(c != NULL);
	if (c) {
		t0 = srv_now_ms();
		T_EQ_INT(srv_run_client(c, &rq, RUN_BOUND_MS, NULL), HTTP_FAILED);
		T_CHECK(srv_now_ms() - t0 >= 300 && srv_now_ms() - t0 < 2500);
		T_EQ_STR(http_client_error(c), "timed out after 300 ms in the TLS handshake (127.0.0.1)");
		http_client_free(c);
	}
	n = srv_stop(&sv, rec, SRV_MAX_RECS);
	srv_free_recs(rec, n);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	have_openssl = system("openssl version >/dev/null 2>&1") == 0 && gen_certs() == 0;
	T_RUN(test_tls_fingerprint_parse);
	T_RUN(test_tls_bad_ca_file);
	T_RUN(test_tls_bundle_only_when_used);
	T_RUN(test_plain_http_credentials_warn);
	T_RUN_OSSL(test_tls_verify_ok);
	T_RUN_OSSL(test_tls_untrusted);
	T_RUN_OSSL(test_tls_wrong_name);
	T_RUN_OSSL(test_tls_not_server_cert);
	T_RUN_OSSL(test_tls_ip_host);
	T_RUN_OSSL(test_tls_wildcard);
	T_RUN_OSSL(test_tls_pin);
	T_RUN_OSSL(test_tls_verify_off_warns);
	T_RUN_OSSL(test_tls_through_proxy);
#if defined(MBEDTLS_SSL_SRV_C)
	T_RUN_OSSL(test_tls_keepalive_streamed_post);
	T_RUN_OSSL(test_tls_early_answer);
	T_RUN_OSSL(test_tls_close_delimited_needs_close_notify);
#else
	printf("SKIP test_tls_keepalive_streamed_post: mbedTLS built without "
	       "MBEDTLS_SSL_SRV_C (client-only)\n");
	printf("SKIP test_tls_early_answer: mbedTLS built without "
	       "MBEDTLS_SSL_SRV_C (client-only)\n");
	printf("SKIP test_tls_close_delimited_needs_close_notify: mbedTLS built "
	       "without MBEDTLS_SSL_SRV_C (client-only)\n");
#endif
	T_RUN(test_tls_handshake_timeout);
	rm_certs();
	return T_DONE();
}
