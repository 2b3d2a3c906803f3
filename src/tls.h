/* TLS client over mbedTLS 2.28 or 3.6, for one connection at a time on a
 * non-blocking socket the caller owns. TLS 1.2, and 1.3 when the library
 * has it; SNI; the server certificate is checked against the CA file or
 * the system bundle, or its SHA-256 against a pin (then the chain is not
 * checked: the answer to self-signed appliances), or not at all when
 * verification is switched off (a warning on every connection).
 *
 * Memory: tls_new() allocates the context, loads the CAs and sets up the
 * record buffers once. mbedTLS itself still allocates (with its own
 * calloc) per handshake and for the peer certificate; that is bounded by
 * the library and accepted. */
#ifndef D42_TLS_H
#define D42_TLS_H

#include <stddef.h>
#include <stdint.h>

#define TLS_SHA256_LEN 32
#define TLS_MAX_ERR    512	/* one error message */

/* Return codes of tls_handshake/read/write (read: > 0 bytes, 0 closed). */
#define TLS_OK           0
#define TLS_ERR        (-1)	/* fatal for this connection; see tls_error */
#define TLS_WANT_READ  (-2)	/* wait for POLLIN, then call again */
#define TLS_WANT_WRITE (-3)	/* wait for POLLOUT, then call again */
#define TLS_EOF_CUT    (-4)	/* tls_read: closed without close_notify */

struct tls_cfg {
	const char *ca_file;	/* NULL or "": the system bundle */
	int verify;		/* 0: accept any certificate (warned) */
	int pinned;		/* pin is set: compare instead of verify */
	uint8_t pin[TLS_SHA256_LEN];	/* SHA-256 of the server cert DER */
};

struct tls;

/* Start-up: seed the RNG, load CAs, configure. NULL on error (in err). */
struct tls *tls_new(const struct tls_cfg *cfg, char *err, size_t errsz);
void tls_free(struct tls *t);

/* Begin a session on connected fd, for host (SNI and name check). */
int tls_start(struct tls *t, int fd, const char *host);
int tls_handshake(struct tls *t);
/* A call that returned TLS_WANT_* must be repeated with the same buf/len. */
int tls_read(struct tls *t, void *buf, size_t len);
int tls_write(struct tls *t, const void *buf, size_t len);
/* Best-effort close_notify; the caller closes the fd afterwards. */
void tls_close(struct tls *t);

const char *tls_error(const struct tls *t);
const char *tls_version(const struct tls *t);	/* "TLSv1.3" once connected */

/* 64 hex digits, optionally in colon-separated pairs ("AB:CD:..."), as
 * printed by `openssl x509 -noout -fingerprint -sha256`, optionally
 * prefixed "sha256:" or "SHA256 Fingerprint=". 0 or -1. */
int tls_parse_fingerprint(const char *s, uint8_t out[TLS_SHA256_LEN]);

#endif
