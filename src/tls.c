/* mbedTLS client wrapper (see tls.h). Version differences between 2.28
 * and 3.x are confined to the #if MBEDTLS_VERSION_NUMBER blocks. */
#include "tls.h"
#include "hex.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mbedtls/version.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/oid.h>
#include <mbedtls/sha256.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>
#if MBEDTLS_VERSION_NUMBER >= 0x03000000 && defined(MBEDTLS_PSA_CRYPTO_C)
#include <psa/crypto.h>
#endif

#include "log.h"

#define TLS_PERS "d42pcap"		/* DRBG personalisation string */
#define TLS_MAX_READ_LOOPS 8		/* non-data records in one tls_read */
#define TLS_ASN1_SAN_IP 0x87		/* [7] iPAddress in subjectAltName */
#define TLS_ASN1_SAN_DNS 0x82		/* [2] dNSName in subjectAltName */

/* A certificate not for a server (key usage): its error code, renamed in 3.0 */
#if defined(MBEDTLS_ERR_SSL_BAD_CERTIFICATE)
#define TLS_ERR_BAD_CERT MBEDTLS_ERR_SSL_BAD_CERTIFICATE
#else
#define TLS_ERR_BAD_CERT MBEDTLS_ERR_SSL_BAD_HS_CERTIFICATE
#endif

/* Where distributions keep the CA bundle (Debian/Ubuntu/Alpine, RHEL/
 * Fedora, SUSE, BSD/macOS style). The first that loads is used. */
static const char *const tls_ca_paths[] = {
	"/etc/ssl/certs/ca-certificates.crt",
	"/etc/pki/tls/certs/ca-bundle.crt",
	"/etc/ssl/ca-bundle.pem",
	"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
	"/etc/ssl/cert.pem",
};

struct tls {
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_x509_crt ca;
	mbedtls_ssl_config conf;
	mbedtls_ssl_context ssl;
	int fd;
	int verify, pinned, have_ca;
	uint8_t pin[TLS_SHA256_LEN];
	uint8_t host_ip[16];		/* host as an IP literal, for 2.28 */
	size_t host_ip_len;		/* 0, 4 or 16 */
	char host[256];
	char err[TLS_MAX_ERR];
};

static void mbed_strerror(int ret, char *buf, size_t n)
{
#if defined(MBEDTLS_ERROR_C)
	mbedtls_strerror(ret, buf, n);
#else
	snprintf(buf, n, "mbedTLS error -0x%04x", (unsigned)-ret);
#endif
}

static void set_err(struct tls *t, const char *what, int ret)
{
	char e[160];

	mbed_strerror(ret, e, sizeof(e));
	snprintf(t->err, sizeof(t->err), "%s: %s", what, e);
}

static int sha256(const uint8_t *in, size_t n, uint8_t out[TLS_SHA256_LEN])
{
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
	return mbedtls_sha256(in, n, out, 0);
#else
	return mbedtls_sha256_ret(in, n, out, 0);
#endif
}

static void hex_fp(const uint8_t *fp, char *out, size_t outsz)
{
	size_t i, o = 0;

	for (i = 0; i < TLS_SHA256_LEN && o + 3 < outsz; i++)
		o += (size_t)snprintf(out + o, outsz - o, i ? ":%02X" : "%02X", fp[i]);
}

/* An IP-literal host is not sent as the server name (RFC 6066 forbids
 * it), so mbedTLS checks no name: the leaf must carry the address as an
 * iPAddress SAN, or, without any SAN, as its CN's text in any case (what
 * both mbedTLS versions accept for a name; RFC 2818 allows only the SAN). */
static int san_has_ip(const mbedtls_x509_crt *crt, const uint8_t *ip, size_t len)
{
	const mbedtls_x509_sequence *s;

	for (s = &crt->subject_alt_names; s; s = s->next)
		if (s->buf.tag == TLS_ASN1_SAN_IP && s->buf.len == len &&
		    s->buf.p && memcmp(s->buf.p, ip, len) == 0)
			return 1;
	return 0;
}

static int cn_is(const mbedtls_x509_crt *crt, const char *host)
{
	const mbedtls_x509_name *n;
	size_t len = strlen(host);

	for (n = &crt->subject; n; n = n->next)
		if (n->oid.p && MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) == 0 &&
		    n->val.len == len && strncasecmp((const char *)n->val.p, host, len) == 0)
			return 1;
	return 0;
}

/* A DNS host: mbedTLS checks the name too, but takes "*.com" for
 * "example.com". Here a wildcard stands for the left-most label only,
 * and not over a single label, a public suffix or what may be one
 * (RFC 6125 6.4.3, 7.2): a name of the certificate matches if it is the
 * host in any case, or "*." and at least two labels ending the host. */
static int name_matches(const unsigned char *p, size_t n, const char *host)
{
	size_t hlen = strlen(host);
	const char *dot = strchr(host, '.');
	const unsigned char *inner;

	if (n == hlen && strncasecmp((const char *)p, host, n) == 0)
		return 1;
	if (n < 4 || p[0] != '*' || p[1] != '.')
		return 0;
	inner = memchr(p + 2, '.', n - 2);
	if (!inner || inner == p + n - 1)
		return 0;	/* "*.com", "*.com." */
	return dot && dot != host && hlen - (size_t)(dot - host) == n - 1 &&
	       strncasecmp(dot, (const char *)p + 1, n - 1) == 0;
}

/* The DNS SANs or, without SANs, the CNs, as mbedTLS looks at them. */
static int dns_name_ok(const mbedtls_x509_crt *crt, const char *host)
{
	const mbedtls_x509_sequence *s;
	const mbedtls_x509_name *n;

	if (crt->subject_alt_names.buf.p) {
		for (s = &crt->subject_alt_names; s; s = s->next)
			if (s->buf.tag == TLS_ASN1_SAN_DNS && s->buf.p &&
			    name_matches(s->buf.p, s->buf.len, host))
				return 1;
		return 0;
	}
	for (n = &crt->subject; n; n = n->next)
		if (n->oid.p && MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) == 0 &&
		    n->val.p && name_matches(n->val.p, n->val.len, host))
			return 1;
	return 0;
}

static int verify_cb(void *ctx, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
	struct tls *t = ctx;
	int ok;

	if (depth != 0)
		return 0;
	if (!t->host_ip_len)
		ok = dns_name_ok(crt, t->host);
	else
		ok = crt->subject_alt_names.buf.p ? san_has_ip(crt, t->host_ip, t->host_ip_len)
						  : cn_is(crt, t->host);
	if (!ok)
		*flags |= MBEDTLS_X509_BADCERT_CN_MISMATCH;
	return 0;
}

static int bio_send(void *ctx, const unsigned char *buf, size_t len)
{
	struct tls *t = ctx;
	ssize_t n;

	if (len > INT_MAX)
		len = INT_MAX;
	n = send(t->fd, buf, len, MSG_NOSIGNAL);
	if (n >= 0)
		return (int)n;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return MBEDTLS_ERR_SSL_WANT_WRITE;
	if (errno == EPIPE || errno == ECONNRESET)
		return MBEDTLS_ERR_NET_CONN_RESET;
	return MBEDTLS_ERR_NET_SEND_FAILED;
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len)
{
	struct tls *t = ctx;
	ssize_t n;

	if (len > INT_MAX)
		len = INT_MAX;
	n = recv(t->fd, buf, len, 0);
	if (n >= 0)
		return (int)n;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return MBEDTLS_ERR_SSL_WANT_READ;
	if (errno == ECONNRESET)
		return MBEDTLS_ERR_NET_CONN_RESET;
	return MBEDTLS_ERR_NET_RECV_FAILED;
}

static int load_ca(struct tls *t, const struct tls_cfg *cfg)
{
	size_t i;
	int ret;

	if (cfg->ca_file && cfg->ca_file[0]) {
		ret = mbedtls_x509_crt_parse_file(&t->ca, cfg->ca_file);
		if (ret < 0 || !t->ca.raw.p) {
			char e[160];

			mbed_strerror(ret < 0 ? ret : MBEDTLS_ERR_X509_INVALID_FORMAT,
				      e, sizeof(e));
			snprintf(t->err, sizeof(t->err),
				 "cannot load CA file %s: %s", cfg->ca_file, e);
			return -1;
		}
		t->have_ca = 1;
		return 0;
	}
	/* Pinned or unverified, no chain is checked: the bundle would only
	 * take memory (about 1 MiB on Debian) for the life of the process. */
	if (!cfg->verify || cfg->pinned)
		return 0;
	for (i = 0; i < sizeof(tls_ca_paths) / sizeof(tls_ca_paths[0]); i++) {
		if (access(tls_ca_paths[i], R_OK) != 0)
			continue;
		/* > 0: some certificates of the bundle were not understood,
		 * which is fine as long as some were. */
		ret = mbedtls_x509_crt_parse_file(&t->ca, tls_ca_paths[i]);
		if (ret >= 0 && t->ca.raw.p) {
			t->have_ca = 1;
			return 0;
		}
		mbedtls_x509_crt_free(&t->ca);
		mbedtls_x509_crt_init(&t->ca);
	}
	snprintf(t->err, sizeof(t->err),
		 "no system CA bundle found (tried %s and others); "
		 "set device42.ca-file or device42.tls-fingerprint",
		 tls_ca_paths[0]);
	return -1;
}

static int configure(struct tls *t)
{
	int ret;

	ret = mbedtls_ssl_config_defaults(&t->conf, MBEDTLS_SSL_IS_CLIENT,
					  MBEDTLS_SSL_TRANSPORT_STREAM,
					  MBEDTLS_SSL_PRESET_DEFAULT);
	if (ret != 0) {
		set_err(t, "TLS configuration", ret);
		return -1;
	}
#if MBEDTLS_VERSION_NUMBER >= 0x03020000
	mbedtls_ssl_conf_min_tls_version(&t->conf, MBEDTLS_SSL_VERSION_TLS1_2);
#if defined(MBEDTLS_SSL_PROTO_TLS1_3)
	mbedtls_ssl_conf_max_tls_version(&t->conf, MBEDTLS_SSL_VERSION_TLS1_3);
#else
	mbedtls_ssl_conf_max_tls_version(&t->conf, MBEDTLS_SSL_VERSION_TLS1_2);
#endif
#else
	mbedtls_ssl_conf_min_version(&t->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
				     MBEDTLS_SSL_MINOR_VERSION_3);
#endif
	mbedtls_ssl_conf_rng(&t->conf, mbedtls_ctr_drbg_random, &t->drbg);
	if (t->have_ca)
		mbedtls_ssl_conf_ca_chain(&t->conf, &t->ca, NULL);
	/* Pinned: the handshake must not fail on an untrusted chain; the
	 * fingerprint is compared once it is done. */
	if (t->pinned)
		mbedtls_ssl_conf_authmode(&t->conf, MBEDTLS_SSL_VERIFY_OPTIONAL);
	else if (t->verify)
		mbedtls_ssl_conf_authmode(&t->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	else
		mbedtls_ssl_conf_authmode(&t->conf, MBEDTLS_SSL_VERIFY_NONE);
	mbedtls_ssl_conf_verify(&t->conf, verify_cb, t);

	ret = mbedtls_ssl_setup(&t->ssl, &t->conf);
	if (ret != 0) {
		set_err(t, "TLS setup", ret);
		return -1;
	}
	return 0;
}

struct tls *tls_new(const struct tls_cfg *cfg, char *err, size_t errsz)
{
	struct tls *t = calloc(1, sizeof(*t));
	int ret;

	if (!t) {
		snprintf(err, errsz, "TLS: out of memory");
		return NULL;
	}
	t->fd = -1;
	t->verify = cfg->verify;
	t->pinned = cfg->pinned;
	memcpy(t->pin, cfg->pin, sizeof(t->pin));
	mbedtls_entropy_init(&t->entropy);
	mbedtls_ctr_drbg_init(&t->drbg);
	mbedtls_x509_crt_init(&t->ca);
	mbedtls_ssl_config_init(&t->conf);
	mbedtls_ssl_init(&t->ssl);

#if MBEDTLS_VERSION_NUMBER >= 0x03000000 && defined(MBEDTLS_PSA_CRYPTO_C)
	/* 3.x uses PSA for TLS 1.3 (and with MBEDTLS_USE_PSA_CRYPTO). */
	if (psa_crypto_init() != PSA_SUCCESS) {
		snprintf(t->err, sizeof(t->err), "TLS: PSA crypto initialisation failed");
		goto fail;
	}
#endif
	ret = mbedtls_ctr_drbg_seed(&t->drbg, mbedtls_entropy_func, &t->entropy,
				    (const unsigned char *)TLS_PERS, strlen(TLS_PERS));
	if (ret != 0) {
		set_err(t, "TLS: seeding the random generator", ret);
		goto fail;
	}
	if (load_ca(t, cfg) < 0 || configure(t) < 0)
		goto fail;
	return t;
fail:
	snprintf(err, errsz, "%s", t->err);
	tls_free(t);
	return NULL;
}

void tls_free(struct tls *t)
{
	if (!t)
		return;
	mbedtls_ssl_free(&t->ssl);
	mbedtls_ssl_config_free(&t->conf);
	mbedtls_x509_crt_free(&t->ca);
	mbedtls_ctr_drbg_free(&t->drbg);
	mbedtls_entropy_free(&t->entropy);
	free(t);
}

int tls_start(struct tls *t, int fd, const char *host)
{
	int ret;

	t->err[0] = '\0';
	ret = mbedtls_ssl_session_reset(&t->ssl);
	if (ret != 0) {
		set_err(t, "TLS session reset", ret);
		return -1;
	}
	snprintf(t->host, sizeof(t->host), "%s", host);
	t->host_ip_len = 0;
	if (inet_pton(AF_INET, host, t->host_ip) == 1)
		t->host_ip_len = 4;
	else if (inet_pton(AF_INET6, host, t->host_ip) == 1)
		t->host_ip_len = 16;
	/* Sets SNI and the name the certificate must match; for an IP
	 * literal neither (verify_cb() matches the address), and NULL tells
	 * mbedTLS 3.6 that skipping its name check is meant. */
	ret = mbedtls_ssl_set_hostname(&t->ssl, t->host_ip_len ? NULL : host);
	if (ret != 0) {
		set_err(t, "TLS host name", ret);
		return -1;
	}
	t->fd = fd;
	mbedtls_ssl_set_bio(&t->ssl, t, bio_send, bio_recv, NULL);
	if (!t->verify && !t->pinned)
		log_warn("TLS certificate verification is disabled "
			 "(device42.verify-tls: false): the connection to %s "
			 "is not authenticated", host);
	else if (!t->verify)
		log_warn("device42.verify-tls is false: the certificate of %s "
			 "is still checked against device42.tls-fingerprint", host);
	return 0;
}

static int check_pin(struct tls *t)
{
	const mbedtls_x509_crt *peer = mbedtls_ssl_get_peer_cert(&t->ssl);
	uint8_t fp[TLS_SHA256_LEN];
	char got[3 * TLS_SHA256_LEN + 1];

	if (!peer || !peer->raw.p) {
		snprintf(t->err, sizeof(t->err),
			 "TLS: %s sent no certificate to compare with the pin", t->host);
		return -1;
	}
	if (sha256(peer->raw.p, peer->raw.len, fp) != 0) {
		snprintf(t->err, sizeof(t->err), "TLS: SHA-256 failed");
		return -1;
	}
	if (memcmp(fp, t->pin, sizeof(fp)) != 0) {
		hex_fp(fp, got, sizeof(got));
		snprintf(t->err, sizeof(t->err),
			 "TLS: certificate of %s does not match "
			 "device42.tls-fingerprint (its SHA-256 is %s)", t->host, got);
		return -1;
	}
	return 0;
}

static void handshake_err(struct tls *t, int ret)
{
	uint32_t flags = mbedtls_ssl_get_verify_result(&t->ssl);
	char info[256] = "", e[160];

	if ((ret == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED || ret == TLS_ERR_BAD_CERT) &&
	    flags != 0 && flags != (uint32_t)-1) {
#if !defined(MBEDTLS_X509_REMOVE_INFO)
		int n = mbedtls_x509_crt_verify_info(info, sizeof(info), "", flags);
		/* one line: the library separates reasons with newlines */
		for (int i = 0; i < n && info[i]; i++)
			if (info[i] == '\n')
				info[i] = (info[i + 1] ? ';' : '\0');
#else
		snprintf(info, sizeof(info), "verification flags 0x%08x", flags);
#endif
		snprintf(t->err, sizeof(t->err),
			 "TLS: certificate verification failed for %.100s: %.300s",
			 t->host, info);
		return;
	}
	mbed_strerror(ret, e, sizeof(e));
	snprintf(t->err, sizeof(t->err), "TLS handshake with %s failed: %s",
		 t->host, e);
}

int tls_handshake(struct tls *t)
{
	int ret = mbedtls_ssl_handshake(&t->ssl);

	if (ret == MBEDTLS_ERR_SSL_WANT_READ)
		return TLS_WANT_READ;
	if (ret == MBEDTLS_ERR_SSL_WANT_WRITE)
		return TLS_WANT_WRITE;
	if (ret != 0) {
		handshake_err(t, ret);
		return TLS_ERR;
	}
	if (t->pinned && check_pin(t) < 0)
		return TLS_ERR;
	return TLS_OK;
}

int tls_read(struct tls *t, void *buf, size_t len)
{
	int i, ret = 0;

	for (i = 0; i < TLS_MAX_READ_LOOPS; i++) {
		ret = mbedtls_ssl_read(&t->ssl, buf, len);
#if defined(MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET)
		if (ret == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET)
			continue;	/* TLS 1.3 ticket: not data */
#endif
		break;
	}
	if (ret > 0)
		return ret;
	if (ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY)
		return 0;
	if (ret == 0 || ret == MBEDTLS_ERR_SSL_CONN_EOF)
		return TLS_EOF_CUT;	/* the transport closed: maybe cut */
	if (ret == MBEDTLS_ERR_SSL_WANT_READ)
		return TLS_WANT_READ;
	if (ret == MBEDTLS_ERR_SSL_WANT_WRITE)
		return TLS_WANT_WRITE;
#if defined(MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET)
	if (ret == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET)
		return TLS_WANT_READ;
#endif
	set_err(t, "TLS read", ret);
	return TLS_ERR;
}

int tls_write(struct tls *t, const void *buf, size_t len)
{
	int ret = mbedtls_ssl_write(&t->ssl, buf, len);

	if (ret > 0)
		return ret;
	if (ret == MBEDTLS_ERR_SSL_WANT_READ)
		return TLS_WANT_READ;
	if (ret == MBEDTLS_ERR_SSL_WANT_WRITE)
		return TLS_WANT_WRITE;
	set_err(t, "TLS write", ret ? ret : MBEDTLS_ERR_SSL_INTERNAL_ERROR);
	return TLS_ERR;
}

void tls_close(struct tls *t)
{
	if (t->fd >= 0)
		(void)mbedtls_ssl_close_notify(&t->ssl);
	t->fd = -1;
}

const char *tls_error(const struct tls *t)
{
	return t->err[0] ? t->err : "TLS error";
}

const char *tls_version(const struct tls *t)
{
	return mbedtls_ssl_get_version(&t->ssl);
}

int tls_parse_fingerprint(const char *s, uint8_t out[TLS_SHA256_LEN])
{
	static const char *const prefixes[] = { "sha256:", "sha256 fingerprint=" };
	size_t i, n = 0;
	int colons = -1;	/* unknown until after the first byte */

	for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (strncasecmp(s, prefixes[i], strlen(prefixes[i])) == 0) {
			s += strlen(prefixes[i]);
			break;
		}
	while (n < TLS_SHA256_LEN) {
		int hi = hex_digit((unsigned char)s[0]);
		int lo = hi < 0 ? -1 : hex_digit((unsigned char)s[1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[n++] = (uint8_t)(hi << 4 | lo);
		s += 2;
		if (n == TLS_SHA256_LEN)
			break;
		/* Separators: all pairs colon-separated, or none. */
		if (colons < 0)
			colons = *s == ':';
		if (colons) {
			if (*s != ':')
				return -1;
			s++;
		}
	}
	return *s == '\0' ? 0 : -1;
}
